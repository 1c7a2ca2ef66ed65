"""Tape mode behaviour: graph, messages, accumulation, hooks, grad modes, versions, numpy dispatch."""

import shutil
import warnings

import numpy as np
import pytest

import sourcediff
from sourcediff import tape as T
from sourcediff.tape import grad_of


def fd_grad(f, x, eps=1e-6):
    """Central finite differences of a scalar numpy function at a float64 array."""
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


def tape_grad(f, x):
    t = T.tensor(x, dtype=T.float64, requires_grad=True)
    f(t).backward()
    return t.grad.numpy()


def names_walk(fn):
    if fn is None:
        return None
    return (fn.name(), tuple(names_walk(f) for f, _ in fn.next_functions))


# ---------------------------------------------------------------- the seed tour


def seed():
    x1 = T.ones(2, 2, requires_grad=True)
    x2 = T.tensor(1.1, requires_grad=True)
    y = x1 * (x2 + 2)
    y.retain_grad()
    z = y.pow(2) * 3
    z.retain_grad()
    out = z.mean()
    return x1, x2, y, z, out


def test_seed_tour_values_and_shapes():
    x1, x2, y, z, out = seed()
    out.backward()
    np.testing.assert_allclose(z.grad.numpy(), np.full((2, 2), 0.25), rtol=1e-6)
    np.testing.assert_allclose(y.grad.numpy(), np.full((2, 2), 4.65), rtol=1e-6)
    np.testing.assert_allclose(x2.grad.numpy(), 18.6, rtol=1e-6)
    np.testing.assert_allclose(x1.grad.numpy(), np.full((2, 2), 14.415), rtol=1e-6)
    assert x2.grad.shape == () and x1.grad.shape == (2, 2)
    assert repr(x2.grad) == "tensor(18.6000)"


def test_seed_tour_grad_fn_chain():
    *_, out = seed()
    assert names_walk(out.grad_fn) == (
        "MeanBackward0", ((
            "MulBackward0", ((
                "PowBackward0", ((
                    "MulBackward0", (
                        ("AccumulateGrad", ()),
                        ("AddBackward0", (("AccumulateGrad", ()), None)),
                    )),)),
                None)),))
    assert out.grad_fn.next_functions[0][1] == 0
    assert repr(out.grad_fn).startswith("<MeanBackward0 object at 0x")
    assert type(out.grad_fn).__name__ == "MeanBackward0"
    assert isinstance(out.grad_fn, T.Node)


def test_seed_tour_variant_with_shape_1():
    x1 = T.ones(2, 2, requires_grad=True)
    x2 = T.tensor([1.1], requires_grad=True)
    (((x1 * (x2 + 2)) ** 2) * 3).mean().backward()
    assert repr(x2.grad) == "tensor([18.6000])"


def test_accumulate_grad_node():
    x = T.ones(2, requires_grad=True)
    y = x * 2
    acc = y.grad_fn.next_functions[0][0]
    assert acc.name() == "AccumulateGrad" and acc.variable is x and acc.next_functions == ()
    assert y.grad_fn.next_functions[1] == (None, 0)
    assert (x * 3).grad_fn.next_functions[0][0] is acc  # one sink per leaf


# ---------------------------------------------------------------- tensors


def test_factories_dtypes_and_attributes():
    assert T.tensor([1.0, 2.0]).dtype == np.float32
    assert T.tensor([1, 2]).dtype == np.int64
    assert T.tensor(np.array([1.0])).dtype == np.float64
    assert T.tensor([1.0], dtype=T.float64).dtype == np.float64
    assert T.ones(2, 3).shape == (2, 3) and T.zeros((2, 3)).shape == (2, 3)
    assert T.randn(3, 4).dtype == np.float32 and T.rand(2).dtype == np.float32
    assert T.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert T.arange(3).tolist() == [0, 1, 2] and T.arange(3).dtype == np.int64
    assert T.arange(0.0, 1.0, 0.5).dtype == np.float32
    x = T.randn(2, 3)
    assert T.ones_like(x).shape == (2, 3) and T.zeros_like(x).dtype == np.float32
    assert T.randn_like(x).shape == (2, 3) and T.rand_like(x).shape == (2, 3)
    a = np.arange(3.0)
    f = T.from_numpy(a)
    a[0] = 7.0
    assert f.tolist()[0] == 7.0  # shared memory
    t = T.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert t.ndim == 2 and t.size() == (2, 2) and t.size(1) == 2 and t.numel() == 4
    assert repr(t.size()) == "torch.Size([2, 2])"
    assert t.T.shape == (2, 2) and t.T.grad_fn.name() == "PermuteBackward0"
    assert t.is_leaf and t.requires_grad and t.grad_fn is None and t.grad is None
    assert T.tensor(2.5).item() == 2.5 and isinstance(T.tensor(3).item(), int)
    assert t.detach().numpy().shape == (2, 2)


