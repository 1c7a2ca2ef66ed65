"""Specialize stage: a generated gradient rewritten for the shapes and dtypes of one call.

The generic generated code calls runtime helpers (``_sd.unbroadcast``, ``_sd.grad_like``, ...) that
look at shapes on every call, because the compiler does not know the shapes when it writes the code.
At the first call with a new *signature* (the type of every argument, and the shape and dtype of every
array argument), this stage infers, statically and soundly, the type, shape and dtype of every value
the generated function computes, and rewrites each helper call whose outcome is then known::

    _sub1_bar = _sd.unbroadcast(_pow1_bar * 2 * _sub1, _sub1)   _sub1_bar = 2.0 * _sub1
    b2_bar = _sd.unbroadcast(out_bar, b2)                       b2_bar = out_bar.sum(axis=(0,))

The inference is an abstract interpretation of the generated function: a value is known as an array
of a given shape and dtype, a numpy scalar, a Python float, an integer (known or not), or unknown. It
evaluates operations on stand-ins (tiny or zero-stride arrays of the right shape and dtype), and only
for operations whose result shape cannot depend on array *values* (ufuncs, reductions, reshapes, the
runtime's shape helpers). Anything else (boolean masks, ``np.nonzero``, calls to user functions, list
contents) is unknown, and a helper call that reads an unknown value keeps its generic form. Loops and
branches are joined to a fixpoint, so a value whose shape changes between iterations is unknown.

After the rewrite, a seed broadcast that only feeds elementwise products becomes the scalar itself,
compiler constants are propagated and folded, dead code is dropped, and values that were saved on the
stack only for a helper that no longer needs them are no longer saved.
"""

import ast
import copy
import inspect
import itertools
import operator
import types

import gast
import numpy as np

from .. import runtime
from ..compiler.emit import is_comment
from ..compiler.optimize import dead_code, fold_constants, inline_temps
from ..rules import registry
from ..rules.facts import may_write

# ---------------------------------------------------------------- facts


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
    """A list or tuple (in an argument position) of elements with these facts."""

    __slots__ = ("items", "kind")

    def __init__(self, items, kind):
        self.items, self.kind = tuple(items), kind

    def __eq__(self, other):
        return type(other) is Seq and other.items == self.items and other.kind is self.kind

    def __hash__(self):
        return hash(len(self.items))


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
    """The cache key of a call's positional arguments: shape and dtype of each array, the type of
    anything else (flat: an array gives a shape tuple then a dtype, never a type, so no two
    argument lists share a key; it is the cost of every call, a fifth less than nested pairs)."""
    key = []
    for a in args:
        if type(a) is _ndarray:
            key.append(a.shape)
            key.append(a.dtype)
        elif type(a) is dict:
            key.append(dict)
            key.append(dict_key(a))  # (the facts of its items: see dict_fact)
        else:
            key.append(type(a))
    return tuple(key)


_ndarray = np.ndarray


# ---------------------------------------------------------------- stand-ins

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
    return TOP


class _Unknown(Exception):
    pass


class _Unsupported(Exception):
    pass


def _size(f):
    return int(np.prod(f.shape, dtype=np.int64)) if type(f) is Arr else 1


_BINOPS = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
           gast.Div: operator.truediv, gast.Pow: operator.pow, gast.FloorDiv: operator.floordiv,
           gast.Mod: operator.mod, gast.MatMult: operator.matmul}
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


# numpy functions whose result type, shape and dtype follow from those of their arguments
_NP_SHAPE_PURE = [
    "sum", "mean", "max", "min", "amax", "amin", "prod", "std", "var", "argmax", "argmin",
    "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze", "broadcast_to", "concatenate",
    "stack", "hstack", "vstack", "clip", "dot", "matmul", "outer", "inner", "vdot", "einsum",
    "tensordot", "zeros_like", "ones_like", "full_like", "empty_like", "diag", "diagonal", "trace",
    "cumsum", "cumprod", "flip", "roll", "sort", "argsort", "ravel", "atleast_1d", "atleast_2d",
    "asarray", "array", "take", "triu", "tril", "diff", "kron", "where", "logsumexp", "float64",
    "float32", "copy", "real", "conj", "around", "round",
    # values in these positions decide the result's shape: they must be known exactly
    "reshape", "repeat", "tile", "pad", "zeros", "ones", "full", "empty", "arange", "linspace", "eye",
]
_SHAPE_ARGS = {"reshape": (1, "newshape", "shape"), "repeat": (1, "repeats"), "tile": (1, "reps"),
               "pad": (1, "pad_width"), "zeros": (0, "shape"), "ones": (0, "shape"),
               "full": (0, "shape"), "empty": (0, "shape"), "arange": "all", "linspace": "all",
               "eye": "all"}
_METHODS = {"sum", "mean", "max", "min", "prod", "std", "var", "argmax", "argmin", "reshape",
            "transpose", "swapaxes", "squeeze", "ravel", "flatten", "copy", "astype", "cumsum",
            "cumprod", "dot", "clip", "round", "conj", "item", "repeat"}
# runtime helpers whose result follows from the types, shapes and dtypes of their arguments
_SD_SHAPE_PURE = {"unbroadcast", "unreduce", "keep", "grad_like", "zeros_like_grad", "check_scalar",
                  "output_seed",
                  "check_wrt", "matmul_grad_left", "matmul_grad_right", "copy", "owned_grad",
                  "as_column", "broadcast_tangent", "rebroadcast", "like_input", "cumsum_grad",
                  "diff_grad", "trace_grad", "diagonal_grad", "diag_grad", "extremum_weights",
                  "prod_others", "norm_weights", "item_grad", "zero_at", "scatter", "scatter_basic",
                  "take_grad", "unsort", "take_sorted", "reshape_grad", "tile_grad", "repeat_grad",
                  "pad_grad", "solve_grads", "dense_grad", "sigmoid", "scaled_sigmoid",
                  "grad_tree", "add_grads"}


def _np_table():
    table = {}
    for name in _NP_SHAPE_PURE:
        fn = getattr(np, name, None)
        if fn is not None:
            table[id(fn)] = (fn, name)
    return table


_NP = _np_table()
_SD = {id(getattr(runtime, n)): n for n in _SD_SHAPE_PURE if hasattr(runtime, n)}


class _Method:
    """A whitelisted method of an array fact, not yet called."""

    def __init__(self, base, name):
        self.base, self.name = base, name


# ---------------------------------------------------------------- the abstract interpreter


