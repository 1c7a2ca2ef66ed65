"""Stack and buffer passes: values saved only for a helper that no longer needs them are not
saved, and elementwise results that are not read again are written into a buffer in place.
"""


import gast
import numpy as np

from ..compiler.emit import is_comment
from ..compiler.optimize import dead_code
from ..compiler.saves import saved_name
from ..syntax import _loop_live, clone, live_stmt, walk
from .facts import TOP, Arr, Known, _const, _load, _name_uses, _np_call, _parents, _size

_POPPED = "__sourcediff_popped__"


def _drop_unread_saves(body, stack_name, removable, runtime_name):
    """Stop saving a variable on the stack when no value restored from it is ever read again
    (saved itself or as a stand-in, ``_sd.like_of(x)``)."""
    probe = clone(body)
    popped = set()

    class Mark(gast.NodeTransformer):
        def visit_Assign(self, node):
            if _is_stack_call(node.value, stack_name, "pop") and isinstance(node.targets[0],
                                                                             gast.Name):
                popped.add(node.targets[0].id)
                node.value = _const(_POPPED)  # a pure stand-in, so that dead code can drop it
            return node

    probe = [Mark().visit(s) for s in probe]
    probe = dead_code(probe, removable | popped, set())
    alive = set()
    for node in walk(gast.Module(body=probe, type_ignores=[])):
        if isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Name) and \
                isinstance(node.value, gast.Constant) and node.value.value == _POPPED:
            alive.add(node.targets[0].id)
    dead = popped - alive
    if not dead:
        return body, 0

    class Drop(gast.NodeTransformer):
        def visit_Assign(self, node):
            if _is_stack_call(node.value, stack_name, "pop") and \
                    isinstance(node.targets[0], gast.Name) and node.targets[0].id in dead:
                return None
            return node

        def visit_Expr(self, node):
            v = node.value
            if _is_stack_call(v, stack_name, "append") and len(v.args) == 1 and \
                    saved_name(v.args[0], runtime_name) in dead:
                return None
            return node

    out = []
    for s in body:
        s = Drop().visit(s)
        if s is not None:
            out.append(s)
    return _fill_empty(out), len(dead)


def _fill_empty(stmts):
    for s in stmts:
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list):
                _fill_empty(inner)
                if field == "body" and not [t for t in inner if not is_comment(t)]:
                    inner.append(gast.Pass())
    return stmts


def _is_stack_call(node, stack_name, method):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
        node.func.attr == method and isinstance(node.func.value, gast.Name) and \
        node.func.value.id == stack_name


# below this size a new array costs about what a ufunc call with ``out=`` saves (measured with
# numpy 2.4.6 on an AMD EPYC: from 64 float64 elements up ``np.add(a, b, out=a)`` is the faster,
# 1.18 -> 1.01 us at 2,000 elements, 5.4 -> 3.4 us at 16,384; numpy's own temporary elision
# starts at 256 KB, the bound this pass used before)
_INPLACE_BYTES = 4096


_INPLACE_BINOPS = {gast.Add: "add", gast.Sub: "subtract", gast.Mult: "multiply",
                   gast.Div: "true_divide"}


_INPLACE_UNARY = {gast.USub: "negative"}


def _fresh(node, facts):
    """True when ``node`` always evaluates to a new array (never a view or one of its operands)."""
    if type(facts.get(id(node), TOP)) is not Arr:
        return False
    if isinstance(node, (gast.BinOp, gast.UnaryOp)):
        return True
    if isinstance(node, gast.Call):
        f = facts.get(id(node.func), TOP)
        if type(f) is Known and isinstance(f.value, np.ufunc):
            return not node.keywords or _out_buffer(node) is not None
    return False


def _out_buffer(node):
    for k in getattr(node, "keywords", ()):
        if k.arg == "out" and isinstance(k.value, gast.Name):
            return k.value.id
    return None


def _non_aliasing_use(parent, node, facts):
    """``node`` (a load) is only read by ``parent``, which makes a new value from it."""
    if isinstance(parent, (gast.BinOp, gast.UnaryOp, gast.Compare)):
        return True
    if isinstance(parent, gast.Call) and node in parent.args:
        f = facts.get(id(parent.func), TOP)
        return type(f) is Known and isinstance(f.value, np.ufunc)
    return False


