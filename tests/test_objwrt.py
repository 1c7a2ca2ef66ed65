"""Regressions found while building gradients with respect to model objects
(tests/test_object_wrt.py has the feature's own tests)."""

import numpy as np
import pytest

import sourcediff as sd


class Proj:
    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        return np.tanh(x @ self.W)


class Total:
    def __call__(self, x):
        return float(np.sum(np.sin(x)))


def apply(layers, x):
    for layer in layers:
        x = layer(x)
    return x


def through_a_helper(layers, x):
    return apply(layers, x) ** 2


@pytest.mark.parametrize("optimize", [True, False])
def test_a_parameter_reassigned_through_calls_met_at_run_time_keeps_its_gradients_shape(optimize):
    """x = layer(x) in a loop, layer met at run time, in a helper: the helper's gradient for x
    was shaped like x's last value, not the given one: a float here, the sum of the (5, 3)
    gradient (-2.96 where finite differences give -0.103 at [0, 0]); with a (5, 2) last value,
    a broadcasting error."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 3))
    layers = [Proj(rng.normal(size=(3, 3))), Total()]
    g = sd.grad(through_a_helper, wrt=1, optimize=optimize)(layers, x)
    assert isinstance(g, np.ndarray) and g.shape == (5, 3)
    eps = 1e-6
    for idx in [(0, 0), (3, 2)]:
        e = np.zeros_like(x)
        e[idx] = eps
        fd = (through_a_helper(layers, x + e) - through_a_helper(layers, x - e)) / (2 * eps)
        assert g[idx] == pytest.approx(fd, rel=1e-6)
    layers = [Proj(rng.normal(size=(3, 4))), Proj(rng.normal(size=(4, 2)))]
    g = sd.grad(lambda_free_sum, wrt=1, optimize=optimize)(layers, x)
    assert g.shape == (5, 3)


def lambda_free_sum(layers, x):
    return np.sum(apply(layers, x))


class Base:
    def __init__(self):
        self.W = np.arange(6.0).reshape(3, 2) / 7

    def forward(self, x):
        return x @ self.W


class Child(Base):
    def __init__(self):
        super().__init__()
        self.c = np.array([0.5, -1.5])

    def forward(self, x):
        return np.sin(super().forward(x)) * self.c


def child_loss(model, x):
    return np.sum(model.forward(x) ** 2)


def test_super_forward_carries_the_base_classs_parameters():
    """super().forward(x) in a model's method: Base's W got a zero gradient (the call went through
    the super object, which carried no derivative)."""
    model, x = Child(), np.linspace(-1, 1, 12).reshape(4, 3)
    g = sd.grad(child_loss)(model, x)
    h = x @ model.W
    want = x.T @ (2 * np.sin(h) * model.c ** 2 * np.cos(h))
    np.testing.assert_allclose(g.W, want, rtol=1e-12)


class TwoBiases:
    def __init__(self):
        self.b1 = np.zeros(3)
        self.b2 = np.ones(3)


def biases_loss(m, x):
    return np.sum((m.b1 + m.b2) * x)


def test_two_attributes_gradients_are_two_arrays():
    """b1 + b2: the adjoint gives both the same array; the gradient object held it twice, so
    updating g.b1 in place changed g.b2."""
    g = sd.grad(biases_loss)(TwoBiases(), np.arange(3.0))
    assert g.b1 is not g.b2 and not np.shares_memory(g.b1, g.b2)
    g.b1 *= 0.0
    np.testing.assert_array_equal(g.b2, np.arange(3.0))


class Grand(Child):
    def loss(self, x):
        return np.sum((np.sin(super().forward(x)) * self.c) ** 2)


def test_super_in_a_method_differentiated_on_its_own():
    """sd.grad(Grand.loss)(model, x): the method is a plain function there (its receiver's class
    unknown where it compiles), and super().forward(x) gave W a zero gradient."""
    model, x = Grand(), np.linspace(-1, 1, 12).reshape(4, 3)
    g = sd.grad(Grand.loss)(model, x)
    h = x @ model.W
    # Grand's super().forward is Child.forward: sin(x @ W) * c, then sin(...) * c again
    inner = np.sin(h) * model.c
    outer = np.sin(inner) * model.c
    d_inner = 2 * outer * model.c * np.cos(inner)
    want = x.T @ (d_inner * model.c * np.cos(h))
    np.testing.assert_allclose(g.W, want, rtol=1e-12)
