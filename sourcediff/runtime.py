"""Small numpy helpers that rules and generated code call (imported there as ``_sd``)."""

import builtins
import functools
import itertools
import math
import numbers
import threading
import types

import numpy as np

from .errors import AliasError, InactiveArgumentError, NonScalarOutputError, NoRuleError, SourcediffError
from .pytree import is_tree, like_container


def other_array(x):
    """True for an array of another library that numpy dispatches to (a dask or CuPy array): the
    helpers keep it in its own type and never ``np.asarray`` it (that would compute a whole dask
    array, and CuPy refuses it)."""
    return not isinstance(x, (np.ndarray, np.generic)) and (
        hasattr(x, "__dask_graph__") or hasattr(x, "__array_namespace__"))


def lazy(x):
    """True for a lazy array (dask): reading its values (``bool``, ``float``, ``np.asarray``) runs
    the whole computation that makes it."""
    return hasattr(x, "__dask_graph__") and hasattr(x, "shape")


def as_array(x, dtype=None):
    """``np.asarray(x, dtype)``, but another library's array (see :func:`other_array`) stays one."""
    if other_array(x):
        return x if dtype is None or x.dtype == dtype else x.astype(dtype)
    return np.asarray(x, dtype=dtype)


def computed(*values):
    """The values a control-flow test reads, with every small lazy one (a dask array of at most
    ``_COMPUTED_MAX`` elements) computed, all in one pass; the rest as they are. One value gives
    one value back, several a tuple. The code specialized for dask arguments calls it before a
    branch or loop test (``sourcediff/lazy.py``), so the test and every later use of the value
    (the adjoint sweep replays the test) read the computed number instead of computing it again."""
    at = [k for k, v in enumerate(values) if lazy(v) and math.prod(v.shape) <= _COMPUTED_MAX]
    if not at:
        return values[0] if len(values) == 1 else values
    import dask

    done = dask.compute(*[values[k] for k in at])
    out = list(values)
    for k, v in zip(at, done):
        out[k] = v
    return out[0] if len(out) == 1 else tuple(out)


_COMPUTED_MAX = 64


def library(x):
    """How a message names the array type of ``x`` ("a dask array", "a cupy array")."""
    return f"a {type(x).__module__.split('.')[0]} array"


def numpy_only(what, *values):
    """Refuse a dask or CuPy value among ``values`` for a derivative that sourcediff computes with
    numpy alone (sorting, np.add.at, np.bincount), rather than computing the value behind the user's
    back or failing inside the other library."""
    for v in values:
        if other_array(v):
            raise NotImplementedError(
                f"the derivative of {what} is computed with numpy only, and it meets {library(v)}; "
                f"compute the array first (x.compute() for dask, x.get() for CuPy) and pass numpy, "
                f"or leave that operation out of the differentiated function")


def shape(x):
    """np.shape without the array conversion for plain numbers."""
    return () if isinstance(x, (float, int, complex, np.generic)) else np.shape(x)


def unbroadcast(g, x):
    """Sum ``g`` down to the shape of ``x`` (undoing numpy broadcasting)."""
    if type(g) is np.ndarray and type(x) is np.ndarray:  # the common case, kept cheap
        if g.shape == x.shape:
            return g
        gs, xs = g.shape, x.shape
    else:
        if isinstance(x, (list, tuple)):  # a container's gradient has its shape already
            return g
        gs, xs = shape(g), shape(x)
        if gs == xs:
            return g
    if not xs:
        return np.sum(g)
    if len(gs) < len(xs):
        g = np.broadcast_to(g, np.broadcast_shapes(gs, xs))
        gs = g.shape
    lead = len(gs) - len(xs)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(xs)
                                      if n == 1 and gs[lead + i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True) if type(g) is np.ndarray else \
            np.sum(g, axis=axes, keepdims=True)
        if lead:
            g = g.reshape(g.shape[lead:])
    if g.shape != xs:
        g = np.broadcast_to(g, xs)
    return g


def broadcast_tangent(t, ans):
    """Broadcast a tangent contribution up to the shape of the result ``ans``."""
    if isinstance(ans, (list, tuple)):  # the tangent of a container gradient (GradList) as it is
        return t
    if shape(t) == shape(ans):
        return t
    return np.broadcast_to(t, shape(ans))


def unreduce(g, x, axis=None, keepdims=False):
    """Broadcast the gradient of a reduction over ``axis`` back to the shape of ``x``."""
    if type(g) is float and g == 0.0:  # the symbolic zero stays symbolic
        return 0.0
    xs = shape(x)
    if axis is not None and not keepdims:
        axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
        g = np.expand_dims(g, tuple(a % len(xs) for a in axes))
    if type(x) is not np.ndarray and other_array(x):  # (in x's blocks: a broadcast would be one
        dtype = np.result_type(g, x.dtype)              # block of x's whole shape)
        if isinstance(g, (int, float, np.generic)):
            return np.full_like(x, g, dtype=dtype)
        return np.zeros_like(x, dtype=dtype) + g
    if axis is None and isinstance(g, (float, np.generic)) and len(xs) and \
            (x.size if type(x) is np.ndarray else math.prod(xs)) <= 4096:
        return np.full(xs, g, dtype=np.result_type(g, getattr(x, "dtype", float)))  # cheaper
    return np.broadcast_to(g, xs)


def reduced_count(x, axis=None):
    """How many elements of ``x`` each result of a reduction over ``axis`` combines."""
    xs = shape(x)
    if axis is None:
        return int(np.prod(xs, dtype=np.int64))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    return int(np.prod([xs[a] for a in axes], dtype=np.int64))


def keep(ans, x, axis=None, keepdims=False):
    """``ans`` of a reduction reshaped so it broadcasts against ``x`` (keepdims form)."""
    if axis is None or keepdims:
        return ans if axis is not None or not shape(x) else np.reshape(ans, (1,) * len(shape(x)))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    return np.expand_dims(ans, tuple(a % len(shape(x)) for a in axes))


def grad_like(g, x):
    """The final gradient for argument ``x``: its shape, its float dtype, a float for a float; a
    list, tuple or dict argument's gradient has its structure and type."""
    if isinstance(x, float):
        if other_array(g):  # (a dask gradient stays lazy: a 0-d array, computed by the caller)
            return np.sum(g) if shape(g) else g
        return float(np.sum(g)) if shape(g) else float(g)
    if isinstance(x, np.ndarray):
        if isinstance(g, np.ndarray) and g.shape == x.shape and g.dtype == x.dtype:
            return g
        out = np.zeros_like(x) if isinstance(g, (int, float)) and g == 0 else g
        if other_array(out):  # (np.array would compute a dask gradient)
            return _shaped_like(unbroadcast(out, x), x)
        return np.array(np.broadcast_to(unbroadcast(out, x), x.shape), dtype=x.dtype)
    if isinstance(x, np.generic):
        return np.sum(g).astype(x.dtype) if other_array(g) else x.dtype.type(np.sum(g))
    if other_array(x):  # a dask or CuPy argument's gradient: that type, shape and dtype
        out = np.zeros_like(x) if isinstance(g, (int, float)) and g == 0 else unbroadcast(g, x)
        return _shaped_like(out if other_array(out) else np.asarray(out, like=x), x)
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
    return _tree_grad(g, x, True) if is_tree(x) else grad_like(g, x)


