"""Forward mode and sd.jacobian take keyword arguments as reverse mode does (they raised Python's
TypeError: their functions took positional arguments only); keyword-only ones are refused by name."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import SourcediffError


def scaled(w, x, scale=1.0, power=2):
    return scale * np.sum(np.sin(x @ w) ** power)


def keyword_only(w, x, *, scale=1.0):
    return scale * np.sum(np.sin(x @ w))


W = np.array([0.3, -0.2])
X = np.array([[1.0, 2.0], [0.5, -1.0]])


@pytest.mark.parametrize("call", [
    lambda d: d(W, X, scale=2.0, power=3),
    lambda d: d(W, X, power=3),  # (scale's default before it)
    lambda d: d(W, x=X),
], ids=["both", "second", "by-name"])
def test_keywords_in_forward_mode_and_jacobians(call):
    want = call(sd.grad(scaled))
    np.testing.assert_allclose(call(sd.grad(scaled, mode="forward")), want)
    np.testing.assert_allclose(call(sd.jacobian(scaled)), want)


def test_keyword_only_arguments_are_refused_by_name():
    np.testing.assert_allclose(sd.grad(keyword_only, mode="forward")(W, X),
                               sd.grad(keyword_only)(W, X))  # (its default: fine)
    with pytest.raises(SourcediffError, match="called with scale for keyword-only"):
        sd.grad(keyword_only, mode="forward")(W, X, scale=2.0)
