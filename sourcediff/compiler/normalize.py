"""Normalize stage: one operation per statement, and structured control flow with explicit flags.

After this stage a function body holds only these statements (every operand an *atom*: a name, a
constant, a static reference such as ``np.pi``, or a tuple/list/slice of atoms):

- ``t = <op>``: an atom, ``a + b``, ``-a``, ``a < b``, ``a and b``, ``f(a, k=b)``, ``a.attr``,
  ``a[index]``, ``[a, b]``;
- ``a[index] = b`` (subscript assignment);
- ``if t: ... else: ...`` with a name as test;
- ``for i in range(...): ...`` (every loop over a sequence is a loop over an index);
- ``while True: ...`` whose exits go through flags, ending in ``if stop: break``;
- ``return t`` as the last statement only, ``f(a)`` calls for side effects, ``pass``, ``assert t``.

``break``, ``continue`` and early ``return`` become flags that guard the statements after them, so the
reverse sweep sees only nested blocks. Example::

    for i in range(n):            for i in range(n):
        if x[i] > 0:                  _cont1 = False
            continue                  _item1 = x[i]
        s = s + x[i]       -->        _gt1 = _item1 > 0
                                      if _gt1:
                                          _cont1 = True
                                      _go1 = not _cont1
                                      if _go1:
                                          _item2 = x[i]
                                          s = s + _item2
"""

import builtins
import functools
import types

import gast

from .. import runtime
from ..rules.facts import writes_in_place
from ..syntax import (  # noqa: F401
    assign,
    binding_counts,
    call,
    children,
    clone,
    const,
    dict_display,
    late_bound,
    load,
    located,
    plain_lambda,
    spread_keywords,
    store,
    stored_attribute_names,
    walk,
)
from .contexts import quiet_body
from .fence import attribute_root, refuse, static_object
from .jumps import JumpLowering, _LoopExit, assigned_names, stable_tests
from .lowering import (  # noqa: F401
    ALIAS_MARKER,
    ITEM_TO_WRITE,
    WITH_ITEM,
    CallLowering,
    _is_call_to,
    list_names,
    tuple_names,
)
from .parse import lift_function

_OP_HINT = {
    gast.Add: "add", gast.Sub: "sub", gast.Mult: "mul", gast.Div: "div", gast.Pow: "pow",
    gast.MatMult: "matmul", gast.FloorDiv: "floordiv", gast.Mod: "mod", gast.USub: "neg",
    gast.UAdd: "pos", gast.Not: "not", gast.Invert: "invert", gast.BitAnd: "and",
    gast.BitOr: "or", gast.BitXor: "xor", gast.LShift: "lshift", gast.RShift: "rshift",
}


def dotted(path):
    """``a.b.c`` as a gast expression."""
    parts = path.split(".")
    node = load(parts[0])
    for part in parts[1:]:
        node = gast.Attribute(value=node, attr=part, ctx=gast.Load())
    return node


def all_names(node):
    """Every identifier appearing in a tree (names, parameters, attributes are excluded)."""
    return {n.id for n in walk(node) if isinstance(n, gast.Name)}


def own_locals(fdef):
    """Parameters and names bound in ``fdef``'s own scope (inner functions' names included, not
    their bodies; comprehension variables are the comprehension's own)."""
    out = {a.id for a in _params(fdef)}

    def visit(node):
        for child in children(node):
            if isinstance(child, gast.FunctionDef):
                out.add(child.name)
                for default in child.args.defaults:
                    visit(default)
                continue
            if isinstance(child, (gast.Lambda, gast.ListComp, gast.GeneratorExp, gast.DictComp)):
                continue
            if isinstance(child, gast.Name) and isinstance(child.ctx, gast.Store):
                out.add(child.id)
            visit(child)

    for stmt in fdef.body:
        if isinstance(stmt, gast.FunctionDef):
            out.add(stmt.name)
            continue
        if isinstance(stmt, gast.Name):
            continue
        visit(gast.Module(body=[stmt], type_ignores=[]))
    return out


class Rename(gast.NodeTransformer):
    """Rename names (loads and stores) by a mapping."""

    def __init__(self, mapping):
        self.mapping = mapping

    def visit_Name(self, node):
        if node.id in self.mapping:
            return gast.Name(id=self.mapping[node.id], ctx=node.ctx, annotation=None,
                             type_comment=None)
        return node


_ITERATORS = {"zip", "map", "filter", "reversed", "enumerate", "iter"}


def _in_place_method(value, local_names):
    """``lst.append(v)``, ``y.sort()``: a method that changes its local receiver, kept as a
    statement of its own (the reverse stage follows appends and refuses the others)."""
    func = value.func
    return isinstance(func, gast.Attribute) and writes_in_place(func.attr) and \
        isinstance(func.value, gast.Name) and func.value.id in local_names


def is_atom(node, local_names):
    """A name, constant, static reference (``np.pi``) or a tuple/list/slice made only of atoms."""
    if isinstance(node, (gast.Name, gast.Constant)):
        return True
    if isinstance(node, gast.Attribute):
        return is_static_ref(node, local_names)
    if isinstance(node, (gast.Tuple, gast.List)):
        return all(is_atom(e, local_names) for e in node.elts)
    if isinstance(node, gast.Slice):
        return all(p is None or is_atom(p, local_names) for p in (node.lower, node.upper, node.step))
    return False


def is_static_ref(node, local_names):
    """``np.linalg.norm``, ``math.pi``, ``config.scale``: an attribute chain on a non-local name."""
    while isinstance(node, gast.Attribute):
        node = node.value
    return isinstance(node, gast.Name) and node.id not in local_names


