"""Calls met only at run time (a method through ``self.act_fn``, a function passed as an
argument, a ``functools.partial``): run through their forward, backward or jvp forms, which the
compiler builds through :mod:`sourcediff.runtime.hooks`; and ``has_aux``'s pair."""

import functools
import inspect
import os
import threading
import types

import numpy as np

from ..rules import registry
from ..errors import NoJvpRuleError, NoRuleError, SourcediffError
from ..pytree import is_float_leaf, is_model_object, object_float_leaves
from . import hooks
from .accumulate import GradDict, GradList, add_grads, cast_grad, is_zero_grad, zeros_like_grad
from .checks import _float_leaves
from .indexing import item_grad
from .objects import holds_floats
from .shapes import broadcast_tangent, unbroadcast

__all__ = [
    "aux_first", "aux_grad", "aux_kept", "dynamic_fwd", "run_for_effect", "dynamic_bwd",
    "dynamic_jvp", "star_fwd", "star_bwd", "star_jvp", "method_call"
]


_aux = threading.local()


def aux_first(out):
    """``out[0]`` of a function's ``(loss, aux)`` (``has_aux=True``); aux is kept for the call
    that asked for it (see :func:`aux_kept`)."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise SourcediffError(f"has_aux=True: the function must return (loss, aux), a pair; it "
                              f"returned {type(out).__name__}")
    kept = getattr(_aux, "kept", None)
    if kept is not None and not kept:
        kept.append(out[1])
    return out[0]


def aux_grad(g, out):
    """The gradient of the pair ``out`` from its loss's gradient ``g`` (aux carries none)."""
    return GradList([g, 0.0])


class aux_kept:
    """``with aux_kept() as kept:`` a list that receives aux from the first aux_first inside."""

    def __enter__(self):
        self.prev = getattr(_aux, "kept", None)
        _aux.kept = []
        return _aux.kept

    def __exit__(self, *exc):
        _aux.kept = self.prev
        return False


def _qualname(fn):
    """``fn.__qualname__``, or its class's name for an object without one (read on the class for
    an object: a ``__getattr__`` of the user's may raise another error than AttributeError)."""
    if isinstance(fn, (types.FunctionType, types.MethodType, type)) or not hasattr(
            type(fn), "__getattr__"):
        return getattr(fn, "__qualname__", type(fn).__name__)
    return type(fn).__qualname__


def _dynamic_target(fn, what):
    """The Python function or bound method behind ``fn`` (an object's Python ``__call__``)."""
    if inspect.isfunction(fn) or (inspect.ismethod(fn) and inspect.isfunction(fn.__func__)):
        return fn
    call = getattr(type(fn), "__call__", None)
    if inspect.isfunction(call):
        return fn.__call__
    if isinstance(fn, type):
        try:  # (cls(W, b) in a classmethod: a function that calls the class by its own name)
            return hooks.constructor_function(fn)
        except SourcediffError:
            pass
        raise NoRuleError(
            f"{what}: the call builds a {fn.__qualname__} from values that carry derivatives "
            f"through a name that holds the class here (cls(...) in a classmethod, a class "
            f"passed as an argument); sourcediff follows a constructor called by the class's "
            f"own name. Write {fn.__name__}(...) there, or build the object outside the "
            f"function and take the gradient with respect to it (sd.grad(loss)(obj, ...))")
    raise NoRuleError(
        f"{what}: the call reaches {fn!r} ({type(fn).__name__}), which has neither a derivative "
        f"rule nor Python source sourcediff can transform; register a rule with "
        f"sourcediff.defvjp, or call a Python function")


def code_signature(fn):
    """The signature of the code sourcediff transforms for ``fn``: a decorator's wrapper made
    with functools.wraps is transformed as it is (``10 * fn(x)`` is not ``fn(x)``), so its own
    parameters (``*args, **kwargs``), not those ``inspect.signature`` reads from the function it
    wraps; sourcediff's own call wrapper, which computes its ``__wrapped__``, is read through."""
    inner = getattr(fn, "__wrapped__", None)
    follow = inner is not None and getattr(fn, "__sourcediff_same_as_wrapped__", None) is inner
    return inspect.signature(fn, follow_wrapped=follow)


def receiver_collected(fn):
    """True for a bound method whose function collects its receiver in ``*args`` (a method
    decorated with a ``functools.wraps`` wrapper ``def wrapper(*args, **kwargs)``): inspect's
    signature of such a bound method still shows the whole ``*args``, while a call's first
    argument is its item 1, the receiver its item 0."""
    if not inspect.ismethod(fn):
        return False
    first = next(iter(code_signature(fn.__func__).parameters.values()), None)
    return first is not None and first.kind == first.VAR_POSITIONAL


