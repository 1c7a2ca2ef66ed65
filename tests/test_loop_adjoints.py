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
from sourcediff.compiler.emit import to_source
from sourcediff.compiler.optimize import last_pass_guards
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


# ---------------------------------------------------------------- weight gradients of loops
# (sourcediff/specialize.py, _stack_loop_products: W_bar = W_bar + h.T @ d in an adjoint loop
# becomes one product of the stacked h and d after the loop)


def rnn(xs, h0, Wx, Wh):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh)
    return np.sum(h * h)


def rnn_writes(xs, h0, Wx, Wh):
    H = np.zeros((xs.shape[0] + 1,) + h0.shape)
    H[0] = h0
    for t in range(xs.shape[0]):
        # a write into an array inside the loop: its adjoint restores H[t + 1] in place, so a
        # view H[t] kept for after the loop would read what a later pass restored
        H[t + 1] = np.tanh(xs[t] @ Wx + H[t] @ Wh)
    return np.sum(H * H)


def rnn_vector(xs, h0, Wx, Wh):
    h = h0  # 1-D states: h.T @ d would be a dot product, not an outer one
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh)
    return np.sum(h * h)


def _rnn_args(rng, T=7, n=4, d_in=3, d_h=5, dtype=np.float64):
    return (rng.standard_normal((T, n, d_in)).astype(dtype),
            rng.standard_normal((n, d_h)).astype(dtype) * 0.1,
            (rng.standard_normal((d_in, d_h)) * 0.5).astype(dtype),
            (rng.standard_normal((d_h, d_h)) * 0.4).astype(dtype))


def test_add_stacked_products_is_the_sum_of_the_products():
    from sourcediff import runtime

    rng = np.random.default_rng(5)
    hs = [rng.standard_normal((4, 3)) for _ in range(6)]
    ds = [rng.standard_normal((4, 2)) for _ in range(6)]
    expected = sum(h.T @ d for h, d in zip(hs, ds))
    np.testing.assert_allclose(runtime.add_stacked_products(0.0, hs, ds), expected, rtol=1e-13)
    np.testing.assert_allclose(runtime.add_stacked_products(expected, hs[:1], ds[:1]),
                               expected + hs[0].T @ ds[0], rtol=1e-13)
    acc = np.ones((3, 2))
    assert runtime.add_stacked_products(acc, [], []) is acc  # no passes: nothing added
    assert runtime.add_stacked_products(0.0, [], []) == 0.0


def test_a_loop_weight_gradient_becomes_one_product_after_the_loop():
    rng = np.random.default_rng(6)
    args = _rnn_args(rng)
    df = sd.grad(rnn, wrt=(2, 3))
    generic, text = sd.source(df), sd.source(df, *args)
    assert "add_stacked_products" not in generic  # (the pass needs the shapes: specializer only)
    # both products read the same per-pass gradient (_matmul1_bar and _matmul2_bar are copies of
    # _add1_bar): one list, stacked once. The rows xs[t] the forward loop read are xs itself, a
    # view in forward order (forward_rows.py): the other lists are stacked in that order too
    # (the rows of the pre-activation's gradient written in place: specialize/stacked_rows.py)
    assert "_stacked1 = _Wh_bar_rhs1.reshape(-1, 5) if _n1 else []" in text, text
    assert "Wh_bar = _sd.add_stacked_products(Wh_bar, _Wh_bar_lhs1[::-1], _stacked1)" in text, text
    assert "Wx_bar = _sd.add_stacked_products(Wx_bar, xs[:_n1].reshape(_n1 * 4, 3), _stacked1)" \
        in text, text
    assert "_Wx_bar_lhs1" not in text and "_stack.append(_item" not in text, text
    assert "_Wh_bar_lhs1.append(h)" in text and "Wh_bar = Wh_bar + h.T @" not in text, text
    gx, gh = df(*args)
    px, ph = sd.grad(rnn, wrt=(2, 3), optimize=False)(*args)
    np.testing.assert_allclose(gx, px, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gh, ph, rtol=1e-12, atol=1e-14)
    check_grads_fd(rnn, args, (2, 3), (gx, gh))


