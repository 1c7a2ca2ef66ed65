"""Programs from a review of closures, ``**kwargs``, list methods and container aliasing
combined with each other, loops, branches and helpers. Each was a silent wrong gradient (most a
wrong value too) before its fix; every one is checked against central finite differences, with
the value against the plain call, in reverse and forward mode."""

import copy
import functools

import numpy as np
import pytest

import sourcediff as sd

from .oracles import check_grads_fd


# --- a name bound to an inner def or lambda and bound again elsewhere: calls went to the
# lifted function of the name's last def in the source, whatever the name held when it ran

def rebound_to_a_numpy_function(w, x):
    f = lambda z: z * w  # noqa: E731
    f = np.sin
    return np.sum(f(x))


def rebound_in_a_branch_not_taken(w, x):
    f = lambda z: z * w  # noqa: E731
    if np.sum(x) > 5:
        f = lambda z: z * x  # noqa: E731
    return np.sum(f(w))


def chosen_in_two_branches(w, x):
    if np.sum(x) < -5:
        f = lambda z: z * x  # noqa: E731
    else:
        f = lambda z: z * w  # noqa: E731
    return np.sum(f(w))


def called_function_defined_again(w, x):  # (f calls g when it runs: the second g)
    def g(z):
        return z * w

    def f(z):
        return g(z) * 2.0

    def g(z):  # noqa: F811
        return z + x
    return np.sum(f(w))


def wrapped_by_a_lambda_returning_a_lambda(w, x):
    f = lambda z: z * w  # noqa: E731
    f = (lambda g: (lambda z: g(z) * 2.0))(f)
    return np.sum(f(x))


def rebound_by_a_loop(w, x):
    f = lambda z: z * w  # noqa: E731
    for f in [np.sin, np.cos]:
        pass
    return np.sum(f(x))


def rebound_name_mapped(w, x):
    f = lambda z: z * w  # noqa: E731
    if np.sum(x) > 5:
        f = lambda z: z * x  # noqa: E731
    return np.sum(np.array(list(map(f, [x, w]))))


def defined_in_a_loop(w, x):  # (one def, bound on each pass: still lifted and called directly)
    s = 0.0
    for i in range(3):
        def g(z):
            return z * w[i]
        s = s + np.sum(g(x))
    return s


# --- a helper appending to (inserting into, reversing) the list it is given and returning
# it: its backward form shaped the list's gradient like the grown list, so the caller read the
# gradient of what an earlier call appended from the wrong entry (dropped silently), or failed

def push(L, v):
    L.append(v)
    return L


def insert_first(L, v):
    L.insert(0, v)
    return L


def reverse_it(L):
    L.reverse()
    return L


def pushed_twice(w, x):
    fs = push([], w * 1.0)
    fs = push(fs, x * 2.0)
    return np.sum(fs[0] * fs[1] * w)


def closures_pushed_twice(w, x):
    fs = push([], lambda z: z * w)
    fs = push(fs, lambda z: z * 2.0)
    return np.sum(fs[0](x) * fs[1](w))


def pushed_in_a_loop(w, x):
    L = [w * 1.0]
    for _ in range(3):
        L = push(L, L[-1] * x)
    return np.sum(L[-1] + L[0] * L[1])


def inserted_twice(w, x):
    L = insert_first([w * 1.0], x * 2.0)
    L = insert_first(L, w * x)
    return np.sum(L[0] * 1.0 + L[1] * 2.0 + L[2] ** 2)


def reversed_then_pushed(w, x):
    L = reverse_it([w * 1.0, x * 2.0])
    L = push(L, w ** 2)
    return np.sum(L[0] * 3.0 + L[1] * L[2])


W = np.array([0.3, -0.5, 0.7])
X = np.array([0.2, 0.4, -0.1])
CASES = [rebound_to_a_numpy_function, rebound_in_a_branch_not_taken, chosen_in_two_branches,
         called_function_defined_again, wrapped_by_a_lambda_returning_a_lambda,
         rebound_by_a_loop, rebound_name_mapped, defined_in_a_loop, pushed_twice,
         closures_pushed_twice, pushed_in_a_loop, inserted_twice, reversed_then_pushed]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn", CASES, ids=[f.__name__ for f in CASES])
