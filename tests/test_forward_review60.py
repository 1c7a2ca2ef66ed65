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


# ---------------------------------------------------------------- the caller's data

def appends_to_its_list(L, x):
    L.append(x * 2.0)
    return np.sum(L[-1] * x)


def stores_into_its_dict(d, x):
    d["k"] = x * 3.0
    return np.sum(d["k"] * x)


class _Holder:
    def __init__(self):
        self.v = np.zeros(3)


def stores_on_its_object(b, x):
    b.v = x * 2.0
    return np.sum(b.v * x)


def _state(v):
    if isinstance(v, _Holder):
        return ("holder", v.v.tolist())
    if isinstance(v, dict):
        return {k: _state(item) for k, item in v.items()}
    if isinstance(v, list):
        return [_state(item) for item in v]
    return np.asarray(v).tolist()


FORWARD_MODES = {
    "forward_grad": lambda f, o, x: sd.grad(f, wrt=1, mode="forward")(o, x),
    "jvp": lambda f, o, x: sd.jvp(f, (o, x), (None, np.ones(3))),
    "jvp_form": lambda f, o, x: sd.jvp(f, wrt=1)(o, x, x_dot=np.ones(3)),
    "jacobian_forward": lambda f, o, x: sd.jacobian(f, wrt=1, mode="forward")(o, x),
    "jacobian_reverse": lambda f, o, x: sd.jacobian(f, wrt=1, mode="reverse")(o, x),
}


@pytest.mark.parametrize("mode", sorted(FORWARD_MODES))
@pytest.mark.filterwarnings("ignore::sourcediff.SourcediffWarning")
def test_forward_modes_change_the_callers_data_once_as_python_does(mode):
    """Forward mode runs the function once per element of x: the first pass on the caller's
    arguments, the others on copies, so a list appended to is appended to once (as a plain call
    does), not three times; an object's attribute is stored as Python stores it; a dict argument
    stored into is copied (documented, with a warning) as in reverse mode."""
    x = np.array([0.3, -0.6, 0.9])
    for f, make, like_plain in [(appends_to_its_list, lambda: [np.zeros(3)], True),
                                (stores_on_its_object, _Holder, True),
                                (stores_into_its_dict, lambda: {"k": np.zeros(3)}, False)]:
        plain = make()
        f(plain, x.copy())
        given = make()
        FORWARD_MODES[mode](f, given, x.copy())
        assert _state(given) == _state(plain if like_plain else make()), f.__name__
        np.testing.assert_allclose(sd.grad(f, wrt=1, mode="forward")(make(), x.copy()),
                                   fd_jacobian(f, (make(), x.copy()), 1), atol=1e-6)


# ---------------------------------------------------------------- programs as users write them
# Each is checked in forward mode, the forward and reverse jacobians, jvp, the hessian, the
# jacobian of the gradient and hvp, against central finite differences (of the function, and of
# the reverse-mode gradient for second order) and against the reverse-mode gradient.

from scipy.special import expit, logsumexp  # noqa: E402

_RNG = np.random.default_rng(3)
XP = _RNG.normal(size=4)
WP = _RNG.normal(size=(3, 4))
BP = _RNG.normal(size=3)


def _tanh_scaled(v, k):
    return np.tanh(v) * k


class _Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def __call__(self, x):
        return self.W @ x + self.b

    def hidden(self, x):
        return np.tanh(self(x))

    def score(self, x):
        return np.sum(self.hidden(x) ** 2)


AFFINE = _Affine(WP, BP)


class _Cached:
    def __init__(self, W):
        self.W = W

    def forward(self, x):
        self.z = self.W @ x
        self.out = np.tanh(self.z)
        return self.out


def _recurse(v, n):
    return v if n == 0 else _recurse(np.sin(v) * v, n - 1)


def p_relu_weighted(x):
    return np.sum(np.maximum(x, 0.0) * x)


def p_where(x):
    return np.sum(np.where(x > 0, x ** 2, np.sin(x)))


def p_logsumexp(x):
    return logsumexp(x * 2.0)


def p_expit(x):
    return np.sum(expit(x) * x)


def p_dots(x):
    return np.dot(x, x) * np.dot(WP[0], x)


def p_index_writes(x):
    y = x.copy()
    y[1] = x[0] * x[2]
    y[2:] = y[2:] * 3.0
    return np.sum(y * y)


def p_loop_break(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] > 1.5:
            break
        s = s + x[i] ** 3
    return s


def p_while(x):
    s = 0.0
    i = 0
    while i < 10:
        s = s + np.sin(x[i % 4]) * x[(i + 1) % 4]
        i += 1
    return s


def p_helper(x):
    return np.sum(_tanh_scaled(x, 2.0) ** 2 + _tanh_scaled(x[::-1], 0.5))


def p_list_of_params(x):
    params = [x, x * 2.0]
    return sum(np.sum(p ** 2) for p in params)


