"""Gradients at edge points of the rules (zeros, ties, infinities), checked against PyTorch
where it is installed: each mode of sourcediff (reverse, forward, second order, the tape) must
give PyTorch's value where the true derivative (or PyTorch's choice at a kink) is finite."""

import functools

import numpy as np
import pytest
import scipy.special

import sourcediff as sd
from sourcediff.errors import NoSourceError
from sourcediff.tape import grad_of


def _torch():
    torch = pytest.importorskip("torch")
    return torch


def _torch_grad_and_hessian(ft, x):
    torch = _torch()
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    g = torch.autograd.functional.jacobian(lambda v: ft(torch, v), xt).numpy()
    h = torch.autograd.functional.hessian(lambda v: ft(torch, v), xt).numpy()
    return g, h


def _check_all_modes(f, ft, x, second_order=True):
    g, h = _torch_grad_and_hessian(ft, x)
    np.testing.assert_allclose(sd.grad(f)(x), g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sd.grad(f, mode="forward")(x), g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_of(f, (x,)), g, rtol=1e-10, atol=1e-12)
    if second_order:
        np.testing.assert_allclose(sd.hessian(f)(x), h, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- cumprod through zeros
W4 = np.array([1.0, 2.0, 3.0, 4.0])


def cumprod_1d(x):
    return np.sum(np.cumprod(x) * W4 + np.cumprod(x) ** 2)


def cumprod_rows(x):
    return np.sum(np.cumprod(x, axis=1) * W4[:3] + np.cumprod(x, axis=0) ** 2)


def cumprod_flat(x):
    return np.sum(np.cumprod(x) * np.arange(1.0, 7.0))


@pytest.mark.parametrize("x", [[2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 3.0, 1.5], [1.5, -2.0, 3.0, 0.0],
                               [2.0, 0.0, 0.0, 4.0], [0.0, 2.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0],
                               [1.5, -2.0, 3.0, 0.5]])
def test_cumprod_through_zeros_matches_torch(x):
    # was: nan at the first zero (and after it where another zero follows) in every mode:
    # [2, 0, 3, 4] gave [1, nan, 0, 0] where PyTorch gives [1, 118, 0, 0]; forward mode all nan
    def ft(torch, v):
        c = torch.cumprod(v, 0)
        return torch.sum(c * torch.tensor(W4) + c ** 2)
    _check_all_modes(cumprod_1d, ft, np.array(x))


def test_cumprod_axis_and_flattened_through_zeros_match_torch():
    x = np.array([[2.0, 0.0, 3.0], [0.0, 1.5, 0.0]])

    def ft(torch, v):
        return torch.sum(torch.cumprod(v, 1) * torch.tensor(W4[:3]) + torch.cumprod(v, 0) ** 2)
    _check_all_modes(cumprod_rows, ft, x)

    def ft_flat(torch, v):
        return torch.sum(torch.cumprod(v.reshape(-1), 0) * torch.arange(1.0, 7.0))
    _check_all_modes(cumprod_flat, ft_flat, x)
    _check_all_modes(cumprod_flat, ft_flat, np.array([[2.0, 1.5, 3.0], [0.0, 1.5, 4.0]]))


# ---------------------------------------------------------------- matrix 2-norm at tied singular values
def norm2(x):
    return np.linalg.norm(x, 2)


def norm_minus2(x):
    return np.linalg.norm(x, -2)


def norm2_axes(x):
    return np.sum(np.linalg.norm(x, 2, axis=(1, 2)))


@pytest.mark.parametrize("x", [np.eye(2), np.diag([3.0, 3.0, 1.0]), np.diag([3.0, 1.0, 1.0]),
                               np.array([[0.0, 2.0], [2.0, 0.0]])])
def test_matrix_two_norm_splits_tied_singular_values_as_torch(x):
    # was: the first singular pair took it all: norm(eye(2), 2) gave [[1, 0], [0, 0]] where
    # PyTorch and JAX (amax of the singular values) give [[0.5, 0], [0, 0.5]]
    torch = _torch()
    for f, o in ((norm2, 2), (norm_minus2, -2)):
        xt = torch.tensor(x, requires_grad=True)
        want = torch.autograd.grad(torch.linalg.matrix_norm(xt, o), xt)[0].numpy()
        np.testing.assert_allclose(sd.grad(f)(x), want, atol=1e-12)
        np.testing.assert_allclose(sd.grad(f, mode="forward")(x), want, atol=1e-12)
    xs = np.stack([x, 2 * x])
    xt = torch.tensor(xs, requires_grad=True)
    want = torch.autograd.grad(torch.linalg.matrix_norm(xt, 2).sum(), xt)[0].numpy()
    np.testing.assert_allclose(sd.grad(norm2_axes)(xs), want, atol=1e-12)


# ---------------------------------------------------------------- eigh / svd at repeated values
W3 = np.arange(9.0).reshape(3, 3)
DEGENERATE = np.diag([2.0, 2.0, 1.0])


def eigh_values(a):
    w, v = np.linalg.eigh(a)
    return np.sum(w * np.array([1.0, 2.0, 3.0]))


def eigh_projector(a):
    w, v = np.linalg.eigh(a)
    return np.sum((v[:, 1:] @ v[:, 1:].T) * W3) + np.sum(w)


def eigh_basis(a):
    w, v = np.linalg.eigh(a)
    return np.sum(v[:, 1] * W3[0])


def svd_values(a):
    u, s, vh = np.linalg.svd(a)
    return np.sum(s * np.array([1.0, 2.0]))


def _fd(f, x, h=1e-6):
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        out[i] = (f(x + e) - f(x - e)) / (2 * h)
    return out


def test_eigh_eigenvalues_at_a_repeated_eigenvalue_match_torch():
    # was: all nan in reverse mode and the tape (the unused eigenvectors' zero gradient times
    # 1 / (w_j - w_i) = inf); PyTorch gives [[3, 0, 0], [0, 2, 0], [0, 0, 1]]
    torch = _torch()
    xt = torch.tensor(DEGENERATE, requires_grad=True)
    w = torch.linalg.eigh(xt)[0]
    want = torch.autograd.grad(torch.sum(w * torch.tensor([1.0, 2.0, 3.0])), xt)[0].numpy()
    np.testing.assert_allclose(sd.grad(eigh_values)(DEGENERATE), want, atol=1e-12)
    np.testing.assert_allclose(sd.grad(eigh_values, mode="forward")(DEGENERATE), want, atol=1e-12)
    np.testing.assert_allclose(grad_of(eigh_values, (DEGENERATE,)), want, atol=1e-12)


def test_eigh_projector_onto_a_repeated_eigenvalue_is_nan_again():
    # the projector onto the eigenspace of a repeated eigenvalue does not depend on the basis
    # eigh picks in it and has a gradient, which review18 gave by taking the tie's term as 0
    # wherever v.T @ gv is symmetric there. The reconstruction (v * w) @ v.T has that symmetry
    # too, and a tie term that is not 0 (the limit of (c_ij - c_ji) / (w_j - w_i)): it got 0
    # silently (tests/test_review38.py). The values at the tie cannot tell the two apart, so both
    # are nan now, as in PyTorch and JAX; finite differences away from the tie still agree.
    a = np.diag([1.0, 2.0, 2.0])
    with np.errstate(all="ignore"):
        assert np.isnan(sd.grad(eigh_projector)(a)).any()
        assert np.isnan(grad_of(eigh_projector, (a,))).any()
    b = np.diag([1.0, 2.0, 2.5])
    np.testing.assert_allclose(sd.grad(eigh_projector)(b), _fd(eigh_projector, b), atol=1e-6)


def test_eigh_eigenvector_in_a_repeated_eigenspace_stays_nan():
    # one eigenvector of a repeated eigenvalue is a choice of basis: no derivative, nan (as torch)
    a = np.diag([1.0, 2.0, 2.0])
    with np.errstate(all="ignore"):
        assert np.isnan(sd.grad(eigh_basis)(a)).any()


@pytest.mark.parametrize("x", [np.eye(2), np.diag([1.0, 0.0]), np.zeros((2, 2)),
                               np.array([[0.0, 3.0], [3.0, 0.0]])])
def test_svd_singular_values_at_ties_and_zeros_match_torch(x):
    # was: nan in reverse mode and the tape when U and Vh were returned but not used, at a
    # repeated or zero singular value (svd(eye(2)): all nan for PyTorch's [[1, 0], [0, 2]])
    torch = _torch()
    xt = torch.tensor(x, requires_grad=True)
    s = torch.linalg.svdvals(xt)
    want = torch.autograd.grad(torch.sum(s * torch.tensor([1.0, 2.0])), xt)[0].numpy()
    np.testing.assert_allclose(sd.grad(svd_values)(x), want, atol=1e-12)
    np.testing.assert_allclose(sd.grad(svd_values, mode="forward")(x), want, atol=1e-12)
    np.testing.assert_allclose(grad_of(svd_values, (x,)), want, atol=1e-12)


# ---------------------------------------------------------------- second order where a rule sets a limit
def std_rows(x):
    return np.sum(np.std(x.reshape(2, 3), axis=1)) + np.std(x)


def sinc_sum(x):
    return np.sum(np.sinc(x))


def arctan2_pairs(x):
    return np.arctan2(x[0], x[1]) + np.arctan2(x[2], x[3])


def test_std_hessian_at_constant_rows_matches_torch():
    # the gradient there is the constant 0 (the rule's documented subgradient); its derivative was
    # that of centered / 1 instead: the hessian of np.std at [1, 1, 1, 1] gave I - 1/4 for torch's 0
    x = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0])

    def ft(torch, v):
        return torch.sum(torch.std(v.reshape(2, 3), 1, unbiased=False)) + torch.std(v, unbiased=False)
    _check_all_modes(std_rows, ft, x)


