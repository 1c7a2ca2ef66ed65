"""Every catalogue case, checked by every oracle that applies (finite differences, modes, purity)."""

import copy

import numpy as np
import pytest

import sourcediff as sd
from tests.catalogue import load_all
from tests.oracles import check_grads_fd

CASES = load_all()


def _call_grad(c, optimize=True, args=None):
    args = c.args() if args is None else args
    df = sd.grad(c.fn, wrt=c.wrt, optimize=optimize)
    return df(*args)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_reverse_matches_finite_differences(c):
    args = c.args()
    grads = _call_grad(c, args=args)
    check_grads_fd(c.fn, args, c.wrt, grads, rtol=c.rtol)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_unoptimized_code_gives_the_same_gradients(c):
    args = c.args()
    fast = _call_grad(c, True, args)
    slow = _call_grad(c, False, args)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_arguments_are_not_modified(c):
    args = c.args()
    before = copy.deepcopy(args)
    _call_grad(c, args=args)
    for a, b in zip(args, before):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b or (a != a and b != b)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_value_and_grad_returns_the_value(c):
    args = c.args()
    value, grads = sd.value_and_grad(c.fn, wrt=c.wrt)(*args)
    np.testing.assert_allclose(value, c.fn(*args), rtol=1e-12)
