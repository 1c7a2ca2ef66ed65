"""Parse stage: a Python function object to its gast FunctionDef, with where it lives.

Example::

    >>> def f(x):
    ...     return x * 2.0
    >>> parse_function(f).node.name          # doctest: +SKIP
    'f'
"""

import inspect
import keyword
import os
import textwrap
from dataclasses import dataclass, field

import gast
import numpy as np

from ..errors import NoSourceError, SourcediffError, SourcediffSyntaxError
from ..rules import registry
from ..rules.quote import closure_values  # noqa: F401
from ..rules.stale import _names as code_names
from ..rules.stale import compiles_to
from ..runtime import generated
from ..syntax import clone, walk
from .resolve import MethodOf


@dataclass
class Parsed:
    """A user function's syntax tree and everything needed to name places in it."""

    fn: object
    node: gast.FunctionDef
    filename: str
    line_offset: int  # add to a node's lineno to get the line in ``filename``
    lines: list  # the dedented source lines, for quoting
    env: dict = field(default_factory=dict)  # closure variables by name
    self_class: object = None  # a method's class: calls through its first parameter resolve there
    # line -> the contexts a with block of np.errstate / warnings.catch_warnings sets there
    quiet: dict = field(default_factory=dict)

    @property
    def filename_short(self):
        """The file's base name, for comments in generated code."""
        return os.path.basename(self.filename)

    def where(self, node):
        """``file.py:12:5`` for a node of this function (the user's own line for a node of
        generated code: the derivative of a generated gradient)."""
        line = getattr(node, "lineno", 1) + self.line_offset
        mapped = _generated_line(self.filename, line)
        if mapped is not None:
            return outermost(mapped).location
        col = getattr(node, "col_offset", None)
        if col is None:
            return f"{self.filename}:{line}"
        return f"{self.filename}:{line}:{col + 1}"

    def line_text(self, node):
        """The user's source line a node comes from, stripped."""
        lineno = getattr(node, "lineno", None)
        mapped = _generated_line(self.filename, (lineno or 1) + self.line_offset)
        if mapped is not None:
            return outermost(mapped).text
        if lineno is None or not 1 <= lineno <= len(self.lines):
            return ""
        return self.lines[lineno - 1].strip()

    def user_line(self, node):
        """The line number in the user's file."""
        return getattr(node, "lineno", 1) + self.line_offset


# generated file name -> its emit.LineTable (which user line each line comes from): the line
# tables of compiled generated code (compiler.loader.compile_raw), as linecache holds their text
GENERATED_LINES = generated.LINES


def _generated_line(filename, line):
    """The :class:`~sourcediff.compiler.emit.Origin` of ``filename``'s ``line`` when it is generated code."""
    table = GENERATED_LINES.get(filename)
    return None if table is None else table.lines.get(line)


def outermost(origin):
    """An :class:`~sourcediff.compiler.emit.Origin` in generated code (the derivative of a generated
    gradient) followed back to the user's own line: ``<sourcediff grad_f of m.py:2 #1>:10``
    becomes ``m.py:3``."""
    for _ in range(8):
        inner = _generated_line(origin.file, origin.line)
        if inner is None:
            break
        origin = inner
    return origin


def unwrap(fn):
    """The plain Python function behind ``fn``: a bound method's function, or the generated
    function behind sourcediff's own call wrapper. A ``functools.wraps`` wrapper of anyone else is
    the function to differentiate itself (``10 * fn(x)`` is not ``fn(x)``), so ``__wrapped__`` is
    followed only where sourcediff set it on a wrapper that computes the same function."""
    while True:
        if inspect.ismethod(fn):
            fn = fn.__func__
        elif same_as_wrapped(fn):
            fn = fn.__wrapped__
        else:
            return fn


def same_as_wrapped(fn):
    """Whether ``fn`` is sourcediff's call wrapper of the generated function in its
    ``__wrapped__``: its mark names that very function (a ``functools.wraps`` of the wrapper, as
    sd.jacobian's or a user's decorator, copies the mark but wraps something else)."""
    inner = getattr(fn, "__wrapped__", None)
    return inner is not None and getattr(fn, "__sourcediff_same_as_wrapped__", None) is inner


