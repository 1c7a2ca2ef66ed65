"""Arrays as the helpers see them: other libraries' arrays (dask, CuPy) kept in their own type,
shapes, and broadcasting and reductions undone (a gradient summed back to its argument's shape)."""

import math
import numbers

import numpy as np

from ..errors import SourcediffError
from ..pytree import is_model_object

__all__ = [
    "other_array", "lazy", "as_array", "computed", "library", "numpy_only", "shape", "unbroadcast",
    "operator_giving_object", "broadcast_tangent", "unreduce", "reduced_count", "keep", "rebroadcast", "like_of"
]


def other_array(x):
    """True for an array of another library that numpy dispatches to (a dask or CuPy array): the
    helpers keep it in its own type and never ``np.asarray`` it (that would compute a whole dask
    array, and CuPy refuses it)."""
    cls = type(x)  # (read on the class: a user's __getattr__ may answer any name, or raise)
    return not issubclass(cls, (np.ndarray, np.generic, dict, list, tuple)) and (
        hasattr(cls, "__dask_graph__") or hasattr(cls, "__array_namespace__"))


def lazy(x):
    """True for a lazy array (dask): reading its values (``bool``, ``float``, ``np.asarray``) runs
    the whole computation that makes it."""
    cls = type(x)  # (read on the class: a user's __getattr__ may answer any name, or raise)
    return hasattr(cls, "__dask_graph__") and hasattr(cls, "shape")


def as_array(x, dtype=None):
    """``np.asarray(x, dtype)``, but another library's array (see :func:`other_array`) stays one."""
    if other_array(x):
        return x if dtype is None or x.dtype == dtype else x.astype(dtype)
    return np.asarray(x, dtype=dtype)


def inexact(x):
    """``x`` as an array of floats, or of complex numbers when it holds them: the values a rule
    computes with (``np.asarray(x, dtype=float)`` would drop the imaginary parts of a complex
    value in between, and the gradient with them)."""
    a = as_array(x)
    return a if a.dtype.kind in "fc" else a.astype(np.result_type(a.dtype, float))


def computed(*values):
    """The values a control-flow test reads, with every small lazy one (a dask array of at most
    ``_COMPUTED_MAX`` elements) computed, all in one pass; the rest as they are. One value gives
    one value back, several a tuple. The code specialized for dask arguments calls it before a
    branch or loop test (``sourcediff/lazy.py``), so the test and every later use of the value
    (the adjoint sweep replays the test) read the computed number instead of computing it again."""
    at = [k for k, v in enumerate(values) if lazy(v) and math.prod(v.shape) <= _COMPUTED_MAX]
    if not at:
        return values[0] if len(values) == 1 else values
    import dask

    done = dask.compute(*[values[k] for k in at])
    out = list(values)
    for k, v in zip(at, done):
        out[k] = v
    return out[0] if len(out) == 1 else tuple(out)


_COMPUTED_MAX = 64


def library(x):
    """How a message names the array type of ``x`` ("a dask array", "a cupy array")."""
    return f"a {type(x).__module__.split('.')[0]} array"


def numpy_only(what, *values):
    """Refuse a dask or CuPy value among ``values`` for a derivative that sourcediff computes with
    numpy alone (sorting, np.add.at, np.bincount), rather than computing the value behind the user's
    back or failing inside the other library."""
    for v in values:
        if other_array(v):
            raise NotImplementedError(
                f"the derivative of {what} is computed with numpy only, and it meets {library(v)}; "
                f"compute the array first (x.compute() for dask, x.get() for CuPy) and pass numpy, "
                f"or leave that operation out of the differentiated function")


def shape(x):
    """np.shape without the array conversion for plain numbers."""
    return () if isinstance(x, (float, int, complex, np.generic)) else np.shape(x)


# (shape, dtype) -> a read-only array of zeros of that shape that takes one element of memory
_STAND_INS = {}


def like_of(x):
    """What generated code saves of an array the backward sweep reads only for its type, shape and
    dtype (``_sd.unbroadcast(g, x)``: the ``type_only`` facts of the rules): a read-only array of
    zeros with ``x``'s shape and dtype whose memory is one element, so that the forward sweep
    does not keep the whole array alive until the backward one. Anything but a plain ndarray of
    at least one dimension is ``x`` itself (a float, a list, a dask array)."""
    if type(x) is not np.ndarray or not x.ndim:
        return x
    key = (x.shape, x.dtype)
    out = _STAND_INS.get(key)
    if out is None:
        if len(_STAND_INS) > 512:
            _STAND_INS.clear()
        out = _STAND_INS[key] = np.broadcast_to(np.zeros((), x.dtype), x.shape)
    return out


