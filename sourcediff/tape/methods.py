"""The Tensor's operations (arithmetic, in place, reductions, elementwise, shapes, dtype, numpy
protocol), installed on :class:`Tensor` here because they call the recording layer above it."""

import builtins
import itertools
import math
import types

import numpy as np

from .dispatch import array_function_method, array_ufunc_method
from .engine import backward
from .functions import (
    _amax,
    _logsumexp,
    _minmax,
    _repeat,
    clamp,
    log_softmax,
    matmul,
    maximum,
    minimum,
    mm,
    softmax,
)
from .grad_mode import _state
from .messages import _TTYPE, TapeError
from .node import _BILINEAR, _DIV_SAVES, _make_node
from .recording import (
    _F64,
    _binop,
    _composite,
    _not_implemented_bw,
    _op,
    _record,
    _torch_dtype,
    _unary,
)
from .rule_lookup import _ToCopy
from .tensor_class import (
    Tensor,
    _correction,
    _dims,
    _dt,
    _getitem,
    _no_dims,
    _np_kw,
    _shape_arg,
    _unwrap,
    _wrap,
    float32,
    float64,
    install_numpy_methods,
    int64,
)
from .torch_ops import _TorchOpMethods
from .views import _check_inplace, _getitem_tensor, _inplace, _multi_views, _sd, _setitem

_POWER = np.power
_POW_EDGES = (0,)  # (the edge of t ** 2, and what it keeps: the base)


