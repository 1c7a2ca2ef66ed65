"""Inline stage: a method called for what it stores on an object whose class is known here
("Neural Networks from Scratch": ``dense1.forward(X)`` stores ``self.output``, and the caller
reads ``dense1.output``) is written into the caller, so that the store and the read are in one
function, where a read after a store takes the stored value itself (compiler/forwarding.py).

Only a plain method of the user's class is inlined, called on a local bound once to an object of
that class (``dense1 = Layer_Dense(W1, b1)``) or on ``self`` in a method, whose body stores an
attribute of ``self`` and has no ``return`` but a last one, no inner functions, ``yield``,
``global``, ``super()``, ``*args`` or ``**kwargs``. A function of the user's given the object
first (``step(cell, x)``, a global's name or a parameter's) that stores attributes of it read
back afterwards is written in the same way, the object its receiver (compiler/writable.py); its
name is checked on entry as that of any function called. Its parameters and locals get names of their
own, its module's names are bound in the caller's environment, and every statement it adds
carries the line of the call (errors name the call). Other calls stay calls.

Example::

    dense1.forward(X)             # def forward(self, inputs): self.output = inputs @ self.W

becomes::

    _forward1_inputs = X
    dense1.output = _forward1_inputs @ dense1.W
"""

import builtins
import dataclasses
import inspect
import sys

import gast

from ..runtime import check_held_class
from ..syntax import replace_node
from .fence import static_object
from .held import held_objects, user_class
from .replaced import write_replaces
from .resolve import _library, _python_method, constructible
from .scalarize import (
    attribute_uses,
    binding_of,
    class_value,
    library_calls_only,
    reached_otherwise,
    replace_statement,
    scalarizable,
    to_locals,
    write_back_at_exits,
)
from ..syntax import clone, walk
from .writable import Renamer, _load, _store, helper_of, writable

_DEPTH = 4


def inline_state_methods(parsed):
    """``parsed`` with such method calls written into its body (in place; returns it)."""
    fdef = parsed.node
    taken = {n.id for n in walk(fdef) if isinstance(n, gast.Name)}
    bound = {n.id for n in walk(fdef) if isinstance(n, gast.Name) and
             isinstance(n.ctx, (gast.Store, gast.Param))}

    def env_name(cls):
        if cls.__name__ not in bound and parsed.env.get(
                cls.__name__, parsed.fn.__globals__.get(cls.__name__)) is cls:
            return cls.__name__  # (as the user's module names it)
        name = f"_{cls.__name__}_class"
        while name in taken or parsed.env.get(name, cls) is not cls:
            name += "_"
        parsed.env[name] = cls
        return name

    write_replaces(parsed, fdef, env_name)
    fdef.body = _name_built_objects(parsed, fdef, fdef.body)
    classes = _known_objects(parsed, fdef)
    taken = {n.id for n in walk(fdef) if isinstance(n, gast.Name)}
    inliner = _Inliner(parsed, classes, taken)
    body = _split_layer_lists(parsed, fdef, inliner)
    if not inliner.classes and not any(helper_of(parsed, n, inliner.caller_locals)
                                       for n in walk(fdef)):
        return parsed
    parsed.inlined = {}  # (class, name) -> (the method, True): see resolve.Resolver.methods
    parsed.inlined_functions = {}  # global name -> the helper function written in
    head = []
    params = [a.id for a in fdef.args.args + fdef.args.kwonlyargs]
    for name, cls in list(inliner.classes.items()):
        if name in params:
            head.extend(inliner.hold(name, cls, fdef, 0))
            continue
        at = next((s for s in walk(gast.Module(body=body, type_ignores=[]))
                   if isinstance(s, gast.Assign) and len(s.targets) == 1 and
                   isinstance(s.targets[0], gast.Name) and s.targets[0].id == name), None)
        if at is not None:
            inliner.pending[id(at)] = inliner.hold(name, cls, at, 0)
    inliner.scalar = {n for n, c in inliner.classes.items() if n not in params and
                      isinstance(c, type) and scalarizable(c) and binding_of(body, n) is not None}
    inliner.stateful = {n: _stored_here(fdef, n, c) for n, c in inliner.classes.items()
                        if n not in inliner.scalar and isinstance(c, type)}
    body = [_CallsAsMethods(inliner).visit(st) for st in body]
    fdef.body = head + inliner.block(inliner.held_reads(body), 0)
    for name in sorted(inliner.scalar):
        inliner.scalarize(fdef.body, name)
    for name, obj in sorted(getattr(parsed, "global_objects", {}).items()):
        inliner.scalarize_global(fdef, name, obj)
    return parsed


