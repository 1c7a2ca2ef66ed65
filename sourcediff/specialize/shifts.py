"""A log-sum-exp written with a shift, ``lse = m + np.log(np.sum(np.exp(x - m), axis=1,
keepdims=True))``, whose derivative through the shift ``m`` is zero: the gradient drops that path.

Why it is exact. For any value of ``m`` that is constant along the summed axes,
``m + log(sum(exp(x - m)))`` equals ``log(sum(exp(x)))``: the expression does not depend on ``m``
at all, so its derivative with respect to ``m`` is zero for every input, at every order (JAX's
``logsumexp`` stops the gradient through its max for this reason). The generated adjoint
computes that zero as two contributions to ``m_bar`` that cancel, the add's ``lse_bar`` and the
subtraction's ``-sum(sub_bar)`` with ``sub_bar = lse_bar / s * exp(x - m)`` summed along the axes
``s`` summed (``sum(exp(x - m)) / s`` is 1), and then sends that ``m_bar`` (zero up to rounding)
through ``m``'s own derivative: for ``m = np.max(x, ...)`` an ``_sd.extremum_weights`` of the
row's ties and about a dozen more array operations. Without the two contributions, ``m_bar`` is
the exact zero the math says it is, and every statement that adds a multiple of it to another
gradient adds nothing and goes (a contribution is linear in the gradient it reads). The result
differs from the code before only where that code added its rounding residue (``m``'s argmax
entries, relative size about ``n * eps``), and nowhere when ``m`` or a row is not finite: the
row's gradient is then nan through ``sub_bar`` either way.

What is checked before anything is dropped, so that the contributions are the cancelling pair:
the five statements (``sub = x - m``, ``e = np.exp(sub)``, ``s = np.sum(e, axis, keepdims)``,
``l = np.log(s)``, ``lse = m + l``) at the top level of the function, in that order with nothing
but comments between them (nothing that could write into ``m``'s array), each name stored once; ``sub``, ``e``, ``s`` and ``l`` each with one gradient contribution (one use each
in the forward: ``e`` read by something else would carry ``m`` into another result) and those
gradients reading each other in the chain ``lse_bar -> l_bar -> s_bar -> e_bar -> sub_bar``;
``m`` float, of one value (size 1) or, with ``keepdims=True``, of size 1 along every summed axis;
``m_bar`` stored exactly by the two contributions (the add's first, from ``lse_bar``; then
``m_bar = m_bar +/- ...`` from ``sub_bar``), and read elsewhere only by top-level accumulations
``t = t + E`` or ``t = t - E`` whose ``E`` calls nothing but runtime helpers. Anything else: no
change.
"""

import gast
import numpy as np

from ..syntax import is_comment
from .facts import PYFLOAT, TOP, Arr, Known, Scal, _literal, _name_uses
from ..syntax import walk


def _assigns(body):
    """{name: (index, statement)} of the top-level ``name = value`` statements of ``body``."""
    out = {}
    for k, s in enumerate(body):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], gast.Name):
            out.setdefault(s.targets[0].id, []).append((k, s))
    return out


def _names(node):
    return {n.id for n in walk(node) if isinstance(n, gast.Name)}


def _call_of(value, facts, fn, nargs):
    """The argument names of ``np.fn(a, ...)`` (``nargs`` Name arguments, keywords allowed only
    when ``fn`` is np.sum), else None."""
    if not (isinstance(value, gast.Call) and facts.get(id(value.func), TOP) == Known(fn) and
            len(value.args) == nargs and all(isinstance(a, gast.Name) for a in value.args)):
        return None
    return [a.id for a in value.args]


def _sum_of(value, facts):
    """(summed name, axis, keepdims) of ``np.sum(e, axis=..., keepdims=...)`` or
    ``e.sum(axis=..., keepdims=...)`` with literal keywords, else None."""
    if not isinstance(value, gast.Call):
        return None
    func, args = value.func, list(value.args)
    if facts.get(id(func), TOP) == Known(np.sum):
        pass
    elif isinstance(func, gast.Attribute) and func.attr == "sum" and \
            isinstance(func.value, gast.Name) and type(facts.get(id(func.value), TOP)) is Arr:
        args.insert(0, func.value)
    else:
        return None
    kw = {k.arg: k.value for k in value.keywords}
    if len(args) == 2 and "axis" not in kw:
        kw["axis"] = args.pop()
    if len(args) != 1 or not isinstance(args[0], gast.Name) or set(kw) - {"axis", "keepdims"}:
        return None
    axis = _literal(kw["axis"]) if "axis" in kw else None
    if axis is None and "axis" in kw and not (isinstance(kw["axis"], gast.Constant) and
                                              kw["axis"].value is None):
        return None  # (not a literal)
    keepdims = _literal(kw["keepdims"]) if "keepdims" in kw else False
    if keepdims not in (True, False):
        return None
    return args[0], axis, keepdims


def _float_fact(f):
    if type(f) in (Arr, Scal):
        return f.dtype.kind == "f"
    return f is PYFLOAT


def _constant_along(m, e, axis, keepdims):
    """True when the shift of fact ``m`` has one value along the axes ``axis`` of the summed
    fact ``e``, paired with the same sum's element in ``m + l`` (see the module's checks)."""
    if type(e) is not Arr or not _float_fact(e) or not _float_fact(m):
        return False
    if type(m) is not Arr or all(d == 1 for d in m.shape):
        return True  # one value: any pairing adds it to sums of its own shift
    if not keepdims or len(m.shape) > len(e.shape):
        return False
    nd = len(e.shape)
    axes = range(nd) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    if not all(type(a) is int and -nd <= a < nd for a in axes):
        return False
    return all(m.shape[a % nd - (nd - len(m.shape))] == 1 for a in axes
               if a % nd - (nd - len(m.shape)) >= 0)


