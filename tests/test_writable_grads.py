"""Gradients come back as arrays a training loop can update in place.

The gradient of a sum along an axis is the upstream gradient broadcast back (np.broadcast_to: a
read-only view with a zero stride), and it was returned as such: ``g *= lr``,
``np.clip(g, -1, 1, out=g)`` or an optimizer's in-place step raised numpy's "output array is
read-only". The entry's copy-or-own step (runtime.own_arrays) copies a read-only array into one
of its own; these tests hold every returned array to be writable and to own its memory, in each
form of result and mode, with the gradient checked against finite differences first."""

import warnings

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd

RNG = np.random.default_rng(7)
A, B, C = (RNG.normal(size=(3, 4)) for _ in range(3))


def sum_along_axis(a, b, c):
    return np.sum((np.sum(a, axis=0) * b) * c)


def mean_keepdims(a, b, c):
    return np.sum(np.mean(a, axis=1, keepdims=True) * b + c)


def broadcast_in_the_loss(a, b, c):
    return np.sum(np.broadcast_to(a[0], (3, 4)) * b) + np.sum(c)


def in_a_list(params, c):
    a, b = params
    return np.sum(np.sum(a, axis=0) * b[0]) + np.sum(c)


def in_a_dict(params, c):
    return np.sum(np.sum(params["a"], axis=0) * params["b"][0]) + np.sum(c)


def _leaves(g):
    if isinstance(g, dict):
        return [x for v in g.values() for x in _leaves(v)]
    if isinstance(g, (list, tuple)):
        return [x for v in g for x in _leaves(v)]
    return [g]


def _writable(g):
    for leaf in _leaves(g):
        assert isinstance(leaf, np.ndarray) and leaf.flags.writeable and leaf.base is None
        leaf *= 0.5  # (an optimizer's in-place step)


@pytest.mark.parametrize("fn", [sum_along_axis, mean_keepdims, broadcast_in_the_loss],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("specialize", ["1", "0"])
def test_each_returned_gradient_can_be_updated_in_place(fn, specialize, monkeypatch):
    monkeypatch.setenv("SOURCEDIFF_SPECIALIZE", specialize)
    for _ in range(2):  # (the first call and a specialized one)
        grads = sd.grad(fn, wrt=(0, 1, 2))(A, B, C)
        check_grads_fd(fn, (A, B, C), (0, 1, 2), grads)
        _writable(grads)
        one = sd.grad(fn, wrt=0)(A, B, C)
        _writable(one)
        value, both = sd.value_and_grad(fn, wrt=(0, 1))(A, B, C)
        _writable(both)
        (g_a, aux) = sd.grad(lambda a, b, c: (fn(a, b, c), 1.0), has_aux=True)(A, B, C)
        _writable(g_a)


def test_the_numba_backend_and_containers_of_parameters():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (numba's fallback warning, where it cannot compile)
        _writable(sd.grad(sum_along_axis, wrt=(0, 1), backend="numba")(A, B, C))
    g = sd.grad(in_a_list)([A, B], C)
    check_grads_fd(lambda a, b: in_a_list([a, b], C), (A, B), (0, 1), list(g))
    _writable(g)
    _writable(sd.grad(in_a_dict)({"a": A, "b": B}, C))
