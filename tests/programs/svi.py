"""Black-box stochastic variational inference (autograd's black_box_svi.py): the noise is drawn
in a helper from a RandomState created inside the loss from a constant seed."""

import numpy as np


def log_density(x):
    # a banana-shaped 2-D target
    mu, log_sigma = x[:, 0], x[:, 1]
    sigma_density = -0.5 * log_sigma ** 2 / 1.35 ** 2
    mu_density = -0.5 * mu ** 2 / np.exp(log_sigma) ** 2 - log_sigma
    return sigma_density + mu_density


def gaussian_entropy(log_std):
    return 0.5 * log_std.shape[0] * (1.0 + np.log(2 * np.pi)) + np.sum(log_std)


def unpack_params(params):
    D = params.shape[0] // 2
    mean, log_std = params[:D], params[D:]
    return mean, log_std


def draw_noise(rs, shape):
    return rs.randn(*shape)


def variational_objective(params, num_samples):
    rs = np.random.RandomState(0)
    mean, log_std = unpack_params(params)
    noise = draw_noise(rs, (num_samples, mean.shape[0]))
    samples = noise * np.exp(log_std) + mean
    lower_bound = gaussian_entropy(log_std) + np.mean(log_density(samples))
    return -lower_bound


def make_inputs():
    return np.array([-1.0, 0.5, -0.3, 0.2]), 10


def objective_and_samples(params, num_samples):
    # has_aux: the loss and the samples it was estimated from
    rs = np.random.RandomState(0)
    mean, log_std = unpack_params(params)
    samples = draw_noise(rs, (num_samples, mean.shape[0])) * np.exp(log_std) + mean
    return -(gaussian_entropy(log_std) + np.mean(log_density(samples))), samples
