"""Recording operations: run the forward on numpy data and attach a node that calls the vjp rule."""

import weakref

import numpy as np

from ..rules import registry
from .. import runtime as _sd
from ..errors import NoRuleError
from ..runtime.shapes import foreign_array
from .engine import _check_saved, _grad_impl
from .grad_mode import _state, _state_retain, enable_grad, no_grad
from .messages import TapeError, TapeTypeError
from .node import _BILINEAR, _Fields, _make_node, _node_class, _node_classes, _seq
from .rule_lookup import (
    _cache_version,
    _carries,
    _is_ragged,
    _lookup,
    _no_rule,
    _Ragged,
    _ragged_float,
    _rule_and_vjp,
    _sliced_cache,
    _ToCopy,
)
from .tensor_class import Tensor, _any_rg, _edge, _getitem, _new_tensor, _unwrap, _wrap


def _op_ragged(name, key, args, kw, edges, saves, ans):
    """Record ``key`` with the tuple result ``ans`` (see :class:`_Ragged`); returns the tuple with
    its float parts as Tensors taken out of the recorded flat one."""
    ragged = _Ragged(key, ans)
    floats = [np.ravel(p) for p in ans if _ragged_float(p)]
    flat = np.concatenate(floats).astype(np.result_type(*floats)) if floats else np.zeros(0)
    out = _op(name, ragged, None, args, kw, edges, saves, ans=flat)
    items = [p if b is None else out[b[0]:b[1]].reshape(b[2])
             for p, b in zip(ans, ragged.bounds)]
    return type(ans)._make(items) if hasattr(type(ans), "_make") else \
        items if isinstance(ans, list) else tuple(items)  # (np.split gives a list)


def _refuse_array_kind(name, found):
    """An np.matrix or masked array operand (read from a global, say) of a tape op: ``M * t``
    is then numpy's elementwise product on the tape and the matrix product outside it, and the
    rules are ndarray's, so the gradient would be of another function."""
    raise TapeError(
        f"{name}: an operand is {found[0]} (read from a global, an attribute, a default...); the "
        f"tape's rules are ndarray's, so the gradient would be wrong. Pass {found[1]}")


def _forward(fwd, raw, kw):
    """numpy's result of ``fwd`` on the unwrapped arguments ``raw``."""
    if fwd is np.sum and type(raw[0]) is np.ndarray and len(raw) == 1:
        # (np.add.reduce sums over axis 0 unless told: np.sum's default is every axis)
        return np.add.reduce(raw[0], **kw) if kw and "axis" in kw else \
            np.add.reduce(raw[0], axis=None, **kw) if kw else np.add.reduce(raw[0], axis=None)
    return fwd(*raw, **kw) if kw else fwd(*raw)


def _copy_of_view(ans, args):
    """numpy made a view (np.transpose, np.reshape on a Tensor) of an argument's data, or gave
    the argument's array itself back (np.linalg.matrix_power(a, 1), np.atleast_2d, np.real of a
    real array), which the tape does not record as a view: (a copy, that argument), so a later
    in-place update of the argument cannot change the value the node's rule reads; else
    (``ans``, None)."""
    for a in args:
        if isinstance(a, Tensor) and np.may_share_memory(ans, a._data):
            return ans.copy(), a
    return ans, None


def _is_arg(ans, args):
    """Whether ``ans`` is the array of one of the Tensor arguments ``args``."""
    return any(isinstance(a, Tensor) and a._data is ans for a in args)


