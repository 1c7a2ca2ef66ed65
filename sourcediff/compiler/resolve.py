"""Resolve stage: bind every operation of the normalized function to the real Python object it calls.

Example: with ``import numpy as xnp`` in the user's module, ``_sin1 = xnp.sin(x)`` resolves to
``Op(kind="rule", key=numpy.sin, args=[x])`` and ``t = x.sum(axis=0)`` to the rule of
``numpy.ndarray.sum`` with the receiver as first argument.
"""

import abc
import builtins
import functools
import inspect
import operator
import os
import sys
import sysconfig
import types
from dataclasses import dataclass, field

import gast
import numpy as np

from .. import runtime
from ..rules import registry
from ..runtime.dynamic import code_signature
from ..syntax import call, const, load, stored_attribute_names, walk

_BINOPS = {
    gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
    gast.Div: operator.truediv, gast.Pow: operator.pow, gast.MatMult: operator.matmul,
    gast.FloorDiv: operator.floordiv, gast.Mod: operator.mod, gast.BitAnd: operator.and_,
    gast.BitOr: operator.or_, gast.BitXor: operator.xor, gast.LShift: operator.lshift,
    gast.RShift: operator.rshift,
}
_UNARY = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_,
          gast.Invert: operator.invert}
_MISSING = object()


@dataclass
class Op:
    """What one normalized assignment computes.

    kind: "copy" (t = a), "const" (no derivative at all), "rule" (a primitive with a rule),
    "nondiff" (declared non-differentiable), "container" (a tuple/list literal, or a
    functools.partial binding values to a function named there: a closure), "user" (a call to
    the user's own Python function), "construct" (an object of the user's class built from its
    arguments: compiler/constructors.py), "unknown" (a callable with no rule).
    """

    kind: str
    key: object = None
    rule: object = None
    args: list = field(default_factory=list)
    keywords: dict = field(default_factory=dict)
    name: str = ""
    func: object = None  # the called expression when it is a value made at run time (g = make(a))
    binding: list = None  # kind "construct": [(parameter, argument syntax, index)] (constructors.py)


class MethodOf:
    """A method's function seen with the class of its receiver (``self.forward(x)`` in a method
    of ``Model`` calls ``Model.forward(self, x)``), so the method's own calls through ``self``
    resolve too; one per (function, class), compiled and cached like a function."""

    __slots__ = ("function", "cls", "__weakref__")

    def __init__(self, function, cls):
        self.function, self.cls = function, cls

    def __getattr__(self, name):  # __code__, __globals__, __name__, __qualname__, ...
        return getattr(self.function, name)

    @property
    def __signature__(self):
        return code_signature(self.function)

    def __call__(self, *args, **kwargs):
        return self.function(*args, **kwargs)

    def __repr__(self):
        return f"<method {self.cls.__name__}.{self.function.__name__}>"


_views = {}


def method_of(function, cls):
    """The interned :class:`MethodOf` for ``function`` on ``cls``."""
    key = (function, cls)
    view = _views.get(key)
    if view is None:
        view = _views[key] = MethodOf(function, cls)
    return view


def _python_method(cls, name):
    """``cls``'s attribute ``name`` when it is a plain function (a method defined in Python), or
    a staticmethod's function as (function, False); else None."""
    try:
        attr = inspect.getattr_static(cls, name)
    except AttributeError:
        return None
    if inspect.isfunction(attr):
        return attr, True
    if isinstance(attr, staticmethod) and inspect.isfunction(attr.__func__):
        return attr.__func__, False
    return None


def _super_names(parsed, self_class, fdef):
    """{name: (the receiver's class, the class the method is defined in)} for the locals
    ``fdef`` (the normalized method) binds to ``super()`` (no arguments), in a method whose
    receiver's class is known."""
    fn = getattr(parsed.fn, "__code__", None) and parsed.fn
    if self_class is None or fn is None or "__class__" not in fn.__code__.co_freevars or \
            not parsed.node.args.args:
        return {}
    defining = fn.__closure__[fn.__code__.co_freevars.index("__class__")].cell_contents
    out = {}
    for n in walk(fdef):
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and \
                isinstance(n.targets[0], gast.Name) and isinstance(n.value, gast.Call) and \
                isinstance(n.value.func, gast.Name) and n.value.func.id == "super" and \
                not n.value.args and not n.value.keywords:
            out[n.targets[0].id] = (self_class, defining)
    return out


