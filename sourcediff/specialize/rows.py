"""Row blocking: a gradient over a large data matrix computed a block of rows at a time.

A loss over a data matrix much larger than the cache, such as logistic regression on ``X`` of
shape (200000, 100), reads ``X`` twice: once in the forward pass (``z = X @ w``) and once in the
backward pass (``w_bar = X.T @ z_bar``). Both reads stream ``X`` from memory, and the elementwise
work between them is cheap, so the gradient costs two trips through memory. When every step
between the two reads works row by row, the specialized code can instead loop over blocks of
rows, and the block ``X`` read by the forward step is still in the cache when the backward step
reads it again::

    z = X @ w                         for _r in range(0, 200000, 2621):
    _mul1 = -y * z                        X_rows = X[_r:_r + 2621]
    ...                                   y_rows = y[_r:_r + 2621]
    w_bar = X.T @ z_bar                   z = X_rows @ w
                                          ...
                                          _part = X_rows.T @ z_bar
                                          _rows1 = _part if _rows1 is None else _rows1 + _part
                                      w_bar = _rows1

The blocked statements are those that depend on the rows. A statement that does not (a
constant, a function of the weights) runs once before the loop. A statement that needs a sum
over all the rows runs once after it. Reductions over the rows (``X.T @ g``, ``g @ X``,
``np.sum(r)``, ``np.mean(r)``, ``r.sum(axis=0)``) become sums of per-block parts. Everything
else must be row by row: elementwise operations and ufuncs whose other operands do not depend on
the rows (or broadcast along them), ``X_rows @ w``, reductions along other axes, and the
runtime's elementwise helpers.

Anything else (indexing the rows, a value that needs all the rows feeding back into a row-wise
step, as in centring by the column means, a call to a user function, control flow) leaves the
code as it is. So does a reordering that would change which assignment a read sees. The only
numerical difference is the order of the additions in the reductions.
"""

import gast
import numpy as np

from .. import runtime
from ..compiler.emit import is_comment
from ..rules import registry
from ..syntax import children, walk
from .facts import ANYBOOL, ANYINT, F64S, PYFLOAT, Arr, Known, Scal, _load, _Method

BLOCK_MIN_BYTES = 8 << 20  # a row-indexed argument read twice and this large is worth blocking
BLOCK_BYTES = 2 << 20  # a block holds about this many bytes of the widest row-indexed argument
MIN_ROWS = 64  # never fewer rows in a block
MIN_BLOCKS = 4  # fewer blocks than this: the loop costs more than the cache saves

# (which calls work row by row: the ``rowwise`` facts of the registry, declared with the rules)
_REDUCTIONS = ("sum", "mean", "max", "min")  # the reductions blocks can compute part by part
_SUMS = ("sum", "mean")  # the reductions whose value over all rows is a sum of per-block parts

I, R, A = "invariant", "rows", "after"  # runs before the loop, in it, after it


class _Abort(Exception):
    pass


def _scalar(f):
    return f in (PYFLOAT, F64S, ANYINT, ANYBOOL) or type(f) is Scal or (
        type(f) is Known and isinstance(f.value, (bool, int, float, np.generic)))


def _names(node, ctx):
    return [n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, ctx)]