def bind_code(fn, args, kwargs, receiver=None):
    """``(signature, bound arguments, shift)`` of the call ``fn(*args, **kwargs)`` against the
    code sourcediff transforms for ``fn`` (:func:`code_signature`). A bound method whose
    function collects its receiver in ``*args`` (:func:`receiver_collected`) is bound as that
    function with ``receiver`` first (its ``__self__`` by default; the compiler, which binds
    syntax, passes a placeholder), and ``shift`` is 1: the call's k-th argument is the bound
    call's (k + 1)-th."""
    if receiver_collected(fn):
        sig = code_signature(fn.__func__)
        first = fn.__self__ if receiver is None else receiver
        return sig, sig.bind(first, *args, **kwargs), 1
    sig = code_signature(fn)
    return sig, sig.bind(*args, **kwargs), 0


def _active_params(target, active, args, kwargs):
    """The parameters of ``target`` that the arguments at ``active`` (positions, keyword names)
    meet, in order, and for each of those arguments where its derivative comes back: ``(k,
    None)`` for the k-th parameter, ``(k, i)`` for item i of the k-th parameter's ``*args``
    tuple (a wrapper's ``def wrapper(*args): return fn(*args)``) or entry i of its ``**kwargs``
    dict."""
    sig, bound, shift = bind_code(target, args, kwargs)
    bound = bound.arguments
    names, where = [], []
    for a in active:
        name, item = (a if isinstance(a, str) else None), None
        if name is None:
            a, k = a + shift, 0
            for p in bound:
                kind = sig.parameters[p].kind
                count = len(bound[p]) if kind == kind.VAR_POSITIONAL else 1
                if kind in (kind.VAR_KEYWORD, kind.KEYWORD_ONLY):
                    continue
                if a < k + count:
                    name, item = p, (a - k if kind == kind.VAR_POSITIONAL else None)
                    break
                k += count
        if name is not None and name not in sig.parameters:  # (collected in **kwargs)
            name, item = next((p for p in bound if sig.parameters[p].kind ==
                               inspect.Parameter.VAR_KEYWORD and name in bound[p]), None), name
        if name is None or (item is None and
                            sig.parameters[name].kind == inspect.Parameter.VAR_KEYWORD):
            raise SourcediffError(
                f"{getattr(target, '__qualname__', target)} collects a value that carries a "
                f"derivative in **kwargs; give it one parameter per value")
        if name not in names:
            names.append(name)
        where.append((names.index(name), item))
    return tuple(names), tuple(where)


def _per_argument(grads, where):
    """The gradients of the arguments from those of the parameters (see _active_params)."""
    return tuple(grads[k] if i is None else item_grad(grads[k], i) for k, i in where)


class _RuleCall:
    """A primitive met at run time (``np.tanh`` passed to a helper as ``fn``): its rule, the
    positions of the active arguments, and what the rule reads."""

    def __init__(self, rule, active, args, kwargs, value):
        self.rule, self.args, self.kwargs, self.value = rule, args, kwargs, value
        self.positions = tuple(_rule_position(rule, a, len(args)) for a in active)
        _check_rule_call(rule, self.positions, args, kwargs)

    def grads(self, out_bar):
        vjp = hooks.sliced_rule(self.rule.vjp, tuple(sorted(set(self.positions))))
        out_bar = cast_grad(out_bar, self.value)  # (x.astype(int): an integer result)
        parts = vjp(out_bar, self.value, *self.args, **self.kwargs)
        out = []
        for i in self.positions:
            part = 0.0 if parts[i] is None else parts[i]
            out.append(unbroadcast(part, self._arg(i)) if self.rule.broadcast else part)
        return tuple(out)

    def tangent(self, tangents):
        total = 0.0
        for i, t in zip(self.positions, tangents):
            if is_zero_grad(t) or not self.rule.differentiable(i):
                continue  # (np.full_like(x, v): x gives a shape, which a linear rule's rerun
                # on the tangent would fill with v)
            if self.rule.kind == "linear" and self.rule.jvp is None:
                args, kwargs = self._replaced(i, t)
                part = self.rule.key(*args, **kwargs)
            else:
                fn = self.rule.vjp if self.rule.kind == "elementwise" else self.rule.jvp
                if fn is None:
                    raise NoJvpRuleError(f"forward mode needs a jvp rule for {self.rule.name}, "
                                      f"which has only a vjp rule; register one with "
                                      f"sourcediff.defjvp, or use reverse mode")
                part = hooks.sliced_rule(fn, (i,))(t, self.value, *self.args, **self.kwargs)[i]
                if self.rule.broadcast:
                    part = broadcast_tangent(part, self.value)
            total = add_grads(total, part)
        return total if is_zero_grad(total) else cast_grad(total, self.value)

    def _arg(self, i):
        return self.args[i] if i < len(self.args) else self.kwargs[self._names()[i]]

    def _names(self):
        return list(inspect.signature(self.rule.vjp).parameters)[2:]

    def _replaced(self, i, t):
        if i < len(self.args):
            return self.args[:i] + (t,) + self.args[i + 1:], self.kwargs
        return self.args, dict(self.kwargs, **{self._names()[i]: t})


_signature = functools.lru_cache(maxsize=None)(inspect.signature)  # (once per rule function)


