"""Object-oriented numpy code: layers that hold their parameters, cache values on self,
initialize lazily and raise (tests/programs/layers.py).

Each form a user would write to differentiate a layer is checked against the layer's hand-written
backward and against central finite differences, in reverse and forward mode, and the tape runs
the same numpy code on tensors. Forms that sourcediff refuses but the issue says must work are
strict xfails naming the refusal; forms that must be refused are checked to raise, never to give a
number.

Every layer here is a subclass whose ``activate``/``gate`` names the activation's class
(``L.ELU.__call__(self.act_fn, z)``): the library's own ``self.act_fn(z)`` is refused (see
test_the_librarys_own_activation_object_call), and naming the class is the fix its message gives.
"""

import copy

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.testing import check_grads
from tests.oracles import check_grads_fd
from tests.programs import layers as L
from tests.programs import model_state

MODES = ["reverse", "forward"]


# ---------------------------------------------------------------- silent wrong gradients (first)
#
# An array reached as an attribute of an imported module (model_state.W, model_state.DENSE...) or
# of a class (SharedInit.W) and written in place through a local name: numpy changes the module's
# array, so the later read of model_state.W depends on r. Found here as a silent zero (and the
# primal run wrote into the module's array); now an AliasError, like a module-level global of this
# file, an instance (self.w), an argument or a closure's object.

R3, X3 = np.array([0.5, 0.5, 0.5]), np.array([1.0, 2.0, 3.0])


def module_attr_inplace_add(r, x):
    w = model_state.W
    w += r
    return np.sum(model_state.W * x)


def module_attr_item_write(r, x):
    w = model_state.W
    w[0] = r[0]
    return np.sum(model_state.W * x)


def module_layer_parameter_inplace(dW, X):
    W = model_state.DENSE.parameters["W"]
    W += dW
    return model_state.DENSE.loss_functional(X, C_DENSE)


class SharedInit:
    """A class attribute, as layer libraries keep shared constants on the class."""
    W = np.ones(3)


def class_attr_inplace_add(r, x):
    w = SharedInit.W
    w += r
    return np.sum(SharedInit.W * x)


def _right_or_refused(fn, args, want, mode):
    saved_W, saved_class_W = model_state.W.copy(), SharedInit.W.copy()
    saved_P = {k: v.copy() for k, v in model_state.DENSE.parameters.items()}
    try:
        got = sd.grad(fn, mode=mode)(*args)
    except sd.SourcediffError:
        return                                    # a refusal is a right answer too
    finally:
        model_state.W, SharedInit.W = saved_W, saved_class_W
        model_state.DENSE.parameters = saved_P
    close(got, want)


@pytest.mark.parametrize("mode", MODES)
def test_silent_wrong_in_place_add_through_a_module_attribute(mode):
    _right_or_refused(module_attr_inplace_add, (R3, X3), X3, mode)


@pytest.mark.parametrize("mode", MODES)
def test_silent_wrong_item_write_through_a_module_attribute(mode):
    _right_or_refused(module_attr_item_write, (R3, X3), [1.0, 0.0, 0.0], mode)


@pytest.mark.parametrize("mode", MODES)
def test_silent_wrong_in_place_add_through_a_class_attribute(mode):
    _right_or_refused(class_attr_inplace_add, (R3, X3), X3, mode)


@pytest.mark.parametrize("mode", MODES)
def test_silent_wrong_in_place_update_of_a_layer_parameter_in_a_module(mode):
    """numpy: W becomes W + dW in the module's layer, so the gradient is the hand-written backward
    at W + dW (checked here against finite differences of the plain numpy run)."""
    dW = np.full_like(model_state.DENSE.parameters["W"], 0.1)
    want = _oracle_at(dW)
    np.testing.assert_allclose(np.ravel(want), fd(_plain, (dW,), 0), rtol=1e-5, atol=1e-7)
    _right_or_refused(module_layer_parameter_inplace, (dW, X_DENSE), want, mode)


