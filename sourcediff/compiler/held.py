"""What an object of the user's class holds in its attributes for good: the layer objects its
``__init__`` builds (``self.activation = Activation_ReLU()``, ``self.layers = [Dense(2, 8),
ReLU(), Dense(8, 1)]``) and no method of the class stores or changes again.

compiler/inline.py reads it to write a held object's methods into the caller as it does a local
object's (``self.activation.forward(z)`` in a layer's ``forward``, ``for layer in self.layers:
layer.forward(x); x = layer.output``), the attribute read once into a local of its own.

Example: for ``class Dense: def __init__(self, n): self.act = ReLU(); self.n = n``,
``held_objects(Dense)`` is ``{"act": ReLU}``; a list of such calls gives a list of classes.
"""

import inspect

import gast

from ..syntax import walk
from .fence import static_object
from .parse import parse_function
from .resolve import _library, constructible

_cache = {}


def held_objects(cls):
    """{attribute: class or [class, ...]} (see the module's docstring); {} when a method's source
    cannot be read or the class has its own attribute access."""
    key = (cls, tuple(vars(k).get("__init__") for k in cls.__mro__))
    if key not in _cache:
        try:
            _cache[key] = _held_objects(cls)
        except Exception:  # noqa: BLE001  (no source, a class sourcediff cannot read: nothing)
            _cache[key] = {}
    return _cache[key]


def user_class(cls):
    """A class of the user's whose calls are followed as constructors (not a tuple's)."""
    return isinstance(cls, type) and not _library(cls.__module__) and constructible(cls) and \
        not issubclass(cls, tuple)


def _held_objects(cls):
    if any(n in vars(k) for k in cls.__mro__[:-1]
           for n in ("__setattr__", "__getattr__", "__getattribute__", "__slots__")):
        return {}
    found, touched = {}, set()
    for klass in cls.__mro__[:-1]:
        for name, member in vars(klass).items():
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if isinstance(member, property):
                touched.add(name)  # (a property is no plain attribute)
                for f in (member.fget, member.fset):
                    if inspect.isfunction(f):
                        touched |= set().union(*_changed(parse_function(f).node))
                continue
            if not inspect.isfunction(member):
                continue
            parsed = parse_function(member)
            fdef = parsed.node
            direct, other = _changed(fdef)
            if name == "__init__" and klass is _first_init(cls):
                found = _init_stores(parsed, fdef)
                counts = {}
                me = _self_name(fdef)
                for n in walk(fdef):
                    if isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and \
                            n.value.id == me and not isinstance(n.ctx, gast.Load):
                        counts[n.attr] = counts.get(n.attr, 0) + 1
                direct = {a for a in direct if counts.get(a) != 1}  # (stored once, at the top)
            touched |= direct | other
    if "*" in touched:
        return {}
    return {a: s for a, s in found.items() if a not in touched and s is not None}


def _first_init(cls):
    """The class whose ``__init__`` an object of ``cls`` runs (a base's __init__ called from
    it through super() is not read: what it stores is not held)."""
    return next((k for k in cls.__mro__ if "__init__" in vars(k)), object)


def _self_name(fdef):
    return fdef.args.args[0].id if fdef.args.args else None


def _changed(fdef):
    """(attributes of self that ``fdef`` stores or deletes, ``self.a = v``; those it writes into
    or calls a method of, ``self.a[0] = v``, ``self.a.append(v)``, with "*" when self is passed
    on, ``helper(self)``, ``setattr(self, k, v)``)."""
    me = _self_name(fdef)
    direct, out = set(), set()
    for n in walk(fdef):
        if isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and n.value.id == me:
            if not isinstance(n.ctx, gast.Load):
                direct.add(n.attr)
        if isinstance(n, (gast.Subscript, gast.Attribute)) and not isinstance(n.ctx, gast.Load):
            root = n.value
            if isinstance(root, gast.Attribute) and isinstance(root.value, gast.Name) and \
                    root.value.id == me:
                out.add(root.attr)
        if isinstance(n, gast.Call):
            f = n.func
            if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Attribute) and \
                    isinstance(f.value.value, gast.Name) and f.value.value.id == me and \
                    f.attr in ("append", "extend", "insert", "pop", "remove", "clear",
                               "reverse", "sort", "__setitem__", "update", "setdefault"):
                out.add(f.value.attr)
            if any(isinstance(a, gast.Name) and a.id == me
                   for a in list(n.args) + [k.value for k in n.keywords]):
                out.add("*")
    return direct, out


def _init_stores(parsed, fdef):
    """{attribute: class | [classes] | None} for ``self.a = C(...)`` and ``self.a = [C(...),
    ...]`` at the top of ``__init__``'s body, also unpacked (``self.a, self.b = C(...), D(...)``
    stores as the two statements do); None for another value stored there."""
    me = _self_name(fdef)
    local = {n.id for n in walk(fdef) if isinstance(n, gast.Name) and
             isinstance(n.ctx, (gast.Store, gast.Param))}
    out = {}
    for s in fdef.body:
        if not (isinstance(s, gast.Assign) and len(s.targets) == 1):
            continue
        for t, v in _pairs(s.targets[0], s.value):
            if not (isinstance(t, gast.Attribute) and isinstance(t.value, gast.Name) and
                    t.value.id == me):
                continue
            calls = [v] if isinstance(v, gast.Call) else list(v.elts) \
                if isinstance(v, gast.List) else None
            classes = None if calls is None or not calls else [
                static_object(parsed, c.func, local) if isinstance(c, gast.Call) else None
                for c in calls]
            if classes is None or not all(user_class(c) for c in classes):
                out[t.attr] = None
            else:
                out[t.attr] = classes[0] if isinstance(v, gast.Call) else classes
    return out


def _pairs(target, value):
    """(target, value) pairs an assignment stores: one, or each item of ``a, b = c, d``."""
    seqs = (gast.Tuple, gast.List)
    if isinstance(target, seqs) and isinstance(value, seqs) and \
            len(target.elts) == len(value.elts) and \
            not any(isinstance(e, gast.Starred) for e in target.elts + value.elts):
        return list(zip(target.elts, value.elts))
    return [(target, value)]
