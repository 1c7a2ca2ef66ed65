"""A lambda or closure made anew on every step (``sd.grad(lambda w: loss(w, X))(w)`` in a loop):
functions of one code, globals, closure cells and defaults share one compiled gradient; the cache
keeps only the most recent functions of one code (each compiled function holds the function it
was built for, so every fresh lambda stayed alive with its closure's arrays before)."""

import gc
import warnings
import weakref

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import compiled
from sourcediff.errors import SourcediffWarning

rng = np.random.default_rng(3)
X = rng.standard_normal((6, 3))


def loss(w, X):
    return np.sum(np.tanh(X @ w) ** 2)


def _fd(f, w, eps=1e-6):
    out = np.empty_like(w)
    for k in range(w.size):
        e = np.zeros_like(w)
        e.flat[k] = eps
        out.flat[k] = (f(w + e) - f(w - e)) / (2 * eps)
    return out


@pytest.fixture
def transforms(monkeypatch):
    sd.clear_cache()
    count = [0]
    real = compiled.transform

    def counting(fn, *args, **kwargs):
        count[0] += getattr(fn, "__name__", "") == "<lambda>"  # (not the loss it calls)
        return real(fn, *args, **kwargs)

    monkeypatch.setattr(compiled, "transform", counting)
    yield count
    sd.clear_cache()


def test_a_module_level_lambda_made_each_step_is_compiled_once(transforms):
    w = rng.standard_normal(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SourcediffWarning)  # (no recompile warning either)
        for _ in range(7):
            g = sd.grad(lambda w: loss(w, X))(w)
            np.testing.assert_allclose(g, _fd(lambda v: loss(v, X), w), rtol=1e-6)
            w = w - 0.1 * g
    assert transforms[0] == 1


def _train(X, steps, rebind_at=None, other=None):
    w = np.ones(3)
    grads = []
    for k in range(steps):
        if k == rebind_at:
            X = other  # (the closure's cell now holds another array)
        g = sd.grad(lambda v: loss(v, X))(w)
        grads.append((g, _fd(lambda v: loss(v, X), w)))
        w = w - 0.05 * g
    return grads


def test_a_closure_made_each_step_in_one_call_is_compiled_once(transforms):
    for g, want in _train(X, 6):
        np.testing.assert_allclose(g, want, rtol=1e-6)
    assert transforms[0] == 1


def test_a_rebound_closure_cell_is_followed(transforms):
    other = rng.standard_normal((4, 3))
    for g, want in _train(X, 6, rebind_at=3, other=other):
        np.testing.assert_allclose(g, want, rtol=1e-6)  # (a stale X would give X's gradient)
    assert transforms[0] == 2


def test_defaults_bound_each_step_give_each_steps_gradient(transforms):
    w = rng.standard_normal(3)
    for k in range(4):
        Xk = X * (k + 1)
        g = sd.grad(lambda w, A=Xk: loss(w, A))(w)
        np.testing.assert_allclose(g, _fd(lambda v: loss(v, Xk), w), rtol=1e-6)


def _make(A):
    return lambda w: loss(w, A)


def test_functions_made_for_new_data_each_step_are_not_all_kept(transforms):
    w = rng.standard_normal(3)
    refs = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for k in range(30):
            A = rng.standard_normal((5, 3))
            f = _make(A)
            refs.append(weakref.ref(f))
            np.testing.assert_allclose(sd.grad(f)(w), _fd(f, w), rtol=1e-6)
            del f
    gc.collect()
    alive = sum(r() is not None for r in refs)
    assert alive <= compiled._PER_CODE + compiled._SHARED_MOST < 30, alive
    assert transforms[0] == 30  # (new data each step: compiled each step, and told so)
    assert any("compiled" in str(m.message) and "times" in str(m.message) for m in seen)