class Inference:
    """Facts for the values of one generated function, given the facts of its parameters."""

    def __init__(self, fdef, namespace, stack_name, param_facts, placeholders=()):
        self.fdef = fdef
        self.placeholders = placeholders  # ids of ``name = None`` statements before first use
        self.namespace = namespace  # name -> object, for names the function does not assign
        self.stack_name = stack_name
        self.nodes = {}  # id(expression node) -> joined fact
        self.ever = dict(param_facts)  # name -> join of every value it holds (its first too)
        self.env0 = dict(param_facts)
        self.returns = BOT  # join of the values the function returns
        self.depth = 0  # how many generated callees deep this inference runs (see _callee)

    def run(self):
        env = self.block(self.fdef.body, dict(self.env0), None)
        return env

    # statements ---------------------------------------------------------------

    def block(self, stmts, env, loop):
        for s in stmts:
            if env is None:
                return None
            env = self.stmt(s, env, loop)
        return env

    def stmt(self, s, env, loop):
        if is_comment(s) or isinstance(s, gast.Pass):
            return env
        if isinstance(s, gast.Assign):
            value = self.expr(s.value, env)
            if isinstance(s.value, gast.Call) and self._is_pop(s.value):
                target = s.targets[0]
                value = self.ever.get(target.id, TOP) if isinstance(target, gast.Name) else TOP
            if id(s) in self.placeholders:
                value = BOT  # a compiler placeholder, never read before it is assigned
            for target in s.targets:
                self.assign(target, value, env)
            return env
        if isinstance(s, gast.Expr):
            self.expr(s.value, env)
            return env
        if isinstance(s, gast.If):
            self.expr(s.test, env)
            a = self.block(s.body, dict(env), loop)
            b = self.block(s.orelse, dict(env), loop)
            return _join_env(a, b)
        if isinstance(s, (gast.For, gast.While)):
            return self.loop(s, env)
        if isinstance(s, gast.Return):
            value = self.expr(s.value, env) if s.value is not None else Known(None)
            self.returns = join(self.returns, value)
            return None
        if isinstance(s, gast.Break):
            loop["exit"] = _join_env(loop["exit"], env)
            return None
        if isinstance(s, gast.Continue):
            loop["back"] = _join_env(loop["back"], env)
            return None
        if isinstance(s, gast.Raise):
            return None
        raise _Unsupported(type(s).__name__)

    def loop(self, s, env):
        head = dict(env)
        if isinstance(s, gast.For):
            self.expr(s.iter, env)
        for _ in range(20):
            state = {"exit": None, "back": None}
            inner = dict(head)
            if isinstance(s, gast.For):
                self.assign(s.target, ANYINT if _is_range(s.iter) else TOP, inner)
            else:
                self.expr(s.test, inner)
            end = self.block(s.body, inner, state)
            new_head = _join_env(_join_env(head, end), state["back"])
            if new_head == head:
                break
            head = new_head
        else:
            raise _Unsupported("loop facts do not settle")
        after = head
        if s.orelse:
            after = self.block(s.orelse, dict(head), None)
        return _join_env(after, state["exit"])

    def assign(self, target, value, env):
        if isinstance(target, gast.Name):
            env[target.id] = value
            if value is not BOT:
                self.ever[target.id] = join(self.ever.get(target.id, BOT), value)
        elif isinstance(target, (gast.Tuple, gast.List)):
            items = value.value if type(value) is Known and isinstance(value.value, tuple) and \
                len(value.value) == len(target.elts) else None
            if type(value) is Seq and value.kind is tuple and len(value.items) == len(target.elts):
                for elt, item in zip(target.elts, value.items):
                    self.assign(elt, item, env)
                return
            for k, elt in enumerate(target.elts):
                self.assign(elt, Known(items[k]) if items is not None else TOP, env)
        elif isinstance(target, gast.Subscript):
            self.expr(target.slice, env)
            base = target.value
            if isinstance(base, gast.Name) and type(env.get(base.id)) is not Arr:
                env[base.id] = TOP  # an item of a list or dict changed: its facts are gone
                self.ever[base.id] = TOP
        elif isinstance(target, gast.Starred):
            self.assign(target.value, TOP, env)
        # attribute assignment: nothing this analysis tracks

    # expressions --------------------------------------------------------------

    def expr(self, node, env):
        fact = self._expr(node, env)
        key = id(node)
        self.nodes[key] = join(self.nodes.get(key, BOT), fact) if key in self.nodes else fact
        return fact

    def _expr(self, node, env):
        if isinstance(node, gast.Constant):
            return Known(node.value)
        if isinstance(node, gast.Name):
            if node.id in env:
                v = env[node.id]
                return TOP if v is BOT else v
            value = self.namespace.get(node.id, self)
            if value is not self and (callable(value) or inspect.ismodule(value)):
                return Known(value)  # globals that are data may change between calls
            return TOP
        if isinstance(node, gast.BinOp):
            a, b = self.expr(node.left, env), self.expr(node.right, env)
            if isinstance(node.op, gast.MatMult):
                return _matmul(a, b)
            fn = _BINOPS.get(type(node.op))
            return _elementwise(fn, [a, b]) if fn else TOP
        if isinstance(node, gast.UnaryOp):
            a = self.expr(node.operand, env)
            return _elementwise(_UNARY[type(node.op)], [a])
        if isinstance(node, gast.Compare):
            facts = [self.expr(node.left, env)] + [self.expr(c, env) for c in node.comparators]
            if len(node.ops) != 1 or type(node.ops[0]) not in _CMPOPS:
                return TOP
            return _elementwise(_CMPOPS[type(node.ops[0])], facts)
        if isinstance(node, gast.BoolOp):
            facts = [self.expr(v, env) for v in node.values]
            out = BOT
            for f in facts:
                out = join(out, f)
            return out
        if isinstance(node, gast.IfExp):
            self.expr(node.test, env)
            return join(self.expr(node.body, env), self.expr(node.orelse, env))
        if isinstance(node, (gast.Tuple, gast.List)):
            facts = [self.expr(e, env) for e in node.elts]
            if isinstance(node, gast.Tuple) and all(type(f) is Known for f in facts):
                return Known(tuple(f.value for f in facts))
            if all(f is not TOP and f is not BOT and not isinstance(f, _Method) for f in facts):
                return Seq(facts, tuple if isinstance(node, gast.Tuple) else list)
            return TOP
        if isinstance(node, gast.Slice):
            parts = [self.expr(p, env) if p is not None else Known(None)
                     for p in (node.lower, node.upper, node.step)]
            if all(type(p) is Known for p in parts):
                return Known(slice(*[p.value for p in parts]))
            return TOP
        if isinstance(node, gast.Attribute):
            return self.attribute(self.expr(node.value, env), node.attr)
        if isinstance(node, gast.Subscript):
            return self.subscript(self.expr(node.value, env), node.slice, env)
        if isinstance(node, gast.Call):
            return self.call(node, env)
        for child in gast.iter_child_nodes(node):
            if isinstance(child, gast.expr):
                self.expr(child, env)
        return TOP

    def attribute(self, base, attr):
        if type(base) is Arr:
            if attr == "shape":
                return Known(base.shape)
            if attr == "ndim":
                return Known(len(base.shape))
            if attr == "size":
                return Known(_size(base))
            if attr == "T":
                return Arr(base.shape[::-1], base.dtype)
            if attr == "dtype":
                return Known(base.dtype)
            if attr in _METHODS:
                return _Method(base, attr)
            return TOP
        if type(base) is Known:
            try:
                value = getattr(base.value, attr)
            except Exception:  # noqa: BLE001
                return TOP
            if inspect.ismodule(base.value) and not (callable(value) or inspect.ismodule(value)
                                                     or value is None):
                return TOP  # a module's data (``config.N``) may change between calls
            return Known(value)
        return TOP

    def subscript(self, base, index_node, env):
        index = self.expr(index_node, env)
        if isinstance(index_node, gast.Tuple):
            parts = [self.nodes.get(id(e), TOP) for e in index_node.elts]  # just evaluated
        else:
            parts = [index]
        if type(base) is Known and type(index) is Known:
            try:
                value = base.value[index.value]
            except Exception:  # noqa: BLE001
                return TOP
            return Known(value)
        if type(base) is Seq and base.kind is tuple and type(index) is Known and \
                type(index.value) is int and -len(base.items) <= index.value < len(base.items):
            return base.items[index.value]  # (a tuple a generated callee returned)
        if type(base) is Items:  # an item of a dict argument, by its key
            return base.get(index.value) if type(index) is Known else TOP
        if type(base) is not Arr:
            return TOP
        if type(index) is Known and isinstance(index.value, tuple):
            parts = list(index.value)
        else:
            parts = [p.value if type(p) is Known else p for p in parts]
        standins = []
        for p in parts:
            if p is ANYINT:
                standins.append(0)  # any valid integer index removes the axis the same way
            elif type(p) is Arr and p.dtype.kind in "iu" and _size(p) <= _CAP:
                standins.append(np.zeros(p.shape, p.dtype))
            elif isinstance(p, (int, slice, type(None), type(Ellipsis))) and not isinstance(p, bool):
                standins.append(p)
            else:
                return TOP  # booleans (masks) and unknown indices decide the shape by value
        if _size(base) > _CAP and any(type(p) is np.ndarray for p in standins):
            return TOP
        try:
            value = _full_standin(base)[tuple(standins)]
        except Exception:  # noqa: BLE001
            return TOP
        return _fact_of_result(value)

    def call(self, node, env):
        func = self.expr(node.func, env)
        args = [self.expr(a.value if isinstance(a, gast.Starred) else a, env) for a in node.args]
        kwargs = {k.arg: self.expr(k.value, env) for k in node.keywords}
        # a list the call can reach may change (lst.append(v), helper(lst)): its facts are gone
        reach = list(node.args) + [k.value for k in node.keywords]
        if isinstance(node.func, gast.Attribute):
            reach.append(node.func.value)
        helper = type(func) is Known and registry.facts(func.value).reads_dicts
        for a in reach:
            if isinstance(a, gast.Name) and ((type(env.get(a.id)) is Seq and
                                              env[a.id].kind is list) or
                                             (type(env.get(a.id)) is Items and not helper)):
                env[a.id] = TOP
                self.ever[a.id] = TOP
        if any(isinstance(a, gast.Starred) for a in node.args) or None in kwargs:
            return TOP
        if self._is_pop(node):
            return TOP
        if isinstance(func, _Method):
            if func.name != "dot" and any(type(a) not in (Known,) and a is not PYFLOAT
                                          for a in list(args) + list(kwargs.values())):
                return TOP  # e.g. ``x.repeat(counts)``: array values that decide a shape
            return _evaluate(getattr(_full_standin(func.base), func.name), args, kwargs,
                             [func.base])
        if type(func) is not Known:
            return TOP
        fn = func.value
        if getattr(fn, "__sourcediff_fdef__", None) is not None:
            return self._callee(fn, args, kwargs)
        if fn is len:
            return Known(args[0].shape[0]) if len(args) == 1 and type(args[0]) is Arr and \
                args[0].shape else TOP
        if fn is float:
            return PYFLOAT if args and args[0] is not TOP else TOP
        if fn is int:
            return args[0] if args and type(args[0]) is Known else ANYINT
        if fn is runtime.reduced_count:
            if args and type(args[0]) is Arr and all(type(a) is Known for a in args[1:]):
                return Known(runtime.reduced_count(_full_standin(args[0]),
                                                   *[a.value for a in args[1:]]))
            return TOP
        if fn is runtime.win_mask:
            # a boolean mask, or (at ties) a float mask: a multiply by either keeps the other
            # factor's shape, and the gradients it scales keep their dtype
            if len(args) != 2 or kwargs:
                return TOP
            shape = _elementwise(operator.gt, args)
            if type(shape) is Arr:
                return Arr(shape.shape, np.bool_)
            return PYFLOAT if shape is not TOP else TOP
        if fn in _SUBSCRIPTS:
            return _subscripts_fact(fn, args, kwargs)
        if fn in _DOT_HELPERS:
            return _dot_helper_fact(fn, args, kwargs)
        if fn in (runtime.matmul_grad_left, runtime.matmul_grad_right) and len(args) == 3 and \
                not kwargs and all(type(a) is Arr for a in args):
            # by formula: a matmul on zero-stride stand-ins would do the whole product slowly
            g, x, y = args
            other = y if fn is runtime.matmul_grad_left else x
            product = _matmul(x, y)
            if type(product) is not Arr or product.shape != g.shape:
                return TOP
            return Arr((x if fn is runtime.matmul_grad_left else y).shape,
                       np.result_type(g.dtype, other.dtype))
        if isinstance(fn, np.ufunc):
            if kwargs or len(args) != fn.nin or fn.nout != 1:
                return TOP
            return _elementwise(fn, args)
        entry = _NP.get(id(fn))
        if entry is not None:
            name = entry[1]
            if name == "where" and len(args) != 3:
                return TOP
            need = _SHAPE_ARGS.get(name)
            if need == "all":
                if not all(type(a) is Known for a in list(args) + list(kwargs.values())):
                    return TOP
            elif need is not None:
                pos, *names = need
                if len(args) > pos and type(args[pos]) is not Known:
                    return TOP
                if any(type(kwargs[k]) is not Known for k in names if k in kwargs):
                    return TOP
            return _evaluate(fn, args, kwargs, [])
        if id(fn) in _SD:
            return _evaluate(fn, args, kwargs, [])
        return TOP

    def _callee(self, fn, args, kwargs):
        """The fact of a call of a generated function (a user function's forward or backward
        form): an inference of its own code for these argument facts, a few levels deep."""
        import builtins

        fdef, stack_name = fn.__sourcediff_fdef__
        params = [a.id for a in fdef.args.args]
        kwonly = [a.id for a in fdef.args.kwonlyargs]
        if self.depth >= 3 or fdef.args.vararg is not None or fdef.args.kwarg is not None or \
                len(args) != len(params) or set(kwargs) != set(kwonly):
            return TOP
        facts = dict(zip(params, args))
        facts.update(kwargs)
        raw = fn
        while getattr(raw, "__sourcediff_same_as_wrapped__", False) and \
                hasattr(raw, "__wrapped__"):
            raw = raw.__wrapped__
        if not isinstance(raw, types.FunctionType):
            return TOP
        namespace = dict(vars(builtins))
        namespace.update(raw.__globals__)
        for name, cell in zip(raw.__code__.co_freevars, raw.__closure__ or ()):
            try:
                namespace[name] = cell.cell_contents
            except ValueError:
                pass
        assigned = {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name) and
                    isinstance(n.ctx, gast.Store)}
        namespace = {k: v for k, v in namespace.items() if k not in assigned}
        inner = Inference(fdef, namespace, stack_name, facts)
        inner.depth = self.depth + 1
        try:
            inner.run()
        except (_Unsupported, RecursionError):
            return TOP
        return TOP if inner.returns is BOT else inner.returns

    def _is_pop(self, node):
        f = node.func
        return isinstance(f, gast.Attribute) and f.attr == "pop" and \
            isinstance(f.value, gast.Name) and f.value.id == self.stack_name


