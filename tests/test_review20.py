"""Python semantics in the source transformation (review 20): ``and``/``or`` that return one of
their operands, ... checked in every mode against finite differences."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.tape import grad_of
from tests.oracles import check_grads_fd

X4 = np.array([0.31, -1.23, 2.13, 0.65])


def _all_modes(f, args, wrt=0, tape=True):
    """The gradient of every mode (specialized and generic reverse, unoptimized, forward, the
    tape) against finite differences."""
    df = sd.grad(f, wrt=wrt)
    grads = {"specialized": df(*args), "generic": df.__wrapped__(*args),
             "unoptimized": sd.grad(f, wrt=wrt, optimize=False)(*args),
             "forward": sd.grad(f, wrt=wrt, mode="forward")(*args)}
    if tape:
        grads["tape"] = grad_of(f, args, wrt=wrt)
    for mode, g in grads.items():
        try:
            check_grads_fd(f, args, (wrt,), (g,))
        except AssertionError as e:
            raise AssertionError(f"{mode}: {e}") from None


# ---------------------------------------------------------------- and / or return an operand
def and_of_names(x, y):
    a = y and x
    return np.sum(a * x)


def or_of_names(x, y):
    a = y or x
    b = x[1] or y
    return np.sum(a * x) + b * b


def and_or_mixed(x, y):
    a = y and x
    b = (y > 5) or x * 2
    return np.sum(a * b)


def and_of_float_items(x, y):
    a = x[0]
    c = a and x[3]
    d = 0.0 or x[2]
    return c * d + (y and a)


@pytest.mark.parametrize("fn", [and_of_names, or_of_names, and_or_mixed, and_of_float_items])
@pytest.mark.parametrize("y", [0.0, 2.0])
def test_and_or_of_names_carry_the_derivative_of_the_operand_they_return(fn, y):
    # was: `a = y and x` (operands that are plain names) was kept as one BoolOp and taken for a
    # truth value: its derivative was dropped in every mode (and_or_mixed with y=2 gave 2x for 4x)
    _all_modes(fn, (X4.copy(), y))
    if y != 0.0:  # (y = 0 is where the function jumps in y)
        _all_modes(fn, (X4.copy(), y), wrt=1, tape=False)


# ---------------------------------------------------------------- the tape: in-place ndarray methods
def sorts_in_place(x):
    y = x * np.arange(1.0, 5.0)
    y.sort()
    return np.sum(y * np.arange(4.0))


def partitions_in_place(x):
    y = x * np.arange(1.0, 5.0)
    y.partition(2)
    return np.sum(y * np.arange(4.0))


@pytest.mark.parametrize("fn", [sorts_in_place, partitions_in_place])
def test_the_tape_refuses_an_ndarray_method_that_changes_the_array_in_place(fn):
    # was: y.sort() on a tape Tensor ran np.sort(y), whose sorted copy was dropped: y stayed
    # unsorted and grad_of gave [0, 2, 6, 12] where finite differences give [1, 0, 9, 8]
    with pytest.raises(sd.SourcediffError, match="in place"):
        grad_of(fn, (X4.copy(),))
    with pytest.raises(sd.SourcediffError, match="in place"):
        sd.grad(fn)(X4.copy())
