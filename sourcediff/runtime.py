"""Small numpy helpers that rules and generated code call (imported there as ``_sd``)."""

import numbers

import numpy as np

from .errors import NonScalarOutputError, InactiveArgumentError


def shape(x):
    """np.shape without the array conversion for plain numbers."""
    return () if isinstance(x, (float, int, complex, np.generic)) else np.shape(x)


def unbroadcast(g, x):
    """Sum ``g`` down to the shape of ``x`` (undoing numpy broadcasting)."""
    gs = shape(g)
    xs = shape(x)
    if gs == xs:
        return g
    if not xs:
        return np.sum(g)
    lead = len(gs) - len(xs)
    if lead:
        g = np.sum(g, axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(xs) if n == 1 and g.shape[i] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    if g.shape != xs:
        g = np.broadcast_to(g, xs)
    return g


def broadcast_tangent(t, ans):
    """Broadcast a tangent contribution up to the shape of the result ``ans``."""
    if shape(t) == shape(ans):
        return t
    return np.broadcast_to(t, shape(ans))


def unreduce(g, x, axis=None, keepdims=False):
    """Broadcast the gradient of a reduction over ``axis`` back to the shape of ``x``."""
    xs = shape(x)
    if axis is not None and not keepdims:
        axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
        g = np.expand_dims(g, tuple(a % len(xs) for a in axes))
    return np.broadcast_to(g, xs)


def reduced_count(x, axis=None):
    """How many elements of ``x`` each result of a reduction over ``axis`` combines."""
    xs = shape(x)
    if axis is None:
        return int(np.prod(xs, dtype=np.int64))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    return int(np.prod([xs[a] for a in axes], dtype=np.int64))


def keep(ans, x, axis=None, keepdims=False):
    """``ans`` of a reduction reshaped so it broadcasts against ``x`` (keepdims form)."""
    if axis is None or keepdims:
        return ans if axis is not None or not shape(x) else np.reshape(ans, (1,) * len(shape(x)))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    return np.expand_dims(ans, tuple(a % len(shape(x)) for a in axes))


def grad_like(g, x):
    """The final gradient for argument ``x``: its shape, its float dtype, a float for a float."""
    if isinstance(x, float):
        return float(np.sum(g)) if shape(g) else float(g)
    if isinstance(x, np.ndarray):
        if isinstance(g, np.ndarray) and g.shape == x.shape and g.dtype == x.dtype:
            return g
        out = np.zeros_like(x) if isinstance(g, (int, float)) and g == 0 else g
        return np.array(np.broadcast_to(unbroadcast(out, x), x.shape), dtype=x.dtype)
    if isinstance(x, np.generic):
        return x.dtype.type(np.sum(g))
    return g


def zeros_like_grad(x):
    """A zero gradient for ``x``."""
    if isinstance(x, float):
        return 0.0
    return np.zeros_like(x)


def check_scalar(value, where):
    """Refuse a non-scalar output for ``grad`` with a message that says what to do."""
    if shape(value) != ():
        raise NonScalarOutputError(
            f"grad needs a function that returns a scalar, but {where} returns an array of shape "
            f"{shape(value)}; reduce it (np.sum(...), np.mean(...)) or use sourcediff.jacobian / "
            f"sourcediff.vjp for a non-scalar output"
        )
    return value


def check_wrt(value, name, fn_where):
    """Refuse arguments that cannot carry derivatives (ints, bools, complex, objects)."""
    if isinstance(value, float):
        return
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind == "f":
        return
    if isinstance(value, bool) or kind == "b":
        what = "a boolean"
    elif isinstance(value, numbers.Integral) or kind in ("i", "u"):
        what = "an integer"
    elif isinstance(value, complex) or kind == "c":
        what = "a complex"
    elif kind == "O":
        what = "an object"
    elif kind is None and isinstance(value, (list, tuple)):
        what = "a list/tuple"
    else:
        what = type(value).__name__
    raise InactiveArgumentError(
        f"argument '{name}' of {fn_where} is {what} value ({type(value).__name__}"
        f"{', dtype ' + str(value.dtype) if hasattr(value, 'dtype') else ''}) and cannot carry a "
        f"gradient; pass a float or a float array (e.g. np.asarray(x, dtype=float)), or leave it out "
        f"of wrt"
    )


def matmul_grad_left(g, x, y):
    """Gradient of ``x @ y`` with respect to ``x`` (any of numpy's matmul shape cases)."""
    xs, ys = shape(x), shape(y)
    if len(ys) == 1:
        gx = np.multiply.outer(g, y) if len(xs) > 1 else g * y
    elif len(xs) == 1:
        gx = np.matmul(y, g[..., None])[..., 0] if len(ys) > 2 else y @ g
    else:
        gx = g @ np.swapaxes(y, -1, -2)
    return unbroadcast(gx, x)


def matmul_grad_right(g, x, y):
    """Gradient of ``x @ y`` with respect to ``y``."""
    xs, ys = shape(x), shape(y)
    if len(xs) == 1:
        gy = np.multiply.outer(x, g) if len(ys) > 1 else g * x
    elif len(ys) == 1:
        gy = np.swapaxes(x, -1, -2) @ g[..., None] if len(xs) > 2 else x.T @ g
        if len(xs) > 2:
            gy = gy[..., 0]
    else:
        gy = np.swapaxes(x, -1, -2) @ g
    return unbroadcast(gy, y)


def tie_mask(x, y, strict):
    """Where ``x`` wins a max/min against ``y``: 1, at ties 0.5 (PyTorch's convention), else 0."""
    return np.where(x == y, 0.5, strict.astype(float) if hasattr(strict, "astype") else float(strict))


def scatter(g, a, index):
    """The gradient of ``a[index]``: zeros shaped like ``a`` with ``g`` added at ``index``."""
    if isinstance(a, (list, tuple)):
        out = [0.0] * len(a)
        out[index] = g
        return out
    out = np.zeros(shape(a), dtype=np.result_type(g, getattr(a, "dtype", float)))
    np.add.at(out, index, g)
    return out


def copy(value):
    """A copy of a saved value (arrays are copied, numbers returned as they are)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return list(value)
    return value


def owned_grad(g, x):
    """A fresh gradient array shaped like ``x`` holding ``g``, safe to modify in place."""
    if isinstance(x, list):
        if isinstance(g, list):
            return list(g)
        return [0.0] * len(x)
    if isinstance(g, (int, float)) and g == 0:
        return np.zeros(shape(x), dtype=np.result_type(getattr(x, "dtype", float), float))
    return np.array(np.broadcast_to(g, shape(x)), dtype=np.result_type(g, float))


def item_grad(g, k):
    """The gradient of item ``k`` of a container whose gradient is ``g`` (0.0 means all zero)."""
    if isinstance(g, (int, float)) and g == 0:
        return 0.0
    item = g[k]
    return 0.0 if item is None else item