def _evaluate(fn, args, kwargs, extra):
    names = list(kwargs)

    def rule(facts):
        return _evaluate1(fn, facts[:len(args)], dict(zip(names, facts[len(args):])), extra)

    return _over_members(rule, list(args) + list(kwargs.values()))


def _evaluate1(fn, args, kwargs, extra):
    facts = list(args) + list(kwargs.values()) + list(extra)
    if any(f is TOP or f is BOT or f is ANYINT or f is ANYBOOL or isinstance(f, _Method) or
           type(f) is Items for f in facts):
        return TOP
    if sum(_size(f) for f in facts) > _CAP:
        return TOP
    # a Python float of unknown value may be the symbolic zero 0.0, which helpers pass through:
    # try both a zero and a non-zero float there
    floats = [k for k, f in enumerate(facts) if f is PYFLOAT]
    if len(floats) > 3:
        return TOP
    out = BOT
    for values in itertools.product((0.0, 1.0), repeat=len(floats)):
        chosen = dict(zip(floats, values))
        standins = [chosen[k] if k in chosen else _full_standin(f) for k, f in enumerate(facts)]
        try:
            with np.errstate(all="ignore"):
                value = fn(*standins[:len(args)],
                           **dict(zip(kwargs, standins[len(args):len(args) + len(kwargs)])))
        except Exception:  # noqa: BLE001
            return TOP
        out = join(out, _fact_of_result(value))
    return out


def _is_range(node):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and \
        node.func.id == "range"


def _join_env(a, b):
    if a is None:
        return None if b is None else dict(b)
    if b is None:
        return dict(a)
    out = {}
    for k in a.keys() | b.keys():
        out[k] = join(a.get(k, BOT), b.get(k, BOT))
    return out


# ---------------------------------------------------------------- the rewrite


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


class _Rewriter(gast.NodeTransformer):
    def __init__(self, facts, runtime_names):
        self.facts = facts
        self.runtime_names = runtime_names
        self.changed = 0

    def f(self, node):
        return self.facts.get(id(node), TOP)

    def visit_Expr(self, node):
        name = _sd_call(node.value, self.runtime_names)
        if name == "check_wrt" and node.value.args:
            v = self.f(node.value.args[0])
            if v is PYFLOAT or (type(v) in (Arr, Scal) and v.dtype.kind == "f"):
                self.changed += 1
                return None
        if name == "check_alias" and node.value.args and _scalar_like(self.f(node.value.args[0])):
            self.changed += 1  # a number is immutable: v op= e cannot write into anything
            return None
        if name == "check_scalar" and node.value.args:
            v = self.f(node.value.args[0])
            if _scalar_like(v) or (type(v) is Arr and v.shape == ()):
                self.changed += 1
                return None
        self.generic_visit(node)
        return node

    def visit_BinOp(self, node):
        """``t * a + t * b`` is ``t * (a + b)`` (one multiply fewer) when all three are float64:
        forward mode's tangent of ``x * a + np.sin(x)`` becomes ``x_dot * (a + np.cos(x))``. The
        rounding differs from the unfactored form by an ulp, as it would by hand."""
        if isinstance(node.op, gast.MatMult) and _outer_product(self.f(node.left),
                                                                self.f(node.right)):
            self.changed += 1
            node = gast.BinOp(left=node.left, op=gast.Mult(), right=node.right)
        parts = _factorable(node)
        if parts is not None and all(_float64_value(self.f(p)) for p in parts[:3]):
            common, a, b, left = parts
            self.changed += 1
            inner = gast.BinOp(left=a, op=node.op, right=b)
            node = gast.BinOp(left=common, op=gast.Mult(), right=inner) if left else \
                gast.BinOp(left=inner, op=gast.Mult(), right=common)
        self.generic_visit(node)
        return node

    def visit_Call(self, node):
        name = _sd_call(node, self.runtime_names)
        facts = [self.f(a) for a in node.args]
        self.generic_visit(node)
        if name is None or node.keywords:
            return node
        new = getattr(self, "_" + name, lambda *a: None)(node, *facts)
        if new is None:
            return node
        self.changed += 1
        return new

    def _output_seed(self, node, value, where):
        if _scalar_like(value) or (type(value) is Arr and value.shape == ()):
            return gast.Constant(value=1.0, kind=None)  # (a scalar output: the seed is 1.0)
        return None

    def _unbroadcast(self, node, g, x):
        arg = node.args[0]
        if _scalar_like(g) and (_scalar_like(x) or (type(x) is Arr and x.shape == ())):
            return arg
        if type(g) is Arr and (_scalar_like(x) or (type(x) is Arr and x.shape == ())):
            return _attr_call(arg, "sum")  # what the helper computes: np.sum(g)
        if type(g) is not Arr or type(x) is not Arr:
            return None
        gs, xs = g.shape, x.shape
        if gs == xs:
            return arg
        if len(gs) < len(xs):
            return None
        lead = len(gs) - len(xs)
        inner = tuple(lead + i for i, n in enumerate(xs) if n == 1 and gs[lead + i] != 1)
        if any(n != gs[lead + i] for i, n in enumerate(xs) if lead + i not in inner):
            return None
        out = arg
        if inner:
            out = _attr_call(out, "sum", keywords=[
                gast.keyword(arg="axis", value=_tuple_const(inner)),
                gast.keyword(arg="keepdims", value=_const(True))])
        if lead:
            out = _attr_call(out, "sum", keywords=[
                gast.keyword(arg="axis", value=_tuple_const(tuple(range(lead))))])
        return out

    def _grad_like(self, node, g, x):
        arg = node.args[0]
        if type(g) is Arr and type(x) is Arr and g == x:
            return arg
        if _float64ish(x) and (_scalar_like(g) or (type(g) is Arr and g.shape == ())):
            return arg if _pyfloat(g) else gast.Call(
                func=gast.Name(id="float", ctx=gast.Load(), annotation=None, type_comment=None),
                args=[arg], keywords=[])  # the helper's float(g)
        return None

    def _add_grads(self, node, a, b):
        """Two float arrays (or numbers) add with ``+``, as the helper adds them; a symbolic zero
        ``0.0`` and an array give the array itself (the helper returns it, no copy)."""
        if all(type(f) is Arr and f.dtype.kind in "fc" or _scalar_like(f) for f in (a, b)) and \
                not (_pyfloat(a) or _pyfloat(b)):
            return gast.BinOp(left=node.args[0], op=gast.Add(), right=node.args[1])
        if a == Known(0.0) and type(b) is Arr:
            return node.args[1]
        if type(a) is FloatOr and type(b) is Arr and a.arr == b:
            # an accumulator that is 0.0 until its first array: ``0.0 + b`` has b's values (a
            # -0.0 of b's becomes 0.0), as for the compiler's own ``x_bar = x_bar + g``
            return gast.BinOp(left=node.args[0], op=gast.Add(), right=node.args[1])
        if b == Known(0.0) and type(a) is Arr:
            return node.args[0]
        return None

    def _dense_grad(self, node, g, ans):
        return node.args[0] if type(g) is Arr else None  # only the symbolic zero changes

    def _broadcast_tangent(self, node, t, ans):
        if (_scalar_like(t) and _scalar_like(ans)) or (type(t) is Arr and t == ans) or (
                type(t) is Arr and type(ans) is Arr and t.shape == ans.shape):
            return node.args[0]
        return None

    def _matmul_grad_left(self, node, g, x, y):
        if type(g) is Arr and type(x) is Arr and type(y) is Arr and len(x.shape) == 2 and \
                len(y.shape) == 2:
            return gast.BinOp(left=node.args[0], op=gast.MatMult(),
                              right=gast.Attribute(value=node.args[2], attr="T", ctx=gast.Load()))
        return None

    def _matmul_grad_right(self, node, g, x, y):
        if type(g) is Arr and type(x) is Arr and type(y) is Arr and len(x.shape) == 2 and \
                len(g.shape) == len(y.shape) and len(y.shape) in (1, 2):
            return gast.BinOp(left=gast.Attribute(value=node.args[1], attr="T", ctx=gast.Load()),
                              op=gast.MatMult(), right=node.args[0])
        return None

    def _dot_subscripts(self, node, *facts):
        value = self.f(node)  # the subscripts string, known from the operands' dimensions
        return _const(value.value) if type(value) is Known and type(value.value) is str else None

    _inner_subscripts = _tensordot_subscripts = _dot_subscripts

    def _dot_grad_left(self, node, g, sub, x, y):
        if _dot_2d(g, sub, x, y):  # what the helper computes for these: g @ y.T
            return gast.BinOp(left=node.args[0], op=gast.MatMult(),
                              right=gast.Attribute(value=node.args[3], attr="T", ctx=gast.Load()))
        return None

    def _dot_grad_right(self, node, g, sub, x, y):
        if _dot_2d(g, sub, x, y):  # x.T @ g
            return gast.BinOp(left=gast.Attribute(value=node.args[2], attr="T", ctx=gast.Load()),
                              op=gast.MatMult(), right=node.args[0])
        return None

    def _reduced_count(self, node, x, *rest):
        if type(x) is Arr and all(type(r) is Known for r in rest):
            return _const(runtime.reduced_count(_full_standin(x), *[r.value for r in rest]))
        return None


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


def _dot_2d(g, sub, x, y):
    """A gradient of 2-D np.dot (or tensordot over one axis) with known shapes: a matrix product."""
    return type(sub) is Known and sub.value == "ab,bd->ad" and type(g) is Arr and \
        type(x) is Arr and type(y) is Arr and len(x.shape) == 2 and len(y.shape) == 2


def _outer_product(a, b):
    """True for ``a @ b`` that sums one product per entry, ``(n, 1) @ (1, m)`` (also batched), of
    floats of one dtype: ``a * b`` broadcasts to the same array with the same values, without a
    matrix product's call into BLAS (``g @ w2.T`` for a one-column ``w2``, at (100, 1) @ (1, 32), is
    faster as a broadcast multiply)."""
    return type(a) is Arr and type(b) is Arr and len(a.shape) >= 2 and len(b.shape) >= 2 and \
        a.shape[-1] == 1 and b.shape[-2] == 1 and a.dtype == b.dtype and a.dtype.kind in "fc"


