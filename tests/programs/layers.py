"""A small layer library in the style of plain-numpy neural-network collections (issue 24).

Layers hold their parameters in ``self.parameters`` (a dict), initialize lazily on the first
forward (``if not self.is_initialized``), cache what the backward pass needs on ``self`` and raise
ValueError on bad shapes. Each ``backward(dLdY)`` is written by hand: it returns the gradient for
the input and a dict with the gradient of each parameter, and is the tests' independent oracle.
Where natural a layer also has a functional method (``forward_with(params..., X)``) that reads no
state and writes none.
"""

import numpy as np


# ---------------------------------------------------------------- activations


class Identity:
    def __call__(self, z):
        return z

    def grad(self, z):
        return np.ones_like(z)


class ReLU:
    def __call__(self, z):
        return np.where(z > 0, z, 0.0)

    def grad(self, z):
        return np.where(z > 0, 1.0, 0.0)


class Tanh:
    def __call__(self, z):
        return np.tanh(z)

    def grad(self, z):
        return 1.0 - np.tanh(z) ** 2


class Sigmoid:
    def __call__(self, z):
        return 1.0 / (1.0 + np.exp(-z))

    def grad(self, z):
        s = 1.0 / (1.0 + np.exp(-z))
        return s * (1.0 - s)


class ELU:
    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def __call__(self, z):
        return np.where(z > 0, z, self.alpha * (np.exp(z) - 1.0))

    def grad(self, z):
        return np.where(z > 0, 1.0, self.alpha * np.exp(z))


def _rng(seed):
    return np.random.default_rng(seed)


class Layer:
    """Every layer applies its activation object through ``activate`` (and the LSTM its gate)."""

    def activate(self, z):
        return self.act_fn(z)

    def gate(self, z):
        return self.gate_fn(z)


# ---------------------------------------------------------------- Dense


class Dense(Layer):
    def __init__(self, n_out, act_fn=None, seed=0):
        self.n_out = n_out
        self.act_fn = act_fn if act_fn is not None else Identity()
        self.seed = seed
        self.parameters = {"W": None, "b": None}
        self.is_initialized = False

    def _init_params(self):
        rng = _rng(self.seed)
        self.parameters = {"W": rng.normal(size=(self.n_in, self.n_out)) * 0.5,
                           "b": rng.normal(size=(1, self.n_out)) * 0.1}
        self.is_initialized = True

    def forward(self, X):
        if not self.is_initialized:
            self.n_in = X.shape[1]
            self._init_params()
        if X.ndim != 2 or X.shape[1] != self.n_in:
            raise ValueError(f"Dense expects (N, {self.n_in}) input, got {X.shape}")
        Z = X @ self.parameters["W"] + self.parameters["b"]
        self.X = X
        self.Z = Z
        return self.activate(Z)

    def forward_with(self, W, b, X):
        if X.shape[1] != W.shape[0]:
            raise ValueError(f"Dense expects (N, {W.shape[0]}) input, got {X.shape}")
        return self.activate(X @ W + b)

    def loss(self, X, C):
        return np.sum(self.forward(X) * C)

    def backward(self, dLdY):
        dZ = dLdY * self.act_fn.grad(self.Z)
        return dZ @ self.parameters["W"].T, {"W": self.X.T @ dZ,
                                             "b": np.sum(dZ, axis=0, keepdims=True)}


# ---------------------------------------------------------------- Conv2D (im2col)


def im2col(X_pad, kh, kw):
    """(N, C, Hp, Wp) -> (N*Ho*Wo, C*kh*kw), stride 1, by slices, stack, transpose, reshape."""
    N, C, Hp, Wp = X_pad.shape
    Ho, Wo = Hp - kh + 1, Wp - kw + 1
    patches = np.stack([X_pad[:, :, i:i + Ho, j:j + Wo] for i in range(kh) for j in range(kw)],
                       axis=2)                                    # (N, C, kh*kw, Ho, Wo)
    return patches.transpose(0, 3, 4, 1, 2).reshape(N * Ho * Wo, C * kh * kw)


