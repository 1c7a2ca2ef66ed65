"""Small models: the seed MLP, softmax cross-entropy, logistic regression, a cubic fit."""

import numpy as np

from . import case


def _mlp_args(rng):
    return (rng.normal(size=(3, 32)), rng.normal(size=(1, 32)), rng.normal(size=(32, 1)),
            rng.normal(size=(1, 1)), rng.normal(size=(20, 3)), rng.normal(size=(20, 1)))


@case(args=_mlp_args, wrt=(0, 1, 2, 3), tags=("model",))
def mlp_relu(w1, b1, w2, b2, x, y):
    h = np.maximum(x @ w1 + b1, 0.0)
    return np.sum((h @ w2 + b2 - y) ** 2)


def _ce_args(rng):
    return (rng.normal(size=(5, 4)) * 0.5, rng.normal(size=(7, 5)), rng.integers(0, 4, size=7))


@case(args=_ce_args, wrt=(0,), tags=("model", "index"))
def softmax_cross_entropy(w, x, labels):
    logits = x @ w
    m = np.max(logits, axis=1, keepdims=True)
    z = logits - m
    logsumexp = np.log(np.sum(np.exp(z), axis=1))
    picked = z[np.arange(x.shape[0]), labels]
    return np.mean(logsumexp - picked)


def _logreg_args(rng):
    return (rng.normal(size=6), rng.normal(size=(30, 6)), np.sign(rng.normal(size=30)))


@case(args=_logreg_args, wrt=(0,), tags=("model",))
def logistic_regression(w, X, y):
    z = X @ w
    return np.mean(np.log1p(np.exp(-y * z)))


def _cubic_args(rng):
    x = np.linspace(-np.pi, np.pi, 50)
    return (float(rng.normal()), float(rng.normal()), float(rng.normal()), float(rng.normal()),
            x, np.sin(x))


@case(args=_cubic_args, wrt=(0, 1, 2, 3), tags=("model", "float"))
def cubic_fit(a, b, c, d, x, y):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    return np.sum((y_pred - y) ** 2)


@case(args=lambda rng: (rng.normal(size=(4, 3)), rng.normal(size=3)), wrt=(0, 1), tags=("model",))
def tanh_layer_squared(w, b):
    return np.sum(np.tanh(w @ b + 1.0) ** 2)
