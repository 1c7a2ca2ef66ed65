"""np.vectorize of a scalar Python function, differentiated element by element through the scalar
function's generated jvp form (it was refused as having no rule)."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import NoRuleError

from .oracles import check_grads_fd


@np.vectorize
def piecewise(t):
    if t > 0:
        return t * t
    return np.sin(t)


def bump(t, width):
    return np.exp(-t * t / width) if abs(t) < 2.0 else 0.0


smooth_bump = np.vectorize(bump)


def of_one(x):
    return np.sum(piecewise(x) * np.arange(1.0, 1.0 + x.size).reshape(x.shape))


def of_two_broadcast(x, w):
    return np.sum(smooth_bump(x[:, None], w) ** 2)


def cube_or_double(t):
    return t ** 3 if t < 0.5 else 2.0 * t


def made_inside(x):
    f = np.vectorize(cube_or_double)
    return np.sum(f(x))


def truncated(t):
    return int(t * 3)


def to_integers(x):
    return np.sum(np.vectorize(truncated, otypes=[int])(x) * x)


X = np.array([[0.3, -0.4, 1.2], [-1.1, 0.7, 2.5]])
W = np.array([0.5, 1.5])


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_vectorize_of_a_scalar_function(mode):
    check_grads_fd(of_one, (X,), (0,), (sd.grad(of_one, mode=mode)(X),))
    check_grads_fd(made_inside, (X,), (0,), (sd.grad(made_inside, mode=mode)(X),))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_vectorize_of_two_arguments_that_broadcast(mode):
    x = X[0]
    g = sd.grad(of_two_broadcast, wrt=(0, 1), mode=mode)(x, W)
    check_grads_fd(of_two_broadcast, (x, W), (0, 1), g)


def test_an_integer_result_carries_no_derivative():
    x = X[0]
    check_grads_fd(to_integers, (x,), (0,), (sd.grad(to_integers)(x),))


def power(t, n):
    return t ** n


def with_excluded(x):
    f = np.vectorize(power, excluded=[1])
    return np.sum(f(x, 2))


def test_what_it_does_not_follow_is_refused():
    with pytest.raises(NoRuleError, match="np.vectorize with signature= or excluded="):
        sd.grad(with_excluded)(X[0])
    with pytest.raises(NoRuleError, match="known only at run time"):
        sd.hessian(of_one)(X)
