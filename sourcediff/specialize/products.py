"""Arithmetic the gradient would do twice or on a whole array where once on a number suffices:
a product computed again inside a later expression is read from the name that holds it (``x * x``
then ``x * x * x``), and an array scaled by a power of two that is only ever summed to a number
is summed first and the number scaled (``2.0 * r`` read by ``r2.dot(x)`` and ``r2.sum()``). Both give
the same bits as the code before them.
"""

import math

import gast
import numpy as np

from ..syntax import is_comment, replace_node, walk
from .facts import PYFLOAT, TOP, Arr, Known, Scal, _const, _load, _name_uses, _parents
from .unobserved import Unobserved

# elementwise operators of numbers: the same operands give the same result, with nothing written
_PURE_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow)


def _number_fact(f):
    """A value a pure elementwise operator reads the same each time: a numeric array, a numpy
    scalar, a Python float or int."""
    if type(f) is Arr or type(f) is Scal:
        return f.dtype.kind in "biufc"
    return f is PYFLOAT or (type(f) is Known and type(f.value) in (int, float))


def _pure(node, facts):
    """True when ``node`` is an expression of elementwise operators over names and numbers of
    numeric facts (no call, no subscript: nothing that could write or depend on more)."""
    if isinstance(node, gast.Name):
        return isinstance(node.ctx, gast.Load) and _number_fact(facts.get(id(node), TOP))
    if isinstance(node, gast.Constant):
        return type(node.value) in (int, float)
    if isinstance(node, gast.BinOp):
        return isinstance(node.op, _PURE_OPS) and _pure(node.left, facts) and \
            _pure(node.right, facts) and _number_fact(facts.get(id(node), TOP))
    if isinstance(node, gast.UnaryOp):
        return isinstance(node.op, gast.USub) and _pure(node.operand, facts)
    return False


def _names(node):
    return {n.id for n in walk(node) if isinstance(n, gast.Name)}


def small_powers(fdef, facts, runtime_names=(), gradients_only=False):
    """The user's small powers in the function's top-level statements ``t = x ** k`` written as
    products (:func:`_small_power`): a square always, a cube or fourth power only where its
    value reaches nothing but the gradients returned (``gradients_only``: ``fdef`` returns only
    gradients; ``runtime_names``: the runtime module's names in it; unobserved.py). Before
    :func:`repeated_products`, which then reads ``x * x`` of a cube from the square's name."""
    unseen = _unseen_powers(fdef, facts, runtime_names, gradients_only)
    changed = 0
    for s in fdef.body:
        product = _small_power(s.value, facts, id(s) in unseen) \
            if isinstance(s, gast.Assign) else None
        if product is not None:
            s.value = product
            changed += 1
    return changed


def repeated_products(fdef, facts):
    """In the function's top-level statements, an operation inside an expression that an earlier
    statement ``t = <the same operation>`` computed from the same names, none assigned since, reads
    ``t`` instead: ``p2 = x * x`` then ``p3 = x * x * x`` (``(x * x) * x``) gives ``p3 = p2 * x``,
    the same numbers with one array pass fewer. Only pure elementwise arithmetic of numeric
    arrays and numbers is matched, only inside a statement's value (never the whole value: a name
    then would be another name's array), and any statement other than a name assigned from such
    arithmetic forgets what is known (it could write into an array in place)."""
    available = {}  # dump of an operation -> (name holding its value, names it reads)
    changed = 0

    class Reuse(gast.NodeTransformer):
        def visit_BinOp(self, node):
            nonlocal changed
            self.generic_visit(node)
            found = available.get(gast.dump(node))
            if found is None:
                return node
            changed += 1
            return _load(found[0])

    for s in fdef.body:
        if is_comment(s):
            continue
        if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and
                isinstance(s.targets[0], gast.Name) and _pure(s.value, facts)):
            available.clear()
            continue
        value, target = s.value, s.targets[0].id
        if isinstance(value, gast.BinOp) and available:
            value.left, value.right = Reuse().visit(value.left), Reuse().visit(value.right)
        available = {k: v for k, v in available.items() if target != v[0] and target not in v[1]}
        if isinstance(value, gast.BinOp) and target not in _names(value):
            available.setdefault(gast.dump(value), (target, _names(value)))
    return changed


