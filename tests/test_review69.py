"""Review 69: three differences of the tape from PyTorch 2.13, each checked against torch
(skipped when torch is absent): a node's pre-hook gets and returns a tuple of gradients; the
outputs of unbind/split/chunk refuse an in-place write; create_graph=True gives a gradient that
depends on no differentiable input requires_grad=False."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sourcediff import tape as T  # noqa: E402
from sourcediff.errors import SourcediffError  # noqa: E402

rng = np.random.default_rng(69)


def _mk(lib, a, rg=True):
    if lib is torch:
        return torch.tensor(a, dtype=torch.float64, requires_grad=rg)
    return T.tensor(a.copy(), requires_grad=rg)


def _np(t):
    return None if t is None else np.asarray(t.detach().numpy())


# ------------------------------------------------------------ node pre-hooks


def test_node_prehook_gets_a_tuple_and_runs_after_tensor_hooks_and_retain_grad():
    """The node's pre-hook sees (g,) after the tensor's hook (registered after it), retain_grad
    stores the gradient before the node's hook, and a returned tuple replaces the gradient:
    the tape passed the gradient itself, ran the hooks in registration order (z.grad would be
    30, not 10) and gave autograd.grad's captured gradient the node hook's value."""
    a = rng.standard_normal(3)
    out = {}
    for lib in (torch, T):
        x = _mk(lib, a)
        z = (x * 2).sin()
        z.retain_grad()
        log = []
        z.grad_fn.register_prehook(lambda g: (log.append((type(g).__name__, len(g))), None)[1])
        z.register_hook(lambda g: (log.append("tensor"), g * 10)[1])
        z.grad_fn.register_prehook(lambda g: (log.append(_np(g[0]).tolist()), (g[0] * 3,))[1])
        z.sum().backward(retain_graph=True)
        captured = lib.autograd.grad(z.sum(), [z, x])
        out[lib.__name__] = (log, _np(z.grad), _np(x.grad), [_np(c) for c in captured])
    (lt, zt, xt, ct), (ls, zs, xs, cs) = out["torch"], out[T.__name__]
    assert ls[:3] == lt[:3] == ["tensor", ("tuple", 1), [10.0] * 3]
    np.testing.assert_allclose(zs, zt, rtol=1e-14)
    np.testing.assert_allclose(xs, xt, rtol=1e-14)
    for s, t in zip(cs, ct):
        np.testing.assert_allclose(s, t, rtol=1e-14)


def test_accumulate_grad_prehook_runs():
    """A pre-hook on a leaf's AccumulateGrad runs and its tuple replaces the gradient (the tape
    kept it and never called it: x.grad 2 where PyTorch's is 10)."""
    a = rng.standard_normal(2)
    got = []
    for lib in (torch, T):
        x = _mk(lib, a)
        y = x * 2
        y.grad_fn.next_functions[0][0].register_prehook(lambda g: (g[0] * 5,))
        y.sum().backward()
        got.append(_np(x.grad))
    np.testing.assert_allclose(got[1], got[0], rtol=1e-14)


@pytest.mark.parametrize("ret, kind, text", [
    (lambda g: g[0] * 3, TypeError, "expected tuple, but hook returned 'Tensor'"),
    (lambda g: [g[0] * 3], TypeError, "expected tuple, but hook returned 'list'"),
    (lambda g: (g[0] * 3, g[0]), RuntimeError,
     "has returned an incorrect number of values (got 2, but expected 1)"),
    (lambda g: (g[0][:1],), RuntimeError, "has changed the size of value"),
])
def test_node_prehook_returning_no_tuple_is_refused_as_in_torch(ret, kind, text):
    """A single tensor, a list or a tuple of the wrong length is refused with PyTorch's text
    (the tape took a returned tensor as the new gradient)."""
    a = rng.standard_normal(2)
    for lib in (torch, T):
        z = (_mk(lib, a) * 2).sin()
        z.grad_fn.register_prehook(ret)
        with pytest.raises(kind) as e:
            z.sum().backward()
        assert text in str(e.value)
        if lib is T:
            assert isinstance(e.value, SourcediffError)


def test_node_prehook_returning_none_in_the_tuple_stops_the_gradient():
    """(None,): no gradient passes the node, x.grad stays None in both."""
    a = rng.standard_normal(2)
    for lib in (torch, T):
        x = _mk(lib, a)
        z = (x * 2).sin()
        z.grad_fn.register_prehook(lambda g: (None,))
        z.sum().backward()
        assert x.grad is None


