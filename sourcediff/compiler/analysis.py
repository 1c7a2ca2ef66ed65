"""What both modes need to know of a normalized function (:class:`Analysis`): each statement's operation,
the flows of values between names, which names are active (carry a derivative), what may be a
container, a sequence or an alias, and the checks of writes into active values."""

import builtins
import copy
import functools
import inspect
import operator

import gast
import numpy as np

from .. import runtime
from ..errors import NoRuleError, SourcediffSyntaxError
from ..rules import quote, registry
from ..rules.facts import CONTAINER_ONLY_METHODS, writes_in_place
from ..runtime.dynamic import bind_code, code_signature
from ..runtime.shapes import foreign_array
from ..syntax import _method_call, _names_in, spread_text, walk
from .activity import activity
from .alias import _fresh_call, fresh_result, item_mutated_params, maybe_item_params, mutated_params
from .alias import numpy_write as _numpy_write
from .dispatched import check_dispatched
from .emit import Origin, comment_at
from .fence import iterator_advice
from .normalize import call, load
from .object_state import ATTRIBUTE_SINK as _ATTRIBUTE_SINK
from .object_state import ObjectState, _setattr_call, _writes_attributes
from .parse import parse_function
from .reach import _str_key, array_names, holders_of, refuse_unions
from .resolve import _DICT_METHODS, MethodOf, Op, Resolver, local_array_method
from .sharing import in_place_error, write_error


def attr(value, name):
    return gast.Attribute(value=value, attr=name, ctx=gast.Load())


def add(a, b):
    return gast.BinOp(left=a, op=gast.Add(), right=b)


