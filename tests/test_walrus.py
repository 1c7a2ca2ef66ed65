"""Assignment expressions ``(n := e)``: written by normalize as ``n = e`` where the expression
stands (in an ``if`` or ``while`` test, an operand, the right side of ``and``), so each runs
when Python would run it. Inside a comprehension or a lambda they stay refused (tests/
test_errors.py). Checked against finite differences in reverse and forward mode."""

import numpy as np
import pytest

import sourcediff as sd

from .oracles import check_grads_fd


def in_an_if_test(x):
    if (n := np.sum(x ** 2)) > 0.1:
        return n * 2.0
    return n


def in_a_while_test(x):  # (evaluated again before each pass)
    k, s = 0, 0.0
    while (t := np.sin(s + x[k % 3])) < 0.9 and k < 6:
        s = s + t
        k += 1
    return s


def as_an_operand(x):
    y = (a := x * 2.0) + a ** 2
    return np.sum(y) + np.sum(a)


def after_and(x):  # (bound only when the left side holds, as in Python)
    big = np.sum(x) > -10 and (m := np.max(x * x)) > 0
    return np.sum(x ** 3) + (m if big else 0.0)


def popped_in_a_while_test(x):  # (the adjoint replayed "items and ..." on the list itself,
    # which the pops had emptied: 0.62 against finite differences 0.87)
    items = [x[0], x[1], x[2]]
    s = 0.0
    while items and (v := items.pop()) is not None:
        s = s * 2.0 + v * v
    return s


def popped_in_an_if_test(x):
    items = [x[0], x[1] * 2.0]
    if items and (v := items.pop()) > 0:
        return v * items[0] + np.sum(x)
    return np.sum(x ** 2)


X = np.array([0.3, -0.2, 0.5])
CASES = [in_an_if_test, in_a_while_test, as_an_operand, after_and, popped_in_a_while_test,
         popped_in_an_if_test]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn", CASES, ids=[f.__name__ for f in CASES])
def test_gradient_matches_finite_differences(fn, mode):
    check_grads_fd(fn, (X,), (0,), (sd.grad(fn, mode=mode)(X),))


@pytest.mark.parametrize("fn", [in_an_if_test, as_an_operand])
def test_hessian_matches_finite_differences_of_the_gradient(fn):
    h, g, eps = sd.hessian(fn)(X), sd.grad(fn), 1e-6
    fd = np.array([(g(X + eps * e) - g(X - eps * e)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-8)