def _plain(dW):
    """The loss as numpy computes it, on a copy of the layer (what module_layer_parameter_inplace
    computes, without changing model_state)."""
    layer = copy.deepcopy(model_state.DENSE)
    layer.parameters["W"] = layer.parameters["W"] + dW
    return layer.loss_functional(X_DENSE, C_DENSE)


def _oracle_at(dW):
    layer = copy.deepcopy(model_state.DENSE)
    layer.parameters["W"] = layer.parameters["W"] + dW
    layer.forward(X_DENSE)
    return layer.backward(C_DENSE)[1]["W"]


class DenseELU(L.Dense):
    def activate(self, z):
        return L.ELU.__call__(self.act_fn, z)

    def loss_functional(self, X, C):
        return np.sum(self.forward_with(self.parameters["W"], self.parameters["b"], X) * C)


class ConvTanh(L.Conv2D):
    def activate(self, z):
        return L.Tanh.__call__(self.act_fn, z)

    def loss_functional(self, X, C):
        return np.sum(self.forward_with(self.parameters["W"], self.parameters["b"], X) * C)


class BatchNormF(L.BatchNorm):
    def loss_functional(self, X, C):
        P = self.parameters
        return np.sum(self.forward_with(P["scaler"], P["intercept"], X) * C)


class LayerNormF(L.LayerNorm):
    def loss_functional(self, X, C):
        P = self.parameters
        return np.sum(self.forward_with(P["scaler"], P["intercept"], X) * C)


class RNNTanh(L.RNNCell):
    def activate(self, z):
        return L.Tanh.__call__(self.act_fn, z)

    def loss_functional(self, X, h_prev, C):
        return np.sum(self.forward_with(self.parameters, X, h_prev) * C)


class LSTMNamed(L.LSTMCell):
    def activate(self, z):
        return L.Tanh.__call__(self.act_fn, z)

    def gate(self, z):
        return L.Sigmoid.__call__(self.gate_fn, z)

    def loss_functional(self, X, h_prev, c_prev, C):
        h, c = self.forward_with(self.parameters, X, h_prev, c_prev)
        return np.sum(h * C) + np.sum(c * C ** 2)


rng = np.random.default_rng(24)
X_DENSE, C_DENSE = rng.normal(size=(4, 5)), rng.normal(size=(4, 3))
X_CONV, C_CONV = rng.normal(size=(2, 2, 4, 5)), rng.normal(size=(2, 3, 5, 5))
X_NORM, C_NORM = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
IDS, C_EMB = np.array([[0, 2], [2, 5], [1, 2]]), rng.normal(size=(3, 2, 3))
X_RNN, H_RNN, C_RNN = rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
C_LSTM = rng.normal(size=(2, 4))
CELL_LSTM = rng.normal(size=(2, 4))

DENSE = DenseELU(3, L.ELU(0.7), seed=1)
CONV = ConvTanh(3, (2, 3), pad=1, act_fn=L.Tanh(), seed=2)
BN = BatchNormF(seed=3)
LN = LayerNormF(seed=4)
EMB = L.Embedding(6, 3, seed=5)
RNN = RNNTanh(3, 4, seed=6)
LSTM = LSTMNamed(3, 4, seed=7)
for _layer, _inputs in ((DENSE, (X_DENSE,)), (CONV, (X_CONV,)), (BN, (X_NORM,)), (LN, (X_NORM,))):
    _layer.forward(*_inputs)                              # lazy initialization, outside sourcediff


# ---------------------------------------------------------------- (a) parameters as arguments


def dense_a(W, b, X):
    return np.sum(DENSE.forward_with(W, b, X) * C_DENSE)


def conv_a(W, b, X):
    return np.sum(CONV.forward_with(W, b, X) * C_CONV)


def bn_a(scaler, intercept, X):
    return np.sum(BN.forward_with(scaler, intercept, X) * C_NORM)


def ln_a(scaler, intercept, X):
    return np.sum(LN.forward_with(scaler, intercept, X) * C_NORM)


