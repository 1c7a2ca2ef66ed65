"""``torch.nn.functional``'s activations, regression and divergence losses, normalize, dropout,
pad and one_hot on the tape, each recorded under PyTorch 2.13's top node name, with PyTorch's
values at the kinks (the gradient of leaky_relu and elu at 0 is the negative side's, as aten's)
and its overflow guards (softplus is linear above ``threshold``)."""

import math
import warnings

import numpy as np

from .factories import _rng
from .functions import _reduce, _warn_target_size, l1_loss, where
from .grad_mode import _state
from .messages import TapeError
from .recording import _composite, _op
from .tensor_class import Tensor, _unwrap, _wrap
from .torch_ops import clamp_min


def _t(x):
    return x if isinstance(x, Tensor) else _wrap(np.asarray(x))


def _data(x):
    return np.asarray(_unwrap(x))


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta x)) / beta``, ``x`` where ``beta x > threshold``
    (``SoftplusBackward0``)."""
    def fn(a):
        big = _data(a) * beta > threshold
        safe = where(big, 0.0, a)  # (exp of the unused branch must not overflow: 0 * inf)
        return where(big, a, (safe * beta).exp().log1p() / beta)
    return _composite("SoftplusBackward0", fn, (_t(input),))


def elu(input, alpha=1.0, inplace=False):
    """``x`` for ``x > 0``, ``alpha (exp(x) - 1)`` otherwise (``EluBackward0``)."""
    _no_inplace("elu", inplace)

    def fn(a):
        d = _data(a)
        pos = d > 0
        # (at 0 the slope is alpha, the negative side's, and the second derivative 0, as aten's
        # elu_backward and its double backward: alpha * x there)
        return where(pos, a, where(d == 0, a * alpha, where(pos, 0.0, a).expm1() * alpha))
    return _composite("EluBackward0", fn, (_t(input),))


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``x`` for ``x > 0``, ``negative_slope x`` otherwise (``LeakyReluBackward0``)."""
    _no_inplace("leaky_relu", inplace)
    return _composite("LeakyReluBackward0",
                      lambda a: where(_data(a) > 0, a, a * negative_slope), (_t(input),))


def gelu(input, approximate="none"):
    """``x Phi(x)`` (``GeluBackward0``); ``approximate='tanh'`` the tanh formula."""
    if approximate == "tanh":
        k = math.sqrt(2.0 / math.pi)
        return _composite("GeluBackward0",
                          lambda a: a * 0.5 * (1.0 + ((a + a ** 3 * 0.044715) * k).tanh()),
                          (_t(input),))
    if approximate != "none":
        raise TapeError(f"approximate argument must be either none or tanh, got {approximate}")
    try:
        from scipy.special import erf
    except ImportError as exc:  # pragma: no cover (scipy is a test dependency)
        raise TapeError("gelu(approximate='none') needs scipy.special.erf on the tape; install "
                        "scipy or use approximate='tanh'") from exc
    return _composite("GeluBackward0",
                      lambda a: a * 0.5 * (1.0 + erf(a * (1.0 / math.sqrt(2.0)))), (_t(input),))


def silu(input, inplace=False):
    """``x sigmoid(x)`` (``SiluBackward0``)."""
    _no_inplace("silu", inplace)
    return _composite("SiluBackward0", lambda a: a * a.sigmoid(), (_t(input),))


def _no_inplace(what, inplace):
    if inplace:
        raise TapeError(f"{what}(inplace=True) is not supported by the tape; use the out-of-place "
                        f"form, y = F.{what}(x)")


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``x / max(||x||_p, eps)`` along ``dim``, as PyTorch builds it (``DivBackward0`` over
    ``ExpandBackward0`` over ``ClampMinBackward0``)."""
    x = _t(input)
    denom = clamp_min(x.norm(p, dim, keepdim=True), eps).expand_as(x)
    return x / denom


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``sum(x1 / max(|x1|, eps) * x2 / max(|x2|, eps), dim)`` (``SumBackward1``), as aten's
    cosine_similarity: the norms are clamped to ``eps`` in value only (under no_grad), so their
    gradient is the unclamped norm's."""
    a, b = _t(x1), _t(x2)
    try:
        shape = np.broadcast_shapes(a._data.shape, b._data.shape)
    except ValueError as exc:
        raise TapeError(f"The size of tensor a ({a._data.shape[dim]}) must match the size of "
                        f"tensor b ({b._data.shape[dim]}) at non-singleton dimension "
                        f"{dim % max(len(a._data.shape), 1)}") from exc
    a = a.expand(*shape) if a._data.shape != shape else a
    b = b.expand(*shape) if b._data.shape != shape else b
    return ((a / _clamped_norm(a, dim, eps)) * (b / _clamped_norm(b, dim, eps))).sum(dim)


def _clamped_norm(x, dim, eps):
    n = x.norm(2, dim, keepdim=True)
    v = n._data
    return n + _wrap(np.maximum(v, np.asarray(eps, v.dtype)) - v)


