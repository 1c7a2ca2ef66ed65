"""review34: real programs written as their authors write them (numpy-ml and nnfs layer objects,
scikit-learn-like estimators, physics integrators, dataclasses and namedtuples of parameters;
tests/programs/review34_*.py), differentiated in every mode against central finite differences,
and the regressions found there."""

import dataclasses
import re
import warnings
from collections import namedtuple

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import NoRuleError, SourcediffError
from tests.oracles import check_grads_fd
from tests.programs import review34_estimators, review34_numpyml, review34_oo, review34_physics  # noqa: F401
from tests.programs import review34_harness as H

MODES = ("reverse", "unspecialized", "forward", "numba")


def _check(f, args, wrt, mode):
    H.check(f, args, wrt, mode)


# ---------------------------------------------------------------- objects built inside the function
#
# A namedtuple, a dataclass or an object of the user's class built inside the differentiated
# function from values that carry derivatives (dense = Dense(W, b); s = State(q, p)) was refused
# with "no derivative rule for Dense (type from ...) ... Register one with @sourcediff.defvjp":
# the constructor now gives each argument the gradient of the attribute it is stored at
# (compiler/constructors.py), the object's methods and properties resolve in its class.

State = namedtuple("State", "q p")


def _step(state):
    q, p = state.q, state.p
    return State(q + 0.1 * p, p - 0.1 * np.sin(q))


def namedtuple_state(q0, p0):
    s = State(q0, p0)
    for _ in range(5):
        s = _step(s)
    return np.sum(s.q ** 2) + np.sum(s[1] * s.q)


def namedtuple_keywords(q0, p0):
    s = State(p=p0 * 2.0, q=q0)
    return np.sum(s.q * s.p)


@pytest.mark.parametrize("mode", MODES + ("unoptimized",))
@pytest.mark.parametrize("f", [namedtuple_state, namedtuple_keywords])
def test_namedtuple_built_inside(f, mode):
    _check(f, (np.array([0.5, -0.3]), np.array([0.2, 0.4])), (0, 1), mode)


def test_namedtuple_built_inside_hessian():
    _check(namedtuple_state, (np.array([0.5, -0.3]), np.array([0.2, 0.4])), (0,), "hessian")


class Dense:
    def __init__(self, W, b, act=np.tanh):
        self.W = W
        self.params = {"b": b}
        self.act = act
        self.n_out = W.shape[1]

    def forward(self, x):
        return self.act(x @ self.W + self.params["b"])


class Scaled(Dense):
    def __init__(self, W, b, scale):
        super().__init__(W, b)
        self.scale = scale

    def forward(self, x):
        return self.scale * super().forward(x)


def dense_built_inside(W, b, x):
    layer = Dense(W, b)
    h = layer.forward(x)
    return np.sum(layer.forward(h @ W.T) ** 2)


def scaled_built_inside(W, b, s, x):
    layer = Scaled(W, b, s)
    return np.sum(layer.forward(x) ** 2)


@dataclasses.dataclass(frozen=True)
class Gauss:
    mu: np.ndarray
    log_sigma: np.ndarray

    @property
    def sigma(self):
        return np.exp(self.log_sigma)

    def logpdf(self, x):
        return -0.5 * ((x - self.mu) / self.sigma) ** 2 - self.log_sigma


def dataclass_built_inside(mu, log_sigma, x):
    g = Gauss(mu=mu, log_sigma=log_sigma)
    return -np.sum(g.logpdf(x[:, None])) + np.sum(g.sigma)


RNG = np.random.default_rng(34)
W, B, X = RNG.normal(size=(3, 3)) * 0.5, RNG.normal(size=3) * 0.1, RNG.normal(size=(4, 3))


@pytest.mark.parametrize("mode", ("reverse", "unspecialized", "unoptimized", "numba"))
def test_objects_built_inside(mode):
    _check(dense_built_inside, (W, B, X), (0, 1), mode)
    _check(scaled_built_inside, (W, B, 1.5, X), (0, 1, 2), mode)
    _check(dataclass_built_inside, (np.array([0.1, -0.4]), np.array([0.2, -0.1]), X[:, 0]),
           (0, 1), mode)


def test_an_object_built_inside_in_forward_mode_not_given_zero():
    # (refused by forward mode before; its attributes are made locals now, self.act(x) a call
    # of the function held in a local: checked against finite differences)
    g = sd.grad(dense_built_inside, wrt=0, mode="forward")(W, B, X)
    check_grads_fd(dense_built_inside, (W, B, X), (0,), (g,))
    with pytest.raises(NoRuleError, match=r"test_review34.py:\d+: .*second derivative"):
        sd.hessian(dense_built_inside, wrt=0)(W, B, X)   # (that call: first derivatives only)


