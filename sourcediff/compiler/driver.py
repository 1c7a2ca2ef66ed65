"""The driver: the compiler's stages in order, from a user function to generated source.

:func:`build` is the whole pipeline; each stage's output is what the next one reads::

    parse, fence              parse.parse_function, fence.fence        -> Parsed
    wrt                       _wrt_names                               -> the parameters differentiated
    normalize                 normalize.normalize                      -> one operation per statement
    forwarding, alias checks  forwarding.forward_attributes,
                              alias.alias_checks                       -> Front
    resolve, activity         Reverse(...) / Forward(...)              -> ops, active names
    sweeps                    Reverse.build() / Forward.build()        -> reverse.Sweeps / a body
    pieces                    _pieces                                  -> Pieces
    optimize, emit            optimize.optimize, emit.emit             -> Built (source, line table)

``SOURCEDIFF_DUMP=parse,normalize,alias,activity,reverse,forward,optimize`` prints a stage's output
(``dump.py``). Compiling a :class:`Built` into a function (``loader.py``), caching it and
specializing it per call signature is ``sourcediff/compiled.py``'s business.
"""

import builtins
import functools
import inspect
import warnings
from dataclasses import dataclass

import gast

from .. import runtime
from ..errors import SourcediffSyntaxError, SourcediffWarning, WrtError
from ..runtime.dynamic import code_signature
from ..syntax import clone, walk
from .alias import (
    _stored,
    alias_checks,
    item_mutated_params,
    maybe_item_params,
    mutated_params,
)
from .analysis import _locals
from .contexts import QUIET_NAME, quiet_lines
from .dump import dump, wanted
from .emit import emit
from .fence import fence, yields_as_list
from .forward import Forward
from .forwarding import forward_attributes
from .inline import inline_state_methods
from .naming import GlobalNames, Names
from .modules import module_names
from .normalize import all_names, assign, call, const, load, located, normalize, store
from .optimize import _loads, optimize
from .parse import Parsed, parse_function
from .reverse import Reverse
from .saves import stand_in, stand_in_pushes, type_only_names

_MISSING = object()


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


@dataclass(frozen=True)
class Plan:
    """What the specializer needs to make a version of a generated function for one call
    signature (``compiled._Specializations``): its positional parameters, the names it may drop,
    how it spells ``np.where`` and the runtime module, the names that stand for values set on
    another path (``None`` placeholders), its stack, for a gradient with one wrt argument
    ``(fn, wrt name, position, mode, single)`` (a Python float there runs forward mode), and
    whether it returns gradients only (``sd.grad``'s: the values of its forward are not seen)."""

    params: list
    removable: set
    where_names: frozenset
    runtime_names: set
    placeholders: frozenset
    stack: object
    forward: object = None
    gradients_only: bool = False


@dataclass(frozen=True)
class Built:
    """A generated function as the pipeline leaves it: its FunctionDef and emitted source (with
    the line table), what compiling it binds (``globals_``), the functions it resolved by global
    name (checked on entry), and what the caller reads off it: the name of a vjp's cotangent
    parameter, a jvp form's tangent parameters, a split form's backward half."""

    parsed: Parsed
    name: str
    fdef: gast.FunctionDef
    emitted: object
    globals_: GlobalNames
    resolved: tuple
    plan: Plan = None
    methods: tuple = ()  # methods resolved in a class: (class, name, attribute, through self)
    module_attributes: tuple = ()  # functions read off a module: (module dict, name, object)
    distinct: bool = False
    cotangent: str = None
    tangent_names: dict = None
    wrt: list = None
    bwd: object = None
    split: bool = False  # a split form's half: the specializer of a caller reads its
    #                      FunctionDef and stack (``stack``) to follow shapes through the call
    stack: str = None