def _float64_value(f):
    return _float64ish(f) or (type(f) is Arr and f.dtype == _F64)


def _factorable(node):
    """(common name, a, b, common-on-the-left) for ``t * a + t * b`` (the product of floats
    commutes exactly, so ``a * t - t * b`` too)."""
    if not (isinstance(node.op, (gast.Add, gast.Sub)) and
            all(isinstance(side, gast.BinOp) and isinstance(side.op, gast.Mult)
                for side in (node.left, node.right))):
        return None
    l, r = node.left, node.right
    for t1, a in ((l.left, l.right), (l.right, l.left)):
        for t2, b in ((r.left, r.right), (r.right, r.left)):
            if isinstance(t1, gast.Name) and isinstance(t2, gast.Name) and t1.id == t2.id:
                return t1, a, b, t1 is l.left
    return None


def _parents(root):
    out = {}
    for node in gast.walk(root):
        for child in gast.iter_child_nodes(node):
            out[id(child)] = node
    return out


def _scalar_seeds(fdef, facts, runtime_names):
    """``v = _sd.unreduce(s, x, None, False)`` (or with keepdims), where every use of ``v`` is a
    factor of an elementwise product that has ``x``'s shape (and dtype) whether ``v`` is broadcast
    or not: ``v = s`` gives the same values without materializing the broadcast."""
    assigns = {}
    for node in gast.walk(fdef):
        if isinstance(node, gast.Assign):
            for t in node.targets:
                for n in gast.walk(t):
                    if isinstance(n, gast.Name):
                        assigns.setdefault(n.id, []).append(node)
    parents = _parents(fdef)
    loads = {}
    for node in gast.walk(fdef):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            loads.setdefault(node.id, []).append(node)
    changed = 0
    for name, stmts in assigns.items():
        if len(stmts) != 1 or len(stmts[0].targets) != 1 or \
                not isinstance(stmts[0].targets[0], gast.Name):
            continue
        call = stmts[0].value
        if _sd_call(call, runtime_names) != "unreduce" or call.keywords or len(call.args) != 4:
            continue
        s, x = facts.get(id(call.args[0]), TOP), facts.get(id(call.args[1]), TOP)
        axis, keepdims = [facts.get(id(a), TOP) for a in call.args[2:]]
        if s is TOP or type(x) is not Arr or \
                not (axis == Known(None) or keepdims == Known(True)):
            continue  # (without keepdims, an axis reduction's gradient needs its axes back)
        if not all(_product_keeps(use, s, x, facts, parents)
                   for use in loads.get(name, ())) or not loads.get(name):
            continue
        stmts[0].value = call.args[0]
        changed += 1
    return changed


def _product_keeps(use, seed, x, facts, parents):
    """True when ``use`` (a load of the seed) sits in a chain of products whose top has the seed's
    broadcast shape both with the broadcast seed and with the plain scalar."""
    node, top = use, None
    while True:
        parent = parents.get(id(node))
        if isinstance(parent, gast.BinOp) and (isinstance(parent.op, gast.Mult) or (
                isinstance(parent.op, gast.Div) and parent.left is node)):
            node = top = parent
            continue
        if _is_scaled_sigmoid(parent) and parent.args[0] is node:  # g times a sigmoid
            node = top = parent
            continue
        break
    if top is None:
        return False
    before = facts.get(id(top), TOP)
    if type(before) is not Arr or before.shape != x.shape:
        return False
    return _reevaluate(top, use, seed, facts) == before


def _reevaluate(node, seed_use, seed, facts):
    """The fact of a product chain with the seed's load taken as the unbroadcast seed."""
    if node is seed_use:
        return seed
    if isinstance(node, gast.BinOp) and isinstance(node.op, (gast.Mult, gast.Div)):
        a = _reevaluate(node.left, seed_use, seed, facts)
        b = _reevaluate(node.right, seed_use, seed, facts)
        return _elementwise(_BINOPS[type(node.op)], [a, b])
    if _is_scaled_sigmoid(node):
        a = _reevaluate(node.args[0], seed_use, seed, facts)
        return _elementwise(operator.mul, [a, facts.get(id(node.args[1]), TOP)])
    return facts.get(id(node), TOP)


def _is_scaled_sigmoid(node):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
        node.func.attr == "scaled_sigmoid" and len(node.args) == 2 and not node.keywords


def _propagate_constants(fdef, removable):
    """Compiler names assigned once, at the top level, to a number: use the number instead."""
    counts = {}
    for node in gast.walk(fdef):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
            counts[node.id] = counts.get(node.id, 0) + 1
    values = {}
    for s in fdef.body:
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                isinstance(s.targets[0], gast.Name) and s.targets[0].id in removable and \
                counts.get(s.targets[0].id) == 1 and isinstance(s.value, gast.Constant) and \
                type(s.value.value) in (int, float):
            values[s.targets[0].id] = s.value.value

    if not values:
        return False

    class Sub(gast.NodeTransformer):
        def visit_Name(self, node):
            if isinstance(node.ctx, gast.Load) and node.id in values:
                return _const(values[node.id])
            return node

    Sub().visit(fdef)
    fdef.body = [s for s in fdef.body if not (isinstance(s, gast.Assign) and isinstance(
        s.targets[0], gast.Name) and s.targets[0].id in values)]
    return True


_POPPED = "__sourcediff_popped__"


def _drop_unread_saves(body, stack_name, removable):
    """Stop saving a variable on the stack when no value restored from it is ever read again."""
    probe = copy.deepcopy(body)
    popped = set()

    class Mark(gast.NodeTransformer):
        def visit_Assign(self, node):
            if _is_stack_call(node.value, stack_name, "pop") and isinstance(node.targets[0],
                                                                             gast.Name):
                popped.add(node.targets[0].id)
                node.value = _const(_POPPED)  # a pure stand-in, so that dead code can drop it
            return node

    probe = [Mark().visit(s) for s in probe]
    probe = dead_code(probe, removable | popped, set())
    alive = set()
    for node in gast.walk(gast.Module(body=probe, type_ignores=[])):
        if isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Name) and \
                isinstance(node.value, gast.Constant) and node.value.value == _POPPED:
            alive.add(node.targets[0].id)
    dead = popped - alive
    if not dead:
        return body, 0

    class Drop(gast.NodeTransformer):
        def visit_Assign(self, node):
            if _is_stack_call(node.value, stack_name, "pop") and \
                    isinstance(node.targets[0], gast.Name) and node.targets[0].id in dead:
                return None
            return node

        def visit_Expr(self, node):
            v = node.value
            if _is_stack_call(v, stack_name, "append") and len(v.args) == 1 and \
                    isinstance(v.args[0], gast.Name) and v.args[0].id in dead:
                return None
            return node

    out = []
    for s in body:
        s = Drop().visit(s)
        if s is not None:
            out.append(s)
    return _fill_empty(out), len(dead)


def _fill_empty(stmts):
    for s in stmts:
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list):
                _fill_empty(inner)
                if field == "body" and not [t for t in inner if not is_comment(t)]:
                    inner.append(gast.Pass())
    return stmts


def _is_stack_call(node, stack_name, method):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
        node.func.attr == method and isinstance(node.func.value, gast.Name) and \
        node.func.value.id == stack_name


# ---------------------------------------------------------------- buffers the gradient owns

# below this size a new array is cheaper than a ufunc call with ``out=`` (numpy's own temporary
# elision uses the same bound)
_INPLACE_BYTES = 256 * 1024
_INPLACE_BINOPS = {gast.Add: "add", gast.Sub: "subtract", gast.Mult: "multiply",
                   gast.Div: "true_divide"}
_INPLACE_UNARY = {gast.USub: "negative"}


def _fresh(node, facts):
    """True when ``node`` always evaluates to a new array (never a view or one of its operands)."""
    if type(facts.get(id(node), TOP)) is not Arr:
        return False
    if isinstance(node, (gast.BinOp, gast.UnaryOp)):
        return True
    if isinstance(node, gast.Call):
        f = facts.get(id(node.func), TOP)
        if type(f) is Known and isinstance(f.value, np.ufunc):
            return not node.keywords or _out_buffer(node) is not None
    return False


def _out_buffer(node):
    for k in getattr(node, "keywords", ()):
        if k.arg == "out" and isinstance(k.value, gast.Name):
            return k.value.id
    return None


def _non_aliasing_use(parent, node, facts):
    """``node`` (a load) is only read by ``parent``, which makes a new value from it."""
    if isinstance(parent, (gast.BinOp, gast.UnaryOp, gast.Compare)):
        return True
    if isinstance(parent, gast.Call) and node in parent.args:
        f = facts.get(id(parent.func), TOP)
        return type(f) is Known and isinstance(f.value, np.ufunc)
    return False


def _reuse_buffers(fdef, facts, runtime_name):
    """Write elementwise results into an array the gradient made itself and no longer needs,
    instead of allocating another one (``a = b * c`` with ``b`` dead after it and of ``a``'s
    shape and dtype becomes ``a = np.multiply(b, c, out=b)``). Only top-level statements, only
    arrays assigned once from an operation that makes a new array and only ever read by operations
    that make new arrays, so no other name can see the overwritten values."""
    from ..compiler.optimize import _live_stmt

    stores, loads, parents = {}, {}, _parents(fdef)
    for node in gast.walk(fdef):
        if isinstance(node, gast.Name):
            if isinstance(node.ctx, gast.Load):
                loads.setdefault(node.id, []).append(node)
            else:
                stores[node.id] = stores.get(node.id, 0) + 1
    body = fdef.body
    live, live_after = set(), [None] * len(body)
    for i in range(len(body) - 1, -1, -1):
        live_after[i] = live
        live = _live_stmt(body[i], set(live))
    owned = {}  # name -> fact of the array it holds

    def usable(name):
        return name in owned and all(_non_aliasing_use(parents.get(id(n)), n, facts)
                                     for n in loads.get(name, ()))

    changed = 0
    for i, s in enumerate(body):
        if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and
                isinstance(s.targets[0], gast.Name)):
            continue
        names_here = [n.id for n in gast.walk(s.value) if isinstance(n, gast.Name) and
                      isinstance(n.ctx, gast.Load)]
        dead = {n for n in names_here if names_here.count(n) == 1 and n not in live_after[i]
                and usable(n)}

        def rewrite(node):
            """(node, name of the owned buffer holding its value or None)."""
            nonlocal changed
            if isinstance(node, gast.Name):
                return node, (node.id if node.id in dead else None)
            if isinstance(node, gast.BinOp) and type(node.op) in _INPLACE_BINOPS:
                node.left, a = rewrite(node.left)
                node.right, b = rewrite(node.right)
                buf = a or b
                if buf and facts.get(id(node), TOP) == owned[buf]:
                    changed += 1
                    return _np_call(runtime_name, _INPLACE_BINOPS[type(node.op)],
                                    [node.left, node.right], buf), buf
                return node, None
            if isinstance(node, gast.UnaryOp) and type(node.op) in _INPLACE_UNARY:
                node.operand, a = rewrite(node.operand)
                if a and facts.get(id(node), TOP) == owned[a]:
                    changed += 1
                    return _np_call(runtime_name, _INPLACE_UNARY[type(node.op)],
                                    [node.operand], a), a
                return node, None
            if isinstance(node, gast.Call) and not node.keywords and len(node.args) == 1:
                f = facts.get(id(node.func), TOP)
                node.args[0], a = rewrite(node.args[0])
                if a and type(f) is Known and isinstance(f.value, np.ufunc) and \
                        f.value.nin == 1 and f.value.nout == 1 and \
                        facts.get(id(node), TOP) == owned[a]:
                    changed += 1
                    node.keywords = [gast.keyword(arg="out", value=_load(a))]
                    return node, a
                return node, None
            return node, None

        if dead:
            s.value, _ = rewrite(s.value)
        target = s.targets[0].id
        if stores.get(target) == 1 and (_fresh(s.value, facts) or _out_buffer(s.value) in owned):
            fact = facts.get(id(s.value), TOP)
            if _out_buffer(s.value) in owned:
                fact = owned[_out_buffer(s.value)]
            if type(fact) is Arr and _size(fact) * fact.dtype.itemsize >= _INPLACE_BYTES:
                owned[target] = fact
    return changed


