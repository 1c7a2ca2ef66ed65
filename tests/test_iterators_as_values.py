"""Iterators of builtins and itertools used as values, as ordinary code writes them:
``list(zip(Ws, bs))``, ``for p in zip(x, y)``, ``list(enumerate(xs))``, ``steps = reversed(...)``,
``filter(...)``, ``itertools.chain``, ``islice``, and the pair loops of physics code over
``itertools.combinations(range(n), 2)`` or ``product``.

sourcediff runs loops by position (``seq[k]``), which an iterator does not have: these were refused
(a NoRuleError for zip or enumerate whose items carry derivatives, "no length or items by
position" for the rest; the advice ``list(...)`` was refused too). compiler/lowering.py computes
each into the list its iteration gives, where it is made, and the fence refuses reading one twice
or after what it reads changes, where Python's iterator would give nothing or other items.
Oracle: central finite differences of the plain function."""

import itertools
from itertools import combinations, product

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import SourcediffError
from tests.oracles import check_grads_fd

X = np.array([0.3, -1.2, 0.5, 2.0])
Y = np.array([1.0, 2.0, -0.5, 0.1])


def zip_in_a_list(x, y):
    return sum(a * b for a, b in list(zip(x, y)))


def zip_loop_over_pairs(x, y):
    t = 0.0
    for p in zip(x, y):
        t = t + p[0] * np.sin(p[1])
    return t


def zip_of_three_held_in_a_name(x, y):
    triples = zip(x, y, x * y)
    return sum(a * b + c ** 2 for a, b, c in triples)


def layers_as_pairs(x, y):
    weights = [x[:2], x[2:]]
    biases = [y[0], y[1]]
    h = 1.0
    for w, b in list(zip(weights, biases)):
        h = np.tanh(np.sum(w) * h + b)
    return h


def enumerate_in_a_list(x, y):
    return sum(k * a for k, a in list(enumerate(x, 1))) + sum(
        k * b for k, b in list(enumerate(y, start=2)))


def reversed_held_in_a_name(x, y):
    t = 0.0
    steps = reversed(range(len(x)))
    for i in steps:
        t = t * 0.5 + x[i] * y[i]
    return t


def filtered(x, y):
    even = filter(lambda k: k % 2 == 0, range(len(x)))
    big = list(filter(None, [a * b for a, b in zip(x, y)]))
    return sum(x[i] ** 2 for i in even) + sum(big)


def chained(x, y):
    t = 0.0
    for v in itertools.chain(x, y[1:]):
        t = t + v ** 2
    return t + sum(itertools.chain.from_iterable([x[:2], y[2:]]))


def sliced(x, y):
    head = sum(itertools.islice(x, 2))
    middle = list(itertools.islice(y, 1, 3))
    every = list(itertools.islice(x, 0, None, 2))
    return head * middle[0] + middle[1] + sum(v ** 3 for v in every)


def pair_energy(x, y):
    e = 0.0
    for i, j in list(itertools.combinations(range(len(x)), 2)):
        r = x[i] - x[j]
        e = e + np.exp(-r * r) * y[i] * y[j]
    return e


def lennard_jones(pos):
    e = 0.0
    for i, j in combinations(range(pos.shape[0]), 2):
        r2 = np.sum((pos[i] - pos[j]) ** 2)
        e = e + 4.0 * (r2 ** -6 - r2 ** -3)
    return e


def products_of_items(x, y):
    t = sum(a * b for a, b in product(x, y))
    t = t + sum(a * b * c for a, b, c in itertools.product(x[:2], repeat=3))
    t = t + sum(a * b for a, b in itertools.combinations_with_replacement(y, 2))
    return t + sum(a - b ** 2 for a, b in itertools.permutations(x, 2))


def pairs_as_values(x, y):
    d = dict(enumerate(x))
    pts = np.array(list(zip(x, y)))
    ranked = sorted(zip(x, y), key=lambda p: p[0])
    return d[0] * d[2] + np.sum(pts[:, 0] * pts[:, 1] ** 2) + ranked[0][1] * ranked[-1][0]


PROGRAMS = [pairs_as_values, zip_in_a_list, zip_loop_over_pairs, zip_of_three_held_in_a_name, layers_as_pairs,
            enumerate_in_a_list, reversed_held_in_a_name, filtered, chained, sliced, pair_energy,
            products_of_items]


