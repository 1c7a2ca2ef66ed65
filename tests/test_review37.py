"""review37: object-oriented models as people write them (nnfs layers holding layers and lists of
layers, ML-From-Scratch, min-char-rnn, cs231n's FullyConnectedNet, Keras-like models, mixins,
abstract bases, __getattr__ and properties; tests/programs/review37_*.py), checked in every mode
against central finite differences, and the regressions found there."""

import copy
import warnings
from collections import namedtuple

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import SourcediffError
from tests.programs import review34_harness as H
from tests.programs import review37_nnfs as N

# ---------------------------------------------------------------- nnfs: layers of layers
#
# A layer holding its activation (self.activation.forward(z); self.output =
# self.activation.output) and a loop over a list of layers (for layer in layers:
# layer.forward(x); x = layer.output) were refused with AliasError "reads Tanh.output back":
# compiler/held.py and inline.py now write them into the caller.

@pytest.mark.parametrize("mode", ["reverse", "unspecialized", "unoptimized", "numba", "tape"])
def test_nnfs_layer_of_a_layer_and_list_of_layers(mode):
    H.check(N.layer_of_a_layer, (N.W1, N.B1, N.X), (0, 1), mode)
    H.check(N.list_of_layers, (N.W1, N.B1, N.W2, N.B2, N.X), (0, 1, 2, 3), mode)


@pytest.mark.parametrize("mode", ["forward", "hessian"])
def test_nnfs_objects_built_inside_forward_and_second_order(mode):
    # (refused by forward mode at the constructor's line before: the objects built inside are
    # now made locals whole, a function the layer holds called from a local, so no object is
    # built from values carrying tangents; checked against finite differences)
    H.check(N.layer_of_a_layer, (N.W1, N.B1, N.X), (1,), mode)


@pytest.mark.parametrize("mode", ["reverse", "unspecialized", "unoptimized", "numba"])
def test_nnfs_model_holding_its_layers_in_init(mode):
    y = np.array([0, 1, 2, 1, 0])
    H.check(N.model_loss, (N.Model(), N.X, y), (0,), mode)


def test_a_held_layer_replaced_after_init_is_refused_not_followed():
    model = N.Model()
    y = np.array([0, 1, 2, 1, 0])
    sd.grad(N.model_loss)(model, N.X, y)
    model.layers[1] = N.Layer_Dense(4, 4, 5)  # (not what __init__ built there)
    with pytest.raises(SourcediffError, match="holds .*Layer_Dense"):
        sd.grad(N.model_loss)(model, N.X, y)
    model = N.Model()
    model.layers.append(N.Activation_Tanh())
    with pytest.raises(SourcediffError, match="a list of"):
        sd.grad(N.model_loss)(model, N.X, y)


# ---------------------------------------------------------------- a helper's write into an argument
#
# cs231n's batchnorm_forward(x, gamma, beta, bn_param) updating bn_param["running_mean"] called
# from the loss with the loss's own argument: the gradient call ran the helper on a copy and the
# caller's running mean stayed as it was, with no word. It now warns once, at the call.

def _bn_forward(x, gamma, beta, bn_param):
    mu = np.mean(x, axis=0)
    var = np.var(x, axis=0)
    bn_param["running_mean"] = 0.9 * bn_param["running_mean"] + 0.1 * mu
    return gamma * (x - mu) / np.sqrt(var + 1e-5) + beta


def _bn_loss(gamma, x, bn_param):
    return np.sum(_bn_forward(x, gamma, 0.1, bn_param) ** 2)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_helper_writing_into_the_callers_argument_warns_at_the_call(mode):
    sd.clear_cache()
    bn = {"running_mean": np.zeros(3)}
    with pytest.warns(sd.SourcediffWarning, match=r"(?s)passes its argument 'bn_param' to "
                                                  r"_bn_forward, which writes into it.*"
                                                  r"_bn_forward\(x, gamma, 0.1, bn_param\)"):
        sd.grad(_bn_loss, mode=mode)(np.ones(3), N.X, bn)
    H.check(_bn_loss, (np.ones(3), N.X, {"running_mean": np.zeros(3)}), (0,), mode)


def test_a_helper_writing_into_a_local_says_nothing():
    def loss(gamma, x):
        bn = {"running_mean": np.zeros(3)}
        return np.sum(_bn_forward(x, gamma, 0.1, bn) ** 2)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sd.grad(loss)(np.ones(3), N.X)


# ---------------------------------------------------------------- sd.optim and a model's buffers
#
# sd.optim.SGD(model) trained every float array of the model: a running mean the loss reads, a
# fixed mask (torch.optim is given a module's parameters, not its buffers). frozen= names them;
# a zero gradient that weight_decay would move anyway is warned about.

class _BN:
    def __init__(self, n):
        self.gamma = np.ones(n)
        self.beta = np.zeros(n)
        self.running_mean = np.linspace(-0.1, 0.1, n)
        self.mask = np.ones(n)

    def __call__(self, x):
        return self.mask * (self.gamma * (x - self.running_mean) + self.beta)


