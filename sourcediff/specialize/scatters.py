"""Picked scatters: the gradient of ``a[np.arange(n), j]`` (one entry picked from each row, the
cross-entropy's ``logp[np.arange(n), labels]``) is ``S = _sd.scatter_basic(g, a, (r, j))``, an
array of ``a``'s shape that is zero except ``g[i]`` at ``(i, j[i])``. The adjoint then reads
``S`` in two ways this pass computes without the zeros:

* a sum of ``S`` over every axis but the picked one (``lse_bar = -S.sum(axis=(1,),
  keepdims=True)``, the log-sum-exp's share) is ``g`` itself, reshaped: each row of ``S`` holds
  one entry ``g[i]`` and zeros, whose sum is ``g[i]`` exactly (adding zeros rounds nothing);
* ``T = S + Y`` (or ``Y + S``, ``Y - S``) with ``Y`` a new array nothing else reads (an operation,
  or the name of one read only there) becomes ``T = Y; T[r, j] = T[r, j] + g``: at the picked
  entries ``Y + g[i]``, the same sum, elsewhere ``Y`` (the code before added a zero), with no
  array of zeros made, filled and added.

Why the picked entries are distinct: one index component is ``np.arange(n)`` with ``n`` the
length of its axis and every component an integer array of shape ``(n,)``, so entry ``i`` is the
only one in its row; ``np.add.at`` (what the helper runs for such an index) then writes each
value once, as the plain indexed store does. Checked before anything changes: ``a``, ``g`` and
``S`` arrays of known shapes (``g`` of ``S``'s float dtype and of shape ``(n,)``), the arange
name stored once and read only as an index (nothing can write into it), ``S`` read (through plain
copies ``M = S``) only by such sums and, for the add, once more by the add; ``g`` and the index
names stored nowhere after the scatter and no statement between the scatter and its last use
writing into an array (only assignments to names, of operations, array methods that make new
arrays and numpy functions without ``out=``). Anything else: no change.
"""

import gast
import numpy as np

from ..syntax import clone, is_comment, replace_node, walk
from .buffers import _fresh
from .facts import (
    TOP,
    Arr,
    Known,
    _attr_call,
    _load,
    _name_uses,
    _parents,
    _sd_call,
    _store,
    _tuple_const,
    may_write,
)
from .shifts import _sum_of


