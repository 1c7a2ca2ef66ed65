"""The package's shape, checked from its source: the layers import only downward, without cycles
and without imports hidden inside functions, and no module or function grows past what a reader
takes in at once.

The layers, lowest first (a module may import its own layer and the ones below):

    errors, pytree, syntax                   leaves: gast vocabulary, containers, exceptions
    rules/registry, quote, facts             the registry, facts about primitives, rule quoting
    runtime/                                 what generated code (and the rules' bodies) call
    rules/ (the rule tables)                 one derivative rule per primitive
    tape/                                    the dynamic tape (never the compiler)
    compiler/                                the stages from a user function to source
    specialize/                              the per-signature rewrites of generated code
    the user API                             compiled, api, transforms, custom, jit, lazy, ...

A failure names the module and line to change.
"""

import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "sourcediff"

MAX_MODULE_LINES = 1000
MAX_FUNCTION_LINES = 100

LEAVES = {"sourcediff.errors", "sourcediff.pytree", "sourcediff.syntax"}
# the rules package's own machinery, which the runtime below the rule tables uses
MACHINERY = {"sourcediff.rules.registry", "sourcediff.rules.quote", "sourcediff.rules.facts",
             "sourcediff.rules.stale"}
# the packages of the layers above the leaves, lowest first
LAYERS = ["machinery", "sourcediff.runtime", "sourcediff.rules", "sourcediff.tape",
          "sourcediff.compiler", "sourcediff.specialize"]
# what each of them may import besides the leaves and itself
ALLOWED = {
    "machinery": set(),
    "sourcediff.runtime": {"machinery"},
    "sourcediff.rules": {"machinery", "sourcediff.runtime"},
    "sourcediff.tape": {"machinery", "sourcediff.rules", "sourcediff.runtime"},
    "sourcediff.compiler": {"machinery", "sourcediff.rules", "sourcediff.runtime"},
    "sourcediff.specialize": {"machinery", "sourcediff.rules", "sourcediff.runtime",
                              "sourcediff.compiler"},
}


def _modules():
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


MODULES = _modules()


def _imports(name):
    """(line, imported sourcediff module, inside a function or class) for each import in
    ``name``'s source."""
    path, is_package = MODULES[name]
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, nested):
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                 ast.ClassDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "sourcediff":
                        found.append((child.lineno, alias.name, nested))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[:len(base) - child.level + 1]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                if module.split(".")[0] == "sourcediff":
                    for alias in child.names:
                        sub = f"{module}.{alias.name}"
                        found.append((child.lineno, sub if sub in MODULES else module, nested))
            visit(child, inner)

    visit(tree, False)
    return found


def _layer(module):
    if module in MACHINERY:
        return "machinery"
    for layer in LAYERS[1:]:
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_the_layers_are_found():
    # (a layer renamed or removed would make the other tests pass vacuously)
    for layer in LAYERS[1:] + sorted(MACHINERY):
        assert layer in MODULES, layer
    for leaf in LEAVES:
        assert leaf in MODULES, leaf
    assert len(MODULES) > 30


def test_no_function_level_imports_of_sourcediff_modules():
    hidden = [f"{MODULES[m][0].relative_to(ROOT.parent)}:{line} imports {target}"
              for m in MODULES for line, target, nested in _imports(m) if nested]
    assert not hidden, ("imports inside functions hide a dependency (import at the top; if that "
                        "makes a cycle, the layering is wrong):\n" + "\n".join(hidden))


def test_layers_import_only_downward():
    wrong = []
    for m in MODULES:
        if m in LEAVES:
            for line, target, _ in _imports(m):
                if target not in LEAVES:
                    wrong.append(f"{m}:{line} (a leaf) imports {target}")
            continue
        layer = _layer(m)
        if layer is None:
            continue  # the user API on top may import anything below it
        for line, target, _ in _imports(m):
            if target in LEAVES or _layer(target) == layer:
                continue
            if _layer(target) not in ALLOWED[layer]:
                wrong.append(f"{m}:{line} imports {target}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_no_import_cycles():
    graph = {m: {t for _, t, _ in _imports(m) if t in MODULES and t != m} for m in MODULES}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def connect(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            connect(v)
    assert not cycles, f"modules that import each other: {cycles}"


def test_modules_are_at_most_1000_lines():
    long = {m: n for m, (path, _) in MODULES.items()
            if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these modules by purpose: {long}"


def test_functions_are_at_most_100_lines():
    long = []
    for m, (path, _) in MODULES.items():
        for fn in _functions(ast.parse(path.read_text())):
            n = fn.end_lineno - fn.lineno + 1
            if n > MAX_FUNCTION_LINES:
                long.append(f"{path.relative_to(ROOT.parent)}:{fn.lineno} {fn.name} ({n} lines)")
    assert not long, "split these functions:\n" + "\n".join(long)


def test_the_checker_sees_a_function_level_import(tmp_path, monkeypatch):
    # the checks above find what they look for: a module with a hidden import and a cycle
    pkg = tmp_path / "sourcediff"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\n")
    this = sys.modules[__name__]
    monkeypatch.setattr(this, "ROOT", pkg)
    monkeypatch.setattr(this, "MODULES", {
        "sourcediff": (pkg / "__init__.py", True), "sourcediff.a": (pkg / "a.py", False),
        "sourcediff.b": (pkg / "b.py", False)})
    with pytest.raises(AssertionError, match="b.py:2 imports sourcediff.a"):
        test_no_function_level_imports_of_sourcediff_modules()
    with pytest.raises(AssertionError, match="import each other"):
        test_no_import_cycles()