# ---------------------------------------------------------------- weight gradients of loops

_STACK_BYTES = 512 * 1024  # per pass and operand: small products, where a call per pass costs most


def _stack_loop_products(fdef, facts, removable, stack_name, runtime_name, share=True):
    """In a loop of the adjoint sweep, a weight gradient accumulated pass by pass from small
    products, ``W_bar = W_bar + h.T @ d``, becomes one product of the stacked ``h`` and ``d`` after
    the loop (the sum over passes of ``h.T @ d`` is ``[h1; h2; ...].T @ [d1; d2; ...]``): one
    BLAS call that runs at full speed instead of one small call per pass. Example::

        Wh_bar = 0.0                                  Wh_bar = 0.0
        for _ in range(_n1):                          _Wh_bar_lhs1 = []
            ...                                       _Wh_bar_rhs1 = []
            Wh_bar = Wh_bar + h.T @ _matmul2_bar      for _ in range(_n1):
            ...                                           ...
                                                          _Wh_bar_lhs1.append(h)
                                                          _Wh_bar_rhs1.append(_matmul2_bar)
                                                          ...
                                                      Wh_bar = _sd.add_stacked_products(Wh_bar,
                                                                   _Wh_bar_lhs1, _Wh_bar_rhs1)

    Only where it is the same sum: ``W_bar`` is read and written nowhere else in the loop, ``h``
    and ``d`` are 2-D float arrays of one shape in every pass (known facts), and nothing in the
    loop writes into an array (no subscript store, no ``out=``, only calls of numpy, of the
    runtime's helpers and of array methods that make new values), so the arrays kept for after
    the loop still hold the values each pass read. The lists hold what the pass would have
    released, so each operand is limited to ``_STACK_BYTES`` per pass; the extra memory is then
    about the per-pass operands of all passes, the size of what the forward sweep saved."""
    taken = {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name)}
    changed = 0

    def fresh(hint):
        k = 1
        while f"_{hint}{k}" in taken:
            k += 1
        taken.add(f"_{hint}{k}")
        return f"_{hint}{k}"

    def visit(stmts):
        nonlocal changed
        out = []
        for s in stmts:
            for field in ("body", "orelse"):
                if isinstance(getattr(s, field, None), list):
                    setattr(s, field, visit(getattr(s, field)))
            after = []
            if isinstance(s, gast.For) and _plain_adjoint_pass(s, removable, facts, stack_name):
                changed += _stack_in(s, out, after)
            out.append(s)
            out.extend(after)
        return out

    def _stack_in(loop, out, after):
        """Lists for the accumulations of ``loop``'s body: appends in the body, initial empty
        lists into ``out`` (before the loop), the sums into ``after``. With ``share``, one list
        for every accumulation that reads the same value of a name (no assignment of it between
        them), stacked once after the loop when more than one sum reads it."""
        body = loop.body
        temps = _product_temps(body, fdef, removable)
        index = {id(st): k for k, st in enumerate(body)}
        stores = [{n.id for n in gast.walk(st) if isinstance(n, gast.Name) and
                   isinstance(n.ctx, gast.Store)} for st in body]

        def version(name, k):  # how many statements before k assign name
            return sum(name in stored for stored in stores[:k])

        lists, uses, inserts, drop, sums = {}, {}, {}, set(), []

        def origin(name, k):
            """The name whose value ``name`` holds at statement k, through plain copies
            (``_matmul1_bar = _add1_bar``) whose source is not assigned again before k."""
            for j in range(k - 1, -1, -1):
                if name in stores[j]:
                    st = body[j]
                    if isinstance(st, gast.Assign) and len(st.targets) == 1 and \
                            isinstance(st.targets[0], gast.Name) and \
                            isinstance(st.value, gast.Name) and \
                            version(st.value.id, j) == version(st.value.id, k):
                        return origin(st.value.id, j)
                    return name, version(name, k)
            return name, version(name, k)

        def list_of(name, k, hint, st):
            key = origin(name, k) if share else (name, k, hint)
            if key not in lists:
                lists[key] = fresh(hint)
                out.append(_located(gast.Assign(targets=[_store(lists[key])], value=gast.List(
                    elts=[], ctx=gast.Load()), type_comment=None), loop))
                inserts.setdefault(k, []).append(_located(gast.Expr(value=gast.Call(
                    func=gast.Attribute(value=_load(lists[key]), attr="append", ctx=gast.Load()),
                    args=[_load(name)], keywords=[])), st))
            uses[lists[key]] = uses.get(lists[key], 0) + 1
            return lists[key]

        for k, st in enumerate(body):
            found = _product_accumulation(st, facts, removable, temps)
            summed = None if found is not None or not share else \
                _sum_accumulation(st, facts, removable, temps)
            acc = found[0] if found is not None else (summed[0] if summed else None)
            if acc is None or sum(isinstance(n, gast.Name) and n.id == acc
                                  for b in body for n in gast.walk(b)) != 2:
                continue
            drop.add(k)
            if summed is not None:
                _, d, keepdims, temp = summed
                at = k
                if temp is not None:  # (appended where the sum was made)
                    at = index[id(temps[temp])]
                    drop.add(at)
                sums.append((st, acc, "add_stacked_sums",
                             [list_of(d, at, f"{acc}_rows", st)], keepdims))
                continue
            acc, a, b, temp = found
            at = k
            if temp is not None:  # (appended where the product was made)
                at = index[id(temps[temp])]
                drop.add(at)
            lhs, rhs = list_of(a, at, f"{acc}_lhs", st), list_of(b, at, f"{acc}_rhs", st)
            sums.append((st, acc, "add_stacked_products", [lhs, rhs], None))
        if not sums:
            return 0
        new_body = []
        for k, st in enumerate(body):
            new_body.extend(inserts.get(k, []))
            if k not in drop:
                new_body.append(st)
        loop.body = new_body
        stacked = {}
        for name, n in uses.items():
            if n > 1:  # one concatenation for every sum that reads these rows
                stacked[name] = fresh("stacked")
                after.append(_located(gast.Assign(targets=[_store(stacked[name])], value=gast.Call(
                    func=gast.Attribute(value=_load(runtime_name), attr="stack_rows",
                                        ctx=gast.Load()),
                    args=[_load(name)], keywords=[]), type_comment=None), loop))
        for st, acc, helper, operands, keepdims in sums:
            args = [_load(acc)] + [_load(stacked.get(o, o)) for o in operands]
            if keepdims:
                args.append(_const(True))
            after.append(_located(gast.Assign(targets=[_store(acc)], value=gast.Call(
                func=gast.Attribute(value=_load(runtime_name), attr=helper, ctx=gast.Load()),
                args=args, keywords=[]), type_comment=None), st))
        return len(sums)

    fdef.body = visit(fdef.body)
    return changed


