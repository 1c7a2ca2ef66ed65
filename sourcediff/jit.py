"""The numba backend: a specialized generated gradient compiled to machine code (``[jit]`` extra).

``sd.grad(f, backend="numba")`` runs the same pipeline as the numpy backend. At the first call with
a new signature the specializer writes the code for those shapes and dtypes (``sd.source(df,
*args)`` shows it); this stage lowers that code to what numba's nopython mode types, compiles it
with ``numba.njit`` and runs it from then on::

    x_bar = 0.0                                   x_bar = _sd_np.zeros((64, 64), float64)
    _item2 = None                                 _item2 = _sd_np.zeros((16, 32), float64)
    _stack = []                                   _stack = []; _stack_h = []; _stack__item2 = []
    _stack.append(h)                              _stack_h.append(h)
    b_bar = b_bar + g.sum(axis=(0,))              b_bar = b_bar + g.sum(axis=0)
    return _sd.grad_like(x_bar, x)                return x_bar          (same shape and dtype)

Each rewrite keeps the values: a zero adjoint becomes an array of zeros only when every value the
name takes is an array of that shape and dtype and it is only added to; a placeholder (a name set
to None so its first save on the stack has a value, never read) gets a value of its later type;
each variable's saves go on a list of their own, which keeps their last-in first-out order.

What numba cannot compile (a runtime helper with no numba version, a list or dict argument, a
user function called from the gradient, an array read from the closure or the module) is not an
error: the numpy code runs instead, after one ``JitFallbackWarning`` naming the construct and the
user's line. Compile times are logged on the ``sourcediff`` logger (INFO) and kept in
``df.jit_log``.

Compiled code must not give a number the numpy code would not: indexing is bounds-checked, and
Python's scalar operations that numba's float64 and int64 arithmetic would compute otherwise
(``math.sqrt(-1.0)`` is nan, ``10.0 ** 400.0`` inf, ``int(nan)`` a huge negative number, ``2 **
-1`` 0) run through checked versions (``_checked_scalars``) that raise where the result could
differ. Where compiled code raises, the numpy code runs the same call (``_positional_call``): its
result or its error, named at the user's line, is the answer.
"""

import builtins
import logging
import math
import re
import time
import warnings

import gast
import numpy as np

from . import jit_types, runtime
from .compiler.contexts import drop_quiet_contexts
from .compiler.emit import emit
from .compiler.loader import compile_raw, free_names
from .compiler.parse import _generated_line, outermost
from .compiler.saves import without_stand_ins
from .errors import JitFallbackWarning
from .runtime.generated import FILES, runs_generated
from .specialize import facts as spec_facts
from .specialize.inference import Inference
from .specialize.release import without_releases
from .syntax import children, clone, unshared, walk  # (unshared: _typed_zeros reads parents)

log = logging.getLogger("sourcediff")

NUMPY_NAME = jit_types.NUMPY_NAME  # how lowered code spells numpy (bound when compiled)
_OK_DTYPES = (np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_))

_numba = None


def numba_module():
    """numba, imported on first use (None when it is not installed)."""
    global _numba
    if _numba is None:
        try:
            import numba
        except ImportError:
            _numba = False
        else:
            _numba = numba
            _register_overloads(numba)
    return _numba or None


# ---------------------------------------------------------------- the entry point


