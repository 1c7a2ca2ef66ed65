"""Whether a function of the user's can be written into its caller (compiler/inline.py), and
its body made ready for that: a method called on an object of a class known here, or a helper
function given the object as its first argument (``step(cell, x)`` storing ``cell.h``). Its
comprehensions become loops of their own and its returns one last ``return``; the inliner then
renames its parameters and locals and puts the call's object for its first parameter.
"""

import dis
import inspect

import gast

from .parse import parse_function
from .resolve import _library
from ..syntax import clone, walk


def helper_of(parsed, call, local_names):
    """(function, its FunctionDef) for ``call`` a call ``helper(obj, ...)`` of a function of
    the user's, named by a global of the function's module, that stores an attribute of its
    first parameter and can be written in (see :func:`writable`), given a name first; else
    None."""
    if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Name) and call.args and
            isinstance(call.args[0], gast.Name)) or call.func.id in local_names or \
            call.func.id in parsed.env or \
            any(isinstance(a, gast.Starred) for a in call.args) or \
            any(k.arg is None for k in call.keywords):
        return None
    fn = parsed.fn.__globals__.get(call.func.id)
    if not inspect.isfunction(fn) or fn is parsed.fn or not _stores_attributes(fn.__code__):
        return None  # (its bytecode first: reading its source costs a millisecond)
    return writable(fn)


def _stores_attributes(code):
    """Whether ``code`` stores an attribute of anything (a STORE_ATTR instruction)."""
    return any(ins.opname == "STORE_ATTR" for ins in dis.get_instructions(code))


def writable(method, need_store=True):
    """(method, its FunctionDef) for a function of the user's that stores an attribute of its
    first parameter (or any, without ``need_store``) and can be written into its caller with
    that parameter the caller's object, else None."""
    if _library(getattr(method, "__module__", None)):
        return None
    if method.__code__.co_freevars:  # (super() or a closure)
        return None
    try:
        mdef = parse_function(method).node
    except Exception:  # noqa: BLE001  (no source: left as a call)
        return None
    a = mdef.args
    if a.vararg or a.kwarg or a.kwonlyargs or not a.args or \
            getattr(a, "posonlyargs", None):
        return None
    mdef.body = _comprehensions_as_loops(mdef.body, mdef)
    mdef.body = _one_return(mdef.body, mdef)
    self_name = a.args[0].id
    stores = False
    for n in walk(mdef):
        if n is mdef:
            continue
        if isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef,
                          gast.Yield, gast.YieldFrom, gast.Global, gast.Nonlocal, gast.Await,
                          gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)):
            return None
        if isinstance(n, gast.Return) and n is not mdef.body[-1]:
            return None
        if isinstance(n, gast.Name) and n.id == self_name and isinstance(n.ctx, gast.Store):
            return None
        if isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Store) and \
                isinstance(n.value, gast.Name) and n.value.id == self_name:
            stores = True
    return (method, mdef) if stores or not need_store else None


def _comprehensions_as_loops(stmts, mdef):
    """``stmts`` with each ``target = [e for a, b in it if c]`` (a statement of its own, at any
    depth) written as ``_lc = []; for a, b in it: if c: _lc.append(e); target = _lc``, which
    is what it runs (``self.layers = [Dense(m, n) for m, n in zip(sizes[:-1], sizes[1:])]`` in
    an ``__init__``); the loop's names are the method's own, renamed when it is written in."""
    out = []
    for k, st in enumerate(stmts):
        for field in ("body", "orelse"):
            if isinstance(getattr(st, field, None), list) and \
                    not isinstance(st, (gast.FunctionDef, gast.ClassDef)):
                setattr(st, field, _comprehensions_as_loops(getattr(st, field), mdef))
        comp = st.value if isinstance(st, gast.Assign) and len(st.targets) == 1 else None
        if not isinstance(comp, gast.ListComp) or any(g.is_async for g in comp.generators):
            out.append(st)
            continue
        _own_loop_names(comp, mdef, k)
        name = f"_listcomp{k}"
        inner = [gast.Expr(value=gast.Call(func=gast.Attribute(
            value=_load(name), attr="append", ctx=gast.Load()), args=[comp.elt], keywords=[]))]
        for gen in reversed(comp.generators):
            for cond in reversed(gen.ifs):
                inner = [gast.If(test=cond, body=inner, orelse=[])]
            inner = [gast.For(target=gen.target, iter=gen.iter, body=inner, orelse=[],
                              type_comment=None)]
        made = [gast.Assign(targets=[_store(name)], value=gast.List(elts=[], ctx=gast.Load()),
                            type_comment=None)] + inner + \
            [gast.Assign(targets=st.targets, value=_load(name), type_comment=None)]
        out.extend(gast.copy_location(m, st) for m in made)
        for m in made:
            for n in walk(m):
                if isinstance(n, (gast.stmt, gast.expr)) and getattr(n, "lineno", None) is None:
                    gast.copy_location(n, st)
    return out


