"""Where numba's types would give another number than numpy's (the numba backend, ``jit.py``).

numba types a Python bool and a numpy bool scalar alike (``boolean``) and computes with 64-bit
numbers, where Python and numpy keep apart what it merges:

- ``~b`` of a Python bool is an integer (``~True`` is -2), of a numpy bool the logical not; numba
  gives the logical not for both. ``a + b`` of two numpy bool scalars is their logical or
  (``np.True_ + np.True_`` is True), of two Python bools an integer (2); numba gives 2 for both.
  The specializer's facts say which kind a value is: lowered code spells each operation so that
  numba computes what Python or numpy does (:func:`bool_scalar_ops`); where the facts do not tell
  and numba types both operands as bools, it does not compile (:func:`refuse_bools`).
- numpy computes an int8, int32, uint64, float16 or float32 value with a Python number in that
  value's type (NEP 50: ``np.int32(2 ** 31 - 1) + 1`` wraps around, ``float32 * 0.1`` rounds to
  float32), numba in int64 or float64. Code in which numba types any value with such a dtype runs
  as numpy code (:func:`odd_dtypes`, from the types numba inferred).
- numba's ``np.argsort`` orders equal keys otherwise than numpy's default sort (``np.argsort([1.,
  0, 1, 0, 1, 0, 1, 0])`` is ``[1 3 7 5 ...]`` in numpy, another permutation in numba), and the
  items ``np.partition`` leaves on either side of ``kth`` are in each one's own order: a gradient
  through such an order (``x[np.argsort(keys)]``) is another function's. numba's ``np.median``,
  ``np.percentile`` and ``np.quantile`` give numbers at nan or inf values where numpy's give nan,
  and its ``np.clip`` skips a nan bound. Code that sorts without ``kind="stable"`` (or
  ``"mergesort"``), partitions or calls those statistics runs as numpy code; np.clip is written
  as numpy defines it (:func:`computed_otherwise`).
- numba returns a float64 as a Python float, where ``_sd.grad_like`` gives the gradient of a
  numpy scalar argument (np.float64) as a numpy scalar of its type: the compiled function's
  results are made so where the generated code returns them (:func:`numpy_scalar_grads`).
"""

import gast
import numpy as np

from . import runtime
from .specialize import facts as spec_facts
from .syntax import walk


class Unsupported(Exception):
    """Code numba would compile but not run as numpy does: the numpy code runs instead."""

NUMPY_NAME = "_sd_np"  # (how lowered code spells numpy: bound when it is compiled)

# the dtypes numba computes with as numpy does (its arithmetic is 64-bit)
_SAME = frozenset(np.dtype(t) for t in (np.float64, np.int64, np.bool_, np.complex128))

BOOLS_MESSAGE = ("it adds, subtracts or inverts (~) two bools of a kind sourcediff cannot tell "
                 "(Python's True + True is 2 and ~True is -2; numpy's np.True_ + np.True_ is True "
                 "and ~np.True_ is False; numba computes one way for both)")


def _kind(facts, node):
    """'python' (a Python bool), 'numpy' (a numpy bool scalar), 'other' (known not to be a bool
    scalar: an array, a number of another type) or '?' (unknown) for the value of ``node``."""
    fact = spec_facts.TOP if facts is None else facts.get(id(node), spec_facts.TOP)
    if fact is spec_facts.ANYBOOL or (type(fact) is spec_facts.Known and
                                      type(fact.value) is bool):
        return "python"
    if type(fact) is spec_facts.Scal and fact.dtype == np.bool_:
        return "numpy"
    if fact is spec_facts.TOP or fact is spec_facts.BOT or fact is None:
        return "?"
    return "other"


