"""review33: dtypes, scalar types, empty and degenerate shapes, special values.

np.fmax / np.fmin skip a nan: ``np.fmax(x, nan)`` is ``x``, so its derivative in ``x`` is 1. The
rule shared np.maximum's mask (``x > y``, 0.5 at ties), which is 0 against a nan, and every mode
(reverse, generic, forward, the tape, numba) silently gave 0 there (PyTorch's FmaxBackward0, JAX
and finite differences: 1)."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import compiled
from sourcediff.tape import grad_of

from .oracles import check_grads_fd

NAN_DATA = np.array([[np.nan, 1.0, 0.0], [np.nan, -3.0, np.nan]])
WEIGHTS = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
X = np.array([[0.5, 0.2, 2.0], [1.0, -1.0, 3.0]])


def fmax_nan_data(x):
    return np.sum(np.fmax(x * x, NAN_DATA) * WEIGHTS)


def fmin_nan_data(x):
    return np.sum(np.fmin(NAN_DATA, np.sin(x)) * WEIGHTS)


def fmax_nan_scalar(x):
    return np.fmax(x, np.nan) * 3.0 + np.fmin(np.nan, x * x)


def _modes(f, args):
    yield "reverse", sd.grad(f)(*args)
    yield "forward", sd.grad(f, mode="forward")(*args)
    yield "tape", grad_of(f, args)
    old = compiled._SPECIALIZE
    compiled._SPECIALIZE = "0"
    try:
        compiled.clear_cache()
        yield "generic", sd.grad(f)(*args)
    finally:
        compiled._SPECIALIZE = old
        compiled.clear_cache()


@pytest.mark.parametrize("f,x", [(fmax_nan_data, X), (fmin_nan_data, X), (fmax_nan_scalar, 1.5)],
                         ids=["fmax", "fmin", "scalar"])
def test_fmax_fmin_skip_a_nan_in_every_mode(f, x):
    for mode, g in _modes(f, (x,)):
        assert np.all(np.isfinite(g)), mode
        check_grads_fd(f, (x,), (0,), (g,))


def test_fmax_fmin_match_torch():
    torch = pytest.importorskip("torch")
    t = torch.tensor(X, requires_grad=True)
    d = torch.tensor(NAN_DATA)
    w = torch.tensor(WEIGHTS)
    (torch.sum(torch.fmax(t * t, d) * w) + torch.sum(torch.fmin(d, torch.sin(t)) * w)).backward()

    def both(x):
        return fmax_nan_data(x) + fmin_nan_data(x)

    np.testing.assert_allclose(sd.grad(both)(X), t.grad.numpy(), rtol=1e-12)


def fmax_fmin_of(x, d, w):
    return np.sum(np.fmax(x * x, d) * w) + np.sum(np.fmin(d, np.sin(x)) * w)


def test_fmax_with_nan_compiles_with_numba():
    pytest.importorskip("numba")
    pytest.importorskip("scipy")
    dg = sd.grad(fmax_fmin_of, backend="numba")
    g = dg(X, NAN_DATA, WEIGHTS)
    check_grads_fd(fmax_fmin_of, (X, NAN_DATA, WEIGHTS), (0,), (g,))
    assert [r["backend"] for r in dg.jit_log] == ["numba"]


def test_fmax_with_nan_on_dask():
    da = pytest.importorskip("dask.array")
    g = sd.grad(fmax_nan_data)(da.from_array(X, chunks=(1, 3)))
    np.testing.assert_allclose(np.asarray(g), sd.grad(fmax_nan_data)(X), rtol=1e-12)


# ------------------------------------------------ np.mean of an empty array
# (numpy gives nan; reverse mode raised ZeroDivisionError from `g / _sd.reduced_count(a, axis)`,
# 1.0 / 0, where the gradient is an empty array: reduced_count is now at least 1)

def mean_of_empty(x):
    return np.mean(x ** 2)


def mean_of_empty_axis(x):
    return np.sum(np.mean(x, axis=1)) + np.var(x)


@pytest.mark.parametrize("f,x", [(mean_of_empty, np.zeros(0)), (mean_of_empty, np.zeros((2, 0))),
                                 (mean_of_empty_axis, np.zeros((3, 0)))])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_mean_of_an_empty_array_has_an_empty_gradient(f, x):
    for mode, g in _modes(f, (x,)):
        assert g.shape == x.shape and g.dtype == x.dtype, mode


# ------------------------------------------------ a list's numpy scalars in forward mode
# (sd.grad(f, mode="forward") gave the np.float32 leaf of a list a 0-d array and the np.float64
# leaf a Python float; reverse mode and the tape give each leaf its own type)

def of_a_list(p):
    return p[0] * np.sum(p[1] ** 2) + p[2] ** 3 + np.sum(p[3]) * p[4]


def test_list_leaves_keep_their_types_in_every_mode():
    p = [1.5, np.array([1.0, 2.0], np.float32), np.float32(0.5), np.array(2.0), np.float64(3.0)]
    want = [float, np.ndarray, np.float32, np.ndarray, np.float64]
    for mode, g in _modes(of_a_list, (p,)):
        assert [type(v) for v in g] == want, mode
        assert [np.shape(v) for v in g] == [np.shape(v) for v in p], mode
        assert [np.asarray(v).dtype for v in g] == [np.asarray(v).dtype for v in p], mode
        np.testing.assert_allclose(np.concatenate([np.ravel(v) for v in g]),
                                   [5.0, 3.0, 6.0, 0.75, 3.0, 2.0], rtol=1e-6)


# ------------------------------------------------ a tangent's dtype in sd.jvp
# (a np.float32 tangent of a Python float argument made the whole forward pass float32, as numpy
# keeps the Python float weak: the derivative of sin(x) * x ** 2 at 0.7 came back 1.2766774185
# against 1.2766774339; the tangent now takes its argument's float dtype, as JAX requires)

def sin_x2(x):
    return np.sum(np.sin(x) * x ** 2)


@pytest.mark.parametrize("x,t", [(0.7, np.float32(1.0)), (np.float64(0.7), np.float32(1.0)),
                                 (np.array([0.7, 0.2]), np.ones(2, np.float32))])
def test_a_float32_tangent_does_not_lower_a_float64_jvp(x, t):
    _, out_dot = sd.jvp(sin_x2, (x,), (t,))
    _, want = sd.jvp(sin_x2, (x,), (np.asarray(t, dtype=np.float64) if np.ndim(t) else 1.0,))
    assert out_dot == want


# ------------------------------------------------ a complex-valued loss
# (sd.grad of np.sum(x) * 1j gave [0, 0, 0], of np.sum(x ** 2) * (1 + 2j) and of
# np.sum(np.exp(1j * x)) the real part's gradient, silently, in every mode; autograd, JAX and
# PyTorch refuse a complex output. A full reduction's value is not computed in grad mode: its
# operand's dtype is checked, _sd.check_real, which the specializer drops for a real one)

def complex_scaled(x):
    return np.sum(x) * 1j


def complex_product(x):
    return np.sum(x ** 2) * (1 + 2j)


def complex_sum(x):
    return np.sum(np.exp(1j * x))


@pytest.mark.parametrize("f", [complex_scaled, complex_product, complex_sum])
@pytest.mark.parametrize("specialize", ["1", "0"])
def test_a_complex_output_is_refused(f, specialize, monkeypatch):
    monkeypatch.setattr(compiled, "_SPECIALIZE", specialize)
    compiled.clear_cache()
    from sourcediff.errors import NonScalarOutputError
    x = np.array([0.5, -1.0, 2.0])
    for run in (lambda: sd.grad(f)(x), lambda: sd.grad(f, mode="forward")(x),
                lambda: sd.value_and_grad(f)(x)):
        with pytest.raises(NonScalarOutputError, match="complex"):
            run()
    # (the tape's grad_of still differentiates the real part of a complex output: the rule
    # tests pair complex results with complex cotangents through it, tests/test_rule_modes.py)


def test_a_real_full_reduction_keeps_no_check_in_the_specialized_code():
    def loss(w, x):
        return np.sum((x @ w - 1.0) ** 2)

    w, x = np.ones(3), np.ones((4, 3))
    assert "check_real" in sd.source(sd.grad(loss))
    assert "check_real" not in sd.source(sd.grad(loss), w, x)
    np.testing.assert_allclose(sd.grad(loss)(w, x), 2 * x.T @ (x @ w - 1.0))


def test_fmax_second_order_on_the_tape_matches_torch():
    # (fwin_mask, called on tape Tensors under create_graph=True, turned its result into a float)
    torch = pytest.importorskip("torch")
    import sourcediff.tape as T
    d = np.array([np.nan, 1.0, 0.5])
    for fn, tfn in [(np.fmax, torch.fmax), (np.fmin, torch.fmin)]:
        x = T.tensor(np.array([0.3, 2.0, 0.1]), dtype=T.float64, requires_grad=True)
        (g,) = T.grad((fn(x * x, d) ** 2).sum(), [x], create_graph=True)
        (h,) = T.grad((g * g).sum(), [x])
        xt = torch.tensor([0.3, 2.0, 0.1], dtype=torch.float64, requires_grad=True)
        (gt,) = torch.autograd.grad((tfn(xt * xt, torch.tensor(d)) ** 2).sum(), [xt],
                                    create_graph=True)
        (ht,) = torch.autograd.grad((gt * gt).sum(), [xt])
        np.testing.assert_allclose(g.detach().numpy(), gt.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-12)
