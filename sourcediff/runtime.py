"""Small numpy helpers that rules and generated code call (imported there as ``_sd``)."""

import builtins
import numbers

import numpy as np

from .errors import NonScalarOutputError, InactiveArgumentError


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
        gs, xs = shape(g), shape(x)
        if gs == xs:
            return g
    if not xs:
        return np.sum(g)
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
    if shape(t) == shape(ans):
        return t
    return np.broadcast_to(t, shape(ans))


def unreduce(g, x, axis=None, keepdims=False):
    """Broadcast the gradient of a reduction over ``axis`` back to the shape of ``x``."""
    xs = shape(x)
    if axis is not None and not keepdims:
        axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
        g = np.expand_dims(g, tuple(a % len(xs) for a in axes))
    if axis is None and isinstance(g, (float, np.generic)) and len(xs) and \
            xs[0] * (x.size // xs[0] if xs[0] else 1) <= 4096:
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
    """The final gradient for argument ``x``: its shape, its float dtype, a float for a float."""
    if isinstance(x, float):
        return float(np.sum(g)) if shape(g) else float(g)
    if isinstance(x, np.ndarray):
        if isinstance(g, np.ndarray) and g.shape == x.shape and g.dtype == x.dtype:
            return g
        out = np.zeros_like(x) if isinstance(g, (int, float)) and g == 0 else g
        return np.array(np.broadcast_to(unbroadcast(out, x), x.shape), dtype=x.dtype)
    if isinstance(x, np.generic):
        return x.dtype.type(np.sum(g))
    if isinstance(x, (list, tuple)) and isinstance(g, (int, float)) and g == 0:
        return type(x)(zeros_like_grad(item) for item in x)
    return g


def zeros_like_grad(x):
    """A zero gradient for ``x``."""
    if isinstance(x, float):
        return 0.0
    if isinstance(x, (list, tuple)):
        return type(x)(zeros_like_grad(item) for item in x)
    return np.zeros_like(x)


def check_scalar(value, where):
    """Refuse a non-scalar output for ``grad`` with a message that says what to do."""
    if shape(value) != ():
        raise NonScalarOutputError(
            f"grad needs a function that returns a scalar, but {where} returns an array of shape "
            f"{shape(value)}; reduce it (np.sum(...), np.mean(...)) or use sourcediff.jacobian / "
            f"sourcediff.vjp for a non-scalar output"
        )
    return value


def check_wrt(value, name, fn_where):
    """Refuse arguments that cannot carry derivatives (ints, bools, complex, objects)."""
    if isinstance(value, float):
        return
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
        what = type(value).__name__
    raise InactiveArgumentError(
        f"argument '{name}' of {fn_where} is {what} value ({type(value).__name__}"
        f"{', dtype ' + str(value.dtype) if hasattr(value, 'dtype') else ''}) and cannot carry a "
        f"gradient; pass a float or a float array (e.g. np.asarray(x, dtype=float)), or leave it out "
        f"of wrt"
    )


def matmul_grad_left(g, x, y):
    """Gradient of ``x @ y`` with respect to ``x`` (any of numpy's matmul shape cases)."""
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
    if type(x) is np.ndarray and type(y) is np.ndarray and x.ndim == 2 and y.ndim == 2:
        return x.T @ g
    xs, ys = shape(x), shape(y)
    if len(xs) == 1:
        gy = np.multiply.outer(x, g) if len(ys) > 1 else g * x
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
        return {index: g}
    out = np.zeros(shape(a), dtype=np.result_type(g, getattr(a, "dtype", float)))
    np.add.at(out, index, g)
    return out


def copy(value):
    """A copy of a saved value (arrays are copied, numbers returned as they are)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return list(value)
    return value


def owned_grad(g, x):
    """A fresh gradient array shaped like ``x`` holding ``g``, safe to modify in place."""
    if isinstance(x, list):
        if isinstance(g, list):
            return list(g)
        return [0.0] * len(x)
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
    return 0.0 if item is None else item


def zero_at(g, x, index):
    """A new gradient shaped like ``x``: ``g`` with zeros at ``index`` (``g`` itself is untouched)."""
    if isinstance(x, list):
        out = [0.0] * len(x) if not isinstance(g, list) else list(g)
        out[index] = 0.0
        return out
    if isinstance(g, (int, float)) and g == 0:
        return 0.0
    out = np.array(np.broadcast_to(g, shape(x)), dtype=np.result_type(g, float))
    out[index] = 0.0
    return out


# ---------------------------------------------------------------- helpers of the numpy rule table

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


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
    if isinstance(a, (list, tuple, dict)) or not is_basic_index(index):
        return scatter(g, a, index)
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
    """The list ``[unbroadcast(g, x) for x in xs]`` (the gradient of a sum over a list)."""
    return GradList(unbroadcast(g, x) for x in xs)


def map_list(fn, xs):
    """The list ``[fn(x) for x in xs]``."""
    return [fn(x) for x in xs]


def as_column(x):
    """``x`` as np.column_stack sees it: a 1-D array becomes one column."""
    return np.reshape(x, (-1, 1)) if np.ndim(x) < 2 else x


def extremum_weights(a, ans, axis=None, keepdims=False):
    """Where ``a`` attains its max/min ``ans`` over ``axis``: 1/(number of ties), else 0."""
    mask = (np.asarray(a) == keep(ans, a, axis, keepdims)).astype(np.result_type(a, 1.0))
    return mask / np.sum(mask, axis=axis, keepdims=True)


def prod_others(a, axis=None):
    """For every element of ``a``, the product of the other elements reduced with it (zero-safe)."""
    a = np.asarray(a)
    if a.ndim == 0:
        return np.ones_like(a)
    axes = normalize_axes(axis, a.ndim)
    rest = [i for i in range(a.ndim) if i not in axes]
    moved = np.transpose(a, rest + list(axes))
    flat = np.reshape(moved, moved.shape[: len(rest)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = np.reshape(left * right, moved.shape)
    return np.transpose(others, np.argsort(rest + list(axes)))


def cumsum_grad(g, a, axis=None):
    """The gradient of ``np.cumsum(a, axis)``: a reversed cumulative sum of ``g``."""
    if axis is None:
        return np.reshape(np.cumsum(np.ravel(g)[::-1])[::-1], shape(a))
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


def norm_weights(x, ans, ord=None, axis=None, keepdims=False):
    """d np.linalg.norm(x, ord, axis) / dx shaped like ``x``; 0 where the norm is 0 (PyTorch)."""
    x = np.asarray(x)
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
    sizes = {}
    for t, op in zip(terms, operands):
        sizes.update(zip(t, shape(op)))
    ins = [out] + [t for j, t in enumerate(terms) if j != i]
    ops = [g] + [op for j, op in enumerate(operands) if j != i]
    available = set("".join(ins))
    free = iter(c for c in LETTERS if c not in set("".join(terms)) | set(out))
    result = ""
    for c in terms[i]:
        if c in result:
            d = next(free)
            ins.append(c + d)
            ops.append(np.eye(sizes[c]))
            result += d
            continue
        if c not in available:
            ins.append(c)
            ops.append(np.ones(sizes[c]))
            available.add(c)
        result += c
    grad = np.einsum(",".join(ins) + "->" + result, *ops)
    return unbroadcast(grad, operands[i])


def einsum_grads(g, subscripts, operands):
    """The gradients of ``np.einsum(subscripts, *operands)`` for every operand, as a tuple."""
    terms, out = einsum_parse(subscripts, operands)
    return tuple(einsum_grad_one(g, terms, out, operands, i) for i in range(len(operands)))


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
    na, nb = len(shape(a)), len(shape(b))
    if na == 0 or nb == 0:
        return tensordot_subscripts(a, b, 0)
    return tensordot_subscripts(a, b, ([na - 1], [nb - 2 if nb > 1 else 0]))


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
    promoted = arrays if promoted is None else promoted
    if axis is None:
        sizes = [int(np.size(p)) for p in promoted]
        g, axis = np.ravel(g), 0
    else:
        sizes = [shape(p)[axis] for p in promoted]
    pieces = np.split(g, np.cumsum(sizes)[:-1], axis=axis)
    return [np.reshape(piece, shape(x)) for piece, x in zip(pieces, arrays)]


def hstack_axis(tup):
    """The axis np.hstack joins along: 0 for 1-D arrays, else 1."""
    return 0 if np.ndim(tup[0]) < 2 else 1


def unstack_grads(g, arrays, axis=0):
    """Gradients of ``np.stack(arrays, axis)``: the slices of ``g`` along ``axis``."""
    return [np.take(g, i, axis=axis) for i in range(len(arrays))]


def split_grad(g, ans, axis=0):
    """The gradient of ``np.split``: the piece gradients joined, zeros for pieces with none."""
    pieces = [np.zeros_like(p) if gi is None else gi for gi, p in zip(g, ans)]
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
    np.add.at(out, indices, gm)
    return np.moveaxis(out, 0, axis)


def diff_grad(g, n=1, axis=-1):
    """The gradient of ``np.diff(a, n, axis)``: minus the n-th difference of ``g`` padded with zeros."""
    for _ in range(n):
        widths = [(0, 0)] * np.ndim(g)
        widths[axis] = (1, 1)
        g = -np.diff(np.pad(g, widths), axis=axis)
    return g


def solve_grads(g, ans, a, b):
    """Gradients of ``x = np.linalg.solve(a, b)`` with respect to ``a`` and ``b``."""
    at = np.swapaxes(a, -1, -2)
    if len(shape(b)) == 1:
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
    if len(shape(b)) == 1:
        tx = np.matmul(t, np.asarray(ans)[..., None])
        return -np.linalg.solve(a, tx)[..., 0]
    return -np.linalg.solve(a, t @ ans)


def rebroadcast(b, g):
    """The adjoint of ``unbroadcast(g, x)``/``broadcast_tangent(g, y)``: ``b`` brought to g's shape."""
    return unbroadcast(np.broadcast_to(b, np.broadcast_shapes(shape(b), shape(g))), g)


class GradList(list):
    """The gradient of a list or tuple: one entry per item (0.0 for none); ``+`` adds entrywise."""

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
        out = dict(a)
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


def win_mask(x, y):
    """Where ``x`` wins a max against ``y``: 1, at ties 0.5 (PyTorch's convention), else 0.

    Without ties the mask is the boolean comparison itself (a multiply by it is cheapest).
    """
    wins = x > y
    if isinstance(wins, (bool, np.bool_)):
        return 1.0 if wins else (0.5 if x == y else 0.0)
    ties = x == y
    if np.asarray(ties).any():
        dtype = np.result_type(getattr(x, "dtype", float), getattr(y, "dtype", float))
        return wins.astype(dtype) + ties.astype(dtype) * 0.5
    return wins
