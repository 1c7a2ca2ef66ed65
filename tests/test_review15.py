"""Forward mode, higher derivatives and the transforms built on them, against finite differences
and the other modes: programs where a transform returned a plausible but wrong derivative."""

import copy

import numpy as np
import pytest

import sourcediff as sd


def _fd_jacobian(fn, args, i, h=1e-6):
    """Central finite differences of fn (any output shape) in args[i], shape out + arg."""
    x = np.asarray(args[i], float)
    out = np.asarray(fn(*copy.deepcopy(args)), float)
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(x.shape):
        plus, minus = list(copy.deepcopy(args)), list(copy.deepcopy(args))
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        plus[i], minus[i] = xp, xm
        jac[(Ellipsis,) + idx] = (np.asarray(fn(*plus), float) - np.asarray(fn(*minus), float)) / (2 * h)
    return jac


X5 = np.array([0.3, -1.2, 0.7, 2.1, -0.4])


def _rows_written_in_a_loop(x):
    y = np.empty(3)
    for i in range(3):
        y[i] = x[i] * x[i + 1]
    return y * x[4]


def _writes_into_its_argument(x):
    x[1] = x[0] * x[2]
    x *= 2.0
    return np.sum(x ** 2)


def _helper(a, *args, scale=2.0, off=0.0):
    s = a * scale
    for t in args:
        s = s + t * a
    return s + off, s * s


def _calls_a_helper(x):
    p, q = _helper(x[0], x[1], x[2], scale=x[3])
    r, _ = _helper(x[4], off=x[0])
    return p * q + r


@pytest.mark.parametrize("optimize", [True, False])
def test_a_reverse_jacobian_calls_the_backward_form_on_what_one_run_saved(optimize):
    """The backward form puts back in place what the forward pass overwrote (``y[i] = <saved>``)
    in arrays the run saved: sd.vjp's f_vjp, called once per output element by
    ``sd.jacobian(mode="reverse")``, differentiated every row after the first at the restored
    values (column 4 of _rows_written_in_a_loop's jacobian was y[i] * x[4], not y[i]; the reverse
    hessian of _calls_a_helper was off by 0.69)."""
    x = X5.copy()
    jac = sd.jacobian(_rows_written_in_a_loop, mode="reverse", optimize=optimize)(x)
    np.testing.assert_allclose(jac, _fd_jacobian(_rows_written_in_a_loop, (X5,), 0), rtol=1e-6, atol=1e-8)
    out, f_vjp = sd.vjp(_rows_written_in_a_loop, X5.copy(), optimize=optimize)
    first = f_vjp(np.array([0.0, 1.0, 2.0]))[0]
    for _ in range(2):
        np.testing.assert_array_equal(f_vjp(np.array([0.0, 1.0, 2.0]))[0], first)
    hess = sd.jacobian(sd.grad(_calls_a_helper), mode="reverse", optimize=optimize)(X5.copy())
    expected = _fd_jacobian(sd.grad(_calls_a_helper, optimize=False), (X5,), 0)
    np.testing.assert_allclose(hess, expected, rtol=1e-5, atol=1e-7)


def test_vjp_without_optimization_differentiates_at_the_arguments_given():
    """sd.vjp(f, x, optimize=False) ran f itself (which wrote into x) and then the backward pass
    at the changed x: the gradient of _writes_into_its_argument was [14.2, 0, 15.2, 33.6, -6.4]
    where [3.58, 0, 6.10, 16.8, -3.2] is right, and the caller's x was changed; the optimized vjp
    (and sd.grad) left x alone."""
    expected = _fd_jacobian(_writes_into_its_argument, (X5,), 0)
    for optimize in (True, False):
        x = X5.copy()
        out, f_vjp = sd.vjp(_writes_into_its_argument, x, optimize=optimize)
        np.testing.assert_allclose(f_vjp(1.0)[0], expected, rtol=1e-6)
        np.testing.assert_array_equal(x, X5)
        assert out == _writes_into_its_argument(X5.copy())
        jac = sd.jacobian(_writes_into_its_argument, mode="reverse", optimize=optimize)(X5.copy())
        np.testing.assert_allclose(jac, expected, rtol=1e-6)


def _doubled(x):
    return x * 2.0


