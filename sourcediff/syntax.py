"""The gast vocabulary every layer shares: node builders, the names a node reads and writes, the
``# comment`` statement of generated code, and the one liveness analysis with the dead-code pass
built on it (the optimizer's, and the rule slicing the tape and run-time calls use).

Example::

    from sourcediff.syntax import assign, call, load
    assign("y", call(load("f"), [load("x")]))      # y = f(x)
"""

import gast


def load(name):
    """A gast Name in load context."""
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def store(name):
    """A gast Name in store context."""
    return gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)


def const(value):
    """A gast Constant."""
    return gast.Constant(value=value, kind=None)


def assign(name, value, loc=None):
    """``name = value`` located at ``loc``."""
    node = gast.Assign(targets=[store(name)], value=value, type_comment=None)
    if loc is not None:
        gast.copy_location(node, loc)
    return node


def located(node, loc):
    """``node`` with the source location of ``loc``."""
    if loc is not None:
        gast.copy_location(node, loc)
    return node


def call(func, args, keywords=()):
    """A gast Call."""
    return gast.Call(func=func, args=list(args), keywords=list(keywords))


class Comment(gast.Expr):
    """A ``# text`` line in generated code; ``origin`` is the user's line it quotes, or None."""

    def __init__(self, value=None, origin=None, **kwargs):
        super().__init__(value=value, **kwargs)
        self.origin = origin


def is_comment(node):
    """True for a :class:`Comment` statement."""
    return isinstance(node, Comment)


def _loads(node):
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _assigned(node):
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


# ---------------------------------------------------------------- liveness and dead code


def _live_in(stmts, live):
    live = set(live)
    for s in reversed(stmts):
        live = _live_stmt(s, live)
    return live


def _live_stmt(s, live):
    if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
        return (live - {s.targets[0].id}) | _loads(s.value)
    if isinstance(s, gast.If):
        return _loads(s.test) | _live_in(s.body, live) | _live_in(s.orelse, live)
    if isinstance(s, (gast.For, gast.While)):
        return _loop_live(s.body, live) | _loads(s.iter if isinstance(s, gast.For) else s.test)
    return live | _loads(s)


def _loop_live(body, live):
    """Names live at the head of a loop whose body is ``body`` and that is followed by ``live``."""
    head = set(live)
    while True:
        new = head | _live_in(body, head)
        if new == head:
            return head
        head = new


def dead_code(stmts, removable, live_out):
    """Drop assignments to ``removable`` names whose value is never read; returns new statements."""
    out = []
    live = set(live_out)
    for s in reversed(stmts):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            t = s.targets[0].id
            if t in removable and t not in live and _pure(s.value):
                continue
        elif isinstance(s, gast.If):
            s.body = dead_code(s.body, removable, live)
            s.orelse = dead_code(s.orelse, removable, live)
            if not _code(s.body) and not _code(s.orelse):
                continue
            if not _code(s.body):
                s.body = [gast.Pass()]
        elif isinstance(s, (gast.For, gast.While)):
            s.body = dead_code(s.body, removable, _loop_live(s.body, live))
            if not _code(s.body) and isinstance(s, gast.For) and _is_counting_loop(s):
                continue
            if not _code(s.body):
                s.body = [gast.Pass()]
        out.append(s)
        live = _live_stmt(s, live)
    out.reverse()
    return _drop_dangling_comments(out)


def _pure(value):
    if isinstance(value, gast.Call):
        func = value.func
        return not (isinstance(func, gast.Attribute) and func.attr == "pop")
    return True


def _code(stmts):
    return any(not is_comment(s) and not isinstance(s, gast.Pass) for s in stmts)


def _is_counting_loop(s):
    """``for _ in range(n)`` loops of the adjoint sweep (safe to drop when empty)."""
    return isinstance(s.iter, gast.Call) and isinstance(s.iter.func, gast.Name) \
        and s.iter.func.id == "range"


def _drop_dangling_comments(stmts):
    out = []
    for k, s in enumerate(stmts):
        if is_comment(s):
            nxt = stmts[k + 1] if k + 1 < len(stmts) else None
            if nxt is None or is_comment(nxt):
                continue
        out.append(s)
    return out


def _names_in(nodes):
    out = set()
    for node in nodes:
        if node is None:
            continue
        for n in gast.walk(node):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                out.add(n.id)
    return out


def _method_call(s, local_names):
    """(object name, method) for a statement ``obj.method(...)`` on a local, else None."""
    value = s.value
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
            and isinstance(value.func.value, gast.Name) and value.func.value.id in local_names:
        return value.func.value.id, value.func.attr
    return None
