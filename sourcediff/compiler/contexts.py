"""The ``with`` blocks a differentiated function may hold: ``np.errstate(...)`` and
``warnings.catch_warnings()`` (with the ``warnings.simplefilter``/``filterwarnings`` calls that
open its body). Their bodies are inlined by the normalizer; the lines of a body are recorded with
the context they run in (``Parsed.quiet``: line -> the source of ``_sd_quiet(...)`` calls), the
comments of generated code carry it (``emit.Origin.context``) and the emitter wraps the generated
code of those lines, forward and backward, in the same context. Example::

    with np.errstate(divide="ignore"):        with _sd_quiet(divide='ignore'):
        y = np.log(x) * x              -->        # y = np.log(x) * x  (f.py:3)
                                                  _log1 = np.log(x)
                                                  ...
                                              ...
                                              with _sd_quiet(divide='ignore'):
                                                  # grad of: y = np.log(x) * x  (f.py:3)
                                                  ...

Any other context manager is refused with the user's line.
"""

import builtins
import dataclasses
import warnings

import gast
import numpy as np

from ..runtime import contexts
from ..syntax import children, is_comment, walk
from .fence import refuse, static_object

QUIET_NAME = "_sd_quiet"  # (the name generated code calls runtime.contexts.quiet by)
_ERRSTATE_KEYS = ("all", "divide", "over", "under", "invalid")
_ERRSTATE_VALUES = ("ignore", "warn", "raise", "print", "log")
_FILTER_KEYS = ("action", "message", "category", "module", "lineno", "append")
_FIX = ("np.errstate(...) and warnings.catch_warnings() are; move any other context manager "
        "outside the function (call the gradient inside it)")


def quiet_lines(parsed):
    """``{lineno: (context source, ...)}`` for the lines of every supported ``with`` body of the
    function (outermost context first); refuses any other ``with`` at its line."""
    lines = {}

    def visit(node, outer):
        for child in children(node):
            if isinstance(child, gast.With):
                inner = outer + tuple(_context_source(parsed, child, item)
                                      for item in child.items)
                for stmt in child.body:
                    for line in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1):
                        lines[line] = inner
                visit(child, inner)
            else:
                visit(child, outer)

    visit(parsed.node, ())
    return lines


def quiet_body(parsed, node):
    """The statements of a supported ``with`` block that the normalizer inlines: its body
    without the leading ``warnings`` filter calls (they are part of the context)."""
    body = list(node.body)
    if any(_is(parsed, item.context_expr.func, warnings.catch_warnings) for item in node.items):
        while body and _filter_call(parsed, body[0]) is not None:
            body.pop(0)
    return body


def _context_source(parsed, node, item):
    expr = item.context_expr
    if item.optional_vars is not None:
        refuse(parsed, node, "'with ... as name' blocks", _FIX + "; drop the 'as' name")
    if not isinstance(expr, gast.Call) or any(isinstance(a, gast.Starred) for a in expr.args) \
            or any(k.arg is None for k in expr.keywords):
        refuse(parsed, node, f"'with' blocks over {gast.unparse(expr).strip()}", _FIX)
    if _is(parsed, expr.func, contexts.quiet):  # (generated code, differentiated again)
        return gast.unparse(expr).strip()
    if _is(parsed, expr.func, np.errstate):
        return _errstate(parsed, node, expr)
    if _is(parsed, expr.func, warnings.catch_warnings):
        return _catch_warnings(parsed, node, expr)
    refuse(parsed, node, f"'with' blocks over {gast.unparse(expr).strip()}", _FIX)


def _errstate(parsed, node, expr):
    pairs = []
    for k in expr.keywords:
        value = _constant(k.value)
        if expr.args or k.arg not in _ERRSTATE_KEYS or value not in _ERRSTATE_VALUES:
            refuse(parsed, node, f"np.errstate(...) with {gast.unparse(k.value).strip()!s} "
                   f"for {k.arg}", "write each setting as a keyword with a constant string "
                   "(np.errstate(divide='ignore', invalid='ignore'))")
        pairs.append(f"{k.arg}={value!r}")
    return f"{QUIET_NAME}({', '.join(pairs)})"


