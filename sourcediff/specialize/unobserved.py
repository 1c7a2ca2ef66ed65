"""Values the user cannot see: whether a name of a generated function holds a value that reaches
nothing but the gradients the function returns, so that a pass may compute it with other
roundings. products.py writes the user's ``x ** 3`` as ``x * x * x`` only there: pow rounds once
and the products twice, so a loss the function returns, an aux output or an array it stores in a
list the user passed must keep the power's bits, where a gradient may differ from the generic
code's by rounding, as it does after any other rewrite of its arithmetic.

The rule is a taint of names, followed without regard to the order of statements (an
over-approximation): every read of the name, anywhere in the function (the adjoint's reads too),
must go up through operations that make a new value of it and keep nothing to the assignment of a
plain name, whose reads are then followed the same way, or, in a function that returns gradients
only (``sd.grad`` without has_aux), to its one return. The operations: arithmetic operators and
unary minus of numbers and numeric arrays, an item or ``.T`` of such an array, ``.sum()``,
``.dot(w)``, ``np.sum``, ``np.dot``, ``np.matmul``, ``float``, a smooth numpy ufunc (no comparison,
no rounding, no maximum: a branch taken the other way gives another gradient, not another
rounding), the runtime's gradient helpers, a tuple. A ufunc's ``out=`` buffer must be an array the
function made itself (:func:`_own_arrays`); its name and every name that shares its array are
followed too. Anything else (a call that could keep the value: ``lst.append(t)``, a save on the
stack, ``_sd_aux_first``; a store into an item, an attribute or a global; a branch's test; a
nested function or a ``global`` statement anywhere) and the value counts as seen. Example::

    _pow2 = x ** 3                        # read by _mul3 and d_bar only
    _mul3 = d * _pow2                     # -> _add3 -> _sub1 -> the adjoint's names
    _add3 = _sd.np.add(_add2, _mul3, out=_add2)   # (_add2: _mul1's array, made by b * x)
    d_bar = _mul3_bar.dot(_pow2) * 2.0
    return (float(a_bar), ..., float(d_bar))      # sd.grad: only gradients -> unseen
    return (_sum1, (float(a_bar), ...))           # value_and_grad: _sum1 reads it -> seen
"""

import gast
import numpy as np

from ..syntax import is_comment, walk
from .facts import ANYBOOL, ANYINT, F64S, PYFLOAT, TOP, Arr, Known, Scal, _name_uses, _parents

_ARITHMETIC = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.MatMult)
_SCOPES = (gast.Lambda, gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef,
           gast.GeneratorExp, gast.ListComp, gast.SetComp, gast.DictComp, gast.Global,
           gast.Nonlocal)
# numpy's ufuncs whose result moves continuously with their operands (a rounding of an operand
# is a rounding of the result, never another branch)
_SMOOTH = frozenset(getattr(np, n) for n in (
    "add", "subtract", "multiply", "divide", "negative", "positive", "power", "square", "sqrt",
    "cbrt", "reciprocal", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos",
    "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh", "arcsinh", "arccosh",
    "arctanh", "hypot"))
# the runtime's helpers that make a gradient from their arguments and keep none of them
_HELPERS = frozenset({"grad_like", "unbroadcast", "unreduce", "matmul_grad_left",
                      "matmul_grad_right", "add_grads", "dense_grad", "cast_grad", "scatter",
                      "scatter_basic"})


def _numeric(f):
    """A fact of a numeric array or number: numpy's or Python's arithmetic, which makes a new
    value and keeps none."""
    if type(f) is Arr or type(f) is Scal:
        return f.dtype.kind in "biufc"
    return f is PYFLOAT or f is F64S or f is ANYINT or f is ANYBOOL or \
        (type(f) is Known and type(f.value) in (bool, int, float))


