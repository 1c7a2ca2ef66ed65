"""Gradients of numpy's numeric and statistics functions: np.gradient, np.select,
quantiles, np.average, np.interp, convolution, np.polyval and np.trapezoid."""

import numpy as np

from .accumulate import GradList, _items, _refuse, is_zero_grad
from .elementwise import real_only
from .indexing import normalize_axes
from .shapes import as_array, inexact, numpy_only, shape, unbroadcast, unreduce

__all__ = [
    "gradient_grads", "gradient_spacing_tangent", "gradient_coordinate_grad", "gradient_tangents",
    "gradient_coordinate_grads", "coordinates_refused",
    "select_default_mask",
    "select_grads", "select_tangent", "quantile_grad", "quantile_tangent", "quantile_q_grad",
    "quantile_q_tangent", "nanquantile_grad", "nanquantile_tangent", "nanquantile_q_grad",
    "nanquantile_q_tangent", "average_grads", "average_tangent", "interp_grads", "interp_tangent",
    "conv_pad_width", "poly_exponents", "trapezoid_grads", "cov_grads", "cov_tangent",
    "drop_initial", "spectrum_fit", "spectrum_axes", "spectrum_length", "hermitian_weights",
    "standard_draw",
]


# ---------------------------------------------------------------- random draws


def standard_draw(ans, loc, scale, what="a random draw"):
    """``(ans - loc) / scale``: the standard draw a draw ``loc + scale * z`` was moved and scaled
    from, which its derivative in ``scale`` is. A scale of exactly 0 keeps nothing of z (the draw
    is loc), and one tiny next to loc keeps too little of it (loc 1000, scale 1e-14: z read as 0,
    the derivative 0 for 1268): refused there (nan or a wrong number before, review38), where
    the standard draw read back is off by more than 1e-8, naming what to write instead."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lost = np.spacing(np.abs(np.asarray(ans, dtype=float))) / np.abs(scale)
    if np.any(np.equal(scale, 0)) or np.any(lost > 1e-8):
        raise NotImplementedError(
            f"sourcediff has no derivative for {what} in its scale where the scale is 0 or so "
            f"small next to the location that the draw keeps too little of the standard draw "
            f"(which that derivative is); draw it yourself and move and scale it (z = "
            f"rng.standard_normal(size); loc + scale * z)")
    return (ans - loc) / scale


# ---------------------------------------------------------------- np.gradient


def _gradient_spacing(f, varargs, axis):
    nd = np.ndim(f)
    # (tuples, not lists: sourcediff differentiates this source again for second derivatives,
    # and its alias checks of list(...) read names bound only later, review36)
    axes = tuple(range(nd)) if axis is None else tuple(normalize_axes(axis, nd))
    if len(varargs) == 0:
        spacing, owner = (1.0,) * len(axes), (None,) * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacing, owner = (varargs[0],) * len(axes), (0,) * len(axes)
    elif len(varargs) == len(axes):
        spacing, owner = tuple(varargs), tuple(range(len(axes)))
    else:
        raise TypeError("invalid number of arguments")
    return axes, spacing, owner


def gradient_grads(g, ans, f, varargs=(), axis=None, edge_order=1):
    """The gradients of np.gradient(f, *varargs, axis=axis, edge_order=edge_order): f's, and one per
    scalar spacing (coordinate arrays are refused: they would need the gradient of the spacing)."""
    axes, spacing, owner = _gradient_spacing(f, varargs, axis)
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
        if k is not None and np.ndim(h) == 0:  # uniform spacing: d out / dh = -out / h
            gh[k] = gh[k] - np.sum(gi * out) / h
    coords = gradient_coordinate_grads(g, f, varargs, axis, edge_order)
    return (gf,) + tuple(a + b for a, b in zip(gh, coords))


def gradient_coordinate_grads(g, f, varargs=(), axis=None, edge_order=1):
    """Per spacing argument of np.gradient: its gradient where it is a coordinate array, else 0.0
    (a helper with a rule of its own, so that the source of gradient_grads, differentiated
    again for second derivatives, does not reach the complex step: review38)."""
    axes, spacing, owner = _gradient_spacing(f, varargs, axis)
    gs = [g] if len(axes) == 1 else _items(g, len(axes))
    out = [0.0] * len(varargs)
    for gi, ax, h, k in zip(gs, axes, spacing, owner):
        if gi is not None and k is not None and np.ndim(h) != 0:
            out[k] = out[k] + gradient_coordinate_grad(gi, f, varargs, axis, edge_order, k, ax)
    return tuple(out)


def coordinates_refused(out, varargs):
    """Zeros shaped like gradient_coordinate_grads' result ``out`` (a tuple, one per spacing
    argument) where np.gradient has no coordinate arrays among ``varargs``: it is constant 0
    then. Refused where it has: that derivative's own derivative is not implemented."""
    if any(np.ndim(v) != 0 for v in varargs):
        _refuse("a second derivative through np.gradient with coordinate arrays as spacing")
    return tuple(0.0 for _ in out)


