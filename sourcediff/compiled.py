"""Compiled functions: what :func:`~sourcediff.compiler.driver.build` makes, compiled
(``compiler/loader.py``) behind an entry wrapper that locates errors at the user's line and runs
the version specialized for each call signature (``sourcediff/specialize/``; ``jit.py`` for
``backend="numba"``, ``lazy.py`` for dask arguments); and the cache of them.
"""

import builtins
import functools
import inspect
import os
import re
import threading
import types
import warnings
import weakref

import numpy as np

from . import jit, lazy, runtime
from .captured import Captured, Redirected, state_key
from .compiler.alias import method_writes, mutated_params
from .compiler.driver import build, resolve_wrt, split_cotangent
from .compiler.emit import emit
from .compiler.loader import compile_raw, free_names
from .compiler.parse import (
    GENERATED_LINES,
    _generated_line,
    not_a_function,
    outermost,
    star_forwarded,
    synthetic,
)
from .compiler.resolve import MethodOf, _library, method_of
from .errors import (CallError, NoRuleError, NoSourceError, SourcediffError,
                     SourcediffWarning, WrtError)
from .rules import registry
from .rules.quote import sliced_rule
from .specialize import facts as spec_facts
from .specialize import passes

_cache = weakref.WeakKeyDictionary()
_lock = threading.RLock()


class _Pending:
    """Stands for a vjp form still being compiled (a recursive call reaches it)."""

    def __init__(self):
        self.fn = None

    @property
    def __sourcediff_compiled__(self):
        return self.fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


class _PendingBwd(_Pending):
    """The backward form of a split form still being compiled: its cotangent keyword is the
    name the compiler gave it (``out_bar`` unless the function has one of its own)."""

    def __init__(self, fn, active_params):
        super().__init__()
        self.key = (fn, tuple(active_params))

    @property
    def __sourcediff_cotangent_name__(self):
        return split_cotangent(*self.key)


_in_progress = {}


def split_form(fn, active_params):
    """The compiled forward and backward forms of a user function for the given active parameter
    names (cached): ``fwd(*args)`` runs it once and returns ``(value, saved)``, and
    ``fwd.__sourcediff_bwd__(saved, out_bar=g)`` returns the parameters' gradients from what that
    run saved, so the function's body (its random draws, appends, prints) runs once per call."""
    _refuse_library(fn)
    key = (fn, active_params, "split")
    with _lock:
        if key in _in_progress:
            return _in_progress[key]
        pending = _in_progress[key] = _Pending()
        pending.__sourcediff_bwd__ = _PendingBwd(fn, active_params)
        try:
            compiled = _get(fn, tuple(active_params), "split", True)
        finally:
            del _in_progress[key]
        pending.fn = compiled
        pending.__sourcediff_bwd__.fn = compiled.__sourcediff_bwd__
        return compiled


def _refuse_library(fn):
    """Refuse a function of numpy's, scipy's or Python's own library met at run time with a value
    that carries a derivative (a namedtuple's ``p._replace(W=w)`` on an argument): its source is
    not transformed, as a call of it named where it is written is not (resolve._library). The
    message names no place: the entry gives it the user's line of the call."""
    fn = fn.function if isinstance(fn, MethodOf) else fn  # (a method seen with its class)
    module = getattr(fn, "__module__", None)
    if not inspect.isfunction(fn) or not _library(module) or module.startswith("sourcediff"):
        return  # (runtime/written.py's functions are differentiated through their source)
    name = getattr(fn, "__qualname__", repr(fn))
    raise NoRuleError(
        f"this call reaches {name} (from {module}) with a value that carries a derivative; "
        f"sourcediff transforms the source of your functions, not of Python's, numpy's or "
        f"scipy's, and {name} has no derivative rule. Write what it computes with operations "
        f"that have rules: for a namedtuple's _replace or dataclasses.replace on an argument, "
        f"the class's own call with every field (P(W=w, b=p.b)), which sourcediff follows")


def jvp_form(fn, active_params):
    """The compiled jvp form of a user function for the given active parameter names (cached)."""
    _refuse_library(fn)
    key = (fn, active_params, "jvp_form")
    with _lock:
        if key in _in_progress:
            return _in_progress[key]
        pending = _in_progress[key] = _Pending()
        pending.__sourcediff_tangent_names__ = {p: f"{p}_dot" for p in active_params}
        try:
            compiled = _get(fn, tuple(active_params), "jvp_form", True)
        finally:
            del _in_progress[key]
        pending.fn = compiled
        return compiled


def clear_cache():
    """Forget every compiled function (the next ``grad(f)`` transforms again)."""
    with _lock:
        _cache.clear()
        _COMPILES.clear()
        _SHARED.clear()
        _TARGETS.clear()


def check_function(fn):
    """Refuse, with what to pass instead, a value (``sd.grad(f(x))``) or an object where a function
    belongs."""
    if not callable(fn):
        raise NoSourceError(not_a_function(fn))


