"""Which line of a user's function a wrong derivative comes from: its generated code compiled again
with probes between the blocks, and each block checked against finite differences of the function.

Reverse mode. When the adjoint block of a line is left, the adjoint ``v_bar`` of each variable
``v`` the line reads must be the derivative of the function's value with respect to ``v`` as it
stands just before the line runs (every later use of that value has been swept by then); when the
block is entered, the adjoints of the variables the line reads or writes must be the derivatives
with respect to them just after it. The reference is the primal sweep run again with ``v`` moved
by ``+-h*d`` at that point (at that iteration, in a loop). A block entered right and left wrong is
wrong by itself. The search tries each block at its first run in the backward sweep (a wrong line
before a long loop costs a few runs), confirming a failure by the block's entry; else it walks the
blocks in the order the backward sweep runs them, where the first one left wrong is the wrong
block, since every adjoint flowing into it was checked before it ran.

Forward mode. After the block of a line, the tangent ``v_dot`` of each value it assigns must be the
derivative of ``v`` along the input direction, which the same code run at the moved arguments
gives; the first line where it is not is reported.

The probed copy is a separate compilation of the generated source: ``sd.source`` and the cached
code are untouched. Where no block can be blamed (finite differences unstable at the point, a
branch that flips under the step, nothing to compare), the result says so instead of guessing.

Example::

    from sourcediff.attribution import blame_reverse
    print(blame_reverse(loss, (w, x), wrt=(0,)).message)
"""

import ast
import collections
import copy
import functools
import inspect
import linecache
import os
import re
import textwrap
import time
import warnings

import numpy as np

from . import api, compiled
from .compiler.parse import GENERATED_LINES
from .pytree import is_tree
from .rules import registry

PROBE = "_sd_parity_probe"
_OWN_MODULES = ("numpy", "sourcediff", "scipy", "math", "builtins")


class Blame:
    """What the search found: ``found`` (a line is blamed) and ``message`` (text for a report);
    when found, ``location`` ("file.py:NN"), ``line`` (the user's statement), ``block`` (the
    generated lines of its block) and ``rules`` (the user's own rules the line calls)."""

    def __init__(self, found, message, location=None, line=None, block=None, rules=()):
        self.found, self.message = found, message
        self.location, self.line, self.block, self.rules = location, line, block, list(rules)

    def __repr__(self):
        return f"<Blame {'at ' + self.location if self.found else 'none'}>"


class _CannotAttribute(Exception):
    pass


class _Budget(Exception):
    pass


# ---------------------------------------------------------------------- the user's statements


@functools.lru_cache(maxsize=64)
def _statements_of(filename, stamp):
    """{physical line: (first line, last line) of the statement holding it} for a source file (a
    compound statement's header only)."""
    text = "".join(linecache.getlines(filename))
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return {}
    out = {}

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                body = getattr(child, "body", None)
                last = child.end_lineno
                if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                    last = max(child.lineno, body[0].lineno - 1)
                for line in range(child.lineno, last + 1):
                    out[line] = (child.lineno, last)
            visit(child)

    visit(tree)
    return out


def _statement_map(f):
    """``(basename, map)``: the statements of the file ``f`` is defined in."""
    target = f.__func__ if inspect.ismethod(f) else f
    target = inspect.unwrap(target) if hasattr(target, "__wrapped__") else target
    code = getattr(target, "__code__", None)
    if code is None:
        return None, {}
    filename = code.co_filename
    try:
        stamp = os.stat(filename).st_mtime
    except OSError:
        stamp = None
    return filename, _statements_of(filename, stamp)


class _Lines:
    """Comment locations ("file.py:NN") to the user's statements."""

    def __init__(self, f):
        self.filename, self.map = _statement_map(f)
        self.base = os.path.basename(self.filename) if self.filename else None

    def key(self, file, line):
        if file == self.base and line in self.map:
            return (file, self.map[line][0])
        return (file, line)

    def text(self, key, fallback):
        file, line = key
        if file != self.base or line not in self.map:
            return fallback
        first, last = self.map[line]
        lines = linecache.getlines(self.filename)[first - 1:last]
        return textwrap.dedent("".join(lines)).rstrip() or fallback


# ---------------------------------------------------------------------- the generated code's blocks


class _Site:
    """One segment of generated code that belongs to one user statement: the statements after a
    ``# <user line>`` (kind "line") or ``# grad of: <user line>`` (kind "grad") comment in one
    statement list, up to a comment of another statement."""

    def __init__(self, kind, key, text, path, comment_line, body, start):
        self.kind, self.key, self.text, self.path = kind, key, text, path
        self.comment_line, self.body, self.start, self.count = comment_line, body, start, 1
        self.closed = False
        self.id = self.end_line = None

    @property
    def location(self):
        return f"{self.key[0]}:{self.key[1]}"

    @property
    def stmts(self):
        return self.body[self.start:self.start + self.count]


