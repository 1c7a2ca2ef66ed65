"""Which parameters a function's in-place writes reach, for ``alias.mutated_params``; and the
expressions that may make a new list, tuple or dict holding another one's items.

Python builds a new container from another without copying its items: ``ws + ws``, ``ws * 2``,
``acc += ws``, ``ws.copy()``, ``sorted(ws)``, ``d | {}`` hold the very arrays ``ws`` (``d``)
holds, so ``acc = ws + ws; acc[0][1] = 0.0`` writes into the caller's array. Whether they do
depends on the operand's type, which only the run time knows: ``a + b`` and ``x.copy()`` of
arrays make new arrays. Such a result is linked to its operands as a *maybe holder*: a write
into what it holds reaches the operands' items when they are containers, and the call's check
(``runtime.check_call_alias`` with ``items="containers"``) decides by the argument's type.

Example: for ``def helper(ws): acc = ws + ws; acc[0][1] = 0.0``, ``ws`` is among the parameters
whose items the function may write into if they are containers (``maybe_items``), not among
those it surely writes into: ``helper(a)`` with an array ``a`` changes nothing of the caller's.
"""

import builtins
import copy
import math
import operator

import gast

from ..errors import NoRuleError
from ..rules import registry
from ..rules.facts import CONTAINER_ONLY_METHODS, writes_in_place
from ..runtime import sequences
from ..syntax import walk

# the binary operators that make a new list, tuple or dict of their operands' items: list +
# list, list * n (either side), dict | dict
_JOINING = (gast.Add, gast.Mult, gast.BitOr)
# calls whose result holds its argument's (or receiver's) items when that is a container, though
# the same call of an array makes a new array (which the rules' facts call fresh)
_COPYING_METHODS = frozenset(("copy",))
_COPYING_BUILTINS = frozenset(("sorted",))


def item_sources(value):
    """The names whose items the result of ``value`` may hold when they are lists, tuples or dicts
    (their own type decides): operands of ``+``, ``*`` and ``|``, the receiver of ``.copy()``, the
    argument of ``sorted(...)``. Empty for other expressions (their links are the callers')."""
    if isinstance(value, gast.BinOp) and isinstance(value.op, _JOINING):
        if any(_number(side, value.op) for side in (value.left, value.right)):
            return set()  # (x * 1.0, w + 1: no list, tuple or dict takes these)
        return _operand_names(value.left) | _operand_names(value.right)
    if isinstance(value, gast.Call):
        func = value.func
        if isinstance(func, gast.Attribute) and func.attr in _COPYING_METHODS and \
                not value.args and not value.keywords:
            return _operand_names(func.value)
        if isinstance(func, gast.Name) and func.id in _COPYING_BUILTINS and value.args:
            return _operand_names(value.args[0])
    return set()


def _number(node, op):
    """Whether ``node`` is a number constant that no container takes as the other operand of
    ``op`` (a float; any number but an int's repetition count for ``*``)."""
    if not isinstance(node, gast.Constant) or isinstance(node.value, (str, bytes)) or \
            node.value is None:
        return False
    return not (isinstance(op, gast.Mult) and isinstance(node.value, int))


def _operand_names(node):
    """The names an operand may be (or hold, for a display or a nested join): not those read
    for an index or a metadata attribute, nor through a call."""
    if isinstance(node, gast.Name):
        return {node.id}
    if isinstance(node, (gast.Tuple, gast.List)):
        return set().union(set(), *(_operand_names(e) for e in node.elts))
    if isinstance(node, gast.Starred):
        return _operand_names(node.value)
    if isinstance(node, gast.Subscript):  # (ws[0:1] + ws[1:]: slices of ws)
        return _operand_names(node.value)
    if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name):
        return {node.value.id}  # (self.ws + self.ws: what self holds)
    return item_sources(node)  # ((ws + ws) * 2)


def note_joins(n, maybe):
    """Adds to ``maybe`` (name -> the names whose items it may hold) what the assignment ``n``
    binds: ``acc = ws + ws``, ``acc += ws`` (a list's += extends it with ws's items)."""
    if isinstance(n, gast.Assign):
        joined, targets = item_sources(n.value), n.targets
    elif isinstance(n, gast.AugAssign):
        joined = item_sources(gast.BinOp(left=n.target, op=n.op, right=n.value))
        targets = [n.target]
    else:
        return
    for t in targets:
        if isinstance(t, gast.Name) and joined - {t.id}:
            maybe.setdefault(t.id, set()).update(joined - {t.id})


