"""review36: second derivatives through the rules' runtime helpers, and rules people call.

A rule whose body calls a helper of sourcediff's runtime (``_sd.interp_grads``,
``_sd.quantile_grad``, ...) was refused at second order ("sourcediff's helper ... has no
derivative rule yet"): grad of grad, sd.hessian and sd.hvp of a loss calling np.interp,
np.trapezoid, np.linalg.lstsq, np.linalg.matrix_power, np.quantile / np.median, np.gradient,
np.cov, np.average, np.linalg.eigvalsh or np.linalg.svd. Such a helper is now differentiated from
its own source, as a user function is; these tests compare with JAX's hessian (x64) and finite
differences.

A method called on a local name or parameter is read as the ndarray method of that name: with
``def f(x, np=np)`` (or ``xp=np``, or a module passed as an argument), ``np.sum(np.sin(x) * x)``
was read as the array method ``np.sum(axis=...)`` of ``np``, whose axis carries no derivative, and
every mode silently gave a zero gradient (sd.grad, forward, sd.hessian: [0, 0] for
[0.582, 1.367]). A value that depends on wrt reaching an argument without a derivative of such a
method is refused now, naming the line and the fix (a module a parameter's default or a local
names reads as that module since review55: only a module passed without a default is refused)."""

import types

import numpy as np
import pytest

import sourcediff as sd

from .oracles import check_grads_fd

XS = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
YS = np.array([1.0, 2.5, 2.9, 4.2, 6.1])
X5 = np.array([[1.0, 0.5], [1.0, 1.5], [1.0, 2.2], [1.0, 3.1], [1.0, 4.0]])
A = np.array([[2.0, 0.5, 0.1], [0.3, 1.5, 0.2], [0.1, 0.4, 1.1]])
W = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.0], [2.0, 0.1, 0.4]])
V3 = np.array([0.3, 1.2, 2.5])
AT = np.array([0.5, 1.7, 3.2])


def interp_fp(y):
    return np.sum(np.interp(AT, XS, y) ** 2 * y[:3])


def interp_x(x):
    return np.sum(np.interp(x, XS, YS) ** 2 * x)


def interp_xp(xp):
    return np.sum(np.interp(AT, xp, YS) ** 2)


def trapezoid_y(y):
    return np.trapezoid(y ** 3, XS)


def trapezoid_x(x):
    return np.trapezoid(YS ** 2, x) * np.sum(x)


def lstsq_b(b):
    return np.sum(np.linalg.lstsq(X5, b * b, rcond=None)[0] ** 2)


def lstsq_a(a):
    return np.sum(np.linalg.lstsq(a, YS, rcond=None)[0] ** 2)


def matrix_power(a):
    return np.sum(np.linalg.matrix_power(a, 3) * W)


def quantile(x):
    return np.quantile(x ** 3, 0.3) + np.median(x ** 2) * np.percentile(x, 70.0)


def gradient(x):
    return np.sum(np.gradient(x ** 2) ** 2)


def cov(a):
    return np.sum(np.cov(a) * W)


def average(w):
    return np.average(V3 * w, weights=w) + np.sum(np.average(W * w, axis=1, weights=w ** 2))


def eigvalsh(a):
    return np.sum(np.linalg.eigvalsh(a + a.T) * V3)


def svd_values(a):
    return np.sum(np.linalg.svd(a, compute_uv=False) * V3)


CASES = [(interp_fp, YS), (interp_x, AT), (interp_xp, XS + 0.05), (trapezoid_y, YS),
         (trapezoid_x, XS + 0.1 * XS ** 2), (lstsq_b, YS), (lstsq_a, X5), (matrix_power, A),
         (quantile, YS), (gradient, YS), (cov, A), (average, V3), (eigvalsh, A), (svd_values, A)]


def _jax_hessian(f, x):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    on_jax = types.FunctionType(f.__code__, {**f.__globals__, "np": jnp})
    return np.asarray(jax.hessian(on_jax)(jnp.asarray(x)))


def _fd_hessian(f, x, h=1e-5):
    df = sd.grad(f)
    flat = x.ravel()
    cols = []
    for i in range(flat.size):
        e = np.zeros(flat.size)
        e[i] = h
        cols.append(((df((flat + e).reshape(x.shape)) - df((flat - e).reshape(x.shape))) /
                     (2 * h)).ravel())
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("f,x", CASES, ids=[f.__name__ for f, _ in CASES])
def test_second_order_through_helpers(f, x):
    H = np.asarray(sd.hessian(f)(x)).reshape(x.size, x.size)
    want = _jax_hessian(f, x) if f not in (lstsq_a, lstsq_b) else _fd_hessian(f, x)
    want = want.reshape(x.size, x.size)
    np.testing.assert_allclose(H, want, rtol=1e-6, atol=1e-8)
    v = np.linspace(0.3, 1.1, x.size).reshape(x.shape)
    np.testing.assert_allclose(np.ravel(sd.hvp(f, (x,), (v,))), want @ v.ravel(), rtol=1e-6,
                               atol=1e-8)
    df = sd.grad(f)

    def along(y):
        return np.sum(df(y) * v)

    np.testing.assert_allclose(np.ravel(sd.grad(along)(x)), want @ v.ravel(), rtol=1e-6,
                               atol=1e-8)
    check_grads_fd(f, (x,), (0,), (sd.grad(f)(x),))


