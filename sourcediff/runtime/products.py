"""Products: the gradients of ``@``, ``np.dot``, ``np.einsum`` and ``np.kron``, and the
contraction plans (cached) that make them one matrix product each."""

import itertools
import math
import numbers

import numpy as np

from .accumulate import GradList, _refuse, grad_items, zeros_like_grad
from .shapes import operator_on_object, other_array, shape, unbroadcast

__all__ = [
    "matmul_grad_left", "matmul_grad_right", "LETTERS", "einsum_parse", "einsum_grad_one",
    "einsum_grads", "dot_grad_left", "dot_grad_right", "contract", "einsum_fast",
    "tensordot_subscripts", "dot_subscripts", "inner_subscripts", "einsum_replaced",
    "einsum_replaced_pairs", "einsum_cross", "einsum_cross2", "einsum_cross_tangents",
    "einsum_grads_tangent_g", "einsum_grads_tangent_operands", "einsum_call_grads",
    "einsum_sublists", "kron_operand_shape", "kron_split_shape", "kron_subscripts"
]


# The product helpers below (matmul_grad_*, dot_grad_*, einsum_grads) answer the symbolic zero 0.0
# (no gradient reached the product) with zeros shaped like the operand, not with 0.0: their own
# derivatives (a second derivative taken reverse over reverse, or forward over reverse) multiply
# the cotangent of that result by the other operand, which needs its shape. With 0.0 the result's
# cotangent was summed to a scalar (a loop's `P_bar = 0.0` before `P_bar = P_bar + ...`) and the
# second derivative raised inside np.matmul. Only loops' first passes meet the symbolic zero here.


# _TWO_D: the 2-D gradients are np.dot, not @: the same BLAS product and the same bits where @
# calls BLAS, but numpy's matmul loops in C without BLAS when an operand's strides do not suit it,
# as the transpose of a column does: g @ w.T for w of shape (32, 1) (W1's last layer) took 6.8 µs
# for a (100, 1) g, np.dot 1.4 µs; and np.dot's call costs less than the ufunc's for small arrays.


def matmul_grad_left(g, x, y):
    """Gradient of ``x @ y`` with respect to ``x`` (any of numpy's matmul shape cases)."""
    if type(g) is float and g == 0.0:  # the symbolic zero: no gradient reached x @ y
        return zeros_like_grad(x)
    if type(x) is np.ndarray and type(y) is np.ndarray and x.ndim == 2 and y.ndim == 2:
        return np.dot(g, y.T)  # (see _TWO_D)
    xs, ys = shape(x), shape(y)
    if not (xs and ys):  # (numpy's @ takes no 0-d operand: an object running its __matmul__)
        raise operator_on_object(y if xs else x)
    if len(ys) == 1:
        gx = np.multiply.outer(g, y) if len(xs) > 1 else g * y
    elif len(xs) == 1:
        gx = np.matmul(y, g[..., None])[..., 0] if len(ys) > 2 else y @ g
    else:
        gx = g @ np.swapaxes(y, -1, -2)
    return unbroadcast(gx, x)


def matmul_grad_right(g, x, y):
    """Gradient of ``x @ y`` with respect to ``y``."""
    if type(g) is float and g == 0.0:
        return zeros_like_grad(y)
    if type(x) is np.ndarray and type(y) is np.ndarray and x.ndim == 2 and y.ndim == 2:
        return np.dot(x.T, g)  # (see _TWO_D)
    xs, ys = shape(x), shape(y)
    if not (xs and ys):  # (as in matmul_grad_left)
        raise operator_on_object(y if xs else x)
    if len(xs) == 1:  # (a vector times a stack of matrices: x's entry i meets row i of each)
        gy = np.multiply(np.reshape(x, (-1, 1)), np.expand_dims(g, -2)) if len(ys) > 1 else g * x
    elif len(ys) == 1:
        gy = np.swapaxes(x, -1, -2) @ g[..., None] if len(xs) > 2 else x.T @ g
        if len(xs) > 2:
            gy = gy[..., 0]
    else:
        gy = np.swapaxes(x, -1, -2) @ g
    return unbroadcast(gy, y)


LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def einsum_parse(subscripts, operands):
    """Split einsum ``subscripts`` into per-operand index strings and the output string."""
    s = subscripts.replace(" ", "")
    ins, out = s.split("->") if "->" in s else (s, None)
    terms = ins.split(",")
    if "..." in s:
        used = set(s) - set(".,->")
        free = [c for c in LETTERS if c not in used]
        dims = [len(shape(op)) - len(t.replace("...", "")) for t, op in zip(terms, operands)]
        width = max(dims, default=0)
        ell = "".join(free[:width])
        terms = [t.replace("...", ell[width - k :]) for t, k in zip(terms, dims)]
        if out is not None:
            out = out.replace("...", ell)
        else:
            letters = "".join(terms)
            out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    if out is None:
        letters = "".join(terms)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return terms, out


def einsum_grad_one(g, terms, out, operands, i):
    """The gradient of an einsum (parsed subscripts) with respect to operand ``i``."""
    shapes = tuple(_shape(op) for op in operands)
    key = (tuple(terms), out, shapes, i)
    recipe = _GRAD_RECIPES.get(key)
    if recipe is None:
        recipe = _cache_put(_GRAD_RECIPES, key, _grad_recipe(terms, out, shapes, i))
    ins, result, others, extras = recipe
    ops = [g] + [operands[j] for j in others] + [np.eye(n) if kind == "eye" else np.ones(n)
                                                  for kind, n in extras]
    grad = einsum_fast(ins, result, ops)
    return unbroadcast(grad, operands[i])


def _grad_recipe(terms, out, shapes, i):
    """How ``einsum_grad_one`` computes operand ``i``'s gradient: (input subscripts, result
    subscripts, the other operands' positions, extra operands as ("eye" | "ones", size))."""
    sizes = {}
    for t, s in zip(terms, shapes):
        sizes.update(zip(t, s))
    ins = [out] + [t for j, t in enumerate(terms) if j != i]
    others = [j for j in range(len(terms)) if j != i]
    extras = []
    available = set("".join(ins))
    free = iter(c for c in LETTERS if c not in set("".join(terms)) | set(out))
    result = ""
    for c in terms[i]:
        if c in result:
            d = next(free)
            ins.append(c + d)
            extras.append(("eye", sizes[c]))
            result += d
            continue
        if c not in available:
            ins.append(c)
            extras.append(("ones", sizes[c]))
            available.add(c)
        result += c
    return tuple(ins), result, tuple(others), tuple(extras)


def einsum_grads(g, subscripts, operands):
    """The gradients of ``np.einsum(subscripts, *operands)`` for every operand, as a tuple."""
    if type(g) is float and g == 0.0:
        return tuple(map(zeros_like_grad, operands))
    key = (subscripts, _shape(g), *map(_shape, operands))
    plan = _GRADS_PLANS.get(key)
    if plan is None:
        plan = _cache_put(_GRADS_PLANS, key, _grads_plan(g, subscripts, operands))
    terms, out, direct = plan
    if _others(g, *operands):  # (dask, CuPy: np.einsum, which they take, as before)
        direct = (None,) * len(operands)
    if len(direct) == 2 and direct[0] is not None and direct[1] is not None:  # (dot, ...)
        return (direct[0][0](g, operands[1]), direct[1][0](g, operands[0]))
    return tuple(einsum_grad_one(g, terms, out, operands, i) if d is None else
                 d[0](g, operands[d[1]]) for i, d in enumerate(direct))