def dropout(input, p=0.5, training=True, inplace=False):
    """``input`` itself when not training; else each entry zeroed with probability ``p`` (drawn
    from the tape's generator, ``T.manual_seed``) and the rest scaled by ``1 / (1 - p)``
    (``MulBackward0``)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    x = _t(input)
    if not training or p == 0.0:
        return x
    keep = _rng[0].random(x._data.shape) >= p
    scale = np.where(keep, 1.0 / (1.0 - p) if p < 1.0 else 0.0, 0.0).astype(x._data.dtype)
    if inplace:
        return x.mul_(_wrap(scale))
    return x * _wrap(scale)


_PAD_NAMES = {"reflect": ("reflect", "ReflectionPad{}DBackward0"),
              "replicate": ("edge", "ReplicationPad{}DBackward0"),
              "circular": ("wrap", "CopySlices")}  # (PyTorch copies the wrapped slices in)


def pad(input, pad, mode="constant", value=None):
    """Pad the last ``len(pad) // 2`` dims, the last first (``(left, right, top, bottom)``);
    ``'constant'`` (``ConstantPadNdBackward0``), ``'reflect'``, ``'replicate'``, ``'circular'``."""
    x = _t(input)
    pad = tuple(int(n) for n in pad)
    nd = x._data.ndim
    if len(pad) % 2 or len(pad) // 2 > nd:
        raise TapeError("Padding length must be divisible by 2 and at most twice the number of "
                        f"dimensions of the input, got {len(pad)} for a {nd}-D input")
    if any(n < 0 for n in pad):
        raise TapeError("pad: negative padding (cropping) is not supported by the tape; slice "
                        "the tensor instead, e.g. x[..., 1:-1]")
    k = len(pad) // 2
    widths = [(0, 0)] * (nd - k) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))]
    if mode == "constant":
        kw = {"mode": "constant", "constant_values": 0.0 if value is None else value}
        return _op("ConstantPadNdBackward0", np.pad, np.pad, (x, widths), kw, (0,), ())
    if mode not in _PAD_NAMES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise TapeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    np_mode, name = _PAD_NAMES[mode]
    if mode == "reflect" and any(w >= n for (a, b), n in zip(widths, x._data.shape)
                                 for w in (a, b) if w):
        raise TapeError("Argument #4: Padding size should be less than the corresponding input "
                        "dimension")
    # (np.pad's rule differentiates the constant mode only: the others take the entries at the
    # padded positions of an index array, np.take's rule summing the repeats)
    positions = np.pad(np.arange(x._data.size).reshape(x._data.shape), widths, mode=np_mode)
    return _op(name.format(k), np.take, np.take, (x, positions), None, (0,), ())


def one_hot(tensor, num_classes=-1):
    """Int64 one-hot rows of the class indices (no gradient)."""
    idx = _data(tensor)
    if idx.dtype != np.int64:
        raise TapeError("one_hot is only applicable to index tensor of type LongTensor.")
    if idx.size and idx.min() < 0:
        raise TapeError("Class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    elif idx.size and idx.max() >= num_classes:
        raise TapeError("Class values must be smaller than num_classes.")
    return _wrap((idx[..., None] == np.arange(num_classes)).astype(np.int64))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """``0.5 d^2`` where ``|d| < delta``, ``delta (|d| - delta / 2)`` elsewhere
    (``HuberLossBackward0``)."""
    if weight is not None:
        raise TapeError("huber_loss(weight=...) is not supported by the tape; multiply the "
                        "reduction='none' loss by the weights instead")
    _warn_target_size(input, target)

    def fn(a, b):
        d = a - b
        small = np.abs(_data(d)) < delta
        return _reduce(where(small, d * d * 0.5, (d.abs() - 0.5 * delta) * delta), reduction)
    return _composite("HuberLossBackward0", fn, (_t(input), target))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """``0.5 d^2 / beta`` where ``|d| < beta``, ``|d| - beta / 2`` elsewhere
    (``SmoothL1LossBackward0``; ``beta=0`` is :func:`l1_loss`)."""
    if size_average is not None or reduce is not None:
        raise TapeError("smooth_l1_loss: size_average and reduce are deprecated; use reduction=")
    if beta < 0:
        raise TapeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return l1_loss(input, target, reduction)
    _warn_target_size(input, target)

    def fn(a, b):
        d = a - b
        small = np.abs(_data(d)) < beta
        return _reduce(where(small, d * d * (0.5 / beta), d.abs() - 0.5 * beta), reduction)
    return _composite("SmoothL1LossBackward0", fn, (_t(input), target))


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise ``target (log target - input)`` (``exp(t) (t - input)`` with log targets), then
    reduced; ``'batchmean'`` divides the sum by the batch size. Top nodes as PyTorch's:
    ``SubBackward0`` (none), ``MeanBackward0``, ``SumBackward0``, ``DivBackward0``
    (batchmean)."""
    if size_average is not None or reduce is not None:
        raise TapeError("kl_div: size_average and reduce are deprecated; use reduction=")
    x, t = _t(input), _t(target)
    if log_target:
        loss = t.exp() * (t - x)
    else:
        td = t._data
        pos = td > 0
        value = np.where(pos, td * np.log(np.where(pos, td, 1)), 0).astype(td.dtype)
        if isinstance(target, Tensor) and target._rg and _state.enabled:
            # (xlogy(t, t): 0 where t == 0, where its derivative log(t) + 1 is not finite: nan
            # as PyTorch's, from t log t, not the finite one of a where())
            xlogy = _composite("XlogyBackward0", lambda a: a * a.log(), (t,), value=value)
        else:
            xlogy = _wrap(value)
        loss = xlogy - t * x
    if reduction == "batchmean":
        s = loss.sum()
        return s / x._data.shape[0] if x._data.ndim else s
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning, stacklevel=2)
    return _reduce(loss, reduction)
