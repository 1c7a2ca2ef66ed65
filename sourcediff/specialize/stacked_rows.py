"""A list of per-pass rows, stacked after the loop, written in place: the rows of a loop whose
count is known when it starts, each made by an elementwise operation of that pass, go straight
into the rows of one array made before the loop, and the stacking after the loop reads that
array's rows as one (a reshape, a view) instead of concatenating the list. Example::

    _rows1 = []                                   _rows1 = _sd.np.empty((_n1, 16, 64), 'float64')
    for _left1 in range(_n1 - 1, -1, -1):         for _left1 in range(_n1 - 1, -1, -1):
        d = h_bar * (1.0 - h * h)                     d = _sd.np.multiply(h_bar, 1.0 - h * h,
        _rows1.append(d)                                                  out=_rows1[_left1])
        ...                                           ...
    s = _sd.stack_rows(_rows1[::-1])              s = _rows1.reshape(-1, 64) if _n1 else []

The concatenation copied every row once more after the loop (about 25 us for 50 rows of
(16, 64) floats) and each pass allocated its row; a pass's row written by ``out=`` costs a view
of the array's row. The values are the same bits: the same ufunc on the same operands, and the
rows in the order the concatenation put them.

Only where that holds whatever the loop does: the list is made empty in the block of the loop,
the loop is ``for c in range(n - 1, -1, -1)`` with ``n`` a pass counter of the function (``n =
0``, ``n = n + 1``: never negative; with no pass the stacking reads ``[]``, as it read the empty
list) or ``for c in range(K)`` with ``K`` a literal above 0, its body jumps
nowhere (no ``break``, ``continue``, ``return``), and appends to the list once, at its top level,
a name the body assigns once before it (at its top level) from an elementwise operator or a
numpy ufunc called without keywords whose facts are a 2-D float array of a known shape; the
list is read nowhere else than by the runtime's stacking helpers after the loop (``stack_rows``,
``add_stacked_products``, ``add_stacked_sums``), all reading it in the same order, and by
``del``. The row is then the array's row itself (a view), as the list held the row itself: a
later write into it is seen by the stacking in both."""

import gast
import numpy as np

from ..syntax import clone, walk
from .buffers import _INPLACE_BINOPS, _INPLACE_UNARY
from .facts import (
    TOP,
    Arr,
    Known,
    _const,
    _literal,
    _load,
    _located,
    _np_call,
    _sd_call,
    _store,
)
from .forward_rows import _reverse_count, _simple_count

_STACKERS = ("stack_rows", "add_stacked_products", "add_stacked_sums")


def rows_in_place(fdef, facts, runtime_names):
    """The lists of ``fdef`` that the conditions above allow written in place; how many."""
    runtime_name = next(iter(runtime_names))
    changed = 0
    for block in _blocks(fdef):
        k = 0
        while k < len(block):
            s = block[k]
            if isinstance(s, gast.For):
                for name in _appended_lists(s):
                    changed += _in_place(fdef, block, block.index(s), name, facts,
                                         runtime_names, runtime_name)
            k += 1
    return changed


def _blocks(node):
    """The statement lists of ``node`` and of every statement in them."""
    for field in ("body", "orelse", "finalbody"):
        stmts = getattr(node, field, None)
        if isinstance(stmts, list) and stmts and isinstance(stmts[0], gast.stmt):
            yield stmts
            for s in list(stmts):
                yield from _blocks(s)


def _append_of(st):
    """``L`` for the statement ``L.append(x)`` with ``x`` a name, else None."""
    if isinstance(st, gast.Expr) and isinstance(st.value, gast.Call):
        call = st.value
        if isinstance(call.func, gast.Attribute) and call.func.attr == "append" and \
                isinstance(call.func.value, gast.Name) and len(call.args) == 1 and \
                not call.keywords and isinstance(call.args[0], gast.Name):
            return call.func.value.id
    return None


def _appended_lists(loop):
    return [n for n in (_append_of(st) for st in loop.body) if n is not None]


