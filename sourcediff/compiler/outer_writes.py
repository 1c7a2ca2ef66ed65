"""Writes a helper of the user's makes through a name it does not bind (a module global, a closure
cell): ``G[0][1] = v``, ``STATE["p"].append(v)``, ``setattr(BOX, "w", v)``, ``globals()["G"][0] = v``.

sourcediff refuses such writes in a function it differentiates (fence), but a helper called with
nothing that carries a derivative (``helper()``) runs as plain Python. When the global holds what
the differentiated function was given (the caller set ``G = params``), the helper changes the
argument behind the derivative's back: ``G[0][1] = np.ones((4, 1))`` gave item 1 a (4, 1)
gradient where it is (4, 3) and zero. The alias stage puts ``_sd.check_outer_writes`` in front of
the call of such a helper; at run time it refuses the call when the written global shares a list,
dict, object or array memory with the function's arguments (a counter, ``CALLS[0] += 1``, or a
cache the helper fills, shares none and runs as before).
"""

import inspect

import gast

from ..rules.facts import CONTAINER_ONLY_METHODS, writes_in_place
from ..syntax import clone, walk
from .normalize import call, const, load, located
from .parse import parse_function, unwrap

_FOUND = {}  # function -> ((name, deep, line text), ...)


def _chain(node):
    """(root name, how many subscripts and attributes lead from it to ``node``) of a store
    target, reading ``globals()["G"]`` as the global G; (None, 0) for anything else."""
    depth = 0
    while isinstance(node, (gast.Subscript, gast.Attribute)):
        inner = node.value
        if isinstance(node, gast.Subscript) and isinstance(inner, gast.Call) and \
                isinstance(inner.func, gast.Name) and inner.func.id == "globals" and \
                isinstance(node.slice, gast.Constant) and isinstance(node.slice.value, str):
            return node.slice.value, depth
        node, depth = inner, depth + 1
    return (node.id, depth) if isinstance(node, gast.Name) else (None, 0)


def _writes(node):
    """(target node, whether the write may reach an item of what the root holds) of each write
    in ``node``'s body."""
    for n in walk(node):
        if isinstance(n, (gast.Assign, gast.AugAssign, gast.Delete, gast.AnnAssign)):
            targets = n.targets if isinstance(n, (gast.Assign, gast.Delete)) else [n.target]
            for t in targets:
                for part in walk(t):
                    if isinstance(part, (gast.Subscript, gast.Attribute)) and \
                            isinstance(getattr(part, "ctx", None), (gast.Store, gast.Del)):
                        # (G[0] = v stores into G's slot; G[0][1] = v and G[0] += v reach
                        # what G holds)
                        yield part, isinstance(n, gast.AugAssign) or _chain(part)[1] > 1
        elif isinstance(n, gast.Call):
            func = n.func
            if isinstance(func, gast.Attribute) and writes_in_place(func.attr):
                yield func, func.attr not in CONTAINER_ONLY_METHODS or _chain(func)[1] > 1
            elif isinstance(func, gast.Name) and func.id in ("setattr", "delattr") and n.args:
                yield gast.Attribute(value=n.args[0], attr="_", ctx=gast.Store()), \
                    _chain(n.args[0])[1] > 0
            for k in n.keywords:
                if k.arg == "out":  # (np.add(a, b, out=G[0]))
                    yield gast.Subscript(value=k.value, slice=const(0), ctx=gast.Store()), True


def outer_writes(fn, seen=None):
    """((name, deep, line text), ...): the writes of the user's function ``fn`` (and of the
    functions of its module it calls by name) through a global or closure name; ``deep`` when
    the write may reach the items of the value the name holds, not only its own slots."""
    fn = unwrap(fn)
    if fn in _FOUND:
        return _FOUND[fn]
    seen = set() if seen is None else seen
    seen.add(fn)
    try:
        parsed = parse_function(fn)
    except Exception:  # noqa: BLE001  (no source: nothing known, as for any opaque call)
        return ()
    node = parsed.node
    bound = {n.id for n in walk(node) if isinstance(n, gast.Name) and
             isinstance(n.ctx, (gast.Store, gast.Param, gast.Del))}
    declared = {name for n in walk(node) if isinstance(n, (gast.Global, gast.Nonlocal))
                for name in n.names}
    found = []
    for target, deep in _writes(node):
        root, _depth = _chain(target)
        if root is not None and (root not in bound or root in declared):
            found.append((root, deep, f"{parsed.where(target)}: {parsed.line_text(target)}"))
    scope = getattr(fn, "__globals__", {})
    for n in walk(node):  # (a helper's helper of the same module: its globals are these)
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id not in bound:
            callee = unwrap(scope.get(n.func.id))
            if inspect.isfunction(callee) and callee not in seen and \
                    callee.__globals__ is scope:
                found.extend(w for w in outer_writes(callee, seen)
                             if w[0] not in callee.__code__.co_freevars)
    _FOUND[fn] = tuple(found)
    return _FOUND[fn]


def outer_write_check(stage, s, op):
    """``_sd.check_outer_writes(helper, writes, (params...), where, text)`` in front of ``s``,
    a call of the user's function ``op.key`` that writes through globals or closure cells."""
    fn = unwrap(getattr(op.key, "function", op.key))  # (a method's: MethodOf)
    named = getattr(s.value, "func", None)
    if isinstance(named, gast.Attribute) and isinstance(named.value, gast.Name):
        named = clone(named)  # (self.helper(): the bound method, its function's globals)
    elif not isinstance(named, gast.Name):
        return []
    if not inspect.isfunction(fn) or not stage.params:
        return []
    writes = outer_writes(fn)
    if not writes:
        return []
    func = gast.Attribute(value=load(stage.rt), attr="check_outer_writes", ctx=gast.Load())
    return [located(gast.Expr(value=call(func, [
        named if isinstance(named, gast.Attribute) else load(named.id), const(writes),
        gast.Tuple(elts=[load(p) for p in stage.params], ctx=gast.Load()),
        const(tuple(stage.params)), const(stage.parsed.where(s)),
        const(stage.parsed.line_text(s))])), s)]