class Analysis(ObjectState):
    """What both modes need to know of a normalized function: its operations and active names."""

    # (reverse mode: an adjoint reads the values of the forward sweep later, when an in-place
    # write may have changed them; forward mode reads each where it is computed)
    adjoint_reads_values = True

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
        self.resolver.note_supers(fdef)
        self.arrays = array_names(fdef, self.params, lambda v: _fresh_call(v, self.resolver))
        self.ops = {}
        self.split_calls = {}  # id(statement) -> (saved name, forward form's name) of user calls
        self.bars = {}
        self.stack = None
        self.counter = None
        self.analyze()

    # ------------------------------------------------------------------ analysis

    def analyze(self):
        """Walk the body once for what each statement binds, reads and writes (the flows of
        values between names), then find the active names and check and rewrite what depends on
        them: in-place writes of active values are refused, attribute stores of them watched
        (runtime/object_state.py), containers held by objects watched, dynamic calls made for
        their effect run through their forms."""
        flows = []
        self.assign_counts = {p: 1 for p in self.params}
        self.loop_assigned = set()
        self.setitem_targets = set()
        self.aliases = []  # (target, source) pairs of possible memory sharing
        # (target, name read) pairs of every binding whose value may share memory with what it
        # reads: the aliases, and results not known to be fresh (y.flat, y.view(),
        # as_strided(y)); what a copy of a parameter on entry must cover
        self.shares = []
        self.containers = set()  # names that may hold lists, tuples or dicts
        self.mutations = []  # (name, method, statement) of in-place methods other than append
        self.writes = []  # (name, call, statement) of numpy calls writing into an array
        self.attribute_writes = []  # setattr(obj, "name", v) statements (obj.name = v)
        self.attribute_writes_in_calls = False
        self.arith = []  # (target, statement) of a + b and a * b: concatenation if of containers
        self.bindings = []  # (target, statement) of every assignment to a name
        self.appends = []  # (list, appended values) of every lst.append(v)
        self.container_writes = []  # (container, values, statement): lst.append(v), d[k] = v
        self.object_held = set()  # names bound to what an object's attribute holds (or in it)
        self.loop_items = []  # (loop variable, iterated expression) of every for loop
        self.loops_around, self.order = [], 0  # (the loops around a statement, its place)
        self.placed = {}  # id(statement) -> (place, ids of the loops around it)
        self.value_reads = []  # (place, loops, target, names read) of every ``name = ...``
        # (target, op, statement, parameter, names) of every argument of a rule's call in a
        # position the rule gives no derivative (np.cov's aweights=): see refuse_cut_slots
        self.cut_slots = []
        self.walk(self.body, False, flows)
        self.close_containers()
        flows.extend(self.writes_through_aliases())
        outputs = _names_in([self.result]) & self.locals
        if self.attribute_writes or self.attribute_writes_in_calls or \
                any(_ATTRIBUTE_SINK in targets for targets, _ in flows):
            outputs.add(_ATTRIBUTE_SINK)
        self.active = activity(flows, self.wrt, outputs)
        # (what depends on wrt, reaching the output or not: an effect call may store it on an object)
        self.varied = activity(flows, self.wrt, set(self.locals))
        self.refuse_cut_slots(flows, outputs)
        refuse_unions(self.bindings, self.ops, self.varied, self.parsed, self.containers |
                      set(self.params))  # (d | e of dicts: no derivative rule)
        check_dispatched(self.bindings, self.ops, self.varied, self.rt)  # (~obj: dispatched.py)
        self.refuse_matrix_reads()
        self.refuse_active_writes()
        self.active.discard(_ATTRIBUTE_SINK)
        self.store_attributes()
        self.watch_object_containers()
        self.run_effect_calls_through_forms()

    def walk(self, stmts, in_loop, flows):
        """Record what each statement of ``stmts`` (and of the blocks in them) does, appending
        its flows of values (``(targets, sources)``) to ``flows``."""
        for s in stmts:
            value = getattr(s, "value", None)
            self.order += 1
            self.placed[id(s)] = (self.order, tuple(self.loops_around))
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                self.value_reads.append((self.order, tuple(self.loops_around), s.targets[0].id,
                                         _names_in([s.value]) & self.locals))
            if isinstance(s, gast.Expr) and getattr(s, "sd_unpack", None) is not None:
                # (a, b = seq, run as seq[0], seq[1]: see normalize.bind)
                s.value = call(self.rt("check_unpack"), list(value.args) + [
                    gast.Constant(value=s.sd_unpack, kind=None),
                    gast.Constant(value=self.parsed.where(s), kind=None),
                    gast.Constant(value=self.parsed.line_text(s), kind=None)])
                s.sd_unpack = None
                continue
            if isinstance(s, (gast.Assign, gast.Expr)) and isinstance(value, gast.Call):
                self.walk_numpy_write(s, flows)
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
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                self.walk_binding(s, in_loop, flows)
            elif isinstance(s, gast.Assign):
                self.walk_item_store(s, flows)
            elif isinstance(s, gast.Expr) and _setattr_call(s, self.locals):
                # (the stored value counts as an output: a value that depends on wrt is
                # refused there even when nothing in this function reads it back)
                self.attribute_writes.append(s)
                flows.append(({_ATTRIBUTE_SINK}, _names_in([s.value.args[2]]) & self.locals))
            elif isinstance(s, gast.Expr) and _method_call(s, self.locals):
                self.walk_method_statement(s, flows)
            elif isinstance(s, gast.If):
                self.walk(s.body, in_loop, flows)
                self.walk(s.orelse, in_loop, flows)
            elif isinstance(s, (gast.For, gast.While)):
                if isinstance(s, gast.For):
                    self.count(s.target.id, True)
                    self.loop_items.append((s.target.id, s.iter))
                self.loops_around.append(id(s))
                self.walk(s.body, True, flows)
                self.loops_around.pop()
                self.walk(s.orelse, in_loop, flows)

    def walk_numpy_write(self, s, flows):
        """A numpy call that writes into an array given to it (``np.copyto(y, x)``, ``out=``)."""
        value = s.value
        written = _numpy_write(value, self.resolver)
        if not written:
            return
        names, what = written
        if isinstance(s, gast.Assign) and names and \
                self.resolver.op(value).kind == "rule":  # (no rule takes out=)
            raise self.write_error(sorted(names)[0], what, s)
        for obj in names & self.locals:
            self.writes.append((obj, what, s))
            flows.append(({obj}, (_names_in(value.args) | _names_in(
                [k.value for k in value.keywords]) | {obj}) & self.locals))

    def walk_binding(self, s, in_loop, flows):
        """``t = <operation>``: its op, the names it reads, and what ``t`` may be (a container,
        an alias of an operand, a sequence, what an object holds)."""
        target = s.targets[0]
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
        if getattr(s, "sd_loop_length", False) and op.key is builtins.len:
            # (for v in seq, run as seq[k] for k in range(len(seq)): refused for a dict, a set
            # or an iterator, which Python iterates otherwise; see normalize.sequence)
            s.value = call(self.rt("loop_length"), list(op.args) + [
                gast.Constant(value=self.parsed.where(s), kind=None),
                gast.Constant(value=self.parsed.line_text(s), kind=None)])
            op = self.resolver.op(s.value)
        self.ops[id(s)] = op
        if _may_share(op):
            for name in _names_in([s.value]) & self.locals - {target.id}:
                self.shares.append((target.id, name))
        uses = self.operand_names(op, s)
        flows.append(({target.id}, uses))
        if op.kind == "rule":
            self.record_cut_slots(op, s, target.id)
        self.count(target.id, in_loop)
        if op.kind in ("container", "user") or _returns_sequence(op.key) or (
                op.kind == "construct" and issubclass(op.key, tuple)):  # (State(q, p))
            self.containers.add(target.id)
        if op.kind == "unknown" and isinstance(op.key, str) and op.key == "pop" and \
                not op.args[1:] and isinstance(op.args[0], gast.Name):  # (arrays have no pop)
            self.containers.add(op.args[0].id)
            if op.args[0].id in self.locals:  # (v = lst.pop(): v is the item itself, as v = lst[-1])
                self.aliases.append((target.id, op.args[0].id))
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
        elif op.kind in ("container", "user", "construct"):
            # a tuple, list or dict holds its elements themselves, and a helper
            # may return an argument (or a view of it): t[k][i] = v writes into them
            values = [v for v in op.keywords.values() if isinstance(v, gast.AST)]
            for name in _names_in(list(op.args) + values) & self.locals:
                self.aliases.append((target.id, name))
        self.aliases += [(target.id, n) for n in holders_of(op, s.value, self.arrays) & self.locals]

    def walk_item_store(self, s, flows):
        """``c[k] = v``: ``c`` is written into (and is a dict when ``k`` is a string)."""
        target = s.targets[0]
        base = target.value.id
        self.setitem_targets.add(base)
        self.container_writes.append((base, [s.value], s))
        if base in self.object_held:  # (what it stores outlives the call)
            flows.append(({_ATTRIBUTE_SINK}, _names_in([s.value]) & self.locals))
        if _str_key(target.slice):
            self.containers.add(base)  # (d["k"] = v: a dict, a parameter too)
        if base in self.containers:  # (d[k] = t: d holds t itself, where an array copies it)
            self.aliases += [(base, n) for n in _names_in([s.value]) & self.locals - {base}]
        flows.append(({base}, _names_in([s.value]) & self.locals))

    def walk_method_statement(self, s, flows):
        """``obj.method(...)`` as a statement: ``lst.append(v)``, or an in-place method."""
        obj, method = _method_call(s, self.locals)
        if method in CONTAINER_ONLY_METHODS:  # (lst.append(row): lst holds row itself)
            values = list(s.value.args) + [k.value for k in s.value.keywords]
            for name in _names_in(values) & self.locals - {obj}:
                self.aliases.append((obj, name))
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

    def close_containers(self):
        """A copy of a container is a container; ``a + b`` and ``a * n`` of sequences are
        sequence operations (concatenation and repetition), whose result holds the items."""
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

    def refuse_active_writes(self):
        """In-place methods and numpy writes into a name that carries a derivative, or into one
        that an adjoint would read after the write (:meth:`read_before_write`)."""
        for obj, method, s in self.mutations:
            if obj in self.active:
                own = getattr(s.targets[0], "id", 0) if isinstance(s, gast.Assign) else 0
                result = self.origin_of(own) if any(isinstance(n, gast.Name) and n.id == own for n
                                                    in walk(self.parsed.node)) else None  # (r =)
                raise in_place_error(self.parsed.where(s), obj, method, self.parsed.line_text(s),
                                     self.aliases, self.origin_of, result)
        for obj, what, s in self.writes:
            if obj in self.active:
                raise self.write_error(obj, what, s)
        for obj, what, s in self.writes + [(o, f"{o}.{m}(...)", s) for o, m, s in self.mutations]:
            if obj not in self.active and self.adjoint_reads_values and \
                    self.read_before_write(obj, s):
                raise self.write_error(obj, what, s)

    def written_in_place(self):
        """Names the generated code writes into in place: ``a[i] = v``, numpy's writes (``out=``,
        ``np.copyto``, ``np.add.at``) and array methods (``v.fill(0.0)``, ``v.sort()``); a list's
        or dict's own methods (``lst.append``) change only its slots."""
        return set(self.setitem_targets) | {obj for obj, _what, _s in self.writes} | \
            {obj for obj, method, _s in self.mutations if method not in CONTAINER_ONLY_METHODS}

    def alias_group(self, obj):
        """``obj`` and the names that may share its memory (views, copies, containers)."""
        group, grew = {obj}, True
        while grew:
            grew = False
            for a, b in self.aliases:
                if (a in group) != (b in group):
                    group |= {a, b}
                    grew = True
        return group

    def writes_through_aliases(self):
        """The flows of numpy's writes and in-place methods into every name that may share the
        written array's memory: ``np.multiply(x, 2.0, out=y[:3])`` or ``y.reshape(2, 3).sort()``
        changes y, which the written temporary view alone (read nowhere after) would not make
        carry a derivative, and the write would go unrefused."""
        flows = []
        for obj, _what, s in self.writes + self.mutations:
            group = self.alias_group(obj)
            if len(group) > 1:
                flows.append((group, (_names_in([s.value]) | {obj}) & self.locals))
        return flows

    def read_before_write(self, obj, s):
        """Whether a statement whose result carries a derivative reads ``obj`` (or a name that may
        share its memory) before the in-place write ``s`` into it, or in a loop around both: its
        adjoint would read the array after the write (the derivative of ``a = x * V`` is
        ``g * V``), which nothing saves for an array that carries no derivative itself."""
        group = self.alias_group(obj)
        place, loops = self.placed.get(id(s), (None, ()))
        if place is None:
            return False
        return any(target in self.active and names & group and
                   (at < place or set(around) & set(loops))
                   for at, around, target, names in self.value_reads)

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
                elif op.kind == "user" and returns[id(s)][0] == PASSED_ON:
                    passed = list(op.args) + list(op.keywords.values())
                    is_seq = holds = any(seq_like(a) or isinstance(a, gast.Starred) or (
                        isinstance(a, gast.Name) and a.id in holders) for a in passed)
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
            if op.kind in ("user", "unknown") or (op.kind == "nondiff" and op.key in (
                    builtins.print, runtime.check_held_class)) or \
                    self.object_read(op, s):
                out.add(target)
        return out

    def write_error(self, obj, what, s):
        return write_error(self.parsed.where(s), obj, what, self.parsed.line_text(s),
                           self.aliases, self.origin_of)

    def on_copies(self, s):
        """``t = helper(z)`` where helper writes into its parameter: the primal call gets a copy
        of z, whose value the adjoint sweep still needs (and passes to the backward form). The
        alias stage refused the programs in which numpy's caller would see the write."""
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
        written = {**maybe_item_params(callee), **mutated_params(callee)} if callee else {}
        if not written:
            return s
        if any(isinstance(a, gast.Starred) for a in value.args):
            raise SourcediffSyntaxError(
                f"{self.parsed.where(s)}: {getattr(callee, '__qualname__', callee)} writes into "
                f"its parameters in place, and this call passes them with *; pass them one by one "
                f"so sourcediff can give the helper copies.\n    {self.parsed.line_text(s)}")
        try:
            bound = code_signature(callee).bind(*value.args, **{
                k.arg: k.value for k in value.keywords})
        except TypeError:
            return s
        # (a helper that writes into the arrays a list it is given holds, w = ls[0]; w[0] = v,
        # gets copies of them too, also of a list written out in the call: helper([y[1]], v))
        items = item_mutated_params(callee) | set(maybe_item_params(callee))
        copies = {id(node): p in items for p, node in bound.arguments.items()
                  if p in written and (isinstance(node, gast.Name) or (
                      p in items and isinstance(node, (gast.List, gast.Tuple, gast.Dict))))}
        copies.update({id(v): True for p, node in bound.arguments.items()  # (what *args or
                       if p in items and isinstance(node, (tuple, dict))  # **kwargs collects)
                       for v in (node.values() if isinstance(node, dict) else node)})

        def copied(a):
            if id(a) not in copies:
                return a
            return call(self.rt("copy_held" if copies[id(a)] else "copy"), [a])

        new = copy.copy(s)
        new.value = copy.copy(value)
        new.value.args = [copied(a) for a in value.args]
        new.value.keywords = [gast.keyword(arg=k.arg, value=copied(k.value))
                              for k in value.keywords]
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
        if op.kind in ("user", "unknown", "construct"):
            # a function value made at run time carries what its closure holds (g = make(a))
            called = [op.func] if op.func is not None else []
            return _names_in(op.args + list(op.keywords.values()) + called) & self.locals
        if op.kind != "rule":
            return set()
        q = quote.quoted(op.rule.vjp)
        try:
            bound = quote.bind(q, op.args, dict(op.keywords), "")
        except (quote.StarredArgument, quote.KeywordsArgument):
            # (f(*shape), f(x, **opts)): every name may flow; refused if active
            return _names_in(op.args + list(op.keywords.values())) & self.locals
        except TypeError:
            bound = self.bind(op, q, stmt)
        out = set()
        for pos, arg in enumerate(quote.slots(q, bound)):
            if op.rule.differentiable(pos):
                out |= _names_in([arg]) & self.locals
        # (the rule gives nothing for keyword-only arguments: np.pad(x, 1, constant_values=c)
        # with a c that carries a derivative makes the result active, and
        # refuse_keyword_operands refuses it)
        return out | (_names_in([v for _, v in _keyword_operands(q, bound)]) & self.locals)

    def refuse_keyword_operands(self, op, q, bound, s):
        """Refuse a value that carries a derivative passed to a keyword-only parameter of the
        rule (``np.pad(x, 1, constant_values=c)``): the rule returns
        contributions for its positional parameters only, so the derivative through it would be
        left out without a word."""
        for name, value in _keyword_operands(q, bound):
            if name is None and isinstance(value, gast.Dict):  # (**kwargs: the keys written)
                names = [k.value for k, v in zip(value.keys, value.values)
                         if isinstance(k, gast.Constant) and _names_in([v]) & self.active]
                name = "=, ".join(names) if names else None
            if _names_in([value]) & self.active and name not in op.rule.nondiff_args():
                raise SourcediffSyntaxError(
                    f"{self.parsed.where(s)}: the value passed to {op.name} as "
                    f"{'keyword arguments' if name is None else name + '='} depends on "
                    f"{', '.join(self.wrt)}, and the derivative rule of {op.name} gives no "
                    f"derivative for it.\n    {self.parsed.line_text(s)}\nPass it by "
                    f"position where {op.name} takes it so, or keep the derivative out of it "
                    f"with sourcediff.stop_gradient if none is meant to flow through it")

    def record_cut_slots(self, op, s, target):
        """Note the names in the arguments of ``target = op(...)`` whose derivative the rule does
        not give though it is not zero (its ``unimplemented`` fact; their flow into the result
        is cut: see operand_names)."""
        method = local_array_method(op)
        if not op.rule.unimplemented and not method:
            return
        q = quote.quoted(op.rule.vjp)
        try:
            slots = quote.slots(q, quote.bind(q, op.args, dict(op.keywords), ""))
        except (quote.StarredArgument, quote.KeywordsArgument, TypeError):
            return
        params = list(getattr(q, "params", []))[2:]  # (after g, ans)
        for pos, arg in enumerate(slots):
            names = _names_in([arg]) & self.locals if arg is not None else set()
            name = op.rule.unimplemented_at(pos)
            if name is None and method and pos > 0 and not op.rule.differentiable(pos):
                # (xp.sum(x) with xp a module passed as a parameter is read as the ndarray
                # method xp.sum(axis=x): x's derivative would be dropped without a word)
                name = ("method", params[pos] if pos < len(params) else f"argument {pos}")
            if names and name is not None:
                self.cut_slots.append((target, op, s, name, names))

    def refuse_matrix_reads(self):
        """A global or closure value that is an np.matrix or a masked array (``M * x``): the
        rules are ndarray's, whose ``*`` and sums these do not share, so the derivative through
        it would be wrong without a word (such arguments are refused on entry; these are read
        where the function runs)."""
        env, module = self.parsed.env, self.resolver.globals
        for s in self.body + [self.ret_stmt]:
            for node in walk(s):
                if not (isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load)) or \
                        node.id in self.locals:
                    continue
                value = env[node.id] if node.id in env else module.get(node.id)
                found = foreign_array(value, node.id)
                if found is not None:
                    raise SourcediffSyntaxError(
                        f"{self.parsed.where(node)}: {node.id} is {found[0]}, and sourcediff's "
                        f"derivative rules are plain ndarray's: the derivative through it would "
                        f"be wrong.\n    {self.parsed.line_text(s)}\nMake it a plain array "
                        f"where it is defined: {found[1]}")

    def refuse_cut_slots(self, flows, outputs):
        """A value that depends on wrt passed where a rule gives no derivative (np.cov(x,
        aweights=w) with w depending on wrt), in a call whose result reaches the output, would
        lose its derivative without a word: refused, with how to say the value is a constant."""
        if not self.cut_slots:
            return
        reach = activity(flows, set(self.locals) | set(self.params), outputs)
        for target, op, s, param, names in self.cut_slots:
            carried = names & self.varied
            if not carried or target not in reach:
                continue
            value = sorted(carried)[0]
            how = "an argument the gradient is taken with respect to" if value in self.wrt \
                else f"which depends on {', '.join(self.wrt)}"
            if isinstance(param, tuple):
                receiver = gast.unparse(op.args[0]).strip()
                shown = self.origin_of(value)
                shown = "a value" if shown.startswith("_") else shown
                message = (
                    f"{self.parsed.where(s)}: {receiver}{op.name[:-2]}(...) is read as the "
                    f"ndarray method {op.name} of {receiver} (a method called on a local "
                    f"variable or parameter is taken for an array's), and it gets "
                    f"{shown}, {how}, as its {param[1]} argument, which carries "
                    f"no derivative: the derivative through it would be dropped.\n    "
                    f"{self.parsed.line_text(s)}\nIf {receiver} is a module or another object "
                    f"({receiver}=np passed as a parameter), call the function through a name "
                    f"bound at module level (np{op.name[:-2]}(...)); if {receiver} is an array "
                    f"and {param[1]} is meant as a constant, wrap that argument in "
                    f"sourcediff.stop_gradient(...)")
                if not self.checked_at_run_time(s, carried, message):
                    raise NoRuleError(message)
                continue
            raise NoRuleError(
                f"{self.parsed.where(s)}: {op.name} gets {self.origin_of(value)}, {how}, as its "
                f"{param} argument, and its derivative rule "
                f"has no derivative with respect to {param}: the derivative through it would "
                f"be dropped.\n    {self.parsed.line_text(s)}\nIf {param} is meant as a "
                f"constant here, pass sourcediff.stop_gradient({self.origin_of(value)}); to "
                f"differentiate through it, register a rule that gives that derivative "
                f"(sourcediff.defvjp)")

    def bind_user_call(self, op, s, receiver=None):
        """(bound arguments, parameters that receive values carrying derivatives) of a call to the
        user's function; a ``*args`` parameter that receives one is bound to the tuple of what it
        collects, a ``**kwargs`` one is refused. ``receiver`` is the syntax a method that
        collects its receiver in ``*args`` finds there (None: a ``None`` constant)."""
        starred = [a for a in op.args if isinstance(a, gast.Starred)]
        if starred and _names_in(op.args + list(op.keywords.values())) & self.active:
            raise SourcediffSyntaxError(
                f"{self.parsed.where(s)}: the call to {op.name} passes *"
                f"{gast.unparse(starred[0].value)}, and values that carry derivatives go into it; "
                f"sourcediff matches such values to parameters by position where it compiles: pass "
                f"the arguments one by one.\n    {self.parsed.line_text(s)}")
        if None in op.keywords:
            raise SourcediffSyntaxError(
                f"{self.parsed.where(s)}: the call to {op.name} passes "
                f"{spread_text(op.keywords[None])}; sourcediff matches the arguments of a call "
                f"to a function of yours to its parameters where it compiles: pass them by name "
                f"({op.name}(..., a=u, b=v)) or as a dict written in the call (**{{'a': u}})."
                f"\n    {self.parsed.line_text(s)}")
        try:
            # (a method whose wrapper collects its receiver in *args: the receiver's place in
            # the tuple, which carries no derivative)
            sig, bound, _ = bind_code(op.key, op.args, op.keywords,
                                      receiver=receiver or gast.Constant(value=None, kind=None))
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
            active.append(p)
            if kind == kind.VAR_POSITIONAL:  # (*arrays: the tuple of the values passed)
                bound.arguments[p] = gast.Tuple(elts=list(syntax), ctx=gast.Load())
            elif kind == kind.VAR_KEYWORD:  # (**kwargs: the dict of the values passed)
                bound.arguments[p] = gast.Dict(keys=[gast.Constant(value=k, kind=None)
                                                     for k in syntax], values=list(syntax.values()))
        return bound, active

    def bind(self, op, q, stmt):
        try:
            return quote.bind(q, op.args, dict(op.keywords), self.parsed.where(stmt))
        except quote.StarredArgument as exc:
            raise SourcediffSyntaxError(
                f"{exc} of {op.name}, whose result carries a derivative here; sourcediff needs "
                f"those arguments one by one: pass them by name or as one tuple (x.reshape(shape) "
                f"instead of x.reshape(*shape)).\n    {self.parsed.line_text(stmt)}") from None
        except quote.KeywordsArgument as exc:
            raise SourcediffSyntaxError(
                f"{exc} of {op.name}, whose result carries a derivative here; sourcediff needs "
                f"each keyword written out to know what its rule gets (np.clip(x, a_min=lo, "
                f"a_max=hi) instead of np.clip(x, **opts)).\n    {self.parsed.line_text(stmt)}"
            ) from None
        except TypeError as exc:
            hints = [quote.OPTION_HINTS[k] for k in getattr(exc, "names", ())
                     if k in quote.OPTION_HINTS]
            raise SourcediffSyntaxError(
                f"{exc} in the call to {op.name} (for its derivative rule "
                f"{q.fn.__qualname__}{q.signature}){''.join('; ' + h for h in hints)}."
                f"\n    {self.parsed.line_text(stmt)}"
            ) from None

    def refuse_argument(self, arg, s, what):
        """Refuse an argument whose syntax carries a derivative that the sweeps cannot follow
        (``max(*x)``: the items of x go into ``*args`` with no name each)."""
        fix = (f"pass the items one by one, or the sequence itself where {what} takes one "
               f"({what}(x) for {what}(*x))") if isinstance(arg, gast.Starred) else \
            "assign it to a variable first"
        raise SourcediffSyntaxError(
            f"{self.parsed.where(s)}: cannot differentiate {what} through an argument written as "
            f"{gast.unparse(arg).strip()}; {fix}.\n    {self.parsed.line_text(s)}")

    def origin(self, s, grad=False):
        """The user's line statement ``s`` comes from, as comments and the line table name it."""
        return Origin(self.parsed.filename_short, self.parsed.user_line(s),
                      self.parsed.line_text(s), grad,
                      self.parsed.quiet.get(getattr(s, "lineno", None), ()))

    def line_comment(self, s):
        """``# <user line>  (file.py:NN)`` above the primal code of a user line (deduplicated)."""
        if getattr(s, "lineno", None) is None or isinstance(s, gast.Pass):
            return []
        return [comment_at(self.origin(s))]

    def no_rule_message(self, op, s):
        if isinstance(op.func, gast.Name) and op.func.id in self.wrt:
            return self.object_wrt_message(op.func.id, op, s)
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
            if op.key == "pop" and op.args and isinstance(op.args[0], gast.Name) and \
                    op.args[0].id in self.containers:
                # (lst.pop() from the end is differentiated; an index or a dict key is not)
                at = gast.unparse(op.args[1]) if len(op.args) > 1 else "i"
                return (f"{self.parsed.where(s)}: {origin}.pop({at}) takes an item out of "
                        f"{origin} by index or key, which sourcediff does not differentiate (it "
                        f"follows {origin}.pop() from the end of a list).\n    "
                        f"{self.parsed.line_text(s)}\nRead the item and build the container "
                        f"without it: v = {origin}[{at}], then {origin} = {origin}[:{at}] + "
                        f"{origin}[{at} + 1:] for a list, or a dict comprehension for a dict")
            if receiver in self.wrt:
                return self.object_wrt_message(receiver, op, s)
            return (f"{self.parsed.where(s)}: {origin}.{op.key}(...) calls a method of a value "
                    f"whose class sourcediff cannot know where it compiles (an attribute of an "
                    f"object, an item of a container, or a value made at run time), on a value "
                    f"that depends on {', '.join(self.wrt)}.\n    {self.parsed.line_text(s)}\n"
                    f"Call a module-level function, or a method through self or a module-level "
                    f"object, or name the class (TheClass.{op.key}(obj, ...)), or register a rule "
                    f"with sourcediff.defvjp")
        if getattr(op.key, "__name__", None) in ("dynamic_fwd", "dynamic_bwd", "dynamic_jvp",
                                                 "star_fwd", "star_bwd", "star_jvp") \
                and getattr(op.key, "__module__", None) == "sourcediff.runtime":
            return (f"{self.parsed.where(s)}: this call's function is known only at run time (a function "
                    f"passed as an argument or held in a variable, a functools.partial, an inner function or "
                    f"lambda over values that carry derivatives, a method of an object met at run time), or "
                    f"it passes *args that carry derivatives (a decorator's wrapper), and such calls have "
                    f"first derivatives only so far; this is a second derivative through it.\n    "
                    f"{self.parsed.line_text(s)}\nFor second derivatives, call the function by its own name "
                    f"here (a module-level def, or a method through self) with its arguments one by one, or "
                    f"differentiate the undecorated function (f.__wrapped__)")
        if isinstance(op.key, type) and op.key is functools.partial:
            # (resolve's bound_function takes a partial of a function named where it is written)
            return (f"{self.parsed.where(s)}: functools.partial binds a value that depends on "
                    f"{', '.join(self.wrt)} to a function held in a variable, or passes *args or **kwargs; "
                    f"sourcediff follows the values a partial binds when its function is named there and "
                    f"its arguments are written one by one.\n    {self.parsed.line_text(s)}\nName the "
                    f"function (functools.partial(fn, a, b=b) with fn a module-level def, an inner def or "
                    f"a lambda), write a lambda that calls it (for a bound method, functools.partial(m.f, "
                    f"a=w) is lambda v: m.f(v, a=w)), or pass those values when you call the function "
                    f"instead of binding them")
        if getattr(op.key, "__module__", None) == "sourcediff.runtime":
            return (f"{self.parsed.where(s)}: sourcediff's helper {op.name} has no derivative rule yet, so "
                    f"code that uses it cannot be differentiated again (a higher derivative through the rule "
                    f"that calls it).\n    {self.parsed.line_text(s)}\nUse a derivative of lower order here, "
                    f"or register a rule for {op.name} with sourcediff.defvjp")
        if iterator_advice(op.key) is not None:  # (an iterator lowering.py leaves as it is)
            return f"{self.parsed.where(s)}: {iterator_advice(op.key)}.\n    {self.parsed.line_text(s)}"
        if isinstance(held := inspect.unwrap(op.key), functools.partial) and getattr(getattr(  # (lifted)
                held.func, "__code__", None), "co_filename", "").startswith("<sourcediff lifted"):
            return (f"{self.parsed.where(s)}: {op.name}(...) calls an inner function over values that carry "
                    f"derivatives through a decorator's wrapper.\n    {self.parsed.line_text(s)}\nDecorate a "
                    f"module-level def that takes those values as parameters, or call it undecorated")
        return (f"{self.parsed.where(s)}: no derivative rule for {op.name} ({_describe(op.key)}), which is "
                f"called here on a value that depends on {', '.join(self.wrt)}.\n    "
                f"{self.parsed.line_text(s)}\nRegister one with @sourcediff.defvjp({op.name}), or mark "
                f"the value with sourcediff.stop_gradient if it should not carry a derivative")

    def object_wrt_message(self, name, op, s):
        """``model(*args)`` or ``params.copy()`` with the callee a wrt argument, in a form the
        call of a model's method does not take (a model's methods and ``__call__`` are followed
        with the model active: runtime.dynamic's method_call)."""
        call, what = (f"{name}(...)", name) if op.func is not None else \
            (f"{name}.{op.key}(...)", f"a method of {name}")
        return (f"{self.parsed.where(s)}: {call} calls {what}, an argument the gradient is "
                f"taken with respect to, in a way sourcediff does not follow: a method of a "
                f"list, dict, tuple or string (which has no derivative rule), or a call with "
                f"*args. sourcediff follows a model object's own methods and __call__ called "
                f"with arguments one by one.\n    {self.parsed.line_text(s)}\nPass the "
                f"arguments one by one, or build the value with operations that have rules "
                f"(list(...) + [...], {{**d}}), or leave {name} out of wrt")

    def origin_of(self, name):
        """The user's expression a compiler temporary holds (``self.act`` for ``_act1``, ``y[1]``
        for ``_item1``)."""
        if not name.startswith("_"):
            return name
        for st in self.body:
            for node in walk(st):
                if isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Name) and \
                        node.targets[0].id == name and isinstance(
                            node.value, (gast.Attribute, gast.Subscript)):
                    return gast.unparse(node.value).strip()
        return name

    def rt(self, helper):
        """``_sd.helper`` as the generated code names the runtime module."""
        return attr(load(self.globals.name("_sd", runtime)), helper)


