"""Python builtins and standard-library calls as numerical code writes them, differentiated by
the code they stand for (compiler/lowering.py): ``functools.reduce`` and ``math.prod`` as their
loops, ``max(xs, key=f)``/``min`` as an item taken by position, ``a, *rest = seq``,
``divmod(a, b)``, ``complex(a, b)``; and the rules of math.lgamma, math.gamma and
scipy.special.gamma. Each was refused before (NoRuleError or SourcediffSyntaxError)."""

import functools
import math
import operator

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import SourcediffError

from .oracles import check_grads_fd

try:
    from scipy import special
except ImportError:  # scipy is optional: the gamma rules need its digamma
    special = None


def reduce_lambda(w):
    return functools.reduce(lambda a, b: a * b + 1.0, [w[0], w[1], w[2]])


def reduce_operator_with_init(w):
    return functools.reduce(operator.add, (w[k] ** 2 for k in range(3)), 0.5)


def reduce_lambda_with_an_inner_scope(w):
    # (the comprehension's own `a` is not the lambda's: the lambda is called, not inlined)
    return functools.reduce(lambda a, b: a * np.array([a * 2.0 for a in b]), [w, w * w], 0.5)[1]


def reduce_matrix_chain(w):
    ms = [np.outer(w, w) + np.eye(3), np.diag(np.sin(w)), np.eye(3) * w[0]]
    return np.sum(functools.reduce(np.dot, ms))


def reduce_in_a_loop(w):
    s = 0.0
    for k in range(2):
        s = s + functools.reduce(lambda a, b: a @ b, [np.diag(w) * (k + 1.0), np.diag(w)])[1, 1]
    return s


def prod_of_items(w):
    return math.prod([w[0], w[1] + 2.0, 3.0]) + math.prod(w[1:], start=2.0)


def max_with_key(w):
    pairs = [(w[0], 1.0), (w[1], 2.0), (w[2], 3.0)]
    a, b = max(pairs, key=lambda p: p[0])
    c, d = min(pairs, key=lambda p: p[0] * p[1])
    return a * b + c * d


def starred_targets(w):
    a, *rest = w
    first, *middle, last = [w[0] * 2.0, w[1], w[2], np.sin(w[0])]
    return a * sum(rest) + first * last + middle[1] * len(middle)


def divmod_and_complex(w):
    q, r = divmod(w[2] * 10.0, 3.0)
    z = complex(w[0], w[1])
    return r * w[0] + q + (z * z.conjugate()).real


def gammas(w):
    return math.lgamma(w[0] + 2.0) + math.gamma(w[1] + 2.0) + np.sum(special.gamma(w + 1.5))


W = np.array([0.3, -0.4, 0.55])
FIRST_ORDER = [reduce_lambda, reduce_lambda_with_an_inner_scope, reduce_operator_with_init,
               reduce_matrix_chain, reduce_in_a_loop, prod_of_items, max_with_key, starred_targets,
               divmod_and_complex, gammas]


def _skip_without_scipy(f):
    if f is gammas:
        pytest.importorskip("scipy")


@pytest.mark.parametrize("mode", ["reverse", "generic", "forward"])
@pytest.mark.parametrize("f", FIRST_ORDER, ids=lambda f: f.__name__)
def test_first_order(f, mode):
    _skip_without_scipy(f)
    g = sd.grad(f, optimize=False)(W) if mode == "generic" else sd.grad(f, mode=mode)(W)
    check_grads_fd(f, (W,), (0,), (g,))


@pytest.mark.parametrize("f", [reduce_lambda, reduce_matrix_chain, prod_of_items, max_with_key,
                               starred_targets, gammas], ids=lambda f: f.__name__)
def test_second_order(f):
    _skip_without_scipy(f)
    hess = sd.hessian(f)(W)
    for k in range(3):
        check_grads_fd(lambda z: sd.grad(f)(z)[k], (W,), (0,), (hess[k],), rtol=1e-4)


def too_few_to_unpack(w):
    a, *rest, z = [w[0]]
    return a + z + len(rest)


def test_starred_unpacking_of_too_few_items_is_pythons_error():
    with pytest.raises(ValueError):
        too_few_to_unpack(W)
    with pytest.raises(SourcediffError, match="ValueError: this unpacks 1 values into 2 names"):
        sd.grad(too_few_to_unpack)(W)
