"""Functions that move entries without changing them: reshape, stack, split, concatenate,
tile, repeat, pad, diagonal, trace, sort order, diff, roll and friends (their gradients move
them back)."""

import math
import numbers

import numpy as np

from ..errors import SourcediffError
from .accumulate import GradList, grad_items, is_zero_grad, iterates_keys
from .shapes import numpy_only, other_array, shape, unbroadcast

__all__ = [
    "space_fractions", "as_column", "trace_grad", "diagonal_grad", "diag_grad", "inverse_axes",
    "tile_grad", "repeat_grad", "pad_grad", "pad_tangent", "concat_grads", "hstack_axis", "unstack_grads",
    "split_grad", "like_input", "diff_grad", "diff_part", "diff_tangent", "ediff1d_part",
    "ediff1d_tangent", "like_input_grad", "split_like", "concat_like",
    "stack_like", "RESHAPING", "reshape_grad", "ravel_tangent", "layout_axes", "reshape_order",
    "rollaxis_inverse", "insert_ids", "route_grad",
    "route_tangent", "cross_axis", "cross_vec3", "cross_cotangent", "cross_cotangent_adjoint",
    "sorted_grad", "sorted_tangent", "delete_ids",
    "meshgrid_grads", "meshgrid_tangents"
]


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


def as_column(x):
    """``x`` as np.column_stack sees it: a 1-D array becomes one column."""
    return np.reshape(x, (-1, 1)) if np.ndim(x) < 2 else x


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


def pad_grad(g, array, pad_width, mode="constant", kwargs=None):
    """The gradient of ``np.pad(array, pad_width, mode)``: in constant mode the unpadded middle of
    ``g``; in the modes whose padding copies entries of the array ('edge', 'wrap', 'reflect' and
    'symmetric' with the even reflect_type) each entry of ``g`` added to the entry it copies (the
    array of entry numbers padded alike says which). The modes whose padding computes values
    (linear_ramp, mean, median, maximum, minimum, an odd reflect_type) are refused."""
    s = shape(array)
    if mode == "constant":
        widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (len(s), 2))
        return g[tuple(slice(int(lo), int(lo) + n) for (lo, _), n in zip(widths, s))]
    kwargs = kwargs or {}
    if mode not in ("edge", "wrap", "reflect", "symmetric") or \
            kwargs.get("reflect_type", "even") != "even":
        raise NotImplementedError(f"gradient of np.pad with mode={mode!r}"
                                  f"{' and ' + repr(kwargs) if kwargs else ''} (its padding computes "
                                  f"values; sourcediff differentiates 'constant', 'edge', 'wrap', "
                                  f"'reflect' and 'symmetric')")
    numpy_only(f"np.pad with mode={mode!r} (its gradient adds with np.bincount)", g)
    size = int(np.prod(s, dtype=int))
    source = np.pad(np.arange(size).reshape(s), pad_width, mode=mode).ravel()
    g = np.broadcast_to(g, source.shape if not np.ndim(g) else np.shape(g)).ravel()
    if np.iscomplexobj(g):
        total = np.bincount(source, g.real, size) + 1j * np.bincount(source, g.imag, size)
    else:
        total = np.bincount(source, g, size)
    return total.reshape(s)


def pad_tangent(t, pad_width, mode="constant", kwargs=None):
    """The tangent of ``np.pad(array, pad_width, mode, **kwargs)``: the modes whose padding is
    linear in the array pad the tangent alike (constant values and end values are constants:
    their padding's tangent is 0); the padding of 'maximum', 'minimum' and 'median' is not."""
    kwargs = kwargs or {}
    if mode in ("constant", "linear_ramp", "edge", "wrap"):
        return np.pad(t, pad_width, mode=mode)
    if mode in ("reflect", "symmetric"):
        return np.pad(t, pad_width, mode=mode, reflect_type=kwargs.get("reflect_type", "even"))
    if mode == "mean":
        return np.pad(t, pad_width, mode=mode, stat_length=kwargs.get("stat_length"))
    raise NotImplementedError(f"sourcediff has no derivative of np.pad with mode={mode!r}")


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
    return GradList([np.reshape(piece, shape(x)) for piece, x in zip(pieces, arrays)])  # (adds
    # entrywise: differentiated again, a tuple argument's gradient is accumulated as 0.0 + it)


