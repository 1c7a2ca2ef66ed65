"""review32: course-style neural-network code (cs231n, nnfs, min-char-rnn, d2l) against its own
hand-written backward pass and central finite differences (the catalogue is
tests/test_course_layers.py); the regressions found there."""

import copy

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import AliasError, SourcediffError
from sourcediff.testing import _mode_gradients
from tests.oracles import check_grads_fd
from tests.programs import course_nn as C

MODES = ["reverse", "unspecialized", "unoptimized", "forward"]
rng = np.random.default_rng(32)
V, H = 4, 3
INPUTS, TARGETS = [0, 2, 1, 2], [2, 1, 2, 3]
PARAMS = (rng.normal(size=(H, 1)), 0.3 * rng.normal(size=(H, V)), 0.3 * rng.normal(size=(H, H)),
          0.3 * rng.normal(size=(V, H)), rng.normal(size=(H, 1)), rng.normal(size=(V, 1)))
WRT = (2, 3, 4, 5, 6, 7)


def _grads(f, args, wrt, mode):
    if mode == "numba":
        return sd.grad(f, wrt=wrt, backend="numba")(*copy.deepcopy(args))
    return _mode_gradients(f, copy.deepcopy(args), wrt, mode)


def _same(got, want):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- forward mode: item tangents
#
# An item that carries no tangent stored into a list or dict whose other items do (hs[-1] =
# np.copy(hprev) with wrt the weights, outs.append(h0)) got the tangent 0.0, which is read back as
# that item's tangent: np.dot(Whh, 0.0) is Whh-shaped, so min-char-rnn's loss in forward mode
# raised "operands could not be broadcast together ... (3,3) and requested shape (3,1)", and
# np.concatenate of the tangent list "zero-dimensional arrays cannot be concatenated".

def min_char_rnn_flat(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    vocab_size = Wxh.shape[1]
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        x = np.zeros((vocab_size, 1))
        x[inputs[t]] = 1
        xs[t] = x
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][targets[t], 0])
    return loss


@pytest.mark.parametrize("wrt", [3, 4, 6, WRT])
def test_min_char_rnn_forward_mode_with_the_state_not_differentiated(wrt):
    args = (INPUTS, TARGETS) + PARAMS
    hand = C.min_char_rnn_backward(*args)
    got = sd.grad(min_char_rnn_flat, wrt=wrt, mode="forward")(*copy.deepcopy(args))
    want = [hand[k - 2] for k in (wrt if isinstance(wrt, tuple) else (wrt,))]
    _same(got if isinstance(wrt, tuple) else (got,), want)


def rnn_outputs_concatenated(W, h0, xs):
    outs = []
    outs.append(h0)
    h = h0
    for x in xs:
        h = np.tanh(np.dot(h, W) + x)
        outs.append(h)
    H_all = np.concatenate(outs, axis=0)
    return np.sum(np.dot(H_all, W) ** 2)


def test_a_list_holding_an_item_without_tangent_concatenates_in_forward_mode():
    W, h0, xs = rng.normal(size=(3, 3)), rng.normal(size=(1, 3)), rng.normal(size=(4, 1, 3))
    g = sd.grad(rnn_outputs_concatenated, mode="forward")(W, h0, xs)
    _same((g,), (sd.grad(rnn_outputs_concatenated)(W, h0, xs),))
    check_grads_fd(rnn_outputs_concatenated, (W, h0, xs), (0,), (g,))


# ---------------------------------------------------------------- a[i][j] = v
#
# Karpathy's min-char-rnn writes its one-hot inputs as xs[t] = np.zeros((vocab_size, 1));
# xs[t][inputs[t]] = 1, which was refused in every mode ("assignments into nested subscripts").
# It is now written new = copy of a[i]; new[j] = v; a[i] = new, with the alias checks of
# a[i] += e (numpy writes into the object a[i] holds, which no other name read later may hold).

@pytest.mark.parametrize("mode", MODES + ["numba"])
def test_min_char_rnn_as_karpathy_writes_it_matches_its_backward(mode):
    args = (INPUTS, TARGETS) + PARAMS
    _same(_grads(C.min_char_rnn_loss, args, WRT, mode), C.min_char_rnn_backward(*args))


def test_min_char_rnn_hessian_vector_product():
    args = list((INPUTS, TARGETS) + PARAMS)
    v = rng.normal(size=PARAMS[2].shape)

    def along(h):
        moved = copy.deepcopy(args)
        moved[4] = moved[4] + h * v
        return float(np.sum(sd.grad(C.min_char_rnn_loss, wrt=4)(*moved) * v))

    H = sd.hessian(C.min_char_rnn_loss, wrt=4)(*copy.deepcopy(args))
    exact = float(v.ravel() @ H.reshape(9, 9) @ v.ravel())
    assert abs(exact - (along(1e-4) - along(-1e-4)) / 2e-4) < 1e-6 * (1 + abs(exact))