_DICT_READS = frozenset(_DICT_METHODS.values())  # (d.items() and the like, as runtime calls)


_SEQUENCE_OPS = (operator.add, operator.mul)


def _sequence_op(op):
    """``a + b`` / ``a * b`` where an operand may be a list or tuple, as the primitive that
    concatenates or repeats those and adds or multiplies anything else (decided at run time)."""
    key = runtime.add_or_concat if op.key is operator.add else runtime.mul_or_repeat
    return Op("rule", key=key, rule=registry.lookup(key), args=list(op.args), name=op.name)


def _describe(obj):
    if obj is None:
        return "unresolved"
    module = getattr(obj, "__module__", None)
    return f"{type(obj).__name__} from {module}" if module else type(obj).__name__


def _returns_sequence(key):
    """Primitives whose result is a list or tuple (its gradient is one too)."""
    return any(key is k for k in (list, tuple, np.split, np.array_split, np.hsplit, np.vsplit,
                                  np.dsplit, np.linalg.slogdet, runtime.add_or_concat_grads,
                                  runtime.mul_or_repeat_grads, runtime.add_grads))


def _may_return_sequence(fn):
    """(may return a list or tuple, which may hold lists or tuples) for the user function ``fn``:
    some ``return`` gives a literal one, list()/tuple(), a comprehension, a name bound to one of
    these or appended to, a parameter (it returns what it was given) or another call's result.
    ``return np.sin(x) * 2`` does not; ``return np.sin(x), np.cos(x)`` returns a tuple of arrays.
    A decorator's wrapper that returns what the function it wraps returns is that function."""
    try:
        node = parse_function(fn).node
    except Exception:  # noqa: BLE001  (unreadable: assume it may)
        return True, True
    inner = _forwarded_to(fn, node)
    if inner is not None:
        found = _may_return_sequence(inner)
        return (True, True) if found[0] == PASSED_ON else found
    params = {a.id for a in node.args.args} | {a.id for a in node.args.kwonlyargs}
    seq_names = set()
    for n in walk(node):
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

    a = node.args  # (a parameter with a default may return the default, a tuple perhaps)
    defaulted = {p.id for p in (a.args[len(a.args) - len(a.defaults):] if a.defaults else [])} | \
        {p.id for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None}

    def passed_on(v):  # (a parameter, rebound nowhere, or a recursive call's result)
        return (isinstance(v, gast.Name) and v.id in params and v.id not in seq_names
                and v.id not in defaulted and v.id not in _rebound(node)) or (
            isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and v.func.id == node.name)

    is_seq = holds = False
    through = False
    for n in walk(node):
        if isinstance(n, gast.Return) and n.value is not None:
            v = n.value
            if isinstance(v, (gast.Tuple, gast.List)):
                is_seq = True
                holds = holds or any(maybe(e) for e in v.elts)
            elif passed_on(v):
                through = True
            elif maybe(v):
                return True, True
    if through and not is_seq:
        return PASSED_ON, PASSED_ON
    return (True, True) if through else (is_seq, holds)


