"""The driver: the public entry points and the pipeline, stage by stage, with a compile cache.

Example::

    import numpy as np
    import sourcediff as sd

    def f(x):
        return np.sum(np.tanh(x) ** 2)

    df = sd.grad(f)
    df(np.ones(3))             # array([0.8399..., 0.8399..., 0.8399...])
    print(sd.source(df))       # the generated Python
"""

import builtins
import copy
import functools
import inspect
import linecache
import os
import threading
import weakref
from dataclasses import dataclass

import gast
import numpy as np

from . import lazy, registry, runtime, specialize
from .alias import _stored, alias_checks
from .dump import dump, wanted
from .emit import LineTable, emit
from .errors import BackendError, NoSourceError, SourcediffError, WrtError
from .facts import FULL_REDUCTIONS
from .fence import fence
from .forward import Forward
from .forwarding import forward_attributes
from .normalize import Names, all_names, assign, call, const, load, located, normalize, store
from .optimize import _loads, optimize
from .parse import GENERATED_LINES, Parsed, _generated_line, not_a_function, outermost, parse_function
from .quote import sliced_rule
from .reverse import GlobalNames, Reverse, _locals

_MISSING = object()
_cache = weakref.WeakKeyDictionary()
_lock = threading.RLock()


# ---------------------------------------------------------------------- public surface


def grad(fn=None, wrt=0, *, mode="reverse", optimize=True, has_aux=False, backend="numpy"):
    """The gradient function of ``fn`` with respect to ``wrt`` (an index, a name, or a tuple).

    Usable as ``sd.grad(f)``, ``sd.grad(f, wrt=(0, 1))`` or as a decorator ``@sd.grad`` /
    ``@sd.grad(wrt="w")``. The gradient has the shape and dtype of its argument; for a list,
    tuple or dict of arrays it is one of the same structure. With ``has_aux=True`` the function
    returns ``(loss, aux)`` and the gradient function returns ``(gradient, aux)`` (as in JAX).
    ``backend="numba"`` compiles the code specialized for each call signature with numba when it
    is installed (``sourcediff/jit.py``); what numba cannot compile runs as numpy code.

    Example::

        df = sd.grad(lambda x: x * x)
        df(3.0)        # 6.0
    """
    if fn is None:
        return functools.partial(grad, wrt=wrt, mode=mode, optimize=optimize, has_aux=has_aux,
                                 backend=backend)
    _check_backend(backend, optimize, mode)
    if has_aux:
        return _with_aux(fn, wrt, "grad", mode, optimize, backend)
    if mode == "forward":
        from .operators import forward_grad

        return forward_grad(fn, wrt, optimize)
    if mode != "reverse":
        raise SourcediffError(f"mode must be 'reverse' or 'forward', not {mode!r}")
    return _get(fn, wrt, "grad", optimize, backend)


def value_and_grad(fn=None, wrt=0, *, optimize=True, has_aux=False, backend="numpy"):
    """Like :func:`grad` but the function returns ``(value, gradient)``; with ``has_aux=True``,
    ``((value, aux), gradient)`` for a function that returns ``(value, aux)`` (as in JAX).

    Example::

        vg = sd.value_and_grad(lambda x: x * x)
        vg(3.0)        # (9.0, 6.0)
    """
    if fn is None:
        return functools.partial(value_and_grad, wrt=wrt, optimize=optimize, has_aux=has_aux,
                                 backend=backend)
    _check_backend(backend, optimize, "reverse")
    if has_aux:
        return _with_aux(fn, wrt, "value_and_grad", "reverse", optimize, backend)
    return _get(fn, wrt, "value_and_grad", optimize, backend)


_BACKENDS = ("numpy", "numba")


def _check_backend(backend, optimize_code, mode):
    if backend not in _BACKENDS:
        raise BackendError(f"backend={backend!r} is not one of sourcediff's backends; pass "
                           f"backend='numpy' (the default) or backend='numba' (compiled with numba, "
                           f"pip install 'sourcediff[jit]')")
    if backend == "numpy":
        return
    if not optimize_code:
        raise BackendError("backend='numba' compiles the optimized, specialized gradient; it "
                           "cannot be combined with optimize=False (drop one of the two)")
    if _SPECIALIZE == "0":
        raise BackendError("backend='numba' compiles the gradient specialized for each call "
                           "signature, and SOURCEDIFF_SPECIALIZE=0 turns specialization off; "
                           "unset it or pass backend='numpy'")
    if mode != "reverse":
        raise BackendError(f"backend='numba' works with mode='reverse' (for one Python float "
                           f"argument it already runs forward mode), not mode={mode!r}")