_STEP = 1e-30  # (the complex step: exact to rounding for np.gradient, rational in its spacing)


def _gradient_stepped(f, varargs, axis, edge_order, k, step):
    """np.gradient(f, *varargs) with ``step`` (imaginary) added to the spacing argument ``k``:
    its imaginary part over _STEP is the derivative along ``step`` (the complex step)."""
    moved = tuple(np.asarray(v, dtype=complex) + step if i == k else v
                  for i, v in enumerate(varargs))
    out = np.gradient(np.asarray(f, dtype=complex), *moved, axis=axis, edge_order=edge_order)
    return [np.imag(o) / _STEP for o in out] if isinstance(out, (list, tuple)) else \
        np.imag(out) / _STEP


def gradient_coordinate_grad(g, f, varargs, axis, edge_order, k, ax):
    """The gradient of np.gradient's result along axis ``ax`` (cotangent ``g``) with respect to
    the coordinates ``varargs[k]`` of that axis (review38: was refused). An entry of the result
    reads coordinates at most two positions away, so coordinates five apart are stepped at once
    (complex step, exact to rounding) and each entry's change is credited to the one it reads."""
    n = np.shape(f)[ax]
    x = np.asarray(varargs[k])
    out = np.zeros(np.shape(x))
    other = tuple(d for d in range(np.ndim(f)) if d != ax)
    at = np.arange(n)
    for r in range(min(5, n)):
        step = np.zeros(n, dtype=complex)
        step[r::5] = 1j * _STEP
        moved = _gradient_stepped(f, varargs, axis, edge_order, k, step)
        d = moved[list(_gradient_spacing(f, varargs, axis)[0]).index(ax)] \
            if isinstance(moved, list) else moved
        per_entry = np.sum(g * d, axis=other) if other else g * d
        owner = r + 5 * np.round((at - r) / 5.0).astype(int)
        ok = (owner >= 0) & (owner < n) & (np.abs(at - owner) <= 2)
        out = out + np.bincount(owner[ok], weights=per_entry[ok], minlength=n)
    return out


def gradient_spacing_tangent(t, ans, f, varargs=(), axis=None, k=0, edge_order=1):
    """The tangent of np.gradient's result for a tangent ``t`` of the spacing argument ``k``
    (coordinates: by the complex step, review38)."""
    axes, spacing, owner = _gradient_spacing(f, varargs, axis)
    if any(np.ndim(h) != 0 for h, o in zip(spacing, owner) if o == k):
        moved = _gradient_stepped(f, varargs, axis, edge_order, k, 1j * _STEP * np.asarray(t))
        return GradList(moved) if isinstance(moved, list) else moved
    outs = [ans] if len(axes) == 1 else list(ans)
    parts = [-out * t / h if o == k else np.zeros_like(out)
             for out, h, o in zip(outs, spacing, owner)]
    return parts[0] if len(axes) == 1 else GradList(parts)


def gradient_tangents(t, ans, f, varargs=(), axis=None, edge_order=1):
    """The jvp tuple of np.gradient: np.gradient of ``t`` for f, the spacing tangents after it
    (each computed where ``t`` is shaped like that argument: coordinates shaped like f are
    told apart by the position the caller reads, review38)."""
    head = None
    if shape(t) == np.shape(f):  # the tangent of f
        head = np.gradient(t, *varargs, axis=axis, edge_order=edge_order)
        head = GradList(head) if isinstance(head, (list, tuple)) else head
    return (head,) + tuple(
        gradient_spacing_tangent(t, ans, f, varargs, axis, k, edge_order)
        if shape(t) == np.shape(varargs[k]) else None for k in range(len(varargs)))


# ---------------------------------------------------------------- np.select


def _select_masks(condlist, ans):
    taken = np.zeros(shape(ans), dtype=bool)
    masks = []
    for cond in condlist:
        c = np.broadcast_to(cond, shape(ans))
        masks.append(c & ~taken)
        taken = taken | c
    return masks, ~taken


