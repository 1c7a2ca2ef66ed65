"""Derivative rules for Python builtins over numbers and lists (max and min)."""

import builtins

import numpy as np

from .. import runtime as _sd
from .registry import defjvp, defvjp


# (view=None: they return one of their arguments itself; not elementwise: max(iterable)
# reduces over the items, so its tangent is not its vjp with the tangent in place of g)
@defvjp(builtins.max, builtins.min, kind="custom", view=None)
def builtin_extremum(g, ans, *args):
    # max(a, b, ...) or max(iterable): the winners share g evenly (ties split like np.maximum)
    return _sd.extremum_args_grad(g, ans, args)


@defjvp(builtins.max, builtins.min)
def builtin_extremum_jvp(t, ans, *args):
    # max(a, b, ...): the winners' tangents; max(iterable): the winners' entries of t averaged
    return _sd.extremum_args_tangent(t, ans, args)


# (view: np.float64(a) of a float64 array gives the array itself)
@defvjp(np.float64, kind="linear", view=True)
def float64_conversion(g, ans, x):
    return (g,)


@defvjp(np.ndarray.item, kind="linear", view=False)
def item_method(g, ans, x):
    # x.item() of a one-element array: the gradient goes back to that element
    return (np.reshape(g, np.shape(x)),)
