"""review26: the fuzzer taught the constructs of the last session (tests/fuzz/extras.py) and what
its campaign found.

A method decorated with a functools.wraps wrapper (``def wrapper(*args, **kwargs)``), called on
an object (``LAYER.scale(x)``, ``m = LAYER.scale; m(x)``, passed as a value, through
functools.partial), and a method written ``def m(*args)``: the bound method's signature still
shows the whole ``*args``, so the call's argument x was matched to item 0 of it, which is the
receiver: reverse mode gave x a zero gradient (silently), forward mode raised IndexError inside
the generated code. np.vectorize of such a wrapper (or of a bound one) raised TypeError inside
the generated code (the tangent 1.0 was given to the whole ``*args`` tuple)."""

import functools
import math

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.tape import grad_of
from tests.oracles import check_grads_fd


def deco(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


class Layer:
    def __init__(self, k):
        self.k = k

    @deco
    def scale(self, t):
        return np.tanh(t) * self.k + t

    def star(*args):
        return np.sin(args[1]) * args[0].k


LAYER = Layer(0.7)


@deco
def dsq(a, b):
    return a * math.sin(b) + a * a


def call_fn(fn, a):
    return fn(a)


def bound_call(x, y):
    return np.sum(LAYER.scale(x) * y)


def bound_local(x, y):
    m = LAYER.scale
    return np.sum(m(x) * y)


def bound_value(x, y):
    return np.sum(call_fn(LAYER.scale, x) * y)


def bound_star(x, y):
    a = (x,)
    return np.sum(LAYER.scale(*a) * y)


def bound_partial(x, y):
    return np.sum(functools.partial(LAYER.scale)(x) * y)


def plain_star_method(x, y):
    return np.sum(LAYER.star(x) * y)


def vectorized_wrapper(x, y):
    return np.sum(np.vectorize(dsq)(x, y))


def vectorized_bound(x, y):
    return np.sum(np.vectorize(LAYER.scale)(x) * y)


X = np.array([0.3, -0.7, 1.1])
Y = np.array([0.5, 0.2, -0.4])
CASES = [bound_call, bound_local, bound_value, bound_star, bound_partial, plain_star_method,
         vectorized_wrapper, vectorized_bound]


@pytest.mark.parametrize("fn", CASES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("how", ["reverse", "unoptimized", "forward", "generic"])
def test_receiver_collected_in_star_args(fn, how):
    # (forward mode of plain_star_method read args_dot[0].k off a zero array: fixed in review30,
    # runtime.zero_tangent)
    if how == "reverse":
        grads = sd.grad(fn, wrt=(0, 1))(X, Y)
    elif how == "unoptimized":
        grads = sd.grad(fn, wrt=(0, 1), optimize=False)(X, Y)
    elif how == "forward":
        grads = sd.grad(fn, wrt=(0, 1), mode="forward")(X, Y)
    else:
        df = sd.grad(fn, wrt=(0, 1))
        df(X, Y)
        grads = df.__sourcediff_specializations__.generic(X, Y)
    check_grads_fd(fn, (X, Y), (0, 1), grads)


@pytest.mark.parametrize("fn", CASES[:6], ids=lambda f: f.__name__)
def test_receiver_collected_in_star_args_tape(fn):
    check_grads_fd(fn, (X, Y), (0, 1), grad_of(fn, [X, Y], wrt=(0, 1)))


# ---------------------------------------------------------------- a model object's methods
# decorated with such a wrapper, the gradient taken with respect to the model: the wrapper's
# fn(*args, **kwargs) passed the model (its receiver, an item of *args) on as carrying no
# derivative (only items whose leaves are floats did), so the model's gradient through the
# method was silently zero (model.k: 0.0 for 0.47; the layer's w: 0 for [0.044, 0.14, ...])


class DLin:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    @deco
    def __call__(self, t):
        return np.tanh(t * self.w) + self.b

    @deco
    def apply(self, t, scale=1.0):
        return np.sin(t * self.w) * scale


class DModel:
    def __init__(self):
        self.a = np.array([0.3, -0.6, 0.9])
        self.k = 0.7
        self.layers = [DLin(np.array([0.5, 1.2, -0.3]), 0.1), DLin(0.5, -0.2)]

    @deco
    def forward(self, t):
        for layer in self.layers:
            t = layer(t)
        return t * self.k


def model_forward(m, x):
    return np.sum(m.forward(x) ** 2)


def model_layer_method(m, x):
    return np.sum(m.layers[0].apply(x, 0.5) * m.a)


def model_layers_star(m, x):
    return np.sum(np.sin(np.stack([layer(x) for layer in m.layers])))


@pytest.mark.parametrize("loss", [model_forward, model_layer_method, model_layers_star],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("optimize", [True, False])
def test_model_methods_decorated_with_a_wrapper(loss, optimize):
    from tests.objwrt_oracle import check_object_grad

    model = DModel()
    grad = sd.grad(loss, optimize=optimize)(model, X)
    check_object_grad(loss, model, X, grad=grad)


def model_layer_method_active_keyword(m, x):
    return np.sum(m.layers[0].apply(x, scale=m.k) * m.a)


def test_active_keyword_into_a_wrapper_of_a_model_method():
    # (was a KeyError from inside the runtime: the keyword is no parameter of the wrapper; then
    # refused, "DLin.apply collects a value that carries a derivative in **kwargs")
    from tests.objwrt_oracle import check_object_grad

    model = DModel()
    grad = sd.grad(model_layer_method_active_keyword)(model, X)
    check_object_grad(model_layer_method_active_keyword, model, X, grad=grad)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_grad_of_a_decorated_bound_method(mode):
    # (sd.grad(LAYER.scale) raised WrtError "Layer.scale has 0 parameter(s)": the wrapper's
    # own *args were read as the parameters; a wrapper as a plain function was unwrapped)
    df = sd.grad(LAYER.scale, mode=mode)
    h = 1e-6
    want = (LAYER.scale(0.3 + h) - LAYER.scale(0.3 - h)) / (2 * h)
    assert abs(df(0.3) - want) < 1e-7
    assert abs(sd.grad(LAYER.scale, wrt="t")(0.3) - want) < 1e-7


# ---------------------------------------------------------------- (seeds 100107, 100243, 100276)
# y = rec(np.array([... for r in y]), 2); y[1:] = ...: a helper that returns its parameter was
# taken to may return a list whatever it was given, so the slice assignment into the array it
# returned was refused as "an assignment to a slice of a list" (3 programs in 300 of the fuzz)


def rec(a, n):
    if n <= 0:
        return a
    return rec(np.sin(a) * 0.9 + 0.1, n - 1)


def passes_back(a):
    return a


def rec_of_an_array_then_slice_assigned(x, y):
    y = rec(np.array([r * 0.5 for r in y]), 2)
    y[1:] = np.exp(x[1:])
    return np.sum(y ** 2)


def helper_of_an_array_then_slice_assigned(x, y):
    y = passes_back(np.array([r * 0.5 for r in y]))
    y[1:] = np.exp(x[1:])
    return np.sum(y ** 2)


def helper_of_a_list_concatenated(x, y):
    v = passes_back([x]) + [y]
    return np.sum(v[0] * v[1])


@pytest.mark.parametrize("fn", [rec_of_an_array_then_slice_assigned,
                                helper_of_an_array_then_slice_assigned,
                                helper_of_a_list_concatenated], ids=lambda f: f.__name__)
@pytest.mark.parametrize("optimize", [True, False])
def test_helper_passing_back_its_parameter(fn, optimize):
    check_grads_fd(fn, (X, Y), (0, 1), sd.grad(fn, wrt=(0, 1), optimize=optimize)(X, Y))


# (seed 200027) v = LAYER.scale(...); v[::-1] += ...: a decorator's wrapper (return fn(*args,
# **kwargs)) was taken to may return a list, so the slice update of the array it returned was
# refused as "an assignment to a slice of a list"; the wrapper returns what the wrapped one does


def decorated_method_result_slice_updated(x, y):
    v = LAYER.scale(x * y)
    v[::-1] += np.sum(y)
    return np.sum(v ** 2)


@deco
def dmul(a, b):
    return a * np.sin(b) + a * a


def decorated_result_slice_assigned(x, y):
    v = dmul(x, y)
    v[1:] = y[1:] ** 2
    return np.sum(v ** 2)


@deco
def two(a, b):
    return [a, b]


def decorated_list_concatenated(x, y):
    v = two(x, y) + [x]
    return np.sum(v[0] * v[2])


@pytest.mark.parametrize("fn", [decorated_method_result_slice_updated,
                                decorated_result_slice_assigned, decorated_list_concatenated],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_result_of_a_decorated_helper(fn, mode):
    check_grads_fd(fn, (X, Y), (0, 1), sd.grad(fn, wrt=(0, 1), mode=mode)(X, Y))
