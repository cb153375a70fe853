#!/usr/bin/env bash
# Part 4, the oversynchronisation the layer removes (run inside the VM): bench/oversync_bench under
# weston's GL renderer (headless, /dev/dri hidden from it), syncfile-wsi above the TEST DOUBLE layer (which
# only hands the bench the swapchain images' dma-bufs). Appends the bench's JSON lines to OUT, each with
# the mode syncfile-wsi chose ("layer_mode").
# Usage: bench/oversync.sh BUILD T_MS ROUNDS OUT
set -uo pipefail
build=$1 t_ms=$2 rounds=$3 out=$4
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC2034 # read by tests/e2e/lib.sh
SFW_BUILD=$build
. "$top/tests/e2e/lib.sh"
sfw_start_weston "sfw-bench-os-$$" gl || exit 1
log="$SFW_TMP/oversync.log"
SYNCFILE_WSI_LOG=info timeout -k 5 300 "$build/bench/oversync_bench" -t "$t_ms" -r "$rounds" >"$SFW_TMP/oversync.jsonl" 2>"$log"
rc=$?
[ $rc -eq 0 ] || { echo "oversync: oversync_bench failed ($rc):" >&2; tail -n 20 "$log" >&2; }
mode=$(grep -o 'mode [a-z-]*' "$log" | head -n 1 | cut -d' ' -f2)
python3 -c 'import json, sys
for line in open(sys.argv[2]):
    if line.strip():
        r = json.loads(line); r["layer_mode"] = sys.argv[1]; print(json.dumps(r))' "${mode:--}" "$SFW_TMP/oversync.jsonl" >>"$out"
echo "oversync: done (layer mode ${mode:--})" >&2
exit $rc