class _Stateful:
    def __init__(self, n):
        self.W = np.eye(n)
        self.running_mean = np.zeros(n)
        self.table = np.ones(n)  # (read in eval mode only)
        self.training = True

    def __call__(self, x):
        self.running_mean = 0.9 * self.running_mean + 0.1 * np.mean(x, axis=0)
        return x @ self.W if self.training else x @ self.W + self.table


def _bn_model_loss(m, x):
    return np.sum(m(x) ** 2)


@pytest.mark.parametrize("opt", [sd.optim.SGD, sd.optim.Adam])
def test_optim_frozen_leaves_buffers_alone(opt):
    m = _BN(3)
    before = copy.deepcopy(m)
    o = opt(m, lr=0.1, frozen=("running_mean", "model.mask"))
    for _ in range(2):
        o.step(sd.grad(_bn_model_loss)(m, N.X))
    np.testing.assert_array_equal(m.running_mean, before.running_mean)
    np.testing.assert_array_equal(m.mask, before.mask)
    assert np.abs(m.gamma - before.gamma).max() > 1e-3
    with pytest.raises(ValueError, match="runing_mean"):
        opt(m, lr=0.1, frozen=("runing_mean",))
    with pytest.raises(TypeError, match="frozen="):
        opt([m.gamma], lr=0.1, frozen=("gamma",))


def test_optim_warns_when_weight_decay_moves_a_zero_gradient_array():
    m = _Stateful(3)
    o = sd.optim.SGD(m, lr=0.1, weight_decay=0.1)
    with pytest.warns(sd.SourcediffWarning, match=r"model.table has a zero gradient.*"
                                                  r"frozen="):
        o.step(sd.grad(_bn_model_loss)(m, N.X))
    np.testing.assert_array_equal(m.running_mean, 0.1 * np.mean(N.X, axis=0))  # (followed)
    m = _Stateful(3)
    o = sd.optim.SGD(m, lr=0.1, weight_decay=0.1, frozen="table")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        o.step(sd.grad(_bn_model_loss)(m, N.X))


# ---------------------------------------------------------------- the programs
#
# tests/programs/review37_*.py, each in every mode that applies; REFUSED lists the refusals
# (what to write instead is in their messages), anything else must give the finite-difference
# derivative.

from tests.programs import review37_charrnn, review37_cs231n, review37_mlfs, review37_oo, review37_state  # noqa: E402,F401
from tests.programs import review37_harness as P  # noqa: E402

OBJECT_ARG = ("forward", "tape")  # (a model object as the argument: reverse mode only)
REFUSED = {
    # forward mode and the tape take no model object as an argument (pass a dict of arrays)
    **{n: OBJECT_ARG for n in ("mlfs_square_loss", "mlfs_cross_entropy_training",
                               "mlfs_leaky_softmax", "gru_model_object", "keras_compute_loss",
                               "mixin_objective", "abc_chain", "getattr_delegated",
                               "property_derived", "torch_like_module")},
    # (self.dropout_param["mode"] = mode, a nested subscript store, is followed since review40)
    "fc_net_model": OBJECT_ARG,
    "fc_net_batchnorm_dropout_model": OBJECT_ARG,
    # (model.params = params; model.loss(X, y), the model built here: its loss and __init__
    # are written in since review40, the early return and comprehension too; the tape refuses)
    "fc_net_params_dict": ("tape",),
    # a step of the model object passed in, stored and read back in the next (AliasError)
    "particles_model_object": ("reverse", "unspecialized", "unoptimized", "numba") + OBJECT_ARG,
    # objects built inside from values carrying tangents, used whole (forward mode refuses)
    "mixin_built_inside": ("forward",),
    "abc_built_inside": ("forward", "hessian"), "property_built_inside": ("forward", "hessian"),
    # cls(...) in a classmethod (reverse mode follows it since review40)
    "classmethod_built_inside": ("forward", "hessian"),
    # a dataclass replaced (written as its constructor: forward mode refuses that)
    "dataclass_replace": ("forward",),
    # the tape cannot follow a Tensor written into an ndarray (out[n, f, i, j] = ...)
    "conv_relu_pool_svm": ("tape",), "kalman_marginal_likelihood": ("tape",),
}


