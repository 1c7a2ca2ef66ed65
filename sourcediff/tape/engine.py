"""The backward engine: topological order, hooks, ``.grad`` accumulation, ``backward`` and ``grad``."""

import operator
import warnings

import numpy as np

from .. import runtime as _sd
from .grad_mode import _state, _state_retain, no_grad
from .messages import (
    _MSG_CREATE_GRAPH_BACKWARD,
    _MSG_NO_GRAD,
    _MSG_SCALAR,
    _MSG_SECOND_BACKWARD,
    _MSG_VERSION,
    _TTYPE,
    TapeError,
    TapeTypeError,
)
from .node import AccumulateGrad, _make_node, _NodePrehook
from .tensor_class import Size, Tensor, _unwrap, _wrap


def _version_error(t, now, saved, which):
    dims = ", ".join(str(n) for n in t.shape) if isinstance(t, Tensor) else ""
    dt = t.dtype if isinstance(t, Tensor) else t
    return TapeError(_MSG_VERSION.format(
        ttype=f"torch.{_TTYPE.get(dt.name, dt.name)}Tensor", sizes=dims, which=which, now=now,
        saved=saved))


def _op_name(node_name):
    name = node_name
    i = name.rfind("Backward")
    return name[:i] if i > 0 else name


def _check_saved(node):
    if node._freed:
        raise TapeError(_MSG_SECOND_BACKWARD)
    args = node._args
    for p, v in node._vers:
        t = args[p]
        if t._vc[0] != v:
            which = f", which is output 0 of {_op_name(t.grad_fn.name())}," if t.grad_fn else ""
            raise _version_error(t, t._vc[0], v, which)
    if node._outvc is not None and node._outvc[0] != node._outver:
        ans = node._ans
        fake = _wrap(ans)
        raise _version_error(fake, node._outvc[0], node._outver,
                             f", which is output 0 of {_op_name(node.name())},")


def _toposort(roots, sinks=None):
    """The nodes reachable from ``roots``, each before the nodes it points to: newest first (a
    node is made after its inputs' nodes), the order of PyTorch's engine (by sequence number).
    The nodes without inputs (the leaves' AccumulateGrad, ...) are added to the list ``sinks``."""
    seen = set(roots)
    stack = list(seen)
    while stack:
        node = stack.pop()
        kids = node._c._next
        if not kids:
            if sinks is not None:
                sinks.append(node)
            continue
        for child in kids:
            if child is not None and child not in seen:
                seen.add(child)
                stack.append(child)
    return sorted(seen, key=_by_seq, reverse=True)


_by_seq = operator.attrgetter("_c._seq")


def _run_hooks(hooks, g, cg):
    """``g`` after the tensor hooks ``hooks`` (each called with the gradient; a returned value
    replaces it)."""
    for h in list(hooks):
        if type(h) is _NodePrehook:
            continue
        r = h(g if isinstance(g, Tensor) else _wrap(g))
        if r is not None:
            g = _replacement(h, r, g, cg)
    return g


def _run_node_prehooks(hooks, g, cg):
    """``g`` after the node's pre-hooks among ``hooks`` (``Node.register_prehook``: each
    called with the tuple of the node's output gradients, PyTorch's, and returning None or a
    tuple of as many), or None when one gave no gradient."""
    for h in list(hooks):
        if type(h) is not _NodePrehook:
            continue
        fn = h.fn
        r = fn((g if isinstance(g, Tensor) else _wrap(g),))
        if r is None:
            continue
        if type(r) is not tuple:
            raise TapeTypeError(f"expected tuple, but hook returned '{type(r).__name__}'")
        if len(r) != 1:
            raise TapeError(f"hook '{getattr(fn, '__name__', repr(fn))}' has returned an "
                            f"incorrect number of values (got {len(r)}, but expected 1)")
        if r[0] is None:
            return None
        g = _replacement(fn, r[0], g, cg)
    return g


def _replacement(h, r, g, cg):
    """The gradient a hook ``h`` returned (``r``) in place of ``g``, checked as PyTorch does."""
    rd = r._data if isinstance(r, Tensor) else np.asarray(r)
    if rd.shape != np.shape(_unwrap(g)):
        raise TapeError(f"hook '{getattr(h, '__name__', repr(h))}' has changed the size "
                        "of value")
    was = np.asarray(_unwrap(g)).dtype
    if rd.dtype != was:
        raise TapeError(
            f"hook '{getattr(h, '__name__', repr(h))}' has changed the type of value (was "
            f"torch.{_TTYPE.get(was.name, was.name)}Tensor got "
            f"torch.{_TTYPE.get(rd.dtype.name, rd.dtype.name)}Tensor)")
    return r if cg and isinstance(r, Tensor) else rd


