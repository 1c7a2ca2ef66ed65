"""``torch.*`` functions (and their Tensor methods) that index, sort, scan and contract:
``gather``, ``scatter``, ``scatter_add``, ``sort``, ``argsort``, ``topk``, ``cumsum``, ``cumprod``,
``einsum``, ``bmm``, ``dot``, ``outer``, ``clamp_min``/``clamp_max``, ``roll``, ``median``,
``kthvalue``, each a thin layer over the
numpy call whose vjp rule the source compiler uses too (np.take_along_axis, np.cumsum, np.einsum,
``_sd.add_at``...), with PyTorch 2.13's node names, index checks and messages.

Ties in ``sort``/``topk``/``argsort`` are ordered stably (lower index first, descending too);
PyTorch's order of tied values is an implementation detail (stable only with ``stable=True``).
The gradient always goes to the entry the returned index names, so it is right either way.
"""

import collections

import numpy as np

from .. import runtime as _sd
from .functions import _clamp, _take, where
from .grad_mode import _state
from .messages import TapeError
from .node import _BILINEAR
from .recording import _composite, _op
from .tensor_class import Tensor, _dt, _unwrap, _wrap

_Sort = collections.namedtuple("sort", ["values", "indices"])
_Topk = collections.namedtuple("topk", ["values", "indices"])
_Median = collections.namedtuple("median", ["values", "indices"])
_Kthvalue = collections.namedtuple("kthvalue", ["values", "indices"])


def _tensor(x):
    return x if isinstance(x, Tensor) else _wrap(np.asarray(x))


def _dim(t, dim):
    n = max(t._data.ndim, 1)
    if not -n <= dim < n:
        raise TapeError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                        f"but got {dim})")
    return dim % n


def _index(t, dim, index, what, other="input"):
    """``index`` as an int64 array, checked as aten's gather/scatter check it."""
    idx = np.asarray(_unwrap(index))
    if idx.dtype.kind not in "iu":
        raise TapeError(f"{what}(): Expected dtype int32/int64 for index")
    shape = t._data.shape
    if idx.ndim != len(shape) and not (idx.ndim <= 1 and len(shape) <= 1):
        raise TapeError(f"Index tensor must have the same number of dimensions as {other} tensor")
    d = _dim(t, dim)
    for k, n in enumerate(idx.shape):
        if k != d and k < len(shape) and n > shape[k]:
            raise TapeError(f"Size does not match at dimension {k} expected index "
                            f"{list(idx.shape)} to be smaller than self {list(shape)} apart "
                            f"from dimension {d}")
    size = shape[d] if shape else 1
    bad = idx[(idx < 0) | (idx >= size)]
    if bad.size:  # (numpy would read a negative index from the end: another value, silently)
        raise TapeError(f"index {int(bad.flat[0])} is out of bounds for dimension {d} with "
                        f"size {size}")
    return idx.astype(np.int64), d


def _leading(idx, d):
    """The slices that cut the other operand to ``idx``'s extent in every dim but ``d``."""
    return tuple(slice(None) if k == d else slice(0, n) for k, n in enumerate(idx.shape))


def _full_index(idx, d):
    grids = list(np.indices(idx.shape, sparse=True))
    grids[d] = idx
    return tuple(grids)


def gather(input, dim, index, *, sparse_grad=False):
    """``out[i][j] = input[i][index[i][j]]`` for ``dim=1`` (``GatherBackward0``)."""
    input = _tensor(input)
    idx, d = _index(input, dim, index, "gather")
    if input._data.ndim == 0:
        return _op("GatherBackward0", np.reshape, np.reshape, (input, idx.shape), None, (0,), ())
    if idx.shape == input._data.shape or all(
            n == input._data.shape[k] for k, n in enumerate(idx.shape) if k != d):
        return _op("GatherBackward0", np.take_along_axis, np.take_along_axis, (input, idx, d),
                   None, (0,), ())
    cut = _leading(idx, d)
    return _composite("GatherBackward0", lambda a: np.take_along_axis(a[cut], idx, d), (input,))


