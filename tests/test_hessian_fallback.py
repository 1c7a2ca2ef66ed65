"""sd.hessian of a function that calls an ``sd.custom_vjp`` without a jvp rule: forward mode over
the gradient cannot run it, so the hessian is taken reverse over reverse (grad of the gradient,
which differentiates the user's vjp rule); refused with NoRuleError before. A rule with a jvp keeps
forward over reverse."""

import numpy as np
import pytest

import sourcediff as sd


@sd.custom_vjp
def softplus(z):
    return np.log1p(np.exp(z))


@softplus.defvjp
def softplus_vjp(g, ans, z):
    return (g / (1.0 + np.exp(-z)),)


@sd.custom_vjp
def pair(z):
    return np.sin(z), np.cos(z)


@pair.defvjp
def pair_vjp(g, ans, z):
    gs, gc = g
    return (gs * np.cos(z) - gc * np.sin(z),)


JVP_CALLS = []


@sd.custom_vjp
def cube(z):
    return z ** 3


@cube.defvjp
def cube_vjp(g, ans, z):
    return (3.0 * g * z ** 2,)


@cube.defjvp
def cube_jvp(t, ans, z):
    JVP_CALLS.append(1)
    return (3.0 * t * z ** 2,)


def squared_softplus(x):
    return np.sum(softplus(x) ** 2 * x)


def looped(x):
    t = 0.0
    for i in range(3):
        t = t + np.sum(softplus(x * (i + 1.0)) * x[0])
    return t


def two_outputs(x):
    s, c = pair(x)
    return np.sum(s * c + s ** 2 * x)


def fd_hessian(f, x, h=1e-5):
    """Central differences of sourcediff's gradient, column by column."""
    g = sd.grad(f)
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        cols.append((g(x + e) - g(x - e)).ravel() / (2 * h))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("f", [squared_softplus, looped, two_outputs])
def test_hessian_through_a_vjp_only_rule_is_reverse_over_reverse(f):
    x = np.array([0.3, -0.7, 1.2])
    H = sd.hessian(f)(x)
    np.testing.assert_allclose(H, fd_hessian(f, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(H, H.T, atol=1e-10)
    # the same Hessian again (the reverse jacobian is kept for later calls)
    np.testing.assert_allclose(sd.hessian(f)(x + 0.1), fd_hessian(f, x + 0.1), rtol=1e-6, atol=1e-8)


def test_a_rule_with_a_jvp_keeps_forward_over_reverse():
    def f(x):
        return np.sum(cube(x) * np.sin(x))

    x = np.array([0.5, -1.5])
    JVP_CALLS.clear()
    H = sd.hessian(f)(x)
    np.testing.assert_allclose(H, fd_hessian(f, x), rtol=1e-6, atol=1e-8)
    assert JVP_CALLS, "forward mode over the gradient should have run the jvp rule"


def test_forward_mode_itself_still_refuses_a_vjp_only_rule():
    with pytest.raises(sd.NoRuleError, match="jvp rule for softplus"):
        sd.grad(squared_softplus, mode="forward")(np.ones(2))


def test_hvp_through_a_vjp_only_rule():
    x = np.array([0.3, -0.7, 1.2])
    v = np.array([1.0, -2.0, 0.5])
    for f in (squared_softplus, two_outputs):
        np.testing.assert_allclose(sd.hvp(f, (x,), (v,)), fd_hessian(f, x) @ v, rtol=1e-6,
                                   atol=1e-8)

    def two_args(x, w):
        return np.sum(softplus(x * w) ** 2)

    w = np.array([0.5, 1.5, -1.0])
    u = np.array([0.2, 0.1, -0.3])
    hx, hw = sd.hvp(two_args, (x, w), (v, u))
    rx, rw = sd.hvp(lambda x, w: np.sum(np.log1p(np.exp(x * w)) ** 2), (x, w), (v, u))
    np.testing.assert_allclose(hx, rx, rtol=1e-10)
    np.testing.assert_allclose(hw, rw, rtol=1e-10)


def scaled_softplus(x):
    return softplus(x) * np.array([2.0, 1.0, -1.0])


def test_auto_jacobian_through_a_vjp_only_rule_takes_reverse_passes():
    # a square jacobian: "auto" picks forward mode, which cannot run softplus; it refused with
    # NoJvpRuleError where the reverse passes it can run give the answer
    x = np.array([0.3, -0.7, 1.2])
    J = sd.jacobian(scaled_softplus, mode="auto")(x)
    np.testing.assert_allclose(J, sd.jacobian(scaled_softplus, mode="reverse")(x), rtol=1e-12)
    expected = np.diag(np.array([2.0, 1.0, -1.0]) / (1.0 + np.exp(-x)))
    np.testing.assert_allclose(J, expected, rtol=1e-12)

    def two_args(x, w):
        return softplus(x * w) + w

    w = np.array([0.5, 1.5, -1.0])
    Jx, Jw = sd.jacobian(two_args, wrt=(0, 1))(x, w)
    Rx, Rw = sd.jacobian(two_args, wrt=(0, 1), mode="reverse")(x, w)
    np.testing.assert_allclose(Jx, Rx, rtol=1e-12)
    np.testing.assert_allclose(Jw, Rw, rtol=1e-12)
    with pytest.raises(sd.NoRuleError, match="jvp rule for softplus"):
        sd.jacobian(scaled_softplus, mode="forward")(x)
