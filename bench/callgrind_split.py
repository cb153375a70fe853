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
import sys

from callgrind_parse import costs


def parse(path, driver):
    total = driver_ir = 0
    for c in costs(path):
        if c.callee_ob is None:
            total += c.ir
        elif driver in c.callee_ob and driver not in c.ob:
            driver_ir += c.ir
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