def operator_on_object(x):
    """The refusal of an operator or a numpy function that takes ``x``, an instance of a class of
    the user's, as a number or an array (running that class's ``__add__``, ``__radd__``,
    ``__abs__``, ``__float__``, ``__array__``, ...): the rule is numpy's arithmetic, and the
    gradient it would give is not that of the class's method. A TypeError, which the generated
    code's caller locates at the user's line (compiled.py)."""
    name = type(x).__name__
    return TypeError(
        f"an operator (+, -, *, /, @, ...), abs(), float() or a numpy function here takes an "
        f"object of your class {name} as a number or an array, so it runs {name}'s own method "
        f"for it (__add__, __radd__, __mul__, __abs__, __float__, __array__, ...); "
        + _NOT_FOLLOWED.format(name=name))


_NOT_FOLLOWED = (
    "sourcediff differentiates these as numpy's arithmetic and does not follow into a class's "
    "own operator methods. Call the operation as a method with a name of its own (a.plus(b), "
    "a.scaled(3.0), defined in {name}), which sourcediff follows into, or compute on the arrays "
    "the objects hold")


def operator_giving_object(attributes):
    """The refusal of an operator whose result is an object of the user's class (its gradient a
    GradDict by attribute name: ``-obj``, ``obj * 3.0``, ``2.0 * obj``, ``obj ** k`` running the
    class's ``__neg__``, ``__mul__``, ``__rmul__``, ``__pow__``): the operator's adjoint is
    numpy's arithmetic, applied to that gradient. ``attributes`` name the result's attributes
    (the class itself is not known there). A TypeError, located at the user's line as above."""
    held = ", ".join(str(a) for a in attributes) or "none reached"
    return TypeError(
        f"an operator (-obj, obj * 3.0, 2.0 * obj, obj / 2, obj ** k, ...) here gives an object of "
        f"your class (its attributes: {held}), so it runs the class's own method for it (__neg__, "
        f"__mul__, __rmul__, __truediv__, __pow__, ...); " + _NOT_FOLLOWED.format(name="the class"))


def _sequence_arithmetic(x, g):
    """The refusal of ``a + b`` or ``a * n`` the compiler took for arithmetic where ``a`` was a
    list or tuple at run time (one the function was given: A + B of two list arguments, L * 2,
    L + L): the gradient of the concatenation or repetition reached the operand whole, and
    summing it to its shape would give it another item's gradient."""
    kind = type(x).__name__
    return SourcediffError(
        f"a {kind} of {len(x)} items is an operand of + or * here, which concatenates or repeats "
        f"it into {len(g)} items, but sourcediff took the operation for arithmetic (the {kind} "
        f"came in as an argument, and A + B, L * 2 and L + L of arguments look like numbers' "
        f"operations), so each operand's gradient would be read from the wrong items. Make the "
        f"{kind} visible where it is used: list(A) + list(B), list(L) * 2")


def unbroadcast(g, x):
    """Sum ``g`` down to the shape of ``x`` (undoing numpy broadcasting)."""
    if type(g) is np.ndarray and type(x) is np.ndarray:  # the common case, kept cheap
        if g.shape == x.shape:
            return g
        gs, xs = g.shape, x.shape
    else:
        if isinstance(x, (list, tuple)):  # a container's gradient has its shape already
            if isinstance(g, (list, tuple)) and len(g) != len(x):
                raise _sequence_arithmetic(x, g)
            return g
        if is_model_object(x):
            raise operator_on_object(x)
        if isinstance(g, (list, tuple, dict)) and type(x) is float:
            # (a list's cotangent summed to a number: that of the symbolic zero 0.0 a list's
            # gradient is on a path where nothing reached it, which _sd.dense_grad filled into
            # every item; the adjoint of that filling adds the items up)
            return _leaf_sum(g)
        gs, xs = shape(g), shape(x)
        if gs == xs:
            return g
    if not xs:
        return np.sum(g)
    lead = len(gs) - len(xs)
    if type(g) is np.ndarray:  # (a bias's gradient: the same sum, fewer steps)
        if lead == 1 and gs[1:] == xs:
            return np.add.reduce(g, axis=0)
        if lead == 0 and xs[0] == 1 and gs[1:] == xs[1:]:  # (a row (1, n) against (m, n))
            return np.add.reduce(g, axis=0, keepdims=True)
    if len(gs) < len(xs):
        g = np.broadcast_to(g, np.broadcast_shapes(gs, xs))
        gs = g.shape
    lead = len(gs) - len(xs)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(xs)
                                      if n == 1 and gs[lead + i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True) if type(g) is np.ndarray else \
            np.sum(g, axis=axes, keepdims=True)
        if lead:
            g = g.reshape(g.shape[lead:])
    if g.shape != xs:
        g = np.broadcast_to(g, xs)
    return g


def _leaf_sum(g):
    """The sum of every number a list, tuple or dict of gradients holds (None for none)."""
    if g is None:
        return 0.0
    if isinstance(g, (list, tuple)):
        return sum((_leaf_sum(v) for v in g), 0.0)
    if isinstance(g, dict):
        return sum((_leaf_sum(v) for v in g.values()), 0.0)
    return np.sum(g)


