"""Quote rules: parse a rule function's body once and inline it with the call's own operands.

Example: the vjp rule of ``np.sin`` is ``return (g * np.cos(x),)``; inlined for ``_sin1 = np.sin(h)``
with gradient ``_sin1_bar`` it yields the expression ``_sin1_bar * np.cos(h)``.
"""

import ast
import inspect
import textwrap
import threading
import types

import gast
import numpy as _np

from ..syntax import clone, dead_code, load, spread_text, walk
from .stale import compiles_to

_cache = {}
_cache_lock = threading.Lock()


class QuotedRule:
    """A rule function's parameters, prelude statements and returned tuple, as syntax."""

    def __init__(self, fn):
        self.fn = fn
        lines, first = inspect.getsourcelines(fn)
        target = inspect.unwrap(fn)
        if inspect.isfunction(target) and compiles_to(target, lines, first) is False:
            # (its file changed after its module was imported: the text is not the rule Python
            # runs, so the rule is called as it is, a CalledRule, rather than quoted)
            raise OSError(f"the source of {fn.__qualname__} is not the code Python runs")
        source = textwrap.dedent("".join(lines))
        fdef = gast.parse(source).body[0]
        fdef.decorator_list = []  # (@softplus.defvjp names the primitive, not the rule's body)
        self.signature = inspect.signature(fn)
        self.params = list(self.signature.parameters)
        body = [s for s in fdef.body
                if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant))]
        if not body or not isinstance(body[-1], gast.Return):
            raise ValueError(f"rule {fn.__qualname__} must end with a return statement")
        self.prelude = body[:-1]
        ret = body[-1].value
        self.elements = ret.elts if isinstance(ret, gast.Tuple) else None
        self.result = ret
        self.locals = set()
        for stmt in self.prelude:
            for node in walk(stmt):
                if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
                    self.locals.add(node.id)
        params = set(self.params)
        self.globals = sorted({n.id for n in walk(fdef) if isinstance(n, gast.Name)
                               and isinstance(n.ctx, gast.Load)} - params - self.locals)

    def differentiable(self, position):
        """False when the rule returns the literal None for the argument at ``position``."""
        if self.elements is None:
            return True
        if position >= len(self.elements):
            return False
        elt = self.elements[position]
        return not (isinstance(elt, gast.Constant) and elt.value is None)


class CalledRule(QuotedRule):
    """A rule whose body cannot be quoted (a lambda, a builtin): generated code calls it instead."""

    def __init__(self, fn):
        self.fn = fn
        self.signature = inspect.signature(fn)
        self.params = list(self.signature.parameters)
        args, keywords = [], []
        for p in self.signature.parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                args.append(load(p.name))
            elif p.kind == p.VAR_POSITIONAL:
                args.append(gast.Starred(value=load(p.name), ctx=gast.Load()))
            elif p.kind == p.KEYWORD_ONLY:
                keywords.append(gast.keyword(arg=p.name, value=load(p.name)))
            else:
                keywords.append(gast.keyword(arg=None, value=load(p.name)))
        name = getattr(fn, "__name__", "rule")
        self.rule_name = name if name.isidentifier() else "rule"
        self.result = gast.Call(func=load(self.rule_name), args=args, keywords=keywords)
        self.prelude = []
        self.elements = None
        self.locals = set()
        self.globals = [self.rule_name]
        self.global_objects = {self.rule_name: fn}


def quoted(fn):
    """The :class:`QuotedRule` of ``fn``, parsed once (a :class:`CalledRule` if it has no source)."""
    q = _cache.get(fn)
    if q is None:
        with _cache_lock:
            q = _cache.get(fn)
            if q is None:
                try:
                    q = QuotedRule(fn)
                except (OSError, TypeError, SyntaxError, AttributeError, IndexError, ValueError):
                    q = CalledRule(fn)
                _cache[fn] = q
    return q


class StarredArgument(TypeError):
    """A ``*seq`` argument where the rule needs each item by name (only ``*args`` takes one)."""


# what to write instead of a numpy option the rules leave out (the compiler's and the tape's messages)
OPTION_HINTS = {
    "where": "the rules take no where=: select the entries first, np.sum(np.where(mask, x, 0.0), "
             "axis=...) (a mean: divide that by np.sum(mask, axis=...))",
    "initial": "the rules take no initial=: combine it after the reduction, np.maximum(np.max(x, "
               "axis=...), initial) (np.sum(x) + initial for a sum)",
    "dtype": "the rule takes no dtype=: convert the operand first, x.astype(np.float64)",
    "out": "the rule takes no out=: assign the result to a name instead",
}


