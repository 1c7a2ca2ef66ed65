"""Loop passes: products of a loop's rows with an unchanged matrix done once for all rows before
the loop (``_hoist_loop_products``), and the adjoint loop's weight-gradient accumulations stacked
and done as one product after it (``_stack_loop_products``).
"""


import gast
import numpy as np

from ..compiler.emit import is_comment
from ..rules import registry
from ..rules.facts import may_write
from ..syntax import clone, live_stmt, walk
from .buffers import _is_stack_call
from .dicts import _writes_nothing
from .forward_rows import forward_rows, view_of_rows
from .facts import (
    TOP,
    Arr,
    Items,
    Known,
    Scal,
    _const,
    _is_range,
    _literal,
    _load,
    _located,
    _Method,
    _size,
    _store,
)

_STACK_BYTES = 512 * 1024  # per pass and operand: small products, where a call per pass costs most


def _stack_loop_products(fdef, facts, removable, stack_name, runtime_name, share=True):
    """In a loop of the adjoint sweep, a weight gradient accumulated pass by pass from small
    products, ``W_bar = W_bar + h.T @ d``, becomes one product of the stacked ``h`` and ``d`` after
    the loop (the sum over passes of ``h.T @ d`` is ``[h1; h2; ...].T @ [d1; d2; ...]``): one
    BLAS call that runs at full speed instead of one small call per pass. Example::

        Wh_bar = 0.0                                  Wh_bar = 0.0
        for _ in range(_n1):                          _Wh_bar_lhs1 = []
            ...                                       _Wh_bar_rhs1 = []
            Wh_bar = Wh_bar + h.T @ _matmul2_bar      for _ in range(_n1):
            ...                                           ...
                                                          _Wh_bar_lhs1.append(h)
                                                          _Wh_bar_rhs1.append(_matmul2_bar)
                                                          ...
                                                      Wh_bar = _sd.add_stacked_products(Wh_bar,
                                                                   _Wh_bar_lhs1, _Wh_bar_rhs1)

    Only where it is the same sum: ``W_bar`` is read and written nowhere else in the loop, ``h``
    and ``d`` are 2-D float arrays of one shape in every pass (known facts), and nothing in the
    loop writes into an array (no subscript store, no ``out=``, only calls of numpy, of the
    runtime's helpers and of array methods that make new values), so the arrays kept for after
    the loop still hold the values each pass read. The lists hold what the pass would have
    released, so each operand is limited to ``_STACK_BYTES`` per pass; the extra memory is then
    about the per-pass operands of all passes, the size of what the forward sweep saved."""
    stacking = _Stacking(fdef, facts, removable, stack_name, runtime_name, share)
    fdef.body = stacking.visit(fdef.body)
    return stacking.changed


def _fresh(taken, hint):
    """``_<hint>1`` (or the first ``_<hint>k`` not in ``taken``), added to ``taken``."""
    k = 1
    while f"_{hint}{k}" in taken:
        k += 1
    taken.add(f"_{hint}{k}")
    return f"_{hint}{k}"


class _Stacking:
    """One run of _stack_loop_products over a function: its arguments, the names taken and the
    number of accumulations stacked so far."""

    def __init__(self, fdef, facts, removable, stack_name, runtime_name, share):
        self.fdef, self.facts, self.removable = fdef, facts, removable
        self.stack_name, self.runtime_name, self.share = stack_name, runtime_name, share
        self.taken = {n.id for n in walk(fdef) if isinstance(n, gast.Name)}
        self.changed = 0

    def fresh(self, hint):
        """A new name from ``hint``."""
        return _fresh(self.taken, hint)

    def visit(self, stmts):
        """``stmts`` (and the blocks inside them) with each plain adjoint loop's accumulations
        stacked: the lists' initialisations before the loop, the sums after it."""
        out = []
        for s in stmts:
            for field in ("body", "orelse"):
                if isinstance(getattr(s, field, None), list):
                    setattr(s, field, self.visit(getattr(s, field)))
            after = []
            if isinstance(s, gast.For) and _plain_adjoint_pass(s, self.removable, self.facts,
                                                               self.stack_name):
                self.changed += self.stack_in(s, out, after)
            out.append(s)
            out.extend(after)
        return out

    def stack_in(self, loop, out, after):
        """Lists for the accumulations of ``loop``'s body: appends in the body, initial empty
        lists into ``out`` (before the loop), the sums into ``after``. With ``share``, one list
        for every accumulation that reads the same value of a name (no assignment of it between
        them), stacked once after the loop when more than one sum reads it."""
        lists = _LoopLists(loop, self, out)
        start = len(out)
        drop, sums = _stacked_accumulations(loop.body, lists, self)
        if not sums:
            return 0
        views = {}
        if self.share:  # (lists of rows of an array the forward loop read: views of it)
            views = {lists.lists[key]: rows for key, rows in forward_rows(
                self.fdef, loop, list(lists.lists), self.facts).items()}
            out[start:] = [s for s in out[start:] if s.targets[0].id not in views]
            lists.inserts = {k: [s for s in appends if s.value.func.value.id not in views]
                             for k, appends in lists.inserts.items()}
        loop.body = _body_with_appends(loop.body, lists.inserts, drop)
        after.extend(_stacked_sums(loop, sums, lists.uses, self, views))
        return len(sums)


