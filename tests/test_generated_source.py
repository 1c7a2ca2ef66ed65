"""The generated source: it re-parses, has no undefined names, is deterministic, matches the golden
snapshots of a few showcase functions, and tracebacks from it show the generated lines.

Regenerate the snapshots with ``SOURCEDIFF_UPDATE_GOLDEN=1 python -m pytest
tests/test_generated_source.py`` and review the diff like any other change.
"""

import ast
import builtins
import inspect
import linecache
import os
import pathlib
import subprocess
import sys
import textwrap
import traceback

import numpy as np
import pytest

import sourcediff as sd
from tests.catalogue import load_all
from tests.oracles import check_grads_fd
from tests.showcase import SHOWCASE

CASES = load_all()
GOLDEN = pathlib.Path(__file__).parent / "golden"
ROOT = pathlib.Path(__file__).parent.parent
UPDATE = os.environ.get("SOURCEDIFF_UPDATE_GOLDEN") == "1"
GOLDEN_HEADER = (
    "# Golden snapshot of generated source: sd.source(sd.grad(showcase.{name}, wrt={wrt!r}))\n"
    "# Regenerate: SOURCEDIFF_UPDATE_GOLDEN=1 python -m pytest tests/test_generated_source.py\n"
    "# ruff: noqa\n"
)

# pyflakes findings that mean the generated code is broken (unused names are only untidy)
_BROKEN = {"UndefinedName", "UndefinedLocal", "UndefinedExport", "DuplicateArgument",
           "ReturnOutsideFunction", "YieldOutsideFunction", "ContinueOutsideLoop",
           "BreakOutsideLoop", "DefaultExceptNotLast", "TooManyExpressionsInStarredAssignment"}


def _wrt(c):
    return c.wrt if len(c.wrt) > 1 else c.wrt[0]


# ---------------------------------------------------------------------- (a) parses, no undefined names


class _Collect:
    """A pyflakes reporter that keeps the message objects."""

    def __init__(self):
        self.messages = []
        self.errors = []

    def flake(self, message):
        self.messages.append(message)

    def syntaxError(self, filename, msg, lineno, offset, text):  # pyflakes reporter API
        self.errors.append(f"{filename}:{lineno}:{offset}: {msg}: {text}")

    def unexpectedError(self, filename, msg):  # pyflakes reporter API
        self.errors.append(f"{filename}: {msg}")


def _available_names(df, user_fn):
    """Names the generated function can see: its factory's bindings, the user's module, builtins."""
    return (set(inspect.unwrap(df).__code__.co_freevars) | set(getattr(user_fn, "__globals__", {}))
            | set(dir(builtins)))


def check_generated(df, user_fn):
    """Assert that the source of ``df`` re-parses, compiles and has no undefined names."""
    text = sd.source(df)
    tree = ast.parse(text)  # raises SyntaxError on bad output
    assert any(isinstance(n, ast.FunctionDef) for n in tree.body), text
    compile(text, "<generated>", "exec")
    try:
        from pyflakes import api
    except ImportError:
        return text
    report = _Collect()
    api.check(text, f"<generated {df.__qualname__}>", report)
    assert not report.errors, "\n".join(report.errors) + "\n" + text
    available = _available_names(df, user_fn)
    bad = []
    for m in report.messages:
        kind = type(m).__name__
        if kind == "UndefinedName" and m.message_args[0] in available:
            continue
        if kind in _BROKEN:
            bad.append(f"line {m.lineno}: {kind}: {m.message % m.message_args}")
    assert not bad, "\n".join(bad) + "\n\n" + text
    return text


def test_pyflakes_checker_catches_an_undefined_name():
    """The check itself works: a function reading a name nobody binds is caught."""
    pytest.importorskip("pyflakes")
    from pyflakes import api

    report = _Collect()
    api.check("def g(x):\n    return x + missing_name\n", "<t>", report)
    kinds = [type(m).__name__ for m in report.messages]
    assert kinds == ["UndefinedName"]
    assert report.messages[0].message_args[0] == "missing_name"


@pytest.mark.parametrize("optimize", [True, False], ids=["opt", "noopt"])
@pytest.mark.parametrize("c", CASES, ids=repr)
def test_generated_source_parses_and_has_no_undefined_names(c, optimize):
    df = sd.grad(c.fn, wrt=_wrt(c), optimize=optimize)
    check_generated(df, c.fn)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_value_and_grad_source_parses_and_has_no_undefined_names(c):
    df = sd.value_and_grad(c.fn, wrt=_wrt(c))
    check_generated(df, c.fn)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_source_is_what_runs(c):
    """sd.source(df) is the text compiled for df: its lines are the ones linecache holds."""
    df = sd.grad(c.fn, wrt=_wrt(c))
    filename = inspect.unwrap(df).__code__.co_filename
    assert filename.startswith("<sourcediff")
    held = "".join(linecache.getlines(filename))
    assert held, f"{filename} is not registered in linecache"
    for line in sd.source(df).splitlines():
        assert line.strip() in held, f"generated line {line!r} not in the compiled text"
    assert df.__sourcediff_source__ == sd.source(df)


# ---------------------------------------------------------------------- (b) determinism


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_source_is_deterministic_in_one_process(c):
    texts = []
    for _ in range(2):
        sd.clear_cache()
        texts.append(sd.source(sd.grad(c.fn, wrt=_wrt(c))))
    assert texts[0] == texts[1]


_DUMP = textwrap.dedent("""
    import sys
    import sourcediff as sd
    from tests.catalogue import load_all
    for c in load_all():
        w = c.wrt if len(c.wrt) > 1 else c.wrt[0]
        for opt in (True, False):
            try:
                text = sd.source(sd.grad(c.fn, wrt=w, optimize=opt))
            except sd.SourcediffError as exc:  # reported by the per-case tests
                text = f"refused: {type(exc).__name__}\\n"
            sys.stdout.write(f"=== {c.name} {opt}\\n" + text)
""")