def _count(fdef, loop):
    """(the loop's pass count as an expression, whether it runs down) when the count is known
    when the loop starts and never negative; else None."""
    if not (isinstance(loop.target, gast.Name) and not loop.orelse):
        return None
    n = _reverse_count(loop)
    if n is not None:
        return (_load(n), True) if _simple_count(fdef, n) else None
    it = loop.iter
    if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and \
            it.func.id == "range" and len(it.args) == 1 and not it.keywords:
        k = _literal(it.args[0])
        if type(k) is int and k >= 1:
            return _const(k), False
    return None


def _row_maker(loop, name, facts):
    """(index in the body of the statement that makes the appended row, its fact) when the
    body's only mention of ``name`` is its append, the row is a name assigned once in the body,
    at its top level before the append, by an elementwise operation making a new 2-D float
    array of a known shape, or by a copy of such a name (``_matmul2_bar = _add1_bar``, each name
    of the copies assigned once in the body); else None."""
    body = loop.body
    appends = [k for k, st in enumerate(body) if _append_of(st) == name]
    mentions = sum(isinstance(n, gast.Name) and n.id == name for b in body for n in walk(b))
    if len(appends) != 1 or mentions != 1:
        return None
    if any(isinstance(n, (gast.Break, gast.Continue, gast.Return, gast.Yield, gast.YieldFrom))
           for b in body for n in walk(b)):
        return None
    at, row = appends[0], body[appends[0]].value.args[0].id
    while True:
        stores = [n for b in body for n in walk(b) if isinstance(n, gast.Name) and
                  n.id == row and not isinstance(n.ctx, gast.Load)]
        made = [k for k, st in enumerate(body[:at]) if isinstance(st, gast.Assign) and
                len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) and
                st.targets[0].id == row]
        if len(stores) != 1 or len(made) != 1 or loop.target.id == row:
            return None
        at, value = made[0], body[made[0]].value
        if not isinstance(value, gast.Name):
            break
        row = value.id  # (a copy: the row it copies, made before it)
    fact = facts.get(id(value), TOP)
    if not (type(fact) is Arr and len(fact.shape) == 2 and fact.dtype.kind == "f" and
            all(type(d) is int for d in fact.shape) and _ufunc_of(value, facts) is not None):
        return None
    return at, fact


def _ufunc_of(value, facts):
    """The numpy ufunc name an elementwise operator calls, or the ufunc a call without keywords
    calls (one output), else None."""
    if isinstance(value, gast.BinOp):
        return _INPLACE_BINOPS.get(type(value.op))
    if isinstance(value, gast.UnaryOp):
        return _INPLACE_UNARY.get(type(value.op))
    if isinstance(value, gast.Call) and not value.keywords:
        f = facts.get(id(value.func), TOP)
        if type(f) is Known and getattr(f.value, "nout", 0) == 1 and \
                isinstance(f.value, np.ufunc) and len(value.args) == f.value.nin:
            return ""
    return None


def _reads_after(fdef, block, at, name, runtime_names):
    """(the index of ``L = []`` in ``block``, the reads of the list ``name`` after the loop at
    ``block[at]``, whether they read it reversed): each read ``L`` or ``L[::-1]``, an argument
    of a stacking helper (``stack_rows`` the whole value of an assignment in ``block``), as
    (call, argument index, the assignment for a ``stack_rows``); None when the function mentions
    the list anywhere else than there, its ``L = []`` before the loop in ``block``, its append
    and ``del``, or reads it in both orders."""
    inits = [k for k, st in enumerate(block[:at]) if isinstance(st, gast.Assign) and
             len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) and
             st.targets[0].id == name and isinstance(st.value, gast.List) and not st.value.elts]
    if len(inits) != 1:
        return None
    allowed = {id(n) for n in walk(block[inits[0]])} | {id(n) for n in walk(block[at])}
    reads, orders = [], set()
    for st in block[at + 1:]:
        for call in walk(st):
            helper = _sd_call(call, runtime_names)
            if helper not in _STACKERS:
                continue
            for k, arg in enumerate(call.args):
                got = _list_read(arg, name)
                if got is None:
                    continue
                if helper == "stack_rows" and not _stacked_for_helpers(fdef, st, call,
                                                                       runtime_names):
                    return None  # (its result, a list or an array, read by another expression)
                reads.append((call, k, st if helper == "stack_rows" else None))
                orders.add(got)
                allowed.update(id(n) for n in walk(arg))
        if isinstance(st, gast.Delete):
            allowed.update(id(n) for t in st.targets for n in walk(t)
                           if isinstance(t, gast.Name) and t.id == name)
    others = [n for n in walk(fdef) if isinstance(n, gast.Name) and n.id == name and
              id(n) not in allowed]
    if others or not reads or len(orders) != 1:
        return None
    return inits[0], reads, orders.pop()


