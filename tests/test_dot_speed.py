"""The fast paths of the dot family's gradients (runtime.einsum_fast, _pair_plan, einsum_grads,
dot_grad_left / dot_grad_right / contract, and what the specializer makes of them).

np.dot, tensordot and inner take one helper call per operand (dot_grad_left / dot_grad_right, so an
operand that needs no gradient costs nothing), einsum one einsum_grads call; each gradient runs as one
matrix product (or a broadcast multiply) between transposed and reshaped views, through a plan made
once per subscripts and shapes; big einsums of three or more operands along a contraction path chosen
once. Each shape case below hits one branch of the plan (batch, summed, left and right letters present
or not, letters summed in one operand alone, the operands swapped, a final transpose, a scalar
result), and is checked against np.einsum itself, against central finite differences in reverse and
forward mode, and in second order (forward over reverse, and reverse over reverse through the
helpers' own rules). The specialized code must equal the generic code, and a 2-D np.dot's must be the
@ code. Timings are benchmarks (benchmarks/run.py, W7-W9), never tests.
"""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import runtime as rt

STEP = 1e-6
TOL = 1e-6


def _rand(rng, shape):
    if shape is None:
        return float(rng.uniform(0.5, 1.5))
    return rng.uniform(-1.0, 1.0, size=shape)


# ---------------------------------------------------------------- einsum_fast against np.einsum
# (ins, result, shapes, expected plan kind): "pair" is _pair_plan, "path" an optimized path,
# "einsum" plain np.einsum

PLAN_CASES = [
    (("ab", "bc"), "ac", [(4, 5), (5, 3)], "pair"),          # a matrix product
    (("ac", "bc"), "ab", [(4, 3), (5, 3)], "pair"),          # g @ w.T
    (("ac", "ab"), "bc", [(4, 3), (4, 5)], "pair"),          # swapped: x.T @ g
    (("a", "a"), "", [(5,), (5,)], "pair"),                  # vector . vector, a scalar
    (("a", "ab"), "b", [(5,), (5, 3)], "pair"),              # vector @ matrix
    (("ab", "b"), "a", [(4, 5), (5,)], "pair"),              # matrix @ vector
    (("a", "b"), "ab", [(4,), (3,)], "pair"),                # outer: a broadcast multiply
    (("a", "b"), "ba", [(4,), (3,)], "pair"),                # outer, swapped
    (("", "ab"), "ab", [(), (4, 3)], "pair"),                # scalar times matrix
    (("", ""), "", [(), ()], "pair"),                        # scalar times scalar
    (("ab", "ab"), "a", [(4, 3), (4, 3)], "pair"),           # batch and summed, no free letters
    (("ab", "ab"), "ab", [(4, 3), (4, 3)], "pair"),          # elementwise: batch only
    (("abc", "acd"), "abd", [(2, 4, 3), (2, 3, 5)], "pair"),  # batched matmul
    (("abc", "acd"), "dba", [(2, 4, 3), (2, 3, 5)], "pair"),  # batched, final transpose
    (("abc", "dce"), "abde", [(2, 3, 4), (5, 4, 6)], "pair"),  # N-D dot: groups reshaped
    (("abcd", "cbe"), "dae", [(2, 3, 4, 5), (4, 3, 6)], "pair"),  # two summed letters, permuted
    (("ab", "cd"), "ac", [(4, 3), (5, 6)], "pair"),          # letters summed in one operand alone
    (("abc", "b"), "c", [(2, 3, 4), (3,)], "pair"),          # one summed in x alone, one shared
    (("ab", "cde"), "ca", [(4, 3), (5, 2, 6)], "pair"),      # summed alone on both sides, swapped
    (("ab", "bc"), "ac", [(4, 1), (5, 3)], "einsum"),        # size-1 broadcast: general path
    (("aa", "a"), "a", [(3, 3), (3,)], "einsum"),            # a repeated letter: general path
    (("ab", "bc", "cd"), "ad", [(3, 4), (4, 5), (5, 2)], "einsum"),     # small: plain einsum
    (("ab", "bc", "cd"), "ad", [(60, 70), (70, 80), (80, 50)], "path"),  # big: a path chosen once
]


