"""numpy and scipy functions without a derivative rule of their own, written here in numpy
operations that have rules (review36): the compiler differentiates these in their place, from
their source, as it does the user's functions (``rules.registry.defwritten``), in every order.

Example: ``np.corrcoef(x)`` in a differentiated function runs as ``_sd.corrcoef(x)``: the
covariance scaled by the standard deviations, as numpy computes it."""

import numpy as np

from .accumulate import _refuse
from .indexing import piecewise_conditions

__all__ = ["corrcoef", "polyfit", "angle", "svdvals", "refuse_complex", "apply_along_axis",
           "piecewise", "add_outer", "subtract_outer", "multiply_outer", "divide_outer",
           "vecdot", "matvec", "vecmat", "matrix_transpose", "vector_norm", "matrix_norm",
           "subtract_reduce", "add_reduceat", "reduceat_weights"]


def refuse_complex(x, what):
    """``x``, refused (naming ``what``) when it holds complex numbers."""
    if np.iscomplexobj(x):
        _refuse(f"{what} of a complex value (its derivative here is that of a real argument)")
    return x


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """np.corrcoef(x, y, rowvar): np.cov's matrix divided by the standard deviations on both
    sides, clipped to [-1, 1] as numpy clips it."""
    c = np.cov(refuse_complex(x, "np.corrcoef"), y, rowvar, dtype=dtype)
    if np.ndim(c) == 0:
        return c / c
    d = np.sqrt(np.diagonal(c))
    return np.clip(c / d[:, None] / d[None, :], -1.0, 1.0)


def polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """np.polyfit(x, y, deg, rcond, w=w): the least-squares fit numpy computes (its columns of
    powers scaled to unit norm, then np.linalg.lstsq); full=True and cov=True are refused."""
    if full or cov:
        _refuse("np.polyfit with full=True or cov=True")
    order = int(deg) + 1
    xa = refuse_complex(x, "np.polyfit") + 0.0
    rcond = len(xa) * np.finfo(xa.dtype).eps if rcond is None else rcond
    power = np.ones_like(xa)
    columns = [power]
    for _ in range(order - 1):  # (products, not x ** k: the derivative of x ** 0 at 0 is nan)
        power = power * xa
        columns.append(power)
    lhs = np.stack(columns[::-1], axis=1)
    rhs = y + 0.0
    if w is not None:
        lhs = lhs * w[:, None]
        rhs = rhs * w if np.ndim(rhs) == 1 else rhs * w[:, None]
    scale = np.sqrt(np.sum(lhs * lhs, axis=0))
    c = np.linalg.lstsq(lhs / scale, rhs, rcond)[0]
    return c / scale if np.ndim(c) == 1 else c / scale[:, None]


def angle(z, deg=False):
    """np.angle of a real value: 0 or pi (its derivative is 0 away from 0); complex refused."""
    a = np.arctan2(np.zeros(np.shape(z)), refuse_complex(z, "np.angle"))
    return a * (180.0 / np.pi) if deg else a


def svdvals(a, overwrite_a=False, check_finite=True):
    """scipy.linalg.svdvals: the singular values, np.linalg.svd(a, compute_uv=False)."""
    return np.linalg.svd(a, compute_uv=False)


def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """np.apply_along_axis(func1d, axis, arr): ``func1d`` called on each 1-D slice along
    ``axis`` in turn (with the extra arguments given after ``arr``), its results stacked where
    that axis was (as numpy places them). (Without extra arguments the call is a plain one: a
    function that writes into its slice in place is given a copy, which a call through ``*args``
    does not do.)"""
    moved = np.moveaxis(arr, axis, -1)
    rows = np.reshape(moved, (-1, np.shape(moved)[-1]))
    if args or kwargs:
        outs = [func1d(rows[i], *args, **kwargs) for i in range(np.shape(rows)[0])]
    else:
        outs = [func1d(rows[i]) for i in range(np.shape(rows)[0])]
    out = np.stack(outs)
    rest = np.shape(moved)[:-1]
    result = np.reshape(out, rest + np.shape(out)[1:])
    k = np.ndim(out) - 1  # (the dimensions of one result, put where the axis was)
    at = axis % np.ndim(arr)
    return np.moveaxis(result, tuple(range(len(rest), len(rest) + k)), tuple(range(at, at + k)))


def piecewise(x, condlist, funclist, *args, **kw):
    """np.piecewise(x, condlist, funclist, *args, **kw): zeros like x, then each selection of
    x written with its function's value on it (a function is not called on an empty selection)
    or its number, in the order numpy writes them. (The compiler writes the call itself this
    way where both lists are written out; this serves the tape and the other forms.)"""
    conds = piecewise_conditions(x, condlist, len(funclist))
    y = np.zeros_like(x)
    for k in range(len(funclist)):
        func, cond = funclist[k], conds[k]
        if callable(func):
            if np.any(cond):
                y[cond] = func(x[cond], *args, **kw)
        else:
            y[cond] = func
    return y


