"""Programs from a review of whole programs and model objects written as people write numerical
Python. Each test here was a silent wrong gradient (or an over-refusal) before its fix; every
gradient is checked against central finite differences (tests/oracles.py) and, where torch has
the operation, against torch."""

import copy

import numpy as np
import pytest
import torch

import sourcediff as sd

from .oracles import check_grads_fd


# --- np.clip with array bounds that cross (lo > hi somewhere): numpy gives hi there, whatever a
# is (clip is minimum(maximum(a, lo), hi)); the rule gave lo the gradient where a < lo and hi
# none, so lo's and hi's gradients were wrong in both modes


def clip_function(a, lo, hi):
    return np.sum(np.clip(a, lo, hi) ** 2 * np.arange(1.0, 13.0).reshape(4, 3))


def clip_method(a, lo, hi):
    return np.sum(a.clip(lo, hi) ** 2 * np.arange(1.0, 13.0).reshape(4, 3))


def _crossing_bounds():
    rng = np.random.default_rng(65)
    a = rng.normal(size=(4, 3))
    lo, hi = rng.normal(size=3) * 0.5, rng.normal(size=(4, 1)) * 0.5
    assert (lo > hi).any() and (lo < hi).any()
    return a, lo, hi


@pytest.mark.parametrize("fn", [clip_function, clip_method])
def test_clip_with_crossing_array_bounds_gives_the_upper_bound_the_gradient(fn):
    args = _crossing_bounds()
    grads = sd.grad(fn, wrt=(0, 1, 2))(*args)
    check_grads_fd(fn, args, (0, 1, 2), grads, directions=3)
    ta, tlo, thi = (torch.tensor(x, requires_grad=True) for x in args)
    weights = torch.arange(1.0, 13.0, dtype=torch.float64).reshape(4, 3)
    (torch.clamp(ta, tlo, thi) ** 2 * weights).sum().backward()
    for g, t in zip(grads, (ta, tlo, thi)):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn", [clip_function, clip_method])
def test_clip_with_crossing_array_bounds_forward_mode(fn):
    args = _crossing_bounds()
    grads = sd.grad(fn, wrt=(0, 1, 2))(*args)
    rng = np.random.default_rng(1)
    for i in range(3):
        tangents = [None] * 3
        tangents[i] = rng.normal(size=args[i].shape)
        _, dot = sd.jvp(fn, args, tuple(tangents))
        np.testing.assert_allclose(dot, np.sum(grads[i] * tangents[i]), rtol=1e-12)
    check_grads_fd(fn, args, (0, 1, 2), grads)


def test_clip_with_scalar_bounds_crossing_gives_no_gradient_to_a():
    # np.clip(a, 0.5, 0.2) is 0.2 everywhere: nothing reaches a
    def f(a):
        return np.sum(np.clip(a, 0.5, 0.2) * a)
    a = np.linspace(-1.0, 1.0, 7)
    g = sd.grad(f)(a)
    check_grads_fd(f, (a,), (0,), (g,))


# --- an object built from a list, tuple or dict display (Seq([w, w * 2]), a tree of nodes
# Tree(w, [Tree(...), ...])): the adjoint builds the display again to check that the object
# still holds what its constructor stored, and a new list is never the stored one, so every such
# program was refused with "the object holds another value there now" (an over-refusal)


class _Seq:
    def __init__(self, items):
        self.items = items

    def __getitem__(self, i):
        return self.items[i]

    def __len__(self):
        return len(self.items)


class _Tree:
    def __init__(self, w, children):
        self.w = w
        self.children = children

    def value(self, x):
        s = np.tanh(x @ self.w)
        for c in self.children:
            s = s + c.value(x) * 0.5
        return s


def seq_list(w):
    s = _Seq([w, w * 2])
    return np.sum(s[0] ** 2) + np.sum(s[1] * np.sin(w))


def seq_tuple(w):
    s = _Seq((w, np.cos(w)))
    return np.sum(s[0] * s[1])


def seq_dict(w):
    s = _Seq({"a": w, "b": np.sin(w)})
    return np.sum(s["a"] * s["b"])


def seq_nested(w):
    s = _Seq([[w, w * 2], (np.cos(w),)])
    return np.sum(s[0][1] * s[1][0]) + np.sum(s.items[0][0] ** 2)


def seq_rebound(w):
    s = _Seq([w, w * 2])
    w = w * 3  # the display's w is the old one
    return np.sum(s[0] ** 2) + np.sum(w * s[1])


def seq_loop(w):
    s = _Seq([w, w * 2, np.sin(w)])
    tot = 0.0
    for i in range(len(s)):
        tot = tot + np.sum(s[i] ** 2) * (i + 1)
    return tot


def tree(w, x):
    t = _Tree(w, [_Tree(w * 2, []), _Tree(w, [_Tree(w ** 2, [])])])
    return np.sum(t.value(x) ** 2)


@pytest.mark.parametrize("fn", [seq_list, seq_tuple, seq_dict, seq_nested, seq_rebound, seq_loop])
def test_an_object_built_from_a_display_gives_its_items_their_gradients(fn):
    w = np.array([0.5, -1.0, 2.0])
    value, g = sd.value_and_grad(fn)(w)
    assert value == fn(w)
    check_grads_fd(fn, (w,), (0,), (g,))


