"""Reverse stage: the primal sweep and the adjoint sweep of a normalized function, as statements.

For every active assignment ``t = f(a, b)`` the adjoint sweep gets the inlined vjp rule of ``f``
(``a_bar = a_bar + <contribution of a>``); branches replay the recorded test, loops run their body's
adjoint as many times as the primal ran it, and values the adjoint needs that the primal overwrote
are pushed on ``_stack`` before being overwritten and popped back in reverse order. Example::

    primal                      adjoint
    _n1 = 0                     for _ in range(_n1):
    for i in range(n):              i = _stack.pop()
        _n1 = _n1 + 1               x_bar = x_bar + h_bar * 2.0 ...
        _stack.append(h)            h = _stack.pop()
        h = np.sin(h) * x           ...
        _stack.append(i)
"""

import copy
from dataclasses import dataclass

import gast
import numpy as np

from .. import runtime
from ..errors import NoRuleError, SourcediffSyntaxError
from ..rules import quote, registry
from ..syntax import _method_call, _names_in, children, clone, walk
from . import callees, constructors
from .analysis import Analysis, add, attr
from .emit import comment_at, is_comment
from .normalize import assign, call, const, load, located, store
from .object_state import run_time_arguments
from .parse import GENERATED_LINES
from .resolve import index_value as resolve_index
from .unreached import unreached

ZERO = 0.0


@dataclass(frozen=True)
class Sweeps:
    """What the reverse stage makes of a function body: the primal sweep (which saves what the
    adjoint reads on the stack), the adjoint sweep, the names the adjoint reads (``needed``) and
    those the primal sweep pushes before overwriting them (``pushed_old``: the driver binds them
    to None first, and keeps the returned value aside when the adjoint restores it)."""

    primal: list
    adjoint: list
    needed: frozenset
    pushed_old: frozenset
    undone: frozenset = frozenset()  # (lists given whose changes the adjoint undoes on copies)
    undone_returned: frozenset = frozenset()  # (and lists built here and returned)
    restored: frozenset = frozenset()  # (containers and arrays whose items the adjoint puts back)


