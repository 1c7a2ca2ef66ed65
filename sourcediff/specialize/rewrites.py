"""The rewrites the facts allow: runtime helper calls whose outcome is known become plain numpy
(``_Rewriter``), dot-family gradients become matrix products, a seed broadcast that only feeds
elementwise products becomes the scalar, compiler constants are propagated.
"""

import operator

import gast
import numpy as np

from .. import runtime
from ..syntax import walk
from .facts import (
    _BINOPS,
    _F64,
    F64S,
    PYFLOAT,
    TOP,
    Arr,
    FloatOr,
    Known,
    Scal,
    Seq,
    _attr_call,
    _const,
    _elementwise,
    _float64ish,
    _full_standin,
    _parents,
    _pyfloat,
    _scalar_like,
    _sd_call,
    _tuple_const,
)


def _float_leaves(f):
    """A fixed or tuple Seq whose leaves are all float arrays, numpy floats or Python floats (and
    none of it empty: runtime.check_wrt's other cases)."""
    if type(f) is Seq:
        return f.indexable() and bool(f.items) and all(_float_leaves(item) for item in f.items)
    return f is PYFLOAT or (type(f) in (Arr, Scal) and f.dtype.kind == "f")


def _makes_new_array(node, facts):
    """``node`` always evaluates to a new array: an arithmetic operation, or a numpy ufunc called
    without ``out=`` (not a helper that may return one of its arguments)."""
    if isinstance(node, (gast.BinOp, gast.UnaryOp)):
        return True
    f = facts.get(id(node.func), TOP) if isinstance(node, gast.Call) else TOP
    return type(f) is Known and isinstance(f.value, np.ufunc) and not node.keywords


def _numeric(f):
    """Whether a value of fact ``f`` is an array of numbers or a number (not an object array,
    which may hold objects of the user's class: ``compiler/dispatched.py``)."""
    if type(f) is Known:
        return type(f.value) in (int, float, bool)
    return _pyfloat(f) or f is F64S or (type(f) in (Arr, Scal) and f.dtype.kind in "biufc")


