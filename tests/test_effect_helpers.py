"""A user's helper called for its effect with an object built in the function from values that
carry derivatives (``m = Cell(w); run_step(m, x); return np.sum(m.last)``), where the helper,
or a method it calls, stores on the object. The call ran as plain Python, unseen, and the read
of ``m.last`` after it took a constant: a gradient of zero, silently (finite differences are
not zero). It now runs through its forward form, whose checks see the store, and the read back
is refused at the user's line, naming the store. The same object read by a helper, or a helper
that stores nothing the function reads back, still differentiates."""

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd

W = np.array([0.3, -0.2, 0.5])
X = np.array([1.0, 2.0, -0.5])


class Cell:
    def __init__(self, w):
        self.w = w
        self.last = None
        self.hist = []

    def step(self, x):
        self.last = np.tanh(self.w * x)
        return self.last

    def push(self, x):
        self.hist.append(self.w * x)
        return x


def run_step(m, x):
    return m.step(x)


def apply(fn, x):
    return fn(x)


def run_push(m, x):
    return m.push(x)


def through_a_helper(w, x):
    m = Cell(w)
    run_step(m, x)
    return np.sum(m.last)


def through_keywords(w, x):
    m = Cell(w)
    run_step(x=x, m=m)
    return np.sum(m.last)


def through_a_lambda_given_to_a_helper(w, x):
    m = Cell(w)
    apply(lambda z: m.step(z), x)
    return np.sum(m.last)


def appended_through_a_helper_whose_result_is_used(w, x):
    m = Cell(w)
    y = run_push(m, x)
    return np.sum(y) + np.sum(m.hist[0])


def stored_state_not_read_back(w, x):
    m = Cell(w)
    run_step(m, x)
    return np.sum(m.w * x)


def result_used_state_not_read(w, x):
    m = Cell(w)
    y = run_step(m, x)
    return np.sum(y * x)


@pytest.mark.parametrize("fn, attribute, line", [
    (through_a_helper, "last", "return np.sum(m.last)"),
    (through_keywords, "last", "return np.sum(m.last)"),
    (through_a_lambda_given_to_a_helper, "last", "return np.sum(m.last)"),
    (appended_through_a_helper_whose_result_is_used, "hist", "np.sum(m.hist[0])"),
])
def test_state_stored_by_a_helper_and_read_back_is_refused(fn, attribute, line):
    with pytest.raises(sd.SourcediffError) as info:
        sd.grad(fn)(W.copy(), X.copy())
    text = str(info.value)
    assert f"reads Cell.{attribute} back" in text
    assert "test_effect_helpers.py:" in text and line in text


@pytest.mark.parametrize("fn", [stored_state_not_read_back, result_used_state_not_read])
def test_helpers_given_the_object_still_differentiate(fn):
    args = (W.copy(), X.copy())
    grads = sd.grad(fn, wrt=(0, 1))(*args)
    check_grads_fd(fn, args, (0, 1), grads)
