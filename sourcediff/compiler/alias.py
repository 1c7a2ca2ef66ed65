"""Alias stage: in-place writes that numpy would make visible through another name are refused.

sourcediff gives every name its own value: ``v += e`` becomes ``v = v + e``, and the adjoint of
``a[i] = e`` treats the write as a change of ``a`` alone. That is numpy's meaning unless the written
memory is also reachable through another name that is read afterwards::

    w = z[1:3]          w = z               y = x.reshape(8)
    w += 1.0            z[0] = 5.0          x[2] += 1.0
    return z.sum()      return w.sum()      return y.sum()

numpy changes ``z``, ``w`` and ``y`` there; the generated code would not (or its adjoint would not
know), so the gradient would be silently wrong. This stage finds, for each write, the names that may
share memory with the written one (flow-insensitively: through copies, subscripts, attributes, views,
containers and calls) and that are live after the write, and puts ``_sd.check_alias`` (for
``v op= e``) or ``_sd.check_alias_at`` (for ``a[i] = e``) in front of it. At run time the check looks
at the memory itself (``np.shares_memory`` of the written region) and raises :class:`AliasError` at
the user's line when the write really reaches a name that is read later. Writes that no other live
name can see get no check at all, so loops over fresh values (``total += ...``) cost nothing.
"""

import functools
import inspect
import math
import weakref

import gast
import numpy as np

from ..rules import registry
from ..rules.facts import CONTAINER_ONLY_METHODS, METHODS, writes_in_place
from ..runtime.dynamic import code_signature
from ..syntax import _names_in, children, clone, live_in, walk
from .normalize import ALIAS_MARKER, call, const, load, located
from .optimize import _loads
from .outer_writes import outer_write_check
from .parse import GENERATED_LINES, parse_function, unwrap
from .reach import array_names, bound_once, bound_only, collected, fresh_result, item_sources
from .reach import later_item_keys, merged, new_container, note_join_links, note_joins
from .reach import params_reached, reached as _reached, receiver_root, repeats_items, seen_by_callers
from .resolve import MethodOf, Resolver, method_of, user_op