def test_sinc_second_derivative_at_zero_matches_jax():
    # was: 0 for sinc''(0) = -pi^2 / 3 (the rule's constant 0 at x = 0 has no derivative);
    # JAX's sinc (its Maclaurin series at 0) gives it; PyTorch gives nan
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    x = np.array([0.0, 0.5, 1.0, -1.0])
    want = np.asarray(jax.hessian(lambda v: jax.numpy.sum(jax.numpy.sinc(v)))(x))
    np.testing.assert_allclose(sd.hessian(sinc_sum)(x), want, atol=1e-12)
    np.testing.assert_allclose(want[0, 0], -np.pi ** 2 / 3)
    np.testing.assert_allclose(sd.grad(sinc_sum)(x), np.asarray(jax.grad(
        lambda v: jax.numpy.sum(jax.numpy.sinc(v)))(x)), atol=1e-12)


def test_arctan2_hessian_at_the_origin_is_the_zero_of_its_gradient():
    # the gradient at the origin is 0 by choice (PyTorch's); the hessian there was that of
    # x2 / 1 and -x1 / 1, [[0, 1], [-1, 0]] (not even symmetric); now 0, torch's elsewhere
    torch = _torch()
    x = np.array([0.0, 0.0, 1.0, 2.0])
    h = sd.hessian(arctan2_pairs)(x)
    np.testing.assert_array_equal(h[:2], 0.0)
    np.testing.assert_array_equal(h[:, :2], 0.0)
    want = torch.autograd.functional.hessian(
        lambda v: torch.atan2(v[0], v[1]), torch.tensor(x[2:])).numpy()
    np.testing.assert_allclose(h[2:, 2:], want, atol=1e-12)


