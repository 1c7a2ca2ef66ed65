"""The derivative operators built on the two generated forms: jvp, vjp, jacobian, hessian.

Example::

    import numpy as np
    import sourcediff as sd

    def f(x):
        return np.sum(np.sin(x) * x)

    out, out_dot = sd.jvp(f, (np.ones(3),), (np.arange(3.0),))
    H = sd.hessian(f)(np.ones(3))           # forward mode over the generated gradient
"""

import functools
import inspect
import types
import weakref

import numpy as np

from . import pytree, runtime
from .compiled import _get, bind_call, check_function, split_form
from .compiler.driver import resolve_wrt
from .compiler.parse import star_forwarded, synthetic, wrapper_once
from .compiler.resolve import _library
from .errors import CallError, InactiveArgumentError, NoJvpRuleError, SourcediffError, WrtError
from .pytree import flatten, is_tree
from .runtime.objects import refuse_object

_AGAIN = ("For second derivatives differentiate generated code: sd.hessian(f) or "
          "sd.jacobian(sd.grad(f)) for a scalar f, sd.grad(sd.grad(f)) for a scalar f of a "
          "scalar, sd.elementwise_grad(sd.elementwise_grad(f)) for an elementwise f.")
_summed = weakref.WeakKeyDictionary()


def _name(fn):
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _float_like(x):
    """A float, a float array, or a list/tuple/dict of them (nested)."""
    if is_tree(x):
        return bool(x) and runtime._float_leaves(x, "") is None
    return isinstance(x, float) or getattr(getattr(x, "dtype", None), "kind", None) == "f"


def _signature(fn):
    """The parameters a call of ``fn`` binds its arguments to, as ``inspect.signature`` reads
    them (through a functools.wraps wrapper to the function it wraps), and through a decorator's
    wrapper made without functools.wraps to the function its ``*args`` are passed to
    (:func:`compiler.parse.star_forwarded`): what ``wrt`` counts, in every transform."""
    return inspect.signature(star_forwarded(fn) or fn)


def _wrt_indices(fn, wrt, nargs):
    """The positions in a call of ``nargs`` arguments of the parameters ``wrt`` means (as
    :func:`compiler.driver.resolve_wrt` reads it: a bound method's ``self`` and a partial's bound arguments
    are not counted)."""
    params = list(_signature(fn).parameters)
    what = getattr(fn, "__qualname__", None) or repr(fn)
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    where = f" ({code.co_filename}:{code.co_firstlineno})" if code is not None else ""

    def refuse(item, problem):
        if problem == "type":
            return WrtError(f"wrt entries must be parameter indices or names, not {item!r}")
        if problem == "index":
            return WrtError(f"wrt={item} but {what}{where} has {len(params)} parameter(s): "
                            f"{', '.join(params) or 'none'}")
        if problem == "twice":
            return WrtError(f"wrt={item!r} names a parameter of {what}{where} twice; name each "
                            f"parameter once")
        return WrtError(f"wrt={item!r} is not a parameter of {what}")

    out = [params.index(name) for name in resolve_wrt(wrt, params, params, refuse)[0]]
    try:
        kinds = [p.kind for p in _signature(fn).parameters.values()]
    except (TypeError, ValueError):
        kinds = []
    for i in out:
        if i < len(kinds) and kinds[i] in (inspect.Parameter.VAR_POSITIONAL,
                                           inspect.Parameter.VAR_KEYWORD):
            # (forward mode takes one array argument at a time; *bs is a tuple of several)
            raise WrtError(f"wrt names {params[i]}, the *args/**kwargs parameter of {what}{where}; "
                           f"forward mode and jacobian differentiate one argument at a time: "
                           f"give the arrays parameters of their own, or use reverse mode "
                           f"(sd.grad(f, wrt={wrt!r})), which gives the tuple's gradient")
        if i >= nargs:
            raise WrtError(f"wrt names {params[i]}, which this call of {what} does not pass "
                           f"(it passes {nargs} argument(s)); pass it to differentiate with "
                           f"respect to it")
    return out