def test_requires_grad_rules_and_messages():
    a = T.ones(2, requires_grad=True)
    b = T.ones(2)
    assert (a + b).requires_grad and not (a + b).is_leaf
    assert not (b * 2).requires_grad and (b * 2).is_leaf
    d = a.detach()
    assert not d.requires_grad and d.is_leaf
    assert a.clone().grad_fn.name() == "CloneBackward0"
    assert a.detach().requires_grad_().requires_grad
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        (a * 2).requires_grad_(False)
    (a * 2).requires_grad_(True)  # no-op
    with pytest.raises(RuntimeError, match="^Only Tensors of floating point and complex dtype"):
        T.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="^only Tensors of floating point dtype can require"):
        T.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        a.numpy()
    with pytest.raises(sourcediff.SourcediffError):
        a.numpy()
    m = T.tensor([1.0, 2.0], requires_grad=True) * T.tensor([1, 2])
    assert m.dtype == np.float32 and m.grad_fn.name() == "MulBackward0"


def test_detach_shares_storage():
    a = T.tensor([1.0, 2.0], requires_grad=True)
    d = a.detach()
    d.add_(1)
    assert a.tolist() == [2.0, 3.0]
    y = a * 2
    y.detach_()
    assert y.is_leaf and not y.requires_grad


def test_item_float_warning_and_format():
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert f"{x.sum()}" == "6.0"
    assert f"{(x * 2).sum().item():.4f}" == "12.0000"


def test_repr_formats_from_reference():
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert repr(x) == str(x) == "tensor([1., 2., 3.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 4., 6.], grad_fn=<MulBackward0>)"
    assert repr((x * 2).sum()) == "tensor(12., grad_fn=<SumBackward0>)"
    assert repr(x[0]) == "tensor(1., grad_fn=<SelectBackward0>)"
    assert repr(T.tensor(1.1, requires_grad=True)) == "tensor(1.1000, requires_grad=True)"
    assert repr(T.ones(2, 2, requires_grad=True)) == (
        "tensor([[1., 1.],\n        [1., 1.]], requires_grad=True)")
    assert repr(T.ones(2, 2, requires_grad=True) + 1) == (
        "tensor([[2., 2.],\n        [2., 2.]], grad_fn=<AddBackward0>)")
    f64 = T.tensor([1.0, 2.0], dtype=T.float64, requires_grad=True)
    assert repr(f64) == "tensor([1., 2.], dtype=torch.float64, requires_grad=True)"
    assert repr(f64 * 2) == "tensor([2., 4.], dtype=torch.float64, grad_fn=<MulBackward0>)"
    assert repr(T.zeros(0, requires_grad=True)) == "tensor([], requires_grad=True)"
    big = T.tensor([1.23456789, 100.5], requires_grad=True) * 1
    assert repr(big) == "tensor([  1.2346, 100.5000], grad_fn=<MulBackward0>)"
    sci = T.tensor([1e6, 2.0], requires_grad=True) * 1
    assert repr(sci) == "tensor([1.0000e+06, 2.0000e+00], grad_fn=<MulBackward0>)"
    assert repr(x.view(3, 1)) == (
        "tensor([[1.],\n        [2.],\n        [3.]], grad_fn=<ViewBackward0>)")
    (x * 2).sum().backward()
    assert repr(x.grad) == "tensor([2., 2., 2.])"


# ---------------------------------------------------------------- backward


def test_backward_messages():
    x = T.ones(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="^grad can be implicitly created only for scalar"):
        (x * 2).backward()
    one = T.tensor([1.0], requires_grad=True)
    (one * 2).backward()
    assert one.grad.tolist() == [2.0]
    y = T.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"^Mismatch in shape: grad_output\[0\] has a shape of "
                                           r"torch.Size\(\[3\]\) and output\[0\] has a shape of "
                                           r"torch.Size\(\[2\]\)\.$"):
        y.backward(T.ones(3))
    with pytest.raises(TypeError, match="'float' object is not iterable"):
        (x ** 2).backward(5.0)
    with pytest.raises(RuntimeError, match="^element 0 of tensors does not require grad and "
                                           "does not have a grad_fn$"):
        T.ones(2, 2).sum().backward()
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        x.sum().detach().backward()
    with T.no_grad():
        s = x.sum()
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        s.backward()