def _get(fn, wrt, mode, optimize_code, backend="numpy"):
    check_function(fn)
    if isinstance(wrt, list):  # (wrt=[0, 1] means wrt=(0, 1))
        wrt = tuple(wrt)
    if isinstance(fn, functools.partial):
        return _of_partial(fn, wrt, mode, optimize_code, backend)
    fn = _through_wrapper(fn, wrt)
    target = fn.__func__ if inspect.ismethod(fn) else fn
    try:
        per_fn = _cache.get(target)
    except TypeError:
        per_fn = None
    # (the last part follows what target captured: its closure's contents, its defaults)
    key = (wrt, mode, optimize_code, registry.version(), getattr(target, "__code__", None),
           type(fn.__self__) if inspect.ismethod(fn) else None, backend, state_key(target))
    compiled = per_fn.get(key) if per_fn is not None else None
    if compiled is None:
        with _lock:
            per_fn = _cache.get(target) if _weakable(target) else None
            compiled = per_fn.get(key) if per_fn is not None else None
            shared = _shared_key(target, key)
            if compiled is None and shared in _SHARED:
                compiled = _SHARED[shared]  # (a function of that code, closure and defaults)
                _keep(target, key, compiled)
            if compiled is None:
                outermost_build = not _building.depth
                _building.depth += 1
                try:
                    compiled = transform(fn, wrt, mode, optimize_code, backend)
                finally:
                    _building.depth -= 1
                if outermost_build:  # (what a build compiles in turn is not the user's call)
                    _count_compile(target, key[:-1])
                _remakes(compiled, target, inspect.ismethod(fn), (wrt, mode, optimize_code,
                                                                  backend))
                _keep(target, key, compiled)
                if shared is not None:
                    if len(_SHARED) >= _SHARED_MOST:
                        del _SHARED[next(iter(_SHARED))]  # (the oldest)
                    _SHARED[shared] = compiled
    if inspect.ismethod(fn):
        return types.MethodType(compiled, fn.__self__)
    return compiled


_COMPILES = {}  # {(wrt, mode, ..., code object): how many times it was compiled}

# A lambda or closure made anew on every step (sd.grad(lambda w: loss(w, X))(w) in a loop) is a
# new function of the same code each time. Its compiled function is shared by every function of
# that code, globals, closure cells (the same cells: a rebinding is seen by all of them) and
# defaults; the most recent _SHARED_MOST such entries are kept. A compiled function holds the
# function it was built for (its __wrapped__, its checks), so the weak cache keeps an entry for
# as long as the process runs: only the _PER_CODE most recent functions of one code keep theirs.
_SHARED = {}
_SHARED_MOST = 16
_PER_CODE = 4
_TARGETS = {}  # {code object: [weak references to the functions of that code in _cache]}


def _shared_key(target, key):
    """The key under which functions of ``target``'s code share a compiled function, or None.
    Only a plain function made by a ``lambda`` or a ``def`` inside a function: a view of a method
    for its receiver's class (resolve.MethodOf) forwards its function's code, globals and closure
    but is compiled for that class."""
    if not inspect.isfunction(target) or (target.__code__.co_name != "<lambda>" and
                                          "<locals>" not in target.__qualname__):
        return None
    code, globals_ = target.__code__, target.__globals__
    return key + (id(globals_), tuple(id(c) for c in getattr(target, "__closure__", None) or ()))


def _keep(target, key, compiled):
    """``compiled`` into the weak cache for ``target`` (its entries for what target captured
    before dropped), and out for the oldest function of target's code beyond _PER_CODE."""
    if not _weakable(target):
        return
    per_fn = _cache.setdefault(target, {})
    for old in [k for k in per_fn if k[:-1] == key[:-1]]:
        del per_fn[old]  # (built for what target captured before)
    per_fn[key] = compiled
    code = getattr(target, "__code__", None)
    if code is None:
        return
    if len(_TARGETS) > 10000:
        _TARGETS.clear()
    refs = [r for r in _TARGETS.get(code, ()) if r() is not None and r() is not target]
    refs.append(weakref.ref(target))
    while len(refs) > _PER_CODE:
        oldest = refs.pop(0)()
        if oldest is not None:
            _cache.pop(oldest, None)
    _TARGETS[code] = refs


class _Building(threading.local):
    depth = 0  # (per thread: how many builds of _get are running; 0 outside them)


_building = _Building()
_COMPILES_WARNED_AT = 5


