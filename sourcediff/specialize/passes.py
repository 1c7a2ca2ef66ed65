"""Specialize stage: a generated gradient rewritten for the shapes and dtypes of one call.

The generic generated code calls runtime helpers (``_sd.unbroadcast``, ``_sd.grad_like``, ...) that
look at shapes on every call, because the compiler does not know the shapes when it writes the code.
At the first call with a new *signature* (the type of every argument, and the shape and dtype of every
array argument), this stage infers, statically and soundly, the type, shape and dtype of every value
the generated function computes, and rewrites each helper call whose outcome is then known::

    _sub1_bar = _sd.unbroadcast(_pow1_bar * 2 * _sub1, _sub1)   _sub1_bar = 2.0 * _sub1
    b2_bar = _sd.unbroadcast(out_bar, b2)                       b2_bar = out_bar.sum(axis=(0,))

The inference (``inference.py``) is an abstract interpretation of the generated function over the
facts of ``facts.py``. :func:`specialize` runs the passes in order: the rewrites the facts allow
(``rewrites.py``, ``dicts.py``), constant folding and dead code, unread stack saves
(``buffers.py``), then once on the result: row blocks (``rows.py``), buffer reuse, column sums,
loop products (``loops.py``) and library calls bound once (``dicts.py``).
"""

import copy
import weakref

import gast
import numpy as np

from ..compiler.optimize import dead_code, fold_constants, inline_temps
from .buffers import _drop_unread_saves, _fill_empty, _reuse_buffers
from .dicts import (
    _calls_leave_dicts_alone,
    _hoist_library_calls,
    _read_only_dicts,
    _split_dict_grads,
    _writes_only_arrays,
)
from .facts import (
    TOP,
    Arr,
    Items,
    Known,
    _const,
    _literal,
    _load,
    _marks,
    _Unsupported,
    dict_fact,
    fact_of_signature,
)
from .inference import Inference
from .loops import _has_loop_products, _hoist_loop_products, _stack_loop_products
from .rewrites import _propagate_constants, _Rewriter, _scalar_seeds
from .rows import block_rows


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
                                               stack_name) and \
                _writes_only_arrays(fdef, inference.written)
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


# (rows, dtype) -> the read-only row of ones that _column_sums binds, shared by the specialized
# functions that bind it and kept only as long as one does (a batch size met once is not kept)
_ONES = weakref.WeakValueDictionary()


_ONES_MAX_ROWS = 1 << 16


def _ones_row(n, dtype):
    key = (n, dtype.str)
    ones = _ONES.get(key)
    if ones is None:
        ones = np.ones((1, n), dtype)
        ones.flags.writeable = False
        _ONES[key] = ones
    return ones


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
