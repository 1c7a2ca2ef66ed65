"""Subscripts: items saved before an overwrite and restored on the way back, scatters (the
gradient of ``a[index]``), and the gradients of index builders and ``take``."""

import numbers

import numpy as np

from ..errors import SourcediffSyntaxError
from ..pytree import held_items, is_model_object, is_tree
from .accumulate import GradDict, GradList, copy, grad_items, is_zero_grad
from .shapes import numpy_only, other_array, shape, unbroadcast

__all__ = [
    "scatter", "MISSING", "saved_item", "restore_item", "item_grad", "last_writes_only",
    "last_writes", "zero_at", "index_concat_grads", "index_concat_place", "index_concat_tangents",
    "normalize_axes", "is_basic_index", "scatter_basic", "unsort", "take_sorted", "take_grad",
    "along_axis_index", "take_along_grad", "windows_grad", "strided_grad", "strided_take",
    "add_at", "write_into",
    "assigned_items_grad", "assigned_items_adjoint", "item_index", "object_item_grad", "held_grad",
    "item_to_write", "with_item",
    "running_arg", "cycled", "uncycled", "sorts_an_array", "put_positions", "diagonal_positions", "along_axis_positions",
    "positions_shape", "piecewise_conditions",
    "scattered_item"
]


def scatter(g, a, index):
    """The gradient of ``a[index]``: zeros shaped like ``a`` with ``g`` added at ``index``."""
    if _zero_container(a, index):
        return 0.0
    if is_model_object(a):
        return object_item_grad(g, a, index)
    if isinstance(a, (list, tuple)):
        out = GradList([0.0] * len(a))
        out[index] = g
        return out
    if isinstance(a, dict):
        return GradDict({index: g})
    if other_array(g) or other_array(a):
        return _scatter_other(g, a, index)
    out = np.zeros(shape(a), dtype=np.result_type(g, getattr(a, "dtype", float)))
    np.add.at(out, _numpy_index(index), g)  # (a dask index of a numpy array: its values)
    return out


def _zero_container(a, index):
    """True when ``a`` is the symbolic zero 0.0 standing for a whole container's gradient and
    ``index`` picks an item of it (a second derivative through ``item_grad(0.0, k)``, the item of
    a list gradient nothing reached: a constant, so what comes back to it is dropped). A real
    0-d value is indexed only by ``()`` or ``...``."""
    return is_zero_grad(a) and not (isinstance(index, tuple) and not index) and index is not Ellipsis


def object_item_grad(g, obj, index):
    """The gradient of ``obj[index]`` for an object of the user's class (a Sequential-like
    container, ``self[i]``, ``for layer in self`` without ``__iter__``): the item its
    ``__getitem__`` gives is found among what ``obj`` holds (its attributes, their lists, tuples
    and dicts, by identity: ``self.layers[i]``), and ``g`` is given back there. An item it makes
    anew (a slice of the layers as a new container) is refused."""
    item = obj[index]
    out = held_grad(g, obj, item)
    if out is None:
        raise TypeError(  # (the entry names the user's line: compiled._relocated)
            f"the derivative flows through {type(obj).__name__}[{index!r}] (its __getitem__), "
            f"which gives a {type(item).__name__} that the object does not hold at one place "
            f"(one made on the call, or a number that is also held elsewhere), so sourcediff "
            f"cannot tell which of its parameters it carries. Index what the object holds "
            f"(self.layers[i]) instead")
    return out


def held_grad(g, obj, item):
    """The gradient of ``obj`` (a GradDict, GradLists for lists and tuples on the way) that
    gives ``g`` to ``item`` where ``obj`` holds it (by identity), or None where it does not. A
    number held at two places is None too: Python may share one float object between equal
    constants (``self.p = 0.5`` beside ``self.coefs = [0.5, ...]``), so identity cannot tell
    which one was read (an array, a layer or a list at two places is one value, tied)."""
    path = _held_at(obj, item, set())
    if path is None:
        return None
    if isinstance(item, numbers.Number):
        owner, key = path[-1][1], path[-1][0]
        if _held_elsewhere(obj, item, owner, key, set()):
            return None
    for key, container in reversed(path):
        if isinstance(container, (list, tuple)):
            out = GradList([0.0] * len(container))
            out[key] = g
            g = out
        else:
            g = GradDict({key: g})
    return g


