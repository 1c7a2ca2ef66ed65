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


def _selection_cases(n):
    """Random small arrays full of ties (values 0, 1, 2), some with a nan, and a dim."""
    rng = np.random.default_rng(75)
    for _ in range(n):
        shape = tuple(int(s) for s in rng.integers(1, 6, int(rng.integers(1, 4))))
        v = rng.integers(0, 3, shape).astype(float)
        if rng.random() < 0.25:
            v.flat[rng.integers(0, v.size)] = np.nan
        d = int(rng.integers(-len(shape), len(shape)))
        yield v, d, int(rng.integers(1, shape[d] + 1)), bool(rng.integers(0, 2)), rng


@pytest.mark.parametrize("name", ["kthvalue", "median_dim", "median"])
def test_selections_against_torch_with_ties_and_nans(name):
    """median (with and without dim) and kthvalue: values, the index PyTorch picks among
    tied entries (the gradient goes there alone; median() shares it among the ties), node
    names and gradients, on 300 random arrays full of ties."""
    for v, d, k, keepdim, rng in _selection_cases(300):
        args = {"kthvalue": (k, d, keepdim), "median_dim": (d, keepdim), "median": ()}[name]
        method = name.split("_")[0]
        xt = torch.tensor(v, requires_grad=True)
        xs = T.tensor(v, requires_grad=True)
        rt, rs = getattr(xt, method)(*args), getattr(xs, method)(*args)
        if args:
            assert type(rs).__name__ == type(rt).__name__ == method
            np.testing.assert_array_equal(rs.indices, rt.indices.numpy())
            rt, rs = rt.values, rs.values
        np.testing.assert_array_equal(rs.detach(), rt.detach().numpy())
        assert type(rs.grad_fn).__name__ == type(rt.grad_fn).__name__
        w = rng.standard_normal(tuple(rt.shape))
        (rt * torch.tensor(w)).sum().backward()
        (rs * T.tensor(w)).sum().backward()
        np.testing.assert_allclose(xs.grad, xt.grad.numpy(), rtol=1e-14)


def test_selection_functions_and_errors():
    x0 = np.array([[3.0, 1.0, 2.0, 1.0], [2.0, 2.0, 5.0, 2.0]])
    xt, xs = torch.tensor(x0), T.tensor(x0)
    np.testing.assert_array_equal(T.median(xs, 1, True).indices,
                                  torch.median(xt, 1, True).indices.numpy())
    np.testing.assert_array_equal(T.kthvalue(xs, 2, 0).indices, torch.kthvalue(xt, 2, 0).indices)
    assert float(T.median(T.tensor(3.0))) == 3.0
    with pytest.raises(T.TapeError, match="selected number k out of range for dimension 1"):
        xs.kthvalue(5)
    with pytest.raises(T.TapeError, match="Expected reduction dim 0 to have non-zero size"):
        T.tensor(np.zeros(0)).median(0)


@pytest.mark.parametrize("shifts,dims", [(1, None), (2, 1), ((1, -1), (0, 1)), (-5, None)])
def test_roll_against_torch(shifts, dims):
    x0 = np.arange(12.0).reshape(3, 4) ** 1.5
    w = np.cos(np.arange(12.0)).reshape(3, 4)
    xt = torch.tensor(x0, requires_grad=True)
    xs = T.tensor(x0, requires_grad=True)
    yt = xt.roll(shifts) if dims is None else xt.roll(shifts, dims)
    ys = xs.roll(shifts) if dims is None else T.roll(xs, shifts, dims)
    np.testing.assert_array_equal(ys.detach(), yt.detach().numpy())
    assert type(ys.grad_fn).__name__ == type(yt.grad_fn).__name__ == "RollBackward0"
    (yt * torch.tensor(w)).sum().backward()
    (ys * T.tensor(w)).sum().backward()
    np.testing.assert_array_equal(xs.grad, xt.grad.numpy())


