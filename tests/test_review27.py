"""Review 27: scientific programs (integrators, stencils, filters, fits) through every mode.

Each test here failed before its fix; the oracles are central finite differences."""

import numpy as np
import pytest
import scipy.linalg

import sourcediff as sd
from sourcediff.tape import grad_of


def _fd_jacobian(f, args, i, h=1e-6):
    x = np.asarray(args[i], dtype=float)
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        up = list(args)
        up[i] = x + e.reshape(x.shape)
        down = list(args)
        down[i] = x - e.reshape(x.shape)
        cols.append((np.asarray(f(*up)) - np.asarray(f(*down))).reshape(-1) / (2 * h))
    return np.stack(cols, axis=-1)


def design_fit(y, x):
    # a polynomial design matrix built from the sample points (data, floats, not differentiated)
    V = np.vander(x, 3)
    return V.T @ y


def test_reverse_jacobian_differentiates_only_wrt():
    # sd.jacobian ran its reverse pass with every float argument active, so a float data
    # argument that goes through a function without a rule (np.vander) refused the call
    # (NoRuleError "depends on y, x") although the jacobian is only d out / d y
    x = np.linspace(0.0, 2.0, 5)
    y = np.sin(x)
    for mode in ("reverse", "auto"):
        J = sd.jacobian(design_fit, mode=mode)(y, x)
        np.testing.assert_allclose(J, _fd_jacobian(design_fit, (y, x), 0), rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- np.fft (spectral methods)
# np.fft had no rules: a spectral derivative, an FFT convolution or a power spectrum refused in
# every mode (NoRuleError np.fft.rfft). Each program below is real-valued of a real argument.


def spectral_derivative(u):
    n = u.shape[0]
    k = np.fft.rfftfreq(n, d=1.0 / n) * 2 * np.pi
    du = np.fft.irfft(1j * k * np.fft.rfft(u), n)
    return np.sum(du ** 2) + np.sum(u ** 4)


def fft_convolution(sig):
    kern = np.array([0.5, 0.3, 0.2])
    out = np.real(np.fft.ifft(np.fft.fft(sig) * np.fft.fft(kern, sig.shape[0])))
    return np.sum(out ** 2 * np.arange(1.0, sig.shape[0] + 1))


def power_spectrum(p):
    t = np.linspace(0.0, 3.0, 9)
    s = p[0] * np.sin(p[1] * t) + p[2] * np.cos(3 * t)
    F = np.fft.fft(s, 12, norm="ortho")  # zero-padded
    return np.sum(np.real(F) ** 2 + 2.0 * np.imag(F) ** 2)


def truncated_spectra(x):
    a = np.fft.fft(x, 5)  # cut to 5 entries
    b = np.fft.rfft(x, 6, norm="forward")
    c = np.fft.irfft(np.fft.rfft(x) * (1 + 0.5j), 7)  # odd output length
    d = np.fft.ifft(x * 1j, norm="ortho")
    return (np.sum(np.real(a) * np.imag(a)) + np.sum(np.abs(np.real(b)) ** 3)
            + np.sum(c * np.arange(7.0)) + np.sum(np.real(d * np.conj(d + 1.0))))


def image_filter(img):
    F = np.fft.fft2(img)
    low = np.fft.fftshift(F) * np.array([[0.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 0.5],
                                         [0.2, 0.2, 0.2]])
    back = np.fft.ifft2(np.fft.ifftshift(low))
    G = np.fft.fftn(img, s=(5, 4), axes=(0, 1))
    H = np.fft.ifftn(img ** 2, axes=(0,))
    return np.sum(np.real(back) ** 2) + np.sum(np.imag(G) ** 2) + np.sum(np.real(H) * img)


_FFT_PROGRAMS = [
    (spectral_derivative, np.sin(np.linspace(0, 2 * np.pi, 8, endpoint=False)) + 0.1),
    (fft_convolution, np.array([0.3, -1.0, 0.5, 2.0, 0.1, -0.4])),
    (power_spectrum, np.array([1.0, 2.0, 0.5])),
    (truncated_spectra, np.array([0.3, -1.0, 0.5, 2.0, 0.1, -0.4, 0.8, 1.1])),
    (image_filter, np.arange(12.0).reshape(4, 3) * 0.1 - 0.4),
]


def _fd_grad(f, x, h=1e-6):
    return _fd_jacobian(lambda z: np.asarray(f(z)).reshape(1), (x,), 0, h).reshape(x.shape)


@pytest.mark.parametrize("f, x", _FFT_PROGRAMS, ids=[f.__name__ for f, _ in _FFT_PROGRAMS])
def test_fft_programs_every_mode(f, x):
    want = _fd_grad(f, x)
    got = {"reverse": sd.grad(f)(x), "generic": sd.grad(f, optimize=False)(x),
           "forward": sd.grad(f, mode="forward")(x), "tape": grad_of(f, (x,))}
    for mode, g in got.items():
        assert g.shape == x.shape and g.dtype == x.dtype, mode
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6, err_msg=mode)
    # second order: the hessian (forward over reverse) against differences of the gradient
    H = np.reshape(sd.hessian(f)(x), (x.size, x.size))
    H_fd = _fd_jacobian(lambda z: sd.grad(f)(z), (x,), 0, 1e-5).reshape(x.size, x.size)
    np.testing.assert_allclose(H, H_fd, rtol=1e-4, atol=1e-5)
    row = sd.grad(lambda z: sd.grad(f)(z).reshape(-1)[0])(x)  # reverse over reverse
    np.testing.assert_allclose(row.reshape(-1), H_fd[0], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- GP: second order through solve_triangular
# The rule of scipy.linalg.solve_triangular called a helper without a rule of its own
# (solve_triangular_grads), so the hessian, hvp and grad of grad of a Gaussian-process marginal
# likelihood (cholesky + solve_triangular, as GP code is written) refused with NoRuleError.


def gp_marginal_likelihood(logp, X, y):
    d = X[:, None] - X[None, :]
    K = np.exp(logp[1]) * np.exp(-0.5 * d ** 2 / np.exp(2.0 * logp[0])) + \
        np.exp(logp[2]) * np.eye(X.shape[0])
    L = np.linalg.cholesky(K)
    a = scipy.linalg.solve_triangular(L, y, lower=True)
    return 0.5 * a @ a + np.sum(np.log(np.diag(L)))


def triangular_variants(v):
    A = np.array([[2.0 + v[0], 0.0, 0.0], [v[1], 1.5, 0.0], [0.3, v[2], 1.0 + v[0] ** 2]])
    B = np.stack([v, v ** 2], axis=1)
    x1 = scipy.linalg.solve_triangular(A, v, lower=True)
    x2 = scipy.linalg.solve_triangular(A.T, B, trans="T")
    x3 = scipy.linalg.solve_triangular(A, B, trans=1, lower=True, unit_diagonal=True)
    return np.sum(x1 ** 2) + np.sum(np.sin(x2)) + np.sum(x3 * B)


_GP_X = np.linspace(0.0, 3.0, 6)
_GP_Y = np.sin(_GP_X) + 0.1 * np.cos(5 * _GP_X)


@pytest.mark.parametrize("f, args", [
    (gp_marginal_likelihood, (np.array([0.1, -0.2, -1.0]), _GP_X, _GP_Y)),
    (triangular_variants, (np.array([0.4, -0.3, 0.7]),)),
], ids=["gp_marginal_likelihood", "triangular_variants"])
def test_second_order_through_solve_triangular(f, args):
    x = args[0]
    g = sd.grad(f)(*args)
    np.testing.assert_allclose(g, _fd_jacobian(f, args, 0).reshape(-1), rtol=1e-5, atol=1e-7)
    H_fd = _fd_jacobian(lambda *a: sd.grad(f)(*a), args, 0, 1e-5)
    np.testing.assert_allclose(sd.hessian(f)(*args), H_fd, rtol=1e-4, atol=1e-6)
    v = np.array([0.3, -1.0, 0.5])
    np.testing.assert_allclose(sd.hvp(f, args, (v,) + (None,) * (len(args) - 1)), H_fd @ v,
                               rtol=1e-4, atol=1e-6)
    rows = [sd.grad(lambda z, *rest: sd.grad(f)(z, *rest)[k])(*args) for k in range(x.size)]
    np.testing.assert_allclose(np.stack(rows), H_fd, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- np.pad boundary conditions
# np.pad's gradient knew only mode='constant': a stencil with Neumann (edge), periodic (wrap) or
# mirrored (reflect, symmetric) boundaries refused in reverse mode and at second order
# (NotImplementedError "only 'constant'") while forward mode computed it.


def neumann_heat(u0):
    u = u0
    for _ in range(4):
        p = np.pad(u, 1, mode="edge")
        u = u + 0.2 * (p[2:] - 2 * p[1:-1] + p[:-2]) + 0.05 * u ** 2
    return np.sum(u ** 3)


def padded_boundaries(x):
    M = x.reshape(2, 3)
    a = np.pad(M, ((1, 2), (2, 1)), mode="wrap")
    b = np.pad(M, ((0, 1), (1, 1)), mode="reflect")
    c = np.pad(x, (3, 2), mode="symmetric")
    return (np.sum(a ** 2 * np.arange(a.size).reshape(a.shape)) + np.sum(np.sin(b))
            + np.sum(c ** 3))


@pytest.mark.parametrize("f, x", [
    (neumann_heat, np.array([0.3, -1.0, 0.5, 2.0, 0.1])),
    (padded_boundaries, np.array([0.3, -1.0, 0.5, 0.9, 0.1, -0.4])),
], ids=["neumann_heat", "padded_boundaries"])
def test_pad_modes_that_copy_entries(f, x):
    want = _fd_grad(f, x)
    for mode, g in {"reverse": sd.grad(f)(x), "generic": sd.grad(f, optimize=False)(x),
                    "forward": sd.grad(f, mode="forward")(x), "tape": grad_of(f, (x,))}.items():
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6, err_msg=mode)
    H_fd = _fd_jacobian(lambda z: sd.grad(f)(z), (x,), 0, 1e-5)
    np.testing.assert_allclose(sd.hessian(f)(x), H_fd, rtol=1e-4, atol=1e-5)
    row = sd.grad(lambda z: sd.grad(f)(z)[1])(x)
    np.testing.assert_allclose(row, H_fd[1], rtol=1e-4, atol=1e-5)


def test_pad_modes_that_compute_values_are_refused():
    def ramp(x):
        return np.sum(np.pad(x, 2, mode="linear_ramp") ** 2)

    with pytest.raises(sd.SourcediffError, match="linear_ramp"):
        sd.grad(ramp)(np.array([1.0, 2.0]))


# ---------------------------------------------------------------- a dask index array
# u[idx] = w with an index that names an element twice keeps the last write (numpy writes in
# order); with idx a dask array (labels read lazily) the gradient's mask of last writes only knew
# lists and numpy arrays, so the overwritten entries got a gradient too: sd.grad gave [6, 4, 6]
# for [0, 4, 6], silently; the generic reverse crashed in np.add.at.


def last_write_wins(v, idx):
    u = np.zeros(4)
    u[idx] += v
    return np.sum(u ** 2)


def read_and_write_at(v, idx):
    w = v[idx] * np.array([1.0, 2.0, 3.0])
    z = np.zeros(3)
    z[idx] = w
    return np.sum(z ** 2) + np.sum(w)


@pytest.mark.parametrize("f", [last_write_wins, read_and_write_at])
def test_dask_index_with_repeats_keeps_last_writes(f):
    da = pytest.importorskip("dask.array")
    v = np.array([1.0, 2.0, 3.0])
    idx = np.array([0, 2, 0])
    want = _fd_grad(lambda z: f(z, idx), v)
    lazy_idx = da.from_array(idx, chunks=2)
    for mode, df in {"reverse": sd.grad(f), "generic": sd.grad(f, optimize=False),
                     "forward": sd.grad(f, mode="forward")}.items():
        np.testing.assert_allclose(df(v, lazy_idx), want, rtol=1e-6, atol=1e-8, err_msg=mode)
        np.testing.assert_allclose(df(v, idx), want, rtol=1e-6, atol=1e-8, err_msg=mode)
