#!/usr/bin/env bash
# Part 3, frame throughput (issue 15; run inside the VM under weston's GL renderer, /dev/dri hidden from it):
# two frame-loop patterns, vkcube-wayland (vkcube's loop) and bench/loop_bench (the third-party benchmark's
# loop), at 128x128 and 512x512, MAILBOX, syncfile-wsi against the driver's own WSI (lavapipe: wl_shm).
# The frame clock is the bench's counting layer, loaded first (closest to the app) in every run, native ones
# too: the steady rate from present 30 to the last, so start-up and tear-down are left out.
# Per configuration: a warm-up of each side, then ROUNDS rounds of three runs, native-a, syncfile-wsi and
# native-b, the layer always between the two natives and the natives' order flipped every round; the pair
# ratio is syncfile-wsi / native-a, the control native-b / native-a. A layer run counts only when the layer's
# own counters say it did the job: mode syncfile, exports = acquires, imports = presents, no degradation.
# The loop pattern runs a fourth run per round, native-export: the driver's own WSI with `loop_bench -x`, which
# adds to every frame what the layer's present asks of the driver besides its batch (a SYNC_FD semaphore export;
# lavapipe makes it a vkDeviceWaitIdle): the driver's floor under the layer, its ratio native-export / native-a.
# FIFO (vkcube, 128) runs FIFO_ROUNDS rounds: the compositor caps both sides, so it proves nothing; reported.
# Appends one JSON line per run to OUT; bench/throughput.py summarises.
# Usage: bench/throughput.sh BUILD ROUNDS FIFO_ROUNDS OUT
set -uo pipefail
build=$1 rounds=$2 fifo_rounds=$3 out=$4
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC2034 # read by tests/e2e/lib.sh
SFW_BUILD=$build
. "$top/tests/e2e/lib.sh"
sfw_start_weston "sfw-bench-tp-$$" gl || exit 1
counting=$build/bench/counting_layer
clock_from=30
hz=$(getconf CLK_TCK)
weston_ticks() { awk '{ print $14 + $15 }' "/proc/$SFW_WESTON_PID/stat"; }
# pattern size present-mode(0 FIFO, 1 MAILBOX) frames rounds: frames chosen for a few seconds each under TCG
configs=("vkcube 128 1 ${SFW_BENCH_TP_VKCUBE128:-400} $rounds" "vkcube 512 1 ${SFW_BENCH_TP_VKCUBE512:-150} $rounds"
         "loop 128 1 ${SFW_BENCH_TP_LOOP128:-2000} $rounds" "loop 512 1 ${SFW_BENCH_TP_LOOP512:-250} $rounds"
         "vkcube 128 0 ${SFW_BENCH_TP_VKCUBE128:-400} $fifo_rounds")

one() { # PATTERN SIZE MODE FRAMES CONFIG ROUND
  local pattern=$1 size=$2 mode=$3 n=$4 config=$5 round=$6 log=$SFW_TMP/tp.log
  local path=$counting layers=VK_LAYER_SFW_BENCH_counting
  [ "$config" = syncfile-wsi ] && { path+=":$build/json/explicit"; layers+=":VK_LAYER_SYNCFILE_wsi"; }
  local cmd=(vkcube-wayland --c "$n" --present_mode "$mode" --width "$size" --height "$size")
  [ "$pattern" = loop ] && cmd=("$build/bench/loop_bench" -n "$n" -s "$size")
  [ "$config" = native-export ] && cmd+=(-x)
  local w0 w1
  w0=$(weston_ticks)
  sfw_run "$log" 600 VK_LAYER_PATH="$path" VK_INSTANCE_LAYERS="$layers" SFW_BENCH_COUNTING_PRESENT_CLOCK=$clock_from \
    SYNCFILE_WSI_LOG=info -- "${cmd[@]}"
  local rc=$SFW_RC fps counters
  w1=$(weston_ticks)
  fps=$(sed -n 's/.*present clock: [0-9]* presents, \([0-9.]*\) frames\/s.*/\1/p' "$log" | tail -n 1)
  # "swapchain destroyed: mode M, A acquires, E exports, I imports (...), C cpu waits, P presents, D degradations,
  #  W waits for a release (T ms), ..."
  counters=$(sed -n 's/.*swapchain destroyed: mode \([a-z-]*\), \([0-9]*\) acquires, \([0-9]*\) exports, \([0-9]*\) imports ([0-9]* already signalled), \([0-9]*\) cpu waits, \([0-9]*\) presents, \([0-9]*\) degradations, \([0-9]*\) waits for a release (\([0-9]*\) ms).*/"layer_mode": "\1", "acquires": \2, "exports": \3, "imports": \4, "cpu_waits": \5, "presents": \6, "degradations": \7, "release_waits": \8, "release_wait_ms": \9/p' "$log" | tail -n 1)
  [ $rc -eq 0 ] && [ -n "$fps" ] || { echo "throughput: $pattern $size mode $mode $config failed (exit $rc):" >&2; tail -n 5 "$log" >&2; }
  echo "{\"pattern\": \"$pattern\", \"size\": $size, \"present_mode\": $mode, \"frames\": $n, \"config\": \"$config\"," \
       "\"round\": $round, \"exit\": $rc, \"fps\": ${fps:-null}," \
       "\"weston_cpu_s\": $(awk -v a="$w0" -v b="$w1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')${counters:+, $counters}}" >>"$out"
}

for c in "${configs[@]}"; do
  set -- $c
  pattern=$1 size=$2 mode=$3 n=$4 r=$5
  [ "$r" -gt 0 ] || continue
  one "$pattern" "$size" "$mode" "$n" native-a 0
  one "$pattern" "$size" "$mode" "$n" syncfile-wsi 0
  for ((round = 1; round <= r; round++)); do
    order=(native-a syncfile-wsi native-b); [ $((round % 2)) -eq 0 ] && order=(native-b syncfile-wsi native-a)
    [ "$pattern" = loop ] && order+=(native-export)
    for config in "${order[@]}"; do one "$pattern" "$size" "$mode" "$n" "$config" "$round"; done
  done
  echo "throughput: $pattern ${size}x$size mode $mode: $r rounds done" >&2
done