def _count_compile(target, options):
    """Warn once when one function's code has been compiled ``_COMPILES_WARNED_AT`` times: a
    lambda or closure made anew on every step (``sd.grad(lambda w: loss(w, X))(w)`` in a loop)
    is a new function each time, and one whose closure is rebound on every step is a new state
    each time; either is compiled on every call, tens of milliseconds where a cached gradient
    takes microseconds."""
    code = getattr(target, "__code__", None)
    if code is None or code.co_filename in runtime.generated.FILES:
        return  # (code sourcediff wrote: higher orders differentiate it as they need)
    for cell in getattr(target, "__closure__", None) or ():
        try:
            if callable(cell.cell_contents):  # (closures over other functions: other functions,
                return  # as a test's lambdas over each case's f; data changing each step is not)
        except ValueError:
            pass
    if len(_COMPILES) > 10000:  # (bounded: only the count for code compiled again and again matters)
        _COMPILES.clear()
    try:
        n = _COMPILES[options] = _COMPILES.get(options, 0) + 1  # (options hold the code)
    except TypeError:
        return
    if n != _COMPILES_WARNED_AT:
        return
    where = f"{os.path.basename(code.co_filename)}:{code.co_firstlineno}"
    warnings.warn(
        f"sourcediff compiled {getattr(target, '__qualname__', code.co_name)} ({where}) "
        f"{n} times: each call of sd.grad(...) got a new function of that code (a lambda or "
        f"closure made on every step) or one whose closure or defaults held new objects, and "
        f"each is compiled anew (milliseconds; a cached gradient runs in microseconds). Make "
        f"the gradient once, outside the loop, and pass what changes as an argument: "
        f"df = sd.grad(loss); df(w, X) for def loss(w, X).",
        SourcediffWarning, stacklevel=jit._user_stacklevel())


_WRAPPERS = weakref.WeakKeyDictionary()


def _through_wrapper(fn, wrt):
    """A decorator's wrapper made with functools.wraps, ``def wrapper(*args, **kwargs): ...
    fn(*args, **kwargs)``, differentiated with respect to the parameters of the function it
    wraps (``wrt=0`` means ``w`` of ``loss(w, x)``, as ``inspect.signature`` reports them):
    a function with those parameters that calls the wrapper (``compiler.parse.synthetic``),
    whose ``*args`` then holds them and whose ``fn(*args)`` passes them on (``_sd.star_fwd``).
    ``fn`` itself when it is no such wrapper, or when ``wrt`` names its own ``*args`` (the forms
    of the wrapper as a function another one calls)."""
    # (a bound method of such a wrapper too, LAYER.scale: its receiver is an item of *args)
    func = fn.__func__ if inspect.ismethod(fn) and inspect.isfunction(fn.__func__) else fn
    wrapped = getattr(func, "__wrapped__", None) if inspect.isfunction(func) else None
    if inspect.isfunction(wrapped) and \
            getattr(func, "__sourcediff_same_as_wrapped__", None) is wrapped:
        return fn  # (sourcediff's own call wrapper computes its __wrapped__)
    # (a wrapper without functools.wraps on the way: the function its *args go to, read off
    # its closure; a bound method's is not followed)
    target = star_forwarded(func) if fn is func else None
    if not inspect.isfunction(wrapped) and target is None:
        return fn
    code = func.__code__
    if code.co_argcount or code.co_kwonlyargcount or not code.co_flags & inspect.CO_VARARGS:
        return fn
    own = code.co_varnames[:1 + bool(code.co_flags & inspect.CO_VARKEYWORDS)]
    if any(isinstance(w, str) and w in own for w in (wrt if isinstance(wrt, tuple) else (wrt,))):
        return fn
    made = _WRAPPERS.get(fn) if fn is func else None
    if made is None:
        name = getattr(target or fn, "__name__", "f")  # (a plain wrapper's is "wrapper")
        made = synthetic(
            fn, f"decorated_{name if name.isidentifier() else 'f'}", "{fn}({params})", {},
            target=target)
        if fn is func:  # (a bound method is made anew each time it is read: not kept)
            _WRAPPERS[fn] = made
    return made


def _remakes(compiled, target, bound, how):
    """Let ``compiled`` (and its backward half) build, on a call that finds what ``target``
    captured changed (sourcediff/captured.py), the same transform for what it captures now."""
    captured = getattr(compiled, "__sourcediff_captured__", None)
    if captured is None:
        return

    def remake(args):
        with _lock:
            per_fn = _cache.get(target) if _weakable(target) else None
            for k in [k for k, v in (per_fn or {}).items() if v is compiled]:
                del per_fn[k]  # (stale: a class's method changed leaves the key as it was)
            for k in [k for k, v in _SHARED.items() if v is compiled]:
                del _SHARED[k]  # (as stale for the other functions of target's code)
        fn = target
        parent = getattr(target, "__sourcediff_captured__", None)
        if parent is not None:  # (target is compiled: build it anew first)
            fn = parent.current(args)
        new = _get(types.MethodType(fn, args[0]) if bound else fn, *how)
        return new.__func__ if bound else new

    captured.remake = remake
    bwd = getattr(compiled, "__sourcediff_bwd__", None)
    if bwd is not None:  # (its backward half: what a transform of it builds anew from)
        bwd.__sourcediff_captured__.remake = lambda args: captured.current(()).__sourcediff_bwd__