def _sites(tree, lines, user_lines, origins):
    """Every segment of the generated function ``tree`` (an ``ast.FunctionDef``); ``origins``
    maps its comment lines to the :class:`~sourcediff.compiler.emit.Origin` each quotes (the line table)."""
    comments = {}
    for number, origin in origins.items():
        line = lines[number - 1]
        comments[number] = (len(line) - len(line.lstrip()), "grad" if origin.grad else "line",
                            origin.text, user_lines.key(origin.file, origin.line))
    sites = []

    def inside(st):
        """The user statements whose comments are inside a compound statement."""
        return {comments[n][3] for n in comments if st.lineno < n <= st.end_lineno}

    def walk(body, path, after):
        current = None
        previous_end = after
        for index, st in enumerate(body):
            found = [n for n in range(previous_end + 1, st.lineno)
                     if n in comments and comments[n][0] == st.col_offset]
            inner = set() if isinstance(st, ast.FunctionDef) else inside(st)
            if found:
                _, kind, text, key = comments[found[-1]]
                if current is not None and not current.closed and (kind, key) == \
                        (current.kind, current.key) and not inner - {key}:
                    current.count += 1  # (another physical line of the same statement)
                else:
                    current = _Site(kind, key, text, path, found[-1], body, index)
                    # (a compound holding other statements' blocks is a block of its own: a loop)
                    current.closed = bool(inner - {key})
                    sites.append(current)
            elif inner and (current is None or current.closed or inner != {current.key}):
                current = None  # (a compound of other statements' blocks ends the segment)
            elif current is not None and not current.closed:
                current.count += 1  # (a simple statement, or a compound of this statement only)
            previous_end = st.end_lineno
            if isinstance(st, ast.FunctionDef):
                continue
            for field in ("body", "orelse", "finalbody"):
                inner_body = getattr(st, field, None)
                if not (isinstance(inner_body, list) and inner_body
                        and isinstance(inner_body[0], ast.stmt)):
                    continue
                start = st.lineno if field == "body" else st.body[-1].end_lineno \
                    if field == "orelse" else max(s.end_lineno for s in st.body + st.orelse)
                # (a branch is known by its test, which its mirror in the backward sweep tests
                # again; a loop's mirror is a loop of another kind)
                step = ("if", ast.unparse(st.test), field) if isinstance(st, ast.If) else \
                    ("loop", field)
                walk(inner_body, path + (step,), start)

    walk(tree.body, (), tree.lineno)
    for number, site in enumerate(sites):
        site.id = number
        shown = site.stmts
        if site.kind == "grad" and len(shown) > 1 and isinstance(shown[-1], ast.Return):
            shown = shown[:-1]  # (the generated function's own return is no part of the block)
        site.end_line = shown[-1].end_lineno  # (before any probe goes in)
    return sites


def _loads(stmts):
    """Names ``stmts`` read before assigning them (nested statements of compound ones left out),
    not counting what they only push on a stack for the backward sweep."""
    out, assigned = [], set()

    def visit(node):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "append" and isinstance(node.func.value, ast.Name) \
                and node.func.value.id.startswith("_stack"):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in out \
                and node.id not in assigned:
            out.append(node.id)
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.stmt):
                visit(child)

    for st in stmts:
        if isinstance(st, ast.Assign):
            visit(st.value)
            for target in st.targets:
                visit(target)  # (y[i] = v reads y and i)
        else:
            visit(st)
        assigned.update(_stores([st]))
    return out


def _stores(stmts):
    """Names a statement list assigns or writes into (``y[i] = v`` writes into ``y``)."""
    out = []

    def add(target):
        if isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                add(t)
            return
        while isinstance(target, (ast.Subscript, ast.Attribute, ast.Starred)):
            target = target.value
        if isinstance(target, ast.Name) and target.id not in out:
            out.append(target.id)

    for st in stmts:
        if isinstance(st, ast.Assign):
            for target in st.targets:
                add(target)
        elif isinstance(st, (ast.AugAssign, ast.AnnAssign, ast.For)):
            add(st.target)
    return out


def _stored_anywhere(tree):
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Store)} | {a.arg for a in ast.walk(tree)
                                                 if isinstance(a, ast.arg)}


def _partner(name, suffix):
    """The adjoint (``_bar``) or tangent (``_dot``) variable sourcediff names after ``name``."""
    base = name if name.startswith("_") else name.lstrip("_")
    return f"{base}_{suffix}"


def _user_variables(f):
    target = f.__func__ if inspect.ismethod(f) else f
    target = inspect.unwrap(target) if hasattr(target, "__wrapped__") else target
    code = getattr(target, "__code__", None)
    return set(code.co_varnames) | set(code.co_cellvars) if code is not None else set()


# ---------------------------------------------------------------------- values and directions


def _float_leaf(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, (float, np.floating)):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def _direction(rng, value):
    """A random direction shaped like ``value`` (a float, float array, or list/tuple/dict of
    them), None where a leaf carries no derivative; None when nothing does."""
    if _float_leaf(value):
        d = rng.normal(size=np.shape(value))
        return float(d) if np.ndim(value) == 0 else d
    if isinstance(value, (list, tuple)):
        items = [_direction(rng, v) for v in value]
        return items if any(i is not None for i in items) else None
    if isinstance(value, dict):
        items = {k: _direction(rng, v) for k, v in value.items()}
        return items if any(i is not None for i in items.values()) else None
    return None


def _moved(value, direction, h):
    """``value + h * direction`` (a new object; leaves without a direction kept as they are)."""
    if direction is None:
        return value
    if isinstance(value, (list, tuple)):
        items = [_moved(v, d, h) for v, d in zip(value, direction)]
        if isinstance(value, list):
            return items
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, dict):
        return {k: _moved(v, direction[k], h) for k, v in value.items()}
    if isinstance(value, float):
        return float(value + h * direction)
    dtype = np.result_type(value)
    moved = np.asarray(value, dtype=float) + h * np.asarray(direction)
    return moved.astype(dtype) if np.ndim(value) else dtype.type(moved)


