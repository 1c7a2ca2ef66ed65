"""Python bytecodes, Python calls, C calls and array allocations per call of the ``sourcediff``
column's gradient (``run.py``'s ``build_sourcediff``): counts that a loaded machine cannot
disturb, unlike timings, for the overhead of the generated gradient and its call path.

Run: ``python benchmarks/grad_count.py [W1,W3,W7] [--by-function]``.
"""

import collections
import os
import sys
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # count the working tree's sourcediff

import numpy as np  # noqa: E402
import run as R  # noqa: E402
import workloads as W  # noqa: E402


def count(step):
    """(bytecodes, Python calls, C calls, per-function bytecode counter) of one call of
    ``step`` after two warm-up calls (the specialization built, caches filled)."""
    ops = collections.Counter()
    calls = [0, 0]

    def trace(frame, event, arg):
        if event == "call":
            frame.f_trace_opcodes = True
        elif event == "opcode":
            code = frame.f_code
            ops[(os.path.basename(code.co_filename), code.co_firstlineno, code.co_name)] += 1
        return trace

    def profile(frame, event, arg):
        if event == "call":
            calls[0] += 1
        elif event == "c_call":
            calls[1] += 1

    step()
    step()
    sys.settrace(trace)
    try:
        step()
    finally:
        sys.settrace(None)
    sys.setprofile(profile)
    try:
        step()
    finally:
        sys.setprofile(None)
    return sum(ops.values()), calls[0], calls[1], ops


def allocations(step):
    """(number of blocks, bytes) numpy and Python allocated during one call of ``step``, counted
    by tracemalloc (numpy reports its data buffers to it), the returned gradients included."""
    step()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        out = step()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    stats = after.compare_to(before, "filename")
    del out
    return sum(s.count_diff for s in stats if s.count_diff > 0), \
        sum(s.size_diff for s in stats if s.size_diff > 0)


def main(argv):
    names = [a for a in argv if not a.startswith("-")]
    names = names[0].split(",") if names else ["W1", "W3", "W7"]
    for name in names:
        wl = next(w for w in W.WORKLOADS if w.name == name)
        step = R.build_sourcediff(wl, wl.make_inputs(np.random.default_rng(0)))
        total, calls, c_calls, ops = count(step)
        print(f"{name}: {total:,} bytecodes, {calls:,} Python calls, {c_calls:,} C calls per "
              f"gradient call")
        if "--by-function" in argv:
            for (file, line, fn), n in ops.most_common(15):
                print(f"  {n:9,}  {file}:{line} {fn}")
        if "--memory" in argv:
            blocks, size = allocations(step)
            print(f"  allocated during the call: {blocks} blocks, {size:,} bytes still held")


if __name__ == "__main__":
    main(sys.argv[1:])
