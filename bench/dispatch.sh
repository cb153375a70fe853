#!/usr/bin/env bash
# Part 1, dispatch overhead: submit_bench under callgrind with no layer, the bench-only counting
# layer and syncfile-wsi. Appends one JSON line per (config, entry point) to OUT.
# Usage: bench/dispatch.sh BUILD WHERE SUBMITS OUT     (WHERE: a label, "host" or "vm")
set -euo pipefail
build=$1 where=$2 n=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sfw-bench-cg.XXXXXX")
trap 'rm -rf "$work"' EXIT
warmup=$(( n < 1000 ? n / 4 + 10 : 1000 ))

run() { # CONFIG ENV...
  local config=$1; shift
  env "$@" SYNCFILE_WSI_LOG=info valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
    --toggle-collect=sfw_bench_submit_loop --toggle-collect=sfw_bench_submit2_loop \
    --callgrind-out-file="$work/$config.out" "$build/bench/submit_bench" -n "$n" -w "$warmup" \
    >"$work/$config.json" 2>"$work/$config.log" || { echo "dispatch: $config failed:" >&2; tail -n 20 "$work/$config.log" >&2; return 1; }
  # What syncfile-wsi decided for this device (its own info line); "-" for the other configs.
  local mode=-
  if grep -q 'may own its Wayland swapchains' "$work/$config.log"; then mode=may-own
  elif grep -q 'mode passthrough' "$work/$config.log"; then mode=passthrough; fi
  python3 - "$where" "$config" "$n" "$mode" "$work/$config.json" "$work/$config.out.1" "$work/$config.out.2" \
    "$here/callgrind_split.py" >>"$out" <<'PY'
import json, subprocess, sys
where, config, n, mode, info, f1, f2, split = sys.argv[1:]
dev = json.load(open(info))
for call, f in (("vkQueueSubmit", f1), ("vkQueueSubmit2", f2)):
    r = json.loads(subprocess.check_output([sys.executable, split, "libvulkan_lvp", f]))
    print(json.dumps({"where": where, "config": config, "call": call, "submits": int(n), "layer_decision": mode,
                      "total_ir": r["total_ir"], "above_driver_ir": r["above_driver_ir"],
                      "device": dev["device"], "driver_name": dev["driver_name"], "driver_info": dev["driver_info"]}))
PY
  echo "dispatch ($where): $config done" >&2
}

run none
run counting VK_LAYER_PATH="$build/bench/counting_layer" VK_INSTANCE_LAYERS=VK_LAYER_SFW_BENCH_counting
run syncfile-wsi VK_LAYER_PATH="$build/json/explicit" VK_INSTANCE_LAYERS=VK_LAYER_SYNCFILE_wsi
