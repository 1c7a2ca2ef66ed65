"""np.meshgrid, np.cov, np.delete and np.cumulative_sum in programs as people write them
(refused with NoRuleError before): every mode against finite differences (sourcediff.testing),
and the tape against the compiled gradient."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.tape import grad_of
from sourcediff.testing import check_grads


def surface(a, b, w):
    """A function sampled on a grid whose axes are parameters."""
    X, Y = np.meshgrid(a, b)
    return np.sum(w * np.sin(X) * np.cos(Y)) + np.sum(np.meshgrid(a, b, indexing="ij")[1] ** 2)


def gaussian_fit(data, shift):
    """The log-determinant and spread of a sample's covariance (rows are observations)."""
    centred = data - shift
    C = np.cov(centred, rowvar=False) + 0.1 * np.eye(centred.shape[1])
    sign, logdet = np.linalg.slogdet(C)
    return logdet + np.trace(C) + np.cov(centred[:, 0], centred[:, 1])[0, 1]


def without_outliers(x):
    kept = np.delete(x, [0, 3], axis=0)
    return np.sum(np.cumsum(kept, axis=1) ** 2)


def running(x):
    return np.sum(np.cumulative_sum(x, axis=1, include_initial=True) ** 2)


rng = np.random.default_rng(4)
CASES = {
    "surface": (surface, (rng.standard_normal(4), rng.standard_normal(3),
                          rng.standard_normal((3, 4)))),
    "gaussian_fit": (gaussian_fit, (rng.standard_normal((20, 3)), rng.standard_normal(3))),
    "without_outliers": (without_outliers, (rng.standard_normal((6, 3)),)),
}
if hasattr(np, "cumulative_sum"):  # (numpy 2.1)
    CASES["running"] = (running, (rng.standard_normal((2, 4)),))


@pytest.mark.parametrize("name", list(CASES))
def test_every_mode_agrees_with_finite_differences(name):
    fn, args = CASES[name]
    check_grads(fn, args, modes=("rev", "fwd", "tape"))
    wrt = tuple(range(len(args)))
    compiled = sd.grad(fn, wrt=wrt)(*args)
    tape = grad_of(fn, args, wrt)
    for c, t in zip(compiled, tape):
        np.testing.assert_allclose(c, t, rtol=1e-9, atol=1e-12)


def test_weights_of_cov_are_constants_and_refused_as_wrt():
    def weighted(x, w):
        return np.sum(np.cov(x, aweights=w))

    x, w = rng.standard_normal((2, 5)), rng.uniform(0.5, 2.0, 5)
    check_grads(lambda x: weighted(x, w), (x,), modes=("rev", "fwd"))
    with pytest.raises(sd.SourcediffError):
        sd.grad(weighted, wrt=1)(x, w)


def ufunc_methods(x):
    """np.add.reduce, np.logaddexp.reduce, np.maximum.reduce and the accumulations."""
    lse = np.logaddexp.reduce(x, axis=1)
    running = np.multiply.accumulate(1.0 + 0.1 * x, axis=1)
    return np.sum(lse) + np.sum(np.add.reduce(x * x)) + np.sum(running) + \
        np.sum(np.maximum.reduce(x, axis=0) * np.add.accumulate(x)[-1])


def test_ufunc_reduce_and_accumulate_in_every_mode_and_second_order():
    x = rng.standard_normal((3, 4))
    check_grads(ufunc_methods, (x,), modes=("rev", "fwd", "tape"), order=2)
    np.testing.assert_allclose(sd.grad(ufunc_methods)(x), grad_of(ufunc_methods, (x,)),
                               rtol=1e-10)


def test_a_tensor_in_the_weights_of_cov_is_refused_by_the_tape():
    x, w = rng.standard_normal((2, 5)), rng.uniform(0.5, 2.0, 5)

    def weighted_positional(x, w):
        return np.sum(np.cov(x, None, True, False, None, None, w))

    with pytest.raises(sd.SourcediffError, match="aweights"):
        grad_of(weighted_positional, (x, w), 1)
    with pytest.raises(sd.SourcediffError, match="stop_gradient"):
        sd.grad(weighted_positional, wrt=1)(x, w)
    # (as a constant: the gradient of x runs in both)
    np.testing.assert_allclose(sd.grad(weighted_positional)(x, w),
                               grad_of(weighted_positional, (x, w), 0), rtol=1e-10)
