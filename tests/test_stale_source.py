"""A module edited after it was imported, and not reloaded: the function Python runs is the old
code, the file holds the new text. sourcediff read the text and differentiated it: the gradient
of another function, silently (an edit of the body alone, the def line kept, passed the check of
the name and parameters). Now the text is compiled again and compared with the code Python runs
(rules/stale.py); a body that differs is refused with what to do, a reload gives the new
gradient, and a function whose file is unchanged is never refused, whatever its kind."""

import ast
import functools
import importlib
import importlib.machinery
import importlib.util
import inspect
import os
import sys
import warnings

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.compiler import parse
from sourcediff.rules import stale
from tests.oracles import check_grads_fd

X = np.array([0.5, -1.25, 2.0])

_PLAIN = """
import numpy as np


def f(x):
{body}


def after(x):
    return np.sum(x)
"""

_METHOD = """
import numpy as np


class Model:
    def __init__(self):
        self.w = np.array([1.5, -0.5, 2.0])

    def loss(self, x):
{body}
"""

_CLOSURE = """
import numpy as np


def make(k):
    def inner(x):
{body}
    return inner
"""

_LAMBDA = """
import numpy as np

sq = lambda x: {body}
"""

_LAMBDA_IN_DICT = """
import numpy as np

LINKS = {{
    "id": lambda x: np.sum(x),
    "sq": lambda x: {body},
}}
"""

_FUTURE = """
from __future__ import annotations

import numpy as np


def f(x: np.ndarray) -> float:
{body}
"""

# (kind, module text, body before, body after the edit, the function to differentiate)
EDITS = [
    ("constant", _PLAIN, "    return np.sum(x * 2.0)", "    return np.sum(x * 3.0)",
     lambda m: m.f),
    ("operator", _PLAIN, "    return np.sum(x * x)", "    return np.sum(x + x)", lambda m: m.f),
    ("added line", _PLAIN, "    y = x * 2.0\n    return np.sum(y * y)",
     "    y = x * 2.0\n    y = np.sin(y)\n    return np.sum(y * y)", lambda m: m.f),
    ("removed line", _PLAIN, "    y = np.sin(x)\n    y = y * x\n    return np.sum(y)",
     "    y = np.sin(x)\n    return np.sum(y)", lambda m: m.f),
    ("helper call", _PLAIN, "    return np.sum(np.sin(x))", "    return np.sum(np.cos(x))",
     lambda m: m.f),
    ("method", _METHOD, "        return np.sum(self.w * x * x)",
     "        return np.sum(self.w * x * x * x)", lambda m: m.Model().loss),
    ("closure", _CLOSURE, "        return np.sum(k * x * x)", "        return np.sum(k * np.exp(x))",
     lambda m: m.make(1.5)),
    ("lambda", _LAMBDA, "np.sum(x * x)", "np.sum(x * x * x)", lambda m: m.sq),
    ("lambda in a dict", _LAMBDA_IN_DICT, "np.sum(x * x)", "np.sum(np.tanh(x))",
     lambda m: m.LINKS["sq"]),
    ("future annotations", _FUTURE, "    return np.sum(x * 2.0)", "    return np.sum(x * x)",
     lambda m: m.f),
]


def _write(path, text):
    """Write ``text`` with a size the file has not had, so that linecache and the import system
    see a new file even within one tick of the file system's clock."""
    old = path.stat().st_size if path.exists() else -1
    pad = "\n" if len(text.encode()) == old else ""
    path.write_text(text + pad)
    stamp = path.stat().st_mtime + (2.0 if old >= 0 else 0.0)
    os.utime(path, (stamp, stamp))


def _import(tmp_path, monkeypatch, name, text):
    path = tmp_path / f"{name}.py"
    _write(path, text)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return path, importlib.import_module(name)