def _kind(plan):
    if "_pair_plan" in plan.__qualname__:
        return "pair"
    return "path" if "path" in plan.__code__.co_freevars else "einsum"


@pytest.mark.parametrize("ins, result, shapes, kind", PLAN_CASES,
                         ids=[f"{','.join(c[0])}->{c[1]}:{c[2]}" for c in PLAN_CASES])
def test_einsum_fast_matches_einsum(ins, result, shapes, kind):
    rng = np.random.default_rng(0)
    ops = [_rand(rng, s) if s else float(rng.uniform(-1, 1)) for s in shapes]
    spec = ",".join(ins) + "->" + result
    expected = np.einsum(spec, *ops)
    got = rt.einsum_fast(ins, result, ops)
    assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert _kind(rt._einsum_plan(ins, result, ops)) == kind
    # a 0-d result is a numpy scalar, as np.einsum gives it
    if not result:
        assert not isinstance(got, np.ndarray)
    # the plan is cached and gives the same again (on new values of the same shapes)
    ops2 = [_rand(rng, s) if s else 0.5 for s in shapes]
    np.testing.assert_allclose(rt.einsum_fast(ins, result, ops2), np.einsum(spec, *ops2),
                               rtol=1e-12, atol=1e-12)


def test_einsum_fast_keeps_dtypes_like_einsum():
    a32 = np.ones((3, 4), np.float32)
    b32 = np.ones((4, 2), np.float32)
    assert rt.einsum_fast(("ab", "bc"), "ac", [a32, b32]).dtype == np.float32
    assert rt.einsum_fast(("ab", "bc"), "ac", [a32, np.ones((4, 2))]).dtype == np.float64
    ints = np.arange(12).reshape(3, 4)
    assert rt.einsum_fast(("ab", "bc"), "ac", [ints, np.ones((4, 2))]).dtype == np.float64


def test_einsum_fast_takes_lists_and_broadcast_views():
    a = [[1.0, 2.0], [3.0, 4.0]]
    b = np.broadcast_to(np.arange(2.0), (2, 2))  # zero strides, as einsum_cross passes them
    np.testing.assert_allclose(rt.einsum_fast(("ab", "bc"), "ac", [a, b]),
                               np.einsum("ab,bc->ac", a, b))


# ---------------------------------------------------------------- einsum_grads: fast or general


def _reference_grads(g, subscripts, operands):
    """Each operand's gradient written out with plain np.einsum (no repeated letters here)."""
    terms, out = rt.einsum_parse(subscripts, operands)
    grads = []
    for i, t in enumerate(terms):
        other = terms[1 - i]
        spec = out + "," + other + "->" + t
        grads.append(np.einsum(spec, g, operands[1 - i]))
    return grads


