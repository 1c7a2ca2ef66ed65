"""The numba backend and the tape against their oracles (the numpy backend, finite differences,
torch), for programs where compiled code or the tape gave another number than the oracle, or an
error the oracle does not raise. Tests that need numba or torch skip cleanly without them."""

import math
import warnings

import numpy as np
import pytest

import sourcediff as sd


@pytest.fixture
def numba():
    return pytest.importorskip("numba")


def _both(f, args, wrt=0):
    """(numpy backend's outcome, numba backend's outcome): a result, or the exception raised."""
    out = []
    for backend in ("numpy", "numba"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sd.JitFallbackWarning)
            try:
                out.append(sd.grad(f, wrt=wrt, backend=backend)(*args))
            except Exception as exc:  # noqa: BLE001
                out.append(exc)
    return out


def _same_outcome(f, args, wrt=0):
    ref, got = _both(f, args, wrt)
    if isinstance(ref, Exception):
        assert isinstance(got, type(ref)), (ref, got)
        assert str(got).splitlines()[:2] == str(ref).splitlines()[:2]  # (the user's line)
        return
    assert not isinstance(got, Exception), (ref, got)
    for a, b in zip(got if isinstance(got, tuple) else (got,),
                    ref if isinstance(ref, tuple) else (ref,)):
        assert np.shape(a) == np.shape(b)
        np.testing.assert_allclose(a, b, rtol=1e-12)


# ---------------------------------------------------------------- numba: indexing out of bounds


def _index_from_data(x, y):
    return x[int(y[0])] * 2.0 + np.sum(x)


def _read_index_from_data(x, y):
    return x[int(y[0])] * x[1]


def test_numba_index_out_of_bounds_raises_as_numpy_does(numba):
    """Compiled code did not check bounds: x[10] of 4 items gave the gradient [1, 1, 1, 1] (the
    scatter of x[10]'s gradient wrote past the array) and x[-5] gave zeros, where numpy raises
    IndexError at the user's line."""
    x = np.arange(4.0)
    for f in (_index_from_data, _read_index_from_data):
        for i in (10.0, 4.0, -5.0, -1.0, 2.0):
            _same_outcome(f, (x, np.array([i])))
        df = sd.grad(f, backend="numba")
        df(x, np.array([1.0]))
        assert df.jit_log[-1]["backend"] == "numba"
        with pytest.raises(IndexError, match=r"test_review16.py:\d+: index 10 is out of bounds"):
            df(x, np.array([10.0]))


# ---------------------------------------------------------------- numba: numpy's float64 errors


def _ratio(x, y):
    return x / y


def _sqrt_plus(x):
    return np.sum(np.sqrt(x) + x)


def test_numba_float64_division_by_zero_is_numpys_inf(numba):
    """numba divides float64 numbers as Python does (ZeroDivisionError), where the numpy code's
    np.float64 / 0.0 is inf, and np.sqrt(0.0)'s derivative 0.5 / sqrt(0.0) is inf."""
    _same_outcome(_ratio, (np.float64(1.0), np.float64(0.0)), wrt=(0, 1))
    _same_outcome(_sqrt_plus, (np.zeros(3),))
    _same_outcome(_sqrt_plus, (0.0,))
    with pytest.raises(ZeroDivisionError):  # (Python floats: an error in both)
        sd.grad(_ratio, backend="numba")(1.0, 0.0)


# ---------------------------------------------------------------- numba: closures


def _closure_over_an_array():
    w = np.array([2.0])

    def f(x):
        return np.sum(np.sin(x)) * w[0]
    return f, w


def test_numba_sees_an_in_place_update_of_a_closure_array(numba):
    """numba copied an array the function reads from its closure into the compiled code: after
    w[0] = 5.0 the compiled gradient still used 2.0 (the numpy code reads the array itself)."""
    f, w = _closure_over_an_array()
    x = np.linspace(0.0, 1.0, 3)
    df = sd.grad(f, backend="numba")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.JitFallbackWarning)
        np.testing.assert_allclose(df(x), 2.0 * np.cos(x))
        w[0] = 5.0
        np.testing.assert_allclose(df(x), 5.0 * np.cos(x))
