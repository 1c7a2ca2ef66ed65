"""Review of the specializer's small powers: a square of booleans stays a power (its product is
another dtype), and a cube or fourth power whose value only the gradients read is written as
products (numpy's pow is the whole cost of W2's forward), where a value the user sees keeps the
power's bits."""

import numpy as np

import sourcediff as sd

from .oracles import check_grads_fd


def doubled_square(x, m):
    q = m ** 2
    return np.sum(x * (q + q))


def test_a_square_of_booleans_stays_a_power():
    # m ** 2 is an int8 array and m * m a boolean one: q + q was True (1) where it is 2
    x = np.random.default_rng(0).normal(size=5)
    m = np.array([True, False, True, True, False])
    df = sd.grad(doubled_square)
    g = df(x, m)
    assert "q = m * m" not in sd.source(df, x, m)
    np.testing.assert_array_equal(g, df.__sourcediff_specializations__.generic(x, m))
    check_grads_fd(doubled_square, (x, m), (0,), (g,))