def test_a_tree_of_objects_built_from_lists():
    rng = np.random.default_rng(3)
    w, x = rng.normal(size=(3, 3)), rng.normal(size=(4, 3))
    g = sd.grad(tree)(w, x)
    check_grads_fd(tree, (w, x), (0,), (g,))


def test_a_display_whose_list_grew_is_still_refused():
    def grown(w):
        s = _Seq([w, w * 2])
        s.items.append(w ** 2)
        return sum(np.sum(s[i] ** 2) for i in range(len(s)))
    with pytest.raises(sd.SourcediffError):
        sd.grad(grown)(np.array([0.5, -1.0]))


# --- an arithmetic operator on an object of the user's class runs the class's __add__/__radd__/
# __sub__/__matmul__..., but its adjoint was numpy's arithmetic: Gauss(mu, 2) + Gauss(3 mu, 0.5)
# (a product of densities) passed the sum's gradient to both operands unchanged, a silent wrong
# gradient. Refused now, at the user's line, naming the class; so are abs(obj) and a numpy
# function of obj (its __abs__, __array__), which failed with numpy's indexing message


class _Gauss:
    """A Gaussian; + multiplies the densities (adds the precisions)."""

    def __init__(self, mu, prec):
        self.mu = mu
        self.prec = prec

    def __add__(self, other):
        p = self.prec + other.prec
        return _Gauss((self.mu * self.prec + other.mu * other.prec) / p, p)

    def product(self, other):
        return self + other

    def combined(self, other):
        p = self.prec + other.prec
        return _Gauss((self.mu * self.prec + other.mu * other.prec) / p, p)

    def logpdf(self, x):
        return np.sum(-0.5 * self.prec * (x - self.mu) ** 2 + 0.5 * np.log(self.prec))


class _Pair:
    def __init__(self, w):
        self.w = w

    def __sub__(self, other):  # an operator giving an array
        return (self.w - other.w) ** 3

    def __radd__(self, other):
        return _Pair(self.w * 2.0 + other)

    def __matmul__(self, x):
        return np.tanh(self.w @ x)

    def __abs__(self):
        return np.sum(np.abs(self.w)) * 3.0

    def __array__(self, dtype=None, copy=None):
        return self.w * 3.0


def gauss_plus(mu, x):
    return (_Gauss(mu, 2.0) + _Gauss(mu * 3.0, 0.5)).logpdf(x)


def gauss_plus_in_a_method(mu, x):
    return _Gauss(mu, 2.0).product(_Gauss(mu * 3.0, 0.5)).logpdf(x)


def pair_minus(w, x):
    return np.sum((_Pair(w) - _Pair(w * 0.5)) * x)


def pair_radd(w, x):
    return np.sum((1.0 + _Pair(w)).w * x)


def pair_sum(w, x):
    return np.sum(sum([_Pair(w * x)]).w)  # 0 + _Pair(...): __radd__


def pair_matmul(w, x):
    return np.sum((_Pair(np.outer(w, x)) @ x) ** 2)


def pair_abs(w, x):
    return abs(_Pair(w * x)) + 0.0


def pair_as_array(w, x):
    return np.sum(np.tanh(_Pair(w * x)))


@pytest.mark.parametrize("fn", [gauss_plus, gauss_plus_in_a_method, pair_minus, pair_radd,
                                pair_sum, pair_matmul, pair_abs, pair_as_array])
def test_an_operator_on_an_object_of_a_users_class_is_refused_at_its_line(fn):
    args = (np.array([0.3, -0.2]), np.array([1.0, 0.5]))
    with pytest.raises(sd.SourcediffError, match=r"test_review65\.py:\d+: .*own operator methods"):
        sd.grad(fn)(*args)


def test_the_same_operation_as_a_named_method_is_followed():
    def named(mu, x):
        return _Gauss(mu, 2.0).combined(_Gauss(mu * 3.0, 0.5)).logpdf(x)
    args = (np.array([0.3, -0.2]), np.array([1.0, 0.5]))
    value, g = sd.value_and_grad(named)(*args)
    assert value == named(*args) == gauss_plus(*args)
    check_grads_fd(named, args, (0,), (g,))


# --- a read of an attribute just stored takes the stored value (self.h = h; return self.h), but a
# counter bumped in between (self.t += 1) ended that knowledge: normalize's note for the alias
# stage after an augmented assignment was taken for a statement that may change attributes, and
# the read was refused ("reads Cell.h back in the same gradient call"), an over-refusal


class _Cell:
    def __init__(self):
        self.h = np.zeros(2)
        self.t = 0

    def step(self, w, x):
        self.h = np.tanh(x @ w + self.h * 0.5)
        self.t += 1
        return self.h


def cell_loss(w, x, cell):
    return np.sum(cell.step(w, x) ** 2) + 0.1 * cell.t


def test_a_counter_bumped_between_a_store_and_its_read():
    rng = np.random.default_rng(7)
    w, x = rng.normal(size=(3, 2)), rng.normal(size=3)
    cell, plain = _Cell(), _Cell()
    df = sd.grad(cell_loss)
    for _ in range(3):  # the state each call leaves is the next call's constant
        before = copy.deepcopy(plain)
        g = df(w, x, cell)
        check_grads_fd(lambda w_, x_: cell_loss(w_, x_, copy.deepcopy(before)), (w, x), (0,), (g,))
        cell_loss(w, x, plain)
        np.testing.assert_array_equal(cell.h, plain.h)
        assert cell.t == plain.t
