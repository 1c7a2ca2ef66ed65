"""Optimize stage: remove dead adjoint code and zero initializations the first contribution replaces.

Both passes only touch names the compiler made (adjoints, rule temporaries, trip counters), so the
user's own statements run as written. Example::

    h_bar = 0.0                      h_bar = _sd.unbroadcast(_add1_bar, h)
    h_bar = h_bar + _sd.unbroadcast(_add1_bar, h)        (and the unused `_add1_bar = 0.0` is gone)
    _add1_bar = 0.0
"""

import operator

import gast

from ..syntax import (  # noqa: F401
    _assigned,
    _code,
    _drop_dangling_comments,
    _is_counting_loop,
    _loads,
    _loop_live,
    _pure,
    clone,
    dead_code,
    live_stmt,
    walk,
)
from .emit import comment, is_comment


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
    return fold_zeros(clone(stmts), names, zero)


# ---------------------------------------------------------------- dead code


# ---------------------------------------------------------------- the adjoint loops' last pass


def last_pass_guards(stmts, removable, live_out, fresh):
    """In a loop of the adjoint sweep (``for _ in range(n)``, a compiler-made counter the body does
    not read), skip in the last pass the compiler-made assignments whose value only the next pass
    reads: the adjoint of a value that flows in from before the loop and is not differentiated.
    ``fresh(hint)`` makes a new name. Returns the new statements. Example (``h`` is ``x`` on the
    first layer and ``x`` is not differentiated)::

        for _ in range(_n1):                        for _left1 in range(_n1 - 1, -1, -1):
            _add1_bar = h_bar * (1.0 - h * h)           _add1_bar = h_bar * (1.0 - h * h)
            h = _stack.pop()                            h = _stack.pop()
            h_bar = _add1_bar @ W.T                     if _left1:
            W_bar = W_bar + h.T @ _add1_bar                 # (only a next pass reads h_bar: ...)
                                                            h_bar = _add1_bar @ W.T
                                                        W_bar = W_bar + h.T @ _add1_bar

    Exact: in the last pass the skipped value would be read by nothing (nothing after the loop,
    nothing later in the pass); in every other pass it is computed as before.
    """
    out = []
    live = set(live_out)
    for s in reversed(stmts):
        if isinstance(s, gast.If):
            s.body = last_pass_guards(s.body, removable, live, fresh)
            s.orelse = last_pass_guards(s.orelse, removable, live, fresh)
        elif isinstance(s, (gast.For, gast.While)):
            s.body = last_pass_guards(s.body, removable, _loop_live(s.body, live), fresh)
            if isinstance(s, gast.For) and _adjoint_counting_loop(s, removable, live):
                _guard_last_pass(s, removable, live, fresh)
        out.append(s)
        live = live_stmt(s, live)
    out.reverse()
    return out


def _adjoint_counting_loop(s, removable, after):
    """``for c in range(n)`` with a compiler-made counter ``c`` that nothing reads, no ``else``
    and no jump out of the body (each pass runs the whole body)."""
    if not (isinstance(s.target, gast.Name) and s.target.id in removable and not s.orelse
            and _is_counting_loop(s) and len(s.iter.args) == 1 and not s.iter.keywords):
        return False
    if s.target.id in after or any(s.target.id in _loads(b) for b in s.body):
        return False
    return not any(isinstance(n, (gast.Break, gast.Continue, gast.Return, gast.Yield,
                                  gast.YieldFrom, gast.Try))
                   for b in s.body for n in walk(b))


def _guard_last_pass(loop, removable, after, fresh):
    live = set(after)  # what the last pass's statements must still produce
    skip = set()
    for k in range(len(loop.body) - 1, -1, -1):
        s = loop.body[k]
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], gast.Name) and s.targets[0].id in removable and \
                s.targets[0].id not in live and _pure(s.value) and \
                not isinstance(s.value, (gast.Constant, gast.Name)):  # (those cost nothing)
            skip.add(k)
            continue
        live = live_stmt(s, live)
    if not skip:
        return
    left = fresh("left")
    body, k = [], 0
    while k < len(loop.body):
        if k not in skip:
            body.append(loop.body[k])
            k += 1
            continue
        run = []
        while k in skip:
            run.append(loop.body[k])
            k += 1
        names = ", ".join(dict.fromkeys(s.targets[0].id for s in run))
        note = comment(f"(only a next pass reads {names}: the last pass skips it)")
        body.append(gast.copy_location(gast.If(
            test=gast.Name(id=left, ctx=gast.Load(), annotation=None, type_comment=None),
            body=[note] + run, orelse=[]), run[0]))
    n = loop.iter.args[0]
    loop.target = gast.Name(id=left, ctx=gast.Store(), annotation=None, type_comment=None)
    loop.iter.args = [gast.BinOp(left=n, op=gast.Sub(), right=gast.Constant(value=1, kind=None)),
                      gast.Constant(value=-1, kind=None),
                      gast.Constant(value=-1, kind=None)]
    loop.body = body


