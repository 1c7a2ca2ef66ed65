"""Release pass: the specialized gradient lets go of its large arrays where their last read passes.

Python frees a local only when the name is bound again or the function returns, so every array
the forward sweep of a straight-line gradient makes stays alive through the backward sweep, read
or not: memory the gradient holds at its peak, and pages the system hands out again on every
call. After the top-level statement where a large array (by its facts; or a value no fact tells,
as a list parameter's items or a loop's list of rows) is read for the last time, this pass
writes ``del name``; where the rest of the function reads it
only for its type, shape and dtype (``_sd.unreduce(g, _mul2, 2, False)``: the registry's
``type_only`` facts, as compiler/saves.py reads them), ``name = _sd.like_of(name)``, a read-only
stand-in of one element. The one liveness analysis (``syntax.live_in``) decides it. It runs last:
no later pass reuses a released name as a buffer, and a ``del`` only drops a name, never an
object another name still holds (a buffer written with ``out=`` lives on in its result's name).

Example (W9's mixture likelihood, N=2000, K=16, D=8)::

    _mul2 = _pow1 * inv_var                 _mul2 = _pow1 * inv_var
    _sum1 = np.sum(_mul2, axis=2)           _sum1 = np.sum(_mul2, axis=2)
    _mul3 = -0.5 * _sum1                    _mul2 = _sd.like_of(_mul2)
    ...                                     _mul3 = -0.5 * _sum1
                                            del _sum1
                                            ...

Nothing is released in a function that calls ``locals``, ``vars``, ``eval``, ``exec`` or
``dir``, nor a name a nested function, lambda or generator reads (it may run later), nor one the
code deletes itself; a name is released only where a top-level assignment has surely bound it.
"""

import gast

from ..compiler.saves import stand_in, type_only_names
from ..syntax import _assigned, _loads, is_comment, live_in, located, walk
from .facts import TOP, Arr, _size

# an array smaller than this is not worth a statement
RELEASE_BYTES = 64 * 1024

_INTROSPECTION = frozenset({"locals", "vars", "eval", "exec", "dir"})
_SCOPES = (gast.Lambda, gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.GeneratorExp)


def release(fdef, ever, bound, runtime_name, stack_name=None, min_bytes=RELEASE_BYTES):
    """Insert the releases into ``fdef``'s top-level statements in place; returns how many.
    ``ever``: name -> the join of the facts of every value it holds (the inference's); ``bound``:
    the generated code's global names and their objects (for the ``type_only`` facts)."""
    names = _releasable(fdef, ever, stack_name, min_bytes)
    if not names:
        return 0
    body = fdef.body
    record = {}
    before = live_in(body, set(), record=record)  # (names live before the statement)
    # what the statements after each one read for their values and bind (one walk from the end)
    value_reads = [_loads(s) - type_only_names([s], bound) for s in body]
    later_values, later_bound = [set()] * len(body), [set()] * len(body)
    last_code = max((k for k, s in enumerate(body) if not is_comment(s) and
                     not isinstance(s, gast.Return)), default=-1)
    for k in range(len(body) - 2, -1, -1):
        later_values[k] = later_values[k + 1] | value_reads[k + 1]
        later_bound[k] = later_bound[k + 1] | _assigned(body[k + 1])
    surely = set()  # names a top-level assignment has bound and no release has dropped
    out, changed = [], 0
    for i, s in enumerate(body):
        out.append(s)
        if is_comment(s):
            continue
        after = record[id(s)]
        if isinstance(s, gast.Assign) and all(isinstance(t, gast.Name) for t in s.targets):
            surely |= {t.id for t in s.targets}
        bound_here = _assigned(s)
        here = (before | bound_here) & names & surely
        before = after
        if i >= last_code:  # (only comments and the return follow: nothing to free memory for)
            continue
        # (not where a constant was just stored, nor just before the name is bound again)
        dead = sorted(n for n in here if n not in after and not _stored_constant(s, n) and
                      not _bound_next(body, i + 1, n))
        # (read for its values or bound here, and after it read only for its type and shape)
        shapes = sorted(n for n in here & after if (n in value_reads[i] or n in bound_here)
                        and n not in later_values[i] and n not in later_bound[i])
        if dead:
            out.append(located(gast.Delete(targets=[
                gast.Name(id=n, ctx=gast.Del(), annotation=None, type_comment=None)
                for n in dead]), s))
            surely -= set(dead)
        for n in shapes:
            out.append(located(gast.Assign(targets=[gast.Name(
                id=n, ctx=gast.Store(), annotation=None, type_comment=None)],
                value=stand_in(n, runtime_name), type_comment=None), s))
        changed += len(dead) + len(shapes)
    fdef.body = out
    return changed


def _releasable(fdef, ever, stack_name, min_bytes):
    """The names worth releasing: assigned at the top level, large arrays by their facts, and
    none the function could still reach some other way."""
    nested, deleted, declared, calls = set(), set(), set(), set()
    for node in walk(fdef):
        if isinstance(node, _SCOPES) and node is not fdef:
            nested |= {n.id for n in walk(node) if isinstance(n, gast.Name)}
        elif isinstance(node, gast.Name) and isinstance(node.ctx, gast.Del):
            deleted.add(node.id)
        elif isinstance(node, (gast.Global, gast.Nonlocal)):
            declared |= set(node.names)
        elif isinstance(node, gast.Call) and isinstance(node.func, gast.Name):
            calls.add(node.func.id)
    if calls & _INTROSPECTION:
        return set()
    # (not a name that only ever holds a constant, or an item, an attribute or a view of a value
    # the function did not make: that value holds its array anyway; a copy of a made one counts)
    top, made, copies = set(), set(), []
    for s in fdef.body:
        if isinstance(s, gast.Assign):
            top |= {t.id for t in s.targets if isinstance(t, gast.Name)}
    for s in walk(fdef):
        if isinstance(s, gast.Assign):
            targets = {t.id for t in s.targets if isinstance(t, gast.Name)}
            if isinstance(s.value, gast.Name):
                copies.append((s.value.id, targets))
            elif not isinstance(s.value, (gast.Subscript, gast.Attribute, gast.Constant)):
                made |= targets
    while any(source in made and not targets <= made for source, targets in copies):
        for source, targets in copies:
            if source in made:
                made |= targets
    top &= made
    return {n for n in top - nested - deleted - declared - {stack_name}
            if _large(ever.get(n), min_bytes)}


def _large(fact, min_bytes):
    if fact is TOP:
        return True  # (unknown: a list of a loop's rows, an array of a shape no fact tells)
    return type(fact) is Arr and all(type(d) is int for d in fact.shape) and \
        _size(fact) * fact.dtype.itemsize >= min_bytes


def _stored_constant(s, name):
    return isinstance(s, gast.Assign) and isinstance(s.value, gast.Constant) and \
        name in _assigned(s)


def _bound_next(body, start, name):
    for k in range(start, len(body)):
        if not is_comment(body[k]):
            return isinstance(body[k], gast.Assign) and name in _assigned(body[k])
    return False


def without_releases(fdef):
    """``fdef`` without the ``del`` statements of names (the numba backend refuses them and frees
    its arrays itself), in place."""
    for node in walk(fdef):
        for field in ("body", "orelse"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list):
                kept = [s for s in stmts if not (isinstance(s, gast.Delete) and all(
                    isinstance(t, gast.Name) for t in s.targets))]
                setattr(node, field, kept or [gast.Pass()])
    return fdef
