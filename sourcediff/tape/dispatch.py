"""numpy's protocols on Tensors: ``np.sin(t)``, ``np.sum(t, axis=0)``, ``ndarray @ t`` record nodes."""

import inspect
import numbers

import numpy as np

from ..rules import registry
from ..rules.quote import OPTION_HINTS
from .functions import mm_any
from .grad_mode import _state
from .messages import TapeError
from .recording import _BOTH, _F64, _ONE, _op, _record, _sd  # (_sd: the runtime)
from .rule_lookup import _carries, _lookup, _no_rule
from .tensor_class import Tensor, _any_rg, _unwrap, _wrap_result

_info = {}  # numpy function -> (rule, PyTorch's name of its usual node)
_info_version = [None]  # registry.version() _info was filled under
_registry_version = registry._version


_drops = {}  # rule -> the argument positions that are no edge of its node (rule_lookup._carries)
_MAX_ARGS = 32  # (positions past it are edges, as before)


def _func_info(func):
    """``func``'s rule and node name (``SinBackward0``), cached until a rule is registered."""
    version = _registry_version[0]  # (registry.version() without the call)
    if version != _info_version[0]:
        _info.clear()
        _drops.clear()
        _info_version[0] = version
    info = _info.get(func)
    if info is None:
        rule = _lookup(func)
        name = None if rule is None else rule.torch_name or (
            "".join(p.capitalize() for p in registry._key_name(func).split(".")[-1].split("_"))
            + "Backward0")
        info = _info[func] = (rule, name)
    return info


def _torch_name(func, name, args, kwargs):
    """The node name of this call: ``name`` but for reductions over an axis, powers and
    products, whose name depends on the arguments."""
    if func in (np.sum, np.mean, np.prod) and (
            kwargs.get("axis") is not None or len(args) > 1 and args[1] is not None):
        name = name[:-1] + "1"
    elif func is np.power:
        if not isinstance(args[0], Tensor):
            name = "PowBackward2"
        elif isinstance(args[1], Tensor):
            name = "PowBackward1"
    elif func is np.matmul:
        n0, n1 = np.ndim(_unwrap(args[0])), np.ndim(_unwrap(args[1]))
        name = _MATMUL_NAMES.get((min(n0, 3), min(n1, 3)), "BmmBackward0")
    return name


# the numpy functions PyTorch differentiates with a zero gradient (its sign, floor, ceil, round
# and trunc give a result that requires grad, SignBackward0...) where numpy's rules declare them
# without derivative: on a Tensor that requires grad, np.sign(t) records t.sign()'s node. A vjp
# rule run on Tensors (create_graph) builds abs's gradient from np.sign(x): with a result that
# did not require grad, the gradient of x.abs() or of F.l1_loss did not either, and a further
# derivative raised where PyTorch gives zeros
_ZERO_GRADIENT = {np.sign: "sign", np.floor: "floor", np.ceil: "ceil", np.trunc: "trunc",
                  np.fix: "trunc", np.rint: "round", np.round: "round", np.around: "round"}


_refused_keywords = {}  # (rule, keyword names) -> the names its vjp does not take


def _check_keywords(rule, kwargs):
    """Refuse, when recording, a keyword the rule's vjp does not take (``np.sum(t, where=m)``,
    ``np.max(t, initial=0.0)``): numpy computes the value with it, and the backward would fail."""
    key = (id(rule), tuple(kwargs))
    bad = _refused_keywords.get(key)
    if bad is None:
        params = inspect.signature(rule.vjp).parameters
        takes_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
        bad = _refused_keywords[key] = () if takes_any else tuple(
            k for k in kwargs if k not in params or params[k].kind == params[k].POSITIONAL_ONLY)
    if bad:
        hint = OPTION_HINTS.get(bad[0], "leave it out")
        raise TapeError(f"{rule.name}(..., {'=..., '.join(bad)}=...) is not supported on tape "
                        f"Tensors: the derivative rule of {rule.name} has no {bad[0]!r} argument; "
                        f"{hint}")


