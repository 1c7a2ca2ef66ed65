"""Window views written by hand with ``np.lib.stride_tricks.as_strided``, as "CNN from scratch"
code builds im2col: the strides read from the array (``x.strides``), the view's gradient adding
each element's gradient back at every place the view read it.

Both were refused: ``x.strides`` of an array carrying a derivative had no rule (it is metadata,
like ``x.shape``), and ``as_strided`` had none. Oracle: central finite differences (and the
hessian against differences of the gradient)."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import SourcediffError
from tests.oracles import check_grads_fd


def im2col_conv(image, kernel):
    kh, kw = kernel.shape
    h, w = image.shape
    sh, sw = image.strides
    windows = np.lib.stride_tricks.as_strided(
        image, shape=(h - kh + 1, w - kw + 1, kh, kw), strides=(sh, sw, sh, sw))
    out = np.einsum("ijkl,kl->ij", windows, kernel)
    return np.sum(np.tanh(out) ** 2)


def strided_pairs(x, k):
    n = x.shape[0] - 1
    pairs = np.lib.stride_tricks.as_strided(x, shape=(n, 2), strides=(x.strides[0],) * 2)
    return np.sum(np.sin(pairs @ k) * pairs[:, 0])


def strided_of_a_column_view(x, k):
    col = x[:, 1]  # (not contiguous: as_strided would read x's memory around it)
    v = np.lib.stride_tricks.as_strided(col, shape=(2, 2), strides=(8, 8))
    return np.sum(v * k)


@pytest.mark.parametrize("fn, args", [
    (im2col_conv, (np.linspace(-1.0, 1.0, 30).reshape(5, 6) ** 3, np.array([[0.3, -0.2, 0.5],
                                                                             [0.1, 0.4, -0.6]]))),
    (strided_pairs, (np.array([0.3, -1.2, 0.5, 2.0, -0.7]), np.array([0.7, -0.4]))),
], ids=["im2col", "pairs"])
def test_an_as_strided_view_has_the_finite_difference_gradient(fn, args):
    kept = [a.copy() for a in args]
    grads = sd.grad(fn, wrt=(0, 1))(*args)
    check_grads_fd(fn, args, (0, 1), grads)
    for a, k in zip(args, kept):
        np.testing.assert_array_equal(a, k)
    t = np.ones_like(args[0])
    assert sd.jvp(fn, args, (t, np.zeros_like(args[1])))[1] == pytest.approx(
        float(np.sum(grads[0] * t)), rel=1e-10)
    g = sd.grad(fn)
    x0, eps = args[0], 1e-5
    cols = [((g(x0 + eps * e.reshape(x0.shape), args[1]) -
              g(x0 - eps * e.reshape(x0.shape), args[1])) / (2 * eps)).ravel()
            for e in np.eye(x0.size)]
    np.testing.assert_allclose(sd.hessian(fn)(*args).reshape(x0.size, x0.size),
                               np.array(cols).T, rtol=1e-5, atol=1e-7)


def test_a_view_that_is_not_made_of_the_arrays_elements_is_refused():
    x = np.arange(12.0).reshape(4, 3)
    with pytest.raises(SourcediffError, match="C-contiguous"):
        sd.grad(strided_of_a_column_view)(x, np.ones((2, 2)))
