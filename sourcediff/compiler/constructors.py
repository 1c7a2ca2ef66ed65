"""An object of the user's own class built inside the differentiated function from values that
carry derivatives (``dense = Dense(W, b)``, ``s = State(q, p)``, a dataclass of parameters).

Its methods and attribute reads already follow an object that carries derivatives (its gradient
is a GradDict, runtime/objects.py), so only the constructor needs a derivative: a constructor
whose ``__init__`` stores each such argument as it is (``self.W = W``, ``self.params = {"W": W}``,
``self.layers = [a, b]``, ``super().__init__(W)``), a dataclass's generated ``__init__`` and a
namedtuple's fields give each argument the gradient of the attribute holding it. This module
reads ``__init__`` (and the ``__init__`` of the bases it calls) and says, per parameter, where it
is stored, or where it is used otherwise (``self.var = sigma ** 2``): such an argument that carries
a derivative is refused at the call, naming that line.

Example: for ``class Dense: def __init__(self, W, b, act=None): self.W = W; self.p = {"b": b}``,
``stored_paths(Dense)`` is ``{"W": [("W",)], "b": [("p", "b")], "act": []}``.
"""

import builtins
import dataclasses
import inspect

import gast

from ..syntax import children, walk
from .parse import parse_function

_META = ("shape", "ndim", "dtype", "size")  # (p.shape: no derivative flows)
_cache = {}


def stored_paths(cls):
    """{parameter: [path, ...] | (where, line text)}: where ``cls``'s constructor stores each
    parameter as it is (a path of attribute names and container keys), or the first line that
    uses it otherwise (a derivative through that use is not followed)."""
    key = (cls, cls.__init__)  # (a class whose __init__ is replaced is read again)
    if key not in _cache:
        _cache[key] = _stored_paths(cls)
    return _cache[key]