def build(fn, wrt, mode, optimize_code=True):
    """The pipeline for ``fn``, stage by stage; returns a :class:`Built`.

    ``mode`` is "grad", "value_and_grad", "vjp" (value and gradients given the output's gradient),
    "split" (a forward form that returns the value and what the adjoint reads, and a backward
    form: ``Built.bwd``; calls between user functions use it), "jvp" or "jvp_form" (forward mode:
    value and tangent; jvp_form is a helper's, called from generated code)."""
    front = _front_end(fn, wrt, mode)
    if mode == "split":
        # (the backward form's cotangent parameter is named before the body is transformed: a
        # recursive call met there names it in its keyword, see split_cotangent)
        key = (fn, tuple(wrt) if isinstance(wrt, (tuple, list)) else wrt)
        _split_cotangents[key] = front.names.exact("out_bar")
        try:
            return _reverse_pieces(fn, front, mode, optimize_code, _split_cotangents[key])
        finally:
            del _split_cotangents[key]
    if mode in ("jvp", "jvp_form"):
        return _forward_function(front, optimize_code,
                                 final="grad_tree" if mode == "jvp_form" else "grad_like")
    return _reverse_pieces(fn, front, mode, optimize_code)


# (fn, wrt) -> the cotangent parameter of the backward form being built for it
_split_cotangents = {}


def split_cotangent(fn, wrt):
    """The name of the cotangent keyword of ``fn``'s backward form while that form is being built
    (a recursive call reaches it before it exists): ``out_bar``, or a fresh variant when ``fn``
    has a name ``out_bar`` of its own (a generated backward form differentiated again)."""
    return _split_cotangents.get((fn, tuple(wrt)), "out_bar")


def _reverse_pieces(fn, front, mode, optimize_code, cotangent=None):
    """The reverse stage and the function of ``mode`` made from it (see :func:`build`)."""
    rev = Reverse(front.parsed, front.norm, front.names, front.wrt_names, front.globals_)
    dump("activity", front.parsed, f"# active: {', '.join(sorted(rev.active))}")
    sweeps = rev.build()
    pieces = _pieces(front.parsed, rev, sweeps, front.wrt_names, mode)
    if mode == "split":
        return _split(front, rev, pieces, optimize_code, cotangent)
    return _reverse_function(fn, front, rev, sweeps, pieces, mode, optimize_code)


def _reverse_function(fn, front, rev, sweeps, pieces, mode, optimize_code):
    """The grad, value_and_grad or vjp function: head, primal sweep, seed, adjoint sweep and the
    return, optimized and emitted."""
    parsed, names, globals_, norm = front.parsed, front.names, front.globals_, front.norm
    wrt_names, single = front.wrt_names, front.single
    params = _param_names(parsed.node)
    head, primal, seed, adjoint, grads, value = (pieces.head, pieces.primal, pieces.seed,
                                                 pieces.adjoint, pieces.grads, pieces.value)
    removable = set(names.taken) - all_names(parsed.node) - rev.effect_targets()
    bar_names = {v for k, v in rev.bars.items() if isinstance(k, str)}
    where = f"{parsed.fn.__qualname__} ({parsed.filename_short}:{parsed.user_line(parsed.node)})"
    args = _bound_defaults(parsed, clone(norm.args), globals_)
    cotangent = None
    _stand_in_saves(primal, seed + adjoint + grads + ([value] if mode == "value_and_grad" else []),
                    rev.stack, globals_)
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
    plan = None
    if optimize_code and mode in ("grad", "value_and_grad"):
        runtime_name = rev.globals.name("_sd", runtime)
        # (names the optimizer made count as compiler-made too: the adjoint loops' counters)
        removable = set(names.taken) - all_names(parsed.node) - rev.effect_targets()
        forward = None
        if not inspect.ismethod(fn) and len(wrt_names) == 1 and \
                wrt_names[0] in _positional(fdef):  # (not *args: its tuple is no float)
            forward = (fn, wrt_names[0], params.index(wrt_names[0]), mode, single)
        plan = Plan(_positional(fdef), removable, _where_names(globals_), {runtime_name},
                    frozenset(sweeps.pushed_old - set(params)), rev.stack, forward,
                    gradients_only=mode == "grad")
    return Built(parsed, name, fdef, emitted, globals_, _resolved(rev), plan, _methods(rev),
                 _module_attributes(rev), distinct=mode in ("grad", "value_and_grad"),
                 cotangent=cotangent)


