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
