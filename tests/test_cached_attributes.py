"""Values that carry a derivative stored on objects: ``self.X = X`` caches run as
Python runs them; a read of such a value back within the same gradient call either takes the
stored value (a read later in the same block) or is refused where it happens, never a silent zero.
Gradients are checked against central finite differences (tests/oracles.py)."""

import copy

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd

MODES = ["reverse", "forward"]
X0 = np.array([0.3, -1.2, 0.8])


class Layer:
    def __init__(self):
        self.W = np.array([0.5, -0.4, 1.5])
        self.X = None
        self.out = None

    def forward(self, X):
        self.X = X                       # a cache for a hand-written backward pass
        self.out = np.tanh(self.W * X)   # stored, then read back in this block
        return self.out * 2.0

    def read_cache(self):
        return np.sum(self.X)

    def backward(self, d):
        return d * 2.0 * (1.0 - self.out ** 2) * self.W


LAYER = Layer()


def cached_loss(X):
    return np.sum(LAYER.forward(X) ** 2)


def reads_back_through_a_plain_method(X):
    y = LAYER.forward(X)
    return np.sum(y) + LAYER.read_cache()   # read_cache() has no active argument: plain Python


def reads_back_through_getattr(X):
    y = LAYER.forward(X)
    return np.sum(y * getattr(LAYER, "X"))


def reads_back_in_the_caller(X):
    y = LAYER.forward(X)
    return np.sum(y * LAYER.X)


@pytest.mark.parametrize("mode", MODES)
def test_a_caching_forward_differentiates_and_leaves_the_cache_as_python_would(mode):
    g = sd.grad(cached_loss, mode=mode)(X0.copy())
    assert LAYER.X is not None and np.array_equal(LAYER.X, X0)   # the user's cache is there
    expected = 2.0 * (2.0 * np.tanh(LAYER.W * X0))   # d loss / d forward(X)
    np.testing.assert_allclose(g, LAYER.backward(expected), rtol=1e-12)   # their backward runs
    check_grads_fd(cached_loss, (X0.copy(),), (0,), (g,))


def stores_in_a_helper(X):
    return LAYER.forward(X)


def reads_back_what_a_helper_stored(X):
    y = stores_in_a_helper(X)            # the store is in another function, compiled apart
    return np.sum(y * LAYER.X)


def reads_back_through_an_argument(X, layer):
    y = layer.forward(X)                 # an object passed in: its class is known at run time
    return np.sum(y * layer.X)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn", [reads_back_through_a_plain_method, reads_back_through_getattr,
                                reads_back_in_the_caller], ids=lambda f: f.__name__)
def test_a_read_back_in_the_same_call_of_a_global_object_takes_the_stored_value(fn, mode):
    # (the methods of a global object are written into the function, as those of an object
    # built there, and the read after the store takes the stored value: compiler/inline.py)
    g = sd.grad(fn, mode=mode)(X0.copy())
    assert np.array_equal(LAYER.X, X0)   # the cache holds what Python would have stored
    check_grads_fd(fn, (X0.copy(),), (0,), (g,))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn, args, line", [
    (reads_back_what_a_helper_stored, (), "return np.sum(y * LAYER.X)"),
    (reads_back_through_an_argument, (Layer(),), "return np.sum(y * layer.X)"),
], ids=lambda v: getattr(v, "__name__", "x"))
def test_a_read_back_in_the_same_call_is_refused_at_the_read_naming_the_store(fn, args, line,
                                                                            mode):
    with pytest.raises(sd.AliasError) as info:
        sd.grad(fn, mode=mode)(X0.copy(), *args)
    text = str(info.value)
    assert "reads Layer.X back" in text and line in text, text
    assert "stored at " in text, text


def test_after_the_gradient_call_the_cache_reads_as_a_constant_again():
    sd.grad(cached_loss)(X0.copy())
    assert LAYER.read_cache() == pytest.approx(np.sum(X0))   # the user's own code, afterwards


class Stateful:
    """A recurrent cell that keeps its state between calls (truncated backpropagation)."""

    def __init__(self):
        self.h = np.zeros(3)
        self.U = np.array([[0.5, 0.1, 0.0], [0.0, 0.4, -0.2], [0.3, 0.0, 0.6]])

    def step(self, x):
        h = np.tanh(x + self.U @ self.h)
        self.h = h
        return np.sum(h ** 2)


def test_state_from_a_previous_call_is_a_constant_of_this_one():
    cell = Stateful()
    df = sd.grad(cell.step)
    for k in range(3):
        h_before = cell.h.copy()
        x = X0 + k

        def step_from(x, h=h_before):
            return np.sum(np.tanh(x + cell.U @ h) ** 2)

        g = df(x)
        check_grads_fd(step_from, (x,), (0,), (g,))
        np.testing.assert_allclose(cell.h, np.tanh(x + cell.U @ h_before))


