"""Creating tensors: ``tensor``, ``ones``, ``randn``, ``arange``, ``*_like`` and the random seed."""

import warnings

import numpy as np

from .messages import TapeTypeError
from .tensor_class import _DEFAULT_FLOAT, Size, Tensor, _dt, _leaf, _to_array, _unwrap, _wrap

_rng = [np.random.default_rng()]


def manual_seed(seed):
    """Seed the tape's random generator (numpy's, not PyTorch's): ``T.manual_seed(0)``."""
    _rng[0] = np.random.default_rng(seed)


def tensor(data, dtype=None, requires_grad=False):
    """A new leaf tensor (copying ``data``); Python floats become float32 like PyTorch.

    Example::

        x = T.tensor([1.0, 2.0], requires_grad=True)     # tensor([1., 2.], requires_grad=True)
    """
    if isinstance(data, Tensor):
        warnings.warn(
            "To copy construct from a tensor, it is recommended to use sourceTensor.detach()."
            "clone() or sourceTensor.detach().clone().requires_grad_(True), rather than "
            "torch.tensor(sourceTensor).", UserWarning, stacklevel=2)
    return _leaf(_to_array(data, dtype), requires_grad)


def as_tensor(data, dtype=None):
    """``data`` itself when it is a Tensor of that dtype, else a tensor sharing memory if it can."""
    if isinstance(data, Tensor) and (dtype is None or _dt(dtype) == data.dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or _dt(dtype) == data.dtype):
        return _wrap(data)
    return tensor(data, dtype)


def from_numpy(array):
    """A tensor sharing memory with a numpy array (its dtype kept): ``T.from_numpy(np.ones(3))``."""
    if not isinstance(array, np.ndarray):
        raise TapeTypeError(f"expected np.ndarray (got {type(array).__name__})")
    return _wrap(array)


def _size_args(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        return tuple(size[0])
    return tuple(size)


def _factory(arr, dtype, requires_grad):
    if dtype is not None:
        arr = arr.astype(_dt(dtype), copy=False)
    return _leaf(arr, requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    """``T.ones(2, 2, requires_grad=True)``."""
    return _factory(np.ones(_size_args(size), _DEFAULT_FLOAT), dtype, requires_grad)


def zeros(*size, dtype=None, requires_grad=False):
    """``T.zeros(1, 32, requires_grad=True)``."""
    return _factory(np.zeros(_size_args(size), _DEFAULT_FLOAT), dtype, requires_grad)


def empty(*size, dtype=None, requires_grad=False):
    """An uninitialised tensor (zeros here): ``T.empty(3)``."""
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    """``T.full((2, 3), 7.0)``; without ``dtype`` the fill value's kind picks it as in
    PyTorch: bool, int64 for an int, float32 for a float."""
    if dtype is None:
        v = _unwrap(fill_value)
        kind = np.asarray(v).dtype.kind
        dtype = np.bool_ if kind == "b" else np.int64 if kind in "iu" else \
            np.asarray(v).dtype if kind == "c" else _DEFAULT_FLOAT
    return _factory(np.full(tuple(size), fill_value, _dt(dtype)), None, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    """Identity matrix: ``T.eye(3)``."""
    return _factory(np.eye(n, m, dtype=_DEFAULT_FLOAT), dtype, requires_grad)


def randn(*size, dtype=None, requires_grad=False):
    """Standard normal samples (float32 by default): ``T.randn(3, 32, requires_grad=True)``."""
    return _factory(_rng[0].standard_normal(_size_args(size)).astype(_DEFAULT_FLOAT), dtype,
                    requires_grad)


def rand(*size, dtype=None, requires_grad=False):
    """Uniform samples in [0, 1): ``T.rand(2, 3)``."""
    return _factory(_rng[0].random(_size_args(size)).astype(_DEFAULT_FLOAT), dtype, requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end``: ``T.linspace(-3.14, 3.14, 2000)``."""
    return _factory(np.linspace(start, end, steps).astype(_DEFAULT_FLOAT), dtype, requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """``T.arange(5)`` (int64) or ``T.arange(0.0, 1.0, 0.25)`` (float32)."""
    if end is None:
        start, end = 0, start
    arr = np.arange(start, end, step)
    arr = arr.astype(_DEFAULT_FLOAT if arr.dtype.kind == "f" else np.int64)
    return _factory(arr, dtype, requires_grad)


def _like(t, arr, dtype, requires_grad):
    return _factory(arr.astype(t.dtype if dtype is None else _dt(dtype), copy=False), None,
                    requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    """``T.ones_like(y)``."""
    return _like(t, np.ones(t.shape), dtype, requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    """``T.zeros_like(y)``."""
    return _like(t, np.zeros(t.shape), dtype, requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    """``T.full_like(y, 2.0)``."""
    return _like(t, np.full(t.shape, fill_value), dtype, requires_grad)


def randn_like(t, dtype=None, requires_grad=False):
    """``T.randn_like(y)``."""
    return _like(t, _rng[0].standard_normal(t.shape), dtype, requires_grad)


def rand_like(t, dtype=None, requires_grad=False):
    """``T.rand_like(y)``."""
    return _like(t, _rng[0].random(t.shape), dtype, requires_grad)
