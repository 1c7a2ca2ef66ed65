"""Parameters held in lists, tuples, dicts and namedtuples (pytrees): one flat vector and back.

Example::

    import numpy as np
    import sourcediff as sd

    params = [(np.ones((2, 3)), np.zeros(3)), {"scale": 0.5}]
    vec, unflatten = sd.flatten(params)      # vec: 10 floats; unflatten(vec) is params again
"""

import numpy as np


def leaves(tree):
    """The arrays and floats of ``tree`` in a fixed order (dict keys in insertion order)."""
    if isinstance(tree, dict):
        return [leaf for v in tree.values() for leaf in leaves(v)]
    if isinstance(tree, (list, tuple)):
        return [leaf for v in tree for leaf in leaves(v)]
    return [tree]


def rebuild(tree, new_leaves):
    """``tree``'s structure with its leaves replaced, in :func:`leaves` order."""
    it = iter(new_leaves)

    def build(t):
        if isinstance(t, dict):
            return {k: build(v) for k, v in t.items()}
        if isinstance(t, (list, tuple)):
            items = [build(v) for v in t]
            return type(t)(*items) if hasattr(t, "_fields") else type(t)(items)
        return next(it)

    return build(tree)


def flatten(tree):
    """``(vector, unflatten)``: every float leaf of ``tree`` in one float64 vector, and the
    function that turns such a vector back into a tree shaped like ``tree`` (floats stay floats,
    arrays keep their shapes and dtypes), as for scipy.optimize.

    Example::

        vec, unflatten = sd.flatten({"w": np.ones(3), "b": 0.0})
        unflatten(vec * 2.0)        # {"w": array([2., 2., 2.]), "b": 2.0}
    """
    parts = leaves(tree)
    sizes = [int(np.size(p)) for p in parts]
    vec = np.concatenate([np.ravel(np.asarray(p, dtype=float)) for p in parts]) if parts else \
        np.zeros(0)

    def unflatten(v):
        v = np.asarray(v)
        if v.shape != vec.shape:
            raise ValueError(f"unflatten expects a vector of {vec.size} entries, got shape "
                             f"{v.shape}")
        out, start = [], 0
        for p, n in zip(parts, sizes):
            chunk = v[start:start + n]
            start += n
            if isinstance(p, float):
                out.append(float(chunk[0]))
            else:
                out.append(np.reshape(chunk, np.shape(p)).astype(getattr(p, "dtype", float)))
        return rebuild(tree, out)

    return vec, unflatten