def test_second_backward_error_and_retain_graph():
    msg = "^Trying to backward through the graph a second time"
    for make in (lambda x: (x * x).sum(), lambda x: (x * 2).sum(), lambda x: x.exp().sum()):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        y = make(x)
        y.backward()
        with pytest.raises(RuntimeError, match=msg):
            y.backward()
    for make in (lambda x: x.sum(), lambda x: (x + 2).sum(), lambda x: x.mean()):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        y = make(x)
        y.backward()
        y.backward()  # nothing saved: works and accumulates
        assert x.grad.tolist() == [2 * v for v in T.ones(2).tolist()] or x.mean
    x = T.tensor([1.0, 1.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 4.0]
    p = T.tensor(2.0, requires_grad=True)
    q = p * p
    r1, r2 = q * 3, q * 4
    r1.backward(retain_graph=True)
    r2.backward()
    assert p.grad.item() == 28.0


def test_accumulation_in_place_and_zeroing():
    x = T.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    g = x.grad
    assert g.tolist() == [3.0, 3.0]
    (x * 3).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    (x * x).sum().backward()
    assert x.grad.tolist() == [8.0, 10.0] and x.grad is g
    x.grad.zero_()
    (x * 3).sum().backward()
    assert x.grad is g and x.grad.tolist() == [3.0, 3.0]
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad is not g and x.grad.tolist() == [3.0, 3.0]
    assert not x.grad.requires_grad and x.grad.is_leaf and x.grad.grad_fn is None
    x.grad = T.tensor([10.0, 20.0])
    (x * 3).sum().backward()
    assert x.grad.tolist() == [13.0, 23.0]
    with pytest.raises(RuntimeError, match=r"attempting to assign a gradient of size '\[3\]' to a "
                                           r"tensor of size '\[2\]'"):
        x.grad = T.zeros(3)
    with pytest.raises(RuntimeError, match="attempting to assign a gradient with dtype 'double' "
                                           "to a tensor with grad_dtype 'Float'"):
        x.grad = T.zeros(2, dtype=T.float64)
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None but got "
                                        "grad of type list"):
        x.grad = [1, 2]
    u = T.tensor(3.0, requires_grad=True)
    (u * u + u).backward()
    assert u.grad.item() == 7.0
    d = T.ones(2, 3, dtype=T.float64, requires_grad=True)
    (d * 2).sum().backward()
    assert d.grad.dtype == np.float64 and d.grad.shape == (2, 3)


def test_backward_gradient_argument_and_leaf_backward():
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.backward(gradient=T.tensor([1.0, 0.1, 0.01]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.4, 0.06], rtol=1e-6)
    x2 = T.tensor(2.0, requires_grad=True)
    (x2 ** 2).backward(T.tensor(5.0, dtype=T.float64))
    assert x2.grad.item() == 20.0 and x2.grad.dtype == np.float32
    leaf = T.tensor(3.0, requires_grad=True)
    leaf.backward()
    assert leaf.grad.item() == 1.0
    z = T.tensor([1.0, 2.0], requires_grad=True)
    T.backward([(z * 2).sum(), (z * 3).sum()])
    assert z.grad.tolist() == [5.0, 5.0]


def test_backward_inputs_and_unused_leaf():
    a = T.tensor([1.0, 2.0], requires_grad=True)
    b = T.tensor([3.0, 4.0], requires_grad=True)
    c = T.tensor([5.0], requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    assert a.grad.tolist() == [3.0, 4.0] and b.grad is None and c.grad is None


def test_nonleaf_grad_warning_every_access():
    x = T.ones(2, requires_grad=True)
    z = x * 3
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert z.grad is None
        assert z.grad is None
    assert len(w) == 2 and w[0].category is UserWarning
    assert str(w[0].message).startswith("The .grad attribute of a Tensor that is not a leaf")
    assert str(w[0].message).endswith("for more information.")
    z2 = x * 3
    z2.retain_grad()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert z2.grad is None
    assert not w and z2.retains_grad
    x.retain_grad()
    assert not x.retains_grad
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has "
                                           "requires_grad=False"):
        T.ones(2).retain_grad()


# ---------------------------------------------------------------- T.grad and higher order