def _op(name, key, fwd, args, kw, edges, saves, ans=None, view=False, raw=None):
    """Run ``fwd`` on the unwrapped ``args`` and record a node that calls ``key``'s vjp rule
    (with ``ans``, the result computed already, from ``raw``: the unwrapped arguments, if known).

    Every recorded operation runs this: the common case (a new float64 array from float64
    operands, grad enabled) is kept to the fewest Python steps; the rest is in helpers."""
    if ans is None:
        raw = [a._data if isinstance(a, Tensor) else _unwrap(a) for a in args]
        ans = _forward(fwd, raw, kw)
    copied_from = None  # (the argument numpy's view of which the tape copied)
    if type(ans) is not np.ndarray:
        ans = _not_ndarray(name, key, args, kw, edges, saves, ans)
        if type(ans) is not np.ndarray:  # (a tuple result recorded whole: the Tensors)
            return ans
    elif not view and type(fwd) is not _UFUNC and (ans.base is not None or _is_arg(ans, args)):
        # (a ufunc called without out= always answers a new array: the common case skips this)
        ans, copied_from = _copy_of_view(ans, args)
    dt = ans.dtype  # (numpy's float64 descriptor is one object: `is` first, the test after)
    if dt is _F64 or dt.char == "d":
        d0 = args[0]  # (the common case first: a float64 first operand with dimensions)
        if type(d0) is Tensor:
            d0 = d0._data
        if not (type(d0) is np.ndarray and d0.ndim and (d0.dtype is _F64 or d0.dtype.char == "d")) \
                and not _state.strict and not _keeps_float64(key, args, kw):
            ans = ans.astype(np.float32)
            dt = ans.dtype
    return _record(name, key, fwd, args, kw, edges, saves, ans, raw, view, copied_from)


def _record(name, key, fwd, args, kw, edges, saves, ans, raw, view=False, copied_from=None):
    """The Tensor of ``ans`` (``key``'s ndarray on ``args``, in its final dtype) and, when an
    argument requires grad, its node (fields written out here). Callers that know what _op
    checks (a ufunc's float64 array from a float64 operand with dimensions) call it directly."""
    out = _new_tensor(Tensor)
    out._data = ans
    out._grad = out._hooks = out._acc = out._vidx = None
    out._retains = False
    enabled = _state.enabled
    if view:
        base = args[0]
        vc = out._vc = base._vc
        out._base = base._base if base._base is not None else base
        out._gfv = vc[0] if enabled else None  # (a view made under no_grad keeps none)
        if enabled and getattr(base, "_multi", None) is not None:  # (views._multi_views)
            out._multi = 0  # (a view of an output of unbind/split, refused as it)
    else:
        vc = out._vc = [0]
        out._gfv = 0
        # (numpy's view of an argument, copied: v = y.ravel(), no index, writes into it refused)
        out._base = None if copied_from is None else \
            copied_from._base if copied_from._base is not None else copied_from
    dt = ans.dtype
    if not enabled or dt is not _F64 and dt.kind in "biu":
        # (integers or booleans carry no gradient, as PyTorch's integer tensors)
        out._rgv = False
        out._gf = None
        return out
    kids = []  # (the node of each edge's argument, None where it needs no gradient)
    # (the edges of the common ops are the positions of their arguments: (0,) or (0, 1))
    positional = edges is _BOTH or edges is _ONE  # (passed with that many arguments only)
    for a in args if positional else _edge_args(edges, args):
        # (a tensor reads its slots; a view, the properties that renew a stale grad_fn)
        if isinstance(a, Tensor):
            if a._base is None:
                if a._rgv:
                    gf = a._gf
                    if gf is None:  # (a leaf: its AccumulateGrad, held weakly)
                        gf = a._acc
                        gf = gf() if type(gf) is _WeakRef else None
                        if gf is None:
                            gf = a._acc_node()
                    kids.append(gf)
                    continue
            elif a._rg:
                kids.append(a.grad_fn or a._acc_node())
                continue
        kids.append(None)
    # the positions needing a gradient (shared tuples for the common ops)
    if not positional:
        req = tuple([e for e, k in zip(edges, kids) if k is not None])
    elif kids[0] is not None:
        req = _ONE if edges is _ONE or kids[1] is None else _BOTH
    else:
        req = _SECOND if edges is _BOTH and kids[1] is not None else ()
    if not req:
        out._rgv = False
        out._gf = None
        return out
    try:  # (the cache of rule_lookup._rule_and_vjp, read here: one call less per op)
        found = _sliced_cache.get((key, req)) if _cache_version[0] == _registry_version[0] \
            else None
    except TypeError:  # an unhashable key
        found = None
    rule, vjp = found if found is not None else _rule_and_vjp(key, req)
    if rule is None:
        raise _no_rule(key)
    if raw is None:
        raw = [a._data if isinstance(a, Tensor) else _unwrap(a) for a in args]
    node = _new_node(_node_classes.get(name) or _node_class(name))
    c = node._c = _new_node(_Fields)  # (its fields: see node._Fields)
    c._seq = _next_seq()
    c._next = tuple(kids)
    c._bw = _rule_bw
    c._rule = rule
    c._vjp = vjp
    c._fwd = fwd
    c._args = args
    c._raw = raw
    c._kw = kw or _NO_KW
    c._edges = edges
    c._ans = ans
    c._pre_hooks = c._retain = c._extra = None
    c._freed = False
    c._dtype = dt
    if not saves:  # (what the node keeps, and versions: _keep_saves's common cases here)
        c._saves = c._vers = ()
        c._outvc, c._outver = None, 0
    elif saves is _BILINEAR and (req is _BOTH or type(args[1 - req[0]]) is _NDARRAY):
        c._outvc, c._outver = None, 0  # (both Tensors, or x @ w with an ndarray x)
        c._saves, c._vers = (_BOTH, ((0, args[0]._vc[0]), (1, args[1]._vc[0]))) \
            if req is _BOTH else (_SAVED_OTHER[1 - req[0]], ())
    elif saves is _SAVE_OUT or saves == _SAVE_OUT:  # (tanh, exp, sqrt: the result only)
        c._saves, c._vers = _SAVE_OUT, ()
        c._outvc, c._outver = vc, vc[0]
    else:
        _keep_saves(c, saves, req, args, vc)
    out._rgv = True  # (as the properties' setters, whose _fresh is a no-op here)
    out._gf = node
    return out


