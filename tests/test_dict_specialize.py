"""Dict arguments in the specializer (sourcediff/specialize.py): the shapes of their items are facts,
their gradients accumulate one variable per key, and a called user function's forward and
backward forms pass their facts on. Each test checks the source before/after and the values
against the generic code and finite differences."""

import copy

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import AliasError
from sourcediff.specialize import dicts, facts
from tests.oracles import check_grads_fd


def _generic(df):
    return df.__wrapped__


def _fd(fn, args, grads):
    """Finite differences for each item of a dict first argument."""
    params, rest = args[0], tuple(args[1:])
    for k in params:
        def along(v, k=k):
            return fn({**params, k: v}, *copy.deepcopy(rest))

        check_grads_fd(along, (params[k],), (0,), (grads[k],))


def _close(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert type(a[k]) is type(b[k]) and np.shape(a[k]) == np.shape(b[k]), k
        np.testing.assert_allclose(a[k], b[k], rtol=1e-12, atol=1e-13)


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def rnn(params, xs):
    h = np.zeros((xs.shape[1], params["U"].shape[0]))
    c = h
    for t in range(xs.shape[0]):
        a = sig(np.dot(xs[t], params["W"]) + np.dot(h, params["U"]) + params["b"])
        c = a * c + np.tanh(np.dot(h, params["U2"]))
        h = a * np.tanh(c)
    return np.sum(np.dot(h, params["V"]) ** 2)


def _rnn_args(rng, n_in=3, hidden=4, batch=2, steps=3, bias=(4,)):
    params = {"W": rng.standard_normal((n_in, hidden)) * 0.5,
              "U": rng.standard_normal((hidden, hidden)) * 0.5,
              "U2": rng.standard_normal((hidden, hidden)) * 0.5,
              "b": rng.standard_normal(bias) * 0.1,
              "V": rng.standard_normal((hidden, 1))}
    return params, rng.standard_normal((steps, batch, n_in))


def test_dict_items_are_known_and_the_gradient_dict_is_split_per_key():
    df = sd.grad(rnn, wrt=0)
    args = _rnn_args(np.random.default_rng(0))
    generic, text = sd.source(df), sd.source(df, *args)
    # before: generic dot helpers, a GradDict copied at every accumulation, a user call opaque
    assert "_sd.dot_grad_right(" in generic and "params_bar + _sd.scatter_basic(" in generic
    # after: matrix products, one accumulator per key, weight gradients stacked after the loop
    assert "dot_grad" not in text and "scatter_basic" not in text, text
    assert "params_bar_U = " in text and "_sd.add_stacked_products(params_bar_W," in text, text
    assert "return {'W': " in text
    before = copy.deepcopy(args)
    grads = df(*args)
    _close(grads, _generic(df)(*copy.deepcopy(before)))
    _fd(rnn, before, grads)
    for k in args[0]:  # the user's dict is untouched
        assert np.array_equal(args[0][k], before[0][k])


def test_dicts_with_other_item_shapes_are_other_signatures():
    df = sd.grad(rnn, wrt=0)
    rng = np.random.default_rng(1)
    a, b, c = _rnn_args(rng), _rnn_args(rng, bias=(1, 4)), _rnn_args(rng, hidden=5, bias=(5,))
    keys = {facts.signature(args) for args in (a, b, c)}
    assert len(keys) == 3
    assert facts.signature(a) == facts.signature(_rnn_args(rng))
    for args in (a, b, c, a):
        grads = df(*args)
        assert grads["b"].shape == args[0]["b"].shape
        _close(grads, _generic(df)(*args))
        _fd(rnn, args, grads)
    assert facts.signature(a) in df.__sourcediff_specializations__.table


SHARED = {}


def reshape_b():
    SHARED["b"] = SHARED["b"].reshape(1, -1)  # an item changes shape behind the argument's name


def through_a_global(params, x):
    z = np.dot(x, params["W"])
    reshape_b()
    z = z * 2.0
    return np.sum((z + params["b"]) ** 2)


def plain(params, x):
    z = np.dot(x, params["W"])
    z = z * 2.0
    return np.sum((z + params["b"]) ** 2)


def test_a_called_function_that_writes_somewhere_keeps_dict_facts_unknown():
    rng = np.random.default_rng(2)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    x = rng.standard_normal((5, 3))
    df = sd.grad(through_a_global, wrt=0)
    SHARED.clear()
    SHARED.update(copy.deepcopy(params))
    text = sd.source(df, SHARED, x)
    assert "scatter_basic" in text  # the facts of params' items are not trusted here
    # and the write itself reaches the argument through the global: both the specialized and
    # the generic code refuse the call at the helper's line (the derivative would not see it)
    for run in (df, _generic(df)):
        SHARED.clear()
        SHARED.update(copy.deepcopy(params))
        with pytest.raises(AliasError, match="reshape_b, which writes through SHARED"):
            run(SHARED, x)
    # the same code without the write: the items are facts
    assert "scatter_basic" not in sd.source(sd.grad(plain, wrt=0), params, x)


def reads_in_a_helper(p, x):
    return np.sum(np.dot(x, p["W"]) + p["b"])


def passes_the_dict_on(params, x):
    return reads_in_a_helper(params, x) * 2.0


def test_a_dict_passed_to_other_code_is_not_followed():
    rng = np.random.default_rng(3)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    x = rng.standard_normal((5, 3))
    df = sd.grad(passes_the_dict_on, wrt=0)
    grads = df(params, x)
    _close(grads, _generic(df)(params, x))
    _fd(passes_the_dict_on, (params, x), grads)


@pytest.mark.parametrize("value", [{"W": 1.0, "b": np.ones(4)}, {1: np.ones((3, 4)), 2: np.ones(4)},
                                   {(1, 2): np.ones(4)}, {str(k): np.ones(2) for k in range(80)}])
def test_dict_signature_entries(value):
    key = facts.dict_key(value)
    if any(type(k) not in (str, int) for k in value) or len(value) > 64:
        assert key is None and facts.dict_fact(value) is facts.TOP
    else:
        assert len(key) == len(value)
        assert type(facts.dict_fact(value)) is facts.Items


def test_writes_nothing_judges_code():
    assert dicts._writes_nothing(sig)
    assert not dicts._writes_nothing(reshape_b)

    def appends(z, out=[]):  # noqa: B006
        out.append(z)
        return z

    def in_place(z):
        np.multiply(z, 2.0, out=z)
        return z

    def calls_given_code(z):
        return np.apply_along_axis(reshape_b, 0, z)  # (numpy calls the function it is given)

    assert not dicts._writes_nothing(appends)
    assert not dicts._writes_nothing(in_place)
    assert not dicts._writes_nothing(calls_given_code)
    assert not dicts._safe_value(np.vectorize, 0) and dicts._safe_value(np.exp, 0)


def gated(x, w):
    s = np.zeros(x.shape[1])
    for t in range(x.shape[0]):
        s = s * w + sig(x[t] * w)  # sig's gradient is 0.0 until a first array is added to it
    return np.sum(s * s)


def test_an_adjoint_that_starts_as_the_symbolic_zero_has_array_facts_after_its_first_sum():
    df = sd.grad(gated, wrt=(0, 1))
    x, w = np.random.default_rng(4).standard_normal((4, 3)), np.linspace(0.5, 1.5, 3)
    text = sd.source(df, x, w)
    assert "_sd.add_grads" not in text and "_sd.add_grads" in sd.source(df), text
    grads = df(x, w)
    for a, b in zip(grads, _generic(df)(x, w)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    check_grads_fd(gated, (x, w), (0, 1), grads)


def rows_rnn(xs, Wx, Wh):
    h = np.zeros((xs.shape[1], Wh.shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + np.dot(h, Wh))
    return np.sum(h ** 2)


def rows_first_three(xs, Wx, Wh):
    h = np.zeros((xs.shape[1], Wh.shape[0]))
    for t in range(3):  # not every row: the product of all rows would do more than the loop
        h = np.tanh(xs[t] @ Wx + np.dot(h, Wh))
    return np.sum(h ** 2)


def rows_weight_changes(xs, Wx, Wh):
    h = np.zeros((xs.shape[1], Wh.shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + np.dot(h, Wh))
        Wx = Wx * 0.9  # a new matrix in each pass
    return np.sum(h ** 2)


def _rows_args(rng):
    return (rng.standard_normal((5, 2, 3)), rng.standard_normal((3, 4)) * 0.5,
            rng.standard_normal((4, 4)) * 0.5)


@pytest.mark.parametrize("fn,hoisted", [(rows_rnn, True), (rows_first_three, False),
                                        (rows_weight_changes, False)],
                         ids=["all_rows", "some_rows", "weight_changes"])
def test_products_of_a_loops_rows_are_one_product_before_the_loop(fn, hoisted):
    args = _rows_args(np.random.default_rng(5))
    df = sd.grad(fn, wrt=(0, 1, 2))
    text = sd.source(df, *args)
    assert ("_rows_product1 = (xs.reshape(" in text and "_rows_product1[t]" in text) == hoisted, text
    assert "_rows_product" not in sd.source(df)
    grads = df(*args)
    for a, b in zip(grads, _generic(df)(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    check_grads_fd(fn, args, (0, 1, 2), grads)


def test_rows_of_a_dict_items_product_are_hoisted_too():
    df = sd.grad(rnn, wrt=0)
    args = _rnn_args(np.random.default_rng(6))
    text = sd.source(df, *args)
    assert "_rows_product1 = (xs.reshape(" in text and "@ params['W']).reshape(" in text, text


def test_stacked_sums_read_each_list_once():
    """The two gates' products read the same h of a pass: one list, stacked once after the loop;
    each gate's bias gradient sums the rows its weight products read (stacked once too)."""
    from sourcediff import runtime

    def lstm_like(params, xs):
        h = np.zeros((xs.shape[1], params["U1"].shape[0]))
        for t in range(xs.shape[0]):
            a = np.tanh(np.dot(xs[t], params["W1"]) + np.dot(h, params["U1"]) + params["b1"])
            b = np.tanh(np.dot(xs[t], params["W2"]) + np.dot(h, params["U2"]) + params["b2"])
            h = a * b
        return np.sum(h ** 2)

    rng = np.random.default_rng(7)
    params = {k: rng.standard_normal(s) * 0.5 for k, s in
              [("W1", (3, 4)), ("U1", (4, 4)), ("b1", (4,)), ("W2", (3, 4)), ("U2", (4, 4)),
               ("b2", (4,))]}
    args = (params, rng.standard_normal((5, 2, 3)))
    df = sd.grad(lstm_like, wrt=0)
    text = sd.source(df, *args)
    assert "_params_bar_U2_lhs1.append(h)" in text and "_params_bar_U1_lhs1" not in text, text
    assert "params_bar_U1 = _sd.add_stacked_products(params_bar_U1, _stacked2, _stacked3)" in text
    # (the gates' gradient rows are written in place, stacked as views: stacked_rows.py)
    assert text.count("_sd.stack_rows(") == 1 and text.count("_rows1.reshape(-1, 4)") == 2, text
    assert "params_bar_b1 = _sd.add_stacked_sums(params_bar_b1, " in text, text
    grads = df(*args)
    _close(grads, _generic(df)(*args))
    _fd(lstm_like, args, grads)
    # the helpers, for no, one and several passes
    d = [rng.standard_normal((2, 3)) for _ in range(3)]
    assert runtime.add_stacked_sums(0.0, []) == 0.0
    np.testing.assert_allclose(runtime.add_stacked_sums(1.0, d[:1]), 1.0 + d[0].sum(axis=0))
    np.testing.assert_allclose(runtime.add_stacked_sums(0.0, runtime.stack_rows(d), True),
                               sum(x.sum(axis=0, keepdims=True) for x in d), rtol=1e-13)
    np.testing.assert_allclose(runtime.add_stacked_products(0.0, runtime.stack_rows(d), d),
                               sum(x.T @ x for x in d), rtol=1e-13)
    empty = runtime.stack_rows([np.zeros((0, 3)), np.zeros((0, 3))])
    assert runtime.add_stacked_sums(0.0, empty).shape == (3,)


def _two(x, w):
    return np.sum(x * w)


def test_the_entrys_key_for_arrays_is_the_signature():
    """The entry builds the key of a call with only arrays in one tuple display (its fast path),
    others in a loop: both must be facts.signature's key, or every call would rebuild."""
    df = sd.grad(_two, wrt=1)
    spec = df.__sourcediff_specializations__
    x, w = np.ones((2, 3)), np.ones(3)
    for args in [(x, w), (x, 2.0), (x, {"a": 1.0}), (x, w.astype(np.float32))]:
        before = spec.misses
        try:
            df(*args)
        except Exception:  # noqa: BLE001  (a dict is no array: only the key matters here)
            pass
        for _ in range(3):
            try:
                df(*args)
            except Exception:  # noqa: BLE001
                pass
        assert spec.misses == before + 1, args
        assert facts.signature(args) in spec.table


class _Holder:
    """An object that holds the same dict as the gradient's argument (a model and its params)."""

    def __init__(self, params):
        self.params = params

    def scale(self):
        self.params["W"] = self.params["W"] * 2.0  # a new W behind the argument's name


def _step_through(h, model):
    model.scale()  # (a method of an object: its code is not the helper's own)
    return h * 0.5


def rows_with_a_model(params, model, xs):
    h = np.zeros((xs.shape[1], params["U"].shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(np.dot(xs[t], params["W"]) + np.dot(h, params["U"]))
        h = _step_through(h, model)
    return np.sum(h ** 2)


def test_a_helper_that_calls_a_method_of_an_object_is_not_taken_as_writing_nothing():
    """A helper calling ``model.scale()`` runs code the bytecode check does not see (it changes
    params['W'] between passes): params' items stay unknown and W @ xs is not hoisted out of the
    loop, so the specialized gradient is the generic one (it was not: the hoisted product used
    the first W in every pass)."""
    rng = np.random.default_rng(11)

    def args():
        params = {"W": rng.standard_normal((3, 4)) * 0.5, "U": rng.standard_normal((4, 4)) * 0.5}
        return params, _Holder(params), rng.standard_normal((5, 2, 3))

    df = sd.grad(rows_with_a_model, wrt=0)
    a = args()
    assert "_rows_product" not in sd.source(df, *a)
    for _ in range(2):
        a = args()
        b = copy.deepcopy(a[0])
        fast = df(*a)
        _close(fast, _generic(df)(b, _Holder(b), a[2]))
    assert not dicts._writes_nothing(_step_through)

    def calls_what_it_is_given(fn, z):
        return fn(z)

    def puts(z):
        np.put_along_axis(z, np.zeros((1, 1), dtype=int), 1.0, 0)
        return z

    def reads_an_array(z):
        return z.sum(axis=0) + z.T.reshape(-1)[:1] + np.random.standard_normal()

    def calls_its_own_function(z):
        def twice(v):
            return v * 2.0

        half = lambda v: v * 0.5  # noqa: E731
        return twice(half(z))

    assert not dicts._writes_nothing(calls_what_it_is_given)
    assert not dicts._writes_nothing(puts)
    assert dicts._writes_nothing(reads_an_array)
    assert dicts._writes_nothing(calls_its_own_function)


def writes_through_a_list(params, held, x):
    q = held[0]  # (the caller passes params itself in the list)
    q["b"] = np.stack([q["b"], q["b"] * 2.0])  # params["b"] is now (2, 4)
    return np.sum((np.dot(x, params["W"]) + params["b"]) ** 2)


def test_an_item_store_into_another_container_keeps_dict_facts_unknown():
    """The dict argument reaches the code a second way (inside a list argument) and an item store
    through that way changes the shape of params['b']: an item store into anything but an array
    leaves the dict's items unknown (they were trusted: params['b']'s gradient was summed to the
    (4,) it had at entry, with other values than the generic code's (2, 4) one)."""
    rng = np.random.default_rng(12)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    x = rng.standard_normal((2, 3))
    df = sd.grad(writes_through_a_list, wrt=0)
    for _ in range(2):
        # (the list argument holding the dict argument itself: sourcediff gives held, which
        # the function writes into, its own copy, and the write would no longer reach params;
        # refused, by the specialized code and the generic code alike)
        a, b = copy.deepcopy(params), copy.deepcopy(params)
        with pytest.raises(sd.AliasError, match="the arguments held and params share memory"):
            df(a, [a], x)
        with pytest.raises(sd.AliasError, match="the arguments held and params share memory"):
            _generic(df)(b, [b], x)
        a = copy.deepcopy(params)
        fast = df(a, [copy.deepcopy(params)], x)
        _close(fast, _generic(df)(copy.deepcopy(params), [copy.deepcopy(params)], x))
        assert fast["b"].shape == (4,)
    # an item store into an array of the function's own keeps them
    assert "scatter_basic" not in sd.source(sd.grad(stores_into_an_array, wrt=0), params, x)


def stores_into_an_array(params, x):
    y = np.zeros(4)
    y[0] = x[0, 0]
    return np.sum((np.dot(x, params["W"]) + params["b"] + y) ** 2)


def _calls_what_it_is_given(fn, z):
    return fn(z)


def _adds_in_place(d):
    x = d["W"]
    x += 1.0  # (writes into d["W"] itself)
    return x


def _writes_out(d, y):
    return np.multiply(d["W"], 2.0, out=y)


def _reads_only(d, x):
    return np.sum(np.tanh(x) * d["W"]) + len(d)


def _calls_its_own_lambda(x):
    f = lambda z: z * 2.0  # noqa: E731
    return f(x)


def test_the_bytecode_check_sees_writes_on_every_supported_python():
    """``_writes_nothing`` reads bytecode, which differs by Python version: an in-place operator
    is INPLACE_ADD on 3.10 and BINARY_OP += after; keyword names are a constant before
    CALL_FUNCTION_KW (3.10) or CALL_KW (3.13) and KW_NAMES between; a call of a value it is given
    has no PUSH_NULL on 3.10. On 3.10 all three writers once passed as writing nothing, so a
    dict argument's items were trusted while a helper changed them (the CI matrix runs this file
    on 3.10 and 3.13)."""
    for writer in (_calls_what_it_is_given, _adds_in_place, _writes_out):
        assert not dicts._writes_nothing(writer), writer.__name__
    for reader in (_reads_only, _calls_its_own_lambda):
        assert dicts._writes_nothing(reader), reader.__name__