def _of_partial(fn, wrt, mode, optimize_code, backend="numpy"):
    """``sd.grad(functools.partial(f, *a, **k))``: f's derivative for the parameters the partial
    leaves (``wrt`` counts those), called with the partial's arguments bound, as the partial is."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise NoSourceError(f"cannot read the parameters of {fn!r}: {exc}") from None
    positional = [p.name for p in sig.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names, single = resolve_wrt(wrt, positional, sig.parameters, lambda item, problem: WrtError(
        f"wrt={item!r} names a parameter twice; name each parameter once" if problem == "twice"
        else f"wrt={item!r} is not a parameter the partial {fn!r} leaves open; "
        f"they are {', '.join(sig.parameters) or 'none'}"))
    compiled = _get(fn.func, names[0] if single else tuple(names), mode, optimize_code, backend)
    out = functools.partial(compiled, *fn.args, **fn.keywords)
    # (what sourcediff reads off a compiled function, but not its __wrapped__: inspect.signature
    # follows that to the generated function's parameters, the partial's bound ones among them,
    # and sd.hessian of a partial took its first bound argument for the one to differentiate)
    out.__dict__.update({k: v for k, v in getattr(compiled, "__dict__", {}).items()
                         if k != "__wrapped__"})
    return out


def _weakable(obj):
    try:
        weakref.ref(obj)
        return True
    except TypeError:
        return False


def transform(fn, wrt, mode, optimize_code=True, backend="numpy"):
    """The compiled function the pipeline (:func:`~sourcediff.compiler.driver.build`) makes for
    ``fn``; see ``build`` for the modes."""
    return _compiled(build(fn, wrt, mode, optimize_code), backend)


def _compiled(built, backend="numpy"):
    """Compile a :class:`~sourcediff.compiler.driver.Built` behind the entry wrapper, with its
    per-signature specializations when it has a plan for them."""
    fn = compile_raw(built.parsed, built.emitted, built.name, built.globals_)
    spec = None
    if built.plan is not None and _SPECIALIZE != "0":
        spec = _Specializations(built, backend)
    captured = _captured(built)
    # (a split form's backward half runs the half that pairs with the forward run that saved
    # what it is given: a forward half built anew marks its saved values with it)
    role = None if not built.split else "fwd" if built.bwd is not None else "bwd"
    entry = _entry(fn, spec, built.distinct, built.parsed.fn.__globals__, built.resolved,
                   captured if captured.needed() else None, role, captured)
    fn.__sourcediff_captured__ = entry.__sourcediff_captured__ = captured
    captured.entry = entry
    entry.__sourcediff_source__ = built.emitted.source
    if spec is not None:
        spec.generic = fn
        entry.__sourcediff_specializations__ = spec
        if spec.backend != "numpy":
            entry.jit_log = spec.jit_log
    if built.split:
        # (what the specializer of a caller reads to follow the shapes through this call)
        entry.__sourcediff_fdef__ = (built.fdef, built.stack)
    if built.bwd is not None:
        entry.__sourcediff_bwd__ = _compiled(built.bwd, backend)
    if built.tangent_names is not None:
        entry.__sourcediff_tangent_names__ = built.tangent_names
        entry.__sourcediff_wrt__ = built.wrt
    else:
        entry.__sourcediff_cotangent_name__ = built.cotangent
    return entry


def _captured(built):
    """What the compiled ``built`` is built for besides its arguments (sourcediff/captured.py)."""
    user, fargs = built.parsed.fn, built.fdef.args.args
    parent = getattr(user, "__sourcediff_captured__", None)  # (it transforms generated code)
    receiver = getattr(built.parsed, "self_class", None) is not None and bool(fargs) and \
        bool(built.parsed.node.args.args) and fargs[0].id == built.parsed.node.args.args[0].id
    # (the functions read off a module are checked as the rules' globals are: dict, name, object)
    scoped = tuple(built.globals_.rule_globals.values()) + built.module_attributes
    rules = tuple(built.globals_.closures)
    functions = tuple(obj for _, obj in built.resolved)  # (their code is checked too)
    if parent is not None:
        return Captured(None, built.methods, receiver, parent, rules, scoped, functions)
    return Captured(user, built.methods, receiver, rules=rules, rule_globals=scoped,
                    functions=functions)


_SPECIALIZE = os.environ.get("SOURCEDIFF_SPECIALIZE", "1")  # "0": off, "strict": errors surface
_MAX_SIGNATURES = 32


class _Specializations:
    """The generated function specialized per call signature (argument types, shapes, dtypes)."""

    def __init__(self, built, backend):
        plan = built.plan
        self.parsed, self.fdef, self.name, self.globals_ = (built.parsed, built.fdef, built.name,
                                                            built.globals_)
        self.params, self.removable, self.where_names = plan.params, plan.removable, \
            plan.where_names
        self.runtime_names, self.stack = plan.runtime_names, plan.stack
        self.placeholders = plan.placeholders
        self.gradients_only = plan.gradients_only  # (sd.grad's: it returns nothing else)
        self.table = {}
        self.misses = 0
        self.generic = None
        self.lock = threading.Lock()
        # (user function, wrt name, its position, mode, single) of a gradient with one wrt
        # argument: for a Python float there, forward mode is the faster way (see _build)
        self.forward = plan.forward
        self.backend = backend  # or "numba": each signature's code compiled (sourcediff/jit.py)
        self.jit_log = []  # one record per signature the backend compiled or could not
        self.jit_warned = False
        # a gradient's results get the entry's copy-or-own step (runtime.own_arrays) from the
        # table's function itself: none for code that shows them new (specialize/owned.py)
        self.own = runtime.own_arrays if built.distinct else None
        self.owning_generic = None
        parsed = built.parsed
        self.where = f"{parsed.fn.__qualname__} ({parsed.filename_short}:" \
                     f"{parsed.user_line(parsed.node)})"

    def lookup(self, args, keywords=None):
        self.misses += 1  # calls the entry's own key did not find (tests/test_specialize.py)
        key = spec_facts.signature(args)
        if keywords:
            key += tuple(sorted((k, spec_facts.signature((v,))) for k, v in keywords.items()))
        fn = self.table.get(key)
        if fn is not None:
            return fn
        with self.lock:
            fn = self.table.get(key)
            if fn is None:
                fn, owned = self._build(args, keywords)
                if self.own is not None and not owned:
                    fn = self._owning(fn)
                if len(self.table) < _MAX_SIGNATURES:
                    self.table[key] = fn
        return fn

    def _owning(self, fn):
        """``fn`` with runtime.own_arrays applied to what it returns (the generic code's once)."""
        if fn is self.generic and self.owning_generic is not None:
            return self.owning_generic
        own = self.own

        @functools.wraps(fn)
        def owning(*args, **kwargs):
            return own(fn(*args, **kwargs))

        if fn is self.generic:
            self.owning_generic = owning
        return owning

    def _build(self, args, keywords):
        """The function for this call's signature, and whether its code shows every array it
        returns new and its own (specialize/owned.py)."""
        try:
            forward = self._forward(args)
            if forward is not None:
                return forward, False
            namespace = dict(vars(builtins))
            namespace.update(self.parsed.fn.__globals__)
            namespace.update(free_names(self.parsed, self.globals_))
            fdef, owned = passes.specialize_owned(
                self.fdef, self.params, args, namespace=namespace, stack_name=self.stack,
                removable=self.removable, where_names=self.where_names,
                runtime_names=self.runtime_names, placeholders=self.placeholders,
                keywords=keywords, bind=self.globals_.name, batch_rows=self.backend == "numpy",
                gradients_only=self.gradients_only)
            if lazy.any_lazy(args, keywords):  # (dask arguments: sourcediff/lazy.py)
                owned = False
                numpy_names = {k for k, v in namespace.items() if v is np}
                fdef = lazy.rewrite(fdef or self.fdef, next(iter(self.runtime_names)),
                                    numpy_names) or fdef
            if lazy.any_lazy(args, keywords) or self.backend == "numpy":
                if fdef is None:
                    return self.generic, False
                return compile_raw(self.parsed, emit(fdef), self.name, self.globals_), owned
            numpy_fn = self.generic if fdef is None else \
                compile_raw(self.parsed, emit(fdef), self.name, self.globals_)
            return jit.build(self, fdef or self.fdef, numpy_fn, args, keywords or {}), False
        except Exception:
            if _SPECIALIZE == "strict":
                raise
            return self.generic, False  # the generic code is always right; only speed is lost

    def _forward(self, args):
        """For one Python float wrt argument, the derivative in one forward pass (no trajectory
        to save and replay): the jvp form, specialized, with the tangent 1.0."""
        if self.forward is None:
            return None
        fn, wrt, position, mode, single = self.forward
        if position >= len(args) or type(args[position]) is not float:
            return None
        jvp = _get(fn, (wrt,), "jvp", True, self.backend)
        tangent = jvp.__sourcediff_tangent_names__[wrt]
        spec = getattr(jvp, "__sourcediff_specializations__", None)
        target = spec.lookup(args, {tangent: 1.0}) if spec is not None else jvp
        if spec is not None and spec.backend != "numpy":
            self.jit_log.extend(r for r in spec.jit_log if r not in self.jit_log)
        where = self.where
        positional = getattr(target, "__sourcediff_positional__", None)
        if positional is not None:  # (compiled: the tangent is its last positional parameter)
            def seeded(*args):
                return positional(*args, 1.0)
        else:
            seeded = functools.partial(target, **{tangent: 1.0})
        check_scalar, grad_like = runtime.check_scalar, runtime.grad_like
        numpy_float = np.float64

        def forward(*args):
            out, out_dot = seeded(*args)
            if type(out) is not float and type(out) is not numpy_float:
                check_scalar(out, where)
            if type(out_dot) is not float:  # the tangent has the output's type (a float32
                out_dot = grad_like(out_dot, args[position])  # scalar, a (1,) array): a float
            grad = out_dot if single else (out_dot,)
            return grad if mode == "grad" else (out, grad)

        forward.__sourcediff_source__ = getattr(target, "__sourcediff_source__", None)
        return forward


def _entry(fn, spec=None, distinct=False, scope=None, resolved=(), captured=None, role=None,
           coded=None):
    """``fn`` behind a thin wrapper that turns an error raised inside generated code into the same
    kind of error (also a SourcediffError) that names the user's line it comes from, and that runs
    the version specialized for the arguments' signature when there is one."""
    # every call pays for this: the signature key is built inline (as spec_facts.signature
    # builds it), and a call without keywords passes none on
    table, lookup, ndarray = (spec.table, spec.lookup, np.ndarray) if spec is not None else \
        (None, None, None)
    namespace = {"fn": fn, "table": table, "lookup": lookup, "ndarray": ndarray,
                 "dict_key": spec_facts.dict_key, "seq_key": spec_facts.seq_key,
                 "SourcediffError": SourcediffError,
                 "_relocated": _relocated, "own": runtime.own_arrays if distinct else None,
                 "resolved": tuple(resolved), "scope": scope, "_rebound": _rebound,
                 "_REBOUND": _REBOUND, "captured": captured, "Redirected": Redirected,
                 "array_kind": _array_kind, "plain": np.ndarray, "coded": coded,
                 "_bad_call": _bad_call}
    codes = coded.codes if coded is not None else ()
    for k, (function, code) in enumerate(codes):  # (the code checks: see _entry_source)
        namespace[f"_f{k}"], namespace[f"_c{k}"] = function, code
    source = _entry_source(getattr(getattr(fn, "__code__", None), "co_argcount", 0), distinct,
                           bool(resolved), captured is not None, role, len(codes))
    # (a frame of sourcediff's: runtime.generated knows it by its file name)
    exec(runtime.generated.compile_code(source, "<sourcediff entry>"), namespace)
    entry = functools.wraps(fn)(namespace["entry"])
    # (parse follows __wrapped__ to the generated fn; the mark is the function itself, so that a
    # functools.wraps of the entry, which copies its __dict__, is not taken for it)
    entry.__sourcediff_same_as_wrapped__ = fn
    return entry


_REBOUND = object()


def _array_kind(fn, args):
    """Refuse an np.matrix or a masked array among the arguments of a call of the generated
    ``fn`` (runtime.check_array_kind): the rules are plain ndarray's."""
    code = getattr(fn, "__code__", None)
    names = code.co_varnames[:code.co_argcount] if code is not None else ()
    where = getattr(fn, "__doc__", None) or ""
    where = where.split(" (", 1)[0].split(" of ", 1)[-1] if " of " in where else fn.__name__
    for i, a in enumerate(args):
        runtime.check_array_kind(a, names[i] if i < len(names) else f"#{i}", where)


def _rebound(fn, name, old, new):
    """A module global the derivative was built for now names another object: the primal would
    call the new one and the adjoint use the old one's derivative. Every compiled form is
    forgotten, and the call refused with what to do."""
    clear_cache()
    what = "no longer exists" if new is _REBOUND else f"now names {new!r}"
    raise SourcediffError(
        f"{name} {what}, but sourcediff built {fn.__qualname__} when {name} was {old!r}, and its "
        f"derivative is that one's. Call sd.grad (or the transform you used) again to build it "
        f"for the new {name}.")


def _entry_source(n, distinct=False, checks=False, captured=False, role=None, codes=0):
    """The source of the entry wrapper for a function of ``n`` positional parameters: a call
    with ``n`` arguments builds its signature key (as spec_facts.signature builds it) in one tuple
    display, with ``n`` arrays without a test per argument (measured at 6 arrays: about 1 us less
    per call than the loop), with floats among them by one test of each argument's type (W2's four
    floats and two arrays: 2.1 -> 0.9 us of the entry per call), and a call that display does not
    find (a dict's, a list's or a tuple's key is its items' facts, an ndarray subclass is checked
    first) by the loop over the arguments. ``checks``: the functions resolved by global name are checked first (ACT = np.sin
    after the gradient was built for np.tanh); ``distinct``: result arrays that share memory are
    copied apart (runtime.own_arrays: by the specialization table's functions themselves, which
    skip it where their code shows their arrays new, _Specializations._owning; here, on the
    path without a table); ``captured``: a call finding the closure, defaults or
    methods the function was built for changed runs one built anew (sourcediff/captured.py);
    ``role``: "fwd" or "bwd" for the halves of a split form (the forward half built anew marks
    what it saves with its backward half, which the old backward half then runs); ``codes``:
    the number of functions (the user's, its helpers and methods: ``_f0``, ...) whose code
    (``_c0``, ...) is checked on each call, inline (a function given new code in place, as
    IPython's autoreload does, runs one built anew)."""
    out = "own(out)" if distinct else "out"
    fast = ""
    if 1 <= n <= 16:
        names = [f"a{k}" for k in range(n)]
        mixed = ", ".join(f"{a}.shape if (k{k} := type({a}) is ndarray) else type({a}), "
                          f"{a}.dtype if k{k} else False" for k, a in enumerate(names))
        fast = f"""
        if len(args) == {n}:
            {", ".join(names)}, = args
            if {" and ".join(f"type({a}) is ndarray" for a in names)}:
                return (table.get(({", ".join(f"{a}.shape, {a}.dtype" for a in names)},)) or
                        lookup(args))(*args)
            found = table.get(({mixed},))
            if found is not None:
                return found(*args)"""
    check = """
    for name, obj in resolved:
        if scope.get(name, _REBOUND) is not obj:
            _rebound(fn, name, obj, scope.get(name, _REBOUND))""" if checks else ""
    if codes and role != "bwd":
        test = " or ".join(f"_f{k}.__code__ is not _c{k}" for k in range(codes))
        take = "out, saved = current(*args, **kwargs)\n            return out, Redirected(" \
            "saved, current.__sourcediff_bwd__)" if role == "fwd" else \
            "return current(*args, **kwargs)"
        check += f"""
    if {test}:
        current = coded.current(args)
        if current is not entry:
            {take}"""
    if (captured or codes) and role == "bwd":
        check += """
    if args and type(args[0]) is Redirected:
        return args[0].bwd(args[0].saved, *args[1:], **kwargs)"""
    elif captured and role == "fwd":
        check += """
    current = captured.current(args)
    if current is not entry:
        out, saved = current(*args, **kwargs)
        return out, Redirected(saved, current.__sourcediff_bwd__)"""
    elif captured:
        check += """
    current = captured.current(args)
    if current is not entry:
        return current(*args, **kwargs)"""
    return f"""
def entry(*args, **kwargs):{check}
    try:
        if kwargs or table is None:
            for a in args:
                if type(a) is not plain and isinstance(a, plain):
                    array_kind(fn, args)
            out = fn(*args, **kwargs)
            return {out}{fast}
        key = []
        for a in args:
            if type(a) is ndarray:
                key.append(a.shape)
                key.append(a.dtype)
            elif type(a) is dict or type(a) is list or type(a) is tuple:
                key.append(type(a))
                key.append(dict_key(a) if type(a) is dict else seq_key(a))
            else:
                if isinstance(a, ndarray):
                    array_kind(fn, args)
                key.append(type(a))
                key.append(False)
        return (table.get(tuple(key)) or lookup(args))(*args)
    except SourcediffError as exc:
        located = _relocated(exc)
        if located is None:
            raise
        raise located from exc
    except Exception as exc:
        if type(exc) is TypeError:
            _bad_call(fn, args, kwargs)
        located = _relocated(exc)
        if located is None:
            raise
        raise located from exc
"""


def bind_call(fn, args, kwargs, refusal):
    """The call's arguments bound to ``fn``'s parameters; None where those cannot be read; where
    they do not bind (too many, too few, a keyword it has no parameter for), the CallError
    ``refusal(sig, given, problem)`` builds, ``given`` saying what the call passed and
    ``problem`` Python's reason. Serves the generated functions' entries and the transforms'
    checks of the user's function alike."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        return sig.bind(*args, **kwargs)
    except TypeError as exc:
        given = f"{len(args)} positional argument(s)" + (
            f" and the keyword(s) {', '.join(kwargs)}" if kwargs else "")
        raise refusal(sig, given, str(exc)) from None


def _bad_call(fn, args, kwargs):
    """Refuse, with how to call it, a call of the generated ``fn`` that its parameters do not take
    (Python's TypeError named only the generated function: ``jvp_f() takes 1 positional argument
    but 2 were given`` for ``sd.jvp(f)(x, v)``, whose tangent is a keyword argument). Returns when
    the arguments bind, the TypeError then being one raised inside."""
    def refusal(sig, given, problem):
        kinds = inspect.Parameter
        positional = [p.name for p in sig.parameters.values()
                      if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)]
        keyword_only = [p.name for p in sig.parameters.values() if p.kind is kinds.KEYWORD_ONLY]
        what = (fn.__doc__ or fn.__name__).split(". Generated by")[0]  # "Gradient of f (f.py:3)"
        shape = ", ".join(positional + [f"{k}=..." for k in keyword_only])
        hint = f"; the tangents are keyword arguments ({', '.join(keyword_only)}), not " \
            f"positional ones" if keyword_only else ""
        return CallError(f"{fn.__name__} ({what}) was called with {given}, and {problem}: call "
                         f"it with the arguments of the function it was made from, as "
                         f"{fn.__name__}({shape}){hint}")
    bind_call(fn, args, kwargs, refusal)


_located_classes = {}
_PLACE = re.compile(r"[\w.<>-]+\.py:\d+")  # (file.py:12 in a message)


def _relocated(exc):
    """``exc`` as a :class:`SourcediffError` (of a class deriving from both) naming the user's
    line that the innermost generated code it passed through comes from; None when it passed
    through none; None too for a sourcediff exception whose message names a place already
    (one raised at run time without it, by a rule or a check, is given the user's line the same
    way, as its own class). Generated code of sourcediff's own source (runtime/written.py's functions,
    differentiated through their source) names a line of sourcediff's, not the user's: the
    innermost frame of the user's code is taken, and where there is none (the entry of such a
    function, called from the user's generated code) the exception goes on as it is, to be
    located by the entry of the user's function around it."""
    if isinstance(exc, SourcediffError) and _PLACE.search(str(exc)):
        return None  # (one of sourcediff's, naming its place already)
    tb, where = exc.__traceback__, None
    while tb is not None:
        table = GENERATED_LINES.get(tb.tb_frame.f_code.co_filename)
        if table is not None and tb.tb_lineno in table.lines:
            found = (table.lines[tb.tb_lineno], tb.tb_frame.f_code.co_filename, tb.tb_lineno)
            # (a generated function runs in the globals of the function it was made from)
            if not _own_module(tb.tb_frame.f_globals.get("__name__")):
                where = found
        tb = tb.tb_next
    if where is None:
        return None
    cls = type(exc)
    if isinstance(exc, SourcediffError):
        origin = outermost(where[0])
        try:
            return cls(f"{origin.location}: {exc}\n    {origin.text}")
        except TypeError:
            return None
    if cls not in _located_classes:
        try:
            _located_classes[cls] = type(cls.__name__, (SourcediffError, cls),
                                         {"__module__": "sourcediff.errors"})
        except TypeError:
            _located_classes[cls] = None
    located_cls = _located_classes[cls]
    if located_cls is None:
        return None
    origin, filename, lineno = where
    origin = outermost(origin)
    try:
        return located_cls(f"{origin.location}: {exc}\n    {origin.text}\n(raised in the generated code at "
                           f"{filename}:{lineno}; print sourcediff.source(...) to read it)"
                           f"{_unknown_sizes_hint(exc)}{_float_division_hint(exc, filename)}")
    except TypeError:
        return None


