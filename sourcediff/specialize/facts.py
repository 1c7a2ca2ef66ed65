"""What the specializer knows about a value (the lattice of facts): an array of a shape and dtype, a
numpy scalar, a Python float, a known constant, a sequence or a dict of such, or nothing (TOP);
the call signature a specialization is made for (``signature``, ``dict_key``); the stand-ins
operations are evaluated on; and the tables of operations whose result shape depends only on
their arguments' shapes.
"""

import ast
import itertools
import operator

import gast
import numpy as np

from .. import runtime
from ..rules import registry
from ..syntax import parents, walk


class _Top:
    def __repr__(self):
        return "TOP"


TOP = _Top()  # unknown


BOT = None  # no value yet (a compiler placeholder such as ``_add1 = None`` before a loop)


class Arr:
    """An ndarray of this shape and dtype."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)

    def __eq__(self, other):
        return type(other) is Arr and other.shape == self.shape and other.dtype == self.dtype

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"Arr{self.shape}:{self.dtype}"


class Scal:
    """A numpy scalar of this dtype."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def __eq__(self, other):
        return type(other) is Scal and other.dtype == self.dtype

    def __hash__(self):
        return hash(self.dtype)

    def __repr__(self):
        return f"Scal:{self.dtype}"


class Known:
    """A plain value known exactly (literal, shape, shape arithmetic, a module or function)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return type(other) is Known and type(other.value) is type(self.value) and \
            _same(other.value, self.value)

    def __hash__(self):
        return hash(type(self.value))

    def __repr__(self):
        return f"Known({self.value!r})"


def _same(a, b):
    try:
        return a is b or bool(a == b)
    except Exception:  # noqa: BLE001  (objects without a plain equality)
        return False


class Seq:
    """A list or tuple of elements with these facts. ``fixed``: a list argument's (or a slice of
    one), which the signature describes and nothing the function runs changes (``seq_fact``):
    its items are read by index as a tuple's are."""

    __slots__ = ("items", "kind", "fixed")

    def __init__(self, items, kind, fixed=False):
        self.items, self.kind, self.fixed = tuple(items), kind, fixed

    def __eq__(self, other):
        return type(other) is Seq and other.items == self.items and other.kind is self.kind \
            and other.fixed == self.fixed

    def __hash__(self):
        return hash(len(self.items))

    def __repr__(self):
        return f"Seq{'!' if self.fixed else ''}({self.kind.__name__}){list(self.items)!r}"

    def indexable(self):
        """Its items' facts hold for a read by index (a tuple's, or a fixed list's)."""
        return self.kind is tuple or self.fixed


