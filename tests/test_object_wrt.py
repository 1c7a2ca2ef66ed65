"""Gradients with respect to a model object: ``sd.grad(loss)(model, x, y)`` with ``model`` an
instance of the user's class holding its parameter arrays in attributes (nested layers in lists
and dicts, methods, ``__call__``, ``super()``, properties). The gradient is an object of the
model's class whose float attributes hold their gradients; every one is checked against central
finite differences over the model's float leaves (tests/objwrt_oracle.py), and the dense and
recurrent models against a hand-written backward pass too."""

import copy
import dataclasses

import numpy as np
import pytest

import sourcediff as sd
from tests import more_models
from tests.objwrt_oracle import check_object_grad

RNG = np.random.default_rng(0)
X = RNG.normal(size=(5, 3))
Y = RNG.normal(size=(5, 2))


# ---------------------------------------------------------------- models


class Linear:
    def __init__(self, n, m, rng):
        self.W = rng.normal(size=(n, m))
        self.b = rng.normal(size=m) * 0.1

    def __call__(self, x):
        return np.tanh(x @ self.W + self.b)


class MLP:
    def __init__(self, rng):
        self.layers = [Linear(3, 4, rng), Linear(4, 2, rng)]

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def mlp_loss(model, x, y):
    return np.sum((model.forward(x) - y) ** 2)


def flat_loss(lin, x, y):
    return np.sum((np.tanh(x @ lin.W + lin.b) - y) ** 2)


class DictModel:
    def __init__(self, rng):
        self.blocks = {"enc": Linear(3, 4, rng), "dec": Linear(4, 2, rng)}
        self.scale = 0.7

    def forward(self, x):
        h = self.blocks["enc"](x)
        return self.scale * self.blocks["dec"](h)


def dict_loss(model, x, y):
    return np.sum((model.forward(x) - y) ** 2)


@dataclasses.dataclass
class DataModel:
    W: np.ndarray
    b: np.ndarray
    name: str = "dense"

    def predict(self, x):
        return x @ self.W + self.b


@dataclasses.dataclass(frozen=True)
class FrozenModel:
    W: np.ndarray
    b: np.ndarray

    def predict(self, x):
        return x @ self.W + self.b


def predict_loss(model, x, y):
    return np.sum((model.predict(x) - y) ** 2)


class Base:
    def __init__(self, rng):
        self.W = rng.normal(size=(3, 2))

    def forward(self, x):
        return x @ self.W


class Child(Base):
    def __init__(self, rng):
        super().__init__(rng)
        self.c = rng.normal(size=2)

    def forward(self, x):
        return np.sin(super().forward(x)) * self.c


def child_loss(model, x, y):
    return np.sum((model.forward(x) - y) ** 2)


class WithProperty:
    def __init__(self, rng):
        self.V = rng.normal(size=(3, 2))
        self.log_scale = 0.3

    @property
    def weight(self):
        return self.V * np.exp(self.log_scale)

    def forward(self, x):
        return x @ self.weight


def property_loss(model, x, y):
    return np.sum((model.forward(x) - y) ** 2)


class Caching:
    """Caches its hidden layer on self and reads it back in the same method."""

    def __init__(self, rng):
        self.W = rng.normal(size=(3, 4))
        self.V = rng.normal(size=(4, 2))

    def forward(self, x):
        self.h = np.tanh(x @ self.W)
        return self.h @ self.V


def caching_loss(model, x, y):
    return np.sum((model.forward(x) - y) ** 2)


class WithConfig:
    """Attributes that carry no derivative beside the parameters."""

    def __init__(self, rng):
        self.W = rng.normal(size=(3, 2))
        self.n_steps = 2
        self.name = "config"
        self.unused = None
        self.act = np.tanh
        self.index = np.arange(2)
        self.rng = np.random.default_rng(1)

    def forward(self, x):
        h = x @ self.W
        for _ in range(self.n_steps):
            h = self.act(h)
        return h[:, self.index]