class Kernel:
    def __init__(self, length_scale, variance):
        self.length_scale = length_scale
        self.inv = 1.0 / length_scale ** 2  # computed from an argument: not followed
        self.variance = variance

    def __call__(self, A):
        d2 = np.sum((A[:, None] - A[None, :]) ** 2, -1)
        return self.variance * np.exp(-0.5 * d2 * self.inv)


def kernel_computed_in_init(ls, var, A):
    return np.sum(Kernel(ls, var)(A))


def test_a_constructor_computing_from_an_argument_is_followed():
    # (refused at the line until review40: an object built and called at once, Kernel(ls,
    # var)(A), is now bound to a local and its __init__ written in, which follows what it
    # computes)
    _check(kernel_computed_in_init, (1.2, 0.7, X), (0, 1), "reverse")


# ---------------------------------------------------------------- the programs

REFUSED = {
    # (name, mode): the construct refused, with what to write instead
}


def _cases():
    return [c for c in H.CASES]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["name"])
def test_program_every_mode(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = H.survey([case])
    wrong = {k: v for k, v in out.items() if not v.startswith(("ok", "refused"))}
    assert not wrong, wrong


# (a silent wrong found in review of the first draft: what __init__ computes from an attribute
# it stored, self.cache = self.W * 2, got no gradient; and a property's setter storing the
# argument under another name gave zero)

class Cached:
    def __init__(self, W):
        self.W = W
        self.W2 = self.W * 2.0

    def __call__(self, x):
        return x @ self.W2


def cached_in_init(W, x):
    return np.sum(Cached(W)(x) ** 2)


class Settered:
    def __init__(self, W):
        self.W = W

    @property
    def W(self):
        return self._W

    @W.setter
    def W(self, value):
        self._W = value

    def __call__(self, x):
        return x @ self._W


def settered(W, x):
    return np.sum(Settered(W)(x) ** 2)


@pytest.mark.parametrize("f", [settered])
def test_a_constructor_whose_storage_is_not_followed_is_refused(f):
    with pytest.raises(SourcediffError, match="constructor"):
        sd.grad(f)(W, X)


def test_a_constructor_computing_from_what_it_stored_is_followed():
    # (cached_in_init, refused until review40: its __init__ is written in now)
    _check(cached_in_init, (W, X), (0,), "reverse")


# ---------------------------------------------------------------- a module-level functools.partial
#
# A loss calling a module-level partial of the user's function (HINGE = partial(hinge, lam=0.01);
# return HINGE(w, X, y)) was refused: "no derivative rule for HINGE (partial from functools)".
# normalize now calls HINGE.func with the partial's arguments read from it.

def _hinge(w, X, y, lam):
    m = 1 - (2 * y - 1) * (X @ w)
    return np.mean(np.maximum(m, 0) ** 2) + lam * np.sum(w * w)


HINGE = __import__("functools").partial(_hinge, lam=0.01)
def _penalty(scale, w):
    return scale * np.sum(np.abs(w) ** 3)


PENALTY = __import__("functools").partial(_penalty, 0.5)


def hinge_partial(w, y):
    return HINGE(w, X[:, :2], y) + HINGE(w, X[:, 1:], y, lam=0.2) + PENALTY(w)


@pytest.mark.parametrize("mode", MODES + ("hessian", "tape"))
def test_module_level_partial_called(mode):
    _check(hinge_partial, (np.array([0.3, -0.2]), (X[:, 0] > 0).astype(float)), (0,), mode)


# ---------------------------------------------------------------- writes into an argument
#
# A function that stores into a dict or array it is given (bn_param["running_mean"] = ...,
# buf[0] = v) changed the caller's value in a plain call and silently left it as it was in a
# gradient call (the gradient runs on a copy). It now warns, once, at that line; attribute stores
# on objects and list.append run as Python runs them, and say nothing.

def stores_running_mean(w, state):
    state["running"] = 0.9 * state["running"] + 0.1 * np.mean(w)
    return np.sum(w ** 2)


def writes_into_buffer(w, buf):
    buf[0] = np.sum(w)
    return np.sum(w ** 2)


class _Calls:
    def __init__(self):
        self.calls = 0
        self.W = np.ones(2)


def counts_calls(w, m, log):
    m.calls += 1
    log.append(1)
    return np.sum(w * m.W)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_write_into_an_argument_that_a_gradient_call_drops_warns_at_the_line(mode):
    sd.clear_cache()
    w = np.array([1.0, 2.0])
    for f, arg, line in [(stores_running_mean, {"running": 0.0}, 'state["running"] = 0.9'),
                         (writes_into_buffer, np.zeros(1), "buf[0] = np.sum(w)")]:
        with pytest.warns(sd.SourcediffWarning, match=rf"(?s)writes into its argument .*"
                                                      rf"{re.escape(line)}.*has_aux=True"):
            sd.grad(f, mode=mode)(w, arg)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = _Calls()
        sd.grad(counts_calls, mode=mode)(w, m, [])
        assert m.calls == (1 if mode == "reverse" else m.calls)


# ---------------------------------------------------------------- nnfs: layer.output read back
#
# nnfs's layers store their result (self.output = ...) and the caller reads it back
# (activation1.forward(dense1.output)): refused with AliasError "reads Layer_Dense.output back in
# the same gradient call". A method called for what it stores on a local whose class is known is
# now written into the caller (compiler/inline.py), where the read takes the stored value.

from tests.programs import review34_nnfs_other_module as NM  # noqa: E402


def nnfs_other_module(W1, b1, W2, b2, inputs):
    dense1 = NM.Dense(W1, b1)
    act = NM.Tanh()
    dense2 = NM.Dense(W2, b2)
    dense1.forward(inputs)
    gain = act.forward(dense1.output)  # (names the caller has too: inputs, gain)
    dense2.forward(act.output, gain=1.5)
    return np.sum(dense2.output ** 2) + 0.0 * np.sum(gain)


@pytest.mark.parametrize("mode", ["reverse", "unspecialized", "unoptimized", "numba", "tape"])
def test_nnfs_layers_store_output_and_the_caller_reads_it(mode):
    args = (W, B, W * 0.7, B[::-1].copy(), X)
    _check(nnfs_other_module, args, (0, 1, 2, 3), mode)
    _check(review34_numpyml.nnfs_objects_built_inside,
           (review34_numpyml.W1, review34_numpyml.B1, review34_numpyml.W2, review34_numpyml.B2,
            review34_numpyml.XN, review34_numpyml.YI), (0, 1, 2, 3), mode)


def nnfs_list_of_layers(W1, b1, x):
    layers = [NM.Dense(W1, b1), NM.Tanh()]
    for layer in layers:
        layer.forward(x)
        x = layer.output
    return np.sum(x)


def test_nnfs_output_read_back_through_a_list_of_layers():
    # (refused with AliasError here until review37: the loop is now written once per layer,
    # compiler/inline.py)
    _check(nnfs_list_of_layers, (W, B, X), (0, 1), "reverse")


def test_an_inlined_method_reads_its_module_values_when_it_runs():
    # (the first draft bound NM.scale's value where it compiled: after NM.scale = 3.0 the
    # gradient stayed that of 0.5, silently)
    def f(W1, b1, x):
        d = NM.Dense(W1, b1)
        d.forward(x)
        return np.sum(d.output)

    w, b, x = np.ones((2, 2)), np.zeros(2), np.ones((1, 2))
    old = NM.scale
    try:
        first = sd.grad(f)(w, b, x)
        NM.scale = 3.0
        np.testing.assert_allclose(sd.grad(f)(w, b, x), first * 6.0)
    finally:
        NM.scale = old


def test_an_inlined_method_replaced_on_its_class_is_caught():
    class Layer:
        def __init__(self, W):
            self.W = W

        def forward(self, x):
            self.output = x @ self.W

    def f(W1, x):
        layer = Layer(W1)
        layer.forward(x)
        return np.sum(layer.output)

    w, x = np.ones((2, 2)), np.ones((1, 2))
    df = sd.grad(f)
    first = df(w, x)

    def doubled(self, x):
        self.output = 2.0 * (x @ self.W)

    Layer.forward = doubled
    try:
        again = df(w, x)
    except SourcediffError:
        return  # (refused: built for the old method)
    np.testing.assert_allclose(again, 2.0 * first)


def test_a_constructor_replaced_on_its_class_is_read_again():
    class L:
        def __init__(self, W):
            self.W = W

        def __call__(self, x):
            return x @ self.W

    def f(W1, x):
        return np.sum(L(W1)(x))

    w, x = np.ones((2, 2)), np.ones((1, 2))
    df = sd.grad(f)
    df(w, x)

    def init2(self, W):
        self.W = 2.0 * W

    L.__init__ = init2
    # (refused until review40; its __init__ is written in now, and the entry sees it replaced)
    np.testing.assert_allclose(df(w, x), 2.0 * np.ones((2, 2)) * x.T)


def test_a_class_called_through_cls_is_followed():
    # (refused until review40, "Write Lin(...)": compiled.constructor_function does it)
    from tests.programs.review34_oo import PARAMS, layer_from_classmethod
    from tests.programs.review34_oo import X as XO
    _check(layer_from_classmethod, (PARAMS[0], XO), (0,), "reverse")