def select_default_mask(condlist, ans):
    """Where np.select takes the default: no condition holds."""
    return _select_masks(condlist, ans)[1]


def select_grads(g, condlist, choicelist, ans):
    """The gradients of the choices of np.select(condlist, choicelist): g where each one is taken."""
    if is_zero_grad(g):
        return GradList([0.0] * len(choicelist))
    masks = _select_masks(condlist, ans)[0]
    return GradList(unbroadcast(np.where(m, g, 0.0), c) for m, c in zip(masks, choicelist))


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
    # (back from sorted order by the inverse permutation: a read, so that this function's own
    # source is differentiable again, for second derivatives)
    flat_grad = np.take_along_axis(sorted_grad, np.argsort(s["order"], axis=-1), axis=-1)
    moved = flat_grad.reshape(tuple(np.shape(a)[i] for i in s["perm"]))
    return np.transpose(moved, np.argsort(s["perm"]))


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


def quantile_q_tangent(t, a, q, axis=None, keepdims=False, method="linear", weights=None,
                       scale=1.0):
    """The tangent of np.quantile(a, q * scale, ...) for a tangent ``t`` of ``q``."""
    s = _quantile_setup(a, q, axis, method, weights, scale)
    nq = len(s["lo"])
    tq = np.reshape(np.asarray(t, dtype=float) * scale, (nq,) + (1,) * len(s["rest_shape"]))
    return np.reshape(tq * _quantile_slopes(s), _quantile_out_shape(s, keepdims))


# ---------------------------------------------------------------- nan quantiles (review36)
# np.nanquantile / np.nanpercentile / np.nanmedian: the quantile of the entries that are not NaN,
# so each row has its own count m and its own two order statistics around q * (m - 1) (numpy
# sorts the NaNs last); a NaN entry gets no gradient. A row of NaNs only has a NaN quantile.


def _nanquantile_setup(a, q, axis, method="linear", weights=None, scale=1.0):
    """(the sorted rows of _quantile_setup, and per row its count m of non-NaN entries and for
    each q the two order statistics lo and hi (shaped (nq,) + rest) and the fraction between)."""
    s = _quantile_setup(a, q, axis, method, weights, scale)
    m = np.sum(~np.isnan(s["flat"]), axis=-1)  # rest_shape
    qa = np.reshape(np.asarray(q, dtype=float) * scale, (-1,) + (1,) * len(s["rest_shape"]))
    v = qa * (m - 1)
    lo = np.clip(np.floor(v).astype(np.intp), 0, np.maximum(m - 1, 0))
    hi = np.minimum(lo + 1, np.maximum(m - 1, 0))
    return s, m, lo, hi, np.where(m > 0, v - lo, 0.0)


def _at(rows, index):
    """Entry ``index`` (shaped (nq,) + rest) of each sorted row (rest + (n,))."""
    return np.take_along_axis(rows[None], index[..., None], axis=-1)[..., 0]


def _nan_slopes(s, m, lo, hi):
    sv = np.take_along_axis(s["flat"], s["order"], axis=-1)
    return np.where(hi != lo, (_at(sv, hi) - _at(sv, lo)) * (m - 1), 0.0)


def nanquantile_grad(g, a, q, axis=None, keepdims=False, method="linear", weights=None,
                     scale=1.0):
    """The gradient of np.nanquantile(a, q * scale, axis, keepdims=keepdims) with respect to
    ``a``: each result's gradient goes to the two order statistics of its row's non-NaN entries."""
    if is_zero_grad(g):
        return 0.0
    s, m, lo, hi, frac = _nanquantile_setup(a, q, axis, method, weights, scale)
    big = np.reshape(np.broadcast_to(g, _quantile_out_shape(s, keepdims)),
                     (lo.shape[0],) + s["rest_shape"])
    big = np.where(m > 0, big, 0.0)[..., None]
    k = np.arange(s["n"])
    w = (1.0 - frac)[..., None] * (k == lo[..., None]) + frac[..., None] * (k == hi[..., None])
    sorted_grad = np.sum(w * big, axis=0)
    flat_grad = np.take_along_axis(sorted_grad, np.argsort(s["order"], axis=-1), axis=-1)
    moved = flat_grad.reshape(tuple(np.shape(a)[i] for i in s["perm"]))
    return np.transpose(moved, np.argsort(s["perm"]))