def hstack_axis(tup):
    """The axis np.hstack joins along: 0 for 1-D arrays, else 1."""
    return 0 if np.ndim(tup[0]) < 2 else 1


def unstack_grads(g, arrays, axis=0):
    """Gradients of ``np.stack(arrays, axis)``: the slices of ``g`` along ``axis``."""
    if type(g) is float and g == 0.0:
        return GradList([0.0] * len(arrays))
    return GradList([np.take(g, i, axis=axis) for i in range(len(arrays))])  # (adds entrywise)


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


def diff_grad(g, n=1, axis=-1):
    """The gradient of ``np.diff(a, n, axis)``: minus the n-th difference of ``g`` padded with zeros."""
    for _ in range(n):
        widths = [(0, 0)] * np.ndim(g)
        widths[axis] = (1, 1)
        g = -np.diff(np.pad(g, widths), axis=axis)
    return g


def _diff_edge(v, a, axis):
    """np.diff's ``prepend``/``append`` value as numpy joins it to ``a``: a scalar is repeated
    across ``a``'s other axes, with length 1 along ``axis`` (None: nothing joined)."""
    if v is None:
        return None
    if np.ndim(v) == 0:
        edge = list(np.shape(a))
        edge[axis] = 1
        return np.broadcast_to(v, tuple(edge))
    return v


def _given(v):
    """None for an edge np.diff was not given (None, or numpy's own default np._NoValue, which
    the tape passes on when it moves a keyword Tensor to its position)."""
    return None if v is None or v is getattr(np, "_NoValue", None) else v


def _diff_lengths(a, axis, prepend, append):
    ends = [_diff_edge(v, a, axis) for v in (prepend, append)]
    return [0 if e is None else np.shape(e)[axis] for e in ends]


def diff_part(full, a, axis=-1, prepend=None, append=None, part=1):
    """The gradient of np.diff(a, n, axis, prepend=prepend, append=append) for ``a`` (part 1),
    ``prepend`` (0) or ``append`` (2), from ``full``, that of the array numpy differences (the
    three joined along ``axis``): its slice, summed back to a scalar edge value (review36)."""
    prepend, append = _given(prepend), _given(append)
    if prepend is None and append is None:
        return full if part == 1 else 0.0
    k0, k2 = _diff_lengths(a, axis, prepend, append)
    nd = np.ndim(full)
    length = np.shape(full)[axis]
    bounds = ((0, k0), (k0, length - k2), (length - k2, length))[part]
    index = [slice(None)] * nd
    index[axis] = slice(bounds[0], bounds[1])
    piece = full[tuple(index)]
    if part == 1:
        return piece
    v = prepend if part == 0 else append
    if v is None:
        return 0.0
    return np.sum(piece) if np.ndim(v) == 0 else piece


def diff_tangent(t, a, n=1, axis=-1, prepend=None, append=None, part=1):
    """The tangent of np.diff(a, n, axis, prepend=prepend, append=append) for a tangent ``t`` of
    ``a`` (part 1), ``prepend`` (0) or ``append`` (2): np.diff of the joined tangents, zero in the
    other two."""
    prepend, append = _given(prepend), _given(append)
    if prepend is None and append is None:
        return np.diff(t, n, axis)
    pieces = []
    for k, v in enumerate((prepend, a, append)):
        if v is None:
            continue
        edge = _diff_edge(v, a, axis) if k != 1 else a
        if k == part:
            pieces.append(_diff_edge(t, a, axis) if k != 1 else np.broadcast_to(t, np.shape(a)))
        else:
            pieces.append(np.zeros(np.shape(edge)))
    return np.diff(np.concatenate(pieces, axis=axis), n, axis)


def _ediff1d_sizes(to_end, to_begin):
    # (the sizes from the shapes: np.size of a dask array computes it)
    return [0 if v is None else math.prod(np.shape(v)) for v in (to_begin, to_end)]


