"""Ordinary losses for review43's harness of input kinds (tests/test_review43.py)."""

import numpy as np

import sourcediff as sd


def mlp(W, b, x):
    return np.sum(np.tanh(x @ W + b))


def logistic(w, X, y):
    return np.mean(np.logaddexp(0.0, -y * (X @ w)))


def softmax_ce(W, X, Y):
    z = X @ W
    z = z - np.max(z, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * logp) / X.shape[0]


def rnn(W, x):
    n, T = x.shape
    h = np.zeros((n, T))
    prev = np.zeros(n)
    for t in range(T):
        h[:, t] = np.tanh(W @ prev + x[:, t])
        prev = h[:, t]
    return np.sum(h ** 2)


def centred(x):
    m = np.mean(x, axis=0, keepdims=True)
    return np.sum((x - m) ** 2)


def gram(x):
    return np.sum((x.T @ x) ** 2)


def flat(x, w):
    return np.sum(np.ravel(x) * w) + np.sum(x.reshape(-1) ** 2)


def chain(x):
    a = x * 2.0
    b = np.exp(a)
    c = b + 1.0
    d = c * c
    e = d / c
    f = np.sin(e)
    return np.sum(f * x)


def dot1(u, v):
    return np.dot(u, v) ** 2


def dot2(A, v):
    return np.sum(np.dot(A, v) ** 2)


def pair(a, b):
    return np.sum(a * b + a ** 2)


def scale_rows(x, w):
    x[0] = x[0] * w[0]
    x *= 2.0
    x[:, 1:] += w[1:]
    return np.sum(np.sin(x))


def normalize_inplace(x):
    x -= np.mean(x, axis=0)
    x /= np.sqrt(np.sum(x ** 2, axis=0, keepdims=True) + 1.0)
    return np.sum(x ** 3)


def pair_write(A, B):
    C = A * 2.0
    C[0] = B[1]
    return np.sum(C * B)


def gram_of(A, B):
    return np.sum(np.tanh(A @ B))


def scaled(w, X):
    return np.sum(np.tanh(X * w) ** 2)


def shifted(b, x):
    return np.sum(np.sin(x + b) * b)


def logistic_bias(w, X, y, b):
    return np.mean(np.logaddexp(0.0, -y * (X @ w + b)))


def grad_dot(args, v, f):
    """sum(grad f(args)[0] * v): its gradient is the hessian times v (grad of grad)."""
    g = sd.grad(f)(*args)
    return np.sum(g * v)


def sum_of_grad(x, fn):
    return np.sum(sd.grad(fn)(x) ** 2)


def centred_1d(x):
    return np.sum((x - np.mean(x)) ** 3)


def quotient_write(A, B):
    C = A / 2.0
    C[0] = B[1]
    return np.sum(C * B)


def negation_write(A, B):
    C = -A
    C[1:] = C[1:] * B[0]
    return np.sum(C ** 2 * B)
