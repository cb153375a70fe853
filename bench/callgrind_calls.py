#!/usr/bin/env python3
"""Inclusive cost of the calls that functions matching CALLER make into an object matching OBJECT.

Usage: callgrind_calls.py CALLER_SUBSTRING OBJECT_SUBSTRING FILE
Prints {"file", "calls", "inclusive_ir"}. Used where the callee has no symbols (Debian's lavapipe is
stripped): bench/present.sh asks for the calls from syncfile-wsi's Swapchain::finish_present into
libvulkan_lvp, which in syncfile mode are exactly its vkGetSemaphoreFdKHR calls.
"""
import json
import sys

from callgrind_parse import costs


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    caller, obj, path = sys.argv[1:]
    calls = inclusive = 0
    for c in costs(path):
        if c.callee_ob is not None and caller in c.fn and obj in c.callee_ob:
            calls += c.calls
            inclusive += c.ir
    print(json.dumps({"file": path, "calls": calls, "inclusive_ir": inclusive}))


if __name__ == "__main__":
    main()