class UnexpectedArguments(TypeError):
    """Arguments the rule has no parameter for (``names``: the keywords; empty for positional
    ones): numpy options the rules leave out on purpose (``where=``, ``initial=``...)."""

    def __init__(self, message, names):
        super().__init__(message)
        self.names = names


class KeywordsArgument(TypeError):
    """A ``**mapping`` argument: the rule needs each keyword by name (``**kwargs`` of a rule
    takes keywords written out, not a dict whose keys are known only at run time)."""


def bind(q, args, keywords, where):
    """Map the rule's parameters (after ``g, ans``) to the call's operand syntax, defaults filled in.

    ``args`` is a list of syntax nodes, ``keywords`` a dict name -> syntax node. Returns a dict
    param -> syntax, or raises TypeError like Python would for a call that does not fit.
    """
    if None in keywords:  # (f(x, **opts): the keywords are opts' keys, known at run time)
        raise KeywordsArgument(f"{where}: {spread_text(keywords[None])} would fill "
                               f"keyword parameters")
    sig = q.signature
    params = list(sig.parameters.values())[2:]
    bound = {}
    positional = list(args)
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if positional and isinstance(positional[0], gast.Starred):
                raise StarredArgument(f"{where}: *{gast.unparse(positional[0].value)} would fill "
                                      f"the parameter '{p.name}'")
            if positional:
                bound[p.name] = positional.pop(0)
            elif p.name in keywords:
                bound[p.name] = keywords.pop(p.name)
            elif p.default is not p.empty:
                bound[p.name] = _literal(p.default)
            else:
                raise TypeError(f"{where}: missing argument '{p.name}'")
        elif p.kind == p.VAR_POSITIONAL:
            bound[p.name] = gast.Tuple(elts=positional, ctx=gast.Load())
            positional = []
        elif p.kind == p.KEYWORD_ONLY:
            if p.name in keywords:
                bound[p.name] = keywords.pop(p.name)
            elif p.default is not p.empty:
                bound[p.name] = _literal(p.default)
            else:
                raise TypeError(f"{where}: missing keyword argument '{p.name}'")
        elif p.kind == p.VAR_KEYWORD:
            bound[p.name] = gast.Dict(keys=[gast.Constant(value=k, kind=None) for k in keywords],
                                      values=list(keywords.values()))
            keywords = {}
    if positional or keywords:
        extra = ", ".join(keywords) if keywords else f"{len(positional)} positional"
        raise UnexpectedArguments(f"{where}: unexpected argument(s) {extra}", tuple(keywords))
    return bound


def may_cast(key, q, bound):
    """True when the call may give integers or booleans from float operands, so that its
    result's gradient must go through ``_sd.cast_grad``: its rule has a ``dtype`` parameter the
    call fills (``np.sum(x, dtype=int)``, ``x.astype(t)``, ``np.asarray(v, t)``) or a ``**kwargs``
    that collects one (``np.einsum(s, x, dtype=int)``), or the result takes the dtype of a
    prototype (``np.full_like(a, v)``)."""
    if key is _np.full_like:
        return True
    for p in list(q.signature.parameters.values())[2:]:
        value = bound.get(p.name)
        if p.name == "dtype" and value is not None and not (
                isinstance(value, gast.Constant) and value.value is None):
            return True
        if p.kind == p.VAR_KEYWORD and isinstance(value, gast.Dict) and any(
                isinstance(k, gast.Constant) and k.value == "dtype" for k in value.keys):
            return True
    return False


def _literal(value):
    if isinstance(value, (tuple, list)):
        return gast.Tuple(elts=[_literal(v) for v in value], ctx=gast.Load())
    return gast.Constant(value=value, kind=None)


def slots(q, bound):
    """The argument syntax for each position of the rule's returned tuple.

    Positions are the positional parameters after ``g, ans`` in order, and then each argument that
    a ``*args`` parameter collected, one position each.
    """
    out = []
    for p in list(q.signature.parameters.values())[2:]:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            out.append(bound[p.name])
        elif p.kind == p.VAR_POSITIONAL:
            out.extend(bound[p.name].elts)
    return out


class Substitute(gast.NodeTransformer):
    """Replace parameter names by syntax, locals by fresh names and globals by emitted names."""

    def __init__(self, mapping):
        self.mapping = mapping

    def visit_Name(self, node):
        new = self.mapping.get(node.id)
        if new is None:
            return node
        if isinstance(new, str):
            return gast.Name(id=new, ctx=node.ctx, annotation=None, type_comment=None)
        return clone(new)


