#!/usr/bin/env python3
"""Per-frame counts from a callgrind profile of FRAMES frames (bench/frame_cost.sh: present_bench with
collection toggled on inside its acquire, submit and present wrappers, so only the app thread's frame).

Usage: callgrind_frame.py LAYER_OBJECT DRIVER_OBJECT FRAMES FILE
Prints {"ir", "layer_self_ir", "driver_ir", "allocations", "layer_allocations", "wayland_dispatches",
"wayland_flushes"}, each per frame. An allocation is a call into malloc, calloc, realloc, the aligned
allocators or operator new from a function that is not one of them (operator new's own malloc is one).
A Wayland dispatch is a call into libwayland-client's dispatch or roundtrip functions from outside it.
"""
import json
import sys

from callgrind_parse import costs

ALLOCATORS = {"malloc", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc", "memalign", "valloc"}
DISPATCHES = {"wl_display_dispatch_queue_pending", "wl_display_dispatch_pending", "wl_display_dispatch_queue",
              "wl_display_dispatch", "wl_display_roundtrip_queue", "wl_display_roundtrip"}


def is_allocator(fn):
    return fn in ALLOCATORS or fn.startswith("operator new")


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    layer, driver, frames, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    n = dict(ir=0, layer_self_ir=0, driver_ir=0, allocations=0, layer_allocations=0, wayland_dispatches=0,
             wayland_flushes=0)
    for c in costs(path):
        if c.callee_ob is None:
            n["ir"] += c.ir
            if layer in c.ob:
                n["layer_self_ir"] += c.ir
            continue
        callee = c.callee_fn or ""
        if driver in c.callee_ob and driver not in c.ob:
            n["driver_ir"] += c.ir
        if is_allocator(callee) and not is_allocator(c.fn):
            n["allocations"] += c.calls
            if layer in c.ob:
                n["layer_allocations"] += c.calls
        if "libwayland-client" not in c.ob and "libwayland-client" in c.callee_ob:
            if callee in DISPATCHES:
                n["wayland_dispatches"] += c.calls
            elif callee == "wl_display_flush":
                n["wayland_flushes"] += c.calls
    print(json.dumps({k: round(v / frames, 2) for k, v in n.items()}))


if __name__ == "__main__":
    main()
