"""numpy's reductions of an ndarray called as its methods (specialize/methods.py), and per-pass
rows written in place (specialize/stacked_rows.py): a list of rows an adjoint loop
appends, stacked after it, becomes an array made before the loop whose rows each pass's
elementwise operation writes with ``out=``. The gradients must be the same bits as the code
without the pass (the same ufuncs, the rows in the same order) and agree with finite
differences, for every pass count (none and one included) and dtype; the pass must leave alone
a list read otherwise, a row not made by an elementwise operation of the pass, a loop that can
leave early or whose count is not known when it starts."""

import textwrap

import gast
import numpy as np
import pytest

import sourcediff as sd
from sourcediff.specialize.facts import Arr, Known
from sourcediff.specialize.stacked_rows import rows_in_place
from tests import test_specialize_passes
from tests.loop_losses import rnn_break
from tests.oracles import check_grads_fd
from tests.passes_off import specialized


def biased_rnn(xs, h0, Wx, Wh, b, Wo):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum((h @ Wo) ** 2)


def two_stage_rnn(xs, h0, Wx, Wh, b, c):
    h = h0
    for t in range(xs.shape[0]):
        z = np.tanh(xs[t] @ Wx + h @ Wh + b)
        h = np.sin(z + c)
    return np.sum(h ** 2)


def listed_rnn(xs, h0, Wx, Wh, b):
    hs = []  # (the user's list, stacked by numpy: not the runtime's rows)
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        hs.append(h)
    return np.sum(np.stack(hs) ** 2)


def branching_rnn(xs, h0, Wx, Wh, b):
    h = h0
    for t in range(xs.shape[0]):
        if t % 2:
            h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        else:
            h = np.sin(xs[t] @ Wx + h @ Wh + b)
    return np.sum(h ** 2)


def _args(steps, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((steps, 4, 3))
    h0 = rng.standard_normal((4, 5)) * 0.1
    Wx = rng.standard_normal((3, 5)) * 0.5
    Wh = rng.standard_normal((5, 5)) * 0.3
    b = rng.standard_normal(5) * 0.1
    Wo = rng.standard_normal((5, 2))
    return tuple(a.astype(dtype) for a in (xs, h0, Wx, Wh, b, Wo))


def _same_bits(a, b):
    for u, v in zip(a, b):
        u, v = np.asarray(u), np.asarray(v)
        assert u.dtype == v.dtype and u.shape == v.shape
        assert u.tobytes() == v.tobytes()


def _with_and_without(fn, args, wrt):
    text, grads = specialized(fn, args, wrt)
    text_off, grads_off = specialized(fn, args, wrt, {"rows in place"})
    _same_bits(grads, grads_off)
    return text, text_off, grads


@pytest.mark.parametrize("steps", [1, 2, 9])
def test_bias_rows_written_in_place_same_bits(steps):
    args = _args(steps)
    text, text_off, grads = _with_and_without(biased_rnn, args, (2, 3, 4, 5))
    assert "_b_bar_rows1 = _sd.np.empty((_n1, 4, 5), 'float64')" in text, text
    assert "out=_b_bar_rows1[_left1])" in text and "_b_bar_rows1.reshape(-1, 5)" in text, text
    assert "_b_bar_rows1.append" not in text and "stack_rows(_b_bar_rows1" not in text, text
    assert "_b_bar_rows1.append" in text_off, text_off  # (without the pass: the list)
    check_grads_fd(biased_rnn, args, (2, 3, 4, 5), grads)


def test_no_pass_keeps_zero_gradients():
    args = _args(0)
    grads = sd.grad(biased_rnn, wrt=(2, 3, 4))(*args)
    for g, w in zip(grads, args[2:5]):
        assert g.shape == w.shape and not np.any(g)
    check_grads_fd(biased_rnn, args, (2, 3, 4), grads)


def test_float32_rows_keep_their_dtype():
    args = _args(6, np.float32)
    text, _, grads = _with_and_without(biased_rnn, args, (2, 3, 4, 5))
    assert "_sd.np.empty((_n1, 4, 5), 'float32')" in text, text
    assert all(g.dtype == np.float32 for g in grads)
    wide = sd.grad(biased_rnn, wrt=(2, 3, 4, 5))(*(a.astype(np.float64) for a in args))
    for g, w in zip(grads, wide):
        np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-5)


