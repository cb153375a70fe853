#!/usr/bin/env python3
"""Splits a callgrind profile of a submit loop into 'above the driver' and 'in the driver'.

Usage: callgrind_split.py DRIVER_OBJECT_SUBSTRING FILE...
Prints one JSON object per file: {"file", "total_ir", "driver_ir", "above_driver_ir"}.

total_ir: every instruction collected (the toggled loop, all it called).
driver_ir: inclusive cost of every call made from outside the driver's shared object into it.
above_driver_ir = total_ir - driver_ir: the loop, the loader's trampoline and any layers. It is exactly
deterministic; the driver's own part varies by a few instructions per submit between runs (its queue
thread frees what the submitting thread allocated, so malloc takes different paths).
"""
import json
import re
import sys

NAME = re.compile(r"^\((\d+)\)(?: (.*))?$")


def parse(path, driver):
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

    total = driver_ir = 0
    ob = ""
    cob = None
    pending_call = False
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            if line.startswith("totals:") or line.startswith("summary:"):
                continue
            key, eq, value = line.partition("=")
            if eq and key in kind_of:
                v = resolve(key, value)
                if key == "ob":
                    ob = v
                elif key == "cob":
                    cob = v
                continue
            if line.startswith("calls="):
                pending_call = True
                continue
            if line[0].isdigit() or line[0] in "+-*":
                fields = line.split()
                cost = int(fields[1]) if len(fields) > 1 else 0
                if pending_call:
                    callee = cob if cob is not None else ob
                    if driver in callee and driver not in ob:
                        driver_ir += cost
                    pending_call = False
                    cob = None
                else:
                    total += cost
                continue
            # other header lines (events:, positions:, desc:, ...)
    return total, driver_ir


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    driver = sys.argv[1]
    for path in sys.argv[2:]:
        total, drv = parse(path, driver)
        print(json.dumps({"file": path, "total_ir": total, "driver_ir": drv, "above_driver_ir": total - drv}))


if __name__ == "__main__":
    main()
