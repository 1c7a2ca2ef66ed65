"""Out-of-core gradients: peak resident memory and throughput of sourcediff's gradient on dask arrays
against the in-memory numpy gradient, measured in the same run.

    python benchmarks/dask_scale.py                      # 1.6 GB lazily generated, 400k-row slice
    python benchmarks/dask_scale.py --gb 4 --rows 1000000 --rounds 5
    python benchmarks/dask_scale.py --quick              # 0.25 GB, 100k rows, 2 rounds

The loss is examples/out_of_core.py's logistic regression (50 features, float64). Rows:

- numpy, hand-written: the gradient written by hand, on a slice of X that fits in memory
- numpy, sourcediff: ``sd.value_and_grad(loss)`` on the same numpy slice
- dask, in memory: the same slice as a dask array in blocks of rows (dask's overhead alone)
- dask, generated: the whole X, generated lazily by ``dask.array.random`` in the same pass as the
  loss and gradient (``dask.compute(value, grad)``)
- generation alone: ``dask.compute(X.sum(), y.sum())`` on the lazily generated X, for scale

Throughput is rows per second (the median over rounds, after one call that compiles), memory the
peak growth of resident memory during one call above what the process held before it (sampled
every 5 ms, in a fresh interpreter per row, compilation included: freed memory stays resident, so
a process that ran anything before would hide it). Ratios are against the numpy sourcediff row of
the same run. Nothing here is asserted.
"""

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # benchmark the working tree's sourcediff

import numpy as np  # noqa: E402

import sourcediff as sd  # noqa: E402


def load_example():
    spec = importlib.util.spec_from_file_location("out_of_core",
                                                  os.path.join(ROOT, "examples", "out_of_core.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hand_written(w, X, y):
    """Value and gradient of mean(logaddexp(0, -y * (X @ w))), by hand."""
    m = -y * (X @ w)
    value = np.mean(np.logaddexp(0.0, m))
    s = 1.0 / (1.0 + np.exp(-m))  # sigmoid(m), the fastest plain-numpy form (see README.md)
    return value, X.T @ (-y * s) / len(y)


def rates(run, rows, rounds):
    """Rows per second of each round (after one call that compiles and specializes)."""
    run()
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        out.append(rows / (time.perf_counter() - start))
    return out


def setup(args):
    """The example module, the data, and {row name: (rows, run)}."""
    import dask
    import dask.array as da

    example = load_example()
    X, y, w_true = example.dataset(args.gb)
    chunk = X.chunks[0][0]
    w = w_true * 0.1
    vg = sd.value_and_grad(example.loss)
    Xs, ys = dask.compute(X[: args.rows], y[: args.rows])
    Xs_d = da.from_array(Xs, chunks=(chunk, Xs.shape[1]))
    ys_d = da.from_array(ys, chunks=chunk)
    n = X.shape[0]
    runs = {
        "numpy, hand-written": (args.rows, lambda: hand_written(w, Xs, ys)),
        "numpy, sourcediff": (args.rows, lambda: vg(w, Xs, ys)),
        "dask, in memory": (args.rows, lambda: dask.compute(*vg(w, Xs_d, ys_d))),
        "dask, generated": (n, lambda: dask.compute(*vg(w, X, y))),
        "generation alone": (n, lambda: dask.compute(X.sum(), y.sum())),
    }
    return example, X, Xs, runs


def memory_growth(name, args):
    """Peak growth of resident memory during the first call of row ``name`` (compilation
    included), measured in a fresh interpreter so that no earlier call's freed memory hides it."""
    command = [sys.executable, os.path.abspath(__file__), "--memory-of", name, "--gb", str(args.gb),
               "--rows", str(args.rows)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.6, help="size of the generated X (GB)")
    parser.add_argument("--rows", type=int, default=400_000, help="rows of the in-memory slice")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="0.25 GB, 100k rows, 2 rounds")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)  # (the child that measures memory)
    args = parser.parse_args(argv)
    if args.quick:
        args.gb, args.rows, args.rounds = 0.25, 100_000, 2
    example, X, Xs, runs = setup(args)
    if args.memory_of:
        with example.PeakMemory() as memory:
            runs[args.memory_of][1]()
        print(memory.growth)
        return

    grads = {name: runs[name][1]()[1] for name in list(runs)[:3]}
    for name, g in grads.items():  # (the same gradient on the slice, whichever way)
        assert np.allclose(g, grads["numpy, sourcediff"], rtol=1e-8), name
    table = []
    for name, (rows, run) in runs.items():
        table.append((name, rows, statistics.median(rates(run, rows, args.rounds)),
                      memory_growth(name, args)))
    reference = table[1][2]
    chunk = X.chunks[0][0]
    print(f"logistic regression, {X.shape[1]} features, float64; slice {args.rows:,} rows "
          f"({Xs.nbytes / 2**20:.0f} MB in memory); generated X {X.shape[0]:,} rows "
          f"({X.nbytes / 2**30:.2f} GB) in {len(X.chunks[0])} blocks of {chunk:,} rows; "
          f"{os.cpu_count()} CPUs; median of {args.rounds} rounds")
    print(f"{'':22} {'rows':>11} {'rows/s':>12} {'vs numpy sd':>12} {'peak growth':>12} "
          f"{'growth/data':>12}")
    for name, rows, rate, growth in table:
        data = Xs.nbytes if rows == args.rows else X.nbytes
        print(f"{name:22} {rows:>11,} {rate:>12,.0f} {rate / reference:>12.2f} "
              f"{growth / 2**20:>9.0f} MB {growth / data:>12.3f}")


if __name__ == "__main__":
    main()