def _src_cut(src, idx, what):
    src = _tensor(src)
    if src._data.ndim != idx.ndim:
        raise TapeError("Index tensor must have the same number of dimensions as src tensor")
    for k, n in enumerate(idx.shape):
        if n > src._data.shape[k]:
            raise TapeError(f"Expected index {list(idx.shape)} to be smaller than self "
                            f"apart from dimension and to be smaller size than src "
                            f"{list(src._data.shape)}")
    return src, None if src._data.shape == idx.shape else tuple(slice(0, n) for n in idx.shape)


def _placed(zeros, full, s, cut):
    part = s if cut is None else s[cut]
    return _op("ScatterAddBackward0", _sd.add_at, _sd.add_at, (zeros, full, part), None, (2,), ())


def scatter_add(input, dim, index, src):
    """``input`` with ``src``'s entries added at ``index`` along ``dim`` (out of place;
    ``ScatterAddBackward0``); an index named twice gets both."""
    input = _tensor(input)
    idx, d = _index(input, dim, index, "scatter_add")
    src, cut = _src_cut(src, idx, "scatter_add")
    full = _full_index(idx, d)
    if cut is None:
        return _op("ScatterAddBackward0", _sd.add_at, _sd.add_at, (input, full, src), None,
                   (0, 2), ())
    return _composite("ScatterAddBackward0",
                      lambda a, s: _op("ScatterAddBackward0", _sd.add_at, _sd.add_at,
                                       (a, full, s[cut]), None, (0, 2), ()), (input, src))


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """``input`` with ``src`` (a Tensor: ``ScatterBackward0``) or ``value`` (a number:
    ``ScatterBackward1``) written at ``index`` along ``dim``, out of place."""
    if reduce is not None:
        raise TapeError(f"scatter(reduce={reduce!r}) is not supported by the tape; use "
                        "scatter_add (reduce='add') or write the reduction out")
    if src is None:
        src = value
    input = _tensor(input)
    idx, d = _index(input, dim, index, "scatter")
    full = _full_index(idx, d)
    mask = np.zeros(input._data.shape, dtype=bool)
    mask[full] = True
    if not isinstance(src, Tensor):
        v = np.asarray(src, dtype=input._data.dtype)
        return _op("ScatterBackward1", np.where, np.where, (mask, v, input), None, (2,), (0,),
                   ans=np.where(mask, v, input._data))
    src, cut = _src_cut(src, idx, "scatter")
    part = src._data if cut is None else src._data[cut]
    value = input._data.copy()
    value[full] = part
    if _state.enabled and src._rg:
        counts = np.zeros(input._data.shape, dtype=np.int64)
        np.add.at(counts, full, 1)
        if (counts > 1).any():
            raise TapeError(
                "scatter: index names a position more than once and src requires grad; which "
                "src entry is kept is unspecified (PyTorch's gradient then reaches every one of "
                "them). Make the indices unique along dim, or use scatter_add to sum them")
    zeros = np.zeros(input._data.shape, dtype=input._data.dtype)
    return _composite("ScatterBackward0",
                      lambda a, s: where(mask, _placed(zeros, full, s, cut), a), (input, src),
                      value=value)


def _order(data, d, descending):
    """Stable sorting order along ``d``; NaN counts as the largest, as in PyTorch."""
    if data.ndim == 0:
        return np.zeros((), dtype=np.int64)
    if not descending:
        return np.argsort(data, axis=d, kind="stable").astype(np.int64)
    if data.dtype.kind in "fc":
        nan = np.isnan(data)
        key = np.where(nan, 0, -data)
        return np.lexsort((key, ~nan), axis=d).astype(np.int64)
    if data.dtype.kind == "b":
        return np.argsort(~data, axis=d, kind="stable").astype(np.int64)
    return np.argsort(-data.astype(np.int64), axis=d, kind="stable").astype(np.int64)


