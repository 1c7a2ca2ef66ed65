"""review37: cs231n's layers (affine/relu/batchnorm/dropout with a fixed seed/conv_naive/
max_pool_naive/svm_loss/softmax_loss) composed by a class FullyConnectedNet with a self.params
dict and loss(X, y), and a ThreeLayerConvNet, as the assignments write them."""

import numpy as np

from tests.programs.review37_harness import case

R = np.random.default_rng(231)


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1).dot(w) + b
    cache = (x, w, b)
    return out, cache


def relu_forward(x):
    out = np.maximum(0, x)
    return out, x


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        sample_mean = x.mean(axis=0)
        sample_var = x.var(axis=0)
        x_hat = (x - sample_mean) / np.sqrt(sample_var + eps)
        out = gamma * x_hat + beta
        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var
    else:
        x_hat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * x_hat + beta
    return out, None


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    out = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    elif mode == "test":
        out = x
    out = out.astype(x.dtype, copy=False)
    return out, None


def svm_loss(x, y):
    N = x.shape[0]
    correct_class_scores = x[np.arange(N), y]
    margins = np.maximum(0, x - correct_class_scores[:, np.newaxis] + 1.0)
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N
    return loss, None


def softmax_loss(x, y):
    shifted_logits = x - np.max(x, axis=1, keepdims=True)
    Z = np.sum(np.exp(shifted_logits), axis=1, keepdims=True)
    log_probs = shifted_logits - np.log(Z)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    return loss, None


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, None


def max_pool_forward_naive(x, pool_param):
    N, C, H, W = x.shape
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = np.max(x[:, :, i * stride:i * stride + ph,
                                       j * stride:j * stride + pw], axis=(2, 3))
    return out, None


class FullyConnectedNet:
    def __init__(self, hidden_dims, input_dim=6, num_classes=3, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-1, dtype=np.float64, seed=0):
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        rng = np.random.default_rng(seed)
        dims = [input_dim] + hidden_dims + [num_classes]
        for i in range(self.num_layers):
            self.params["W%d" % (i + 1)] = weight_scale * rng.normal(size=(dims[i], dims[i + 1]))
            self.params["b%d" % (i + 1)] = np.zeros(dims[i + 1]) + 0.01
            if self.normalization == "batchnorm" and i < self.num_layers - 1:
                self.params["gamma%d" % (i + 1)] = np.ones(dims[i + 1])
                self.params["beta%d" % (i + 1)] = np.zeros(dims[i + 1])
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio, "seed": seed}
        self.bn_params = []
        if self.normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for i in range(self.num_layers - 1)]

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        scores = None
        out = X
        for i in range(self.num_layers - 1):
            W, b = self.params["W%d" % (i + 1)], self.params["b%d" % (i + 1)]
            out, _ = affine_forward(out, W, b)
            if self.normalization == "batchnorm":
                out, _ = batchnorm_forward(out, self.params["gamma%d" % (i + 1)],
                                           self.params["beta%d" % (i + 1)], self.bn_params[i])
            out, _ = relu_forward(out)
            if self.use_dropout:
                out, _ = dropout_forward(out, self.dropout_param)
        W, b = self.params["W%d" % self.num_layers], self.params["b%d" % self.num_layers]
        scores, _ = affine_forward(out, W, b)
        if mode == "test":
            return scores
        loss, _ = softmax_loss(scores, y)
        for i in range(self.num_layers):
            W = self.params["W%d" % (i + 1)]
            loss += 0.5 * self.reg * np.sum(W * W)
        return loss


XC = R.normal(size=(5, 6))
YC = np.array([0, 2, 1, 1, 0])


@case((FullyConnectedNet([4, 5], reg=0.1), XC, YC))
def fc_net_model(model, X, y):
    return model.loss(X, y)


@case((FullyConnectedNet([4], normalization="batchnorm", dropout_keep_ratio=0.7), XC, YC))
def fc_net_batchnorm_dropout_model(model, X, y):
    return model.loss(X, y)


@case((FullyConnectedNet([4, 4], reg=0.05).params, XC, YC))
def fc_net_params_dict(params, X, y):
    model = FullyConnectedNet([4, 4], reg=0.05)
    model.params = params  # (the solver's way: the dict swapped in)
    return model.loss(X, y)


@case((R.normal(size=(3, 2, 3, 3)) * 0.3, R.normal(size=3) * 0.1), wrt=(0, 1))
def conv_relu_pool_svm(w, b):
    x = np.random.default_rng(0).normal(size=(2, 2, 5, 5))
    out, _ = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    out, _ = relu_forward(out)
    out, _ = max_pool_forward_naive(out, {"pool_height": 2, "pool_width": 2, "stride": 2})
    scores = out.reshape(2, -1)[:, :3]
    loss, _ = svm_loss(scores, np.array([0, 2]))
    return loss