@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_the_gradient_through_the_iterator_is_the_finite_difference_one(fn):
    x, y = X.copy(), Y.copy()
    gx, gy = sd.grad(fn, wrt=(0, 1))(x, y)
    check_grads_fd(fn, (X.copy(), Y.copy()), (0, 1), (gx, gy))
    np.testing.assert_array_equal(x, X)  # (the arguments are left as they were)
    assert sd.value_and_grad(fn, wrt=(0, 1))(X.copy(), Y.copy())[0] == pytest.approx(fn(X, Y))


@pytest.mark.parametrize("fn", [zip_in_a_list, pair_energy, products_of_items],
                         ids=lambda f: f.__name__)
def test_forward_mode_and_the_hessian_agree_with_the_reverse_gradient(fn):
    g = sd.grad(fn, wrt=(0, 1))(X.copy(), Y.copy())
    v = np.array([0.2, -0.4, 0.1, 0.7])
    jvp = sd.jvp(fn, (X.copy(), Y.copy()), (v, np.zeros(4)))[1]
    assert jvp == pytest.approx(float(g[0] @ v), rel=1e-10, abs=1e-12)
    h = sd.hessian(lambda x: fn(x, Y.copy()))(X.copy())
    g0 = sd.grad(fn)
    eps = 1e-5
    cols = [(g0(X + eps * e, Y.copy()) - g0(X - eps * e, Y.copy())) / (2 * eps) for e in np.eye(4)]
    np.testing.assert_allclose(h, np.array(cols).T, rtol=1e-5, atol=1e-6)


def test_a_lennard_jones_energy_over_combinations_of_atoms():
    pos = np.array([[0.0, 0.0, 0.0], [1.1, 0.0, 0.0], [0.0, 1.2, 0.1], [1.0, 1.0, 1.0]])
    check_grads_fd(lennard_jones, (pos,), (0,), (sd.grad(lennard_jones)(pos.copy()),))


def zip_read_twice(x, y):
    pairs = zip(x, y)
    first = sum(a * b for a, b in pairs)
    return first + sum(a for a, b in pairs)  # (Python: the second sum finds pairs used up: 0)


def product_read_in_a_loop(x, y):
    grid = itertools.product(range(2), range(2))
    t = 0.0
    for k in range(2):
        for i, j in grid:  # (Python: only the first pass of k sees the items)
            t = t + x[i] * y[j] * (k + 1)
    return t


def enumerate_of_a_changed_list(x, y):
    items = [x[0], x[1]]
    numbered = enumerate(items)
    items.append(y[0])  # (Python's enumerate reads the list as it is when iterated)
    return sum(k * v for k, v in numbered)


@pytest.mark.parametrize("fn, what", [(zip_read_twice, "zip iterators"),
                                      (product_read_in_a_loop, "itertools.product iterators"),
                                      (enumerate_of_a_changed_list, "enumerate iterators")])
def test_an_iterator_python_would_find_used_up_or_changed_is_refused(fn, what):
    with pytest.raises(SourcediffError, match=what):
        sd.grad(fn)(X.copy(), Y.copy())


def permutations_of_unwritten_length(x):
    return sum(a * b for a, b in itertools.permutations(x))


def sliced_by_a_variable(x, n):
    return sum(v ** 2 for v in itertools.islice(x, n))


def an_iterator_of_iter(x):
    t = 0.0
    for i in iter(range(len(x))):
        t = t + x[i]
    return t


def test_what_is_not_lowered_is_still_refused_with_a_message():
    with pytest.raises(SourcediffError, match="permutations.*counts written as numbers"):
        sd.grad(permutations_of_unwritten_length)(X[:2].copy())
    with pytest.raises(SourcediffError, match=r"islice.*list\(xs\)\[:n\]"):
        sd.grad(sliced_by_a_variable)(X.copy(), 2)
    with pytest.raises(SourcediffError, match="no length or items by position"):
        sd.grad(an_iterator_of_iter)(X.copy())


def stepped_by_next(x, y):
    idx = [0, 1, 2]
    j = next(filter(lambda k: k > 0, idx))
    pairs = zip(idx, idx)
    i, _ = next(pairs)
    numbered = enumerate(["a", "b"])
    k, _ = numbered.__next__()
    return x[j] * 2.0 + x[i + 1] * y[k]


def test_an_iterator_stepped_with_next_stays_an_iterator():
    # (computed into a list, it raised TypeError: 'list' object is not an iterator)
    gx, gy = sd.grad(stepped_by_next, wrt=(0, 1))(X.copy(), Y.copy())
    check_grads_fd(stepped_by_next, (X.copy(), Y.copy()), (0, 1), (gx, gy))