class _LoopLists:
    """The lists of one loop's stacked operands: which value of which name each list holds, how
    many sums read it, and the appends to insert before each statement of the body."""

    def __init__(self, loop, stacking, out):
        self.loop, self.body, self.stacking, self.out = loop, loop.body, stacking, out
        self.stores = [{n.id for n in walk(st) if isinstance(n, gast.Name) and
                        isinstance(n.ctx, gast.Store)} for st in self.body]
        self.lists, self.uses, self.inserts = {}, {}, {}

    def version(self, name, k):
        """How many statements before k assign name."""
        return sum(name in stored for stored in self.stores[:k])

    def origin(self, name, k):
        """The name whose value ``name`` holds at statement k, through plain copies
        (``_matmul1_bar = _add1_bar``) whose source is not assigned again before k."""
        for j in range(k - 1, -1, -1):
            if name in self.stores[j]:
                st = self.body[j]
                if isinstance(st, gast.Assign) and len(st.targets) == 1 and \
                        isinstance(st.targets[0], gast.Name) and \
                        isinstance(st.value, gast.Name) and \
                        self.version(st.value.id, j) == self.version(st.value.id, k):
                    return self.origin(st.value.id, j)
                return name, self.version(name, k)
        return name, self.version(name, k)

    def list_of(self, name, k, hint, st):
        """The list that collects ``name``'s value at statement k (made, with its empty
        initialisation and its append, on first use); one more use of it."""
        key = self.origin(name, k) if self.stacking.share else (name, k, hint)
        lists = self.lists
        if key not in lists:
            lists[key] = self.stacking.fresh(hint)
            self.out.append(_located(gast.Assign(targets=[_store(lists[key])], value=gast.List(
                elts=[], ctx=gast.Load()), type_comment=None), self.loop))
            self.inserts.setdefault(k, []).append(_located(gast.Expr(value=gast.Call(
                func=gast.Attribute(value=_load(lists[key]), attr="append", ctx=gast.Load()),
                args=[_load(name)], keywords=[])), st))
        self.uses[lists[key]] = self.uses.get(lists[key], 0) + 1
        return lists[key]


def _stacked_accumulations(body, lists, stacking):
    """(the indices of the body's statements to drop, the sums to make after the loop) for the
    accumulations of ``body`` that can be stacked, their operands' lists made in ``lists``."""
    facts, removable, share = stacking.facts, stacking.removable, stacking.share
    temps = _product_temps(body, stacking.fdef, removable)
    index = {id(st): k for k, st in enumerate(body)}
    drop, sums = set(), []
    for k, st in enumerate(body):
        found = _product_accumulation(st, facts, removable, temps)
        summed = None if found is not None or not share else \
            _sum_accumulation(st, facts, removable, temps)
        acc = found[0] if found is not None else (summed[0] if summed else None)
        if acc is None or sum(isinstance(n, gast.Name) and n.id == acc
                              for b in body for n in walk(b)) != 2:
            continue
        drop.add(k)
        if summed is not None:
            _, d, keepdims, temp = summed
            at = k
            if temp is not None:  # (appended where the sum was made)
                at = index[id(temps[temp])]
                drop.add(at)
            sums.append((st, acc, "add_stacked_sums",
                         [lists.list_of(d, at, f"{acc}_rows", st)], keepdims))
            continue
        acc, a, b, temp = found
        at = k
        if temp is not None:  # (appended where the product was made)
            at = index[id(temps[temp])]
            drop.add(at)
        lhs = lists.list_of(a, at, f"{acc}_lhs", st)
        rhs = lists.list_of(b, at, f"{acc}_rhs", st)
        sums.append((st, acc, "add_stacked_products", [lhs, rhs], None))
    return drop, sums