def bool_scalar_ops(fdef, facts):
    """Rewrite, in ``fdef``, the operations on bool scalars whose result numba computes otherwise
    (see the module docstring): ``~b`` of a Python bool becomes ``-1 - b``, ``a + b`` of bools one
    of which is a numpy bool becomes ``a | b``; ``~b`` of a value of unknown kind calls
    ``_sd_jit_invert`` (which numba does not compile for a bool). Returns (the ids of the
    operations on two Python bools, which numba computes as Python does, or None, a reason not to
    compile: ``-b`` and ``a - b`` of numpy bools, which numpy refuses)."""
    python_ops = set()
    for node in list(walk(fdef)):
        for field, value in gast.iter_fields(node):
            items = value if isinstance(value, list) else [value]
            for k, child in enumerate(items):
                new = None
                if isinstance(child, gast.UnaryOp) and isinstance(child.op, (gast.Invert,
                                                                            gast.USub)):
                    kind = _kind(facts, child.operand)
                    if kind == "numpy" and isinstance(child.op, gast.USub):
                        return python_ops, "it negates a numpy bool (-np.True_), which numpy refuses"
                    if kind == "python" and isinstance(child.op, gast.Invert):
                        new = gast.BinOp(left=gast.Constant(value=-1, kind=None), op=gast.Sub(),
                                         right=child.operand)
                        python_ops.add(id(new))
                    elif kind == "?" and isinstance(child.op, gast.Invert):
                        new = gast.Call(func=gast.Name(id="_sd_jit_invert", ctx=gast.Load(),
                                                       annotation=None, type_comment=None),
                                        args=[child.operand], keywords=[])
                elif isinstance(child, gast.BinOp) and isinstance(child.op, (gast.Add, gast.Sub)):
                    kinds = {_kind(facts, child.left), _kind(facts, child.right)}
                    if kinds == {"python"}:
                        python_ops.add(id(child))
                    elif kinds <= {"python", "numpy"} and isinstance(child.op, gast.Add):
                        new = gast.BinOp(left=child.left, op=gast.BitOr(), right=child.right)
                    elif kinds <= {"python", "numpy"}:
                        return python_ops, ("it subtracts numpy bools (np.True_ - np.False_), "
                                            "which numpy refuses")
                if new is None:
                    continue
                gast.copy_location(new, child)
                if isinstance(value, list):
                    value[k] = new
                else:
                    setattr(node, field, new)
    return python_ops, None


_STABLE = ("stable", "mergesort")

_ORDER = ("whose order of the items on either side of kth is numpy's own (numba's is another)")
_NAN = "which numba computes otherwise at nan or inf values"
# numpy functions numba compiles but computes otherwise, with why
_OTHERWISE = {
    np.partition: _ORDER, np.argpartition: _ORDER,
    np.median: f"{_NAN} (np.median([nan, 1.0, 2.0]) is nan, numba's 2.0)",
    np.percentile: f"{_NAN} (np.percentile([inf, 1.0, inf], 30.0) is nan, numba's inf)",
    np.quantile: f"{_NAN} (np.quantile([inf, 1.0, inf], 0.7) is nan, numba's inf)",
    np.nanpercentile: f"{_NAN} (np.nanpercentile([inf, 1.0, inf], 30.0) is nan, numba's inf)",
    np.nanquantile: f"{_NAN} (np.nanquantile([inf, 1.0, inf], 0.7) is nan, numba's inf)",
}


def computed_otherwise(fdef, resolve):
    """Why numba would compute a call in ``fdef`` otherwise than numpy (see the module
    docstring), or None. ``resolve(func)``: the object a call's function expression names, or
    None. np.clip's calls become np.minimum(np.maximum(a, lo), hi), numpy's definition of it
    (numba's np.clip skips a nan bound, where numpy's result is nan)."""
    for node in walk(fdef):
        if not (isinstance(node, gast.Call) and isinstance(node.func, (gast.Attribute,
                                                                       gast.Name))):
            continue
        fn = resolve(node.func)
        method = node.func.attr if isinstance(node.func, gast.Attribute) and \
            fn is None else None  # (x.argsort(), x.partition(k): an array's method)
        if _hashable(fn) and fn in _OTHERWISE or method in ("partition", "argpartition"):
            name = getattr(fn, "__name__", method)
            return f"it calls {name}(...), {_OTHERWISE.get(fn, _ORDER)}"
        if fn is np.clip and len(node.args) == 3 and not node.keywords:
            _clip_as_min_max(node, node.args)
        if fn is not np.argsort and method != "argsort":
            continue
        position = 2 if fn is np.argsort else 1  # (np.argsort(a, axis, kind), a.argsort(axis, kind))
        kind = [k.value for k in node.keywords if k.arg == "kind"] or node.args[position:
                                                                                 position + 1]
        if not (kind and isinstance(kind[0], gast.Constant) and kind[0].value in _STABLE):
            return ("it calls argsort(...) without kind='stable', and numba's sort orders equal "
                    "keys otherwise than numpy's (pass kind='stable' to compile it)")
    return None


def _clip_as_min_max(node, args):
    """``np.clip(a, lo, hi)`` (the Call ``node``) rewritten in place as
    ``np.minimum(np.maximum(a, lo), hi)``."""
    def numpy(attr):
        return gast.Attribute(value=gast.Name(id=NUMPY_NAME, ctx=gast.Load(), annotation=None,
                                              type_comment=None), attr=attr, ctx=gast.Load())

    node.func = numpy("minimum")
    node.args = [gast.Call(func=numpy("maximum"), args=[args[0], args[1]], keywords=[]), args[2]]


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        return False
    return True


