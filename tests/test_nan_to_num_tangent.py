"""np.nan_to_num's derivative selects by its masks instead of multiplying by them: forward mode
runs one tangent per element, and where np.log(0) gave -inf the tangent is inf or nan; multiplied
by a zero mask it made every entry of the forward gradient nan (JAX's jacfwd keeps the others)."""

import numpy as np
import pytest

import sourcediff as sd


def log_clean(x):
    return np.sum(np.nan_to_num(np.log(x)) * 3.0 + x * x)


def test_forward_gradient_of_nan_to_num_matches_jax_jacfwd():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    x = np.array([-1.0, 0.0, 2.0, 0.5])
    with np.errstate(divide="ignore", invalid="ignore"):
        got = sd.grad(log_clean, mode="forward")(x)
    want = np.asarray(jax.jacfwd(lambda v: jnp.sum(jnp.nan_to_num(jnp.log(v)) * 3.0 + v * v))(x))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.all(np.isfinite(got))
