"""The losses of ``torch.nn.functional`` on the tape: ``nll_loss``, ``cross_entropy`` (class
weights, ``ignore_index``, label smoothing, probability targets, K-dimensional inputs) and the
binary cross entropies, each as PyTorch 2.13 computes it (its formulas in aten's LossNLL.cpp and
Loss.cpp), so values, gradients and edge cases agree with a parity test.
"""

import numpy as np

from .engine import _check_saved
from .functions import _reduce, clamp, log_softmax, where
from .grad_mode import _state, enable_grad
from .messages import TapeError
from .node import _make_node
from .recording import _composite
from .tensor_class import Tensor, _edge, _unwrap, _wrap

_EPSILON = 1e-12  # (aten's binary_cross_entropy_backward: (p - t) / max(p (1 - p), EPSILON))


def _constant_weight(weight, what):
    """A class or element weight as a plain array: PyTorch has no derivative for it."""
    if isinstance(weight, Tensor) and weight._rg and _state.enabled:
        raise TapeError(f"{what}: the derivative for 'weight' is not implemented.")
    return None if weight is None else np.asarray(_unwrap(weight))


def _class_targets(x, target, ignore_index):
    """Index targets checked as aten checks them: their shape, integer dtype and range."""
    cls = np.asarray(_unwrap(target))
    if cls.dtype.kind not in "iu":
        raise TapeError(f"expected scalar type Long but found {cls.dtype.name}")
    shape = x.shape
    want = tuple(shape[:1]) + tuple(shape[2:]) if len(shape) >= 2 else ()
    if cls.shape != want:
        raise TapeError(f"Expected target size {list(want)}, got {list(cls.shape)}")
    n_classes = shape[1] if len(shape) >= 2 else shape[0]
    valid = cls != ignore_index
    bad = cls[valid & ((cls < 0) | (cls >= n_classes))]
    if bad.size:  # (numpy would read a negative class from the end: another loss, silently)
        raise TapeError(f"Target {int(bad.flat[0])} is out of bounds.")
    return np.where(valid, cls, 0), valid


def _picked(x, safe):
    """``x`` at the target class of each sample (class axis 1, or 0 for a 1-D ``x``)."""
    if x.ndim == 1:
        return x[safe]
    grid = np.indices(safe.shape, sparse=True)
    return x[(grid[0], safe) + tuple(grid[1:])]


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log likelihood of class indices ``target`` (``NllLossBackward0``, with inputs
    of three or more dimensions ``NllLoss2DBackward0``): ``-w[t] * input[n, t]``, ignored
    targets giving 0; ``mean`` divides by the summed weights of the targets not ignored."""
    if size_average is not None or reduce is not None:
        raise TapeError("nll_loss: size_average and reduce are deprecated; pass reduction=")
    safe, valid = _class_targets(input, target, ignore_index)
    w = _constant_weight(weight, "nll_loss")
    dtype = input._data.dtype
    per = (w[safe] if w is not None else np.ones(safe.shape)) * valid
    per = per.astype(dtype)
    total = per.sum()
    name = "NllLoss2DBackward0" if input.ndim >= 3 else "NllLossBackward0"

    def fn(x):
        # (an ignored sample gives 0 even where its row holds -inf)
        loss = where(valid, -_picked(x, safe) * np.where(valid, per, 1), 0.0)
        if reduction == "mean":
            s = loss.sum()
            # (every target ignored: PyTorch's nan, with zero gradients)
            return s / total if total != 0 else s * 0.0 + np.nan
        return _reduce(loss, reduction)

    return _composite(name, fn, (input,))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """``F.cross_entropy``: ``nll_loss(log_softmax(input, class axis), target)`` for class
    indices, PyTorch's smoothed form for ``label_smoothing`` and its weighted sum for
    probability (float) targets; the class axis is 1 (0 for a 1-D input)."""
    if size_average is not None or reduce is not None:
        raise TapeError("cross_entropy: size_average and reduce are deprecated; pass reduction=")
    if not 0.0 <= label_smoothing <= 1.0:
        raise TapeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    axis = 1 if input.ndim >= 2 else 0
    n_classes = input.shape[axis]
    logp = log_softmax(input, axis)
    w = _constant_weight(weight, "cross_entropy")
    wshape = [1] * input.ndim
    wshape[axis] = n_classes
    wb = None if w is None else w.astype(input._data.dtype).reshape(wshape)
    tgt = _unwrap(target)
    if np.asarray(tgt).dtype.kind == "f":
        return _prob_target_loss(logp, target, wb, axis, n_classes, reduction, label_smoothing)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing <= 0.0:
        return nll
    safe, valid = _class_targets(input, target, ignore_index)
    smooth = where(valid, -(logp * wb if wb is not None else logp).sum(axis), 0.0)
    if reduction == "mean":
        denom = w[safe][valid].sum() if w is not None else valid.sum()
        ret = smooth.sum() / float(denom)
    else:
        ret = _reduce(smooth, reduction)
    return (1 - label_smoothing) * nll + ret * (label_smoothing / n_classes)


def _prob_target_loss(logp, target, wb, axis, n_classes, reduction, label_smoothing):
    """aten's cross_entropy_loss_prob_target: ``-(logp * target * w)`` summed over classes."""
    if tuple(np.shape(_unwrap(target))) != tuple(logp.shape):
        raise TapeError(f"Expected target size {list(logp.shape)}, got "
                        f"{list(np.shape(_unwrap(target)))}")
    t = target if label_smoothing <= 0.0 else \
        target * (1 - label_smoothing) + (label_smoothing / n_classes)
    prod = logp * t
    if wb is not None:
        prod = prod * wb
    if reduction == "mean":
        n = logp._data.size // n_classes
        return -prod.sum() / n if n else -prod.sum() * np.nan
    if reduction == "sum":
        return -prod.sum()
    if reduction == "none":
        return -prod.sum(axis)
    return _reduce(prod, reduction)