def _super_method(cls, defining, name):
    """The plain function ``super(defining, obj).name`` finds for an instance of ``cls``, or
    None (an attribute of another kind, or none)."""
    mro = cls.__mro__
    if defining not in mro:
        return None
    for klass in mro[mro.index(defining) + 1:]:
        if name in vars(klass):
            attr = vars(klass)[name]
            return attr if inspect.isfunction(attr) else None
    return None


class Resolver:
    """Looks names up the way the user's function would: closure, module globals, builtins."""

    def __init__(self, parsed, local_names):
        self.parsed = parsed
        self.locals = local_names
        self.globals = parsed.fn.__globals__
        # module globals resolved to functions: name -> object (and the helpers inline.py
        # wrote in: checked on entry all the same)
        self.resolved = dict(getattr(parsed, "inlined_functions", {}))
        # methods resolved in a class (the receiver's, or a callable object's __call__):
        # (class, name) -> (the class attribute, whether it was called through self)
        self.methods = dict(getattr(parsed, "inlined", {}))  # (and those inline.py wrote in)
        # functions read as attributes of a module of the user's (cfg.act(x)): (module name,
        # attribute) -> (the module's dict, attribute, object), checked on entry as well
        self.module_attributes = {("", name): (self.globals, name, obj) for name, obj in
                                  getattr(parsed, "global_objects", {}).items()}
        self.aliases = _static_aliases(parsed.node, local_names)
        # attribute names the function stores on some object (obj.fn = f, setattr(o, "fn", f)):
        # read off an object, what they hold now is no static value
        self.stored_attributes = stored_attribute_names(parsed.node)
        # the receiver of a method: self.forward(x) resolves in its class
        self.receivers = {}
        self_class = getattr(parsed, "self_class", None)
        if self_class is not None and parsed.node.args.args:
            self.receivers[parsed.node.args.args[0].id] = self_class
        # s = super() in a method of a known class: s.forward(x) resolves past the method's class
        # (found in the normalized body: see note_supers)
        self.supers = {}

    def note_supers(self, fdef):
        """Find the locals the normalized function ``fdef`` binds to ``super()``, and those it
        binds once to an object of a class of the user's (``dense = Dense(W, b)``): their
        methods and properties resolve in that class, as self's do."""
        self.supers = _super_names(self.parsed, getattr(self.parsed, "self_class", None), fdef)
        binds = {}
        for n in walk(fdef):
            if isinstance(n, (gast.For, gast.comprehension)):
                for t in walk(n.target):
                    if isinstance(t, gast.Name):
                        binds[t.id] = None
            if isinstance(n, gast.Assign):
                for target in n.targets:
                    for t in walk(target):
                        if isinstance(t, gast.Name) and isinstance(t.ctx, gast.Store):
                            cls = self.static_value(n.value.func) if isinstance(
                                n.value, gast.Call) and target is t else None
                            binds[t.id] = None if t.id in binds else (cls, n)
            elif isinstance(n, (gast.AugAssign, gast.AnnAssign, gast.NamedExpr)):
                if isinstance(n.target, gast.Name):
                    binds[n.target.id] = None
        for name, found in binds.items():
            cls = found[0] if found is not None else None
            if name not in self.receivers and isinstance(cls, type) and \
                    not _library(cls.__module__) and constructible(cls) and \
                    not issubclass(cls, tuple):
                self.receivers[name] = cls

    def lookup(self, name):
        if name in self.parsed.env:
            return self.parsed.env[name]
        if name in self.globals:
            value = self.globals[name]
            if callable(value) and not isinstance(value, types.ModuleType):
                # (what the derivative is built for: api's entry checks it is still the one)
                self.resolved[name] = value
            return value
        return getattr(builtins, name, _MISSING)

    def static_value(self, node):
        """The object a static reference (``np.linalg.norm``, ``math.pi``) denotes, or _MISSING."""
        if isinstance(node, gast.Name):
            if node.id in self.locals:
                return _MISSING
            return self.lookup(node.id)
        if isinstance(node, gast.Attribute):
            base = self.static_value(node.value)
            if base is _MISSING or node.attr in self.stored_attributes and \
                    not isinstance(base, (types.ModuleType, type)):
                return _MISSING  # (HOLD.fn = np.cos; HOLD.fn(x): not what HOLD.fn held here)
            value = getattr(base, node.attr, _MISSING)
            if isinstance(base, types.ModuleType) and callable(value) and \
                    not _library(base.__name__):
                self.module_attributes[(base.__name__, node.attr)] = (vars(base), node.attr, value)
            elif callable(value) and not isinstance(base, types.ModuleType) and (
                    not _library(base.__module__ if isinstance(base, type) else
                                 type(base).__module__) or
                    node.attr in (getattr(base, "__dict__", None) or ())):
                # (Model.act(self, x), S.square(x), model.act(x) for a model held in a global or
                # the closure: a class's or an object's function, checked like a method; and
                # the global that holds the object. An object of a library's class too when the
                # function is its own attribute: cfg.act of a types.SimpleNamespace is rebound
                # as easily as a model's)
                self._record_path(node, base)
            return value
        return _MISSING

    def _record_path(self, node, base):
        """Record, for the check on entry, the objects on the way to ``node`` (an attribute of
        ``base``, an object): each object's attribute as stored, and the global at the root."""
        while True:
            stored = inspect.getattr_static(base, node.attr, _MISSING)
            if stored is not _MISSING:  # (not one that __getattr__ makes)
                self.methods.setdefault((_key(base), node.attr), (stored, False))
            node = node.value
            if isinstance(node, gast.Name):
                if node.id not in self.parsed.env and node.id in self.globals:
                    self.module_attributes[("", node.id)] = (self.globals, node.id, base)
                return
            if not isinstance(node, gast.Attribute):
                return
            base = self.static_value(node.value)
            if isinstance(base, types.ModuleType):
                self.module_attributes[(base.__name__, node.attr)] = (
                    vars(base), node.attr, getattr(base, node.attr, _MISSING))
                return

    def method_items(self):
        """The methods and attributes resolved in a class or an object, as (class or object,
        name, attribute, through self)."""
        return tuple((cls.obj if type(cls) is _ByIdentity else cls, name) + found
                     for (cls, name), found in self.methods.items())

    def op(self, value):
        """The :class:`Op` for the right-hand side of a normalized assignment."""
        if isinstance(value, gast.Name):
            if value.id in self.locals:
                return Op("copy", args=[value], name="copy")
            return Op("const", name=value.id)
        if isinstance(value, gast.Constant):
            return Op("const", name="constant")
        if isinstance(value, (gast.Tuple, gast.List)):
            return Op("container", args=list(value.elts), name=type(value).__name__.lower())
        if isinstance(value, gast.BinOp):
            return self.primitive(_BINOPS[type(value.op)], [value.left, value.right], {})
        if isinstance(value, gast.UnaryOp):
            return self.primitive(_UNARY[type(value.op)], [value.operand], {})
        if isinstance(value, (gast.Compare, gast.BoolOp, gast.JoinedStr)):
            return Op("nondiff", name="comparison")
        if isinstance(value, gast.Subscript):
            maker = self.static_value(value.value)
            if maker is not _MISSING and registry.lookup(maker) is not None:
                # np.r_[x, 2.0], np.c_[a, b]: the "index" is the data (a rule per item)
                items = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
                return self.primitive(maker, [index_value(e) for e in items], {},
                                      name=gast.unparse(value.value))
            return self.primitive(operator.getitem, [value.value, index_value(value.slice)], {})
        if isinstance(value, gast.Attribute):
            if not isinstance(value.value, gast.Name) or value.value.id not in self.locals:
                return Op("const", name=value.attr)
            getter = self.property_getter(value)
            if getter is not None:  # self.weight, a property: its getter, called on self
                return Op("user", key=getter, args=[value.value], keywords={},
                          name=f"{value.value.id}.{value.attr}")
            key = None if value.attr.startswith("__") or not self.array_attribute(value) \
                else getattr(np.ndarray, value.attr, None)
            if key is None:  # a field of a namedtuple or an object: p.W carries p's derivative
                return self.primitive(runtime.get_attribute, [value.value, const(value.attr)], {},
                                      name=f".{value.attr}")
            return self.primitive(key, [value.value], {}, name=f".{value.attr}")
        if isinstance(value, gast.Dict):
            return Op("container", args=list(value.values), keywords={"keys": list(value.keys)},
                      name="dict")
        if isinstance(value, gast.Call):
            return self.call(value)
        return Op("unknown", name=type(value).__name__)

    def array_attribute(self, value):
        """Whether ``x.name`` (not called) may be an array's own attribute (``x.T``, ``x.real``),
        read through that attribute's rule: not a method of ndarray's (``self.mean``, ``self.std``
        read without a call are an object's stored values: an array's would be a bound method),
        nor any name read through ``self`` in a method of a class that is no ndarray
        (``self.T``, a temperature)."""
        if not isinstance(vars(np.ndarray).get(value.attr), types.GetSetDescriptorType):
            return False
        cls = self.receivers.get(value.value.id)
        return cls is None or issubclass(cls, np.ndarray)

    def property_getter(self, value):
        """``self.weight`` read in a method of a class whose ``weight`` is a property with a
        Python getter: that getter seen with the receiver's class (a MethodOf), else None."""
        cls = self.receivers.get(value.value.id)
        if cls is None:
            return None
        try:
            prop = inspect.getattr_static(cls, value.attr)
        except AttributeError:
            return None
        if not isinstance(prop, property) or not inspect.isfunction(prop.fget):
            return None
        self.methods[(cls, value.attr)] = (prop, True)  # (the entry checks it is still there)
        return method_of(prop.fget, cls)

    def call(self, node):
        func = node.func
        args = list(node.args)
        keywords = {k.arg: k.value for k in node.keywords}
        spread = [k.value for k in node.keywords if k.arg is None]
        if len(spread) > 1:  # (f(**d, **e): every dict's names flow into the call, not the last's)
            keywords[None] = gast.Tuple(elts=spread, ctx=gast.Load())
            keywords[None].sd_spread = True  # (messages show it as written: syntax.spread_text)
        if isinstance(func, gast.Name) and func.id == "super" and not args and not keywords \
                and self.lookup("super") is builtins.super and self.parsed.node.args.args:
            # super(): self seen from the next class, carrying self's derivative (its methods
            # called on a model are followed with the model active, runtime.dynamic)
            self_name = self.parsed.node.args.args[0].id
            return Op("copy", args=[gast.Name(id=self_name, ctx=gast.Load(), annotation=None,
                                              type_comment=None)], name="super")
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
                and func.value.id in self.supers:
            # super().forward(x): Base.forward(self, x), self carrying its derivative through
            # (a call of the super object's method would hold self out of sight)
            found = _super_method(*self.supers[func.value.id], func.attr)
            if found is not None:
                self_name = self.parsed.node.args.args[0].id
                return Op("user", key=method_of(found, self.receivers[self_name]),
                          args=[gast.Name(id=self_name, ctx=gast.Load(), annotation=None,
                                          type_comment=None)] + args,
                          keywords=keywords, name=f"super().{func.attr}")
        # self.forward(x), and self(x) as self.__call__(x): a method of the receiver's class,
        # known here (self(x) was a call known at run time only, with no second derivative)
        receiver, attr = (func.value, func.attr) if isinstance(func, gast.Attribute) else \
            (func, "__call__")
        if isinstance(receiver, gast.Name) and receiver.id in self.receivers:
            found = _python_method(self.receivers[receiver.id], attr)
            if found is not None:
                function, bound = found
                cls = self.receivers[receiver.id]
                # (what the derivative is built for: the entry checks the class still has it)
                self.methods[(cls, attr)] = (inspect.getattr_static(cls, attr), True)
                return Op("user", key=method_of(function, cls) if bound else function,
                          args=([receiver] if bound else []) + args, keywords=keywords,
                          name=f"{receiver.id}.{attr}" if receiver is not func else receiver.id)
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
                and (func.value.id in self.locals or  # (or a method of a global array)
                     isinstance(self.lookup(func.value.id), np.ndarray)):
            key = getattr(np.ndarray, func.attr, None)
            name = f".{func.attr}()"
            if key is None and func.attr in _DICT_METHODS and not args and not keywords:
                # params.items(), d.values(): read as lists, their rules check for a dict
                return self.primitive(getattr(runtime, _DICT_METHODS[func.attr]),
                                      [func.value] + args, keywords, name=name)
            if key is None and func.attr == "get" and 1 <= len(args) <= 2 and not keywords:
                # bn_param.get("eps", 1e-5): d[k] if k in d else default (its rule: a dict's)
                return self.primitive(runtime.dict_get, [func.value] + args, keywords, name=name)
            if key is None:
                return Op("unknown", key=func.attr, args=[func.value] + args, keywords=keywords,
                          name=name)
            return self.primitive(key, [func.value] + args, keywords, name=name)
        obj = self.static_value(func)
        if isinstance(func, gast.Name) and func.id in self.aliases:  # tanh = np.tanh; tanh(x)
            obj = self.static_value(self.aliases[func.id])
        name = gast.unparse(func) if not isinstance(func, gast.Name) else func.id
        if obj is _MISSING:
            return Op("unknown", args=args, keywords=keywords, name=name, func=func)
        if obj is np.vectorize and len(node.args) == 1 and not node.keywords and \
                not isinstance(node.args[0], gast.Starred):
            # (np.vectorize(g) of a closure g: a value holding g, its cotangent g's)
            return Op("container", args=args, name="vectorize",
                      keywords={"keys": [const("pyfunc")]})
        if obj is functools.partial and self.bound_function(node):
            # (a lifted inner function or lambda bound to what it reads, a user's partial: a
            # value holding those values, its cotangent theirs keyed by position and keyword)
            return Op("container", args=args[1:] + list(keywords.values()), name="closure",
                      keywords={"keys": [const(k) for k in range(len(args) - 1)] +
                                [const(k) for k in keywords]})
        return self.primitive(obj, args, keywords, name=name, func=func)

    def bound_function(self, node):
        """Whether ``functools.partial(f, *a, **k)`` binds values to a function known here (a
        module-level or lifted function, a primitive), each argument written out: the values
        bound carry their derivatives into it (runtime.dynamic's closure calls)."""
        return bool(node.args) and not isinstance(node.args[0], gast.Starred) and \
            not (_names_in_node(node.args[0]) & self.locals) and \
            not any(isinstance(a, gast.Starred) for a in node.args) and \
            all(k.arg is not None for k in node.keywords)

    def primitive(self, obj, args, keywords, name=None, func=None):
        obj = getattr(obj, "__sourcediff_compiled__", None) or obj  # a recursive call's stand-in
        name = name or getattr(obj, "__name__", repr(obj))
        rule = registry.lookup(obj)
        if rule is not None:
            return Op("rule", key=obj, rule=rule, args=args, keywords=keywords, name=name)
        if registry.is_nondiff(obj):
            return Op("nondiff", key=obj, args=args, keywords=keywords, name=name)
        written = registry.written_as(obj)
        if written is not None:  # (np.corrcoef: differentiated as runtime.corrcoef's source)
            return Op("user", key=written, args=args, keywords=keywords, name=name)
        if (inspect.isfunction(obj) or inspect.ismethod(obj) or isinstance(obj, MethodOf)) and \
                (not _library(getattr(obj, "__module__", None)) or runtime_helper(obj)):
            # (a helper of sourcediff's runtime without a rule of its own, met where generated
            # code is differentiated again: its source is differentiated like the user's)
            return Op("user", key=obj, args=args, keywords=keywords, name=name)
        if isinstance(obj, np.vectorize) and func is not None:
            # (np.vectorize(f): the scalar f's derivative element by element, at run time)
            return Op("unknown", args=args, keywords=keywords, name=name, func=func)
        if isinstance(obj, type) and not _library(obj.__module__) and constructible(obj):
            # Dense(W, b), State(q, p): an object of the user's class holding its arguments
            binding = bind_arguments(obj, args, keywords)
            if binding is not None:
                # (what the derivative is built for: the entry checks __init__ is still it)
                self.methods[(obj, "__init__")] = (inspect.getattr_static(obj, "__init__"), False)
                return Op("construct", key=obj, args=[node for _, node, _ in binding],
                          name=name, func=func, binding=binding)
        call = None if isinstance(obj, type) or inspect.isroutine(obj) else \
            _python_method(type(obj), "__call__")
        if call is not None and call[1] and not _library(type(obj).__module__):
            # an object with a __call__ written in Python (an activation, a loss object)
            self.methods[(type(obj), "__call__")] = (inspect.getattr_static(type(obj),
                                                                             "__call__"), False)
            return Op("user", key=obj.__call__, args=args, keywords=keywords, name=name)
        return Op("unknown", key=obj, args=args, keywords=keywords, name=name)