def _resolved(stage):
    """The functions ``stage`` (Reverse or Forward) resolved by global name, as (name, object)."""
    resolver = getattr(stage, "resolver", None)
    return tuple(resolver.resolved.items()) if resolver is not None else ()


def _methods(stage):
    """The methods ``stage`` resolved in a class, as (class, name, attribute, through self)."""
    resolver = getattr(stage, "resolver", None)
    return resolver.method_items() if resolver is not None else ()


def _module_attributes(stage):
    """The functions ``stage`` read off a module of the user's, as (the module's dict, name,
    object)."""
    resolver = getattr(stage, "resolver", None)
    return tuple(resolver.module_attributes.values()) if resolver is not None else ()


def _front_end(fn, wrt, mode):
    """The front end's stages: parse, fence, the wrt parameters, normalize, alias checks."""
    parsed = module_names(parse_function(fn))
    if mode in ("split", "jvp_form"):  # (a function called by the one differentiated)
        yields_as_list(parsed)
    parsed = fence(inline_state_methods(parsed))
    parsed.quiet = quiet_lines(parsed)  # (with np.errstate(...): compiler/contexts.py)
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
    if parsed.quiet and globals_.name(QUIET_NAME, runtime.quiet) != QUIET_NAME:
        raise SourcediffSyntaxError(f"{parsed.where(parsed.node)}: the function names {QUIET_NAME}, which "
                       f"sourcediff's code for its with np.errstate(...) blocks calls; rename it")
    norm = forward_attributes(parsed, norm, globals_.name("_sd", runtime), _locals(norm))
    norm = alias_checks(parsed, norm, globals_.name("_sd", runtime))
    dump("alias", parsed, norm)
    return Front(parsed, wrt_names, single, norm, names, globals_)


def _split(front, rev, pieces, optimize_code, cotangent):
    """The forward form (runs the primal, returns the value and what the adjoint reads) and the
    backward form (takes that and the output's gradient) of one function, compiled together."""
    parsed, names, globals_, wrt_names = front.parsed, front.names, front.globals_, front.wrt_names
    removable = set(names.taken) - all_names(parsed.node) - rev.effect_targets()
    bar_names = {v for k, v in rev.bars.items() if isinstance(k, str)}
    args = _bound_defaults(parsed, clone(front.norm.args), globals_)
    head, primal, seed, adjoint, grads, value = (pieces.head, pieces.primal, pieces.seed,
                                                 pieces.adjoint, pieces.grads, pieces.value)
    where = f"{parsed.fn.__qualname__} ({parsed.filename_short}:{parsed.user_line(parsed.node)})"
    state = names.exact("saved")
    seed_value = [assign(rev.bar(rev.result.id), load(cotangent))] if _active_result(rev) else []
    backward = seed + seed_value + adjoint
    reads = set()
    for st in backward + grads:
        reads |= _loads(st)
    written = set(_param_names(parsed.node, with_kwargs=True))
    for st in head + primal:
        written |= _stored(st)
    kept = sorted(reads & written)
    shapes_only = _stand_in_saves(primal, backward + grads, rev.stack, globals_)
    saved = gast.Tuple(elts=[stand_in(n, globals_.name("_sd", runtime)) if n in shapes_only
                             else load(n) for n in kept], ctx=gast.Load())
    # (a name bound on one branch only is saved as None when the other branch ran)
    params = set(_param_names(parsed.node, with_kwargs=True))
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
        made.append((name, fdef, emitted))
    (fwd_name, fwd_fdef, fwd_emitted), (bwd_name, bwd_fdef, bwd_emitted) = made
    bwd = Built(parsed, bwd_name, bwd_fdef, bwd_emitted, globals_, _resolved(rev),
                methods=_methods(rev), module_attributes=_module_attributes(rev),
                cotangent=cotangent, split=True, stack=rev.stack)
    return Built(parsed, fwd_name, fwd_fdef, fwd_emitted, globals_, _resolved(rev), bwd=bwd,
                 methods=_methods(rev), module_attributes=_module_attributes(rev), split=True,
                 stack=rev.stack)