def _edge_args(edges, args):
    """The argument each of ``edges`` is: a position, or (position, index)."""
    return [args[e] if type(e) is int else args[e[0]][e[1]] for e in edges]


def _not_ndarray(name, key, args, kw, edges, saves, ans):
    """``ans`` (a forward's result that is not an ndarray) as one, or refused (an np.matrix or
    masked array), or, for a tuple of parts, the tuple of Tensors recorded (see _op_ragged)."""
    found = foreign_array(ans, "the operand")
    if found is not None:
        _refuse_array_kind(name, found)
    if _is_ragged(ans):
        return _op_ragged(name, key, args, kw, edges, saves, ans)
    return np.asarray(ans)


_NO_KW = {}  # (read only)
# (edges of a binary op, and what a product saves when both require grad; _record reads the
# edges _BOTH and _ONE as the positions of all its arguments: they are passed with two and one)
_BOTH = (0, 1)
_ONE = (0,)  # (the edge of an op of one argument)
_SECOND = (1,)  # (the edge of a binary op whose first operand needs no gradient)
_SAVE_OUT = ("o",)
_UFUNC = np.ufunc
_NDARRAY = np.ndarray
_F64 = np.dtype(np.float64)
_WeakRef = weakref.ReferenceType
_new_node = object.__new__
_next_seq = _seq.__next__
_registry_version = registry._version  # (the list registry.version() reads; one call less)


def _torch_dtype(ans, key, args, kw=None):
    """``ans`` (numpy's result of ``key`` on ``args``) in PyTorch's dtype: float32 where numpy's
    float64 came from integers or scalars only (see _keeps_float64)."""
    if ans.dtype.char == "d" and not _state.strict and not _keeps_float64(key, args, kw):
        return ans.astype(np.float32)
    return ans


