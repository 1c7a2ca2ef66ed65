"""Object-oriented code the fuzzer and reviews found refused: state stored on an object that is not
the differentiated argument (a global, an RNN cell stepped inside the loss) and read back in the
same gradient call. Gradients are checked against central finite differences (tests/oracles.py)
in both modes, second order against finite differences of the gradient; the object's state after
the call is what running the function leaves there."""

import functools
import inspect

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd

MODES = ["reverse", "forward"]
X3 = np.array([0.3, -1.2, 0.8])
XS = np.array([[0.3, -0.2], [0.1, 0.5], [-0.4, 0.2]])


class Box:
    def __init__(self):
        self.w = 0.5
        self.d = {"w": 0.5}

    def set(self, v):
        self.w = v

    def readw(self, t):
        return t * self.w

    def cache(self, v):
        self.c = v
        return v * 2.0

    def readc(self, t):
        return t * self.c

    def read(self, t):
        return t * self.d["w"]


class Cell:
    """A recurrent cell that keeps its state on itself."""

    def __init__(self):
        self.W = np.array([[0.5, -0.3], [0.2, 0.4]])
        self.h = np.zeros(2)

    def step(self, x):
        self.h = np.tanh(self.h @ self.W + x)
        return self.h


BOX = Box()
CELL = Cell()


def set_then_read(x):
    BOX.set(np.sum(x ** 2))
    return np.sum(BOX.readw(x))


def cache_then_read(x):
    y = BOX.cache(np.sin(x))          # stores an attribute the object did not have
    return np.sum(BOX.readc(x) * y)


def set_and_read_in_a_loop(x):
    s = x
    for t in range(3):
        BOX.set(np.sum(s ** 2) * 0.5)
        s = BOX.readw(x) + s
    return np.sum(s)


def rnn_from_zero(xs):
    CELL.h = np.zeros(2)
    for t in range(3):
        CELL.step(xs[t])
    return np.sum(CELL.h ** 2)


def rnn_from_its_state(xs):
    for t in range(xs.shape[0]):
        h = CELL.step(xs[t])          # the state the previous call left: a constant of this one
    return np.sum(h * CELL.h)


def python_state(fn, x, reset):
    """What running ``fn`` leaves on the objects, from the state ``reset`` sets."""
    reset()
    fn(x.copy())
    return {"w": BOX.w, "h": CELL.h.copy(), "c": getattr(BOX, "c", None)}


def reset_all():
    BOX.w = 0.5
    BOX.__dict__.pop("c", None)
    CELL.h = np.array([0.2, -0.1])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn, x", [(set_then_read, X3), (cache_then_read, X3),
                                   (set_and_read_in_a_loop, X3), (rnn_from_zero, XS),
                                   (rnn_from_its_state, XS)], ids=lambda v: getattr(v, "__name__", ""))
def test_state_stored_on_a_global_object_and_read_back(fn, x, mode):
    want = python_state(fn, x, reset_all)
    reset_all()
    g = sd.grad(fn, mode=mode)(x.copy())
    got = {"w": BOX.w, "h": CELL.h.copy(), "c": getattr(BOX, "c", None)}
    for k in want:  # (the object holds what Python leaves there, not a stale or other value)
        np.testing.assert_array_equal(np.asarray(got[k], dtype=float),
                                      np.asarray(want[k], dtype=float), err_msg=k)

    def from_reset(v):
        reset_all()
        return fn(v)

    check_grads_fd(from_reset, (x.copy(),), (0,), (g,))


@pytest.mark.parametrize("fn, x", [(set_then_read, X3), (cache_then_read, X3),
                                   (rnn_from_zero, XS)], ids=lambda v: getattr(v, "__name__", ""))
def test_second_order_through_state_on_a_global_object(fn, x):
    reset_all()
    H = sd.hessian(fn)(x.copy())
    g = sd.grad(fn)
    n = x.size
    H = np.reshape(H, (n, n))
    for i in range(n):
        e = np.eye(n)[i].reshape(x.shape) * 1e-5
        reset_all()
        up = g(x + e)
        reset_all()
        down = g(x - e)
        np.testing.assert_allclose(H[i], np.ravel(up - down) / 2e-5, rtol=1e-5, atol=1e-7)


