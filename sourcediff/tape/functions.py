"""Functions spelled like ``torch.*`` and ``torch.nn.functional.*`` (matmul, losses, softmax, ...)."""

import collections
import warnings

import numpy as np

from ..errors import SourcediffError
from .grad_mode import _state
from .messages import TapeError
from .node import _BILINEAR
from .recording import _BOTH, _F64, _binop, _composite, _op, _promote, _record, _torch_dtype
from .rule_lookup import _lookup
from .tensor_class import Size, Tensor, _dims, _unwrap, _wrap


def matmul(a, b):
    """Matrix product with PyTorch's node structure: ``MmBackward0`` (2-D@2-D), ``MvBackward0``,
    ``DotBackward0``, ``SqueezeBackward4`` over ``MmBackward0`` (1-D@2-D), and
    ``UnsafeViewBackward0`` over ``BmmBackward0``/``MmBackward0`` for batches.

    Example::

        T.matmul(T.ones(2, 3), T.ones(3, 4)).shape     # torch.Size([2, 4])
    """
    a = a if isinstance(a, Tensor) else _wrap(np.asarray(a))
    b = b if isinstance(b, Tensor) else _wrap(np.asarray(b))
    na, nb = a._data.ndim, b._data.ndim
    if na == 2 and nb == 2:
        return _binop(np.matmul, "MmBackward0", a, b, _BILINEAR)
    if na == 2 and nb == 1:
        return a.mv(b)
    if na == 1 and nb == 1:
        return a.dot(b)
    if na == 1 and nb == 2:
        return _squeeze4(mm(a.unsqueeze(0), b))
    if nb == 2:
        lead = a._data.shape[:-1]
        flat = a.reshape(-1, a._data.shape[-1])
        return _unsafe_view(mm(flat, b), lead + (b._data.shape[-1],))
    if na >= 3 and nb >= 3:
        batch = np.broadcast_shapes(a._data.shape[:-2], b._data.shape[:-2])
        ae = a.expand(*(batch + a._data.shape[-2:])).reshape(-1, *a._data.shape[-2:])
        be = b.expand(*(batch + b._data.shape[-2:])).reshape(-1, *b._data.shape[-2:])
        res = ae.bmm(be)
        return _unsafe_view(res, batch + res._data.shape[-2:])
    res = _op("BmmBackward0", np.matmul, np.matmul, (a, b), None, (0, 1), _BILINEAR)
    return res


def _unsafe_view(res, shape):
    """The batched product ``res`` in ``shape`` (``UnsafeViewBackward0``): a new array, not a
    view, as PyTorch's _unsafe_view, so that an in-place write into a batched matmul's result
    (y = a @ w; y *= y) is recorded; numpy's reshaped view of ``res`` was taken for a view with
    no index into its base and the write refused. (_op copied numpy's view all the same.)"""
    return _op("UnsafeViewBackward0", np.reshape, np.reshape, (res, shape), None, (0,), (),
               ans=res._data.reshape(shape).copy())


_matmul = np.matmul
_ndarray = np.ndarray


def mm_any(a, b):
    """``a @ b`` of two 2-D operands, either an ndarray (``x @ w`` with a data matrix ``x``):
    ``MmBackward0`` without wrapping the ndarray."""
    if isinstance(a, Tensor):
        ad = a._data
    elif type(a) is _ndarray:
        ad = a
    else:
        a = ad = np.asarray(a)
    if isinstance(b, Tensor):
        bd = b._data
    else:
        b = bd = np.asarray(b)
    raw = (ad, bd)  # (what the rule gets: the operands before the promotion)
    if ad.dtype is not bd.dtype and ad.dtype != bd.dtype:
        ad, bd = _promote(ad, bd)
    ans = _matmul(ad, bd)
    if type(ans) is _ndarray and ans.dtype is _F64 and ad is raw[0] and ad.dtype is _F64 \
            and ad.ndim:
        return _record("MmBackward0", _matmul, _matmul, (a, b), None, _BOTH, _BILINEAR, ans,
                       raw)  # (what _op would check is known: see _record)
    return _op("MmBackward0", np.matmul, np.matmul, (a, b), None, _BOTH, _BILINEAR, ans, False,
               raw)


def _squeeze4(t):
    return _op("SqueezeBackward4", np.reshape, np.reshape, (t, t._data.shape[1:]), None, (0,), (),
               view=True)


def mm(a, b):
    """2-D matrix product (``MmBackward0``): ``T.mm(x, w)``."""
    if a._data.ndim != 2 or _unwrap(b).ndim != 2:
        raise TapeError("self must be a matrix")
    return _binop(np.matmul, "MmBackward0", a, b, _BILINEAR)