def _three_sums(x):
    return np.array([np.sum(x), np.sum(x * x), 1.0])


def _sum_of_squares(x):
    return np.sum(x ** 2)


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_a_jacobian_at_an_argument_with_no_elements_has_the_output_s_shape_too(mode):
    """A forward jacobian runs one pass per element of x; for an x of size 0 it ran none and took
    the output's shape as (): the jacobian of x * 2 at zeros(0) had shape (0,), not (0, 0) (the
    reverse jacobian's), of a function returning 3 values (0,), not (3, 0), and the hessian of
    sum(x ** 2) at zeros((2, 0)) had shape (2, 0), not (2, 0, 2, 0)."""
    for fn in (_doubled, _three_sums):
        for shape in ((0,), (2, 0)):
            x = np.zeros(shape)
            jac = sd.jacobian(fn, mode=mode)(x)
            assert jac.shape == np.shape(fn(x)) + shape
    for shape in ((0,), (2, 0)):
        assert sd.hessian(_sum_of_squares)(np.zeros(shape)).shape == shape + shape


def _weighted_by_the_loop_index(x):
    s = 0.0
    for i in range(3):
        s = s + np.sum(x * x) * i
    return s


def _index_weighted_rows(x):
    X = np.array([[0.3, -1.2, 0.7], [0.5, 0.1, -0.4]])
    s = 0.0
    for i in range(3):
        y = x.copy()
        y[1] = y[0] * i
        s = s + np.sum(np.mean(x[None, :] * X, axis=0) ** 2) * i + np.sum(y ** 2) * i
        s = s + np.sum(np.where(x > 0, x, 0.1 * x) ** 2) * i + np.linalg.norm(x) * i
        s = s + np.sum(np.concatenate([x, x * 2]) ** 2) * i + np.sum(np.sort(x) ** 3) * i
    return s


@pytest.mark.parametrize("fn", [_weighted_by_the_loop_index, _index_weighted_rows])
@pytest.mark.parametrize("optimize", [True, False])
def test_a_hessian_through_a_gradient_that_is_zero_on_one_pass(fn, optimize):
    """At i = 0 the gradient's g * i is the Python float 0.0, which the runtime helpers take as
    the symbolic zero (unreduce returns 0.0, not zeros shaped like x); the tangent of that value
    has its real shape, and broadcasting it to the primal's shape () raised "cannot broadcast a
    non-scalar to a scalar array" from the generated code in sd.hessian and sd.hvp."""
    x = np.array([0.3, -1.2, 0.7])
    expected = _fd_jacobian(sd.grad(fn, optimize=False), (x,), 0)
    np.testing.assert_allclose(sd.hessian(fn, optimize=optimize)(x.copy()), expected, rtol=1e-5, atol=1e-6)
    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(sd.hvp(fn, (x.copy(),), (v,), optimize=optimize), expected @ v,
                               rtol=1e-5, atol=1e-6)


def _a_stack(x):
    st = [x[0]]
    out = 0.0
    for i in range(1, len(x)):
        if x[i] > 0:
            st.append(st[-1] * x[i])
        elif len(st) > 1:
            out = out + st.pop() * x[i]
    while st:
        out = out + st.pop() ** 2
    return out


def _a_dict_filled_in_a_loop(x):
    d = {}
    for i in range(len(x)):
        k = i % 2
        if k in d:
            d[k] = d[k] * x[i] + np.sin(x[i])
        else:
            d[k] = x[i] ** 2
    squares = {i: x[i] ** 2 for i in range(3)}
    return d[0] * d[1] + sum(squares.values()) * squares[1]


def _a_scalar_through_branches(a):
    y = a
    for i in range(3):
        if y > 1.0:
            y = y * 0.5 + np.log(y)
        else:
            y = y * y + 1.0
    return y * a


