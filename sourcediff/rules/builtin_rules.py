"""Derivative rules for Python builtins over numbers and lists (max and min)."""

import builtins

from .. import runtime as _sd
from ..registry import defvjp


@defvjp(builtins.max, builtins.min, kind="elementwise")
def builtin_extremum(g, ans, *args):
    # max(a, b, ...) or max(iterable): the winners share g evenly (ties split like np.maximum)
    return _sd.extremum_args_grad(g, ans, args)
