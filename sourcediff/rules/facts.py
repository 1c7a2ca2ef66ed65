"""Facts about Python's and numpy's callables that the compiler's stages share, kept in one place:
which methods write into their receiver, which operations may return views of their operand,
which results are always fresh arrays, which reductions give a scalar.

Example::

    from sourcediff.rules.facts import writes_in_place
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

# those of them that change only a list's or dict's own slots (never an array's memory): the
# caller sees the change through the container object itself, not through views of its items
CONTAINER_ONLY_METHODS = frozenset({"append", "extend", "insert", "pop", "remove", "clear",
                                    "reverse", "update", "setdefault", "popitem"})

_IN_PLACE_OPERATORS = frozenset({"add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "pow",
                                 "lshift", "rshift", "and", "xor", "or"})


def writes_in_place(method):
    """Whether a method of this name changes its receiver (``y.sort()``, ``y.__iadd__(x)``)."""
    return method in IN_PLACE_METHODS or (
        method.startswith("__i") and method.endswith("__") and
        method[3:-2] in _IN_PLACE_OPERATORS)


# operations whose result may share memory with their first operand (numpy views)
VIEWS = frozenset({
    "getitem", "reshape", "transpose", "T", "ravel", "squeeze", "expand_dims", "swapaxes",
    "moveaxis", "broadcast_to", "asarray", "view", "diagonal", "real", "flip", "fliplr", "flipud",
    "atleast_1d", "atleast_2d", "copy_view",
})

# results that never share memory with their arguments (besides ufuncs, which make new arrays)
FRESH_RESULTS = frozenset({
    "sum", "mean", "prod", "max", "min", "amax", "amin", "std", "var", "dot", "matmul", "vdot",
    "inner", "outer", "tensordot", "kron", "cumsum", "cumprod", "where", "clip", "zeros", "ones",
    "full", "empty", "zeros_like", "ones_like", "full_like", "empty_like", "array", "copy",
    "concatenate", "stack", "vstack", "hstack", "dstack", "column_stack", "tile", "repeat", "sort",
    "diff", "trace", "arange", "linspace", "eye", "identity", "norm", "solve", "inv", "det",
    "logsumexp", "average", "median", "flatten", "astype", "round", "around", "pad", "roll",
    "triu", "tril", "cross", "convolve", "correlate", "interp", "polyval", "len", "float", "int",
    "bool", "abs", "range", "sqrt", "exp", "log", "sin", "cos", "tanh", "argmax", "argmin",
    "count_nonzero", "all", "any", "isfinite", "isnan", "shape", "ndim", "size", "allclose",
})

# numpy reductions that, without an axis, give a scalar (a grad output that is surely scalar)
FULL_REDUCTIONS = frozenset({"sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std",
                             "vdot"})
