"""Graph nodes: the backward functions a Tensor's ``grad_fn``/``next_functions`` show."""

import itertools

_NONE_EDGE = (None, 0)
# which values a node keeps: an int is an argument position always saved, "o" the result, "i" a
# non-tensor (indices); (p, q) saves argument p only when argument q requires grad (like PyTorch,
# which saves ``self`` of a product only when ``other`` needs a gradient)
_BILINEAR = ((0, 1), (1, 0))
_DIV_SAVES = ((1, 0), (0, 1), (1, 1))
_node_classes = {}
_seq = itertools.count()  # creation order: a node is made after the nodes it points to


class Node:
    """A backward function in the graph; ``type(node).__name__`` is PyTorch's name (``MulBackward0``)."""

    __slots__ = (
        "__weakref__",
        "_ans",
        "_args",
        "_bw",
        "_dtype",
        "_edges",
        "_extra",
        "_freed",
        "_fwd",
        "_kw",
        "_next",
        "_outvc",
        "_outver",
        "_pre_hooks",
        "_raw",
        "_retain",
        "_rule",
        "_saves",
        "_seq",
        "_vers",
        "_vjp",
    )

    @property
    def next_functions(self):
        """PyTorch's ``((node, 0), ...)``: one pair per input, ``(None, 0)`` for an input that
        needs no gradient. Made when read: the node keeps only the nodes (``_next``)."""
        return tuple([_NONE_EDGE if c is None else (c, 0) for c in self._next])

    def name(self):
        """The node's class name, e.g. ``'MulBackward0'``."""
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} object at {id(self):#x}>"

    __str__ = __repr__

    def register_prehook(self, fn):
        """Call ``fn(grad)`` before this node runs; a returned value replaces the gradient."""
        if self._pre_hooks is None:
            self._pre_hooks = []
        self._pre_hooks.append(fn)
        return _RemovableHandle(self._pre_hooks, fn)


class AccumulateGrad(Node):
    """The sink of a leaf that requires grad: adds incoming gradients into ``variable.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable
        self._seq = next(_seq)
        self._next = ()
        self._bw = None
        self._rule = self._fwd = self._args = self._kw = self._edges = self._ans = None
        self._raw = None
        self._vjp = None
        self._saves = self._vers = ()
        self._outvc = None
        self._outver = 0
        self._freed = False
        self._pre_hooks = None
        self._retain = None
        self._dtype = None
        self._extra = None


def _node_class(name):
    cls = _node_classes.get(name)
    if cls is None:
        cls = type(name, (Node,), {"__slots__": (), "__module__": "builtins"})
        _node_classes[name] = cls
    return cls


def _make_node(name, next_functions, bw, dtype, saves=()):
    """A node of an operation without a vjp rule of the table (its own backward ``bw``)."""
    n = _make_rule_node(name, next_functions, bw, dtype, None, None, None, None, None, None, None,
                        None)
    n._saves = saves
    return n


def _make_rule_node(name, next_functions, bw, dtype, rule, vjp, fwd, args, kw, edges, ans, raw):
    """A node of an operation with a vjp rule (the common case of recording, kept short); ``raw``:
    the arguments' numpy values the forward computed with, which the rule gets."""
    cls = _node_classes.get(name) or _node_class(name)
    n = object.__new__(cls)
    n._seq = next(_seq)
    n._next = tuple([c for c, _ in next_functions])
    n._bw = bw
    n._rule = rule
    n._vjp = vjp
    n._fwd = fwd
    n._args = args
    n._raw = raw
    n._kw = kw
    n._edges = edges
    n._ans = ans
    n._saves = ()
    n._vers = ()
    n._outvc = None
    n._outver = 0
    n._freed = False
    n._pre_hooks = None
    n._retain = None
    n._dtype = dtype
    n._extra = None
    return n


class _RemovableHandle:
    """Returned by ``register_hook``; ``handle.remove()`` unregisters the hook."""

    __slots__ = ("_fn", "_list")

    def __init__(self, lst, fn):
        self._list = lst
        self._fn = fn

    def remove(self):
        """Unregister the hook (no error if it is already gone)."""
        for i, f in enumerate(self._list):
            if f is self._fn:
                del self._list[i]
                return