def build(spec, fdef, numpy_fn, args, keywords):
    """The callable for one signature: numba's compiled code, or ``numpy_fn`` (after one warning
    per gradient function) when numba cannot compile it. ``fdef`` is the specialized generated
    function, ``numpy_fn`` that function compiled as Python."""

    start = time.perf_counter()
    record = {"function": spec.name, "signature": _describe(args, keywords), "backend": "numba",
              "seconds": 0.0, "reason": None}
    spec.jit_log.append(record)
    numba = numba_module()
    reason = None
    if numba is None:
        reason = ("numba is not installed; install it with pip install 'sourcediff[jit]' "
                  "(or pip install numba)")
    else:
        reason = _unsupported_argument(spec, args, keywords)
    if reason is None:
        try:
            lowered, kw_names = lower(spec, fdef, args, keywords)
            scalars = jit_types.numpy_scalar_grads(lowered, args)
            emitted = emit(lowered)
            text = emitted.source
            python_fn = compile_raw(spec.parsed, emitted, spec.name, spec.globals_,
                                     extra={NUMPY_NAME: np, **_EXTRA})
            frozen = _frozen_globals(python_fn, set(spec.parsed.env) - set(spec.globals_.bound))
            if frozen:
                raise _Unsupported(
                    f"it reads {frozen} from outside the function, which numba would copy into "
                    f"the compiled code once (a later change to it, such as an in-place update "
                    f"or a new value, would not be seen); pass it as an argument instead")
            # (bounds checked: numpy raises IndexError for x[i] out of range, where unchecked
            # compiled code reads or writes past the array, a wrong number or worse)
            dispatcher = numba.njit(python_fn, boundscheck=True)
            values = list(args) + [keywords[k] for k in kw_names]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # (numba's performance hints are not the user's)
                dispatcher.compile(tuple(numba.typeof(v) for v in values))
            odd = jit_types.odd_dtypes(dispatcher)  # (an int32 or a float32 numba computes apart)
            if odd is not None:
                raise _Unsupported(odd)
        except _Unsupported as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001  (numba's typing and lowering errors vary)
            reason = _construct(exc)
        else:
            record["seconds"] = time.perf_counter() - start
            log.info("numba compiled %s for %s in %.2f s", spec.name, record["signature"],
                     record["seconds"])
            out = _positional_call(dispatcher, kw_names, numpy_fn, scalars)
            out.__sourcediff_source__ = text
            return out
    record["backend"] = "numpy"
    record["reason"] = reason
    record["seconds"] = time.perf_counter() - start
    message = (f"backend='numba': {spec.where} runs as numpy code for arguments "
               f"{record['signature']}: {reason}. The gradient is the same, only not compiled; "
               f"pass backend='numpy' to run numpy code without this warning")
    if not spec.jit_warned:
        spec.jit_warned = True
        warnings.warn(message, JitFallbackWarning, stacklevel=_user_stacklevel())
    else:
        log.info("%s", message)
    return numpy_fn


_Unsupported = jit_types.Unsupported


def _frozen_globals(fn, closure_names=()):
    """The name of a value the generated code reads from outside that numba would copy into the
    compiled code once, where the numpy code reads it at each call: from its globals (directly
    or as a module's attribute) a number, a bool, an array, a tuple, list or dict (a flag
    flipped, a count changed or an array updated in place later would not be seen); from the
    user's closure an array, list or dict, or a tuple holding one (an in-place update would not
    be seen; a closure variable rebound is seen by both: the gradient is built anew for it,
    sourcediff/captured.py).
    ``closure_names``: the user's closure variables (the compiler's own constants, bound beside
    them, are never changed). None when it reads only modules, functions, classes and such
    numbers."""
    import types

    def frozen(value):
        return isinstance(value, (bool, int, float, complex, np.generic, np.ndarray, tuple, list,
                                  dict))

    def mutable(value):
        if isinstance(value, tuple):
            return any(mutable(v) for v in value)
        return isinstance(value, (np.ndarray, list, dict))

    scope = fn.__globals__
    closure = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        if name not in closure_names:
            continue
        try:
            closure[name] = cell.cell_contents
        except ValueError:
            pass
    for name in fn.__code__.co_names + tuple(closure):
        value = closure[name] if name in closure else scope.get(name)
        if mutable(value) if name in closure else frozen(value):
            return name
        if isinstance(value, types.ModuleType) and value.__name__.split(".")[0] not in (
                "numpy", "math", "sourcediff", "numba"):
            for attr in fn.__code__.co_names:
                if frozen(getattr(value, attr, None)):
                    return f"{name}.{attr}"
    return None


def _user_stacklevel():
    """The stacklevel of the first frame outside sourcediff (the user's call of the gradient)."""
    import os
    import sys

    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and (frame.f_code.co_filename.startswith(package) or
                                 runs_generated(frame)):
        frame, level = frame.f_back, level + 1
    return level


def _positional_call(compiled, kw_names, numpy_fn, scalars):
    """The compiled function called as the generated one is (keyword-only tangents of a jvp form
    become trailing positional parameters, which numba takes). Where the compiled code raises
    (numba's float division by zero where numpy's float64 gives inf, an index out of bounds, a
    math function out of its domain: see _CHECKED), the numpy code runs the same call: its
    result, or its error at the user's line, is the answer, as with backend='numpy'. ``scalars``:
    where it returns numpy scalars' gradients (jit_types.numpy_scalar_grads)."""
    dispatcher = jit_types.retyped(compiled, scalars)
    if not kw_names:
        def call(*args):
            try:
                return dispatcher(*args)
            except Exception:  # noqa: BLE001  (the numpy code decides)
                return numpy_fn(*args)
    else:
        def call(*args, **kwargs):
            try:
                return dispatcher(*args, *[kwargs[k] for k in kw_names])
            except Exception:  # noqa: BLE001
                return numpy_fn(*args, **kwargs)

    def positional(*args):  # (the keyword-only tangents passed last, by position)
        try:
            return dispatcher(*args)
        except Exception:  # noqa: BLE001
            split = len(args) - len(kw_names)
            return numpy_fn(*args[:split], **dict(zip(kw_names, args[split:])))

    call.__sourcediff_dispatcher__ = compiled
    call.__sourcediff_positional__ = positional
    call.__sourcediff_kw_names__ = kw_names
    return call


def _describe(args, keywords):
    parts = []
    for a in list(args) + list((keywords or {}).values()):
        if isinstance(a, np.ndarray):
            parts.append(f"ndarray{a.shape}:{a.dtype}")
        else:
            parts.append(type(a).__name__)
    return "(" + ", ".join(parts) + ")"


def _unsupported_argument(spec, args, keywords):
    """Why numba would not take these arguments as the numpy code does, or None."""
    names = list(spec.params) + list(keywords or {})
    for name, a in zip(names, list(args) + list((keywords or {}).values())):
        t = type(a)
        if t is int or (isinstance(a, np.generic) and a.dtype.kind in "iu"):
            return (f"argument '{name}' is an integer; numba computes with 64-bit integers, "
                    f"where Python's don't overflow and n ** -2 is a float (numba gives 0)")
        if t in (float, bool):
            continue
        if t is np.ndarray or (isinstance(a, np.generic) and t.__module__ == "numpy"):
            if a.dtype in _OK_DTYPES:
                continue
            return (f"argument '{name}' has dtype {a.dtype}; the numba backend compiles float64 "
                    f"code (numba would compute float32 * 2.0 in float64, numpy in float32)")
        return (f"argument '{name}' is a {t.__name__}; the numba backend takes numpy arrays and "
                f"Python or numpy numbers (pass the arrays as separate arguments)")
    return None


_FILE_LINE = re.compile(r'File "([^"]*)", line (\d+)')


def _construct(exc):
    """What numba refused, with the user's line: from the generated line numba names."""
    import linecache

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = next((line for line in lines if not line.startswith(("Failed in", "No implementation"))
                  ), lines[0] if lines else type(exc).__name__)
    where = ""
    for filename, lineno in _FILE_LINE.findall(text):
        if filename not in FILES:
            continue
        lineno = int(lineno)
        generated = linecache.getline(filename, lineno).strip()
        origin = _generated_line(filename, lineno)
        where = f" in the generated line `{generated}`"
        if origin is not None:
            origin = outermost(origin)
            where += f" (from {origin.location}: {origin.text.strip()})"
    return f"numba cannot compile it{where} ({first})"


# ---------------------------------------------------------------- lowering


def lower(spec, fdef, args, keywords):
    """A copy of the specialized ``fdef`` (a tree: each node held once) in the form numba types,
    and the names of its keyword-only parameters, now trailing positional ones."""
    fdef = without_releases(without_stand_ins(unshared(clone(fdef)), spec.runtime_names))
    kw_names = [a.id for a in fdef.args.kwonlyargs]
    fdef.args.args = list(fdef.args.args) + list(fdef.args.kwonlyargs)
    fdef.args.kwonlyargs, fdef.args.kw_defaults = [], []
    _axis_tuples(fdef)
    _out_keywords(fdef)
    drop_quiet_contexts(fdef)
    marks, seen = set(), set()  # (the placeholders: no value, for the facts, as they were)
    for s in fdef.body:
        if _is_none_placeholder(s, spec.placeholders) and s.targets[0].id not in seen:
            marks.add(id(s))
            seen.add(s.targets[0].id)
    _typed_zeros(fdef, lambda: _facts(spec, fdef, args, keywords, marks), spec.runtime_names,
                 marks)
    facts, _ = _facts(spec, fdef, args, keywords, marks)
    if spec.stack is not None:  # (after the facts: the specializer knows the one stack's pops)
        _split_stacks(fdef, spec.stack)
    python_ops, reason = jit_types.bool_scalar_ops(fdef, facts)  # (Python's or numpy's bools)
    if reason is not None:
        raise _Unsupported(reason)
    # (last: the facts know no checks)
    _checked_scalars(fdef, _namespace(spec, fdef), facts, python_ops)
    _refuse_introspection(fdef, _namespace(spec, fdef))
    namespace = _namespace(spec, fdef)
    reason = jit_types.computed_otherwise(fdef, lambda func: _resolved(func, namespace))
    if reason is not None:
        raise _Unsupported(reason)
    return fdef, kw_names


def _refuse_introspection(fdef, namespace):
    """Numba answers ``hasattr(module, name)`` from what it can compile, not from the module:
    ``hasattr(scipy.special, "softplus")`` is False in compiled code, and a branch on it took the
    other way, a silent wrong gradient (review36). Such code runs as numpy code."""
    for node in walk(fdef):
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and \
                namespace.get(node.func.id) in (builtins.hasattr, builtins.callable):
            raise _Unsupported(
                f"it calls {node.func.id}(...), which numba answers from what it can compile "
                f"rather than from the object (hasattr(scipy.special, 'softplus') is False there)")


def _namespace(spec, fdef):
    """What the names ``fdef`` reads and does not assign are bound to."""
    import builtins

    namespace = dict(vars(builtins))
    namespace.update(spec.parsed.fn.__globals__)
    namespace.update(free_names(spec.parsed, spec.globals_))
    assigned = {n.id for n in walk(fdef) if isinstance(n, gast.Name) and
                isinstance(n.ctx, gast.Store)}
    namespace = {k: v for k, v in namespace.items() if k not in assigned}
    namespace[NUMPY_NAME] = np
    return namespace


def _facts(spec, fdef, args, keywords, marks):
    """The specializer's facts for ``fdef``: (node id -> fact, name -> joined fact), or Nones."""
    namespace = _namespace(spec, fdef)
    params = [a.id for a in fdef.args.args]
    values = list(args) + list((keywords or {}).values())
    known = {p: spec_facts.fact_of_signature(v) for p, v in zip(params, values)}
    inference = Inference(fdef, namespace, spec.stack, known, marks)
    try:
        inference.run()
    except spec_facts._Unsupported:
        return None, None
    return inference.nodes, inference.ever


def _is_none_placeholder(s, placeholders):
    return isinstance(s, gast.Assign) and len(s.targets) == 1 and \
        isinstance(s.targets[0], gast.Name) and s.targets[0].id in placeholders and \
        isinstance(s.value, gast.Constant) and s.value.value is None


def _load(name):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _store(name):
    return gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)


