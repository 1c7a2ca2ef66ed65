"""A property (or another value computed on read) that gives an int, a shape or a string, read
outside the class's methods: no derivative flows through it, so the gradient with respect to the
object is given. It was refused ("the derivative flows through the argument.out, which Lin does
not store as an attribute") because the generated code sends a derivative to every float
operand, and ``g / m.out`` made one for ``m.out``. A property that computes a float from the
object's arrays stays refused (tests/test_review28.py): its derivative would be lost."""

import dataclasses

import numpy as np
import pytest

import sourcediff as sd
from tests.objwrt_oracle import check_object_grad

RNG = np.random.default_rng(7)
X = RNG.normal(size=(4, 3))


@dataclasses.dataclass
class Lin:
    W: np.ndarray
    b: np.ndarray

    @property
    def width(self):
        return self.W.shape[1]

    @property
    def dims(self):
        return self.W.shape

    @property
    def name(self):
        return "lin"

    @property
    def scale(self):
        return float(np.sum(self.W))  # (a float computed from W: its derivative would be lost)

    def __call__(self, x):
        return x @ self.W + self.b


def lin():
    return Lin(RNG.normal(size=(3, 2)), RNG.normal(size=2))


def width_loss(m, x):
    return np.sum(m(x) ** 2) / m.width


def dims_loss(m, x):
    n_in, n_out = m.dims
    return np.sum(np.tanh(m(x))) * n_in / (n_out + 1.0)


def name_loss(m, x):
    s = np.sum(m(x) ** 2)
    if m.name == "lin":
        s = s * 2.0
    return s


def built_here_loss(W, b, x):
    m = Lin(W, b)
    return np.sum(m(x) ** 2) / m.width


def scale_loss(m, x):
    return np.sum(m(x)) * m.scale


@pytest.mark.parametrize("loss", [width_loss, dims_loss, name_loss])
def test_an_int_or_string_property_read_in_the_loss(loss):
    model = lin()
    g = sd.grad(loss)(model, X)
    check_object_grad(loss, model, X, grad=g)


def test_an_int_property_of_an_object_built_in_the_loss():
    model = lin()
    gW, gb = sd.grad(built_here_loss, wrt=(0, 1))(model.W, model.b, X)
    eps = 1e-6
    for got, k in ((gW, 0), (gb, 1)):
        args = [model.W, model.b, X]
        want = np.zeros_like(args[k])
        for i in np.ndindex(want.shape):
            up = [a.copy() for a in args]
            down = [a.copy() for a in args]
            up[k][i] += eps
            down[k][i] -= eps
            want[i] = (built_here_loss(*up) - built_here_loss(*down)) / (2 * eps)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_a_float_property_read_in_the_loss_stays_refused():
    with pytest.raises(sd.SourcediffError, match="does not store as an attribute"):
        sd.grad(scale_loss)(lin(), X)
