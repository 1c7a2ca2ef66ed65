"""review34: neural-network code written as numpy-ml (ddbourgin) and "Neural Networks from
Scratch" write it: activation objects with fn(z), layers with forward and a parameters dict,
losses as classes, a list of layers in a for loop, __call__ models, inheritance with super()."""
# ruff: noqa

from abc import ABC, abstractmethod

import numpy as np

from tests.programs.review34_harness import case

rng = np.random.default_rng(34)


def R(*s):
    return rng.normal(size=s)


# ---------------------------------------------------------------- numpy-ml activations

class ActivationBase(ABC):
    def __call__(self, z):
        if z.ndim == 1:
            z = z.reshape(1, -1)
        return self.fn(z)

    @abstractmethod
    def fn(self, z):
        raise NotImplementedError


class Sigmoid(ActivationBase):
    def __str__(self):
        return "Sigmoid"

    def fn(self, z):
        return 1 / (1 + np.exp(-z))


class ReLU(ActivationBase):
    def fn(self, z):
        return np.clip(z, 0, np.inf)


class Tanh(ActivationBase):
    def fn(self, z):
        return np.tanh(z)


class LeakyReLU(ActivationBase):
    def __init__(self, alpha=0.3):
        self.alpha = alpha
        super().__init__()

    def fn(self, z):
        _z = z.copy()
        _z[z < 0] = _z[z < 0] * self.alpha
        return _z


class SoftPlus(ActivationBase):
    def fn(self, z):
        return np.log(np.exp(z) + 1)


class Identity(ActivationBase):
    def fn(self, z):
        return z


# ---------------------------------------------------------------- numpy-ml losses

class SquaredError:
    def __call__(self, y, y_pred):
        return self.loss(y, y_pred)

    @staticmethod
    def loss(y, y_pred):
        return 0.5 * np.linalg.norm(y_pred - y) ** 2


class CrossEntropy:
    def __call__(self, y, y_pred):
        return self.loss(y, y_pred)

    @staticmethod
    def loss(y, y_pred):
        eps = np.finfo(float).eps
        cross_entropy = -np.sum(y * np.log(y_pred + eps))
        return cross_entropy


def softmax(X):
    e_X = np.exp(X - np.max(X, axis=1, keepdims=True))
    return e_X / e_X.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- numpy-ml layers

class LayerBase:
    def __init__(self):
        self.X = []
        self.act_fn = None
        self.trainable = True
        self.parameters = {}
        self.gradients = {}
        self.derived_variables = {}

    def freeze(self):
        self.trainable = False


class FullyConnected(LayerBase):
    def __init__(self, n_in, n_out, act_fn=None, seed=0):
        super().__init__()
        self.n_in = n_in
        self.n_out = n_out
        self.act_fn = Identity() if act_fn is None else act_fn
        r = np.random.default_rng(seed)
        W = r.normal(size=(n_in, n_out)) * np.sqrt(1.0 / n_in)
        b = np.zeros((1, n_out))
        self.parameters = {"W": W, "b": b}
        self.derived_variables = {"Z": []}
        self.gradients = {"W": np.zeros_like(W), "b": np.zeros_like(b)}

    def forward(self, X, retain_derived=False):
        Y, Z = self._fwd(X)
        if retain_derived:
            self.X.append(X)
            self.derived_variables["Z"].append(Z)
        return Y

    def _fwd(self, X):
        W = self.parameters["W"]
        b = self.parameters["b"]
        Z = X @ W + b
        Y = self.act_fn(Z)
        return Y, Z


class Network:
    def __init__(self, sizes, acts, seed=0):
        self.layers = [FullyConnected(a, b, act, seed + k)
                       for k, (a, b, act) in enumerate(zip(sizes[:-1], sizes[1:], acts))]
        self.loss = SquaredError()

    def forward(self, X):
        out = X
        for layer in self.layers:
            out = layer.forward(out)
        return out


NET = Network([3, 5, 4, 2], [Tanh(), LeakyReLU(0.1), Sigmoid()])
XN, YNET = R(6, 3), R(6, 2)


@case((NET, XN, YNET), wrt=(0,))
def numpyml_network_wrt_model(net, X, y):
    return net.loss(y, net.forward(X))


def _params_of(net):
    return [dict(layer.parameters) for layer in net.layers]


@case((_params_of(NET), XN, YNET), wrt=(0,))
def numpyml_params_list_of_dicts(params, X, y):
    out = X
    for p, act in zip(params, [Tanh(), LeakyReLU(0.1), Sigmoid()]):
        out = act(out @ p["W"] + p["b"])
    return SquaredError.loss(y, out)


LAYER = FullyConnected(3, 4, SoftPlus(), seed=3)


@case((LAYER.parameters["W"], LAYER.parameters["b"], XN), wrt=(0, 1), hessian=False)
def numpyml_layer_retain_derived(W, b, X):
    layer = FullyConnected(3, 4, SoftPlus(), seed=3)
    layer.parameters["W"] = W
    layer.parameters["b"] = b
    Y = layer.forward(X, retain_derived=True)
    return np.sum(Y ** 2)


