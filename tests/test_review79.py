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



def writes_a_key_of_given(d, x):
    d["k"] = np.sin(x)
    return np.sum(d["k"] * d["a"]), d


def writes_keys_of_built(x):
    d = {"a": x * 1.0}
    d["k"] = np.sin(x)
    d["a"] = d["a"] * 2.0
    return np.sum(d["k"] * d["a"]), d


def writes_into_an_array_it_returns(x):
    y = x * 1.0
    y[0] = 5.0
    return np.sum(y * x), y


def returns_an_array_in_a_dict(x):
    y = x * 1.0
    y[1] = 3.0
    return np.sum(y * x), {"y": y, "n": [y]}

CASES = [
    (appends_to_given, lambda: ([np.array([1.5, -0.5])], X.copy()), 1),
    (appends_to_built, lambda: (X.copy(),), 0),
    (returns_what_a_helper_appended_to, lambda: (X.copy(),), 0),
    (appends_in_a_loop, lambda: ([np.array([1.5, -0.5])], X.copy()), 1),
    (writes_a_key_of_given, lambda: ({"a": np.array([1.5, -0.5])}, X.copy()), 1),
    (writes_keys_of_built, lambda: (X.copy(),), 0),
    (writes_into_an_array_it_returns, lambda: (X.copy(),), 0),
    (returns_an_array_in_a_dict, lambda: (X.copy(),), 0),
]


def _same_items(got, want):
    if isinstance(want, dict):
        assert sorted(got) == sorted(want), f"keys {sorted(got)} where a plain call gives " \
                                            f"{sorted(want)}"
        for k in want:
            _same_items(got[k], want[k])
    elif isinstance(want, list):
        assert len(got) == len(want), f"{len(got)} items where a plain call gives {len(want)}"
        for a, b in zip(got, want):
            _same_items(a, b)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12)


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


# ------------------------------------------------ a helper writing through a global that is an argument
#
# A helper called with nothing that carries a derivative runs as plain Python. Where a global it
# writes through holds what the differentiated function was given (the caller set G = params),
# the write changed the argument unseen: item 1's gradient came back (4, 1) where it is (4, 3)
# (and zero: the helper overwrites it), forward mode raised numpy's broadcast error. Refused now
# at the call, naming the helper's write; a helper writing into a global of its own still runs.

G = None
STATE = {}


class _Box:
    pass


BOX = _Box()
COUNT = [0]
CACHE = {}


def _sets_item():
    G[0][1] = np.ones((4, 1)) * 0.5


def _writes_in_place():
    G[0][1][:] = 0.5


def _appends():
    G.append(np.ones((4, 3)))


def _through_a_dict():
    STATE["p"][0][1] = np.ones((4, 1)) * 0.5


def _through_an_attribute():
    BOX.p[0][1] = np.ones((4, 1)) * 0.5


def _through_setattr():
    setattr(BOX.p, "w", np.ones((4, 1)) * 0.5)


def _through_globals():
    globals()["G"][0][1] = np.ones((4, 1)) * 0.5


def _calls_a_writer():
    _sets_item()


def _make_closure_writer():
    cell = {}

    def writer():
        cell["p"][0][1] = np.ones((4, 1)) * 0.5

    return cell, writer


_CELL, _closure_writer = _make_closure_writer()


def _counts():
    COUNT[0] += 1
    CACHE["calls"] = COUNT[0]


def _loss_of(helper):
    def loss(params, x):
        helper()
        return np.sum(np.tanh(x @ params[0][0])) + np.sum(params[0][1] ** 2)
    return loss


def _params():
    return [[np.linspace(-0.5, 0.5, 12).reshape(3, 4), np.linspace(1.0, 2.0, 12).reshape(4, 3)]]


class _Model:
    pass


def _holding(params):
    """Point the helper's global at ``params`` as the caller did."""
    global G
    G = params
    STATE["p"] = params
    BOX.p = params
    _CELL["p"] = params


def _loss_with_attr(params, x):
    _through_setattr()
    return np.sum(np.tanh(x @ params.v)) + np.sum(params.w ** 2)


WRITERS = [_sets_item, _writes_in_place, _appends, _through_a_dict, _through_an_attribute,
           _through_globals, _calls_a_writer, _closure_writer]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("helper", WRITERS, ids=[w.__name__ for w in WRITERS])
def test_a_helper_writing_into_an_argument_through_a_global_is_refused(helper, mode):
    loss = _loss_of(helper)
    params = _params()
    _holding(params)
    with pytest.raises(SourcediffError) as err:
        sd.grad(loss, mode=mode)(params, np.ones((2, 3)))
    text = str(err.value)
    assert "test_review79.py" in text and "helper()" in text
    assert helper.__name__ in text or "_sets_item" in text


class _WithAMethod:
    def helper(self):
        G[0][1] = np.ones((4, 1)) * 0.5

    def loss(self, params, x):
        self.helper()
        return np.sum(np.tanh(x @ params[0][0])) + np.sum(params[0][1] ** 2)


def test_a_method_writing_into_an_argument_through_a_global_is_refused():
    params = _params()
    _holding(params)
    with pytest.raises(SourcediffError, match="self.helper"):
        sd.grad(_WithAMethod().loss)(params, np.ones((2, 3)))


def test_setattr_on_an_argument_through_a_global_is_refused():
    model = _Model()
    model.v, model.w = _params()[0]
    BOX.p = model
    with pytest.raises(SourcediffError, match="setattr"):
        sd.grad(_loss_with_attr)(model, np.ones((2, 3)))


def test_refused_in_the_specialized_code_too():
    # (the second call runs the code specialized for the arguments' shapes)
    loss = _loss_of(_sets_item)
    df = sd.grad(loss)
    _holding(_params())  # (another list: the helper writes into that one)
    df(_params(), np.ones((2, 3)))
    params = _params()
    _holding(params)
    with pytest.raises(SourcediffError, match="_sets_item"):
        df(params, np.ones((2, 3)))


def test_a_helper_writing_into_its_own_global_still_runs():
    loss = _loss_of(_counts)
    before = COUNT[0]
    params = _params()
    for mode in ("reverse", "forward"):
        g = sd.grad(loss, mode=mode)(params, np.ones((2, 3)))
        for k in range(2):
            def item_loss(a, k=k):
                p = _params()
                p[0][k] = a
                return loss(p, np.ones((2, 3)))
            check_grads_fd(item_loss, (params[0][k],), (0,), (g[0][k],))
    assert COUNT[0] > before and CACHE["calls"] == COUNT[0]


# ---------------------------------------------------------------- second order through handed_out

def _writes_what_it_returns(x):
    y = x * 1.0
    y[0] = y[1] ** 2
    d = {"a": y}
    d["b"] = np.sin(x)
    return d


def _uses_a_writing_helper(x):
    d = _writes_what_it_returns(x)
    return np.sum(d["a"] * d["b"] * x)


def test_hessian_through_a_helper_handing_out_what_it_writes():
    # (the helper's forward form hands out copies through _sd.handed_out, which the hessian
    # differentiates again: it needs its rule)
    x = np.array([0.3, 0.7, 1.1])
    g = sd.grad(_uses_a_writing_helper)(x)
    check_grads_fd(_uses_a_writing_helper, (x,), (0,), (g,))
    H = sd.hessian(_uses_a_writing_helper)(x)
    for k in range(3):
        check_grads_fd(lambda x: sd.grad(_uses_a_writing_helper)(x)[k], (x,), (0,), (H[k],))