def _by_position(fn, args, kwargs, what):
    """The call's arguments as positional ones (``f(w, x, scale=2.0)`` as ``f(w, x, 2.0)``):
    forward mode and jacobians run the function once per input element on the same positional
    arguments. Arguments for keyword-only or ``**kwargs`` parameters are refused by name."""
    bound = check_call(fn, args, kwargs, what)
    if not kwargs or bound is None:
        return args
    bound.apply_defaults()  # (f(w, x, power=3) with scale=1.0 before it: scale by position too)
    given = sorted(set(bound.kwargs) & set(kwargs) | (set(kwargs) - set(bound.arguments)))
    if given:
        raise SourcediffError(
            f"{what} of {_name(fn)} is called with {', '.join(given)} for "
            f"keyword-only or **kwargs parameters, which it passes by position only; make them "
            f"positional parameters, bind them with functools.partial, or use reverse mode "
            f"(sd.grad), which takes them")
    return bound.args


def check_call(fn, args, kwargs, what):
    """The call's arguments bound to ``fn``'s parameters, or a CallError naming ``fn``, where it
    is and how to call it, where they do not bind (too many, too few, a keyword it has no
    parameter for): every transform checks its call against the user's function before it runs
    a generated one, whose own TypeError named only itself. None where ``fn``'s parameters
    cannot be read, and where a plain function is called without keywords by a number of
    arguments it takes (read off its code: inspect.signature costs 40 us a call)."""
    code = getattr(fn, "__code__", None) if inspect.isfunction(fn) else None
    if code is not None and not kwargs and not code.co_kwonlyargcount:
        least = code.co_argcount - len(fn.__defaults__ or ())
        if least <= len(args) and (len(args) <= code.co_argcount or
                                   code.co_flags & inspect.CO_VARARGS):
            return None
    def refusal(sig, given, problem):
        code = getattr(getattr(fn, "__func__", fn), "__code__", None)
        where = f" ({code.co_filename}:{code.co_firstlineno})" if code is not None else ""
        return CallError(f"{what} of {_name(fn)}{where} was called with {given}, and {problem}: "
                         f"call it with the arguments {_name(fn)} takes, {_name(fn)}{sig}")
    return bind_call(fn, args, kwargs, refusal)


def _tangent_call(jf, args, tangents_by_name):
    kwargs = {jf.__sourcediff_tangent_names__[name]: t for name, t in tangents_by_name.items()}
    return jf(*args, **kwargs)


# ---------------------------------------------------------------------- forward mode


def jvp(fn, primals=None, tangents=None, *, wrt=None, optimize=True):
    """Forward mode: ``(fn(*primals), directional derivative along tangents)``.

    ``tangents`` has one entry per primal; None (no tangent) for arguments that carry none.
    Called as ``sd.jvp(f, wrt=0)`` (no primals) it returns the generated forward function itself,
    which takes f's arguments plus keyword tangents (``x_dot=...``) and returns ``(out, out_dot)``.

    Example::

        out, out_dot = sd.jvp(lambda x, n: x ** n, (2.0, 3), (1.0, None))   # (8.0, 12.0)
        jf = sd.jvp(f, wrt=0); jf(x, x_dot=v)
    """
    if primals is None:
        return _get(fn, wrt if wrt is not None else 0, "jvp", optimize)
    if tangents is None:
        raise SourcediffError("jvp needs tangents: sd.jvp(f, primals, tangents)")
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise SourcediffError(f"jvp got {len(primals)} primals but {len(tangents)} tangents; "
                              f"give one tangent per primal (None where there is none)")
    check_call(fn, primals, {}, "sd.jvp")
    wrt = tuple(i for i, t in enumerate(tangents) if t is not None)
    if not wrt:
        raise SourcediffError(f"sd.jvp of {_name(fn)} got no tangent (every one is None); give "
                              f"a tangent for the arguments to differentiate along")
    jf = _get(fn, wrt, "jvp", optimize)
    names = jf.__sourcediff_wrt__
    given = {name: tangents[i] for name, i in zip(names, wrt)}
    for name, i in zip(names, wrt):
        # (as grad, forward jacobians and hessians refuse them: an int's tangent is not one)
        refuse_object(primals[i], name, getattr(fn, "__qualname__", "the function"), "sd.jvp")
        try:
            runtime.check_wrt(primals[i], name, getattr(fn, "__qualname__", "the function"))
        except InactiveArgumentError as exc:
            raise InactiveArgumentError(f"{exc}; in sd.jvp, give '{name}' the tangent None") from None
        if is_tree(primals[i]):  # (a tree: the same leaves' shapes)
            same = isinstance(tangents[i], type(primals[i])) and \
                flatten(tangents[i])[0].shape == flatten(primals[i])[0].shape
            if not same:
                raise SourcediffError(f"the tangent for '{name}' must be a "
                                      f"{type(primals[i]).__name__} shaped like the argument")
            continue
        if np.shape(tangents[i]) != np.shape(primals[i]):
            raise SourcediffError(f"the tangent for '{name}' has shape {np.shape(tangents[i])} "
                                  f"but the argument has shape {np.shape(primals[i])}")
        given[name] = _tangent_as(tangents[i], primals[i])
    return _tangent_call(jf, primals, given)


