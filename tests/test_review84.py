"""Review of ordinary code sourcediff refused or mis-reported: list(d) of a dict of parameters,
list.sort(), forward mode of list concatenation, numpy 2.x functions, round() of an object, and
messages that named sourcediff's temporaries instead of the user's code."""

import math

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import SourcediffError

from .oracles import check_grads_fd


def keys_listed(d, x):
    s = 0.0
    for k in list(d):
        s = s + np.sum(np.sin(d[k] * x)) * (len(k) + 1.0)
    return s


def _params():
    rng = np.random.default_rng(0)
    return {"a": rng.normal(size=3), "bb": rng.normal(size=3)}, rng.normal(size=3)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_loop_over_list_of_a_dict_runs_over_its_keys(mode):
    # list(d) was lowered to [v for v in d], run by position (d[0], d[1]): refused as iteration
    # over a dict, though Python's list(d) is d's keys
    d, x = _params()
    g = sd.grad(keys_listed, mode=mode)(d, x)
    assert sorted(g) == ["a", "bb"]
    check_grads_fd(lambda a, b, x: keys_listed({"a": a, "bb": b}, x), (d["a"], d["bb"], x),
                   (0, 1), (g["a"], g["bb"]))
    gx = sd.grad(keys_listed, wrt=1, mode=mode)(d, x)
    check_grads_fd(keys_listed, (d, x), (1,), (gx,))


def listed_rows(a, x):
    rows = list(a)
    return sum(np.sum(r * x) * (i + 1.0) for i, r in enumerate(rows))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_list_of_an_array_or_a_list_still_reads_its_items(mode):
    rng = np.random.default_rng(1)
    a, x = rng.normal(size=(3, 2)), rng.normal(size=2)
    check_grads_fd(listed_rows, (a, x), (0, 1), sd.grad(listed_rows, wrt=(0, 1), mode=mode)(a, x))
    ws = [a[0].copy(), a[1].copy()]
    g = sd.grad(listed_rows, mode=mode)(ws, x)
    check_grads_fd(lambda w0, w1: listed_rows([w0, w1], x), ws, (0, 1), g)


class _Param:
    def __init__(self, v):
        self.v = v


def set_by_name(p, x):
    setattr(p, "v", p.v * x)
    return np.sum(np.sin(p.v)) + np.sum(getattr(p, "v") ** 2)


def test_setattr_of_a_parameter_objects_attribute_by_a_constant_name():
    rng = np.random.default_rng(2)
    v, x = rng.normal(size=3), rng.normal(size=3)
    gp = sd.grad(set_by_name)(_Param(v.copy()), x)
    check_grads_fd(lambda v, x: set_by_name(_Param(v), x), (v, x), (0,), (gp.v,))
    gx = sd.grad(set_by_name, wrt=1)(_Param(v.copy()), x)
    check_grads_fd(lambda v, x: set_by_name(_Param(v), x), (v, x), (1,), (gx,))


def sorted_in_place(x):
    L = [x[0] * 2.0, x[1], x[2] * x[0]]
    L.sort()
    return L[0] * 3.0 + L[1] * L[2]


def sorted_sums(xs):
    L = [np.sum(np.sin(v)) for v in xs]
    L.sort()
    return L[0] * 3.0 + L[1]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_sort_of_a_list_the_function_builds(mode):
    # L.sort() with no arguments was taken for an array's sort: refused at run time (a
    # TypeError) for the list of floats the function built
    x = np.array([0.3, 1.2, -0.7])
    check_grads_fd(sorted_in_place, (x,), (0,), (sd.grad(sorted_in_place, mode=mode)(x),))
    xs = [x, x * 2.0, x * 0.5 + 1.0]
    g = sd.grad(sorted_sums, mode=mode)(xs)
    check_grads_fd(lambda a, b, c: sorted_sums([a, b, c]), xs, (0, 1, 2), g)


def sorted_array_in_place(x):
    a = x * 2.0
    a.sort()
    return np.sum(a * np.arange(3.0))


def sorted_argument(L, x):
    L.sort()
    return L[0] * x


def test_sort_of_an_array_still_and_of_a_list_argument_refused_as_sourcediffs():
    x = np.array([0.3, 1.2, -0.7])
    check_grads_fd(sorted_array_in_place, (x,), (0,), (sd.grad(sorted_array_in_place)(x),))
    with pytest.raises(SourcediffError, match=r"test_review84.py:\d+: L.sort\(...\) sorts a "
                                              r"list in place.*L = sorted\(L\)"):
        sd.grad(sorted_argument, wrt=1)([2.0, 1.0], 3.0)


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


def _lists():
    rng = np.random.default_rng(3)
    return [rng.normal(size=2)], [rng.normal(size=2), rng.normal(size=2)], rng.normal(size=2)


@pytest.mark.parametrize("wrt", [0, 1])
def test_forward_mode_refuses_list_arguments_joined_as_reverse_mode_does(wrt):
    # forward mode gave the joined list the tangent of one operand (b's 2 items for 3): an
    # IndexError in the loop, and where the operand had the joined list's length, its items'
    # tangents would have been read for the others'
    a, b, x = _lists()
    for mode in ("reverse", "forward"):
        with pytest.raises(SourcediffError, match=r"test_review84.py:\d+: a list of \d items .*"
                                                  r"list\(A\) \+ list\(B\)"):
            sd.grad(concatenated, wrt=wrt, mode=mode)(a, b, x)


def test_forward_mode_of_a_repeated_list_argument_keeps_its_tangent():
    _, b, x = _lists()
    g = sd.grad(repeated, mode="forward")(b, x)
    check_grads_fd(lambda b0, b1: repeated([b0, b1], x), b, (0, 1), g)
    check_grads_fd(repeated, (b, x), (1,), (sd.grad(repeated, wrt=1, mode="forward")(b, x),))