def col2im(dcols, shape, kh, kw):
    N, C, Hp, Wp = shape
    Ho, Wo = Hp - kh + 1, Wp - kw + 1
    d = dcols.reshape(N, Ho, Wo, C, kh * kw).transpose(0, 3, 4, 1, 2)
    dX_pad = np.zeros(shape)
    for i in range(kh):
        for j in range(kw):
            dX_pad[:, :, i:i + Ho, j:j + Wo] += d[:, :, i * kw + j]
    return dX_pad


class Conv2D(Layer):
    def __init__(self, out_ch, kernel_shape, pad=0, act_fn=None, seed=0):
        self.out_ch = out_ch
        self.kernel_shape = kernel_shape
        self.pad = pad
        self.act_fn = act_fn if act_fn is not None else Identity()
        self.seed = seed
        self.parameters = {"W": None, "b": None}
        self.is_initialized = False

    def _init_params(self):
        rng = _rng(self.seed)
        kh, kw = self.kernel_shape
        self.parameters = {"W": rng.normal(size=(self.out_ch, self.in_ch, kh, kw)) * 0.3,
                           "b": rng.normal(size=(self.out_ch,)) * 0.1}
        self.is_initialized = True

    def forward_with(self, W, b, X):
        if X.ndim != 4 or X.shape[1] != W.shape[1]:
            raise ValueError(f"Conv2D expects (N, {W.shape[1]}, H, W) input, got {X.shape}")
        N, C, H, Wd = X.shape
        F, _, kh, kw = W.shape
        p = self.pad
        X_pad = np.pad(X, ((0, 0), (0, 0), (p, p), (p, p)))
        Ho, Wo = H + 2 * p - kh + 1, Wd + 2 * p - kw + 1
        cols = im2col(X_pad, kh, kw)
        Z = cols @ W.reshape(F, C * kh * kw).T + b
        return self.activate(Z.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2))

    def forward(self, X):
        if not self.is_initialized:
            self.in_ch = X.shape[1]
            self._init_params()
        self.X = X
        return self.forward_with(self.parameters["W"], self.parameters["b"], X)

    def loss(self, X, C):
        return np.sum(self.forward(X) * C)

    def backward(self, dLdY):
        W, X, p = self.parameters["W"], self.X, self.pad
        F, C, kh, kw = W.shape
        X_pad = np.pad(X, ((0, 0), (0, 0), (p, p), (p, p)))
        cols = im2col(X_pad, kh, kw)
        Z = (cols @ W.reshape(F, -1).T + self.parameters["b"])
        Z = Z.reshape(X.shape[0], dLdY.shape[2], dLdY.shape[3], F).transpose(0, 3, 1, 2)
        dZ = (dLdY * self.act_fn.grad(Z)).transpose(0, 2, 3, 1).reshape(-1, F)
        dW = (cols.T @ dZ).T.reshape(W.shape)
        dX_pad = col2im(dZ @ W.reshape(F, -1), X_pad.shape, kh, kw)
        dX = dX_pad[:, :, p:p + X.shape[2], p:p + X.shape[3]]
        return dX, {"W": dW, "b": np.sum(dZ, axis=0)}


# ---------------------------------------------------------------- normalization