def config_loss(model, x, y):
    return np.sum((model.forward(x) - y) ** 2)


class Slotted:
    __slots__ = ("W", "b")

    def __init__(self, rng):
        self.W = rng.normal(size=(3, 2))
        self.b = np.zeros(2)

    def __call__(self, x):
        return x @ self.W + self.b


def call_loss(model, x, y):
    return np.sum((model(x) - y) ** 2)


# ---------------------------------------------------------------- what works


CASES = {
    "flat": (flat_loss, lambda: Linear(3, 2, np.random.default_rng(1))),
    "mlp": (mlp_loss, lambda: MLP(np.random.default_rng(2))),
    "dict_of_layers": (dict_loss, lambda: DictModel(np.random.default_rng(3))),
    "dataclass": (predict_loss, lambda: DataModel(np.ones((3, 2)), np.zeros(2))),
    "frozen_dataclass": (predict_loss, lambda: FrozenModel(np.ones((3, 2)), np.zeros(2))),
    "super": (child_loss, lambda: Child(np.random.default_rng(4))),
    "property": (property_loss, lambda: WithProperty(np.random.default_rng(5))),
    "caching": (caching_loss, lambda: Caching(np.random.default_rng(6))),
    "config": (config_loss, lambda: WithConfig(np.random.default_rng(7))),
    "slots": (call_loss, lambda: Slotted(np.random.default_rng(8))),
}


