"""The rule table: one derivative rule per differentiable primitive, keyed by the real Python object.

A vjp rule is an ordinary function ``rule(g, ans, *args, **kwargs)`` over numpy values. ``g`` is the
gradient flowing into the result ``ans``; ``args``/``kwargs`` are the primitive's own arguments, with the
same names and defaults as the primitive. It returns a tuple with one entry per leading positional
parameter: the contribution to that argument's gradient, or the literal ``None`` where the parameter is
not differentiable. Broadcasting is not the rule's business: for rules declared ``broadcast=True`` the
engine sums each contribution back to its argument's shape.

The same function serves every mode: source mode quotes its body and inlines it into generated code,
tape mode calls it, and forward mode derives the jvp from it according to ``kind``:

- ``"elementwise"``: contributions are ``g * d_i`` with a pointwise derivative, so the jvp contribution of
  argument i is the same expression with the tangent in place of ``g``.
- ``"linear"``: the primitive is linear in each differentiable argument separately (``reshape``, ``sum``,
  ``matmul``, ``multiply``): the jvp contribution of argument i is the primitive applied with the tangent
  in place of argument i.
- ``"custom"``: a jvp rule with the same signature is registered with :func:`defjvp`; ``g`` is then the
  tangent of the argument whose contribution is asked for.

Example::

    import numpy as np
    from sourcediff.registry import defvjp

    @defvjp(np.sin, kind="elementwise")
    def sin(g, ans, x):
        return (g * np.cos(x),)
"""

import threading

_lock = threading.RLock()
_rules = {}
_nondiff = {}  # key -> the reason its result carries no derivative
_version = [0]


class Rule:
    """One primitive's derivative rules (see the module docstring for the contract)."""

    __slots__ = ("key", "name", "vjp", "jvp", "kind", "broadcast", "torch_name", "pair_jvp")

    def __init__(self, key, name, vjp, kind, broadcast, torch_name=None):
        self.key = key
        self.name = name
        self.vjp = vjp
        self.jvp = None
        self.kind = kind
        self.broadcast = broadcast
        self.torch_name = torch_name
        # a jvp of JAX's form, ``pair_jvp(primals, tangents) -> (out, out_dot)`` (sd.custom_jvp):
        # forward mode calls it in place of the primitive; reverse mode refuses (no vjp)
        self.pair_jvp = None

    def __repr__(self):
        return f"<Rule {self.name} kind={self.kind}>"


def _key_name(key):
    name = getattr(key, "__qualname__", None) or getattr(key, "__name__", None)
    module = getattr(key, "__module__", None) or ""
    if name is None:
        return repr(key)
    if module in ("numpy", "numpy.linalg") or module.startswith("numpy."):
        module = "np.linalg" if "linalg" in module else "np"
    if isinstance(key, property) or type(key).__name__ in ("getset_descriptor", "member_descriptor"):
        return f"ndarray.{key.__name__}"
    return f"{module}.{name}" if module and module != "builtins" else name


def present(owner, *names):
    """The attributes ``names`` of ``owner`` that exist in the installed Python and numpy, as a tuple.

    For keys that only newer versions have (``math.exp2`` from Python 3.11, ``np.ndarray.mT`` from
    numpy 2.0), so that a rule is registered for them only where they exist::

        @defvjp(np.exp2, *present(math, "exp2"), kind="elementwise")
    """
    return tuple(getattr(owner, name) for name in names if hasattr(owner, name))


def defvjp(*keys, kind="custom", broadcast=False, torch_name=None):
    """Register ``fn`` as the vjp rule of every primitive in ``keys``; returns ``fn`` unchanged.

    Example::

        @defvjp(np.exp, kind="elementwise")
        def exp(g, ans, x):
            return (g * ans,)
    """
    if kind not in ("elementwise", "linear", "custom"):
        raise ValueError(f"kind must be 'elementwise', 'linear' or 'custom', not {kind!r}")

    def register(fn):
        with _lock:
            for key in keys:
                _rules[_hashable(key)] = Rule(key, _key_name(key), fn, kind, broadcast, torch_name)
                _nondiff.pop(_hashable(key), None)
            _version[0] += 1
        return fn

    return register


def defjvp(*keys):
    """Attach an explicit jvp rule (same signature and tuple convention as the vjp rule) to ``keys``.

    Example::

        @defjvp(np.linalg.inv)
        def inv_jvp(t, ans, a):
            return (-(ans @ t @ ans),)
    """

    def register(fn):
        with _lock:
            for key in keys:
                rule = _rules.get(_hashable(key))
                if rule is None:
                    raise KeyError(f"register a vjp rule for {_key_name(key)} before its jvp")
                rule.jvp = fn
            _version[0] += 1
        return fn

    return register


def defpairjvp(key, fn, vjp_stand_in):
    """Register ``fn(primals, tangents) -> (out, out_dot)`` (JAX's custom_jvp contract) as the
    forward rule of ``key``; ``vjp_stand_in`` stands for its missing vjp rule (its signature says
    which arguments the result depends on; reverse mode refuses before calling it)."""
    with _lock:
        rule = Rule(key, _key_name(key), vjp_stand_in, "custom", False)
        rule.pair_jvp = fn
        _rules[_hashable(key)] = rule
        _nondiff.pop(_hashable(key), None)
        _version[0] += 1
    return fn


def defnondiff(*keys, reason):
    """Declare primitives whose results never carry derivatives, with the reason, which must hold
    for every argument (``np.argmax``: "the result is integers"). A function only some of whose
    arguments carry no derivative (``np.full``'s shape) gets a rule returning None for those.

    Example::

        defnondiff(np.argmax, np.argmin, reason="the result is integers")
    """
    if not isinstance(reason, str) or not reason:
        raise ValueError("defnondiff needs reason=..., why no argument carries a derivative")
    with _lock:
        for key in keys:
            _nondiff[_hashable(key)] = reason
            _rules.pop(_hashable(key), None)
        _version[0] += 1


def _hashable(key):
    try:
        hash(key)
        return key
    except TypeError:
        return ("id", id(key))


def lookup(key):
    """The :class:`Rule` for ``key``, or None."""
    try:
        return _rules.get(key)
    except TypeError:
        return _rules.get(("id", id(key)))


def is_nondiff(key):
    """True when ``key`` is declared non-differentiable."""
    try:
        return key in _nondiff
    except TypeError:
        return ("id", id(key)) in _nondiff


def nondiff_reason(key):
    """Why ``key`` is declared non-differentiable, or None."""
    try:
        return _nondiff.get(key)
    except TypeError:
        return _nondiff.get(("id", id(key)))


def all_nondiff():
    """A snapshot dict of every non-differentiable key and its reason."""
    with _lock:
        return dict(_nondiff)


def version():
    """A counter bumped by every registration, so compiled-code caches can notice new rules."""
    return _version[0]


def all_rules():
    """A snapshot list of every registered :class:`Rule`."""
    with _lock:
        return list(_rules.values())