_MATMUL_NAMES = {(2, 2): "MmBackward0", (2, 1): "MvBackward0", (1, 1): "DotBackward0",
                 (1, 2): "MmBackward0"}

_SAVES = {
    np.add: (), np.subtract: (), np.negative: (), np.positive: (), np.sum: (), np.mean: (),
    np.reshape: (), np.transpose: (), np.swapaxes: (), np.expand_dims: (), np.squeeze: (),
    np.broadcast_to: (), np.concatenate: (), np.stack: (), np.exp: ("o",), np.tanh: ("o",),
    np.sqrt: ("o",), np.where: (0,),
}


_EDGES = {1: _ONE, 2: _BOTH, 3: (0, 1, 2)}
_MATMUL = np.matmul
_POWER = np.power
_NDARRAY = np.ndarray


def array_function_method(self, func, types, args, kwargs):
    """``Tensor.__array_function__``: numpy calls it for ``np.sum(t)``, ``np.stack([t, u])``, ..."""
    return _array_function(func, args, kwargs)


def _array_ufunc(ufunc, method, inputs, kwargs):
    return array_ufunc_method(None, ufunc, method, *inputs, **kwargs)


def array_ufunc_method(self, ufunc, method, *inputs, **kwargs):
    """``Tensor.__array_ufunc__``: numpy calls it for ``np.sin(t)``, ``ndarray @ t``, ..."""
    if method != "__call__" or kwargs:
        return _array_ufunc_other(ufunc, method, inputs, kwargs)
    # the common call, np.tanh(t) or ndarray @ t: no out=, where= or other keywords
    for a in inputs:
        if isinstance(a, Tensor):
            if a._rgv if a._base is None else a._rg:  # (a view's through its property)
                break
        elif type(a) in (list, tuple) and _any_rg((a,)):
            break
    else:
        return _wrap_result(ufunc(*[_unwrap(i) for i in inputs]))
    if not _state.enabled or ufunc.nout != 1:
        if ufunc.nout != 1 and _state.enabled and _any_rg(inputs):
            raise _no_rule(ufunc)
        return _wrap_result(ufunc(*[_unwrap(i) for i in inputs]))
    if ufunc is _MATMUL:
        a, b = inputs
        if (a._data.ndim if type(a) is Tensor else a.ndim if type(a) is _NDARRAY else _ndim(a)) \
                == 2 and (b._data.ndim if type(b) is Tensor else _ndim(b)) == 2:
            return mm_any(a, b)  # ndarray @ Tensor: the same node as Tensor @ Tensor
    info = _info.get(ufunc) if _info_version[0] == _registry_version[0] else None
    rule, name = info if info is not None else _func_info(ufunc)  # (its cache read here)
    if rule is None:
        if ufunc in _ZERO_GRADIENT and type(inputs[0]) is Tensor:
            return getattr(inputs[0], _ZERO_GRADIENT[ufunc])()
        if registry.is_nondiff(ufunc):
            return _wrap_result(ufunc(*[_unwrap(i) for i in inputs]))
        raise _no_rule(ufunc)
    if ufunc is _POWER or ufunc is _MATMUL:
        name = _torch_name(ufunc, name, inputs, kwargs)
    edges = _EDGES.get(len(inputs)) or tuple(range(len(inputs)))
    a = inputs[0]  # (np.tanh(t), np.maximum(t, 0.0): the forward here)
    a = a._data if type(a) is Tensor else _unwrap(a)
    if len(inputs) == 1:
        raw = (a,)
    elif len(inputs) == 2:
        b = inputs[1]
        raw = (a, b._data if type(b) is Tensor else _unwrap(b))
    else:
        raw = tuple([_unwrap(x) for x in inputs])
    ans = ufunc(*raw)
    if type(ans) is np.ndarray and ans.dtype is _F64 and type(a) is np.ndarray and \
            a.dtype is _F64 and a.ndim:  # (what _op would check is known: see recording._record)
        return _record(name, ufunc, ufunc, inputs, None, edges, _SAVES.get(ufunc, edges), ans, raw)
    return _op(name, ufunc, ufunc, inputs, None, edges, _SAVES.get(ufunc, edges), ans, False, raw)