class _Methods:
    """The operations of :class:`Tensor` (copied onto it by :func:`_install`)."""

    @property
    def T(self):
        """Reversed dimensions (``PermuteBackward0``)."""
        return _op("PermuteBackward0", np.transpose, np.transpose, (self,), None, (0,), (),
                   view=True)

    @property
    def real(self):
        """The real part (``RealBackward0``; a real tensor itself)."""
        return np.real(self)

    @property
    def imag(self):
        """The imaginary part (``ImagBackward0``)."""
        return np.imag(self)

    @property
    def mT(self):
        """The last two dimensions swapped (``TransposeBackward0``)."""
        return _op("TransposeBackward0", np.swapaxes, np.swapaxes, (self, -2, -1), None, (0,), (),
                   view=True)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        Example::

            loss.backward()                       # scalar output
            y.backward(gradient=T.ones_like(y))   # non-scalar output
        """
        backward([self], None if gradient is None else [gradient], retain_graph, create_graph,
                 inputs)

    # ------------------------------------------------------------ arithmetic

    def __add__(self, other):
        return _binop(np.add, "AddBackward0", self, other, ())

    def __radd__(self, other):
        return _binop(np.add, "AddBackward0", self, other, ())

    def add(self, other, alpha=1):
        """``self + alpha * other`` (``AddBackward0``)."""
        if alpha != 1:
            return _composite("AddBackward0", lambda a, b: a + b * alpha, (self, other))
        return _binop(np.add, "AddBackward0", self, other, ())

    def __sub__(self, other):
        return _binop(np.subtract, "SubBackward0", self, other, ())

    def sub(self, other, alpha=1):
        """``self - alpha * other`` (``SubBackward0``)."""
        if alpha != 1:
            return _composite("SubBackward0", lambda a, b: a - b * alpha, (self, other))
        return _binop(np.subtract, "SubBackward0", self, other, ())

    def __rsub__(self, other):
        return _op("RsubBackward1", np.subtract, np.subtract, (other, self), None, (1,), ())

    def __mul__(self, other):
        return _binop(np.multiply, "MulBackward0", self, other, _BILINEAR)

    __rmul__ = __mul__
    mul = __mul__
    multiply = __mul__

    def __truediv__(self, other):
        return _binop(np.divide, "DivBackward0", self, other, _DIV_SAVES)

    div = __truediv__
    divide = __truediv__

    def __rtruediv__(self, other):
        return self.reciprocal() * other

    def reciprocal(self):
        """``1 / self`` (``ReciprocalBackward0``)."""
        return _op("ReciprocalBackward0", np.divide, np.divide, (1.0, self), None, (1,), (1, "o"))

    def __floordiv__(self, other):
        return self._floor_divided(_torch_dtype(np.asarray(np.floor_divide(
            self._data, _unwrap(other))), np.floor_divide, (self, other)))

    def __rfloordiv__(self, other):
        return self._floor_divided(_torch_dtype(np.asarray(np.floor_divide(
            _unwrap(other), self._data)), np.floor_divide, (other, self)))

    def _floor_divided(self, value):
        """``self // c`` or ``c // self``: PyTorch's floor_divide has no derivative, so a
        result that would carry one gets a node that refuses backward()."""
        out = _wrap(np.asarray(value))
        if _state.enabled and self._rg:
            node = _make_node("NotImplemented", ((self.grad_fn or self._acc_node(), 0),),
                              _not_implemented_bw, out._data.dtype)
            out._rg = True
            out.grad_fn = node
        return out

    def __divmod__(self, other):
        return self // other, self % other

    def __rdivmod__(self, other):
        return other // self, other % self

    def __mod__(self, other):
        # (recorded like np.remainder: d/dx = 1, d/dy = -floor(x / y); it once dropped the graph)
        return np.remainder(self, other)

    def __rmod__(self, other):
        return np.remainder(other, self)

    def __neg__(self):
        return _op("NegBackward0", np.negative, np.negative, (self,), None, (0,), ())

    neg = __neg__
    negative = __neg__

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            return _binop(np.power, "PowBackward1", self, exponent, (0, 1, "o"))
        d = self._data
        if (type(exponent) is int or type(exponent) is float) and d.dtype is _F64 and d.ndim:
            # (what _op would check is known: a float64 array to a Python number's power)
            return _record("PowBackward0", _POWER, _POWER, (self, exponent), None, _POW_EDGES,
                           _POW_EDGES, _POWER(d, exponent), (d, exponent))
        return _op("PowBackward0", np.power, np.power, (self, exponent), None, (0,), (0,))

    pow = __pow__

    def __rpow__(self, base):
        return _op("PowBackward2", np.power, np.power, (base, self), None, (1,), (1, "o"))

    def square(self):
        """``self ** 2`` (``PowBackward0``)."""
        return self ** 2

    def __matmul__(self, other):
        if type(other) is Tensor and self._data.ndim == 2 and other._data.ndim == 2:
            return _binop(np.matmul, "MmBackward0", self, other, _BILINEAR)  # (matmul's 2-D case)
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def matmul(self, other):
        """Matrix product with numpy's broadcasting rules (see :func:`matmul`)."""
        return matmul(self, other)

    def mm(self, other):
        """2-D matrix product (``MmBackward0``)."""
        return mm(self, other)

    def mv(self, vec):
        """Matrix-vector product (``MvBackward0``)."""
        return _op("MvBackward0", np.matmul, np.matmul, (self, vec), None, (0, 1), _BILINEAR)

    def dot(self, other):
        """Dot product of two vectors (``DotBackward0``)."""
        return _op("DotBackward0", np.matmul, np.matmul, (self, other), None, (0, 1), _BILINEAR)

    def bmm(self, other):
        """Batched matrix product (``BmmBackward0``)."""
        return _op("BmmBackward0", np.matmul, np.matmul, (self, other), None, (0, 1), _BILINEAR)

    # comparisons: boolean tensors that never require grad
    def __lt__(self, other):
        return _wrap(np.asarray(self._data < _unwrap(other)))

    def __le__(self, other):
        return _wrap(np.asarray(self._data <= _unwrap(other)))

    def __gt__(self, other):
        return _wrap(np.asarray(self._data > _unwrap(other)))

    def __ge__(self, other):
        return _wrap(np.asarray(self._data >= _unwrap(other)))

    def __eq__(self, other):
        return _wrap(np.asarray(self._data == _unwrap(other)))

    def __ne__(self, other):
        return _wrap(np.asarray(self._data != _unwrap(other)))

    def __and__(self, other):
        return _wrap(np.asarray(self._data & _unwrap(other)))

    def __or__(self, other):
        return _wrap(np.asarray(self._data | _unwrap(other)))

    def __invert__(self):
        return _wrap(np.asarray(~self._data))

    # ------------------------------------------------------------ in place

    def add_(self, other, alpha=1):
        """In-place ``self += alpha * other``."""
        if alpha != 1:
            other = other * alpha
        return _inplace(self, Tensor.__add__, np.add, other)

    def sub_(self, other, alpha=1):
        """In-place ``self -= alpha * other``."""
        if alpha != 1:
            other = other * alpha
        return _inplace(self, Tensor.__sub__, np.subtract, other)

    def mul_(self, other):
        """In-place ``self *= other``."""
        return _inplace(self, Tensor.__mul__, np.multiply, other)

    def div_(self, other):
        """In-place ``self /= other``."""
        return _inplace(self, Tensor.__truediv__, np.divide, other)

    def __iadd__(self, other):
        if _state.strict and self._data.ndim == 0:
            return self + other
        return self.add_(other)

    def __isub__(self, other):
        if _state.strict and self._data.ndim == 0:
            return self - other
        return self.sub_(other)

    def __imul__(self, other):
        if _state.strict and self._data.ndim == 0:
            return self * other
        return self.mul_(other)

    def __itruediv__(self, other):
        if _state.strict and self._data.ndim == 0:
            return self / other
        return self.div_(other)

    def zero_(self):
        """Fill with zeros in place (``ZeroBackward0`` when recorded)."""
        return _inplace(self, lambda t: _composite("ZeroBackward0", lambda a: a * 0.0, (t,)),
                        lambda a: np.zeros_like(a), None, unary=True)

    def fill_(self, value):
        """Fill with ``value`` in place; a 0-d Tensor ``value`` gets the summed gradient
        (``FillBackward3``), as in PyTorch (it was a constant of the node: no gradient); a number
        gives ``FillBackward2``, PyTorch 2.13's name."""
        if isinstance(value, Tensor):
            if value._data.ndim:
                raise TapeError("fill_ only supports 0-dimension value tensor but got tensor "
                                f"with {value._data.ndim} dimensions.")
            return _inplace(self, lambda t, v: _composite("FillBackward3",
                                                          lambda a, b: a * 0.0 + b, (t, v)),
                            lambda a, v: np.full_like(a, v), value)
        return _inplace(self, lambda t: _composite("FillBackward2", lambda a: a * 0.0 + value,
                                                   (t,)),
                        lambda a: np.full_like(a, value), None, unary=True)

    def fill(self, value):
        """numpy's ``a.fill(v)``: :meth:`fill_`, returning None as numpy does."""
        self.fill_(value)

    def clamp_(self, min=None, max=None):
        """In-place :meth:`clamp`."""
        lo, hi = _unwrap(min), _unwrap(max)
        bound = next((b for b in (min, max) if isinstance(b, Tensor) and b._rg), None)
        if bound is not None:  # (recorded when a bound needs grad, self too)
            return _inplace(self, lambda t, _b: t.clamp(min, max),
                            lambda a, _b: np.clip(a, lo, hi), bound)
        return _inplace(self, lambda t: t.clamp(min, max),
                        lambda a: np.clip(a, lo, hi), None, unary=True)

    def relu_(self):
        """In-place :meth:`relu`."""
        return _inplace(self, Tensor.relu, lambda a: np.maximum(a, 0), None, unary=True)

    def exp_(self):
        """In-place :meth:`exp`."""
        return _inplace(self, Tensor.exp, np.exp, None, unary=True)

    def copy_(self, src):
        """Copy ``src`` into self in place (into an integer tensor: truncated, no gradient)."""
        if self._data.dtype.kind in "biu":
            _check_inplace(self)
            np.copyto(self._data, np.broadcast_to(_unwrap(src), self._data.shape),
                      casting="unsafe")
            self._vc[0] += 1
            return self
        return _inplace(self, lambda t, s: _composite("CopyBackwards", lambda a, b: a * 0.0 + b,
                                                      (t, s)),
                        lambda a, b: np.broadcast_to(b, a.shape), src)

    def __setitem__(self, index, value):
        _setitem(self, index, value)

    # ------------------------------------------------------------ reductions

    # Reductions take PyTorch's (dim, keepdim) and also numpy's (axis=, keepdims=, ddof=) keywords.
    # Outside grad_of axis= and keepdims= are PyTorch's other names of dim= and keepdim= (std/var
    # unbiased, max/min(axis=d) give (values, indices)); inside grad_of (numpy semantics) std/var
    # are biased and max/min(axis) return values only.

    def sum(self, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=None):
        """Sum over all elements or ``dim`` (``SumBackward0``/``SumBackward1``)."""
        name = "SumBackward0" if dim is None and axis is None else "SumBackward1"
        dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
        kw = {"axis": _dims(dim), "keepdims": keepdim}
        if dtype is not None:
            kw["dtype"] = _dt(dtype)
        return _op(name, np.sum, np.sum, (self,), kw, (0,), ())

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Mean over all elements or ``dim`` (``MeanBackward0``/``MeanBackward1``)."""
        name = "MeanBackward0" if dim is None and axis is None else "MeanBackward1"
        dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
        if self._data.dtype.kind in "biu" and not _state.strict:  # (numpy's is a float64)
            raise TapeError(
                "mean(): could not infer output dtype. Input dtype must be either a floating "
                f"point or complex dtype. Got: {_TTYPE.get(self._data.dtype.name, '?')}")
        return _op(name, np.mean, np.mean, (self,), {"axis": _dims(dim), "keepdims": keepdim},
                   (0,), ())

    def prod(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Product over all elements or ``dim`` (``ProdBackward0``/``ProdBackward1``)."""
        dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
        name = "ProdBackward0" if dim is None else "ProdBackward1"
        return _op(name, np.prod, np.prod, (self,), {"axis": _dims(dim), "keepdims": keepdim},
                   (0,), (0, "o"))

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Max of all elements (``MaxBackward1``), ``(values, indices)`` over ``dim``
        (``MaxBackward0``), or the elementwise maximum with a tensor (``MaximumBackward0``)."""
        if _values_only(dim, axis, keepdims):
            dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
            return _amax(self, dim, keepdim, np.max, "AmaxBackward0")
        dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
        return _minmax(self, dim, keepdim, np.max, np.argmax, "Max", maximum)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Like :meth:`max` for the minimum."""
        if _values_only(dim, axis, keepdims):
            dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
            return _amax(self, dim, keepdim, np.min, "AminBackward0")
        dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
        return _minmax(self, dim, keepdim, np.min, np.argmin, "Min", minimum)

    def amax(self, dim=None, keepdim=False):
        """Max over ``dim`` with ties sharing the gradient (``AmaxBackward0``)."""
        return _amax(self, None if _no_dims(dim) else dim, keepdim, np.max, "AmaxBackward0")

    def amin(self, dim=None, keepdim=False):
        """Min over ``dim`` with ties sharing the gradient (``AminBackward0``)."""
        return _amax(self, None if _no_dims(dim) else dim, keepdim, np.min, "AminBackward0")

    def argmax(self, dim=None, keepdim=False):
        """Index of the max (no gradient)."""
        return _wrap(np.asarray(np.argmax(self._data, axis=dim, keepdims=keepdim)))

    def argmin(self, dim=None, keepdim=False):
        """Index of the min (no gradient)."""
        return _wrap(np.asarray(np.argmin(self._data, axis=dim, keepdims=keepdim)))

    def var(self, dim=None, unbiased=True, keepdim=False, correction=None, *, axis=None,
            ddof=None, keepdims=None):
        """Variance (``VarBackward0``), unbiased by default like PyTorch, also over ``axis=``
        (PyTorch's other name of ``dim=``); numpy's ``ddof=`` and grad_of give numpy's."""
        corr = _correction(unbiased, correction, ddof)
        dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
        return _op("VarBackward0", np.var, np.var, (self,),
                   {"axis": _dims(dim), "ddof": corr, "keepdims": keepdim}, (0,), (0,))

    def std(self, dim=None, unbiased=True, keepdim=False, correction=None, *, axis=None,
            ddof=None, keepdims=None):
        """Standard deviation (``StdBackward0``); keywords as :meth:`var`."""
        corr = _correction(unbiased, correction, ddof)
        dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
        return _op("StdBackward0", np.std, np.std, (self,),
                   {"axis": _dims(dim), "ddof": corr, "keepdims": keepdim}, (0,), (0, "o"))

    def norm(self, p="fro", dim=None, keepdim=False):
        """PyTorch's ``x.norm(p, dim, keepdim)`` (``LinalgVectorNormBackward0``): the p-norm of
        all elements as one vector when ``dim`` is None, along ``dim`` otherwise; ``"fro"`` is
        the 2-norm, over two dims too (``x.norm(dim=(0, 1))``)."""
        dim = None if _no_dims(dim) else _dims(dim)
        if isinstance(dim, tuple) and len(dim) == 1:
            dim = dim[0]
        if isinstance(p, str) and p != "fro" or isinstance(dim, tuple) and (
                len(dim) != 2 or p not in ("fro", 2)):
            raise TapeError(
                f"norm(p={p!r}, dim={dim!r}): the tape takes p-norms of all elements or along "
                f"one dim, and the 2-norm ('fro') over two dims; write the norm out, e.g. "
                f"(x.abs() ** p).sum(dim) ** (1 / p), or x.square().sum(dim).sqrt()")
        ord = None if p in ("fro", 2) else float(p)
        if dim is None:
            if ord is None and not keepdim:  # (one vector: numpy's 2-norm of any shape)
                return _op("LinalgVectorNormBackward0", np.linalg.norm, np.linalg.norm,
                           (self.reshape(-1) if self._data.ndim > 2 else self,), None, (0,),
                           (0, "o"))
            flat = self.reshape(-1)
            out = _op("LinalgVectorNormBackward0", np.linalg.norm, np.linalg.norm, (flat,),
                      {"ord": ord}, (0,), (0, "o"))
            return out.reshape((1,) * self._data.ndim) if keepdim else out
        kw = {"ord": "fro" if isinstance(dim, tuple) else ord, "axis": dim, "keepdims": keepdim}
        return _op("LinalgVectorNormBackward0", np.linalg.norm, np.linalg.norm, (self,), kw,
                   (0,), (0, "o"))

    def logsumexp(self, dim, keepdim=False):
        """``log(sum(exp(x), dim))`` computed stably (``LogsumexpBackward0``)."""
        return _composite("LogsumexpBackward0", lambda a: _logsumexp(a, dim, keepdim), (self,))

    # ------------------------------------------------------------ elementwise

    def exp(self):
        """``ExpBackward0``."""
        return _op("ExpBackward0", np.exp, np.exp, (self,), None, (0,), ("o",))

    def log(self):
        """``LogBackward0``."""
        return _op("LogBackward0", np.log, np.log, (self,), None, (0,), (0,))

    def sin(self):
        """``SinBackward0``."""
        return _op("SinBackward0", np.sin, np.sin, (self,), None, (0,), (0,))

    def cos(self):
        """``CosBackward0``."""
        return _op("CosBackward0", np.cos, np.cos, (self,), None, (0,), (0,))

    def tan(self):
        """``TanBackward0``."""
        return _unary(self, np.tan, "TanBackward0", ("o",), lambda a: np.sin(a) / np.cos(a))

    def tanh(self):
        """``TanhBackward0``."""
        return _op("TanhBackward0", np.tanh, np.tanh, (self,), None, (0,), ("o",))

    def sigmoid(self):
        """``1 / (1 + exp(-x))`` (``SigmoidBackward0``), its gradient from the result,
        ``g * s * (1 - s)`` as PyTorch's (0 where exp(-x) overflows, not inf / inf)."""
        return _op("SigmoidBackward0", _sd.sigmoid, _sd.sigmoid, (self,), None, (0,), ("o",))

    def relu(self):
        """``max(x, 0)`` with gradient 0 at 0 (``ReluBackward0``); a nan stays nan, with
        gradient 1, as PyTorch's threshold (``x <= 0`` is what gives 0)."""
        d = self._data
        mask = ~(d <= 0)
        return _op("ReluBackward0", np.where, np.where, (mask, self, 0.0), None, (1,), ("o",),
                   ans=np.where(mask, d, np.zeros((), d.dtype)))

    def sqrt(self):
        """``SqrtBackward0``."""
        return _unary(self, np.sqrt, "SqrtBackward0", ("o",), lambda a: a ** 0.5)

    def rsqrt(self):
        """``1 / sqrt(x)`` (``RsqrtBackward0``)."""
        return _composite("RsqrtBackward0", lambda a: a ** -0.5, (self,))

    def abs(self):
        """``AbsBackward0`` (gradient 0 at 0)."""
        return _op("AbsBackward0", np.abs, np.abs, (self,), None, (0,), (0,))

    __abs__ = abs

    def log1p(self):
        """``Log1PBackward0``."""
        return _unary(self, np.log1p, "Log1PBackward0", (0,), lambda a: np.log(a + 1.0))

    def expm1(self):
        """``Expm1Backward0``."""
        return _unary(self, np.expm1, "Expm1Backward0", ("o",), lambda a: np.exp(a) - 1.0)

    def sign(self):
        """Sign, differentiable with zero gradient (``SignBackward0``)."""
        return _composite("SignBackward0", lambda a: a * 0.0, (self,), value=np.sign(self._data))

    def floor(self):
        """Floor, zero gradient (``FloorBackward0``)."""
        return _composite("FloorBackward0", lambda a: a * 0.0, (self,),
                          value=np.floor(self._data))

    def ceil(self):
        """Ceiling, zero gradient (``CeilBackward0``)."""
        return _composite("CeilBackward0", lambda a: a * 0.0, (self,), value=np.ceil(self._data))

    def trunc(self):
        """Rounding toward zero, zero gradient (``TruncBackward0``)."""
        return _composite("TruncBackward0", lambda a: a * 0.0, (self,),
                          value=np.trunc(self._data))

    def round(self, decimals=0):
        """Round half to even (to ``decimals`` places, as ``t.round(decimals=2)`` and numpy's
        ``a.round(2)``), zero gradient (``RoundBackward0``)."""
        return _composite("RoundBackward0", lambda a: a * 0.0, (self,),
                          value=np.round(self._data, decimals))

    def __round__(self, ndigits=None):
        return self.round(0 if ndigits is None else ndigits)

    def clamp(self, min=None, max=None):
        """Clip to ``[min, max]``; gradient 1 inside and on the bounds (``ClampBackward1``), with
        tensor bounds ``ClampBackward0``."""
        return clamp(self, min, max)

    clip = clamp

    def softmax(self, dim):
        """``SoftmaxBackward0``."""
        return softmax(self, dim)

    def log_softmax(self, dim):
        """``LogSoftmaxBackward0``."""
        return log_softmax(self, dim)

    def masked_fill(self, mask, value):
        """Replace entries where ``mask`` is true by ``value`` (``MaskedFillBackward0``)."""
        m = _unwrap(mask)
        # (a 0-d Tensor value gets the gradient of the entries it fills, as in PyTorch)
        edges = (1, 2) if isinstance(value, Tensor) else (2,)
        if isinstance(value, Tensor) and value._data.ndim:
            raise TapeError("masked_fill_ only supports a 0-dimensional value tensor, but got "
                            f"tensor with {value._data.ndim} dimension(s).")
        name = "MaskedFillBackward1" if isinstance(value, Tensor) else "MaskedFillBackward0"
        return _op(name, np.where, np.where, (m, value, self), None, edges, (0,),
                   ans=np.where(m, np.asarray(_unwrap(value), self._data.dtype), self._data))

    def masked_fill_(self, mask, value):
        """In-place :meth:`masked_fill`."""
        return _inplace(self, lambda t, v: t.masked_fill(mask, v),
                        lambda a, v: np.where(_unwrap(mask), v, a), value)

    # ------------------------------------------------------------ shapes

    def reshape(self, *shape, order="C"):
        """Reshape (``ViewBackward0``; ``UnsafeViewBackward0`` over ``CloneBackward0`` when the
        data is not contiguous); numpy's ``order`` other than 'C' reshapes with np.reshape."""
        shape = _shape_arg(shape)
        if order != "C":
            return np.reshape(self, shape, order=order)
        if not self._data.flags.c_contiguous and self._data.ndim > 1:
            c = self.clone()
            return _op("UnsafeViewBackward0", np.reshape, np.reshape, (c, shape), None, (0,), ())
        return _op("ViewBackward0", np.reshape, np.reshape, (self, shape), None, (0,), (),
                   view=True)

    view = reshape

    def view_as(self, other):
        """Reshape to ``other``'s shape."""
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1, order="C"):
        """Flatten dims ``start_dim..end_dim`` (all by default) into one (``ViewBackward0``;
        self when that is one dim); numpy's ``x.flatten(order)`` too."""
        if isinstance(start_dim, str):
            order, start_dim = start_dim, 0
        if order != "C":
            return np.ravel(self, order)
        shape = self._data.shape
        if not shape:
            return self.reshape(1)
        s, e = start_dim % len(shape), end_dim % len(shape)
        if s > e:
            raise TapeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if s == e:
            return self
        return self.reshape(shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])

    def clone(self):
        """A copy that stays in the graph (``CloneBackward0``)."""
        return _op("CloneBackward0", np.positive, np.copy, (self,), None, (0,), ())

    def contiguous(self):
        """Self when already contiguous, else a contiguous clone."""
        return self if self._data.flags.c_contiguous else self.clone()

    def transpose(self, *dims):
        """Swap two dimensions (``TransposeBackward0``); with no or all axes (or inside grad_of)
        numpy's ``ndarray.transpose``."""
        if len(dims) != 2 or _state.strict:
            return np.transpose(self, _shape_arg(dims) if dims else None)
        dim0, dim1 = dims
        return _op("TransposeBackward0", np.swapaxes, np.swapaxes, (self, dim0, dim1), None, (0,),
                   (), view=True)

    def t(self):
        """Transpose a tensor of at most 2 dimensions (``TBackward0``)."""
        if self._data.ndim > 2:
            raise TapeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                            f"{self._data.ndim}D")
        return _op("TBackward0", np.transpose, np.transpose, (self,), None, (0,), (), view=True)

    def permute(self, *dims):
        """Reorder dimensions (``PermuteBackward0``)."""
        dims = _shape_arg(dims)
        return _op("PermuteBackward0", np.transpose, np.transpose, (self, dims), None, (0,), (),
                   view=True)

    def unsqueeze(self, dim):
        """Insert a dimension of size 1 (``UnsqueezeBackward0``)."""
        shape = np.expand_dims(np.empty(self._data.shape, dtype=bool), dim).shape
        return _op("UnsqueezeBackward0", np.reshape, np.reshape, (self, shape), None, (0,), (),
                   view=True)

    def squeeze(self, dim=None, *, axis=None):
        """Drop dimensions of size 1 (``SqueezeBackward0``; with ``dim`` ``SqueezeBackward1``);
        numpy's ``axis=`` (a tuple too) squeezes with np.squeeze."""
        if axis is not None or isinstance(dim, tuple) and _state.strict:
            return np.squeeze(self, dim if axis is None else axis)
        s = self._data.shape
        if dim is None:
            shape, name = tuple(n for n in s if n != 1), "SqueezeBackward0"
        elif isinstance(dim, tuple):  # (PyTorch's: the listed dims of size 1 go, others stay)
            drop = {d % max(len(s), 1) for d in dim}
            shape = tuple(n for i, n in enumerate(s) if not (i in drop and n == 1))
            name = "SqueezeBackward2"
        else:
            d = dim % max(len(s), 1)
            shape = s[:d] + s[d + 1:] if s and s[d] == 1 else s
            name = "SqueezeBackward1"
        return _op(name, np.reshape, np.reshape, (self, shape), None, (0,), (), view=True)

    def expand(self, *sizes):
        """Broadcast to a bigger shape without copying (``ExpandBackward0``)."""
        sizes = _shape_arg(sizes)
        lead = len(sizes) - self._data.ndim
        shape = tuple(self._data.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
        return _op("ExpandBackward0", np.broadcast_to, np.broadcast_to, (self, shape), None, (0,),
                   (), view=True)

    def expand_as(self, other):
        """Expand to ``other``'s shape."""
        return self.expand(*other.shape)

    def repeat(self, *sizes, axis=None):
        """Tile the tensor (``RepeatBackward0``); inside grad_of numpy's ``ndarray.repeat``
        (``x.repeat(2)`` repeats each element, where PyTorch's tiles the whole tensor)."""
        if _state.strict or axis is not None:
            if len(sizes) > 2 or (len(sizes) == 2 and axis is not None):
                raise TapeError("repeat(repeats, axis=None) takes one repeats argument and an "
                                "axis (numpy's ndarray.repeat)")
            return np.repeat(self, sizes[0], sizes[1] if len(sizes) == 2 else axis)
        sizes = _shape_arg(sizes)
        if len(sizes) < self._data.ndim:  # (PyTorch's refusal: numpy's x.repeat(2) is no tiling)
            raise TapeError("Number of dimensions of repeat dims can not be smaller than number "
                            "of dimensions of tensor")
        return _composite("RepeatBackward0", lambda a: _repeat(a, sizes), (self,))

    def flip(self, *dims, **kw):
        """Reverse the order along ``dims`` (``FlipBackward0``; ``x.flip(0)``, ``x.flip((0, 1))``
        or ``x.flip(dims=(0, 1))``)."""
        if kw:
            if dims or set(kw) != {"dims"}:
                raise TypeError(f"flip() takes the dims, positionally or as dims=, not "
                                f"{', '.join(kw)}")
            dims = (kw["dims"],) if isinstance(kw["dims"], (tuple, list)) else (kw["dims"],)
        dims = _shape_arg(dims)
        idx = tuple(slice(None, None, -1) if i in [d % self._data.ndim for d in dims]
                    else slice(None) for i in range(self._data.ndim))
        # (a new array, as PyTorch's flip, not a view: numpy's reversed view was taken for a
        # view with no index into its base, and an in-place write into it refused)
        return _op("FlipBackward0", _getitem, _getitem, (self, idx), None, (0,), (),
                   ans=self._data[idx].copy())

    def __getitem__(self, index):
        return _getitem_tensor(self, index)

    def index_select(self, dim, index):
        """Select entries along ``dim`` (``IndexSelectBackward0``)."""
        idx = (slice(None),) * (dim % self._data.ndim) + (np.asarray(_unwrap(index)),)
        return _op("IndexSelectBackward0", _getitem, _getitem, (self, idx), None, (0,), ("i",))

    def split(self, split_size, dim=0):
        """Split into chunks of ``split_size`` along ``dim`` (``SplitBackward0``), or into
        pieces of the listed sizes (``SplitWithSizesBackward0``)."""
        n = self._data.shape[dim]
        name = "SplitBackward0"
        if isinstance(split_size, (list, tuple)):
            if builtins.sum(split_size) != n:
                raise TapeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                                f"(input tensor's size at dimension {dim}), but got "
                                f"split_sizes={list(split_size)}")
            bounds = [0, *itertools.accumulate(split_size)]
            name = "SplitWithSizesBackward0"
        else:
            bounds = list(range(0, n, split_size)) + [n] if n else [0, 0]
        return _multi_views([self._slice_chunk(dim, a, b, name)
                             for a, b in itertools.pairwise(bounds)])

    def chunk(self, chunks, dim=0):
        """Split into ``chunks`` pieces along ``dim`` (``SplitBackward0``)."""
        n = self._data.shape[dim]
        if not n:
            return _multi_views([self._slice_chunk(dim, 0, 0) for _ in range(chunks)])
        return self.split(-(-n // chunks), dim)

    def unbind(self, dim=0):
        """The slices along ``dim`` (``UnbindBackward0``)."""
        d = dim % self._data.ndim
        return _multi_views([_op("UnbindBackward0", _getitem, _getitem,
                                 (self, (slice(None),) * d + (i,)), None, (0,), (), view=True)
                             for i in range(self._data.shape[d])])

    def _slice_chunk(self, dim, a, b, name="SplitBackward0"):
        d = dim % self._data.ndim
        return _op(name, _getitem, _getitem, (self, (slice(None),) * d + (slice(a, b),)),
                   None, (0,), (), view=True)

    # ------------------------------------------------------------ dtype

    def to(self, dtype):
        """Cast to ``dtype`` (``ToCopyBackward0``; self when the dtype is unchanged)."""
        dt = _dt(dtype)
        if dt == self._data.dtype:
            return self
        if dt.kind not in "fc":
            return _wrap(self._data.astype(dt))
        return _op("ToCopyBackward0", _ToCopy, _ToCopy(dt), (self,), None, (0,), ())

    def float(self):
        """Cast to float32."""
        return self.to(float32)

    def double(self):
        """Cast to float64."""
        return self.to(float64)

    def long(self):
        """Cast to int64 (no gradient)."""
        return self.to(int64)

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        """numpy-style cast (differentiable between float types; numpy's other keywords are
        accepted): a new Tensor, as numpy's copy=True, also to the same dtype (where ``to``
        returns self, so that a write into the cast changed this Tensor); copy=False may be self."""
        out = self.to(dtype)
        return out.clone() if copy and out is self else out

    # ------------------------------------------------------------ numpy protocol

    __array_ufunc__ = array_ufunc_method
    __array_function__ = array_function_method


def _values_only(dim, axis, keepdims):
    """Whether ``x.max(...)``/``x.min(...)`` is numpy's (values only, ties sharing the gradient):
    over an axis in a numpy program (grad_of), and where PyTorch has no such call (numpy's
    keywords over all dims or several, ``x.max(keepdims=True)``, ``x.max(axis=(0, 1))``); else
    PyTorch's, whose ``x.max(axis=1)`` is ``x.max(dim=1)``: (values, indices)."""
    if isinstance(dim, Tensor):
        return False
    numpy_kw = axis is not None or keepdims is not None
    if _state.strict:
        return numpy_kw or dim is not None
    d = dim if axis is None else axis
    return numpy_kw and (d is None or isinstance(d, (tuple, list)))


def _install(methods, cls):
    """Copy the functions and properties defined on ``methods`` onto ``cls``."""
    for name, value in vars(methods).items():
        if isinstance(value, (types.FunctionType, property)):
            setattr(cls, name, value)


_install(_Methods, Tensor)
_install(_TorchOpMethods, Tensor)
install_numpy_methods(Tensor)  # (last: the ndarray methods the Tensor does not define)
