"""Objects sourcediff refused where the machinery can follow them (review66): a global object's
state stored directly in the loss (``CELL.h = np.tanh(CELL.h @ CELL.W + x)`` in a loop, the example
of compiler/scalarize.py). Gradients are checked against central finite differences
(tests/oracles.py) in both modes; the object's state after the call is what plain Python leaves
there, and a second gradient call, from the state the first left, is right too (no stale value)."""

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd

MODES = ["reverse", "forward"]
X3 = np.array([0.3, -1.2, 0.8])


class Cell:
    """An RNN cell with no methods but ``__init__``: the loss steps it by storing its state."""

    def __init__(self, W):
        self.W = W
        self.h = np.zeros(3)
        self.c = np.zeros(3)


CELL = Cell(np.array([[0.5, -0.3, 0.1], [0.2, 0.4, -0.2], [-0.1, 0.3, 0.6]]))


def stepped_in_a_loop(x):  # (the example of compiler/scalarize.py's docstring)
    for t in range(3):
        CELL.h = np.tanh(CELL.h @ CELL.W + x)
    return np.sum(CELL.h)


def two_attributes(x):
    for t in range(3):
        CELL.c = CELL.c * 0.5 + np.sin(x + CELL.h)
        CELL.h = np.tanh(CELL.h @ CELL.W + CELL.c)
    return np.sum(CELL.h * CELL.c)


def old_value_read_after_the_store(x):
    old = CELL.h
    CELL.h = np.tanh(CELL.h @ CELL.W + x)
    return np.sum(CELL.h * old) + np.sum(CELL.h ** 2)


def stored_then_read_then_stored(x):
    CELL.h = x * 2.0
    a = CELL.h
    CELL.h = np.tanh(a @ CELL.W)
    return np.sum(CELL.h * a)


def stored_in_a_branch(x):
    if np.sum(x) > 0:
        CELL.h = np.sin(x) + CELL.h
    else:
        CELL.h = np.cos(x) * CELL.h
    return np.sum(CELL.h ** 2)


START = (np.array([0.1, -0.2, 0.3]), np.array([0.2, 0.1, -0.1]))


def set_state(state):
    CELL.h, CELL.c = state[0].copy(), state[1].copy()


def state():
    return CELL.h.copy(), CELL.c.copy()


FNS = [stepped_in_a_loop, two_attributes, old_value_read_after_the_store,
       stored_then_read_then_stored, stored_in_a_branch]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn", FNS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [X3, -X3], ids=["x", "minus_x"])
def test_state_stored_directly_on_a_global_object(fn, mode, x):
    df = sd.grad(fn, mode=mode)
    at = START
    for call in range(2):  # (the second call starts from the state the first left)
        set_state(at)
        fn(x.copy())
        want = state()
        set_state(at)
        g = df(x.copy())
        got = state()
        for a, b, what in zip(got, want, ("h", "c")):
            np.testing.assert_array_equal(a, b, err_msg=f"{what} after call {call}")

        def from_state(v, at=at):
            set_state(at)
            return fn(v)

        check_grads_fd(from_state, (x.copy(),), (0,), (g,))
        at = got


def test_second_order_through_state_stored_directly():
    x = X3.copy()
    set_state(START)
    H = sd.hessian(two_attributes)(x)
    g = sd.grad(two_attributes)
    for i in range(3):
        e = np.eye(3)[i] * 1e-5
        set_state(START)
        up = g(x + e)
        set_state(START)
        down = g(x - e)
        np.testing.assert_allclose(H[i], (up - down) / 2e-5, rtol=1e-5, atol=1e-7)


# ------------------------------------------------ np.apply_along_axis's extra arguments, messages

def row_scaled(v, a, scale=1.0):
    return np.sin(v) * a + scale * v[0]


def along_rows_with_arguments(X, w):
    return np.sum(np.apply_along_axis(row_scaled, 1, X, w, scale=w) ** 2)


def along_columns_with_a_keyword(X, w):
    return np.sum(np.apply_along_axis(row_scaled, 0, X * w, 0.5, scale=2.0))


XA = np.arange(6.0).reshape(2, 3) / 5.0 - 0.3


@pytest.mark.parametrize("fn", [along_rows_with_arguments, along_columns_with_a_keyword],
                         ids=lambda f: f.__name__)