class _Classify:
    """The class (I, R or A) of every statement of a straight-line function, rewriting reductions
    over the rows into per-block parts."""

    def __init__(self, facts, n, row_params, fresh, runtime_name):
        self.facts, self.n, self.fresh, self.runtime_name = facts, n, fresh, runtime_name
        self.replaced = {}  # id(node) -> the node that replaces it
        self.cls = dict.fromkeys(row_params, R)  # class of the value each name holds now
        self.parts = []  # (accumulator name, per-block part) for the reductions found

    def fact(self, node):
        return self.facts.get(id(node))

    def join(self, classes):
        classes = set(classes)
        if R in classes and A in classes:
            raise _Abort("a value over all rows feeds a row-wise step")
        return R if R in classes else (A if A in classes else I)

    def rowwise(self, node, operands):
        """``node`` computes row by row from ``operands`` [(class, node)]: check the shapes."""
        res = self.fact(node)
        if type(res) is not Arr or not res.shape or res.shape[0] != self.n:
            raise _Abort("not an array over the rows")
        for c, o in operands:
            f = self.fact(o)
            if c == R:
                if type(f) is not Arr or len(f.shape) != len(res.shape) or f.shape[0] != self.n:
                    raise _Abort("a row operand that broadcasts along another axis")
            elif type(f) is Arr:
                if len(f.shape) == len(res.shape) and f.shape[0] != 1:
                    raise _Abort("an invariant operand as long as the rows")
            elif not _scalar(f):
                raise _Abort("an operand of unknown shape")
        return R

    def elementwise(self, node, children):
        """``node`` is elementwise over ``children``; returns (class, node)."""
        classes = []
        for child in children:
            classes.append(self.visit(child))
        c = self.join(classes)
        if c == R:
            self.rowwise(node, list(zip(classes, children)))
        return c

    def reduction(self, node, kind, operand, axis_node, keep_node):
        c = self.visit(operand)
        if c != R:
            return c, node
        f = self.fact(operand)
        if type(f) is not Arr:
            raise _Abort("reduction of an unknown shape")
        axis = self.constant(axis_node, None)
        keepdims = self.constant(keep_node, False)
        ndim = len(f.shape)
        if axis is None:
            axes = tuple(range(ndim))
        else:
            try:
                axes = tuple(int(a) % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))
            except (TypeError, ValueError, ZeroDivisionError):
                raise _Abort("reduction axis") from None
        if 0 not in axes:  # along each row: stays row-wise
            if f.shape[0] != self.n:
                raise _Abort("a row-wise value not over the rows")
            return self.rowwise(node, []), node
        if kind not in _SUMS:
            raise _Abort(f"{kind} over the rows")
        count = int(np.prod([f.shape[a] for a in axes]))
        keywords = [gast.keyword(arg="axis", value=gast.Constant(value=axes, kind=None))] \
            if axis is not None else []
        if keepdims:
            keywords.append(gast.keyword(arg="keepdims", value=gast.Constant(value=True, kind=None)))
        part = gast.Call(func=_sum_of(self.runtime_name), args=[operand], keywords=keywords)
        return A, self.accumulate(part, count if kind == "mean" else None)

    def accumulate(self, part, divide_by=None):
        name = self.fresh("_rows")
        self.parts.append((name, part))
        if divide_by is None:
            return _load(name)
        return gast.BinOp(left=_load(name), op=gast.Div(),
                          right=gast.Constant(value=divide_by, kind=None))

    def constant(self, node, default):
        if node is None:
            return default
        f = self.fact(node)
        if type(f) is not Known:
            raise _Abort("argument not a constant")
        return f.value

    def visit(self, node):
        """The class of expression ``node``; reductions over the rows inside it are replaced."""
        c, new = self.visit_node(node)
        if new is not node:
            self.replaced[id(node)] = new
        return c

    def visit_node(self, node):
        if isinstance(node, gast.Constant):
            return I, node
        if isinstance(node, gast.Name):
            return self.cls.get(node.id, I), node
        if isinstance(node, gast.BinOp):
            if isinstance(node.op, gast.MatMult):
                return self.matmul(node)
            return self.elementwise(node, [node.left, node.right]), node
        if isinstance(node, gast.UnaryOp):
            return self.elementwise(node, [node.operand]), node
        if isinstance(node, gast.Compare):
            return self.elementwise(node, [node.left] + list(node.comparators)), node
        if isinstance(node, gast.Call):
            return self.call(node)
        if isinstance(node, gast.Attribute):
            c = self.visit(node.value)
            if c == R:
                return I, self.constant_of(node)
            return c, node
        if isinstance(node, (gast.Tuple, gast.List, gast.Subscript, gast.Slice, gast.IfExp,
                             gast.BoolOp, gast.keyword)):
            c = self.join(self.visit(child) for child in children(node)
                          if isinstance(child, (gast.expr, gast.keyword)))
            if c == R:
                raise _Abort(f"{type(node).__name__} of a row-wise value")
            return c, node
        raise _Abort(type(node).__name__)

    def matmul(self, node):
        left, right = node.left, node.right
        if isinstance(left, gast.Attribute) and left.attr == "T":
            inner = self.visit(left.value)
            cr = self.visit(right)
            fl, fr = self.fact(left.value), self.fact(right)
            if inner == R and cr == R and type(fl) is Arr and type(fr) is Arr and \
                    len(fl.shape) == 2 and len(fr.shape) in (1, 2) and fr.shape[0] == self.n:
                return A, self.accumulate(node)  # X.T @ g: a sum over the rows
            if inner == R:
                raise _Abort("a transposed row-wise value")
            c = self.join([inner, cr])
            if c == R:
                raise _Abort("contraction with a row-wise right operand")
            return c, node
        cl, cr = self.visit(left), self.visit(right)
        if R not in (cl, cr):
            return self.join([cl, cr]), node
        fl, fr = self.fact(left), self.fact(right)
        if type(fl) is not Arr or type(fr) is not Arr:
            raise _Abort("matmul of unknown shapes")
        if cl == R and cr == I and len(fl.shape) == 2 and len(fr.shape) in (1, 2) and \
                fl.shape[0] == self.n:
            return self.rowwise(node, []), node  # X @ w: row by row
        if cl == R and cr == R and len(fl.shape) == 1 and len(fr.shape) in (1, 2) and \
                fl.shape[0] == fr.shape[0] == self.n:
            return A, self.accumulate(node)  # g @ X: a sum over the rows
        raise _Abort("matmul across the rows")

    def call(self, node):
        f = self.fact(node.func)
        if isinstance(f, _Method) and isinstance(node.func, gast.Attribute):
            kind = registry.facts(getattr(np.ndarray, node.func.attr, None)).rowwise
            if kind not in _REDUCTIONS:
                raise _Abort(f"method .{node.func.attr}")
            if self.visit(node.func.value) != R:
                return self.plain_call(node)
            return self.reduction_call(node, kind, node.func.value, node.args)
        if type(f) is not Known:
            raise _Abort("call of an unknown function")
        fn = f.value
        kind = registry.facts(fn).rowwise
        if kind in _REDUCTIONS and node.args:
            return self.reduction_call(node, kind, node.args[0], node.args[1:])
        if fn is runtime.unreduce:
            return self.unreduce(node)
        if fn is runtime.extremum_weights:
            return self.along_rows(node)
        if fn in (runtime.matmul_grad_left, runtime.matmul_grad_right):
            return self.matmul_grad(node, fn is runtime.matmul_grad_left)
        if kind in ("elementwise", "row"):
            if node.keywords:
                raise _Abort("keywords of an elementwise call")
            return self.elementwise(node, node.args), node
        return self.plain_call(node)

    def unreduce(self, node):
        """``unreduce(g, x, axis, keepdims)``, the gradient of a reduction broadcast back to
        ``x``'s shape: row by row when ``x`` is, and ``g`` either does not depend on the rows (the
        reduction was over them) or is row-wise itself (it was along each row)."""
        if node.keywords or not 2 <= len(node.args) <= 4:
            raise _Abort("unreduce arguments")
        g, x = node.args[:2]
        cg, cx = self.visit(g), self.visit(x)
        if cx != R:
            return self.plain_call(node)
        fx = self.fact(x)
        axis = self.constant(node.args[2] if len(node.args) > 2 else None, None)
        over_rows = axis is None or 0 in [int(a) % len(fx.shape) for a in
                                          (axis if isinstance(axis, tuple) else (axis,))]
        if cg == A or (cg == R) == over_rows:
            raise _Abort("unreduce across the rows")
        fg = self.fact(g)
        if cg == R and (type(fg) is not Arr or not fg.shape or fg.shape[0] != self.n):
            raise _Abort("unreduce of a value not over the rows")
        return self.rowwise(node, [(R, x)]), node

    def matmul_grad(self, node, left):
        """The gradients of ``x @ y``: for ``X @ w`` (X over the rows), X's is row by row and
        w's a sum over the rows; for ``s @ X`` (both over the rows), both are row by row."""
        if node.keywords or len(node.args) != 3:
            raise _Abort("helper arguments")
        classes = tuple(self.visit(a) for a in node.args)
        if R not in classes:
            return self.plain_call(node)
        fx, fy = self.fact(node.args[1]), self.fact(node.args[2])
        if type(fx) is not Arr or type(fy) is not Arr or fx.shape[0] != self.n:
            raise _Abort("matmul gradient of unknown shapes")
        if classes == (R, R, I) and len(fx.shape) == 2:  # X @ w
            return (self.rowwise(node, []), node) if left else (A, self.accumulate(node))
        if classes == (I, R, R) and len(fx.shape) == 1 and len(fy.shape) == 2 and \
                fy.shape[0] == self.n:  # s @ X
            return self.rowwise(node, []), node
        raise _Abort("matmul gradient across the rows")

    def along_rows(self, node):
        """``extremum_weights(a, ans, axis, keepdims)``: row by row when the max or min it
        weighs was taken along each row."""
        if node.keywords or len(node.args) != 4:
            raise _Abort("helper arguments")
        classes = [self.visit(a) for a in node.args]
        if R not in classes:
            return self.plain_call(node)
        fa, axis = self.fact(node.args[0]), self.constant(node.args[2], None)
        if classes[:2] != [R, R] or type(fa) is not Arr or fa.shape[0] != self.n or \
                axis is None or 0 in [int(a) % len(fa.shape) for a in
                                      (axis if isinstance(axis, tuple) else (axis,))]:
            raise _Abort("extremum over the rows")
        return self.rowwise(node, [(R, node.args[0])]), node

    def reduction_call(self, node, kind, operand, rest):
        kw = {k.arg: k.value for k in node.keywords}
        if len(rest) > 1 or set(kw) - {"axis", "keepdims"} or (rest and "axis" in kw):
            raise _Abort("reduction arguments")
        axis = rest[0] if rest else kw.get("axis")
        return self.reduction(node, kind, operand, axis, kw.get("keepdims"))

    def plain_call(self, node):
        """A call that is not row-wise: allowed when no argument depends on the rows and the
        function is numpy's, a builtin or the runtime's (no effect a reordering could show)."""
        f = self.fact(node.func)
        fn = f.value if type(f) is Known else None
        module = getattr(fn, "__module__", None) or ""
        if not (isinstance(fn, (np.ufunc, type(len))) or fn in (float, int, tuple, list) or
                module == "numpy" or module.startswith("numpy.") or
                module == runtime.__name__) and not isinstance(f, _Method):
            raise _Abort("a call of a function that may have effects")
        c = self.join([self.visit(node.func)] + [self.visit(a) for a in node.args] +
                      [self.visit(k.value) for k in node.keywords])
        if c == R:
            return I, self.constant_of(node)
        return c, node

    def constant_of(self, node):
        """``X.shape``, ``len(X)`` of a row-wise ``X``: the whole array's, a constant."""
        f = self.fact(node)
        if type(f) is Known and (type(f.value) is int or type(f.value) is tuple and
                                 all(type(v) is int for v in f.value)):
            return gast.Constant(value=f.value, kind=None)
        raise _Abort("a use of the rows that is not row by row")


