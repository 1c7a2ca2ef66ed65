"""review37: nnfs ("Neural Networks from Scratch") layers as the book writes them: a layer holding
its activation object (self.activation.forward(z); self.output = self.activation.output), a
model holding a list of layers built in __init__, and a loss walking a local list of layers."""

import numpy as np

R = np.random.default_rng(37)
W1, B1 = R.normal(size=(3, 4)) * 0.5, R.normal(size=4) * 0.1
W2, B2 = R.normal(size=(4, 2)) * 0.5, R.normal(size=2) * 0.1
X = R.normal(size=(5, 3))


class Activation_Tanh:
    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.tanh(inputs)


class Activation_Softmax:
    def forward(self, inputs):
        e = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = e / np.sum(e, axis=1, keepdims=True)


class Layer_Dense_Act:
    """A dense layer that holds its activation."""

    def __init__(self, weights, biases):
        self.weights = weights
        self.biases = biases
        self.activation = Activation_Tanh()

    def forward(self, inputs):
        self.inputs = inputs
        z = np.dot(inputs, self.weights) + self.biases
        self.activation.forward(z)
        self.output = self.activation.output


class Layer_Dense:
    def __init__(self, n_inputs, n_neurons, seed):
        rng = np.random.default_rng(seed)
        self.weights = 0.5 * rng.normal(size=(n_inputs, n_neurons))
        self.biases = np.zeros((1, n_neurons)) + 0.05

    def forward(self, inputs):
        self.output = np.dot(inputs, self.weights) + self.biases


class Model:
    """Layers built in __init__, walked in forward; the last layer's output read back."""

    def __init__(self):
        self.layers = [Layer_Dense(3, 4, 1), Activation_Tanh(), Layer_Dense(4, 3, 2),
                       Activation_Softmax()]

    def forward(self, X):
        inputs = X
        for layer in self.layers:
            layer.forward(inputs)
            inputs = layer.output
        return self.layers[-1].output


def layer_of_a_layer(W1, b1, X):
    dense = Layer_Dense_Act(W1, b1)
    dense.forward(X)
    return np.sum(dense.output ** 2)


def list_of_layers(W1, b1, W2, b2, X):
    layers = [Layer_Dense_Act(W1, b1), Layer_Dense_Act(W2, b2)]
    inputs = X
    for layer in layers:
        layer.forward(inputs)
        inputs = layer.output
    return np.sum(layers[-1].output ** 2) + np.sum(layer.output)


def model_loss(model, X, y):
    probs = model.forward(X)
    return -np.mean(np.log(probs[np.arange(len(y)), y]))
