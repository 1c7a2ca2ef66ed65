"""A user's test file: check a model's loss in every sourcediff mode with the pytest plugin.

Run it with ``python -m pytest examples/test_my_model.py`` (the plugin comes with sourcediff:
nothing to configure). ``--sd-order 2`` adds the hessian-vector product.
"""

import numpy as np
import pytest


def predict(params, x):
    h = x
    for W, b in params:
        h = np.tanh(h @ W + b)
    return h


def loss(params, x, y):
    return np.mean((predict(params, x) - y) ** 2)


def make_inputs(rng):
    params = [(rng.normal(size=(3, 4)), np.zeros(4)), (rng.normal(size=(4, 1)), np.zeros(1))]
    return params, rng.normal(size=(8, 3)), rng.normal(size=(8, 1))


@pytest.mark.sourcediff(args=make_inputs, wrt=(0,), count=2)
def test_loss_gradient_in_every_mode(sd_parity, sd_args):
    sd_parity(loss, sd_args)


def test_a_single_weight_matrix_with_second_order(sd_parity):
    rng = np.random.default_rng(7)
    W, x = rng.normal(size=(3, 2)), rng.normal(size=(5, 3))
    sd_parity(lambda_free_loss, (W, x), wrt=(0,), order=2)


def lambda_free_loss(W, x):
    return np.sum(np.tanh(x @ W) ** 2)