def zeros_like_grad(x):
    """A zero gradient for ``x``."""
    if isinstance(x, float):
        return 0.0
    if isinstance(x, dict):
        return {k: zeros_like_grad(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        items = [zeros_like_grad(item) for item in x]
        return like_container(x, items)
    return np.zeros_like(x)


def check_scalar(value, where):
    """Refuse a non-scalar output for ``grad`` with a message that says what to do (an array of
    one element, shape (1,) or (1, 1), is a scalar here, as HIPS autograd takes it)."""
    if isinstance(value, (tuple, list)):
        raise NonScalarOutputError(
            f"grad needs a function that returns a scalar, but {where} returns a {type(value).__name__} "
            f"of {len(value)} values; for (loss, aux) pass has_aux=True (sd.grad(f, "
            f"has_aux=True) gives (gradient, aux)), or return the scalar loss alone"
        )
    if shape(value) != () and np.size(value) != 1:
        raise NonScalarOutputError(
            f"grad needs a function that returns a scalar, but {where} returns an array of shape "
            f"{shape(value)}; reduce it (np.sum(...), np.mean(...)) or use sourcediff.jacobian / "
            f"sourcediff.vjp for a non-scalar output"
        )
    return value


def output_seed(value, where):
    """The seed of the backward sweep for ``grad``'s output ``value`` (checked as check_scalar
    checks it): 1.0, or ones shaped like an array of one element."""
    check_scalar(value, where)
    return 1.0 if shape(value) == () else np.ones(shape(value))


make_slice = slice  # the alias checks pass a subscript's index as a value
_TooHard = getattr(getattr(np, "exceptions", np), "TooHardError", Exception)


def _shares(region, other, depth=0):
    """Whether ``other`` (an array, or a list, tuple or dict holding some) reaches ``region``."""
    if isinstance(other, np.ndarray):
        if not isinstance(region, np.ndarray) or not np.may_share_memory(region, other):
            return False
        try:
            return np.shares_memory(region, other, max_work=100000)
        except _TooHard:
            return True
    if other is region:
        return True
    if depth < 8 and is_tree(other):
        items = other.values() if isinstance(other, dict) else other
        return any(_shares(region, item, depth + 1) for item in items)
    fields = getattr(other, "__dict__", None)  # an object's attributes (w = obj.W; w[0] = x)
    if depth < 8 and type(fields) is dict and not isinstance(other, type) and \
            type(other).__module__ != "builtins" and not hasattr(other, "__code__"):
        return any(_shares(region, item, depth + 1) for item in fields.values())
    if depth <= 1 and (isinstance(other, type) or isinstance(other, types.ModuleType)):
        # a module's or a class's arrays, lists, dicts and objects (w = cfg.W; w += r), and the
        # classes a module defines (w = cfg.Model.W)
        return any(_shares(region, item, depth + 1) for item in vars(other).values()
                   if isinstance(item, (np.ndarray, list, dict)) or (
                       depth == 0 and isinstance(item, type) and
                       item.__module__ == getattr(other, "__name__", None)) or (
                       type(getattr(item, "__dict__", None)) is dict and
                       not isinstance(item, (type, types.ModuleType)) and not callable(item)))
    return False


def _alias_refusal(others, names, region, where, text, fix,
                   head="this in-place write also changes {name}, which shares memory with it "
                        "and is read later"):
    for other, name in zip(others, names):
        if _shares(region, other):
            raise AliasError(
                f"{where}: {head.format(name=name)}\n    {text}\nnumpy would "
                f"change {name} as well; sourcediff gives each name its own value, so the "
                f"derivative would be wrong. {fix}")


def check_alias(value, others, names, where, text):
    """``v op= e`` (numpy: in place) must not reach another name that is read later."""
    if isinstance(value, (np.ndarray, list, dict)):
        _alias_refusal(others, names, value, where, text,
                       "Write the update through the name that is read later (z[1:3] += e), "
                       "or make the new value explicitly (v = v + e, v = z[1:3].copy()).")


def check_call_alias(value, others, names, where, text):
    """``helper(z)`` where helper writes into its parameter: z must not be read afterwards."""
    if isinstance(value, (np.ndarray, list, dict)):
        _alias_refusal(others, names, value, where, text,
                       "Return the new value from the helper and use that (z = helper(z)), or "
                       "pass it a copy (helper(z.copy())).",
                       head="this call writes in place into memory {name} shares, and {name} is "
                            "read later or passed to the same call (sourcediff gives the helper "
                            "a copy)")


def check_alias_at(base, index, others, names, where, text):
    """``a[index] = e`` must not write memory that another name read later sees."""
    if isinstance(base, np.ndarray):
        region = base
        idx = index if isinstance(index, tuple) else (index,)
        if all(i is None or i is Ellipsis or isinstance(i, slice)
               or (isinstance(i, (numbers.Integral, np.integer)) and not isinstance(i, bool))
               for i in idx):
            try:  # a basic index writes only what base[index] views (0-d view for all ints)
                region = base[idx if any(i is Ellipsis for i in idx) else idx + (Ellipsis,)]
            except (IndexError, TypeError):
                region = base
    elif isinstance(base, (list, dict)):
        region = base
    else:
        return
    _alias_refusal(others, names, region, where, text,
                   "Copy the array before writing into it (a = a.copy()), or build the new "
                   "value without writing into memory another name still uses.")


def check_overlapping_write(base, index, value, where, text):
    """``a[index] = v`` where ``v`` may be a view of ``a``'s memory: numpy then copies in an order
    of its own (``x[2] = x[:, 3]`` reads x[2, 3] after writing it), and the result is not that of
    assigning a copy of v, which is what the derivative assumes. Tried on a copy of the memory;
    refused when it differs."""
    if not (isinstance(base, np.ndarray) and isinstance(value, np.ndarray)
            and np.may_share_memory(base, value)):
        return
    owner = base
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    if not (owner.flags.c_contiguous or owner.flags.f_contiguous) or \
            not np.may_share_memory(owner, value):
        return
    scratch = owner.copy(order="K")
    start = owner.__array_interface__["data"][0]

    def same_view(a):
        return np.ndarray(a.shape, a.dtype, buffer=scratch,
                          offset=a.__array_interface__["data"][0] - start, strides=a.strides)

    dst, src = same_view(base), same_view(value)
    dst[index] = src
    if not np.array_equal(dst[index], np.broadcast_to(value, np.shape(base[index])),
                          equal_nan=True):
        raise AliasError(
            f"{where}: the value assigned overlaps the memory it is written into, and numpy "
            f"copies it in an order of its own: the result is not that of assigning a copy, "
            f"which the derivative assumes.\n    {text}\nAssign a copy (... = v.copy()), "
            f"which numpy's result then equals.")


def _float_leaves(value, path):
    """The first leaf of a list/tuple/dict (pytree) that is not a float or float array, as
    (path, leaf), or None when every leaf is one."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        kind = getattr(getattr(value, "dtype", None), "kind", None)
        ok = (isinstance(value, float) and not isinstance(value, bool)) or kind == "f"
        return None if ok else (path, value)
    for key, item in items:
        bad = _float_leaves(item, f"{path}[{key!r}]")
        if bad is not None:
            return bad
    return None


def check_wrt(value, name, fn_where):
    """Refuse arguments that cannot carry derivatives (ints, bools, complex, objects); a list,
    tuple or dict of floats and float arrays (nested) carries one per leaf."""
    if isinstance(value, float):
        return
    if is_tree(value) and value:
        bad = _float_leaves(value, name)
        if bad is None:
            return
        path, leaf = bad
        raise InactiveArgumentError(
            f"argument '{name}' of {fn_where} holds {path} = {type(leaf).__name__}"
            f"{' of dtype ' + str(leaf.dtype) if hasattr(leaf, 'dtype') else ''}, which cannot "
            f"carry a gradient; every leaf of a list, tuple or dict argument must be a float or a "
            f"float array (np.asarray(v, dtype=float)), or leave {name} out of wrt")
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind == "f":
        return
    if isinstance(value, bool) or kind == "b":
        what = "a boolean"
    elif isinstance(value, numbers.Integral) or kind in ("i", "u"):
        what = "an integer"
    elif isinstance(value, complex) or kind == "c":
        what = "a complex"
    elif kind == "O":
        what = "an object"
    elif kind is None and isinstance(value, (list, tuple)):
        what = "a list/tuple"
    else:
        raise InactiveArgumentError(
            f"argument '{name}' of {fn_where} is a {type(value).__name__} object and cannot carry a "
            f"gradient; pass its float arrays as arguments and differentiate with respect to those, "
            f"or leave '{name}' out of wrt"
        )
    raise InactiveArgumentError(
        f"argument '{name}' of {fn_where} is {what} value ({type(value).__name__}"
        f"{', dtype ' + str(value.dtype) if hasattr(value, 'dtype') else ''}) and cannot carry a "
        f"gradient; pass a float or a float array (e.g. np.asarray(x, dtype=float)), or leave it out "
        f"of wrt"
    )


def matmul_grad_left(g, x, y):
    """Gradient of ``x @ y`` with respect to ``x`` (any of numpy's matmul shape cases)."""
    if type(g) is float and g == 0.0:  # the symbolic zero: no gradient reached x @ y
        return 0.0
    if type(x) is np.ndarray and type(y) is np.ndarray and x.ndim == 2 and y.ndim == 2:
        return g @ y.T
    xs, ys = shape(x), shape(y)
    if len(ys) == 1:
        gx = np.multiply.outer(g, y) if len(xs) > 1 else g * y
    elif len(xs) == 1:
        gx = np.matmul(y, g[..., None])[..., 0] if len(ys) > 2 else y @ g
    else:
        gx = g @ np.swapaxes(y, -1, -2)
    return unbroadcast(gx, x)


def matmul_grad_right(g, x, y):
    """Gradient of ``x @ y`` with respect to ``y``."""
    if type(g) is float and g == 0.0:
        return 0.0
    if type(x) is np.ndarray and type(y) is np.ndarray and x.ndim == 2 and y.ndim == 2:
        return x.T @ g
    xs, ys = shape(x), shape(y)
    if len(xs) == 1:  # (a vector times a stack of matrices: x's entry i meets row i of each)
        gy = np.multiply(np.reshape(x, (-1, 1)), np.expand_dims(g, -2)) if len(ys) > 1 else g * x
    elif len(ys) == 1:
        gy = np.swapaxes(x, -1, -2) @ g[..., None] if len(xs) > 2 else x.T @ g
        if len(xs) > 2:
            gy = gy[..., 0]
    else:
        gy = np.swapaxes(x, -1, -2) @ g
    return unbroadcast(gy, y)


def tie_mask(x, y, strict):
    """Where ``x`` wins a max/min against ``y``: 1, at ties 0.5 (PyTorch's convention), else 0."""
    return np.where(x == y, 0.5, strict.astype(float) if hasattr(strict, "astype") else float(strict))


def scatter(g, a, index):
    """The gradient of ``a[index]``: zeros shaped like ``a`` with ``g`` added at ``index``."""
    if isinstance(a, (list, tuple)):
        out = GradList([0.0] * len(a))
        out[index] = g
        return out
    if isinstance(a, dict):
        return GradDict({index: g})
    if other_array(g) or other_array(a):
        return _scatter_other(g, a, index)
    out = np.zeros(shape(a), dtype=np.result_type(g, getattr(a, "dtype", float)))
    np.add.at(out, index, g)
    return out


def _scatter_other(g, a, index):
    """:func:`scatter` for a dask or CuPy ``g`` or ``a``: a plain write, which adds up nothing, so
    an index that could name an element twice (a lazy one, or integers with repeats) is refused."""
    items = index if isinstance(index, tuple) else (index,)
    arrays = [i for i in items if not (i is None or i is Ellipsis or isinstance(i, slice)
                                       or isinstance(i, numbers.Integral))]
    repeats = len(arrays) > 1 or any(
        other_array(i) or (np.asarray(i).dtype.kind != "b"
                           and np.unique(np.asarray(i)).size != np.size(i)) for i in arrays)
    if repeats:  # (np.add.at adds repeats up; a write would keep one)
        numpy_only("indexing with integer arrays that repeat an index, several integer arrays or "
                   "an index array that is itself lazy (a[idx])", a, g)
    if any(i is None for i in items):  # (dask's setitem takes no None: drop those axes of g)
        like_a = np.broadcast_to(np.empty(()), shape(a))  # (shapes only: nothing allocated)
        index = tuple(i for i in items if i is not None)
        g = np.reshape(np.broadcast_to(g, like_a[items].shape), like_a[index].shape)
    like = g if other_array(g) else a
    dtype = np.result_type(g, getattr(a, "dtype", float))
    out = np.zeros_like(a, dtype=dtype) if other_array(a) else np.zeros(shape(a), dtype, like=like)
    out[index] = g
    return out


def copy(value):
    """A copy of a saved value (arrays are copied, numbers returned as they are)."""
    if isinstance(value, np.ndarray) or other_array(value):
        return value.copy()
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


class _Missing:
    def __repr__(self):
        return "<missing item>"


MISSING = _Missing()  # what saved_item keeps for a key a dict does not have yet


def saved_item(obj, key):
    """``obj[key]`` kept for the adjoint sweep to put back before ``obj[key] = v`` runs on a list or
    dict; ``MISSING`` when ``v`` adds a new key to a dict."""
    if isinstance(obj, dict) and key not in obj:
        return MISSING
    return copy(obj[key])


def restore_item(obj, key, value):
    """Put back what :func:`saved_item` kept: the old entry, or no entry."""
    if value is MISSING:
        del obj[key]
    else:
        obj[key] = value


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


def item_grad(g, k):
    """The gradient of item ``k`` of a container whose gradient is ``g`` (0.0 means all zero)."""
    if isinstance(g, (int, float)) and g == 0:
        return 0.0
    if isinstance(g, dict):
        item = g.get(k, 0.0)
    elif isinstance(g, list) and isinstance(k, int) and not -len(g) <= k < len(g):
        item = 0.0  # a stack's gradient, aligned at its end, may be shorter than the stack
    else:
        item = g[k]
        mask = last_writes(g, k)
        if mask is not None:
            item = np.where(mask, item, 0.0)
    return 0.0 if item is None else item


def last_writes_only(b, g, k):
    """``b`` (shaped like ``g[k]``) kept only at the last write of each element (see
    :func:`last_writes`): the adjoint of item_grad's masking."""
    mask = last_writes(g, k)
    return b if mask is None or is_zero_grad(b) else np.where(mask, b, 0.0)


def _advanced(k):
    items = k if isinstance(k, tuple) else (k,)
    return any(isinstance(i, (list, np.ndarray)) and np.asarray(i).dtype.kind in "iu"
               for i in items)


def last_writes(g, k):
    """For ``y[k] = v`` with an integer-array index that names an element more than once
    (``y[[0, 0, 1]] = v``): a mask over ``y[k]`` that is True at the last write of each element,
    the one that stays (numpy writes in order); None when every element is written once."""
    if not isinstance(g, np.ndarray) or g.ndim == 0 or not _advanced(k):
        return None
    ids = np.arange(g.size).reshape(g.shape)[k]
    flat = np.ravel(ids)
    _, first_from_end = np.unique(flat[::-1], return_index=True)  # (one sort, not two)
    if first_from_end.size == flat.size:
        return None
    mask = np.zeros(flat.size, dtype=bool)
    mask[flat.size - 1 - first_from_end] = True
    return mask.reshape(np.shape(ids))


def zero_at(g, x, index):
    """A new gradient shaped like ``x``: ``g`` with zeros at ``index`` (``g`` itself is untouched)."""
    if isinstance(x, list):
        out = [0.0] * len(x) if not isinstance(g, list) else list(g)
        out[index] = 0.0
        return out
    if isinstance(g, (int, float)) and g == 0:
        return 0.0
    if isinstance(x, dict):
        out = GradDict(g)
        out.pop(index, None)  # (a missing entry's gradient is zero: see item_grad)
        return out
    out = np.array(np.broadcast_to(g, shape(x)), dtype=np.result_type(g, float))
    out[index] = 0.0
    return out


# ---------------------------------------------------------------- helpers of the numpy rule table

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def space_fractions(ans, num, endpoint=True, axis=0, retstep=False, base=None):
    """Where each entry of ``np.linspace``'s result lies between start (0) and stop (1), shaped to
    broadcast against ``ans`` along ``axis`` (also for logspace and geomspace)."""
    if retstep:
        raise SourcediffError("np.linspace(..., retstep=True) returns (samples, step); sourcediff "
                              "differentiates the samples only: call it without retstep and "
                              "compute the step as (stop - start) / (num - 1)")
    if base is not None and np.ndim(base) != 0:
        raise SourcediffError("np.logspace with an array base is not differentiated; give one "
                              "base, or write base ** np.linspace(start, stop, num)")
    num = int(num)
    div = (num - 1) if endpoint else num
    f = np.arange(num, dtype=float) / div if div > 0 else np.zeros(num)
    ndim = np.ndim(ans)
    where = axis % ndim if ndim else 0
    return np.reshape(f, [num if i == where else 1 for i in range(max(ndim, 1))])


def _float_item(item):
    return isinstance(item, float) or getattr(getattr(item, "dtype", None), "kind", None) == "f"


def _index_concat_parts(maker, items):
    """(zeroed items, maker[zeroed]): every float item replaced by zeros of its shape."""
    zeroed = [np.zeros(np.shape(it)) if _float_item(it) else it for it in items]
    return zeroed, maker[tuple(zeroed)]


def index_concat_grads(g, maker, items):
    """The gradient of ``maker[items]`` (np.r_, np.c_) for each item (None for non-float ones):
    item i's entries are tagged 1..n in an otherwise zeroed call, and read back from g."""
    zeroed, base = _index_concat_parts(maker, items)
    g = np.broadcast_to(g, np.shape(base))
    out = []
    for i, item in enumerate(items):
        if not _float_item(item):
            out.append(None)
            continue
        n = int(np.size(item))
        tagged = list(zeroed)
        tagged[i] = np.arange(1.0, n + 1.0).reshape(np.shape(item))
        where = np.asarray(maker[tuple(tagged)] - base)
        landed = where != 0
        grad = np.zeros(n, dtype=np.result_type(g, float))
        np.add.at(grad, where[landed].astype(np.intp) - 1, g[landed])
        out.append(grad.reshape(np.shape(item)) if np.ndim(item) else grad[0])
    return tuple(out)


def index_concat_place(b, g, maker, items):
    """The adjoint of :func:`index_concat_grads`: item gradients ``b`` placed where the items land
    in ``maker[items]`` (shaped like ``g``)."""
    zeroed, base = _index_concat_parts(maker, items)
    out = np.zeros(np.shape(base), dtype=np.result_type(base, float))
    for i, item in enumerate(items):
        if _float_item(item) and b[i] is not None and not is_zero_grad(b[i]):
            moved = list(zeroed)
            moved[i] = np.broadcast_to(b[i], np.shape(item))
            out = out + (maker[tuple(moved)] - base)
    return np.reshape(out, np.shape(g))


def index_concat_tangents(t, maker, items):
    """For each item position, ``maker[items]``'s tangent when that item moves along ``t`` (None
    where ``t`` cannot be that item's tangent: another shape, or not a float item)."""
    zeroed, base = _index_concat_parts(maker, items)
    out = []
    for i, item in enumerate(items):
        if not _float_item(item) or np.shape(item) != np.shape(t):
            out.append(None)
            continue
        moved = list(zeroed)
        moved[i] = t
        out.append(maker[tuple(moved)] - base)
    return tuple(out)


def normalize_axes(axis, ndim):
    """``axis`` (None, an int or a sequence) as a tuple of non-negative ints (all axes for None)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    return tuple(int(a) % ndim for a in axes)


def is_basic_index(index):
    """True for an index made only of ints, slices, Ellipsis and None (numpy basic indexing)."""
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        if item is None or item is Ellipsis or isinstance(item, slice):
            continue
        if isinstance(item, numbers.Integral) and not isinstance(item, (bool, np.bool_)):
            continue
        return False
    return True


def scatter_basic(g, a, index):
    """The gradient of ``a[index]``: ``out[index] = g`` for basic indices, ``np.add.at`` otherwise."""
    if is_tree(a) or not is_basic_index(index):
        return scatter(g, a, index)
    if other_array(g) or other_array(a):
        return _scatter_other(g, a, index)
    out = np.zeros(shape(a), dtype=np.result_type(g, getattr(a, "dtype", float)))
    out[index] = g
    return out


def clip_bounds(a_min=None, a_max=None, min=None, max=None):
    """The (lower, upper) bounds of an np.clip call, with -inf/inf for a missing bound."""
    lo = min if a_min is None or a_min is np._NoValue else a_min
    hi = max if a_max is None or a_max is np._NoValue else a_max
    lo = -np.inf if lo is None or lo is np._NoValue else lo
    hi = np.inf if hi is None or hi is np._NoValue else hi
    return lo, hi


def scale_each(s, xs):
    """The tuple ``(s * x for x in xs)`` (the gradient of math.hypot is ``g / ans * x``)."""
    return tuple(s * x for x in xs)


def unbroadcast_each(g, xs):
    """The list ``[unbroadcast(g, x) for x in xs]`` (the gradient of a sum over a list); for an
    array ``xs`` (``sum(a)`` adds its rows) an array shaped like it."""
    if isinstance(xs, np.ndarray):
        if xs.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        row = unbroadcast(g, xs[0]) if len(xs) else 0.0
        return np.array(np.broadcast_to(row, xs.shape), dtype=np.result_type(row, float))
    return GradList(unbroadcast(g, x) for x in xs)


def map_list(fn, xs):
    """The list ``[fn(x) for x in xs]``."""
    return [fn(x) for x in xs]


def as_column(x):
    """``x`` as np.column_stack sees it: a 1-D array becomes one column."""
    return np.reshape(x, (-1, 1)) if np.ndim(x) < 2 else x


def extremum_weights(a, ans, axis=None, keepdims=False):
    """Where ``a`` attains its max/min ``ans`` over ``axis``: 1/(number of ties), else 0."""
    mask = (as_array(a) == keep(ans, a, axis, keepdims)).astype(np.result_type(a, 1.0))
    return mask / np.sum(mask, axis=axis, keepdims=True)


def prod_others(a, axis=None):
    """For every element of ``a``, the product of the other elements reduced with it (zero-safe)."""
    a = as_array(a)
    if a.ndim == 0:
        return np.ones_like(a)
    axes = normalize_axes(axis, a.ndim)
    rest = [i for i in range(a.ndim) if i not in axes]
    moved = np.transpose(a, rest + list(axes))
    flat = np.reshape(moved, moved.shape[: len(rest)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=flat.dtype, like=flat)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = np.reshape(left * right, moved.shape)
    return np.transpose(others, tuple(np.argsort(rest + list(axes)).tolist()))


def cumsum_grad(g, a, axis=None):
    """The gradient of ``np.cumsum(a, axis)``: a reversed cumulative sum of ``g``."""
    if axis is None:
        return np.reshape(np.cumsum(np.ravel(g)[::-1])[::-1], shape(a))
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


def norm_weights(x, ans, ord=None, axis=None, keepdims=False):
    """d np.linalg.norm(x, ord, axis) / dx shaped like ``x``; 0 where the norm is 0 (PyTorch)."""
    x = as_array(x)
    matrix = (axis is None and x.ndim == 2 and ord is not None) or (
        axis is not None and not isinstance(axis, numbers.Integral) and len(axis) == 2
    )
    if matrix and ord not in (None, "fro"):
        axes = (0, 1) if axis is None else normalize_axes(axis, x.ndim)
        m = np.moveaxis(x, axes, (-2, -1))
        if ord in ("nuc", 2, -2):
            u, _, vh = np.linalg.svd(m, full_matrices=False)
            k = slice(None) if ord == "nuc" else slice(0, 1) if ord == 2 else slice(-1, None)
            w = u[..., :, k] @ vh[..., k, :]
        elif ord in (1, -1):
            cols = np.sum(np.abs(m), axis=-2)
            best = np.max(cols, -1) if ord == 1 else np.min(cols, -1)
            w = np.sign(m) * extremum_weights(cols, best, -1)[..., None, :]
        elif ord in (np.inf, -np.inf):
            rows = np.sum(np.abs(m), axis=-1)
            best = np.max(rows, -1) if ord == np.inf else np.min(rows, -1)
            w = np.sign(m) * extremum_weights(rows, best, -1)[..., :, None]
        else:
            raise NotImplementedError(f"gradient of a matrix norm with ord={ord!r}")
        return np.moveaxis(w, (-2, -1), axes)
    n = keep(ans, x, axis, keepdims)
    safe = np.where(n == 0, 1.0, n)
    if ord is None or ord == 2 or ord == "fro":
        w = x / safe
    elif ord == 1:
        w = np.sign(x)
    elif ord in (np.inf, -np.inf):
        w = np.sign(x) * extremum_weights(np.abs(x), ans, axis, keepdims)
    elif ord == 0:
        w = np.zeros_like(x)
    else:
        w = np.sign(x) * np.abs(x) ** (ord - 1) / safe ** (ord - 1)
    return np.where(n == 0, 0.0, w)


def einsum_parse(subscripts, operands):
    """Split einsum ``subscripts`` into per-operand index strings and the output string."""
    s = subscripts.replace(" ", "")
    ins, out = s.split("->") if "->" in s else (s, None)
    terms = ins.split(",")
    if "..." in s:
        used = set(s) - set(".,->")
        free = [c for c in LETTERS if c not in used]
        dims = [len(shape(op)) - len(t.replace("...", "")) for t, op in zip(terms, operands)]
        width = max(dims, default=0)
        ell = "".join(free[:width])
        terms = [t.replace("...", ell[width - k :]) for t, k in zip(terms, dims)]
        if out is not None:
            out = out.replace("...", ell)
        else:
            letters = "".join(terms)
            out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    if out is None:
        letters = "".join(terms)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return terms, out


def einsum_grad_one(g, terms, out, operands, i):
    """The gradient of an einsum (parsed subscripts) with respect to operand ``i``."""
    shapes = tuple(_shape(op) for op in operands)
    key = (tuple(terms), out, shapes, i)
    recipe = _GRAD_RECIPES.get(key)
    if recipe is None:
        recipe = _cache_put(_GRAD_RECIPES, key, _grad_recipe(terms, out, shapes, i))
    ins, result, others, extras = recipe
    ops = [g] + [operands[j] for j in others] + [np.eye(n) if kind == "eye" else np.ones(n)
                                                  for kind, n in extras]
    grad = einsum_fast(ins, result, ops)
    return unbroadcast(grad, operands[i])


def _grad_recipe(terms, out, shapes, i):
    """How ``einsum_grad_one`` computes operand ``i``'s gradient: (input subscripts, result
    subscripts, the other operands' positions, extra operands as ("eye" | "ones", size))."""
    sizes = {}
    for t, s in zip(terms, shapes):
        sizes.update(zip(t, s))
    ins = [out] + [t for j, t in enumerate(terms) if j != i]
    others = [j for j in range(len(terms)) if j != i]
    extras = []
    available = set("".join(ins))
    free = iter(c for c in LETTERS if c not in set("".join(terms)) | set(out))
    result = ""
    for c in terms[i]:
        if c in result:
            d = next(free)
            ins.append(c + d)
            extras.append(("eye", sizes[c]))
            result += d
            continue
        if c not in available:
            ins.append(c)
            extras.append(("ones", sizes[c]))
            available.add(c)
        result += c
    return tuple(ins), result, tuple(others), tuple(extras)


def einsum_grads(g, subscripts, operands):
    """The gradients of ``np.einsum(subscripts, *operands)`` for every operand, as a tuple."""
    if type(g) is float and g == 0.0:
        return (0.0,) * len(operands)
    key = (subscripts, _shape(g), *map(_shape, operands))
    plan = _GRADS_PLANS.get(key)
    if plan is None:
        plan = _cache_put(_GRADS_PLANS, key, _grads_plan(g, subscripts, operands))
    terms, out, direct = plan
    if _others(g, *operands):  # (dask, CuPy: np.einsum, which they take, as before)
        direct = (None,) * len(operands)
    if len(direct) == 2 and direct[0] is not None and direct[1] is not None:  # (dot, ...)
        return (direct[0][0](g, operands[1]), direct[1][0](g, operands[0]))
    return tuple(einsum_grad_one(g, terms, out, operands, i) if d is None else
                 d[0](g, operands[d[1]]) for i, d in enumerate(direct))


def _grads_plan(g, subscripts, operands):
    """(terms, out, one entry per operand): for an operand whose gradient is one product of ``g``
    and one other operand, (a pair plan, that operand's position), else None (einsum_grad_one)."""
    terms, out = einsum_parse(subscripts, operands)
    shapes = [_shape(op) for op in operands]
    direct = []
    for i in range(len(operands)):
        ins, result, others, extras = _grad_recipe(terms, out, shapes, i)
        run = None
        if len(others) == 1 and not extras:
            run = _pair_plan(ins[0], ins[1], result, _shape(g), shapes[others[0]])
        # (an operand broadcast against the others needs its gradient summed: einsum_grad_one)
        sizes = dict(zip(ins[0], _shape(g)))
        if run is not None:
            sizes.update(zip(ins[1], shapes[others[0]]))
        if run is not None and tuple(sizes.get(c) for c in result) == tuple(shapes[i]):
            direct.append((run, others[0]))
        else:
            direct.append(None)
    return terms, out, tuple(direct)


def add_stacked_products(acc, lhs, rhs):
    """``acc + a.T @ b`` summed over the pairs of ``lhs`` and ``rhs`` (lists of 2-D arrays, each
    pair with the same rows, or such lists already stacked by stack_rows), as one matrix product
    of the stacked arrays; ``acc`` itself for no pairs. The
    specializer turns a weight gradient accumulated pass by pass in an adjoint loop (``W_bar =
    W_bar + h.T @ d``) into this after the loop (see specialize._stack_loop_products). Example::

        add_stacked_products(0.0, [h1, h2], [d1, d2])    # h1.T @ d1 + h2.T @ d2
    """
    if type(lhs) is list and not lhs:
        return acc
    return acc + _stacked(lhs).T @ _stacked(rhs)


def _stacked(rows):
    """A list of 2-D arrays as one (its only array, or their concatenation); an array (already
    stacked by stack_rows) as it is."""
    if type(rows) is not list:
        return rows
    return rows[0] if len(rows) == 1 else np.concatenate(rows)


def add_stacked_sums(acc, rows, keepdims=False):
    """``acc + d.sum(axis=0)`` summed over the arrays ``d`` of ``rows`` (2-D, the same columns), as
    one sum over the stacked rows (a bias gradient accumulated pass by pass in an adjoint loop,
    see specialize._stack_loop_products); ``acc`` itself for no rows. Example::

        add_stacked_sums(0.0, [d1, d2])    # d1.sum(axis=0) + d2.sum(axis=0)
    """
    if type(rows) is list and not rows:
        return acc
    return acc + _stacked(rows).sum(axis=0, keepdims=keepdims)


def stack_rows(rows):
    """The 2-D arrays of the list ``rows`` stacked into one (``np.concatenate``), for several
    stacked sums that read them (add_stacked_products, add_stacked_sums); a list of fewer than
    two stays as it is."""
    return np.concatenate(rows) if len(rows) > 1 else rows


def dot_grad_left(g, subscripts, x, y):
    """The gradient of ``np.einsum(subscripts, x, y)`` with respect to ``x``, for the rules of
    np.dot, ndarray.dot, np.inner and np.tensordot (``subscripts`` from dot_subscripts and the
    like): one call per operand, so an operand that needs no gradient costs nothing. Example::

        dot_grad_left(g, "ab,bd->ad", x, y)    # g @ y.T
    """
    if type(g) is float and g == 0.0:  # the symbolic zero: no gradient reached the product
        return 0.0
    if subscripts == "ab,bd->ad" and type(g) is np.ndarray and type(y) is np.ndarray:
        return g @ y.T  # (2-D np.dot: the shapes match exactly, numpy checked them)
    return _dot_grad(g, subscripts, x, y, 0)


def dot_grad_right(g, subscripts, x, y):
    """The gradient of ``np.einsum(subscripts, x, y)`` with respect to ``y`` (see dot_grad_left).
    Example::

        dot_grad_right(g, "ab,bd->ad", x, y)    # x.T @ g
    """
    if type(g) is float and g == 0.0:
        return 0.0
    if subscripts == "ab,bd->ad" and type(g) is np.ndarray and type(x) is np.ndarray:
        return x.T @ g
    return _dot_grad(g, subscripts, x, y, 1)


def _dot_grad(g, subscripts, x, y, i):
    key = (subscripts, _shape(g), _shape(x), _shape(y))
    plan = _GRADS_PLANS.get(key)
    if plan is None:
        plan = _cache_put(_GRADS_PLANS, key, _grads_plan(g, subscripts, (x, y)))
    terms, out, direct = plan
    if direct[i] is None or _others(g, x, y):
        return einsum_grad_one(g, terms, out, (x, y), i)
    return direct[i][0](g, y if i == 0 else x)


def contract(subscripts, x, y):
    """``np.einsum(subscripts, x, y)`` through einsum_fast (one matrix product where it can): the
    cotangent of dot_grad_left / dot_grad_right in their ``g``. A symbolic zero 0.0 for either
    operand gives 0.0. Example::

        contract("ab,bd->ad", x, y)    # x @ y
    """
    if (type(x) is float and x == 0.0) or (type(y) is float and y == 0.0):
        return 0.0
    key = (subscripts, _shape(x), _shape(y))
    parsed = _PARSED.get(key)
    if parsed is None:
        parsed = _cache_put(_PARSED, key, einsum_parse(subscripts, (x, y)))
    return einsum_fast(parsed[0], parsed[1], (x, y))


# Plans for einsum_fast, keyed by subscripts and shapes (dtypes do not change a plan). A program
# meets few distinct shapes; the caches are emptied when one grows past _PLAN_LIMIT entries.
_PLAN_LIMIT = 4096
_GRADS_PLANS, _GRAD_RECIPES, _EINSUM_PLANS, _DOT_SUBSCRIPTS, _PARSED = {}, {}, {}, {}, {}
_OPTIMIZE_FLOPS = 200_000  # naive multiply-adds above which 3+ operands take an optimized path


def _shape(x):
    return x.shape if type(x) is np.ndarray else shape(x)


def _others(*xs):
    """True when one of ``xs`` is another library's array (dask, CuPy): plans are for numpy's."""
    return any(type(x) is not np.ndarray and other_array(x) for x in xs)


def _cache_put(cache, key, value):
    if len(cache) >= _PLAN_LIMIT:
        cache.clear()
    cache[key] = value
    return value


def einsum_fast(ins, result, ops):
    """``np.einsum(",".join(ins) + "->" + result, *ops)``, through a plan made once per subscripts
    and shapes: two operands as one matrix product (``np.matmul``, a batched one, or a broadcast
    multiply when nothing is summed) between transposed and reshaped views; three or more, when
    big, along a contraction order numpy's ``einsum_path`` chose once; otherwise ``np.einsum``.
    Example::

        einsum_fast(("ac", "bc"), "ab", [g, w])    # g @ w.T
    """
    if _others(*ops):
        return np.einsum(",".join(ins) + "->" + result, *ops)
    key = (tuple(ins), result, tuple(_shape(op) for op in ops))
    plan = _EINSUM_PLANS.get(key)
    if plan is None:
        plan = _cache_put(_EINSUM_PLANS, key, _einsum_plan(ins, result, ops))
    return plan(*ops)


def _einsum_plan(ins, result, ops):
    spec = ",".join(ins) + "->" + result
    shapes = [shape(op) for op in ops]
    if len(ops) == 2:
        plan = _pair_plan(ins[0], ins[1], result, shapes[0], shapes[1])
        if plan is not None:
            return plan
    if len(ops) >= 3:
        sizes = {}
        for t, s in zip(ins, shapes):
            sizes.update(zip(t, s))
        if math.prod(sizes.values()) * (len(ops) - 1) > _OPTIMIZE_FLOPS:
            path = np.einsum_path(spec, *ops, optimize="greedy")[0]
            return lambda *ops: np.einsum(spec, *ops, optimize=path)
    return lambda *ops: np.einsum(spec, *ops)


def _pair_plan(t1, t2, res, s1, s2):
    """``np.einsum(t1,t2->res)`` on operands of shapes s1, s2 as a function of the two operands:
    one (batched) matrix product, or None where that does not apply (a letter repeated within one
    term, sizes that differ, so broadcast, between operands)."""
    if len(t1) != len(s1) or len(t2) != len(s2):
        return None
    if len(set(t1)) < len(t1) or len(set(t2)) < len(t2) or len(set(res)) < len(res):
        return None
    size = {}
    for t, s in ((t1, s1), (t2, s2)):
        for c, n in zip(t, s):
            if size.setdefault(c, n) != n:
                return None
    if not set(res) <= set(size):
        return None
    # letters summed in one operand alone are summed first
    sum1 = tuple(k for k, c in enumerate(t1) if c not in t2 and c not in res)
    sum2 = tuple(k for k, c in enumerate(t2) if c not in t1 and c not in res)
    r1 = [c for c in t1 if c in t2 or c in res]
    r2 = [c for c in t2 if c in t1 or c in res]
    batch = [c for c in res if c in r1 and c in r2]
    summed = [c for c in r1 if c in r2 and c not in res]
    left = [c for c in res if c in r1 and c not in r2]
    right = [c for c in res if c in r2 and c not in r1]
    swap = list(res) != batch + left + right and list(res) == batch + right + left
    if swap:  # y @ x gives the result's axis order without a transpose
        r1, r2, sum1, sum2, left, right = r2, r1, sum2, sum1, right, left
    order = batch + left + right
    perm1 = tuple(r1.index(c) for c in batch + left + summed)
    perm2 = tuple(r2.index(c) for c in batch + summed + right)
    perm1 = None if perm1 == tuple(range(len(r1))) else perm1
    perm2 = None if perm2 == tuple(range(len(r2))) else perm2

    def prod(cs):
        return math.prod(size[c] for c in cs)

    nb, nl, ns, nr = prod(batch), prod(left), prod(summed), prod(right)
    if summed:
        # (batch, left, summed) @ (batch, summed, right); a group without letters is left out
        # when there is no batch, so vectors stay vectors for np.matmul
        shape1 = ((nb,) if batch else ()) + ((nl,) if left or batch else ()) + (ns,)
        shape2 = ((nb,) if batch else ()) + (ns,) + ((nr,) if right or batch else ())
        shape3 = shape1[:-1] + shape2[-1:] if len(shape2) > 1 else shape1[:-1]
        combine = np.matmul
    else:  # nothing summed between the two: a broadcast multiply
        shape1, shape2, shape3, combine = (nb, nl, 1), (nb, 1, nr), (nb, nl, nr), np.multiply
    mid = tuple(size[c] for c in order)
    final = None if order == list(res) else tuple(order.index(c) for c in res)
    # reshapes that would not change a shape are skipped
    shape1 = None if shape1 == tuple(size[c] for c in batch + left + summed) else shape1
    shape2 = None if shape2 == tuple(size[c] for c in batch + summed + right) else shape2
    shape3 = None if shape3 == mid else mid

    def run(x, y):
        if swap:
            x, y = y, x
        if type(x) is not np.ndarray:
            x = np.asarray(x)
        if type(y) is not np.ndarray:
            y = np.asarray(y)
        if sum1:
            x = x.sum(axis=sum1)
        if sum2:
            y = y.sum(axis=sum2)
        if perm1 is not None:
            x = x.transpose(perm1)
        if perm2 is not None:
            y = y.transpose(perm2)
        if shape1 is not None:
            x = x.reshape(shape1)
        if shape2 is not None:
            y = y.reshape(shape2)
        z = combine(x, y)
        if shape3 is not None:
            z = z.reshape(shape3)
        if final is not None:
            z = z.transpose(final)
        return z[()] if not mid and type(z) is np.ndarray else z

    return run


def tensordot_subscripts(a, b, axes=2):
    """The einsum subscripts that compute ``np.tensordot(a, b, axes)``."""
    na, nb = len(shape(a)), len(shape(b))
    if isinstance(axes, numbers.Integral):
        ax_a, ax_b = list(range(na - axes, na)), list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, numbers.Integral) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, numbers.Integral) else list(ax_b)
    ax_a, ax_b = [i % na for i in ax_a], [j % nb for j in ax_b]
    sa, sb = LETTERS[:na], list(LETTERS[na : na + nb])
    for i, j in zip(ax_a, ax_b):
        sb[j] = sa[i]
    out = [sa[i] for i in range(na) if i not in ax_a] + [sb[j] for j in range(nb) if j not in ax_b]
    return sa + "," + "".join(sb) + "->" + "".join(out)


def dot_subscripts(a, b):
    """The einsum subscripts that compute ``np.dot(a, b)``."""
    na, nb = len(_shape(a)), len(_shape(b))
    text = _DOT_SUBSCRIPTS.get((na, nb))
    if text is None:
        if na == 0 or nb == 0:
            text = tensordot_subscripts(a, b, 0)
        else:
            text = tensordot_subscripts(a, b, ([na - 1], [nb - 2 if nb > 1 else 0]))
        _DOT_SUBSCRIPTS[(na, nb)] = text
    return text


def inner_subscripts(a, b):
    """The einsum subscripts that compute ``np.inner(a, b)``."""
    na, nb = len(shape(a)), len(shape(b))
    if na == 0 or nb == 0:
        return tensordot_subscripts(a, b, 0)
    return tensordot_subscripts(a, b, ([na - 1], [nb - 1]))


def trace_grad(g, a, offset=0, axis1=0, axis2=1):
    """The gradient of ``np.trace(a, offset, axis1, axis2)``: ``g`` spread on that diagonal."""
    s = shape(a)
    axis1, axis2 = axis1 % len(s), axis2 % len(s)
    eye = np.eye(s[axis1], s[axis2], k=offset)
    return np.moveaxis(np.expand_dims(g, (-2, -1)) * eye, (-2, -1), (axis1, axis2))


def diagonal_grad(g, a, offset=0, axis1=0, axis2=1):
    """The gradient of ``np.diagonal(a, offset, axis1, axis2)``: zeros with ``g`` on the diagonal."""
    out = np.zeros(shape(a), dtype=np.result_type(g, getattr(a, "dtype", float)))
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    k = shape(g)[-1]
    rows = np.arange(k) - min(0, offset)
    cols = np.arange(k) + max(0, offset)
    view[..., rows, cols] = g
    return out


def diag_grad(g, v, k=0):
    """The gradient of ``np.diag(v, k)`` (builds a matrix from a vector or takes a diagonal)."""
    if len(shape(v)) == 1:
        return np.diagonal(g, k).copy()
    return diagonal_grad(g, v, k)


def inverse_axes(axes, ndim):
    """The permutation that undoes ``np.transpose(x, axes)`` (method varargs forms accepted)."""
    if isinstance(axes, tuple) and len(axes) == 1 and not isinstance(axes[0], numbers.Integral):
        axes = axes[0]
    if axes is None or len(axes) == 0:
        return None
    return tuple(int(i) for i in np.argsort([int(a) % ndim for a in axes]))


def tile_grad(g, a, reps):
    """The gradient of ``np.tile(a, reps)``: the tiles of ``g`` summed."""
    reps = (reps,) if isinstance(reps, numbers.Integral) else tuple(reps)
    s = shape(a)
    d = max(len(s), len(reps))
    s_full = (1,) * (d - len(s)) + tuple(s)
    r_full = (1,) * (d - len(reps)) + reps
    split = np.reshape(g, [n for pair in zip(r_full, s_full) for n in pair])
    return np.reshape(np.sum(split, axis=tuple(range(0, 2 * d, 2))), s)


def repeat_grad(g, a, repeats, axis=None):
    """The gradient of ``np.repeat(a, repeats, axis)``: repeated entries summed back."""
    if axis is None:
        n = int(np.size(a))
        out = np.zeros(n, dtype=np.result_type(g, float))
        np.add.at(out, np.repeat(np.arange(n), repeats), np.ravel(g))
        return np.reshape(out, shape(a))
    s = shape(a)
    axis = axis % len(s)
    if other_array(g) and isinstance(repeats, numbers.Integral):  # (no np.add.at on dask)
        groups = np.reshape(np.moveaxis(g, axis, 0), (s[axis], int(repeats)) + s[:axis] + s[axis + 1:])
        return np.moveaxis(np.sum(groups, axis=1), 0, axis)
    out = np.zeros((s[axis],) + s[:axis] + s[axis + 1 :], dtype=np.result_type(g, float))
    np.add.at(out, np.repeat(np.arange(s[axis]), repeats), np.moveaxis(g, axis, 0))
    return np.moveaxis(out, 0, axis)


def pad_grad(g, array, pad_width, mode="constant"):
    """The gradient of ``np.pad(array, pad_width)`` in constant mode: the unpadded middle of ``g``."""
    if mode != "constant":
        raise NotImplementedError(f"gradient of np.pad with mode={mode!r} (only 'constant')")
    s = shape(array)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (len(s), 2))
    return g[tuple(slice(int(lo), int(lo) + n) for (lo, _), n in zip(widths, s))]


