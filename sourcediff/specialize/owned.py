"""Owned results: whether a specialized gradient's code alone shows that every array it returns
is a new array of its own, so that the entry's copy-or-own step (``runtime.own_arrays``: no
returned gradient may share memory with another, which an in-place update of one would change)
has nothing to do for it and is skipped.

A returned value passes when it is a constant, or a name the function binds exactly once, by a
top-level assignment, to an expression whose result is surely a new array (or an immutable
scalar) by its facts: an arithmetic operator or ``@`` (``x.T @ g``, ``2.0 * d``), a unary
minus, a numpy ufunc called without ``out=`` (``np.exp(z)``), ``np.dot`` or ``np.matmul``, or
an array's ``.sum(...)``. Two such names are two arrays (each evaluation makes its own), and
none is a view: a name bound to another name, to an item, a transpose, a reshape, a helper's
result (``_sd.unreduce`` may return a broadcast view) or a ufunc's ``out=`` buffer does not
pass, and the entry then checks the result at run time as before. Example::

    w2_bar = h.T @ _matmul2_bar         # passes: a new array
    b2_bar = _ones100 @ out_bar         # passes
    h_bar = _matmul2_bar                # does not: it is whatever _matmul2_bar holds
    return (w2_bar, b2_bar)             # owned: own_arrays is not called
"""

import collections

import gast
import numpy as np

from ..syntax import is_comment
from .facts import ANYBOOL, ANYINT, F64S, PYFLOAT, Arr, Known, Scal

_ARITHMETIC = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.FloorDiv, gast.Mod, gast.Pow,
               gast.MatMult)
_PRODUCTS = (np.dot, np.matmul)
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
    walked = list(gast.walk(fdef))
    if sum(isinstance(n, gast.Return) for n in walked) != 1 or \
            any(isinstance(n, _SCOPES) for n in walked[1:]):
        return False
    names = _returned_names(body[-1].value)
    if names is None or len(set(names)) != len(names):
        return False
    stores = collections.Counter(n.id for n in walked if isinstance(n, gast.Name) and
                                 isinstance(n.ctx, (gast.Store, gast.Param)))
    bound = {s.targets[0].id: s.value for s in body if isinstance(s, gast.Assign) and
             len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)}
    arrays = {k for k, v in (constants or {}).items() if type(v) is np.ndarray and not stores[k]}
    return all(stores[name] == 1 and name in bound and
               _fresh(bound[name], _Facts(nodes, arrays), namespace) for name in names)


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


def _returned_names(node):
    """The names of the (nested) tuple ``node`` returns; None when it holds anything else than
    names and constants."""
    if isinstance(node, gast.Name):
        return [node.id]
    if isinstance(node, gast.Constant):
        return []
    if isinstance(node, gast.Tuple):
        out = []
        for elt in node.elts:
            names = _returned_names(elt)
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
    return isinstance(fn, np.ufunc) and fn.nout == 1 or \
        any(fn is p for p in _PRODUCTS) and len(value.args) == 2


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
