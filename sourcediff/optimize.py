"""Optimize stage: remove dead adjoint code and zero initializations the first contribution replaces.

Both passes only touch names the compiler made (adjoints, rule temporaries, trip counters), so the
user's own statements run as written. Example::

    h_bar = 0.0                      h_bar = _sd.unbroadcast(_add1_bar, h)
    h_bar = h_bar + _sd.unbroadcast(_add1_bar, h)        (and the unused `_add1_bar = 0.0` is gone)
    _add1_bar = 0.0
"""

import operator

import gast

from .emit import is_comment


def _loads(node):
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _is_zero(node):
    return isinstance(node, gast.Constant) and type(node.value) is float and node.value == 0.0


# ---------------------------------------------------------------- zero-initialization folding


def fold_zeros(stmts, names, zero=frozenset()):
    """Rewrite ``x = x + e`` to ``x = e`` (``x = x - e`` to ``x = -e``) where ``x`` (one of
    ``names``) is known to hold 0.0.

    Returns the set of names known zero after ``stmts``.
    """
    zero = set(zero)
    for s in stmts:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            t = s.targets[0].id
            v = s.value
            if (t in zero and isinstance(v, gast.BinOp) and isinstance(v.op, (gast.Add, gast.Sub))
                    and isinstance(v.left, gast.Name) and v.left.id == t
                    and t not in _loads(v.right)):
                s.value = v.right if isinstance(v.op, gast.Add) else \
                    gast.UnaryOp(op=gast.USub(), operand=v.right)
            if t in names and _is_zero(s.value):
                zero.add(t)
            else:
                zero.discard(t)
        elif isinstance(s, gast.If):
            a = fold_zeros(s.body, names, zero)
            b = fold_zeros(s.orelse, names, zero)
            zero = a & b
        elif isinstance(s, (gast.For, gast.While)):
            # a name is zero at the loop head only if it is zero on entry and after the body
            head = set(zero)
            while True:
                after = _zero_after(s.body, names, head)
                new_head = head & after
                if new_head == head:
                    break
                head = new_head
            fold_zeros(s.body, names, head)
            zero = head  # the loop may run zero times
        else:
            zero -= _assigned(s)
    return zero


def _zero_after(stmts, names, zero):
    """What :func:`fold_zeros` would find zero after ``stmts``, without rewriting."""
    import copy

    return fold_zeros(copy.deepcopy(stmts), names, zero)


def _assigned(node):
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


# ---------------------------------------------------------------- dead code


def _live_in(stmts, live):
    live = set(live)
    for s in reversed(stmts):
        live = _live_stmt(s, live)
    return live


def _live_stmt(s, live):
    if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
        return (live - {s.targets[0].id}) | _loads(s.value)
    if isinstance(s, gast.If):
        return _loads(s.test) | _live_in(s.body, live) | _live_in(s.orelse, live)
    if isinstance(s, (gast.For, gast.While)):
        return _loop_live(s.body, live) | _loads(s.iter if isinstance(s, gast.For) else s.test)
    return live | _loads(s)


def _loop_live(body, live):
    """Names live at the head of a loop whose body is ``body`` and that is followed by ``live``."""
    head = set(live)
    while True:
        new = head | _live_in(body, head)
        if new == head:
            return head
        head = new


def dead_code(stmts, removable, live_out):
    """Drop assignments to ``removable`` names whose value is never read; returns new statements."""
    out = []
    live = set(live_out)
    for s in reversed(stmts):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            t = s.targets[0].id
            if t in removable and t not in live and _pure(s.value):
                continue
        elif isinstance(s, gast.If):
            s.body = dead_code(s.body, removable, live)
            s.orelse = dead_code(s.orelse, removable, live)
            if not _code(s.body) and not _code(s.orelse):
                continue
            if not _code(s.body):
                s.body = [gast.Pass()]
        elif isinstance(s, (gast.For, gast.While)):
            s.body = dead_code(s.body, removable, _loop_live(s.body, live))
            if not _code(s.body) and isinstance(s, gast.For) and _is_counting_loop(s):
                continue
            if not _code(s.body):
                s.body = [gast.Pass()]
        out.append(s)
        live = _live_stmt(s, live)
    out.reverse()
    return _drop_dangling_comments(out)


def _pure(value):
    if isinstance(value, gast.Call):
        func = value.func
        return not (isinstance(func, gast.Attribute) and func.attr == "pop")
    return True


def _code(stmts):
    return any(not is_comment(s) and not isinstance(s, gast.Pass) for s in stmts)


def _is_counting_loop(s):
    """``for _ in range(n)`` loops of the adjoint sweep (safe to drop when empty)."""
    return isinstance(s.iter, gast.Call) and isinstance(s.iter.func, gast.Name) \
        and s.iter.func.id == "range"