def test_autograd_grad_and_higher_order():
    x = T.tensor(2.0, requires_grad=True)
    y = x ** 3
    (g1,) = T.grad(y, x, create_graph=True)
    assert g1.item() == 12.0 and g1.requires_grad and g1.grad_fn is not None
    (g2,) = T.grad(g1, x, create_graph=True)
    assert g2.item() == 12.0
    (g3,) = T.grad(g2, x)
    assert g3.item() == 6.0 and not g3.requires_grad
    assert x.grad is None
    (h,) = T.grad(x ** 3, x)
    assert not h.requires_grad
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        T.grad(h, x)
    a = T.tensor([1.0, 2.0], requires_grad=True)
    b = T.tensor([3.0, 4.0], requires_grad=True)
    ga, gb = T.grad((a * b).sum(), (a, b))
    assert ga.tolist() == [3.0, 4.0] and gb.tolist() == [1.0, 2.0]
    (gg,) = T.grad(a * b, a, grad_outputs=T.ones(2))
    assert gg.tolist() == [3.0, 4.0]
    (gs,) = T.grad([(2 * a).sum(), (3 * a).sum()], [a])
    assert gs.tolist() == [5.0, 5.0]
    u = T.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="^The differentiated Tensor at index 0 appears to not "
                                           "have been used in the graph. Set allow_unused=True"):
        T.grad((a * 2).sum(), u)
    assert T.grad((a * 2).sum(), u, allow_unused=True) == (None,)
    assert T.autograd.grad is T.grad


def test_backward_create_graph_warns_and_second_derivative():
    x = T.tensor(2.0, requires_grad=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        (x ** 3).backward(create_graph=True)
    assert str(w[0].message).startswith("Using backward() with create_graph=True")
    assert x.grad.item() == 12.0 and x.grad.requires_grad
    g = x.grad
    x.grad = None
    g.backward()
    assert x.grad.item() == 12.0


@pytest.mark.parametrize("f", [
    lambda x: np.sum(np.sin(x) * np.exp(x)),
    lambda x: np.sum(np.tanh(x) ** 3),
    lambda x: np.sum(np.log(x * x + 1.0) / (x * x + 2.0)),
    lambda x: np.mean(np.maximum(x, 0.1) ** 2),
    lambda x: np.sum(np.sqrt(x * x + 1.0) * np.cos(x)),
    lambda x: np.sum(x @ x.T),
])
def test_hessian_vector_product_vs_finite_differences(f):
    x0 = np.array([[0.3, -0.7], [1.2, 0.5]])
    v = np.array([[1.0, -0.5], [0.25, 2.0]])

    def gv(xa):
        t = T.tensor(xa, requires_grad=True)
        (g,) = T.grad(f(t), t)
        return float(np.sum(g.numpy() * v))

    hv_fd = fd_grad(gv, x0, eps=1e-5)
    x = T.tensor(x0, requires_grad=True)
    (g,) = T.grad(f(x), x, create_graph=True)
    (hv,) = T.grad((g * T.tensor(v)).sum(), x)
    np.testing.assert_allclose(hv.numpy(), hv_fd, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- hooks


def test_hooks_receive_replace_and_modify():
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    (y * y).sum().backward()
    assert seen == [[4.0, 8.0, 12.0]] and x.grad.tolist() == [8.0, 16.0, 24.0]
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    h = y.register_hook(lambda g: g * 10)
    (y * y).sum().backward()
    assert x.grad.tolist() == [80.0, 160.0, 240.0]
    h.remove()
    x.grad = None
    y = x * 2
    (y * y).sum().backward()
    assert x.grad.tolist() == [8.0, 16.0, 24.0]
    leaf = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    order = []
    leaf.register_hook(lambda g: order.append("print"))
    leaf.register_hook(lambda g: g + 100)
    (leaf * leaf).sum().backward()
    assert leaf.grad.tolist() == [102.0, 104.0, 106.0]
    (leaf * leaf).sum().backward()
    assert order == ["print", "print"]  # once per backward
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g.mul_(3))
    (y * y).sum().backward()
    assert x.grad.tolist() == [24.0, 48.0]


def test_hook_errors_and_interplay_with_retain_grad():
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: T.ones(3))
    with pytest.raises(RuntimeError, match="^hook '<lambda>' has changed the size of value$"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't "
                                           "require gradient"):
        T.ones(2).register_hook(print)
    for first in (True, False):
        x = T.tensor(1.0, requires_grad=True)
        y = x * 2
        if first:
            y.retain_grad()
        y.register_hook(lambda g: g * 10)
        if not first:
            y.retain_grad()
        y.backward()
        assert y.grad.item() == 10.0 and x.grad.item() == 20.0
    x = T.tensor([1.0, 1.0], requires_grad=True)
    y = x * 1
    calls = []
    y.register_hook(lambda g: calls.append(g.tolist()))
    (y + y * 3).sum().backward()
    assert calls == [[4.0, 4.0]]
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y.register_hook(lambda g: g.mul_(3))
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        y.sum().backward()


