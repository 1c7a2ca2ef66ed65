"""Functions handled as values, as real programs pass them: a numpy function or a user's function
passed to a helper as an argument, functools.partial (differentiated directly, or called inside
the function), each checked against finite differences in reverse and forward mode."""

import functools

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.testing import check_grads

X = np.random.default_rng(3).standard_normal((4, 3))
W = np.array([0.3, -0.5, 0.8])


def loss(w, x, scale=1.0):
    return np.sum(np.tanh(x @ w) ** 2) * scale


def apply(fn, v):
    return fn(v)


def apply2(fn, a, b):
    return fn(a, b)


def cube(v):
    return v ** 3


def numpy_function_passed(w):
    return np.sum(apply(np.tanh, X @ w) * apply(np.sin, w)[0])


def binary_numpy_functions_passed(w):
    return np.sum(apply2(np.multiply, w, w * 2.0)) + np.sum(apply2(np.arctan2, w, 2.0))


def user_function_passed(w):
    return np.sum(apply(cube, X @ w))


def keyword_argument_to_a_passed_function(w):
    return np.sum(apply2(functools.partial(np.clip, a_max=0.6), w, -0.4) ** 2)


def partial_called_inside(w):
    f = functools.partial(loss, x=X)
    g = functools.partial(loss, scale=3.0)
    return f(w) + g(w * 2.0, X)


@pytest.mark.parametrize("fn", [numpy_function_passed, binary_numpy_functions_passed,
                                user_function_passed, keyword_argument_to_a_passed_function,
                                partial_called_inside], ids=lambda f: f.__name__)
def test_a_function_passed_as_a_value(fn):
    """np.tanh passed as ``fn`` was refused ("neither a derivative rule nor Python source") and
    a functools.partial called inside the function too; both run with their rule or source."""
    check_grads(fn, (W,), order=1)


@pytest.mark.parametrize("make", [
    lambda: functools.partial(loss, x=X, scale=2.0),
    lambda: functools.partial(loss, scale=2.0),
    lambda: functools.partial(functools.partial(loss, scale=2.0), x=X),
], ids=["keywords", "one_keyword", "nested"])
def test_differentiating_a_partial(make):
    """sd.grad(functools.partial(f, ...)) was a NoSourceError; wrt counts the parameters the
    partial leaves open, and the result is f's gradient with the partial's arguments bound."""
    p = make()
    args = (W,) if "x" in p.keywords else (W, X)
    g = sd.grad(p)(*args)
    eps = 1e-6
    fd = np.array([(p(W + eps * e, *args[1:]) - p(W - eps * e, *args[1:])) / (2 * eps)
                   for e in np.eye(3)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    value, g2 = sd.value_and_grad(p)(*args)
    assert value == pytest.approx(p(*args)) and np.allclose(g2, g)
    _, tangent = sd.jvp(p, args, (np.ones(3),) + (None,) * (len(args) - 1))
    assert tangent == pytest.approx(float(np.sum(fd)))
    assert "def grad_loss" in sd.source(sd.grad(p))


def test_a_partial_wrt_a_parameter_it_leaves_open_by_name():
    p = functools.partial(loss, scale=2.0)
    gw, gx = sd.grad(p, wrt=(0, "x"))(W, X)
    assert gw.shape == W.shape and gx.shape == X.shape
    np.testing.assert_allclose(gw, sd.grad(lambda w: loss(w, X, 2.0))(W))
    with pytest.raises(sd.WrtError, match="scale"):
        sd.grad(p, wrt=2)


def binds_an_active_value(w):
    f = functools.partial(loss, x=X, scale=w[0])
    return f(w)


def test_a_partial_that_binds_a_value_carrying_a_derivative_gives_it_its_derivative():
    """It was refused; the partial's cotangent is now its bound values' (w[0] through scale)."""
    check_grads(binds_an_active_value, (W,), order=1)


def test_a_second_derivative_through_a_function_passed_as_a_value_is_refused_clearly():
    """Calls resolved at run time have first derivatives only; the second is refused by name,
    at the user's line, never computed wrong."""
    with pytest.raises(sd.NoRuleError, match="known only at run time") as info:
        sd.hvp(user_function_passed, [W], [W])
    assert "test_functions_as_values.py" in str(info.value).splitlines()[0]
