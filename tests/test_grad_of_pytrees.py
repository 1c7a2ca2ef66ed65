"""sourcediff.tape.grad_of with parameters held in dicts, lists of (W, b) tuples and namedtuples,
as users' parity tests pass them: one leaf Tensor per array, gradients in the same structure, equal
to the compiled gradient. Before, a dict argument failed inside numpy ("entry not a 2- or 3-
tuple") and a list of arrays became one stacked Tensor."""

import collections

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.tape import grad_of

Layer = collections.namedtuple("Layer", "W b")
rng = np.random.default_rng(7)


def lstm_like(params, xs):
    h = np.zeros((xs.shape[1], 3))
    for x in xs:
        z = x @ params["W"] + h @ params["U"] + params["b"]
        h = np.tanh(z[:, :3]) * (1.0 / (1.0 + np.exp(-z[:, 3:])))
    return np.mean(h ** 2) + params["scale"] * np.sum(params["b"] ** 2)


def mlp(layers, x):
    h = x
    for W, b in layers[:-1]:
        h = np.tanh(h @ W + b)
    W, b = layers[-1]
    return np.sum((h @ W + b) ** 2)


def named(layer, x):
    return np.sum(np.sin(x @ layer.W + layer.b))


def mixed(coeffs, params, x):
    """A list of numbers is one array, as numpy reads it; the dict beside it is one Tensor a key."""
    return np.sum(np.polyval(coeffs, x) * params["a"][0]) + params["a"][1] * np.sum(x)


def _same(a, b):
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
    else:
        assert type(a) is type(b) and np.shape(a) == np.shape(b)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


CASES = {
    "dict": (lstm_like, ({"W": rng.standard_normal((2, 6)), "U": rng.standard_normal((3, 6)),
                          "b": rng.standard_normal(6), "scale": 0.5},
                         rng.standard_normal((4, 5, 2))), 0),
    "list_of_tuples": (mlp, ([(rng.standard_normal((3, 4)), rng.standard_normal(4)),
                              (rng.standard_normal((4, 2)), rng.standard_normal(2))],
                             rng.standard_normal((5, 3))), 0),
    "namedtuple": (named, (Layer(rng.standard_normal((2, 3)), rng.standard_normal(3)),
                           rng.standard_normal((4, 2))), 0),
    "numbers_and_dict": (mixed, ([0.5, -1.0, 2.0], {"a": rng.standard_normal(2)},
                                 rng.standard_normal(4)), (0, 1)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_grad_of_takes_parameter_trees_as_sd_grad_does(name):
    f, args, wrt = CASES[name]
    _same(grad_of(f, args, wrt), sd.grad(f, wrt=wrt)(*args))


def test_a_leaf_that_is_not_a_number_is_refused_by_grad_of():
    with pytest.raises(sd.SourcediffError, match="cannot carry a gradient"):
        grad_of(lambda p: np.sum(p["W"]), ({"W": np.ones(2), "name": "layer"},), 0)
