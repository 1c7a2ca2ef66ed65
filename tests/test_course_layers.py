"""A catalogue of neural-network code written as courses and from-scratch books write it
(tests/programs/course_losses.py over the layers of tests/programs/course_nn.py: cs231n's
layers, fast layers and rnn_layers, "Neural Networks from Scratch", min-char-rnn, d2l), checked
in every mode against central finite differences and against the hand-written backward pass the
course pairs with the layer (review32). A mode listed in REFUSED must raise a SourcediffError
(never give a number); every other mode must give the derivative."""

import copy
import warnings

import numpy as np
import pytest

from sourcediff.errors import SourcediffError
from sourcediff.testing import _mode_gradients
from tests.oracles import check_grads_fd
from tests.programs import course_losses as CL

MODES = ["reverse", "unspecialized", "forward", "tape"]  # (unoptimized: test_review32)
ALL = "reverse unspecialized unoptimized forward numba"

# what is refused, and why (the construct; see the report of review32)
REFUSED = {
    # a helper stores into a dict (running averages) that the caller reads afterwards: numpy
    # would change the caller's dict, sourcediff gives the helper a copy (AliasError)
    "batchnorm_loss_running": ALL, "bn_train_then_test": ALL, "bn_param_outside_loop": ALL,
    "bn_params_list_of_dicts": ALL, "bn_param_argument": ALL,
    "fc_net_batchnorm_dropout": ALL + " tape",
    # for k in params: iterates over a dict (refused: write params.keys())
    "two_layer_net_loss": ALL + " tape",
    # nnfs's layers store self.output and the loss reads it back: followed where the layer's
    # class is known (review34: compiler/inline.py), through a layer of a layer
    # (self.activation.forward(x); self.activation.output) and a list of layers (review37);
    # forward mode does not follow the layer objects built inside the loss
    "nnfs_onehot_l1_loss": "forward", "nnfs_loss": "forward", "nnfs_layers_list_loss": "forward",
    # np.negative(ifo, out=ifo) into a view of a
    "lstm_gates_sigmoid_out": ALL + " tape",
}
# the tape: a Tensor written into an ndarray (out = np.zeros(...); out[i] = t), np.add.at,
# an in-place change of a value it saved (probs /= ...; as PyTorch), a container argument
TAPE_REFUSED = {
    "svm_naive_value", "softmax_naive_value", "conv_naive_loss", "conv_naive_stride2_loss",
    "col2im_loss", "max_pool_naive_loss", "max_pool_overlap_loss", "max_pool_vec_loss",
    "rnn_loss", "lstm_loss", "temporal_softmax_value", "fc_net_loss", "fc_net_fstring_loss",
    "l2_values_loss", "two_layer_exp_inplace", "tanh_then_modify_saved",
    "batchnorm_inplace_center", "d2l_rnn_loss", "conv_tensordot_valid", "max_pool_argmax_mask",
    "max_pool_mask_sum", "two_layer_keys_loop", "two_layer_items_loop", "relu_maximum_out",
    "relu_maximum_out_kw", "conv_manual_pad", "conv_flat_filters_dot",
    "max_pool_argmax_unravel", "max_pool_amax_tuple_axis", "scatter_plus_equal_repeated",
    "scatter_add_at_repeated", "softmax_probs_inplace_grad"}
CASES = {c["name"]: c for c in CL.CASES}
# (np.maximum(h, 0, h), as courses write it)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _refused(name, mode):
    return mode in REFUSED.get(name, "").split() or (mode == "tape" and name in TAPE_REFUSED)


def _hand(case):
    args = case["args"]
    out = tuple(case["hand"](*copy.deepcopy(args)))
    return tuple(h if isinstance(args[i], dict) else np.reshape(h, np.shape(args[i]))
                 for h, i in zip(out, case["wrt"]))


def _leaves(v):
    if isinstance(v, dict):
        return [x for k in sorted(v) for x in _leaves(v[k])]
    if isinstance(v, (list, tuple)):
        return [x for e in v for x in _leaves(e)]
    return [np.asarray(v, dtype=float)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_course_layer(name, mode):
    case = CASES[name]
    f, args, wrt = case["f"], case["args"], case["wrt"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if _refused(name, mode):
            with pytest.raises(SourcediffError):
                _mode_gradients(f, copy.deepcopy(args), wrt, mode)
            return
        grads = _mode_gradients(f, copy.deepcopy(args), wrt, mode)
    if not any(isinstance(args[i], (dict, list, tuple)) for i in wrt):
        check_grads_fd(f, args, wrt, grads, rtol=1e-5)
    else:  # (a dict or list of parameters: finite differences along each leaf)
        _check_tree_fd(f, args, wrt, grads)
    if case["hand"] is not None:
        for got, want in zip(grads, _hand(case)):
            for g, w in zip(_leaves(got), _leaves(want)):
                np.testing.assert_allclose(g.reshape(w.shape), w, rtol=1e-7, atol=1e-9)


def _check_tree_fd(f, args, wrt, grads, h=1e-6):
    rng = np.random.default_rng(1)
    for i, g in zip(wrt, grads):
        keys = sorted(args[i]) if isinstance(args[i], dict) else range(len(args[i]))
        for k in keys:
            v = rng.normal(size=np.shape(args[i][k]))

            def moved(s, k=k, v=v):
                a = copy.deepcopy(list(args))
                a[i][k] = a[i][k] + s * v
                return float(f(*a))
            fd = (moved(h) - moved(-h)) / (2 * h)
            an = float(np.sum(np.asarray(g[k]) * v))
            assert abs(fd - an) <= 1e-5 * (abs(fd) + abs(an)) + 1e-8, (k, fd, an)


@pytest.mark.parametrize("name", ["min_char_rnn", "conv_im2col_loss", "lstm_gates_in_place",
                                  "batchnorm_loss", "cs231n_two_layer_with_own_backward",
                                  "max_pool_reshape_loss", "embedding_loss"])
def test_course_layer_numba_backend(name):
    import sourcediff as sd
    case = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = sd.grad(case["f"], wrt=case["wrt"], backend="numba")(*copy.deepcopy(case["args"]))
    want = _mode_gradients(case["f"], copy.deepcopy(case["args"]), case["wrt"], "reverse")
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)