def _taken(name, t, order, d):
    if t._data.ndim == 0:
        return _op(name, np.positive, np.copy, (t,), None, (0,), ())
    return _op(name, np.take_along_axis, np.take_along_axis, (t, order, d), None, (0,), ())


def sort(input, dim=-1, descending=False, stable=None):
    """``(values, indices)`` sorted along ``dim`` (``SortBackward0``; given ``stable=``, the
    stable overload's ``SortBackward1``)."""
    input = _tensor(input)
    d = _dim(input, dim)
    order = _order(input._data, d, descending)
    name = "SortBackward0" if stable is None else "SortBackward1"
    return _Sort(_taken(name, input, order, d), _wrap(order))


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim`` (int64, no gradient)."""
    input = _tensor(input)
    return _wrap(_order(input._data, _dim(input, dim), descending))


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) entries along ``dim`` and their indices
    (``TopkBackward0``)."""
    input = _tensor(input)
    d = _dim(input, dim)
    size = input._data.shape[d] if input._data.ndim else 1
    if not 0 <= k <= size:
        raise TapeError("selected index k out of range")
    order = _order(input._data, d, largest)
    if input._data.ndim:
        order = np.take(order, np.arange(k), axis=d)
    return _Topk(_taken("TopkBackward0", input, order, d), _wrap(order))


def roll(input, shifts, dims=None):
    """``input`` shifted circularly by ``shifts`` along ``dims`` (all elements, flattened,
    without dims): numpy's np.roll (``RollBackward0``)."""
    return np.roll(_tensor(input), shifts, dims)


