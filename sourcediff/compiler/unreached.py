"""Which assignments' results may reach the output on no path the call takes: their adjoint is then
still the symbolic zero 0.0 when their rule runs, and the reverse sweep skips the rule.

A value computed before a branch and read only on one side (``t = np.log(x); y = t if x > 0 else
0.0``), or read only by Python's ``max``/``min``, which return one item: on the other path the
value is not in the result, and PyTorch and JAX give it no gradient at all. Running its rule with
the gradient 0.0 gave 0 * inf = nan at ``x = 0``. The reverse sweep guards such a rule with
``if _sd.nonzero_grad(t_bar):`` (compiler/reverse.py); the symbolic zero then passes on to the
rule's operands unchanged, and so on down the chain (the operands are in this set too).

Before (``grad_f`` for the two lines above)::

    _item1_bar = t_bar / _item1

After::

    if _sd.nonzero_grad(t_bar):
        _item1_bar = t_bar / _item1

The analysis is on the normalized body: an assignment's result reaches the output for sure when a
statement after it reads it, in its block or after the branch or loop holding it (not inside a
branch or loop there), that statement's own result being sure too; in a loop body a read before
it counts as well (the next pass reads it), and one after the loop only if the loop binds the
name on no later pass. Reads through ``max``/``min`` do not count. What it
misses keeps the rule unguarded, as before; a guard where none was needed only skips zeros.
"""

import builtins

import gast

from ..syntax import _names_in, walk

_PICKS = (builtins.max, builtins.min)


def unreached(body, ops, active):
    """The ids of the assignments in ``body`` (the normalized body and its ``return``) whose result
    may reach the output on no path taken. ``ops`` maps an assignment's id to its resolved
    operation, ``active`` are the names that carry derivatives."""
    out = set()
    _block(body, ops, active, out, in_loop=False)
    return out


class _LoopExit:
    """Where a loop's body continues after the loop: reached by a value of the last pass only
    (one the loop binds again on a later pass is not read there)."""

    def __init__(self, loop):
        self.bound = {n.id for n in walk(loop)
                      if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


def _block(stmts, ops, active, out, in_loop, after=()):
    """``after``: the statements that follow this block in the blocks around it (top level)."""
    for i, s in enumerate(stmts):
        rest = list(stmts[i + 1:]) + list(after)
        if isinstance(s, gast.If):
            _block(s.body, ops, active, out, in_loop, rest)
            _block(s.orelse, ops, active, out, in_loop, rest)
        elif isinstance(s, (gast.For, gast.While)):
            _block(s.body, ops, active, out, True, [_LoopExit(s)] + rest)
    for k in range(len(stmts) - 1, -1, -1):
        s = stmts[k]
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
            continue
        name = s.targets[0].id
        if name not in active:
            continue
        later = _reads_until_rebound(list(stmts[k + 1:]) + list(after), name)
        earlier = _reads_until_rebound(stmts[:k], name) if in_loop else []  # (the next pass)
        if not any(_sure_read(r, ops, active, out) for r in later + earlier):
            out.add(id(s))


def _reads_until_rebound(stmts, name):
    """The statements of ``stmts`` (top level only) that read ``name`` before one binds it."""
    reads = []
    for s in stmts:
        if isinstance(s, _LoopExit):
            if name in s.bound:
                break
            continue
        if isinstance(s, (gast.If, gast.For, gast.While)):
            continue  # (a read in there happens on some paths only)
        if name in _names_in([s.value] if isinstance(s, (gast.Assign, gast.Expr, gast.Return))
                             else [s]):
            reads.append(s)
        elif isinstance(s, gast.Assign) and any(name in _names_in([t]) for t in s.targets):
            reads.append(s)  # (y[name] = v: an index; counted as a read, nothing is guarded)
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                and s.targets[0].id == name:
            break
    return reads


def _sure_read(s, ops, active, out):
    """Whether statement ``s``, which reads a name, surely passes it a gradient: its own result
    carries one and is sure to reach the output, and it is not Python's max/min (which passes it
    to one item). A test (``c = t < 5``) passes none."""
    if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
        return True  # (an item assignment, an append, a return: as before, unguarded)
    if id(s) in out or s.targets[0].id not in active:
        return False
    op = ops.get(id(s))
    return op is None or op.kind != "rule" or not any(op.key is p for p in _PICKS)