def _one_return(stmts, mdef):
    """``stmts`` with a return inside an ``if`` (cs231n's ``if y is None: return scores``)
    written as the branches it makes: ``if c: A; return a`` then ``REST`` becomes ``if c:
    A; _ret = a else: REST (its returns likewise)``, ending with ``return _ret``, so the method
    has one return, at its end, and can be written into its caller. Unchanged when a return is
    in a loop or a ``with``, or there are more than eight."""
    returns = [n for n in walk(gast.Module(body=stmts, type_ignores=[]))
               if isinstance(n, gast.Return)]
    if not returns or (len(returns) == 1 and stmts and stmts[-1] is returns[0]) or \
            len(returns) > 8 or any(isinstance(n, (gast.For, gast.While, gast.With)) and any(
                isinstance(m, gast.Return) for m in walk(n)) for n in walk(
                gast.Module(body=stmts, type_ignores=[]))):
        return stmts
    name = "_sd_result"
    while any(isinstance(n, gast.Name) and n.id == name for n in walk(mdef)):
        name += "_"

    def exits(block):
        out = []
        for k, st in enumerate(block):
            if isinstance(st, gast.Return):
                out.append(gast.copy_location(gast.Assign(
                    targets=[_store(name)], value=st.value or gast.Constant(value=None, kind=None),
                    type_comment=None), st))
                return out
            if isinstance(st, gast.If) and any(isinstance(m, gast.Return) for m in walk(st)):
                rest = block[k + 1:]
                st.body = exits(st.body + clone(rest))
                st.orelse = exits(st.orelse + clone(rest))
                out.append(st)
                return out
            out.append(st)
        return out

    head = gast.Assign(targets=[_store(name)], value=gast.Constant(value=None, kind=None),
                       type_comment=None)
    tail = gast.Return(value=_load(name))
    for node in (head, tail):
        gast.copy_location(node, stmts[0])
    return [head] + exits(list(stmts)) + [tail]


def _own_loop_names(comp, mdef, k):
    """The names the comprehension ``comp`` binds renamed in it (in place) to names the method
    does not use (``i`` -> ``_lc3_i``): it has a scope of its own, which the loop written for
    it does not (the method's own ``i`` would be rebound). Its first iterable is evaluated
    outside that scope and keeps its names."""
    bound = {n.id for g in comp.generators for n in walk(g.target) if isinstance(n, gast.Name)}
    used = {n.id for n in walk(mdef) if isinstance(n, gast.Name)}
    new = {}
    for b in sorted(bound):
        fresh = f"_lc{k}_{b}"
        while fresh in used:
            fresh += "_"
        new[b] = fresh
    renamer = Renamer(lambda n: new.get(n.id, n.id))
    parts = [comp.elt] + [g.target for g in comp.generators] + \
        [c for g in comp.generators for c in g.ifs] + [g.iter for g in comp.generators[1:]]
    for part in parts:
        renamer.visit(part)


class Renamer(gast.NodeTransformer):
    """Each Name read or written becomes what ``rename(name)`` gives: a new name, or (for a
    module's value) an attribute read."""

    def __init__(self, rename):
        self.rename = rename

    def visit_Name(self, node):
        new = self.rename(node)
        if isinstance(new, str):
            node.id = new
            return node
        return gast.copy_location(new, node)


def _load(name):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _store(name):
    return gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)