def repeats_items(value, seqs):
    """``2 * (a, b)``, ``(a,) + t``, ``lst * 3``: a tuple or list made of another's items (the
    items themselves, not copies: a write through one reaches them)."""
    if not isinstance(value, gast.BinOp) or not isinstance(value.op, (gast.Add, gast.Mult)):
        return False
    return any(isinstance(side, (gast.Tuple, gast.List)) or (isinstance(side, gast.Name) and
                                                              side.id in seqs)
               or repeats_items(side, seqs) for side in (value.left, value.right))


def collected(node):
    """The values a ``*args`` tuple or ``**kwargs`` dict of a call collects (bound arguments)."""
    if isinstance(node, (gast.Tuple, gast.List)):
        return list(node.elts)
    return list(node.values()) if isinstance(node, dict) else \
        list(node) if isinstance(node, tuple) else []


def later_item_keys(fdef, other, s, live_after):
    """The constant keys at which what runs after ``s`` reads ``other`` (``_item = kw["b"]``),
    when those are its only reads there; else None. ``live_after(skip)``: {id(statement): names
    live after it} with the statements in ``skip`` reading nothing."""
    reads = [t for t in walk(fdef) if isinstance(t, gast.Assign) and
             isinstance(t.value, gast.Subscript) and isinstance(t.value.value, gast.Name) and
             t.value.value.id == other and isinstance(t.value.slice, gast.Constant)]
    if not reads or len(reads) > 8 or \
            other in live_after(frozenset(id(t) for t in reads)).get(id(s), {other}):
        return None
    keys = []
    for t in reads:
        skip = frozenset(id(r) for r in reads if r is not t)
        if other in live_after(skip).get(id(s), ()) and t.value.slice.value not in keys:
            keys.append(t.value.slice.value)
    return tuple(keys)


def note_join_links(n, joins, joined):
    """Adds to ``joins`` (name -> names it is linked to) what the assignment ``n`` of a new list
    or tuple made of others' items binds (``acc = ws + [ws[0]]``); ``joined(value)``: the names
    such a value shares memory with, or nothing for another value."""
    if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
        names = joined(n.value)
        if names:
            joins.setdefault(n.targets[0].id, set()).update(names)


def bound_once(fdef, joins):
    """``joins`` of the names ``fdef`` binds once (another binding may link them otherwise)."""
    stores = [n.id for n in walk(fdef) if isinstance(n, gast.Name) and
              not isinstance(n.ctx, gast.Load)]
    return {k: v for k, v in joins.items() if stores.count(k) == 1}


def seen_by_callers(fdef, writes, slots):
    """``writes`` without the stores into the ``**kw`` dict's own slots (``kw[k] = v``): Python
    makes that dict for each call and no caller holds it (a write into an array it holds, kw[k]
    of a name that is a view of it, stays)."""
    if fdef.args.kwarg is None:
        return writes
    return [("", line) if k in slots and name == fdef.args.kwarg.id else (name, line)
            for k, (name, line) in enumerate(writes)]


def receiver_root(n):
    """For a call ``n`` of an array method that writes into its receiver where that receiver is
    an item or attribute (``acc[0].fill(v)``, ``self.w.sort()``), the name at its root (``acc``,
    ``self``): what that name holds changes in place. So for a list's or dict's method where the
    receiver is an item (``d["xs"].append(v)``, ``L[0].update(e)``: the caller's container
    grows; an attribute's, ``o.items.append(v)``, the watch on the object's class sees). None for
    other nodes."""
    func = getattr(n, "func", None) if isinstance(n, gast.Call) else None
    if not isinstance(func, gast.Attribute) or isinstance(func.value, gast.Name) or \
            not writes_in_place(func.attr):
        return None
    node, through_item = func.value, False
    while isinstance(node, (gast.Subscript, gast.Attribute)):
        through_item = through_item or isinstance(node, gast.Subscript)
        node = node.value
    if func.attr in CONTAINER_ONLY_METHODS and not through_item:
        return None
    return node.id if isinstance(node, gast.Name) else None