def _unseen_powers(fdef, facts, runtime_names, gradients_only):
    """The ids of the top-level statements ``t = x ** 3`` or ``t = x ** 4`` whose ``t`` reaches
    only the gradients ``fdef`` returns (decided on the tree before any rewrite)."""
    candidates = [s for s in fdef.body if isinstance(s, gast.Assign) and len(s.targets) == 1 and
                  isinstance(s.targets[0], gast.Name) and _power(s.value, facts) in (3, 4)]
    if not candidates or not gradients_only:
        return set()
    unobserved = Unobserved(fdef, facts, runtime_names, gradients_only)
    return {id(s) for s in candidates if not unobserved.seen(s.targets[0].id)}


def _power(node, facts):
    """The exponent of ``x ** k`` for a name ``x`` of a numeric array or number (not a boolean)
    and a literal int ``k``, pure elementwise arithmetic (:func:`_pure`); else None."""
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Pow) and \
            isinstance(node.left, gast.Name) and isinstance(node.right, gast.Constant) and \
            type(node.right.value) is int and _pure(node, facts) and \
            not _boolean(facts.get(id(node.left), TOP)):
        return node.right.value
    return None


def _small_power(node, facts, unseen=False):
    """The product for the user's ``x ** k`` (see :func:`_power`; compiler/optimize.py keeps the
    user's powers as written: an object may have a __pow__ and no __mul__), numpy's multiplies
    being faster than its power (pow: 49 us for 2,000 float64, ``x * x * x`` 3.2); else None.
    The products take the power's fact. ``x * x`` for ``x ** 2`` always: numpy and Python
    compute the square as that product, the same bits. ``x * x * x`` for ``x ** 3`` and
    ``(x * x) * (x * x)`` for ``x ** 4`` only where the value is ``unseen`` (it reaches only the
    gradients: unobserved.py): pow rounds once and the products twice (280 of 1,000 normal
    float64 cubes differ in the last bit), so a value the function returns would differ from the
    generic code's and the plain call's. Not of booleans: ``m ** 2`` is an int8 array and
    ``m * m`` a boolean one, whose ``q + q`` is True where the power's is 2."""
    k = _power(node, facts)
    x = node.left if k is not None else None
    if k == 2:
        product = gast.BinOp(left=x, op=gast.Mult(), right=x)
    elif k == 3 and unseen:
        product = gast.BinOp(left=gast.BinOp(left=x, op=gast.Mult(), right=x), op=gast.Mult(),
                             right=x)
    elif k == 4 and unseen:
        product = gast.BinOp(left=gast.BinOp(left=x, op=gast.Mult(), right=x), op=gast.Mult(),
                             right=gast.BinOp(left=x, op=gast.Mult(), right=x))
    else:
        return None
    for n in walk(product):
        if isinstance(n, gast.BinOp):
            facts[id(n)] = facts[id(node)]
    return product


def _boolean(f):
    """A fact of a boolean array or numpy boolean (a product of booleans is a boolean, their
    power an integer)."""
    return (type(f) is Arr or type(f) is Scal) and f.dtype.kind == "b"


def _power_of_two(node, facts):
    """The number ``node`` evaluates to (a constant, or a product of known numbers such as a
    mean's ``_bar * 2``) when it is a finite nonzero power of two (its product is exact)."""
    if isinstance(node, gast.Constant):
        value = node.value
    else:
        f = facts.get(id(node), TOP)
        if type(f) is not Known or not _pure(node, facts):
            return None
        value = f.value
    if type(value) not in (int, float) or not value or not math.isfinite(value):
        return None
    return value if abs(math.frexp(value)[0]) == 0.5 else None


_F64 = np.dtype(np.float64)


def _scaled(node, facts):
    """(factor, array) for ``k * v`` or ``v * k`` with ``k`` a power of two and ``v`` a name of a
    float64 array, of ``v``'s fact; else None."""
    if not (isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult)):
        return None
    for k, v in ((node.left, node.right), (node.right, node.left)):
        f, factor = facts.get(id(v), TOP), _power_of_two(k, facts)
        if factor is not None and isinstance(v, gast.Name) and type(f) is Arr and \
                f.dtype == _F64 and facts.get(id(node), TOP) == f:
            return factor, v
    return None


def _vectors(f, g):
    """Two facts of float vectors of one length and dtype (their ``@`` or ``.dot`` is a number)."""
    return type(f) is Arr and len(f.shape) == 1 and g == f