def _body_with_appends(body, inserts, drop):
    """``body`` with the appends inserted before their statements and the dropped ones left
    out."""
    new_body = []
    for k, st in enumerate(body):
        new_body.extend(inserts.get(k, []))
        if k not in drop:
            new_body.append(st)
    return new_body


def _stacked_sums(loop, sums, uses, stacking, views):
    """The statements after the loop: one ``stack_rows`` per list that several sums read, then
    each sum of stacked operands into its accumulator. With ``views`` (list -> the rows of an
    array it would hold, forward_rows), every operand is stacked in forward order: those lists
    are the views, the others are reversed (the adjoint loop appended the last pass first)."""
    runtime_name = stacking.runtime_name
    after, stacked = [], {}

    def operand(name):
        if name in views:
            return view_of_rows(*views[name])
        if views:
            return gast.Subscript(value=_load(name), slice=gast.Slice(
                lower=None, upper=None, step=_const(-1)), ctx=gast.Load())
        return _load(name)

    for name, n in uses.items():
        if n > 1 and name not in views:  # one concatenation for every sum that reads these rows
            stacked[name] = stacking.fresh("stacked")
            after.append(_located(gast.Assign(targets=[_store(stacked[name])], value=gast.Call(
                func=gast.Attribute(value=_load(runtime_name), attr="stack_rows",
                                    ctx=gast.Load()),
                args=[operand(name)], keywords=[]), type_comment=None), loop))
    for st, acc, helper, operands, keepdims in sums:
        args = [_load(acc)] + [_load(stacked[o]) if o in stacked else operand(o)
                               for o in operands]
        if keepdims:
            args.append(_const(True))
        after.append(_located(gast.Assign(targets=[_store(acc)], value=gast.Call(
            func=gast.Attribute(value=_load(runtime_name), attr=helper, ctx=gast.Load()),
            args=args, keywords=[]), type_comment=None), st))
    return after