def _stand_in_saves(primal, reading, stack, globals_):
    """Save as a stand-in (``_sd.like_of``) each value the backward sweep's ``reading`` (its
    statements and expressions) reads only for its type, shape and dtype: the forward sweep
    ``primal``'s pushes change in place (compiler/saves.py). Returns those names."""
    only = type_only_names(reading, globals_.bound)
    if only:
        stand_in_pushes(primal, only, stack, globals_.name("_sd", runtime))
    return only


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


def _forward_function(front, optimize_code, final="grad_like"):
    """The jvp form: the function's parameters plus keyword-only tangents; returns (out, out_dot).
    ``final`` shapes out_dot: as the user's output (grad_like), or for generated code that adds
    it to others (grad_tree: a container's tangent adds entrywise)."""
    parsed, norm, names, globals_, wrt_names = (front.parsed, front.norm, front.names,
                                                front.globals_, front.wrt_names)
    fwd = Forward(parsed, norm, names, wrt_names, globals_)
    dump("activity", parsed, f"# active: {', '.join(sorted(fwd.active))}")
    body = fwd.build()
    head = [_param_copy(fwd, parsed, p) for p in _mutated_params(fwd)]
    if final == "grad_like":  # (the user's function, not a helper's form)
        _warn_lost_writes(fwd, parsed, _mutated_params(fwd))
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
    args = _bound_defaults(parsed, clone(norm.args), globals_)
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
    plan = None
    if optimize_code:
        plan = Plan(_positional(fdef), removable, _where_names(globals_),
                    {fwd.globals.name("_sd", runtime)}, frozenset(), fwd.stack)
    emitted = emit(fdef)
    dump("optimize", parsed, emitted.source)
    return Built(parsed, name, fdef, emitted, globals_, _resolved(fwd), plan, _methods(fwd),
                 _module_attributes(fwd), tangent_names=tangent_names, wrt=list(wrt_names))


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
        head.append(_param_copy(rev, parsed, p))
    if mode not in ("vjp", "split"):
        _warn_lost_writes(rev, parsed, _mutated_params(rev))
    given = _given_values(rev, primal, wrt_names, head, mode in ("vjp", "split"))
    for name in sorted(sweeps.pushed_old - set(_param_names(parsed.node))):
        head.append(assign(name, const(None)))
    if rev.stack is not None:
        head.append(assign(rev.stack, gast.List(elts=[], ctx=gast.Load())))
    result = rev.result
    where = f"{qual} ({parsed.filename_short}:{parsed.user_line(rev.ret_stmt)})"
    seed = []
    surely = _surely_scalar(rev, result)
    checked = mode in ("grad", "value_and_grad") and not surely
    if surely and mode in ("grad", "value_and_grad") and isinstance(surely, tuple):
        # (a full reduction is a scalar, but maybe a complex one: check_real reads the
        # operand's dtype, and for a complex one the reduction's result dtype)
        seed.append(located(gast.Expr(value=call(rev.rt("check_real"), [
            load(surely[0].id), const(where), surely[1]])), rev.ret_stmt))
    if checked and not _active_result(rev):
        seed.append(located(gast.Expr(value=call(rev.rt("check_scalar"), [result, const(where)])),
                            rev.ret_stmt))
    value = result
    if mode != "grad" and isinstance(result, gast.Name) and result.id in sweeps.pushed_old:
        # the adjoint sweep restores overwritten variables, so keep the value aside
        value = load(rev.names.fresh("value"))
        primal = primal + [assign(value.id, result)]
    if mode == "split" and sweeps.restored and not parsed.filename.startswith("<"):
        # (what the forward form hands out, has_aux's aux for one, is not what its backward
        # form puts back items into: y[0] = v; return loss, y gave aux without the write)
        # (the stack too: an array a name held before it was rebound in a loop, y = x * k;
        # y[0] = v; out.append(y), is popped back and written into by the backward as well)
        handed = load(rev.names.fresh("handed"))
        restored = [load(n) for n in sorted(sweeps.restored)]
        stack = [load(rev.stack)] if rev.stack is not None else []
        primal = primal + [assign(handed.id, call(rev.rt("handed_out"), [value, gast.Tuple(
            elts=restored, ctx=gast.Load())] + stack))]
        value = handed
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
    if not parsed.filename.startswith("<"):
        # (a list given to the function or returned keeps its appends and pops, as in a plain
        # call: the adjoint sweep undoes them on a copy; a backward form's too, whose forward
        # form may have handed the list out, as has_aux's aux or inside a returned value)
        undone = sweeps.undone_returned | sweeps.undone
        adjoint = [assign(n, call(load("list"), [load(n)])) for n in sorted(undone)] + adjoint
    grads = []
    final = "grad_tree" if mode in ("vjp", "split") else "grad_like"  # (see runtime.grad_tree)
    for p in wrt_names:
        if p in rev.active:
            grads.append(call(rev.rt(final), [load(rev.bar(p)), load(given.get(p, p))]))
        elif final == "grad_tree":  # (a container's zero that adds entrywise, as grad_tree's)
            grads.append(call(rev.rt("grad_tree"), [const(0.0), load(p)]))
        else:
            grads.append(call(rev.rt("zeros_like_grad"), [load(p)]))
    return Pieces(head, primal, seed + inits, adjoint, grads, value)