def jit_invert(a):
    return ~a


def register(types, overload, errors):
    """numba's versions of ``jit_invert`` (``~a``, not compiled for a bool: its kind unknown) and
    of ``nonzero_grad``, which in numpy counts a numpy float 0.0 as the symbolic zero too (numba
    types both alike); an array, zeros or not, runs the rule, as in numpy."""
    @overload(jit_invert)
    def invert(a):
        refuse_bools(types, errors, a)
        return lambda a: ~a

    @overload(runtime.nonzero_grad)
    def nonzero_grad(g):
        if isinstance(g, (types.Float, types.Integer)):
            return lambda g: g != 0.0
        if isinstance(g, types.Array):
            return lambda g: True
        return None

    @overload(runtime.nonzero_grads)
    def nonzero_grads(g, g_dot):  # (a gradient's guard differentiated again: forward.zero_test)
        kinds = (types.Float, types.Integer, types.Array)
        if isinstance(g, kinds) and isinstance(g_dot, kinds):
            test = runtime.nonzero_grad
            return lambda g, g_dot: test(g) or test(g_dot)
        return None


def refuse_bools(types, errors, *operands):
    """Refuse (at typing) an operation on bools whose kind the facts did not tell."""
    if all(isinstance(t, types.Boolean) for t in operands):
        raise errors.TypingError(BOOLS_MESSAGE)


def odd_dtypes(dispatcher):
    """Why numba's compiled code may compute otherwise than numpy's (a value numba typed with a
    dtype numpy computes in its own type: int32, float32, ...), or None."""
    from numba import types

    for cres in dispatcher.overloads.values():
        for name, t in cres.fndesc.typemap.items():
            dtype = t.dtype if isinstance(t, types.Array) else t
            if isinstance(dtype, types.Literal):
                continue
            if isinstance(dtype, (types.Integer, types.Float, types.Complex, types.Boolean)):
                try:
                    same = np.dtype(str(dtype)) in _SAME
                except TypeError:
                    same = False
                if not same:
                    shown = name.split(".")[0]
                    what = "a value" if shown.startswith("$") else f"'{shown}'"
                    return (f"it computes {what} of dtype {dtype}, which numpy computes with a "
                            f"Python number in {dtype} (np.int32(2 ** 31 - 1) + 1 wraps around, "
                            f"float32 * 0.1 rounds to float32) and numba in 64 bits")
    return None


def numpy_scalar_grads(fdef, args):
    """[(path in the returned tuples, argument position)] of each ``_sd.grad_like(g, x)`` the
    generated ``fdef`` returns for a parameter ``x`` given a numpy scalar (np.float64, which
    numba takes as a float and gives back as a Python float), for :func:`retyped`."""
    params = [a.id for a in fdef.args.args]
    scalar = {p for p, a in zip(params, args) if isinstance(a, np.generic)}
    if not scalar:
        return []
    returns = [n for n in walk(fdef) if isinstance(n, gast.Return)]
    if len(returns) != 1 or returns[0] is not fdef.body[-1]:
        raise Unsupported("it returns in more than one place the gradient of a numpy scalar, "
                          "which numba would give back as a Python float")
    found = []

    def visit(node, path):
        if isinstance(node, gast.Tuple):
            for k, elt in enumerate(node.elts):
                visit(elt, path + (k,))
        elif isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
                node.func.attr == "grad_like" and len(node.args) == 2 and \
                isinstance(node.args[1], gast.Name) and node.args[1].id in scalar:
            found.append((path, params.index(node.args[1].id)))

    visit(returns[0].value, ())
    return found


def retyped(compiled, scalars):
    """``compiled`` giving the gradients at ``scalars`` (:func:`numpy_scalar_grads`) as numpy
    scalars of their arguments' types."""
    if not scalars:
        return compiled

    def call(*args):
        out = compiled(*args)
        for path, position in scalars:
            out = _replaced_at(out, path, type(args[position]))
        return out

    return call


def _replaced_at(out, path, kind):
    """``out`` with its item at ``path`` (indices into nested tuples) made a ``kind``."""
    if not path:
        return kind(out)
    items = list(out)
    items[path[0]] = _replaced_at(items[path[0]], path[1:], kind)
    return tuple(items)
