"""Passes on the adjoint sweep's loops (sourcediff/optimize.py), each shown before and after, with
the gradients checked against finite differences and against the unoptimized code.

The last-pass guard: in ``for _ in range(n)`` of the adjoint sweep, a compiler-made assignment whose
value only the next pass reads is skipped in the last pass (the gradient of a loop input that is not
differentiated, such as the input ``x`` of the first layer in a loop over layers).
"""

import textwrap

import gast
import numpy as np
import pytest

import sourcediff as sd
from sourcediff.emit import to_source
from sourcediff.optimize import last_pass_guards
from tests.oracles import check_grads_fd


def _guarded(code, removable, live_out=()):
    body = gast.parse(textwrap.dedent(code)).body
    taken = {n.id for n in gast.walk(gast.Module(body=body, type_ignores=[]))
             if isinstance(n, gast.Name)}
    counts = {}

    def fresh(hint):
        counts[hint] = counts.get(hint, 0) + 1
        name = f"_{hint}{counts[hint]}"
        assert name not in taken
        return name

    out = last_pass_guards(body, set(removable), set(live_out), fresh)
    fdef = gast.FunctionDef(name="f", args=gast.arguments(
        args=[], posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
        defaults=[]), body=out, decorator_list=[], returns=None, type_comment=None,
        type_params=[])
    return textwrap.dedent("\n".join(to_source(fdef).splitlines()[1:])) + "\n"


LAYERS = """
    for _ in range(_n1):
        _add1_bar = h_bar * (1.0 - h * h)
        h = _stack.pop()
        h_bar = _add1_bar @ W.T
        W_bar = W_bar + h.T @ _add1_bar
    out = W_bar
"""


def test_the_last_pass_skips_what_only_a_next_pass_reads():
    got = _guarded(LAYERS, {"_", "_add1_bar", "h_bar", "W_bar"}, {"out"})
    assert got == textwrap.dedent("""\
        for _left1 in range(_n1 - 1, -1, -1):
            _add1_bar = h_bar * (1.0 - h * h)
            h = _stack.pop()
            if _left1:
                # (only a next pass reads h_bar: the last pass skips it)
                h_bar = _add1_bar @ W.T
            W_bar = W_bar + h.T @ _add1_bar
        out = W_bar
    """), got


def test_a_value_read_after_the_loop_is_computed_in_every_pass():
    got = _guarded(LAYERS.replace("out = W_bar", "out = (W_bar, h_bar)"),
                   {"_", "_add1_bar", "h_bar", "W_bar"}, {"out"})
    assert "if " not in got and "for _ in range(_n1):" in got, got


def test_a_value_read_later_in_the_same_pass_is_computed_in_every_pass():
    code = LAYERS.replace("W_bar = W_bar + h.T @ _add1_bar", "W_bar = W_bar + h_bar.sum()")
    got = _guarded(code, {"_", "_add1_bar", "h_bar", "W_bar"}, {"out"})
    assert "if " not in got, got


@pytest.mark.parametrize("change", [
    ("for _ in range(_n1):", "for t in range(_n1):"),  # a user's loop variable: not made here
    ("h = _stack.pop()", "h = _stack.pop()\n        print(_)"),  # the counter is read
    ("h = _stack.pop()", "h = _stack.pop()\n        if h is None:\n            break"),
    ("for _ in range(_n1):", "for _ in range(1, _n1):"),
])
def test_loops_that_are_not_plain_adjoint_passes_are_left_alone(change):
    code = LAYERS.replace(*change)
    got = _guarded(code, {"_", "_add1_bar", "h_bar", "W_bar"}, {"out"})
    assert "if _left" not in got, got


def test_a_chain_that_only_feeds_the_skipped_value_is_skipped_with_it():
    code = """
        for _ in range(_n1):
            _g = h_bar * 2.0
            _t = _g @ W.T
            h_bar = _t + 1.0
            W_bar = W_bar + _g
        out = W_bar
    """
    got = _guarded(code, {"_", "_g", "_t", "h_bar", "W_bar"}, {"out"})
    assert "    if _left1:\n        # (only a next pass reads _t, h_bar: the last pass skips it)\n" \
        "        _t = _g @ W.T\n        h_bar = _t + 1.0\n" in got, got
    assert "    _g = h_bar * 2.0\n" in got.split("if _left1")[0], got


