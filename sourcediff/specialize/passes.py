"""Specialize stage: a generated gradient rewritten for the shapes and dtypes of one call.

The generic generated code calls runtime helpers (``_sd.unbroadcast``, ``_sd.grad_like``, ...) that
look at shapes on every call, because the compiler does not know the shapes when it writes the code.
At the first call with a new *signature* (the type of every argument, and the shape and dtype of every
array argument), this stage infers, statically and soundly, the type, shape and dtype of every value
the generated function computes, and rewrites each helper call whose outcome is then known::

    _sub1_bar = _sd.unbroadcast(_pow1_bar * 2 * _sub1, _sub1)   _sub1_bar = 2.0 * _sub1
    b2_bar = _sd.unbroadcast(out_bar, b2)                       b2_bar = out_bar.sum(axis=(0,))

The inference (``inference.py``) is an abstract interpretation of the generated function over the
facts of ``facts.py``. :func:`specialize` runs the passes of ``PASSES`` in order: the rewrites the
facts allow (``SETTLE``: a shifted log-sum-exp's zero gradient through its shift dropped in
``shifts.py``, the scatter of one entry picked per row summed and added without its zeros in
``scatters.py``, helper calls in ``rewrites.py``, scalar seeds, a dict argument's gradient
in ``dicts.py``) round after round with a ``CLEANUP`` (constants, dead code, unread stack saves in
``buffers.py``) after each, then once on the result (``FINAL``): row blocks (``rows.py``), a
constant seed's fill of a known shape where no rows were blocked (``rewrites.py``), the user's
small powers as products where their bits cannot be seen (``products.py``, ``unobserved.py``),
products read from the name that holds them and scalar factors summed first (``products.py``),
sums of products with a spread or broadcast operand as one einsum (``einsums.py``), column sums,
loop products (``loops.py``), an adjoint loop's stacked rows written in place
(``stacked_rows.py``), buffer reuse, numpy's reductions of an array called as its methods
(``methods.py``), library calls bound once (``dicts.py``) and, last,
the release of large arrays after their last read (``release.py``). Each pass has a
before/after example that runs as a test (``tests/test_specialize_passes.py``).
"""

import weakref

import gast
import numpy as np

from ..compiler.optimize import dead_code, fold_constants, inline_temps
from ..syntax import clone, unshared, walk
from .buffers import _drop_unread_saves, _fill_empty, _reuse_buffers
from .forward_rows import drop_unread_rows
from .dicts import (
    _calls_leave_dicts_alone,
    _hoist_library_calls,
    _read_only_dicts,
    _split_dict_grads,
    _writes_only_arrays,
)
from .einsums import summed_products
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
    Seq,
    dict_fact,
    fact_of_signature,
    seq_fact,
)
from .inference import Inference
from .methods import has_reductions, reductions_as_methods
from .loops import (
    _has_loop_products,
    _hoist_loop_products,
    _materialize_broadcasts,
    _stack_loop_products,
)
from .owned import owns_results
from .products import repeated_products, scalar_factors, small_powers
from .release import release
from .rewrites import _propagate_constants, _Rewriter, _scalar_seeds, known_fills
from .rows import block_rows
from .scatters import picked_scatters
from .seq_grads import sequence_grads
from .shifts import shift_invariant_sums
from .stacked_rows import rows_in_place
from .unroll import known_branches, paired_saves, unroll_loops


class _Run:
    """What the passes of one specialization read and change: the function being rewritten, the
    facts of the parameters, the inference's facts of the current tree (``nodes``, renewed by
    :func:`_infer`) and the options of the call."""

    def __init__(self, fdef, facts, namespace, stack_name, removable, where_names, runtime_names,
                 placeholders, bind, batch_rows, gradients_only=False):
        self.fdef, self.facts, self.namespace = fdef, facts, namespace
        self.stack_name, self.removable, self.where_names = stack_name, removable, where_names
        self.runtime_names, self.placeholders = runtime_names, placeholders
        self.runtime_name = next(iter(runtime_names))
        self.bind, self.batch_rows = bind, batch_rows
        self.gradients_only = gradients_only  # it returns gradients only (sd.grad's function)
        self.nodes = None
        self.ever = {}  # name -> the join of the facts of its values (the last inference's)
        self.blocked = False
        self.unrolled = False  # a loop was written out (unroll.py)
        self.total = 0  # changes so far


