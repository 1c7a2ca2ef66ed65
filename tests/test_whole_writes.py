"""numpy's writes of a whole array in place, as people write them: ``np.exp(x, out=a)`` (any
numpy function or ufunc given ``out=``), ``r = np.add(x, y, out=buf)``, ``np.copyto(a, v)``
(with ``where=``), ``a.fill(v)``. Written ``a = _sd_write_into(a, value)`` with the alias checks
of ``a += e``; refused before as writes sourcediff does not differentiate."""

import copy

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import AliasError, SourcediffError

from .oracles import check_grads_fd


def ufunc_out(w, x):
    buf = np.empty_like(x)
    np.add(x, w, out=buf)
    np.multiply(buf, w, out=buf)
    return np.sum(np.sin(buf))


def functions_out(W, v):
    y = np.empty(2)
    np.matmul(W, v, out=y)
    c = np.empty(2)
    np.cumsum(y, out=c)
    s = np.empty(())
    np.sum(c * y, out=s)
    np.clip(y, -0.3, 0.4, out=y)
    return s * 2.0 + np.sum(y * c)


def result_of_out(w, x):
    buf = np.zeros(3)
    r = np.exp(w * x, out=buf)
    return np.sum(r * buf) + np.sum(buf)


def out_by_position(w, x):
    buf = np.empty(3)
    np.add(x, w, buf)  # (a ufunc's out, by position)
    np.exp(buf * w, buf)
    return np.sum(buf ** 2)


def out_tuple_and_loop(w):
    a = w * 1.0
    for _ in range(3):
        np.tanh(a * w, out=(a,))
    return np.sum(a ** 2)


def into_a_parameter(w):
    np.exp(w, out=w)
    return np.sum(w * 2.0)


def copy_and_fill(w, x):
    a = np.zeros(3)
    np.copyto(a, w * x)
    b = np.empty(3)
    b.fill(w[1])
    c = np.ones(3)
    np.copyto(c, w ** 2, where=x > 0)
    return np.sum(a ** 2 * b) + np.sum(c * w)


def into_integers(w):
    a = np.zeros(3, dtype=int)
    a.fill(w[0] * 10.0)  # (truncated: a piecewise constant, derivative 0)
    return np.sum(a * w)


def into_a_view_read_later(w):
    a = np.zeros((2, 3))
    row = a[0]
    np.exp(w, out=row)
    return np.sum(a * 2.0)


# (refused in tests/test_errors.py before: without that refusal np.copyto gave a zero gradient
# and out= half of it)
def fills_in_place(x):
    y = x * 1.0
    y.fill(1.0)
    return np.sum(y * x)


def copies_into(x):
    y = np.zeros(3)
    np.copyto(y, x)
    return np.sum(y * y)


def out_is_an_argument_too(x):
    y = x.copy()
    np.add(x, x, out=y)
    return np.sum(y * y)


def out_assigned(x):
    y = np.empty(3)
    z = np.multiply(x, 3.0, out=y)
    return np.sum(z * y)


W2 = np.array([[0.3, -0.7, 0.2], [1.1, 0.4, -0.5]])
V = np.array([0.6, -0.2, 0.9])
X = np.array([0.5, -1.2, 0.8])

CASES = [
    (ufunc_out, (V, X)), (functions_out, (W2, V)), (result_of_out, (V, X)),
    (out_tuple_and_loop, (V,)), (out_by_position, (V, X)), (into_a_parameter, (V,)), (copy_and_fill, (V, X)),
    (into_integers, (np.array([0.63, -0.2, 0.9]),)), (fills_in_place, (V,)), (copies_into, (V,)),
    (out_is_an_argument_too, (V,)), (out_assigned, (V,)),
]


@pytest.mark.parametrize("mode", ["reverse", "generic", "forward"])
@pytest.mark.parametrize("f, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_gradient_and_the_callers_arrays(f, args, mode):
    given = copy.deepcopy(args)
    if mode == "generic":
        g = sd.grad(f, optimize=False)(*given)
    else:
        g = sd.grad(f, mode=mode)(*given)
    for a, b in zip(given, args):  # (numpy would have changed w in into_a_parameter)
        np.testing.assert_array_equal(a, b)
    check_grads_fd(f, args, (0,), (g,))


def ufunc_out_x(w):
    return ufunc_out(w, X)


def copy_and_fill_x(w):
    return copy_and_fill(w, X)


def functions_out_v(W):
    return functions_out(W, V)


@pytest.mark.parametrize("f, arg", [(ufunc_out_x, V), (copy_and_fill_x, V), (functions_out_v, W2)],
                         ids=["ufunc_out", "copy_and_fill", "functions_out"])
def test_second_order(f, arg):
    hess = np.reshape(sd.hessian(f)(arg), (arg.size, arg.size))
    for k in range(arg.size):
        check_grads_fd(lambda z: np.ravel(sd.grad(f)(z))[k], (arg,), (0,),
                       (np.reshape(hess[k], arg.shape),), rtol=1e-4)


def test_value_and_grad_value_is_numpys():
    value, _ = sd.value_and_grad(copy_and_fill)(V, X)
    assert value == copy_and_fill(V.copy(), X)


def test_a_view_read_later_is_refused():
    # (numpy's write through the view: sourcediff does not differentiate that, as before)
    with pytest.raises(SourcediffError, match=r"test_whole_writes.py:\d+.*in place"):
        sd.grad(into_a_view_read_later)(V)


def fill_rows_of_a_constant(x, y):
    for r in y:
        r.fill(0.5)
    return np.sum(x * y)


def test_writes_through_views_of_constants_are_numpys():
    y = np.ones((2, 3))
    g = sd.grad(fill_rows_of_a_constant)(X[None, :] * np.ones((2, 1)), y)
    np.testing.assert_array_equal(y, np.ones((2, 3)))  # (numpy would fill the caller's y)
    np.testing.assert_allclose(g, np.full((2, 3), 0.5))


def parameters_filled(x, y):
    s = np.sum(x * y)
    y.fill(0.5)
    return s + np.sum(x * y)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_parameter_filled_after_a_read(mode):
    y = np.ones(3) * 2.0
    g = sd.grad(parameters_filled, mode=mode)(X, y)
    check_grads_fd(parameters_filled, (X, np.ones(3) * 2.0), (0,), (g,))
    np.testing.assert_array_equal(y, np.ones(3) * 2.0)
    with pytest.raises(AliasError):  # (the same array twice: numpy's fill changes x too)
        sd.grad(parameters_filled)(y, y)


def out_of_another_kind(w):
    a = np.zeros(3, dtype=int)
    np.floor(w, out=a)  # (numpy: Cannot cast ufunc 'floor' output from float64 to int64)
    return np.sum(a * w)


def test_numpys_casting_rule_is_kept():
    with pytest.raises(TypeError):
        out_of_another_kind(V.copy())
    with pytest.raises((TypeError, SourcediffError), match="same_kind"):
        sd.grad(out_of_another_kind)(V)


def zero_d_written(w):
    s = np.empty(())
    s[...] = np.sum(w * w)
    t = np.zeros(())
    t[()] = np.sum(np.sin(w))
    return s * 2.0 + t * s


@pytest.mark.parametrize("mode", ["reverse", "generic", "forward"])
def test_a_0d_array_written_whole(mode):
    # (reverse mode raised "'float' object is not subscriptable" in item_grad: the gradient of a
    # 0-d array is a Python float there)
    g = sd.grad(zero_d_written, optimize=False)(V) if mode == "generic" else \
        sd.grad(zero_d_written, mode=mode)(V)
    check_grads_fd(zero_d_written, (V,), (0,), (g,))
