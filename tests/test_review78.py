"""Review of the session's merge: the specializer's power rewrite keeps the user's values bit
for bit, a list argument holding objects of the user's class is specialized, and + or * of list
arguments (concatenation, repetition) taken for arithmetic is refused where the gradient was
read from the wrong items."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import SourcediffError
from sourcediff import compiled

from .oracles import check_grads_fd


def cube(x):
    t = x ** 3
    return np.sum(t * np.sin(x))


def test_a_cube_in_specialized_code_is_the_plain_calls_value_bit_for_bit():
    # x ** 3 is pow(x, 3.0), rounded once; x * x * x is rounded twice: 280 of 1,000 values
    # differ in the last bit, so the loss the gradient call returns was not the plain call's
    x = np.random.default_rng(0).normal(size=1000)
    vg = sd.value_and_grad(cube)
    value, g = vg(x)
    assert "x * x * x" not in sd.source(vg, x)
    assert value == cube(x)
    generic_value, generic_g = vg.__sourcediff_specializations__.generic(x)
    assert value == generic_value
    np.testing.assert_array_equal(g, generic_g)
    check_grads_fd(cube, (x[:20],), (0,), (sd.grad(cube)(x[:20]),))


def square(x):
    t = x ** 2
    return np.sum(t * np.sin(x))


def test_a_square_is_still_a_product_and_the_same_bits():
    x = np.random.default_rng(1).normal(size=1000)
    vg = sd.value_and_grad(square)
    value, _ = vg(x)
    assert "t = x * x" in sd.source(vg, x)
    assert value == square(x)


class Box:
    def __init__(self, w):
        self.w = w


def boxes(params, x):
    s = 0.0
    for p in params:
        s = s + np.sum(np.sin(x @ p.w))
    return s


def test_a_list_of_objects_is_specialized(monkeypatch):
    # the list's items are in the signature now (seq_fact): an object's fact is unknown, and the
    # inference made a stand-in of it, raising the specializer's internal _Unknown, so every
    # call ran the generic code (and SOURCEDIFF_SPECIALIZE=strict raised it)
    monkeypatch.setattr(compiled, "_SPECIALIZE", "strict")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4))
    ws = [rng.normal(size=(4, 2)), rng.normal(size=(4, 3))]
    g = sd.grad(boxes)([Box(w) for w in ws], x)
    assert [b.w.shape for b in g] == [(4, 2), (4, 3)]
    check_grads_fd(lambda *w: boxes([Box(v) for v in w], x), ws, (0, 1), [b.w for b in g])


def _weighted(items, x):
    s = 0.0
    for i in range(len(items)):
        s = s + np.sum(np.sin(items[i] * x) * (i + 1.0))
    return s


def concatenated(a, b, x):
    joined = a + b
    return _weighted(joined, x)


def repeated(ls, x):
    return _weighted(ls * 2, x)


def doubled(ls, x):
    return _weighted(ls + ls, x)  # (the compiler writes x + x as x * 2)


def concatenated_copies(a, b, x):
    return _weighted(list(a) + list(b), x)


def repeated_copy(ls, x):
    return _weighted(list(ls) * 2, x)


def _lists():
    rng = np.random.default_rng(3)
    return [rng.normal(size=2)], [rng.normal(size=2), rng.normal(size=2)], rng.normal(size=2)


@pytest.mark.parametrize("fn, wrt", [(concatenated, 1), (concatenated, 0), (repeated, 0),
                                     (doubled, 0)])
def test_plus_or_times_of_list_arguments_taken_for_arithmetic_is_refused(fn, wrt):
    # a + b of two list arguments was differentiated as a sum: b's gradient was the first
    # len(b) items of the joined list's ([cos(a0 x) x, 2 cos(b0 x) x] for b0 and b1), and
    # ls * 2 scaled the gradient list by repeating it: both silent wrong gradients
    a, b, x = _lists()
    args = (a, b, x) if fn is concatenated else (b, x)
    with pytest.raises(SourcediffError, match=r"test_review78.py:\d+: a list of \d items .*"
                                              r"list\(A\) \+ list\(B\)"):
        sd.grad(fn, wrt=wrt)(*args)


def test_the_advised_copies_give_the_gradients_of_concatenation_and_repetition():
    a, b, x = _lists()
    g = sd.grad(concatenated_copies, wrt=(0, 1))(a, b, x)
    check_grads_fd(lambda a0, b0, b1: concatenated_copies([a0], [b0, b1], x),
                   [a[0], b[0], b[1]], (0, 1, 2), [g[0][0], g[1][0], g[1][1]])
    g = sd.grad(repeated_copy)(b, x)
    check_grads_fd(lambda b0, b1: repeated_copy([b0, b1], x), b, (0, 1), g)


def filled_copy(x):
    w = x * 1.0
    v = x * 2.0 + 1.0
    y = np.sum(w * w * w) + np.sum(v * w)
    ws = {"a": w, "b": v}
    acc = dict(ws)
    acc["a"].fill(0.5)  # (writes into w: acc holds ws's arrays)
    return y + np.sum(w * w * x) + np.sum(v * v * x)


def filled_display(x):
    w = x * 1.0
    v = x * 2.0 + 1.0
    y = np.sum(w * w * w) + np.sum(v * w)
    acc = {**{"a": w, "b": v}, "c": 1.0}
    acc["a"].fill(0.5)
    return y + np.sum(w * w * x) + np.sum(v * v * x)


@pytest.mark.parametrize("fn", [filled_copy, filled_display])
def test_a_write_into_an_array_a_dict_copy_holds_is_refused(fn):
    # dict(d) and {**d} are lowered (this session) to a comprehension over _sd.dict_pairs(d),
    # which the alias analysis did not know holds d's arrays: acc["a"].fill(0.5) wrote into w
    # unseen and the gradient was [12.5, 77.75, 153.75, 49.5] where finite differences give
    # others; {k: t for k, t in d.items()} was refused, as these are now
    with pytest.raises(SourcediffError, match=r"test_review78.py:\d+:\d+: acc\['a'\]\.fill"):
        sd.grad(fn)(np.array([0.5, 2.0, 3.0, 1.5]))