@pytest.mark.parametrize("case", P.CASES, ids=lambda c: c["name"])
def test_program_every_mode(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = P.survey([case])
    refused = set(REFUSED.get(case["name"], ()))
    for (name, mode), result in out.items():
        if mode in refused:
            assert result.startswith("refused"), (mode, result)
        else:
            assert result == "ok", (mode, result)


# ---------------------------------------------------------------- state objects built inside
#
# filterpy's KalmanFilter (kf.predict(); kf.update(z) in a loop, storing self.x and self.P),
# an optimizer object keeping its moments (self.m = ...) and a particle system's sim.step(dt)
# were refused in every mode (AliasError "reads KalmanFilter.Q back"): an object built inside the
# function and used through its attributes only, once its methods are written in, now has its
# attributes made locals (compiler/scalarize.py), which every mode follows, forward mode and
# jacobians too (the object itself is not built).

def test_state_objects_in_forward_mode_and_jacobian():
    from tests.programs import review37_state as S
    q, r = np.array([0.1, 0.05]), np.array([0.3])
    H.check(S.kalman_marginal_likelihood_stored, (q, r), (0, 1), "reverse")
    jac = sd.jacobian(S.kalman_marginal_likelihood, wrt=0)(q, r)
    np.testing.assert_allclose(jac, sd.grad(S.kalman_marginal_likelihood)(q, r), rtol=1e-10)
    H.check(S.unrolled_adam_meta, (np.array([0.5, -0.3]),), (0,), "hessian")


class _Counter:
    def __init__(self):
        self.n = 0

    def tick(self, x):
        self.n += 1
        self.last = x
        return x * self.n


def test_an_object_passed_on_is_not_made_locals():
    # (passed to a function of the user's: its attributes stay on the object)
    def seen(c):
        return c.n

    def f(x):
        c = _Counter()
        y = c.tick(x)
        y = y + c.tick(x)
        return np.sum(y) * seen(c)

    for mode in ("reverse", "forward", "unoptimized"):
        H.check(f, (np.array([1.0, 2.0]),), (0,), mode)


def test_a_class_constant_read_through_an_object_built_inside():
    # (RidgeModel.lam = 0.1 in the class body, read as self.lam: refused with "the derivative
    # flows through RidgeModel.lam, which the object built here does not store")
    from tests.programs import review37_oo as O
    H.check(O.mixin_built_inside, (O.R.normal(size=(3, 2)), np.zeros(2) + 0.2), (0, 1),
            "reverse")


def test_a_list_returned_by_a_method_stacked_unoptimized():
    # (crashed with "unsupported operand type(s) for +: 'float' and 'list'": unstack_grads gave
    # a plain list where the unoptimized sweep adds to 0.0)
    from tests.programs import review37_charrnn as C
    H.check(C.gru_model_object, (C.GRUCell(C.GRU_PARAMS), np.zeros(3) + 0.1), (0, 1),
            "unoptimized")


# ---------------------------------------------------------------- constructors review34 refused
#
# self.parameters = {}; self.parameters["W"] = W in __init__ ("computes from rather than stores
# as it is"), P._make([W, b]) ("no derivative rule for P._make"), p._replace(W=W) ("collects a
# value that carries a derivative in **kwargs") and dataclasses.replace(p, W=W) ("no derivative
# rule for dataclasses.replace") are followed now: the first as an object made locals
# (scalarize.py: m(x) is m.__call__(x) there), the others written as the constructor calls they
# make (compiler/replaced.py).

class _NestedStore:
    def __init__(self, W, b):
        self.parameters = {}
        self.parameters["W"] = W
        self.parameters["b"] = b

    def __call__(self, x):
        return np.tanh(x @ self.parameters["W"] + self.parameters["b"])


def _nested_store(W, b):
    m = _NestedStore(W, b)
    h = m(N.X)
    return np.sum(m(h[:, :3]) ** 2)


@pytest.mark.parametrize("mode", ["reverse", "unspecialized", "unoptimized", "forward", "numba",
                                  "hessian", "tape"])
def test_constructors_review34_refused(mode):
    from tests.programs import review37_oo as O
    H.check(_nested_store, (N.W1[:, :3], N.B1[:3]), (0, 1), mode)
    W, b = O.R.normal(size=(3, 2)), np.zeros(2) + 0.3
    for f in (O.namedtuple_make, O.namedtuple_replace) + (
            (O.dataclass_replace,) if mode not in ("forward", "hessian") else ()):
        H.check(f, (W, b), (0, 1), mode)
    H.check(O.namedtuple_replace_in_a_loop, (np.array([0.4, -0.2]), np.array([0.1, 0.3])),
            (0, 1), mode)


# ---------------------------------------------------------------- a namedtuple's own __new__
#
# A namedtuple subclass with a __new__ of its own (class Pos(namedtuple("Pos", "x y")):
# def __new__(cls, x, y): return super().__new__(cls, 2 * x, y)) built inside the function:
# forward mode gave each field the tangent of the argument passed, [1.5, 3.0] for the derivative
# [2.0, 4.0] of sum(p.x * p.y) at w = [0.5, 1.0], silently (reverse mode refused at run time). Its
# constructor is now "computes from" for every mode, and _replace/_make are not written as its
# call (they bypass __new__).

class _Pos(namedtuple("_Pos", "x y")):
    __slots__ = ()

    def __new__(cls, x, y):
        return super().__new__(cls, x * 2.0, y)


def _pos_loss(w):
    p = _Pos(w, w)
    return np.sum(p.x * p.y)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_namedtuple_with_its_own_new_is_refused_not_given_the_arguments_tangent(mode):
    from sourcediff.errors import NoRuleError
    with pytest.raises(NoRuleError, match=r"_Pos\(\.\.\.\)"):
        sd.grad(_pos_loss, mode=mode)(np.array([0.5, 1.0]))