def own_parsed(fn):
    """The syntax tree sourcediff made ``fn`` from (a lifted inner function, a synthetic
    wrapper), or None. It is kept in ``fn.__dict__``, which ``functools.wraps`` copies: a
    decorator's wrapper of such a function carries the wrapped one's tree, and is read as its
    own code (``return fn(*args, **kwargs)``) where the tree is not its own."""
    parsed = getattr(fn, "__sourcediff_parsed__", None)
    return parsed if parsed is not None and parsed.fn is fn else None


def _refuse_opaque(fn):
    """A function that sourcediff computes in Python (a jacobian, a tape no_grad wrapper) has no
    source to differentiate: say what to use instead."""
    what = getattr(fn, "__sourcediff_opaque__", None)
    if what is None:
        return
    name, fix = what[0], what[1]
    raise NoSourceError(
        f"{name} is computed by sourcediff in Python "
        f"from generated code, not generated as code itself, so it cannot be "
        f"differentiated again. {fix}")


def _short(value):
    """A short description of a value for messages: an array's shape and dtype, else a cut repr."""
    if getattr(value, "ndim", 0) and hasattr(value, "dtype"):
        return f"an array of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _methods(cls):
    """The public methods a class defines in Python source (its own and inherited, not object's)."""
    return [name for name in dir(cls) if not name.startswith("_")
            and inspect.isfunction(inspect.getattr_static(cls, name, None))]


def not_a_function(fn):
    """Why ``fn`` cannot be differentiated as a function, and what to pass instead."""
    kind = type(fn).__name__
    if isinstance(fn, type):
        methods = _methods(fn)
        example = f"sd.grad(model.{methods[0]})" if methods else "sd.grad(f)"
        return (f"{fn.__qualname__} is a class, not a function: sourcediff differentiates functions "
                f"and bound methods. Make an instance and pass one of its methods, e.g. "
                f"`model = {fn.__qualname__}(...)` then `{example}`")
    module = type(fn).__module__ or ""
    methods = _methods(type(fn))
    if methods and module != "builtins" and module.split(".")[0] not in ("numpy", "torch"):
        pick = "loss" if "loss" in methods else methods[0]
        return (f"got a {kind} object where a function was expected: sourcediff differentiates "
                f"functions and bound methods, not objects. Pass the method itself, e.g. "
                f"`sd.grad(model.{pick})` (a bound method; {kind}'s methods: {', '.join(methods)})")
    if not callable(fn):
        return (f"got a value where a function was expected: {_short(fn)} ({kind}). Pass the function "
                f"itself, `sd.grad(f)`, not the result of calling it, `sd.grad(f(x, w))`; then call "
                f"the gradient with the arguments: `sd.grad(f)(x, w)`")
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or _short(fn)
    if registry.lookup(fn) is not None or registry.written_as(fn) is not None:
        shown = registry._key_name(fn)  # (np.sin: it has a rule, used where a function calls it)
        return (f"{shown} is a {kind} sourcediff has a derivative rule for, but sd.grad takes a "
                f"function whose source it reads, which {shown} has not. Differentiate a function "
                f"that calls it: def f(x): return {shown}(x), then sd.grad(f) (elementwise_grad "
                f"for the derivative at each entry)")
    return (f"{name} is not a Python function defined in source code ({kind}); sourcediff can only "
            f"differentiate functions whose source it can read. For a builtin or compiled function, "
            f"register a rule with sourcediff.defvjp")


