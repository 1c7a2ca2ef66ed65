"""Summed products as one ``einsum``: a sum over some axes of a product of arrays that broadcast
against each other, one of them often a gradient spread along an axis it was summed over
(``_sd.unreduce(g, x, 2, False)``), is computed by ``np.einsum`` over the operands as they are,
with no array of the product's full shape made::

    _mul2_bar = _sd.unreduce(_sum1_bar, _mul2, 2, False)      (N, K, D) from (N, K)
    inv_var_bar = (_mul2_bar * _pow1).sum(axis=(0,))           (K, D)
        ->  inv_var_bar = _sd.np.einsum('ab,abc->bc', _sum1_bar, _pow1)

A factor constant along the summed axes (``inv_var`` of shape (K, D) in a sum over N, a number)
multiplies the einsum's result instead of each term. The product is followed through names
assigned from products that this sum alone reads, so a chain ``p = u * b``, ``q = p * 2 * d``,
``q.sum(axis=0)`` is one einsum. einsum adds the terms in another order than the product's sum
(and the factors moved out of it are applied once to the sum): the result can differ in the last
bits, as the einsums of a careful hand's gradient would.
"""

import gast
import numpy as np

from .facts import TOP, Arr, Known, Scal, _const, _literal, _load, _name_uses, may_write
from ..syntax import walk

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _sum_call(node, facts):
    """(summed expression, axes literal node or None, keepdims) of ``E.sum(axis=...)`` or
    ``np.sum(E, axis=...)``, else None."""
    if not isinstance(node, gast.Call):
        return None
    func, args = node.func, list(node.args)
    if facts.get(id(func), TOP) == Known(np.sum):
        pass
    elif isinstance(func, gast.Attribute) and func.attr == "sum" and \
            type(facts.get(id(func.value), TOP)) is Arr:
        args.insert(0, func.value)
    else:
        return None
    kw = {k.arg: k.value for k in node.keywords}
    if len(args) == 2 and "axis" not in kw:
        kw["axis"] = args.pop()
    if len(args) != 1 or set(kw) - {"axis", "keepdims"} or "axis" not in kw:
        return None
    keepdims = _literal(kw["keepdims"]) if "keepdims" in kw else False
    if keepdims not in (True, False):
        return None
    return args[0], _literal(kw["axis"]), bool(keepdims)


def _axes(axis, rank):
    """The summed axes as a sorted tuple of non-negative ints, else None."""
    if isinstance(axis, int) and not isinstance(axis, bool):
        axis = (axis,)
    if not isinstance(axis, tuple) or not axis or \
            not all(isinstance(a, int) and not isinstance(a, bool) for a in axis):
        return None
    out = tuple(sorted({a % rank for a in axis if -rank <= a < rank}))
    return out if len(out) == len(axis) else None


class _Chain:
    """The factors of one summed product: the arrays (expression, positions in the full shape,
    shape) and the numbers, found by following the names that hold products."""

    def __init__(self, facts, defs, loads, stored, runtime_names, full, dtype, at):
        self.facts, self.defs, self.loads, self.stored = facts, defs, loads, stored
        self.runtime_names, self.full, self.dtype, self.at = runtime_names, full, dtype, at
        self.arrays, self.numbers, self.spread = [], [], False
        self.writes = self.compound = ()

    def _same_here(self, name, where):
        """Whether ``name`` read in statement ``where`` holds the same value in the sum's
        statement (no statement from ``where`` to it assigns the name or calls a function that
        could write into an array: see ``_writes``). The sum's own statement counts too when
        ``where`` is an earlier one: an ``if`` holding the sum can assign the name before it (a
        stack pop of a value its branch overwrote), a call in it can run before the sum."""
        if where >= self.at:
            return True
        if self.writes[self.at] or self.compound[self.at] and name in self.stored[self.at]:
            return False
        return all(name not in self.stored[k] and not self.writes[k]
                   for k in range(where, self.at))

    def add(self, node, where=None):
        """Collect the factors of ``node`` (read in statement ``where``: the sum's by default);
        False when one is not an array or number it knows."""
        where = self.at if where is None else where
        if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult):
            return self.add(node.left, where) and self.add(node.right, where)
        if isinstance(node, gast.Constant):
            if type(node.value) not in (int, float):
                return False
            self.numbers.append(node)
            return True
        f = self.facts.get(id(node), TOP)
        if isinstance(node, gast.Name) and node.id in self.defs and \
                self._same_here(node.id, where):
            k, value = self.defs[node.id]
            if _unreduce(value, self.runtime_names) and self._spread(node, value, k):
                return True
            if len(self.loads.get(node.id, ())) == 1 and isinstance(value, gast.BinOp) and \
                    isinstance(value.op, gast.Mult):
                return self.add(value, k)
        if isinstance(node, gast.Name) and not self._same_here(node.id, where):
            return False
        if type(f) is Scal and f.dtype.kind == "f" or type(f) is Known and \
                type(f.value) in (int, float):
            self.numbers.append(node)
            return True
        if not (isinstance(node, gast.Name) and type(f) is Arr and
                f.dtype == self.dtype and len(f.shape) <= len(self.full)):
            return False
        lead = len(self.full) - len(f.shape)
        if any(s not in (1, self.full[lead + k]) for k, s in enumerate(f.shape)):
            return False
        self.arrays.append((node, tuple(range(lead, len(self.full))), f.shape))
        return True

    def _spread(self, node, call, where):
        """``_sd.unreduce(g, x, axis, keepdims)`` of a known ``g``: the factor is ``g`` itself, at
        the positions of the full shape other than ``axis`` (at all, of size 1 along ``axis``,
        with keepdims)."""
        g, axis = call.args[0], _literal(call.args[2])
        fg, fu = self.facts.get(id(g), TOP), self.facts.get(id(node), TOP)
        if not (isinstance(g, gast.Name) and self._same_here(g.id, where) and type(fg) is Arr and
                type(fu) is Arr and fu.shape == self.full and fg.dtype == self.dtype):
            return False
        axes = _axes(axis, len(self.full))
        if axes is None:
            return False
        if _literal(call.args[3]):  # (keepdims: g has the full rank, 1 along the axes)
            kept = tuple(range(len(self.full)))
            shape = tuple(1 if k in axes else n for k, n in enumerate(self.full))
        else:
            kept = tuple(k for k in range(len(self.full)) if k not in axes)
            shape = tuple(self.full[k] for k in kept)
        if fg.shape != shape:
            return False
        self.arrays.append((_load(g.id), kept, fg.shape))
        self.spread = True
        return True