def _held_elsewhere(x, target, owner, key, seen):
    """Whether ``x`` holds ``target`` (by identity) at another place than ``owner[key]``."""
    if id(x) in seen:
        return False
    seen.add(id(x))
    items = held_items(x)
    if items is None:
        return False
    return any((v is target and not (x is owner and k == key)) or
               _held_elsewhere(v, target, owner, key, seen) for k, v in items)


def _held_at(x, target, seen):
    """The path [(key, container), ...] from ``x`` to ``target`` (by identity) through model
    objects' attributes and lists, tuples and dicts, or None."""
    if id(x) in seen:
        return None
    seen.add(id(x))
    items = held_items(x)
    if items is None:
        return None
    for key, v in items:
        if v is target:
            return [(key, x)]
    for key, v in items:
        found = _held_at(v, target, seen)
        if found is not None:
            return [(key, x)] + found
    return None


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


def item_index(x, index):
    """The index of the element ``x.item(*index)`` reads, as a tuple of integers: ``x.item(5)``
    counts in C order, ``x.item(1, 2)`` and ``x.item((1, 2))`` name it, ``x.item()`` is the one
    element of ``x``."""
    dims = shape(x)
    if len(index) == 1 and isinstance(index[0], tuple):
        index = index[0]
    if len(index) == 1:
        return tuple(int(i) for i in np.unravel_index(index[0], dims))
    return tuple(int(i) for i in index) if index else (0,) * len(dims)


def item_grad(g, k):
    """The gradient of item ``k`` of a container whose gradient is ``g`` (0.0 means all zero)."""
    if isinstance(g, (int, float)) and g == 0:
        return 0.0
    if isinstance(g, dict):
        item = g.get(k, 0.0)
    elif isinstance(g, list) and isinstance(k, int) and not -len(g) <= k < len(g):
        item = 0.0  # a stack's gradient, aligned at its end, may be shorter than the stack
    else:
        # (a Python float is the gradient of a 0-d array: s[...] = v, s[()] = v)
        item = (np.asarray(g) if isinstance(g, (int, float, complex)) else g)[k]
        mask = last_writes(g, k)
        if mask is not None:
            item = np.where(mask, item, 0.0)
    return 0.0 if item is None else item


def scattered_item(b, index):
    """What ``scatter(g, a, index)`` passes back to ``g`` from the cotangent ``b`` of its result:
    ``b[index]``; for a container's gradient (a dict, list or tuple) its item there, 0.0 for a
    key or position nothing reached (a second derivative through ``d['b']`` where only
    ``d['a']`` was used), and 0.0 for the symbolic zero."""
    if isinstance(b, (dict, list, tuple)) or is_zero_grad(b):
        return item_grad(b, index)
    return b[index]


def last_writes_only(b, g, k):
    """``b`` (shaped like ``g[k]``) kept only at the last write of each element (see
    :func:`last_writes`): the adjoint of item_grad's masking."""
    mask = last_writes(g, k)
    return b if mask is None or is_zero_grad(b) else np.where(mask, b, 0.0)


def _advanced(k):
    items = k if isinstance(k, tuple) else (k,)
    return any(_integer_array(i) for i in items)


def _integer_array(i):
    """True for an index item that is an array of integers: a list, a numpy array, or another
    library's array (a dask index into a numpy array, which numpy reads as its values)."""
    if isinstance(i, (list, np.ndarray)):
        return np.asarray(i).dtype.kind in "iu"
    return other_array(i) and np.ndim(i) > 0 and np.dtype(i.dtype).kind in "iu"


def _numpy_index(k):
    """``k`` with another library's integer arrays read as numpy arrays (as numpy's own indexing
    of a numpy array with them does)."""
    if isinstance(k, tuple):
        return tuple(np.asarray(i) if other_array(i) and _integer_array(i) else i for i in k)
    return np.asarray(k) if other_array(k) and _integer_array(k) else k


def last_writes(g, k):
    """For ``y[k] = v`` with an integer-array index that names an element more than once
    (``y[[0, 0, 1]] = v``): a mask over ``y[k]`` that is True at the last write of each element,
    the one that stays (numpy writes in order); None when every element is written once."""
    if not isinstance(g, np.ndarray) or g.ndim == 0 or not _advanced(k):
        return None
    ids = np.arange(g.size).reshape(g.shape)[_numpy_index(k)]
    flat = np.ravel(ids)
    _, first_from_end = np.unique(flat[::-1], return_index=True)  # (one sort, not two)
    if first_from_end.size == flat.size:
        return None
    mask = np.zeros(flat.size, dtype=bool)
    mask[flat.size - 1 - first_from_end] = True
    return mask.reshape(np.shape(ids))


