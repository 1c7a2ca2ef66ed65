"""A stacked loop product whose rows are the rows ``X[t]`` the forward loop read reads them as a
view of ``X`` in forward order, ``X[:n].reshape(n * r, k)`` (specialize/forward_rows.py), the
other lists of the adjoint loop reversed to match. The view must be the rows the passes read, in
the passes' order, whatever number of passes ran: a loop that breaks early, a step count from the
data, one step, none. Where the rows are not ``X[0], X[1], ...`` (another order, an ``X`` that
changes), the lists stay. Each gradient is checked against finite differences and the generic
(unspecialized) code."""

import numpy as np
import pytest

import sourcediff as sd
from tests.loop_losses import rnn, rnn_break, rnn_steps
from tests.oracles import check_grads_fd

VIEW = "xs[:_n1].reshape(_n1 * 4, 3)"


def rnn_break_first(xs, Wx, Wh, b):
    h = np.zeros((xs.shape[1], Wh.shape[0]))
    for t in range(xs.shape[0]):
        if np.sum(h) > 0.5:
            break
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum(h ** 2) + np.sum(h)


def rnn_backwards(xs, Wx, Wh, b):
    h = np.zeros((xs.shape[1], Wh.shape[0]))
    n = xs.shape[0]
    for t in range(n):
        h = np.tanh(xs[n - 1 - t] @ Wx + h @ Wh + b)
    return np.sum(h ** 2) + np.sum(h)


def rnn_from_one(xs, Wx, Wh, b):
    h = np.zeros((xs.shape[1], Wh.shape[0]))
    for t in range(1, xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum(h ** 2) + np.sum(h)


def rnn_scaled_inputs(xs, Wx, Wh, b):
    h = np.zeros((xs.shape[1], Wh.shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        xs = xs * 0.9
    return np.sum(h ** 2) + np.sum(h)


def _args(seed, steps=7, shift=0.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((steps, 4, 3)) + shift, rng.standard_normal((3, 5)) * 0.5,
            rng.standard_normal((5, 5)) * 0.3, rng.standard_normal(5) * 0.1)


def _check(fn, args, view):
    df = sd.grad(fn, wrt=(1, 2, 3))
    grads = df(*args)
    text = sd.source(df, *args)
    assert (VIEW in text) == view, text
    if view:  # (the list of the rows and their saves on the stack are gone)
        assert "_Wx_bar_lhs1" not in text and "_stack.append(_item" not in text, text
    for a, b in zip(grads, df.__wrapped__(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    check_grads_fd(fn, args, (1, 2, 3), grads)
    return grads


@pytest.mark.parametrize("steps", [1, 2, 7])
def test_rows_of_every_pass_are_a_view(steps):
    _check(rnn, _args(steps, steps), view=True)


def test_a_view_of_no_rows_adds_nothing():
    from sourcediff import runtime

    acc = np.ones((3, 5))
    assert runtime.add_stacked_products(acc, np.zeros((2, 4, 3))[:0].reshape(0, 3), []) is acc
    assert runtime.add_stacked_products(acc, [], np.zeros((0, 5))) is acc


def test_no_pass():
    grads = _check(rnn, _args(0, 0), view=False)  # (not specialized: no facts of a pass)
    assert all(not np.any(g) for g in grads)


@pytest.mark.parametrize("seed", [0, 1, 6])  # (breaks after 1, 6 and 3 passes)
def test_a_loop_that_breaks_after_reading_its_row(seed):
    args = _args(seed, 9, shift=0.4)
    _check(rnn_break, args, view=True)
    # (the break comes early: fewer passes than rows, so the view is not all of xs)
    h = np.zeros((4, 5))
    for t in range(9):
        h = np.tanh(args[0][t] @ args[1] + h @ args[2] + args[3])
        if np.sum(h) > 0.5:
            break
    assert t < 8


@pytest.mark.parametrize("seed", [0, 1])
def test_a_loop_that_breaks_before_reading_its_row_keeps_its_gradient(seed):
    # (the row is read in a guarded block: its accumulations are not stacked at all)
    _check(rnn_break_first, _args(seed, 9, shift=0.4), view=False)


@pytest.mark.parametrize("n", [1, 3, 6])
def test_a_step_count_from_the_data(n):
    args = _args(10 + n, 6) + (n,)
    df = sd.grad(rnn_steps, wrt=(1, 2, 3))
    grads = df(*args)
    assert VIEW in sd.source(df, *args)
    for a, b in zip(grads, df.__wrapped__(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    check_grads_fd(rnn_steps, args, (1, 2, 3), grads)
    # one specialization serves every count: the view is of the passes that ran
    for m in (0, 2, 5):
        other = args[:4] + (m,)
        for a, b in zip(df(*other), df.__wrapped__(*other)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fn", [rnn_backwards, rnn_from_one, rnn_scaled_inputs])
def test_rows_not_in_pass_order_keep_their_lists(fn):
    _check(fn, _args(3, 6), view=False)
