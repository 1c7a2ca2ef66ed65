"""A namedtuple's ``_make`` and ``_replace`` and ``dataclasses.replace`` written as the
constructor calls they make, which compiler/constructors.py follows (they had no rule: refused by
name), where the class is known: ``P._make([W, b])`` is ``P(W, b)``; ``p._replace(W=W)`` and
``dataclasses.replace(p, W=W)`` are ``P(W=W, b=p.b)`` when every binding of ``p`` is a call of
``P`` (or such a replace of a name of that class).

Example::

    s = State(q, p)
    s = s._replace(q=s.q + 0.1 * s.p)

becomes::

    s = State(q, p)
    s = State(q=s.q + 0.1 * s.p, p=s.p)
"""

import dataclasses

import gast

from ..syntax import walk
from .constructors import plain_namedtuple
from .fence import static_object


def _named(cls):
    """A namedtuple class whose constructor is namedtuple's own (``_make`` and ``_replace``
    bypass a ``__new__`` a subclass writes: its call would not be the same)."""
    return plain_namedtuple(cls)


def _fields(cls):
    """The fields a replace passes to the constructor, or None for another class."""
    if _named(cls):
        return list(cls._fields)
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls) if f.init]
    return None


def _load(name):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


class _Replacer(gast.NodeTransformer):
    def __init__(self, parsed, local, env_name, classes):
        self.parsed, self.local, self.env_name, self.classes = parsed, local, env_name, classes
        self.changed = False

    def class_node(self, cls):
        return _load(self.env_name(cls))

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        if any(isinstance(a, gast.Starred) for a in node.args) or \
                any(k.arg is None for k in node.keywords):
            return node
        if isinstance(f, gast.Attribute) and f.attr == "_make" and len(node.args) == 1 and \
                not node.keywords and isinstance(node.args[0], (gast.List, gast.Tuple)):
            cls = static_object(self.parsed, f.value, self.local)
            if _named(cls) and len(node.args[0].elts) == len(cls._fields):
                self.changed = True
                return gast.copy_location(gast.Call(func=f.value, args=list(node.args[0].elts),
                                                    keywords=[]), node)
        obj = None
        if isinstance(f, gast.Attribute) and f.attr == "_replace" and not node.args and \
                isinstance(f.value, gast.Name):
            obj = f.value
        elif static_object(self.parsed, f, self.local) is dataclasses.replace and \
                len(node.args) == 1 and isinstance(node.args[0], gast.Name):
            obj = node.args[0]
        cls = self.classes.get(obj.id) if obj is not None else None
        fields = _fields(cls)
        given = {k.arg: k.value for k in node.keywords}
        if fields is None or not set(given) <= set(fields) or \
                (f.attr == "_replace" if isinstance(f, gast.Attribute) else False) != _named(cls):
            return node
        self.changed = True
        keywords = [gast.keyword(arg=name, value=given.get(name) or gast.Attribute(
            value=_load(obj.id), attr=name, ctx=gast.Load())) for name in fields]
        return gast.copy_location(gast.Call(func=self.class_node(cls), args=[],
                                            keywords=keywords), node)


def write_replaces(parsed, fdef, env_name):
    """Rewrite ``fdef`` in place (see the module's docstring); ``env_name(cls)`` binds a class
    in the function's environment and gives its name."""
    local = {n.id for n in walk(fdef) if isinstance(n, gast.Name) and
             isinstance(n.ctx, (gast.Store, gast.Param))}
    binds = {}
    for n in walk(fdef):
        if isinstance(n, gast.Assign):
            for t in n.targets:
                for x in walk(t):
                    if isinstance(x, gast.Name) and isinstance(x.ctx, gast.Store):
                        binds.setdefault(x.id, []).append(n.value if t is x else None)
        else:
            targets = [n.target] if isinstance(n, (gast.AugAssign, gast.AnnAssign, gast.For,
                                                   gast.comprehension, gast.NamedExpr)) else \
                [i.optional_vars for i in n.items if i.optional_vars is not None] \
                if isinstance(n, gast.With) else []
            for t in targets:
                for x in walk(t):
                    if isinstance(x, gast.Name) and isinstance(x.ctx, gast.Store):
                        binds.setdefault(x.id, []).append(None)
    params = {a.id for a in fdef.args.args + fdef.args.kwonlyargs}
    classes = {}
    for _ in range(3):  # (a name replaced from another one of the class)
        for name, values in binds.items():
            if name in params or name in classes:
                continue
            kinds = set()
            for v in values:
                if _replaces(parsed, v, local) == name:
                    continue  # (p = p._replace(...): of p's class, whatever it is)
                kinds.add(_class_of(parsed, v, local, classes))
            if len(kinds) == 1 and None not in kinds and _fields(next(iter(kinds))) is not None:
                classes[name] = next(iter(kinds))
    r = _Replacer(parsed, local, env_name, classes)
    fdef.body = [r.visit(s) for s in fdef.body]
    return r.changed


def _replaces(parsed, value, local):
    """The name ``value`` (``p._replace(...)``, ``dataclasses.replace(p, ...)``) replaces."""
    if not isinstance(value, gast.Call):
        return None
    f = value.func
    if isinstance(f, gast.Attribute) and f.attr == "_replace" and isinstance(f.value, gast.Name):
        return f.value.id
    if static_object(parsed, f, local) is dataclasses.replace and value.args and \
            isinstance(value.args[0], gast.Name):
        return value.args[0].id
    return None


def _class_of(parsed, value, local, classes):
    if not isinstance(value, gast.Call):
        return None
    f = value.func
    if isinstance(f, gast.Attribute) and f.attr == "_replace" and isinstance(f.value, gast.Name):
        return classes.get(f.value.id)
    if isinstance(f, gast.Attribute) and f.attr == "_make":
        cls = static_object(parsed, f.value, local)
        return cls if _named(cls) else None
    obj = static_object(parsed, f, local)
    if obj is dataclasses.replace and value.args and isinstance(value.args[0], gast.Name):
        return classes.get(value.args[0].id)
    return obj if _fields(obj) is not None else None
