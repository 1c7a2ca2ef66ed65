"""An object built inside the function and used only through its attributes once its methods
are written in (compiler/inline.py) has each attribute become a local of its own: a state object
(filterpy's ``kf.predict(); kf.update(z)`` in a loop, a simulation's ``sim.step(dt)``, an
optimizer's moments) then carries its state in plain locals, which every mode follows through
loops and branches, where a store on the object read back in a later pass was refused.

An object qualifies when its name is bound once, to a call of its class, and every other use of
the name is an attribute read or store (``o.x``, ``o.x = v``, ``o.x[i] = v``) of a plain
attribute: no call of a method left (each was written in), no ``o`` passed on, returned or
stored, no property or other descriptor, no ``__getattr__``/``__setattr__``/``__slots__`` of the
class. Its ``__init__`` is written in too where it can be (the object is then not built at
all: its attributes are the locals ``__init__`` assigns); else the attributes are read into
their locals after it is built. A class's own value (``eps = 1e-5`` in the class body) read
through the object is read from the class.

A global object of the user's class (an RNN cell stepped inside the loss, ``CELL.h =
np.tanh(CELL.h @ CELL.W + x)`` in a loop) is made locals the same way when the function stores an
attribute of it and reads one back, and calls no code of the user's that could see the object
meanwhile: its attributes are read at the start and those stored written back to it before every
return (``write_back_at_exits``), so it holds afterwards what Python would have left there.

Example::

    kf = Filter(q)              # def __init__(self, q): self.x = 0.0; self.q = q
    for z in zs:
        kf.x = kf.x + kf.q * z  # (after inline.py)
    return kf.x

becomes::

    _kf_x = 0.0
    _kf_q = q
    for z in zs:
        _kf_x = _kf_x + _kf_q * z
    return _kf_x
"""


import gast
import numpy as np

from ..runtime import unwatched_class_entry
from .fence import static_object
from .resolve import _library

from ..syntax import children, walk

_PLAIN = (int, float, complex, str, bool, bytes, type(None))


def scalarizable(cls):
    """Whether objects of ``cls`` may have their attributes made locals (no attribute hooks)."""
    return not any(n in vars(k) for k in cls.__mro__[:-1]
                   for n in ("__setattr__", "__getattr__", "__getattribute__", "__slots__",
                             "__delattr__"))


def attribute_uses(body, name, binding, cls=None):
    """{attribute: (loaded, stored)} for every use ``name.attr`` in ``body``, or None when
    ``name`` is used otherwise (passed on, called, rebound) than by the statement ``binding``.
    A call of an attribute the class ``cls`` has nothing under (``self.fn(x)`` for a function
    ``__init__`` stored) reads that attribute, then calls what it holds."""
    parents = {}
    root = gast.Module(body=body, type_ignores=[])
    for n in walk(root):
        for c in children(n):
            parents[c] = n
    out = {}
    for n in walk(root):
        if not (isinstance(n, gast.Name) and n.id == name):
            continue
        parent = parents.get(n)
        if parent is binding:
            continue
        if not isinstance(parent, gast.Attribute) or parent.value is not n:
            return None
        grand = parents.get(parent)
        if isinstance(grand, gast.Call) and grand.func is parent and \
                (cls is None or class_value(cls, parent.attr) != (False, None)):
            return None  # (a method left as a call)
        if isinstance(parent.ctx, gast.Del):
            return None
        loaded, stored = out.get(parent.attr, (False, False))
        out[parent.attr] = (loaded or isinstance(parent.ctx, gast.Load),
                            stored or isinstance(parent.ctx, gast.Store))
    return out


def class_value(cls, attr):
    """(True, value) for a plain value ``cls`` holds (a number in the class body), (False,
    None) for no such attribute; None for a descriptor (a method, a property)."""
    try:
        v = unwatched_class_entry(cls, attr)  # (a watch a gradient call left: runtime)
    except AttributeError:
        return False, None
    if isinstance(v, _PLAIN) or (isinstance(v, (tuple, frozenset)) and
                                 all(isinstance(x, _PLAIN) for x in v)):
        return True, v
    return None


class _ToLocals(gast.NodeTransformer):
    def __init__(self, name, names):
        self.name, self.names = name, names

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if isinstance(node.value, gast.Name) and node.value.id == self.name and \
                node.attr in self.names:
            return gast.copy_location(gast.Name(id=self.names[node.attr], ctx=node.ctx,
                                                annotation=None, type_comment=None), node)
        return node


def to_locals(body, name, names):
    """``body`` with ``name.attr`` the local ``names[attr]`` (reads and stores)."""
    t = _ToLocals(name, names)
    return [t.visit(s) for s in body]


def replace_statement(body, old, new):
    """``body`` (a statement list, nested blocks too) with the statement ``old`` replaced by the
    statements ``new``; in place, returns whether it was found."""
    for k, st in enumerate(body):
        if st is old:
            body[k:k + 1] = new
            return True
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(st, field, None)
            if isinstance(inner, list) and replace_statement(inner, old, new):
                return True
        for h in getattr(st, "handlers", ()) or ():
            if replace_statement(h.body, old, new):
                return True
    return False


def binding_of(body, name):
    """The statement ``name = C(...)`` binding ``name`` in ``body``, or None."""
    for st in walk(gast.Module(body=body, type_ignores=[])):
        if isinstance(st, gast.Assign) and len(st.targets) == 1 and \
                isinstance(st.targets[0], gast.Name) and st.targets[0].id == name and \
                isinstance(st.value, gast.Call):
            return st
    return None


