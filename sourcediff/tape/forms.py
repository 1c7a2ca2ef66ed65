"""The function forms of Tensor methods (``torch.reshape(x, s)`` is ``x.reshape(s)``...) and
``torch.linalg``'s norms, so PyTorch code that spells them as functions runs on the tape."""

import types

import numpy as np

from .messages import TapeError
from .tensor_class import Tensor, _wrap


def _t(x):
    return x if isinstance(x, Tensor) else _wrap(np.asarray(x))


def _form(method, doc):
    def f(input, *args, **kw):
        return getattr(_t(input), method)(*args, **kw)
    f.__name__ = f.__qualname__ = method
    f.__doc__ = doc
    return f


_FORMS = {
    "argmax": "Index of the max (``torch.argmax(x, dim, keepdim)``; flat when no dim).",
    "argmin": "Index of the min (``torch.argmin(x, dim, keepdim)``).",
    "max": "``torch.max(x)``, ``torch.max(x, dim)`` (values, indices) or ``torch.max(x, y)``.",
    "min": "``torch.min(x)``, ``torch.min(x, dim)`` (values, indices) or ``torch.min(x, y)``.",
    "amax": "``AmaxBackward0``.",
    "amin": "``AminBackward0``.",
    "prod": "``ProdBackward0``/``ProdBackward1``.",
    "std": "``StdBackward0`` (unbiased by default).",
    "var": "``VarBackward0`` (unbiased by default).",
    "logsumexp": "``torch.logsumexp(x, dim, keepdim)`` (``LogsumexpBackward0``).",
    "norm": "``torch.norm(x, p, dim, keepdim)`` (``LinalgVectorNormBackward0``).",
    "flatten": "``torch.flatten(x, start_dim, end_dim)``.",
    "reshape": "``torch.reshape(x, shape)``.",
    "transpose": "``torch.transpose(x, dim0, dim1)`` (``TransposeBackward0``).",
    "permute": "``torch.permute(x, dims)`` (``PermuteBackward0``).",
    "squeeze": "``torch.squeeze(x, dim)``.",
    "unsqueeze": "``torch.unsqueeze(x, dim)`` (``UnsqueezeBackward0``).",
    "square": "``PowBackward0``.",
    "log1p": "``Log1PBackward0``.",
    "expm1": "``Expm1Backward0``.",
    "tan": "``TanBackward0``.",
    "sign": "``SignBackward0`` (zero gradient).",
    "floor": "``FloorBackward0`` (zero gradient).",
    "round": "``RoundBackward0`` (zero gradient).",
    "rsqrt": "``RsqrtBackward0``.",
    "reciprocal": "``ReciprocalBackward0``.",
    "mv": "``MvBackward0``.",
    "t": "``TBackward0``.",
    "clone": "``CloneBackward0``.",
    "masked_fill": "``MaskedFillBackward0``.",
    "index_select": "``IndexSelectBackward0``.",
    "flip": "``FlipBackward0``.",
    "split": "``SplitBackward0``.",
    "chunk": "``SplitBackward0``.",
    "unbind": "``UnbindBackward0``.",
}

for _name, _doc in _FORMS.items():
    globals()[_name] = _form(_name, _doc)


def clip(input, min=None, max=None):
    """``torch.clip``: :func:`clamp`."""
    return _t(input).clamp(min, max)


def numel(input):
    """The number of elements."""
    return int(np.size(_t(input)._data))


def _vector_norm(x, ord=2, dim=None, keepdim=False, dtype=None):
    """``torch.linalg.vector_norm`` (``LinalgVectorNormBackward0``): the ``ord``-norm of all
    elements as one vector, or along ``dim``."""
    if dtype is not None:
        x = x.to(dtype)
    if isinstance(ord, str):
        raise TapeError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    return _t(x).norm("fro" if ord == 2 else ord, dim, keepdim)


def _matrix_norm_refused(ord):
    raise TapeError(
        f"linalg.norm(A, ord={ord!r}) of a matrix: the tape takes the Frobenius norm (ord=None "
        "or 'fro') and vector norms (a 1-D input, or dim=int); write a spectral or nuclear norm "
        "out, e.g. with np.linalg.svd(A, compute_uv=False) under sourcediff.grad")


def _norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """``torch.linalg.norm``: with ``ord=None`` the 2-norm of all elements (flattened) or along
    ``dim``; with ``ord`` a vector norm of a 1-D input or along an int ``dim``; of a matrix
    only ``'fro'``."""
    A = _t(A)
    if dtype is not None:
        A = A.to(dtype)
    if isinstance(dim, int):
        if isinstance(ord, str):
            raise TapeError(f"linalg.norm: ord={ord!r} needs two dims; dim={dim} names one")
        return _vector_norm(A, 2 if ord is None else ord, dim, keepdim)
    if ord is None:
        return _vector_norm(A, 2, dim, keepdim)
    nd = len(dim) if dim is not None else A._data.ndim
    if dim is None and nd == 1:
        return _vector_norm(A, ord, None, keepdim)
    if nd != 2:
        raise TapeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                        f"1D or 2D. Got {A._data.ndim}D.")
    if ord != "fro":
        _matrix_norm_refused(ord)
    return _vector_norm(A, 2, dim if dim is not None else (-2, -1), keepdim)


linalg = types.SimpleNamespace(norm=_norm, vector_norm=_vector_norm,
                               __doc__="``torch.linalg``'s norms on the tape.")
