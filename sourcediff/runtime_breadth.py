"""Helpers of the breadth rules (rules/numpy_more_rules.py and rules/scipy_rules.py).

sourcediff.runtime imports every name of this module at its end, so rule bodies call these helpers as
``_sd.xxx`` like the older ones. Their ``__module__`` is set to ``sourcediff.runtime`` (at the end of this
file): the compiler treats runtime helpers specially (a helper called on active values in generated
code needs a rule of its own, else second order raises NoRuleError; it is never differentiated through
its source like a user function).

Helpers named ``*_grads`` return a tuple with one contribution per parameter of the primitive; helpers
named ``*_tangent*`` compute the tangent of the result for the tangent of one argument. Inputs of linear
algebra helpers are assumed inside the domain of the formula (distinct eigen/singular values, full
rank); options a formula does not cover raise NotImplementedError instead of giving a wrong gradient.
"""

import functools

import numpy as np

from .runtime import (
    GradList,
    as_array,
    is_zero_grad,
    normalize_axes,
    numpy_only,
    shape,
    unbroadcast,
    unreduce,
)

__all__ = []


def _export(fn):
    __all__.append(fn.__name__)
    return fn


def _refuse(what):
    raise NotImplementedError(f"sourcediff has no derivative for {what}")


def _items(g, n):
    """The ``n`` entries of a tuple-result gradient (None for a missing one)."""
    if is_zero_grad(g):
        return [None] * n
    return [None if is_zero_grad(item) else item for item in g]


# ---------------------------------------------------------------- shapes and routing


@_export
def kron_operand_shape(x, other):
    """The shape np.kron gives ``x``: ones prepended up to the larger ndim of the two operands."""
    n = max(len(shape(x)), len(shape(other)))
    return (1,) * (n - len(shape(x))) + tuple(shape(x))


@_export
def kron_split_shape(a, b):
    """The shape of np.kron(a, b) with each axis split in (a's, b's): (a0, b0, a1, b1, ...)."""
    sa, sb = kron_operand_shape(a, b), kron_operand_shape(b, a)
    return tuple(n for pair in zip(sa, sb) for n in pair)


@_export
def kron_subscripts(a, b, which):
    """einsum subscripts taking the split gradient of kron to a's (which=0) or b's (which=1) axes."""
    n = max(len(shape(a)), len(shape(b)))
    la, lb = "abcdefghijklm"[:n], "nopqrstuvwxyz"[:n]
    split = "".join(x + y for x, y in zip(la, lb))
    return f"{split},{lb}->{la}" if which == 0 else f"{split},{la}->{lb}"


@_export
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


@_export
def insert_ids(arr, obj, values, axis=None, which=0):
    """Where each element of np.insert(arr, obj, values, axis) comes from: the flat index into arr
    (which=0) or values (which=1), -1 for elements of the other one."""
    sa, sv = shape(arr), np.shape(values)
    if which == 0:
        marks, fill = np.arange(int(np.prod(sa, dtype=np.int64))).reshape(sa), np.full(sv, -1)
    else:
        marks, fill = np.full(sa, -1), np.arange(int(np.prod(sv, dtype=np.int64))).reshape(sv)
    return np.insert(marks, obj, fill, axis=axis)


@_export
def route_grad(g, ids, x):
    """The gradient of a result whose elements are copies of ``x``'s flat elements ``ids`` (-1 for
    none): each element of ``x`` gets the sum of its copies' gradients."""
    if is_zero_grad(g):
        return 0.0
    numpy_only("np.insert (its gradient adds with np.bincount)", g)
    mask = ids >= 0
    weights = np.broadcast_to(g, ids.shape)[mask]
    out = np.bincount(ids[mask], weights=weights, minlength=int(np.prod(shape(x), dtype=np.int64)))
    return np.reshape(out, shape(x))


@_export
def route_tangent(t, ids, x):
    """The tangent of such a result for a tangent ``t`` of ``x`` (the adjoint of route_grad)."""
    if is_zero_grad(t):
        return 0.0
    flat = np.ravel(np.broadcast_to(t, shape(x)))
    return np.where(ids >= 0, flat[np.maximum(ids, 0)], 0.0)


@_export
def cross_axis(axis_x, axis=None):
    """The vector axis np.cross uses for one operand: ``axis`` when given, else the operand's own."""
    return axis_x if axis is None else axis


# ---------------------------------------------------------------- tangents of named tuple results


class NamedGradList(GradList):
    """The tangent of a named tuple result (np.linalg.eigh's): a GradList (``+`` adds entrywise)
    whose entries are also read by field name, as runtime.get_attribute does in forward mode."""

    def __init__(self, items, fields):
        super().__init__(items)
        self._fields = tuple(fields)

    def __getattr__(self, name):
        fields = self.__dict__.get("_fields", ())
        if name in fields:
            return self[fields.index(name)]
        raise AttributeError(name)


@_export
def named_like(items, ans):
    """``items`` (the tangents of a tuple result ``ans``) as a NamedGradList when ``ans`` is a
    named tuple, else a GradList."""
    fields = getattr(type(ans), "_fields", None)
    return NamedGradList(items, fields) if fields else GradList(items)


_named = named_like


# ---------------------------------------------------------------- np.gradient


def _gradient_spacing(f, varargs, axis):
    nd = np.ndim(f)
    axes = list(range(nd)) if axis is None else list(normalize_axes(axis, nd))
    if len(varargs) == 0:
        spacing, owner = [1.0] * len(axes), [None] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacing, owner = [varargs[0]] * len(axes), [0] * len(axes)
    elif len(varargs) == len(axes):
        spacing, owner = list(varargs), list(range(len(axes)))
    else:
        raise TypeError("invalid number of arguments")
    return axes, spacing, owner


