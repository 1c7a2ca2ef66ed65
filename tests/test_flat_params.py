"""A flat parameter vector cut into matrices by a helper, as code handed to scipy.optimize is
written: ``W = theta[i:i + n].reshape(s)`` with a running offset ``i += n``, the views collected
in a list with ``out.append(...)``.

The helper writes into nothing, but sourcediff's analysis of what a helper writes into took the
names read inside a subscript's index (``i``, ``n``) and every name of an appended expression as
sharing the memory of the result, so ``i += n`` (an int rebound) counted as a write into
``theta`` and the gradient was refused with an AliasError. An index is never shared by what
indexing returns; these tests hold the gradient to finite differences, and that a real write
through such a view is still seen."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.compiler.alias import mutated_params
from sourcediff.errors import AliasError
from tests.oracles import check_grads_fd

SHAPES = [(3, 5), (5,), (5, 1), (1,)]
SIZE = sum(int(np.prod(s)) for s in SHAPES)


def unpack(theta, shapes):
    out, i = [], 0
    for s in shapes:
        n = int(np.prod(s))
        out.append(theta[i:i + n].reshape(s))
        i += n
    return out


def unpack_by_assignment(theta):
    i = 0
    w = theta[i:i + 15]
    i += 15
    b = theta[i:i + 5]
    i = i + 5
    return w.reshape(3, 5), b


def pick(x, idx):
    v = x[idx]
    idx += 1  # (writes into the index array the caller passed, not into x)
    return v


def unpack_then_write(theta, shapes):
    parts = unpack(theta, shapes)
    parts[0][0, 0] = 0.0  # (a write through a view: numpy changes theta too)
    return parts


def flat_loss(theta, X, y):
    W1, b1, W2, b2 = unpack(theta, SHAPES)
    h = np.logaddexp(0.0, X.dot(W1) + b1)
    pred = (h @ W2 + b2).ravel()
    return np.mean((pred - y) ** 2) + 1e-3 * np.sum(theta ** 2)


def assigned_loss(theta, X):
    w, b = unpack_by_assignment(theta)
    return np.sum(np.tanh(X @ w + b) ** 2)


def picked_loss(x):
    idx = np.array([0, 2, 3])
    return np.sum(pick(x, idx) ** 2) + np.sum(x)  # (x read after the helper's call)


def written_loss(theta, X, y):
    W1, b1, W2, b2 = unpack_then_write(theta, SHAPES)
    return np.sum((np.tanh(X @ W1 + b1) @ W2 + b2 - y[:, None]) ** 2) + np.sum(theta ** 2)


def _data():
    rng = np.random.default_rng(3)
    return rng.normal(size=SIZE) * 0.3, rng.normal(size=(40, 3)), rng.normal(size=40)


def appends_a_concatenation_then_writes(ws):
    acc = []
    acc.append(ws + ws)  # (a new list holding ws's arrays)
    acc[0][0][1] = 0.0
    return 1.0


def test_the_analysis_finds_no_write_in_a_slicing_helper():
    assert mutated_params(unpack) == {}
    assert mutated_params(unpack_by_assignment) == {}
    assert set(mutated_params(pick)) == {"idx"}  # (x is only read)
    # (what an appended expression reads is still held by the list: ws + ws holds ws's arrays)
    assert set(mutated_params(appends_a_concatenation_then_writes)) == {"ws"}


@pytest.mark.parametrize("specialize", ["1", "0"])
def test_a_flat_vector_cut_by_a_helper_has_the_finite_difference_gradient(specialize,
                                                                          monkeypatch):
    monkeypatch.setenv("SOURCEDIFF_SPECIALIZE", specialize)
    theta, X, y = _data()
    kept = theta.copy()
    g = sd.grad(flat_loss)(theta, X, y)
    np.testing.assert_array_equal(theta, kept)
    check_grads_fd(flat_loss, (theta, X, y), [0], [g])
    g2 = sd.grad(assigned_loss)(theta[:20].copy(), X)
    check_grads_fd(assigned_loss, (theta[:20].copy(), X), [0], [g2])


def test_its_hessian_is_the_finite_difference_of_its_gradient():
    theta, X, y = _data()
    h = sd.hessian(flat_loss)(theta, X, y)
    g = sd.grad(flat_loss)
    eps = 1e-5
    cols = []
    for i in range(SIZE):
        e = np.zeros(SIZE)
        e[i] = eps
        cols.append((g(theta + e, X, y) - g(theta - e, X, y)) / (2 * eps))
    np.testing.assert_allclose(h, np.array(cols).T, atol=1e-6)


def test_an_index_array_the_helper_writes_leaves_the_indexed_array_alone():
    x = np.linspace(-1.0, 1.0, 6)
    g = sd.grad(picked_loss)(x)
    check_grads_fd(picked_loss, (x,), [0], [g])


def test_a_write_through_the_views_is_still_refused():
    theta, X, y = _data()
    with pytest.raises(AliasError):
        sd.grad(written_loss)(theta, X, y)