def test_node_prehook_handle_removes_it():
    a = rng.standard_normal(2)
    x = _mk(T, a)
    z = (x * 2).sin()
    h = z.grad_fn.register_prehook(lambda g: (g[0] * 0,))
    h.remove()
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(2 * a), rtol=1e-14)


def test_captured_gradient_of_a_non_leaf_is_taken_before_its_hooks():
    """autograd.grad's gradient for a non-leaf input is the one before its tensor hooks (PyTorch:
    1, where the tape gave 10); a leaf's is after them; the hook still reaches the leaf."""
    a = rng.standard_normal(2)
    got = []
    for lib in (torch, T):
        x = _mk(lib, a)
        x.register_hook(lambda g: g * 2)
        y = x * 2
        z = y * 1
        y.register_hook(lambda g: g * 10)
        got.append([_np(g) for g in lib.autograd.grad(z.sum(), [y, x])])
    for s, t in zip(got[1], got[0]):
        np.testing.assert_allclose(s, t, rtol=1e-14)


# ------------------------------------------------------------ outputs of unbind/split/chunk

_MULTI = [
    ("unbind", lambda t: t.unbind(0)),
    ("split", lambda t: t.split(1)),
    ("chunk", lambda t: t.chunk(3)),
    ("split_with_sizes", lambda t: t.split([1, 2])),
    ("function", lambda t: (T if isinstance(t, T.Tensor) else torch).unbind(t, 1)),
]
_WRITES = [
    ("mul_", lambda a: a[0].mul_(2)),
    ("second", lambda a: a[1].add_(1)),
    ("view of it", lambda a: a[0][0:1].mul_(2)),
    ("view of a view", lambda a: a[0].view(-1).mul_(2)),
    ("setitem", lambda a: a[0].__setitem__(0, 1.0)),
    ("setitem slice", lambda a: a[1].__setitem__((Ellipsis, slice(0, 1)), 1.0)),
    ("setitem whole", lambda a: a[1].__setitem__(slice(None), 1.0)),
    ("copy_", lambda a: a[1].copy_(a[1] * 0 + 1)),
    ("operand requires grad", lambda a: a[0].mul_(a[0].detach().requires_grad_())),
]


