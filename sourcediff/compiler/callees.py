"""The compiled forms of the user functions a function calls, as the compiler asks for them.

Differentiating ``f`` that calls the user's ``helper`` needs ``helper``'s own generated forms
(its split form in reverse mode, its jvp form in forward mode), and making those is the whole
pipeline again plus the cache: ``sourcediff/compiled.py``, which sits above the compiler. It sets
them in ``runtime.hooks`` when it is imported (generated code that meets a user function only at
run time, ``_sd.dynamic_fwd``, asks the same hooks), so the compiler asks here and never imports
upward.
"""

from .. import runtime
from ..errors import NoRuleError, NoSourceError, SourcediffError, SourcediffSyntaxError
from ..rules import registry
from .resolve import runtime_helper


def split_form(fn, active_params):
    """``fn``'s forward form (``fwd.__sourcediff_bwd__`` is its backward form)."""
    return runtime.hooks.split_form(fn, active_params)


def jvp_form(fn, active_params):
    """``fn``'s jvp form."""
    return runtime.hooks.jvp_form(fn, active_params)


def called_form(make, callee, active_params, where, text=""):
    """``make(callee, params)``, with the call site added to a NoSourceError/SyntaxError."""
    try:
        return make(callee, tuple(active_params))
    except SourcediffError as exc:
        written = _written_for(callee)
        if written is not None:  # (scipy.stats.t.cdf in df: its written form's refusal)
            raise NoRuleError(
                f"{where}: sourcediff differentiates {written} as the function _sd."
                f"{callee.__name__} written in functions with rules, and that has no derivative "
                f"here: {str(exc).splitlines()[0]}\n    {text}\nLeave that argument out of wrt "
                f"(or sourcediff.stop_gradient it), or register a rule for {written} with "
                f"sourcediff.defvjp") from None
        if runtime_helper(callee):  # (a rule's helper, met in the gradient of generated code)
            name = getattr(callee, "__name__", callee)
            users = _rules_calling(name)
            if users:  # (np.linalg.multi_dot's, in its hessian: name what the user wrote)
                raise NoRuleError(
                    f"{where}: sourcediff has no derivative of the derivative of {users}: its "
                    f"rule computes the first one with _sd.{name}, which has no rule of its own."
                    f"\n    {text}\nUse a derivative of lower order "
                    f"through {users}, or write it with operations that have second derivatives "
                    f"(np.linalg.multi_dot([a, b, c]) as a @ b @ c)") from None
            raise NoRuleError(
                f"{where}: sourcediff's helper _sd.{name} has no derivative rule, and its source "
                f"cannot be differentiated either, so code that uses it cannot be differentiated "
                f"again (a higher derivative through the rule that calls it): "
                f"{str(exc).splitlines()[0]}\n    {text}\nUse a derivative of lower order here, "
                f"or register "
                f"a rule for _sd.{name} with sourcediff.defvjp") from None
        if not isinstance(exc, (NoSourceError, SourcediffSyntaxError)):
            raise
        name = getattr(callee, '__qualname__', callee)
        advice = ""
        if isinstance(exc, NoSourceError) and "sourcediff.defvjp" not in str(exc):
            # a called function can also be treated as a primitive: give it a rule
            advice = f", or register a derivative rule for {name} with sourcediff.defvjp"
        raise type(exc)(f"{where}: in the call to {name}: {exc}{advice}") from None


def _written_for(callee):
    """The name of the library function ``callee`` is the written form of (registry.defwritten),
    or None."""
    for key, fn in registry.all_written().items():
        if fn is callee:
            owner = getattr(key, "__self__", None)
            name = getattr(key, "__name__", repr(key))
            if owner is not None and getattr(owner, "name", None):  # (a scipy.stats method)
                return f"scipy.stats.{owner.name}.{name}"
            return f"{getattr(key, '__module__', '') or ''}.{name}".lstrip(".")
    return None


def _rules_calling(helper):
    """The names of the primitives whose vjp or jvp rule calls the runtime helper ``helper``
    (``np.linalg.multi_dot`` for multi_dot_grads), joined for a message, or None."""
    found = []
    for rule in registry.all_rules():
        code = [getattr(f, "__code__", None) for f in (rule.vjp, rule.jvp)]
        if any(c is not None and helper in c.co_names for c in code) and \
                not runtime_helper(rule.key):
            found.append(rule.name)
    return " and ".join(sorted(set(found))) or None
