"""The breadth rules end to end, through the compiler and the tape: for representative
new primitives, sd.grad (reverse), sd.jvp (forward), the tape's backward, and sd.hvp (forward over
reverse) against central finite differences of the function (of its gradient for the hvp).

Second order reaches through a rule only when the helpers its body calls have rules of their own;
where they do not, sd.hvp must refuse with NoRuleError (never return a wrong number): such cases are
listed with ``hvp="refused"``.
"""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import NoRuleError

EPS = 1e-6
rng = np.random.default_rng(17)
W = rng.standard_normal((3, 2))
XP = np.array([-1.0, 0.0, 0.5, 2.0])
EV = np.linalg.solve(np.eye(3) * 3.0 + W @ W.T, np.diag([1.0, 2.5, 4.0]) @ (np.eye(3) * 3.0 + W @ W.T))
B5 = rng.standard_normal(5)
TRAPEZOID = getattr(np, "trapezoid", None) or getattr(np, "trapz")  # numpy 2.x / 1.x

# ---------------------------------------------------------------- functions (module level: sourcediff
# reads their source)


def f_kron(x):
    return np.sum(np.kron(x, x) * np.kron(W, W))


def f_gradient(x):
    gx, gy = np.gradient(x, 0.5)
    return np.sum(gx * gy) + np.sum(gy)


def f_rollaxis(x):
    return np.sum(np.rollaxis(x, 2) * np.arange(24.0).reshape(4, 2, 3))


def f_append(x):
    return np.sum(np.append(x, x[:2] * 2.0) ** 2)


def f_select(x):
    return np.sum(np.select([x > 0.5, x < -0.5], [x ** 2, np.sin(x)], x * 3.0))


def f_rot90(x):
    return np.sum(np.rot90(x) * np.arange(6.0).reshape(3, 2))


def f_nan_to_num(x):
    return np.sum(np.nan_to_num(np.log(x)) ** 2)


def f_dsplit(x):
    a, b = np.dsplit(x, 2)
    return np.sum(a * b)


def f_partition(x):
    return np.sum(np.partition(x, 2)[:3] ** 2)


def f_insert(x):
    return np.sum(np.insert(x, 1, x[3] * 2.0) ** 3)


def f_median(x):
    return np.median(x ** 2, axis=0).sum()


def f_quantile(x):
    return np.sum(np.quantile(np.sin(x), [0.3, 0.8]))


def f_average(x):
    return np.average(x, axis=1, weights=np.exp(x)).sum()


def f_nan_reductions(x):
    return np.nansum(np.log(x)) + np.nanmean(np.sqrt(x))


def f_ptp(x):
    return np.sum(np.ptp(x ** 3, axis=0))


def f_interp(x):
    return np.sum(np.interp(x, XP, np.array([1.0, 2.0, 0.5, 3.0])) ** 2)


def f_convolve(x):
    return np.sum(np.convolve(x, x[:3], "same") ** 2) + np.sum(np.correlate(x, np.sin(x[1:4])) ** 2)


def f_polyval(x):
    return np.sum(np.polyval(x, x))


def f_trapezoid(x):
    return TRAPEZOID(x ** 2, np.cumsum(np.exp(x)))


def f_cross(x):
    return np.sum(np.cross(x, x ** 2, axisa=0, axisb=0) ** 2)


def f_svd(x):
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    return np.sum(s ** 2) + np.sum(u[:, 0] * np.arange(4.0)) ** 2 + np.sum(vh[0] ** 3)


def f_eigh(x):
    w, v = np.linalg.eigh(x @ x.T + np.diag(np.arange(3.0)))
    return np.sum(w ** 2) + np.sum(v[:, 0] ** 2 * np.arange(3.0))


def f_cholesky(x):
    return np.sum(np.linalg.cholesky(x @ x.T + 3.0 * np.eye(3)) ** 2 * np.arange(9.0).reshape(3, 3))


def f_qr(x):
    q, r = np.linalg.qr(x)
    return np.sum(q * np.arange(12.0).reshape(4, 3)) + np.sum(r ** 2)


def f_pinv(x):
    return np.sum(np.linalg.pinv(x) ** 2)


def f_lstsq(x):
    sol, res, rank, s = np.linalg.lstsq(x, B5)
    return np.sum(sol ** 2) + res[0] + s[0]


def f_matrix_power(x):
    return np.sum(np.linalg.matrix_power(x, 3)) + np.sum(np.linalg.matrix_power(x, -2))


def f_multi_dot(x):
    return np.linalg.multi_dot([x[0], x, x, x[:, 1]])