def _keeps_float64(key, args, kw):
    """Whether a float64 result is PyTorch's too: the op names its dtype (``x.double()``,
    ``sum(dtype=)``), or by PyTorch's promotion an operand with dimensions is float64 (a Tensor
    or an array, or one in a list such as cat's), or none with dimensions is a float and a 0-d
    one is float64.

    Otherwise numpy's float64 came from integers or scalars (``i / j``, ``i * 0.5``,
    ``i.sqrt()``, ``torch.where(c, i, 0.5)``, ``f * np.float64(2)``) or from a 0-d float64
    beside a float32 with dimensions (``torch.maximum(f, d0)``), where PyTorch gives float32.
    grad_of (``_state.strict``) keeps numpy's promotion."""
    if key is _ToCopy or (kw and kw.get("dtype") is not None):
        return True
    dim_float = zero_f64 = False
    for a in args:
        for x in a if isinstance(a, (list, tuple)) else (a,):
            d = x._data if isinstance(x, Tensor) else x if type(x) is np.ndarray else None
            if d is not None and d.dtype.kind == "f":
                if d.ndim:
                    if d.dtype.char == "d":
                        return True
                    dim_float = True
                elif d.dtype.char == "d":
                    zero_f64 = True
    return zero_f64 and not dim_float


def _keep_saves(node, saves, req, args, vc):
    """Which values ``node`` (a node or its fields) keeps (see ``node._BILINEAR``) and their versions at recording
    (``vc``: the result's version counter)."""
    node._outvc, node._outver = None, 0
    if saves is _BILINEAR:
        if len(req) == 1:  # x @ w with a constant x: keeps x only
            p = 1 - req[0]
            node._saves = _SAVED_OTHER[p]
            node._vers = ((p, args[p]._vc[0]),) if isinstance(args[p], Tensor) else ()
        else:  # (both require grad, so both are Tensors)
            node._saves = _BOTH
            node._vers = ((0, args[0]._vc[0]), (1, args[1]._vc[0]))
        return
    vers = []
    kept = []
    for p in saves:
        if type(p) is tuple:
            if p[1] not in req:
                continue
            p = p[0]
        kept.append(p)
        if p == "o":
            node._outvc = vc
            node._outver = vc[0]
        elif type(p) is int and isinstance(args[p], Tensor):
            vers.append((p, args[p]._vc[0]))
    node._vers = tuple(vers)
    node._saves = tuple(kept)


_SAVED_OTHER = (_ONE, _SECOND)  # (what a product keeps of its operand p: (p,))


