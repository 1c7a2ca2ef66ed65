"""The gradient of a list or tuple argument built as a display of its entries' names.

The generic code builds it at run time: ``_item2_bar = _sd.scatter_basic(b_bar, _item2, 1)``
makes a list of zeros with one entry set, ``+`` adds such lists entry by entry, a slice's
gradient is scattered into the whole list's, and ``_sd.grad_like(params_bar, params)`` gives it
the argument's structure at the end. With every sequence's length known (an indexable Seq) and
every entry set once, the pass follows those statements in order and writes what they build:
``return [(W_bar0, b_bar0), (W_bar1, b_bar1)]``.
"""

import gast

from ..syntax import walk
from .facts import TOP, Arr, Known, Seq, _sd_call

_ZERO = object()  # a gradient that is still the symbolic zero 0.0


def sequence_grads(fdef, facts, runtime_names):
    """Rewrite the statements that build a list or tuple argument's gradient (see the module's
    doc) when each is one of: ``A = _sd.scatter_basic(g, S, k)``, ``A = A + _sd.scatter_basic(g,
    S, k)``, the same under ``if _sd.nonzero_grad(B):``, ``del A`` and, last, ``return
    _sd.grad_like(P, S)``, with ``S`` an indexable Seq of float array leaves, ``k`` a known
    position or slice, no entry set twice and every leaf's gradient an array of its leaf's
    shape and dtype. Anything else that reads a gradient it follows: no change. Returns 1 when
    it rewrote the function, else 0."""
    env, drop, last = {}, set(), fdef.body[-1] if fdef.body else None
    taken = {n.id for n in walk(fdef) if isinstance(n, gast.Name)}
    bound = {}  # id(statement) -> the name the leaf gradient it scatters is kept under
    for s in fdef.body:
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Constant) and \
                s.value.value == 0.0 and type(s.value.value) is float:
            env[s.targets[0].id] = _ZERO
            continue
        step = _scatter_step(s, env, facts, runtime_names, taken)
        if step is not None:
            if step is False:
                return 0
            if step is True:
                drop.add(id(s))
            else:
                bound[id(s)] = step  # (``g`` may be assigned again: kept under its own name)
            continue
        if isinstance(s, gast.Delete) and all(isinstance(t, gast.Name) for t in s.targets):
            s.targets = [t for t in s.targets if type(env.get(t.id)) is not list]
            if not s.targets:
                drop.add(id(s))
            continue
        if s is last and isinstance(s, gast.Return) and s.value is not None:
            values = s.value.elts if isinstance(s.value, gast.Tuple) else [s.value]
            displays = [_final(v, env, facts, runtime_names) for v in values]
            if all(d is None for d in displays):
                return 0
            if isinstance(s.value, gast.Tuple):
                s.value.elts = [v if d is None else d for v, d in zip(values, displays)]
            else:
                s.value = displays[0]
            if any(isinstance(n, gast.Name) and type(env.get(n.id)) is list
                   for n in walk(s.value)):
                return 0  # (a gradient it follows read another way)
            break
        for node in walk(s):  # (another read of a gradient it follows: not its form)
            if isinstance(node, gast.Name) and node.id in env:
                if type(env[node.id]) is list:
                    return 0
                del env[node.id]
    else:
        return 0
    body = []
    for s in fdef.body:
        if id(s) in bound:
            name, g = bound[id(s)]
            s = gast.Assign(targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None,
                                               type_comment=None)],
                            value=gast.Name(id=g, ctx=gast.Load(), annotation=None,
                                            type_comment=None), type_comment=None)
        if id(s) not in drop:
            body.append(s)
    fdef.body = body
    return 1


