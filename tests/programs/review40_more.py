"""review40: small models as popular from-scratch repos write them (nnfs.io's layer classes,
d2l's LinearRegressionScratch, micrograd's Neuron/Layer/MLP on numpy, a Keras-like Sequential
with add(), a PyTorch-like Module whose __call__(*args) calls forward, an RNN cell class, a
dataclass config, a scikit-learn-like estimator's loss method, parameters() for weight decay)."""

from dataclasses import dataclass

import numpy as np

from tests.programs.review40_harness import case

R = np.random.default_rng(4041)
X = R.normal(size=(5, 3))
Y = np.array([0, 1, 2, 1, 0])
T = R.normal(size=(5, 2))


# ---------------------------------------------------------------- nnfs.io
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


class Loss:
    def calculate(self, output, y):
        sample_losses = self.forward(output, y)
        return np.mean(sample_losses)


class Loss_CategoricalCrossentropy(Loss):
    def forward(self, y_pred, y_true):
        samples = len(y_pred)
        y_pred_clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        correct_confidences = y_pred_clipped[range(samples), y_true]
        return -np.log(correct_confidences)


W1, B1 = R.normal(size=(3, 4)) * 0.5, np.zeros((1, 4)) + 0.1
W2, B2 = R.normal(size=(4, 3)) * 0.5, np.zeros((1, 3))


@case((W1, B1, W2, B2), wrt=(0, 1, 2, 3))
def nnfs_chapter_nine(w1, b1, w2, b2):
    dense1 = Layer_Dense(w1, b1)
    activation1 = Activation_ReLU()
    dense2 = Layer_Dense(w2, b2)
    activation2 = Activation_Softmax()
    loss_function = Loss_CategoricalCrossentropy()
    dense1.forward(X)
    activation1.forward(dense1.output)
    dense2.forward(activation1.output)
    activation2.forward(dense2.output)
    return loss_function.calculate(activation2.output, Y)


# ---------------------------------------------------------------- d2l, from scratch
class LinearRegressionScratch:
    def __init__(self, num_inputs, lr, sigma=0.01):
        self.lr = lr
        self.w = np.random.default_rng(0).normal(0, sigma, (num_inputs, 1))
        self.b = np.zeros(1)

    def forward(self, X):
        return X @ self.w + self.b

    def loss(self, y_hat, y):
        loss = (y_hat - y.reshape(y_hat.shape)) ** 2 / 2
        return loss.mean()


@case((LinearRegressionScratch(3, 0.03, sigma=0.5), X, T[:, 0]), modes="object")
def d2l_linear_regression(model, X, y):
    return model.loss(model.forward(X), y)


# ---------------------------------------------------------------- micrograd on numpy
class Module:
    def parameters(self):
        return []


class Neuron(Module):
    def __init__(self, nin, nonlin=True, seed=0):
        rng = np.random.default_rng(seed)
        self.w = rng.uniform(-1, 1, nin)
        self.b = 0.1
        self.nonlin = nonlin

    def __call__(self, x):
        act = x @ self.w + self.b
        return np.tanh(act) if self.nonlin else act

    def parameters(self):
        return [self.w, self.b]


class Layer(Module):
    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, seed=k, **kwargs) for k in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else np.stack(out, axis=-1)

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP(Module):
    def __init__(self, nin, nouts):
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1)
                       for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


@case((MLP(3, [4, 4, 1]), X, T[:, 0]), modes="object")
def micrograd_mlp(model, X, y):
    ypred = model(X)
    data_loss = np.mean((ypred - y) ** 2)
    reg_loss = 1e-3 * sum(np.sum(p * p) for p in model.parameters())
    return data_loss + reg_loss


# ---------------------------------------------------------------- Keras-like Sequential
class Dense:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def __call__(self, x):
        return x @ self.W + self.b


class Tanh:
    def __call__(self, x):
        return np.tanh(x)