def _names_in_node(node):
    """The names ``node`` reads."""
    return {n.id for n in walk(node) if isinstance(n, gast.Name)}


def local_array_method(op):
    """Whether ``op`` is ``v.method(...)`` on a local name read as the ndarray method (the
    resolver names those ``.method()``): the name may hold a module or another object at run
    time (``xp.sum(x)`` with ``xp=np`` a parameter)."""
    return op.kind == "rule" and isinstance(op.name, str) and op.name.startswith(".") and \
        op.name.endswith("()") and op.args and isinstance(op.args[0], gast.Name) and \
        getattr(op.key, "__objclass__", None) is np.ndarray and \
        op.name[1:-2] not in _FLOAT_INDEX_METHODS


# (ndarray methods whose arguments without a derivative take float values of their own)
_FLOAT_INDEX_METHODS = frozenset({"searchsorted", "fill", "put", "itemset", "choose"})


def _static_aliases(fdef, local_names):
    """Locals bound once, to a module-level function or attribute (``tanh = np.tanh``, ``pi, sqrt
    = np.pi, np.sqrt``): a call through one resolves like a call of what it names."""
    stores = {}
    for n in walk(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param)):
            stores[n.id] = stores.get(n.id, 0) + 1
    pairs = []
    for n in walk(fdef):
        if isinstance(n, gast.Assign) and len(n.targets) == 1:
            target, value = n.targets[0], n.value
            if isinstance(target, gast.Tuple) and isinstance(value, gast.Tuple) and \
                    len(target.elts) == len(value.elts):
                pairs.extend(zip(target.elts, value.elts))
            else:
                pairs.append((target, value))

    def static(node):
        if isinstance(node, gast.Name):  # (a name the function binds is its own: an inner
            return node.id not in local_names and node.id not in stores  # def, a lambda)
        return isinstance(node, gast.Attribute) and static(node.value)

    return {t.id: v for t, v in pairs if isinstance(t, gast.Name) and stores.get(t.id) == 1
            and static(v)}