def _given_values(rev, primal, wrt_names, head, form):
    """{parameter: name}: a wrt parameter that the function assigns (``x = layer(x)`` in a loop)
    is kept as it was given under a name of its own, appended to ``head``: its gradient takes the
    shape and type of the value given, not of whatever the parameter last held (which the
    adjoint restores only where a rule reads it: through a call met at run time, grad_tree of
    the last value summed an array's gradient into a float). In a helper's backward form
    (``form``), a parameter whose slots the function changes (``L.append(f)``, ``L[0] = v``, a
    pop, through a name sharing it) is kept as a copy of its container: grad_tree of the
    list the appends had grown gave the caller a gradient one entry too long, and the caller's
    gradient for what an earlier call had appended was read from the wrong entry (dropped)."""
    reassigned = set()
    for st in primal:
        reassigned |= _stored(st)
    changed = set(rev.setitem_targets) | {obj for obj, _method, _s in rev.mutations} | {
        obj for obj, _values, _s in rev.container_writes}
    given = {}
    for p in wrt_names:
        if p not in rev.active:
            continue
        if form and rev.alias_group(p) & changed:
            given[p] = rev.names.fresh(f"{p}_given")
            head.append(assign(given[p], call(rev.rt("entry_slots"), [load(p)])))
        elif p in reassigned:
            given[p] = rev.names.fresh(f"{p}_given")
            head.append(assign(given[p], load(p)))
    return given


def _surely_scalar(rev, result):
    """(reduced operand, the reduction's function expression) (or True) when the result is a
    numpy reduction over all axes (it cannot be an array), so the output check (and, for grad,
    the value itself) can be left out: check_real checks the operand's dtype instead."""
    if not isinstance(result, gast.Name):
        return False
    stmts = [s for s in rev.body
             if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
             and s.targets[0].id == result.id]
    ops = [rev.ops.get(id(s)) for s in stmts]
    if len(ops) != 1 or ops[0] is None or ops[0].kind != "rule":
        return False
    op = ops[0]
    positional_axis = len(op.args) > 1
    if not (op.rule.full_reduction and "axis" not in op.keywords
            and not positional_axis and "keepdims" not in op.keywords):
        return False
    operand = op.args[0] if op.args else None
    func = stmts[0].value.func if isinstance(stmts[0].value, gast.Call) else None
    if not isinstance(operand, gast.Name) or func is None:
        return True
    return operand, clone(func)


def _param_copy(stage, parsed, p):
    """``p = _sd.copy(p)`` for a parameter the function writes into; with other parameters, a
    copy that first checks none of them shares p's memory (``f(a, a)``: numpy's write would show
    through both)."""
    others = [q for q in _param_names(parsed.node) if q != p]
    if not others:  # (a list's, tuple's or dict's arrays copied too: w = ws[0]; w[0] = v)
        return assign(p, call(stage.rt("copy_held"), [load(p)] + (
            [const("the argument"), const("sourcediff"), const(False)]
            if _writes_slots_only(parsed.fn, p) else [])))
    where = f"{parsed.fn.__qualname__} ({parsed.filename_short}:{parsed.user_line(parsed.node)})"
    args = [load(p), gast.Tuple(elts=[load(q) for q in others], ctx=gast.Load()),
            const(tuple(others)), const(p), const(where)]
    if _writes_slots_only(parsed.fn, p):
        args.append(const(False))
    return assign(p, call(stage.rt("copy_param"), args))


