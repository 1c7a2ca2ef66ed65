"""Review 64: the tape's nodes keep their fields in one object of a single class (node._c), and
two grad_fn names follow PyTorch 2.13 (fill_ with a number, a whole slice alone as the index).
Each check is against torch, skipped when torch is absent."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sourcediff import tape as T  # noqa: E402

rng = np.random.default_rng(64)


def _name(t):
    return None if t.grad_fn is None else type(t.grad_fn).__name__


def _pair(shape):
    a = rng.standard_normal(shape)
    return (torch.tensor(a, dtype=torch.float64, requires_grad=True),
            T.tensor(a.copy(), requires_grad=True))


@pytest.mark.parametrize("index", [
    slice(None), slice(0, 2), slice(None, None, 1), (slice(None), slice(None)),
    (slice(None), slice(0, 3)), (slice(0, 2), slice(1, None)), slice(1, None)])
def test_slice_names_and_gradients_through_an_inplace_write(index):
    """x[:] alone is PyTorch's SliceBackward0 (the tape said AliasBackward0); x[:, :] stays
    AliasBackward0. A write into the view reaches the base's gradient as in PyTorch."""
    xt, xs = _pair((2, 3))
    names, grads = [], []
    for x in (xt, xs):
        y = x * 1.0
        v = y[index]
        names.append(_name(v))
        v.mul_(3.0)
        (y * y).sum().backward()
        grads.append(np.asarray(x.grad.detach().numpy()))
    assert names[1] == names[0]
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)


@pytest.mark.parametrize("value", [2.5, "tensor"])
def test_fill_names_and_gradients(value):
    """fill_ with a number is FillBackward2 in PyTorch 2.13 (the tape said FillBackward0); with a
    0-d Tensor FillBackward3, whose value gets the summed gradient."""
    xt, xs = _pair((2, 3))
    vt = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    vs = T.tensor(1.5, requires_grad=True)
    out = []
    for x, v in ((xt, vt), (xs, vs)):
        y = x * 2.0
        y.fill_(value if value != "tensor" else v)
        w = torch.arange(6.0, dtype=torch.float64) if x is xt else T.arange(6.0, dtype=T.float64)
        (y * w.reshape(2, 3) + x).sum().backward()
        out.append((_name(y), x.grad.detach().numpy().copy(),
                    None if v.grad is None else float(v.grad)))
    assert out[1][0] == out[0][0]
    np.testing.assert_allclose(out[1][1], out[0][1], rtol=1e-12)
    assert out[1][2] == out[0][2]


def _rnn(lib, xs, h, Wx, Wh, b, Wo):
    for t in range(xs.shape[0]):
        h = lib.tanh(xs[t] @ Wx + h @ Wh + b)
    return ((h @ Wo) ** 2).sum()


def test_nodes_of_many_classes_interleaved_against_torch():
    """A graph whose nodes alternate between classes (W5's recurrence: Mm, Add, Tanh...): the
    gradients, the names and the next_functions structure are PyTorch's, a hook registered on a
    node runs, and a second backward without retain_graph is refused as in PyTorch. (The node's
    fields moved into node._c: a field left unwritten or read from the wrong object would
    break one of these.)"""
    data = [rng.standard_normal(s) for s in ((5, 4, 3), (4, 6), (3, 6), (6, 6), (6,), (6, 1))]
    res = {}
    for lib, mk in ((torch, lambda a, g: torch.tensor(a, dtype=torch.float64, requires_grad=g)),
                    (T, lambda a, g: T.tensor(a, requires_grad=g))):
        xs, h0 = mk(data[0], False), mk(data[1], True)
        params = [mk(a, True) for a in data[2:]]
        loss = _rnn(lib, xs, h0, *params)
        seen = []  # (a node's prehook gets the tuple of gradients, in both)
        loss.grad_fn.next_functions[0][0].register_prehook(
            lambda g: seen.append(g[0].detach().numpy().copy()))
        chain, node = [], loss.grad_fn
        while node is not None and len(chain) < 12:
            chain.append(type(node).__name__)
            node = next((n for n, _ in node.next_functions if n is not None), None)
        grads = lib.autograd.grad(loss, [h0] + params, retain_graph=True)
        res[lib.__name__] = (chain, [g.detach().numpy().copy() for g in grads], list(seen))
        loss.backward()
        with pytest.raises(Exception, match="a second time"):
            loss.backward()
    (ct, gt, st), (cs, gs, ss) = res["torch"], res[T.__name__]
    assert cs == ct
    assert len(ss) == len(st) == 1
    np.testing.assert_allclose(ss[0], st[0], rtol=1e-12)
    for a, b in zip(gs, gt):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_node_fields_are_one_class_and_read_through_the_node():
    """The fields object of every recorded node is of one class (what lets Python specialize the
    engine's accesses), and the node's own names read the same values."""
    x = T.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    y = T.tanh(x @ x + x) * 2.0
    nodes, stack = [], [y.grad_fn]
    while stack:
        n = stack.pop()
        nodes.append(n)
        stack.extend(c for c, _ in n.next_functions if c is not None and c not in nodes)
    assert len({type(n).__name__ for n in nodes}) >= 4
    assert len({type(n._c) for n in nodes}) == 1
    for n in nodes:
        assert n._next is n._c._next and n._seq == n._c._seq


@pytest.mark.parametrize("case", ["view", "plain", "no_grad", "mismatch"])
def test_inplace_op_that_would_grow_the_target_is_refused_as_in_torch(case):
    """z.add_(x) with z of shape (1, 3) and x of (2, 3): PyTorch refuses with its message; the
    tape let numpy's ValueError out of the write (no sourcediff exception, no word of the op)."""
    from sourcediff.errors import SourcediffError

    def run(lib, x):
        other = lib.ones(4, dtype=lib.float64) if case == "mismatch" else x * 1.0
        if case == "view":
            target = (x * 1.0)[0:1]
        elif case == "no_grad":
            target = lib.ones(1, 3, dtype=lib.float64)
            other = other.detach()
        else:
            target = (x * 1.0)[0:1].clone()
        target.mul_(other)

    xt, xs = _pair((2, 3))
    with pytest.raises(RuntimeError) as torch_err:
        run(torch, xt)
    with pytest.raises(SourcediffError) as tape_err:
        run(T, xs)
    assert isinstance(tape_err.value, RuntimeError)
    if case != "mismatch":
        assert str(tape_err.value) == str(torch_err.value)


def test_inplace_op_broadcasting_its_operand_still_matches_torch():
    """The shapes the check lets through: an operand that broadcasts to the target's shape."""
    xt, xs = _pair((2, 3))
    bt, bs = _pair((1, 3))
    for x, b in ((xt, bt), (xs, bs)):
        y = x * 1.0
        y.mul_(b)
        y[0:1].add_(b * b)
        (y * y).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bs.grad.numpy(), bt.grad.numpy(), rtol=1e-12)
