"""Specialized gradients against the generic code and finite differences, for signatures where a
rewrite's result could differ in type or value from the helper it replaces."""

import numpy as np

import sourcediff as sd
from tests.oracles import check_grads_fd


def _sum_of_sum(x, c):
    return np.sum(x + c)


def test_unbroadcast_of_a_0d_gradient_to_a_0d_argument_stays_a_0d_array():
    # unbroadcast(g, x) of two 0-d arrays returns g itself; the rewrite must not make it g.sum()
    # (a numpy scalar), whose fact no longer matches the one grad_like was dropped on
    df = sd.grad(_sum_of_sum)
    for dtype in (np.float64, np.float32):
        args = (np.array(2.0, dtype), np.array(3.0, dtype))
        g, generic = df(*args), df.__wrapped__(*args)
        assert type(g) is type(generic) is np.ndarray
        assert g.shape == () and g.dtype == dtype
        assert g == generic == 1.0
    args = (np.array(2.0), np.array(3.0))
    check_grads_fd(_sum_of_sum, args, (0,), (sd.grad(_sum_of_sum)(*args),))