def _tangent_as(t, x):
    """The tangent ``t`` in the float dtype of its argument ``x`` (as JAX asks of a tangent): a
    np.float32 tangent of a Python float would make the forward pass float32 (numpy keeps a
    Python float weak), 1e-8 off at float64's 1e-16."""
    kind = getattr(getattr(t, "dtype", None), "kind", None)
    if kind not in ("f", "i", "u", "b") or not isinstance(t, (np.ndarray, np.generic)):
        return t  # (a Python number, a complex tangent, a dask array: as given)
    if type(x) is float:
        return float(t)
    dtype = getattr(x, "dtype", None)
    if isinstance(x, (np.ndarray, np.generic)) and dtype.kind == "f" and t.dtype != dtype:
        return np.asarray(t, dtype=dtype) if isinstance(x, np.ndarray) else dtype.type(t)
    return t


def _basis(x):
    """One-hot tangents shaped like ``x``, one per element (of every leaf, for a list, tuple or
    dict of arrays: trees shaped like ``x``, indexed by the leaf entry's flat position)."""
    if isinstance(x, float):
        yield (), type(x)(1.0) if isinstance(x, np.generic) else 1.0  # (np.float64: its methods)
        return
    if is_tree(x):
        vec, unflatten = flatten(x)
        for k in range(vec.size):
            e = np.zeros_like(vec)
            e[k] = 1.0
            yield (k,), unflatten(e)
        return
    for idx in np.ndindex(np.shape(x)):
        e = np.zeros_like(x)
        e[idx] = 1.0
        yield idx, e


def _forward_jacobian(fn, args, wrt_index, optimize, transpose_out=False, scalar_for=None,
                      expected=None, pristine=None, state=None):
    """d out / d args[wrt_index] by one jvp per input element: shape out.shape + x.shape.

    With ``scalar_for`` (the function's name for messages), a non-scalar output is refused at once.
    The first pass runs on ``args`` themselves, every other on a copy of the lists, tuples and dicts
    of ``pristine`` (``args`` as they were before any run; by default before this first pass): a
    function may append to or pop from a list it is given, as Python does once per call, and each
    pass must see the list the call was made with. So with random draws and the attributes of
    the objects it is given: every pass but the first run starts from ``state``
    (:func:`_run_state`; by default as before this first pass), and draws what that run drew."""
    jf = _get(fn, (wrt_index,), "jvp", optimize)
    name = jf.__sourcediff_wrt__[0]
    runs_args = pristine is None  # (else args ran already: every pass takes a copy)
    if pristine is None:
        pristine = _fresh_stacks(args, {})
    if state is None:
        state = _run_state(fn, args)
    x = pristine[wrt_index]  # (as it was given: a run may pop from it)
    refuse_object(x, name, getattr(fn, "__qualname__", "the function"), "forward mode")
    runtime.check_wrt(x, name, getattr(fn, "__qualname__", "the function"))
    x_shape = (flatten(x)[0].size,) if is_tree(x) else np.shape(x)
    x_float = [] if is_tree(x) else [x]
    cols = {}
    out = first = None
    checked = expected is not None  # (an earlier run's value: every pass must give it too)
    held = _held_state(fn, args)
    for k, (idx, e) in enumerate(_basis(x)):
        if k > 0 or not runs_args:
            _restore_run_state(state)
        out, col = _tangent_call(jf, args if k == 0 and runs_args else _fresh_stacks(pristine, {}),
                                 {name: e})
        if scalar_for is not None:
            runtime.check_scalar(out, scalar_for)
        if held and np.size(x) > 1 and _held_changed(held):
            what = getattr(fn, "__qualname__", "the function")
            raise SourcediffError(
                f"{what} changes a list, dict or set held by an object it is given (or by its "
                f"self) from one run to the next (an item popped or appended): forward mode runs "
                f"the function once per element of {name}, and each run would see other items, "
                f"so its derivative would mix different runs. Use reverse mode (one run per "
                f"gradient), or pass the list in as an argument (each run gets a copy).")
        if k == 0:
            first = expected if checked else out
        if (k > 0 or checked) and not _same_value(out, first):
            what = getattr(fn, "__qualname__", "the function")
            raise SourcediffError(
                f"{what} returned a different value on its run {k + 1 + checked} than on its first: forward "
                f"mode runs the function once per element of {name}, and this one draws random "
                f"numbers or changes state between runs, so its derivative would mix different "
                f"runs. Use reverse mode (one run per gradient), or make the draws the same on "
                f"every run (a seeded generator created inside the function).")
        # (a tree output, as the gradient of a function of a dict: its leaves in one vector)
        cols[idx] = flatten(col)[0] if is_tree(col) else np.asarray(col)
    if not cols:  # (x has no elements: one run, with a zero tangent, gives the output's shape)
        zero = flatten(x)[1](np.zeros(0)) if is_tree(x) else np.zeros_like(x)
        if not runs_args and not checked:
            _restore_run_state(state)
        out = expected if checked else _tangent_call(
            jf, args if runs_args else _fresh_stacks(pristine, {}), {name: zero})[0]
        if scalar_for is not None:
            runtime.check_scalar(out, scalar_for)
    tree_out = is_tree(out)
    out_shape = (flatten(out)[0].size,) if tree_out else np.shape(out)
    jac = np.zeros(out_shape + x_shape, dtype=_jac_dtype(*([] if tree_out else [out]), *x_float))
    for idx, col in cols.items():
        jac[(Ellipsis,) + idx] = col
    return out, jac