def _chain(body, assigns, facts, lse):
    """(m, sub) when ``lse``'s statement ends the shifted log-sum-exp of the module's checks
    (the forward half), else None."""
    (k5, add), = assigns[lse]
    v = add.value
    if not (isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add) and
            isinstance(v.left, gast.Name) and isinstance(v.right, gast.Name)):
        return None
    for m, l in ((v.left.id, v.right.id), (v.right.id, v.left.id)):
        found = _chain_from(body, assigns, facts, m, l, k5)
        if found is not None:
            return found
    return None


def _chain_from(body, assigns, facts, m, l, k5):
    if len(assigns.get(l, ())) != 1:
        return None
    (k4, log), = assigns[l]
    s = _call_of(log.value, facts, np.log, 1)
    if s is None or len(assigns.get(s[0], ())) != 1:
        return None
    (k3, total), = assigns[s[0]]
    summed = _sum_of(total.value, facts)
    if summed is None or len(assigns.get(summed[0].id, ())) != 1:
        return None
    e_node, axis, keepdims = summed
    (k2, exp), = assigns[e_node.id]
    sub = _call_of(exp.value, facts, np.exp, 1)
    if sub is None or len(assigns.get(sub[0], ())) != 1:
        return None
    (k1, shift), = assigns[sub[0]]
    d = shift.value
    if not (isinstance(d, gast.BinOp) and isinstance(d.op, gast.Sub) and
            isinstance(d.right, gast.Name) and d.right.id == m and k1 < k2 < k3 < k4 < k5):
        return None
    if any(k1 <= k < k5 for k, _ in assigns.get(m, ())):
        return None  # (m stored between the shift and the add)
    chain = {k1, k2, k3, k4, k5}
    if any(k not in chain and not is_comment(body[k]) for k in range(k1, k5)):
        return None  # (a statement between could write into m's array, through any alias)
    if not _constant_along(facts.get(id(d.right), TOP), facts.get(id(e_node), TOP), axis,
                           keepdims):
        return None
    return m, (sub[0], e_node.id, s[0], l)


def _pure_contribution(node, runtime_names):
    """True when ``node`` calls nothing but runtime helpers (``_sd.unreduce(...)``)."""
    for n in walk(node):
        if isinstance(n, gast.Call) and not (
                isinstance(n.func, gast.Attribute) and isinstance(n.func.value, gast.Name) and
                n.func.value.id in runtime_names):
            return False
    return True


def _droppable(body, assigns, m, inner, lse, runtime_names):
    """The indices of the statements to drop (``m_bar``'s two contributions and the
    accumulations reading it), or None when the adjoint is not the module's shape."""
    bar = {n: n + "_bar" for n in (m, lse) + inner}
    stored = {n: assigns.get(bar[n], ()) for n in bar}
    if any(len(stored[n]) != 1 for n in inner) or len(stored[lse]) < 1:
        return None
    chain = (lse, inner[3], inner[2], inner[1], inner[0])  # lse_bar -> l_bar -> ... -> sub_bar
    for read, made in zip(chain, chain[1:]):
        (_, s), = stored[made]
        if bar[read] not in _names(s.value):
            return None
    if len(stored[m]) != 2:
        return None
    (k1, first), (k2, second) = stored[m]
    if bar[m] in _names(first.value) or not _names(first.value) <= {bar[lse], m} | runtime_names:
        return None
    v = second.value
    if not (isinstance(v, gast.BinOp) and isinstance(v.op, (gast.Add, gast.Sub)) and
            isinstance(v.left, gast.Name) and v.left.id == bar[m] and
            _names(v.right) <= {bar[inner[0]], m} | runtime_names and
            bar[inner[0]] in _names(v.right)):
        return None
    drop = {k1, k2}
    for k, s in enumerate(body):
        if k in drop or bar[m] not in _names(s):
            continue
        if not (k > k2 and isinstance(s, gast.Assign) and len(s.targets) == 1 and
                isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.BinOp) and
                isinstance(s.value.op, (gast.Add, gast.Sub)) and
                isinstance(s.value.left, gast.Name) and
                s.value.left.id == s.targets[0].id != bar[m] and
                bar[m] not in _names(s.value.left) and
                _pure_contribution(s.value.right, runtime_names)):
            return None
        drop.add(k)
    return drop


def shift_invariant_sums(fdef, facts, runtime_names):
    """Drop the gradient through the shift of every shifted log-sum-exp of the module's shape;
    the number of such sums."""
    body = fdef.body
    stores, _ = _name_uses(fdef)
    top_stores = {}
    for s in body:
        if isinstance(s, gast.Assign):
            for n in _names(gast.Tuple(elts=s.targets, ctx=gast.Store())):
                top_stores[n] = top_stores.get(n, 0) + 1
    assigns = {n: v for n, v in _assigns(body).items()
               if stores.get(n, 0) == len(v) == top_stores.get(n, 0)}  # (none in loops)
    runtime_names = set(runtime_names)
    changed, drop = 0, set()
    for lse, stmts in assigns.items():
        if len(stmts) != 1 or lse.endswith("_bar"):
            continue
        found = _chain(body, assigns, facts, lse)
        if found is None:
            continue
        m, inner = found
        if m in runtime_names or stores.get(m, 0) > 1:
            continue
        more = _droppable(body, assigns, m, inner, lse, runtime_names)
        if more is not None and not more & drop:
            drop |= more
            changed += 1
    if changed:
        fdef.body = [s for k, s in enumerate(body) if k not in drop or is_comment(s)]
    return changed
