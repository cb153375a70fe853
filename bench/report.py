#!/usr/bin/env python3
"""Combines the raw results of scripts/bench into bench-results.json and prints one table.

Usage: report.py RAW_DIR OUT_JSON
RAW_DIR holds: env-host.json, dispatch-host.jsonl, and (when the VM ran) env-vm.json,
dispatch-vm.jsonl, throughput-vm.jsonl, present-vm.jsonl, oversync-vm.jsonl. Missing parts are reported as
not measured.

bench-results.json, format "syncfile-wsi-bench/2" (keys are only ever added):
  environment.{host,vm}: see bench/env.sh (vm: null when not run)
  dispatch[]: where, call, config, submits, layer_decision, ir_per_submit (total, callgrind Ir in the
              toggled loop / submits), above_driver_ir_per_submit (loop + loader trampoline + layers:
              exact), added_ir_per_submit (above_driver minus the no-layer run, same where and call),
              added_total_ir_per_submit (total minus no-layer total: includes driver noise)
  dispatch_target: {met, rule, worst_syncfile_added, worst_counting_added}
  throughput.summary[]: per (pattern, size, present_mode), bench/throughput.py's summary: rounds, counted,
              excluded_rounds, native/layer fps medians, ratio_median/min/max (syncfile-wsi / native-a per
              round), control_median/min/max (native-b / native-a), target, met, control_in_range
  throughput.runs[]: every run as measured (format 2; format 1's `frames` part, vkcube's wall time
              against the driver's, is gone: the throughput part replaces it)
  present.callgrind[]: config (driver-wsi | syncfile-wsi), layer_mode, frames, ir_per_pair (callgrind Ir of
              one vkAcquireNextImageKHR + vkQueuePresentKHR, the app's thread only), above_driver_ir_per_pair,
              driver_ir_per_pair, get_semaphore_fd_ir_per_pair (inclusive Ir of lavapipe's vkGetSemaphoreFdKHR
              called by syncfile-wsi's present), get_semaphore_fd_share (of the syncfile-wsi pair)
  present.cpu[]: config, frames, runs, median pair_thread_cpu_us / pair_wall_us (inside the two calls, the
              app's thread), process_cpu_us_per_frame and wall_us_per_frame (whole frames, all threads), and
              *_vs_driver ratios; present.runs[]: every run
  oversync: {summary: the bench's medians (ms) or null, rows[]: every measurement}; policies "baseline"
              (an ordinary frame), "syncfile-wsi" (images B and A), "model-wait-all" (a MODEL that waits for
              every swapchain image's fences before each frame; not any real driver)
  not_measured[]: parts of the issue this run does not cover
"""
import json
import os
import statistics
import sys

import throughput


def load_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def load_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def dispatch_rows(raw):
    rows = []
    base = {(r["where"], r["call"]): r for r in raw if r["config"] == "none"}
    for r in raw:
        n = r["submits"]
        b = base.get((r["where"], r["call"]))
        row = {
            "where": r["where"], "call": r["call"], "config": r["config"], "submits": n,
            "layer_decision": r["layer_decision"], "device": r["device"], "driver": r["driver_info"],
            "ir_per_submit": round(r["total_ir"] / n, 1),
            "above_driver_ir_per_submit": round(r["above_driver_ir"] / n, 1),
            "added_ir_per_submit": round((r["above_driver_ir"] - b["above_driver_ir"]) / n, 1) if b else None,
            "added_total_ir_per_submit": round((r["total_ir"] - b["total_ir"]) / n, 1) if b else None,
        }
        rows.append(row)
    return rows