def emb_a(W, ids):
    return np.sum(EMB.forward_with(W, ids) * C_EMB)


def rnn_a(Wax, Waa, ba, X, h_prev):
    return np.sum(RNN.forward_with({"Wax": Wax, "Waa": Waa, "ba": ba}, X, h_prev) * C_RNN)


def lstm_a(Wf, bf, Wi, bi, Wc, bc, Wo, bo, X, h_prev, c_prev):
    P = {"Wf": Wf, "bf": bf, "Wi": Wi, "bi": bi, "Wc": Wc, "bc": bc, "Wo": Wo, "bo": bo}
    h, c = LSTM.forward_with(P, X, h_prev, c_prev)
    return np.sum(h * C_LSTM) + np.sum(c * C_LSTM ** 2)


# ---------------------------------------------------------------- (b) parameters in a dict


def dense_b(params, X):
    return np.sum(DENSE.forward_with(params["W"], params["b"], X) * C_DENSE)


def conv_b(params, X):
    return np.sum(CONV.forward_with(params["W"], params["b"], X) * C_CONV)


def bn_b(params, X):
    return np.sum(BN.forward_with(params["scaler"], params["intercept"], X) * C_NORM)


def ln_b(params, X):
    return np.sum(LN.forward_with(params["scaler"], params["intercept"], X) * C_NORM)


def emb_b(params, ids):
    return np.sum(EMB.forward_with(params["W"], ids) * C_EMB)


def rnn_b(params, X, h_prev):
    return np.sum(RNN.forward_with(params, X, h_prev) * C_RNN)


def lstm_b(params, X, h_prev, c_prev):
    h, c = LSTM.forward_with(params, X, h_prev, c_prev)
    return np.sum(h * C_LSTM) + np.sum(c * C_LSTM ** 2)


# name: (layer, form a, form b, inputs, upstream gradients for backward)
CASES = {
    "dense": (DENSE, dense_a, dense_b, (X_DENSE,), (C_DENSE,)),
    "conv2d": (CONV, conv_a, conv_b, (X_CONV,), (C_CONV,)),
    "batchnorm": (BN, bn_a, bn_b, (X_NORM,), (C_NORM,)),
    "layernorm": (LN, ln_a, ln_b, (X_NORM,), (C_NORM,)),
    "embedding": (EMB, emb_a, emb_b, (IDS,), (C_EMB,)),
    "rnn": (RNN, rnn_a, rnn_b, (X_RNN, H_RNN), (C_RNN,)),
    "lstm": (LSTM, lstm_a, lstm_b, (X_RNN, H_RNN, CELL_LSTM), (C_LSTM, C_LSTM ** 2)),
}


def oracle(layer, inputs, upstream):
    """The hand-written backward: (gradients of the float inputs, dict of parameter gradients)."""
    layer.forward(*inputs)
    d_in, d_params = layer.backward(*upstream)
    d_in = () if d_in is None else d_in if isinstance(d_in, tuple) else (d_in,)
    return d_in, d_params