def test_forward_mode_runs_every_pass_from_the_state_of_the_call():
    # forward mode runs the function once per input element; the state a pass moves (self.h)
    # is put back before the next, so each pass is the call's run (it was refused: the state
    # moved between runs), and the cell is left as one call leaves it
    cell, ref = Stateful(), Stateful()
    g = sd.grad(cell.step, mode="forward")(X0.copy())
    np.testing.assert_allclose(g, sd.grad(ref.step)(X0.copy()))
    np.testing.assert_array_equal(cell.h, ref.h)



def test_forward_mode_replays_the_random_draws_of_one_run():
    # (random draws no longer differ between the passes: each pass draws what the first did,
    # from the generator's state before it, so the derivative is that of one call; the
    # generator is left as one call leaves it. tests/test_review17.py has the draws that
    # coincided in value)
    rs = np.random.RandomState(0)

    def noisy(x):
        return np.sum(x * rs.normal(size=3))

    g = sd.grad(noisy, mode="forward")(X0.copy())
    J = sd.jacobian(lambda x: x * rs.normal(size=3), mode="forward")(X0.copy())
    ref = np.random.RandomState(0)
    np.testing.assert_array_equal(g, ref.normal(size=3))
    np.testing.assert_array_equal(J, np.diag(ref.normal(size=3)))
    np.testing.assert_array_equal(rs.normal(size=3), ref.normal(size=3))


class Forwarding:
    def __init__(self):
        self.W = np.array([1.0, 2.0, -1.0])
        self.h = None

    def reset(self):
        self.h = np.zeros(3)

    def stored_then_read(self, x):
        self.h = np.sin(x) * self.W
        z = self.h * x                    # the value just stored: its derivative flows on
        return np.sum(z + self.h)

    def reset_between(self, x):
        self.h = np.sin(x) * self.W
        self.reset()                      # a call in between: self.h is read as it then is
        return np.sum(self.h * x)

    def through_an_alias(self, x):
        other = self
        self.h = np.sin(x)
        other.h = np.cos(x)               # the same object under another name
        return np.sum(self.h)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["stored_then_read", "reset_between"])
def test_a_read_after_a_store_in_the_same_block_is_right(method, mode):
    obj = Forwarding()
    fn = getattr(obj, method)
    g = sd.grad(fn, mode=mode)(X0.copy())
    check_grads_fd(fn, (X0.copy(),), (0,), (g,))


@pytest.mark.parametrize("mode", MODES)
def test_a_store_through_another_name_is_not_taken_for_the_first(mode):
    obj = Forwarding()
    with pytest.raises(sd.AliasError, match=r"reads Forwarding.h back"):
        sd.grad(obj.through_an_alias, mode=mode)(X0.copy())


def test_second_order_through_a_caching_forward():
    H = sd.hessian(cached_loss)(X0.copy())
    g = sd.grad(cached_loss)
    for i in range(3):
        e = np.eye(3)[i] * 1e-5
        np.testing.assert_allclose(H[i], (g(X0 + e) - g(X0 - e)) / 2e-5, rtol=1e-5, atol=1e-7)


class WithDefault:
    X = None   # a class attribute default: stays the class's value

    def forward(self, X):
        self.X = X
        return np.sum(X ** 2)


def test_a_class_default_stays_and_other_instances_read_it():
    a, b = WithDefault(), WithDefault()
    g = sd.grad(a.forward)(X0.copy())
    np.testing.assert_allclose(g, 2 * X0)
    assert WithDefault.X is None and b.X is None and np.array_equal(a.X, X0)
    del a.X
    assert a.X is None


class Slotted:
    __slots__ = ("X",)

    def forward(self, X):
        self.X = X
        return np.sum(X ** 2)


class WithProperty:
    @property
    def X(self):
        return self._x

    @X.setter
    def X(self, v):
        self._x = v

    def forward(self, X):
        self.X = X
        return np.sum(X ** 2)


class WithSetattr:
    def __setattr__(self, name, value):
        object.__setattr__(self, "_" + name, value)

    def forward(self, X):
        self.X = X
        return np.sum(X ** 2)


@pytest.mark.parametrize("cls, why", [(Slotted, "keep no __dict__"),
                                      (WithProperty, "is a property or slot"),
                                      (WithSetattr, "defines its own attribute access")])
def test_a_store_that_cannot_be_watched_is_refused_at_the_store(cls, why):
    with pytest.raises(sd.AliasError) as info:
        sd.grad(cls().forward)(X0.copy())
    text = str(info.value)
    line = cls.forward.__code__.co_firstlineno + 1
    assert f"{__file__}:{line}:" in text and why in text and "self.X = X" in text, text


