"""Calls that pass ``*seq`` with values that carry derivatives, and functions decorated with a
``functools.wraps`` wrapper ``def wrapper(*args, **kwargs): return fn(*args, **kwargs)``.

A decorated helper called from a loss gave a gradient of zero without an error in every mode
(the call was bound through the wrapped function's signature, ``inspect.signature`` following
``__wrapped__``, while the wrapper's own code, whose parameter is ``*args``, was compiled).
A starred call with such values was refused, and with it every decorated loss."""

import functools

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import NoRuleError, SourcediffError

from .oracles import check_grads_fd


def logged(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def scaled(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        return 3.0 * out
    return wrapper


@logged
def helper(w, x):
    return np.sin(x @ w)


def calls_a_decorated_helper(w, x):
    return np.sum(helper(w, x) ** 2)


@logged
def loss(w, x):
    return np.sum(np.sin(x @ w) ** 2) + np.sum(w ** 3)


@scaled
@logged
def loss_twice_decorated(w, x):
    return np.sum(np.tanh(x @ w)) * w[0]


def inner(a, w, x):
    return a * np.sum(np.sin(x @ w))


def starred_tuple(w, x):
    t = (w, x)
    return inner(w[1], *t)


def starred_display(w, x):
    return inner(*(2.0, w), x)


def starred_params(*args):
    return inner(*args) + np.sum(args[1] ** 2)


def starred_mixed(w, x, k):
    t = (k, w, x)
    return inner(*t)  # (an int among the items: passed as it is)


def starred_dynamic(w, x, fns):
    return fns[0](w[0], *(w, x)) + fns[1](*[w])


def norm2(v):
    return np.sum(v ** 2)


W = np.array([0.3, -0.2, 0.5])
X = np.array([[1.0, 2.0, 0.1], [0.5, -1.0, 0.7]])


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_decorated_helper_passes_its_derivative(mode):
    w, x = W.copy(), X.copy()
    g = sd.grad(calls_a_decorated_helper, wrt=(0, 1), mode=mode)(w, x)
    assert np.abs(g[0]).sum() > 0  # (it was zero)
    check_grads_fd(calls_a_decorated_helper, (w, x), (0, 1), g)
    np.testing.assert_array_equal(w, W)
    np.testing.assert_array_equal(x, X)


@pytest.mark.parametrize("fn", [loss, loss_twice_decorated])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_decorated_loss_is_differentiated_by_its_parameters(fn, mode):
    g = sd.grad(fn, mode=mode)(W, X)  # (wrt=0 is w, as inspect.signature(fn) reports it)
    check_grads_fd(fn, (W, X), (0,), (g,))
    both = sd.grad(fn, wrt=("w", "x"), mode=mode)(W, X)
    check_grads_fd(fn, (W, X), (0, 1), both)


@pytest.mark.parametrize("fn", [loss, loss_twice_decorated])
def test_a_decorated_loss_in_the_other_transforms(fn):
    value, g = sd.value_and_grad(fn)(W, X)
    assert value == fn(W, X)
    check_grads_fd(fn, (W, X), (0,), (g,))
    np.testing.assert_allclose(sd.jacobian(fn)(W, X), g)
    out, f_vjp = sd.vjp(fn, W, X)
    np.testing.assert_allclose(f_vjp(1.0)[0], g)


def test_second_derivatives_through_a_wrapper_are_refused_clearly():
    with pytest.raises(NoRuleError, match=r"passes \*args that carry derivatives"):
        sd.hessian(loss)(W, X)


@pytest.mark.parametrize("fn, args, wrt", [
    (starred_tuple, (W, X), (0, 1)),
    (starred_display, (W, X), (0, 1)),
    (starred_params, (1.5, W, X), (0,)),  # (wrt=0: the *args tuple's gradient)
    (starred_mixed, (W, X, 2), (0, 1)),
    (starred_dynamic, (W, X, [inner, norm2]), (0, 1)),
], ids=["tuple", "display", "params", "mixed", "dynamic"])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_starred_calls(fn, args, wrt, mode):
    if fn is starred_params:
        if mode == "forward":
            pytest.skip("forward mode differentiates one argument at a time, not a *args tuple")
        g = sd.grad(fn)(*args)
        for k in range(3):
            def part(v, k=k):
                return fn(*(args[:k] + (v,) + args[k + 1:]))
            check_grads_fd(part, (args[k],), (0,), (g[k],))
        return
    g = sd.grad(fn, wrt=wrt, mode=mode)(*args)
    check_grads_fd(fn, args, wrt, g)


@logged
def bump(a, v):
    a[0] = a[0] + v
    return a


def writes_through_a_wrapper(w, x):
    y = x @ w
    z = bump(y, w[0])
    return np.sum(y * z)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_helper_that_writes_into_what_it_gets_through_star_is_refused(mode):
    # (forward mode gave [0.35, -0.5, ...] where finite differences give [1.15, 0.1, ...])
    with pytest.raises(SourcediffError, match="bump writes into its parameter"):
        sd.grad(writes_through_a_wrapper, mode=mode)(W, X)


def passes_a_dict_of_active_values(w, x):
    d = {"w": w, "x": x}
    return inner(1.0, **d)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_starred_dict_that_carries_derivatives(mode):
    # (refused before: "this call passes **d, which holds values that carry derivatives";
    # tests/test_kwargs_active.py has the rest)
    grads = sd.grad(passes_a_dict_of_active_values, wrt=(0, 1), mode=mode)(W, X)
    check_grads_fd(passes_a_dict_of_active_values, (W, X), (0, 1), grads)


def with_options(w, x, scale=1.0, power=2):
    return scale * np.sum(np.sin(x @ w) ** power)


def passes_options_on(w, x):
    opts = {"scale": 2.0, "power": 3}
    return with_options(w, x, **opts)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_keyword_options_passed_on_with_double_star(mode):
    # (refused before: "the call to with_options does not fit its signature: keywords must be
    # strings")
    g = sd.grad(passes_options_on, wrt=(0, 1), mode=mode)(W, X)
    check_grads_fd(passes_options_on, (W, X), (0, 1), g)


class Model:
    def __init__(self):
        self.s = 2.0

    @logged
    def act(self, z):
        return self.s * np.tanh(z)

    def loss(self, w, x):
        return np.sum(self.act(x @ w) ** 2)


MODEL = Model()


def through_a_decorated_method(w, x):
    return MODEL.loss(w, x)


def through_a_function_value(w, x, h):
    return np.sum(h(w, x) ** 2)


def through_a_partial(w, x):
    h = functools.partial(helper, x=x)
    return np.sum(h(w) ** 2)


def reads_its_star_args(*args):
    return np.sum(np.sin(args[1] @ args[0]))


@pytest.mark.parametrize("fn, extra", [
    (through_a_decorated_method, ()),  # (old: NameError in reverse, a wrong number in forward)
    (MODEL.loss, ()),
    (through_a_function_value, (helper,)),  # (old: wrong in both modes)
    (through_a_partial, ()),  # (old: wrong in both modes)
    (through_a_function_value, (reads_its_star_args,)),
], ids=["method", "bound-method", "value", "partial", "star-args-value"])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_decorated_functions_reached_in_other_ways(fn, extra, mode):
    g = sd.grad(fn, mode=mode)(W, X, *extra)
    check_grads_fd(lambda w: fn(w, X, *extra), (W,), (0,), (g,))


def weighted(*xs):
    out = 0.0
    for k, v in enumerate(xs):
        out = out + (k + 1) * np.sum(v ** 2)
    return out


def rows_starred(x):
    s = 0.0
    for row in x:  # (a row's items are numpy scalars; the gradient of a starred array is an
        s = s + weighted(*row)  # array: it was a list of scalars, which numpy misread)
    return s + weighted(*x)


def appended_then_starred(x, n):
    parts = []
    for i in range(n):
        parts.append(x[i] * x[i + 1])
    return weighted(*parts) + weighted(*parts[:1])


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_starred_arrays_and_lists_built_in_loops(mode):
    check_grads_fd(rows_starred, (X,), (0,), (sd.grad(rows_starred, mode=mode)(X),))
    w = np.array([0.3, -0.4, 1.2, 0.8])
    g = sd.grad(appended_then_starred, mode=mode)(w, 3)
    check_grads_fd(appended_then_starred, (w, 3), (0,), (g,))