def inline(q, g, ans, bound, positions, fresh, global_name, record=None):
    """Inline rule ``q`` for the given gradient/result syntax and bound parameters.

    ``positions`` are the tuple positions wanted; ``fresh(hint)`` makes a new local name;
    ``global_name(name, obj)`` returns the name under which a rule global is visible in generated
    code; ``record`` (the compiler's GlobalNames) receives, for a rule of the user's own
    (``sd.custom_vjp``), the function whose closure values are bound and the module globals bound
    (what the generated code is built for: its caller checks them on each call). Returns
    (prelude statements, {position: contribution expression}).
    """
    mapping = dict(bound)
    mapping[q.params[0]] = g
    mapping[q.params[1]] = ans
    for name in q.locals:
        mapping[name] = fresh(name)
    fn_globals = getattr(q, "global_objects", None) or q.fn.__globals__
    closure = closure_values(q.fn)  # (a rule defined inside a function: its free variables)
    if record is not None and not getattr(q.fn, "__module__", "").startswith("sourcediff."):
        _record(record, q, closure, fn_globals)
    for name in q.globals:
        if name in closure:
            mapping[name] = global_name(name, closure[name])
        elif name in fn_globals:
            mapping[name] = global_name(name, fn_globals[name])
        else:
            import builtins
            mapping[name] = global_name(name, getattr(builtins, name))
    sub = Substitute(mapping)
    prelude = [sub.visit(clone(s)) for s in q.prelude]
    out = {}
    if q.elements is not None:
        for pos in positions:
            out[pos] = sub.visit(clone(q.elements[pos]))
    else:
        result = fresh("grads")
        prelude.append(gast.Assign(targets=[gast.Name(id=result, ctx=gast.Store(), annotation=None,
                                                      type_comment=None)],
                                   value=sub.visit(clone(q.result)), type_comment=None))
        for pos in positions:
            out[pos] = gast.Subscript(value=load(result), slice=gast.Constant(value=pos, kind=None),
                                      ctx=gast.Load())
    return prelude, out


def _record(record, q, closure, fn_globals):
    """Note in ``record`` what inlining the user's rule ``q`` binds: its closure, its globals."""
    if any(name in closure for name in q.globals):
        record.closures[q.fn] = None
    for name in q.globals:
        if name not in closure and name in fn_globals and \
                not isinstance(fn_globals[name], types.ModuleType):
            record.rule_globals[(id(fn_globals), name)] = (fn_globals, name, fn_globals[name])


_sliced = {}  # (rule function, wanted positions) -> the sliced function


def sliced_rule(vjp, wanted):
    """``vjp`` (or a jvp rule) computing only the contributions at positions ``wanted`` (None
    elsewhere), as the source compiler inlines only those: ``x @ w1`` with a constant ``x`` does
    one matmul, not two, and ``x ** 2`` skips the exponent's ``log``; a jvp's other entries may
    assume a tangent shaped like their own argument. The rule itself where it cannot be sliced.
    The tape and calls met at run time (``_sd.dynamic_fwd``) call rules through it."""
    key = (vjp, wanted)
    fn = _sliced.get(key)
    if fn is None:
        try:
            fn = _build_sliced(vjp, wanted)
        except Exception:  # a rule whose source cannot be re-read: run it whole
            fn = None
        fn = _sliced[key] = fn or vjp
    return fn


def _build_sliced(vjp, wanted):
    q = quoted(vjp)
    if type(q) is not QuotedRule or q.elements is None or \
            any(type(e) is not int for e in wanted) or getattr(vjp, "__closure__", None) or \
            any(p.kind == p.VAR_POSITIONAL for p in q.signature.parameters.values()) or \
            any(isinstance(e, gast.Starred) for e in q.elements):
        return None
    fdef = gast.parse(textwrap.dedent(inspect.getsource(vjp))).body[0]
    ret = fdef.body[-1]
    elts = ret.value.elts
    dropped = False
    for i, e in enumerate(elts):
        if i not in wanted and not (isinstance(e, gast.Constant) and e.value is None):
            elts[i] = gast.Constant(value=None, kind=None)
            dropped = True
    if not dropped:
        return None
    fdef.body = dead_code(fdef.body, q.locals, set())
    fdef.decorator_list = []
    module = gast.gast_to_ast(gast.Module(body=[fdef], type_ignores=[]))
    ast.increment_lineno(module, vjp.__code__.co_firstlineno - 1)
    code = compile(ast.fix_missing_locations(module), vjp.__code__.co_filename, "exec")
    space = {}
    exec(code, vjp.__globals__, space)
    return space[fdef.name]


def closure_values(fn):
    """``fn``'s free variables by name (those not bound yet are left out)."""
    code, cells = getattr(fn, "__code__", None), getattr(fn, "__closure__", None)
    if code is None or not cells:
        return {}
    out = {}
    for name, cell in zip(code.co_freevars, cells):
        try:
            out[name] = cell.cell_contents
        except ValueError:
            pass
    return out