@pytest.mark.parametrize("kind, template, before, after, pick", EDITS, ids=[e[0] for e in EDITS])
def test_body_edited_after_import_is_refused_and_reload_gives_the_new_gradient(
        tmp_path, monkeypatch, kind, template, before, after, pick):
    name = "sd_stale_" + kind.replace(" ", "_")
    path, mod = _import(tmp_path, monkeypatch, name, template.format(body=before))
    fn = pick(mod)
    line = fn.__code__.co_firstlineno
    _write(path, template.format(body=after))
    with pytest.raises(sd.NoSourceError) as info:
        sd.grad(fn)(X.copy())
    message = str(info.value)
    assert f"{path}:{line} differs from the code Python compiled" in message
    assert fn.__qualname__ in message and "reload the module" in message
    importlib.invalidate_caches()
    mod = importlib.reload(mod)
    fn = pick(mod)
    check_grads_fd(fn, (X.copy(),), [0], [sd.grad(fn)(X.copy())])
    sys.modules.pop(name, None)


def test_the_old_gradient_is_never_given_for_the_new_text(tmp_path, monkeypatch):
    """The reproducer: f computes sum(2x); its file now says sum(3x). The gradient was 3s."""
    path, mod = _import(tmp_path, monkeypatch, "sd_stale_repro",
                        _PLAIN.format(body="    return np.sum(x * 2.0)"))
    _write(path, _PLAIN.format(body="    return np.sum(x * 3.0)"))
    with pytest.raises(sd.NoSourceError, match="reload the module"):
        sd.grad(mod.f)(X)
    # the file's other functions, whose text is still what runs, are differentiated as before
    check_grads_fd(mod.after, (X.copy(),), [0], [sd.grad(mod.after)(X.copy())])
    sys.modules.pop("sd_stale_repro", None)


def _check(fn):
    """What the check answers for ``fn`` as sourcediff reads it (a lambda through parse's own
    search for its place)."""
    code = parse.unwrap(fn).__code__
    lines, first = inspect.getsourcelines(code)
    if code.co_name != "<lambda>":
        return stale.compiles_to(parse.unwrap(fn), lines, first)
    answers = []
    real = parse.compiles_to

    def recording(*args):
        answers.append(real(*args))
        return answers[-1]

    parse.compiles_to = recording
    try:
        parse.parse_function(fn)
    finally:
        parse.compiles_to = real
    return answers[-1]


# functions of every kind, unchanged, in this test file (which pytest's assertion rewriting
# compiled: the functions without an assert statement are compiled as written)
def _decorate(fn):
    fn.tagged = True
    return fn


def _wrapping(fn):
    @functools.wraps(fn)
    def wrapper(x):
        return fn(x)
    return wrapper


class _Model:
    __scale = 3.0

    def __init__(self):
        self.__w = np.array([1.0, 2.0, -1.0])

    def loss(self, x):
        """A docstring whose
           continuation lines are indented more than the def."""
        return np.sum(self.__w * x * x) * self.__scale

    def plain(self, x):
        return np.sum(x * x * 2.0)

    @staticmethod
    def static(x):
        return np.sum(np.sin(x))

    @classmethod
    def klass(cls, x):
        return np.sum(x * cls.__scale)

    @property
    def weight(self):
        return self.__w

    def uses_super(self, x):
        return np.sum(x * x) + 0.0 * len(super().__repr__()) + 0.0 * len(__class__.__name__)

    class Inner:
        def loss(self, x):
            return self.__square(x)

        def __square(self, x):
            return np.sum(x * x)


def _outer(a):
    b = np.array([2.0, 1.0, 0.5])

    def inner(x):
        return np.sum(x * a * b) + np.sum([(lambda t: t * a)(q) for q in x])

    class Local:
        def loss(self, x):
            return np.sum(np.tanh(x) * a)

    return inner, Local


@_decorate
def _decorated(x):
    return np.sum(x ** 3)


@_wrapping
def _wrapped(x):
    return np.sum(np.exp(x))


def _with_try(x, k=2.0):
    try:
        y = x * k
    except ValueError:
        y = x
    return np.sum(y * y) + sum(v for v in (1.0, 2.0) if v in {1.0, 2.0})