def multi_dot(a):
    return np.sum(np.linalg.multi_dot([a, W, a]))


def test_a_helper_whose_source_is_not_differentiable_is_refused_by_name():
    with pytest.raises(sd.SourcediffError, match=r"^test_review36\.py:\d+: sourcediff has no "
                       r"derivative of the derivative of np.linalg.multi_dot: its rule computes "
                       r"the first one with _sd\.multi_dot_grads"):
        sd.hessian(multi_dot)(A)


def module_as_default(x, np=np):
    return np.sum(np.sin(x) * x)


def module_as_argument(x, ops):
    return ops.sum(ops.sin(x) * x)


def module_as_local(x):
    xp = np
    return xp.mean(xp.exp(x) * x)


def test_a_module_read_through_a_parameter_without_a_default_is_refused_not_a_zero_gradient():
    x = np.array([0.3, 1.2])
    for make in (sd.grad, lambda g: sd.grad(g, mode="forward"), sd.hessian):
        with pytest.raises(sd.SourcediffError, match=r"test_review36\.py:\d+(.|\n)*is read as "
                           r"the ndarray method(.|\n)*call the function through a name bound"):
            make(module_as_argument)(x, np)


@pytest.mark.parametrize("f", [module_as_default, module_as_local], ids=["default", "local"])
def test_a_module_read_through_a_default_or_a_local_is_the_modules(f):
    """(review55) A parameter whose default is numpy, and a local bound to it, read as numpy."""
    x = np.array([0.3, 1.2])
    g = sd.grad(f)(x)
    check_grads_fd(f, (x,), (0,), (g,))
    assert np.allclose(sd.grad(f, mode="forward")(x), g, rtol=1e-12)
    h = sd.hessian(f)(x)
    for k in range(2):
        e = np.eye(2)[k] * 1e-6
        fd = (sd.grad(f)(x + e) - sd.grad(f)(x - e)) / 2e-6
        assert np.allclose(h[:, k], fd, rtol=1e-5, atol=1e-8)


DATA = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.3]])


def uses_methods(w, data):
    return np.sum(data.dot(w[:2]) * w) + w.sum() * data.mean()


def test_array_methods_on_parameters_still_work():
    x = np.array([0.3, 1.2, 2.5])
    check_grads_fd(uses_methods, (x, DATA), (0,), (sd.grad(uses_methods)(x, DATA),))


# ---------------------------------------------------------------- scipy.special rules (review36)

P3 = np.array([0.2, 0.5, 1.3])
Q3 = np.array([0.1, 0.6, 0.9])


try:
    import scipy.special as sp
except ImportError:  # pragma: no cover
    sp = None


def special_functions(x):
    return (np.sum(sp.log_expit(x) * x) + np.sum(sp.entr(x)) + np.sum(sp.rel_entr(x, Q3))
            + np.sum(sp.kl_div(P3, x)) + np.sum(sp.erfcx(x) * x) + np.sum(sp.i0(x) * sp.i1(x))
            + np.sum(sp.i0e(x) + sp.i1e(x) * x) + np.sum(np.i0(x)))


def test_scipy_special_rules_against_torch_every_order():
    torch = pytest.importorskip("torch")
    pytest.importorskip("scipy")
    x = np.array([0.3, 1.2, 2.5])

    def on_torch(t):
        q, p = torch.tensor(Q3), torch.tensor(P3)
        return (torch.sum(torch.nn.functional.logsigmoid(t) * t) + torch.sum(torch.special.entr(t))
                + torch.sum(t * torch.log(t / q)) + torch.sum(p * torch.log(p / t) - p + t)
                + torch.sum(torch.special.erfcx(t) * t)
                + torch.sum(torch.special.i0(t) * torch.special.i1(t))
                + torch.sum(torch.special.i0e(t) + torch.special.i1e(t) * t)
                + torch.sum(torch.special.i0(t)))

    t = torch.tensor(x, requires_grad=True)
    want = torch.autograd.grad(on_torch(t), t)[0].numpy()
    H = torch.autograd.functional.hessian(on_torch, torch.tensor(x)).numpy()
    np.testing.assert_allclose(sd.grad(special_functions)(x), want, rtol=1e-10)
    np.testing.assert_allclose(sd.grad(special_functions, mode="forward")(x), want, rtol=1e-10)
    from sourcediff.tape import grad_of

    np.testing.assert_allclose(grad_of(special_functions, (x,)), want, rtol=1e-10)
    np.testing.assert_allclose(sd.hessian(special_functions)(x), H, rtol=1e-8, atol=1e-12)