def _grads_plan(g, subscripts, operands):
    """(terms, out, one entry per operand): for an operand whose gradient is one product of ``g``
    and one other operand, (a pair plan, that operand's position), else None (einsum_grad_one)."""
    terms, out = einsum_parse(subscripts, operands)
    shapes = [_shape(op) for op in operands]
    direct = []
    for i in range(len(operands)):
        ins, result, others, extras = _grad_recipe(terms, out, shapes, i)
        run = None
        if len(others) == 1 and not extras:
            run = _pair_plan(ins[0], ins[1], result, _shape(g), shapes[others[0]])
        # (an operand broadcast against the others needs its gradient summed: einsum_grad_one)
        sizes = dict(zip(ins[0], _shape(g)))
        if run is not None:
            sizes.update(zip(ins[1], shapes[others[0]]))
        if run is not None and tuple(sizes.get(c) for c in result) == tuple(shapes[i]):
            direct.append((run, others[0]))
        else:
            direct.append(None)
    return terms, out, tuple(direct)


def dot_grad_left(g, subscripts, x, y):
    """The gradient of ``np.einsum(subscripts, x, y)`` with respect to ``x``, for the rules of
    np.dot, ndarray.dot, np.inner and np.tensordot (``subscripts`` from dot_subscripts and the
    like): one call per operand, so an operand that needs no gradient costs nothing. Example::

        dot_grad_left(g, "ab,bd->ad", x, y)    # g @ y.T
    """
    if type(g) is float and g == 0.0:  # the symbolic zero: no gradient reached the product
        return zeros_like_grad(x)
    if subscripts == "ab,bd->ad" and type(g) is np.ndarray and type(y) is np.ndarray:
        return np.dot(g, y.T)  # (2-D np.dot: the shapes match exactly, numpy checked them)
    return _dot_grad(g, subscripts, x, y, 0)


def dot_grad_right(g, subscripts, x, y):
    """The gradient of ``np.einsum(subscripts, x, y)`` with respect to ``y`` (see dot_grad_left).
    Example::

        dot_grad_right(g, "ab,bd->ad", x, y)    # x.T @ g
    """
    if type(g) is float and g == 0.0:
        return zeros_like_grad(y)
    if subscripts == "ab,bd->ad" and type(g) is np.ndarray and type(x) is np.ndarray:
        return np.dot(x.T, g)
    return _dot_grad(g, subscripts, x, y, 1)


def _dot_grad(g, subscripts, x, y, i):
    key = (subscripts, _shape(g), _shape(x), _shape(y))
    plan = _GRADS_PLANS.get(key)
    if plan is None:
        plan = _cache_put(_GRADS_PLANS, key, _grads_plan(g, subscripts, (x, y)))
    terms, out, direct = plan
    if direct[i] is None or _others(g, x, y):
        return einsum_grad_one(g, terms, out, (x, y), i)
    return direct[i][0](g, y if i == 0 else x)


def contract(subscripts, x, y):
    """``np.einsum(subscripts, x, y)`` through einsum_fast (one matrix product where it can): the
    cotangent of dot_grad_left / dot_grad_right in their ``g``. A symbolic zero 0.0 for either
    operand gives 0.0. Example::

        contract("ab,bd->ad", x, y)    # x @ y
    """
    if (type(x) is float and x == 0.0) or (type(y) is float and y == 0.0):
        return 0.0
    key = (subscripts, _shape(x), _shape(y))
    parsed = _PARSED.get(key)
    if parsed is None:
        parsed = _cache_put(_PARSED, key, einsum_parse(subscripts, (x, y)))
    return einsum_fast(parsed[0], parsed[1], (x, y))


# Plans for einsum_fast, keyed by subscripts and shapes (dtypes do not change a plan). A program
# meets few distinct shapes; the caches are emptied when one grows past _PLAN_LIMIT entries.
_PLAN_LIMIT = 4096


_GRADS_PLANS, _GRAD_RECIPES, _EINSUM_PLANS, _DOT_SUBSCRIPTS, _PARSED = {}, {}, {}, {}, {}