class Items:
    """A dict argument (``params``): its keys in order, and the facts of its values at entry."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = tuple(items)  # ((key, fact), ...)

    def __eq__(self, other):
        return type(other) is Items and other.items == self.items

    def __hash__(self):
        return hash(len(self.items))

    def get(self, key):
        for k, f in self.items:
            if type(k) is type(key) and k == key:
                return f
        return TOP

    def __repr__(self):
        return f"Items{dict(self.items)!r}"


_DICT_MAX = 64  # a larger dict argument's items are not part of the signature (its facts: TOP)


def dict_key(d):
    """The signature entry of a dict argument: each key with its value's shape and dtype (an
    array) or type; None for a dict whose items the specializer does not follow."""
    if len(d) > _DICT_MAX:
        return None
    out = []
    for k, v in d.items():
        if type(k) is not str and type(k) is not int:
            return None
        out.append((k, v.shape, v.dtype) if type(v) is _ndarray else (k, type(v)))
    return tuple(out)


def dict_fact(d):
    """The fact of a dict argument, consistent with :func:`dict_key` (items of other types than
    arrays, numpy scalars and numbers are unknown)."""
    if dict_key(d) is None:
        return TOP
    return Items((k, fact_of_signature(v)) for k, v in d.items())


_SEQ_MAX = 16  # a longer list or tuple argument's items are not part of the signature


def seq_key(s, depth=0):
    """The signature entry of a list or tuple argument: each item's shape and dtype (an array),
    ``(tuple, its items' entries)`` (a tuple, two levels deep) or type; None for a sequence whose
    items the specializer does not follow (a longer one, one holding a list or a dict: a value
    that can change in place)."""
    if len(s) > _SEQ_MAX or depth > 2:
        return None
    out = []
    for v in s:
        t = type(v)
        if t is _ndarray:
            out.append((v.shape, v.dtype))
        elif t is tuple:
            inner = seq_key(v, depth + 1)
            if inner is None:
                return None
            out.append((tuple, inner))
        elif t is list or t is dict:
            return None
        else:
            out.append(t)
    return tuple(out)


def seq_fact(s):
    """The fact of a list or tuple argument, consistent with :func:`seq_key`: a fixed Seq (the
    caller checks that nothing the function runs changes a list: passes._signature_facts)."""
    if seq_key(s) is None:
        return TOP
    return Seq([seq_fact(v) if type(v) is tuple else fact_of_signature(v) for v in s], type(s),
               fixed=True)


class _Named:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


PYFLOAT = _Named("float")  # a Python float of unknown value


F64S = _Named("float-or-float64")  # a Python float or a numpy float64 scalar (a join of the two)


ANYINT = _Named("int")  # a Python int of unknown value


ANYBOOL = _Named("bool")  # a Python bool of unknown value


_F64 = np.dtype(np.float64)


def _pyfloat(f):
    return f is PYFLOAT or (type(f) is Known and type(f.value) is float)


def _float64ish(f):
    return _pyfloat(f) or f is F64S or (type(f) is Scal and f.dtype == _F64)


class FloatOr:
    """A Python float or a float array of this fact: a gradient that is the symbolic zero 0.0
    until a first array is added to it (``c_bar`` at the head of an adjoint loop)."""

    __slots__ = ("arr",)

    def __init__(self, arr):
        self.arr = arr

    def __eq__(self, other):
        return type(other) is FloatOr and other.arr == self.arr

    def __hash__(self):
        return hash(self.arr)

    def __repr__(self):
        return f"FloatOr({self.arr!r})"


def _members(f):
    """The plain facts a union fact stands for."""
    if type(f) is FloatOr:
        return (PYFLOAT, f.arr)
    return (PYFLOAT, Scal(_F64)) if f is F64S else (f,)


def join(a, b):
    if a is BOT:
        return b
    if b is BOT or a is b or a == b:
        return a
    if _pyfloat(a) and _pyfloat(b):
        return PYFLOAT
    if type(a) is Seq and type(b) is Seq and a.kind is b.kind and len(a.items) == len(b.items):
        return Seq([join(u, v) for u, v in zip(a.items, b.items)], a.kind,  # (item by item)
                   a.fixed and b.fixed)
    if _float64ish(a) and _float64ish(b):
        return F64S
    for u, v in ((a, b), (b, a)):
        if type(u) is Arr and u.dtype.kind in "fc" and (
                _pyfloat(v) or (type(v) is FloatOr and v.arr == u)):
            return FloatOr(u)
        if type(u) is FloatOr and _pyfloat(v):
            return u
    ints = (type(a) is Known and type(a.value) is int) or a is ANYINT
    if ints and ((type(b) is Known and type(b.value) is int) or b is ANYINT):
        return ANYINT
    bools = (type(a) is Known and type(a.value) is bool) or a is ANYBOOL
    if bools and ((type(b) is Known and type(b.value) is bool) or b is ANYBOOL):
        return ANYBOOL
    return TOP


def fact_of_signature(value):
    """The fact for an argument value (what the signature of a call pins down)."""
    t = type(value)
    if t is np.ndarray:
        return Arr(value.shape, value.dtype)
    if t is float:
        return PYFLOAT
    if t is int:
        return ANYINT
    if t is bool:
        return ANYBOOL
    if isinstance(value, np.generic) and t.__module__ == "numpy":
        return Scal(value.dtype)
    if value is None:
        return Known(None)
    return TOP


def signature(args):
    """The cache key of a call's positional arguments: two entries per argument, the shape and
    dtype of an array, ``dict`` and the facts of its items for a dict (``dict_key``: a tuple or
    None), the type and its items' facts for a list or tuple (``seq_key``), the type and ``False``
    for anything else. Flat (a fifth less than nested pairs on every
    call) and two per argument, so that the entry builds it for ``n`` arguments in one tuple display
    (compiled._entry_source), whatever their kinds; an array's shape is a tuple, never a type, so
    no two argument lists share a key."""
    key = []
    for a in args:
        if type(a) is _ndarray:
            key.append(a.shape)
            key.append(a.dtype)
        elif type(a) is dict:
            key.append(dict)
            key.append(dict_key(a))  # (the facts of its items: see dict_fact)
        elif type(a) is list or type(a) is tuple:
            key.append(type(a))
            key.append(seq_key(a))  # (the facts of its items: see seq_fact)
        else:
            key.append(type(a))
            key.append(False)
    return tuple(key)


_ndarray = np.ndarray


_CAP = 1 << 20  # larger arrays are never materialized as stand-ins


def _full_standin(f):
    if type(f) is Arr:
        return np.broadcast_to(np.zeros((), f.dtype), f.shape)
    if type(f) is Seq:
        return f.kind(_full_standin(x) for x in f.items)
    return _tiny(f)


def _tiny(f):
    if type(f) is Arr:
        return np.zeros((1,) * len(f.shape), f.dtype)
    if type(f) is Scal:
        return f.dtype.type(0)
    if f is PYFLOAT:
        return 0.0
    if f is ANYINT:
        return 1
    if f is ANYBOOL:
        return True
    if type(f) is Seq:
        return f.kind(_tiny(x) for x in f.items)
    if type(f) is Known:
        return f.value
    raise _Unknown


def _fact_of_result(value):
    t = type(value)
    if t is np.ndarray:
        return Arr(value.shape, value.dtype)
    if t is float:
        return PYFLOAT
    if t is bool:
        return ANYBOOL
    if t is int:
        return ANYINT
    if isinstance(value, np.generic):
        return Scal(value.dtype)
    if value is None:
        return Known(None)
    if t is tuple:  # (a helper's tuple of gradients: its items are read by index)
        return Seq([_fact_of_result(v) for v in value], tuple)
    return TOP


class _Unknown(Exception):
    pass


class _Unsupported(Exception):
    pass


def _size(f):
    return int(np.prod(f.shape, dtype=np.int64)) if type(f) is Arr else 1


_BINOPS = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
           gast.Div: operator.truediv, gast.Pow: operator.pow, gast.FloorDiv: operator.floordiv,
           gast.Mod: operator.mod, gast.MatMult: operator.matmul, gast.BitAnd: operator.and_,
           gast.BitOr: operator.or_, gast.BitXor: operator.xor}


_UNARY = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_,
          gast.Invert: operator.invert}


_CMPOPS = {gast.Eq: operator.eq, gast.NotEq: operator.ne, gast.Lt: operator.lt,
           gast.LtE: operator.le, gast.Gt: operator.gt, gast.GtE: operator.ge}


def _over_members(rule, facts, *rest):
    """Apply ``rule`` to every combination of the members of union facts and join the results."""
    if not any(f is F64S or type(f) is FloatOr for f in facts):
        return rule(facts, *rest)
    out = BOT
    for combo in itertools.product(*[_members(f) for f in facts]):
        out = join(out, rule(list(combo), *rest))
    return out


def _elementwise(fn, facts):
    """Fact of an elementwise operation (an operator or a ufunc) on ``facts``."""
    return _over_members(_elementwise1, facts, fn)


def _elementwise1(facts, fn):
    if any(f is TOP or f is BOT for f in facts):
        return TOP
    if all(type(f) is Known for f in facts):
        try:
            value = fn(*[f.value for f in facts])
        except Exception:  # noqa: BLE001
            return TOP
        return Known(value) if type(value) in (int, bool, float) else _fact_of_result(value)
    if any(type(f) is Seq or type(f) is Items for f in facts):
        return TOP
    try:
        shape = np.broadcast_shapes(*[f.shape for f in facts if type(f) is Arr])
        with np.errstate(all="ignore"):
            value = fn(*[_tiny(f) for f in facts])
    except Exception:  # noqa: BLE001
        return TOP
    if type(value) is np.ndarray:
        return Arr(shape, value.dtype)
    return _fact_of_result(value)


def _matmul(a, b):
    if type(a) is not Arr or type(b) is not Arr or not a.shape or not b.shape:
        return TOP
    sa, sb = a.shape, b.shape
    try:
        dtype = (np.zeros((1, 1), a.dtype) @ np.zeros((1, 1), b.dtype)).dtype
        if len(sa) == 1 and len(sb) == 1:
            return Scal(dtype) if sa == sb else TOP
        if len(sb) == 1:
            return Arr(sa[:-1], dtype) if sa[-1] == sb[0] else TOP
        if len(sa) == 1:
            return Arr(sb[:-2] + sb[-1:], dtype) if sa[0] == sb[-2] else TOP
        if sa[-1] != sb[-2]:
            return TOP
        return Arr(np.broadcast_shapes(sa[:-2], sb[:-2]) + (sa[-2], sb[-1]), dtype)
    except Exception:  # noqa: BLE001
        return TOP


class _Method:
    """A whitelisted method of an array fact, not yet called."""

    def __init__(self, base, name):
        self.base, self.name = base, name


def _is_range(node):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and \
        node.func.id == "range"


def _sd_call(node, runtime_names):
    """The helper name of a ``_sd.helper(...)`` call, else None."""
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
            isinstance(node.func.value, gast.Name) and node.func.value.id in runtime_names:
        return node.func.attr
    return None


def _scalar_like(f):
    return _pyfloat(f) or f is F64S or type(f) is Scal


def _attr_call(value, attr, args=(), keywords=()):
    return gast.Call(func=gast.Attribute(value=value, attr=attr, ctx=gast.Load()), args=list(args),
                     keywords=list(keywords))


def _const(value):
    return gast.Constant(value=value, kind=None)


def _tuple_const(items):
    return gast.Tuple(elts=[_const(i) for i in items], ctx=gast.Load())


_SUBSCRIPTS = (runtime.dot_subscripts, runtime.inner_subscripts, runtime.tensordot_subscripts)


_DOT_HELPERS = (runtime.dot_grad_left, runtime.dot_grad_right, runtime.contract)


def _subscripts_fact(fn, args, kwargs):
    """The einsum subscripts of np.dot / inner / tensordot: they depend on the operands' numbers of
    dimensions only (and on tensordot's axes, which must be known)."""
    if kwargs or len(args) < 2 or not all(type(a) is Known for a in args[2:]):
        return TOP
    standins = []
    for f in args[:2]:
        if type(f) is Arr:
            standins.append(np.zeros((1,) * len(f.shape), f.dtype))
        elif _scalar_like(f) or (type(f) is Known and type(f.value) in (int, float)):
            standins.append(0.0)
        else:
            return TOP
    try:
        return Known(fn(*standins, *[a.value for a in args[2:]]))
    except Exception:  # noqa: BLE001
        return TOP


def _dot_helper_fact(fn, args, kwargs):
    """By formula, as for matmul_grad_left/right: dot_grad_left / dot_grad_right(g, subscripts,
    x, y) are shaped like x / y, contract(subscripts, x, y) like the product; only for arrays whose
    sizes match exactly under the subscripts (no size-1 broadcasting) and a result of at least one
    dimension (a 0-d result is a numpy scalar)."""
    if kwargs or len(args) != (3 if fn is runtime.contract else 4):
        return TOP
    g, (sub, x, y) = (None, args) if fn is runtime.contract else (args[0], args[1:])
    if type(sub) is not Known or type(sub.value) is not str or type(x) is not Arr or \
            type(y) is not Arr or (g is not None and type(g) is not Arr):
        return TOP
    try:
        terms, out = runtime.einsum_parse(sub.value, (_tiny(x), _tiny(y)))
    except Exception:  # noqa: BLE001
        return TOP
    sizes = {}
    for term, shape in zip(terms, (x.shape, y.shape)):
        if len(term) != len(shape) or any(sizes.setdefault(c, n) != n for c, n in zip(term, shape)):
            return TOP
    if any(c not in sizes for c in out):
        return TOP
    product = tuple(sizes[c] for c in out)
    if fn is runtime.contract:
        return Arr(product, np.result_type(x.dtype, y.dtype)) if product else TOP
    left = fn is runtime.dot_grad_left
    shape = (x if left else y).shape
    if g.shape != product or not shape:
        return TOP
    return Arr(shape, np.result_type(g.dtype, (y if left else x).dtype))


def _parents(root):
    return parents(root)


def _name_uses(root):
    """({name: how many times it is stored}, {name: the Name nodes that read it}) under root."""
    stores, loads = {}, {}
    for node in walk(root):
        if isinstance(node, gast.Name):
            if isinstance(node.ctx, gast.Load):
                loads.setdefault(node.id, []).append(node)
            else:
                stores[node.id] = stores.get(node.id, 0) + 1
    return stores, loads


def _marks(fdef, placeholders):
    """The ``name = None`` statements on entry that only give a first save on the stack a value."""
    marks, seen = set(), set()
    for s in fdef.body:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and \
                s.targets[0].id in placeholders and s.targets[0].id not in seen and \
                isinstance(s.value, gast.Constant) and s.value.value is None:
            marks.add(id(s))
            seen.add(s.targets[0].id)
    return marks


def _located(node, loc):
    return gast.copy_location(node, loc) if hasattr(loc, "lineno") else node


def _store(name):
    return gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)


def _load(name):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _np_call(runtime_name, ufunc, args, out):
    func = gast.Attribute(value=gast.Attribute(value=_load(runtime_name), attr="np",
                                               ctx=gast.Load()), attr=ufunc, ctx=gast.Load())
    return gast.Call(func=func, args=list(args),
                     keywords=[gast.keyword(arg="out", value=_load(out))])


def _literal(node):
    try:
        return ast.literal_eval(gast.gast_to_ast(node))
    except (ValueError, TypeError, SyntaxError):
        return None






# methods of a numpy array that make a new array (or a view) and write into none
READING_METHODS = frozenset({
    "sum", "mean", "max", "min", "prod", "reshape", "transpose", "ravel", "dot", "copy", "astype",
    "squeeze", "swapaxes", "any", "all", "argmax", "argmin"})

# runtime helpers that return new values and write into none of their arguments
PURE_HELPERS = frozenset({
    "unbroadcast", "unreduce", "reduced_count", "matmul_grad_left", "matmul_grad_right",
    "grad_like", "add_grads", "extremum_weights", "scatter_basic", "scatter", "cast_grad",
    "dense_grad"})

_PURE_BUILTINS = (slice, len, float, int)


def may_write(call, facts, runtime_names):
    """Whether the call might write into an array that exists before it: one passed ``out=``, or
    a call of anything but a ufunc, a numpy or scipy function declared to write into none of its
    arguments (``np.copyto`` is, its ``writes`` fact), ``slice``/``len``/``float``/``int``, a
    reading method of a numpy array (:data:`READING_METHODS`) or a runtime helper of
    :data:`PURE_HELPERS`. The specializer's passes that move or drop statements ask it."""
    if any(k.arg == "out" for k in call.keywords):
        return True
    f = facts.get(id(call.func), TOP)
    if type(f) is Known:
        value = f.value
        if isinstance(value, np.ufunc) or any(value is b for b in _PURE_BUILTINS):
            return False
        if str(getattr(value, "__module__", "")).split(".")[0] in ("numpy", "scipy"):
            return registry.facts(value).writes is not None
    if isinstance(call.func, gast.Attribute) and call.func.attr in READING_METHODS and \
            type(facts.get(id(call.func.value), TOP)) is Arr:
        return False
    return _sd_call(call, runtime_names) not in PURE_HELPERS