def _writes_slots_only(fn, p):
    """Whether ``fn`` writes into its parameter ``p`` only through the slots of the containers
    it holds (``d[k] = v``, ``ls.append(v)``), never into an array (or object) it holds: then
    ``copy_param`` keeps those arrays. A helper returning ``p`` (``p = put(p, "h", v)``) gives
    the caller its own arrays back, as Python does; with copies, the caller's ``p["W"] *= 2.0``
    afterwards wrote into a copy where Python writes into ``W``, unseen by the alias checks (a
    silent wrong gradient)."""
    try:
        return p in mutated_params(fn) and p not in item_mutated_params(fn) and \
            p not in maybe_item_params(fn)
    except Exception:  # noqa: BLE001  (no analysis: every array copied, as before)
        return False


def _warn_lost_writes(stage, parsed, params):
    """A SourcediffWarning (once: the gradient is compiled once) for each parameter the user's
    function writes into: the gradient call writes into a copy, so the caller's value keeps what
    it held, where a plain call would change it (a dict's running mean, an array's entries)."""
    if parsed.filename.startswith("<"):  # (generated code differentiated again)
        return
    rebound = {n.id for n in walk(parsed.node) if isinstance(n, gast.Name) and
               isinstance(n.ctx, gast.Store)}  # (x = x.copy(); x[0] = v writes into a copy)
    for p in sorted(set(params) - rebound):
        # (a write into the parameter or through a name bound to it, ys = xs; ys[:] = v: one
        # into a value that may share its memory is copied too, but mostly shares nothing,
        # L = [[x[0]]]; L[0][0] = v)
        same = _bound_to(stage, p)
        found = next((st for obj, *_, st in stage.container_writes + stage.writes +
                      stage.mutations if obj in same), None)
        if found is None:
            continue
        line = f"\n    {parsed.line_text(found)}"
        qual = parsed.fn.__qualname__
        warnings.warn_explicit(SourcediffWarning(
            f"{qual} writes into its argument '{p}', and a gradient call runs it on a copy "
            f"of '{p}': the value you pass keeps what it held (a plain call of {qual} changes "
            f"it).{line}\nTo keep the new value, return it with has_aux=True (sd.grad(f, "
            f"has_aux=True) gives (gradient, aux)) or make the update in a plain call"),
            SourcediffWarning, parsed.filename, parsed.user_line(found))
    _warn_helper_writes(stage, parsed, set(_param_names(parsed.node)) - rebound)


def _bound_to(stage, p):
    """``p`` and the names bound, once, to the value it holds or to a part of it that basic
    indexing reads in place (``ys = xs``, ``row = xs[0]``, ``tail = xs[1:]``, through chains of
    such bindings): a write into one of them changes the caller's value in a plain call."""
    same, grew = {p}, True
    while grew:
        grew = False
        for st in walk(gast.Module(body=list(stage.body), type_ignores=[])):
            if not (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)) or \
                    st.targets[0].id in same or stage.assign_counts.get(st.targets[0].id) != 1:
                continue
            value = st.value
            if isinstance(value, gast.Subscript) and _basic_index(value.slice):
                value = value.value
            if isinstance(value, gast.Name) and value.id in same:
                same.add(st.targets[0].id)
                grew = True
    return same


def _basic_index(index):
    """Whether ``index`` is an int constant, a slice of constants, or a tuple of them (numpy's
    basic indexing, which reads a view or the item itself, never a copy)."""
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    return all((isinstance(q, gast.Constant) and isinstance(q.value, int)) or (
        isinstance(q, gast.Slice) and all(b is None or isinstance(b, gast.Constant) for b in
                                          (q.lower, q.upper, q.step))) for q in parts)


