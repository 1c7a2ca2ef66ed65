"""A model object as the argument a gradient is taken with respect to (``sd.grad(loss)(model,
x)``): the check of the argument, and its gradient, an object of the model's class whose float
attributes hold their gradients.

Inside generated code an object's gradient is a GradDict from attribute name to that
attribute's gradient (``attribute_grad`` makes one per read of ``model.W``, and they add up
entrywise like a dict's); :func:`object_grad` turns it into the object form once, at the end. An
array reached through two paths (one layer twice in a list, a weight tied between two layers)
gets the sum of its paths' gradients at each of them.
"""

import copy
import functools
import numbers
import threading
import types

import numpy as np

from ..errors import InactiveArgumentError, SourcediffError
from ..pytree import held_items, is_float_leaf, is_model_object, is_tree, object_attributes, object_float_leaves
from .accumulate import GradDict, add_grads, is_zero_grad
from .indexing import held_grad, item_grad
from .object_state import stored_by_running_call

__all__ = ["check_object_wrt", "object_grad", "object_attribute_grad", "refuse_object",
           "holds_object"]

_MISSING = object()

# (thread, id(model)) -> what check_object_wrt saw when the gradient call began: the attributes
# each object held {(id(obj), name): value} and a copy of each float array {id(array): copy}
_given = {}


def holds_object(x, seen=None):
    """Whether the list, tuple or dict ``x`` holds a model object (at any depth): such an
    argument (a dict of models, a list of layers) is checked and given its gradient as a model
    object is, so that an array two of them share gets the sum of its uses at both."""
    seen = set() if seen is None else seen
    if id(x) in seen:
        return False
    seen.add(id(x))
    items = x.values() if isinstance(x, dict) else x
    for v in items:
        if type(v) is np.ndarray or type(v) is float:
            continue  # (the common leaves, without a call)
        if is_model_object(v) or (isinstance(v, (list, tuple, dict)) and holds_object(v, seen)):
            return True
    return False


def check_object_wrt(value, name, fn_where):
    """Refuse a model object that cannot be a parameter: no float attribute anywhere, a class
    that computes its attribute reads (``__getattribute__``), or two attributes that hold
    overlapping but distinct arrays (a view of a weight stored beside it)."""
    where = f"argument '{name}' of {fn_where}"
    leaves = object_float_leaves(value, name)
    if not leaves:
        raise InactiveArgumentError(
            f"{where} is a {type(value).__name__} object with no float or float-array attribute "
            f"(in itself, its lists, dicts and nested objects), so it cannot carry a gradient; "
            f"store its parameters as float arrays, or leave '{name}' out of wrt")
    _check_classes(value, where, set())
    arrays = {}
    for path, _, _, leaf in leaves:
        if isinstance(leaf, np.ndarray):
            arrays.setdefault(id(leaf), (path, leaf))
    _given[(threading.get_ident(), id(value))] = (_attributes_held(value), {
        k: a.copy() for k, (_, a) in arrays.items()})
    views = [(p, a) for p, a in arrays.values() if a.base is not None]
    for p, a in views:
        for q, b in arrays.values():
            if a is not b and np.may_share_memory(a, b) and np.shares_memory(a, b):
                raise InactiveArgumentError(
                    f"{where}: {p} and {q} are different arrays over the same memory (one is a "
                    f"view of the other), so a gradient per attribute would not be the gradient "
                    f"of that memory, and an optimizer step would move it twice. Store the one "
                    f"array and compute the other from it in the function (self.W.T), or store "
                    f"a copy")


def _attributes_held(x, seen=None, out=None):
    """{(id(holder), name or key): value} for every attribute of every object, and every item
    of every list, tuple and dict, reached from ``x``."""
    seen, out = (set(), {}) if seen is None else (seen, out)
    if id(x) in seen:
        return out
    seen.add(id(x))
    items = held_items(x)
    if items is None:
        return out
    out.update(((id(x), k), v) for k, v in items)
    for _, v in items:
        _attributes_held(v, seen, out)
    return out


def _check_classes(x, where, seen):
    if id(x) in seen:
        return
    seen.add(id(x))
    if is_model_object(x):
        cls = type(x)
        if cls.__getattribute__ is not object.__getattribute__ and \
                cls is not types.SimpleNamespace:  # (whose reads are object's, written in C)
            raise InactiveArgumentError(
                f"{where}: {cls.__name__} defines __getattribute__, so what its attribute reads "
                f"return is computed, and sourcediff could not tell which stored array a "
                f"gradient belongs to. Pass the arrays in a dict (params['W']), or a class "
                f"without __getattribute__")
    for _, v in held_items(x) or ():
        _check_classes(v, where, seen)


