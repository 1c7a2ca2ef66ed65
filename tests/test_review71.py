"""Review 71: numpy called the way programs call it (keyword forms, edge arguments, the
function forms of operators), each gradient checked against finite differences in reverse and
forward mode.

np.matmul is a ufunc, but a generalized one (signature ``(n?,k),(k,m?)->(n?,m?)``): the
specializer took its result's shape as the broadcast of its operands' shapes, as for an
elementwise ufunc, so ``np.matmul(x, v)`` with x (4, 4) and v (4,) was seeded with a (4, 4)
cotangent and gave a wrong gradient silently (``x @ v`` was right)."""

import numpy as np
import pytest

try:
    import torch
except ImportError:  # (the tape's refusal is checked without it)
    torch = None

import sourcediff as sd
from sourcediff import tape as T
from sourcediff.errors import SourcediffError
from sourcediff.rules import registry
from tests.oracles import check_grads_fd

rng = np.random.default_rng(71)
SQ = rng.normal(size=(4, 4))
V4 = rng.normal(size=4)
B3 = rng.normal(size=(2, 4, 4))


def matmul_matrix_vector(x, v):
    return np.sum(np.matmul(x, v) * np.arange(4.0))


def matmul_vector_matrix(x, v):
    return np.sum(np.matmul(v, x) ** 2)


def matmul_batch_vector(x, v):
    return np.sum(np.tanh(np.matmul(x, v)))


def matmul_vector_vector(x, v):
    return np.matmul(x[0], v) * 3.0


CASES = [
    (matmul_matrix_vector, (SQ, V4)),
    (matmul_vector_matrix, (SQ, V4)),
    (matmul_batch_vector, (B3, V4)),
    (matmul_vector_vector, (SQ, V4)),
]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn,args", CASES, ids=[c[0].__name__ for c in CASES])
def test_against_finite_differences(fn, args, mode):
    """Each case's gradient with respect to both arguments, twice (the second call runs the
    code specialized for the arguments' shapes)."""
    df = sd.grad(fn, wrt=(0, 1), mode=mode)
    for _ in range(2):
        check_grads_fd(fn, args, (0, 1), df(*args))


def test_generalized_ufuncs_are_not_elementwise():
    """The registry's default facts for a ufunc say it works entry by entry (which the row
    blocking of the specializer relies on); a generalized ufunc works on whole rows."""
    assert registry.facts(np.add).rowwise == "elementwise"
    assert registry.facts(np.matmul).rowwise != "elementwise"
    if hasattr(np, "vecdot"):  # (numpy 2.0 and later)
        assert registry.facts(np.vecdot).rowwise != "elementwise"


def test_tape_repeat_with_fewer_sizes_than_dimensions_is_refused():
    """``x.repeat(2)`` on a 2-D tape Tensor (numpy's code for repeating each entry) tiled the
    rows instead, a (6, 4) value whose gradient summed over the wrong entries; PyTorch refuses
    fewer repeat sizes than dimensions, and so does the tape now, with PyTorch's message. Sizes
    for every dimension still tile as PyTorch's repeat does (its values and gradient checked
    against torch when installed, else against np.tile's)."""
    x = T.tensor(SQ[:3].copy(), requires_grad=True)
    with pytest.raises(SourcediffError, match="can not be smaller than number of dimensions"):
        x.repeat(2)
    w = np.arange(48.0).reshape(2, 3, 8)
    y = x.repeat(2, 1, 2)
    np.testing.assert_array_equal(y.detach().numpy(), np.tile(SQ[:3], (2, 1, 2)))
    (y * T.tensor(w)).sum().backward()
    expect = w.reshape(2, 3, 2, 4).sum(axis=(0, 2))
    np.testing.assert_allclose(x.grad.numpy(), expect)
    if torch is None:
        return
    with pytest.raises(RuntimeError, match="can not be smaller than number of dimensions"):
        torch.tensor(SQ[:3]).repeat(2)


@pytest.mark.parametrize("call", [
    lambda t, w: np.sum(t ** 2, 0, None, w[0]),
    lambda t, w: np.cumsum(t, 1, None, w),
    lambda t, w: np.clip(t, -0.5, 0.5, w),
    lambda t, w: np.dot(t, np.ones(4), w[:, 0]),
], ids=["sum", "cumsum", "clip", "dot"])
def test_tape_refuses_out_given_by_position(call):
    """numpy writes a result into ``out`` given by position as it does into ``out=``: an array
    the tape does not see, so a loss read from it had no gradient through it (a loss adding it to
    another term got that term's gradient only). The tape refused out= and let the positional
    out through; it refuses both now."""
    t = T.tensor(SQ[:3].copy(), requires_grad=True)
    w = np.zeros((3, 4))
    with pytest.raises(SourcediffError, match=r"out=\.\.\.\) is not supported on tape"):
        call(t, w)


def test_tape_einsum_operands_are_not_out():
    """np.einsum takes ``out`` after ``*operands``: by keyword only, so its second operand is no
    out argument (the gradient checked against finite differences)."""
    t = T.tensor(SQ.copy(), requires_grad=True)
    (np.einsum("ij,kj->ik", t, t) * np.arange(4.0)).sum().backward()

    def loss(x):
        return np.sum(np.einsum("ij,kj->ik", x, x) * np.arange(4.0))

    check_grads_fd(loss, (SQ,), (0,), (t.grad.numpy(),))