def _minmax(t, dim, keepdim, npf, argf, stem, pairwise):
    if isinstance(dim, Tensor):
        return pairwise(t, dim)
    if dim is None:
        if t._data.size and np.isnan(npf(t._data)) and _state.enabled and t._rg:
            # (a nan max: PyTorch's evenly_distribute_backward shares the gradient among the
            # nans; the ties of _amax, x == nan, are none, and gave nan everywhere)
            w = np.isnan(t._data)
            w = w / w.sum()
            return _composite(f"{stem}Backward1", lambda a: (a * w).sum(), (t,),
                              value=npf(t._data))
        return _amax(t, None, False, npf, f"{stem}Backward1")
    d = dim % t._data.ndim
    idx = argf(t._data, axis=d, keepdims=True)
    grids = list(np.indices(idx.shape, sparse=True))
    grids[d] = idx
    full = tuple(grids)
    values = _composite(f"{stem}Backward0", lambda a: _take(a, full, d, keepdim), (t,),
                        value=np.take_along_axis(t._data, idx, d) if keepdim
                        else np.squeeze(np.take_along_axis(t._data, idx, d), d))
    indices = _wrap(idx if keepdim else np.squeeze(idx, d))
    return _MinMax(values, indices)


def _take(a, full, d, keepdim):
    v = a[full]
    return v if keepdim else v.squeeze(d)


_MinMax = collections.namedtuple("max", ["values", "indices"])


def _amax(t, dim, keepdim, npf, name):
    axis = _dims(dim)
    rule = _lookup(npf)
    if rule is not None or not (_state.enabled and t._rg):
        return _op(name, npf, npf, (t,), {"axis": axis, "keepdims": keepdim}, (0,), (0, "o"))
    m = npf(t._data, axis=axis, keepdims=True)
    mask = t._data == m
    w = mask / mask.sum(axis=axis, keepdims=True)
    return _composite(name, lambda a: (a * w).sum(dim, keepdim), (t,),
                      value=npf(t._data, axis=axis, keepdims=keepdim))


def maximum(a, b):
    """Elementwise maximum (``MaximumBackward0``; ties share the gradient)."""
    return _op("MaximumBackward0", np.maximum, np.maximum, (a, b), None, (0, 1), (0, 1))


def minimum(a, b):
    """Elementwise minimum (``MinimumBackward0``)."""
    return _op("MinimumBackward0", np.minimum, np.minimum, (a, b), None, (0, 1), (0, 1))


def where(condition, x, y):
    """``x`` where ``condition`` else ``y`` (``WhereBackward0``): ``T.where(a > 0, a, 0.0)``."""
    c = _unwrap(condition)
    return _op("WhereBackward0", np.where, np.where, (c, x, y), None, (1, 2), (0,))


def clamp(t, min=None, max=None):
    """Clip to ``[min, max]`` (``ClampBackward1``; tensor bounds ``ClampBackward0``).

    Example::

        T.clamp(x, min=0)
    """
    return _clamp(t, min, max, "ClampBackward1", "ClampBackward0")


def _clamp(t, min, max, name, tensor_name):
    """:func:`clamp` recorded as ``name`` (number bounds) or ``tensor_name`` (a Tensor bound);
    clamp_min and clamp_max are this with one bound."""
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        lo, hi = min, max

        def fn(a, lo_, hi_):
            r = a
            if lo_ is not None:
                r = where(_unwrap(r) < _unwrap(lo_), lo_, r)
            if hi_ is not None:
                r = where(_unwrap(r) > _unwrap(hi_), hi_, r)
            return r

        return _composite(tensor_name, fn, (t, lo, hi))
    d = t._data
    ans = _torch_dtype(np.asarray(np.clip(d, min, max)), np.clip, (t, min, max))
    if not (_state.enabled and t._rg):
        return _wrap(np.asarray(ans))
    mask = np.ones(d.shape, dtype=bool)
    if min is not None:
        mask &= d >= min
    if max is not None:
        mask &= d <= max
    return _op(name, np.where, np.where, (mask, t, 0.0), None, (1,), (1,),
               ans=np.asarray(ans))


def cat(tensors, dim=0):
    """Concatenate along ``dim`` (``CatBackward0``): ``T.cat([a, b], dim=1)``."""
    tensors = list(tensors)
    return _op("CatBackward0", np.concatenate, np.concatenate, (tensors,), {"axis": dim},
               tuple((0, j) for j in range(len(tensors))), ())


def stack(tensors, dim=0):
    """Stack along a new ``dim`` (``StackBackward0``): ``T.stack([a, b])``."""
    tensors = list(tensors)
    return _op("StackBackward0", np.stack, np.stack, (tensors,), {"axis": dim},
               tuple((0, j) for j in range(len(tensors))), ())


def _amax_const(a, dim):
    # (initial=-inf: an empty dim gives -inf, so softmax and logsumexp over it run as PyTorch's
    # (an empty result, -inf) instead of numpy's ValueError for a zero-size maximum)
    return np.max(_unwrap(a), axis=dim, keepdims=True, initial=-np.inf)


def _softmax(a, dim):
    e = np.exp(a - _amax_const(a, dim))
    return e / e.sum(dim, keepdim=True)


def _log_softmax(a, dim):
    z = a - _amax_const(a, dim)
    return z - np.log(np.exp(z).sum(dim, keepdim=True))