def _attr(value, attr):
    return gast.Attribute(value=value, attr=attr, ctx=gast.Load())


def _axis_tuples(fdef):
    """``x.sum(axis=(0,))`` -> ``x.sum(axis=0)``: numba takes one integer axis."""
    for node in walk(fdef):
        if isinstance(node, gast.Call):
            for kw in node.keywords:
                if kw.arg == "axis" and isinstance(kw.value, gast.Tuple) and \
                        len(kw.value.elts) == 1 and isinstance(kw.value.elts[0], gast.Constant):
                    kw.value = kw.value.elts[0]


def _out_keywords(fdef):
    """``np.multiply(a, b, out=a)`` -> ``np.multiply(a, b, a)`` (the specializer's reuse of a
    dead buffer; numba's ufuncs take the output positionally)."""
    for node in walk(fdef):
        if isinstance(node, gast.Call) and len(node.keywords) == 1 and node.keywords[0].arg == "out":
            node.args = list(node.args) + [node.keywords[0].value]
            node.keywords = []


def _stack_call(node, stack, method):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
        node.func.attr == method and isinstance(node.func.value, gast.Name) and \
        node.func.value.id == stack


def _split_stacks(fdef, stack):
    """Each variable's saves on a list of its own (numba's lists hold one type). The generated
    code restores a saved variable from its own save (``_stack.append(h)`` ... ``h =
    _stack.pop()``), so one list per variable pops the same values in the same order."""
    pushed, popped = set(), set()
    for node in walk(fdef):
        if isinstance(node, gast.Expr) and _stack_call(node.value, stack, "append") and \
                len(node.value.args) == 1 and isinstance(node.value.args[0], gast.Name):
            pushed.add(node.value.args[0].id)
        elif isinstance(node, gast.Assign) and _stack_call(node.value, stack, "pop") and \
                len(node.targets) == 1 and isinstance(node.targets[0], gast.Name):
            popped.add(node.targets[0].id)
    names = pushed & popped
    if names != pushed | popped:
        return  # (a save restored under another name: left on the one stack)

    def own(name):
        return f"{stack}_{name}"

    for node in walk(fdef):
        if isinstance(node, gast.Expr) and _stack_call(node.value, stack, "append") and \
                len(node.value.args) == 1 and isinstance(node.value.args[0], gast.Name) and \
                node.value.args[0].id in names:
            node.value.func.value = _load(own(node.value.args[0].id))
        elif isinstance(node, gast.Assign) and _stack_call(node.value, stack, "pop") and \
                isinstance(node.targets[0], gast.Name) and node.targets[0].id in names:
            node.value.func.value = _load(own(node.targets[0].id))
    still_used = any(isinstance(n, gast.Name) and n.id == stack and isinstance(n.ctx, gast.Load)
                     for n in walk(fdef))
    for i, s in enumerate(fdef.body):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and \
                s.targets[0].id == stack:
            fdef.body[i + (1 if still_used else 0):i + 1] = [
                gast.Assign(targets=[_store(own(n))], value=gast.List(elts=[], ctx=gast.Load()),
                            type_comment=None) for n in sorted(names)]
            break


