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

import builtins
import copy
import functools
import inspect
import keyword
import operator
import types
from dataclasses import dataclass

import gast
import numpy as np

from . import quote, registry
from .activity import activity
from .emit import Origin, comment_at
from .errors import NoRuleError, SourcediffSyntaxError
from .facts import VIEWS, writes_in_place
from .normalize import assign, call, const, load, located, store
from .resolve import _DICT_METHODS, MethodOf, Op, Resolver
from .resolve import index_value as resolve_index

ZERO = 0.0



def attr(value, name):
    return gast.Attribute(value=value, attr=name, ctx=gast.Load())


def add(a, b):
    return gast.BinOp(left=a, op=gast.Add(), right=b)


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


class Analysis:
    """What both modes need to know of a normalized function: its operations and active names."""

    def __init__(self, parsed, fdef, names, wrt, globals_):
        self.parsed = parsed
        self.fdef = fdef
        self.names = names
        self.wrt = list(wrt)
        self.globals = globals_  # GlobalNames: emitted name for a rule's global object
        self.params = [a.id for a in fdef.args.args]
        ret = fdef.body[-1]
        assert isinstance(ret, gast.Return)
        self.body = fdef.body[:-1]
        self.result = ret.value
        self.ret_stmt = ret
        self.locals = _locals(fdef)
        self.resolver = Resolver(parsed, self.locals)
        self.ops = {}
        self.split_calls = {}  # id(statement) -> (saved name, forward form's name) of user calls
        self.bars = {}
        self.stack = None
        self.counter = None
        self.analyze()

    # ------------------------------------------------------------------ analysis

    def analyze(self):
        flows = []
        self.assign_counts = {p: 1 for p in self.params}
        self.loop_assigned = set()
        self.setitem_targets = set()
        self.aliases = []  # (target, source) pairs of possible memory sharing
        self.containers = set()  # names that may hold lists, tuples or dicts
        self.mutations = []  # (name, method, statement) of in-place methods other than append

        def walk(stmts, in_loop):
            for s in stmts:
                value = getattr(s, "value", None)
                written = _numpy_write(value, self.resolver) if isinstance(
                    s, (gast.Assign, gast.Expr)) and isinstance(value, gast.Call) else None
                if written:  # a numpy call that writes into an array given to it
                    names, what = written
                    if isinstance(s, gast.Assign) and names and \
                            self.resolver.op(value).kind == "rule":  # (no rule takes out=)
                        raise self.write_error(sorted(names)[0], what, s)
                    for obj in names & self.locals:
                        self.writes.append((obj, what, s))
                        flows.append(({obj}, (_names_in(value.args) | _names_in(
                            [k.value for k in value.keywords]) | {obj}) & self.locals))
                obj, method = (_method_call(s, self.locals) if isinstance(s, gast.Assign)
                               else None) or (None, None)
                if method not in (None, "pop") and writes_in_place(method):
                    self.mutations.append((obj, method, s))  # r = y.partition(1): y changes
                    flows.append(({obj}, (_names_in(s.value.args) | {obj}) & self.locals))
                    # (_done = _cache.append(v) for self.cache.append(v), d.update(k=v))
                    values = list(s.value.args) + [k.value for k in s.value.keywords]
                    self.container_writes.append((obj, values, s))
                    if obj in self.object_held:  # (what it stores outlives the call)
                        flows.append(({_ATTRIBUTE_SINK}, _names_in(values) & self.locals))
                if isinstance(s, gast.Assign):
                    target = s.targets[0]
                    if isinstance(target, gast.Name):
                        op = self.resolver.op(s.value)
                        if op.kind == "user" and op.key is not getattr(s.value, "func", None) \
                                and isinstance(op.key, MethodOf):
                            # self.forward(x) -> Model.forward(self, x), as Python calls it
                            s.value = call(load(self.globals.name(
                                f"{op.key.cls.__name__}_{op.key.function.__name__}",
                                op.key.function)), list(op.args),
                                list(getattr(s.value, "keywords", [])))
                        if op.kind in ("rule", "nondiff") and getattr(op.key, "__name__", "") in \
                                _DICT_READS and getattr(op.key, "__module__", "") == \
                                "sourcediff.runtime":  # (d.items() runs as the list it stands for)
                            s.value = call(self.rt(op.key.__name__), list(op.args),
                                           list(getattr(s.value, "keywords", [])))
                        self.ops[id(s)] = op
                        uses = self.operand_names(op, s)
                        flows.append(({target.id}, uses))
                        self.count(target.id, in_loop)
                        if op.kind in ("container", "user") or _returns_sequence(op.key):
                            self.containers.add(target.id)
                        if op.kind == "unknown" and op.key == "pop" and not op.args[1:] and \
                                isinstance(op.args[0], gast.Name):  # (arrays have no pop)
                            self.containers.add(op.args[0].id)
                        if op.kind == "rule" and op.key in _SEQUENCE_OPS:
                            self.arith.append((target.id, s))
                        if op.kind == "user" and _writes_attributes(op.key):
                            # (what it stores may be read back: its forms must run, and their
                            # checks refuse an attribute that would carry a derivative)
                            flows.append(({_ATTRIBUTE_SINK}, {target.id}))
                            self.attribute_writes_in_calls = True
                        self.bindings.append((target.id, s))
                        if self.reaches_object_state(op, s):
                            self.object_held.add(target.id)
                        if op.kind == "copy" or (op.kind == "rule" and _view_like(op)):
                            for name in _names_in(op.args[:1]):
                                self.aliases.append((target.id, name))
                        elif op.kind in ("container", "user"):
                            # a tuple, list or dict holds its elements themselves, and a helper
                            # may return an argument (or a view of it): t[k][i] = v writes into them
                            values = [v for v in op.keywords.values() if isinstance(v, gast.AST)]
                            for name in _names_in(list(op.args) + values) & self.locals:
                                self.aliases.append((target.id, name))
                    else:
                        base = target.value.id
                        self.setitem_targets.add(base)
                        self.container_writes.append((base, [s.value], s))
                        if base in self.object_held:  # (what it stores outlives the call)
                            flows.append(({_ATTRIBUTE_SINK}, _names_in([s.value]) & self.locals))
                        if _str_key(target.slice):
                            self.containers.add(base)  # (d["k"] = v: a dict, a parameter too)
                        flows.append(({base}, _names_in([s.value]) & self.locals))
                elif isinstance(s, gast.Expr) and _setattr_call(s, self.locals):
                    # (the stored value counts as an output: a value that depends on wrt is
                    # refused there even when nothing in this function reads it back)
                    self.attribute_writes.append(s)
                    flows.append(({_ATTRIBUTE_SINK}, _names_in([s.value.args[2]]) & self.locals))
                elif isinstance(s, gast.Expr) and _method_call(s, self.locals):
                    obj, method = _method_call(s, self.locals)
                    if method == "append":
                        self.containers.add(obj)
                        self.appends.append((obj, list(s.value.args)))
                        self.container_writes.append((obj, list(s.value.args), s))
                        flows.append(({obj}, (_names_in(s.value.args) | {obj}) & self.locals))
                        if obj in self.object_held:  # (what it stores outlives the call)
                            flows.append(({_ATTRIBUTE_SINK}, _names_in(s.value.args) &
                                          self.locals))
                    elif writes_in_place(method):
                        self.mutations.append((obj, method, s))
                        values = list(s.value.args) + [k.value for k in s.value.keywords]
                        self.container_writes.append((obj, values, s))
                        flows.append(({obj}, (_names_in(values) | {obj}) & self.locals))
                        if obj in self.object_held:  # (what it stores outlives the call)
                            flows.append(({_ATTRIBUTE_SINK}, _names_in(values) & self.locals))
                elif isinstance(s, gast.If):
                    walk(s.body, in_loop)
                    walk(s.orelse, in_loop)
                elif isinstance(s, (gast.For, gast.While)):
                    if isinstance(s, gast.For):
                        self.count(s.target.id, True)
                        self.loop_items.append((s.target.id, s.iter))
                    walk(s.body, True)
                    walk(s.orelse, in_loop)

        self.writes = []  # (name, call, statement) of numpy calls writing into an array
        self.attribute_writes = []  # setattr(obj, "name", v) statements (obj.name = v)
        self.attribute_writes_in_calls = False
        self.arith = []  # (target, statement) of a + b and a * b: concatenation if of containers
        self.bindings = []  # (target, statement) of every assignment to a name
        self.appends = []  # (list, appended values) of every lst.append(v)
        self.container_writes = []  # (container, values, statement): lst.append(v), d[k] = v
        self.object_held = set()  # names bound to what an object's attribute holds (or in it)
        self.loop_items = []  # (loop variable, iterated expression) of every for loop
        walk(self.body, False)
        changed = True
        while changed:  # a copy of a container is a container
            changed = False
            for target, source in self.aliases:
                if source in self.containers and target not in self.containers:
                    self.containers.add(target)
                    changed = True
        self.sequences = self.find_sequences()
        for target, s in self.arith:
            op = self.ops[id(s)]
            if any(isinstance(a, (gast.Tuple, gast.List)) or
                   (isinstance(a, gast.Name) and a.id in self.sequences) for a in op.args[:2]):
                self.ops[id(s)] = _sequence_op(op)
                self.containers.add(target)
                # ([x] + [y] holds x itself: a write through its item writes into x)
                for name in _names_in(op.args[:2]) & self.locals:
                    self.aliases.append((target, name))
        outputs = _names_in([self.result]) & self.locals
        if self.attribute_writes or self.attribute_writes_in_calls or \
                any(_ATTRIBUTE_SINK in targets for targets, _ in flows):
            outputs.add(_ATTRIBUTE_SINK)
        self.active = activity(flows, self.wrt, outputs)
        for obj, method, s in self.mutations:
            if obj in self.active:
                raise SourcediffSyntaxError(
                    f"{self.parsed.where(s)}: {obj}.{method}(...) changes {obj} in place, which "
                    f"sourcediff does not differentiate; build a new list or array instead (for "
                    f"lists, append is supported).\n    {self.parsed.line_text(s)}")
        for obj, what, s in self.writes:
            if obj in self.active:
                raise self.write_error(obj, what, s)
        self.active.discard(_ATTRIBUTE_SINK)
        for s in self.attribute_writes:
            obj, name, value = s.value.args[:3]
            carries = bool(_names_in([value]) & self.active)
            if carries or len(s.value.args) == 6:  # (or a read takes it: forwarding.py)
                # (a layer caching its input: stored as Python does, and a read of it back
                # within the same gradient call is refused where it happens; a read later in
                # this block takes the stored value itself. See runtime/object_state.py.)
                where, text = s.value.args[3:5] if len(s.value.args) == 6 else (
                    gast.Constant(value=self.parsed.where(s), kind=None),
                    gast.Constant(value=self.parsed.line_text(s), kind=None))
                s.value = call(self.rt("store_attribute"), [
                    obj, name, value, where, text, gast.Constant(value=carries, kind=None)])
        self.watch_object_containers()
        self.run_effect_calls_through_forms()

    def run_effect_calls_through_forms(self):
        """``layer.store(x)`` for its effect, with a callable known only at run time (a loop over
        layers, ``getattr(obj, name)``) and an argument that carries a derivative: it runs
        through its generated forward form (``_sd.run_for_effect``), whose checks see what it
        stores (``self.v = x`` watched, ``self.arr[0] = x`` refused), where a plain call would
        store it unseen and a read of it back would take a constant."""
        used = self.name_uses()
        for target, s in self.bindings:
            op = self.ops.get(id(s))
            value = s.value
            if op is None or target in used or target in self.active or \
                    op.kind in ("user", "rule", "nondiff", "container", "copy", "const") or \
                    not isinstance(value, gast.Call) or self.dynamic_callee(op, s) is None or \
                    (isinstance(value.func, gast.Attribute) and value.func.attr == "run_for_effect"):
                continue
            method = _method_call(s, self.locals)
            if method and (writes_in_place(method[1]) or method[0] in self.containers):
                continue  # (lst.append(v): the container analysis's own)
            positions = [k for k, a in enumerate(value.args) if _names_in([a]) & self.active]
            names = [k.arg for k in value.keywords if _names_in([k.value]) & self.active]
            if not positions and not names:
                continue
            s.value = call(self.rt("run_for_effect"),
                           [value.func, gast.Constant(value=tuple(positions) + tuple(names),
                                                      kind=None)] + list(value.args),
                           list(value.keywords))

    def name_uses(self):
        """{name: the statements that read it} over the whole body (a compound statement
        counts for its test or iterated value only; its blocks' statements count on their own)."""
        uses = {}
        for st in _all_statements(self.body) + [self.ret_stmt]:
            for part in _own_parts(st):
                for n in gast.walk(part):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                        uses.setdefault(n.id, []).append(st)
        return uses

    def watch_object_containers(self):
        """``lst.append(v)`` or ``d[k] = v`` with v carrying a derivative, where the list or dict
        is reached through an object's attribute (``l = self.cache``, ``self.dv["A"].append(A)``):
        state that outlives the call, like ``self.X = X``. The attribute read that reaches it
        becomes ``_sd.holder_for_append(obj, name, ...)``, which reads it and watches the
        attribute, so that a read of it back within the same gradient call (another method,
        the caller) is refused at that read (runtime/object_state.py). That read must serve only to
        reach the container for such writes; one that also reads items out of it is refused."""
        binding = {}
        for target, s in self.bindings:
            binding.setdefault(target, []).append(s)
        uses = self.name_uses()

        def root(name, seen=()):
            """(statement, object node, attribute) of the attribute read that ``name``'s
            container comes from, None for a container made here, or False when unknown."""
            if name in seen or name in self.params:
                return None
            found = None
            for s in binding.get(name, []):
                op = self.ops.get(id(s))
                value = s.value
                if op is None:
                    return False
                read = self.object_attribute_read(op, s)
                if read is not None:
                    here = (s,) + read
                elif op.kind == "const" and isinstance(value, gast.Attribute) and \
                        isinstance(value.value, gast.Name):
                    return False  # (a module's or a class's attribute)
                elif isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
                        and value.func.attr == "holder_for_append":
                    here = (s, value.args[0], value.args[1].value)
                elif op.kind == "rule" and op.key is operator.getitem and \
                        isinstance(op.args[0], gast.Name):
                    here = root(op.args[0].id, seen + (name,))
                elif op.kind == "copy" and isinstance(op.args[0], gast.Name):
                    here = root(op.args[0].id, seen + (name,))
                else:
                    here = None
                if here is False or (found is not None and here is not None and
                                     here[0] is not found[0]):
                    return False
                found = here or found
            return found

        def only_reaches_writes(name, seen=()):
            for st in uses.get(name, []):
                if isinstance(st, gast.Expr) and isinstance(st.value, gast.Call) and \
                        isinstance(st.value.func, gast.Attribute) and \
                        isinstance(st.value.func.value, gast.Name) and \
                        st.value.func.value.id.startswith("_sd") and \
                        st.value.func.attr.startswith("check_"):
                    continue  # (the alias stage's checks before a write read nothing out)
                method = _method_call(st, self.locals) if isinstance(
                    st, (gast.Expr, gast.Assign)) else None
                if method and method[0] == name and writes_in_place(method[1]) and \
                        name not in _names_in(list(st.value.args) +
                                              [k.value for k in st.value.keywords]):
                    continue
                if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Subscript) and \
                        isinstance(st.targets[0].value, gast.Name) and \
                        st.targets[0].value.id == name and name not in _names_in([st.value]):
                    continue
                if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name) and \
                        isinstance(st.value, gast.Subscript) and \
                        isinstance(st.value.value, gast.Name) and st.value.value.id == name \
                        and st.targets[0].id not in seen:
                    if only_reaches_writes(st.targets[0].id, seen + (name,)):
                        continue
                return False
            return True

        for obj, values, s in self.container_writes:
            if not (_names_in(values) & self.active):
                continue
            found = root(obj)
            if not found:
                if found is False:
                    raise SourcediffSyntaxError(
                        f"{self.parsed.where(s)}: this writes a value that carries the derivative "
                        f"of {', '.join(self.wrt)} into {obj}, which may be a list or dict held "
                        f"by an object, and sourcediff cannot tell which; build the list in a "
                        f"local variable and return it.\n    {self.parsed.line_text(s)}")
                continue
            read, base, attr_name = found
            target = read.targets[0].id
            if not only_reaches_writes(target):
                raise SourcediffSyntaxError(
                    f"{self.parsed.where(s)}: this writes a value that carries the derivative of "
                    f"{', '.join(self.wrt)} into {gast.unparse(base).strip()}.{attr_name}, "
                    f"which this function also reads items of; sourcediff reads an object's state as "
                    f"constants, so the derivative through it would be lost. Keep the values in "
                    f"a local list and pass them on or return them.\n    "
                    f"{self.parsed.line_text(s)}")
            if not (isinstance(read.value, gast.Call) and
                    isinstance(read.value.func, gast.Attribute) and
                    read.value.func.attr == "holder_for_append"):
                read.value = call(self.rt("holder_for_append"), [
                    base, gast.Constant(value=attr_name, kind=None),
                    gast.Constant(value=self.parsed.where(s), kind=None),
                    gast.Constant(value=self.parsed.line_text(s), kind=None)])

    def find_sequences(self):
        """Names that may hold a list or tuple, so that ``a + b`` and ``a * n`` of them
        concatenate and repeat: container literals, list()/tuple(), helpers that may return one,
        copies and slices of these, items of containers that hold them, and a + b / a * n of
        them. (``containers`` is wider: every name that may hold any container or a view of one.)
        """
        seqs, holders = set(), set()
        returns = {id(s): _may_return_sequence(self.ops[id(s)].key) for _, s in self.bindings
                   if self.ops[id(s)].kind == "user"}  # (each helper's source read once)

        def seq_like(node):
            return isinstance(node, (gast.Tuple, gast.List)) or \
                (isinstance(node, gast.Name) and node.id in seqs)

        changed = True
        while changed:
            changed = False
            for target, s in self.bindings:
                op = self.ops[id(s)]
                value = s.value
                is_seq = holds = False
                if op.kind == "container" and "keys" not in op.keywords:
                    is_seq = True
                    holds = any(seq_like(a) or (isinstance(a, gast.Name) and a.id in holders)
                                for a in op.args)
                elif op.kind == "container":  # a dict: its values may be sequences
                    holds = any(seq_like(a) for a in op.args)
                elif op.kind == "copy":
                    is_seq = op.args[0].id in seqs
                    holds = op.args[0].id in holders
                elif op.kind == "user":
                    is_seq, holds = returns[id(s)]
                elif op.kind == "rule" and op.key in _SEQUENCE_OPS:
                    is_seq = any(seq_like(a) for a in op.args[:2])
                    holds = any(isinstance(a, gast.Name) and a.id in holders for a in op.args[:2])
                elif op.kind == "rule" and _returns_sequence(op.key):
                    is_seq = True
                    holds = op.key in (list, tuple)
                elif isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
                    base = value.value.id
                    if isinstance(value.slice, gast.Slice):  # a slice of a list is a list
                        is_seq, holds = base in seqs, base in holders
                    else:  # an item: a list only if the container may hold lists
                        is_seq = holds = base in holders
                if is_seq and target not in seqs:
                    seqs.add(target)
                    changed = True
                if holds and target not in holders:
                    holders.add(target)
                    changed = True
            for target, iterated in self.loop_items:
                if isinstance(iterated, gast.Name) and iterated.id in holders and \
                        target not in seqs:
                    seqs.add(target)
                    holders.add(target)
                    changed = True
            for obj, values in self.appends:
                if obj not in holders and any(seq_like(v) or (isinstance(v, gast.Name) and
                                                              v.id in holders) for v in values):
                    holders.add(obj)
                    changed = True
        return seqs

    def effect_targets(self):
        """Temporaries holding the result of a call that may act on the world (draw a random
        number, print, append, call the user's code): never deleted as dead code, so the call
        happens as often as in the user's function even where its value is not needed."""
        out = set()
        for target, s in self.bindings:
            op = self.ops[id(s)]
            if op.kind in ("user", "unknown") or (op.kind == "nondiff" and
                                                  op.key is builtins.print) or \
                    self.object_read(op, s):
                out.add(target)
        return out

    def object_attribute_read(self, op, s):
        """``(object node, attribute name)`` of ``t = obj.name`` reading an object's attribute (a
        local's, through get_attribute, or a global object's); None otherwise (a module's or a
        class's attribute is not object state)."""
        from . import runtime

        if op.kind == "rule" and op.key is runtime.get_attribute:
            return op.args[0], op.args[1].value
        if op.kind == "const" and isinstance(s.value, gast.Attribute) and \
                isinstance(s.value.value, gast.Name) and not isinstance(
                    self.resolver.static_value(s.value.value), (types.ModuleType, type)):
            return s.value.value, s.value.attr
        return None

    def reaches_object_state(self, op, s):
        """``t = obj.name`` of an object, or an item of such a name (``t = self.dv["A"]``)."""
        if self.object_attribute_read(op, s) is not None:
            return True
        if op.kind in ("rule", "copy") and op.args and isinstance(op.args[0], gast.Name) and \
                (op.kind == "copy" or op.key is operator.getitem):
            return op.args[0].id in self.object_held
        return False

    def object_read(self, op, s):
        """``t = obj.name`` of an object (not a module, not an array's own attribute): kept even
        where its value is not needed, since the read is where a value a gradient call stored
        there is caught (runtime/object_state.py)."""
        from . import runtime

        if op.kind == "rule" and op.key is runtime.get_attribute:
            return True
        for node in gast.walk(s.value):  # (C.cache[-1] reads C.cache)
            if isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load) and \
                    isinstance(node.value, gast.Name) and node.value.id not in self.locals:
                base = self.resolver.static_value(node.value)
                if not isinstance(base, (types.ModuleType, type)) and \
                        not isinstance(getattr(type(base), node.attr, None), property) and \
                        not isinstance(base, np.ndarray):
                    return True
        return False

    def dynamic_callee(self, op, s):
        """The callable of ``t = obj.method(a)`` or ``t = f(a)`` whose class or function is known
        only at run time (self.act_fn(z), layer.forward(h) in a loop over layers), when it carries
        no derivative itself; else None (a closure made from active values is refused)."""
        value = s.value
        if not isinstance(value, gast.Call) or not (isinstance(op.key, str) or op.func is not None):
            return None
        if _names_in([value.func]) & self.active or \
                any(isinstance(a, gast.Starred) for a in value.args):
            return None
        return value.func

    def write_error(self, obj, what, s):
        return SourcediffSyntaxError(
            f"{self.parsed.where(s)}: {what} writes into {obj} in place, which sourcediff does not "
            f"differentiate; assign the result to a name instead ({obj} = ...), or "
            f"{obj}[...] = ... to fill the array.\n    {self.parsed.line_text(s)}")

    def on_copies(self, s):
        """``t = helper(z)`` where helper writes into its parameter: the primal call gets a copy
        of z, whose value the adjoint sweep still needs (and passes to the backward form). The
        alias stage refused the programs in which numpy's caller would see the write."""
        from .alias import mutated_params

        value = getattr(s, "value", None)
        if not isinstance(value, gast.Call):
            return s
        op = self.ops.get(id(s)) if isinstance(s, gast.Assign) else None
        callee = op.key if op is not None and op.kind == "user" else None
        if callee is None and isinstance(s, gast.Expr):
            try:
                op = self.resolver.op(value)
            except Exception:  # noqa: BLE001
                return s
            callee = op.key if op.kind == "user" else None
        written = mutated_params(callee) if callee is not None else {}
        if not written:
            return s
        if any(isinstance(a, gast.Starred) for a in value.args):
            raise SourcediffSyntaxError(
                f"{self.parsed.where(s)}: {getattr(callee, '__qualname__', callee)} writes into "
                f"its parameters in place, and this call passes them with *; pass them one by one "
                f"so sourcediff can give the helper copies.\n    {self.parsed.line_text(s)}")
        try:
            bound = inspect.signature(callee).bind(*value.args, **{
                k.arg: k.value for k in value.keywords})
        except TypeError:
            return s
        copies = {id(node) for p, node in bound.arguments.items()
                  if p in written and isinstance(node, gast.Name)}
        new = copy.copy(s)
        new.value = copy.copy(value)
        new.value.args = [call(self.rt("copy"), [a]) if id(a) in copies else a for a in value.args]
        new.value.keywords = [gast.keyword(arg=k.arg, value=call(self.rt("copy"), [k.value]))
                              if id(k.value) in copies else k for k in value.keywords]
        return new

    def writes_into_needed(self):
        """Names written by ``a[i] = v`` that may share memory with a value the adjoint reads
        (``row = x[k]`` saved for the adjoint, then ``x_alias[k, 0] = v``): the adjoint sweep
        undoes those writes too, so the saved view shows what the primal read."""
        links = {}
        for a, b in self.aliases:
            links.setdefault(a, set()).add(b)
            links.setdefault(b, set()).add(a)
        out = set()
        for base in self.setitem_targets - self.needed:
            seen, todo = {base}, [base]
            while todo:
                for other in links.get(todo.pop(), ()):
                    if other not in seen:
                        seen.add(other)
                        todo.append(other)
            if seen & self.needed:
                out.add(base)
        return out

    def count(self, name, in_loop):
        self.assign_counts[name] = self.assign_counts.get(name, 0) + 1
        if in_loop:
            self.loop_assigned.add(name)

    def operand_names(self, op, stmt):
        """Local names whose derivative flows into this operation's result."""
        if op.kind in ("copy", "container"):
            return _names_in(op.args) & self.locals
        if op.kind in ("user", "unknown"):
            # a function value made at run time carries what its closure holds (g = make(a))
            called = [op.func] if op.func is not None else []
            return _names_in(op.args + list(op.keywords.values()) + called) & self.locals
        if op.kind != "rule":
            return set()
        q = quote.quoted(op.rule.vjp)
        try:
            slots = quote.slots(q, quote.bind(q, op.args, dict(op.keywords), ""))
        except quote.StarredArgument:  # (f(*shape)): every name may flow; refused if active
            return _names_in(op.args + list(op.keywords.values())) & self.locals
        except TypeError:
            slots = quote.slots(q, self.bind(op, q, stmt))
        out = set()
        for pos, arg in enumerate(slots):
            if q.differentiable(pos):
                out |= _names_in([arg]) & self.locals
        return out

    def bind_user_call(self, op, s):
        """(bound arguments, parameters that receive values carrying derivatives) of a call to the
        user's function; a ``*args`` parameter that receives one is bound to the tuple of what it
        collects, a ``**kwargs`` one is refused."""
        starred = [a for a in op.args if isinstance(a, gast.Starred)]
        if starred and _names_in(op.args + list(op.keywords.values())) & self.active:
            raise SourcediffSyntaxError(
                f"{self.parsed.where(s)}: the call to {op.name} passes *"
                f"{gast.unparse(starred[0].value)}, and values that carry derivatives go into it; "
                f"sourcediff matches such values to parameters by position where it compiles: pass "
                f"the arguments one by one.\n    {self.parsed.line_text(s)}")
        try:
            sig = inspect.signature(op.key)
            bound = sig.bind(*op.args, **op.keywords)
        except (TypeError, ValueError) as exc:
            raise SourcediffSyntaxError(f"{self.parsed.where(s)}: the call to {op.name} does not "
                                        f"fit its signature: {exc}.\n    {self.parsed.line_text(s)}")
        active = []
        for p, syntax in bound.arguments.items():
            kind = sig.parameters[p].kind
            nodes = list(syntax) if kind == kind.VAR_POSITIONAL else \
                list(syntax.values()) if kind == kind.VAR_KEYWORD else [syntax]
            if not _names_in(nodes) & self.active:
                continue
            if kind == kind.VAR_KEYWORD:
                star = "**"
                raise SourcediffSyntaxError(
                    f"{self.parsed.where(s)}: {op.name} collects its arguments in {star}{p}, and "
                    f"values that carry derivatives are passed through it; sourcediff "
                    f"differentiates through named parameters only so "
                    f"far: give {op.name} one parameter per value (def {op.name}(a, b)), or pass a "
                    f"list (def {op.name}(arrays) called as {op.name}([a, b])).\n    "
                    f"{self.parsed.line_text(s)}")
            active.append(p)
            if kind == kind.VAR_POSITIONAL:  # (*arrays: the tuple of the values passed)
                bound.arguments[p] = gast.Tuple(elts=list(syntax), ctx=gast.Load())
        return bound, active

    def bind(self, op, q, stmt):
        try:
            return quote.bind(q, op.args, dict(op.keywords), self.parsed.where(stmt))
        except quote.StarredArgument as exc:
            raise SourcediffSyntaxError(
                f"{exc} of {op.name}, whose result carries a derivative here; sourcediff needs "
                f"those arguments one by one: pass them by name or as one tuple (x.reshape(shape) "
                f"instead of x.reshape(*shape)).\n    {self.parsed.line_text(stmt)}") from None
        except TypeError as exc:
            raise SourcediffSyntaxError(
                f"{exc} in the call to {op.name} (for its derivative rule "
                f"{q.fn.__qualname__}{q.signature}).\n    {self.parsed.line_text(stmt)}"
            ) from None

    def origin(self, s, grad=False):
        """The user's line statement ``s`` comes from, as comments and the line table name it."""
        return Origin(self.parsed.filename_short, self.parsed.user_line(s),
                      self.parsed.line_text(s), grad)

    def line_comment(self, s):
        """``# <user line>  (file.py:NN)`` above the primal code of a user line (deduplicated)."""
        if getattr(s, "lineno", None) is None or isinstance(s, gast.Pass):
            return []
        return [comment_at(self.origin(s))]

    def no_rule_message(self, op, s):
        if op.func is not None and _names_in([op.func]) & self.active:
            return (f"{self.parsed.where(s)}: {op.name}(...) calls a function made at run time "
                    f"(returned by another call, or held in a variable), and its value depends on "
                    f"{', '.join(self.wrt)} through what that function holds; sourcediff reads "
                    f"only functions it can resolve where it compiles.\n    "
                    f"{self.parsed.line_text(s)}\nCall a def defined in the module with those "
                    f"values as arguments instead (def scaled(x, a): return x * a; "
                    f"scaled(2.0, a))")
        if isinstance(op.key, str):  # obj.method(...) on a value whose class is not known here
            receiver = gast.unparse(op.args[0]) if op.args else "the object"
            origin = self.origin_of(receiver)
            if op.key == "get":  # (a dict's get: the subscript it stands for has a rule)
                key = gast.unparse(op.args[1]) if len(op.args) > 1 else "k"
                default = gast.unparse(op.args[2]) if len(op.args) > 2 else "None"
                return (f"{self.parsed.where(s)}: {origin}.get(...) on a value that depends on "
                        f"{', '.join(self.wrt)}: sourcediff differentiates a dict's entries "
                        f"read by subscript.\n    {self.parsed.line_text(s)}\nWrite "
                        f"{origin}[{key}] if {key} in {origin} else {default}")
            return (f"{self.parsed.where(s)}: {origin}.{op.key}(...) calls a method of a value "
                    f"whose class sourcediff cannot know where it compiles (an attribute of an "
                    f"object, an item of a container, or a value made at run time), on a value "
                    f"that depends on {', '.join(self.wrt)}.\n    {self.parsed.line_text(s)}\n"
                    f"Call a module-level function, or a method through self or a module-level "
                    f"object, or name the class (TheClass.{op.key}(obj, ...)), or register a rule "
                    f"with sourcediff.defvjp")
        if getattr(op.key, "__name__", None) in ("dynamic_fwd", "dynamic_bwd", "dynamic_jvp") \
                and getattr(op.key, "__module__", None) == "sourcediff.runtime":
            return (f"{self.parsed.where(s)}: this call's function is known only at run time (a "
                    f"function passed as an argument or held in a variable, a functools.partial, "
                    f"a method of an object met at run time), and such calls have first "
                    f"derivatives only so far; this is a second derivative through it.\n    "
                    f"{self.parsed.line_text(s)}\nFor second derivatives, call the function by "
                    f"its own name here (a module-level def, or a method through self)")
        if isinstance(op.key, type) and op.key is functools.partial:
            return (f"{self.parsed.where(s)}: functools.partial binds a value that depends on "
                    f"{', '.join(self.wrt)}; sourcediff follows values into functions through "
                    f"their arguments only.\n    {self.parsed.line_text(s)}\nPass that value "
                    f"when you call the function instead of binding it in the partial")
        if getattr(op.key, "__module__", None) == "sourcediff.runtime":
            return (f"{self.parsed.where(s)}: sourcediff's helper {op.name} has no derivative "
                    f"rule yet, so code that uses it cannot be differentiated again (a higher "
                    f"derivative through the rule that calls it).\n    {self.parsed.line_text(s)}\n"
                    f"Use a derivative of lower order here, or register a rule for {op.name} with "
                    f"sourcediff.defvjp")
        return (f"{self.parsed.where(s)}: no derivative rule for {op.name} "
                f"({_describe(op.key)}), which is called here on a value that depends on "
                f"{', '.join(self.wrt)}.\n    {self.parsed.line_text(s)}\n"
                f"Register one with @sourcediff.defvjp({op.name}), or mark the value with "
                f"sourcediff.stop_gradient if it should not carry a derivative")

    def origin_of(self, name):
        """The user's expression a compiler temporary holds (``self.act`` for ``_act1``)."""
        for st in self.body:
            for node in gast.walk(st):
                if isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Name) and \
                        node.targets[0].id == name and isinstance(node.value, gast.Attribute):
                    return gast.unparse(node.value)
        return name

    def rt(self, helper):
        """``_sd.helper`` as the generated code names the runtime module."""
        from . import runtime

        return attr(load(self.globals.name("_sd", runtime)), helper)


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
                item = call(self.rt("item_grad"), [g, copy.deepcopy(key)])
                out.extend(self.distribute(elt, item, s, "a container"))
        elif op.kind == "rule":
            out.extend(self.adjoint_rule(op, s, g, load(target)))
        elif op.kind == "user":
            out.extend(self.adjoint_user_call(op, s, g, target))
        elif _container_pop(op, self.containers):
            obj = op.args[0].id
            if obj in self.active:
                out.append(assign(self.bar(obj), call(self.rt("push_grad"), [load(self.bar(obj)),
                                                                             g]), s))
        elif op.kind == "unknown" and self.operand_names(op, s) & self.active:
            if not self.dynamic_callee(op, s):
                raise NoRuleError(self.no_rule_message(op, s))
            out.extend(self.adjoint_dynamic_call(s, g, target))
        out.append(assign(bar, const(ZERO), s))  # the value before this assignment starts at 0
        return out

    def adjoint_user_call(self, op, s, g, target):
        """``t = helper(a, b)``: the primal calls helper's forward form, which returns the value
        and what helper's adjoint reads (kept in ``_saved``, pushed like any local in a loop);
        the adjoint calls its backward form with that and ``t_bar``. helper's body runs once per
        call, so its random draws and side effects happen once; both forms are generated code,
        so the result is differentiable again."""
        from .api import split_form

        callee = op.key
        bound, active_params = self.bind_user_call(op, s)
        fwd = called_form(split_form, callee, active_params, self.parsed.where(s))
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

    def adjoint_dynamic_call(self, s, g, target):
        """``t = obj.forward(a)`` with obj's class known at run time only: the primal runs
        ``_sd.dynamic_fwd``, which compiles the method's forward and backward forms for the
        object it meets (cached per class) and runs it once; the adjoint runs its backward form."""
        value = s.value
        positions = [k for k, a in enumerate(value.args) if _names_in([a]) & self.active]
        names = [k.arg for k in value.keywords if _names_in([k.value]) & self.active]
        active = const(tuple(positions) + tuple(names))

        def build(v):
            return call(self.rt("dynamic_fwd"), [copy.deepcopy(v.func), active] + list(v.args),
                        list(v.keywords))

        saved = self.saved_state(s, target, build)
        grads = self.names.fresh("grads")
        run = call(self.rt("dynamic_bwd"), [gast.Subscript(value=load(saved), slice=const(1),
                                                           ctx=gast.Load())])
        run.keywords.append(gast.keyword(arg="out_bar", value=g))
        out = [assign(grads, run, s)]
        syntax = [value.args[k] for k in positions] + \
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
        return [located(run, s), located(gast.Assign(targets=copy.deepcopy(s.targets), value=value,
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
                    item = gast.Subscript(value=load(parts), slice=const(k), ctx=gast.Load())
                    out.extend(self.distribute(elt, item, s, what))
            return out
        if not (_names_in([arg]) & self.active):
            return []
        raise SourcediffSyntaxError(
            f"{self.parsed.where(s)}: cannot differentiate {what} through an argument written as "
            f"{gast.unparse(arg)}; assign it to a variable first.\n    {self.parsed.line_text(s)}")

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
        slots = quote.slots(q, bound)
        wanted = [pos for pos, arg in enumerate(slots)
                  if q.differentiable(pos) and _names_in([arg]) & self.active]
        prelude, contribs = quote.inline(q, g, ans, bound, wanted, self.names.fresh,
                                         self.globals.name)
        out = [located(p, s) for p in prelude]
        for pos in wanted:
            out.extend(self.distribute(slots[pos], contribs[pos], s, op.name,
                                       broadcast=op.rule.broadcast))
        return out

    def adjoint_setitem(self, s):
        """``y[idx] = v``: v gets ``y_bar[idx]``, and the overwritten part of y gets no gradient."""
        target = s.targets[0]
        base = target.value.id
        bar = self.bar(base)
        out, tail = [], []
        index = copy.deepcopy(target.slice)
        if isinstance(s.value, gast.Name) and s.value.id in self.active:
            part = call(self.rt("item_grad"), [load(bar), resolve_index(copy.deepcopy(index))])
            if s.value.id == base:  # y[idx] = y: take the part before zeroing, add it after
                saved = self.names.fresh("part")
                out.append(assign(saved, part, s))
                part = load(saved)
            tail.append(self.accumulate(s.value.id,
                                        call(self.rt("unbroadcast"), [part, load(s.value.id)]), s))
        zero = assign(bar, call(self.rt("zero_at"), [load(bar), load(base), resolve_index(index)]),
                      s)
        if tail and s.value.id == base:
            return out + [zero] + tail
        return out + tail + [zero]

    # ------------------------------------------------------------------ sweeps

    def build(self):
        """The :class:`Sweeps` of the function body: its primal and adjoint statements."""
        adjoints = {}
        self.collect(self.body, adjoints)
        reads = set()
        for stmts in adjoints.values():
            for st in stmts:
                reads |= _loads(st)
        self.needed = reads & self.locals
        while True:  # a branch is replayed when its adjoint does anything, pops included
            more = _loads_of_tests(self.body, adjoints, self.needed) & self.locals
            more |= self.writes_into_needed()
            if more <= self.needed:
                break
            self.needed |= more
        self.first_bindings = _first_bindings(self.body, set(self.params))
        self.pushed_old = set()
        self.adjoints = adjoints
        primal = self.primal_block(self.body, depth=0)
        adjoint = self.adjoint_block(self.body, adjoints, depth=0)
        return Sweeps(primal, adjoint, frozenset(self.needed), frozenset(self.pushed_old))

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
                    if target.id in self.active:
                        adjoints[id(s)] = self.adjoint_assign(s)
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
                elif target.value.id in self.needed and self.may_be_container(target.value.id):
                    # (a dict may get a new key: the sweep then removes it again)
                    out.append(self.push(call(self.rt("saved_item"), [
                        load(target.value.id), resolve_index(copy.deepcopy(target.slice))]), s))
                elif target.value.id in self.needed:
                    part = gast.Subscript(value=load(target.value.id),
                                          slice=copy.deepcopy(target.slice), ctx=gast.Load())
                    out.append(self.push(call(self.rt("copy"), [part]), s))
                out.append(self.on_copies(s))
            elif isinstance(s, gast.If):
                out.append(located(gast.If(test=s.test, body=self.primal_block(s.body, depth),
                                           orelse=self.primal_block(s.orelse, depth)), s))
            elif isinstance(s, (gast.For, gast.While)):
                out.extend(self.primal_loop(s, depth))
            else:
                out.append(self.on_copies(s))
        return out

    def may_be_container(self, name):
        """Whether ``name`` may hold a list, tuple or dict (a container the function builds, or a
        name subscripted with a string, ``d["k"] = v``, a parameter too). Then ``name[k] = v`` is
        saved with ``saved_item``, which also undoes a key a dict did not have."""
        return name in self.containers

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
                elif target.value.id in self.needed and self.may_be_container(target.value.id):
                    restore = call(self.rt("restore_item"), [
                        load(target.value.id), resolve_index(copy.deepcopy(target.slice)),
                        call(attr(load(self.stack_name()), "pop"), [])])
                    block.append(located(gast.Expr(value=restore), s))
                elif target.value.id in self.needed:
                    block.append(self.pop(gast.Subscript(value=load(target.value.id),
                                                         slice=copy.deepcopy(target.slice),
                                                         ctx=gast.Store()), s))
                if block:
                    out.append(self.grad_comment(s))
                    out.extend(block)
            elif isinstance(s, gast.Expr) and _method_call(s, self.locals):
                obj, method = _method_call(s, self.locals)
                block = list(adjoints.get(id(s), []))
                if method == "append" and obj in self.needed:
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


class GlobalNames:
    """Names under which rule globals (``np``, ``_sd``) and other objects appear in generated code."""

    def __init__(self, taken, user_lookup):
        self.taken = taken  # Names of the function being generated
        self.user_lookup = user_lookup  # name -> object the user's code sees, or a sentinel
        self.bound = {}  # emitted name -> object
        self.by_id = {}

    def name(self, wanted, obj):
        key = id(obj)
        if key in self.by_id:
            return self.by_id[key]
        name = wanted = _identifier(wanted)
        user = self.user_lookup(name)
        if (name in self.taken.taken and user is not obj) or \
                (name in self.bound and self.bound[name] is not obj):
            name = self.taken.fresh(wanted)
        self.bound[name] = obj
        self.by_id[key] = name
        return name


_SEQUENCE_OPS = (operator.add, operator.mul)


def _sequence_op(op):
    """``a + b`` / ``a * b`` where an operand may be a list or tuple, as the primitive that
    concatenates or repeats those and adds or multiplies anything else (decided at run time)."""
    from . import runtime

    key = runtime.add_or_concat if op.key is operator.add else runtime.mul_or_repeat
    return Op("rule", key=key, rule=registry.lookup(key), args=list(op.args), name=op.name)


def _with_func(value, func):
    new = copy.copy(value)
    new.func = func
    return new


def _identifier(text):
    """``text`` as a Python identifier (``<lambda>_bwd`` -> ``lambda_bwd``)."""
    if text.isidentifier() and not keyword.iskeyword(text):
        return text
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in text).strip("_")
    return out if out.isidentifier() and not keyword.iskeyword(out) else f"fn_{out}"


def _describe(obj):
    if obj is None:
        return "unresolved"
    module = getattr(obj, "__module__", None)
    return f"{type(obj).__name__} from {module}" if module else type(obj).__name__


def _str_key(index):
    return isinstance(index, gast.Constant) and isinstance(index.value, str)


_NUMPY_WRITERS = {np.copyto, np.put, np.place, np.putmask, np.fill_diagonal,
                  np.put_along_axis}


def _numpy_write(call, resolver):
    """(names written, how the call reads) for a numpy call that writes into an array it is
    given: ``out=`` of a ufunc or function, ``np.copyto(y, x)`` and the like, ``np.add.at(y, ...)``.
    None for other calls."""
    obj = resolver.static_value(call.func)
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
    if call.args and (_hashable_in(obj, _NUMPY_WRITERS) or (
            isinstance(owner, np.ufunc) and getattr(obj, "__name__", "") == "at")):
        return _names_in(call.args[:1]), f"{text}(...)"
    return None


def _hashable_in(obj, group):
    try:
        return obj in group
    except TypeError:
        return False


def _method_call(s, local_names):
    """(object name, method) for a statement ``obj.method(...)`` on a local, else None."""
    value = s.value
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
            and isinstance(value.func.value, gast.Name) and value.func.value.id in local_names:
        return value.func.value.id, value.func.attr
    return None


def called_form(make, callee, active_params, where):
    """``make(callee, params)``, with the call site added to a NoSourceError/SyntaxError."""
    from .errors import NoSourceError

    try:
        return make(callee, tuple(active_params))
    except (NoSourceError, SourcediffSyntaxError) as exc:
        name = getattr(callee, '__qualname__', callee)
        advice = ""
        if isinstance(exc, NoSourceError) and "sourcediff.defvjp" not in str(exc):
            # a called function can also be treated as a primitive: give it a rule
            advice = f", or register a derivative rule for {name} with sourcediff.defvjp"
        raise type(exc)(f"{where}: in the call to {name}: {exc}{advice}") from None


def _returns_sequence(key):
    """Primitives whose result is a list or tuple (its gradient is one too)."""
    import numpy as np

    from . import runtime

    return any(key is k for k in (list, tuple, np.split, np.array_split, np.hsplit, np.vsplit,
                                  np.dsplit, np.linalg.slogdet, runtime.add_or_concat_grads,
                                  runtime.mul_or_repeat_grads, runtime.add_grads))


def _may_return_sequence(fn):
    """(may return a list or tuple, which may hold lists or tuples) for the user function ``fn``:
    some ``return`` gives a literal one, list()/tuple(), a comprehension, a name bound to one of
    these or appended to, a parameter (it returns what it was given) or another call's result.
    ``return np.sin(x) * 2`` does not; ``return np.sin(x), np.cos(x)`` returns a tuple of arrays."""
    from .parse import parse_function

    try:
        node = parse_function(fn).node
    except Exception:  # noqa: BLE001  (unreadable: assume it may)
        return True, True
    params = {a.id for a in node.args.args} | {a.id for a in node.args.kwonlyargs}
    seq_names = set()
    for n in gast.walk(node):
        if isinstance(n, gast.Assign) and _sequence_syntax(n.value):
            seq_names |= {t.id for t in n.targets if isinstance(t, gast.Name)}
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                n.func.attr in ("append", "extend") and isinstance(n.func.value, gast.Name):
            seq_names.add(n.func.value.id)

    def maybe(v):
        return _sequence_syntax(v) or (isinstance(v, gast.Name) and (
            v.id in seq_names or v.id in params)) or isinstance(
            v, (gast.IfExp, gast.BoolOp, gast.Subscript)) or (
            isinstance(v, gast.Call) and not isinstance(v.func, gast.Attribute))

    is_seq = holds = False
    for n in gast.walk(node):
        if isinstance(n, gast.Return) and n.value is not None:
            v = n.value
            if isinstance(v, (gast.Tuple, gast.List)):
                is_seq = True
                holds = holds or any(maybe(e) for e in v.elts)
            elif maybe(v):
                return True, True
    return is_seq, holds


def _sequence_syntax(v):
    return isinstance(v, (gast.Tuple, gast.List, gast.ListComp)) or (
        isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and v.func.id in ("list", "tuple")
    ) or (isinstance(v, gast.BinOp) and (_sequence_syntax(v.left) or _sequence_syntax(v.right)))


_DICT_READS = frozenset(_DICT_METHODS.values())  # (d.items() and the like, as runtime calls)
_ATTRIBUTE_SINK = "<attribute>"  # (a name no program has: what obj.attr = v stores goes there)
_WRITES_ATTRIBUTES = {}


def _writes_attributes(fn, depth=0):
    """Whether the user function ``fn`` (or a function it calls by name or through self) changes
    an object's state: assigns an attribute (``self.w = v``), an item of one (``self.d["k"] =
    v``), or appends to one (``self.cache.append(v)``). Its result may then matter even where the
    caller drops it: its forms must run, and their checks see what it stores."""
    from .parse import parse_function

    key = fn
    try:
        if key in _WRITES_ATTRIBUTES:
            return _WRITES_ATTRIBUTES[key]
    except TypeError:
        return True
    _WRITES_ATTRIBUTES[key] = False  # (recursion)
    try:
        parsed = parse_function(fn)
    except Exception:  # noqa: BLE001  (unreadable: transforming it will say so)
        return False
    found = False
    from_objects = set()  # names bound from an attribute read (l = self.cache, d = self.dv["A"])
    for n in gast.walk(parsed.node):
        if isinstance(n, gast.Assign) and any(isinstance(m, gast.Attribute)
                                              for m in gast.walk(n.value)):
            from_objects |= {t.id for t in n.targets if isinstance(t, gast.Name)}

    def object_held(node):
        """An expression reaching into an object's state: self.cache, self.dv["A"], l."""
        return any(isinstance(m, gast.Attribute) or
                   (isinstance(m, gast.Name) and m.id in from_objects) for m in gast.walk(node))

    for n in gast.walk(parsed.node):
        targets = n.targets if isinstance(n, gast.Assign) else \
            [n.target] if isinstance(n, gast.AugAssign) else []
        if any(isinstance(t, gast.Attribute) or
               (isinstance(t, gast.Subscript) and object_held(t.value)) for t in targets):
            found = True  # self.w = v, self.cache["A"] = v, l[0] = v for l = self.arr
            break
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                writes_in_place(n.func.attr) and object_held(n.func.value):
            found = True  # self.cache.append(v), self.dv["A"].append(v)
            break
        if isinstance(n, gast.Call) and (
                (isinstance(n.func, gast.Name) and n.func.id == "setattr") or
                (isinstance(n.func, gast.Attribute) and n.func.attr == "__setattr__")):
            found = True  # setattr(self, k, v), object.__setattr__(self, "h", v)
            break
        if depth < 4 and isinstance(n, gast.Call):
            callee = None
            if isinstance(n.func, gast.Name):
                callee = parsed.env.get(n.func.id, parsed.fn.__globals__.get(n.func.id))
            elif isinstance(n.func, gast.Attribute) and isinstance(n.func.value, gast.Name) and \
                    parsed.self_class is not None and parsed.node.args.args and \
                    n.func.value.id == parsed.node.args.args[0].id:
                callee = getattr(parsed.self_class, n.func.attr, None)
            if inspect.isfunction(callee) and _writes_attributes(callee, depth + 1):
                found = True
                break
    _WRITES_ATTRIBUTES[key] = found
    return found


def _own_parts(s):
    """What statement ``s`` itself evaluates: a compound statement's test or iterated value, not
    its blocks (their statements are walked on their own)."""
    if isinstance(s, (gast.If, gast.While)):
        return [s.test]
    if isinstance(s, gast.For):
        return [s.iter]
    return [s]


def _all_statements(stmts):
    """Every statement of ``stmts``, those of nested blocks included."""
    out = []
    for s in stmts:
        out.append(s)
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list):
                out.extend(_all_statements(inner))
    return out


def _setattr_call(s, local_names):
    """``setattr(obj, "name", v)``, which ``obj.name = v`` normalizes to, or the
    ``_sd.store_attribute(obj, "name", v, where, text, carries)`` it becomes when v carries a derivative
    (met again when generated code is differentiated)."""
    v = s.value
    if not isinstance(v, gast.Call):
        return False
    if isinstance(v.func, gast.Attribute) and v.func.attr == "store_attribute" and \
            isinstance(v.func.value, gast.Name) and v.func.value.id.startswith("_sd") and \
            len(v.args) == 6:
        return isinstance(v.args[1], gast.Constant)
    return isinstance(v.func, gast.Name) and \
        v.func.id == "setattr" and "setattr" not in local_names and len(v.args) == 3


def _container_pop(op, containers):
    """True for ``v = lst.pop()`` on a list (the stacks of generated code)."""
    return (op.kind == "unknown" and op.key == "pop" and not op.args[1:] and not op.keywords
            and isinstance(op.args[0], gast.Name) and op.args[0].id in containers)


# runtime helpers that give the symbolic zero (0.0, or zeros of the right shape) back when their
# first argument, the gradient, is the symbolic zero 0.0
_ZERO_AWARE = frozenset({
    "unreduce", "reshape_grad", "matmul_grad_left", "matmul_grad_right", "einsum_grads",
    "dot_grad_left", "dot_grad_right",
    "einsum_call_grads", "concat_grads", "unstack_grads", "unbroadcast", "scatter", "scatter_basic",
    "item_grad", "zero_at", "add_grads", "grad_like", "owned_grad", "broadcast_tangent",
    "rebroadcast", "scale_each", "extremum_args_grad"})


def _zero_safe(q, rule):
    """True when the vjp rule ``q`` gives right contributions (0.0, or zeros that broadcast to the
    argument) for the symbolic zero gradient 0.0: it uses the gradient only in arithmetic, or as
    the first argument of a helper of :data:`_ZERO_AWARE` (or in np.where for a pointwise rule)."""
    if not isinstance(q, quote.QuotedRule) or isinstance(q, quote.CalledRule):
        return False
    g = q.params[0]
    trees = list(q.prelude) + [q.result]
    parents = {}
    for tree in trees:
        for node in gast.walk(tree):
            for child in gast.iter_child_nodes(node):
                parents[id(child)] = node
    pointwise = rule.kind == "elementwise" or rule.broadcast
    for tree in trees:
        for node in gast.walk(tree):
            if isinstance(node, gast.Name) and node.id == g and \
                    not _zero_safe_use(node, parents, q.result, pointwise):
                return False
    return True


def _zero_safe_use(node, parents, result, pointwise):
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
            module, helper = parent.func.value.id, parent.func.attr
            if module == "_sd" and helper in _ZERO_AWARE and parent.args and parent.args[0] is node:
                return True
            if module == "np" and helper == "where" and pointwise and node in parent.args[1:]:
                node = parent
                continue
        return False


def _view_like(op):
    name = getattr(op.key, "__name__", "") or ""
    return name in VIEWS or op.name.strip(".()") in VIEWS


def _names_in(nodes):
    out = set()
    for node in nodes:
        if node is None:
            continue
        for n in gast.walk(node):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                out.add(n.id)
    return out


def _loads(node):
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


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
        bound |= {n.id for n in gast.walk(s)
                  if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    return out


def _has_code(stmts):
    from .emit import is_comment

    return any(not is_comment(s) for s in stmts)


def _locals(fdef):
    out = {a.id for a in fdef.args.args}
    for node in gast.walk(fdef):
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Param)):
            out.add(node.id)
    return out

