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

import ast
import inspect
import textwrap
import threading

import numpy as np

from .stale import compiles_to

_lock = threading.RLock()
_rules = {}
_nondiff = {}  # key -> the reason its result carries no derivative
_declared = {}  # key -> {fact: value} declared for it (by defvjp, defnondiff or deffacts)
_companions = {}  # key -> Facts, for keys with facts but no vjp rule (non-differentiable, writers)
_version = [0]
_names_cache = {}  # predicate -> (version, names): see names_with
_written = {}  # key -> a Python function computing the same in operations with rules (defwritten)


class Facts:
    """Everything the compiler knows about one primitive besides its derivative formula.

    A :class:`Rule` is a ``Facts`` with a derivative; a key without a vjp rule (a non-differentiable
    function, a function that writes into an argument) gets a plain ``Facts`` record, and
    :func:`facts` answers with a record derived from the key alone for keys nobody declared. Each
    field is declared where the key is registered, as a keyword of :func:`defvjp`,
    :func:`defnondiff` or :func:`deffacts`; undeclared fields take the default derived once by
    :func:`_derived` (numpy ufuncs make fresh results and act element by element), else the
    value below.

    - ``view``: True when the result may be a view of (share memory with) its first operand
      (``np.reshape``, ``x.T``, ``x[i]``); False when it never shares memory with any argument (a
      fresh result: ``np.sum``, ``np.zeros``, every ufunc); None when it may hold or be one of its
      arguments in some other way, or nobody said (builtin ``max`` returns one of its arguments).
    - ``full_reduction``: a numpy reduction that, called without ``axis`` and ``keepdims``, gives a
      scalar (``np.sum``, ``x.mean()``, ``np.vdot``).
    - ``rowwise``: how it treats the rows (the first axis) of its operands, for the row-blocking of
      the specializer: ``"elementwise"`` (each entry on its own: ufuncs, ``np.where``), ``"row"``
      (a helper that works on each row independently), or the kind of reduction it computes along
      an axis (``"sum"``, ``"mean"``, ``"max"``, ``"min"``); None for anything else.
    - ``writes``: the position of the argument it writes into (``np.copyto`` writes 0, its ``dst``),
      or None when it writes into nothing it is given. (Methods by name, ``lst.append``,
      ``y.sort()``, are in :data:`sourcediff.rules.facts.METHODS`.)
    - ``nondiff``: the parameter names (after ``g, ans``) of the vjp rule that carry no
      derivative; by default those for which the rule returns the literal ``None``. A
      non-differentiable key has ``reason`` set and no differentiable argument at all.
    - ``unimplemented``: the ones among those whose derivative is not zero but which the rule
      does not give (``np.cov``'s weights): a value that carries a derivative there is refused,
      where in the others (shapes, indices, the sign ``np.copysign`` takes) its derivative is
      zero and is left out.
    - ``zero_safe``: the vjp rule gives right contributions (0.0, or zeros that broadcast) when
      its incoming gradient is the symbolic zero 0.0, so the compiler need not make the gradient
      dense first; None means: decided by looking at the rule's body (reverse mode does).
    - ``passes_zero``: the primitive itself (a runtime helper of the rules, ``_sd.unreduce``)
      gives the symbolic zero back when its first argument is the symbolic zero 0.0 (or zeros
      shaped like the argument it is the gradient of: the product helpers, whose own rules need
      that shape).
    - ``calls_back``: it calls code it is given (``np.vectorize``, the runtime's ``map_list``).
    - ``reads_dicts``: a runtime helper that reads a dict argument and writes into nothing.
    - ``saves``: what the tape must keep from the forward pass for this primitive's backward:
      a tuple of ``"args"`` (the inputs), ``"ans"`` (the result); None means everything the vjp
      rule's signature names (what the tape does now). For the tape to read.
    - ``shapes``: how the specializer learns the type, shape and dtype of its result:
      ``"evaluate"`` when they follow from those of its arguments (and the values of its
      integer arguments, such as ``axis``), so that calling it on stand-in arrays of the
      arguments' shapes and dtypes tells them (``scipy.special.logsumexp``, ``np.linalg.inv``:
      square matrices are tried as identities where zeros raise); ``"float"`` when the result
      is a Python float whenever the call returns (``math.exp``); None when nobody said (the
      result is unknown to the specializer, which keeps the generic code after it).
    - ``shape_args``: for ``shapes="evaluate"``, the arguments whose values (not only their types)
      decide the result's shape, which the specializer must know exactly: ``(position, *names)``
      (``np.reshape``'s ``(1, "newshape", "shape")``), or ``"all"`` (``np.arange``); None when
      shapes, dtypes and integers tell.
    - ``type_only``: the positions of the arguments whose values it never reads, only their type,
      shape and dtype (``_sd.unbroadcast(g, x)``'s ``x``): an array the backward sweep reads only
      there is saved as a stand-in of one element (``runtime.like_of``), not kept whole.
    """

    __slots__ = ("key", "_name", "reason", "view", "full_reduction", "rowwise", "writes",
                 "nondiff", "unimplemented", "zero_safe", "passes_zero", "calls_back",
                 "reads_dicts", "saves", "shapes", "shape_args", "type_only", "_derived_nondiff")

    FIELDS = ("view", "full_reduction", "rowwise", "writes", "nondiff", "unimplemented",
              "zero_safe", "passes_zero", "calls_back", "reads_dicts", "saves", "shapes",
              "shape_args", "type_only")
    DEFAULTS = dict(view=None, full_reduction=False, rowwise=None, writes=None, nondiff=None,
                    unimplemented=(), zero_safe=None, passes_zero=False, calls_back=False,
                    reads_dicts=False, saves=None, shapes=None, shape_args=None, type_only=())

    def __init__(self, key, name=None):
        self.key = key
        self._name = name
        self.reason = None
        self._derived_nondiff = None
        for field, value in _derived(key).items():
            setattr(self, field, value)
        for field, value in _declared.get(_hashable(key), {}).items():
            setattr(self, field, value)

    @property
    def name(self):
        """How messages name the key (``np.sum``, ``ndarray.T``); worked out when first asked."""
        if self._name is None:
            self._name = _key_name(self.key)
        return self._name

    def differentiable(self, position):
        """Whether the argument at ``position`` (0: the first after ``g, ans`` in the vjp rule)
        may carry a derivative: never, without a rule. (A :class:`Rule`: False past the rule's
        returned tuple and where it returns the literal None, True for a rule whose result is
        not a tuple literal.)"""
        return False

    def __repr__(self):
        return f"<Facts {self.name}>"