class OtherBox(Box):
    def readw(self, t):
        return t * self.w * 3.0


def test_a_global_object_rebound_to_another_class_gives_that_class_s_derivative():
    global BOX
    old = BOX
    try:
        g1 = sd.grad(set_then_read)(X3.copy())
        check_grads_fd(set_then_read, (X3.copy(),), (0,), (g1,))
        BOX = OtherBox()      # the methods written in were Box's: built anew for OtherBox's
        g2 = sd.grad(set_then_read)(X3.copy())
        check_grads_fd(set_then_read, (X3.copy(),), (0,), (g2,))
        assert not np.allclose(g1, g2)
    finally:
        BOX = old


# ---------------------------------------------------------------- functions held by objects


class Holder:
    def __init__(self, fn):
        self.fn = fn

    def run(self, x):
        return self.fn(x)


class Scaled:
    def __init__(self, k):
        self.k = k

    def f(self, x, a=1.0):
        return self.k * x * a


HOLD = Holder(np.sin)


def closure_held_by_an_object_built_in_the_call(x):
    a = np.sum(x ** 2)
    return np.sum(Holder(lambda v: v * a).run(x))


def closure_held_by_a_named_object(x):
    a = np.sum(x ** 2)
    h = Holder(lambda v: np.sin(v) * a)
    return np.sum(h.run(x) * h.run(x))


def closure_stored_on_a_global_object(x):
    a = np.sum(x ** 2)
    HOLD.fn = lambda v: v * a
    return np.sum(HOLD.run(x))


def function_stored_on_a_global_object(x):
    HOLD.fn = np.cos       # HOLD.fn held np.sin when the gradient was built
    return np.sum(HOLD.fn(x))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn", [closure_held_by_an_object_built_in_the_call,
                                closure_held_by_a_named_object, closure_stored_on_a_global_object,
                                function_stored_on_a_global_object], ids=lambda f: f.__name__)
def test_a_function_held_by_an_object_and_called_through_it(fn, mode):
    HOLD.fn = lambda v: v * 5.0    # (a plain run's closure left there: not this call's)
    g = sd.grad(fn, mode=mode)(X3.copy())
    check_grads_fd(fn, (X3.copy(),), (0,), (g,))


def test_the_function_stored_on_a_global_object_is_not_the_one_it_held_when_built():
    HOLD.fn = np.sin
    g = sd.grad(function_stored_on_a_global_object)(X3.copy())
    np.testing.assert_allclose(g, -np.sin(X3), rtol=1e-12)   # (np.cos's, not np.sin's)


# ---------------------------------------------------------------- what stays refused, clearly


LIN = Scaled(3.0)


def partial_of_a_bound_method(x):
    m = Scaled(2.0)
    w = np.sum(x ** 2)
    f = functools.partial(m.f, a=w)
    return np.sum(f(x))


def partial_of_a_global_object_s_method(x):
    w = np.sum(x ** 2)
    f = functools.partial(LIN.f, a=w)
    return np.sum(f(x))


def dict_attribute_written_through_another_name(x):
    P = BOX.d
    P["w"] = np.sum(x)
    return np.sum(BOX.read(x))


def dict_attribute_written_in_place(x):
    BOX.d["w"] = np.sum(x)
    return np.sum(BOX.read(x))


def lambda_over_a_bound_method(x):
    m = Scaled(2.0)
    w = np.sum(x ** 2)
    f = lambda v: m.f(v, a=w)    # what the refusal of partial(m.f, a=w) says to write
    return np.sum(f(x))