def _check_rule_call(rule, positions, args, kwargs):
    """Refuse what the compiler refuses where it sees the call: arguments the rule's signature
    does not take (``np.add.reduce(x, 0, initial=2.0)``, whose rule has no ``initial``: forward
    mode would have run the call on the tangent, adding 2.0 to it), a write through ``out=``
    (the array written gets no derivative), and a value that carries a derivative where the rule
    gives none though it is not zero (``np.cov``'s ``aweights``)."""
    try:
        sig = _signature(rule.vjp if rule.vjp is not None else rule.jvp)
    except (TypeError, ValueError):  # (no rule function, or one without a signature)
        return
    try:
        bound = sig.bind(None, None, *args, **kwargs).arguments
    except TypeError as e:
        raise NoRuleError(
            f"{rule.name}, called through a value met at run time, gets arguments its derivative "
            f"rule does not take ({e}): its derivative would not account for them; call it "
            f"without them, or register a rule that takes them (sourcediff.defvjp)") from None
    if bound.get("out") is not None or rule.writes is not None:
        raise NoRuleError(
            f"{rule.name}, called through a value met at run time, writes its result into an "
            f"array it is given (out=), which sourcediff does not follow: the derivative would "
            f"miss the write. Assign the result instead (y = f(...))")
    for i in positions:
        name = rule.unimplemented_at(i)
        if name is not None:
            raise NoRuleError(
                f"{rule.name}, called through a value met at run time, gets a value that carries "
                f"a derivative as its {name} argument, and its derivative rule has no derivative "
                f"with respect to {name}: it would be dropped. If {name} is meant as a constant, "
                f"pass sourcediff.stop_gradient of it; to differentiate through it, register a "
                f"rule that gives that derivative (sourcediff.defvjp)")


def _rule_position(rule, a, n_args):
    """The position in ``rule``'s vjp of argument ``a`` (a position, or a keyword's name)."""
    if not isinstance(a, str):
        return a
    names = list(inspect.signature(rule.vjp).parameters)[2:]
    if a not in names:
        raise SourcediffError(f"{rule.name} takes no argument {a!r} that carries a derivative")
    return names.index(a)


class _VectorizedCall:
    """``f(x, y)`` with ``f = np.vectorize(scalar_fn)``: elementwise, so the derivative with
    respect to each argument is, element by element, the scalar function's derivative there, got
    from its generated jvp form with the tangent 1.0 (one call per element: a Python loop, as
    np.vectorize's own)."""

    def __init__(self, vec, active, args, kwargs, value):
        if vec.signature is not None or vec.excluded or any(isinstance(a, str) for a in active):
            raise NoRuleError(
                "np.vectorize with signature= or excluded=, or a value that carries a "
                "derivative passed to it by keyword: sourcediff differentiates np.vectorize of "
                "a scalar function called with positional arguments; call the scalar function "
                "in a loop, or write it with numpy's elementwise functions (np.where for the "
                "branches)")
        self.vec, self.active, self.args, self.kwargs, self.value = \
            vec, active, args, kwargs, value

    def partial(self, i):
        """d f / d args[i], element by element, shaped like the result."""
        fn = self.vec.pyfunc
        items = np.broadcast_arrays(*[np.asarray(a) for a in self.args])
        shape = np.shape(self.value)
        out = np.zeros(shape, dtype=np.result_type(self.value, float))
        if not out.size:
            return out
        first = [a[(0,) * a.ndim] for a in items]
        # (the parameter args[i] meets: a named one, or an item of a wrapper's *args, whose
        # tangent is then the tuple with 1.0 at that item)
        params, ((_, item),) = _active_params(fn, (i,), first, self.kwargs)
        jf = hooks.jvp_form(fn, params)
        one = 1.0
        if item is not None:
            collected = bind_code(fn, first, self.kwargs)[1].arguments[params[0]]
            one = tuple(1.0 if k == item else zeros_like_grad(a) for k, a in enumerate(collected))
        tangent = {jf.__sourcediff_tangent_names__[params[0]]: one}
        for idx in np.ndindex(shape):
            out[idx] = jf(*[a[idx] for a in items], **self.kwargs, **tangent)[1]
        return out

    def grads(self, out_bar):
        out_bar = cast_grad(out_bar, self.value)
        return tuple(unbroadcast(out_bar * self.partial(i), self.args[i]) for i in self.active)

    def tangent(self, tangents):
        total = 0.0
        for i, t in zip(self.active, tangents):
            if not is_zero_grad(t):
                total = add_grads(total, broadcast_tangent(t * self.partial(i), self.value))
        return total if is_zero_grad(total) else cast_grad(total, self.value)


