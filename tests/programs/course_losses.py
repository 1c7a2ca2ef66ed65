"""Scalar losses over the course layers of tests/programs/course_nn.py and course-style code
written inline (cs231n, nnfs, min-char-rnn, d2l), each registered with its arguments, the
arguments it is differentiated with respect to and, where the course pairs one, its hand-written
gradient (tests/test_course_layers.py checks them). Written as course code is written
(semicolons, names from a star import), hence the ruff exemption."""
# ruff: noqa

import numpy as np

from tests.programs import course_nn as C
from tests.programs.course_nn import *  # noqa: F401,F403

# ====================================================================== layers and their backward

rng = np.random.default_rng(0)
def R(*s): return rng.normal(size=s)

CASES = []
def case(args, wrt, hand=None, tags=()):
    def deco(f):
        CASES.append(dict(f=f, args=args, wrt=wrt, hand=hand, tags=set(tags), name=f.__name__))
        return f
    return deco

# ---------------------------------------------------------------- affine / relu
X4, W4, B4, G4 = R(3, 2, 3), R(6, 4), R(4), R(3, 4)
@case((X4, W4, B4, G4), (0, 1, 2), lambda x, w, b, G: C.affine_backward(G, (x, w, b)), tags=["smooth"])
def affine_loss(x, w, b, G):
    out, _ = affine_forward(x, w, b)
    return np.sum(out * G)

XR, GR = R(4, 5), R(4, 5)
for fwd in [relu_forward, relu_forward_mask, relu_forward_copy, relu_forward_where]:
    def make(fwd):
        def relu_loss(x, G):
            out, _ = fwd(x)
            return np.sum(out * G)
        relu_loss.__name__ = relu_loss.__qualname__ = "relu_loss_" + fwd.__name__
        return relu_loss
    case((XR, GR), (0,), lambda x, G: (C.relu_backward(G, x),))(make(fwd))

@case((X4, W4, B4, G4), (0, 1, 2), lambda x, w, b, G: C.affine_relu_backward(G, ((x, w, b), C.affine_forward(x, w, b)[0])))
def affine_relu_loss(x, w, b, G):
    out, cache = affine_relu_forward(x, w, b)
    return np.sum(out * G)

# ---------------------------------------------------------------- losses
XS, YS = R(5, 4), np.array([0, 3, 1, 3, 2])
@case((XS, YS), (0,), lambda x, y: (C.softmax_loss(x, y)[1],), tags=["smooth"])
def softmax_loss_value(x, y):
    loss, dx = softmax_loss(x, y)
    return loss

@case((XS, YS), (0,), lambda x, y: (C.svm_loss(x, y)[1],))
def svm_loss_value(x, y):
    loss, dx = svm_loss(x, y)
    return loss

WL, XL, YL = R(3, 4) * 0.5, R(5, 3), np.array([0, 3, 1, 3, 2])
@case((WL, XL, YL, 0.1), (0,), lambda W, X, y, reg: (C.svm_loss_naive(W, X, y, reg)[1],))
def svm_naive_value(W, X, y, reg):
    loss, dW = svm_loss_naive(W, X, y, reg)
    return loss

@case((WL, XL, YL, 0.1), (0,), lambda W, X, y, reg: (C.softmax_loss_naive(W, X, y, reg)[1],), tags=["smooth"])
def softmax_naive_value(W, X, y, reg):
    loss, dW = softmax_loss_naive(W, X, y, reg)
    return loss

# ---------------------------------------------------------------- normalization
XB, GAM, BET, GB = R(5, 3), R(3), R(3), R(5, 3)
def _bn_hand(x, gamma, beta, G):
    _, cache = C.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    return C.batchnorm_backward(G, cache)
@case((XB, GAM, BET, GB), (0, 1, 2), _bn_hand, tags=["smooth"])
def batchnorm_loss(x, gamma, beta, G):
    bn_param = {"mode": "train"}
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    return np.sum(out * G)

@case((XB, GAM, BET, GB), (0, 1, 2), _bn_hand, tags=["smooth"])
def batchnorm_loss_running(x, gamma, beta, G):
    bn_param = {"mode": "train", "momentum": 0.5, "running_mean": np.ones(3), "running_var": np.ones(3)}
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    out2, _ = batchnorm_forward(x * 2.0, gamma, beta, bn_param)
    return np.sum(out * G) + 0.0 * np.sum(bn_param["running_mean"])

@case((XB, GAM, BET, GB), (0, 1, 2), _bn_hand, tags=["smooth"])
def batchnorm_staged_loss(x, gamma, beta, G):
    out, cache = batchnorm_forward_staged(x, gamma, beta, 1e-5)
    return np.sum(out * G)

def _bn_test_loss_ref(x, gamma, beta, G):
    rm, rv = np.mean(x, 0) * 0 + 0.3, np.ones(3) * 2.0
    xh = (x - rm) / np.sqrt(rv + 1e-5)
    return (gamma * G / np.sqrt(rv + 1e-5), np.sum(G * xh, 0), np.sum(G, 0))
@case((XB, GAM, BET, GB), (0, 1, 2), _bn_test_loss_ref, tags=["smooth"])
def batchnorm_test_loss(x, gamma, beta, G):
    bn_param = {"mode": "test", "running_mean": np.full(3, 0.3), "running_var": np.full(3, 2.0)}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    return np.sum(out * G)

def _ln_hand(x, gamma, beta, G):
    _, cache = C.layernorm_forward(x, gamma, beta, {})
    return C.layernorm_backward(G, cache)
@case((XB, GAM, BET, GB), (0, 1, 2), _ln_hand, tags=["smooth"])
def layernorm_loss(x, gamma, beta, G):
    out, cache = layernorm_forward(x, gamma, beta, {"eps": 1e-5})
    return np.sum(out * G)

XSB, GSB = R(2, 3, 2, 2), R(2, 3, 2, 2)
def _sbn_hand(x, gamma, beta, G):
    _, cache = C.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    return C.spatial_batchnorm_backward(G, cache)
@case((XSB, GAM, BET, GSB), (0, 1, 2), _sbn_hand, tags=["smooth"])
def spatial_batchnorm_loss(x, gamma, beta, G):
    out, _ = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    return np.sum(out * G)

# ---------------------------------------------------------------- dropout
def _do_hand(x, G):
    _, cache = C.dropout_forward(x, {"p": 0.6, "mode": "train", "seed": 7})
    return (C.dropout_backward(G, cache),)