def concat_grads(g, arrays, axis=0, promoted=None):
    """Gradients of ``np.concatenate(promoted or arrays, axis)``, one per array, shaped like it."""
    if type(g) is float and g == 0.0:
        return GradList([0.0] * len(arrays))
    promoted = arrays if promoted is None else promoted
    if axis is None:
        sizes = [math.prod(shape(p)) for p in promoted]
        g, axis = np.ravel(g), 0
    else:
        sizes = [shape(p)[axis] for p in promoted]
    if other_array(g):  # (dask has no np.split: slices)
        ends = np.cumsum([0] + sizes).tolist()
        before = (slice(None),) * (axis % len(shape(g)))
        pieces = [g[before + (slice(lo, hi),)] for lo, hi in zip(ends, ends[1:])]
    else:
        pieces = np.split(g, np.cumsum(sizes)[:-1], axis=axis)
    return [np.reshape(piece, shape(x)) for piece, x in zip(pieces, arrays)]


def hstack_axis(tup):
    """The axis np.hstack joins along: 0 for 1-D arrays, else 1."""
    return 0 if np.ndim(tup[0]) < 2 else 1


def unstack_grads(g, arrays, axis=0):
    """Gradients of ``np.stack(arrays, axis)``: the slices of ``g`` along ``axis``."""
    if type(g) is float and g == 0.0:
        return GradList([0.0] * len(arrays))
    return [np.take(g, i, axis=axis) for i in range(len(arrays))]