class _Rewriter(gast.NodeTransformer):
    def __init__(self, facts, runtime_names):
        self.facts = facts
        self.runtime_names = runtime_names
        self.changed = 0

    def f(self, node):
        return self.facts.get(id(node), TOP)

    def visit_Expr(self, node):
        name = _sd_call(node.value, self.runtime_names)
        if name == "check_wrt" and node.value.args:
            v = self.f(node.value.args[0])
            if v is PYFLOAT or (type(v) in (Arr, Scal) and v.dtype.kind == "f"):
                self.changed += 1
                return None
        if name == "check_wrt" and node.value.args and _float_leaves(self.f(node.value.args[0])):
            self.changed += 1  # (a list or tuple of float arrays and floats)
            return None
        if name == "check_unpack" and len(node.value.args) > 1:
            v, n = self.f(node.value.args[0]), self.f(node.value.args[1])
            if type(v) is Seq and v.indexable() and n == Known(len(v.items)):
                self.changed += 1  # (a list or tuple of as many items as the names)
                return None
        if name == "check_alias" and node.value.args and _scalar_like(self.f(node.value.args[0])):
            self.changed += 1  # a number is immutable: v op= e cannot write into anything
            return None
        if name == "check_alias_item" and len(node.value.args) > 1 and (
                _scalar_like(self.f(node.value.args[0])) or type(self.f(node.value.args[1])) is Arr):
            self.changed += 1  # (a[i] op= e into an array a: the store's own check covers it)
            return None
        if name == "check_real" and node.value.args:
            v = self.f(node.value.args[0])
            if _pyfloat(v) or (type(v) in (Arr, Scal) and v.dtype.kind in "fiub"):
                self.changed += 1  # (a real operand: a real sum)
                return None
        if name == "check_scalar" and node.value.args:
            v = self.f(node.value.args[0])
            if (_scalar_like(v) or (type(v) is Arr and v.shape == ())) and \
                    getattr(getattr(v, "dtype", None), "kind", "f") != "c":  # (complex: refused)
                self.changed += 1
                return None
        self.generic_visit(node)
        return node

    def visit_BinOp(self, node):
        """``t * a + t * b`` is ``t * (a + b)`` (one multiply fewer) when all three are float64:
        forward mode's tangent of ``x * a + np.sin(x)`` becomes ``x_dot * (a + np.cos(x))``. The
        rounding differs from the unfactored form by an ulp, as it would by hand."""
        if isinstance(node.op, gast.MatMult) and _outer_product(self.f(node.left),
                                                                self.f(node.right)):
            self.changed += 1
            node = gast.BinOp(left=node.left, op=gast.Mult(), right=node.right)
        parts = _factorable(node)
        if parts is not None and all(_float64_value(self.f(p)) for p in parts[:3]):
            common, a, b, left = parts
            self.changed += 1
            inner = gast.BinOp(left=a, op=node.op, right=b)
            node = gast.BinOp(left=common, op=gast.Mult(), right=inner) if left else \
                gast.BinOp(left=inner, op=gast.Mult(), right=common)
        self.generic_visit(node)
        if isinstance(node.op, gast.Mult):
            for one, other in ((node.left, node.right), (node.right, node.left)):
                # 1.0 * e of a new float array e (a call, an operation) is e itself: the same
                # numbers, and no name can share e (the scalar seed's x_bar = 1.0 * np.cos(x))
                f = self.f(other)
                if isinstance(one, gast.Constant) and type(one.value) is float and \
                        one.value == 1.0 and type(f) is Arr and f.dtype.kind == "f" and \
                        isinstance(other, (gast.Call, gast.BinOp, gast.UnaryOp)) and \
                        self.f(node) == f and _makes_new_array(other, self.facts):
                    self.changed += 1
                    return other
        return node

    def visit_Call(self, node):
        name = _sd_call(node, self.runtime_names)
        facts = [self.f(a) for a in node.args]
        self.generic_visit(node)
        if name is None or node.keywords:
            return node
        new = getattr(self, "_" + name, lambda *a: None)(node, *facts)
        if new is None:
            return node
        self.changed += 1
        return new

    def _loop_length(self, node, seq, *_):
        if type(seq) is Seq and seq.indexable():  # (a list or tuple of a known length)
            return _const(len(seq.items))
        return None

    def _output_seed(self, node, value, where):
        if (_scalar_like(value) or (type(value) is Arr and value.shape == ())) and \
                getattr(getattr(value, "dtype", None), "kind", "f") != "c":
            return gast.Constant(value=1.0, kind=None)  # (a scalar output: the seed is 1.0)
        return None

    def _real_only(self, node, x, what):
        if _pyfloat(x) or (type(x) in (Arr, Scal) and x.dtype.kind in "fiub"):
            return node.args[0]  # (the check of a value known to be real)
        return None

    def _without_derivative(self, node, ans, what, *operands):
        if all(_numeric(f) for f in operands):
            return node.args[0]  # (numpy's operation on arrays and numbers: no class's method)
        return None

    def _unbroadcast(self, node, g, x):
        arg = node.args[0]
        if (_scalar_like(g) or (type(g) is Arr and g.shape == ())) and \
                (_scalar_like(x) or (type(x) is Arr and x.shape == ())):
            return arg  # (shapes equal: the helper returns g itself, a 0-d array stays one)
        negated = isinstance(arg, gast.UnaryOp) and isinstance(arg.op, gast.USub) and \
            type(g) is Arr and g.dtype.kind == "f" and g.shape != ()
        if negated:  # -(g.sum(...)), not (-g).sum(...): one negation of the sum, not of all of
            arg = arg.operand  # g (the same numbers: a sum of negated values is the negated sum)
        out = self._sums(arg, g, x)
        if out is None or not negated:
            return out
        return gast.UnaryOp(op=gast.USub(), operand=out)

    def _sums(self, arg, g, x):
        """What ``unbroadcast(arg, x)`` computes for ``arg`` of fact ``g``: ``arg`` itself, or the
        sums over the axes broadcasting added to ``x``; None when the facts do not tell."""
        if type(g) is Arr and (_scalar_like(x) or (type(x) is Arr and x.shape == ())):
            return self._dot(arg) or _attr_call(arg, "sum")  # what the helper computes: np.sum(g)
        if type(g) is not Arr or type(x) is not Arr:
            return None
        gs, xs = g.shape, x.shape
        if gs == xs:
            return arg
        if len(gs) < len(xs):
            return None
        lead = len(gs) - len(xs)
        inner = tuple(lead + i for i, n in enumerate(xs) if n == 1 and gs[lead + i] != 1)
        if any(n != gs[lead + i] for i, n in enumerate(xs) if lead + i not in inner):
            return None
        out = arg
        if inner:
            out = _attr_call(out, "sum", keywords=[
                gast.keyword(arg="axis", value=_tuple_const(inner)),
                gast.keyword(arg="keepdims", value=_const(True))])
        if lead:
            out = _attr_call(out, "sum", keywords=[
                gast.keyword(arg="axis", value=_tuple_const(tuple(range(lead))))])
        return out

    def _dot(self, arg):
        """``a * b`` summed to a scalar, with ``a`` and ``b`` vectors of one float dtype and
        length: ``a.dot(b)``, one BLAS dot (one pass, no product array) for the multiply and the
        sum. The gradient of a scalar factor, ``c`` in ``c * x``, is this sum. The sum runs in
        BLAS's order, not numpy's pairwise one (the last bits can differ), as ``_column_sums``'s.
        The method, not ``a @ b``: the same BLAS call (the same bits) without the matmul ufunc's
        dispatch, 1.42 -> 0.93 us at 2,000 float64 elements."""
        if not (isinstance(arg, gast.BinOp) and isinstance(arg.op, gast.Mult)):
            return None
        a, b = self.f(arg.left), self.f(arg.right)
        if not (type(a) is Arr and type(b) is Arr and len(a.shape) == 1 and a == b and
                a.dtype.kind == "f" and a.dtype.itemsize in (4, 8)):
            return None
        return _attr_call(arg.left, "dot", [arg.right])

    def _grad_like(self, node, g, x):
        arg = node.args[0]
        if type(g) is Arr and type(x) is Arr and g == x:
            return arg
        if (_pyfloat(x) or x is F64S) and (_scalar_like(g) or (type(g) is Arr and g.shape == ())):
            # (a numpy float64 argument's gradient is a float64: the helper, not float(g); a
            # value that is a float or a float64 by the path taken, a forward-mode output, is
            # given as a float, which the entry converts to the argument's type)
            return arg if _pyfloat(g) else gast.Call(
                func=gast.Name(id="float", ctx=gast.Load(), annotation=None, type_comment=None),
                args=[arg], keywords=[])  # the helper's float(g)
        return None

    def _add_grads(self, node, a, b):
        """Two float arrays (or numbers) add with ``+``, as the helper adds them; a symbolic zero
        ``0.0`` and an array give the array itself (the helper returns it, no copy)."""
        if all(type(f) is Arr and f.dtype.kind in "fc" or _scalar_like(f) for f in (a, b)) and \
                not (_pyfloat(a) or _pyfloat(b)):
            return gast.BinOp(left=node.args[0], op=gast.Add(), right=node.args[1])
        if a == Known(0.0) and type(b) is Arr:
            return node.args[1]
        if type(a) is FloatOr and type(b) is Arr and a.arr == b:
            # an accumulator that is 0.0 until its first array: ``0.0 + b`` has b's values (a
            # -0.0 of b's becomes 0.0), as for the compiler's own ``x_bar = x_bar + g``
            return gast.BinOp(left=node.args[0], op=gast.Add(), right=node.args[1])
        if b == Known(0.0) and type(a) is Arr:
            return node.args[0]
        return None

    def _cast_grad(self, node, g, ans):
        if _pyfloat(ans) or (type(ans) in (Arr, Scal) and ans.dtype.kind in "fc"):
            return node.args[0]  # (a result of floats: the helper returns g)
        return None

    def _dense_grad(self, node, g, ans):
        return node.args[0] if type(g) is Arr else None  # only the symbolic zero changes

    def _broadcast_tangent(self, node, t, ans):
        if (_scalar_like(t) and _scalar_like(ans)) or (type(t) is Arr and t == ans) or (
                type(t) is Arr and type(ans) is Arr and t.shape == ans.shape):
            return node.args[0]
        return None

    def _matmul_grad_left(self, node, g, x, y):
        if type(g) is Arr and type(x) is Arr and type(y) is Arr and len(x.shape) == 2 and \
                len(y.shape) == 2:
            return gast.BinOp(left=node.args[0], op=gast.MatMult(),
                              right=gast.Attribute(value=node.args[2], attr="T", ctx=gast.Load()))
        return None

    def _matmul_grad_right(self, node, g, x, y):
        if type(g) is Arr and type(x) is Arr and type(y) is Arr and len(x.shape) == 2 and \
                len(g.shape) == len(y.shape) and len(y.shape) in (1, 2):
            return gast.BinOp(left=gast.Attribute(value=node.args[1], attr="T", ctx=gast.Load()),
                              op=gast.MatMult(), right=node.args[0])
        return None

    def _dot_subscripts(self, node, *facts):
        value = self.f(node)  # the subscripts string, known from the operands' dimensions
        return _const(value.value) if type(value) is Known and type(value.value) is str else None

    _inner_subscripts = _tensordot_subscripts = _dot_subscripts

    def _dot_grad_left(self, node, g, sub, x, y):
        if _dot_2d(g, sub, x, y):  # what the helper computes for these: g @ y.T
            return gast.BinOp(left=node.args[0], op=gast.MatMult(),
                              right=gast.Attribute(value=node.args[3], attr="T", ctx=gast.Load()))
        return None

    def _dot_grad_right(self, node, g, sub, x, y):
        if _dot_2d(g, sub, x, y):  # x.T @ g
            return gast.BinOp(left=gast.Attribute(value=node.args[2], attr="T", ctx=gast.Load()),
                              op=gast.MatMult(), right=node.args[0])
        return None

    def _reduced_count(self, node, x, *rest):
        if type(x) is Arr and all(type(r) is Known for r in rest):
            try:  # (an axis x does not have: a branch the call does not take)
                return _const(runtime.reduced_count(_full_standin(x), *[r.value for r in rest]))
            except Exception:  # noqa: BLE001
                return None
        return None


