"""Values that change between calls of a gradient built once: closure variables rebound with
``nonlocal``, default values replaced, methods of a class monkeypatched or shadowed by an
instance attribute, and the higher-order transforms built over them. Each gradient is built
first, the state changed, and the SAME gradient object called again; the oracle is finite
differences of the function as it is now (tests/oracles.py)."""

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd, directional_fd

X = np.array([0.5, -1.25, 2.0])


def _scale_closure(c):
    def f(x):
        return np.sum(c * x ** 3)

    def set_c(value):
        nonlocal c
        c = value

    return f, set_c


def _hessian_fd(f, x, h=1e-5):
    """The hessian of f at x by central differences of finite-difference gradients."""
    n = x.size
    out = np.zeros((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = h
        for i in range(n):
            v = np.zeros(n)
            v[i] = 1.0
            out[i, j] = (directional_fd(f, (x + e,), 0, v) - directional_fd(f, (x - e,), 0, v)) \
                / (2 * h)
    return out


def test_nonlocal_rebound_float_reaches_a_built_gradient():
    # was: after c = 5.0 the gradient built for c = 2.0 gave [1.5, 9.375, 24] for [3.75, 23.4, 60]
    f, set_c = _scale_closure(2.0)
    df, vg = sd.grad(f), sd.value_and_grad(f)
    df(X), vg(X)
    set_c(5.0)
    check_grads_fd(f, (X,), (0,), (df(X),))
    value, g = vg(X)
    assert value == pytest.approx(f(X))  # (was the value for c = 2.0 too: 15.25 for 38.1)
    check_grads_fd(f, (X,), (0,), (g,))
    set_c(2.0)  # (and back)
    check_grads_fd(f, (X,), (0,), (df(X),))


def test_nonlocal_rebound_float_with_a_float_argument():
    # the single-float fast path (forward mode): was 12.0 for 30.0
    def make():
        c = 2.0

        def g(t):
            return c * t ** 3

        def set_c(value):
            nonlocal c
            c = value

        return g, set_c

    g, set_c = make()
    dg = sd.grad(g)
    assert dg(1.0) == pytest.approx(6.0)
    set_c(5.0)
    assert dg(1.0) == pytest.approx(15.0)


def test_nonlocal_rebound_function_in_the_closure():
    def make():
        act = np.sin

        def f(x):
            return np.sum(act(x))

        def set_act(a):
            nonlocal act
            act = a

        return f, set_act

    f, set_act = make()
    df = sd.grad(f)
    df(X)
    set_act(np.tanh)  # (was cos(x), sin's derivative)
    check_grads_fd(f, (X,), (0,), (df(X),))


def test_hessian_jacobian_and_grad_of_grad_follow_a_rebound_closure():
    # were built over the gradient for c = 2.0: H was diag(6 c x) with c = 2 after c = 5
    f, set_c = _scale_closure(2.0)
    H, J = sd.hessian(f), sd.jacobian(sd.grad(f))
    gg = sd.grad(sd.grad(lambda t: f(np.array([t]))))
    H(X), J(X), gg(1.0)
    set_c(5.0)
    expected = _hessian_fd(f, X)
    np.testing.assert_allclose(H(X), expected, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(J(X), expected, rtol=1e-4, atol=1e-3)
    assert gg(1.0) == pytest.approx(30.0)


def test_defaults_replaced_after_the_gradient_was_built():
    # was: f.__defaults__ = (5.0,) left grad(f) at c = 2.0 ([1.5, 9.375, 24] for [3.75, 23.4, 60]),
    # and even a new sd.grad(f) returned the cached one
    def f(x, c=2.0):
        return np.sum(c * x ** 3)

    def k(x, *, c=2.0):
        return np.sum(c * x ** 3)

    df, dk = sd.grad(f), sd.grad(k)
    df(X), dk(X)
    f.__defaults__ = (5.0,)
    k.__kwdefaults__ = {"c": 5.0}
    check_grads_fd(f, (X,), (0,), (df(X),))
    check_grads_fd(f, (X,), (0,), (sd.grad(f)(X),))
    check_grads_fd(k, (X,), (0,), (dk(X),))


def test_callee_defaults_replaced():
    # a helper's default bound in the caller's built gradient: was 8 x for 50 x
    def helper(z, c=2.0):
        return c * z

    def outer(x):
        return np.sum(helper(x) ** 2)

    do = sd.grad(outer)
    do(X)
    helper.__defaults__ = (5.0,)
    check_grads_fd(outer, (X,), (0,), (do(X),))
    check_grads_fd(outer, (X,), (0,), (sd.grad(outer)(X),))


class _Net:
    def act(self, z):
        return np.sin(z)

    def loss(self, x):
        return np.sum(self.act(x))


class _Scaled:
    @staticmethod
    def sq(z):
        return z ** 2

    def loss(self, x):
        return np.sum(3.0 * self.sq(x))


def test_method_monkeypatched_on_the_class():
    # was cos(x) (sin's derivative) after _Net.act became z ** 3: [0.88, 0.32, -0.42] for
    # [0.75, 4.69, 12]
    class Net(_Net):
        pass

    net = Net()
    dl = sd.grad(net.loss)
    dl(X)
    Net.act = lambda self, z: z ** 3
    check_grads_fd(net.loss, (X,), (0,), (dl(X),))


def test_staticmethod_replaced_on_the_class():
    class Scaled(_Scaled):
        pass

    s = Scaled()
    ds = sd.grad(s.loss)
    ds(X)
    Scaled.sq = staticmethod(lambda z: z ** 3)  # (was 6 x, the old sq's)
    check_grads_fd(s.loss, (X,), (0,), (ds(X),))


def test_method_shadowed_by_an_instance_attribute_is_refused():
    # was cos(x) for the instance's own act (2 x): the gradient is per class, the call per object
    net, other = _Net(), _Net()
    sd.grad(net.loss)(X)
    other.act = lambda z: z ** 2
    with pytest.raises(sd.SourcediffError, match=r"test_review17\.py:\d+.*self\.act"):
        sd.grad(other.loss)(X)


class _Activation:
    def __init__(self, k):
        self.k = k

    def __call__(self, z):
        return self.k * np.sin(z)


def test_callable_object_whose_class_call_is_replaced():
    # the object's __call__ was resolved when the gradient was built: after the class's
    # __call__ became k z ** 2 it still gave k cos(x) ([2.63, 1.62, -1.25] for [3, 6, 12])
    class Activation(_Activation):
        pass

    act = Activation(2.0)

    def f(x):
        return np.sum(act(x))

    df = sd.grad(f)
    df(X)
    act.k = 3.0  # (an attribute: read at run time, as before)
    check_grads_fd(f, (X,), (0,), (df(X),))
    Activation.__call__ = lambda self, z: self.k * z ** 2
    check_grads_fd(f, (X,), (0,), (df(X),))


def test_has_aux_with_a_tuple_of_active_arrays():
    # the aux half's gradient is the symbolic zero 0.0; the adjoint indexed it as a tuple:
    # TypeError 'float' object is not subscriptable (the loss alone differentiated fine)
    def f(x):
        return np.sum(x ** 3), (x, 2.0 * x)

    (value, (a, b)), g = sd.value_and_grad(f, has_aux=True)(X)
    assert value == pytest.approx(f(X)[0])
    np.testing.assert_array_equal(b, 2.0 * X)
    check_grads_fd(lambda x: f(x)[0], (X,), (0,), (g,))
    check_grads_fd(lambda x: f(x)[0], (X,), (0,), (sd.grad(f, has_aux=True)(X)[0],))


K_GLOBAL = 2.0


@sd.custom_vjp
def _scale_by_global(z):
    return K_GLOBAL * z


@_scale_by_global.defvjp
def _scale_by_global_vjp(g, ans, z):
    return (g * K_GLOBAL,)


@_scale_by_global.defjvp
def _scale_by_global_jvp(t, ans, z):
    return (t * K_GLOBAL,)


def _uses_global_rule(x):
    return np.sum(_scale_by_global(x) ** 2)


def test_custom_rule_reading_a_rebound_closure_variable():
    # the rule's closure value was bound when the gradient was built: after k = 3 the gradient
    # was 2 (3 x) 2 = 12 x for 18 x ([6, -15, 24] for [9, -22.5, 36])
    def make():
        k = 2.0

        @sd.custom_vjp
        def scale(z):
            return k * z

        @scale.defvjp
        def scale_vjp(g, ans, z):
            return (g * k,)

        def set_k(value):
            nonlocal k
            k = value

        return scale, set_k

    scale, set_k = make()

    def f(x):
        return np.sum(scale(x) ** 2)

    df = sd.grad(f)
    df(X)
    set_k(3.0)
    check_grads_fd(f, (X,), (0,), (df(X),))


def test_custom_rule_reading_a_rebound_module_global():
    # the same through a module global: reverse and forward mode, and a new sd.grad (cached)
    global K_GLOBAL
    df, dfwd = sd.grad(_uses_global_rule), sd.grad(_uses_global_rule, mode="forward")
    df(X), dfwd(X)
    try:
        K_GLOBAL = 3.0
        for g in (df(X), dfwd(X), sd.grad(_uses_global_rule)(X)):
            check_grads_fd(_uses_global_rule, (X,), (0,), (g,))
    finally:
        K_GLOBAL = 2.0


def test_function_read_off_a_module_that_is_rebound():
    # cfg.act(x) was resolved to np.sin when the gradient was built: after cfg.act = np.tanh
    # the gradient stayed cos(x) ([0.88, 0.32, -0.42] for tanh's [0.79, 0.28, 0.07])
    import types

    cfg = types.ModuleType("review17_cfg")
    cfg.act = np.sin

    def f(x):
        return np.sum(cfg.act(x))

    df = sd.grad(f)
    df(X)
    cfg.act = np.tanh
    check_grads_fd(f, (X,), (0,), (df(X),))


def test_function_read_off_a_class_that_is_replaced():
    # Square.of(x) and Model.act(self, x) were resolved when the gradient was built: after the
    # class's function was replaced the gradient stayed the old one's (2 x for 3 x ** 2)
    class Square:
        @staticmethod
        def of(z):
            return z ** 2

    class Inherits(Square):
        pass

    class Model(_Net):
        def loss(self, x):
            return np.sum(Model.act(self, x))

    def f(x):
        return np.sum(Inherits.of(x))

    model = Model()
    df, dm = sd.grad(f), sd.grad(model.loss)
    df(X), dm(X)
    Square.of = staticmethod(lambda z: z ** 3)
    Model.act = lambda self, z: z ** 2
    check_grads_fd(f, (X,), (0,), (df(X),))
    check_grads_fd(model.loss, (X,), (0,), (dm(X),))


class _Holder:
    def __init__(self, act):
        self.act = act

    def square(self, z):
        return np.sum(z ** 2)


HELD = _Holder(np.sin)


def _uses_held(x):
    return np.sum(HELD.act(x)) + HELD.square(x)


def test_function_read_off_an_object_held_in_a_global_or_the_closure():
    # HELD.act(x) was resolved to np.sin when the gradient was built; after HELD.act = np.tanh
    # (or the global rebound to another object, or a method shadowed on the object) the built
    # gradient kept cos(x) + 2 x ([2.88, 2.54, 3.58] for tanh's [1.79, 2.42, 4.07])
    global HELD
    df = sd.grad(_uses_held)
    df(X)
    try:
        HELD.act = np.tanh
        check_grads_fd(_uses_held, (X,), (0,), (df(X),))
        HELD = _Holder(np.cos)
        check_grads_fd(_uses_held, (X,), (0,), (df(X),))
        HELD.square = lambda z: np.sum(z ** 4)
        check_grads_fd(_uses_held, (X,), (0,), (df(X),))
    finally:
        HELD = _Holder(np.sin)
    inner = _Holder(np.sin)
    outer = _Holder(inner)

    def g(x):
        return np.sum(outer.act.act(x))  # (through an attribute holding another object)

    dg = sd.grad(g)
    dg(X)
    outer.act = _Holder(np.tanh)
    check_grads_fd(g, (X,), (0,), (dg(X),))


def _draws_at_zero(x):
    return np.sum(np.random.normal(size=3) * x)


def test_forward_mode_passes_draw_the_same_random_numbers():
    # at x = 0 every pass returns 0.0, so the check that the passes agree passed, and each
    # element's derivative came from another pass's draw: np.random.seed(0) gave
    # [1.76, 1.87, -0.10] (draws 1, 5 and 9) for one call's [1.76, 0.40, 0.98]; the same with a
    # Generator passed in, and for the hessian of sum(e * x ** 2)
    x0 = np.zeros(3)
    np.random.seed(0)
    g = sd.grad(_draws_at_zero, mode="forward")(x0)
    np.random.seed(0)
    np.testing.assert_array_equal(g, np.random.normal(size=3))

    def with_generator(x, rng):
        return np.sum(rng.normal(size=3) * x)

    g = sd.grad(with_generator, mode="forward")(x0, np.random.default_rng(0))
    np.testing.assert_array_equal(g, np.random.default_rng(0).normal(size=3))

    def squared(x):
        return np.sum(np.random.normal(size=3) * x ** 2)

    np.random.seed(0)
    H = sd.hessian(squared)(x0)
    np.random.seed(0)
    np.testing.assert_allclose(H, np.diag(2.0 * np.random.normal(size=3)))


class _Ticking:
    """A model whose state moves on every call (a step counter)."""

    def __init__(self):
        self.t = 0.0

    def loss(self, x):
        self.t = self.t + 1.0
        return np.sum(x * self.t)


TICKING = _Ticking()


def _uses_ticking(x):
    return TICKING.loss(x)


def test_forward_mode_passes_start_from_the_state_of_the_call():
    # at x = 0 every pass returns 0.0, so the check that the passes agree passed, and pass k saw
    # the counter at k: [1, 2, 3] for one call's [1, 1, 1] (the object left at t = 3); also for
    # the object passed in, held in a global, or in the closure
    global TICKING
    x0 = np.zeros(3)
    m = _Ticking()
    np.testing.assert_array_equal(sd.grad(m.loss, mode="forward")(x0), np.ones(3))
    assert m.t == 1.0
    m = _Ticking()
    np.testing.assert_array_equal(
        sd.grad(lambda x, m: m.loss(x), mode="forward")(x0, m), np.ones(3))
    assert m.t == 1.0
    TICKING = _Ticking()
    np.testing.assert_array_equal(sd.grad(_uses_ticking, mode="forward")(x0), np.ones(3))
    assert TICKING.t == 1.0
    held = _Ticking()
    np.testing.assert_array_equal(sd.grad(lambda x: held.loss(x), mode="forward")(x0),
                                  np.ones(3))
    assert held.t == 1.0


def test_a_helper_whose_closure_changes_between_its_forward_and_backward_halves():
    # h runs at c, then bump() rebinds c before the backward sweep: h's backward half must be
    # the one that pairs with the forward run (c), not one built for c + 1 ([3, 6, 12] for
    # [2, 4, 8] at the first call); and each later call sees the c of its own run
    def make():
        c = 2.0

        def h(z):
            return c * z ** 2

        def bump():
            nonlocal c
            c = c + 1.0
            return 0.0

        return h, bump

    h, bump = make()

    def f(x):
        a = np.sum(h(x))
        b = bump()
        return a + b

    df = sd.grad(f)
    for c in (2.0, 3.0, 4.0):
        np.testing.assert_allclose(df(X), 2.0 * c * X)
