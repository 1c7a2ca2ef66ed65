"""A gradient call leaves no reference cycles behind.

A cycle made during a call (a nested function that calls itself holds its own closure cell) is
freed only when Python's cyclic garbage collector next runs, and it holds whatever the call saw:
the gradient's arrays, copies of the arguments. W7 (an MLP whose parameters are a list of
``(W, b)`` tuples) kept every gradient it returned, 1.4 MB a call, for about 85 calls at a time
(125 MB more resident memory), and paid for it in page faults. Every call here runs twice to
warm up, then once more with the collector off; the collection after it must find nothing.
"""

import collections
import gc
import warnings
import weakref

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import tape as T
from sourcediff.errors import SourcediffError
from tests.catalogue import load_all

CASES = load_all()


def _cycles_left(call):
    call()
    call()
    gc.collect(0)  # (what compiling made; a call's own garbage is young)
    gc.disable()
    try:
        call()
        return gc.collect(0)
    finally:
        gc.enable()


@pytest.mark.parametrize("optimize", [True, False], ids=["specialized", "generic"])
@pytest.mark.parametrize("c", CASES, ids=repr)
def test_a_catalogue_gradient_call_leaves_no_cycles(c, optimize):
    df = sd.grad(c.fn, wrt=c.wrt, optimize=optimize)
    args = c.args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _cycles_left(lambda: df(*args)) == 0


@pytest.mark.parametrize("c", CASES[::3], ids=repr)
def test_a_catalogue_forward_call_leaves_no_cycles(c):
    df = sd.grad(c.fn, wrt=c.wrt, mode="forward")
    args = c.args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            df(*args)
        except SourcediffError:
            pytest.skip("forward mode refuses this case")
        assert _cycles_left(lambda: df(*args)) == 0


def _mlp(params, x):
    h = x
    for W, b in params:
        h = np.tanh(h @ W + b)
    return np.sum(h ** 2)


def _dict_loss(p, x):
    return np.sum(np.tanh(x @ p["w"] + p["b"]) ** 2)


def _nested_loss(p, x):
    layer = p["layers"][0]
    return np.sum(np.tanh(x @ layer[0] + layer[1]) ** 2) + p["s"] ** 2


Pair = collections.namedtuple("Pair", "w b")


def _pair_loss(p, x):
    return np.sum(np.tanh(x @ p.w + p.b) ** 2)


class _Model:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def loss(self, x):
        return np.sum(np.tanh(x @ self.w + self.b) ** 2)


def _object_loss(m, x):
    return m.loss(x)


def _with_aux(w, x):
    return np.sum(np.tanh(x @ w) ** 2), {"n": 1}


def _vector_out(w, x):
    return np.tanh(x @ w)


def _writes_list(ws, x):
    w = ws[0]
    w[0] = 2.0 * w[1]
    return np.sum(np.tanh(x @ w) ** 2)


def _array_loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


_rng = np.random.default_rng(0)
_x = _rng.standard_normal((5, 3))
_w = _rng.standard_normal(3)
_layers = [(_rng.standard_normal((3, 4)), _rng.standard_normal(4)),
           (_rng.standard_normal((4, 2)), _rng.standard_normal(2))]
_p = {"w": _rng.standard_normal(3), "b": 0.5}
_nested = {"layers": [(_rng.standard_normal(3), 0.1)], "s": 2.0}

CALLS = {
    "list of (W, b)": (sd.grad(_mlp), (_layers, _x)),
    "list of (W, b), generic": (sd.grad(_mlp, optimize=False), (_layers, _x)),
    "value_and_grad of a list": (sd.value_and_grad(_mlp), (_layers, _x)),
    "dict": (sd.grad(_dict_loss), (_p, _x)),
    "nested": (sd.grad(_nested_loss), (_nested, _x)),
    "namedtuple": (sd.grad(_pair_loss), (Pair(_w, 0.3), _x)),
    "model object": (sd.grad(_object_loss), (_Model(_w, 0.3), _x)),
    "has_aux": (sd.grad(_with_aux, has_aux=True), (_w, _x)),
    "writes into a list argument": (sd.grad(_writes_list), ([_w.copy()], _x)),
    "forward mode": (sd.grad(_array_loss, mode="forward"), (_w, _x)),
    "forward mode, dict": (sd.grad(_dict_loss, mode="forward"), (_p, _x)),
    "jacobian": (sd.jacobian(_vector_out), (_w, _x)),
    "jacobian, reverse": (sd.jacobian(_vector_out, mode="reverse"), (_w, _x)),
    "hessian": (sd.hessian(_array_loss), (_w, _x)),
    "hessian of a dict": (sd.hessian(_dict_loss), (_p, _x)),
    "grad of grad": (sd.grad(lambda w, x: np.sum(sd.grad(_array_loss)(w, x) ** 2)), (_w, _x)),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_a_call_leaves_no_cycles(name):
    df, args = CALLS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _cycles_left(lambda: df(*args)) == 0


def test_other_entry_points_leave_no_cycles():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _cycles_left(lambda: sd.jvp(_array_loss, (_w, _x), (_w, _x))) == 0
        assert _cycles_left(lambda: sd.hvp(_array_loss, (_w, _x), (_w, _x))) == 0
        assert _cycles_left(lambda: sd.vjp(_vector_out, _w, _x)[1](np.ones(5))) == 0
        vector, unflatten = sd.flatten(_nested)
        assert _cycles_left(lambda: unflatten(vector)) == 0
        assert _cycles_left(lambda: T.grad_of(_array_loss, (_w, _x))) == 0

    def tape_step():
        t = T.tensor(_w, requires_grad=True)
        _mlp([(T.tensor(_layers[0][0]), t[:1].sum() + T.tensor(_layers[0][1]))],
             T.tensor(_x)).backward()
        return t.grad

    assert _cycles_left(tape_step) == 0


def test_the_numba_backend_leaves_no_cycles():
    pytest.importorskip("numba")
    df = sd.grad(_array_loss, backend="numba")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _cycles_left(lambda: df(_w, _x)) == 0


def test_an_optimizer_step_leaves_no_cycles():
    model = _Model(_w.copy(), np.array(0.3))
    opt = sd.optim.SGD(model, lr=0.01)
    df = sd.grad(_object_loss)

    def step():
        opt.step(df(model, _x))

    assert _cycles_left(step) == 0


def test_the_gradient_of_a_list_is_freed_when_dropped():
    """What the cycles cost: with the collector off (as between its runs), the arrays of a list
    argument's gradient lived on after the caller dropped them."""
    df = sd.grad(_mlp)
    df(_layers, _x)
    gc.disable()
    try:
        g = df(_layers, _x)
        ref = weakref.ref(g[0][0])
        del g
        assert ref() is None
    finally:
        gc.enable()
