"""Names that hold a module: ``def f(x, xp=np)`` and ``xp = np`` (array-API style code). Their
reads become the module reference itself (``xp.sum(x)`` is ``np.sum(x)``), so calls through them
are numpy's calls with numpy's rules, not methods of a local value. A parameter is checked at run
time (``runtime.same_module``): the code is numpy's only while the call passes numpy or nothing.
``xp = array_namespace(x)`` (a module known only at run time) is left alone, and the stages after
refuse a call through it naming it."""

import types

import gast

from .. import runtime
from ..syntax import call, clone, const, load, located, walk
from .fence import static_object

SAME_MODULE = "_sd_same_module"  # the check that a module parameter holds its default module


def _module_ref(parsed, node, bound):
    """``node`` when it is a name or attribute chain, on a name the function does not bind, that
    holds a module; else None."""
    root = node
    while isinstance(root, gast.Attribute):
        root = root.value
    if not isinstance(root, gast.Name):
        return None
    obj = static_object(parsed, node, bound)
    return node if isinstance(obj, types.ModuleType) else None


def _candidates(parsed, fdef, bound):
    """{name: module reference}: parameters whose default is a module, and names bound only by
    ``name = <module>``; each bound nowhere else (a nested scope's binding included)."""
    args = fdef.args
    found, sites = {}, {}
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for param, default in list(zip(positional, defaults)) + list(zip(args.kwonlyargs,
                                                                     args.kw_defaults)):
        ref = default is not None and _module_ref(parsed, default, ())
        if ref:
            found[param.id], sites[id(param)] = ref, param.id
    for node in walk(fdef):
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], gast.Name):
            ref = _module_ref(parsed, node.value, bound)
            if ref and node.targets[0].id not in found:
                found[node.targets[0].id], sites[id(node.targets[0])] = ref, None
            elif ref:
                found.pop(node.targets[0].id)  # (bound twice)
    for node in walk(fdef):
        if isinstance(node, gast.Name) and not isinstance(node.ctx, gast.Load) and \
                id(node) not in sites:
            found.pop(node.id, None)
    params = {name for name in sites.values() if name is not None}
    return found, params


def _root(node):
    while isinstance(node, gast.Attribute):
        node = node.value
    return node


def _unshadow(parsed, fdef, refs):
    """A default read by a name the function binds (``def f(x, np=np)``: its own np is the
    parameter) is read through a name of the closure instead, ``_sd_module_np``."""
    bound = {n.id for n in walk(fdef) if isinstance(n, gast.Name) and
             isinstance(n.ctx, (gast.Store, gast.Param))}
    for name, ref in list(refs.items()):
        if isinstance(_root(ref), gast.Name) and _root(ref).id in bound:
            alias = f"_sd_module_{name}"
            parsed.env[alias] = static_object(parsed, ref, ())
            refs[name] = gast.Name(id=alias, ctx=gast.Load(), annotation=None,
                                   type_comment=None)
    fdef.body = [_Reads(refs).visit(stmt) for stmt in fdef.body]


class _Reads(gast.NodeTransformer):
    def __init__(self, refs):
        self.refs = refs

    def visit_Name(self, node):
        if isinstance(node.ctx, gast.Load) and node.id in self.refs:
            return located(clone(self.refs[node.id]), node)
        return node


def module_names(parsed):
    """Rewrite ``parsed.node`` in place: reads of a name that holds a module read the module, and
    a parameter with a module default is checked first to hold that module."""
    fdef = parsed.node
    if getattr(fdef, "sd_modules", False):
        return parsed
    fdef.sd_modules = True
    refs, params, found = {}, set(), True
    while found:  # (m = xp.linalg reads a module once xp's reads are np's)
        bound = {n.id for n in walk(fdef) if isinstance(n, gast.Name) and
                 isinstance(n.ctx, (gast.Store, gast.Param))} - set(refs)
        more, more_params = _candidates(parsed, fdef, bound)
        found = set(more) - set(refs)
        refs.update(more)
        params |= more_params
        fdef.body = [_Reads(refs).visit(stmt) for stmt in fdef.body]
    if not refs:
        return parsed
    texts = {name: gast.unparse(ref).strip() for name, ref in refs.items()}
    _unshadow(parsed, fdef, refs)
    checks = []
    for name in sorted(params):
        parsed.env.setdefault(SAME_MODULE, runtime.same_module)
        check = located(gast.Expr(value=call(load(SAME_MODULE), [
            load(name), clone(refs[name]), const(name), const(texts[name]),
            const(parsed.where(fdef))])), fdef.body[0])
        check.sd_check = True  # (normalize keeps it a statement, which nothing removes)
        checks.append(check)
    doc = fdef.body[:1] if fdef.body and isinstance(fdef.body[0], gast.Expr) and \
        isinstance(fdef.body[0].value, gast.Constant) and \
        isinstance(fdef.body[0].value.value, str) else []
    fdef.body = doc + checks + fdef.body[len(doc):]
    return parsed