def test_selection_second_order_against_torch():
    """median and kthvalue under create_graph: the gradient of (selected value)**3 and its
    derivative, against PyTorch's."""
    x0 = np.array([[0.3, -1.2, 0.8, 2.0], [1.5, 0.1, -0.4, 0.9]])
    out = []
    for m in (torch, T):
        x = m.tensor(x0, requires_grad=True)
        grad = torch.autograd.grad if m is torch else T.grad
        y = (x.median(1).values ** 3).sum() + (x.kthvalue(3, 1).values ** 3).sum() + \
            x.median() ** 3
        (g,) = grad(y, x, create_graph=True)
        (h,) = grad((g * m.tensor(W[:, :1].repeat(4, 1))).sum(), x)
        out.append([np.array(g.detach()) if m is T else g.detach().numpy(),
                    np.array(h) if m is T else h.numpy()])
    np.testing.assert_allclose(out[1][0], out[0][0], rtol=1e-12)
    np.testing.assert_allclose(out[1][1], out[0][1], rtol=1e-12)


def _multi(m, b, how):
    return {"unbind": lambda: b.unbind(0), "split": lambda: b.split(1, 1),
            "chunk": lambda: b.chunk(2, 0)}[how]()


def _write(m, b, how):
    if how == "mul_":
        b.mul_(2)
    elif how == "setitem":
        b[0, 0] = 5.0
    else:
        with (torch.no_grad() if m is torch else T.no_grad()):
            b.add_(1.0)


@pytest.mark.parametrize("views", ["unbind", "split", "chunk"])
@pytest.mark.parametrize("write", ["mul_", "setitem", "no_grad_add_"])
def test_multi_view_output_after_base_written(views, write):
    """An output of unbind/split/chunk after an in-place write into its base: requires_grad
    reads True and the repr shows grad_fn=<Invalid>, as PyTorch's (reading requires_grad
    raised); grad_fn, is_leaf and backward raise PyTorch's error."""
    got = []
    for m in (torch, T):
        x = m.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        b = x * 1
        u = _multi(m, b, views)
        _write(m, b, write)
        got.append((u[0].requires_grad, repr(u[0]).split("grad_fn=")[1], u[0]._version))
        for read in (lambda: u[0].grad_fn, lambda: u[0].is_leaf,
                     lambda: u[0].sum().backward()):
            with pytest.raises(RuntimeError, match="function that returns multiple views"):
                read()
    assert got[1] == got[0]


LINEAR = ["x.mean(0)", "x.sum(1, keepdim=True)", "x.sum()", "x.unsqueeze(0).squeeze(0)",
          "x[None].expand(2, 3, 4)", "x[:1].expand(3, 4)", "x.T", "x.gather(1, idx)",
          "x.split(2, 1)[0]", "x.unbind(0)[1]", "x.view(4, 3)", "x.flip(0)", "x.roll(1, 0)",
          "x.cumsum(1)", "x[1]", "x[..., ::2]", "x.reshape(2, 6)[1]", "x.permute(1, 0)",
          "x.neg()", "x.trace()", "x[[0, 2]]", "x.transpose(0, 1)", "x @ w", "w.T @ x.T"]


@pytest.mark.parametrize("expr", LINEAR)
def test_second_order_names_of_linear_ops_against_torch(expr):
    """The gradient's node through a linear operation under create_graph=True has PyTorch's
    name (SliceBackwardBackward0, ExpandBackward0 for a sum's, MmBackward0 for a product's;
    the tape gave SliceBackward0Backward, SumBackward0Backward, matmul_grad_right), and the
    derivative through it is PyTorch's."""
    x0 = np.linspace(-1.0, 2.0, 12).reshape(3, 4)
    w0 = np.cos(np.arange(16.0)).reshape(4, 4)
    got = []
    for m in (torch, T):
        x = m.tensor(x0, requires_grad=True)
        w = m.tensor(w0)
        idx = m.tensor(np.array([[0, 1], [2, 3], [1, 1]]))
        y = eval(expr, {"x": x, "w": w, "idx": idx})
        grad = torch.autograd.grad if m is torch else T.grad
        (g,) = grad((y ** 3).sum(), x, create_graph=True)
        (h,) = grad((g * g).sum(), x)
        got.append((type(g.grad_fn).__name__, h.numpy() if m is torch else np.array(h)))
    assert got[1][0] == got[0][0]
    np.testing.assert_allclose(got[1][1], got[0][1], rtol=1e-12)