def _with_aux(fn, wrt, what, mode, optimize_code, backend="numpy"):
    """The gradient of ``fn(...)[0]`` for a ``fn`` that returns ``(loss, aux)``, giving aux back
    from the same run of ``fn`` (it runs once per call): the loss is taken by ``runtime.aux_first``,
    which keeps aux aside for this call."""
    from .parse import synthetic

    name = getattr(fn, "__name__", "f")
    loss_of = synthetic(fn, f"loss_of_{name if name.isidentifier() else 'f'}",
                        "_sd_aux_first({fn}({params}))", {"_sd_aux_first": runtime.aux_first})
    if what == "value_and_grad":
        inner = value_and_grad(loss_of, wrt=wrt, optimize=optimize_code, backend=backend)
    else:
        inner = grad(loss_of, wrt=wrt, mode=mode, optimize=optimize_code, backend=backend)

    @functools.wraps(fn)
    def with_aux(*args, **kwargs):
        with runtime.aux_kept() as kept:
            out = inner(*args, **kwargs)
        if not kept:
            raise SourcediffError(f"has_aux=True: {getattr(fn, '__qualname__', fn)} must return "
                                  f"(loss, aux)")
        aux = kept[0]
        return ((out[0], aux), out[1]) if what == "value_and_grad" else (out, aux)

    with_aux.__sourcediff_opaque__ = (f"sd.{what}({name}, has_aux=True)",
                                      f"Differentiate the loss alone: sd.{what}({name}) of a "
                                      f"function that returns only the loss.")
    with_aux.__sourcediff_source__ = getattr(inner, "__sourcediff_source__", None)
    if hasattr(inner, "jit_log"):
        with_aux.jit_log = inner.jit_log
    return with_aux


def source(fn, *example_args):
    """The generated Python source of a function made by sourcediff.

    With example arguments, the source specialized for their shapes and dtypes, which is what a
    call with such arguments runs (see ``sourcediff/specialize.py``). Example::

        print(sd.source(sd.grad(f)))
        print(sd.source(sd.grad(f), x, w))
    """
    text = getattr(fn, "__sourcediff_source__", None)
    if text is None:
        raise SourcediffError(f"{fn!r} was not made by sourcediff; pass the result of sd.grad(...)")
    spec = getattr(fn, "__sourcediff_specializations__", None)
    if example_args and spec is not None:
        return spec.lookup(example_args).__sourcediff_source__
    return text


class _Pending:
    """Stands for a vjp form still being compiled (a recursive call reaches it)."""

    def __init__(self):
        self.fn = None

    @property
    def __sourcediff_compiled__(self):
        return self.fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


_in_progress = {}


def split_form(fn, active_params):
    """The compiled forward and backward forms of a user function for the given active parameter
    names (cached): ``fwd(*args)`` runs it once and returns ``(value, saved)``, and
    ``fwd.__sourcediff_bwd__(saved, out_bar=g)`` returns the parameters' gradients from what that
    run saved, so the function's body (its random draws, appends, prints) runs once per call."""
    key = (fn, active_params, "split")
    with _lock:
        if key in _in_progress:
            return _in_progress[key]
        pending = _in_progress[key] = _Pending()
        pending.__sourcediff_bwd__ = _Pending()
        pending.__sourcediff_bwd__.__sourcediff_cotangent_name__ = "out_bar"
        try:
            compiled = _get(fn, tuple(active_params), "split", True)
        finally:
            del _in_progress[key]
        pending.fn = compiled
        pending.__sourcediff_bwd__.fn = compiled.__sourcediff_bwd__
        return compiled


def jvp_form(fn, active_params):
    """The compiled jvp form of a user function for the given active parameter names (cached)."""
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


# ---------------------------------------------------------------------- cache


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
    target = fn.__func__ if inspect.ismethod(fn) else fn
    try:
        per_fn = _cache.get(target)
    except TypeError:
        per_fn = None
    key = (wrt, mode, optimize_code, registry.version(), getattr(target, "__code__", None),
           _closure_key(target), type(fn.__self__) if inspect.ismethod(fn) else None, backend)
    compiled = per_fn.get(key) if per_fn is not None else None
    if compiled is None:
        with _lock:
            per_fn = _cache.get(target) if _weakable(target) else None
            compiled = per_fn.get(key) if per_fn is not None else None
            if compiled is None:
                compiled = transform(fn, wrt, mode, optimize_code, backend)
                if _weakable(target):
                    _cache.setdefault(target, {})[key] = compiled
    if inspect.ismethod(fn):
        import types

        return types.MethodType(compiled, fn.__self__)
    return compiled


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
        f"wrt={item!r} is not a parameter the partial {fn!r} leaves open; "
        f"they are {', '.join(sig.parameters) or 'none'}"))
    compiled = _get(fn.func, names[0] if single else tuple(names), mode, optimize_code, backend)
    out = functools.partial(compiled, *fn.args, **fn.keywords)
    out.__dict__.update(getattr(compiled, "__dict__", {}))
    return out


def _weakable(obj):
    try:
        weakref.ref(obj)
        return True
    except TypeError:
        return False


def _closure_key(fn):
    cells = getattr(fn, "__closure__", None)
    if not cells:
        return ()
    out = []
    for cell in cells:
        try:
            out.append(id(cell.cell_contents))
        except ValueError:
            out.append(None)
    return tuple(out)


# ---------------------------------------------------------------------- the pipeline


@dataclass(frozen=True)
class Front:
    """What the front end makes of the user's function: the parsed (and fenced) function, the
    parameters differentiated, the normalized FunctionDef with its alias checks, and the names
    generated code uses (taken local names, and the globals it binds)."""

    parsed: Parsed
    wrt_names: list
    single: bool
    norm: gast.FunctionDef
    names: Names
    globals_: GlobalNames


@dataclass(frozen=True)
class Pieces:
    """A reverse-mode function's parts, in the order its body puts them: the head (argument
    checks, copies, the stack), the primal sweep, the seed with the adjoints' zero inits, the
    adjoint sweep; and the expressions of the gradients and of the value returned."""

    head: list
    primal: list
    seed: list
    adjoint: list
    grads: list
    value: gast.expr


