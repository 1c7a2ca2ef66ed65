"""``sd.grad(self.loss, has_aux=True)`` taken in every training step, as trainers write it,
against the same gradient of a plain function: per-call time in ms and their ratio (the
bound method's wrapper was made and compiled again on every step before review40: 120 ms
against 0.7 on the 2-core machine of that review).

Run with one thread: ``OPENBLAS_NUM_THREADS=1 python benchmarks/has_aux_method.py``.
"""

import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import sourcediff as sd  # noqa: E402


class Model:
    def __init__(self):
        self.W = np.arange(6.0).reshape(3, 2) / 7

    def loss(self, W, X):
        s = np.tanh(X @ W)
        return np.sum(s ** 2), {"mean": np.mean(s)}

    def step(self, X):
        return sd.grad(self.loss, has_aux=True)(self.W, X)


def loss(W, X):
    s = np.tanh(X @ W)
    return np.sum(s ** 2), {"mean": np.mean(s)}


def per_call(run, n=50):
    run()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            run()
        best = min(best, (time.perf_counter() - t) / n)
    return best * 1e3


def main():
    warnings.simplefilter("ignore")
    m, X = Model(), np.ones((4, 3))
    method = per_call(lambda: m.step(X))
    plain = per_call(lambda: sd.grad(loss, has_aux=True)(m.W, X))
    print(f"has_aux of a bound method, per step: {method:.3f} ms")
    print(f"has_aux of a plain function, per step: {plain:.3f} ms")
    print(f"ratio method / function: {method / plain:.2f}")


if __name__ == "__main__":
    main()