def _mark_stepped_iterators(fdef):
    """Mark the iterator calls the function steps with ``next(it)`` or ``it.__next__()`` (written
    inside it, or bound to a name stepped so): they stay iterators, not the lists lowering.py
    makes of the others (a list has no ``next``)."""
    stepped = set()
    for n in walk(fdef):
        if not isinstance(n, gast.Call):
            continue
        target = n.args[0] if isinstance(n.func, gast.Name) and n.func.id == "next" and n.args \
            else n.func.value if isinstance(n.func, gast.Attribute) and \
            n.func.attr == "__next__" else None
        if isinstance(target, gast.Name):
            stepped.add(target.id)
        elif isinstance(target, gast.Call):
            target.sd_stepped = True
    for n in walk(fdef):
        if isinstance(n, gast.Assign) and isinstance(n.value, gast.Call) and any(
                isinstance(t, gast.Name) and t.id in stepped for t in n.targets):
            n.value.sd_stepped = True


class Normalizer(CallLowering):
    """Turns a fenced FunctionDef into the statement forms listed in the module docstring."""

    def __init__(self, parsed, names):
        self.parsed = parsed
        self.names = names
        fdef = parsed.node
        self.locals = own_locals(fdef)
        self.out = []
        self.loc = None
        self.lifted = {}  # local function name -> (lifted name, free variables)
        self.renamed = {}  # a comprehension's variable's own name -> the user's
        self.defaults = {}  # local function name -> (its parameters, {parameter: default's name})
        self.tuples = tuple_names(fdef)  # names that hold a tuple (t[i][j] = v: lowering.WITH_ITEM)
        self.lists = list_names(fdef)  # names that hold a list (L.sort(): L = sorted(L))
        # names an inner def or lambda binds that are bound elsewhere too (f = np.sin after
        # f = lambda ...; two defs of g): see define
        self.rebound = {n for n, c in binding_counts(fdef)[0].items() if c > 1}
        _mark_stepped_iterators(fdef)

    # ------------------------------------------------------------------ statements

    def block(self, stmts):
        saved, saved_loc = self.out, self.loc
        self.out = []
        for stmt in stmts:
            self.loc = stmt
            self.statement(stmt)
        result, self.out, self.loc = self.out, saved, saved_loc
        return result

    def emit(self, node):
        self.out.append(located(node, self.loc))

    def statement(self, s):
        if isinstance(s, gast.Assign):
            value = s.value
            if isinstance(s.targets[0], (gast.Tuple, gast.List)) and isinstance(value, gast.Call) \
                    and isinstance(value.func, gast.Name) and value.func.id in _ITERATORS \
                    and value.func.id not in self.locals:
                value = call(load("tuple"), [value])  # a, b = zip(*pairs): items by position
            if len(s.targets) == 1 and (self.list_pop(s.targets[0], value) or
                                        self.dict_method(s.targets[0], value)):
                return  # (v = lst.pop(i), v = d.setdefault(k, e))
            written = self.whole_write(value)
            if written is not None:  # r = np.exp(x, out=a): a is written, r is a
                self.write_into(*written)
                value = load(written[0])
            if len(s.targets) > 1 or not isinstance(s.targets[0], (gast.Name, gast.Subscript)):
                atom = self.atom(value)
                for target in s.targets:
                    self.bind(target, atom)
                return
            self.bind(s.targets[0], value)
        elif isinstance(s, gast.AnnAssign):
            if s.value is not None:
                self.bind(s.target, s.value)
        elif isinstance(s, gast.AugAssign):
            self.augassign(s)
        elif isinstance(s, gast.Expr):
            if isinstance(s.value, gast.Constant):
                return  # docstrings and bare constants
            if self.setattr_call(s.value):  # setattr(self, "h", v): as self.h = v
                value = s.value
                obj, name, new = (self.atom(a) for a in value.args)
                self.emit(gast.Expr(value=call(load("setattr"), [obj, name, new])))
                return
            written = self.whole_write(s.value)
            if written is not None:
                self.write_into(*written)
                return
            ufunc = self.ufunc_at(s.value)
            if ufunc is not None:
                self.add_at(s.value, ufunc)
                return
            if self.positions_write(s.value) or self.list_method(s.value) or \
                    self.list_pop(None, s.value):
                return
            if isinstance(s.value, gast.Call) and isinstance(s.value.func, gast.Attribute) \
                    and s.value.func.attr == "pop" and isinstance(s.value.func.value, gast.Name) \
                    and s.value.func.value.id in self.locals:
                self.emit(assign(self.names.fresh("popped"), self.simple(s.value)))
            elif isinstance(s.value, gast.Call) and not _in_place_method(s.value, self.locals) \
                    and not self.module_call(s.value) and not getattr(s, "sd_check", False):
                # helper(a) for its effect: bound to a name like any call, so a helper of the
                # user's runs through its generated forms, whose checks see what it stores (a
                # check an earlier stage wrote, sd_check, stays a statement: modules.py)
                self.emit(assign(self.names.fresh("done"), self.simple(s.value)))
            elif isinstance(s.value, gast.Call):
                self.emit(gast.Expr(value=self.simple(s.value)))
            else:
                self.atom(s.value)
        elif isinstance(s, gast.Return):
            value = const(None) if s.value is None else self.atom(s.value, "out")
            if not isinstance(value, (gast.Name, gast.Constant)):
                name = self.names.fresh("out")
                self.emit(assign(name, value))
                value = load(name)
            self.emit(gast.Return(value=value))
        elif isinstance(s, gast.If):
            test = self.name_of(s.test, "cond")
            body = self.block(s.body) or [gast.Pass()]
            orelse = self.block(s.orelse)
            self.emit(gast.If(test=test, body=body, orelse=orelse))
        elif isinstance(s, gast.For):
            self.for_loop(s)
        elif isinstance(s, gast.While):
            self.while_loop(s)
        elif isinstance(s, (gast.Break, gast.Continue, gast.Pass)):
            self.emit(type(s)())
        elif isinstance(s, gast.Assert):
            test = self.name_of(s.test, "check")
            msg = None if s.msg is None else self.atom(s.msg)
            self.emit(gast.Assert(test=test, msg=msg))
        elif isinstance(s, gast.Raise):  # an exit like return: the primal raises it, as Python
            exc = None if s.exc is None else self.atom(s.exc, "error")
            cause = None if s.cause is None else self.atom(s.cause, "cause")
            self.emit(gast.Raise(exc=exc, cause=cause))
        elif isinstance(s, gast.FunctionDef):
            self.define(s.name, s)
        elif isinstance(s, gast.With):  # np.errstate / catch_warnings: see compiler/contexts.py
            for inner in quiet_body(self.parsed, s):
                self.loc = inner
                self.statement(inner)
        else:
            refuse(self.parsed, s, f"{type(s).__name__} statements", "rewrite it with assignments")

    def setattr_call(self, value):
        """``setattr(obj, name, v)`` or ``object.__setattr__(obj, name, v)`` written as a call."""
        if not (isinstance(value, gast.Call) and len(value.args) == 3 and not value.keywords
                and not any(isinstance(a, gast.Starred) for a in value.args)):
            return False
        func = value.func
        if isinstance(func, gast.Name) and func.id not in self.locals:
            return self.static_value(func) is builtins.setattr
        return isinstance(func, gast.Attribute) and func.attr == "__setattr__" and \
            isinstance(func.value, gast.Name) and func.value.id == "object" and \
            "object" not in self.locals

    def static_value(self, node):
        """What ``np.add`` or ``np`` (a name not local here, or an attribute chain on one) is in
        the function's closure or module, or builtins; None when it is local or not found."""
        return static_object(self.parsed, node, self.locals)

    def unpartial(self, node):
        """``HINGE(w, X, y)`` with ``HINGE = functools.partial(hinge, lam=0.01)`` a module
        global (or a closure's): a call of ``HINGE.func`` with the partial's own arguments read
        from it (``HINGE.args[0]``, ``HINGE.keywords["lam"]``), so the function the partial holds
        is followed as the user's; a partial made inside the function runs at run time."""
        func = node.func
        if not isinstance(func, (gast.Name, gast.Attribute)) or \
                any(k.arg is None for k in node.keywords):
            return node
        if not hasattr(self, "_stored_attributes"):
            self._stored_attributes = stored_attribute_names(self.parsed.node)
        if isinstance(func, gast.Attribute) and func.attr in self._stored_attributes:
            return node  # (HOLD.fn = ...; HOLD.fn(x): not what HOLD.fn holds as this compiles)
        value = self.static_value(func)
        if not isinstance(value, functools.partial) or not isinstance(value.func, types.FunctionType):
            return node
        given = {k.arg for k in node.keywords}
        args = [gast.Subscript(value=gast.Attribute(value=clone(func), attr="args",
                                                    ctx=gast.Load()),
                               slice=const(k), ctx=gast.Load()) for k in range(len(value.args))]
        keywords = [gast.keyword(arg=k, value=gast.Subscript(
            value=gast.Attribute(value=clone(func), attr="keywords", ctx=gast.Load()),
            slice=const(k), ctx=gast.Load())) for k in value.keywords if k not in given]
        out = gast.Call(func=gast.Attribute(value=clone(func), attr="func",
                                            ctx=gast.Load()),
                        args=args + list(node.args), keywords=keywords + list(node.keywords))
        return gast.copy_location(out, node)

    def module_call(self, value):
        """``np.copyto(y, x)``, ``np.random.seed(0)``: a call of a module's function (kept as a
        statement: the reverse stage checks numpy's writes there)."""
        node = value.func
        while isinstance(node, gast.Attribute):
            node = node.value
        if not isinstance(node, gast.Name) or node is value.func:
            return False
        return isinstance(self.static_value(node), types.ModuleType)

    def bind(self, target, value):
        """``target = value`` for a name, subscript or (nested) tuple target."""
        if isinstance(target, gast.Name) and isinstance(value, gast.Lambda):
            self.define(target.id, value)
        elif isinstance(target, gast.Name):
            self.assign_name(target.id, self.simple(value, hint=target.id))
        elif isinstance(target, gast.Subscript) and attribute_root(target) is not None:
            # self.d[k] = v, self.bn_params[i][k] = v: into what the attribute holds, in place,
            # as Python runs it (the value first); the alias stage checks the write
            atom = self.atom(value)
            base = self.name_of(target.value, "held")
            self.emit(gast.Assign(targets=[gast.Subscript(
                value=store_like(base), slice=self.index(target.slice), ctx=gast.Store())],
                value=atom, type_comment=None))
        elif isinstance(target, gast.Subscript) and isinstance(target.value, gast.Subscript):
            self.nested_store(target, value)
        elif isinstance(target, gast.Subscript):
            base = self.receiver(target.value)
            index = self.index(target.slice)
            atom = self.atom(value)
            self.emit(gast.Assign(targets=[gast.Subscript(value=store_like(base), slice=index,
                                                           ctx=gast.Store())],
                                  value=atom, type_comment=None))
        elif isinstance(target, gast.Attribute):  # self.n = v: Python's setattr, kept as it is
            obj = self.receiver(target.value)
            self.emit(gast.Expr(value=call(load("setattr"), [
                obj, const(target.attr), self.atom(value)])))
        elif isinstance(target, (gast.Tuple, gast.List)):
            if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(target.elts) \
                    and not any(isinstance(e, gast.Starred) for e in target.elts):
                # (a, *rest = [u, v] has as many items as names, but rest is the list [v])
                atoms = [self.atom(v) for v in value.elts]  # evaluate all right-hand sides first
                written = set()  # (a, b = b, a: b is read before a is bound, so a copy of it)
                for k, sub in enumerate(target.elts):
                    if {n.id for n in walk(atoms[k]) if isinstance(n, gast.Name)} & written:
                        old = self.names.fresh("old")
                        self.emit(assign(old, atoms[k]))
                        atoms[k] = load(old)
                    written |= {n.id for n in walk(sub) if isinstance(n, gast.Name)
                                and isinstance(n.ctx, gast.Store)}
                for sub, atom in zip(target.elts, atoms):
                    self.bind(sub, atom)
                return
            seq = self.name_of(value, "seq")
            if seq.id in {n.id for n in walk(target) if isinstance(n, gast.Name)}:
                old = self.names.fresh("seq")  # (p, q = p: p's items, read after p is bound)
                self.emit(assign(old, seq))
                seq = load(old)
            # (the analysis makes it _sd.check_unpack: a dict unpacks its keys, a set or an
            # iterator has no items by position, and a sequence of another length is an error;
            # with a starred name, one of fewer items than the other names)
            starred = [k for k, e in enumerate(target.elts) if isinstance(e, gast.Starred)]
            check = gast.Expr(value=call(load("len"), [clone(seq)]))
            check.sd_unpack = len(target.elts) if not starred else 1 - len(target.elts)
            self.emit(check)
            after = len(target.elts) - 1 - starred[0] if starred else 0
            for k, sub in enumerate(target.elts):
                if isinstance(sub, gast.Starred):  # a, *rest, z = seq: rest = list(seq[1:-1])
                    part = gast.Slice(lower=const(k), upper=const(-after) if after else None,
                                      step=None)
                    self.bind(sub.value, call(load("list"), [gast.Subscript(
                        value=seq, slice=part, ctx=gast.Load())]))
                    continue
                index = const(k) if not starred or k < starred[0] else \
                    const(k - len(target.elts))
                self.bind(sub, gast.Subscript(value=seq, slice=index, ctx=gast.Load()))
        else:
            refuse(self.parsed, target, f"assignment to {type(target).__name__}",
                   "assign to a name or a subscript")

    def nested_store(self, target, value):
        """``a[i][j] = v`` as ``item = a[i]; new = _sd.item_to_write(item, a, where); new[j] = v;
        a[i] = new``, with the alias stage's marker of ``a[i] op= e`` before the store: numpy
        writes into the object a[i] holds, which no other name still read may share (a copy
        of a[i] written back, where a[i] is a view or an item of a list or dict)."""
        atom = self.atom(value)  # (Python evaluates the value first)
        base = self.receiver(target.value.value)
        index = self.index(target.value.slice)
        item = self.name_of(gast.Subscript(value=base, slice=index, ctx=gast.Load()), "item")
        self.parsed.env.setdefault(ITEM_TO_WRITE, runtime.item_to_write)
        where = f"{self.parsed.where(target)}"
        rebuilt = isinstance(base, gast.Name) and base.id in self.tuples  # (t = new tuple)
        new = self.name_of(call(load(ITEM_TO_WRITE), [item, clone(base), const(where)],
                                [gast.keyword(arg="rebuilt", value=const(True))] if rebuilt
                                else []), "new")
        self.emit(gast.Assign(targets=[gast.Subscript(value=store_like(new),
                                                       slice=self.index(target.slice),
                                                       ctx=gast.Store())],
                              value=atom, type_comment=None))
        marker = self.item_marker(item, [gast.Subscript(
            value=clone(base), slice=clone(index), ctx=gast.Load())])
        if rebuilt:
            self.parsed.env.setdefault(WITH_ITEM, runtime.with_item)
            self.assign_name(base.id, call(load(WITH_ITEM), [clone(base), index, new]))
        else:
            self.emit(gast.Assign(targets=[gast.Subscript(value=store_like(base), slice=index,
                                                           ctx=gast.Store())],
                                  value=new, type_comment=None))
        marker.sd_alias_end = self.out[-1]

    def assign_name(self, name, value):
        """``name = value``; when value reads name (``x = x * w``), the operation goes into a
        fresh variable first, so the old and the new ``x`` are both there for the adjoint."""
        if isinstance(value, gast.Name) and value.id == name:
            return  # x = x does nothing
        reads = {n.id for n in walk(value) if isinstance(n, gast.Name)}
        if name in reads:
            fresh = self.names.fresh(_hint_of(value, "new"))
            self.emit(assign(fresh, value))
            value = load(fresh)
        self.emit(assign(name, value))

    def augassign(self, s):
        op = gast.BinOp(left=None, op=s.op, right=None)
        if isinstance(s.target, gast.Name):
            op.left = load(s.target.id)
            op.right = s.value
            # numpy would write into v's array in place: the alias stage (alias.py) checks at run
            # time that no other name still read sees that array; the marker holds the old v
            self.rebind_in_place(s.target.id, op)
        elif isinstance(s.target, gast.Attribute):  # self.count += 1
            obj = self.receiver(s.target.value)
            op.left = self.name_of(gast.Attribute(value=obj, attr=s.target.attr,
                                                  ctx=gast.Load()), s.target.attr)
            op.right = s.value
            new = self.name_of(op, _OP_HINT.get(type(s.op), "new"))
            # (obj.w holding an array: numpy's += writes into that array, which other names
            # may hold)
            marker = self.item_marker(op.left, [clone(obj), const(s.target.attr)])
            self.emit(gast.Expr(value=call(load("setattr"), [obj, const(s.target.attr), new])))
            marker.sd_alias_end = self.out[-1]
        elif isinstance(s.target.value, gast.Subscript) and attribute_root(s.target) is None:
            # a[i][j] += e: a[i][j] = a[i][j] + e, with the marker of an item's op= for the old
            # a[i][j] (numpy writes into the array it holds, which other names may hold too)
            base = self.receiver(s.target.value.value)
            target = gast.Subscript(value=gast.Subscript(
                value=base, slice=self.index(s.target.value.slice), ctx=gast.Load()),
                slice=self.index(s.target.slice), ctx=gast.Store())
            inner = self.name_of(clone(target.value), "item")
            old = self.name_of(gast.Subscript(value=inner, slice=clone(target.slice),
                                              ctx=gast.Load()), "item")
            op.left, op.right = old, s.value
            new = self.name_of(op, _OP_HINT.get(type(s.op), "new"))
            marker = self.item_marker(old, [gast.Subscript(
                value=clone(inner), slice=clone(target.slice), ctx=gast.Load())])
            self.nested_store(target, new)
            marker.sd_alias_end = self.out[-1]
        else:
            base = self.receiver(s.target.value)
            index = self.index(s.target.slice)
            old = self.name_of(gast.Subscript(value=base, slice=index, ctx=gast.Load()), "item")
            op.left = old
            op.right = s.value
            new = self.name_of(op, _OP_HINT.get(type(s.op), "new"))
            # (ls[i] += e on a list or dict of arrays: numpy's += writes into the array ls[i]
            # holds, which other names or items may hold too)
            marker = self.item_marker(old, [gast.Subscript(
                value=clone(base), slice=clone(index), ctx=gast.Load())])
            self.emit(gast.Assign(targets=[gast.Subscript(value=store_like(base), slice=index,
                                                           ctx=gast.Store())],
                                  value=new, type_comment=None))
            marker.sd_alias_end = self.out[-1]

    def item_marker(self, old, holder):
        """The alias stage's marker for ``holder op= e`` (an item or an attribute), just before
        the store of the new value: its first argument is the old value, the others say where
        it is held (``base[index]``, or the object and the attribute's name)."""
        marker = located(gast.Expr(value=call(load(ALIAS_MARKER), [clone(old)] + holder)),
                         self.loc)
        self.out.append(marker)
        return marker

    def for_loop(self, s):
        """Every for loop becomes ``for k in range(...)`` with the targets bound from the sequence."""
        it = s.iter
        if _is_call_to(it, "range", self.locals):
            args = [self.atom(a) for a in it.args]
            loop_var, binds = None, []
            if isinstance(s.target, gast.Name):
                loop_var = s.target.id
            else:
                loop_var = self.names.fresh("k")
                binds = [(s.target, load(loop_var))]
            rng = call(load("range"), args)
        else:
            loop_var = self.names.fresh("k")
            self.rebound = assigned_names(s.body) | {  # (for x in x: the target's names too)
                n.id for n in walk(s.target) if isinstance(n, gast.Name)}
            length, binds = self.sequence(s.target, it, load(loop_var))
            rng = call(load("range"), [length])
        body_prefix = []
        saved = self.out
        self.out = body_prefix
        for target, value in binds:
            self.bind(target, value)
        for stmt in body_prefix:  # item = seq[k]: the alias stage knows other steps read others
            if isinstance(stmt, gast.Assign) and isinstance(stmt.value, gast.Subscript) \
                    and isinstance(stmt.value.slice, gast.Name) \
                    and stmt.value.slice.id == loop_var:
                stmt.sd_loop_item = True
        self.out = saved
        body = body_prefix + self.block(s.body)
        orelse = self.block(s.orelse)
        self.emit(gast.For(target=store(loop_var), iter=rng, body=body or [gast.Pass()],
                           orelse=orelse, type_comment=None))

    def sequence(self, target, it, index):
        """(length atom, [(target, value)]) for iterating ``target`` over ``it`` by ``index``."""
        if _is_call_to(it, "enumerate", self.locals) and isinstance(target, (gast.Tuple, gast.List)) \
                and len(target.elts) == 2 and all(k.arg == "start" for k in it.keywords) \
                and len(it.args) + len(it.keywords) <= 2:
            start = it.args[1] if len(it.args) > 1 else it.keywords[0].value if it.keywords \
                else None
            start = None if start is None else self.atom(start)
            length, binds = self.sequence(target.elts[1], it.args[0], index)
            counter = index if start is None else gast.BinOp(left=index, op=gast.Add(), right=start)
            return length, [(target.elts[0], counter)] + binds
        if _is_call_to(it, "zip", self.locals) and isinstance(target, (gast.Tuple, gast.List)) \
                and len(it.args) == 1 and isinstance(it.args[0], gast.Starred) and not it.keywords:
            # for a, b in zip(*seqs): the target's length is the number of sequences
            seqs = self.name_of(it.args[0].value, "seqs")
            items = [gast.Subscript(value=clone(seqs), slice=const(k), ctx=gast.Load())
                     for k in range(len(target.elts))]
            return self.sequence(target, located(call(it.func, items), it), index)
        if _is_call_to(it, "zip", self.locals) and isinstance(target, (gast.Tuple, gast.List)) \
                and len(target.elts) == len(it.args) and not it.keywords:
            lengths, binds = [], []
            for sub, seq in zip(target.elts, it.args):
                n, b = self.sequence(sub, seq, index)
                lengths.append(n)
                binds += b
            length = lengths[0] if len(lengths) == 1 else self.name_of(
                call(load("min"), lengths), "n")
            return length, binds
        backwards = _is_call_to(it, "reversed", self.locals) and len(it.args) == 1 and \
            not it.keywords  # for v in reversed(seq): seq[n - 1 - k]
        seq = self.name_of(it.args[0] if backwards else it, "seq")
        if seq.id in self.rebound:  # the loop iterates over the value it had when it started
            fresh = self.names.fresh("seq")
            self.emit(assign(fresh, seq))
            seq = load(fresh)
        length = self.name_of(call(load("len"), [seq]), "n")
        # (the analysis makes it _sd.loop_length, which refuses a dict, a set or an iterator:
        # Python iterates over those otherwise than seq[k] does)
        self.out[-1].sd_loop_length = True
        if backwards:  # (n - 1 once, before the loop)
            last = self.name_of(gast.BinOp(left=clone(length), op=gast.Sub(), right=const(1)),
                                "last")
            index = gast.BinOp(left=last, op=gast.Sub(), right=index)
        return length, [(target, gast.Subscript(value=seq, slice=index, ctx=gast.Load()))]

    def while_loop(self, s):
        """``while test: body`` -> ``while True: c = test; if not c: <stop>; body``."""
        saved = self.out
        self.out = []
        test = self.name_of(s.test, "cond")
        head = self.out
        self.out = saved
        exit_if = gast.If(test=test, body=[gast.Pass()], orelse=[_LoopExit()])
        body = head + [located(exit_if, s)] + self.block(s.body)
        orelse = self.block(s.orelse)
        self.emit(gast.While(test=const(True), body=body, orelse=orelse))

    # ------------------------------------------------------------------ expressions

    def atom(self, node, hint="t"):
        """An atom with the value of ``node``, emitting statements as needed."""
        if isinstance(node, gast.Name) and node.id in self.lifted:
            return self.lifted_value(node)
        if is_atom(node, self.locals):
            if isinstance(node, (gast.Tuple, gast.List)):
                return type(node)(elts=[self.atom(e) for e in node.elts], ctx=gast.Load())
            return node
        if isinstance(node, (gast.Tuple, gast.List)):
            return type(node)(elts=[self.atom(e) for e in node.elts], ctx=gast.Load())
        return self.name_of(node, hint)

    def name_of(self, node, hint="t"):
        """A name holding the value of ``node``."""
        if isinstance(node, gast.Name):
            return node
        simple = self.simple(node, hint)
        if isinstance(simple, gast.Name):
            return simple
        name = self.names.fresh(_hint_of(simple, hint))
        # located at the expression itself, so errors point at the call, not the statement
        self.out.append(assign(name, simple, node if getattr(node, "lineno", None) else self.loc))
        return load(name)

    def receiver(self, node):
        """The object of a method call or subscript: a name or a static reference."""
        if isinstance(node, gast.Name) or is_static_ref(node, self.locals):
            return node
        return self.name_of(node, "obj")

    def index(self, node):
        if isinstance(node, gast.Slice):
            return gast.Slice(*(None if p is None else self.atom(p)
                                for p in (node.lower, node.upper, node.step)))
        if isinstance(node, gast.Tuple):
            return gast.Tuple(elts=[self.index(e) for e in node.elts], ctx=gast.Load())
        if isinstance(node, gast.Constant) or (isinstance(node, gast.Name)):
            return node
        return self.atom(node, "idx")

    def simple(self, node, hint="t"):
        """``node`` as one operation over atoms (the right-hand side of a normalized assignment)."""
        if is_atom(node, self.locals):
            return self.atom(node)
        if isinstance(node, (gast.Tuple, gast.List)):
            return self.atom(node)
        if isinstance(node, gast.BinOp):
            return gast.BinOp(left=self.atom(node.left), op=node.op, right=self.atom(node.right))
        if isinstance(node, gast.UnaryOp):
            return gast.UnaryOp(op=node.op, operand=self.atom(node.operand))
        if isinstance(node, gast.Compare):
            if len(node.ops) == 1:
                return gast.Compare(left=self.atom(node.left), ops=node.ops,
                                    comparators=[self.atom(node.comparators[0])])
            return self.chained_compare(node)
        if isinstance(node, gast.BoolOp):
            # kept whole only when its value is a truth value: ``y and x`` is x for a true y,
            # and x may carry a derivative (it is the branch short_circuit writes)
            if all(is_atom(v, self.locals) for v in node.values[1:]) and \
                    all(self.truth_value(v) for v in node.values):
                return gast.BoolOp(op=node.op, values=[self.atom(v) for v in node.values])
            return self.short_circuit(node)
        if isinstance(node, gast.IfExp):
            return self.ifexp(node)
        if isinstance(node, gast.NamedExpr):  # (n := e): n = e, then n, where it is written
            self.assign_name(node.target.id, self.simple(node.value, node.target.id))
            return load(node.target.id)
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) \
                and node.func.id in self.lifted:
            node = self.lifted_call(node)
        rewritten = self.builtin_as_comprehension(node)
        if rewritten is not None:
            return self.simple(rewritten, hint)
        if isinstance(node, gast.Call):
            node = self.unpartial(node)
            func = node.func
            if isinstance(func, gast.Attribute) and not is_static_ref(func, self.locals):
                func = gast.Attribute(value=self.receiver(func.value), attr=func.attr,
                                      ctx=gast.Load())
            elif not isinstance(func, (gast.Name, gast.Attribute)):
                func = self.name_of(func, "fn")
            args = [gast.Starred(value=self.atom(a.value), ctx=gast.Load())
                    if isinstance(a, gast.Starred) else self.atom(a) for a in node.args]
            keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value))
                        for k in spread_keywords(node.keywords)]
            return call(func, args, keywords)
        if isinstance(node, gast.Attribute):
            return gast.Attribute(value=self.receiver(node.value), attr=node.attr, ctx=gast.Load())
        if isinstance(node, gast.Subscript):
            return gast.Subscript(value=self.receiver(node.value), slice=self.index(node.slice),
                                  ctx=gast.Load())
        if isinstance(node, gast.Dict):
            keys = [self.atom(k) for k in node.keys]
            return dict_display(keys, [self.atom(v) for v in node.values])
        if isinstance(node, gast.JoinedStr):
            return node  # an f-string for print(): never active
        if isinstance(node, (gast.ListComp, gast.GeneratorExp, gast.DictComp)):
            return self.comprehension(node)
        if isinstance(node, gast.Lambda):  # (sorted(xs, key=lambda v: ...): lifted as a def)
            name = self.names.fresh("lambda")
            self.lift(name, node)
            return self.lifted_value(located(load(name), node))
        refuse(self.parsed, node, f"{type(node).__name__} expressions", "rewrite it")

    def comprehension(self, node):
        """``[e for x in xs if c]`` (or a generator expression) becomes a loop appending to a list;
        ``{k: v for x in xs}`` a loop storing into a dict."""
        lst = self.names.fresh("list")
        self.locals.add(lst)
        mapping = {}
        for gen in node.generators:
            for n in walk(gen.target):
                if isinstance(n, gast.Name):
                    mapping[n.id] = self.names.fresh(n.id)
                    self.renamed[mapping[n.id]] = n.id
        self.locals |= set(mapping.values())
        rename = Rename(mapping)
        first_iter = node.generators[0].iter
        node = rename.visit(clone(node))
        node.generators[0].iter = first_iter  # evaluated in the enclosing scope
        if isinstance(node, gast.DictComp):
            append = gast.Assign(targets=[gast.Subscript(value=load(lst), slice=node.key,
                                                          ctx=gast.Store())],
                                 value=node.value, type_comment=None)
        else:
            append = gast.Expr(value=call(gast.Attribute(value=load(lst), attr="append",
                                                         ctx=gast.Load()), [node.elt]))
        inner = [located(append, self.loc)]
        for gen in reversed(node.generators):
            for cond in reversed(gen.ifs):
                inner = [located(gast.If(test=cond, body=inner, orelse=[]), self.loc)]
            inner = [located(gast.For(target=gen.target, iter=gen.iter, body=inner, orelse=[],
                                      type_comment=None), self.loc)]
        empty = gast.Dict(keys=[], values=[]) if isinstance(node, gast.DictComp) else \
            gast.List(elts=[], ctx=gast.Load())
        self.emit(assign(lst, empty))
        loc = self.loc
        self.statement(inner[0])
        self.loc = loc
        return load(lst)

    # ------------------------------------------------------------------ inner functions

    def define(self, name, node):
        """``def name(...)`` or ``name = lambda ...``. A name bound only there is lifted, and its
        calls and uses are written as calls and partials of the lifted function. A name bound
        elsewhere too holds the function value that Python's last binding left (a branch not
        taken, ``f = np.sin`` after the def, a def of g read by another function that is
        called after g is defined again): the def is lifted under a fresh name and ``name`` is
        assigned its partial, so each call reads what the name holds when it runs."""
        if name not in self.rebound:
            return self.lift(name, node)
        fresh = self.names.fresh(name)
        self.lift(fresh, node)
        self.assign_name(name, self.lifted_value(located(load(fresh), node)))

    def lift(self, name, node):
        """Make an inner def or lambda a function of its own, its free variables extra keywords.

        ``def g(z): return z * w`` inside ``f`` becomes ``_g1(z, *, w)`` and a call ``g(x)`` becomes
        ``_g1(x, w=w)``, so derivatives flow to ``w`` through the ordinary call mechanism.
        """
        if isinstance(node, gast.Lambda):
            ret = located(gast.Return(value=node.body), node)
            node = located(gast.FunctionDef(name=name, args=node.args, body=[ret],
                                            decorator_list=[], returns=None, type_comment=None,
                                            type_params=[]), node)
        args = clone(node.args)
        self.defaults[name] = ([a.id for a in args.args], self.lift_defaults(args))
        inner_locals = own_locals(node)
        loads = {n.id for n in walk(node) if isinstance(n, gast.Name)
                 and isinstance(n.ctx, gast.Load)}
        free = set((loads - inner_locals) & self.locals) - set(self.lifted) - {name}
        for other, (_, other_free) in self.lifted.items():
            if other in loads and other not in inner_locals:
                free |= set(other_free) | set(self.defaults[other][1].values())
        free = sorted(free)
        lifted_name = self.names.fresh(name)
        self.lifted[name] = (lifted_name, free)
        body = [_CallRewriter(self).visit(clone(stmt)) for stmt in node.body]
        args.kwonlyargs = list(args.kwonlyargs) + [gast.Name(id=v, ctx=gast.Param(),
                                                             annotation=None, type_comment=None)
                                                   for v in free]
        args.kw_defaults = list(args.kw_defaults) + [None] * len(free)
        new = located(gast.FunctionDef(name=lifted_name, args=args, body=body, decorator_list=[],
                                       returns=None, type_comment=None, type_params=[]), node)
        self.parsed.env[lifted_name] = lift_function(self.parsed, new, name)

    def lift_defaults(self, args):
        """Python evaluates an inner function's defaults where the def runs: those that read the
        enclosing function's names (``def g(v, k=x[3])``) are named there, and each call that
        leaves the parameter out passes that name (so the derivative reaches x)."""
        params = args.args[len(args.args) - len(args.defaults):] + args.kwonlyargs
        defaults = list(args.defaults) + list(args.kw_defaults)
        out = {}
        for k, (p, d) in enumerate(zip(params, defaults)):
            if d is not None and {n.id for n in walk(d) if isinstance(n, gast.Name)} & \
                    self.locals:
                out[p.id] = self.names.fresh(p.id + "_default")
                self.locals.add(out[p.id])
                self.bind(store(out[p.id]), d)
                if k < len(args.defaults):
                    args.defaults[k] = const(None)
                else:
                    args.kw_defaults[k - len(args.defaults)] = const(None)
        return out

    def lifted_value(self, node):
        """An inner function or lambda used as a value (sorted(xs, key=f)): its lifted function,
        bound to what it reads of the enclosing function by a functools.partial."""
        lifted_name, free = self.lifted[node.id]
        late = [self.renamed.get(v, v) for v in late_bound(self.parsed.node, free)]
        if late:  # (Python reads them when the function is called, the partial when it is made)
            refuse(self.parsed, node, f"inner functions and lambdas passed as values that read "
                   f"{', '.join(late)}, which the function binds more than once or in a loop,",
                   f"pass {late[0]} as an argument, bind it as a default (lambda v, "
                   f"{late[0]}={late[0]}: ...), or call the function directly")
        keywords = [gast.keyword(arg=v, value=load(v)) for v in free] + [
            gast.keyword(arg=p, value=load(d)) for p, d in self.defaults[node.id][1].items()]
        if not keywords:
            return load(lifted_name)
        self.parsed.env.setdefault("_sd_partial", functools.partial)
        return self.name_of(call(load("_sd_partial"), [load(lifted_name)], keywords), "fn")

    def lifted_call(self, node):
        lifted_name, free = self.lifted[node.func.id]
        keywords = list(node.keywords) + [gast.keyword(arg=v, value=load(v)) for v in free]
        params, defaults = self.defaults[node.func.id]
        given = {k.arg for k in node.keywords} | set(params[:len(node.args)])
        if defaults and (None in given or any(isinstance(a, gast.Starred) for a in node.args)):
            refuse(self.parsed, node, f"calls with *args or **kwargs to {node.func.id}, whose "
                   f"defaults read the enclosing function's values,", "pass the arguments "
                   "one by one")
        keywords += [gast.keyword(arg=p, value=load(d)) for p, d in defaults.items()
                     if p not in given]
        return call(load(lifted_name), node.args, keywords)

    def truth_value(self, node):
        """``node`` is a comparison, a ``not``, a constant or a name from outside the function:
        never a value that carries a derivative through ``and``/``or``."""
        if isinstance(node, (gast.Compare, gast.Constant)):
            return True
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.Not):
            return True
        if isinstance(node, gast.BoolOp):
            return all(self.truth_value(v) for v in node.values)
        if isinstance(node, gast.Name):
            return node.id not in self.locals
        return isinstance(node, gast.Attribute) and is_static_ref(node, self.locals)

    def short_circuit(self, node):
        """``a and f(b)`` keeps Python's short circuit: ``t = a; if t: t = f(b)``."""
        name = self.names.fresh("and" if isinstance(node.op, gast.And) else "or")
        self.emit(assign(name, self.simple(node.values[0])))
        self.rest_of_boolop(name, node.op, node.values[1:])
        return load(name)

    def rest_of_boolop(self, name, op, values):
        if not values:
            return
        inner = self.block_of(lambda: (self.emit(assign(name, self.simple(values[0]))),
                                       self.rest_of_boolop(name, op, values[1:])))
        if isinstance(op, gast.And):
            self.emit(gast.If(test=load(name), body=inner, orelse=[]))
        else:
            self.emit(gast.If(test=load(name), body=[gast.Pass()], orelse=inner))

    def chained_compare(self, node):
        """``a < b < c`` evaluates ``b`` once and stops at the first false comparison."""
        name = self.names.fresh("cmp")
        left = self.atom(node.left)

        def link(left, ops, comps):
            right = self.atom(comps[0])
            self.emit(assign(name, gast.Compare(left=left, ops=[ops[0]], comparators=[right])))
            if len(ops) > 1:
                inner = self.block_of(lambda: link(right, ops[1:], comps[1:]))
                self.emit(gast.If(test=load(name), body=inner, orelse=[]))

        link(left, node.ops, node.comparators)
        return load(name)

    def ifexp(self, node):
        name = self.names.fresh("choice")
        test = self.name_of(node.test, "cond")
        body = self.block_of(lambda: self.emit(assign(name, self.simple(node.body))))
        orelse = self.block_of(lambda: self.emit(assign(name, self.simple(node.orelse))))
        self.emit(gast.If(test=test, body=body, orelse=orelse))
        return load(name)

    def block_of(self, produce):
        saved = self.out
        self.out = []
        produce()
        result, self.out = self.out, saved
        return result


