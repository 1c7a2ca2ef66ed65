"""Decorators whose wrapper forwards ``*args, **kwargs`` to the function it wraps, where the
wrapped function is an inner function of the one differentiated.

sourcediff lifts an inner function (``def inner(v)`` inside ``outer``) to a function of its own
and keeps its syntax tree in the lifted function's ``__dict__``. ``functools.wraps`` copies that
``__dict__`` onto the decorator's wrapper, and the wrapper was then read as the inner function's
tree with the wrapper's parameters: forward mode gave a derivative of zero without an error, and
reverse mode raised a NameError of generated code."""

import functools

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import SourcediffError

from .oracles import check_grads_fd


def deco(fn):
    @functools.wraps(fn)
    def wrapper(*a, **k):
        return fn(*a, **k)
    return wrapper


def plain_deco(fn):
    def wrapper(*args, **kw):  # (no functools.wraps)
        return fn(*args, **kw)
    return wrapper


def doubled(fn):
    @functools.wraps(fn)
    def wrapper(*a, **k):
        return 2.0 * fn(*a, **k)
    return wrapper


def repeat(n):
    def deco_n(fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            out = fn(*a, **k)
            return n * out
        return wrapper
    return deco_n


def at_sign(x):
    @deco
    def inner(v):
        return np.sin(v) * v
    return np.sum(inner(x) ** 2)


def by_assignment(x):
    def inner(v):
        return np.sin(v) * v
    inner = deco(inner)
    return np.sum(inner(x) ** 2)


def without_wraps(x):
    @plain_deco
    def inner(v):
        return np.cos(v) * v
    return np.sum(inner(x) ** 2)


def transforms_the_result(x):
    @doubled
    def inner(v):
        return np.sin(v) * v
    return np.sum(inner(x) ** 2)


def with_arguments(x):
    @repeat(3)
    def inner(v):
        return np.tanh(v) * v
    return np.sum(inner(x) ** 2)


def two_decorators_and_a_closure(x, w):
    @doubled
    @deco
    def inner(v):
        return np.sin(v * w)  # (w: read from the enclosing function, carries a derivative)
    return np.sum(inner(x) ** 2)


X = np.array([0.3, 0.7, -1.1])
INNER_CASES = [at_sign, by_assignment, without_wraps, transforms_the_result, with_arguments]


@pytest.mark.parametrize("fn", INNER_CASES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_wrapper_of_an_inner_function(fn, mode):
    g = sd.grad(fn, mode=mode)(X)
    assert np.abs(g).sum() > 0  # (forward mode gave zero)
    check_grads_fd(fn, (X,), (0,), (g,))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_wrappers_of_an_inner_function_that_reads_the_enclosing_one(mode):
    w = np.array([0.5, -0.8, 1.3])
    try:
        g = sd.grad(two_decorators_and_a_closure, wrt=(0, 1), mode=mode)(X, w)
    except SourcediffError as e:  # (a wrapper of a wrapper of a closure: refused at its line)
        assert "test_review77.py:" in str(e)
        return
    check_grads_fd(two_decorators_and_a_closure, (X, w), (0, 1), g)


@pytest.mark.parametrize("fn", INNER_CASES, ids=lambda f: f.__name__)
def test_second_derivatives_through_an_inner_wrapper(fn):
    try:
        h = sd.hessian(fn)(X)
    except SourcediffError as e:  # (a refusal names the user's line)
        assert "test_review77.py:" in str(e)
        return
    for k in range(X.size):
        def row(x, k=k):
            return sd.grad(fn)(x)[k]
        check_grads_fd(row, (X,), (0,), (h[k],))