def zero_at(g, x, index):
    """A new gradient shaped like ``x``: ``g`` with zeros at ``index`` (``g`` itself is untouched)."""
    if isinstance(x, (list, tuple)):
        if isinstance(index, slice):  # (ls[1:3] = [u]: the items after it move)
            raise NotImplementedError(
                "sourcediff's reverse mode does not differentiate an assignment to a slice of a "
                "list (ls[i:j] = [...]), which may change the list's length; build the new list "
                "instead (ls = ls[:i] + [...] + ls[j:]), or use forward mode")
        out = [0.0] * len(x) if not isinstance(g, (list, tuple)) else list(g)
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
        if item is None or item is Ellipsis or type(item) is int or isinstance(item, slice):
            continue  # (a Python int first: no abc check of numbers.Integral)
        if isinstance(item, numbers.Integral) and not isinstance(item, (bool, np.bool_)):
            continue
        return False
    return True


def scatter_basic(g, a, index):
    """The gradient of ``a[index]``: ``out[index] = g`` for basic indices, ``np.add.at`` otherwise."""
    if type(a) is list or type(a) is tuple:  # (what scatter gives a list or tuple, directly)
        out = GradList([0.0] * len(a))
        out[index] = g
        return out
    if _zero_container(a, index):
        return 0.0
    if is_tree(a) or is_model_object(a) or not is_basic_index(index):
        return scatter(g, a, index)
    if other_array(g) or other_array(a):
        return _scatter_other(g, a, index)
    out = np.zeros(shape(a), dtype=np.result_type(g, getattr(a, "dtype", float)))
    out[index] = g
    return out


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


def take_grad(g, a, indices, axis=None, mode="raise"):
    """The gradient of ``np.take(a, indices, axis, mode=mode)``: ``g`` added back at ``indices``
    (taken around the axis for ``mode="wrap"``, to its ends for ``"clip"``, as numpy takes them)."""
    if mode != "raise":
        n = np.size(a) if axis is None else shape(a)[axis]
        indices = np.mod(indices, n) if mode == "wrap" else np.clip(indices, 0, n - 1)
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


def along_axis_index(a, indices, axis):
    """The index that takes ``np.take_along_axis(a, indices, axis)`` from ``a``: ``indices`` on
    ``axis``, a broadcast ``arange`` on every other axis (numpy's own construction)."""
    s = shape(a)
    if axis is None:
        return (indices,)
    axis = axis % len(s)
    out = []
    for d, n in enumerate(s):
        if d == axis:
            out.append(indices)
        else:
            out.append(np.arange(n).reshape((1,) * d + (n,) + (1,) * (len(s) - d - 1)))
    return tuple(out)


def take_along_grad(g, a, indices, axis):
    """The gradient of ``np.take_along_axis(a, indices, axis)``: ``g`` added back where each
    element was taken (an index taken twice gets both; a flat ``a`` for ``axis=None``)."""
    if axis is None:
        out = np.zeros(np.size(a), dtype=np.result_type(g, float))
        index = along_axis_index(out, indices, None)
    else:
        out = np.zeros(shape(a), dtype=np.result_type(g, float))
        index = along_axis_index(out, indices, axis)
    if other_array(g):  # (no np.add.at on dask)
        return np.reshape(_scatter_other(g, out, index), shape(a))
    np.add.at(out, index, g)
    return np.reshape(out, shape(a))


def windows_grad(g, x, window_shape, axis=None):
    """The gradient of ``sliding_window_view(x, window_shape, axis)``: each window's ``g`` added
    back where its elements came from (an element in several windows gets the sum)."""
    numpy_only("sliding_window_view", g, x)
    positions = np.lib.stride_tricks.sliding_window_view(
        np.arange(np.size(x)).reshape(shape(x)), window_shape, axis)
    out = np.zeros(np.size(x), dtype=np.result_type(g, float))
    np.add.at(out, np.ravel(positions), np.ravel(np.broadcast_to(g, positions.shape)))
    return np.reshape(out, shape(x))