def _warn_helper_writes(stage, parsed, params):
    """The warning of :func:`_warn_lost_writes` for a parameter passed on to a helper of the
    user's that writes into it (cs231n's ``batchnorm_forward(x, gamma, beta, bn_param)`` updating
    ``bn_param["running_mean"]``): the helper's gradient form writes into a copy too."""
    warned = set()
    stmts = [n for n in walk(gast.Module(body=list(stage.body), type_ignores=[]))
             if id(n) in stage.ops]
    for st in stmts:
        op = stage.ops[id(st)]
        if op.kind != "user":
            continue
        try:
            bound = code_signature(op.key).bind(*op.args, **op.keywords)
            written = mutated_params(op.key)
        except (TypeError, ValueError):
            continue
        for q, node in bound.arguments.items():
            if q not in written or not isinstance(node, gast.Name) or node.id not in params \
                    or node.id in warned:
                continue
            warned.add(node.id)
            helper = getattr(op.key, "__qualname__", None) or getattr(
                getattr(op.key, "function", None), "__qualname__", "the helper")
            qual = parsed.fn.__qualname__
            warnings.warn_explicit(SourcediffWarning(
                f"{qual} passes its argument '{node.id}' to {helper}, which writes into it "
                f"(its parameter '{q}', at its line {written[q]}), and a gradient call runs "
                f"{helper} on a copy: the value you pass keeps what it held (a plain call "
                f"changes it, the running statistics of a batch norm for example).\n    "
                f"{parsed.line_text(st)}\nTo keep the new value, return it with has_aux=True "
                f"(sd.grad(f, has_aux=True) gives (gradient, aux)) or make the update in a "
                f"plain call"), SourcediffWarning, parsed.filename, parsed.user_line(st))


def _mutated_params(rev):
    """Parameters that an in-place write could reach (they are copied on entry, with the arrays
    they hold): a subscript assignment, a numpy write or an array method into the parameter or
    into a name that may share its memory (a view, an item, ``y.flat``, a popped item)."""
    roots = {}
    for target, source in rev.aliases + rev.shares:
        roots.setdefault(target, set()).add(source)
    out = set()
    for t in rev.written_in_place():
        seen, todo = set(), [t]
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            todo.extend(roots.get(n, ()))
        out |= seen & set(rev.params)
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


def _param_names(fdef, with_kwargs=False):
    """The parameters ``wrt`` counts (``*args`` last, by name: the tuple of the rest), and with
    ``with_kwargs`` the ``**kwargs`` dict after them (a forward form saves what it holds)."""
    a = fdef.args
    star = [a.vararg.id] if a.vararg is not None else []
    star += [a.kwarg.id] if with_kwargs and a.kwarg is not None else []
    return [p.id for p in list(getattr(a, "posonlyargs", [])) + list(a.args) + list(a.kwonlyargs)
            ] + star


def resolve_wrt(wrt, params, names, refuse):
    """The parameters ``wrt`` means: ``(their names, single)``, ``single`` when ``wrt`` is one
    entry rather than a tuple or list. An entry is an index into ``params`` (negative counts from
    the end) or a name in ``names``. For an entry that is neither, ``refuse(item, problem)``
    gives the exception raised, ``problem`` being "type" (not an int or a str; a bool is no
    index), "index" (out of range), "name" (no such parameter) or "twice" (``wrt`` names one
    parameter twice, ``wrt=(0, 0)`` or ``(0, "x")``: refused for every mode; forward mode and
    jacobians gave it two equal derivatives where reverse mode refused it): each caller words its
    own."""
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
    if len(set(out)) != len(out):
        raise refuse(wrt, "twice")
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
        if problem == "twice":
            return WrtError(f"wrt={item!r} names a parameter of {parsed.fn.__qualname__} "
                            f"({parsed.where(parsed.node)}) twice; name each parameter once")
        return WrtError(f"wrt={item!r} is not a parameter of {parsed.fn.__qualname__} "
                        f"({parsed.where(parsed.node)}); its parameters are {', '.join(usable)}")

    return resolve_wrt(wrt, usable, usable, refuse)