# ---------------------------------------------------------------- numpy functions without rules
# each was a NoRuleError in every mode; now differentiated as the numpy operations it stands for
# (runtime/written.py) or by a rule (x.take, x.round); 2.x-only ones where numpy has them
_R = np.random.default_rng(84)
_V4, _W3 = _R.normal(size=4), _R.normal(size=3)
_B = _R.normal(size=(2, 3, 4))


def _has(owner, name):
    return hasattr(owner, name)


_NUMPY_CALLS = [
    ("vecdot", _has(np, "vecdot"), lambda x: np.sum(np.vecdot(x, x * x) ** 2)),
    ("vecdot_axis", _has(np, "vecdot"), lambda x: np.sum(np.sin(np.vecdot(x, _B[0], axis=0)))),
    ("linalg_vecdot", _has(np.linalg, "vecdot"),
     lambda x: np.sum(np.linalg.vecdot(_B, x) ** 2)),
    ("matvec", _has(np, "matvec"), lambda x: np.sum(np.sin(np.matvec(x, _V4 + x[0])))),
    ("vecmat", _has(np, "vecmat"), lambda x: np.sum(np.vecmat(_W3 * x[:, 1], x) ** 2)),
    ("matrix_transpose", _has(np.linalg, "matrix_transpose"),
     lambda x: np.sum(np.linalg.matrix_transpose(x * x[0, 0]) * _B[1].T)),
    ("vector_norm", _has(np.linalg, "vector_norm"),
     lambda x: np.linalg.vector_norm(x) + np.sum(np.linalg.vector_norm(x, axis=1, ord=3))),
    ("vector_norm_axes", _has(np.linalg, "vector_norm"),
     lambda x: np.sum(np.linalg.vector_norm(_B * x, axis=(0, 2), keepdims=True) * _W3[:, None])),
    ("matrix_norm", _has(np.linalg, "matrix_norm"),
     lambda x: np.linalg.matrix_norm(x) + np.sum(np.linalg.matrix_norm(_B * x, ord=1))),
    ("svdvals", _has(np.linalg, "svdvals"), lambda x: np.sum(np.linalg.svdvals(x) ** 3)),
    ("round_method", True, lambda x: np.sum(x.round(1) * x)),
    ("take_method", True, lambda x: np.sum(x.take([0, 2, 2], axis=1) ** 2) + x.take(5) ** 3),
    ("subtract_reduce", True,
     lambda x: np.sum(np.subtract.reduce(x, axis=0) ** 2) + np.subtract.reduce(x[0]) ** 2),
    ("subtract_reduce_keepdims", True,
     lambda x: np.sum(np.sin(np.subtract.reduce(x, axis=1, keepdims=True) * x))),
    ("add_reduceat", True,
     lambda x: np.sum(np.add.reduceat(x, [0, 2, 1, 3], axis=1) ** 2) +
     np.sum(np.sin(np.add.reduceat(x, [1, 2])))),
]


@pytest.mark.parametrize("name, present, fn", _NUMPY_CALLS, ids=[c[0] for c in _NUMPY_CALLS])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_numpy_functions_people_call_are_differentiated(name, present, fn, mode):
    if not present:
        pytest.skip("numpy has no such function before 2.0")
    x = np.random.default_rng(1).normal(size=(3, 4))
    check_grads_fd(fn, (x,), (0,), (sd.grad(fn, mode=mode)(x),))
    value, _ = sd.value_and_grad(fn)(x)
    np.testing.assert_allclose(value, fn(x), rtol=1e-12)  # (the value is numpy's)


@pytest.mark.parametrize("name", ["vecdot", "matvec", "vector_norm_axes", "subtract_reduce_keepdims",
                                  "add_reduceat"])
def test_their_second_derivatives(name):
    # (their written versions are differentiated from source, so grad of grad reaches through)
    present, fn = {n: (p, f) for n, p, f in _NUMPY_CALLS}[name]
    if not present:
        pytest.skip("numpy has no such function before 2.0")
    x = np.random.default_rng(1).normal(size=(3, 4))
    v = np.random.default_rng(2).normal(size=(3, 4))
    g = sd.grad(fn)
    hv = sd.grad(lambda x: np.sum(g(x) * v))(x)
    check_grads_fd(lambda x: np.sum(g(x) * v), (x,), (0,), (hv,), rtol=1e-4)


# ---------------------------------------------------------------- round() of an object
class _Rounded:
    def __init__(self, v):
        self.v = v

    def __round__(self, n=None):
        return round(self.v, n)

    def __floor__(self):
        return int(np.floor(self.v))


def rounded_object(q, x):
    return np.sum(x * x) * round(q) + q.v * x[0] + math.floor(q) * x[1]


def rounded_to_digits(q, x):
    return np.sum(x * x) * round(q, 1)


def test_round_of_an_object_whose_round_gives_an_int_has_no_derivative():
    # (an int is rounded whatever computed it; a float from the class's __round__ is refused,
    # as it may not be: tests/test_review88.py)
    q, x = _Rounded(1.234), np.array([0.5, 2.0])
    g = sd.grad(rounded_object)(q, x)
    check_grads_fd(lambda v, x: rounded_object(_Rounded(v), x), (1.234, x), (0,), (g.v,))
    gx = sd.grad(rounded_object, wrt=1)(q, x)
    check_grads_fd(lambda v, x: rounded_object(_Rounded(v), x), (1.234, x), (1,), (gx,))
    with pytest.raises(sd.SourcediffError, match="__round__"):
        sd.grad(rounded_to_digits)(q, x)
