"""np.lib.stride_tricks.sliding_window_view (a convolution as people write it with numpy) and
np.bincount with weights (segment sums), in every mode and on the tape; both were refused as
having no rule."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.tape import grad_of, tensor

from .oracles import check_grads_fd

sliding_window_view = np.lib.stride_tricks.sliding_window_view


def conv(x, k):
    windows = sliding_window_view(x, k.shape)
    y = np.einsum("ijkl,kl->ij", windows, k)
    return np.sum(np.maximum(y, 0.0) ** 2)


def segment_sums(values, segments):
    return np.sum(np.bincount(segments, weights=values, minlength=5) ** 2)


rng = np.random.default_rng(3)
X, K = rng.standard_normal((6, 5)), rng.standard_normal((3, 2))
V, SEG = rng.standard_normal(7), np.array([0, 2, 2, 1, 0, 3, 2])


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_convolution_through_sliding_windows(mode):
    g = sd.grad(conv, wrt=(0, 1), mode=mode)(X, K)
    check_grads_fd(conv, (X, K), (0, 1), g)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_segment_sums_through_bincount_weights(mode):
    g = sd.grad(segment_sums, mode=mode)(V, SEG)
    check_grads_fd(segment_sums, (V, SEG), (0,), (g,))


def test_on_the_tape():
    np.testing.assert_allclose(grad_of(conv, (X, K), wrt=1), sd.grad(conv, wrt=1)(X, K))
    # (the weights, passed by keyword, are a Tensor: the tape moves it to its position)
    np.testing.assert_allclose(grad_of(segment_sums, (V, SEG)), sd.grad(segment_sums)(V, SEG))


def test_a_keyword_tensor_after_a_parameter_not_given_takes_numpys_default():
    # refused before ("pass it positionally"); review38 fills numpy's default (axis=None) in
    w = tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    a = np.arange(3.0)
    out = np.average(a, weights=w)
    out.backward()
    np.testing.assert_allclose(float(out.detach().numpy()), np.average(a, weights=[1.0, 2.0, 3.0]))
    np.testing.assert_allclose(w.grad.numpy(), (a - np.average(a, weights=[1.0, 2.0, 3.0])) / 6.0)