def _dot_2d(g, sub, x, y):
    """A gradient of 2-D np.dot (or tensordot over one axis) with known shapes: a matrix product."""
    return type(sub) is Known and sub.value == "ab,bd->ad" and type(g) is Arr and \
        type(x) is Arr and type(y) is Arr and len(x.shape) == 2 and len(y.shape) == 2


def _outer_product(a, b):
    """True for ``a @ b`` that sums one product per entry, ``(n, 1) @ (1, m)`` (also batched), of
    floats of one dtype: ``a * b`` broadcasts to the same array with the same values, without a
    matrix product's call into BLAS (``g @ w2.T`` for a one-column ``w2``, at (100, 1) @ (1, 32), is
    faster as a broadcast multiply)."""
    return type(a) is Arr and type(b) is Arr and len(a.shape) >= 2 and len(b.shape) >= 2 and \
        a.shape[-1] == 1 and b.shape[-2] == 1 and a.dtype == b.dtype and a.dtype.kind in "fc"


def _float64_value(f):
    return _float64ish(f) or (type(f) is Arr and f.dtype == _F64)


def _factorable(node):
    """(common name, a, b, common-on-the-left) for ``t * a + t * b`` (the product of floats
    commutes exactly, so ``a * t - t * b`` too)."""
    if not (isinstance(node.op, (gast.Add, gast.Sub)) and
            all(isinstance(side, gast.BinOp) and isinstance(side.op, gast.Mult)
                for side in (node.left, node.right))):
        return None
    l, r = node.left, node.right
    for t1, a in ((l.left, l.right), (l.right, l.left)):
        for t2, b in ((r.left, r.right), (r.right, r.left)):
            if isinstance(t1, gast.Name) and isinstance(t2, gast.Name) and t1.id == t2.id:
                return t1, a, b, t1 is l.left
    return None


