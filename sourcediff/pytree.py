"""Parameters held in lists, tuples, dicts and namedtuples (pytrees): one flat vector and back.

Example::

    import numpy as np
    import sourcediff as sd

    params = [(np.ones((2, 3)), np.zeros(3)), {"scale": 0.5}]
    vec, unflatten = sd.flatten(params)      # vec: 10 floats; unflatten(vec) is params again
"""

import functools
import numbers
import types

import numpy as np

from .errors import InactiveArgumentError

_HEAPTYPE = 1 << 9  # (Py_TPFLAGS_HEAPTYPE: a class defined by a class statement)
_FOREIGN = ("numpy", "builtins", "scipy", "torch", "jax", "jaxlib", "dask", "numba", "sourcediff",
            "cupy")


def is_tree(x):
    """Whether ``x`` is a node of a pytree (a list, tuple, namedtuple or dict) rather than a leaf."""
    return isinstance(x, (list, tuple, dict))


def like_container(x, items):
    """A list, tuple or namedtuple of ``x``'s own type holding ``items`` (a plain list or tuple
    for a subclass whose constructor takes other arguments)."""
    if hasattr(x, "_fields"):
        return type(x)(*items)
    try:
        return type(x)(items)
    except TypeError:
        return (list if isinstance(x, list) else tuple)(items)


def leaves(tree):
    """The arrays and floats of ``tree`` in a fixed order (dict keys in insertion order)."""
    if isinstance(tree, dict):
        return [leaf for v in tree.values() for leaf in leaves(v)]
    if isinstance(tree, (list, tuple)):
        return [leaf for v in tree for leaf in leaves(v)]
    return [tree]


def aligned_leaves(grads, tree, who="", owner="here"):
    """The entries of ``grads`` (a gradient given in ``tree``'s structure) for the leaves of
    ``tree``, in :func:`leaves` order; None where it has none (a missing dict entry, or None or a
    0 standing for a whole branch). A structure that does not fit is refused (TypeError or
    ValueError) with what it should be; ``who`` starts the message (``"step()"``), ``owner``
    names whose parameters they are."""
    if isinstance(tree, dict):
        if grads is None or (np.isscalar(grads) and grads == 0):
            return [None] * len(leaves(tree))
        if not isinstance(grads, dict):
            raise TypeError(f"{who} got a {type(grads).__name__} of gradients for a dict of "
                            f"parameters; pass the gradients as a dict with the same keys".strip())
        extra = set(grads) - set(tree)
        if extra:
            raise ValueError(f"{who} got gradients for {sorted(map(str, extra))}, which are not "
                             f"parameters {owner}".strip())
        return [g for k, v in tree.items() for g in aligned_leaves(grads.get(k), v, who, owner)]
    if isinstance(tree, (list, tuple)):
        if grads is None or (np.isscalar(grads) and grads == 0):
            return [None] * len(leaves(tree))
        if not isinstance(grads, (list, tuple)) or len(grads) != len(tree):
            raise ValueError(
                f"{who} got {len(grads) if isinstance(grads, (list, tuple)) else 'no list of'} "
                f"gradient(s) for {len(tree)} parameter(s) here; give one gradient per "
                f"parameter, in the parameters' structure (as sd.grad returns them)".strip())
        return [g for v, item in zip(tree, grads) for g in aligned_leaves(item, v, who, owner)]
    return [grads]


def rebuild(tree, new_leaves):
    """``tree``'s structure with its leaves replaced, in :func:`leaves` order."""
    return _build(tree, iter(new_leaves))


def _build(t, it):
    """``t`` rebuilt with the next leaves of ``it``. (Module functions here and below, not
    closures calling themselves: such a closure is a reference cycle, which would hold what it
    sees, the user's arrays and gradients, after the call until the cyclic garbage collector
    runs; tests/test_no_cycles.py.)"""
    if isinstance(t, dict):
        return {k: _build(v, it) for k, v in t.items()}
    if isinstance(t, (list, tuple)):
        return like_container(t, [_build(v, it) for v in t])
    return next(it)


