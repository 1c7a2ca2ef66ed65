"""Recurrent losses shared by the tests of the specializer's loop passes (the hoisted rows of a
loop product, the view of the rows the forward loop read): one cell ``h = tanh(x_t Wx + h Wh +
b)`` over the steps, run to the end, broken off on the data, or for a step count given."""

import numpy as np


def rnn(xs, Wx, Wh, b):
    h = np.zeros((xs.shape[1], Wh.shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum(h ** 2) + np.sum(h)


def rnn_break(xs, Wx, Wh, b):
    h = np.zeros((xs.shape[1], Wh.shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        if np.sum(h) > 0.5:
            break
    return np.sum(h ** 2) + np.sum(h)


def rnn_steps(xs, Wx, Wh, b, n):
    h = np.zeros((xs.shape[1], Wh.shape[0]))
    for t in range(n):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum(h ** 2) + np.sum(h)