def nested_list(x):
    L = [[x[0], x[1]], [x[1] * 2.0, 3.0]]
    L[1][1] = x[0] * x[1]
    return L[0][0] * L[1][1] + L[1][0]


def nested_dict(x):
    d = {"a": np.zeros(3), "b": x * 2.0}
    d["a"][1:] = np.sin(x[:2])
    d["b"][0] += d["a"][1]
    return np.sum(d["a"] * d["b"])


def nested_array(x):
    a = np.zeros((3, 3))
    for i in range(3):
        a[i][i] = x[i] ** 2
        a[i][(i + 1) % 3] += x[i]
    return np.sum(a @ a)


def nested_dict_of_lists(x):
    d = {"h": [np.outer(x, x), x * 2.0]}
    d["h"][1] = np.tanh(x * 3.0)
    return np.sum(d["h"][1] * d["h"][0])


@pytest.mark.parametrize("f", [nested_list, nested_dict, nested_array, nested_dict_of_lists])
@pytest.mark.parametrize("mode", MODES)
def test_writes_into_an_item_of_a_list_dict_or_array(f, mode):
    x = np.array([0.3, -0.7, 1.1])
    check_grads_fd(f, (x,), (0,), _grads(f, (x,), (0,), mode))


@pytest.mark.parametrize("f", [nested_list, nested_dict, nested_array])
def test_writes_into_an_item_second_order(f):
    x = np.array([0.3, -0.7, 1.1])
    H = sd.hessian(f)(x.copy())
    eps = 1e-5
    numeric = np.array([(sd.grad(f)(x + eps * e) - sd.grad(f)(x - eps * e)) / (2 * eps)
                        for e in np.eye(3)])
    np.testing.assert_allclose(H, numeric, atol=1e-7)


def row_held_and_read_later(x):
    xs = [x * 1.0]
    r = xs[0]
    xs[0][1] = 0.0
    return np.sum(r ** 2)


def write_into_a_fancy_copy(x):
    a = x * 1.0
    a[[0, 1]][0] = 7.0  # (numpy changes nothing in a)
    return np.sum(a ** 2)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_nested_writes_numpy_would_show_elsewhere_are_refused(mode):
    x = np.arange(1.0, 7.0).reshape(3, 2)
    with pytest.raises(AliasError, match="row_held|changes r"):
        sd.grad(row_held_and_read_later, mode=mode)(x)
    with pytest.raises(SourcediffError, match=r"a\[i\] is a copy.*\n.*a\[i, j\] = v"):
        sd.grad(write_into_a_fancy_copy, mode=mode)(x)


# ---------------------------------------------------------------- d.get(k, default)
#
# cs231n's batchnorm_forward reads its hyperparameters as bn_param.get("eps", 1e-5) from the dict
# it then stores the running averages into (bn_param["running_mean"] = ...): the dict carries a
# derivative, and .get on it was refused in every mode. d.get(k[, default]) on a local or a
# parameter is now the runtime primitive dict_get (d[k] where d holds k, else default), whose rule
# refuses another class's get method at the user's line.

XB, GAMMA, BETA, GB = (rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=3),
                       rng.normal(size=(5, 3)))


def batchnorm_loss(x, gamma, beta, G):
    out, cache = C.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    return np.sum(out * G)


def spatial_batchnorm_loss(x, gamma, beta, G):
    out, _ = C.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 1e-3})
    return np.sum(out * G)


def batchnorm_test_mode_loss(x, gamma, beta, G):
    bn_param = {"mode": "test", "running_mean": np.full(3, 0.3), "running_var": np.full(3, 2.0)}
    out, _ = C.batchnorm_forward(x, gamma, beta, bn_param)
    return np.sum(out * G)


@pytest.mark.parametrize("mode", MODES + ["numba"])
def test_cs231n_batchnorm_matches_its_backward(mode):
    args = (XB, GAMMA, BETA, GB)
    _, cache = C.batchnorm_forward(XB, GAMMA, BETA, {"mode": "train"})
    _same(_grads(batchnorm_loss, args, (0, 1, 2), mode), C.batchnorm_backward(GB, cache))


@pytest.mark.parametrize("mode", MODES)
def test_cs231n_spatial_and_test_mode_batchnorm(mode):
    x4, g4 = rng.normal(size=(2, 3, 2, 2)), rng.normal(size=(2, 3, 2, 2))
    _, cache = C.spatial_batchnorm_forward(x4, GAMMA, BETA, {"mode": "train", "eps": 1e-3})
    _same(_grads(spatial_batchnorm_loss, (x4, GAMMA, BETA, g4), (0, 1, 2), mode),
          C.spatial_batchnorm_backward(g4, cache))
    args = (XB, GAMMA, BETA, GB)
    check_grads_fd(batchnorm_test_mode_loss, args, (0, 1, 2),
                   _grads(batchnorm_test_mode_loss, args, (0, 1, 2), mode))