@_export
def gradient_grads(g, ans, f, varargs=(), axis=None, edge_order=1):
    """The gradients of np.gradient(f, *varargs, axis=axis, edge_order=edge_order): f's, and one per
    scalar spacing (coordinate arrays are refused: they would need the gradient of the spacing)."""
    axes, spacing, owner = _gradient_spacing(f, varargs, axis)
    if any(np.ndim(h) != 0 for h in spacing):
        _refuse("np.gradient with coordinate arrays as spacing (scalar spacing only)")
    gs = [g] if len(axes) == 1 else _items(g, len(axes))
    outs = [ans] if len(axes) == 1 else list(ans)
    gf = np.zeros(np.shape(f), dtype=np.result_type(f, float))
    gh = [0.0] * len(varargs)
    for gi, out, ax, h, k in zip(gs, outs, axes, spacing, owner):
        if gi is None:
            continue
        n = np.shape(f)[ax]
        d = np.gradient(np.eye(n), h, axis=0, edge_order=edge_order)  # d[i, j] = d out_i / d f_j
        gf = gf + np.moveaxis(np.tensordot(d, gi, axes=([0], [ax])), 0, ax)
        if k is not None:  # uniform spacing: out = D f / h, so d out / dh = -out / h
            gh[k] = gh[k] - np.sum(gi * out) / h
    return (gf,) + tuple(gh)


@_export
def gradient_spacing_tangent(t, ans, f, varargs=(), axis=None, k=0):
    """The tangent of np.gradient's result for a tangent ``t`` of the spacing argument ``k``."""
    axes, spacing, owner = _gradient_spacing(f, varargs, axis)
    outs = [ans] if len(axes) == 1 else list(ans)
    parts = [-out * t / h if o == k else np.zeros_like(out)
             for out, h, o in zip(outs, spacing, owner)]
    return parts[0] if len(axes) == 1 else GradList(parts)


@_export
def gradient_tangents(t, ans, f, varargs=(), axis=None, edge_order=1):
    """The jvp tuple of np.gradient: np.gradient of ``t`` for f, the spacing tangents after it."""
    if shape(t) == np.shape(f):  # the tangent of f
        head = np.gradient(t, *varargs, axis=axis, edge_order=edge_order)
        head = GradList(head) if isinstance(head, (list, tuple)) else head
        return (head,) + (None,) * len(varargs)
    return (None,) + tuple(gradient_spacing_tangent(t, ans, f, varargs, axis, k)
                           for k in range(len(varargs)))


# ---------------------------------------------------------------- np.select


def _select_masks(condlist, ans):
    taken = np.zeros(shape(ans), dtype=bool)
    masks = []
    for cond in condlist:
        c = np.broadcast_to(cond, shape(ans))
        masks.append(c & ~taken)
        taken = taken | c
    return masks, ~taken


@_export
def select_default_mask(condlist, ans):
    """Where np.select takes the default: no condition holds."""
    return _select_masks(condlist, ans)[1]


@_export
def select_grads(g, condlist, choicelist, ans):
    """The gradients of the choices of np.select(condlist, choicelist): g where each one is taken."""
    if is_zero_grad(g):
        return GradList([0.0] * len(choicelist))
    masks = _select_masks(condlist, ans)[0]
    return GradList(unbroadcast(np.where(m, g, 0.0), c) for m, c in zip(masks, choicelist))


@_export
def select_tangent(t, condlist, ans):
    """The tangent of np.select's result for tangents ``t`` of the choices (0.0 for none)."""
    masks = _select_masks(condlist, ans)[0]
    out = np.zeros(shape(ans))
    for m, ti in zip(masks, t):
        if not is_zero_grad(ti):
            out = np.where(m, ti, out)
    return out


# ---------------------------------------------------------------- quantiles (linear interpolation)


def _quantile_setup(a, q, axis, method="linear", weights=None, scale=1.0):
    if method != "linear":
        _refuse(f"np.quantile/np.percentile with method={method!r} (only 'linear')")
    if weights is not None:
        _refuse("np.quantile/np.percentile with weights")
    numpy_only("np.quantile/np.percentile/np.median (it sorts)", a)
    a = np.asarray(a, dtype=float)
    nd = a.ndim
    axes = normalize_axes(axis, nd)
    rest = [i for i in range(nd) if i not in axes]
    perm = rest + list(axes)
    rest_shape = tuple(a.shape[i] for i in rest)
    flat = np.transpose(a, perm).reshape(rest_shape + (-1,))
    n = flat.shape[-1]
    order = np.argsort(flat, axis=-1, kind="stable")
    qa = np.asarray(q, dtype=float) * scale
    v = qa.ravel() * (n - 1)
    lo = np.clip(np.floor(v).astype(np.intp), 0, n - 1)
    hi = np.minimum(lo + 1, n - 1)
    frac = v - lo
    keep_shape = tuple(1 if i in axes else a.shape[i] for i in range(nd))
    return dict(perm=perm, rest_shape=rest_shape, flat=flat, n=n, order=order, qshape=qa.shape,
                lo=lo, hi=hi, frac=frac, keep_shape=keep_shape)


def _quantile_out_shape(s, keepdims):
    return s["qshape"] + (s["keep_shape"] if keepdims else s["rest_shape"])


@_export
def quantile_grad(g, a, q, axis=None, keepdims=False, method="linear", weights=None, scale=1.0):
    """The gradient of np.quantile(a, q * scale, axis, keepdims=keepdims) with respect to ``a``:
    each result's gradient goes to the two order statistics it interpolates."""
    if is_zero_grad(g):
        return 0.0
    s = _quantile_setup(a, q, axis, method, weights, scale)
    nq = len(s["lo"])
    big = np.reshape(np.broadcast_to(g, _quantile_out_shape(s, keepdims)), (nq,) + s["rest_shape"])
    sorted_grad = np.zeros(s["rest_shape"] + (s["n"],))
    for k in range(nq):
        sorted_grad[..., s["lo"][k]] += (1.0 - s["frac"][k]) * big[k]
        sorted_grad[..., s["hi"][k]] += s["frac"][k] * big[k]
    flat_grad = np.zeros_like(sorted_grad)
    np.put_along_axis(flat_grad, s["order"], sorted_grad, axis=-1)
    moved = flat_grad.reshape(tuple(np.shape(a)[i] for i in s["perm"]))
    return np.transpose(moved, np.argsort(s["perm"]))


