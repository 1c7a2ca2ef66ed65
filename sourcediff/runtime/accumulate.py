"""Gradient values as the adjoint sweep adds them: zeros, ``add_grads``, and the gradients of
lists, tuples and dicts (``GradList``, ``GradDict``) with ``+`` adding entrywise."""

import collections.abc
import copy as copy_module
import functools

import numpy as np

from ..pytree import is_model_object, like_container
from .shapes import operator_giving_object, other_array, rebroadcast, shape, unbroadcast

__all__ = [
    "GradList", "GradDict", "add_grads", "is_zero_grad", "grad_items", "as_grad_list",
    "zeros_like_grad", "copy", "dense_grad", "unbroadcast_each", "rebroadcast_each",
    "entry_slots", "iterates_keys", "sum_each", "cast_grad", "zero_tangent", "ZeroTangent", "unweighted_count",
    "nonzero_grad", "nonzero_grads", "zero_grads", "handed_out",
]


def zeros_like_grad(x):
    """A zero gradient for ``x``."""
    if isinstance(x, float):
        return 0.0
    if isinstance(x, dict):
        return {k: zeros_like_grad(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        items = [zeros_like_grad(item) for item in x]
        return like_container(x, items)
    if isinstance(x, functools.partial):  # (a closure over values: the symbolic zero, which
        return 0.0  # item_grad reads as zero for each value it binds)
    return np.zeros_like(x)


def unweighted_count(data, weights=None):
    """The number of items statistics.fmean(data) averages; its ``weights=`` is refused."""
    if weights is not None:
        raise NotImplementedError("sourcediff has no derivative for statistics.fmean with "
                                  "weights=; write np.average(data, weights=w)")
    return len(data)


def zero_tangent(x):
    """The zero tangent of ``x`` beside items that carry one (an item of a ``*args`` tuple in
    forward mode): ``zeros_like_grad``, but an object (a model passed as ``g(model, x)`` to
    ``def g(*args)``) gets a :class:`ZeroTangent` whose attributes read as zero tangents."""
    if isinstance(x, dict):
        return {k: zero_tangent(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return like_container(x, [zero_tangent(item) for item in x])
    if callable(x) and not isinstance(x, type) and not is_model_object(x):
        # (a function, np.vectorize(f), np.tanh: the symbolic zero, which dynamic_jvp reads as
        # a callee that carries no tangent; np.zeros_like gave an object array it took for one)
        return 0.0
    if isinstance(x, (np.ndarray, np.generic, int, float, complex, bool)) or x is None or \
            other_array(x) or not hasattr(x, "__dict__") or isinstance(x, type) or callable(x):
        return zeros_like_grad(x)
    return ZeroTangent(x)


class ZeroTangent:
    """The tangent of an object that carries no derivative: ``t.w`` is the zero tangent of the
    object's ``w`` (0.0 for a float, zeros for an array, a ZeroTangent for an object)."""

    __slots__ = ("of",)

    def __init__(self, of):
        self.of = of

    def __getattr__(self, name):
        return zero_tangent(getattr(self.of, name))

    def __repr__(self):
        return f"ZeroTangent({type(self.of).__name__})"


def copy(value):
    """A copy of a saved value (arrays are copied, numbers returned as they are)."""
    if isinstance(value, np.ndarray):
        return value.copy(order="K")  # (its memory layout too: x.ravel(order='A') reads it)
    if other_array(value):
        return value.copy()
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def handed_out(value, restored, stack=()):
    """``value``, what a forward form returns, with copies of the lists, dicts and arrays its
    backward form may put items back into (``d[k] = old``, ``y[i] = old``) wherever ``value``
    holds them (at any depth, in a namedtuple or an object's attributes too), so that what the
    caller was handed (has_aux's aux) keeps them as the forward pass left them: those among
    ``restored`` (the written names' values), those on the forward's ``stack`` (a name's
    earlier value, which the backward pops back before restoring its items), and the views of
    the arrays owning their memory (``y[:]``, ``y.T``, ``y[1]``: one set of ids, no pairwise
    test). Containers holding none are handed out as they are."""
    ids, owners, ndarray = set(), set(), np.ndarray
    for held in (restored, stack):
        for r in held:
            if isinstance(r, ndarray):
                ids.add(id(r))
                # (numpy gives a view the array owning the memory as its base: y[:].base is y)
                owners.add(id(r) if r.base is None else id(r.base))
            elif isinstance(r, (list, dict)):
                ids.add(id(r))
    return _handed(value, ids, owners, {}, 0) if ids else value


def _handed(value, ids, owners, memo, depth):
    if id(value) in memo:
        return memo[id(value)]
    if depth > 64:
        return value
    if isinstance(value, np.ndarray):
        out = copy(value) if type(value) is np.ndarray and (id(value) in ids or id(
            value if value.base is None else value.base) in owners) else value
    elif type(value) in (list, dict) or isinstance(value, tuple):
        out = copy(value) if id(value) in ids else value
        items = list(out.items()) if isinstance(out, dict) else list(enumerate(out))
        new = [(k, _handed(v, ids, owners, memo, depth + 1)) for k, v in items]
        if any(a is not b for (_k, a), (_j, b) in zip(new, items)):
            if type(out) is dict:
                out = dict(new)
            else:
                out = _rebuilt(out, [v for _k, v in new])
    elif is_model_object(value) and type(getattr(value, "__dict__", None)) is dict:
        # (an object the function built, Box(y): a copy holding the copies)
        attrs = {k: _handed(v, ids, owners, memo, depth + 1) for k, v in vars(value).items()}
        out = value
        if any(attrs[k] is not v for k, v in vars(value).items()):
            out = copy_module.copy(value)
            vars(out).update(attrs)
    else:
        return value
    memo[id(value)] = out
    return out


def _rebuilt(seq, items):
    """A list or tuple of ``seq``'s type holding ``items`` (a namedtuple's by its fields); a
    tuple subclass built otherwise stays as it is."""
    kind = type(seq)
    try:
        return kind(*items) if hasattr(kind, "_fields") else kind(items)
    except TypeError:
        return seq


def entry_slots(value):
    """A list's or dict's slots as a function was given them (a copy of the container, the same
    items), for the gradient of a parameter whose slots it changes; anything else as it is."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def iterates_keys(xs):
    """Whether iterating over ``xs`` gives keys (a dict, a dict's key view, a set): values that
    carry no derivative, and not the items ``xs``'s gradient holds."""
    return isinstance(xs, (collections.abc.Mapping, collections.abc.Set))


def sum_each(g, xs):
    """The tangent of ``sum(xs)`` for the tangent ``g`` of ``xs``: the sum of its items (zero
    when ``xs`` gives keys, ``sum(d)`` adding a dict's keys)."""
    if iterates_keys(xs) or is_zero_grad(g):
        return 0.0
    total = 0.0
    for item in g:
        total = total + item
    return total


def unbroadcast_each(g, xs):
    """The list ``[unbroadcast(g, x) for x in xs]`` (the gradient of a sum over a list); for an
    array ``xs`` (``sum(a)`` adds its rows) an array shaped like it; zero for keys (``sum(d)``
    of a dict adds its keys)."""
    if iterates_keys(xs):
        return 0.0
    if isinstance(xs, np.ndarray):
        if xs.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        row = unbroadcast(g, xs[0]) if len(xs) else 0.0
        return np.array(np.broadcast_to(row, xs.shape), dtype=np.result_type(row, float))
    return GradList(unbroadcast(g, x) for x in xs)


class GradList(list):
    """The gradient of a list or tuple: one entry per item (0.0 for none); ``+`` adds entrywise."""

    def __add__(self, other):
        return add_grads(self, other)

    __radd__ = __add__


class GradDict(dict):
    """The gradient of a dict: one entry per key that has one (a missing key's is zero); ``+``
    adds entrywise, also to 0.0 (forward mode adds tangents with ``+``)."""

    def __add__(self, other):
        return add_grads(self, other)

    __radd__ = __add__

    def _refused(self, *_):
        # (any other operator meets a dict's gradient only as the adjoint of one whose result
        # is an object of the user's class: -obj running its __neg__, obj * 3.0 its __mul__)
        raise operator_giving_object(self)

    __neg__ = __pos__ = __abs__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refused
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _refused
    __pow__ = __rpow__ = __matmul__ = __rmatmul__ = _refused


def add_grads(a, b):
    """``a + b`` for gradients that may be 0.0, arrays, or lists/tuples of gradients (entrywise)."""
    if type(a) is np.ndarray and type(b) is np.ndarray:
        return a + b  # (the common case first)
    if isinstance(a, (int, float)) and not isinstance(a, bool) and a == 0:
        return GradList(b) if isinstance(b, (list, tuple)) else b
    if isinstance(b, (int, float)) and not isinstance(b, bool) and b == 0:
        return GradList(a) if isinstance(a, (list, tuple)) else a
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if len(a) != len(b):
            raise ValueError(f"gradients of containers of lengths {len(a)} and {len(b)}")
        return GradList(add_grads(0.0 if x is None else x, 0.0 if y is None else y)
                        for x, y in zip(a, b))
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)):
            raise TypeError(  # (the entry names the user's line: compiled._relocated)
                "the derivative reaches one value both as a dict's or an object's (by key or "
                "attribute) and as an array's or a number's; sourcediff reads an attribute "
                "named like an array's own (.T, .real, .imag, .shape, .data, .flat) as the "
                "array's where the object's class is not known (outside its methods). Read it "
                "in a method of the class (self.T), or give the attribute another name")
        out = GradDict(a)
        for k, v in b.items():
            out[k] = add_grads(out.get(k, 0.0), v)
        return out
    return a + b


def is_zero_grad(g):
    """True for a missing gradient: None, or the scalar 0.0 that stands for zeros."""
    return g is None or (isinstance(g, (int, float)) and not isinstance(g, bool) and g == 0)


def nonzero_grad(g):
    """False for a scalar gradient 0.0, as the symbolic zero of a value that reached the output on
    no path the call took: the reverse sweep then skips its rule (compiler/unreached.py), whose
    0 * inf would be nan. (A numpy float 0.0 counts too, as in the numba backend, where the two
    are one type.) An array, zeros or not, runs the rule."""
    return not (isinstance(g, float) and g == 0.0)


def nonzero_grads(g, g_dot):
    """``nonzero_grad(g)`` in a gradient differentiated again (forward over reverse): a cotangent
    that is 0 by value (a scalar's ``2 * t * y_bar`` at ``t = 0``) may still have a tangent, and
    skipping its rule dropped that tangent (a hessian's rows of zeros). The rule is skipped only
    where both are zero: a value on no path taken has the symbolic zero and a zero tangent."""
    return nonzero_grad(g) or nonzero_grad(g_dot)


def zero_grads(g, g_dot):
    """``is_zero_grad(g)`` in a helper differentiated again (a shortcut ``if is_zero_grad(g):
    return 0.0`` on a zero cotangent): true only where its tangent is zero too, as
    ``nonzero_grads``."""
    return is_zero_grad(g) and is_zero_grad(g_dot)


def grad_items(g, n):
    """The ``n`` entries of a list/tuple gradient ``g``, None for missing ones (all when ``g`` is 0)."""
    if is_zero_grad(g):
        return [None] * n
    return [None if is_zero_grad(item) else item for item in g]


def rebroadcast_each(b, g, xs):
    """The adjoint of ``unbroadcast_each(g, xs)`` in ``g``: the entries of ``b`` brought to g's
    shape and summed."""
    total = zeros_like_grad(g)
    for item in grad_items(b, len(xs)):
        if item is not None:
            total = total + rebroadcast(item, g)
    return total


def as_grad_list(x):
    """``x`` as a GradList when it is a list or tuple (so ``+`` adds it entrywise), else ``x``."""
    return GradList(x) if isinstance(x, (list, tuple)) else x


def dense_grad(g, ans):
    """``g``, or zeros shaped like the result ``ans`` when ``g`` is the symbolic zero 0.0: the
    gradient a rule that moves ``g``'s axes around (transpose, reshape, ...) needs. A result that
    reaches the output only on some paths, or through one element of a tuple, has the gradient
    0.0 on the others. A tuple result (np.linalg.svd's, eigh's: arrays of several shapes, which
    np.shape cannot read) gets a tuple of zeros."""
    if type(g) is float and g == 0.0 and (isinstance(ans, (tuple, list)) or shape(ans) != ()):
        return zeros_like_grad(ans)
    return g


def cast_grad(g, ans):
    """``g``, or zeros shaped like it when the result ``ans`` holds integers or booleans: a value
    cast to them (``x.astype(int)``, ``np.sum(x, dtype=int)``, ``y[i] = x`` into an integer array
    ``ans``) is piecewise constant, its derivative 0 (as PyTorch's integer tensors, which carry no
    gradient); the rule of the cast alone would pass ``g`` through (truncated, in forward mode)."""
    dtype = getattr(ans, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind in "biu":
        return 0.0 if type(g) is float else np.zeros(shape(g))
    return g


def _refuse(what):
    raise NotImplementedError(f"sourcediff has no derivative for {what}")


def _items(g, n):
    """The ``n`` entries of a tuple-result gradient (None for a missing one)."""
    if is_zero_grad(g):
        return [None] * n
    return [None if is_zero_grad(item) else item for item in g]