def transform(fn, wrt, mode, optimize_code=True, backend="numpy"):
    """Run the pipeline for ``fn``; returns the compiled generated function.

    ``mode`` is "grad", "value_and_grad" or "vjp" (the form used for calls between user functions:
    it returns the value and a closure that maps the output's gradient to the wrt gradients).

    The stages, in order (``SOURCEDIFF_DUMP`` prints their output, see ``dump.py``)::

        front end: parse, fence, wrt, normalize, alias checks  -> Front
        Forward(...) / Reverse(...): resolve, activity          -> ops and active names
        .build(): the forward body, or the two sweeps           -> list / reverse.Sweeps
        _pieces: head, seed, gradients around the sweeps       -> Pieces
        optimize, emit, compile                                -> the generated function
    """
    front = _front_end(fn, wrt, mode)
    if mode in ("jvp", "jvp_form"):  # (jvp_form: a helper's, called from generated code)
        return _transform_forward(front, optimize_code,
                                  final="grad_tree" if mode == "jvp_form" else "grad_like",
                                  backend=backend)
    parsed, names, globals_, norm = front.parsed, front.names, front.globals_, front.norm
    wrt_names, single = front.wrt_names, front.single
    bound_self = inspect.ismethod(fn)
    params = _param_names(parsed.node)
    rev = Reverse(parsed, norm, names, wrt_names, globals_)
    dump("activity", parsed, f"# active: {', '.join(sorted(rev.active))}")
    sweeps = rev.build()
    pieces = _pieces(parsed, rev, sweeps, wrt_names, mode)
    head, primal, seed, adjoint, grads, value = (pieces.head, pieces.primal, pieces.seed,
                                                 pieces.adjoint, pieces.grads, pieces.value)
    removable = set(names.taken) - all_names(parsed.node) - rev.effect_targets()
    bar_names = {v for k, v in rev.bars.items() if isinstance(k, str)}
    qual = parsed.fn.__qualname__
    where = f"{qual} ({parsed.filename_short}:{parsed.user_line(parsed.node)})"
    args = _bound_defaults(parsed, copy.deepcopy(norm.args), globals_)
    cotangent = None
    if mode == "split":
        return _split(front, rev, args, pieces, bar_names, removable, optimize_code)
    if mode == "vjp":
        cotangent = names.exact("out_bar")
        seed_value = [assign(rev.bar(rev.result.id), load(cotangent))] if _active_result(rev) else []
        body = head + primal + seed + seed_value + adjoint + [located(gast.Return(
            value=gast.Tuple(elts=grads, ctx=gast.Load())), rev.ret_stmt)]
        args.kwonlyargs = list(args.kwonlyargs) + [gast.Name(id=cotangent, ctx=gast.Param(),
                                                             annotation=None, type_comment=None)]
        args.kw_defaults = list(args.kw_defaults) + [None]
        name = f"bwd_{parsed.node.name}"
        _dump_body("reverse", parsed, name, args, body)
        if optimize_code:
            body = optimize(body, bar_names, removable, set(), _where_names(globals_),
                            fresh=names.fresh)
        doc = (f"Gradients of {', '.join(wrt_names) or 'nothing'} for {where}, given the gradient "
               f"{cotangent} of its output. Generated by sourcediff.")
    else:
        out = grads[0] if single else gast.Tuple(elts=grads, ctx=gast.Load())
        if mode == "value_and_grad":
            out = gast.Tuple(elts=[value, out], ctx=gast.Load())
        body = head + primal + seed + adjoint + [located(gast.Return(value=out), rev.ret_stmt)]
        name = f"{mode}_{parsed.node.name}"
        _dump_body("reverse", parsed, name, args, body)
        if optimize_code:
            body = optimize(body, bar_names, removable, set(), _where_names(globals_),
                            fresh=names.fresh)
        doc = (f"{'Gradient' if mode == 'grad' else 'Value and gradient'} of {where} with respect "
               f"to {', '.join(wrt_names)}. Generated by sourcediff.")
    fdef = gast.FunctionDef(name=name, args=args, body=body,
                            decorator_list=[], returns=None, type_comment=None, type_params=[])
    fdef.body.insert(0, gast.Expr(value=const(doc)))
    emitted = emit(fdef)
    dump("optimize", parsed, emitted.source)
    spec = None
    if optimize_code and mode in ("grad", "value_and_grad") and _SPECIALIZE != "0":
        runtime_name = rev.globals.name("_sd", runtime)
        # (names the optimizer made count as compiler-made too: the adjoint loops' counters)
        removable = set(names.taken) - all_names(parsed.node) - rev.effect_targets()
        spec = _Specializations(parsed, fdef, name, globals_, rev, _positional(fdef),
                                removable, _where_names(globals_), {runtime_name},
                                sweeps.pushed_old - set(_param_names(parsed.node)))
        if not bound_self and len(wrt_names) == 1:
            spec.forward = (fn, wrt_names[0], params.index(wrt_names[0]), mode, single)
        spec.backend = backend
    fn = _compile(parsed, emitted, name, globals_, rev, spec,
                  distinct=mode in ("grad", "value_and_grad"))
    fn.__sourcediff_cotangent_name__ = cotangent
    return fn


