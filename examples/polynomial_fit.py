"""Fit y = a + b x + c x^2 + d x^3 to sin(x) by gradient descent, in tape and in source mode."""

import json
import math
from pathlib import Path

import numpy as np

import sourcediff as sd
from sourcediff import tape as T

DATA = Path(__file__).resolve().parent / "data"
LR = 1e-6
STEPS = 2000
N = 2000


def load():
    """PyTorch's seed-0 starting coefficients a, b, c, d (float32 scalars)."""
    with np.load(DATA / "poly_seed0.npz") as d:
        return tuple(d["abcd"])


def reference():
    """PyTorch's float32 run: ``([(t, loss), ...], [a, b, c, d] at the end)``."""
    with open(DATA / "trajectories.json") as f:
        ref = json.load(f)
    return [tuple(p) for p in ref["poly_float32"]], ref["poly_float32_final_abcd"]


def recorded(t):
    """The steps whose loss is recorded (as in the reference): the first and every 100th."""
    return t == 0 or t % 100 == 99


def loss(a, b, c, d, x, y):
    """Sum of squared errors of the cubic on the points ``(x, y)``; plain numpy."""
    y_pred = a + b * x + c * x**2 + d * x**3
    return np.sum((y_pred - y) ** 2)


def train_tape():
    """PyTorch style, as in "Learning PyTorch with Examples"; returns (losses, (a, b, c, d))."""
    x = T.linspace(-math.pi, math.pi, N)
    y = T.sin(x)
    a, b, c, d = (T.tensor(v, requires_grad=True) for v in load())
    losses = []
    for t in range(STEPS):
        y_pred = a + b * x + c * x**2 + d * x**3
        loss_t = (y_pred - y).pow(2).sum()
        if recorded(t):
            losses.append((t, loss_t.item()))
        loss_t.backward()
        with T.no_grad():
            a -= LR * a.grad
            b -= LR * b.grad
            c -= LR * c.grad
            d -= LR * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    return losses, (a.item(), b.item(), c.item(), d.item())


def train_source():
    """``sd.value_and_grad`` of the numpy ``loss`` with float32 data; returns the same as tape."""
    x = np.linspace(-math.pi, math.pi, N, dtype=np.float32)
    y = np.sin(x)
    a, b, c, d = load()
    loss_and_grads = sd.value_and_grad(loss, wrt=(0, 1, 2, 3))
    losses = []
    for t in range(STEPS):
        value, grads = loss_and_grads(a, b, c, d, x, y)
        if recorded(t):
            losses.append((t, float(value)))
        a, b, c, d = (p - LR * g for p, g in zip((a, b, c, d), grads))
    return losses, (float(a), float(b), float(c), float(d))


def main():
    """Fit both ways and compare with PyTorch; returns ``{"tape": [...], "source": [...]}``."""
    ref, ref_abcd = reference()
    ref = dict(ref)
    tape_losses, tape_abcd = train_tape()
    source_losses, source_abcd = train_source()
    print("Cubic fit of sin(x) on 2000 points in [-pi, pi], lr 1e-6, 2000 steps")
    print(f"{'step':>5}  {'tape mode':>12}  {'source mode':>12}  {'PyTorch f32':>12}")
    for (t, u), (_, v) in zip(tape_losses, source_losses):
        print(f"{t:5d}  {u:12.6f}  {v:12.6f}  {ref[t]:12.6f}")
    for mode, abcd in (("tape", tape_abcd), ("source", source_abcd), ("PyTorch", ref_abcd)):
        a, b, c, d = abcd
        print(f"{mode:>8}: y = {a:.6f} + {b:.6f} x + {c:.6f} x^2 + {d:.6f} x^3")
    print("\nThe gradient code sourcediff generated for loss():\n")
    print(sd.source(sd.value_and_grad(loss, wrt=(0, 1, 2, 3))))
    return {"tape": tape_losses, "source": source_losses}


if __name__ == "__main__":
    main()