def _sum_accumulation(s, facts, removable, temps=None):
    """(acc, d, keepdims, temp) for ``acc = acc + d.sum(axis=(0,))`` (or ``axis=0``,
    ``keepdims=True``) with ``d`` a small 2-D float array: a bias gradient summed pass by pass;
    or for ``acc = acc + t`` with ``t = d.sum(...)`` one of ``temps``."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and
            isinstance(s.targets[0], gast.Name) and s.targets[0].id in removable):
        return None
    acc, v = s.targets[0].id, s.value
    if not (isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add) and
            isinstance(v.left, gast.Name) and v.left.id == acc):
        return None
    call, temp = v.right, None
    if isinstance(call, gast.Name) and call.id in (temps or {}) and \
            isinstance(temps[call.id].value, gast.Call):
        temp, call = call.id, temps[call.id].value
    if not isinstance(call, gast.Call):
        return None
    if not (isinstance(call.func, gast.Attribute) and call.func.attr == "sum" and
            isinstance(call.func.value, gast.Name) and not call.args):
        return None  # (the array's own method: its fact, below, is an array)
    kw = {k.arg: _literal(k.value) for k in call.keywords}
    if set(kw) - {"axis", "keepdims"} or kw.get("axis") not in (0, (0,)) or \
            kw.get("keepdims", False) not in (True, False):
        return None
    d = facts.get(id(call.func.value), TOP)
    if not (type(d) is Arr and len(d.shape) == 2 and d.dtype.kind == "f" and
            _size(d) * d.dtype.itemsize <= _STACK_BYTES):
        return None
    return acc, call.func.value.id, bool(kw.get("keepdims", False)), temp


_HOIST_BYTES = 16 << 20  # the products of all passes, computed before the loop


def _hoist_loop_products(fdef, facts, removable, stack_name):
    """In a loop ``for t in range(n)`` over the rows of an array ``X`` that the loop does not
    change, a product of row ``t`` with a matrix the loop does not change, ``v = X[t]; m = v @ W``
    (or ``np.dot(v, W)``), becomes one product of all the rows before the loop and a row of it in
    each pass: one BLAS call instead of one small call per pass (what a hand computing ``xs @ Wx``
    for all steps at once does). Example::

        for t in range(_item1):                  _XW1 = xs @ Wx
            _item2 = xs[t]                       for t in range(_item1):
            _matmul1 = _item2 @ Wx                   _item2 = xs[t]
                                                     _matmul1 = _XW1[t]

    Each row of ``X @ W`` is the row's own product (the same sums, by BLAS in one call). Only
    where: ``n`` is known to be ``X.shape[0]`` (the passes read every row, no more), ``t`` is
    not assigned in the body, ``X`` and ``W`` are names the body does not assign (or ``W`` is
    re-read each pass as an item of a dict argument the code only reads: the same array), both
    are float arrays (``X`` 3-D, ``W`` 2-D), and the body writes into no array (as in
    ``_plain_adjoint_pass``, the stack's appends allowed)."""
    taken = {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name)}
    changed = 0

    def fresh(hint):
        k = 1
        while f"_{hint}{k}" in taken:
            k += 1
        taken.add(f"_{hint}{k}")
        removable.add(f"_{hint}{k}")
        return f"_{hint}{k}"

    def visit(stmts):
        nonlocal changed
        out = []
        for s in stmts:
            for field in ("body", "orelse"):
                if isinstance(getattr(s, field, None), list):
                    setattr(s, field, visit(getattr(s, field)))
            if isinstance(s, gast.For) and isinstance(s.target, gast.Name) and not s.orelse \
                    and _is_range(s.iter) and len(s.iter.args) == 1 and \
                    _writes_no_array(s.body, facts, stack_name):
                out.extend(_hoist_in(s, facts, fresh))
            out.append(s)
        return out

    def _hoist_in(loop, facts, fresh):
        nonlocal changed
        t = loop.target.id
        stored = {}
        for b in loop.body:
            for n in gast.walk(b):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                    stored.setdefault(n.id, []).append(n)
        if t in stored:
            return []
        count = facts.get(id(loop.iter.args[0]), TOP)
        rows, items, before = {}, {}, []  # v -> X (v = X[t]); W -> dict item expression
        for st in loop.body:
            if not (isinstance(st, gast.Assign) and len(st.targets) == 1 and
                    isinstance(st.targets[0], gast.Name)):
                continue
            name, v = st.targets[0].id, st.value
            if len(stored.get(name, ())) != 1:
                continue
            if isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and \
                    isinstance(v.slice, gast.Name) and v.slice.id == t and \
                    v.value.id not in stored:
                x = facts.get(id(v.value), TOP)
                if type(x) is Arr and len(x.shape) == 3 and x.dtype.kind == "f" and \
                        count == Known(x.shape[0]):
                    rows[name] = v.value.id
                continue
            if isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and \
                    isinstance(v.slice, gast.Constant) and v.value.id not in stored and \
                    type(facts.get(id(v.value), TOP)) is Items:
                items[name] = v
                continue
            pair = None
            if isinstance(v, gast.BinOp) and isinstance(v.op, gast.MatMult):
                pair = (v.left, v.right)
            elif isinstance(v, gast.Call) and not v.keywords and len(v.args) == 2 and \
                    facts.get(id(v.func), TOP) in (Known(np.dot), Known(np.matmul)):
                pair = tuple(v.args)
            if pair is None or not all(isinstance(p, gast.Name) for p in pair):
                continue
            left, right = pair
            if left.id not in rows or not (right.id not in stored or right.id in items):
                continue
            xf, wf = facts.get(id(left), TOP), facts.get(id(right), TOP)
            big = facts.get(id(v), TOP)
            if not (type(xf) is Arr and type(wf) is Arr and len(xf.shape) == 2 and
                    len(wf.shape) == 2 and wf.dtype == xf.dtype and type(big) is Arr):
                continue
            n = facts[id(loop.iter.args[0])].value
            if n * _size(big) * big.dtype.itemsize > _HOIST_BYTES:
                continue
            w_expr = copy.deepcopy(items[right.id]) if right.id in items else _load(right.id)
            product = fresh("rows_product")
            before.append(_located(gast.Assign(
                targets=[_store(product)], value=gast.BinOp(
                    left=_load(rows[left.id]), op=gast.MatMult(), right=w_expr),
                type_comment=None), loop))
            st.value = gast.Subscript(value=_load(product), slice=_load(t), ctx=gast.Load())
            changed += 1
        return before

    fdef.body = visit(fdef.body)
    return changed


def _writes_no_array(body, facts, stack_name):
    """The statements assign names only and call only code that writes into nothing (numpy, the
    runtime, array methods that make new values, the stack's append and pop, generated code that
    passes _writes_nothing)."""
    for node in (n for b in body for n in gast.walk(b)):
        if isinstance(node, gast.stmt) and not (
                is_comment(node) or isinstance(node, (gast.Pass, gast.If, gast.For)) or
                (isinstance(node, gast.Assign) and len(node.targets) == 1 and
                 isinstance(node.targets[0], gast.Name)) or
                (isinstance(node, gast.Expr) and _is_stack_call(node.value, stack_name, "append"))):
            return False
        if isinstance(node, (gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp,
                             gast.GeneratorExp, gast.Yield, gast.YieldFrom, gast.NamedExpr,
                             gast.While)):
            return False
        if isinstance(node, gast.Call) and not _is_stack_call(node, stack_name, "append") and \
                not _non_writing_call(node, facts, stack_name):
            return False
    return True


def _has_loop_products(fdef):
    """Whether some loop has a statement ``x = x + a.T @ b`` (a candidate for the pass above)."""
    return any(isinstance(s, gast.For) and any(
        isinstance(n, gast.BinOp) and isinstance(n.op, gast.MatMult) and
        isinstance(n.left, gast.Attribute) and n.left.attr == "T" for b in s.body
        for n in gast.walk(b)) for s in gast.walk(fdef))


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


def _product_temps(body, fdef, removable):
    """Compiler temporaries ``t = h.T @ d`` (or ``t = d.sum(...)``) of a loop body, each stored
    once and read once in the whole function (``acc = acc + t`` may read it later in the body):
    name -> statement."""
    counts = {}
    for n in gast.walk(fdef):
        if isinstance(n, gast.Name):
            counts[n.id] = counts.get(n.id, 0) + 1
    out = {}
    for st in body:
        if isinstance(st, gast.Assign) and len(st.targets) == 1 and \
                isinstance(st.targets[0], gast.Name) and st.targets[0].id in removable and \
                counts.get(st.targets[0].id) == 2 and (
                    (isinstance(st.value, gast.BinOp) and isinstance(st.value.op, gast.MatMult))
                    or (isinstance(st.value, gast.Call) and
                        isinstance(st.value.func, gast.Attribute) and
                        st.value.func.attr == "sum")):
            out[st.targets[0].id] = st
    return out


