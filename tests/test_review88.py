"""review88: what a gradient call hands out (has_aux's aux) is what a plain call gives, also
where the value the backward form puts items back into is reached another way than by its name
at the return: a view of it (``y[:]``, ``y.T``, a row ``y[1]``), a namedtuple or an object the
function built around it, a list nested deeper than 16, or an earlier array of a name rebound
in a loop (``y = x * k; y[0] = v; out.append(y)``), which the backward pops from the stack and
writes into. Each gradient is checked against central finite differences (tests/oracles.py)."""

import collections
import math
import dataclasses
import warnings

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd

X = np.array([0.7, -1.3])
Pair = collections.namedtuple("Pair", "y n")


@dataclasses.dataclass
class Box:
    y: object


def in_a_namedtuple(x):
    y = x * 1.0
    y[0] = 5.0
    return np.sum(y * x), Pair(y, 2)


def in_an_object(x):
    y = x * 1.0
    y[0] = 5.0
    return np.sum(y * x), Box(y)


def nested_deep(x):
    d = {"a": x * 1.0}
    d["k"] = np.sin(x)
    return np.sum(d["k"] * d["a"]), [[[[[[[[[[[[[[[[[[[d]]]]]]]]]]]]]]]]]]]


def a_view(x):
    y = x * 1.0
    y[0] = 5.0
    z = y[:]
    return np.sum(y * x), z


def a_transpose(x):
    y = x * 1.0
    y[0] = 5.0
    return np.sum(y * x), y.T


def a_row(x):
    y = np.zeros((2, 2))
    y[0] = x
    y[1, 0] = 4.0
    return np.sum(y[0] * x) + y[1, 0] * x[0], y[1]


def rebound_in_a_loop(x):
    out = []
    s = 0.0
    for i in range(2):
        y = x * (i + 1.0)
        y[0] = 5.0
        s = s + np.sum(y * x)
        out.append(y)
    return s, out


CASES = [in_a_namedtuple, in_an_object, nested_deep, a_view, a_transpose, a_row,
         rebound_in_a_loop]


def _same(got, want):
    assert type(got) is type(want)
    if isinstance(want, dict):
        assert sorted(got) == sorted(want)
        for k in want:
            _same(got[k], want[k])
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for a, b in zip(got, want):
            _same(a, b)
    elif isinstance(want, Box):
        _same(got.y, want.y)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("how", ["reverse", "value_and_grad", "numba"])
@pytest.mark.parametrize("f", CASES, ids=[f.__name__ for f in CASES])
def test_aux_holds_what_a_plain_call_returns(f, how):
    plain = f(X.copy())[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if how == "value_and_grad":
            (value, aux), g = sd.value_and_grad(f, has_aux=True)(X.copy())
            assert value == f(X.copy())[0]
        elif how == "numba":
            g, aux = sd.grad(f, has_aux=True, backend="numba")(X.copy())
        else:
            g, aux = sd.grad(f, has_aux=True)(X.copy())
    _same(aux, plain)
    check_grads_fd(lambda x: f(x)[0], (X,), (0,), (g,))


def test_aux_of_a_second_call_too():
    # (the second call runs the specialized code)
    df = sd.grad(rebound_in_a_loop, has_aux=True)
    for _ in range(2):
        _same(df(X.copy())[1], rebound_in_a_loop(X.copy())[1])


def test_an_argument_handed_back_unwritten_is_not_copied():
    # (nothing is written: the value is handed out as it is, the caller's own array)
    def f(x, w):
        return np.sum(np.sin(x) * w), w
    w = np.array([2.0, 3.0])
    g, aux = sd.grad(f, has_aux=True)(X.copy(), w)
    assert aux is w
    check_grads_fd(lambda x, w: f(x, w)[0], (X, w), (0,), (g,))


# ---------------------------------------------------------------- round() of an object
#
# round(obj) and math.floor(obj) run the class's __round__ / __floor__, which need not round: a
# float they give was passed on with a zero derivative (sd.grad gave 0.0 where the derivative is
# 2 + cos(x)). Refused again, with the advice to name the method (which sourcediff follows).

class _NotRounding:
    def __init__(self, v):
        self.v = v

    def __round__(self, n=None):
        return self.v * 2.0

    def __floor__(self):
        return np.sin(self.v)


def rounds_an_object(x):
    q = _NotRounding(x)
    return round(q) + math.floor(q)


def floors_an_object(x):
    return np.sum(x * math.floor(_NotRounding(x[0])))


@pytest.mark.parametrize("f, x", [(rounds_an_object, 0.3),
                                  (floors_an_object, np.array([0.3, 0.8]))])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_class_rounding_method_giving_a_float_is_refused(f, x, mode):
    with pytest.raises(sd.SourcediffError, match="__round__|__floor__"):
        sd.grad(f, mode=mode)(x)


def test_the_advised_named_method_is_followed():
    class Named(_NotRounding):
        def rounded(self):
            return self.v * 2.0

    def f(x):
        return Named(x).rounded() + math.floor(x)
    g = sd.grad(f)(0.3)
    check_grads_fd(f, (0.3,), (0,), (g,))
