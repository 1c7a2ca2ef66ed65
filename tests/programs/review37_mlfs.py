"""review37: eriklindernoren's ML-From-Scratch deep learning style: layers with
initialize(optimizer), forward_pass(X, training), backward_pass(accum_grad), activation objects
looked up in a dict by name, loss objects with loss(y, p), a NeuralNetwork holding its layers in a
list filled by add(), differentiated with respect to the network object."""

import copy
import math

import numpy as np

from tests.programs.review37_harness import case

R = np.random.default_rng(7)


class Sigmoid:
    def __call__(self, x):
        return 1 / (1 + np.exp(-x))

    def gradient(self, x):
        return self.__call__(x) * (1 - self.__call__(x))


class TanH:
    def __call__(self, x):
        return 2 / (1 + np.exp(-2 * x)) - 1


class LeakyReLU:
    def __init__(self, alpha=0.2):
        self.alpha = alpha

    def __call__(self, x):
        return np.where(x >= 0, x, self.alpha * x)


class Softmax:
    def __call__(self, x):
        e_x = np.exp(x - np.max(x, axis=-1, keepdims=True))
        return e_x / np.sum(e_x, axis=-1, keepdims=True)


activation_functions = {"sigmoid": Sigmoid, "tanh": TanH, "leaky_relu": LeakyReLU,
                        "softmax": Softmax}


class Loss:
    def loss(self, y_true, y_pred):
        raise NotImplementedError()


class SquareLoss(Loss):
    def loss(self, y, y_pred):
        return 0.5 * np.power((y - y_pred), 2)


class CrossEntropy(Loss):
    def loss(self, y, p):
        p = np.clip(p, 1e-15, 1 - 1e-15)
        return - y * np.log(p) - (1 - y) * np.log(1 - p)


class Layer:
    def set_input_shape(self, shape):
        self.input_shape = shape

    def layer_name(self):
        return self.__class__.__name__

    def parameters(self):
        return 0


class Dense(Layer):
    def __init__(self, n_units, input_shape=None):
        self.layer_input = None
        self.input_shape = input_shape
        self.n_units = n_units
        self.trainable = True
        self.W = None
        self.w0 = None

    def initialize(self, optimizer):
        limit = 1 / math.sqrt(self.input_shape[0])
        self.W = R.uniform(-limit, limit, (self.input_shape[0], self.n_units))
        self.w0 = np.zeros((1, self.n_units)) + 0.1
        self.W_opt = copy.copy(optimizer)
        self.w0_opt = copy.copy(optimizer)

    def forward_pass(self, X, training=True):
        self.layer_input = X
        return X.dot(self.W) + self.w0

    def output_shape(self):
        return (self.n_units, )


class Activation(Layer):
    def __init__(self, name):
        self.activation_name = name
        self.activation_func = activation_functions[name]()
        self.trainable = True

    def forward_pass(self, X, training=True):
        self.layer_input = X
        return self.activation_func(X)

    def output_shape(self):
        return self.input_shape


class Dropout(Layer):
    """A mask drawn once (seeded) and kept: the same in every call."""

    def __init__(self, p=0.2, seed=0):
        self.p = p
        self._mask = None
        self.seed = seed

    def forward_pass(self, X, training=True):
        c = (1 - self.p)
        if training:
            self._mask = np.random.default_rng(self.seed).uniform(size=X.shape) > self.p
            c = self._mask
        return X * c

    def output_shape(self):
        return self.input_shape


class StepOptimizer:
    def __init__(self, learning_rate=0.01):
        self.learning_rate = learning_rate


class NeuralNetwork:
    def __init__(self, optimizer, loss, validation_data=None):
        self.optimizer = optimizer
        self.layers = []
        self.errors = {"training": [], "validation": []}
        self.loss_function = loss()

    def add(self, layer):
        if self.layers:
            layer.set_input_shape(shape=self.layers[-1].output_shape())
        if hasattr(layer, 'initialize'):
            layer.initialize(optimizer=self.optimizer)
        self.layers.append(layer)

    def _forward_pass(self, X, training=True):
        layer_output = X
        for layer in self.layers:
            layer_output = layer.forward_pass(layer_output, training)
        return layer_output

    def test_on_batch(self, X, y):
        y_pred = self._forward_pass(X, training=False)
        loss = np.mean(self.loss_function.loss(y, y_pred))
        return loss


def _net(loss, dropout=False):
    net = NeuralNetwork(optimizer=StepOptimizer(), loss=loss)
    net.add(Dense(5, input_shape=(3,)))
    net.add(Activation("tanh"))
    if dropout:
        net.add(Dropout(0.3))
    net.add(Dense(2))
    net.add(Activation("sigmoid"))
    return net


XM = R.normal(size=(6, 3))
YM = (R.uniform(size=(6, 2)) > 0.5).astype(float)


@case((_net(SquareLoss), XM, YM))
def mlfs_square_loss(net, X, y):
    return net.test_on_batch(X, y)


@case((_net(CrossEntropy, dropout=True), XM, YM))
def mlfs_cross_entropy_training(net, X, y):
    y_pred = net._forward_pass(X, training=True)
    return np.mean(net.loss_function.loss(y, y_pred))


def _leaky_net():
    net = NeuralNetwork(optimizer=StepOptimizer(), loss=SquareLoss)
    net.add(Dense(4, input_shape=(3,)))
    net.add(Activation("leaky_relu"))
    net.add(Dense(3))
    net.add(Activation("softmax"))
    return net


@case((_leaky_net(), XM, R.normal(size=(6, 3))))
def mlfs_leaky_softmax(net, X, y):
    return net.test_on_batch(X, y) + 0.01 * sum(
        np.sum(layer.W ** 2) for layer in net.layers if isinstance(layer, Dense))
