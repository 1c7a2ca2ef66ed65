"""The gradients a gradient function hands back: shaped like its arguments (``grad_like``,
``grad_tree``), the backward sweep's seed, and arrays of their own (``own_arrays``)."""

import numpy as np

from ..errors import SourcediffError
from ..pytree import is_model_object, is_tree, like_container
from .accumulate import GradDict, GradList
from .checks import check_scalar
from .indexing import item_grad
from .objects import holds_object, object_grad
from .sequences import NamedGradList
from .shapes import foreign_array, other_array, shape, unbroadcast

__all__ = ["grad_like", "grad_tree", "output_seed", "owned_grad", "own_arrays"]


def _other_kind(g):
    """A gradient that came out an np.matrix or a masked array: one was read from outside the
    arguments (a global, a closure, an attribute) and the rules, plain ndarray's, met it."""
    found = foreign_array(g, "that value")
    if found is not None:
        raise SourcediffError(
            f"the gradient came out {found[0]}: the function reads one (from a global, a closure "
            f"or an object), and sourcediff's derivative rules are written for plain ndarray's, "
            f"so the gradient would be wrong. Read {found[1]}.")


def grad_like(g, x):
    """The final gradient for argument ``x``: its shape, its float dtype, a float for a float; a
    list, tuple or dict argument's gradient has its structure and type (a numpy scalar's is a
    numpy scalar of its dtype: np.float64 is a float too, and came back a Python float)."""
    if isinstance(x, np.generic):
        total = np.sum(g)
        if other_array(g):
            return total.astype(x.dtype)
        return x.dtype.type(total if x.dtype.kind == "c" else np.real(total))
    if isinstance(x, float):
        if other_array(g):  # (a dask gradient stays lazy: a 0-d array, computed by the caller)
            return np.sum(g) if shape(g) else g
        return float(np.real(np.sum(g)) if shape(g) else np.real(g))
    if isinstance(x, np.ndarray):
        if type(g) is not np.ndarray and isinstance(g, np.ndarray):
            _other_kind(g)
        if isinstance(g, np.ndarray) and g.shape == x.shape and g.dtype == x.dtype:
            return g
        out = np.zeros_like(x) if isinstance(g, (int, float)) and g == 0 else g
        if x.dtype.kind != "c" and np.iscomplexobj(out):
            out = np.real(out)  # (complex values in between: a real argument's gradient is the real part)
        if other_array(out):  # (np.array would compute a dask gradient)
            return _shaped_like(unbroadcast(out, x), x)
        return np.array(np.broadcast_to(unbroadcast(out, x), x.shape), dtype=x.dtype)
    if other_array(x):  # a dask or CuPy argument's gradient: that type, shape and dtype
        out = np.zeros_like(x) if isinstance(g, (int, float)) and g == 0 else unbroadcast(g, x)
        return _shaped_like(out if other_array(out) else np.asarray(out, like=x), x)
    if is_model_object(x) or (is_tree(x) and holds_object(x)):  # a model's (or models'): an
        return object_grad(g, x, grad_like)  # object of its class (runtime/objects.py)
    if is_tree(x):  # the gradient of a pytree: the same structure
        return _tree_grad(g, x, False)
    return g


def _tree_grad(g, x, tree):
    """The gradient of the list, tuple or dict ``x``, entry by entry, for :func:`grad_like` (of
    ``x``'s own type) or, with ``tree``, for :func:`grad_tree` (a GradList or GradDict)."""
    entry = grad_tree if tree else grad_like
    if isinstance(x, dict):
        entries = {k: entry(item_grad(g, k), v) for k, v in x.items()}
        return GradDict(entries) if tree else entries
    items = [entry(item_grad(g, k), v) for k, v in enumerate(x)]
    if tree and hasattr(x, "_fields"):  # (a namedtuple's, read by field name in forward mode)
        return NamedGradList(items, x._fields)
    return GradList(items) if tree else like_container(x, items)


def _shaped_like(g, x):
    """``g`` (of another library's array type) broadcast to the shape and cast to the dtype of x."""
    if shape(g) != shape(x):
        g = np.broadcast_to(g, shape(x))
    return g if g.dtype == x.dtype else g.astype(x.dtype)


