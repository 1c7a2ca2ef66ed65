"""Gaussian-process regression's negative log marginal likelihood (autograd's
gaussian_process.py), via np.linalg.cholesky and solve, the log determinant from the Cholesky
diagonal or from np.linalg.slogdet."""

import numpy as np


def unpack_kernel_params(params):
    mean = params[0]
    cov_params = params[2:]
    noise_scale = np.exp(params[1]) + 0.0001
    return mean, cov_params, noise_scale


def rbf_covariance(kernel_params, x, xp):
    output_scale = np.exp(kernel_params[0])
    lengthscales = np.exp(kernel_params[1:])
    diffs = np.expand_dims(x / lengthscales, 1) - np.expand_dims(xp / lengthscales, 0)
    return output_scale * np.exp(-0.5 * np.sum(diffs ** 2, axis=2))


def log_marginal_likelihood_chol(params, x, y):
    mean, cov_params, noise_scale = unpack_kernel_params(params)
    cov_y_y = rbf_covariance(cov_params, x, x) + noise_scale * np.eye(len(y))
    L = np.linalg.cholesky(cov_y_y)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y - mean))
    logdet = 2.0 * np.sum(np.log(np.diag(L)))
    return -0.5 * np.dot(y - mean, alpha) - 0.5 * logdet - 0.5 * len(y) * np.log(2 * np.pi)


def log_marginal_likelihood_slogdet(params, x, y):
    mean, cov_params, noise_scale = unpack_kernel_params(params)
    cov_y_y = rbf_covariance(cov_params, x, x) + noise_scale * np.eye(len(y))
    sign, logdet = np.linalg.slogdet(cov_y_y)
    r = y - mean
    return -0.5 * np.dot(r, np.linalg.solve(cov_y_y, r)) - 0.5 * logdet \
        - 0.5 * len(y) * np.log(2 * np.pi)


def loss_chol(params, x, y):
    return -log_marginal_likelihood_chol(params, x, y)


def loss_slogdet(params, x, y):
    return -log_marginal_likelihood_slogdet(params, x, y)


def make_inputs():
    rs = np.random.RandomState(6)
    x = rs.randn(6, 1)
    y = np.sin(2 * x[:, 0]) + 0.1 * rs.randn(6)
    params = np.array([0.1, -1.0, 0.2, -0.3])
    return params, x, y
