"""Module-level state that tests/test_layers.py reaches as attributes of this module
(``model_state.W``, ``model_state.DENSE``), as a training script reaches a config or model module."""

import numpy as np

from tests.programs import layers as L


class DenseELU(L.Dense):
    def activate(self, z):
        return L.ELU.__call__(self.act_fn, z)

    def loss_functional(self, X, C):
        return np.sum(self.forward_with(self.parameters["W"], self.parameters["b"], X) * C)


W = np.ones(3)
DENSE = DenseELU(3, L.ELU(0.7), seed=21)
DENSE.forward(np.ones((4, 5)))                      # lazy initialization