class BatchNorm(Layer):
    """Training mode: normalizes each feature by the batch's mean and variance."""

    def __init__(self, epsilon=1e-5, seed=0):
        self.epsilon = epsilon
        self.seed = seed
        self.parameters = {"scaler": None, "intercept": None}
        self.is_initialized = False

    def _init_params(self):
        rng = _rng(self.seed)
        self.parameters = {"scaler": 1.0 + 0.2 * rng.normal(size=(self.n_in,)),
                           "intercept": 0.1 * rng.normal(size=(self.n_in,))}
        self.is_initialized = True

    def forward_with(self, scaler, intercept, X):
        if X.ndim != 2 or X.shape[0] < 2:
            raise ValueError(f"BatchNorm needs a batch (N >= 2, D), got {X.shape}")
        mean = np.mean(X, axis=0)
        var = np.var(X, axis=0)
        X_hat = (X - mean) / np.sqrt(var + self.epsilon)
        return scaler * X_hat + intercept

    def forward(self, X):
        if not self.is_initialized:
            self.n_in = X.shape[1]
            self._init_params()
        self.X = X
        return self.forward_with(self.parameters["scaler"], self.parameters["intercept"], X)

    def loss(self, X, C):
        return np.sum(self.forward(X) * C)

    def backward(self, dLdY):
        X, N = self.X, self.X.shape[0]
        inv_std = 1.0 / np.sqrt(np.var(X, axis=0) + self.epsilon)
        X_hat = (X - np.mean(X, axis=0)) * inv_std
        dX_hat = dLdY * self.parameters["scaler"]
        dX = inv_std / N * (N * dX_hat - dX_hat.sum(0) - X_hat * (dX_hat * X_hat).sum(0))
        return dX, {"scaler": np.sum(dLdY * X_hat, axis=0), "intercept": np.sum(dLdY, axis=0)}


class LayerNorm(Layer):
    """Normalizes each row over its features."""

    def __init__(self, epsilon=1e-5, seed=0):
        self.epsilon = epsilon
        self.seed = seed
        self.parameters = {"scaler": None, "intercept": None}
        self.is_initialized = False

    def _init_params(self):
        rng = _rng(self.seed)
        self.parameters = {"scaler": 1.0 + 0.2 * rng.normal(size=(self.n_in,)),
                           "intercept": 0.1 * rng.normal(size=(self.n_in,))}
        self.is_initialized = True

    def forward_with(self, scaler, intercept, X):
        if X.shape[-1] != scaler.shape[0]:
            raise ValueError(f"LayerNorm expects (..., {scaler.shape[0]}) input, got {X.shape}")
        mean = np.mean(X, axis=-1, keepdims=True)
        var = np.var(X, axis=-1, keepdims=True)
        return scaler * (X - mean) / np.sqrt(var + self.epsilon) + intercept

    def forward(self, X):
        if not self.is_initialized:
            self.n_in = X.shape[-1]
            self._init_params()
        self.X = X
        return self.forward_with(self.parameters["scaler"], self.parameters["intercept"], X)

    def loss(self, X, C):
        return np.sum(self.forward(X) * C)

    def backward(self, dLdY):
        X, D = self.X, self.X.shape[-1]
        inv_std = 1.0 / np.sqrt(np.var(X, axis=-1, keepdims=True) + self.epsilon)
        X_hat = (X - np.mean(X, axis=-1, keepdims=True)) * inv_std
        dX_hat = dLdY * self.parameters["scaler"]
        dX = inv_std / D * (D * dX_hat - dX_hat.sum(-1, keepdims=True)
                            - X_hat * (dX_hat * X_hat).sum(-1, keepdims=True))
        return dX, {"scaler": np.sum(dLdY * X_hat, axis=0), "intercept": np.sum(dLdY, axis=0)}


# ---------------------------------------------------------------- Embedding


class Embedding(Layer):
    def __init__(self, vocab_size, n_out, seed=0):
        rng = _rng(seed)
        self.vocab_size = vocab_size
        self.parameters = {"W": rng.normal(size=(vocab_size, n_out))}

    def forward_with(self, W, ids):
        if ids.dtype.kind not in "iu" or np.any(ids >= W.shape[0]):
            raise ValueError("Embedding ids must be integers below the vocabulary size")
        return W[ids]

    def forward(self, ids):
        self.ids = ids
        return self.forward_with(self.parameters["W"], ids)

    def backward(self, dLdY):
        dW = np.zeros_like(self.parameters["W"])
        np.add.at(dW, self.ids, dLdY)
        return None, {"W": dW}


# ---------------------------------------------------------------- recurrent cells


