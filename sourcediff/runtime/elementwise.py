"""Elementwise functions and reductions: ties of max/min, products of the others, norms,
clipping, the sigmoid family and per-item scaling."""

import builtins
import numbers

import numpy as np

from ..pytree import is_model_object
from .accumulate import GradList, grad_items, iterates_keys, zeros_like_grad
from .indexing import item_grad, normalize_axes
from .shapes import as_array, keep, operator_on_object, other_array, shape, unbroadcast

_count_nonzero = np._core.multiarray.count_nonzero if hasattr(np, "_core") else \
    np.core.multiarray.count_nonzero

__all__ = [
    "tie_mask", "clip_bounds", "scale_each", "extremum_weights", "prod_others", "cumsum_grad",
    "shifted", "scan",
    "norm_weights", "extremum_args_grad", "sigmoid", "scaled_sigmoid", "win_mask",
    "fwin_mask",
    "norm_weights_partials", "prod_others_apply", "extremum_args_adjoint", "extremum_args_tangent",
    "scale_each_adjoint",
    "scale_items", "norm_weights_tangents", "scale_each_tangent_s", "scale_each_tangent_xs",
    "real_only",
]


# functions another library's array (dask's, given through numpy's __array_function__) computes
# otherwise than numpy, and why
_COMPUTED_OTHERWISE = {
    "np.linalg.cholesky": "dask's np.linalg.cholesky(a) is the upper factor U, read from a's "
                          "upper triangle, where numpy's is the lower factor L, read from the "
                          "lower one",
}


def real_only(x, what):
    """``x``, refused (naming ``what``) when it holds complex numbers: the rules of abs, norms,
    var/std, slogdet and the matrix factorizations are those of real arguments, and a function
    that is not holomorphic has another derivative at complex values (abs(z) is not sign(z)
    times anything), so a complex value there would give a wrong gradient. Refused too: another
    library's array (dask's) where that library computes ``what`` otherwise than numpy
    (``_COMPUTED_OTHERWISE``): the rules are for numpy's value."""
    if is_model_object(x):  # (abs(obj) running its class's __abs__: review68)
        raise operator_on_object(x)
    if what in _COMPUTED_OTHERWISE and other_array(x):
        raise NotImplementedError(
            f"{what} of a {type(x).__module__.split('.')[0]} array is that library's own function, "
            f"which computes another value than numpy's ({_COMPUTED_OTHERWISE[what]}), and "
            f"sourcediff's derivative is numpy's; compute the array first (x.compute() for "
            f"dask) and pass numpy, or leave that operation out of the differentiated function")
    if isinstance(x, complex) or getattr(getattr(x, "dtype", None), "kind", None) == "c":
        raise NotImplementedError(
            f"sourcediff has no derivative for {what} at a complex value: its rule is for real "
            f"arguments (complex values in between are differentiated only through functions that "
            f"are holomorphic, conj, np.real, np.imag and np.vdot). Write it with those (abs(z) ** 2 is "
            f"np.real(z * np.conj(z))), or with the real and imaginary parts as real arrays "
            f"(abs(z) is np.hypot(re, im))")
    return x


def tie_mask(x, y, strict):
    """Where ``x`` wins a max/min against ``y``: 1, at ties 0.5 (PyTorch's convention), else 0."""
    return np.where(x == y, 0.5, strict.astype(float) if hasattr(strict, "astype") else float(strict))


def clip_bounds(a_min=None, a_max=None, min=None, max=None):
    """The (lower, upper) bounds of an np.clip call, with -inf/inf for a missing bound."""
    lo = min if a_min is None or a_min is np._NoValue else a_min
    hi = max if a_max is None or a_max is np._NoValue else a_max
    lo = -np.inf if lo is None or lo is np._NoValue else lo
    hi = np.inf if hi is None or hi is np._NoValue else hi
    return lo, hi


def scale_each(s, xs):
    """The tuple ``(s * x for x in xs)`` (the gradient of math.hypot is ``g / ans * x``)."""
    return tuple(s * x for x in xs)


def extremum_weights(a, ans, axis=None, keepdims=False):
    """Where ``a`` attains its max/min ``ans`` over ``axis``: 1/(number of ties), else 0."""
    if keepdims and type(a) is np.ndarray and type(ans) is np.ndarray and axis is not None:
        # (no ties: as many matches as slices, one in each when no max is nan (a nan max
        # matches nothing): the mask itself, without the count per slice and its division by 1)
        found = a == ans
        if np.count_nonzero(found) == ans.size and not np.isnan(ans).any():
            return found.astype(np.result_type(a, 1.0))
    mask = (as_array(a) == keep(ans, a, axis, keepdims)).astype(np.result_type(a, 1.0))
    return mask / np.sum(mask, axis=axis, keepdims=True)