# ---------------------------------------------------------------- the tape oracle with integer arguments
def mean_of(x):
    return np.mean(x) + np.sum(x * x) / 3.0


@pytest.mark.parametrize("x", [np.array([1, 2, 3]), np.array([True, False, True]), np.int64(2)])
def test_grad_of_an_integer_argument_is_refused_as_sd_grad_refuses_it(x):
    # was: the gradient cast back to the argument's integer dtype: grad_of(np.mean, [1, 2, 3])
    # gave [0, 0, 0] for [1/3, 1/3, 1/3] (no warning). review18 made it the float gradient;
    # review38 refuses it, as sd.grad (InactiveArgumentError) and torch (an integer tensor cannot
    # require grad) do: the tape oracle and the compiler take the same arguments
    with pytest.raises(sd.errors.InactiveArgumentError, match="cannot carry a gradient"):
        grad_of(mean_of, (x,))
    with pytest.raises(sd.errors.InactiveArgumentError, match="cannot carry a gradient"):
        sd.grad(mean_of)(x)
    xf = np.asarray(x, dtype=float)
    np.testing.assert_allclose(grad_of(mean_of, (xf,)), 1.0 / xf.size + 2 * xf / 3.0)


# ---------------------------------------------------------------- logsumexp with zero scales
def lse_masked(x):
    return scipy.special.logsumexp(x, b=np.array([1.0, 0.0, 2.0]))


def lse_masked_rows(x):
    return np.sum(scipy.special.logsumexp(x, axis=1, b=np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]])))


@pytest.mark.parametrize("f, x", [(lse_masked, np.array([0.0, 1000.0, 1.0])),
                                  (lse_masked_rows, np.array([[0.0, 1000.0, 1.0], [800.0, 1.0, -2.0]]))])