def parse_function(fn):
    """Read ``fn``'s source and return a :class:`Parsed` with its FunctionDef (decorators removed)."""
    if isinstance(fn, MethodOf):
        parsed = parse_function(fn.function)
        parsed.self_class = fn.cls
        return parsed
    owner = type(fn.__self__) if inspect.ismethod(fn) else None
    if owner is not None and not isinstance(fn.__self__, type):
        parsed = parse_function(fn.__func__)
        parsed.self_class = owner
        return parsed
    fn = unwrap(fn)
    _refuse_opaque(fn)
    if inspect.isfunction(fn) and registry.lookup(fn) is not None and own_parsed(fn) is None:
        # a function with a rule of its own (@sd.custom_vjp) differentiated directly: its rule
        # applies, as it does where another function calls it
        fn = synthetic(fn, fn.__name__, "{fn}({params})", {})
    lifted = own_parsed(fn)
    if lifted is not None:
        return Parsed(fn, clone(lifted.node), lifted.filename, lifted.line_offset,
                      lifted.lines, dict(lifted.env))
    name = getattr(fn, "__qualname__", None)
    if not inspect.isfunction(fn):
        raise NoSourceError(not_a_function(fn))
    filename = fn.__code__.co_filename
    if filename in _LIFTED_TEXTS:  # (a function a lifted inner function made: g of make's)
        return _made_by_lifted(fn, *_LIFTED_TEXTS[filename])
    try:
        # (of the code object: inspect follows __wrapped__ from a function, to another one)
        source_lines, first = inspect.getsourcelines(fn.__code__)
    except (OSError, TypeError):
        raise NoSourceError(
            f"cannot read the source of {name}: it was defined in {filename}, which is not a source "
            f"file (functions typed at the interactive prompt or made with exec have none), and "
            f"sourcediff reads a function's source to differentiate it. Put {name} in a .py file and "
            f"import it from there"
        ) from None
    source = textwrap.dedent("".join(source_lines))
    if fn.__name__ == "<lambda>":
        return _parse_lambda(fn, source_lines, filename, first)
    try:
        module = gast.parse(source)
    except SyntaxError as exc:
        raise NoSourceError(f"cannot parse the source of {name} at {filename}:{first}: {exc}") from None
    node = module.body[0]
    if isinstance(node, gast.AsyncFunctionDef):
        raise SourcediffSyntaxError(
            f"{filename}:{first - 1 + node.lineno}:{node.col_offset + 1}: {name} is an async "
            f"function; sourcediff differentiates plain functions that return a value: make it a "
            f"plain def.\n    {source.splitlines()[node.lineno - 1].strip()}")
    if not isinstance(node, gast.FunctionDef):
        raise NoSourceError(f"the source of {name} at {filename}:{first} is not a function "
                            f"definition{_STALE}")
    _check_same_function(fn, node, filename, first)
    _check_same_code(fn, source_lines, first)
    _mangle_private_attributes(fn.__code__, node)
    node.decorator_list = []
    _decorators_as_calls(node)
    return Parsed(fn, node, filename, first - 1, source.splitlines(), closure_values(fn))


def _decorators_as_calls(fdef):
    """Each inner function of ``fdef`` written with decorators (``@twice def h(v): ...``) as
    Python runs it: ``def h(v): ...`` then ``h = twice(h)``, the decorator nearest the def
    called first; in place. Where a decorator's expression reads the function's own name (its
    binding before: ``@h.setter``), which the def would see unbound yet, it is left as it is,
    for fence.py to refuse."""
    for node in list(walk(fdef)):
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if not isinstance(stmts, list):
                continue
            out = []
            for st in stmts:
                out.append(st)
                if not isinstance(st, gast.FunctionDef) or not st.decorator_list or any(
                        isinstance(n, gast.Name) and n.id == st.name
                        for d in st.decorator_list for n in walk(d)):
                    continue
                value = gast.Name(id=st.name, ctx=gast.Load(), annotation=None, type_comment=None)
                for deco in reversed(st.decorator_list):
                    value = gast.Call(func=deco, args=[value], keywords=[])
                made = gast.Assign(targets=[gast.Name(id=st.name, ctx=gast.Store(), annotation=None,
                                                      type_comment=None)],
                                   value=value, type_comment=None)
                for n in walk(made):
                    if getattr(n, "lineno", None) is None and isinstance(n, (gast.stmt, gast.expr)):
                        gast.copy_location(n, st)
                        n.end_lineno, n.end_col_offset = st.lineno, st.col_offset
                st.decorator_list = []
                out.append(made)
            setattr(node, field, out)