class AliasPass:
    """Puts the run-time alias checks into a normalized FunctionDef (in place)."""

    def __init__(self, parsed, fdef, rt_name):
        self.parsed = parsed
        self.fdef = fdef
        self.rt = rt_name
        self.params = [a.id for a in fdef.args.args]
        self.bound = {n.id for n in walk(fdef.args) if isinstance(getattr(n, "ctx", None), gast.Param)}
        self.locals = {n.id for n in walk(fdef)
                       if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param))}
        self.resolver = Resolver(parsed, self.locals)
        # arrays, lists, dicts and objects holding them that the function reads from its module
        # or an enclosing function: a write through a local view of one (P = BOX.d; P["w"] = w)
        # changes data that outlives the call, and that a method may read (BOX.read(x))
        self.outer = set()
        for n in walk(fdef):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and \
                    n.id not in self.locals and _holds_data(self.resolver.lookup(n.id)):
                self.outer.add(n.id)
            elif isinstance(n, gast.Attribute) and _root(n) not in self.locals and \
                    _holds_data(self.resolver.static_value(n)):
                # data reached through a module or a class (cfg.W, Model.W): outer too
                self.outer.add(_root(n))
        self.edges = {}
        self.view_edges = {}  # (the links of names bound to a value, not of container stores)
        self.sources = {}  # name -> the names it may be, hold or be a view of
        self.bound_from = []  # (name, names it may view, the binding's place, whether items only)
        self.order = {}  # id(statement) -> (its place in the body, id of its outermost loop)
        self.containers = set()
        self.user_names = {n.id for n in walk(parsed.node) if isinstance(n, gast.Name)}
        self.lives = {}  # frozenset of skipped statements -> {id(statement): live names after}
        self.defs = {}  # name -> [(binding statement, enclosing loop or None)]

    # ------------------------------------------------------------------ may-share relation

    def link(self, a, names, view=False):
        for b in names:
            if b != a and (b in self.locals or b in self.outer):
                self.sources.setdefault(a, set()).add(b)  # (a may be, hold or view b)
                for edges in (self.edges, self.view_edges) if view else (self.edges,):
                    edges.setdefault(a, set()).add(b)
                    edges.setdefault(b, set()).add(a)

    def relate(self, stmts, loop=None):
        for s in stmts:
            self.order[id(s)] = (len(self.order), loop)
            if isinstance(s, gast.Assign):
                target = s.targets[0]
                if isinstance(target, gast.Name):
                    shared = self.shared_by(s.value) & (self.locals | self.outer)
                    self.link(target.id, shared, view=True)
                    self.bound_from.append((target.id, shared - {target.id}, self.order[id(s)], (
                        isinstance(s.value, gast.BinOp) or _fresh_call(s.value, self.resolver))))
                elif isinstance(target.value, gast.Name):  # a list or object array holds the value
                    self.link(target.value.id, _loads(s.value))
            elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) \
                    and isinstance(s.value.func, gast.Attribute) \
                    and isinstance(s.value.func.value, gast.Name):
                self.link(s.value.func.value.id, _loads(s.value))  # lst.append(v), d.update(...)
            elif isinstance(s, gast.If):
                self.relate(s.body, loop)
                self.relate(s.orelse, loop)
            elif isinstance(s, (gast.For, gast.While)):
                self.relate(s.body, id(s) if loop is None else loop)

    def shared_by(self, value):
        """Local names whose memory the result of ``value`` may share."""
        if isinstance(value, (gast.Constant, gast.Compare)):
            return set()
        if isinstance(value, gast.UnaryOp):
            return set()
        if isinstance(value, gast.BinOp):
            # list + list and tuple * n hold the same elements, also of literal operands
            # ((z,) + (s,) holds z itself); ws + ws, d | e of names not known to hold arrays:
            # their type decides, which the run-time check sees (reach.item_sources)
            if isinstance(value.op, (gast.Add, gast.Mult, gast.BitOr)):
                out = item_sources(value) - self.arrays
                for side in (value.left, value.right):
                    if isinstance(side, (gast.Tuple, gast.List)):
                        out |= _loads(side)
                    elif isinstance(side, gast.Name) and side.id in self.containers:
                        out.add(side.id)
                return out
            return set()
        if isinstance(value, gast.Subscript):
            return _loads(value.value)
        if isinstance(value, gast.Call):
            if _fresh_call(value, self.resolver):  # (but ws.copy(), sorted(ws) of a list)
                return item_sources(value) - self.arrays
            return _loads(value)
        return _loads(value)  # names, attributes, containers, boolean operators

    def find_containers(self, stmts):
        for s in stmts:
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                v = s.value
                if isinstance(v, (gast.List, gast.Tuple, gast.Dict, gast.ListComp, gast.SetComp,
                                  gast.DictComp, gast.GeneratorExp)) \
                        or (isinstance(v, gast.Call) and isinstance(v.func, gast.Name)
                            and v.func.id in ("list", "tuple", "dict", "zip", "enumerate")):
                    self.containers.add(s.targets[0].id)
            elif isinstance(s, gast.If):
                self.find_containers(s.body)
                self.find_containers(s.orelse)
            elif isinstance(s, (gast.For, gast.While)):
                self.find_containers(s.body)

    def closure(self, name, edges=None):
        """The names that may share memory with ``name`` through ``edges`` (view links), or over
        all links: those ``name`` may be, hold or view, and those that may be, hold or view one of
        these (not through one bound from two: ``v = d.get(k, w)`` does not join d, k and w)."""
        if edges is not None:
            return _reached([name], edges)
        down = {}
        for a, bs in self.sources.items():
            for b in bs:
                down.setdefault(b, set()).add(a)
        return _reached(_reached([name], self.sources), down)

    def near(self, name):
        """The names that may share memory with ``name`` written in place by ``name op= e`` or by
        a call: its closure, and every parameter when one of them is in it (another parameter
        may be a view of it, ``f(a, a[1:])``, which numpy's write would change too; a subscript
        write into a parameter is copy_param's, which checks the same)."""
        near = self.closure(name)
        return near | set(self.params) if near & set(self.params) else near

    # ------------------------------------------------------------------ liveness

    def live_after(self, skip=frozenset()):
        """{id(statement): names live after it}, with the statements in ``skip`` read nothing."""
        key = frozenset(skip)
        if key not in self.lives:
            record = {}
            # (faint: an assignment to a dead name reads nothing; a marker reads its name, since a
            # later v op= e writes through whatever v still shares, so v's memory matters even
            # when its new value is never read)
            live_in(self.fdef.body, set(), faint=True, skip=key, record=record)
            self.lives[key] = record
        return self.lives[key]

    # ------------------------------------------------------------------ rewriting

    def run(self):
        body = self.fdef.body
        self.arrays = array_names(self.fdef, self.params,
                                  lambda v: _fresh_call(v, self.resolver))
        self.find_containers(body)
        self.relate(body)
        self.find_defs(body, None)
        self.fresh = self.find_fresh()
        self.fdef.body = self.rewrite(body)
        return self.fdef

    def find_defs(self, stmts, loop):
        """Each name's binding statements, and the loops whose item bindings they are."""
        for s in stmts:
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                self.defs.setdefault(s.targets[0].id, []).append((s, loop))
            elif isinstance(s, gast.If):
                self.find_defs(s.body, loop)
                self.find_defs(s.orelse, loop)
            elif isinstance(s, (gast.For, gast.While)):
                if isinstance(s, gast.For):
                    self.defs.setdefault(s.target.id, []).append((s, loop))
                self.find_defs(s.body, s)

    def item_skip(self, name):
        """The item bindings (``row = seq[k]``) of ``name`` when every other binding of it is a
        fresh value: writing into the current item of a sequence cannot reach the items that later
        steps read from it, so those reads do not count."""
        items = []
        for s, _loop in self.defs.get(name, ()):
            if getattr(s, "sd_loop_item", False):
                items.append(id(s))
            elif not (isinstance(s, gast.Assign) and self.shared_by(s.value) <= self.fresh):
                return frozenset()
        return frozenset(items)

    def find_fresh(self):
        """Names every binding of which makes a new value (an operation, or a copy of such a
        name): nothing else shares their memory unless it is assigned from them."""
        fresh = set()
        candidates = {n for n, entries in self.defs.items()
                      if n not in self.params
                      and all(isinstance(s, gast.Assign) for s, _ in entries)}
        changed = True
        while changed:
            changed = False
            for n in candidates - fresh:
                if all(self.shared_by(s.value) <= fresh for s, _ in self.defs[n]):
                    fresh.add(n)
                    changed = True
        return fresh

    def rewrite(self, stmts):
        out = []
        literal = {}  # id of a whole write's `a = _sd_write_into(a, ...)` -> numpy's own call
        for s in stmts:
            if id(s) in literal:
                out.append(literal.pop(id(s)))
                continue
            if _is_marker(s):
                if not isinstance(s.value.args[0], gast.Name):
                    continue  # (cfg.count += 1 on a module: no local holds the old value)
                name = s.value.args[0].id
                end = getattr(s, "sd_alias_end", s)
                check = self.check(s, name, end, holder=s.value.args[1:])
                if hasattr(s, "sd_literal") and self.view_read_later(s, name, end):
                    # (np.exp(x, out=row) into a view of a name read later: numpy's write
                    # itself, through the view, which the analysis refuses where it writes
                    # values that carry a derivative)
                    literal[id(end)] = s.sd_literal
                elif check is not None:
                    out.append(check)
                continue
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript) \
                    and isinstance(s.targets[0].value, gast.Name):
                target = s.targets[0]
                check = self.check(s, target.value.id, s, target.slice, extra=[clone(s.value)])
                if check is not None:
                    out.append(check)
                if isinstance(s.value, gast.Name) and s.value.id in \
                        self.closure(target.value.id, self.view_edges) - {target.value.id}:
                    # (x[2] = x[:, 3]: the value may be a view of the array written into)
                    func = gast.Attribute(value=load(self.rt), attr="check_overlapping_write",
                                          ctx=gast.Load())
                    out.append(located(gast.Expr(value=call(func, [
                        load(target.value.id), _index_value(clone(target.slice), self.rt),
                        load(s.value.id), const(self.parsed.where(s)),
                        const(self.parsed.line_text(s))])), s))
            elif isinstance(s, (gast.Assign, gast.Expr)) and isinstance(s.value, gast.Call):
                out.extend(self.write_checks(s))
                out.extend(self.call_checks(s))
            elif isinstance(s, gast.If):
                s.body = self.rewrite(s.body) or [gast.Pass()]
                s.orelse = self.rewrite(s.orelse)
            elif isinstance(s, (gast.For, gast.While)):
                s.body = self.rewrite(s.body) or [gast.Pass()]
            out.append(s)
        return out

    def write_checks(self, s):
        """A list method that changes the list in place (``lst.append(a)``, ``a = lst.pop()``),
        checked like ``v op= e``: refused when the list is also held under a name read later
        (``other = lst``, ``t = (lst, 1)``, ``rows.append(row)`` before ``row.append(v)``), where
        the derivative keeps one list of item gradients per name. (A numpy write or an array
        method through another name makes that name carry the write: the analysis refuses it.)"""
        func = s.value.func
        if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and
                func.value.id in self.locals and func.attr in CONTAINER_ONLY_METHODS):
            return []
        # (with what the call stores: a list that holds no floats carries no derivative)
        stored = gast.Tuple(elts=[clone(a) for a in s.value.args
                                  if not isinstance(a, gast.Starred)], ctx=gast.Load())
        check = self.check(s, func.value.id, s, helper="check_list_alias", extra=[stored])
        return [check] if check is not None else []

    def call_checks(self, s):
        """``helper(z)`` where helper writes into its parameter in place: numpy's caller sees the
        change, but sourcediff runs helpers on copies of what they write into. Refused when z,
        or anything sharing its memory, is read after the call."""
        try:
            op = self.resolver.op(s.value)
        except Exception:  # noqa: BLE001  (resolution errors are reported by later stages)
            return []
        if op.kind == "unknown" and isinstance(op.func, gast.Name) and op.func.id in self.locals:
            return self.partial_check(s, op.func.id)
        if op.kind == "unknown" and isinstance(op.key, str) and op.args and \
                isinstance(op.args[0], gast.Name) and op.args[0].id in self.locals:
            return self.method_checks(s, op)
        if op.kind != "user":
            return []
        try:
            bound = code_signature(op.key).bind(*op.args, **op.keywords)
        except (TypeError, ValueError):
            return []
        maybe = maybe_item_params(op.key)  # (acc = ws + ws; acc[0][1] = v: if ws is a list)
        surely = mutated_params(op.key)
        written = {**maybe, **surely}
        out = outer_write_check(self, s, op)  # (through a global: G = params; G[0][1] = v)
        by_param = {param: {n.id for node in _bound_nodes(bound, param) for n in walk(node)
                            if isinstance(n, gast.Name) and n.id in self.locals}
                    for param in bound.arguments}
        for param, node in bound.arguments.items():
            if param not in written:
                continue
            # (the names passed to the helper's other parameters, the written one too:
            # h(y, y) writes into y through a, and b is y)
            passed = set().union(*[names for q, names in by_param.items() if q != param])
            together = [n.id for elt in collected(node) for n in walk(elt)
                        if isinstance(n, gast.Name) and n.id in self.locals]
            items = param in item_mutated_params(op.key) or param in maybe
            if isinstance(node, gast.Name):
                attrs = () if items else tuple(sorted(attribute_op_params(op.key).get(param, ())))
                items = "containers" if param in maybe and param not in surely else items
                out.extend(self.call_check(s, op, written, passed, param, node.id, items, attrs))
            elif items and isinstance(node, (gast.Tuple, gast.List, tuple, dict)):
                # (helper([y], v) with helper writing ls[0] += v: numpy changes y itself; the
                # values a *args tuple or a **kwargs dict collects, kw["a"][0] = v)
                elts = collected(node)
                for elt in elts:  # (and the other values collected with it: h(a=y, b=y))
                    if isinstance(elt, gast.Name) and elt.id in self.locals:
                        also = set(together) - ({elt.id} if together.count(elt.id) < 2 else set())
                        out.extend(self.call_check(s, op, written, passed | also, param,
                                                   elt.id, True))
        return out

    def method_checks(self, s, op):
        """``obj.meth(a, ...)`` on an object met at run time: the method, found then, may write
        into its receiver or arguments in place (``self.t += 1.0``, ``w[0] = v``), which the
        caller's names that share that memory would see under numpy; checked at run time
        (:func:`~sourcediff.runtime.check_method_alias`) as a helper's call is here."""
        if op.keywords or any(isinstance(a, gast.Starred) for a in op.args):
            return []
        live = self.live_after()[id(s)] | self.outer
        passed = {a.id for a in op.args if isinstance(a, gast.Name)}
        out = []
        for k, a in enumerate(op.args):
            if not isinstance(a, gast.Name) or a.id not in self.locals:
                continue
            others = bound_only(((live & self.near(a.id)) - _stored(s)) | ((passed - {a.id}) & (
                self.closure(a.id))) | ({a.id} & self.outer), s, self.defs, self.order, self.bound)
            if not others:
                continue
            func = gast.Attribute(value=load(self.rt), attr="check_method_alias", ctx=gast.Load())
            out.append(located(gast.Expr(value=call(func, [
                load(op.args[0].id), const(op.key), const(k), load(a.id),
                gast.Tuple(elts=[load(o) for o in others], ctx=gast.Load()),
                const(tuple(self.display(o) for o in others)), const(self.parsed.where(s)),
                const(self.parsed.line_text(s))])), s))
        return out

    def partial_check(self, s, name):
        """``g(v)`` for a function value made at run time (``g = partial(h, y[1])``): what it
        holds may be written by the call; checked at run time against the names that may share
        it and are read later (:func:`~sourcediff.runtime.check_partial_alias`)."""
        live = self.live_after()[id(s)] | self.outer
        near = self.near(name)
        others = bound_only((live & near) - {name, self.rt} - _stored(s), s, self.defs, self.order, self.bound)
        if not others:
            return []
        func = gast.Attribute(value=load(self.rt), attr="check_partial_alias", ctx=gast.Load())
        return [located(gast.Expr(value=call(func, [
            load(name), gast.Tuple(elts=[load(o) for o in others], ctx=gast.Load()),
            const(tuple(self.display(o) for o in others)), const(self.parsed.where(s)),
            const(self.parsed.line_text(s))])), s)]

    def call_check(self, s, op, written, passed, param, name, items, attrs=()):
        """The check of one name passed to a helper that writes into ``param`` (``items``: into
        the arrays the value holds too; ``attrs``: into the values of these attributes of it,
        by ``param.attr op= e``)."""
        live = self.live_after()[id(s)] | self.outer
        # (the helper's other arguments see its write too: h(y, y[:, 2]))
        others = bound_only(((live & self.near(name)) - _stored(s)) | (passed & self.closure(name))
                            | ({name} & self.outer), s, self.defs, self.order, self.bound)  # (and the data)
        if not others:
            return []
        callee = getattr(op.key, "__name__", "the helper")
        func = gast.Attribute(value=load(self.rt), attr="check_call_alias", ctx=gast.Load())
        text = (f"{self.parsed.line_text(s)}\n({callee} writes into its parameter {param} "
                f"in place, at line {written[param]})")
        args = [load(name), gast.Tuple(elts=[load(o) for o in others], ctx=gast.Load()),
                const(tuple(self.display(o) for o in others)), const(self.parsed.where(s)),
                const(text)]
        if items:  # (ls[0] += v: the arrays ls holds; "containers": if it is one, ws + ws)
            args.append(const(items))
        elif attrs:  # (self.count += 1: what these attributes hold, if arrays, lists or dicts)
            args += [const(False), const(attrs)]
        return [located(gast.Expr(value=call(func, args)), s)]

    def display(self, name):
        """How a message names ``name``: the user's own name, or what the compiler's temporary
        holds (the sequence a loop iterates over, an intermediate value of a line)."""
        if name in self.outer:
            return f"the {'enclosing' if name in self.parsed.env else 'global'} {name}"
        if name in self.user_names:
            return name
        entries = self.defs.get(name)
        line = self.parsed.user_line(entries[0][0]) if entries else "?"
        if name.startswith("_seq"):
            return f"the sequence the for loop of line {line} iterates over"
        return f"a value computed on line {line}"

    def view_read_later(self, s, name, end):
        """Whether a name read after ``end`` may share memory with ``name`` when it is written: one
        ``name`` is bound from as a view (not x.copy() or a + b: a new array or list of items), or
        one bound from such a name before the write or in a loop around it (see :meth:`closure`)."""
        lives = self.live_after(self.item_skip(name))
        live = lives.get(id(end), lives[id(s)]) | self.outer
        cut, loop = self.order.get(id(end), (math.inf, None))
        up, down = {}, {}
        for target, sources, (at, within), items in self.bound_from:
            up.setdefault(target, set()).update(() if items and target == name else sources)
            for source in sources if at <= cut or (loop is not None and within == loop) else ():
                down.setdefault(source, set()).add(target)
        return bool((_reached(_reached([name], up), down) - {name}) & live)

    def check(self, s, name, end, index=None, holder=(), helper="check_alias", extra=()):
        """The check of ``name op= e`` (``holder`` empty), of ``a[index] = e`` (``index``), or of
        ``base[index] op= e`` / ``obj.attr op= e`` whose old value ``name`` holds (``holder``:
        the marker's ``base[index]``, or ``obj`` and the attribute's name); also of a call that
        changes ``name`` in place (``helper``, with ``extra`` arguments)."""
        lives = self.live_after(self.item_skip(name))
        live = lives.get(id(end), lives[id(s)]) | self.outer  # (after the marker: a superset)
        # (a name the statement binds is not bound yet where the check runs: b = lst.pop())
        near = self.near(name) if index is None else self.closure(name)
        others = bound_only((live & near) - {name, self.rt} - _stored(s), s, self.defs, self.order, self.bound)
        if not others:
            return None
        func = gast.Attribute(value=load(self.rt), attr=helper, ctx=gast.Load())
        region = load(name)
        what = f"{name} op= ..." if index is None else f"{name}[...] = ..."
        # (kw, whose later reads are kw["b"] only: the items there, _sd.items_at(kw, ("b",)))
        keys = [later_item_keys(self.fdef, o, s, self.live_after) if helper == "check_alias"
                and index is None and not holder else None for o in others]
        args = [region, gast.Tuple(elts=[load(o) if k is None else call(gast.Attribute(
            value=load(self.rt), attr="items_at", ctx=gast.Load()), [load(o), const(k), region])
            for o, k in zip(others, keys)], ctx=gast.Load()),
                const(tuple(self.display(o) for o in others)), const(self.parsed.where(s)),
                const(self.parsed.line_text(s) or what)]
        if index is not None:
            func.attr = "check_alias_at"
            args.insert(1, _index_value(clone(index), self.rt))
        elif holder:
            # numpy's op= writes into the array the item or attribute holds; where that is an
            # array's own item (a[i] += e), check_alias_at of the store checks it
            func.attr = "check_alias_item"
            if isinstance(holder[0], gast.Subscript):
                where_held = [clone(holder[0].value),
                              _index_value(clone(holder[0].slice), self.rt), const(False)]
                if isinstance(holder[0].value, gast.Name):  # (a tuple's own name: see the check)
                    args.append(const(self.display(holder[0].value.id)))
            else:
                where_held = [clone(holder[0]), clone(holder[1]), const(True)]
            args[1:1] = where_held
        return located(gast.Expr(value=call(func, args + list(extra))), s)