def _reduction(use, parents, facts):
    """The node summing ``use`` (a load of a float64 array) to one number linearly: ``use @ w``,
    ``w @ use``, ``use.dot(w)`` or ``w.dot(use)`` of two float64 vectors, ``use.sum()``,
    ``np.sum(use)``; else None."""
    parent = parents.get(id(use))
    f = facts.get(id(use), TOP)
    if isinstance(parent, gast.BinOp) and isinstance(parent.op, gast.MatMult):
        other = parent.right if parent.left is use else parent.left
        return parent if _vectors(f, facts.get(id(other), TOP)) else None
    if isinstance(parent, gast.Attribute) and parent.attr in ("sum", "dot") and \
            parent.value is use:
        call = parents.get(id(parent))
        if not (isinstance(call, gast.Call) and call.func is parent and not call.keywords):
            return None
        if parent.attr == "sum":
            return None if call.args else call
        return call if len(call.args) == 1 and _vectors(f, facts.get(id(call.args[0]), TOP)) \
            else None
    if isinstance(parent, gast.Call) and use in parent.args and len(parent.args) == 1 and \
            isinstance(parent.func, gast.Attribute) and parent.func.attr == "dot" and \
            not parent.keywords:
        return parent if _vectors(f, facts.get(id(parent.func.value), TOP)) else None
    if isinstance(parent, gast.Call) and parent.args == [use] and not parent.keywords and \
            facts.get(id(parent.func), TOP) == Known(np.sum):
        return parent
    return None


def scalar_factors(fdef, facts):
    """``t = k * v`` (``k`` a power of two, ``v`` a float64 array) whose every read, through names
    that only copy it (``u = t``), is summed to a number (``t @ w``, ``t.dot(w)`` of vectors, ``t.sum()``,
    ``np.sum(t)``) becomes ``t = v``, each sum multiplied by ``k`` after it: one array pass and one
    array fewer (the gradient of a squared residual read by scalar parameters, ``2.0 * r``).
    Scaling by a power of two is exact and commutes with every rounding of the sum, so the numbers
    are the same bits (but where ``k * v`` would overflow or go subnormal in an element)."""
    stores, loads = _name_uses(fdef)
    copies = {}  # name -> the names assigned from it alone, once
    for s in walk(fdef):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Name) and \
                stores.get(s.targets[0].id) == 1:
            copies.setdefault(s.value.id, []).append((s.targets[0].id, s.value))
    parents = _parents(fdef)
    changed = 0
    for s in fdef.body:
        if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and
                isinstance(s.targets[0], gast.Name) and stores.get(s.targets[0].id) == 1):
            continue
        scaled = _scaled(s.value, facts)
        if scaled is None:
            continue
        names, through, pending = set(), set(), [s.targets[0].id]
        while pending:
            name = pending.pop()
            names.add(name)
            for target, node in copies.get(name, ()):
                through.add(id(node))
                pending.append(target)
        uses = [n for name in names for n in loads.get(name, ()) if id(n) not in through]
        sums = [_reduction(n, parents, facts) for n in uses]
        if not uses or any(r is None for r in sums):
            continue
        k, v = scaled
        if not all(_only_read(n, parents, facts) for n in loads.get(v.id, ())):
            continue  # (``t`` becomes another name of ``v``'s array: nothing may write into it)
        s.value = v
        for r in sums:
            holder = parents[id(r)]
            scaled_sum = gast.BinOp(left=r, op=gast.Mult(), right=_const(k))
            replace_node(holder, r, scaled_sum)
            parents[id(r)] = scaled_sum
        changed += 1
    return changed


# attributes of an array read without a view of it that could be written through
_READ_ATTRIBUTES = frozenset({"sum", "shape", "dtype", "ndim", "size"})


def _only_read(use, parents, facts):
    """True when the load ``use`` of an array is read by an operation that makes a new value (an
    operator, a ufunc without ``out``, ``.sum``, ``.shape``), so that nothing writes into the array
    through it."""
    parent = parents.get(id(use))
    if isinstance(parent, (gast.BinOp, gast.UnaryOp, gast.Compare)):
        return True
    if isinstance(parent, gast.Attribute):
        return parent.attr in _READ_ATTRIBUTES and isinstance(parent.ctx, gast.Load)
    if isinstance(parent, gast.Call) and use in parent.args:
        f = facts.get(id(parent.func), TOP)
        return type(f) is Known and isinstance(f.value, np.ufunc) and not parent.keywords and \
            len(parent.args) <= f.value.nin
    return False
