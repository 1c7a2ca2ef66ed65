"""Loops and lists that grow: list gradients around ``append``/``pop``, the stacked per-pass
products and sums the adjoint sweep of a loop adds at once, and ``map``."""

import numpy as np

from .accumulate import GradList, grad_items
from .moves import RESHAPING
from .shapes import shape

__all__ = [
    "drop_last", "append_zero", "push_grad", "drop_first", "prepend_zero", "add_stacked_products",
    "add_stacked_sums", "stack_rows", "map_list", "map_list_grad"
]


def map_list(fn, xs):
    """The list ``[fn(x) for x in xs]``."""
    return [fn(x) for x in xs]


def add_stacked_products(acc, lhs, rhs):
    """``acc + a.T @ b`` summed over the pairs of ``lhs`` and ``rhs`` (lists of 2-D arrays, each
    pair with the same rows, or such lists already stacked by stack_rows), as one matrix product
    of the stacked arrays; ``acc`` itself for no pairs. The
    specializer turns a weight gradient accumulated pass by pass in an adjoint loop (``W_bar =
    W_bar + h.T @ d``) into this after the loop (see specialize._stack_loop_products). Example::

        add_stacked_products(0.0, [h1, h2], [d1, d2])    # h1.T @ d1 + h2.T @ d2
    """
    if (type(lhs) is list and not lhs) or (type(rhs) is list and not rhs):
        return acc  # (no pass: one operand may be a view of no rows, the other an empty list)
    return acc + _stacked(lhs).T @ _stacked(rhs)


def _stacked(rows):
    """A list of 2-D arrays as one (its only array, or their concatenation); an array (already
    stacked by stack_rows) as it is."""
    if type(rows) is not list:
        return rows
    return rows[0] if len(rows) == 1 else np.concatenate(rows)


def add_stacked_sums(acc, rows, keepdims=False):
    """``acc + d.sum(axis=0)`` summed over the arrays ``d`` of ``rows`` (2-D, the same columns), as
    one sum over the stacked rows (a bias gradient accumulated pass by pass in an adjoint loop,
    see specialize._stack_loop_products); ``acc`` itself for no rows. Example::

        add_stacked_sums(0.0, [d1, d2])    # d1.sum(axis=0) + d2.sum(axis=0)
    """
    if type(rows) is list and not rows:
        return acc
    return acc + _stacked(rows).sum(axis=0, keepdims=keepdims)


def stack_rows(rows):
    """The 2-D arrays of the list ``rows`` stacked into one (``np.concatenate``), for several
    stacked sums that read them (add_stacked_products, add_stacked_sums); a list of fewer than
    two stays as it is."""
    return np.concatenate(rows) if len(rows) > 1 else rows


def drop_last(g):
    """The gradient of a list before its last ``append`` (0.0 stays 0.0; a missing entry, None,
    becomes 0.0)."""
    if isinstance(g, (list, tuple)):
        return GradList(0.0 if item is None else item for item in g[:-1])
    return g


def append_zero(g):
    """The gradient of a list before ``drop_last``: one more (zero) entry at the end."""
    if isinstance(g, (list, tuple)):
        return GradList(list(g) + [0.0])
    return g


def push_grad(g, item, rest):
    """The gradient of a list before ``v = lst.pop()``: ``item`` (v's gradient) back at the end of
    ``g``, the gradient of ``rest`` (the list as the pop left it; its length places the item when
    ``g`` is the symbolic zero)."""
    if isinstance(g, (int, float)) and g == 0:
        if isinstance(item, (int, float)) and item == 0:
            return 0.0
        return GradList([0.0] * len(rest) + [item])
    return GradList(list(g) + [item])


def map_list_grad(b, fn, xs):
    """The adjoint of ``map_list(fn, xs)`` in ``xs`` for the reshaping functions the rules map
    (np.atleast_1d/2d/3d, as_column): each entry of ``b`` reshaped back."""
    if fn not in RESHAPING:
        raise NotImplementedError(f"gradient of map_list over {fn!r} (only reshaping functions)")
    return GradList(0.0 if item is None else np.reshape(item, shape(x))
                    for item, x in zip(grad_items(b, len(xs)), xs))


def drop_first(g):
    """A container gradient without its first entry (0.0 stays 0.0)."""
    if isinstance(g, (list, tuple)):
        return GradList(g[1:])
    return g


def prepend_zero(g):
    """A container gradient with a zero entry in front."""
    if isinstance(g, (list, tuple)):
        return GradList([0.0] + list(g))
    return g