if True:  # (a def indented in a block of the module)
    def _conditional(x):
        return np.sum(np.cos(x) * x)


def _defines_a_class(x):
    class Box:  # (Python 3.13 keeps its first line, 3 lines below the def's, as a constant)
        scale = 2.0

    return np.sum(x * Box.scale)


def _with_default(x, k=2.0):
    return np.sum(x * k * x) + sum(v for v in (1.0, 2.0))


def _generator(x):
    for i in range(3):
        yield x * i


def _asserting(x):
    assert x.ndim == 1, "a vector"
    return np.sum(x * x)


_LINKS = {
    "square": lambda x: np.sum(x * x),
    "log1p": lambda x: np.sum(np.log1p(x * x)),
}


def _make_lambda(k):
    return lambda x: np.sum(k * x * x)


class _Renamed:
    def __init__(self):
        self.__k = 2.0

    def loss(self, x):
        return np.sum(x * self.__k)


__hidden = 2.0


def _reads_a_private_global(x):
    return np.sum(x * __hidden)


# (names code may give: Python 3.10 has no co_qualname, and reads the class that mangles private
# names from __qualname__)
_Renamed.loss.__qualname__ = "loss"
_reads_a_private_global.__qualname__ = "Pretend.method"


def _kinds():
    inner, local = _outer(1.5)
    return [_Model().loss, _Model().plain, _conditional, _Model.static, _Model.klass, _Model.weight.fget, _Model().uses_super,
            _Model.Inner().loss, _Model.Inner._Inner__square, inner, local().loss, _decorated,
            _wrapped.__wrapped__, _with_try, _generator, _LINKS["square"], _LINKS["log1p"],
            _make_lambda(2.0), _Model.__init__, _with_default, _Renamed.loss, _defines_a_class,
            _reads_a_private_global]


@pytest.mark.parametrize("fn", _kinds(), ids=lambda fn: fn.__qualname__)
def test_unchanged_functions_of_every_kind_compile_to_the_code_python_runs(fn):
    """True, not None: the envelope recreated each compile (a None would skip the check)."""
    assert _check(fn) is True


def test_unchanged_functions_are_differentiated(monkeypatch):
    """Their gradients, against finite differences, with the check in force (not the methods
    that read private names: sourcediff does not mangle them, a loud AttributeError)."""
    inner, local = _outer(1.5)
    for fn in [_Model().plain, _Model.static, inner, local().loss, _decorated, _with_default,
               _LINKS["square"], _LINKS["log1p"], _make_lambda(2.0), _asserting, _conditional]:
        check_grads_fd(fn, (np.abs(X),), [0], [sd.grad(fn)(np.abs(X))])


def test_a_function_whose_asserts_pytest_rewrote_is_not_refused():
    """pytest compiled this file's assert statements into other code: the check cannot compare
    such a function with its text, so it answers None (and trusts the text), never False."""
    assert any(n.startswith("@py") for n in _asserting.__code__.co_names)
    assert _check(_asserting) is None


_IMPORTS = """
import numpy as np
from collections import OrderedDict
import numpy.linalg

alias = np


def f(x):
    keys = OrderedDict.fromkeys(["a", "b"])
    return alias.sum(x * len(keys)) + np.sum(numpy.linalg.norm(x))
"""


def test_imports_that_are_not_modules_and_modules_that_are_not_imports(tmp_path, monkeypatch):
    """Python 3.11+ compiles ``name.attr(...)`` differently when ``name`` is bound by an import at
    the top of the module: an imported class and a module bound by assignment are found so, and
    an edit is still seen."""
    path, mod = _import(tmp_path, monkeypatch, "sd_stale_imports", _IMPORTS)
    lines, first = inspect.getsourcelines(mod.f.__code__)
    assert stale.compiles_to(mod.f, lines, first) is True
    edited = [line.replace("len(keys)", "len(keys) * 2") for line in lines]
    assert stale.compiles_to(mod.f, edited, first) is False
    sys.modules.pop("sd_stale_imports", None)


