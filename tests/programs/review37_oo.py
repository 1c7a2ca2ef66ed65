"""review37: object-oriented models in styles review34 did not cover: a Keras-like Model with
compile/fit holding layers in a list, a mixin-based model, an abstract base class with an
abstractmethod forward, parameters delegated through __getattr__, properties computing derived
parameters, a torch-like Module registering its parameters in a dict, classmethod constructors
called inside the loss, and namedtuple/dataclass replace."""

import dataclasses
from abc import ABC, abstractmethod
from collections import namedtuple

import numpy as np

from tests.programs.review37_harness import case

R = np.random.default_rng(3737)
X = R.normal(size=(6, 3))
Y = R.normal(size=(6, 2))


# ---------------------------------------------------------------- Keras-like
class KDense:
    def __init__(self, units, activation=None, input_dim=None, seed=0):
        self.units, self.activation, self.input_dim, self.seed = units, activation, input_dim, seed
        self.built = False

    def build(self, input_dim):
        rng = np.random.default_rng(self.seed)
        self.kernel = rng.normal(size=(input_dim, self.units)) * 0.5
        self.bias = np.zeros(self.units) + 0.1
        self.built = True

    def call(self, x):
        z = x @ self.kernel + self.bias
        if self.activation == "relu":
            return np.maximum(z, 0.0)
        if self.activation == "tanh":
            return np.tanh(z)
        return z


class MeanSquaredError:
    def __call__(self, y_true, y_pred):
        return np.mean(np.square(y_true - y_pred))


class Sequential:
    def __init__(self, layers=None):
        self.layers = []
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        dim = layer.input_dim if not self.layers else self.layers[-1].units
        layer.build(dim)
        self.layers.append(layer)

    def compile(self, loss, optimizer="sgd", metrics=()):
        self.loss = loss
        self.optimizer = optimizer

    def predict(self, x):
        for layer in self.layers:
            x = layer.call(x)
        return x

    def compute_loss(self, x, y):
        return self.loss(y, self.predict(x))


def _keras_model():
    m = Sequential([KDense(4, "tanh", input_dim=3, seed=1), KDense(3, "relu", seed=2),
                    KDense(2, seed=3)])
    m.compile(loss=MeanSquaredError())
    return m


@case((_keras_model(), X, Y))
def keras_compute_loss(model, x, y):
    return model.compute_loss(x, y)


# ---------------------------------------------------------------- mixins
class L2Mixin:
    lam = 0.01

    def penalty(self):
        return self.lam * sum(np.sum(w ** 2) for w in self.weights())


class LoggingMixin:
    def log(self, msg):
        self.last_message = msg


class BaseRegressor:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def weights(self):
        return [self.W]

    def predict(self, x):
        return x @ self.W + self.b


class RidgeModel(L2Mixin, LoggingMixin, BaseRegressor):
    lam = 0.1

    def objective(self, x, y):
        self.log("objective")
        return np.mean((self.predict(x) - y) ** 2) + self.penalty()


@case((RidgeModel(R.normal(size=(3, 2)), np.zeros(2)), X, Y))
def mixin_objective(model, x, y):
    return model.objective(x, y)


@case((R.normal(size=(3, 2)), np.zeros(2) + 0.2), wrt=(0, 1))
def mixin_built_inside(W, b):
    return RidgeModel(W, b).objective(X, Y)


# ---------------------------------------------------------------- abstract base class
class Module(ABC):
    @abstractmethod
    def forward(self, x):
        ...

    def __call__(self, x):
        return self.forward(x)


class Affine(Module):
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        return x @ self.W + self.b


class Softplus(Module):
    def forward(self, x):
        return np.logaddexp(0.0, x)


class Chain(Module):
    def __init__(self, *mods):
        self.mods = list(mods)

    def forward(self, x):
        for m in self.mods:
            x = m(x)
        return x


@case((Chain(Affine(R.normal(size=(3, 4)), np.zeros(4)), Softplus(),
             Affine(R.normal(size=(4, 2)), np.ones(2) * 0.1)), X, Y))
def abc_chain(net, x, y):
    return np.sum((net(x) - y) ** 2)


@case((R.normal(size=(3, 4)), R.normal(size=(4, 2))), wrt=(0, 1), hessian=True)
def abc_built_inside(W1, W2):
    net = Chain(Affine(W1, np.zeros(4)), Softplus(), Affine(W2, np.zeros(2)))
    return np.sum((net(X) - Y) ** 2)


# ---------------------------------------------------------------- __getattr__ delegation
class Linear:
    def __init__(self, W, b):
        self.W, self.b = W, b


class Wrapped:
    """Delegates attribute reads it does not have to the layer it wraps (as a pruning or
    quantization wrapper does)."""

    def __init__(self, inner, scale=1.0):
        self.inner = inner
        self.scale = scale

    def __getattr__(self, name):
        inner = self.__dict__.get("inner")  # (copy.deepcopy asks before inner is set)
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)

    def __call__(self, x):
        return self.scale * (x @ self.W) + self.b


