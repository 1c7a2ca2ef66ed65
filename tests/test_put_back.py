"""What a store into a parameter overwrote, put back in the adjoint sweep (``d[k] = old``, or the
key a dict store added removed): differentiated again, forward over reverse (the hessian) and
reverse over reverse, the entry's tangent and gradient go back with its value. With the put-back
a call of ``restore_item`` only, the hessian of ``x[0] = y[1] * y[2]`` lost row 0."""

import numpy as np
import pytest

import sourcediff as sd

from .oracles import check_grads_fd


def write_at_zero(x):
    y = x ** 2.0
    x[0] = y[1] * y[2]
    return np.sum(x * y)


def write_in_a_loop(x):
    for i in range(1, x.shape[0]):
        x[i] = np.sin(x[i - 1]) * x[i]
    return np.sum(x ** 2)


def grad_dot_v(x, v):
    return np.sum(sd.grad(write_at_zero)(x) * v)


def grad_dot_v_loop(x, v):
    return np.sum(sd.grad(write_in_a_loop)(x) * v)


X = np.array([0.3, -0.5, 0.7, 1.1])


@pytest.mark.filterwarnings("ignore::sourcediff.SourcediffWarning")
@pytest.mark.parametrize("fn", [write_at_zero, write_in_a_loop])
def test_hessian_against_finite_differences_of_the_gradient(fn):
    g = sd.grad(fn)
    h = sd.hessian(fn)(X.copy())
    eps = 1e-6
    for j in range(X.size):
        e = np.zeros_like(X)
        e[j] = eps
        column = (g(X + e) - g(X - e)) / (2 * eps)
        np.testing.assert_allclose(h[:, j], column, rtol=1e-6, atol=1e-8)


@pytest.mark.filterwarnings("ignore::sourcediff.SourcediffWarning")
@pytest.mark.parametrize("fn", [grad_dot_v, grad_dot_v_loop])
def test_reverse_over_reverse_against_finite_differences(fn):
    v = np.array([1.0, -2.0, 0.5, 0.3])
    args = [X.copy(), v]
    check_grads_fd(fn, args, (0,), [sd.grad(fn, wrt=0)(X.copy(), v)])
