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


def plain_over_a_closure(x, w):
    @plain_deco
    def inner(v):
        return np.sin(v * w)
    return np.sum(inner(x) ** 2)


@pytest.mark.parametrize("fn", [two_decorators_and_a_closure, plain_over_a_closure],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("wrt", [0, 1, (0, 1)], ids=str)
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_wrappers_of_an_inner_function_that_reads_the_enclosing_one(fn, wrt, mode):
    """Right, or refused at a line of the user's saying what to write (not a rule to register
    for the wrapper's ``fn``, which the message advised)."""
    w = np.array([0.5, -0.8, 1.3])
    try:
        g = sd.grad(fn, wrt=wrt, mode=mode)(X, w)
    except SourcediffError as e:
        assert "test_review77.py:" in str(e) and "defvjp" not in str(e), str(e)
        return
    index = wrt if isinstance(wrt, tuple) else (wrt,)
    check_grads_fd(fn, (X, w), index, g if isinstance(wrt, tuple) else (g,))


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


# ---------------------------------------------------------------- wrappers without functools.wraps
# A module-level function decorated with a wrapper ``def wrapper(*args, **kw): return
# fn(*args, **kw)`` made without functools.wraps was differentiated with respect to the
# wrapper's ``*args``: sd.grad(loss)(x) gave the tuple (gradient,), shape (1, n) for x of shape
# (n,); forward mode and hessians refused wrt=0. wrt now counts the arguments of the call, the
# parameters of the function the wrapper passes them to, as it does through functools.wraps.


def plain_scaled(k):
    def deco_k(fn):
        def wrapper(*args, **kwargs):
            out = fn(*args, **kwargs)
            return k * out
        return wrapper
    return deco_k


@plain_deco
def plain_loss(x):
    return np.sum(np.sin(x) ** 2)


@plain_deco
def plain_two(w, x):
    return np.sum(np.tanh(x @ w)) * w[0]


@plain_scaled(3.0)
def plain_with_arguments(w, x):
    return np.sum(np.sin(x @ w) ** 2)


def plain_by_assignment_inner(w, x, scale=2.0):
    return scale * np.sum(np.cos(x @ w) * w[1])


plain_by_assignment = plain_deco(plain_by_assignment_inner)


@plain_deco
@plain_scaled(2.0)
def plain_stacked(w, x):
    return np.sum(np.sin(x @ w) ** 2)


@doubled
@plain_deco
def wraps_over_plain(w, x):  # (functools.wraps over a wrapper without it: was refused)
    return np.sum(np.sin(x @ w) ** 2) * w[2]


@plain_deco
@doubled
def plain_over_wraps(w, x):
    return np.sum(np.cos(x @ w) ** 2)

W = np.array([0.3, -0.2, 0.5])
XM = np.array([[1.0, 2.0, 0.1], [0.5, -1.0, 0.7]])
PLAIN_CASES = [plain_two, plain_with_arguments, plain_by_assignment, plain_stacked,
               wraps_over_plain, plain_over_wraps]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_wrapper_without_wraps_one_argument(mode):
    g = sd.grad(plain_loss, mode=mode)(X)
    assert np.shape(g) == X.shape  # (it was a tuple of one gradient)
    check_grads_fd(plain_loss, (X,), (0,), (g,))
    if mode == "reverse":  # (named for the decorated function, not its wrapper)
        assert "def grad_decorated_plain_loss(x)" in sd.source(sd.grad(plain_loss))


@pytest.mark.parametrize("fn", PLAIN_CASES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_wrapper_without_wraps_several_arguments(fn, mode):
    g = sd.grad(fn, mode=mode)(W, XM)
    check_grads_fd(fn, (W, XM), (0,), (g,))
    both = sd.grad(fn, wrt=(0, 1), mode=mode)(W, XM)
    check_grads_fd(fn, (W, XM), (0, 1), both)
    by_name = sd.grad(fn, wrt="x", mode=mode)(W, XM)
    np.testing.assert_allclose(by_name, both[1])
    if mode == "reverse":  # (the wrapper's own parameter named: its *args tuple's gradient)
        tup = sd.grad(fn, wrt=fn.__code__.co_varnames[0])(W, XM)
        assert isinstance(tup, tuple) and len(tup) == 2
        check_grads_fd(fn, (W, XM), (0, 1), tup)


@pytest.mark.parametrize("fn", [plain_loss] + PLAIN_CASES, ids=lambda f: f.__name__)
def test_a_wrapper_without_wraps_in_the_other_transforms(fn):
    args = (X,) if fn is plain_loss else (W, XM)
    value, g = sd.value_and_grad(fn)(*args)
    assert value == fn(*args)
    check_grads_fd(fn, args, (0,), (g,))
    np.testing.assert_allclose(sd.jacobian(fn)(*args), g)
    try:
        h = sd.hessian(fn)(*args)
    except SourcediffError as e:  # (a refusal names the user's line)
        assert "test_review77.py:" in str(e)
        return
    for k in range(args[0].size):
        def row(v, k=k):
            return sd.grad(fn)(v, *args[1:])[k]
        check_grads_fd(row, (args[0],), (0,), (h[k],))