def split_grad(g, ans, axis=0):
    """The gradient of ``np.split``: the piece gradients joined, zeros for pieces with none."""
    pieces = [np.zeros(shape(p)) if gi is None else np.broadcast_to(gi, shape(p))
              for gi, p in zip(grad_items(g, len(ans)), ans)]
    return np.concatenate(pieces, axis=axis)


def like_input(g, a):
    """``g`` shaped like the input of np.array/np.asarray: a list for a list, an array otherwise."""
    if isinstance(a, (list, tuple)):
        return [like_input(g[i], a[i]) for i in range(len(a))]
    return g


def unsort(g, a, axis=-1):
    """The gradient of ``np.sort(a, axis)``: ``g`` put back at the unsorted positions of ``a``."""
    if axis is None:
        out = np.zeros(np.size(a), dtype=np.result_type(g, float))
        out[np.argsort(np.ravel(a), kind="stable")] = np.ravel(g)
        return np.reshape(out, shape(a))
    out = np.zeros(shape(a), dtype=np.result_type(g, float))
    np.put_along_axis(out, np.argsort(a, axis=axis, kind="stable"), g, axis=axis)
    return out


def take_sorted(t, a, axis=-1):
    """The tangent of ``np.sort(a, axis)``: ``t`` reordered the way ``a`` sorts."""
    if axis is None:
        return np.ravel(t)[np.argsort(np.ravel(a), kind="stable")]
    return np.take_along_axis(t, np.argsort(a, axis=axis, kind="stable"), axis=axis)