@pytest.mark.parametrize("fn", [_a_stack, _a_dict_filled_in_a_loop])
def test_hessians_of_functions_that_pop_from_lists_or_write_into_containers_in_loops(fn):
    """The gradient of lst.pop() calls _sd.push_grad, and a write into a dict or list in a loop
    keeps what it overwrites with _sd.saved_item; neither helper had a rule, so sd.hessian and
    sd.hvp of such functions were refused ("has no derivative rule yet")."""
    x = np.array([0.3, -1.2, 0.7, 2.1, -0.4, 1.1])
    expected = _fd_jacobian(sd.grad(fn, optimize=False), (x,), 0)
    np.testing.assert_allclose(sd.hessian(fn)(x.copy()), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sd.hessian(fn, optimize=False)(x.copy()), expected, rtol=1e-5, atol=1e-6)
    v = np.linspace(-1.0, 1.0, 6)
    np.testing.assert_allclose(sd.hvp(fn, (x.copy(),), (v,)), expected @ v, rtol=1e-5, atol=1e-6)


def test_a_third_derivative_through_a_loop_with_branches():
    """The second derivative's code pops the first's stacks (_sd.push_grad): a third derivative
    (grad of grad of grad, or elementwise_grad three times) was refused."""
    d2 = sd.grad(sd.grad(_a_scalar_through_branches))
    for a in (0.3, 0.9, 1.7):
        expected = (d2(a + 1e-5) - d2(a - 1e-5)) / 2e-5
        assert sd.grad(sd.grad(sd.grad(_a_scalar_through_branches)))(a) == pytest.approx(expected, rel=1e-5)
        e3 = sd.elementwise_grad(sd.elementwise_grad(sd.elementwise_grad(_a_scalar_through_branches)))
        assert e3(a) == pytest.approx(expected, rel=1e-5)


def _pops_a_weight(x, ws):
    w = ws.pop()
    return np.sum(x * x) + np.sum(x - 1.0) * w


def _pops_from_its_argument(ws, x):
    a = ws.pop()
    return a * ws[-1] * x + ws[0]


def test_forward_passes_each_see_the_list_the_call_was_made_with():
    """Forward mode runs the function once per element of x; a function that pops from a list it
    is given popped a different item on each pass: at x = ones (where the value does not depend on
    the item, so no pass looked different) the forward gradient was [32, 22, 12] where [32, 32, 32]
    is right, and the caller's list lost three items. A gradient with respect to the list popped
    from failed inside sourcediff (unflatten expects a vector of 2 entries)."""
    x = np.ones(3)
    expected = sd.grad(_pops_a_weight)(x, [10.0, 20.0, 30.0])
    for grad_fn in (sd.grad(_pops_a_weight, mode="forward"), sd.jacobian(_pops_a_weight, mode="forward"),
                    sd.jacobian(_pops_a_weight, mode="auto")):
        ws = [10.0, 20.0, 30.0]
        np.testing.assert_allclose(grad_fn(x, ws), expected)
        assert ws == [10.0, 20.0]  # (one run's pop, as Python and reverse mode do)
    np.testing.assert_allclose(sd.hessian(_pops_a_weight)(x, [10.0, 20.0, 30.0]), 2 * np.eye(3))
    reverse = sd.grad(_pops_from_its_argument)([1.0, 2.0, 3.0], 1.5)
    forward = sd.grad(_pops_from_its_argument, mode="forward")([1.0, 2.0, 3.0], 1.5)
    assert forward == pytest.approx(reverse) and len(forward) == 3


def _writes_into_a_dict(x):
    d = {}
    d["a"] = x ** 2
    d["b"] = np.sin(x)
    d["a"] = d["a"] * d["b"]
    squares = {i: x[i] ** 2 for i in range(3)}
    return np.sum(d["a"] + d["b"]) + sum(squares.values()) * squares[1]


def test_a_reverse_jacobian_of_a_gradient_that_writes_into_a_dict():
    """The gradient puts back what d[k] = v overwrote with _sd.restore_item, which deletes a key
    the write added; differentiated again in reverse mode, nothing undid that, and the second
    backward sweep met d without its keys: KeyError 'b' from the generated code."""
    x = np.array([0.3, -1.2, 0.7, 2.1])
    expected = _fd_jacobian(sd.grad(_writes_into_a_dict, optimize=False), (x,), 0)
    for optimize in (True, False):
        jac = sd.jacobian(sd.grad(_writes_into_a_dict), mode="reverse", optimize=optimize)(x.copy())
        np.testing.assert_allclose(jac, expected, rtol=1e-5, atol=1e-6)


