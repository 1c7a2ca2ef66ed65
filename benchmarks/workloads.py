"""Benchmark workloads W1-W6: plain numpy losses, hand-written gradients, other frameworks."""

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
]