def object_attribute_grad(g, obj, name):
    """The gradient of the model object ``obj`` from that of ``obj.name`` (a GradDict with one
    entry); a read of a dunder attribute (``obj.__dict__``) is refused."""
    if name.startswith("__") and name.endswith("__"):
        raise SourcediffError(
            f"the derivative flows through {type(obj).__name__}.{name} of an object the gradient is "
            f"taken with respect to; sourcediff follows its attributes read by name "
            f"(self.W), not through {name}. Read the attributes by name")
    return GradDict({name: g})


def object_grad(g, x, leaf_grad, name="the argument"):
    """The final gradient of the model object ``x`` from its GradDict ``g``: an object of x's
    class (``copy.copy`` of x, attributes then replaced; x itself is not changed) whose float and
    float-array attributes hold their gradients (zeros where none reached them), with lists,
    dicts and nested objects mirrored and None for attributes that carry no derivative (ints,
    strings, functions, integer arrays). ``leaf_grad(g, leaf)`` shapes a leaf's gradient
    (runtime.grad_like)."""
    totals = {}
    given = _given.pop((threading.get_ident(), id(x)), None)
    if given is not None:
        given = given + ({},)  # (the values given for attributes replaced, see _as_given)
    _collect(g, x, name, totals, (), given)
    return _Builder(totals, leaf_grad, given[2] if given is not None else {}).build(x)


def _leaf_key(owner, key, leaf):
    return id(leaf) if isinstance(leaf, np.ndarray) else (id(owner), key)


def _collect(g, x, path, totals, stack, given):
    """Add each leaf's gradient from ``g`` (x's) into ``totals`` (keyed by the array, or for a
    float by its owner and key), refusing a gradient that does not fit x's structure."""
    if is_zero_grad(g):
        return
    if id(x) in stack:
        raise SourcediffError(
            f"the gradient reaches {path}, which leads back to an object it is held by (a "
            f"cycle of references); sourcediff does not follow a derivative around a cycle. Keep "
            f"references to parents out of the model (pass them as arguments)")
    if is_model_object(x):
        if not isinstance(g, dict):
            raise SourcediffError(
                f"the gradient of {path} (a {type(x).__name__} object) came out a "
                f"{type(g).__name__}: the function reads it in a way sourcediff does not follow "
                f"as attribute reads (an attribute named like an ndarray's, such as .T, .real or "
                f".shape, is read as the array's). Rename the attribute or read it by name")
        stored = dict(object_attributes(x))
        if given is not None:
            _as_given(x, stored, given)
        g = _delegated(g, x, stored)
        for key in g:
            if given is not None and key in stored and (id(x), key) not in given[0]:
                raise SourcediffError(
                    f"the derivative flows through {path}.{key}, which the function stored on "
                    f"the object during this gradient call and read back (it was not there "
                    f"when the model was given); sourcediff reads attributes as constants, so the "
                    f"derivative through what was stored would be lost. Pass the value on as an "
                    f"argument or a return value instead of reading it back from the object")
            if key not in stored and (_class_constant(type(x), key) or
                                      read_without_floats(x, key)):
                continue  # (a value the class holds for all its objects, or an int computed)
            if key not in stored:
                raise SourcediffError(
                    f"the derivative flows through {path}.{key}, which {type(x).__name__} does "
                    f"not store as an attribute (a value computed on read: a property, "
                    f"__getattr__ or a class attribute); sourcediff gives gradients for stored "
                    f"attributes. A property is followed where it is read through self in a "
                    f"method (self.{key}); read it there, or read the stored arrays. An array "
                    f"in the class body is a parameter only stored on the object (self.{key} = "
                    f"... in __init__); for a constant, read sd.stop_gradient(self.{key})")
        for key, v in stored.items():
            _child(g.get(key, 0.0), x, key, v, f"{path}.{key}", totals, stack + (id(x),), given)
        return
    if isinstance(x, (list, tuple, dict)):
        items = x.items() if isinstance(x, dict) else enumerate(x)
        for k, v in items:
            _child(item_grad(g, k), x, k, v, f"{path}[{k!r}]", totals, stack + (id(x),), given)


