"""Short loops over the items of a sequence whose items differ (a list of ``(W, b)`` layers of
different shapes) written out pass by pass, and the stack saves of the straight-line code that
results made plain names: the facts of each pass's values are then their own, not the join of
every pass's (an unknown shape), and the other passes rewrite each pass for its shapes.

The forward loop ``for _k1 in range(_len1)`` over ``params[:-1]`` (its length known from the
signature) becomes ``_k1 = 0`` and the body, ``_k1 = 1`` and the body; the count of its passes is
then known, and so is its adjoint loop's ``range(_n1 - 1, -1, -1)``, written out the same way;
with no loop left that saves on the stack, each ``_stack.append(v)`` is ``_saved3 = v`` and the
``x = _stack.pop()`` that takes it back ``x = _saved3``.
"""

import gast

from ..compiler.emit import is_comment
from ..syntax import clone, walk
from .facts import TOP, Known, Seq, _const, _load

_PASSES_MAX = 8  # longer loops stay loops
_STATEMENTS_MAX = 600  # nor is a loop written out into more statements than this


def unroll_loops(fdef, facts, stack_name):
    """Write out the loops of the function's body over a range of a known length of at most
    ``_PASSES_MAX`` passes that read a sequence whose items have different facts by the pass
    index (``_item1[_k1]``), or that take values back from the stack (the adjoint loop of one
    written out: its count is only known then). A loop with a ``break``, ``continue``,
    ``return`` or ``else`` stays. Returns how many loops it wrote out."""
    changed = 0
    body = []
    for s in fdef.body:
        passes = _passes(s, facts)
        if passes is None or not (_reads_mixed_items(s, facts) or _pops(s, stack_name)):
            body.append(s)
            continue
        changed += 1
        target = s.target.id
        for value in passes:
            body.append(gast.Assign(targets=[gast.Name(id=target, ctx=gast.Store(),
                                                       annotation=None, type_comment=None)],
                                    value=_const(value), type_comment=None))
            body.extend(clone(t) for t in s.body)
    fdef.body = body
    return changed


def _passes(s, facts):
    """The values of the index of loop ``s`` if it is one this pass may write out, else None."""
    if not (isinstance(s, gast.For) and isinstance(s.target, gast.Name) and not s.orelse and
            isinstance(s.iter, gast.Call) and not s.iter.keywords and
            facts.get(id(s.iter.func), TOP) == Known(range) and 1 <= len(s.iter.args) <= 3):
        return None
    bounds = [facts.get(id(a), TOP) for a in s.iter.args]
    if not all(type(b) is Known and type(b.value) is int for b in bounds):
        return None
    passes = range(*[b.value for b in bounds])
    size = sum(1 for t in walk(gast.Module(body=s.body, type_ignores=[]))
               if isinstance(t, gast.stmt) and not is_comment(t))
    if len(passes) > _PASSES_MAX or size * len(passes) > _STATEMENTS_MAX:
        return None
    for node in walk(gast.Module(body=s.body, type_ignores=[])):
        if isinstance(node, (gast.Break, gast.Continue, gast.Return, gast.Yield,
                             gast.YieldFrom, gast.FunctionDef, gast.Lambda, gast.Global,
                             gast.Nonlocal)):
            return None
    return list(passes)


def _reads_mixed_items(s, facts):
    """The loop reads, by its index, an item of a sequence whose items' facts differ."""
    for node in walk(gast.Module(body=s.body, type_ignores=[])):
        if isinstance(node, gast.Subscript) and isinstance(node.slice, gast.Name) and \
                node.slice.id == s.target.id:
            seq = facts.get(id(node.value), TOP)
            if type(seq) is Seq and seq.indexable() and len(set(map(repr, seq.items))) > 1:
                return True
    return False


def _pops(s, stack_name):
    return stack_name is not None and any(
        _stack_call(node, stack_name, "pop") for node in walk(gast.Module(body=s.body,
                                                                            type_ignores=[])))


def _stack_call(node, stack_name, method):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
        node.func.attr == method and isinstance(node.func.value, gast.Name) and \
        node.func.value.id == stack_name


def known_branches(fdef):
    """``if 1:`` and ``if 0:`` among the function's statements (a pass written out whose index
    the cleanup put in its test) replaced by the branch they take. Returns how many."""
    changed = 0

    def fold(stmts):
        nonlocal changed
        out = []
        for s in stmts:
            if isinstance(s, gast.If) and isinstance(s.test, gast.Constant) and \
                    type(s.test.value) in (bool, int):
                changed += 1
                out.extend(fold(s.body if s.test.value else s.orelse))
                continue
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and inner:
                    setattr(s, field, fold(inner) or [gast.Pass()])
            out.append(s)
        return out

    fdef.body = fold(fdef.body)
    return changed


def paired_saves(fdef, stack_name, removable):
    """In a function whose every use of the stack is a statement of its body (no loop or branch
    saves or takes back), each ``_stack.append(v)`` becomes ``_savedN = v`` and the ``x =
    _stack.pop()`` that takes that value back ``x = _savedN``; the stack itself goes. The new
    names join ``removable`` (dead code may drop a save nothing reads). Returns how many saves
    it named (0: the stack stays as it is)."""
    if stack_name is None:
        return 0
    top = {id(s) for s in fdef.body}
    pushes, pops, init = [], [], None
    for s in fdef.body:
        if isinstance(s, gast.Expr) and _stack_call(s.value, stack_name, "append") and \
                len(s.value.args) == 1 and not s.value.keywords:
            pushes.append(s)
        elif isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], gast.Name) and _stack_call(s.value, stack_name, "pop") \
                and not s.value.args and not s.value.keywords:
            pops.append(s)
        elif isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], gast.Name) and s.targets[0].id == stack_name:
            if init is not None or not (isinstance(s.value, gast.List) and not s.value.elts):
                return 0
            init = s
    if init is None or not pushes:
        return 0
    known = {id(s) for s in pushes + pops + [init]}
    uses = [n for n in walk(fdef) if isinstance(n, gast.Name) and n.id == stack_name]
    if len(uses) != len(known):  # (a use elsewhere: in a loop, returned, passed on)
        return 0
    assert all(id(s) in top for s in pushes + pops)
    taken = {n.id for n in walk(fdef) if isinstance(n, gast.Name)}
    names, pending, count = {}, [], 0
    for s in fdef.body:
        if id(s) not in known or s is init:
            continue
        if s in pushes:
            count += 1
            while f"_saved{count}" in taken:
                count += 1
            names[id(s)] = f"_saved{count}"
            pending.append(names[id(s)])
        else:
            if not pending:
                return 0  # (a pop of a value saved before the call: not ours to name)
            names[id(s)] = pending.pop()
    body = []
    for s in fdef.body:
        if s is init:
            continue
        if id(s) in names and isinstance(s, gast.Expr):
            body.append(gast.Assign(targets=[gast.Name(id=names[id(s)], ctx=gast.Store(),
                                                       annotation=None, type_comment=None)],
                                    value=s.value.args[0], type_comment=None))
            removable.add(names[id(s)])
        elif id(s) in names:
            s.value = _load(names[id(s)])
            body.append(s)
        else:
            body.append(s)
    fdef.body = body
    return len(pushes)