# ---------------------------------------------------------------- grad modes


def test_no_grad_enable_grad_set_grad_enabled():
    a = T.ones(2, requires_grad=True)
    assert T.is_grad_enabled()
    with T.no_grad():
        assert not T.is_grad_enabled()
        b = a * 2
        assert not b.requires_grad and b.grad_fn is None
        with T.enable_grad():
            assert (a * 2).grad_fn.name() == "MulBackward0"
        assert T.ones(2, requires_grad=True).requires_grad
    assert T.is_grad_enabled()

    @T.no_grad()
    def f(x):
        return x * 2

    @T.no_grad
    def g(x):
        return x * 2

    @T.enable_grad()
    def h(x):
        return x * 2

    assert not f(a).requires_grad and not g(a).requires_grad
    with T.no_grad():
        assert h(a).requires_grad
    T.set_grad_enabled(False)
    assert not (a * 2).requires_grad
    T.set_grad_enabled(True)
    with T.set_grad_enabled(False):
        assert not (a * 2).requires_grad
    assert T.is_grad_enabled()

    @T.set_grad_enabled(False)
    def k(x):
        return x * 2

    assert T.is_grad_enabled() and not k(a).requires_grad
    y = (a * a).sum()
    with T.no_grad():
        y.backward()
    assert a.grad.tolist() == [2.0, 2.0]


# ---------------------------------------------------------------- in place and versions


def test_inplace_on_leaf_errors_and_no_grad_update():
    msg = "^a leaf Variable that requires grad is being used in an in-place operation.$"
    w = T.tensor([1.0, 2.0], requires_grad=True)
    for op in (lambda: w.sub_(1.0), lambda: w.zero_(), lambda: w.add_(1.0), lambda: w.mul_(2)):
        with pytest.raises(RuntimeError, match=msg):
            op()
    with pytest.raises(RuntimeError, match=msg):
        w -= 1.0
    with pytest.raises(RuntimeError, match="^a view of a leaf Variable that requires grad"):
        w[0] = 5.0
    with pytest.raises(RuntimeError, match="^a view of a leaf Variable that requires grad"):
        w[0].add_(1)
    (w * w).sum().backward()
    g = w.grad
    ref = w
    with T.no_grad():
        w -= 0.5 * w.grad
        w.grad.zero_()
    assert w is ref and w.is_leaf and w.requires_grad and w.grad_fn is None
    assert w.tolist() == [0.0, 0.0] and w._version == 1 and w.grad is g
    with T.no_grad():
        w2 = w - 1.0
    assert not w2.requires_grad and w2.is_leaf


def test_inplace_on_nonleaf_replaces_grad_fn_and_counts_versions():
    a = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    t = a * 1
    assert t._version == 0
    t.add_(1)
    assert t._version == 1 and t.grad_fn.name() == "AddBackward0"
    assert t.grad_fn.next_functions[0][0].name() == "MulBackward0"
    t.mul_(2)
    assert t._version == 2
    assert repr(t) == "tensor([4., 6., 8.], grad_fn=<MulBackward0>)"
    (t * t).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * 2 * (2 * (np.array([1, 2, 3.0]) + 1)))
    z = T.zeros(2, 3)
    b = T.ones(2, 3, requires_grad=True)
    z.add_(b)
    assert z.requires_grad and names_walk(z.grad_fn) == ("AddBackward0", (None,
                                                                          ("AccumulateGrad", ())))