def _front_end(fn, wrt, mode):
    """The front end's stages: parse, fence, the wrt parameters, normalize, alias checks."""
    parsed = fence(parse_function(fn))
    dump("parse", parsed, parsed.node)
    params = _param_names(parsed.node)
    if mode in ("vjp", "jvp", "jvp_form", "split") and isinstance(wrt, (tuple, list)) \
            and all(isinstance(w, str) for w in wrt):
        wrt_names, single = list(wrt), False
    else:
        wrt_names, single = _wrt_names(parsed, params, wrt,
                                       skip=1 if inspect.ismethod(fn) else 0)
    names = Names(all_names(parsed.node) | {parsed.node.name})
    norm = normalize(parsed, names)
    dump("normalize", parsed, norm)
    globals_ = GlobalNames(names, functools.partial(_user_lookup, parsed))
    norm = forward_attributes(parsed, norm, globals_.name("_sd", runtime), _locals(norm))
    norm = alias_checks(parsed, norm, globals_.name("_sd", runtime))
    dump("alias", parsed, norm)
    return Front(parsed, wrt_names, single, norm, names, globals_)


def _split(front, rev, args, pieces, bar_names, removable, optimize_code):
    """The forward form (runs the primal, returns the value and what the adjoint reads) and the
    backward form (takes that and the output's gradient) of one function, compiled together."""
    parsed, names, globals_, wrt_names = front.parsed, front.names, front.globals_, front.wrt_names
    head, primal, seed, adjoint, grads, value = (pieces.head, pieces.primal, pieces.seed,
                                                 pieces.adjoint, pieces.grads, pieces.value)
    where = f"{parsed.fn.__qualname__} ({parsed.filename_short}:{parsed.user_line(parsed.node)})"
    cotangent = names.exact("out_bar")
    state = names.exact("saved")
    seed_value = [assign(rev.bar(rev.result.id), load(cotangent))] if _active_result(rev) else []
    backward = seed + seed_value + adjoint
    reads = set()
    for st in backward + grads:
        reads |= _loads(st)
    written = set(_param_names(parsed.node))
    for st in head + primal:
        written |= _stored(st)
    kept = sorted(reads & written)
    saved = gast.Tuple(elts=[load(n) for n in kept], ctx=gast.Load())
    # (a name bound on one branch only is saved as None when the other branch ran)
    params = set(_param_names(parsed.node))
    unbound = [assign(n, const(None)) for n in kept if n not in params]
    fwd_body = unbound + head + primal + [located(gast.Return(value=gast.Tuple(
        elts=[value, saved], ctx=gast.Load())), rev.ret_stmt)]
    unpack = [gast.Assign(targets=[gast.Tuple(elts=[store(n) for n in kept], ctx=gast.Store())],
                          value=load(state), type_comment=None)] if kept else []
    bwd_body = unpack + backward + [located(gast.Return(
        value=gast.Tuple(elts=grads, ctx=gast.Load())), rev.ret_stmt)]
    _dump_body("reverse", parsed, f"fwd_{parsed.node.name}", args, fwd_body)
    _dump_body("reverse", parsed, f"bwd_{parsed.node.name}", None, bwd_body)
    if optimize_code:
        fwd_body = optimize(fwd_body, set(), removable, set(), _where_names(globals_))
        bwd_body = optimize(bwd_body, bar_names, removable, set(), _where_names(globals_),
                            fresh=names.fresh)
    fwd_doc = (f"Value of {where} and what its gradient with respect to "
               f"{', '.join(wrt_names) or 'nothing'} needs. Generated by sourcediff.")
    bwd_doc = (f"Gradients of {', '.join(wrt_names) or 'nothing'} for {where}, from what the "
               f"forward form saved and the gradient {cotangent} of its output. Generated by "
               f"sourcediff.")
    bwd_args = gast.arguments(
        args=[gast.Name(id=state, ctx=gast.Param(), annotation=None, type_comment=None)],
        posonlyargs=[], vararg=None, kwonlyargs=[gast.Name(id=cotangent, ctx=gast.Param(),
                                                           annotation=None, type_comment=None)],
        kw_defaults=[None], kwarg=None, defaults=[])
    made = []
    for name, fargs, body, doc in ((f"fwd_{parsed.node.name}", args, fwd_body, fwd_doc),
                                   (f"bwd_{parsed.node.name}", bwd_args, bwd_body, bwd_doc)):
        fdef = gast.FunctionDef(name=name, args=fargs, body=[gast.Expr(value=const(doc))] + body,
                                decorator_list=[], returns=None, type_comment=None, type_params=[])
        emitted = emit(fdef)
        dump("optimize", parsed, emitted.source)
        made.append(_compile(parsed, emitted, name, globals_, rev))
        # (what the specializer of a caller reads to follow the shapes through this call)
        made[-1].__sourcediff_fdef__ = (fdef, rev.stack)
    fwd, bwd = made
    bwd.__sourcediff_cotangent_name__ = cotangent
    fwd.__sourcediff_bwd__ = bwd
    return fwd


def _dump_body(stage, parsed, name, args, body):
    """``SOURCEDIFF_DUMP``: the naive generated function (before the optimizer) of ``stage``."""
    if wanted(stage):
        dump(stage, parsed, gast.FunctionDef(
            name=name, args=args if args is not None else parsed.node.args, body=body,
            decorator_list=[], returns=None, type_comment=None, type_params=[]))


