"""Complex values in between: real functions of real arguments that compute with complex numbers.

The gradient follows autograd's and JAX's convention (a holomorphic function's rule is the real one,
the gradient of a real argument is the real part; conj, np.real, np.imag and np.vdot have their own
rules); abs, norms, var/std, slogdet, the factorizations and a complex base's power in its exponent
have rules for real arguments only and refuse a complex one. Before, abs(x * (1 + 2j)) had the
gradient -1.34 where it is 2.24, conj(z) gave -3 for 5, np.real(z) * 1j lost its projection: every
mode (reverse, forward, the tape) gave such numbers without a word. Finite differences are the oracle:
every function here is real-valued of a real argument.
"""

import warnings

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.tape import grad_of
from tests.oracles import check_grads_fd

C = 1 + 2j


def real_of_product(x):
    return np.sum(np.real(x * C * x))


def imag_of_product(x):
    return np.sum(np.imag(x * C * x))


def real_attribute(x):
    return np.sum((x * C * x).real)


def imag_attribute(x):
    return np.sum((x * C * x).imag)


def conj_then_product(x):
    return np.sum(np.real(np.conj(x * C) * C))


def conj_method(x):
    return np.sum(np.real((x * C).conj() * C))


def times_its_conjugate(x):
    return np.sum(np.real(x * C * np.conj(x * C)))


def vdot_conjugates_its_first(x):
    return np.real(np.vdot(x * C, x * 1j + x))


def real_part_used_again(x):
    # the gradient reaching np.real(z) is complex (r * 1j): its rule takes the real part
    r = np.real(np.exp(1j * x))
    return np.sum(np.imag(r * (2.0 + 3j) * x))


def holomorphic_chain(x):
    z = np.tanh(x * C) + np.sqrt(x * C + 3.0) - np.log(x * C + 3.0) + (x * C) ** 2.5
    return np.sum(np.imag(z)) + np.sum(np.real(z))


def complex_matrices(x):
    m = np.outer(x, x) * 1j + np.eye(len(x))
    return np.real(np.sum(np.linalg.inv(m))) + np.imag(np.linalg.det(m))


def complex_in_a_loop(x):
    z = x * 0j
    for i in range(3):
        z = z * (0.5 + 1j) + x * (i + 1)
    return np.sum(np.real(z) * np.imag(z))


def phases(x):
    z = np.exp(1j * x)
    return np.sum((np.real(z) ** 2 + np.imag(z * z)) * x)


def einsum_of_complex(x):
    return np.real(np.einsum("i,i->", x * C, x + 1j))


SUPPORTED = [real_of_product, imag_of_product, real_attribute, imag_attribute, conj_then_product,
             conj_method, times_its_conjugate, vdot_conjugates_its_first, real_part_used_again,
             holomorphic_chain, complex_matrices, complex_in_a_loop, phases, einsum_of_complex]


def abs_of_complex(x):
    return np.sum(np.abs(x * C))


def squared_modulus(x):
    return np.sum(np.abs(np.exp(1j * x) + x) ** 2)


def norm_of_complex(x):
    return np.linalg.norm(x * C)


def var_of_complex(x):
    return np.var(x * C)


def complex_base_power(x):
    return np.sum(np.real((0.5 + 1j) ** x))


def slogdet_of_complex(x):
    return np.linalg.slogdet(np.outer(x, x) * 1j + np.eye(len(x)))[1]


REFUSED = [(abs_of_complex, "abs"), (squared_modulus, "abs"), (norm_of_complex, "np.linalg.norm"),
           (var_of_complex, "np.var"), (complex_base_power, "x ** y in y"),
           (slogdet_of_complex, "np.linalg.slogdet")]

X = np.array([0.3, -1.2, 0.7, 2.0])


@pytest.mark.parametrize("fn", SUPPORTED, ids=lambda f: f.__name__)
def test_reverse_mode_matches_finite_differences(fn):
    df = sd.grad(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no ComplexWarning: the real part is taken on purpose)
        first, again = df(X.copy()), df(X.copy())  # (the code specialized for X, twice)
    assert first.dtype == np.float64
    check_grads_fd(fn, (X,), (0,), (first,))
    np.testing.assert_allclose(again, first, rtol=1e-12)
    np.testing.assert_allclose(sd.grad(fn, optimize=False)(X.copy()), first, rtol=1e-10)
    value, g = sd.value_and_grad(fn)(X.copy())
    assert np.isclose(value, fn(X))
    np.testing.assert_allclose(g, first, rtol=1e-12)


@pytest.mark.parametrize("fn", SUPPORTED, ids=lambda f: f.__name__)
def test_forward_mode_and_the_tape_match_finite_differences(fn):
    check_grads_fd(fn, (X,), (0,), (sd.grad(fn, mode="forward")(X.copy()),))
    check_grads_fd(fn, (X,), (0,), (np.real(grad_of(fn, (X.copy(),))),))


def test_hessian_through_complex_values():
    h = sd.hessian(phases)(X.copy())
    eps = 1e-5
    fd = np.array([(sd.grad(phases)(X + eps * e) - sd.grad(phases)(X - eps * e)) / (2 * eps)
                   for e in np.eye(X.size)])
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn, what", REFUSED, ids=lambda v: getattr(v, "__name__", ""))
def test_functions_with_real_rules_refuse_complex_values(fn, what):
    for transform in (sd.grad(fn), sd.grad(fn, optimize=False), sd.grad(fn, mode="forward"),
                      sd.value_and_grad(fn)):
        with pytest.raises(sd.SourcediffError) as info:
            transform(X.copy())
        text = str(info.value)
        assert f"no derivative for {what} at a complex value" in text, text
        assert "test_complex.py" in text, text  # (the user's line)
    with pytest.raises(sd.SourcediffError, match="at a complex value"):
        grad_of(fn, (X.copy(),))


def test_real_arguments_keep_the_plain_rules():
    # the checks of real values are gone from the specialized code
    assert "real_only" in sd.source(sd.grad(_abs_norm_var))
    assert "real_only" not in sd.source(sd.grad(_abs_norm_var), X)
    check_grads_fd(_abs_norm_var, (X,), (0,), (sd.grad(_abs_norm_var)(X.copy()),))


def _abs_norm_var(x):
    return np.sum(np.abs(x)) + np.linalg.norm(x) + np.var(x)
