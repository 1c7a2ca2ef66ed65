"""A list or tuple argument's items in the specialization's signature, and short loops over
items of different shapes written out pass by pass (specialize/unroll.py): each shape set gets
its own specialization, one whose items change shape is never reused, and every gradient matches
finite differences and the generic code's."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.specialize import facts

from .oracles import check_grads_fd


def mlp(params, x):
    h = x
    for W, b in params[:-1]:
        h = np.tanh(np.dot(h, W) + b)
    W, b = params[-1]
    return np.sum((np.dot(h, W) + b) ** 2)


def _layers(rng, sizes, kind=tuple):
    return [kind((rng.normal(size=(m, n)) / np.sqrt(m), rng.normal(size=n) * 0.1))
            for m, n in zip(sizes[:-1], sizes[1:])]


def _leaves(tree):
    if isinstance(tree, (list, tuple)):
        return [x for item in tree for x in _leaves(item)]
    return [tree]


def _rebuild(like, leaves):
    if isinstance(like, (list, tuple)):
        return type(like)(_rebuild(item, leaves) for item in like)
    return leaves.pop(0)


def _check(fn, params, *rest):
    """The gradient of ``fn`` with respect to its list argument against finite differences
    (leaf by leaf) and against the generic (unspecialized) code's; returns its source."""
    df = sd.grad(fn)
    g = df(params, *rest)
    assert type(g) is type(params) and len(g) == len(params)
    flat = _leaves(params)

    def on_leaves(*leaves):
        return fn(_rebuild(params, list(leaves)), *rest)

    check_grads_fd(on_leaves, flat, range(len(flat)), _leaves(g))
    generic = df.__sourcediff_specializations__.generic(params, *rest)
    for a, b in zip(_leaves(g), _leaves(generic)):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=0)
    return df, sd.source(df, params, *rest)


def test_layers_of_two_shape_sets_get_two_specializations_each_right():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 5))
    df, one = _check(mlp, _layers(rng, (5, 4, 3, 2)), x)
    _, two = _check(mlp, _layers(rng, (5, 7, 2, 3)), x)
    for src in (one, two):  # written out pass by pass, each pass rewritten for its shapes
        assert "_k1 = 1\n" in src and "range(" not in src and "_sd.unbroadcast" not in src
    spec = df.__sourcediff_specializations__
    keys = [k for k in spec.table if k[0] is list]
    assert len(keys) == 2 and keys[0][1] != keys[1][1]


def test_items_changing_shape_in_place_get_a_new_specialization():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 5))
    params = _layers(rng, (5, 4, 3, 2))
    df = sd.grad(mlp)
    _check(mlp, params, x)
    # the same list object, its items now of other shapes: the key is not the old one
    params[0] = (rng.normal(size=(5, 6)), rng.normal(size=6))
    params[1] = (rng.normal(size=(6, 3)), rng.normal(size=3))
    g = df(params, x)
    assert [w.shape for w, _ in g] == [(5, 6), (6, 3), (3, 2)]
    _check(mlp, params, x)
    # and a list of another length
    params.insert(1, (rng.normal(size=(6, 6)), rng.normal(size=6)))
    _check(mlp, params, x)


def test_a_tuple_of_layers_and_lists_as_items():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 5))
    _, src = _check(mlp, tuple(_layers(rng, (5, 4, 3, 2))), x)
    assert "_k1 = 0\n" in src
    # lists inside the list are mutable: not part of the signature, the generic code runs
    inner = _layers(rng, (5, 4, 2), kind=list)
    assert facts.seq_key(inner) is None
    _check(mlp, inner, x)


def scaled(params, x, s):
    for W, b in params:
        x = np.tanh(x @ W + b) * s
    return np.sum(x ** 2)


def test_a_float_among_the_arguments_and_a_layer_list_read_twice():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 3))
    params = _layers(rng, (3, 5, 2))
    _check(scaled, params, x, 0.7)
    _check(scaled, params, x, 1.3)


def appends(params, x):
    extra = params[:1]
    extra.append(params[-1])  # (a list the function changes: its facts are not trusted)
    for W, b in extra:
        x = np.tanh(x @ W + b)
    return np.sum(x ** 2)


def test_a_function_that_changes_a_list_is_right():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 3))
    params = _layers(rng, (3, 5, 5, 2))
    df = sd.grad(appends)
    g = df(params, x)
    flat = _leaves(params)
    check_grads_fd(lambda *leaves: appends(_rebuild(params, list(leaves)), x), flat,
                   range(len(flat)), _leaves(g))
    assert np.all(g[1][0] == 0.0)  # (the middle layer is not used)


def test_seq_key_follows_arrays_and_tuples_and_stops_at_long_sequences():
    a = np.zeros((2, 3))
    assert facts.seq_key([(a, a[0])]) == ((tuple, (((2, 3), a.dtype), ((3,), a.dtype))),)
    assert facts.seq_key([1.0, 2]) == (float, int)
    assert facts.seq_key([a] * (facts._SEQ_MAX + 1)) is None
    assert facts.seq_key([{"a": a}]) is None
    assert facts.signature(([a],)) != facts.signature(([a.T],))


@pytest.mark.parametrize("n", [1, 3])
def test_one_and_three_hidden_layers(n):
    rng = np.random.default_rng(5 + n)
    sizes = (4,) + tuple(3 + k for k in range(n)) + (2,)
    _check(mlp, _layers(rng, sizes), rng.normal(size=(5, 4)))


def test_the_gradient_of_the_list_is_a_display_of_fresh_arrays():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(4, 5))
    params = _layers(rng, (5, 4, 3, 2))
    for wrt in (0, (0,), "params"):
        df = sd.grad(mlp, wrt=wrt)
        g = df(params, x)
        src = sd.source(df, params, x)
        assert "scatter_basic" not in src and "grad_like" not in src, src
        g = g[0] if isinstance(wrt, tuple) else g
        assert type(g) is list and all(type(layer) is tuple for layer in g)
        assert all(not np.shares_memory(a, b) for a in _leaves(g) for b in _leaves(params))
    _check(mlp, params, x)


def unused_layer(params, x):
    (W0, b0), (W1, b1), (W2, b2) = params
    return np.sum(np.tanh(x @ W0 + b0) @ W2 + b2)  # (W1, b1: no gradient reaches them)


def test_a_layer_no_gradient_reaches_gets_zeros():
    rng = np.random.default_rng(9)
    params = _layers(rng, (3, 4, 4, 2))
    _, src = _check(unused_layer, params, rng.normal(size=(5, 3)))
    g = sd.grad(unused_layer)(params, rng.normal(size=(5, 3)))
    assert np.all(g[1][0] == 0) and np.all(g[1][1] == 0) and g[1][0].shape == (4, 4)


def shared(params, x):
    W, b = params[0]
    y = np.tanh(x @ W + b)
    W2, b2 = params[0]  # (the same layer read twice: its gradient entries are added)
    return np.sum((y @ W2 + b2) ** 2)


def test_a_layer_read_twice_adds_its_entries():
    rng = np.random.default_rng(10)
    params = _layers(rng, (3, 3, 3))
    _check(shared, params, rng.normal(size=(5, 3)))