def _scatter_of(s, facts, runtime_names):
    """(target, g, index names, picked axis, the scatter's fact) of ``t = _sd.scatter_basic(g, a,
    (i0, i1, ...))`` (or ``_sd.scatter``) whose index picks one entry per row along some axis
    (the arange of that axis is checked by the caller), else None."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and
            isinstance(s.targets[0], gast.Name)):
        return None
    call = s.value
    if _sd_call(call, runtime_names) not in ("scatter_basic", "scatter") or call.keywords or \
            len(call.args) != 3 or not isinstance(call.args[0], gast.Name) or \
            not isinstance(call.args[2], gast.Tuple):
        return None
    out, a, g = (facts.get(id(n), TOP) for n in (call, call.args[1], call.args[0]))
    parts = call.args[2].elts
    if type(out) is not Arr or type(a) is not Arr or type(g) is not Arr or \
            out.shape != a.shape or len(parts) != len(a.shape) or len(a.shape) < 2 or \
            out.dtype.kind not in "fc" or g.dtype != out.dtype or len(g.shape) != 1:
        return None
    n = g.shape[0]
    for p in parts:
        f = facts.get(id(p), TOP)
        if not (isinstance(p, gast.Name) and type(f) is Arr and f.dtype.kind in "iu" and
                f.shape == (n,)):
            return None
    return s.targets[0].id, call.args[0].id, [p.id for p in parts], out


def _is_arange(body, name, n, facts, stores, loads, parents, runtime_names):
    """True when ``name`` is stored once, at the top level, as ``np.arange(n)``, and read only
    as a component of an index (of a subscript or a scatter), so that nothing writes into it."""
    if stores.get(name) != 1:
        return False
    for s in body:
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], gast.Name) and s.targets[0].id == name:
            v = s.value
            if not (isinstance(v, gast.Call) and facts.get(id(v.func), TOP) == Known(np.arange)
                    and len(v.args) == 1 and not v.keywords and
                    facts.get(id(v.args[0]), TOP) == Known(n)):
                return False
            break
    else:
        return False
    for use in loads.get(name, ()):
        tup = parents.get(id(use))
        holder = parents.get(id(tup))
        if not isinstance(tup, gast.Tuple) or not (
                (isinstance(holder, gast.Subscript) and holder.slice is tup) or
                (_sd_call(holder, runtime_names) in ("scatter_basic", "scatter") and
                 holder.args[2:3] == [tup])):
            return False
    return True


def _value_uses(body, j, name):
    """([(statement index, load)], [indices of copies ``m = name``]) of the value ``name`` gets
    at top-level statement ``j``, following plain copies; None when a later store of ``name`` is
    not a plain top-level one (the value a load reads would be unclear)."""
    uses, copies = [], []
    for k in range(j + 1, len(body)):
        s = body[k]
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Name) and \
                s.value.id == name != s.targets[0].id:
            inner = _value_uses(body, k, s.targets[0].id)
            if inner is None:
                return None
            uses += inner[0]
            copies += [k] + inner[1]
            continue
        named = [n for n in walk(s) if isinstance(n, gast.Name) and n.id == name]
        uses += [(k, n) for n in named if isinstance(n.ctx, gast.Load)]
        if any(not isinstance(n.ctx, gast.Load) for n in named):
            plain = isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], gast.Name) and s.targets[0].id == name
            return (uses, copies) if plain else None
    return uses, copies


def _writes_nothing(s, facts, runtime_names):
    """True for a statement that assigns names only and calls nothing that writes into an array."""
    if is_comment(s):
        return True
    if not (isinstance(s, gast.Assign) and all(isinstance(t, gast.Name) for t in s.targets)):
        return False
    return not any(isinstance(node, gast.Call) and may_write(node, facts, runtime_names)
                   for node in walk(s.value))


def _sum_rewrite(load, g, d, shape, facts, parents):
    """The expression for the sum that reads ``load`` (a use of the scatter), or None when the use
    is not a sum over every axis but ``d``."""
    parent = parents.get(id(load))
    call = parents.get(id(parent)) if isinstance(parent, gast.Attribute) else parent
    if not isinstance(call, gast.Call):
        return None, None
    found = _sum_of(call, facts)
    if found is None or found[0] is not load:
        return None, None
    _, axis, keepdims = found
    nd = len(shape)
    axes = (axis,) if type(axis) is int else axis
    if not isinstance(axes, tuple) or not all(type(a) is int and -nd <= a < nd for a in axes) or \
            sorted(a % nd for a in axes) != [a for a in range(nd) if a != d]:
        return None, None
    out = _load(g)
    if keepdims:
        out = _attr_call(out, "reshape", [_tuple_const(tuple(
            n if a == d else 1 for a, n in enumerate(shape)))])
    if not isinstance(parents.get(id(call)), (gast.BinOp, gast.UnaryOp)):
        out = _attr_call(out, "copy")  # (the sum was a new array: a copy, never g's own)
    return call, out


def _add_rewrite(body, k, load, scatter_fact, facts, stores, loads):
    """(the added value, the op, T's name) when statement ``k`` is ``T = S + Y``, ``T = Y + S`` or
    ``T = Y - S`` with ``load`` the read of ``S`` and ``Y`` a new array of S's fact that nothing
    else reads (an operation, or a name of one stored and read only here), else None."""
    s = body[k]
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and
            isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.BinOp) and
            isinstance(s.value.op, (gast.Add, gast.Sub))):
        return None
    v = s.value
    other = v.right if v.left is load else v.left if v.right is load else None
    if other is None or (isinstance(v.op, gast.Sub) and v.right is not load) or \
            facts.get(id(other), TOP) != scatter_fact or facts.get(id(v), TOP) != scatter_fact:
        return None
    if not isinstance(other, gast.Name):
        return (other, type(v.op), s.targets[0].id) if _fresh(other, facts) else None
    y = other.id
    if stores.get(y) != 1 or len(loads.get(y, ())) != 1:
        return None
    for i in range(k):
        t = body[i]
        if isinstance(t, gast.Assign) and len(t.targets) == 1 and \
                isinstance(t.targets[0], gast.Name) and t.targets[0].id == y:
            return (other, type(v.op), s.targets[0].id) if _fresh(t.value, facts) else None
    return None


def picked_scatters(fdef, facts, runtime_names):
    """Rewrite the sums and the add of every picked scatter of the module's shape; the number of
    scatters changed."""
    body = fdef.body
    stores, loads = _name_uses(fdef)
    parents = _parents(fdef)
    runtime_names = set(runtime_names)
    changed, drop, replace, taken = 0, set(), {}, set()
    for j, s in enumerate(body):
        found = _scatter_of(s, facts, runtime_names)
        if found is None:
            continue
        name, g, index, fact = found
        n = facts[id(s.value.args[0])].shape[0]
        picked = [d for d, p in enumerate(index) if fact.shape[d] == n and
                  _is_arange(body, p, n, facts, stores, loads, parents, runtime_names)]
        value = _value_uses(body, j, name)
        if not picked or value is None:
            continue
        uses, copies = value
        last = max([k for k, _ in uses] + [j])
        if any(any(isinstance(m, gast.Name) and not isinstance(m.ctx, gast.Load) and
                   m.id in index + [g] for m in walk(body[k])) for k in range(j, last + 1)) or \
                not all(_writes_nothing(body[k], facts, runtime_names)
                        for k in range(j + 1, last)) or taken & set(range(j, last + 1)):
            continue
        sums, rest = [], []
        for k, load in uses:
            call, out = _sum_rewrite(load, g, picked[0], fact.shape, facts, parents)
            if call is None:
                rest.append((k, load))
            else:
                sums.append((call, out))
        for call, out in sums:
            replace_node(parents[id(call)], call, out)
        add = _add_rewrite(body, rest[0][0], rest[0][1], fact, facts, stores, loads) \
            if len(rest) == 1 else None
        if add is not None:
            y, op, target = add
            item = gast.Subscript(value=_load(target), slice=clone(s.value.args[2]),
                                  ctx=gast.Load())
            store = gast.Subscript(value=_load(target), slice=clone(s.value.args[2]),
                                   ctx=gast.Store())
            replace[rest[0][0]] = [
                gast.Assign(targets=[_store(target)], value=y, type_comment=None),
                gast.Assign(targets=[store], value=gast.BinOp(left=item, op=op(), right=_load(g)),
                            type_comment=None)]
            drop |= {j, *copies}
        if sums or add is not None:
            changed += 1
            taken |= set(range(j, last + 1))
    if drop or replace:
        out = []
        for k, s in enumerate(body):
            if k in replace:
                out += replace[k]
            elif k not in drop:
                out.append(s)
        fdef.body = out
    return changed