def params_reached(params, links, writes, slots, direct, holds, maybe=None, own_slots=(),
                   joins=None):
    """({parameter: line of a write that reaches it}, the parameters a write other than a store
    into a slot reaches, {further parameter whose items a write may reach through a maybe
    holder: line}) from the writes of mutated_params and the links between names. A tuple or list
    made of names (``holds``) sees a write into what it holds, and a write into it reaches what
    it holds; a write into one of its items does not reach the others. ``maybe`` (name -> the
    names whose items it may hold, :func:`item_sources`) is followed as ``holds`` is, except from
    a store into the name's own slot (``own_slots``: positions in ``writes`` of ``acc[i] = v``),
    which changes no item; nor are the links of a name bound once to a new list or tuple joined
    from others (``joins``: ``acc = ws + [ws[0]]``) followed from a store into its own slot."""
    joins = joins or {}
    out, items = _reach(params, links, writes, slots, direct, holds, {}, own_slots, joins)
    if not maybe:
        return out, items, {}
    more, more_items = _reach(params, links, writes, slots, direct, holds, maybe, own_slots,
                              joins)
    return out, items, {p: more[p] for p in more_items - items}


def _reach(params, links, writes, slots, direct, holds, maybe, own_slots, joins):
    out = {}
    items = set()
    held_by = {}
    for c, held in holds.items():
        for m in held:
            held_by.setdefault(m, set()).add(c)
    for name, line in direct:
        out.setdefault(name, line)
    for k, (name, line) in enumerate(writes):
        seen, todo = {(name, False)}, [(name, False)]
        while todo:
            at, up = todo.pop()
            own_slot = at == name and k in own_slots
            steps = [(o, up) for o in links.get(at, ())
                     if not (own_slot and o in joins.get(at, ()))] + \
                [(c, True) for c in held_by.get(at, ())]
            if not up and not own_slot:  # (down into the items only before going up to a
                # holder, and not from a store into the name's own slot: p[0] = v, given to a
                # helper that does that, changes p, not the arrays p = [w] holds)
                steps += [(m, False) for m in holds.get(at, ())]
                steps += [(m, False) for m in maybe.get(at, ())]
            for step in steps:
                if step not in seen:
                    seen.add(step)
                    todo.append(step)
        seen = {n for n, _ in seen}
        for p in params:
            if p in seen and p not in out:
                out[p] = line
            if p in seen and k not in slots:
                items.add(p)
    return out, items