def _outcome(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 (compared with torch's)
        return str(e)
    return None


@pytest.mark.parametrize("make", [m for _, m in _MULTI], ids=[n for n, _ in _MULTI])
@pytest.mark.parametrize("write", [w for _, w in _WRITES], ids=[n for n, _ in _WRITES])
@pytest.mark.parametrize("source", ["non-leaf", "leaf", "no grad"])
def test_inplace_write_into_an_output_of_a_multi_view_function_as_torch(make, write, source):
    """The same refusal, word for word ("Output 1 of Unbind is a view and is being modified
    inplace. This view is the output of a function that returns multiple views..."), or the same
    acceptance, as PyTorch: the tape accepted every write and gave its gradient."""
    a = rng.standard_normal((3, 2))
    out = []
    for lib in (torch, T):
        x = _mk(lib, a, rg=source != "no grad")
        base = x * 1 if source == "non-leaf" else x
        msg = _outcome(lambda: write(make(base)))
        out.append(msg)
        if lib is T and msg is not None:
            with pytest.raises(SourcediffError):
                write(make(base))
    assert out[1] == out[0]
    if source != "no grad":
        assert out[0] is not None and "returns multiple views" in out[0]


@pytest.mark.parametrize("make", [m for _, m in _MULTI], ids=[n for n, _ in _MULTI])
def test_writes_torch_allows_keep_their_gradients(make):
    """Under no_grad the write is allowed (and a later use of the written output is refused, as
    PyTorch's "its base or another view of its base has been modified inplace"); a detached
    output is writable; a view taken by indexing (not by unbind/split) stays writable, and its
    gradient is the finite differences'... here PyTorch's."""
    a = rng.standard_normal((3, 2))
    res = []
    for lib in (torch, T):
        x = _mk(lib, a)
        y = x * 1
        outs = make(y)
        with lib.no_grad():
            outs[0].mul_(2)
        later = _outcome(lambda: outs[0].sum())
        d = make(x * 1)[0].detach()
        d.mul_(2)
        y = x * 1
        y[0].mul_(3.0)  # (an ordinary view: allowed, recorded)
        z = [o * 1 for o in make(y)]
        (sum((o * o).sum() for o in z) + (y * y).sum()).backward()
        res.append((later, _np(d), _np(x.grad)))
    assert res[1][0] == res[0][0] and res[0][0] is not None
    for s, t in zip(res[1][1:], res[0][1:]):
        np.testing.assert_allclose(s, t, rtol=1e-14)


def test_a_write_into_the_base_then_a_use_of_an_output_is_refused_as_in_torch():
    a = rng.standard_normal((3, 2))
    out = []
    for lib in (torch, T):
        y = _mk(lib, a) * 1
        outs = y.unbind(0)
        y.mul_(2)
        out.append(_outcome(lambda: outs[1].sum()))
    assert out[1] == out[0] and "Output 1 of Unbind" in out[0]


def test_iterating_a_tensor_gives_outputs_torch_refuses_to_write():
    """Iteration is unbind(0) in both: ``for row in y: row.mul_(2)`` is refused."""
    a = rng.standard_normal((3, 2))
    out = []
    for lib in (torch, T):
        y = _mk(lib, a) * 1
        out.append(_outcome(lambda: [row.mul_(2) for row in y]))
    assert out[1] == out[0] and out[0] is not None


# ------------------------------------------------------------ create_graph=True

_CG = {
    "amax": lambda lib, x, X: x.amax(),
    "max": lambda lib, x, X: x.max(),
    "min": lambda lib, x, X: x.min(),
    "amax dim": lambda lib, x, X: (X.amax(0) * X[0]).sum(),
    "max dim": lambda lib, x, X: X.max(dim=1)[0].sum(),
    "stack": lambda lib, x, X: lib.stack([x, x]).sum(),
    "stack scaled": lambda lib, x, X: (lib.stack([x, 2 * x]) ** 2).sum(),
    "cat": lambda lib, x, X: lib.cat([x, x]).sum(),
    "cat of a square": lambda lib, x, X: lib.cat([x, x * x]).sum(),
    "repeat": lambda lib, x, X: x.repeat(2).sum(),
    "pad": lambda lib, x, X: lib.nn.functional.pad(x, (1, 1)).sum(),
    "sum": lambda lib, x, X: x.sum(),
    "mean of max": lambda lib, x, X: (x.amax() * x).sum(),
    "tanh": lambda lib, x, X: x.tanh().sum(),
    "mm": lambda lib, x, X: (X @ X).sum(),
    "norm": lambda lib, x, X: x.norm(),
    "prod": lambda lib, x, X: x.prod(),
    "softmax": lambda lib, x, X: lib.softmax(x, 0)[0],
    "topk": lambda lib, x, X: (x.topk(2)[0] ** 2).sum(),
    "unbind": lambda lib, x, X: (x.unbind(0)[1] * x).sum(),
}


@pytest.mark.parametrize("name", list(_CG))
def test_create_graph_gradient_requires_grad_as_in_torch(name):
    """With create_graph=True a gradient made only from the seed and what the backward reads
    for its shape or a mask (amax's ties, stack's pieces, cat's, pad's) requires grad exactly
    when PyTorch's does: the tape's amax/stack/cat/repeat/pad gave requires_grad=True (an edge to
    x of unreduce(g, x), unstack_grads(g, [x, x])...). Values and, where it requires grad, the
    second derivative (a Hessian-vector product) equal torch's."""
    a, b = np.array([1.0, 3.0, -2.0, 0.5]), rng.standard_normal((4, 4))
    v = rng.standard_normal(4)
    res = []
    for lib in (torch, T):
        x, X = _mk(lib, a), _mk(lib, b)
        y = _CG[name](lib, x, X)
        gx, gX = lib.autograd.grad(y, [x, X], create_graph=True, allow_unused=True)
        out = [None if g is None else g.requires_grad for g in (gx, gX)]
        out += [_np(gx), _np(gX)]
        if gx is not None and gx.requires_grad:
            hv = lib.autograd.grad((gx * _mk(lib, v, rg=False)).sum(), [x, X], allow_unused=True)
            out += [_np(h) for h in hv]
        res.append(out)
    (t, s) = res
    assert s[:2] == t[:2]
    assert len(s) == len(t)
    for p, q in zip(s[2:], t[2:]):
        assert (p is None) == (q is None)
        if p is not None:
            np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-14)