_LIBRARIES = ("numpy", "scipy", "sourcediff.runtime")

_STDLIB = frozenset(sys.stdlib_module_names) - {"__main__"}
_STDLIB_DIR = os.path.realpath(sysconfig.get_paths()["stdlib"])

# methods of a dict read through runtime primitives with rules (ndarray has none of these names)
_DICT_METHODS = {"items": "dict_items", "values": "dict_values", "keys": "dict_keys"}


def runtime_helper(obj):
    """Whether ``obj`` is a Python function of sourcediff's runtime (``_sd.interp_grads``): the
    rules call them, and where one has no rule its source is differentiated as the user's is (the
    gradient of generated code, a second derivative)."""
    module = getattr(obj, "__module__", None) or ""
    return inspect.isfunction(obj) and obj.__name__ not in _CALLS_AT_RUN_TIME and (
        module == "sourcediff.runtime" or module in _PURE_RUNTIME)


# (the runtime's modules of helpers that write into nothing: their private functions keep their
# module's name; object_state's and dynamic's helpers are not differentiated from their source)
_PURE_RUNTIME = frozenset(f"sourcediff.runtime.{m}" for m in (
    "accumulate", "checks", "elementwise", "grads", "indexing", "linalg", "loops", "moves",
    "products", "scipy_grads", "sequences", "shapes", "statistics", "stats", "written"))