def _reuse_buffers(fdef, facts, runtime_name, loops=True):
    """Write elementwise results into an array the gradient made itself and no longer needs,
    instead of allocating another one (``a = b * c`` with ``b`` dead after it and of ``a``'s
    shape and dtype becomes ``a = np.multiply(b, c, out=b)``). Only the statements of the
    function's body and of the bodies of its top-level loops (where a name is dead when neither
    the rest of the pass nor the next pass nor the code after the loop reads it), only arrays
    assigned once from an operation that makes a new array and only ever read by operations
    that make new arrays, so no other name can see the overwritten values. ``loops=False``: the
    function's body only."""
    (stores, loads), parents = _name_uses(fdef), _parents(fdef)
    changed = _reuse_in(fdef.body, set(), facts, runtime_name, stores, loads, parents)
    if not loops:
        return changed
    live = set()
    for s in reversed(fdef.body):
        if isinstance(s, gast.For) and not s.orelse:
            changed += _reuse_in(s.body, _loop_live(s.body, live), facts, runtime_name, stores,
                                 loads, parents)
        live = live_stmt(s, set(live))
    return changed


def _reuse_in(body, live_end, facts, runtime_name, stores, loads, parents):
    """_reuse_buffers in the statements ``body``, after which ``live_end`` are live."""
    live, live_after = set(live_end), [None] * len(body)
    for i in range(len(body) - 1, -1, -1):
        live_after[i] = live
        live = live_stmt(body[i], set(live))
    owned = {}  # name -> fact of the array it holds

    def usable(name):
        return name in owned and all(_non_aliasing_use(parents.get(id(n)), n, facts)
                                     for n in loads.get(name, ()))

    changed = 0
    for i, s in enumerate(body):
        if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and
                isinstance(s.targets[0], gast.Name)):
            continue
        names_here = [n.id for n in walk(s.value) if isinstance(n, gast.Name) and
                      isinstance(n.ctx, gast.Load)]
        dead = {n for n in names_here if names_here.count(n) == 1 and n not in live_after[i]
                and usable(n)}

        def rewrite(node):
            """(node, name of the owned buffer holding its value or None)."""
            nonlocal changed
            if isinstance(node, gast.Name):
                return node, (node.id if node.id in dead else None)
            if isinstance(node, gast.BinOp) and type(node.op) in _INPLACE_BINOPS:
                node.left, a = rewrite(node.left)
                node.right, b = rewrite(node.right)
                buf = a or b
                if buf and facts.get(id(node), TOP) == owned[buf]:
                    changed += 1
                    return _np_call(runtime_name, _INPLACE_BINOPS[type(node.op)],
                                    [node.left, node.right], buf), buf
                return node, None
            if isinstance(node, gast.UnaryOp) and type(node.op) in _INPLACE_UNARY:
                node.operand, a = rewrite(node.operand)
                if a and facts.get(id(node), TOP) == owned[a]:
                    changed += 1
                    return _np_call(runtime_name, _INPLACE_UNARY[type(node.op)],
                                    [node.operand], a), a
                return node, None
            if isinstance(node, gast.Call) and not node.keywords and len(node.args) == 1:
                f = facts.get(id(node.func), TOP)
                node.args[0], a = rewrite(node.args[0])
                if a and type(f) is Known and isinstance(f.value, np.ufunc) and \
                        f.value.nin == 1 and f.value.nout == 1 and \
                        facts.get(id(node), TOP) == owned[a]:
                    changed += 1
                    node.keywords = [gast.keyword(arg="out", value=_load(a))]
                    return node, a
                return node, None
            return node, None

        if dead:
            s.value, _ = rewrite(s.value)
        target = s.targets[0].id
        if stores.get(target) == 1 and (_fresh(s.value, facts) or _out_buffer(s.value) in owned):
            fact = facts.get(id(s.value), TOP)
            if _out_buffer(s.value) in owned:
                fact = owned[_out_buffer(s.value)]
            if type(fact) is Arr and _size(fact) * fact.dtype.itemsize >= _INPLACE_BYTES:
                owned[target] = fact
    return changed