def _product_accumulation(s, facts, removable, temps=None):
    """(acc, h, d, temp) for ``acc = acc + h.T @ d`` with ``h`` and ``d`` small 2-D float arrays
    of the same rows and dtype (in every pass: the facts of a loop are joined over its passes);
    or for ``acc = acc + t`` with ``t = h.T @ d`` one of ``temps`` (then ``temp`` is ``t``: the
    product's operands are the values they had there)."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and
            isinstance(s.targets[0], gast.Name) and s.targets[0].id in removable):
        return None
    acc, v = s.targets[0].id, s.value
    temp = None
    if isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add) and \
            isinstance(v.right, gast.Name) and v.right.id in (temps or {}) and \
            isinstance(temps[v.right.id].value, gast.BinOp):
        temp = v.right.id
        v = gast.BinOp(left=v.left, op=v.op, right=temps[temp].value)
    if not (isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add) and
            isinstance(v.left, gast.Name) and v.left.id == acc and isinstance(v.right, gast.BinOp)
            and isinstance(v.right.op, gast.MatMult)):
        return None
    left, right = v.right.left, v.right.right
    if not (isinstance(left, gast.Attribute) and left.attr == "T" and
            isinstance(left.value, gast.Name) and isinstance(right, gast.Name)):
        return None
    a, b = facts.get(id(left.value), TOP), facts.get(id(right), TOP)
    if not (type(a) is Arr and type(b) is Arr and len(a.shape) == 2 and len(b.shape) == 2 and
            a.shape[0] == b.shape[0] and a.dtype == b.dtype and a.dtype.kind == "f"):
        return None
    if max(_size(a), _size(b)) * a.dtype.itemsize > _STACK_BYTES:
        return None
    return acc, left.value.id, right.id, temp


def _plain_adjoint_pass(loop, removable, facts, stack_name):
    """``for c in range(...)`` with a compiler-made counter, whose body runs whole (no jump) and
    writes into no array: only assignments to names, branches and loops, calling only numpy, the
    runtime's helpers, array methods that make new values and the stack's ``pop``."""
    if not (isinstance(loop.target, gast.Name) and loop.target.id in removable and
            not loop.orelse and _is_range(loop.iter)):
        return False
    for node in (n for b in loop.body for n in gast.walk(b)):
        if isinstance(node, gast.stmt) and not (
                is_comment(node) or isinstance(node, (gast.Pass, gast.If, gast.For)) or
                (isinstance(node, gast.Assign) and len(node.targets) == 1 and
                 isinstance(node.targets[0], gast.Name))):
            return False
        if isinstance(node, (gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp,
                             gast.GeneratorExp, gast.Yield, gast.YieldFrom, gast.NamedExpr)):
            return False
        if isinstance(node, gast.Call) and not _non_writing_call(node, facts, stack_name):
            return False
    return True


def _non_writing_call(node, facts, stack_name):
    if any(k.arg in (None, "out") for k in node.keywords):
        return False
    func = node.func
    if isinstance(func, gast.Attribute) and func.attr == "pop" and \
            isinstance(func.value, gast.Name) and func.value.id == stack_name and not node.args:
        return True
    f = facts.get(id(func), TOP)
    if type(f) is _Method or (isinstance(func, gast.Attribute) and
                              type(facts.get(id(func.value), TOP)) in (Arr, Scal)):
        return not may_write(func.attr)  # (a method of an array)
    if type(f) is not Known:
        return False
    value = f.value
    if isinstance(value, np.ufunc):
        return True
    if getattr(value, "__sourcediff_fdef__", None) is not None:
        return _writes_nothing(value)  # (a generated forward or backward form)
    module = getattr(value, "__module__", None) or ""
    name = getattr(value, "__name__", "")
    if may_write(name) or (module == "sourcediff.runtime" and registry.facts(value).calls_back):
        return False
    return module.startswith("numpy") or module in ("sourcediff.runtime", "builtins")


def _load(name):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _np_call(runtime_name, ufunc, args, out):
    func = gast.Attribute(value=gast.Attribute(value=_load(runtime_name), attr="np",
                                               ctx=gast.Load()), attr=ufunc, ctx=gast.Load())
    return gast.Call(func=func, args=list(args),
                     keywords=[gast.keyword(arg="out", value=_load(out))])


def specialize(fdef, param_names, args, *, namespace, stack_name, removable, where_names,
               runtime_names, placeholders=(), keywords=None, bind=None, batch_rows=True):
    """A copy of the generated ``fdef`` rewritten for a call with positional ``args`` (and keyword
    ``keywords``); None when nothing in it changes. ``placeholders`` are the names the function
    sets to None on entry only so that their first save on the stack has a value. ``bind(wanted,
    obj)`` gives the name under which ``obj`` is bound when the code is compiled (see
    ``_hoist_library_calls``); without it library functions are looked up where the code says.
    ``batch_rows=False`` leaves products of a loop's rows in the loop (see _hoist_loop_products;
    for the numba backend, whose ``@`` takes 2-D arrays only)."""
    fdef = copy.deepcopy(fdef)
    facts = {p: (fact_of_signature(args[k]) if k < len(args) else TOP)
             for k, p in enumerate(param_names)}
    for k, v in (keywords or {}).items():
        facts[k] = fact_of_signature(v)
    assigned = {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name) and
                isinstance(n.ctx, gast.Store)}
    namespace = {k: v for k, v in namespace.items() if k not in assigned}
    dicts = [p for k, p in enumerate(param_names) if k < len(args) and type(args[k]) is dict]
    for p in _read_only_dicts(fdef, dicts, runtime_names):
        facts[p] = dict_fact(args[param_names.index(p)])
    if any(type(f) is Items for f in facts.values()):
        inference = Inference(fdef, namespace, stack_name, facts, _marks(fdef, placeholders))
        try:
            inference.run()
            trusted = _calls_leave_dicts_alone(fdef, inference.nodes, namespace, runtime_names,
                                               stack_name)
        except _Unsupported:
            trusted = False
        if not trusted:
            facts = {p: (TOP if type(f) is Items else f) for p, f in facts.items()}
    removable = set(removable)
    total = 0
    for _ in range(4):  # a rewrite can make more facts known (a helper call becomes an operator)
        inference = Inference(fdef, namespace, stack_name, facts, _marks(fdef, placeholders))
        try:
            inference.run()
        except _Unsupported:
            break
        rewriter = _Rewriter(inference.nodes, runtime_names)
        fdef.body = [s for s in (rewriter.visit(s) for s in fdef.body) if s is not None]
        changed = rewriter.changed + _scalar_seeds(fdef, inference.nodes, runtime_names) + \
            _split_dict_grads(fdef, inference.nodes, removable, runtime_names)
        if not changed:
            break
        total += changed
        while _propagate_constants(fdef, removable):
            pass
        fdef.body = fold_constants(fdef.body, where_names)
        fdef.body = _fill_empty(dead_code(fdef.body, removable, set()))
        fdef.body = inline_temps(fdef.body, removable)  # forward mode's statements only
        if stack_name is not None:
            fdef.body, dropped = _drop_unread_saves(fdef.body, stack_name, removable)
            if dropped:
                fdef.body = _fill_empty(dead_code(fdef.body, removable, set()))
    if total or bind is not None:
        inference = Inference(fdef, namespace, stack_name, facts)
        try:
            inference.run()
        except _Unsupported:
            return fdef if total else None
        from .rows import block_rows

        blocked = block_rows(fdef, inference.nodes, facts, next(iter(runtime_names)))
        if blocked:
            total += 1  # (the blocks are small: no buffers to reuse)
        elif total:
            _reuse_buffers(fdef, inference.nodes, next(iter(runtime_names)))
        if bind is not None and not blocked:
            total += _column_sums(fdef, inference.nodes, bind)
        if stack_name is not None and batch_rows:  # (numba multiplies 2-D arrays only)
            total += _hoist_loop_products(fdef, inference.nodes, removable, stack_name)
        if stack_name is not None and _has_loop_products(fdef):
            inference = Inference(fdef, namespace, stack_name, facts, _marks(fdef, placeholders))
            try:
                inference.run()
            except _Unsupported:
                return fdef if total else None
            total += _stack_loop_products(fdef, inference.nodes, removable, stack_name,
                                          next(iter(runtime_names)), share=batch_rows)
        if bind is not None:
            total += _hoist_library_calls(fdef, inference.nodes, runtime_names, bind)
    return fdef if total else None


_ONES = {}  # (rows, dtype) -> the read-only row of ones that _column_sums binds
_ONES_MAX_ROWS = 1 << 16


def _ones_row(n, dtype):
    key = (n, dtype.str)
    if key not in _ONES:
        ones = np.ones((1, n), dtype)
        ones.flags.writeable = False
        _ONES[key] = ones
    return _ONES[key]


def _column_sums(fdef, facts, bind):
    """``E.sum(axis=(0,), keepdims=True)`` of a 2-D float array becomes ``ones @ E``, with ``ones``
    a row of ones of E's length bound when the code is compiled (``_ones100``): one matrix-vector
    product in BLAS instead of numpy's reduction along the rows, which adds one row at a time.
    A bias gradient ``g.sum(axis=0)`` over a batch, (100, 32) or (1000, 100), is the case it is for.
    The sum runs in another order (the result can differ in the last bits), as it would in a
    careful hand's code. ``axis=0`` without keepdims gives ``ones[0] @ E``."""
    changed = 0

    class Sums(gast.NodeTransformer):
        def visit_Call(self, node):
            nonlocal changed
            self.generic_visit(node)
            func, args = node.func, list(node.args)
            if isinstance(func, gast.Attribute) and func.attr == "sum" and \
                    facts.get(id(func), TOP) != Known(np.sum):
                args.insert(0, func.value)  # E.sum(...): a method of the array
            elif facts.get(id(func), TOP) != Known(np.sum):
                return node
            if not 1 <= len(args) <= 2:
                return node
            e = facts.get(id(args[0]), TOP)
            if type(e) is not Arr or len(e.shape) != 2 or e.dtype.kind != "f" or \
                    e.dtype.itemsize not in (4, 8) or not 0 < e.shape[0] <= _ONES_MAX_ROWS:
                return node
            kw = {k.arg: k.value for k in node.keywords}
            if len(args) == 2 and "axis" not in kw:
                kw["axis"] = args.pop()
            if set(kw) - {"axis", "keepdims"} or "axis" not in kw or len(args) != 1:
                return node
            axis = _literal(kw["axis"])
            keepdims = _literal(kw["keepdims"]) if "keepdims" in kw else False
            if axis not in (0, (0,)) or keepdims not in (True, False):
                return node
            ones = _ones_row(e.shape[0], e.dtype)
            name = bind(f"_ones{e.shape[0]}" + ("" if e.dtype.itemsize == 8 else "_f32"), ones)
            left = _load(name) if keepdims else gast.Subscript(
                value=_load(name), slice=_const(0), ctx=gast.Load())
            changed += 1
            return gast.BinOp(left=left, op=gast.MatMult(), right=args[0])

    fdef.body = [Sums().visit(s) for s in fdef.body]
    return changed


def _literal(node):
    try:
        return ast.literal_eval(gast.gast_to_ast(node))
    except (ValueError, TypeError, SyntaxError):
        return None


# ---------------------------------------------------------------- dict arguments


def _split_dict_grads(fdef, facts, removable, runtime_names):
    """The gradient of a dict argument, built entry by entry, becomes one variable per key::

        params_bar = _sd.scatter_basic(g, params, 'V')        params_bar_V = g
                                                              params_bar_W = 0.0
        ...                                                   ...
        params_bar = params_bar + _sd.scatter_basic(          params_bar_W = _sd.add_grads(
            _W_bar, params, 'W')                                  params_bar_W, _W_bar)
        return _sd.grad_like(params_bar, params)              return {'V': _sd.grad_like(
                                                                  params_bar_V, params['V']), ...}

    The same sums entry by entry as the GradDict (its ``+`` is add_grads per key, a missing key
    is 0.0), without a new 13-entry dict per accumulation, and each entry then has facts of its
    own (an array accumulated in a loop can become one stacked product). Only a compiler name
    whose every assignment is one of these forms, over one dict argument ``params`` whose keys
    are known (an ``Items`` fact) and constant keys, read only by those forms and by the final
    ``_sd.grad_like(params_bar, params)``."""
    parents = _parents(fdef)
    taken = {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name)}
    stores, loads = {}, {}
    for node in gast.walk(fdef):
        if isinstance(node, gast.Name):
            (loads if isinstance(node.ctx, gast.Load) else stores).setdefault(
                node.id, []).append(node)

    def scatter_of(node, name):
        """(g node, dict name, key) of ``_sd.scatter_basic(g, P, K)``."""
        if _sd_call(node, runtime_names) not in ("scatter_basic", "scatter") or node.keywords \
                or len(node.args) != 3:
            return None
        g, p, k = node.args
        if not (isinstance(p, gast.Name) and isinstance(k, gast.Constant)):
            return None
        items = facts.get(id(p), TOP)
        if type(items) is not Items or all(not (type(key) is type(k.value) and key == k.value)
                                           for key, _ in items.items):
            return None
        return g, p.id, items, k.value

    changed = 0
    for name in sorted(stores):
        if name not in removable:
            continue
        forms, ok, dict_name, items = [], True, None, None
        for store in stores[name]:
            s = parents.get(id(store))
            if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and s.targets[0] is store):
                ok = False
                break
            v = s.value
            if isinstance(v, gast.Constant) and v.value == 0.0 and type(v.value) is float:
                forms.append((s, "zero", None))
                continue
            found = scatter_of(v, name)
            kind = "set"
            if found is None and isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add) and \
                    isinstance(v.left, gast.Name) and v.left.id == name:
                found, kind = scatter_of(v.right, name), "add"
            elif found is None and _sd_call(v, runtime_names) == "add_grads" and \
                    len(v.args) == 2 and not v.keywords and isinstance(v.args[0], gast.Name) and \
                    v.args[0].id == name:
                found, kind = scatter_of(v.args[1], name), "add"
            if found is None or (dict_name is not None and (found[1], found[2]) !=
                                 (dict_name, items)):
                ok = False
                break
            dict_name, items = found[1], found[2]
            forms.append((s, kind, found))
        if not ok or dict_name is None:
            continue
        final = None
        for load in loads.get(name, ()):
            parent = parents.get(id(load))
            if any(kind == "add" and (load is s.value.left if isinstance(s.value, gast.BinOp)
                                      else load is s.value.args[0])
                   for s, kind, _ in forms):
                continue
            if _sd_call(parent, runtime_names) == "grad_like" and len(parent.args) == 2 and \
                    parent.args[0] is load and isinstance(parent.args[1], gast.Name) and \
                    parent.args[1].id == dict_name and final is None:
                final = parent
                continue
            ok = False
            break
        if not ok:
            continue
        keys = [k for k, _ in items.items]
        names = {}
        for n, k in enumerate(keys):
            wanted = f"{name}_{k}" if isinstance(k, str) and k.isidentifier() else f"{name}{n}"
            while wanted in taken:
                wanted += "_"
            taken.add(wanted)
            names[k] = wanted
            removable.add(wanted)
        runtime_name = next(iter(runtime_names))
        replace = {}
        for s, kind, found in forms:
            if kind == "zero":
                replace[id(s)] = [_located(gast.Assign(targets=[_store(names[k])],
                                                       value=_const(0.0), type_comment=None), s)
                                  for k in keys]
                continue
            g, _, _, key = found
            if kind == "set":
                replace[id(s)] = [_located(gast.Assign(
                    targets=[_store(names[k])], value=g if k == key else _const(0.0),
                    type_comment=None), s) for k in keys]
            else:
                value = _attr_call(_load(runtime_name), "add_grads", [_load(names[key]), g])
                replace[id(s)] = [_located(gast.Assign(targets=[_store(names[key])], value=value,
                                                       type_comment=None), s)]
        if final is not None:
            entries = gast.Dict(
                keys=[_const(k) for k in keys],
                values=[_attr_call(_load(runtime_name), "grad_like", [
                    _load(names[k]), gast.Subscript(value=_load(dict_name), slice=_const(k),
                                                    ctx=gast.Load())]) for k in keys])
            _replace_node(fdef, final, entries)

        def redo(stmts):
            out = []
            for st in stmts:
                for field in ("body", "orelse"):
                    if isinstance(getattr(st, field, None), list):
                        setattr(st, field, redo(getattr(st, field)))
                out.extend(replace.get(id(st), [st]))
            return out

        fdef.body = redo(fdef.body)
        changed += 1
    return changed


