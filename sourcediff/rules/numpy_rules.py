"""Derivative rules for Python operators, numpy functions, ndarray methods and attributes, and math."""

import builtins
import math
import operator

import numpy as np

from .. import runtime as _sd
from ..registry import defjvp, defnondiff, defvjp

# ---------------------------------------------------------------- operators and arithmetic ufuncs


@defvjp(operator.add, np.add, kind="linear", broadcast=True, torch_name="AddBackward0")
def add(g, ans, x, y):
    return (g, g)


@defvjp(operator.sub, np.subtract, kind="linear", broadcast=True, torch_name="SubBackward0")
def subtract(g, ans, x, y):
    return (g, -g)


@defvjp(operator.mul, np.multiply, kind="linear", broadcast=True, torch_name="MulBackward0")
def multiply(g, ans, x, y):
    return (g * y, g * x)


@defvjp(operator.truediv, np.divide, np.true_divide, kind="elementwise", broadcast=True,
        torch_name="DivBackward0")
def divide(g, ans, x, y):
    return (g / y, -g * ans / y)


@defvjp(operator.neg, np.negative, kind="linear", torch_name="NegBackward0")
def negative(g, ans, x):
    return (-g,)


@defvjp(operator.pos, np.positive, kind="linear")
def positive(g, ans, x):
    return (g,)


@defvjp(operator.pow, np.power, kind="elementwise", broadcast=True, torch_name="PowBackward0")
def power(g, ans, x, y):
    return (g * y * x ** (y - 1), g * ans * np.log(np.where(x > 0, x, 1.0)))


@defvjp(operator.matmul, np.matmul, kind="linear", torch_name="MmBackward0")
def matmul(g, ans, x, y):
    return (_sd.matmul_grad_left(g, x, y), _sd.matmul_grad_right(g, x, y))


# ---------------------------------------------------------------- elementwise functions


@defvjp(np.sin, math.sin, kind="elementwise", torch_name="SinBackward0")
def sin(g, ans, x):
    return (g * np.cos(x),)


@defvjp(np.cos, math.cos, kind="elementwise", torch_name="CosBackward0")
def cos(g, ans, x):
    return (-g * np.sin(x),)


@defvjp(np.tanh, math.tanh, kind="elementwise", torch_name="TanhBackward0")
def tanh(g, ans, x):
    return (g * (1.0 - ans * ans),)


@defvjp(np.exp, math.exp, kind="elementwise", torch_name="ExpBackward0")
def exp(g, ans, x):
    return (g * ans,)


@defvjp(np.log, math.log, kind="elementwise", torch_name="LogBackward0")
def log(g, ans, x):
    return (g / x,)


@defvjp(np.maximum, kind="elementwise", broadcast=True, torch_name="MaximumBackward0")
def maximum(g, ans, x, y):
    return (g * _sd.tie_mask(x, y, x > y), g * _sd.tie_mask(y, x, y > x))


@defvjp(np.where, kind="elementwise", broadcast=True, torch_name="WhereBackward0")
def where(g, ans, condition, x, y):
    return (None, np.where(condition, g, 0.0), np.where(condition, 0.0, g))


@defvjp(builtins.abs, np.abs, np.absolute, math.fabs, kind="elementwise", torch_name="AbsBackward0")
def absolute(g, ans, x):
    return (g * np.sign(x),)


# ---------------------------------------------------------------- reductions


@defvjp(np.sum, np.ndarray.sum, kind="linear", torch_name="SumBackward0")
def sum(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return (_sd.unreduce(g, a, axis, keepdims),)


@defvjp(np.mean, np.ndarray.mean, kind="linear", torch_name="MeanBackward0")
def mean(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return (_sd.unreduce(g, a, axis, keepdims) / _sd.reduced_count(a, axis),)


# ---------------------------------------------------------------- shapes


@defvjp(np.reshape, kind="linear", torch_name="ViewBackward0")
def reshape(g, ans, a, shape=None, order="C"):
    return (np.reshape(g, np.shape(a), order=order),)


@defvjp(np.ndarray.reshape, kind="linear", torch_name="ViewBackward0")
def reshape_method(g, ans, a, *shape, order="C"):
    return (np.reshape(g, np.shape(a), order=order),)


@defvjp(np.ndarray.T, kind="linear", torch_name="PermuteBackward0")
def transpose_attribute(g, ans, a):
    return (np.transpose(g),)


@defvjp(operator.getitem, kind="linear", torch_name="IndexBackward0")
def getitem(g, ans, a, index):
    return (_sd.scatter(g, a, index), None)


# ---------------------------------------------------------------- not differentiable

defnondiff(
    np.shape, np.ndim, np.size, len, np.argmax, np.argmin, np.argsort, np.sign, np.floor,
    np.ceil, np.round, np.rint, np.trunc, np.zeros_like, np.ones_like, np.empty_like,
    np.zeros, np.ones, np.empty, np.full, np.arange, np.linspace, np.eye, np.isnan, np.isfinite,
    np.isinf, np.equal, np.not_equal, np.greater, np.greater_equal, np.less, np.less_equal,
    np.logical_and, np.logical_or, np.logical_not, np.nonzero, np.ndarray.argmax,
    np.ndarray.argmin, np.ndarray.nonzero, np.ndarray.shape, np.ndarray.ndim, np.ndarray.size,
    np.ndarray.dtype, operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne,
    operator.not_, operator.floordiv, operator.mod, math.floor, math.ceil, builtins.round,
    builtins.int, builtins.bool, builtins.range, builtins.isinstance, builtins.print,
    operator.and_, operator.or_, operator.invert,
)