def test_version_counter_errors():
    a = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = a.exp()
    b.add_(1)
    with pytest.raises(RuntimeError) as e:
        b.sum().backward()
    assert str(e.value) == (
        "one of the variables needed for gradient computation has been modified by an inplace "
        "operation: [torch.FloatTensor [3]], which is output 0 of Exp, is at version 1; expected "
        "version 0 instead. Hint: enable anomaly detection to find the operation that failed to "
        "compute its gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).")
    a = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = a * 1
    c = b * b
    b.add_(1)
    with pytest.raises(RuntimeError, match=r"\[torch.FloatTensor \[3\]\], which is output 0 of "
                                           r"Add, is at version 1; expected version 0"):
        c.sum().backward()
    for make, op in ((lambda x: x.sigmoid(), "Sigmoid"), (lambda x: (x * 1).relu(), "Relu")):
        a = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = make(a)
        b.mul_(2)
        with pytest.raises(RuntimeError, match=f"which is output 0 of {op}, is at version 1"):
            b.sum().backward()
    x = T.randn(2, 3, requires_grad=True)
    w = T.randn(3, 4)
    w.requires_grad_()
    h = x @ w
    with T.no_grad():
        w.sub_(0.1)
    with pytest.raises(RuntimeError, match=r"\[torch.FloatTensor \[3, 4\]\] is at version 1; "
                                           "expected version 0 instead. Hint"):
        h.sum().backward()
    a = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = a * 1
    c = b + 1
    b.mul_(2)
    c.sum().backward()  # add saves nothing: fine
    assert a.grad.tolist() == [1.0, 1.0, 1.0]
    a = T.tensor([1.0, -2.0, 3.0], requires_grad=True)
    b = a * 1
    b.relu_()
    b.sum().backward()
    assert a.grad.tolist() == [1.0, 0.0, 1.0]


def test_setitem_on_nonleaf():
    a = T.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = T.tensor([10.0, 20.0], requires_grad=True)
    y = a * 1
    y[0] = b * 2
    assert y.grad_fn.name() == "CopySlices" and y._version == 1
    (y * y).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [[0.0, 0.0], [6.0, 8.0]])
    np.testing.assert_allclose(b.grad.numpy(), [80.0, 160.0])


# ---------------------------------------------------------------- ops against finite differences

X0 = np.array([[0.3, -0.7, 1.1], [0.9, 0.2, -0.4]])
OPS = {
    "add_sub_mul_div_pow": lambda x: ((x + 2) * (x - 1) / (x * x + 1) + x ** 3).sum(),
    "rsub_rdiv_rpow": lambda x: ((2 - x) + 3 / (x + 2) + 2 ** x).sum(),
    "neg_exp_log_sin_cos_tanh": lambda x: (-x.exp() + (x * x + 1).log() + x.sin() * x.cos()
                                           + x.tanh()).sum(),
    "sigmoid_relu_sqrt_abs": lambda x: (x.sigmoid() + x.relu() * x + (x * x + 1).sqrt()
                                        + x.abs() * x).sum(),
    "clamp": lambda x: (x.clamp(-0.5, 0.5) * x).sum(),
    "sum_mean_dims": lambda x: (x.sum(dim=1) ** 2).sum() + (x.mean(0, keepdim=True) ** 3).sum(),
    "prod_max_min": lambda x: x.prod() + x.max() * x.min() + (x.max(dim=1).values ** 2).sum(),
    "mm_matmul_t": lambda x: (x.mm(x.t()) @ x).sum() + (x.T @ x).sum(),
    "reshape_view_transpose": lambda x: (x.reshape(3, 2) * x.view(-1)[:2]).sum()
    + (x.transpose(0, 1).unsqueeze(0).squeeze() ** 2).sum(),
    "indexing": lambda x: x[0, 1] * x[1] .sum() + (x[:, 1:] ** 2).sum() + x[[1, 0, 1]].sum(),
    "cat_stack_where": lambda x: (T.cat([x, x * 2], dim=1) ** 2).sum()
    + (T.stack([x, x.sin()]) ** 2).sum() + T.where(x > 0, x * x, -x).sum(),
    "softmax_logsoftmax": lambda x: (T.softmax(x, dim=1) * T.tensor(X0)).sum()
    + T.log_softmax(x, 0)[0, 2],
    "losses": lambda x: T.mse_loss(x, T.tensor(X0 * 0.5))
    + T.binary_cross_entropy(x.sigmoid(), T.tensor((X0 > 0).astype(float))),
    "std_var_norm_logsumexp": lambda x: x.std() + x.var(1).sum() + x.norm() + x.logsumexp(1).sum(),
}


@pytest.mark.parametrize("name", list(OPS))
def test_ops_gradients_match_finite_differences(name):
    f = OPS[name]

    def fnp(xa):
        with T.no_grad():
            return f(T.tensor(xa)).item()

    np.testing.assert_allclose(tape_grad(f, X0), fd_grad(fnp, X0), rtol=1e-6, atol=1e-7)