def f_eig(x):
    w, v = np.linalg.eig(x)
    return np.sum(w ** 2) + np.sum(v ** 4)


def f_fields(x):
    """Fields of named tuple results (they gave zero gradients silently before)."""
    r = np.linalg.eigh(x @ x.T + np.diag(np.arange(3.0)))
    d = np.linalg.slogdet(x + 3.0 * np.eye(3))
    return np.sum(r.eigenvalues * np.arange(3.0)) + np.sum(r.eigenvectors[:, 0] ** 2 * np.arange(3.0)) \
        + d.logabsdet


def f_slogdet_field(x):
    return np.linalg.slogdet(x + 3.0 * np.eye(3)).logabsdet


# name, function, input, what sd.hvp does ("ok" or "refused"; review36: the rules' runtime helpers
# without rules of their own are differentiated from their source, so most now give "ok")
NUMPY = [
    ("kron", f_kron, rng.standard_normal((3, 2)), "ok"),
    ("gradient", f_gradient, rng.standard_normal((4, 5)), "ok"),
    ("rollaxis", f_rollaxis, rng.standard_normal((2, 3, 4)), "ok"),
    ("append", f_append, rng.standard_normal(5), "ok"),
    ("select", f_select, np.array([1.2, -0.3, -1.4, 0.7, 0.1]), "ok"),
    ("rot90", f_rot90, rng.standard_normal((2, 3)), "ok"),
    ("nan_to_num", f_nan_to_num, np.array([0.5, 1.7, 2.2]), "ok"),
    ("dsplit", f_dsplit, rng.standard_normal((2, 2, 4)), "ok"),
    ("partition", f_partition, np.array([0.3, -1.2, 2.5, 0.9, -0.4, 1.6]), "ok"),
    ("insert", f_insert, rng.standard_normal(5), "ok"),
    ("median", f_median, rng.standard_normal((5, 3)), "ok"),
    ("quantile", f_quantile, rng.standard_normal(7), "ok"),
    ("average", f_average, rng.standard_normal((2, 4)), "ok"),
    ("nansum_nanmean", f_nan_reductions, np.array([0.5, 1.5, 2.0, 0.7]), "ok"),
    ("ptp", f_ptp, np.array([[0.3, -1.2], [2.5, 0.9], [-0.4, 1.6]]), "ok"),
    ("interp", f_interp, np.array([-0.5, 0.2, 1.1, 1.9]), "ok"),
    ("convolve_correlate", f_convolve, rng.standard_normal(6), "ok"),
    ("polyval", f_polyval, rng.standard_normal(4), "ok"),
    ("trapezoid", f_trapezoid, rng.standard_normal(5), "ok"),
    ("cross_axes", f_cross, rng.standard_normal((3, 2)), "ok"),
    ("svd", f_svd, rng.standard_normal((4, 3)), "ok"),
    ("eigh", f_eigh, rng.standard_normal((3, 3)), "ok"),
    ("cholesky", f_cholesky, rng.standard_normal((3, 3)), "ok"),
    ("qr", f_qr, rng.standard_normal((4, 3)), "ok"),
    ("pinv", f_pinv, rng.standard_normal((4, 3)), "ok"),
    ("lstsq", f_lstsq, rng.standard_normal((5, 3)), "ok"),
    ("matrix_power", f_matrix_power, rng.standard_normal((3, 3)) + 3.0 * np.eye(3), "ok"),
    ("multi_dot", f_multi_dot, rng.standard_normal((3, 3)), "refused"),
    ("eig", f_eig, EV, "ok"),
    ("named_tuple_fields", f_fields, rng.standard_normal((3, 3)), "ok"),
    ("slogdet_field", f_slogdet_field, rng.standard_normal((3, 3)), "ok"),
]
# (np.average's weights passed by keyword after axis: the tape moves them to their position)
TAPE_REFUSED = set()


def fd_grad(f, x):
    out = np.zeros(x.size)
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = EPS
        e = e.reshape(x.shape)
        out[k] = (f(x + e) - f(x - e)) / (2 * EPS)
    return out.reshape(x.shape)


def _ids(table):
    return [row[0] for row in table]


