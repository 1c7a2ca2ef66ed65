"""Optimizing passes on generated code (sourcediff/optimize.py, sourcediff/specialize.py), each
shown before and after, with the gradients checked against finite differences.

The inline pass folds a compiler temporary read once into its reader; it may only move code
that the emitter marked pure, and only where every value stays the same.
"""

import textwrap

import gast
import numpy as np
import pytest

import sourcediff as sd
from sourcediff.compiler.emit import to_source
from sourcediff.compiler.optimize import inline_temps
from tests.oracles import check_grads_fd
from tests.test_specialize import scalar_loop


def _body(code, pure=None):
    """Statements of ``code``; those whose first target is in ``pure`` (all by default) are
    marked as the forward emitter marks one primitive of the rule table."""
    tree = gast.parse(textwrap.dedent(code))
    for node in gast.walk(tree):
        if isinstance(node, gast.stmt):
            node.lineno = 7  # all from one line of the user's function
        if isinstance(node, gast.Assign) and (pure is None or node.targets[0].id in pure):
            node.sd_pure = True
    return tree.body


def _text(stmts):
    fdef = gast.FunctionDef(name="f", args=gast.arguments(
        args=[], posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
        defaults=[]), body=stmts, decorator_list=[], returns=None, type_comment=None,
        type_params=[])
    return "\n".join(line.strip() for line in to_source(fdef).splitlines()[1:])


def test_a_temporary_read_once_is_folded_into_its_reader():
    body = _body("""
        _mul1 = x * a
        _sin1 = np.sin(x)
        y = _mul1 + _sin1
    """)
    assert _text(inline_temps(body, {"_mul1", "_sin1"})) == "y = x * a + np.sin(x)"


def test_a_rebinding_in_between_moves_below_the_reader_when_independent():
    body = _body("""
        _s = x_dot * np.cos(x)
        x = _m + _n
        x_dot = x_dot * a + _s
    """)
    assert _text(inline_temps(body, {"_s"})) == \
        "x_dot = x_dot * a + x_dot * np.cos(x)\nx = _m + _n"


def test_a_rebinding_the_reader_depends_on_stays_and_so_does_the_temporary():
    # the reader also reads the new x, so x = ... cannot move below it
    body = _body("""
        _s = x_dot * np.cos(x)
        x = _m + _n
        x_dot = _sd.broadcast_tangent(_s, x)
    """)
    assert _text(inline_temps(body, {"_s"})).splitlines()[0] == "_s = x_dot * np.cos(x)"


def test_nothing_moves_across_a_statement_that_is_not_marked_pure():
    # h(a) may write into a; np.sin(a) must be computed before it
    body = _body("""
        _sin1 = np.sin(a)
        _h1 = h(a)
        y = _sin1 + _h1
    """, pure={"_sin1", "y"})
    assert _text(inline_temps(body, {"_sin1", "_h1"})).splitlines()[0] == "_sin1 = np.sin(a)"


@pytest.mark.parametrize("reader", ["y = [_t * r for r in rows]", "y = lambda: _t",
                                    "while _t:\n    pass"])
def test_a_read_that_runs_many_times_keeps_its_temporary(reader):
    body = _body("_t = np.exp(x)\n" + reader)
    assert _text(inline_temps(body, {"_t"})).splitlines()[0] == "_t = np.exp(x)"


def test_a_temporary_read_twice_or_written_twice_stays():
    body = _body("""
        _t = np.exp(x)
        y = _t + _t
    """)
    assert _text(inline_temps(body, {"_t"})).startswith("_t = np.exp(x)")
    body = _body("""
        _t = np.exp(x)
        _t = np.exp(y)
        z = _t
    """)
    assert _text(inline_temps(body, {"_t"})).startswith("_t = np.exp(x)")


def test_a_user_name_is_never_folded():
    body = _body("""
        t = np.exp(x)
        y = t * 2.0
    """)
    assert _text(inline_temps(body, {"_t"})).startswith("t = np.exp(x)")


def test_a_temporary_folds_into_a_branch_test_but_no_statement_moves_past_a_branch():
    body = _body("""
        _cmp = x > 0
        if _cmp:
            y = 1.0
    """)
    assert _text(inline_temps(body, {"_cmp"})).startswith("if x > 0:")


def test_forward_mode_code_for_a_float_loop_is_the_hand_written_carry():
    """The specialized forward code of a float-to-float loop computes what one writes by hand
    (``g *= a + cos(x)`` before ``x`` moves on): no temporaries, the tangent factored."""
    df = sd.grad(scalar_loop)
    text = sd.source(df, 0.3, 1.2, -1.1)
    assert "x_dot = x_dot * (a + np_cos(x))\n" in text, text
    assert "x_dot = x_dot * (b + np_sin(x))\n" in text, text
    assert "x = x * a + np_sin(x)\n" in text and "_mul" not in text and "_sin1" not in text
    for x0 in (0.3, -0.7, 1.9):
        check_grads_fd(scalar_loop, (x0, 1.2, -1.1), (0,), (df(x0, 1.2, -1.1),))


def scaled_sum(x, a, b):
    return np.sum(x * a + x * b)


def test_factoring_needs_float64_operands():
    """``t * a + t * b`` becomes ``t * (a + b)`` in float64 only: in int8, ``a + b`` wraps around
    where the two float products did not."""
    df = sd.grad(scaled_sum)  # one float input: forward mode
    a = np.arange(5, dtype=np.int8) * np.int8(30)
    b = np.full(5, 100, dtype=np.int8)
    assert "(a + b)" in sd.source(df, 0.5, a.astype(float), b.astype(float))
    assert "(a + b)" not in sd.source(df, 0.5, a, b)
    expected = np.sum(a.astype(float) + b.astype(float))
    assert df(0.5, a, b) == expected
    assert df(0.5, a.astype(float), b.astype(float)) == expected


def mlp_loss(x, w1, b1, w2):
    h = np.tanh(x @ w1 + b1)
    out = h @ w2
    return np.sum(out * out)


def test_folding_stays_inside_each_user_line():
    """A temporary read by another line's code keeps its name: the forward source stays one
    short block per user line instead of one expression for the whole function."""
    text = sd.source(sd.jvp(mlp_loss, wrt=1))
    code = [line.strip() for line in text.splitlines() if not line.strip().startswith("#")]
    assert any(line.startswith("h_dot = ") for line in code), text
    assert any(line.startswith("out_dot = ") for line in code), text
    assert all(len(line) < 120 for line in code), text
    rng = np.random.default_rng(0)
    args = (rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5),
            rng.standard_normal((5, 2)))
    check_grads_fd(mlp_loss, args, (1, 2), sd.grad(mlp_loss, wrt=(1, 2), mode="forward")(*args))