class _Recurrent:
    def __init__(self):
        self.Wh = np.array([[0.4, -0.3, 0.2], [0.1, 0.5, -0.2], [-0.3, 0.2, 0.3]])

    def run(self, xs):
        h = np.zeros(3)
        hs = []
        for xt in xs:
            h = np.tanh(self.Wh @ h + xt)
            hs.append(h)
        return np.sum(np.stack(hs) ** 2)


_RECURRENT = _Recurrent()


def _runs_a_method_that_builds_a_list(xs):
    return _RECURRENT.run(xs)


def test_a_reverse_jacobian_of_a_gradient_through_a_method_that_builds_a_list():
    """The method's backward form pops the list its forward form saved; differentiated again in
    reverse mode, that pop was not undone (the list is not read in that form's own adjoint), and
    the forward form's adjoint then popped from an empty list: IndexError from generated code."""
    xs = np.array([[0.3, -1.2, 0.7], [0.5, 0.1, -0.4]])
    expected = _fd_jacobian(sd.grad(_runs_a_method_that_builds_a_list, optimize=False), (xs,), 0)
    for optimize in (True, False):
        jac = sd.jacobian(sd.grad(_runs_a_method_that_builds_a_list), mode="reverse",
                          optimize=optimize)(xs.copy())
        np.testing.assert_allclose(jac, expected, rtol=1e-5, atol=1e-6)


_TREE_T = np.array([0.5, -0.3])


def _loss_of_a_dict(params, x):
    h = np.tanh(params["W1"] @ x + params["b1"])
    return np.sum((params["W2"] @ h - _TREE_T) ** 2) * params["c"]


def _dict_out(params, x):
    h = np.tanh(params["W1"] @ x + params["b1"])
    return {"h": h, "s": np.sum(h ** 2) * params["c"]}


def test_a_reverse_jacobian_of_a_function_of_a_dict():
    """sd.jacobian(mode="reverse") (and "auto" where it chose reverse) allocated its result with
    np.result_type of the dict itself and failed inside sourcediff ("entry not a 2- or 3-
    tuple"); the forward jacobian takes a dict as the vector of its leaves' entries."""
    rng = np.random.default_rng(4)
    params = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=3), "W2": rng.normal(size=(2, 3)),
              "c": 0.7}
    x = rng.normal(size=2)
    vec, unflatten = sd.flatten(params)
    grad = sd.grad(_loss_of_a_dict, optimize=False)
    expected = _fd_jacobian(lambda v: sd.flatten(grad(unflatten(v), x))[0], (vec,), 0)
    hess = sd.jacobian(sd.grad(_loss_of_a_dict), mode="reverse")(params, x)
    np.testing.assert_allclose(hess, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sd.hessian(_loss_of_a_dict)(params, x), expected, rtol=1e-5, atol=1e-6)
    forward = sd.jacobian(_dict_out, wrt=(0, 1), mode="forward")(params, x)
    expected_out = _fd_jacobian(lambda v: sd.flatten(_dict_out(unflatten(v), x))[0], (vec,), 0)
    np.testing.assert_allclose(forward[0], expected_out, rtol=1e-5, atol=1e-7)
    for mode in ("reverse", "auto"):
        for a, b in zip(sd.jacobian(_dict_out, wrt=(0, 1), mode=mode)(params, x), forward):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def _power(x, n):
    return np.sum(x ** n)


def test_jvp_refuses_a_tangent_for_an_integer_argument():
    """sd.jvp(f, (x, 3), (v, 1)) differentiated x ** n in the integer n as if it were a float
    (20.5 where the tangent of x alone gives 15.0) and sd.jvp(f, (2,), (1.0,)) an int primal,
    while sd.grad, the forward jacobian and the hessian refuse integer arguments."""
    x = np.array([1.0, 2.0])
    with pytest.raises(sd.InactiveArgumentError, match="tangent None"):
        sd.jvp(_power, (x, 3), (np.ones(2), 1))
    with pytest.raises(sd.InactiveArgumentError):
        sd.jvp(_power, (np.array([1, 2]), 3), (np.ones(2), None))
    with pytest.raises(sd.InactiveArgumentError):
        sd.grad(_power, wrt=1)(x, 3)
    out, tangent = sd.jvp(_power, (x, 3), (np.ones(2), None))
    assert tangent == pytest.approx(np.sum(sd.grad(_power)(x, 3)))