def _own_module(name):
    """Whether the module ``name`` is sourcediff's."""
    return isinstance(name, str) and name.split(".")[0] == __name__.split(".")[0]


def _float_division_hint(exc, filename):
    """What to do when forward-mode code met Python's float division by zero: it takes the
    derivative of every value, also of one the result does not read (``t = np.log(x)`` before a
    branch that does not use it, at ``x = 0.0``), where numpy's float64 gives inf."""
    if not isinstance(exc, ZeroDivisionError) or "jvp_" not in filename:
        return ""
    return ("\nA gradient with respect to a Python float runs forward mode, which takes the "
            "derivative of every value the function computes, also of one the result does not "
            "read here. Pass the number as np.float64(x) (the reverse code then skips what the "
            "result does not read), or compute the value only where it is used.")


def _unknown_sizes_hint(exc):
    """What to do when dask failed on sizes it knows only once computed (nan in a shape): the
    values a boolean mask selects, or writes through one, in the derivative's code."""
    text = str(exc)
    if "(nan" not in text and "nan)" not in text and "chunk sizes are unknown" not in text:
        return ""
    tb = exc.__traceback__  # (raised inside dask: numpy's own messages may show a nan too)
    while tb is not None and tb.tb_frame.f_globals.get("__name__", "").split(".")[0] != "dask":
        tb = tb.tb_next
    if tb is None:
        return ""
    return ("\nThe derivative of indexing a dask array with a boolean mask (a[mask], a[mask] = v) "
            "needs sizes dask knows only once computed: write np.where(mask, a, 0.0) (or "
            "np.where(mask, v, a) for the write) instead, or compute the array first (x.compute())")