def plain_namedtuple(cls):
    """A namedtuple class whose constructor is namedtuple's own: a subclass's ``__new__`` (or
    ``__init__``) may store other values in the fields than the arguments given."""
    if not (isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")):
        return False
    for k in cls.__mro__:
        if "_make" in vars(k):
            return True  # (the class namedtuple made)
        if "__new__" in vars(k) or "__init__" in vars(k):
            return False
    return False


def _stored_paths(cls):
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        if not plain_namedtuple(cls):
            where = f"{cls.__name__}.__new__"
            return {f: (where, "__new__ may change what the fields hold") for f in cls._fields}
        return {f: [(k,)] for k, f in enumerate(cls._fields)}
    if dataclasses.is_dataclass(cls) and "__init__" not in _own_inits(cls):
        out = {f.name: [(f.name,)] for f in dataclasses.fields(cls) if f.init}
        post = getattr(cls, "__post_init__", None)
        if post is not None:
            where = f"{cls.__name__}.__post_init__"
            out = {k: (where, "__post_init__ may change what the fields hold") for k in out}
        return out
    return _init_paths(cls, cls.__init__)


def _own_inits(cls):
    return {"__init__"} if "__init__" in vars(cls) and not dataclasses.is_dataclass(cls) else set()


def _init_paths(cls, init):
    if init is object.__init__:
        return {}
    parsed = parse_function(init)
    fdef = parsed.node
    params = [a.id for a in fdef.args.args[1:]] + [a.id for a in fdef.args.kwonlyargs]
    if fdef.args.vararg is not None:
        params.append(fdef.args.vararg.id)
    if fdef.args.kwarg is not None:
        params.append(fdef.args.kwarg.id)
    self_name = fdef.args.args[0].id if fdef.args.args else None
    out = {p: [] for p in params}
    parents = {}
    for node in walk(fdef):
        for child in children(node):
            parents[child] = node
    reads_self = next((n for n in walk(fdef) if isinstance(n, gast.Name) and
                       n.id == self_name and isinstance(n.ctx, gast.Load) and
                       not _stores_through(n, parents)), None)
    if reads_self is not None:
        # (self.cache = self.W * 2, self.reset(): what __init__ computes from what it stored is
        # not followed, so no argument is)
        stmt = reads_self
        while stmt in parents and not isinstance(stmt, gast.stmt):
            stmt = parents[stmt]
        return {p: (parsed.where(stmt), parsed.line_text(stmt)) for p in params}
    for node in walk(fdef):
        if not (isinstance(node, gast.Name) and node.id in out) or \
                isinstance(out[node.id], tuple) or node in (fdef.args.args + fdef.args.kwonlyargs):
            continue
        if node is fdef.args.vararg or node is fdef.args.kwarg:
            continue
        paths = _use(cls, init, node, parents, self_name)
        if paths is None:
            stmt = node
            while stmt in parents and not isinstance(stmt, gast.stmt):
                stmt = parents[stmt]
            out[node.id] = (parsed.where(stmt), parsed.line_text(stmt))
        else:
            out[node.id].extend(paths)
    return out


def _stores_through(node, parents):
    """Whether ``self`` here is only the object stored into (``self.W = W``)."""
    parent = parents.get(node)
    return isinstance(parent, gast.Attribute) and isinstance(parent.ctx, gast.Store)


def _use(cls, init, node, parents, self_name):
    """The paths one use of a parameter stores it at ([] for a use no derivative flows
    through), or None for a use that computes from it."""
    parent = parents.get(node)
    if isinstance(node.ctx, gast.Store):
        return None  # (rebinding it: W = np.asarray(W))
    if isinstance(parent, gast.Compare) or (isinstance(parent, (gast.If, gast.While, gast.IfExp))
                                             and parent.test is node):
        return []
    if isinstance(parent, gast.Attribute) and parent.attr in _META:
        return []
    if isinstance(parent, gast.Call) and isinstance(parent.func, gast.Name) and \
            parent.func.id in ("len", "isinstance", "callable", "type") and node in parent.args:
        return []
    key = ()
    holder = parent
    if isinstance(parent, gast.Tuple) and isinstance(parents.get(parent), gast.Assign) and \
            isinstance(parents[parent].targets[0], gast.Tuple):
        pass  # (self.k, self.c = k, c: below)
    elif isinstance(parent, (gast.List, gast.Tuple)) and node in parent.elts:
        key = (parent.elts.index(node),)
        holder = parents.get(parent)
    elif isinstance(parent, gast.Dict) and node in parent.values:
        k = parent.keys[parent.values.index(node)]
        if not isinstance(k, gast.Constant):
            return None
        key = (k.value,)
        holder = parents.get(parent)
    elif isinstance(parent, gast.Call) and isinstance(parent.func, gast.Name) and \
            parent.func.id in ("list", "tuple") and parent.args == [node]:
        holder = parents.get(parent)  # (self.layers = list(layers): a *args tuple's items)
    if not key and isinstance(parent, gast.Tuple) and node in parent.elts:
        # (self.k, self.c = k, c: each to its own target)
        holder = parents.get(parent)
        if isinstance(holder, gast.Assign) and len(holder.targets) == 1 and \
                isinstance(holder.targets[0], gast.Tuple) and \
                len(holder.targets[0].elts) == len(parent.elts):
            t = holder.targets[0].elts[parent.elts.index(node)]
            if isinstance(t, gast.Attribute) and isinstance(t.value, gast.Name) and \
                    t.value.id == self_name:
                return [(t.attr,)]
        return None
    if isinstance(holder, gast.Assign) and len(holder.targets) == 1:
        t = holder.targets[0]
        if isinstance(t, gast.Attribute) and isinstance(t.value, gast.Name) and \
                t.value.id == self_name:
            return [(t.attr,) + key]
        return None
    if not key and isinstance(parent, gast.Call) and node in parent.args:
        return _base_init(cls, init, parent, parent.args.index(node), self_name)
    return None


def _base_init(cls, init, call, position, self_name):
    """``super().__init__(W)`` or ``Base.__init__(self, W)``: the base constructor's paths for
    the parameter it binds at ``position`` of the call."""
    func = call.func
    if not (isinstance(func, gast.Attribute) and func.attr == "__init__"):
        return None
    base = None
    if isinstance(func.value, gast.Call) and isinstance(func.value.func, gast.Name) and \
            func.value.func.id == "super" and not func.value.args:
        defining = _defining_class(cls, init)
        mro = cls.__mro__
        for klass in mro[mro.index(defining) + 1:] if defining in mro else ():
            if "__init__" in vars(klass):
                base = klass
                break
        offset = 0
    elif isinstance(func.value, gast.Name) and call.args and \
            isinstance(call.args[0], gast.Name) and call.args[0].id == self_name:
        base = init.__globals__.get(func.value.id)
        offset = 1
    if not isinstance(base, type) or any(isinstance(a, gast.Starred) for a in call.args) or \
            call.keywords:
        return None
    if base is object:
        return None
    binit = vars(base)["__init__"]
    if not inspect.isfunction(binit):
        return None
    names = list(inspect.signature(binit).parameters)[1:]
    k = position - offset
    if not 0 <= k < len(names):
        return None
    found = _init_paths(base, binit).get(names[k])
    return found if isinstance(found, list) else None


def _defining_class(cls, init):
    for klass in cls.__mro__:
        if vars(klass).get("__init__") is init:
            return klass
    return cls


def sets_only_its_own(cls, depth=0):
    """Whether building a ``cls`` can set attributes of no object but the new one: a namedtuple,
    a dataclass without ``__post_init__``, or an ``__init__`` (and the base ``__init__`` it calls
    through ``super()``) whose calls are numpy's, builtins' or other such constructors'."""
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return True
    if dataclasses.is_dataclass(cls) and "__init__" not in _own_inits(cls):
        return getattr(cls, "__post_init__", None) is None
    init = cls.__init__
    if init is object.__init__:
        return True
    if not inspect.isfunction(init) or depth > 4:
        return False
    fdef = parse_function(init).node
    for n in walk(fdef):
        if isinstance(n, (gast.Global, gast.Nonlocal, gast.Subscript)) and \
                isinstance(getattr(n, "ctx", gast.Load()), (gast.Store, gast.Del)) or \
                isinstance(n, (gast.Global, gast.Nonlocal)):
            return False
        if isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Store) and not (
                isinstance(n.value, gast.Name) and fdef.args.args and
                n.value.id == fdef.args.args[0].id):
            return False
        if isinstance(n, gast.Call) and not _plain_call(cls, init, n, depth):
            return False
    return True


def _plain_call(cls, init, node, depth):
    func = node.func
    if isinstance(func, gast.Attribute) and func.attr == "__init__" and \
            isinstance(func.value, gast.Call) and isinstance(func.value.func, gast.Name) and \
            func.value.func.id == "super":
        defining = _defining_class(cls, init)
        mro = cls.__mro__
        for klass in mro[mro.index(defining) + 1:] if defining in mro else ():
            if "__init__" in vars(klass):
                return klass is object or sets_only_its_own(klass, depth + 1)
        return True
    if isinstance(func, gast.Name) and func.id == "super":
        return True
    root = func
    while isinstance(root, gast.Attribute):
        root = root.value
    if not isinstance(root, gast.Name):
        return False
    value = init.__globals__.get(root.id, getattr(builtins, root.id, None))
    if value is getattr(builtins, root.id, None) and root is func:
        return root.id in ("len", "isinstance", "list", "dict", "tuple", "float", "int", "range",
                           "zip", "enumerate", "min", "max", "abs", "sum", "bool", "str")
    module = getattr(value, "__name__", "") if inspect.ismodule(value) else ""
    if module.split(".")[0] == "numpy":
        return True
    return isinstance(value, type) and root is func and value.__init__ is object.__init__