def _typed_value(fact):
    """An expression of the type ``fact`` stands for (its value unimportant), or None."""
    if type(fact) is spec_facts.Arr:
        return _zeros(fact)
    if spec_facts._float64ish(fact):
        return gast.Constant(value=0.0, kind=None)
    if fact is spec_facts.ANYINT or (type(fact) is spec_facts.Known and type(fact.value) is int):
        return gast.Constant(value=0, kind=None)
    if fact is spec_facts.ANYBOOL or (type(fact) is spec_facts.Known and type(fact.value) is bool):
        return gast.Constant(value=False, kind=None)
    return None


def _zeros(fact):
    shape = gast.Tuple(elts=[gast.Constant(value=int(n), kind=None) for n in fact.shape],
                       ctx=gast.Load())
    dtype = _attr(_load(NUMPY_NAME), fact.dtype.name)
    return gast.Call(func=_attr(_load(NUMPY_NAME), "zeros"), args=[shape, dtype], keywords=[])


def _typed_zeros(fdef, infer, runtime_names, placeholders):
    """Placeholders get a value of their later type; a zero adjoint (``x_bar = 0.0``) that is only
    added to arrays of one shape and dtype becomes those zeros when, with that, every value the
    name takes is such an array; then ``_sd.grad_like(x_bar, x)`` of a value already of x's shape
    and dtype is ``x_bar``. ``infer()`` gives the specializer's facts for ``fdef`` as it is."""
    facts, _ = infer()
    if facts is None:
        return
    stores, loads, parents = _uses(fdef)
    for s in fdef.body:
        if id(s) in placeholders:
            others = [facts.get(id(a.value), spec_facts.TOP) for a in stores[s.targets[0].id]
                      if a is not s and not _pop_value(a)]
            value = _typed_value(_one(others)) if others else None
            if value is not None:
                s.value = value
    guesses = {}  # zero init statement -> (name, fact)
    for s in list(walk(fdef)):
        if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and
                isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Constant) and
                type(s.value.value) is float and s.value.value == 0.0):
            continue
        name = s.targets[0].id
        uses = loads.get(name, ())
        if not uses or not all(_only_added(n, parents) or
                               _grad_like_arg(n, parents, runtime_names) for n in uses):
            continue
        addends = []
        for n in uses:
            add = parents.get(id(n))
            if isinstance(add, gast.BinOp):
                addends.append(facts.get(id(add.right if add.left is n else add.left),
                                         spec_facts.TOP))
        fact = _one(addends) if addends else None
        if type(fact) is spec_facts.Arr:
            guesses[id(s)] = (s, name, fact)
    if not guesses:
        return
    for s, name, fact in guesses.values():
        s.value = _zeros(fact)
    facts, _ = infer()
    for s, name, fact in guesses.values():
        if facts is None or any(facts.get(id(a.value), spec_facts.TOP) != fact
                                for a in stores[name] if a is not s):
            s.value = gast.Constant(value=0.0, kind=None)  # (not one array type: as it was)
            continue
        for n in loads.get(name, ()):
            call = parents.get(id(n))
            if _grad_like_arg(n, parents, runtime_names) and \
                    facts.get(id(call.args[1]), spec_facts.TOP) == fact:
                _replace(parents.get(id(call)), call, _load(name))


