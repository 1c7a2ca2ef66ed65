"""``np.add.at(a, i, v)`` and ``np.subtract.at`` into a local array (segment sums, message
passing in graph networks, histograms of weights): written ``a = _sd_add_at(a, i, v)`` with the
alias checks of ``a += e``; refused before as a write sourcediff does not differentiate."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import AliasError

from .oracles import check_grads_fd


def message_passing(W, H, src, dst):
    msg = H[src] @ W
    agg = np.zeros((H.shape[0], W.shape[1]))
    np.add.at(agg, dst, msg)  # (node 2 receives twice)
    return np.sum(np.tanh(agg) ** 2)


def two_dimensional(x, rows, cols):
    a = np.ones((3, 3)) * x[0]
    np.add.at(a, (rows, cols), x ** 2)
    np.subtract.at(a, rows, 0.5 * x[1])  # (a scalar, broadcast to each row taken)
    return np.sum(a ** 3)


def into_a_parameter(x, idx):
    np.add.at(x, idx, 1.5 * x[:3])
    return np.sum(x ** 2)


rng = np.random.default_rng(5)
W, H = rng.standard_normal((3, 2)), rng.standard_normal((4, 3))
SRC, DST = np.array([0, 1, 2, 3, 0]), np.array([1, 2, 2, 0, 2])
X = rng.standard_normal(4)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_message_passing(mode):
    g = sd.grad(message_passing, wrt=(0, 1), mode=mode)(W, H, SRC, DST)
    check_grads_fd(message_passing, (W, H, SRC, DST), (0, 1), g)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_tuple_indices_subtract_and_broadcast_values(mode):
    rows, cols = np.array([0, 2, 2, 1]), np.array([1, 1, 1, 0])
    g = sd.grad(two_dimensional, mode=mode)(X, rows, cols)
    check_grads_fd(two_dimensional, (X, rows, cols), (0,), (g,))


def test_second_order():
    rows, cols = np.array([0, 2, 2, 1]), np.array([1, 1, 1, 0])
    hess = sd.hessian(two_dimensional)(X, rows, cols)
    for k in range(4):
        check_grads_fd(lambda x: sd.grad(two_dimensional)(x, rows, cols)[k], (X,), (0,),
                       (hess[k],), rtol=1e-4)


def test_the_callers_array_is_not_changed():
    x = X.copy()
    idx = np.array([0, 0, 3])
    g = sd.grad(into_a_parameter)(x, idx)
    np.testing.assert_array_equal(x, X)
    check_grads_fd(into_a_parameter, (X, idx), (0,), (g,))


def through_another_name(x, idx):
    a = x * 1.0
    b = a
    np.add.at(a, idx, x[:2])
    return np.sum(a * b)


def test_a_write_another_name_would_see_is_refused():
    with pytest.raises(AliasError, match="shares memory"):
        sd.grad(through_another_name)(X, np.array([0, 0]))


def into_integers(x):
    a = np.zeros(3, dtype=int)
    np.add.at(a, [0, 1], x)
    return np.sum(a * x[0])


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_values_added_into_integers_carry_no_derivative(mode):
    # (numpy truncates them, a piecewise constant function of x: only x[0] counts)
    x = np.array([1.5, 2.5])
    g = sd.grad(into_integers, mode=mode)(x)
    check_grads_fd(into_integers, (x,), (0,), (g,))
