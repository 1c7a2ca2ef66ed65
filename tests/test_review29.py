"""review29: second derivatives through a runtime helper whose differentiated operands come in a
tuple. While a vjp rule runs on tape Tensors (create_graph=True), the runtime helpers it calls
that have a rule of their own are recorded as tape ops; one whose Tensors sat inside a list or
tuple argument (np.einsum's rule calls ``_sd.einsum_call_grads(g, subscripts, operands)``) was
called on them as constants. The first derivative of ``np.einsum('ij,jk->ik', x, y)`` then came
back without grad, and a Hessian-vector product through it was silently 0 (PyTorch: nonzero)."""

import numpy as np
import pytest

import sourcediff.tape as T

torch = pytest.importorskip("torch")

_rng = np.random.default_rng(2929)
A = _rng.standard_normal((3, 4))
B = _rng.standard_normal((4, 5))
C = _rng.standard_normal(5)

EQUATIONS = [("ij,jk->ik", (A, B)), ("ij,jk,k->i", (A, B, C)), ("ij,ij->", (A, A + 1.0)),
             ("i,j->ij", (C, C[::-1].copy()))]


def _hvp(lib, eq, arrays, spell):
    ts = [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in arrays]
    grad = torch.autograd.grad if lib is torch else T.grad
    out = spell(eq, *ts)
    gs = grad((out * out).sum(), ts, create_graph=True)
    loss = sum(((g * g * g).sum() for g in gs), start=ts[0].sum() * 0)
    hs = grad(loss, ts, allow_unused=True)
    return [g.detach().numpy() for g in gs], [np.zeros(a.shape) if h is None else
                                             h.detach().numpy() for h, a in zip(hs, arrays)]


@pytest.mark.parametrize("spell", ["np.einsum", "T.einsum"])
@pytest.mark.parametrize("eq,arrays", EQUATIONS, ids=[e for e, _ in EQUATIONS])
def test_einsum_second_order_matches_torch(eq, arrays, spell):
    f = np.einsum if spell == "np.einsum" else T.einsum
    g_want, h_want = _hvp(torch, eq, arrays, torch.einsum)
    g_got, h_got = _hvp(T, eq, arrays, f)
    for g, w in zip(g_got + h_got, g_want + h_want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9)


def test_einsum_first_derivative_carries_the_graph():
    x = T.tensor(A, dtype=T.float64, requires_grad=True)
    y = T.tensor(B, dtype=T.float64, requires_grad=True)
    (gx,) = T.grad(np.einsum("ij,jk->ik", x, y).sum(), [x], create_graph=True)
    assert gx.requires_grad  # (it did not: gx = sum_k y[j, k] read as a constant)
