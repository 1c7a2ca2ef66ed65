"""Row blocking (sourcediff/rows.py): a gradient over a large data matrix, a block of rows at a time.

The blocked code must give the generic code's gradients (up to the order of the additions in the
sums over rows), must block only what works row by row, and must leave anything else as it was.
The thresholds are lowered here so that small arrays are blocked; the speed is in benchmarks/ (W4).
"""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import compiled
from sourcediff.specialize import rows
from tests.catalogue import load_all
from tests.oracles import check_grads_fd


@pytest.fixture
def small_blocks(monkeypatch):
    """Block arrays of any size, 64 rows at a time; errors in specialization surface."""
    monkeypatch.setattr(rows, "BLOCK_MIN_BYTES", 0)
    monkeypatch.setattr(rows, "BLOCK_BYTES", 1)
    monkeypatch.setattr(rows, "MIN_BLOCKS", 2)
    monkeypatch.setattr(compiled, "_SPECIALIZE", "strict")
    sd.clear_cache()
    yield
    sd.clear_cache()


def _blocked(df, *args):
    return "for _r in range(" in sd.source(df, *args)


def _data(n=1000, d=7, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(d) * 0.3, rng.standard_normal((n, d)), \
        np.sign(rng.standard_normal(n))


def logistic(w, X, y):
    z = X @ w
    return np.mean(np.logaddexp(0.0, -y * z))


def least_squares(w, b, X, y):
    r = X @ w + b - y
    return 0.5 * np.sum(r ** 2) + 0.01 * np.sum(w * w)


def two_outputs(W, X, Y):
    h = np.tanh(X @ W)
    lse = np.log(np.sum(np.exp(h), axis=1, keepdims=True))
    return np.sum((h - lse) * Y) / X.shape[0] + np.sum(h.sum(axis=0) * W[0])


def _close(a, b):
    if isinstance(a, tuple):
        for x, y in zip(a, b):
            _close(x, y)
        return
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n", [1000, 1024, 130])  # blocks of 64 rows: the last one shorter or not
def test_logistic_regression_is_blocked_and_gives_the_generic_gradient(small_blocks, n):
    w, X, y = _data(n)
    for make in (sd.grad, sd.value_and_grad):
        df = make(logistic, wrt=(0,))
        got = df(w, X, y)
        assert _blocked(df, w, X, y)
        _close(got, df.__wrapped__(w, X, y))
    check_grads_fd(logistic, (w, X, y), (0,), sd.grad(logistic, wrt=(0,))(w, X, y))


def test_blocked_source_reads_the_rows_in_blocks_and_sums_the_parts(small_blocks):
    w, X, y = _data()
    b = 0.5
    df = sd.value_and_grad(least_squares, wrt=(0, 1))
    value, grads = df(w, b, X, y)
    text = sd.source(df, w, b, X, y)
    assert "X_rows = X[_r:_r + 64]" in text and "y_rows = y[_r:_r + 64]" in text
    assert "X_rows.T @ " in text and "X.T" not in text
    # the regularizer does not depend on the rows: computed once, before the loop
    assert text.index("w * w") < text.index("for _r in range(")
    np.testing.assert_allclose(value, least_squares(w, b, X, y), rtol=1e-12)
    _close(grads, df.__wrapped__(w, b, X, y)[1])
    assert isinstance(grads[1], float)


def test_reductions_along_a_row_stay_in_the_block_and_sums_over_rows_become_parts(small_blocks):
    rng = np.random.default_rng(3)
    W, X = rng.standard_normal((5, 4)) * 0.5, rng.standard_normal((300, 5))
    Y = rng.standard_normal((300, 4))
    df = sd.grad(two_outputs, wrt=(0,))
    got = df(W, X, Y)
    assert _blocked(df, W, X, Y)
    _close(got, df.__wrapped__(W, X, Y))
    check_grads_fd(two_outputs, (W, X, Y), (0,), got)


def softmax_xent(W, b, X, Y):
    z = X @ W + b
    m = np.max(z, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    return -np.mean(np.sum(Y * (z - lse), axis=1))


def relu_net(W1, w2, X, y):
    h = np.maximum(X @ W1, 0.0)
    return np.sum((h @ w2 - y) ** 2) / len(y)


def hinge(w, X, y):
    return np.mean(np.maximum(0.0, 1.0 - y * (X @ w))) + 0.5 * np.dot(w, w)


def poisson(w, X, y):
    eta = X @ w
    return np.sum(np.exp(eta) - y * eta)


def huber(w, X, y):
    r = X @ w - y
    return np.sum(np.where(np.abs(r) < 1.0, 0.5 * r * r, np.abs(r) - 0.5))


def row_means(w, X, y):
    return np.sum(np.mean(X * w, axis=1) ** 2) + np.sum((X @ w) * y)


def vector_times_matrix(w, X, y):
    s = np.tanh(X @ w)
    return np.sum(s * y) + np.sum((s @ X) * w)  # s @ X: a sum over the rows


def _model_args(fn, n=500, d=6, k=3, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if fn is softmax_xent:
        Y = np.eye(k)[rng.integers(0, k, n)]
        return (rng.standard_normal((d, k)) * 0.3, rng.standard_normal(k) * 0.1, X, Y), (0, 1)
    if fn is relu_net:
        return (rng.standard_normal((d, 8)) * 0.5, rng.standard_normal(8) * 0.5, X,
                rng.standard_normal(n)), (0, 1)
    y = np.abs(rng.standard_normal(n)) if fn is poisson else np.sign(rng.standard_normal(n))
    return (rng.standard_normal(d) * 0.2, X, y), (0,)


@pytest.mark.parametrize("fn", [softmax_xent, relu_net, hinge, poisson, huber, row_means,
                                vector_times_matrix])
def test_models_over_data_rows_are_blocked_and_right(small_blocks, fn):
    args, wrt = _model_args(fn)
    df = sd.value_and_grad(fn, wrt=wrt)
    value, grads = df(*args)
    assert _blocked(df, *args)
    np.testing.assert_allclose(value, fn(*args), rtol=1e-11)
    _close(grads, df.__wrapped__(*args)[1])
    check_grads_fd(fn, args, wrt, grads)


def centred(w, X, y):
    Xc = X - np.mean(X, axis=0)  # a value over all rows feeds every row
    return np.sum((Xc @ w - y) ** 2)


def square(w, X, y):
    return np.sum((X @ w) * (X @ y))  # X (n, n): w and y are as long as the rows


def first_row(w, X, y):
    return np.sum(X @ w - y) + np.sum(X[0] * w)


def gradient_over_rows(w, X, y):
    return np.sum((X @ w - y) ** 2)


@pytest.mark.parametrize("fn, wrt, square_x", [
    (centred, (0,), False), (square, (0, 2), True), (first_row, (0,), False),
    (gradient_over_rows, (1,), False)])
def test_what_is_not_row_by_row_is_not_blocked(small_blocks, fn, wrt, square_x):
    w, X, y = _data(300, 300 if square_x else 7)
    if square_x:
        y = np.random.default_rng(1).standard_normal(300)
    df = sd.grad(fn, wrt=wrt)
    got = df(w, X, y)
    assert not _blocked(df, w, X, y)
    _close(got, df.__wrapped__(w, X, y))


def test_a_matrix_read_once_or_too_small_is_not_blocked(monkeypatch):
    sd.clear_cache()
    monkeypatch.setattr(rows, "BLOCK_MIN_BYTES", 1 << 20)
    w, X, y = _data(1000, 7)  # 56 kB
    df = sd.grad(logistic, wrt=(0,))
    df(w, X, y)
    assert not _blocked(df, w, X, y)
    monkeypatch.setattr(rows, "BLOCK_MIN_BYTES", 0)
    monkeypatch.setattr(rows, "BLOCK_BYTES", 1)
    sd.clear_cache()
    df = sd.grad(logistic, wrt=(1,))  # the gradient with respect to X: X is read once
    df(w, X, y)
    assert not _blocked(df, w, X, y)
    sd.clear_cache()


def test_arguments_are_not_modified_by_blocked_code(small_blocks):
    w, X, y = _data()
    copies = [a.copy() for a in (w, X, y)]
    sd.value_and_grad(logistic, wrt=(0,))(w, X, y)
    for a, b in zip((w, X, y), copies):
        np.testing.assert_array_equal(a, b)


CASES = load_all()


def test_catalogue_with_one_row_blocks_gives_the_generic_gradients(monkeypatch):
    """Every catalogue case, with blocks of one row wherever the code allows: specialization must
    not fail (strict), and the blocked code of each case that gets blocked must give the generic
    code's value and gradients (few catalogue functions read a matrix twice in straight-line
    code; the models above are the blocked ones)."""
    monkeypatch.setattr(rows, "BLOCK_MIN_BYTES", 0)
    monkeypatch.setattr(rows, "BLOCK_BYTES", 1)
    monkeypatch.setattr(rows, "MIN_ROWS", 1)
    monkeypatch.setattr(rows, "MIN_BLOCKS", 2)
    monkeypatch.setattr(compiled, "_SPECIALIZE", "strict")
    sd.clear_cache()
    blocked = []
    try:
        for c in CASES:
            df = sd.value_and_grad(c.fn, wrt=c.wrt)
            args = c.args()
            got = df(*args)
            if _blocked(df, *c.args()):
                blocked.append(repr(c))
                want = df.__wrapped__(*c.args())
                _close(got[0], want[0])
                for a, b in zip(got[1], want[1]):
                    _close(a, b)
    finally:
        sd.clear_cache()
    assert "models.logistic_regression" in blocked, blocked


def test_default_thresholds_block_a_matrix_of_ten_megabytes():
    sd.clear_cache()
    w, X, y = _data(12000, 100)  # 9.6 MB: blocks of 2621 rows (2 MB)
    df = sd.grad(logistic, wrt=(0,))
    got = df(w, X, y)
    text = sd.source(df, w, X, y)
    assert "for _r in range(0, 12000, 2621):" in text
    _close(got, df.__wrapped__(w, X, y))
    small = _data(1000, 100)  # 0.8 MB: as it was
    df(*small)
    assert "for _r" not in sd.source(df, *small)
    sd.clear_cache()