def prod_others(a, axis=None):
    """For every element of ``a``, the product of the other elements reduced with it (zero-safe)."""
    a = as_array(a)
    if a.ndim == 0 or a.size == 0:
        return np.ones_like(a)  # (no other elements; an empty array has no elements at all)
    axes = normalize_axes(axis, a.ndim)
    rest = [i for i in range(a.ndim) if i not in axes]
    moved = np.transpose(a, rest + list(axes))
    flat = np.reshape(moved, moved.shape[: len(rest)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=flat.dtype, like=flat)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = np.reshape(left * right, moved.shape)
    return np.transpose(others, tuple(np.argsort(rest + list(axes)).tolist()))


def shifted(x, step, axis=None, fill=0.0):
    """``x`` moved ``step`` places along ``axis`` (None: a 1-D ``x``) with ``fill`` in the places
    it leaves: shifted(x, 1)[k] = x[k - 1], shifted(x, -1)[k] = x[k + 1]."""
    x = as_array(x)
    ax = 0 if axis is None else axis
    step = int(step)
    m = np.moveaxis(x, ax, -1)
    n = m.shape[-1]
    pad = np.full(m.shape[:-1] + (min(abs(step), n),), fill, dtype=np.result_type(x, 1.0))
    out = np.concatenate([pad, m[..., :n - step]] if step >= 0 else [m[..., -step:], pad], -1)
    return np.moveaxis(out, -1, ax)


def scan(g, c, axis=None, reverse=False):
    """The linear recurrence along ``axis`` (None: a 1-D ``c``): t[k] = g[k] + c[k] t[k - 1]
    from the start, or with ``reverse`` t[k] = g[k] + c[k + 1] t[k + 1] from the end (the
    adjoint of the other). By doubling, log2(n) steps of products and sums: no division, so
    zeros in ``c`` are exact (the rule of np.cumprod: the gradient is its shifted result times
    the reverse scan of g with c = a)."""
    c = as_array(c)
    dt = np.result_type(g, c, 1.0)
    ax = 0 if axis is None else axis
    t = np.moveaxis(np.broadcast_to(g, c.shape), ax, -1).astype(dt)
    k = np.moveaxis(c, ax, -1).astype(dt)
    if reverse:  # (from the end: c[k + 1] joins k and k + 1)
        t, k = t[..., ::-1], np.concatenate([np.zeros_like(k[..., :1]), k[..., :0:-1]], -1)
    s, n = 1, t.shape[-1]
    if other_array(t):  # (a dask array: new arrays at each step, so nothing is computed here)
        while s < n:
            t = np.concatenate([t[..., :s], t[..., s:] + k[..., s:] * t[..., :-s]], -1)
            if 2 * s < n:
                k = np.concatenate([k[..., :s], k[..., s:] * k[..., :-s]], -1)
            s *= 2
        return np.moveaxis(t[..., ::-1] if reverse else t, -1, ax)
    t, k = np.array(t), np.array(k)  # (own copies, updated in place: the right sides are computed
    while s < n:                     # before they are written, so the overlap is read as it was)
        t[..., s:] += k[..., s:] * t[..., :-s]
        if 2 * s < n:
            k[..., s:] *= k[..., :-s].copy()
        s *= 2
    return np.moveaxis(t[..., ::-1] if reverse else t, -1, ax)


def cumsum_grad(g, a, axis=None):
    """The gradient of ``np.cumsum(a, axis)``: a reversed cumulative sum of ``g``."""
    if axis is None:
        return np.reshape(np.cumsum(np.ravel(g)[::-1])[::-1], shape(a))
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


def norm_weights(x, ans, ord=None, axis=None, keepdims=False):
    """d np.linalg.norm(x, ord, axis) / dx shaped like ``x``; 0 where the norm is 0 (PyTorch)."""
    x = real_only(as_array(x), "np.linalg.norm")
    matrix = (axis is None and x.ndim == 2 and ord is not None) or (
        axis is not None and not isinstance(axis, numbers.Integral) and len(axis) == 2
    )
    if matrix and ord not in (None, "fro"):
        axes = (0, 1) if axis is None else normalize_axes(axis, x.ndim)
        m = np.moveaxis(x, axes, (-2, -1))
        if ord in ("nuc", 2, -2):
            u, s, vh = np.linalg.svd(m, full_matrices=False)
            if ord != "nuc":  # tied extreme singular values share it (PyTorch's and JAX's amax)
                u = u * extremum_weights(s, np.max(s, -1) if ord == 2 else np.min(s, -1), -1)[
                    ..., None, :]
            w = u @ vh
        elif ord in (1, -1):
            cols = np.sum(np.abs(m), axis=-2)
            best = np.max(cols, -1) if ord == 1 else np.min(cols, -1)
            w = np.sign(m) * extremum_weights(cols, best, -1)[..., None, :]
        elif ord in (np.inf, -np.inf):
            rows = np.sum(np.abs(m), axis=-1)
            best = np.max(rows, -1) if ord == np.inf else np.min(rows, -1)
            w = np.sign(m) * extremum_weights(rows, best, -1)[..., :, None]
        else:
            raise NotImplementedError(f"gradient of a matrix norm with ord={ord!r}")
        return np.moveaxis(w, (-2, -1), axes)
    n = keep(ans, x, axis, keepdims)
    safe = np.where(n == 0, 1.0, n)
    if ord is None or ord == 2 or ord == "fro":
        w = x / safe
    elif ord == 1:
        w = np.sign(x)
    elif ord in (np.inf, -np.inf):
        w = np.sign(x) * extremum_weights(np.abs(x), ans, axis, keepdims)
    elif ord == 0:
        w = np.zeros_like(x)
    else:
        w = np.sign(x) * np.abs(x) ** (ord - 1) / safe ** (ord - 1)
    return np.where(n == 0, 0.0, w)


def _first_winner(items, ans):
    """1.0 for the item Python's max/min returns (the first equal to ``ans``: a later one equal to
    it never replaces it), 0.0 for the others; all 0.0 when none equals it (a NaN). An object of
    the user's class is the one that *is* ``ans``: its class's ``__eq__`` may call another equal."""
    out, found = [], False
    by_identity = is_model_object(ans)
    for item in items:
        win = not found and (item is ans if by_identity else bool(item == ans))
        found = found or win
        out.append(float(win))
    return out


def extremum_args_grad(g, ans, args):
    """Gradients for ``max(*args)``/``min(*args)``: ``g`` to the argument Python returns, the
    first of those equal to ``ans`` (for a single iterable argument, a list gradient over its
    items). Python's own choice at a tie, so the tape (where Python's max picks among tensors)
    and every source mode agree; np.maximum and np.max share ties evenly instead (PyTorch's
    torch.maximum and amax)."""
    if len(args) == 1:
        if iterates_keys(args[0]):
            return (0.0,)  # (max(d) of a dict: its largest key, which carries no derivative)
        if isinstance(args[0], np.ndarray) and args[0].ndim == 1:
            # (max over an array's entries: the gradient is an array too; a list in its place
            # would meet the rules of the operations that made the array, where 2 * g repeats
            # a list instead of doubling it)
            winners = np.array(_first_winner(args[0], ans))
            return (g * (winners / np.sum(winners)),)
        return (GradList(_extremum_grads(g, ans, list(args[0]))),)
    return _extremum_grads(g, ans, args)


def _extremum_grads(g, ans, args):
    """``g`` for the one of ``args`` that max/min returned, the symbolic zero for the others
    (``g`` is not scaled: it may be an object's gradient by attribute, which has no ``*``)."""
    winners = _first_winner(args, ans)
    count = builtins.sum(winners)
    if count == 0:  # (none equals ans: a NaN)
        return tuple(g * w / count for w in winners)
    # the others get the symbolic zero, not g * 0: a tangent that is nan or inf on an argument
    # Python's max/min does not return (min(1 / (x - 1), 5) at x = 1) must not reach the result
    return tuple(g if w else 0.0 for w in winners)


def sigmoid(x):
    """1 / (1 + exp(-x)), the derivative of logaddexp(0, x): one exp, exact relative precision
    on both tails, and no overflow warning (exp(-x) = inf gives 0.0)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def scaled_sigmoid(g, d):
    """g / (1 + exp(-d)): g times logaddexp's derivative, in one temporary array when the
    shapes allow (the gradient of a large logistic loss needs no more memory than by hand)."""
    with np.errstate(over="ignore"):
        if type(d) is np.ndarray and d.dtype.kind == "f" and d.ndim and \
                np.result_type(g, d) == d.dtype and np.shape(g) in ((), d.shape):
            t = np.negative(d)
            np.exp(t, out=t)
            t += 1.0
            return np.divide(g, t, out=t)
        return g / (1.0 + np.exp(-d))


def win_mask(x, y):
    """Where ``x`` wins a max against ``y``: 1, at ties 0.5 (PyTorch's convention), else 0.

    Without ties the mask is the boolean comparison itself (a multiply by it is cheapest).
    """
    wins = x > y
    if type(wins) is np.ndarray:  # (the common case first: numpy arrays, no ties)
        ties = x == y
        if type(ties) is np.ndarray and not _count_nonzero(ties):
            return wins
    if isinstance(wins, (bool, np.bool_)):
        return 1.0 if wins else (0.5 if x == y else 0.0)
    ties = x == y
    if type(ties) is not np.ndarray and other_array(ties):  # (a test for ties would compute)
        dtype = np.result_type(x, y)
        return wins.astype(dtype) + ties.astype(dtype) * 0.5
    if np.count_nonzero(ties):  # (cheaper than ties.any())
        dtype = np.result_type(x, y)  # the dtype of the maximum itself
        return wins.astype(dtype) + ties.astype(dtype) * 0.5
    return wins


def fwin_mask(x, y, least=False):
    """``x``'s share of the gradient of ``np.fmax(x, y)`` (of ``np.fmin(x, y)`` with
    ``least=True``): :func:`win_mask`'s, and where ``y`` is nan and ``x`` is not, 1 (fmax and
    fmin skip a nan: ``np.fmax(x, nan)`` is ``x``); where both are nan, 0.5 each (the result is
    nan)."""
    mask = win_mask(y, x) if least else win_mask(x, y)
    x_nan, y_nan = np.isnan(x), np.isnan(y)
    if type(y_nan) is not np.ndarray and other_array(y_nan) or \
            type(x_nan) is not np.ndarray and other_array(x_nan):  # (dask: counting computes)
        dtype = np.result_type(x, y)
        return mask * np.ones((), dtype) + (y_nan & ~x_nan) + (y_nan & x_nan) * 0.5
    if not np.any(y_nan):  # (the common case: no nan in y, no nan won)
        return mask
    dtype = np.result_type(x, y, 1.0)
    out = (y_nan & ~x_nan) + (y_nan & x_nan) * dtype.type(0.5) + \
        np.where(y_nan, dtype.type(0.0), mask)
    if type(out) is np.ndarray:
        return out.astype(dtype, copy=False)
    return float(out) if isinstance(out, (np.generic, numbers.Number)) else out  # (a tape Tensor
    # under create_graph: as it is)


def norm_weights_partials(x, ans, ord=None, axis=None, keepdims=False):
    """The pointwise derivatives of ``norm_weights(x, ans, ord, axis, keepdims)`` in ``x`` and in
    ``ans`` (both shaped like ``x``); zero where the norm is 0 and for the piecewise constant
    weights (ord 1, inf, 0, and the matrix 1/inf norms)."""
    x = np.asarray(x)
    matrix = (axis is None and x.ndim == 2 and ord is not None) or (
        axis is not None and not isinstance(axis, numbers.Integral) and len(axis) == 2
    )
    zero = np.zeros(x.shape, dtype=np.result_type(x, 1.0))
    if matrix and ord not in (None, "fro"):
        if ord in ("nuc", 2, -2):
            raise NotImplementedError(
                f"sourcediff has no second derivative of np.linalg.norm with ord={ord!r} (its "
                f"first derivative is supported); the Frobenius norm (ord=None or 'fro') has one")
        return zero, zero
    n = keep(ans, x, axis, keepdims)
    safe = np.where(n == 0, 1.0, n)
    if ord is None or ord == 2 or ord == "fro":
        dx, dn = 1.0 / safe + zero, -x / (safe * safe)
    elif ord in (0, 1, np.inf, -np.inf):
        return zero, zero
    else:
        p = ord
        ax = np.abs(x)
        dx = (p - 1) * ax ** (p - 2) / safe ** (p - 1)
        dn = -(p - 1) * np.sign(x) * ax ** (p - 1) / safe ** p
    return np.where(n == 0, 0.0, dx), np.where(n == 0, 0.0, dn)


def prod_others_apply(t, a, axis=None):
    """``t`` times the derivative of ``prod_others(a, axis)``: for every element j, the sum over
    the other elements k of its group of ``t[k]`` times the product of the elements other than j
    and k (zero-safe). That matrix is symmetric, so this is both the jvp and the vjp."""
    a = np.asarray(a)
    if a.ndim == 0:
        return np.zeros(np.shape(t), dtype=np.result_type(a, 1.0))
    axes = normalize_axes(axis, a.ndim)
    perm = [i for i in range(a.ndim) if i not in axes] + list(axes)
    moved = np.transpose(a, perm)
    lead = moved.shape[: a.ndim - len(axes)]
    n = int(np.prod(moved.shape[len(lead):], dtype=np.int64))
    flat = np.reshape(moved, lead + (n,))
    pairs = np.array(np.broadcast_to(flat[..., None, :], lead + (n, n)), dtype=np.result_type(a, 1.0))
    idx = np.arange(n)
    pairs[..., idx, idx] = 1.0
    m = prod_others(pairs, -1)  # m[..., k, j]: the product over the group without j and k
    m[..., idx, idx] = 0.0
    tf = np.reshape(np.transpose(np.broadcast_to(t, a.shape), perm), lead + (n,))
    out = np.einsum("...kj,...k->...j", m, tf)
    return np.transpose(np.reshape(out, moved.shape), np.argsort(perm))


def extremum_args_tangent(t, ans, args):
    """The tangent contributions of ``max(*args)``/``min(*args)``, one per argument, ``t`` being
    that argument's tangent: for ``max(a, b, ...)`` the tangent of the argument Python returns
    (as :func:`extremum_args_grad`), for ``max(iterable)`` that item's entry of ``t``."""
    if len(args) == 1:
        return (extremum_args_adjoint((t,), ans, args),)
    return extremum_args_grad(_as_grad(t), ans, args)