class Unobserved:
    """``seen(name)``: False when the value of ``name`` reaches only the gradients ``fdef``
    returns (see the module docstring); ``gradients_only``: ``fdef`` returns nothing else.
    ``facts``: the inference's facts of ``fdef``'s expressions (id -> fact); ``runtime_names``:
    the names of the runtime module in the code."""

    def __init__(self, fdef, facts, runtime_names, gradients_only):
        self.facts, self.runtime_names = facts, runtime_names
        walked = list(walk(fdef))
        self.closed = any(isinstance(n, _SCOPES) for n in walked[1:])
        body = [s for s in fdef.body if not is_comment(s)]
        returns = [n for n in walked if isinstance(n, gast.Return)]
        self.final = body[-1] if gradients_only and len(returns) == 1 and body and \
            body[-1] is returns[0] else None
        self.parents = _parents(fdef)
        self.loads = _name_uses(fdef)[1]
        self.own, self.shared = _own_arrays(walked, self.parents, facts)

    def seen(self, name):
        if self.closed:
            return True
        tainted, pending = {name}, [name]
        while pending:
            for load in self.loads.get(pending.pop(), ()):
                reached = self._follow(load)
                if reached is None:
                    return True
                for n in reached - tainted:
                    tainted.add(n)
                    pending.append(n)
        return False

    def _follow(self, node):
        """The names a value read at ``node`` reaches by the operations of the module docstring
        (a set), or None where it could be seen."""
        reached = set()
        while True:
            parent = self.parents.get(id(node))
            if isinstance(parent, gast.keyword):  # (an out= buffer)
                call = self.parents.get(id(parent))
                if parent.arg != "out" or not self._ufunc(call, reached):
                    return None
                node = call
                continue
            up = self._operation(node, parent, reached)
            if up is None:
                return self._statement(node, parent, reached)
            node = up

    def _operation(self, node, parent, reached):
        """The node whose value is made from ``node``'s by one of the operations, or None."""
        facts = self.facts
        if isinstance(parent, gast.BinOp) and isinstance(parent.op, _ARITHMETIC):
            ok = all(_numeric(facts.get(id(n), TOP)) for n in (parent, parent.left, parent.right))
            return parent if ok else None
        if isinstance(parent, gast.UnaryOp):
            ok = isinstance(parent.op, (gast.USub, gast.UAdd)) and \
                _numeric(facts.get(id(parent), TOP))
            return parent if ok else None
        if isinstance(parent, (gast.Tuple, gast.List)) and isinstance(parent.ctx, gast.Load):
            return parent
        if isinstance(parent, gast.Subscript) and parent.value is node and \
                isinstance(parent.ctx, gast.Load):
            return parent
        if isinstance(parent, gast.Attribute) and isinstance(parent.ctx, gast.Load) and \
                _numeric(facts.get(id(node), TOP)):
            if parent.attr == "T":
                return parent
            call = self.parents.get(id(parent))
            if isinstance(call, gast.Call) and call.func is parent and \
                    _method_reads(parent.attr, call):
                return call
            return None
        if isinstance(parent, gast.Call) and node in parent.args:
            return parent if self._reads(parent, reached) else None
        return None

    def _reads(self, call, reached):
        """Whether ``call`` makes a new value of its positional arguments and keeps none."""
        func = call.func
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
                func.value.id in self.runtime_names and func.attr in _HELPERS:
            return not call.keywords
        if isinstance(func, gast.Attribute) and func.attr == "dot" and \
                _numeric(self.facts.get(id(func.value), TOP)):
            return _method_reads("dot", call)
        f = self.facts.get(id(func), TOP)
        if type(f) is not Known:
            return False
        if f.value is np.sum:
            return len(call.args) <= 2 and {k.arg for k in call.keywords} <= {"axis", "keepdims"}
        if f.value is np.dot or f.value is np.matmul:
            return len(call.args) == 2 and not call.keywords
        if f.value is float:
            return len(call.args) == 1 and not call.keywords
        return self._ufunc(call, reached)

    def _ufunc(self, call, reached):
        """Whether ``call`` is a smooth ufunc's, writing (``out=``) into an array of the
        function's own only; that array's names join ``reached``."""
        f = self.facts.get(id(call.func), TOP) if isinstance(call, gast.Call) else TOP
        if type(f) is not Known or f.value not in _SMOOTH or len(call.args) > f.value.nin or \
                any(k.arg != "out" for k in call.keywords):
            return False
        for k in call.keywords:
            if not (isinstance(k.value, gast.Name) and k.value.id in self.own):
                return False
            reached |= self.shared[k.value.id]
        return True

    def _statement(self, node, parent, reached):
        """Where the value made at ``node`` ends: a plain name assigned it (in ``reached``), a
        statement of a call alone, the return of gradients; else None."""
        if isinstance(parent, gast.Assign) and parent.value is node and \
                len(parent.targets) == 1 and isinstance(parent.targets[0], gast.Name):
            reached.add(parent.targets[0].id)
            return reached
        if isinstance(parent, gast.Expr) and isinstance(node, gast.Call):
            return reached  # (its out= buffer followed: it keeps nothing else)
        if parent is not None and parent is self.final:
            return reached
        return None