def _mangle_private_attributes(code, node):
    """``self.__w`` in a method: Python compiles a private name written in a class body as
    ``self._Model__w``, and generated code outside the class must read it so. The compiled code
    says how each was spelled: an attribute ``__w`` is renamed to the one name of the code that
    is ``_<class>__w`` (the class name's leading underscores dropped, as Python does)."""
    names = None
    for n in walk(node):
        attr = getattr(n, "attr", None) if isinstance(n, gast.Attribute) else None
        if not attr or not attr.startswith("__") or attr.endswith("__"):
            continue
        names = code_names(code) if names is None else names
        spelled = [m for m in names if m.endswith(attr) and m.startswith("_") and
                   m[1:-len(attr)] and not m[1:-len(attr)].startswith("_")]
        if len(spelled) == 1:
            n.attr = spelled[0]


def _check_same_function(fn, node, filename, first):
    """Refuse a source that is not the function Python runs: its file was changed after the
    module was imported (lines moved, the function renamed or given other parameters), so the
    lines at the code's first line hold another definition. Differentiating that text would
    give the gradient of other code than the one the function computes."""
    code = fn.__code__
    count = code.co_argcount + code.co_kwonlyargcount
    count += bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)
    a = node.args
    written = [p.id for p in a.posonlyargs + a.args + a.kwonlyargs] + \
        [p.id for p in (a.vararg, a.kwarg) if p is not None]
    if node.name == code.co_name and written == list(code.co_varnames[:count]):
        return
    params = ", ".join(written)
    raise NoSourceError(
        f"the source of {fn.__qualname__} is not the code Python runs: {filename}:{first} now "
        f"reads def {node.name}({params}), and {fn.__qualname__} was compiled as "
        f"{code.co_name}({', '.join(code.co_varnames[:count])}){_STALE}")


def _check_same_code(fn, lines, first, segment=None):
    """Refuse a source whose text does not compile to the code Python runs: the file was edited
    after its module was imported (a constant, an operator, a line changed), with the def line
    kept. (Code sourcediff compiled itself is its text by construction.)"""
    code = fn.__code__
    if code.co_filename in generated.FILES or compiles_to(fn, lines, first, segment) is not False:
        return
    raise NoSourceError(
        f"the source of {fn.__qualname__} is not the code Python runs: its body in "
        f"{code.co_filename}:{code.co_firstlineno} differs from the code Python compiled when the "
        f"module was imported{_STALE}")


_STALE = (". If the file changed after its module was imported, reload the module "
          "(importlib.reload(module), or restart the interpreter) so that the function and its "
          "source agree")


def _parse_lambda(fn, source_lines, filename, first):
    """A lambda's source is its whole line: find the lambda node and make a FunctionDef of it.
    A lambda inside a larger expression spread over lines (a dict of link functions) is found in
    its file's parse, by its line, its parameters and, where several match, its column."""
    source = textwrap.dedent("".join(source_lines))
    # (the columns dedent took off the lines: the lambda's place in source_lines, for the check)
    margin = len(source_lines[0]) - len(source.splitlines(True)[0]) if source_lines else 0
    try:
        module = gast.parse(source)
    except SyntaxError:
        module = None
    lambdas = [] if module is None else [n for n in walk(module) if isinstance(n, gast.Lambda)]
    code = fn.__code__
    params = list(code.co_varnames[:code.co_argcount])
    lambdas = [lam for lam in lambdas if [a.id for a in lam.args.args] == params]
    if len(lambdas) != 1:
        found = _lambda_in_file(code, filename, params)
        if found is not None:
            lam, lines = found
            source, first, source_lines, margin = "".join(lines), 1, lines, 0
            lambdas = [lam]
    if len(lambdas) != 1:
        raise NoSourceError(
            f"cannot tell which lambda on {filename}:{first} is {fn!r}; give it a name with def"
        )
    lam = lambdas[0]
    _check_same_code(fn, source_lines, first, (lam.lineno, lam.col_offset + margin,
                                               lam.end_lineno, lam.end_col_offset + margin))
    ret = gast.Return(value=lam.body)
    gast.copy_location(ret, lam)
    node = gast.FunctionDef(name="lambda_", args=lam.args, body=[ret], decorator_list=[],
                            returns=None, type_comment=None, type_params=[])
    gast.copy_location(node, lam)
    return Parsed(fn, node, filename, first - 1, source.splitlines(), closure_values(fn))