def test_apply_along_axis_passes_extra_arguments_on(fn):
    """np.apply_along_axis(f, axis, X, *args, **kwargs) calls f(slice, *args, **kwargs) (refused
    before); the derivative through an extra argument (w) is followed too."""
    from sourcediff.tape import grad_of

    args = (XA.copy(), 0.7)
    g = sd.grad(fn, wrt=(0, 1))(*args)
    check_grads_fd(fn, args, (0, 1), g)
    gf = sd.grad(fn, wrt=(0, 1), mode="forward")(*args)
    gt = grad_of(fn, args, wrt=(0, 1))
    for a, b, c in zip(g, gf, gt):
        np.testing.assert_allclose(b, a, rtol=1e-12)
        np.testing.assert_allclose(c, a, rtol=1e-12)


def row_doubled_in_place(v):
    v *= 2.0
    return np.sum(v ** 2)


def along_rows_in_place(X):
    return np.sum(np.apply_along_axis(row_doubled_in_place, 1, X))


def test_apply_along_axis_without_extra_arguments_still_gives_a_copy_to_write_into():
    g = sd.grad(along_rows_in_place)(XA.copy())
    check_grads_fd(along_rows_in_place, (XA.copy(),), (0,), (g,))


def along_a_missing_axis(X):
    return np.sum(np.apply_along_axis(row_doubled_in_place, 3, X))


@pytest.mark.parametrize("mode", MODES)
def test_an_error_in_generated_code_of_sourcediffs_own_source_names_the_users_line(mode):
    """An exception raised in the generated code of runtime/written.py's functions (their
    derivatives are made from their source) named written.py's line, not the user's call."""
    line = along_a_missing_axis.__code__.co_firstlineno + 1
    with pytest.raises(sd.SourcediffError) as info:
        sd.grad(along_a_missing_axis, mode=mode)(XA.copy())
    text = str(info.value)
    assert text.startswith(f"test_review66.py:{line}: "), text
    assert "np.apply_along_axis(row_doubled_in_place, 3, X)" in text, text
    assert "written.py" not in text, text
    assert isinstance(info.value, np.exceptions.AxisError)  # (numpy's own class kept)


# ------------------------------------------------ one holds_floats for the checks and partials

def test_one_holds_floats_answers_for_the_checks_and_for_a_partials_bound_values():
    """runtime/objects.holds_floats serves the checks (a value whose floats cannot be seen
    counts as holding one) and the call of a partial (runtime/dynamic.py: it does not), which
    had a twin of their own; what either answered is kept."""
    import functools

    from sourcediff.runtime.objects import holds_floats

    class Config:
        def __init__(self):
            self.n = 3

    class Layer:
        def __init__(self):
            self.W = np.ones(2)

    def fn(v):
        return v

    seen = {  # value: (answer for the checks, answer for a partial's bound values)
        "int": (3, False, False), "none": (None, False, False), "str": ("a", False, False),
        "float": (0.5, True, True), "complex": (1j, True, True),
        "float array": (np.ones(2), True, True), "int array": (np.arange(2), False, False),
        "bool scalar": (np.bool_(True), False, False), "float32 scalar": (np.float32(1), True, True),
        "object array": (np.array([None, 1.0], dtype=object), True, False),
        "list of ints": ([1, (2, 3)], False, False), "dict with a float": ({"a": [1, 0.5]}, True, True),
        "layer": (Layer(), True, True), "config": (Config(), True, False),
        "function": (fn, True, False), "partial of ints": (functools.partial(fn, 1), True, False),
        "partial of a float": (functools.partial(fn, v=np.ones(1)), True, True),
        "vectorize": (np.vectorize(fn), True, False),
    }
    for name, (value, checks, partial) in seen.items():
        assert holds_floats(value) is checks, name
        assert holds_floats(value, opaque=False) is partial, name


# ------------------------------------------------ a helper function that stores on its argument

class State:
    def __init__(self):
        self.h = np.zeros(3)


def put(s, w):
    s.h = np.sin(w) + s.h


def stored_by_a_helper_read_by_the_caller(w, state):
    put(state, w)
    return np.sum(state.h * w)


def step(cell, x):
    cell.h = np.tanh(cell.h @ cell.W + x)


def global_stepped_by_a_helper(x):
    for t in range(2):
        step(CELL, x)
    return np.sum(CELL.h ** 2)


@pytest.mark.parametrize("mode", MODES)
def test_a_helper_storing_on_an_argument_the_caller_reads_back(mode):
    """put(state, w) stores state.h, read back by the caller (refused: AliasError); the helper
    is written in as a method would be, and the object holds afterwards what Python leaves."""
    df = sd.grad(stored_by_a_helper_read_by_the_caller, mode=mode)
    mine, plain = State(), State()
    for call in range(2):  # (the second call from the state the first left)
        start = mine.h.copy()
        want = stored_by_a_helper_read_by_the_caller(X3.copy(), plain)
        g = df(X3.copy(), mine)
        np.testing.assert_array_equal(mine.h, plain.h)

        def from_start(v, start=start):
            s = State()
            s.h = start.copy()
            return stored_by_a_helper_read_by_the_caller(v, s)

        assert from_start(X3.copy()) == want
        check_grads_fd(from_start, (X3.copy(),), (0,), (g,))