class Pass:
    """One rewrite of the specialize stage: ``run(r)`` rewrites ``r.fdef`` in place and returns
    how many changes it made (0: none); ``when(r)`` says whether it applies to this run at all.
    ``example`` names the test case in ``tests/test_specialize_passes.py`` that shows it: the same
    gradient's source with and without the pass."""

    def __init__(self, name, run, when=None, example=None):
        self.name, self.run, self.example = name, run, example
        self.when = when or (lambda r: True)

    def __repr__(self):
        return f"Pass({self.name!r})"


def _helpers(r):
    rewriter = _Rewriter(r.nodes, r.runtime_names)
    r.fdef.body = [s for s in (rewriter.visit(s) for s in r.fdef.body) if s is not None]
    return rewriter.changed


def _cleanup(r):
    """After rewrites: constants into their uses, folded, dead code out, temporaries inlined,
    stack saves nothing reads dropped. (Its changes are not counted: it only follows others.)"""
    fdef, removable = r.fdef, r.removable
    while _propagate_constants(fdef, removable):
        pass
    fdef.body = fold_constants(fdef.body, r.where_names)
    if r.unrolled:
        known_branches(fdef)  # (a written-out pass's index, now a constant in its tests)
    fdef.body = _fill_empty(dead_code(fdef.body, removable, set()))
    fdef.body = inline_temps(fdef.body, removable)  # forward mode's statements only
    if r.stack_name is not None:
        fdef.body, dropped = _drop_unread_saves(fdef.body, r.stack_name, removable,
                                                r.runtime_name)
        if dropped:
            fdef.body = _fill_empty(dead_code(fdef.body, removable, set()))
    return 0


def _unrolled(r):
    """unroll.py's loops written out, and once no loop saves on the stack, its saves named."""
    changed = unroll_loops(r.fdef, r.nodes, r.stack_name)
    r.unrolled = r.unrolled or bool(changed)
    if r.unrolled:
        changed += known_branches(r.fdef) + paired_saves(r.fdef, r.stack_name, r.removable)
    return changed


def _fills(r):
    """rewrites.known_fills, the temporaries it left unread dropped, and the facts of the result.
    The user's own names stay, read or not (``logp = logits - lse`` kept only for the shape of its
    gather): what they compute warns, or raises under ``np.errstate``, as the function does."""
    return _unread_dropped(r, known_fills(r.fdef, r.nodes, r.runtime_names))


def _unread_dropped(r, changed):
    """After a rewrite that changed ``changed`` places: the temporaries it left unread dropped,
    and the facts of the result; ``changed``."""
    if changed:
        r.fdef.body = _fill_empty(dead_code(r.fdef.body, r.removable, set()))
        if not _infer(r):
            raise _Stop
    return changed


def _blocks(r):
    r.blocked = block_rows(r.fdef, r.nodes, r.facts, r.runtime_name)
    return 1 if r.blocked else 0  # (the blocks are small: no buffers to reuse)


def _products(r, rewrite):
    """One of products.py's rewrites, and the facts of the tree it changed (the buffers pass after
    it reads them)."""
    changed = rewrite(r.fdef, r.nodes)
    if changed and not _infer(r):
        raise _Stop
    return changed


def _summed(r):
    """einsums.py's rewrite, the products it made unread dropped, and the facts of the result."""
    return _unread_dropped(r, summed_products(r.fdef, r.nodes, r.runtime_names))


def _buffers(r):
    """(After the loop passes, whose rewrites need loops that write into no array, and with the
    facts of the tree they made; in loops for numpy only: numba types a loop's names once.)"""
    if _infer(r) and _reuse_buffers(r.fdef, r.nodes, r.runtime_name, loops=r.batch_rows):
        _infer(r)  # (the library calls pass binds the numpy functions of its calls)
    return 0  # (counted as before: it only follows other changes)