def _forwarded_to(fn, node):
    """The function a ``functools.wraps`` wrapper wraps when every ``return`` of it gives that
    function's result (``return fn(*args, **kwargs)``), else None."""
    func = getattr(fn, "__func__", None) or getattr(fn, "function", None) or fn
    wrapped = getattr(func, "__wrapped__", None)
    code, cells = getattr(func, "__code__", None), getattr(func, "__closure__", None) or ()
    if not inspect.isfunction(wrapped) or code is None:
        return None
    held = dict(zip(code.co_freevars, cells))
    returns = [n.value for n in walk(node) if isinstance(n, gast.Return)]
    for v in returns:
        if not (isinstance(v, gast.Call) and isinstance(v.func, gast.Name)
                and v.func.id in held and held[v.func.id].cell_contents is wrapped):
            return None
    return wrapped if returns else None


# (_may_return_sequence: the helper returns a list or tuple only as one is passed to it, as
# ``def h(a): return a`` or a recursion ending in it: a call's result is one when an argument is)
PASSED_ON = "passed on"


def _rebound(node):
    return {t.id for n in walk(node) if isinstance(n, (gast.Assign, gast.AugAssign, gast.For))
            for t in walk(n.targets[0] if isinstance(n, gast.Assign) else n.target)
            if isinstance(t, gast.Name)}


def _sequence_syntax(v):
    return isinstance(v, (gast.Tuple, gast.List, gast.ListComp)) or (
        isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and v.func.id in ("list", "tuple")
    ) or (isinstance(v, gast.BinOp) and (_sequence_syntax(v.left) or _sequence_syntax(v.right)))


def _view_like(op):
    return op.rule.view is True


def _may_share(op):
    """Whether the result of ``op`` may share memory with what it reads: anything but a constant
    and a fresh result (:func:`~sourcediff.compiler.alias.fresh_result`)."""
    return op.kind != "const" and not fresh_result(op)


def _locals(fdef):
    return {a.id for a in fdef.args.args} | {n.id for n in walk(fdef) if isinstance(
        n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param))}


def _keyword_operands(q, bound):
    """(name, syntax) bound to each of the rule's keyword-only parameters, and (None, syntax)
    for its ``**kwargs``."""
    return [(p.name if p.kind == p.KEYWORD_ONLY else None, bound[p.name])
            for p in list(q.signature.parameters.values())[2:]
            if p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) and p.name in bound]