class _VectorizedClosure:
    """``f(x)`` with ``f = np.vectorize(g)`` and ``g`` a closure over values that carry
    derivatives (the vectorize object carries them: its cotangent is ``{"pyfunc": g's}``): each
    element runs through ``g``'s forms with the closure active (a Python loop, as
    np.vectorize's own), the closure's cotangents summed over the elements, the arguments'
    placed element by element."""

    def __init__(self, vec, active, args, kwargs, value):
        if vec.signature is not None or vec.excluded or kwargs or \
                any(isinstance(a, str) for a in active):
            raise NoRuleError(
                "np.vectorize of a function that reads values carrying derivatives, with "
                "signature=, excluded= or keyword arguments: sourcediff differentiates it "
                "called with positional arguments; call the function in a loop instead")
        self.vec, self.active, self.value = vec, active, value
        self.items = np.broadcast_arrays(*[np.asarray(a) for a in args])
        self.args, self.shape = args, np.shape(value)

    def _at(self, idx):
        return [a[idx] for a in self.items]

    def grads(self, out_bar):
        out_bar = np.broadcast_to(np.asarray(cast_grad(out_bar, self.value)), self.shape)
        held = 0.0
        parts = [np.zeros(self.shape, dtype=np.result_type(self.value, float))
                 for _ in self.active]
        for idx in np.ndindex(self.shape):
            _, state = dynamic_fwd(self.vec.pyfunc, (-1,) + tuple(self.active), *self._at(idx))
            grads = dynamic_bwd(state, out_bar[idx])
            held = add_grads(held, grads[0])
            for part, g in zip(parts, grads[1:]):
                part[idx] = 0.0 if is_zero_grad(g) else g
        return (GradDict({"pyfunc": held}),) + tuple(
            unbroadcast(part, self.args[i]) for part, i in zip(parts, self.active))

    def tangent(self, tangents):
        held = item_grad(tangents[0], "pyfunc")
        rest = [np.broadcast_to(np.asarray(t), self.shape) for t in tangents[1:]]
        out = np.zeros(self.shape, dtype=np.result_type(self.value, float))
        for idx in np.ndindex(self.shape):
            _, t = dynamic_jvp(self.vec.pyfunc, (-1,) + tuple(self.active), *self._at(idx),
                               tangents=(held,) + tuple(r[idx] for r in rest))
            out[idx] = 0.0 if is_zero_grad(t) else t
        return cast_grad(out, self.value)


def _rule_of(fn):
    """The derivative rule of a primitive met at run time, or None."""
    try:
        return registry.lookup(fn)
    except TypeError:  # an unhashable callable
        return None


def _unpartial(fn, active, args, kwargs):
    """``functools.partial(f, *a, **k)`` called with ``args``/``kwargs`` as a call of ``f``, the
    active positions shifted past the partial's own arguments (which carry no derivative); and
    ``np.vectorize(u)`` of a ufunc (no otypes=, signature=, excluded=) as a call of ``u``."""
    while isinstance(fn, functools.partial):
        active = tuple(a if isinstance(a, str) else a + len(fn.args) for a in active)
        args, kwargs = fn.args + tuple(args), {**fn.keywords, **kwargs}
        fn = fn.func
    if isinstance(fn, np.vectorize) and isinstance(fn.pyfunc, np.ufunc) and \
            fn.signature is None and not fn.excluded and fn.otypes is None:
        fn = fn.pyfunc  # (np.vectorize(np.sin): the ufunc itself, elementwise already)
    return fn, active, args, kwargs


def _closure_call(fn, active, args, kwargs):
    """A ``functools.partial`` that carries derivatives through the values it binds (an inner
    function or lambda lifted with what it reads of its enclosing function, a user's
    ``partial(f, W)``), called: ``(held, partial, args, kwargs)`` where ``held`` are the
    positions and keywords of the bound values that may carry a derivative (those holding
    floats; the cotangent of the partial is theirs, keyed so, see resolve's "closure"): ``(held,
    partial of the rest, active, args, kwargs)``, the bound values passed as the call's first
    arguments and its keywords, the call's own active positions ``active`` moved past them."""
    flat = fn
    while isinstance(flat.func, functools.partial):  # (a subclass: functools flattens its own)
        flat = functools.partial(flat.func.func, *flat.func.args, *flat.args,
                                 **{**flat.func.keywords, **flat.keywords})
    held = tuple(k for k, v in enumerate(flat.args) if holds_floats(v, opaque=False)) + tuple(
        k for k, v in flat.keywords.items() if k not in kwargs and holds_floats(v, opaque=False))
    bound = {k: v for k, v in flat.keywords.items() if k not in held}
    shift = len(flat.args)
    moved = tuple(a if isinstance(a, str) else a + shift for a in active)
    return held, functools.partial(flat.func, **bound), moved, flat.args + tuple(args), \
        {**{k: flat.keywords[k] for k in held if isinstance(k, str)}, **kwargs}


class _ClosureGrad:
    """The backward of a call of a partial that carries derivatives (:func:`_closure_call`): its
    cotangent is the bound values', keyed by position and keyword."""

    def __init__(self, bwd, held):
        self.bwd, self.held = bwd, held