def _lambda_in_file(code, filename, params):
    """(the lambda node, the file's lines) for the lambda whose code is ``code``, or None."""
    import linecache

    lines = linecache.getlines(filename)
    try:
        module = gast.parse("".join(lines))
    except (SyntaxError, ValueError):
        return None
    found = [n for n in walk(module) if isinstance(n, gast.Lambda)
             and n.lineno == code.co_firstlineno and [a.id for a in n.args.args] == params]
    if len(found) > 1 and hasattr(code, "co_positions"):  # (3.11+: the body's first column)
        # (the columns of instructions that stand for source: not RESUME's or the implicit
        # return's, placed at column 0)
        cols = [c for _, _, c, e in code.co_positions() if c is not None and e is not None and
                e > c]
        if cols:
            found = [n for n in found if n.body.col_offset <= min(cols) <= getattr(
                n.body, "end_col_offset", 10 ** 6)] or found
    return (found[0], lines) if len(found) == 1 else None


def star_forwarded(fn):
    """The function whose parameters a call of ``fn`` means when a decorator's wrapper made
    without functools.wraps is on the way to it (:func:`_star_forwarded_once`), stacked
    wrappers followed, functools.wraps ones through their ``__wrapped__``; None when there is
    no such wrapper (``inspect.signature`` then reads the parameters)."""
    seen, plain = {id(fn)}, False
    while True:
        wrapped = getattr(fn, "__wrapped__", None) if inspect.isfunction(fn) else None
        if inspect.isfunction(wrapped) and not same_as_wrapped(fn):
            inner = wrapped
        else:
            inner = _star_forwarded_once(fn)
            plain = plain or inner is not None
        if inner is None or id(inner) in seen:  # (a wrapper that calls itself: not followed)
            return fn if plain else None
        seen.add(id(inner))
        fn = inner


_STAR_CALLEES = {}  # code object -> the names its calls that pass *args on call (None: not a name)


def _star_callees(fn):
    """The names (None for a callee that is no name) of the calls in ``fn`` that pass its
    ``*args`` on, read off its syntax tree once per code object (parsing costs ~0.3 ms, and the
    transforms ask on every call)."""
    code = fn.__code__
    names = _STAR_CALLEES.get(code)
    if names is None:
        try:
            node = parse_function(fn).node
        except SourcediffError:
            node = None
        star = code.co_varnames[0]
        names = () if node is None else tuple(
            n.func.id if isinstance(n.func, gast.Name) else None for n in walk(node)
            if isinstance(n, gast.Call) and any(isinstance(a, gast.Starred) and isinstance(
                a.value, gast.Name) and a.value.id == star for a in n.args))
        if len(_STAR_CALLEES) > 4096:
            _STAR_CALLEES.clear()
        _STAR_CALLEES[code] = names
    return names


