"""The tape of another checkout against this one's, in one process, alternating with torch eager:
W1 and W5 of ``run.py`` timed by the thread's CPU time (best of a few calls, median of rounds), so
that a change to the tape is measured against the code before it under the same load.

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/tape_ab.py /path/to/other/checkout [rounds]``.
Each checkout's ``sourcediff`` is imported in turn (the modules of the first are dropped from
``sys.modules`` before the second is imported; their functions keep their own globals), and
both tapes' gradients are checked to be the same bits first.
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
        from sourcediff import tape
    finally:
        sys.path.remove(root)
    assert tape.__file__.startswith(root), tape.__file__
    return tape


def _best(f, n):
    best = 1 << 62
    for _ in range(n):
        t = time.thread_time_ns()
        f()
        best = min(best, time.thread_time_ns() - t)
    return best


def _tape_step(T, wl, args):
    full, made = list(args), []
    for i in wl.wrt:
        made.append(T.tensor(np.asarray(args[i], dtype=np.float64), requires_grad=True))
        full[i] = made[-1]
    return lambda: T.autograd.grad(wl.loss(*full), made)


def main(argv):
    other = os.path.abspath(argv[0])
    rounds = int(argv[1]) if len(argv) > 1 else 15
    torch = W.torch
    torch.set_num_threads(1)
    tapes = {"other": _load(other), "this": _load(os.path.dirname(HERE))}
    for name in ("W1", "W5"):
        wl = next(w for w in W.WORKLOADS if w.name == name)
        args = wl.make_inputs(np.random.default_rng(0))
        steps = {k: _tape_step(T, wl, args) for k, T in tapes.items()}
        tfull = [torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=i in wl.wrt)
                 for i, a in enumerate(args)]
        tmade = [tfull[i] for i in wl.wrt]
        steps["torch"] = lambda: torch.autograd.grad(wl.torch_loss(*tfull), tmade)
        a, b = ([g._data for g in steps[k]()] for k in ("other", "this"))
        assert all(np.array_equal(x, y) for x, y in zip(a, b)), "the tapes' gradients differ"
        inner = 40 if name == "W1" else 6
        times = {k: [] for k in steps}
        for _ in range(rounds):
            for k, f in steps.items():
                times[k].append(_best(f, inner))

        def ratio(p, q):
            return statistics.median([x / y for x, y in zip(times[p], times[q])])

        print(f"{name}: other {statistics.median(times['other']) / 1e3:.1f} µs, this "
              f"{statistics.median(times['this']) / 1e3:.1f} µs, torch "
              f"{statistics.median(times['torch']) / 1e3:.1f} µs; tape / torch: other "
              f"{ratio('other', 'torch'):.3f}, this {ratio('this', 'torch'):.3f}; this / other "
              f"{ratio('this', 'other'):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