def lambda_over_an_argument_s_method(x, m):
    w = np.sum(x ** 2)
    f = lambda v: m.f(v, a=w)
    return np.sum(f(x))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn, args", [(partial_of_a_global_object_s_method, ()),
                                      (lambda_over_a_bound_method, ()),
                                      (lambda_over_an_argument_s_method, (Scaled(2.0),))],
                         ids=lambda v: getattr(v, "__name__", ""))
def test_a_bound_method_with_a_value_bound(fn, args, mode):
    g = sd.grad(fn, mode=mode)(X3.copy(), *args)
    check_grads_fd(fn, (X3.copy(),) + args, (0,), (g,))


def _line_of(fn, text):
    lines, first = inspect.getsourcelines(fn)
    return first + next(k for k, s in enumerate(lines) if text in s)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn, text, fix", [
    (partial_of_a_bound_method, "functools.partial(m.f, a=w)", "lambda v: m.f(v, a=w)"),
    (dict_attribute_written_through_another_name, 'P["w"] = np.sum(x)', "keep the value in a local"),
    (dict_attribute_written_in_place, 'BOX.d["w"] = np.sum(x)', "copy it into a local first"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_what_stays_refused_names_the_line_and_the_fix(fn, text, fix, mode):
    with pytest.raises(sd.SourcediffError) as info:
        sd.grad(fn, mode=mode)(X3.copy())
    message = str(info.value)
    assert f"{__file__}:{_line_of(fn, text)}:" in message and text in message, message
    assert fix in message, message


def closure_stored_and_called_on_a_global_object(x):
    a = np.sum(x ** 2)
    HOLD.fn = lambda v: v * a
    return np.sum(HOLD.fn(x))


@pytest.mark.parametrize("held", ["a plain run's closure", "a gradient call's"])
def test_a_closure_stored_and_called_on_a_global_object_after_another_call_stored_one(held):
    # (what HOLD.fn holds as the gradient compiles is another call's closure over another a:
    # neither resolve nor normalize may take it for the one this call stores)
    fn = closure_stored_and_called_on_a_global_object
    if held == "a plain run's closure":
        fn(X3 + 0.1)
    else:
        sd.grad(fn)(X3 + 0.1)
    for mode in MODES:
        g = sd.grad(fn, mode=mode)(X3.copy())
        check_grads_fd(fn, (X3.copy(),), (0,), (g,))


# ---------------------------------------------------------------- the object under another name


BOX_TOO = BOX
HOLDS_BOX = Holder([BOX])
ANOTHER = Box()


def read_under_another_name(x):
    s = x
    for t in range(2):
        BOX.set(np.sum(s ** 2))
        s = BOX.readw(x)
    return np.sum(s) + BOX_TOO.w * np.sum(x)


def read_through_another_object(x):
    s = x
    for t in range(2):
        BOX.set(np.sum(s ** 2))
        s = BOX.readw(x)
    return np.sum(s) + HOLDS_BOX.fn[0].w * np.sum(x)


def read_of_another_global(x):
    s = x
    for t in range(2):
        BOX.set(np.sum(s ** 2))
        s = BOX.readw(x)
    return np.sum(s) + ANOTHER.w * np.sum(x)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn", [read_under_another_name, read_through_another_object],
                         ids=lambda f: f.__name__)
def test_a_global_object_read_under_another_name_is_not_made_locals(fn, mode):
    # (its attributes made locals, BOX_TOO.w would read the value before the call's stores:
    # a wrong value and gradient; the store stays watched and that read is refused)
    reset_all()
    with pytest.raises(sd.AliasError, match=r"reads Box\.w back"):
        sd.grad(fn, mode=mode)(X3.copy())


def test_a_global_that_comes_to_hold_the_object_after_the_build_builds_anew():
    global ANOTHER
    old = ANOTHER
    try:
        reset_all()
        g = sd.grad(read_of_another_global)(X3.copy())
        check_grads_fd(read_of_another_global, (X3.copy(),), (0,), (g,))
        ANOTHER = BOX
        with pytest.raises(sd.AliasError, match=r"reads Box\.w back"):
            sd.grad(read_of_another_global)(X3.copy())
    finally:
        ANOTHER = old