def test_broadcasting_gradients_have_leaf_shapes():
    x = T.ones(3, 1, requires_grad=True)
    y = T.ones(4, requires_grad=True)
    (x + y).sum().backward()
    assert x.grad.shape == (3, 1) and x.grad.tolist() == [[4.0]] * 3 and y.grad.tolist() == [3.0] * 4
    s = T.tensor(2.0, requires_grad=True)
    m = T.ones(2, 3)
    (s * m).sum().backward()
    assert s.grad.shape == () and s.grad.item() == 6.0
    b = T.zeros(1, 5, requires_grad=True)
    (b + T.ones(7, 5)).sum().backward()
    assert b.grad.tolist() == [[7.0] * 5]
    e = T.ones(1, 3, requires_grad=True)
    e.expand(4, 3).sum().backward()
    assert e.grad.tolist() == [[4.0, 4.0, 4.0]]


def test_edge_values_follow_pytorch():
    def g(f, v):
        x = T.tensor(v, requires_grad=True)
        f(x).sum().backward()
        return x.grad.tolist()

    assert g(lambda x: x.relu(), [-1.0, 0.0, 1.0]) == [0.0, 0.0, 1.0]
    assert g(lambda x: x.clamp(min=0), [-1.0, 0.0, 1.0]) == [0.0, 1.0, 1.0]
    assert g(lambda x: x.clamp(-1, 1), [-2.0, -1.0, 0.0, 1.0, 2.0]) == [0, 1, 1, 1, 0]
    assert g(lambda x: x.abs(), [-1.0, 0.0, 1.0]) == [-1.0, 0.0, 1.0]
    assert g(lambda x: x.max(), [1.0, 3.0, 3.0]) == [0.0, 0.5, 0.5]
    assert g(lambda x: x.max(dim=0).values, [1.0, 3.0, 3.0]) == [0.0, 1.0, 0.0]
    assert g(lambda x: x[[0, 0, 1]], [1.0, 2.0]) == [2.0, 1.0]
    assert g(lambda x: x.prod(), [0.0, 2.0, 3.0]) == [6.0, 0.0, 0.0]
    np.testing.assert_allclose(g(lambda x: x.softmax(0)[0], [1.0, 2.0, 3.0]),
                               [0.0819251, -0.0220330, -0.0598920], rtol=1e-5)
    a = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = T.tensor([3.0, 2.0, 1.0], requires_grad=True)
    T.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.0, 0.5, 1.0] and b.grad.tolist() == [1.0, 0.5, 0.0]


def test_floor_divide_is_not_implemented():
    a = T.ones(2, requires_grad=True)
    r = a // 2
    assert r.grad_fn.name() == "NotImplemented"
    with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not implemented"):
        r.sum().backward()


# ---------------------------------------------------------------- numpy interop and grad_of


def test_numpy_functions_dispatch_to_the_tape():
    x = T.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=T.float64, requires_grad=True)
    w = T.tensor([[1.0], [2.0]], dtype=T.float64, requires_grad=True)
    y = np.sum(np.sin(x), axis=0)
    assert isinstance(y, T.Tensor) and y.grad_fn.name() == "SumBackward1"
    out = np.mean(np.maximum(x @ w, 0.0)) + np.sum(np.where(x > 0, x, 0)) + np.sum(
        np.concatenate([x, np.exp(x)])) + np.sum(np.reshape(x, (4,)) ** 2)
    out.backward()

    def f(xa, wa):
        return (np.mean(np.maximum(xa @ wa, 0.0)) + np.sum(np.where(xa > 0, xa, 0))
                + np.sum(np.concatenate([xa, np.exp(xa)])) + np.sum(np.reshape(xa, (4,)) ** 2))

    np.testing.assert_allclose(x.grad.numpy(), fd_grad(lambda v: f(v, w.detach().numpy()),
                                                        x.detach().numpy()), rtol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), fd_grad(lambda v: f(x.detach().numpy(), v),
                                                        w.detach().numpy()), rtol=1e-6)
    assert np.shape(x) == (2, 2) and np.ndim(x) == 2
    assert isinstance(np.argmax(x), T.Tensor)


def test_numpy_refusals_are_clear():
    x = T.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(sourcediff.SourcediffError, match=r"np.add.at is not supported"):
        np.add.at(x, [0], 1.0)
    with pytest.raises(sourcediff.NoRuleError, match="no derivative rule for np.fft.hfft|no "
                                                     "derivative rule"):
        np.fft.hfft(x)  # (np.fft.fft has a rule since review27)