def nanquantile_tangent(t, a, q, axis=None, keepdims=False, method="linear", weights=None,
                        scale=1.0):
    """The tangent of np.nanquantile(a, q * scale, ...) for a tangent ``t`` of ``a``."""
    s, m, lo, hi, frac = _nanquantile_setup(a, q, axis, method, weights, scale)
    tm = np.transpose(np.broadcast_to(t, np.shape(a)), s["perm"]).reshape(s["flat"].shape)
    ts = np.take_along_axis(tm, s["order"], axis=-1)
    out = (1.0 - frac) * _at(ts, lo) + frac * _at(ts, hi)
    return np.reshape(np.where(m > 0, out, np.nan), _quantile_out_shape(s, keepdims))


def nanquantile_q_grad(g, a, q, axis=None, keepdims=False, method="linear", weights=None,
                       scale=1.0):
    """The gradient of np.nanquantile(a, q * scale, ...) with respect to ``q``."""
    if is_zero_grad(g):
        return 0.0
    s, m, lo, hi, frac = _nanquantile_setup(a, q, axis, method, weights, scale)
    nq = lo.shape[0]
    big = np.reshape(np.broadcast_to(g, _quantile_out_shape(s, keepdims)), (nq,) + s["rest_shape"])
    gq = np.sum((big * _nan_slopes(s, m, lo, hi)).reshape(nq, -1), axis=1) * scale
    return np.reshape(gq, np.shape(q))


def nanquantile_q_tangent(t, a, q, axis=None, keepdims=False, method="linear", weights=None,
                          scale=1.0):
    """The tangent of np.nanquantile(a, q * scale, ...) for a tangent ``t`` of ``q``."""
    s, m, lo, hi, frac = _nanquantile_setup(a, q, axis, method, weights, scale)
    tq = np.reshape(np.asarray(t, dtype=float) * scale, (lo.shape[0],) + (1,) * len(s["rest_shape"]))
    return np.reshape(tq * _nan_slopes(s, m, lo, hi), _quantile_out_shape(s, keepdims))


# ---------------------------------------------------------------- np.average


def _average_setup(a, axis, weights):
    a = inexact(a)
    if weights is None:
        return a, np.ones_like(a), None
    w = inexact(weights)
    if w.shape == a.shape:
        return a, w, w.shape
    axes = normalize_axes(axis, a.ndim) if axis is not None else ()
    if w.ndim != 1 or len(axes) != 1:
        _refuse("np.average with weights of another shape than `a` (except 1-D along one axis)")
    ax = axes[0]
    return a, np.reshape(w, tuple(-1 if i == ax else 1 for i in range(a.ndim))), w.shape


def average_grads(g, ans, a, axis=None, weights=None, returned=False, keepdims=False):
    """The gradients (a, None, weights, None) of np.average(a, axis, weights, returned, keepdims)."""
    gavg, gscl = _items(g, 2) if returned else (None if is_zero_grad(g) else g, None)
    a_arr, wr, wshape = _average_setup(a, axis, weights)
    total = np.sum(wr * np.ones_like(a_arr), axis=axis, keepdims=True)
    ga, gw = np.zeros_like(a_arr), np.zeros(np.broadcast_shapes(np.shape(wr), a_arr.shape),
                                            like=a_arr)
    if gavg is not None:
        up = unreduce(inexact(gavg), a_arr, axis, keepdims)
        mean = np.sum(a_arr * wr, axis=axis, keepdims=True) / total
        ga = up * wr / total
        gw = gw + up * (a_arr - mean) / total
    if gscl is not None and wshape is not None:
        gw = gw + unreduce(inexact(gscl), a_arr, axis, keepdims)
    return (ga, None, None if wshape is None else np.reshape(unbroadcast(gw, wr), wshape), None)


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
    x, xp, fp = np.asarray(x, dtype=float), np.asarray(xp, dtype=float), inexact(fp)  # (fp may
    # be complex: numpy interpolates its real and imaginary parts)
    n = len(xp)
    i = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, n - 2)
    h = xp[i + 1] - xp[i]
    t = (x - xp[i]) / h
    slope = (fp[i + 1] - fp[i]) / h
    below, above = x < xp[0], x > xp[-1]
    return x, i, t, slope, below, above, ~(below | above), n


def _bincount(i, w, n):
    """np.bincount(i, w, n) over the flattened arrays, for complex weights too."""
    i, w = np.ravel(i), np.ravel(w)
    if w.dtype.kind == "c":
        return np.bincount(i, w.real, n) + 1j * np.bincount(i, w.imag, n)
    return np.bincount(i, w, n)


