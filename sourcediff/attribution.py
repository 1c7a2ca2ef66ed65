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

The probed copy (``sourcediff/probing.py``) is a separate compilation of the generated source:
``sd.source`` and the cached code are untouched. Where no block can be blamed (finite differences
unstable at the point, a branch that flips under the step, nothing to compare), the result says so
instead of guessing.

Example::

    from sourcediff.attribution import blame_reverse
    print(blame_reverse(loss, (w, x), wrt=(0,)).message)
"""

import ast
import builtins
import collections
import copy
import functools
import inspect
import os
import re
import textwrap
import time

import numpy as np

from . import api, compiled
from .probing import (PROBE, _block_text, _CannotAttribute, _direction, _dot, _float_leaf,
                      _instrument, _Lines, _loads, _Mismatch, _moved, _partner, _Probe, _raw,
                      _run_quietly, _scale, _single, _stmt, _stored_anywhere, _stores,
                      _user_variables)
# (the probing names kept importable from here, where they were before probing.py)
from .probing import _Site, _sites, _snapshot, _statement_map, _statements_of  # noqa: F401
from .rules import registry

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


class _Budget(Exception):
    pass


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
    """The search of blame_forward: the jvp code probed after each line, its tangents checked
    against finite differences in the order the lines ran."""
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
        return _forward_probes(tree, sites, user, wanted)

    factory, cells, sites, lines = _instrument(raw, user_lines, plan)
    if not wanted:
        raise _CannotAttribute(f"the generated code ({what}) has no line whose tangents can be "
                               f"checked")
    probe = _Probe(wanted)
    fn = factory(*cells, probe)
    run = functools.partial(_forward_run, fn, probe, owner, args, wrt, dirs, names, params)
    single = any(_single(args[i]) for i in wrt)
    step = max(eps, 1e-3 if single else 0.0)
    check = _ForwardCheck(run, step, single, rtol, atol)
    return check.search(f, sites, user_lines, lines, what)


def _forward_probes(tree, sites, user, wanted):
    """The plan for _instrument: after each line's block, keep the values it assigns with their
    tangents, then flush them as one event; the variables kept go into ``wanted``."""
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


def _forward_run(fn, probe, owner, args, wrt, dirs, names, params, h):
    """The events of one run of the probed jvp code at the arguments moved by ``h`` along their
    directions, with those directions as tangents."""
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


class _ForwardCheck:
    """The tangents of the run at the arguments, event by event, against central differences of
    the runs a step away (and ten steps away, to judge one that looks wrong)."""

    def __init__(self, run, step, single, rtol, atol):
        self.run, self.step, self.single, self.rtol, self.atol = run, step, single, rtol, atol
        self.base, self.hi, self.lo = run(0.0), run(step), run(-step)
        self.wide = []  # (the runs with a ten times larger step, made when a tangent looks wrong)
        self.checked, self.unjudged = 0, []

    def differences(self, events_hi, events_lo, k, name, h):
        """The central difference of ``name``'s value at event k, or None when the runs do not
        line up there or the value is not a float."""
        base = self.base
        if k >= min(len(events_hi), len(events_lo)) or events_hi[k][:2] != base[k][:2] or \
                events_lo[k][:2] != base[k][:2]:
            return None
        up = events_hi[k][2].get(name, (None,))[0]
        down = events_lo[k][2].get(name, (None,))[0]
        if not (_float_leaf(up) and _float_leaf(down)) or np.shape(up) != np.shape(down):
            return None
        return (np.asarray(up, dtype=float) - np.asarray(down, dtype=float)) / (2 * h)

    def search(self, f, sites, user_lines, lines, what):
        """The Blame of the first line after which a tangent is wrong, or of why none is."""
        hi, lo = self.hi, self.lo
        for k, (site_id, occurrence, values) in enumerate(self.base):
            if k >= min(len(hi), len(lo)) or hi[k][:2] != (site_id, occurrence) or \
                    lo[k][:2] != (site_id, occurrence):
                return Blame(False, f"Not attributed to a line: a branch or a loop's count "
                                    f"changes under the finite-difference step before any tangent "
                                    f"differs ({self.checked} checked in {what}).")
            for name, (value, tangent) in values.items():
                site = sites[site_id]
                detail = self.tangent_wrong(k, site, name, value, tangent)
                if detail is not None:
                    when = f" (its run {occurrence + 1})" if occurrence else ""
                    return _forward_found(f, site, user_lines, lines, what, when, detail)
        note = ""
        if self.unjudged:
            site, name = self.unjudged[0]
            note = f"; {len(self.unjudged)} could not be judged (finite differences with two " \
                   f"steps too far apart), the first for {name} at {site.location}"
        return Blame(False, f"Not attributed to a line: all {self.checked - len(self.unjudged)} "
                            f"tangents judged line by line in the generated code ({what}) agree "
                            f"with finite differences{note}.")

    def tangent_wrong(self, k, site, name, value, tangent):
        """What is wrong with ``name``'s tangent after event k, or None when it agrees, is not
        checked or cannot be judged (then kept in ``unjudged``)."""
        step, single = self.step, self.single
        numeric = self.differences(self.hi, self.lo, k, name, step)
        if not _float_leaf(value) or numeric is None or numeric.shape != np.shape(value):
            return None
        self.checked += 1
        if isinstance(tangent, (int, float)) and tangent == 0:
            tangent = np.zeros(np.shape(value))
        tangent = np.asarray(tangent, dtype=float) if _float_leaf(tangent) or \
            isinstance(tangent, (int, float)) else None
        if tangent is None or (tangent.ndim and tangent.shape != np.shape(value)):
            return f"after it, {_partner(name, 'dot')} has shape " \
                   f"{None if tangent is None else tangent.shape}, {name} {np.shape(value)}."
        err = float(np.max(np.abs(tangent - numeric), initial=0.0))
        scale = max(float(np.max(np.abs(numeric), initial=0.0)),
                    float(np.max(np.abs(tangent), initial=0.0)))
        noise = 50 * np.finfo(np.float32 if single else np.float64).eps * \
            (_scale(value) + 1.0) / step
        tol = self.atol + noise + max(self.rtol, 1e-3 if single else 1e-7) * scale
        if np.isfinite(err) and err <= tol:
            return None
        if not self.wide:
            self.wide.extend([self.run(10 * step), self.run(-10 * step)])
        again = self.differences(self.wide[0], self.wide[1], k, name, 10 * step)
        apart = None if again is None or again.shape != numeric.shape else \
            float(np.max(np.abs(again - numeric), initial=0.0))
        if apart is None or apart > tol or (np.isfinite(err) and err <= 3 * apart):
            self.unjudged.append((site, name))
            return None
        return (f"The tangents before this line agree with finite differences; after it, "
                f"{_partner(name, 'dot')} differs from finite differences of {name} by "
                f"{err:.3g} (max abs; its largest entry is {scale:.6g}).")


def _forward_found(f, site, user_lines, lines, what, when, detail):
    statement = user_lines.text(site.key, site.text)
    return _report("forward", site, statement, when, detail, what, _block_text(site, lines),
                   rules_used(f, statement))