class RNNCell(Layer):
    """h = tanh(X @ Wax + h_prev @ Waa + ba)."""

    def __init__(self, n_in, n_hid, seed=0):
        rng = _rng(seed)
        self.act_fn = Tanh()
        self.parameters = {"Wax": rng.normal(size=(n_in, n_hid)) * 0.5,
                           "Waa": rng.normal(size=(n_hid, n_hid)) * 0.5,
                           "ba": rng.normal(size=(1, n_hid)) * 0.1}

    def forward_with(self, params, X, h_prev):
        if X.shape[1] != params["Wax"].shape[0]:
            raise ValueError(f"RNNCell expects (N, {params['Wax'].shape[0]}), got {X.shape}")
        return self.activate(X @ params["Wax"] + h_prev @ params["Waa"] + params["ba"])

    def forward(self, X, h_prev):
        self.X, self.h_prev = X, h_prev
        self.h = self.forward_with(self.parameters, X, h_prev)
        return self.h

    def loss(self, X, h_prev, C):
        return np.sum(self.forward(X, h_prev) * C)

    def backward(self, dLdh):
        P = self.parameters
        dZ = dLdh * (1.0 - self.h ** 2)
        return (dZ @ P["Wax"].T, dZ @ P["Waa"].T), {
            "Wax": self.X.T @ dZ, "Waa": self.h_prev.T @ dZ,
            "ba": np.sum(dZ, axis=0, keepdims=True)}


class LSTMCell(Layer):
    """Gates f, i, o by sigmoid, candidate by tanh, on Z = [h_prev, X]."""

    def __init__(self, n_in, n_hid, seed=0):
        rng = _rng(seed)
        self.gate_fn, self.act_fn = Sigmoid(), Tanh()
        self.parameters = {}
        for g in ("f", "i", "c", "o"):
            self.parameters["W" + g] = rng.normal(size=(n_hid + n_in, n_hid)) * 0.4
            self.parameters["b" + g] = rng.normal(size=(1, n_hid)) * 0.1

    def forward_with(self, P, X, h_prev, c_prev):
        if X.shape[0] != h_prev.shape[0]:
            raise ValueError("X and h_prev disagree on the batch size")
        Z = np.concatenate([h_prev, X], axis=1)
        f = self.gate(Z @ P["Wf"] + P["bf"])
        i = self.gate(Z @ P["Wi"] + P["bi"])
        cc = self.activate(Z @ P["Wc"] + P["bc"])
        o = self.gate(Z @ P["Wo"] + P["bo"])
        c = f * c_prev + i * cc
        return o * self.activate(c), c

    def forward(self, X, h_prev, c_prev):
        self.X, self.h_prev, self.c_prev = X, h_prev, c_prev
        return self.forward_with(self.parameters, X, h_prev, c_prev)

    def loss(self, X, h_prev, c_prev, C):
        h, c = self.forward(X, h_prev, c_prev)
        return np.sum(h * C) + np.sum(c * C ** 2)

    def backward(self, dLdh, dLdc):
        P, n_h = self.parameters, self.h_prev.shape[1]
        Z = np.concatenate([self.h_prev, self.X], axis=1)
        f = self.gate_fn(Z @ P["Wf"] + P["bf"])
        i = self.gate_fn(Z @ P["Wi"] + P["bi"])
        cc = np.tanh(Z @ P["Wc"] + P["bc"])
        o = self.gate_fn(Z @ P["Wo"] + P["bo"])
        c = f * self.c_prev + i * cc
        dc = dLdc + dLdh * o * (1.0 - np.tanh(c) ** 2)
        dA = {"f": dc * self.c_prev * f * (1 - f), "i": dc * cc * i * (1 - i),
              "c": dc * i * (1 - cc ** 2), "o": dLdh * np.tanh(c) * o * (1 - o)}
        dZ = sum(dA[g] @ P["W" + g].T for g in dA)
        grads = {}
        for g in dA:
            grads["W" + g] = Z.T @ dA[g]
            grads["b" + g] = np.sum(dA[g], axis=0, keepdims=True)
        return (dZ[:, n_h:], dZ[:, :n_h], dc * f), grads