def _catch_warnings(parsed, node, expr):
    keywords = {}
    for k in expr.keywords:
        if k.arg == "record":
            refuse(parsed, node, "warnings.catch_warnings(record=True) blocks",
                   "record the warnings outside the function (call the gradient inside it)")
        if k.arg not in ("action", "category", "lineno", "append"):
            refuse(parsed, node, f"warnings.catch_warnings({k.arg}=...) blocks", _FIX)
        keywords[k.arg] = k.value
    if expr.args:
        refuse(parsed, node, "warnings.catch_warnings with positional arguments", _FIX)
    filters = [_filter_source(parsed, node, "filterwarnings", keywords)] if keywords else []
    for stmt in node.body:
        found = _filter_call(parsed, stmt)
        if found is None:
            break
        filters.append(_filter_source(parsed, stmt, *found))
    return f"{QUIET_NAME}({', '.join(filters) or '{}'})"


def _filter_call(parsed, stmt):
    """``(name, {keyword: value node})`` of a statement ``warnings.simplefilter(...)`` or
    ``warnings.filterwarnings(...)``, None for any other statement."""
    if not (isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call)):
        return None
    call = stmt.value
    for name in ("simplefilter", "filterwarnings"):
        if _is(parsed, call.func, getattr(warnings, name)):
            params = ("action", "category", "lineno", "append") if name == "simplefilter" \
                else _FILTER_KEYS
            if len(call.args) > len(params) or any(k.arg is None for k in call.keywords):
                return None
            keywords = dict(zip(params, call.args))
            keywords.update({k.arg: k.value for k in call.keywords})
            return name, keywords
    return None


def _filter_source(parsed, node, name, keywords):
    parts = []
    for key, value in keywords.items():
        if key == "category":
            category = static_object(parsed, value)
            if not (isinstance(value, gast.Name) and isinstance(category, type) and
                    issubclass(category, Warning) and getattr(builtins, value.id, None)
                    is category):
                refuse(parsed, node, f"warnings.{name}(category={gast.unparse(value).strip()})",
                       "name one of Python's own warning classes (RuntimeWarning, "
                       "UserWarning, ...) or move the filter outside the function")
            parts.append(f"'category': {value.id}")
            continue
        constant = _constant(value)
        if key not in _FILTER_KEYS or constant is _NOT_CONSTANT:
            refuse(parsed, node, f"warnings.{name}(...) with {key}="
                   f"{gast.unparse(value).strip()}", "write its arguments as constants")
        parts.append(f"{key!r}: {constant!r}")
    return "{" + ", ".join(parts) + "}"


_NOT_CONSTANT = object()


def _constant(node):
    return node.value if isinstance(node, gast.Constant) else _NOT_CONSTANT


def _is(parsed, node, target):
    return static_object(parsed, node) is target


def drop_quiet_contexts(fdef):
    """For backend='numba' (jit.lower): drop the ``with _sd_quiet(divide='ignore')`` contexts
    the emitter would wrap lines in (a user's ``with np.errstate(...)`` block, carried on the
    comments' origins): compiled code
    neither warns nor reads numpy's error state, so a context that only quiets warnings means
    nothing to it (it made the whole function fall back to numpy, review38). One that turns them
    into errors (``'raise'``, ``'call'``, a filter with action 'error') is kept: numba cannot
    raise them, and keeping it falls back to numpy, which does."""
    for node in walk(fdef):
        origin = getattr(node, "origin", None)
        if is_comment(node) and origin is not None and origin.context and all(
                _quiet_only(gast.parse(c).body[0].value) for c in origin.context):
            node.origin = dataclasses.replace(origin, context=())


def _quiet_only(expr):
    """A call of the quiet context whose settings only silence numpy's floating-point warnings."""
    if not (isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name) and
            expr.func.id == QUIET_NAME):
        return False
    for k in expr.keywords:
        if not (isinstance(k.value, gast.Constant) and k.value.value in ("ignore", "warn",
                                                                          "print", "log")):
            return False
    for a in expr.args:  # (warnings filters: {'action': 'ignore', ...})
        if not isinstance(a, gast.Dict):
            return False
        for key, value in zip(a.keys, a.values):
            if isinstance(key, gast.Constant) and key.value == "action" and not (
                    isinstance(value, gast.Constant) and value.value in ("ignore", "default",
                                                                         "once", "module",
                                                                         "always")):
                return False
    return True