def take_grad(g, a, indices, axis=None):
    """The gradient of ``np.take(a, indices, axis)``: ``g`` added back at ``indices``."""
    if axis is None:
        out = np.zeros(np.size(a), dtype=np.result_type(g, float))
        np.add.at(out, np.ravel(indices), np.ravel(g))
        return np.reshape(out, shape(a))
    s = shape(a)
    axis = axis % len(s)
    out = np.zeros((s[axis],) + s[:axis] + s[axis + 1 :], dtype=np.result_type(g, float))
    gm = np.moveaxis(g, tuple(range(axis, axis + np.ndim(indices))), tuple(range(np.ndim(indices))))
    if other_array(gm):  # (no np.add.at on dask)
        return np.moveaxis(_scatter_other(gm, out, indices), 0, axis)
    np.add.at(out, indices, gm)
    return np.moveaxis(out, 0, axis)


def diff_grad(g, n=1, axis=-1):
    """The gradient of ``np.diff(a, n, axis)``: minus the n-th difference of ``g`` padded with zeros."""
    for _ in range(n):
        widths = [(0, 0)] * np.ndim(g)
        widths[axis] = (1, 1)
        g = -np.diff(np.pad(g, widths), axis=axis)
    return g


_NUMPY2 = int(np.__version__.split(".")[0]) >= 2


def solve_vector(a, b):
    """True when ``np.linalg.solve(a, b)`` reads ``b`` as a vector (or a stack of them): numpy 2 only
    when b is 1-D, numpy 1 whenever b has one dimension fewer than a."""
    nb = len(shape(b))
    return nb == 1 if _NUMPY2 else nb == len(shape(a)) - 1


def solve_grads(g, ans, a, b):
    """Gradients of ``x = np.linalg.solve(a, b)`` with respect to ``a`` and ``b``."""
    at = np.swapaxes(a, -1, -2)
    if solve_vector(a, b):
        gb = np.linalg.solve(at, np.asarray(g)[..., None])[..., 0]
        ga = -gb[..., :, None] * np.asarray(ans)[..., None, :]
    else:
        gb = np.linalg.solve(at, g)
        ga = -gb @ np.swapaxes(ans, -1, -2)
    return unbroadcast(ga, a), unbroadcast(gb, b)


def solve_tangent_a(t, ans, a, b):
    """The tangent of solve(a, b) due to a tangent ``t`` of ``a`` (None if ``t`` is not a-shaped)."""
    if shape(t) != shape(a):
        return None
    if solve_vector(a, b):
        tx = np.matmul(t, np.asarray(ans)[..., None])
        return -np.linalg.solve(a, tx)[..., 0]
    return -np.linalg.solve(a, t @ ans)


def rebroadcast(b, g):
    """The adjoint of ``unbroadcast(g, x)``/``broadcast_tangent(g, y)``: ``b`` brought to g's shape
    (a container's gradient has its shape already, as in unbroadcast)."""
    if isinstance(g, (list, tuple)) or isinstance(b, (list, tuple)):
        return b
    return unbroadcast(np.broadcast_to(b, np.broadcast_shapes(shape(b), shape(g))), g)


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


def add_grads(a, b):
    """``a + b`` for gradients that may be 0.0, arrays, or lists/tuples of gradients (entrywise)."""
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
        out = GradDict(a)
        for k, v in b.items():
            out[k] = add_grads(out.get(k, 0.0), v)
        return out
    return a + b


def drop_last(g):
    """The gradient of a list before its last ``append`` (0.0 stays 0.0)."""
    if isinstance(g, (list, tuple)):
        return GradList(g[:-1])
    return g


def extremum_args_grad(g, ans, args):
    """Gradients for ``max(*args)``/``min(*args)``: ``g`` shared evenly by the arguments equal to
    ``ans`` (for a single iterable argument, a list gradient over its items)."""
    if len(args) == 1:
        items = list(args[0])
        winners = [float(item == ans) for item in items]
        count = builtins.sum(winners)
        return (GradList(g * w / count for w in winners),)
    winners = [float(a == ans) for a in args]
    count = builtins.sum(winners)
    return tuple(g * w / count for w in winners)


def append_zero(g):
    """The gradient of a list before ``drop_last``: one more (zero) entry at the end."""
    if isinstance(g, (list, tuple)):
        return GradList(list(g) + [0.0])
    return g


def push_grad(g, item):
    """The gradient of a list before ``v = lst.pop()``: ``item`` (v's gradient) back at the end."""
    if isinstance(g, (int, float)) and g == 0:
        return GradList([item]) if not (isinstance(item, (int, float)) and item == 0) else 0.0
    return GradList(list(g) + [item])


