#!/usr/bin/env bash
# Part 2, acquire + present cost (run inside the VM): bench/present_bench (MAILBOX, 64x64) under weston's
# GL renderer (headless, /dev/dri hidden from it), syncfile-wsi versus the driver's own WSI (no layer).
#  - callgrind, CG_FRAMES frames (few: valgrind is slow), toggle-collect on the bench's acquire and present
#    wrappers: instructions per pair in the app's thread (other threads are not collected), the
#    layer+loader part above the driver, and the inclusive cost of the driver's vkGetSemaphoreFdKHR
#    (lavapipe waits for the device to go idle there). The annotated profiles are kept next to OUT
#    (present-CONFIG.annotate).
#  - CPU time, FRAMES frames, REPS rounds alternating the configs: this thread's CPU and wall time inside
#    the two calls per pair, and the process's CPU (all threads) per frame.
# Appends one JSON line per run to OUT.
# Usage: bench/present.sh BUILD CG_FRAMES FRAMES REPS OUT
set -uo pipefail
build=$1 cg_frames=$2 frames=$3 reps=$4 out=$5
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck disable=SC2034 # read by tests/e2e/lib.sh
SFW_BUILD=$build
. "$top/tests/e2e/lib.sh"
sfw_start_weston "sfw-bench-pr-$$" gl || exit 1

envs_of() { # CONFIG
  if [ "$1" = syncfile-wsi ]; then
    echo VK_LAYER_PATH="$build/json/explicit" VK_INSTANCE_LAYERS=VK_LAYER_SYNCFILE_wsi SYNCFILE_WSI_LOG=info
  else echo SFW_BENCH=1; fi
}
mode_of() { grep -o 'mode [a-z-]*' "$1" | head -n 1 | cut -d' ' -f2; }

status=0
for config in driver-wsi syncfile-wsi; do
  cg="$SFW_TMP/$config.cg" log="$SFW_TMP/$config.cg.log"
  # shellcheck disable=SC2046
  if ! env $(envs_of "$config") timeout -k 5 1200 valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
       --toggle-collect=sfw_bench_acquire --toggle-collect=sfw_bench_present --callgrind-out-file="$cg" \
       "$build/bench/present_bench" -n "$cg_frames" -w 20 >"$SFW_TMP/$config.cg.json" 2>"$log"; then
    echo "present: callgrind run failed ($config):" >&2; tail -n 20 "$log" >&2; status=1; continue
  fi
  # The profile, kept next to OUT: it shows where the time goes.
  callgrind_annotate --inclusive=yes --threshold=99 "$cg" >"$(dirname "$out")/present-$config.annotate" 2>/dev/null
  python3 - "$config" "$cg_frames" "$(mode_of "$log")" "$cg" "$here" >>"$out" <<'PY' || status=1
import json, subprocess, sys
config, n, mode, cg, here = sys.argv[1:]
n = int(n)
r = json.loads(subprocess.check_output([sys.executable, here + "/callgrind_split.py", "libvulkan_lvp", cg]).splitlines()[0])
# Debian's lavapipe is stripped: its vkGetSemaphoreFdKHR is found as the calls from syncfile-wsi's
# Swapchain::finish_present into the driver (in syncfile mode, exactly that call; none without the layer).
s = json.loads(subprocess.check_output([sys.executable, here + "/callgrind_calls.py", "Swapchain::finish_present", "libvulkan_lvp", cg]))
print(json.dumps({"kind": "callgrind", "config": config, "frames": n, "layer_mode": mode or "-",
                  "ir_per_pair": round(r["total_ir"] / n, 1), "above_driver_ir_per_pair": round(r["above_driver_ir"] / n, 1),
                  "driver_ir_per_pair": round(r["driver_ir"] / n, 1),
                  "get_semaphore_fd_calls": s["calls"], "get_semaphore_fd_ir_per_pair": round(s["inclusive_ir"] / n, 1)}))
PY
  echo "present: callgrind $config done" >&2
done

for rep in $(seq 1 "$reps"); do
  order=(driver-wsi syncfile-wsi); [ $((rep % 2)) -eq 0 ] && order=(syncfile-wsi driver-wsi)
  for config in "${order[@]}"; do
    log="$SFW_TMP/$config.cpu.log"
    # shellcheck disable=SC2046
    if ! env $(envs_of "$config") timeout -k 5 600 "$build/bench/present_bench" -n "$frames" -w 50 >"$SFW_TMP/cpu.json" 2>"$log"; then
      echo "present: CPU-time run failed ($config):" >&2; tail -n 20 "$log" >&2; status=1; continue
    fi
    python3 -c 'import json, sys
r = json.load(open(sys.argv[1])); r.update({"kind": "cpu", "config": sys.argv[2], "rep": int(sys.argv[3]), "layer_mode": sys.argv[4] or "-"})
print(json.dumps(r))' "$SFW_TMP/cpu.json" "$config" "$rep" "$(mode_of "$log")" >>"$out"
  done
  echo "present: CPU-time round $rep of $reps done" >&2
done
exit $status