def _outer_operands(a, b):
    """``a`` with one new axis per axis of ``b`` at its end, and ``b``: a ufunc's ``outer``
    (``np.multiply.outer(a, b)``) is that ufunc of these, broadcast."""
    return np.reshape(a, np.shape(a) + (1,) * np.ndim(b)), b


def add_outer(a, b):
    """np.add.outer(a, b): every entry of a plus every entry of b."""
    a_, b_ = _outer_operands(a, b)
    return a_ + b_


def subtract_outer(a, b):
    """np.subtract.outer(a, b)."""
    a_, b_ = _outer_operands(a, b)
    return a_ - b_


def multiply_outer(a, b):
    """np.multiply.outer(a, b) (np.outer without the flattening)."""
    a_, b_ = _outer_operands(a, b)
    return a_ * b_


def divide_outer(a, b):
    """np.divide.outer(a, b)."""
    a_, b_ = _outer_operands(a, b)
    return a_ / b_


# numpy 2.x's vector and matrix functions (and two ufunc reductions), in the operations they
# stand for; numpy's own is called where the differentiated function does not carry a derivative


def vecdot(x1, x2, axis=-1):
    """np.vecdot(x1, x2, axis=...) and np.linalg.vecdot: the sum over ``axis`` of
    conj(x1) * x2 (broadcast)."""
    return np.sum(np.conj(x1) * x2, axis=axis)


def matvec(x1, x2):
    """np.matvec(A, v): A @ v over the last axes, A (..., m, n) and v (..., n) broadcast."""
    return np.sum(x1 * np.expand_dims(x2, -2), axis=-1)


def vecmat(x1, x2):
    """np.vecmat(v, A): conj(v) @ A over the last axes, v (..., m) and A (..., m, n)."""
    return np.sum(np.expand_dims(np.conj(x1), -1) * x2, axis=-2)


def matrix_transpose(x):
    """np.linalg.matrix_transpose(x) (np.matrix_transpose): its last two axes swapped."""
    return np.swapaxes(x, -1, -2)


def vector_norm(x, axis=None, keepdims=False, ord=2):
    """np.linalg.vector_norm(x, axis=, keepdims=, ord=): the vector norm of the entries along
    ``axis`` (all of them for None, several for a tuple), np.linalg.norm of x flattened there."""
    if axis is None:
        n = np.linalg.norm(np.ravel(x), ord=ord)
        return np.reshape(n, (1,) * np.ndim(x)) if keepdims else n
    if isinstance(axis, tuple) and len(axis) != 1:
        axes = tuple(a % np.ndim(x) for a in axis)
        last = tuple(range(np.ndim(x) - len(axes), np.ndim(x)))
        moved = np.moveaxis(x, axes, last)
        flat = np.reshape(moved, np.shape(moved)[:len(np.shape(moved)) - len(axes)] + (-1,))
        n = np.linalg.norm(flat, ord=ord, axis=-1)
        return np.expand_dims(n, axes) if keepdims else n
    return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)


def matrix_norm(x, keepdims=False, ord="fro"):
    """np.linalg.matrix_norm(x, keepdims=, ord=): np.linalg.norm over the last two axes."""
    return np.linalg.norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def subtract_reduce(array, axis=0, dtype=None, out=None, keepdims=False):
    """np.subtract.reduce(a, axis): the first entry along ``axis`` minus the others' sum
    (numpy subtracts them one by one); out= and dtype= are refused."""
    if out is not None or dtype is not None:
        _refuse("np.subtract.reduce with out= or dtype=")
    if axis is None:
        if np.ndim(array) > 1:
            raise ValueError("reduction operation 'subtract' is not reorderable, so at most one "
                             "axis may be specified")
        array, axis = np.ravel(array), 0
    n = np.shape(array)[axis]
    first = np.take(array, [0], axis=axis)
    rest = np.sum(np.take(array, np.arange(1, n), axis=axis), axis=axis, keepdims=True)
    r = first - rest
    return r if keepdims else np.squeeze(r, axis=axis)


def reduceat_weights(indices, n):
    """The (len(indices), n) 0/1 matrix whose row i picks what np.add.reduceat sums for
    ``indices[i]``: entries indices[i] to indices[i + 1] (to the end for the last), or the one
    entry indices[i] where the next index is not larger."""
    idx = [int(i) for i in np.ravel(indices)]
    w = np.zeros((len(idx), n))
    for i, start in enumerate(idx):
        stop = idx[i + 1] if i + 1 < len(idx) else n
        if not 0 <= start < n:
            raise IndexError(f"index {start} out-of-bounds in add.reduceat [0, {n})")
        w[i, start:max(stop, start + 1)] = 1.0
    return w


def add_reduceat(array, indices, axis=0, dtype=None, out=None):
    """np.add.reduceat(a, indices, axis): the sums of the slices ``indices`` mark along ``axis``
    (a 0/1 matrix of them, reduceat_weights, applied along it); out= and dtype= are refused."""
    if out is not None or dtype is not None:
        _refuse("np.add.reduceat with out= or dtype=")
    w = reduceat_weights(indices, np.shape(array)[axis])
    moved = np.moveaxis(array, axis, -1)
    return np.moveaxis(moved @ np.transpose(w), -1, axis)
