"""Jumps to flags, the last part of the normalize stage: ``break``, ``continue`` and early
``return`` become flags that guard the statements after them (:class:`JumpLowering`), so the
reverse sweep sees only nested blocks; and an ``if`` whose branch rebinds its test tests a copy
(:func:`stable_tests`). See :mod:`.normalize` for the statement forms."""

import gast

from ..syntax import assign, const, load, located, walk


def assigned_names(stmts):
    """Names bound by assignments, loops and parameters inside ``stmts`` (not inner functions)."""
    out = set()
    for stmt in stmts:
        for node in walk(stmt):
            if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Param)):
                out.add(node.id)
    return out


class _LoopExit(gast.Break):
    """The exit of a ``while`` loop whose test failed (a break that is not the user's)."""

    _fields = ()


class JumpLowering:
    """Turns ``break``, ``continue`` and early ``return`` into flags that guard later statements."""

    def __init__(self, names):
        self.names = names
        self.done = None  # the function-level "returned" flag, made on first need
        self.retval = None
        self.loops = []  # enclosing loops, innermost last

    def function(self, body, loc):
        returns = [n for n in _walk_stmts(body) if isinstance(n, gast.Return)]
        simple_end = (len(returns) == 1 and body and body[-1] is returns[0])
        if not returns or simple_end:
            lowered = self.block(body, loop=None)
            if not returns:
                lowered.append(located(gast.Return(value=const(None)), loc))
            return lowered
        self.done = self.names.fresh("done")
        self.retval = self.names.fresh("retval")
        lowered = self.block(body, loop=None)
        head = [assign(self.done, const(False), loc), assign(self.retval, const(None), loc)]
        return head + lowered + [located(gast.Return(value=load(self.retval)), returns[-1])]

    def block(self, stmts, loop):
        out = []
        for k, s in enumerate(stmts):
            lowered, flags = self.statement(s, loop)
            out.extend(lowered)
            if flags and k + 1 < len(stmts):
                rest = self.block(stmts[k + 1:], loop)
                if rest:
                    out.extend(self.guard(flags, rest, s))
                break
        return out

    def guard(self, flags, rest, loc):
        flags = sorted(flags)
        go = self.names.fresh("go")
        if len(flags) == 1:
            test = gast.UnaryOp(op=gast.Not(), operand=load(flags[0]))
        else:
            test = gast.UnaryOp(op=gast.Not(), operand=gast.BoolOp(
                op=gast.Or(), values=[load(f) for f in flags]))
        return [assign(go, test, loc), located(gast.If(test=load(go), body=rest, orelse=[]), loc)]

    def statement(self, s, loop):
        """(lowered statements, set of flag names they may have raised at this level)."""
        if isinstance(s, gast.Return):
            if self.done is None:
                return [s], set()
            flags = {self.done}
            out = [assign(self.retval, s.value, s), assign(self.done, const(True), s)]
            for enclosing in self.loops:
                out.append(assign(enclosing["stop"], const(True), s))
            if loop is not None:
                flags.add(loop["stop"])
            return out, flags
        if isinstance(s, gast.Break):
            loop["has_stop"] = True
            out = [assign(loop["stop"], const(True), s)]
            if not isinstance(s, _LoopExit) and loop["orelse"]:
                out.append(assign(loop["broke"], const(True), s))
            return out, {loop["stop"]}
        if isinstance(s, gast.Continue):
            loop["has_cont"] = True
            return [assign(loop["cont"], const(True), s)], {loop["cont"]}
        if isinstance(s, gast.If):
            body = self.block(s.body, loop) or [gast.Pass()]
            orelse = self.block(s.orelse, loop)
            flags = self.raised(s.body + s.orelse, loop)
            return [located(gast.If(test=s.test, body=body, orelse=orelse), s)], flags
        if isinstance(s, (gast.For, gast.While)):
            return self.loop(s)
        return [s], set()

    def raised(self, stmts, loop):
        flags = set()
        for node in _walk_stmts(stmts, into_loops=False):
            if isinstance(node, gast.Break):
                flags.add(loop["stop"])
            elif isinstance(node, gast.Continue):
                flags.add(loop["cont"])
        if self.done is not None and any(isinstance(n, gast.Return) for n in _walk_stmts(stmts)):
            flags.add(self.done)
            if loop is not None:
                flags.add(loop["stop"])
        return flags

    def loop(self, s):
        loop = {"stop": self.names.fresh("stop"), "cont": self.names.fresh("skip"),
                "broke": self.names.fresh("broke"), "orelse": bool(s.orelse),
                "has_stop": False, "has_cont": False}
        self.loops.append(loop)
        body = self.block(s.body, loop)
        self.loops.pop()
        returns_inside = self.done is not None and any(
            isinstance(n, gast.Return) for n in _walk_stmts(s.body))
        if returns_inside:
            loop["has_stop"] = True
        head, tail, before = [], [], []
        if loop["has_cont"]:
            head.append(assign(loop["cont"], const(False), s))
        if loop["has_stop"]:
            before.append(assign(loop["stop"], const(False), s))
            tail.append(located(gast.If(test=load(loop["stop"]), body=[gast.Break()], orelse=[]), s))
        new_body = head + body + tail
        after = []
        outer = self.loops[-1] if self.loops else None  # (break and continue in the else: its)
        if s.orelse:
            orelse = self.block(s.orelse, outer)
            if any(isinstance(n, gast.Break) and not isinstance(n, _LoopExit)
                   for n in _walk_stmts(s.body, into_loops=False)):
                before.append(assign(loop["broke"], const(False), s))
                after.append(located(gast.If(test=load(loop["broke"]), body=[gast.Pass()],
                                             orelse=orelse), s))
            else:
                after.extend(orelse)
        if isinstance(s, gast.For):
            new = gast.For(target=s.target, iter=s.iter, body=new_body, orelse=[], type_comment=None)
        else:
            new = gast.While(test=s.test, body=new_body, orelse=[])
        flags = {self.done} if returns_inside else set()
        if returns_inside and after:
            after = self.guard(flags, after, s)
        if outer is not None:
            flags |= self.raised(s.orelse, outer)
        return before + [located(new, s)] + after, flags


def _walk_stmts(stmts, into_loops=True):
    """Statements nested in ``stmts`` (not inside inner loops when ``into_loops`` is False)."""
    for s in stmts:
        yield s
        if isinstance(s, gast.If):
            yield from _walk_stmts(s.body, into_loops)
            yield from _walk_stmts(s.orelse, into_loops)
        elif isinstance(s, (gast.For, gast.While)):  # (its else runs at this level)
            if into_loops:
                yield from _walk_stmts(s.body, into_loops)
            yield from _walk_stmts(s.orelse, into_loops)


def stable_tests(stmts, names):
    """``if c: ... c = ...`` tests a copy of c's truth, so replaying the branch in the adjoint sweep
    sees the value the primal tested (not the one the branch left behind, nor what an in-place
    change of the same object left: ``while items and (v := items.pop()) ...`` tested the list
    itself, empty when the adjoint replayed it)."""
    out = []
    for s in stmts:
        if isinstance(s, gast.If):
            s.body = stable_tests(s.body, names)
            s.orelse = stable_tests(s.orelse, names)
            if s.test.id in assigned_names(s.body + s.orelse):
                fresh = names.fresh("test")
                out.append(assign(fresh, gast.Call(func=load("bool"), args=[s.test],
                                                   keywords=[]), s))
                s.test = load(fresh)
        elif isinstance(s, (gast.For, gast.While)):
            s.body = stable_tests(s.body, names)
        out.append(s)
    return out


