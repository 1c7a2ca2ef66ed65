"""Found by the review of the re-layout into packages: behaviour that changed when the stages began to
read facts about primitives from the registry, and gaps found while comparing the layouts.

Each test is a user program that either gets a right gradient (checked against central finite
differences) or is refused; none may give a wrong gradient without an error."""

import copy

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import SourcediffError


def fd(fn, x, eps=1e-6):
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        out[i] = (fn(x + e) - fn(x - e)) / (2 * eps)
    return out


def right_or_refused(fn, x, mode):
    """The gradient of ``fn`` at ``x`` agrees with finite differences, or sourcediff refuses."""
    want = fd(fn, x.copy())
    try:
        got = sd.grad(fn, mode=mode)(x.copy())
    except SourcediffError:
        return
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


A = np.array([[1.0, 0.3, -0.2], [0.1, 0.7, 0.4], [-0.5, 0.2, 1.3]])


# np.linalg.matrix_power(a, 1) returns a itself (numpy's shortcut), so its result is not always
# fresh: declared view=False, the alias pass took C for a new array and missed that C[0, 0] = 0.0
# changes B, which the return reads (main listed no fact for it and checked the write)


def matrix_power_one_then_write(a):
    b = a * 2.0
    c = np.linalg.matrix_power(b, 1)
    c[0, 0] = 0.0
    return np.sum(b * a)


def matrix_power_one_then_augassign(a):
    b = a * 2.0
    c = np.linalg.matrix_power(b, 1)
    c *= a
    return np.sum(b)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn", [matrix_power_one_then_write, matrix_power_one_then_augassign])
def test_matrix_power_result_may_be_its_operand(fn, mode):
    right_or_refused(fn, A, mode)


# A helper that writes into its argument through numpy's out given by position (np.multiply(v,
# 3.0, v)) or through a function that writes its argument (np.copyto(v, w)): the caller's analysis
# of what its helpers write into (alias.mutated_params) saw only out=..., so the caller kept
# reading y as it was before the call, with no error, in main as in the new layout. (The review
# fix that made positional out an in-place write covered the function's own statements only.)
X = np.array([0.3, -0.4, 1.2, 0.8])


def _scale_in_place(v):
    np.multiply(v, 3.0, v)
    return 0.0


def _copy_into(v, w):
    np.copyto(v, w)
    return 0.0


def helper_positional_out(x):
    y = x + 0.0
    _scale_in_place(y)
    return np.sum(y * x)


def helper_positional_out_on_parameter(x):
    _scale_in_place(x)
    return np.sum(x * x)


def helper_copyto(x):
    y = x + 0.0
    _copy_into(y, x * 3.0)
    return np.sum(y * x)


def helper_copyto_on_parameter(x):
    _copy_into(x, x * 3.0)
    return np.sum(x * x)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn", [helper_positional_out, helper_positional_out_on_parameter,
                                helper_copyto, helper_copyto_on_parameter])
def test_helper_writes_through_positional_out_or_a_writer(fn, mode):
    right_or_refused(fn, X, mode)


def test_mutated_params_sees_positional_out_and_writers():
    from sourcediff.compiler.alias import mutated_params

    assert set(mutated_params(_scale_in_place)) == {"v"}
    assert set(mutated_params(_copy_into)) == {"v"}


# results declared fresh that can be the argument itself (or hold its arrays): a write through
# them changes the argument, which the return reads; each was a wrong gradient without an error
# (main's name sets said fresh too). The alias pass now checks writes through each.


def array_no_copy_then_write(a):
    b = a * 2.0
    c = np.array(b, copy=None) if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else \
        np.array(b, copy=False)
    c *= a
    return np.sum(b)


def astype_no_copy_then_write(a):
    b = a * 2.0
    c = b.astype(np.float64, copy=False)
    c *= a
    return np.sum(b)


def diff_zero_then_write(a):
    b = a * 2.0
    c = np.diff(b, 0)
    c *= a
    return np.sum(b)


def sum_of_nothing_then_write(a):
    b = a * 2.0
    c = sum([], b)
    c *= a
    return np.sum(b)


def shallow_copy_then_write(a):
    b = a * 2.0
    held = [b]
    c = copy.copy(held)
    d = c[0]
    d *= a
    return np.sum(b)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn", [array_no_copy_then_write, astype_no_copy_then_write,
                                diff_zero_then_write, sum_of_nothing_then_write,
                                shallow_copy_then_write])
def test_results_that_may_be_the_argument_are_checked(fn, mode):
    right_or_refused(fn, A, mode)


def median_overwriting_its_input(a):
    b = a * 2.0
    m = np.median(b, overwrite_input=True)  # (sorts b in place, partly)
    return m + np.sum(b * np.arange(b.size).reshape(b.shape))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_overwrite_input_is_a_write_into_the_argument(mode):
    right_or_refused(median_overwriting_its_input, A, mode)
