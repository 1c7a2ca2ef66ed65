"""The specializer's shifted log-sum-exp (``specialize/shifts.py``): the gradient through the
shift ``m`` of ``m + log(sum(exp(x - m)))`` is zero and is dropped. Checked against finite
differences, torch, and the same gradient without the pass (a tolerance: the dropped term was
zero up to rounding), on rows with ties in the max, -inf entries, large logits and non-finite
rows; and the cases where the shift's derivative is not zero keep it."""

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd
from tests.passes_off import with_and_without


def _with_and_without(fn, args, wrt):
    return with_and_without(fn, args, wrt, {"shifted sums"})


def cross_entropy(x, w1, b1, w2, b2, labels):
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    m = np.max(logits, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    logp = logits - lse
    return -np.mean(logp[np.arange(x.shape[0]), labels])


def weighted_lse(z, c):
    m = np.max(z, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    return np.sum(c * lse)


def _ce_args(rng):
    return (rng.normal(size=(12, 7)), rng.normal(size=(7, 6)) * 0.5, rng.normal(size=6) * 0.1,
            rng.normal(size=(6, 4)) * 0.5, rng.normal(size=4) * 0.1, rng.integers(0, 4, 12))


def test_the_cross_entropy_drops_the_max_path_and_keeps_its_gradient():
    args = _ce_args(np.random.default_rng(0))
    (src, g), (src_without, g_without) = _with_and_without(cross_entropy, args, (1, 2, 3, 4))
    assert "extremum_weights" in src_without and "m_bar" in src_without
    assert "extremum_weights" not in src and "m_bar" not in src, src
    check_grads_fd(cross_entropy, list(args), (1, 2, 3, 4), g)
    for a, b in zip(g, g_without):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    torch = pytest.importorskip("torch")
    t = [torch.tensor(a, requires_grad=k in (1, 2, 3, 4)) for k, a in enumerate(args[:5])]
    logits = torch.tanh(t[0] @ t[1] + t[2]) @ t[3] + t[4]
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(args[5]))
    oracle = torch.autograd.grad(loss, t[1:5])
    for a, b in zip(g, oracle):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-10, atol=1e-14)


def _edge_rows():
    z = np.random.default_rng(1).normal(size=(7, 5))
    z[0] = [2.0, 2.0, -1.0, 2.0, 0.5]          # a three-way tie in the max
    z[1] = [0.3, 0.3, 0.3, 0.3, 0.3]           # every entry the max
    z[2] = [-np.inf, 1.0, -np.inf, 0.0, 1.0]   # -inf entries, a tie
    z[3] = [700.0, 650.0, 710.0, 710.0, -800.0]  # exp would overflow without the shift
    z[4] = [1e300, -1e300, 1e300, 0.0, 5e299]  # huge logits, a tie
    return z


def test_ties_inf_and_large_logits_match_torch_and_the_code_without_the_pass():
    torch = pytest.importorskip("torch")
    z, c = _edge_rows(), np.random.default_rng(2).normal(size=(7, 1))
    (src, (g,)), (_, (g_without,)) = _with_and_without(weighted_lse, (z, c), (0,))
    assert "extremum_weights" not in src
    np.testing.assert_allclose(g, g_without, rtol=1e-12, atol=1e-15)
    zt = torch.tensor(z, requires_grad=True)
    (oracle,) = torch.autograd.grad(torch.sum(torch.tensor(c) * torch.logsumexp(zt, 1, True)),
                                    zt)
    # (torch's gradient at row 4 is exp(x - lse) with lse rounded to 1e300: 1 at each of the
    # two tied entries; the closed-form softmax there is 1/2 each)
    rows = [0, 1, 2, 3, 5, 6]
    np.testing.assert_allclose(g[rows], oracle.numpy()[rows], rtol=1e-12, atol=1e-15)
    e = np.exp(z[4] - z[4].max())
    np.testing.assert_allclose(g[4], c[4] * e / e.sum(), rtol=1e-12, atol=1e-15)
    # at the ties the max is not differentiable, the log-sum-exp is: finite differences agree
    finite = z[[0, 1, 3]]
    (g_finite,) = sd.grad(weighted_lse, wrt=(0,))(finite, c[[0, 1, 3]])
    check_grads_fd(weighted_lse, [finite, c[[0, 1, 3]]], (0,), (g_finite,), directions=4)


