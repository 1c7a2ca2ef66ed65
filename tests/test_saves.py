"""Values the backward sweep reads only for their type, shape and dtype are saved as stand-ins
(compiler/saves.py, runtime.like_of): the gradients are the same, and the memory a gradient call
holds is less by those values."""

import tracemalloc
import warnings

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import runtime
from sourcediff.errors import JitFallbackWarning
from sourcediff.specialize import passes
from sourcediff.testing import check_grads

rng = np.random.default_rng(7)


def layers_loss(params, x):
    h = x
    for W, b in params:  # (layers of different shapes: written out pass by pass unless the
        # specializer's "unrolled loops" is off, as below)
        h = np.tanh(np.dot(h, W) + b)
    return np.sum(h * h)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def gates_loss(w, xs):
    h = np.zeros((xs.shape[1], w.shape[1]))
    for t in range(xs.shape[0]):
        h = sigmoid(np.dot(xs[t], w) + h)  # (the helper's saved tuple: its input z)
    return np.sum(h)


def _layers(sizes, batch):
    params = [(rng.standard_normal((m, n)) / np.sqrt(m), rng.standard_normal(n))
              for m, n in zip(sizes[:-1], sizes[1:])]
    return params, rng.standard_normal((batch, sizes[0]))


def test_stand_ins_in_the_generated_source():
    df = sd.grad(layers_loss)
    text = sd.source(df)
    assert "_stack.append(_sd.like_of(_dot1))" in text  # (read only by unbroadcast)
    assert "_stack.append(h)" in text  # (its values are read: the tanh derivative, the product)
    sd.grad(gates_loss)(rng.standard_normal((3, 4)), rng.standard_normal((5, 2, 3)))


@pytest.mark.parametrize("loss, args", [
    (layers_loss, _layers((6, 5, 4, 3), 7)),
    (gates_loss, (rng.standard_normal((3, 4)), rng.standard_normal((5, 2, 3)))),
])
def test_gradients_with_stand_ins_match_finite_differences(loss, args):
    check_grads(loss, args, order=2)


def test_second_order_through_stand_ins():
    w, xs = rng.standard_normal((3, 4)) * 0.5, rng.standard_normal((4, 2, 3))
    h = sd.hessian(gates_loss)(w, xs)
    eps, n = 1e-5, w.size
    g = sd.grad(gates_loss)
    fd = np.empty((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = eps
        fd[k] = ((g(w + e.reshape(w.shape), xs) - g(w - e.reshape(w.shape), xs)) / (2 * eps)).ravel()
    np.testing.assert_allclose(h.reshape(n, n), fd, rtol=1e-5, atol=1e-7)
    # reverse over reverse: the generated gradient differentiated again
    v = rng.standard_normal(w.shape)
    hv = sd.grad(lambda w, xs: np.sum(sd.grad(gates_loss)(w, xs) * v))(w, xs)
    np.testing.assert_allclose(hv.ravel(), h.reshape(n, n) @ v.ravel(), rtol=1e-6, atol=1e-9)


def test_numba_backend_runs_the_saved_values_themselves():
    pytest.importorskip("numba")
    w, xs = rng.standard_normal((3, 4)), rng.standard_normal((5, 2, 3))
    want = sd.grad(gates_loss)(w, xs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitFallbackWarning)  # (compiled, no numpy fallback)
        got = sd.grad(gates_loss, backend="numba")(w, xs)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_dask_arrays_are_saved_themselves():
    da = pytest.importorskip("dask.array")
    x = rng.standard_normal(6)
    assert runtime.like_of(da.from_array(x, chunks=3)) is not None
    d = da.from_array(x, chunks=3)
    assert runtime.like_of(d) is d
    for value in (1.5, [x], (x,), np.float64(2.0), np.array(3.0)):
        assert runtime.like_of(value) is value


def test_like_of_is_one_element_of_memory_with_the_shape_and_dtype():
    x = np.ones((300, 200), dtype=np.float32)
    s = runtime.like_of(x)
    assert type(s) is np.ndarray and s.shape == x.shape and s.dtype == x.dtype
    assert s.strides == (0, 0) and not s.flags.writeable
    assert runtime.like_of(np.ones((300, 200), dtype=np.float32)) is s  # (one per shape, dtype)


def _peak(fn, *args):
    fn(*args)
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("loss, args, saved", [
    # each layer's np.dot(h, W) but the last, 400 x 300..303 float64 (the forward sweep's own
    # arrays of one layer are the difference from all of them)
    (layers_loss, _layers((50, 300, 301, 302, 303, 10), 400), 400 * (300 + 301 + 302 + 303) * 8),
    # each pass's sigmoid input z: 20 passes of 300 x 100
    (gates_loss, (rng.standard_normal((100, 100)) * 0.01, rng.standard_normal((20, 300, 100))),
     20 * 300 * 100 * 8),
])
def test_a_gradient_call_holds_less_memory(monkeypatch, loss, args, saved):
    # (the loop over layers of different shapes kept a loop, whose stack holds what it saves:
    # with the loop written out, its straight-line code holds less still, checked below)
    monkeypatch.setattr(passes, "SKIP", set(passes.SKIP) | {"unrolled loops"})
    sd.clear_cache()
    df = sd.grad(loss)
    with_stand_ins = _peak(df, *args)
    monkeypatch.setattr(runtime, "like_of", lambda x: x)  # (what was saved before)
    whole = _peak(df, *args)
    assert whole - with_stand_ins >= 0.7 * saved, (whole, with_stand_ins, saved)
    sd.clear_cache()  # (no specialization made with a pass off is left for later tests)


def test_layers_written_out_hold_no_more_than_the_loop_with_stand_ins():
    args = _layers((50, 300, 301, 302, 303, 10), 400)
    sd.clear_cache()
    unrolled = _peak(sd.grad(layers_loss), *args)
    saved = set(passes.SKIP)
    passes.SKIP.add("unrolled loops")
    try:
        sd.clear_cache()
        looped = _peak(sd.grad(layers_loss), *args)
    finally:
        passes.SKIP.clear()
        passes.SKIP.update(saved)
        sd.clear_cache()
    assert unrolled <= looped, (unrolled, looped)


def rnn_loss(W, U, xs):
    h = np.zeros((xs.shape[1], U.shape[0]))
    for t in range(xs.shape[0]):
        x = xs[t]
        h = np.tanh(np.dot(x, W) + np.dot(h, U))
    return np.sum(h ** 2)


def test_products_hoisted_out_of_a_loop_are_let_go_after_it():
    # (specialize/loops.py: xs @ W before the loop, a row of it per pass; the product and the
    # last pass's row of it are released after the loop, not held through the backward sweep)
    W, U = rng.standard_normal((3, 4)) * 0.5, rng.standard_normal((4, 4)) * 0.5
    xs = rng.standard_normal((6, 2, 3))
    df = sd.grad(rnn_loss, wrt=(0, 1))
    text = sd.source(df, W, U, xs)
    assert "_rows_product1 = (xs.reshape(" in text and "@ W).reshape(" in text
    assert "del _rows_product1" in text and "_dot1 = None" in text
    gW, gU = df(W, U, xs)
    check_grads(rnn_loss, (W, U, xs), modes=("rev",))
    eps = 1e-6
    for k in range(W.size):
        e = np.zeros(W.size)
        e[k] = eps
        e = e.reshape(W.shape)
        fd = (rnn_loss(W + e, U, xs) - rnn_loss(W - e, U, xs)) / (2 * eps)
        assert abs(gW.flat[k] - fd) < 1e-6 * max(1.0, abs(fd))