# (the runtime's calls of a function known only at run time: refused at second order with their
# own message, analysis.no_rule_message)
_CALLS_AT_RUN_TIME = frozenset({"dynamic_fwd", "dynamic_bwd", "dynamic_jvp", "star_fwd",
                                "star_bwd", "star_jvp"})


class _ByIdentity:
    """An object as a dict key by its identity (a types.SimpleNamespace or a dataclass instance
    compares by value and has no hash)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __hash__(self):
        return id(self.obj)

    def __eq__(self, other):
        return type(other) is _ByIdentity and other.obj is self.obj


def _key(obj):
    """``obj`` as a key of Resolver.methods."""
    try:
        hash(obj)
    except TypeError:
        return _ByIdentity(obj)
    return obj


def _library(module):
    """True for numpy's, scipy's and Python's standard library's own functions: their source is
    not transformed (it uses out=, in-place writes, C calls, id() and type()); without a rule they
    are refused by name."""
    if not module:
        return False
    return any(module == lib or module.startswith(lib + ".") for lib in _LIBRARIES) or \
        _stdlib(module.split(".")[0])


def _stdlib(top):
    """Whether the module ``top`` is Python's own (by name, and by where it was loaded from: a
    user's file named test.py or code.py is not)."""
    if top not in _STDLIB:
        return False
    path = getattr(sys.modules.get(top), "__file__", None)
    return path is None or os.path.realpath(path).startswith(_STDLIB_DIR)


