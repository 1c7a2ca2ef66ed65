"""``grad_of``: the tape as an independent gradient oracle for the source compiler."""

import inspect
import os

import numpy as np

from .. import pytree
from .. import runtime as _sd
from ..errors import SourcediffError
from .engine import grad
from .grad_mode import _state, enable_grad
from .tensor_class import Tensor, _leaf


def _parameters(f):
    try:
        return list(inspect.signature(f).parameters)
    except (TypeError, ValueError):
        return []


def _where(f):
    """``f (file.py:12)``, as sd.grad's messages name a function."""
    code = getattr(f, "__code__", None)
    name = getattr(f, "__qualname__", None) or getattr(f, "__name__", "the function")
    if code is None:
        return name
    return f"{name} ({os.path.basename(code.co_filename)}:{code.co_firstlineno})"


def grad_of(f, args, wrt=0):
    """Gradient of a plain numpy function ``f(*args)`` (scalar output) computed by the tape.

    ``wrt`` is an argument index, a parameter name or a tuple of them (a tuple gives a tuple of
    gradients). The ``wrt`` arguments become float64 tape Tensors (one per array of a list,
    tuple or dict argument; other arguments are passed unchanged), ``f`` runs on them through
    numpy dispatch, and the gradients come back as numpy values shaped like the arguments (a
    float for a Python float; a list, tuple or dict argument's in its structure). This is the tape used as an
    independent oracle for the source compiler.

    Example::

        import numpy as np
        from sourcediff.tape import grad_of

        grad_of(lambda x, y: np.sum(np.sin(x) * y), (np.ones(3), 2.0), wrt=(0, 1))
        # (array([1.0806, 1.0806, 1.0806]), 2.524...)
    """

    single = not isinstance(wrt, (tuple, list))
    wrts = [wrt] if single else list(wrt)
    if any(isinstance(w, str) for w in wrts):
        names = list(inspect.signature(f).parameters)
        wrts = [names.index(w) if isinstance(w, str) else w for w in wrts]
    args = list(args)
    names = _parameters(f)
    for i, a in enumerate(args):  # (their operators are not ndarray's, the tape's are)
        _sd.check_array_kind(a, names[i] if i < len(names) else f"#{i}",
                             getattr(f, "__qualname__", "the function"))
    where = _where(f)
    for i in wrts:  # (an int or bool argument is refused, as sd.grad and torch refuse it)
        _sd.check_wrt(args[i], names[i] if i < len(names) else f"#{i}", where)
    originals = {i: args[i] for i in wrts}
    leaves = {}  # (argument -> its leaf Tensors, in pytree.leaves order)
    for i in wrts:
        # (a list, tuple or dict of arrays: one leaf Tensor per array, in the same structure)
        tree = _is_tree_of_arrays(args[i])
        parts = pytree.leaves(args[i]) if tree else [args[i]]
        leaves[i] = [_leaf(_float_array(a, i), True) for a in parts]
        with enable_grad():  # (non-leaves, so the function may update them in place)
            copies = [t.clone() for t in leaves[i]]
        args[i] = pytree.rebuild(args[i], copies) if tree else copies[0]
    prev = _state.strict
    _state.strict, _state.escaped = True, None
    try:
        with enable_grad():
            out = f(*args)
    except Exception as exc:
        escaped = _state.escaped
        if escaped is not None and exc is not escaped:  # (numpy's own error replaced it)
            raise escaped from exc
        raise
    finally:
        _state.strict, _state.escaped = prev, None
    if not isinstance(out, Tensor):
        raise SourcediffError(
            f"grad_of: {getattr(f, '__name__', f)} returned {type(out).__name__}, not a tape "
            "Tensor; its result does not depend on the wrt arguments through numpy operations")
    if out._data.size != 1:
        raise SourcediffError(
            f"grad_of needs a scalar output, but the function returned shape {out._data.shape}")
    flat = [t for i in wrts for t in leaves[i]]
    gs = grad(out.reshape(()), flat, allow_unused=True) if out._rg else [None] * len(flat)
    res, at = [], 0
    for i in wrts:
        vals = []
        tree = _is_tree_of_arrays(originals[i])
        for t, like in zip(leaves[i], pytree.leaves(originals[i]) if tree else [originals[i]]):
            g = gs[at]
            at += 1
            if isinstance(like, (np.ndarray, np.generic)) and like.dtype.kind in "biu":
                like = like.astype(np.float64)  # (an integer array's gradient is not truncated)
            vals.append(_sd.grad_like(np.zeros(t._data.shape) if g is None else g._data, like))
        res.append(pytree.rebuild(originals[i], vals) if tree else vals[0])
    return res[0] if single else tuple(res)


def _is_tree_of_arrays(a):
    """A dict, a namedtuple, or a list or tuple holding arrays or containers: a pytree of
    parameters, one leaf Tensor per array or number (a plain list of numbers stays one array, as
    numpy reads it; a namedtuple's fields are read by name, so it stays a namedtuple)."""
    if isinstance(a, dict) or (isinstance(a, tuple) and hasattr(type(a), "_fields")):
        return True
    return isinstance(a, (list, tuple)) and any(
        isinstance(v, (np.ndarray, list, tuple, dict)) for v in a)


def _float_array(a, i):
    """A wrt argument's value (or a leaf of it) as a float array for a leaf Tensor."""
    if not (isinstance(a, (int, float, complex, list, tuple, np.ndarray, np.generic)) or
            hasattr(a, "__array__")):
        raise SourcediffError(
            f"grad_of: argument {i} holds a {type(a).__name__}, which cannot carry a gradient; "
            f"pass floats, float arrays, or lists, tuples and dicts of them (for a model object, "
            f"reverse mode does: sd.grad(f)(model, ...))")
    if isinstance(a, (list, tuple)):
        a = np.asarray(a)
    arr = np.array(a, dtype=np.result_type(a, np.float64) if np.ndim(a) or
                   not isinstance(a, np.generic) else a.dtype)
    if arr.dtype.kind == "c":  # (astype would drop the imaginary part: f at another point)
        raise SourcediffError(
            f"grad_of: argument {i} is complex ({arr.dtype}); the tape differentiates with "
            f"respect to real arguments: pass its real and imaginary parts as two arguments")
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)
