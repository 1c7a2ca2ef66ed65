"""review23: adversarial review of linear algebra, contractions and shape functions.

Complex values in between (a real function of a real argument) follow the convention of
tests/test_complex.py: a holomorphic function's rule is the real one without conjugates."""

import warnings

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.tape import grad_of
from tests.oracles import check_grads_fd
from tests.rule_cases import numpy_crosses_2_vectors

try:
    from scipy.linalg import expm, solve_triangular
except ImportError:  # (the scipy cases are skipped)
    expm = solve_triangular = None

C = 0.7 + 1.3j
M0 = np.array([[0.3, -1.1, 0.4], [0.9, 0.2, -0.5], [-0.7, 0.6, 1.2]])
X = np.array([0.4, -1.3, 0.8])


def _mk(x):
    return np.outer(x, x) * C + np.eye(3) * 3 + M0 * 1j


def matrix_power_of_complex(x):
    return np.imag(np.sum(np.linalg.matrix_power(_mk(x), 2)))


def multi_dot_of_complex(x):
    return np.imag(np.sum(np.linalg.multi_dot([_mk(x), _mk(x) * 1j, x])))


def convolve_of_complex(x):
    return np.real(np.sum(np.convolve(x * C, x * 1j + x) * C))


def correlate_of_complex(x):
    return np.real(np.sum(np.correlate(x * C, x * 1j + x, "full") * C))


def correlate_conjugates_its_second(x):
    return np.imag(np.sum(np.correlate(x + 2.0, x * C, "same")))


def interp_of_complex_values(x):
    return np.real(np.sum(np.interp(np.array([0.3, 1.2, -0.5]), np.arange(3.0), x * C) * C))


def trapezoid_of_complex(x):
    return np.real(np.trapezoid(x * C, np.arange(3.0)) * C)


def average_of_complex(x):
    return np.real(np.average(x * C, weights=np.array([1.0, 2.0, 3.0])) * C)


def average_with_complex_weights(x):
    return np.real(np.average(np.array([1.0, 2.0, 3.0]), None, x * C + 3) * C)


def expm_of_complex(x):
    return np.real(np.sum(expm(np.outer(x, x) * C * 0.3) * C))


def solve_triangular_of_complex(x):
    return np.real(np.sum(solve_triangular(np.triu(np.outer(x, x) * C) + 3 * np.eye(3), x * 1j) * C))


# Each gave a number in some mode that was not the derivative: the helpers cast their operands
# to float (np.asarray(v, dtype=float), the imaginary parts dropped: matrix_power, multi_dot,
# interp, trapezoid, average, expm, solve_triangular's tangent), and the convolve/correlate rules
# called np.correlate, which conjugates its second operand. For example matrix_power gave
# [-55.9, -61.3, -50.2] for [-81.9, -87.4, -65.8] in every mode; convolve [-6.65, ...] for
# [14.34, ...] in reverse mode and on the tape.
HOLOMORPHIC = [matrix_power_of_complex, multi_dot_of_complex, convolve_of_complex,
               correlate_of_complex, correlate_conjugates_its_second, interp_of_complex_values,
               trapezoid_of_complex, average_of_complex, average_with_complex_weights,
               expm_of_complex, solve_triangular_of_complex]


def _needs_scipy(fn):
    if expm is None and fn in (expm_of_complex, solve_triangular_of_complex):
        pytest.skip("scipy is not installed")


