"""Rows a forward loop reads from an array one per pass (``v = X[t]``, ``t`` the pass's index) and
its adjoint loop collects again, pass by pass, for a stacked product after it (loops.py,
``_stack_loop_products``): collected in forward order, those rows are ``X[:n]`` itself, a view
reshaped to 2-D, so the list of them and its concatenation are not needed.
"""

import gast

from ..syntax import walk
from .facts import TOP, Arr, _literal, _load


def forward_rows(fdef, loop, keys, facts):
    """{key: (X, r, k, n)} for the ``keys`` (name, version) of the lists ``loop`` (an adjoint loop
    of ``fdef``'s body) collects whose value in pass ``c`` is row ``c`` of the array ``X`` (shape
    (N, r, k)); ``n`` is the name counting the passes (the adjoint loop runs ``n`` passes, pass
    ``c`` undoing forward pass ``c``). Only where that is certain: both loops are statements of
    the function's body, the forward loop is ``for t in range(N)`` whose first statement counts
    its passes, ``t`` is not assigned in it, and its only assignment of the name is ``v = X[t]``
    (version 0: the value the adjoint pass starts with, the forward pass's last), made in its
    body before any jump out of the pass, with ``X`` a parameter nothing assigns or writes into
    and ``v`` assigned nowhere between the loops."""
    body = fdef.body
    at = next((i for i, s in enumerate(body) if s is loop), None)
    count = _reverse_count(loop)
    if at is None or count is None:
        return {}
    found = next(((j, s) for j, s in reversed(list(enumerate(body[:at])))
                  if isinstance(s, gast.For) and s.body and _counts(s.body[0], count)), None)
    if found is None or not _simple_count(fdef, count):
        return {}
    j, forward = found
    if not (isinstance(forward.target, gast.Name) and not forward.orelse and
            isinstance(forward.iter, gast.Call) and isinstance(forward.iter.func, gast.Name) and
            forward.iter.func.id == "range" and len(forward.iter.args) == 1 and
            not forward.iter.keywords):
        return {}
    t = forward.target.id
    stores = _name_stores(forward.body)
    if t in stores:
        return {}
    between = _name_stores(body[j + 1:at])
    params = {a.id for a in fdef.args.args if isinstance(a, gast.Name)}
    out = {}
    for key in keys:
        name, version = key
        if version != 0 or name in between or len(stores.get(name, ())) != 1:
            continue
        row = _row_read(forward.body, name, t)
        if row is None or row.value.id not in params or _changed(fdef, row.value.id):
            continue
        x = facts.get(id(row.value), TOP)
        if type(x) is Arr and len(x.shape) == 3 and x.dtype.kind == "f":
            out[key] = (row.value.id, x.shape[1], x.shape[2], count)
    return out


def view_of_rows(x, r, k, n):
    """``X[:n].reshape(n * r, k)``: the rows of the first ``n`` passes, stacked."""
    rows = gast.Subscript(value=_load(x), slice=gast.Slice(lower=None, upper=_load(n), step=None),
                          ctx=gast.Load())
    size = gast.BinOp(left=_load(n), op=gast.Mult(), right=gast.Constant(value=r, kind=None))
    return gast.Call(func=gast.Attribute(value=rows, attr="reshape", ctx=gast.Load()),
                     args=[size, gast.Constant(value=k, kind=None)], keywords=[])


def _reverse_count(loop):
    """``n`` for ``for c in range(n - 1, -1, -1)``, else None."""
    it = loop.iter
    if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and
            it.func.id == "range" and len(it.args) == 3 and not it.keywords):
        return None
    first = it.args[0]
    if not (isinstance(first, gast.BinOp) and isinstance(first.op, gast.Sub) and
            isinstance(first.left, gast.Name) and _literal(first.right) == 1 and
            _literal(it.args[1]) == -1 and _literal(it.args[2]) == -1):
        return None
    return first.left.id


def _counts(st, n):
    """Whether ``st`` is ``n = n + 1``."""
    return isinstance(st, gast.Assign) and len(st.targets) == 1 and \
        isinstance(st.targets[0], gast.Name) and st.targets[0].id == n and \
        isinstance(st.value, gast.BinOp) and isinstance(st.value.op, gast.Add) and \
        isinstance(st.value.left, gast.Name) and st.value.left.id == n and \
        _literal(st.value.right) == 1


