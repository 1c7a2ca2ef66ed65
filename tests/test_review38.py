"""review38: leftovers in rules, the tape and messages.

Repeated eigen / singular values: eigh's and svd's gradients took the term of a tied pair as 0
wherever v.T @ gv (u.T @ gu) was symmetric there. That term is the limit of
(c_ij - c_ji) / (w_j - w_i) as the pair splits, which values at the tie do not tell: for the
reconstruction ``(v * w) @ v.T`` (or ``(u * s**2) @ u.T``) it is not 0, and every reverse mode
and the tape gave 0 silently (24 and 48 in the tests below). It is nan now unless c is 0 at the
tie (only eigenvalues or ``sum(v**2 @ w)`` used), as PyTorch and JAX give nan there. Forward mode
stays nan at a tie whose tangent moves the basis: it cannot see whether what follows depends on
the basis (taking 0 there gives the same wrong 24), and JAX's jvp gives nan there too.
"""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import compiled
from sourcediff.tape import grad_of

from .oracles import check_grads_fd

W3 = np.arange(9.0).reshape(3, 3)
WS = W3 + W3.T
TIED = np.diag([1.0, 2.0, 2.0])
SPLIT = np.diag([1.0, 2.0, 3.0])


def _reverse_modes(f, args, wrt=0):
    yield "reverse", sd.grad(f, wrt=wrt)(*args)
    yield "tape", grad_of(f, args, wrt=wrt)
    old = compiled._SPECIALIZE
    compiled._SPECIALIZE = "0"
    try:
        compiled.clear_cache()
        yield "generic", sd.grad(f, wrt=wrt)(*args)
    finally:
        compiled._SPECIALIZE = old
        compiled.clear_cache()


def _all_modes(f, args, wrt=0):
    yield from _reverse_modes(f, args, wrt)
    yield "forward", sd.grad(f, wrt=wrt, mode="forward")(*args)


# ---------------------------------------------------------------- ties of eigh and svd
def eigh_reconstruction(m):
    w, v = np.linalg.eigh(m)
    return np.sum(((v * w) @ v.T) * WS)


def eigh_square(m):
    w, v = np.linalg.eigh(m)
    return np.sum(((v * w ** 2) @ v.T) * WS)


def svd_aat(m):
    u, s, vt = np.linalg.svd(m)
    return np.sum(((u * s ** 2) @ u.T) * WS)


def svd_ata(m):
    u, s, vt = np.linalg.svd(m)
    return np.sum(((vt.T * s ** 2) @ vt) * WS)


def eigh_weighted_squares(m):
    return np.sum((np.linalg.eigh(m + m.T)[1] ** 2) @ np.linalg.eigh(m + m.T)[0])


@pytest.mark.parametrize("f", [eigh_reconstruction, eigh_square, svd_aat, svd_ata])
def test_tied_values_whose_term_is_not_zero_are_nan_not_a_wrong_number(f):
    # was: eigh_reconstruction's [2, 1] entry 0 for 24, svd_aat's [1, 2] 0 for 48 (reverse,
    # generic, tape); finite differences through the tie give the true ones
    with np.errstate(all="ignore"):
        for mode, g in _all_modes(f, (TIED,)):
            assert np.isnan(g).any(), mode
    for mode, g in _all_modes(f, (SPLIT,)):
        check_grads_fd(f, (SPLIT,), (0,), (g,))


def test_tied_values_with_zero_term_keep_their_gradient():
    # only the eigenvalues' weights reach the tie: c = v.T @ gv is 0 off the diagonal there
    a = np.eye(3)
    for mode, g in _reverse_modes(eigh_weighted_squares, (a,)):
        np.testing.assert_allclose(g, 2.0 * np.eye(3), atol=1e-12, err_msg=mode)


