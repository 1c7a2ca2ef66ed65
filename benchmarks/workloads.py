"""Benchmark workloads W1-W9: plain numpy losses, hand-written gradients, other frameworks."""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

try:  # optional comparison frameworks; a missing one only removes its column
    import autograd.numpy as anp
except Exception:  # noqa: BLE001
    anp = None
try:
    import torch
    import torch.nn.functional as torch_f
except Exception:  # noqa: BLE001
    torch = None
    torch_f = None
try:
    import jax
    import jax.numpy as jnp
except Exception:  # noqa: BLE001
    jax = None
    jnp = None
try:  # W9's logsumexp
    from scipy.special import logsumexp
except Exception:  # noqa: BLE001
    logsumexp = None
try:
    from autograd.scipy.special import logsumexp as autograd_logsumexp
except Exception:  # noqa: BLE001
    autograd_logsumexp = None
try:
    from jax.scipy.special import logsumexp as jax_logsumexp
except Exception:  # noqa: BLE001
    jax_logsumexp = None


@dataclass
class Workload:
    """One benchmark: inputs, the user's numpy loss, its hand-written gradient, other versions."""

    name: str
    title: str
    make_inputs: Callable  # rng -> tuple of arguments
    wrt: tuple  # argument indices the gradient is taken with respect to
    loss: Callable  # plain numpy, as a user writes it (the source sourcediff reads)
    grad: Callable  # hand-written numpy gradient, returns a tuple in wrt order
    autograd_loss: Callable | None = None  # same loss over autograd.numpy
    torch_loss: Callable | None = None  # same loss over torch tensors
    jax_loss: Callable | None = None  # same loss over jax.numpy (eager grad, and jit if possible)
    jax_jit_loss: Callable | None = None  # jit-compatible variant where jax_loss cannot be jitted
    notes: dict = field(default_factory=dict)


# ---------------------------------------------------------------- W1 seed MLP


def w1_inputs(rng):
    x = rng.standard_normal((100, 3))
    w1 = rng.standard_normal((3, 32)) * 0.5
    b1 = rng.standard_normal((1, 32)) * 0.1
    w2 = rng.standard_normal((32, 1)) * 0.3
    b2 = rng.standard_normal((1, 1)) * 0.1
    y = rng.standard_normal((100, 1))
    return x, w1, b1, w2, b2, y


def w1_loss(x, w1, b1, w2, b2, y):
    h = np.maximum(x @ w1 + b1, 0.0)
    out = h @ w2 + b2
    return np.sum((out - y) ** 2)


def w1_grad(x, w1, b1, w2, b2, y):
    z = x @ w1 + b1
    h = np.maximum(z, 0.0)
    out = h @ w2 + b2
    d_out = 2.0 * (out - y)
    g_w2 = h.T @ d_out
    g_b2 = d_out.sum(axis=0, keepdims=True)
    d_z = (d_out @ w2.T) * (z > 0)
    g_w1 = x.T @ d_z
    g_b1 = d_z.sum(axis=0, keepdims=True)
    return g_w1, g_b1, g_w2, g_b2


def w1_autograd(x, w1, b1, w2, b2, y):
    h = anp.maximum(x @ w1 + b1, 0.0)
    out = h @ w2 + b2
    return anp.sum((out - y) ** 2)


def w1_torch(x, w1, b1, w2, b2, y):
    h = torch.relu(x @ w1 + b1)
    out = h @ w2 + b2
    return torch.sum((out - y) ** 2)


def w1_jax(x, w1, b1, w2, b2, y):
    h = jnp.maximum(x @ w1 + b1, 0.0)
    out = h @ w2 + b2
    return jnp.sum((out - y) ** 2)


# ---------------------------------------------------------------- W2 cubic fit


def w2_inputs(rng):
    x = rng.uniform(-1.0, 1.0, 2000)
    y = 0.3 - 1.2 * x + 0.5 * x * x + 2.0 * x * x * x + 0.1 * rng.standard_normal(2000)
    return 0.1, -0.4, 0.7, 1.1, x, y


def w2_loss(a, b, c, d, x, y):
    return np.sum((a + b * x + c * x**2 + d * x**3 - y) ** 2)


def w2_grad(a, b, c, d, x, y):
    # The naive hand-written gradient: it keeps x**2 and x**3.
    r2 = 2.0 * (a + b * x + c * x**2 + d * x**3 - y)
    return np.sum(r2), np.sum(r2 * x), np.sum(r2 * x**2), np.sum(r2 * x**3)


