"""Python values other than arrays: lists and tuples added or repeated (``+``, ``*``), dict
views, attributes, and named tuple results."""

import collections.abc
import inspect
import numbers

import numpy as np

from ..errors import SourcediffError, SourcediffSyntaxError
from ..pytree import is_model_object, object_attributes
from .accumulate import GradDict, GradList, add_grads, grad_items, is_zero_grad, zeros_like_grad
from .indexing import item_grad
from .objects import object_attribute_grad, read_without_floats
from .shapes import broadcast_tangent, operator_on_object, unbroadcast

__all__ = [
    "add_or_concat", "mul_or_repeat", "seq_zeros", "add_or_concat_grads", "add_or_concat_tangents",
    "mul_or_repeat_grads", "mul_or_repeat_tangents", "add_or_concat_grads_adjoint",
    "mul_or_repeat_grads_adjoint", "mul_or_repeat_grads_tangents", "sequence_grad",
    "sequence_tangent", "dict_items", "dict_values", "dict_keys", "dict_items_grad",
    "dict_items_tangent", "dict_values_grad", "dict_values_tangent", "get_attribute",
    "attribute_slot", "attribute_grad", "constructed_grad", "constructed_grad_adjoint",
    "named_like", "loop_length",
    "check_unpack", "check_list_method", "pop_position", "remove_position", "key_extremum", "dict_get", "dict_get_grad", "dict_get_tangent",
    "dict_default_grad", "dict_pairs", "dict_pairs_grad", "dict_pairs_tangent", "iterated",
    "iterated_grad"
]


def _is_seq(x):
    return isinstance(x, (list, tuple))


def _concatenates(x, y):
    """Whether ``x + y`` joins two sequences (a list or tuple plus an array adds numerically:
    numpy converts the sequence)."""
    return _is_seq(x) and _is_seq(y)


def _repeats(x, y):
    """Whether ``x * y`` repeats a sequence (``[a] * 3``); a sequence times an array multiplies
    numerically (numpy converts the sequence)."""
    return (_is_seq(x) and not isinstance(y, np.ndarray)) or \
        (_is_seq(y) and not isinstance(x, np.ndarray))


def add_or_concat(x, y):
    """``x + y`` where an operand may be a list or tuple: what ``a + b`` resolves to when the
    compiler cannot rule out containers (``(a,) + (b,)`` concatenates, it does not add)."""
    return x + y


def mul_or_repeat(x, y):
    """``x * y`` where an operand may be a list or tuple (``[a] * 3`` repeats, it does not scale)."""
    return x * y


def _dense_zeros(x):
    return GradList(zeros_like_grad(item) for item in x)


def seq_zeros(x):
    """A zero gradient for each item of the sequence ``x``."""
    return GradList(0.0 for _ in x)


def _as_array_tangent(t, x):
    """A tangent of the sequence ``x`` as the array numpy makes of x (zero items made dense)."""
    if not _is_seq(x) or is_zero_grad(t):
        return t
    return np.array([np.broadcast_to(_as_array_tangent(ti, xi) if not is_zero_grad(ti) else 0.0,
                                     np.shape(xi)) for ti, xi in zip(t, x)], dtype=float)


def _not_tangent_of(t, x):
    """``t`` cannot be the tangent of ``x``: a sequence's for a number or array, or an array of
    another shape than the sequence ``x`` (x * [1.0, 2.0] with x a matrix: t is x's tangent)."""
    return (_is_seq(t) and not _is_seq(x)) or \
        (_is_seq(x) and isinstance(t, np.ndarray) and t.shape != np.shape(x))


def _numeric_tangent(t, own, factor, ans):
    """The tangent ``t * factor`` of an elementwise result ``ans`` when the operand ``own`` moves
    along ``t`` (None where ``t`` cannot be own's tangent: only the other entry is asked for)."""
    if _not_tangent_of(t, own):
        return None
    return broadcast_tangent(_as_array_tangent(t, own) * factor, ans)


def add_or_concat_grads(g, x, y):
    """The gradients of ``x`` and ``y`` in ``x + y``: the first len(x) items of g and the rest for
    sequences, g summed back to each operand's shape for numbers and arrays."""
    if _concatenates(x, y):
        if is_zero_grad(g):
            return (0.0, 0.0)
        items = [0.0 if v is None else v for v in g]
        return (GradList(items[:len(x)]), GradList(items[len(x):]))
    return (unbroadcast(g, x), unbroadcast(g, y))