def test_grad_of_plain_numpy_function():
    def f(x, y, n):
        acc = 0.0
        for i in range(n):
            acc = acc + np.sum(np.sin(x * y) ** 2) / (i + 1)
        return acc

    x0, y0 = np.array([0.3, -1.2, 0.8]), 1.7
    gx, gy = grad_of(f, (x0, y0, 3), wrt=(0, 1))
    assert isinstance(gx, np.ndarray) and gx.shape == (3,) and isinstance(gy, float)
    np.testing.assert_allclose(gx, fd_grad(lambda v: f(v, y0, 3), x0), rtol=1e-7)
    np.testing.assert_allclose(gy, fd_grad(lambda v: f(x0, float(v), 3), y0), rtol=1e-7)
    assert np.allclose(grad_of(f, (x0, y0, 3), wrt="x"), gx)


def test_training_loop_two_layer_decreases_loss():
    T.manual_seed(0)
    x = T.randn(100, 3)
    y = x[:, 0:1] * 0.2 - x[:, 1:2] * 1.3 - x[:, 2:3] * 0.5 + T.randn(100, 1)
    w1 = T.randn(3, 32, requires_grad=True)
    w2 = T.randn(32, 1, requires_grad=True)
    losses = []
    for _ in range(50):
        loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
        losses.append(loss.item())
        assert loss.grad_fn.name() == "SumBackward0"
        loss.backward()
        with T.no_grad():
            w1 -= 1e-4 * w1.grad
            w2 -= 1e-4 * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    assert losses[-1] < losses[0] * 0.5


# ---------------------------------------------------------------- graph picture


def test_to_dot_labels():
    *_, out = seed()
    dot = T.to_dot(out)
    assert dot.startswith("digraph")
    for name in ("MeanBackward0", "MulBackward0", "PowBackward0", "AddBackward0",
                 "AccumulateGrad"):
        assert name in dot
    assert "(2, 2)" in dot and "lightblue" in dot


def test_render_needs_dot(tmp_path, monkeypatch):
    *_, out = seed()
    if shutil.which("dot"):
        path = T.render(out, tmp_path / "g.svg")
        assert path.read_text().lstrip().startswith(("<?xml", "<svg"))
    monkeypatch.setenv("PATH", "")
    with pytest.raises(sourcediff.SourcediffError, match="graphviz"):
        T.render(out, tmp_path / "g2.svg")


# ---------------------------------------------------------------- rules sliced to the inputs that need them


def test_a_node_computes_only_the_contributions_its_inputs_need(monkeypatch):
    """``x @ w`` with a constant ``x`` must not pay for x's gradient (one matmul, not two): the
    tape runs each rule sliced to the positions that require grad, as the compiler inlines only
    those."""
    from sourcediff import runtime

    calls = []
    for name in ("matmul_grad_left", "matmul_grad_right"):
        real = getattr(runtime, name)
        monkeypatch.setattr(runtime, name,
                            lambda g, x, y, _real=real, _name=name: calls.append(_name) or
                            _real(g, x, y))
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    for left, right, wanted in ((True, False, ["matmul_grad_left"]),
                                (False, True, ["matmul_grad_right"]),
                                (True, True, ["matmul_grad_left", "matmul_grad_right"])):
        ta = T.tensor(a, requires_grad=left)
        tb = T.tensor(b, requires_grad=right)
        calls.clear()
        T.sum(ta @ tb).backward()
        assert calls == wanted
        if left:
            np.testing.assert_allclose(ta.grad.numpy(), np.ones((3, 2)) @ b.T)
        if right:
            np.testing.assert_allclose(tb.grad.numpy(), a.T @ np.ones((3, 2)))


def test_a_power_with_a_number_exponent_skips_the_exponent_gradient(monkeypatch):
    """``x ** 2`` has one edge but its rule has two contributions: the exponent's (a log over the
    whole array) must not be computed, as for ``x @ w`` with a constant ``x``."""
    from sourcediff.rules import numpy_rules

    logs = []

    class CountingNumpy:
        def __getattr__(self, name):
            if name == "log":
                logs.append(name)
            return getattr(np, name)

    monkeypatch.setattr(numpy_rules, "np", CountingNumpy())
    x = T.tensor(np.array([0.5, -2.0, 3.0]), requires_grad=True)
    (x ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([0.5, -2.0, 3.0]))
    assert logs == []
    e = T.tensor(2.0, requires_grad=True)  # a differentiable exponent still gets its log
    (T.tensor(np.array([0.5, 3.0])) ** e).sum().backward()
    assert logs and np.isclose(e.grad.item(), np.sum(np.array([0.5, 3.0]) ** 2 * np.log([0.5, 3.0])))