def write_back_at_exits(body, back, result):
    """``body`` (a function's) with the statements ``back(return statement)`` before each
    ``return e`` (as ``result = e; ...; return result``, ``e`` evaluated first), each ``raise``
    and at its end when it may run off it: what a global object's attributes made locals write
    back. (An exception raised by a call, numpy's, leaves the object as it was on entry.)"""
    def block(stmts):
        out = []
        for st in stmts:
            if isinstance(st, gast.Raise):  # (the state so far, as Python leaves it there)
                out.extend(back(st))
                out.append(st)
                continue
            if isinstance(st, gast.Return):
                if st.value is not None:
                    out.append(gast.copy_location(gast.Assign(
                        targets=[gast.Name(id=result, ctx=gast.Store(), annotation=None,
                                           type_comment=None)],
                        value=st.value, type_comment=None), st))
                    st.value = gast.Name(id=result, ctx=gast.Load(), annotation=None,
                                         type_comment=None)
                out.extend(back(st))
                out.append(st)
                continue
            if not isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                for field in ("body", "orelse", "finalbody"):
                    if isinstance(getattr(st, field, None), list):
                        setattr(st, field, block(getattr(st, field)))
                for h in getattr(st, "handlers", ()) or ():
                    h.body = block(h.body)
            out.append(st)
        return out

    out = block(body)
    if not out or not isinstance(out[-1], gast.Return):
        out.extend(back(out[-1] if out else None))
    return out


def library_calls_only(parsed, fdef, local_names):
    """Whether every call in ``fdef`` is of numpy's or another library's, math's or a builtin,
    or a method of an array's, list's or dict's on a local: none runs code of the user's,
    which could read or change a global object meanwhile. (A function the object holds, its
    own ``o.fn(x)``, is none: the object's name is among ``local_names``.) The receiver of such
    a method is one the function makes (:func:`_made_here`): an argument or an item of one may
    be an object of the user's with a method of that name (``p.sum()``), which reads the object."""
    made = _made_here(fdef, parsed, local_names)
    for n in walk(fdef):
        if not isinstance(n, gast.Call):
            continue
        f = n.func
        if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and \
                f.value.id in local_names:
            if not any(hasattr(t, f.attr) for t in (np.ndarray, list, dict)) or \
                    not made.get(f.value.id, True):
                return False
            continue
        known = static_object(parsed, f, local_names)
        module = getattr(known, "__module__", None) or ""
        if known is None or not (_library(module) or module in ("builtins", "math")):
            return False
    return True


_FRESH = (gast.BinOp, gast.UnaryOp, gast.Constant, gast.Compare, gast.List, gast.Dict,
          gast.ListComp, gast.DictComp, gast.BoolOp)


def _made_here(fdef, parsed, local_names):
    """{name fdef binds: whether its every binding is a value it makes (arithmetic, a literal,
    a library function's result: np.zeros(2), h @ W), not an argument, an item or attribute of
    a value, a loop's item or what a method gives back}."""
    out = {a.id: False for a in walk(fdef.args) if isinstance(a, gast.Name)}
    for n in walk(fdef):
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and (
                isinstance(n.value, _FRESH) or isinstance(n.value, gast.Call) and
                _library_call(parsed, n.value.func, local_names)):
            made = True
        elif isinstance(n, (gast.Assign, gast.For, gast.comprehension, gast.With,
                            gast.NamedExpr, gast.AnnAssign)):
            made = False
        else:
            continue
        for target in n.targets if isinstance(n, gast.Assign) else [getattr(n, "target", n)]:
            for m in walk(target):
                if isinstance(m, gast.Name) and not isinstance(m.ctx, gast.Load):
                    out[m.id] = out.get(m.id, True) and made
    return out


def _library_call(parsed, func, local_names):
    known = static_object(parsed, func, local_names)
    module = getattr(known, "__module__", None) or ""
    return known is not None and (_library(module) or module in ("builtins", "math"))


def reached_otherwise(parsed, fdef, name, obj, local_names):
    """Whether ``fdef`` may reach the global object ``obj`` by another way than its name
    ``name``: another global or closure name, an attribute of another object, an item of a list,
    tuple or dict such a name holds (``BOX2 = BOX``, ``MODEL.parts[0]``), or a value known only
    at run time: an attribute of the object's own names on an argument or a local (``c.h``
    with ``c`` given ``CELL``), ``getattr``, ``vars``. A read there would not see the attributes
    made locals (nor would a store there be kept: the write back at the return replaces it)."""
    own = set(vars(obj)) | {"__dict__"}
    for n in walk(fdef):
        if isinstance(n, gast.Attribute) and n.attr in own and not (
                isinstance(n.value, gast.Name) and n.value.id == name) and \
                static_object(parsed, n.value, local_names) is None:
            return True
        if isinstance(n, gast.Name) and n.id in ("getattr", "setattr", "vars", "delattr") and \
                n.id not in local_names:
            return True
        if isinstance(n, gast.Name) and (n.id == name or n.id in local_names):
            continue
        if not isinstance(n, (gast.Name, gast.Attribute)) or \
                isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and \
                n.value.id == name:
            continue
        value = static_object(parsed, n, local_names)
        if value is obj or isinstance(value, (list, tuple, dict)) and any(
                v is obj for v in (value.values() if isinstance(value, dict) else value)):
            return True
    return False
