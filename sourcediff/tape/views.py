"""In-place operations, index assignment and indexing (views sharing the base's version counter)."""

import builtins
import numbers
import weakref

import numpy as np

from .. import runtime as _sd
from . import tensor_class as _tensor_class
from .grad_mode import _state, enable_grad
from .messages import (
    _MSG_LEAF_INPLACE,
    _MSG_MULTI_VIEW,
    _MSG_NO_GRAD_VIEW,
    _MSG_REBASED_MULTI_VIEW,
    _MSG_STRIDE0,
    _MSG_VIEW_LEAF_INPLACE,
    _TTYPE,
    TapeError,
)
from .node import _make_node
from .recording import _op
from .tensor_class import Tensor, _edge, _getitem, _unwrap, _wrap


def _check_inplace(t):
    if _state.enabled:
        if t._rg and t.grad_fn is None:
            raise TapeError(_MSG_LEAF_INPLACE)
        b = t._base
        if b is not None and b._rg and b.grad_fn is None:
            raise TapeError(_MSG_VIEW_LEAF_INPLACE)
        if b is not None and b._rg and not t._rg and np.may_share_memory(t._data, b._data):
            # (a view made under no_grad of a base that needs grad: the write would change the
            # base's values and not its graph)
            raise TapeError(_MSG_NO_GRAD_VIEW)


def _multi_views(outs):
    """The outputs of a function of several views (unbind, split, chunk), as a tuple, each marked
    with its position when grad mode is on: PyTorch refuses an in-place write into one of them
    or into a view of one (_check_multi), since the function's backward takes the gradients of
    all its outputs together."""
    if _state.enabled:
        for i, out in enumerate(outs):
            out._multi = i
    return tuple(outs)


def _check_multi(t, index=None):
    """Refuse, with PyTorch's text, an in-place write that is recorded (grad mode on, and the
    result requires grad) into an output of unbind/split/chunk or a view of one; ``index``: that
    of an index assignment ``t[index] = v``, which writes into the view ``t[index]`` (named in
    the message) unless it is all of ``t`` or an advanced index."""
    k = getattr(t, "_multi", None)
    if k is None:
        return
    gf = t._gf
    if index is not None:
        tup = _unwrap_index(index)
        tup = tup if isinstance(tup, tuple) else (tup,)
        whole = all(i is Ellipsis or i == slice(None) for i in tup)  # (x[...] = v, x[:] = v)
        if all(_is_basic(i) for i in tup) and not whole:
            v = _getitem_tensor(t, index)
            if v._gf is not None and gf is not None:
                k, gf = 0, v._gf
    if gf is None:
        head = ("A view was created in no_grad mode and is being modified inplace with grad mode "
                "enabled.")
    else:
        head = (f"Output {k} of {type(gf).__name__.removesuffix('Backward0')} is a view and is "
                "being modified inplace.")
    raise TapeError(head + _MSG_MULTI_VIEW)


def _snapshot(t):
    s = _wrap(t._data.copy())
    s._rg = t._rg
    s.grad_fn = t.grad_fn
    s._acc = t._acc
    if t._rg and t.grad_fn is None:
        s._acc = t._acc_node()
    return s


def _rebase(t, res):
    """Make ``t`` hold ``res``'s value and graph position after an in-place op."""
    old = t.grad_fn
    if old is not None and old._ans is t._data and old._outvc is None:
        # the node that made t keeps its result for its rule (a / b: -g * ans / b), though it does
        # not save it as an output PyTorch would check: it gets the value from before the update
        old._ans = t._data.copy()
    np.copyto(t._data, res._data, casting="same_kind")
    t._vc[0] += 1
    node = res.grad_fn
    _move_retain(t, old, node)
    t.grad_fn = node
    t._rg = res._rg
    if node is not None:
        if node._outvc is res._vc:
            node._ans = t._data
            node._outvc = t._vc
            node._outver = t._vc[0]


def _move_retain(t, old, new):
    """``t`` (after retain_grad()) now comes out of ``new``: its .grad is the gradient of its
    new value only (PyTorch), not also that of the value ``old`` made."""
    if old is not None and old._retain is not None and old._retain() is t:
        old._retain = None
    if t._retains and new is not None:
        new._retain = weakref.ref(t)


