#!/usr/bin/env bash
# Prints the environment the numbers were measured in, as one JSON object.
# Usage: bench/env.sh IN_VM(true|false)
set -uo pipefail
q() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
top=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$top" diff --quiet HEAD -- layer src 2>/dev/null || commit="$commit+dirty"
cat <<JSON
{"in_vm": $1, "kernel": $(q "$(uname -r)"), "cpu": $(q "$cpu"), "cpus": $(nproc),
 "mesa": $(q "$(ver mesa-vulkan-drivers)"), "vulkan_loader": $(q "$(ver libvulkan1)"),
 "compositor": $(q "$(weston --version 2>/dev/null | head -n 1 || echo none)"), "valgrind": $(q "$(valgrind --version 2>/dev/null || echo none)"),
 "layer_commit": $(q "$commit"), "loadavg": $(q "$(cut -d' ' -f1-3 /proc/loadavg)"), "date": $(q "$(date -u +%Y-%m-%dT%H:%M:%SZ)")}
JSON