class _Mismatch(Exception):
    pass


def _dot(bar, direction):
    """<bar, direction> for an adjoint as generated code holds it: 0.0 (or None) for zero, lists
    (aligned at their end when shorter: a stack's) and dicts entrywise."""
    if direction is None or bar is None:
        return 0.0
    if isinstance(bar, (int, float)) and not isinstance(bar, bool) and bar == 0:
        return 0.0
    if isinstance(direction, dict):
        if not isinstance(bar, dict):
            raise _Mismatch(f"its adjoint is a {type(bar).__name__}, the variable a dict")
        return sum(_dot(bar.get(k, 0.0), d) for k, d in direction.items())
    if isinstance(direction, list):
        if not isinstance(bar, (list, tuple)) or len(bar) > len(direction):
            raise _Mismatch(f"its adjoint is {type(bar).__name__} of another length than the "
                            f"variable")
        offset = len(direction) - len(bar)
        return sum(_dot(b, d) for b, d in zip(bar, direction[offset:]))
    bar = np.asarray(bar, dtype=float) if not isinstance(bar, np.ndarray) else bar
    if bar.ndim and bar.shape != np.shape(direction):
        raise _Mismatch(f"its adjoint has shape {bar.shape}, the variable {np.shape(direction)}")
    if bar.ndim == 0:
        return float(bar) * float(np.sum(direction))
    return float(np.sum(bar.astype(float) * direction))


def _scale(value):
    """The largest magnitude among ``value``'s float leaves."""
    if _float_leaf(value):
        return float(np.max(np.abs(np.asarray(value, dtype=float)), initial=0.0))
    if isinstance(value, (list, tuple)):
        return max((_scale(v) for v in value), default=0.0)
    if isinstance(value, dict):
        return max((_scale(v) for v in value.values()), default=0.0)
    return 0.0


def _single(value):
    """True when a float leaf of ``value`` is float32 or narrower."""
    if _float_leaf(value):
        return np.result_type(value).itemsize <= 4 and not isinstance(value, float)
    if isinstance(value, (list, tuple)):
        return any(_single(v) for v in value)
    if isinstance(value, dict):
        return any(_single(v) for v in value.values())
    return False


