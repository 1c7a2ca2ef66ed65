"""Values the backward sweep reads only for their type, shape and dtype are saved as stand-ins.

The forward sweep saves what the backward sweep reads: the old value of a name it assigns again
(``_stack.append(_dot1)`` before ``_dot1 = np.dot(h, W)``) and, in a helper's forward form, the
tuple its backward form unpacks. Some of those values are read back only where a runtime helper
looks at nothing but their type, shape and dtype (``_sd.unbroadcast(_add1_bar, _dot1)``: the
``type_only`` facts of the registry). Such a value is saved as ``_sd.like_of(_dot1)``: a read-only
array of zeros of that shape and dtype that takes one element of memory, instead of the whole
array kept alive from the forward sweep to the backward one. An MLP's layer outputs, a sigmoid
helper's input: memory the gradient no longer holds, and pages the system need not hand out again
on every call.

Example (the loop of an MLP over its layers, the generic code)::

    _stack.append(_sd.like_of(_dot1))       # was _stack.append(_dot1)
    _dot1 = np_dot(h, W)
    ...
    _dot1_bar = _sd.unbroadcast(_add1_bar, _dot1)
    _dot1 = _stack.pop()
"""

import gast

from ..rules import registry
from ..syntax import call, children, load, walk

# attributes of an array that tell its type, shape and dtype, never its values
_TYPE_ATTRIBUTES = frozenset({"shape", "dtype", "ndim", "size"})


def type_only_names(stmts, bound):
    """The names loaded in ``stmts`` only where their values are never read: an argument that a
    called function's ``type_only`` facts name, or ``.shape``/``.dtype``/``.ndim``/``.size``.
    ``bound`` maps the generated code's global names to their objects (``GlobalNames.bound``).
    Each use is judged where it sits, parent by parent: generated trees share Name nodes (the jvp
    form's ``return (out, _sd.grad_like(out_dot, out))`` holds one ``out`` node in both places),
    and a node read for its values under one parent is not type-only for being so under another."""
    only, other = set(), set()
    for stmt in stmts:
        for parent in walk(stmt):
            for node, type_only in _uses(parent, bound):
                if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                    (only if type_only else other).add(node.id)
        if isinstance(stmt, gast.Name) and isinstance(stmt.ctx, gast.Load):
            other.add(stmt.id)  # (an expression that is a bare name: a read of its values)
    return only - other


def _uses(parent, bound):
    """(child, whether ``parent`` reads only its type there) for each child of ``parent``, one
    pair per place (a node held twice, ``f(x, x)``, is judged at each position)."""
    if isinstance(parent, gast.Attribute):
        return [(parent.value, parent.attr in _TYPE_ATTRIBUTES)]
    if not isinstance(parent, gast.Call):
        return [(child, False) for child in children(parent)]
    fn = _called(parent.func, bound)
    only = registry.facts(fn).type_only if fn is not None else ()
    return [(parent.func, False)] + [(a, k in only) for k, a in enumerate(parent.args)] + \
        [(k.value, False) for k in parent.keywords]


def _called(func, bound):
    """The object a call's ``func`` names in generated code (``_sd.unbroadcast``), or None."""
    if isinstance(func, gast.Name):
        return bound.get(func.id)
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
            func.value.id in bound:
        return getattr(bound[func.value.id], func.attr, None)
    return None


def stand_in(name, runtime_name):
    """``_sd.like_of(name)``: what is saved of ``name``."""
    return call(gast.Attribute(value=load(runtime_name), attr="like_of", ctx=gast.Load()),
                [load(name)])


def saved_name(value, runtime_name):
    """The name a saved expression saves: ``x`` for ``x`` and for ``_sd.like_of(x)``, else None."""
    if isinstance(value, gast.Name):
        return value.id
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            value.func.attr == "like_of" and isinstance(value.func.value, gast.Name) and \
            value.func.value.id == runtime_name and len(value.args) == 1 and \
            isinstance(value.args[0], gast.Name):
        return value.args[0].id
    return None


def stand_in_pushes(stmts, names, stack_name, runtime_name):
    """``stmts`` (the forward sweep) with each ``_stack.append(x)`` of a name in ``names`` saving
    ``_sd.like_of(x)`` instead; changes the statements in place and returns them."""
    if not names or stack_name is None:
        return stmts
    for stmt in stmts:
        for node in walk(stmt):
            if isinstance(node, gast.Expr) and _is_push(node.value, stack_name) and \
                    isinstance(node.value.args[0], gast.Name) and node.value.args[0].id in names:
                node.value.args[0] = stand_in(node.value.args[0].id, runtime_name)
    return stmts


def _is_push(node, stack_name):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
        node.func.attr == "append" and isinstance(node.func.value, gast.Name) and \
        node.func.value.id == stack_name and len(node.args) == 1 and not node.keywords


def without_stand_ins(fdef, runtime_names):
    """``fdef`` with each ``_sd.like_of(x)`` written ``x`` again (the numba backend: its lists of
    saved values hold one type, and a read-only stand-in is another array type), in place."""
    for node in walk(fdef):
        for field, value in gast.iter_fields(node):
            if isinstance(value, list):
                for k, item in enumerate(value):
                    if _like_of_name(item, runtime_names):
                        value[k] = item.args[0]
            elif _like_of_name(value, runtime_names):
                setattr(node, field, value.args[0])
    return fdef


def _like_of_name(node, runtime_names):
    return isinstance(node, gast.Call) and any(saved_name(node, r) for r in runtime_names)
