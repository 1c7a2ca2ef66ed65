"""Activity stage: which variables carry derivatives (they depend on wrt AND reach the output).

Example: in ``h = x * w; n = len(x); return np.sum(h) * n`` with wrt ``w``, the active names are
``w``, ``h`` and the sum; ``x`` and ``n`` are not (``n`` comes from a non-differentiable ``len``).
"""


def activity(flows, wrt, outputs):
    """Active names from ``flows``: a list of (defined names, used names) pairs, one per statement.

    The analysis is flow-insensitive (a name is varied if any assignment to it is), iterated to a
    fixed point so loops are covered. Returns the set of active names.
    """
    varied = set(wrt)
    changed = True
    while changed:
        changed = False
        for defs, uses in flows:
            if uses & varied and not defs <= varied:
                varied |= defs
                changed = True
    useful = set(outputs)
    changed = True
    while changed:
        changed = False
        for defs, uses in flows:
            if defs & useful and not uses <= useful:
                useful |= uses
                changed = True
    return varied & useful