def _real_for(g, t):
    """``g`` for the real tensor ``t``: its real part when complex values came in between."""
    if g.dtype.kind == "c" and t._data.dtype.kind != "c":
        return np.real(g)
    return g


def _store_grad(t, g, cg, retained=False):
    """Add ``g`` into ``t.grad``: a leaf's in place when possible, so the object stays the same;
    a non-leaf's (``retained``: retain_grad()) into a new tensor, as PyTorch's retain_grad hook
    (``grad = grad + new``), so a .grad kept from an earlier backward keeps its values."""
    if cg:
        tg = g if isinstance(g, Tensor) else _wrap(np.asarray(g))
        if tg._data.shape != t._data.shape:
            tg = tg + _wrap(np.zeros(t._data.shape, t._data.dtype))
        t._grad = tg if t._grad is None else t._grad + tg
        return
    if g.shape != t._data.shape:
        g = np.broadcast_to(_sd.unbroadcast(g, t._data), t._data.shape)
    g = _real_for(g, t)
    cur = t._grad
    if cur is None:
        t._grad = _wrap(np.array(g, dtype=t._data.dtype))
    elif cur._rg or retained:
        with no_grad():
            t._grad = cur + _wrap(np.asarray(g, dtype=t._data.dtype))
    else:
        np.add(cur._data, g, out=cur._data, casting="unsafe")


def _engine(roots, retain, cg, capture=None, accumulate=True):
    """Backpropagate ``roots`` (list of (node, grad)); returns {capture node: grad}."""
    grads = _Grads()
    for node, g in roots:
        grads[node] = g if node not in grads else grads[node] + g
    sinks = None if capture is None else []
    order = _toposort([n for n, _ in roots], sinks)
    through = None
    if capture is not None and not _captures_every_leaf(sinks, capture):
        needed = set(capture)
        through = set()
        for node in reversed(order):
            for child in node._c._next:
                if child is not None and child in needed:
                    needed.add(node)
                    through.add(node)
                    break
    results = {}
    # (a leaf's node holds no retain_grad: a leaf keeps its .grad)
    inner = False
    if capture is not None:
        for n in capture:
            if type(n) is not AccumulateGrad:
                inner = True
                break
    prev_retain = _state_retain[0]
    _state_retain[0] = retain
    prev_mode = _state.enabled
    _state.enabled = cg
    try:
        _walk(order, grads, retain, cg, capture, through, inner, accumulate, results)
    finally:
        _state_retain[0] = prev_retain
        _state.enabled = prev_mode
    return results


