"""Owned results: whether a specialized gradient's code alone shows that every array it returns
is a new array of its own, so that the entry's copy-or-own step (``runtime.own_arrays``: no
returned gradient may share memory with another, which an in-place update of one would change)
has nothing to do for it and is skipped.

The code is followed statement by statement at its top level (each runs once): a name bound
to an expression whose result is surely a new array (or an immutable scalar) by its facts holds
a new array of its own: an arithmetic operator or ``@`` of arrays and numbers (``x.T @ g``,
``b_bar + d``), a unary minus, a numpy ufunc called without ``out=`` (``np.exp(z)``),
``np.dot``, ``np.matmul``, ``np.where`` of three arguments, or an array's ``.sum(...)``. A name
bound to such a name holds the same array; anything else (a parameter, an item, a transpose, a
reshape, a helper's result: ``_sd.unreduce`` may return a broadcast view, a ufunc's ``out=``
buffer, a name a loop or a branch binds) is unknown. The results are owned when each returned
name holds a new array and no two hold the same one; otherwise the entry checks them at run
time as before. Example::

    a_bar = _sub1_bar                   # the array _sub1_bar = 1.0 * c made
    b_bar = -_sub1_bar                  # a new array
    w_bar = h.T @ _matmul2_bar          # a new array
    return (a_bar, b_bar, w_bar)        # owned: own_arrays is not called
    return (a_bar, _sub1_bar)           # not: one array twice
"""

import gast
import numpy as np

from ..syntax import is_comment, walk
from .facts import ANYBOOL, ANYINT, F64S, PYFLOAT, Arr, Known, Scal

_ARITHMETIC = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.FloorDiv, gast.Mod, gast.Pow,
               gast.MatMult)
_NEW = (np.dot, np.matmul, np.where)  # (np.where of three arguments)
_REDUCTION_KEYWORDS = frozenset({"axis", "keepdims", "dtype"})
_SCOPES = (gast.Lambda, gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef,
           gast.GeneratorExp, gast.ListComp, gast.SetComp, gast.DictComp, gast.Global,
           gast.Nonlocal)


def owns_results(fdef, nodes, namespace, constants=None):
    """True when every array ``fdef`` returns is surely new and distinct (see the module
    docstring). ``nodes``: the inference's facts of ``fdef``'s expressions (id -> fact);
    ``namespace``: the code's global names and their objects; ``constants``: names the passes
    bound to objects fixed once the code is compiled (``_ones100``, a row of ones)."""
    body = [s for s in fdef.body if not is_comment(s)]
    if not body or not isinstance(body[-1], gast.Return) or body[-1].value is None:
        return False
    walked = list(walk(fdef))
    if sum(isinstance(n, gast.Return) for n in walked) != 1 or \
            any(isinstance(n, _SCOPES) for n in walked[1:]):
        return False
    names = _returned_names(body[-1].value, namespace)
    if names is None:
        return False
    stored = {n.id for n in walked if isinstance(n, gast.Name) and
              isinstance(n.ctx, (gast.Store, gast.Param))}
    arrays = {k for k, v in (constants or {}).items() if type(v) is np.ndarray and
              k not in stored}
    facts = _Facts(nodes, arrays)
    # which new array each name holds after each top-level statement (one statement runs once):
    # a token per evaluation of an expression that makes one, shared by a name bound to the name
    # that holds it; None for anything else (a parameter, a view, a name a loop binds)
    holds = {}
    for s in body[:-1]:
        if isinstance(s, gast.Assign) and all(isinstance(t, gast.Name) for t in s.targets):
            if isinstance(s.value, gast.Name):
                token = holds.get(s.value.id)
            else:
                token = object() if _fresh(s.value, facts, namespace) else None
            for t in s.targets:
                holds[t.id] = token
            continue
        for n in walk(s):
            if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
                holds[n.id] = None  # (bound or deleted by anything else)
    tokens = [holds.get(name) for name in names]
    return None not in tokens and len({id(t) for t in tokens}) == len(tokens)


class _Facts:
    """The inference's facts of expressions, and for a name bound to a constant array (or an
    item of one: ``_ones256[0]``), numeric."""

    def __init__(self, nodes, arrays):
        self.nodes, self.arrays = nodes, arrays

    def get(self, key):
        return self.nodes.get(key)

    def numeric(self, node):
        if _numeric(self.nodes.get(id(node))):
            return True
        if isinstance(node, gast.Subscript) and isinstance(node.slice, gast.Constant) and \
                type(node.slice.value) is int:
            node = node.value
        return isinstance(node, gast.Name) and node.id in self.arrays


def _returned_names(node, namespace):
    """The names of the (nested) tuple ``node`` returns; None when it holds anything else than
    names, constants and Python floats (``float(a_bar)``: immutable)."""
    if isinstance(node, gast.Name):
        return [node.id]
    if isinstance(node, gast.Constant):
        return []
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and \
            namespace.get(node.func.id) is float and len(node.args) == 1 and not node.keywords:
        return []
    if isinstance(node, gast.Tuple):
        out = []
        for elt in node.elts:
            names = _returned_names(elt, namespace)
            if names is None:
                return None
            out.extend(names)
        return out
    return None


def _numeric(fact):
    return type(fact) in (Arr, Scal) or fact in (PYFLOAT, F64S, ANYINT, ANYBOOL) or \
        (type(fact) is Known and type(fact.value) in (int, float, bool))


def _fresh(value, nodes, namespace):
    """Whether the expression ``value`` surely evaluates to a new array (or an immutable
    scalar: a numpy scalar or a Python number)."""
    fact = nodes.get(id(value))
    if type(fact) is Scal or fact in (PYFLOAT, F64S):
        return True  # (immutable)
    if isinstance(value, gast.BinOp):  # (of arrays and numbers: numpy makes a new array)
        return isinstance(value.op, _ARITHMETIC) and nodes.numeric(value.left) and \
            nodes.numeric(value.right)
    if isinstance(value, gast.UnaryOp):
        return isinstance(value.op, gast.USub) and nodes.numeric(value.operand)
    if not isinstance(value, gast.Call) or any(isinstance(a, gast.Starred) for a in value.args):
        return False
    if isinstance(value.func, gast.Attribute) and value.func.attr == "sum" and \
            type(nodes.get(id(value.func.value))) is Arr:
        return all(k.arg in _REDUCTION_KEYWORDS for k in value.keywords)
    fn = _resolved(value.func, namespace)
    if value.keywords or not all(nodes.numeric(a) for a in value.args):
        return False
    if fn is np.where:
        return len(value.args) == 3
    # (a ufunc given no more arguments than its inputs: np.add(a, b, buf) returns buf)
    return isinstance(fn, np.ufunc) and fn.nout == 1 and len(value.args) <= fn.nin or \
        any(fn is p for p in _NEW) and len(value.args) == 2


def _resolved(node, namespace):
    """The object a name or a chain of attributes of a name (``np.exp``, ``_sd.np.add``) names
    in ``namespace``; None when it is anything else or not found."""
    if isinstance(node, gast.Name):
        return namespace.get(node.id)
    if isinstance(node, gast.Attribute):
        base = _resolved(node.value, namespace)
        if base is not None and type(base).__name__ == "module":
            return getattr(base, node.attr, None)
    return None
