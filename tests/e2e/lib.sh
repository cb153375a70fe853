# Shared helpers for the e2e and vm client tests (sourced by bash scripts).
# Real parts only: weston headless, the Vulkan loader, lavapipe, vkcube-wayland, the layer.

: "${SFW_BUILD:?SFW_BUILD must name the meson build directory}"
SFW_PASSED=0
SFW_FAILED=0
SFW_SKIPPED=0
SFW_WESTON_PID=
SFW_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sfw-e2e.XXXXXX")

sfw_cleanup() {
  sfw_stop_weston
  rm -rf "$SFW_TMP"
}
trap sfw_cleanup EXIT

# Polls `cmd` every 50 ms until it succeeds or `seconds` pass. No sleeps as synchronisation.
sfw_wait_for() {
  local seconds=$1; shift
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}

# sfw_start_weston NAME [gl|pixman]: headless weston on socket NAME, desktop shell (weston 14's kiosk
# shell crashes when a client leaves). `gl` (the default): the GL renderer (llvmpipe), which accepts
# dma-bufs and takes screenshots; /dev/dri is hidden from it (vgem makes Mesa's kms_swrast crash it).
sfw_start_weston() {
  local socket=$1 renderer=${2:-gl}
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$SFW_TMP/runtime}
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
  rm -f "$XDG_RUNTIME_DIR/$socket" "$XDG_RUNTIME_DIR/$socket.lock"
  local args=(--backend=headless --socket="$socket" --idle-time=0)
  if [ "$renderer" = gl ]; then
    args+=(--renderer=gl)
    if [ -d /dev/dri ] && [ "$(id -u)" = 0 ]; then
      unshare -m sh -c 'mount -t tmpfs none /dev/dri && exec "$@"' weston weston "${args[@]}" "${SFW_WESTON_EXTRA[@]}" \
        >"$SFW_TMP/weston-$socket.log" 2>&1 &
    else
      weston "${args[@]}" "${SFW_WESTON_EXTRA[@]}" >"$SFW_TMP/weston-$socket.log" 2>&1 &
    fi
  else
    weston "${args[@]}" "${SFW_WESTON_EXTRA[@]}" >"$SFW_TMP/weston-$socket.log" 2>&1 &
  fi
  SFW_WESTON_PID=$!
  export WAYLAND_DISPLAY=$socket
  if ! sfw_wait_for 30 test -S "$XDG_RUNTIME_DIR/$socket"; then
    echo "weston did not start; its log:" >&2
    cat "$SFW_TMP/weston-$socket.log" >&2
    return 1
  fi
  # Under TCG weston stalls for seconds while its desktop shell starts, longer than the bounds clients and
  # tools put on an answer (syncfile-wsi-info's 3 s): wait until it keeps pace, as the C++ tests do
  # (tests/wayland/weston.hpp, Weston::warm_up). A weston still slow after 120 s is logged; the cases judge.
  local warm=$SFW_BUILD/tests/wayland/sfw-weston-warm-up
  if [ ! -x "$warm" ]; then echo "sfw-weston-warm-up is not built: $warm" >&2; return 1; fi
  "$warm" "$XDG_RUNTIME_DIR/$socket" 120 2>&1 | sed 's/^\[\(.*\)\]$/    (\1)/'
}

sfw_stop_weston() {
  if [ -n "$SFW_WESTON_PID" ]; then
    kill "$SFW_WESTON_PID" 2>/dev/null
    wait "$SFW_WESTON_PID" 2>/dev/null
    SFW_WESTON_PID=
  fi
}

# Environment that loads the layer explicitly from the build tree.
sfw_explicit_env() { echo "VK_LAYER_PATH=$SFW_BUILD/json/explicit VK_INSTANCE_LAYERS=VK_LAYER_SYNCFILE_wsi"; }
# Environment that finds the build tree's implicit manifest (loader 1.3.239: no VK_IMPLICIT_LAYER_PATH).
sfw_implicit_env() { echo "XDG_DATA_HOME=$SFW_BUILD/json/implicit ENABLE_SYNCFILE_WSI=1"; }

# sfw_run LOG TIMEOUT ENV... -- CMD...: runs a client with env, output to LOG, returns its status and keeps
# it in SFW_RC (inside `if ! sfw_run ...; then`, $? is the negation's 0).
sfw_run() {
  local log=$1 limit=$2; shift 2
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  env "${envs[@]}" timeout -k 5 "$limit" "$@" >"$log" 2>&1
  SFW_RC=$?
  return $SFW_RC
}

# The layer's own count of what it saw, from its log line at vkDestroyDevice.
sfw_counted() { # LOG WHAT(submits|presents)
  sed -n "s/.*device destroyed: \([0-9]*\) submits, \([0-9]*\) presents.*/\1 \2/p" "$1" | tail -n 1 |
    awk -v what="$2" '{ print (what == "submits") ? $1 : $2 }'
}

SFW_PNG_STATS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)/png_stats.py

# sfw_shoot PNG LIMIT STATS-ARG... -- ENV... -- CMD...: runs the client CMD with ENV in the background (its
# output in PNG.log) and takes screenshots (weston needs --debug) until one passes
# `png_stats.py STATS-ARG...`, the client exits, or LIMIT seconds pass; then stops the client. Returns 0 with
# that picture in PNG. Polls: an app draws its first frame when it is ready, which the script cannot know.
sfw_shoot() {
  local png=$1 limit=$2; shift 2
  local stats=() envs=()
  while [ "$1" != -- ]; do stats+=("$1"); shift; done; shift
  while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  local dir; dir=$(mktemp -d "$SFW_TMP/shots.XXXXXX")
  env "${envs[@]}" "$@" >"$png.log" 2>&1 &
  local client=$! found=1 end=$((SECONDS + limit)) shot
  rm -f "$png"
  while [ $SECONDS -lt $end ] && kill -0 $client 2>/dev/null; do
    (cd "$dir" && timeout 20 weston-screenshooter >/dev/null 2>&1) || true
    shot=$(ls -t "$dir"/wayland-screenshot-*.png 2>/dev/null | head -n 1)
    if [ -n "$shot" ] && python3 "$SFW_PNG_STATS" "${stats[@]}" "$shot" >/dev/null; then
      mv "$shot" "$png"; found=0; break
    fi
    rm -f "$dir"/*.png
    sleep 0.5
  done
  kill $client 2>/dev/null; wait $client 2>/dev/null
  rm -rf "$dir"
  return $found
}

sfw_pass() { echo "PASS $1"; SFW_PASSED=$((SFW_PASSED + 1)); }
sfw_fail() { echo "FAIL $1: $2"; SFW_FAILED=$((SFW_FAILED + 1)); [ -n "${3:-}" ] && [ -f "$3" ] && sed 's/^/    | /' "$3" | tail -n 25; }
sfw_skip() { echo "SKIP $1: $2"; SFW_SKIPPED=$((SFW_SKIPPED + 1)); }

sfw_summary() {
  echo "$SFW_PASSED passed, $SFW_FAILED failed, $SFW_SKIPPED skipped"
  [ "$SFW_FAILED" -eq 0 ]
}
