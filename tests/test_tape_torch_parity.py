"""Tape mode against real PyTorch: grad_fn names, next_functions structure, gradients, seed tour."""

import types
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from sourcediff import tape as T

TORCH = types.SimpleNamespace(
    cat=torch.cat, stack=torch.stack, where=torch.where, maximum=torch.maximum,
    minimum=torch.minimum, softmax=F.softmax, log_softmax=F.log_softmax, mse_loss=F.mse_loss,
    binary_cross_entropy=F.binary_cross_entropy, l1_loss=F.l1_loss, relu=F.relu,
    sigmoid=torch.sigmoid, tanh=torch.tanh, matmul=torch.matmul, linear=F.linear,
    binary_cross_entropy_with_logits=F.binary_cross_entropy_with_logits,
    nll_loss=F.nll_loss, cross_entropy=F.cross_entropy, tensor=torch.tensor,
    float64=torch.float64, add=torch.add, mul=torch.mul,
)
TAPE = types.SimpleNamespace(**{k: getattr(T, k) for k in vars(TORCH)})

rng = np.random.default_rng(0)
DATA = {
    "a": rng.standard_normal((2, 3)),
    "b": rng.standard_normal((2, 3)),
    "s": rng.standard_normal(3),
    "pos": rng.random((2, 3)) + 0.5,
    "A": rng.standard_normal((2, 3)),
    "B": rng.standard_normal((3, 4)),
    "v2": rng.standard_normal(2),
    "v3": rng.standard_normal(3),
    "Ab": rng.standard_normal((5, 2, 3)),
    "Bb": rng.standard_normal((5, 3, 4)),
    "W": rng.standard_normal((4, 3)),
    "bias": rng.standard_normal(4),
    "p": rng.random((2, 3)) * 0.9 + 0.05,
}
CONST = {
    "tgt": rng.standard_normal((2, 3)),
    "t01": (rng.random((2, 3)) > 0.5).astype(float),
}

# expression, depth of structure compared (None = the whole graph)
CASES = [
    ("a + b", None), ("a + 2", None), ("2 + a", None), ("a + 2.5", None), ("a.add(b)", None),
    ("a.add(2)", None), ("M.add(a, 2)", None), ("a.add(b, alpha=2)", None), ("a - b", None),
    ("a - 2", None), ("2 - a", None), ("a.sub(2)", None), ("a * b", None), ("a * 2", None),
    ("2 * a", None), ("a.mul(2)", None), ("M.mul(a, 2)", None), ("a * s", None),
    ("a / b", None), ("a / 2", None), ("2 / a", None), ("a.div(2)", None),
    ("a.reciprocal()", None), ("-a", None), ("a.neg()", None), ("a ** 2", None),
    ("a.pow(2)", None), ("pos ** 0.5", None), ("a ** -1", None), ("2 ** a", None),
    ("pos ** b", None), ("a.square()", None), ("A @ B", None), ("A.mm(B)", None),
    ("M.matmul(A, B)", None), ("v2 @ A", None), ("A @ v3", None), ("A.mv(v3)", None),
    ("v3 @ v3", None), ("v3.dot(v3)", None), ("Ab @ Bb", None), ("Ab.bmm(Bb)", None),
    ("Ab @ B", None), ("M.linear(A, W, bias)", None), ("M.linear(A, W)", None),
    ("a.sum()", None), ("a.sum(dim=0)", None), ("a.sum(1, keepdim=True)", None),
    ("a.mean()", None), ("a.mean(dim=0)", None), ("a.mean(1, keepdim=True)", None),
    ("a.prod()", None), ("a.std()", None), ("a.var()", None), ("a.norm()", None),
    ("a.logsumexp(1)", None), ("a.exp()", None), ("pos.log()", None), ("a.sin()", None),
    ("a.cos()", None), ("a.tan()", None), ("a.tanh()", None), ("M.tanh(a)", None),
    ("a.sigmoid()", None), ("M.sigmoid(a)", None), ("a.relu()", None), ("M.relu(a)", None),
    ("a.clamp(min=0)", None), ("a.clamp(max=0)", None), ("a.clamp(-1, 1)", None),
    ("a.abs()", None), ("pos.sqrt()", None), ("pos.rsqrt()", None), ("pos.log1p()", None),
    ("a.expm1()", None), ("a.sign()", None), ("a.floor()", None), ("a.round()", None),
    ("a.max()", None), ("a.max(dim=0).values", None), ("a.min()", None),
    ("a.min(dim=1).values", None), ("a.amax(0)", None), ("M.maximum(a, b)", None),
    ("M.minimum(a, b)", None), ("a[0]", None), ("a[:, 1]", None), ("a[0, 1]", None),
    ("a[0:1]", None), ("a[:, 1:]", None), ("a[:, ::2]", None), ("a[[1, 0]]", None),
    ("a[None]", None), ("a[..., None]", None), ("a[-1]", None), ("a[0:1, 1]", None),
    ("a.reshape(3, 2)", None), ("a.reshape(-1)", None), ("a.view(3, 2)", None),
    ("a.view(-1)", None), ("a.t().reshape(6)", None), ("a.flatten()", None),
    ("a.transpose(0, 1)", None), ("a.t()", None), ("a.T", None), ("Ab.mT", None),
    ("a.permute(1, 0)", None), ("a.unsqueeze(0)", None), ("a.unsqueeze(0).squeeze(0)", None),
    ("a.unsqueeze(0).squeeze()", None), ("a.expand(4, 2, 3)", None), ("a.repeat(2, 1)", 1),
    ("a.flip(0)", None), ("a.t().contiguous()", None), ("M.cat([a, b])", None),
    ("M.cat([a, b], dim=1)", None), ("M.stack([a, b])", None), ("a.chunk(3, 1)[0]", None),
    ("a.split(1, 0)[0]", None), ("a.unbind(0)[0]", None), ("M.where(a > 0, a, b)", None),
    ("M.where(a > 0, a, 0.)", None), ("a.masked_fill(a < 0, 0)", None),
    ("a.softmax(dim=1)", None), ("M.softmax(a, dim=1)", None), ("a.log_softmax(dim=1)", None),
    ("M.log_softmax(a, dim=1)", None), ("M.mse_loss(a, tgt)", None),
    ("M.mse_loss(a, tgt, reduction='sum')", None), ("M.mse_loss(a, tgt, reduction='none')", None),
    ("M.binary_cross_entropy(p, t01)", None), ("M.binary_cross_entropy(a.sigmoid(), t01)", None),
    ("M.binary_cross_entropy_with_logits(a, t01)", None), ("M.l1_loss(a, tgt)", None),
    ("M.cross_entropy(a, cls)", 1), ("M.nll_loss(a.log_softmax(1), cls)", None),
    ("a.double()", None), ("a.clone()", None), ("a * M.tensor(2.)", None),
]