def _uses(fdef):
    stores, loads, parents = {}, {}, {}
    for node in walk(fdef):
        for child in children(node):
            parents[id(child)] = node
        if isinstance(node, gast.Assign):
            for t in node.targets:
                if isinstance(t, gast.Name):
                    stores.setdefault(t.id, []).append(node)
        elif isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            loads.setdefault(node.id, []).append(node)
    return stores, loads, parents


def _pop_value(assign):
    return isinstance(assign.value, gast.Call) and isinstance(assign.value.func, gast.Attribute) \
        and assign.value.func.attr == "pop"


def _one(facts):
    first = facts[0]
    return first if all(f == first for f in facts) else spec_facts.TOP


def _only_added(node, parents):
    parent = parents.get(id(node))
    return isinstance(parent, gast.BinOp) and isinstance(parent.op, gast.Add)


def _grad_like_arg(node, parents, runtime_names):
    call = parents.get(id(node))
    return isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute) and \
        call.func.attr == "grad_like" and isinstance(call.func.value, gast.Name) and \
        call.func.value.id in runtime_names and len(call.args) == 2 and call.args[0] is node


def _replace(parent, old, new):
    for field, value in gast.iter_fields(parent):
        if value is old:
            setattr(parent, field, new)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if item is old:
                    value[i] = new


# ---------------------------------------------------------------- Python's scalar errors


# Python raises where numba's float64 arithmetic gives inf or nan (math.sqrt(-1.0), math.exp(1e3),
# 10.0 ** 400.0, (-8.0) ** (1 / 3), 0.0 ** -1.0) or a meaningless integer (int(nan), int(1e20)),
# and gives a float where numba's integer power truncates (2 ** -1). Lowered code calls these
# operations through checked versions that raise where the result could differ from Python's,
# and the numpy code then runs the call (jit._positional_call): its result, or its error, is the
# answer.
_MATH_FLOAT = ("acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "cbrt", "copysign",
               "cos", "cosh", "degrees", "erf", "erfc", "exp", "exp2", "expm1", "fmod", "gamma",
               "hypot", "ldexp", "lgamma", "log", "log10", "log1p", "log2", "pow", "radians",
               "remainder", "sin", "sinh", "sqrt", "tan", "tanh")
_MATH_INT = ("ceil", "floor", "trunc")


def _checked_targets():
    """function -> (name in lowered code, result is an integer)."""
    import builtins

    out = {getattr(math, name): (f"_sd_jit_math_{name}", False) for name in _MATH_FLOAT
           if hasattr(math, name)}
    out.update({getattr(math, name): (f"_sd_jit_math_{name}", True) for name in _MATH_INT})
    out[builtins.int] = ("_sd_jit_int", True)
    out[builtins.round] = ("_sd_jit_round", True)
    return out


_CHECKED = {}  # (function, number of arguments) -> (name, stub numba has a checked version of)