def test_gradient_and_value(fn, mode):
    args = (W.copy(), X.copy())
    if mode == "reverse":
        value, grads = sd.value_and_grad(fn, wrt=(0, 1))(*copy.deepcopy(args))
        assert value == pytest.approx(fn(*copy.deepcopy(args)), rel=1e-12)
    else:
        grads = sd.grad(fn, wrt=(0, 1), mode=mode)(*copy.deepcopy(args))
    check_grads_fd(fn, args, (0, 1), grads)


# --- an inner function or lambda that appends to (pops from, updates) a list or dict of the
# enclosing function: given to a helper or to sorted(key=), its effect was not seen and the
# appended values' gradient was zero; now refused at the write, naming its line

def appended_by_a_lambda_given_to_a_helper(w, x):
    out = []

    def run(f, n):
        for i in range(n):
            f(i)
    run(lambda i: out.append(w * x * i), 3)
    return np.sum(out[2] * out[1])


def appended_by_a_sort_key(w, x):
    seen = []

    def key(t):
        seen.append(t)
        return t
    s = sorted([x[0] * w[0], x[1] * w[1]], key=key)
    return s[0] + np.sum(seen[0] * 3.0)


def popped_by_a_lambda(w, x):
    L = [w * 1.0, x * 2.0, w * x]
    take = lambda: L.pop()  # noqa: E731
    a = take()
    return np.sum(a * L[0])


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn", [appended_by_a_lambda_given_to_a_helper, appended_by_a_sort_key,
                                popped_by_a_lambda])
def test_an_inner_function_writing_into_the_enclosing_function_s_container_is_refused(fn, mode):
    line = {appended_by_a_lambda_given_to_a_helper: "out.append(w * x * i)",
            appended_by_a_sort_key: "seen.append(t)", popped_by_a_lambda: "L.pop()"}[fn]
    with pytest.raises(sd.SourcediffSyntaxError) as info:
        sd.grad(fn, wrt=(0, 1), mode=mode)(W.copy(), X.copy())
    text = str(info.value)
    assert "test_review53.py" in text and line in text and "return the new value" in text


# --- a list method's alias check named a value the function binds only later (a name popped
# from the list in a loop after L.extend(...)): forward mode, which sets no name to None
# first, raised UnboundLocalError from the generated code

def extended_then_popped_in_a_while_test(w, x):
    L = [w]
    L.extend([w * x, x ** 2])
    s = 0.0
    while L and (a := L.pop()) is not None:
        s = s * 0.5 + np.sum(a)
    return s


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_check_reads_no_name_bound_only_later(mode):
    fn = extended_then_popped_in_a_while_test
    grads = sd.grad(fn, wrt=(0, 1), mode=mode)(W.copy(), X.copy())
    check_grads_fd(fn, (W.copy(), X.copy()), (0, 1), grads)


def partial_mapped_then_popped_in_a_while_test(w, x):  # (the same through a partial's checks)
    f = functools.partial(np.multiply, w)
    y = np.sum(np.array(list(map(f, [x, x * 2.0]))), axis=0)
    L = [y, y * w]
    s = 0.0
    while L and (a := L.pop()) is not None:
        s = s * 0.5 + np.sum(a)
    return s


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_partial_s_check_reads_no_name_bound_only_later(mode):
    fn = partial_mapped_then_popped_in_a_while_test
    grads = sd.grad(fn, wrt=(0, 1), mode=mode)(W.copy(), X.copy())
    check_grads_fd(fn, (W.copy(), X.copy()), (0, 1), grads)


# --- a helper called for its effect (its result unused) that calls a method storing into the
# object it is given: the caller read the attribute back as a constant and the gradient through
# it was zero, silently (finite differences: nonzero). The call runs through its forward form
# now, whose checks see the store, and the read back is refused (tests/test_effect_helpers.py).

class _Cell:
    def __init__(self, w):
        self.w = w
        self.last = None

    def step(self, x):
        self.last = np.tanh(self.w * x)
        return self.last


def _run_step(m, x):
    return m.step(x)


def state_stored_by_a_helper_s_method_call(w, x):
    m = _Cell(w)
    _run_step(m, x)
    return np.sum(m.last)


def test_state_stored_through_a_helper_is_differentiated_or_refused():
    fn = state_stored_by_a_helper_s_method_call
    try:
        grads = sd.grad(fn, wrt=(0, 1))(W.copy(), X.copy())
    except sd.SourcediffError:
        return
    check_grads_fd(fn, (W.copy(), X.copy()), (0, 1), grads)