def interp_grads(g, x, xp, fp, left=None, right=None, period=None):
    """The gradients (x, xp, fp, left, right, period) of np.interp(x, xp, fp, left, right)."""
    if is_zero_grad(g):
        return (0.0, 0.0, 0.0, 0.0, 0.0, None)
    x_arr, i, t, slope, below, above, inside, n = _interp_parts(x, xp, fp, period)
    g = np.broadcast_to(inexact(g), x_arr.shape)
    gin = np.where(inside, g, 0.0)
    gfp = _bincount(i, gin * (1.0 - t), n) + _bincount(i + 1, gin * t, n)
    gxp = -_bincount(i, gin * slope * (1.0 - t), n) - _bincount(i + 1, gin * slope * t, n)
    gleft, gright = np.sum(np.where(below, g, 0.0)), np.sum(np.where(above, g, 0.0))
    if left is None:
        gfp[0] += gleft
    if right is None:
        gfp[-1] += gright
    return (np.reshape(gin * slope, shape(x)), np.reshape(gxp, shape(xp)), np.reshape(gfp, shape(fp)),
            gleft, gright, None)


def interp_tangent(t, x, xp, fp, left=None, right=None, period=None, which=0):
    """The tangent of np.interp's result for a tangent ``t`` of x (which=0), xp (1), fp (2), left
    (3) or right (4)."""
    x_arr, i, u, slope, below, above, inside, n = _interp_parts(x, xp, fp, period)
    if which == 0:
        out = np.where(inside, slope * t, 0.0)
    elif which in (1, 2):
        tt = inexact(t)
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


def poly_exponents(p):
    """The exponents [deg, ..., 1, 0] of the coefficients ``p`` (highest first)."""
    return np.arange(len(p) - 1, -1, -1, dtype=float)


def trapezoid_grads(g, y, x=None, dx=1.0, axis=-1):
    """The gradients (y, x, dx, axis) of np.trapezoid(y, x, dx, axis)."""
    if is_zero_grad(g):
        return (0.0, 0.0, 0.0, None)
    y = inexact(y)
    nd, ax = y.ndim, axis % y.ndim
    if x is None:
        d = inexact(dx)
    else:
        xa = inexact(x)
        d = np.diff(xa).reshape([-1 if i == ax else 1 for i in range(nd)]) if xa.ndim == 1 \
            else np.diff(xa, axis=axis)
    gk = np.expand_dims(inexact(g), ax)
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


# ---------------------------------------------------------------- np.cov


def _cov_parts(m, y, rowvar, bias, ddof, fweights, aweights):
    """np.cov's steps: the variables as rows X (m's then y's), the weights w (None: equal), the
    divisor, and how X's rows go back to m and y (each operand's number of rows and whether it
    was transposed). The same arrangement and divisor as numpy's own code."""
    parts, layout = [], []
    for v, first in ((m, True), (y, False)):
        if v is None:
            continue
        v = real_only(as_array(v), "np.cov")
        x = np.asarray(v, dtype=float)
        x = x.reshape(1, -1) if x.ndim < 2 else x
        flip = not rowvar and (np.ndim(v) != 1 if first else x.shape[0] != 1)
        x = x.T if flip else x
        parts.append(x)
        layout.append((x.shape[0], flip, shape(v)))
    X = np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
    if ddof is None:
        ddof = 0 if bias else 1
    w = None
    if fweights is not None:
        w = np.asarray(fweights, dtype=float)
    if aweights is not None:
        a = np.asarray(aweights, dtype=float)
        w = a if w is None else w * a
    n = X.shape[1]
    w_sum = float(n) if w is None else float(np.sum(w))
    if w is None:
        fact = n - ddof
    elif ddof == 0:
        fact = w_sum
    elif aweights is None:
        fact = w_sum - ddof
    else:
        fact = w_sum - ddof * np.sum(w * np.asarray(aweights, dtype=float)) / w_sum
    avg = np.mean(X, axis=1, keepdims=True) if w is None else \
        (np.sum(X * w, axis=1, keepdims=True) / w_sum)
    return X - avg, w, fact, layout


def _cov_back(dX, layout):
    """A gradient of np.cov's rows X split back to its operands m and y (None for a missing y)."""
    out, start = [], 0
    for rows, flip, like in layout:
        part = dX[start:start + rows]
        start += rows
        out.append(np.reshape(part.T if flip else part, like))
    return tuple(out) + (None,) * (2 - len(out))


