"""The compiled forms of the user functions a function calls, as the compiler asks for them.

Differentiating ``f`` that calls the user's ``helper`` needs ``helper``'s own generated forms
(its split form in reverse mode, its jvp form in forward mode), and making those is the whole
pipeline again plus the cache: ``sourcediff/compiled.py``, which sits above the compiler. It sets
them in ``runtime.hooks`` when it is imported (generated code that meets a user function only at
run time, ``_sd.dynamic_fwd``, asks the same hooks), so the compiler asks here and never imports
upward.
"""

from .. import runtime


def split_form(fn, active_params):
    """``fn``'s forward form (``fwd.__sourcediff_bwd__`` is its backward form)."""
    return runtime.hooks.split_form(fn, active_params)


def jvp_form(fn, active_params):
    """``fn``'s jvp form."""
    return runtime.hooks.jvp_form(fn, active_params)
