"""review29: second derivatives through a runtime helper whose differentiated operands come in a
tuple. While a vjp rule runs on tape Tensors (create_graph=True), the runtime helpers it calls
that have a rule of their own are recorded as tape ops; one whose Tensors sat inside a list or
tuple argument (np.einsum's rule calls ``_sd.einsum_call_grads(g, subscripts, operands)``) was
called on them as constants. The first derivative of ``np.einsum('ij,jk->ik', x, y)`` then came
back without grad, and a Hessian-vector product through it was silently 0 (PyTorch: nonzero)."""

import zlib

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


# ------------------------------------------------ every rule's second derivative on the tape
# (the case table of test_rule_modes: a Hessian-vector product through create_graph=True must
# equal the central difference of the tape's first-order gradient, or be refused with a
# TapeError. Before: 45 cases silently wrong: np.einsum (the helper above), np.linalg.svd, eigh,
# qr, eig (the rule read the forward's U, S, V as constants: rule_lookup._Ragged._parts),
# np.linalg.lstsq (its helper read b, x and g with np.asarray), and np.cov, np.interp,
# np.trapezoid, np.average's weights, np.linalg.matrix_power (a derivative computed from
# constants: now a Tensor whose backward refuses, recording._constant_derivative))

try:
    from .rule_cases import CASES  # noqa: F401
    from .test_rule_modes import TAPE_CASES, _cotangent, _on_tape, _paired
    from .test_rules import call
except ImportError:  # tests/ collected without being a package
    from test_rule_modes import TAPE_CASES, _cotangent, _on_tape, _paired
    from test_rules import call


def _tape_grads(prim, args, kwargs, argnums, g, create):
    ts = list(args)
    for i in argnums:
        ts[i] = T.tensor(np.asarray(args[i], dtype=float), dtype=T.float64, requires_grad=True)
    gs = T.grad(_paired(_on_tape(prim, ts, kwargs), g), [ts[i] for i in argnums],
                create_graph=create, allow_unused=True)
    return ts, gs


def _hvp_and_difference(prim, args, kwargs, argnums, cid):
    rng = np.random.default_rng(zlib.crc32(cid.encode()))
    g = _cotangent(call(prim, args, kwargs), rng)
    vs = [rng.standard_normal(np.shape(args[i])) for i in argnums]
    ts, gs = _tape_grads(prim, args, kwargs, argnums, g, True)
    live = [(gi, v) for gi, v in zip(gs, vs) if gi is not None and gi.requires_grad]
    hv = [None] * len(argnums)
    if live:
        hv = T.grad(sum((gi * T.tensor(v)).sum() for gi, v in live),
                    [ts[i] for i in argnums], allow_unused=True)
    hv = [np.zeros(np.shape(args[i])) if h is None else h.detach().numpy()
          for h, i in zip(hv, argnums)]
    eps = 1e-5

    def grads_at(sign):
        moved = list(args)
        for i, v in zip(argnums, vs):
            moved[i] = np.asarray(args[i], dtype=float) + sign * eps * v
        return [np.zeros(np.shape(args[i])) if x is None else x.numpy()
                for x, i in zip(_tape_grads(prim, moved, kwargs, argnums, g, False)[1], argnums)]

    return hv, [(p - m) / (2 * eps) for p, m in zip(grads_at(1), grads_at(-1))]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("prim,args,kwargs,argnums,cid", TAPE_CASES,
                         ids=[c[4] for c in TAPE_CASES])
def test_tape_second_derivative_is_right_or_refused(prim, args, kwargs, argnums, cid):
    try:
        with np.errstate(all="ignore"):
            hv, fd = _hvp_and_difference(prim, args, kwargs, argnums, cid)
    except Exception:  # noqa: BLE001  (a refusal, or a gap of the first order: never wrong)
        return
    for k, (h, d) in enumerate(zip(hv, fd)):
        np.testing.assert_allclose(h, d, rtol=1e-4, atol=1e-5,
                                   err_msg=f"tape Hessian-vector product, argument {k} of {cid}")
