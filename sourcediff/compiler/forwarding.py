"""Reads of an attribute just stored take the stored value: ``self.h = h; return self.h``.

A stage of its own between normalize and the alias checks (``compiler.driver._front_end``): sourcediff reads
attributes as constants, so a read of a value that carries a derivative back from an object would
lose it; within one block, where nothing in between can change the attribute, the read is the
stored value itself (Python reads back the same object wherever the attribute is plain), and this
stage writes it so: ``_h1 = self.h`` becomes ``_h1 = h``. The alias checks then see that read of
``h`` (``v = h[:]; v += 1.0`` before it changes what the read gives, and is checked there).

The store becomes ``_sd.store_attribute(obj, "h", h, where, text, False)``, which checks at run
time that the attribute is a plain one (a property or a class with its own ``__setattr__`` could
give back something else); the reverse analysis turns its last argument to True where ``h``
carries a derivative (see runtime/object_state.py). What ends the knowledge: a call of the user's
or unknown code (it may set attributes), a call that takes the object itself (``len(self)`` runs
``__len__``), a subscript store, a compound statement, rebinding the object's or the value's
name, and a store of the same attribute name through any object (it may be the same one).
"""

import gast

from .constructors import sets_only_its_own
from .lowering import ALIAS_MARKER
from .normalize import call
from .resolve import Resolver
from ..syntax import walk


def forward_attributes(parsed, fdef, runtime_name, local_names):
    """Rewrite ``fdef`` (normalized) in place, as the module's text says; returns it."""
    resolver = Resolver(parsed, local_names)
    forwarded = {}  # id(setattr statement) -> the statement

    def name(identifier):
        return gast.Name(id=identifier, ctx=gast.Load(), annotation=None, type_comment=None)

    rt = gast.Attribute(value=name(runtime_name), attr="store_attribute", ctx=gast.Load())

    def may_change_state(node, objects):
        """Whether evaluating ``node`` may run code that sets an attribute: a call of the user's
        or unknown code, or any call given one of ``objects`` (the stored-into objects)."""
        read_from = {id(n.value) for n in walk(node) if isinstance(n, gast.Attribute)}
        for n in walk(node):
            if not isinstance(n, gast.Call):
                continue
            op = resolver.op(n)
            if op.kind not in ("rule", "nondiff", "container") and not (
                    op.kind == "construct" and sets_only_its_own(op.key)):
                return True  # (Loss() with a plain __init__ sets nothing of another object)
            if any(isinstance(m, gast.Name) and m.id in objects and id(m) not in read_from
                   for a in list(n.args) + [k.value for k in n.keywords] for m in walk(a)):
                return True  # (not np.sum(self.X): an attribute read of it is no object given)
        return False

    def substitute(node, stored):
        for parent in walk(node):
            for field, child in gast.iter_fields(parent):
                items = child if isinstance(child, list) else [child]
                for k, item in enumerate(items):
                    if isinstance(item, gast.Attribute) and isinstance(item.value, gast.Name) \
                            and isinstance(item.ctx, gast.Load) and \
                            (item.value.id, item.attr) in stored:
                        source, store = stored[(item.value.id, item.attr)]
                        if isinstance(child, list):
                            child[k] = name(source)
                        else:
                            setattr(parent, field, name(source))
                        forwarded[id(store)] = store

    def block(stmts, result=None):
        stored = {}  # (object name, attribute) -> (value name, setattr statement)
        partials = {}  # a name bound in this block to _sd_partial(fn, ...): that call
        for s in stmts:
            _note_partial(s, partials)
            for field in ("body", "orelse"):
                if isinstance(getattr(s, field, None), list):
                    block(getattr(s, field))
            if _setattr(s, local_names):
                obj, attr, value = s.value.args[:3]
                if not isinstance(obj, gast.Name) or not isinstance(attr, gast.Constant):
                    stored.clear()  # (setattr(self, k, v): any attribute, of any object)
                    continue
                stored = {k: x for k, x in stored.items() if k[1] != attr.value}  # (aliases)
                if isinstance(value, gast.Name) and value.id in local_names:
                    stored[(obj.id, attr.value)] = (value.id, s)
                continue
            if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
                if not _augassign_marker(s):  # (self.t += 1's note for the alias stage)
                    stored.clear()
                continue
            store = _call_stored(s, stored, partials)
            if store is not None:
                forwarded[id(store)] = store
            if may_change_state(s.value, {k[0] for k in stored}):
                stored.clear()
            else:
                v = s.value
                key = (v.value.id, v.attr) if isinstance(v, gast.Attribute) and \
                    isinstance(v.value, gast.Name) else None
                if key in stored:
                    source, store = stored[key]
                    s.value = name(source)
                    forwarded[id(store)] = store
                else:
                    substitute(v, stored)
            target = s.targets[0].id
            stored = {k: x for k, x in stored.items() if target not in (k[0], x[0])}
        if result is not None and stored and \
                not may_change_state(result.value, {k[0] for k in stored}):
            v = result.value
            if isinstance(v, gast.Attribute) and isinstance(v.value, gast.Name) and \
                    (v.value.id, v.attr) in stored:
                source, store = stored[(v.value.id, v.attr)]
                result.value = name(source)
                forwarded[id(store)] = store
            else:
                substitute(v, stored)

    ret = fdef.body[-1]
    block(fdef.body[:-1], ret if isinstance(ret, gast.Return) and ret.value is not None else None)
    fdef.body = _checked_whole_reads(parsed, fdef.body, resolver, runtime_name, local_names)
    for store in forwarded.values():
        obj, attr, value = store.value.args
        store.value = call(rt, [obj, attr, value,
                                gast.Constant(value=parsed.where(store), kind=None),
                                gast.Constant(value=parsed.line_text(store), kind=None),
                                gast.Constant(value=False, kind=None)])
    return fdef


