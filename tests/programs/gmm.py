"""Gaussian mixture log-likelihood (autograd's gmm.py): params a dict of log proportions, means
and lower-triangular factors, unpacked and walked with zip(*unpack(params))."""

import numpy as np


def logsumexp(x, axis=None):
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def unpack_gmm_params(params):
    normalized_log_proportions = params["log proportions"] - logsumexp(params["log proportions"])
    return normalized_log_proportions, params["means"], params["lower triangles"]


def mvn_logpdf(X, mean, L):
    # log N(x; mean, L L^T) through the triangular factor
    D = mean.shape[0]
    diff = X - mean
    z = np.linalg.solve(L, diff.T)
    half_logdet = np.sum(np.log(np.abs(np.diag(L))))
    return -0.5 * np.sum(z ** 2, axis=0) - half_logdet - 0.5 * D * np.log(2 * np.pi)


def gmm_log_likelihood(params, data):
    cluster_lls = []
    for log_proportion, mean, L in zip(*unpack_gmm_params(params)):
        cluster_lls.append(log_proportion + mvn_logpdf(data, mean, L))
    return np.sum(logsumexp(np.vstack(cluster_lls), axis=0))


def loss(params, data):
    return -gmm_log_likelihood(params, data)


def make_inputs():
    rs = np.random.RandomState(3)
    K, D = 3, 2
    params = {"log proportions": rs.randn(K) * 0.5,
              "means": rs.randn(K, D),
              "lower triangles": np.tril(rs.randn(K, D, D) * 0.3) + np.eye(D)}
    data = rs.randn(6, D)
    return params, data


def loss_zip_named(params, data):
    # the same likelihood, zip over three named sequences instead of zip(*...)
    log_proportions, means, lower_triangles = unpack_gmm_params(params)
    cluster_lls = []
    for log_proportion, mean, L in zip(log_proportions, means, lower_triangles):
        cluster_lls.append(log_proportion + mvn_logpdf(data, mean, L))
    return -np.sum(logsumexp(np.vstack(cluster_lls), axis=0))


def loss_indexed(params, data):
    # the same likelihood, an index loop
    log_proportions, means, lower_triangles = unpack_gmm_params(params)
    cluster_lls = []
    for k in range(means.shape[0]):
        cluster_lls.append(log_proportions[k] + mvn_logpdf(data, means[k], lower_triangles[k]))
    return -np.sum(logsumexp(np.vstack(cluster_lls), axis=0))