def _stacked_for_helpers(fdef, st, call, runtime_names):
    """Whether ``st`` is ``s = stack_rows(L)`` with ``s`` read only as an argument of the
    stacking helpers (stack_rows gives a list of fewer than two rows as it is: only they read
    that the same as the rows stacked)."""
    if not (isinstance(st, gast.Assign) and st.value is call and len(call.args) == 1 and
            len(st.targets) == 1 and isinstance(st.targets[0], gast.Name)):
        return False
    s = st.targets[0].id
    helper_args = {id(a) for c in walk(fdef) if _sd_call(c, runtime_names) in _STACKERS
                   for a in c.args}
    deleted = {id(t) for d in walk(fdef) if isinstance(d, gast.Delete) for t in d.targets}
    return all(id(n) in helper_args or id(n) in deleted for n in walk(fdef)
               if isinstance(n, gast.Name) and n.id == s and isinstance(n.ctx, gast.Load))


def _list_read(arg, name):
    """True for ``name[::-1]``, False for ``name``, else None."""
    if isinstance(arg, gast.Name) and arg.id == name:
        return False
    if isinstance(arg, gast.Subscript) and isinstance(arg.value, gast.Name) and \
            arg.value.id == name and isinstance(arg.slice, gast.Slice) and \
            arg.slice.lower is None and arg.slice.upper is None and \
            _literal(arg.slice.step) == -1:
        return True
    return None


def _in_place(fdef, block, at, name, facts, runtime_names, runtime_name):
    loop = block[at]
    count = _count(fdef, loop)
    maker = _row_maker(loop, name, facts) if count is not None else None
    found = _reads_after(fdef, block, at, name, runtime_names) if maker is not None else None
    if found is None:
        return 0
    (n, down), (made, fact), (init, reads, reversed_) = count, maker, found
    c = loop.target.id
    # the list's k-th entry is the k-th pass's row: read reversed, the passes of a loop that
    # runs down land at c; otherwise at n - 1 - c
    index = _load(c) if down == reversed_ else gast.BinOp(
        left=gast.BinOp(left=clone(n), op=gast.Sub(), right=_const(1)), op=gast.Sub(),
        right=_load(c))
    out = gast.Subscript(value=_load(name), slice=index, ctx=gast.Load())
    st = loop.body[made]
    value = st.value
    if isinstance(value, gast.BinOp):
        st.value = _np_call(runtime_name, _ufunc_of(value, facts), [value.left, value.right],
                            name)
    elif isinstance(value, gast.UnaryOp):
        st.value = _np_call(runtime_name, _ufunc_of(value, facts), [value.operand], name)
    else:
        value.keywords = [gast.keyword(arg="out", value=None)]
    st.value.keywords[0].value = out
    del loop.body[[k for k, s in enumerate(loop.body) if _append_of(s) == name][0]]
    shape = gast.Tuple(elts=[clone(n)] + [_const(d) for d in fact.shape], ctx=gast.Load())
    empty = gast.Call(func=gast.Attribute(value=gast.Attribute(
        value=_load(runtime_name), attr="np", ctx=gast.Load()), attr="empty", ctx=gast.Load()),
        args=[shape, _const(fact.dtype.name)], keywords=[])
    del block[init]
    block.insert(block.index(loop), _located(gast.Assign(
        targets=[_store(name)], value=empty, type_comment=None), loop))
    for call, k, assign in reads:
        stacked = gast.Call(func=gast.Attribute(value=_load(name), attr="reshape",
                                                ctx=gast.Load()),
                            args=[_const(-1), _const(fact.shape[1])], keywords=[])
        if isinstance(n, gast.Name):  # (no pass: the empty list the helpers read as none)
            stacked = gast.IfExp(test=clone(n), body=stacked, orelse=gast.List(
                elts=[], ctx=gast.Load()))
        if assign is not None:
            assign.value = stacked  # (a stack_rows of the rows alone: the view)
        else:
            call.args[k] = stacked
    return 1