def _sum_accumulation(s, facts, removable, temps=None):
    """(acc, d, keepdims, temp) for ``acc = acc + d.sum(axis=(0,))`` (or ``axis=0``,
    ``keepdims=True``) with ``d`` a small 2-D float array: a bias gradient summed pass by pass;
    or for ``acc = acc + t`` with ``t = d.sum(...)`` one of ``temps``."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and
            isinstance(s.targets[0], gast.Name) and s.targets[0].id in removable):
        return None
    acc, v = s.targets[0].id, s.value
    if not (isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add) and
            isinstance(v.left, gast.Name) and v.left.id == acc):
        return None
    call, temp = v.right, None
    if isinstance(call, gast.Name) and call.id in (temps or {}) and \
            isinstance(temps[call.id].value, gast.Call):
        temp, call = call.id, temps[call.id].value
    if not isinstance(call, gast.Call):
        return None
    if not (isinstance(call.func, gast.Attribute) and call.func.attr == "sum" and
            isinstance(call.func.value, gast.Name) and not call.args):
        return None  # (the array's own method: its fact, below, is an array)
    kw = {k.arg: _literal(k.value) for k in call.keywords}
    if set(kw) - {"axis", "keepdims"} or kw.get("axis") not in (0, (0,)) or \
            kw.get("keepdims", False) not in (True, False):
        return None
    d = facts.get(id(call.func.value), TOP)
    if not (type(d) is Arr and len(d.shape) == 2 and d.dtype.kind == "f" and
            _size(d) * d.dtype.itemsize <= _STACK_BYTES):
        return None
    return acc, call.func.value.id, bool(kw.get("keepdims", False)), temp


_HOIST_BYTES = 16 << 20  # the products of all passes, computed before the loop


def _hoist_loop_products(fdef, facts, removable, stack_name):
    """In a loop ``for t in range(n)`` over the rows of an array ``X`` that the loop does not
    change, a product of row ``t`` with a matrix the loop does not change, ``v = X[t]; m = v @ W``
    (or ``np.dot(v, W)``), becomes one product of all the rows before the loop and a row of it in
    each pass: one BLAS call instead of one small call per pass (what a hand computing ``xs @ Wx``
    for all steps at once does). Example::

        for t in range(_item1):            _XW1 = (xs.reshape(800, 32) @ Wx).reshape(50, 16, 64)
            _item2 = xs[t]                 for t in range(_item1):
            _matmul1 = _item2 @ Wx             _item2 = xs[t]
                                               _matmul1 = _XW1[t]

    Each row of ``X @ W`` is the row's own product (the same sums, by BLAS in one call: ``X`` is
    reshaped to 2-D, as ``X @ W`` of a 3-D ``X`` makes one BLAS call per row). Only
    where: ``n`` is known to be ``X.shape[0]`` (the passes read every row, no more), ``t`` is
    not assigned in the body, ``X`` and ``W`` are names the body does not assign (or ``W`` is
    re-read each pass as an item of a dict argument the code only reads: the same array), both
    are float arrays (``X`` 3-D, ``W`` 2-D), and the body writes into no array (as in
    ``_plain_adjoint_pass``, the stack's appends allowed)."""
    hoisting = _Hoisting(fdef, facts, removable, stack_name)
    fdef.body = _released(hoisting.visit(fdef.body), hoisting.row_reads, stack_name)
    return hoisting.changed


def _released(body, row_reads, stack_name):
    """``body`` (a function's) with the products hoisted out of each of its loops let go after
    it: ``del`` of the products, and ``None`` into the names the loop read rows of them into that
    nothing reads after the loop (a row is a view, which keeps its whole product alive)."""
    saved = {a.id for s in body for c in walk(s) if _is_stack_call(c, stack_name, "append")
             for a in walk(c) if isinstance(a, gast.Name) and a.id != stack_name}
    out, live = [], set()
    for s in reversed(body):
        found = row_reads.get(id(s))
        if found is not None:
            products, rows = found
            dead = sorted(r for r in rows if r not in live and r not in saved)
            if dead:
                out.append(_located(gast.Assign(
                    targets=[_store(r) for r in dead], value=_const(None),
                    type_comment=None), s))
            out.append(_located(gast.Delete(targets=[
                gast.Name(id=p, ctx=gast.Del(), annotation=None, type_comment=None)
                for p in products]), s))
        out.append(s)
        live = live_stmt(s, live)
    out.reverse()
    return out


class _Hoisting:
    """One run of _hoist_loop_products over a function: its arguments, the names taken and the
    number of products hoisted so far."""

    def __init__(self, fdef, facts, removable, stack_name):
        self.facts, self.removable, self.stack_name = facts, removable, stack_name
        self.taken = {n.id for n in walk(fdef) if isinstance(n, gast.Name)}
        self.changed = 0
        self.row_reads = {}  # id(loop) -> (the products hoisted out of it, the names of their rows)

    def fresh(self, hint):
        """A new name from ``hint``, removable."""
        name = _fresh(self.taken, hint)
        self.removable.add(name)
        return name

    def visit(self, stmts):
        """``stmts`` (and the blocks inside them) with each loop over rows preceded by the
        products hoisted out of it."""
        out = []
        for s in stmts:
            for field in ("body", "orelse"):
                if isinstance(getattr(s, field, None), list):
                    setattr(s, field, self.visit(getattr(s, field)))
            if isinstance(s, gast.For) and isinstance(s.target, gast.Name) and not s.orelse \
                    and _is_range(s.iter) and len(s.iter.args) == 1 and \
                    _writes_no_array(s.body, self.facts, self.stack_name):
                out.extend(self.hoist_in(s))
            out.append(s)
        return out

    def hoist_in(self, loop):
        """The products of all rows to compute before ``loop``, each of its statements ``m = v @
        W`` of a row ``v = X[t]`` rewritten to read its row of them."""
        facts, t = self.facts, loop.target.id
        stored = _stored_names(loop.body)
        if t in stored:
            return []
        count = facts.get(id(loop.iter.args[0]), TOP)
        rows, items, before = {}, {}, []  # v -> X (v = X[t]); W -> dict item expression
        for st in loop.body:
            if not (isinstance(st, gast.Assign) and len(st.targets) == 1 and
                    isinstance(st.targets[0], gast.Name)):
                continue
            name, v = st.targets[0].id, st.value
            if len(stored.get(name, ())) != 1:
                continue
            if isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and \
                    isinstance(v.slice, gast.Name) and v.slice.id == t and \
                    v.value.id not in stored:
                x = facts.get(id(v.value), TOP)
                if type(x) is Arr and len(x.shape) == 3 and x.dtype.kind == "f" and \
                        count == Known(x.shape[0]):
                    rows[name] = v.value.id
                continue
            if isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and \
                    isinstance(v.slice, gast.Constant) and v.value.id not in stored and \
                    type(facts.get(id(v.value), TOP)) is Items:
                items[name] = v
                continue
            pair = _hoistable_product(loop, v, facts, rows, items, stored)
            if pair is None:
                continue
            left, right = pair
            w_expr = clone(items[right.id]) if right.id in items else _load(right.id)
            product = self.fresh("rows_product")
            before.append(_located(gast.Assign(
                targets=[_store(product)], value=_rows_matmul(
                    rows[left.id], count.value, facts[id(left)].shape, w_expr,
                    facts[id(right)].shape[1]),
                type_comment=None), loop))
            st.value = gast.Subscript(value=_load(product), slice=_load(t), ctx=gast.Load())
            self.changed += 1
            products, rows_read = self.row_reads.setdefault(id(loop), ([], []))
            products.append(product)
            rows_read.append(name)
        return before


def _rows_matmul(x, n, row_shape, w_expr, m):
    """``(x.reshape(n * r, k) @ W).reshape(n, r, m)``: the product of every row of the 3-D array
    ``x`` (n rows of shape (r, k)) with ``W`` as one 2-D product, one BLAS call (``x @ W`` of a
    3-D ``x`` makes one call per row); each output row is the same sum over ``k``."""
    r, k = row_shape

    def reshape(value, dims):
        return gast.Call(func=gast.Attribute(value=value, attr="reshape", ctx=gast.Load()),
                         args=[_const(d) for d in dims], keywords=[])

    flat = gast.BinOp(left=reshape(_load(x), (n * r, k)), op=gast.MatMult(), right=w_expr)
    return reshape(flat, (n, r, m))


def _stored_names(body):
    """The Name nodes each name is stored by in ``body``: name -> [node, ...]."""
    stored = {}
    for b in body:
        for n in walk(b):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                stored.setdefault(n.id, []).append(n)
    return stored


def _hoistable_product(loop, v, facts, rows, items, stored):
    """(row name, matrix name) when ``v`` is ``row @ W`` (or ``np.dot``, ``np.matmul``) of a row
    of ``rows`` and a matrix the loop does not change, both 2-D of one dtype, and the products
    of all passes fit in ``_HOIST_BYTES``; else None."""
    pair = None
    if isinstance(v, gast.BinOp) and isinstance(v.op, gast.MatMult):
        pair = (v.left, v.right)
    elif isinstance(v, gast.Call) and not v.keywords and len(v.args) == 2 and \
            facts.get(id(v.func), TOP) in (Known(np.dot), Known(np.matmul)):
        pair = tuple(v.args)
    if pair is None or not all(isinstance(p, gast.Name) for p in pair):
        return None
    left, right = pair
    if left.id not in rows or not (right.id not in stored or right.id in items):
        return None
    xf, wf = facts.get(id(left), TOP), facts.get(id(right), TOP)
    big = facts.get(id(v), TOP)
    if not (type(xf) is Arr and type(wf) is Arr and len(xf.shape) == 2 and
            len(wf.shape) == 2 and wf.dtype == xf.dtype and type(big) is Arr):
        return None
    n = facts[id(loop.iter.args[0])].value
    if n * _size(big) * big.dtype.itemsize > _HOIST_BYTES:
        return None
    return left, right


def _writes_no_array(body, facts, stack_name):
    """The statements assign names only and call only code that writes into nothing (numpy, the
    runtime, array methods that make new values, the stack's append and pop, generated code that
    passes _writes_nothing)."""
    for node in (n for b in body for n in walk(b)):
        if isinstance(node, gast.stmt) and not (
                is_comment(node) or isinstance(node, (gast.Pass, gast.If, gast.For)) or
                (isinstance(node, gast.Assign) and len(node.targets) == 1 and
                 isinstance(node.targets[0], gast.Name)) or
                (isinstance(node, gast.Expr) and _is_stack_call(node.value, stack_name, "append"))):
            return False
        if isinstance(node, (gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp,
                             gast.GeneratorExp, gast.Yield, gast.YieldFrom, gast.NamedExpr,
                             gast.While)):
            return False
        if isinstance(node, gast.Call) and not _is_stack_call(node, stack_name, "append") and \
                not _non_writing_call(node, facts, stack_name):
            return False
    return True


def _has_loop_products(fdef):
    """Whether some loop has a statement ``x = x + a.T @ b`` (a candidate for the pass above)."""
    return any(isinstance(s, gast.For) and any(
        isinstance(n, gast.BinOp) and isinstance(n.op, gast.MatMult) and
        isinstance(n.left, gast.Attribute) and n.left.attr == "T" for b in s.body
        for n in walk(b)) for s in walk(fdef))


def _product_temps(body, fdef, removable):
    """Compiler temporaries ``t = h.T @ d`` (or ``t = d.sum(...)``) of a loop body, each stored
    once and read once in the whole function (``acc = acc + t`` may read it later in the body):
    name -> statement."""
    counts = {}
    for n in walk(fdef):
        if isinstance(n, gast.Name):
            counts[n.id] = counts.get(n.id, 0) + 1
    out = {}
    for st in body:
        if isinstance(st, gast.Assign) and len(st.targets) == 1 and \
                isinstance(st.targets[0], gast.Name) and st.targets[0].id in removable and \
                counts.get(st.targets[0].id) == 2 and (
                    (isinstance(st.value, gast.BinOp) and isinstance(st.value.op, gast.MatMult))
                    or (isinstance(st.value, gast.Call) and
                        isinstance(st.value.func, gast.Attribute) and
                        st.value.func.attr == "sum")):
            out[st.targets[0].id] = st
    return out


def _product_accumulation(s, facts, removable, temps=None):
    """(acc, h, d, temp) for ``acc = acc + h.T @ d`` with ``h`` and ``d`` small 2-D float arrays
    of the same rows and dtype (in every pass: the facts of a loop are joined over its passes);
    or for ``acc = acc + t`` with ``t = h.T @ d`` one of ``temps`` (then ``temp`` is ``t``: the
    product's operands are the values they had there)."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and
            isinstance(s.targets[0], gast.Name) and s.targets[0].id in removable):
        return None
    acc, v = s.targets[0].id, s.value
    temp = None
    if isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add) and \
            isinstance(v.right, gast.Name) and v.right.id in (temps or {}) and \
            isinstance(temps[v.right.id].value, gast.BinOp):
        temp = v.right.id
        v = gast.BinOp(left=v.left, op=v.op, right=temps[temp].value)
    if not (isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add) and
            isinstance(v.left, gast.Name) and v.left.id == acc and isinstance(v.right, gast.BinOp)
            and isinstance(v.right.op, gast.MatMult)):
        return None
    left, right = v.right.left, v.right.right
    if not (isinstance(left, gast.Attribute) and left.attr == "T" and
            isinstance(left.value, gast.Name) and isinstance(right, gast.Name)):
        return None
    a, b = facts.get(id(left.value), TOP), facts.get(id(right), TOP)
    if not (type(a) is Arr and type(b) is Arr and len(a.shape) == 2 and len(b.shape) == 2 and
            a.shape[0] == b.shape[0] and a.dtype == b.dtype and a.dtype.kind == "f"):
        return None
    if max(_size(a), _size(b)) * a.dtype.itemsize > _STACK_BYTES:
        return None
    return acc, left.value.id, right.id, temp


def _plain_adjoint_pass(loop, removable, facts, stack_name):
    """``for c in range(...)`` with a compiler-made counter, whose body runs whole (no jump) and
    writes into no array: only assignments to names, branches and loops, calling only numpy, the
    runtime's helpers, array methods that make new values and the stack's ``pop``."""
    if not (isinstance(loop.target, gast.Name) and loop.target.id in removable and
            not loop.orelse and _is_range(loop.iter)):
        return False
    for node in (n for b in loop.body for n in walk(b)):
        if isinstance(node, gast.stmt) and not (
                is_comment(node) or isinstance(node, (gast.Pass, gast.If, gast.For)) or
                (isinstance(node, gast.Assign) and len(node.targets) == 1 and
                 isinstance(node.targets[0], gast.Name))):
            return False
        if isinstance(node, (gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp,
                             gast.GeneratorExp, gast.Yield, gast.YieldFrom, gast.NamedExpr)):
            return False
        if isinstance(node, gast.Call) and not _non_writing_call(node, facts, stack_name):
            return False
    return True


def _non_writing_call(node, facts, stack_name):
    if any(k.arg in (None, "out") for k in node.keywords):
        return False
    func = node.func
    if isinstance(func, gast.Attribute) and func.attr == "pop" and \
            isinstance(func.value, gast.Name) and func.value.id == stack_name and not node.args:
        return True
    f = facts.get(id(func), TOP)
    if type(f) is _Method or (isinstance(func, gast.Attribute) and
                              type(facts.get(id(func.value), TOP)) in (Arr, Scal)):
        return not may_write(func.attr)  # (a method of an array)
    if type(f) is not Known:
        return False
    value = f.value
    if isinstance(value, np.ufunc):
        return True
    if getattr(value, "__sourcediff_fdef__", None) is not None:
        return _writes_nothing(value)  # (a generated forward or backward form)
    module = getattr(value, "__module__", None) or ""
    name = getattr(value, "__name__", "")
    if may_write(name) or (module == "sourcediff.runtime" and registry.facts(value).calls_back):
        return False
    return module.startswith("numpy") or module in ("sourcediff.runtime", "builtins")


_BROADCAST_BYTES = 64 * 1024  # the copy made before the loop, at most

_ELEMENTWISE = (gast.Add, gast.Sub, gast.Mult, gast.Div)


def _materialize_broadcasts(fdef, facts, stack_name, runtime_name):
    """In a top-level loop that writes into no array, an elementwise operator one of whose operands
    is an array the loop does not assign, broadcast to the shape and dtype of the other operand
    and of the result (a bias: ``(16, 64) + (64,)``), reads a copy of it made at that shape once
    before the loop. numpy's broadcasting runs its inner loop once per row: 1.77 us for that
    addition against 0.95 us for two (16, 64) arrays, on every pass. The same numbers are added
    (the same bits). Only for a parameter or a name a top-level statement before the loop
    assigns (it has its value there), and copies of at most ``_BROADCAST_BYTES``."""
    defined = {a.id for a in fdef.args.args if isinstance(a, gast.Name)}
    taken = {n.id for n in walk(fdef) if isinstance(n, gast.Name)}
    body, changed = [], 0
    for s in fdef.body:
        if isinstance(s, gast.For) and not s.orelse and _writes_no_array(s.body, facts, stack_name):
            made = _broadcast_operands(s, facts, defined, taken)
            for (name, shape), copy_name in made.items():
                view = gast.Call(func=gast.Attribute(
                    value=gast.Attribute(value=_load(runtime_name), attr="np", ctx=gast.Load()),
                    attr="broadcast_to", ctx=gast.Load()),
                    args=[_load(name), gast.Tuple(elts=[_const(n) for n in shape],
                                                  ctx=gast.Load())], keywords=[])
                value = gast.Call(func=gast.Attribute(value=view, attr="copy", ctx=gast.Load()),
                                  args=[], keywords=[])
                body.append(_located(gast.Assign(targets=[_store(copy_name)], value=value,
                                                 type_comment=None), s))
                changed += 1
        if isinstance(s, gast.Assign):
            defined.update(n.id for t in s.targets for n in walk(t)
                           if isinstance(n, gast.Name))
        body.append(s)
    fdef.body = body
    return changed


def _broadcast_operands(loop, facts, defined, taken):
    """The operands of ``loop``'s body that _materialize_broadcasts copies, replaced by the names
    of their copies: (name, shape) -> the copy's name."""
    assigned = {n.id for n in walk(loop) if isinstance(n, gast.Name) and
                not isinstance(n.ctx, gast.Load)}
    made = {}
    for node in (n for b in loop.body for n in walk(b)):
        if not (isinstance(node, gast.BinOp) and isinstance(node.op, _ELEMENTWISE)):
            continue
        result = facts.get(id(node), TOP)
        if type(result) is not Arr or result.dtype.kind not in "fc" or \
                _size(result) * result.dtype.itemsize > _BROADCAST_BYTES:
            continue
        for side, other in (("left", node.right), ("right", node.left)):
            operand = getattr(node, side)
            f = facts.get(id(operand), TOP)
            if isinstance(operand, gast.Name) and operand.id in defined and \
                    operand.id not in assigned and type(f) is Arr and f.dtype == result.dtype \
                    and f.shape != result.shape and facts.get(id(other), TOP) == result:
                key = (operand.id, result.shape)
                if key not in made:
                    k = 1
                    while f"_{operand.id}_rows{k}" in taken:
                        k += 1
                    made[key] = f"_{operand.id}_rows{k}"
                    taken.add(made[key])
                setattr(node, side, _load(made[key]))
                break
    return made
