"""The inference: an abstract interpretation of a generated function over the facts of
``facts.py``, joined to a fixpoint over loops and branches. ``Inference(...).run()`` leaves the
fact of every expression node in ``nodes``.
"""

import builtins
import inspect
import itertools
import math
import operator
import types

import gast
import numpy as np

from .. import runtime
from ..compiler.emit import is_comment
from ..compiler.parse import same_as_wrapped
from ..rules import registry
from ..syntax import children, walk
from .facts import (
    _BINOPS,
    _CAP,
    _CMPOPS,
    _DOT_HELPERS,
    _SUBSCRIPTS,
    _UNARY,
    ANYBOOL,
    ANYINT,
    BOT,
    PYFLOAT,
    TOP,
    Arr,
    Items,
    Known,
    Scal,
    Seq,
    _dot_helper_fact,
    _elementwise,
    _fact_of_result,
    _full_standin,
    _Unknown,
    _is_range,
    _matmul,
    _Method,
    _over_members,
    _size,
    _subscripts_fact,
    _Unsupported,
    fact_of_signature,
    join,
)


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
        self.written = {}  # id(subscript stored into or deleted) -> fact of its base
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
            test = self.expr(s.test, env)
            if type(test) is Known and type(test.value) in (bool, int):  # (a pass written out:
                return self.block(s.body if test.value else s.orelse, env, loop)  # unroll.py)
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
        if isinstance(s, gast.Delete) and all(isinstance(t, gast.Name) for t in s.targets):
            for t in s.targets:  # (the specializer's del of the loop products it hoisted)
                env.pop(t.id, None)
            return env
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
            if isinstance(base, gast.Name):  # (what is written into: see _writes_only_arrays)
                self.written[id(target)] = join(self.written.get(id(target), BOT),
                                                env.get(base.id, TOP))
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
            if value is not self and _scalar_type(value) and \
                    getattr(builtins, node.id, None) is not value:
                return TOP  # (DT = np.float64 read as data, x.astype(DT): DT may change)
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
        for child in children(node):
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
            if registry.facts(getattr(np.ndarray, attr, None)).shapes == "evaluate":
                return _Method(base, attr)
            return TOP
        if type(base) is Known:
            try:
                value = getattr(base.value, attr)
            except Exception:  # noqa: BLE001
                return TOP
            if inspect.ismodule(base.value) and not (callable(value) or inspect.ismodule(value)
                                                     or value is None):
                if base.value in _CONSTANT_MODULES and type(value) is float:
                    return Known(value)  # np.pi, math.e: constants of the library
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
        if type(base) is Seq and base.indexable():  # (a tuple a generated callee returned, a
            return _item_of(base, index)  # list argument nothing changes)
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
        # (not a fixed one's: nothing the function runs changes a list, _signature_facts)
        reach = list(node.args) + [k.value for k in node.keywords]
        if isinstance(node.func, gast.Attribute):
            reach.append(node.func.value)
        helper = type(func) is Known and registry.facts(func.value).reads_dicts
        for a in reach:
            if isinstance(a, gast.Name) and ((type(env.get(a.id)) is Seq and
                                              env[a.id].kind is list and not env[a.id].fixed) or
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
        return self.function_call(func.value, args, kwargs)

    def function_call(self, fn, args, kwargs):
        """The fact of ``fn(*args, **kwargs)`` for a known function ``fn`` and argument facts."""
        if getattr(fn, "__sourcediff_fdef__", None) is not None:
            return self._callee(fn, args, kwargs)
        if (fn is len or fn is runtime.loop_length) and args and type(args[0]) is Seq and \
                args[0].indexable():
            return Known(len(args[0].items))  # (loop_length refuses only dicts, sets, iterators)
        if fn is len:
            return Known(args[0].shape[0]) if len(args) == 1 and type(args[0]) is Arr and \
                args[0].shape else TOP
        if fn in (np.shape, np.ndim, runtime.shape) and len(args) == 1 and not kwargs:
            shape = args[0].shape if type(args[0]) is Arr else () if args[0] is PYFLOAT or \
                type(args[0]) is Scal else None  # (a shape is what the signature fixes)
            if shape is None:
                return TOP
            return Known(len(shape)) if fn is np.ndim else Known(shape)
        if fn is float:
            return PYFLOAT if args and args[0] is not TOP else TOP
        if fn is int:
            if args and not kwargs and all(type(a) is Known for a in args):
                try:  # int(2.5) is 2: the value the code computes, not its argument
                    value = int(*[a.value for a in args])
                except Exception:  # noqa: BLE001
                    return TOP
                return Known(value) if type(value) is int else TOP
            return ANYINT
        if fn is runtime.reduced_count:
            if args and type(args[0]) is Arr and all(type(a) is Known for a in args[1:]):
                try:  # (an axis the array does not have: a branch the call does not take)
                    return Known(runtime.reduced_count(_full_standin(args[0]),
                                                       *[a.value for a in args[1:]]))
                except Exception:  # noqa: BLE001
                    return TOP
            return TOP
        if fn is runtime.win_mask or fn is runtime.fwin_mask:
            # a boolean mask, or (at ties, or fwin_mask's nans) a float mask: a multiply by
            # either keeps the other factor's shape, and the gradients it scales keep their dtype
            if len(args) != 2 or set(kwargs) - ({"least"} if fn is runtime.fwin_mask else set()):
                return TOP
            shape = _elementwise(operator.gt, args)
            if type(shape) is Arr:
                return Arr(shape.shape, np.bool_)
            return PYFLOAT if shape is not TOP else TOP
        if fn in _SUBSCRIPTS:
            return _subscripts_fact(fn, args, kwargs)
        if fn in _DOT_HELPERS:
            fact = _dot_helper_fact(fn, args, kwargs)
            if fact is TOP and all(len(a.shape) <= 1 for a in args if type(a) is Arr):
                return _evaluate(fn, args, kwargs, [])  # vectors (np.dot(v, w)): cheap to run
            return fact
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
        if fn is np.matmul and len(args) == 2 and not kwargs:
            return _matmul(*args)  # (a ufunc over the matrices its last two axes hold)
        if isinstance(fn, np.ufunc) and fn.signature is None:
            if len(args) != fn.nin or fn.nout != 1 or set(kwargs) - {"out"}:
                return TOP
            fact = _elementwise(fn, args)
            if not kwargs:
                return fact
            # out=: the buffer itself (the buffers pass writes one the result's shape and dtype)
            out = kwargs["out"]
            return out if type(out) is Arr and fact == out else TOP
        facts = registry.facts(fn)
        if facts.shapes == "evaluate":
            if fn is np.where and len(args) != 3:
                return TOP  # (np.where(condition) gives indices: they depend on the values)
            need = facts.shape_args  # (arguments whose values decide the shape)
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
        if facts.shapes == "float":  # (a float whenever it returns)
            return PYFLOAT
        return TOP

    def _callee(self, fn, args, kwargs):
        """The fact of a call of a generated function (a user function's forward or backward
        form): an inference of its own code for these argument facts, a few levels deep."""
        fdef, stack_name = fn.__sourcediff_fdef__
        if self.depth >= 3 or fdef.args.vararg is not None or fdef.args.kwarg is not None:
            return TOP
        raw = fn
        while same_as_wrapped(raw):
            raw = raw.__wrapped__
        if not isinstance(raw, types.FunctionType):
            return TOP
        facts = _bound(fdef, raw, args, kwargs)
        if facts is None:
            return TOP
        namespace = dict(vars(builtins))
        namespace.update(raw.__globals__)
        for name, cell in zip(raw.__code__.co_freevars, raw.__closure__ or ()):
            try:
                namespace[name] = cell.cell_contents
            except ValueError:
                pass
        assigned = {n.id for n in walk(fdef) if isinstance(n, gast.Name) and
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


_CONSTANT_MODULES = (np, math)  # (their float attributes, np.pi, math.inf, are constants)


def _bound(fdef, raw, args, kwargs):
    """The facts of the parameters of the generated function ``raw`` (of tree ``fdef``) for a call
    with these argument facts, as Python binds them: by position, by keyword, else the default
    (its value's fact); None for a call Python would refuse or that this cannot follow."""
    params = [a.id for a in fdef.args.args]
    kwonly = [a.id for a in fdef.args.kwonlyargs]
    if len(args) > len(params):
        return None
    facts = dict(zip(params, args))
    for name, fact in kwargs.items():
        if name in facts or (name not in params and name not in kwonly):
            return None
        facts[name] = fact
    defaults = raw.__defaults__ or ()
    kwdefaults = raw.__kwdefaults__ or {}
    for i, name in enumerate(params):
        if name not in facts:
            j = i - (len(params) - len(defaults))
            if j < 0:
                return None
            facts[name] = _default_fact(defaults[j])
    for name in kwonly:
        if name not in facts:
            if name not in kwdefaults:
                return None
            facts[name] = _default_fact(kwdefaults[name])
    return facts


def _default_fact(value):
    """A default value's fact: itself for numbers, strings, None and tuples of them (a default is
    one object, evaluated once), an array's shape and dtype (which no call can change); unknown
    for anything else (a list default may grow from call to call)."""
    if value is None or type(value) in (int, float, bool, str) or (
            type(value) is tuple and all(type(v) in (int, float, bool, str) for v in value)):
        return Known(value)
    if type(value) is np.ndarray:
        return fact_of_signature(value)
    return TOP


def _evaluate(fn, args, kwargs, extra):
    names = list(kwargs)

    def rule(facts):
        return _evaluate1(fn, facts[:len(args)], dict(zip(names, facts[len(args):])), extra)

    return _over_members(rule, list(args) + list(kwargs.values()))


def _evaluate1(fn, args, kwargs, extra):
    facts = list(args) + list(kwargs.values()) + list(extra)
    if any(f is TOP or f is BOT or isinstance(f, _Method) or type(f) is Items or
           _integer_value(f) for f in facts):
        return TOP
    if sum(_size(f) for f in facts) > _CAP:
        return TOP
    # a Python float (or numpy float scalar: np.float64 is a float) of unknown value may be the
    # symbolic zero 0.0, which helpers pass through: try both a zero and a non-zero float there
    floats = [k for k, f in enumerate(facts)
              if f is PYFLOAT or (type(f) is Scal and f.dtype.kind == "f")]
    if len(floats) > 3:
        return TOP
    out = BOT
    for values in itertools.product((0.0, 1.0), repeat=len(floats)):
        chosen = {k: v if facts[k] is PYFLOAT else facts[k].dtype.type(v)
                  for k, v in zip(floats, values)}
        try:  # (a list argument's item of unknown fact, an object of the user's class)
            standins = [chosen[k] if k in chosen else _full_standin(f)
                        for k, f in enumerate(facts)]
        except _Unknown:
            return TOP
        value = _call_on(fn, standins, len(args), kwargs)
        if value is _FAILED and any(_square(f) for f in facts):
            # (np.linalg.inv of zeros raises: square matrices as identities instead)
            standins = [_eye_standin(f) if _square(f) else s for f, s in zip(facts, standins)]
            value = _call_on(fn, standins, len(args), kwargs)
        if value is _FAILED:
            return TOP
        out = join(out, _fact_of_result(value))
    return out


_FAILED = object()


def _call_on(fn, standins, nargs, kwargs):
    try:
        with np.errstate(all="ignore"):
            return fn(*standins[:nargs], **dict(zip(kwargs, standins[nargs:nargs + len(kwargs)])))
    except Exception:  # noqa: BLE001
        return _FAILED


def _square(f):
    return type(f) is Arr and len(f.shape) >= 2 and f.shape[-1] == f.shape[-2] > 0 and \
        f.dtype.kind in "fc"


def _eye_standin(f):
    return np.broadcast_to(np.eye(f.shape[-1], dtype=f.dtype), f.shape)


def _integer_value(f):
    """An int or bool of unknown value (a Python one, a numpy scalar or 0-d array, or one inside a
    tuple or list, ``axis=(k,)``): its stand-in would decide a result's shape in its place
    (``np.diff(x, n=k)``, ``np.expand_dims(x, k)``, ``np.sum(x, axis=(k,))``)."""
    if f is ANYINT or f is ANYBOOL:
        return True
    if type(f) is Seq:
        return any(_integer_value(item) for item in f.items)
    return type(f) in (Scal, Arr) and f.dtype.kind in "iub" and (type(f) is Scal or f.shape == ())


def _item_of(seq, index):
    """The fact of ``seq[index]`` for an indexable Seq: an item by a known position, a Seq of
    the items a known slice takes, the join of the items for a position of unknown value (any
    position that does not raise reads one of them)."""
    items = seq.items
    if type(index) is Known and type(index.value) is int:
        return items[index.value] if -len(items) <= index.value < len(items) else TOP
    if type(index) is Known and type(index.value) is slice:
        return Seq(items[index.value], seq.kind, seq.fixed)
    if index is ANYINT and items:
        out = BOT
        for item in items:
            out = join(out, item)
        return out if _whole(out) else TOP
    return TOP


def _whole(f):
    """Not a Seq with an unknown item anywhere (what the join of different tuples gives)."""
    return f is not TOP and (type(f) is not Seq or all(_whole(item) for item in f.items))


def _join_env(a, b):
    if a is None:
        return None if b is None else dict(b)
    if b is None:
        return dict(a)
    out = {}
    for k in a.keys() | b.keys():
        out[k] = join(a.get(k, BOT), b.get(k, BOT))
    return out


def _scalar_type(value):
    """A numeric scalar type (np.float64, int): callable, but a global holding one is a dtype
    read as data, which the entry's check of rebound globals does not watch."""
    return isinstance(value, type) and issubclass(value, (np.generic, int, float, complex))