def _regenerate(v):
    """The view ``v`` after an in-place write into its base (or another view of it) changed its
    data: its graph position is that of the elements of the base it shows (found by their
    addresses in memory), PyTorch's AsStridedBackward0 of the base's present node. So
    y = a * 1; v = y[1:3]; y.mul_(2); v.sum().backward() gives a.grad 2 where v is, not 1."""
    root = v._base
    k = getattr(v, "_multi", None)
    if k is not None and root._rg and v._gf is not None:
        raise TapeError(_MSG_REBASED_MULTI_VIEW.format(
            k=k, name=type(v._gf).__name__.removesuffix("Backward0")))
    v._gfv = v._vc[0]  # (fresh from here on)
    old = v._gf
    pos = _positions(v._data, root._data)
    if pos is None:
        if not np.may_share_memory(v._data, root._data):
            return  # (numpy copied it: it keeps its value, and the graph of that value)

        def refuse(node, g, cg):
            raise TapeError(
                "a view of a tensor whose base was then modified in place, which the sourcediff "
                "tape cannot relate to the elements of the base; take the view again after the "
                "in-place operation")
        node = _make_node("AsStridedBackward0", (_edge(root),), refuse, v._data.dtype)
        _move_retain(v, old, node)
        v._gf, v._rgv = node, root._rg
        return
    if not root._rg:
        _move_retain(v, old, None)
        v._gf, v._rgv = None, False
        return
    with enable_grad():
        if root._data.ndim == 0:
            src = _op("ViewBackward0", np.reshape, np.reshape, (root, (1,)), None, (0,), ())
            idx = (np.zeros(pos.shape, dtype=np.intp),)
        else:
            src, idx = root, np.unravel_index(pos, root._data.shape)
        r = _op("AsStridedBackward0", _getitem, _getitem, (src, idx), None, (0,), ("i",))
    _move_retain(v, old, r._gf)
    v._gf, v._rgv = r._gf, r._rgv
    v._gfv = v._vc[0]


_tensor_class._stale[0] = _regenerate


def _byte_offsets(a, first):
    off = np.full(a.shape, first, dtype=np.intp)
    for d, (n, stride) in enumerate(zip(a.shape, a.strides)):
        shape = [1] * a.ndim
        shape[d] = n
        off = off + (np.arange(n, dtype=np.intp) * stride).reshape(shape)
    return off


def _positions(view, base):
    """The C-order position in ``base`` of each element of ``view`` (an array of view's shape)
    where ``view``'s elements all lie in ``base``'s memory, else None."""
    if view.dtype.itemsize != base.dtype.itemsize or not np.may_share_memory(view, base):
        return None
    start = base.__array_interface__["data"][0]
    wanted = _byte_offsets(view, view.__array_interface__["data"][0] - start)
    size = base.dtype.itemsize
    if base.flags.c_contiguous:  # (the position is the offset in items)
        if wanted.size and (wanted.min() < 0 or wanted.max() >= base.nbytes or
                            np.any(wanted % size)):
            return None
        return wanted // size
    flat = _byte_offsets(base, 0).ravel()
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    k = np.clip(np.searchsorted(ordered, wanted), 0, max(ordered.size - 1, 0))
    if ordered.size == 0 or not np.array_equal(ordered[k], wanted):
        return None if wanted.size else np.zeros(view.shape, dtype=np.intp)
    return order[k]


def _inplace(t, op, npop, other, unary=False, assigns=False):
    """``t op= other`` (``op`` records it on a snapshot, ``npop`` computes it unrecorded);
    ``assigns``: ``t[index] = other`` through a view, where ``other`` is the value of ``t[index]``
    and need not broadcast to ``t``'s shape (numpy checks it against the indexed part)."""
    recording = _state.enabled and (t._rg or (isinstance(other, Tensor) and other._rg))
    if recording and t._base is not None:
        _check_multi(t)
    _check_inplace(t)
    if not unary and other is not None and not assigns:
        _check_inplace_shape(t, other)
        _check_inplace_dtype(t, other, npop)
    if not recording:
        if not t._data.flags.writeable:
            raise TapeError(_MSG_STRIDE0)
        if unary or other is None:
            np.copyto(t._data, npop(t._data), casting="same_kind")
        else:
            o = _unwrap(other)
            if npop is np.add or npop is np.subtract or npop is np.multiply or npop is np.divide:
                npop(t._data, o, out=t._data, casting="same_kind")
            else:
                np.copyto(t._data, npop(t._data, o), casting="same_kind")
        t._vc[0] += 1
        return t
    if t._base is not None:  # (recording: the base records the write, its other views see it)
        base = t._base
        index = _view_index(t)
        snap = _snapshot(t)
        res = op(snap) if unary else op(snap, other)
        if base._data.ndim == 0 and res._data.ndim:  # (numpy writes no (1,) into a 0-d array)
            res = res.reshape(())
        # the base records CopySlices; its views, t among them, become AsStridedBackward0 of it
        _setitem(base, index, res, through_view=True)
        if not np.shares_memory(t._data, base._data):  # (not one of the base's views' data)
            view = _getitem_tensor(base, index)
            np.copyto(t._data, view._data, casting="same_kind")
            _move_retain(t, t.grad_fn, view.grad_fn)
            t.grad_fn = view.grad_fn
            t._rg = view._rg
        return t
    snap = _snapshot(t)
    res = op(snap) if unary else op(snap, other)
    _rebase(t, res)
    return t


