"""The coverage table: every registered primitive and the modes its rule serves, from the registry.

``python -m sourcediff.coverage`` prints it as Markdown (docs/COVERAGE.md is this output; a test
checks that it is current). Example::

    from sourcediff.coverage import rows
    rows()[0]   # {'name': 'operator.add', 'reverse': True, 'forward': True, ...}
"""

import builtins
import inspect
import operator
import sys
import textwrap

import gast
import numpy as np

from .compiler.resolve import runtime_helper
from .rules import quote, registry
from .syntax import walk

# primitives the tape does not record as numpy does, each with the reason (tests/test_rule_modes.py
# expects each of these to raise on the tape, never to give a wrong gradient)
TAPE_GAPS = {
    "np.asarray": "converting a Tensor that requires grad to an ndarray is refused",
    "np.array": "converting a Tensor that requires grad to an ndarray is refused",
    "np.float64": "converting a Tensor that requires grad to a number is refused",
    "ndarray.item": "a Python number carries no graph (as in PyTorch)",
    "np.full": "a fill value that is a Tensor is refused (creation functions take numbers)",
    "np.full_like": "a fill value that is a Tensor is refused (creation functions take numbers)",
    "np.arange": "creation functions take numbers, not Tensors",
    "np.r_[...]": "index concatenation converts its items to ndarrays",
    "np.c_[...]": "index concatenation converts its items to ndarrays",
    "np.split": "a ragged list of results is not recorded",
    "np.array_split": "a ragged list of results is not recorded",
    "np.vsplit": "a ragged list of results is not recorded",
    "np.dsplit": "a ragged list of results is not recorded",
    "np.linalg.slogdet": "its named-tuple result is not rebuilt on the tape",
    "ndarray.repeat": "Tensor.repeat tiles, as in PyTorch; np.repeat(t, n, axis) is recorded",
    "ndarray.flatten": "Tensor.flatten takes PyTorch's dims, not numpy's order",
    "ndarray.reshape": "Tensor.reshape takes no order= (as in PyTorch)",
    "ndarray.std": "Tensor.std takes PyTorch's arguments (dim, correction), not numpy's positions",
    "ndarray.real": "Tensor.real is PyTorch's method, not numpy's attribute",
    "np.as_strided": "it reads its argument with np.asarray (sliding_window_view is recorded)",
}


def _calls(fn):
    """The objects a rule body calls (``np.cos``, ``_sd.unbroadcast``), resolved in its globals."""
    q = quote.quoted(fn)
    if isinstance(q, quote.CalledRule):
        return None
    scope = dict(fn.__globals__)
    out = []
    nodes = list(q.prelude) + [q.result]
    for node in nodes:
        for sub in walk(node):
            if isinstance(sub, gast.Call):
                obj = _static(sub.func, scope)
                if obj is not None:
                    out.append(obj)
    return out


def _static(node, scope):
    if isinstance(node, gast.Name):
        return scope.get(node.id, getattr(builtins, node.id, None))
    if isinstance(node, gast.Attribute):
        base = _static(node.value, scope)
        return None if base is None else getattr(base, node.attr, None)
    return None


def _differentiable_call(obj, seen=frozenset()):
    if registry.lookup(obj) is not None or registry.is_nondiff(obj) or obj in (
            builtins.len, builtins.tuple, builtins.list, builtins.range, builtins.isinstance):
        return True
    # a runtime helper without a rule is differentiated from its source (compiler/resolve.py):
    # when the calls in it are
    return runtime_helper(obj) and obj not in seen and _source_differentiable(obj, seen | {obj})


_REFUSED_SYNTAX = (gast.Import, gast.ImportFrom, gast.Try, gast.Nonlocal, gast.Global,
                   gast.With, gast.Yield, gast.Lambda)