_OPTIMIZE_FLOPS = 200_000  # naive multiply-adds above which 3+ operands take an optimized path


def _shape(x):
    return x.shape if type(x) is np.ndarray else shape(x)


def _others(*xs):
    """True when one of ``xs`` is another library's array (dask, CuPy): plans are for numpy's."""
    return any(type(x) is not np.ndarray and other_array(x) for x in xs)


def _cache_put(cache, key, value):
    if len(cache) >= _PLAN_LIMIT:
        cache.clear()
    cache[key] = value
    return value


def einsum_fast(ins, result, ops):
    """``np.einsum(",".join(ins) + "->" + result, *ops)``, through a plan made once per subscripts
    and shapes: two operands as one matrix product (``np.matmul``, a batched one, or a broadcast
    multiply when nothing is summed) between transposed and reshaped views; three or more, when
    big, along a contraction order numpy's ``einsum_path`` chose once; otherwise ``np.einsum``.
    Example::

        einsum_fast(("ac", "bc"), "ab", [g, w])    # g @ w.T
    """
    if _others(*ops):
        return np.einsum(",".join(ins) + "->" + result, *ops)
    key = (tuple(ins), result, tuple(_shape(op) for op in ops))
    plan = _EINSUM_PLANS.get(key)
    if plan is None:
        plan = _cache_put(_EINSUM_PLANS, key, _einsum_plan(ins, result, ops))
    return plan(*ops)


def _einsum_plan(ins, result, ops):
    spec = ",".join(ins) + "->" + result
    shapes = [shape(op) for op in ops]
    if len(ops) == 2:
        plan = _pair_plan(ins[0], ins[1], result, shapes[0], shapes[1])
        if plan is not None:
            return plan
    if len(ops) >= 3:
        sizes = {}
        for t, s in zip(ins, shapes):
            sizes.update(zip(t, s))
        if math.prod(sizes.values()) * (len(ops) - 1) > _OPTIMIZE_FLOPS:
            path = np.einsum_path(spec, *ops, optimize="greedy")[0]
            return lambda *ops: np.einsum(spec, *ops, optimize=path)
    return lambda *ops: np.einsum(spec, *ops)