def _replace_node(root, old, new):
    for node in gast.walk(root):
        for field, value in gast.iter_fields(node):
            if value is old:
                setattr(node, field, new)
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return




def _read_only_dicts(fdef, names, runtime_names):
    """The parameters among ``names`` (dict arguments) that the generated code only reads: every
    load of the name, or of a plain copy of it (``p = params``), is an item read with a constant key
    (``params['W']``) or an argument of a runtime helper that reads it and writes into nothing
    (``_sd.scatter_basic(g, params, 'W')``, a helper with the ``reads_dicts`` fact). Anything else (a method
    call, an item store, a call of other code, a place in a container or on the stack) may
    change the dict."""
    parents = _parents(fdef)
    out = set()
    for p in names:
        aliases, grew = {p}, True
        while grew:
            grew = False
            for node in gast.walk(fdef):
                if isinstance(node, gast.Assign) and isinstance(node.value, gast.Name) and \
                        node.value.id in aliases and len(node.targets) == 1 and \
                        isinstance(node.targets[0], gast.Name) and \
                        node.targets[0].id not in aliases:
                    aliases.add(node.targets[0].id)
                    grew = True
        ok = True
        for node in gast.walk(fdef):
            if not (isinstance(node, gast.Name) and node.id in aliases and
                    isinstance(node.ctx, (gast.Load, gast.Del))):
                continue
            parent = parents.get(id(node))
            if isinstance(parent, gast.Subscript) and parent.value is node and \
                    isinstance(parent.ctx, gast.Load) and isinstance(parent.slice, gast.Constant):
                continue
            if isinstance(parent, gast.Assign) and parent.value is node:
                continue
            if isinstance(parent, gast.Call) and node in parent.args and \
                    registry.facts(getattr(runtime, _sd_call(parent, runtime_names) or "",
                                           None)).reads_dicts:
                continue
            ok = False
            break
        if ok:
            out.add(p)
    return out


_SAFE_BUILTINS = {len, range, float, int, abs, min, max, sum, tuple, zip, enumerate, isinstance,
                  bool, round, reversed, any, all, divmod, pow, slice, complex}
_DICT_WRITERS = {"update", "pop", "popitem", "clear", "setdefault", "__setitem__",
                 "__delitem__", "__ior__"}
_WRITING_OPS = {"STORE_GLOBAL", "DELETE_GLOBAL", "STORE_ATTR", "DELETE_ATTR", "STORE_SUBSCR",
                "DELETE_SUBSCR", "STORE_SLICE", "DELETE_SLICE", "STORE_DEREF", "DELETE_DEREF",
                "IMPORT_NAME", "IMPORT_FROM"}


def _safe_value(value, depth):
    """A value that code can use without changing a dict it is not given: numpy, math and the
    runtime (modules, their functions), a few builtins, plain data, and Python functions that pass
    :func:`_writes_nothing`."""
    if inspect.ismodule(value):
        name = value.__name__
        return name in ("math", "numpy", "sourcediff.runtime") or name.startswith("numpy.")
    if isinstance(value, (int, float, complex, str, bytes, type(None), np.ndarray, np.generic,
                          np.dtype)):
        return True
    if isinstance(value, np.ufunc):
        return True
    try:
        if value in _SAFE_BUILTINS:
            return True
    except TypeError:
        return False
    module = getattr(value, "__module__", None) or ""
    if registry.facts(value).calls_back:
        return False
    if callable(value) and not isinstance(value, types.FunctionType) and \
            (module == "math" or module == "numpy" or module.startswith("numpy.")):
        return True
    if isinstance(value, types.FunctionType):
        if module == "sourcediff.runtime":
            return not registry.facts(value).calls_back
        return _writes_nothing(value, depth + 1)
    return False


def _calls_back(facts):
    return facts.calls_back


def _writes_nothing(fn, depth=0):
    """True when calling the plain function ``fn`` writes into nothing that exists before the
    call (a dict, a list, an array): its code (and the code it calls, to a few levels) stores
    into no item, attribute, global or closure cell, calls no method that writes (``update``,
    ``append``, ``fill``, ...), passes no ``out=``, uses no in-place operator, and reads only
    globals that pass :func:`_safe_value`.
    A wrapper sourcediff made for generated code is judged by the code it wraps."""
    import builtins
    import dis

    if depth > 4:
        return False
    while getattr(fn, "__sourcediff_same_as_wrapped__", False) and hasattr(fn, "__wrapped__"):
        fn = fn.__wrapped__
    if not isinstance(fn, types.FunctionType):
        return _safe_value(fn, depth) if depth else False
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    calling = registry.names_with(_calls_back)  # (by name: what an attribute load may call)
    codes = [fn.__code__]
    while codes:
        code = codes.pop()
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
        for ins in dis.get_instructions(code):
            op = ins.opname
            if op in _WRITING_OPS or (op in ("LOAD_ATTR", "LOAD_METHOD") and
                                      (ins.argval in _DICT_WRITERS or may_write(ins.argval) or
                                       ins.argval in calling)) or \
                    (op == "BINARY_OP" and ins.argrepr.endswith("=")) or \
                    (op == "KW_NAMES" and "out" in code.co_consts[ins.arg]):
                return False
            if op in ("LOAD_GLOBAL", "LOAD_NAME"):
                name = ins.argval
                value = fn.__globals__.get(name, getattr(builtins, name, _safe_value))
                if value is _safe_value or not _safe_value(value, depth):
                    return False
            elif op in ("LOAD_DEREF", "LOAD_CLASSDEREF") and ins.argval in cells:
                try:
                    value = cells[ins.argval].cell_contents
                except ValueError:
                    return False
                if not _safe_value(value, depth):
                    return False
    return True


def _calls_leave_dicts_alone(fdef, facts, namespace, runtime_names, stack_name):
    """Every call in ``fdef`` is of the runtime, of the stack, of an array method (by the facts)
    or of a function that passes :func:`_writes_nothing`: no code the function runs can
    change a dict argument behind its name."""
    for node in gast.walk(fdef):
        if not isinstance(node, gast.Call):
            continue
        func = node.func
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
                ((func.value.id in runtime_names and
                  not registry.facts(getattr(runtime, func.attr, None)).calls_back) or
                 func.value.id == stack_name):
            continue
        if isinstance(func, gast.Attribute) and type(facts.get(id(func.value), TOP)) in \
                (Arr, Scal) and not may_write(func.attr):
            continue
        f = facts.get(id(func), TOP)
        if type(f) is Known and (_safe_value(f.value, 0) or _writes_nothing(f.value)):
            continue
        return False
    return True


def _library_function(value):
    """numpy's functions and ufuncs, and built-in functions such as ``math.sin``: objects no
    program rebinds, whose identity the facts above already assume."""
    if isinstance(value, (np.ufunc, types.BuiltinFunctionType)):
        return True
    module = getattr(value, "__module__", None) or ""
    return callable(value) and (module == "numpy" or module.startswith("numpy."))


def _hoist_library_calls(fdef, facts, runtime_names, bind):
    """Inside loops, ``np.sin`` (a module attribute looked up on every iteration) becomes a name
    bound once when the code is compiled, ``np_sin``: the loop-invariant lookup a careful hand
    would hoist; a scalar loop with ``np.sin``/``np.cos`` pays that lookup on every step. Only
    library functions of modules (see ``_library_function``); the runtime's ``_sd.`` helpers keep
    their prefix."""
    changed = 0

    def dotted(node):
        if isinstance(node, gast.Name):
            return None if node.id in runtime_names else [node.id]
        if isinstance(node, gast.Attribute):
            base = dotted(node.value)
            return None if base is None else base + [node.attr]
        return None

    class Hoist(gast.NodeTransformer):
        def visit_Attribute(self, node):
            nonlocal changed
            fact, base = facts.get(id(node), TOP), facts.get(id(node.value), TOP)
            parts = dotted(node)
            if isinstance(node.ctx, gast.Load) and parts is not None and type(fact) is Known \
                    and type(base) is Known and inspect.ismodule(base.value) and \
                    _library_function(fact.value):
                changed += 1
                return _load(bind("_".join(parts), fact.value))
            self.generic_visit(node)
            return node

        def visit_FunctionDef(self, node):
            return node  # (generated code has no inner functions; their names are their own)

        visit_Lambda = visit_FunctionDef

    for node in gast.walk(fdef):
        if isinstance(node, (gast.For, gast.While)):
            for s in node.body:
                Hoist().visit(s)
            if isinstance(node, gast.While):
                node.test = Hoist().visit(node.test)
    return changed


