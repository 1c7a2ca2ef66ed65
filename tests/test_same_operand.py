"""One name in two positions of a rule with the same contribution (``x * x``, ``x + x``): the
adjoint adds one term times 2 (bit for bit ``c + c``), so the specializer's passes see a product
(``d * d`` in a summed product becomes an einsum as ``d ** 2`` does) and the generic code
computes the term once."""

import numpy as np
import pytest

import sourcediff as sd

from .oracles import check_grads_fd


def square_sum(x):
    return np.sum(x * x)


def twice_sum(x):
    return np.sum(np.sin(x + x))


def used_before(x, w):
    y = np.tanh(x) * w          # x's gradient is not zero when x * x's is added
    z = x * x
    return np.sum(y + z * w)


def scalar_square(a, b):
    return a * a * b + a


def gmm_like(means, log_sigmas, X):
    diff = X[:, None, :] - means[None, :, :]
    inv_var = np.exp(-2.0 * log_sigmas)
    log_p = -0.5 * np.sum(diff * diff * inv_var, axis=2)
    return np.sum(np.tanh(log_p))


def gmm_like_pow(means, log_sigmas, X):
    diff = X[:, None, :] - means[None, :, :]
    inv_var = np.exp(-2.0 * log_sigmas)
    log_p = -0.5 * np.sum(diff ** 2 * inv_var, axis=2)
    return np.sum(np.tanh(log_p))


RNG = np.random.default_rng(7)
X3 = RNG.normal(size=(4, 3))
W3 = RNG.normal(size=(4, 3))
MEANS, LOG_SIGMAS, POINTS = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3)) * 0.2, \
    RNG.normal(size=(30, 3))


@pytest.mark.parametrize("fn, args, wrt", [
    (square_sum, (X3,), (0,)),
    (twice_sum, (X3,), (0,)),
    (used_before, (X3, W3), (0, 1)),
    (scalar_square, (1.3, -0.7), (0, 1)),
    (gmm_like, (MEANS, LOG_SIGMAS, POINTS), (0, 1)),
], ids=lambda v: getattr(v, "__name__", None))
def test_gradient_against_finite_differences(fn, args, wrt):
    df = sd.grad(fn, wrt=wrt)
    for _ in range(2):  # (the second call runs the code specialized for these shapes)
        check_grads_fd(fn, args, wrt, df(*args))


@pytest.mark.parametrize("fn", [square_sum, twice_sum])
def test_one_term_in_the_generic_code(fn):
    text = sd.source(sd.grad(fn))
    accumulations = [line for line in text.splitlines() if line.strip().startswith("x_bar =")]
    assert len(accumulations) == 1, text
    assert "* 2" in accumulations[0], text


def test_float32_stays_float32():
    x = X3.astype(np.float32)
    g = sd.grad(square_sum)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 2 * x, rtol=1e-6)


def test_squared_difference_written_as_a_product_is_one_einsum():
    """``diff * diff`` inside a summed product: no (N, K, D) gradient array is spread, as with
    ``diff ** 2``; the gradients equal the ``** 2`` form's to rounding."""
    args = (MEANS, LOG_SIGMAS, POINTS)
    df = sd.grad(gmm_like, wrt=(0, 1))
    got = df(*args)
    text = sd.source(df, *args)
    assert "unreduce" not in text, text
    assert text.count("einsum(") == 2, text
    want = sd.grad(gmm_like_pow, wrt=(0, 1))(*args)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
