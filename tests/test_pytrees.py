"""Parameters in lists, tuples, dicts and namedtuples (pytrees): gradients come back in the same
structure, checked against central finite differences over sd.flatten's vector."""

from collections import namedtuple

import numpy as np
import pytest

import sourcediff as sd

Layer = namedtuple("Layer", "W b")


def fd_tree(fn, tree, rest, eps=1e-6):
    vec, unflatten = sd.flatten(tree)
    out = np.zeros_like(vec)
    for k in range(vec.size):
        e = np.zeros_like(vec)
        e[k] = eps
        out[k] = (fn(unflatten(vec + e), *rest) - fn(unflatten(vec - e), *rest)) / (2 * eps)
    return out


def mlp(params, x):
    h = x
    for W, b in params:
        h = np.tanh(h @ W + b)
    return np.sum(h ** 2)


def nested_dict(p, x):
    return np.sum(np.tanh(x @ p["enc"]["W"] + p["enc"]["b"]) ** 2) * p["scale"]


def namedtuple_fields(p, x):
    return np.sum(np.sin(x @ p.W + p.b))


def unpacked_pairs(params, x):
    W1, b1 = params[0]
    W2, b2 = params[1]
    return np.sum(np.tanh(np.tanh(x @ W1 + b1) @ W2 + b2))


rng = np.random.default_rng(0)
X = rng.normal(size=(5, 3))
TREES = {
    "mlp": (mlp, [(rng.normal(size=(3, 4)), np.full(4, 0.1)), (rng.normal(size=(4, 2)),
                                                                np.zeros(2))]),
    "nested_dict": (nested_dict, {"enc": {"W": rng.normal(size=(3, 4)), "b": np.zeros(4)},
                                  "scale": 0.7}),
    "namedtuple": (namedtuple_fields, Layer(rng.normal(size=(3, 4)), rng.normal(size=4))),
    "unpacked_pairs": (unpacked_pairs, [(rng.normal(size=(3, 4)), np.full(4, 0.1)),
                                        (rng.normal(size=(4, 2)), np.zeros(2))]),
}


@pytest.mark.parametrize("name", sorted(TREES))
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_the_gradient_of_a_tree_of_parameters_is_a_tree_of_the_same_shape(name, mode):
    fn, tree = TREES[name]
    g = sd.grad(fn, mode=mode)(tree, X)
    assert type(g) is type(tree)
    assert [np.shape(v) for v in sd.pytree.leaves(g)] == [np.shape(v) for v in
                                                          sd.pytree.leaves(tree)]
    assert [type(v) for v in sd.pytree.leaves(g)] == [type(v) for v in sd.pytree.leaves(tree)]
    np.testing.assert_allclose(sd.flatten(g)[0], fd_tree(fn, tree, (X,)), rtol=1e-6, atol=1e-8)


def test_value_and_grad_of_a_tree_and_the_callers_tree_is_unchanged():
    fn, tree = TREES["mlp"]
    before = sd.flatten(tree)[0].copy()
    value, g = sd.value_and_grad(fn)(tree, X)
    assert value == pytest.approx(fn(tree, X))
    np.testing.assert_array_equal(sd.flatten(tree)[0], before)
    np.testing.assert_allclose(sd.flatten(g)[0], fd_tree(fn, tree, (X,)), rtol=1e-6, atol=1e-8)


def test_flatten_round_trips_and_keeps_floats_and_dtypes():
    tree = {"a": [np.ones((2, 3), dtype=np.float32), 0.5], "b": Layer(np.arange(3.0), 2.0)}
    vec, unflatten = sd.flatten(tree)
    assert vec.shape == (11,) and vec.dtype == np.float64
    back = unflatten(vec * 2.0)
    assert back["a"][0].dtype == np.float32 and isinstance(back["a"][1], float)
    assert isinstance(back["b"], Layer) and back["b"].b == 4.0
    with pytest.raises(ValueError, match="11 entries"):
        unflatten(np.zeros(3))


def test_a_tree_with_an_integer_leaf_is_refused_naming_the_leaf():
    with pytest.raises(sd.InactiveArgumentError, match=r"params\[0\]\[1\] = ndarray of dtype int"):
        sd.grad(mlp)([(np.ones((3, 4)), np.zeros(4, dtype=int))], X)


class Holder:
    def __init__(self, W):
        self.W = W


def reads_an_objects_attribute(obj, x):
    return np.sum(x @ obj.W)