def _checked(fn, arity, to_int):
    """The stub lowered code calls for ``fn`` with ``arity`` arguments, with its numba version:
    ``fn`` itself, except that a number result that is not finite (or, for a result Python makes
    an integer, an argument that is not finite or not below 4e18) raises ArithmeticError."""
    key = (fn, arity)
    if key in _CHECKED:
        return _CHECKED[key]
    from numba import types
    from numba.extending import overload

    params = ", ".join(f"a{k}" for k in range(arity))
    # (an integer result: Python's is exact, numba's an int64 that a float of 2 ** 63 or more,
    # or nan, makes a meaningless number)
    finite = " and ".join(f"(_isfinite(a{k}) and abs(a{k}) < 4.0e18)" for k in range(arity))
    space = {"fn": fn, "_isfinite": math.isfinite, "types": types, "to_int": to_int}
    text = f"""
def stub({params}):
    return fn({params})

def typer({params}):
    number = (types.Float, types.Integer, types.Boolean)
    if not all(isinstance(a, number) for a in ({params},)):
        return lambda {params}: fn({params})
    if to_int and {arity} == 1:
        def impl_int({params}):
            if not ({finite}):
                raise ArithmeticError("not a finite number: Python raises")
            return fn({params})
        return impl_int
    def impl({params}):
        r = fn({params})
        if not _isfinite(r):
            raise ArithmeticError("not a finite number: Python may raise")
        return r
    return impl
"""
    exec(compile(text, "<sourcediff checked scalar>", "exec"), space)
    overload(space["stub"])(space["typer"])
    _CHECKED[key] = space["stub"]
    return space["stub"]


def _checked_pow(a, b):
    return a ** b


def _register_checked_pow(types, overload):
    @overload(_checked_pow)
    def checked_pow(a, b):
        number = (types.Float, types.Integer, types.Boolean)
        if not (isinstance(a, number) and isinstance(b, number)):
            return lambda a, b: a ** b  # (arrays: numpy's float64 semantics, as numba's)
        if not (isinstance(a, types.Float) or isinstance(b, types.Float)):
            def ints(a, b):  # (Python: n ** -1 is a float, and an int does not wrap around)
                if b < 0 or abs(float(a)) ** float(b) >= 2.0 ** 62:
                    raise ArithmeticError("an integer power Python computes otherwise")
                return a ** b
            return ints

        def floats(a, b):
            r = a ** b
            if not math.isfinite(r):
                raise ArithmeticError("not a finite number: Python may raise")
            return r
        return floats


def _checked_scalars(fdef, namespace, facts=None, python_ops=()):
    """``a ** b`` -> ``_sd_jit_pow(a, b)``; ``a * b``, ``a + b``, ``a - b``, ``a << b`` of
    values that may be integers (``facts``: node id -> the specializer's fact, or None) ->
    ``_sd_jit_mul(a, b)``, ...; ``math.sqrt(x)``, ``int(x)``, ``round(x)``, ... -> their checked
    versions (see _checked); ``round(x, ndigits)`` is refused (_Unsupported). ``python_ops``: ids
    of the operations on two Python bools (numba computes them as Python does)."""
    import builtins

    targets = _checked_targets()
    for node in list(walk(fdef)):
        for field, value in gast.iter_fields(node):
            items = value if isinstance(value, list) else [value]
            for k, child in enumerate(items):
                new = None
                if isinstance(child, gast.BinOp) and isinstance(child.op, gast.Pow):
                    new = gast.Call(func=_load("_sd_jit_pow"), args=[child.left, child.right],
                                    keywords=[])
                elif isinstance(child, gast.BinOp) and type(child.op) in _INT_OPS and \
                        _may_be_ints(child, facts) and id(child) not in python_ops:
                    new = gast.Call(func=_load(_INT_OPS[type(child.op)]),
                                    args=[child.left, child.right], keywords=[])
                elif isinstance(child, gast.Call) and not child.keywords and \
                        not any(isinstance(a, gast.Starred) for a in child.args):
                    fn = _resolved(child.func, namespace)
                    target = targets.get(fn) if _hashable(fn) else None
                    if fn is builtins.round and len(child.args) == 2:
                        raise _Unsupported(
                            "it calls round(x, ndigits), which numba computes as round(x * "
                            "10 ** ndigits) / 10 ** ndigits, where Python rounds the decimal value "
                            "of x exactly (round(2.675, 2) is 2.67, numba's 2.68); np.round(x, "
                            "ndigits) compiles")
                    if target is not None:
                        name, to_int = target
                        name = f"{name}_{len(child.args)}"
                        _EXTRA[name] = _checked(fn, len(child.args), to_int)
                        new = gast.Call(func=_load(name), args=child.args, keywords=[])
                if new is None:
                    continue
                gast.copy_location(new, child)
                if isinstance(value, list):
                    value[k] = new
                else:
                    setattr(node, field, new)


def _checked_mul(a, b):
    return a * b


def _checked_add(a, b):
    return a + b


def _checked_sub(a, b):
    return a - b


def _checked_lshift(a, b):
    return a << b