def _jac_dtype(*values):
    """The dtype of a jacobian of these outputs and arguments: theirs (a float32 function's stays
    float32, as in JAX and PyTorch), float64 when none is a float."""
    dtype = np.result_type(*values) if values else np.dtype(np.float64)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _find_generators(v, depth, found):
    """Add the Generators and RandomStates ``v`` holds (to ``depth`` levels) to ``found``. (Not a
    closure calling itself, a reference cycle that would hold the arguments after the call.)"""
    if isinstance(v, (np.random.Generator, np.random.RandomState)):
        found.setdefault(id(v), v)
    elif depth and isinstance(v, (list, tuple)):
        for item in v:
            _find_generators(item, depth - 1, found)
    elif depth and isinstance(v, dict):
        for item in v.values():
            _find_generators(item, depth - 1, found)
    elif depth and isinstance(getattr(v, "__dict__", None), dict) and \
            not isinstance(v, (type, types.ModuleType)):
        for item in list(vars(v).values()):
            _find_generators(item, depth - 1, found)


def _run_state(fn, args):
    """What a run of ``fn`` may change that forward mode puts back before each of its passes,
    so that every pass runs as the first did: numpy's global random generator
    (``np.random.normal``) and the Generators and RandomStates among the arguments, held by them
    (``self.rng``) or named by the function's globals or closure, with their states; and the
    attributes of the objects among the arguments and of a bound method's self (a counter
    ``self.t += 1``, a state ``self.h = ...``), as they are now."""
    found = {id(np.random.mtrand._rand): np.random.mtrand._rand}
    for a in (*args, getattr(fn, "__self__", None)):
        _find_generators(a, 2, found)
    captured = getattr(fn, "__sourcediff_captured__", None)  # (a gradient: the user's function)
    user = captured.user if captured is not None else fn
    user = inspect.unwrap(getattr(user, "__func__", user))
    owners = {id(obj): obj for obj in _owners(fn, args)}
    code = getattr(user, "__code__", None)
    if code is not None:
        scope = getattr(user, "__globals__", {})
        named = [scope.get(name) for name in code.co_names]
        for cell in getattr(user, "__closure__", None) or ():
            try:
                named.append(cell.cell_contents)
            except ValueError:
                pass
        for v in named:
            _find_generators(v, 1, found)
            module = type(v).__module__
            if _owner(v) and not _library(module) and not module.startswith("sourcediff"):
                owners.setdefault(id(v), v)  # (a model of the user's in a global or closure)
    out = [(g, g.get_state() if isinstance(g, np.random.RandomState) else
            g.bit_generator.state) for g in found.values()]
    return out + [(vars(obj), dict(vars(obj))) for obj in owners.values()]