def _check_inplace_shape(t, other):
    """PyTorch's refusal of an in-place op whose other operand would broadcast ``t`` to another
    shape (``z.add_(x)`` with z of shape (1, 3) and x of (2, 3)): numpy's ValueError came out of
    the write instead, with no word of the op."""
    shape = t._data.shape
    o = np.shape(_unwrap(other))
    if o == shape or not o:
        return
    try:
        full = np.broadcast_shapes(shape, o)
    except ValueError:
        full = None
    if full is None:
        raise TapeError(f"an in-place operation on a tensor of shape {list(shape)} with an operand "
                        f"of shape {list(o)}: the shapes do not broadcast; write out = a op b "
                        "with shapes that do")
    if full != shape:
        raise TapeError(f"output with shape {list(shape)} doesn't match the broadcast shape "
                        f"{list(full)}")


def _check_inplace_dtype(t, other, npop):
    """PyTorch's refusal of an in-place op into integers or booleans whose result is of a wider
    kind (``i.add_(x)``, i int64 and x float: the result is Float; ``i.div_(2)``, a true
    division), which numpy's casting refused with a TypeError of its own."""
    kind = t._data.dtype.kind
    if kind not in "biu":
        return
    if isinstance(other, Tensor):
        got = other._data.dtype
    elif isinstance(other, (bool, np.bool_)):
        return
    elif isinstance(other, numbers.Integral):
        got = np.dtype(np.int64)
    elif isinstance(other, numbers.Real):
        got = np.dtype(np.float32)  # (PyTorch's default dtype)
    else:
        return
    if npop is np.divide and got.kind not in "fc":
        got = np.dtype(np.float32)
    if got.kind in "fc" or got.kind in "iu" and kind == "b":
        raise TapeError(f"result type {_TTYPE.get(got.name, got.name)} can't be cast to the "
                        f"desired output type {_TTYPE.get(t._data.dtype.name, t._data.dtype.name)}")


def _setitem(t, index, value, through_view=False):
    # (a write into integers or booleans truncates the value: no gradient passes)
    recording = _state.enabled and (t._rg or (isinstance(value, Tensor) and value._rg)) and \
        t._data.dtype.kind not in "biu"
    if recording and t._base is not None:
        _check_multi(t, index)
    if _state.enabled and t._rg and t.grad_fn is None:
        raise TapeError(_MSG_VIEW_LEAF_INPLACE)
    _check_inplace(t)
    idx = _unwrap_index(index)
    if not recording:
        t._data[idx] = _unwrap(value)
        t._vc[0] += 1
        return
    if t._base is not None:
        _view_index(t)  # (refused before anything is recorded)
        # (the view's new value, recorded on a copy of it, then written into the base)
        _inplace(t, lambda snap, v: _assigned(snap, index, v), None, value, assigns=True)
        return
    snap = _snapshot(t)
    new = t._data.copy()
    new[idx] = _unwrap(value)
    mask = np.zeros(t._data.shape, dtype=bool)
    mask[idx] = True
    nf = (_edge(snap), _edge(value))

    def bw(node, g, cg):
        g_self = np.where(mask, 0.0, g)
        g_val = None
        if nf[1][0] is not None:
            g_val = _sd.item_grad(g, idx)  # (an element written twice: the last write's)
            g_val = _sd.unbroadcast(g_val, _unwrap(value))
        return [g_self, g_val]

    # (PyTorch: a write through basic indexing is CopySlices, one through an advanced index,
    # a tensor, list or mask, is index_put_: IndexPutBackward0)
    basic = through_view or all(_is_basic(i) for i in (idx if isinstance(idx, tuple) else (idx,)))
    node = _make_node("CopySlices" if basic else "IndexPutBackward0", nf, bw, new.dtype)
    res = _wrap(new)
    res._rg = True
    res.grad_fn = node
    _rebase(t, res)


