"""Review 83: PyTorch programs run in torch 2.13 and in the tape from the same starting values;
every leaf's .grad (and the values) must agree. Each check is against live torch, skipped when
torch is absent."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sourcediff import tape as T  # noqa: E402

rng = np.random.default_rng(83)


def _both(program, *arrays):
    """``program(lib, *leaves)`` run with torch and with the tape on float64 leaves made from
    ``arrays``; returns [(outputs, leaf grads)] for torch and for the tape as numpy arrays."""
    runs = []
    for lib in (torch, T):
        leaves = [lib.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
        out = program(lib, *leaves)
        outs = [np.array(o.detach().numpy()) for o in (out if isinstance(out, tuple) else (out,))]
        grads = [None if x.grad is None else np.array(x.grad.numpy()) for x in leaves]
        runs.append((outs, grads))
    return runs


def _same(runs):
    (outs_t, grads_t), (outs_s, grads_s) = runs
    for a, b in zip(outs_t, outs_s):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads_t, grads_s):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.shape == b.shape
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------- index assignment through a view

def _assign_into_row(lib, x, s):
    z = x * 1
    z[0][1:] = s * s  # (z[0] is a view; its [1:] is written)
    (z * z).sum().backward()
    return z


def _scale_part_of_flat_view(lib, x, w):
    z = x.exp().clone()  # (exp saves its result: writing into it would be refused)
    f = z.view(-1)
    f[2:4] *= w  # (f.__getitem__, __imul__, then f.__setitem__ with the (2,) result)
    z.log().sum().backward()
    return z


def _assign_column_of_transpose(lib, x, s):
    z = x * 2
    z.t()[1] = s.sin()  # (a row of z.t() is a column of z)
    (z * x).sum().backward()
    return z


@pytest.mark.parametrize("program, shapes", [
    (_assign_into_row, [(2, 3), (2,)]),
    (_scale_part_of_flat_view, [(2, 3), ()]),
    (_assign_column_of_transpose, [(2, 3), (2,)]),
])
def test_index_assignment_into_a_view_matches_torch(program, shapes):
    """``v[index] = value`` where ``v`` is a view of a tensor that requires grad: the value
    has the shape of ``v[index]``, not of ``v``; the tape refused it as an in-place op whose
    operand does not broadcast to ``v`` (a TapeError for z[0][1:] = s)."""
    arrays = [rng.standard_normal(s) + 2.0 for s in shapes]
    _same(_both(program, *arrays))


# ------------------------------------------- axis= and keepdims= are PyTorch's dim= and keepdim=

_REDUCTIONS = {  # PyTorch 2.13 takes axis=/keepdims= as other names of dim=/keepdim=
    "std_axis": lambda x: x.std(axis=0),
    "var_axis_keepdims": lambda x: x.var(axis=1, keepdims=True),
    "std_dim_keepdims": lambda x: x.std(0, keepdims=True),
    "var_axis_keepdim": lambda x: x.var(axis=-1, keepdim=True),
    "std_axis_unbiased_false": lambda x: x.std(axis=0, unbiased=False),
    "var_axis_correction": lambda x: x.var(axis=1, correction=2),
    "max_axis_values": lambda x: x.max(axis=1).values,
    "min_axis_keepdims_values": lambda x: x.min(axis=0, keepdims=True)[0],
}


@pytest.mark.parametrize("name", sorted(_REDUCTIONS))
def test_numpy_named_dims_mean_what_torch_means(name):
    """``x.std(axis=0)`` divided by n where PyTorch (and the tape's ``x.std(dim=0)``) divide by
    n - 1, and ``x.max(axis=1)`` gave the values alone, so ``v, i = x.max(axis=1)`` unpacked
    two rows of values without a word. Outside grad_of the tape's Tensor is PyTorch's."""
    f = _REDUCTIONS[name]

    def program(lib, x):
        y = f(x)
        (y * y.detach().cos() + y).sum().backward()
        return y

    _same(_both(program, rng.standard_normal((3, 4))))


def test_max_over_axis_unpacks_like_torch():
    runs = []
    for lib in (torch, T):
        x = lib.tensor([[1.0, 7.0, 3.0], [4.0, 2.0, 6.0]], requires_grad=True)
        v, i = x.max(axis=1)
        (v * lib.tensor([1.0, 10.0])).sum().backward()
        runs.append((v.detach().numpy().tolist(), i.numpy().tolist(), x.grad.numpy().tolist()))
    assert runs[1] == runs[0]


def test_grad_of_keeps_numpy_meaning_of_axis():
    """Inside grad_of (a numpy program) ``a.std(axis=0)`` and ``a.var(0)`` stay numpy's (biased)
    and ``a.max(axis=1)`` numpy's values; numpy's own functions too, outside grad_of."""
    from tests.oracles import check_grads_fd

    def f(a):
        return (a.std(axis=0).sum() + a.var(0).sum() + a.max(axis=1).sum()
                + np.std(a, axis=1).sum())

    a = rng.standard_normal((3, 4))
    check_grads_fd(f, (a,), (0,), (T.grad_of(f, (a,)),))
    np.testing.assert_allclose(np.std(T.tensor(a), axis=1).numpy(), np.std(a, axis=1),
                               rtol=1e-12)


# ------------------------------------------------- .grad of a retain_grad() tensor accumulates

def test_retained_grad_accumulates_into_a_new_tensor_like_torch():
    """A second backward adds into a non-leaf's .grad out of place in PyTorch (its retain_grad
    hook does grad = grad + new), so the .grad kept from the first backward keeps its values;
    the tape added in place, and the kept tensor changed to the sum. A leaf's .grad is added
    into in place in both."""
    runs = []
    for lib in (torch, T):
        x = lib.tensor([1.0, 2.0, -0.5], dtype=lib.float64, requires_grad=True)
        h = x * x
        h.retain_grad()
        h.sin().sum().backward(retain_graph=True)
        kept_h, kept_x = h.grad, x.grad
        (h * 3).sum().backward()
        runs.append([np.array(t.numpy()) for t in (kept_h, h.grad, kept_x, x.grad)])
        assert (kept_x is x.grad) and (kept_h is not h.grad)
    for a, b in zip(*runs):
        np.testing.assert_allclose(b, a, rtol=1e-12)


# ------------------------------------------ a leaf set not to require grad after it was used

def _unflagged_after_use(lib, x, w):
    y = x * x * w
    x.requires_grad_(False)  # (y's graph still holds x's AccumulateGrad)
    (y * x).sum().backward()
    return y


def _unflagged_and_flagged_again(lib, x, w):
    y = (x * w).sin()
    x.requires_grad = False
    x.requires_grad = True
    y.sum().backward()
    return y


@pytest.mark.parametrize("program", [_unflagged_after_use, _unflagged_and_flagged_again])
def test_leaf_unflagged_after_use_gets_no_grad_like_torch(program):
    """PyTorch's AccumulateGrad stores nothing into a leaf that no longer requires grad when
    the backward reaches it (x.grad stays None); the tape stored 2 x w there."""
    _same(_both(program, rng.standard_normal(3), rng.standard_normal(3)))


def test_backward_inputs_that_do_not_require_grad_are_refused_like_torch():
    for lib, error in ((torch, RuntimeError), (T, T.TapeError)):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        x.requires_grad_(False)
        with pytest.raises(error, match="can't retain_grad on Tensor that has requires_grad"):
            y.backward(inputs=[x])
        assert x.grad is None


# --------------------------------------------- in-place into integers with a floating result

_INT_INPLACE = {
    "add_float_tensor": lambda lib, i: i.add_(lib.tensor([0.5, 1.5])),
    "add_double_tensor": lambda lib, i: i.add_(lib.tensor([0.5, 1.5], dtype=lib.float64)),
    "mul_python_float": lambda lib, i: i.mul_(1.5),
    "iadd_leaf": lambda lib, i: i.__iadd__(lib.tensor([0.5, 1.5], requires_grad=True)),
    "true_division": lambda lib, i: i.div_(2),
    "bool_add_int": lambda lib, i: (i > 1).add_(1),
}


@pytest.mark.parametrize("name", sorted(_INT_INPLACE))
def test_inplace_into_integers_refused_like_torch(name):
    """``i.add_(x)`` with i int64 and a floating result: PyTorch refuses (result type Float
    can't be cast to Long); the tape let numpy's TypeError out (no sourcediff exception).
    Integer operands still work in place, as in torch."""
    messages = []
    for lib, error in ((torch, RuntimeError), (T, T.TapeError)):
        i = lib.tensor([1, 2])
        with pytest.raises(error) as info:
            _INT_INPLACE[name](lib, i)
        messages.append(str(info.value))
        assert i.tolist() == [1, 2]
        assert i.add_(3).mul_(2).tolist() == [8, 10]
    assert messages[1] == messages[0]


# ------------------------------------------------ backward(inputs=[h]) with h not a leaf

def _inputs_twice(lib, x):
    h = x * 2
    y = (h * h).sum()
    y.backward(inputs=[h], retain_graph=True)
    kept = h.grad
    y.backward(inputs=[h])
    return kept, h.grad


def _inputs_and_retain_grad(lib, x):
    h = x * 2
    h.retain_grad()
    y = (h * h * x).sum()
    y.backward(inputs=[h], retain_graph=True)
    first = h.grad.clone()
    y.backward()
    return first, h.grad


def _inputs_after_hook(lib, x):
    h = x.sin()
    h.register_hook(lambda g: g * 10)
    (h * h).sum().backward(inputs=[h])
    return h.grad


def _inputs_then_plain_backward(lib, x):
    h = x * 2
    (h * h).sum().backward(inputs=[h], retain_graph=True)  # (h retains its grad from here on)
    (h * 3).sum().backward()
    return h.grad


@pytest.mark.parametrize("program", [_inputs_twice, _inputs_and_retain_grad, _inputs_after_hook,
                                     _inputs_then_plain_backward])
def test_backward_inputs_nonleaf_is_retain_grad_like_torch(program):
    """PyTorch's backward(inputs=[h]) with h not a leaf calls h.retain_grad(): h.grad is the
    gradient after h's hooks, a later backward adds to it out of place, and a retain_grad()
    of the user's own does not add it twice. The tape stored the gradient before the hooks
    (4 for 40), in place, and twice with retain_grad() (h.grad 8 for 4)."""
    _same(_both(program, rng.standard_normal(3)))


# ----------------------------------- autograd.grad of a non-leaf whose node does not run

@pytest.mark.parametrize("inputs", ["y", "y_x", "x_y"])
def test_captured_non_leaf_sees_its_hooks_when_its_node_does_not_run(inputs):
    """PyTorch's engine calls a tensor's hooks once: before capturing its gradient when its
    node does not run (autograd.grad(z, [y]) gives the hooked 40), after capturing when the
    node runs on to another input (autograd.grad(z, [y, x]) gives 4 for y). The tape
    captured before the hooks in both."""
    a = rng.standard_normal(2)
    got = []
    for lib in (torch, T):
        x = lib.tensor(a, requires_grad=True)
        y = x * 2
        y.register_hook(lambda g: g * 10)
        z = (y * y.sin()).sum()
        chosen = {"y": [y], "y_x": [y, x], "x_y": [x, y]}[inputs]
        got.append([np.array(g.numpy()) for g in lib.autograd.grad(z, chosen)])
    for s, t in zip(got[1], got[0]):
        np.testing.assert_allclose(s, t, rtol=1e-12)