_SHADOWED = """
import numpy as np
from math import e as scale


def f(x):
    scale = x * 2.0
    return np.sum(scale.sum() * x)
"""


def test_a_local_named_like_a_module_level_import(tmp_path, monkeypatch):
    """Python 3.11+ consults the module's imports by name when it compiles ``scale.sum()``, also
    where ``scale`` is the function's own variable: the envelope recreates that import too (it
    was refused as edited, and reloading could not help)."""
    path, mod = _import(tmp_path, monkeypatch, "sd_stale_shadowed", _SHADOWED)
    lines, first = inspect.getsourcelines(mod.f.__code__)
    assert stale.compiles_to(mod.f, lines, first) is True
    x = np.array([0.5, -1.0, 2.0])
    check_grads_fd(mod.f, (x,), (0,), (sd.grad(mod.f)(x),))
    sys.modules.pop("sd_stale_shadowed", None)


def test_text_the_envelope_cannot_recreate_is_not_judged():
    """A compile the envelope cannot reproduce answers None (the text trusted), not False."""
    lines, first = inspect.getsourcelines(_with_try.__code__)
    assert stale.compiles_to(_with_try, ["def _with_try(x, k=2.0:\n"] + lines[1:], first) is None
    renamed = [lines[0].replace("_with_try", "_renamed")] + lines[1:]
    assert stale.compiles_to(_with_try, renamed, first) is None


class _Instrumenting(importlib.machinery.SourceFileLoader):
    """An import hook that rewrites the syntax tree (as typeguard's and beartype's do): every
    function gets a first statement of its own. The code differs from the text, the file is
    unchanged."""

    def source_to_code(self, data, path, *args, **kwargs):
        tree = ast.parse(data)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                node.body.insert(0, ast.parse("_instrumented = 1").body[0])
        return compile(ast.fix_missing_locations(tree), path, "exec", dont_inherit=True)


def test_a_module_an_import_hook_rewrote_is_not_refused(tmp_path):
    path = tmp_path / "sd_stale_hooked.py"
    _write(path, _PLAIN.format(body="    return np.sum(np.sin(x) * x)"))
    spec = importlib.util.spec_from_file_location(
        "sd_stale_hooked", path, loader=_Instrumenting("sd_stale_hooked", str(path)))
    mod = importlib.util.module_from_spec(spec)
    sys.modules["sd_stale_hooked"] = mod
    try:
        spec.loader.exec_module(mod)
        assert "_instrumented" in mod.f.__code__.co_varnames
        lines, first = inspect.getsourcelines(mod.f.__code__)
        assert stale.compiles_to(mod.f, lines, first) is None
        check_grads_fd(mod.f, (X.copy(),), [0], [sd.grad(mod.f)(X.copy())])
    finally:
        sys.modules.pop("sd_stale_hooked", None)


_ESCAPE = r'''
import re

import numpy as np


def f(x):
    n = len(re.findall("\d", "a1b2"))
    return np.sum(x * n)
'''


def test_the_check_warns_nothing_again(tmp_path, monkeypatch):
    """Compiling the text again gave the import's warnings again (an invalid escape sequence),
    at the envelope's line, a line of the user's file with nothing wrong on it."""
    with warnings.catch_warnings():  # (the import warns it, as Python does)
        warnings.simplefilter("ignore")
        _, mod = _import(tmp_path, monkeypatch, "sd_stale_escape", _ESCAPE)
    lines, first = inspect.getsourcelines(mod.f.__code__)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert stale.compiles_to(mod.f, lines, first) is True
    assert [str(w.message) for w in caught] == []
    with warnings.catch_warnings():  # (sourcediff's own parse of the text warns it once more)
        warnings.simplefilter("ignore")
        check_grads_fd(mod.f, (X.copy(),), [0], [sd.grad(mod.f)(X.copy())])
    sys.modules.pop("sd_stale_escape", None)


