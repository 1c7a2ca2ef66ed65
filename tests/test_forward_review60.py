"""Forward mode, jacobians, hessians and grad of grad as a user meets them: wrong calls of every
entry point refused with a sourcediff error that says how to call it, a functools.partial over
an object's method differentiated in forward mode and second order, and user-style programs
checked in every mode against finite differences and against the reverse-mode gradient."""

import copy
import functools

import numpy as np
import pytest

import sourcediff as sd


def fd_jacobian(fn, args, i, h=1e-6):
    """Central finite differences of ``fn`` (any output shape) in argument ``i``: shape
    out.shape + x.shape; every call on its own copy of the arguments."""
    x = np.asarray(args[i], dtype=float)
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        plus, minus = list(copy.deepcopy(args)), list(copy.deepcopy(args))
        plus[i], minus[i] = x + e.reshape(x.shape), x - e.reshape(x.shape)
        if isinstance(args[i], float):
            plus[i], minus[i] = float(plus[i]), float(minus[i])
        cols.append((np.asarray(fn(*plus), dtype=float) - np.asarray(fn(*minus), dtype=float))
                    / (2 * h))
    out = np.stack(cols, axis=-1)
    return out.reshape(out.shape[:-1] + x.shape)


# ---------------------------------------------------------------- wrong calls of every entry point

def scalar_f(x):
    return np.sum(np.sin(x) * x)


X3 = np.array([0.3, -0.8, 1.1])
V3 = np.array([1.0, 0.5, -2.0])

WRONG_CALLS = [
    ("jvp_tangent_by_position", lambda: sd.jvp(scalar_f)(X3, V3), "x_dot="),
    ("jvp_unknown_keyword", lambda: sd.jvp(scalar_f)(X3, v=V3), "x_dot="),
    ("jvp_no_arguments", lambda: sd.jvp(scalar_f)(), "x_dot="),
    ("jvp_extra_primal", lambda: sd.jvp(scalar_f, (X3, V3), (V3, None)), "scalar_f(x)"),
    ("grad_extra", lambda: sd.grad(scalar_f)(X3, V3), "grad_scalar_f(x)"),
    ("grad_missing", lambda: sd.grad(scalar_f)(), "grad_scalar_f(x)"),
    ("grad_keyword", lambda: sd.grad(scalar_f)(X3, y=2), "grad_scalar_f(x)"),
    ("value_and_grad_extra", lambda: sd.value_and_grad(scalar_f)(X3, V3), "(x)"),
    ("forward_grad_extra", lambda: sd.grad(scalar_f, mode="forward")(X3, V3), "scalar_f(x)"),
    ("forward_grad_missing", lambda: sd.grad(scalar_f, mode="forward")(), "scalar_f(x)"),
    ("forward_grad_keyword", lambda: sd.grad(scalar_f, mode="forward")(X3, y=1),
     "scalar_f(x)"),
    ("jacobian_extra", lambda: sd.jacobian(scalar_f)(X3, V3), "scalar_f(x)"),
    ("jacobian_keyword", lambda: sd.jacobian(scalar_f)(X3, y=1), "scalar_f(x)"),
    ("hessian_extra", lambda: sd.hessian(scalar_f)(X3, V3), "scalar_f(x)"),
    ("hessian_missing", lambda: sd.hessian(scalar_f)(), "scalar_f(x)"),
    ("hessian_keyword", lambda: sd.hessian(scalar_f)(X3, y=1), "scalar_f(x)"),
    ("hvp_extra_primal", lambda: sd.hvp(scalar_f, (X3, V3), (V3, None)), "scalar_f(x)"),
    ("vjp_extra_primal", lambda: sd.vjp(scalar_f, X3, V3), "scalar_f(x)"),
    ("grad_of_grad_extra", lambda: sd.grad(sd.grad(lambda t: t ** 3))(2.0, 1.0), "(t)"),
    ("elementwise_grad_extra", lambda: sd.elementwise_grad(lambda x: np.sin(x))(X3, V3), "(x)"),
]


@pytest.mark.parametrize("name,call,how", WRONG_CALLS, ids=[c[0] for c in WRONG_CALLS])
def test_a_wrong_call_is_a_sourcediff_error_saying_how_to_call(name, call, how):
    """Each of these gave Python's raw TypeError from a generated function (``jvp_f() takes 1
    positional argument but 2 were given``), or an IndexError from sourcediff's own code, or
    named grad_f where the user called sd.hessian(f)."""
    with pytest.raises(sd.CallError) as info:
        call()
    assert isinstance(info.value, TypeError)  # (what Python raises for a wrong call, still)
    assert how in str(info.value)