def array_names(fdef, params, fresh_call):
    """The local names of ``fdef`` every binding of which makes an array or a number (arithmetic
    of such names and constants, a fresh call of them: ``fresh_call(value)``), never a list,
    tuple or dict: ``+`` and ``*`` of these concatenate nothing. Parameters are not among them
    (their type is the caller's)."""
    values, stores = {}, {}
    for n in walk(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            stores[n.id] = stores.get(n.id, 0) + 1
        if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
            values.setdefault(n.targets[0].id, []).append(n.value)
    # (bound only by plain assignments: not a loop's item, nor unpacked)
    arrays = {k for k, vs in values.items() if len(vs) == stores.get(k) and k not in params}
    changed = True
    while changed:
        changed = False
        for k in sorted(arrays):
            if not all(_makes_array(v, arrays, fresh_call) for v in values[k]):
                arrays.discard(k)
                changed = True
    return arrays


def _makes_array(value, arrays, fresh_call):
    """Whether ``value`` makes an array or a number when the names in ``arrays`` hold ones."""
    if isinstance(value, (gast.Constant, gast.Compare, gast.UnaryOp)):
        return True
    if isinstance(value, gast.Name) and value.id in arrays:  # (b = t: what t holds)
        return True
    if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and \
            value.value.id in arrays:  # (b[0] of an array: an array or a number)
        return True
    if isinstance(value, gast.BinOp):
        return not any(isinstance(side, (gast.List, gast.Tuple)) for side in
                       (value.left, value.right)) and item_sources(value) <= arrays
    return fresh_call(value) and item_sources(value) <= arrays


# calls whose result holds the items of what they are given (a new list, tuple, dict or
# iterator over the same arrays): tuple(ws), copy.copy(d), d.get(k), d.values(), next(it), and
# the pairs of d that dict(d) and {**d} are lowered to (compiler/lowering.py's dict_of_pairs)
_KEEPING = (builtins.list, builtins.tuple, builtins.dict, builtins.sorted, builtins.reversed,
            builtins.next, builtins.iter, builtins.enumerate, builtins.zip, copy.copy,
            sequences.dict_get, sequences.dict_values, sequences.dict_items, sequences.dict_pairs,
            sequences.iterated)


def holders_of(op, value, arrays):
    """The names whose items (or which themselves) the result of ``value`` (resolved as ``op``)
    may hold: the arguments of a call in _KEEPING, and :func:`item_sources` not in ``arrays``
    (``ws + ws``, ``ws.copy()``). Empty for other values."""
    if any(op.key is k for k in _KEEPING):
        return {m.id for a in list(op.args) + list(op.keywords.values())
                if isinstance(a, gast.AST) for m in walk(a) if isinstance(m, gast.Name)}
    return item_sources(value) - arrays


def _str_key(index):
    """Whether a subscript's index is a string (``d["w"]``: ``d`` is a dict)."""
    return isinstance(index, gast.Constant) and isinstance(index.value, str)


def refuse_unions(bindings, ops, varied, parsed, dicts):
    """Refuses ``t = a | b`` where ``a`` or ``b`` carries a derivative: ``|`` is declared without
    one (for ints, bools and sets), so for dicts (``d | {"b": 1.0}``, which holds d's arrays)
    the derivative through the union would be dropped without a word. ``bindings``: (target,
    statement) pairs, ``ops``: id(statement) -> resolved op, ``varied``: names that carry one,
    ``dicts``: names that may hold a dict (containers, parameters): one must be an operand
    (``is_valid(x) | flag`` of a helper's bools is let through)."""
    for _target, s in bindings:
        op = ops.get(id(s))
        if op is None or op.kind != "nondiff" or op.key is not operator.or_:
            continue
        carried = sorted({m.id for a in op.args for m in walk(a)
                          if isinstance(m, gast.Name)} & set(varied))
        if carried and {m.id for a in op.args for m in walk(a)
                        if isinstance(m, gast.Name)} & set(dicts):
            raise NoRuleError(
                f"{parsed.where(s)}: a | b of {carried[0]}, which carries a derivative, has no "
                f"derivative rule (| is bitwise or, or a set's union, for sourcediff); for a "
                f"dict union write the new dict out as a display of its entries "
                f"({{'w': a['w'], 'b': v}}), which sourcediff differentiates.\n"
                f"    {parsed.line_text(s)}")


def may_be_bound(other, s, defs, order):
    """Whether ``other`` may hold a value where the statement ``s`` runs (the alias stage's
    ``defs``: name -> [(binding statement, loop)], ``order``: id(statement) -> (place, outermost
    loop)): a binding of it comes before ``s`` or in the loop around ``s`` (an earlier pass), or
    no statement listed binds it (a parameter). A name bound only later (``a = L.pop()`` in a
    loop after ``L.extend(...)``) is unbound there: a check reading it raised UnboundLocalError
    in forward mode, where no name is set to None first."""
    entries = defs.get(other)
    if not entries:
        return True
    at, loop = order.get(id(s), (math.inf, None))
    for st, _ in entries:
        place, outer = order.get(id(st), (-1, None))
        if place < at or (loop is not None and outer == loop):
            return True
    return False


def bound_only(names, s, defs, order, params=()):
    """``names`` sorted, without those :func:`may_be_bound` finds unbound where ``s`` runs; a
    parameter (``params``) is bound from the start, whatever the function binds to it later
    (``y = y + h(y, y)``: the check of the call names the parameter y, read after it)."""
    return sorted(n for n in names if n in params or may_be_bound(n, s, defs, order))


def fresh_result(op):
    """Whether the result of the resolved operation ``op`` is a new value sharing no memory with
    what it reads: a primitive declared fresh, called without ``out=`` and with no ``copy=`` but
    True (``np.array(y, copy=False)``, ``y.astype(t, copy=False)`` may give y itself)."""
    if op.kind not in ("rule", "nondiff") or "out" in op.keywords:
        return False
    kept = op.keywords.get("copy")
    if kept is not None and not (isinstance(kept, gast.Constant) and kept.value is True):
        return False
    return registry.facts(op.key).view is False


def new_container(value, resolver):
    """Whether ``value`` makes a new list, tuple, dict or set of others' items (``[ws[0], v]``,
    ``list(ws)``, ``dict(d)``): a store into its own slots, or an append, changes no other."""
    if isinstance(value, (gast.List, gast.Tuple, gast.Dict, gast.Set)):
        return True
    return isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and \
        value.func.id not in resolver.locals and \
        getattr(builtins, value.func.id, None) in (list, tuple, dict, set)


def merged(a, b):
    """The union of two {name: set of names} maps."""
    out = {k: set(v) for k, v in a.items()}
    for k, v in b.items():
        out.setdefault(k, set()).update(v)
    return out


def reached(names, links):
    """Every name reachable from ``names`` along ``links`` (name -> the names it links to),
    ``names`` included."""
    seen, todo = set(names), list(names)
    while todo:
        for other in links.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen
