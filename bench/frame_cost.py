#!/usr/bin/env python3
"""The table of bench/frame_cost.sh: per frame, the driver's own WSI against syncfile-wsi.

Usage: frame_cost.py RAW_DIR FRAMES CG_FRAMES REPS OUT
Reads the runs bench/frame_cost.sh left in RAW_DIR, appends one JSON line per config to OUT
({"kind": "frame_cost", "config", ...per-frame values}) and prints a Markdown table (the README's).
A syncfile-wsi config whose layer counters are not mode syncfile, exports = acquires, imports = presents
is reported as unchecked and its numbers are not printed.
"""
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = ("driver-wsi", "syncfile-wsi")
COUNTING = re.compile(r"counting layer: (\d+) submits, (\d+) batches, (\d+) command buffers, (\d+) waits, (\d+) signals")
SWAPCHAIN = re.compile(r"swapchain destroyed: mode ([a-z-]+), (\d+) acquires, (\d+) exports, (\d+) imports.* (\d+) presents,")


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def counting(path):
    m = COUNTING.findall(read(path))
    return [int(v) for v in m[-1]] if m else None


def strace_calls(path):
    """{syscall: calls} from `strace -c`; each syscall line has usecs/call, so calls is the 4th field."""
    calls = {}
    for line in read(path).splitlines():
        f = line.split()
        if len(f) >= 5 and f[-1] != "total" and re.match(r"^[\d.]+$", f[0]) and f[3].isdigit():
            calls[f[-1]] = int(f[3])
    return calls


def per_frame_syscalls(raw, config, what, frames):
    a = strace_calls(f"{raw}/{config}-{what}-{frames}.txt")
    b = strace_calls(f"{raw}/{config}-{what}-{2 * frames}.txt")
    diff = {k: (b.get(k, 0) - a.get(k, 0)) / frames for k in set(a) | set(b)}
    top = sorted(((v, k) for k, v in diff.items() if v >= 0.5), reverse=True)[:4]
    return round(sum(diff.values()), 1), ", ".join(f"{k} {v:.1f}" for v, k in top)


def bench_json(path):
    for line in read(path).splitlines():
        if line.startswith('{"device"'):
            return json.loads(line)
    return None


def measure(raw, config, frames, cg_frames, reps):
    r = {"kind": "frame_cost", "config": config, "frames": frames}
    a, b = counting(f"{raw}/{config}-count-{frames}.log"), counting(f"{raw}/{config}-count-{2 * frames}.log")
    if a and b:
        for i, name in enumerate(("submit_calls", "batches", "command_buffers", "semaphore_waits", "semaphore_signals")):
            r[name] = round((b[i] - a[i]) / frames, 2)
    if config == "syncfile-wsi":
        m = SWAPCHAIN.findall(read(f"{raw}/{config}-count-{2 * frames}.log"))
        mode, acq, exp, imp, pres = m[-1] if m else ("none", 0, 0, 0, 0)
        r["checked"] = mode == "syncfile" and int(exp) == int(acq) > 0 and int(imp) == int(pres) > 0
        r["layer_counts"] = f"mode {mode}, {acq} acquires, {exp} exports, {imp} imports, {pres} presents"
    r["client_syscalls"], r["client_top"] = per_frame_syscalls(raw, config, "strace", frames)
    r["weston_syscalls"], r["weston_top"] = per_frame_syscalls(raw, config, "weston", frames)
    wl = read(f"{raw}/{config}-wayland.log")
    r["buffers"] = "dma-buf" if re.search(r"zwp_linux_buffer_params_v1#\d+\.create", wl) else \
        "wl_shm" if re.search(r"wl_shm#\d+\.create_pool", wl) else "?"
    cg = f"{raw}/{config}.cg"
    if os.path.exists(cg):
        out = subprocess.check_output([sys.executable, f"{HERE}/callgrind_frame.py", "libVkLayer_syncfile_wsi",
                                       "libvulkan_lvp", str(cg_frames), cg])
        r.update(json.loads(out))
    times = [bench_json(f"{raw}/{config}-time-{i}.log") for i in range(reps)]
    times = [t for t in times if t]
    for key in ("wall_us_per_frame", "frame_thread_cpu_us", "process_cpu_us_per_frame"):
        if times:
            r[key] = round(statistics.median(t[key] for t in times), 1)
    return r


ROWS = [  # key, label
    ("submit_calls", "driver: vkQueueSubmit calls"),
    ("batches", "driver: batches"),
    ("command_buffers", "driver: command buffers"),
    ("semaphore_waits", "driver: semaphore waits"),
    ("semaphore_signals", "driver: semaphore signals"),
    ("client_syscalls", "syscalls, client (all threads)"),
    ("client_top", "  most frequent"),
    ("weston_syscalls", "syscalls, weston"),
    ("wayland_dispatches", "Wayland dispatches (app thread)"),
    ("wayland_flushes", "Wayland flushes (app thread)"),
    ("allocations", "host allocations (app thread)"),
    ("layer_allocations", "  of which the layer's"),
    ("ir", "instructions, app thread in the 3 calls"),
    ("layer_self_ir", "  in the layer itself"),
    ("driver_ir", "  in the driver"),
    ("wall_us_per_frame", "wall per frame (µs, median)"),
    ("frame_thread_cpu_us", "app thread CPU in the 3 calls (µs)"),
    ("process_cpu_us_per_frame", "process CPU per frame (µs, all threads)"),
    ("buffers", "buffers shared as"),
]


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    raw, frames, cg_frames, reps, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    results = [measure(raw, c, frames, cg_frames, reps) for c in CONFIGS]
    with open(out, "a") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    native, layer = results
    print(f"frame cost per frame: present_bench, MAILBOX 64x64, {frames} frames (counts: {2 * frames} minus {frames}), "
          f"callgrind {cg_frames} frames, time median of {reps}")
    if not layer.get("checked"):
        print(f"syncfile-wsi unchecked ({layer.get('layer_counts')}): not reported")
        return 1
    print(f"(syncfile-wsi: {layer['layer_counts']})")
    print("| per frame | driver's WSI | syncfile-wsi | difference |")
    print("|---|---:|---:|---:|")
    for key, label in ROWS:
        a, b = native.get(key, "-"), layer.get(key, "-")
        diff = round(b - a, 2) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else ""
        print(f"| {label} | {a} | {b} | {diff} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