def test_cs231n_batchnorm_hessian():
    H = sd.hessian(batchnorm_loss)(XB, GAMMA, BETA, GB)
    eps = 1e-5
    numeric = [(sd.grad(batchnorm_loss)(XB + eps * e.reshape(5, 3), GAMMA, BETA, GB) -
                sd.grad(batchnorm_loss)(XB - eps * e.reshape(5, 3), GAMMA, BETA, GB)) / (2 * eps)
               for e in np.eye(15)]
    np.testing.assert_allclose(H.reshape(15, 15), np.reshape(numeric, (15, 15)), atol=1e-6)


def get_with_and_without_default(x, w):
    d = {"a": x * 2.0}
    d["b"] = np.sin(x)
    return np.sum(d.get("a", w) * d.get("c", w) + d.get("b") * w)


@pytest.mark.parametrize("mode", MODES)
def test_get_gives_the_item_or_the_default_its_gradient(mode):
    args = (np.array([0.3, -0.7, 1.1]), np.array([0.5, 0.2, -0.4]))
    check_grads_fd(get_with_and_without_default, args, (0, 1),
                   _grads(get_with_and_without_default, args, (0, 1), mode))


class Store:
    def __init__(self, w):
        self.w = w

    def get(self, k):
        return self.w * k


def get_of_an_object(x, st):
    return np.sum(x * st.get(2.0))


def get_of_an_inactive_object(x):
    st = Store(np.arange(3.0))
    return np.sum(x * st.get(2.0))


def test_get_of_another_class():
    x = np.array([0.3, -0.7, 1.1])
    _same((sd.grad(get_of_an_inactive_object)(x),), (2.0 * np.arange(3.0),))
    _same((sd.grad(get_of_an_inactive_object, mode="forward")(x),), (2.0 * np.arange(3.0),))
    with pytest.raises(SourcediffError, match=r"test_review32.py:\d+: obj.get\(...\) of a Store"):
        sd.grad(get_of_an_object, wrt=1)(x, Store(np.ones(3)))


# ---------------------------------------------------------------- what a helper writes into
#
# cs231n's layers keep (x, gamma, eps) in a cache tuple and store running averages into the
# dict they read eps from; alias.mutated_params linked every name the tuple holds to every other
# (x -- cache -- eps -- bn_param), and a name read for its dtype or inside np.zeros(D,
# dtype=x.dtype) to the result, so the store into the dict counted as a write into x and gamma:
# a call of the layer followed by a read of gamma was refused ("batchnorm_forward writes into its
# parameter gamma in place"). A tuple made of names now sees a write into what it holds, but a
# write into one of them does not reach the others.

def scale_layer(x, gamma, cfg):
    eps = cfg["eps"]
    out = gamma * x / eps
    cache = (x, gamma, eps)
    cfg["last"] = out
    return out, cache


def scale_layer_loss(x, gamma):
    cfg = {"eps": 2.0}
    out, cache = scale_layer(x, gamma, cfg)
    return np.sum(out * gamma) + np.sum(x ** 2)


def running_sum(x, cfg):
    m = cfg["m"] if "m" in cfg else np.zeros(x.shape[0], dtype=x.dtype)
    cfg["m"] = m + x
    return x * 2.0


def running_sum_loss(x):
    y = running_sum(x, {})
    return np.sum(y * x)


@pytest.mark.parametrize("mode", MODES)
def test_a_helper_storing_into_a_dict_does_not_write_into_what_its_cache_holds(mode):
    x, gamma = np.array([0.3, -0.7, 1.1]), np.array([0.5, 0.2, -0.4])
    check_grads_fd(scale_layer_loss, (x, gamma), (0, 1),
                   _grads(scale_layer_loss, (x, gamma), (0, 1), mode))
    check_grads_fd(running_sum_loss, (x,), (0,), _grads(running_sum_loss, (x,), (0,), mode))


def write_into_an_item_of_a_tuple(x, y):
    pair = (x, y)
    pair[0][0] = 5.0
    return pair


def caller_of_the_tuple_writer(x, y):
    x = x * 1.0
    write_into_an_item_of_a_tuple(x, y)
    return np.sum(x ** 2) + np.sum(y ** 2)


def test_a_write_through_a_tuple_still_reaches_the_item():
    x, y = np.array([0.3, -0.7, 1.1]), np.array([0.5, 0.2, -0.4])
    with pytest.raises(AliasError, match="write_into_an_item_of_a_tuple writes into its "
                                         "parameter x"):
        sd.grad(caller_of_the_tuple_writer)(x, y)