# ---------------------------------------------------------------- draws at scale 0
# the draws' rules read the standard draw back as (ans - loc) / scale: nan at a scale of exactly 0
# (np.sum(rng.normal(mu, s, size=3)) at s = 0 gave (3.0, nan) in every mode); refused there now,
# naming the line and the fix (the draw at scale 0 keeps nothing of z)
def _draws():
    def normal(mu, s):
        return np.sum(np.random.default_rng(0).normal(mu, s, size=3) ** 2)

    def laplace(mu, s):
        np.random.seed(1)
        return np.sum(np.random.laplace(mu, s, size=3) ** 2)

    def gumbel(mu, s):
        return np.sum(np.random.RandomState(2).gumbel(mu, s, size=3) ** 2)

    def uniform(mu, s):
        return np.sum(np.random.default_rng(0).uniform(mu, mu + s, size=3) ** 2)

    def exponential(mu, s):
        return np.sum(np.random.default_rng(0).exponential(s, size=3) ** 2) + mu

    def lognormal(mu, s):
        return np.sum(np.random.default_rng(0).lognormal(mu, s, size=3) ** 2)

    return [normal, laplace, gumbel, uniform, exponential, lognormal]


def _draw_modes(f, args, wrt):
    yield "reverse", lambda: sd.grad(f, wrt=wrt)(*args)
    yield "forward", lambda: sd.grad(f, wrt=wrt, mode="forward")(*args)
    yield "jvp", lambda: sd.jvp(f, args, (None, 1.0))[1]
    yield "numba", lambda: sd.grad(f, wrt=wrt, backend="numba")(*args)


