"""``grad_of``: the tape as an independent gradient oracle for the source compiler."""

import inspect

import numpy as np

from .. import runtime as _sd
from ..errors import SourcediffError
from .engine import grad
from .grad_mode import _state, enable_grad
from .tensor_class import Tensor, _leaf


def grad_of(f, args, wrt=0):
    """Gradient of a plain numpy function ``f(*args)`` (scalar output) computed by the tape.

    ``wrt`` is an argument index, a parameter name or a tuple of them (a tuple gives a tuple of
    gradients). The ``wrt`` arguments become float64 tape Tensors (other arguments are passed
    unchanged), ``f`` runs on them through numpy dispatch, and the gradients come back as numpy
    values shaped like the arguments (a float for a Python float). This is the tape used as an
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
    originals = {i: args[i] for i in wrts}
    leaves = {}
    for i in wrts:
        a = args[i]
        arr = np.array(a, dtype=np.result_type(a, np.float64) if np.ndim(a) or
                       not isinstance(a, np.generic) else a.dtype)
        if arr.dtype.kind == "c":  # (astype would drop the imaginary part: f at another point)
            raise SourcediffError(
                f"grad_of: argument {i} is complex ({arr.dtype}); the tape differentiates with "
                f"respect to real arguments: pass its real and imaginary parts as two arguments")
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float64)
        leaves[i] = _leaf(arr, True)
        with enable_grad():
            args[i] = leaves[i].clone()  # a non-leaf, so the function may update it in place
    prev = _state.strict
    _state.strict = True
    try:
        with enable_grad():
            out = f(*args)
    finally:
        _state.strict = prev
    if not isinstance(out, Tensor):
        raise SourcediffError(
            f"grad_of: {getattr(f, '__name__', f)} returned {type(out).__name__}, not a tape "
            "Tensor; its result does not depend on the wrt arguments through numpy operations")
    if out._data.size != 1:
        raise SourcediffError(
            f"grad_of needs a scalar output, but the function returned shape {out._data.shape}")
    if not out._rg:
        gs = [None] * len(wrts)
    else:
        gs = grad(out.reshape(()), [leaves[i] for i in wrts], allow_unused=True)
    res = []
    for i, g in zip(wrts, gs):
        val = np.zeros(leaves[i]._data.shape) if g is None else g._data
        like = originals[i]
        if isinstance(like, (np.ndarray, np.generic)) and like.dtype.kind in "biu":
            like = like.astype(np.float64)  # (an integer array's gradient is not truncated)
        res.append(_sd.grad_like(val, like))
    return res[0] if single else tuple(res)