def float_positions(args):
    return tuple(i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f")


def fd(fn, args, i, eps=1e-6):
    """Central differences of fn with respect to args[i] (an array or a pytree), as a vector."""
    vec, unflatten = sd.flatten(args[i])
    out = np.zeros_like(vec)
    for k in range(vec.size):
        e = np.zeros_like(vec)
        e[k] = eps
        hi = fn(*args[:i], unflatten(vec + e), *args[i + 1:])
        lo = fn(*args[:i], unflatten(vec - e), *args[i + 1:])
        out[k] = (hi - lo) / (2 * eps)
    return out


def close(got, want):
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_hand_written_backward_is_an_oracle(name):
    """Each layer's backward agrees with central differences of its plain numpy forward."""
    layer, fn, _, inputs, upstream = CASES[name]
    keys = list(layer.parameters)
    args = tuple(layer.parameters[k] for k in keys) + inputs
    d_in, d_params = oracle(layer, inputs, upstream)
    for i in float_positions(args):
        want = d_params[keys[i]] if i < len(keys) else d_in[i - len(keys)]
        np.testing.assert_allclose(np.ravel(want), fd(fn, args, i), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_parameters_as_arguments_to_a_method_of_a_module_level_layer(name, mode):
    layer, fn, _, inputs, upstream = CASES[name]
    keys = list(layer.parameters)
    args = tuple(layer.parameters[k] for k in keys) + inputs
    wrt = float_positions(args)
    grads = sd.grad(fn, wrt=wrt, mode=mode)(*args)
    d_in, d_params = oracle(layer, inputs, upstream)
    for g, i in zip(grads, wrt):
        close(g, d_params[keys[i]] if i < len(keys) else d_in[i - len(keys)])
        np.testing.assert_allclose(np.ravel(g), fd(fn, args, i), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_against_finite_differences_to_second_order(name):
    layer, fn, _, inputs, _ = CASES[name]
    check_grads(fn, tuple(layer.parameters.values()) + inputs, order=2)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_b_parameters_in_a_dict_come_back_as_a_dict(name, mode):
    layer, _, fn, inputs, upstream = CASES[name]
    args = (layer.parameters,) + inputs
    wrt = float_positions(args[1:])
    wrt = (0,) + tuple(i + 1 for i in wrt)
    grads = sd.grad(fn, wrt=wrt, mode=mode)(*args)
    d_in, d_params = oracle(layer, inputs, upstream)
    assert isinstance(grads[0], dict) and list(grads[0]) == list(layer.parameters)
    for k in d_params:
        close(grads[0][k], d_params[k])
    np.testing.assert_allclose(sd.flatten(grads[0])[0], fd(fn, args, 0), rtol=1e-5, atol=1e-7)
    for g, i in zip(grads[1:], wrt[1:]):
        close(g, d_in[i - 1])
        np.testing.assert_allclose(np.ravel(g), fd(fn, args, i), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- (c) bound methods

BOUND = {k: v for k, v in CASES.items() if k != "embedding"}   # its only input is integer ids


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(BOUND))
def test_c_a_bound_method_reading_self_parameters_through_a_functional_method(name, mode):
    layer, _, _, inputs, upstream = CASES[name]
    C = upstream[0]
    grads = sd.grad(layer.loss_functional, wrt=tuple(range(len(inputs))), mode=mode)(*inputs, C)
    d_in, _ = oracle(layer, inputs, upstream)
    for i, g in enumerate(grads):
        close(g, d_in[i])
        np.testing.assert_allclose(np.ravel(g), fd(layer.loss_functional, inputs + (C,), i),
                                   rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(BOUND))
def test_c_a_bound_method_calling_the_caching_forward(name, mode):
    layer, _, _, inputs, upstream = CASES[name]
    grads = sd.grad(layer.loss, wrt=tuple(range(len(inputs))), mode=mode)(*inputs, upstream[0])
    d_in, _ = oracle(layer, inputs, upstream)
    for i, g in enumerate(grads):
        close(g, d_in[i])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("act", [L.ReLU(), L.Tanh(), L.Sigmoid(), L.ELU(0.7)],
                         ids=lambda a: type(a).__name__)
def test_the_librarys_own_activation_object_call(act, mode):
    layer = L.Dense(3, act, seed=1)
    layer.forward(X_DENSE)

    def loss(W, b, X):
        return np.sum(layer.forward_with(W, b, X) * C_DENSE)

    P = layer.parameters
    gW, gb, gX = sd.grad(loss, wrt=(0, 1, 2), mode=mode)(P["W"], P["b"], X_DENSE)
    dX, d = layer.backward(C_DENSE)
    close(gW, d["W"])
    close(gb, d["b"])
    close(gX, dX)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("act", [L.ReLU, L.Tanh, L.Sigmoid, L.ELU])
def test_each_activation_object_named_by_its_class(act, mode):
    def loss(W, b, X):
        return np.sum(named.forward_with(W, b, X) * C_DENSE)

    named = type("Named", (L.Dense,), {"activate": ACTIVATE[act]})(3, act(), seed=1)
    named.forward(X_DENSE)
    P = named.parameters
    gW, gb, gX = sd.grad(loss, wrt=(0, 1, 2), mode=mode)(P["W"], P["b"], X_DENSE)
    dX, d = named.backward(C_DENSE)
    close(gW, d["W"])
    close(gb, d["b"])
    close(gX, dX)


def _relu(self, z):
    return L.ReLU.__call__(self.act_fn, z)


def _tanh(self, z):
    return L.Tanh.__call__(self.act_fn, z)


def _sigmoid(self, z):
    return L.Sigmoid.__call__(self.act_fn, z)


def _elu(self, z):
    return L.ELU.__call__(self.act_fn, z)


ACTIVATE = {L.ReLU: _relu, L.Tanh: _tanh, L.Sigmoid: _sigmoid, L.ELU: _elu}


# ---------------------------------------------------------------- (d) must be refused


def d_through_the_parameters_dict(W, X):
    P = DENSE.parameters
    P["W"] = W
    return np.sum(DENSE.forward(X) * C_DENSE)


def d_through_the_dict_then_a_functional_method(W, X):
    P = DENSE.parameters
    P["W"] = W
    return DENSE.loss_functional(X, C_DENSE)


def d_nested_subscript(W, X):
    DENSE.parameters["W"] = W
    return DENSE.loss_functional(X, C_DENSE)


def d_rebinding_the_attribute(W, X):
    DENSE.parameters = {"W": W, "b": DENSE.parameters["b"]}
    return DENSE.loss_functional(X, C_DENSE)


def d_rnn_dict_passed_on(Wax, X):
    P = RNN.parameters
    P["Wax"] = Wax
    return RNN.loss_functional(X, H_RNN, C_RNN)


def d_embedding(W):
    P = EMB.parameters
    P["W"] = W
    return np.sum(EMB.forward_with(EMB.parameters["W"], IDS) * C_EMB)


REFUSED = [(d_through_the_parameters_dict, DENSE, "W", X_DENSE),
           (d_through_the_dict_then_a_functional_method, DENSE, "W", X_DENSE),
           (d_nested_subscript, DENSE, "W", X_DENSE),
           (d_rnn_dict_passed_on, RNN, "Wax", X_RNN),
           (d_embedding, EMB, "W", None)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c[0].__name__)
def test_d_writing_a_parameter_into_the_layer_is_refused_not_a_wrong_gradient(case, mode):
    fn, layer, key, X = case
    before = {k: v.copy() for k, v in layer.parameters.items()}
    W = layer.parameters[key] + 0.25
    args = (W,) if X is None else (W, X)
    with pytest.raises(sd.SourcediffError):
        sd.grad(fn, wrt=tuple(range(len(args))), mode=mode)(*args)
    assert all(np.array_equal(layer.parameters[k], before[k]) for k in before)


@pytest.mark.parametrize("mode", MODES)
def test_d_rebinding_the_attribute_then_a_method_reading_it_back(mode):
    # DENSE.parameters = {...W...} runs as Python does, and loss_functional, which reads it back,
    # is written into the function (DENSE is a global object of a known class: compiler/
    # inline.py), where that read takes the dict just stored
    before = DENSE.parameters
    W = before["W"] + 0.25

    def fn(W, X):
        try:
            return d_rebinding_the_attribute(W, X)
        finally:
            DENSE.parameters = before

    try:
        g = sd.grad(d_rebinding_the_attribute, wrt=(0, 1), mode=mode)(W, X_DENSE)
        assert DENSE.parameters["W"] is W and DENSE.parameters["b"] is before["b"]
    finally:
        DENSE.parameters = before
    check_grads_fd(fn, (W, X_DENSE), (0, 1), g)


# ---------------------------------------------------------------- the user's ValueError


@pytest.mark.parametrize("mode", MODES)
def test_a_bad_shape_raises_the_layers_own_value_error(mode):
    P = DENSE.parameters
    with pytest.raises(ValueError, match=r"Dense expects \(N, 5\) input"):
        sd.grad(dense_a, wrt=(0, 2), mode=mode)(P["W"], P["b"], np.ones((4, 6)))
    with pytest.raises(ValueError, match="BatchNorm needs a batch"):
        sd.grad(bn_a, wrt=2, mode=mode)(BN.parameters["scaler"], BN.parameters["intercept"],
                                        np.ones((1, 4)))
    with pytest.raises(ValueError, match="Embedding ids"):
        sd.grad(emb_a, mode=mode)(EMB.parameters["W"], np.array([0, 6]))


# ---------------------------------------------------------------- the tape


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_tape_runs_the_layers_own_forward_on_tensors(name):
    layer, _, _, inputs, upstream = CASES[name]
    d_in, d_params = oracle(layer, inputs, upstream)
    taped = copy.deepcopy(layer)
    taped.parameters = {k: sd.tensor(v, requires_grad=True) for k, v in layer.parameters.items()}
    ins = [sd.tensor(x, requires_grad=True) if x.dtype.kind == "f" else x for x in inputs]
    out = taped.forward(*ins)
    outs = out if isinstance(out, tuple) else (out,)
    total = sum(np.sum(o * u) for o, u in zip(outs, upstream))
    total.backward()
    for k in d_params:
        close(taped.parameters[k].grad.numpy(), d_params[k])
    for x, d in zip([x for x in ins if isinstance(x, sd.Tensor)], d_in):
        close(x.grad.numpy(), d)


def test_the_tape_through_lazy_initialization():
    fresh = L.Dense(3, L.ELU(0.7), seed=1)
    Xt = sd.tensor(X_DENSE, requires_grad=True)
    np.sum(fresh.forward(Xt) * C_DENSE).backward()
    dX, _ = fresh.backward(C_DENSE)            # a Tensor: forward cached the tensors on self
    close(Xt.grad.numpy(), dX.detach().numpy())


def _helper(P, x):
    return np.sum(np.tanh(x * P["w"]))


def _dict_into_a_helper(w, x):
    return _helper({"w": w}, x)


def test_second_order_through_a_dict():
    """The hvp crashed inside the generated code (float + dict); first order was right."""
    x, w = np.array([0.3, -0.5]), np.array([0.7, 1.1])
    for mode in MODES:
        close(sd.grad(_dict_into_a_helper, mode=mode)(w, x), x / np.cosh(x * w) ** 2)
    check_grads(_dict_into_a_helper, (w, x), order=2)


# ---------------------------------------------------------------- models made of layers

DENSE_0 = DenseELU(4, L.ELU(0.7), seed=31)
DENSE_1 = DenseELU(3, L.ELU(0.5), seed=32)
DENSE_1.forward(DENSE_0.forward(X_DENSE))
SEQUENTIAL = [DENSE_0, DENSE_1]


def two_named_layers(params, X):
    h = DENSE_0.forward_with(params[0]["W"], params[0]["b"], X)
    return np.sum(DENSE_1.forward_with(params[1]["W"], params[1]["b"], h) * C_DENSE)


def loop_over_a_list_of_layers(params, X):
    h = X
    for layer, p in zip(SEQUENTIAL, params):
        h = layer.forward_with(p["W"], p["b"], h)
    return np.sum(h * C_DENSE)


class TwoLayerModel:
    def __init__(self):
        self.hidden, self.out = DENSE_0, DENSE_1

    def loss(self, X):
        h = self.hidden.forward_with(self.hidden.parameters["W"], self.hidden.parameters["b"], X)
        return np.sum(self.out.forward_with(self.out.parameters["W"], self.out.parameters["b"], h)
                      * C_DENSE)


def _two_layer_oracle():
    h = DENSE_0.forward(X_DENSE)
    DENSE_1.forward(h)
    dh, d1 = DENSE_1.backward(C_DENSE)
    dX, d0 = DENSE_0.backward(dh)
    return dX, [d0, d1]


@pytest.mark.parametrize("mode", MODES)
def test_two_module_level_layers_named_one_by_one(mode):
    params = [dict(DENSE_0.parameters), dict(DENSE_1.parameters)]
    g, gX = sd.grad(two_named_layers, wrt=(0, 1), mode=mode)(params, X_DENSE)
    dX, d = _two_layer_oracle()
    close(gX, dX)
    close(sd.flatten(g)[0], sd.flatten(d)[0])
    np.testing.assert_allclose(sd.flatten(g)[0], fd(two_named_layers, (params, X_DENSE), 0),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", MODES)
def test_a_loop_over_a_list_of_layers(mode):
    params = [dict(DENSE_0.parameters), dict(DENSE_1.parameters)]
    g = sd.grad(loop_over_a_list_of_layers, mode=mode)(params, X_DENSE)
    close(sd.flatten(g)[0], sd.flatten(_two_layer_oracle()[1])[0])


@pytest.mark.parametrize("mode", MODES)
def test_a_model_holding_its_layers_as_attributes(mode):
    close(sd.grad(TwoLayerModel().loss, mode=mode)(X_DENSE), _two_layer_oracle()[0])


# ---------------------------------------------------------------- more refusals and gaps


class DenseWithSetter(DenseELU):
    def loss_with_W(self, W, X, C):
        P = self.parameters
        P["W"] = W
        return self.loss_functional(X, C)


@pytest.mark.parametrize("mode", MODES)
def test_d_inside_a_method_writing_into_self_parameters_is_refused(mode):
    layer = DenseWithSetter(3, L.ELU(0.7), seed=1)
    layer.forward(X_DENSE)
    W = layer.parameters["W"].copy()
    with pytest.raises(sd.AliasError, match="changes self"):
        sd.grad(layer.loss_with_W, mode=mode)(W + 0.25, X_DENSE, C_DENSE)
    np.testing.assert_array_equal(layer.parameters["W"], W)


def copy_of_the_parameters_dict(W, X):
    P = DENSE.parameters.copy()
    P["W"] = W
    return DENSE.loss_functional(X, C_DENSE) + np.sum(P["W"] ** 2)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_copy_of_the_parameters_dict_then_a_write(mode):
    W = DENSE.parameters["W"] + 0.25
    close(sd.grad(copy_of_the_parameters_dict, mode=mode)(W, X_DENSE), 2 * W)


# ---------------------------------------------------------------- second order over a dict


def _fd_of_the_gradient(fn, P, X, V, eps=1e-5):
    """Central differences of the (first-order checked) gradient along the dict direction V."""
    hi = sd.grad(fn)({k: P[k] + eps * V[k] for k in P}, X)
    lo = sd.grad(fn)({k: P[k] - eps * V[k] for k in P}, X)
    return {k: (hi[k] - lo[k]) / (2 * eps) for k in P}


def test_hvp_with_a_dict_of_parameters():
    P = DENSE.parameters
    V = {k: np.random.default_rng(1).normal(size=v.shape) for k, v in P.items()}
    hv = sd.hvp(dense_b, (P, X_DENSE), (V, np.zeros_like(X_DENSE)))
    hv = hv[0] if isinstance(hv, tuple) else hv
    want = _fd_of_the_gradient(dense_b, P, X_DENSE, V)
    np.testing.assert_allclose(sd.flatten(hv)[0], sd.flatten(want)[0], rtol=1e-5, atol=1e-7)


def test_hessian_with_a_dict_of_parameters_is_computed_or_refused_by_sourcediff():
    H = sd.hessian(dense_b)(DENSE.parameters, X_DENSE)   # (over the flattened leaves)
    n = sd.flatten(DENSE.parameters)[0].size
    assert H.shape == (n, n)
    np.testing.assert_allclose(H, H.T, rtol=1e-6, atol=1e-9)