GRADS_CASES = [
    ("dot 2-D.2-D", lambda a, b: rt.dot_subscripts(a, b), (4, 5), (5, 3)),
    ("dot 1-D.1-D", lambda a, b: rt.dot_subscripts(a, b), (5,), (5,)),
    ("dot 2-D.1-D", lambda a, b: rt.dot_subscripts(a, b), (4, 5), (5,)),
    ("dot 1-D.2-D", lambda a, b: rt.dot_subscripts(a, b), (5,), (5, 3)),
    ("dot N-D", lambda a, b: rt.dot_subscripts(a, b), (2, 3, 4), (5, 4, 6)),
    ("dot scalar", lambda a, b: rt.dot_subscripts(a, b), (), (4, 3)),
    ("tensordot int 2", lambda a, b: rt.tensordot_subscripts(a, b, 2), (2, 3, 4), (3, 4, 5)),
    ("tensordot int 0", lambda a, b: rt.tensordot_subscripts(a, b, 0), (2, 3), (4,)),
    ("tensordot pairs", lambda a, b: rt.tensordot_subscripts(a, b, ([0, 2], [1, 0])),
     (2, 3, 4), (4, 2, 5)),
    ("tensordot negative", lambda a, b: rt.tensordot_subscripts(a, b, (-1, 0)), (2, 3), (3, 4)),
    ("inner N-D", lambda a, b: rt.inner_subscripts(a, b), (2, 3, 4), (5, 4)),
    ("einsum batch", lambda a, b: "bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    ("einsum outer", lambda a, b: "i,j->ij", (3,), (4,)),
    ("einsum rowdot", lambda a, b: "ij,ij->i", (3, 4), (3, 4)),
    ("einsum transposed out", lambda a, b: "ij,jk->ki", (3, 4), (4, 5)),
]


@pytest.mark.parametrize("name, subscripts, sa, sb", GRADS_CASES, ids=[c[0] for c in GRADS_CASES])
def test_einsum_grads_fast_path_matches_einsum(name, subscripts, sa, sb):
    rng = np.random.default_rng(1)
    a, b = _rand(rng, sa), _rand(rng, sb)
    text = subscripts(a, b)
    g = rng.uniform(-1, 1, size=np.shape(np.einsum(text, a, b)))
    plan = rt._grads_plan(g, text, (a, b))
    assert all(d is not None for d in plan[2]), "the fast path is not taken"
    got = rt.einsum_grads(g, text, (a, b))
    for x, gx, ref in zip((a, b), got, _reference_grads(g, text, (a, b))):
        assert np.shape(gx) == np.shape(x)
        np.testing.assert_allclose(gx, ref, rtol=1e-12, atol=1e-12)


def test_einsum_grads_of_a_broadcast_operand_take_the_general_path():
    # einsum broadcasts a size-1 axis under a named letter; that gradient must be summed back
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(4, 1)), rng.normal(size=(3, 5))
    g = rng.normal(size=(4, 5))
    plan = rt._grads_plan(g, "ij,jk->ik", (a, b))
    assert plan[2] == (None, None)
    ga, gb = rt.einsum_grads(g, "ij,jk->ik", (a, b))
    np.testing.assert_allclose(ga, np.sum(g @ b.T, axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(gb, np.broadcast_to(a.T @ g, (3, 5)), rtol=1e-12)


def test_einsum_grads_symbolic_zero():
    # zeros shaped like each operand (their second derivatives need the shapes:
    # tests/test_second_order_loops.py)
    a, b = rt.einsum_grads(0.0, "ij,jk->ik", (np.ones((2, 3)), np.ones((3, 4))))
    assert a.shape == (2, 3) and b.shape == (3, 4) and not a.any() and not b.any()


# ---------------------------------------------------------------- user functions in every mode


def dot_loss(a, b):
    return np.sum(np.sin(np.dot(a, b)))


def method_dot_loss(a, b):
    return np.sum(np.sin(a.dot(b)))


def tensordot_int_loss(a, b):
    return np.sum(np.sin(np.tensordot(a, b, 2)))


def tensordot_one_loss(a, b):
    return np.sum(np.sin(np.tensordot(a, b, 1)))


def tensordot_outer_loss(a, b):
    return np.sum(np.sin(np.tensordot(a, b, 0)))


def tensordot_pair_loss(a, b):
    return np.sum(np.sin(np.tensordot(a, b, axes=([0, 2], [1, 0]))))


def tensordot_negative_loss(a, b):
    return np.sum(np.sin(np.tensordot(a, b, axes=(-1, 0))))


def inner_loss(a, b):
    return np.sum(np.sin(np.inner(a, b)))


def outer_loss(a, b):
    return np.sum(np.sin(np.outer(a, b)))


def vdot_loss(a, b):
    return np.sin(np.vdot(a, b))


def einsum_matmul_loss(a, b):
    return np.sum(np.sin(np.einsum("ij,jk->ik", a, b)))


def einsum_batch_loss(a, b):
    return np.sum(np.sin(np.einsum("bij,bkj->bki", a, b)))


def einsum_outer_loss(a, b):
    return np.sum(np.sin(np.einsum("i,j->ij", a, b)))


def einsum_sum_one_side_loss(a, b):
    return np.sum(np.sin(np.einsum("ij,kl->ik", a, b)))


def einsum_three_loss(a, b):
    return np.sum(np.sin(np.einsum("ij,jk,kl->il", a, b, a.T)))


USER_CASES = [
    (dot_loss, (3, 4), (4, 2)),
    (dot_loss, (4,), (4,)),
    (dot_loss, (3, 4), (4,)),
    (dot_loss, (4,), (4, 2)),
    (dot_loss, (2, 3, 4), (2, 4, 3)),
    (dot_loss, (2, 3, 4), (4,)),
    (dot_loss, (4,), (2, 4, 3)),
    (dot_loss, None, (3, 2)),
    (dot_loss, (3, 2), None),
    (method_dot_loss, (3, 4), (4, 2)),
    (tensordot_int_loss, (2, 3, 4), (3, 4, 2)),
    (tensordot_one_loss, (3, 4), (4, 2)),
    (tensordot_outer_loss, (3,), (2, 2)),
    (tensordot_pair_loss, (2, 3, 4), (4, 2, 3)),
    (tensordot_negative_loss, (3, 4), (4, 2)),
    (inner_loss, (3, 4), (2, 4)),
    (inner_loss, (4,), (4,)),
    (outer_loss, (3,), (2, 2)),
    (vdot_loss, (2, 3), (3, 2)),
    (einsum_matmul_loss, (3, 4), (4, 2)),
    (einsum_batch_loss, (2, 3, 4), (2, 2, 4)),
    (einsum_outer_loss, (3,), (4,)),
    (einsum_sum_one_side_loss, (3, 2), (4, 2)),
    (einsum_three_loss, (3, 4), (4, 4)),
]
USER_IDS = [f"{f.__name__}-{sa}-{sb}" for f, sa, sb in USER_CASES]


def _args(sa, sb, seed=5):
    rng = np.random.default_rng(seed)
    return [_rand(rng, sa), _rand(rng, sb)]


def _moved(args, tangents, h):
    out = []
    for x, t in zip(args, tangents):
        y = x + h * t
        out.append(float(y) if isinstance(x, float) else y)
    return out


def _directions(args, seed=9):
    rng = np.random.default_rng(seed)
    return [float(rng.normal()) if isinstance(x, float) else rng.normal(size=np.shape(x))
            for x in args]


def _differences(fn, args, i, step, extra=()):
    """Central differences of ``fn(*args, *extra)`` in each element of ``args[i]``."""
    x = args[i]
    fd = np.zeros(np.shape(x))
    for idx in np.ndindex(np.shape(x)):
        e = np.zeros(np.shape(x))
        e[idx] = 1.0
        t = [0.0 * np.asarray(y) for y in args]
        t[i] = float(e) if isinstance(x, float) else e
        fd[idx] = (fn(*_moved(args, t, step), *extra) - fn(*_moved(args, t, -step), *extra)) \
            / (2 * step)
    return fd


def _close(got, expected, tol=TOL):
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    assert got.shape == expected.shape
    scale = 1.0 + float(np.max(np.abs(expected), initial=0.0))
    assert float(np.max(np.abs(got - expected), initial=0.0)) / scale < tol


@pytest.mark.parametrize("f, sa, sb", USER_CASES, ids=USER_IDS)
def test_reverse_matches_central_differences(f, sa, sb):
    args = _args(sa, sb)
    grads = sd.grad(f, wrt=(0, 1))(*args)
    for i, (x, gx) in enumerate(zip(args, grads)):
        assert np.shape(gx) == np.shape(x)
        _close(gx, _differences(f, args, i, STEP))


@pytest.mark.parametrize("f, sa, sb", USER_CASES, ids=USER_IDS)
def test_forward_matches_central_differences(f, sa, sb):
    args = _args(sa, sb)
    tangents = _directions(args)
    _, out_dot = sd.jvp(f, tuple(args), tuple(tangents))
    fd = (f(*_moved(args, tangents, STEP)) - f(*_moved(args, tangents, -STEP))) / (2 * STEP)
    _close(out_dot, fd)


@pytest.mark.parametrize("f, sa, sb", USER_CASES, ids=USER_IDS)
def test_hvp_matches_central_differences_of_the_gradient(f, sa, sb):
    args = _args(sa, sb)
    tangents = _directions(args)
    hv = sd.hvp(f, tuple(args), tuple(tangents))
    df = sd.grad(f, wrt=(0, 1))
    up, down = df(*_moved(args, tangents, 1e-5)), df(*_moved(args, tangents, -1e-5))
    for h, u, d in zip(hv, up, down):
        _close(h, (np.asarray(u) - np.asarray(d)) / 2e-5, tol=1e-5)


def _grad_of_grad(f):
    df = sd.grad(f, wrt=(0, 1))

    def weighted(a, b, ca, cb):
        ga, gb = df(a, b)
        return np.sum(ga * ca) + np.sum(gb * cb)

    return weighted


@pytest.mark.parametrize("f, sa, sb", USER_CASES, ids=USER_IDS)
def test_grad_of_grad_matches_central_differences(f, sa, sb):
    args = _args(sa, sb)
    rng = np.random.default_rng(4)
    weights = [float(rng.normal()) if isinstance(x, float) else rng.normal(size=np.shape(x))
               for x in args]
    h = _grad_of_grad(f)
    got = sd.grad(h, wrt=(0, 1))(*args, *weights)
    for i, gx in enumerate(got):
        _close(gx, _differences(h, args, i, 1e-5, weights), tol=1e-5)


def test_tape_mode_dot_gradients():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    ta, tb = sd.tensor(a, requires_grad=True), sd.tensor(b, requires_grad=True)
    loss = np.sum(np.sin(np.dot(ta, tb)))
    loss.backward()
    ga, gb = sd.grad(dot_loss, wrt=(0, 1))(a, b)
    np.testing.assert_allclose(np.asarray(ta.grad.data if hasattr(ta.grad, "data") else ta.grad),
                               ga, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(tb.grad.data if hasattr(tb.grad, "data") else tb.grad),
                               gb, rtol=1e-12)


# ---------------------------------------------------------------- the pytree MLP of benchmark W7


def mlp(params, x):
    h = x
    for w, b in params[:-1]:
        h = np.tanh(np.dot(h, w) + b)
    w, b = params[-1]
    return np.sum(np.dot(h, w) + b) ** 2


def mlp_matmul(params, x):
    h = x
    for w, b in params[:-1]:
        h = np.tanh(h @ w + b)
    w, b = params[-1]
    return np.sum(h @ w + b) ** 2


def test_pytree_mlp_with_dot_equals_matmul_version():
    rng = np.random.default_rng(8)
    sizes = [5, 4, 3, 2]
    params = [(rng.normal(size=(m, n)) * 0.5, rng.normal(size=n) * 0.1)
              for m, n in zip(sizes[:-1], sizes[1:])]
    x = rng.normal(size=(6, 5))
    got = sd.grad(mlp)(params, x)
    ref = sd.grad(mlp_matmul)(params, x)
    assert isinstance(got, list) and len(got) == 3
    for (gw, gb), (rw, rb) in zip(got, ref):
        np.testing.assert_allclose(gw, rw, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gb, rb, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- the specializer


def _same(a, b):
    if isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
        return
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("f, sa, sb", USER_CASES, ids=USER_IDS)
def test_specialized_gradient_equals_the_generic_one(f, sa, sb):
    args = _args(sa, sb, seed=12)
    df = sd.grad(f, wrt=(0, 1))
    _same(df(*args), df.__wrapped__(*args))


def test_specialized_dot_facts_keep_dtypes():
    rng = np.random.default_rng(13)
    for dtype in (np.float32, np.float64):
        for sa, sb in (((3, 4), (4, 2)), ((2, 3, 4), (2, 4, 3)), ((3, 4), (4,))):
            a, b = rng.normal(size=sa).astype(dtype), rng.normal(size=sb).astype(dtype)
            df = sd.grad(dot_loss, wrt=(0, 1))
            _same(df(a, b), df.__wrapped__(a, b))
            df = sd.grad(tensordot_negative_loss, wrt=(0, 1))
            if len(sa) == 2:
                _same(df(a, b), df.__wrapped__(a, b))


def linear_readout(x, w, b):
    return np.sum((np.dot(x, w) + b) ** 2)


def linear_readout_matmul(x, w, b):
    return np.sum((x @ w + b) ** 2)


def test_specialized_2d_dot_is_the_matmul_code():
    rng = np.random.default_rng(14)
    x, w, b = rng.normal(size=(5, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    df = sd.grad(linear_readout, wrt=(1, 2))
    text = sd.source(df, x, w, b)
    assert "dot_grad" not in text and "dot_subscripts" not in text and "x.T @" in text
    # the data x needs no gradient: neither the generic nor the specialized code computes one
    assert "dot_grad_left" not in sd.source(df)
    reference = sd.grad(linear_readout_matmul, wrt=(1, 2))(x, w, b)
    _same(df(x, w, b), reference)
    # the code after the product is specialized too (no shape helpers left), as with @
    text_mm = sd.source(sd.grad(linear_readout_matmul, wrt=(1, 2)), x, w, b)
    assert text.count("_sd.") == text_mm.count("_sd.")


def test_tensordot_axes_must_be_known_to_specialize():
    from sourcediff.specialize import facts

    f = facts.Known(1)
    a, b = facts.Arr((3, 4), np.float64), facts.Arr((4, 2), np.float64)
    assert facts._subscripts_fact(rt.tensordot_subscripts, [a, b, f], {}).value == \
        rt.tensordot_subscripts(np.ones((3, 4)), np.ones((4, 2)), 1)
    assert facts._subscripts_fact(rt.tensordot_subscripts, [a, b, facts.ANYINT],
                                       {}) is facts.TOP
    # sizes that do not match under the subscripts (einsum's size-1 broadcasting): no fact
    g = facts.Arr((3, 2), np.float64)
    bad = facts.Arr((1, 2), np.float64)
    sub = facts.Known("ab,bd->ad")
    assert facts._dot_helper_fact(rt.dot_grad_left, [g, sub, a, bad], {}) is facts.TOP
    assert facts._dot_helper_fact(rt.dot_grad_left, [g, sub, a, b], {}) == a


def test_dask_operands_keep_to_einsum_and_stay_lazy():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(15)
    x, w = rng.normal(size=(40, 3)), rng.normal(size=(3, 2))
    b = rng.normal(size=2)
    X = da.from_array(x, chunks=(10, 3))
    df = sd.grad(linear_readout, wrt=(1, 2))
    gw, gb = df(X, w, b)
    assert hasattr(gw, "__dask_graph__") or isinstance(gw, np.ndarray)
    rw, rb = df(x, w, b)
    np.testing.assert_allclose(np.asarray(gw), rw, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gb), rb, rtol=1e-12)
    g = da.from_array(rng.normal(size=(40, 2)), chunks=(10, 2))
    for helper in (rt.dot_grad_left, rt.dot_grad_right):
        got = helper(g, "ab,bd->ad", X, w)
        assert hasattr(got, "__dask_graph__")  # not computed by the helper
        np.testing.assert_allclose(got.compute(), helper(g.compute(), "ab,bd->ad", x, w),
                                   rtol=1e-12)
