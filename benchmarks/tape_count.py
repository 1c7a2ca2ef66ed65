"""Python bytecodes and calls per step of the tape column (forward, T.autograd.grad, freeing the
graph), counted with ``sys.settrace`` opcode events: a measure of the tape's own overhead that a
loaded machine cannot disturb, unlike the timings of ``run.py``.

Run: ``python benchmarks/tape_count.py [W1,W5] [--by-function]``.
"""

import collections
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # count the working tree's sourcediff

import numpy as np  # noqa: E402
import run as R  # noqa: E402
import workloads as W  # noqa: E402


def count(step):
    """(bytecodes, Python calls, per-function bytecode counter) of one call of ``step``."""
    ops = collections.Counter()
    calls = [0]

    def trace(frame, event, arg):
        if event == "call":
            calls[0] += 1
            frame.f_trace_opcodes = True
        elif event == "opcode":
            code = frame.f_code
            ops[(os.path.basename(code.co_filename), code.co_firstlineno, code.co_name)] += 1
        return trace

    step()
    step()  # (caches filled)
    sys.settrace(trace)
    try:
        step()
    finally:
        sys.settrace(None)
    return sum(ops.values()), calls[0], ops


def main(argv):
    names = [a for a in argv if not a.startswith("-")]
    names = names[0].split(",") if names else ["W1", "W5"]
    for name in names:
        wl = next(w for w in W.WORKLOADS if w.name == name)
        total, calls, ops = count(R.build_tape(wl, wl.make_inputs(np.random.default_rng(0))))
        print(f"{name}: {total:,} bytecodes, {calls:,} Python calls per tape step")
        if "--by-function" in argv:
            for (file, line, fn), n in ops.most_common(15):
                print(f"  {n:9,}  {file}:{line} {fn}")


if __name__ == "__main__":
    main(sys.argv[1:])