_CONSTRUCTORS = weakref.WeakKeyDictionary()  # {a user's class: the function that builds one}


def constructor_function(cls):
    """``def build_Dense(W, b): return Dense(W, b)`` for a class met at run time where a call
    builds an object of it through another name (``cls(W, b)`` in a classmethod, a class passed
    as an argument): the compiler follows a constructor called by the class's own name. Made
    once per class (a subclass has its own); NoSourceError for a class whose constructor takes
    ``*args`` or ``**kwargs``."""
    made = _CONSTRUCTORS.get(cls)
    if made is None:
        if cls.__module__ == "builtins" or not isinstance(getattr(cls, "__dict__", None),
                                                          types.MappingProxyType):
            raise NoSourceError(f"{cls!r} is not a class of the user's")
        made = _CONSTRUCTORS[cls] = synthetic(cls, f"build_{cls.__name__}", "{fn}({params})",
                                              {})
    return made


# The runtime sits below the compiler and imports none of it: what it needs at run time (compiling
# a callable met only then, a rule sliced to its active arguments, the user's line of generated
# code) it reads through runtime.hooks, set here; the compiler asks the same (compiler/callees.py).
runtime.hooks.split_form, runtime.hooks.jvp_form = split_form, jvp_form
runtime.hooks.sliced_rule = sliced_rule
runtime.hooks.generated_line, runtime.hooks.outermost = _generated_line, outermost
runtime.hooks.mutated_params, runtime.hooks.method_writes = mutated_params, method_writes
runtime.hooks.method_of = method_of
runtime.hooks.constructor_function = constructor_function
