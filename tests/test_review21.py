"""Review 21: objects, higher order, dtypes and other array types (each test failed on the code
before its fix)."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import InactiveArgumentError


def _scalar(x):
    return np.sum(np.exp(x) * np.sin(x)) + np.sum(x ** 3) / 3.0


def _vector(x):
    return np.sin(x) * 2.0


@pytest.mark.parametrize("x", [np.array([1, 2]), np.array([True, False])])
@pytest.mark.parametrize("fn,mode", [(_scalar, "auto"), (_vector, "reverse"), (_vector, "auto")])
def test_a_reverse_jacobian_at_an_integer_or_boolean_argument_is_refused_not_nan(x, fn, mode):
    # (it gave [nan, nan]: the reverse rows hold None for an argument that is not a float)
    with pytest.raises(InactiveArgumentError, match="cannot carry a gradient"):
        sd.jacobian(fn, mode=mode)(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.longdouble])
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_a_jacobian_and_a_hessian_keep_a_float32_argument_s_dtype(dtype, mode):
    # (they were float64 for float32 and float16 arguments; JAX and PyTorch keep the dtype)
    x = np.array([0.7, -0.2], dtype=dtype)
    jac = sd.jacobian(_vector, mode=mode)(x)
    assert jac.dtype == dtype
    assert sd.hessian(_scalar)(x).dtype == dtype
    ref = sd.jacobian(_vector, mode=mode)(x.astype(np.float64))
    np.testing.assert_allclose(jac.astype(np.float64), ref, rtol=2e-3)