def _dump(hashseed):
    env = dict(os.environ, PYTHONHASHSEED=str(hashseed))
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", _DUMP], cwd=ROOT, env=env, capture_output=True, check=False,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_source_is_deterministic_across_processes_and_hash_seeds():
    """Set and dict orders keyed by strings change with PYTHONHASHSEED; the output must not."""
    a, b = _dump(1), _dump(12345)
    if a != b:
        la, lb = a.splitlines(), b.splitlines()
        first = next(i for i, (x, y) in enumerate(zip(la, lb)) if x != y)
        header = next(x for x in reversed(la[:first + 1]) if x.startswith("==="))
        pytest.fail(f"generated source differs between hash seeds in {header}:\n"
                    f"  seed 1:     {la[first]}\n  seed 12345: {lb[first]}")
    assert a.count("===") == 2 * len(CASES)


# ---------------------------------------------------------------------- (c) golden snapshots


@pytest.mark.parametrize("name", sorted(SHOWCASE))
def test_golden_snapshot(name):
    fn, wrt, make_args = SHOWCASE[name]
    sd.clear_cache()
    df = sd.grad(fn, wrt=wrt)
    text = check_generated(df, fn)
    expected_text = GOLDEN_HEADER.format(name=name, wrt=wrt) + text
    path = GOLDEN / f"grad_{name}.py"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(expected_text)
    assert path.exists(), f"no snapshot {path}; run with SOURCEDIFF_UPDATE_GOLDEN=1 to write it"
    golden = path.read_text()
    assert text == golden[len(GOLDEN_HEADER.format(name=name, wrt=wrt)):], (
        f"generated source of {name} changed; review and regenerate with "
        f"SOURCEDIFF_UPDATE_GOLDEN=1.\n--- golden\n{golden}\n--- now\n{text}")
    # the snapshot shows a gradient that is right, not only one that is stable
    args = make_args(np.random.default_rng(0))
    grads = df(*args)
    grads = grads if isinstance(wrt, tuple) else (grads,)
    check_grads_fd(fn, args, wrt if isinstance(wrt, tuple) else (wrt,), grads)


@pytest.mark.parametrize("name", sorted(SHOWCASE))
def test_golden_source_is_readable(name):
    """The showcase source quotes the user's lines with file:line and keeps the user's names."""
    fn, wrt, _ = SHOWCASE[name]
    text = sd.source(sd.grad(fn, wrt=wrt))
    assert "# grad of: return" in text
    assert "showcase.py:" in text
    for param in fn.__code__.co_varnames[:fn.__code__.co_argcount]:
        assert param in text
    # adjoint names follow one scheme: <name>_bar for every wrt parameter
    wrts = wrt if isinstance(wrt, tuple) else (wrt,)
    for i in wrts:
        assert f"{fn.__code__.co_varnames[i]}_bar" in text


def test_no_stray_golden_files():
    names = {f"grad_{n}.py" for n in SHOWCASE}
    present = {p.name for p in GOLDEN.glob("*.py")}
    assert present <= names, f"golden files without a showcase function: {sorted(present - names)}"


# ---------------------------------------------------------------------- (d) tracebacks


def add_mismatched(x, y):
    z = x + y
    return np.sum(z * z)


def _frames(exc):
    """Every traceback frame of ``exc`` and of the exceptions chained to it."""
    seen = []
    while exc is not None and exc not in [e for e, _ in seen]:
        seen.append((exc, traceback.extract_tb(exc.__traceback__)))
        exc = exc.__cause__ or exc.__context__
    return [f for _, frames in seen for f in frames]


def test_traceback_lands_in_generated_code():
    df = sd.grad(add_mismatched, wrt=(0, 1))
    with pytest.raises(Exception) as info:
        df(np.ones(3), np.ones(4))
    frames = [f for f in _frames(info.value) if f.filename.startswith("<sourcediff")]
    assert frames, "no traceback frame in generated code:\n" + "".join(
        traceback.format_exception(info.value))
    frame = frames[-1]
    line = linecache.getline(frame.filename, frame.lineno)
    assert line.strip(), f"linecache has no line {frame.lineno} of {frame.filename}"
    assert "x + y" in line, line
    assert frame.line == line.strip()  # what a printed traceback shows
    assert "add_mismatched" in frame.filename and "test_generated_source.py" in frame.filename


def test_pdb_sees_the_generated_source():
    """The code object's file is in linecache, so pdb's `list` shows the generated function."""
    df = sd.grad(add_mismatched, wrt=0)
    filename = inspect.unwrap(df).__code__.co_filename
    first = inspect.unwrap(df).__code__.co_firstlineno
    assert linecache.getline(filename, first).strip().startswith("def grad_add_mismatched(")
    src = "".join(linecache.getlines(filename))
    assert "z = x + y" in src


def test_negations_fold_into_subtractions():
    """``a + -b`` and ``a + -b * c`` are written ``a - b``, ``a - b * c`` (exact; one numpy call
    fewer)."""
    def f(x, b):
        for i in range(3):
            x = x * b - np.cos(x) + -(-np.sin(x))
        return x

    for df in (sd.grad(f), sd.jvp(f, wrt=0)):
        text = "\n".join(line for line in sd.source(df).splitlines()
                         if not line.strip().startswith("#"))
        assert "+ -" not in text and "- -" not in text, text
    g = sd.grad(f)(0.3, -1.2)
    h = 1e-6
    assert g == pytest.approx((f(0.3 + h, -1.2) - f(0.3 - h, -1.2)) / (2 * h), rel=1e-6)