def softmax(x, dim):
    """``exp(x) / sum(exp(x), dim)`` (``SoftmaxBackward0``): ``T.softmax(a, dim=1)``."""
    return _composite("SoftmaxBackward0", lambda a: _softmax(a, dim), (x,))


def log_softmax(x, dim):
    """``log(softmax(x, dim))`` computed stably (``LogSoftmaxBackward0``)."""
    return _composite("LogSoftmaxBackward0", lambda a: _log_softmax(a, dim), (x,))


def _logsumexp(a, dim, keepdim):
    m = _amax_const(a, dim)
    # (as aten: an infinite max shifts by 0, so a row of -inf gives -inf, one with +inf gives
    # +inf, not nan from inf - inf)
    m = np.where(np.isinf(m), np.zeros((), m.dtype), m)
    r = np.log(np.exp(a - m).sum(dim, keepdim=True)) + m
    return r if keepdim else r.squeeze(dim)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _repeat(a, sizes):
    lead = len(sizes) - a.ndim
    r = a.reshape((1,) * lead + tuple(a.shape)) if lead else a
    for d, k in enumerate(sizes):
        if k != 1:
            r = cat([r] * k, d)
    return r


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise SourcediffError(f"{reduction} is not a valid value for reduction")


def _warn_target_size(input, target):
    """PyTorch's warning when a regression loss's target broadcasts against its input."""
    ts, xs = np.shape(_unwrap(target)), np.shape(_unwrap(input))
    if ts != xs:
        warnings.warn(f"Using a target size ({Size(ts)!r}) that is different to the input size "
                      f"({Size(xs)!r}). This will likely lead to incorrect results due to "
                      "broadcasting. Please ensure they have the same size.", UserWarning,
                      stacklevel=3)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error (``MseLossBackward0``): ``T.mse_loss(pred, y)``."""
    _warn_target_size(input, target)
    return _composite("MseLossBackward0", lambda a, b: _reduce((a - b) ** 2, reduction),
                      (input, target))


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error (recorded as ``MeanBackward0`` over ``AbsBackward0`` like PyTorch)."""
    _warn_target_size(input, target)
    return _reduce((input - target).abs(), reduction)


def linear(x, weight, bias=None):
    """``x @ weight.T + bias`` like ``F.linear`` (``AddmmBackward0`` with a ``TBackward0`` edge)."""
    wt = weight.t()
    if bias is None:
        return matmul(x, wt)
    if x.ndim == 2:
        return _composite("AddmmBackward0", lambda b, a, w: b + a @ w, (bias, x, wt))
    return matmul(x, wt) + bias


def _as_t(x):
    return x if isinstance(x, Tensor) else _wrap(np.asarray(x))


def add(a, b, alpha=1):
    """``a + alpha * b`` (``AddBackward0``): ``T.add(x, 2)``."""
    return _as_t(a).add(b, alpha=alpha)


def sub(a, b, alpha=1):
    """``a - alpha * b`` (``SubBackward0``): ``T.sub(x, y)``."""
    return _as_t(a).sub(b, alpha=alpha)


def mul(a, b):
    """``a * b`` (``MulBackward0``): ``T.mul(x, 2)``."""
    return _as_t(a) * b


def div(a, b):
    """``a / b`` (``DivBackward0``): ``T.div(x, 2)``."""
    return _as_t(a) / b


def pow(a, b):
    """``a ** b`` (``PowBackward0/1/2``): ``T.pow(x, 2)``."""
    return a ** b if isinstance(a, Tensor) else _as_t(b).__rpow__(a)


def neg(a):
    """``-a`` (``NegBackward0``)."""
    return -a


def relu(x):
    """``ReluBackward0``: ``T.relu(x)``."""
    return x.relu()


def sigmoid(x):
    """``SigmoidBackward0``: ``T.sigmoid(x)``."""
    return x.sigmoid()


def tanh(x):
    """``TanhBackward0``: ``T.tanh(x)``."""
    return x.tanh()


def exp(x):
    """``ExpBackward0``: ``T.exp(x)``."""
    return x.exp()


def log(x):
    """``LogBackward0``: ``T.log(x)``."""
    return x.log()


def sin(x):
    """``SinBackward0``: ``T.sin(x)``."""
    return x.sin()


def cos(x):
    """``CosBackward0``: ``T.cos(x)``."""
    return x.cos()


def sqrt(x):
    """``SqrtBackward0``: ``T.sqrt(x)``."""
    return x.sqrt()


def abs(x):
    """``AbsBackward0``: ``T.abs(x)``."""
    return x.abs()


def sum(x, dim=None, keepdim=False):
    """``SumBackward0``/``SumBackward1``: ``T.sum(x, 1)``."""
    return x.sum(dim, keepdim)


def mean(x, dim=None, keepdim=False):
    """``MeanBackward0``/``MeanBackward1``: ``T.mean(x)``."""
    return x.mean(dim, keepdim)