def _scatter_step(s, env, facts, runtime_names, taken):
    """Follow ``s`` if it is one of the scatter forms: None (not one), False (one this pass
    cannot follow: give up), True (followed, ``env`` updated), or (name, g): followed, the leaf
    gradient ``g`` it scatters to be kept under the new ``name``."""
    guard = None
    if isinstance(s, gast.If) and not s.orelse and len(s.body) == 1 and \
            _sd_call(s.test, runtime_names) == "nonzero_grad" and len(s.test.args) == 1 and \
            isinstance(s.test.args[0], gast.Name):
        guard, s = s.test.args[0].id, s.body[0]
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and
            isinstance(s.targets[0], gast.Name)):
        return None
    target, value, base = s.targets[0].id, s.value, None
    if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add) and \
            isinstance(value.left, gast.Name):
        base, value = value.left.id, value.right
    if _sd_call(value, runtime_names) != "scatter_basic" or len(value.args) != 3 or \
            value.keywords or not isinstance(value.args[0], gast.Name):
        return None
    seq = facts.get(id(value.args[1]), TOP)
    if type(seq) is not Seq or not seq.indexable():
        return None  # (an array's scatter: its reads of a followed gradient are checked)
    if base is not None and base not in env:
        return False
    g = value.args[0].id
    if guard is not None and (guard != g or g not in env):
        return False
    keep = None
    if g not in env:
        keep = f"_grad{len(taken)}"
        while keep in taken:
            keep += "_"
        taken.add(keep)
    entry = env.get(g, (keep, facts.get(id(value.args[0]), TOP)))
    if entry is _ZERO:
        if guard is not None:
            return True  # (the guarded scatter of a zero: skipped)
        return False
    positions = _positions(value.args[2], facts, len(seq.items))
    if positions is None:
        return False
    old = env.get(base, _ZERO) if base is not None else _ZERO
    out = list(old) if type(old) is list else [None] * len(seq.items)
    if len(out) != len(seq.items):
        return False
    parts = entry if len(positions) > 1 or type(positions[0]) is not int else [entry]
    if type(parts) is not list or len(parts) != len(positions):
        return False
    for k, part in zip(positions, parts):
        if part is None:
            continue
        if out[k] is not None:
            return False  # (an entry set twice would need an add)
        out[k] = part
    env[target] = out
    return True if keep is None else (keep, g)


def _positions(node, facts, n):
    """The positions of a sequence of ``n`` items that index ``node`` takes, in order: [k] for
    one position (an int), a list for a slice; None if unknown."""
    index = facts.get(id(node), TOP)
    value = index.value if type(index) is Known else None
    if value is None and isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and \
            node.func.id == "slice" and not node.keywords and \
            all(isinstance(a, gast.Constant) for a in node.args):
        value = slice(*[a.value for a in node.args])
    if type(value) is int and -n <= value < n:
        return [value % n]
    if type(value) is slice:
        return list(range(n))[value]
    return None


def _final(value, env, facts, runtime_names):
    """The display that replaces ``_sd.grad_like(P, S)``, or None."""
    if _sd_call(value, runtime_names) != "grad_like" or len(value.args) != 2 or \
            value.keywords or not isinstance(value.args[0], gast.Name):
        return None
    built = env.get(value.args[0].id)
    seq = facts.get(id(value.args[1]), TOP)
    if type(built) is not list or type(seq) is not Seq or not seq.indexable():
        return None
    return _display(built, seq)


def _display(built, seq):
    if type(built) is not list or len(built) != len(seq.items):
        return None
    elts = []
    for entry, item in zip(built, seq.items):
        if type(item) is Seq:
            inner = _display(entry, item) if entry is not None else None
            if inner is None:
                return None
            elts.append(inner)
        elif type(item) is Arr and item.dtype.kind == "f" and type(entry) is tuple and \
                entry[1] == item:
            elts.append(gast.Name(id=entry[0], ctx=gast.Load(), annotation=None,
                                  type_comment=None))
        else:
            return None
    return (gast.Tuple if seq.kind is tuple else gast.List)(elts=elts, ctx=gast.Load())