@pytest.mark.parametrize("f", _draws(), ids=lambda f: f.__name__)
def test_draw_at_scale_zero_is_refused_not_nan(f):
    pytest.importorskip("numba")
    import warnings
    for mode, run in _draw_modes(f, (1.0, 0.0), (0, 1)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(sd.SourcediffError, match="scale is 0 or so small") as e:
                run()
        assert "test_review38.py" in str(e.value), mode
    for mode, run in _draw_modes(f, (1.0, 0.5), (0, 1)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = run()
        if mode in ("reverse", "forward", "numba"):
            check_grads_fd(f, (1.0, 0.5), (0, 1), g)


def test_draw_at_scale_zero_in_its_location_alone_keeps_working():
    def f(mu, s):
        return np.sum(np.random.default_rng(0).normal(mu, s, size=3) ** 2)
    assert sd.grad(f)(1.0, 0.0) == 6.0
    assert sd.grad(f, mode="forward")(1.0, 0.0) == 6.0


def test_draw_second_derivative_through_the_standard_draw():
    def f(p):
        np.random.seed(3)
        return (np.sum(np.random.normal(p[0], p[1], size=4) ** 3) +
                np.sum(np.random.lognormal(p[0], p[1], size=2) ** 2) +
                np.sum(np.random.uniform(p[0], p[1] + 2, size=2) ** 3) +
                np.sum(np.random.exponential(p[1], size=3) ** 2))
    p = np.array([0.3, 0.7])
    g = sd.grad(f)
    h = 1e-5
    want = np.array([(g(p + h * e) - g(p - h * e)) / (2 * h) for e in np.eye(2)])
    np.testing.assert_allclose(sd.hessian(f)(p), want, rtol=1e-6)


# ---------------------------------------------------------------- scipy.stats methods
# (NoRuleError before: sf, logsf, ppf, isf and entropy of norm; cauchy's and logistic's every
# method; laplace's, expon's, lognorm's, gamma's (also in its shape a), t's and beta's cdf, sf and
# the others below. They are written in scipy.special's functions: runtime/stats.py)
X3 = np.array([0.3, 0.7, 2.5])
Q3 = np.array([0.1, 0.4, 0.8])


def _stats_cases():
    st = pytest.importorskip("scipy.stats")
    out = []
    for dist, methods, shapes in [
            (st.norm, ("sf", "logsf", "ppf", "isf"), ()),
            (st.cauchy, ("logpdf", "pdf", "cdf", "sf", "ppf"), ()),
            (st.logistic, ("logpdf", "pdf", "cdf", "sf", "logcdf", "logsf", "ppf"), ()),
            (st.laplace, ("pdf", "cdf", "sf", "logcdf", "logsf", "ppf"), ()),
            (st.expon, ("cdf", "sf", "logcdf", "logsf", "ppf"), ()),
            (st.lognorm, ("cdf", "sf", "logcdf", "logsf", "ppf"), (0.7,)),
            (st.gamma, ("cdf", "sf", "logcdf", "logsf"), (2.5,)),
            (st.t, ("pdf", "cdf", "sf"), (3.5,)),
            (st.beta, ("cdf", "sf"), (2.0, 3.0))]:
        out += [(dist, m, shapes) for m in methods]
    return out


def _stats_program(dist, method, shapes):
    meth = getattr(dist, method)
    arg0 = Q3 if method in ("ppf", "isf") else X3
    loc = -0.2 if dist.name in ("lognorm", "gamma", "expon", "beta") else 0.25
    scale = 3.0 if dist.name == "beta" else 1.7
    if len(shapes) == 0:
        def f(x, loc, scale):
            return np.sum(meth(x, loc, scale) ** 2)
        wrt = (0, 1, 2)
    elif len(shapes) == 1:
        def f(x, s, loc, scale):
            return np.sum(meth(x, s, loc, scale) ** 2)
        wrt = (0, 2, 3) if dist.name == "t" else (0, 1, 2, 3)  # (t's df: refused)
    else:
        def f(x, a, b, loc, scale):
            return np.sum(meth(x, a, b, loc, scale) ** 2)
        wrt = (0, 3, 4)  # (beta's a and b: refused)
    return f, (arg0,) + shapes + (loc, scale), wrt


@pytest.mark.parametrize("dist,method,shapes", _stats_cases(),
                         ids=lambda c: getattr(c, "name", str(c)))
def test_scipy_stats_methods_in_every_mode(dist, method, shapes):
    f, args, wrt = _stats_program(dist, method, shapes)
    g = sd.grad(f, wrt=wrt)(*args)
    check_grads_fd(f, args, wrt, g)
    for a, b in zip(g, sd.grad(f, wrt=wrt, mode="forward")(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    gx = sd.grad(f, wrt=0)
    h = 1e-5
    want = np.array([(gx(*((args[0] + h * e,) + args[1:])) - gx(*((args[0] - h * e,) + args[1:])))
                     / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(sd.hessian(f, wrt=0)(*args), want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(getattr(dist, method)(*args[:-2], args[-2], args[-1]),
                               getattr(sd.runtime, f"{dist.name}_{method}")(*args), rtol=1e-12)


@pytest.mark.parametrize("name,method", [
    ("norm", "sf"), ("norm", "logsf"), ("norm", "ppf"), ("norm", "isf"), ("cauchy", "logpdf"),
    ("cauchy", "cdf"), ("cauchy", "ppf"), ("logistic", "logpdf"), ("logistic", "cdf"),
    ("logistic", "sf"), ("logistic", "ppf"), ("laplace", "cdf"), ("expon", "cdf"),
    ("expon", "logsf"), ("expon", "ppf"), ("gamma", "cdf"), ("gamma", "sf"), ("beta", "cdf")])
def test_scipy_stats_methods_match_jax(name, method):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.scipy.stats as jst
    st = pytest.importorskip("scipy.stats")
    shapes = {"gamma": (2.5,), "beta": (2.0, 3.0)}.get(name, ())
    f, args, wrt = _stats_program(getattr(st, name), method, shapes)
    jmeth = getattr(getattr(jst, name), method)

    def jf(*a):
        return jax.numpy.sum(jmeth(*a) ** 2)
    want = jax.grad(jf, argnums=wrt)(*args)
    for got, w in zip(sd.grad(f, wrt=wrt)(*args), want):
        np.testing.assert_allclose(got, np.asarray(w), rtol=1e-9, atol=1e-12)


def test_scipy_stats_shape_without_a_derivative_is_refused_naming_the_method():
    st = pytest.importorskip("scipy.stats")

    def f(x, df):
        return np.sum(st.t.cdf(x, df, 0.2, 1.5))
    with pytest.raises(sd.SourcediffError, match=r"scipy\.stats\.t\.cdf.*df") as e:
        sd.grad(f, wrt=1)(X3, 3.0)
    assert "test_review38.py" in str(e.value)


def test_norm_entropy_in_its_scale():
    st = pytest.importorskip("scipy.stats")

    def f(loc, scale):
        return st.norm.entropy(loc, scale) * scale
    for mode in ("reverse", "forward"):
        g = sd.grad(f, wrt=(0, 1), mode=mode)(0.3, 2.0)
        check_grads_fd(f, (0.3, 2.0), (0, 1), g)


# ---------------------------------------------------------------- the tape: writes and keywords
# np.put / np.putmask / np.place / np.fill_diagonal into a Tensor raised NoRuleError on the tape
# (source mode writes them as a[positions] = v repeated: the tape now records that same write);
# np.average(a, weights=w) and np.diff(a, prepend=p) / append= with a Tensor by keyword were
# refused ("pass the differentiable arguments positionally"): numpy's defaults fill the gap
XW = np.arange(1.0, 7.0)


def put_into(a):
    b = a * 1.0
    np.put(b, [0, 2, -1], a[:2] ** 2, mode="wrap")
    return np.sum(b ** 2 * XW)


def putmask_into(a):
    b = a * 1.0
    np.putmask(b, a > 3, a[::-1] ** 2)
    return np.sum(b ** 2 * XW)


def place_into(a):
    b = a * 1.0
    np.place(b, a > 2, a[:3] ** 2)
    return np.sum(b ** 2 * XW)


def fill_diagonal_into(a):
    b = a.reshape(2, 3) * 1.0
    np.fill_diagonal(b, a[:2] ** 2)
    return np.sum(b ** 2 * XW.reshape(2, 3))


def average_weights_keyword(a):
    return np.average(a, weights=a ** 2)


def diff_prepend_keyword(a):
    return np.sum(np.diff(a, prepend=a[0] ** 2) ** 2 * XW)


def diff_append_keyword(a):
    return np.sum(np.diff(a, n=2, append=a[:2] * 3.0) ** 2)


@pytest.mark.parametrize("f", [put_into, putmask_into, place_into, fill_diagonal_into,
                               average_weights_keyword, diff_prepend_keyword,
                               diff_append_keyword], ids=lambda f: f.__name__)
def test_tape_writes_and_keyword_tensors_match_source_mode(f):
    x = XW * 0.7 + 0.3
    g = grad_of(f, (x,))
    check_grads_fd(f, (x,), (0,), (g,))
    np.testing.assert_allclose(g, sd.grad(f)(x), rtol=1e-12)


def test_tape_refusal_inside_scipy_names_the_function_and_the_line():
    st = pytest.importorskip("scipy.stats")

    def f(x):
        return np.sum(st.norm.sf(x, 0.5, 2.0))
    with pytest.raises(sd.SourcediffError, match=r"rv_continuous\.sf, called at "
                                                 r"test_review38\.py:\d+") as e:
        grad_of(f, (XW,))
    assert "sourcediff.grad differentiates this call" in str(e.value)


@pytest.mark.parametrize("x", [3, np.arange(3), [1, 2]], ids=["int", "int_array", "int_list"])
def test_grad_of_refuses_an_integer_argument_as_sd_grad_does(x):
    def f(a):
        return np.sum(np.asarray(a) * 2.0)
    for run in (lambda: grad_of(f, (x,)), lambda: sd.grad(f)(x)):
        with pytest.raises(sd.errors.InactiveArgumentError, match="cannot carry a gradient"):
            run()


# ---------------------------------------------------------------- numba and np.errstate
# a `with np.errstate(divide="ignore")` block made backend="numba" fall back to numpy for the
# whole function (numba has no context managers); compiled code neither warns nor reads numpy's
# error state, so a block that only quiets warnings is dropped there now. One that raises stays
# (numba cannot raise floating-point errors) and falls back, as before.
def log_quietly(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(x)
    return np.sum(y * x * x)


def log_raising(x):
    with np.errstate(divide="raise"):
        y = np.log(x)
    return np.sum(y * x)


def test_errstate_ignore_compiles_with_numba():
    pytest.importorskip("numba")
    import warnings
    x = np.array([0.5, 2.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", sd.errors.JitFallbackWarning)
        g = sd.grad(log_quietly, backend="numba")(x)
    np.testing.assert_allclose(g, sd.grad(log_quietly)(x), rtol=1e-14)
    check_grads_fd(log_quietly, (x,), (0,), (g,))


def test_errstate_raise_still_falls_back_to_numpy_and_raises():
    pytest.importorskip("numba")
    with pytest.warns(sd.errors.JitFallbackWarning):
        g = sd.grad(log_raising, backend="numba")
        g(np.array([0.5, 2.0]))
    with pytest.raises(FloatingPointError):
        g(np.array([0.0, 2.0]))


# ---------------------------------------------------------------- np.gradient with coordinates
# np.gradient(f, x) with coordinate arrays x: reverse mode refused it ("scalar spacing only"),
# and forward mode with x differentiable crashed with a TypeError (x's tangent, shaped like f,
# was taken for f's). Both work now, x's derivative by the complex step (exact to rounding).
XC = np.array([0.0, 0.5, 1.5, 3.0, 3.2, 4.5, 6.0])
YC = np.array([1.0, 2.0, 0.5, 3.0, -1.0, 2.5, 0.3])
WC = np.arange(1.0, 8.0)


def gradient_f_and_x(y, x):
    return np.sum(np.gradient(y ** 2, x) ** 2 * WC)


def gradient_edge2(y, x):
    return np.sum(np.gradient(np.sin(y), x, edge_order=2) * WC)


def gradient_2d(y, x):
    a = np.reshape(y[:6], (2, 3)) * np.reshape(WC[:6], (2, 3))
    gy, gx = np.gradient(a, np.array([0.0, 0.7]), x[:3] ** 2)
    return np.sum(gy ** 2) + np.sum(gx ** 3)


@pytest.mark.parametrize("f", [gradient_f_and_x, gradient_edge2, gradient_2d],
                         ids=lambda f: f.__name__)
def test_gradient_with_coordinate_arrays_every_mode(f):
    args = (YC, XC)
    for mode, g in _all_modes(f, args, wrt=(0, 1)):
        check_grads_fd(f, args, (0, 1), g)
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    if f is gradient_f_and_x:
        want = jax.grad(lambda y, x: jnp.sum(jnp.gradient(y ** 2, x) ** 2 * WC),
                        argnums=(0, 1))(YC, XC)
        for got, w in zip(sd.grad(f, wrt=(0, 1))(*args), want):
            np.testing.assert_allclose(got, np.asarray(w), rtol=1e-10)


def test_gradient_with_coordinates_second_order_is_refused_scalar_spacing_kept():
    with pytest.raises(sd.SourcediffError, match="coordinate arrays"):
        sd.hessian(gradient_f_and_x, wrt=0)(YC, XC)

    def scalar_spacing(y, h):
        return np.sum(np.gradient(y ** 2, h) ** 2 * WC)
    g = sd.grad(scalar_spacing, wrt=0)
    h = 1e-6
    want = np.array([(g(YC + h * e, 0.7) - g(YC - h * e, 0.7)) / (2 * h) for e in np.eye(7)])
    np.testing.assert_allclose(sd.hessian(scalar_spacing, wrt=0)(YC, 0.7), want, rtol=1e-6)


# ---------------------------------------------------------------- grad of grad through [v] * n
# a helper building [v] * len(axes) crashed in grad of grad ("len() of unsized object" in the
# generated code): the count's zero tangent array(0) was read as the list's gradient
def spacing_of(f, varargs):
    axes = list(range(np.ndim(f)))
    spacing = [varargs[0]] * len(axes)
    return axes, spacing


def through_repeated_list(x, h):
    axes, spacing = spacing_of(x, (h,))
    return np.sum(x * spacing[0]) + np.sum(x ** 2) / spacing[-1]


def test_grad_of_grad_through_a_repeated_list():
    x, h = np.array([1.0, 2.0, 0.5]), 0.5
    d2 = sd.grad(sd.grad(through_repeated_list, wrt=1), wrt=1)(x, h)
    np.testing.assert_allclose(d2, 2.0 * np.sum(x ** 2) / h ** 3, rtol=1e-12)
    np.testing.assert_allclose(sd.hessian(through_repeated_list, wrt=1)(x, h), d2, rtol=1e-12)


# ---------------------------------------------------------------- messages
# an in-place change refused because another name shares the array said only "changes z in
# place" / "writes into z in place": it names that other name now, and what to copy
def sort_shared(x):
    z = x * 1.0
    c = z
    z.sort()
    return np.sum(c * XW[:3])


def copyto_shared(x):
    z = x * 1.0
    c = z[:2]
    np.copyto(z, x ** 2)
    return np.sum(c) + np.sum(z)


@pytest.mark.parametrize("f,what", [(sort_shared, r"z\.sort\(\.\.\.\) changes z in place, and c "),
                                    (copyto_shared, r"writes into z in place, and c holds")],
                         ids=["sort", "copyto"])
def test_in_place_change_of_a_shared_array_names_the_other_name(f, what):
    with pytest.raises(sd.SourcediffError, match=what) as e:
        sd.grad(f)(np.array([3.0, 1.0, 2.0]))
    assert "c = z.copy()" in str(e.value) and "test_review38.py" in str(e.value)


def test_sort_of_an_unshared_array_still_works():
    def f(x):
        z = x * 1.0
        z.sort()
        return np.sum(z * XW[:3])
    x = np.array([3.0, 1.0, 2.0])
    np.testing.assert_allclose(sd.grad(f)(x), [3.0, 1.0, 2.0])


@pytest.mark.parametrize("name,method,shapes", [
    ("lognorm", "cdf", (-0.5,)), ("lognorm", "ppf", (0.0,)), ("gamma", "cdf", (-1.0,)),
    ("gamma", "logsf", (0.0,)), ("t", "cdf", (-2.0,)), ("t", "pdf", (0.0,)),
    ("beta", "cdf", (-1.0, 2.0)), ("beta", "sf", (2.0, 0.0)), ("norm", "sf", ())])
def test_scipy_stats_written_forms_give_scipys_nan_for_bad_parameters(name, method, shapes):
    st = pytest.importorskip("scipy.stats")
    x = np.array([0.2, 0.7])
    with np.errstate(all="ignore"):
        want = getattr(getattr(st, name), method)(x, *shapes, 0.0, 1.0 if shapes else -1.0)
        got = getattr(sd.runtime, f"{name}_{method}")(x, *shapes, 0.0, 1.0 if shapes else -1.0)
    assert np.all(np.isnan(want)) and np.all(np.isnan(got))


def test_draw_with_a_scale_tiny_next_to_its_location_is_refused_not_wrong():
    # loc 1000, scale 1e-14: the draw rounds to loc, z was read back as 0 and the derivative in
    # the scale was 0.0 for 2000 * sum(z) = 1268 (1e-9: 1268.063, off in the 4th digit)
    def f(mu, s):
        return np.sum(np.random.default_rng(0).normal(mu, s, size=3) ** 2)
    for s in (1e-14, 1e-9):
        with pytest.raises(sd.SourcediffError, match="so small next to the location"):
            sd.grad(f, wrt=1)(1000.0, s)
    z = np.random.default_rng(0).standard_normal(3)
    np.testing.assert_allclose(sd.grad(f, wrt=1)(1000.0, 1e-3),
                               np.sum(2.0 * (1000.0 + 1e-3 * z) * z), rtol=1e-7)