def _restore_run_state(snapshot):
    """Put back what :func:`_run_state` took."""
    for g, state in snapshot:
        if isinstance(g, dict):  # (an object's attributes)
            for name in [k for k in g if k not in state]:
                del g[name]
            g.update(state)
        elif isinstance(g, np.random.RandomState):
            g.set_state(state)
        else:
            g.bit_generator.state = state


def _owners(fn, args):
    """The objects among ``args`` (and a bound method's self) whose attributes a run may change."""
    owners = [getattr(fn, "__self__", None)] + [a for a in args if not isinstance(
        a, (np.ndarray, np.generic, int, float, complex, str, list, tuple, dict))]
    return [obj for obj in owners if _owner(obj)]


def _owner(obj):
    """An object with attributes of its own that a run may set (not a class, module, function)."""
    return isinstance(getattr(obj, "__dict__", None), dict) and not isinstance(
        obj, (type, types.ModuleType, np.random.Generator, np.random.RandomState)) and \
        not inspect.isroutine(obj) and not isinstance(obj, functools.partial)


def _held_state(fn, args):
    """The lists, dicts and sets that the objects among ``args`` (and a bound method's self) hold
    in their attributes, with their lengths: what a run that pops or appends through an object
    changes in place (forward mode's copies of list arguments do not reach them, and putting
    the attributes back (:func:`_restore_run_state`) leaves the list as the run left it)."""
    return tuple((name, v, len(v)) for obj in _owners(fn, args)
                 for name, v in vars(obj).items() if isinstance(v, (list, dict, set)))


def _held_changed(held):
    return any(len(v) != n for _, v, n in held)


def _same_value(a, b):
    """Bitwise the same output (nan equal to nan), for trees leaf by leaf."""
    if is_tree(a) or is_tree(b):
        try:
            a, b = flatten(a)[0], flatten(b)[0]
        except Exception:  # noqa: BLE001  (not a tree of arrays: compare as Python does)
            return a == b
    try:
        return np.shape(a) == np.shape(b) and bool(np.array_equal(a, b, equal_nan=True))
    except TypeError:  # (values numpy cannot compare with nan as equal)
        return bool(np.array_equal(a, b))


def forward_grad(fn, wrt=0, optimize=True):
    """The gradient of a scalar function computed by forward mode (one pass per input element)."""
    single = not isinstance(wrt, (tuple, list))

    @functools.wraps(fn)
    def grad_fn(*args, **kwargs):
        args = _by_position(fn, args, kwargs, "sd.grad(..., mode='forward')")
        grads = []
        first = None
        pristine = _fresh_stacks(args, {})  # (the arguments before the first run changes them)
        state = _run_state(fn, args)  # (and what a run changes: each pass starts from it)
        for i in _wrt_indices(fn, wrt, len(args)):
            where = getattr(fn, "__qualname__", "the function")
            out, jac = _forward_jacobian(fn, args, i, optimize, scalar_for=where, expected=first,
                                         pristine=None if first is None else pristine, state=state)
            first = out if first is None else first
            runtime.check_scalar(out, where)
            if is_tree(pristine[i]):  # (a tree: its leaves' entries in order, as it was given,
                # each of its leaf's type: np.float32(0.5)'s an np.float32, as in reverse mode)
                grads.append(runtime.grad_like(flatten(pristine[i])[1](np.reshape(jac, (-1,))),
                                               pristine[i]))
            else:
                grads.append(runtime.grad_like(jac, pristine[i]))
        return grads[0] if single else tuple(grads)

    def shown():  # (what sd.source shows: the jvp each pass runs)
        texts = []
        for w in ([wrt] if single else list(wrt)):
            jf = _get(fn, w, "jvp", optimize)
            tangent = ", ".join(jf.__sourcediff_tangent_names__.values())
            texts.append(f"# sd.grad({_name(fn)}, mode='forward') runs this jvp once per element "
                         f"of its argument, with {tangent} 1.0 at that element and 0 elsewhere\n"
                         + jf.__sourcediff_source__)
        return "\n".join(texts)

    grad_fn.__sourcediff_source__ = None
    grad_fn.__sourcediff_opaque__ = (f"sd.grad({_name(fn)}, mode='forward')", _AGAIN, shown)
    return grad_fn


# ---------------------------------------------------------------------- reverse mode