def _pair_plan(t1, t2, res, s1, s2):
    """``np.einsum(t1,t2->res)`` on operands of shapes s1, s2 as a function of the two operands:
    one (batched) matrix product, or None where that does not apply (a letter repeated within one
    term, sizes that differ, so broadcast, between operands)."""
    if len(t1) != len(s1) or len(t2) != len(s2):
        return None
    if len(set(t1)) < len(t1) or len(set(t2)) < len(t2) or len(set(res)) < len(res):
        return None
    size = {}
    for t, s in ((t1, s1), (t2, s2)):
        for c, n in zip(t, s):
            if size.setdefault(c, n) != n:
                return None
    if not set(res) <= set(size):
        return None
    # letters summed in one operand alone are summed first
    sum1 = tuple(k for k, c in enumerate(t1) if c not in t2 and c not in res)
    sum2 = tuple(k for k, c in enumerate(t2) if c not in t1 and c not in res)
    r1 = [c for c in t1 if c in t2 or c in res]
    r2 = [c for c in t2 if c in t1 or c in res]
    batch = [c for c in res if c in r1 and c in r2]
    summed = [c for c in r1 if c in r2 and c not in res]
    left = [c for c in res if c in r1 and c not in r2]
    right = [c for c in res if c in r2 and c not in r1]
    swap = list(res) != batch + left + right and list(res) == batch + right + left
    if swap:  # y @ x gives the result's axis order without a transpose
        r1, r2, sum1, sum2, left, right = r2, r1, sum2, sum1, right, left
    order = batch + left + right
    perm1 = tuple(r1.index(c) for c in batch + left + summed)
    perm2 = tuple(r2.index(c) for c in batch + summed + right)
    perm1 = None if perm1 == tuple(range(len(r1))) else perm1
    perm2 = None if perm2 == tuple(range(len(r2))) else perm2

    def prod(cs):
        return math.prod(size[c] for c in cs)

    nb, nl, ns, nr = prod(batch), prod(left), prod(summed), prod(right)
    if summed:
        # (batch, left, summed) @ (batch, summed, right); a group without letters is left out
        # when there is no batch, so vectors stay vectors for np.matmul
        shape1 = ((nb,) if batch else ()) + ((nl,) if left or batch else ()) + (ns,)
        shape2 = ((nb,) if batch else ()) + (ns,) + ((nr,) if right or batch else ())
        shape3 = shape1[:-1] + shape2[-1:] if len(shape2) > 1 else shape1[:-1]
        combine = np.matmul
    else:  # nothing summed between the two: a broadcast multiply
        shape1, shape2, shape3, combine = (nb, nl, 1), (nb, 1, nr), (nb, nl, nr), np.multiply
    mid = tuple(size[c] for c in order)
    final = None if order == list(res) else tuple(order.index(c) for c in res)
    # reshapes that would not change a shape are skipped
    shape1 = None if shape1 == tuple(size[c] for c in batch + left + summed) else shape1
    shape2 = None if shape2 == tuple(size[c] for c in batch + summed + right) else shape2
    shape3 = None if shape3 == mid else mid

    def run(x, y):
        if swap:
            x, y = y, x
        if type(x) is not np.ndarray:
            x = np.asarray(x)
        if type(y) is not np.ndarray:
            y = np.asarray(y)
        if sum1:
            x = x.sum(axis=sum1)
        if sum2:
            y = y.sum(axis=sum2)
        if perm1 is not None:
            x = x.transpose(perm1)
        if perm2 is not None:
            y = y.transpose(perm2)
        if shape1 is not None:
            x = x.reshape(shape1)
        if shape2 is not None:
            y = y.reshape(shape2)
        z = combine(x, y)
        if shape3 is not None:
            z = z.reshape(shape3)
        if final is not None:
            z = z.transpose(final)
        return z[()] if not mid and type(z) is np.ndarray else z

    return run


def tensordot_subscripts(a, b, axes=2):
    """The einsum subscripts that compute ``np.tensordot(a, b, axes)``."""
    na, nb = len(shape(a)), len(shape(b))
    if isinstance(axes, numbers.Integral):
        ax_a, ax_b = list(range(na - axes, na)), list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, numbers.Integral) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, numbers.Integral) else list(ax_b)
    ax_a, ax_b = [i % na for i in ax_a], [j % nb for j in ax_b]
    sa, sb = LETTERS[:na], list(LETTERS[na : na + nb])
    for i, j in zip(ax_a, ax_b):
        sb[j] = sa[i]
    out = [sa[i] for i in range(na) if i not in ax_a] + [sb[j] for j in range(nb) if j not in ax_b]
    return sa + "," + "".join(sb) + "->" + "".join(out)


def dot_subscripts(a, b):
    """The einsum subscripts that compute ``np.dot(a, b)``."""
    na, nb = len(_shape(a)), len(_shape(b))
    text = _DOT_SUBSCRIPTS.get((na, nb))
    if text is None:
        if na == 0 or nb == 0:
            text = tensordot_subscripts(a, b, 0)
        else:
            text = tensordot_subscripts(a, b, ([na - 1], [nb - 2 if nb > 1 else 0]))
        _DOT_SUBSCRIPTS[(na, nb)] = text
    return text


def inner_subscripts(a, b):
    """The einsum subscripts that compute ``np.inner(a, b)``."""
    na, nb = len(shape(a)), len(shape(b))
    if na == 0 or nb == 0:
        return tensordot_subscripts(a, b, 0)
    return tensordot_subscripts(a, b, ([na - 1], [nb - 1]))