@case((XR, GR), (0,), _do_hand, tags=["smooth"])
def dropout_loss(x, G):
    out, cache = dropout_forward(x, {"p": 0.6, "mode": "train", "seed": 7})
    return np.sum(out * G)

# ---------------------------------------------------------------- conv / pool
XC, WC, BC = R(2, 2, 4, 4), R(3, 2, 3, 3), R(3)
CP = {"stride": 1, "pad": 1}
GC = R(2, 3, 4, 4)
@case((XC, WC, BC, GC, CP), (0, 1, 2), lambda x, w, b, G, cp: C.conv_backward_naive(G, (x, w, b, cp)), tags=["smooth"])
def conv_naive_loss(x, w, b, G, conv_param):
    out, _ = conv_forward_naive(x, w, b, conv_param)
    return np.sum(out * G)

CP2 = {"stride": 2, "pad": 1}
GC2 = R(2, 3, 2, 2)
@case((XC, WC, BC, GC2, CP2), (0, 1, 2), lambda x, w, b, G, cp: C.conv_backward_naive(G, (x, w, b, cp)), tags=["smooth"])
def conv_naive_stride2_loss(x, w, b, G, conv_param):
    out, _ = conv_forward_naive(x, w, b, conv_param)
    return np.sum(out * G)

def _im2col_hand(x, w, b, G, cp):
    _, cache = C.conv_forward_im2col(x, w, b, cp)
    return C.conv_backward_im2col(G, cache)
@case((XC, WC, BC, GC, CP), (0, 1, 2), _im2col_hand, tags=["smooth"])
def conv_im2col_loss(x, w, b, G, conv_param):
    out, _ = conv_forward_im2col(x, w, b, conv_param)
    return np.sum(out * G)

COLS = R(2 * 9, 16 * 2)
GCI = R(2, 2, 4, 4)
@case((COLS, GCI), (0,), lambda cols, G: (C.im2col_indices(G, 3, 3, 1, 1),), tags=["smooth"])
def col2im_loss(cols, G):
    x = col2im_indices(cols, (2, 2, 4, 4), 3, 3, 1, 1)
    return np.sum(x * G)

XP = R(2, 2, 4, 4); PP = {"pool_height": 2, "pool_width": 2, "stride": 2}; GP = R(2, 2, 2, 2)
@case((XP, GP, PP), (0,), lambda x, G, pp: (C.max_pool_backward_naive(G, (x, pp)),))
def max_pool_naive_loss(x, G, pool_param):
    out, _ = max_pool_forward_naive(x, pool_param)
    return np.sum(out * G)

PP3 = {"pool_height": 2, "pool_width": 2, "stride": 1}; GP3 = R(2, 2, 3, 3)
@case((XP, GP3, PP3), (0,), lambda x, G, pp: (C.max_pool_backward_naive(G, (x, pp)),))
def max_pool_overlap_loss(x, G, pool_param):
    out, _ = max_pool_forward_naive(x, pool_param)
    return np.sum(out * G)

@case((XP, GP3, PP3), (0,), lambda x, G, pp: (C.max_pool_backward_naive(G, (x, pp)),))
def max_pool_vec_loss(x, G, pool_param):
    out, _ = max_pool_forward_vec(x, pool_param)
    return np.sum(out * G)

@case((XP, GP, PP), (0,), lambda x, G, pp: (C.max_pool_backward_naive(G, (x, pp)),))
def max_pool_reshape_loss(x, G, pool_param):
    out, _ = max_pool_forward_reshape(x, pool_param)
    return np.sum(out * G)

@case((XP, GP, PP), (0,), lambda x, G, pp: (np.repeat(np.repeat(G, 2, 2), 2, 3) / 4,), tags=["smooth"])
def avg_pool_loss(x, G, pool_param):
    out, _ = avg_pool_forward(x, pool_param)
    return np.sum(out * G)

# ---------------------------------------------------------------- recurrent
N, T, D, H = 2, 3, 4, 5
XT, H0, WX, WH, BH, GH = R(N, T, D), R(N, H), R(D, H) * 0.5, R(H, H) * 0.5, R(H), R(N, T, H)
XS1 = R(N, D)
def _rnn_step_hand(x, h, Wx, Wh, b, G):
    nh, cache = C.rnn_step_forward(x, h, Wx, Wh, b)
    return C.rnn_step_backward(G, cache)
@case((XS1, H0, WX, WH, BH, R(N, H)), (0, 1, 2, 3, 4), _rnn_step_hand, tags=["smooth"])
def rnn_step_loss(x, prev_h, Wx, Wh, b, G):
    next_h, _ = rnn_step_forward(x, prev_h, Wx, Wh, b)
    return np.sum(next_h * G)

def _rnn_hand(x, h0, Wx, Wh, b, G):
    h, cache = C.rnn_forward(x, h0, Wx, Wh, b)
    return C.rnn_backward(G, cache)
@case((XT, H0, WX, WH, BH, GH), (0, 1, 2, 3, 4), _rnn_hand, tags=["smooth"])
def rnn_loss(x, h0, Wx, Wh, b, G):
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    return np.sum(h * G)

WX4, WH4, B4H = R(D, 4 * H) * 0.5, R(H, 4 * H) * 0.5, R(4 * H)
def _lstm_hand(x, h0, Wx, Wh, b, G):
    h, cache = C.lstm_forward(x, h0, Wx, Wh, b)
    return C.lstm_backward(G, cache)
@case((XT, H0, WX4, WH4, B4H, GH), (0, 1, 2, 3, 4), _lstm_hand, tags=["smooth"])
def lstm_loss(x, h0, Wx, Wh, b, G):
    h, _ = lstm_forward(x, h0, Wx, Wh, b)
    return np.sum(h * G)

def _lstm_step_hand(x, h, c, Wx, Wh, b, G, Gc):
    nh, nc, cache = C.lstm_step_forward(x, h, c, Wx, Wh, b)
    dx, dh, dc, dWx, dWh, db = C.lstm_step_backward(G, Gc, cache)
    return dx, dh, dc, dWx, dWh, db
@case((XS1, H0, R(N, H), WX4, WH4, B4H, R(N, H), R(N, H)), (0, 1, 2, 3, 4, 5), _lstm_step_hand, tags=["smooth"])
def lstm_step_loss(x, prev_h, prev_c, Wx, Wh, b, G, Gc):
    next_h, next_c, _ = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    return np.sum(next_h * G) + np.sum(next_c * Gc)

XI = np.array([[0, 3, 1], [2, 3, 3]]); WE = R(5, 4); GE = R(2, 3, 4)
@case((XI, WE, GE), (1,), lambda x, W, G: (C.word_embedding_backward(G, (x, W)),), tags=["smooth"])
def embedding_loss(x, W, G):
    out, _ = word_embedding_forward(x, W)
    return np.sum(out * G)