def _fresh_call(value, resolver):
    """``grid.copy()``, ``np.zeros_like(a)``, ``np.sum(a)``: a call whose result never shares
    memory with its arguments (writing into it writes into none of them); see fresh_result."""
    if not isinstance(value, gast.Call):
        return False
    try:
        op = resolver.op(value)
    except Exception:  # noqa: BLE001  (resolution errors are reported by later stages)
        return False
    return fresh_result(op)


def numpy_write(call, resolver):
    """(names written, how the call reads) for a numpy call that writes into an array it is
    given: ``out=`` of a ufunc or function, ``np.copyto(y, x)`` and the like, ``np.add.at(y, ...)``.
    None for other calls."""
    obj = resolver.static_value(call.func)
    if isinstance(call.func, gast.Attribute) and call.func.attr in _method_out_positions() and (
            not callable(obj) or isinstance(getattr(obj, "__self__", None), np.ndarray)) and \
            not (isinstance(call.func.value, gast.Name) and
                 call.func.value.id in getattr(resolver, "receivers", ())):
        # (x.sum(0, None, y), x.max(axis=0, out=y): a method of an array known at run time or
        # held in a global, as the resolver takes it; not of an object of the user's class)
        at = _method_out_positions()[call.func.attr]
        text = gast.unparse(call.func).strip()
        for k in call.keywords:
            if k.arg == "out":
                return _names_in([k.value]), f"{text}(..., out=...)"
        if len(call.args) > at and not any(isinstance(a, gast.Starred) for a in call.args) and \
                resolver.static_value(call.args[at]) is not None:  # (a global None: no out)
            return _names_in(call.args[at:at + 1]), f"{text}(..., out)"
        return None
    owner = getattr(obj, "__self__", None)
    module = getattr(obj, "__module__", None) or ""
    numpy_callable = isinstance(obj, np.ufunc) or isinstance(owner, np.ufunc) or \
        module == "numpy" or module.startswith("numpy.")
    if not numpy_callable:
        return None
    text = gast.unparse(call.func).strip()
    for k in call.keywords:
        if k.arg == "out":
            return _names_in([k.value]), f"{text}(..., out=...)"
        if k.arg == "overwrite_input" and call.args and not (
                isinstance(k.value, gast.Constant) and not k.value.value):
            # (np.median(y, overwrite_input=True) partly sorts y in place)
            return _names_in(call.args[:1]), f"{text}(..., overwrite_input=True)"
    at = _out_position(obj)  # np.multiply(y, 2.0, y), np.dot(a, b, y): out given by position
    if at is not None and len(call.args) > at and \
            not any(isinstance(a, gast.Starred) for a in call.args[:at + 1]):
        return _names_in(call.args[at:]), f"{text}(..., out)"
    written = registry.facts(obj).writes  # (np.copyto(y, x) writes its argument 0)
    if written is None and isinstance(owner, np.ufunc) and getattr(obj, "__name__", "") == "at":
        written = METHODS["at"].writes  # np.add.at(y, i, v)
    if isinstance(written, int) and len(call.args) > written:
        return _names_in(call.args[written:written + 1]), f"{text}(...)"
    return None


