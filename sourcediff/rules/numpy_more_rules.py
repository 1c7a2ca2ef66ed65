"""More numpy rules (the breadth people reach for): array manipulation, order
statistics, signals and polynomials, and linear algebra factorizations.

Same contract and body restrictions as :mod:`sourcediff.rules.numpy_rules`; shape logic lives in
:mod:`sourcediff.runtime` (exposed as ``_sd``). Where a formula needs a condition (distinct
eigenvalues or singular values, full rank, linear interpolation), it is stated next to the rule; options
outside it raise NotImplementedError from the helper rather than give a wrong gradient.

Tuple results (svd, eigh, qr, eig, lstsq): ``g`` holds one gradient per element (0.0 or None for an
element that does not reach the output) and jvps return GradLists, so forward mode adds them entrywise.
The tape records such a result as one node over its flattened float parts (tape._Ragged). Fields of
named tuple results (``np.linalg.eigh(a).eigenvalues``) go through runtime.get_attribute; the jvps of
these primitives return NamedGradLists, whose entries are read by field name too.

Second order: the rules whose bodies use only differentiable numpy calls and helpers with rules of
their own (kron, rollaxis, append, select, rot90, nan_to_num, dsplit, partition, insert, nansum,
nanmean, ptp, convolve, correlate, polyval, cross, eigh, cholesky, pinv) reach through; the others
(gradient, quantiles, average, interp, trapezoid, svd, qr, lstsq, matrix_power, multi_dot, eig,
eigvalsh) raise NoRuleError naming their helper when differentiated again.
"""

import math

import numpy as np

from .. import runtime as _sd
from .registry import defjvp, defnondiff, defvjp, defwritten, present

# ---------------------------------------------------------------- array manipulation


@defvjp(np.kron, kind="linear", torch_name="KronBackward0", view=False)
def kron(g, ans, a, b):
    split = np.reshape(g, _sd.kron_split_shape(a, b))
    ap = np.reshape(a, _sd.kron_operand_shape(a, b))
    bp = np.reshape(b, _sd.kron_operand_shape(b, a))
    return (np.reshape(np.einsum(_sd.kron_subscripts(a, b, 0), split, bp), _sd.shape(a)),
            np.reshape(np.einsum(_sd.kron_subscripts(a, b, 1), split, ap), _sd.shape(b)))


# np.gradient: f, and scalar spacings (d out / dh = -out / h); coordinate arrays are refused
@defvjp(np.gradient, kind="custom", view=False)
def gradient(g, ans, f, *varargs, axis=None, edge_order=1):
    return _sd.gradient_grads(g, ans, f, varargs, axis, edge_order)


@defjvp(np.gradient)
def gradient_jvp(g, ans, f, *varargs, axis=None, edge_order=1):
    return _sd.gradient_tangents(g, ans, f, varargs, axis, edge_order)


@defvjp(np.rollaxis, kind="linear", torch_name="PermuteBackward0", view=True)
def rollaxis(g, ans, a, axis, start=0):
    return (np.transpose(g, _sd.rollaxis_inverse(np.ndim(a), axis, start)),)


@defvjp(np.append, kind="custom", torch_name="CatBackward0", view=False)
def append(g, ans, arr, values, axis=None):
    parts = _sd.concat_grads(g, (arr, values), axis)
    return (parts[0], parts[1])


@defjvp(np.append)
def append_jvp(g, ans, arr, values, axis=None):
    return (np.append(g, np.zeros_like(values), axis=axis),
            np.append(np.zeros_like(arr), g, axis=axis))


# select: the choices (a list) and the default get g where they are taken; conditions get nothing
@defvjp(np.select, kind="custom", view=False)
def select(g, ans, condlist, choicelist, default=0):
    return (None, _sd.select_grads(g, condlist, choicelist, ans),
            _sd.unbroadcast(np.where(_sd.select_default_mask(condlist, ans), g, 0.0), default))


@defjvp(np.select)
def select_jvp(g, ans, condlist, choicelist, default=0):
    return (None, _sd.select_tangent(g, condlist, ans),
            np.where(_sd.select_default_mask(condlist, ans), g, 0.0))


@defvjp(np.rot90, kind="linear", torch_name="RotBackward0", view=True)
def rot90(g, ans, m, k=1, axes=(0, 1)):
    return (np.rot90(g, -k, axes),)


# nan_to_num: x passes g where it is finite; the replacement values get it where they are used
# (view: with copy=False it changes x in place and returns x itself)
@defvjp(np.nan_to_num, kind="elementwise", broadcast=True, torch_name="NanToNumBackward0",
        view=True)
def nan_to_num(g, ans, x, copy=True, nan=0.0, posinf=None, neginf=None):
    # (selected, not multiplied by the masks: a forward tangent is nan or inf where x is, and
    # 0 * nan would spread it to the values nan_to_num replaces)
    return (np.where(np.isfinite(x), g, 0.0), None, np.where(np.isnan(x), g, 0.0),
            np.where(np.isposinf(x), g, 0.0), np.where(np.isneginf(x), g, 0.0))


@defvjp(np.dsplit, kind="linear", torch_name="SplitBackward0", view=True)
def dsplit(g, ans, ary, indices_or_sections):
    return (_sd.split_grad(g, ans, 2), None)


# partition: the result is a permutation of `a`; g goes back through both sort orders (ties: each
# tied element gets the gradient of one of the tied slots)
@defvjp(np.partition, kind="custom", view=False)
def partition(g, ans, a, kth, axis=-1, kind="introselect", order=None):
    return (_sd.unsort(_sd.take_sorted(g, ans, axis), a, axis), None)


@defjvp(np.partition)
def partition_jvp(g, ans, a, kth, axis=-1, kind="introselect", order=None):
    return (_sd.unsort(_sd.take_sorted(g, a, axis), ans, axis), None)