@pytest.mark.parametrize("T", [0, 1, 2])
def test_stacked_products_for_no_one_or_two_passes(T):
    rng = np.random.default_rng(7)
    args = _rnn_args(rng, T=T)
    got = sd.grad(rnn, wrt=(2, 3))(*args)
    plain = sd.grad(rnn, wrt=(2, 3), optimize=False)(*args)
    for g, p, a in zip(got, plain, args[2:]):
        assert isinstance(g, np.ndarray) and g.shape == a.shape and g.dtype == a.dtype
        np.testing.assert_allclose(g, p, rtol=1e-12, atol=1e-14)


def test_stacked_products_keep_float32():
    rng = np.random.default_rng(8)
    args = _rnn_args(rng, dtype=np.float32)
    df = sd.grad(rnn, wrt=(2, 3))
    assert "add_stacked_products" in sd.source(df, *args)
    got = df(*args)
    plain = sd.grad(rnn, wrt=(2, 3), optimize=False)(*args)
    for g, p in zip(got, plain):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, p, rtol=1e-5, atol=1e-6)


ACCUMULATING = """
def g(H, D):
    W_bar = 0.0
    h = H[0]
    d = D[0]
    for _ in range(3):
        W_bar = W_bar + h.T @ d
        h = h * 2.0
        WRITE
    return W_bar
"""


@pytest.mark.parametrize("write, stacked", [
    ("pass", True),
    ("h[0, 0] = 5.0", False),  # a later pass changes an array an earlier pass read
    ("np.multiply(d, 2.0, out=d)", False),
    ("_ = np.multiply(d, 2.0, out=d)", False),
    ("d.fill(1.0)", False),
    ("_ = d.sort()", False),
])
def test_only_a_loop_that_writes_into_no_array_has_its_products_stacked(write, stacked):
    """Specialize a small function shaped like generated code; when anything in the loop could
    write into an array, the arrays kept for after the loop could be changed by a later pass."""
    from sourcediff import runtime
    from sourcediff.specialize import passes

    code = ACCUMULATING.replace("WRITE", write)
    fdef = gast.parse(code).body[0]
    rng = np.random.default_rng(11)
    H, D = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 5))
    bound = {"np": np, "_sd": runtime}

    def bind(wanted, obj):
        bound[wanted] = obj
        return wanted

    out = passes.specialize(fdef, ["H", "D"], (H, D), namespace={"np": np, "_sd": runtime,
                                "range": range}, stack_name="_stack",
                                removable={"W_bar", "_", "h", "d"}, where_names=set(),
                                runtime_names={"_sd"}, bind=bind)
    text = to_source(out) if out is not None else code
    assert ("add_stacked_products" in text) == stacked, text
    expected, got = {}, {}
    exec(compile(code, "<plain>", "exec"), {"np": np}, expected)
    exec(compile(text, "<special>", "exec"), bound, got)
    np.testing.assert_allclose(got["g"](H.copy(), D.copy()), expected["g"](H.copy(), D.copy()),
                               rtol=1e-13)


def test_a_loop_that_writes_into_an_array_keeps_its_products_in_the_loop():
    rng = np.random.default_rng(9)
    args = _rnn_args(rng)
    df = sd.grad(rnn_writes, wrt=(2, 3))
    assert "add_stacked_products" not in sd.source(df, *args)
    got = df(*args)
    check_grads_fd(rnn_writes, args, (2, 3), got)


def test_products_of_vectors_or_of_large_operands_are_not_stacked():
    rng = np.random.default_rng(10)
    xs, h0, Wx, Wh = _rnn_args(rng)
    args = (xs[:, 0, :], h0[0], Wx, Wh)
    df = sd.grad(rnn_vector, wrt=(2, 3))
    assert "add_stacked_products" not in sd.source(df, *args)
    check_grads_fd(rnn_vector, args, (2, 3), df(*args))
    big = _rnn_args(rng, T=2, n=300, d_in=3, d_h=250)  # h and d: 300 x 250 x 8 B > 512 kB
    df = sd.grad(rnn, wrt=(2, 3))
    text = sd.source(df, *big)
    assert "Wh_bar = _sd.add_stacked_products" not in text, text