def vjp(fn, *primals, optimize=True):
    """Reverse mode with an explicit cotangent: ``out, f_vjp = sd.vjp(f, x, y); f_vjp(ct)``.

    ``f_vjp`` returns one gradient per primal (None for arguments that are not floats).

    Example::

        out, f_vjp = sd.vjp(lambda x: x * 3.0, 2.0)
        f_vjp(1.0)     # (3.0,)
    """
    check_function(fn)
    check_call(fn, primals, {}, "sd.vjp")
    return _vjp(fn, primals, optimize, range(len(primals)))


def _vjp(fn, primals, optimize, among):
    """:func:`vjp` differentiating only the primals at the positions ``among`` (sd.jacobian's wrt:
    a float argument that is data is not differentiated, as in grad, so what it goes through
    needs no rule); ``f_vjp`` gives None for the others."""
    params = list(_signature(fn).parameters)
    among = set(among)
    active = tuple(params[i] for i, x in enumerate(primals)
                   if i in among and (_float_like(x) or pytree.is_model_object(x)))
    # fn runs once, here: every f_vjp call (a jacobian's rows) differentiates that same run,
    # its random draws and state included, from what the run saved. (Not fn itself and then a
    # backward pass over the primals: fn may write into them, and the generated forms copy an
    # argument they write into, so the call would differentiate at the changed values.)
    fwd = split_form(fn, active) if optimize else _get(fn, active, "split", False)
    for i, x in enumerate(primals):  # (a model: checked, and what it holds kept, as grad does)
        if i in among and pytree.is_model_object(x):
            runtime.check_wrt(x, params[i] if i < len(params) else str(i), _name(fn))
    out, saved = fwd(*primals)
    # the backward form restores what the forward pass overwrote, in place (y[i] = <saved>),
    # into arrays that saved holds: each call after it would differentiate at the restored,
    # earlier values; what a call changes is put back after it
    kept = _saved_arrays(saved)

    def f_vjp(cotangent):
        if not is_tree(out) and not is_tree(cotangent) and np.shape(cotangent) != np.shape(out):
            # (numpy broadcast a (3,) cotangent of a scalar output: a gradient three times over)
            raise SourcediffError(f"the cotangent given to the vjp of {_name(fn)} has shape "
                                  f"{np.shape(cotangent)} but its output has shape "
                                  f"{np.shape(out)}; give one shaped like the output")
        bwd = fwd.__sourcediff_bwd__
        try:
            grads = bwd(_fresh_stacks(saved, {}), **{bwd.__sourcediff_cotangent_name__: cotangent})
        finally:
            for array, copy_ in kept:
                if not np.array_equal(array, copy_, equal_nan=array.dtype.kind in "fc"):
                    array[...] = copy_
        grads = iter(grads if isinstance(grads, tuple) else (grads,))
        return tuple(None if i not in among else next(grads) if _float_like(x) else
                     runtime.grad_like(next(grads), x) if pytree.is_model_object(x) else None
                     for i, x in enumerate(primals))  # (a model's: an object of its class)

    return out, f_vjp


def _fresh_stacks(saved, memo):
    """``saved`` with its lists, tuples and dicts copied (their items shared, one copy of each
    container however often it is held): the backward form pops its stacks and restores
    items, and each f_vjp call needs them whole."""
    if type(saved) in (list, tuple, dict):
        if id(saved) not in memo:
            if type(saved) is dict:
                memo[id(saved)] = {k: _fresh_stacks(v, memo) for k, v in saved.items()}
            else:
                memo[id(saved)] = type(saved)(_fresh_stacks(v, memo) for v in saved)
        return memo[id(saved)]
    return saved


def _saved_arrays(saved):
    """(array, copy) for each writeable numeric numpy array that ``saved`` holds (in its lists, tuples
    and dicts), once each."""
    out, seen, todo = [], set(), [saved]
    while todo:
        v = todo.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if type(v) in (list, tuple):
            todo.extend(v)
        elif type(v) is dict:
            todo.extend(v.values())
        elif isinstance(v, np.ndarray) and v.flags.writeable and v.size and v.dtype.kind in "biufc":
            out.append((v, v.copy()))
    return out


def _size(v):
    """How many entries ``v`` has (a list, tuple or dict: its leaves' together)."""
    return flatten(v)[0].size if is_tree(v) else np.size(v)


