"""review40: cs231n's FullyConnectedNet as the assignment writes it, storing the mode into the
dicts it holds inside loss() (self.dropout_param["mode"] = mode, self.bn_params[i]["mode"] =
"train"), with the modes starting as "test" so that a stale read would show; and
X.astype(self.dtype) on the model differentiated."""

import numpy as np

from tests.programs.review40_harness import case

R = np.random.default_rng(40)


def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1).dot(w) + b, (x, w, b)


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        out = gamma * (x - mu) / np.sqrt(var + eps) + beta
    else:  # (the running statistics: zeros and ones here)
        out = gamma * x / np.sqrt(1.0 + eps) + beta
    return out, None


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode == "train":
        mask = (np.random.default_rng(dropout_param["seed"]).random(x.shape) < p) / p
        return x * mask, None
    return x, None


def softmax_loss(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(log_probs[np.arange(x.shape[0]), y]) / x.shape[0], None


class FullyConnectedNet:
    def __init__(self, hidden_dims, input_dim=6, num_classes=3, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, dtype=np.float64, seed=0):
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        rng = np.random.default_rng(seed)
        dims = [input_dim] + hidden_dims + [num_classes]
        for i in range(self.num_layers):
            self.params["W%d" % (i + 1)] = 0.3 * rng.normal(size=(dims[i], dims[i + 1]))
            self.params["b%d" % (i + 1)] = np.zeros(dims[i + 1]) + 0.01
            if normalization == "batchnorm" and i < self.num_layers - 1:
                self.params["gamma%d" % (i + 1)] = np.ones(dims[i + 1])
                self.params["beta%d" % (i + 1)] = np.zeros(dims[i + 1])
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "test", "p": dropout_keep_ratio, "seed": seed}
        self.bn_params = []
        if normalization == "batchnorm":
            self.bn_params = [{"mode": "test"} for i in range(self.num_layers - 1)]

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode
        out = X
        for i in range(self.num_layers - 1):
            out, _ = affine_forward(out, self.params["W%d" % (i + 1)],
                                    self.params["b%d" % (i + 1)])
            if self.normalization == "batchnorm":
                self.bn_params[i]["mode"] = mode  # (again: the nested store)
                out, _ = batchnorm_forward(out, self.params["gamma%d" % (i + 1)],
                                           self.params["beta%d" % (i + 1)], self.bn_params[i])
            out = np.maximum(0, out)
            if self.use_dropout:
                out, _ = dropout_forward(out, self.dropout_param)
        scores, _ = affine_forward(out, self.params["W%d" % self.num_layers],
                                   self.params["b%d" % self.num_layers])
        if mode == "test":
            return scores
        loss, _ = softmax_loss(scores, y)
        for i in range(self.num_layers):
            W = self.params["W%d" % (i + 1)]
            loss += 0.5 * self.reg * np.sum(W * W)
        return loss


XC = R.normal(size=(5, 6))
YC = np.array([0, 2, 1, 1, 0])


@case((FullyConnectedNet([4, 5], reg=0.1, dropout_keep_ratio=0.6), XC, YC), modes="object")
def fc_net_dropout_mode_stored(model, X, y):
    return model.loss(X, y)


@case((FullyConnectedNet([4], normalization="batchnorm", dropout_keep_ratio=0.7), XC, YC),
      modes="object")
def fc_net_batchnorm_modes_stored(model, X, y):
    return model.loss(X, y)


@case((FullyConnectedNet([4], normalization="batchnorm").params, XC, YC))
def fc_net_params_swapped_in_a_copy(params, X, y):
    # (the solver's way, item by item, on a model built here: followed, its loss and
    # __init__ written in)
    model = FullyConnectedNet([4], normalization="batchnorm")
    for k, v in params.items():
        model.params[k] = v
    return model.loss(X, y)


class CachingNet:
    """nnfs / hand-written backprop style: forward stores its intermediates in self.cache."""

    def __init__(self):
        self.W1 = R.normal(size=(6, 4)) * 0.4
        self.W2 = R.normal(size=(4, 3)) * 0.4
        self.cache = {}
        self.config = {"act": "relu", "calls": 0}

    def forward(self, X):
        self.config["act"] = "tanh"
        self.config["calls"] = self.config["calls"] + 1
        z1 = X @ self.W1
        self.cache["z1"] = z1
        a1 = np.tanh(z1) if self.config["act"] == "tanh" else np.maximum(0, z1)
        self.cache["a1"] = a1
        return a1 @ self.W2


@case((CachingNet(), XC, YC), modes="object")
def caching_net(model, X, y):
    scores = model.forward(X)
    loss, _ = softmax_loss(scores, y)
    return loss