# ---------------------------------------------------------------- end to end


def layers(Ws, x):
    h = x
    for W in Ws:
        h = np.tanh(np.dot(h, W))
    return np.sum(h * h)


def nested(Ws, x, reps):
    total = 0.0
    for r in range(reps):
        h = x * (r + 1.0)
        for W in Ws:
            h = np.sin(h @ W)
        total = total + np.sum(h)
    return total


def _layer_args(rng, sizes=(5, 4, 3, 2)):
    Ws = [rng.standard_normal((m, n)) * 0.5 for m, n in zip(sizes[:-1], sizes[1:])]
    return Ws, rng.standard_normal((6, sizes[0]))


def test_the_first_layers_input_gradient_is_not_computed_when_x_is_not_differentiated():
    rng = np.random.default_rng(0)
    Ws, x = _layer_args(rng)
    df = sd.grad(layers, wrt=0)
    text = sd.source(df)
    assert "if _left1:" in text and "for _left1 in range(_n1 - 1, -1, -1):" in text, text
    got = df(Ws, x)
    plain = sd.grad(layers, wrt=0, optimize=False)(Ws, x)
    for g, p, W in zip(got, plain, Ws):
        assert g.shape == W.shape
        np.testing.assert_allclose(g, p, rtol=1e-12, atol=1e-15)
    for k in range(len(Ws)):
        def one(W_, k=k):
            return layers(Ws[:k] + [W_] + Ws[k + 1:], x)
        check_grads_fd(one, (Ws[k],), (0,), (got[k],))


def test_with_x_differentiated_every_pass_computes_the_input_gradient():
    rng = np.random.default_rng(1)
    Ws, x = _layer_args(rng)
    df = sd.grad(layers, wrt=(0, 1))
    assert "if _left" not in sd.source(df)
    gW, gx = df(Ws, x)
    check_grads_fd(lambda x_: layers(Ws, x_), (x,), (0,), (gx,))


@pytest.mark.parametrize("n_layers", [0, 1, 2, 3])
def test_any_number_of_passes_gives_the_unoptimized_gradient(n_layers):
    rng = np.random.default_rng(2)
    Ws, x = _layer_args(rng, sizes=(3,) * (n_layers + 1))
    for wrt in ((0, (0, 1), 1) if n_layers else (1,)):  # (an empty list has no gradient)
        got = sd.grad(layers, wrt=wrt)(Ws, x)
        plain = sd.grad(layers, wrt=wrt, optimize=False)(Ws, x)
        for g, p in zip(_leaves(got), _leaves(plain), strict=True):
            np.testing.assert_allclose(g, p, rtol=1e-12, atol=1e-15)


def test_nested_adjoint_loops_each_skip_their_own_last_pass():
    rng = np.random.default_rng(3)
    Ws, x = _layer_args(rng, sizes=(3, 3, 3))
    df = sd.grad(nested, wrt=0)
    text = sd.source(df)
    assert "if _left" in text, text
    got = df(Ws, x, 3)
    plain = sd.grad(nested, wrt=0, optimize=False)(Ws, x, 3)
    for g, p in zip(got, plain):
        np.testing.assert_allclose(g, p, rtol=1e-12, atol=1e-15)
    for k in range(len(Ws)):
        def one(W_, k=k):
            return nested(Ws[:k] + [W_] + Ws[k + 1:], x, 3)
        check_grads_fd(one, (Ws[k],), (0,), (got[k],))
    gx = sd.grad(nested, wrt=1)(Ws, x, 3)
    check_grads_fd(lambda x_: nested(Ws, x_, 3), (x,), (0,), (gx,))


def test_second_order_through_a_guarded_loop():
    rng = np.random.default_rng(4)
    Ws, x = _layer_args(rng, sizes=(3, 3, 2))
    g2 = sd.grad(_grad_norm, wrt=0)(Ws[0], Ws[1], x)
    check_grads_fd(_grad_norm, (Ws[0], Ws[1], x), (0,), (g2,), rtol=1e-4)


def _grad_norm(W0, W1, x):
    g = sd.grad(layers, wrt=0)([W0, W1], x)
    return np.sum(g[0] * g[0]) + np.sum(g[1] * g[1])


def _leaves(tree):
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [tree]
