"""Where the tape's forward time goes, op by op: W1's forward (the seed MLP) timed one operation at a
time for numpy, the tape and torch eager (when installed), best of many runs, in µs.

Run with one thread: ``OPENBLAS_NUM_THREADS=1 python benchmarks/tape_ops.py``. The difference
between the tape's and numpy's column is the recording overhead of each op (dispatch, Tensor,
node); ``del`` is freeing the graph.
"""

import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from sourcediff import tape as T  # noqa: E402

try:
    import torch
except ImportError:  # torch is optional
    torch = None

NAMES = ["x@w1", "+b1", "max", "@w2", "+b2", "-y", "**2", "sum", "del"]


def steps(x, y, w1, b1, w2, b2, relu, total):
    """W1's loss one op at a time; returns the seconds of each op."""
    pc = time.perf_counter
    t0 = pc()
    a = x @ w1
    t1 = pc()
    b = a + b1
    t2 = pc()
    c = relu(b)
    t3 = pc()
    d = c @ w2
    t4 = pc()
    e = d + b2
    t5 = pc()
    f = e - y
    t6 = pc()
    g = f ** 2
    t7 = pc()
    s = total(g)
    t8 = pc()
    del a, b, c, d, e, f, g, s
    t9 = pc()
    return (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t8 - t7, t9 - t8)


def best_of(runs, args):
    gc.disable()
    try:
        best = [1e9] * len(NAMES)
        for _ in range(runs):
            best = [min(b, t) for b, t in zip(best, steps(*args))]
        return best
    finally:
        gc.enable()


def main():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((100, 3)), rng.standard_normal((100, 1))
    params = [rng.standard_normal(s) for s in ((3, 32), (1, 32), (32, 1), (1, 1))]
    rows = [("numpy", (x, y, *params, lambda z: np.maximum(z, 0.0), np.sum)),
            ("tape", (x, y, *[T.tensor(p, requires_grad=True) for p in params],
                      lambda z: np.maximum(z, 0.0), np.sum))]
    if torch is not None:
        torch.set_num_threads(1)
        rows.append(("torch", (torch.from_numpy(x), torch.from_numpy(y),
                               *[torch.tensor(p, requires_grad=True) for p in params],
                               torch.relu, torch.sum)))
    print(f"{'':8}" + "".join(f"{n:>7}" for n in NAMES) + f"{'total':>8}")
    for label, args in rows:
        best = best_of(5000, args)
        print(f"{label:8}" + "".join(f"{b * 1e6:7.1f}" for b in best) + f"{sum(best) * 1e6:8.1f}")


if __name__ == "__main__":
    main()
