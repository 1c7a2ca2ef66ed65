"""The seed MLP's loss, its gradient by sourcediff, and the generated source, checked numerically."""

import numpy as np

import sourcediff as sd


def loss(w1, b1, w2, b2, x, y):
    h = np.maximum(x @ w1 + b1, 0.0)
    return np.sum((h @ w2 + b2 - y) ** 2)


def main():
    rng = np.random.default_rng(0)
    w1, b1 = rng.normal(size=(3, 32)), np.zeros((1, 32))
    w2, b2 = rng.normal(size=(32, 1)), np.zeros((1, 1))
    x, y = rng.normal(size=(100, 3)), rng.normal(size=(100, 1))

    dloss = sd.grad(loss, wrt=(0, 1, 2, 3))
    print(sd.source(dloss))
    gw1, gb1, gw2, gb2 = dloss(w1, b1, w2, b2, x, y)

    # a finite-difference check of one entry
    eps = 1e-6
    w1p, w1m = w1.copy(), w1.copy()
    w1p[0, 0] += eps
    w1m[0, 0] -= eps
    fd = (loss(w1p, b1, w2, b2, x, y) - loss(w1m, b1, w2, b2, x, y)) / (2 * eps)
    print(f"loss = {loss(w1, b1, w2, b2, x, y):.6f}")
    print(f"d loss / d w1[0, 0]: sourcediff {gw1[0, 0]:.6f}, finite differences {fd:.6f}")

    for step in range(5):
        value, grads = sd.value_and_grad(loss, wrt=(0, 1, 2, 3))(w1, b1, w2, b2, x, y)
        w1, b1, w2, b2 = (p - 1e-5 * g for p, g in zip((w1, b1, w2, b2), grads))
        print(f"step {step}: loss {value:.4f}")


if __name__ == "__main__":
    main()