def _drop_dangling_comments(stmts):
    out = []
    for k, s in enumerate(stmts):
        if is_comment(s):
            nxt = stmts[k + 1] if k + 1 < len(stmts) else None
            if nxt is None or is_comment(nxt):
                continue
        out.append(s)
    return out


# ---------------------------------------------------------------- constants and small powers

_FOLDABLE = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
             gast.Div: operator.truediv, gast.Pow: operator.pow, gast.FloorDiv: operator.floordiv,
             gast.Eq: operator.eq, gast.NotEq: operator.ne, gast.Lt: operator.lt,
             gast.LtE: operator.le, gast.Gt: operator.gt, gast.GtE: operator.ge,
             gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_}


def _number(node):
    return isinstance(node, gast.Constant) and type(node.value) in (int, float, bool)


class FoldConstants(gast.NodeTransformer):
    """Evaluate operations on literal numbers, pick ``np.where(True/False, a, b)``, and write small
    integer powers as products: ``x ** np.where(2 == 0, 1.0, 2 - 1)`` becomes ``x``, ``x ** 2``
    becomes ``x * x`` (numpy's generic power is many times slower than a multiply).

    ``where_names`` are the expressions (``np.where``) that name numpy's where in generated code.
    """

    def __init__(self, where_names):
        self.where_names = where_names
        self.top = None

    def visit_Assign(self, node):
        self.top = node.value  # ``t = x - 0.0`` stays a copy: t must not alias x
        self.generic_visit(node)
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, gast.USub) and isinstance(node.operand, gast.UnaryOp) and \
                isinstance(node.operand.op, gast.USub) and node is not self.top:
            return node.operand.operand  # -(-a) is a (negation is exact)
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, (gast.Add, gast.Sub)) and isinstance(node.right, gast.UnaryOp) \
                and isinstance(node.right.op, gast.USub) and not _number(node.left):
            # a + -b is a - b and a - -b is a + b, exactly; one operation fewer
            node.op = gast.Sub() if isinstance(node.op, gast.Add) else gast.Add()
            node.right = node.right.operand
        elif isinstance(node.op, (gast.Add, gast.Sub)) and isinstance(node.right, gast.BinOp) \
                and isinstance(node.right.op, (gast.Mult, gast.Div)) \
                and isinstance(node.right.left, gast.UnaryOp) \
                and isinstance(node.right.left.op, gast.USub) and not _number(node.left):
            # a + -b * c is a - b * c (a product's sign is exact)
            node.op = gast.Sub() if isinstance(node.op, gast.Add) else gast.Add()
            node.right.left = node.right.left.operand
        if isinstance(node.op, (gast.Add, gast.Sub)) and _number(node.right) and \
                not isinstance(node.right.value, bool) and node.right.value == 0 and \
                node is not self.top:
            return node.left
        if _number(node.left) and _number(node.right):
            try:
                return gast.Constant(value=_FOLDABLE[type(node.op)](node.left.value,
                                                                    node.right.value), kind=None)
            except (KeyError, ArithmeticError, ValueError, OverflowError):
                return node
        if isinstance(node.op, gast.Pow) and _number(node.right) and \
                not isinstance(node.right.value, bool) and isinstance(node.left, gast.Name):
            n = node.right.value
            if n == 1:
                return node.left
            if n in (2, 3):
                product = node.left
                for _ in range(int(n) - 1):
                    product = gast.BinOp(left=product, op=gast.Mult(), right=node.left)
                return product
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if _number(node.operand):
            return gast.Constant(value=_FOLDABLE[type(node.op)](node.operand.value), kind=None)
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) == 1 and _number(node.left) and _number(node.comparators[0]):
            return gast.Constant(value=_FOLDABLE[type(node.ops[0])](
                node.left.value, node.comparators[0].value), kind=None)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if gast.dump(node.func) in self.where_names and len(node.args) == 3 and \
                not node.keywords and isinstance(node.args[0], gast.Constant) and \
                type(node.args[0].value) is bool:
            return node.args[1] if node.args[0].value else node.args[2]
        return node


def fold_constants(stmts, where_names):
    """Apply :class:`FoldConstants` to every statement (in place); returns the statements."""
    folder = FoldConstants(where_names)
    return [folder.visit(s) for s in stmts]


def optimize(primal, adjoint, bar_names, removable, live_out, where_names=frozenset()):
    """Run the passes over the adjoint sweep (and trip counters in the primal); returns both."""
    adjoint = fold_constants(adjoint, where_names)
    fold_zeros(adjoint, bar_names)
    body = dead_code(primal + adjoint, removable, live_out)
    return body