def _hot(x):
    total = 0.0
    for i in range(4):
        total = total + x * i
    return np.sum(total * np.cos(x))


def test_specialized_and_instrumented_code_compares_as_written():
    """co_code is the bytecode as compiled: not the adaptive interpreter's specialized
    instructions (3.11+, after many calls), nor a tracer's or sys.monitoring's instrumented ones
    (a debugger, coverage)."""
    x = np.abs(X)
    for _ in range(2000):
        _hot(x)
    live = getattr(_hot.__code__, "_co_code_adaptive", None)  # (3.11+: the instructions run)
    assert live is None or live != _hot.__code__.co_code  # (specialized: the test tests that)
    assert _check(_hot) is True
    previous = sys.gettrace()
    sys.settrace(lambda *args: (lambda *more: None))
    try:
        _hot(x)
        stale._ANSWERS.clear()
        assert _check(_hot) is True
    finally:
        sys.settrace(previous)
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is None:  # (before 3.12)
        return
    tool = next(t for t in range(2, 6) if monitoring.get_tool(t) is None)
    monitoring.use_tool_id(tool, "sourcediff stale-source test")
    try:
        events = monitoring.events.LINE | monitoring.events.INSTRUCTION | monitoring.events.BRANCH
        before = _hot.__code__._co_code_adaptive
        monitoring.set_local_events(tool, _hot.__code__, events)
        _hot(x)
        assert _hot.__code__._co_code_adaptive != before  # (instrumented)
        stale._ANSWERS.clear()
        assert _check(_hot) is True
    finally:
        monitoring.set_local_events(tool, _hot.__code__, 0)
        monitoring.free_tool_id(tool)
    check_grads_fd(_hot, (x,), [0], [sd.grad(_hot)(x)])


_RULE = """
import numpy as np
import sourcediff as sd


@sd.custom_vjp
def scaled(z):
    return 2.0 * z


@scaled.defvjp
def scaled_vjp(g, ans, z):
    return (g * 2.0,)


def loss(z):
    return np.sum(scaled(z) * z)
"""


def test_a_rule_edited_after_import_is_called_as_python_runs_it(tmp_path, monkeypatch):
    """A custom rule's text is quoted into the gradient: its file edited after the import (the
    rule now says 9.0) gave the gradient of the new text, silently. The rule Python runs is
    called instead (the gradient of the function Python computes, against finite differences).
    (A module named tests...: tests/test_rules.py leaves the rules of such modules out.)"""
    path, mod = _import(tmp_path, monkeypatch, "tests_stale_rule", _RULE)
    _write(path, _RULE.replace("return (g * 2.0,)", "return (g * 9.0,)"))
    x = X.copy()
    check_grads_fd(mod.loss, (x,), [0], [sd.grad(mod.loss)(x)])
    sys.modules.pop("tests_stale_rule", None)


_TWO_ARGUMENT_RULE = """
import numpy as np
import sourcediff as sd


@sd.custom_vjp
def mul(a, b):
    return a * b


@mul.defvjp
def mul_vjp(g, ans, a, b):
    return (g * b, g * a)


def loss(a, b):
    return np.sum(mul(a, b) * a)
"""


def test_a_rule_edited_to_return_none_after_import_still_gives_its_gradient(
        tmp_path, monkeypatch):
    """Which results of a rule are a literal None is read from its text (those arguments have
    no derivative): an edit to ``(g * b, None)`` after the import gave zeros for b, silently,
    where the rule Python runs gives g * a."""
    path, mod = _import(tmp_path, monkeypatch, "tests_stale_rule_none", _TWO_ARGUMENT_RULE)
    _write(path, _TWO_ARGUMENT_RULE.replace("return (g * b, g * a)", "return (g * b, None)"))
    a, b = X.copy(), np.array([3.0, -1.0, 0.5])
    check_grads_fd(mod.loss, (a, b), [0, 1], sd.grad(mod.loss, wrt=(0, 1))(a, b))
    sys.modules.pop("tests_stale_rule_none", None)