def einsum_replaced(b, subscripts, operands):
    """The sum over i of the einsum with operand i replaced by ``b[i]`` (missing entries skipped):
    the adjoint of ``einsum_grads(g, subscripts, operands)`` in ``g``."""
    terms, out = einsum_parse(subscripts, operands)
    sizes = {}
    for t, op in zip(terms, operands):
        sizes.update(zip(t, shape(op)))
    total = np.zeros(tuple(sizes[c] for c in out))
    for i, item in enumerate(grad_items(b, len(operands))):
        if item is not None:
            ops = list(operands)
            ops[i] = np.broadcast_to(item, shape(operands[i]))
            total = total + einsum_fast(terms, out, ops)
    return total


def einsum_replaced_pairs(b, t, subscripts, operands):
    """The sum over ordered pairs i != j of the einsum with operand i replaced by ``b[i]`` and
    operand j by ``t[j]``: ``einsum_replaced(b, ...)``'s tangent when the operands move along t."""
    terms, out = einsum_parse(subscripts, operands)
    spec = ",".join(terms) + "->" + out
    bs, ts = grad_items(b, len(operands)), grad_items(t, len(operands))
    total = 0.0
    for i, j in itertools.permutations(range(len(operands)), 2):
        if bs[i] is not None and ts[j] is not None:
            ops = list(operands)
            ops[i] = np.broadcast_to(bs[i], shape(operands[i]))
            ops[j] = np.broadcast_to(ts[j], shape(operands[j]))
            total = total + np.einsum(spec, *ops)
    return total


def einsum_cross(b, g, subscripts, operands):
    """For each operand k, the sum over i != k of the gradient of the einsum in operand k with
    operand i replaced by ``b[i]``: einsum_grads(g, subscripts, operands) differentiated in the
    operands along ``b``. The map is its own adjoint, so it is both the jvp and the vjp."""
    if type(g) is float and g == 0.0:  # (linear in g: the symbolic zero gives zeros)
        return GradList(map(zeros_like_grad, operands))
    terms, out = einsum_parse(subscripts, operands)
    items = grad_items(b, len(operands))
    result = GradList()
    for k, op in enumerate(operands):
        total = np.zeros(shape(op))
        for i, item in enumerate(items):
            if i != k and item is not None:
                ops = list(operands)
                ops[i] = np.broadcast_to(item, shape(operands[i]))
                total = total + einsum_grad_one(g, terms, out, ops, k)
        result.append(total)
    return result


def einsum_cross2(b, t, g, subscripts, operands):
    """For each operand k, the sum over distinct i, j other than k of the gradient of the einsum
    (cotangent ``g``) in operand k with operand i replaced by ``b[i]`` and j by ``t[j]``: the
    derivative of ``einsum_cross(b, g, ...)`` in the operands (a tangent t, or a cotangent)."""
    if type(g) is float and g == 0.0:
        return GradList(map(zeros_like_grad, operands))
    terms, out = einsum_parse(subscripts, operands)
    bs, ts = grad_items(b, len(operands)), grad_items(t, len(operands))
    result = GradList()
    for k, op in enumerate(operands):
        total = np.zeros(shape(op))
        for i, j in itertools.permutations([n for n in range(len(operands)) if n != k], 2):
            if bs[i] is not None and ts[j] is not None:
                ops = list(operands)
                ops[i] = np.broadcast_to(bs[i], shape(operands[i]))
                ops[j] = np.broadcast_to(ts[j], shape(operands[j]))
                total = total + einsum_grad_one(g, terms, out, ops, k)
        result.append(total)
    return result


def einsum_cross_tangents(t, b, g, subscripts, operands):
    """``einsum_cross(b, g, ...)``'s tangent when b, g or the operands move along ``t`` (entries
    for b, g, subscripts, operands; a list t is b's or the operands' tangent, an array g's)."""
    if isinstance(t, (list, tuple)):
        return (einsum_cross(t, g, subscripts, operands), None, None,
                einsum_cross2(b, t, g, subscripts, operands))
    return (None, einsum_cross(b, t, subscripts, operands), None, None)


