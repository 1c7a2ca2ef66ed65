"""The compiled forms of the user functions a function calls, as the compiler asks for them.

Differentiating ``f`` that calls the user's ``helper`` needs ``helper``'s own generated forms
(its split form in reverse mode, its jvp form in forward mode), and making those is the whole
pipeline again plus the cache: ``sourcediff/compiled.py``, which sits above the compiler. It
hands its two functions in here when it is imported, so the compiler asks this module and never
imports upward. Generated code that meets a user function only at run time (``_sd.dynamic_fwd``)
asks the same two.
"""

_forms = {}


def provide(split_form, jvp_form):
    """Called once by ``sourcediff.compiled``: the functions that compile (and cache) a user
    function's split form and jvp form for a tuple of active parameter names."""
    _forms["split"], _forms["jvp"] = split_form, jvp_form


def split_form(fn, active_params):
    """``fn``'s forward form (``fwd.__sourcediff_bwd__`` is its backward form)."""
    return _forms["split"](fn, active_params)


def jvp_form(fn, active_params):
    """``fn``'s jvp form."""
    return _forms["jvp"](fn, active_params)
