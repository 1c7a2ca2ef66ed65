"""A 2-2-1 sigmoid network on XOR trained with sourcediff.optim.SGD, in tape and source mode."""

import json
from pathlib import Path

import numpy as np

import sourcediff as sd
from sourcediff import tape as T
from sourcediff.optim import SGD, Adam

DATA = Path(__file__).resolve().parent / "data"
LR = 0.1
EPOCHS = 5000
X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], np.float32)
Y = np.array([[0.0], [1.0], [1.0], [0.0]], np.float32)


def load():
    """PyTorch's seed-0 ``nn.Linear`` initial values: [w1 (2, 2), b1 (2,), w2 (1, 2), b2 (1,)]."""
    with np.load(DATA / "xor_seed0_init.npz") as d:
        return [d[k].copy() for k in ("0_weight", "0_bias", "2_weight", "2_bias")]


def reference():
    """PyTorch's losses (SGD, lr 0.1) as ``[(epoch, loss), ...]``: epoch 1 and every 500th."""
    with open(DATA / "trajectories.json") as f:
        return [tuple(p) for p in json.load(f)["xor_seed0_lr0.1"]]


def recorded(epoch):
    """The epochs whose loss is recorded (as in the reference)."""
    return epoch == 1 or epoch % 500 == 0


def sigmoid(z):
    """The logistic function, written in numpy (sourcediff differentiates through this call)."""
    return 1.0 / (1.0 + np.exp(-z))


def loss(w1, b1, w2, b2, x, y):
    """Mean squared error of ``sigmoid(sigmoid(x @ w1.T + b1) @ w2.T + b2)``, like nn.Linear."""
    h = sigmoid(x @ w1.T + b1)
    out = sigmoid(h @ w2.T + b2)
    return np.mean((out - y) ** 2)


def train_tape(epochs=EPOCHS, make_optimizer=lambda ps: SGD(ps, lr=LR)):
    """The tutorial's loop: ``zero_grad()``, forward, ``backward()``, ``step()`` on tape Tensors."""
    params = [T.tensor(p, requires_grad=True) for p in load()]
    w1, b1, w2, b2 = params
    x, y = T.tensor(X), T.tensor(Y)
    opt = make_optimizer(params)
    losses = []
    for epoch in range(1, epochs + 1):
        opt.zero_grad()
        out = T.linear(T.linear(x, w1, b1).sigmoid(), w2, b2).sigmoid()
        loss_t = T.mse_loss(out, y)
        loss_t.backward()
        opt.step()
        if recorded(epoch):
            losses.append((epoch, loss_t.item()))
    return losses


def train_source(epochs=EPOCHS, make_optimizer=lambda ps: SGD(ps, lr=LR)):
    """``sd.value_and_grad`` of the numpy ``loss``; the optimizer updates the arrays in place."""
    params = load()
    opt = make_optimizer(params)
    loss_and_grads = sd.value_and_grad(loss, wrt=(0, 1, 2, 3))
    losses = []
    for epoch in range(1, epochs + 1):
        value, grads = loss_and_grads(*params, X, Y)
        opt.step(grads)
        if recorded(epoch):
            losses.append((epoch, float(value)))
    return losses, params


def main():
    """Train both ways and compare with PyTorch; returns ``{"tape": [...], "source": [...]}``."""
    ref = dict(reference())
    tape_losses = train_tape()
    source_losses, params = train_source()
    print("XOR, 2-2-1 sigmoid net, MSE loss, SGD lr 0.1 (the run plateaus at 0.25)")
    print(f"{'epoch':>5}  {'tape mode':>12}  {'source mode':>12}  {'PyTorch f32':>12}")
    for (e, u), (_, v) in zip(tape_losses, source_losses):
        print(f"{e:5d}  {u:12.8f}  {v:12.8f}  {ref[e]:12.8f}")
    h = sigmoid(X @ params[0].T + params[1])
    print("predictions after SGD:", np.round(sigmoid(h @ params[2].T + params[3]).ravel(), 4))

    # The same net escapes the plateau with Adam (sourcediff.optim.Adam follows torch.optim.Adam).
    adam_losses, params = train_source(epochs=1000, make_optimizer=lambda ps: Adam(ps, lr=0.03))
    h = sigmoid(X @ params[0].T + params[1])
    print(f"with Adam(lr=0.03) instead, the loss after 1000 epochs is {adam_losses[-1][1]:.6f}; "
          f"predictions {np.round(sigmoid(h @ params[2].T + params[3]).ravel(), 4)}")
    return {"tape": tape_losses, "source": source_losses}


if __name__ == "__main__":
    main()
