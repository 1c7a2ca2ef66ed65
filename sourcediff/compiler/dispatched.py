"""Operations declared without a derivative that may run a method of the user's class.

``~a``, ``a // k``, ``a < k``, ``round(a)``, ``math.floor(a)``, ``np.floor(a)`` carry no
derivative for numbers and arrays (their rules are ``defnondiff``), so the activity stage gives
their results none. On an object of the user's class Python runs the class's own method instead
(``__invert__``, ``__floordiv__``, ``__lt__``, ``__round__``, ``__floor__``; numpy its ``floor``),
whose result may hold the object's values scaled: the gradient through them would be dropped
without a word. Only the run time knows an operand's type, so each such operation with an operand
that depends on wrt gets its result checked there (``runtime.without_derivative``, which refuses
an object operand whose operation gave anything but a bool, an int or None); the specializer
drops the check where the operands are known arrays or numbers.

Example: ``b = ~a`` with ``a`` depending on wrt becomes ``b = _sd.without_derivative(~a, '~', a)``.
"""

import builtins
import operator

import gast
import numpy as np

from ..syntax import call, const, load, walk

# (Python or numpy fixes the type of what these give: an int, a bool, a tuple of ints, None)
_TYPED = frozenset({builtins.len, builtins.isinstance, builtins.print, builtins.bool, builtins.int,
                    builtins.range, operator.not_, np.shape, np.ndim, np.size})

_SYMBOLS = {gast.Invert: "~", gast.FloorDiv: "//", gast.Mod: "%", gast.BitAnd: "&",
            gast.BitOr: "|", gast.BitXor: "^", gast.LShift: "<<", gast.RShift: ">>",
            gast.MatMult: "@", gast.Lt: "<", gast.LtE: "<=", gast.Gt: ">", gast.GtE: ">=",
            gast.Eq: "==", gast.NotEq: "!="}


def check_dispatched(bindings, ops, varied, rt):
    """Wraps the value of each binding in ``bindings`` ((target, statement) pairs; ``ops``:
    id(statement) -> resolved op) that is an operation declared without a derivative with an
    operand in ``varied`` (the names that depend on wrt) in ``rt("without_derivative")``."""
    for _target, s in bindings:
        op = ops.get(id(s))
        if op is None or op.kind != "nondiff" or _typed(op.key):
            continue
        what = _what(s.value)
        carried = sorted({n.id for n in walk(s.value) if isinstance(n, gast.Name)} & set(varied))
        if what is None or not carried:
            continue
        s.value = call(rt("without_derivative"), [s.value, const(what)] +
                       [load(n) for n in carried])


def _typed(key):
    """Whether the type of what ``key`` gives does not depend on its operands' classes, or
    ``key`` is a helper of sourcediff's runtime (what generated code calls)."""
    if getattr(key, "__module__", None) == "sourcediff.runtime" or \
            getattr(key, "__objclass__", None) is np.ndarray:  # (x.shape, x.argmax())
        return True
    try:
        return key in _TYPED
    except TypeError:  # (an unhashable key)
        return False


def _what(value):
    """The operation as the user reads it (``~``, ``<``, ``round()``, ``np.floor()``), or None
    for one whose result is a bool or a string whatever it runs (``a and b``, an f-string)."""
    if isinstance(value, gast.UnaryOp):
        return _SYMBOLS.get(type(value.op))
    if isinstance(value, gast.BinOp):
        return _SYMBOLS.get(type(value.op))
    if isinstance(value, gast.Compare):
        symbols = [_SYMBOLS.get(type(o)) for o in value.ops]
        return None if None in symbols else " ".join(symbols)
    if isinstance(value, gast.Call):
        return gast.unparse(value.func).strip() + "()"
    return None
