"""Programs written as people write them (layers held by a model, helpers, generators), each
gradient checked against finite differences and the user's objects checked after the call."""

import copy

import numpy as np

import sourcediff as sd

from .objwrt_oracle import check_object_grad


class Dense:
    def __init__(self, n, m, rng):
        self.weights = 0.5 * rng.normal(size=(n, m))
        self.biases = np.zeros((1, m))

    def forward(self, inputs):
        self.output = inputs @ self.weights + self.biases


class ReLU:
    def forward(self, inputs):
        self.output = np.maximum(0, inputs)


class UnpackedLayers:
    """nnfs's layer calls on layers ``__init__`` stores in one unpacking assignment."""

    def __init__(self, rng):
        self.d1, self.a1, self.d2 = Dense(3, 4, rng), ReLU(), Dense(4, 1, rng)

    def forward(self, x):
        self.d1.forward(x)
        self.a1.forward(self.d1.output)
        self.d2.forward(self.a1.output)
        return self.d2.output


def nnfs_loss(model, x):
    return np.mean(model.forward(x) ** 2)


def test_layers_stored_by_an_unpacking_assignment_in_init_are_held():
    # (was an AliasError at self.a1.output: held.py read only self.a = C(...) one by one)
    rng = np.random.default_rng(0)
    model, x = UnpackedLayers(rng), rng.normal(size=(6, 3))
    before = copy.deepcopy(model)
    g = sd.grad(nnfs_loss)(model, x)
    check_object_grad(nnfs_loss, before, x, grad=g)
    plain = copy.deepcopy(before)
    nnfs_loss(plain, x)  # (the gradient call changes the layers' outputs as a plain call does)
    for name in ("weights", "biases"):
        for layer in ("d1", "d2"):
            assert np.array_equal(getattr(getattr(model, layer), name),
                                  getattr(getattr(before, layer), name))
    # the second call, after an update in place, sees the new weights
    model.d1.weights -= 0.5 * g.d1.weights
    model.d2.weights *= 2.0
    before = copy.deepcopy(model)
    check_object_grad(nnfs_loss, before, x, grad=sd.grad(nnfs_loss)(model, x))
