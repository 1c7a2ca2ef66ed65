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


def _times(x, s):
    return x * s


def _sum_times(x, s):
    return np.sum(x) * s


def test_gradient_for_a_python_float_by_the_forward_pass_is_a_float():
    # the forward-pass shortcut for one Python float wrt argument returned the tangent with the
    # output's type: array([1.]) for a (1,) output, np.float32 for a float32 one
    for fn, x in ((_times, np.ones(1, np.float32)), (_times, np.ones((1, 1))),
                  (_times, np.array(1.0, np.float32)), (_sum_times, np.ones(3, np.float16))):
        for make in (sd.grad, sd.value_and_grad):
            df = make(fn, wrt=1)
            got, generic = df(x, 2.0), df.__wrapped__(x, 2.0)
            g, want = (got, generic) if make is sd.grad else (got[1], generic[1])
            assert type(g) is float and type(want) is float and g == want
    for backend in ("numpy", "numba"):
        assert type(sd.grad(_times, wrt=1, backend=backend)(np.ones(1), 2.0)) is float


def _mean_over_half(x):
    k = int(x.shape[0] / 2)  # 2 for 5 rows
    return np.mean((np.arange(k) + x[0]) ** 2)


def test_int_of_a_known_float_is_the_int_it_computes():
    # the inference took int(2.5) to be 2.5: np.arange(2.5) has 3 entries, np.arange(2) has 2,
    # and the mean's count baked into the specialized code was 3
    for n in (5, 4, 7):
        x = np.linspace(0.5, 1.5, n)
        g = sd.grad(_mean_over_half)(x)
        np.testing.assert_allclose(g, sd.grad(_mean_over_half, optimize=False)(x))
        check_grads_fd(_mean_over_half, (x,), (0,), (g,))


def _diff_mean(x, k):
    return np.mean(np.diff(x, n=k) ** 2)


def _expand_mean(x, k):
    return np.mean(np.expand_dims(x, k) * x)


def test_numpy_integer_arguments_that_decide_a_shape():
    # the inference evaluated np.diff(x, n=k) with a zero stand-in for the np.int64 k: the shape
    # of n=0 (and the mean's count of 6 instead of 4) went into the specialized gradient
    x = np.arange(6.0) ** 2
    for fn, k in ((_diff_mean, np.int64(2)), (_diff_mean, np.array(2)), (_expand_mean, np.int64(1)),
                  (_expand_mean, np.array(1))):
        xx = x if fn is _diff_mean else x[:3]
        g = sd.grad(fn)(xx, k)
        np.testing.assert_allclose(g, sd.grad(fn, optimize=False)(xx, k))
        check_grads_fd(lambda v, fn=fn, k=k: fn(v, k), (xx,), (0,), (g,))


def _mean_in_a_branch(a):
    return np.sum(np.mean(a, axis=-2) if a.ndim >= 2 else a) + np.sum(a * a)


def test_a_reduction_over_an_axis_of_a_branch_not_taken_leaves_the_rest_specialized():
    # reduced_count of np.mean(a, axis=-2) for a 1-D ``a`` (the branch not taken) raised inside
    # the specializer, which then ran the generic code for the whole signature
    x = np.linspace(0.5, 1.5, 3)
    df = sd.grad(_mean_in_a_branch)
    assert "check_wrt" not in sd.source(df, x)  # the specialized code (its checks removed)
    np.testing.assert_allclose(df(x), sd.grad(_mean_in_a_branch, optimize=False)(x))
    y = np.linspace(0.5, 1.5, 6).reshape(2, 3)
    check_grads_fd(_mean_in_a_branch, (y,), (0,), (df(y),))


def _sum_over_k(x, k):
    return np.mean(np.sum(x, axis=(k,)) ** 2)


def _expand_at_k(x, k):
    return np.mean(np.expand_dims(x, (k,)) * x)


def test_an_int_of_unknown_value_inside_a_tuple_argument():
    # axis=(k,) with a Python int k: the inference evaluated np.sum with a stand-in 1 for k, so
    # the specialized gradient of k=0 had the mean's count of the sum over axis 1
    for fn, x, ks in ((_sum_over_k, np.linspace(0.5, 1.5, 6).reshape(2, 3), (0, 1, 0)),
                      (_expand_at_k, np.linspace(0.5, 1.5, 3), (0, 1, 0))):
        df = sd.grad(fn)
        for k in ks:
            g = df(x, k)
            np.testing.assert_allclose(g, sd.grad(fn, optimize=False)(x, k))
            check_grads_fd(lambda v, fn=fn, k=k: fn(v, k), (x,), (0,), (g,))