def structure(fn, depth=None):
    """(name, children) of a grad_fn, recursively (``depth`` levels at most)."""
    if fn is None:
        return None
    if depth == 0:
        return type(fn).__name__
    nxt = None if depth is None else depth - 1
    return (type(fn).__name__, tuple((structure(f, nxt), i) for f, i in fn.next_functions))


def build(lib, expr, dtype):
    if lib is TORCH:
        leaf = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in DATA.items()}
        const = {k: torch.tensor(v, dtype=dtype) for k, v in CONST.items()}
        const["cls"] = torch.tensor([0, 2])
    else:
        tdt = T.float32 if dtype is torch.float32 else T.float64
        leaf = {k: T.tensor(v, dtype=tdt, requires_grad=True) for k, v in DATA.items()}
        const = {k: T.tensor(v, dtype=tdt) for k, v in CONST.items()}
        const["cls"] = T.tensor([0, 2])
    env = dict(leaf, **const, M=lib)
    out = eval(expr, {}, env)
    return out, leaf


@pytest.mark.parametrize("expr,depth", CASES, ids=[c[0] for c in CASES])
def test_catalogue_against_torch(expr, depth):
    out_t, leaf_t = build(TORCH, expr, torch.float64)
    out_s, leaf_s = build(TAPE, expr, torch.float64)
    assert structure(out_s.grad_fn, depth) == structure(out_t.grad_fn, depth)
    assert tuple(out_s.shape) == tuple(out_t.shape)
    assert out_s.requires_grad == out_t.requires_grad
    np.testing.assert_allclose(out_s.detach().numpy(), out_t.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    w = np.random.default_rng(1).standard_normal(tuple(out_t.shape))
    (out_t * torch.tensor(w)).sum().backward()
    (out_s * T.tensor(w)).sum().backward()
    for k, t in leaf_t.items():
        if t.grad is None:
            assert leaf_s[k].grad is None, k
        else:
            np.testing.assert_allclose(leaf_s[k].grad.numpy(), t.grad.numpy(), rtol=1e-9,
                                       atol=1e-12, err_msg=k)


@pytest.mark.parametrize("expr", ["a * b", "a.exp()", "M.softmax(a, dim=1)", "A @ B",
                                  "a.sum(dim=0)", "a.clamp(-1, 1)", "M.mse_loss(a, tgt)"])
def test_float32_repr_and_grads(expr):
    out_t, leaf_t = build(TORCH, expr, torch.float32)
    out_s, leaf_s = build(TAPE, expr, torch.float32)
    assert repr(out_s) == repr(out_t)
    w = np.random.default_rng(2).standard_normal(tuple(out_t.shape)).astype(np.float32)
    (out_t * torch.tensor(w)).sum().backward()
    (out_s * T.tensor(w)).sum().backward()
    for k, t in leaf_t.items():
        if t.grad is not None:
            assert leaf_s[k].grad.dtype == np.float32
            np.testing.assert_allclose(leaf_s[k].grad.numpy(), t.grad.numpy(), rtol=1e-5,
                                       atol=1e-6)


def _iadd(y, b):
    y += 1
    return y


def _imul(y, b):
    y *= b
    return y


INPLACE = {
    "y.add_(1)": lambda y, b: y.add_(1), "y.add_(b)": lambda y, b: y.add_(b),
    "y.sub_(1)": lambda y, b: y.sub_(1), "y.mul_(2)": lambda y, b: y.mul_(2),
    "y.mul_(b)": lambda y, b: y.mul_(b), "y.div_(2)": lambda y, b: y.div_(2),
    "y.clamp_(min=0)": lambda y, b: y.clamp_(min=0), "y.relu_()": lambda y, b: y.relu_(),
    "y.exp_()": lambda y, b: y.exp_(), "y.zero_()": lambda y, b: y.zero_(), "y += 1": _iadd,
    "y *= b": _imul,
}


@pytest.mark.parametrize("stmt", list(INPLACE))
def test_inplace_on_nonleaf_against_torch(stmt):
    results = []
    for lib in (torch, T):
        a = lib.tensor(DATA["a"], requires_grad=True)
        b = lib.tensor(DATA["b"], requires_grad=True)
        y = a * 1
        y2 = INPLACE[stmt](y, b)
        assert y2 is y
        s = structure(y.grad_fn)
        (y * lib.tensor(DATA["pos"])).sum().backward()
        results.append((s, y._version, a.grad.numpy().copy(), b.grad))
    (st, vt, gat, gbt), (ss, vs, gas, gbs) = results
    assert ss == st
    assert vs == vt
    np.testing.assert_allclose(gas, gat, rtol=1e-6)
    assert (gbs is None) == (gbt is None)
    if gbt is not None:
        np.testing.assert_allclose(gbs.numpy(), gbt.numpy(), rtol=1e-6)


def test_setitem_copyslices_against_torch():
    for use_b in (False, True):
        res = []
        for lib in (torch, T):
            a = lib.tensor(DATA["a"], requires_grad=True)
            b = lib.tensor(DATA["b"], requires_grad=True)
            y = a * 1
            y[0] = b[1] if use_b else 5.0
            s = structure(y.grad_fn)
            (y * lib.tensor(DATA["pos"])).sum().backward()
            res.append((s, a.grad.numpy().copy(), None if b.grad is None else b.grad.numpy()))
        assert res[0][0] == res[1][0]
        np.testing.assert_allclose(res[1][1], res[0][1])
        if res[0][2] is not None:
            np.testing.assert_allclose(res[1][2], res[0][2])


def _seed_tour(lib, shape_x2):
    x1 = lib.ones(2, 2, requires_grad=True)
    x2 = lib.tensor(1.1 if shape_x2 == () else [1.1], requires_grad=True)
    y = x1 * (x2 + 2)
    z = y.pow(2) * 3
    out = z.mean()
    y.retain_grad()
    z.retain_grad()
    lines = [repr(x1), repr(x2), repr(y), repr(z), repr(out), structure(out.grad_fn)]
    out.backward()
    lines += [repr(z.grad), repr(y.grad), repr(x2.grad), repr(x1.grad)]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        lines.append(out.grad)
        lines.append(str(w[0].message).split(" (Triggered")[0])
    return lines


@pytest.mark.parametrize("shape_x2", [(), (1,)])
def test_seed_tour_matches_torch_printout(shape_x2):
    assert _seed_tour(T, shape_x2) == _seed_tour(torch, shape_x2)


@pytest.mark.parametrize("values", [
    [1.0, 2.0, 3.0], [1.1], [[1.0, 1.0], [1.0, 1.0]], [1.23456789, 100.5], [1e6, 2.0],
    [1e-5, 1.0], [float("nan"), 1.0], [1.5, float("inf")], [], [0.0, 0.0], [-1.0, 2.5],
    list(np.linspace(-3, 3, 40)), list(np.arange(2000.0)), [[[1.5, 2.0], [3.0, -4.0]]] * 3,
])
def test_repr_matches_torch(values):
    a_t = torch.tensor(values)
    a_s = T.tensor(values)
    assert repr(a_s) == repr(a_t)
    if a_t.numel():
        assert repr(T.tensor(values, requires_grad=True)) == repr(
            torch.tensor(values, requires_grad=True))
        assert repr(T.tensor(values, requires_grad=True) * 2) == repr(
            torch.tensor(values, requires_grad=True) * 2)
    assert repr(T.tensor(values, dtype=T.float64)) == repr(torch.tensor(values,
                                                                       dtype=torch.float64))


def test_repr_int_bool_and_empty_shapes():
    assert repr(T.tensor([1, 2])) == repr(torch.tensor([1, 2]))
    assert repr(T.tensor([[1, 2], [3, 40]])) == repr(torch.tensor([[1, 2], [3, 40]]))
    assert repr(T.tensor([True, False])) == repr(torch.tensor([True, False]))
    assert repr(T.tensor(3)) == repr(torch.tensor(3))
    assert repr(T.zeros(2, 0)) == repr(torch.zeros(2, 0))
    assert repr(T.zeros(0, requires_grad=True)) == repr(torch.zeros(0, requires_grad=True))


def test_two_layer_trajectory_matches_torch_export():
    import json
    import pathlib

    data = pathlib.Path(__file__).resolve().parents[1] / "examples" / "data"  # PyTorch's recorded run
    d = np.load(data / "two_layer_seed0.npz")
    with open(data / "trajectories.json") as fh:
        ref = dict(json.load(fh)["two_layer_float64"])
    x, y = T.tensor(d["x"], dtype=T.float64), T.tensor(d["y"], dtype=T.float64)
    w1 = T.tensor(d["w1"], dtype=T.float64, requires_grad=True)
    w2 = T.tensor(d["w2"], dtype=T.float64, requires_grad=True)
    b1 = T.zeros(1, 32, dtype=T.float64, requires_grad=True)
    b2 = T.zeros(1, 1, dtype=T.float64, requires_grad=True)
    for t in range(1, 201):
        loss = (x.mm(w1).add(b1).clamp(min=0).mm(w2).add(b2) - y).pow(2).sum()
        if t in ref:
            assert loss.item() == pytest.approx(ref[t], rel=1e-9)
        loss.backward()
        with T.no_grad():
            for p in (w1, w2, b1, b2):
                p -= 1e-4 * p.grad
                p.grad.zero_()


def test_higher_order_matches_torch():
    res = []
    for lib in (torch, T):
        x = lib.tensor(2.0, requires_grad=True)
        y = x ** 3
        (g1,) = lib.autograd.grad(y, x, create_graph=True) if lib is torch else T.grad(
            y, x, create_graph=True)
        grad = torch.autograd.grad if lib is torch else T.grad
        (g2,) = grad(g1, x, create_graph=True)
        (g3,) = grad(g2, x)
        res.append((g1.item(), g2.item(), g3.item(), g3.requires_grad, x.grad))
    assert res[0] == res[1]


@pytest.mark.parametrize("expr", ["(a.sin() * b).sum()", "(a.exp() / b.cos()).mean()",
                                  "(a.tanh() ** 2).sum()", "(a @ b.T).sum()",
                                  "M.softmax(a, dim=1)[0, 1]", "(a * a * b).sum()",
                                  "M.mse_loss(a, b)", "a.sigmoid().sum()",
                                  "(a.relu() * b).sum()", "a.max() * b.sum()",
                                  "(M.where(a > 0, a * a, b) * b).sum()"])
def test_hessian_vector_products_against_torch(expr):
    res = []
    v = np.random.default_rng(3).standard_normal((2, 3))
    for lib, M in ((torch, TORCH), (T, TAPE)):
        a = lib.tensor(DATA["a"], dtype=lib.float64, requires_grad=True)
        b = lib.tensor(DATA["b"], dtype=lib.float64, requires_grad=True)
        out = eval(expr, {}, {"a": a, "b": b, "M": M})
        grad = torch.autograd.grad if lib is torch else T.grad
        ga, _ = grad(out, (a, b), create_graph=True, allow_unused=True)
        hv = grad((ga * lib.tensor(v)).sum(), (a, b), allow_unused=True)
        res.append([None if h is None else h.detach().numpy() for h in hv])
    for ht, hs in zip(*res):  # an unused input is None in one library, zeros in the other
        ht = np.zeros((2, 3)) if ht is None else ht
        hs = np.zeros((2, 3)) if hs is None else hs
        np.testing.assert_allclose(hs, ht, rtol=1e-9, atol=1e-12)