# (an augmented assignment into a numpy array, a += t or a[i] -= t, is numpy's ufunc with out=)
_INPLACE_HINT = {u: f" (a numpy array updated in place with a Tensor, a {op}= t or a[i] {op}= t, "
                    f"runs it: write a = a {op} t, or make a a Tensor, T.zeros(...), and update "
                    "that)" for u, op in ((np.add, "+"), (np.subtract, "-"), (np.multiply, "*"),
                                         (np.true_divide, "/"), (np.power, "**"))}


def _ndim(x):
    return x._data.ndim if isinstance(x, Tensor) else x.ndim if type(x) is np.ndarray else \
        np.ndim(x)


def _array_ufunc_other(ufunc, method, inputs, kwargs):
    """A ufunc called with keywords, or a ufunc method (``np.multiply.outer``)."""
    if method == "outer" and ufunc.nin == 2:
        a, b = inputs
        nb = np.ndim(_unwrap(b))
        a2 = a.reshape(tuple(np.shape(_unwrap(a))) + (1,) * nb) if isinstance(a, Tensor) else \
            np.reshape(a, np.shape(a) + (1,) * nb)
        return _array_ufunc(ufunc, "__call__", (a2, b), kwargs)
    if method in ("reduce", "accumulate") and len(inputs) == 1:
        bound = getattr(ufunc, method)  # (np.add.reduce: a rule of its own where it has one)
        rule = registry.lookup(bound)
        if rule is not None:
            if not (_state.enabled and _any_rg(inputs)):
                return _wrap_result(bound(_unwrap(inputs[0]), **kwargs))
            if kwargs.get("out") is not None:
                raise TapeError(f"np.{ufunc.__name__}.{method}(..., out=...) is not supported on "
                                f"tape Tensors; assign the result instead")
            kwargs.pop("out", None)
            if kwargs:
                _check_keywords(rule, kwargs)
            return _op(rule.torch_name or rule.name, bound, bound, tuple(inputs), kwargs or None,
                       (0,), (0, "o"))
    if method != "__call__":
        raise TapeError(
            f"np.{ufunc.__name__}.{method} is not supported on tape Tensors (it would bypass the "
            f"graph); use np.{ufunc.__name__}(...) or indexing with an out-of-place update")
    if kwargs.get("out") is not None:
        raise TapeError(f"np.{ufunc.__name__}(..., out=...) is not supported on tape Tensors; "
                        "assign the result instead" + _INPLACE_HINT.get(ufunc, ""))
    kwargs.pop("out", None)
    if not (_state.enabled and _any_rg(inputs)) or ufunc.nout != 1:
        if ufunc.nout != 1 and _state.enabled and _any_rg(inputs):
            raise _no_rule(ufunc)
        return _wrap_result(ufunc(*[_unwrap(i) for i in inputs], **kwargs))
    if ufunc is np.matmul and not kwargs:
        a, b = inputs
        if np.ndim(_unwrap(a)) == 2 and np.ndim(_unwrap(b)) == 2:
            return mm_any(a, b)
    rule, name = _func_info(ufunc)
    if rule is None:
        if registry.is_nondiff(ufunc):
            return _wrap_result(ufunc(*[_unwrap(i) for i in inputs], **kwargs))
        raise _no_rule(ufunc)
    if kwargs:
        _check_keywords(rule, kwargs)
    name = _torch_name(ufunc, name, inputs, kwargs)
    saves = _SAVES.get(ufunc, tuple(range(len(inputs))))
    return _op(name, ufunc, ufunc, tuple(inputs), kwargs or None, tuple(range(len(inputs))),
               saves)


def _shape_of(a):
    return tuple(a._data.shape) if isinstance(a, Tensor) else np.shape(a)