class _CallRewriter(gast.NodeTransformer):
    """Inside a lifted function: calls to other lifted functions pass their free variables."""

    def __init__(self, normalizer):
        self.normalizer = normalizer

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, gast.Name) and node.func.id in self.normalizer.lifted:
            return self.normalizer.lifted_call(node)
        return node


def store_like(node):
    if isinstance(node, gast.Name):
        return load(node.id)
    return node


def _params(fdef):
    a = fdef.args
    out = list(a.posonlyargs if hasattr(a, "posonlyargs") else []) + list(a.args) + list(a.kwonlyargs)
    if a.vararg:
        out.append(a.vararg)
    if a.kwarg:
        out.append(a.kwarg)
    return out


def _hint_of(node, default):
    if isinstance(node, gast.BinOp):
        return _OP_HINT.get(type(node.op), default)
    if isinstance(node, gast.UnaryOp):
        return _OP_HINT.get(type(node.op), default)
    if isinstance(node, gast.Call):
        func = node.func
        return func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", default)
    if isinstance(node, gast.Subscript):
        return "item"
    if isinstance(node, gast.Attribute):
        return node.attr
    if isinstance(node, gast.Compare):
        return "cmp"
    return default


def normalize(parsed, names):
    """The normalized FunctionDef (a new tree) of a fenced :class:`Parsed` function."""
    fdef = parsed.node
    norm = Normalizer(parsed, names)
    body = norm.block(fdef.body)
    body = JumpLowering(names).function(body, fdef.body[-1] if fdef.body else fdef)
    body = stable_tests(body, names)
    new = gast.FunctionDef(name=fdef.name, args=fdef.args, body=body, decorator_list=[],
                           returns=None, type_comment=None, type_params=[])
    return located(new, fdef)