def _name_built_objects(parsed, fdef, stmts):
    """``stmts`` with an object of the user's class built and used at once in an expression
    (``return np.sum(MLP(Ws, bs)(X) ** 2)``, ``Model(p).loss(x)``) bound to a local of its
    own first (``_mlp_obj = MLP(Ws, bs)``), as the stages that follow objects need, where that
    changes no order: the statement's other calls are numpy's, math's or builtins (no random
    draws), and nothing in it runs conditionally."""
    names = {n.id for n in walk(fdef) if isinstance(n, gast.Name)}
    out = []
    for st in stmts:
        for field in ("body", "orelse"):
            if isinstance(getattr(st, field, None), list) and \
                    not isinstance(st, (gast.FunctionDef, gast.ClassDef)):
                setattr(st, field, _name_built_objects(parsed, fdef, getattr(st, field)))
        value = st.value if isinstance(st, (gast.Return, gast.Assign, gast.Expr)) else None
        found = _built_and_used(parsed, _bound(fdef), value) if value is not None else None
        if found is not None:
            name = f"_{found.func.id.lower().lstrip('_')}_obj"
            while name in names:
                name += "_"
            names.add(name)
            out.append(gast.copy_location(gast.Assign(targets=[_store(name)],
                                                      value=found, type_comment=None), st))
            replace_node(st, found, gast.copy_location(_load(name), found))
        out.append(st)
    return out


def _bound(fdef):
    return {n.id for n in walk(fdef) if isinstance(n, gast.Name) and
            isinstance(n.ctx, (gast.Store, gast.Param))} | \
        {a.id for a in fdef.args.args + fdef.args.kwonlyargs}


def _built_and_used(parsed, bound, value):
    """The one constructor call of a user's class in ``value`` whose result is called or has
    an attribute read (``MLP(...)(x)``, ``Model(p).loss(x)``), when naming it first changes
    nothing (see _name_built_objects); else None."""
    found, calls, lambdas = None, [], []
    for n in walk(value):
        if isinstance(n, gast.Lambda):
            lambdas.append(n)  # (made as the statement runs: one the object is built from is
            continue           # made with it; its body runs when called, not here)
        if isinstance(n, (gast.IfExp, gast.BoolOp, gast.ListComp, gast.SetComp,
                          gast.DictComp, gast.GeneratorExp, gast.NamedExpr)):
            return None
        if isinstance(n, gast.Call):
            calls.append(n)
        inner = n.func if isinstance(n, gast.Call) else n.value \
            if isinstance(n, gast.Attribute) else None
        if found is None and isinstance(inner, gast.Call) and \
                isinstance(inner.func, gast.Name) and \
                user_class(static_object(parsed, inner.func, bound)):
            found = inner
    if found is None:
        return None
    inside = {id(n) for n in walk(found)}
    if any(id(lam) not in inside for lam in lambdas) or \
            any(id(found) in {id(m) for m in walk(lam)} for lam in lambdas):
        return None
    for c in calls:
        if c is found or id(c) in inside or any(m is found for m in walk(c)):
            continue  # (its own arguments run before it; the calls around it after)
        known = static_object(parsed, c.func, bound)
        module = getattr(known, "__module__", None) or ""
        if not (_library(module) or module in ("builtins", "math")) or "random" in module or \
                isinstance(c.func, gast.Attribute) and isinstance(c.func.value, gast.Attribute) \
                and c.func.value.attr == "random":
            return None
    return found


def _known_objects(parsed, fdef):
    """{local name: class} for locals bound once, to a call of a class of the user's."""
    binds = {}
    for n in walk(fdef):
        targets = n.targets if isinstance(n, gast.Assign) else \
            [n.target] if isinstance(n, (gast.AugAssign, gast.AnnAssign, gast.For,
                                         gast.comprehension, gast.NamedExpr)) else []
        for target in targets:
            for t in walk(target):
                if isinstance(t, gast.Name) and isinstance(t.ctx, gast.Store):
                    made = isinstance(n, gast.Assign) and target is t and \
                        isinstance(n.value, gast.Call)
                    binds[t.id] = None if t.id in binds or not made else n.value.func
    params = {a.id for a in fdef.args.args + fdef.args.kwonlyargs}
    out = {}
    for name, func in binds.items():
        if func is None or name in params:
            continue
        cls = static_object(parsed, func, set(binds) | params)
        if isinstance(cls, type) and not _library(cls.__module__) and constructible(cls) and \
                not issubclass(cls, tuple):
            out[name] = cls
    self_class = getattr(parsed, "self_class", None)
    if self_class is not None and fdef.args.args and fdef.args.args[0].id not in binds:
        out[fdef.args.args[0].id] = self_class
    out.update(_global_objects(parsed, fdef, set(binds) | params))
    return out