def flatten(tree):
    """``(vector, unflatten)``: every float leaf of ``tree`` in one float64 vector, and the
    function that turns such a vector back into a tree shaped like ``tree`` (floats stay floats,
    arrays keep their shapes and dtypes), as for scipy.optimize. ``unflatten`` is differentiable:
    ``sd.grad(lambda_free)`` of ``def objective(v): return loss(unflatten(v))`` is a vector.

    Example::

        vec, unflatten = sd.flatten({"w": np.ones(3), "b": 0.0})
        unflatten(vec * 2.0)        # {"w": array([2., 2., 2.]), "b": 2.0}
    """
    parts = leaves(tree)
    for p in parts:
        if is_model_object(p):
            raise InactiveArgumentError(
                f"sd.flatten takes floats, float arrays and lists, tuples and dicts of them; "
                f"it was given a {type(p).__name__} object (a model, or its gradient). For a "
                f"vector of a model's arrays write np.concatenate([a.ravel() for a in "
                f"(model.W, model.b, ...)]), or keep the parameters in a dict")
    vec = np.concatenate([np.ravel(np.asarray(p, dtype=float)) for p in parts]) if parts else \
        np.zeros(0)
    return vec, Unflatten(tree)


class Unflatten:
    """The inverse of :func:`flatten` for trees shaped like ``tree``."""

    def __init__(self, tree):
        self.tree = tree

    def __call__(self, v):
        return unflatten_vector(v, self.tree)


def unflatten_vector(v, tree):
    """A tree shaped like ``tree`` whose leaves are read from the vector ``v`` in order."""
    parts = leaves(tree)
    size = sum(int(np.size(p)) for p in parts)
    if np.shape(v) != (size,):
        raise ValueError(f"unflatten expects a vector of {size} entries, got shape {np.shape(v)}")
    out, start = [], 0
    for p in parts:
        n = int(np.size(p))
        chunk = v[start:start + n]
        start += n
        if isinstance(p, float):
            out.append(chunk[0] * 1.0 if not isinstance(chunk, np.ndarray) else float(chunk[0]))
        else:
            out.append(np.reshape(chunk, np.shape(p)).astype(getattr(p, "dtype", float)))
    return rebuild(tree, out)


def tree_vector_grad(g, tree):
    """The gradient of ``unflatten_vector(v, tree)`` with respect to ``v``: the tree gradient
    ``g`` (0.0 where a leaf got none) as one vector."""
    parts = leaves(tree)
    pieces = _vector_pieces(g, tree)
    return np.concatenate(pieces) if parts else np.zeros(0)


def _vector_pieces(gt, t):
    """The raveled gradients of ``t``'s leaves found in the tree gradient ``gt``."""
    if isinstance(gt, (int, float)) and not isinstance(gt, bool) and gt == 0:
        return [np.zeros(np.size(p)) for p in leaves(t)]
    if isinstance(t, dict):
        return [x for k in t for x in _vector_pieces(
            gt.get(k, 0.0) if isinstance(gt, dict) else gt[k], t[k])]
    if isinstance(t, (list, tuple)):
        return [x for k, item in enumerate(t) for x in _vector_pieces(
            gt[k] if gt[k] is not None else 0.0, item)]
    return [np.ravel(np.broadcast_to(np.asarray(gt, dtype=float), np.shape(t)))]


# ---------------------------------------------------------------- objects as parameters


# types none of whose instances is a model object (their subclasses take the tests below)
_LEAVES = frozenset({np.ndarray, float, int, bool, complex, str, bytes, list, tuple, dict,
                     type(None), np.float64, np.float32, np.int64, np.bool_})


def is_model_object(x):
    """Whether ``x`` is an instance of a class defined in Python (a model, a layer) whose
    attributes may hold parameters: not a container, an array, a number, a string, a function, a
    module or a class, nor an instance of numpy's, the standard library's compiled types (but a
    types.SimpleNamespace, a bag of attributes) or another array library's."""
    if type(x) in _LEAVES:  # (the common cases by their exact type: no call, no abc check)
        return False
    if x is None or is_tree(x) or isinstance(x, (
            type, types.ModuleType, types.FunctionType, types.MethodType, types.BuiltinFunctionType,
            functools.partial, np.ndarray, np.generic, numbers.Number, str, bytes)):
        return False
    cls = type(x)
    if cls is types.SimpleNamespace:  # (params = SimpleNamespace(W=..., b=...): attributes)
        return True
    if not cls.__flags__ & _HEAPTYPE or (cls.__module__ or "").split(".")[0] in _FOREIGN:
        return False
    return hasattr(x, "__dict__") or bool(slot_names(cls))