def _snapshot(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if is_tree(value):
        try:
            return copy.deepcopy(value)
        except Exception:  # noqa: BLE001
            return value
    return value


# ---------------------------------------------------------------------- compiling the probed copy


class _Probe:
    """What the probed copy calls: counts the primal segments, moves one variable at one point,
    records adjoints on entry to and exit from backward blocks, and values with tangents in
    forward blocks."""

    def __init__(self, wanted):
        self.wanted = wanted          # site id -> [(variable, partner name)]
        self.reset(None)

    def reset(self, target):
        self.target = target          # None, or (site, occurrence, name, point, direction, h)
        self.counts = collections.Counter()
        self.after = collections.Counter()
        self.entries = collections.Counter()
        self.exits = []               # (backward site, occurrence) in the order they ran
        self.recorded = {}            # (backward site, occurrence, 'entry'|'exit') -> adjoints
        self.events = []              # forward: (site, occurrence, {name: (value, tangent)})
        self.values = {}              # (site, occurrence, name, point) -> the value there
        self.pending = {}
        self.path = 0
        self.moved = False

    def enter(self, site):
        self.counts[site] += 1
        self.path = hash((self.path, site))

    def move(self, site, name, value, point):
        occurrence = self.counts[site] - 1
        if self.target is None:
            self.values[(site, occurrence, name, point)] = _snapshot(value)
            return value
        if (site, occurrence, name, point) != self.target[:4]:
            return value
        self.moved = True
        return _moved(value, self.target[4], self.target[5])

    def record(self, site, when, scope):
        """On entry to or exit from a backward block: the adjoints of its statement's
        variables."""
        counter = self.entries if when == "entry" else self.after
        occurrence = counter[site]
        counter[site] += 1
        if when == "exit":
            self.path = hash((self.path, -1 - site))
        if self.target is not None:
            return
        if when == "exit":
            self.exits.append((site, occurrence))
        self.recorded[(site, occurrence, when)] = {
            name: _snapshot(scope.get(partner, 0.0)) for name, partner in self.wanted.get(site, ())}

    def keep(self, site, name, value, tangent):
        """In a forward block, right after ``name`` and its tangent are set."""
        self.pending[(site, name)] = (_snapshot(value), _snapshot(tangent))

    def flush(self, site):
        """At the end of a forward block: one event with what :meth:`keep` saw."""
        occurrence = self.after[site]
        self.after[site] += 1
        values = {name: self.pending.pop((site, name)) for name, _ in self.wanted.get(site, ())
                  if (site, name) in self.pending}
        self.events.append((site, occurrence, values))


def _raw(generated):
    """The compiled generated function behind sourcediff's entry wrapper."""
    fn = generated
    for _ in range(4):
        if getattr(fn, "__code__", None) is not None and \
                fn.__code__.co_filename in GENERATED_LINES and \
                getattr(fn, "__sourcediff_source__", None):
            return fn
        fn = getattr(fn, "__wrapped__", None)
        if fn is None:
            break
    raise _CannotAttribute("the generated function is not compiled sourcediff code")


def _instrument(raw, user_lines, plan):
    """Compile a copy of ``raw``'s source with ``plan(tree, sites)``'s probes in; returns
    ``(factory, cells, sites, lines)`` where ``factory(*cells, probe)`` is the probed function.
    ``plan`` returns (site, offset, statements): the statements go after the site's first
    ``offset`` statements (None: after all of them, but before a closing return)."""
    text = raw.__sourcediff_source__
    lines = text.splitlines()
    fdef = ast.parse(text).body[0]
    table = GENERATED_LINES.get(raw.__code__.co_filename)
    if table is None:
        raise _CannotAttribute("the generated function has no line table")
    sites = _sites(fdef, lines, user_lines,
                   {k - table.offset: o for k, o in table.comments.items()})
    by_body = collections.defaultdict(list)
    for site, offset, stmts in plan(fdef, sites):
        at = site.start + (site.count if offset is None else offset)
        if offset is None and isinstance(site.stmts[-1], (ast.Return, ast.Break, ast.Continue,
                                                          ast.Raise)):
            at -= 1
        by_body[id(site.body)].append((at, len(by_body[id(site.body)]), site.body, stmts))
    for entries in by_body.values():
        # (from the end, so that earlier positions stay valid; at one position, in plan order)
        for at, _, body, stmts in sorted(entries, key=lambda e: (-e[0], -e[1])):
            body[at:at] = stmts
    free = raw.__code__.co_freevars
    cells = [c.cell_contents for c in (raw.__closure__ or ())]
    body = textwrap.indent(ast.unparse(fdef), "    ")
    factory = f"def __sd_parity_factory__({', '.join(list(free) + [PROBE])}):\n{body}\n" \
              f"    return {fdef.name}\n"
    code = compile(factory, f"<sourcediff parity probe of {raw.__qualname__}>", "exec")
    namespace = {}
    exec(code, raw.__globals__, namespace)
    return namespace["__sd_parity_factory__"], cells, sites, lines


def _stmt(text):
    return ast.parse(text).body


def _block_text(site, lines):
    """The generated lines of a site: its comment and its statements."""
    return textwrap.dedent("\n".join(lines[site.comment_line - 1:site.end_line]))


def _run_quietly(fn, *args, **kwargs):
    """Moved runs may overflow or divide by zero (a log near 0): no warnings from them."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# ---------------------------------------------------------------------- the user's rules on a line


def _def_line(fn):
    """``file.py:NN`` of the ``def`` line of a Python function (after its decorators)."""
    fn = inspect.unwrap(fn) if hasattr(fn, "__wrapped__") else fn
    code = getattr(fn, "__code__", None)
    if code is None:
        return "?"
    try:
        lines, first = inspect.getsourcelines(code)
        offset = next((k for k, line in enumerate(lines) if line.lstrip().startswith("def ")), 0)
        return f"{os.path.basename(code.co_filename)}:{first + offset}"
    except (OSError, TypeError):
        return f"{os.path.basename(code.co_filename)}:{code.co_firstlineno}"


def users_own(obj):
    """True for an object defined outside numpy, scipy, math, builtins and sourcediff."""
    module = getattr(obj, "__module__", "") or ""
    return module.split(".")[0] not in _OWN_MODULES


def user_rule(obj):
    """The :class:`~sourcediff.registry.Rule` of ``obj`` when its vjp rule is the user's own."""
    try:
        rule = registry.lookup(obj) if callable(obj) else None
    except TypeError:
        return None
    if rule is not None and rule.pair_jvp is not None:  # (sd.custom_jvp: its jvp is the user's)
        return rule if users_own(rule.pair_jvp) else None
    return rule if rule is not None and users_own(rule.vjp) else None


def describe_rule(obj, name=None):
    """``softplus (model.py:5), whose vjp rule is softplus_vjp (model.py:9)`` for a function with
    a rule of the user's own, else None."""
    rule = user_rule(obj)
    if rule is None:
        return None
    name = name or getattr(obj, "__qualname__", None) or getattr(obj, "__name__", repr(obj))
    text = f"{name} ({_def_line(obj)}), whose vjp rule is {rule.vjp.__name__} " \
           f"({_def_line(rule.vjp)})"
    if rule.jvp is not None:
        text += f" and jvp rule {rule.jvp.__name__} ({_def_line(rule.jvp)})"
    elif rule.kind in ("elementwise", "linear"):
        text += f" (forward mode derives from it: kind={rule.kind!r})"
    return text


class _RuleUse(str):
    """A description of a rule of the user's (a str), with the function's name and parameters."""

    def __new__(cls, text, name, params):
        made = super().__new__(cls, text)
        made.name, made.params = name, params
        return made

    @property
    def text(self):
        return str(self)


def _rule_call_example(rules):
    rule = rules[0]
    params = ", ".join(rule.params)
    if len(rule.params) == 1:
        params += ","
    return f"sourcediff.testing.check_grads({rule.name}, ({params})) at inputs like this line's"


def rules_used(f, line_text=None, depth=3):
    """Descriptions (strings) of the user's own rules ``f`` calls (only those named in
    ``line_text`` when it is given), following calls into the user's other functions up to
    ``depth`` deep."""
    target = f.__func__ if inspect.ismethod(f) else f
    target = inspect.unwrap(target) if hasattr(target, "__wrapped__") else target
    scope = dict(getattr(target, "__globals__", {}))
    code = getattr(target, "__code__", None)
    if code is not None and getattr(target, "__closure__", None):
        for var, cell in zip(code.co_freevars, target.__closure__):
            try:
                scope[var] = cell.cell_contents
            except ValueError:
                pass
    if line_text is not None:
        names = _called_names(line_text)
    elif code is not None:
        names = list(code.co_names) + list(code.co_freevars)
    else:
        names = []
    out, seen = [], set()
    for name in names:
        obj = _resolve(scope, name)
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        described = describe_rule(obj, name.split(".")[-1])
        if described is not None:
            try:
                params = list(inspect.signature(obj).parameters)
            except (TypeError, ValueError):
                params = ["x"]
            out.append(_RuleUse(described, name, params))
        elif depth > 0 and inspect.isfunction(obj) and users_own(obj) and obj is not target:
            for inner in rules_used(obj, None, depth - 1):
                text = f"{inner}, called through {obj.__qualname__} ({_def_line(obj)})"
                if text not in out:
                    out.append(_RuleUse(text, inner.name, inner.params))
    return out


def _called_names(line_text):
    text = textwrap.dedent(line_text).strip()
    for candidate in (text, text.rstrip(":") + ": pass", text + "\n    pass"):
        try:
            tree = ast.parse(candidate)
            break
        except SyntaxError:
            continue
    else:
        return re.findall(r"([A-Za-z_][\w.]*)\s*\(", text)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            dotted = _dotted(node.func)
            if dotted and dotted not in out:
                out.append(dotted)
    return out


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id] + parts[::-1])


