"""A numpy scalar argument's gradient is a numpy scalar of its dtype in every mode (np.float64 is
a subclass of float, and reverse mode handed back a Python float for it)."""

import numpy as np
import pytest

import sourcediff as sd

from .oracles import directional_fd


def _cube(z):
    return z ** 3 + np.sin(z)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("kind", [np.float64, np.float32])
def test_numpy_scalar_gradient_keeps_its_type(mode, kind):
    x = kind(1.3)
    got = sd.grad(_cube, mode=mode)(x)
    assert type(got) is kind
    want = directional_fd(_cube, (float(x),), 0, 1.0)
    np.testing.assert_allclose(float(got), want, rtol=1e-3 if kind is np.float32 else 1e-6)


def test_python_float_gradient_stays_a_float():
    assert type(sd.grad(_cube)(1.3)) is float


def test_numpy_scalar_in_a_list_and_beside_a_float():
    g = sd.grad(lambda a, b: a * b, wrt=(0, 1))(np.float64(2.0), 3.0)
    assert [type(v) for v in g] == [np.float64, float]
    g = sd.grad(lambda p: p[0] * p[1])([np.float64(2.0), 3.0])
    assert [type(v) for v in g] == [np.float64, float]