def _global_objects(parsed, fdef, bound):
    """{name: class} for the objects of a user's class held in globals of the function's module
    (``BOX = Box()``, a model or an RNN cell stepped inside the loss) whose methods it calls
    or whose attributes it stores (``CELL.h = np.tanh(CELL.h @ CELL.W + x)``: scalarize.py);
    recorded on ``parsed.global_objects``, so that a call finding one rebound runs a derivative
    built anew (resolve.py records them for the check on entry, captured.py)."""
    out = {}
    for n in walk(fdef):
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                isinstance(n.func.value, gast.Name):
            name = n.func.value.id
        elif isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Store) and \
                isinstance(n.value, gast.Name):
            name = n.value.id  # (its state stored directly: CELL.h = ... in a loop)
        elif helper_of(parsed, n, bound) is not None:
            name = n.args[0].id  # (given to a helper that stores on it: step(CELL, x))
        else:
            continue
        if name in bound or name in parsed.env or name not in parsed.fn.__globals__:
            continue
        obj = parsed.fn.__globals__[name]
        if user_class(type(obj)) and scalarizable(type(obj)) and not isinstance(obj, type):
            out[name] = type(obj)
            parsed.global_objects = dict(getattr(parsed, "global_objects", {}), **{name: obj})
    return out


class _Inliner:
    def __init__(self, parsed, classes, taken):
        self.parsed, self.classes, self.taken = parsed, classes, taken
        fdef = parsed.node
        self.caller_locals = {n.id for n in walk(fdef) if isinstance(n, gast.Name) and
                              isinstance(n.ctx, (gast.Store, gast.Param))} | \
            {a.id for a in fdef.args.args + fdef.args.kwonlyargs}
        self.count = 0
        self.held = {}  # (object's name, attribute) -> the local holding what it holds
        self.lists = {}  # a local holding a list of layers -> the locals of its items
        self.pending = {}  # id(a statement binding an object) -> the reads of what it holds
        self.scalar = set()  # objects built here whose attributes may become locals
        self.stateful = {}  # other objects -> the attributes this function stores on them
        self.bindings = {}  # name -> how many places bind it
        for n in walk(fdef):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                self.bindings[n.id] = self.bindings.get(n.id, 0) + 1

    def block(self, stmts, depth):
        out = []
        last = {}  # a loop's name -> the last layer it ran over (read after the loop)
        for s in stmts:
            if last:
                s = Renamer(lambda n: last.get(n.id, n.id) if isinstance(n.ctx, gast.Load)
                             else n.id).visit(s)
            if isinstance(s, gast.For) and self.unrollable(s):
                out.extend(self.block(self.unroll(s), depth))
                t = s.target.id
                if self.bindings.get(t) == 1:  # (the loop's the only binding of its name)
                    last[t] = self.lists[s.iter.id][-1]
                continue
            for field in ("body", "orelse"):
                if isinstance(getattr(s, field, None), list) and \
                        not isinstance(s, (gast.FunctionDef, gast.ClassDef)):
                    setattr(s, field, self.block(getattr(s, field), depth))
            for part in self.pure_calls_first(s):
                out.extend(self.statement(part, depth))
            out.extend(self.pending.pop(id(s), ()))
        return out

    def pure_calls_first(self, s):
        """``[_energy1 = sim.energy(), s]`` for a statement ``s`` that calls, inside an
        expression, a method storing nothing on an object built here (``return sim.energy() +
        1``), when its other calls are of numpy's, math's or builtins (they run no code of the
        user's, so running the method first changes nothing); ``[s]`` otherwise."""
        if not (self.scalar or any(self.stateful.values())) or \
                not isinstance(s, (gast.Return, gast.Assign, gast.Expr,
                                                 gast.AugAssign)) or s.value is None:
            return [s]
        pure, other = [], False
        for n in walk(s.value):
            if isinstance(n, (gast.IfExp, gast.BoolOp, gast.Lambda, gast.ListComp,
                              gast.SetComp, gast.DictComp, gast.GeneratorExp)):
                return [s]  # (a call there may not run, or runs per item)
            if not isinstance(n, gast.Call) or n is s.value:
                continue
            f = n.func
            if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and \
                    (f.value.id in self.scalar or self.reads_stored(f.value.id, f.attr)):
                cls = self.classes[f.value.id]
                if _stores_nothing(cls, f.attr, 2):
                    pure.append(n)
                    continue
            known = static_object(self.parsed, f, self.caller_locals)
            module = getattr(known, "__module__", None) or ""
            if not _library(module) and module not in ("builtins", "math") or \
                    "random" in module or isinstance(f, gast.Attribute) and \
                    isinstance(f.value, gast.Attribute) and f.value.attr == "random":
                other = True  # (the user's code, or a random draw: its order is kept)
        if not pure or other or any(p is not q and any(m is q for m in walk(p))
                                    for p in pure for q in pure):
            return [s]
        out = []
        for call_node in pure:
            new = self.fresh_plain(f"{call_node.func.attr}_value")
            out.append(gast.copy_location(gast.Assign(
                targets=[_store(new)], value=clone(call_node), type_comment=None), s))
            replace_node(s, call_node, _load(new))
        return out + [s]

    def reads_stored(self, name, method):
        """Whether ``name.method(...)`` may read back state this function stores on the object
        ``name`` (not one built here: its attributes become locals), by reading an attribute
        stored here or calling a method through self: written in, the read after the store
        takes the stored value itself (compiler/forwarding.py) where a call would read it as
        a constant (refused where it runs: runtime/object_state.py)."""
        stored = self.stateful.get(name)
        found = _inlinable(self.classes[name], method, False) if stored else None
        if found is None:
            return False
        me = found[1].args.args[0].id
        for n in walk(found[1]):
            if isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and \
                    n.value.id == me and (n.attr in stored or not isinstance(n.ctx, gast.Store)
                                          and _python_method(self.classes[name], n.attr)):
                return True
        return False

    # ------------------------------------------------------------ objects made locals

    def scalarize(self, body, name):
        """Make the attributes of the object ``name`` locals (compiler/scalarize.py), its
        ``__init__`` written in where it can be; in place. Nothing changes when its name is used
        otherwise than through plain attributes."""
        cls, bind = self.classes[name], binding_of(body, name)
        if bind is None or static_object(self.parsed, bind.value.func, self.caller_locals -
                                         {name}) is not cls:
            return
        init = gast.copy_location(gast.Expr(value=gast.Call(
            func=gast.Attribute(value=_load(name), attr="__init__", ctx=gast.Load()),
            args=list(bind.value.args), keywords=list(bind.value.keywords))), bind)
        if cls.__init__ is object.__init__ and not bind.value.args and not bind.value.keywords:
            written = []  # (nothing to run: the object starts without attributes)
        else:
            written = self.statement(init, 0) if "__init__" in _user_inits(cls) else [init]
        fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) \
            else set()
        for inline_init in (not written or written[0] is not init, False):
            trial = clone(body)
            at = binding_of(trial, name)
            if inline_init:
                replace_statement(trial, at, clone(written))
                at = None
            uses = attribute_uses(trial, name, at, cls)
            if uses is None:
                continue
            head, names = [], {}
            for attr, (loaded, stored) in sorted(uses.items()):
                known = class_value(cls, attr)
                if known is None:
                    break  # (a property, a method read as a value)
                names[attr] = self.fresh_plain(f"{name.lstrip('_')}_{attr}")
                if known[0] and loaded and inline_init:
                    # (a class constant: the object's __init__, written in here, shows every
                    # attribute it stores; one that runs as a call may store this one, as a
                    # dataclass's does with a field's default: Config(reg=h[0]).reg is h[0],
                    # not Config.reg, which gave a zero derivative and the default's value)
                    head.append(gast.Assign(targets=[_store(names[attr])], value=gast.Attribute(
                        value=self.bind_global(cls.__init__, cls.__name__, cls), attr=attr,
                        ctx=gast.Load()), type_comment=None))
                elif loaded and not inline_init and (attr in fields or not stored):
                    head.append(gast.Assign(targets=[_store(names[attr])], value=gast.Attribute(
                        value=_load(name), attr=attr, ctx=gast.Load()), type_comment=None))
                elif loaded and (inline_init and not stored or not inline_init):
                    break  # (read, maybe before it is stored: not followed)
            else:
                head = [self.located(h, bind) for h in head]
                found = binding_of(body, name)
                if inline_init:
                    written = to_locals(written, name, names)
                body[:] = to_locals(body, name, names)  # (not the reads of head)
                replace_statement(body, found, head + written if inline_init else [found] + head)
                return

    def scalarize_global(self, fdef, name, obj):
        """Make the attributes of the global object ``name`` (``obj``) locals, as those of an
        object built here, when the function stores one and reads it back (an RNN cell held
        globally and stepped in a loop, ``CELL.h = np.tanh(CELL.h @ CELL.W + x)``): each is read
        from the object at the start and the stored ones written back to it before every
        return, so the object holds afterwards what Python would have left there. Only where
        nothing else can see the object meanwhile: every use of ``name`` is a plain attribute
        of the object's own (``vars(obj)``, not a class's default or a property) and the
        function calls no code of the user's (numpy's, math's, builtins, an array's methods)."""
        uses = attribute_uses(fdef.body, name, None, type(obj))
        if not uses or not any(loaded and stored for loaded, stored in uses.values()) or \
                any(a not in vars(obj) or class_value(type(obj), a) is None for a in uses) or \
                not library_calls_only(self.parsed, fdef, _bound(fdef) | {name}) or \
                reached_otherwise(self.parsed, fdef, name, obj, _bound(fdef)):
            return
        names = {a: self.fresh_plain(f"{name.lstrip('_')}_{a}") for a in sorted(uses)}
        # (a global read here that may come to hold the object later, BOX2 = BOX after the
        # build: checked on entry like the object's own name, and a change builds anew)
        self.parsed.global_objects.update(_other_globals(self.parsed, fdef, _bound(fdef)))
        at = fdef.body[0] if fdef.body else fdef
        head = [self.located(gast.Assign(targets=[_store(names[a])], value=gast.Attribute(
            value=_load(name), attr=a, ctx=gast.Load()), type_comment=None), at)
            for a in sorted(uses)]
        stored = [a for a in sorted(uses) if uses[a][1]]
        body = to_locals(fdef.body, name, names)

        def back(where):
            return [self.located(gast.Assign(targets=[gast.Attribute(
                value=_load(name), attr=a, ctx=gast.Store())], value=_load(names[a]),
                type_comment=None), where) for a in stored]
        fdef.body = head + write_back_at_exits(body, back, self.fresh_plain("result"))

    # ------------------------------------------------------------ objects held by objects

    def hold(self, name, cls, at, depth):
        """Statements reading what the object ``name`` (of class ``cls``) holds for good
        (compiler/held.py) into locals of its own, each checked to hold what ``__init__``
        stored (``_act1 = d.activation``); later reads ``d.activation`` take that local."""
        out = []
        if depth >= _DEPTH or not isinstance(cls, type):
            return out
        for attr, spec in sorted(held_objects(cls).items()):
            new = self.fresh_plain(f"{name.lstrip('_')}_{attr}")
            self.held[(name, attr)] = new
            read = gast.Attribute(value=_load(name), attr=attr, ctx=gast.Load())
            out.append(self.located(gast.Assign(targets=[_store(new)], value=read,
                                                type_comment=None), at))
            holder = self.bind_global(self.check_held_class, "classes", spec)
            out.append(self.located(gast.Expr(value=gast.Call(
                func=self.bind_global(self.check_held_class, "check", self.check_held_class),
                args=[_load(new), holder,
                      gast.Constant(value=self.parsed.where(at), kind=None),
                      gast.Constant(value=f"{name}.{attr}: {cls.__name__}.__init__ stores it",
                                    kind=None)],
                keywords=[])), at))
            if isinstance(spec, list):
                items = []
                for k, item_cls in enumerate(spec):
                    item = self.fresh_plain(f"{new.lstrip('_')}_{k}")
                    items.append(item)
                    self.classes[item] = item_cls
                    out.append(self.located(gast.Assign(
                        targets=[_store(item)], value=gast.Subscript(
                            value=_load(new), slice=gast.Constant(value=k, kind=None),
                            ctx=gast.Load()), type_comment=None), at))
                    out.extend(self.hold(item, item_cls, at, depth + 1))
                self.lists[new] = items
            else:
                self.classes[new] = spec
                out.extend(self.hold(new, spec, at, depth + 1))
        return out

    check_held_class = staticmethod(check_held_class)

    def fresh_plain(self, name):
        new = f"_{name}"
        while new in self.taken:
            new += "_"
        self.taken.add(new)
        return new

    def located(self, node, at):
        for n in walk(node):
            if isinstance(n, (gast.stmt, gast.expr)):
                n.lineno, n.col_offset = at.lineno, at.col_offset
                n.end_lineno, n.end_col_offset = at.lineno, at.col_offset
        return node

    def held_reads(self, stmts):
        """``stmts`` with each read of a held attribute (``d.activation``) the local holding it."""
        reader = _HeldReads(self.held, self.lists)
        return [reader.visit(s) for s in stmts]

    def unrollable(self, loop):
        """Whether ``loop`` runs over a held list of layers (``for layer in self.layers``)
        calling a method that stores on each: it is then written once per layer."""
        if not (isinstance(loop.iter, gast.Name) and loop.iter.id in self.lists and
                isinstance(loop.target, gast.Name) and not loop.orelse):
            return False
        t = loop.target.id
        for n in walk(gast.Module(body=loop.body, type_ignores=[])):
            if isinstance(n, (gast.Break, gast.Continue, gast.Return, gast.FunctionDef,
                              gast.Lambda)) or (isinstance(n, gast.Name) and n.id in (
                                  t, loop.iter.id) and not isinstance(n.ctx, gast.Load)):
                return False
        called = {n.func.attr for n in walk(gast.Module(body=loop.body, type_ignores=[]))
                  if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and
                  isinstance(n.func.value, gast.Name) and n.func.value.id == t}
        return any(_inlinable(self.classes[item], m) is not None
                   for item in self.lists[loop.iter.id] for m in called)

    def unroll(self, loop):
        t, items = loop.target.id, self.lists[loop.iter.id]
        out = []
        for item in items:
            body = clone(loop.body)
            out.extend(self.held_reads([
                Renamer(lambda n, item=item: item if n.id == t else n.id).visit(s)
                for s in body]))
        if items:  # (the loop's name keeps the last item, as Python leaves it)
            out.append(self.located(gast.Assign(targets=[_store(t)], value=_load(items[-1]),
                                                type_comment=None), loop))
        return out

    def statement(self, s, depth):
        helper = self.helper(s) if depth < _DEPTH else None
        if helper is not None:
            return self.write_in(s, depth, helper, None)
        if isinstance(s, gast.Return) and isinstance(s.value, gast.Call) and \
                isinstance(s.value.func, gast.Attribute) and \
                isinstance(s.value.func.value, gast.Name) and \
                s.value.func.value.id in self.classes and depth < _DEPTH:
            # (return model.loss(X, y): the method written in, its result returned)
            new = self.fresh_plain(f"{s.value.func.attr}_result")
            held = gast.copy_location(gast.Assign(targets=[_store(new)], value=s.value,
                                                  type_comment=None), s)
            written = self.statement(held, depth)
            if len(written) == 1 and written[0] is held:
                return [s]
            return written + [gast.copy_location(gast.Return(value=_load(new)), s)]
        value = s.value if isinstance(s, (gast.Expr, gast.Assign)) else None
        if depth >= _DEPTH or not isinstance(value, gast.Call) or \
                not isinstance(value.func, gast.Attribute) or \
                not isinstance(value.func.value, gast.Name) or \
                value.func.value.id not in self.classes or \
                (isinstance(s, gast.Assign) and (len(s.targets) != 1 or
                                                 not isinstance(s.targets[0], gast.Name))):
            return [s]
        cls = self.classes[value.func.value.id]
        obj = value.func.value.id
        found = _inlinable(cls, value.func.attr, obj not in self.scalar and
                           not self.reads_stored(obj, value.func.attr))
        if found is None or any(isinstance(a, gast.Starred) for a in value.args) or \
                any(k.arg is None for k in value.keywords):
            return [s]
        return self.write_in(s, depth, found, cls)

    def helper(self, s):
        """(function, its FunctionDef) for ``s`` a call ``helper(obj, ...)`` (its statement,
        or ``y = helper(obj, ...)``) of a function of the user's that stores attributes of its
        first parameter read back afterwards (by itself, a next call, or the caller through
        ``obj``): written in like a method, with ``obj`` its receiver; else None."""
        value = s.value if isinstance(s, (gast.Expr, gast.Assign)) else None
        if isinstance(s, gast.Assign) and (len(s.targets) != 1 or
                                           not isinstance(s.targets[0], gast.Name)):
            return None
        found = helper_of(self.parsed, value, self.caller_locals)
        if found is None:
            return None
        stored = set()
        reads = set(_attribute_uses(found[1], found[1].args.args[0].id, stored)) | set(
            _attribute_uses(self.parsed.node, value.args[0].id, set()))
        return found if stored & reads else None

    def write_in(self, s, depth, found, cls):
        """``s``, a call of the method (of ``cls``) or helper function ``found``, written in."""
        method, mdef = found
        value = s.value
        if cls is None:  # (a helper: its first argument is the receiver)
            obj = value.args[0].id
            value = gast.Call(func=value.func, args=value.args[1:], keywords=value.keywords)
        else:
            obj = value.func.value.id
        try:
            bound = inspect.signature(method).bind(*range(len(value.args) + 1), **{
                k.arg: ("kw", k.arg) for k in value.keywords})
        except TypeError:
            return [s]
        self.count += 1
        # (what the derivative is built for: the entry checks the class still has it, or the
        # module the helper's name)
        if cls is not None:
            self.parsed.inlined[(cls, value.func.attr)] = (
                inspect.getattr_static(cls, value.func.attr), False)
        else:
            self.parsed.inlined_functions[value.func.id] = method
        try:
            body = self.rename(method, mdef, obj, bound, value, s)
        except _NotInlined:
            return [s]
        body = self.block(body, depth + 1)
        if getattr(s, "lineno", None) is None:
            return body  # (a statement of a method written in: its caller's line is given)
        for node in body:
            for n in walk(node):
                if isinstance(n, (gast.stmt, gast.expr)):
                    n.lineno, n.col_offset = s.lineno, s.col_offset
                    n.end_lineno, n.end_col_offset = s.lineno, s.col_offset
        return body

    def fresh(self, method, name):
        new = f"_{method.__name__}{self.count}_{name}"
        while new in self.taken:
            new += "_"
        self.taken.add(new)
        return new

    def rename(self, method, mdef, obj, bound, call, s):
        params = [a.id for a in mdef.args.args]
        locals_ = set(params[1:]) | {t.id for n in walk(mdef) for t in walk(n)
                                     if isinstance(t, gast.Name) and isinstance(t.ctx, gast.Store)}
        names = {p: self.fresh(method, p) for p in sorted(locals_)}
        head = []
        sig = inspect.signature(method)
        for p in params[1:]:
            if p in bound.arguments:
                given = bound.arguments[p]
                arg = call.args[given - 1] if isinstance(given, int) else \
                    next(k.value for k in call.keywords if k.arg == given[1])
            else:
                arg = self.bind_global(method, f"{p}_default", sig.parameters[p].default)
            head.append(gast.Assign(targets=[gast.Name(id=names[p], ctx=gast.Store(),
                                                       annotation=None, type_comment=None)],
                                    value=clone(arg), type_comment=None))
        body = clone(mdef.body)
        if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]  # (the docstring)
        def renamed(n):
            if n.id == params[0]:
                return obj
            return names[n.id] if n.id in names else self.global_name(method, n.id)

        body = self.held_reads([Renamer(renamed).visit(node) for node in body])
        result = None
        if body and isinstance(body[-1], gast.Return):
            result = body.pop().value
        if isinstance(s, gast.Assign):
            body.append(gast.Assign(targets=s.targets, value=result or gast.Constant(
                value=None, kind=None), type_comment=None))
        elif result is not None:
            body.append(gast.Expr(value=result))
        return head + body

    def global_name(self, method, name):
        """A name the method reads from its module, read where it lives when the code runs: as
        it is when the caller shares the module (and does not bind it), else as an attribute of
        the method's module bound in the caller's environment (``_forward1_NM.scale``), so a
        later change of that module's value is seen (a value bound once would go stale)."""
        shared = method.__globals__ is self.parsed.fn.__globals__
        if name not in self.caller_locals and name not in self.parsed.env and (
                shared or (name not in method.__globals__ and
                           name not in self.parsed.fn.__globals__)):
            return name  # (the same module, or a builtin neither module shadows)
        if name not in method.__globals__:
            return self.module_attribute(method, builtins, name)
        module = sys.modules.get(method.__module__)
        if module is None or vars(module) is not method.__globals__:
            raise _NotInlined
        return self.module_attribute(method, module, name)

    def module_attribute(self, method, module, name):
        holder = self.bind_global(method, module.__name__.split(".")[-1], module)
        return gast.Attribute(value=holder, attr=name, ctx=gast.Load())

    def bind_global(self, method, name, value):
        new = self.fresh(method, name)
        self.parsed.env[new] = value
        return gast.Name(id=new, ctx=gast.Load(), annotation=None, type_comment=None)