def add_or_concat_tangents(t, ans, x, y):
    """``x + y``'s tangent when x moves along t (first entry), or when y does (second entry)."""
    if _concatenates(x, y):  # (dense zeros for the other items: a tangent gets indexed)
        t = _dense_zeros(x if len(x) else y) if is_zero_grad(t) else t
        return (GradList(list(t) + list(_dense_zeros(y))) if len(t) == len(x) else None,
                GradList(list(_dense_zeros(x)) + list(t)) if len(t) == len(y) else None)
    return (_numeric_tangent(t, x, 1.0, ans), _numeric_tangent(t, y, 1.0, ans))


def _repeat_grad(g, seq):
    if is_zero_grad(g):
        return 0.0
    k, out = len(seq), seq_zeros(seq)
    for start in range(0, len(g), k or 1):
        out = add_grads(out, g[start:start + k])
    return out


def mul_or_repeat_grads(g, x, y):
    """The gradients of ``x`` and ``y`` in ``x * y``: for ``seq * n`` the n copies' gradients
    added item by item (n has none), for numbers and arrays the product rule."""
    if _repeats(x, y):
        return (_repeat_grad(g, x), 0.0) if _is_seq(x) else (0.0, _repeat_grad(g, y))
    return (unbroadcast(g * y, x), unbroadcast(g * x, y))


def mul_or_repeat_tangents(t, ans, x, y):
    """``x * y``'s tangent when x moves along t (first entry), or when y does (second entry)."""
    if _repeats(x, y) and _is_seq(x):
        return (GradList(t) * y if not is_zero_grad(t) else seq_zeros(x) * y, None)
    if _repeats(x, y):
        return (None, GradList(t) * x if not is_zero_grad(t) else seq_zeros(y) * x)
    return (_numeric_tangent(t, x, y, ans), _numeric_tangent(t, y, x, ans))


def _bcast(b, like):
    """A gradient ``b`` of an unbroadcast result spread back over the shape of ``like``."""
    return np.broadcast_to(0.0 if is_zero_grad(b) else b, np.shape(like))


def add_or_concat_grads_adjoint(b, g, x, y):
    """The adjoint of :func:`add_or_concat_grads` in ``g`` (it is linear in g)."""
    bx, by = item_grad(b, 0), item_grad(b, 1)
    if _concatenates(x, y):
        return GradList(list(seq_zeros(x) if is_zero_grad(bx) else bx) +
                        list(seq_zeros(y) if is_zero_grad(by) else by))
    return _bcast(bx, g) + _bcast(by, g)


