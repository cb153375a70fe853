"""Reads a callgrind output file as its cost lines, for bench/callgrind_split.py and bench/callgrind_calls.py.

Callgrind writes each object, file and function name once, as "(id) name", and later only "(id)"; a
"calls=" line says that the next cost line is the inclusive cost of a call into cfn (in cob, where given,
else in the caller's own object). Only the first event column (Ir) is read.
"""
import re
from typing import Iterator, NamedTuple, Optional

NAME = re.compile(r"^\((\d+)\)(?: (.*))?$")
# Which table of compressed names each name line's value belongs to.
TABLE_OF = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl", "cfl": "fl", "fn": "fn", "cfn": "fn"}


class Cost(NamedTuple):
    ob: str  # the object of the function the cost line is in
    fn: str  # that function
    callee_ob: Optional[str]  # for a call's inclusive cost: the called object; None for the function's own cost
    calls: int  # for a call: how many times it was made
    ir: int
    callee_fn: Optional[str] = None  # for a call: the called function


def costs(path) -> Iterator[Cost]:
    names = {"ob": {}, "fl": {}, "fn": {}}

    def resolve(key, value):
        m = NAME.match(value)
        if not m:
            return value
        table = names[TABLE_OF[key]]
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), "")

    ob = fn = ""
    cob = cfn = None
    calls = None  # the count of the "calls=" line just read: the next cost line is that call's
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#") or line.startswith(("totals:", "summary:")):
                continue
            key, eq, value = line.partition("=")
            if eq and key in TABLE_OF:
                v = resolve(key, value)
                if key == "ob":
                    ob = v
                elif key == "cob":
                    cob = v
                elif key == "fn":
                    fn = v
                elif key == "cfn":
                    cfn = v
                continue
            if line.startswith("calls="):
                calls = int(line.split("=")[1].split()[0])
                continue
            if line[0].isdigit() or line[0] in "+-*":
                fields = line.split()
                ir = int(fields[1]) if len(fields) > 1 else 0
                if calls is None:
                    yield Cost(ob, fn, None, 0, ir)
                else:
                    yield Cost(ob, fn, cob if cob is not None else ob, calls, ir, cfn)
                    calls = None
                    cob = cfn = None
            # other header lines (events:, positions:, desc:, ...) carry no cost