def test_non_finite_rows_are_nan_with_and_without_the_pass():
    z = np.random.default_rng(3).normal(size=(4, 3))
    z[1] = -np.inf  # m = -inf: x - m is nan
    z[2, 1] = np.inf  # m = inf
    z[3, 0] = np.nan
    c = np.ones((4, 1))
    with np.errstate(invalid="ignore"):
        (src, (g,)), (_, (g_without,)) = _with_and_without(weighted_lse, (z, c), (0,))
    assert "extremum_weights" not in src
    np.testing.assert_array_equal(np.isnan(g), np.isnan(g_without))
    assert np.isnan(g[1:]).all() and np.isfinite(g[0]).all()
    np.testing.assert_allclose(g[0], g_without[0], rtol=1e-12, atol=1e-15)


def scalar_shift(z):
    m = np.max(z)  # one value for every row: each row's sum is still invariant to it
    lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    return np.sum(lse * lse)


def two_statement_shift(z, c):
    m = np.max(z, axis=-1, keepdims=True)
    shifted = z - m
    total = np.exp(shifted).sum(axis=-1, keepdims=True)
    return np.sum(c * (np.log(total) + m))


@pytest.mark.parametrize("fn,args", [
    (scalar_shift, (np.random.default_rng(4).normal(size=(5, 3)),)),
    (two_statement_shift, (np.random.default_rng(5).normal(size=(2, 5, 3)),
                           np.random.default_rng(6).normal(size=(5, 1)))),
])
def test_other_spellings_of_the_shifted_sum_fire(fn, args):
    (src, g), (_, g_without) = _with_and_without(fn, args, (0,))
    assert "extremum_weights" not in src, src
    check_grads_fd(fn, list(args), (0,), g, directions=4)
    np.testing.assert_allclose(g[0], g_without[0], rtol=1e-12, atol=1e-15)


def exp_read_twice(z, c):
    m = np.max(z, axis=1, keepdims=True)
    e = np.exp(z - m)
    lse = m + np.log(np.sum(e, axis=1, keepdims=True))
    return np.sum(lse) + np.sum(c * e)  # e depends on m: its path through m is not zero


def shift_along_another_axis(z):
    m = np.max(z, axis=0, keepdims=True)  # varies along axis 1, the summed one
    lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    return np.sum(lse * lse)


def lse_times_z(z):
    m = np.max(z, axis=1, keepdims=True)
    return np.sum(m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True)) * z)


def shift_read_again(z):
    m = np.max(z, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    return np.sum(lse * lse) + np.sum(m * m)  # m's own gradient stays


def shift_written_between(z):
    m = np.max(z, axis=1, keepdims=True)
    shifted = z - m
    m[0] = 0.0  # lse's first row adds 0, not the max it shifted by: no longer invariant
    lse = m + np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return np.sum(lse * lse)


@pytest.mark.parametrize("fn,extra", [(exp_read_twice, (np.arange(4.0),)),
                                      (shift_written_between, ()),
                                      (shift_along_another_axis, ()), (lse_times_z, ()),
                                      (shift_read_again, ())])
def test_where_the_shift_matters_the_path_stays(fn, extra):
    args = (np.random.default_rng(7).normal(size=(3, 4)),) + extra
    (src, g), (src_without, _) = _with_and_without(fn, args, (0,))
    assert "extremum_weights" in src, src
    check_grads_fd(fn, list(args), (0,), g, directions=4)


def squared_lse(z):
    m = np.max(z, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    return np.sum(lse * lse)


def test_second_derivatives_through_the_shifted_sum_match_torch():
    torch = pytest.importorskip("torch")
    z = np.random.default_rng(8).normal(size=(3, 4))
    z[0, :2] = 2.0  # a tie in the max
    sd.clear_cache()
    hessian = sd.hessian(squared_lse)(z)
    grad_of_grad = sd.grad(lambda v: np.sum(sd.grad(squared_lse)(v) ** 2))(z)
    zt = torch.tensor(z, requires_grad=True)
    oracle = torch.autograd.functional.hessian(
        lambda t: torch.sum(torch.logsumexp(t, 1) ** 2), zt).numpy()
    np.testing.assert_allclose(hessian, oracle, rtol=1e-10, atol=1e-13)
    g = torch.autograd.grad(torch.sum(torch.logsumexp(zt, 1) ** 2), zt, create_graph=True)[0]
    (g2,) = torch.autograd.grad(torch.sum(g ** 2), zt)
    np.testing.assert_allclose(grad_of_grad, g2.numpy(), rtol=1e-10, atol=1e-13)
