"""A variational autoencoder (autograd's variational_autoencoder.py, small): encoder and decoder
MLPs with list-of-(W, b) parameters, the reparameterization noise drawn in a helper from a
RandomState created inside the loss from a constant seed."""

import numpy as np


def relu(x):
    return np.maximum(0.0, x)


def neural_net_predict(params, inputs):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = relu(outputs)
    return outputs


def sample_diag_gaussian(mean, log_std, rs):
    return rs.randn(*mean.shape) * np.exp(log_std) + mean


def diag_gaussian_log_density(x, mu, log_std):
    return np.sum(-0.5 * (x - mu) ** 2 / np.exp(2 * log_std) - log_std
                  - 0.5 * np.log(2 * np.pi), axis=-1)


def nn_predict_gaussian(params, inputs):
    out = neural_net_predict(params, inputs)
    D = out.shape[-1] // 2
    return out[:, :D], out[:, D:]


def bernoulli_log_density(targets, unnormalized_logprobs):
    label_probabilities = -np.logaddexp(0.0, -unnormalized_logprobs * (targets * 2 - 1))
    return np.sum(label_probabilities, axis=-1)


def vae_lower_bound(gen_params, rec_params, data):
    rs = np.random.RandomState(0)
    q_means, q_log_stds = nn_predict_gaussian(rec_params, data)
    latents = sample_diag_gaussian(q_means, q_log_stds, rs)
    q_latents = diag_gaussian_log_density(latents, q_means, q_log_stds)
    p_latents = diag_gaussian_log_density(latents, 0.0, 0.0)
    logits = neural_net_predict(gen_params, latents)
    likelihood = bernoulli_log_density(data, logits)
    return np.mean(p_latents + likelihood - q_latents)


def loss(combined_params, data):
    gen_params, rec_params = combined_params
    return -vae_lower_bound(gen_params, rec_params, data)


def make_inputs():
    rs = np.random.RandomState(4)
    latent, hidden, D = 2, 3, 4

    def layers(sizes):
        return [(0.5 * rs.randn(m, n), 0.1 * rs.randn(n)) for m, n in zip(sizes[:-1], sizes[1:])]

    gen = layers([latent, hidden, D])
    rec = layers([D, hidden, 2 * latent])
    data = (rs.rand(5, D) > 0.5).astype(float)
    return (gen, rec), data