@functools.cache
def _method_out_positions():
    """ndarray's methods that take ``out`` (x.sum, x.max, x.clip, ...): the position of ``out``
    among the arguments of a call ``x.name(...)`` (read from numpy once, when first asked: not at
    import)."""
    out = {}
    for name in dir(np.ndarray):
        if name.startswith("_"):
            continue
        try:
            params = list(inspect.signature(getattr(np.ndarray, name)).parameters)
        except (TypeError, ValueError):
            continue
        if "out" in params:
            out[name] = params.index("out") - 1  # (self is the receiver)
    return out



def _out_position(obj):
    """The position of a numpy callable's ``out`` parameter (a ufunc's outputs follow its
    inputs), or None."""
    if isinstance(obj, np.ufunc):
        return obj.nin
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return None
    for k, p in enumerate(params):
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            return None
        if p.name == "out":
            return k if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD else None
    return None


def _bound_nodes(bound, param=None):
    """The argument syntax of a bound call (of its parameter ``param`` only, when given), a
    ``*args`` tuple or ``**kwargs`` dict flattened."""
    out = []
    for name, value in bound.arguments.items():
        if param is not None and name != param:
            continue
        if isinstance(value, tuple):
            out.extend(value)
        elif isinstance(value, dict):
            out.extend(value.values())
        else:
            out.append(value)
    return out