def present_summary(rows):
    cg = [dict(r) for r in rows if r.get("kind") == "callgrind"]
    for r in cg:
        if r["config"] == "syncfile-wsi" and r["ir_per_pair"]:
            r["get_semaphore_fd_share"] = round(r["get_semaphore_fd_ir_per_pair"] / r["ir_per_pair"], 3)
    runs = [r for r in rows if r.get("kind") == "cpu"]
    cpu = {}
    for config in ("driver-wsi", "syncfile-wsi"):
        rs = [r for r in runs if r["config"] == config]
        if not rs:
            continue
        s = {"config": config, "frames": rs[0]["frames"], "runs": len(rs), "layer_mode": sorted({r["layer_mode"] for r in rs})}
        for k in ("pair_thread_cpu_us", "pair_wall_us", "process_cpu_us_per_frame", "wall_us_per_frame"):
            s[k] = round(statistics.median(r[k] for r in rs), 2)
        cpu[config] = s
    d, l = cpu.get("driver-wsi"), cpu.get("syncfile-wsi")
    if d and l:
        for k in ("pair_thread_cpu_us", "pair_wall_us", "process_cpu_us_per_frame", "wall_us_per_frame"):
            if d[k]:
                l[k + "_vs_driver"] = round(l[k] / d[k], 3)
    return {"callgrind": cg, "cpu": list(cpu.values()), "runs": runs}


