"""numpy calls on tape Tensors: reduction keywords, results of several shapes.

``np.sum(t, keepdims=True)`` (and ``dtype=``, ``where=``, ``initial=``) summed over axis 0 only: the
tape's fast path for np.sum called ``np.add.reduce``, whose default axis is 0, not every axis. The
value was [[3, 5, 7]] for [[15]] and the gradient followed it. Keywords a rule has no argument for
(``where=``, ``initial=``) are refused when the call is recorded, not by a TypeError in backward().
"""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.tape import grad_of, tensor

X = np.arange(6.0).reshape(2, 3) / 5.0 - 0.4
MASK = np.array([[True, False, True], [False, True, True]])


@pytest.mark.parametrize("kw", [{"keepdims": True}, {"dtype": np.float64}, {"axis": None},
                                {"axis": 1, "keepdims": True}, {}])
def test_np_sum_keywords_give_numpy_values_and_gradients(kw):
    t = tensor(X.copy(), requires_grad=True)
    out = np.sum(t * t, **kw)
    np.testing.assert_allclose(out.detach().numpy(), np.sum(X * X, **kw))
    (out.sum() * 1.5).backward()  # (every entry counted once: the gradient is 3 x)
    np.testing.assert_allclose(t.grad.numpy(), 3.0 * X)


def keepdims_loss(x):
    return np.sum(np.sum(x * x, keepdims=True) * x)


def test_grad_of_a_numpy_program_with_keepdims_matches_source_mode():
    np.testing.assert_allclose(grad_of(keepdims_loss, (X.copy(),)), sd.grad(keepdims_loss)(X.copy()))


@pytest.mark.parametrize("fn, kw", [(np.sum, {"where": MASK}), (np.sum, {"initial": 3.0}),
                                    (np.mean, {"where": MASK}), (np.prod, {"where": MASK}),
                                    (np.max, {"initial": 9.0}), (np.add, {"where": MASK})])
def test_keywords_without_a_rule_argument_are_refused_when_recorded(fn, kw):
    t = tensor(X.copy(), requires_grad=True)
    args = (t, 1.0) if fn is np.add else (t,)
    with pytest.raises(sd.SourcediffError, match=f"has no '{next(iter(kw))}' argument"):
        fn(*args, **kw)


def split_loss(x):
    a, b = np.split(x, [1], axis=1)
    return np.sum(a) + np.sum(b ** 2)


def test_np_split_into_parts_of_different_shapes():
    # numpy returns a list: the tape took only tuples for results of several shapes (ValueError)
    np.testing.assert_allclose(grad_of(split_loss, (X.copy(),)), sd.grad(split_loss)(X.copy()))


def mean_of_squares(x):
    return np.sum(x ** 2) / x.size


def test_size_is_numpys_number_of_elements_and_pytorchs_method():
    # numpy code reads a.size as an int; it was the tape's method (TypeError in grad_of)
    x = np.arange(1.0, 7.0).reshape(2, 3)
    np.testing.assert_allclose(grad_of(mean_of_squares, (x,)), sd.grad(mean_of_squares)(x))
    t = tensor(x, requires_grad=True)
    assert t.size == 6 and t.size * 2 == 12
    assert t.size() == (2, 3) and repr(t.size()) == "torch.Size([2, 3])" and t.size(1) == 3


def rounds_and_fills(x):
    y = x * 1.0
    y.fill(2.0)
    q, r = divmod(x, 1.1)
    return np.sum(round(x[0]) * x) + np.sum(r * x) + np.sum(y * x) + \
        np.sum(x.round(1) * x) + np.sum(x.astype(int, copy=False) * x)


def test_numpy_spellings_of_round_fill_divmod_and_astype_run_on_the_tape():
    # round(t), t.round(1), t.fill(v), divmod(t, c) and astype(..., copy=False) raised TypeError
    # or AttributeError under grad_of (source mode refuses y.fill on a value that carries a
    # derivative: finite differences are the oracle here)
    from tests.oracles import check_grads_fd

    x = np.array([0.7, 1.6, 2.3])
    check_grads_fd(rounds_and_fills, (x,), (0,), (grad_of(rounds_and_fills, (x,)),))


def test_floor_division_by_a_tensor_is_refused_as_pytorch_refuses_it():
    t = tensor(np.array([0.7, 1.6]), requires_grad=True)
    with pytest.raises(sd.SourcediffError, match="floor_divide"):
        (2.0 // t).sum().backward()
