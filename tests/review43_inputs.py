"""review43's harness: losses called with arguments in the forms users pass them (dtypes,
layouts, views, read-only and zero-stride arrays, memmaps, numpy scalars, 0-d arrays, empty
arrays, one array passed twice), each gradient checked against finite differences on a float64
copy and against PyTorch, in every mode that applies (tests/test_review43.py)."""

import copy
import os
import tempfile
import warnings

import numpy as np

import sourcediff as sd
from sourcediff.tape import grad_of

from . import review43_losses as L

_TMP = tempfile.mkdtemp(prefix="review43-")


def fortran(a):
    return np.asfortranarray(a)


def transposed(a):  # the same values, as the transpose of a C-ordered array
    return np.ascontiguousarray(a.T).T if a.ndim >= 2 else a


def reversed_view(a):  # negative strides
    return np.ascontiguousarray(a[::-1])[::-1] if a.ndim else a


def strided(a):  # every other entry of a wider array
    if not a.ndim:
        return a
    wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    wide[..., ::2] = a
    return wide[..., ::2]


def read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def zero_strides(a):  # np.broadcast_to of its first row: read-only, stride 0 (other values)
    return np.broadcast_to(a[:1], a.shape) if a.ndim and a.shape[0] else a


def memmap(a):
    m = np.memmap(os.path.join(_TMP, f"m{len(os.listdir(_TMP))}"), dtype=a.dtype, mode="w+",
                  shape=a.shape)
    m[...] = a
    return m


def as_float32(a):
    return a.astype(np.float32)


def as_float16(a):
    return a.astype(np.float16)


def big_endian(a):
    return a.astype(a.dtype.newbyteorder(">"))


KINDS = {"float64": lambda a: a, "float32": as_float32, "float16": as_float16,
         "fortran": fortran, "transposed": transposed, "reversed": reversed_view,
         "strided": strided, "read_only": read_only, "zero_strides": zero_strides,
         "memmap": memmap, "big_endian": big_endian}


def _rng():
    return np.random.default_rng(43)


def losses():
    """name -> (loss, arguments, wrt): every argument a float64 array of a few entries."""
    r = _rng()
    n, d, k, T = 5, 3, 4, 4
    return {
        "mlp": (L.mlp, [r.normal(size=(d, k)), r.normal(size=k), r.normal(size=(n, d))],
                (0, 1, 2)),
        "logistic": (L.logistic, [r.normal(size=d), r.normal(size=(n, d)),
                                  np.sign(r.normal(size=n))], (0, 1)),
        "softmax_ce": (L.softmax_ce, [r.normal(size=(d, k)), r.normal(size=(n, d)),
                                      np.eye(k)[r.integers(0, k, n)]], (0, 1)),
        "rnn": (L.rnn, [0.5 * r.normal(size=(n, n)), r.normal(size=(n, T))], (0, 1)),
        "centred": (L.centred, [r.normal(size=(n, d))], (0,)),
        "gram": (L.gram, [r.normal(size=(n, d))], (0,)),
        "flat": (L.flat, [r.normal(size=(n, d)), r.normal(size=n * d)], (0, 1)),
        "chain": (L.chain, [0.3 * r.normal(size=(n, d))], (0,)),
        "dot1": (L.dot1, [r.normal(size=d), r.normal(size=d)], (0, 1)),
        "dot2": (L.dot2, [r.normal(size=(n, d)), r.normal(size=d)], (0, 1)),
        "pair": (L.pair, [r.normal(size=(n, d)), r.normal(size=(n, d))], (0, 1)),
        "scale_rows": (L.scale_rows, [r.normal(size=(n, d)), r.normal(size=d)], (0, 1)),
    }


def float64_copy(a):
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        return np.array(a, dtype=np.float64)
    if isinstance(a, np.floating):
        return np.float64(a)
    return a


def fd_gradient(f, args, i, h=1e-6):
    """Central differences of ``f`` at float64 copies of ``args``, entry by entry of argument
    ``i`` (small arrays only), each call on copies (a loss may write into its arguments)."""
    base = [float64_copy(a) for a in args]
    x = np.array(base[i], dtype=np.float64)
    out = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        vals = []
        for step in (h, -h):
            moved = x.copy()
            moved[k] += step
            call = list(base)
            call[i] = float(moved) if isinstance(args[i], float) and not x.shape else moved
            vals.append(f(*copy.deepcopy(call)))
        out[k] = (vals[0] - vals[1]) / (2 * h)
    return out


def tolerance(x):
    """Relative error allowed in a gradient of argument ``x``: what its dtype can hold."""
    dtype = np.asarray(x).dtype
    return {8: 1e-6, 4: 2e-3, 2: 5e-2}.get(dtype.itemsize, 1e-6) if dtype.kind == "f" else 1e-6


def snapshot(args):
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]


def assert_unchanged(args, before, what):
    for k, (a, b) in enumerate(zip(args, before)):
        if isinstance(a, np.ndarray):
            assert np.array_equal(a, b, equal_nan=True), f"{what}: argument {k} was modified"


def assert_like(g, x, what):
    """The documented form of a gradient (runtime.grad_like): an array's has its shape and
    dtype, a Python float's is a float, a numpy scalar's a numpy scalar of its type."""
    if isinstance(x, np.ndarray):
        assert type(g) is np.ndarray, f"{what}: gradient is a {type(g).__name__}"
        assert g.shape == x.shape, f"{what}: gradient shape {g.shape}, argument {x.shape}"
        assert g.dtype == x.dtype, f"{what}: gradient dtype {g.dtype}, argument {x.dtype}"
    elif isinstance(x, np.generic):
        assert type(g) is type(x), f"{what}: gradient {type(g).__name__}, argument " \
                                   f"{type(x).__name__}"
    elif isinstance(x, float):
        assert type(g) is float, f"{what}: gradient {type(g).__name__}, argument float"


def assert_close(g, ref, x, what):
    got = np.asarray(g, dtype=np.float64)
    err = np.max(np.abs(got - ref), initial=0.0) / (1.0 + np.max(np.abs(ref), initial=0.0))
    assert err <= tolerance(x), f"{what}: relative error {err:.3g} against finite differences"


MODES = {"default": {}, "unoptimized": {"optimize": False}, "forward": {"mode": "forward"},
         "numba": {"backend": "numba"}}


def gradient(f, args, wrt, mode):
    """The gradient by sourcediff in ``mode`` ("tape": sourcediff.tape.grad_of)."""
    if mode == "tape":
        return grad_of(f, args, wrt=wrt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.JitFallbackWarning)  # (numpy code: same numbers)
        warnings.simplefilter("ignore", sd.SourcediffWarning)  # (a write into an argument)
        return sd.grad(f, wrt=wrt, **MODES[mode])(*args)


def check(f, args, wrt, mode, refs=None, what=""):
    """Gradients of ``f`` at ``args`` in ``mode`` against finite differences: values, forms,
    and the arguments left as they were. A sourcediff refusal is returned, not raised."""
    refs = refs if refs is not None else [fd_gradient(f, args, i) for i in wrt]
    before = snapshot(args)
    try:
        grads = gradient(f, args, wrt, mode)
    except sd.SourcediffError as exc:
        assert_unchanged(args, before, what)
        return exc
    assert_unchanged(args, before, what)
    for i, g, ref in zip(wrt, grads, refs):
        assert_like(g, args[i], f"{what} argument {i}")
        assert_close(g, ref, args[i], f"{what} argument {i}")
    return None