def _reverse_jacobians(out, f_vjp, args, indices):
    """{wrt index: d out / d args[index]} from one run's ``f_vjp``, one call per output element
    (each call gives every index's row). A list, tuple or dict (of an output or an argument)
    counts as the vector of its leaves' entries, as in the forward jacobian."""
    def shape(v):
        return (flatten(v)[0].size,) if is_tree(v) else np.shape(v)

    def floats(v):
        return [] if is_tree(v) else [v]

    jacs = {i: np.zeros(shape(out) + shape(args[i]),
                        dtype=_jac_dtype(*floats(out), *floats(args[i]))) for i in indices}
    for idx, e in _basis(out if not isinstance(out, float) else float(out)):
        row = f_vjp(e)
        for i in indices:
            if is_tree(args[i]):  # (the gradient's leaves in the argument's order, zeros for none)
                parts = pytree.aligned_leaves(row[i], args[i])
                jacs[i][idx] = np.concatenate([np.zeros(np.size(x)) if g is None else
                                               np.ravel(np.broadcast_to(g, np.shape(x)))
                                               for g, x in zip(parts, pytree.leaves(args[i]))]
                                              or [np.zeros(0)])
            else:
                jacs[i][idx] = row[i]
    return jacs


def jacobian(fn, wrt=0, mode="auto", *, optimize=True):
    """The jacobian ``d fn / d args[wrt]`` with shape ``out.shape + arg.shape``; a list, tuple or
    dict (the argument or the output) counts as the vector of its entries in ``sd.flatten``'s
    order, so the result is one array (JAX's nests one structure in the other).

    ``mode`` is "forward" (one jvp per input element), "reverse" (one vjp per output element) or
    "auto" (whichever needs fewer passes).

    Example::

        J = sd.jacobian(lambda x: np.sin(x) * 2.0)(np.ones(3))    # diagonal 2 cos(1)
    """
    if mode not in ("auto", "forward", "reverse"):
        raise SourcediffError(f"mode must be 'auto', 'forward' or 'reverse', not {mode!r}")
    check_function(fn)
    single = not isinstance(wrt, (tuple, list))

    @functools.wraps(fn)
    def jac_fn(*args, **kwargs):
        args = _by_position(fn, args, kwargs, "sd.jacobian")
        indices = list(_wrt_indices(fn, wrt, len(args)))
        params = list(_signature(fn).parameters)
        for i in indices:  # (a reverse row has None for an int argument: refused, as forward is)
            refuse_object(args[i], params[i] if i < len(params) else str(i), _name(fn),
                          "sd.jacobian (and sd.hessian)")
            runtime.check_wrt(args[i], params[i] if i < len(params) else str(i), _name(fn))
        # the function runs as few times as it can, and every pass is checked against the first
        # run: one reverse run serves every wrt index (its f_vjp differentiates that run), and
        # forward passes must return what it returned (random draws, state that moves)
        out = f_vjp = None
        pristine = _fresh_stacks(args, {})  # (the arguments before the first run changes them)
        state = _run_state(fn, args)  # (and what a run changes: each pass starts from it)
        if mode != "forward":
            out, f_vjp = _vjp(fn, args, optimize, indices)
        forward = [i for i in indices if mode == "forward" or (
            mode == "auto" and _size(args[i]) <= _size(out))]
        reverse = [i for i in indices if i not in forward]
        jacs_forward = {}
        for i in forward:
            try:
                first, jac = _forward_jacobian(fn, args, i, optimize, expected=out,
                                               pristine=None if out is None else pristine,
                                               state=state)
            except NoJvpRuleError:
                if mode == "forward":
                    raise
                # ("auto": a function with a vjp rule and no jvp rule, an sd.custom_vjp without
                # defjvp, takes the reverse passes it can run instead)
                reverse = [j for j in indices if j not in jacs_forward]
                break
            jacs_forward[i] = jac
            if out is None:
                out = first
        jacs = _reverse_jacobians(out, f_vjp, args, reverse) if reverse else {}
        jacs.update(jacs_forward)
        out_jacs = [jacs[i] for i in indices]
        return out_jacs[0] if single else tuple(out_jacs)

    jac_fn.__sourcediff_opaque__ = (f"sd.jacobian({_name(fn)})", _AGAIN)
    return jac_fn