def _other_globals(parsed, fdef, local_names):
    """{name: value} for the globals ``fdef`` reads that hold an object of a user's class or a
    list, tuple or dict (what could come to hold a global object made locals)."""
    out = {}
    for n in walk(fdef):
        if isinstance(n, gast.Name) and n.id not in local_names and n.id not in parsed.env and \
                n.id in parsed.fn.__globals__:
            value = parsed.fn.__globals__[n.id]
            if isinstance(value, (list, tuple, dict)) or user_class(type(value)):
                out[n.id] = value
    return out


def _stored_here(fdef, name, cls):
    """The attributes of the object ``name`` (of class ``cls``) that ``fdef`` stores, itself
    (``name.h = v``) or through a method it calls on it that inline.py writes in (two levels
    of methods called through self)."""
    out = set()
    calls = _attribute_uses(fdef, name, out)
    seen = set()
    for depth in range(3):
        more = []
        for method in calls:
            found = _inlinable(cls, method, False) if method not in seen else None
            seen.add(method)
            if found is not None:
                more += _attribute_uses(found[1], found[1].args.args[0].id, out)
        calls = more
    return out


def _attribute_uses(tree, name, stored):
    """The attributes of ``name`` that ``tree`` reads, in order; those it stores are added to
    ``stored``."""
    reads = []
    for n in walk(tree):
        if isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and \
                n.value.id == name:
            if isinstance(n.ctx, gast.Store):
                stored.add(n.attr)
            else:
                reads.append(n.attr)
    return reads