def _simple_count(fdef, n):
    """``n`` is assigned twice in the function: ``n = 0`` in its body and ``n = n + 1``."""
    stores = [s for s in walk(fdef) if isinstance(s, gast.Assign) and
              any(isinstance(x, gast.Name) and x.id == n for t in s.targets for x in walk(t))]
    others = [x for x in walk(fdef) if isinstance(x, gast.Name) and x.id == n and
              not isinstance(x.ctx, (gast.Load, gast.Store))]
    return len(stores) == 2 and not others and any(
        s in fdef.body and _literal(s.value) == 0 and len(s.targets) == 1 for s in stores)


def _name_stores(stmts):
    out = {}
    for s in stmts:
        for x in walk(s):
            if isinstance(x, gast.Name) and not isinstance(x.ctx, gast.Load):
                out.setdefault(x.id, []).append(x)
    return out


def _row_read(body, name, t):
    """The statement ``name = X[t]`` of ``body`` (the loop's own statements, not nested), if it
    comes before any jump out of the pass; else None."""
    for st in body:
        if isinstance(st, gast.Assign) and len(st.targets) == 1 and \
                isinstance(st.targets[0], gast.Name) and st.targets[0].id == name:
            v = st.value
            if isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and \
                    isinstance(v.slice, gast.Name) and v.slice.id == t:
                return v
            return None
        if any(isinstance(x, (gast.Break, gast.Continue, gast.Return)) for x in walk(st)):
            return None
    return None


def _changed(fdef, x):
    """Whether the function may assign ``x`` or write into it: a store of the name, an item or
    attribute store on it, an augmented assignment, or an ``out=`` argument naming it."""
    for node in walk(fdef):
        if isinstance(node, gast.Name) and node.id == x and \
                not isinstance(node.ctx, (gast.Load, gast.Param)):
            return True
        if isinstance(node, (gast.Subscript, gast.Attribute)) and \
                not isinstance(node.ctx, gast.Load) and \
                any(isinstance(n, gast.Name) and n.id == x for n in walk(node.value)):
            return True
        if isinstance(node, gast.AugAssign) and any(
                isinstance(n, gast.Name) and n.id == x for n in walk(node.target)):
            return True
        if isinstance(node, gast.Call) and any(
                k.arg == "out" and any(isinstance(n, gast.Name) and n.id == x
                                       for n in walk(k.value)) for k in node.keywords):
            return True
    return False


def drop_unread_rows(fdef, removable):
    """``fdef`` without the assignments of compiler names that nothing reads, when each of them
    is ``None`` or a row ``X[t]`` of names (pure: a row read whose stacked product now reads the
    view of its array, its saves on the stack dropped); the number of names dropped."""
    loads, stores = set(), {}
    for node in walk(fdef):
        if isinstance(node, gast.Name):
            if isinstance(node.ctx, gast.Store):
                continue
            loads.add(node.id)
    for node in walk(fdef):
        if isinstance(node, gast.Assign) and any(isinstance(x, gast.Name) and
                                                 isinstance(x.ctx, gast.Store)
                                                 for t in node.targets for x in walk(t)):
            for t in node.targets:
                for x in walk(t):
                    if isinstance(x, gast.Name):
                        stores.setdefault(x.id, []).append(node)
    dead = {n for n, assigns in stores.items() if n in removable and n not in loads and all(
        len(a.targets) == 1 and isinstance(a.targets[0], gast.Name) and _pure_row(a.value)
        for a in assigns)}
    if dead:
        _without(fdef, dead)
    return len(dead)


def _pure_row(v):
    return (isinstance(v, gast.Constant) and v.value is None) or (
        isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and
        isinstance(v.slice, gast.Name))


def _without(node, dead):
    for field in ("body", "orelse"):
        stmts = getattr(node, field, None)
        if isinstance(stmts, list):
            kept = [s for s in stmts if not (isinstance(s, gast.Assign) and
                                             isinstance(s.targets[0], gast.Name) and
                                             s.targets[0].id in dead)]
            for s in kept:
                _without(s, dead)
            stmts[:] = kept or ([gast.Pass()] if stmts else [])