def cov_grads(g, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None):
    """The gradients of ``np.cov(m, y, ...)`` with respect to m and y (weights are constants):
    (G + G^T) @ (Xc * w) / fact for the centred rows Xc (the mean's own term vanishes, as the
    weighted rows of Xc sum to zero)."""
    if is_zero_grad(g):
        return 0.0, (None if y is None else 0.0)
    numpy_only("np.cov", g, m)
    Xc, w, fact, layout = _cov_parts(m, y, rowvar, bias, ddof, fweights, aweights)
    k = Xc.shape[0]
    G = np.reshape(np.broadcast_to(g, shape(g)), (k, k))
    dX = (G + G.T) @ (Xc if w is None else Xc * w) / fact
    return _cov_back(dX, layout)


def cov_tangent(t, which, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
                aweights=None):
    """The tangent of ``np.cov(m, y, ...)`` when operand ``which`` (0: m, 1: y) moves along ``t``."""
    if is_zero_grad(t) or (which == 1 and y is None):
        return 0.0
    Xc, w, fact, layout = _cov_parts(m, y, rowvar, bias, ddof, fweights, aweights)
    rows = [np.zeros((r, Xc.shape[1])) for r, _, _ in layout]
    r, flip, like = layout[which]
    tt = np.asarray(np.broadcast_to(t, like), dtype=float)
    tt = tt.reshape(1, -1) if tt.ndim < 2 else tt
    rows[which] = tt.T if flip else tt
    dX = np.concatenate(rows, axis=0)
    dXc = dX - (np.mean(dX, axis=1, keepdims=True) if w is None else
                np.sum(dX * w, axis=1, keepdims=True) / np.sum(w))
    A = dXc @ (Xc if w is None else Xc * w).T / fact
    out = A + A.T
    return out.reshape(()) if out.size == 1 and Xc.shape[0] == 1 else out


def drop_initial(g, axis=None, include_initial=False):
    """np.cumulative_sum's gradient without the entry ``include_initial=True`` puts first along
    the axis (a constant 0, which takes no gradient)."""
    if not include_initial or is_zero_grad(g):
        return g
    index = [slice(None)] * np.ndim(g)
    index[0 if axis is None else axis] = slice(1, None)
    return g[tuple(index)]


# ---------------------------------------------------------------- np.fft


def spectrum_fit(g, like, axes):
    """``g`` cut or padded with zeros along ``axes`` to the sizes ``like`` has there, and its real
    part when ``like`` is real: the transpose of the zero padding or cutting an np.fft function
    does to its input (``n=``, ``s=``), for the gradient of that input (a real input's gradient
    is the real part, as in autograd and JAX). Linear in ``g``."""
    if is_zero_grad(g):
        return g
    g = np.asarray(g)
    target = shape(like)
    for ax in axes:
        have, want = g.shape[ax], target[ax]
        if have > want:
            g = np.take(g, np.arange(want), axis=ax)
        elif have < want:
            widths = [(0, 0)] * g.ndim
            widths[ax] = (0, want - have)
            g = np.pad(g, widths)
    real = not np.iscomplexobj(like)
    return np.real(g) if real and np.iscomplexobj(g) else g


def spectrum_axes(a, s=None, axes=None, last=None):
    """The axes an np.fft function of ``a`` transforms: ``axes``, or the last ``len(s)`` axes for a
    given ``s``, or the last ``last`` axes (fft2: 2), or all of them (fftn)."""
    nd = np.ndim(a)
    if axes is not None:
        return normalize_axes(axes, nd)
    count = len(s) if s is not None else (nd if last is None else last)
    return tuple(range(nd - count, nd))


def spectrum_length(a, n, axis):
    """The length np.fft.rfft(a, n, axis) transforms: ``n``, or a's length along ``axis``."""
    return shape(a)[axis] if n is None else int(n)


def hermitian_weights(g, axis):
    """The weights (1, 2, ..., 2, 1 at the Nyquist entry of an even length, then 0) by which an
    entry k of np.fft.irfft's input counts in its length-``n`` output (``n`` = g's length along
    ``axis``): entries 1 to n/2 - 1 stand for themselves and their conjugate mirror. Shaped to
    broadcast against ``g``."""
    nd = np.ndim(g)
    ax = axis % nd
    n = shape(g)[ax]
    k = np.arange(n)
    w = np.where((k == 0) | (2 * k == n), 1.0, np.where(2 * k < n, 2.0, 0.0))
    return np.reshape(w, [n if i == ax else 1 for i in range(nd)])
