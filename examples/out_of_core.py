"""Logistic regression by gradient descent on a dataset larger than the memory it may use."""

# The data are generated lazily with dask.array.random a block of rows at a time, so they never
# exist in memory at once; the loss is the plain numpy function below. Given dask arrays,
# sd.value_and_grad(loss) returns the value and the gradient as lazy dask arrays, and
# dask.compute(value, grad) computes both in one pass over the data (each block is generated once
# per step, used for the loss and the gradient, and dropped). The process's resident memory is
# sampled during the fit; its growth must stay under the cap (exit status 1 otherwise).
#
#     python examples/out_of_core.py                      # 4 GB of data, 1 GB cap, 3 steps
#     python examples/out_of_core.py --small              # 64 MB, 256 MB cap: a few seconds
#     python examples/out_of_core.py --gb 1.6 --cap-gb 0.6 --steps 5
#
# Needs dask: pip install "sourcediff[dask]".

import argparse
import os
import resource
import sys
import threading
import time

import numpy as np

import sourcediff as sd

FEATURES = 50


def loss(w, X, y):
    """Mean logistic loss of labels y in {-1, 1}; the same numpy code for numpy and dask arrays."""
    return np.mean(np.logaddexp(0.0, -y * (X @ w)))


def dataset(gigabytes, features=FEATURES, chunk_mb=32, seed=0):
    """(X, y, true weights): X float64 of about ``gigabytes`` GB and labels y = sign(X @ w_true +
    noise), both lazy, in blocks of rows of about ``chunk_mb`` MB (at least eight blocks)."""
    import dask.array as da

    rows = int(gigabytes * 2**30 / (8 * features))
    chunk = max(1, min(-(-rows // 8), int(chunk_mb * 2**20 / (8 * features))))
    rng = da.random.default_rng(seed)
    X = rng.standard_normal((rows, features), chunks=(chunk, features))
    w_true = np.linspace(-1.0, 1.0, features)
    noise = rng.standard_normal(rows, chunks=chunk)
    y = np.sign(X @ w_true + 0.5 * noise)
    return X, y, w_true


class PeakMemory:
    """Samples the resident memory of this process (Linux: /proc/self/statm) every few ms; ``growth``
    is the highest sample minus the resident memory when the block began, in bytes."""

    def __init__(self, every=0.005):
        self.every, self.start, self.peak = every, 0, 0
        self._stop = threading.Event()

    @staticmethod
    def resident():
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:  # (no /proc: the lifetime peak, bytes on macOS, KiB elsewhere)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return peak if sys.platform == "darwin" else peak * 1024

    def _sample(self):
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, self.resident())

    def __enter__(self):
        self.start = self.peak = self.resident()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.resident())

    @property
    def growth(self):
        return self.peak - self.start


def fit(X, y, steps, rate=1.0, log=print):
    """Gradient descent from zero weights: ``steps`` calls of the generated gradient, each
    computed in one pass over the data. Returns (weights, losses)."""
    import dask

    vg = sd.value_and_grad(loss)
    w = np.zeros(X.shape[1])
    losses = []
    for step in range(steps):
        start = time.perf_counter()
        value, grad = vg(w, X, y)  # lazy: nothing has been read yet
        value, grad = dask.compute(value, grad)  # one pass: each block generated and read once
        w = w - rate * grad
        losses.append(float(value))
        log(f"step {step}: loss {value:.6f}  ({X.shape[0] / (time.perf_counter() - start):,.0f} "
            f"rows/s)")
    return w, losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gb", type=float, default=4.0, help="size of X in GB (default 4)")
    parser.add_argument("--cap-gb", type=float, default=1.0,
                        help="allowed growth of resident memory in GB (default 1)")
    parser.add_argument("--steps", type=int, default=3, help="gradient steps (default 3)")
    parser.add_argument("--small", action="store_true", help="64 MB of data under a 256 MB cap")
    args = parser.parse_args(argv)
    if args.small:
        args.gb, args.cap_gb = 1 / 16, 0.25

    X, y, w_true = dataset(args.gb)
    print(f"X: {X.shape[0]:,} rows x {X.shape[1]} features, {X.nbytes / 2**30:.2f} GB generated "
          f"lazily in {len(X.chunks[0])} blocks; memory cap {args.cap_gb:.2f} GB")
    with PeakMemory() as memory:
        w, losses = fit(X, y, args.steps)
    cosine = float(w @ w_true / (np.linalg.norm(w) * np.linalg.norm(w_true) + 1e-300))
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}; cosine(w, w_true) = {cosine:.3f}")
    print(f"resident memory grew by {memory.growth / 2**30:.3f} GB at most "
          f"(cap {args.cap_gb:.2f} GB, data {X.nbytes / 2**30:.2f} GB)")
    within = memory.growth < args.cap_gb * 2**30
    if not within:
        print("over the memory cap")
    return {"losses": losses, "w": w, "growth": memory.growth, "within_cap": within,
            "cosine": cosine}


if __name__ == "__main__":
    sys.exit(0 if main()["within_cap"] else 1)