WTA, BTA, GTA = R(D, 3), R(3), R(N, T, 3)
def _ta_hand(x, w, b, G):
    out, cache = C.temporal_affine_forward(x, w, b)
    return C.temporal_affine_backward(G, cache)
@case((XT, WTA, BTA, GTA), (0, 1, 2), _ta_hand, tags=["smooth"])
def temporal_affine_loss(x, w, b, G):
    out, _ = temporal_affine_forward(x, w, b)
    return np.sum(out * G)

XTS, YTS, MTS = R(N, T, 4), np.array([[1, 3, 0], [2, 2, 1]]), np.array([[1, 1, 0], [1, 0, 1]], dtype=bool)
@case((XTS, YTS, MTS), (0,), lambda x, y, m: (C.temporal_softmax_loss(x, y, m)[1],), tags=["smooth"])
def temporal_softmax_value(x, y, mask):
    loss, _ = temporal_softmax_loss(x, y, mask)
    return loss

V, HC = 4, 3
INP, TGT = [0, 2, 1, 2], [2, 1, 2, 3]
MC = (R(HC, 1), R(HC, V) * 0.3, R(HC, HC) * 0.3, R(V, HC) * 0.3, R(HC, 1), R(V, 1))
def _mcr_hand(inputs, targets, hprev, *p):
    dh, *rest = C.min_char_rnn_backward(inputs, targets, hprev, *p)
    return (dh, *rest)