def softplus_if_there(x):
    return np.sum(sp.softplus(x)) if hasattr(sp, "softplus") else np.sum(np.logaddexp(0.0, x))


def test_numba_does_not_answer_hasattr():
    """numba answers hasattr(scipy.special, "softplus") from what it can compile (False): the
    gradient of softplus_if_there was [0, 0, 0] with backend="numba" (true: expit(x))."""
    pytest.importorskip("numba")
    pytest.importorskip("scipy")
    x = np.array([0.3, 1.2, 2.5])
    with pytest.warns(sd.JitFallbackWarning if hasattr(sd, "JitFallbackWarning") else Warning):
        g = sd.grad(softplus_if_there, backend="numba")(x)
    np.testing.assert_allclose(g, 1.0 / (1.0 + np.exp(-x)), rtol=1e-12)


# ---------------------------------------------------------------- logsumexp(..., return_sign=True)

LSE_A = np.array([[0.3, 1.2, -0.4], [2.0, 0.1, 0.7]])
LSE_B = np.array([1.0, -3.0, 0.5])


def signed_logsumexp(a, b):
    value, sign = sp.logsumexp(a, axis=1, b=b, return_sign=True)
    return np.sum(value ** 2 * sign)


def test_logsumexp_return_sign_every_mode_against_jax():
    """It raised 'ValueError: operands could not be broadcast together' from inside the rule."""
    pytest.importorskip("scipy")
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from jax.scipy.special import logsumexp as jlse

    def on_jax(a, b):
        value, sign = jlse(a, axis=1, b=b, return_sign=True)
        return jax.numpy.sum(value ** 2 * sign)

    want = [np.asarray(w) for w in jax.grad(on_jax, argnums=(0, 1))(LSE_A, LSE_B)]
    for got in (sd.grad(signed_logsumexp, wrt=(0, 1))(LSE_A, LSE_B),
                sd.grad(signed_logsumexp, wrt=(0, 1), mode="forward")(LSE_A, LSE_B)):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-10)
    H = np.asarray(jax.hessian(on_jax)(LSE_A, LSE_B))
    np.testing.assert_allclose(sd.hessian(signed_logsumexp)(LSE_A, LSE_B), H, rtol=1e-8,
                               atol=1e-12)


# ---------------------------------------------------------------- nanmedian / nanquantile

NAN_ROWS = np.array([[0.3, np.nan, 1.2, 2.5], [np.nan, np.nan, 0.4, -1.0], [0.5, 0.1, 0.9, 2.2]])
QS = np.array([0.25, 0.6])
QW = np.arange(1.0, 7.0).reshape(2, 3)


def nan_statistics(a):
    return (np.sum(np.nanquantile(a, QS, axis=1) ** 2 * QW) + np.nanmedian(a) ** 2
            + np.sum(np.nanpercentile(a, 70.0, axis=0) * np.arange(1.0, 5.0)))


def test_nan_quantiles_every_mode_against_torch():
    torch = pytest.importorskip("torch")
    from sourcediff.tape import grad_of

    def on_torch(t):
        return (torch.sum(torch.nanquantile(t, torch.tensor(QS), dim=1) ** 2 * torch.tensor(QW))
                + torch.nanmedian(t) * 0.0 + torch.nanquantile(t.flatten(), 0.5) ** 2
                + torch.sum(torch.nanquantile(t, 0.7, dim=0) * torch.arange(1.0, 5.0,
                                                                          dtype=torch.float64)))

    t = torch.tensor(NAN_ROWS, requires_grad=True)
    want = torch.autograd.grad(on_torch(t), t)[0].numpy()
    want = np.where(np.isnan(NAN_ROWS), 0.0, want)
    for got in (sd.grad(nan_statistics)(NAN_ROWS), sd.grad(nan_statistics, mode="forward")(NAN_ROWS),
                grad_of(nan_statistics, (NAN_ROWS,))):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    H = np.reshape(sd.hessian(nan_statistics)(NAN_ROWS), (12, 12))
    np.testing.assert_allclose(H, np.reshape(_fd_hessian(nan_statistics, NAN_ROWS), (12, 12)),
                               atol=1e-5)