def sigmoid(x):
    """1 / (1 + exp(-x)), the derivative of logaddexp(0, x): one exp, exact relative precision
    on both tails, and no overflow warning (exp(-x) = inf gives 0.0)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def scaled_sigmoid(g, d):
    """g / (1 + exp(-d)): g times logaddexp's derivative, in one temporary array when the
    shapes allow (the gradient of a large logistic loss needs no more memory than by hand)."""
    with np.errstate(over="ignore"):
        if type(d) is np.ndarray and d.dtype.kind == "f" and d.ndim and \
                np.result_type(g, d) == d.dtype and np.shape(g) in ((), d.shape):
            t = np.negative(d)
            np.exp(t, out=t)
            t += 1.0
            return np.divide(g, t, out=t)
        return g / (1.0 + np.exp(-d))


def win_mask(x, y):
    """Where ``x`` wins a max against ``y``: 1, at ties 0.5 (PyTorch's convention), else 0.

    Without ties the mask is the boolean comparison itself (a multiply by it is cheapest).
    """
    wins = x > y
    if isinstance(wins, (bool, np.bool_)):
        return 1.0 if wins else (0.5 if x == y else 0.0)
    ties = x == y
    if type(ties) is not np.ndarray and other_array(ties):  # (a test for ties would compute)
        dtype = np.result_type(x, y)
        return wins.astype(dtype) + ties.astype(dtype) * 0.5
    if np.count_nonzero(ties):  # (cheaper than ties.any())
        dtype = np.result_type(x, y)  # the dtype of the maximum itself
        return wins.astype(dtype) + ties.astype(dtype) * 0.5
    return wins


# ---------------------------------------------------------------- helpers of the helpers' own rules
# (rules/runtime_rules.py: derivatives of the helpers above, for grad of grad and hessians)


def _is_seq(x):
    return isinstance(x, (list, tuple))


def _concatenates(x, y):
    """Whether ``x + y`` joins two sequences (a list or tuple plus an array adds numerically:
    numpy converts the sequence)."""
    return _is_seq(x) and _is_seq(y)


def _repeats(x, y):
    """Whether ``x * y`` repeats a sequence (``[a] * 3``); a sequence times an array multiplies
    numerically (numpy converts the sequence)."""
    return (_is_seq(x) and not isinstance(y, np.ndarray)) or \
        (_is_seq(y) and not isinstance(x, np.ndarray))


def add_or_concat(x, y):
    """``x + y`` where an operand may be a list or tuple: what ``a + b`` resolves to when the
    compiler cannot rule out containers (``(a,) + (b,)`` concatenates, it does not add)."""
    return x + y


def mul_or_repeat(x, y):
    """``x * y`` where an operand may be a list or tuple (``[a] * 3`` repeats, it does not scale)."""
    return x * y


def _dense_zeros(x):
    return GradList(zeros_like_grad(item) for item in x)


def seq_zeros(x):
    """A zero gradient for each item of the sequence ``x``."""
    return GradList(0.0 for _ in x)


def _as_array_tangent(t, x):
    """A tangent of the sequence ``x`` as the array numpy makes of x (zero items made dense)."""
    if not _is_seq(x) or is_zero_grad(t):
        return t
    return np.array([np.broadcast_to(_as_array_tangent(ti, xi) if not is_zero_grad(ti) else 0.0,
                                     np.shape(xi)) for ti, xi in zip(t, x)], dtype=float)


def _numeric_tangent(t, own, factor, ans):
    """The tangent ``t * factor`` of an elementwise result ``ans`` when the operand ``own`` moves
    along ``t`` (None where ``t`` cannot be own's tangent: only the other entry is asked for)."""
    if _is_seq(t) and not _is_seq(own):
        return None
    return broadcast_tangent(_as_array_tangent(t, own) * factor, ans)


def add_or_concat_grads(g, x, y):
    """The gradients of ``x`` and ``y`` in ``x + y``: the first len(x) items of g and the rest for
    sequences, g summed back to each operand's shape for numbers and arrays."""
    if _concatenates(x, y):
        if is_zero_grad(g):
            return (0.0, 0.0)
        items = [0.0 if v is None else v for v in g]
        return (GradList(items[:len(x)]), GradList(items[len(x):]))
    return (unbroadcast(g, x), unbroadcast(g, y))


def add_or_concat_tangents(t, ans, x, y):
    """``x + y``'s tangent when x moves along t (first entry), or when y does (second entry)."""
    if _concatenates(x, y):  # (dense zeros for the other items: a tangent gets indexed)
        t = _dense_zeros(x if len(x) else y) if is_zero_grad(t) else t
        return (GradList(list(t) + list(_dense_zeros(y))) if len(t) == len(x) else None,
                GradList(list(_dense_zeros(x)) + list(t)) if len(t) == len(y) else None)
    return (_numeric_tangent(t, x, 1.0, ans), _numeric_tangent(t, y, 1.0, ans))


def _repeat_grad(g, seq):
    if is_zero_grad(g):
        return 0.0
    k, out = len(seq), seq_zeros(seq)
    for start in range(0, len(g), k or 1):
        out = add_grads(out, g[start:start + k])
    return out


def mul_or_repeat_grads(g, x, y):
    """The gradients of ``x`` and ``y`` in ``x * y``: for ``seq * n`` the n copies' gradients
    added item by item (n has none), for numbers and arrays the product rule."""
    if _repeats(x, y):
        return (_repeat_grad(g, x), 0.0) if _is_seq(x) else (0.0, _repeat_grad(g, y))
    return (unbroadcast(g * y, x), unbroadcast(g * x, y))


def mul_or_repeat_tangents(t, ans, x, y):
    """``x * y``'s tangent when x moves along t (first entry), or when y does (second entry)."""
    if _repeats(x, y) and _is_seq(x):
        return (GradList(t) * y if not is_zero_grad(t) else seq_zeros(x) * y, None)
    if _repeats(x, y):
        return (None, GradList(t) * x if not is_zero_grad(t) else seq_zeros(y) * x)
    return (_numeric_tangent(t, x, y, ans), _numeric_tangent(t, y, x, ans))


def _bcast(b, like):
    """A gradient ``b`` of an unbroadcast result spread back over the shape of ``like``."""
    return np.broadcast_to(0.0 if is_zero_grad(b) else b, np.shape(like))


def add_or_concat_grads_adjoint(b, g, x, y):
    """The adjoint of :func:`add_or_concat_grads` in ``g`` (it is linear in g)."""
    bx, by = item_grad(b, 0), item_grad(b, 1)
    if _concatenates(x, y):
        return GradList(list(seq_zeros(x) if is_zero_grad(bx) else bx) +
                        list(seq_zeros(y) if is_zero_grad(by) else by))
    return _bcast(bx, g) + _bcast(by, g)


def mul_or_repeat_grads_adjoint(b, g, x, y):
    """The adjoint of :func:`mul_or_repeat_grads`: gradients for (g, x, y)."""
    bx, by = item_grad(b, 0), item_grad(b, 1)
    if _repeats(x, y):
        seq, part = (x, bx) if _is_seq(x) else (y, by)
        part = seq_zeros(seq) if is_zero_grad(part) else part
        return (GradList(list(part) * (len(g) // max(len(seq), 1))), 0.0, 0.0)
    gx, gy = _bcast(bx, np.broadcast(g, y)), _bcast(by, np.broadcast(g, x))
    return (unbroadcast(gx * y + gy * x, g), unbroadcast(g * gy, x), unbroadcast(g * gx, y))


def mul_or_repeat_grads_tangents(t, g, x, y):
    """:func:`mul_or_repeat_grads`' tangent when g, x or y moves along ``t`` (one entry each)."""
    if _repeats(x, y):  # (the items' gradients do not depend on the items)
        zero = (seq_zeros(x), 0.0) if _is_seq(x) else (0.0, seq_zeros(y))
        return (mul_or_repeat_grads(t, x, y), zero, zero)
    tx = None if _is_seq(t) and not _is_seq(x) else _as_array_tangent(t, x)
    ty = None if _is_seq(t) and not _is_seq(y) else _as_array_tangent(t, y)
    zx, zy = (np.zeros(np.shape(v)) if _is_seq(v) else 0.0 for v in (x, y))  # (indexed later)
    return (None if _is_seq(t) else mul_or_repeat_grads(t, x, y),
            None if tx is None else (zx, unbroadcast(g * tx, y)),
            None if ty is None else (unbroadcast(g * ty, x), zy))


def sequence_grad(g, iterable):
    """The gradient of ``iterable`` (a list, tuple or array) from that of ``tuple(iterable)``."""
    if is_zero_grad(g):
        return 0.0
    if isinstance(iterable, (list, tuple)):
        return GradList(item_grad(g, k) for k in range(len(iterable)))
    if getattr(iterable, "ndim", 0):  # (an array: numpy's, or dask's, which np.stack takes)
        return np.stack([np.broadcast_to(0.0 if gi is None else gi, iterable.shape[1:])
                         for gi in grad_items(g, len(iterable))]) if len(iterable) else \
            np.zeros(iterable.shape)
    raise SourcediffError(
        f"tuple() of a {type(iterable).__name__} carries a derivative here; sourcediff follows "
        f"tuple() of lists, tuples and arrays: build the tuple from a list ([...])")


def sequence_tangent(t, iterable):
    """The tangent of ``tuple(iterable)``: one entry per item."""
    return 0.0 if is_zero_grad(t) else GradList(t)


def dict_items(d):
    """``d.items()`` on a local or parameter that is not an array: its (key, value) pairs as a
    list (a dict's, in order)."""
    return list(d.items())


def dict_values(d):
    """``d.values()`` as a list."""
    return list(d.values())


def dict_keys(d):
    """``d.keys()`` as a list (keys carry no derivative)."""
    return list(d.keys())


def _a_dict(d, method):
    if not isinstance(d, dict):
        raise SourcediffError(
            f".{method}() of a {type(d).__name__} carries a derivative here; sourcediff "
            f"differentiates .{method}() of dicts: pass the values in a dict, or call a method "
            f"with another name")


def _dict_view_grad(g, d, method):
    """The gradient of the dict ``d`` from that of ``dict_items(d)`` (a list of pairs: each pair's
    second entry, by key) or of ``dict_values(d)`` (``method`` says which)."""
    _a_dict(d, method)
    if is_zero_grad(g):
        return 0.0
    if method == "items":
        return GradDict((k, item_grad(item_grad(g, i), 1)) for i, k in enumerate(d))
    return GradDict((k, item_grad(g, i)) for i, k in enumerate(d))


def _dict_view_tangent(t, d, method):
    """The tangent of ``dict_items(d)`` or ``dict_values(d)`` for a tangent ``t`` of ``d`` (a
    dict, entries by key): the transpose of :func:`_dict_view_grad`."""
    _a_dict(d, method)
    if method == "items":
        return GradList(GradList([0.0, item_grad(t, k)]) for k in d)
    return GradList(item_grad(t, k) for k in d)


def dict_items_grad(g, d):
    """The gradient of ``d`` from that of ``dict_items(d)``; its adjoint is
    :func:`dict_items_tangent`."""
    return _dict_view_grad(g, d, "items")


def dict_items_tangent(t, d):
    """The tangent of ``dict_items(d)`` for a tangent ``t`` of ``d``."""
    return _dict_view_tangent(t, d, "items")


def dict_values_grad(g, d):
    """The gradient of ``d`` from that of ``dict_values(d)``; its adjoint is
    :func:`dict_values_tangent`."""
    return _dict_view_grad(g, d, "values")


def dict_values_tangent(t, d):
    """The tangent of ``dict_values(d)`` for a tangent ``t`` of ``d``."""
    return _dict_view_tangent(t, d, "values")


def get_attribute(obj, name):
    """``obj.name`` for a local that is not an array: a namedtuple's field, an object's attribute."""
    return getattr(obj, name)


def attribute_slot(b, obj, name):
    """The entry of a namedtuple's gradient ``b`` for the field ``name``."""
    return item_grad(b, obj._fields.index(name))


def attribute_grad(g, obj, name):
    """The gradient of ``obj`` from ``obj.name``'s: a namedtuple's field slot; an object's
    attributes carry none that sourcediff can give back, which is said, not dropped."""
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        out = GradList(0.0 for _ in obj)
        out[obj._fields.index(name)] = g
        return out
    raise SourcediffError(
        f"the derivative flows through {type(obj).__name__}.{name}, an attribute of an object "
        f"that carries derivatives; sourcediff gives gradients for arrays, floats and lists, tuples, "
        f"namedtuples and dicts of them: pass the arrays as arguments (or in a dict) instead")


_aux = threading.local()


def aux_first(out):
    """``out[0]`` of a function's ``(loss, aux)`` (``has_aux=True``); aux is kept for the call
    that asked for it (see :func:`aux_kept`)."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise SourcediffError(f"has_aux=True: the function must return (loss, aux), a pair; it "
                              f"returned {type(out).__name__}")
    kept = getattr(_aux, "kept", None)
    if kept is not None and not kept:
        kept.append(out[1])
    return out[0]


def aux_grad(g, out):
    """The gradient of the pair ``out`` from its loss's gradient ``g`` (aux carries none)."""
    return GradList([g, 0.0])


class aux_kept:
    """``with aux_kept() as kept:`` a list that receives aux from the first aux_first inside."""

    def __enter__(self):
        self.prev = getattr(_aux, "kept", None)
        _aux.kept = []
        return _aux.kept

    def __exit__(self, *exc):
        _aux.kept = self.prev
        return False


def _dynamic_target(fn, what):
    """The Python function or bound method behind ``fn`` (an object's Python ``__call__``)."""
    import inspect

    if inspect.isfunction(fn) or (inspect.ismethod(fn) and inspect.isfunction(fn.__func__)):
        return fn
    call = getattr(type(fn), "__call__", None)
    if inspect.isfunction(call):
        return fn.__call__
    raise NoRuleError(
        f"{what}: the call reaches {fn!r} ({type(fn).__name__}), which has neither a derivative "
        f"rule nor Python source sourcediff can transform; register a rule with "
        f"sourcediff.defvjp, or call a Python function")


def _active_params(target, active, args, kwargs):
    import inspect

    sig = inspect.signature(target)
    bound = sig.bind(*args, **kwargs).arguments
    names = list(bound)
    out = []
    for a in active:
        name = a if isinstance(a, str) else None
        if name is None:
            k = 0
            for p in names:
                kind = sig.parameters[p].kind
                count = len(bound[p]) if kind == kind.VAR_POSITIONAL else 1
                if kind in (kind.VAR_KEYWORD, kind.KEYWORD_ONLY):
                    continue
                if a < k + count:
                    name = p
                    break
                k += count
        if name is None or sig.parameters[name].kind in (
                inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise SourcediffError(
                f"{getattr(target, '__qualname__', target)} collects a value that carries a "
                f"derivative in *args/**kwargs; give it one parameter per value")
        out.append(name)
    return tuple(out)


class _RuleCall:
    """A primitive met at run time (``np.tanh`` passed to a helper as ``fn``): its rule, the
    positions of the active arguments, and what the rule reads."""

    def __init__(self, rule, active, args, kwargs, value):
        self.rule, self.args, self.kwargs, self.value = rule, args, kwargs, value
        self.positions = tuple(_rule_position(rule, a, len(args)) for a in active)

    def grads(self, out_bar):
        from .rules.quote import sliced_rule

        vjp = sliced_rule(self.rule.vjp, tuple(sorted(set(self.positions))))
        parts = vjp(out_bar, self.value, *self.args, **self.kwargs)
        out = []
        for i in self.positions:
            part = 0.0 if parts[i] is None else parts[i]
            out.append(unbroadcast(part, self._arg(i)) if self.rule.broadcast else part)
        return tuple(out)

    def tangent(self, tangents):
        from .rules.quote import sliced_rule

        total = 0.0
        for i, t in zip(self.positions, tangents):
            if is_zero_grad(t):
                continue
            if self.rule.kind == "linear":
                args, kwargs = self._replaced(i, t)
                part = self.rule.key(*args, **kwargs)
            else:
                fn = self.rule.vjp if self.rule.kind == "elementwise" else self.rule.jvp
                if fn is None:
                    raise NoRuleError(f"forward mode needs a jvp rule for {self.rule.name}, "
                                      f"which has only a vjp rule; register one with "
                                      f"sourcediff.defjvp, or use reverse mode")
                part = sliced_rule(fn, (i,))(t, self.value, *self.args, **self.kwargs)[i]
                if self.rule.broadcast:
                    part = broadcast_tangent(part, self.value)
            total = add_grads(total, part)
        return total

    def _arg(self, i):
        return self.args[i] if i < len(self.args) else self.kwargs[self._names()[i]]

    def _names(self):
        import inspect

        return list(inspect.signature(self.rule.vjp).parameters)[2:]

    def _replaced(self, i, t):
        if i < len(self.args):
            return self.args[:i] + (t,) + self.args[i + 1:], self.kwargs
        return self.args, dict(self.kwargs, **{self._names()[i]: t})


def _rule_position(rule, a, n_args):
    """The position in ``rule``'s vjp of argument ``a`` (a position, or a keyword's name)."""
    import inspect

    if not isinstance(a, str):
        return a
    names = list(inspect.signature(rule.vjp).parameters)[2:]
    if a not in names:
        raise SourcediffError(f"{rule.name} takes no argument {a!r} that carries a derivative")
    return names.index(a)


def _rule_of(fn):
    """The derivative rule of a primitive met at run time, or None."""
    from .rules import registry

    try:
        return registry.lookup(fn)
    except TypeError:  # an unhashable callable
        return None


def _unpartial(fn, active, args, kwargs):
    """``functools.partial(f, *a, **k)`` called with ``args``/``kwargs`` as a call of ``f``, the
    active positions shifted past the partial's own arguments (which carry no derivative)."""
    while isinstance(fn, functools.partial):
        active = tuple(a if isinstance(a, str) else a + len(fn.args) for a in active)
        args, kwargs = fn.args + tuple(args), {**fn.keywords, **kwargs}
        fn = fn.func
    return fn, active, args, kwargs


def dynamic_fwd(fn, active, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` once through its forward form, for a callable sourcediff meets
    only at run time (``self.act_fn(z)``, ``layer.forward(h)`` over a list of layers, a function
    passed as an argument, a ``functools.partial``); ``active`` are the positions (and keyword
    names) of the arguments that carry derivatives. Returns ``(value, state)``;
    :func:`dynamic_bwd` takes the state. The forms are compiled once per function (per class for
    a method) and cached; a primitive with a rule (``np.tanh``) runs with its rule."""
    from .compiled import split_form

    fn, active, args, kwargs = _unpartial(fn, active, args, kwargs)
    rule = _rule_of(fn)
    if rule is not None:
        value = fn(*args, **kwargs)
        return value, (_RuleCall(rule, active, args, kwargs, value), None)
    target = _dynamic_target(fn, getattr(fn, "__qualname__", type(fn).__name__))
    fwd = split_form(target, _active_params(target, active, args, kwargs))
    value, saved = fwd(*args, **kwargs)
    return value, (fwd.__sourcediff_bwd__, saved)


def own_arrays(out):
    """A gradient function's result with every array its own: two gradients that are one array
    (``x_bar = y_bar = g`` for ``x + y``) or share memory are copied apart, so that updating one
    in place (``gx *= 0.1``) cannot change the other. The common case, nothing shared, returns
    ``out`` itself."""
    leaves = []

    def collect(v):
        if isinstance(v, np.ndarray):
            leaves.append(v)
        elif isinstance(v, (list, tuple)):
            for item in v:
                collect(item)
        elif isinstance(v, dict):
            for item in v.values():
                collect(item)

    collect(out)
    if len(leaves) < 2:
        return out
    shared = set()
    for k, a in enumerate(leaves):
        for b in leaves[:k]:
            if a is b or np.may_share_memory(a, b):
                shared.add(id(a))
                break
    if not shared:
        return out

    def fresh(v):
        if isinstance(v, np.ndarray):
            if id(v) in shared:
                shared.discard(id(v))  # (the first of a shared pair stays; later ones copy)
                return v.copy()
            return v
        if isinstance(v, tuple):
            return type(v)(fresh(item) for item in v) if type(v) is tuple else \
                type(v)(*[fresh(item) for item in v])
        if isinstance(v, list):
            return type(v)(fresh(item) for item in v)
        if isinstance(v, dict):
            return type(v)((k, fresh(item)) for k, item in v.items())
        return v

    return fresh(out)


def run_for_effect(fn, active, *args, **kwargs):
    """``fn(*args, **kwargs)`` called for its effect alone with arguments that carry derivatives
    (at the positions and keywords ``active``), for a callable met at run time: user code runs
    through its forward form (:func:`dynamic_fwd`), whose checks see what it stores in objects;
    the value is returned and nothing flows back through it."""
    return dynamic_fwd(fn, active, *args, **kwargs)[0]


def dynamic_bwd(state, out_bar):
    """The gradients of the arguments :func:`dynamic_fwd` marked active, in its order."""
    bwd, saved = state
    if type(bwd) is _RuleCall:
        return bwd.grads(out_bar)
    return bwd(saved, **{bwd.__sourcediff_cotangent_name__: out_bar})


def dynamic_jvp(fn, active, *args, tangents=(), **kwargs):
    """``(value, tangent)`` of ``fn(*args, **kwargs)`` for a callable met at run time, with one
    tangent per entry of ``active`` (forward mode's :func:`dynamic_fwd`)."""
    from .compiled import jvp_form

    fn, active, args, kwargs = _unpartial(fn, active, args, kwargs)
    rule = _rule_of(fn)
    if rule is not None:
        value = fn(*args, **kwargs)
        return value, _RuleCall(rule, active, args, kwargs, value).tangent(tangents)
    target = _dynamic_target(fn, getattr(fn, "__qualname__", type(fn).__name__))
    params = _active_params(target, active, args, kwargs)
    jf = jvp_form(target, params)
    names = jf.__sourcediff_tangent_names__
    return jf(*args, **kwargs, **{names[p]: t for p, t in zip(params, tangents)})


def is_zero_grad(g):
    """True for a missing gradient: None, or the scalar 0.0 that stands for zeros."""
    return g is None or (isinstance(g, (int, float)) and not isinstance(g, bool) and g == 0)


def grad_items(g, n):
    """The ``n`` entries of a list/tuple gradient ``g``, None for missing ones (all when ``g`` is 0)."""
    if is_zero_grad(g):
        return [None] * n
    return [None if is_zero_grad(item) else item for item in g]


def einsum_replaced(b, subscripts, operands):
    """The sum over i of the einsum with operand i replaced by ``b[i]`` (missing entries skipped):
    the adjoint of ``einsum_grads(g, subscripts, operands)`` in ``g``."""
    terms, out = einsum_parse(subscripts, operands)
    sizes = {}
    for t, op in zip(terms, operands):
        sizes.update(zip(t, shape(op)))
    total = np.zeros(tuple(sizes[c] for c in out))
    for i, item in enumerate(grad_items(b, len(operands))):
        if item is not None:
            ops = list(operands)
            ops[i] = np.broadcast_to(item, shape(operands[i]))
            total = total + einsum_fast(terms, out, ops)
    return total


def einsum_replaced_pairs(b, t, subscripts, operands):
    """The sum over ordered pairs i != j of the einsum with operand i replaced by ``b[i]`` and
    operand j by ``t[j]``: ``einsum_replaced(b, ...)``'s tangent when the operands move along t."""
    terms, out = einsum_parse(subscripts, operands)
    spec = ",".join(terms) + "->" + out
    bs, ts = grad_items(b, len(operands)), grad_items(t, len(operands))
    total = 0.0
    for i, j in itertools.permutations(range(len(operands)), 2):
        if bs[i] is not None and ts[j] is not None:
            ops = list(operands)
            ops[i] = np.broadcast_to(bs[i], shape(operands[i]))
            ops[j] = np.broadcast_to(ts[j], shape(operands[j]))
            total = total + np.einsum(spec, *ops)
    return total


def einsum_cross(b, g, subscripts, operands):
    """For each operand k, the sum over i != k of the gradient of the einsum in operand k with
    operand i replaced by ``b[i]``: einsum_grads(g, subscripts, operands) differentiated in the
    operands along ``b``. The map is its own adjoint, so it is both the jvp and the vjp."""
    terms, out = einsum_parse(subscripts, operands)
    items = grad_items(b, len(operands))
    result = GradList()
    for k, op in enumerate(operands):
        total = np.zeros(shape(op))
        for i, item in enumerate(items):
            if i != k and item is not None:
                ops = list(operands)
                ops[i] = np.broadcast_to(item, shape(operands[i]))
                total = total + einsum_grad_one(g, terms, out, ops, k)
        result.append(total)
    return result


def einsum_cross2(b, t, g, subscripts, operands):
    """For each operand k, the sum over distinct i, j other than k of the gradient of the einsum
    (cotangent ``g``) in operand k with operand i replaced by ``b[i]`` and j by ``t[j]``: the
    derivative of ``einsum_cross(b, g, ...)`` in the operands (a tangent t, or a cotangent)."""
    terms, out = einsum_parse(subscripts, operands)
    bs, ts = grad_items(b, len(operands)), grad_items(t, len(operands))
    result = GradList()
    for k, op in enumerate(operands):
        total = np.zeros(shape(op))
        for i, j in itertools.permutations([n for n in range(len(operands)) if n != k], 2):
            if bs[i] is not None and ts[j] is not None:
                ops = list(operands)
                ops[i] = np.broadcast_to(bs[i], shape(operands[i]))
                ops[j] = np.broadcast_to(ts[j], shape(operands[j]))
                total = total + einsum_grad_one(g, terms, out, ops, k)
        result.append(total)
    return result


def einsum_cross_tangents(t, b, g, subscripts, operands):
    """``einsum_cross(b, g, ...)``'s tangent when b, g or the operands move along ``t`` (entries
    for b, g, subscripts, operands; a list t is b's or the operands' tangent, an array g's)."""
    if isinstance(t, (list, tuple)):
        return (einsum_cross(t, g, subscripts, operands), None, None,
                einsum_cross2(b, t, g, subscripts, operands))
    return (None, einsum_cross(b, t, subscripts, operands), None, None)


def norm_weights_partials(x, ans, ord=None, axis=None, keepdims=False):
    """The pointwise derivatives of ``norm_weights(x, ans, ord, axis, keepdims)`` in ``x`` and in
    ``ans`` (both shaped like ``x``); zero where the norm is 0 and for the piecewise constant
    weights (ord 1, inf, 0, and the matrix 1/inf norms)."""
    x = np.asarray(x)
    matrix = (axis is None and x.ndim == 2 and ord is not None) or (
        axis is not None and not isinstance(axis, numbers.Integral) and len(axis) == 2
    )
    zero = np.zeros(x.shape, dtype=np.result_type(x, 1.0))
    if matrix and ord not in (None, "fro"):
        if ord in ("nuc", 2, -2):
            raise NotImplementedError(
                f"sourcediff has no second derivative of np.linalg.norm with ord={ord!r} (its "
                f"first derivative is supported); the Frobenius norm (ord=None or 'fro') has one")
        return zero, zero
    n = keep(ans, x, axis, keepdims)
    safe = np.where(n == 0, 1.0, n)
    if ord is None or ord == 2 or ord == "fro":
        dx, dn = 1.0 / safe + zero, -x / (safe * safe)
    elif ord in (0, 1, np.inf, -np.inf):
        return zero, zero
    else:
        p = ord
        ax = np.abs(x)
        dx = (p - 1) * ax ** (p - 2) / safe ** (p - 1)
        dn = -(p - 1) * np.sign(x) * ax ** (p - 1) / safe ** p
    return np.where(n == 0, 0.0, dx), np.where(n == 0, 0.0, dn)


def prod_others_apply(t, a, axis=None):
    """``t`` times the derivative of ``prod_others(a, axis)``: for every element j, the sum over
    the other elements k of its group of ``t[k]`` times the product of the elements other than j
    and k (zero-safe). That matrix is symmetric, so this is both the jvp and the vjp."""
    a = np.asarray(a)
    if a.ndim == 0:
        return np.zeros(np.shape(t), dtype=np.result_type(a, 1.0))
    axes = normalize_axes(axis, a.ndim)
    perm = [i for i in range(a.ndim) if i not in axes] + list(axes)
    moved = np.transpose(a, perm)
    lead = moved.shape[: a.ndim - len(axes)]
    n = int(np.prod(moved.shape[len(lead):], dtype=np.int64))
    flat = np.reshape(moved, lead + (n,))
    pairs = np.array(np.broadcast_to(flat[..., None, :], lead + (n, n)), dtype=np.result_type(a, 1.0))
    idx = np.arange(n)
    pairs[..., idx, idx] = 1.0
    m = prod_others(pairs, -1)  # m[..., k, j]: the product over the group without j and k
    m[..., idx, idx] = 0.0
    tf = np.reshape(np.transpose(np.broadcast_to(t, a.shape), perm), lead + (n,))
    out = np.einsum("...kj,...k->...j", m, tf)
    return np.transpose(np.reshape(out, moved.shape), np.argsort(perm))


def rebroadcast_each(b, g, xs):
    """The adjoint of ``unbroadcast_each(g, xs)`` in ``g``: the entries of ``b`` brought to g's
    shape and summed."""
    total = zeros_like_grad(g)
    for item in grad_items(b, len(xs)):
        if item is not None:
            total = total + rebroadcast(item, g)
    return total


def like_input_grad(b, g, a):
    """The adjoint of ``like_input(g, a)`` in ``g``: ``b`` (nested lists when ``a`` is a list) as an
    array shaped like ``g``."""
    if isinstance(a, (list, tuple)):
        out = np.zeros(shape(g), dtype=np.result_type(getattr(g, "dtype", float), float))
        for i, item in enumerate(grad_items(b, len(a))):
            if item is not None:
                out[i] = like_input_grad(item, g[i], a[i])
        return out
    return b


def split_like(b, ans, axis=0):
    """The adjoint of ``split_grad(g, ans, axis)`` in ``g``: ``b`` cut into pieces shaped like ans."""
    if is_zero_grad(b):
        return GradList([0.0] * len(ans))
    sizes = [shape(p)[axis] for p in ans]
    return GradList(np.split(b, np.cumsum(sizes)[:-1], axis=axis))


def concat_like(b, g, arrays, axis=0, promoted=None):
    """The adjoint of ``concat_grads(g, arrays, axis, promoted)`` in ``g``: the entries of ``b``
    joined (zeros for missing ones)."""
    promoted = arrays if promoted is None else promoted
    pieces = [np.zeros(shape(p)) if item is None
              else np.reshape(np.broadcast_to(item, shape(x)), shape(p))
              for item, x, p in zip(grad_items(b, len(arrays)), arrays, promoted)]
    if axis is None:
        return np.reshape(np.concatenate([np.ravel(p) for p in pieces]), shape(g))
    return np.concatenate(pieces, axis=axis)


def stack_like(b, g, axis=0):
    """The adjoint of ``unstack_grads(g, arrays, axis)`` in ``g``: the entries of ``b`` stacked
    along ``axis`` (zeros for missing ones)."""
    gs = list(shape(g))
    n = gs.pop(axis)
    return np.stack([np.zeros(gs) if item is None else np.broadcast_to(item, gs)
                     for item in grad_items(b, n)], axis=axis)


def extremum_args_adjoint(b, ans, args):
    """The adjoint of ``extremum_args_grad(g, ans, args)`` in ``g``: the winners' entries of ``b``
    averaged."""
    if len(args) == 1:
        items = list(args[0])
        b = item_grad(b, 0)
    else:
        items = args
    winners = [float(item == ans) for item in items]
    count = builtins.sum(winners)
    total = 0.0
    for w, item in zip(winners, grad_items(b, len(items))):
        if item is not None and w:
            total = total + item * (w / count)
    return total


RESHAPING = (np.atleast_1d, np.atleast_2d, np.atleast_3d, as_column)


def map_list_grad(b, fn, xs):
    """The adjoint of ``map_list(fn, xs)`` in ``xs`` for the reshaping functions the rules map
    (np.atleast_1d/2d/3d, as_column): each entry of ``b`` reshaped back."""
    if fn not in RESHAPING:
        raise NotImplementedError(f"gradient of map_list over {fn!r} (only reshaping functions)")
    return GradList(0.0 if item is None else np.reshape(item, shape(x))
                    for item, x in zip(grad_items(b, len(xs)), xs))


def scale_each_adjoint(b, s, xs):
    """The adjoint of ``scale_each(s, xs)`` in ``s``: the sum of ``b[i] * xs[i]``, shaped like s."""
    total = zeros_like_grad(s)
    for item, x in zip(grad_items(b, len(xs)), xs):
        if item is not None:
            total = total + unbroadcast(item * x, s)
    return total


def scale_items(s, b, xs):
    """The adjoint of ``scale_each(s, xs)`` in ``xs``: ``s * b[i]`` shaped like ``xs[i]``."""
    return GradList(0.0 if item is None else unbroadcast(s * item, x)
                    for item, x in zip(grad_items(b, len(xs)), xs))


def _solve_forms(g, ans, a, b):
    """solve_grads' operands with a vector right-hand side as one-column matrices."""
    vector = solve_vector(a, b)
    gm = np.asarray(g)[..., None] if vector else np.asarray(g)
    xm = np.asarray(ans)[..., None] if vector else np.asarray(ans)
    gb = np.linalg.solve(np.swapaxes(a, -1, -2), gm)
    return vector, xm, gb


def solve_grads_adjoint(c, g, ans, a, b):
    """The adjoint of ``solve_grads(g, ans, a, b)`` for the cotangent pair ``c`` of its results
    (an entry 0.0 or None when missing): the tuple ``(g_bar, ans_bar, a_bar)``."""
    ca, cb = grad_items(c, 2)
    vector, xm, gb = _solve_forms(g, ans, a, b)
    rhs = np.zeros(gb.shape)
    if cb is not None:
        rhs = rhs + (np.asarray(cb)[..., None] if vector else cb)
    ans_bar = np.zeros(xm.shape)
    if ca is not None:
        rhs = rhs - ca @ xm
        ans_bar = -(np.swapaxes(ca, -1, -2) @ gb)
    z = np.linalg.solve(a, np.broadcast_to(rhs, gb.shape))
    a_bar = -(gb @ np.swapaxes(z, -1, -2))
    if vector:
        z, ans_bar = z[..., 0], ans_bar[..., 0]
    return unbroadcast(z, g), unbroadcast(ans_bar, ans), unbroadcast(a_bar, a)


def solve_grads_tangent(g_dot, ans_dot, a_dot, g, ans, a, b):
    """The tangent of ``solve_grads(g, ans, a, b)`` for tangents of g, ans and a (0.0 for none),
    as a GradList ``(ga_dot, gb_dot)``."""
    vector, xm, gb = _solve_forms(g, ans, a, b)
    rhs = np.zeros(gb.shape)
    if not is_zero_grad(g_dot):
        rhs = rhs + (np.asarray(g_dot)[..., None] if vector else g_dot)
    if not is_zero_grad(a_dot):
        rhs = rhs - np.swapaxes(a_dot, -1, -2) @ gb
    gb_dot = np.linalg.solve(np.swapaxes(a, -1, -2), np.broadcast_to(rhs, gb.shape))
    ga_dot = -(gb_dot @ np.swapaxes(xm, -1, -2))
    if not is_zero_grad(ans_dot):
        xm_dot = np.asarray(ans_dot)[..., None] if vector else ans_dot
        ga_dot = ga_dot - gb @ np.swapaxes(xm_dot, -1, -2)
    if vector:
        gb_dot = gb_dot[..., 0]
    return GradList((unbroadcast(ga_dot, a), unbroadcast(gb_dot, b)))


# The jvp rules below evaluate every entry of their returned tuple when called directly (the rule
# tests do), with the tangent of one argument; an entry for another argument returns None then.


def einsum_grads_tangent_g(t, g, subscripts, operands):
    """The tangent of ``einsum_grads`` due to a tangent ``t`` of ``g`` (None for a list/tuple t)."""
    return None if isinstance(t, (list, tuple)) else GradList(einsum_grads(t, subscripts, operands))


def einsum_grads_tangent_operands(t, g, subscripts, operands):
    """The tangent of ``einsum_grads`` due to a tangent ``t`` of ``operands`` (None unless ``t`` is
    a list/tuple)."""
    return einsum_cross(t, g, subscripts, operands) if isinstance(t, (list, tuple)) else None


def norm_weights_tangents(t, x, ans, ord=None, axis=None, keepdims=False):
    """The tangent of ``norm_weights(x, ans, ...)`` for a tangent ``t`` of x and for a tangent ``t``
    of ans, as a pair (an entry is None where ``t`` is not shaped like that argument)."""
    dx, dn = norm_weights_partials(x, ans, ord, axis, keepdims)
    return (t * dx if shape(t) == shape(x) else None,
            keep(t, x, axis, keepdims) * dn if shape(t) == shape(ans) else None)


def solve_grads_tangent_checked(g_dot, ans_dot, a_dot, g, ans, a, b):
    """``solve_grads_tangent``, or None when a given tangent is not shaped like its argument."""
    for dot, value in ((g_dot, g), (ans_dot, ans), (a_dot, a)):
        if not is_zero_grad(dot) and shape(dot) != shape(value):
            return None
    return solve_grads_tangent(g_dot, ans_dot, a_dot, g, ans, a, b)


def scale_each_tangent_s(t, xs):
    """The tangent of ``scale_each(s, xs)`` due to a tangent ``t`` of ``s`` (None for a tuple t)."""
    return None if isinstance(t, (list, tuple)) else GradList(scale_each(t, xs))


def scale_each_tangent_xs(s, t):
    """The tangent of ``scale_each(s, xs)`` due to a tangent ``t`` of ``xs`` (None unless a tuple)."""
    return GradList(scale_each(s, t)) if isinstance(t, (list, tuple)) else None


def as_grad_list(x):
    """``x`` as a GradList when it is a list or tuple (so ``+`` adds it entrywise), else ``x``."""
    return GradList(x) if isinstance(x, (list, tuple)) else x


def einsum_call_grads(g, subscripts, operands):
    """The rule tuple of ``np.einsum(subscripts, *operands)``: 0.0 for the subscripts (never
    wanted), then one gradient per operand (one helper call: no tuple concatenation to
    differentiate in generated code). The sublist form ``np.einsum(a, [0, 1], b, [1, 2], [0,
    2])`` gets a gradient for each array and 0.0 for each index list."""
    if not isinstance(subscripts, str):
        items = (subscripts,) + tuple(operands)
        arrays, text = einsum_sublists(items)
        grads = iter(einsum_grads(g, text, arrays))
        return tuple(next(grads) if k % 2 == 0 and k < 2 * len(arrays) else 0.0
                     for k in range(len(items)))
    return (0.0,) + tuple(einsum_grads(g, subscripts, operands))


def einsum_sublists(items):
    """(arrays, subscripts string) of einsum's sublist form ``a, [0, 1], b, [1, 2], [0, 2]``."""
    arrays, terms = list(items[0::2]), list(items[1::2])
    out = None
    if len(items) % 2 == 1:  # (the last item is the output's index list)
        arrays, out = arrays[:-1], items[-1]

    def letters(sub):
        return "".join("..." if k is Ellipsis else LETTERS[k] for k in sub)

    text = ",".join(letters(t) for t in terms[:len(arrays)])
    return arrays, text + ("->" + letters(out) if out is not None else "")


def drop_first(g):
    """A container gradient without its first entry (0.0 stays 0.0)."""
    if isinstance(g, (list, tuple)):
        return GradList(g[1:])
    return g


def prepend_zero(g):
    """A container gradient with a zero entry in front."""
    if isinstance(g, (list, tuple)):
        return GradList([0.0] + list(g))
    return g


def reshape_grad(g, a, order="C"):
    """``g`` reshaped like ``a`` (the gradient of a reshape); the symbolic zero stays 0.0."""
    if type(g) is float and g == 0.0:
        return 0.0
    if order == "C":  # (dask's reshape takes no order)
        return np.reshape(g, shape(a))
    return np.reshape(g, shape(a), order=order)


def dense_grad(g, ans):
    """``g``, or zeros shaped like the result ``ans`` when ``g`` is the symbolic zero 0.0: the
    gradient a rule that moves ``g``'s axes around (transpose, reshape, ...) needs. A result that
    reaches the output only on some paths, or through one element of a tuple, has the gradient
    0.0 on the others."""
    if type(g) is float and g == 0.0 and shape(ans) != ():
        return zeros_like_grad(ans)
    return g


# ---------------------------------------------------------------- helpers of the breadth rules
# (rules/numpy_more_rules.py, rules/scipy_rules.py): a module of their own, exposed here as _sd.xxx

from .runtime_breadth import *  # noqa: E402,F401,F403
from .cached_attributes import check_whole_read, holder_for_append, store_attribute  # noqa: E402,F401,E501