@_export
def quantile_tangent(t, a, q, axis=None, keepdims=False, method="linear", weights=None, scale=1.0):
    """The tangent of np.quantile(a, q * scale, ...) for a tangent ``t`` of ``a``."""
    s = _quantile_setup(a, q, axis, method, weights, scale)
    tm = np.transpose(np.broadcast_to(t, np.shape(a)), s["perm"]).reshape(s["flat"].shape)
    ts = np.take_along_axis(tm, s["order"], axis=-1)
    parts = [(1.0 - f) * ts[..., lo] + f * ts[..., hi]
             for lo, hi, f in zip(s["lo"], s["hi"], s["frac"])]
    return np.reshape(np.stack(parts), _quantile_out_shape(s, keepdims))


def _quantile_slopes(s):
    sv = np.take_along_axis(s["flat"], s["order"], axis=-1)
    return np.stack([(sv[..., hi] - sv[..., lo]) * (s["n"] - 1) if hi != lo else 0.0 * sv[..., lo]
                     for lo, hi in zip(s["lo"], s["hi"])])


@_export
def quantile_q_grad(g, a, q, axis=None, keepdims=False, method="linear", weights=None, scale=1.0):
    """The gradient of np.quantile(a, q * scale, ...) with respect to ``q`` (the slope between the
    two order statistics; 0 at q = 1)."""
    if is_zero_grad(g):
        return 0.0
    s = _quantile_setup(a, q, axis, method, weights, scale)
    nq = len(s["lo"])
    big = np.reshape(np.broadcast_to(g, _quantile_out_shape(s, keepdims)), (nq,) + s["rest_shape"])
    gq = np.sum((big * _quantile_slopes(s)).reshape(nq, -1), axis=1) * scale
    return np.reshape(gq, np.shape(q))


@_export
def quantile_q_tangent(t, a, q, axis=None, keepdims=False, method="linear", weights=None,
                       scale=1.0):
    """The tangent of np.quantile(a, q * scale, ...) for a tangent ``t`` of ``q``."""
    s = _quantile_setup(a, q, axis, method, weights, scale)
    nq = len(s["lo"])
    tq = np.reshape(np.asarray(t, dtype=float) * scale, (nq,) + (1,) * len(s["rest_shape"]))
    return np.reshape(tq * _quantile_slopes(s), _quantile_out_shape(s, keepdims))


# ---------------------------------------------------------------- np.average


def _average_setup(a, axis, weights):
    a = as_array(a, dtype=float)
    if weights is None:
        return a, np.ones_like(a), None
    w = as_array(weights, dtype=float)
    if w.shape == a.shape:
        return a, w, w.shape
    axes = normalize_axes(axis, a.ndim) if axis is not None else ()
    if w.ndim != 1 or len(axes) != 1:
        _refuse("np.average with weights of another shape than `a` (except 1-D along one axis)")
    ax = axes[0]
    return a, np.reshape(w, tuple(-1 if i == ax else 1 for i in range(a.ndim))), w.shape


@_export
def average_grads(g, ans, a, axis=None, weights=None, returned=False, keepdims=False):
    """The gradients (a, None, weights, None) of np.average(a, axis, weights, returned, keepdims)."""
    gavg, gscl = _items(g, 2) if returned else (None if is_zero_grad(g) else g, None)
    a_arr, wr, wshape = _average_setup(a, axis, weights)
    total = np.sum(wr * np.ones_like(a_arr), axis=axis, keepdims=True)
    ga, gw = np.zeros_like(a_arr), np.zeros(np.broadcast_shapes(np.shape(wr), a_arr.shape),
                                            like=a_arr)
    if gavg is not None:
        up = unreduce(as_array(gavg, dtype=float), a_arr, axis, keepdims)
        mean = np.sum(a_arr * wr, axis=axis, keepdims=True) / total
        ga = up * wr / total
        gw = gw + up * (a_arr - mean) / total
    if gscl is not None and wshape is not None:
        gw = gw + unreduce(as_array(gscl, dtype=float), a_arr, axis, keepdims)
    return (ga, None, None if wshape is None else np.reshape(unbroadcast(gw, wr), wshape), None)


@_export
def average_tangent(t, ans, a, axis=None, weights=None, returned=False, keepdims=False, which=0):
    """The tangent of np.average's result for a tangent ``t`` of ``a`` (which=0) or weights (2)."""
    a_arr, wr, wshape = _average_setup(a, axis, weights)
    total = np.sum(wr * np.ones_like(a_arr), axis=axis, keepdims=keepdims)
    avg = ans[0] if returned else ans
    if which == 0:
        dav = np.sum(np.broadcast_to(t, a_arr.shape) * wr, axis=axis, keepdims=keepdims) / total
        dscl = np.zeros(np.shape(avg))
    else:
        tw = np.reshape(t, np.shape(wr))
        mean = np.sum(a_arr * wr, axis=axis, keepdims=True) / \
            np.sum(wr * np.ones_like(a_arr), axis=axis, keepdims=True)
        dav = np.sum(tw * (a_arr - mean), axis=axis, keepdims=keepdims) / total
        dscl = np.broadcast_to(np.sum(tw * np.ones_like(a_arr), axis=axis, keepdims=keepdims),
                               np.shape(avg))
    dav = np.reshape(dav, np.shape(avg))
    return GradList([dav, dscl]) if returned else dav


# ---------------------------------------------------------------- np.interp


def _interp_parts(x, xp, fp, period):
    if period is not None:
        _refuse("np.interp with period=")
    x, xp, fp = (np.asarray(v, dtype=float) for v in (x, xp, fp))
    n = len(xp)
    i = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, n - 2)
    h = xp[i + 1] - xp[i]
    t = (x - xp[i]) / h
    slope = (fp[i + 1] - fp[i]) / h
    below, above = x < xp[0], x > xp[-1]
    return x, i, t, slope, below, above, ~(below | above), n