def _root(node):
    while isinstance(node, gast.Attribute):
        node = node.value
    return node.id if isinstance(node, gast.Name) else None


def _holds_data(obj):
    """An array, a list or dict, or an object of a user's class (its attributes may hold them)."""
    if isinstance(obj, (np.ndarray, list, dict)):
        return True
    fields = getattr(obj, "__dict__", None)
    return type(fields) is dict and not isinstance(obj, type) and not inspect.ismodule(obj) \
        and not callable(obj) and type(obj).__module__ not in ("builtins", "numpy")


def _stored(s):
    return {n.id for n in walk(s) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


_MUTATED = weakref.WeakKeyDictionary()
_ITEM_MUTATED = weakref.WeakKeyDictionary()  # fn -> parameters whose items it writes into
_MAYBE_ITEMS = weakref.WeakKeyDictionary()  # fn -> ... if they are containers (ws + ws)
# fn -> {parameter: attribute names}: p.attr op= e, a store into p's slot (setattr of the new
# value) that writes into the old value in place when that is an array, list or dict
_ATTR_OPS = weakref.WeakKeyDictionary()
_RETURNS = weakref.WeakKeyDictionary()  # fn -> parameters whose memory its result may share


def _sequence_names(node):
    """Names ever bound to a tuple or list display, or to a repetition or concatenation of one."""
    seqs, grew = set(), True
    while grew:
        grew = False
        for n in walk(node):
            if isinstance(n, gast.Assign) and (isinstance(n.value, (gast.Tuple, gast.List)) or
                                               repeats_items(n.value, seqs)):
                for t in n.targets:
                    if isinstance(t, gast.Name) and t.id not in seqs:
                        seqs.add(t.id)
                        grew = True
    return seqs


def mutated_params(fn):
    """{parameter: line} of ``fn``'s parameters it writes into in place (``a[i] = v``, ``a += v``,
    through a name or view of it, or a helper it passes it to; grad of grad reads these too)."""
    fn = unwrap(fn)
    if getattr(fn, "__module__", None) in ("sourcediff.api", "sourcediff.transforms"):
        return {}  # (sd.grad(fn) in a loss: its caches of fn's compiled forms are no writes)
    if fn in _MUTATED:
        return _MUTATED[fn]
    _MUTATED[fn] = {}  # (recursion)
    try:
        parsed = parse_function(fn)
    except Exception:  # noqa: BLE001  (no source: transforming it will say so)
        return {}
    node = parsed.node
    # (keyword-only ones too: a closure lifted as def _g1(*, x, y) takes what it reads of the
    # enclosing function so; and *args, **kwargs)
    params = [a.id for a in list(getattr(node.args, "posonlyargs", None) or []) +
              node.args.args + node.args.kwonlyargs] + \
        [a.id for a in (node.args.vararg, node.args.kwarg) if a is not None]
    resolver = Resolver(parsed, {n.id for n in walk(node) if isinstance(n, gast.Name) and
                                 isinstance(n.ctx, (gast.Store, gast.Param))})
    links = {}
    holds = {}  # tuple or list name -> the names it was made of (c = (a, b))

    def link(a, b):
        if _no_data(b, resolver) or _no_data(a, resolver):
            return  # (np in np.floor(a) links nothing: a module, a function hold no arrays)
        links.setdefault(a, set()).add(b)
        links.setdefault(b, set()).add(a)

    writes, seqs = [], _sequence_names(node)  # (name written into, line); names of tuples
    attr_ops = {}
    slots = set()  # positions in writes of stores into a slot (p[i] = v): what p held is kept
    own_slots = set()  # positions in writes of acc[i] = v into any name's own slot
    direct = []  # (parameter whose own list or dict changes, line): no views to follow
    maybe = {}  # name -> names whose items it may hold, by their type (acc = ws + ws)
    joins = {}  # name bound to a new list or tuple of others' items -> names it is linked to
    added = {}  # list -> the names its append, extend or insert linked it to (what it holds)
    for n in walk(node):
        note_joins(n, maybe)
        note_join_links(n, joins, lambda v: (repeats_items(v, seqs) or new_container(
            v, resolver)) and _shared_by_value(v, parsed, resolver, seqs))
        if isinstance(n, gast.Assign) and (repeats_items(n.value, seqs) or not isinstance(
                n.value, (gast.BinOp, gast.UnaryOp, gast.Constant, gast.Compare))) \
                and not _fresh_call(n.value, resolver):
            _link_assignment(n, parsed, resolver, seqs, link, holds)
        if isinstance(n, gast.For):  # for row in a: row is a view of a
            for t in walk(n.target):
                if isinstance(t, gast.Name):
                    for m in _reads_sharing(n.iter, resolver):
                        link(t.id, m)
        _target_writes(n, parsed, params, writes, (slots, own_slots), attr_ops)
        if receiver_root(n) is not None:  # (acc[0].fill(v): an array acc holds changes)
            writes.append((receiver_root(n), parsed.user_line(n)))
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                isinstance(n.func.value, gast.Name) and writes_in_place(n.func.attr):
            receiver = n.func.value.id  # y.sort(), y.__iadd__(v); lst.append(v) only if lst
            if n.func.attr not in CONTAINER_ONLY_METHODS:  # is the parameter itself
                writes.append((receiver, parsed.user_line(n)))
            else:
                if receiver in params:
                    direct.append((receiver, parsed.user_line(n)))
                else:  # (inner = ls[0]; inner.append(v): the list ls holds grows, v does not)
                    own_slots.add(len(writes))
                    writes.append((receiver, parsed.user_line(n)))
                for part in n.args + [k.value for k in n.keywords]:
                    # (lst.append(row): lst holds row itself, as [row] does; every name the
                    # argument reads, ws + ws of a list too, but an index's: theta[i:i + n])
                    for m in _reads_sharing(part, resolver) - {receiver}:
                        link(receiver, m)
                        added.setdefault(receiver, set()).add(m)
        if isinstance(n, gast.Call):
            # np.add(a, b, out=y), np.multiply(y, 2.0, y) (out by position), np.copyto(y, x)
            written = numpy_write(n, resolver)
            for name in written[0] if written is not None else ():
                writes.append((name, parsed.user_line(n)))
            for k in n.keywords:  # (out=y of a callable that is not numpy's)
                if k.arg == "out":
                    for name in walk(k.value):
                        if isinstance(name, gast.Name):
                            writes.append((name.id, parsed.user_line(n)))
            _helper_writes(n, parsed, resolver, params, writes, (slots, own_slots, maybe), attr_ops)
    _MUTATED[fn], _ITEM_MUTATED[fn], _MAYBE_ITEMS[fn] = params_reached(
        params, links, seen_by_callers(node, writes, slots), slots, direct, holds, maybe,
        own_slots, merged(bound_once(node, joins), added))
    _ATTR_OPS[fn] = attr_ops
    for c, held in holds.items():  # (what the returns may share: as before, both ways)
        for m in held:
            link(c, m)
    _RETURNS[fn] = _returned_params(node, parsed, resolver, seqs, params, link, links)
    return _MUTATED[fn]


def _target_writes(n, parsed, params, writes, slot_sets, attr_ops):
    """mutated_params' writes by the targets of the assignment ``n`` (``slot_sets``: the
    positions in ``writes`` of stores into a parameter's slot, and of ``a[i] = v`` into any
    name's own slot)."""
    slots, own_slots = slot_sets
    targets = n.targets if isinstance(n, gast.Assign) else \
        [n.target] if isinstance(n, gast.AugAssign) else []
    for t in targets:
        if isinstance(n, gast.AugAssign) and isinstance(t, gast.Name):
            writes.append((t.id, parsed.user_line(n)))
        if isinstance(n, gast.AugAssign) and isinstance(t, gast.Attribute) and \
                isinstance(t.value, gast.Name) and t.value.id in params:
            # (self.count += 1: a store into self's slot; the caller checks at run time
            # that the old value, if an array, list or dict, is not seen otherwise)
            slots.add(len(writes))
            attr_ops.setdefault(t.value.id, set()).add(t.attr)
        if isinstance(n, gast.Assign) and isinstance(t, (gast.Subscript, gast.Attribute)) \
                and isinstance(t.value, gast.Name) and t.value.id in params:
            # (p[i] = v, p.w = v: p's own slot, not what it held; w = p[0]; w[1] = v writes
            # into the array p holds)
            slots.add(len(writes))
        if isinstance(n, gast.Assign) and isinstance(t, gast.Subscript) and \
                isinstance(t.value, gast.Name):
            own_slots.add(len(writes))
        while isinstance(t, (gast.Subscript, gast.Attribute)):
            t = t.value
            if isinstance(t, gast.Name):
                writes.append((t.id, parsed.user_line(n)))


def _link_assignment(n, parsed, resolver, seqs, link, holds):
    """mutated_params' links of one assignment ``n``: its targets with the names whose memory
    its value may share, or (``holds``) a tuple, list or dict made of names with those names
    (cache = (x, gamma, eps), p = {"w": w}: p holds w; see _params_reached)."""
    shared = _shared_by_value(n.value, parsed, resolver, seqs)
    for t in n.targets:
        if isinstance(t, gast.Name) and isinstance(n.value, (gast.Tuple, gast.List, gast.Dict)):
            held = {e.id for e in getattr(n.value, "elts", getattr(n.value, "values", ()))
                    if isinstance(e, gast.Name)}
            holds.setdefault(t.id, set()).update(held)
            shared = shared - held
        if isinstance(t, (gast.Name, gast.Tuple, gast.List)):  # (a, b = p unpacks p)
            for name in walk(t):
                if not isinstance(name, gast.Name) or not isinstance(name.ctx, gast.Store):
                    continue  # (self in `self.a, self.b = X, h` is not bound to X)
                for m in shared:
                    link(name.id, m)


def _returned_params(node, parsed, resolver, seqs, params, link, links):
    """The parameters whose memory what ``node``'s return statements give may share (through
    mutated_params' ``links``, and what a list, dict or object holds: o.w = x; return o)."""
    returned = set().union(*(_shared_by_value(r.value, parsed, resolver, seqs)
                             for r in walk(node) if isinstance(r, (gast.Return, gast.Yield,
                                                                        gast.YieldFrom))
                             and r.value is not None))  # (a generator's items: what it gives)
    for n in walk(node):
        for target in n.targets if isinstance(n, gast.Assign) else ():
            t = target
            while isinstance(t, (gast.Subscript, gast.Attribute)):
                t = t.value
            if isinstance(t, gast.Name) and t is not target:
                for m in walk(n.value):
                    if isinstance(m, gast.Name):
                        link(t.id, m.id)
    return frozenset(p for p in params if p in _reached(returned, links))


def _no_data(name, resolver):
    """Whether ``name``, read from the module or builtins, is a module, function or class."""
    if name in resolver.locals:
        return False
    try:
        value = resolver.lookup(name)
    except Exception:  # noqa: BLE001
        return False
    return inspect.ismodule(value) or isinstance(value, type) or (
        callable(value) and not _holds_data(value))


# the metadata of an array, never a view of it
_METADATA = frozenset(("shape", "ndim", "size", "dtype", "itemsize", "nbytes"))


def _reads_sharing(value, resolver):
    """The names ``value`` reads, but not those read only for an array's metadata (``x.dtype``)
    or inside an argument that is a fresh call (``d.get(k, np.zeros(n, dtype=x.dtype))``)."""
    out, todo = set(), [value]
    while todo:
        node = todo.pop()
        if isinstance(node, gast.Name) and not isinstance(node.ctx, gast.Store):
            out.add(node.id)
        elif isinstance(node, gast.Subscript):
            todo.append(node.value)  # (theta[i:i + n] is a view of theta, never of i or n)
        elif not (isinstance(node, gast.Attribute) and node.attr in _METADATA) and \
                not (node is not value and _fresh_call(node, resolver)):
            todo.extend(children(node))
    return out


def _shared_by_value(value, parsed, resolver, seqs):
    """The names whose memory the value of ``value`` (the right-hand side of an assignment in
    mutated_params) may share: the names it reads, but none for an array's metadata
    (``rows, cols = f.shape``) and, for a call of one of the user's functions, only the
    arguments given to the parameters its result may share (:func:`result_params`)."""
    names = _reads_sharing(value, resolver)
    if isinstance(value, gast.Attribute) and value.attr in _METADATA:
        return set()
    if isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Compare)) and \
            not repeats_items(value, seqs):
        return set()  # (arithmetic makes a new array)
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            _root(value.func) is None:
        # (a method of a value computed in place, (a - b).ravel(), np.floor(a).astype(int):
        # what that value shares, and what its arguments do)
        receiver = value.func.value
        out = set() if _fresh_call(receiver, resolver) else \
            _shared_by_value(receiver, parsed, resolver, seqs)
        for part in value.args + [k.value for k in value.keywords]:
            out |= {m.id for m in walk(part) if isinstance(m, gast.Name)}
        return out
    if not isinstance(value, gast.Call) or any(isinstance(a, gast.Starred) for a in value.args) \
            or any(k.arg is None for k in value.keywords):
        return names
    callee = parsed.fn.__globals__.get(value.func.id) if isinstance(value.func, gast.Name) \
        else None
    if not inspect.isfunction(callee) or isinstance(value.func, gast.Name) and \
            value.func.id in resolver.locals:
        return names
    shares = result_params(callee)
    try:
        bound = inspect.signature(callee).bind(*value.args,
                                               **{k.arg: k.value for k in value.keywords})
    except (TypeError, ValueError):
        return names
    if shares is None:
        return names
    out = set()
    for p, a in bound.arguments.items():
        if p in shares:
            for arg in a if isinstance(a, tuple) else a.values() if isinstance(a, dict) else (a,):
                out |= {m.id for m in walk(arg) if isinstance(m, gast.Name)}
    return out


