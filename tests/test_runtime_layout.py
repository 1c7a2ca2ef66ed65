"""The runtime package: every helper is one object however it is reached, and what it needs from the
compiler above it comes through runtime.hooks (its place in the layers, and the size of its modules
and functions, are tests/test_layering.py's)."""

import pickle

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import runtime

def test_every_helper_is_one_object_named_sourcediff_runtime():
    """Generated code reads ``_sd.unbroadcast``, jit overloads and rules are keyed on the same
    object, the compiler recognises helpers by their module name, and pickle finds them."""
    from sourcediff.runtime import dynamic, object_state, shapes

    assert runtime.unbroadcast is shapes.unbroadcast
    assert runtime.dynamic_fwd is dynamic.dynamic_fwd
    assert runtime.store_attribute is object_state.store_attribute
    assert runtime.np is np  # (the specializer's code calls _sd.np.sum)
    for name in ("unbroadcast", "grad_like", "GradList", "svd_grad", "dynamic_fwd", "einsum_fast"):
        value = getattr(runtime, name)
        assert value.__module__ == "sourcediff.runtime"
        assert pickle.loads(pickle.dumps(value)) is value
    # the object-state helpers write into objects: not taken for helpers that write nothing
    assert runtime.store_attribute.__module__ == "sourcediff.runtime.object_state"
    gl = pickle.loads(pickle.dumps(runtime.GradList([1.0, 2.0])))
    assert type(gl) is runtime.GradList


def test_an_unset_hook_says_what_sets_it(monkeypatch):
    monkeypatch.delattr(runtime.hooks, "split_form")
    with pytest.raises(RuntimeError, match=r"hooks\.split_form .*sourcediff\.api"):
        runtime.dynamic_fwd(lambda x: x * 2.0, (0,), 1.0)


def test_hooks_reach_the_compiler():
    """A callable met only at run time is compiled through the hooks api filled in."""
    class Layer:
        def __init__(self, fn):
            self.fn = fn

        def __call__(self, x):
            return self.fn(x)

    def f(x, layer):
        return np.sum(layer(x) ** 2)

    def sq(x):
        return np.tanh(x)

    x = np.linspace(-1.0, 1.0, 4)
    for layer in (Layer(sq), Layer(np.tanh)):  # a Python function, a primitive with a rule
        g = sd.grad(f)(x, layer)
        np.testing.assert_allclose(g, 2 * np.tanh(x) * (1 - np.tanh(x) ** 2), rtol=1e-12)
