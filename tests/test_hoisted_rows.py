"""The products of a loop's rows hoisted before the loop (specialize/loops.py,
_hoist_loop_products) are one 2-D product of the rows reshaped, ``(X.reshape(n * r, k) @
W).reshape(n, r, m)``: each row's product must be the one a pass would have made, whatever the
layout of ``X`` (a view with other strides is copied by ``reshape``), for one step or none, and
loops the pass leaves alone (a ``break``, a step count that is not ``X.shape[0]``) keep their
gradients. Gradients are checked against finite differences and the generic (unspecialized)
code."""

import numpy as np
import pytest

import sourcediff as sd
from tests.loop_losses import rnn, rnn_break, rnn_steps
from tests.oracles import check_grads_fd


def _weights(rng):
    return (rng.standard_normal((3, 5)) * 0.5, rng.standard_normal((5, 5)) * 0.3,
            rng.standard_normal(5) * 0.1)


def _check(fn, args, hoisted):
    df = sd.grad(fn, wrt=(1, 2, 3))
    grads = df(*args)
    text = sd.source(df, *args)
    assert ("_rows_product1 = (xs.reshape(" in text) == hoisted, text
    for a, b in zip(grads, df.__wrapped__(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    check_grads_fd(fn, args, (1, 2, 3), grads)
    return grads


@pytest.mark.parametrize("steps", [0, 1, 7])
def test_rows_product_of_every_step_count(steps):
    rng = np.random.default_rng(steps)
    xs = rng.standard_normal((steps, 4, 3))
    grads = _check(rnn, (xs,) + _weights(rng), hoisted=steps > 0)  # (none: not specialized)
    if steps == 0:  # (no step reads a weight)
        assert all(not np.any(g) for g in grads)


def test_rows_product_of_a_view_with_other_strides():
    rng = np.random.default_rng(11)
    xs = rng.standard_normal((4, 6, 3)).transpose(1, 0, 2)  # (6, 4, 3): reshape copies
    assert not xs.flags.c_contiguous
    weights = _weights(rng)
    strided = _check(rnn, (xs,) + weights, hoisted=True)
    contiguous = _check(rnn, (np.ascontiguousarray(xs),) + weights, hoisted=True)
    for a, b in zip(strided, contiguous):  # (each row's product is the row's own)
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_rows_product_of_a_float32_loop_keeps_the_dtype():
    rng = np.random.default_rng(12)
    xs = rng.standard_normal((5, 4, 3)).astype(np.float32)
    args = (xs,) + tuple(w.astype(np.float32) for w in _weights(rng))
    df = sd.grad(rnn, wrt=(1, 2, 3))
    grads = df(*args)
    assert "_rows_product1 = (xs.reshape(20, 3) @ Wx).reshape(5, 4, 5)" in sd.source(df, *args)
    for g, w in zip(grads, args[1:]):
        assert g.dtype == np.float32
    for a, b in zip(grads, df.__wrapped__(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 3])
def test_a_loop_that_breaks_early_keeps_its_gradient(seed):
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((9, 4, 3)) + 0.5
    _check(rnn_break, (xs,) + _weights(rng), hoisted=False)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_a_step_count_other_than_the_rows_keeps_its_gradient(n):
    rng = np.random.default_rng(20 + n)
    xs = rng.standard_normal((6, 4, 3))
    df = sd.grad(rnn_steps, wrt=(1, 2, 3))
    args = (xs,) + _weights(rng) + (n,)
    grads = df(*args)
    assert "_rows_product" not in sd.source(df, *args)
    for a, b in zip(grads, df.__wrapped__(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    check_grads_fd(rnn_steps, args, (1, 2, 3), grads)