# ---------------------------------------------------------------- single-use temporaries

_SCOPES = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp, gast.Lambda)


def inline_temps(stmts, removable):
    """Fold each compiler temporary that is assigned once and read once, later in the same block,
    into the expression that reads it: ``_mul1 = x * a; _sin1 = np.sin(x); x = _mul1 + _sin1``
    becomes ``x = x * a + np.sin(x)``. Returns the new statements.

    Only statements the emitter marked ``sd_pure`` (one primitive of the rule table, a copy, a
    comparison) move or are crossed, and a crossed statement must not rebind a name the moved
    expression reads, so every value is the same; a read inside a comprehension or lambda (run
    many times) or a ``while`` test keeps its temporary, and so does one read by the code of
    another line of the user's function (the generated source stays one block per user line).
    """
    loads, stores = {}, {}
    for n in walk(gast.Module(body=stmts, type_ignores=[])):
        if isinstance(n, gast.Name):
            counts = loads if isinstance(n.ctx, gast.Load) else stores
            counts[n.id] = counts.get(n.id, 0) + 1
    single = {t for t in removable if loads.get(t) == 1 and stores.get(t) == 1}
    return _inline_block(stmts, single)


def _inline_block(stmts, single):
    out = list(stmts)
    for s in out:
        for field in ("body", "orelse"):
            if isinstance(getattr(s, field, None), list):
                setattr(s, field, _inline_block(getattr(s, field), single))
    k = 0
    while k < len(out):
        s = out[k]
        if _pure_assign(s) and s.targets[0].id in single and _inline_into(out, k):
            del out[k]
            continue
        k += 1
    return out


def _pure_assign(s):
    return isinstance(s, gast.Assign) and len(s.targets) == 1 and \
        isinstance(s.targets[0], gast.Name) and getattr(s, "sd_pure", False)


def _inline_into(stmts, k):
    """Put the value of ``stmts[k]`` where its single read is, if that is safe; True if done.

    A statement in between that rebinds a name the value reads is moved below the reader when
    nothing from it to the reader depends on it: ``_s = x_dot * np.cos(x); x = _m + _n;
    x_dot = x_dot * a + _s`` becomes ``x_dot = x_dot * a + x_dot * np.cos(x); x = _m + _n``.
    """
    name, value = stmts[k].targets[0].id, stmts[k].value
    line = getattr(stmts[k], "lineno", None)
    reads = _loads(value)
    blockers = []
    for u in range(k + 1, len(stmts)):
        s = stmts[u]
        if is_comment(s):
            continue
        if isinstance(s, gast.If):
            field = "test"
        elif isinstance(s, gast.Assign) and getattr(s, "sd_pure", False):
            field = "value"
        else:
            return False
        spot = _read_spot(s, field, name)
        if spot is not None:
            if getattr(s, "lineno", None) != line:
                return False  # each user line keeps its own statements (readable source)
            break
        if name in _loads(s) or not _pure_assign(s):
            return False
        if _assigned(s) & reads:
            blockers.append(u)
    else:
        return False
    if blockers and not isinstance(stmts[u], gast.Assign):
        return False  # nothing moves past a branch
    moved = set()
    for j in reversed(blockers):
        if not _sinkable(stmts, j, u, moved):
            return False
        moved.add(j)
    parent, attr, index = spot
    if index is None:
        setattr(parent, attr, value)
    else:
        getattr(parent, attr)[index] = value
    if blockers:
        sunk = [stmts[j] for j in blockers]
        rest = [s for i, s in enumerate(stmts[k + 1:u + 1], k + 1) if i not in moved]
        stmts[k + 1:u + 1] = rest + sunk
    return True


def _sinkable(stmts, j, u, moved):
    """Can the pure assignment ``stmts[j]`` move to just after ``stmts[u]`` (the statements in
    ``moved`` going along with it)? Only if nothing it passes reads or rebinds what it binds or
    rebinds what it reads."""
    s = stmts[j]
    binds, reads = _assigned(s), _loads(s.value)
    for i in range(j + 1, u + 1):
        if i in moved or is_comment(stmts[i]):
            continue
        other = stmts[i]
        if (_loads(other) & binds) or (_assigned(other) & (binds | reads)):
            return False
    return True


def _read_spot(stmt, field, name):
    """(parent, field, index) of the load of ``name`` in ``stmt.<field>``, not inside a nested
    scope, or None."""
    stack = [(stmt, field, None)]
    while stack:
        parent, attr, index = stack.pop()
        node = getattr(parent, attr) if index is None else getattr(parent, attr)[index]
        if isinstance(node, gast.Name) and node.id == name and isinstance(node.ctx, gast.Load):
            return parent, attr, index
        if isinstance(node, _SCOPES):
            continue
        for f in node._fields:
            child = getattr(node, f, None)
            if isinstance(child, gast.AST):
                stack.append((node, f, None))
            elif isinstance(child, list):
                stack.extend((node, f, i) for i, c in enumerate(child) if isinstance(c, gast.AST))
    return None


