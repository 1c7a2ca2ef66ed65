"""Resolve stage: bind every operation of the normalized function to the real Python object it calls.

Example: with ``import numpy as xnp`` in the user's module, ``_sin1 = xnp.sin(x)`` resolves to
``Op(kind="rule", key=numpy.sin, args=[x])`` and ``t = x.sum(axis=0)`` to the rule of
``numpy.ndarray.sum`` with the receiver as first argument.
"""

import builtins
import inspect
import operator
from dataclasses import dataclass, field

import gast
import numpy as np

from . import registry, runtime
from .normalize import call, const, load

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
    "nondiff" (declared non-differentiable), "container" (a tuple/list literal), "user" (a call to
    the user's own Python function), "unknown" (a callable with no rule).
    """

    kind: str
    key: object = None
    rule: object = None
    args: list = field(default_factory=list)
    keywords: dict = field(default_factory=dict)
    name: str = ""


class Resolver:
    """Looks names up the way the user's function would: closure, module globals, builtins."""

    def __init__(self, parsed, local_names):
        self.parsed = parsed
        self.locals = local_names
        self.globals = parsed.fn.__globals__

    def lookup(self, name):
        if name in self.parsed.env:
            return self.parsed.env[name]
        if name in self.globals:
            return self.globals[name]
        return getattr(builtins, name, _MISSING)

    def static_value(self, node):
        """The object a static reference (``np.linalg.norm``, ``math.pi``) denotes, or _MISSING."""
        if isinstance(node, gast.Name):
            if node.id in self.locals:
                return _MISSING
            return self.lookup(node.id)
        if isinstance(node, gast.Attribute):
            base = self.static_value(node.value)
            if base is _MISSING:
                return _MISSING
            return getattr(base, node.attr, _MISSING)
        return _MISSING

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
            return self.primitive(operator.getitem, [value.value, index_value(value.slice)], {})
        if isinstance(value, gast.Attribute):
            if not isinstance(value.value, gast.Name) or value.value.id not in self.locals:
                return Op("const", name=value.attr)
            key = getattr(np.ndarray, value.attr, None)
            if key is None:
                # not an array attribute: the field of a named tuple (np.linalg.eigh(a).eigenvalues)
                # carries its element's gradient; other objects refuse when a gradient reaches them
                return self.primitive(runtime.attribute, [value.value, const(value.attr)], {},
                                      name=f".{value.attr}")
            return self.primitive(key, [value.value], {}, name=f".{value.attr}")
        if isinstance(value, gast.Dict):
            return Op("container", args=list(value.values), keywords={"keys": list(value.keys)},
                      name="dict")
        if isinstance(value, gast.Call):
            return self.call(value)
        return Op("unknown", name=type(value).__name__)

    def call(self, node):
        func = node.func
        args = list(node.args)
        keywords = {k.arg: k.value for k in node.keywords}
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
                and (func.value.id in self.locals or  # (or a method of a global array)
                     isinstance(self.lookup(func.value.id), np.ndarray)):
            key = getattr(np.ndarray, func.attr, None)
            name = f".{func.attr}()"
            if key is None:
                return Op("unknown", key=func.attr, args=[func.value] + args, keywords=keywords,
                          name=name)
            return self.primitive(key, [func.value] + args, keywords, name=name)
        obj = self.static_value(func)
        name = gast.unparse(func) if not isinstance(func, gast.Name) else func.id
        if obj is _MISSING:
            return Op("unknown", args=args, keywords=keywords, name=name)
        return self.primitive(obj, args, keywords, name=name)

    def primitive(self, obj, args, keywords, name=None):
        obj = getattr(obj, "__sourcediff_compiled__", None) or obj  # a recursive call's stand-in
        name = name or getattr(obj, "__name__", repr(obj))
        rule = registry.lookup(obj)
        if rule is not None:
            return Op("rule", key=obj, rule=rule, args=args, keywords=keywords, name=name)
        if registry.is_nondiff(obj):
            return Op("nondiff", key=obj, args=args, keywords=keywords, name=name)
        if (inspect.isfunction(obj) or inspect.ismethod(obj)) and \
                getattr(obj, "__module__", None) != "sourcediff.runtime":
            return Op("user", key=obj, args=args, keywords=keywords, name=name)
        return Op("unknown", key=obj, args=args, keywords=keywords, name=name)


def index_value(index):
    """An index as a value expression: slices become ``slice(...)`` calls."""
    if isinstance(index, gast.Slice):
        parts = [const(None) if p is None else p for p in (index.lower, index.upper, index.step)]
        return call(load("slice"), parts)
    if isinstance(index, gast.Tuple):
        return gast.Tuple(elts=[index_value(e) for e in index.elts], ctx=gast.Load())
    return index