@_export
def interp_grads(g, x, xp, fp, left=None, right=None, period=None):
    """The gradients (x, xp, fp, left, right, period) of np.interp(x, xp, fp, left, right)."""
    if is_zero_grad(g):
        return (0.0, 0.0, 0.0, 0.0, 0.0, None)
    x_arr, i, t, slope, below, above, inside, n = _interp_parts(x, xp, fp, period)
    g = np.broadcast_to(np.asarray(g, dtype=float), x_arr.shape)
    gin = np.where(inside, g, 0.0)
    gfp = np.bincount(np.ravel(i), np.ravel(gin * (1.0 - t)), n) + \
        np.bincount(np.ravel(i) + 1, np.ravel(gin * t), n)
    gxp = -np.bincount(np.ravel(i), np.ravel(gin * slope * (1.0 - t)), n) - \
        np.bincount(np.ravel(i) + 1, np.ravel(gin * slope * t), n)
    gleft, gright = np.sum(np.where(below, g, 0.0)), np.sum(np.where(above, g, 0.0))
    if left is None:
        gfp[0] += gleft
    if right is None:
        gfp[-1] += gright
    return (np.reshape(gin * slope, shape(x)), np.reshape(gxp, shape(xp)), np.reshape(gfp, shape(fp)),
            gleft, gright, None)


@_export
def interp_tangent(t, x, xp, fp, left=None, right=None, period=None, which=0):
    """The tangent of np.interp's result for a tangent ``t`` of x (which=0), xp (1), fp (2), left
    (3) or right (4)."""
    x_arr, i, u, slope, below, above, inside, n = _interp_parts(x, xp, fp, period)
    if which == 0:
        out = np.where(inside, slope * t, 0.0)
    elif which in (1, 2):
        tt = np.asarray(t, dtype=float)
        if which == 1:
            out = np.where(inside, -slope * ((1.0 - u) * tt[i] + u * tt[i + 1]), 0.0)
        else:
            out = np.where(inside, (1.0 - u) * tt[i] + u * tt[i + 1], 0.0)
            out = out + (np.where(below, tt[0], 0.0) if left is None else 0.0)
            out = out + (np.where(above, tt[-1], 0.0) if right is None else 0.0)
    else:
        out = np.where(below if which == 3 else above, t, 0.0)
    return np.reshape(out, x_arr.shape)


# ---------------------------------------------------------------- convolution


@_export
def conv_pad_width(a, v, mode="full", correlate=False):
    """The zeros around np.convolve's (or np.correlate's) ``mode`` result that make its full one."""
    n, m = len(np.atleast_1d(a)), len(np.atleast_1d(v))
    full = n + m - 1
    if mode == "full":
        return (0, 0)
    if mode == "valid":
        off, length = min(n, m) - 1, max(n, m) - min(n, m) + 1
    elif mode == "same":
        off = min(n, m) // 2 if correlate and n < m else (min(n, m) - 1) // 2
        length = max(n, m)
    else:
        raise ValueError(f"mode must be 'full', 'same' or 'valid', not {mode!r}")
    return (off, full - off - length)


# ---------------------------------------------------------------- np.polyval, np.trapezoid


@_export
def poly_exponents(p):
    """The exponents [deg, ..., 1, 0] of the coefficients ``p`` (highest first)."""
    return np.arange(len(p) - 1, -1, -1, dtype=float)


@_export
def trapezoid_grads(g, y, x=None, dx=1.0, axis=-1):
    """The gradients (y, x, dx, axis) of np.trapezoid(y, x, dx, axis)."""
    if is_zero_grad(g):
        return (0.0, 0.0, 0.0, None)
    y = np.asarray(y, dtype=float)
    nd, ax = y.ndim, axis % y.ndim
    if x is None:
        d = np.asarray(dx, dtype=float)
    else:
        xa = np.asarray(x, dtype=float)
        d = np.diff(xa).reshape([-1 if i == ax else 1 for i in range(nd)]) if xa.ndim == 1 \
            else np.diff(xa, axis=axis)
    gk = np.expand_dims(np.asarray(g, dtype=float), ax)
    n = y.shape[ax]
    lo = [slice(None)] * nd
    hi = [slice(None)] * nd
    lo[ax], hi[ax] = slice(0, n - 1), slice(1, n)
    mid = (y[tuple(lo)] + y[tuple(hi)]) / 2.0
    dfull = np.broadcast_to(d, np.broadcast_shapes(np.shape(d), mid.shape))
    widths = [(0, 0)] * nd
    widths[ax] = (1, 1)
    dpad = np.pad(dfull, widths)
    gy = gk * (np.take(dpad, range(0, n), axis=ax) + np.take(dpad, range(1, n + 1), axis=ax)) / 2.0
    gd = gk * mid
    if x is None:
        return (np.broadcast_to(gy, y.shape), None, unbroadcast(gd, dx), None)
    gx = -np.diff(np.pad(gd, widths), axis=ax)
    if np.ndim(x) == 1:
        gx = np.sum(gx, axis=tuple(i for i in range(nd) if i != ax))
    else:
        gx = unbroadcast(gx, np.asarray(x))
    return (np.broadcast_to(gy, y.shape), gx, None, None)


# ---------------------------------------------------------------- linear algebra


def _T(x):
    return np.swapaxes(x, -1, -2)


def _offdiag_inverse(d):
    """F[..., i, j] = 1 / (d_j - d_i) off the diagonal, 0 on it."""
    diff = d[..., None, :] - d[..., :, None]
    eye = np.eye(d.shape[-1], dtype=bool)
    return np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, diff))


def _diag(d):
    return d[..., :, None] * np.eye(d.shape[-1])


def _phi(x, lower=True):
    """The lower (upper) triangle of ``x`` with its diagonal halved."""
    tri = np.tril(x) if lower else np.triu(x)
    return tri - 0.5 * _diag(np.diagonal(x, axis1=-2, axis2=-1))


def _one_triangle(s, lower=True):
    """The gradient with respect to the entries of one triangle of a matrix that a function reads
    as symmetric, from the gradient ``s`` with respect to symmetric perturbations."""
    return _phi(s + _T(s), lower)


def _seen_symmetric(t, lower=True):
    """The symmetric matrix a function sees when it reads one triangle of ``t``."""
    tri = np.tril(t) if lower else np.triu(t)
    return tri + _T(tri) - _diag(np.diagonal(t, axis1=-2, axis2=-1))


def _zero_or(x, like):
    return np.zeros(np.shape(like)) if x is None else np.asarray(x, dtype=float)


