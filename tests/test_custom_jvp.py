"""sd.custom_jvp with JAX's contract: jvp(primals, tangents) -> (primal_out, tangent_out)."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import tape as T
from sourcediff.errors import NoRuleError, SourcediffError


def _fd(f, x, v, eps=1e-6):
    return (f(x + eps * v) - f(x - eps * v)) / (2 * eps)


@sd.custom_jvp
def safe_log(x):
    return np.log(np.maximum(x, 1e-12))


@safe_log.defjvp
def safe_log_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    return safe_log(x), x_dot / np.maximum(x, 1e-12)


@sd.custom_jvp
def scaled_tanh(x, scale, shift=0.5):
    return np.tanh(x * scale) + shift


@scaled_tanh.defjvp
def scaled_tanh_jvp(primals, tangents):
    x, scale, shift = primals
    x_dot, scale_dot, shift_dot = tangents
    out = scaled_tanh(x, scale, shift)
    d = 1.0 - np.tanh(x * scale) ** 2
    return out, d * (x_dot * scale + x * scale_dot) + shift_dot


@sd.custom_jvp
def doubled_sin(x):
    return np.sin(x)


@doubled_sin.defjvp
def doubled_sin_jvp(primals, tangents):  # deliberately twice the derivative: proves it is used
    (x,), (x_dot,) = primals, tangents
    return np.sin(x), 2.0 * np.cos(x) * x_dot


def model(x, w):
    h = safe_log(x * x + 1.0)
    return np.sum(scaled_tanh(h, w) * 3.0)


def uses_default(x):
    return np.sum(scaled_tanh(x, 2.0) ** 2)


def uses_doubled(x):
    return np.sum(doubled_sin(x) * x)


X = np.array([0.3, -0.7, 1.1])
W = np.array([0.5, 1.5, -0.2])


def test_forward_mode_matches_finite_differences():
    v = np.array([1.0, -2.0, 0.5])
    out, out_dot = sd.jvp(model, (X, W), (v, None))
    assert np.isclose(out, model(X, W))
    assert np.isclose(out_dot, _fd(lambda x: model(x, W), X, v), rtol=1e-6)
    _, w_dot = sd.jvp(model, (X, W), (None, v))
    assert np.isclose(w_dot, _fd(lambda w: model(X, w), W, v), rtol=1e-6)


def test_defaults_and_forward_gradient_and_jacobian():
    g = sd.grad(uses_default, mode="forward")(X)
    e = np.eye(3)
    fd = np.array([_fd(uses_default, X, e[i]) for i in range(3)])
    np.testing.assert_allclose(g, fd, rtol=1e-6)
    J = sd.jacobian(lambda x: scaled_tanh(x, 2.0), mode="forward")(X)
    np.testing.assert_allclose(J, np.diag(2.0 * (1 - np.tanh(2.0 * X) ** 2)), rtol=1e-10)


def test_the_custom_jvp_is_what_forward_mode_uses():
    _, out_dot = sd.jvp(uses_doubled, (X,), (np.ones(3),))
    assert np.isclose(out_dot, np.sum(2.0 * np.cos(X) * X + np.sin(X)))
    src = sd.source(sd.jvp(uses_doubled, wrt=0))
    assert "doubled_sin_jvp((x,), (x_dot,))" in src


def test_the_custom_function_itself_and_a_second_forward_order():
    out, out_dot = sd.jvp(safe_log, (X * X,), (np.ones(3),))
    np.testing.assert_allclose(out_dot, 1.0 / (X * X))
    # forward over forward differentiates the user's jvp rule, a plain function
    jf = sd.jvp(uses_doubled, wrt=0)
    v, u = np.array([1.0, 0.5, -1.0]), np.array([0.2, -1.0, 0.7])
    jf2 = sd.jvp(jf, wrt=0)
    _, (_, second) = jf2(X, x_dot=v, **{jf2.__sourcediff_tangent_names__["x"]: u})
    assert np.isclose(second, _fd(lambda x: jf(x, x_dot=v)[1], X, u), rtol=1e-6)


def test_reverse_mode_refuses_naming_the_function_and_custom_vjp():
    with pytest.raises(NoRuleError) as err:
        sd.grad(model)(X, W)
    text = str(err.value)
    assert "safe_log" in text and "custom_vjp" in text and "test_custom_jvp.py" in text


def test_the_tape_refuses_and_plain_calls_run():
    np.testing.assert_allclose(safe_log(X * X), np.log(X * X))
    t = T.tensor(X, requires_grad=True)
    with pytest.raises(SourcediffError, match="scaled_tanh.*custom_vjp"):
        scaled_tanh(t, 2.0)
    with sd.no_grad():
        scaled_tanh(t, 2.0)


def test_check_grads_checks_the_forward_mode_a_custom_jvp_claims():
    from sourcediff.testing import GradientCheckError, check_grads

    check_grads(safe_log, (X * X + 0.5,))
    with pytest.raises(GradientCheckError):
        check_grads(doubled_sin, (X,))
    with pytest.raises(SourcediffError):
        check_grads(safe_log, (X * X + 0.5,), modes=("rev",))