def _star_forwarded_once(fn):
    """The function a decorator's wrapper made without functools.wraps passes its arguments on
    to, ``def wrapper(*args, **kwargs): return fn(*args, **kwargs)``: ``fn``, read from the
    wrapper's closure, when the wrapper's only parameters are ``*args`` (and ``**kwargs``) and
    every call in it that passes ``*args`` on calls that one Python function; else None. Its
    parameters are the ones a call of the wrapper means (``inspect.signature`` of the wrapper
    shows ``*args``, whose gradient is a tuple)."""
    code = getattr(fn, "__code__", None) if inspect.isfunction(fn) else None
    if code is None or code.co_argcount or code.co_kwonlyargcount or \
            not code.co_flags & inspect.CO_VARARGS or not code.co_freevars or \
            inspect.isfunction(getattr(fn, "__wrapped__", None)):
        return None
    held = dict(zip(code.co_freevars, fn.__closure__ or ()))
    found = set()
    for name in _star_callees(fn):
        cell = held.get(name)
        try:
            found.add(cell.cell_contents if cell is not None else None)
        except ValueError:  # (an empty cell)
            return None
    if len(found) != 1:
        return None
    (target,) = found
    return target if inspect.isfunction(target) else None


def synthetic(fn, name, template, env, target=None):
    """A function with ``fn``'s parameters that returns ``template`` (``{fn}`` is fn, ``{params}``
    its arguments), written by sourcediff around the user's ``fn`` and parseable like one of
    theirs; errors in it point at fn's definition. Example: ``synthetic(f, "sum_f",
    "_np.sum({fn}({params}))", {"_np": np})``."""
    if target is None:  # (target: the function whose parameters the wrapper takes)
        target = fn.__wrapped__ if hasattr(fn, "__wrapped__") and inspect.isfunction(
            fn.__wrapped__) and not inspect.ismethod(fn) else fn
    try:
        sig = inspect.signature(target)  # (of a bound method: the wrapped one's, self dropped)
    except (TypeError, ValueError):
        sig = None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
             inspect.Parameter.KEYWORD_ONLY)
    if sig is None or not all(p.kind in kinds for p in sig.parameters.values()):
        raise NoSourceError(
            f"{getattr(fn, '__qualname__', repr(fn))}: sourcediff can wrap only functions with "
            f"named parameters here (no *args or **kwargs); write a small def with the "
            f"parameters you differentiate that calls it")
    if isinstance(target, np.ufunc):  # (its inputs; out, where, dtype, ...: numpy's options,
        # which a positional out=None after them would turn into a write into out)
        sig = sig.replace(parameters=list(sig.parameters.values())[:target.nin])
    params = list(sig.parameters)
    # (fn under its own name where it can be, so messages about the call name it)
    own = getattr(fn, "__name__", "")
    label = own if own.isidentifier() and not keyword.iskeyword(own) and own not in params \
        and own not in env and own != name else "_sd_fn"
    # (defaults are fn's own objects, named in the wrapper's scope; keyword-only parameters
    # are passed on by keyword)
    defaults = {f"_sd_default_{n}": p.default for n, p in sig.parameters.items()
                if p.default is not p.empty}
    heads, passed, star = [], [], False
    for n, p in sig.parameters.items():
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not star:
            heads.append("*")
            star = True
        heads.append(n if p.default is p.empty else f"{n}=_sd_default_{n}")
        passed.append(f"{n}={n}" if p.kind is inspect.Parameter.KEYWORD_ONLY else n)
    body = template.format(fn=label, params=", ".join(passed), first=passed[0] if passed else "",
                           rest=", ".join(passed[1:]))  # (first, rest: a method's receiver)
    text = f"def {name}({', '.join(heads)}):\n    return {body}\n"
    namespace = {}
    scope = dict(env, **defaults, **{label: fn})
    exec(generated.compile_code(text, f"<sourcediff {name}>"), scope, namespace)
    made = namespace[name]
    made.__qualname__ = name
    node = gast.parse(text).body[0]
    filename = getattr(getattr(target, "__code__", None), "co_filename", "<sourcediff>")
    if isinstance(target, type):  # (a class built through it: its definition's file)
        try:
            filename = inspect.getsourcefile(target) or filename
        except TypeError:
            pass
    first, line = 1, f"def {name}({', '.join(heads)}): return {body}"
    try:
        lines, first = inspect.getsourcelines(target)
        line = lines[0].strip()
    except (OSError, TypeError):
        pass
    for sub in walk(node):  # every place in it is the line that defines fn
        if hasattr(sub, "lineno"):
            sub.lineno = sub.end_lineno = 1
    env = {k: v for k, v in scope.items() if k != "__builtins__"}
    made.__sourcediff_parsed__ = Parsed(made, node, filename, first - 1, [line], env)
    return made


