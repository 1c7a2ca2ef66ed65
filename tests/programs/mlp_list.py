"""A multilayer perceptron, parameters a list of (W, b) pairs (autograd's neural_net.py)."""

import numpy as np


def init_params(scale, sizes, rs):
    return [(scale * rs.randn(m, n), scale * rs.randn(n))
            for m, n in zip(sizes[:-1], sizes[1:])]


def predict(params, inputs):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs - logsumexp(outputs)


def logsumexp(x):
    m = np.max(x, axis=1, keepdims=True)
    return m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))


def l2_norm(params):
    total = 0.0
    for W, b in params:
        total = total + np.sum(W ** 2) + np.sum(b ** 2)
    return total


def loss(params, inputs, targets):
    log_prior = -0.01 * l2_norm(params)
    log_lik = np.sum(predict(params, inputs) * targets)
    return -(log_prior + log_lik)


def make_inputs():
    rs = np.random.RandomState(0)
    params = init_params(0.5, [3, 4, 3], rs)
    inputs = rs.randn(5, 3)
    targets = np.eye(3)[rs.randint(0, 3, size=5)]
    return params, inputs, targets


def loss_one_helper(params, inputs, targets):
    # the same loss, params handed to one helper only (the prior summed here)
    log_prior = 0.0
    for W, b in params:
        log_prior = log_prior - 0.01 * (np.sum(W ** 2) + np.sum(b ** 2))
    log_lik = np.sum(predict(params, inputs) * targets)
    return -(log_prior + log_lik)


# --- the flattened objective (autograd's flatten_func, as scipy.optimize wants it) ------------

def make_flat_objective():
    import sourcediff as sd

    params, inputs, targets = make_inputs()
    vec, unflatten = sd.flatten(params)

    def flat_objective(v):
        return loss_one_helper(unflatten(v), inputs, targets)

    return flat_objective, vec