def _receiver_call(fn, active, args, what):
    """A call whose callable carries derivatives itself (``active`` starts with -1): a method
    of an object the gradient is taken with respect to (``model.forward(x)``), or such an object
    called (``layer(x)``, its Python ``__call__``), as the call of the method's function with the
    object as its first, active, argument: ``(target, active, args)``. A callable that holds no
    parameters (``self.act = np.tanh``) is called as it is, its "receiver" getting no gradient
    (``target`` None); one that holds floats (a closure or functools.partial over arrays) is
    refused: sourcediff cannot give their gradients back."""
    active = tuple(a + 1 if isinstance(a, int) else a for a in active)
    if inspect.ismethod(fn) and inspect.isfunction(fn.__func__) and \
            not isinstance(fn.__self__, type) and is_model_object(fn.__self__):
        obj, function = fn.__self__, fn.__func__
    elif (is_model_object(fn) or _container_subclass(fn)) and \
            inspect.isfunction(getattr(type(fn), "__call__", None)):
        obj, function = fn, type(fn).__call__
    else:
        _refuse_holding_floats(fn, what)
        return None, None, None
    return hooks.method_of(function, type(obj)), (0,) + active, (obj,) + tuple(args)


def _container_subclass(x):
    """A list, tuple or dict of a class of the user's (``class Chain(list)`` with a ``__call__``):
    called, it is the receiver of its method and carries the derivative of its items."""
    return isinstance(x, (list, tuple, dict)) and type(x) not in (list, tuple, dict)


def _refuse_holding_floats(fn, what):
    """Refuse a function that holds floats through a closure or a functools.partial, reached as
    an attribute of an object that carries derivatives: its values would be constants."""
    if isinstance(fn, functools.partial):
        held = [fn.func] + list(fn.args) + list(fn.keywords.values())
    elif inspect.ismethod(fn):  # (self.head_fn = self.head.forward: the head's arrays)
        held = [fn.__self__]
    else:
        held = [c.cell_contents for c in (getattr(fn, "__closure__", None) or ())]
    if any(is_float_leaf(v) or object_float_leaves(v) for v in held):
        inner = fn.func if isinstance(fn, functools.partial) else fn
        raise NoRuleError(
            f"{what}: the call reaches {getattr(inner, '__qualname__', type(inner).__name__)}, a "
            f"function that holds float values (a closure, a lambda, or a functools.partial), "
            f"taken from an object that carries derivatives; sourcediff gives what a function "
            f"value holds its derivatives where the function is held in a variable or passed "
            f"as an argument, not stored in an object. Pass the function as an argument "
            f"(def run(self, f, x): return f(x)), or store the arrays as attributes and pass "
            f"them to a module-level function or a method as arguments")


def method_call(obj, name, *args, **kwargs):
    """``obj.name(*args, **kwargs)``: how generated code calls a method of an object that carries
    derivatives (a model the gradient is taken with respect to), through :func:`dynamic_fwd`."""
    return getattr(obj, name)(*args, **kwargs)


def _method_call_fwd(active, args, kwargs):
    """:func:`dynamic_fwd` of ``method_call(obj, name, *rest)`` with obj active (``active[0] ==
    0``): a method of obj runs with obj as its active first argument; an attribute holding a
    callable object (``self.out(h)``, a layer) runs as that object's call, its gradient given
    back as obj's under that name; a function obj holds that is no parameter of it
    (``self.act = np.tanh``) runs as it is, obj getting no gradient."""
    obj, name, rest = args[0], args[1], args[2:]
    rest_active = tuple(a - 2 if isinstance(a, int) else a for a in active[1:])
    fn = getattr(obj, name)
    if isinstance(obj, super) and is_model_object(obj.__self__):  # (super().forward(x))
        obj = obj.__self__
    what = f"{type(obj).__name__}.{name}"
    if inspect.ismethod(fn) and fn.__self__ is obj and inspect.isfunction(fn.__func__):
        target = hooks.method_of(fn.__func__, type(obj))
        moved = (0,) + tuple(a + 1 if isinstance(a, int) else a for a in rest_active)
        params, where = _active_params(target, moved, (obj,) + rest, kwargs)
        fwd = hooks.split_form(target, params)
        value, saved = fwd(obj, *rest, **kwargs)
        return value, (fwd.__sourcediff_bwd__, saved, where)
    if (is_model_object(fn) or _container_subclass(fn)) and \
            inspect.isfunction(getattr(type(fn), "__call__", None)):
        value, (bwd, saved, where) = dynamic_fwd(fn, (-1,) + rest_active, *rest, **kwargs)
        return value, (_HeldGrad(bwd, name), saved, where)
    _refuse_holding_floats(fn, what)
    value, (bwd, saved, where) = dynamic_fwd(fn, rest_active, *rest, **kwargs)
    return value, (_NoReceiverGrad(bwd), saved, where)


class _HeldGrad:
    """The backward of ``obj.name(x)`` where obj.name is a callable object (a layer): its
    gradient is obj's gradient under ``name``."""

    def __init__(self, bwd, name):
        self.bwd, self.name = bwd, name