def test_the_tangent_by_position_is_refused_naming_the_keyword():
    """The documented form is ``jf(x, x_dot=v)``: a positional tangent would be ambiguous for a
    function with defaults (``f(x, scale=1.0)``), so it is refused with the keyword to write."""
    with pytest.raises(sd.CallError, match=r"(?s)jvp_scalar_f.*scalar_f \(.*:\d+\).*"
                                           r"jvp_scalar_f\(x, x_dot=\.\.\.\).*keyword"):
        sd.jvp(scalar_f)(X3, V3)
    out, out_dot = sd.jvp(scalar_f)(X3, x_dot=V3)
    assert out_dot == pytest.approx(float(np.sum((np.sin(X3) + X3 * np.cos(X3)) * V3)))


def test_jvp_and_hvp_without_any_tangent_say_so():
    with pytest.raises(sd.SourcediffError, match="got no tangent"):
        sd.hvp(scalar_f, (X3,), (None,))  # (an IndexError from inside sourcediff)
    with pytest.raises(sd.SourcediffError, match="1 primals but 2 tangents"):
        sd.hvp(scalar_f, (X3,), (V3, V3))  # (a WrtError about a wrt the user never gave)


def test_a_vjp_cotangent_shaped_unlike_the_output_is_refused():
    """A (3,) cotangent for a scalar output was broadcast by numpy: the gradient three times over
    (summed), silently."""
    out, f_vjp = sd.vjp(scalar_f, X3)
    with pytest.raises(sd.SourcediffError, match=r"shape \(3,\) but its output has shape \(\)"):
        f_vjp(np.ones(3))
    np.testing.assert_allclose(f_vjp(1.0)[0], sd.grad(scalar_f)(X3))


def test_a_wrong_call_inside_is_still_python_s_error_at_the_user_s_line():
    """Only a call the generated function's parameters refuse becomes a CallError: a TypeError
    raised by the user's code inside keeps its own message."""
    def bad(x, n):
        return np.sum(np.sin(x)) * len(n)

    with pytest.raises(TypeError, match="has no len") as info:
        sd.grad(bad)(X3, 3)
    assert not isinstance(info.value, sd.CallError)


# ---------------------------------------------------------------- functools.partial over a method

class Scaled:
    def __init__(self):
        self.c = 2.0

    def method(self, x, a=None):
        return np.sum(np.sin(x) * a * self.c)


OBJ = Scaled()
W2 = np.array([0.5, 1.5])
X2 = np.array([0.3, 0.7])


def partial_made_inside(x, w):
    q = functools.partial(Scaled.method, OBJ, a=w)
    return q(x)


def test_hessian_of_a_partial_binding_an_object_and_a_keyword():
    """sd.hessian(partial(Cls.method, obj, a=w)): the partial of the gradient carried the
    gradient's __wrapped__, inspect.signature read the method's own parameters through it, and
    the hessian differentiated with respect to self: AttributeError 'ndarray' has no 'c'."""
    p = functools.partial(Scaled.method, OBJ, a=W2)
    np.testing.assert_allclose(sd.hessian(p)(X2), fd_jacobian(sd.grad(p), (X2,), 0), atol=1e-6)
    np.testing.assert_allclose(sd.jacobian(sd.grad(p))(X2), np.diag(-np.sin(X2) * W2 * 2.0))
    # the partial of a gradient still shows the parameters the partial leaves open
    assert list(__import__("inspect").signature(sd.grad(p)).parameters) == ["x", "a"]


def test_forward_mode_through_a_partial_of_a_method_built_inside():
    """The partial's tangent held zeros_like(obj), array(0, dtype=object), for the object it
    binds, and the method's jvp read self_dot.c off it: AttributeError from the runtime."""
    expected = sd.grad(partial_made_inside, wrt=(0, 1))(X2, W2)
    forward = sd.grad(partial_made_inside, wrt=(0, 1), mode="forward")(X2, W2)
    for g, e, i in zip(forward, expected, (0, 1)):
        np.testing.assert_allclose(g, e)
        np.testing.assert_allclose(g, fd_jacobian(partial_made_inside, (X2, W2), i), atol=1e-6)
    np.testing.assert_allclose(sd.jacobian(partial_made_inside, wrt=1, mode="forward")(X2, W2),
                               expected[1])