def test_a_refused_call_leaves_no_watch_behind():
    with pytest.raises(sd.AliasError):
        sd.grad(reads_back_what_a_helper_stored)(X0.copy())
    # the next call stores again and reads nothing back; and outside any call the cache reads
    sd.grad(cached_loss)(X0.copy())
    assert np.array_equal(LAYER.X, X0)


# ---------------------------------------------------------------- lists and dicts an object holds


class Recorder:
    """numpy-ml's bookkeeping: every forward appends what it computed to lists the layer holds."""

    def __init__(self):
        self.W = np.array([[0.5, -0.2, 0.1], [0.1, 0.3, -0.4], [0.2, 0.0, 0.6]])
        self.derived_variables = {"Z": [], "A": []}
        self.cache = []
        self.last = {}

    def forward(self, x):
        Z = x @ self.W
        self.derived_variables["Z"].append(Z)
        A = np.tanh(Z)
        self.derived_variables["A"].append(A)
        return A

    def forward_cache(self, x):
        A = np.tanh(x @ self.W)
        self.cache.append(A)
        return A

    def forward_dict(self, x):
        A = np.tanh(x @ self.W)
        d = self.last
        d["A"] = A
        return A

    def last_a(self):
        return self.derived_variables["A"][-1]


def test_bookkeeping_appends_over_steps_differentiate():
    rec = Recorder()

    def loss(x):
        h = x
        for _ in range(3):
            h = rec.forward(h)
        return np.sum(h ** 2)

    for mode in MODES:
        g = sd.grad(loss, mode=mode)(X0.copy())
        check_grads_fd(loss, (X0.copy(),), (0,), (g,))
    assert len(rec.derived_variables["A"]) > 0   # the bookkeeping ran, as Python runs it


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reader", ["a_method", "the_caller", "a_dropped_call_then_a_method",
                                    "a_dict_item", "a_list_item"])
def test_reading_back_what_a_gradient_call_appended_is_refused_at_the_read(reader, mode):
    rec = Recorder()

    def a_method(x):
        rec.forward(x)
        return np.sum(rec.last_a() ** 2)

    def the_caller(x):
        y = rec.forward(x)
        return np.sum(y * rec.derived_variables["A"][-1])

    def a_dropped_call_then_a_method(x):
        rec.forward(x)                       # called for its effect: its result is dropped
        return np.sum(rec.last_a())

    def a_dict_item(x):
        y = rec.forward_dict(x)
        return np.sum(y + rec.last["A"])

    def a_list_item(x):
        rec.forward_cache(x)
        return np.sum(rec.cache[-1])

    fn = locals()[reader]
    with pytest.raises(sd.AliasError, match=r"reads Recorder\.\w+ back in the same gradient call"):
        sd.grad(fn, mode=mode)(X0.copy())


class StoresIntoItsState:
    def __init__(self):
        self.cache = {}
        self.arr = np.zeros(3)

    def nested(self, x):
        self.cache["A"] = np.tanh(x)
        return np.sum(x)

    def into_array(self, x):
        self.arr[0] = x[0] * 2.0
        return np.sum(x)


@pytest.mark.parametrize("method", ["nested", "into_array"])
def test_a_method_called_for_its_effect_is_looked_into(method):
    # obj.method(x) as a statement ran as plain Python, so what it stored was never checked
    obj = StoresIntoItsState()

    def loss(x):
        if method == "nested":
            obj.nested(x)
        else:
            obj.into_array(x)
        return np.sum(obj.arr) + np.sum(x)

    with pytest.raises(sd.SourcediffError, match=r"test_cached_attributes\.py:\d+"):
        sd.grad(loss)(X0.copy())


class Layer2:
    def __init__(self):
        self.arr = np.zeros(3)

    def into_array(self, x):
        self.arr[0] = x[0] * 2.0
        return np.sum(x)

    def store(self, x):
        self.v = x * 2.0
        return 0.0


LAYERS = [Layer2(), Layer2()]


def effect_over_a_list_into_an_array(x):
    for layer in LAYERS:
        layer.into_array(x)          # the class is known at run time only
    return np.sum(LAYERS[0].arr) + np.sum(x)


def effect_over_a_list_storing(x):
    for layer in LAYERS:
        layer.store(x)
    return np.sum(LAYERS[0].v) + np.sum(x)


def effect_through_getattr(x):
    getattr(LAYERS[0], "store")(x)
    return np.sum(LAYERS[0].v) + np.sum(x)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn", [effect_over_a_list_into_an_array, effect_over_a_list_storing,
                                effect_through_getattr], ids=lambda f: f.__name__)
def test_a_call_for_its_effect_known_at_run_time_runs_through_its_forms(fn, mode):
    # these ran as plain Python: the gradient was 1 where 3 is right, silently
    with pytest.raises(sd.SourcediffError, match=r"test_cached_attributes\.py:\d+"):
        sd.grad(fn, mode=mode)(X0.copy())