@_export
def phi_mask(x, lower=True):
    """1 below (above, for lower=False or "U") the diagonal of the last two axes of ``x``, 0.5 on
    it, 0 elsewhere: multiplying by it takes one triangle with the diagonal halved."""
    n = np.shape(x)[-1]
    low = lower is True or (isinstance(lower, str) and lower.upper() == "L")
    ones = np.tril(np.ones((n, n)), -1) if low else np.triu(np.ones((n, n)), 1)
    return ones + 0.5 * np.eye(n)


@_export
def eye_like(w):
    """The identity matrix as wide as the last axis of ``w``."""
    return np.eye(np.shape(w)[-1])


@_export
def dense_items(g, ans):
    """The gradient of a tuple result as a tuple of arrays (zeros for missing elements)."""
    return tuple(np.zeros(np.shape(a)) if item is None else item
                 for item, a in zip(_items(g, len(ans)), ans))


@_export
def svd_grad(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    """The gradient of np.linalg.svd (reduced factors; distinct nonzero singular values)."""
    if hermitian:
        _refuse("np.linalg.svd with hermitian=True")
    m, n = np.shape(a)[-2:]
    if not compute_uv:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return (np.matmul(u * np.asarray(g, dtype=float)[..., None, :], vh),)
    gu, gs, gvh = _items(g, 3)
    if full_matrices and m != n:
        if np.any(_zero_or(gu, ())) or np.any(_zero_or(gvh, ())):  # (U's extra columns, Vh's rows)
            _refuse("the factors of np.linalg.svd of a non-square matrix with full_matrices=True "
                    "(pass full_matrices=False)")
        u, s, vh = np.linalg.svd(a, full_matrices=False)  # only s is used
        return (np.matmul(u * np.asarray(gs, dtype=float)[..., None, :], vh),)
    u, s, vh = ans
    gu, gs, gvh = _zero_or(gu, u), _zero_or(gs, s), _zero_or(gvh, vh)
    v, gv = _T(vh), _T(gvh)
    f = _offdiag_inverse(s * s)
    j = f * (_T(u) @ gu - _T(gu) @ u)
    k = f * (_T(v) @ gv - _T(gv) @ v)
    inner = j * s[..., None, :] + _diag(gs) + s[..., :, None] * k
    out = u @ inner @ vh
    out = out + (gu - u @ (_T(u) @ gu)) @ (vh / s[..., :, None])
    out = out + (u / s[..., None, :]) @ (_T(gv) - (_T(gv) @ v) @ vh)
    return (out,)


@_export
def svd_tangent(t, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    """The tangent of np.linalg.svd's result for a tangent ``t`` of ``a``."""
    if hermitian:
        _refuse("np.linalg.svd with hermitian=True")
    m, n = np.shape(a)[-2:]
    if not compute_uv:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return np.diagonal(_T(u) @ t @ _T(vh), axis1=-2, axis2=-1)
    if full_matrices and m != n:
        _refuse("np.linalg.svd of a non-square matrix with full_matrices=True (pass "
                "full_matrices=False)")
    u, s, vh = ans
    v = _T(vh)
    dp = _T(u) @ t @ v
    f = _offdiag_inverse(s * s)
    du = u @ (f * (dp * s[..., None, :] + s[..., :, None] * _T(dp)))
    du = du + (t @ v - u @ (_T(u) @ t @ v)) / s[..., None, :]
    dv = v @ (f * (s[..., :, None] * dp + _T(dp) * s[..., None, :]))
    dv = dv + (_T(t) @ u - v @ (vh @ _T(t) @ u)) / s[..., None, :]
    return _named([du, np.diagonal(dp, axis1=-2, axis2=-1), _T(dv)], ans)


@_export
def eigh_tangent(t, ans, a, UPLO="L"):
    """The tangent of np.linalg.eigh's (w, v) for a tangent ``t`` of ``a``."""
    w, v = ans
    c = _T(v) @ _seen_symmetric(t, UPLO.upper() == "L") @ v
    return _named([np.diagonal(c, axis1=-2, axis2=-1), v @ (_offdiag_inverse(w) * c)], ans)


@_export
def eigvalsh_grad(g, ans, a, UPLO="L"):
    """The gradient of np.linalg.eigvalsh (distinct eigenvalues)."""
    w, v = np.linalg.eigh(a, UPLO)
    return (_one_triangle(v @ _diag(np.asarray(g, dtype=float)) @ _T(v), UPLO.upper() == "L"), None)


@_export
def eigvalsh_tangent(t, ans, a, UPLO="L"):
    """The tangent of np.linalg.eigvalsh for a tangent ``t`` of ``a``."""
    w, v = np.linalg.eigh(a, UPLO)
    return np.diagonal(_T(v) @ _seen_symmetric(t, UPLO.upper() == "L") @ v, axis1=-2, axis2=-1)


@_export
def cholesky_grad(g, ans, a, upper=False):
    """The gradient of np.linalg.cholesky with respect to the triangle it reads."""
    low = _T(ans) if upper else ans
    gl = _T(g) if upper else np.asarray(g, dtype=float)
    p = _phi(_T(low) @ gl)
    s = np.linalg.solve(_T(low), _T(np.linalg.solve(_T(low), _T(p))))
    return (_one_triangle(s, not upper),)


@_export
def cholesky_tangent(t, ans, a, upper=False):
    """The tangent of np.linalg.cholesky for a tangent ``t`` of ``a``."""
    low = _T(ans) if upper else ans
    seen = _seen_symmetric(t, not upper)
    c = np.linalg.solve(low, _T(np.linalg.solve(low, _T(seen))))
    dl = low @ _phi(c)
    return _T(dl) if upper else dl


def _qr_check(a, mode):
    m, n = np.shape(a)[-2:]
    if mode not in ("reduced", "r") and not (mode == "complete" and m == n):
        _refuse(f"np.linalg.qr with mode={mode!r}")
    if m < n:
        _refuse("np.linalg.qr of a wide matrix (more columns than rows)")


@_export
def qr_grad(g, ans, a, mode="reduced"):
    """The gradient of np.linalg.qr (reduced, full column rank, rows >= columns)."""
    _qr_check(a, mode)
    if mode == "r":
        q, r = np.linalg.qr(a)
        gq, gr = np.zeros(np.shape(q)), np.asarray(g, dtype=float)
    else:
        q, r = ans
        gq, gr = _items(g, 2)
        gq, gr = _zero_or(gq, q), _zero_or(gr, r)
    mm = _T(q) @ gq - gr @ _T(r)
    b = gr @ _T(r) + np.tril(mm - _T(mm), -1)
    left = gq - q @ (_T(q) @ gq) + q @ b
    return (_T(np.linalg.solve(r, _T(left))),)


@_export
def qr_tangent(t, ans, a, mode="reduced"):
    """The tangent of np.linalg.qr's (q, r) for a tangent ``t`` of ``a``."""
    _qr_check(a, mode)
    q, r = np.linalg.qr(a) if mode == "r" else ans
    ta_rinv = _T(np.linalg.solve(_T(r), _T(t)))  # t r^-1
    x = _T(q) @ ta_rinv
    low = np.tril(x, -1)
    omega = low - _T(low)
    dr = (x - omega) @ r
    if mode == "r":
        return dr
    dq = ta_rinv - q @ x + q @ omega
    return _named([dq, dr], ans)


def _pinv_vjp(gx, x, a):
    m, n = np.shape(a)[-2:]
    pa = np.eye(m) - a @ x
    px = np.eye(n) - x @ a
    return -_T(x) @ gx @ _T(x) + pa @ _T(gx) @ x @ _T(x) + _T(x) @ x @ _T(gx) @ px


def _pinv_jvp(t, x, a):
    m, n = np.shape(a)[-2:]
    pa = np.eye(m) - a @ x
    px = np.eye(n) - x @ a
    return -x @ t @ x + x @ _T(x) @ _T(t) @ pa + px @ _T(t) @ _T(x) @ x


@_export
def refuse_if(value, flag, what):
    """``value``, or NotImplementedError naming ``what`` when ``flag`` is set."""
    if flag:
        _refuse(what)
    return value


@_export
def pinv_tangent(t, ans, a, rcond=None, hermitian=False, rtol=None):
    """The tangent of np.linalg.pinv for a tangent ``t`` of ``a`` (full rank)."""
    if hermitian:
        _refuse("np.linalg.pinv with hermitian=True")
    return _pinv_jvp(t, ans, a)


def _lstsq_setup(ans, a, b):
    x, res, rank, s = ans
    if rank != min(np.shape(a)):
        _refuse("np.linalg.lstsq of a rank-deficient matrix")
    vec = np.ndim(b) == 1
    bm = np.asarray(b, dtype=float)[:, None] if vec else np.asarray(b, dtype=float)
    xm = np.asarray(x)[:, None] if vec else np.asarray(x)
    return np.linalg.pinv(a), bm, xm, bm - a @ xm, vec, np.size(res) > 0


@_export
def lstsq_grads(g, ans, a, b, rcond=None):
    """The gradients (a, b, rcond) of np.linalg.lstsq (full rank): the solution, the residuals and
    the singular values all pass theirs on; the rank is locally constant."""
    gx, gres, _, gs = _items(g, 4)
    pinv, bm, xm, r, vec, has_res = _lstsq_setup(ans, a, b)
    ga, gb = np.zeros(np.shape(a)), np.zeros(np.shape(bm))
    if gx is not None:
        gxm = np.asarray(gx, dtype=float)[:, None] if vec else np.asarray(gx, dtype=float)
        ga = ga + _pinv_vjp(gxm @ _T(bm), pinv, a)
        gb = gb + _T(pinv) @ gxm
    if gres is not None and has_res:
        wr = r * np.asarray(gres, dtype=float)[None, :]
        ga = ga - 2.0 * wr @ _T(xm)
        gb = gb + 2.0 * wr
    if gs is not None:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        ga = ga + (u * np.asarray(gs, dtype=float)[None, :]) @ vh
    return (ga, gb[:, 0] if vec else gb, None)


@_export
def lstsq_tangent(t, ans, a, b, rcond=None, which=0):
    """The tangent of np.linalg.lstsq's (x, residuals, rank, s) for a tangent ``t`` of a (which=0)
    or b (which=1)."""
    x, res, rank, s = ans
    pinv, bm, xm, r, vec, has_res = _lstsq_setup(ans, a, b)
    if which == 0:
        dx = _pinv_jvp(t, pinv, a) @ bm
        dr = -t @ xm - a @ dx
        u, sv, vh = np.linalg.svd(a, full_matrices=False)
        ds = np.diagonal(_T(u) @ t @ _T(vh))
    else:
        tm = np.asarray(t, dtype=float)[:, None] if vec else np.asarray(t, dtype=float)
        dx = pinv @ tm
        dr = tm - a @ dx
        ds = np.zeros(np.shape(s))
    dres = 2.0 * np.sum(r * dr, axis=0) if has_res else np.zeros(np.shape(res))
    return GradList([dx[:, 0] if vec else dx, dres, 0.0, ds])


def _powers(a, n):
    out = [np.broadcast_to(np.eye(np.shape(a)[-1]), np.shape(a))]
    for _ in range(n - 1):
        out.append(out[-1] @ a)
    return out


@_export
def matrix_power_grad(g, ans, a, n):
    """The gradient of np.linalg.matrix_power(a, n) (through the inverse for n < 0)."""
    base = np.linalg.inv(a) if n < 0 else np.asarray(a, dtype=float)
    k = abs(int(n))
    if k == 0:
        return (np.zeros(np.shape(a)), None)
    p = _powers(base, k)
    gb = functools.reduce(np.add, (_T(p[i]) @ g @ _T(p[k - 1 - i]) for i in range(k)))
    if n < 0:
        gb = -_T(base) @ gb @ _T(base)
    return (gb, None)


@_export
def matrix_power_tangent(t, ans, a, n):
    """The tangent of np.linalg.matrix_power(a, n) for a tangent ``t`` of ``a``."""
    base = np.linalg.inv(a) if n < 0 else np.asarray(a, dtype=float)
    k = abs(int(n))
    if k == 0:
        return np.zeros(np.shape(a))
    tb = -base @ t @ base if n < 0 else t
    p = _powers(base, k)
    return functools.reduce(np.add, (p[i] @ tb @ p[k - 1 - i] for i in range(k)))


def _chain(mats):
    return functools.reduce(np.matmul, mats)


def _multi_dot_mats(arrays):
    mats = [np.asarray(x, dtype=float) for x in arrays]
    if mats[0].ndim == 1:
        mats[0] = mats[0][None, :]
    if mats[-1].ndim == 1:
        mats[-1] = mats[-1][:, None]
    return mats


@_export
def multi_dot_grads(g, arrays):
    """The gradients of np.linalg.multi_dot(arrays): a list, one per array."""
    if is_zero_grad(g):
        return GradList([0.0] * len(arrays))
    mats = _multi_dot_mats(arrays)
    gm = np.reshape(g, (mats[0].shape[0], mats[-1].shape[1]))
    out = []
    for i in range(len(mats)):
        left = _chain(mats[:i]) if i else np.eye(mats[0].shape[0])
        right = _chain(mats[i + 1:]) if i + 1 < len(mats) else np.eye(mats[-1].shape[1])
        out.append(np.reshape(_T(left) @ gm @ _T(right), np.shape(arrays[i])))
    return GradList(out)


@_export
def multi_dot_tangent(t, arrays):
    """The tangent of np.linalg.multi_dot(arrays) for tangents ``t`` (one per array, 0.0 for none)."""
    total = 0.0
    for i, ti in enumerate(t):
        if not is_zero_grad(ti):
            replaced = list(arrays)
            replaced[i] = np.broadcast_to(ti, np.shape(arrays[i]))
            total = total + np.linalg.multi_dot(replaced)
    return total


def _real_or_refuse(x):
    """``x`` as real numbers: newer numpy gives eig's results a complex dtype even where every
    imaginary part is 0; complex values proper are refused."""
    if np.iscomplexobj(x):
        if np.any(np.imag(x) != 0):
            _refuse("np.linalg.eig with complex eigenvalues (real distinct eigenvalues only)")
        return np.real(x)
    return x


def _eig_check(ans):
    w, v = ans
    return _real_or_refuse(w), _real_or_refuse(v)


@_export
def eig_grad(g, ans, a):
    """The gradient of np.linalg.eig for real distinct eigenvalues (unit-norm eigenvectors)."""
    w, v = _eig_check(ans)
    gw, gv = _items(g, 2)
    gw, gv = _zero_or(gw, w), _zero_or(gv, v)
    gw, gv = _real_or_refuse(gw), _real_or_refuse(gv)
    vtg = _T(v) @ gv
    h = vtg - (_T(v) @ v) * np.diagonal(vtg, axis1=-2, axis2=-1)[..., None, :]
    inner = _diag(gw) + _offdiag_inverse(w) * h
    return (np.linalg.solve(_T(v), inner @ _T(v)),)  # v^-T inner v^T


@_export
def eig_tangent(t, ans, a):
    """The tangent of np.linalg.eig's (w, v) for a tangent ``t`` of ``a``."""
    w, v = _eig_check(ans)
    c = np.linalg.solve(v, t @ v)
    x = v @ (_offdiag_inverse(w) * c)
    dv = x - v * np.sum(v * x, axis=-2)[..., None, :]
    return _named([np.diagonal(c, axis1=-2, axis2=-1), dv], ans)


# ---------------------------------------------------------------- scipy (optional)


@_export
def lse_b(b, return_sign=False):
    """The scale ``b`` of scipy.special.logsumexp (1.0 for None); return_sign=True is refused."""
    if return_sign:
        _refuse("scipy.special.logsumexp with return_sign=True")
    return 1.0 if b is None else b


@_export
def mvn_logpdf_grads(g, ans, x, mean=None, cov=1, allow_singular=False):
    """The gradients (x, mean, cov, None) of scipy.stats.multivariate_normal.logpdf for a positive
    definite cov (a matrix, a vector of variances or a scalar variance). scipy reads the lower
    triangle of a matrix cov; its gradient is that of the entries read."""
    x = np.asarray(x, dtype=float)
    c = np.asarray(cov, dtype=float)
    n = np.shape(mean)[-1] if mean is not None and np.ndim(mean) else \
        (c.shape[-1] if c.ndim else x.shape[-1])
    xs = x.reshape(-1, n) if x.ndim else x.reshape(1, 1)
    d = xs - (0.0 if mean is None else np.asarray(mean, dtype=float))
    gk = np.reshape(np.asarray(g, dtype=float), (-1,) + (1,) * 0)
    gk = np.broadcast_to(gk, (d.shape[0],))
    if c.ndim == 2:
        ci = np.linalg.inv(_seen_symmetric(c, True))
        sd = d @ ci  # C^-1 d per row (C symmetric)
        gcs = 0.5 * (np.einsum("k,ki,kj->ij", gk, sd, sd) - np.sum(gk) * ci)
        gc = np.tril(gcs + gcs.T, -1) + np.diag(np.diag(gcs))
    else:
        sd = d / c
        gc = 0.5 * (np.sum(gk[:, None] * (sd * sd - 1.0 / c), axis=0) if c.ndim == 1 else
                    np.sum(gk * (np.sum(sd * sd, axis=1) - n / c)))
    gx = -gk[:, None] * sd
    gmean = None if mean is None else unbroadcast(-gx, np.asarray(mean, dtype=float))
    return (np.reshape(gx, np.shape(x)), gmean, np.reshape(gc, np.shape(cov)), None)


@_export
def mvn_logpdf_tangent(t, ans, x, mean=None, cov=1, allow_singular=False, which=0):
    """The tangent of multivariate_normal.logpdf for a tangent ``t`` of x (0), mean (1) or cov (2)."""
    grads = mvn_logpdf_grads(np.ones(np.shape(ans)) if np.ndim(ans) else 1.0, ans, x, mean, cov)
    if np.ndim(ans) == 0 or which == 2:
        if which == 2:  # per output: the cov gradient of each row separately
            rows = np.reshape(np.asarray(x, dtype=float), (-1, np.shape(grads[0])[-1]))
            out = [np.sum(mvn_logpdf_grads(1.0, None, r, mean, cov)[2] * t) for r in rows]
            return np.reshape(out, np.shape(ans))
        return np.sum(np.asarray(grads[which]) * t)
    n = np.shape(x)[-1]
    gx = np.reshape(grads[0], (-1, n))
    tt = np.broadcast_to(t, np.shape(x) if which == 0 else (n,)).reshape(-1, n) if which == 0 \
        else np.broadcast_to(t, (n,))
    return np.reshape(np.sum(gx * tt, axis=1) * (1.0 if which == 0 else -1.0), np.shape(ans))


def _tri(x, lower, unit_diagonal=False):
    return np.tril(x, -1 if unit_diagonal else 0) if lower else np.triu(x, 1 if unit_diagonal else 0)


@_export
def solve_triangular_grads(g, ans, a, b, trans=0, lower=False, unit_diagonal=False):
    """The gradients (a, b, ...) of scipy.linalg.solve_triangular (real; the triangle it reads)."""
    from scipy.linalg import solve_triangular

    t = {0: 0, "N": 0, 1: 1, "T": 1, 2: 1, "C": 1}[trans]
    gb = solve_triangular(a, g, trans=1 - t, lower=lower, unit_diagonal=unit_diagonal)
    x2, gb2 = (np.asarray(ans)[:, None], gb[:, None]) if np.ndim(b) == 1 else (ans, gb)
    ga = -(gb2 @ x2.T) if t == 0 else -(x2 @ gb2.T)
    return (_tri(ga, lower, unit_diagonal), gb)


@_export
def solve_triangular_tangent(t, ans, a, b, trans=0, lower=False, unit_diagonal=False, which=0):
    """The tangent of scipy.linalg.solve_triangular for a tangent ``t`` of a (0) or b (1)."""
    from scipy.linalg import solve_triangular

    tr = {0: 0, "N": 0, 1: 1, "T": 1, 2: 1, "C": 1}[trans]
    if which == 1:
        return solve_triangular(a, t, trans=tr, lower=lower, unit_diagonal=unit_diagonal)
    dt = _tri(np.asarray(t, dtype=float), lower, unit_diagonal)
    rhs = (dt if tr == 0 else dt.T) @ ans
    return -solve_triangular(a, rhs, trans=tr, lower=lower, unit_diagonal=unit_diagonal)


@_export
def cho_factor_grad(g, ans, a, lower=False):
    """The gradient of scipy.linalg.cho_factor's (c, lower): the factor's triangle goes through the
    Cholesky gradient, the other triangle of c holds a's own entries (gradient passes as is)."""
    gc = _items(g, 2)[0]
    if gc is None:
        return np.zeros(np.shape(a))
    c = ans[0]
    factor = np.tril(c) if lower else np.triu(c)
    passed = np.triu(gc, 1) if lower else np.tril(gc, -1)
    gf = np.tril(gc) if lower else np.triu(gc)
    return cholesky_grad(gf, factor, a, upper=not lower)[0] + passed


@_export
def cho_factor_tangent(t, ans, a, lower=False):
    """The tangent of scipy.linalg.cho_factor's c for a tangent ``t`` of ``a``."""
    factor = np.tril(ans[0]) if lower else np.triu(ans[0])
    passed = np.triu(t, 1) if lower else np.tril(t, -1)
    return GradList([cholesky_tangent(t, factor, a, upper=not lower) + passed, 0.0])


@_export
def cho_solve_grads(g, ans, c_and_lower, b):
    """The gradients ([c, None], b, ...) of scipy.linalg.cho_solve((c, lower), b)."""
    from scipy.linalg import cho_solve

    c, lower = c_and_lower
    f = np.tril(c) if lower else np.triu(c)
    gb = cho_solve((c, lower), g)
    x2, gb2 = (np.asarray(ans)[:, None], gb[:, None]) if np.ndim(b) == 1 else (ans, gb)
    m = gb2 @ x2.T
    gf = -((m + m.T) @ f) if lower else -(f @ (m + m.T))
    return (GradList([np.tril(gf) if lower else np.triu(gf), None]), gb)


@_export
def cho_solve_tangent(t, ans, c_and_lower, b, which=0):
    """The tangent of scipy.linalg.cho_solve for a tangent of (c, lower) (which=0) or b (1)."""
    from scipy.linalg import cho_solve

    c, lower = c_and_lower
    if which == 1:
        return cho_solve((c, lower), t)
    f = np.tril(c) if lower else np.triu(c)
    tf = np.tril(t[0]) if lower else np.triu(t[0])
    da = tf @ f.T + f @ tf.T if lower else tf.T @ f + f.T @ tf
    return -cho_solve((c, lower), da @ ans)


@_export
def expm_grad(g, ans, A):
    """The gradient of scipy.linalg.expm: the Frechet derivative at A^T applied to ``g``."""
    from scipy.linalg import expm_frechet

    a, gg = np.asarray(A, dtype=float), np.broadcast_to(g, np.shape(A))
    flat_a, flat_g = a.reshape(-1, *a.shape[-2:]), gg.reshape(-1, *a.shape[-2:])
    out = [expm_frechet(x.T, y, compute_expm=False) for x, y in zip(flat_a, flat_g)]
    return (np.reshape(out, a.shape),)


@_export
def expm_tangent(t, ans, A):
    """The tangent of scipy.linalg.expm: the Frechet derivative at A in the direction ``t``."""
    from scipy.linalg import expm_frechet

    a, tt = np.asarray(A, dtype=float), np.broadcast_to(t, np.shape(A))
    flat_a, flat_t = a.reshape(-1, *a.shape[-2:]), tt.reshape(-1, *a.shape[-2:])
    out = [expm_frechet(x, y, compute_expm=False) for x, y in zip(flat_a, flat_t)]
    return np.reshape(out, a.shape)


for _name in __all__:
    globals()[_name].__module__ = "sourcediff.runtime"

# scipy.special functions that rule bodies call as _sd.xxx: the real ufuncs, so their own rules
# make those bodies differentiable again
try:
    from scipy import special as _special
except ImportError:  # pragma: no cover
    pass
else:
    digamma, polygamma = _special.digamma, _special.polygamma
    __all__ += ["digamma", "polygamma"]