def _promote(a, b):
    """PyTorch's promotion for float tensors mixed with ints or 0-d tensors of another float type."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype != b.dtype:
        ka, kb = a.dtype.kind, b.dtype.kind
        if ka == "f" and kb in "iub":
            return a, b.astype(a.dtype)
        if kb == "f" and ka in "iub":
            return a.astype(b.dtype), b
        if ka == kb == "f" and (a.ndim == 0) != (b.ndim == 0):
            return (a.astype(b.dtype), b) if a.ndim == 0 else (a, b.astype(a.dtype))
    return a, b


def _binop(key, name, a, b, saves):
    ad = a._data
    if isinstance(b, Tensor):
        bd = rb = b._data
    elif isinstance(b, (list, tuple)):
        bd, rb = np.asarray(b), _unwrap(b)
    else:
        bd = rb = b
    raw = (ad, rb)  # (what the rule gets: the operands before the promotion)
    if type(bd) is _NDARRAY and bd.dtype is not ad.dtype:
        ad, bd = _promote(ad, bd)
    ans = key(ad, bd)  # (key: a ufunc, whose result is a new array)
    if type(ans) is _NDARRAY and ans.dtype is _F64 and ad is raw[0] and ad.dtype is _F64 \
            and ad.ndim:
        return _record(name, key, key, (a, b), None, _BOTH, saves, ans, raw)  # (see _record)
    return _op(name, key, key, (a, b), None, _BOTH, saves, ans, False, raw)


def _unary(t, key, name, saves, composite_fn):
    if _lookup(key) is not None or not (_state.enabled and t._rg):
        return _op(name, key, key, (t,), None, (0,), saves)
    return _composite(name, composite_fn, (t,), value=np.asarray(key(t._data)))


# (the composite nodes whose PyTorch node saves its result: an in-place write into the result
# makes their backward refuse; rsqrt's and logsumexp's gave a gradient where PyTorch refuses)
# (the composite nodes whose PyTorch node saves these inputs: an in-place write into one, a
# loss's target among them, makes their backward refuse; the tape's ran on)
_SAVES_INPUTS = {"MseLossBackward0": (0, 1), "HuberLossBackward0": (0, 1),
                 "SmoothL1LossBackward0": (0, 1), "BinaryCrossEntropyWithLogitsBackward0": (0, 1),
                 "SoftplusBackward0": (0,), "EluBackward0": (0,), "LeakyReluBackward0": (0,),
                 "GeluBackward0": (0,), "LogsumexpBackward0": (0,)}
_SAVES_RESULT = {"SigmoidBackward0", "SoftmaxBackward0", "LogSoftmaxBackward0", "RsqrtBackward0",
                 "LogsumexpBackward0"}


def _composite(name, fn, inputs, value=None):
    """Record ``fn(*inputs)`` (built from tape ops) as ONE node called ``name``.

    The forward runs ``fn`` on detached copies of the inputs; the node's backward is the tape's own
    backward through that sub-graph (or, with ``create_graph``, through ``fn`` re-run on the inputs).
    """
    if not (_state.enabled and _any_rg(inputs)):
        with no_grad():
            res = fn(*[_detached(x) for x in inputs])
        if value is not None:
            return _wrap(np.asarray(value))
        return res
    leaves = []
    for x in inputs:
        if isinstance(x, Tensor):
            leaf = _wrap(x._data)
            leaf._vc = x._vc
            leaf._rg = x._rg
            leaves.append(leaf)
        else:
            leaves.append(x)
    with enable_grad():
        sub = fn(*leaves)
    if value is None:
        value = sub._data
    out = _wrap(np.asarray(value))
    if value is sub._data:
        out._vc = sub._vc
    nf = tuple(_edge(x) for x in inputs)
    node = _make_node(name, nf, _composite_bw, out._data.dtype)
    node._args = tuple(inputs)
    node._fwd = fn
    node._extra = (sub, leaves)
    saved = _SAVES_INPUTS.get(name)
    if saved:
        node._vers = tuple((p, inputs[p]._vc[0]) for p in saved
                           if p < len(inputs) and isinstance(inputs[p], Tensor))
    if name in _SAVES_RESULT:
        node._saves = ("o",)
        node._ans = out._data
        node._outvc = out._vc
        node._outver = out._vc[0]
    out._rgv = True  # (as the properties' setters do, with one _fresh)
    out._gf = node
    out._fresh()
    return out


def _detached(x):
    return x.detach() if isinstance(x, Tensor) else x


def _composite_bw(node, g, cg):
    _check_saved(node)
    if cg:
        # (fn re-run on an alias of each input that requires grad: the nested grad stops at the
        # aliases, so it gives the partial derivatives and the engine sends them on through the
        # inputs' own nodes; run on the inputs themselves it gave the total derivatives, an
        # input's hooks and retained .grad ran in it, and add(x, 3 * x, alpha=2) counted the
        # path from x * 3 to x twice: 13 where PyTorch gives 7)
        inputs = [_alias(x) if isinstance(x, Tensor) and x._rg else x for x in node._args]
        with enable_grad():
            sub = node._fwd(*inputs)
        want = [x for x in inputs if isinstance(x, Tensor) and x._rg]
        got = iter(_grad_impl([sub], [g], want, retain_graph=True, create_graph=True,
                              allow_unused=True))
        return [next(got) if isinstance(x, Tensor) and x._rg else None for x in inputs]
    sub, leaves = node._extra
    if not isinstance(sub, Tensor) or not sub._rg:
        return [None] * len(leaves)
    want = [x for x in leaves if isinstance(x, Tensor) and x._rg]
    got = iter(_grad_impl([sub], [g], want, retain_graph=_state_retain[0], create_graph=False,
                          allow_unused=True, raw=True))
    return [next(got) if isinstance(x, Tensor) and x._rg else None for x in leaves]


def _alias(x):
    """``x`` as a new Tensor whose node (AliasBackward0) leads to x's: the same value, a graph
    position of its own."""
    return _op("AliasBackward0", _getitem, _getitem, (x, ()), None, (0,), (), view=True)


def _not_implemented_bw(node, g, cg):
    raise TapeError("derivative for aten::floor_divide is not implemented")


def _rule_bw(node, g, cg):
    _check_saved(node)
    rule = node._rule
    if cg:
        return _rule_bw_graph(node, g)
    raw = node._raw
    contribs = node._vjp(g, node._ans, *raw, **node._kw)
    out = []
    bc = rule.broadcast
    for child, e in zip(node._next, node._edges):
        if child is None:
            out.append(None)
            continue
        if type(e) is int:
            c, x = contribs[e], raw[e]
        else:  # (a rule may answer None for a whole list argument: np.append's helper)
            part = contribs[e[0]]
            c, x = None if part is None else part[e[1]], raw[e[0]][e[1]]
        if c is not None and bc and not (type(c) is np.ndarray and type(x) is np.ndarray
                                         and c.shape == x.shape):
            c = _sd.unbroadcast(c, x)
        out.append(c)
    return out


def _rule_bw_graph(node, g):
    """The node's backward recorded on the tape (``create_graph=True``)."""
    rule = node._rule
    tg = g if isinstance(g, Tensor) else _wrap(np.asarray(g))
    live = [i for i, child in enumerate(node._next) if child is not None]
    if (rule.kind == "linear" and len(live) == 1 and type(node._edges[live[0]]) is int
            and node._fwd is not None):
        out = [None] * len(node._next)
        out[live[0]] = _linear_vjp(node, node._edges[live[0]], tg)
        return out
    ans = _wrap(node._ans)
    ans._rg = True
    ans.grad_fn = node
    swapped = _record_helpers() if not _state.in_rule else ()
    _state.in_rule += 1
    prev_helper = _state.helper_rule
    if node.name() in _helper_names:
        _state.helper_rule = node.name()
    prev_read, _state.const_read = _state.const_read, False
    try:
        contribs = rule.vjp(tg, ans, *node._args, **node._kw)
    except (NoRuleError, TapeError, TapeTypeError):
        raise
    except Exception as exc:  # a rule body that cannot run on tape Tensors
        raise TapeError(
            f"create_graph=True: the vjp rule of {rule.name} ({node.name()}) could not run on tape "
            f"Tensors ({type(exc).__name__}: {exc}); higher-order gradients through it are not "
            "supported") from exc
    finally:
        _state.in_rule -= 1
        _state.helper_rule = prev_helper
        read, _state.const_read = _state.const_read, prev_read
        for name, f in swapped:
            setattr(_sd, name, f)
    out = []
    for child, e in zip(node._next, node._edges):
        if child is None:
            out.append(None)
            continue
        if type(e) is int:
            c, x = contribs[e], node._args[e]
        else:
            part = contribs[e[0]]
            c, x = None if part is None else part[e[1]], node._args[e[0]][e[1]]
        if read and c is not None and not (isinstance(c, Tensor) and c._rg):
            c = _constant_derivative(node, c)
        if c is not None and rule.broadcast:
            c = _sd.unbroadcast(c, _unwrap(x))
        out.append(c)
    return out