def foreign_array(value, name="it"):
    """``(what it is, how to make it a plain array)`` for an np.matrix or a masked array, else
    None: their operators and reductions are not ndarray's (``*`` is a matrix product, a sum
    skips the masked entries), and the derivative rules are written for ndarray's, so every
    place that meets one refuses it with these words (``name``: how the fix names it)."""
    if type(value) is np.ndarray or not isinstance(value, np.ndarray):
        return None
    if isinstance(value, np.matrix):
        return ("an np.matrix, whose * is a matrix product and ** a matrix power",
                f"np.asarray({name}) (and @ for a matrix product)")
    if isinstance(value, np.ma.MaskedArray):
        return ("a masked array (np.ma), whose operations and sums skip its masked entries",
                f"{name}.filled(v) for the value v the masked entries should count as, or the "
                f"mask as an argument of its own (np.where(mask, 0.0, x))")
    return None


def broadcast_tangent(t, ans):
    """Broadcast a tangent contribution up to the shape of the result ``ans``."""
    if type(ans) is not np.ndarray and isinstance(ans, np.ndarray) and foreign_array(ans):
        # (from one read through an attribute, an item, a default or a helper, CFG.M * x: those
        # read by name are refused where the function is compiled)
        what, fix = foreign_array(ans, "that value")
        raise SourcediffError(
            f"forward mode computed {what}, from a value the function reads (through an "
            f"attribute, an item, a default or a helper); sourcediff's derivative rules are plain "
            f"ndarray's, so the derivative would be wrong. Read {fix}")
    if isinstance(ans, (list, tuple)):  # the tangent of a container gradient (GradList) as it is
        if isinstance(t, (list, tuple)) and len(t) != len(ans):  # (A + B of list arguments)
            raise _sequence_arithmetic(t, ans)
        return t
    if shape(t) == shape(ans):
        return t
    if type(ans) is float and ans == 0.0:
        # the symbolic zero of a gradient (a helper's 0.0 for a zero it met, such as g * i at
        # i = 0): it stands for zeros of any shape, and the tangent has the shape the zeros had
        return t
    return np.broadcast_to(t, shape(ans))


def unreduce(g, x, axis=None, keepdims=False):
    """Broadcast the gradient of a reduction over ``axis`` back to the shape of ``x``."""
    if type(g) is float and g == 0.0:  # the symbolic zero stays symbolic
        return 0.0
    xs = shape(x)
    if axis is not None and not keepdims:
        axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
        g = np.expand_dims(g, tuple(a % len(xs) for a in axes))
    if type(x) is not np.ndarray and other_array(x):  # (in x's blocks: a broadcast would be one
        dtype = np.result_type(g, x.dtype)              # block of x's whole shape)
        if isinstance(g, (int, float, np.generic)):
            return np.full_like(x, g, dtype=dtype)
        return np.zeros_like(x, dtype=dtype) + g
    if axis is None and isinstance(g, (float, np.generic)) and len(xs) and \
            (x.size if type(x) is np.ndarray else math.prod(xs)) <= 4096:
        return np.full(xs, g, dtype=np.result_type(g, getattr(x, "dtype", float)))  # cheaper
    if type(g) is np.ndarray and not g.ndim and not g.dtype.hasobject:
        # (a 0-d array, the tape's gradient of a sum: the read-only view with zero strides that
        # np.broadcast_to makes, without its Python-level steps, 5 us against under 1)
        out = np.ndarray(xs, g.dtype, g, 0, (0,) * len(xs))
        out.flags.writeable = False
        return out
    return np.broadcast_to(g, xs)


def reduced_count(x, axis=None):
    """How many elements of ``x`` each result of a reduction over ``axis`` combines, at least 1:
    the rules divide by it, and over an empty axis ``x`` is empty, so is its gradient (np.mean of
    an empty array is nan; its gradient is an empty array, not a ZeroDivisionError)."""
    xs = shape(x)
    if axis is None:
        return max(int(np.prod(xs, dtype=np.int64)), 1)
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    return max(int(np.prod([xs[a] for a in axes], dtype=np.int64)), 1)


def keep(ans, x, axis=None, keepdims=False):
    """``ans`` of a reduction reshaped so it broadcasts against ``x`` (keepdims form)."""
    if axis is None or keepdims:
        return ans if axis is not None or not shape(x) else np.reshape(ans, (1,) * len(shape(x)))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    return np.expand_dims(ans, tuple(a % len(shape(x)) for a in axes))


def rebroadcast(b, g):
    """The adjoint of ``unbroadcast(g, x)``/``broadcast_tangent(g, y)``: ``b`` brought to g's shape
    (a container's gradient has its shape already, as in unbroadcast)."""
    if isinstance(g, (list, tuple)) or isinstance(b, (list, tuple)):
        return b
    return unbroadcast(np.broadcast_to(b, np.broadcast_shapes(shape(b), shape(g))), g)