def test_logsumexp_entry_scaled_by_zero_has_zero_gradient_where_exp_overflows(f, x):
    # was: nan at the entry with b = 0 (exp(1000 - 1.86) = inf times 0): [0.155, nan, 0.845]
    # where JAX's logsumexp gives [0.155, 0, 0.845]
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from jax.scipy.special import logsumexp as jlse
    b = np.array([1.0, 0.0, 2.0]) if x.ndim == 1 else np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]])
    want = np.asarray(jax.grad(lambda v: jax.numpy.sum(jlse(v, axis=-1, b=b)))(x))
    np.testing.assert_allclose(sd.grad(f)(x), want, atol=1e-12)
    np.testing.assert_allclose(sd.grad(f, mode="forward")(x), want, atol=1e-12)
    if x.ndim == 1:  # (the hessian was all nan)
        want_h = np.asarray(jax.hessian(lambda v: jlse(v, b=b))(x))
        np.testing.assert_allclose(sd.hessian(f)(x), want_h, atol=1e-12)


# ---------------------------------------------------------------- det at singular matrices
def det_of(a):
    return np.linalg.det(a)


def det_batch(a):
    return np.sum(np.linalg.det(a) * np.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("a", [np.array([[1.0, 2.0], [2.0, 4.0]]), np.zeros((2, 2)),
                               np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 3.0]]),
                               np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 2.0, 3.0]])])
def test_det_gradient_at_a_singular_matrix_is_the_cofactor_matrix(a):
    # was: LinAlgError (Singular matrix) from the rule's inv(a) in every mode; the gradient is the
    # cofactor matrix (det is a polynomial): [[4, -2], [-2, 1]] for [[1, 2], [2, 4]] (JAX gives
    # it; PyTorch 2.13 gives 0), 0 where the rank is n - 2 or less
    want = _fd(det_of, a)
    np.testing.assert_allclose(sd.grad(det_of)(a), want, atol=1e-8)
    np.testing.assert_allclose(sd.grad(det_of, mode="forward")(a), want, atol=1e-8)
    np.testing.assert_allclose(grad_of(det_of, (a,)), want, atol=1e-8)


def test_det_gradient_of_a_batch_with_one_singular_matrix():
    a = np.stack([np.array([[1.0, 2.0], [2.0, 4.0]]), np.array([[2.0, 1.0], [0.5, 3.0]]),
                  np.zeros((2, 2))])
    np.testing.assert_allclose(sd.grad(det_batch)(a), _fd(det_batch, a), atol=1e-8)
    # and the hessian of det at a regular matrix still comes through the cofactor's rules
    b = np.array([[2.0, 1.0], [0.5, 3.0]])
    np.testing.assert_allclose(sd.hessian(det_of)(b).reshape(4, 4),
                               np.array([[0, 0, 0, 1], [0, 0, -1, 0], [0, -1, 0, 0], [1, 0, 0, 0.]]),
                               atol=1e-12)


# ---------------------------------------------------------------- wrappers of generated gradients
def quartic(x):
    return np.sum(x ** 4)


_dq = sd.grad(quartic)


@functools.wraps(_dq)
def ten_times_dq(x):
    return 10.0 * _dq(x)


def test_a_functools_wraps_of_a_gradient_is_differentiated_itself():
    # was: parse followed the copied __wrapped__ mark to sd.grad(quartic) itself, so the jacobian
    # of 10 * grad was the hessian: diag(27, 48) at [1.5, 2] for diag(270, 480)
    x = np.array([1.5, 2.0])
    np.testing.assert_allclose(sd.jacobian(ten_times_dq)(x), np.diag([270.0, 480.0]))


def test_jacobian_of_a_hessian_is_refused_not_the_hessian():
    # was: sd.jacobian(sd.hessian(f))(x) returned the hessian (shape (2, 2), no third derivative)
    # and sd.grad of a function of it the gradient of the wrong function; a jacobian is computed
    # in Python and cannot be differentiated again: it says so
    x = np.array([1.5, 2.0])
    with pytest.raises(NoSourceError, match="cannot be differentiated again"):
        sd.jacobian(sd.hessian(quartic))(x)
    with pytest.raises(NoSourceError):
        sd.jacobian(sd.jacobian(sd.grad(quartic)))(x)


def test_cumprod_third_derivative_through_zeros_matches_finite_differences():
    w = np.array([0.3, -1.2, 0.7, 2.0])
    d1 = sd.grad(cumprod_1d)
    d2 = sd.grad(lambda y: np.sum(d1(y) * w))

    def second(y):
        return np.sum(d2(y) * w)

    for x in (np.array([1.5, 0.0, 2.0, 0.5]), np.array([0.0, 1.5, 0.0, 0.5]), np.zeros(4)):
        fd = np.array([(second(x + 1e-5 * e) - second(x - 1e-5 * e)) / 2e-5 for e in np.eye(4)])
        np.testing.assert_allclose(sd.grad(second)(x), fd, rtol=1e-6, atol=1e-6)