def result_params(fn):
    """The parameters of the user's function ``fn`` whose memory its result may share (through
    the names its ``return`` statements read, as mutated_params links them), or None when its
    source cannot be read."""
    mutated_params(fn)
    return _RETURNS.get(unwrap(fn))


def maybe_item_params(fn):
    """The further parameters of ``fn`` whose items it writes into when they are lists, tuples
    or dicts (``acc = ws + ws; acc[0][1] = v``): see :mod:`.reach`."""
    mutated_params(fn)
    return _MAYBE_ITEMS.get(unwrap(fn), {})


def item_mutated_params(fn):
    """The parameters of ``fn`` whose items (the arrays a list, dict or object given to it
    holds) it may write into in place (``p[i] += v``, ``v = p[0]; v.sort()``), not only its own
    slots (``p[i] = v``, ``p.append(v)``)."""
    mutated_params(fn)
    return _ITEM_MUTATED.get(unwrap(fn), set())


def _helper_writes(n, parsed, resolver, params, writes, sets, attr_ops):
    """The writes of mutated_params that the call ``n`` of one of the user's functions makes
    through its parameters (into ``writes``; ``sets``: its slots, own_slots and maybe; and
    ``attr_ops``). A parameter whose items the helper writes into if it is a container
    (maybe_item_params: ``acc = ws + ws; acc[0][1] = v``) makes the name passed a maybe holder."""
    slots, own_slots, maybe = sets
    try:
        callee = parsed.fn.__globals__.get(n.func.id) if isinstance(n.func, gast.Name) else None
        args, keywords = n.args, {k.arg: k.value for k in n.keywords}
        if isinstance(n.func, gast.Attribute):  # (self.helper(x): a method of the class, its
            op = user_op(n, resolver)            # receiver passed first)
            if op is not None:
                callee, args, keywords = op.key, op.args, op.keywords
        known = inspect.isfunction(callee) or isinstance(callee, MethodOf)
        inner = mutated_params(callee) if known else {}
        maybes = maybe_item_params(callee) if known else {}
        bound = code_signature(callee).bind(*args, **keywords) if inner or maybes else None
    except (TypeError, ValueError):
        bound = None
    if bound is None:
        return
    for p, a in bound.arguments.items():
        if p in maybes and p not in inner and isinstance(a, gast.Name):
            marker = f"<the items of {a.id}, {len(writes)}>"  # (no code binds such a name)
            maybe[marker] = {a.id}
            writes.append((marker, parsed.user_line(n)))
        if p in inner and isinstance(a, gast.Name):
            if p not in _ITEM_MUTATED.get(unwrap(callee), ()):
                slots.add(len(writes))
                ops = _ATTR_OPS.get(unwrap(callee), {}).get(p)
                if ops and a.id in params:  # (passed on: the caller checks them)
                    attr_ops.setdefault(a.id, set()).update(ops)
                elif ops:  # (through another name: its items, as before)
                    slots.discard(len(writes))
                if len(writes) in slots and not ops and p not in maybe_item_params(callee):
                    own_slots.add(len(writes))  # (not acc = ws + ws; acc[0][1] = v: ws's items)
            writes.append((a.id, parsed.user_line(n)))


