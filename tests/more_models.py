"""Models written the ways numpy users write them, for tests/test_object_wrt.py."""

import collections

import numpy as np


class Dense:
    def __init__(self, n, m, seed, act=np.tanh):
        rng = np.random.default_rng(seed)
        self.W = rng.normal(size=(n, m)) * 0.5
        self.b = rng.normal(size=m) * 0.1
        self.act = act

    def forward(self, x, linear=False):
        z = x @ self.W + self.b
        return z if linear else self.act(z)


def helper_forward(model, x):
    h = model.first.forward(x)
    return model.second.forward(h, linear=True)


class TwoDense:
    def __init__(self):
        self.first = Dense(3, 4, 1)
        self.second = Dense(4, 2, 2)


def helper_loss(model, x, y):
    return np.sum((helper_forward(model, x) - y) ** 2)


class ItemsModel:
    def __init__(self):
        self.blocks = {"a": Dense(3, 3, 3), "b": Dense(3, 2, 4)}

    def forward(self, x):
        for name, block in self.blocks.items():
            x = block.forward(x)
        return x


class EnumerateModel:
    def __init__(self):
        self.layers = [Dense(3, 3, 5), Dense(3, 2, 6)]
        self.scales = [0.5, 2.0]

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer.forward(x) * self.scales[i]
        return x


class ZipModel:
    def __init__(self):
        self.layers = [Dense(3, 3, 7), Dense(3, 2, 8)]
        self.acts = [np.sin, np.tanh]

    def forward(self, x):
        for layer, act in zip(self.layers, self.acts):
            x = act(layer.forward(x, linear=True))
        return x


class LastLayer:
    def __init__(self):
        self.layers = [Dense(3, 3, 9), Dense(3, 2, 10)]

    def forward(self, x):
        return self.layers[-1].forward(self.layers[0].forward(x))


class DictParams:
    def __init__(self):
        rng = np.random.default_rng(11)
        self.params = {"W": rng.normal(size=(3, 2)), "b": np.zeros(2)}

    def forward(self, x):
        return x @ self.params["W"] + self.params["b"]


P = collections.namedtuple("P", "W b")


class NamedParams:
    def __init__(self):
        rng = np.random.default_rng(12)
        self.p = P(rng.normal(size=(3, 2)), np.zeros(2))
        self.temperature = 0.5

    def forward(self, x):
        return (x @ self.p.W + self.p.b) / self.temperature


class WithStatic:
    def __init__(self):
        self.W = np.random.default_rng(13).normal(size=(3, 2))

    @staticmethod
    def act(z):
        return z * np.tanh(z)

    def forward(self, x):
        return self.act(x @ self.W)


class Encoder:
    def __init__(self):
        self.W = np.random.default_rng(14).normal(size=(3, 4))

    def __call__(self, x):
        return np.tanh(x @ self.W)


class Decoder(Encoder):
    def __init__(self):
        super().__init__()
        self.V = np.random.default_rng(15).normal(size=(4, 2))

    def __call__(self, x):
        return super().__call__(x) @ self.V


class Nested:
    def __init__(self):
        self.dec = Decoder()

    def forward(self, x):
        return self.dec(x)


def fwd_loss(model, x, y):
    return np.sum((model.forward(x) - y) ** 2)


CASES2 = {helper_loss: TwoDense}
MODELS = (ItemsModel, EnumerateModel, ZipModel, LastLayer, DictParams, NamedParams, WithStatic,
          Nested)
