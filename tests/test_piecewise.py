"""np.piecewise: written out by the compiler where both lists are written in the call (each
lambda's body inline, so it may read the function's values that carry derivatives, in every
mode and order), and run as runtime.written's loop (rules.registry.defwritten) in the other
forms and on tape Tensors. Checked against finite differences and numpy's own values."""

import ast
import copy

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import tape as T

from .oracles import check_grads_fd

X = np.array([1.2, -2.0, 3.0, 0.5, -0.25, 1.5, -0.75])  # (no point at a boundary)


def soft(v, a):
    return np.tanh(v) * a


FUNCS = [lambda v: v ** 2, np.sin]


def two_lambdas(x):
    return np.sum(np.piecewise(x, [x < 0, x >= 0], [lambda v: v ** 2, lambda v: np.sin(v)]))


def huber(x, d):  # (the second lambda reads d, which carries a derivative)
    y = np.piecewise(x, [np.abs(x) <= d],
                     [lambda v: 0.5 * v ** 2, lambda v: d * (np.abs(v) - 0.5 * d)])
    return np.sum(y * x)


def numbers_and_extra_args(x):
    return np.sum(np.piecewise(x, [x < -1, x > 1], [0.5, lambda v, a: a * v, soft], 3.0) * x)


def named_functions(x, w):
    return np.sum(np.piecewise(x * w, (x < 0,), (np.exp, np.cos)) ** 2)


def keywords(x):
    return np.sum(np.piecewise(x, [x > 0], [lambda v, a=1.0: a * v ** 3, soft], a=2.0))


def later_wins(x):  # (overlapping conditions: numpy writes them in order, the last one stays)
    return np.sum(np.piecewise(x, [x > -1, x > 1], [lambda v: v ** 3, lambda v: 2.0 * v]))


def funcs_from_a_global(x):  # (not written out: the runtime's loop)
    return np.sum(np.piecewise(x, [x < 0, x >= 0], FUNCS) * x)


def conditions_in_a_variable(x):
    conds = x < 0.7
    return np.sum(np.piecewise(x, conds, [lambda v: v ** 2, np.sin]))


def a_closure_and_a_plain_lambda(x, a):  # (the conditions in a variable: the runtime's loop,
    # with a closure over a and a lambda that reads nothing; forward mode refused the lambda)
    conds = (x < 0, x > 1)
    return np.sum(np.piecewise(x, conds, [lambda v: v * a, lambda v: np.exp(v), 1.5]))


def a_lambda_inside_a_lambda(x, a):  # (not written out: the inner lambda reads v, whose
    # renamed copy was refused as "_v1, which the function binds more than once")
    return np.sum(np.piecewise(x, [x < 0], [lambda v: (lambda u: u * v)(a), lambda v: v ** 2]))


def empty_selection(x):  # (x < -10 selects nothing: the function is not called, as in numpy)
    return np.sum(np.piecewise(x, [x < -10], [lambda v: v.max() * v, lambda v: v ** 3]))


CASES = [
    (two_lambdas, (X,), (0,)),
    (huber, (X, 1.0), (0, 1)),
    (numbers_and_extra_args, (X,), (0,)),
    (named_functions, (X, np.full(7, 0.6)), (0, 1)),
    (keywords, (X,), (0,)),
    (later_wins, (X,), (0,)),
    (funcs_from_a_global, (X,), (0,)),
    (conditions_in_a_variable, (X,), (0,)),
    (empty_selection, (X,), (0,)),
    (a_closure_and_a_plain_lambda, (X, 0.7), (0, 1)),
    (a_lambda_inside_a_lambda, (X, 0.7), (0, 1)),
]


@pytest.mark.parametrize("fn, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_gradient_matches_finite_differences(fn, args, wrt, mode):
    before = copy.deepcopy(args)
    grads = sd.grad(fn, wrt=wrt, mode=mode)(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    if mode == "reverse":
        value, _ = sd.value_and_grad(fn, wrt=wrt)(*args)
        assert value == pytest.approx(fn(*args), rel=1e-15)
    check_grads_fd(fn, args, wrt, grads)
    for a, b in zip(args, before):
        assert np.array_equal(a, b)


WRITTEN_OUT = [two_lambdas, huber, numbers_and_extra_args, named_functions, later_wins]


@pytest.mark.parametrize("fn", WRITTEN_OUT, ids=[f.__name__ for f in WRITTEN_OUT])
def test_the_compiler_writes_it_out_without_calling_numpy(fn):
    args = (X, 1.0) if fn is huber else (X, np.full(7, 0.6)) if fn is named_functions else (X,)
    df = sd.grad(fn)
    df(*args)
    text = sd.source(df, *args)
    called = {ast.unparse(n.func) for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Call)}
    assert "_sd_piecewise_conditions" in called
    assert not {"np.piecewise", "_sd.piecewise"} & called, called


def test_second_derivative_through_the_written_out_form():
    h = sd.hessian(huber, wrt=0)(X, 1.0)
    g = sd.grad(huber, wrt=0)
    eps = 1e-6
    for i in range(len(X)):
        e = np.zeros_like(X)
        e[i] = eps
        fd = (g(X + e, 1.0) - g(X - e, 1.0)) / (2 * eps)
        np.testing.assert_allclose(h[i], fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("fn", [two_lambdas, numbers_and_extra_args, later_wins,
                                funcs_from_a_global, conditions_in_a_variable])
def test_tape_matches_the_compiled_gradient(fn):
    t = T.tensor(X.copy(), requires_grad=True)
    out = fn(t)
    out.backward()
    np.testing.assert_allclose(float(out.detach().numpy()), fn(X), rtol=1e-15)
    np.testing.assert_allclose(t.grad.detach().numpy(), sd.grad(fn)(X), rtol=1e-13)


def zero_d(x):
    return np.piecewise(x, [x < 0, x >= 0], [lambda v: v ** 2, lambda v: np.sin(v)]) * 1.0


@pytest.mark.parametrize("x", [np.float64(0.7), np.float64(-0.4)])
def test_a_zero_dimensional_argument(x):
    got = sd.grad(lambda v: np.sum(zero_d(v)))(x)
    check_grads_fd(lambda v: np.sum(zero_d(v)), (x,), (0,), (np.float64(got),))


def wrong_count(x):
    return np.sum(np.piecewise(x, [x < 0, x > 1, x > 2], [np.sin]))


def test_numpy_s_error_for_counts_that_do_not_fit():
    with pytest.raises(ValueError):
        np.piecewise(X, [X < 0, X > 1, X > 2], [np.sin])
    with pytest.raises(ValueError, match="3 condition"):
        sd.grad(wrong_count)(X)