def p_dict_of_params(x):
    d = {"a": x[:2], "b": x[2:]}
    return np.sum(d["a"] ** 2) * np.sum(d["b"])


def p_object_call(x):
    return np.sum(np.tanh(AFFINE(x)) ** 2)


def p_methods_calling_methods(x):
    return AFFINE.score(x) + AFFINE.score(x * 2.0)


def p_cached_attributes(x):
    c = _Cached(WP)
    c.forward(x)
    return np.sum(c.out ** 2)


def p_norm_cubed(x):
    return np.linalg.norm(x) ** 3


def p_prod_cumsum(x):
    return np.prod(x[:3]) + np.sum(np.cumsum(x) ** 2)


def p_max_mean(x):
    return np.max(x * np.array([1.0, 2.0, 3.0, 4.0])) + np.mean(x ** 2)


def p_fill_loop(x):
    y = np.zeros(4)
    for i in range(4):
        y[i] = x[i] * x[(i + 1) % 4]
    return np.sum(y ** 2)


def p_clip(x):
    return np.sum(np.clip(x, -0.5, 0.8) ** 2 * x)


def p_sort(x):
    return np.sum(np.sort(x) * np.arange(4.0))


def p_reshape_matmul(x):
    m = x.reshape(2, 2)
    return np.sum(m.T @ m) + np.trace(m @ m)


def p_mask(x):
    return np.sum(x[x > 0] ** 2)


def p_stack_concat(x):
    return np.sum(np.stack([x, x ** 2]).T ** 2) + np.sum(np.concatenate([x, np.sin(x)]) ** 2)


def p_einsum(x):
    return np.sum(np.einsum("i,j->ij", x, x) ** 2)


def p_solve(x):
    return np.sum(np.linalg.solve(np.eye(4) * 3.0 + np.outer(x, x), x))


def p_var_std(x):
    return np.var(x) + np.std(x)


def p_appended_squares(x):
    acc = []
    for v in x:
        acc.append(v ** 2)
    return sum(acc)


def p_repeated_layer(x):
    out = x
    for _ in range(3):
        out = np.tanh(WP.T @ (WP @ out))
    return np.sum(out)


def p_branch(x):
    return np.sum(x ** 2) if x[0] > 0 else np.sum(x ** 3)


def p_entropy(x):
    p = expit(WP @ x + BP)
    return -np.sum(p * np.log(p + 1e-9))


def p_inplace_local(x):
    y = np.empty_like(x)
    y[:] = x
    y *= 2.0
    y[0] += x[1]
    return np.sum(y ** 3)


def p_leaky(x):
    return np.sum(np.maximum(x, 0.1 * x))


def p_lambda(x):
    f = lambda v: np.sin(v) * v  # noqa: E731
    return np.sum(f(x) + f(x ** 2))


def p_inner_def(x):
    def inner(v):
        return np.exp(-v * v) * x[0]
    return np.sum(inner(x))


def p_zip_enumerate(x):
    total = 0.0
    for i, (a, b) in enumerate(zip(x[:-1], x[1:])):
        total = total + (i + 1) * a * b
    return total


def p_recursion(x):
    return np.sum(_recurse(x, 3))


def p_array_of_scalars(x):
    return np.sum(np.array([x[0] * x[1], x[2] ** 2, np.sin(x[3])]))


def p_rows_break(x):
    s = 0.0
    for row in WP:
        s = s + np.dot(row, x) ** 2
        if s > 100.0:
            break
    return s


def p_builtin_max(x):
    return max(np.sum(x), np.sum(x ** 2))


def p_softmax_entropy(x):
    p = np.exp(x) / np.sum(np.exp(x))
    return -np.sum(p * np.log(p))


def p_det(x):
    return float(np.linalg.det(np.eye(4) + np.outer(x, x)))


def p_masked_write(x):
    y = np.zeros_like(x)
    y[x > 0] = x[x > 0] ** 2
    return np.sum(y)


def p_argmax_index(x):
    i = np.argmax(x)
    return x[i] ** 2 + np.sum(x)


def p_recurrent(x):
    h = np.zeros(3)
    for t in range(5):
        h = np.tanh(WP @ x * (t + 1) * 0.1 + 0.5 * h)
        if np.sum(h) > 5.0:
            break
    return np.sum(h ** 2)


def p_logsumexp_axis(x):
    return np.sum(logsumexp(np.outer(x, x), axis=1)) + logsumexp(x, b=np.array([1.0, 2.0, 0.5,
                                                                                  1.5]))


PROGRAMS = [v for k, v in sorted(globals().items()) if k.startswith("p_")]


def _second_order_fd(f, x):
    return fd_jacobian(sd.grad(f), (x,), 0)


