"""The generated gradients of another checkout against this one's, in one process, alternating
with the hand-written gradient: workloads of ``run.py`` (W1, W3, W7 unless named) timed by the
thread's CPU time (best of a few calls, median of rounds), so that a change to the generated code
or its call path is measured against the code before it under the same load.

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/grad_ab.py /path/to/other/checkout [W1,W3,W7]
[rounds] [--close]``. Each checkout's ``sourcediff`` is imported in turn (the modules of the first are
dropped from ``sys.modules`` before the second is imported; their functions keep their own
globals), and both gradients are checked to be the same bits as each other first (with
``--close``, for a change meant to move the last bits, within 1e-12 relative of each other; the
largest difference is printed).
"""

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import workloads as W  # noqa: E402


def _load(root):
    for name in [k for k in sys.modules if k == "sourcediff" or k.startswith("sourcediff.")]:
        del sys.modules[name]
    sys.path.insert(0, root)
    try:
        import sourcediff
    finally:
        sys.path.remove(root)
    assert sourcediff.__file__.startswith(root), sourcediff.__file__
    return sourcediff


def _best(f, n):
    best = 1 << 62
    for _ in range(n):
        t = time.thread_time_ns()
        f()
        best = min(best, time.thread_time_ns() - t)
    return best


def _leaves(tree):
    if isinstance(tree, dict):
        tree = list(tree.values())
    if isinstance(tree, (list, tuple)):
        return [x for item in tree for x in _leaves(item)]
    return [np.asarray(tree)]


def _same(a, b, close):
    """Whether gradient leaves ``a`` and ``b`` are the same bits (``close``: within 1e-12)."""
    if len(a) != len(b) or any(x.dtype != y.dtype or x.shape != y.shape for x, y in zip(a, b)):
        return False
    if not close:
        return all(np.array_equal(x, y) for x, y in zip(a, b))
    worst = max(float(np.max(np.abs(x - y) / (np.abs(y).max() or 1.0))) for x, y in zip(a, b))
    print(f"  largest difference, relative to the leaf's largest entry: {worst:.3g}")
    return worst <= 1e-12


def main(argv):
    close = "--close" in argv
    argv = [a for a in argv if a != "--close"]
    other = os.path.abspath(argv[0])
    names = argv[1].split(",") if len(argv) > 1 else ["W1", "W3", "W7"]
    rounds = int(argv[2]) if len(argv) > 2 else 15
    packages = {"other": _load(other), "this": _load(os.path.dirname(HERE))}
    for name in names:
        wl = next(w for w in W.WORKLOADS if w.name == name)
        args = wl.make_inputs(np.random.default_rng(0))
        steps = {"hand": lambda wl=wl, args=args: wl.grad(*args)}
        for k, sd in packages.items():
            df = sd.grad(wl.loss, wrt=wl.wrt)
            steps[k] = lambda df=df, args=args: df(*args)
        a, b, h = (_leaves(steps[k]()) for k in ("other", "this", "hand"))
        assert _same(a, b, close), f"{name}: the gradients differ"
        assert all(np.allclose(x, y) for x, y in zip(b, h)), f"{name}: hand-written differs"
        t0 = _best(steps["hand"], 3)
        inner = max(2, min(200, int(2e6 // max(t0, 1))))
        times = {k: [] for k in steps}
        for _ in range(rounds):
            for k, f in steps.items():
                times[k].append(_best(f, inner))

        def ratio(p, q):
            return statistics.median([x / y for x, y in zip(times[p], times[q])])

        print(f"{name}: hand {statistics.median(times['hand']) / 1e3:.1f} µs, other "
              f"{statistics.median(times['other']) / 1e3:.1f} µs, this "
              f"{statistics.median(times['this']) / 1e3:.1f} µs; / hand: other "
              f"{ratio('other', 'hand'):.3f}, this {ratio('this', 'hand'):.3f}; this / other "
              f"{ratio('this', 'other'):.3f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
