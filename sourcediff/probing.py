"""Probing generated code: a copy compiled with probes between the blocks of the user's lines.

Here are the user's statements that the generated comments quote, the blocks of generated code
that belong to each, the probes compiled in between them, and the values moved along random
directions that the probes compare with; ``sourcediff/attribution.py`` checks what they record.
"""

import ast
import collections
import copy
import functools
import inspect
import linecache
import os
import textwrap
import warnings

import numpy as np

from .compiler.parse import GENERATED_LINES
from .pytree import is_tree
from .runtime import generated

PROBE = "_sd_parity_probe"


class _CannotAttribute(Exception):
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
    code = generated.compile_code(factory, f"<sourcediff parity probe of {raw.__qualname__}>")
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
