"""Second derivatives of loops whose carried gradient starts as the symbolic zero 0.0 and meets a
product (``@``, np.dot, np.tensordot, np.einsum) on the loop's first reverse pass: the product
helpers gave 0.0 back, the cotangent of that 0.0 was summed to a scalar, and reverse over
reverse (np.einsum also forward over reverse, sd.hessian) raised inside np.matmul / np.einsum.
Oracle: central finite differences of the first derivative, itself checked against finite
differences of the function."""

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd


def kalman_like(q):
    P = np.diag(np.exp(q)) + 0.1
    s = 0.0
    for _ in range(2):
        s = s + np.sum(P * P)
        K = P * 0.5
        P = (np.eye(2) - K) @ P
    return s


def squared(q):
    P = np.diag(np.exp(q)) + 0.1
    s = 0.0
    for _ in range(2):
        s = s + np.sum(P * P)
        P = P @ P
    return s


def with_dot(q):
    P = np.diag(np.exp(q)) + 0.1
    s = 0.0
    for _ in range(2):
        s = s + np.sum(P * P)
        P = np.dot(np.eye(2) - P * 0.5, P)
    return s


def with_tensordot(q):
    P = np.diag(np.exp(q)) + 0.1
    s = 0.0
    for _ in range(2):
        s = s + np.sum(P * P)
        P = np.tensordot(np.eye(2) - P * 0.5, P, axes=1)
    return s


def with_einsum(q):
    P = np.diag(np.exp(q)) + 0.1
    s = 0.0
    for _ in range(2):
        s = s + np.sum(P * P)
        P = np.einsum("ij,jk->ik", np.eye(2) - P * 0.5, P)
    return s


def rnn_like(q):
    h = np.exp(q)
    W = np.outer(q, q) + np.eye(2)
    s = 0.0
    for _ in range(3):
        s = s + np.sum(h)
        h = np.tanh(W @ h)
    return s


ROWS = np.array([[0.5, -1.2], [-0.3, 0.8], [1.1, 0.4], [-0.7, -0.2]])


def with_continue(q):
    # (a 1-D @ 1-D product whose gradient is the symbolic zero on the skipped rows: review27)
    s = 0.0
    for i in range(ROWS.shape[0]):
        r = ROWS[i] @ np.exp(q)
        if r < 0:
            continue
        s = s + r ** 2
    return s


PROGRAMS = [kalman_like, squared, with_dot, with_tensordot, with_einsum, rnn_like, with_continue]
Q = np.array([0.3, -0.2])


def _fd_row(f, k, h=1e-6):
    """Row k of the Hessian by central differences of sd.grad(f) (checked against f first)."""
    g = sd.grad(f)
    check_grads_fd(f, (Q,), (0,), (g(Q),))
    return np.array([(g(Q + h * e)[k] - g(Q - h * e)[k]) / (2 * h) for e in np.eye(len(Q))])


SECOND_ORDER = {
    "reverse over reverse": lambda f: sd.grad(lambda z: sd.grad(f)(z)[0])(Q),
    "reverse over generic reverse": lambda f: sd.grad(
        lambda z: sd.grad(f, optimize=False)(z)[0], optimize=False)(Q),
    "forward over reverse": lambda f: sd.grad(lambda z: sd.grad(f)(z)[0], mode="forward")(Q),
    "hessian": lambda f: sd.hessian(f)(Q)[0],
}


@pytest.mark.parametrize("how", SECOND_ORDER)
@pytest.mark.parametrize("f", PROGRAMS, ids=lambda f: f.__name__)
def test_second_derivative_through_a_product_in_a_loop(f, how):
    np.testing.assert_allclose(SECOND_ORDER[how](f), _fd_row(f, 0), rtol=1e-5, atol=1e-7)