def mul_or_repeat_grads_adjoint(b, g, x, y):
    """The adjoint of :func:`mul_or_repeat_grads`: gradients for (g, x, y)."""
    bx, by = item_grad(b, 0), item_grad(b, 1)
    if _repeats(x, y):
        seq, part = (x, bx) if _is_seq(x) else (y, by)
        part = seq_zeros(seq) if is_zero_grad(part) else part
        return (GradList(list(part) * (len(g) // max(len(seq), 1))), 0.0, 0.0)
    gx, gy = _bcast(bx, np.broadcast(g, y)), _bcast(by, np.broadcast(g, x))
    return (unbroadcast(gx * y + gy * x, g), unbroadcast(g * gy, x), unbroadcast(g * gx, y))


def mul_or_repeat_grads_tangents(t, g, x, y):
    """:func:`mul_or_repeat_grads`' tangent when g, x or y moves along ``t`` (one entry each)."""
    if _repeats(x, y):  # (the items' gradients do not depend on the items)
        zero = (seq_zeros(x), 0.0) if _is_seq(x) else (0.0, seq_zeros(y))
        # (t is g's tangent, a list, only where it is one: the count's zero tangent, array(0),
        # is not, and len() of it failed in grad of grad, review38)
        of_g = isinstance(t, (list, tuple)) or is_zero_grad(t)
        return (mul_or_repeat_grads(t, x, y) if of_g else None, zero, zero)
    tx = None if _not_tangent_of(t, x) else _as_array_tangent(t, x)
    ty = None if _not_tangent_of(t, y) else _as_array_tangent(t, y)
    zx, zy = (np.zeros(np.shape(v)) if _is_seq(v) else 0.0 for v in (x, y))  # (indexed later)
    return (None if _is_seq(t) else mul_or_repeat_grads(t, x, y),
            None if tx is None else (zx, unbroadcast(g * tx, y)),
            None if ty is None else (unbroadcast(g * ty, x), zy))


def sequence_grad(g, iterable):
    """The gradient of ``iterable`` (a list, tuple or array) from that of ``tuple(iterable)``."""
    if is_zero_grad(g):
        return 0.0
    if isinstance(iterable, (list, tuple)):
        return GradList(item_grad(g, k) for k in range(len(iterable)))
    if getattr(iterable, "ndim", 0):  # (an array: numpy's, or dask's, which np.stack takes)
        return np.stack([np.broadcast_to(0.0 if gi is None else gi, iterable.shape[1:])
                         for gi in grad_items(g, len(iterable))]) if len(iterable) else \
            np.zeros(iterable.shape)
    raise SourcediffError(
        f"tuple() of a {type(iterable).__name__} carries a derivative here; sourcediff follows "
        f"tuple() of lists, tuples and arrays: build the tuple from a list ([...])")


def sequence_tangent(t, iterable):
    """The tangent of ``tuple(iterable)``: one entry per item."""
    return 0.0 if is_zero_grad(t) else GradList(t)


def dict_items(d):
    """``d.items()`` on a local or parameter that is not an array: its (key, value) pairs as a
    list (a dict's, in order)."""
    return list(d.items())


def dict_pairs(d):
    """What ``dict(d)`` reads of its argument as a list of (key, value) pairs: a dict's items,
    or the pairs another iterable gives (``dict([("a", v)])``)."""
    return list(d.items()) if isinstance(d, dict) else [tuple(p) for p in d]


def dict_pairs_grad(g, d):
    """The gradient of ``d`` from that of ``dict_pairs(d)``; its adjoint is
    :func:`dict_pairs_tangent`."""
    return _dict_view_grad(g, d, "items") if isinstance(d, dict) else g


def dict_pairs_tangent(t, d):
    """The tangent of ``dict_pairs(d)`` for a tangent ``t`` of ``d``."""
    return _dict_view_tangent(t, d, "items") if isinstance(d, dict) else t


def iterated(seq):
    """What ``list(seq)`` reads, by position: a dict's keys (Python's iteration over a dict, as
    ``list(d)`` gives them), ``seq`` itself otherwise (a list, tuple or array, read item by
    item)."""
    return list(seq.keys()) if isinstance(seq, collections.abc.Mapping) else seq


def iterated_grad(g, seq):
    """The gradient (or tangent) of ``seq`` from that of ``iterated(seq)``: none for a dict (its
    keys carry no derivative), ``g`` itself otherwise; it is its own adjoint."""
    return 0.0 if isinstance(seq, collections.abc.Mapping) else g


def dict_values(d):
    """``d.values()`` as a list."""
    return list(d.values())


def dict_keys(d):
    """``d.keys()`` as a list (keys carry no derivative)."""
    return list(d.keys())


def dict_get(d, k, *default):
    """``d.get(k)`` or ``d.get(k, default)`` on a local or parameter that is not an array (its
    rule checks for a dict): ``d[k]`` where ``d`` holds ``k``, else ``default``."""
    return d.get(k, *default)


def dict_get_grad(g, d, k):
    """The gradient of the dict ``d`` from that of ``dict_get(d, k, default)``: ``g`` at ``k``
    where ``d`` holds it (0.0 otherwise); its adjoint is :func:`dict_get_tangent`."""
    _a_dict_get(d)
    if is_zero_grad(g) or k not in d:
        return 0.0
    return GradDict({k: g})


def dict_get_tangent(t, d, k):
    """The tangent of ``dict_get(d, k, default)`` from a tangent ``t`` of ``d`` (its entry at
    ``k``, 0.0 where ``d`` does not hold ``k``)."""
    _a_dict_get(d)
    return item_grad(t, k) if k in d else 0.0


def dict_default_grad(g, d, k):
    """The gradient (and the tangent) of ``dict_get(d, k, default)`` in ``default``: ``g`` where
    ``d`` does not hold ``k``, else 0.0."""
    return 0.0 if k in d else g


def _a_dict_get(d):
    # (a TypeError: the generated code's caller names the user's line)
    if not isinstance(d, dict):
        raise TypeError(f"obj.get(...) of a {type(d).__name__} that carries a derivative; "
                        f"sourcediff differentiates .get() of dicts (d[k] if k in d else "
                        f"default). Hold the values in a dict, or give the method another name")


def _a_dict(d, method):
    if not isinstance(d, dict):
        raise SourcediffError(
            f".{method}() of a {type(d).__name__} carries a derivative here; sourcediff "
            f"differentiates .{method}() of dicts: pass the values in a dict, or call a method "
            f"with another name")


def _dict_view_grad(g, d, method):
    """The gradient of the dict ``d`` from that of ``dict_items(d)`` (a list of pairs: each pair's
    second entry, by key) or of ``dict_values(d)`` (``method`` says which)."""
    _a_dict(d, method)
    if is_zero_grad(g):
        return 0.0
    if method == "items":
        return GradDict((k, item_grad(item_grad(g, i), 1)) for i, k in enumerate(d))
    return GradDict((k, item_grad(g, i)) for i, k in enumerate(d))


def _dict_view_tangent(t, d, method):
    """The tangent of ``dict_items(d)`` or ``dict_values(d)`` for a tangent ``t`` of ``d`` (a
    dict, entries by key): the transpose of :func:`_dict_view_grad`."""
    _a_dict(d, method)
    if method == "items":
        return GradList(GradList([0.0, item_grad(t, k)]) for k in d)
    return GradList(item_grad(t, k) for k in d)


def dict_items_grad(g, d):
    """The gradient of ``d`` from that of ``dict_items(d)``; its adjoint is
    :func:`dict_items_tangent`."""
    return _dict_view_grad(g, d, "items")


def dict_items_tangent(t, d):
    """The tangent of ``dict_items(d)`` for a tangent ``t`` of ``d``."""
    return _dict_view_tangent(t, d, "items")


def dict_values_grad(g, d):
    """The gradient of ``d`` from that of ``dict_values(d)``; its adjoint is
    :func:`dict_values_tangent`."""
    return _dict_view_grad(g, d, "values")


def dict_values_tangent(t, d):
    """The tangent of ``dict_values(d)`` for a tangent ``t`` of ``d``."""
    return _dict_view_tangent(t, d, "values")


def get_attribute(obj, name):
    """``obj.name`` for a local that is not an array: a namedtuple's field, an object's attribute."""
    return getattr(obj, name)


def attribute_slot(b, obj, name):
    """The entry of a namedtuple's (or a model object's) gradient ``b`` for the field ``name``."""
    if is_model_object(obj):
        return item_grad(b, name)
    return item_grad(b, obj._fields.index(name))


def _reads_item(d, name):
    try:
        return getattr(d, name) is d[name]
    except Exception:
        return False


def attribute_grad(g, obj, name):
    """The gradient of ``obj`` from ``obj.name``'s: a namedtuple's field slot; an object's
    attributes carry none that sourcediff can give back, which is said, not dropped."""
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        out = GradList(0.0 for _ in obj)
        out[obj._fields.index(name)] = g
        return out
    if is_model_object(obj):  # (a model the gradient is taken with respect to)
        return object_attribute_grad(g, obj, name)
    if isinstance(obj, dict) and name in obj and _reads_item(obj, name):
        return GradDict({name: g})  # (a dict whose attributes are its items: p.W is p["W"])
    raise SourcediffError(
        f"the derivative flows through {type(obj).__name__}.{name}, an attribute of an object "
        f"that carries derivatives; sourcediff gives gradients for arrays, floats and lists, tuples, "
        f"namedtuples and dicts of them: pass the arrays as arguments (or in a dict) instead")


# ---------------------------------------------------------------- tangents of named tuple results


class NamedGradList(GradList):
    """The tangent of a named tuple result (np.linalg.eigh's): a GradList (``+`` adds entrywise)
    whose entries are also read by field name, as runtime.get_attribute does in forward mode."""

    def __init__(self, items, fields):
        super().__init__(items)
        self._fields = tuple(fields)

    def __getattr__(self, name):
        fields = self.__dict__.get("_fields", ())
        if name in fields:
            return self[fields.index(name)]
        raise AttributeError(name)


def named_like(items, ans):
    """``items`` (the tangents of a tuple result ``ans``) as a NamedGradList when ``ans`` is a
    named tuple, else a GradList."""
    fields = getattr(type(ans), "_fields", None)
    return NamedGradList(items, fields) if fields else GradList(items)


_named = named_like


_BY_POSITION = (list, tuple, str, bytes, range, np.ndarray)
_HEAPTYPE = 1 << 9  # (Py_TPFLAGS_HEAPTYPE: a class written in Python)


def _iterates_by_position(cls):
    """Whether Python's iteration over a ``cls`` gives ``seq[k]`` for k in range(len(seq)): a
    list, tuple, string, range or array (or a subclass that keeps their ``__iter__``,
    ``__getitem__`` and ``__len__``: a namedtuple), or a class without ``__iter__`` (Python then
    iterates by position). A class with an ``__iter__`` of its own (a data loader yielding batches
    while ``__getitem__`` gives one sample, a container iterating in another order) may not."""
    if cls in _BY_POSITION or (not cls.__flags__ & _HEAPTYPE and
                               issubclass(cls, collections.abc.Sequence)):
        return True  # (or a sequence written in C: collections.deque, array.array)
    for base in _BY_POSITION:
        if issubclass(cls, base):
            return all(getattr(cls, m) is getattr(base, m)
                       for m in ("__iter__", "__getitem__", "__len__"))
    return getattr(cls, "__iter__", None) is None


def _refuse_own_iteration(seq, where, text, what):
    """Refuse iterating over (or unpacking) an object whose class defines its own ``__iter__``:
    sourcediff runs the loop by position (``seq[k]``, ``len(seq)``), which may not be what the
    class's iteration gives (the loop would see other items, silently)."""
    cls = type(seq)
    if isinstance(seq, (collections.abc.Mapping, collections.abc.Set,
                        collections.abc.Iterator)) or _iterates_by_position(cls):
        return
    raise SourcediffSyntaxError(
        f"{where}: this {what} a {cls.__name__} object, whose class defines its own __iter__; "
        f"sourcediff runs loops, comprehensions and unpacking by position (seq[k] for k in "
        f"range(len(seq))), which need not give what {cls.__name__}.__iter__ gives.\n    {text}\n"
        f"Make a tuple of its items first (items = tuple(seq), which runs its __iter__) and "
        f"iterate over that, or iterate over the list the object holds (self.layers).")


def loop_length(seq, where, text):
    """``len(seq)`` for a loop (or comprehension) that sourcediff runs by position, ``seq[k]``
    for k in range(len(seq)): what Python's iteration gives for lists, tuples, arrays, strings
    and ranges, but not for a dict (its keys, where ``seq[k]`` reads the value stored under the
    key k), a set, or an iterator (no ``len``). Those are refused, saying what to write."""
    if isinstance(seq, (collections.abc.Mapping, collections.abc.Set)):
        kind = "a dict" if isinstance(seq, collections.abc.Mapping) else "a set"
        fix = "for k in d.keys(), for v in d.values() or for k, v in d.items()" \
            if kind == "a dict" else "a list or tuple of its items (sorted(s) for numbers)"
        raise SourcediffSyntaxError(
            f"{where}: this iterates over {kind}, which sourcediff runs by position (seq[k] for "
            f"k in range(len(seq))), not as Python's iteration over its "
            f"{'keys' if kind == 'a dict' else 'items'}.\n    {text}\nIterate over "
            f"{fix} instead.")
    _refuse_own_iteration(seq, where, text, "iterates over")
    if isinstance(seq, collections.abc.Iterator) or not hasattr(type(seq), "__getitem__") or \
            not hasattr(type(seq), "__len__"):
        made = " (what a function with yield returns, called here as plain Python)" \
            if inspect.isgenerator(seq) else ""
        raise SourcediffSyntaxError(
            f"{where}: this iterates over a {type(seq).__name__}{made}, which has no length or "
            f"items by position; sourcediff runs loops, comprehensions and list(...) as seq[k] "
            f"for k in range(len(seq)).\n    {text}\nIterate over a list, tuple, array or "
            f"range (range(n - 1, -1, -1) for reversed(range(n))): have the function that "
            f"makes it return a list, or make the list before the gradient call (items = "
            f"list(...)) and pass it in as an argument.")
    return len(seq)


def key_extremum(items, key, largest):
    """The position of the first item of the list ``items`` where ``key`` is largest
    (``largest``) or smallest: ``max(xs, key=f)`` is written ``xs_[key_extremum(xs_, f, True)]``.
    Python's error for an empty sequence."""
    keys = [key(item) for item in items]
    return (max if largest else min)(range(len(keys)), key=keys.__getitem__)


def check_list_method(seq, what, where, text, kind="list"):
    """``lst.reverse()``, ``lst.insert(i, v)``, ``lst.extend(s)``, ``lst.sort(key=f)``, which
    sourcediff runs as a new list bound to the name (``lst = lst[::-1]``, with the alias checks of
    ``lst += s``): refused for anything but a list (a deque, an object of the user's). With
    ``kind`` "dict": ``d.update({"a": v})`` and ``d.setdefault(k, v)``, run as stores ``d[k] = v``
    (``d[k] = d.get(k, v)``), refused for anything but a dict (a set's update, an object's)."""
    if kind == "dict" and not isinstance(seq, dict):
        raise SourcediffSyntaxError(
            f"{where}: {what} is called on a {type(seq).__name__}; sourcediff runs it as stores "
            f"into a dict (d[k] = v), which it does only for a dict.\n    {text}\nCall it "
            f"outside the differentiated function, or build the new value yourself.")
    if kind == "list" and type(seq) is not list:
        fix = "build a dict without the key ({k: v for k, v in d.items() if k != key})" if \
            isinstance(seq, dict) else "make it a list (list(...)) or build the new value yourself"
        raise SourcediffSyntaxError(
            f"{where}: {what} is called on a {type(seq).__name__}; sourcediff runs it as a new "
            f"list bound to the name, which it does only for a list.\n    {text}\n"
            f"{fix[0].upper()}{fix[1:]}.")


def pop_position(seq, i):
    """The position ``seq.pop(i)`` takes out, counted from the start (Python's IndexError)."""
    n = len(seq)
    if not -n <= i < n:
        raise IndexError("pop index out of range" if n else "pop from empty list")
    return i % n


def remove_position(seq, value):
    """The position ``seq.remove(value)`` takes out: the first item that is ``value`` or equals
    it, as Python finds it (its ValueError when there is none)."""
    for k, item in enumerate(seq):  # (identity first, then ==, as list.remove compares)
        if item is value or item == value:
            return k
    raise ValueError("list.remove(x): x not in list")


def check_unpack(seq, count, where, text):
    """``a, b = seq``, which sourcediff runs as ``a = seq[0]; b = seq[1]``: refused for a dict
    (Python unpacks its keys), a set or an iterator, and an error as in Python when ``seq`` has
    another number of items (fewer than ``-count`` for ``a, *rest, z = seq``: count -2)."""
    _refuse_own_iteration(seq, where, text, "unpacks")
    if isinstance(seq, (collections.abc.Mapping, collections.abc.Set)) or \
            isinstance(seq, collections.abc.Iterator) or not hasattr(type(seq), "__getitem__") \
            or not hasattr(type(seq), "__len__"):
        raise SourcediffSyntaxError(
            f"{where}: this unpacks a {type(seq).__name__}, which sourcediff runs by position "
            f"(seq[0], seq[1], ...), not as Python's iteration over it.\n    {text}\nUnpack a "
            f"list or tuple (list(d.keys()), list(d.values()), tuple(...) of what it gives).")
    if count < 0 and len(seq) < -count:  # (a, *rest, z = seq: count -2)
        raise SourcediffError(
            f"{where}: ValueError: this unpacks {len(seq)} values into {-count} names and a "
            f"starred one.\n    {text}")
    if count >= 0 and len(seq) != count:
        raise SourcediffError(
            f"{where}: ValueError: this unpacks {len(seq)} values into {count} names.\n    {text}")


def _class_number(cls, name):
    """Whether ``cls`` holds a number as ``name`` in its body (or a base's): a constant."""
    try:
        value = inspect.getattr_static(cls, name)
    except AttributeError:
        return False
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _held_as_given(value, arg):
    """Whether the object still holds ``arg`` where its constructor stored it: the same object,
    or, for an argument written as a list, tuple or dict display (``Seq([w, w * 2])``, which the
    adjoint builds again from the same names), one of its type holding the same objects."""
    if value is arg:
        return True
    if type(value) is not type(arg) or type(arg) not in (list, tuple, dict) or \
            len(value) != len(arg):
        return False
    if isinstance(arg, dict):
        return value.keys() == arg.keys() and all(_held_as_given(value[k], arg[k]) for k in arg)
    return all(_held_as_given(v, a) for v, a in zip(value, arg))


def constructed_grad(g, obj, paths, arg, where, text):
    """The gradient of an argument that ``obj``'s constructor stored as it is at ``paths``
    (attribute names and container keys, compiler/constructors.py), from ``g``, ``obj``'s own
    (a GradDict by attribute, or a namedtuple's list by field). Refused: a derivative that
    reached an attribute the object does not store (a property read outside the class), and an
    attribute replaced since the constructor stored the argument there."""
    if is_zero_grad(g):
        return 0.0
    if not isinstance(g, dict) and not isinstance(obj, tuple) and is_model_object(obj):
        raise operator_on_object(obj)  # (abs(obj), np.tanh(obj): numpy's rule gave an array)
    if isinstance(g, dict) and not isinstance(obj, tuple):
        stored = {n for n, _ in object_attributes(obj)} if is_model_object(obj) else set()
        for name, value in g.items():
            if name not in stored and not is_zero_grad(value) and \
                    not _class_number(type(obj), name) and \
                    not read_without_floats(obj, name):  # (lam = 0.1 in the class; an int)
                raise SourcediffError(
                    f"{where}: the derivative flows through {type(obj).__name__}.{name}, which "
                    f"the object built here does not store (a property or another value "
                    f"computed on read); sourcediff follows a property where a method reads it "
                    f"through self.\n    {text}\nRead it in a method of the class, or compute "
                    f"it from the stored attributes where you read it")
    total = 0.0
    for path in paths:
        if isinstance(path[0], str) and not isinstance(obj, tuple) and \
                path[0] not in {n for n, _ in object_attributes(obj)}:
            raise SourcediffError(
                f"{where}: {type(obj).__name__}'s constructor stores an argument that carries a "
                f"derivative through .{path[0]}, which the object does not hold as an attribute "
                f"of its own (a property's setter, a __setattr__ of the class); sourcediff "
                f"follows an argument stored as it is.\n    {text}\nStore it as a plain "
                f"attribute, or build the object outside the function and take the gradient "
                f"with respect to it")
        value, grad = obj, g
        for key in path:
            value = getattr(value, key) if isinstance(key, str) and not isinstance(
                value, dict) else value[key]
            grad = item_grad(grad, key)
        if not _held_as_given(value, arg):
            raise SourcediffError(
                f"{where}: {type(obj).__name__}'s constructor stored an argument that carries a "
                f"derivative at .{'.'.join(map(str, path))}, and the object holds another value "
                f"there now; sourcediff gives the argument the gradient of what the object holds "
                f"there.\n    {text}\nKeep the attribute as the constructor set it (build a new "
                f"object), or pass the new value as an argument")
        total = add_grads(total, grad)
    return total


def constructed_grad_adjoint(b, g, obj, paths):
    """What :func:`constructed_grad` passes back to the object's gradient ``g`` from the
    cotangent ``b`` of its result: ``b`` placed at each of ``paths`` (a second derivative); into
    an array shaped like ``g`` where ``g`` is one (a namedtuple's of equal fields)."""
    if isinstance(g, np.ndarray):
        out = np.zeros(np.shape(g), dtype=np.result_type(g, b))
        for path in paths:
            out[path] += b
        return out
    total = 0.0
    for path in paths:
        total = add_grads(total, _placed(b, obj, path))
    return total


def _placed(b, value, path):
    if not path:
        return b
    key, rest = path[0], path[1:]
    if isinstance(key, str) and not isinstance(value, dict):
        return GradDict({key: _placed(b, getattr(value, key), rest)})
    if isinstance(value, dict):
        return GradDict({key: _placed(b, value[key], rest)})
    out = GradList(0.0 for _ in value)
    out[key] = _placed(b, value[key], rest)
    return out