_INT_OPS = {gast.Mult: "_sd_jit_mul", gast.Add: "_sd_jit_add", gast.Sub: "_sd_jit_sub",
            gast.LShift: "_sd_jit_lshift"}


def _register_checked_ints(types, overload):
    """Python's integers do not overflow; numba's int64 wraps around (a product of the loop
    counters 1 * 2 * ... * 24 is a negative number): two integers whose exact result is 2 ** 62
    or more raise ArithmeticError (the numpy code then runs the call)."""
    from numba.core import errors

    big = 2.0 ** 62

    def ints(a, b):
        return isinstance(a, types.Integer) and isinstance(b, types.Integer)

    @overload(_checked_mul)
    def checked_mul(a, b):
        if ints(a, b):
            def impl(a, b):
                if abs(float(a) * float(b)) >= big:
                    raise ArithmeticError("an integer Python computes exactly")
                return a * b
            return impl
        return lambda a, b: a * b

    @overload(_checked_add)
    def checked_add(a, b):
        jit_types.refuse_bools(types, errors, a, b)  # (np.True_ + np.True_ is True, not 2)
        if ints(a, b):
            def impl(a, b):
                if abs(float(a) + float(b)) >= big:
                    raise ArithmeticError("an integer Python computes exactly")
                return a + b
            return impl
        return lambda a, b: a + b

    @overload(_checked_sub)
    def checked_sub(a, b):
        jit_types.refuse_bools(types, errors, a, b)
        if ints(a, b):
            def impl(a, b):
                if abs(float(a) - float(b)) >= big:
                    raise ArithmeticError("an integer Python computes exactly")
                return a - b
            return impl
        return lambda a, b: a - b

    @overload(_checked_lshift)
    def checked_lshift(a, b):
        if ints(a, b):
            def impl(a, b):
                if b < 0 or b >= 62 or abs(float(a)) * 2.0 ** b >= big:
                    raise ArithmeticError("an integer Python computes exactly")
                return a << b
            return impl
        return lambda a, b: a << b


def _may_be_ints(binop, facts):
    """Whether neither operand is known to be an array or a float."""
    if facts is None:
        return True
    for operand in (binop.left, binop.right):
        fact = facts.get(id(operand), spec_facts.TOP)
        if type(fact) is spec_facts.Arr or fact is spec_facts.PYFLOAT or \
                isinstance(fact, spec_facts.FloatOr) or \
                (type(fact) is spec_facts.Scal and fact.dtype.kind in "fc") or \
                (type(fact) is spec_facts.Known and isinstance(fact.value, (float, np.ndarray))):
            return False
    return True


_EXTRA = {"_sd_jit_pow": _checked_pow, "_sd_jit_mul": _checked_mul, "_sd_jit_add": _checked_add,
          "_sd_jit_sub": _checked_sub, "_sd_jit_lshift": _checked_lshift,
          "_sd_jit_invert": jit_types.jit_invert}
# (what lowered code names, bound when it is compiled)


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _resolved(func, namespace):
    """The object a call's ``name`` or ``module.name`` is bound to, or None."""
    if isinstance(func, gast.Name):
        return namespace.get(func.id)
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name):
        return getattr(namespace.get(func.value.id), func.attr, None)
    return None


# ---------------------------------------------------------------- runtime helpers for numba


def _register_overloads(numba):
    """numba versions of the runtime helpers that specialized code keeps for numbers and arrays
    whose type settles them; other types find no version (numba refuses; the numpy code runs)."""
    from numba import types
    from numba.extending import overload

    def is_float(t):
        return isinstance(t, (types.Float, types.Integer, types.Boolean))

    _overload_accumulations(types, overload, is_float)
    _overload_numbers_and_arrays(types, overload, is_float)
    _overload_indexing_and_masks(types, overload, is_float)
    _register_checked_pow(types, overload)
    _register_checked_ints(types, overload)
    from numba.core import errors
    jit_types.register(types, overload, errors)


def _overload_accumulations(types, overload, is_float):
    """numba versions of the helpers that shape and sum gradients: grad_like and
    add_stacked_products."""
    @overload(runtime.grad_like)
    def grad_like(g, x):
        if is_float(x) and is_float(g):
            return lambda g, x: float(g)
        if is_float(x) and isinstance(g, types.Array):
            return lambda g, x: float(np.sum(g))
        if isinstance(x, types.Array) and is_float(g):
            return lambda g, x: np.full(x.shape, g, x.dtype)
        if isinstance(x, types.Array) and isinstance(g, types.Array) and g.ndim == x.ndim:
            def same_rank(g, x):
                if g.shape != x.shape:
                    raise ValueError("backend='numba': a gradient of another shape than its "
                                     "argument; call the gradient with backend='numpy'")
                return g.astype(x.dtype)
            return same_rank
        return None

    @overload(runtime.add_stacked_products)
    def add_stacked_products(acc, lhs, rhs):
        if not (isinstance(lhs, types.List) and isinstance(rhs, types.List)):
            return None
        if isinstance(acc, types.Array):
            def impl(acc, lhs, rhs):
                out = acc.copy()
                for k in range(len(lhs)):
                    out += lhs[k].T @ rhs[k]
                return out
            return impl
        if is_float(acc):
            # (a zero accumulator becomes an array at the first pair; with no pairs the numpy
            # code returns the number itself, a type compiled code cannot also return)
            def impl_float(acc, lhs, rhs):
                if len(lhs) == 0:
                    raise ValueError("backend='numba': this adjoint loop ran no passes; call the "
                                     "gradient with backend='numpy' for such arguments")
                out = lhs[0].T @ rhs[0] + acc
                for k in range(1, len(lhs)):
                    out += lhs[k].T @ rhs[k]
                return out
            return impl_float
        return None


