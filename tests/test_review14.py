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


def _products(x):
    return np.sum(np.prod(x, axis=-1)) + np.sum(np.prod(x, axis=(0, 2))) + np.prod(x)


def test_gradient_of_a_product_over_an_empty_array():
    # prod_others reshaped a group of size 0 with -1: an internal ValueError from generated code
    rng = np.random.default_rng(0)
    for mode in ("reverse", "forward"):
        df = sd.grad(_products, mode=mode)
        for shape in ((0, 3, 4), (2, 0, 4), (2, 3, 0), (2, 3, 4)):
            x = rng.standard_normal(shape)
            g = df(x)
            assert g.shape == shape
            np.testing.assert_allclose(g, sd.grad(_products, optimize=False)(x))
            if x.size:
                check_grads_fd(_products, (x,), (0,), (g,))