def _constant_derivative(node, c):
    """A derivative the rule computed from a Tensor that requires grad read as a constant
    (np.asarray): a Tensor whose own backward refuses, so that a further derivative through it
    is an error, not silently 0 (the second derivatives of np.cov, np.interp, np.trapezoid,
    np.linalg.matrix_power and np.average's weights were 0 on the tape)."""
    out = _wrap(np.asarray(_unwrap(c)))
    nf = tuple((a.grad_fn or a._acc_node(), 0) for a in node._args
               if isinstance(a, Tensor) and a._rg)
    if not nf or not _state.enabled:
        return out
    name = node.name()

    def refuse(n, g, cg):
        raise TapeError(
            f"the derivative of {node._rule.name} ({name}), recorded with create_graph=True, was "
            "computed from its inputs read as constants, so a derivative through it would be "
            "wrong; the tape supports one create_graph level through this operation "
            "(sourcediff.hessian, or sourcediff.grad of sourcediff.grad, differentiate the "
            "source instead)")

    n = _make_node(_second_name(name), nf, refuse, out._data.dtype)
    out._rg = True
    out.grad_fn = n
    return out


_helpers = [None, ((), ())]  # (the registry version, the runtime helpers with a vjp rule of their own)
_helper_names = set()


def _record_helpers():
    """While a vjp rule runs on Tensors (create_graph), the runtime helpers it calls that have a
    rule of their own (``_sd.norm_weights``, ``_sd.prod_others``...: smooth functions of the
    argument) are recorded as tape ops with that rule. Called directly they read the Tensors
    with np.asarray, as constants: the second derivative of x.norm() missed a term and that of
    x.prod() was a Tensor without grad. The helpers declared without derivative (defnondiff:
    ``_sd.extremum_weights``, a mask) get their Tensors detached: a read that needs no derivative,
    not one of a constant (the derivative of amax was otherwise refused a further derivative).
    Returns the (name, function) pairs to put back."""
    if _helpers[0] != registry.version():
        found, nondiff = [], []
        for name in dir(_sd):
            f = getattr(_sd, name)
            if callable(f) and not isinstance(f, type):
                if registry.lookup(f) is not None:
                    found.append((name, f))
                elif registry.is_nondiff(f):
                    nondiff.append((name, f))
        _helpers[0], _helpers[1] = registry.version(), (tuple(found), tuple(nondiff))
        _helper_names.clear()
        _helper_names.update(name for name, _ in found)
    found, nondiff = _helpers[1]
    for name, f in found:
        setattr(_sd, name, _recorded_helper(name, f))
    for name, f in nondiff:
        setattr(_sd, name, _detached_helper(f))
    return found + nondiff


