"""Showcase functions whose generated gradient source is kept as a golden snapshot in tests/golden/.

Editing this file moves the line numbers quoted in the generated comments; regenerate the snapshots
with ``SOURCEDIFF_UPDATE_GOLDEN=1 python -m pytest tests/test_generated_source.py`` and review the diff.
"""

import numpy as np


def mlp_loss(w1, b1, w2, b2, x, y):
    h = np.maximum(x @ w1 + b1, 0.0)
    return np.sum((h @ w2 + b2 - y) ** 2)


def softmax_cross_entropy(w, x, labels):
    logits = x @ w
    logits = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(len(labels)), labels])


def sum_until_threshold(x, limit):
    total = 0.0
    for i in range(len(x)):
        total = total + x[i] * x[i]
        if total > limit:
            break
    return total


def rnn_loss(xs, U, W):
    h = np.zeros(W.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(U @ xs[t] + W @ h)
    return np.sum(h ** 2)


def piecewise(x, a):
    if np.sum(x) > 0:
        y = np.sin(x) * a
    else:
        y = np.cos(x) - a
    return np.sum(y ** 2)


# name -> (function, wrt, args maker)
SHOWCASE = {
    "mlp_loss": (mlp_loss, (0, 1, 2, 3), lambda rng: (
        rng.normal(size=(3, 8)), rng.normal(size=(1, 8)), rng.normal(size=(8, 1)),
        rng.normal(size=(1, 1)), rng.normal(size=(10, 3)), rng.normal(size=(10, 1)))),
    "softmax_cross_entropy": (softmax_cross_entropy, 0, lambda rng: (
        rng.normal(size=(4, 3)), rng.normal(size=(6, 4)), rng.integers(0, 3, size=6))),
    "sum_until_threshold": (sum_until_threshold, 0, lambda rng: (rng.normal(size=8), 2.0)),
    "rnn_loss": (rnn_loss, (0, 1, 2), lambda rng: (
        rng.normal(size=(5, 3)), rng.normal(size=(4, 3)) * 0.5, rng.normal(size=(4, 4)) * 0.3)),
    "piecewise": (piecewise, (0, 1), lambda rng: (rng.normal(size=5), float(rng.normal()))),
}