class Sequential:
    def __init__(self):
        self.layers = []

    def add(self, layer):
        self.layers.append(layer)

    def predict(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def loss(self, x, y):
        return np.mean((self.predict(x) - y) ** 2)


@case((W1, B1[0], R.normal(size=(4, 2)), np.zeros(2)), wrt=(0, 1, 2, 3))
def keras_sequential_built_inside(w1, b1, w2, b2):
    model = Sequential()
    model.add(Dense(w1, b1))
    model.add(Tanh())
    model.add(Dense(w2, b2))
    return model.loss(X, T)


# ---------------------------------------------------------------- PyTorch-like Module
class TorchModule:
    def __call__(self, *args):
        return self.forward(*args)


class Linear(TorchModule):
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        return x @ self.W + self.b


class Net(TorchModule):
    def __init__(self):
        self.fc1 = Linear(R.normal(size=(3, 4)) * 0.5, np.zeros(4))
        self.fc2 = Linear(R.normal(size=(4, 2)) * 0.5, np.zeros(2))

    def forward(self, x):
        return self.fc2(np.tanh(self.fc1(x)))


@case((Net(), X, T), modes="object")
def torch_like_star_args_call(model, x, y):
    return np.mean((model(x) - y) ** 2)


# ---------------------------------------------------------------- an RNN cell class
class RNNCell:
    def __init__(self, Wxh, Whh, bh):
        self.Wxh, self.Whh, self.bh = Wxh, Whh, bh

    def step(self, x, h):
        return np.tanh(x @ self.Wxh + h @ self.Whh + self.bh)


WXH, WHH, BH = R.normal(size=(3, 4)) * 0.4, R.normal(size=(4, 4)) * 0.4, np.zeros(4) + 0.05


@case((WXH, WHH, BH), wrt=(0, 1, 2), hessian=False)
def rnn_cell_built_inside(Wxh, Whh, bh):
    cell = RNNCell(Wxh, Whh, bh)
    h = np.zeros(4)
    hs = []
    for t in range(X.shape[0]):
        h = cell.step(X[t], h)
        hs.append(h)
    return np.sum(np.stack(hs) ** 2)


@case((RNNCell(WXH, WHH, BH),), modes="object")
def rnn_cell_passed(cell):
    h = np.zeros(4)
    for t in range(X.shape[0]):
        h = cell.step(X[t], h)
    return np.sum(h ** 2)


# ---------------------------------------------------------------- a dataclass config
@dataclass
class Config:
    reg: float = 1e-2
    activation: str = "tanh"
    temperature: float = 2.0


def _act(z, name):
    return np.tanh(z) if name == "tanh" else np.maximum(z, 0.0)


@case(({"W": W1, "b": B1[0]}, Config()), hessian=True)
def dataclass_config(params, cfg):
    h = _act(X @ params["W"] + params["b"], cfg.activation) / cfg.temperature
    return np.mean(h ** 2) + cfg.reg * np.sum(params["W"] ** 2)


@case((np.array([1e-2, 2.0]),), hessian=True)
def dataclass_built_from_the_hyperparameters(hyper):
    cfg = Config(reg=hyper[0], temperature=hyper[1])
    h = _act(X @ W1 + B1[0], cfg.activation) / cfg.temperature
    return np.mean(h ** 2) + cfg.reg * np.sum(W1 ** 2)


# ---------------------------------------------------------------- a scikit-learn-like estimator
class LogisticRegression:
    def __init__(self, C=1.0, fit_intercept=True):
        self.C = C
        self.fit_intercept = fit_intercept

    def _design(self, X):
        if self.fit_intercept:
            return np.hstack([X, np.ones((X.shape[0], 1))])
        return X

    def _loss(self, w, X, y):
        z = self._design(X) @ w
        return np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 / self.C * np.sum(w[:-1] ** 2)


def _estimator_loss(w):
    return LogisticRegression(C=0.5)._loss(w, X, (Y > 0).astype(float))


case((R.normal(size=4) * 0.3,), hessian=True)(_estimator_loss)


@case((R.normal(size=4) * 0.3,), hessian=True)
def estimator_loss_bound(w):
    est = LogisticRegression(C=0.5)
    return est._loss(w, X, (Y > 0).astype(float))