def _strided_positions(x, view_shape, strides):
    """The flat position in ``x`` of each element of ``as_strided(x, view_shape, strides)``: the
    element at index (i, j, ...) is at byte ``i * strides[0] + j * strides[1] + ...`` of x's
    memory, which is x's element of that flat position when x is C-contiguous. Refused where the
    view is not made of x's elements (another layout of x, a stride that is not a whole number of
    elements, an element outside x): the derivative would not be x's."""
    x = np.asarray(x)
    view_shape = x.shape if view_shape is None else tuple(view_shape)
    strides = x.strides if strides is None else tuple(strides)
    size = x.dtype.itemsize
    if not x.flags.c_contiguous or any(st % size for st in strides):
        raise NotImplementedError(
            "sourcediff differentiates np.lib.stride_tricks.as_strided(x, shape, strides) for a "
            "C-contiguous x and strides that are whole numbers of its elements (its derivative "
            "adds each element's gradient back where the view read it); make x contiguous first "
            "(np.ascontiguousarray(x)) or write the view with sliding_window_view")
    flat = np.zeros(view_shape, dtype=np.intp)
    for axis, (n, st) in enumerate(zip(view_shape, strides)):
        steps = np.arange(n, dtype=np.intp) * (st // size)
        flat = flat + steps.reshape((n,) + (1,) * (len(view_shape) - axis - 1))
    if flat.size and (flat.min() < 0 or flat.max() >= x.size):
        raise NotImplementedError(
            "this np.lib.stride_tricks.as_strided view reads memory outside its array (numpy "
            "gives whatever lies there): it has no derivative; check its shape and strides")
    return flat


def strided_grad(g, x, view_shape=None, strides=None):
    """The gradient of ``as_strided(x, view_shape, strides)``: each element's ``g`` added back at
    the element of x it read (an element read by several windows gets the sum)."""
    numpy_only("as_strided", g, x)
    flat = _strided_positions(x, view_shape, strides)
    g = np.broadcast_to(g, flat.shape)
    if np.iscomplexobj(g):
        out = np.zeros(np.size(x), dtype=np.result_type(g, float))
        np.add.at(out, flat.ravel(), g.ravel())
    else:
        out = np.bincount(flat.ravel(), weights=np.ravel(g).astype(float), minlength=np.size(x))
    return np.reshape(out.astype(np.result_type(g, float), copy=False), shape(x))


def strided_take(t, x, view_shape=None, strides=None):
    """``as_strided`` of a tangent (or a cotangent) shaped like ``x``: the elements of ``t`` at the
    positions the view reads in ``x`` (``t`` need not share x's layout or dtype)."""
    numpy_only("as_strided", t, x)
    flat = _strided_positions(x, view_shape, strides)
    return np.ravel(np.broadcast_to(t, shape(x)))[flat]


def add_at(a, indices, values):
    """``np.add.at(a, indices, values)`` on a copy of ``a``, returned: numpy's unbuffered sum (an
    index named twice gets both values), its dtype and its errors. The compiler writes the
    statement ``np.add.at(a, i, v)`` as ``a = add_at(a, i, v)``, with the alias checks of
    ``a += e`` (no other name still read may share a's memory)."""
    numpy_only("np.add.at", a, values)
    out = np.array(a, copy=True)
    np.add.at(out, indices, values)
    return out


def write_into(a, value, casting="same_kind", what="out="):
    """A new array like ``a`` holding ``value`` (broadcast to a's shape, cast to its dtype under
    numpy's ``casting`` rule): numpy's writes of a whole array in place, which the compiler
    writes ``a = write_into(a, value)`` with the alias checks of ``a += e`` (no other name still
    read may share a's memory): ``np.exp(x, out=a)``, ``np.copyto(a, v)``, ``a.fill(v)``."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{what} writes into a {type(a).__name__}, where numpy takes an array")
    out = np.empty_like(a)
    np.copyto(out, value, casting=casting)
    return out


def running_arg(ans, a, axis=0):
    """Where each entry of ``np.maximum.accumulate(a, axis)`` (or minimum), ``ans``, was taken
    from along ``axis``: the last position up to it that holds the running extremum (as
    torch.cummax's indices), so ``ans == np.take_along_axis(a, running_arg(ans, a), axis)``."""
    a = np.asarray(a)
    axis = axis + a.ndim if axis < 0 else axis
    positions = np.arange(a.shape[axis]).reshape((-1,) + (1,) * (a.ndim - axis - 1))
    at = np.where(a == ans, positions, 0)
    return np.maximum.accumulate(at, axis=axis)


def sorts_an_array(a, what):
    """Refuse ``a.sort()`` on anything but a numpy array (the compiler writes an array's as
    ``a = np.sort(a)``; a list's takes ``key=`` and ``reverse=``)."""
    if not isinstance(a, np.ndarray):
        name = what.split('.')[0]
        fix = f"write {name} = sorted({name}) (with its key= and reverse=)" if isinstance(
            a, list) else f"write {name} = np.sort({name}) for an array"
        raise SourcediffSyntaxError(
            f"{what} sorts a {type(a).__name__} in place, which sourcediff follows for numpy "
            f"arrays and for lists it sees built in the function (L = [...]) only; {fix}")


def cycled(v, shape):
    """``v``'s entries in order, repeated as often as needed to fill ``shape`` (numpy's
    ``np.resize``): the values ``np.put``, ``np.place``, ``np.putmask`` and ``np.fill_diagonal``
    write, which the compiler writes as ``a[positions] = cycled(v, ...)``."""
    flat = np.ravel(v)
    size = int(np.prod(shape))
    if flat.size == 0:
        if size:
            raise ValueError("cannot write the values of an empty array into a nonempty selection")
        return np.zeros(shape, dtype=flat.dtype)
    return np.resize(flat, shape)


def uncycled(g, v):
    """The adjoint of :func:`cycled` in ``v``: each entry of ``v`` gets the sum of ``g`` where
    it was repeated to."""
    flat = np.ravel(g)
    size = int(np.size(v))
    if size == 0:
        return np.zeros(np.shape(v), dtype=flat.dtype)
    total = np.zeros(size, dtype=flat.dtype)
    np.add.at(total, np.arange(flat.size) % size, flat)
    return total.reshape(np.shape(v))


def put_positions(a, ind, mode="raise"):
    """The positions of ``a`` that ``np.put(a, ind, v, mode)`` writes, as an index tuple (numpy's
    IndexError for an index out of range with ``mode='raise'``)."""
    size = np.size(a)
    flat = np.ravel(np.asarray(ind)).astype(np.intp)
    if mode == "wrap":
        flat = flat % size if size else flat
    elif mode == "clip":
        flat = np.clip(flat, 0, size - 1)
    elif mode == "raise":
        bad = (flat < -size) | (flat >= size)
        if np.any(bad):
            raise IndexError(f"index {int(flat[bad][0])} is out of bounds for axis 0 with size "
                             f"{size}")
        flat = np.where(flat < 0, flat + size, flat)
    else:
        raise ValueError(f"clipmode must be one of 'clip', 'raise', or 'wrap' (got {mode!r})")
    return np.unravel_index(flat, np.shape(a))


def along_axis_positions(a, indices, axis):
    """The positions of ``a`` that ``np.put_along_axis(a, indices, v, axis)`` writes, as an
    index tuple of arrays of one shape (``axis=None``: of the flattened ``a``)."""
    indices = np.asarray(indices)
    if axis is None:
        flat = np.ravel(indices).astype(np.intp)
        flat = np.where(flat < 0, flat + np.size(a), flat)
        return np.unravel_index(flat, np.shape(a))
    shape = np.shape(a)
    axis = axis + len(shape) if axis < 0 else axis
    if indices.ndim != len(shape):
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    parts = [indices if d == axis else np.arange(n).reshape(
        (1,) * d + (-1,) + (1,) * (len(shape) - d - 1)) for d, n in enumerate(shape)]
    return tuple(np.broadcast_arrays(*parts))


def diagonal_positions(a, wrap=False):
    """The positions ``np.fill_diagonal(a, v, wrap)`` writes, as an index tuple."""
    shape_a = np.shape(a)
    if len(shape_a) < 2:
        raise ValueError("array must be at least 2-d")
    if len(shape_a) == 2:
        step = shape_a[1] + 1
        end = None if wrap else shape_a[1] * shape_a[1]
    else:
        if len(set(shape_a)) != 1:
            raise ValueError("All dimensions of input must be of equal length")
        step = 1 + int(np.cumprod(shape_a[:-1]).sum())
        end = None
    return np.unravel_index(np.arange(np.size(a))[:end:step], shape_a)


def positions_shape(positions):
    """The shape of the values an index tuple of positions (from :func:`put_positions`,
    ``np.nonzero``) selects: ``(n,)``."""
    return np.shape(positions[0])


def piecewise_conditions(x, condlist, count):
    """The masks ``np.piecewise(x, condlist, funclist)`` applies, one per item of funclist
    (``count`` of them), as numpy makes them: one condition given alone taken as a list of one,
    the "otherwise" mask (no condition holds) added when funclist has one item more; numpy's
    ValueError when the counts do not fit."""
    first = None if np.isscalar(condlist) else condlist[0]
    arrays = isinstance(first, (list, np.ndarray)) or (  # (a tape Tensor of booleans too)
        hasattr(first, "__array_function__") and np.ndim(first) > 0)
    if np.isscalar(condlist) or (not arrays and np.ndim(x)):
        condlist = [condlist]
    conds = np.asarray(condlist, dtype=bool)
    n = len(conds)
    if n == count - 1:
        conds = np.concatenate([conds, ~np.any(conds, axis=0, keepdims=True)], axis=0)
    elif n != count:
        raise ValueError(f"with {n} condition(s), either {n} or {n + 1} functions are expected")
    return [conds[k] for k in range(count)]


def assigned_items_grad(g, value):
    """``a[idx] = [u, v]`` (a list or tuple written out): the gradients of its items from the
    gradient ``g`` of ``a[idx]``, which is summed first to the shape numpy gives the list (it may
    have been broadcast into ``a[idx]``), one entry per item."""
    if is_zero_grad(g):
        return 0.0
    g = unbroadcast(np.asarray(g), np.zeros(np.shape(value)))
    return GradList(g[k] for k in range(len(value)))


def assigned_items_adjoint(b, g, value):
    """The adjoint of :func:`assigned_items_grad` in ``g``: the items' entries of ``b`` stacked
    and broadcast back to ``g``'s shape."""
    if is_zero_grad(b):
        return 0.0
    if type(g) is float:  # (toward the symbolic zero: the items' cotangents added up)
        return unbroadcast(b, g)
    parts = [np.zeros(np.shape(item)) if part is None else part
             for part, item in zip(grad_items(b, len(value)), value)]
    return np.array(np.broadcast_to(np.asarray(parts, dtype=float), shape(g)))


def item_to_write(item, holder, where, rebuilt=False):
    """A copy of ``item = holder[i]`` for ``holder[i][j] = v``, which the compiler writes
    ``new = item_to_write(holder[i], holder, where); new[j] = v; holder[i] = new`` with the alias
    checks of ``holder[i] += e`` (numpy writes into the object ``holder[i]`` holds, which no other
    name still read may share). Refused where ``holder`` is an array and ``holder[i]`` a copy of
    its values (a fancy or boolean index): numpy's write then changes nothing in ``holder``;
    and where ``holder`` is a tuple the compiler does not write back as a new tuple
    (``rebuilt``: see :func:`with_item`)."""
    if isinstance(holder, np.ndarray) and not (isinstance(item, np.ndarray) and
                                               np.shares_memory(item, holder)):
        raise SourcediffSyntaxError(
            f"{where}: this writes into a[i][j] where a[i] is a copy of a's values (an index by "
            f"an array or a mask), so numpy changes nothing in a.\nWrite a[i, j] = v, or name "
            f"the copy first (c = a[i]; c[j] = v) if that is what you mean")
    if type(holder) is tuple and not rebuilt:
        raise SourcediffSyntaxError(
            f"{where}: this writes into t[i][j] where t is a tuple sourcediff cannot follow (a "
            f"parameter, or a name bound to a tuple more than once): the array t[i] would be "
            f"changed in place under every name that holds it.\nName the tuple once in this "
            f"function (t = (a, b)), or write the new array and build a new tuple "
            f"(a = a.copy(); a[j] = v; t = (a, t[1]))")
    return copy(item)


def with_item(holder, key, value):
    """The tuple ``holder`` with item ``key`` replaced by ``value``: how the compiler writes
    ``t[i][j] = v`` back into a tuple (``new = item_to_write(t[i], t, where); new[j] = v;
    t = with_item(t, i, new)``), which Python cannot store into."""
    items = list(holder)
    items[key] = value
    return tuple(items)
