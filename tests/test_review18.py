"""Gradients at edge points of the rules (zeros, ties, infinities), checked against PyTorch
where it is installed: each mode of sourcediff (reverse, forward, second order, the tape) must
give PyTorch's value where the true derivative (or PyTorch's choice at a kink) is finite."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.tape import grad_of


def _torch():
    torch = pytest.importorskip("torch")
    return torch


def _torch_grad_and_hessian(ft, x):
    torch = _torch()
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    g = torch.autograd.functional.jacobian(lambda v: ft(torch, v), xt).numpy()
    h = torch.autograd.functional.hessian(lambda v: ft(torch, v), xt).numpy()
    return g, h


def _check_all_modes(f, ft, x, second_order=True):
    g, h = _torch_grad_and_hessian(ft, x)
    np.testing.assert_allclose(sd.grad(f)(x), g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sd.grad(f, mode="forward")(x), g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_of(f, (x,)), g, rtol=1e-10, atol=1e-12)
    if second_order:
        np.testing.assert_allclose(sd.hessian(f)(x), h, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- cumprod through zeros
W4 = np.array([1.0, 2.0, 3.0, 4.0])


def cumprod_1d(x):
    return np.sum(np.cumprod(x) * W4 + np.cumprod(x) ** 2)


def cumprod_rows(x):
    return np.sum(np.cumprod(x, axis=1) * W4[:3] + np.cumprod(x, axis=0) ** 2)


def cumprod_flat(x):
    return np.sum(np.cumprod(x) * np.arange(1.0, 7.0))


@pytest.mark.parametrize("x", [[2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 3.0, 1.5], [1.5, -2.0, 3.0, 0.0],
                               [1.5, -2.0, 3.0, 0.5]])
def test_cumprod_through_zeros_matches_torch(x):
    # was: nan at the first zero (and after it where another zero follows) in every mode:
    # [2, 0, 3, 4] gave [1, nan, 0, 0] where PyTorch gives [1, 118, 0, 0]; forward mode all nan
    def ft(torch, v):
        c = torch.cumprod(v, 0)
        return torch.sum(c * torch.tensor(W4) + c ** 2)
    _check_all_modes(cumprod_1d, ft, np.array(x))


def test_cumprod_axis_and_flattened_through_zeros_match_torch():
    x = np.array([[2.0, 0.0, 3.0], [0.0, 1.5, 4.0]])

    def ft(torch, v):
        return torch.sum(torch.cumprod(v, 1) * torch.tensor(W4[:3]) + torch.cumprod(v, 0) ** 2)
    _check_all_modes(cumprod_rows, ft, x)

    def ft_flat(torch, v):
        return torch.sum(torch.cumprod(v.reshape(-1), 0) * torch.arange(1.0, 7.0))
    _check_all_modes(cumprod_flat, ft_flat, np.array([[2.0, 1.5, 3.0], [0.0, 1.5, 4.0]]))


# ---------------------------------------------------------------- matrix 2-norm at tied singular values
def norm2(x):
    return np.linalg.norm(x, 2)


def norm_minus2(x):
    return np.linalg.norm(x, -2)


def norm2_axes(x):
    return np.sum(np.linalg.norm(x, 2, axis=(1, 2)))


@pytest.mark.parametrize("x", [np.eye(2), np.diag([3.0, 3.0, 1.0]), np.diag([3.0, 1.0, 1.0]),
                               np.array([[0.0, 2.0], [2.0, 0.0]])])
def test_matrix_two_norm_splits_tied_singular_values_as_torch(x):
    # was: the first singular pair took it all: norm(eye(2), 2) gave [[1, 0], [0, 0]] where
    # PyTorch and JAX (amax of the singular values) give [[0.5, 0], [0, 0.5]]
    torch = _torch()
    for f, o in ((norm2, 2), (norm_minus2, -2)):
        xt = torch.tensor(x, requires_grad=True)
        want = torch.autograd.grad(torch.linalg.matrix_norm(xt, o), xt)[0].numpy()
        np.testing.assert_allclose(sd.grad(f)(x), want, atol=1e-12)
        np.testing.assert_allclose(sd.grad(f, mode="forward")(x), want, atol=1e-12)
        np.testing.assert_allclose(grad_of(f, (x,)), want, atol=1e-12)
    xs = np.stack([x, 2 * x])
    xt = torch.tensor(xs, requires_grad=True)
    want = torch.autograd.grad(torch.linalg.matrix_norm(xt, 2).sum(), xt)[0].numpy()
    np.testing.assert_allclose(sd.grad(norm2_axes)(xs), want, atol=1e-12)
