"""numpy's reduction functions of an ndarray called as the array's methods: ``np.sum(a, axis=1,
keepdims=True)`` becomes ``a.sum(axis=1, keepdims=True)`` where the facts say ``a`` is an
ndarray (not a subclass: the signature's and numpy's own results). For an ndarray
``np.sum``, ``np.max``, ``np.min``, ``np.prod`` and ``np.mean`` only pass their arguments on to
the same reduction the method runs (``_wrapreduction`` to ``np.add.reduce`` and the method's
``umr_sum`` are one ufunc reduce; ``np.mean`` calls ``_methods._mean`` as ``a.mean`` does): the
same bits, without the Python frames of numpy's wrappers (``_wrapreduction`` builds a dict of
the keywords: about 40 bytecodes and a few microseconds a call). Example::

    _sum1 = np.sum(_exp1, axis=1, keepdims=True)     _sum1 = _exp1.sum(axis=1, keepdims=True)

Only calls with the array first and, besides it, at most the axis as a positional argument and
the keywords ``axis`` and ``keepdims``."""

import gast
import numpy as np

from ..syntax import walk
from .facts import TOP, Arr, Known

_METHODS = {np.sum: "sum", np.max: "max", np.min: "min", np.prod: "prod", np.mean: "mean"}
for _f in ("amax", "amin"):  # (the same functions under older names, where numpy has them)
    if getattr(np, _f, None) is not None:
        _METHODS.setdefault(getattr(np, _f), _f[1:])


def has_reductions(fdef):
    """Whether some call in ``fdef`` is an attribute named like a reduction (a candidate)."""
    names = set(_METHODS.values()) | {"amax", "amin"}
    return any(isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and
               n.func.attr in names and isinstance(n.func.value, gast.Name)
               for n in walk(fdef))


def reductions_as_methods(fdef, facts):
    """The reductions above rewritten as methods in ``fdef``; how many."""
    changed = 0
    for node in walk(fdef):
        if not isinstance(node, gast.Call) or not node.args or len(node.args) > 2:
            continue
        f = facts.get(id(node.func), TOP)
        if type(f) is not Known:
            continue
        try:
            method = _METHODS.get(f.value)
        except TypeError:  # (an unhashable value)
            continue
        a = node.args[0]
        if method is None or type(facts.get(id(a), TOP)) is not Arr or \
                isinstance(a, gast.Starred) or \
                any(k.arg not in ("axis", "keepdims") for k in node.keywords) or \
                (len(node.args) == 2 and (isinstance(node.args[1], gast.Starred) or
                                          any(k.arg == "axis" for k in node.keywords))):
            continue
        keywords = list(node.keywords)
        if len(node.args) == 2:
            keywords.insert(0, gast.keyword(arg="axis", value=node.args[1]))
        node.func = gast.Attribute(value=a, attr=method, ctx=gast.Load())
        node.args, node.keywords = [], keywords
        changed += 1
    return changed