def ediff1d_part(g, ary, to_end=None, to_begin=None, part=0):
    """The gradient of np.ediff1d(ary, to_end, to_begin) (to_begin, the differences of ary's
    entries, to_end, flattened and joined) for ``ary`` (part 0), ``to_end`` (1) or ``to_begin``
    (2) (review36)."""
    k0, k2 = _ediff1d_sizes(to_end, to_begin)
    n = np.shape(g)[0]
    if part == 0:
        return np.reshape(diff_grad(g[k0:n - k2]), np.shape(ary))
    v = to_end if part == 1 else to_begin
    if v is None:
        return 0.0
    piece = g[n - k2:] if part == 1 else g[:k0]
    return np.reshape(piece, np.shape(v))


def ediff1d_tangent(t, ary, to_end=None, to_begin=None, part=0):
    """The tangent of np.ediff1d(ary, to_end, to_begin) for a tangent ``t`` of ``ary`` (part 0),
    ``to_end`` (1) or ``to_begin`` (2): the joined tangents, zero in the other two."""
    k0, k2 = _ediff1d_sizes(to_end, to_begin)
    m = max(math.prod(np.shape(ary)) - 1, 0)
    pieces = [np.ravel(t) if part == 2 else np.zeros(k0),
              np.diff(np.ravel(t)) if part == 0 else np.zeros(m),
              np.ravel(t) if part == 1 else np.zeros(k2)]
    return np.concatenate(pieces)


def like_input_grad(b, g, a):
    """The adjoint of ``like_input(g, a)`` in ``g``: ``b`` (nested lists when ``a`` is a list) as an
    array shaped like ``g``."""
    if type(g) is float:  # (toward the symbolic zero: the items' cotangents added up)
        return unbroadcast(b, g)
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
    if type(g) is float:  # (toward the symbolic zero: the items' cotangents added up)
        return unbroadcast(b, g)
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
    if type(g) is float:  # (toward the symbolic zero: the items' cotangents added up)
        return unbroadcast(b, g)
    gs = list(shape(g))
    n = gs.pop(axis)
    return np.stack([np.zeros(gs) if item is None else np.broadcast_to(item, gs)
                     for item in grad_items(b, n)], axis=axis)


RESHAPING = (np.atleast_1d, np.atleast_2d, np.atleast_3d, as_column)


def reshape_grad(g, a, order="C"):
    """``g`` reshaped like ``a`` (the gradient of a reshape); the symbolic zero stays 0.0."""
    if type(g) is float and g == 0.0:
        return 0.0
    if order == "K":  # (a.ravel('K'): a's elements in the order of its memory layout)
        axes = layout_axes(a)
        return np.transpose(np.reshape(g, tuple(shape(a)[i] for i in axes)),
                            tuple(int(i) for i in np.argsort(axes)))
    if order == "A":  # (numpy's 'A': Fortran order for a Fortran-contiguous a, C otherwise)
        order = "F" if isinstance(a, np.ndarray) and np.isfortran(a) else "C"
    if order == "C":  # (dask's reshape takes no order)
        return np.reshape(g, shape(a))
    return np.reshape(g, shape(a), order=order)


def layout_axes(a):
    """The axes of ``a`` from the largest stride to the smallest: numpy's order='K' reads the
    elements of ``a`` as those of ``np.transpose(a, layout_axes(a))`` in C order."""
    if not isinstance(a, np.ndarray) or a.ndim < 2:
        return tuple(range(np.ndim(a)))
    return tuple(sorted(range(a.ndim), key=lambda i: -abs(a.strides[i])))


def reshape_order(a, order="C"):
    """The order ('C' or 'F') numpy's ``order`` means for ``a``: 'A' is Fortran order for a
    Fortran-contiguous ``a``; 'K' is C or Fortran order for an ``a`` laid out so (refused for
    another layout)."""
    if order == "A":
        return "F" if isinstance(a, np.ndarray) and np.isfortran(a) else "C"
    if order == "K":
        axes = layout_axes(a)
        if axes == tuple(range(np.ndim(a))):
            return "C"
        if axes == tuple(range(np.ndim(a)))[::-1]:
            return "F"
        raise NotImplementedError("sourcediff has no second derivative of a ravel with order='K' "
                                  "of an array laid out in neither C nor Fortran order")
    return order


