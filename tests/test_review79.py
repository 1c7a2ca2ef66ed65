"""review79: what a gradient call hands out (has_aux's aux, the lists a function returns) is what
a plain call gives, and writes through a global that shares an argument's items are refused;
each gradient checked against central finite differences (tests/oracles.py)."""

import warnings

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import SourcediffError
from tests.oracles import check_grads_fd

X = np.array([0.7, -1.3])


# ---------------------------------------------------------------- has_aux: a list appended to
#
# The has_aux wrapper runs f's forward form, keeps aux, then runs the backward form, whose
# sweep undoes f's appends (so an earlier read of L[-1] finds the item it read). It popped the
# very list handed out as aux: aux came back without the appended item. The sweep now undoes
# on its own copy of every list it pops from.

def appends_to_given(L, x):
    L.append(np.sin(x))
    return np.sum(L[-1] * L[0]), L


def appends_to_built(x):
    M = [x * 1.0]
    M.append(np.sin(x))
    return np.sum(M[-1] * M[0]), M


def _appending_helper(L, x):
    L.append(np.sin(x) * 2.0)
    return L


def returns_what_a_helper_appended_to(x):
    out = _appending_helper([x * 1.0], x)
    return np.sum(out[-1] * out[0]), out


def appends_in_a_loop(L, x):
    for i in range(3):
        L.append(L[-1] * np.cos(x + i))
    return np.sum(L[-1] ** 2), L


CASES = [
    (appends_to_given, lambda: ([np.array([1.5, -0.5])], X.copy()), 1),
    (appends_to_built, lambda: (X.copy(),), 0),
    (returns_what_a_helper_appended_to, lambda: (X.copy(),), 0),
    (appends_in_a_loop, lambda: ([np.array([1.5, -0.5])], X.copy()), 1),
]


def _same_items(got, want):
    assert len(got) == len(want), f"{len(got)} items where a plain call gives {len(want)}"
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def _loss(f):
    return lambda *a: f(*a)[0]


@pytest.mark.parametrize("how", ["reverse", "forward", "value_and_grad", "numba"])
@pytest.mark.parametrize("f, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_aux_list_holds_what_a_plain_call_returns(f, args, wrt, how):
    plain = f(*args())[1]
    given = args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the 'runs on a copy' warning, tested elsewhere)
        if how == "value_and_grad":
            (value, aux), g = sd.value_and_grad(f, wrt=wrt, has_aux=True)(*given)
            assert np.isclose(value, f(*args())[0])
        elif how == "numba":
            g, aux = sd.grad(f, wrt=wrt, has_aux=True, backend="numba")(*given)
        else:
            g, aux = sd.grad(f, wrt=wrt, mode=how, has_aux=True)(*given)
    _same_items(aux, plain)
    check_grads_fd(_loss(f), args(), (wrt,), (g,))


def test_aux_list_survives_a_second_call():
    # (the cached wrapper and the specialized code: the second call runs the specialized form)
    df = sd.grad(appends_to_built, has_aux=True)
    first = df(X.copy())[1]
    second = df(X.copy())[1]
    _same_items(first, appends_to_built(X.copy())[1])
    _same_items(second, appends_to_built(X.copy())[1])