def method_writes(function, cls):
    """(written, item-written, attribute op=, written only if containers) parameters of
    ``function`` as a method of ``cls`` (its calls through self resolved there): what
    runtime.check_method_alias reads."""
    fn = method_of(function, cls)
    return mutated_params(fn), item_mutated_params(fn), attribute_op_params(fn), \
        maybe_item_params(fn)


def attribute_op_params(fn):
    """{parameter: attribute names} of ``fn``'s ``p.attr op= e`` (and of the helpers it passes p
    on to), which store into p's slot and write into the old value in place."""
    mutated_params(fn)
    return _ATTR_OPS.get(unwrap(fn), {})


def _is_marker(s):
    return isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) \
        and isinstance(s.value.func, gast.Name) and s.value.func.id == ALIAS_MARKER


def _index_value(index, rt):
    """The index of a normalized subscript as a value (``1:3`` becomes ``slice(1, 3, None)``)."""
    if isinstance(index, gast.Slice):
        parts = [const(None) if p is None else p for p in (index.lower, index.upper, index.step)]
        return call(gast.Attribute(value=load(rt), attr="make_slice", ctx=gast.Load()), parts)
    if isinstance(index, gast.Tuple):
        return gast.Tuple(elts=[_index_value(e, rt) for e in index.elts], ctx=gast.Load())
    return index


def alias_checks(parsed, fdef, rt_name):
    """``fdef`` (a normalized FunctionDef, changed in place) with its alias checks.

    Code sourcediff generated (a gradient differentiated again) gets none: its in-place writes
    into saved views are undone before its adjoint reads them, and some of its reads (the shape
    operand of ``unbroadcast``) look at no values at all."""
    if parsed.filename in GENERATED_LINES:  # (a gradient sourcediff compiled, not a lifted def)
        fdef.body = _drop_markers(fdef.body)
        return fdef
    return AliasPass(parsed, fdef, rt_name).run()


def _drop_markers(stmts):
    out = []
    for s in stmts:
        if _is_marker(s):
            continue
        if isinstance(s, gast.If):
            s.body = _drop_markers(s.body) or [gast.Pass()]
            s.orelse = _drop_markers(s.orelse)
        elif isinstance(s, (gast.For, gast.While)):
            s.body = _drop_markers(s.body) or [gast.Pass()]
        out.append(s)
    return out