def wrapper_once(cache, fn, key, make):
    """``make()``, a wrapper :func:`synthetic` writes around ``fn``, kept in ``cache`` (a
    WeakKeyDictionary) per ``fn`` and ``key`` and made again when ``fn``'s defaults, which the
    wrapper names as its own, are replaced; made each time for an ``fn`` or ``key`` the cache
    cannot hold."""
    state = (id(getattr(fn, "__defaults__", None)), id(getattr(fn, "__kwdefaults__", None)))
    try:
        per_fn = cache.setdefault(fn, {})
        made = per_fn.get(key)
    except TypeError:
        return make()
    if made is None or made[0] != state:
        made = per_fn[key] = (state, make())
    return made[1]


def lift_function(outer, node, display_name):
    """A runnable Python function for an inner function lifted out of ``outer`` (a Parsed).

    It is compiled from ``node`` inside a factory that binds the outer function's closure values and
    the other lifted functions, with the outer module's globals; it carries its own Parsed so the
    compiler can transform it like any user function.
    """
    free = dict(outer.env)
    params = sorted(free)
    tree = gast.gast_to_ast(gast.Module(body=[clone(node)], type_ignores=[]))
    import ast

    ast.fix_missing_locations(tree)
    body = "\n".join("    " + line for line in ast.unparse(tree).splitlines())
    text = f"def __sourcediff_lift__({', '.join(params)}):\n{body}\n    return {node.name}\n"
    namespace = {}
    filename = f"<sourcediff lifted {display_name} of {outer.fn.__qualname__}>"
    _LIFTED_TEXTS[filename] = (outer, node, text)
    exec(generated.compile_code(text, filename), outer.fn.__globals__, namespace)
    fn = namespace["__sourcediff_lift__"](*[free[p] for p in params])
    fn.__qualname__ = f"{outer.fn.__qualname__}.<locals>.{display_name}"
    fn.__sourcediff_parsed__ = Parsed(fn, node, outer.filename, outer.line_offset, outer.lines,
                                      outer.env)
    return fn


# the text each lifted function was compiled from, by its file name: (outer Parsed, its node, text)
_LIFTED_TEXTS = {}


def _made_by_lifted(fn, outer, node, text):
    """The Parsed of a function that a lifted inner function defines and returns (``g`` of
    ``def make(k): def g(v): ...; return g`` inside ``f``): its node in the user's source, found
    by its place among the definitions of the lifted text (which has the same structure)."""
    import ast

    code = fn.__code__
    defs = (ast.FunctionDef, ast.Lambda)
    compiled = [n for n in ast.walk(ast.parse(text).body[0].body[0]) if isinstance(n, defs)]
    original = [n for n in walk(node) if isinstance(n, (gast.FunctionDef, gast.Lambda))]
    for k, n in enumerate(compiled):
        same_name = getattr(n, "name", "<lambda>") == code.co_name
        if same_name and n.lineno == code.co_firstlineno and k < len(original):
            found = clone(original[k])
            if isinstance(found, gast.Lambda):
                ret = gast.copy_location(gast.Return(value=found.body), found)
                found = gast.copy_location(gast.FunctionDef(
                    name="lambda_", args=found.args, body=[ret], decorator_list=[], returns=None,
                    type_comment=None, type_params=[]), found)
            found.decorator_list = []
            return Parsed(fn, found, outer.filename, outer.line_offset, outer.lines,
                          closure_values(fn))
    raise NoSourceError(f"cannot find the source of {fn.__qualname__}, which an inner function of "
                        f"{outer.fn.__qualname__} made; define the function that makes it at "
                        f"module level")
