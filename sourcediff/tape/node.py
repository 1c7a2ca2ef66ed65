"""Graph nodes: the backward functions a Tensor's ``grad_fn``/``next_functions`` show."""

import itertools
import operator

_NONE_EDGE = (None, 0)
# which values a node keeps: an int is an argument position always saved, "o" the result, "i" a
# non-tensor (indices); (p, q) saves argument p only when argument q requires grad (like PyTorch,
# which saves ``self`` of a product only when ``other`` needs a gradient)
_BILINEAR = ((0, 1), (1, 0))
_DIV_SAVES = ((1, 0), (0, 1), (1, 1))
_node_classes = {}
_seq = itertools.count()  # creation order: a node is made after the nodes it points to
_FIELDS = ("_ans", "_args", "_bw", "_dtype", "_edges", "_extra", "_freed", "_fwd", "_kw", "_next",
           "_outvc", "_outver", "_pre_hooks", "_raw", "_retain", "_rule", "_saves", "_seq",
           "_vers", "_vjp")


class _Fields:
    """A node's fields. They are kept in an object of this one class, not in slots of the node:
    the node's class is per name (``MulBackward0``, ``TanhBackward0``...), and Python 3.11
    specializes an attribute access to one class only, so the recording's writes and the
    engine's reads of slots on nodes of several classes took the generic attribute path: W5's
    nodes alternate between five classes, and one class for every node made its tape step 9%
    faster (benchmarks/tape_ab.py). The hot code (recording._record, the engine's walk) reaches
    the fields through ``node._c``, one access of the node's own class; the rest reads the same
    names on the node (the properties below)."""

    __slots__ = _FIELDS


class Node:
    """A backward function in the graph; ``type(node).__name__`` is PyTorch's name (``MulBackward0``)."""

    __slots__ = ("__weakref__", "_c")

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
        """Call ``fn(grads)`` before this node runs, as PyTorch: ``grads`` is the tuple of the
        gradients of the node's outputs (one here), and a returned tuple of as many replaces
        them (a None in it: no gradient, the node does not run). The node's pre-hooks run after
        the hooks registered on the tensor it made (``t.register_hook``) and after
        ``retain_grad`` stored that tensor's gradient, whatever the order of registration."""
        if self._pre_hooks is None:
            self._pre_hooks = []
        hook = _NodePrehook(fn)
        self._pre_hooks.append(hook)
        return _RemovableHandle(self._pre_hooks, hook)


class _NodePrehook:
    """A hook registered by ``Node.register_prehook`` (called with a tuple of gradients), kept
    in the node's list of pre-hooks beside the hooks of the tensor the node made (called with
    the gradient); the engine runs the tensor's first."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn


class AccumulateGrad(Node):
    """The sink of a leaf that requires grad: adds incoming gradients into ``variable.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable
        c = self._c = _new(_Fields)
        c._seq = next(_seq)
        c._next = ()
        c._bw = c._rule = c._fwd = c._args = c._kw = c._edges = c._ans = c._raw = c._vjp = None
        c._saves = c._vers = ()
        c._outvc = c._pre_hooks = c._retain = c._dtype = c._extra = None
        c._outver = 0
        c._freed = False


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
    node = _new(_node_classes.get(name) or _node_class(name))
    n = node._c = _new(_Fields)
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
    return node


def _field_setter(name):
    def set_field(node, value):
        setattr(node._c, name, value)
    return set_field


for _name in _FIELDS:  # (node._args reads node._c._args: the code off the hot paths)
    setattr(Node, _name, property(operator.attrgetter("_c." + _name), _field_setter(_name)))
del _name
_new = object.__new__


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