def dynamic_fwd(fn, active, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` once through its forward form, for a callable sourcediff meets
    only at run time (``self.act_fn(z)``, ``layer.forward(h)`` over a list of layers, a function
    passed as an argument, a ``functools.partial``); ``active`` are the positions (and keyword
    names) of the arguments that carry derivatives. Returns ``(value, state)``;
    :func:`dynamic_bwd` takes the state. The forms are compiled once per function (per class for
    a method) and cached; a primitive with a rule (``np.tanh``) runs with its rule."""
    if fn is method_call and active and active[0] == 0:
        return _method_call_fwd(active, args, kwargs)
    what = _qualname(fn)
    if active and active[0] == -1 and isinstance(fn, functools.partial):
        held, inner, moved, args, kwargs = _closure_call(fn, active[1:], args, kwargs)
        value, (bwd, saved, where) = dynamic_fwd(inner, held + moved, *args, **kwargs)
        return value, (_ClosureGrad(bwd, held), saved, where)
    if active and active[0] == -1 and isinstance(fn, np.vectorize):
        value = fn(*args, **kwargs)
        return value, (_VectorizedClosure(fn, active[1:], args, kwargs, value), None, None)
    if active and active[0] == -1:  # (the callable carries derivatives: model.forward)
        target, moved, moved_args = _receiver_call(fn, active[1:], args, what)
        if target is None:  # (a function held by the object, no parameter of it: no gradient)
            value, (bwd, saved, where) = dynamic_fwd(fn, active[1:], *args, **kwargs)
            return value, (_NoReceiverGrad(bwd), saved, where)
        params, where = _active_params(target, moved, moved_args, kwargs)
        fwd = hooks.split_form(target, params)
        value, saved = fwd(*moved_args, **kwargs)
        return value, (fwd.__sourcediff_bwd__, saved, where)
    fn, active, args, kwargs = _unpartial(fn, active, args, kwargs)
    rule = _rule_of(fn)
    if rule is not None:
        value = fn(*args, **kwargs)
        return value, (_RuleCall(rule, active, args, kwargs, value), None, None)
    if isinstance(fn, np.vectorize):
        value = fn(*args, **kwargs)
        return value, (_VectorizedCall(fn, active, args, kwargs, value), None, None)
    target = _dynamic_target(fn, what)
    params, where = _active_params(target, active, args, kwargs)
    fwd = hooks.split_form(target, params)
    value, saved = fwd(*args, **kwargs)
    return value, (fwd.__sourcediff_bwd__, saved, where)


def run_for_effect(fn, active, *args, **kwargs):
    """``fn(*args, **kwargs)`` called for its effect alone with arguments that carry derivatives
    (at the positions and keywords ``active``), for a callable met at run time: user code runs
    through its forward form (:func:`dynamic_fwd`), whose checks see what it stores in objects;
    the value is returned and nothing flows back through it."""
    return dynamic_fwd(fn, active, *args, **kwargs)[0]


class _NoReceiverGrad:
    """The backward of a call through a function an object holds that carries no parameter of
    it (``self.act(z)``): the receiver's gradient is zero, the arguments' are the call's."""

    def __init__(self, bwd):
        self.bwd = bwd


def dynamic_bwd(state, out_bar):
    """The gradients of the arguments :func:`dynamic_fwd` marked active, in its order."""
    bwd, saved, where = state
    if type(bwd) is _NoReceiverGrad:
        return (0.0,) + tuple(dynamic_bwd((bwd.bwd, saved, where), out_bar))
    if type(bwd) is _ClosureGrad:
        grads = dynamic_bwd((bwd.bwd, saved, where), out_bar)
        n = len(bwd.held)
        return (GradDict(zip(bwd.held, grads[:n])),) + tuple(grads[n:])
    if type(bwd) is _HeldGrad:
        grads = dynamic_bwd((bwd.bwd, saved, where), out_bar)
        return (GradDict({bwd.name: grads[0]}),) + tuple(grads[1:])
    if type(bwd) is _RuleCall or type(bwd) is _VectorizedCall or type(bwd) is _VectorizedClosure:
        return bwd.grads(out_bar)
    return _per_argument(bwd(saved, **{bwd.__sourcediff_cotangent_name__: out_bar}), where)


def dynamic_jvp(fn, active, *args, tangents=(), **kwargs):
    """``(value, tangent)`` of ``fn(*args, **kwargs)`` for a callable met at run time, with one
    tangent per entry of ``active`` (forward mode's :func:`dynamic_fwd`)."""
    if active and active[0] == -1 and isinstance(fn, functools.partial):
        held, inner, moved, args, kwargs = _closure_call(fn, active[1:], args, kwargs)
        bound = [item_grad(tangents[0], k) for k in held]
        keep = [k for k, t in enumerate(bound) if not is_zero_grad(t)] or \
            ([] if moved else list(range(len(held)))[:1])  # (a jvp form takes one tangent)
        return dynamic_jvp(inner, tuple(held[k] for k in keep) + moved, *args,
                           tangents=tuple(bound[k] for k in keep) + tuple(tangents[1:]), **kwargs)
    if active and active[0] == -1 and isinstance(fn, np.vectorize):
        value = fn(*args, **kwargs)
        return value, _VectorizedClosure(fn, active[1:], args, kwargs, value).tangent(tangents)
    if active and active[0] == -1 and (is_zero_grad(tangents[0]) or inspect.isfunction(fn) or
                                       not holds_floats(fn, opaque=False)):
        # (a plain function where a closure over values that carry derivatives may be, as in a
        # list of both given to np.piecewise: it carries none; its tangent is zeros_like's. So
        # does a callable that holds no floats, np.sin taken out of a tuple (g, s) = (np.sin,
        # x * 2.0) that carries x's tangent: refused as "an object" before)
        return dynamic_jvp(fn, active[1:], *args, tangents=tangents[1:], **kwargs)
    if active and active[0] == -1:
        raise NoRuleError(
            f"{getattr(fn, '__qualname__', type(fn).__name__)}: forward mode does not yet "
            f"differentiate with respect to an object (a method or __call__ of a model the "
            f"derivative is taken with respect to); reverse mode does (sd.grad, "
            f"sd.value_and_grad), or pass the arrays in a dict for forward mode")
    fn, active, args, kwargs = _unpartial(fn, active, args, kwargs)
    rule = _rule_of(fn)
    if rule is not None:
        value = fn(*args, **kwargs)
        return value, _RuleCall(rule, active, args, kwargs, value).tangent(tangents)
    if isinstance(fn, np.vectorize):
        value = fn(*args, **kwargs)
        return value, _VectorizedCall(fn, active, args, kwargs, value).tangent(tangents)
    target = _dynamic_target(fn, _qualname(fn))
    params, where = _active_params(target, active, args, kwargs)
    per_param = [None] * len(params)
    for (k, i), t in zip(where, tangents):
        if i is None:
            per_param[k] = t
        else:  # (an item of *args or **kwargs: the tuple's or dict's tangent, zeros for the
            # items that carry none)
            collected = bind_code(target, args, kwargs)[1].arguments[params[k]]
            if isinstance(collected, dict):
                items = dict(per_param[k]) if per_param[k] is not None else \
                    {key: zeros_like_grad(a) for key, a in collected.items()}
                items[i] = t
                per_param[k] = items
                continue
            items = list(per_param[k]) if per_param[k] is not None else \
                [zeros_like_grad(a) for a in collected]
            items[i] = t
            per_param[k] = tuple(items)
    jf = hooks.jvp_form(target, params)
    names = jf.__sourcediff_tangent_names__
    return jf(*args, **kwargs, **{names[p]: t for p, t in zip(params, per_param)})


# ---------------------------------------------------------------- calls that pass *args
# ``f(a, *t, b)`` with a value that carries a derivative in ``t``: which positions the items of
# ``t`` take is known at run time only. The generated code passes each positional argument as it
# is written, a starred one as its sequence, with ``spec``: per argument, 0 (a value that carries
# no derivative), 1 (one that carries one), 2 (a starred sequence that carries none) or 3 (a
# starred sequence that does: its items whose leaves are all floats carry one; an int, a string
# or an integer array among them is passed as it is), then one per ``**d`` of the call, passed
# as the dict: 4 (its entries whose leaves are all floats carry one) or 5 (none do). ``names``
# are the keyword arguments that carry one. The call then runs as dynamic_fwd/dynamic_jvp run
# any call met at run time.

def _carries(item, depth=0):
    """Whether an item of a starred sequence or an entry of a ``**d`` carries a derivative: a
    float or a float array, or a list, tuple or dict holding one beside ints or strings
    (``[w, 2]``: passed on as it is, w's derivative was silently dropped)."""
    if _float_leaves(item, "") is None:
        return True
    if depth < 8 and type(item) in (list, tuple, dict):
        return any(_carries(x, depth + 1) for x in (
            item.values() if type(item) is dict else item))
    return is_float_leaf(item)


def _star_layout(spec, groups, objects=False):
    """(flat positional arguments, flat active positions, per argument that carries a derivative:
    (its kind, the indices of its items that carry one, its number of items, the array itself
    for a starred array)). With ``objects`` (reverse mode), an object holding float attributes
    in a starred sequence carries one too: a model the gradient is taken with respect to, as
    the receiver a decorator's ``def wrapper(*args, **kwargs): return fn(*args, **kwargs)``
    passes on from a method of it (it got none, so the model's gradient through such a
    method was silently zero)."""
    args, active, layout, keywords = [], [], [], {}
    for kind, group in zip(spec, groups):
        if kind >= 4:  # (**d: its entries are keyword arguments)
            twice = next((key for key in group if key in keywords), None)
            if twice is not None:  # (Python's TypeError for f(**d, **e) with a key in both)
                raise TypeError(f"got multiple values for keyword argument '{twice}'")
            keywords.update(group)
            if kind == 4:
                layout.append((4, [key for key, item in group.items() if _carries(item)],
                               None, None))
            continue
        items = tuple(group) if kind >= 2 else (group,)
        mine = [k for k, item in enumerate(items)
                if kind == 1 or (kind == 3 and (_carries(item) or (
                    objects and is_model_object(item)
                    and next(iter(object_float_leaves(item, "")), None) is not None)))]
        active.extend(len(args) + k for k in mine)
        args.extend(items)
        if kind in (1, 3):  # (a starred array's gradient is an array: its items are rows)
            layout.append((kind, mine, len(items),
                           group if kind == 3 and isinstance(group, np.ndarray) else None))
    return tuple(args), tuple(active), layout, keywords


def _merged_keywords(fn, kwargs, unpacked):
    """The call's keyword arguments with the entries of its ``**d`` (Python's TypeError for a
    keyword given twice)."""
    for key in unpacked:
        if key in kwargs:
            raise TypeError(f"{_qualname(fn)}() got multiple values for keyword argument "
                            f"'{key}'")
    return {**kwargs, **unpacked}


def _dict_names(layout):
    """The keywords of the call's ``**d`` entries that carry a derivative, in layout order."""
    return tuple(key for kind, mine, _, _ in layout if kind == 4 for key in mine)


def _refuse_star_writes(fn):
    """A function that writes into its parameters in place, given values through ``*seq``:
    which of them it writes into is known only here, and sourcediff gives such a helper copies
    of what it writes into only for arguments passed one by one (the caller would see numpy's
    write; the derivative would not): refused, as the compiler refuses it where it sees the
    callee."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    target = fn.__func__ if inspect.ismethod(fn) else fn
    written = hooks.mutated_params(target) if inspect.isfunction(target) else {}
    if written:
        param, line = next(iter(written.items()))
        where = os.path.basename(target.__code__.co_filename)
        raise SourcediffError(
            f"{where}:{line}: {target.__qualname__} writes into its parameter {param} in place, "
            f"and it is called with *args or **kwargs that carry derivatives; pass its arguments "
            f"one by one so sourcediff can give it copies, or make it return a new array")


def star_fwd(fn, spec, names, *groups, **kwargs):
    """``fn(*flattened groups, **kwargs)`` through its forward form: ``(value, state)`` for
    :func:`star_bwd` (see the comment above)."""
    _refuse_star_writes(fn)
    callee = spec[:1] == (-1,)  # (the callee carries derivatives: a closure, a model)
    args, active, layout, unpacked = _star_layout(spec[callee:], groups, objects=True)
    value, state = dynamic_fwd(fn, (-1,) * callee + active + tuple(names) + _dict_names(layout),
                               *args, **_merged_keywords(fn, kwargs, unpacked))
    return value, (state, layout, len(active), len(names), callee)


def star_bwd(state, out_bar):
    """The gradients of the arguments star_fwd was told carry derivatives, one per argument in
    its order (a starred sequence's: a list, 0.0 for its items that carry none; a ``**d``'s: a
    dict of its entries that carry one), then one per keyword in ``names``; first the callee's,
    when it carries derivatives (spec starting with -1)."""
    inner, layout, n, n_names, callee = state
    grads = dynamic_bwd(inner, out_bar)
    out, at, at_dict = list(grads[:callee]), 0, n + n_names
    grads = grads[callee:]
    for kind, mine, length, array in layout:
        if kind == 4:
            out.append(GradDict(zip(mine, grads[at_dict:at_dict + len(mine)])))
            at_dict += len(mine)
            continue
        if kind == 1:
            out.append(grads[at])
        elif array is not None:  # (f(*x) of an array x: x's gradient, row by row)
            whole = np.zeros(array.shape, dtype=np.result_type(array, float))
            for j, k in enumerate(mine):
                if not is_zero_grad(grads[at + j]):
                    whole[k] = grads[at + j]
            out.append(whole)
        else:
            items = [0.0] * length
            for j, k in enumerate(mine):
                items[k] = grads[at + j]
            out.append(GradList(items))
        at += len(mine)
    return tuple(out) + tuple(grads[n:n + n_names])


def star_jvp(fn, spec, names, *groups, tangents=(), **kwargs):
    """``(value, tangent)`` of ``fn(*flattened groups, **kwargs)``: ``tangents`` has one entry
    per argument that carries a derivative (a starred sequence's: the tangent of the sequence),
    then one per keyword in ``names``."""
    _refuse_star_writes(fn)
    callee = spec[:1] == (-1,)
    head, tangents = tangents[:callee], tangents[callee:]
    args, active, layout, unpacked = _star_layout(spec[callee:], groups)
    flat, from_dicts = [], []
    for (kind, mine, _, _), t in zip(layout, tangents):
        (from_dicts if kind == 4 else flat).extend(
            [t] if kind == 1 else [item_grad(t, k) for k in mine])
    flat += list(tangents[len(layout):]) + from_dicts
    keep = [k for k, t in enumerate(flat) if not is_zero_grad(t)] or list(range(len(flat)))[:1]
    # (an item whose tangent is the symbolic zero carries none: x of a wrapper's (w, x) when
    # only w does; the callee's jvp form would take 0.0 for an array)
    every = active + tuple(names) + _dict_names(layout)
    return dynamic_jvp(fn, (-1,) * callee + tuple(every[k] for k in keep), *args,
                       tangents=head + tuple(flat[k] for k in keep),
                       **_merged_keywords(fn, kwargs, unpacked))