@pytest.mark.parametrize("fn", HOLOMORPHIC, ids=lambda f: f.__name__)
def test_complex_values_in_between_reverse_mode(fn):
    _needs_scipy(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        first, again = sd.grad(fn)(X.copy()), sd.grad(fn)(X.copy())
        generic = sd.grad(fn, optimize=False)(X.copy())
    assert first.dtype == np.float64
    check_grads_fd(fn, (X,), (0,), (first,))
    np.testing.assert_allclose(again, first, rtol=1e-10)
    np.testing.assert_allclose(generic, first, rtol=1e-10)


@pytest.mark.parametrize("fn", HOLOMORPHIC, ids=lambda f: f.__name__)
def test_complex_values_in_between_forward_mode_and_the_tape(fn):
    _needs_scipy(fn)
    check_grads_fd(fn, (X,), (0,), (sd.grad(fn, mode="forward")(X.copy()),))
    if fn not in (expm_of_complex, solve_triangular_of_complex):  # (scipy: not on the tape)
        check_grads_fd(fn, (X,), (0,), (np.real(grad_of(fn, (X.copy(),))),))


def cholesky_of_complex(x):
    m = _mk(x)
    return np.real(np.sum(np.linalg.cholesky(m @ np.conj(m).T)))


def test_cholesky_of_a_complex_matrix_is_refused_in_reverse_mode():
    # the rule's check of a complex factor sat in np.where(upper, check(ans), ...), which the
    # compiler folds for a constant upper=False: reverse mode gave [-4.46, -5.90, -3.82] for
    # [-4.58, -6.10, -3.98] (forward mode and the tape refused)
    for transform in (sd.grad(cholesky_of_complex), sd.grad(cholesky_of_complex, optimize=False),
                      sd.grad(cholesky_of_complex, mode="forward")):
        with pytest.raises(sd.SourcediffError, match="np.linalg.cholesky at a complex value"):
            transform(X.copy())


def _cross_of_2_vectors(a, b):
    return np.sum(np.sin(np.cross(a, b)) * np.arange(1.0, 1.0 + np.size(np.cross(a, b))).reshape(
        np.shape(np.cross(a, b))))


@pytest.mark.skipif(not numpy_crosses_2_vectors(), reason="this numpy refuses 2-vectors in np.cross")
@pytest.mark.parametrize("shapes", [((2,), (2,)), ((4, 2), (3,)), ((3,), (2,)), ((4, 2), (5, 1, 2))],
                         ids=str)
def test_cross_of_2_vectors(shapes):
    # np.cross reads a 2-vector as a 3-vector with z = 0 (and gives the z component alone for two
    # of them); reverse mode and the tape failed inside the rule (AxisError, ValueError)
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # (numpy 2 deprecates 2-vectors)
        for grads in (sd.grad(_cross_of_2_vectors, wrt=(0, 1))(a, b),
                      sd.grad(_cross_of_2_vectors, wrt=(0, 1), optimize=False)(a, b),
                      grad_of(_cross_of_2_vectors, (a, b), wrt=(0, 1))):
            check_grads_fd(_cross_of_2_vectors, (a, b), (0, 1), grads)
        h = sd.hessian(_cross_of_2_vectors)(a, b)
        eps = 1e-5
        fd = np.array([(sd.grad(_cross_of_2_vectors)(a + eps * e, b) -
                        sd.grad(_cross_of_2_vectors)(a - eps * e, b)) / (2 * eps)
                       for e in np.eye(a.size).reshape((a.size,) + a.shape)])
        np.testing.assert_allclose(h.reshape(a.size, a.size), fd.reshape(a.size, a.size),
                                   rtol=1e-5, atol=1e-6)


def _write_into_matrix_power_1(a):
    b = a * 1.0
    m = np.linalg.matrix_power(b, 1)  # (numpy gives b itself back)
    m[0, 0] = 5.0
    return np.sum(np.sin(b))


def _write_into_atleast_2d(a):
    b = a * 1.0
    m = np.atleast_2d(b)  # (b itself)
    m[0, 0] = 5.0
    return np.sum(np.sin(b))


def _write_into_real_of_real(a):
    b = a * 1.0
    m = np.real(b)  # (b itself)
    m[0, 0] = 5.0
    return np.sum(np.sin(b))


@pytest.mark.parametrize("fn", [_write_into_matrix_power_1, _write_into_atleast_2d,
                                _write_into_real_of_real], ids=lambda f: f.__name__)
def test_tape_refuses_a_write_into_an_argument_given_back(fn):
    # numpy gives the argument's array itself back; the tape kept it as a new tensor without a
    # base, so the write changed b's values and not its graph: the gradient at [0, 0] was
    # cos(a[0, 0]) where it is 0 (the written element no longer depends on a). Compiled, the
    # write is refused (AliasError); on the tape now too
    a = np.random.default_rng(4).standard_normal((3, 3))
    with pytest.raises(sd.SourcediffError):
        grad_of(fn, (a,))
    with pytest.raises(sd.SourcediffError):
        sd.grad(fn)(a)


_V = np.array([[0.3, -1.2, 0.8, 0.5], [1.1, 0.4, -0.6, 0.9], [-0.2, 0.7, 1.3, -1.5]])


def _bilinear_sublist(a, b):
    return np.sum(np.einsum(a, [0, 1], b, [1, 2], [0, 2]) * _V[:2])


def _bilinear_string(a, b):
    return np.sum(np.einsum("ij,jk->ik", a, b) * _V[:2])


_GRAD_B_SUBLIST = sd.grad(_bilinear_sublist, wrt=1)
_GRAD_B_STRING = sd.grad(_bilinear_string, wrt=1)


def _paired_grad_b_sublist(a, b):
    return np.sum(_GRAD_B_SUBLIST(a, b) * _V)


def _paired_grad_b_string(a, b):
    return np.sum(_GRAD_B_STRING(a, b) * _V)


def _sin_sublist(a, b):
    return np.sum(np.sin(np.einsum(a, [0, 1], b, [1, 2])))


def test_second_derivative_through_einsum_sublist_form():
    # in np.einsum(a, [0, 1], b, [1, 2], [0, 2]) the first array reaches the gradient helper as
    # its `subscripts` argument, whose derivative the helper's rule does not give: the derivative
    # of b's gradient in a came out 0 ([0, 0, 0] for [3.14, 0.10, -0.91]), reverse and forward;
    # sd.hessian failed with "unhashable type: 'numpy.ndarray'". Refused now; the string form
    # gives it
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    want = sd.grad(_paired_grad_b_string, wrt=0)(a, b)
    check_grads_fd(_paired_grad_b_string, (a, b), (0,), (want,))
    for mode in ("reverse", "forward"):
        with pytest.raises(sd.SourcediffError, match="subscripts"):
            sd.grad(_paired_grad_b_sublist, wrt=0, mode=mode)(a, b)
    for wrt in (0, 1):
        with pytest.raises(sd.SourcediffError, match="subscripts|sublist"):
            sd.hessian(_sin_sublist, wrt=wrt)(a, b)
    g = sd.grad(_sin_sublist, wrt=(0, 1))(a, b)  # (first order as before)
    check_grads_fd(_sin_sublist, (a, b), (0, 1), g)


def _multi_dot_by_keyword(a):
    return np.sum(np.linalg.multi_dot(arrays=[a, a]))


def _block_of_tensors(a):
    return np.sum(np.block([[a, a], [a, a]]))


@pytest.mark.parametrize("fn", [_multi_dot_by_keyword, _block_of_tensors], ids=lambda f: f.__name__)
def test_tape_refuses_tensors_in_a_keyword_list_or_a_nested_list(fn):
    # the tape's checks looked one list deep and not into keyword lists: numpy dispatched the
    # call back to the tape with the Tensors still in it, a RecursionError
    a = np.eye(3) + 0.1
    with pytest.raises(sd.SourcediffError, match="positionally|np.block"):
        grad_of(fn, (a,))


def test_folding_np_where_keeps_a_branch_that_checks_its_value():
    # np.where(False, _sd.real_only(ans, ...), other) was folded to `other`, and the check of a
    # complex value with it: np.linalg.cholesky's rule had its check there (reverse mode gave a
    # wrong gradient for a complex matrix where forward mode and the tape refused)
    import gast

    from sourcediff.compiler.optimize import fold_constants

    where = gast.parse("np.where").body[0].value
    checked = gast.parse("y = g * np.where(False, _sd.real_only(x, 'f'), x)").body
    plain = gast.parse("y = g * np.where(False, np.swapaxes(x, 0, 1), x)").body
    assert "real_only" in gast.unparse(fold_constants(checked, {gast.dump(where)})[0])
    assert gast.unparse(fold_constants(plain, {gast.dump(where)})[0]).strip() == "y = g * x"


def _gradient_with_coordinates(f, x):
    return np.sum(np.sin(np.gradient(f, x, axis=0)) * np.arange(1.0, 17.0).reshape(4, 4))


def test_forward_mode_gives_the_tangent_of_coordinate_arrays_of_np_gradient():
    # the tangent of a coordinate array x was taken as that of a scalar spacing (-out * t / h,
    # broadcast along the other axis of a 4 x 4 f): forward mode gave [1.59, -0.22, 0.35, -0.50]
    # for [-1.62, -0.39, 3.40, -1.39]; review23 refused it, review38 computes it (complex step)
    rng = np.random.default_rng(17)
    x = np.cumsum(np.abs(rng.standard_normal(4)) + 0.3)
    f = rng.standard_normal((4, 4))
    for mode in ("forward", "reverse"):
        g = sd.grad(_gradient_with_coordinates, wrt=(0, 1), mode=mode)(f, x)
        check_grads_fd(_gradient_with_coordinates, (f, x), (0, 1), g)


_W9 = np.arange(1.0, 10.0)


def _ravel_k_of_mixed_layout(a):
    return np.sum(np.sin(np.ravel(a.T * 2.0 + np.ones((3, 3)), order="K")) * _W9)


def _ravel_a_of_mixed_layout(a):
    return np.sum(np.sin(np.ravel(np.ones((3, 3)) + a.T, order="A")) * _W9)


def _ravel_k_of_a_transposed(a):
    return np.sum(np.sin(a.T.ravel("K")) * _W9)


def _reshape_a_of_a_transposed(a):
    return np.sum(np.sin(np.reshape(np.exp(a.T), (9,), order="A")) * _W9)


@pytest.mark.parametrize("fn", [_ravel_k_of_mixed_layout, _ravel_a_of_mixed_layout,
                                _ravel_k_of_a_transposed, _reshape_a_of_a_transposed],
                         ids=lambda f: f.__name__)
def test_ravel_orders_that_read_the_memory_layout(fn):
    # order='K' and 'A' read the primal's memory layout; forward mode reran the call on the
    # tangent, whose layout may differ: np.ravel(a.T * 2.0 + ones, order='K') gave
    # [1.98, 1.39, 5.76, ...] for [1.98, 2.45, -9.81, ...]. Reverse mode and the tape failed on
    # 'K' ("order 'K' is not permitted for reshaping")
    a = np.random.default_rng(18).standard_normal((3, 3)) + 3 * np.eye(3)
    for g in (sd.grad(fn)(a.copy()), sd.grad(fn, optimize=False)(a.copy()),
              sd.grad(fn, mode="forward")(a.copy()), grad_of(fn, (a.copy(),))):
        check_grads_fd(fn, (a,), (0,), (g,))
    eps = 1e-5
    h = sd.hessian(fn)(a.copy()).reshape(9, 9)
    fd = np.array([(sd.grad(fn)(a + eps * e) - sd.grad(fn)(a - eps * e)).ravel() / (2 * eps)
                   for e in np.eye(9).reshape(9, 3, 3)])
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-6)