def _overload_numbers_and_arrays(types, overload, is_float):
    """numba versions of the helpers that settle for a number or an array: zeros, seeds, checks,
    unbroadcasting, unreducing and copies."""
    @overload(runtime.zeros_like_grad)
    def zeros_like_grad(x):
        if is_float(x):
            return lambda x: 0.0
        if isinstance(x, types.Array):
            return lambda x: np.zeros_like(x)
        return None

    @overload(runtime.output_seed)
    def output_seed(value, where):
        if is_float(value):
            return lambda value, where: 1.0
        return None

    @overload(runtime.check_scalar)
    def check_scalar(value, where):
        if is_float(value):
            return lambda value, where: None
        return None

    # (a, b = seq and loops over seq: numba's tuples and arrays unpack and iterate by position)
    @overload(runtime.check_unpack)
    def check_unpack(seq, count, where, text):
        if isinstance(seq, (types.BaseTuple, types.Array)):
            def check(seq, count, where, text):
                if len(seq) != count:
                    raise ValueError("a, b = seq: seq has another number of items")
            return check
        return None

    @overload(runtime.loop_length)
    def loop_length(seq, where, text):
        if isinstance(seq, (types.BaseTuple, types.Array, types.List)):
            return lambda seq, where, text: len(seq)
        return None

    @overload(runtime.broadcast_tangent)
    def broadcast_tangent(t, ans):
        if is_float(t) and is_float(ans):
            return lambda t, ans: t
        return None

    @overload(runtime.unbroadcast)
    def unbroadcast(g, x):
        if is_float(g) and is_float(x):
            return lambda g, x: g
        if isinstance(g, types.Array) and is_float(x):
            return lambda g, x: np.sum(g)
        return None

    @overload(runtime.unreduce)
    def unreduce(g, x, axis=None, keepdims=False):
        none = (types.NoneType, types.Omitted)
        flat = isinstance(keepdims, (types.Omitted, types.Boolean)) or keepdims is False
        if is_float(g) and isinstance(x, types.Array) and isinstance(axis, none) and flat:
            return lambda g, x, axis=None, keepdims=False: np.full(x.shape, g)
        return None

    @overload(runtime.copy)
    def copy_(value):
        if isinstance(value, types.Array):
            return lambda value: value.copy()
        if is_float(value):
            return lambda value: value
        return None


def _overload_indexing_and_masks(types, overload, is_float):
    """numba versions of the helpers that index and mask: scatter_basic, win_mask, fwin_mask."""
    def basic(index):  # (an integer array would write once where np.add.at adds)
        parts = index.types if isinstance(index, types.BaseTuple) else (index,)
        return all(isinstance(p, (types.Integer, types.SliceType)) for p in parts)

    @overload(runtime.scatter_basic, jit_options={"boundscheck": True})
    def scatter_basic(g, a, index):
        f64 = types.float64
        if isinstance(a, types.Array) and a.dtype == f64 and basic(index) and (
                g == f64 or (isinstance(g, types.Array) and g.dtype == f64)):
            def impl(g, a, index):
                out = np.zeros(a.shape)
                out[index] = g
                return out
            return impl
        return None

    @overload(runtime.win_mask)
    def win_mask(x, y):  # (1.0 where x wins, 0.5 at ties: the values numpy's mask multiplies by)
        def ok(t):
            return is_float(t) or (isinstance(t, types.Array) and t.dtype == types.float64)
        if ok(x) and ok(y) and (isinstance(x, types.Array) or isinstance(y, types.Array)):
            return lambda x, y: (x > y) * 1.0 + (x == y) * 0.5
        return None

    @overload(runtime.fwin_mask)
    def fwin_mask(x, y, least=False):  # (win_mask's, and 1 where only y is nan, 0.5 where both)
        def ok(t):
            return is_float(t) or (isinstance(t, types.Array) and t.dtype == types.float64)
        if ok(x) and ok(y) and (isinstance(x, types.Array) or isinstance(y, types.Array)):
            def impl(x, y, least=False):
                x_nan, y_nan = np.isnan(x), np.isnan(y)
                wins = (y > x) if least else (x > y)
                return wins * 1.0 + (x == y) * 0.5 + (y_nan & ~x_nan) * 1.0 + \
                    (y_nan & x_nan) * 0.5
            return impl
        return None