class Rule(Facts):
    """One primitive's derivative rules (see the module docstring for the contract) and its
    facts (see :class:`Facts`)."""

    __slots__ = ("vjp", "jvp", "kind", "broadcast", "torch_name", "pair_jvp")

    def __init__(self, key, name, vjp, kind, broadcast, torch_name=None):
        super().__init__(key, name)
        self.vjp = vjp
        self.jvp = None
        self.kind = kind
        self.broadcast = broadcast
        self.torch_name = torch_name
        # a jvp of JAX's form, ``pair_jvp(primals, tangents) -> (out, out_dot)`` (sd.custom_jvp):
        # forward mode calls it in place of the primitive; reverse mode refuses (no vjp)
        self.pair_jvp = None

    def nondiff_args(self):
        """The vjp rule's parameters (after ``g, ans``) that carry no derivative: the declared
        ``nondiff``, else those whose entry in the returned tuple is the literal None."""
        if self.nondiff is not None:
            return tuple(self.nondiff)
        params = _rule_params(self.vjp) or []
        return tuple(params[k] for k in sorted(self._returned()[1]) if k < len(params))

    def differentiable(self, position):
        params = (_rule_params(self.vjp) or []) if self.nondiff is not None else []
        if position < len(params):  # (past the named ones, *args: as what the rule returns)
            return params[position] not in self.nondiff
        count, nones = self._returned()
        return count is None or (position < count and position not in nones)

    def unimplemented_at(self, position):
        """The name of the vjp rule's parameter at ``position`` (after ``g, ans``) when it is
        one of the ``unimplemented`` ones (a derivative exists but the rule does not give it),
        else None: what the compiler, the tape and calls met at run time refuse to drop."""
        if not self.unimplemented:
            return None
        params = _rule_params(self.vjp) or []
        name = params[position] if 0 <= position < len(params) else None
        return name if name in self.unimplemented else None

    def _returned(self):
        if self._derived_nondiff is None:
            self._derived_nondiff = _returned_nones(self.vjp)
        return self._derived_nondiff

    def __repr__(self):
        return f"<Rule {self.name} kind={self.kind}>"