def _resolve(scope, dotted):
    import builtins

    head, *rest = dotted.split(".")
    obj = scope[head] if head in scope else getattr(builtins, head, None)
    for part in rest:
        obj = getattr(obj, part, None)
    return obj


def _report(kind, site, statement, when, detail, what, block, rules):
    first = "First wrong block, in the order the backward sweep runs them" if kind == "reverse" \
        else "First wrong line in forward mode"
    text = [f"{first}: {site.location}{when}"]
    text += ["    " + line for line in statement.splitlines()]
    text.append(f"  {detail}")
    text.append(f"  Its block in the generated code ({what}):")
    text += ["      " + line for line in block.splitlines()]
    if rules:
        example = _rule_call_example(rules)
        text.append(f"  The line calls {'; '.join(r.text for r in rules)}. That rule is yours: "
                    f"test it alone with {example}.")
    return Blame(True, "\n".join(text), site.location, statement, block,
                 [r.text for r in rules])


def _first_line(exc):
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:160].rstrip(".")


def _name(f):
    return getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or "f"


# ---------------------------------------------------------------------- reverse mode


def blame_reverse(f, args, wrt, *, optimize=False, specialized=False, seed=0, eps=1e-6,
                  rtol=1e-5, atol=1e-7, max_runs=400, max_seconds=30.0):
    """The first adjoint block (in backward-sweep order) of ``sd.value_and_grad(f, wrt)``'s
    generated code after which an adjoint disagrees with finite differences of ``f``, as a
    :class:`Blame`. ``optimize``/``specialized`` pick the generated code probed (by default the
    unoptimized code, whose adjoints follow the user's variables most closely)."""
    what = f"sd.value_and_grad({_name(f)}, wrt={tuple(wrt)!r}" + \
        (")" if optimize else ", optimize=False)")
    try:
        vg = api.value_and_grad(f, wrt=tuple(wrt), optimize=optimize)
        owner = getattr(vg, "__self__", None)
        generated = vg.__func__ if owner is not None else vg
        raw = _raw(generated)
        spec = getattr(generated, "__sourcediff_specializations__", None)
        if specialized and spec is not None:
            try:  # (a Python float argument runs forward mode instead: no blocks to probe)
                raw = _raw(spec.lookup(tuple(args)))
                what += ", specialized for these arguments"
            except _CannotAttribute:
                pass
        search = _ReverseSearch(f, args, raw, owner, what, seed, eps, rtol, atol, max_runs,
                                max_seconds)
        return _run_quietly(search.run)
    except _CannotAttribute as exc:
        return Blame(False, f"Not attributed to a line: {exc}.")
    except Exception as exc:  # noqa: BLE001  (the report must still come out)
        return Blame(False, f"Not attributed to a line: probing the generated code ({what}) "
                            f"failed with {type(exc).__name__}: {_first_line(exc)}.")


