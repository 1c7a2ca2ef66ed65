"""The tape against live PyTorch: gradients recorded with create_graph=True (whether they require
grad, their node names, the derivatives through them), the zero-gradient numpy functions, roll,
median and kthvalue, and unbind's outputs after an in-place write into their base."""

import numpy as np
import pytest

from tests.oracles import check_grads_fd

torch = pytest.importorskip("torch")
F = torch.nn.functional

from sourcediff import tape as T  # noqa: E402

# away from every kink (0 for abs, relu, leaky_relu, l1; +-1 for smooth_l1 and huber)
X0 = np.array([[-1.7, 0.6, 2.3], [0.4, -0.3, 1.2]])
W = np.array([[0.3, -1.1, 0.7], [1.9, 0.5, -0.8]])


def _zeros(m, x):
    return m.zeros(2, 3, dtype=x.dtype)


OPS = {
    "abs": lambda m, f, x: x.abs(),
    "relu": lambda m, f, x: m.relu(x),
    "leaky_relu": lambda m, f, x: f.leaky_relu(x, 0.1),
    "l1_loss": lambda m, f, x: f.l1_loss(x, _zeros(m, x)),
    "l1_loss_sum": lambda m, f, x: f.l1_loss(x, _zeros(m, x) + 0.5, reduction="sum"),
    "nll_loss": lambda m, f, x: f.nll_loss(x, m.tensor([0, 2])),
    "abs_scaled": lambda m, f, x: (x * x).abs() * m.tensor([1.0, -1.0, 1.0], dtype=x.dtype),
    "tanh": lambda m, f, x: m.tanh(x),
    "sigmoid": lambda m, f, x: m.sigmoid(x),
    "softmax": lambda m, f, x: m.softmax(x, 1),
    "log_softmax": lambda m, f, x: m.log_softmax(x, 1),
    "cross_entropy": lambda m, f, x: f.cross_entropy(x, m.tensor([1, 0])),
    "elu": lambda m, f, x: f.elu(x),
    "gelu": lambda m, f, x: f.gelu(x),
    "softplus": lambda m, f, x: f.softplus(x),
    "mse_loss": lambda m, f, x: f.mse_loss(x, _zeros(m, x) + 0.25),
    "smooth_l1_loss": lambda m, f, x: f.smooth_l1_loss(x, _zeros(m, x), beta=1.5),
    "huber_loss": lambda m, f, x: f.huber_loss(x, _zeros(m, x), delta=1.5),
    "bce": lambda m, f, x: f.binary_cross_entropy(m.sigmoid(x) * 0.5 + 0.25, _zeros(m, x) + 0.4),
    "relu_sq": lambda m, f, x: m.relu(x) ** 2,
    "abs_times_x": lambda m, f, x: x.abs() * x,
}


def _first(m, f, op, x):
    y = OPS[op](m, f, x)
    grad = torch.autograd.grad if m is torch else T.grad
    (g,) = grad(y.sum() if y.dim() else y, x, create_graph=True)
    return g


def _second(m, g, x):
    grad = torch.autograd.grad if m is torch else T.grad
    (h,) = grad((g * m.tensor(W)).sum(), x)
    return np.array((torch.zeros_like(h) + h).detach().numpy() if m is torch else h.detach())


@pytest.mark.parametrize("op", sorted(OPS))
def test_create_graph_gradient_against_torch(op):
    """The gradient with create_graph=True requires grad where PyTorch's does, under PyTorch's
    node name, and the derivative through it is PyTorch's: abs, relu, leaky_relu, l1_loss and
    nll_loss gave a gradient without grad, and the further derivative raised."""
    xt = torch.tensor(X0, requires_grad=True)
    xs = T.tensor(X0, requires_grad=True)
    gt, gs = _first(torch, F, op, xt), _first(T, T.nn.functional, op, xs)
    np.testing.assert_allclose(gs.detach(), gt.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert gs.requires_grad == gt.requires_grad
    assert type(gs.grad_fn).__name__ == type(gt.grad_fn).__name__
    np.testing.assert_allclose(_second(T, gs, xs), _second(torch, gt, xt), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("op", sorted(OPS))
def test_create_graph_second_derivative_against_finite_differences(op):
    """The tape's Hessian-vector product (the derivative of <W, gradient>) against finite
    differences of the tape's own first derivative."""
    xs = T.tensor(X0, requires_grad=True)
    h = _second(T, _first(T, T.nn.functional, op, xs), xs)

    def wg(x):
        xx = T.tensor(x, requires_grad=True)
        y = OPS[op](T, T.nn.functional, xx)
        (g,) = T.grad(y.sum() if y.dim() else y, xx)
        return float(np.sum(np.asarray(g.detach()) * W))
    check_grads_fd(wg, [X0.copy()], [0], [h])


def test_third_derivative_through_second_order_node():
    """A derivative of the renamed second-order node's gradient (create_graph twice): tanh's
    third derivative, against PyTorch's."""
    out = []
    for m in (torch, T):
        x = m.tensor(X0, requires_grad=True)
        grad = torch.autograd.grad if m is torch else T.grad
        (g,) = grad(m.tanh(x).sum(), x, create_graph=True)
        (h,) = grad(g.sum(), x, create_graph=True)
        (k,) = grad(h.sum(), x)
        out.append(k.detach().numpy() if m is torch else np.array(k.detach()))
    np.testing.assert_allclose(out[1], out[0], rtol=1e-12)


@pytest.mark.parametrize("name,fn", [
    ("sign", np.sign), ("floor", np.floor), ("ceil", np.ceil), ("trunc", np.trunc),
    ("trunc", np.fix), ("round", np.rint), ("round", np.round)])
def test_zero_gradient_numpy_functions_require_grad(name, fn):
    """np.sign(t) and the roundings on a Tensor that requires grad give PyTorch's result: it
    requires grad (SignBackward0, ...) with a zero gradient."""
    xt = torch.tensor(X0 * 1.3, requires_grad=True)
    yt = getattr(torch, name)(xt)
    xs = T.tensor(X0 * 1.3, requires_grad=True)
    ys = fn(xs)
    np.testing.assert_array_equal(ys.detach(), yt.detach().numpy())
    assert ys.requires_grad and type(ys.grad_fn).__name__ == type(yt.grad_fn).__name__
    (gs,) = T.grad((ys * xs).sum(), xs)
    (gt,) = torch.autograd.grad((yt * xt).sum(), xt)
    np.testing.assert_array_equal(gs, gt.numpy())