def _bound_defaults(parsed, args, globals_):
    """The parameters with their default values bound as objects (``k=scale`` with ``scale`` a
    local of the function that made ``fn`` is a name the generated code cannot see)."""
    fn = parsed.fn
    values = getattr(fn, "__defaults__", None) or ()
    if len(values) == len(args.defaults):
        first = len(args.args) - len(values)
        args.defaults = [_default_name(globals_, args.args[first + i].id, v)
                         for i, v in enumerate(values)]
    kw = getattr(fn, "__kwdefaults__", None) or {}
    args.kw_defaults = [None if d is None or a.id not in kw else
                        _default_name(globals_, a.id, kw[a.id])
                        for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    return args


def _default_name(globals_, param, value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return const(value)
    return load(globals_.name(f"{param}_default", value))


def _transform_forward(front, optimize_code, final="grad_like", backend="numpy"):
    """The jvp form: the function's parameters plus keyword-only tangents; returns (out, out_dot).
    ``final`` shapes out_dot: as the user's output (grad_like), or for generated code that adds
    it to others (grad_tree: a container's tangent adds entrywise)."""
    parsed, norm, names, globals_, wrt_names = (front.parsed, front.norm, front.names,
                                                front.globals_, front.wrt_names)
    fwd = Forward(parsed, norm, names, wrt_names, globals_)
    dump("activity", parsed, f"# active: {', '.join(sorted(fwd.active))}")
    body = fwd.build()
    head = [assign(p, call(fwd.rt("copy"), [load(p)])) for p in _mutated_params(fwd)]
    for p in _param_names(parsed.node):  # a parameter that becomes active later starts at zero
        if p in fwd.active and p not in wrt_names:
            head.append(assign(fwd.dot(p), call(fwd.rt("zeros_like_grad"), [load(p)])))
    result = fwd.result
    removable = set(names.taken) - all_names(parsed.node) - fwd.effect_targets()
    out_dot = load(fwd.dot(result.id)) if _active_result(fwd) else const(0.0)
    ret = located(gast.Return(value=gast.Tuple(
        elts=[result, call(fwd.rt(final), [out_dot, result])], ctx=gast.Load())),
        fwd.ret_stmt)
    body = head + body + [ret]
    _dump_body("forward", parsed, f"jvp_{parsed.node.name}", None, body)
    if optimize_code:
        body = optimize(body, set(), removable, set(), _where_names(globals_), inline=True)
    tangent_names = {p: fwd.dot(p) for p in wrt_names}
    args = _bound_defaults(parsed, copy.deepcopy(norm.args), globals_)
    args.kwonlyargs = list(args.kwonlyargs) + [store(tangent_names[p]) for p in wrt_names]
    for a in args.kwonlyargs[-len(wrt_names):] if wrt_names else []:
        a.ctx = gast.Param()
    args.kw_defaults = list(args.kw_defaults) + [None] * len(wrt_names)
    name = f"jvp_{parsed.node.name}"
    doc = (f"Value and tangent of {parsed.fn.__qualname__} ({parsed.filename_short}:"
           f"{parsed.user_line(parsed.node)}) for tangents of {', '.join(wrt_names) or 'nothing'}. "
           f"Generated by sourcediff.")
    fdef = gast.FunctionDef(name=name, args=args, body=[gast.Expr(value=const(doc))] + body,
                            decorator_list=[], returns=None, type_comment=None, type_params=[])
    spec = None
    if optimize_code and _SPECIALIZE != "0":
        spec = _Specializations(parsed, fdef, name, globals_, fwd, _positional(fdef), removable,
                                _where_names(globals_), {fwd.globals.name("_sd", runtime)}, ())
        spec.backend = backend
    emitted = emit(fdef)
    dump("optimize", parsed, emitted.source)
    fn = _compile(parsed, emitted, name, globals_, fwd, spec)
    fn.__sourcediff_tangent_names__ = tangent_names
    fn.__sourcediff_wrt__ = list(wrt_names)
    return fn


def _where_names(globals_):
    """How generated code spells ``numpy.where`` (for constant folding)."""
    import numpy

    name = globals_.by_id.get(id(numpy))
    if name is None:
        return frozenset()
    node = gast.Attribute(value=load(name), attr="where", ctx=gast.Load())
    return frozenset({gast.dump(node)})


def _active_result(rev):
    return isinstance(rev.result, gast.Name) and rev.result.id in rev.active


def _pieces(parsed, rev, sweeps, wrt_names, mode):
    """The :class:`Pieces` of a reverse-mode function around its :class:`~reverse.Sweeps`."""
    primal, adjoint = sweeps.primal, sweeps.adjoint
    head = []
    qual = parsed.fn.__qualname__
    if mode not in ("vjp", "split"):
        defined = f"{qual} ({parsed.filename_short}:{parsed.user_line(parsed.node)})"
        for p in wrt_names:
            head.append(gast.Expr(value=call(rev.rt("check_wrt"), [load(p), const(p),
                                                                   const(defined)])))
    for p in _mutated_params(rev):
        head.append(assign(p, call(rev.rt("copy"), [load(p)])))
    for name in sorted(sweeps.pushed_old - set(_param_names(parsed.node))):
        head.append(assign(name, const(None)))
    if rev.stack is not None:
        head.append(assign(rev.stack, gast.List(elts=[], ctx=gast.Load())))
    result = rev.result
    where = f"{qual} ({parsed.filename_short}:{parsed.user_line(rev.ret_stmt)})"
    seed = []
    checked = mode in ("grad", "value_and_grad") and not _surely_scalar(rev, result)
    if checked and not _active_result(rev):
        seed.append(located(gast.Expr(value=call(rev.rt("check_scalar"), [result, const(where)])),
                            rev.ret_stmt))
    value = result
    if mode != "grad" and isinstance(result, gast.Name) and result.id in sweeps.pushed_old:
        # the adjoint sweep restores overwritten variables, so keep the value aside
        value = load(rev.names.fresh("value"))
        primal = primal + [assign(value.id, result)]
    active = _active_result(rev)
    inits = [assign(rev.bar(n), const(0.0)) for n in sorted(rev.active)
             if not (active and n == result.id)]
    if active:
        seed.append(rev.grad_comment(rev.ret_stmt))
        if checked:  # (1.0 for a scalar, ones for an array of one element; else refused)
            seed.append(located(assign(rev.bar(result.id), call(rev.rt("output_seed"), [
                result, const(where)])), rev.ret_stmt))
        elif mode not in ("vjp", "split"):
            seed.append(assign(rev.bar(result.id), const(1.0)))
    grads = []
    final = "grad_tree" if mode in ("vjp", "split") else "grad_like"  # (see runtime.grad_tree)
    for p in wrt_names:
        if p in rev.active:
            grads.append(call(rev.rt(final), [load(rev.bar(p)), load(p)]))
        elif final == "grad_tree":  # (a container's zero that adds entrywise, as grad_tree's)
            grads.append(call(rev.rt("grad_tree"), [const(0.0), load(p)]))
        else:
            grads.append(call(rev.rt("zeros_like_grad"), [load(p)]))
    return Pieces(head, primal, seed + inits, adjoint, grads, value)


def _surely_scalar(rev, result):
    """True when the result is a numpy reduction over all axes (it cannot be an array), so the
    output check (and, for grad, the value itself) can be left out."""
    if not isinstance(result, gast.Name):
        return False
    ops = [rev.ops.get(id(s)) for s in rev.body
           if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
           and s.targets[0].id == result.id]
    if len(ops) != 1 or ops[0] is None or ops[0].kind != "rule":
        return False
    op = ops[0]
    module = getattr(op.key, "__module__", "") or ""
    positional_axis = len(op.args) > 1
    return (getattr(op.key, "__name__", "") in FULL_REDUCTIONS and "axis" not in op.keywords
            and not positional_axis and "keepdims" not in op.keywords
            and (module.startswith("numpy") or op.name.startswith(".")))


def _mutated_params(rev):
    """Parameters that a subscript assignment could write into (they are copied on entry)."""
    params = set(rev.params)
    roots = {}
    for target, source in rev.aliases:
        roots.setdefault(target, set()).add(source)
    out = set()
    for t in rev.setitem_targets:
        seen, todo = set(), [t]
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            todo.extend(roots.get(n, ()))
        out |= seen & params
    return sorted(out)


def _user_lookup(parsed, name):
    if name in parsed.env:
        return parsed.env[name]
    g = parsed.fn.__globals__
    if name in g:
        return g[name]
    return getattr(builtins, name, _MISSING)


def _positional(fdef):
    a = fdef.args
    return [p.id for p in list(getattr(a, "posonlyargs", [])) + list(a.args)]


def _param_names(fdef):
    a = fdef.args
    star = [a.vararg.id] if a.vararg is not None else []  # (by name: the tuple of the rest)
    return [p.id for p in list(getattr(a, "posonlyargs", [])) + list(a.args) + list(a.kwonlyargs)
            ] + star


def resolve_wrt(wrt, params, names, refuse):
    """The parameters ``wrt`` means: ``(their names, single)``, ``single`` when ``wrt`` is one
    entry rather than a tuple or list. An entry is an index into ``params`` (negative counts from
    the end) or a name in ``names``. For an entry that is neither, ``refuse(item, problem)``
    gives the exception raised, ``problem`` being "type" (not an int or a str; a bool is no
    index), "index" (out of range) or "name" (no such parameter): each caller words its own."""
    single = not isinstance(wrt, (tuple, list))
    out = []
    for item in [wrt] if single else wrt:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise refuse(item, "type")
        if isinstance(item, int):
            if not -len(params) <= item < len(params):
                raise refuse(item, "index")
            out.append(params[item])
        else:
            if item not in names:
                raise refuse(item, "name")
            out.append(item)
    return out, single


def _wrt_names(parsed, params, wrt, skip=0):
    if isinstance(wrt, (tuple, list)) and not wrt:
        raise WrtError(f"wrt is empty for {parsed.fn.__qualname__}; name at least one parameter")
    usable = params[skip:]

    def refuse(item, problem):
        if problem == "type":
            return WrtError(f"wrt entries must be parameter indices or names, not {item!r}")
        if problem == "index":
            return WrtError(
                f"wrt={item} but {parsed.fn.__qualname__} ({parsed.where(parsed.node)}) has "
                f"{len(usable)} parameter(s): {', '.join(usable) or 'none'}")
        return WrtError(f"wrt={item!r} is not a parameter of {parsed.fn.__qualname__} "
                        f"({parsed.where(parsed.node)}); its parameters are {', '.join(usable)}")

    out, single = resolve_wrt(wrt, usable, usable, refuse)
    if len(set(out)) != len(out):
        raise WrtError(f"wrt={wrt!r} names a parameter of {parsed.fn.__qualname__} "
                       f"({parsed.where(parsed.node)}) twice; name each parameter once")
    return out, single


_counter = [0]


def _compile(parsed, emitted, name, globals_, rev, spec=None, distinct=False):
    """Compile generated source (behind the error-relocating entry wrapper)."""
    fn = _compile_raw(parsed, emitted, name, globals_)
    resolver = getattr(rev, "resolver", None)
    entry = _entry(fn, spec, distinct, parsed.fn.__globals__,
                   tuple(resolver.resolved.items()) if resolver is not None else ())
    entry.__sourcediff_source__ = emitted.source
    if spec is not None:
        spec.generic = fn
        entry.__sourcediff_specializations__ = spec
        if spec.backend != "numpy":
            entry.jit_log = spec.jit_log
    return entry


def _free_names(parsed, globals_):
    free = dict(globals_.bound)
    for var, value in parsed.env.items():
        free.setdefault(var, value)
    return free


def _compile_raw(parsed, emitted, name, globals_, extra=None):
    """Compile generated source (an :class:`~sourcediff.emit.Emitted`) inside a factory whose
    parameters bind the helper objects (and ``extra``, name -> object); its line table goes to
    ``GENERATED_LINES`` under the file name it is compiled as (as its text goes to linecache)."""
    text = emitted.source
    free = _free_names(parsed, globals_)
    if extra:
        free.update(extra)
    params = sorted(free)
    body = "\n".join("    " + line if line else line for line in text.splitlines())
    module_text = f"def __sourcediff_factory__({', '.join(params)}):\n{body}\n    return {name}\n"
    with _lock:
        _counter[0] += 1
        filename = (f"<sourcediff {name} of {parsed.filename_short}:"
                    f"{parsed.user_line(parsed.node)} #{_counter[0]}>")
    code = builtins.compile(module_text, filename, "exec")
    linecache.cache[filename] = (len(module_text), None, module_text.splitlines(True), filename)
    namespace = {}
    exec(code, parsed.fn.__globals__, namespace)
    fn = namespace["__sourcediff_factory__"](*[free[p] for p in params])
    fn.__qualname__ = name
    fn.__sourcediff_source__ = text
    # (the factory's def line comes first: the function's line k is the module's k + 1)
    GENERATED_LINES[filename] = LineTable.of(emitted, 1)
    return fn


_SPECIALIZE = os.environ.get("SOURCEDIFF_SPECIALIZE", "1")  # "0": off, "strict": errors surface
_MAX_SIGNATURES = 32


class _Specializations:
    """The generated function specialized per call signature (argument types, shapes, dtypes)."""

    def __init__(self, parsed, fdef, name, globals_, rev, params, removable, where_names,
                 runtime_names, placeholders):
        self.parsed, self.fdef, self.name, self.globals_ = parsed, fdef, name, globals_
        self.params, self.removable, self.where_names = params, removable, where_names
        self.runtime_names, self.stack = runtime_names, rev.stack
        self.placeholders = frozenset(placeholders)
        self.table = {}
        self.misses = 0
        self.generic = None
        self.lock = threading.Lock()
        # (user function, wrt name, its position, mode, single) of a gradient with one wrt
        # argument: for a Python float there, forward mode is the faster way (see _build)
        self.forward = None
        self.backend = "numpy"  # or "numba": each signature's code compiled (sourcediff/jit.py)
        self.jit_log = []  # one record per signature the backend compiled or could not
        self.jit_warned = False
        self.where = f"{parsed.fn.__qualname__} ({parsed.filename_short}:" \
                     f"{parsed.user_line(parsed.node)})"

    def lookup(self, args, keywords=None):
        self.misses += 1  # calls the entry's own key did not find (tests/test_specialize.py)
        key = specialize.signature(args)
        if keywords:
            key += tuple(sorted((k, specialize.signature((v,))) for k, v in keywords.items()))
        fn = self.table.get(key)
        if fn is not None:
            return fn
        with self.lock:
            fn = self.table.get(key)
            if fn is None:
                fn = self._build(args, keywords)
                if len(self.table) < _MAX_SIGNATURES:
                    self.table[key] = fn
        return fn

    def _build(self, args, keywords):
        try:
            forward = self._forward(args)
            if forward is not None:
                return forward
            namespace = dict(vars(builtins))
            namespace.update(self.parsed.fn.__globals__)
            namespace.update(_free_names(self.parsed, self.globals_))
            fdef = specialize.specialize(
                self.fdef, self.params, args, namespace=namespace, stack_name=self.stack,
                removable=self.removable, where_names=self.where_names,
                runtime_names=self.runtime_names, placeholders=self.placeholders,
                keywords=keywords, bind=self.globals_.name, batch_rows=self.backend == "numpy")
            if lazy.any_lazy(args, keywords):  # (dask arguments: sourcediff/lazy.py)
                numpy_names = {k for k, v in namespace.items() if v is np}
                fdef = lazy.rewrite(fdef or self.fdef, next(iter(self.runtime_names)),
                                    numpy_names) or fdef
            if lazy.any_lazy(args, keywords) or self.backend == "numpy":
                if fdef is None:
                    return self.generic
                return _compile_raw(self.parsed, emit(fdef), self.name, self.globals_)
            from . import jit

            numpy_fn = self.generic if fdef is None else \
                _compile_raw(self.parsed, emit(fdef), self.name, self.globals_)
            return jit.build(self, fdef or self.fdef, numpy_fn, args, keywords or {})
        except Exception:
            if _SPECIALIZE == "strict":
                raise
            return self.generic  # the generic code is always right; only speed is lost

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
        dispatcher = getattr(target, "__sourcediff_dispatcher__", None)
        if dispatcher is not None:  # (compiled: the tangent is its last positional parameter)
            def seeded(*args):
                return dispatcher(*args, 1.0)
        else:
            seeded = functools.partial(target, **{tangent: 1.0})
        check_scalar = runtime.check_scalar
        numpy_float = np.float64

        def forward(*args):
            out, out_dot = seeded(*args)
            if type(out) is not float and type(out) is not numpy_float:
                check_scalar(out, where)
            grad = out_dot if single else (out_dot,)
            return grad if mode == "grad" else (out, grad)

        forward.__sourcediff_source__ = getattr(target, "__sourcediff_source__", None)
        return forward


def _entry(fn, spec=None, distinct=False, scope=None, resolved=()):
    """``fn`` behind a thin wrapper that turns an error raised inside generated code into the same
    kind of error (also a SourcediffError) that names the user's line it comes from, and that runs
    the version specialized for the arguments' signature when there is one."""
    # every call pays for this: the signature key is built inline (as specialize.signature
    # builds it), and a call without keywords passes none on
    table, lookup, ndarray = (spec.table, spec.lookup, np.ndarray) if spec is not None else \
        (None, None, None)
    namespace = {"fn": fn, "table": table, "lookup": lookup, "ndarray": ndarray,
                 "dict_key": specialize.dict_key, "SourcediffError": SourcediffError,
                 "_relocated": _relocated, "own": runtime.own_arrays if distinct else None,
                 "resolved": tuple(resolved), "scope": scope, "_rebound": _rebound,
                 "_REBOUND": _REBOUND}
    source = _entry_source(getattr(getattr(fn, "__code__", None), "co_argcount", 0), distinct,
                           bool(resolved))
    exec(compile(source, "<sourcediff entry>", "exec"), namespace)  # (a frame of sourcediff's)
    entry = functools.wraps(fn)(namespace["entry"])
    entry.__sourcediff_same_as_wrapped__ = True  # (parse follows __wrapped__ to the generated fn)
    return entry


_REBOUND = object()


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


def _entry_source(n, distinct=False, checks=False):
    """The source of the entry wrapper for a function of ``n`` positional parameters: a call
    with ``n`` arrays builds its signature key (as specialize.signature builds it) in one tuple
    display, other calls by the loop over the arguments (measured at 6 arrays: about 1 us less
    per call). ``checks``: the functions resolved by global name are checked first (ACT = np.sin
    after the gradient was built for np.tanh); ``distinct``: result arrays that share memory are
    copied apart (runtime.own_arrays)."""
    out = "own(out)" if distinct else "out"
    fast = ""
    if 1 <= n <= 16:
        names = [f"a{k}" for k in range(n)]
        fast = f"""
        if len(args) == {n}:
            {", ".join(names)}, = args
            if {" and ".join(f"type({a}) is ndarray" for a in names)}:
                out = (table.get(({", ".join(f"{a}.shape, {a}.dtype" for a in names)},)) or
                       lookup(args))(*args)
                return {out}"""
    check = """
    for name, obj in resolved:
        if scope.get(name, _REBOUND) is not obj:
            _rebound(fn, name, obj, scope.get(name, _REBOUND))""" if checks else ""
    return f"""
def entry(*args, **kwargs):{check}
    try:
        if kwargs or table is None:
            out = fn(*args, **kwargs)
            return {out}{fast}
        key = []
        for a in args:
            if type(a) is ndarray:
                key.append(a.shape)
                key.append(a.dtype)
            elif type(a) is dict:
                key.append(dict)
                key.append(dict_key(a))
            else:
                key.append(type(a))
        out = (table.get(tuple(key)) or lookup(args))(*args)
        return {out}
    except SourcediffError:
        raise
    except Exception as exc:
        located = _relocated(exc)
        if located is None:
            raise
        raise located from exc
"""


_located_classes = {}


def _relocated(exc):
    tb, where = exc.__traceback__, None
    while tb is not None:
        table = GENERATED_LINES.get(tb.tb_frame.f_code.co_filename)
        if table is not None and tb.tb_lineno in table.lines:
            where = (table.lines[tb.tb_lineno], tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    if where is None:
        return None
    cls = type(exc)
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
                           f"{filename}:{lineno}; print sourcediff.source(...) to read it)")
    except TypeError:
        return None


# The runtime sits below the compiler and imports none of it: what it needs from here at run time
# (compiling a callable met only then, a rule sliced to its active arguments, the user's line of
# generated code) it reads through runtime.hooks, filled in here.
runtime.hooks.split_form, runtime.hooks.jvp_form = split_form, jvp_form
runtime.hooks.sliced_rule = sliced_rule
runtime.hooks.generated_line, runtime.hooks.outermost = _generated_line, outermost
