#!/usr/bin/env bash
# Part 5, where a frame's cost goes (issue 15; run inside the VM under weston's GL renderer): bench/present_bench
# (MAILBOX, 64x64: acquire with a semaphore, one submit of a pre-recorded clear, present), syncfile-wsi
# versus the driver's own WSI. Per frame, each from the tool that counts it:
#  - what the driver sees: submit calls, batches, command buffers, semaphore waits and signals (the bench's
#    counting layer below everything, SFW_BENCH_COUNTING_LOG);
#  - syscalls of the client (every thread: lavapipe's queue thread too) and of weston (strace -c -f);
#  - in the app's thread, inside the three calls (callgrind, toggled on the bench's wrappers): instructions,
#    the layer's own, the driver's, host allocations (all, and the layer's own), Wayland dispatches and flushes;
#  - time (no tool attached): wall per frame, the app thread's CPU in the three calls, the process's CPU.
# Counts of whole runs are per frame as the difference of a FRAMES run and a 2*FRAMES run over FRAMES, so set-up
# and tear-down cancel out. Appends one JSON line per config to OUT and prints the table (bench/frame_cost.py).
# Usage: bench/frame_cost.sh BUILD FRAMES CG_FRAMES REPS OUT
set -uo pipefail
build=$1 frames=$2 cg_frames=$3 reps=$4 out=$5
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck disable=SC2034 # read by tests/e2e/lib.sh
SFW_BUILD=$build
. "$top/tests/e2e/lib.sh"
sfw_start_weston "sfw-bench-fc-$$" gl || exit 1
bench=$build/bench/present_bench
counting=$build/bench/counting_layer
raw=$(dirname "$out")/frame-cost # kept next to OUT: the profiles show where the time goes
rm -rf "$raw" && mkdir -p "$raw"

envs_of() { # CONFIG [counting]: the environment of one config, with the counting layer below it on request
  local path=() layers=()
  [ "$1" = syncfile-wsi ] && { path+=("$build/json/explicit"); layers+=(VK_LAYER_SYNCFILE_wsi); }
  [ "${2:-}" = counting ] && { path+=("$counting"); layers+=(VK_LAYER_SFW_BENCH_counting); }
  local IFS=:
  echo "VK_LAYER_PATH=${path[*]:-/nonexistent} VK_INSTANCE_LAYERS=${layers[*]:-} SYNCFILE_WSI_LOG=info SFW_BENCH_COUNTING_LOG=1"
}
status=0
run() { # LOG ENV... -- ARGS: present_bench, or a failure noted
  local log=$1; shift
  if ! sfw_run "$log" 1800 "$@"; then echo "frame_cost: run failed ($log, exit $SFW_RC):" >&2; tail -n 15 "$log" >&2; status=1; return 1; fi
}

for config in driver-wsi syncfile-wsi; do
  c=$raw/$config
  # shellcheck disable=SC2046
  for n in "$frames" $((2 * frames)); do
    run "$c-count-$n.log" $(envs_of $config counting) -- "$bench" -n "$n" -w 20
    run "$c-strace-$n.log" $(envs_of $config) -- strace -f -c -o "$c-strace-$n.txt" "$bench" -n "$n" -w 20
    # weston's syscalls while the client runs: attached before it connects, detached after it left.
    strace -f -c -o "$c-weston-$n.txt" -p "$SFW_WESTON_PID" 2>/dev/null &
    tracer=$!
    sfw_wait_for 10 grep -Eq "^TracerPid:\s*[1-9]" "/proc/$SFW_WESTON_PID/status" || echo "frame_cost: strace did not attach to weston" >&2
    run "$c-weston-run-$n.log" $(envs_of $config) -- "$bench" -n "$n" -w 20
    kill -INT $tracer 2>/dev/null; wait $tracer 2>/dev/null
  done
  run "$c-wayland.log" $(envs_of $config) WAYLAND_DEBUG=client -- "$bench" -n 5 -w 2
  run "$c-cg.log" $(envs_of $config) -- valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
    --toggle-collect=sfw_bench_acquire --toggle-collect=sfw_bench_submit --toggle-collect=sfw_bench_present \
    --callgrind-out-file="$c.cg" "$bench" -n "$cg_frames" -w 20
done
# Time: REPS rounds, the configs alternating, nothing attached.
for ((i = 0; i < reps; i++)); do
  for config in driver-wsi syncfile-wsi; do
    # shellcheck disable=SC2046
    run "$raw/$config-time-$i.log" $(envs_of $config) -- "$bench" -n "$frames" -w 50
  done
done
python3 "$here/frame_cost.py" "$raw" "$frames" "$cg_frames" "$reps" "$out" || status=1
exit $status
