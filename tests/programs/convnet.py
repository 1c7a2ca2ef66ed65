"""A small convnet built from layer objects with methods (autograd's convnet.py): a list of layer
objects, `for layer in layers: h = layer.forward(h, params[k])`, and the same net written with
each layer object named, and with plain functions."""

import numpy as np


def conv2d_valid(x, w):
    # x: (N, C, H, W), w: (F, C, kh, kw) -> (N, F, H - kh + 1, W - kw + 1)
    kh, kw = w.shape[2], w.shape[3]
    out_h, out_w = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    out = np.zeros((x.shape[0], w.shape[0], out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            patch = x[:, :, i:i + kh, j:j + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return out


class ConvLayer:
    def __init__(self, kernel_shape, num_filters):
        self.kernel_shape = kernel_shape
        self.num_filters = num_filters

    def forward(self, inputs, param):
        W, b = param
        return np.tanh(conv2d_valid(inputs, W) + b[None, :, None, None])


class MaxPoolLayer:
    def __init__(self, size):
        self.size = size

    def forward(self, inputs, param):
        s = self.size
        N, C, H, W = inputs.shape
        r = inputs[:, :, :H // s * s, :W // s * s].reshape(N, C, H // s, s, W // s, s)
        return np.max(np.max(r, axis=5), axis=3)


class FullLayer:
    def __init__(self, size):
        self.size = size

    def forward(self, inputs, param):
        W, b = param
        h = inputs.reshape(inputs.shape[0], -1)
        return np.dot(h, W) + b


def logsumexp(x):
    m = np.max(x, axis=1, keepdims=True)
    return m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))


LAYERS = [ConvLayer((2, 2), 2), MaxPoolLayer(2), FullLayer(3)]


def loss_layer_list(params, inputs, targets, layers):
    h = inputs
    for k in range(len(layers)):
        h = layers[k].forward(h, params[k])
    logprobs = h - logsumexp(h)
    return -np.sum(logprobs * targets)


def loss_layer_iter(params, inputs, targets, layers):
    h = inputs
    k = 0
    for layer in layers:
        h = layer.forward(h, params[k])
        k += 1
    logprobs = h - logsumexp(h)
    return -np.sum(logprobs * targets)


CONV, POOL, FULL = LAYERS


def loss_named_layers(params, inputs, targets):
    h = CONV.forward(inputs, params[0])
    h = POOL.forward(h, params[1])
    h = FULL.forward(h, params[2])
    logprobs = h - logsumexp(h)
    return -np.sum(logprobs * targets)


def loss_functions(params, inputs, targets):
    W, b = params[0]
    h = np.tanh(conv2d_valid(inputs, W) + b[None, :, None, None])
    N, C, H, Wd = h.shape
    h = np.max(np.max(h[:, :, :H // 2 * 2, :Wd // 2 * 2].reshape(N, C, H // 2, 2, Wd // 2, 2),
                      axis=5), axis=3)
    W2, b2 = params[2]
    h = np.dot(h.reshape(N, -1), W2) + b2
    logprobs = h - logsumexp(h)
    return -np.sum(logprobs * targets)


def make_inputs():
    rs = np.random.RandomState(7)
    inputs = rs.randn(2, 1, 5, 5)
    params = [(0.5 * rs.randn(2, 1, 2, 2), 0.1 * rs.randn(2)), (),
              (0.5 * rs.randn(2 * 2 * 2, 3), 0.1 * rs.randn(3))]
    targets = np.eye(3)[[0, 2]]
    return params, inputs, targets


def loss_global_layer_list(params, inputs, targets):
    h = inputs
    for k in range(len(LAYERS)):
        h = LAYERS[k].forward(h, params[k])
    logprobs = h - logsumexp(h)
    return -np.sum(logprobs * targets)


def loss_class_named(params, inputs, targets, layers):
    # the fix the refusal suggests: name the class
    h = ConvLayer.forward(layers[0], inputs, params[0])
    h = MaxPoolLayer.forward(layers[1], h, params[1])
    h = FullLayer.forward(layers[2], h, params[2])
    logprobs = h - logsumexp(h)
    return -np.sum(logprobs * targets)