def _stacked_products(r):
    if not _infer(r, marks=True):
        raise _Stop
    changed = _stack_loop_products(r.fdef, r.nodes, r.removable, r.stack_name, r.runtime_name,
                                   share=r.batch_rows)
    if changed:  # (a list of rows can become a view of the array the forward loop read them
        # from: the saves of the rows on the stack are then read no more. No dead code removal
        # here: it would drop the ``row = None`` after a loop of hoisted products, _released's)
        r.fdef.body, dropped = _drop_unread_saves(r.fdef.body, r.stack_name, r.removable,
                                                  r.runtime_name)
        if dropped:
            drop_unread_rows(r.fdef, r.removable)
    return changed


def _rows_in_place(r):
    """stacked_rows.py's rewrite, on the facts of the tree the stacked products made."""
    if not _infer(r, marks=True):
        raise _Stop
    return rows_in_place(r.fdef, r.nodes, r.runtime_names)


def _methods(r):
    """methods.py's rewrite, on the facts of the tree as the passes before left it."""
    if not _infer(r):
        raise _Stop
    return reductions_as_methods(r.fdef, r.nodes)


def _stacks_rows(fdef, runtime_names):
    """Whether the function calls one of the runtime's stacking helpers (stacked_rows.py's
    candidates read a list there)."""
    return any(isinstance(n, gast.Attribute) and n.attr in ("stack_rows", "add_stacked_sums",
                                                            "add_stacked_products") and
               isinstance(n.value, gast.Name) and n.value.id in runtime_names for n in walk(fdef))


def _release(r):
    _infer(r)  # (the facts of the names the passes after the last inference made, if it can)
    return release(r.fdef, r.ever, r.namespace, r.runtime_name, r.stack_name)


