"""Forward mode, vjp, jacobians, hessians, custom rules, stop_gradient and check_grads."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import tape as T
from sourcediff.testing import GradientCheckError, check_grads
from tests.catalogue import load_all
from tests.oracles import check_grads_fd

CASES = load_all()


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_forward_mode_gradient_matches_finite_differences(c):
    args = c.args()
    grads = sd.grad(c.fn, wrt=c.wrt, mode="forward")(*args)
    check_grads_fd(c.fn, args, c.wrt, grads, rtol=c.rtol)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_jvp_equals_reverse_gradient_dotted_with_the_tangent(c):
    args = c.args()
    rng = np.random.default_rng(5)
    tangents = [None] * len(args)
    for i in c.wrt:
        v = rng.normal(size=np.shape(args[i]))
        tangents[i] = float(v) if isinstance(args[i], float) else v
    out, out_dot = sd.jvp(c.fn, args, tangents)
    grads = sd.grad(c.fn, wrt=c.wrt)(*args)
    expected = sum(float(np.sum(np.asarray(g) * tangents[i])) for g, i in zip(grads, c.wrt))
    np.testing.assert_allclose(out, c.fn(*args), rtol=1e-12)
    np.testing.assert_allclose(out_dot, expected, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------- functions used below


def vector_fn(x):
    return np.sin(x) * np.sum(x ** 2) + x[::-1]


def mlp_loss(w1, b1, w2, b2, x, y):
    h = np.maximum(x @ w1 + b1, 0.0)
    return np.sum((h @ w2 + b2 - y) ** 2)


def cubic(x):
    return np.sum(x ** 3 * np.sin(x))


def _fd_jacobian(f, x, eps=1e-6):
    cols = []
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = eps
        cols.append((f(x + e) - f(x - e)) / (2 * eps))
    return np.stack(cols, axis=-1).reshape(np.shape(f(x)) + x.shape)


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_jacobian_of_a_vector_function(mode):
    x = np.random.default_rng(0).normal(size=4)
    J = sd.jacobian(vector_fn, mode=mode)(x)
    np.testing.assert_allclose(J, _fd_jacobian(vector_fn, x), rtol=1e-6, atol=1e-8)


def test_hessian_of_the_seed_mlp_loss_matches_finite_differences():
    rng = np.random.default_rng(1)
    w1, b1 = rng.normal(size=(3, 4)), rng.normal(size=(1, 4))
    w2, b2 = rng.normal(size=(4, 1)), rng.normal(size=(1, 1))
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 1))
    H = sd.hessian(mlp_loss, wrt=2)(w1, b1, w2, b2, x, y)
    g = sd.grad(mlp_loss, wrt=2)
    numeric = _fd_jacobian(lambda w: g(w1, b1, w, b2, x, y), w2)
    assert H.shape == w2.shape + w2.shape
    np.testing.assert_allclose(H, numeric, rtol=1e-5, atol=1e-6)


def test_grad_of_grad_of_a_scalar_function():
    f = sd.grad(sd.grad(lambda x: x ** 3 * 2.0 + np.sin(x)))
    for x in (0.3, -1.2):
        np.testing.assert_allclose(f(x), 12.0 * x - np.sin(x), rtol=1e-10)


def test_hvp_equals_hessian_times_vector():
    x = np.random.default_rng(2).normal(size=3)
    v = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(sd.hvp(cubic, (x,), (v,)), sd.hessian(cubic)(x) @ v, rtol=1e-10)


def test_vjp_with_an_explicit_cotangent():
    x = np.random.default_rng(3).normal(size=4)
    ct = np.arange(4.0)
    out, f_vjp = sd.vjp(vector_fn, x)
    (gx,) = f_vjp(ct)
    np.testing.assert_allclose(out, vector_fn(x))
    np.testing.assert_allclose(gx, ct @ _fd_jacobian(vector_fn, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(f_vjp(ct)[0], gx)  # callable again


def test_elementwise_grad():
    x = np.linspace(-2, 2, 5)
    np.testing.assert_allclose(sd.elementwise_grad(lambda z: np.tanh(z))(x), 1 - np.tanh(x) ** 2)


# ---------------------------------------------------------------- custom rules


@sd.custom_vjp
def softplus(x):
    return np.log1p(np.exp(x))


@softplus.defvjp
def softplus_vjp(g, ans, x):
    return (g * 2.0 / (1.0 + np.exp(-x)),)  # deliberately twice the true derivative


@softplus.defjvp
def softplus_jvp(g, ans, x):
    return (g * 2.0 / (1.0 + np.exp(-x)),)


def uses_softplus(x):
    return np.sum(softplus(x) * 3.0)


def test_a_custom_rule_changes_the_result_in_all_three_modes():
    x = np.array([0.3, -0.7, 1.1])
    doubled = 2.0 * 3.0 / (1.0 + np.exp(-x))
    np.testing.assert_allclose(sd.grad(uses_softplus)(x), doubled)
    np.testing.assert_allclose(sd.grad(uses_softplus, mode="forward")(x), doubled)
    t = T.tensor(x, requires_grad=True)
    uses_softplus(t).backward()
    np.testing.assert_allclose(t.grad.numpy(), doubled)


def late_rule_user(x):
    return np.sum(late_fn(x))


def late_fn(x):
    return x * x


def test_a_rule_registered_after_the_first_gradient_is_picked_up():
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(sd.grad(late_rule_user)(x), 2 * x)
    sd.defvjp(late_fn)(lambda g, ans, x: (g * 10.0,))  # noqa: E731
    try:
        np.testing.assert_allclose(sd.grad(late_rule_user)(x), [10.0, 10.0])
    finally:
        from sourcediff.rules import registry

        registry._rules.pop(late_fn, None)
        registry._version[0] += 1


def with_stop_gradient(x):
    return np.sum(x * sd.stop_gradient(x))


@sd.nondifferentiable
def count_big(x):
    return np.sum(x * 0.0 + (x > 0.5))


def with_nondiff_helper(x):
    return np.sum(x) * count_big(x)


def test_stop_gradient_and_nondifferentiable_functions():
    x = np.array([0.2, 0.9, 1.5])
    np.testing.assert_allclose(sd.grad(with_stop_gradient)(x), x)
    np.testing.assert_allclose(sd.grad(with_stop_gradient, mode="forward")(x), x)
    np.testing.assert_allclose(sd.grad(with_nondiff_helper)(x), np.full(3, 2.0))


def test_check_grads_passes_and_catches_a_wrong_rule():
    x = np.array([0.3, -0.2])
    check_grads(cubic, (x,), order=2, modes=("fwd", "rev"))
    with pytest.raises(GradientCheckError):
        check_grads(uses_softplus, (x,), modes=("rev",))


def test_forward_source_is_on_view():
    text = sd.source(sd.jvp(cubic, wrt=0))
    assert "def jvp_cubic(x, *, x_dot):" in text
    assert "x_dot" in text and "_stack" not in text
