#!/usr/bin/env python3
"""Summarises bench/throughput.sh: per configuration (pattern, size, present mode), the median of the
per-round pair ratios syncfile-wsi / native-a with their spread, and the control native-b / native-a.

A round counts only when its three runs exited 0 with a frame rate and the layer's counters say it did the
job (mode syncfile, exports = acquires, imports = presents, no degradation, no cpu wait); the others are
listed as excluded. Targets (issue 15): the control median within 0.97-1.03, every MAILBOX median at least
0.97 at 128x128 and 1.0 at 512x512. FIFO is capped by the compositor on both sides: shown, not judged.
Where a round also ran native-export (the loop pattern: the driver's own WSI plus the SYNC_FD export the layer's
present makes, loop_bench -x), the driver's floor: native-export / native-a, and the layer against it,
syncfile-wsi / native-export.

Usage: throughput.py RUNS_JSONL [SUMMARY_JSON]   Prints a Markdown table; writes the summary on request.
"""
import json
import statistics
import sys

TARGETS = {128: 0.97, 512: 1.0}
CONTROL = (0.97, 1.03)


def layer_ok(run):
    return (run.get("exit") == 0 and run.get("fps") and run.get("layer_mode") == "syncfile"
            and run.get("acquires", 0) > 0 and run.get("exports") == run.get("acquires")
            and run.get("imports") == run.get("presents") and run.get("degradations") == 0
            and run.get("cpu_waits") == 0)


def native_ok(run):
    return run is not None and run.get("exit") == 0 and bool(run.get("fps"))


def summarise(runs):
    configs = {}
    for run in runs:
        configs.setdefault((run["pattern"], run["size"], run["present_mode"]), []).append(run)
    out = []
    for (pattern, size, mode), rs in configs.items():
        by_round = {}
        for run in rs:
            if run["round"] > 0:
                by_round.setdefault(run["round"], {})[run["config"]] = run
        ratios, controls, floors, over_floor, excluded = [], [], [], [], []
        for rnd, three in sorted(by_round.items()):
            a, b, layer = three.get("native-a"), three.get("native-b"), three.get("syncfile-wsi")
            if not (native_ok(a) and native_ok(b) and layer is not None and layer_ok(layer)):
                excluded.append(rnd)
                continue
            ratios.append(layer["fps"] / a["fps"])
            controls.append(b["fps"] / a["fps"])
            if native_ok(three.get("native-export")):
                floors.append(three["native-export"]["fps"] / a["fps"])
                over_floor.append(layer["fps"] / three["native-export"]["fps"])
        fps = lambda which: [r[which]["fps"] for r in by_round.values() if native_ok(r.get(which))]
        row = {"pattern": pattern, "size": size, "present_mode": "MAILBOX" if mode == 1 else "FIFO",
               "rounds": len(by_round), "counted": len(ratios), "excluded_rounds": excluded,
               "native_fps_median": statistics.median(fps("native-a")) if fps("native-a") else None,
               "layer_fps_median": statistics.median(fps("syncfile-wsi")) if fps("syncfile-wsi") else None,
               "ratio_median": statistics.median(ratios) if ratios else None,
               "ratio_min": min(ratios) if ratios else None, "ratio_max": max(ratios) if ratios else None,
               "control_median": statistics.median(controls) if controls else None,
               "control_min": min(controls) if controls else None, "control_max": max(controls) if controls else None,
               "floor_median": statistics.median(floors) if floors else None,
               "floor_min": min(floors) if floors else None, "floor_max": max(floors) if floors else None,
               "layer_over_floor_median": statistics.median(over_floor) if over_floor else None,
               "ratios": ratios, "controls": controls, "floors": floors, "layer_over_floor": over_floor}
        if mode == 1 and ratios:
            row["target"] = TARGETS.get(size)
            row["met"] = row["target"] is not None and row["ratio_median"] >= row["target"]
            row["control_in_range"] = CONTROL[0] <= row["control_median"] <= CONTROL[1]
        out.append(row)
    return out


def fmt(x, digits=3):
    return "-" if x is None else f"{x:.{digits}f}"


def print_table(rows):
    print("| pattern | size | mode | rounds counted | native fps | layer fps | layer/native median (min-max) |"
          " control median (min-max) | target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        target = "not judged (compositor-capped)" if r["present_mode"] == "FIFO" else (
            f"≥{r.get('target')}: {'met' if r.get('met') else 'NOT met'}"
            f"{'' if r.get('control_in_range', False) else ', control out of range'}" if r["ratios"] else "-")
        print(f"| {r['pattern']} | {r['size']} | {r['present_mode']} | {r['counted']} of {r['rounds']}"
              f"{' (excluded: ' + ', '.join(map(str, r['excluded_rounds'])) + ')' if r['excluded_rounds'] else ''} |"
              f" {fmt(r['native_fps_median'], 1)} | {fmt(r['layer_fps_median'], 1)} |"
              f" {fmt(r['ratio_median'])} ({fmt(r['ratio_min'])}-{fmt(r['ratio_max'])}) |"
              f" {fmt(r['control_median'])} ({fmt(r['control_min'])}-{fmt(r['control_max'])}) | {target} |")


def print_floors(rows):
    rows = [r for r in rows if r["floors"]]
    if not rows:
        return
    print()
    print("| pattern | size | mode | driver's WSI + the export / driver's WSI, median (min-max) |"
          " syncfile-wsi / (driver's WSI + the export), median |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['pattern']} | {r['size']} | {r['present_mode']} |"
              f" {fmt(r['floor_median'])} ({fmt(r['floor_min'])}-{fmt(r['floor_max'])}) |"
              f" {fmt(r['layer_over_floor_median'])} |")


def main():
    with open(sys.argv[1]) as f:
        runs = [json.loads(line) for line in f if line.strip()]
    rows = summarise(runs)
    print_table(rows)
    print_floors(rows)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            json.dump({"summary": rows, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
