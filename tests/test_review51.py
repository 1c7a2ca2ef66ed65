"""The speed work on W2, W3 and W5 of benchmarks/run.py: the entry's key for a call that mixes
floats and arrays, and the specializer's rewrites. Each test fails if a shortcut finds the wrong
specialization or changes a gradient where it must not apply."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.specialize import facts

try:
    from .oracles import check_grads_fd
except ImportError:  # tests/ collected without being a package
    from oracles import check_grads_fd

rng = np.random.default_rng(51)


def _cubic(a, b, c, d, x, y):
    return np.sum((a + b * x + c * x**2 + d * x**3 - y) ** 2)


class _Sub(np.ndarray):
    """An ndarray subclass the entry does not refuse: its key is its type."""


def test_a_call_mixing_floats_and_arrays_finds_its_specialization_by_the_entrys_display():
    """The entry's one-display key for a call with floats among the arrays must be
    facts.signature's key, or every such call would build its specialization again; kinds the
    display does not decide (a dict, an ndarray subclass, another float type) must each get their
    own specialization, never the float's."""
    df = sd.grad(_cubic, wrt=(0, 1, 2, 3))
    spec = df.__sourcediff_specializations__
    x, y = rng.standard_normal(50), rng.standard_normal(50)
    calls = [(0.1, -0.4, 0.7, 1.1, x, y),
             (0.1, -0.4, np.float64(0.7), 1.1, x, y),
             (0.1, -0.4, 0.7, 1.1, x.astype(np.float32), y),
             (0.1, -0.4, 0.7, 1.1, x.view(_Sub), y)]
    for args in calls:
        before = spec.misses
        first = df(*args)
        for _ in range(3):
            again = df(*args)
            assert all(np.array_equal(u, v) for u, v in zip(first, again))
        assert spec.misses == before + 1, args
        assert facts.signature(args) in spec.table
        with_generic = spec.generic(*args)
        assert all(np.allclose(u, v, rtol=1e-12, atol=0) for u, v in zip(again, with_generic))
        assert [type(g) for g in again] == [type(g) for g in with_generic]
    assert len(spec.table) == len(calls)
    check_grads_fd(_cubic, calls[0], (0, 1, 2, 3), df(*calls[0]))


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_a_matrix_in_a_float_position_is_refused_after_floats_were_cached():
    """The entry's display finds no entry for an np.matrix (its key is its type), and the loop
    after it refuses it: a cached float signature must not let it through."""
    def f(a, x):
        return np.sum(a * x)

    df = sd.grad(f, wrt=0)
    x = rng.standard_normal((2, 2))
    df(1.5, x)
    with pytest.raises(sd.SourcediffError, match="matrix"):
        df(1.5, np.matrix(x))