def _view_index(t):
    """The index into its base that gives the view ``t``: the one it was made by, or the
    positions of its elements in the base's memory (t(), view(), a view of a view)."""
    if t._vidx is not None:
        return t._vidx
    base = t._base
    if base._data.ndim == 0 and np.may_share_memory(t._data, base._data):
        return ()  # (a view of a 0-d tensor: its one element, y.view(-1) or y[None])
    pos = _positions(t._data, base._data) if base._data.ndim else None
    if pos is None:
        raise TapeError(
            "in-place operation on this view of a tensor that requires grad is not supported by "
            "the sourcediff tape (its elements are not the base's: numpy copied them); use an "
            "out-of-place operation (y = y + 1) or index assignment on the base tensor")
    if np.unique(pos).size != pos.size:
        raise TapeError(_MSG_STRIDE0)
    return np.unravel_index(pos, base._data.shape)


def _assigned(t, index, value):
    _setitem(t, index, value)
    return t


# ---------------------------------------------------------------- indexing


def _is_basic(i):
    return i is None or i is Ellipsis or isinstance(i, slice) or _is_int(i)


def _is_int(i):
    # a bool index is numpy's (and PyTorch's) advanced indexing: x[True] is x[None]
    return isinstance(i, numbers.Integral) and not isinstance(i, (bool, np.bool_))


def _unwrap_index(index):
    if isinstance(index, Tensor):
        return _index_part(index)
    if isinstance(index, tuple):
        return tuple(_index_part(i) if isinstance(i, Tensor) else i for i in index)
    return index


def _index_part(i):
    """A Tensor in an index: its array, but a 0-d integer one is PyTorch's integer (``x[k]``
    with ``k = y.argmax()`` selects a view, which an in-place write goes through; numpy's
    0-d array index, grad_of's, makes a copy)."""
    d = i._data
    if d.ndim == 0 and d.dtype.kind in "iu" and not _state.strict:
        return int(d)
    return d


def _getitem_tensor(t, index):
    idx = _unwrap_index(index)
    tup = idx if isinstance(idx, tuple) else (idx,)
    basic = all(_is_basic(i) for i in tup)
    if not (_state.enabled and t._rg):
        out = _wrap(np.asarray(_getitem(t._data, idx)))
        if basic:
            out._vc = t._vc
            out._base = t._base if t._base is not None else t
            if t._base is None:
                out._vidx = idx
            # (made under no_grad from a tensor that needs grad: it keeps no grad_fn)
            out._gfv = None if not _state.enabled and t._rg else out._vc[0]
            if _state.enabled and getattr(t, "_multi", None) is not None:
                out._multi = 0
        return out
    if not basic:
        return _op("IndexBackward0", _getitem, _getitem, (t, idx), None, (0,), ("i",))
    if _state.strict and len(tup) == t._data.ndim and all(_is_int(i) for i in tup):
        # a numpy program (grad_of): x[i, j] is a scalar, a copy that later writes into x do not
        # reach (PyTorch's is a 0-d view)
        return _op("SelectBackward0", _getitem, _getitem, (t, idx), None, (0,), ())
    n_real = builtins.sum(1 for i in tup if i is not None and i is not Ellipsis)
    cur, dim = t, 0
    for i in tup:
        if i is Ellipsis:
            dim += cur._data.ndim - dim - (n_real - _consumed(tup, i))
        elif i is None:
            shape = cur._data.shape[:dim] + (1,) + cur._data.shape[dim:]
            cur = _op("UnsqueezeBackward0", np.reshape, np.reshape, (cur, shape), None, (0,), (),
                      view=True)
            dim += 1
        elif isinstance(i, slice):
            n = cur._data.shape[dim]
            if i.indices(n) == (0, n, 1) and idx is not i:
                dim += 1  # (a whole dimension in a tuple, x[:, :]: PyTorch skips it; x[:] alone
                continue  # is PyTorch's SliceBackward0, as x[0:n] and x[::1])
            sub = (slice(None),) * dim + (i,)
            cur = _op("SliceBackward0", _getitem, _getitem, (cur, sub), None, (0,), (), view=True)
            dim += 1
        else:
            sub = (slice(None),) * dim + (int(i),)
            cur = _op("SelectBackward0", _getitem, _getitem, (cur, sub), None, (0,), (), view=True)
    if cur is t:
        cur = _op("AliasBackward0", _getitem, _getitem, (t, ()), None, (0,), (), view=True)
    if t._base is None:
        cur._vidx = idx
    return cur


def _consumed(tup, ell):
    k = 0
    for i in tup:
        if i is ell:
            return k
        if i is not None:
            k += 1
    return k
