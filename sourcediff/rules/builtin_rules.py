"""Derivative rules for Python builtins over numbers and lists (max, min and sorted)."""

import builtins
import math
import statistics

import numpy as np

from .. import runtime as _sd
from .registry import deffacts, defjvp, defvjp


# (view=None: they return one of their arguments itself; not elementwise: max(iterable)
# reduces over the items, so its tangent is not its vjp with the tangent in place of g)
@defvjp(builtins.max, builtins.min, kind="custom", view=None)
def builtin_extremum(g, ans, *args):
    # max(a, b, ...) or max(iterable): g goes to the item Python returns (at a tie the first of
    # the equal ones, as the tape, where Python's max picks among tensors; np.maximum splits)
    return _sd.extremum_args_grad(g, ans, args)


@defjvp(builtins.max, builtins.min)
def builtin_extremum_jvp(t, ans, *args):
    # max(a, b, ...): the tangent of the argument returned; max(iterable): its entry of t
    return _sd.extremum_args_tangent(t, ans, args)


# (view: np.float64(a) of a float64 array gives the array itself)
@defvjp(np.float64, kind="linear", view=True)
def float64_conversion(g, ans, x):
    return (g,)


@defvjp(np.ndarray.item, kind="linear", view=False)
def item_method(g, ans, x, *index):
    # x.item() of a one-element array, x.item(k) or x.item(i, j): the gradient goes back to that
    # element
    return (_sd.scatter(g, x, _sd.item_index(x, index)),)


# What the specializer knows of math's results: each of these returns a Python float whenever it
# returns (whatever number it is given), so what is computed from it keeps known facts; abs
# keeps its argument's type, shape and dtype (learned on a stand-in).
_MATH_FLOATS = ("acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "cbrt", "copysign",
                "cos", "cosh", "degrees", "dist", "erf", "erfc", "exp", "exp2", "expm1", "fabs",
                "fmod", "gamma", "hypot", "ldexp", "lgamma", "log", "log10", "log1p", "log2",
                "pow", "radians", "remainder", "sin", "sinh", "sqrt", "tan", "tanh")
deffacts(*(getattr(math, n) for n in _MATH_FLOATS if hasattr(math, n)), shapes="float")
deffacts(builtins.abs, shapes="evaluate")


# sorted(values): a permutation of the items (Python's stable order; key= and reverse= decide
# it and carry no derivative: a key that reads a value carrying one, a closure, orders the items
# the same way near it, so that value's derivative through the order is zero)
@defvjp(builtins.sorted, kind="custom", view=False, nondiff=("key", "reverse"))
def builtin_sorted(g, ans, iterable, *, key=None, reverse=False):
    return (_sd.sorted_grad(g, iterable, key, reverse),)


@defjvp(builtins.sorted)
def builtin_sorted_jvp(t, ans, iterable, *, key=None, reverse=False):
    return (_sd.sorted_tangent(t, iterable, key, reverse),)


# statistics.mean / fmean of numbers (a list, or an array's entries): each item gets g / n
# (review30); fmean's weights= is refused (unweighted_count)
@defvjp(statistics.mean, kind="custom", view=False)
def statistics_mean(g, ans, data):
    return (_sd.unbroadcast_each(g / len(data), data),)


@defjvp(statistics.mean)
def statistics_mean_jvp(t, ans, data):
    return (_sd.sum_each(t, data) / len(data),)


@defvjp(statistics.fmean, kind="custom", view=False, unimplemented=("weights",))
def statistics_fmean(g, ans, data, weights=None):
    return (_sd.unbroadcast_each(g / _sd.unweighted_count(data, weights), data), None)


@defjvp(statistics.fmean)
def statistics_fmean_jvp(t, ans, data, weights=None):
    return (_sd.sum_each(t, data) / _sd.unweighted_count(data, weights), None)