YCE = np.eye(3)[[0, 2, 1, 1, 0, 2]]
W_CE = R(3, 3)


@case((W_CE, XN, YCE), wrt=(0,), hessian=True)
def numpyml_softmax_cross_entropy(W, X, y):
    ce = CrossEntropy()
    return ce(y, softmax(X @ W))


# ---------------------------------------------------------------- nnfs: layer.output read back

class Layer_Dense:
    def __init__(self, weights, biases):
        self.weights = weights
        self.biases = biases

    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases


class Activation_ReLU:
    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.maximum(0, inputs)


class Activation_Softmax:
    def forward(self, inputs):
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)


class Loss_CCE:
    def calculate(self, output, y):
        return np.mean(self.forward(output, y))

    def forward(self, y_pred, y_true):
        y_pred_clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        return -np.log(y_pred_clipped[range(len(y_pred)), y_true])


YI = np.array([0, 2, 1, 1, 0, 2])
W1, B1, W2, B2 = R(3, 5) * 0.5, R(1, 5) * 0.1, R(5, 3) * 0.5, R(1, 3) * 0.1


@case((W1, B1, W2, B2, XN, YI), wrt=(0, 1, 2, 3))
def nnfs_objects_built_inside(W1, b1, W2, b2, X, y):
    dense1 = Layer_Dense(W1, b1)
    activation1 = Activation_ReLU()
    dense2 = Layer_Dense(W2, b2)
    activation2 = Activation_Softmax()
    dense1.forward(X)
    activation1.forward(dense1.output)
    dense2.forward(activation1.output)
    activation2.forward(dense2.output)
    return Loss_CCE().calculate(activation2.output, y)


class DenseReturns:
    """A layer built inside the loss whose forward returns its output."""

    def __init__(self, W, b, act=np.tanh):
        self.W = W
        self.b = b
        self.act = act

    def forward(self, x):
        return self.act(x @ self.W + self.b)


@case((W1, B1[0], XN), wrt=(0, 1), hessian=False)
def layer_built_inside_loss(W, b, x):
    dense = DenseReturns(W, b)
    return np.sum(dense.forward(x) ** 2)


# ---------------------------------------------------------------- objects as wrt, nnfs-style store

class DenseCache:
    def __init__(self, n, m, seed):
        r = np.random.default_rng(seed)
        self.weights = 0.5 * r.normal(size=(n, m))
        self.biases = np.zeros((1, m))

    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases
        return self.output


class TwoDense:
    def __init__(self):
        self.d1 = DenseCache(3, 4, 1)
        self.d2 = DenseCache(4, 2, 2)

    def __call__(self, X):
        h = np.tanh(self.d1.forward(X))
        return self.d2.forward(h)


@case((TwoDense(), XN, YNET), wrt=(0,))
def model_caching_output_returns_it(model, X, y):
    return np.mean((model(X) - y) ** 2)


# ---------------------------------------------------------------- super().forward, __call__ models

class Base:
    def __init__(self, W):
        self.W = W

    def forward(self, x):
        return x @ self.W


class WithBias(Base):
    def __init__(self, W, b):
        super().__init__(W)
        self.b = b

    def forward(self, x):
        return np.tanh(super().forward(x) + self.b)


class Residual(WithBias):
    def forward(self, x):
        return x + super().forward(x)


RES = Residual(R(3, 3) * 0.3, R(3) * 0.1)


@case((RES, XN), wrt=(0,))
def residual_super_chain(model, X):
    h = model.forward(X)
    h = model.forward(h)
    return np.sum(h ** 2)


@case((RES.W, RES.b, XN), wrt=(0, 1), hessian=False)
def residual_built_inside(W, b, X):
    block = Residual(W, b)
    return np.sum(block.forward(block.forward(X)) ** 2)


class Sequential:
    def __init__(self, *layers):
        self.layers = list(layers)

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class Lin:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def __call__(self, x):
        return x @ self.W + self.b


class Act:
    def __init__(self, f):
        self.f = f

    def __call__(self, x):
        return self.f(x)


SEQ = Sequential(Lin(R(3, 4), R(4)), Act(np.tanh), Lin(R(4, 2), R(2)))


@case((SEQ, XN, YNET), wrt=(0,))
def sequential_call_model(model, X, y):
    return np.mean((model(X) - y) ** 2)


@case(([(l.W, l.b) for l in SEQ.layers if isinstance(l, Lin)], XN, YNET), wrt=(0,))
def sequential_built_from_params(params, X, y):
    layers = []
    for W, b in params:
        layers.append(Lin(W, b))
        layers.append(Act(np.tanh))
    model = Sequential(*layers[:-1])
    return np.mean((model(X) - y) ** 2)
