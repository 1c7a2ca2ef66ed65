"""numpy's rules, continued (see ``numpy_rules.py`` for the contract): array creation, whose
differentiability is per argument; index concatenation; the functions whose results carry no
derivative, each group with its reason; and functions with effects."""

import builtins
import math
import operator

import numpy as np

from .. import runtime as _sd
from .registry import deffacts, defjvp, defnondiff, defvjp

# ---------------------------------------------------------------- array creation
# Differentiability is per argument: a shape, a count or a dtype carries none, a fill value, an
# interval's ends and a step do. Each None below is such a declaration.


@defvjp(np.full, kind="linear", broadcast=True, view=False)
def full(g, ans, shape, fill_value, dtype=None, order="C", *, device=None, like=None):
    # shape: integers, no derivative; the fill value reaches every entry
    return (None, g)


@defvjp(np.full_like, kind="linear", broadcast=True, view=False)
def full_like(g, ans, a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    # a gives only its shape and dtype; the fill value reaches every entry
    return (None, g)


@defvjp(np.heaviside, kind="elementwise", broadcast=True)
def heaviside(g, ans, x1, x2, /, out=None, *, where=True, casting="same_kind", order="K",
              dtype=None, subok=True, signature=None):
    # a step in x1 (derivative 0 on both sides, as np.sign); x2 is the value where x1 == 0
    return (None, g * (x1 == 0))


# arange(start, stop, step): entry k is start + k * step; stop only decides how many there are
# (piecewise constant), and arange(n) counts from 0, so n has no derivative either
@defvjp(np.arange, kind="custom", view=False)
def arange(g, ans, start_or_stop, /, stop=None, step=1, *, dtype=None, device=None, like=None):
    return (np.sum(g) * (stop is not None), None, np.sum(g * np.arange(np.size(g))))


@defjvp(np.arange)
def arange_jvp(t, ans, start_or_stop, /, stop=None, step=1, *, dtype=None, device=None, like=None):
    return (t * np.ones_like(ans) * (stop is not None), None, t * np.arange(np.size(ans)))


# linspace: entry k is start + f_k (stop - start), f_k = k / (num - 1) (k / num without the
# endpoint), along the new axis; num, endpoint and axis carry no derivative
@defvjp(np.linspace, kind="custom", view=False)
def linspace(g, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
             device=None):
    f = _sd.space_fractions(ans, num, endpoint, axis, retstep)
    return (_sd.unbroadcast(np.sum(g * (1.0 - f), axis=axis), start),
            _sd.unbroadcast(np.sum(g * f, axis=axis), stop), None, None)


@defjvp(np.linspace)
def linspace_jvp(t, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
                 device=None):
    f = _sd.space_fractions(ans, num, endpoint, axis, retstep)
    return (np.expand_dims(t, axis) * (1.0 - f), np.expand_dims(t, axis) * f, None, None)


# logspace: base ** linspace(start, stop); base's derivative is ans * exponent / base
@defvjp(np.logspace, kind="custom", view=False)
def logspace(g, ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    f = _sd.space_fractions(ans, num, endpoint, axis, False, base)
    d = g * ans * np.log(base)
    return (_sd.unbroadcast(np.sum(d * (1.0 - f), axis=axis), start),
            _sd.unbroadcast(np.sum(d * f, axis=axis), stop), None, None,
            np.sum(d * np.log(ans) / (np.log(base) * np.log(base) * base)))


@defjvp(np.logspace)
def logspace_jvp(t, ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    f = _sd.space_fractions(ans, num, endpoint, axis, False, base)
    d = ans * np.log(base)
    return (np.expand_dims(t, axis) * (1.0 - f) * d, np.expand_dims(t, axis) * f * d, None, None,
            t * ans * np.log(ans) / (np.log(base) * base))


# geomspace: start * (stop / start) ** f, so d/dstart = ans (1 - f) / start, d/dstop = ans f / stop
@defvjp(np.geomspace, kind="custom", view=False)
def geomspace(g, ans, start, stop, num=50, endpoint=True, dtype=None, axis=0):
    f = _sd.space_fractions(ans, num, endpoint, axis, False)
    return (_sd.unbroadcast(np.sum(g * ans * (1.0 - f), axis=axis) / start, start),
            _sd.unbroadcast(np.sum(g * ans * f, axis=axis) / stop, stop), None, None)


@defjvp(np.geomspace)
def geomspace_jvp(t, ans, start, stop, num=50, endpoint=True, dtype=None, axis=0):
    f = _sd.space_fractions(ans, num, endpoint, axis, False)
    return (np.expand_dims(t / start, axis) * ans * (1.0 - f), np.expand_dims(t / stop, axis) * ans * f,
            None, None)


# ---------------------------------------------------------------- index concatenation
# np.r_[x, 2.0, 1:4] and np.c_[a, b]: the result is a rearrangement of the float items, so each
# item's gradient reads g where its entries landed (found by placing tagged copies)


@defvjp(np.r_, kind="custom", view=False)
def r_(g, ans, *items):
    return _sd.index_concat_grads(g, np.r_, items)


@defjvp(np.r_)
def r_jvp(t, ans, *items):
    return _sd.index_concat_tangents(t, np.r_, items)


@defvjp(np.c_, kind="custom", view=False)
def c_(g, ans, *items):
    return _sd.index_concat_grads(g, np.c_, items)


@defjvp(np.c_)
def c_jvp(t, ans, *items):
    return _sd.index_concat_tangents(t, np.c_, items)


# ---------------------------------------------------------------- not differentiable
# Each group says why its results carry no derivative; a function some of whose arguments do
# carry one has a rule above with None for the others (np.full, np.arange, np.heaviside).

defnondiff(
    np.shape, np.ndim, np.size, len, np.ndarray.shape, np.ndarray.ndim, np.ndarray.size,
    np.ndarray.dtype, np.ndarray.strides, np.ndarray.itemsize, np.ndarray.nbytes,
    np.result_type, np.broadcast_shapes, builtins.isinstance, builtins.print,
    reason="the result is a shape, a size, a type or None",
    view=False,
)
defnondiff(
    np.argmax, np.argmin, np.argsort, np.nonzero, np.flatnonzero, np.argwhere, np.count_nonzero,
    np.searchsorted, np.digitize, np.ravel_multi_index, np.unravel_index, np.ndarray.argmax,
    np.ndarray.argmin, np.ndarray.argsort, np.ndarray.nonzero, builtins.range, builtins.int,
    reason="the result is integers (indices, counts, positions)",
    view=False,
)
defnondiff(
    np.isnan, np.isfinite, np.isinf, np.isclose, np.allclose, np.array_equal, np.signbit,
    np.equal, np.not_equal, np.greater, np.greater_equal, np.less, np.less_equal,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor, np.any, np.all,
    np.ndarray.any, np.ndarray.all, operator.lt, operator.le, operator.gt, operator.ge,
    operator.eq, operator.ne, operator.not_, math.isnan, math.isinf, math.isfinite, math.isclose,
    builtins.bool, operator.and_, operator.or_, operator.xor, operator.invert,
    reason="the result is booleans (or bitwise integers)",
    view=False,
)
defnondiff(
    np.sign, np.floor, np.ceil, np.round, np.around, np.rint, np.trunc, np.fix, np.floor_divide,
    operator.floordiv, math.floor, math.ceil, math.trunc, builtins.round, np.ndarray.round,
    reason="piecewise constant: the derivative is 0 wherever it exists",
    view=False,
)
defnondiff(
    np.zeros_like, np.ones_like, np.empty_like, np.zeros, np.ones, np.empty, np.eye,
    np.identity, np.tri, np.indices,
    reason="the values depend only on shapes, dtypes and counts, never on an argument's values",
    view=False,
)
defnondiff(
    _sd.win_mask, _sd.fwin_mask, _sd.shape, _sd.tie_mask, _sd.extremum_weights, _sd.reduced_count,
    _sd.normalize_axes, _sd.is_basic_index, _sd.clip_bounds, _sd.dot_subscripts,
    _sd.tensordot_subscripts, _sd.inner_subscripts, _sd.inverse_axes, _sd.hstack_axis,
    _sd.einsum_parse, _sd.space_fractions,
    reason="runtime helpers that return masks, shapes, axes, subscripts or fixed fractions",
    view=False,
)
# the masks of the extremum rules compare along the last axis: each row on its own
deffacts(_sd.win_mask, _sd.fwin_mask, _sd.tie_mask, rowwise="row")

# ---------------------------------------------------------------- functions with effects
# (no rule: the compiler refuses them on values that carry a derivative, or follows their writes)

# they write into their first argument (np.copyto(dst, src))
deffacts(np.copyto, np.put, np.place, np.putmask, np.fill_diagonal, np.put_along_axis,
         np.random.shuffle, writes=0)
# they call the function they are given
deffacts(np.vectorize, np.apply_along_axis, np.apply_over_axes, np.frompyfunc, np.piecewise,
         np.fromfunction, calls_back=True)


# ---------------------------------------------------------------- random draws (review30)
# numpy's legacy draws with differentiable parameters are their standard draw z moved and scaled,
# bit for bit (np.random.normal(loc, scale) is loc + scale * standard_normal() for the same seed):
# the reparameterisation (PyTorch's rsample) differentiates through loc and scale with z, read back
# from the draw itself (z = (ans - loc) / scale), so nothing is drawn again


@defvjp(np.random.normal, np.random.laplace, np.random.gumbel, np.random.logistic,
        kind="elementwise", broadcast=True, view=False)
def random_location_scale(g, ans, loc=0.0, scale=1.0, size=None):
    return (g, g * _sd.standard_draw(ans, loc, scale, "a random draw"), None)


# uniform(low, high) = low + (high - low) u
@defvjp(np.random.uniform, kind="elementwise", broadcast=True, view=False)
def random_uniform(g, ans, low=0.0, high=1.0, size=None):
    u = _sd.standard_draw(ans, low, high - low, "a uniform draw")
    return (g * (1.0 - u), g * u, None)


# exponential(scale) = scale e; lognormal(mean, sigma) = exp(mean + sigma z)
@defvjp(np.random.exponential, kind="elementwise", broadcast=True, view=False)
def random_exponential(g, ans, scale=1.0, size=None):
    return (g * _sd.standard_draw(ans, 0.0, scale, "an exponential draw"), None)


@defvjp(np.random.lognormal, kind="elementwise", broadcast=True, view=False)
def random_lognormal(g, ans, mean=0.0, sigma=1.0, size=None):
    return (g * ans, g * ans * _sd.standard_draw(np.log(ans), mean, sigma, "a lognormal draw"),
            None)
