"""Rules of the user's own: ``custom_vjp``, ``custom_jvp``, ``stop_gradient``, ``nondifferentiable``.

Example::

    import numpy as np
    import sourcediff as sd

    @sd.custom_jvp
    def clipped_log(x):
        return np.log(np.maximum(x, 1e-12))

    @clipped_log.defjvp
    def clipped_log_jvp(primals, tangents):
        (x,), (x_dot,) = primals, tangents
        return clipped_log(x), x_dot / np.maximum(x, 1e-12)

    sd.jvp(clipped_log, (np.ones(2),), (np.ones(2),))     # forward mode uses clipped_log_jvp
"""

import functools
import inspect

from . import tape
from .errors import SourcediffError
from .rules import registry


def custom_vjp(fn):
    """Give a function a rule of your own, used by every mode instead of differentiating its body.

    Example::

        @sd.custom_vjp
        def softplus(x):
            return np.log1p(np.exp(x))

        @softplus.defvjp
        def softplus_vjp(g, ans, x):
            return (g / (1.0 + np.exp(-x)),)

        @softplus.defjvp                    # optional: forward mode (else kind="elementwise" in
        def softplus_jvp(t, ans, x):        # defvjp lets forward mode reuse the vjp rule)
            return (t / (1.0 + np.exp(-x)),)
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if any(isinstance(a, tape.Tensor) for a in args) and registry.lookup(wrapper):
            return tape._array_function(wrapper, args, kwargs)
        return fn(*args, **kwargs)

    def defvjp(rule=None, *, kind="custom"):
        def register(rule):
            registry.defvjp(wrapper, kind=kind)(rule)
            return rule

        return register(rule) if rule is not None else register

    def defjvp(rule):
        if registry.lookup(wrapper) is None:
            raise SourcediffError(f"define the vjp rule of {fn.__qualname__} (@"
                                  f"{fn.__name__}.defvjp) before its jvp rule")
        registry.defjvp(wrapper)(rule)
        return rule

    wrapper.defvjp = defvjp
    wrapper.defjvp = defjvp
    return wrapper


def custom_jvp(fn):
    """Give a function a forward-mode rule of your own, with JAX's contract: ``@f.defjvp`` takes
    ``jvp(primals, tangents) -> (primal_out, tangent_out)``, where ``primals`` are f's positional
    arguments (defaults filled in) and ``tangents`` theirs (zeros for those that carry none).

    Forward mode (``sd.jvp``, ``sd.jacobian(..., mode="forward")``, ``sd.grad(f,
    mode="forward")``) calls the jvp in place of f. Reverse mode and the tape have no vjp to use
    and refuse, naming f: for those, give f a vjp with :func:`custom_vjp`.

    Example::

        @sd.custom_jvp
        def softplus(x):
            return np.log1p(np.exp(x))

        @softplus.defjvp
        def softplus_jvp(primals, tangents):
            (x,), (x_dot,) = primals, tangents
            return softplus(x), x_dot / (1.0 + np.exp(-x))

        sd.jvp(softplus, (0.0,), (1.0,))      # (log 2, 0.5)
    """
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "the function")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        rule = registry.lookup(wrapper)
        if rule is not None and tape.is_grad_enabled() and any(
                isinstance(a, tape.Tensor) and a.requires_grad
                for a in list(args) + list(kwargs.values())):
            raise SourcediffError(_reverse_refusal(name, "the tape (reverse mode)"))
        return fn(*args, **kwargs)

    def defjvp(jvp):
        if not callable(jvp):
            raise SourcediffError(f"@{fn.__name__}.defjvp takes a function jvp(primals, "
                                  f"tangents) -> (primal_out, tangent_out)")
        registry.defpairjvp(wrapper, jvp, _vjp_stand_in(fn, name))
        return jvp

    wrapper.defjvp = defjvp
    return wrapper


def _reverse_refusal(name, where):
    return (f"{name} has a custom jvp rule (@sd.custom_jvp) and no vjp rule, so {where} cannot "
            f"differentiate it: sourcediff does not transpose a custom jvp. Give {name} a vjp with "
            f"@sd.custom_vjp and .defvjp (and .defjvp for forward mode), or use forward mode "
            f"(sd.jvp, sd.jacobian(f, mode='forward'), sd.grad(f, mode='forward'))")


def _vjp_stand_in(fn, name):
    """The rule table's vjp entry of a custom_jvp function: it never runs (reverse mode refuses
    first); its signature, ``(g, ans, <fn's parameters>)``, tells the compiler that every
    argument of fn may carry a derivative into its result."""

    def custom_jvp_has_no_vjp(*args, **kwargs):
        raise SourcediffError(_reverse_refusal(name, "reverse mode"))

    params = list(inspect.signature(fn).parameters.values())
    taken = {p.name for p in params}
    g, ans = (next(n for n in (base, f"{base}_", f"_{base}_sd") if n not in taken)
              for base in ("g", "ans"))
    head = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in (g, ans)]
    custom_jvp_has_no_vjp.__signature__ = inspect.Signature(head + params)
    return custom_jvp_has_no_vjp


def stop_gradient(x):
    """``x`` itself, but no derivative flows through it (in every mode).

    Example::

        def f(x):
            return np.sum(x * sd.stop_gradient(x))    # gradient x, not 2x
    """
    if isinstance(x, tape.Tensor):
        return x.detach()
    return x


registry.defnondiff(stop_gradient, reason="sd.stop_gradient: no derivative flows through it")


def nondifferentiable(fn):
    """Mark a user function as carrying no derivative (its result is a constant); returns it.

    Example::

        @sd.nondifferentiable
        def count_positive(x):
            return float(np.sum(x > 0))
    """
    registry.defnondiff(fn, reason=f"declared by @sourcediff.nondifferentiable on {fn.__qualname__}")
    return fn