def ravel_tangent(t, a, order="C"):
    """The tangent of ``np.ravel(a, order)`` for a tangent ``t`` of ``a``: ``t`` read in the order
    'A' or 'K' take from the memory layout of ``a`` (not of ``t``, which may differ)."""
    if type(t) is float and t == 0.0:
        return 0.0
    t = np.broadcast_to(t, shape(a))
    if order == "K":
        return np.ravel(np.transpose(t, layout_axes(a)))
    return np.ravel(t, order=reshape_order(a, order))


def rollaxis_inverse(ndim, axis, start=0):
    """The axes that undo np.rollaxis(a, axis, start) for an array of ``ndim`` axes."""
    axis = int(axis) % ndim
    start = int(start) + ndim if start < 0 else int(start)
    axes = list(range(ndim))
    if axis < start:
        start -= 1
    if axis != start:
        axes.remove(axis)
        axes.insert(start, axis)
    return tuple(int(i) for i in np.argsort(axes))


def insert_ids(arr, obj, values, axis=None, which=0):
    """Where each element of np.insert(arr, obj, values, axis) comes from: the flat index into arr
    (which=0) or values (which=1), -1 for elements of the other one."""
    sa, sv = shape(arr), np.shape(values)
    if which == 0:
        marks, fill = np.arange(int(np.prod(sa, dtype=np.int64))).reshape(sa), np.full(sv, -1)
    else:
        marks, fill = np.full(sa, -1), np.arange(int(np.prod(sv, dtype=np.int64))).reshape(sv)
    return np.insert(marks, obj, fill, axis=axis)


def delete_ids(arr, obj, axis=None):
    """Where each element of np.delete(arr, obj, axis) comes from: its flat index into arr."""
    return np.delete(np.arange(int(np.prod(shape(arr), dtype=np.int64))).reshape(shape(arr)), obj,
                     axis=axis)


def route_grad(g, ids, x):
    """The gradient of a result whose elements are copies of ``x``'s flat elements ``ids`` (-1 for
    none): each element of ``x`` gets the sum of its copies' gradients."""
    if is_zero_grad(g):
        return 0.0
    numpy_only("np.insert or np.delete (its gradient adds with np.bincount)", g)
    mask = ids >= 0
    weights = np.broadcast_to(g, ids.shape)[mask]
    out = np.bincount(ids[mask], weights=weights, minlength=int(np.prod(shape(x), dtype=np.int64)))
    return np.reshape(out, shape(x))


def route_tangent(t, ids, x):
    """The tangent of such a result for a tangent ``t`` of ``x`` (the adjoint of route_grad)."""
    if is_zero_grad(t):
        return 0.0
    flat = np.ravel(np.broadcast_to(t, shape(x)))
    return np.where(ids >= 0, flat[np.maximum(ids, 0)], 0.0)


def cross_axis(axis_x, axis=None):
    """The vector axis np.cross uses for one operand: ``axis`` when given, else the operand's own."""
    return axis_x if axis is None else axis


def cross_vec3(x):
    """``x`` (vectors along its last axis) as np.cross reads it: a 2-vector is the 3-vector with a
    zero z component."""
    n = np.shape(x)[-1]
    if n == 3:
        return x
    pad = np.zeros(np.shape(x)[:-1] + (3 - n,), dtype=np.result_type(x, float))
    return np.concatenate([x, pad], axis=-1)


def cross_cotangent(g, a, b, axisc):
    """The cotangent ``g`` of np.cross(a, b) (``a``, ``b`` with their vectors along the last axis)
    as one of 3-vectors along the last axis: for two 2-vectors numpy's result is the z component
    alone (no vector axis), otherwise its vectors lie along ``axisc``."""
    if np.shape(a)[-1] == 2 and np.shape(b)[-1] == 2:
        z = np.zeros_like(g)
        return np.stack([z, z, g], axis=-1)
    return np.moveaxis(g, axisc, -1)


