"""Facts about methods, known by name: which change their receiver in place, which change only a
list's or dict's own slots. The one table of them; every stage asks it.

Everything else the compiler knows about a primitive (whether its result is a view or fresh, a
full reduction, row-wise, which argument it writes into, its differentiable arguments) is a field
of the primitive's record in the registry, declared where its rule is registered: see
:class:`sourcediff.rules.registry.Facts` and :func:`sourcediff.rules.registry.facts`. Methods
stay name-keyed because a call ``obj.name(...)`` is often met before (or without) knowing the
receiver's type: ``lst.append(v)``, ``params.update(d)``, ``y.sort()``.

Example::

    from sourcediff.rules.facts import writes_in_place
    writes_in_place("partition")   # True: ndarray.partition sorts its receiver in place
    writes_in_place("__iadd__")    # True: y.__iadd__(x) is y += x
"""

from typing import NamedTuple

from . import registry


class Method(NamedTuple):
    """What a method of this name writes into: ``"receiver"`` (``lst.append``, ``y.sort()``) or
    the position of the argument (``np.add.at(y, i, v)`` writes its first argument, not the ufunc);
    ``container_only``: it changes only a list's or dict's own slots, never an array's memory (the
    caller sees the change through the container object itself, not through views of its items)."""

    writes: object = "receiver"
    container_only: bool = False


_LIST = Method(container_only=True)
_ARRAY = Method()

# Methods that change their receiver in place (lists, dicts, numpy arrays), by name: a call of one
# on a value that carries a derivative is followed (list.append) or refused, never taken as a pure
# call whose result is dropped. numpy's in-place ndarray methods: sort, partition, fill, put,
# resize, itemset (numpy 1), setfield, byteswap (inplace=True). (ndarray.setflags changes flags,
# never values: not a write.)
METHODS = {
    # list
    "append": _LIST, "extend": _LIST, "insert": _LIST, "pop": _LIST, "remove": _LIST,
    "clear": _LIST, "reverse": _LIST, "sort": _ARRAY,
    # dict
    "update": _LIST, "setdefault": _LIST, "popitem": _LIST,
    # ndarray
    "fill": _ARRAY, "resize": _ARRAY, "put": _ARRAY, "itemset": _ARRAY, "partition": _ARRAY,
    "setfield": _ARRAY, "byteswap": _ARRAY,
    # any object
    "__setitem__": _ARRAY, "__delitem__": _ARRAY, "__setattr__": _ARRAY, "__delattr__": _ARRAY,
    # a ufunc's: np.add.at(y, idx, v) writes into y
    "at": Method(writes=0),
}

IN_PLACE_METHODS = frozenset(name for name, m in METHODS.items() if m.writes == "receiver")
CONTAINER_ONLY_METHODS = frozenset(name for name, m in METHODS.items() if m.container_only)

_IN_PLACE_OPERATORS = frozenset({"add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "pow",
                                 "lshift", "rshift", "and", "xor", "or"})


def writes_in_place(method):
    """Whether a method of this name changes its receiver (``y.sort()``, ``y.__iadd__(x)``)."""
    return method in IN_PLACE_METHODS or (
        method.startswith("__i") and method.endswith("__") and
        method[3:-2] in _IN_PLACE_OPERATORS)


def may_write(name):
    """Whether calling something of this name may write into an object that exists before the
    call: a method that changes its receiver or an argument (``at``), or a registered function
    declared to write into an argument (``copyto``, ``fill_diagonal``: ``writes`` facts). For
    stages that see only a name (an attribute loaded in bytecode)."""
    return writes_in_place(name) or name in METHODS or name in registry.names_with(_writes_argument)


def _writes_argument(facts):
    return facts.writes is not None
