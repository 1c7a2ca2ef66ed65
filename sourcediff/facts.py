"""Facts about Python's and numpy's callables that the compiler's stages share, kept in one place.

Example::

    from sourcediff.facts import writes_in_place
    writes_in_place("partition")   # True: ndarray.partition sorts its receiver in place
    writes_in_place("__iadd__")    # True: y.__iadd__(x) is y += x
"""

# Methods that change their receiver in place (lists, dicts, numpy arrays), by name: a call of one
# on a value that carries a derivative is followed (list.append) or refused, never taken as a pure
# call whose result is dropped. numpy's in-place ndarray methods: sort, partition, fill, put,
# resize, itemset (numpy 1), setfield, byteswap (inplace=True).
IN_PLACE_METHODS = frozenset({
    "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",  # list
    "update", "setdefault", "popitem",                                          # dict
    "fill", "resize", "put", "itemset", "partition", "setfield", "byteswap",    # ndarray
    "__setitem__", "__delitem__", "__setattr__", "__delattr__",
})

_IN_PLACE_OPERATORS = frozenset({"add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "pow",
                                 "lshift", "rshift", "and", "xor", "or"})


def writes_in_place(method):
    """Whether a method of this name changes its receiver (``y.sort()``, ``y.__iadd__(x)``)."""
    return method in IN_PLACE_METHODS or (
        method.startswith("__i") and method.endswith("__") and
        method[3:-2] in _IN_PLACE_OPERATORS)
