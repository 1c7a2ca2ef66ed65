"""review34: parameters held in objects built inside the loss, the ways code builds them: in a
loop, in a comprehension, by a factory function, passed to a helper, held in a list, classmethod
constructors, dataclasses with methods, functools.partial losses, closures over model objects."""
# ruff: noqa

import functools
from collections import namedtuple
from dataclasses import dataclass, field

import numpy as np

import sourcediff as sd
from tests.programs.review34_harness import case

rng = np.random.default_rng(342)
X = rng.normal(size=(5, 3))
Y = rng.normal(size=(5, 2))
PARAMS = [(rng.normal(size=(3, 4)) * 0.5, rng.normal(size=4) * 0.1),
          (rng.normal(size=(4, 2)) * 0.5, rng.normal(size=2) * 0.1)]


class Lin:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __call__(self, x):
        return x @ self.W + self.b

    @classmethod
    def from_pair(cls, pair):
        W, b = pair
        return cls(W, b)


@case((PARAMS, X, Y), wrt=(0,))
def layer_built_in_loop(params, x, y):
    h = x
    for W, b in params:
        layer = Lin(W, b)
        h = np.tanh(layer(h))
    return np.mean((h - y) ** 2)


@case((PARAMS, X, Y), wrt=(0,))
def layers_built_in_comprehension(params, x, y):
    layers = [Lin(W, b) for W, b in params]
    h = x
    for layer in layers:
        h = np.tanh(layer(h))
    return np.mean((h - y) ** 2)


def make_layer(W, b):
    return Lin(W, b)


@case((PARAMS[0][0], PARAMS[0][1], X), wrt=(0, 1))
def layer_from_factory(W, b, x):
    layer = make_layer(W, b)
    return np.sum(np.tanh(layer(x)) ** 2)


def apply_layer(layer, x):
    return np.tanh(layer(x))


@case((PARAMS[0][0], PARAMS[0][1], X), wrt=(0, 1))
def layer_passed_to_helper(W, b, x):
    layer = Lin(W, b)
    return np.sum(apply_layer(layer, x) ** 2) + np.sum(apply_layer(layer, -x))


@case((PARAMS[0], X), wrt=(0,))
def layer_from_classmethod(pair, x):
    layer = Lin.from_pair(pair)
    return np.sum(layer(x) ** 2)


@dataclass
class Affine:
    A: np.ndarray
    c: np.ndarray
    name: str = "affine"
    tags: list = field(default_factory=list)

    def apply(self, x):
        return x @ self.A.T + self.c

    def logdet(self):
        return np.linalg.slogdet(self.A)[1]


A0 = np.eye(3) + 0.2 * rng.normal(size=(3, 3))


@case((A0, np.zeros(3), X), wrt=(0, 1), hessian=False)
def flow_dataclass(A, c, x):
    t = Affine(A, c, name="first")
    z = t.apply(x)
    return 0.5 * np.sum(z ** 2) - len(x) * t.logdet()


Gaussian = namedtuple("Gaussian", ["mean", "log_std"])


def kl(p, q):
    return np.sum(q.log_std - p.log_std + (np.exp(2 * p.log_std) + (p.mean - q.mean) ** 2)
                  / (2 * np.exp(2 * q.log_std)) - 0.5)


@case((np.array([0.3, -0.1]), np.array([0.1, 0.2])), wrt=(0, 1), hessian=True)
def kl_of_namedtuples(mu, log_std):
    return kl(Gaussian(mu, log_std), Gaussian(np.zeros(2), np.zeros(2)))


@case((np.array([0.3, -0.1]), np.array([0.1, 0.2])), wrt=(0, 1))
def namedtuple_make_and_index(mu, log_std):
    g = Gaussian._make([mu, log_std])
    m, s = g
    return np.sum(m * np.exp(s)) + np.sum(g[0])


class Model:
    def __init__(self, W):
        self.W = W

    def predict(self, x):
        return np.tanh(x @ self.W)


MODEL = Model(rng.normal(size=(3, 2)))


@case((MODEL.W, X, Y), wrt=(0,))
def closure_over_model(W, x, y):
    def loss_of(m):
        return np.mean((m.predict(x) - y) ** 2)
    return loss_of(Model(W))


def mse(W, x, y, reg):
    return np.mean((np.tanh(x @ W) - y) ** 2) + reg * np.sum(W ** 2)


@case((MODEL.W, X, Y), wrt=(0,))
def partial_loss_local(W, x, y):
    f = functools.partial(mse, reg=0.1)
    return f(W, x, y)


class Counter:
    """An object whose attributes only count calls (bookkeeping kept in a model)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, v):
        self.calls += 1
        return np.sum(v ** 2)


@case((MODEL.W, X), wrt=(0,))
def bookkeeping_object_inside(W, x):
    c = Counter()
    total = c(x @ W) + c(W)
    return total * c.calls


@case((PARAMS[0][0], PARAMS[0][1], X), wrt=(0, 1))
def object_arg_changed_in_place_after(W, b, x):
    W2 = W * 1.0
    layer = Lin(W2, b)
    W2[0] = 0.0  # (numpy: layer.W changes too)
    return np.sum(layer(x) ** 2)


@case((PARAMS[0][0], PARAMS[0][1], X), wrt=(0, 1))
def objects_in_a_list_by_index(W, b, x):
    ls = [Lin(W, b), Lin(W * 0.5, b)]
    return np.sum(ls[0](x) * ls[1](x))


@case((np.array([0.3, -0.1]), np.array([0.1, 0.2])), wrt=(0, 1))
def namedtuple_replace(mu, log_std):
    g = Gaussian(mu, log_std)
    g2 = g._replace(mean=mu * 2.0)
    return np.sum(g2.mean * np.exp(g2.log_std))


class Slotted:
    __slots__ = ("W", "c")

    def __init__(self, W, c):
        self.W = W
        self.c = c

    def f(self, x):
        return np.sum(np.sin(x @ self.W) * self.c)


@case((PARAMS[0][0], 1.5, X), wrt=(0, 1))
def slotted_object_with_float(W, c, x):
    return Slotted(W, c).f(x)


class Params2:
    def __init__(self, W):
        self.W = W

    def step(self, g, lr):
        return Params2(self.W - lr * g)

    def loss(self, x):
        return np.sum(np.tanh(x @ self.W) ** 2)


@case((PARAMS[0][0], X), wrt=(0,))
def functional_update_method(W, x):
    p = Params2(W)
    for _ in range(3):
        g = np.ones_like(W) * 0.1 * p.loss(x)
        p = p.step(g, 0.5)
    return p.loss(x)


@case((PARAMS[0][0], PARAMS[0][1], X), wrt=(0, 1))
def two_objects_share_an_argument(W, b, x):
    a = Lin(W, b)
    c = Lin(W, b * 2.0)
    return np.sum(a(x) * c(x)) + np.sum(a.W * c.b[None, :])