def _walk(order, grads, retain, cg, capture, through, inner, accumulate, results):
    """Run the nodes of ``order`` that received a gradient, newest first. The backward of an
    operation with a vjp rule on numpy values (most nodes, without create_graph: the rule on
    the saved values, contributions summed back to the arguments' shapes into ``grads``) is
    written out here rather than called: the loop runs once per recorded op."""
    sums = grads.sums
    acc_class = AccumulateGrad
    ndarray = np.ndarray
    special = inner or through is not None
    node = None
    try:
        for node in order:
            g = grads.pop(node, None)
            if g is None:
                continue
            f = node._c  # (the node's fields: see node._Fields)
            if sums:
                sums.discard(id(g))
            if not cg:
                if type(g) is not ndarray:
                    g = np.asarray(g._data if isinstance(g, Tensor) else g)
                dt = f._dtype
                if g.dtype is not dt and dt is not None and g.dtype != dt and g.dtype.kind == "f":
                    g = g.astype(dt)
            elif isinstance(g, Tensor):
                g = _graph_cast(node, g)
            if type(node) is acc_class:
                hooks = node.variable._hooks
                if hooks:
                    g = _run_hooks(hooks, g, cg)
                if f._pre_hooks:  # (the AccumulateGrad's own, after the leaf's)
                    g = _run_node_prehooks(f._pre_hooks, g, cg)
                    if g is None:
                        continue
                if capture is not None and node in capture:
                    results[node] = g
                if accumulate and node.variable._rg:  # (a leaf since set not to require
                    _store_grad(node.variable, g, cg)  # grad gets none: PyTorch's AccumulateGrad)
                continue
            if f._pre_hooks or f._retain is not None or special:
                g = _before_node(node, g, cg, capture, through, inner, results)
                if g is None:  # (a node leading to no captured input)
                    continue
            vjp = f._vjp
            if vjp is None or cg:
                _backprop(node, g, cg, grads)
            else:
                outvc = f._outvc
                if f._freed or outvc is not None and outvc[0] != f._outver:
                    _check_saved(node)
                for p, v in f._vers:
                    if f._args[p]._vc[0] != v:
                        _check_saved(node)
                raw = f._raw  # (the arguments' values the forward computed with)
                kw = f._kw
                contribs = vjp(g, f._ans, *raw, **kw) if kw else vjp(g, f._ans, *raw)
                bc = f._rule.broadcast
                for child, e in zip(f._next, f._edges):
                    if child is None:
                        continue
                    if type(e) is int:
                        c = contribs[e]
                        if c is None:
                            continue
                        x = raw[e]
                    else:  # (a rule may answer None for a whole list argument: split_grad's)
                        c = contribs[e[0]]
                        if c is None or c[e[1]] is None:
                            continue
                        c, x = c[e[1]], raw[e[0]][e[1]]
                    if type(c) is not ndarray:
                        c = _numpy_contribution(c, x, bc)
                    elif bc and (type(x) is not ndarray or c.shape != x.shape):
                        c = _sd.unbroadcast(c, x)  # (a bias's: over its leading axes)
                        if type(c) is not ndarray:  # (a 0-d argument's sum: a numpy scalar)
                            c = np.asarray(c)
                    prev = grads.get(child)
                    if prev is None:
                        grads[child] = c
                    elif id(prev) in sums and prev.shape == c.shape and prev.dtype is c.dtype:
                        _add(prev, c, prev)  # (see _accumulate)
                    else:
                        _accumulate(grads, child, prev, c)
            if not retain and f._saves:  # (Node._release, without the call)
                f._freed = True
                f._args = f._raw = f._ans = f._extra = None
    except NotImplementedError as exc:  # a rule with no derivative for these values (abs at a
        raise TapeError(f"in the backward of {node.name()}: {exc}") from None  # complex value)


def _graph_cast(node, g):
    """A gradient recorded on the tape (create_graph) in the dtype of the node's output, or of a
    leaf's, as the engine casts a numpy one: a rule that promotes float32 (einsum's gradient
    through np.ones) gave a float64 gradient with create_graph=True only."""
    dt = node._dtype if type(node) is not AccumulateGrad else node.variable._data.dtype
    have = g._data.dtype
    if dt is None or have == dt or have.kind != "f" or dt.kind != "f":
        return g
    return g.to(dt)


def _before_node(node, g, cg, capture, through, inner, results):
    """What the engine does before a node's backward when it has pre-hooks or retains its
    gradient, or when only some nodes run (grad's inputs): ``g`` after the hooks, or None
    when the node leads to no captured input and is skipped."""
    # PyTorch captures a non-leaf's gradient before its tensor's hooks when its node runs (it
    # leads to another input), after them when it does not: the engine calls the hooks (and
    # retain_grad) once, before the capture when the node will not run
    runs = through is None or node in through
    captured = inner and node in capture
    if captured and runs:
        results[node] = g
    hooks = node._pre_hooks
    if hooks:
        g = _run_hooks(hooks, g, cg)
    r = node._retain
    if r is not None:
        t = r()
        if t is not None:
            _store_grad(t, g, cg, retained=True)
    if captured and not runs:
        results[node] = g
    if hooks:  # (the node's own, after its tensor's hooks and retain_grad, as PyTorch)
        g = _run_node_prehooks(hooks, g, cg)
        if g is None:
            return None
    if through is not None and node not in through:
        return None
    return g


_add = np.add


def _numpy_contribution(c, x, bc):
    """A rule's contribution ``c`` to the argument ``x`` as a numpy array of x's shape (summed
    back over broadcast dimensions when the rule broadcasts)."""
    if bc and not (type(c) is np.ndarray and type(x) is np.ndarray and c.shape == x.shape):
        c = _sd.unbroadcast(c, x)
    if type(c) is not np.ndarray:
        c = np.asarray(c._data if isinstance(c, Tensor) else c)
    return c


def _captures_every_leaf(sinks, capture):
    """Whether ``capture`` holds every leaf's node of the graph (``sinks``: its nodes without
    inputs): then every node leads to a captured one (a node is recorded only with an input
    that requires grad, so each reaches a leaf) and none is skipped, which spares the pass that
    finds the nodes leading to one."""
    acc = AccumulateGrad
    for node in sinks:
        if type(node) is acc and node not in capture:
            return False
    return True


