"""The seed two-layer ReLU network trained by hand-written SGD, in tape mode and in source mode."""

import json
from pathlib import Path

import numpy as np

import sourcediff as sd
from sourcediff import tape as T

DATA = Path(__file__).resolve().parent / "data"
LR = 1e-4
STEPS = 200


def load():
    """The exact float32 starting tensors of PyTorch's seed-0 run: x (100, 3), y, w1 (3, 32), w2."""
    with np.load(DATA / "two_layer_seed0.npz") as d:
        return d["x"], d["y"], d["w1"], d["w2"]


def reference():
    """PyTorch's float32 losses as ``[(iteration, loss), ...]`` (iteration 1 and every 10th)."""
    with open(DATA / "trajectories.json") as f:
        return [tuple(p) for p in json.load(f)["two_layer_float32"]]


def recorded(t):
    """The iterations whose loss is recorded (as in the reference): the first and every 10th."""
    return t == 1 or t % 10 == 0


def loss(w1, b1, w2, b2, x, y):
    """Sum of squared errors of the network ``relu(x @ w1 + b1) @ w2 + b2``; plain numpy."""
    h = np.maximum(x @ w1 + b1, 0.0)
    y_pred = h @ w2 + b2
    return np.sum((y_pred - y) ** 2)


def train_tape(verbose=False):
    """PyTorch style: build the graph, ``backward()``, update under ``no_grad``, ``zero_()``."""
    x_np, y_np, w1_np, w2_np = load()
    x, y = T.tensor(x_np), T.tensor(y_np)
    w1 = T.tensor(w1_np, requires_grad=True)
    w2 = T.tensor(w2_np, requires_grad=True)
    b1 = T.zeros(1, 32, requires_grad=True)
    b2 = T.zeros(1, 1, requires_grad=True)
    losses = []
    for t in range(1, STEPS + 1):
        y_pred = x.mm(w1).add(b1).clamp(min=0).mm(w2).add(b2)
        loss_t = (y_pred - y).pow(2).sum()
        if recorded(t):
            losses.append((t, loss_t.item()))
            if verbose:
                print(f"  iteration {t:4d}   loss {loss_t.item():.6f}")
        loss_t.backward()
        with T.no_grad():
            w1 -= LR * w1.grad
            w2 -= LR * w2.grad
            b1 -= LR * b1.grad
            b2 -= LR * b2.grad
            w1.grad.zero_()
            w2.grad.zero_()
            b1.grad.zero_()
            b2.grad.zero_()
    if verbose:
        print(f"  the loss's grad_fn: {loss_t.grad_fn.name()}")
    return losses


def train_source(verbose=False):
    """Source mode: ``sd.value_and_grad`` of the numpy ``loss``; numpy arrays updated in place."""
    x, y, w1, w2 = load()
    b1 = np.zeros((1, 32), np.float32)
    b2 = np.zeros((1, 1), np.float32)
    loss_and_grads = sd.value_and_grad(loss, wrt=("w1", "b1", "w2", "b2"))
    losses = []
    for t in range(1, STEPS + 1):
        value, (g_w1, g_b1, g_w2, g_b2) = loss_and_grads(w1, b1, w2, b2, x, y)
        if recorded(t):
            losses.append((t, float(value)))
            if verbose:
                print(f"  iteration {t:4d}   loss {float(value):.6f}")
        w1 -= LR * g_w1
        b1 -= LR * g_b1
        w2 -= LR * g_w2
        b2 -= LR * g_b2
    return losses


def main():
    """Train both ways and compare with PyTorch; returns ``{"tape": [...], "source": [...]}``."""
    ref = dict(reference())
    results = {"tape": train_tape(), "source": train_source()}
    print("Two-layer ReLU net, n=100, 3 -> 32 -> 1, lr 1e-4, loss = sum of squared errors")
    print(f"{'iteration':>9}  {'tape mode':>12}  {'source mode':>12}  {'PyTorch f32':>12}")
    for (t, a), (_, b) in zip(results["tape"], results["source"]):
        print(f"{t:9d}  {a:12.6f}  {b:12.6f}  {ref[t]:12.6f}")
    for mode, losses in results.items():
        worst = max(abs(v - ref[t]) / abs(ref[t]) for t, v in losses)
        print(f"{mode} mode: largest relative difference from PyTorch {worst:.1e}")
    print("\nThe gradient code sourcediff generated for loss():\n")
    print(sd.source(sd.value_and_grad(loss, wrt=("w1", "b1", "w2", "b2"))))
    return results


if __name__ == "__main__":
    main()