@case((Wrapped(Linear(R.normal(size=(3, 2)), np.ones(2)), 0.5), X, Y))
def getattr_delegated(model, x, y):
    return np.sum((model(x) - y) ** 2)


# ---------------------------------------------------------------- properties
class Mahalanobis:
    """W = L L^T (positive semi-definite by construction), a derived parameter."""

    def __init__(self, L, shift):
        self.L, self.shift = L, shift

    @property
    def W(self):
        return self.L @ self.L.T

    @property
    def center(self):
        return np.tanh(self.shift)

    def dist(self, x):
        d = x - self.center
        return np.sum((d @ self.W) * d, axis=1)


@case((Mahalanobis(R.normal(size=(3, 3)) * 0.5, R.normal(size=3)), X))
def property_derived(metric, x):
    return np.mean(np.log1p(metric.dist(x)))


@case((R.normal(size=(3, 3)) * 0.5, R.normal(size=3)), wrt=(0, 1), hessian=True)
def property_built_inside(L, shift):
    m = Mahalanobis(L, shift)
    return np.mean(np.log1p(m.dist(X))) + np.sum(m.W ** 2)


# ---------------------------------------------------------------- torch-like registered parameters
class TModule:
    def __init__(self):
        self._parameters = {}
        self._modules = {}

    def register_parameter(self, name, value):
        self._parameters[name] = value

    def add_module(self, name, module):
        self._modules[name] = module

    def __getattr__(self, name):
        params = self.__dict__.get("_parameters", {})
        if name in params:
            return params[name]
        mods = self.__dict__.get("_modules", {})
        if name in mods:
            return mods[name]
        raise AttributeError(name)

    def __call__(self, *args):
        return self.forward(*args)


class TLinear(TModule):
    def __init__(self, n_in, n_out, seed):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.register_parameter("weight", rng.normal(size=(n_out, n_in)) * 0.5)
        self.register_parameter("bias", np.zeros(n_out) + 0.05)

    def forward(self, x):
        return x @ self.weight.T + self.bias


class TMLP(TModule):
    def __init__(self):
        super().__init__()
        self.add_module("fc1", TLinear(3, 4, 1))
        self.add_module("fc2", TLinear(4, 2, 2))

    def forward(self, x):
        return self.fc2(np.tanh(self.fc1(x)))


@case((TMLP(), X, Y))
def torch_like_module(model, x, y):
    return np.mean((model(x) - y) ** 2)


# ---------------------------------------------------------------- classmethod constructors
class Gaussian:
    def __init__(self, mu, log_std):
        self.mu, self.log_std = mu, log_std

    @classmethod
    def from_vector(cls, v):
        return cls(v[:2], v[2:])

    def nll(self, x):
        return np.sum(0.5 * ((x - self.mu) / np.exp(self.log_std)) ** 2 + self.log_std)


@case((np.array([0.1, -0.2, 0.3, -0.1]),), hessian=True)
def classmethod_built_inside(v):
    g = Gaussian.from_vector(v)
    return g.nll(X[:, :2])


# ---------------------------------------------------------------- namedtuple and dataclass replace
Params = namedtuple("Params", "W b")


@dataclasses.dataclass
class DParams:
    W: np.ndarray
    b: np.ndarray


@case((R.normal(size=(3, 2)), np.zeros(2) + 0.3), wrt=(0, 1))
def namedtuple_replace(W, b):
    p = Params(np.zeros((3, 2)), b)
    p = p._replace(W=W)
    return np.sum((X @ p.W + p.b - Y) ** 2)


@case((R.normal(size=(3, 2)), np.zeros(2) + 0.3), wrt=(0, 1))
def namedtuple_make(W, b):
    p = Params._make([W, b])
    return np.sum((X @ p.W + p.b - Y) ** 2)


@case((R.normal(size=(3, 2)), np.zeros(2) + 0.3), wrt=(0, 1))
def dataclass_replace(W, b):
    p = DParams(np.zeros((3, 2)), b)
    p = dataclasses.replace(p, W=W)
    return np.sum((X @ p.W + p.b - Y) ** 2)


Leapfrog = namedtuple("Leapfrog", "q p t")


@case((np.array([0.4, -0.2]), np.array([0.1, 0.3])), wrt=(0, 1), hessian=True)
def namedtuple_replace_in_a_loop(q0, p0):
    s = Leapfrog(q0, p0, 0)
    for _ in range(4):
        s = s._replace(p=s.p - 0.05 * np.sin(s.q))
        s = s._replace(q=s.q + 0.1 * s.p, t=s.t + 1)
    return np.sum(s.q ** 2) + s.t * np.sum(s.p)