def _write_positions(what, a, positions, v, flat_at=None):
    """``a[positions] = v``'s entries repeated in order (``flat_at``: at those flat positions
    instead) for np.put, np.place, np.putmask and np.fill_diagonal on a Tensor (review38): the
    subscript write the compiler writes them as, recorded as the tape's own write into ``a``."""
    if not isinstance(a, Tensor):
        if isinstance(v, Tensor) and v._rg:
            raise TapeError(f"{what} writes a Tensor that requires grad into a numpy array, where "
                            f"the tape cannot follow it; make the array a Tensor first")
        return getattr(np, what.split(".")[-1])  # (unreachable: numpy dispatched on a Tensor)
    count = int(np.size(positions[0]))
    flat = np.ravel(v) if isinstance(v, Tensor) else np.ravel(np.asarray(v, dtype=a.dtype))
    size = int(np.size(_unwrap(flat)))
    if count and not size:
        raise ValueError("cannot write the values of an empty array into a nonempty selection")
    at = np.arange(count) if flat_at is None else flat_at
    a[positions] = flat[at % max(size, 1)]


def _put(a, ind, v, mode="raise"):
    _write_positions("np.put", a, _sd.put_positions(_unwrap(a), _unwrap(ind), mode), v)


def _place(arr, mask, vals):
    _write_positions("np.place", arr, np.nonzero(_unwrap(mask)), vals)


def _putmask(a, mask, values):
    positions = np.nonzero(np.broadcast_to(_unwrap(mask), np.shape(_unwrap(a))))
    _write_positions("np.putmask", a, positions, values,
                     np.ravel_multi_index(positions, np.shape(_unwrap(a))))


def _fill_diagonal(a, val, wrap=False):
    _write_positions("np.fill_diagonal", a, _sd.diagonal_positions(_unwrap(a), wrap), val)


_AF_HANDLERS = {
    np.put: _put,
    np.place: _place,
    np.putmask: _putmask,
    np.fill_diagonal: _fill_diagonal,
    np.shape: lambda a: _shape_of(a),
    np.ndim: lambda a: np.ndim(_unwrap(a)),
    np.size: lambda a, axis=None: np.size(_unwrap(a), axis),
    np.result_type: lambda *a: np.result_type(*[_unwrap(x) for x in a]),
    np.iscomplexobj: lambda x: np.iscomplexobj(_unwrap(x)),
    np.isrealobj: lambda x: np.isrealobj(_unwrap(x)),
}


def _positional_tensors(rule, args, kwargs, func=None):
    """``np.bincount(x, weights=w)`` with w a Tensor that requires grad as ``np.bincount(x, w)``:
    the tape follows positional arguments; a keyword argument that holds such a Tensor moves to
    its position (the rule's parameters are numpy's), and the ones before it that were not given
    take ``func``'s own defaults (``np.average(a, weights=w)`` as ``np.average(a, None, w)``,
    ``np.diff(a, prepend=p)`` with numpy's n, axis: review38)."""
    if not any(isinstance(v, Tensor) and v._rg for v in kwargs.values()):
        return args, kwargs  # (np.sum(t, axis=1): the common case, no signature read)
    try:
        params = list(inspect.signature(rule.vjp).parameters.values())[2:]
    except (TypeError, ValueError):
        return args, kwargs
    rest = params[len(args):]
    wanted = [k for k, p in enumerate(rest) if isinstance(kwargs.get(p.name), Tensor) and
              kwargs[p.name]._rg]
    if not wanted or any(p.kind is not p.POSITIONAL_OR_KEYWORD for p in rest[:wanted[-1] + 1]):
        return args, kwargs  # (refused below)
    defaults, keyword_only = _defaults(func)
    if any(p.name not in kwargs and p.name not in defaults or p.name in keyword_only
           for p in rest[:wanted[-1] + 1]):
        # (refused below: no default of numpy's to fill in, or a parameter numpy takes by
        # keyword only, where the rule has a slot: np.clip's min=, max=)
        return args, kwargs
    kwargs = dict(kwargs)
    return tuple(args) + tuple(kwargs.pop(p.name) if p.name in kwargs else defaults[p.name]
                               for p in rest[:wanted[-1] + 1]), kwargs


