"""review46: the specializer's rewrites held to their preconditions, adversarially.

Programs that sit just inside and just outside each rewrite of the specialize stage (loop
products hoisted before a loop, weight gradients stacked after the adjoint loop, buffers reused
in place, large arrays released after their last read or replaced by a shape-only stand-in, row
blocks) are checked in the default (specialized) mode against finite differences and against the
generic code, and the values a gradient call returns against the function's own.

What was found and fixed: the analyses that judge a name's uses by its parent node took the
generated tree for a tree, but generated code shares Name nodes (the jvp form returns
``(out, _sd.grad_like(out_dot, out))`` with one ``out`` node in both places), so a value read was
taken for a shape-only read and the release pass replaced the function's returned value by
``_sd.like_of``'s zeros."""

import copy

import gast
import numpy as np
import pytest

import sourcediff as sd
from sourcediff import compiled, jit, runtime
from sourcediff.compiler.saves import type_only_names
from sourcediff.specialize import passes, rows
from sourcediff.syntax import unshared
from tests.oracles import check_grads_fd
from tests.programs import review46_specialize as P


@pytest.fixture
def strict(monkeypatch):
    """Specialization errors surface (a specializer that gives up would hide what is tested)."""
    monkeypatch.setattr(compiled, "_SPECIALIZE", "strict")
    sd.clear_cache()
    yield
    sd.clear_cache()


V = np.linspace(0.0, 1.0, 20000)  # large enough (160 KB) for the release pass


def one_fft_entry(a, v):
    # a 1-element array (a scalar output for grad) whose fact the inference does not know
    return np.real(np.fft.fft(np.sin(a * v))[:1])


def test_value_of_a_float_argument_gradient_is_the_functions_value(strict):
    # a Python float wrt argument runs the jvp form (one forward pass); its returned value was
    # replaced by the stand-in of zeros, because its Name node is shared with grad_like's argument
    value, g = sd.value_and_grad(one_fft_entry)(0.3, V)
    want = one_fft_entry(0.3, V)
    assert np.array_equal(value, want) and value[0] != 0.0
    check_grads_fd(lambda a, v: float(one_fft_entry(a, v)[0]), (0.3, V), [0], [g])
    src = sd.source(sd.jvp(one_fft_entry, wrt=0), 0.3, V)
    assert "like_of" not in src.split("return")[-1]


def test_type_only_names_judges_a_shared_node_at_each_place():
    # one Name node held twice: read for its values in the tuple, for its shape in grad_like
    out = gast.Name(id="out", ctx=gast.Load(), annotation=None, type_comment=None)
    call = gast.Call(func=gast.Attribute(value=gast.Name(id="_sd", ctx=gast.Load(), annotation=None,
                                                         type_comment=None),
                                         attr="grad_like", ctx=gast.Load()),
                     args=[gast.Name(id="g", ctx=gast.Load(), annotation=None, type_comment=None),
                           out], keywords=[])
    ret = gast.Return(value=gast.Tuple(elts=[out, call], ctx=gast.Load()))
    assert type_only_names([ret], {"_sd": runtime}) == set()
    alone = gast.Return(value=gast.Tuple(elts=[call], ctx=gast.Load()))
    assert type_only_names([alone], {"_sd": runtime}) == {"out"}


def _held_twice(tree):
    """The nodes (not contexts or operators) that ``tree`` holds in more than one place."""
    seen, twice = set(), []
    for node in gast.walk(tree):
        for child in gast.iter_child_nodes(node):
            if isinstance(child, (gast.expr, gast.stmt)):
                if id(child) in seen:
                    twice.append(child)
                seen.add(id(child))
    return twice


def test_the_specializer_rewrites_a_tree_where_generation_shared_nodes(strict, monkeypatch):
    # the generic jvp form holds its output's Name node in two places; every pass of the
    # specializer (parent maps, rows' renaming in place) works on a copy that holds each once
    made = []
    real = passes.specialize_owned  # (what the compiled function calls: the code and its facts)

    def spy(fdef, *args, **kwargs):
        out = real(fdef, *args, **kwargs)
        made.append((fdef, out[0]))
        return out

    monkeypatch.setattr(passes, "specialize_owned", spy)
    value, g = sd.value_and_grad(one_fft_entry)(0.3, V)
    generic, specialized = made[-1]
    assert _held_twice(generic) and specialized is not None
    assert _held_twice(specialized) == []
    assert np.array_equal(value, one_fft_entry(0.3, V))


def test_unshared_copies_each_later_place_and_keeps_the_code():
    tree = gast.parse("y = x * x + f(x)")
    x = tree.body[0].value.left.left
    tree.body[0].value.left.right = x  # (x * x with one node, as code generation writes it)
    tree.body[0].value.right.args[0] = x
    before = gast.dump(tree)
    assert len(_held_twice(tree)) == 2
    assert unshared(tree) is tree and _held_twice(tree) == [] and gast.dump(tree) == before


def _arrays(value):
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _arrays(v)]
    return []


@pytest.mark.parametrize("fn, args, wrt, marks", P.CASES, ids=[c[0].__name__ for c in P.CASES])
def test_program_just_inside_or_outside_a_rewrite(fn, args, wrt, marks, monkeypatch):
    """The specialized value_and_grad against the function's value, finite differences and the
    generic code; the arguments unchanged, no gradient sharing memory with another or with an
    argument, a second call the same; the rewrite the case sits inside applied."""
    if any(a is P.DATA_X for a in args):  # (row blocks, at the test's size)
        monkeypatch.setattr(rows, "BLOCK_MIN_BYTES", 0)
        monkeypatch.setattr(rows, "BLOCK_BYTES", 1)
        monkeypatch.setattr(rows, "MIN_ROWS", 1)
        monkeypatch.setattr(rows, "MIN_BLOCKS", 2)
    wrts = wrt if isinstance(wrt, tuple) else (wrt,)
    results = {}
    for mode in ("strict", "0"):
        monkeypatch.setattr(compiled, "_SPECIALIZE", mode)
        sd.clear_cache()
        df = sd.value_and_grad(fn, wrt=wrt)
        given = copy.deepcopy(args)
        value, grads = df(*given)
        again = df(*given)
        grads = grads if isinstance(wrt, tuple) else (grads,)
        results[mode] = (value, grads)
        assert all(np.array_equal(a, b) for a, b in zip(_arrays(given), _arrays(args)))
        np.testing.assert_allclose(value, fn(*copy.deepcopy(args)), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(again[0], value)
        for k, g in enumerate(_arrays(grads)):
            assert not any(np.shares_memory(g, a) for a in _arrays(given))
            assert not any(np.shares_memory(g, h) for h in _arrays(grads)[k + 1:])
        if mode == "strict":
            source = sd.source(df, *args)
            assert all(m in source for m in marks), (marks, source)
    check_grads_fd(lambda *a: float(np.sum(fn(*a))), args, list(wrts), results["strict"][1])
    for g, h in zip(results["strict"][1], results["0"][1]):
        np.testing.assert_allclose(g, h, rtol=1e-9, atol=1e-12)
    sd.clear_cache()


def test_the_numba_lowering_works_on_a_tree(strict):
    # the generic jvp form (lowered as it is when the specializer changes nothing) holds its
    # output's Name node twice; the lowering's analyses judge each use by its parent
    jf = sd.jvp(one_fft_entry, wrt=0)
    spec = jf.__sourcediff_specializations__
    assert _held_twice(spec.fdef)
    lowered, _ = jit.lower(spec, spec.fdef, (0.3, V), {"a_dot": 1.0})
    assert _held_twice(lowered) == []