@defvjp(np.insert, kind="custom", view=False)
def insert(g, ans, arr, obj, values, axis=None):
    return (_sd.route_grad(g, _sd.insert_ids(arr, obj, values, axis, 0), arr), None,
            _sd.route_grad(g, _sd.insert_ids(arr, obj, values, axis, 1), values), None)


@defjvp(np.insert)
def insert_jvp(g, ans, arr, obj, values, axis=None):
    return (_sd.route_tangent(g, _sd.insert_ids(arr, obj, values, axis, 0), arr), None,
            _sd.route_tangent(g, _sd.insert_ids(arr, obj, values, axis, 1), values), None)


# ---------------------------------------------------------------- reductions and statistics
# median/quantile/percentile: linear interpolation between the two order statistics around
# q * (n - 1) (numpy's default method); the gradient goes to those two elements


@defvjp(np.median, kind="custom", torch_name="MedianBackward0", view=False)
def median(g, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return (_sd.quantile_grad(g, a, 0.5, axis, keepdims),)


@defjvp(np.median)
def median_jvp(g, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return (_sd.quantile_tangent(g, a, 0.5, axis, keepdims),)


@defvjp(np.quantile, kind="custom", torch_name="QuantileBackward0", view=False)
def quantile(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False, *, weights=None):
    return (_sd.quantile_grad(g, a, q, axis, keepdims, method, weights),
            _sd.quantile_q_grad(g, a, q, axis, keepdims, method, weights))


@defjvp(np.quantile)
def quantile_jvp(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
                 keepdims=False, *, weights=None):
    return (_sd.quantile_tangent(g, a, q, axis, keepdims, method, weights),
            _sd.quantile_q_tangent(g, a, q, axis, keepdims, method, weights))


@defvjp(np.percentile, kind="custom", torch_name="QuantileBackward0", view=False)
def percentile(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, weights=None):
    return (_sd.quantile_grad(g, a, q, axis, keepdims, method, weights, 0.01),
            _sd.quantile_q_grad(g, a, q, axis, keepdims, method, weights, 0.01))


@defjvp(np.percentile)
def percentile_jvp(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
                   keepdims=False, *, weights=None):
    return (_sd.quantile_tangent(g, a, q, axis, keepdims, method, weights, 0.01),
            _sd.quantile_q_tangent(g, a, q, axis, keepdims, method, weights, 0.01))


# ediff1d(ary, to_end, to_begin): to_begin, the differences of ary's entries and to_end, joined
# (review36); all three are differentiable
@defvjp(np.ediff1d, kind="custom", view=False)
def ediff1d(g, ans, ary, to_end=None, to_begin=None):
    return (_sd.ediff1d_part(g, ary, to_end, to_begin, 0),
            _sd.ediff1d_part(g, ary, to_end, to_begin, 1),
            _sd.ediff1d_part(g, ary, to_end, to_begin, 2))


@defjvp(np.ediff1d)
def ediff1d_jvp(g, ans, ary, to_end=None, to_begin=None):
    return (_sd.ediff1d_tangent(g, ary, to_end, to_begin, 0),
            _sd.ediff1d_tangent(g, ary, to_end, to_begin, 1),
            _sd.ediff1d_tangent(g, ary, to_end, to_begin, 2))


# nanmedian/nanquantile/nanpercentile (review36): the same over each row's entries that are not
# NaN (a NaN entry gets no gradient)
@defvjp(np.nanmedian, kind="custom", view=False)
def nanmedian(g, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return (_sd.nanquantile_grad(g, a, 0.5, axis, keepdims),)


@defjvp(np.nanmedian)
def nanmedian_jvp(g, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return (_sd.nanquantile_tangent(g, a, 0.5, axis, keepdims),)


@defvjp(np.nanquantile, kind="custom", view=False)
def nanquantile(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, *, weights=None):
    return (_sd.nanquantile_grad(g, a, q, axis, keepdims, method, weights),
            _sd.nanquantile_q_grad(g, a, q, axis, keepdims, method, weights))


@defjvp(np.nanquantile)
def nanquantile_jvp(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
                    keepdims=False, *, weights=None):
    return (_sd.nanquantile_tangent(g, a, q, axis, keepdims, method, weights),
            _sd.nanquantile_q_tangent(g, a, q, axis, keepdims, method, weights))


@defvjp(np.nanpercentile, kind="custom", view=False)
def nanpercentile(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
                  keepdims=False, *, weights=None):
    return (_sd.nanquantile_grad(g, a, q, axis, keepdims, method, weights, 0.01),
            _sd.nanquantile_q_grad(g, a, q, axis, keepdims, method, weights, 0.01))


@defjvp(np.nanpercentile)
def nanpercentile_jvp(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
                      keepdims=False, *, weights=None):
    return (_sd.nanquantile_tangent(g, a, q, axis, keepdims, method, weights, 0.01),
            _sd.nanquantile_q_tangent(g, a, q, axis, keepdims, method, weights, 0.01))


# average: both `a` and `weights` (same shape as `a`, or 1-D along one axis) are differentiable;
# returned=True gives (average, sum of weights)
@defvjp(np.average, kind="custom", torch_name="DivBackward0", view=False)
def average(g, ans, a, axis=None, weights=None, returned=False, *, keepdims=False):
    return _sd.average_grads(g, ans, a, axis, weights, returned, keepdims)


@defjvp(np.average)
def average_jvp(g, ans, a, axis=None, weights=None, returned=False, *, keepdims=False):
    return (_sd.average_tangent(g, ans, a, axis, weights, returned, keepdims, 0), None,
            _sd.average_tangent(g, ans, a, axis, weights, returned, keepdims, 2), None)


# nansum/nanmean: NaN elements get no gradient (initial= and where= are not supported: they fail to bind)
@defvjp(np.nansum, kind="custom", torch_name="NansumBackward0", view=False)
def nansum(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return (_sd.unreduce(g, a, axis, keepdims) * ~np.isnan(a),)


@defjvp(np.nansum)
def nansum_jvp(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return (np.sum(np.where(np.isnan(a), 0.0, g), axis=axis, keepdims=keepdims),)


@defvjp(np.nanmean, kind="custom", torch_name="DivBackward0", view=False)
def nanmean(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    count = np.sum(~np.isnan(a), axis=axis, keepdims=True)
    return (_sd.unreduce(g, a, axis, keepdims) * ~np.isnan(a) / count,)


@defjvp(np.nanmean)
def nanmean_jvp(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    count = np.sum(~np.isnan(a), axis=axis, keepdims=True)
    return (np.sum(np.where(np.isnan(a), 0.0, g) / count, axis=axis, keepdims=keepdims),)


# nanvar/nanstd/nanprod/nancumsum/nancumprod: the statistic of the elements that are not NaN (numpy
# skips a NaN as a 0 in sums and a 1 in products); a NaN element gets no gradient, nor does an
# all-NaN slice (nan, as numpy's value there)
@defvjp(np.nanvar, kind="custom", torch_name="VarBackward0", view=False)
def nanvar(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = np.where(np.isnan(a), 0.0, a - np.nanmean(a, axis=axis, keepdims=True))
    count = np.sum(~np.isnan(a), axis=axis, keepdims=True) - ddof
    return (np.where(np.isnan(a), 0.0, _sd.unreduce(g, a, axis, keepdims) * 2.0 * centered / count),)


@defjvp(np.nanvar)
def nanvar_jvp(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = np.where(np.isnan(a), 0.0, a - np.nanmean(a, axis=axis, keepdims=True))
    count = np.sum(~np.isnan(a), axis=axis, keepdims=keepdims) - ddof
    return (np.sum(2.0 * centered * np.where(np.isnan(a), 0.0, g), axis=axis, keepdims=keepdims) / count,)


# (a std of 0 gets the gradient 0, as np.std's rule)
@defvjp(np.nanstd, kind="custom", torch_name="StdBackward0", view=False)
def nanstd(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = np.where(np.isnan(a), 0.0, a - np.nanmean(a, axis=axis, keepdims=True))
    scale = (np.sum(~np.isnan(a), axis=axis, keepdims=True) - ddof) * _sd.keep(ans, a, axis, keepdims)
    return (_sd.unreduce(g, a, axis, keepdims) * np.where(
        np.isnan(a) | (scale == 0), 0.0, centered / np.where(scale == 0, 1.0, scale)),)


@defjvp(np.nanstd)
def nanstd_jvp(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = np.where(np.isnan(a), 0.0, a - np.nanmean(a, axis=axis, keepdims=True))
    scale = (np.sum(~np.isnan(a), axis=axis, keepdims=keepdims) - ddof) * ans
    return (np.where(scale == 0, 0.0, np.sum(centered * np.where(np.isnan(a), 0.0, g), axis=axis,
                                             keepdims=keepdims) / np.where(scale == 0, 1.0, scale)),)


@defvjp(np.nanprod, kind="custom", torch_name="ProdBackward0", view=False)
def nanprod(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return (np.where(np.isnan(a), 0.0, _sd.unreduce(g, a, axis, keepdims) *
                     _sd.prod_others(np.where(np.isnan(a), 1.0, a), axis)),)


@defjvp(np.nanprod)
def nanprod_jvp(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return (np.sum(np.where(np.isnan(a), 0.0, g) * _sd.prod_others(np.where(np.isnan(a), 1.0, a), axis),
                   axis=axis, keepdims=keepdims),)


@defvjp(np.nancumsum, kind="custom", torch_name="CumsumBackward0", view=False)
def nancumsum(g, ans, a, axis=None, dtype=None, out=None):
    return (np.where(np.isnan(a), 0.0, _sd.cumsum_grad(g, a, axis)),)


@defjvp(np.nancumsum)
def nancumsum_jvp(g, ans, a, axis=None, dtype=None, out=None):
    return (np.cumsum(np.where(np.isnan(a), 0.0, g), axis=axis),)


# (cumprod's rule on the array with its NaNs read as 1, which is what nancumprod multiplies)
@defvjp(np.nancumprod, kind="custom", torch_name="CumprodBackward0", view=False)
def nancumprod(g, ans, a, axis=None, dtype=None, out=None):
    return (np.where(np.isnan(a), 0.0, np.reshape(_sd.shifted(ans, 1, axis, 1.0) * _sd.scan(
        g, np.reshape(np.where(np.isnan(a), 1.0, a), _sd.shape(ans)), axis, True), _sd.shape(a))),)


@defjvp(np.nancumprod)
def nancumprod_jvp(g, ans, a, axis=None, dtype=None, out=None):
    return (_sd.scan(np.reshape(np.where(np.isnan(a), 0.0, g * np.ones_like(a)), _sd.shape(ans)) *
                     _sd.shifted(ans, 1, axis, 1.0),
                     np.reshape(np.where(np.isnan(a), 1.0, a), _sd.shape(ans)), axis),)


# sliding_window_view: a view whose windows overlap; an element gets the sum of its windows' g
@defvjp(np.lib.stride_tricks.sliding_window_view, kind="linear", torch_name="UnfoldBackward0",
        view=True)
def sliding_window_view(g, ans, x, window_shape, axis=None, *, subok=False, writeable=False):
    return (_sd.windows_grad(g, x, window_shape, axis), None, None)


# as_strided (im2col and other window views written by hand): an element gets the sum of the g
# of every place the view reads it; x must be C-contiguous (the strides are bytes of its memory)
@defvjp(np.lib.stride_tricks.as_strided, kind="linear", torch_name="AsStridedBackward0",
        view=True)
def as_strided(g, ans, x, shape=None, strides=None, subok=False, writeable=True,
               check_bounds=None):  # (check_bounds: the newest numpy's; the rule checks its own)
    return (_sd.strided_grad(g, x, shape, strides), None, None, None, None, None)


@defjvp(np.lib.stride_tricks.as_strided)
def as_strided_jvp(t, ans, x, shape=None, strides=None, subok=False, writeable=True,
                   check_bounds=None):
    return (_sd.strided_take(t, x, shape, strides), None, None, None, None, None)


# bincount: each weight goes to the bin its index names (the indices carry no derivative)
@defvjp(np.bincount, kind="linear", torch_name="BincountBackward0", view=False)
def bincount(g, ans, x, weights=None, minlength=0):
    return (None, np.take(g, x), None)


# take_along_axis: each element taken gets its g back (an index taken twice gets both)
@defvjp(np.take_along_axis, kind="linear", torch_name="GatherBackward0", view=False)
def take_along_axis(g, ans, arr, indices, axis=-1):
    return (_sd.take_along_grad(g, arr, indices, axis), None)


# ptp = max - min; tied extremes share the gradient evenly (as max/min)
@defvjp(np.ptp, kind="custom", torch_name="SubBackward0", view=False)
def ptp(g, ans, a, axis=None, out=None, keepdims=False):
    w = _sd.extremum_weights(a, np.max(a, axis=axis, keepdims=keepdims), axis, keepdims) - \
        _sd.extremum_weights(a, np.min(a, axis=axis, keepdims=keepdims), axis, keepdims)
    return (_sd.unreduce(g, a, axis, keepdims) * w,)


@defjvp(np.ptp)
def ptp_jvp(g, ans, a, axis=None, out=None, keepdims=False):
    w = _sd.extremum_weights(a, np.max(a, axis=axis, keepdims=keepdims), axis, keepdims) - \
        _sd.extremum_weights(a, np.min(a, axis=axis, keepdims=keepdims), axis, keepdims)
    return (np.sum(g * w, axis=axis, keepdims=keepdims),)


# ---------------------------------------------------------------- signals and polynomials


# interp: x, xp, fp (and left/right where used) are differentiable; period= is refused. At a knot
# x == xp[i] the slope of the segment to the right is used.
@defvjp(np.interp, kind="custom", view=False)
def interp(g, ans, x, xp, fp, left=None, right=None, period=None):
    return _sd.interp_grads(g, x, xp, fp, left, right, period)


@defjvp(np.interp)
def interp_jvp(g, ans, x, xp, fp, left=None, right=None, period=None):
    return (_sd.interp_tangent(g, x, xp, fp, left, right, period, 0),
            _sd.interp_tangent(g, x, xp, fp, left, right, period, 1),
            _sd.interp_tangent(g, x, xp, fp, left, right, period, 2),
            _sd.interp_tangent(g, x, xp, fp, left, right, period, 3),
            _sd.interp_tangent(g, x, xp, fp, left, right, period, 4), None)


# convolve/correlate (1-D): the gradient of the mode's result padded to the full one, then
# correlated with the other operand. np.correlate conjugates its second operand: the np.conj calls
# undo that where the rule's correlate should not conjugate, and give v's conjugate gradient (a
# real operand's conj is itself)
@defvjp(np.convolve, kind="linear", torch_name="ConvolutionBackward0", view=False)
def convolve(g, ans, a, v, mode="full"):
    full = np.pad(g, _sd.conv_pad_width(a, v, mode))
    return (np.correlate(full, np.conj(v), "valid"), np.correlate(full, np.conj(a), "valid"), None)


@defvjp(np.correlate, kind="linear", torch_name="ConvolutionBackward0", view=False)
def correlate(g, ans, a, v, mode="valid"):
    full = np.pad(g, _sd.conv_pad_width(a, v, mode, True))
    return (np.convolve(full, np.conj(v), "valid"),
            np.conj(np.flip(np.correlate(full, np.conj(a), "valid"))), None)


@defvjp(np.polyval, kind="custom", view=False)
def polyval(g, ans, p, x):
    powers = np.power(np.expand_dims(x, -1), _sd.poly_exponents(p))
    return (np.tensordot(g, powers, np.ndim(x)),
            g * np.polyval(p[:-1] * _sd.poly_exponents(p)[:-1], x))


@defjvp(np.polyval)
def polyval_jvp(g, ans, p, x):
    return (np.polyval(g, x), g * np.polyval(p[:-1] * _sd.poly_exponents(p)[:-1], x))


# trapezoid/trapz are linear in y, in x and in dx separately (bilinear in (y, x))
_TRAPEZOID = tuple(getattr(np, name) for name in ("trapezoid", "trapz") if hasattr(np, name))


@defvjp(*_TRAPEZOID, kind="linear", torch_name="TrapezoidBackward0", view=False)
def trapezoid(g, ans, y, x=None, dx=1.0, axis=-1):
    return _sd.trapezoid_grads(g, y, x, dx, axis)


# np.fft: linear maps whose matrices are symmetric, so the gradient of the input is the same
# transform of g, cut or zero-padded back to the input's length (n=, s=; spectrum_fit), real for a
# real input. rfft is the first n//2 + 1 rows of fft: its transpose is fft of g zero-padded to n.
# irfft reads each entry k of its input for itself and its conjugate mirror (hermitian_weights)
@defvjp(np.fft.fft, kind="linear", view=False)
def fft(g, ans, a, n=None, axis=-1, norm=None):
    return (_sd.spectrum_fit(np.fft.fft(g, None, axis, norm), a, (axis,)),)


@defvjp(np.fft.ifft, kind="linear", view=False)
def ifft(g, ans, a, n=None, axis=-1, norm=None):
    return (_sd.spectrum_fit(np.fft.ifft(g, None, axis, norm), a, (axis,)),)


@defvjp(np.fft.fft2, np.fft.fftn, kind="linear", view=False)
def fftn(g, ans, a, s=None, axes=None, norm=None):
    return (_sd.spectrum_fit(np.fft.fftn(g, None, _sd.spectrum_axes(a, s, axes), norm), a,
                             _sd.spectrum_axes(a, s, axes)),)


@defvjp(np.fft.ifft2, np.fft.ifftn, kind="linear", view=False)
def ifftn(g, ans, a, s=None, axes=None, norm=None):
    return (_sd.spectrum_fit(np.fft.ifftn(g, None, _sd.spectrum_axes(a, s, axes), norm), a,
                             _sd.spectrum_axes(a, s, axes)),)


@defvjp(np.fft.rfft, kind="linear", view=False)
def rfft(g, ans, a, n=None, axis=-1, norm=None):
    return (_sd.spectrum_fit(np.fft.fft(g, _sd.spectrum_length(a, n, axis), axis, norm), a,
                             (axis,)),)


@defvjp(np.fft.irfft, kind="linear", view=False)
def irfft(g, ans, a, n=None, axis=-1, norm=None):
    return (_sd.spectrum_fit(_sd.hermitian_weights(g, axis) * np.fft.ifft(np.real(g), None, axis,
                                                                          norm), a, (axis,)),)


@defvjp(np.fft.fftshift, kind="linear", view=False)
def fftshift(g, ans, x, axes=None):
    return (np.fft.ifftshift(g, axes),)


@defvjp(np.fft.ifftshift, kind="linear", view=False)
def ifftshift(g, ans, x, axes=None):
    return (np.fft.fftshift(g, axes),)


# ---------------------------------------------------------------- linear algebra
# Symmetric inputs (eigh, eigvalsh, cholesky): numpy reads one triangle only (UPLO / upper); the
# gradient is the derivative of that function of the entries it reads, which is zero on the other
# triangle. For a symmetric perturbation it equals the usual symmetric gradient.


@defvjp(np.linalg.svd, kind="custom", torch_name="LinalgSvdBackward0", view=False)
def svd(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    return _sd.svd_grad(g, ans, _sd.real_only(a, "np.linalg.svd"), full_matrices, compute_uv, hermitian)


# cond(x) = s_max / s_min (p None or 2; p=-2 its inverse): d log cond = u0' dx v0 / s0 - un' dx vn
# / sn, from the first and last singular triplets (review30)
@defvjp(np.linalg.cond, kind="custom", torch_name="LinalgSvdBackward0", view=False)
def cond(g, ans, x, p=None):
    u, s, vt = np.linalg.svd(_sd.real_only(x, "np.linalg.cond"), full_matrices=False)
    w = np.reshape(g * ans * _sd.cond_sign(p), np.shape(ans) + (1, 1))
    return (w * (u[..., :, :1] @ vt[..., :1, :] / s[..., :1, None]
                 - u[..., :, -1:] @ vt[..., -1:, :] / s[..., -1:, None]), None)


@defjvp(np.linalg.cond)
def cond_jvp(g, ans, x, p=None):
    u, s, vt = np.linalg.svd(_sd.real_only(x, "np.linalg.cond"), full_matrices=False)
    return (ans * _sd.cond_sign(p) * (
        np.sum(u[..., :, :1] * (g @ np.swapaxes(vt[..., :1, :], -1, -2)), axis=(-2, -1)) / s[..., 0]
        - np.sum(u[..., :, -1:] * (g @ np.swapaxes(vt[..., -1:, :], -1, -2)), axis=(-2, -1))
        / s[..., -1]), None)


@defjvp(np.linalg.svd)
def svd_jvp(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    return (_sd.svd_tangent(g, ans, _sd.real_only(a, "np.linalg.svd"), full_matrices, compute_uv, hermitian),)


# eigh and cholesky vjps are written with differentiable numpy calls (matmul, solve, swapaxes,
# where, indexing), so their second derivatives come from those calls' rules. At a repeated
# eigenvalue the pair's 1 / (w_j - w_i) is taken as 0 where the eigenvector gradient c has no
# antisymmetric part there (none when only the eigenvalues are used: torch and JAX skip the term),
# and is nan where it has one (the eigenvectors' choice of basis matters, no derivative exists)
@defvjp(np.linalg.eigh, kind="custom", torch_name="LinalgEighBackward0", view=False)
def eigh(g, ans, a, UPLO="L"):
    gs = _sd.dense_items(g, ans)
    gap = ans[0][..., None, :] - ans[0][..., :, None]
    m = gs[0][..., :, None] * _sd.eye_like(ans[0]) + (
        np.where(gap == 0, 0.0, 1.0 / np.where(gap == 0, 1.0, gap)) +
        _sd.degenerate_nan(gap, ans[1], gs[1])) * (np.swapaxes(
            _sd.real_only(ans[1], "np.linalg.eigh"), -1, -2) @ gs[1])
    return ((ans[1] @ (m + np.swapaxes(m, -1, -2)) @ np.swapaxes(ans[1], -1, -2)) *
            _sd.phi_mask(ans[1], UPLO), None)


@defjvp(np.linalg.eigh)
def eigh_jvp(g, ans, a, UPLO="L"):
    return (_sd.eigh_tangent(g, ans, _sd.real_only(a, "np.linalg.eigh"), UPLO), None)


@defvjp(np.linalg.eigvalsh, kind="custom", torch_name="LinalgEighBackward0", view=False,
        shapes="evaluate")
def eigvalsh(g, ans, a, UPLO="L"):
    return _sd.eigvalsh_grad(g, ans, _sd.real_only(a, "np.linalg.eigvalsh"), UPLO)


@defjvp(np.linalg.eigvalsh)
def eigvalsh_jvp(g, ans, a, UPLO="L"):
    return (_sd.eigvalsh_tangent(g, ans, _sd.real_only(a, "np.linalg.eigvalsh"), UPLO), None)


# with L = ans (lower) and P = the lower triangle of L^T g with its diagonal halved, the gradient
# is S + S^T on the triangle numpy reads (diagonal halved), S = L^-T P L^-1
@defvjp(np.linalg.cholesky, kind="custom", torch_name="LinalgCholeskyExBackward0", view=False,
        shapes="evaluate")
def cholesky(g, ans, a, *, upper=False):
    lt = np.where(upper, ans, np.swapaxes(ans, -1, -2))
    p = (lt @ np.where(upper, np.swapaxes(g, -1, -2), g)) * _sd.phi_mask(
        _sd.real_only(ans, "np.linalg.cholesky"), True)  # (a call no constant upper= folds away)
    s = np.linalg.solve(lt, np.swapaxes(np.linalg.solve(lt, np.swapaxes(p, -1, -2)), -1, -2))
    return ((s + np.swapaxes(s, -1, -2)) * _sd.phi_mask(ans, not upper),)


@defjvp(np.linalg.cholesky)
def cholesky_jvp(g, ans, a, *, upper=False):
    return (_sd.cholesky_tangent(g, ans, _sd.real_only(a, "np.linalg.cholesky"), upper),)


# qr: modes 'reduced' and 'r' (and 'complete' of a square matrix), rows >= columns, full rank
@defvjp(np.linalg.qr, kind="custom", torch_name="LinalgQrBackward0", view=False)
def qr(g, ans, a, mode="reduced"):
    return _sd.qr_grad(g, ans, _sd.real_only(a, "np.linalg.qr"), mode)


@defjvp(np.linalg.qr)
def qr_jvp(g, ans, a, mode="reduced"):
    return (_sd.qr_tangent(g, ans, _sd.real_only(a, "np.linalg.qr"), mode),)


# pinv of a full-rank matrix (the rank is locally constant there); hermitian=True is refused
# (written with matmul and swapaxes: second order comes from their rules)
@defvjp(np.linalg.pinv, kind="custom", torch_name="PinverseBackward0", view=False,
        shapes="evaluate")
def pinv(g, ans, a, rcond=None, hermitian=False, *, rtol=None):
    xt = np.swapaxes(_sd.refuse_if(ans, hermitian, "np.linalg.pinv with hermitian=True"), -1, -2)
    xt = _sd.real_only(xt, "np.linalg.pinv")
    gt = np.swapaxes(g, -1, -2)
    return (-(xt @ g @ xt) + (gt - a @ (ans @ gt)) @ (ans @ xt) + (xt @ ans) @ (gt - gt @ ans @ a),
            None, None, None)


@defjvp(np.linalg.pinv)
def pinv_jvp(g, ans, a, rcond=None, hermitian=False, *, rtol=None):
    return (_sd.pinv_tangent(g, ans, _sd.real_only(a, "np.linalg.pinv"), rcond, hermitian, rtol),)


# lstsq (full rank): (x, residuals, rank, s); x, residuals and s are differentiable, rank is not
@defvjp(np.linalg.lstsq, kind="custom", torch_name="LinalgLstsqBackward0", view=False)
def lstsq(g, ans, a, b, rcond=None):
    return _sd.lstsq_grads(g, ans, _sd.real_only(a, "np.linalg.lstsq"), b, rcond)


@defjvp(np.linalg.lstsq)
def lstsq_jvp(g, ans, a, b, rcond=None):
    return (_sd.lstsq_tangent(g, ans, _sd.real_only(a, "np.linalg.lstsq"), b, rcond, 0),
            _sd.lstsq_tangent(g, ans, a, b, rcond, 1),
            None)


# (view=True: matrix_power(a, 1) returns a itself, so the result may be its operand)
@defvjp(np.linalg.matrix_power, kind="custom", torch_name="LinalgMatrixPowerBackward0", view=True,
        shapes="evaluate")
def matrix_power(g, ans, a, n):
    return _sd.matrix_power_grad(g, ans, a, n)


@defjvp(np.linalg.matrix_power)
def matrix_power_jvp(g, ans, a, n):
    return (_sd.matrix_power_tangent(g, ans, a, n), None)


@defvjp(np.linalg.multi_dot, kind="custom", torch_name="MmBackward0", view=False,
        shapes="evaluate")
def multi_dot(g, ans, arrays, *, out=None):
    return (_sd.multi_dot_grads(g, arrays),)


@defjvp(np.linalg.multi_dot)
def multi_dot_jvp(g, ans, arrays, *, out=None):
    return (_sd.multi_dot_tangent(g, arrays),)


# eig: real input with real distinct eigenvalues (complex ones are refused); eigenvectors have unit
# norm as numpy returns them
@defvjp(np.linalg.eig, kind="custom", torch_name="LinalgEigBackward0", view=False)
def eig(g, ans, a):
    return _sd.eig_grad(g, ans, a)


@defjvp(np.linalg.eig)
def eig_jvp(g, ans, a):
    return (_sd.eig_tangent(g, ans, a),)


# eigvals: the eigenvalues of eig (real and distinct; complex ones are refused there) (review30)
@defvjp(np.linalg.eigvals, kind="custom", torch_name="LinalgEigBackward0", view=False)
def eigvals(g, ans, a):
    return _sd.eig_grad((g, None), np.linalg.eig(a), a)


@defjvp(np.linalg.eigvals)
def eigvals_jvp(g, ans, a):
    return (_sd.eig_tangent(g, np.linalg.eig(a), a)[0],)


# ---------------------------------------------------------------- nanmax / nanmin
# A NaN entry is left out of the value, so it gets no gradient (and no tangent); the others get
# what np.max / np.min give them (ties share). (nansum and nanmean are above.)


@defvjp(np.nanmax, np.nanmin, kind="custom", torch_name="MaxBackward1", view=False,
        full_reduction=True)
def nanmax(g, ans, a, axis=None, out=None, keepdims=False):
    # (a NaN never equals the extremum: extremum_weights leaves it out)
    return (_sd.unreduce(g, a, axis, keepdims) * _sd.extremum_weights(a, ans, axis, keepdims),)


@defjvp(np.nanmax, np.nanmin)
def nanmax_jvp(g, ans, a, axis=None, out=None, keepdims=False):
    return (np.sum(np.where(np.isnan(a), 0.0, g) * _sd.extremum_weights(a, ans, axis, keepdims),
                   axis=axis, keepdims=keepdims),)


# ---------------------------------------------------------------- helpers of these rules (grad of grad)


# spectrum_fit cuts or pads along axes (and takes a real input's real part): its transpose cuts or
# pads back to g's sizes
@defvjp(_sd.spectrum_fit, kind="linear")
def spectrum_fit_helper(b, out, g, like, axes):
    return (_sd.spectrum_fit(b, g, axes), None, None)


defnondiff(_sd.spectrum_axes, _sd.spectrum_length, _sd.hermitian_weights,
           reason="the result is axes, a length or weights read from the arguments' shapes")


@defvjp(_sd.refuse_if, kind="linear")
def refuse_if_helper(b, out, value, flag, what):
    return (b, None, None)


@defvjp(_sd.real_only, kind="linear")
def real_only_helper(b, out, x, what):
    return (b, None)


@defvjp(_sd.select_grads, kind="linear")
def select_grads_helper(b, out, g, condlist, choicelist, ans):
    return (_sd.select_tangent(b, condlist, ans), None, None, None)


@defvjp(_sd.select_tangent, kind="linear")
def select_tangent_helper(b, out, t, condlist, ans):
    return (_sd.select_grads(b, condlist, t, ans), None, None)


@defvjp(_sd.dense_items, kind="linear")
def dense_items_helper(b, out, g, ans):
    return (b, None)


@defvjp(_sd.route_grad, kind="linear")
def route_grad_helper(b, out, g, ids, x):
    return (_sd.route_tangent(b, ids, x), None, None)


@defvjp(_sd.route_tangent, kind="linear")
def route_tangent_helper(b, out, t, ids, x):
    return (_sd.route_grad(b, ids, x), None, None)


# np.cross's 2-vectors as 3-vectors, and its cotangent as one of 3-vectors (rules/numpy_rules.py)
@defvjp(_sd.cross_vec3, kind="linear", view=True)
def cross_vec3_helper(g, ans, x):
    return (g[..., :np.shape(x)[-1]],)


@defvjp(_sd.cross_cotangent, kind="linear", view=True)
def cross_cotangent_helper(h, ans, g, a, b, axisc):
    return (_sd.cross_cotangent_adjoint(h, a, b, axisc), None, None, None)


@defvjp(_sd.cross_cotangent_adjoint, kind="linear", view=True)
def cross_cotangent_adjoint_helper(g, ans, h, a, b, axisc):
    return (_sd.cross_cotangent(g, a, b, axisc), None, None, None)


defnondiff(np.isposinf, np.isneginf, reason="the result is booleans", view=False)
defnondiff(
    _sd.kron_operand_shape, _sd.kron_split_shape, _sd.kron_subscripts, _sd.rollaxis_inverse,
    _sd.conv_pad_width, _sd.cross_axis, _sd.layout_axes, _sd.reshape_order,
    reason="shapes, axes, pad widths and einsum subscripts computed from the arguments' shapes")
defnondiff(_sd.insert_ids, _sd.select_default_mask,
           reason="integer positions and boolean masks: where each element of a result comes from")
defnondiff(_sd.poly_exponents, _sd.phi_mask, _sd.eye_like, _sd.degenerate_nan,
           reason="constant arrays (exponents, triangle masks, identities) of the arguments' shapes")


# ---------------------------------------------------------------- selections and grids


# delete: a selection of arr's elements; each kept element's gradient goes back where it came from
@defvjp(np.delete, kind="linear", view=False)
def delete(g, ans, arr, obj, axis=None):
    return (_sd.route_grad(g, _sd.delete_ids(arr, obj, axis), arr), None, None)


# meshgrid: output i repeats input i along the other axes (g holds one gradient per output)
@defvjp(np.meshgrid, kind="custom", view=True)
def meshgrid(g, ans, *xi, copy=True, sparse=False, indexing="xy"):
    return _sd.meshgrid_grads(g, xi, copy, sparse, indexing)


@defjvp(np.meshgrid)
def meshgrid_jvp(t, ans, *xi, copy=True, sparse=False, indexing="xy"):
    return _sd.meshgrid_tangents(t, xi, copy, sparse, indexing)


# cov: of m's (and y's) rows, or columns with rowvar=False; the weights are constants
@defvjp(np.cov, kind="custom", view=False, unimplemented=("fweights", "aweights"))
def cov(g, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None,
        dtype=None):
    grads = _sd.cov_grads(g, m, y, rowvar, bias, ddof, fweights, aweights)
    return (grads[0], grads[1], None, None, None, None, None, None)


@defjvp(np.cov)
def cov_jvp(g, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None,
            dtype=None):
    return (_sd.cov_tangent(g, 0, m, y, rowvar, bias, ddof, fweights, aweights),
            _sd.cov_tangent(g, 1, m, y, rowvar, bias, ddof, fweights, aweights),
            None, None, None, None, None, None)


# cumulative_sum (numpy 2.1): cumsum, with a leading 0 when include_initial
@defvjp(*present(np, "cumulative_sum"), kind="linear", torch_name="CumsumBackward0", view=False)
def cumulative_sum(g, ans, x, *, axis=None, dtype=None, out=None, include_initial=False):
    return (_sd.cumsum_grad(_sd.drop_initial(g, axis, include_initial), x, axis),)


# x1 * 2 ** x2 with an integer exponent (which carries no derivative): g scaled the same way,
# exactly
@defvjp(np.ldexp, math.ldexp, kind="elementwise", broadcast=True, torch_name="MulBackward0")
def ldexp(g, ans, x1, x2):
    return (np.ldexp(g, x2), None)


# ---------------------------------------------------------------- ufunc methods
# np.add.reduce is np.sum along axis 0 by default (np.logaddexp.reduce a log-sum-exp), and
# np.add.accumulate / np.multiply.accumulate are cumsum / cumprod along axis 0 by default


@defvjp(np.add.reduce, kind="linear", torch_name="SumBackward1", view=False)
def add_reduce(g, ans, array, axis=0, dtype=None, out=None, keepdims=False):
    return (_sd.unreduce(g, array, axis, keepdims),)


@defvjp(np.multiply.reduce, kind="custom", torch_name="ProdBackward1", view=False)
def multiply_reduce(g, ans, array, axis=0, dtype=None, out=None, keepdims=False):
    return (_sd.unreduce(g, array, axis, keepdims) * _sd.prod_others(array, axis),)


@defjvp(np.multiply.reduce)
def multiply_reduce_jvp(g, ans, array, axis=0, dtype=None, out=None, keepdims=False):
    return (np.sum(g * _sd.prod_others(array, axis), axis=axis, keepdims=keepdims),)


@defvjp(np.maximum.reduce, np.minimum.reduce, kind="custom", torch_name="AmaxBackward0",
        view=False)
def extremum_reduce(g, ans, array, axis=0, dtype=None, out=None, keepdims=False):
    return (_sd.unreduce(g, array, axis, keepdims) *
            _sd.extremum_weights(array, ans, axis, keepdims),)


@defjvp(np.maximum.reduce, np.minimum.reduce)
def extremum_reduce_jvp(g, ans, array, axis=0, dtype=None, out=None, keepdims=False):
    return (np.sum(g * _sd.extremum_weights(array, ans, axis, keepdims), axis=axis,
                   keepdims=keepdims),)


@defvjp(np.logaddexp.reduce, kind="custom", torch_name="LogsumexpBackward0", view=False)
def logaddexp_reduce(g, ans, array, axis=0, dtype=None, out=None, keepdims=False):
    return (_sd.unreduce(g, array, axis, keepdims) *
            np.exp(array - _sd.keep(ans, array, axis, keepdims)),)


@defjvp(np.logaddexp.reduce)
def logaddexp_reduce_jvp(g, ans, array, axis=0, dtype=None, out=None, keepdims=False):
    return (np.sum(g * np.exp(array - _sd.keep(ans, array, axis, keepdims)), axis=axis,
                   keepdims=keepdims),)


@defvjp(np.add.accumulate, kind="linear", torch_name="CumsumBackward0", view=False)
def add_accumulate(g, ans, array, axis=0, dtype=None, out=None):
    return (_sd.cumsum_grad(g, array, axis),)


@defvjp(np.multiply.accumulate, kind="custom", torch_name="CumprodBackward0", view=False)
def multiply_accumulate(g, ans, array, axis=0, dtype=None, out=None):
    return (_sd.shifted(ans, 1, axis, 1.0) * _sd.scan(g, array, axis, True),)


@defjvp(np.multiply.accumulate)
def multiply_accumulate_jvp(g, ans, array, axis=0, dtype=None, out=None):
    return (_sd.scan(g * np.ones_like(array) * _sd.shifted(ans, 1, axis, 1.0), array, axis),)


# running maximum / minimum (review30): each entry is the array's entry at the running extremum's
# position (the last one on ties, as torch.cummax), so its gradient goes back there
@defvjp(np.maximum.accumulate, np.minimum.accumulate, kind="custom", torch_name="CummaxBackward0",
        view=False)
def extremum_accumulate(g, ans, array, axis=0, dtype=None, out=None):
    return (_sd.take_along_grad(g, array, _sd.running_arg(ans, array, axis), axis),)


@defjvp(np.maximum.accumulate, np.minimum.accumulate)
def extremum_accumulate_jvp(g, ans, array, axis=0, dtype=None, out=None):
    return (np.take_along_axis(g * np.ones_like(array), _sd.running_arg(ans, array, axis), axis),)


# ---------------------------------------------------------------- written in numpy (review36)
# functions without a rule, differentiated as the runtime's versions of them written in numpy
# operations that have rules (runtime/written.py): every mode and order through their source
defwritten(np.corrcoef, _sd.corrcoef)
defwritten(np.polyfit, _sd.polyfit)
defwritten(np.angle, _sd.angle)
# a ufunc's outer (np.multiply.outer(a, b)): the ufunc of a with b's axes added after its own
defwritten(np.add.outer, _sd.add_outer)
defwritten(np.subtract.outer, _sd.subtract_outer)
defwritten(np.multiply.outer, _sd.multiply_outer)
defwritten(np.divide.outer, _sd.divide_outer)
defwritten(np.apply_along_axis, _sd.apply_along_axis)
defwritten(np.piecewise, _sd.piecewise)
# numpy 2.x's vector and matrix functions, and two ufunc reductions (review84)
for _key in present(np, "vecdot") + present(np.linalg, "vecdot"):
    defwritten(_key, _sd.vecdot)
for _key in present(np, "matrix_transpose") + present(np.linalg, "matrix_transpose"):
    defwritten(_key, _sd.matrix_transpose)
for _key, _fn in (("matvec", _sd.matvec), ("vecmat", _sd.vecmat)):
    for _k in present(np, _key):
        defwritten(_k, _fn)
for _key, _fn in (("vector_norm", _sd.vector_norm), ("matrix_norm", _sd.matrix_norm),
                  ("svdvals", _sd.svdvals)):
    for _k in present(np.linalg, _key):
        defwritten(_k, _fn)
defwritten(np.subtract.reduce, _sd.subtract_reduce)
defwritten(np.add.reduceat, _sd.add_reduceat)
defnondiff(_sd.reduceat_weights, reason="the 0/1 matrix of the slices np.add.reduceat sums",
           view=False)


@defvjp(np.ndarray.take, kind="linear", torch_name="TakeBackward0", view=False)
def take_method(g, ans, a, indices, axis=None, out=None, mode="raise"):
    return (_sd.take_grad(g, a, indices, axis, mode), None)
