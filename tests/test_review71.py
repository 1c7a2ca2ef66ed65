"""Review 71: numpy called the way programs call it (keyword forms, edge arguments, the
function forms of operators), each gradient checked against finite differences in reverse and
forward mode.

np.matmul is a ufunc, but a generalized one (signature ``(n?,k),(k,m?)->(n?,m?)``): the
specializer took its result's shape as the broadcast of its operands' shapes, as for an
elementwise ufunc, so ``np.matmul(x, v)`` with x (4, 4) and v (4,) was seeded with a (4, 4)
cotangent and gave a wrong gradient silently (``x @ v`` was right)."""

import numpy as np
import pytest

import sourcediff as sd
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
    assert registry.facts(np.vecdot).rowwise != "elementwise"
