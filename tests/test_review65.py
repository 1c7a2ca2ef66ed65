"""Programs from a review of whole programs and model objects written as people write numerical
Python. Each test here was a silent wrong gradient before its fix; every gradient is checked
against central finite differences (tests/oracles.py) and, where torch has the operation, against
torch."""

import numpy as np
import pytest
import torch

import sourcediff as sd

from .oracles import check_grads_fd


# --- np.clip with array bounds that cross (lo > hi somewhere): numpy gives hi there, whatever a
# is (clip is minimum(maximum(a, lo), hi)); the rule gave lo the gradient where a < lo and hi
# none, so lo's and hi's gradients were wrong in both modes


def clip_function(a, lo, hi):
    return np.sum(np.clip(a, lo, hi) ** 2 * np.arange(1.0, 13.0).reshape(4, 3))


def clip_method(a, lo, hi):
    return np.sum(a.clip(lo, hi) ** 2 * np.arange(1.0, 13.0).reshape(4, 3))


def _crossing_bounds():
    rng = np.random.default_rng(65)
    a = rng.normal(size=(4, 3))
    lo, hi = rng.normal(size=3) * 0.5, rng.normal(size=(4, 1)) * 0.5
    assert (lo > hi).any() and (lo < hi).any()
    return a, lo, hi


@pytest.mark.parametrize("fn", [clip_function, clip_method])
def test_clip_with_crossing_array_bounds_gives_the_upper_bound_the_gradient(fn):
    args = _crossing_bounds()
    grads = sd.grad(fn, wrt=(0, 1, 2))(*args)
    check_grads_fd(fn, args, (0, 1, 2), grads, directions=3)
    ta, tlo, thi = (torch.tensor(x, requires_grad=True) for x in args)
    weights = torch.arange(1.0, 13.0, dtype=torch.float64).reshape(4, 3)
    (torch.clamp(ta, tlo, thi) ** 2 * weights).sum().backward()
    for g, t in zip(grads, (ta, tlo, thi)):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn", [clip_function, clip_method])
def test_clip_with_crossing_array_bounds_forward_mode(fn):
    args = _crossing_bounds()
    grads = sd.grad(fn, wrt=(0, 1, 2))(*args)
    rng = np.random.default_rng(1)
    for i in range(3):
        tangents = [None] * 3
        tangents[i] = rng.normal(size=args[i].shape)
        _, dot = sd.jvp(fn, args, tuple(tangents))
        np.testing.assert_allclose(dot, np.sum(grads[i] * tangents[i]), rtol=1e-12)
    check_grads_fd(fn, args, (0, 1, 2), grads)


def test_clip_with_scalar_bounds_crossing_gives_no_gradient_to_a():
    # np.clip(a, 0.5, 0.2) is 0.2 everywhere: nothing reaches a
    def f(a):
        return np.sum(np.clip(a, 0.5, 0.2) * a)
    a = np.linspace(-1.0, 1.0, 7)
    g = sd.grad(f)(a)
    check_grads_fd(f, (a,), (0,), (g,))
