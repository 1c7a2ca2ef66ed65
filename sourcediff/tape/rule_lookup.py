"""Finding a primitive's vjp rule for the tape: the shared rule table plus the tape's own keys."""

import operator

import numpy as np

from ..rules import registry
from .. import rules as _rules  # noqa: F401  (registers the built-in rule table)
from ..errors import NoRuleError
from ..rules.quote import sliced_rule as sliced_vjp  # the one import of quote
from .messages import TapeError
from .tensor_class import Tensor, _getitem


class _ToCopy:
    """The forward of a dtype cast, usable as a rule key and as a callable."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def __call__(self, a):
        if isinstance(a, Tensor):
            return a.to(self.dtype)
        return np.asarray(a).astype(self.dtype)


def _tocopy_vjp(g, ans, a):
    if isinstance(g, Tensor):
        return (g.to(a.dtype),)
    return (np.asarray(g).astype(np.result_type(a)),)


_FALLBACK = {}


def _fallback(*keys, kind="linear"):
    """Tape-local adapters for tape-only primitives, delegating to the shared rules."""

    def register(fn):
        for key in keys:
            _FALLBACK[key] = registry.Rule(key, registry._key_name(key), fn, kind, False)
        return fn

    return register


@_fallback(_getitem)
def _getitem_fallback_vjp(g, ans, a, index):
    return registry.lookup(operator.getitem).vjp(g, ans, a, index)


_FALLBACK[_ToCopy] = registry.Rule(_ToCopy, "ToCopy", _tocopy_vjp, "linear", False)


def _lookup(key):
    rule = registry.lookup(key)
    if rule is None:
        rule = _FALLBACK.get(key)
        if rule is None and isinstance(key, _ToCopy):
            rule = _FALLBACK[_ToCopy]
        elif rule is None and isinstance(key, _Ragged):
            rule = key.rule()
    return rule


_sliced_cache = {}  # (key, positions needing a gradient) -> (rule, its vjp sliced to them)
_cache_version = [None]  # registry.version() the cache was filled under


def _rule_and_vjp(key, req):
    """``key``'s rule and its vjp sliced to the positions ``req`` (a tuple), or (None, None);
    cached per registry version, so a rule registered later is seen."""
    version = registry.version()
    if version != _cache_version[0]:
        _sliced_cache.clear()
        _cache_version[0] = version
    try:
        found = _sliced_cache.get((key, req))
    except TypeError:  # an unhashable key
        found = None
    if found is not None:
        return found
    rule = _lookup(key)
    if rule is None:
        return None, None
    # sliced also when every edge needs a gradient: ``x ** 2`` has one edge and a rule with two
    # contributions (the exponent's log is skipped); the unsliced rule when nothing can be dropped
    # (a ragged result's rule is a closure of its own: run whole, not cached by sliced_vjp)
    if type(key) is _Ragged:
        return rule, rule.vjp
    _check_differentiable(rule, req)
    found = (rule, sliced_vjp(rule.vjp, req))
    if type(key) is not _ToCopy:  # (a new key per cast: not kept)
        try:
            _sliced_cache[(key, req)] = found
        except TypeError:
            pass
    return found


def _carries(rule, i):
    """Whether ``rule``'s argument ``i`` is an edge of the node: not when the rule gives it no
    derivative (None: an argument read for its shape, as ``x`` of ``unreduce(g, x)``, the arrays
    of ``unstack_grads(g, arrays)`` or ``concat_grads``, which the backward of amax, stack and
    cat call under create_graph=True), so that a result made only from such arguments and
    constants does not require grad, as PyTorch's (whose backward of amax reads ``self`` only
    in a comparison). Kept where the rule leaves out a derivative that exists (``unimplemented``:
    refused when it is needed)."""
    return rule.differentiable(i) or rule.unimplemented_at(i) is not None


def _check_differentiable(rule, req):
    """Refuse a tensor that requires grad in a position whose derivative ``rule`` does not give
    though it is not zero (its ``unimplemented`` fact: np.cov's aweights): its gradient would be
    left out without a word (PyTorch raises "the derivative for 'weight' is not implemented")."""
    for e in req:
        name = rule.unimplemented_at(e if type(e) is int else e[0])
        if name is not None:
            raise TapeError(f"the derivative for '{name}' is not implemented (in {rule.name}); "
                            f"pass it as t.detach() if it is a constant there")


class _Ragged:
    """The key of a primitive whose result is a tuple of arrays of different shapes (np.linalg.svd,
    eigh, qr, eig, lstsq): the tape records it as one node over the flat concatenation of the
    result's float parts, and its rule sees the gradient as a tuple again (None for other parts)."""

    __slots__ = ("key", "parts", "bounds")

    def __init__(self, key, parts):
        self.key = key
        self.parts = parts
        self.bounds = []
        start = 0
        for p in parts:
            if _ragged_float(p):
                self.bounds.append((start, start + np.size(p), np.shape(p)))
                start += np.size(p)
            else:
                self.bounds.append(None)

    def _parts(self, ans):
        """The result's parts for the rule: the forward's arrays, or (create_graph: ``ans`` is
        the recorded flat Tensor) its slices, so the rule's formula in U, S, V... is
        differentiated through them too (read as the forward's arrays, constants, the second
        derivatives of svd, eigh, qr, eig and lstsq missed those terms: 0 from a constant g)."""
        if type(ans) is np.ndarray:
            return self.parts
        items = [p if b is None else ans[b[0]:b[1]].reshape(b[2])
                 for p, b in zip(self.parts, self.bounds)]
        kind = type(self.parts)
        return kind._make(items) if hasattr(kind, "_make") else \
            items if isinstance(self.parts, list) else tuple(items)

    def split(self, g):
        return tuple(None if b is None else g[b[0]:b[1]].reshape(b[2]) for b in self.bounds)

    def rule(self):
        base = _lookup(self.key)
        if base is None:
            return None

        def vjp(g, ans, *args, **kwargs):
            return base.vjp(self.split(g), self._parts(ans), *args, **kwargs)

        return registry.Rule(self, base.name, vjp, "custom", False, base.torch_name)


def _ragged_float(p):
    return isinstance(p, (np.ndarray, np.generic, float)) and np.asarray(p).dtype.kind in "fc"


def _is_ragged(ans):
    """True for a tuple result the tape records as :class:`_Ragged`: parts of different shapes or
    kinds, or a named tuple (its fields stay readable: np.linalg.slogdet(t).logabsdet)."""
    return isinstance(ans, (tuple, list)) and len(ans) > 1 and \
        (hasattr(type(ans), "_fields") or len({np.shape(p) for p in ans}) > 1 or
         not all(_ragged_float(p) for p in ans))


def _no_rule(key):
    name = registry._key_name(key)
    return NoRuleError(
        f"no derivative rule for {name}, called on a tape Tensor that requires grad; register one "
        f"with sourcediff.defvjp({name}) or call it on t.detach()")