def test_an_attribute_of_an_active_object_is_differentiated_not_dropped():
    """p.W on a local that is not an array was taken as carrying no derivative at all (a silent
    zero for namedtuples); an object of a user's class now gets its gradient as an object of its
    class (tests/test_object_wrt.py), and an object of another kind is refused."""
    g = sd.grad(reads_an_objects_attribute)(Holder(np.ones((3, 2))), X)
    assert type(g) is Holder and np.allclose(g.W, np.broadcast_to(X.sum(0)[:, None], (3, 2)))
    import types
    module = types.ModuleType("holder")  # (a SimpleNamespace is a model object: test_review28)
    module.W = np.ones(2)
    with pytest.raises(sd.SourcediffError, match="module.W"):
        sd.runtime.attribute_grad(np.ones(2), module, "W")


def first_item(ws):
    return ws[0]


def two_helpers(ws):
    return first_item(ws) + first_item(ws) * ws[1]


def scaled(p):
    return p["a"] * 2.0


def dict_to_two_helpers(p):
    return scaled(p) + scaled(p) * p["b"]


def step(p, h):
    return np.tanh(h * p["w"] + p["b"])


def rnn_over_a_dict(p, h):
    for _ in range(3):
        h = step(p, h)
    return h


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_container_passed_to_two_helper_calls_gets_both_gradients(mode):
    """Two helpers' gradients for the same list were joined end to end (the list's first entries
    kept: [1.0] for [2.0]), and for a dict or in a loop it raised a TypeError."""
    for tree in ([3.0, 0.5], (3.0, 0.5)):
        g = sd.grad(two_helpers, mode=mode)(tree)
        assert type(g) is type(tree)
        np.testing.assert_allclose(sd.flatten(g)[0], fd_tree(two_helpers, tree, ()), rtol=1e-7)
    tree = {"a": 1.0, "b": 3.0}
    np.testing.assert_allclose(sd.flatten(sd.grad(dict_to_two_helpers, mode=mode)(tree))[0],
                               fd_tree(dict_to_two_helpers, tree, ()), rtol=1e-7)
    tree = {"w": 0.5, "b": 0.1}
    np.testing.assert_allclose(sd.flatten(sd.grad(rnn_over_a_dict, mode=mode)(tree, 0.3))[0],
                               fd_tree(rnn_over_a_dict, tree, (0.3,)), rtol=1e-6)


def cubic_of_a_dict(p):
    return np.sum(p["w"] ** 3) * p["s"] ** 2


def test_the_hessian_of_a_dict_argument_is_a_matrix_over_its_flattened_leaves():
    p = {"w": np.array([1.0, 2.0]), "s": 0.5}
    H = sd.hessian(cubic_of_a_dict)(p)
    vec, unflatten = sd.flatten(p)
    eps, n = 1e-5, vec.size
    fd = np.zeros((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = eps
        hi = sd.flatten(sd.grad(cubic_of_a_dict)(unflatten(vec + e)))[0]
        lo = sd.flatten(sd.grad(cubic_of_a_dict)(unflatten(vec - e)))[0]
        fd[:, k] = (hi - lo) / (2 * eps)
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-8)


FLAT_VEC, UNFLATTEN = sd.flatten({"W": np.full((2, 3), 0.3), "b": 0.5,
                                   "layers": [np.arange(3.0)]})


def flat_objective(v):
    p = UNFLATTEN(v)
    return np.sum(np.tanh(p["W"]) * p["layers"][0]) * p["b"] ** 2


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_unflatten_is_differentiable_for_flat_objectives(mode):
    """autograd's flatten_func pattern: loss(unflatten(v)) differentiated in the vector v (it was
    refused: sourcediff transformed its own helper)."""
    vec = FLAT_VEC
    fd = np.array([(flat_objective(vec + e) - flat_objective(vec - e)) / 2e-6
                   for e in np.eye(vec.size) * 1e-6])
    np.testing.assert_allclose(sd.grad(flat_objective, mode=mode)(vec), fd, rtol=1e-6, atol=1e-9)


def test_check_grads_takes_trees_of_parameters():
    from sourcediff.testing import GradientCheckError, check_grads

    fn, tree = TREES["mlp"]
    check_grads(fn, (tree, X))
    fn, tree = TREES["nested_dict"]
    check_grads(fn, (tree, X), modes=("fwd", "rev"))
    check_grads(fn, (tree, X), order=2)  # (second order over the tree's leaves; was refused)
    fn, tree = TREES["mlp"]
    check_grads(fn, (tree, X), order=2)

    with pytest.raises(GradientCheckError):
        check_grads(uses_a_wrong_rule, ({"a": np.array([0.3, 0.5])},))


@sd.custom_vjp
def sin_with_a_wrong_rule(x):
    return np.sin(x)


@sin_with_a_wrong_rule.defvjp(kind="elementwise")
def _sin_wrong_vjp(g, ans, x):
    return (g * 2.0,)


def uses_a_wrong_rule(p):
    return np.sum(sin_with_a_wrong_rule(p["a"]))