def _bce_elementwise(p, t):
    """``-(t max(log p, -100) + (1 - t) max(log(1 - p), -100))``, whose node differentiates as
    aten does: ``(p - t) / max(p (1 - p), 1e-12)`` for ``p`` (finite at p = 0 and 1, where
    the clamped logs' own derivative is 0 / 0), ``log(1 - p) - log(p)`` for ``t``."""
    pd, td = p._data, np.asarray(_unwrap(t), dtype=p._data.dtype)
    with np.errstate(divide="ignore"):
        value = -(td * np.maximum(np.log(pd), -100.0) + (1 - td) * np.maximum(np.log1p(-pd), -100.0))
    out = _wrap(np.asarray(value, dtype=pd.dtype))
    if not (_state.enabled and (p._rg or (isinstance(t, Tensor) and t._rg))):
        return out
    node = _make_node("BinaryCrossEntropyBackward0", (_edge(p), _edge(t)), _bce_bw, pd.dtype,
                      saves=(0, 1))  # (saves: backward() frees it, as PyTorch's)
    node._args = (p, t)
    node._vers = tuple((i, a._vc[0]) for i, a in enumerate((p, t)) if isinstance(a, Tensor))
    out._rgv = True
    out._gf = node
    out._fresh()
    return out


def _bce_bw(node, g, cg):
    _check_saved(node)
    p, t = node._args
    if cg:
        with enable_grad():
            gp = g * (p - t) / clamp(p * (1 - p), min=_EPSILON)
            gt = g * ((1 - p).log() - p.log()) if isinstance(t, Tensor) and t._rg else None
        return [gp, gt]
    pd = p._data
    td = np.asarray(_unwrap(t), dtype=pd.dtype)
    gp = g * (pd - td) / np.maximum(pd * (1 - pd), _EPSILON)
    gt = None
    if isinstance(t, Tensor) and t._rg:
        with np.errstate(divide="ignore"):
            gt = g * (np.log1p(-pd) - np.log(pd))
    return [gp.astype(pd.dtype, copy=False), gt]


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """``-(t log p + (1 - t) log(1 - p))`` with logs clamped at -100 and aten's gradient
    (``BinaryCrossEntropyBackward0``): ``T.binary_cross_entropy(T.sigmoid(z), t)``."""
    if size_average is not None or reduce is not None:
        raise TapeError("binary_cross_entropy: size_average and reduce are deprecated; pass "
                        "reduction=")
    if tuple(np.shape(_unwrap(target))) != tuple(input.shape):
        raise TapeError(f"Using a target size ({tuple(np.shape(_unwrap(target)))}) that is "
                        f"different to the input size ({tuple(input.shape)}) is deprecated. "
                        "Please ensure they have the same size.")
    w = _constant_weight(weight, "binary_cross_entropy")

    def fn(p, t):
        loss = _bce_elementwise(p, t)
        if w is not None:
            loss = loss * w.astype(p._data.dtype)
        return _reduce(loss, reduction)

    return _composite("BinaryCrossEntropyBackward0", fn, (input, target))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """BCE on logits as aten computes it (``BinaryCrossEntropyWithLogitsBackward0``):
    ``(1 - t) z + (1 + (pos_weight - 1) t) log(1 + exp(-z))``, times ``weight``."""
    if size_average is not None or reduce is not None:
        raise TapeError("binary_cross_entropy_with_logits: size_average and reduce are "
                        "deprecated; pass reduction=")
    if tuple(np.shape(_unwrap(target))) != tuple(input.shape):
        raise TapeError(f"Target size ({list(np.shape(_unwrap(target)))}) must be the same as "
                        f"input size ({list(input.shape)})")
    w = _constant_weight(weight, "binary_cross_entropy_with_logits")
    pw = _constant_weight(pos_weight, "binary_cross_entropy_with_logits")

    def fn(z, t):
        # (log(1 + exp(-z)) through np.logaddexp, whose derivative is -sigmoid(-z) at every z:
        # max(-z, 0) + log(1 + exp(-|z|)) has kinks at 0 whose one-sided derivatives summed to
        # -1, not -sigmoid(0) = -0.5)
        softplus = np.logaddexp(0.0, -z)
        if pw is not None:
            softplus = softplus * ((pw.astype(z._data.dtype) - 1) * t + 1)
        loss = (1 - t) * z + softplus
        if w is not None:
            loss = loss * w.astype(z._data.dtype)
        return _reduce(loss, reduction)

    return _composite("BinaryCrossEntropyWithLogitsBackward0", fn, (input, target))