def _scalar_seeds(fdef, facts, runtime_names):
    """``v = _sd.unreduce(s, x, None, False)`` (or with keepdims), where every use of ``v`` is a
    factor of an elementwise product that has ``x``'s shape (and dtype) whether ``v`` is broadcast
    or not: ``v = s`` gives the same values without materializing the broadcast."""
    assigns = {}
    for node in walk(fdef):
        if isinstance(node, gast.Assign):
            for t in node.targets:
                for n in walk(t):
                    if isinstance(n, gast.Name):
                        assigns.setdefault(n.id, []).append(node)
    parents = _parents(fdef)
    loads = {}
    for node in walk(fdef):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            loads.setdefault(node.id, []).append(node)
    changed = 0
    for name, stmts in assigns.items():
        if len(stmts) != 1 or len(stmts[0].targets) != 1 or \
                not isinstance(stmts[0].targets[0], gast.Name):
            continue
        call = stmts[0].value
        if _sd_call(call, runtime_names) != "unreduce" or call.keywords or len(call.args) != 4:
            continue
        s, x = facts.get(id(call.args[0]), TOP), facts.get(id(call.args[1]), TOP)
        axis, keepdims = [facts.get(id(a), TOP) for a in call.args[2:]]
        if s is TOP or type(x) is not Arr or \
                not (axis == Known(None) or keepdims == Known(True)):
            continue  # (without keepdims, an axis reduction's gradient needs its axes back)
        if not all(_product_keeps(use, s, x, facts, parents)
                   for use in loads.get(name, ())) or not loads.get(name):
            continue
        stmts[0].value = call.args[0]
        changed += 1
    return changed