@pytest.mark.parametrize("mode", MODES)
def test_a_global_object_stepped_by_a_helper(mode):
    df = sd.grad(global_stepped_by_a_helper, mode=mode)
    at = START
    for call in range(2):
        set_state(at)
        global_stepped_by_a_helper(X3.copy())
        want = state()
        set_state(at)
        g = df(X3.copy())
        np.testing.assert_array_equal(CELL.h, want[0])

        def from_state(v, at=at):
            set_state(at)
            return global_stepped_by_a_helper(v)

        check_grads_fd(from_state, (X3.copy(),), (0,), (g,))
        at = state()


def test_a_helper_written_in_and_then_rebound_or_given_new_code_is_not_used_stale():
    """The helper's body is written into the derivative: rebinding its name is refused (as for
    any function the derivative was built for) and new code in place (IPython's autoreload)
    builds the derivative anew; neither runs the old body's derivative (a silent wrong
    gradient)."""
    global put
    old = put
    df = sd.grad(stored_by_a_helper_read_by_the_caller)
    g0 = df(X3.copy(), State())

    def put_cubed(s, w):
        s.h = w ** 3 + s.h

    try:
        put = put_cubed
        with pytest.raises(sd.SourcediffError, match="put now names"):
            df(X3.copy(), State())
    finally:
        put = old
    df = sd.grad(stored_by_a_helper_read_by_the_caller)
    np.testing.assert_allclose(df(X3.copy(), State()), g0, rtol=1e-12)
    saved = old.__code__
    old.__code__ = put_cubed.__code__
    try:
        g2 = df(X3.copy(), State())
        check_grads_fd(lambda v: stored_by_a_helper_read_by_the_caller(v, State()),
                       (X3.copy(),), (0,), (g2,))
        assert not np.allclose(g0, g2)
    finally:
        old.__code__ = saved


# ------------------------------------------------ decorators defined inside the function

def decorated_inside(x):
    def twice(g):
        def inner(v):
            return g(v) * 2.0
        return inner

    def shifted(k):
        return lambda g: (lambda v: g(v) + k)

    @shifted(3.0)  # (2 h + 3; the other order would give 2 (h + 3))
    @twice
    def h(v):
        return np.sin(v) * x

    return np.sum(h(x) ** 2)


@pytest.mark.parametrize("mode", MODES)
def test_a_decorator_defined_inside_the_function_is_applied_as_python_applies_it(mode):
    """@shifted(3.0) @twice def h: refused before ("decorated inner functions"); now h =
    shifted(3.0)(twice(h)) after the def, the decorator nearest the def first."""
    g = sd.grad(decorated_inside, mode=mode)(X3.copy())
    check_grads_fd(decorated_inside, (X3.copy(),), (0,), (g,))
    np.testing.assert_allclose(sd.value_and_grad(decorated_inside)(X3.copy())[0],
                               decorated_inside(X3.copy()), rtol=1e-15)


# ------------------------------------------------ a refusal raised at run time names the line

class Activated:
    def __init__(self, a):
        self.a = a
        self.act = lambda z: np.tanh(z * self.a)

    def loss(self, x):
        return np.sum(self.act(x) ** 2)


def loss_of_activated(m, x):
    return m.loss(x)


def test_a_refusal_raised_while_the_derivative_runs_names_the_users_line():
    """A sourcediff exception raised by the runtime without a place (the call of a lambda held
    by the object differentiated: "Activated.act: the call reaches ...") is given the user's
    line, as every other exception passing through generated code is."""
    m = Activated(np.array([0.7, 1.2]))
    with pytest.raises(sd.NoRuleError) as info:
        sd.grad(loss_of_activated)(m, X3[:2].copy())
    line = Activated.loss.__code__.co_firstlineno + 1
    assert str(info.value).startswith(f"test_review66.py:{line}: Activated.act"), str(info.value)
    assert "return np.sum(self.act(x) ** 2)" in str(info.value)
    g = sd.grad(loss_of_activated, wrt=1)(m, X3[:2].copy())  # (with respect to x: followed)
    check_grads_fd(lambda v: loss_of_activated(m, v), (X3[:2].copy(),), (0,), (g,))