class Reverse(Analysis):
    """Builds the reverse-mode pieces of one normalized function."""

    # ------------------------------------------------------------------ names

    def bar(self, name):
        """The adjoint variable of ``name``: ``x_bar``."""
        if name not in self.bars:
            self.bars[name] = self.names.exact(f"{name.lstrip('_')}_bar"
                                               if not name.startswith("_") else f"{name}_bar")
        return self.bars[name]

    def stack_name(self):
        if self.stack is None:
            self.stack = self.names.exact("_stack")
        return self.stack

    def push(self, value, loc):
        return located(gast.Expr(value=call(attr(load(self.stack_name()), "append"), [value])), loc)

    def pop(self, target, loc):
        node = gast.Assign(targets=[target], value=call(attr(load(self.stack_name()), "pop"), []),
                           type_comment=None)
        return located(node, loc)

    # ------------------------------------------------------------------ adjoint of one statement

    def accumulate(self, name, contribution, loc):
        """``x_bar = x_bar + c`` (entrywise for names that may hold lists, tuples or dicts)."""
        bar = self.bar(name)
        if name in self.containers:
            value = call(self.rt("add_grads"), [load(bar), contribution])
        else:
            value = add(load(bar), contribution)
        return located(gast.Assign(targets=[store(bar)], value=value, type_comment=None), loc)

    def adjoint_assign(self, s):
        target = s.targets[0].id
        op = self.ops[id(s)]
        bar = self.bar(target)
        out = []
        g = load(bar)
        assert target not in self.operand_names(op, s), "normalize gives t = f(t) a fresh variable"
        if op.kind == "copy":
            src = op.args[0].id
            if src in self.active:
                out.append(self.accumulate(src, g, s))
        elif op.kind == "container":
            keys = op.keywords.get("keys") or [const(k) for k in range(len(op.args))]
            for key, elt in zip(keys, op.args):
                item = call(self.rt("item_grad"), [g, clone(key)])
                out.extend(self.distribute(elt, item, s, "a container"))
        elif op.kind == "rule":
            out.extend(self.unless_unreached(s, bar, self.adjoint_rule(op, s, g, load(target))))
        elif op.kind == "construct":
            out.extend(self.adjoint_construct(op, s, g, target))
        elif op.kind == "user" and self.binds_at_run_time(s):
            out.extend(self.adjoint_dynamic_call(s, g, target))  # (f(*args): see run_time_call)
        elif op.kind == "user":
            out.extend(self.unless_unreached(s, bar, self.adjoint_user_call(op, s, g, target)))
        elif _container_pop(op, self.containers):
            if op.args[0].id in self.active:
                out.append(self.adjoint_pop(op.args[0].id, g, s))
        elif op.kind == "unknown" and self.operand_names(op, s) & self.active:
            if not self.dynamic_callee(op, s):
                raise NoRuleError(self.no_rule_message(op, s))
            out.extend(self.adjoint_dynamic_call(s, g, target))
        out.append(assign(bar, const(ZERO), s))  # the value before this assignment starts at 0
        return out

    def unless_unreached(self, s, bar, block):
        """``block`` (the adjoint of ``s``), under ``if _sd.nonzero_grad(t_bar):`` where ``s``'s
        result may reach the output on no path taken (compiler/unreached.py): its gradient is then
        the symbolic zero 0.0, and the rule or the callee's backward form would make 0 * inf = nan
        of an infinite derivative."""
        if id(s) not in self.unreached or not block:
            return block
        return [located(gast.If(test=call(self.rt("nonzero_grad"), [load(bar)]), body=block,
                                orelse=[]), s)]

    def adjoint_pop(self, obj, g, s):
        """``v = lst.pop()``: the list's gradient gets ``g`` (v's) back at its end, placed by the
        length of the list as the pop left it."""
        return assign(self.bar(obj), call(self.rt("push_grad"), [load(self.bar(obj)), g,
                                                                  load(obj)]), s)

    def adjoint_user_call(self, op, s, g, target):
        """``t = helper(a, b)``: the primal calls helper's forward form, which returns the value
        and what helper's adjoint reads (kept in ``_saved``, pushed like any local in a loop);
        the adjoint calls its backward form with that and ``t_bar``. helper's body runs once per
        call, so its random draws and side effects happen once; both forms are generated code,
        so the result is differentiable again."""
        callee = op.key
        bound, active_params = self.bind_user_call(op, s)
        fwd = callees.called_form(callees.split_form, callee, active_params, self.parsed.where(s),
                          self.parsed.line_text(s))
        fwd_name = self.globals.name(f"{callee.__name__}_fwd", fwd)
        saved = self.saved_state(s, target, lambda value: _with_func(value, load(fwd_name)))
        call_node = call(load(self.globals.name(f"{callee.__name__}_bwd", fwd.__sourcediff_bwd__)),
                         [gast.Subscript(value=load(saved), slice=const(1), ctx=gast.Load())])
        call_node.keywords.append(gast.keyword(
            arg=fwd.__sourcediff_bwd__.__sourcediff_cotangent_name__, value=g))
        grads = self.names.fresh("grads")
        out = [assign(grads, call_node, s)]
        for k, p in enumerate(active_params):
            arg = bound.arguments[p]
            item = gast.Subscript(value=load(grads), slice=const(k), ctx=gast.Load())
            out.extend(self.distribute(arg, item, s, op.name))
        return out

    def adjoint_construct(self, op, s, g, target):
        """``obj = Dense(W, b)``: each argument that carries a derivative gets the gradient of
        the attribute its constructor stored it at (compiler/constructors.py); one the
        constructor computes from is refused here, naming that line."""
        paths = constructors.stored_paths(op.key)
        out = []
        for param, node, index in op.binding:
            if not _names_in([node]) & self.active:
                continue
            found = paths.get(param, [])
            if isinstance(found, tuple):
                raise NoRuleError(
                    f"{self.parsed.where(s)}: {op.name}(...) is given a value that depends on "
                    f"{', '.join(self.wrt)} as '{param}', which its constructor computes from "
                    f"rather than stores as it is:\n    {self.parsed.line_text(s)}\nat "
                    f"{found[0]}:\n    {found[1]}\nsourcediff follows an argument a constructor "
                    f"stores as it is (self.{param} = {param}); compute from it in a method, "
                    f"or build the object outside the function and take the gradient with "
                    f"respect to it (sd.grad(loss)(obj, ...))")
            if index is not None:
                found = [p + (index,) for p in found]
            if not found:
                continue  # (used only in a test or for its shape: no derivative flows)
            contribution = call(self.rt("constructed_grad"), [
                g, load(target), const(tuple(found)), clone(node),
                const(self.parsed.where(s)), const(self.parsed.line_text(s))])
            out.extend(self.distribute(node, contribution, s, op.name))
        return out

    def adjoint_dynamic_call(self, s, g, target):
        """``t = obj.forward(a)`` with obj's class known at run time only (or ``t = f(*args)``
        with args carrying a derivative, see run_time_call): the primal runs
        ``_sd.dynamic_fwd``, which compiles the method's forward and backward forms for the
        object it meets (cached per class) and runs it once; the adjoint runs its backward form."""
        receiver = self.active_receiver(s.value)
        if receiver is not None:
            return self.adjoint_receiver_call(s, g, target, receiver)
        helper, lead, syntax = self.run_time_call(s, lambda a: _names_in([a]) & self.active)

        def build(v):  # (v: the call as the primal sweep has it, on copies where it copies)
            args, keywords = run_time_arguments(v, helper)
            return call(self.rt(f"{helper}_fwd"), [clone(v.func)] + clone(lead) +
                        args, keywords)

        saved = self.saved_state(s, target, build)
        grads = self.names.fresh("grads")
        run = call(self.rt(f"{helper}_bwd"), [gast.Subscript(value=load(saved), slice=const(1),
                                                             ctx=gast.Load())])
        run.keywords.append(gast.keyword(arg="out_bar", value=g))
        out = [assign(grads, run, s)]
        for k, arg in enumerate(syntax):
            item = gast.Subscript(value=load(grads), slice=const(k), ctx=gast.Load())
            out.extend(self.distribute(arg, item, s, gast.unparse(s.value.func)))
        return out

    def adjoint_receiver_call(self, s, g, target, receiver):
        """``t = model.forward(a)`` or ``t = layer(a)`` with the object itself carrying
        derivatives (a model the gradient is taken with respect to, a layer of it): the primal runs
        ``_sd.dynamic_fwd(_sd.method_call, (0, ...), model, "forward", a)`` (or the callable
        object marked -1), whose forms take the object as an active first argument; its gradient
        goes to ``receiver``."""
        value = s.value
        positions = [k for k, a in enumerate(value.args) if _names_in([a]) & self.active]
        names = [k.arg for k in value.keywords if _names_in([k.value]) & self.active]
        method = isinstance(value.func, gast.Attribute)
        if method:  # model.forward(x): _sd.method_call(model, "forward", x), model active
            active = const((0,) + tuple(k + 2 for k in positions) + tuple(names))
        else:  # (-1: layer(x)'s layer carries derivatives too)
            active = const((-1,) + tuple(positions) + tuple(names))

        def build(v):
            if method:
                return call(self.rt("dynamic_fwd"), [
                    self.rt("method_call"), active, clone(v.func.value),
                    const(v.func.attr)] + list(v.args), list(v.keywords))
            return call(self.rt("dynamic_fwd"), [clone(v.func), active] + list(v.args),
                        list(v.keywords))

        saved = self.saved_state(s, target, build)
        grads = self.names.fresh("grads")
        run = call(self.rt("dynamic_bwd"), [gast.Subscript(value=load(saved), slice=const(1),
                                                           ctx=gast.Load())])
        run.keywords.append(gast.keyword(arg="out_bar", value=g))
        out = [assign(grads, run, s)]
        syntax = [receiver] + [value.args[k] for k in positions] + \
            [k.value for k in value.keywords if k.arg in names]
        for k, arg in enumerate(syntax):
            item = gast.Subscript(value=load(grads), slice=const(k), ctx=gast.Load())
            out.extend(self.distribute(arg, item, s, gast.unparse(value.func)))
        return out

    def saved_state(self, s, target, build):
        """A fresh local that holds what ``t = call(...)``'s forward form saved, assigned where t
        is (so it is pushed in loops like t); ``build(call)`` makes the primal's call. Returns
        its name."""
        saved = self.names.fresh("saved")
        self.locals.add(saved)
        self.assign_counts[saved] = self.assign_counts.get(target, 1)
        if target in self.loop_assigned:
            self.loop_assigned.add(saved)
        self.split_calls[id(s)] = (saved, build)
        return saved

    def split_primal(self, s):
        """``t = helper(a)`` as ``_saved = helper_fwd(a); t = _saved[0]`` (see adjoint_user_call)."""
        saved, build = self.split_calls[id(s)]
        first = self.on_copies(s)
        run = copy.copy(first)
        run.value = build(first.value)
        run.targets = [store(saved)]
        value = gast.Subscript(value=load(saved), slice=const(0), ctx=gast.Load())
        return [located(run, s), located(gast.Assign(targets=clone(s.targets), value=value,
                                                     type_comment=None), s)]

    def distribute(self, arg, contribution, s, what, broadcast=False):
        """Accumulate a contribution into the active names of one argument's syntax."""
        if isinstance(arg, gast.Name):
            if arg.id not in self.active:
                return []
            if broadcast:
                contribution = call(self.rt("unbroadcast"), [contribution, load(arg.id)])
            return [self.accumulate(arg.id, contribution, s)]
        if isinstance(arg, (gast.List, gast.Tuple)):
            parts = self.names.fresh("parts")
            out = [assign(parts, contribution, s)]
            for k, elt in enumerate(arg.elts):
                if _names_in([elt]) & self.active:
                    # (item_grad: the parts may be the symbolic zero 0.0 of a container no
                    # gradient reaches, as the aux half of sd.grad(f, has_aux=True))
                    item = call(self.rt("item_grad"), [load(parts), const(k)])
                    out.extend(self.distribute(elt, item, s, what))
            return out
        if isinstance(arg, gast.Dict) and all(isinstance(k, gast.Constant) for k in arg.keys):
            parts = self.names.fresh("parts")  # (a **kwargs parameter's dict of the values)
            out = [assign(parts, contribution, s)]
            for key, value in zip(arg.keys, arg.values):
                if _names_in([value]) & self.active:
                    item = call(self.rt("item_grad"), [load(parts), const(key.value)])
                    out.extend(self.distribute(value, item, s, what))
            return out
        if not (_names_in([arg]) & self.active):
            return []
        self.refuse_argument(arg, s, what)

    def adjoint_rule(self, op, s, g, ans):
        if op.rule.pair_jvp is not None:  # (sd.custom_jvp: a forward rule only)
            name = getattr(op.key, "__qualname__", op.name)
            raise NoRuleError(
                f"{self.parsed.where(s)}: {name} has a custom jvp rule (@sd.custom_jvp) and no vjp "
                f"rule, so reverse mode cannot differentiate it: sourcediff does not transpose a "
                f"custom jvp.\n    {self.parsed.line_text(s)}\nGive {name} a vjp with "
                f"@sd.custom_vjp and .defvjp (and .defjvp for forward mode), or use forward mode "
                f"(sd.jvp, sd.jacobian(f, mode='forward'), sd.grad(f, mode='forward'))")
        q = quote.quoted(op.rule.vjp)
        if not _zero_safe(q, op.rule):
            # the result's gradient may be the symbolic zero 0.0 (a path or tuple element that
            # does not reach the output): this rule needs it shaped like the result
            g = call(self.rt("dense_grad"), [g, ans])
        bound = self.bind(op, q, s)
        self.refuse_keyword_operands(op, q, bound, s)
        if quote.may_cast(op.key, q, bound):  # (x.astype(int): no gradient passes)
            g = call(self.rt("cast_grad"), [g, ans])
        slots = quote.slots(q, bound)
        wanted = [pos for pos, arg in enumerate(slots)
                  if op.rule.differentiable(pos) and _names_in([arg]) & self.active]
        prelude, contribs = quote.inline(q, g, ans, bound, wanted, self.names.fresh,
                                         self.globals.name, self.globals)
        out = [located(p, s) for p in prelude]
        for pos, twice in _same_contributions(wanted, slots, contribs):
            contribution = contribs[pos]
            if twice:  # (x * x, x + x: one term times 2, which c + c equals bit for bit)
                contribution = gast.BinOp(left=contribution, op=gast.Mult(), right=const(2))
            out.extend(self.distribute(slots[pos], contribution, s, op.name,
                                       broadcast=op.rule.broadcast))
        return out

    def adjoint_setitem(self, s):
        """``y[idx] = v``: v gets ``y_bar[idx]``, and the overwritten part of y gets no gradient."""
        target = s.targets[0]
        base = target.value.id
        bar = self.bar(base)
        out, tail = [], []
        index = clone(target.slice)
        if isinstance(index, gast.Slice) and base in self.sequences:
            # (a name that may hold a list: one that may hold an array too, as an item of a
            # list of arrays does, is refused by zero_at when it runs on a list)
            raise SourcediffSyntaxError(
                f"{self.parsed.where(s)}: sourcediff's reverse mode does not differentiate an "
                f"assignment to a slice of a list ({base}[i:j] = [...]), which may change the "
                f"list's length; build the new list instead ({base} = {base}[:i] + [...] + "
                f"{base}[j:]), or use forward mode.\n    {self.parsed.line_text(s)}")
        if isinstance(s.value, gast.Name) and s.value.id in self.active:
            # (cast_grad: y[idx] = v into an integer array truncates v, which gets nothing)
            part = call(self.rt("cast_grad"), [call(self.rt("item_grad"), [
                load(bar), resolve_index(clone(index))]), load(base)])
            if s.value.id == base:  # y[idx] = y: take the part before zeroing, add it after
                saved = self.names.fresh("part")
                out.append(assign(saved, part, s))
                part = load(saved)
            tail.append(self.accumulate(s.value.id,
                                        call(self.rt("unbroadcast"), [part, load(s.value.id)]), s))
        elif isinstance(s.value, (gast.List, gast.Tuple)) and _names_in([s.value]) & self.active:
            # (a[1:3] = [u, v]: the items get the entries of a_bar[1:3], summed to the list's
            # shape where numpy broadcast it)
            part = call(self.rt("cast_grad"), [call(self.rt("item_grad"), [
                load(bar), resolve_index(clone(index))]), load(base)])
            items = call(self.rt("assigned_items_grad"), [part, clone(s.value)])
            tail.extend(self.distribute(s.value, items, s, "an item assignment"))
        zero = assign(bar, call(self.rt("zero_at"), [load(bar), load(base), resolve_index(index)]),
                      s)
        if tail and isinstance(s.value, gast.Name) and s.value.id == base:
            return out + [zero] + tail
        return out + tail + [zero]

    # ------------------------------------------------------------------ sweeps

    def build(self):
        """The :class:`Sweeps` of the function body: its primal and adjoint statements."""
        adjoints = {}
        self.unreached = unreached(self.body + [self.ret_stmt], self.ops, self.active)
        self.collect(self.body, adjoints)
        reads = set()
        for stmts in adjoints.values():
            for st in stmts:
                reads |= _loads(st)
        self.needed = (reads | self.foreign_popped()) & self.locals
        while True:  # a branch is replayed when its adjoint does anything, pops included
            more = _loads_of_tests(self.body, adjoints, self.needed) & self.locals
            more |= self.loads_of_restores(self.body) & self.locals
            more |= self.writes_into_needed()
            if more <= self.needed:
                break
            self.needed |= more
        self.first_bindings = _first_bindings(self.body, set(self.params))
        self.pushed_old = set()
        self.adjoints = adjoints
        self.undone = set()
        self.restored = set()
        primal = self.primal_block(self.body, depth=0)
        adjoint = self.adjoint_block(self.body, adjoints, depth=0)
        given, returned = self.given_lists(self.undone)
        return Sweeps(primal, adjoint, frozenset(self.needed), frozenset(self.pushed_old),
                      frozenset(given), frozenset(returned), frozenset(self.restored))

    def given_lists(self, names):
        """The lists among ``names`` (those whose appends and pops the adjoint sweep undoes) that
        the function was given, reads from what it was given (``inner = ls[0]``) or returns,
        bound once outside loops: the adjoint sweep undoes its changes on a copy of each, so the caller's
        list ends as a plain call leaves it (appended to, popped from)."""
        built, held = set(), {}
        for node in walk(gast.Module(body=self.body, type_ignores=[])):
            if isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Name):
                op = self.ops.get(id(node))
                if op is not None and op.kind == "container":
                    built.add(node.targets[0].id)
                if op is not None and op.kind in ("container", "copy"):
                    held.setdefault(node.targets[0].id, set()).update(_names_in(op.args))
        returned, todo = set(), list(_names_in([self.result]))
        while todo:  # (a list built here and returned, has_aux's (loss, L), is the caller's too)
            n = todo.pop()
            if n not in returned:
                returned.add(n)
                todo.extend(held.get(n, ()))
        once = {n for n in names if n not in self.loop_assigned
                and self.assign_counts.get(n, 0) <= 1}
        return once - built, once & built & returned

    def foreign_popped(self):
        """In generated code differentiated again: the lists it pops from that it did not build
        (a backward form popping a list its forward form saved). The caller's adjoint sweep reads
        such a list after this one's, so this sweep puts back what the pops took, needed here or
        not. (In a user's function, a pop from a list it was given is checked by the alias stage.)"""
        if self.parsed.filename not in GENERATED_LINES:
            return set()
        popped, built, other = set(), set(), set(self.params)
        for node in walk(gast.Module(body=self.body, type_ignores=[])):
            if isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Name):
                op = self.ops.get(id(node))
                if op is None:
                    continue
                (built if op.kind == "container" else other).add(node.targets[0].id)
                if _container_pop(op, self.containers):
                    popped.add(op.args[0].id)
        return {name for name in popped if name in other or name not in built}

    def loads_of_restores(self, stmts):
        """Names read by what the adjoint sweep adds besides the contributions: the index of a
        restored item (``v[i] = _stack.pop()`` reads ``i``, which must then hold the value of its
        pass) and the value a popped list gets back (``lst.append(a)`` undoes ``a = lst.pop()``)."""
        out = set()
        for s in stmts:
            if isinstance(s, gast.Assign):
                target = s.targets[0]
                if isinstance(target, gast.Subscript):
                    if target.value.id in self.needed:
                        out |= _loads(target.slice)
                elif _container_pop(self.ops[id(s)], self.containers) and \
                        self.ops[id(s)].args[0].id in self.needed:
                    out.add(target.id)
            elif isinstance(s, gast.If):
                out |= self.loads_of_restores(s.body) | self.loads_of_restores(s.orelse)
            elif isinstance(s, (gast.For, gast.While)):
                out |= self.loads_of_restores(s.body)
        return out

    def adjoint_append(self, s, obj):
        """``lst.append(v)``: v gets the last entry of lst's gradient, which then drops it."""
        bar = self.bar(obj)
        out = []
        for arg in s.value.args:
            item = call(self.rt("item_grad"), [load(bar), const(-1)])
            out.extend(self.distribute(arg, item, s, "append"))
        out.append(assign(bar, call(self.rt("drop_last"), [load(bar)]), s))
        return out

    def collect(self, stmts, adjoints):
        for s in stmts:
            if isinstance(s, gast.Expr) and _method_call(s, self.locals):
                obj, method = _method_call(s, self.locals)
                if method == "append" and obj in self.active:
                    adjoints[id(s)] = self.adjoint_append(s, obj)
            elif isinstance(s, gast.Assign):
                target = s.targets[0]
                if isinstance(target, gast.Name):
                    op = self.ops[id(s)]
                    if target.id in self.active:
                        adjoints[id(s)] = self.adjoint_assign(s)
                    elif _container_pop(op, self.containers) and op.args[0].id in self.active:
                        # (a value popped and dropped: the list's gradient still grows back)
                        adjoints[id(s)] = [self.adjoint_pop(op.args[0].id, const(ZERO), s)]
                elif target.value.id in self.active:
                    adjoints[id(s)] = self.adjoint_setitem(s)
            elif isinstance(s, gast.If):
                self.collect(s.body, adjoints)
                self.collect(s.orelse, adjoints)
            elif isinstance(s, (gast.For, gast.While)):
                self.collect(s.body, adjoints)

    def needs_save(self, name, in_loop, first=False):
        """Whether assigning ``name`` must first push its old value for the adjoint sweep.

        ``first`` says this is the first binding of ``name`` in program order, outside loops: there
        is no old value to keep.
        """
        if first:
            return False
        return name in self.needed and (in_loop or self.assign_counts.get(name, 0) > 1)

    def primal_block(self, stmts, depth):
        out = []
        for s in stmts:
            out.extend(self.line_comment(s))
            if isinstance(s, gast.Assign):
                target = s.targets[0]
                if isinstance(target, gast.Name):
                    if self.needs_save(target.id, depth > 0, id(s) in self.first_bindings):
                        self.pushed_old.add(target.id)
                        out.append(self.push(load(target.id), s))
                    if id(s) in self.split_calls:
                        saved = self.split_calls[id(s)][0]
                        if self.needs_save(saved, depth > 0, id(s) in self.first_bindings):
                            self.pushed_old.add(saved)
                            out.append(self.push(load(saved), s))
                        out.extend(self.split_primal(s))
                        continue
                elif target.value.id in self.needed and self.may_be_container(target.value.id,
                                                                             target.slice):
                    # (a dict may get a new key: the sweep then removes it again)
                    out.append(self.push(call(self.rt("saved_item"), [
                        load(target.value.id), resolve_index(clone(target.slice))]), s))
                elif target.value.id in self.needed:
                    part = gast.Subscript(value=load(target.value.id),
                                          slice=clone(target.slice), ctx=gast.Load())
                    out.append(self.push(call(self.rt("copy"), [part]), s))
                out.append(self.on_copies(s))
            elif self.restored_item(s) is not None:
                # (a gradient differentiated again: _sd.restore_item(d, k, v) puts back what d[k] = v
                # overwrote, or deletes the key it added; this sweep puts back what it changed)
                obj, key = self.restored_item(s)
                out.append(self.push(call(self.rt("saved_item"), [load(obj), clone(key)]), s))
                out.append(self.on_copies(s))
            elif isinstance(s, gast.If):
                out.append(located(gast.If(test=s.test, body=self.primal_block(s.body, depth),
                                           orelse=self.primal_block(s.orelse, depth)), s))
            elif isinstance(s, (gast.For, gast.While)):
                out.extend(self.primal_loop(s, depth))
            else:
                out.append(self.on_copies(s))
        return out

    def restored_item(self, s):
        """(container, key) of a statement ``_sd.restore_item(container, key, value)`` (generated
        code differentiated again) whose container the adjoint sweep reads, else None."""
        value = s.value if isinstance(s, gast.Expr) else None
        if not (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute)
                and value.func.attr == "restore_item" and isinstance(value.func.value, gast.Name)
                and self.globals.user_lookup(value.func.value.id) is runtime and len(value.args) == 3
                and isinstance(value.args[0], gast.Name) and value.args[0].id in self.needed):
            return None
        return value.args[0].id, value.args[1]

    def put_back(self, target, s):
        """What ``d[k] = v`` overwrote, put back from the stack: ``d[k] = old`` (the item store
        forward mode and a second reverse sweep differentiate, tangent and gradient of ``old``
        included), or ``_sd.restore_item`` removing the key the store added to a dict."""
        old = self.names.fresh("old")
        self.locals.add(old)
        base, index = target.value.id, resolve_index(clone(target.slice))
        item = gast.Subscript(value=load(base), slice=clone(index), ctx=gast.Store())
        test = gast.Compare(left=load(old), ops=[gast.Is()], comparators=[self.rt("MISSING")])
        removal = gast.Expr(value=call(self.rt("restore_item"), [load(base), index, load(old)]))
        return [assign(old, call(attr(load(self.stack_name()), "pop"), []), s),
                located(gast.If(test=test, body=[located(removal, s)], orelse=[located(
                    gast.Assign(targets=[item], value=load(old), type_comment=None), s)]), s)]

    def may_be_container(self, name, index):
        """Whether ``name[index] = v`` may write into a list, tuple or dict (a container the
        function builds, a name subscripted with a string, ``d["k"] = v``, or a parameter written
        at an index a dict could have: ``d[k] = v`` in a helper given a dict). It is then saved
        with ``saved_item``, which also undoes a key a dict did not have; a parameter written at
        a slice (``x[1:] = v``, ``x[:, j] = v``) is an array's or a list's, whose item exists."""
        return name in self.containers or (name in self.params and not _slicing(index))

    def trip_name(self, s):
        key = ("trip", id(s))
        if key not in self.bars:
            self.bars[key] = self.names.fresh("n")
        return self.bars[key]

    def primal_loop(self, s, depth):
        trips = self.trip_name(s)
        body = [assign(trips, add(load(trips), const(1)), s)]
        inner = self.primal_block(s.body, depth + 1)
        tail = []
        if inner and isinstance(inner[-1], gast.If) and len(inner[-1].body) == 1 \
                and isinstance(inner[-1].body[0], gast.Break):
            tail = [inner.pop()]
        body += inner
        before = [assign(trips, const(0), s)]
        # a loop whose adjoint does nothing records nothing (its pushes would never be popped)
        has_adjoint = bool(self.adjoint_loop(s, self.adjoints, depth))
        if isinstance(s, gast.For):
            var = s.target.id
            if var in self.needed and has_adjoint:
                body.append(self.push(load(var), s))
                if self.assign_counts.get(var, 0) > 1:
                    self.pushed_old.add(var)
                    before.insert(0, self.push(load(var), s))
            loop = gast.For(target=s.target, iter=s.iter, body=body + tail, orelse=[],
                            type_comment=None)
        else:
            loop = gast.While(test=s.test, body=body + tail, orelse=[])
        after = [self.push(load(trips), s)] if depth > 0 and has_adjoint else []
        return before + [located(loop, s)] + after

    def adjoint_block(self, stmts, adjoints, depth):
        out = []
        for s in reversed(stmts):
            if isinstance(s, gast.Assign):
                target = s.targets[0]
                block = list(adjoints.get(id(s), []))
                if isinstance(target, gast.Name):
                    op = self.ops[id(s)]
                    if _container_pop(op, self.containers) and op.args[0].id in self.needed:
                        self.undone.add(op.args[0].id)
                        push_back = call(attr(load(op.args[0].id), "append"), [load(target.id)])
                        block.append(located(gast.Expr(value=push_back), s))
                    if self.needs_save(target.id, depth > 0, id(s) in self.first_bindings):
                        block.append(self.pop(store(target.id), s))
                    if id(s) in self.split_calls:
                        saved = self.split_calls[id(s)][0]
                        if self.needs_save(saved, depth > 0, id(s) in self.first_bindings):
                            block.insert(len(block) - 1 if self.needs_save(
                                target.id, depth > 0, id(s) in self.first_bindings) else len(block),
                                self.pop(store(saved), s))
                elif target.value.id in self.needed and self.may_be_container(target.value.id,
                                                                             target.slice):
                    self.restored.add(target.value.id)
                    block.extend(self.put_back(target, s))
                elif target.value.id in self.needed:
                    self.restored.add(target.value.id)
                    block.append(self.pop(gast.Subscript(value=load(target.value.id),
                                                         slice=clone(target.slice),
                                                         ctx=gast.Store()), s))
                if block:
                    out.append(self.grad_comment(s))
                    out.extend(block)
            elif self.restored_item(s) is not None:
                obj, key = self.restored_item(s)
                self.restored.add(obj)
                restore = call(self.rt("restore_item"), [load(obj), clone(key), call(
                    attr(load(self.stack_name()), "pop"), [])])
                out.append(self.grad_comment(s))
                out.append(located(gast.Expr(value=restore), s))
            elif isinstance(s, gast.Expr) and _method_call(s, self.locals):
                obj, method = _method_call(s, self.locals)
                block = list(adjoints.get(id(s), []))
                if method == "append" and obj in self.needed:
                    self.undone.add(obj)
                    block.append(located(gast.Expr(value=call(attr(load(obj), "pop"), [])), s))
                if block:
                    out.append(self.grad_comment(s))
                    out.extend(block)
            elif isinstance(s, gast.If):
                body = self.adjoint_block(s.body, adjoints, depth)
                orelse = self.adjoint_block(s.orelse, adjoints, depth)
                if _has_code(body) or _has_code(orelse):
                    out.append(located(gast.If(test=s.test, body=body or [gast.Pass()],
                                               orelse=orelse), s))
            elif isinstance(s, (gast.For, gast.While)):
                out.extend(self.adjoint_loop(s, adjoints, depth))
        return out

    def adjoint_loop(self, s, adjoints, depth):
        trips = self.trip_name(s)
        inner = self.adjoint_block(s.body, adjoints, depth + 1)
        var = s.target.id if isinstance(s, gast.For) else None
        body = []
        if var is not None and var in self.needed:
            body.append(self.pop(store(var), s))
        if not _has_code(inner) and not body:
            return []
        out = [self.grad_comment(s)]
        if depth > 0:
            out.append(self.pop(store(trips), s))
        if self.counter is None:
            self.counter = self.names.exact("_")  # the adjoint loops' unused counter
        loop = gast.For(target=store(self.counter), iter=call(load("range"), [load(trips)]),
                        body=body + inner, orelse=[], type_comment=None)
        out.append(located(loop, s))
        if var is not None and var in self.pushed_old:
            out.append(self.pop(store(var), s))
        return out

    def grad_comment(self, s):
        """``# grad of: <user line>  (file.py:NN)`` above the adjoint code of a user line."""
        return comment_at(self.origin(s, grad=True))