def _writes(stmt, facts, runtime_names):
    """Whether the statement calls something that might write into an array it is given."""
    return any(isinstance(node, gast.Call) and may_write(node, facts, runtime_names)
               for node in walk(stmt))


def _unreduce(value, runtime_names):
    return isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
        isinstance(value.func.value, gast.Name) and value.func.value.id in runtime_names and \
        value.func.attr == "unreduce" and len(value.args) == 4 and not value.keywords and \
        _literal(value.args[3]) in (True, False)


def _einsum(chain, axes, keepdims, runtime_name):
    """The expression of the chain's sum over ``axes``: one einsum of the factors that vary along
    them, times the factors that do not; None when no factor is spread or broadcast (a product
    of arrays of the full shape is left to numpy)."""
    full = chain.full
    out = [k for k in range(len(full)) if k not in axes]
    inside, outside = [], []
    for node, pos, shape in chain.arrays:
        suffix = tuple(out[len(out) - len(pos):]) if len(pos) <= len(out) else None
        if not set(pos) & set(axes) and pos == suffix and shape == tuple(full[k] for k in pos):
            outside.append(node)
        else:
            inside.append((node, pos))
    if set(out) - {k for _, pos in inside for k in pos}:  # (the output's every axis from inside)
        inside, outside = [(n, p) for n, p, _ in chain.arrays], []
    if not inside or not (chain.spread or any(s != tuple(full[k] for k in pos)
                                              for _, pos, s in chain.arrays)):
        return None
    spec = ",".join("".join(_LETTERS[k] for k in pos) for _, pos in inside) + "->" + \
        "".join(_LETTERS[k] for k in out)
    func = gast.Attribute(value=gast.Attribute(value=_load(runtime_name), attr="np",
                                               ctx=gast.Load()), attr="einsum", ctx=gast.Load())
    expr = gast.Call(func=func, args=[_const(spec)] + [n for n, _ in inside], keywords=[])
    for factor in outside + chain.numbers:
        expr = gast.BinOp(left=expr, op=gast.Mult(), right=factor)
    if keepdims:
        shape = gast.Tuple(elts=[_const(1 if k in axes else full[k]) for k in range(len(full))],
                           ctx=gast.Load())
        expr = gast.Call(func=gast.Attribute(value=expr, attr="reshape", ctx=gast.Load()),
                         args=[shape], keywords=[])
    return expr


def summed_products(fdef, facts, runtime_names):
    """Rewrite the function's top-level sums of products into einsums (see the module's text).
    Only in straight-line code that writes into no array (no loop, no augmented assignment, no
    subscript or attribute store, no ``out=``), and a name is read in the sum in place of an
    earlier statement only when no statement between assigns it: then it holds the same values
    there. A name whose product is inlined is assigned once and read once."""
    stores, loads = _name_uses(fdef)
    for node in walk(fdef):
        if isinstance(node, (gast.AugAssign, gast.For, gast.While, gast.With, gast.Try)) or \
                isinstance(node, gast.keyword) and node.arg == "out" or \
                isinstance(node, (gast.Subscript, gast.Attribute)) and \
                not isinstance(node.ctx, gast.Load):
            return 0
    once = {n for n, k in stores.items() if k == 1}
    defs = {s.targets[0].id: (k, s.value) for k, s in enumerate(fdef.body)
            if isinstance(s, gast.Assign) and len(s.targets) == 1 and
            isinstance(s.targets[0], gast.Name) and s.targets[0].id in once}
    stored = [{n.id for n in walk(s) if isinstance(n, gast.Name) and
               not isinstance(n.ctx, gast.Load)} for s in fdef.body]
    writes = [_writes(s, facts, runtime_names) for s in fdef.body]
    compound = [not isinstance(s, (gast.Assign, gast.Expr, gast.Return)) or
                any(isinstance(n, gast.NamedExpr) for n in walk(s)) for s in fdef.body]
    runtime_name = next(iter(runtime_names))
    changed = 0
    at = 0

    class Sums(gast.NodeTransformer):
        def visit_Call(self, node):
            nonlocal changed
            self.generic_visit(node)
            found = _sum_call(node, facts)
            full = facts.get(id(found[0]), TOP) if found else TOP
            if type(full) is not Arr or full.dtype.kind != "f" or \
                    not 1 <= len(full.shape) <= len(_LETTERS):
                return node
            axes = _axes(found[1], len(full.shape))
            chain = _Chain(facts, defs, loads, stored, runtime_names, full.shape, full.dtype, at)
            chain.writes, chain.compound = writes, compound
            if axes is None or not chain.add(found[0]):
                return node
            expr = _einsum(chain, axes, found[2], runtime_name)
            if expr is None:
                return node
            changed += 1
            return expr

    for at, s in enumerate(list(fdef.body)):
        fdef.body[at] = Sums().visit(s)
    return changed