class _ReverseSearch:
    """The search over one generated function's blocks (see the module docstring).

    Each backward block is probed twice: on entry (the adjoints of the variables its statement
    reads or writes, which must equal finite differences moving them just after the statement's
    primal) and on exit (the adjoints of the variables it reads, against moving them just before
    it). A block whose entry agrees and whose exit does not is wrong by itself. The search first
    tries each block once, at its first run in the backward sweep (quick for long loops), and
    confirms a failure by the block's entry; failing that, it walks every run in backward order,
    where the first exit that disagrees is the wrong block (all that flowed into it was checked).
    """

    def __init__(self, f, args, raw, owner, what, seed, eps, rtol, atol, max_runs, max_seconds):
        self.f, self.args, self.raw, self.owner, self.what = f, tuple(args), raw, owner, what
        self.seed = seed
        self.eps, self.rtol, self.atol = eps, rtol, atol
        self.max_runs, self.deadline = max_runs, time.monotonic() + max_seconds
        self.runs = 0
        self.user_lines = _Lines(f)
        self.verdicts = {}

    def plan(self, tree, sites):
        user = _user_variables(self.f)
        stored = _stored_anywhere(tree)
        groups = collections.defaultdict(lambda: ([], []))
        for site in sites:
            groups[(site.key, site.path)][site.kind == "grad"].append(site)

        def checkable(names):
            return [v for v in names if v in user and v in stored and _partner(v, "bar") in stored
                    and _partner(v, "bar") not in user]

        self.pairs, self.reads, self.touched = {}, {}, {}
        for primal, adjoint in groups.values():
            if len(primal) != len(adjoint):
                continue  # (no mirror to pair with: left unchecked)
            for p, b in zip(primal, reversed(adjoint)):
                self.pairs[b.id] = p
                self.reads[b.id] = checkable(_loads(p.stmts))
                self.touched[b.id] = self.reads[b.id] + [
                    v for v in checkable(_stores(p.stmts)) if v not in self.reads[b.id]]
        out = []
        for b_id, p in self.pairs.items():
            b = sites[b_id]
            stmts = _stmt(f"{PROBE}.enter({p.id})")
            for v in self.reads[b_id]:
                stmts += _stmt(f"{v} = {PROBE}.move({p.id}, {v!r}, {v}, 'before')")
            out.append((p, 0, stmts))
            after = []
            for v in self.touched[b_id]:
                after += _stmt(f"{v} = {PROBE}.move({p.id}, {v!r}, {v}, 'after')")
            if after:
                out.append((p, None, after))
            out.append((b, 0, _stmt(f"{PROBE}.record({b_id}, 'entry', locals())")))
            out.append((b, None, _stmt(f"{PROBE}.record({b_id}, 'exit', locals())")))
        return out

    def value(self, target):
        if self.runs >= self.max_runs or time.monotonic() > self.deadline:
            raise _Budget()
        self.runs += 1
        self.probe.reset(target)
        call_args = copy.deepcopy(list(self.args))
        out = self.fn(self.owner, *call_args) if self.owner is not None else self.fn(*call_args)
        if np.ndim(out[0]) != 0:
            raise _CannotAttribute("the function's value is not a scalar")
        return float(np.asarray(out[0], dtype=float)), self.probe.path

    def run(self):
        factory, cells, self.sites, self.lines = _instrument(self.raw, self.user_lines, self.plan)
        if not any(self.reads.values()):
            raise _CannotAttribute(f"the generated code ({self.what}) has no block whose "
                                   f"adjoints can be checked")
        self.probe = _Probe({b: [(v, _partner(v, "bar")) for v in self.touched[b]]
                             for b in self.touched})
        self.fn = factory(*cells, self.probe)
        self.base, self.path = self.value(None)
        self.recorded = dict(self.probe.recorded)
        self.before = dict(self.probe.values)
        counts = dict(self.probe.counts)
        swept = collections.Counter(b for b, _ in self.probe.exits)
        # (the runs of a block in the backward sweep, paired with the runs of its primal)
        self.events = [(b, occurrence, counts.get(self.pairs[b].id, 0) - 1 - occurrence)
                       for b, occurrence in self.probe.exits
                       if counts.get(self.pairs[b].id, 0) == swept[b]]
        try:
            for event in [e for e in self.events if e[1] == 0]:
                wrong = self.exit_wrong(event)
                if wrong is not None:
                    if self.entry_right(event):
                        return self.found(event, wrong)
                    break
            for event in self.events:
                wrong = self.exit_wrong(event)
                if wrong is not None:
                    return self.found(event, wrong)
        except _Budget:
            return Blame(False, f"Not attributed to a line: the {self.judged()} adjoints checked "
                                f"within the budget ({self.max_runs} runs of the function) agree "
                                f"with finite differences.")
        return self.nothing_found()

    def judged(self):
        return sum(1 for v in self.verdicts.values() if v is None or v[0] == "wrong")

    def nothing_found(self):
        checked = len(self.verdicts)
        if checked == 0:
            return Blame(False, f"Not attributed to a line: no adjoint of a float variable of "
                                f"{_name(self.f)} could be checked in the generated code "
                                f"({self.what}).")
        unjudged = [(key, v[1]) for key, v in self.verdicts.items()
                    if v is not None and v[0] == "unjudged" and key[3] == "exit"]
        note = ""
        if unjudged:
            (b, _, name, _), why = unjudged[0]
            note = f"; {len(unjudged)} could not be judged, the first for {name} at " \
                   f"{self.sites[b].location} ({why})"
        return Blame(False, f"Not attributed to a line: all {self.judged()} adjoints judged block "
                            f"by block in the generated code ({self.what}) agree with finite "
                            f"differences{note}. No statement's block is to blame at the points "
                            f"checked.")

    def exit_wrong(self, event):
        """The first variable the block reads whose adjoint is wrong on exit, with the detail."""
        b, occurrence, _ = event
        for name in self.reads[b]:
            verdict = self.verdict(event, name, "exit")
            if verdict is not None and verdict[0] == "wrong":
                return verdict[1]
        return None

    def entry_right(self, event):
        b, _, _ = event
        return all(self.verdict(event, name, "entry") is None for name in self.touched[b])

    def verdict(self, event, name, when):
        b, occurrence, primal_occurrence = event
        key = (b, occurrence, name, when)
        if key not in self.verdicts:
            p = self.pairs[b].id
            point = "before" if when == "exit" else "after"
            value = self.before.get((p, primal_occurrence, name, point))
            rng = np.random.default_rng([self.seed, b, occurrence, len(name), when == "exit"])
            direction = _direction(rng, value)
            bars = self.recorded.get((b, occurrence, when))
            if direction is None or bars is None:
                self.verdicts[key] = ("unjudged", "not a float value")
            else:
                self.verdicts[key] = self.check((p, primal_occurrence, name, point), value,
                                                direction, bars.get(name, 0.0))
        return self.verdicts[key]

    def check(self, where, value, direction, bar):
        try:
            analytic = _dot(bar, direction)
        except _Mismatch as exc:
            return ("wrong", str(exc))
        single = _single(value)
        step = max(self.eps, 1e-3 if single else 0.0) * max(1.0, _scale(value))
        numeric = self.fd(where, direction, step)
        if isinstance(numeric, str):
            return ("unjudged", numeric)
        noise = 50 * np.finfo(np.float32 if single else np.float64).eps * \
            (abs(self.base) + 1.0) / step
        rel = max(self.rtol, 1e-3 if single else 1e-7)
        tol = self.atol + noise + rel * max(abs(numeric), abs(analytic))
        err = abs(analytic - numeric)
        if np.isfinite(analytic) and err <= tol:
            return None
        # (wrong only when finite differences with a ten times larger step agree, and the
        # adjoint is clearly further off than the two steps are from each other)
        again = self.fd(where, direction, step * 10)
        if isinstance(again, str) or abs(again - numeric) > tol or \
                (np.isfinite(analytic) and err <= 3 * abs(again - numeric)):
            shown = again if isinstance(again, str) else f"{again:.6g}"
            return ("unjudged", f"finite differences with steps {step:.2g} and {10 * step:.2g} "
                                f"give {numeric:.6g} and {shown}, too far apart to judge")
        name = where[2]
        return ("wrong", f"{_partner(name, 'bar')} along a random direction is {analytic:.8g} "
                         f"after it; finite differences of {_name(self.f)}, moving {name} just "
                         f"before the line, give {numeric:.8g}")

    def fd(self, where, direction, step):
        values = []
        for h in (step, -step):
            try:
                value, moved_path = self.value(where + (direction, h))
            except (_Budget, _CannotAttribute):
                raise
            except Exception as exc:  # noqa: BLE001
                return f"the moved run failed: {type(exc).__name__}"
            if not self.probe.moved:
                return "the moved point was not reached"
            if moved_path != self.path:
                return "a branch or a loop's count changes under the step"
            values.append(value)
        if not all(np.isfinite(values)):
            return "the moved runs give values that are not finite"
        return (values[0] - values[1]) / (2 * step)

    def found(self, event, detail):
        b_id, occurrence, primal_occurrence = event
        b = self.sites[b_id]
        total = sum(1 for e in self.events if e[0] == b_id)
        when = ""
        if total > 1:
            when = f" (the backward sweep's pass {occurrence + 1} of {total} over it, for the " \
                   f"primal's run {primal_occurrence + 1})"
        statement = self.user_lines.text(b.key, b.text)
        rules = rules_used(self.f, statement)
        detail = f"The adjoints flowing into this block agree with finite differences; {detail}."
        return _report("reverse", b, statement, when, detail, self.what,
                       _block_text(b, self.lines), rules)