def _backprop(node, g, cg, grads):
    """Run ``node``'s backward function and add its contributions to ``grads``."""
    f = node._c
    contribs = f._bw(node, g, cg)
    if cg and type(node).__name__ in _SECOND_ORDER:
        contribs = _second_order(node, contribs)
    for child, c in zip(f._next, contribs):
        if child is None or c is None:
            continue
        if not cg and type(c) is not np.ndarray:
            c = np.asarray(c._data if isinstance(c, Tensor) else c)
        prev = grads.get(child)
        if prev is None:
            grads[child] = c
        else:
            grads.sums.discard(id(prev))
            grads[child] = prev + c


# the operations whose derivative PyTorch computes with a function of its own (tanh_backward,
# threshold_backward...), differentiable in the gradient and in the operation's input or
# result: with create_graph=True the gradient's node is that function's (its name below), and the
# gradient requires grad whenever the input does, even where its value is piecewise constant in
# the input (relu's mask, leaky_relu's slopes, nll_loss's picked classes): a further derivative
# is then zero, as PyTorch's, not an error
_SECOND_ORDER = {
    "TanhBackward0": "TanhBackwardBackward0", "SigmoidBackward0": "SigmoidBackwardBackward0",
    "ReluBackward0": "ThresholdBackwardBackward0", "EluBackward0": "EluBackwardBackward0",
    "LeakyReluBackward0": "LeakyReluBackwardBackward0", "GeluBackward0": "GeluBackwardBackward0",
    "SoftplusBackward0": "SoftplusBackwardBackward0",
    "SoftmaxBackward0": "SoftmaxBackwardDataBackward0",
    "LogSoftmaxBackward0": "LogSoftmaxBackwardDataBackward0",
    "MseLossBackward0": "MseLossBackwardBackward0",
    "SmoothL1LossBackward0": "SmoothL1LossBackwardBackward0",
    "HuberLossBackward0": "HuberLossBackwardBackward0",
    "NllLossBackward0": "NllLossBackwardBackward0",
    "BinaryCrossEntropyBackward0": "BinaryCrossEntropyBackwardBackward0",
}


def _second_order(node, contribs):
    """``node``'s contributions (create_graph) each under a node named as PyTorch's derivative
    function (``_SECOND_ORDER``): its edges are the contribution's own node and, with a zero
    derivative, the inputs of ``node`` that require grad (those the derivative function reads)."""
    args = node._args or ()
    live = [a for a in args if isinstance(a, Tensor) and a._rg]
    if not (live and _state.enabled):
        return contribs
    name = _SECOND_ORDER[type(node).__name__]
    return [None if c is None else _under_node(name, c, live) for c in contribs]


def _under_node(name, c, live):
    c = c if isinstance(c, Tensor) else _wrap(np.asarray(c))
    own = c._rg
    nf = (((c.grad_fn or c._acc_node(), 0),) if own else ()) + tuple(
        (a.grad_fn or a._acc_node(), 0) for a in live)
    shapes = [(a._data.shape, a._data.dtype) for a in live]

    def bw(n, gg, cg):
        zeros = [np.zeros(shape, dtype) for shape, dtype in shapes]
        if cg:
            zeros = [_wrap(z) for z in zeros]
        return ([gg] if own else []) + zeros

    out = _wrap(c._data)
    out._rg = True
    out.grad_fn = _make_node(name, nf, bw, c._data.dtype)
    return out


def _accumulate(grads, child, prev, c):
    """Add the numpy contribution ``c`` to ``child``'s gradient ``prev`` in ``grads``: in place
    into a sum this pass made itself (an array nothing else holds), else into a new array."""
    if id(prev) in grads.sums and prev.shape == c.shape and prev.dtype is c.dtype:
        np.add(prev, c, out=prev)
    else:
        grads.sums.discard(id(prev))
        total = grads[child] = prev + c
        if type(total) is np.ndarray:
            grads.sums.add(id(total))


class _Grads(dict):
    """node -> its gradient so far; ``sums``: ids of the arrays the engine made by adding
    contributions (safe to add into in place until the node runs)."""

    __slots__ = ("sums",)

    def __init__(self):
        super().__init__()
        self.sums = set()