# The passes, in order. PREPARE runs first, again (after a new inference) while it changes
# something, at most three rounds: a loop written out makes the count of its adjoint loop known.
# SETTLE runs again (after a new inference) while it changes something, at
# most four rounds: a rewrite can make more facts known (a helper call becomes an operator), and
# CLEANUP follows every round that changed something. FINAL runs once on the result, when
# something changed or library calls are to be bound.
PREPARE = (
    Pass("unrolled loops", _unrolled, example="unrolled_loops"),  # (unroll.py)
)
SETTLE = (
    Pass("shifted sums", lambda r: shift_invariant_sums(r.fdef, r.nodes, r.runtime_names),
         example="shifted_sums"),  # (first: it reads the generic adjoint's facts; shifts.py)
    Pass("picked scatters", lambda r: picked_scatters(r.fdef, r.nodes, r.runtime_names),
         example="picked_scatters"),  # (before the helpers: facts of the whole tree; scatters.py)
    Pass("helpers", _helpers, example="helpers"),  # helper calls the facts decide (rewrites.py)
    Pass("scalar seeds", lambda r: _scalar_seeds(r.fdef, r.nodes, r.runtime_names),
         example="scalar_seeds"),
    Pass("dict gradients", lambda r: _split_dict_grads(r.fdef, r.nodes, r.removable,
                                                       r.runtime_names), example="dict_gradients"),
)
CLEANUP = Pass("cleanup", _cleanup)
FINAL = (
    Pass("row blocks", _blocks, example="row_blocks"),
    Pass("known fills", _fills, when=lambda r: not r.blocked,  # (after the scalar seeds, and
         example="known_fills"),  # after the row blocks, which read the seed's unreduce)
    Pass("sequence gradients", lambda r: _unread_dropped(r, sequence_grads(
        r.fdef, r.nodes, r.runtime_names)), example="sequence_gradients"),  # (seq_grads.py)
    Pass("small powers", lambda r: _products(r, lambda fdef, nodes: small_powers(
        fdef, nodes, r.runtime_names, r.gradients_only)),
         when=lambda r: not r.blocked, example="small_powers"),
    Pass("repeated products", lambda r: _products(r, repeated_products),
         when=lambda r: not r.blocked, example="repeated_products"),
    Pass("scalar factors", lambda r: _products(r, scalar_factors),
         when=lambda r: not r.blocked, example="scalar_factors"),
    Pass("summed products", _summed, when=lambda r: not r.blocked and r.batch_rows,
         example="summed_products"),  # (numpy's einsum: not numba's)
    Pass("loop broadcasts", lambda r: _products(r, lambda fdef, nodes: _materialize_broadcasts(
        fdef, nodes, r.stack_name, r.runtime_name)),
        when=lambda r: not r.blocked and r.batch_rows, example="loop_broadcasts"),  # (numpy's
    # broadcasting cost: not numba's)
    Pass("column sums", lambda r: _column_sums(r.fdef, r.nodes, r.bind),
         when=lambda r: r.bind is not None and not r.blocked, example="column_sums"),
    Pass("loop products", lambda r: _hoist_loop_products(r.fdef, r.nodes, r.removable,
                                                         r.stack_name),
         when=lambda r: r.stack_name is not None and r.batch_rows, example="loop_products"),
    Pass("stacked products", _stacked_products,
         when=lambda r: r.stack_name is not None and _has_loop_products(r.fdef),
         example="stacked_products"),
    Pass("rows in place", _rows_in_place,
         when=lambda r: r.batch_rows and _stacks_rows(r.fdef, r.runtime_names),
         example="rows_in_place"),  # (numpy's: numba's loops keep their lists; stacked_rows.py)
    Pass("buffers", _buffers, when=lambda r: not r.blocked and r.total, example="buffers"),
    Pass("reduction methods", _methods, when=lambda r: r.batch_rows and has_reductions(r.fdef),
         example="reduction_methods"),  # (numpy's: numba compiles np.sum's forms; methods.py)
    Pass("library calls", lambda r: _hoist_library_calls(r.fdef, r.nodes, r.runtime_names,
                                                        r.bind),
         when=lambda r: r.bind is not None, example="library_calls"),
    Pass("release", lambda r: _release(r), example="release"),  # (last: no later pass may
    # read a name it released)
)
PASSES = PREPARE + SETTLE + (CLEANUP,) + FINAL

# Names of passes not to run (tests/test_specialize_passes.py switches one off to show what it
# does; a debugging aid otherwise). The cleanup always runs.
SKIP = set()


class _Stop(Exception):
    """The inference gave up on the rewritten tree: the specialization keeps what it has."""


def _infer(r, marks=False):
    inference = Inference(r.fdef, r.namespace, r.stack_name, r.facts,
                          _marks(r.fdef, r.placeholders) if marks else ())
    try:
        inference.run()
    except _Unsupported:
        return False
    r.nodes, r.ever = inference.nodes, inference.ever
    return True


def _rounds(r, group, most):
    """The passes of ``group`` (those not in SKIP whose ``when`` holds), after a new inference
    each round, while they change something, at most ``most`` rounds; the cleanup after each."""
    for _ in range(most):
        if not _infer(r, marks=True):
            return
        changed = sum(p.run(r) for p in group if p.name not in SKIP and p.when(r))
        if not changed:
            return
        r.total += changed
        CLEANUP.run(r)


def specialize(fdef, param_names, args, **options):
    """A copy of the generated ``fdef`` rewritten for a call with positional ``args`` (see
    :func:`specialize_owned`); None when nothing in it changes."""
    return specialize_owned(fdef, param_names, args, **options)[0]