@pytest.mark.parametrize("optimize", [True, False], ids=["specialized", "generic"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_matches_finite_differences(case, optimize):
    loss, make = CASES[case]
    model = make()
    g = sd.grad(loss, optimize=optimize)(model, X, Y)
    check_object_grad(loss, model, X, Y, grad=g)
    # a second call (the specialized form for this signature) gives the same
    g2 = sd.grad(loss, optimize=optimize)(model, X, Y)
    for k, v in vars(g).items() if hasattr(g, "__dict__") else []:
        if isinstance(v, np.ndarray):
            assert np.array_equal(v, getattr(g2, k))


def test_mlp_matches_a_hand_written_backward_pass():
    model = MLP(np.random.default_rng(11))
    g = sd.grad(mlp_loss)(model, X, Y)
    (l1, l2) = model.layers
    h1 = np.tanh(X @ l1.W + l1.b)
    h2 = np.tanh(h1 @ l2.W + l2.b)
    d2 = 2 * (h2 - Y) * (1 - h2 ** 2)
    d1 = (d2 @ l2.W.T) * (1 - h1 ** 2)
    np.testing.assert_allclose(g.layers[1].W, h1.T @ d2, rtol=1e-12)
    np.testing.assert_allclose(g.layers[1].b, d2.sum(0), rtol=1e-12)
    np.testing.assert_allclose(g.layers[0].W, X.T @ d1, rtol=1e-12)
    np.testing.assert_allclose(g.layers[0].b, d1.sum(0), rtol=1e-12)
    assert type(g.layers) is list and all(type(lg) is Linear for lg in g.layers)


class RNN:
    def __init__(self, rng):
        self.Wx = rng.normal(size=(3, 4)) * 0.5
        self.Wh = rng.normal(size=(4, 4)) * 0.5
        self.out = Linear(4, 2, rng)

    def step(self, h, x):
        return np.tanh(x @ self.Wx + h @ self.Wh)

    def forward(self, xs):
        h = np.zeros(4)
        for x in xs:
            h = self.step(h, x)
        return self.out(h)


def rnn_loss(model, xs, y):
    return np.sum((model.forward(xs) - y) ** 2)


def test_rnn_matches_a_hand_written_backward_pass_and_finite_differences():
    model = RNN(np.random.default_rng(12))
    xs, y = RNG.normal(size=(4, 3)), RNG.normal(size=2)
    g = sd.grad(rnn_loss)(model, xs, y)
    check_object_grad(rnn_loss, model, xs, y, grad=g)
    hs = [np.zeros(4)]
    for x in xs:
        hs.append(np.tanh(x @ model.Wx + hs[-1] @ model.Wh))
    o = np.tanh(hs[-1] @ model.out.W + model.out.b)
    do = 2 * (o - y) * (1 - o ** 2)
    gW, gb = np.outer(hs[-1], do), do
    dh = model.out.W @ do
    gWx, gWh = np.zeros_like(model.Wx), np.zeros_like(model.Wh)
    for t in range(len(xs), 0, -1):
        dz = dh * (1 - hs[t] ** 2)
        gWx += np.outer(xs[t - 1], dz)
        gWh += np.outer(hs[t - 1], dz)
        dh = model.Wh @ dz
    for got, want in ((g.Wx, gWx), (g.Wh, gWh), (g.out.W, gW), (g.out.b, gb)):
        np.testing.assert_allclose(got, want, rtol=1e-10)


def test_the_users_model_is_not_changed_and_non_float_attributes_get_none():
    model = WithConfig(np.random.default_rng(13))
    before = copy.deepcopy(model)
    arrays = {k: v for k, v in vars(model).items()}
    g = sd.grad(config_loss)(model, X, Y)
    for k, v in vars(model).items():
        assert v is arrays[k]  # (the same objects)
        if isinstance(v, np.ndarray):
            assert np.array_equal(v, getattr(before, k))
    assert g is not model and g.W is not model.W and g.W.shape == model.W.shape
    assert g.n_steps is None and g.name is None and g.unused is None and g.act is None
    assert g.index is None and g.rng is None
    assert set(vars(g)) == set(vars(model))


def test_a_gradient_built_once_sees_a_replaced_weight():
    model = MLP(np.random.default_rng(14))
    df = sd.grad(mlp_loss)
    df(model, X, Y)
    model.layers[0].W = np.random.default_rng(15).normal(size=(3, 4))
    g = df(model, X, Y)
    check_object_grad(mlp_loss, model, X, Y, grad=g)
    model.layers[1] = Linear(4, 2, np.random.default_rng(16))
    g = df(model, X, Y)
    check_object_grad(mlp_loss, model, X, Y, grad=g)


def test_the_same_layer_twice_gets_the_sum_of_its_uses():
    """Tied weights: one Linear object at two places in the list. The gradient at each place is
    the total derivative with respect to that (one) array, as finite differences that move it
    in both uses measure."""
    model = MLP(np.random.default_rng(17))
    model.layers = [Linear(3, 3, np.random.default_rng(18))]
    model.layers.append(model.layers[0])
    y = RNG.normal(size=(5, 3))
    g = sd.grad(mlp_loss)(model, X, y)
    check_object_grad(mlp_loss, model, X, y, grad=g)
    assert g.layers[0] is g.layers[1]


class TiedArrays:
    def __init__(self, rng):
        self.enc = Linear(3, 3, rng)
        self.dec = Linear(3, 3, rng)
        self.dec.W = self.enc.W  # (one array in two layers)

    def forward(self, x):
        return self.dec(self.enc(x))


def test_an_array_shared_by_two_layers_gets_the_sum_at_both():
    model = TiedArrays(np.random.default_rng(19))
    y = RNG.normal(size=(5, 3))
    g = sd.grad(mlp_loss)(model, X, y)
    check_object_grad(mlp_loss, model, X, y, grad=g)
    np.testing.assert_array_equal(g.enc.W, g.dec.W)


def test_value_and_grad_has_aux_and_two_arguments():
    model = MLP(np.random.default_rng(20))

    value, g = sd.value_and_grad(mlp_loss)(model, X, Y)
    assert value == pytest.approx(mlp_loss(model, X, Y))
    check_object_grad(mlp_loss, model, X, Y, grad=g)
    (value, aux), g = sd.value_and_grad(aux_loss, has_aux=True)(model, X, Y)
    assert aux.shape == (5, 2)
    check_object_grad(mlp_loss, model, X, Y, grad=g)
    g2 = sd.grad(aux_loss, has_aux=True)(model, X, Y)[0]
    check_object_grad(mlp_loss, model, X, Y, grad=g2)
    gm, gx = sd.grad(mlp_loss, wrt=(0, 1))(model, X, Y)
    check_object_grad(mlp_loss, model, X, Y, grad=gm)
    eps = 1e-6
    E = np.zeros_like(X)
    E[1, 2] = eps
    fd = (mlp_loss(model, X + E, Y) - mlp_loss(model, X - E, Y)) / (2 * eps)
    assert gx[1, 2] == pytest.approx(fd, rel=1e-6)


def aux_loss(model, x, y):
    out = model.forward(x)
    return np.sum((out - y) ** 2), out


def test_numba_backend_gives_the_same_gradient():
    model = MLP(np.random.default_rng(21))
    with pytest.warns(Warning, match="runs as numpy code"):  # (numba takes no objects)
        g = sd.grad(mlp_loss, backend="numba")(model, X, Y)
    check_object_grad(mlp_loss, model, X, Y, grad=g)


# ---------------------------------------------------------------- what is refused, and how


class Odd:
    def __init__(self):
        self.W = np.arange(6.0).reshape(3, 2) / 7
        self.b = np.ones(2)
        self.which = "W"

    def by_name(self, x):
        return x @ getattr(self, self.which)

    def by_vars(self, x):
        return x @ vars(self)["W"]

    def by_dict(self, x):
        return x @ self.__dict__["W"]

    def store(self, x):
        self.h = x @ self.W
        return 0.0

    def read(self):
        return self.h

    def out_arg(self, x):
        np.multiply(self.W, 2.0, out=self.W)
        return x @ self.W

    def item_write(self, x):
        self.W[0] = 0.0
        return x @ self.W

    def rebinding(self, x):
        self.W = self.W * 2.0
        return x @ self.W

    @property
    def weight(self):
        return self.W * 2.0


def by_name_loss(m, x):
    return np.sum(m.by_name(x) ** 2)


def by_vars_loss(m, x):
    return np.sum(m.by_vars(x) ** 2)


def by_dict_loss(m, x):
    return np.sum(m.by_dict(x) ** 2)


def cache_across_methods_loss(m, x):
    m.store(x)
    return np.sum(m.read() ** 2)


def out_arg_loss(m, x):
    return np.sum(m.out_arg(x) ** 2)


def item_write_loss(m, x):
    return np.sum(m.item_write(x) ** 2)


def rebinding_loss(m, x):
    return np.sum(m.rebinding(x) ** 2)


def top_level_property_loss(m, x):
    return np.sum((x @ m.weight) ** 2)


class HoldsAClosure:
    def __init__(self):
        W = np.ones((3, 2))
        self.W = W
        self.f = lambda x: x @ W

    def forward(self, x):
        return self.f(x)


def closure_loss(m, x):
    return np.sum(m.forward(x) ** 2)


class Cyclic:
    def __init__(self):
        self.W = np.ones((3, 2))
        self.child = Kid(self)


class Kid:
    def __init__(self, parent):
        self.parent = parent

    def go(self, x):
        return x @ self.parent.W


def cycle_loss(m, x):
    return np.sum(m.child.go(x) ** 2)


class NoFloats:
    def __init__(self):
        self.n = 3


def no_float_loss(m, x):
    return np.sum(x) * m.n


class Computed:
    def __init__(self):
        self.W = np.ones((3, 2))

    def __getattribute__(self, name):
        return object.__getattribute__(self, name)


class AView:
    def __init__(self):
        self.W = np.ones((3, 3))
        self.V = self.W.T


def view_loss(m, x):
    return np.sum(x @ m.W @ m.V)


def simple_loss(m, x):
    return np.sum((x @ m.W + m.b) ** 2)


REFUSED = {
    "getattr_computed_name": (by_name_loss, Odd, "no derivative rule for getattr", True),
    "vars": (by_vars_loss, Odd, "no derivative rule for vars", True),
    "__dict__": (by_dict_loss, Odd, "through __dict__", False),
    "stored_then_read_in_another_method": (cache_across_methods_loss, Odd, "reads Odd.h back",
                                           True),
    "out_into_a_parameter": (out_arg_loss, Odd, "changed the argument.W in place", False),
    "item_write_into_a_parameter": (item_write_loss, Odd, "self.W[0] = 0.0", True),
    "property_read_where_the_class_is_unknown": (top_level_property_loss, Odd,
                                                  "does not store as an attribute", False),
    "closure_over_arrays": (closure_loss, HoldsAClosure, "holds float values", False),
    "cycle": (cycle_loss, Cyclic, "cycle of references", False),
    "no_float_attribute": (no_float_loss, NoFloats, "no float or float-array attribute", False),
    "__getattribute__": (flat_loss, Computed, "defines __getattribute__", False),
    "a_view_beside_its_array": (view_loss, AView, "over the same memory", False),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_with_a_message(case):
    loss, make, message, at_line = REFUSED[case]
    model = make()
    args = (model, X, Y) if loss is flat_loss else (model, X)
    with pytest.raises(sd.SourcediffError) as info:
        sd.grad(loss)(*args)
    assert message in str(info.value)
    if at_line:
        assert "test_object_wrt.py:" in str(info.value)


class Resets:
    def __init__(self):
        self.W = np.arange(6.0).reshape(3, 2) / 7

    def reset(self):
        self.W = np.ones((3, 2))

    def forward(self, x):
        return x @ self.W


def reset_then_read_loss(m, x):
    m.reset()
    return np.sum(m.forward(x) ** 2)


@pytest.mark.parametrize("loss, make", [(reset_then_read_loss, Resets)])
def test_replacing_a_parameter_inside_the_loss_is_refused(loss, make):
    """self.W = ... during the call and a read of it: the read of the new value would give that
    value's derivative for W (reset_then_read_loss's true gradient is zero: the loss reads only
    the ones reset() stored), so a gradient through a replaced attribute is refused. (A store
    of a value carrying a derivative, self.W = self.W * 2.0 then a read of it in the same block,
    is followed: tests/test_review28.py.)"""
    with pytest.raises(sd.SourcediffError, match="replaced the argument.W during the gradient"):
        sd.grad(loss)(make(), X)


@pytest.mark.parametrize("how", ["forward", "jvp", "jacobian", "hessian", "grad_of_grad"])
def test_forward_mode_and_second_order_refuse_an_object(how):
    model = Odd()
    with pytest.raises(sd.SourcediffError) as info:
        if how == "forward":
            sd.grad(simple_loss, mode="forward")(model, X)
        elif how == "jvp":
            sd.jvp(simple_loss, (model, X), (Odd(), None))
        elif how == "jacobian":
            sd.jacobian(simple_loss)(model, X)
        elif how == "hessian":
            sd.hessian(simple_loss)(model, X)
        else:
            sd.grad(sd.grad(simple_loss))(model, X)
    text = str(info.value)
    assert "Odd object" in text
    assert "reverse mode does" in text or "first derivatives only" in text


def test_vjp_gives_an_object_and_the_tape_refuses_one():
    model = Odd()
    out, f_vjp = sd.vjp(simple_loss, model, X)
    g, gx = f_vjp(1.0)
    check_object_grad(simple_loss, model, X, grad=g)
    from sourcediff.tape import grad_of
    with pytest.raises(sd.SourcediffError, match="cannot carry a gradient"):
        grad_of(simple_loss, (model, X))


# ---------------------------------------------------------------- training with sd.optim


def dict_mlp_loss(params, x, y):
    h = x
    for layer in params:
        h = np.tanh(h @ layer["W"] + layer["b"])
    return np.sum((h - y) ** 2)


@pytest.mark.parametrize("opt_class", [sd.optim.SGD, sd.optim.Adam])
def test_training_a_model_object_matches_the_same_loop_over_a_dict(opt_class):
    model = MLP(np.random.default_rng(30))
    params = [{"W": layer.W.copy(), "b": layer.b.copy()} for layer in model.layers]
    opt = opt_class(model, lr=0.01)
    opt_dict = opt_class(params, lr=0.01)
    df, df_dict = sd.grad(mlp_loss), sd.grad(dict_mlp_loss)
    arrays = [model.layers[0].W, model.layers[1].b]
    losses = []
    for _ in range(30):
        losses.append(mlp_loss(model, X, Y))
        opt.step(df(model, X, Y))
        opt_dict.step(df_dict(params, X, Y))
    assert losses[-1] < 0.8 * losses[0]
    for layer, p in zip(model.layers, params):
        np.testing.assert_allclose(layer.W, p["W"], rtol=1e-12)
        np.testing.assert_allclose(layer.b, p["b"], rtol=1e-12)
    assert model.layers[0].W is arrays[0] and model.layers[1].b is arrays[1]  # (in place)


def test_the_optimizer_updates_a_tied_array_once_and_refuses_a_float_attribute():
    model = TiedArrays(np.random.default_rng(31))
    y = RNG.normal(size=(5, 3))
    opt = sd.optim.SGD(model, lr=0.1)
    assert len(opt.param_groups[0]["params"]) == 3  # (enc.W = dec.W once, enc.b, dec.b)
    before = model.enc.W.copy()
    g = sd.grad(mlp_loss)(model, X, y)
    opt.step(g)
    np.testing.assert_allclose(model.enc.W, before - 0.1 * g.enc.W, rtol=1e-12)
    assert model.dec.W is model.enc.W
    with pytest.raises(TypeError, match=r"model.scale is a Python float"):
        sd.optim.SGD(DictModel(np.random.default_rng(32)), lr=0.1)
    model = MLP(np.random.default_rng(33))
    opt = sd.optim.SGD(model, lr=0.1)
    model.layers[0].W = model.layers[0].W.copy()
    with pytest.raises(ValueError, match="make the optimizer again"):
        opt.step(sd.grad(mlp_loss)(model, X, Y))


@pytest.mark.parametrize("make", more_models.MODELS, ids=lambda c: c.__name__)
def test_models_written_other_ways(make):
    """dict.items() over layers, enumerate, zip with functions, self.layers[-1], a dict or a
    namedtuple of parameters and a float in attributes, a staticmethod through self, super()
    in __call__ of a layer held in an attribute."""
    model = make()
    g = sd.grad(more_models.fwd_loss)(model, X, Y)
    check_object_grad(more_models.fwd_loss, model, X, Y, grad=g)


def test_a_module_level_helper_given_the_model():
    model = more_models.TwoDense()
    g = sd.grad(more_models.helper_loss)(model, X, Y)
    check_object_grad(more_models.helper_loss, model, X, Y, grad=g)
    assert g.first.act is None and type(g.first) is more_models.Dense


def test_vjp_refuses_a_parameter_replaced_in_the_call():
    with pytest.raises(sd.SourcediffError, match="replaced the argument.W"):
        sd.vjp(reset_then_read_loss, Resets(), X)[1](1.0)


def test_sgd_on_a_frozen_dataclass_and_its_gradient():
    model = FrozenModel(np.ones((3, 2)), np.zeros(2))
    W = model.W
    g = sd.grad(predict_loss)(model, X, Y)
    assert type(g) is FrozenModel and g.W is not model.W
    sd.optim.SGD(model, lr=0.01).step(g)
    assert model.W is W
    np.testing.assert_allclose(model.W, np.ones((3, 2)) - 0.01 * g.W)