def constructible(cls):
    """Whether calls of the class ``cls`` are followed as constructors (compiler/constructors.py):
    a namedtuple, a dataclass, or a class whose ``__new__`` is object's and whose ``__init__`` is
    Python."""
    if not isinstance(cls, type):
        return False
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return True
    if cls.__new__ is not object.__new__ or type(cls) not in (type, abc.ABCMeta):
        return False
    init = cls.__init__
    return init is object.__init__ or inspect.isfunction(init)


def bind_arguments(cls, args, keywords):
    """[(parameter name, node, index within a *parameter or None)] for a call ``cls(*args,
    **keywords)`` (nodes: the call's argument syntax), or None when it cannot be bound where
    it compiles (a starred argument, a signature that does not take them)."""
    if any(isinstance(a, gast.Starred) for a in args) or None in keywords:
        return None
    try:
        sig = inspect.signature(cls)
        bound = sig.bind(*range(len(args)), **{k: ("kw", k) for k in keywords})
    except (TypeError, ValueError):
        return None
    out = []
    for name, value in bound.arguments.items():
        kind = sig.parameters[name].kind
        if kind == inspect.Parameter.VAR_POSITIONAL:
            out.extend((name, args[v], i) for i, v in enumerate(value))
        elif kind == inspect.Parameter.VAR_KEYWORD:
            out.extend((name, keywords[v[1]], v[1]) for v in value.values())
        else:
            out.append((name, args[value] if isinstance(value, int) else keywords[value[1]], None))
    return out


def index_value(index):
    """An index as a value expression: slices become ``slice(...)`` calls."""
    if isinstance(index, gast.Slice):
        parts = [const(None) if p is None else p for p in (index.lower, index.upper, index.step)]
        return call(load("slice"), parts)
    if isinstance(index, gast.Tuple):
        return gast.Tuple(elts=[index_value(e) for e in index.elts], ctx=gast.Load())
    return index


def user_op(call_node, resolver):
    """The resolved call of one of the user's functions (a method through self), or None."""
    try:
        op = resolver.op(call_node)
    except Exception:  # noqa: BLE001  (resolution errors are reported by later stages)
        return None
    return op if op.kind == "user" and (inspect.isfunction(op.key) or
                                        isinstance(op.key, MethodOf)) else None