def hessian(fn, wrt=0, *, optimize=True):
    """The hessian of a scalar function: forward mode over the generated reverse-mode gradient,
    or reverse over reverse (one gradient of the gradient per element) where forward mode meets
    a function with a vjp rule of the user's own and no jvp rule (an ``sd.custom_vjp``).

    Example::

        H = sd.hessian(lambda x: np.sum(x ** 3))(np.ones(2))    # [[6, 0], [0, 6]]
    """
    if isinstance(wrt, (tuple, list)):
        raise SourcediffError("hessian takes one wrt argument; call it once per argument pair")
    df = _get(fn, wrt, "grad", optimize)
    forward = jacobian(df, wrt=wrt, mode="forward", optimize=optimize)
    reverse = []  # (made at the first refusal, then used for every call)

    @functools.wraps(fn)
    def hess_fn(*args, **kwargs):
        check_call(fn, args, kwargs, "sd.hessian")  # (the user's function's, not grad_f's)
        if not reverse:
            try:
                return forward(*args, **kwargs)
            except NoJvpRuleError:
                reverse.append(jacobian(df, wrt=wrt, mode="reverse", optimize=optimize))
        return reverse[0](*args, **kwargs)

    hess_fn.__sourcediff_opaque__ = (f"sd.hessian({_name(fn)})", _AGAIN)
    return hess_fn


def hvp(fn, primals, tangents, *, optimize=True):
    """Hessian-vector product (forward over reverse): the jvp of the gradient along ``tangents``.

    Example::

        sd.hvp(lambda x: np.sum(x ** 3), (np.ones(2),), (np.array([1.0, 0.0]),))  # [6, 0]
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise SourcediffError(f"sd.hvp got {len(primals)} primals but {len(tangents)} tangents; "
                              f"give one tangent per primal (None where there is none)")
    check_call(fn, primals, {}, "sd.hvp")
    wrt = tuple(i for i, t in enumerate(tangents) if t is not None)
    if not wrt:
        raise SourcediffError(f"sd.hvp of {_name(fn)} got no tangent (every one is None); give "
                              f"a tangent for the arguments to differentiate along")
    df = _get(fn, wrt if len(wrt) > 1 else wrt[0], "grad", optimize)
    try:
        _, out_dot = jvp(df, primals, tangents, optimize=optimize)
    except NoJvpRuleError:  # (a custom_vjp without a jvp rule: reverse over reverse, H v as the
        _, f_vjp = _vjp(df, primals, optimize, wrt)  # vjp of the gradient along v, H symmetric)
        hv = f_vjp(tuple(tangents[i] for i in wrt) if len(wrt) > 1 else tangents[wrt[0]])
        return tuple(hv[i] for i in wrt) if len(wrt) > 1 else hv[wrt[0]]
    return out_dot


def elementwise_grad(fn, wrt=0, *, optimize=True):
    """The gradient of ``sum(fn(x))``: for elementwise functions, the derivative at each element.

    It is the gradient of a function sourcediff writes around ``fn`` (``np.sum(fn(x))``), so it is
    generated code and can be differentiated again.

    Example::

        def f(x):
            return np.tanh(x)

        sd.elementwise_grad(f)(np.zeros(3))                          # [1, 1, 1]
        sd.elementwise_grad(sd.elementwise_grad(f))(np.zeros(3))     # f'' = [0, 0, 0]
    """
    name = getattr(fn, "__name__", "f")
    summed = wrapper_once(_summed, fn, None, lambda: synthetic(
        fn, f"sum_of_{name if name.isidentifier() else 'f'}", "_np.sum({fn}({params}))",
        {"_np": np}))
    return _get(summed, wrt, "grad", optimize)


# sd.jvp, sd.vjp and sd.hvp called inside a function that is differentiated run Python that is
# not generated code (their own try blocks, the cotangent closure): a call of one there is
# refused naming it and the generated function to call instead, as a jacobian's call is
jvp.__sourcediff_opaque__ = (
    "sd.jvp", "Call the generated forward function instead: jf = sd.jvp(f, wrt=0) outside the "
              "function, then jf(x, x_dot=v) inside it (it returns (out, out_dot)).")
vjp.__sourcediff_opaque__ = (
    "sd.vjp", "Call the generated gradient instead: df = sd.grad(f) outside the function, then "
              "df(x) inside it (for a non-scalar f, the gradient of np.sum(f(x) * v)).")
hvp.__sourcediff_opaque__ = ("sd.hvp", _AGAIN)