def slot_names(cls):
    """The names of the ``__slots__`` of ``cls`` and its bases, as stored (``__w`` mangled)."""
    out = []
    for klass in cls.__mro__:
        slots = vars(klass).get("__slots__", ())
        for name in [slots] if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{klass.__name__.lstrip('_')}{name}"
            if name not in out:
                out.append(name)
    return out


def object_attributes(x):
    """The attributes ``x`` stores, as (name, value) pairs: its ``__dict__`` in insertion order,
    then its slots that are set."""
    out = list(vars(x).items()) if hasattr(x, "__dict__") else []
    for name in slot_names(type(x)):
        try:
            out.append((name, object.__getattribute__(x, name)))
        except AttributeError:
            pass
    return out


def held_items(x):
    """What ``x`` holds, as (key, value) pairs: a model object's attributes, a dict's items, a
    list's or tuple's entries by position; None for anything else (a leaf)."""
    if is_model_object(x):
        return object_attributes(x)
    if isinstance(x, dict):
        return list(x.items())
    if isinstance(x, (list, tuple)):
        return list(enumerate(x))
    return None


def is_float_leaf(x):
    """A float or a float array: what carries a gradient."""
    if isinstance(x, bool):
        return False
    return isinstance(x, float) or getattr(getattr(x, "dtype", None), "kind", None) == "f"


def object_float_leaves(x, path="", seen=None):
    """The float leaves reached from ``x`` through attributes of objects, lists, tuples and dicts,
    as (path, owner, key, leaf) in a fixed order: ``owner[key]`` (or ``owner.key`` for an
    object) holds ``leaf``. An object or container reached again (shared, or a cycle) is not
    walked again."""
    seen = set() if seen is None else seen
    if is_model_object(x):
        if id(x) in seen:
            return []
        seen.add(id(x))
        return [leaf for name, v in object_attributes(x)
                for leaf in _child_leaves(x, name, v, f"{path}.{name}", seen)]
    if isinstance(x, (list, tuple, dict)):
        if id(x) in seen:
            return []
        seen.add(id(x))
        items = x.items() if isinstance(x, dict) else enumerate(x)
        return [leaf for k, v in items for leaf in _child_leaves(x, k, v, f"{path}[{k!r}]", seen)]
    return []


def _child_leaves(owner, key, v, path, seen):
    if is_float_leaf(v):
        return [(path, owner, key, v)]
    return object_float_leaves(v, path, seen)


def object_parameters(model, grads=None, who="the optimizer", paths=None):
    """The float arrays of the model object ``model`` (each once, however many paths reach it),
    each with its entry of ``grads`` (a gradient object as sd.grad returns for ``model``, or None)
    found at the same path: ``[(array, gradient or None)]``; the list ``paths``, if given, gets
    each array's path (``"model.layers[0].W"``). A Python float attribute is refused (an
    optimizer updates arrays in place), as is a gradient not shaped like the model."""
    out = []
    _walk_parameters(model, grads, "model", out, set(), who, paths)
    return out


def _walk_parameters(m, g, path, out, seen, who, paths):
    """Append ``(array, gradient)`` for the float arrays reached from ``m`` to ``out`` (and their
    paths to ``paths``, if given)."""
    if id(m) in seen:
        return
    if isinstance(m, np.ndarray) and is_float_leaf(m):
        seen.add(id(m))
        out.append((m, g))
        if paths is not None:
            paths.append(path)
        return
    if is_float_leaf(m):
        raise TypeError(
            f"{who}: {path} is a Python float, which an optimizer cannot update in place; "
            f"store it as an array (np.array({m!r})), or keep it out of the model")
    if is_model_object(m):
        seen.add(id(m))
        if g is not None and type(g) is not type(m):
            raise TypeError(f"{who} got a {type(g).__name__} as the gradient of {path}, a "
                            f"{type(m).__name__}; pass the gradient sd.grad gives for the model")
        for name, v in object_attributes(m):
            _walk_parameters(v, None if g is None else getattr(g, name, None), f"{path}.{name}",
                             out, seen, who, paths)
    elif isinstance(m, (list, tuple, dict)):
        seen.add(id(m))
        items = m.items() if isinstance(m, dict) else enumerate(m)
        for k, v in items:
            _walk_parameters(v, None if g is None else g[k], f"{path}[{k!r}]", out, seen, who,
                             paths)
