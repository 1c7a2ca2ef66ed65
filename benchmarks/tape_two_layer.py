"""Cost per training step of the tape on the seed two-layer net, against PyTorch eager (float32).

One step: ``loss = ((relu(x @ w1) @ w2 - y) ** 2).sum()``, ``loss.backward()``, SGD update under
``no_grad`` and zeroing the grads in place (n=100, d_in=3, d_hidden=32, d_out=1). Prints the median
time per step of each and the ratio. Run: ``python benchmarks/tape_two_layer.py``.
"""

import statistics
import time

import numpy as np

from sourcediff import tape as T


def make_step(lib, x, y, w1, w2, lr=1e-4):
    """One SGD step of the seed net written against ``lib`` (the tape module or torch)."""

    def step():
        loss = ((x.mm(w1).relu().mm(w2) - y) ** 2).sum()
        loss.backward()
        with lib.no_grad():
            w1.sub_(lr * w1.grad)
            w2.sub_(lr * w2.grad)
            w1.grad.zero_()
            w2.grad.zero_()
        return loss

    return step


def median_step_time(step, repeats=7, number=300):
    """Median over ``repeats`` of the mean seconds per call over ``number`` calls."""
    for _ in range(50):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            step()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def main():
    """Print tape and torch timings per step and their ratio."""
    rng = np.random.default_rng(0)
    data = {"x": rng.standard_normal((100, 3)), "y": rng.standard_normal((100, 1)),
            "w1": rng.standard_normal((3, 32)), "w2": rng.standard_normal((32, 1))}
    data = {k: v.astype(np.float32) for k, v in data.items()}

    tape_args = [T.tensor(data["x"]), T.tensor(data["y"]),
                 T.tensor(data["w1"], requires_grad=True), T.tensor(data["w2"], requires_grad=True)]
    t_tape = median_step_time(make_step(T, *tape_args))
    print(f"tape          : {t_tape * 1e6:8.1f} us/step")
    try:
        import torch
    except ImportError:
        print("torch not installed: no comparison")
        return
    torch.set_num_threads(1)
    torch_args = [torch.tensor(data["x"]), torch.tensor(data["y"]),
                  torch.tensor(data["w1"], requires_grad=True),
                  torch.tensor(data["w2"], requires_grad=True)]
    t_torch = median_step_time(make_step(torch, *torch_args))
    print(f"torch eager   : {t_torch * 1e6:8.1f} us/step (torch {torch.__version__}, 1 thread)")
    print(f"tape / torch  : {t_tape / t_torch:8.2f}")
    lt = make_step(T, *tape_args)().item()
    lo = make_step(torch, *torch_args)().item()
    print(f"loss after the timed steps: tape {lt:.6g}, torch {lo:.6g}")


if __name__ == "__main__":
    main()