def _sum_of(runtime_name):
    return gast.Attribute(value=gast.Attribute(value=_load(runtime_name), attr="np",
                                               ctx=gast.Load()), attr="sum", ctx=gast.Load())


def _reaching(order, writes, p, name):
    """The position of the last assignment of ``name`` before statement ``p`` in ``order``."""
    last = None
    for q in order:
        if q == p:
            return last
        if name in writes[q]:
            last = q
    return last


def block_rows(fdef, facts, params, runtime_name):
    """Rewrite the straight-line specialized ``fdef`` to loop over blocks of rows (see the module
    docstring); returns True when it did. ``facts`` are the inference's facts of the expressions,
    ``params`` the facts of the parameters by name."""
    body = fdef.body
    stmts = _computing_statements(body)
    if stmts is None:
        return False
    layout = _row_layout(body, stmts, params)
    if layout is None:
        return False
    n, row_params, rows = layout
    taken = {n_.id for n_ in walk(fdef) if isinstance(n_, gast.Name)} | set(params) | \
        {a.id for a in fdef.args.args}
    fresh = _fresh_names(taken)
    cl = _Classify(facts, n, row_params, fresh, runtime_name)
    classified = _sections(body, stmts, cl)
    if classified is None or not cl.parts:
        return False
    section, parts_of = classified
    writes, reads_of = _effects(body, stmts)
    in_loop = [i for i in stmts if section[i] == R]
    if not _reordering_keeps_reads(stmts, section, writes, reads_of, in_loop):
        return False
    _replace_reductions(fdef, cl.replaced)
    block_names = {p: fresh(f"{p}_rows", False) for p in row_params}
    start = fresh("_r", False)
    loop_body = _block_reads(row_params, block_names, start, rows, reads_of, in_loop, cl.parts)
    pre, post, inits, pending = _distribute(body, section, parts_of, loop_body, block_names,
                                            fresh)
    loop = gast.For(target=gast.Name(id=start, ctx=gast.Store(), annotation=None,
                                     type_comment=None),
                    iter=gast.Call(func=_load("range"), args=[gast.Constant(value=0, kind=None),
                                   gast.Constant(value=n, kind=None),
                                   gast.Constant(value=rows, kind=None)], keywords=[]),
                    body=loop_body, orelse=[], type_comment=None)
    fdef.body = pre + inits + [loop] + post + pending
    return True