def main():
    raw_dir, out_path = sys.argv[1], sys.argv[2]
    env = {"host": load_json(os.path.join(raw_dir, "env-host.json")), "vm": load_json(os.path.join(raw_dir, "env-vm.json"))}
    dispatch = dispatch_rows(load_jsonl(os.path.join(raw_dir, "dispatch-host.jsonl")) +
                             load_jsonl(os.path.join(raw_dir, "dispatch-vm.jsonl")))
    sfw = [r["added_ir_per_submit"] for r in dispatch if r["config"] == "syncfile-wsi"]
    cnt = [r["added_ir_per_submit"] for r in dispatch if r["config"] == "counting"]
    target = None
    if sfw and cnt:
        target = {"rule": "syncfile-wsi adds no more instructions above the driver than the counting layer, per submit",
                  "worst_syncfile_added": max(sfw), "worst_counting_added": max(cnt), "met": max(sfw) <= max(cnt)}
    tp_runs = load_jsonl(os.path.join(raw_dir, "throughput-vm.jsonl"))
    present = present_summary(load_jsonl(os.path.join(raw_dir, "present-vm.jsonl")))
    os_rows = load_jsonl(os.path.join(raw_dir, "oversync-vm.jsonl"))
    oversync = {"summary": next((r for r in os_rows if r.get("summary")), None), "rows": [r for r in os_rows if not r.get("summary")]}
    not_measured = []
    if env["vm"] is None:
        not_measured += ["dispatch overhead on an owning device (VM)", "frame throughput (VM)"]
    if not present["callgrind"] and not present["cpu"]:
        not_measured.append("acquire+present cost (VM)")
    if oversync["summary"] is None:
        not_measured.append("oversynchronisation (VM)")
    result = {"format": "syncfile-wsi-bench/2", "environment": env, "dispatch": dispatch, "dispatch_target": target,
              "throughput": {"summary": throughput.summarise(tp_runs), "runs": tp_runs}, "present": present, "oversync": oversync,
              "not_measured": not_measured}
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")

    # ---- the table ----
    for where in ("host", "vm"):
        e = env[where]
        if e:
            print(f"# {where}: kernel {e['kernel']}, {e['cpu']} x{e['cpus']}, mesa {e['mesa']}, loader {e['vulkan_loader']}, "
                  f"{e['compositor']}, {e['valgrind']}, layer {e['layer_commit']}, {e['date']}, load {e.get('loadavg', '?')}"
                  + (" (qemu TCG VM)" if e["in_vm"] else ""))
    print()
    print("Dispatch overhead (callgrind Ir per submit, one empty batch; 'above driver' = loop + loader trampoline + layer, exact)")
    print(f"{'where':<5} {'call':<15} {'config':<13} {'decision':<11} {'submits':>7} {'total':>8} {'above drv':>9} {'added':>6} {'added(total)':>12}")
    for r in dispatch:
        add = "" if r["added_ir_per_submit"] is None else f"{r['added_ir_per_submit']:+.1f}"
        addt = "" if r["added_total_ir_per_submit"] is None else f"{r['added_total_ir_per_submit']:+.1f}"
        print(f"{r['where']:<5} {r['call']:<15} {r['config']:<13} {r['layer_decision']:<11} {r['submits']:>7} "
              f"{r['ir_per_submit']:>8.1f} {r['above_driver_ir_per_submit']:>9.1f} {add:>6} {addt:>12}")
    if target:
        print(f"target (syncfile-wsi adds <= counting layer): {'MET' if target['met'] else 'NOT MET'} "
              f"(syncfile-wsi +{target['worst_syncfile_added']}, counting +{target['worst_counting_added']} Ir/submit, worst case)")
    if tp_runs:
        print()
        print("Frame throughput in the VM (MAILBOX; weston GL; frame clock from present 30; per round native-a,"
              " syncfile-wsi, native-b)")
        throughput.print_table(result["throughput"]["summary"])
    if present["callgrind"] or present["cpu"]:
        print()
        print("Acquire + present cost in the VM (vkAcquireNextImageKHR + vkQueuePresentKHR, MAILBOX, 64x64, weston GL)")
        if present["callgrind"]:
            print(f"{'config':<13} {'layer':<9} {'frames':>6} {'Ir/pair':>9} {'above drv':>9} {'in driver':>9} {'GetSemaphoreFd':>14} {'share':>6}")
            for r in present["callgrind"]:
                share = f"{r['get_semaphore_fd_share'] * 100:.1f}%" if "get_semaphore_fd_share" in r else ""
                print(f"{r['config']:<13} {r['layer_mode']:<9} {r['frames']:>6} {r['ir_per_pair']:>9.0f} {r['above_driver_ir_per_pair']:>9.0f} "
                      f"{r.get('driver_ir_per_pair', 0):>9.0f} {r['get_semaphore_fd_ir_per_pair']:>14.0f} {share:>6}")
            print("(callgrind, the app's thread only; 'GetSemaphoreFd' = inclusive Ir of lavapipe's vkGetSemaphoreFdKHR called"
                  " by syncfile-wsi's present; its wait for device idle is time, not instructions: see the CPU-time rows)")
        if present["cpu"]:
            print(f"{'config':<13} {'layer':<9} {'frames':>6} {'runs':>4} {'pair cpu us':>11} {'pair wall us':>12} "
                  f"{'proc cpu us/fr':>14} {'wall us/fr':>10} {'cpu ratio':>9} {'wall ratio':>10}")
            for s_ in present["cpu"]:
                ratio = lambda k: f"{s_[k]:.3f}" if k in s_ else ""
                print(f"{s_['config']:<13} {','.join(s_['layer_mode']):<9} {s_['frames']:>6} {s_['runs']:>4} {s_['pair_thread_cpu_us']:>11.1f} "
                      f"{s_['pair_wall_us']:>12.1f} {s_['process_cpu_us_per_frame']:>14.1f} {s_['wall_us_per_frame']:>10.1f} "
                      f"{ratio('pair_thread_cpu_us_vs_driver'):>9} {ratio('pair_wall_us_vs_driver'):>10}")
            print("(medians; 'pair' = inside the two calls, the app's thread; 'proc cpu' = all threads over whole frames;"
                  " ratios syncfile-wsi / driver-wsi)")
    o = oversync["summary"]
    if o:
        print()
        print(f"Oversynchronisation in the VM: a compositor read fence pending on image A for T = {o['t_ms']} ms "
              f"(medians of {o['rounds']} rounds, {o['images']} images, ms from the start of the acquire)")
        print(f"{'policy':<60} {'image':<5} {'acquired':>8} {'rendered':>8}")
        print(f"{'baseline: an ordinary frame, no fence pending':<60} {'any':<5} {'':>8} {o['baseline_frame_ms']:>8.1f}")
        print(f"{'syncfile-wsi':<60} {'B':<5} {o['syncfile_B_acquire_ms']:>8.1f} {o['syncfile_B_frame_ms']:>8.1f}")
        print(f"{'syncfile-wsi':<60} {'A':<5} {'':>8} {o['syncfile_A_frame_ms']:>8.1f}"
              f"   (fence still pending at A's acquire: {o['syncfile_A_fence_pending_ms']:.1f})")
        print(f"{'model: wait for every swapchain image fence before a frame':<60} {'B':<5} {o['model_B_acquire_ms']:>8.1f} {o['model_B_frame_ms']:>8.1f}")
        print("(the model is this bench polling every image's dma-buf before the frame, not any real driver)")
    print()
    print("not measured: " + ("; ".join(not_measured) if not_measured else "nothing"))
    print(f"results: {out_path}")


if __name__ == "__main__":
    main()