def _with_func(value, func):
    new = copy.copy(value)
    new.func = func
    return new


def _slicing(index):
    """Whether a subscript's index holds a slice, ``...`` or ``None`` (no dict's key)."""
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    return any(isinstance(p, gast.Slice) or (isinstance(p, gast.Constant) and (
        p.value is None or p.value is Ellipsis)) for p in parts)


def _container_pop(op, containers):
    """True for ``v = lst.pop()`` on a list (the stacks of generated code)."""
    return (op.kind == "unknown" and isinstance(op.key, str) and op.key == "pop"
            and not op.args[1:] and not op.keywords
            and isinstance(op.args[0], gast.Name) and op.args[0].id in containers)


def _zero_safe(q, rule):
    """True when the vjp rule ``q`` gives right contributions (0.0, or zeros that broadcast to the
    argument) for the symbolic zero gradient 0.0: as the rule declares (``zero_safe``), else when
    it uses the gradient only in arithmetic, or as the first argument of a helper that passes the
    symbolic zero on (``passes_zero``; or in np.where for a pointwise rule)."""
    if rule.zero_safe is not None:
        return rule.zero_safe
    if not isinstance(q, quote.QuotedRule) or isinstance(q, quote.CalledRule):
        return False
    g = q.params[0]
    trees = list(q.prelude) + [q.result]
    parents = {}
    for tree in trees:
        for node in walk(tree):
            for child in children(node):
                parents[id(child)] = node
    pointwise = rule.kind == "elementwise" or rule.broadcast
    for tree in trees:
        for node in walk(tree):
            if isinstance(node, gast.Name) and node.id == g and \
                    not _zero_safe_use(node, parents, q.result, pointwise, q.fn.__globals__):
                return False
    return True