@pytest.mark.parametrize("name,f,x,hvp", NUMPY, ids=_ids(NUMPY))
def test_grad(name, f, x, hvp):
    np.testing.assert_allclose(sd.grad(f)(x), fd_grad(f, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,f,x,hvp", NUMPY, ids=_ids(NUMPY))
def test_jvp(name, f, x, hvp):
    v = np.random.default_rng(1).standard_normal(x.shape)
    out, d = sd.jvp(f, (x,), (v,))
    np.testing.assert_allclose(out, f(x))
    np.testing.assert_allclose(d, np.sum(fd_grad(f, x) * v), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,f,x,hvp", NUMPY, ids=_ids(NUMPY))
def test_tape(name, f, x, hvp):
    t = sd.tensor(x.copy(), requires_grad=True)
    if name in TAPE_REFUSED:
        with pytest.raises(sd.tape.TapeError):
            f(t)
        return
    f(t).backward()
    np.testing.assert_allclose(t.grad.detach().numpy(), fd_grad(f, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,f,x,hvp", NUMPY, ids=_ids(NUMPY))
def test_hvp(name, f, x, hvp):
    v = np.random.default_rng(2).standard_normal(x.shape)
    if hvp == "refused":
        with pytest.raises(NoRuleError):
            sd.hvp(f, [x], [v])
        return
    hv = sd.hvp(f, [x], [v])
    hv = hv[0] if isinstance(hv, (list, tuple)) else hv
    df = sd.grad(f)
    fd = (df(x + 1e-5 * v) - df(x - 1e-5 * v)) / 2e-5
    np.testing.assert_allclose(hv, fd, rtol=1e-4, atol=1e-5)


def test_grad_of_grad_reverse_over_reverse():
    """sd.grad of a function that calls a generated gradient (kron, convolve, polyval rules)."""

    def inner(x):
        return np.sum(np.kron(x, x) ** 2) + np.sum(np.convolve(x, x) ** 2) + np.sum(np.polyval(x, x))

    dinner = sd.grad(inner)

    def outer(x):
        return np.sum(dinner(x) ** 2)

    x = rng.standard_normal(3)
    np.testing.assert_allclose(sd.grad(outer)(x), fd_grad(outer, x), rtol=1e-5, atol=1e-5)


# one element of a tuple result, active options (spacing, q, xp, dx, weights with returned=True)
def p_svd_vh(x):
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    return np.sum(vh[1] * np.arange(3.0))


def p_svd_full_s(x):
    return np.sum(np.linalg.svd(x)[1] ** 3)


def p_qr_r(x):
    q, r = np.linalg.qr(x)
    return np.sum(r ** 3) + np.sum(np.linalg.qr(x, mode="r") ** 2)


def p_eig_w(x):
    w, v = np.linalg.eig(x)
    return np.sum(w * np.arange(3.0))


def p_lstsq(x):
    sol, res, rank, s = np.linalg.lstsq(x, np.arange(5.0))
    return res[0] * 2.0 + np.sum(np.linalg.lstsq(x[:, :2], x[:, 2])[0] ** 2)


def p_average(x):
    avg, scl = np.average(x, 0, np.exp(x[:, 0]), True)
    return np.sum(avg * scl)


def p_gradient(x):
    return np.sum(np.gradient(x, axis=1)) + np.sum(np.gradient(x, x[0, 0] ** 2 + 1.0)[1] ** 2)


def p_percentile(x):
    return np.sum(np.percentile(x, x[0] * 10 + 50, axis=0))


def p_interp(x):
    return np.sum(np.interp(np.array([-0.5, 0.2, 1.1]), np.cumsum(np.exp(x)) - 2.0, np.sin(x)))


def p_trapezoid(x):
    return np.sum(TRAPEZOID(np.sin(x), None, x[0, 0] ** 2, 0))


PARTIAL = [
    ("svd_vh_only", p_svd_vh, rng.standard_normal((4, 3))),
    ("svd_full_matrices_s_only", p_svd_full_s, rng.standard_normal((4, 3))),
    ("qr_r_only", p_qr_r, rng.standard_normal((4, 3))),
    ("eig_w_only", p_eig_w, EV + 0.01 * rng.standard_normal((3, 3))),
    ("lstsq_residuals_and_b", p_lstsq, rng.standard_normal((5, 3))),
    ("average_returned", p_average, rng.standard_normal((3, 2))),
    ("gradient_axis_and_spacing", p_gradient, rng.standard_normal((4, 3))),
    ("percentile_q", p_percentile, np.array([[0.3, -1.2, 0.6], [2.5, 0.9, -0.7], [-0.4, 1.6, 1.3],
                                             [1.1, 0.2, 2.2]])),
    ("interp_xp_fp", p_interp, 0.3 * rng.standard_normal(4)),
    ("trapezoid_dx", p_trapezoid, rng.standard_normal((4, 3))),
]


@pytest.mark.parametrize("name,f,x", PARTIAL, ids=_ids(PARTIAL))
def test_partial_results_and_active_options(name, f, x):
    g0 = fd_grad(f, x)
    np.testing.assert_allclose(sd.grad(f)(x), g0, rtol=1e-5, atol=1e-6)
    v = np.random.default_rng(1).standard_normal(x.shape)
    if name == "svd_full_matrices_s_only":  # forward mode computes every factor's tangent, and the
        with pytest.raises(NotImplementedError, match="full_matrices"):  # extra columns have none
            sd.jvp(f, (x,), (v,))
    else:
        np.testing.assert_allclose(sd.jvp(f, (x,), (v,))[1], np.sum(g0 * v), rtol=1e-5, atol=1e-6)
    t = sd.tensor(x.copy(), requires_grad=True)
    f(t).backward()
    np.testing.assert_allclose(t.grad.detach().numpy(), g0, rtol=1e-5, atol=1e-6)


SECOND = [row for row in NUMPY if row[0] in ("cholesky", "eigh", "named_tuple_fields", "pinv",
                                                "select", "partition", "ptp", "insert")]


@pytest.mark.parametrize("name,f,x,hvp", SECOND, ids=_ids(SECOND))
def test_grad_of_grad(name, f, x, hvp):
    """Reverse over reverse: sd.grad of a function of the generated gradient."""
    df = sd.grad(f)

    def outer(z):
        return np.sum(df(z) ** 2)

    np.testing.assert_allclose(sd.grad(outer)(x), fd_grad(outer, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve_correlate_alignment_all_sizes(mode):
    """The padding that rebuilds the full result from each mode, for every pair of lengths."""
    from sourcediff.rules import registry

    for prim in (np.convolve, np.correlate):
        rule = registry.lookup(prim)
        for n in range(1, 7):
            for m in range(1, 7):
                a, v = rng.standard_normal(n), rng.standard_normal(m)
                ans = prim(a, v, mode)
                g = rng.standard_normal(ans.shape)
                ga, gv, _ = rule.vjp(g, ans, a, v, mode)
                np.testing.assert_allclose(ga, fd_grad(lambda z: np.sum(prim(z, v, mode) * g), a),
                                           rtol=1e-6, atol=1e-7)
                np.testing.assert_allclose(gv, fd_grad(lambda z: np.sum(prim(a, z, mode) * g), v),
                                           rtol=1e-6, atol=1e-7)


class Holder:
    def __init__(self, v):
        self.v = v


def user_object_attribute(x, h):
    return np.sum(h.v * x)


def test_attribute_of_an_active_object_that_is_not_a_named_tuple_refuses():
    """An attribute of a local is a named tuple's field, a model object's attribute (a gradient
    by attribute name: tests/test_object_wrt.py), or refuses once a gradient reaches it (an
    object of a class not defined in Python); an attribute of an inactive object is a constant
    as before."""
    import types
    x = rng.standard_normal(3)
    h = Holder(rng.standard_normal(3))
    np.testing.assert_allclose(sd.grad(user_object_attribute)(x, h), h.v)
    assert sd.runtime.attribute_grad(np.ones(3), h, "v").keys() == {"v"}
    module = types.ModuleType("holder")  # (a SimpleNamespace is a model object: test_review28)
    module.v = h.v
    with pytest.raises(sd.SourcediffError, match="module.v"):
        sd.runtime.attribute_grad(np.ones(3), module, "v")


def test_refusals_are_loud():
    """Options outside a formula raise instead of giving a wrong gradient."""

    def complex_eig(x):
        w, v = np.linalg.eig(x)
        return np.sum(np.real(w))

    def full_svd(x):
        u, s, vh = np.linalg.svd(x)
        return np.sum(u)

    def nearest(x):
        return np.quantile(x, 0.5, method="nearest")

    rotation = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    with pytest.raises(NotImplementedError, match="complex eigenvalues"):
        sd.grad(complex_eig)(rotation)
    with pytest.raises(NotImplementedError, match="full_matrices"):
        sd.grad(full_svd)(rng.standard_normal((4, 3)))
    with pytest.raises(NotImplementedError, match="method='nearest'"):
        sd.grad(nearest)(rng.standard_normal(5))


# ---------------------------------------------------------------- scipy (skipped without it)

try:
    import scipy.linalg as sl
    import scipy.special as sp
    import scipy.stats as st
    from scipy.special import logsumexp
    from scipy.stats import norm
except ImportError:  # pragma: no cover
    sp = None

needs_scipy = pytest.mark.skipif(sp is None, reason="scipy is not installed")
COV = np.array([[2.0, 0.3, 0.1], [0.3, 1.5, 0.2], [0.1, 0.2, 1.0]])
TRI = np.triu(rng.standard_normal((3, 3))) + 3.0 * np.eye(3)


def s_logsumexp(x):
    return logsumexp(x * 2.0, axis=0).sum() + logsumexp(x[0], b=np.exp(x[1]))


def s_special(x):
    return np.sum(sp.expit(x) ** 2 + sp.gammaln(np.exp(x)) + sp.erf(x) + sp.digamma(np.exp(x))
                  + sp.betaln(np.exp(x), 2.0) + sp.xlogy(x, np.exp(x)))


def s_softmax(x):
    return np.sum(sp.softmax(x, axis=1) * np.arange(6.0).reshape(2, 3)) + np.sum(sp.log_softmax(x) ** 2)


def s_norm(x):
    return np.sum(norm.logpdf(x, x[0], np.exp(x[1]))) + np.sum(st.norm.cdf(x, 0.2, 1.5)) + \
        np.sum(norm.logcdf(x)) + np.sum(st.t.logpdf(x, np.exp(x[0]) + 1.0, 0.1, 2.0))


def s_mvn(x):
    return st.multivariate_normal.logpdf(x, np.sin(x), COV) + \
        np.sum(st.multivariate_normal.logpdf(np.ones((2, 3)), np.zeros(3), np.outer(x, x) + COV))


def s_linalg(x):
    cf = sl.cho_factor(x @ x.T + 3.0 * np.eye(3))
    return np.sum(sl.cho_solve(cf, np.arange(3.0)) ** 2) + \
        np.sum(sl.solve_triangular(x + 3.0 * np.eye(3), np.arange(3.0), lower=True) ** 2) + \
        np.sum(sl.expm(0.3 * x) ** 2)


SCIPY = [
    ("logsumexp", s_logsumexp, rng.standard_normal((3, 2)), "ok", False),
    ("special", s_special, rng.standard_normal(4), "ok", True),
    ("softmax", s_softmax, rng.standard_normal((2, 3)), "ok", False),
    ("stats_norm_t", s_norm, rng.standard_normal(4), "ok", False),
    ("multivariate_normal", s_mvn, rng.standard_normal(3), "ok", False),
    ("linalg", s_linalg, rng.standard_normal((3, 3)), "refused", False),
]


@needs_scipy
@pytest.mark.parametrize("name,f,x,hvp,tape", SCIPY, ids=_ids(SCIPY))
def test_scipy_grad_and_jvp(name, f, x, hvp, tape):
    g0 = fd_grad(f, x)
    np.testing.assert_allclose(sd.grad(f)(x), g0, rtol=1e-5, atol=1e-6)
    v = np.random.default_rng(1).standard_normal(x.shape)
    np.testing.assert_allclose(sd.jvp(f, (x,), (v,))[1], np.sum(g0 * v), rtol=1e-5, atol=1e-6)


@needs_scipy
@pytest.mark.parametrize("name,f,x,hvp,tape", SCIPY, ids=_ids(SCIPY))
def test_scipy_hvp(name, f, x, hvp, tape):
    v = np.random.default_rng(2).standard_normal(x.shape)
    if hvp == "refused":
        with pytest.raises(NoRuleError):
            sd.hvp(f, [x], [v])
        return
    hv = sd.hvp(f, [x], [v])
    hv = hv[0] if isinstance(hv, (list, tuple)) else hv
    df = sd.grad(f)
    np.testing.assert_allclose(hv, (df(x + 1e-5 * v) - df(x - 1e-5 * v)) / 2e-5, rtol=1e-4,
                               atol=1e-5)


@needs_scipy
@pytest.mark.parametrize("name,f,x,hvp,tape", SCIPY, ids=_ids(SCIPY))
def test_scipy_tape(name, f, x, hvp, tape):
    """scipy.special's ufuncs run on tape Tensors; functions that convert with np.asarray refuse."""
    t = sd.tensor(x.copy(), requires_grad=True)
    if not tape:
        with pytest.raises(sd.tape.TapeError):
            f(t)
        return
    f(t).backward()
    np.testing.assert_allclose(t.grad.detach().numpy(), fd_grad(f, x), rtol=1e-5, atol=1e-6)


@needs_scipy
def test_bound_method_rules_are_found_by_equality():
    """norm.logpdf is a new bound method on every access; the rule table finds it by equality,
    and another distribution's method of the same class does not get norm's rule."""
    from sourcediff.rules import registry

    assert st.norm.logpdf is not st.norm.logpdf
    assert registry.lookup(st.norm.logpdf) is registry.lookup(st.norm.logpdf)
    assert registry.lookup(st.norm.logpdf).vjp.__name__ == "norm_logpdf"
    assert registry.lookup(st.t.logpdf).vjp.__name__ == "t_logpdf"
    assert registry.lookup(st.cauchy.logpdf) is None