def _delegated(g, x, stored):
    """``g`` (x's GradDict) with the entry of a name x does not store given back where x holds
    what reading it gives (by identity): ``__getattr__`` delegating to a held layer
    (``self.inner.W`` read as ``self.W``). Other entries stay, to be refused by name."""
    moved = None
    for key in [k for k in g if k not in stored and not _class_constant(type(x), k)]:
        try:
            value = getattr(x, key)
        except Exception:  # (the refusal below names the attribute)
            continue
        routed = None if is_zero_grad(g[key]) else held_grad(g[key], x, value)
        if routed is not None:
            moved = GradDict(g) if moved is None else moved
            del moved[key]
            moved = add_grads(moved, routed)
    return g if moved is None else moved


def holds_floats(value, depth=0, opaque=True):
    """Whether ``value`` may carry a derivative: a float or complex number or array, a list,
    tuple or dict holding one, an object whose attributes hold one, a ``functools.partial``
    binding one (or a function an ``np.vectorize`` wraps). Ints, bools, strings, bytes, None and
    integer, boolean or string arrays carry none. ``opaque`` answers for a value whose floats
    cannot be seen: a function, an object array, an object of another library's, an object of
    the user's with no float attribute (a property may compute one), nesting 16 deep. The
    checks take True (a float missed would let a wrong derivative through); the call of a
    partial (runtime/dynamic.py) False (its bound values get a gradient only where one may
    flow to them)."""
    if isinstance(value, (bool, int, str, bytes, np.integer, np.bool_)) or value is None:
        return False
    if isinstance(value, (float, complex)):
        return True
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if isinstance(kind, str):
        return True if kind in "fc" else False if kind in "biuU" else opaque
    if depth > 16:
        return opaque
    if isinstance(value, functools.partial):
        items = (value.func,) + value.args + tuple(value.keywords.values())
    elif isinstance(value, np.vectorize):  # (np.vectorize of a closure: resolve's "vectorize")
        items = (value.pyfunc,)
    elif is_tree(value):
        items = value.values() if isinstance(value, dict) else value
    else:
        return bool(is_model_object(value) and object_float_leaves(value)) or opaque
    return any(holds_floats(item, depth + 1, opaque) for item in items)


def read_without_floats(x, name):
    """Whether reading ``name`` on ``x``, which x does not store (a property: ``out =
    self.W.shape[1]``, or another value computed on read), gives a value with no float in it (an
    int, a bool, a string, None, an integer array, or a tuple of them): no derivative flows
    through it, whatever the generated code sent there. A read that raises counts as a float."""
    try:
        value = getattr(x, name)
    except Exception:  # noqa: BLE001  (the property's own error: refused as before)
        return False
    return not holds_floats(value)


def _class_constant(cls, name):
    """Whether ``cls`` holds a number under ``name`` (``eps = 1e-5``, ``momentum = 0.1`` in the
    class body), which its objects read as shared: a hyper-parameter of the class, not a
    parameter of an object, as in torch.nn; its gradient is not given. An array the class holds
    may be the model's weights written at class level, so it is refused (a gradient object
    would read it back as its gradient), saying how to mark a constant."""
    for klass in cls.__mro__:
        if name in vars(klass):
            value = vars(klass)[name]
            return isinstance(value, numbers.Number) and not isinstance(value, complex)
    return False


def _as_given(x, stored, given):
    """Put back into ``stored`` (x's attributes) the value given for each attribute the
    function replaced by a store of a value carrying a derivative (a batch norm's running mean
    updated in the loss, a recurrent state kept): the gradient reaching the attribute is the
    given value's (see object_state.stored_by_running_call), and is built for that value."""
    for key, v in list(stored.items()):
        before = given[0].get((id(x), key), _MISSING)
        if before is not _MISSING and before is not v and stored_by_running_call(x, key, v):
            stored[key] = before
            given[2][(id(x), key)] = before


def _child(g, owner, key, v, path, totals, stack, given):
    if is_float_leaf(v):
        if not is_zero_grad(g):
            if given is not None:
                _check_unchanged(owner, key, v, path, given)
            k = _leaf_key(owner, key, v)
            totals[k] = add_grads(totals.get(k, 0.0), g)
        return
    _collect(g, v, path, totals, stack, given)