def _zero_safe_use(node, parents, result, pointwise, namespace):
    while True:
        parent = parents.get(id(node))
        if parent is None:
            return node is result
        if parent is result and isinstance(parent, gast.Tuple):
            return True
        if isinstance(parent, gast.UnaryOp) or (isinstance(parent, gast.BinOp)
                                                and not isinstance(parent.op, gast.MatMult)):
            node = parent
            continue
        if isinstance(parent, gast.Call) and isinstance(parent.func, gast.Attribute) \
                and isinstance(parent.func.value, gast.Name):
            helper = getattr(namespace.get(parent.func.value.id), parent.func.attr, None)
            if registry.facts(helper).passes_zero and parent.args and parent.args[0] is node:
                return True
            if helper is np.where and pointwise and node in parent.args[1:]:
                node = parent
                continue
        return False


def _loads(node):
    return {n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _loads_of_tests(stmts, adjoints, needed):
    """Names read by the tests of branches whose adjoint does any work (the adjoint replays them)."""
    out = set()
    for s in stmts:
        if isinstance(s, gast.If):
            if _any_work(s.body + s.orelse, adjoints, needed):
                out |= _loads(s.test)
            out |= _loads_of_tests(s.body, adjoints, needed)
            out |= _loads_of_tests(s.orelse, adjoints, needed)
        elif isinstance(s, (gast.For, gast.While)):
            out |= _loads_of_tests(s.body, adjoints, needed)
    return out


def _any_work(stmts, adjoints, needed):
    """Whether the adjoint of ``stmts`` may do anything: contributions, or restoring values."""
    for s in stmts:
        if id(s) in adjoints:
            return True
        if isinstance(s, gast.Assign):
            target = s.targets[0]
            name = target.id if isinstance(target, gast.Name) else target.value.id
            if name in needed:
                return True
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and \
                isinstance(s.value.func, gast.Attribute) and \
                isinstance(s.value.func.value, gast.Name) and s.value.func.value.id in needed:
            return True
        if isinstance(s, gast.If) and _any_work(s.body + s.orelse, adjoints, needed):
            return True
        if isinstance(s, (gast.For, gast.While)) and _any_work(s.body, adjoints, needed):
            return True
    return False


def _first_bindings(stmts, bound):
    """ids of top-level assignments that bind a name for the first time in program order."""
    out = set()
    for s in stmts:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            if s.targets[0].id not in bound:
                out.add(id(s))
        bound |= {n.id for n in walk(s)
                  if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    return out


def _has_code(stmts):
    return any(not is_comment(s) for s in stmts)


def _same_contributions(wanted, slots, contribs):
    """(position, twice) for each rule position a contribution goes to: where one name fills two
    positions with the same contribution (``x * x``: ``g * x`` for each), the first stands for
    both (twice True) and the second is dropped, so ``x_bar`` gets ``g * x * 2`` as one term."""
    out, seen = [], {}
    for pos in wanted:
        arg = slots[pos]
        key = (arg.id, gast.dump(contribs[pos])) if isinstance(arg, gast.Name) else None
        if key is not None and key in seen and not out[seen[key]][1]:
            out[seen[key]] = (out[seen[key]][0], True)
            continue
        if key is not None:
            seen[key] = len(out)
        out.append((pos, False))
    return out