@case((INP, TGT) + MC, (2, 3, 4, 5, 6, 7), _mcr_hand, tags=["smooth"])
def min_char_rnn(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    return min_char_rnn_loss(inputs, targets, hprev, Wxh, Whh, Why, bh, by)

# ---------------------------------------------------------------- dict params, two-layer net
P2 = {"W1": R(4, 5) * 0.5, "b1": R(5), "W2": R(5, 3) * 0.5, "b2": R(3)}
X2, Y2 = R(6, 4), np.array([0, 1, 2, 2, 1, 0])
def _tln_hand(params, X, y, reg):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    h, c1 = C.affine_relu_forward(X, W1, b1)
    s, c2 = C.affine_forward(h, W2, b2)
    loss, ds = C.softmax_loss(s, y)
    dh, dW2, db2 = C.affine_backward(ds, c2)
    dX, dW1, db1 = C.affine_backward(C.relu_backward(dh, c1[1]), c1[0])
    return ({"W1": dW1 + reg * W1, "b1": db1, "W2": dW2 + reg * W2, "b2": db2},)
@case((P2, X2, Y2, 0.1), (0,), _tln_hand)
def two_layer_net_loss(params, X, y, reg):
    W1, b1 = params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    h, cache1 = affine_relu_forward(X, W1, b1)
    scores, cache2 = affine_forward(h, W2, b2)
    loss, dscores = softmax_loss(scores, y)
    for k in params:
        if k.startswith("W"):
            loss += 0.5 * reg * np.sum(params[k] * params[k])
    return loss

PF = {"W1": R(4, 5) * 0.5, "b1": R(5), "W2": R(5, 5) * 0.5, "b2": R(5), "W3": R(5, 3) * 0.5, "b3": R(3)}
@case((PF, X2, Y2, 0.1, 3), (0,), None)
def fc_net_loss(params, X, y, reg, num_layers):
    h = X
    for i in range(num_layers - 1):
        h, _ = affine_relu_forward(h, params["W%d" % (i + 1)], params["b%d" % (i + 1)])
    scores, _ = affine_forward(h, params["W%d" % num_layers], params["b%d" % num_layers])
    loss, _ = softmax_loss(scores, y)
    reg_loss = 0.0
    for i in range(num_layers):
        W = params["W" + str(i + 1)]
        reg_loss += 0.5 * reg * np.sum(W * W)
    return loss + reg_loss

@case((PF, X2, Y2, 0.1, 3), (0,), None)
def fc_net_fstring_loss(params, X, y, reg, num_layers):
    h = X
    for i in range(1, num_layers):
        h, _ = affine_relu_forward(h, params[f"W{i}"], params[f"b{i}"])
    scores, _ = affine_forward(h, params[f"W{num_layers}"], params[f"b{num_layers}"])
    loss, _ = softmax_loss(scores, y)
    loss += 0.5 * reg * sum(np.sum(params[f"W{i}"] ** 2) for i in range(1, num_layers + 1))
    return loss

@case((P2, X2, Y2, 0.1), (0,), None)
def l2_values_loss(params, X, y, reg):
    scores = np.maximum(0, X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
    loss, _ = svm_loss(scores, y)
    return loss + reg * sum(np.sum(w * w) for name, w in params.items() if name[0] == "W")

# ---------------------------------------------------------------- nnfs objects
XN, YN = R(6, 2), np.array([0, 1, 2, 1, 0, 2])
W1N, B1N, W2N, B2N = R(2, 4) * 0.5, R(1, 4) * 0.1, R(4, 3) * 0.5, R(1, 3) * 0.1
def _nnfs_hand(W1, b1, W2, b2, X, y):
    d1 = C.Layer_Dense(W1, b1, 0, 5e-4); a1 = C.Activation_ReLU(); d2 = C.Layer_Dense(W2, b2)
    al = C.Activation_Softmax_Loss_CategoricalCrossentropy()
    d1.forward(X); a1.forward(d1.output); d2.forward(a1.output); al.forward(d2.output, y)
    al.backward(al.output, y); d2.backward(al.dinputs); a1.backward(d2.dinputs); d1.backward(a1.dinputs)
    return d1.dweights, d1.dbiases, d2.dweights, d2.dbiases
@case((W1N, B1N, W2N, B2N, XN, YN), (0, 1, 2, 3), _nnfs_hand)
def nnfs_loss(W1, b1, W2, b2, X, y):
    dense1 = Layer_Dense(W1, b1, weight_regularizer_l2=5e-4)
    activation1 = Activation_ReLU()
    dense2 = Layer_Dense(W2, b2)
    loss_activation = Activation_Softmax_Loss_CategoricalCrossentropy()
    dense1.forward(X)
    activation1.forward(dense1.output)
    dense2.forward(activation1.output)
    data_loss = loss_activation.forward(dense2.output, y)
    regularization_loss = loss_activation.loss.regularization_loss(dense1) + \
        loss_activation.loss.regularization_loss(dense2)
    return data_loss + regularization_loss

def _nnfs_sep_hand(W1, b1, W2, b2, X, y):
    d1 = C.Layer_Dense(W1, b1); a1 = C.Activation_ReLU(); d2 = C.Layer_Dense(W2, b2)
    a2 = C.Activation_Softmax(); lf = C.Loss_CategoricalCrossentropy()
    d1.forward(X); a1.forward(d1.output); d2.forward(a1.output); a2.forward(d2.output)
    lf.backward(a2.output, y); a2.backward(lf.dinputs); d2.backward(a2.dinputs); a1.backward(d2.dinputs); d1.backward(a1.dinputs)
    return d1.dweights, d1.dbiases, d2.dweights, d2.dbiases
@case((W1N, B1N, W2N, B2N, XN, YN), (0, 1, 2, 3), _nnfs_sep_hand)
def nnfs_layers_list_loss(W1, b1, W2, b2, X, y):
    layers = [Layer_Dense(W1, b1), Activation_ReLU(), Layer_Dense(W2, b2), Activation_Softmax()]
    inputs = X
    for layer in layers:
        layer.forward(inputs)
        inputs = layer.output
    loss_function = Loss_CategoricalCrossentropy()
    return loss_function.calculate(layers[-1].output, y)

YOH = np.eye(3)[YN]
@case((W1N, B1N, W2N, B2N, XN, YOH), (0, 1, 2, 3), None)
def nnfs_onehot_l1_loss(W1, b1, W2, b2, X, y):
    dense1 = Layer_Dense(W1, b1, weight_regularizer_l1=1e-2)
    act = Activation_ReLU()
    dense2 = Layer_Dense(W2, b2)
    sm = Activation_Softmax()
    loss_function = Loss_CategoricalCrossentropy()
    dense1.forward(X); act.forward(dense1.output); dense2.forward(act.output); sm.forward(dense2.output)
    return loss_function.calculate(sm.output, y) + loss_function.regularization_loss(dense1)

@case((W1N, B1N, W2N, B2N, XN, YN), (0, 1, 2, 3), None)
def nnfs_dropout_loss(W1, b1, W2, b2, X, y):
    dense1 = Layer_Dense(W1, b1)
    act = Activation_ReLU()
    drop = Layer_Dropout(0.3)
    dense2 = Layer_Dense(W2, b2)
    la = Activation_Softmax_Loss_CategoricalCrossentropy()
    dense1.forward(X); act.forward(dense1.output); drop.forward(act.output); dense2.forward(drop.output)
    return la.forward(dense2.output, y)

# ====================================================================== losses that run their own backward, d2l

W1, b1, W2, b2 = R(4, 5) * 0.5, R(5) * 0.1, R(5, 3) * 0.5, R(3) * 0.1
X, y = R(6, 4), np.array([0, 1, 2, 2, 1, 0])

def _tln_ref(W1, b1, W2, b2, X, y, reg):
    h = np.maximum(0, X @ W1 + b1); s = h @ W2 + b2
    e = np.exp(s - s.max(1, keepdims=True)); p = e / e.sum(1, keepdims=True)
    d = p.copy(); d[np.arange(6), y] -= 1; d /= 6
    dW2 = h.T @ d + 2 * reg * W2; db2 = d.sum(0)
    dh = d @ W2.T; dh[h <= 0] = 0
    return X.T @ dh + 2 * reg * W1, dh.sum(0), dW2, db2

@case((W1, b1, W2, b2, X, y, 0.05), (0, 1, 2, 3), _tln_ref, tags=["smooth"])
def cs231n_two_layer_with_own_backward(W1, b1, W2, b2, X, y, reg):
    N, D = X.shape
    hidden_layer = np.maximum(0, np.dot(X, W1) + b1)
    scores = np.dot(hidden_layer, W2) + b2
    exp_scores = np.exp(scores - np.max(scores, axis=1, keepdims=True))
    probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
    correct_logprobs = -np.log(probs[range(N), y])
    data_loss = np.sum(correct_logprobs) / N
    reg_loss = reg * np.sum(W1 * W1) + reg * np.sum(W2 * W2)
    loss = data_loss + reg_loss
    grads = {}
    dscores = probs
    dscores[range(N), y] -= 1
    dscores /= N
    grads["W2"] = np.dot(hidden_layer.T, dscores)
    grads["b2"] = np.sum(dscores, axis=0)
    dhidden = np.dot(dscores, W2.T)
    dhidden[hidden_layer <= 0] = 0
    grads["W1"] = np.dot(X.T, dhidden)
    return loss

@case((W1, b1, W2, b2, X, y, 0.05), (0, 1, 2, 3), _tln_ref, tags=["smooth"])
def two_layer_exp_inplace(W1, b1, W2, b2, X, y, reg):
    N = X.shape[0]
    h = np.maximum(0, X.dot(W1) + b1)
    scores = h.dot(W2) + b2
    scores -= np.max(scores, axis=1, keepdims=True)
    exp_scores = np.exp(scores)
    exp_scores /= np.sum(exp_scores, axis=1, keepdims=True)
    loss = -np.sum(np.log(exp_scores[np.arange(N), y])) / N
    loss += reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    exp_scores[np.arange(N), y] -= 1
    return loss

XR, GR = R(4, 5), R(4, 5)
@case((XR, GR), (0,), lambda x, G: (C.relu_backward(G, x),))
def relu_inplace_on_argument(x, G):
    x[x < 0] = 0
    return np.sum(x * G)

@case((XR, GR), (0,), lambda x, G: (C.relu_backward(G, x),))
def relu_alias_then_inplace(x, G):
    out = x
    out[out < 0] = 0
    return np.sum(out * G)

@case((XR, GR), (0,), lambda x, G: (np.where(x > 0, G, 0.0) + x * 0,))
def relu_inplace_after_use(x, G):
    h = np.maximum(x, 0)
    s = np.sum(h * G)
    h[h > 0] = 0.0
    return s

@case((XR, GR), (0,), None, tags=["smooth"])
def tanh_then_modify_saved(x, G):
    t = np.tanh(x)
    loss = np.sum(t * G)
    t *= 2.0
    return loss

@case((XR, GR), (0,), None, tags=["smooth"])
def sigmoid_ans_modified(x, G):
    s = 1.0 / (1.0 + np.exp(-x))
    loss = np.sum(s * G)
    ds = s * (1 - s)
    s -= 1
    return loss

XB, GAM, BET, GB = R(5, 3), R(3), R(3), R(5, 3)
@case((XB, GAM, BET, GB), (0, 1, 2), None, tags=["smooth"])
def batchnorm_inplace_center(x, gamma, beta, G):
    mu = x.mean(axis=0)
    xc = x - mu
    var = (xc ** 2).mean(axis=0)
    xc /= np.sqrt(var + 1e-5)
    out = gamma * xc + beta
    return np.sum(out * G)

def d2l_batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    if len(X.shape) == 2:
        mean = X.mean(axis=0)
        var = ((X - mean) ** 2).mean(axis=0)
    else:
        mean = X.mean(axis=(0, 2, 3), keepdims=True)
        var = ((X - mean) ** 2).mean(axis=(0, 2, 3), keepdims=True)
    X_hat = (X - mean) / np.sqrt(var + eps)
    moving_mean = momentum * moving_mean + (1.0 - momentum) * mean
    moving_var = momentum * moving_var + (1.0 - momentum) * var
    Y = gamma * X_hat + beta
    return Y, moving_mean, moving_var

XSB, GSB = R(2, 3, 2, 2), R(2, 3, 2, 2)
@case((XSB, GAM.reshape(1, 3, 1, 1), BET.reshape(1, 3, 1, 1), GSB), (0, 1, 2), None, tags=["smooth"])
def d2l_batch_norm_conv(X, gamma, beta, G):
    Y, mm, mv = d2l_batch_norm(X, gamma, beta, np.zeros((1, 3, 1, 1)), np.ones((1, 3, 1, 1)), 1e-5, 0.9)
    return np.sum(Y * G) + 0.0 * np.sum(mm)

def d2l_softmax(X):
    X_exp = np.exp(X)
    partition = X_exp.sum(1, keepdims=True)
    return X_exp / partition

def d2l_cross_entropy(y_hat, y):
    return -np.log(y_hat[range(len(y_hat)), y])

WD, bD, XD, yD = R(4, 3) * 0.3, R(3) * 0.1, R(5, 2, 2), np.array([0, 2, 1, 1, 2])
@case((WD, bD, XD, yD), (0, 1), None, tags=["smooth"])
def d2l_softmax_regression(W, b, X, y):
    def net(X):
        return d2l_softmax(np.matmul(X.reshape((-1, W.shape[0])), W) + b)
    l = d2l_cross_entropy(net(X), y)
    return l.sum()

def d2l_dropout_layer(X, dropout):
    assert 0 <= dropout <= 1
    if dropout == 1:
        return np.zeros_like(X)
    if dropout == 0:
        return X
    mask = np.random.uniform(0, 1, X.shape) > dropout
    return mask.astype(np.float32) * X / (1.0 - dropout)

@case((XR, GR), (0,), None, tags=["smooth"])
def d2l_dropout(x, G):
    np.random.seed(1)
    return np.sum(d2l_dropout_layer(x, 0.4) * G)

def d2l_rnn(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = np.tanh(np.dot(X, W_xh) + np.dot(H, W_hh) + b_h)
        Y = np.dot(H, W_hq) + b_q
        outputs.append(Y)
    return np.concatenate(outputs, axis=0), (H,)

PR = [R(3, 4) * 0.5, R(4, 4) * 0.5, R(4) * 0.1, R(4, 3) * 0.5, R(3) * 0.1]
INR = R(5, 2, 3)
@case((PR, INR, R(2, 4), R(10, 3)), (0,), None, tags=[])
def d2l_rnn_loss(params, inputs, H0, G):
    Y, (H,) = d2l_rnn(inputs, (H0,), params)
    return np.sum(Y * G) + np.sum(H)

@case((INR, PR[0], PR[1], PR[2], PR[3], PR[4], R(2, 4), R(10, 3)), (0, 1, 2, 3, 4, 5), None, tags=["smooth"])
def d2l_rnn_flat(inputs, W_xh, W_hh, b_h, W_hq, b_q, H0, G):
    Y, (H,) = d2l_rnn(inputs, (H0,), (W_xh, W_hh, b_h, W_hq, b_q))
    return np.sum(Y * G) + np.sum(H)

def onehot(inputs, vocab):
    return np.eye(vocab)[inputs]

@case((R(4, 3) * 0.5, np.array([0, 3, 1, 1, 2])), (0,), None, tags=["smooth"])
def onehot_eye_matmul(W, idx):
    X = onehot(idx, 4)
    return np.sum(np.tanh(X @ W))

MC = (R(3, 1), R(3, 4) * 0.3, R(3, 3) * 0.3, R(4, 3) * 0.3, R(3, 1), R(4, 1))
def _mcr_hand(inputs, targets, hprev, *p):
    return C.min_char_rnn_backward(inputs, targets, hprev, *p)
@case(([0, 2, 1, 2], [2, 1, 2, 3]) + MC, (2, 3, 4, 5, 6, 7), _mcr_hand, tags=["smooth"])
def min_char_rnn_flat_index(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    vocab_size = Wxh.shape[1]
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        x = np.zeros((vocab_size, 1))
        x[inputs[t]] = 1
        xs[t] = x
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][targets[t], 0])
    return loss

@case(([0, 2, 1, 2], [2, 1, 2, 3]) + MC, (2, 3, 4, 5, 6, 7), None, tags=["smooth"])
def min_char_rnn_sample_clip(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    h = hprev
    loss = 0.0
    for t in range(len(inputs)):
        x = np.zeros((Wxh.shape[1], 1))
        x[inputs[t]] = 1
        h = np.tanh(np.dot(Wxh, x) + np.dot(Whh, h) + bh)
        y = np.clip(np.dot(Why, h) + by, -0.5, 0.5)
        p = np.exp(y) / np.sum(np.exp(y))
        loss -= np.log(p[targets[t], 0])
    return loss + np.sum(h)

@case((R(6, 4), np.array([0, 3, 1, 3, 2, 0])), (0,), None)
def svm_loss_multiply_mask(x, y):
    N = x.shape[0]
    correct = x[np.arange(N), y].reshape(-1, 1)
    margins = x - correct + 1
    margins = margins * (margins > 0)
    margins[np.arange(N), y] = 0
    return margins.sum() / N

@case((R(6, 4), np.array([0, 3, 1, 3, 2, 0])), (0,), None, tags=["smooth"])
def softmax_onehot_loss(x, y):
    N, C_ = x.shape
    Y = np.zeros((N, C_))
    Y[np.arange(N), y] = 1
    p = np.exp(x) / np.exp(x).sum(axis=1)[:, None]
    return -np.sum(Y * np.log(p)) / N

@case((R(6, 4), R(6, 4)), (0,), None, tags=["smooth"])
def sigmoid_bce(z, t):
    t = (t > 0).astype(float)
    s = 1 / (1 + np.exp(-z))
    return -np.mean(t * np.log(s) + (1 - t) * np.log(1 - s))

@case((R(6, 4), R(6, 4)), (0,), None, tags=["smooth"])
def huber_where(a, b):
    d = a - b
    return np.sum(np.where(np.abs(d) <= 1.0, 0.5 * d ** 2, np.abs(d) - 0.5))

XC, WC, BC = R(2, 2, 4, 4), R(3, 2, 3, 3), R(3)
@case((XC, WC, BC, R(2, 3, 2, 2)), (0, 1, 2), None, tags=["smooth"])
def conv_stride_tricks(x, w, b, G):
    N, Cc, H, W = x.shape
    F, _, HH, WW = w.shape
    windows = np.lib.stride_tricks.sliding_window_view(x, (HH, WW), axis=(2, 3))[:, :, ::1, ::1]
    out = np.einsum("nchwij,fcij->nfhw", windows, w) + b[None, :, None, None]
    return np.sum(out * G)

@case((XC, WC, BC, R(2, 3, 2, 2)), (0, 1, 2), None, tags=["smooth"])
def conv_tensordot_valid(x, w, b, G):
    F, Cc, HH, WW = w.shape
    N, _, H, W = x.shape
    out = np.zeros((N, F, H - HH + 1, W - WW + 1))
    for i in range(H - HH + 1):
        for j in range(W - WW + 1):
            out[:, :, i, j] = np.tensordot(x[:, :, i:i + HH, j:j + WW], w, axes=([1, 2, 3], [1, 2, 3]))
    out += b.reshape(1, -1, 1, 1)
    return np.sum(out * G)

@case((R(2, 2, 4, 4), R(2, 2, 2, 2)), (0,), None)
def max_pool_argmax_mask(x, G):
    N, Cc, H, W = x.shape
    out = np.zeros((N, Cc, H // 2, W // 2))
    for i in range(H // 2):
        for j in range(W // 2):
            window = x[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2].reshape(N, Cc, -1)
            idx = np.argmax(window, axis=2)
            out[:, :, i, j] = np.take_along_axis(window, idx[:, :, None], axis=2)[:, :, 0]
    return np.sum(out * G)

@case((R(2, 2, 4, 4), R(2, 2, 2, 2)), (0,), None)
def max_pool_mask_sum(x, G):
    N, Cc, H, W = x.shape
    out = np.zeros((N, Cc, H // 2, W // 2))
    for n in range(N):
        for c in range(Cc):
            for i in range(H // 2):
                for j in range(W // 2):
                    window = x[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                    mask = window == np.max(window)
                    out[n, c, i, j] = np.sum(window * mask)
    return np.sum(out * G)

# ====================================================================== running statistics in dicts

def batchnorm_forward_sub(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param["eps"] if "eps" in bn_param else 1e-5
    momentum = bn_param["momentum"] if "momentum" in bn_param else 0.9
    N, D = x.shape
    running_mean = bn_param["running_mean"] if "running_mean" in bn_param else np.zeros(D)
    running_var = bn_param["running_var"] if "running_var" in bn_param else np.zeros(D)
    if mode == "train":
        sample_mean = np.mean(x, axis=0)
        sample_var = np.var(x, axis=0)
        x_hat = (x - sample_mean) / np.sqrt(sample_var + eps)
        out = gamma * x_hat + beta
        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var
    else:
        x_hat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * x_hat + beta
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, None

XB, GAM, BET, GB = R(5, 3), R(3), R(3), R(5, 3)
def _bn_hand(x, gamma, beta, G):
    _, cache = C.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    return C.batchnorm_backward(G, cache)
@case((XB, GAM, BET, GB), (0, 1, 2), _bn_hand, tags=["smooth"])
def bn_sub_train(x, gamma, beta, G):
    out, _ = batchnorm_forward_sub(x, gamma, beta, {"mode": "train"})
    return np.sum(out * G)

@case((XB, GAM, BET, GB), (0, 1, 2), None, tags=["smooth"])
def bn_train_then_test(x, gamma, beta, G):
    bn_param = {"mode": "train", "momentum": 0.5}
    out, _ = batchnorm_forward_sub(x, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    out2, _ = batchnorm_forward_sub(x * 0.5 + 1.0, gamma, beta, bn_param)
    return np.sum(out * G) + np.sum(out2 * G)

@case((XB, GAM, BET, GB), (0, 1, 2), None, tags=["smooth"])
def bn_param_outside_loop(x, gamma, beta, G):
    bn_param = {"mode": "train", "running_mean": np.ones(3), "running_var": np.ones(3)}
    loss = 0.0
    for k in range(3):
        out, _ = batchnorm_forward_sub(x + k, gamma, beta, bn_param)
        loss += np.sum(out * G) + np.sum(bn_param["running_mean"] ** 2) + np.sum(bn_param["running_var"])
    return loss

@case((XB, GAM, BET, GB), (0, 1, 2), None, tags=["smooth"])
def bn_params_list_of_dicts(x, gamma, beta, G):
    bn_params = [{"mode": "train"} for i in range(2)]
    h = x
    for i in range(2):
        h, _ = batchnorm_forward_sub(h, gamma, beta, bn_params[i])
        h = np.maximum(h, 0.1 * h)
    return np.sum(h * G) + np.sum(bn_params[1]["running_mean"])

BNP_OUT = {"mode": "train", "running_mean": np.zeros(3), "running_var": np.ones(3)}
@case((XB, GAM, BET, GB, BNP_OUT), (0, 1, 2), None, tags=["smooth"])
def bn_param_argument(x, gamma, beta, G, bn_param):
    out, _ = batchnorm_forward_sub(x, gamma, beta, bn_param)
    return np.sum(out * G) + np.sum(bn_param["running_mean"])

P2 = {"W1": R(4, 5) * 0.5, "b1": R(5), "W2": R(5, 3) * 0.5, "b2": R(3)}
X2, Y2 = R(6, 4), np.array([0, 1, 2, 2, 1, 0])
@case((P2, X2, Y2, 0.1), (0,), None)
def two_layer_keys_loop(params, X, y, reg):
    h, _ = C.affine_relu_forward(X, params["W1"], params["b1"])
    scores, _ = C.affine_forward(h, params["W2"], params["b2"])
    loss, _ = C.softmax_loss(scores, y)
    for k in params.keys():
        if k.startswith("W"):
            loss += 0.5 * reg * np.sum(params[k] * params[k])
    return loss

@case((P2, X2, Y2, 0.1), (0,), None)
def two_layer_items_loop(params, X, y, reg):
    h, _ = C.affine_relu_forward(X, params["W1"], params["b1"])
    scores, _ = C.affine_forward(h, params["W2"], params["b2"])
    loss, _ = C.softmax_loss(scores, y)
    for name, p in sorted(params.items()):
        if name[0] == "W":
            loss += 0.5 * reg * np.sum(p ** 2)
    return loss

# ====================================================================== in-place idioms

def sig(x):
    return 1.0 / (1.0 + np.exp(-x))

N, D, H = 2, 3, 4
XS1, H0, C0 = R(N, D), R(N, H), R(N, H)
WX4, WH4, B4H = R(D, 4 * H) * 0.5, R(H, 4 * H) * 0.5, R(4 * H)
GH, GC = R(N, H), R(N, H)
def _lstm_hand(x, h, c, Wx, Wh, b, G, Gc):
    nh, nc, cache = C.lstm_step_forward(x, h, c, Wx, Wh, b)
    return C.lstm_step_backward(G, Gc, cache)

@case((XS1, H0, C0, WX4, WH4, B4H, GH, GC), (0, 1, 2, 3, 4, 5), _lstm_hand, tags=["smooth"])
def lstm_gates_in_place(x, prev_h, prev_c, Wx, Wh, b, G, Gc):
    H = prev_h.shape[1]
    a = x.dot(Wx) + prev_h.dot(Wh) + b
    a[:, :3 * H] = sig(a[:, :3 * H])
    a[:, 3 * H:] = np.tanh(a[:, 3 * H:])
    i, f, o, g = np.split(a, 4, axis=1)
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return np.sum(next_h * G) + np.sum(next_c * Gc)

@case((XS1, H0, C0, WX4, WH4, B4H, GH, GC), (0, 1, 2, 3, 4, 5), _lstm_hand, tags=["smooth"])
def lstm_gates_hsplit_views(x, prev_h, prev_c, Wx, Wh, b, G, Gc):
    H = prev_h.shape[1]
    a = np.dot(x, Wx) + np.dot(prev_h, Wh) + b
    ai, af, ao, ag = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
    i = sig(ai); f = sig(af); o = sig(ao); g = np.tanh(ag)
    next_c = prev_c * f
    next_c += i * g
    next_h = o * np.tanh(next_c)
    return np.sum(next_h * G) + np.sum(next_c * Gc)

@case((XS1, H0, C0, WX4, WH4, B4H, GH, GC), (0, 1, 2, 3, 4, 5), _lstm_hand, tags=["smooth"])
def lstm_gates_sigmoid_out(x, prev_h, prev_c, Wx, Wh, b, G, Gc):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    ifo = a[:, :3 * H]
    np.negative(ifo, out=ifo)
    np.exp(ifo, out=ifo)
    ifo += 1
    np.reciprocal(ifo, out=ifo)
    np.tanh(a[:, 3 * H:], out=a[:, 3 * H:])
    i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return np.sum(next_h * G) + np.sum(next_c * Gc)

XR, GR = R(4, 5), R(4, 5)
@case((XR, GR), (0,), lambda x, G: (C.relu_backward(G, x),))
def relu_maximum_out(x, G):
    h = x * 1.0
    np.maximum(h, 0, h)
    return np.sum(h * G)

@case((XR, GR), (0,), lambda x, G: (C.relu_backward(G, x),))
def relu_maximum_out_kw(x, G):
    h = x + 0.0
    np.maximum(h, 0, out=h)
    return np.sum(h * G)

@case((XR, GR), (0,), lambda x, G: (C.relu_backward(G, x),))
def relu_times_mask_inplace(x, G):
    h = x.copy()
    h *= (h > 0)
    return np.sum(h * G)

@case((XR, GR), (0,), lambda x, G: (np.where(x > 0, G, 0.01 * G),))
def leaky_relu_masked_scale(x, G):
    out = x.copy()
    out[x < 0] *= 0.01
    return np.sum(out * G)

@case((XR, GR), (0,), lambda x, G: (np.where(x > 0, G, 0.5 * np.exp(x) * G),), tags=[])
def elu_where(x, G):
    return np.sum(np.where(x > 0, x, 0.5 * (np.exp(x) - 1)) * G)

XC, WC, BC, GC4 = R(2, 2, 4, 4), R(3, 2, 3, 3), R(3), R(2, 3, 4, 4)
CP = {"stride": 1, "pad": 1}
@case((XC, WC, BC, GC4, CP), (0, 1, 2), lambda x, w, b, G, cp: C.conv_backward_naive(G, (x, w, b, cp)), tags=["smooth"])
def conv_manual_pad(x, w, b, G, conv_param):
    pad, stride = conv_param["pad"], conv_param["stride"]
    N, Cc, H, W = x.shape
    F, _, HH, WW = w.shape
    x_pad = np.zeros((N, Cc, H + 2 * pad, W + 2 * pad))
    x_pad[:, :, pad:-pad, pad:-pad] = x
    Ho = (H + 2 * pad - HH) // stride + 1
    Wo = (W + 2 * pad - WW) // stride + 1
    out = np.zeros((N, F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            patch = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            for f in range(F):
                out[:, f, i, j] += np.sum(patch * w[f, :, :, :], axis=(1, 2, 3))
            out[:, :, i, j] += b
    return np.sum(out * G)

@case((XC, WC, BC, GC4, CP), (0, 1, 2), lambda x, w, b, G, cp: C.conv_backward_naive(G, (x, w, b, cp)), tags=["smooth"])
def conv_flat_filters_dot(x, w, b, G, conv_param):
    pad = conv_param["pad"]
    N, Cc, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant", constant_values=0)
    w_row = w.reshape(F, -1)
    out = np.zeros((N, F, H, W))
    for n in range(N):
        for i in range(H):
            for j in range(W):
                out[n, :, i, j] = w_row.dot(xp[n, :, i:i + HH, j:j + WW].flatten()) + b
    return np.sum(out * G)

XP, GP = R(2, 2, 4, 4), R(2, 2, 2, 2)
def _mp_hand(x, G):
    return (C.max_pool_backward_naive(G, (x, {"pool_height": 2, "pool_width": 2, "stride": 2})),)
@case((XP, GP), (0,), _mp_hand)
def max_pool_argmax_unravel(x, G):
    N, Cc, H, W = x.shape
    out = np.zeros((N, Cc, 2, 2))
    for n in range(N):
        for c in range(Cc):
            for i in range(2):
                for j in range(2):
                    window = x[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                    r, s = np.unravel_index(np.argmax(window), window.shape)
                    out[n, c, i, j] = window[r, s]
    return np.sum(out * G)

@case((XP, GP), (0,), _mp_hand)
def max_pool_amax_tuple_axis(x, G):
    N, Cc, H, W = x.shape
    out = np.zeros((N, Cc, 2, 2))
    for i in range(2):
        for j in range(2):
            out[:, :, i, j] = np.amax(x[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2], axis=(-2, -1))
    return np.sum(out * G)

V, Dm = 5, 3
EMB, IDX = R(V, Dm), np.array([1, 3, 1, 1, 4])
@case((EMB, IDX, R(V, Dm)), (0,), None, tags=["smooth"])
def scatter_plus_equal_repeated(W, idx, G):
    out = np.zeros((V, Dm))
    out[idx] += W[idx] * 2.0
    return np.sum(out * G)

@case((EMB, IDX, R(5, Dm), R(V, Dm)), (0, 2), None, tags=["smooth"])
def scatter_assign_repeated(W, idx, vals, G):
    out = W.copy()
    out[idx] = vals
    return np.sum(out * G)

@case((EMB, IDX, R(5, Dm), R(V, Dm)), (0, 2), None, tags=["smooth"])
def scatter_add_at_repeated(W, idx, vals, G):
    out = W.copy()
    np.add.at(out, idx, vals)
    return np.sum(np.tanh(out) * G)

@case((R(5, 2), R(5, 4), R(2, 4) * 0.5, R(4, 4) * 0.5, R(4), R(2, 4) * 0.5, R(4, 4) * 0.5, R(4), R(2, 4) * 0.5, R(4, 4) * 0.5, R(4)), tuple(range(11)), None, tags=["smooth"])
def gru_step(x, h, Wz, Uz, bz, Wr, Ur, br, Wh, Uh, bh):
    z = sig(x @ Wz + h @ Uz + bz)
    r = sig(x @ Wr + h @ Ur + br)
    h_tilde = np.tanh(x @ Wh + (r * h) @ Uh + bh)
    h_new = (1 - z) * h + z * h_tilde
    return np.sum(h_new ** 2)

@case((R(3, 2), R(3, 4), R(6, 16) * 0.3, R(16)), (0, 1, 2, 3), None, tags=["smooth"])
def lstm_concat_colah(x, h, W, b):
    z = np.concatenate((h, x), axis=1) @ W + b
    H = h.shape[1]
    f, i, o = sig(z[:, :H]), sig(z[:, H:2 * H]), sig(z[:, 2 * H:3 * H])
    c_bar = np.tanh(z[:, 3 * H:])
    c = f * h + i * c_bar
    return np.sum(o * np.tanh(c))

@case((R(3, 2, 2), R(4, 5), R(5)), (0, 1, 2), None, tags=["smooth"])
def affine_prod_shape(x, w, b):
    out = x.reshape(x.shape[0], np.prod(x.shape[1:])).dot(w) + b
    return np.sum(out ** 2)

@case((R(4, 3), R(3, 2), R(2)), (1, 2), None, tags=["smooth"])
def l2_norm_reg(X, W, b):
    s = X @ W + b
    return np.mean(s ** 2) + 0.5 * np.linalg.norm(W) ** 2 + 0.1 * np.sum(np.square(b))

@case((R(6, 4), np.array([0, 3, 1, 3, 2, 0])), (0,), None, tags=["smooth"])
def softmax_probs_inplace_grad(x, y):
    N = x.shape[0]
    probs = np.exp(x - x.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(N), y]).mean()
    dx = probs
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss

@case((R(6, 4), np.array([0, 3, 1, 3, 2, 0])), (0,), None, tags=["smooth"])
def softmax_loss_loop_rows(x, y):
    loss = 0.0
    for i in range(x.shape[0]):
        f = x[i] - np.max(x[i])
        p = np.exp(f) / np.sum(np.exp(f))
        loss += -np.log(p[y[i]])
    return loss / x.shape[0]

@case((R(4, 3), R(4, 3)), (0,), None, tags=["smooth"])
def sigmoid_stable_masks(x, G):
    return np.sum(C.sigmoid(x) * G)

@case((R(6, 4), np.array([0, 3, 1, 3, 2, 0])), (0,), None)
def svm_loop_rows_fancy(x, y):
    N = x.shape[0]
    loss = 0.0
    for i in range(N):
        m = np.maximum(0, x[i] - x[i, y[i]] + 1)
        m[y[i]] = 0
        loss += m.sum()
    return loss / N


# ====================================================================== cs231n FullyConnectedNet.loss
BN_ARG = {"mode": "train", "running_mean": np.zeros(3), "running_var": np.ones(3)}


@case((XB, GAM, BET, GB, BN_ARG), (0, 1, 2), lambda x, g, b, G, p: _bn_hand(x, g, b, G),
      tags=["smooth"])
def bn_param_argument_not_read_back(x, gamma, beta, G, bn_param):
    out, _ = C.batchnorm_forward(x, gamma, beta, bn_param)
    return np.sum(out * G)


PFC = {"W1": R(4, 5) * 0.5, "b1": R(5) * 0.1, "gamma1": 1 + 0.1 * R(5), "beta1": 0.1 * R(5),
       "W2": R(5, 5) * 0.5, "b2": R(5) * 0.1, "gamma2": 1 + 0.1 * R(5), "beta2": 0.1 * R(5),
       "W3": R(5, 3) * 0.5, "b3": R(3) * 0.1}
BN_PARAMS = [{"mode": "train"} for _ in range(2)]
DROP = {"mode": "train", "p": 0.7, "seed": 123}


@case((PFC, R(6, 4), np.array([0, 1, 2, 2, 1, 0]), BN_PARAMS, DROP, 0.05, 3), (0,), None)
def fc_net_batchnorm_dropout(params, X, y, bn_params, dropout_param, reg, num_layers):
    h = X
    for i in range(1, num_layers):
        a, _ = C.affine_forward(h, params["W%d" % i], params["b%d" % i])
        a, _ = C.batchnorm_forward(a, params["gamma%d" % i], params["beta%d" % i],
                                   bn_params[i - 1])
        h, _ = C.relu_forward(a)
        h, _ = C.dropout_forward(h, dropout_param)
    scores, _ = C.affine_forward(h, params["W%d" % num_layers], params["b%d" % num_layers])
    loss, dscores = C.softmax_loss(scores, y)
    for i in range(1, num_layers + 1):
        W = params["W%d" % i]
        loss += 0.5 * reg * np.sum(W * W)
    return loss
