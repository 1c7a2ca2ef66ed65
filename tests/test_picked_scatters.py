"""The picked scatters and known fills of the specializer (specialize/scatters.py,
rewrites.known_fills): the gradient of ``logp[np.arange(n), labels]`` without its array of zeros,
at the edges of the passes' conditions, against finite differences and against the same gradient
with the passes off (the same numbers: the rewrites are exact)."""

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd
from tests.passes_off import with_and_without

PASSES = {"picked scatters", "known fills"}


def _with_and_without(fn, args, wrt):
    return with_and_without(fn, args, wrt, PASSES)


def _same(a, b):
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        assert x.dtype == y.dtype and np.array_equal(x, y), np.max(np.abs(x - y))


def cross_entropy(z, w, labels):
    logits = z @ w
    m = np.max(logits, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    logp = logits - lse
    return -np.mean(logp[np.arange(z.shape[0]), labels])


def picked_along_axis0(z, labels):
    lse = np.log(np.sum(np.exp(z), axis=0, keepdims=True))
    logp = z - lse
    return -np.mean(logp[labels, np.arange(z.shape[1])])


def sum_without_keepdims(z, labels):
    lse = np.log(np.sum(np.exp(z), axis=1))
    logp = z - lse[:, None]
    return -np.sum(logp[np.arange(len(labels)), labels])


def logp_used_after(z, labels):
    m = np.max(z, axis=1, keepdims=True)
    logp = z - (m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True)))
    return -np.mean(logp[np.arange(z.shape[0]), labels]) + 0.1 * np.sum(np.exp(logp) ** 2)


def logp_returned(z, labels):
    m = np.max(z, axis=1, keepdims=True)
    logp = z - (m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True)))
    return -np.mean(logp[np.arange(z.shape[0]), labels]), logp


def rows_given(z, rows, labels):
    # rows with repeats: two picks can land on one entry, which the gradient must add twice
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(logp[rows, labels])


def arange_changed(z, labels):
    rows = np.arange(z.shape[0])
    rows[0] = 1  # rows 0 and 1 both pick from row 1: not one entry per row
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(logp[rows, labels])


def fewer_rows(z, labels):
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(3), labels[:3]])


def _data(n=8, c=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, c)), rng.integers(0, c, n)


def test_cross_entropy_has_no_scatter_and_the_same_gradient():
    z, labels = _data()
    w = np.random.default_rng(1).normal(size=(5, 5))
    (src, g), (src0, g0) = _with_and_without(cross_entropy, (z, w, labels), (0, 1))
    assert "_sd.scatter" not in src and "_sd.scatter_basic" in src0, src
    # (logp, read only for its gather's shape, stays: it warns as the user's code does)
    assert "\n    logp = " in src and "_sd.np.full((8,)" in src, src
    _same(g, g0)
    check_grads_fd(cross_entropy, [z, w, labels], (0, 1), g)


@pytest.mark.parametrize("fn", [picked_along_axis0, sum_without_keepdims, logp_used_after])
def test_edges_of_the_conditions_keep_the_gradient(fn):
    z, labels = _data()
    if fn is picked_along_axis0:
        z = z.T.copy()
    (src, g), (_, g0) = _with_and_without(fn, (z, labels), 0)
    _same(g, g0)
    check_grads_fd(fn, [z, labels], (0,), [g])
    if fn is picked_along_axis0:  # the picked axis is 1: the sum over axis 0 is g, the add too
        assert "_sd.scatter_basic(_item2_bar" not in src and ".reshape((1, 8))" in src, src
    if fn is sum_without_keepdims:  # the sum goes; the add's other side has no known fact
        assert "-_item2_bar.reshape((8, 1))" in src, src


def test_a_loss_that_also_returns_logp():
    z, labels = _data()
    df = sd.grad(logp_returned, wrt=0, has_aux=True)
    g, logp = df(z, labels)
    np.testing.assert_array_equal(logp, logp_returned(z, labels)[1])
    check_grads_fd(lambda z, labels: logp_returned(z, labels)[0], [z, labels], (0,), [g])


def test_labels_given_as_a_list():
    z, labels = _data()
    labels = labels.tolist()
    (src, g), (_, g0) = _with_and_without(cross_entropy, (z, np.eye(5), labels), 0)
    _same(g, g0)
    check_grads_fd(cross_entropy, [z, np.eye(5), labels], (0,), [g])


@pytest.mark.parametrize("fn", [rows_given, arange_changed, fewer_rows])
def test_picks_that_are_not_one_per_row_keep_their_scatter(fn):
    z, labels = _data()
    args = (z, np.array([0, 0, 1, 1, 2, 3, 3, 3]), labels) if fn is rows_given else (z, labels)
    if fn is rows_given:
        args[2][:] = 2  # (repeated rows with one label: the same entry picked twice)
    (src, g), (_, g0) = _with_and_without(fn, args, 0)
    assert "_sd.scatter" in src and "_item2_bar\n" not in src, src  # (no indexed add)
    _same(g, g0)
    check_grads_fd(fn, list(args), (0,), [g])


def test_float32():
    z, labels = _data()
    z = z.astype(np.float32)
    w = np.eye(5, dtype=np.float32)
    (src, g), (_, g0) = _with_and_without(cross_entropy, (z, w, labels), 0)
    assert g.dtype == np.float32 and "_sd.scatter" not in src, src
    _same(g, g0)
    check_grads_fd(lambda z, w, y: np.float64(cross_entropy(z.astype(np.float64), w, y)),
                   [z.astype(np.float64), w.astype(np.float64), labels], (0,),
                   [g.astype(np.float64)], rtol=1e-3)


def picked_rows_of_3d(z, labels):
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(z.shape[0]), labels] ** 2)  # (n, k) picked: rows of a 3-D array


def test_a_3d_array_picked_by_two_indices_keeps_its_scatter():
    rng = np.random.default_rng(3)
    z, labels = rng.normal(size=(6, 4, 3)), rng.integers(0, 4, 6)
    (src, g), (_, g0) = _with_and_without(picked_rows_of_3d, (z, labels), 0)
    assert "_sd.scatter" in src, src
    _same(g, g0)
    check_grads_fd(picked_rows_of_3d, [z, labels], (0,), [g])
