#!/usr/bin/env python3
"""Inclusive cost of the calls that functions matching CALLER make into an object matching OBJECT.

Usage: callgrind_calls.py CALLER_SUBSTRING OBJECT_SUBSTRING FILE
Prints {"file", "calls", "inclusive_ir"}. Used where the callee has no symbols (Debian's lavapipe is
stripped): bench/present.sh asks for the calls from syncfile-wsi's Swapchain::finish_present into
libvulkan_lvp, which in syncfile mode are exactly its vkGetSemaphoreFdKHR calls.
"""
import json
import re
import sys

NAME = re.compile(r"^\((\d+)\)(?: (.*))?$")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    caller, obj, path = sys.argv[1:]
    names = {"ob": {}, "fl": {}, "fn": {}}
    kind_of = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl", "cfl": "fl", "fn": "fn", "cfn": "fn"}

    def resolve(key, value):
        m = NAME.match(value)
        table = names[kind_of[key]]
        if not m:
            return value
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), "")

    fn = ""
    cob = None
    ob = ""
    pending = None
    calls = inclusive = 0
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#") or line.startswith(("totals:", "summary:")):
                continue
            key, eq, value = line.partition("=")
            if eq and key in kind_of:
                v = resolve(key, value)
                if key == "ob":
                    ob = v
                elif key == "cob":
                    cob = v
                elif key == "fn":
                    fn = v
                continue
            if line.startswith("calls="):
                pending = int(line.split("=")[1].split()[0])
                continue
            if line[0].isdigit() or line[0] in "+-*":
                if pending is not None:
                    callee = cob if cob is not None else ob
                    if caller in fn and obj in callee:
                        calls += pending
                        fields = line.split()
                        inclusive += int(fields[1]) if len(fields) > 1 else 0
                    pending = None
                    cob = None
    print(json.dumps({"file": path, "calls": calls, "inclusive_ir": inclusive}))


if __name__ == "__main__":
    main()
