"""Review 21: objects, higher order, dtypes and other array types (each test failed on the code
before its fix)."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import InactiveArgumentError


def _scalar(x):
    return np.sum(np.exp(x) * np.sin(x)) + np.sum(x ** 3) / 3.0


def _vector(x):
    return np.sin(x) * 2.0


@pytest.mark.parametrize("x", [np.array([1, 2]), np.array([True, False])])
@pytest.mark.parametrize("fn,mode", [(_scalar, "auto"), (_vector, "reverse"), (_vector, "auto")])
def test_a_reverse_jacobian_at_an_integer_or_boolean_argument_is_refused_not_nan(x, fn, mode):
    # (it gave [nan, nan]: the reverse rows hold None for an argument that is not a float)
    with pytest.raises(InactiveArgumentError, match="cannot carry a gradient"):
        sd.jacobian(fn, mode=mode)(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.longdouble])
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_a_jacobian_and_a_hessian_keep_a_float32_argument_s_dtype(dtype, mode):
    # (they were float64 for float32 and float16 arguments; JAX and PyTorch keep the dtype)
    x = np.array([0.7, -0.2], dtype=dtype)
    jac = sd.jacobian(_vector, mode=mode)(x)
    assert jac.dtype == dtype
    assert sd.hessian(_scalar)(x).dtype == dtype
    ref = sd.jacobian(_vector, mode=mode)(x.astype(np.float64))
    np.testing.assert_allclose(jac.astype(np.float64), ref, rtol=2e-3)


def _products(x):
    return np.sum(x * x) + np.sum(np.sin(x))


def _weighted(w, m):
    return np.sum(m * w)


def _tree(p):
    return np.sum(p[0] * p[0])


_A = np.array([[1.0, -2.0, 0.5], [0.3, 1.5, -0.7], [2.0, 0.1, -1.1]])


@pytest.mark.parametrize("other", [np.matrix(_A), np.ma.masked_array(_A, mask=_A > 1.0)],
                         ids=["matrix", "masked"])
@pytest.mark.parametrize("how", [
    lambda o: sd.grad(_products)(o), lambda o: sd.grad(_products, mode="forward")(o),
    lambda o: sd.grad(_products, optimize=False)(o), lambda o: sd.value_and_grad(_products)(o),
    lambda o: sd.jacobian(_products)(o), lambda o: sd.hessian(_products)(o),
    lambda o: sd.vjp(_products, o)[1](1.0), lambda o: sd.grad(_weighted)(_A, o),
    lambda o: sd.grad(_weighted, mode="forward")(_A, o), lambda o: sd.grad(_tree)([o]),
    lambda o: sd.tape.grad_of(_products, (o,)), lambda o: sd.tape.grad_of(_weighted, (_A, o)),
], ids=["grad", "forward", "noopt", "value_and_grad", "jacobian", "hessian", "vjp",
        "constant", "constant-forward", "tree", "tape", "tape-constant"])
def test_an_np_matrix_or_a_masked_array_is_refused_not_differentiated_as_an_ndarray(other, how):
    # (np.matrix: * is a matrix product, the rules' elementwise one; grad(sum(x * x)) gave
    # 2 x.T-like numbers, finite differences x + x.T products; a masked array: its sums skip the
    # masked entries, the forward and reverse modes disagreed, the hessian was wrong)
    with pytest.raises(sd.SourcediffError, match="np.matrix|masked array"):
        how(other)


def _scale_in_place(x, y):
    x *= 2.0
    return np.sum(y * x[:2])


def _doubles(x):
    x *= 2.0
    return x


def _through_a_helper(x, y):
    z = _doubles(x)
    return np.sum(y * z[:2])


def _in_a_loop(x, y):
    for _ in range(2):
        x += y[0]
    return np.sum(y * x[:2])


@pytest.mark.parametrize("fn", [_scale_in_place, _through_a_helper, _in_a_loop])
@pytest.mark.parametrize("wrt", [0, 1])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_op_assign_into_a_parameter_another_parameter_is_a_view_of_is_refused(fn, wrt, mode):
    # (f(a, a[1:3]) with x *= 2.0: numpy doubles y too, sourcediff gave y its own value; the
    # value was -0.202 where Python gives -0.405, and d/dy 2 x[:2] where it is 4 x[:2])
    a = np.array([0.126, -0.132, 0.640, 0.105])
    with pytest.raises(sd.AliasError, match="memory y shares|shares memory"):
        sd.grad(fn, wrt, mode=mode)(a, a[1:3])
    with pytest.raises(sd.AliasError, match="memory y shares|shares memory"):
        sd.value_and_grad(fn, wrt)(a, a[1:3])


@pytest.mark.parametrize("fn", [_scale_in_place, _through_a_helper])
def test_op_assign_into_a_parameter_sharing_nothing_is_differentiated(fn):
    from tests.oracles import check_grads_fd
    a = np.array([0.126, -0.132, 0.640, 0.105])
    y = a[1:3].copy()
    for mode in ["reverse", "forward"]:
        grads = sd.grad(fn, (0, 1), mode=mode)(a.copy(), y)
        check_grads_fd(fn, (a.copy(), y), (0, 1), grads)


class _Scaled:
    def __init__(self, w):
        self.w = w

    def scale(self, x):
        self.w *= 2.0
        return np.sum(self.w * x)


def _method_scales(m, x):
    return m.scale(x)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_attribute_op_assign_into_memory_a_parameter_shares_is_refused(mode):
    # (m.w is x: self.w *= 2.0 doubles x too; value 0.887 where Python gives 1.774)
    a = np.array([0.126, -0.132, 0.640])
    with pytest.raises(sd.AliasError, match="changes x|memory x shares"):
        sd.grad(_method_scales, 1, mode=mode)(_Scaled(a), a)
    m = _Scaled(np.ones(3))  # (sharing nothing: as Python runs it, m.w doubled by each call)
    np.testing.assert_allclose(sd.grad(_method_scales, 1, mode=mode)(m, a), 2.0)
    np.testing.assert_allclose(m.w, 2.0)


class _Counting:
    def __init__(self, w):
        self.w, self.calls, self.t, self.seen = w, 0, np.zeros(1), [1.0]

    def forward(self, x):
        self.calls += 1
        return np.tanh(x @ self.w)

    def forward_ticks(self, x):
        self.t += 1.0
        return np.tanh(x @ self.w)

    def forward_notes(self, x):
        self.seen += [2.0]
        return np.tanh(x @ self.w) * len(self.seen)

    def through(self, x):
        return self.forward_ticks(x) * 2.0

    def loss(self, x):  # (a counter, then self read again)
        return np.sum(self.forward(x) ** 2) + np.sum(self.w)

    def loss_ticks(self, x):
        return np.sum(self.forward_ticks(x) ** 2) * self.t[0]

    def loss_held_through(self, x):  # (t is self.t: numpy's += through a helper changes it)
        t = self.t
        return np.sum(self.through(x)) * t[0]

    def loss_held_list(self, x):
        seen = self.seen
        return np.sum(self.forward_notes(x)) * len(seen)


_X = np.array([[0.3, -0.5], [1.2, 0.1]])
_W = np.array([[1.0, 0.5], [-0.3, 0.8]])


@pytest.mark.parametrize("method", ["loss", "loss_ticks"])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_counter_in_a_method_called_through_self_then_self_read(method, mode):
    # (self.calls += 1 in forward, then self.w read: refused, "this call writes in place into
    # memory self shares"; the counter is an int, its op= a store into self's slot)
    from tests.oracles import check_grads_fd
    m = _Counting(_W.copy())
    g = sd.grad(getattr(m, method), mode=mode)(_X)
    check_grads_fd(lambda x: getattr(_Counting(_W.copy()), method)(x), (_X,), (0,), (g,))
    assert m.calls + m.t[0] == 1  # (as Python: one run)


@pytest.mark.parametrize("method", ["loss_held_through", "loss_held_list"])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_op_assign_into_an_attribute_the_caller_holds_is_refused(method, mode):
    # (through a method of self's: value 0.0 where Python gives 3.19; self.seen += [2.0] with
    # seen = self.seen held: 3.19 where Python gives 6.37; both modes)
    with pytest.raises(sd.AliasError, match="memory (t|seen) shares"):
        sd.grad(getattr(_Counting(_W.copy()), method), mode=mode)(_X)


class _Ticking:
    def __init__(self):
        self.t = np.zeros(1)

    def tick(self, x):
        self.t += 1.0
        return x * 2.0

    def __call__(self, x):
        self.t += 1.0
        return x * 2.0


class _Holder:
    def __init__(self):
        self.layer, self.layers = _Ticking(), [_Ticking(), _Ticking()]

    def through_attribute(self, x):  # (t is self.layer.t; numpy's += in tick changes it)
        t = self.layer.t
        return np.sum(self.layer.tick(x)) * t[0]

    def through_a_local(self, x):
        layer = self.layer
        t = layer.t
        return np.sum(layer.tick(x)) * t[0]

    def through_a_loop(self, x):
        t = self.layers[0].t
        for layer in self.layers:
            x = layer.tick(x)
        return np.sum(x) * t[0]

    def through_call(self, x):
        t = self.layers[0].t
        for layer in self.layers:
            x = layer(x)
        return np.sum(x) * t[0]

    def through_a_bound_method(self, x):
        step = self.layer.tick
        t = self.layer.t
        return np.sum(step(x)) * t[0]

    def read_after(self, x):  # (self.layers[0].t read after the calls: their new value)
        for layer in self.layers:
            x = layer(x)
        return np.sum(x) * self.layers[0].t[0]


@pytest.mark.parametrize("method", ["through_attribute", "through_a_local", "through_a_loop",
                                    "through_call", "through_a_bound_method"])
def test_a_method_found_at_run_time_writing_into_what_the_caller_holds_is_refused(method):
    # (value -0.0 where Python gives -0.4 (-0.8 through the loops): the method of an object met at
    # run time was never looked into for what it writes)
    # (through_a_loop: _Holder's layers, stored by one unpacking assignment, are held objects
    # whose methods are known when compiling, and the write is refused as a held object's is)
    x = np.array([0.3, -0.5])
    with pytest.raises(sd.AliasError, match="memory t shares|changes t, which shares memory"):
        sd.value_and_grad(getattr(_Holder(), method))(x)


def test_a_method_found_at_run_time_writing_into_its_object_read_after_runs():
    from tests.oracles import check_grads_fd
    x = np.array([0.3, -0.5])
    value, g = sd.value_and_grad(_Holder().read_after)(x)
    assert value == pytest.approx(_Holder().read_after(x))
    check_grads_fd(lambda x: _Holder().read_after(x), (x,), (0,), (g,))


class _Stasher:
    def stash(self, buf, x):
        buf[0] = x[0] * 3.0
        return x * 2.0


class _UsesStasher:
    def __init__(self):
        self.layer = _Stasher()

    def loss(self, x):  # (buf read after the call: numpy's write shows there)
        layer = self.layer
        buf = np.zeros(2)
        y = layer.stash(buf, x)
        return np.sum(y) + np.sum(buf)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_method_found_at_run_time_writing_into_an_argument_read_after_is_refused(mode):
    # (value -0.4 where Python gives 0.5, both modes)
    with pytest.raises(sd.AliasError, match="memory buf shares"):
        sd.grad(_UsesStasher().loss, mode=mode)(np.array([0.3, -0.5]))


_GLOBAL_MATRIX = np.matrix(_A[:2, :2])


def _reads_a_global_matrix(x):
    return np.sum(_GLOBAL_MATRIX * x)


def test_an_np_matrix_read_from_a_global_is_refused_in_reverse_mode():
    # (gave [[4, 6], [4, 6]] where finite differences give [[4, 4], [6, 6]]-like numbers: the
    # gradient was itself an np.matrix)
    with pytest.raises(sd.SourcediffError, match="np.matrix"):
        sd.grad(_reads_a_global_matrix)(np.array([[0.5, -1.0], [2.0, 0.3]]))