def _derived(key):
    """The facts of ``key`` that follow from what it is, before any declaration."""
    out = dict(Facts.DEFAULTS)
    if isinstance(key, np.ufunc):  # (a generalized one, np.matmul, works on whole rows)
        out.update(view=False, rowwise="elementwise" if key.signature is None else None)
    return out


def _rule_params(fn):
    """The vjp rule's parameters after ``g, ans``, or None."""
    try:
        return list(inspect.signature(fn).parameters)[2:]
    except (TypeError, ValueError):
        return None


def _returned_nones(fn):
    """(length of the tuple the rule ``fn`` returns, or None when it returns no tuple literal or
    has no source; the positions in it of the literal None)."""
    try:
        lines, first = inspect.getsourcelines(fn)
        fdef = ast.parse(textwrap.dedent("".join(lines))).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return None, frozenset()
    target = inspect.unwrap(fn)
    if inspect.isfunction(target) and compiles_to(target, lines, first) is False:
        return None, frozenset()  # (its file changed after the import: the text is not the rule)
    body = [s for s in getattr(fdef, "body", ())
            if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if not body or not isinstance(body[-1], ast.Return) or \
            not isinstance(body[-1].value, ast.Tuple):
        return None, frozenset()
    elts = body[-1].value.elts
    return len(elts), frozenset(k for k, e in enumerate(elts)
                                if isinstance(e, ast.Constant) and e.value is None)


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


def defvjp(*keys, kind="custom", broadcast=False, torch_name=None, **facts):
    """Register ``fn`` as the vjp rule of every primitive in ``keys``; returns ``fn`` unchanged.
    Keywords beyond ``kind``, ``broadcast`` and ``torch_name`` declare the keys' facts (the
    fields of :class:`Facts`: ``view=True``, ``full_reduction=True``, ``nondiff=("shape",)``...).

    Example::

        @defvjp(np.exp, kind="elementwise")
        def exp(g, ans, x):
            return (g * ans,)
    """
    if kind not in ("elementwise", "linear", "custom"):
        raise ValueError(f"kind must be 'elementwise', 'linear' or 'custom', not {kind!r}")
    _check_facts(facts)

    def register(fn):
        with _lock:
            for key in keys:
                _declare(key, facts)
                _rules[_hashable(key)] = Rule(key, _key_name(key), fn, kind, broadcast, torch_name)
                _nondiff.pop(_hashable(key), None)
                _companions.pop(_hashable(key), None)
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
        _companions.pop(_hashable(key), None)
        _version[0] += 1
    return fn


def defnondiff(*keys, reason, **facts):
    """Declare primitives whose results never carry derivatives, with the reason, which must hold
    for every argument (``np.argmax``: "the result is integers"). A function only some of whose
    arguments carry no derivative (``np.full``'s shape) gets a rule returning None for those
    (declared with ``nondiff=("shape",)``). Further keywords declare the keys' other facts (the
    fields of :class:`Facts`, ``view=False``...).

    Example::

        defnondiff(np.argmax, np.argmin, reason="the result is integers", view=False)
    """
    if not isinstance(reason, str) or not reason:
        raise ValueError("defnondiff needs reason=..., why no argument carries a derivative")
    _check_facts(facts)
    with _lock:
        for key in keys:
            _declare(key, facts)
            _nondiff[_hashable(key)] = reason
            _rules.pop(_hashable(key), None)
            record = _companions[_hashable(key)] = Facts(key)
            record.reason = reason
        _version[0] += 1


def defwritten(key, fn):
    """Declare that ``key`` (a library function without a rule) is differentiated as ``fn``, the
    same function written in numpy operations that have rules, whose source the compiler
    differentiates in its place (as a user function's), in every mode and order.

    Example::

        defwritten(np.corrcoef, runtime.corrcoef)
    """
    with _lock:
        _written[_hashable(key)] = fn
        _version[0] += 1
    return fn


def written_as(key):
    """The function declared with :func:`defwritten` for ``key``, or None."""
    try:
        return _written.get(key)
    except TypeError:
        return _written.get(("id", id(key)))


def all_written():
    """A snapshot dict of every key declared with :func:`defwritten` and its function."""
    with _lock:
        return dict(_written)


def deffacts(*keys, **facts):
    """Declare facts (the fields of :class:`Facts`) of ``keys``, whether or not they have a rule:
    a function that writes into its argument (``deffacts(np.copyto, writes=0)``), a runtime
    helper that calls code it is given, or a fact shared by keys registered in different places.
    Declared facts outlive a later registration of the same key.

    Example::

        deffacts(np.copyto, np.put, np.place, writes=0)
    """
    _check_facts(facts)
    with _lock:
        for key in keys:
            _declare(key, facts)
            record = _rules.get(_hashable(key)) or _companions.get(_hashable(key))
            if record is None:
                _companions[_hashable(key)] = Facts(key)
            else:
                for field, value in facts.items():
                    setattr(record, field, value)
        _version[0] += 1


def _check_facts(facts):
    unknown = sorted(set(facts) - set(Facts.FIELDS))
    if unknown:
        raise TypeError(f"unknown fact(s) {', '.join(unknown)}: the facts of a primitive are "
                        f"{', '.join(Facts.FIELDS)}")
    if facts.get("view") not in (None, True, False):
        raise ValueError("view must be True (may be a view), False (fresh) or None")
    if facts.get("shapes") not in (None, "evaluate", "float"):
        raise ValueError("shapes must be 'evaluate', 'float' or None")
    args = facts.get("shape_args")
    if args is not None and args != "all" and not (isinstance(args, tuple) and args and
                                                    isinstance(args[0], int)):
        raise ValueError("shape_args must be 'all' or (position, *keyword names)")
    only = facts.get("type_only", ())
    if not (isinstance(only, tuple) and all(isinstance(k, int) for k in only)):
        raise ValueError("type_only must be a tuple of argument positions")


def _declare(key, facts):
    if facts:
        _declared.setdefault(_hashable(key), {}).update(facts)


def facts(key):
    """The :class:`Facts` of ``key``: its :class:`Rule`, its record as a non-differentiable or
    otherwise declared key, or (for any other object) the facts derived from what it is."""
    try:
        hashed = _hashable(key)
        found = _rules.get(hashed) or _companions.get(hashed)
    except TypeError:
        found = None
    return found if found is not None else Facts(key)


def names_with(predicate):
    """The ``__name__`` of every declared key whose facts satisfy ``predicate`` (for stages that
    see only names: a bytecode scan meeting ``LOAD_ATTR copyto``); computed once per version."""
    cached = _names_cache.get(predicate)
    if cached is not None and cached[0] == _version[0]:
        return cached[1]
    with _lock:
        records = list(_rules.values()) + list(_companions.values())
        names = frozenset(getattr(r.key, "__name__", None) for r in records
                          if predicate(r) and isinstance(getattr(r.key, "__name__", None), str))
        _names_cache[predicate] = (_version[0], names)
    return names


def _hashable(key):
    try:
        hash(key)
        return key
    except TypeError:
        return ("id", id(key))


def _as_legacy_draw(key):
    """A draw method of a RandomState or Generator of the user's (``rng.normal`` for ``rng =
    np.random.default_rng(0)``) as numpy's legacy function of that name (``np.random.normal``,
    the global RandomState's method), whose rule it shares: each draw with parameters is the
    same generator's standard draw moved and scaled, bit for bit (tests/test_review35.py checks
    each), and the rules read that standard draw back from the value. Any other key is itself."""
    owner = getattr(key, "__self__", None)
    if not isinstance(owner, (np.random.RandomState, np.random.Generator)):
        return key
    legacy = getattr(np.random.mtrand._rand, getattr(key, "__name__", ""), None)
    return legacy if legacy is not None and legacy in _rules else key


def lookup(key):
    """The :class:`Rule` for ``key``, or None."""
    try:
        return _rules.get(key) or _rules.get(_as_legacy_draw(key))
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
