#!/usr/bin/env bash
# Part 3, frame throughput (run inside the VM): vkcube-wayland under weston's GL renderer (headless,
# /dev/dri hidden from it), IMMEDIATE and MAILBOX, 128x128, through syncfile-wsi versus the driver's
# own WSI (lavapipe copies into wl_shm). Per run: wall time and the client's user+sys CPU (bash's
# `time`: getrusage of the child), and weston's CPU over the run (/proc/PID/stat). Each (mode, config)
# runs at FRAMES and at 10 frames, so the start-up (instance, pipeline compile: ~2 s under TCG) can be
# taken out. One warm-up of each first; then REPS rounds, the configs alternating (order flipped
# every round). Appends one JSON line per run to OUT.
# Usage: bench/frames.sh BUILD FRAMES REPS OUT
set -uo pipefail
build=$1 frames=$2 reps=$3 out=$4
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC2034 # read by tests/e2e/lib.sh
SFW_BUILD=$build
. "$top/tests/e2e/lib.sh"
sfw_start_weston "sfw-bench-$$" gl || exit 1
hz=$(getconf CLK_TCK)
weston_ticks() { awk '{ print $14 + $15 }' "/proc/$SFW_WESTON_PID/stat"; }

one() { # CONFIG MODE(0|1) FRAMES REP
  local config=$1 mode=$2 n=$3 rep=$4 log="$SFW_TMP/run.log" envs=(SFW_BENCH=1) t w0 w1 rc decision=-
  [ "$config" = syncfile-wsi ] && envs=(VK_LAYER_PATH="$build/json/explicit" VK_INSTANCE_LAYERS=VK_LAYER_SYNCFILE_wsi
                                        SYNCFILE_WSI_LOG=info)
  w0=$(weston_ticks)
  local TIMEFORMAT='%R %U %S'
  t=$( { time env "${envs[@]}" timeout -k 5 300 vkcube-wayland --c "$n" --present_mode "$mode" --width 128 --height 128 \
           >"$log" 2>&1; } 2>&1 )
  rc=$?
  w1=$(weston_ticks)
  [ "$config" = syncfile-wsi ] && decision=$(grep -o 'mode [a-z-]*' "$log" | head -n 1 | cut -d' ' -f2)
  [ $rc -eq 0 ] || { echo "frames: vkcube-wayland failed ($config, mode $mode):" >&2; tail -n 5 "$log" >&2; }
  set -- $t
  echo "{\"config\": \"$config\", \"present_mode\": $mode, \"frames\": $n, \"rep\": $rep, \"exit\": $rc," \
       "\"wall_s\": $1, \"user_s\": $2, \"sys_s\": $3, \"weston_cpu_s\": $(awk -v a="$w0" -v b="$w1" -v hz="$hz" 'BEGIN { printf "%.3f", (b - a) / hz }')," \
       "\"layer_mode\": \"${decision:--}\"}" >>"$out"
}

for mode in 0 1; do for config in driver-wsi syncfile-wsi; do one "$config" $mode "$frames" -1; done; done # warm-up
for rep in $(seq 1 "$reps"); do
  order=(driver-wsi syncfile-wsi); [ $((rep % 2)) -eq 0 ] && order=(syncfile-wsi driver-wsi)
  for mode in 0 1; do
    for n in "$frames" 10; do
      for config in "${order[@]}"; do one "$config" $mode "$n" "$rep"; done
    done
  done
  echo "frames: round $rep of $reps done" >&2
done