# ---------------------------------------------------------------- np.diff(prepend=, append=), np.ediff1d

DW = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.0], [2.0, 0.1, 0.4]])


def differences(a):
    joined = np.diff(a ** 2, n=2, axis=0, prepend=a[:1] * 2.0, append=a[0, 0])
    return (np.sum(joined * np.arange(1.0, 10.0).reshape(3, 3))
            + np.sum(np.ediff1d(a, to_begin=a[0, 1] ** 2, to_end=a[1] * 3.0) ** 2))


def test_diff_prepend_append_and_ediff1d_against_jax():
    """np.diff(..., prepend=, append=) was refused ('unexpected argument(s) prepend, append'),
    np.ediff1d had no rule."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    on_jax = types.FunctionType(differences.__code__, {**differences.__globals__, "np": jnp})
    want = np.asarray(jax.grad(on_jax)(jnp.asarray(DW)))
    for got in (sd.grad(differences)(DW), sd.grad(differences, mode="forward")(DW)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(np.reshape(sd.hessian(differences)(DW), (9, 9)),
                               np.reshape(np.asarray(jax.hessian(on_jax)(jnp.asarray(DW))), (9, 9)),
                               rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- written in numpy: corrcoef, polyfit, angle

PX = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
PY = np.array([1.0, 2.5, 2.9, 4.2, 6.1])
CA = np.array([[2.0, 0.5, 0.1, 1.3], [0.3, 1.5, 0.2, -0.4], [0.1, 0.4, 1.1, 0.8]])
CW = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.0], [2.0, 0.1, 0.4]])


def fit_in_y(y):
    return np.sum(np.polyfit(PX, y ** 2, 2) * np.array([1.0, 2.0, 3.0]))


def fit_in_x(x):
    return np.sum(np.polyfit(x, PY, 2) ** 2)


def correlations(a):
    return np.sum(np.corrcoef(a) * CW) + np.sum(np.angle(a - 0.45) * a)


@pytest.mark.parametrize("f,x", [(fit_in_y, PY), (fit_in_x, PX + 0.1), (correlations, CA)],
                         ids=["polyfit_y", "polyfit_x", "corrcoef_angle"])
def test_functions_written_in_numpy_every_mode_against_jax(f, x):
    """np.polyfit, np.corrcoef and np.angle had no rule (refused); they are differentiated as
    runtime/written.py's numpy code for them, in every mode and order."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    from sourcediff.tape import grad_of

    on_jax = types.FunctionType(f.__code__, {**f.__globals__, "np": jnp})
    want = np.asarray(jax.grad(on_jax)(jnp.asarray(x)))
    for got in (sd.grad(f)(x), sd.grad(f, mode="forward")(x), grad_of(f, (x,))):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
    H = np.asarray(jax.hessian(on_jax)(jnp.asarray(x))).reshape(x.size, x.size)
    np.testing.assert_allclose(np.reshape(sd.hessian(f)(x), (x.size, x.size)), H, rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(f(x), float(on_jax(jnp.asarray(x))), rtol=1e-10)


def test_angle_of_a_complex_value_is_refused():
    def f(x):
        return np.sum(np.angle(x * (1.0 + 1.0j)))

    with pytest.raises(sd.SourcediffError, match="np.angle of a complex value"):
        sd.grad(f)(np.array([0.3, 1.2]))


def row_score(r):
    return np.sum(r ** 2) * r[0]


def row_scaled(r):
    return r * np.sum(r)


def along_axes(a):
    return (np.sum(np.apply_along_axis(row_score, 1, a) * np.array([1.0, 3.0]))
            + np.sum(np.apply_along_axis(row_scaled, 0, a) * CW[:2]))


def test_apply_along_axis_first_order_every_mode_second_order_refused():
    """np.apply_along_axis had no rule (refused); it runs as runtime/written.py's loop over the
    slices. Its function is a value known at run time, so second order is refused by name."""
    from sourcediff.tape import grad_of

    a = CW[:2] * 1.5
    np.testing.assert_allclose(along_axes(a), np.sum(np.apply_along_axis(row_score, 1, a) *
                                                     np.array([1.0, 3.0])) +
                               np.sum(np.apply_along_axis(row_scaled, 0, a) * CW[:2]))
    g = sd.grad(along_axes)(a)
    check_grads_fd(along_axes, (a,), (0,), (g,))
    np.testing.assert_allclose(sd.grad(along_axes, mode="forward")(a), g, rtol=1e-12)
    np.testing.assert_allclose(grad_of(along_axes, (a,)), g, rtol=1e-12)
    with pytest.raises(sd.SourcediffError, match=r"test_review36\.py:\d+(.|\n)*known only at run "
                       r"time"):
        sd.hessian(along_axes)(a)