def grad_tree(g, x):
    """Like :func:`grad_like`, for the gradients a helper's backward form gives its caller: a
    list, tuple or dict argument's gradient is a GradList or GradDict, which adds entrywise, so
    two calls' gradients for the same list add up (a plain list would concatenate)."""
    if is_model_object(x):  # (a GradDict by attribute name until the caller's grad_like)
        return g
    return _tree_grad(g, x, True) if is_tree(x) else grad_like(g, x)


def output_seed(value, where):
    """The seed of the backward sweep for ``grad``'s output ``value`` (checked as check_scalar
    checks it): 1.0, or ones shaped like an array of one element."""
    check_scalar(value, where)
    return 1.0 if shape(value) == () else np.ones(shape(value))


def owned_grad(g, x):
    """A fresh gradient array shaped like ``x`` holding ``g``, safe to modify in place."""
    if isinstance(x, list):
        if isinstance(g, list):
            return list(g)
        return [0.0] * len(x)
    if isinstance(x, dict):  # (a missing entry's gradient is zero: see item_grad)
        return GradDict(g) if isinstance(g, dict) else GradDict()
    if isinstance(g, (int, float)) and g == 0:
        return np.zeros(shape(x), dtype=np.result_type(getattr(x, "dtype", float), float))
    return np.array(np.broadcast_to(g, shape(x)), dtype=np.result_type(g, float))


def own_arrays(out):
    """A gradient function's result with every array its own: two gradients that are one array
    (``x_bar = y_bar = g`` for ``x + y``) or share memory are copied apart, so that updating one
    in place (``gx *= 0.1``) cannot change the other. The common case, nothing shared, returns
    ``out`` itself: first by a quick test for a tuple of distinct arrays that each own their
    memory (no view can share it), which is what specialized gradients return, then by the same
    test for the arrays of a list, tuple or dict tree (a list of layers' (W, b))."""
    if type(out) is tuple:
        seen = set()
        for v in out:
            if type(v) is float:
                continue
            if type(v) is not np.ndarray or v.base is not None or id(v) in seen:
                break
            seen.add(id(v))
        else:
            return out
    elif type(out) is float or type(out) is np.ndarray and out.base is None:
        return out
    leaves = []
    _collect_arrays(out, leaves)
    # (a read-only view, np.broadcast_to's gradient of a sum along an axis, is copied: a
    # gradient is updated in place, gx *= 0.1, np.clip(gx, -1, 1, out=gx))
    readonly = {id(v) for v in leaves if isinstance(v, np.ndarray) and not v.flags.writeable}
    if len(leaves) < 2 and not readonly:
        return out
    for v in leaves:  # (the quick test again, for a list or dict tree of arrays: W7's layers)
        if type(v) is not np.ndarray or v.base is not None:
            break
    else:
        if len({id(v) for v in leaves}) == len(leaves):
            return out
    shared = set()
    for k, a in enumerate(leaves):
        if id(a) in readonly:
            continue
        for b in leaves[:k]:
            if a is b or np.may_share_memory(a, b):
                shared.add(id(a))
                break
    if not shared and not readonly:
        return out
    return _copy_shared(out, shared, readonly)


def _collect_arrays(v, leaves):
    """Append the arrays of the list, tuple or dict tree ``v`` to ``leaves``. (A module function,
    not a closure calling itself: such a closure is a reference cycle, which would hold the
    gradient's arrays after the call until the cyclic garbage collector runs.)"""
    if isinstance(v, np.ndarray):
        leaves.append(v)
    elif isinstance(v, (list, tuple)):
        for item in v:
            _collect_arrays(item, leaves)
    elif isinstance(v, dict):
        for item in v.values():
            _collect_arrays(item, leaves)


def _copy_shared(v, shared, readonly=frozenset()):
    """``v`` with the arrays whose ids are in ``shared`` copied, but for the first of each, and
    those in ``readonly`` copied into arrays that can be written."""
    if isinstance(v, np.ndarray):
        if id(v) in readonly:
            return np.array(v, order="C")
        if id(v) in shared:
            shared.discard(id(v))  # (the first of a shared pair stays; later ones copy)
            return v.copy()
        return v
    if isinstance(v, tuple):
        return type(v)(_copy_shared(item, shared, readonly) for item in v) \
            if type(v) is tuple else type(v)(*[_copy_shared(item, shared, readonly) for item in v])
    if isinstance(v, list):
        return type(v)(_copy_shared(item, shared, readonly) for item in v)
    if isinstance(v, dict):
        return type(v)((k, _copy_shared(item, shared, readonly)) for k, item in v.items())
    return v
