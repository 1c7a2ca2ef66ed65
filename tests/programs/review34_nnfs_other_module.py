"""review34: nnfs-style layers in a module of their own (names the caller does not have:
``scale``, numpy as ``xp``), for the inline stage's tests."""
# ruff: noqa

import numpy as xp

scale = 0.5


class Dense:
    def __init__(self, weights, biases):
        self.weights = weights
        self.biases = biases

    def forward(self, inputs, gain=2.0):
        inputs = inputs * gain  # (a parameter rebound, named like the caller's local)
        self.inputs = inputs
        self.output = xp.dot(inputs, self.weights) * scale + self.biases


class Tanh:
    def forward(self, inputs):
        self.output = xp.tanh(inputs)
        return self.output