def _source_differentiable(fn, seen):
    """Whether every call in ``fn``'s source that names a function has a rule or is itself such
    a helper, and the source holds no statement the compiler refuses (tests/test_rule_suite.py
    checks the claim against finite differences)."""
    try:
        tree = gast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError):
        return False
    scope = dict(fn.__globals__)
    for node in walk(tree):
        if isinstance(node, _REFUSED_SYNTAX):
            return False
        if isinstance(node, gast.Call):
            obj = _static(node.func, scope)
            if obj is not None and not _differentiable_call(obj, seen) and not _passive(obj):
                return False
    return True


def _passive(obj):
    """A call in a helper's source that the compiler meets with values that carry no
    derivative (a type check, an exception, an index computed with numpy), or refuses by name
    when one does (which the rule suite then shows)."""
    module = getattr(obj, "__module__", None) or ""
    if isinstance(obj, type):
        return issubclass(obj, BaseException) or module == "builtins"
    return module in ("builtins", "functools", "_functools") or module.startswith("numpy")


def _tape(key):
    """The tape records numpy functions, ufuncs, ndarray methods and Python's operators."""
    module = getattr(key, "__module__", "") or ""
    return isinstance(key, np.ufunc) or module.startswith("numpy") or \
        getattr(key, "__objclass__", None) is np.ndarray or \
        type(key).__name__ in ("getset_descriptor", "member_descriptor") or \
        (module in ("_operator", "operator") and key is not operator.matmul) or \
        key is operator.matmul


def rows():
    """One dict per registered primitive (numpy, math, operators, builtins and scipy's when it
    is installed; not sourcediff's own helpers): name, reverse, forward, tape, second."""
    out = []
    for rule in registry.all_rules():
        module = getattr(rule.key, "__module__", "") or ""
        if module.startswith(("sourcediff", "tests")):
            continue
        calls = _calls(rule.vjp)
        second = calls is not None and all(_differentiable_call(c) for c in calls)
        name = rule.name if rule.key not in (np.r_, np.c_) else \
            ("np.r_[...]" if rule.key is np.r_ else "np.c_[...]")
        out.append({
            "name": name,
            "reverse": True,
            "forward": rule.kind in ("elementwise", "linear") or rule.jvp is not None,
            "tape": _tape(rule.key) and name not in TAPE_GAPS,
            "second": second,
        })
    out.sort(key=lambda r: r["name"])
    return out


def markdown():
    """The table as Markdown."""
    lines = ["# Coverage: primitives and modes", "",
             "Generated by `python -m sourcediff.coverage` from the rule registry (a test keeps "
             "it current). Reverse: a vjp rule. Forward: a jvp (derived from the rule's kind, or "
             "its own). Tape: the tape records it on `sd.tensor` values. Second order: every call "
             "in the rule's body has a rule of its own (or carries no derivative), so the "
             "generated gradient can be differentiated again (tests/test_rule_suite.py runs every "
             "case of the rule table through reverse, forward, grad of grad and hvp against "
             "finite differences: a yes must agree, a no must be refused by name). Functions "
             "without a rule are "
             "refused by name when a value that carries a derivative reaches them; functions "
             "declared to carry none are listed in `sourcediff/rules/numpy_creation_rules.py` with the "
             "reason.", "",
             "A rule whose body calls a helper of sourcediff's runtime without a rule of its own "
             "has second order when that helper's source can be differentiated (the compiler "
             "differentiates it as it does the user's functions).", "",
             "| primitive | reverse | forward | tape | second order |",
             "|---|---|---|---|---|"]
    mark = {True: "yes", False: "no"}
    for r in rows():
        lines.append(f"| `{r['name']}` | {mark[r['reverse']]} | {mark[r['forward']]} | "
                     f"{mark[r['tape']]} | {mark[r['second']]} |")
    total = len(rows())
    written = sorted(registry._key_name(k) for k in registry.all_written())
    lines += ["", f"{total} primitives.", "", "Differentiated in every mode and order as the "
              "numpy code of `sourcediff/runtime/written.py` that computes the same: " +
              ", ".join(f"`{w}`" for w in written) + "."]
    lines += ["", "Where the tape differs (it raises there, never a "
              "silent zero):", ""]
    lines += [f"- `{name}`: {why}" for name, why in sorted(TAPE_GAPS.items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
