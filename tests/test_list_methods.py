"""A list's own in-place methods on lists that hold values carrying derivatives: ``reverse()``,
``insert(i, v)``, ``extend(s)``, ``sort(key=f, reverse=r)`` and ``pop(i)`` run as the new list
bound to the name (``lst = lst[::-1]``) with the alias checks of ``lst += s``: another name
still read that holds the same list is refused (Python would change it too), a helper that
changes its parameter's list is refused where the caller reads it after, and anything but a
list (a deque) is refused by name. They were refused ("changes items in place ... holds its
array"). Checked against finite differences in reverse and forward mode."""

import collections

import numpy as np
import pytest

import sourcediff as sd

from .oracles import check_grads_fd


def reversed_in_place(x):
    items = [x[0] * 2, x[1], x[2] ** 2]
    items.reverse()
    return items[0] * 3 + items[2]


def inserted_popped_extended(x):
    items = [x[0] * 2, x[1], x[2] ** 2]
    items.insert(1, x[0] * x[1])
    items.insert(-1, np.sin(x[2]))
    v = items.pop(0)
    w = items.pop(-1)
    items.extend([x[2], v])
    items.extend(y * 2.0 for y in (w, v))
    return items[0] * 3 + items[-1] * items[1] + items[2] * items[3] + items[4]


def sorted_by_key(x):
    items = [(x[i], i) for i in range(3)]
    items.sort(key=lambda p: p[1], reverse=True)
    return items[0][0] * 2 + items[2][0]


def sorted_by_value(x):  # (the order is piecewise constant: no derivative through the key)
    vals = [x[0] ** 2, x[1], np.exp(x[2])]
    vals.sort(key=float)
    return vals[0] + 2.0 * vals[1] + 3.0 * vals[2]


def in_a_loop(x):
    items = []
    for k in range(3):
        items.insert(0, x[k] * (k + 1))
        if k == 1:
            items.reverse()
    return items[0] * items[1] + items[2]


X = np.array([0.3, -0.2, 0.5])
CASES = [reversed_in_place, inserted_popped_extended, sorted_by_key, sorted_by_value, in_a_loop]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn", CASES, ids=[f.__name__ for f in CASES])
def test_gradient_matches_finite_differences(fn, mode):
    check_grads_fd(fn, (X,), (0,), (sd.grad(fn, mode=mode)(X),))


def another_name_holds_it(x):
    items = [x[0] * 2, x[1]]
    other = items
    items.reverse()
    return other[0] * 3 + items[0]


def helper_reverses(lst):
    lst.reverse()
    return 0.0


def caller_reads_after(x):
    items = [x[0] * 2, x[1]]
    helper_reverses(items)
    return items[0] * 3


def on_a_deque(x, d=None):
    d = collections.deque([1.0, 2.0]) if d is None else d
    d.reverse()  # (a deque's own reverse: sourcediff writes lists only)
    return x[0] * d[0]


@pytest.mark.parametrize("fn, error, words", [
    (another_name_holds_it, sd.errors.AliasError, "changes other"),
    (caller_reads_after, sd.errors.AliasError, "helper_reverses writes into its parameter lst"),
    (on_a_deque, sd.SourcediffError, "called on a deque"),
], ids=["alias", "helper", "deque"])
def test_what_python_would_see_elsewhere_is_refused(fn, error, words):
    fn(X)  # (Python runs it)
    with pytest.raises(error, match=words):
        sd.grad(fn)(X)


def test_pop_out_of_range_is_python_s_index_error():
    def pops(x):
        items = [x[0], x[1]]
        items.pop(5)
        return items[0]

    with pytest.raises(IndexError, match="pop index out of range"):
        sd.grad(pops)(X)