def _augassign_marker(s):
    """Whether ``s`` is the statement normalize writes after an augmented assignment for the
    alias stage (``__sourcediff_augassign__(old, holder...)``), which that stage replaces or
    drops: it calls nothing and changes no attribute."""
    return isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and \
        isinstance(s.value.func, gast.Name) and s.value.func.id == ALIAS_MARKER


def _note_partial(s, partials):
    """Keep ``partials`` (a name -> the ``_sd_partial(fn, ...)`` call bound to it in this block,
    as normalize writes a lambda over locals) up to date past the statement ``s``."""
    if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
        v = s.value
        partials.pop(s.targets[0].id, None)
        if isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and \
                v.func.id == "_sd_partial" and v.args and \
                not any(isinstance(a, gast.Starred) for a in v.args) and \
                all(k.arg is not None for k in v.keywords):
            partials[s.targets[0].id] = v


def _call_stored(s, stored, partials):
    """``t = obj.fn(x)`` with ``obj.fn`` just stored (``HOLD.fn = lambda v: v * a``): the call
    made of the function stored itself (a lambda over locals called as normalize calls one,
    ``_lambda1(x, a=a)``); returns the store, or None when ``s`` is no such call."""
    f = getattr(s.value, "func", None)
    if not (isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and
            isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and
            (f.value.id, f.attr) in stored):
        return None
    source, store = stored[(f.value.id, f.attr)]
    made = partials.get(source)
    if made is not None:
        s.value = gast.Call(func=made.args[0], args=made.args[1:] + s.value.args,
                            keywords=made.keywords + s.value.keywords)
    else:
        s.value.func = gast.Name(id=source, ctx=gast.Load(), annotation=None, type_comment=None)
    return store


def _setattr(s, local_names):
    """``setattr(obj, name, v)`` as normalize writes ``obj.name = v``."""
    v = getattr(s, "value", None)
    return isinstance(s, gast.Expr) and isinstance(v, gast.Call) and \
        isinstance(v.func, gast.Name) and v.func.id == "setattr" and \
        "setattr" not in local_names and len(v.args) == 3


_WHOLE_READS = ("vars", "copy", "deepcopy")


def _whole_read(node, resolver):
    """The object node that ``node`` reads all the attributes of at once, bypassing attribute
    lookup (``vars(obj)``, ``obj.__dict__``, ``copy.copy(obj)``, ``copy.deepcopy(obj)``,
    ``obj.__getstate__()``), or None."""
    import builtins
    import copy

    if isinstance(node, gast.Attribute) and node.attr == "__dict__" and \
            isinstance(node.ctx, gast.Load):
        return node.value
    if not isinstance(node, gast.Call) or not node.args and not (
            isinstance(node.func, gast.Attribute) and node.func.attr == "__getstate__"):
        return None
    if isinstance(node.func, gast.Attribute) and node.func.attr == "__getstate__":
        return node.func.value
    if resolver.static_value(node.func) in (builtins.vars, copy.copy, copy.deepcopy):
        return node.args[0]
    return None


def _checked_whole_reads(parsed, stmts, resolver, runtime_name, local_names):
    """Before each statement that reads an object whole, ``_sd.check_whole_read(obj, ...)``: the
    guard of runtime/object_state.py sees reads by attribute only, and such a read would take a
    value a running gradient call stored there as a constant."""
    out = []
    for s in stmts:
        for field in ("body", "orelse"):
            if isinstance(getattr(s, field, None), list):
                setattr(s, field, _checked_whole_reads(parsed, getattr(s, field), resolver,
                                                       runtime_name, local_names))
        own = [n for n in walk(s) if not isinstance(n, (gast.If, gast.For, gast.While))] \
            if not isinstance(s, (gast.If, gast.For, gast.While)) else list(
                walk(getattr(s, "test", None) or getattr(s, "iter", None)))
        for n in own:
            obj = _whole_read(n, resolver)
            if isinstance(obj, gast.Name):
                check = call(gast.Attribute(value=gast.Name(
                    id=runtime_name, ctx=gast.Load(), annotation=None, type_comment=None),
                    attr="check_whole_read", ctx=gast.Load()), [
                    gast.Name(id=obj.id, ctx=gast.Load(), annotation=None, type_comment=None),
                    gast.Constant(value=parsed.where(s), kind=None),
                    gast.Constant(value=parsed.line_text(s), kind=None)])
                out.append(gast.copy_location(gast.Expr(value=check), s))
        out.append(s)
    return out