def _stores_nothing(cls, name, depth):
    """Whether the method ``name`` of ``cls`` can be written in and stores into no attribute or
    item of anything, nor calls a method through self that may (``depth`` levels deep)."""
    found = _inlinable(cls, name, False)
    if found is None or depth < 0:
        return False
    mdef = found[1]
    me = mdef.args.args[0].id
    for n in walk(mdef):
        if isinstance(n, (gast.Attribute, gast.Subscript)) and isinstance(n.ctx, gast.Store):
            return False
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                isinstance(n.func.value, gast.Name) and n.func.value.id == me and \
                class_value(cls, n.func.attr) != (False, None) and \
                not _stores_nothing(cls, n.func.attr, depth - 1):
            return False  # (not self.fn(x), a function __init__ stored: no method of cls)
    return True




def _user_inits(cls):
    """{"__init__"} when ``cls`` runs an ``__init__`` written in Python that is no dataclass's."""
    init = getattr(cls, "__init__", None)
    if not inspect.isfunction(init) or dataclasses.is_dataclass(cls):
        return set()
    return {"__init__"}




def _split_layer_lists(parsed, fdef, inliner):
    """``fdef``'s body with each local bound once to a list of the user's layers (``layers =
    [Dense(W1, b1), Tanh()]``) built item by item into locals of their own, known to
    ``inliner`` (so a loop over it can be written once per layer)."""
    bound = {}
    for n in walk(fdef):
        for t in getattr(n, "targets", None) or [getattr(n, "target", None)]:
            for x in walk(t) if t is not None else ():
                if isinstance(x, gast.Name) and isinstance(x.ctx, gast.Store):
                    bound[x.id] = bound.get(x.id, 0) + 1
    params = {a.id for a in fdef.args.args + fdef.args.kwonlyargs}
    out = []
    for s in fdef.body:
        v = getattr(s, "value", None)
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], gast.Name) and bound.get(s.targets[0].id) == 1 and \
                s.targets[0].id not in params and isinstance(v, gast.List) and v.elts and \
                all(isinstance(e, gast.Call) and user_class(static_object(
                    parsed, e.func, set(bound) | params)) for e in v.elts) and \
                not _list_changed(fdef, s.targets[0].id):
            name = s.targets[0].id
            items = []
            for k, e in enumerate(v.elts):
                item = inliner.fresh_plain(f"{name}_{k}")
                items.append(item)
                inliner.classes[item] = static_object(parsed, e.func, set(bound) | params)
                out.append(gast.copy_location(gast.Assign(targets=[_store(item)], value=e,
                                                          type_comment=None), s))
            s.value = gast.List(elts=[_load(i) for i in items], ctx=gast.Load())
            inliner.lists[name] = items
        out.append(s)
    return out