def _computing_statements(body):
    """The indices in ``body`` of the statements that compute (assignments to one name and the
    final return), or None when the body is not straight-line code ending in a return."""
    stmts = []
    for i, s in enumerate(body):
        if is_comment(s) or (i == 0 and isinstance(s, gast.Expr) and
                             isinstance(s.value, gast.Constant)):
            continue
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], gast.Name):
            stmts.append(i)
        elif isinstance(s, gast.Return) and i == len(body) - 1:
            stmts.append(i)
        else:
            return None
    if not stmts or not isinstance(body[stmts[-1]], gast.Return):
        return None
    return stmts


def _row_layout(body, stmts, params):
    """(the number of rows, the parameters with that many rows, the rows per block): the rows
    are the leading axis of the largest array argument, if it is large and read twice; None when
    there is no such argument or too few blocks."""
    arrays = {p: f for p, f in params.items() if type(f) is Arr and f.shape}
    big = [p for p, f in arrays.items() if len(f.shape) >= 2 and
           int(np.prod(f.shape)) * f.dtype.itemsize >= BLOCK_MIN_BYTES]
    if not big:
        return None
    main = max(big, key=lambda p: int(np.prod(arrays[p].shape)))
    n = arrays[main].shape[0]
    reads = sum(_names(body[i], gast.Load).count(main) for i in stmts)
    if reads < 2:
        return None
    row_params = [p for p, f in arrays.items() if f.shape[0] == n]
    row_bytes = max(int(np.prod(arrays[p].shape[1:])) * arrays[p].dtype.itemsize
                    for p in row_params)
    rows = max(MIN_ROWS, BLOCK_BYTES // max(row_bytes, 1))
    if n < MIN_BLOCKS * rows:
        return None
    return n, row_params, rows


def _fresh_names(taken):
    """A maker of names not in ``taken`` (``stem1``, ``stem2``, ...; ``stem`` itself when not
    ``numbered`` and free), each added to it."""
    def fresh(stem, numbered=True):
        k, name = 1, stem if not numbered and stem not in taken else f"{stem}1"
        while name in taken:
            k += 1
            name = f"{stem}{k}"
        taken.add(name)
        return name
    return fresh


def _sections(body, stmts, cl):
    """(the class, I, R or A, of each computing statement by index, the per-block parts of the
    sums each one reads), or None when a statement cannot be blocked."""
    section, parts_of = {}, {}
    try:
        for i in stmts:
            s = body[i]
            before = len(cl.parts)
            c = cl.visit(s.value) if s.value is not None else I
            if len(cl.parts) > before:
                parts_of[i] = cl.parts[before:]
                c = A if c == I else c
            if isinstance(s, gast.Return):
                if c == R:
                    raise _Abort("returns a row-wise value")
                section[i] = A if c == I else c
                continue
            target = s.targets[0].id
            if target in cl.cls and (cl.cls[target] == R) != (c == R):
                raise _Abort(f"{target} holds row-wise and other values")
            cl.cls[target] = c
            section[i] = c
    except _Abort:
        return None
    return section, parts_of


def _effects(body, stmts):
    """(the names each computing statement writes, with its ``out=`` buffers; the names it
    reads), by index."""
    writes, reads_of = {}, {}
    for i in stmts:
        s = body[i]
        w = set(_names(s.targets[0], gast.Store)) if isinstance(s, gast.Assign) else set()
        for n_ in walk(s.value) if s.value is not None else ():
            if isinstance(n_, gast.keyword) and n_.arg == "out":
                w |= set(_names(n_.value, gast.Load))
        writes[i] = w
        reads_of[i] = set(_names(s.value, gast.Load)) if s.value is not None else set()
    return writes, reads_of


def _reordering_keeps_reads(stmts, section, writes, reads_of, in_loop):
    """Whether the reordering (I statements first, then the loop, then A) leaves every read
    seeing the assignment it saw, and no block seeing a value of an earlier block."""
    order = [i for i in stmts if section[i] == I] + [i for i in stmts if section[i] == R] + \
        [i for i in stmts if section[i] == A]
    for p in stmts:
        for name in reads_of[p]:
            orig = _reaching(stmts, writes, p, name)
            if section[p] == R and (orig is None or section[orig] != R) and \
                    any(name in writes[q] for q in in_loop):
                return False  # a later block would see this block's value
            if _reaching(order, writes, p, name) != orig:
                return False
    return True


def _replace_reductions(fdef, replaced):
    """Put each node of ``replaced`` (by id) in place of the node it replaces, in ``fdef``."""
    for node in list(walk(fdef)):
        for field, value in gast.iter_fields(node):
            if isinstance(value, list):
                for k, item in enumerate(value):
                    if id(item) in replaced:
                        value[k] = replaced[id(item)]
            elif id(value) in replaced:
                setattr(node, field, replaced[id(value)])


def _block_reads(row_params, block_names, start, rows, reads_of, in_loop, parts):
    """The loop body's first statements: the block of each row argument that the loop reads
    (``X_rows = X[_r:_r + rows]``)."""
    loop_body = []
    for p in row_params:
        if any(p in reads_of[i] for i in in_loop) or any(
                p in _names(part, gast.Load) for _, part in parts):
            loop_body.append(gast.Assign(targets=[gast.Name(id=block_names[p], ctx=gast.Store(),
                                                            annotation=None, type_comment=None)],
                                         value=_rows_of(p, start, rows), type_comment=None))
    return loop_body


def _local(stmt, block_names):
    """``stmt`` reading each row argument through its block."""
    for n_ in walk(stmt):
        if isinstance(n_, gast.Name) and isinstance(n_.ctx, gast.Load) and \
                n_.id in block_names:
            n_.id = block_names[n_.id]
    return stmt


def _distribute(body, section, parts_of, loop_body, block_names, fresh):
    """(before the loop, after it, the sums' initialisations, the comments left at the end):
    each statement of ``body`` put where its section runs (the loop's into ``loop_body``), with
    the block's part of each sum over the rows added in the loop where the sum was."""
    pre, post, inits = [], [], []
    pending = []  # comments wait for the statement they describe
    for i, s in enumerate(body):
        if i not in section:
            if i == 0 and not is_comment(s):
                pre.append(s)  # the docstring
            else:
                pending.append(s)
            continue
        if parts_of.get(i):  # the block's part of each sum over the rows, where it was
            loop_body.extend(pending)
            for name, part in parts_of[i]:
                inits.append(_assign(name, gast.Constant(value=None, kind=None)))
                part_name = fresh("_part")
                loop_body.append(_assign(part_name, _local(part, block_names)))
                loop_body.append(_assign(name, gast.IfExp(
                    test=gast.Compare(left=_load(name), ops=[gast.Is()],
                                      comparators=[gast.Constant(value=None, kind=None)]),
                    body=_load(part_name), orelse=gast.BinOp(left=_load(name), op=gast.Add(),
                                                             right=_load(part_name)))))
        dest = {I: pre, R: loop_body, A: post}[section[i]]
        dest.extend(pending)
        pending = []
        dest.append(_local(s, block_names) if section[i] == R else s)
    return pre, post, inits, pending


def _assign(name, value):
    return gast.Assign(targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None,
                                          type_comment=None)], value=value, type_comment=None)


def _rows_of(param, start, rows):
    upper = gast.BinOp(left=_load(start), op=gast.Add(), right=gast.Constant(value=rows, kind=None))
    return gast.Subscript(value=_load(param), slice=gast.Slice(lower=_load(start), upper=upper,
                                                               step=None), ctx=gast.Load())