def median(input, dim=None, keepdim=False):
    """The lower of the two middle values (PyTorch's median, not numpy's mean of them).
    Without ``dim`` a 0-d Tensor (``MedianBackward0``) whose gradient is shared evenly among
    the entries equal to it (the nans, for a nan median), as PyTorch's; with ``dim`` the
    ``(values, indices)`` pair (``MedianBackward1``): the index is PyTorch's, the first nan
    of a row holding one, else the middle entry of the row sorted stably (ties by position),
    and the gradient goes to it alone."""
    t = _tensor(input)
    data = t._data
    if dim is None:
        flat = data.reshape(-1)
        if not flat.size:
            return _wrap(np.asarray(np.nan, data.dtype))
        nan = np.isnan(data) if data.dtype.kind in "fc" else np.zeros(data.shape, bool)
        m = data.dtype.type(np.nan) if nan.any() else \
            np.partition(flat, (flat.size - 1) // 2)[(flat.size - 1) // 2]
        w = nan if nan.any() else data == m
        w = (w / w.sum()).astype(data.dtype)
        return _composite("MedianBackward0", lambda a: (a * w).sum(), (t,), value=m)
    d, rows = _selection_axis(t, dim, "median")
    if not rows.shape[-1]:
        raise TapeError(f"median(): Expected reduction dim {d} to have non-zero size.")
    nan = np.isnan(rows) if rows.dtype.kind in "fc" else np.zeros(rows.shape, bool)
    order = np.argsort(rows, axis=-1, kind="stable")
    at = np.take_along_axis(order, np.full(rows.shape[:-1] + (1,), (rows.shape[-1] - 1) // 2), -1)
    at = np.where(nan.any(-1, keepdims=True), nan.argmax(-1)[..., None], at)
    return _Median(*_selected("MedianBackward1", t, np.moveaxis(at, -1, d), d, keepdim))


def kthvalue(input, k, dim=-1, keepdim=False):
    """The ``k``-th smallest entry along ``dim`` and its index (``KthvalueBackward0``), nans
    ordered last. Among tied entries the index is the one PyTorch's CPU quickselect returns
    (``_quickselect``, run on the rows whose k-th value is tied); the gradient goes to it."""
    t = _tensor(input)
    d, rows = _selection_axis(t, dim, "kthvalue")
    n = rows.shape[-1]
    if not 1 <= k <= n:
        raise TapeError(f"kthvalue(): selected number k out of range for dimension {d}")
    v = np.partition(rows, k - 1, axis=-1)[..., k - 1:k]
    same = (rows == v) | (np.isnan(rows) & np.isnan(v)) if rows.dtype.kind in "fc" else rows == v
    at = same.argmax(-1)[..., None]
    for r in map(tuple, np.argwhere(same.sum(-1) > 1)):
        at[r] = _quickselect(rows[r].tolist(), k - 1)
    return _Kthvalue(*_selected("KthvalueBackward0", t, np.moveaxis(at, -1, d), d, keepdim))


def _selection_axis(t, dim, what):
    """``dim`` checked, and ``t``'s values with that axis last (a 0-d ``t`` as one entry)."""
    d = _dim(t, dim)
    data = t._data
    return d, (data.reshape(1) if data.ndim == 0 else np.moveaxis(data, d, -1))


def _selected(name, t, idx, d, keepdim):
    """The entries of ``t`` at ``idx`` (an index along axis ``d``, kept as a length-1 axis)
    recorded as one node ``name`` whose gradient goes to those entries, and the indices."""
    if t._data.ndim == 0:
        return _composite(name, lambda a: a * 1, (t,)), _wrap(np.asarray(0, np.int64))
    idx = idx.astype(np.int64)
    grids = list(np.indices(idx.shape, sparse=True))
    grids[d] = idx
    full = tuple(grids)
    value = np.take_along_axis(t._data, idx, d)
    values = _composite(name, lambda a: _take(a, full, d, keepdim), (t,),
                        value=value if keepdim else np.squeeze(value, d))
    return values, _wrap(idx if keepdim else np.squeeze(idx, d))


def _after(a, b):
    """PyTorch's order of selection: ``a > b``, a nan after every number."""
    return a > b or (a != a and b == b)


def _quickselect(a, k):
    """The position in the list ``a`` of the entry a median-of-three quickselect leaves at
    ``k`` (the selection aten's CPU kthvalue runs, which decides which of tied entries is
    returned; checked against PyTorch 2.13 on random rows with ties and nans)."""
    pos = list(range(len(a)))

    def swap(i, j):
        a[i], a[j] = a[j], a[i]
        pos[i], pos[j] = pos[j], pos[i]

    lo, hi = 0, len(a) - 1
    while hi > lo + 1:
        mid = lo + (hi - lo) // 2
        swap(mid, lo + 1)
        for i, j in ((lo + 1, hi), (lo, hi), (lo + 1, lo)):
            if _after(a[i], a[j]):
                swap(i, j)
        i, j, pivot = lo + 1, hi, a[lo]
        while True:
            i += 1
            while _after(pivot, a[i]):
                i += 1
            j -= 1
            while _after(a[j], pivot):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(lo, j)
        if j <= k:
            lo = i
        if j >= k:
            hi = j - 1
    if hi == lo + 1 and _after(a[lo], a[hi]):
        swap(lo, hi)
    return pos[k]


def _scan_kw(t, dim, dtype):
    kw = {"axis": _dim(t, dim)}
    if dtype is not None:
        kw["dtype"] = _dt(dtype)
    elif t._data.dtype.kind in "bu" or t._data.dtype.kind == "i":
        kw["dtype"] = np.int64  # (PyTorch's integer scans are int64)
    return kw


def cumsum(input, dim, *, dtype=None):
    """Running sum along ``dim`` (``CumsumBackward0``)."""
    input = _tensor(input)
    if input._data.ndim == 0:
        return input.clone() if dtype is None else input.to(dtype)
    return _op("CumsumBackward0", np.cumsum, np.cumsum, (input,), _scan_kw(input, dim, dtype),
               (0,), ())


def cumprod(input, dim, *, dtype=None):
    """Running product along ``dim`` (``CumprodBackward0``; zeros handled)."""
    input = _tensor(input)
    if input._data.ndim == 0:
        return input.clone() if dtype is None else input.to(dtype)
    return _op("CumprodBackward0", np.cumprod, np.cumprod, (input,), _scan_kw(input, dim, dtype),
               (0,), (0, "o"))


def einsum(equation, *operands):
    """Einstein summation (``torch.einsum('ij,jk->ik', a, b)``, or the operands as one list),
    recorded as ONE node over np.einsum's rule. PyTorch splits einsum into permutes, views and
    bmm, so its ``grad_fn`` name depends on the equation (``ViewBackward0``, ``SumBackward1``,
    ``MulBackward0``...); the tape's is ``EinsumBackward0``; values and gradients agree."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TapeError("einsum(): the tape takes the equation as a string first "
                        "(torch.einsum('ij,jk->ik', a, b)); the sublist format is not supported")
    ops = tuple(_tensor(o) for o in operands)
    try:
        ans = np.einsum(equation, *[o._data for o in ops])
    except ValueError as exc:
        raise TapeError(f"einsum(): {exc}") from exc
    n = len(ops)
    return _op("EinsumBackward0", np.einsum, np.einsum, (equation, *ops), None,
               tuple(range(1, n + 1)), tuple(range(1, n + 1)) if n > 1 else (), ans=ans)


def bmm(input, mat2):
    """Batched matrix product of two 3-D tensors (``BmmBackward0``)."""
    a, b = _tensor(input), _tensor(mat2)
    if a._data.ndim != 3:
        raise TapeError("batch1 must be a 3D tensor")
    if b._data.ndim != 3:
        raise TapeError("batch2 must be a 3D tensor")
    (n, _, k), s = a._data.shape, b._data.shape
    if s[:2] != (n, k):
        raise TapeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                        f"[{n}, {k}] but got: [{s[0]}, {s[1]}].")
    _same_dtype("expected scalar type", a, b)
    return _op("BmmBackward0", np.matmul, np.matmul, (a, b), None, (0, 1), _BILINEAR)


_NAMES = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int",
          "float16": "Half", "bool": "Bool"}


def _same_dtype(what, a, b):
    da, db = a._data.dtype, b._data.dtype
    if da != db:
        na, nb = _NAMES.get(da.name, da.name), _NAMES.get(db.name, db.name)
        if what == "dot":
            raise TapeError(f"dot : expected both vectors to have same dtype, but found {na} "
                            f"and {nb}")
        raise TapeError(f"expected m1 and m2 to have the same dtype, but got: {da.name} != "
                        f"{db.name}".replace("float32", "float").replace("float64", "double"))


def dot(input, other):
    """Dot product of two 1-D tensors (``DotBackward0``)."""
    a, b = _tensor(input), _tensor(other)
    if a._data.ndim != 1 or b._data.ndim != 1:
        raise TapeError(f"1D tensors expected, but got {a._data.ndim}D and {b._data.ndim}D "
                        "tensors")
    if a._data.size != b._data.size:
        raise TapeError(f"inconsistent tensor size, expected tensor [{a._data.size}] and src "
                        f"[{b._data.size}] to have the same number of elements, but got "
                        f"{a._data.size} and {b._data.size} elements respectively")
    _same_dtype("dot", a, b)
    return _op("DotBackward0", np.matmul, np.matmul, (a, b), None, (0, 1), _BILINEAR)


def outer(input, vec2):
    """Outer product of two vectors (``MulBackward0`` over an unsqueeze, as PyTorch's)."""
    a, b = _tensor(input), _tensor(vec2)
    if a._data.ndim != 1 or b._data.ndim != 1:
        raise TapeError(f"outer: Expected 1-D argument self, but got {a._data.ndim}-D"
                        if a._data.ndim != 1 else
                        f"outer: Expected 1-D argument vec2, but got {b._data.ndim}-D")
    return a.reshape(-1, 1) * b


def clamp_min(input, min):
    """``max(input, min)`` with the gradient where ``input >= min`` (``ClampMinBackward0``;
    a Tensor bound ``ClampMinBackward1``)."""
    return _clamp(_tensor(input), min, None, "ClampMinBackward0", "ClampMinBackward1")


def clamp_max(input, max):
    """``min(input, max)`` with the gradient where ``input <= max`` (``ClampMaxBackward0``)."""
    return _clamp(_tensor(input), None, max, "ClampMaxBackward0", "ClampMaxBackward1")


class _TorchOpMethods:
    """The Tensor methods of the functions above (installed by tape.methods)."""

    def gather(self, dim, index, *, sparse_grad=False):
        """:func:`gather` (``GatherBackward0``)."""
        return gather(self, dim, index)

    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        """:func:`scatter`, out of place."""
        return scatter(self, dim, index, src, value, reduce=reduce)

    def scatter_add(self, dim, index, src):
        """:func:`scatter_add`, out of place."""
        return scatter_add(self, dim, index, src)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """:func:`topk` (``TopkBackward0``)."""
        return topk(self, k, dim, largest, sorted)

    def cumsum(self, dim=None, dtype=None, out=None, *, axis=None):
        """:func:`cumsum`; numpy's ``a.cumsum(axis)`` (all elements when no axis) too."""
        if dim is None or axis is not None or out is not None:
            return np.cumsum(self, axis if dim is None else dim, dtype, out)
        return cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim=None, dtype=None, out=None, *, axis=None):
        """:func:`cumprod`; numpy's ``a.cumprod(axis)`` too."""
        if dim is None or axis is not None or out is not None:
            return np.cumprod(self, axis if dim is None else dim, dtype, out)
        return cumprod(self, dim, dtype=dtype)

    def roll(self, shifts, dims=None):
        """:func:`roll` (``RollBackward0``)."""
        return roll(self, shifts, dims)

    def median(self, dim=None, keepdim=False):
        """:func:`median`: PyTorch's lower median (``MedianBackward0``), or with ``dim`` its
        ``(values, indices)`` (``MedianBackward1``)."""
        return median(self, dim, keepdim)

    def kthvalue(self, k, dim=-1, keepdim=False):
        """:func:`kthvalue` (``KthvalueBackward0``)."""
        return kthvalue(self, k, dim, keepdim)

    def clamp_min(self, min):
        """:func:`clamp_min`."""
        return clamp_min(self, min)

    def clamp_max(self, max):
        """:func:`clamp_max`."""
        return clamp_max(self, max)

    def outer(self, vec2):
        """:func:`outer`."""
        return outer(self, vec2)

    def bmm(self, mat2):
        """:func:`bmm` (``BmmBackward0``)."""
        return bmm(self, mat2)

    def dot(self, other):
        """:func:`dot` (``DotBackward0``) of two vectors; numpy's ``a.dot(b)`` of other shapes."""
        if _state.strict or self._data.ndim != 1 or np.ndim(_unwrap(other)) != 1:
            return np.dot(self, other)  # (numpy's a.dot(b) of matrices, as the tape gave before)
        return dot(self, other)

    def sort(self, dim=-1, descending=False, stable=None, **numpy_kw):
        """:func:`sort`: ``(values, indices)``. numpy's in-place ``a.sort(axis=, kind=)`` (and
        any ``a.sort()`` inside grad_of) is refused: the tape cannot record it in place."""
        if _state.strict or numpy_kw:
            raise TapeError("a.sort() sorts an array in place, which the tape cannot record; "
                            "write a = np.sort(a, axis) instead")
        return sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False, *, axis=None, kind=None):
        """:func:`argsort`; numpy's ``a.argsort(axis, kind)`` inside grad_of."""
        if _state.strict or axis is not None or kind is not None:
            return np.argsort(self, dim if axis is None else axis, kind)
        return argsort(self, dim, descending, stable)