def _recorded_helper(name, f):
    rule = registry.lookup(f)

    def call(*args, **kw):
        # (a Tensor inside a list or tuple argument, as einsum_call_grads' operands, is an edge
        # (i, j) too: read as a constant, the second derivative of np.einsum(t, u) was 0)
        if any(not _carries(rule, i) and _any_rg(a if type(a) in (list, tuple) else (a,))
               for i, a in enumerate(args)):
            args = _shape_only_detached(rule, args)
        edges = tuple(e for i, a in enumerate(args) for e in (
            ((i, j) for j, x in enumerate(a) if isinstance(x, Tensor) and x._rg)
            if type(a) in (list, tuple) else (i,) if isinstance(a, Tensor) and a._rg else ()))
        if not edges or any(isinstance(v, Tensor) and v._rg for v in kw.values()) \
                or not _state.enabled:
            return f(*args, **kw)
        return _op(_helper_node_name(name, args), f, f, args, kw or None, edges, ())
    return call


def _helper_node_name(name, args):
    """The node name of a runtime helper recorded on the tape: PyTorch's MmBackward0 for the
    gradients of a product of matrices (the derivative of mm is an mm), else the helper's."""
    if name in ("matmul_grad_left", "matmul_grad_right") and len(args) == 3 and all(
            np.ndim(_unwrap(a)) == 2 for a in args):
        return "MmBackward0"
    return name


def _detached_helper(f):
    def call(*args, **kw):
        return f(*[_off_list(a) for a in args], **{k: _off_list(v) for k, v in kw.items()})
    return call