# ---------------------------------------------------------------- constants and small powers

_FOLDABLE = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
             gast.Div: operator.truediv, gast.Pow: operator.pow, gast.FloorDiv: operator.floordiv,
             gast.Eq: operator.eq, gast.NotEq: operator.ne, gast.Lt: operator.lt,
             gast.LtE: operator.le, gast.Gt: operator.gt, gast.GtE: operator.ge,
             gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_}


def _number(node):
    return isinstance(node, gast.Constant) and type(node.value) in (int, float, bool)


_ARITHMETIC = (gast.BinOp, gast.UnaryOp, gast.Compare)


class FoldConstants(gast.NodeTransformer):
    """Evaluate operations on literal numbers, pick ``np.where(True/False, a, b)``, and write small
    integer powers as products: ``x ** np.where(2 == 0, 1.0, 2 - 1)`` becomes ``x``, ``x ** 2``
    becomes ``x * x`` (numpy's generic power is many times slower than a multiply) in the
    expressions the compiler writes, not in the user's own ``t = a ** 2``.

    ``where_names`` are the expressions (``np.where``) that name numpy's where in generated code.
    """

    def __init__(self, where_names, powers=True):
        self.where_names = where_names
        self.in_arithmetic = False  # the parent of the node being visited is an operator
        self.powers = powers  # (x ** 2 as x * x: in the expressions the compiler wrote only)
        self.kept = None  # (the power an assignment binds, t = a ** 2: the user's own)

    def visit_Assign(self, node):
        # (t = a ** 2 is the user's own power, on what may be an object of theirs with a
        # __pow__ and no __mul__: it stays; the rules' powers, g * 2 * x ** 1, are written out)
        self.kept = node.value
        return self.generic_visit(node)

    def generic_visit(self, node):
        outer, self.in_arithmetic = self.in_arithmetic, isinstance(node, _ARITHMETIC)
        try:
            return super().generic_visit(node)
        finally:
            self.in_arithmetic = outer

    def _picked(self, node, value):
        """``value`` in place of ``node`` (a fresh result) where that keeps what shares memory:
        a name, an attribute or an item would be the very object where ``node`` made a new one,
        so it is taken only as an operand of an operator (``g * x ** 1``), never as a value that
        is bound, stored or passed on (``t = x - 0.0``, ``[np.where(True, y, z)]``, a call's
        argument), where a later in-place write through it would reach ``x`` or ``y``."""
        if self.in_arithmetic or not isinstance(value, (gast.Name, gast.Attribute, gast.Subscript,
                                                        gast.Starred)):
            return value
        return node

    def visit_BinOp(self, node):
        kept = node is self.kept
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
                not isinstance(node.right.value, bool) and node.right.value == 0:
            return self._picked(node, node.left)
        if _number(node.left) and _number(node.right):
            try:
                return gast.Constant(value=_FOLDABLE[type(node.op)](node.left.value,
                                                                    node.right.value), kind=None)
            except (KeyError, ArithmeticError, ValueError, OverflowError):
                return node
        if isinstance(node.op, gast.Pow) and _number(node.right) and self.powers and not kept \
                and not isinstance(node.right.value, bool) and isinstance(node.left, gast.Name):
            n = node.right.value
            if n == 1:
                return self._picked(node, node.left)
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
        if isinstance(node.op, gast.USub) and isinstance(node.operand, gast.UnaryOp) and \
                isinstance(node.operand.op, gast.USub):
            return self._picked(node, node.operand.operand)  # -(-a) is a (negation is exact)
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
                type(node.args[0].value) is bool and \
                not _checks(node.args[2] if node.args[0].value else node.args[1]):
            return self._picked(node, node.args[1] if node.args[0].value else node.args[2])
        return node


# runtime helpers that refuse a value (a rule's check that its argument is real): a branch of
# np.where(True/False, ...) that calls one is kept, or the check would be folded away with it
_CHECKS = frozenset({"real_only"})


def _checks(node):
    return any(isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and
               n.func.attr in _CHECKS for n in walk(node))


def fold_constants(stmts, where_names, powers=True):
    """Apply :class:`FoldConstants` to every statement (in place); returns the statements."""
    folder = FoldConstants(where_names, powers)
    return [folder.visit(s) for s in stmts]


def optimize(body, bar_names, removable, live_out, where_names=frozenset(),
             inline=False, fresh=None):
    """Run the passes over a generated function's body (primal and adjoint sweeps, or the forward
    sweep); returns the new body. With ``inline``, single-use temporaries are folded into their
    readers (forward mode, where nothing is saved for a later sweep). With ``fresh`` (a maker of
    new names), the adjoint loops skip in their last pass what only a next pass would read
    (:func:`last_pass_guards`)."""
    body = fold_constants(body, where_names)
    fold_zeros(body, bar_names)
    body = dead_code(body, removable, live_out)
    if fresh is not None:
        body = last_pass_guards(body, removable, live_out, fresh)
    if inline:
        body = fold_constants(inline_temps(body, removable), where_names, powers=False)
    return body