def _root_grad(t, g, i, cg):
    if g is None:
        if t._data.size != 1:
            raise TapeError(_MSG_SCALAR)
        g = np.ones(t._data.shape, dtype=t._data.dtype)
    elif isinstance(g, Tensor):
        if g._data.shape != t._data.shape:
            raise TapeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {Size(g._data.shape)!r} and "
                f"output[{i}] has a shape of {Size(t._data.shape)!r}.")
        if cg and g._rg:
            return g
        g = g._data.astype(t._data.dtype, copy=False)
    elif isinstance(g, np.ndarray):
        g = np.asarray(g, dtype=t._data.dtype)
    else:
        raise TapeTypeError(f"'{type(g).__name__}' object is not iterable")
    return _wrap(g) if cg else g


def _as_list(x):
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of ``tensors`` into the leaves' ``.grad`` (``torch.autograd.backward``).

    Example::

        T.backward([(x * 2).sum(), (x * 3).sum()])     # x.grad == 5
    """
    tensors = _as_list(tensors)
    grad_tensors = [None] * len(tensors) if grad_tensors is None else _as_list(grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    roots = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not t._rg:
            raise TapeError(_MSG_NO_GRAD.format(i))
        roots.append((t.grad_fn or t._acc_node(), _root_grad(t, g, i, create_graph)))
    if create_graph:
        warnings.warn(_MSG_CREATE_GRAPH_BACKWARD, UserWarning, stacklevel=3)
    if inputs is None:
        _engine(roots, retain_graph, create_graph)
        return
    inputs = _as_list(inputs)
    if not all(x._rg for x in inputs):  # (a leaf set not to require grad after use too)
        raise TapeError("can't retain_grad on Tensor that has requires_grad=False")
    for x in inputs:  # (PyTorch's: a non-leaf input retains its grad, from now on; its .grad
        if x.grad_fn is not None:  # is then the one after its hooks, added once)
            x.retain_grad()
    cap = {(x.grad_fn or x._acc_node()): x for x in inputs}
    res = _engine(roots, retain_graph, create_graph, capture=cap, accumulate=False)
    for node, x in cap.items():
        if node in res and x.grad_fn is None:
            _store_grad(x, res[node], create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs`` as a tuple (``torch.autograd.grad``);
    ``.grad`` fields are not touched. With ``create_graph=True`` the result is itself on the tape.

    Example::

        x = T.tensor(2.0, requires_grad=True)
        (g1,) = T.grad(x ** 3, x, create_graph=True)    # tensor(12., grad_fn=<...>)
        (g2,) = T.grad(g1, x)                            # tensor(12.)
    """
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    gos = [None] * len(outputs) if grad_outputs is None else _as_list(grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    return tuple(_grad_impl(outputs, gos, inputs, retain_graph, create_graph, allow_unused))


def _grad_impl(outputs, gos, inputs, retain_graph, create_graph, allow_unused, raw=False):
    roots = []
    for i, (t, g) in enumerate(zip(outputs, gos)):
        if not t._rg:
            raise TapeError(_MSG_NO_GRAD.format(i))
        if raw:
            roots.append((t.grad_fn or t._acc_node(), g))
        else:
            roots.append((t.grad_fn or t._acc_node(), _root_grad(t, g, i, create_graph)))
    cap = {}
    nodes = []
    for x in inputs:
        if x._base is None:  # (not a view: the slots, without the properties)
            if not x._rgv:
                raise TapeError("One of the differentiated Tensors does not require grad")
            node = x._gf or x._acc_node()
        else:
            if not x._rg:
                raise TapeError("One of the differentiated Tensors does not require grad")
            node = x.grad_fn or x._acc_node()
        cap[node] = x
        nodes.append(node)
    res = _engine(roots, retain_graph, create_graph, capture=cap, accumulate=False)
    out = []
    for i, (x, node) in enumerate(zip(inputs, nodes)):
        g = res.get(node)
        if g is None:
            if not allow_unused:
                raise TapeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior.")
            out.append(None)
            continue
        if raw:
            out.append(g)
            continue
        if isinstance(g, Tensor):
            if g._data.shape != x._data.shape:
                g = g + _wrap(np.zeros(x._data.shape, x._data.dtype))
            out.append(g)
        else:
            if g.shape != x._data.shape:
                g = np.broadcast_to(_sd.unbroadcast(g, x._data), x._data.shape)
            out.append(_wrap(np.array(_real_for(g, x), dtype=x._data.dtype)))
    return out


class _Autograd:
    """``T.autograd.grad`` / ``T.autograd.backward`` spelled like ``torch.autograd``."""

    grad = staticmethod(grad)
    backward = staticmethod(backward)


autograd = _Autograd()