def _check_unchanged(owner, key, v, path, given):
    """Refuse a gradient for a parameter the function changed: replaced by another value (a read
    may have taken the new one, whose derivative is not the given one's), stored where there was
    none, or written into in place (its values differ from those given)."""
    before = given[0].get((id(owner), key), _MISSING)
    if before is not v:
        raise SourcediffError(
            f"the function {'stored' if before is _MISSING else 'replaced'} {path} during the "
            f"gradient call (self.W = ..., self.W *= 2, a list item set), and the derivative "
            f"flows through it; sourcediff differentiates with respect to the model as given, "
            f"and a read of the new value would give that value's derivative instead. Compute "
            f"the new value in a local variable (W = self.W * 2) and use that")
    saved = given[1].get(id(v)) if isinstance(v, np.ndarray) else None
    if saved is not None and not np.array_equal(saved, v, equal_nan=True):
        raise SourcediffError(
            f"the function changed {path} in place during the gradient call (a write into the "
            f"array: self.W *= 2, self.W[0] = ..., out=self.W), and sourcediff differentiates "
            f"with respect to the values given; the derivative through the write would be "
            f"wrong. Compute the new values into a new array (W = self.W * 2) instead")


class _Builder:
    """Builds the gradient object (and its containers) of a model from the leaves' totals, each
    object and container once (one met twice is the same gradient twice), and each gradient
    array its own: one array that came out as two leaves' gradients (b1 + b2 gives both the
    same) or a view is copied, so updating one in place cannot change another; an array tied
    between two paths keeps one gradient at both."""

    def __init__(self, totals, grad_like, as_given):
        self.totals, self.grad_like, self.as_given = totals, grad_like, as_given
        self.memo, self.used = {}, {}

    def leaf(self, owner, key, v):
        k = _leaf_key(owner, key, v)
        out = self.grad_like(self.totals.get(k, 0.0), v)
        if isinstance(out, np.ndarray):
            if out.base is not None or self.used.get(id(out), k) != k:
                out = out.copy()
            self.used[id(out)] = k
        return out

    def item(self, owner, key, v):
        return self.leaf(owner, key, v) if is_float_leaf(v) else self.build(v)

    def build(self, x):
        if id(x) in self.memo:
            return self.memo[id(x)]
        if is_model_object(x):
            out = self.memo[id(x)] = _fresh_copy(x)
            for key, v in object_attributes(x):
                new = self.item(x, key, self.as_given.get((id(x), key), v))
                if hasattr(out, "__dict__") and key in vars(out):
                    vars(out)[key] = new
                else:
                    object.__setattr__(out, key, new)
            return out
        if isinstance(x, (list, tuple, dict)):
            items = x.items() if isinstance(x, dict) else enumerate(x)
            built = {k: self.item(x, k, v) for k, v in items}
            if isinstance(x, dict):
                out = built
            elif hasattr(x, "_fields"):
                out = type(x)(*built.values())
            else:
                out = type(x)(built.values())
            self.memo[id(x)] = out
            return out
        return None


def _fresh_copy(x):
    """``copy.copy(x)``, or where that gives ``x`` itself or an object over the same attributes (a
    class whose ``__copy__`` returns self) or fails, a new object of x's class holding x's attributes: the
    gradient's attributes are then set on it, never on the user's model."""
    try:
        out = copy.copy(x)
    except Exception:  # (a __getattr__ that fails on the copy's empty __dict__: copy by hand)
        out = x
    if out is not x and getattr(out, "__dict__", None) is not getattr(x, "__dict__", False):
        return out
    out = object.__new__(type(x))
    for key, v in object_attributes(x):
        object.__setattr__(out, key, v)
    return out


def refuse_object(value, name, fn_where, what):
    """Refuse a model object given to ``what`` (forward mode, a jacobian or hessian), which take
    floats, arrays and containers of them: reverse mode's gradient takes one."""
    if is_model_object(value) or (isinstance(value, (list, tuple, dict)) and
                                  holds_object(value)):
        kind = f"a {type(value).__name__} object" if is_model_object(value) else \
            f"a {type(value).__name__} holding model objects"
        raise InactiveArgumentError(
            f"argument '{name}' of {fn_where} is {kind}: {what} does not "
            f"differentiate with respect to an object yet; reverse mode does (sd.grad(f)(model, "
            f"...), sd.value_and_grad). For {what}, pass the arrays in a dict or a list "
            f"(sd.flatten gives one vector of them)")
