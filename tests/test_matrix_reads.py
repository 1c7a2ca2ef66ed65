"""An np.matrix or a masked array read from a global or a closure (not passed as an argument):
refused where the function is compiled, in every mode. Forward mode gave numbers for the
matrix product's derivative ([[-1.06, 2.73], ...] where finite differences give the
elementwise product's [[0.92, 0.08], ...] that the rules assume)."""

import numpy as np
import pytest

import sourcediff as sd

A = np.array([[1.0, 2.0], [3.0, 4.0]])
M = np.matrix(A)


def reads_a_matrix(x):
    return np.sum(np.sin(M * x) * x)


def reads_an_array(x):
    return np.sum(np.sin(A * x) * x)


def _closure_over_a_masked_array():
    masked = np.ma.masked_array(A, mask=[[0, 1], [0, 0]])

    def reads_it(x):
        return np.sum(masked * x)

    return reads_it


X = np.array([[0.5, 1.0], [1.5, 2.0]])


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn,name", [(reads_a_matrix, "M"),
                                     (_closure_over_a_masked_array(), "masked")])
def test_a_matrix_or_masked_array_read_by_the_function_is_refused(fn, name, mode):
    with pytest.raises(sd.SourcediffError) as info:
        sd.grad(fn, mode=mode)(X)
    text = str(info.value)
    assert f"{name} is an np.matrix" in text or f"{name} is a masked array" in text
    assert "test_matrix_reads.py:" in text


def test_an_ndarray_read_the_same_way_runs():
    g = sd.grad(reads_an_array)(X)
    expected = np.sin(A * X) + A * X * np.cos(A * X)
    np.testing.assert_allclose(g, expected, rtol=1e-12)
    np.testing.assert_allclose(sd.grad(reads_an_array, mode="forward")(X), expected, rtol=1e-12)