def cross_cotangent_adjoint(h, a, b, axisc):
    """The adjoint of :func:`cross_cotangent` in ``g``: a cotangent of 3-vectors back to np.cross's
    result (the z component of two 2-vectors' product, or the vectors moved to ``axisc``)."""
    if np.shape(a)[-1] == 2 and np.shape(b)[-1] == 2:
        return h[..., 2]
    return np.moveaxis(h, -1, axisc)


def _sorted_order(iterable, key, reverse):
    """Where ``sorted(iterable, key=key, reverse=reverse)`` takes each of its items from: the
    positions in ``iterable``, sorted as Python sorts (stably, ties in their first order)."""
    items = list(iterable)
    if key is None:
        return sorted(range(len(items)), key=items.__getitem__, reverse=reverse)
    return sorted(range(len(items)), key=lambda i: key(items[i]), reverse=reverse)


def sorted_grad(g, iterable, key=None, reverse=False):
    """The gradient of ``sorted(iterable)`` (a list): the entries of ``g`` put back where their
    items came from; an array for an array, a list for a list or tuple, 0 for a dict's keys."""
    if iterates_keys(iterable):
        return 0.0
    order = _sorted_order(iterable, key, reverse)
    items = grad_items(g, len(order))
    if isinstance(iterable, np.ndarray):
        out = np.zeros(iterable.shape, dtype=np.result_type(iterable, float))
        for j, i in enumerate(order):
            if items[j] is not None:
                out[i] = items[j]
        return out
    out = [0.0] * len(order)
    for j, i in enumerate(order):
        if items[j] is not None:
            out[i] = items[j]
    return GradList(out)


def sorted_tangent(t, iterable, key=None, reverse=False):
    """The tangent of ``sorted(iterable)`` for a tangent ``t`` of ``iterable``: its entries in
    the sorted order (a list)."""
    if iterates_keys(iterable):  # (a dict's keys: each carries none, read one by one in a loop)
        return GradList([0.0] * len(iterable))
    order = _sorted_order(iterable, key, reverse)
    items = grad_items(t, len(order))
    return GradList(0.0 if items[i] is None else items[i] for i in order)


# ---------------------------------------------------------------- np.meshgrid


def _meshgrid_axis(i, n, indexing):
    """The axis of np.meshgrid's outputs along which input i varies."""
    if indexing == "xy" and n >= 2 and i < 2:
        return 1 - i
    return i


def meshgrid_grads(g, xi, copy=True, sparse=False, indexing="xy"):
    """The gradient of each input of ``np.meshgrid(*xi, ...)``: output i varies along one axis
    only, so input i's gradient is output i's gradient summed over the other axes (None for an
    output no gradient reached)."""
    n = len(xi)
    out = []
    # (g: a list with one gradient per output, or the tape's one array of them all stacked)
    for i, (x, gi) in enumerate(zip(xi, grad_items(g, n))):
        if gi is None:
            out.append(0.0)
            continue
        axis = _meshgrid_axis(i, n, indexing)
        others = tuple(a for a in range(np.ndim(gi)) if a != axis)
        out.append(np.reshape(np.sum(gi, axis=others), shape(x)))
    return tuple(out)


def meshgrid_tangents(t, xi, copy=True, sparse=False, indexing="xy"):
    """For each input position, np.meshgrid's tangent (one entry per output, 0.0 for the outputs
    that do not move) when that input moves along ``t`` (None where ``t`` has another shape)."""
    grid = [np.size(x) for x in xi]  # (the outputs' shapes, without computing any)
    if indexing == "xy" and len(xi) >= 2:
        grid[0], grid[1] = grid[1], grid[0]
    n = len(xi)
    out = []
    for i, x in enumerate(xi):
        if np.shape(t) != np.shape(x):
            out.append(None)
            continue
        moved = [np.zeros(1)] * n
        moved[i] = np.ravel(t)
        parts = [0.0] * n
        line = np.meshgrid(*moved, sparse=True, indexing=indexing)[i]
        parts[i] = line if sparse else np.broadcast_to(line, tuple(grid)).copy()
        out.append(GradList(parts))
    return tuple(out)
