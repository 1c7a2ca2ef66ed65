"""numpy and scipy functions without a derivative rule of their own, written here in numpy
operations that have rules (review36): the compiler differentiates these in their place, from
their source, as it does the user's functions (``rules.registry.defwritten``), in every order.

Example: ``np.corrcoef(x)`` in a differentiated function runs as ``_sd.corrcoef(x)``: the
covariance scaled by the standard deviations, as numpy computes it."""

import numpy as np

from .accumulate import _refuse
from .indexing import piecewise_conditions

__all__ = ["corrcoef", "polyfit", "angle", "svdvals", "refuse_complex", "apply_along_axis",
           "piecewise", "add_outer", "subtract_outer", "multiply_outer", "divide_outer"]


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