def extremum_args_adjoint(b, ans, args):
    """The adjoint of ``extremum_args_grad(g, ans, args)`` in ``g``: the entry of ``b`` at the
    item Python's max/min returns."""
    if len(args) == 1:
        if iterates_keys(args[0]):
            return 0.0
        items = list(args[0])
        b = item_grad(b, 0)
    else:
        items = args
    # (one winner at most: its entry as it is, as _extremum_grads passes g on unscaled; a tuple
    # or list entry, the tangent of max(pairs), is a GradList, which adds to others entrywise)
    for w, item in zip(_first_winner(items, ans), grad_items(b, len(items))):
        if item is not None and w:
            return _as_grad(item)
    return 0.0


def _as_grad(t):
    """A tangent or gradient that is a tuple or list as a GradList (``+`` adds entrywise)."""
    return GradList(t) if isinstance(t, (list, tuple)) and not isinstance(t, GradList) else t


def scale_each_adjoint(b, s, xs):
    """The adjoint of ``scale_each(s, xs)`` in ``s``: the sum of ``b[i] * xs[i]``, shaped like s."""
    total = zeros_like_grad(s)
    for item, x in zip(grad_items(b, len(xs)), xs):
        if item is not None:
            total = total + unbroadcast(item * x, s)
    return total