def _product_keeps(use, seed, x, facts, parents):
    """True when ``use`` (a load of the seed) sits in a chain of products whose top has the seed's
    broadcast shape both with the broadcast seed and with the plain scalar."""
    node, top = use, None
    while True:
        parent = parents.get(id(node))
        if isinstance(parent, gast.BinOp) and (isinstance(parent.op, gast.Mult) or (
                isinstance(parent.op, gast.Div) and parent.left is node)):
            node = top = parent
            continue
        if _is_scaled_sigmoid(parent) and parent.args[0] is node:  # g times a sigmoid
            node = top = parent
            continue
        break
    if top is None:
        return False
    before = facts.get(id(top), TOP)
    if type(before) is not Arr or before.shape != x.shape:
        return False
    return _reevaluate(top, use, seed, facts) == before


def _reevaluate(node, seed_use, seed, facts):
    """The fact of a product chain with the seed's load taken as the unbroadcast seed."""
    if node is seed_use:
        return seed
    if isinstance(node, gast.BinOp) and isinstance(node.op, (gast.Mult, gast.Div)):
        a = _reevaluate(node.left, seed_use, seed, facts)
        b = _reevaluate(node.right, seed_use, seed, facts)
        return _elementwise(_BINOPS[type(node.op)], [a, b])
    if _is_scaled_sigmoid(node):
        a = _reevaluate(node.args[0], seed_use, seed, facts)
        return _elementwise(operator.mul, [a, facts.get(id(node.args[1]), TOP)])
    return facts.get(id(node), TOP)


def _is_scaled_sigmoid(node):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
        node.func.attr == "scaled_sigmoid" and len(node.args) == 2 and not node.keywords


def _propagate_constants(fdef, removable):
    """Compiler names assigned once, at the top level, to a number: use the number instead."""
    counts = {}
    for node in walk(fdef):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
            counts[node.id] = counts.get(node.id, 0) + 1
    values = {}
    for s in fdef.body:
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], gast.Name) and s.targets[0].id in removable and \
                counts.get(s.targets[0].id) == 1 and isinstance(s.value, gast.Constant) and \
                type(s.value.value) in (int, float):
            values[s.targets[0].id] = s.value.value

    if not values:
        return False

    class Sub(gast.NodeTransformer):
        def visit_Name(self, node):
            if isinstance(node.ctx, gast.Load) and node.id in values:
                return _const(values[node.id])
            return node

    Sub().visit(fdef)
    fdef.body = [s for s in fdef.body if not (isinstance(s, gast.Assign) and isinstance(
        s.targets[0], gast.Name) and s.targets[0].id in values)]
    return True


_FILL_MAX = 4096  # (runtime.unreduce's own bound for filling rather than broadcasting)


def known_fills(fdef, facts, runtime_names):
    """``_sd.unreduce(s, x, None, keepdims)`` of a known float ``s`` (the mean's seed ``-1.0 /
    256``) and an array ``x`` of at most 4,096 elements: what the helper computes for these,
    ``np.full(x.shape, s, dtype)``, written out, so that ``x`` is no longer read for its shape
    (an array the forward made only for this goes with the dead code after). A SETTLE pass would
    take its case from the scalar seeds (which leave the scalar itself, cheaper still): this runs
    once, after them."""
    changed = 0
    runtime_name = next(iter(runtime_names))

    class Fills(gast.NodeTransformer):
        def visit_Call(self, node):
            nonlocal changed
            self.generic_visit(node)
            if _sd_call(node, runtime_names) != "unreduce" or node.keywords or \
                    len(node.args) not in (2, 3, 4):
                return node
            out, s, x = (facts.get(id(n), TOP) for n in (node, node.args[0], node.args[1]))
            rest = [facts.get(id(a), TOP) for a in node.args[2:]]
            seed = (type(s) is Known and type(s.value) is float) or \
                (type(s) is Scal and s.dtype.kind == "f")
            if not seed or type(x) is not Arr or type(out) is not Arr or out.shape != x.shape or \
                    not x.shape or int(np.prod(x.shape)) > _FILL_MAX or \
                    rest[:1] not in ([], [Known(None)]) or \
                    any(type(r) is not Known or type(r.value) is not bool for r in rest[1:]):
                return node
            changed += 1
            func = gast.Attribute(value=gast.Attribute(value=gast.Name(
                id=runtime_name, ctx=gast.Load(), annotation=None, type_comment=None), attr="np",
                ctx=gast.Load()), attr="full", ctx=gast.Load())
            return gast.Call(func=func, args=[_tuple_const(out.shape), node.args[0],
                                              _const(out.dtype.name)], keywords=[])

    fdef.body = [Fills().visit(s) for s in fdef.body]
    return changed