def _off(a):
    return a.detach() if isinstance(a, Tensor) and a._rg else a


def _off_list(a):
    return type(a)(_off(e) for e in a) if type(a) in (list, tuple) else _off(a)


def _shape_only_detached(rule, args):
    """``args`` with the Tensors requiring grad in the positions ``rule`` gives no derivative
    (rule_lookup._carries: ``x`` of ``unreduce(g, x)``, read for its shape) detached: no edge
    of the helper's node, so that its result requires grad only through the others, as
    PyTorch's backward of amax, stack or cat gives a gradient without grad under
    create_graph=True. The values, and so every derivative, are the same."""
    return tuple(a if _carries(rule, i) else _off_list(a) for i, a in enumerate(args))


# PyTorch's name of the node that computes the derivative of a linear operation (its gradient's
# grad_fn with create_graph=True), measured on torch 2.13: another linear operation (sum's is an
# expand, cumsum's a flip) or the operation's own backward function (SliceBackwardBackward0)
_LINEAR_SECOND = {
    "SumBackward0": "ExpandBackward0", "SumBackward1": "ExpandBackward0",
    "MeanBackward0": "DivBackward1", "MeanBackward1": "DivBackward1",
    "UnsqueezeBackward0": "SqueezeBackward1", "GatherBackward0": "ScatterAddBackward0",
    "SplitBackward0": "CatBackward0", "UnbindBackward0": "StackBackward0",
    "CumsumBackward0": "FlipBackward0", "IndexBackward0": "IndexPutImplBackward0",
    "TraceBackward0": "ViewBackward0", "UnsafeViewBackward0": "ViewBackward0",
    "ViewBackward0": "ViewBackward0", "PermuteBackward0": "PermuteBackward0",
    "TransposeBackward0": "TransposeBackward0", "TBackward0": "TBackward0",
    "FlipBackward0": "FlipBackward0", "RollBackward0": "RollBackward0",
    "NegBackward0": "NegBackward0", "MmBackward0": "MmBackward0", "BmmBackward0": "BmmBackward0",
}


def _second_name(name):
    """The name of the node of ``name``'s derivative: ``_LINEAR_SECOND``'s, else PyTorch's
    convention for an operation's own backward function (``SelectBackward0`` ->
    ``SelectBackwardBackward0``)."""
    found = _LINEAR_SECOND.get(name)
    if found is not None:
        return found
    stem = name[:-1] if name[-1:].isdigit() else name
    return stem + "Backward0"


def _linear_vjp(node, pos, tg):
    """vjp of an op linear in its only active argument, recorded as a node whose own backward is
    the op itself (the transpose of a transpose)."""
    rule = node._rule
    raw = node._raw
    c = rule.vjp(tg._data, node._ans, *raw, **node._kw)[pos]
    if c is None:  # (a position the rule does not differentiate: x of _sd.unreduce(g, x))
        return None
    if rule.broadcast:
        c = _sd.unbroadcast(c, raw[pos])
    c = np.asarray(c)
    out = _wrap(c)
    if not (_state.enabled and tg._rg):
        return out
    fwd, args, kw = node._fwd, node._args, node._kw

    def bw(n, gg, cg):
        new_args = list(args) if cg else list(raw)
        new_args[pos] = gg
        if cg:
            new_args = [a.detach() if isinstance(a, Tensor) and i != pos else a
                        for i, a in enumerate(new_args)]
            if not isinstance(gg, Tensor):
                new_args[pos] = _wrap(np.asarray(gg))
            r = fwd(*new_args, **kw)
            return [r if isinstance(r, Tensor) else _wrap(np.asarray(r))]
        return [np.asarray(fwd(*new_args, **kw))]

    n = _make_node(_second_name(node.name()), ((tg.grad_fn or tg._acc_node(), 0),), bw, c.dtype)
    out._rg = True
    out.grad_fn = n
    return out