def scale_items(s, b, xs):
    """The adjoint of ``scale_each(s, xs)`` in ``xs``: ``s * b[i]`` shaped like ``xs[i]``."""
    return GradList(0.0 if item is None else unbroadcast(s * item, x)
                    for item, x in zip(grad_items(b, len(xs)), xs))


def norm_weights_tangents(t, x, ans, ord=None, axis=None, keepdims=False):
    """The tangent of ``norm_weights(x, ans, ...)`` for a tangent ``t`` of x and for a tangent ``t``
    of ans, as a pair (an entry is None where ``t`` is not shaped like that argument)."""
    dx, dn = norm_weights_partials(x, ans, ord, axis, keepdims)
    return (t * dx if shape(t) == shape(x) else None,
            keep(t, x, axis, keepdims) * dn if shape(t) == shape(ans) else None)


def scale_each_tangent_s(t, xs):
    """The tangent of ``scale_each(s, xs)`` due to a tangent ``t`` of ``s`` (None for a tuple t)."""
    return None if isinstance(t, (list, tuple)) else GradList(scale_each(t, xs))


def scale_each_tangent_xs(s, t):
    """The tangent of ``scale_each(s, xs)`` due to a tangent ``t`` of ``xs`` (None unless a tuple)."""
    return GradList(scale_each(s, t)) if isinstance(t, (list, tuple)) else None
