"""numpy's API as people call it: keyword arguments and call forms a rule may ignore. Each mode
of sourcediff (reverse specialized and generic, forward, second order, the tape) is checked
against central finite differences."""

import inspect

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.tape import grad_of
from sourcediff.tape.messages import TapeError

W = np.random.default_rng(1).normal(size=(2, 3, 4))
X = np.random.default_rng(0).uniform(0.5, 2.0, (2, 3, 4)) * np.array([1.0, -1.0, 1.0, -1.0])


def _fd(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (float(f(xp)) - float(f(xm))) / (2 * h)
    return g


def _generic_grad(f, x, monkeypatch):
    from sourcediff import compiled
    monkeypatch.setattr(compiled, "_SPECIALIZE", "0")
    sd.clear_cache()
    try:
        return sd.grad(f)(x.copy())
    finally:
        monkeypatch.undo()
        sd.clear_cache()


def _check_modes(f, x, monkeypatch, tape=True, second=True):
    ref = _fd(f, x)
    np.testing.assert_allclose(sd.grad(f)(x.copy()), ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_generic_grad(f, x, monkeypatch), ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(sd.grad(f, mode="forward")(x.copy()), ref, rtol=1e-6, atol=1e-7)
    if tape:
        np.testing.assert_allclose(grad_of(f, (x.copy(),)), ref, rtol=1e-6, atol=1e-7)
    if second:  # f is x ** 2 summed plus a piecewise constant part: the hessian is 2 I
        h = sd.hessian(f)(x.copy()).reshape(x.size, x.size)
        np.testing.assert_allclose(h, 2.0 * np.eye(x.size), atol=1e-9)


# ---------------------------------------------------------------- casts to integers
# A cast to integers or booleans is piecewise constant: its derivative is 0. The rule of the cast
# passed the gradient through (reverse) and the truncated tangent (forward): x.astype(int) * W
# gave W where the derivative is 0, in every mode for np.sum(x, dtype=int) and its siblings.

def cast_astype(x):
    return np.sum(x ** 2) + np.sum(x.astype(int) * W)


def cast_astype_str_kw(x):
    return np.sum(x ** 2) + np.sum(x.astype(dtype="int32") * W) + np.sum(x.astype(bool) * W)


def cast_asarray(x):
    return np.sum(x ** 2) + np.sum(np.asarray(x, dtype=int) * W) + np.sum(np.asarray(x, int) * W)


def cast_array(x):
    return np.sum(x ** 2) + np.sum(np.array(x * 3, np.int8) * W) + \
        np.sum(np.array([x[0, 0, 0] * 3, x[0, 0, 1]], dtype=int) * W[0, 0, :2])


def cast_sum_dtype(x):
    return np.sum(x ** 2) + np.sum(x * 3, dtype=int) * 1.0 + \
        np.sum(np.sum(x * 3, axis=1, dtype=np.int64) * W[:, 0])


def cast_cumsum_prod_mean_trace(x):
    return np.sum(x ** 2) + np.sum(np.cumsum(x * 3, dtype=int) * W.ravel()) + \
        np.prod(x[0, 0] * 3, dtype=int) * 1.0 + np.sum(np.mean(x * 3, axis=1, dtype=int) *
                                                          W[:, 0]) + \
        np.trace(x[0] * 3, dtype=int) * 1.0


def cast_nansum(x):
    return np.sum(x ** 2) + np.sum(np.nansum(x * 3, axis=1, dtype=int) * W[:, 0])


def cast_concat_stack(x):
    return np.sum(x ** 2) + \
        np.sum(np.concatenate([x, x * 2], dtype=int, casting="unsafe") * np.concatenate([W, W])) + \
        np.sum(np.stack([x, x * 2], dtype=int, casting="unsafe") * np.stack([W, W]))


def cast_full_like(x):
    return np.sum(x ** 2) + np.sum(np.full_like(x, x[0, 0, 0] * 3, dtype=int) * W) + \
        np.sum(np.full_like(np.arange(4), x[0, 0, 1] * 3) * W[0, 0]) + \
        np.sum(np.full(4, x[0, 0, 2] * 3, dtype=int) * W[0, 0])


def cast_linspace(x):
    return np.sum(x ** 2) + np.sum(np.linspace(0.0, x[0, 0, 0] * 10, 5, dtype=int) * np.arange(5.0))


def cast_einsum(x):
    return np.sum(x ** 2) + np.sum(np.einsum("ijk,ijk->i", x * 3, W, dtype=int,
                                             casting="unsafe")) * 1.0


@pytest.mark.parametrize("f", [cast_astype, cast_astype_str_kw, cast_sum_dtype,
                               cast_cumsum_prod_mean_trace, cast_nansum, cast_concat_stack,
                               cast_linspace])
def test_cast_to_integers_passes_no_gradient(f, monkeypatch):
    _check_modes(f, X, monkeypatch)


@pytest.mark.parametrize("f", [cast_asarray, cast_array, cast_full_like, cast_einsum])
def test_cast_to_integers_passes_no_gradient_source_modes(f, monkeypatch):
    # (the tape refuses np.asarray of a Tensor, np.full's copyto; np.einsum's hessian: its
    # helper has no second derivative)
    _check_modes(f, X, monkeypatch, tape=False, second=f is not cast_einsum)


def setitem_int(x):
    y = np.zeros(4, dtype=int)
    y[0] = x[0, 0, 0] * 3
    y[1:3] = x[0, 0, 1:3] * 3
    z = np.arange(4)
    z[2] = x[1, 1, 1] * 3
    b = np.zeros(4, dtype=bool)
    b[:] = x[1, 0]
    return np.sum(y * W[0, 0]) + np.sum(z * W[1, 1]) + np.sum(b * W[1, 0]) + np.sum(x ** 2)


def setitem_int_like(x):
    y = np.zeros_like(x, dtype=int)
    y[...] = x * 3
    return np.sum(y * W) + np.sum(x ** 2)


def test_write_into_integer_array_passes_no_gradient(monkeypatch):
    # was: y[0] = x * 3 into an integer y gave x the gradient 3 W[0] (reverse and forward)
    _check_modes(setitem_int, X, monkeypatch, tape=False)
    _check_modes(setitem_int_like, X, monkeypatch)


def test_specialized_code_has_no_cast_check_for_floats():
    def f(x):
        y = np.zeros(4)
        y[1:3] = x[:2] * 2
        return np.sum(y * x) + np.sum(x.astype(np.float64) ** 2) + np.sum(x, dtype=np.float64)
    x = np.array([1.5, -0.5, 2.0, 0.25])
    assert "cast_grad" not in sd.source(sd.grad(f), x)
    assert "cast_grad" in sd.source(sd.grad(f))
    np.testing.assert_allclose(sd.grad(f)(x), _fd(f, x), rtol=1e-6)


# ---------------------------------------------------------------- the tape: writes it does not see

def cumsum_out(x):
    o = np.zeros_like(x)
    np.cumsum(x, axis=1, out=o)
    return np.sum(o * W)


def clip_out(x):
    o = np.zeros_like(x)
    np.clip(x, -1, 1, out=o)
    return np.sum(o * W)


def sort_method(x):
    y = x.copy()
    y.sort(axis=1)
    return np.sum(y * W)


@pytest.mark.parametrize("f", [cumsum_out, clip_out, sort_method])
def test_tape_refuses_writes_it_cannot_record(f):
    # was: out= gave the gradient 0 (numpy wrote into the plain array o), y.sort() ran np.sort
    # and left y unsorted (the gradient of the unsorted function)
    with pytest.raises(TapeError):
        grad_of(f, (X.copy(),))


# ---------------------------------------------------------------- keyword-only arguments
# A rule gives contributions for its positional parameters only: a value that carries a derivative
# passed to a keyword-only parameter or **kwargs was dropped without a word. np.clip(W, min=x0)
# gave the gradient 0 (finite differences: 2.78 at x0); np.pad(v, 1, constant_values=x0) left out
# the padding's part (reverse, forward and the hessian). np.clip's rule takes min= and max= since
# review68 (numpy 2.1's names for its bounds): differentiated, against finite differences.

def clip_min_keyword(x):
    return np.sum(np.clip(W, min=x[0, 0, 0], max=x[1, 1, 1] + 3) * W)


def pad_constant_values(x):
    return np.sum(np.pad(x[0], 1, constant_values=x[1, 0, 0]) ** 2)


def pad_constant_values_pair(x):
    return np.sum(np.pad(x[0], 1, constant_values=(x[1, 0, 0], x[1, 0, 1])) ** 2)


@pytest.mark.parametrize("f", [pad_constant_values, pad_constant_values_pair])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_derivative_through_keyword_only_argument_is_refused(f, mode):
    with pytest.raises(sd.SourcediffSyntaxError, match="gives no derivative for it"):
        sd.grad(f, mode=mode)(X.copy())


@pytest.mark.skipif("min" not in inspect.signature(np.clip).parameters,
                    reason="np.clip's min=/max= are numpy 2.1's")
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_clips_min_and_max_keywords_carry_the_bounds_derivative(mode):
    np.testing.assert_allclose(sd.grad(clip_min_keyword, mode=mode)(X.copy()),
                               _fd(clip_min_keyword, X), rtol=1e-6, atol=1e-7)


def test_keyword_only_arguments_without_derivative_still_work(monkeypatch):
    def f(x):
        return np.sum(np.clip(x, min=-1.0, max=1.5) * W) + \
            np.sum(np.pad(x, 1, constant_values=2.0) ** 2)
    ref = _fd(f, X)
    np.testing.assert_allclose(sd.grad(f)(X.copy()), ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(sd.grad(f, mode="forward")(X.copy()), ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_generic_grad(f, X, monkeypatch), ref, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- np.pad's tangent
# forward mode padded the tangent with np.pad(t, widths, mode=mode) and no keywords: reflect_type
# 'odd' was lost and 'maximum' padded the tangent's own maximum (not the one of the array)

def pad_odd(x):
    y = np.pad(x, 1, mode="reflect", reflect_type="odd")
    return np.sum(y * np.cos(np.arange(y.size).reshape(y.shape)))


def pad_mean_stat(x):
    y = np.pad(x, 2, mode="mean", stat_length=2)
    return np.sum(y * np.cos(np.arange(y.size).reshape(y.shape)))


def pad_ramp_edge_wrap(x):
    y = np.pad(x, 2, mode="linear_ramp", end_values=3.0) + np.pad(x, 2, mode="edge") ** 2 + \
        np.pad(x, 2, mode="wrap") + np.pad(x, 2, mode="symmetric", reflect_type="odd")
    return np.sum(y * np.cos(np.arange(y.size).reshape(y.shape)))


@pytest.mark.parametrize("f", [pad_odd, pad_mean_stat, pad_ramp_edge_wrap])
def test_pad_tangent_keeps_the_mode_keywords(f):
    np.testing.assert_allclose(sd.grad(f, mode="forward")(X.copy()), _fd(f, X), rtol=1e-6,
                               atol=1e-7)


@pytest.mark.parametrize("mode", ["maximum", "minimum", "median"])
def test_pad_tangent_of_statistic_modes_is_refused(mode):
    def f(x):
        return np.sum(np.pad(x, 1, mode=mode) * W[0, 0, 0])
    with pytest.raises(NotImplementedError):
        sd.grad(f, mode="forward")(X.copy())


# ---------------------------------------------------------------- order='A'
# numpy's order='A' reads a Fortran-contiguous array in Fortran order; the gradient reshaped g in C
# order: x.T.reshape(-1, order='A') gave x the gradient of x.reshape(-1) (reverse), and
# np.copy(x, order='F').ravel(order='A') the same in reverse and on the tape

V24 = np.random.default_rng(2).normal(size=24)


def reshape_order_a(x):
    return np.sum(x.T.reshape(-1, order="A") * V24)


def ravel_order_a_of_fortran_copy(x):
    return np.sum(np.copy(x, order="F").ravel(order="A") * V24) + \
        np.sum(np.ravel(x.T, "A") * V24 ** 2)


@pytest.mark.parametrize("f", [reshape_order_a, ravel_order_a_of_fortran_copy])
def test_order_a_follows_the_memory_layout(f, monkeypatch):
    ref = _fd(f, X)
    np.testing.assert_allclose(sd.grad(f)(X.copy()), ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_generic_grad(f, X, monkeypatch), ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(sd.grad(f, mode="forward")(X.copy()), ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(grad_of(f, (X.copy(),)), ref, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- the tape's methods in numpy code
# inside grad_of, x.repeat(2) ran PyTorch's repeat (tiling: [a, b, a, b] where numpy gives
# [a, a, b, b]): the gradient of another function; x.repeat(2, axis=1), x.reshape(4, 6,
# order='F'), x.flatten('F') and x.squeeze(axis=1) raised TypeError

def method_forms(x):
    return np.sum(x[0, 0].repeat(2) * V24[:8]) + np.sum(x.repeat(2, axis=1) ** 2) + \
        np.sum(x.reshape(4, 6, order="F") * V24.reshape(4, 6)) + \
        np.sum(x.flatten("F") * V24 ** 2) + np.sum(x[:, :1].squeeze(axis=1) * W[:, 0])


def test_tape_methods_take_numpy_forms_inside_grad_of():
    np.testing.assert_allclose(grad_of(method_forms, (X.copy(),)), _fd(method_forms, X),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(sd.grad(method_forms)(X.copy()), _fd(method_forms, X),
                               rtol=1e-6, atol=1e-7)


def test_grad_of_refuses_a_complex_argument():
    # was: the argument was cast to float64 (its imaginary part dropped, with a ComplexWarning):
    # the gradient of f at another point
    def f(z):
        return np.sum(np.abs(z) ** 2)
    with pytest.raises(sd.SourcediffError, match="complex"):
        grad_of(f, (np.array([1.0 + 2.0j, 0.5 - 1.0j]),))


def test_forward_mode_keeps_a_numpy_float_argument_a_numpy_float():
    # was: the tangent of an np.float64 argument was the Python float 1.0, so x_dot.astype(...)
    # raised AttributeError in the generated jvp (reverse mode and the tape gave 3.0)
    def f(x):
        return np.sum(x.astype(np.float64) ** 2) + x.item() * 2.0
    x = np.float64(1.5)
    assert sd.grad(f, mode="forward")(x) == pytest.approx(5.0)
    assert sd.grad(f)(x) == pytest.approx(5.0)


def _item_times_two(x):
    return x[0, 0, 0].item() * 2.0 + np.sum(x ** 2)


def _tolist_sum(x):
    return sum(x[0, 0].tolist()) + np.sum(x ** 2)


@pytest.mark.parametrize("f", [_item_times_two, _tolist_sum])
def test_grad_of_refuses_item_and_tolist_of_a_tensor_with_gradient(f):
    # was: .item() and .tolist() gave Python numbers that carry no gradient: their part was
    # missing from the gradient without a word (float(t) was refused already)
    with pytest.raises(TapeError, match="grad_of"):
        grad_of(f, (X.copy(),))


def test_int_of_a_tensor_still_works_in_grad_of():
    def f(x):
        return int(x[0, 0, 0] * 3.0) * x[0, 0, 1] + np.sum(x ** 2)
    np.testing.assert_allclose(grad_of(f, (X.copy(),)), _fd(f, X), rtol=1e-6, atol=1e-7)


def array_times_list(x):
    return np.sum((x * [1.0, 2.0, 3.0, 4.0]) ** 2) + np.sum(x + [1.0, 2.0, 3.0, 4.0])


def test_array_times_a_list_in_forward_mode_and_second_order():
    # was: ValueError (cannot broadcast a non-scalar to a scalar array) in forward mode and in
    # sd.hessian: the tangent of the array was also tried as the list's, row by row
    x = X[0]
    ref = _fd(array_times_list, x)
    np.testing.assert_allclose(sd.grad(array_times_list, mode="forward")(x.copy()), ref,
                               rtol=1e-6, atol=1e-7)
    h = sd.hessian(array_times_list)(x.copy()).reshape(x.size, x.size)
    np.testing.assert_allclose(h, np.diag(2.0 * np.tile([1.0, 4.0, 9.0, 16.0], 3)), atol=1e-9)


# ---------------------------------------------------------------- out= of an array's method
# np.sum(x, 0, None, o) and np.max(x, axis=0, out=o) are refused (they write into o); the methods
# x.sum(0, None, o) and x.max(axis=0, out=o) were not seen to write: o kept its zeros in the
# sweeps' view, and the gradient was 0 (reverse and forward)

def method_out_positional(x):
    o = np.zeros((3, 4))
    x.sum(0, None, o)
    return np.sum(o * W[0])


def method_out_keyword(x):
    o = np.zeros((3, 4))
    x.max(axis=0, out=o)
    return np.sum(o * W[0])


@pytest.mark.parametrize("f", [method_out_positional, method_out_keyword])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_out_of_an_array_method_is_refused(f, mode):
    with pytest.raises(sd.SourcediffSyntaxError, match="writes into o"):
        sd.grad(f, mode=mode)(X.copy())


def test_method_of_a_user_object_named_like_an_array_method_is_not_taken_for_a_write():
    class Mixer:
        def dot(self, a, b):
            return np.sum(a * b)

    m = Mixer()

    def f(x):
        y = x[0] * 2.0
        return m.dot(x, y) + np.sum(y)
    x = X[0]
    np.testing.assert_allclose(sd.grad(f)(x.copy()), _fd(f, x), rtol=1e-6, atol=1e-7)