def _method_reads(attr, call):
    """``a.sum()``, ``a.sum(axis)``, ``a.sum(axis=..., keepdims=...)`` or ``a.dot(b)``: a new
    value, with no ``out`` argument."""
    if attr == "sum":
        return len(call.args) <= 1 and {k.arg for k in call.keywords} <= {"axis", "keepdims"}
    return attr == "dot" and len(call.args) == 1 and not call.keywords


def _own_arrays(walked, parents, facts):
    """(The names that only ever hold an array, or a number, the function made itself; for each
    name, the names that may share its array.) A name of the function's own is assigned, each
    time, an arithmetic result of numeric facts, a constant, a ufunc's new result, the name of
    another such name, or a ufunc's result written into such a name (``out=``); a parameter, or
    a name bound by anything else (a loop, an unpacking, a call of another function), is not.
    Names share an array through a copy (``u = t``) and an ``out=`` result."""
    sources, other = {}, set()  # name -> the names whose arrays its assignments may hold
    for n in walked:
        if not isinstance(n, gast.Name) or isinstance(n.ctx, (gast.Load, gast.Del)):
            continue
        parent = parents.get(id(n))
        held = _held(parent.value, facts) if isinstance(parent, gast.Assign) and \
            parent.targets == [n] else None
        if held is None:
            other.add(n.id)
        else:
            sources.setdefault(n.id, set()).update(held)
    own = set(sources) - other
    while True:
        dropped = {n for n in own if not sources[n] <= own}
        if not dropped:
            break
        own -= dropped
    shared = {}  # (classes of names joined by a copy or an out=)
    for name in set(sources) | other:
        shared.setdefault(name, {name})
    for name, held in sources.items():
        for m in held:
            joined = shared[name] | shared.setdefault(m, {m})
            for k in joined:
                shared[k] = joined
    return own, shared


def _held(value, facts):
    """The names whose array the assigned ``value`` may be (a set: empty for a new value), or
    None when it may be an array the function did not make."""
    if isinstance(value, gast.Constant):
        return set()
    if isinstance(value, (gast.BinOp, gast.UnaryOp)):
        return set() if _numeric(facts.get(id(value), TOP)) else None
    if isinstance(value, gast.Name):
        return {value.id}
    if isinstance(value, gast.Call):
        f = facts.get(id(value.func), TOP)
        if type(f) is not Known or not isinstance(f.value, np.ufunc) or \
                len(value.args) > f.value.nin or any(k.arg != "out" for k in value.keywords):
            return None
        outs = [k.value for k in value.keywords]
        if not all(isinstance(o, gast.Name) for o in outs):
            return None
        return {o.id for o in outs}
    return None