@pytest.mark.parametrize("f", PROGRAMS, ids=[f.__name__ for f in PROGRAMS])
def test_a_program_in_every_mode_against_finite_differences(f):
    x = XP.copy()
    fd = fd_jacobian(f, (x,), 0)
    reverse = sd.grad(f)(x.copy())
    np.testing.assert_allclose(reverse, fd, rtol=1e-5, atol=1e-6)
    for got in (sd.grad(f, mode="forward")(x.copy()),
                sd.jacobian(f, mode="forward")(x.copy()),
                sd.jacobian(f, mode="reverse")(x.copy())):
        np.testing.assert_allclose(got, reverse, rtol=1e-9, atol=1e-12)
    v = np.array([0.5, -1.0, 2.0, 0.25])
    np.testing.assert_allclose(sd.jvp(f, (x.copy(),), (v,))[1], reverse @ v, rtol=1e-9,
                               atol=1e-12)
    hessian_fd = _second_order_fd(f, x.copy())
    H = sd.hessian(f)(x.copy())
    np.testing.assert_allclose(H, hessian_fd, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(sd.jacobian(sd.grad(f))(x.copy()), H, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sd.hvp(f, (x.copy(),), (v,)), H @ v, rtol=1e-9, atol=1e-10)


def vector_sin(x):
    return np.sin(x) * x


def vector_layer(x):
    return WP @ np.tanh(x)


def vector_rows(x):
    out = np.empty(3)
    for i in range(3):
        out[i] = np.sum(WP[i] * x ** 2)
    return out


def vector_scan(x):
    y = x.copy()
    for i in range(1, 4):
        y[i] = y[i - 1] * 0.5 + x[i]
    return y


def vector_pieces(x):
    return np.array([np.sum(x), np.prod(x[:2])])


def vector_leaky(x):
    return np.where(x > 0, x, 0.01 * x)


VECTORS = [vector_sin, vector_layer, vector_rows, vector_scan, vector_pieces, vector_leaky]


@pytest.mark.parametrize("f", VECTORS, ids=[f.__name__ for f in VECTORS])
def test_a_jacobian_of_a_vector_function_in_both_modes(f):
    x = XP.copy()
    fd = fd_jacobian(f, (x,), 0)
    forward = sd.jacobian(f, mode="forward")(x.copy())
    np.testing.assert_allclose(forward, fd, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sd.jacobian(f, mode="reverse")(x.copy()), forward, rtol=1e-9,
                               atol=1e-12)


# ---------------------------------------------------------------- callables held in values

def ufunc_out_of_a_tuple(x):
    layer = (np.sin, x * 2.0)
    g, s = layer
    return np.sum(g(x) * s)


def test_forward_mode_through_a_ufunc_taken_out_of_a_tuple_that_carries_a_tangent():
    """g came out of a tuple holding x's tangent, so forward mode called it as a callable that
    carries one, and refused np.sin as "an object" (a model's method); a callable that holds no
    floats carries no tangent."""
    x = XP.copy()
    expected = fd_jacobian(ufunc_out_of_a_tuple, (x,), 0)
    np.testing.assert_allclose(sd.grad(ufunc_out_of_a_tuple)(x), expected, atol=1e-6)
    np.testing.assert_allclose(sd.grad(ufunc_out_of_a_tuple, mode="forward")(x), expected,
                               atol=1e-6)
    np.testing.assert_allclose(sd.jacobian(ufunc_out_of_a_tuple, mode="forward")(x), expected,
                               atol=1e-6)


class _Act:
    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        return np.tanh(self.W @ x)

    def score(self, x):
        return np.sum(self(x) ** 2)

    def twice(self, x):
        return np.sum(self(self(x)))


class _SinAct(_Act):
    def __call__(self, x):
        return np.sin(self.W @ x)


W33 = _RNG.normal(size=(3, 3))
TANH_ACT, SIN_ACT = _Act(W33), _SinAct(W33)


def calls_self_through_methods(x):
    return TANH_ACT.score(x) + SIN_ACT.score(x) + TANH_ACT.twice(x) + SIN_ACT.twice(x)


def test_self_called_in_a_method_has_second_derivatives_and_the_override_is_called():
    """self(x) was a call known at run time only: first derivatives right, the hessian refused
    (NoRuleError). It is the receiver's class's __call__ now: _SinAct's for a _SinAct."""
    x = XP[:3].copy()
    g = sd.grad(calls_self_through_methods)(x)
    np.testing.assert_allclose(g, fd_jacobian(calls_self_through_methods, (x,), 0), atol=1e-6)
    np.testing.assert_allclose(sd.grad(SIN_ACT.score)(x), fd_jacobian(SIN_ACT.score, (x,), 0),
                               atol=1e-6)
    H = sd.hessian(calls_self_through_methods)(x)
    np.testing.assert_allclose(H, fd_jacobian(sd.grad(calls_self_through_methods), (x,), 0),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(H, H.T, atol=1e-10)