def w2_autograd(a, b, c, d, x, y):
    return anp.sum((a + b * x + c * x**2 + d * x**3 - y) ** 2)


def w2_torch(a, b, c, d, x, y):
    return torch.sum((a + b * x + c * x**2 + d * x**3 - y) ** 2)


def w2_jax(a, b, c, d, x, y):
    return jnp.sum((a + b * x + c * x**2 + d * x**3 - y) ** 2)


# ---------------------------------------------------------------- W3 MLP 784-256-10


def w3_inputs(rng):
    x = rng.standard_normal((256, 784))
    w1 = rng.standard_normal((784, 256)) / np.sqrt(784.0)
    b1 = rng.standard_normal(256) * 0.1
    w2 = rng.standard_normal((256, 10)) / np.sqrt(256.0)
    b2 = rng.standard_normal(10) * 0.1
    labels = rng.integers(0, 10, 256)
    return x, w1, b1, w2, b2, labels


def w3_loss(x, w1, b1, w2, b2, labels):
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    m = np.max(logits, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    logp = logits - lse
    return -np.mean(logp[np.arange(x.shape[0]), labels])


def w3_grad(x, w1, b1, w2, b2, labels):
    n = x.shape[0]
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    d_logits = e / e.sum(axis=1, keepdims=True)  # softmax
    d_logits[np.arange(n), labels] -= 1.0
    d_logits /= n
    g_w2 = h.T @ d_logits
    g_b2 = d_logits.sum(axis=0)
    d_z = (d_logits @ w2.T) * (1.0 - h * h)
    g_w1 = x.T @ d_z
    g_b1 = d_z.sum(axis=0)
    return g_w1, g_b1, g_w2, g_b2


def w3_autograd(x, w1, b1, w2, b2, labels):
    h = anp.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    m = anp.max(logits, axis=1, keepdims=True)
    lse = m + anp.log(anp.sum(anp.exp(logits - m), axis=1, keepdims=True))
    logp = logits - lse
    return -anp.mean(logp[np.arange(x.shape[0]), labels])


def w3_torch(x, w1, b1, w2, b2, labels):
    h = torch.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    m = torch.amax(logits, dim=1, keepdim=True)
    lse = m + torch.log(torch.sum(torch.exp(logits - m), dim=1, keepdim=True))
    logp = logits - lse
    return -torch.mean(logp[torch.arange(x.shape[0]), labels])


def w3_jax(x, w1, b1, w2, b2, labels):
    h = jnp.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    m = jnp.max(logits, axis=1, keepdims=True)
    lse = m + jnp.log(jnp.sum(jnp.exp(logits - m), axis=1, keepdims=True))
    logp = logits - lse
    return -jnp.mean(logp[jnp.arange(x.shape[0]), labels])


# ---------------------------------------------------------------- W4 logistic regression


W4_ROWS = 200_000


def w4_inputs(rng):
    X = rng.standard_normal((W4_ROWS, 100))
    w_true = rng.standard_normal(100) * 0.1
    y = np.where(X @ w_true + 0.5 * rng.standard_normal(W4_ROWS) > 0, 1.0, -1.0)
    w = rng.standard_normal(100) * 0.05
    return w, X, y


def w4_loss(w, X, y):
    z = X @ w
    return np.mean(np.logaddexp(0.0, -y * z))


def w4_grad(w, X, y):
    # d/dz logaddexp(0, -y z) = -y sigmoid(-y z); sigmoid as 1 / (1 + exp(-t)), the fastest
    # plain-numpy form (twice as fast as 0.5 + 0.5 tanh(t / 2); exp(t - logaddexp(0, t)) is
    # slower still, numpy's logaddexp is slow)
    t = -y * (X @ w)
    s = 1.0 / (1.0 + np.exp(-t))
    s *= y
    g_w = (X.T @ s) / (-X.shape[0])
    return (g_w,)


def w4_autograd(w, X, y):
    z = X @ w
    return anp.mean(anp.logaddexp(0.0, -y * z))


def w4_torch(w, X, y):
    z = X @ w
    return torch.mean(torch_f.softplus(-y * z))  # softplus(t) == log(1 + exp(t)), torch's idiom


def w4_jax(w, X, y):
    z = X @ w
    return jnp.mean(jnp.logaddexp(0.0, -y * z))


# ---------------------------------------------------------------- W5 vanilla RNN


def w5_inputs(rng):
    xs = rng.standard_normal((50, 16, 32))
    h0 = np.zeros((16, 64))
    Wx = rng.standard_normal((32, 64)) / np.sqrt(32.0)
    Wh = rng.standard_normal((64, 64)) / np.sqrt(64.0) * 0.9
    b = rng.standard_normal(64) * 0.1
    Wo = rng.standard_normal((64, 1)) / 8.0
    return xs, h0, Wx, Wh, b, Wo


def w5_loss(xs, h0, Wx, Wh, b, Wo):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum((h @ Wo) ** 2)


def w5_grad(xs, h0, Wx, Wh, b, Wo):
    hs = [h0]
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        hs.append(h)
    d_out = 2.0 * (h @ Wo)
    g_Wo = h.T @ d_out
    d_h = d_out @ Wo.T
    g_Wx = np.zeros_like(Wx)
    g_Wh = np.zeros_like(Wh)
    g_b = np.zeros_like(b)
    for t in range(xs.shape[0] - 1, -1, -1):
        h = hs[t + 1]
        d_z = d_h * (1.0 - h * h)
        g_Wx += xs[t].T @ d_z
        g_Wh += hs[t].T @ d_z
        g_b += d_z.sum(axis=0)
        d_h = d_z @ Wh.T
    return g_Wx, g_Wh, g_b, g_Wo


def w5_autograd(xs, h0, Wx, Wh, b, Wo):
    h = h0
    for t in range(xs.shape[0]):
        h = anp.tanh(xs[t] @ Wx + h @ Wh + b)
    return anp.sum((h @ Wo) ** 2)


def w5_torch(xs, h0, Wx, Wh, b, Wo):
    h = h0
    for t in range(xs.shape[0]):
        h = torch.tanh(xs[t] @ Wx + h @ Wh + b)
    return torch.sum((h @ Wo) ** 2)


def w5_jax(xs, h0, Wx, Wh, b, Wo):
    h = h0
    for t in range(xs.shape[0]):
        h = jnp.tanh(xs[t] @ Wx + h @ Wh + b)
    return jnp.sum((h @ Wo) ** 2)


# ---------------------------------------------------------------- W6 scalar loop with branch


def w6_inputs(rng):
    # a, b chosen so that both branches are taken (32 / 68 of 100 steps) and d(result)/dx ~ 4
    return 1.2, -1.1, -1.5


def w6_loss(x, a, b):
    for i in range(100):
        if x > 0:
            x = x * a + np.sin(x)
        else:
            x = x * b - np.cos(x)
    return x


def w6_grad(x, a, b):
    # A scalar-to-scalar chain: the careful hand-written derivative carries dx/dx0 forward,
    # one pass, no stored trajectory, with the same numpy calls as the loss.
    g = 1.0
    for i in range(100):
        if x > 0:
            g *= a + np.cos(x)
            x = x * a + np.sin(x)
        else:
            g *= b + np.sin(x)
            x = x * b - np.cos(x)
    return (g,)


def w6_autograd(x, a, b):
    for i in range(100):
        if x > 0:
            x = x * a + anp.sin(x)
        else:
            x = x * b - anp.cos(x)
    return x


def w6_torch(x, a, b):
    for i in range(100):
        if x > 0:
            x = x * a + torch.sin(x)
        else:
            x = x * b - torch.cos(x)
    return x


def w6_jax(x, a, b):
    for i in range(100):
        if x > 0:
            x = x * a + jnp.sin(x)
        else:
            x = x * b - jnp.cos(x)
    return x


def w6_jax_jit(x, a, b):
    # Python `if` on a traced value cannot be jitted; a JAX user writes lax.cond in lax.fori_loop.
    def step(i, x):
        return jax.lax.cond(x > 0, lambda v: v * a + jnp.sin(v), lambda v: v * b - jnp.cos(v), x)

    return jax.lax.fori_loop(0, 100, step, x)


# ---------------------------------------------------------------- W7 MLP with np.dot, list params


W7_SIZES = (784, 200, 100, 10)


def w7_inputs(rng):
    params = [(rng.standard_normal((m, n)) / np.sqrt(m), rng.standard_normal(n) * 0.1)
              for m, n in zip(W7_SIZES[:-1], W7_SIZES[1:])]
    x = rng.standard_normal((256, W7_SIZES[0]))
    labels = rng.integers(0, W7_SIZES[-1], 256)
    return params, x, labels


def w7_loss(params, x, labels):
    h = x
    for W, b in params[:-1]:
        h = np.tanh(np.dot(h, W) + b)
    W, b = params[-1]
    logits = np.dot(h, W) + b
    m = np.max(logits, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    logp = logits - lse
    return -np.mean(logp[np.arange(x.shape[0]), labels])


def w7_grad(params, x, labels):
    n = x.shape[0]
    hs = [x]
    for W, b in params[:-1]:
        hs.append(np.tanh(hs[-1] @ W + b))
    W, b = params[-1]
    logits = hs[-1] @ W + b
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    d = e / e.sum(axis=1, keepdims=True)  # softmax
    d[np.arange(n), labels] -= 1.0
    d /= n
    grads = []
    for k in range(len(params) - 1, -1, -1):
        W = params[k][0]
        grads.append((hs[k].T @ d, d.sum(axis=0)))
        if k:
            d = (d @ W.T) * (1.0 - hs[k] * hs[k])
    return (grads[::-1],)


def w7_autograd(params, x, labels):
    h = x
    for W, b in params[:-1]:
        h = anp.tanh(anp.dot(h, W) + b)
    W, b = params[-1]
    logits = anp.dot(h, W) + b
    m = anp.max(logits, axis=1, keepdims=True)
    lse = m + anp.log(anp.sum(anp.exp(logits - m), axis=1, keepdims=True))
    logp = logits - lse
    return -anp.mean(logp[np.arange(x.shape[0]), labels])


def w7_torch(params, x, labels):
    h = x
    for W, b in params[:-1]:
        h = torch.tanh(h @ W + b)
    W, b = params[-1]
    logits = h @ W + b
    return torch_f.cross_entropy(logits, labels)


def w7_jax(params, x, labels):
    h = x
    for W, b in params[:-1]:
        h = jnp.tanh(jnp.dot(h, W) + b)
    W, b = params[-1]
    logits = jnp.dot(h, W) + b
    m = jnp.max(logits, axis=1, keepdims=True)
    lse = m + jnp.log(jnp.sum(jnp.exp(logits - m), axis=1, keepdims=True))
    logp = logits - lse
    return -jnp.mean(logp[jnp.arange(x.shape[0]), labels])


# ---------------------------------------------------------------- W8 LSTM, dict params, np.dot


W8_T, W8_BATCH, W8_IN, W8_HIDDEN = 30, 32, 64, 128
W8_GATES = ("i", "f", "o", "g")


def w8_inputs(rng):
    params = {}
    for gate in W8_GATES:
        params["W" + gate] = rng.standard_normal((W8_IN, W8_HIDDEN)) / np.sqrt(W8_IN)
        params["U" + gate] = rng.standard_normal((W8_HIDDEN, W8_HIDDEN)) / np.sqrt(W8_HIDDEN)
        params["b" + gate] = rng.standard_normal(W8_HIDDEN) * 0.1
    params["V"] = rng.standard_normal((W8_HIDDEN, 1)) / np.sqrt(W8_HIDDEN)
    xs = rng.standard_normal((W8_T, W8_BATCH, W8_IN))
    y = rng.standard_normal((W8_BATCH, 1))
    return params, xs, y


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def w8_loss(params, xs, y):
    h = np.zeros((xs.shape[1], params["Uf"].shape[0]))
    c = h
    for t in range(xs.shape[0]):
        x = xs[t]
        i = sigmoid(np.dot(x, params["Wi"]) + np.dot(h, params["Ui"]) + params["bi"])
        f = sigmoid(np.dot(x, params["Wf"]) + np.dot(h, params["Uf"]) + params["bf"])
        o = sigmoid(np.dot(x, params["Wo"]) + np.dot(h, params["Uo"]) + params["bo"])
        g = np.tanh(np.dot(x, params["Wg"]) + np.dot(h, params["Ug"]) + params["bg"])
        c = f * c + i * g
        h = o * np.tanh(c)
    return np.sum((np.dot(h, params["V"]) - y) ** 2)


def w8_grad(params, xs, y):
    # plain backpropagation through time: the forward keeps every step's gates, the backward
    # accumulates each weight's gradient one step at a time (as W5 does)
    T, n = xs.shape[0], xs.shape[1]
    h = np.zeros((n, params["Uf"].shape[0]))
    c = h
    steps = []
    for t in range(T):
        x = xs[t]
        i = sigmoid(x @ params["Wi"] + h @ params["Ui"] + params["bi"])
        f = sigmoid(x @ params["Wf"] + h @ params["Uf"] + params["bf"])
        o = sigmoid(x @ params["Wo"] + h @ params["Uo"] + params["bo"])
        g = np.tanh(x @ params["Wg"] + h @ params["Ug"] + params["bg"])
        c_prev, h_prev = c, h
        c = f * c + i * g
        tc = np.tanh(c)
        h = o * tc
        steps.append((x, h_prev, c_prev, i, f, o, g, tc))
    d_out = 2.0 * (h @ params["V"] - y)
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    grads["V"] = h.T @ d_out
    d_h = d_out @ params["V"].T
    d_c = np.zeros_like(c)
    for t in range(T - 1, -1, -1):
        x, h_prev, c_prev, i, f, o, g, tc = steps[t]
        d_o = d_h * tc
        d_c = d_c + d_h * o * (1.0 - tc * tc)
        d_i, d_f, d_g = d_c * g, d_c * c_prev, d_c * i
        d_c = d_c * f
        d_h = 0.0
        for gate, d_z in (("i", d_i * i * (1.0 - i)), ("f", d_f * f * (1.0 - f)),
                          ("o", d_o * o * (1.0 - o)), ("g", d_g * (1.0 - g * g))):
            grads["W" + gate] += x.T @ d_z
            grads["U" + gate] += h_prev.T @ d_z
            grads["b" + gate] += d_z.sum(axis=0)
            d_h = d_h + d_z @ params["U" + gate].T
    return (grads,)


def _w8_with(lib, dot, params, xs, y):
    def sig(z):
        return 1.0 / (1.0 + lib.exp(-z))

    h = lib.zeros((xs.shape[1], params["Uf"].shape[0]), dtype=xs.dtype)
    c = h
    for t in range(xs.shape[0]):
        x = xs[t]
        i = sig(dot(x, params["Wi"]) + dot(h, params["Ui"]) + params["bi"])
        f = sig(dot(x, params["Wf"]) + dot(h, params["Uf"]) + params["bf"])
        o = sig(dot(x, params["Wo"]) + dot(h, params["Uo"]) + params["bo"])
        g = lib.tanh(dot(x, params["Wg"]) + dot(h, params["Ug"]) + params["bg"])
        c = f * c + i * g
        h = o * lib.tanh(c)
    return lib.sum((dot(h, params["V"]) - y) ** 2)


def w8_autograd(params, xs, y):
    return _w8_with(anp, anp.dot, params, xs, y)


def w8_torch(params, xs, y):
    return _w8_with(torch, torch.matmul, params, xs, y)


def w8_jax(params, xs, y):
    return _w8_with(jnp, jnp.dot, params, xs, y)


# ---------------------------------------------------------------- W9 GMM log-likelihood


W9_N, W9_K, W9_D = 2000, 16, 8


def w9_inputs(rng):
    X = rng.standard_normal((W9_N, W9_D)) * 2.0
    means = rng.standard_normal((W9_K, W9_D)) * 2.0
    log_sigmas = rng.standard_normal((W9_K, W9_D)) * 0.2
    logits = rng.standard_normal(W9_K) * 0.5
    return means, log_sigmas, logits, X


def w9_loss(means, log_sigmas, logits, X):
    # negative log-likelihood of a diagonal-covariance mixture of K Gaussians
    log_w = logits - logsumexp(logits)
    diff = X[:, None, :] - means[None, :, :]
    inv_var = np.exp(-2.0 * log_sigmas)
    log_p = (-0.5 * np.sum(diff ** 2 * inv_var, axis=2) - np.sum(log_sigmas, axis=1)
             - 0.5 * X.shape[1] * np.log(2.0 * np.pi))
    return -np.sum(logsumexp(log_w + log_p, axis=1))


def w9_grad(means, log_sigmas, logits, X):
    log_w = logits - logsumexp(logits)
    diff = X[:, None, :] - means[None, :, :]
    inv_var = np.exp(-2.0 * log_sigmas)
    sq = diff * diff * inv_var
    log_p = (-0.5 * sq.sum(axis=2) - log_sigmas.sum(axis=1)
             - 0.5 * X.shape[1] * np.log(2.0 * np.pi))
    a = log_w + log_p
    r = np.exp(a - logsumexp(a, axis=1, keepdims=True))  # responsibilities (N, K)
    g_means = -np.einsum("nk,nkd->kd", r, diff) * inv_var
    g_log_sigmas = r.sum(axis=0)[:, None] - np.einsum("nk,nkd->kd", r, sq)
    g_logits = -(r.sum(axis=0) - X.shape[0] * np.exp(log_w))
    return g_means, g_log_sigmas, g_logits


def w9_autograd(means, log_sigmas, logits, X):
    log_w = logits - autograd_logsumexp(logits)
    diff = X[:, None, :] - means[None, :, :]
    inv_var = anp.exp(-2.0 * log_sigmas)
    log_p = (-0.5 * anp.sum(diff ** 2 * inv_var, axis=2) - anp.sum(log_sigmas, axis=1)
             - 0.5 * X.shape[1] * np.log(2.0 * np.pi))
    return -anp.sum(autograd_logsumexp(log_w + log_p, axis=1))


def w9_torch(means, log_sigmas, logits, X):
    log_w = logits - torch.logsumexp(logits, dim=0)
    diff = X[:, None, :] - means[None, :, :]
    inv_var = torch.exp(-2.0 * log_sigmas)
    log_p = (-0.5 * torch.sum(diff ** 2 * inv_var, dim=2) - torch.sum(log_sigmas, dim=1)
             - 0.5 * X.shape[1] * np.log(2.0 * np.pi))
    return -torch.sum(torch.logsumexp(log_w + log_p, dim=1))


def w9_jax(means, log_sigmas, logits, X):
    log_w = logits - jax_logsumexp(logits)
    diff = X[:, None, :] - means[None, :, :]
    inv_var = jnp.exp(-2.0 * log_sigmas)
    log_p = (-0.5 * jnp.sum(diff ** 2 * inv_var, axis=2) - jnp.sum(log_sigmas, axis=1)
             - 0.5 * X.shape[1] * np.log(2.0 * np.pi))
    return -jnp.sum(jax_logsumexp(log_w + log_p, axis=1))


# ---------------------------------------------------------------- registry


WORKLOADS = [
    Workload("W1", "seed MLP: x (100,3), 3->32 relu->1, squared error", w1_inputs, (1, 2, 3, 4),
             w1_loss, w1_grad, w1_autograd, w1_torch, w1_jax),
    Workload("W2", "cubic fit, 2000 points, grad w.r.t. four Python floats", w2_inputs,
             (0, 1, 2, 3), w2_loss, w2_grad, w2_autograd, w2_torch, w2_jax),
    Workload("W3", "MLP 256x784 -> 256 tanh -> 10, softmax cross-entropy", w3_inputs,
             (1, 2, 3, 4), w3_loss, w3_grad, w3_autograd, w3_torch, w3_jax),
    Workload("W4", "logistic regression, X (200000,100), grad w.r.t. w (100,)", w4_inputs,
             (0,), w4_loss, w4_grad, w4_autograd, w4_torch, w4_jax),
    Workload("W5", "vanilla RNN, Python loop T=50, batch 16, in 32, hidden 64", w5_inputs,
             (2, 3, 4, 5), w5_loss, w5_grad, w5_autograd, w5_torch, w5_jax),
    Workload("W6", "Python-float loop, 100 steps, data-dependent if/else", w6_inputs,
             (0,), w6_loss, w6_grad, w6_autograd, w6_torch, w6_jax, w6_jax_jit),
    Workload("W7", "MLP 256x784 -> 200 -> 100 -> 10 with np.dot, params a list of (W, b)",
             w7_inputs, (0,), w7_loss, w7_grad, w7_autograd, w7_torch, w7_jax),
    Workload("W8", "LSTM with np.dot, T=30, batch 32, in 64, hidden 128, params a dict",
             w8_inputs, (0,), w8_loss, w8_grad, w8_autograd, w8_torch, w8_jax),
    Workload("W9", "GMM negative log-likelihood, scipy.special.logsumexp, N=2000 K=16 D=8",
             w9_inputs, (0, 1, 2), w9_loss, w9_grad, w9_autograd, w9_torch, w9_jax),
]