def test_a_call_for_its_effect_that_stores_nothing_read_back_runs():
    def loss(x):
        for layer in LAYERS:
            layer.store(x)            # stored, never read back in this call
        return np.sum(x ** 2)

    for mode in MODES:
        np.testing.assert_allclose(sd.grad(loss, mode=mode)(X0.copy()), 2 * X0)
    np.testing.assert_allclose(LAYERS[1].v, 2 * X0)


# ---------------------------------------------------------------- found by a review


class Bypass:
    def vars_read(self, x):
        self.h = x * 2.0
        return np.sum(vars(self)["h"] ** 2)

    def dict_read(self, x):
        self.h = x * 2.0
        return np.sum(self.__dict__["h"] ** 2)

    def copy_read(self, x):
        self.h = x * 2.0
        return np.sum(copy.copy(self).h ** 2)

    def deepcopy_read(self, x):
        self.h = x * 2.0
        return np.sum(copy.deepcopy(self).h ** 2)

    def setattr_call(self, x):
        setattr(self, "h", x * 5.0)
        return np.sum(self.h ** 2)

    def setattr_loop(self, x):
        for k, v in {"h": x * 5.0}.items():
            setattr(self, k, v)
        return np.sum(self.h ** 2)

    def object_setattr(self, x):
        object.__setattr__(self, "h", x * 5.0)
        return np.sum(self.h ** 2)

    def dict_update(self, x):
        self.__dict__.update(h=x * 5.0)
        return np.sum(self.h ** 2)

    def view_written_after_the_store(self, x):
        h = x * 2.0
        self.h = h
        v = h[:]
        v += 1.0                      # numpy: self.h changes too
        return np.sum(self.h ** 2)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["vars_read", "dict_read", "copy_read", "deepcopy_read",
                                    "setattr_call", "setattr_loop", "object_setattr",
                                    "dict_update", "view_written_after_the_store"])
def test_no_way_around_the_watch_gives_a_silent_wrong_gradient(method, mode):
    # each gave 0 or the wrong value silently; now right (against finite differences) or refused
    fn = getattr(Bypass(), method)
    try:
        g = sd.grad(fn, mode=mode)(X0.copy())
    except sd.SourcediffError as exc:
        assert "test_cached_attributes.py:" in str(exc)
        return
    check_grads_fd(fn, (X0.copy(),), (0,), (g,))


class Base:
    scale = 1.0


class Sub(Base):
    def forward(self, x):
        self.out = x * 2.0                # installs the watch on Sub
        return np.sum(self.out)


def test_the_watch_reads_a_base_class_attribute_as_it_is_now():
    sd.grad(Sub().forward)(X0.copy())
    saved = Base.scale
    try:
        Base.scale = 3.0
        np.testing.assert_allclose(sd.grad(lambda x: np.sum(x * Sub().scale))(X0.copy()),
                                   np.full(3, 3.0))
    finally:
        Base.scale = saved


def test_gradient_calls_on_threads_do_not_end_each_others_watches():
    import threading

    outcomes = []

    def worker():
        rec = Recorder()

        def loss(x):
            rec.forward(x)
            return np.sum(rec.last_a() ** 2)

        for _ in range(20):
            try:
                sd.grad(loss)(X0.copy())
                outcomes.append("silent")
            except sd.AliasError:
                outcomes.append("refused")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes and set(outcomes) == {"refused"}


class Unrolled:
    """Bookkeeping inside the method's own loop (numpy-ml's RNN forward over time steps)."""

    def __init__(self):
        self.W = np.array([[0.5, -0.2, 0.1], [0.1, 0.3, -0.4], [0.2, 0.0, 0.6]])
        self.derived_variables = {"A": []}

    def forward(self, x):
        h = x
        for _ in range(3):
            h = np.tanh(h @ self.W)
            self.derived_variables["A"].append(h)
        return h


def test_bookkeeping_in_the_methods_own_loop_differentiates():
    layer = Unrolled()

    def loss(x):
        return np.sum(layer.forward(x) ** 2)

    for mode in MODES:
        g = sd.grad(loss, mode=mode)(X0.copy())
        check_grads_fd(loss, (X0.copy(),), (0,), (g,))


class Configured:
    def configure(self, x):
        for k, v in {"h": x * 5.0}.items():
            setattr(self, k, v)


def test_a_method_that_calls_setattr_for_its_effect_is_looked_into():
    obj = Configured()

    def loss(x):
        obj.configure(x)
        return np.sum(obj.h ** 2)

    for mode in MODES:
        with pytest.raises(sd.AliasError, match=r"reads Configured\.h back"):
            sd.grad(loss, mode=mode)(X0.copy())