def test_rows_read_again_in_the_pass_and_after_it():
    """z's gradient is the row written in place; the next pass reads it (through h's gradient)
    and the weight products after the loop read the stacked rows."""
    rng = np.random.default_rng(3)
    args = _args(7)[:5] + (rng.standard_normal(5) * 0.2,)
    text, _, grads = _with_and_without(two_stage_rnn, args, (2, 3, 4, 5))
    assert "out=_b_bar_rows1[_left1])" in text, text
    check_grads_fd(two_stage_rnn, args, (2, 3, 4, 5), grads)


def test_row_appended_under_a_copys_name():
    """With these shapes the bias sum stays in the loop and the list holds ``_matmul2_bar``, a
    copy of the elementwise product's name: the product is the one written in place."""
    rng = np.random.default_rng(0)
    args = (rng.normal(size=(5, 4, 3)), rng.normal(size=(3, 6)), rng.normal(size=(6, 6)) * 0.3,
            rng.normal(size=6), np.zeros((4, 6)))
    text, _, grads = _with_and_without(test_specialize_passes.biased_rnn, args, (1, 2, 3))
    assert "_add2_bar = np_multiply(h_bar, 1.0 - h * h, out=_Wh_bar_rhs1[_left1])" in text, text
    assert "_stacked1 = _Wh_bar_rhs1.reshape(-1, 6)" in text, text
    check_grads_fd(test_specialize_passes.biased_rnn, args, (1, 2, 3), grads)


@pytest.mark.parametrize("fn", [listed_rnn, branching_rnn, rnn_break])
def test_other_loops_keep_their_gradients(fn):
    args = _args(6)[:5]
    if fn is rnn_break:
        args = (args[0] * 0.1,) + args[2:5]
    wrt = tuple(range(1, len(args)))
    text, _, grads = _with_and_without(fn, args, wrt)
    if fn is listed_rnn:  # (the user's list stays a list)
        assert "hs.append(h)" in text or "hs = []" in text, text
    check_grads_fd(fn, args, wrt, grads)


# ------------------------------------------------------- the pass alone, on written-out code

_HEAD = """
def f(h_bar, h, n0):
    acc = 0.0
    _n1 = 0
    for t in range(n0):
        _n1 = _n1 + 1
"""


def _run_pass(src):
    """(rewritten source, changes) of rows_in_place on ``src``, every elementwise operator
    given the fact of a (2, 3) float64 array."""
    fdef = gast.parse(textwrap.dedent(src)).body[0]
    facts = {id(n): Arr((2, 3), np.float64) for n in gast.walk(fdef)
             if isinstance(n, gast.BinOp)}
    changed = rows_in_place(fdef, facts, {"_sd"})
    return gast.unparse(fdef), changed


def _call(src, n0):
    rng = np.random.default_rng(n0)
    ns = {"_sd": sd.runtime, "np": np}
    exec(compile(textwrap.dedent(src), "<test>", "exec"), ns)
    return ns["f"](rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), n0)


_DOWN = _HEAD + """
    rows = []
    for c in range(_n1 - 1, -1, -1):
        d = h_bar * (1.0 - h * h)
        rows.append(d)
        h_bar = d * 0.5
    s = _sd.stack_rows(rows{order})
    acc = _sd.add_stacked_sums(acc, s)
    acc = _sd.add_stacked_products(acc, rows{order}, s)
    return acc
"""

_UP = """
def f(h_bar, h, n0):
    acc = 0.0
    rows = []
    for c in range(4):
        d = np.tanh(h_bar * (1.0 + c))
        rows.append(d)
    return _sd.add_stacked_products(acc, rows{order}, np.arange(24.0).reshape(8, 3))
"""


@pytest.mark.parametrize("template", [_DOWN, _UP], ids=["down", "up"])
@pytest.mark.parametrize("order", ["", "[::-1]"])
@pytest.mark.parametrize("n0", [0, 1, 5])
def test_every_order_of_rows_lands_where_the_concatenation_put_it(template, order, n0):
    src = template.replace("{order}", order)
    if template is _UP:  # (np.tanh(...) a ufunc call: its fact, as the inference gives it)
        fdef = gast.parse(textwrap.dedent(src)).body[0]
        call = next(n for n in gast.walk(fdef) if isinstance(n, gast.Call) and
                    isinstance(n.func, gast.Attribute) and n.func.attr == "tanh")
        facts = {id(call): Arr((2, 3), np.float64), id(call.func): Known(np.tanh)}
        changed = rows_in_place(fdef, facts, {"_sd"})
        new = gast.unparse(fdef)
    else:
        new, changed = _run_pass(src)
    assert changed == 1, new
    assert ".append" not in new and "stack_rows" not in new and "np.empty" in new, new
    before, after = _call(src, n0), _call(new, n0)
    assert np.asarray(before).tobytes() == np.asarray(after).tobytes()
    assert type(before) is type(after)