def _list_changed(fdef, name):
    """Whether ``fdef`` writes into the list ``name`` or passes it on (append, an item stored,
    a call given it)."""
    for n in walk(fdef):
        if isinstance(n, gast.Subscript) and not isinstance(n.ctx, gast.Load) and \
                isinstance(n.value, gast.Name) and n.value.id == name:
            return True
        if isinstance(n, gast.Call) and (
                isinstance(n.func, gast.Attribute) and isinstance(n.func.value, gast.Name) and
                n.func.value.id == name or any(isinstance(a, gast.Name) and a.id == name
                                               for a in n.args)):
            return True
    return False


class _CallsAsMethods(gast.NodeTransformer):
    """``m(x)`` on an object built here whose class has a ``__call__`` of the user's:
    ``m.__call__(x)``, which inline.py can write in like any method."""

    def __init__(self, inliner):
        self.inliner = inliner

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        if isinstance(f, gast.Name) and f.id in self.inliner.scalar and \
                _inlinable(self.inliner.classes[f.id], "__call__", False) is not None:
            node.func = gast.copy_location(gast.Attribute(value=f, attr="__call__",
                                                          ctx=gast.Load()), f)
        return node


class _HeldReads(gast.NodeTransformer):
    """``d.activation`` read (held, see _Inliner.hold) becomes the local holding it, and
    ``layers[-1]`` of a list of layers split into locals (``_layers_3``) that local."""

    def __init__(self, held, lists):
        self.held, self.lists = held, lists

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if isinstance(node.ctx, gast.Load) and isinstance(node.value, gast.Name) and \
                (node.value.id, node.attr) in self.held:
            return gast.copy_location(_load(self.held[(node.value.id, node.attr)]), node)
        return node

    def visit_Subscript(self, node):
        self.generic_visit(node)
        k = node.slice.value if isinstance(node.slice, gast.Constant) else None
        if isinstance(node.slice, gast.UnaryOp) and isinstance(node.slice.op, gast.USub) and \
                isinstance(node.slice.operand, gast.Constant) and \
                type(node.slice.operand.value) is int:
            k = -node.slice.operand.value  # (layers[-1])
        items = self.lists.get(node.value.id) if isinstance(node.value, gast.Name) else None
        if isinstance(node.ctx, gast.Load) and items and type(k) is int and \
                -len(items) <= k < len(items):
            return gast.copy_location(_load(items[k]), node)
        return node


class _NotInlined(Exception):
    """The method reads names of a module sourcediff cannot name: left as a call."""


def _inlinable(cls, name, need_store=True):
    """(function, its FunctionDef) for a method of ``cls`` that stores an attribute of self
    (or any method, without ``need_store``) and can be written into its caller, else None."""
    found = _python_method(cls, name)
    if found is None or not found[1]:
        return None
    return writable(found[0], need_store)
