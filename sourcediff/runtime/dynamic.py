"""Calls met only at run time (a method through ``self.act_fn``, a function passed as an
argument, a ``functools.partial``): run through their forward, backward or jvp forms, which the
compiler builds through :mod:`sourcediff.runtime.hooks`; and ``has_aux``'s pair."""

import functools
import inspect
import threading

from ..rules import registry
from ..errors import NoRuleError, SourcediffError
from . import hooks
from .accumulate import GradList, add_grads, cast_grad, is_zero_grad
from .shapes import broadcast_tangent, unbroadcast

__all__ = [
    "aux_first", "aux_grad", "aux_kept", "dynamic_fwd", "run_for_effect", "dynamic_bwd",
    "dynamic_jvp"
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


def _dynamic_target(fn, what):
    """The Python function or bound method behind ``fn`` (an object's Python ``__call__``)."""
    if inspect.isfunction(fn) or (inspect.ismethod(fn) and inspect.isfunction(fn.__func__)):
        return fn
    call = getattr(type(fn), "__call__", None)
    if inspect.isfunction(call):
        return fn.__call__
    raise NoRuleError(
        f"{what}: the call reaches {fn!r} ({type(fn).__name__}), which has neither a derivative "
        f"rule nor Python source sourcediff can transform; register a rule with "
        f"sourcediff.defvjp, or call a Python function")


def _active_params(target, active, args, kwargs):
    sig = inspect.signature(target)
    bound = sig.bind(*args, **kwargs).arguments
    names = list(bound)
    out = []
    for a in active:
        name = a if isinstance(a, str) else None
        if name is None:
            k = 0
            for p in names:
                kind = sig.parameters[p].kind
                count = len(bound[p]) if kind == kind.VAR_POSITIONAL else 1
                if kind in (kind.VAR_KEYWORD, kind.KEYWORD_ONLY):
                    continue
                if a < k + count:
                    name = p
                    break
                k += count
        if name is None or sig.parameters[name].kind in (
                inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise SourcediffError(
                f"{getattr(target, '__qualname__', target)} collects a value that carries a "
                f"derivative in *args/**kwargs; give it one parameter per value")
        out.append(name)
    return tuple(out)


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
                    raise NoRuleError(f"forward mode needs a jvp rule for {self.rule.name}, "
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


def _rule_of(fn):
    """The derivative rule of a primitive met at run time, or None."""
    try:
        return registry.lookup(fn)
    except TypeError:  # an unhashable callable
        return None


def _unpartial(fn, active, args, kwargs):
    """``functools.partial(f, *a, **k)`` called with ``args``/``kwargs`` as a call of ``f``, the
    active positions shifted past the partial's own arguments (which carry no derivative)."""
    while isinstance(fn, functools.partial):
        active = tuple(a if isinstance(a, str) else a + len(fn.args) for a in active)
        args, kwargs = fn.args + tuple(args), {**fn.keywords, **kwargs}
        fn = fn.func
    return fn, active, args, kwargs


def dynamic_fwd(fn, active, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` once through its forward form, for a callable sourcediff meets
    only at run time (``self.act_fn(z)``, ``layer.forward(h)`` over a list of layers, a function
    passed as an argument, a ``functools.partial``); ``active`` are the positions (and keyword
    names) of the arguments that carry derivatives. Returns ``(value, state)``;
    :func:`dynamic_bwd` takes the state. The forms are compiled once per function (per class for
    a method) and cached; a primitive with a rule (``np.tanh``) runs with its rule."""
    fn, active, args, kwargs = _unpartial(fn, active, args, kwargs)
    rule = _rule_of(fn)
    if rule is not None:
        value = fn(*args, **kwargs)
        return value, (_RuleCall(rule, active, args, kwargs, value), None)
    target = _dynamic_target(fn, getattr(fn, "__qualname__", type(fn).__name__))
    fwd = hooks.split_form(target, _active_params(target, active, args, kwargs))
    value, saved = fwd(*args, **kwargs)
    return value, (fwd.__sourcediff_bwd__, saved)


def run_for_effect(fn, active, *args, **kwargs):
    """``fn(*args, **kwargs)`` called for its effect alone with arguments that carry derivatives
    (at the positions and keywords ``active``), for a callable met at run time: user code runs
    through its forward form (:func:`dynamic_fwd`), whose checks see what it stores in objects;
    the value is returned and nothing flows back through it."""
    return dynamic_fwd(fn, active, *args, **kwargs)[0]


def dynamic_bwd(state, out_bar):
    """The gradients of the arguments :func:`dynamic_fwd` marked active, in its order."""
    bwd, saved = state
    if type(bwd) is _RuleCall:
        return bwd.grads(out_bar)
    return bwd(saved, **{bwd.__sourcediff_cotangent_name__: out_bar})


def dynamic_jvp(fn, active, *args, tangents=(), **kwargs):
    """``(value, tangent)`` of ``fn(*args, **kwargs)`` for a callable met at run time, with one
    tangent per entry of ``active`` (forward mode's :func:`dynamic_fwd`)."""
    fn, active, args, kwargs = _unpartial(fn, active, args, kwargs)
    rule = _rule_of(fn)
    if rule is not None:
        value = fn(*args, **kwargs)
        return value, _RuleCall(rule, active, args, kwargs, value).tangent(tangents)
    target = _dynamic_target(fn, getattr(fn, "__qualname__", type(fn).__name__))
    params = _active_params(target, active, args, kwargs)
    jf = hooks.jvp_form(target, params)
    names = jf.__sourcediff_tangent_names__
    return jf(*args, **kwargs, **{names[p]: t for p, t in zip(params, tangents)})