def _defaults(func):
    """The defaults of ``func``'s parameters that take one, by name ({} when unknown), and the
    names of its keyword-only parameters."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return {}, set()
    return ({p.name: p.default for p in params if p.default is not p.empty},
            {p.name for p in params if p.kind is p.KEYWORD_ONLY})


_out_positions = {}  # numpy function -> the position of its out parameter (None: it has none)


def _out_position(func):
    """Where ``func`` takes ``out`` positionally (np.sum(a, axis, dtype, out)), or None."""
    if func not in _out_positions:
        try:
            params = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError):
            params = []
        # (np.einsum(*operands, out=None): out after a *args is taken by keyword only)
        k = next((i for i, p in enumerate(params) if p.name == "out"), None)
        _out_positions[func] = k if k is not None and all(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params[:k + 1]) \
            else None
    return _out_positions[func]


def _out_given(func, args, kwargs):
    if kwargs.get("out") is not None:
        return True
    k = _out_position(func)
    return k is not None and len(args) > k and args[k] is not None


def _array_function(func, args, kwargs):
    if _out_given(func, args, kwargs) and _state.enabled and _any_rg(args):
        # (numpy would write the value into out, an array the tape does not see: its gradient
        # would be 0, silently)
        name = getattr(func, "__name__", "the function")
        raise TapeError(f"np.{name}(..., out=...) is not supported on tape Tensors; assign the "
                        "result instead")
    h = _AF_HANDLERS.get(func)
    if h is not None:
        return h(*args, **kwargs)
    if not (_state.enabled and (_any_rg(args) or kwargs and _any_rg(kwargs.values()))):
        return _wrap_result(func(*[_unwrap(a) for a in args],
                                 **{k: _unwrap(v) for k, v in kwargs.items()}))
    rule, name = _func_info(func)
    if rule is None:
        if func in _ZERO_GRADIENT and args and type(args[0]) is Tensor and set(kwargs) <= {
                "decimals"} and (len(args) == 1 or func is not np.fix):
            return getattr(args[0], _ZERO_GRADIENT[func])(*args[1:], **kwargs)  # (np.round...)
        if registry.is_nondiff(func):
            return _wrap_result(func(*[_unwrap(a) for a in args],
                                     **{k: _unwrap(v) for k, v in kwargs.items()}))
        written = registry.written_as(func)
        if written is not None:  # (np.corrcoef: recorded as the numpy operations it is made of)
            return written(*args, **kwargs)
        raise _no_rule(func)
    if kwargs:
        args, kwargs = _positional_tensors(rule, args, kwargs, func)
        if _any_rg(kwargs.values()):  # (a Tensor, or a list of them: multi_dot(arrays=[...]))
            raise TapeError(f"pass the differentiable arguments of {rule.name} positionally")
        _check_keywords(rule, kwargs)
    drop = _drops.get(rule)
    if drop is None:  # (the positions rule_lookup._carries leaves out, found once per rule)
        drop = _drops[rule] = frozenset(i for i in range(_MAX_ARGS) if not _carries(rule, i))
    edges = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            if a._data.dtype.kind in "fc" and i not in drop:
                edges.append(i)
        elif type(a) in (list, tuple) and any(isinstance(e, Tensor) for e in a):
            if i not in drop:
                edges.extend((i, j) for j in range(len(a)))
        elif rule.broadcast and isinstance(a, (np.ndarray, numbers.Number)):
            edges.append(i)
    name = _torch_name(func, name, args, kwargs)
    saves = _SAVES.get(func)
    if saves is None:
        saves = tuple(e for e in edges if type(e) is int)
    return _op(name, func, func, tuple(args), kwargs or None, tuple(edges), saves)
