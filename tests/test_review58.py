"""The specializer's summed products (``specialize/einsums.py``): a sum of a product of arrays
that broadcast against each other (one often a gradient spread along the axis it was summed
over) is one ``np.einsum``. The source shows it; the gradients match finite differences and the
same gradient without the pass (a tolerance: einsum adds in another order) on broadcast shapes,
size-1 axes, negative and several summed axes, keepdims, float32 and non-contiguous inputs; the
cases it must leave alone (no broadcast operand, mixed dtypes, a name written twice) are left."""

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd
from tests.passes_off import with_and_without

EINSUM = "_sd.np.einsum("


def _with_and_without(fn, args, wrt):
    return with_and_without(fn, args, wrt, {"summed products"})


def _check(fn, args, wrt, fires=True, rtol=1e-12):
    (src, g), (src0, g0) = _with_and_without(fn, args, wrt)
    assert (EINSUM in src) is fires, src
    assert EINSUM not in src0
    g = g if isinstance(g, tuple) else (g,)
    g0 = g0 if isinstance(g0, tuple) else (g0,)
    for a, b in zip(g, g0):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, np.abs(b).max()))
    if all(np.asarray(a).dtype == np.float64 for a in args):
        check_grads_fd(fn, args, wrt, g, rtol=1e-6)
    return src, g


def gmm(means, log_sigmas, logits, X):
    log_w = logits - np.log(np.sum(np.exp(logits)))
    diff = X[:, None, :] - means[None, :, :]
    inv_var = np.exp(-2.0 * log_sigmas)
    log_p = -0.5 * np.sum(diff ** 2 * inv_var, axis=2) - np.sum(log_sigmas, axis=1)
    return -np.sum(np.log(np.sum(np.exp(log_w + log_p), axis=1)))


def _gmm_args(rng, n=40, k=5, d=3, dtype=np.float64):
    return tuple(a.astype(dtype) for a in (rng.normal(size=(k, d)), rng.normal(size=(k, d)) * 0.2,
                                           rng.normal(size=k) * 0.5, rng.normal(size=(n, d)) * 2))


def test_gmm_log_likelihood_sums_by_einsum_and_matches_finite_differences():
    src, _ = _check(gmm, _gmm_args(np.random.default_rng(0)), (0, 1, 2))
    assert src.count(EINSUM) == 2, src
    assert "'ab,abc->bc'" in src
    assert ", _mul2, 2, False)" not in src  # (no (N, K, D) spread gradient is made)


@pytest.mark.parametrize("n,k,d", [(1, 5, 3), (40, 1, 3), (40, 5, 1), (1, 1, 1)])
def test_size_one_axes(n, k, d):
    _check(gmm, _gmm_args(np.random.default_rng(1), n, k, d), (0, 1, 2))


def test_float32_keeps_its_dtype_and_matches_the_float64_gradient():
    rng = np.random.default_rng(2)
    args64 = _gmm_args(rng, 30, 4, 3)
    args32 = tuple(a.astype(np.float32) for a in args64)
    _, g32 = _check(gmm, args32, (0, 1, 2), rtol=1e-5)
    g64 = sd.grad(gmm, wrt=(0, 1, 2))(*args64)
    for a, b in zip(g32, g64):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4 * np.abs(b).max())


def test_non_contiguous_inputs():
    rng = np.random.default_rng(3)
    means, log_sigmas, logits, X = _gmm_args(rng, 30, 4, 6)
    args = (np.asfortranarray(means), log_sigmas[:, ::2].copy()[:, :3], logits[::-1],
            X[::2, ::2])
    args = (args[0][:, ::2], args[1], args[2], args[3])
    assert not args[0].flags.c_contiguous and not args[3].flags.c_contiguous
    _check(gmm, args, (0, 1, 2))


def spread_last(x, c, s):
    d = x[:, None, :] - c
    return np.sum(np.sin(np.sum(d ** 2 * s, axis=-1)))


def spread_keepdims(x, s, b):
    t = np.sum(np.cos(x) * s, axis=(0, 2), keepdims=True)
    return np.sum(np.tanh(t + b) ** 2)


def spread_middle(x, w):
    t = np.sum(x * w, axis=1)  # (A, B, C) * (B, 1) summed over B
    return np.sum(np.exp(0.1 * t) * t)


@pytest.mark.parametrize("fn,shapes,wrt", [
    (spread_last, [(7, 3), (4, 3), (4, 3)], (1, 2)),
    (spread_last, [(7, 3), (1, 3), (3,)], (1, 2)),  # broadcast operands of size-1 axes
    (spread_keepdims, [(3, 4, 5), (4, 1), (1, 4, 1)], (0, 1, 2)),
    (spread_middle, [(3, 4, 5), (4, 1)], (0, 1)),
])
def test_broadcast_shapes_and_axes(fn, shapes, wrt):
    rng = np.random.default_rng(4)
    args = tuple(rng.normal(size=s) for s in shapes)
    _check(fn, args, wrt)


def full_products(x, y):
    return np.sum(np.sin(np.sum(x * y, axis=1)))


def test_products_of_full_arrays_are_left_to_numpy():
    rng = np.random.default_rng(5)
    _check(full_products, (rng.normal(size=(6, 4)), rng.normal(size=(6, 4))), (0, 1), fires=False)


def test_mixed_dtypes_are_left_alone():
    rng = np.random.default_rng(6)
    c = rng.normal(size=(4, 3))
    s = rng.normal(size=(4, 3)).astype(np.float32)
    (src, g), (_, g0) = _with_and_without(spread_last, (rng.normal(size=(7, 3)), c, s), (1,))
    assert EINSUM not in src
    assert np.array_equal(g, g0)