# The jvp rules below evaluate every entry of their returned tuple when called directly (the rule
# tests do), with the tangent of one argument; an entry for another argument returns None then.


def einsum_grads_tangent_g(t, g, subscripts, operands):
    """The tangent of ``einsum_grads`` due to a tangent ``t`` of ``g`` (None for a list/tuple t)."""
    _string_form(subscripts)
    return None if isinstance(t, (list, tuple)) else GradList(einsum_grads(t, subscripts, operands))


def einsum_grads_tangent_operands(t, g, subscripts, operands):
    """The tangent of ``einsum_grads`` due to a tangent ``t`` of ``operands`` (None unless ``t`` is
    a list/tuple)."""
    _string_form(subscripts)
    return einsum_cross(t, g, subscripts, operands) if isinstance(t, (list, tuple)) else None


def _string_form(subscripts):
    """Refuses einsum's sublist form (np.einsum(a, [0, 1], b, [1, 2])) where the tangents of the
    gradients are taken (forward over reverse): those helpers read the subscripts as a string."""
    if not isinstance(subscripts, str):
        _refuse("np.einsum's sublist form np.einsum(a, [0, 1], b, [1, 2]) in a second "
                "derivative taken forward over reverse (sd.hessian, sd.hvp); write the "
                "subscripts as a string, np.einsum('ab,bc', a, b)")


def einsum_call_grads(g, subscripts, operands):
    """The rule tuple of ``np.einsum(subscripts, *operands)``: 0.0 for the subscripts (never
    wanted), then one gradient per operand (one helper call: no tuple concatenation to
    differentiate in generated code). The sublist form ``np.einsum(a, [0, 1], b, [1, 2], [0,
    2])`` gets a gradient for each array and 0.0 for each index list."""
    if not isinstance(subscripts, str):
        items = (subscripts,) + tuple(operands)
        arrays, text = einsum_sublists(items)
        grads = iter(einsum_grads(g, text, arrays))
        return tuple(next(grads) if k % 2 == 0 and k < 2 * len(arrays) else 0.0
                     for k in range(len(items)))
    return (0.0,) + tuple(einsum_grads(g, subscripts, operands))


def einsum_sublists(items):
    """(arrays, subscripts string) of einsum's sublist form ``a, [0, 1], b, [1, 2], [0, 2]``."""
    arrays, terms = list(items[0::2]), list(items[1::2])
    out = None
    if len(items) % 2 == 1:  # (the last item is the output's index list)
        arrays, out = arrays[:-1], items[-1]

    def letters(sub):
        return "".join("..." if k is Ellipsis else LETTERS[k] for k in sub)

    text = ",".join(letters(t) for t in terms[:len(arrays)])
    return arrays, text + ("->" + letters(out) if out is not None else "")


# ---------------------------------------------------------------- np.kron


def kron_operand_shape(x, other):
    """The shape np.kron gives ``x``: ones prepended up to the larger ndim of the two operands."""
    n = max(len(shape(x)), len(shape(other)))
    return (1,) * (n - len(shape(x))) + tuple(shape(x))


def kron_split_shape(a, b):
    """The shape of np.kron(a, b) with each axis split in (a's, b's): (a0, b0, a1, b1, ...)."""
    sa, sb = kron_operand_shape(a, b), kron_operand_shape(b, a)
    return tuple(n for pair in zip(sa, sb) for n in pair)


def kron_subscripts(a, b, which):
    """einsum subscripts taking the split gradient of kron to a's (which=0) or b's (which=1) axes."""
    n = max(len(shape(a)), len(shape(b)))
    la, lb = "abcdefghijklm"[:n], "nopqrstuvwxyz"[:n]
    split = "".join(x + y for x, y in zip(la, lb))
    return f"{split},{lb}->{la}" if which == 0 else f"{split},{la}->{lb}"