# ---------------------------------------------------------------------- forward mode


def blame_forward(f, args, wrt, *, seed=0, eps=1e-6, rtol=1e-5, atol=1e-7):
    """The first line of ``sd.jvp(f, wrt=wrt, optimize=False)``'s generated code after which a
    tangent disagrees with finite differences, as a :class:`Blame`."""
    what = f"sd.jvp({_name(f)}, wrt={tuple(wrt)!r}, optimize=False)"
    try:
        return _run_quietly(_blame_forward, f, tuple(args), tuple(wrt), what, seed, eps, rtol,
                            atol)
    except _CannotAttribute as exc:
        return Blame(False, f"Not attributed to a line: {exc}.")
    except Exception as exc:  # noqa: BLE001
        return Blame(False, f"Not attributed to a line: probing the generated code ({what}) "
                            f"failed with {type(exc).__name__}: {_first_line(exc)}.")


def _blame_forward(f, args, wrt, what, seed, eps, rtol, atol):

    jf = compiled._get(f, wrt, "jvp", False)
    owner = getattr(jf, "__self__", None)
    generated = jf.__func__ if owner is not None else jf
    raw = _raw(generated)
    names, params = generated.__sourcediff_tangent_names__, generated.__sourcediff_wrt__
    rng = np.random.default_rng(seed + 1)
    dirs = {i: _direction(rng, args[i]) for i in wrt}
    user = _user_variables(f)
    user_lines = _Lines(f)
    wanted = {}

    def plan(tree, sites):
        stored = _stored_anywhere(tree)
        out = []
        for site in sites:
            if site.kind != "line":
                continue
            stmts = site.stmts
            vs = [v for v in _stores(stmts) if _partner(v, "dot") in stored
                  and _partner(v, "dot") not in user and not v.endswith("_dot")]
            if not vs:
                continue
            wanted[site.id] = [(v, _partner(v, "dot")) for v in vs]
            for v in vs:
                # (right after the last statement that sets v or its tangent: a later one may
                # write into what it is a view of)
                last = max(k for k, st in enumerate(stmts)
                           if {v, _partner(v, "dot")} & set(_stores([st])))
                out.append((site, last + 1, _stmt(
                    f"{PROBE}.keep({site.id}, {v!r}, {v}, {_partner(v, 'dot')})")))
            out.append((site, None, _stmt(f"{PROBE}.flush({site.id})")))
        return out

    factory, cells, sites, lines = _instrument(raw, user_lines, plan)
    if not wanted:
        raise _CannotAttribute(f"the generated code ({what}) has no line whose tangents can be "
                               f"checked")
    probe = _Probe(wanted)
    fn = factory(*cells, probe)

    def run(h):
        moved = list(args)
        for i in wrt:
            moved[i] = _moved(args[i], dirs[i], h)
        probe.reset(None)
        call_args = copy.deepcopy(moved)
        kwargs = {names[params[k]]: dirs[i] for k, i in enumerate(wrt)}
        if owner is not None:
            fn(owner, *call_args, **kwargs)
        else:
            fn(*call_args, **kwargs)
        return list(probe.events)

    single = any(_single(args[i]) for i in wrt)
    step = max(eps, 1e-3 if single else 0.0)
    base, hi, lo = run(0.0), run(step), run(-step)
    wide = []  # (the runs with a ten times larger step, made when a tangent looks wrong)

    def differences(events_hi, events_lo, k, name, h):
        if k >= min(len(events_hi), len(events_lo)) or events_hi[k][:2] != base[k][:2] or \
                events_lo[k][:2] != base[k][:2]:
            return None
        up = events_hi[k][2].get(name, (None,))[0]
        down = events_lo[k][2].get(name, (None,))[0]
        if not (_float_leaf(up) and _float_leaf(down)) or np.shape(up) != np.shape(down):
            return None
        return (np.asarray(up, dtype=float) - np.asarray(down, dtype=float)) / (2 * h)

    checked, unjudged = 0, []
    for k, (site_id, occurrence, values) in enumerate(base):
        if k >= min(len(hi), len(lo)) or hi[k][:2] != (site_id, occurrence) or \
                lo[k][:2] != (site_id, occurrence):
            return Blame(False, f"Not attributed to a line: a branch or a loop's count changes "
                                f"under the finite-difference step before any tangent differs "
                                f"({checked} checked in {what}).")
        for name, (value, tangent) in values.items():
            numeric = differences(hi, lo, k, name, step)
            if not _float_leaf(value) or numeric is None or numeric.shape != np.shape(value):
                continue
            checked += 1
            if isinstance(tangent, (int, float)) and tangent == 0:
                tangent = np.zeros(np.shape(value))
            tangent = np.asarray(tangent, dtype=float) if _float_leaf(tangent) or \
                isinstance(tangent, (int, float)) else None
            site = sites[site_id]
            when = f" (its run {occurrence + 1})" if occurrence else ""
            if tangent is None or (tangent.ndim and tangent.shape != np.shape(value)):
                detail = f"after it, {_partner(name, 'dot')} has shape " \
                         f"{None if tangent is None else tangent.shape}, {name} {np.shape(value)}."
                return _forward_found(f, site, user_lines, lines, what, when, detail)
            err = float(np.max(np.abs(tangent - numeric), initial=0.0))
            scale = max(float(np.max(np.abs(numeric), initial=0.0)),
                        float(np.max(np.abs(tangent), initial=0.0)))
            noise = 50 * np.finfo(np.float32 if single else np.float64).eps * \
                (_scale(value) + 1.0) / step
            tol = atol + noise + max(rtol, 1e-3 if single else 1e-7) * scale
            if np.isfinite(err) and err <= tol:
                continue
            if not wide:
                wide.extend([run(10 * step), run(-10 * step)])
            again = differences(wide[0], wide[1], k, name, 10 * step)
            apart = None if again is None or again.shape != numeric.shape else \
                float(np.max(np.abs(again - numeric), initial=0.0))
            if apart is None or apart > tol or (np.isfinite(err) and err <= 3 * apart):
                unjudged.append((site, name))
                continue
            detail = (f"The tangents before this line agree with finite differences; after it, "
                      f"{_partner(name, 'dot')} differs from finite differences of {name} by "
                      f"{err:.3g} (max abs; its largest entry is {scale:.6g}).")
            return _forward_found(f, site, user_lines, lines, what, when, detail)
    note = ""
    if unjudged:
        site, name = unjudged[0]
        note = f"; {len(unjudged)} could not be judged (finite differences with two steps too " \
               f"far apart), the first for {name} at {site.location}"
    return Blame(False, f"Not attributed to a line: all {checked - len(unjudged)} tangents judged "
                        f"line by line in the generated code ({what}) agree with finite "
                        f"differences{note}.")


def _forward_found(f, site, user_lines, lines, what, when, detail):
    statement = user_lines.text(site.key, site.text)
    return _report("forward", site, statement, when, detail, what, _block_text(site, lines),
                   rules_used(f, statement))