@pytest.mark.parametrize("change", [
    ("for c in range(_n1 - 1, -1, -1):", "for c in range(n0 - 1, -1, -1):"),  # (count unknown)
    ("h_bar = d * 0.5", "h_bar = d * 0.5\n        if c == 2:\n            break"),  # (leaves)
    ("h_bar = d * 0.5", "h_bar = d * len(rows)"),  # (the list read in the loop)
    ("return acc", "return acc, rows"),  # (the list read after it)
    ("acc = _sd.add_stacked_sums(acc, s)", "acc = _sd.add_stacked_sums(acc, s[0])"),
    ("s = _sd.stack_rows(rows)", "s = 2.0 * _sd.stack_rows(rows)"),  # (stacked, then read)
    ("d = h_bar * (1.0 - h * h)\n        rows.append(d)",
     "d = h_bar\n        rows.append(d)"),  # (a row not made by the pass)
    ("rows.append(d)", "if c:\n            rows.append(d)"),  # (not in every pass)
    ("rows.append(d)", "rows.append(d)\n        d = d * 2.0"),  # (the row assigned again)
    ("s = _sd.stack_rows(rows)", "s = _sd.stack_rows(rows[::-1])"),  # (two orders)
])
def test_left_alone(change):
    src = _DOWN.replace("{order}", "").replace(*change)
    assert src != _DOWN.replace("{order}", "")
    new, changed = _run_pass(src)
    assert changed == 0 and "rows.append(d)" in new and "np.empty" not in new, new


# ----------------------------------------------------------- reductions called as methods


def reductions(x, w):
    a = np.sum(x * w, axis=1, keepdims=True)
    b = np.max(x, 0) + np.min(x, axis=0) + np.amax(x * w, axis=(0,))
    c = np.prod(np.tanh(x) + 2.0, axis=-1)
    return np.sum(np.sin(a) * np.mean(x, 1)[:, None]) + np.mean(b * w) + np.sum(c)


def listed_max(w, c):
    return np.sum(np.max(c, axis=0) * w ** 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_reductions_as_methods_same_bits(dtype):
    rng = np.random.default_rng(5)
    args = (rng.standard_normal((7, 4)).astype(dtype), rng.standard_normal(4).astype(dtype))
    text, text_off = [specialized(reductions, args, (0, 1), skip)[0]
                      for skip in ((), {"reduction methods"})]
    text, text_off = [_code(t) for t in (text, text_off)]
    for call in ("np.sum(", "np.max(", "np.min(", "np.amax(", "np.prod(", "np.mean("):
        assert call in text_off and call not in text, text
    for call in ("a = _mul1.sum(axis=1, keepdims=True)", "_max1 = x.max(axis=0)",
                 "_min1 = x.min(axis=0)", "_amax1 = _mul2.max(axis=(0,))",
                 "c = _add2.prod(axis=-1)", "_mean1 = x.mean(axis=1)"):
        assert call in text, text
    _, grads, _ = _with_and_without_pass(reductions, args, (0, 1), "reduction methods")
    if dtype == np.float64:
        check_grads_fd(reductions, args, (0, 1), grads)
    value = sd.value_and_grad(reductions, wrt=(0, 1))(*args)[0]
    assert np.asarray(value).tobytes() == np.asarray(reductions(*args)).tobytes()


def _code(text):
    """``text`` without its comment lines (they quote the user's source)."""
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("#"))


def _with_and_without_pass(fn, args, wrt, name):
    text, grads = specialized(fn, args, wrt)
    text_off, grads_off = specialized(fn, args, wrt, {name})
    _same_bits(grads, grads_off)
    return text, grads, text_off


def test_reduction_of_a_list_stays_numpys():
    args = (np.arange(3.0) - 1.0, [[1.0, 5.0, 2.0], [4.0, 0.5, 3.0]])
    df = sd.grad(listed_max)
    grad = df(*args)
    text = sd.source(df, *args)
    assert "np.max(c, axis=0)" in text, text
    check_grads_fd(listed_max, args, (0,), (grad,))
