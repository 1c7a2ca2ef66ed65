"""Review of ordinary code sourcediff refused or mis-reported: list(d) of a dict of parameters,
list.sort(), forward mode of list concatenation, numpy 2.x functions, round() of an object, and
messages that named sourcediff's temporaries instead of the user's code."""

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