def specialize_owned(fdef, param_names, args, *, namespace, stack_name, removable, where_names,
                     runtime_names, placeholders=(), keywords=None, bind=None, batch_rows=True,
                     gradients_only=False):
    """A copy of the generated ``fdef`` rewritten for a call with positional ``args`` (and keyword
    ``keywords``) by the passes of ``PASSES`` (None when nothing in it changes), and whether its
    code shows every array it returns new and its own (``owned.py``: the entry then skips
    runtime.own_arrays for it). ``placeholders``
    are the names the function sets to None on entry only so that their first save on the stack
    has a value. ``bind(wanted, obj)`` gives the name under which ``obj`` is bound when the code
    is compiled (see ``_hoist_library_calls``); without it library functions are looked up where
    the code says. ``batch_rows=False`` leaves products of a loop's rows in the loop (see
    _hoist_loop_products; for the numba backend, whose ``@`` takes 2-D arrays only).
    ``gradients_only``: ``fdef`` returns nothing but gradients (``sd.grad``'s function, without
    has_aux), so that a value only they read may be computed with other roundings
    (unobserved.py)."""
    fdef = unshared(clone(fdef))  # (a tree: no pass sees one node in two places)
    constants = {}  # the objects the passes bound (ones rows), by name: fixed once compiled
    if bind is not None:
        def bind(wanted, obj, _bind=bind):
            name = _bind(wanted, obj)
            constants[name] = obj
            return name
    facts = _signature_facts(fdef, param_names, args, keywords, namespace, stack_name,
                             runtime_names, placeholders)
    assigned = {n.id for n in walk(fdef) if isinstance(n, gast.Name) and
                isinstance(n.ctx, gast.Store)}
    namespace = {k: v for k, v in namespace.items() if k not in assigned}
    r = _Run(fdef, facts, namespace, stack_name, set(removable), where_names, runtime_names,
             placeholders, bind, batch_rows, gradients_only)
    _rounds(r, PREPARE, 3)
    _rounds(r, SETTLE, 4)
    if r.total or bind is not None:
        if not _infer(r):
            return (fdef, False) if r.total else (None, False)
        try:
            for p in FINAL:
                if p.name not in SKIP and p.when(r):
                    r.total += p.run(r)
        except _Stop:
            return (fdef, False) if r.total else (None, False)
    if not r.total:
        return None, False
    return fdef, _infer(r) and owns_results(fdef, r.nodes, r.namespace, constants)


def _signature_facts(fdef, param_names, args, keywords, namespace, stack_name, runtime_names,
                     placeholders):
    """The facts of the parameters for this call: each argument's signature fact; a dict
    argument's items too when the code only reads the dict and nothing it calls can write into
    it (checked by a first inference); a tuple argument's items, and a list argument's when no
    code the function runs calls a method of a list or writes into one (the same check: a call
    of anything but the runtime, numpy and code that writes nothing, an item store into anything
    but an array, and the list's facts are dropped)."""
    facts = {p: (fact_of_signature(args[k]) if k < len(args) else TOP)
             for k, p in enumerate(param_names)}
    for k, v in (keywords or {}).items():
        facts[k] = fact_of_signature(v)
    assigned = {n.id for n in walk(fdef) if isinstance(n, gast.Name) and
                isinstance(n.ctx, gast.Store)}
    namespace = {k: v for k, v in namespace.items() if k not in assigned}
    dicts = [p for k, p in enumerate(param_names) if k < len(args) and type(args[k]) is dict]
    for p in _read_only_dicts(fdef, dicts, runtime_names):
        facts[p] = dict_fact(args[param_names.index(p)])
    for k, p in enumerate(param_names):  # (a list's items: only if nothing changes a list)
        if k < len(args) and (type(args[k]) is list or type(args[k]) is tuple):
            facts[p] = seq_fact(args[k])
    if any(type(f) is Items or (type(f) is Seq and f.kind is list) for f in facts.values()):
        inference = Inference(fdef, namespace, stack_name, facts, _marks(fdef, placeholders))
        try:
            inference.run()
            trusted = _calls_leave_dicts_alone(fdef, inference.nodes, namespace, runtime_names,
                                               stack_name) and \
                _writes_only_arrays(fdef, inference.written)
        except _Unsupported:
            trusted = False
        if not trusted:
            facts = {p: (TOP if type(f) is Items or (type(f) is Seq and f.kind is list) else f)
                     for p, f in facts.items()}
    return facts


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
