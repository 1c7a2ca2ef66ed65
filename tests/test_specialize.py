"""Shape specialization: gradients rewritten for one call signature (sourcediff/specialize.py).

The specialized code must give the generic code's gradients (bit for bit where it does the same
arithmetic), must fall back wherever a shape depends on array values, and must actually remove the
helper calls it claims to remove (which is what makes it fast; the timings are in benchmarks/).
"""

import copy
import math

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.specialize import facts, passes
from tests.catalogue import load_all
from tests.oracles import check_grads_fd

CASES = load_all()


def _generic(df):
    return df.__wrapped__  # the generic generated function, behind the entry wrapper


def _same(a, b):
    if isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
        return
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
        return
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_specialized_gradient_equals_the_generic_one(c):
    args = c.args()
    df = sd.grad(c.fn, wrt=c.wrt)
    before = copy.deepcopy(args)
    fast = df(*args)
    slow = _generic(df)(*copy.deepcopy(before))
    _same(fast, slow)
    # a second call with new values of the same signature reuses the specialization
    args2 = c.args(seed=1)
    _same(df(*args2), _generic(df)(*copy.deepcopy(args2)))


def test_most_catalogue_cases_are_specialized():
    changed = 0
    for c in CASES:
        df = sd.grad(c.fn, wrt=c.wrt)
        args = c.args()
        if sd.source(df, *args) != sd.source(df):
            changed += 1
    assert changed >= 0.6 * len(CASES), f"only {changed} of {len(CASES)} cases were specialized"


def mlp(x, w1, b1, w2, b2, y):
    h = np.maximum(x @ w1 + b1, 0.0)
    out = h @ w2 + b2
    return np.sum((out - y) ** 2)


def _mlp_args(rng, n=20):
    return (rng.standard_normal((n, 3)), rng.standard_normal((3, 8)), rng.standard_normal((1, 8)),
            rng.standard_normal((8, 1)), rng.standard_normal((1, 1)), rng.standard_normal((n, 1)))


def test_mlp_gradient_has_no_shape_helpers_left():
    args = _mlp_args(np.random.default_rng(0))
    df = sd.grad(mlp, wrt=(1, 2, 3, 4))
    text = sd.source(df, *args)
    for helper in ("unbroadcast", "unreduce", "grad_like", "check_wrt", "matmul_grad"):
        assert helper in sd.source(df)
        assert helper not in text, text
    assert "b2_bar = _ones20 @ out_bar" in text  # b2's gradient: a column sum, as a product
    assert "h_bar = _matmul2_bar * w2.T" in text  # (20, 1) @ (1, 8): one product per entry
    check_grads_fd(mlp, args, (1, 2, 3, 4), df(*args))


def test_a_product_over_a_contraction_of_one_is_a_broadcast_multiply():
    def outer(a, b, c):
        return np.sum(np.tanh(a @ b) * c)

    rng = np.random.default_rng(3)
    for shapes in (((6, 1), (1, 5), (6, 5)), ((2, 6, 1), (1, 5), (2, 6, 5)),
                   ((6, 2), (2, 5), (6, 5))):
        args = tuple(rng.standard_normal(s) for s in shapes)
        df = sd.grad(outer, wrt=(0, 1))
        text = sd.source(df, *args)
        contraction_one = shapes[0][-1] == 1
        assert ("_matmul1 = a * b" in text) == contraction_one, text
        assert ("_matmul1 = a @ b" in text) != contraction_one, text
        generic = df.__sourcediff_specializations__.generic
        for got, want in zip(df(*args), generic(*args)):
            np.testing.assert_array_equal(got, want)  # the same products, not just close
    # integers keep the matrix product (the rule is for floats)
    ints = (np.arange(6).reshape(6, 1), np.arange(5).reshape(1, 5), np.ones((6, 5)))
    assert "_matmul1 = a @ b" in sd.source(sd.grad(outer, wrt=2), *ints)


def colsum(x, b):  # the bias's gradient sums over rows, the forward sums z's columns
    z = np.tanh(x + b)
    return np.sum(z * z) + np.sum(np.sum(z, axis=0) ** 2) + np.sum(z.sum(0, keepdims=True) ** 3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_column_sums_are_products_with_a_bound_row_of_ones(dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((30, 4)).astype(dtype)
    b = rng.standard_normal((1, 4)).astype(dtype)
    df = sd.grad(colsum, wrt=(0, 1))
    text = sd.source(df, x, b)
    name = "_ones30" if dtype == np.float64 else "_ones30_f32"
    assert "= np.sum(z, axis=0)" not in text and f"_sum2 = {name}[0] @ z" in text, text
    assert "= z.sum(0, keepdims=True)" not in text and f"_sum4 = {name} @ z" in text, text
    assert ".sum(axis=(0,), keepdims=True)" not in text and f"b_bar = {name} @ " in text, text
    got = df(x, b)
    want = df.__sourcediff_specializations__.generic(x, b)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5 if dtype == np.float32 else 1e-12)
    if dtype == np.float64:
        check_grads_fd(colsum, (x, b), (0, 1), got)
    ones = passes._ONES[(30, np.dtype(dtype).str)]
    assert not ones.flags.writeable and np.all(ones == 1)  # shared between functions, read-only


def cubic(a, b, x, y):  # a and b scale arrays: their gradients are sums of products
    return np.sum((a + b * x + x * x * b - y) ** 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_of_a_scalar_factor_is_one_dot_product(dtype):
    rng = np.random.default_rng(6)
    x, y = (rng.standard_normal(50).astype(dtype) for _ in range(2))
    df = sd.grad(cubic, wrt=(0, 1))
    text = sd.source(df, 0.3, -0.2, x, y)
    assert ".sum()" in text and ".dot(x)" in text and ".dot(_mul2)" in text, text  # a's: a sum
    got = df(0.3, -0.2, x, y)
    want = df.__sourcediff_specializations__.generic(0.3, -0.2, x, y)
    for g, w in zip(got, want):
        assert type(g) is type(w)
        np.testing.assert_allclose(g, w, rtol=1e-5 if dtype == np.float32 else 1e-12)
    if dtype == np.float64:
        check_grads_fd(cubic, (0.3, -0.2, x, y), (0, 1), got)
    x2, y2 = x.reshape(5, 10), y.reshape(5, 10)  # (2-D: a sum, which needs no copy of x2)
    assert " @ " not in sd.source(df, 0.3, -0.2, x2, y2)
    assert ".dot(" not in sd.source(df, 0.3, -0.2, x2, y2)
    xi = np.arange(50)  # integers: the exact sum
    assert ".dot(x)" not in sd.source(df, 0.3, -0.2, xi, y)
    np.testing.assert_allclose(df(0.3, -0.2, xi, y), df.__sourcediff_specializations__.generic(
        0.3, -0.2, xi, y))


def test_column_sums_stay_sums_for_integers_and_long_columns(monkeypatch):
    def isum(x, w):
        return np.sum(np.sum(x, axis=0, keepdims=True) * w)

    x = np.arange(12).reshape(4, 3)
    w = np.ones((1, 3))
    df = sd.grad(isum, wrt=1)
    assert "@" not in sd.source(df, x, w)  # an integer sum stays exact and integer
    np.testing.assert_array_equal(df(x, w), x.sum(axis=0, keepdims=True))
    monkeypatch.setattr(passes, "_ONES_MAX_ROWS", 20)
    rng = np.random.default_rng(5)
    args = (rng.standard_normal((30, 4)), rng.standard_normal((1, 4)))

    def colsum_again(x, b):  # (a function of its own: grad(colsum) has its 30-row code cached)
        z = np.tanh(x + b)
        return np.sum(z * z) + np.sum(np.sum(z, axis=0) ** 2)

    df = sd.grad(colsum_again, wrt=(0, 1))
    text = sd.source(df, *args)
    assert "_ones" not in text and "b_bar = _add1_bar.sum(axis=(0,), keepdims=True)" in text, text
    assert "= z.sum(axis=0)" in text  # (a sum: the reduction methods pass calls it as a method)
    check_grads_fd(colsum_again, args, (0, 1), df(*args))


def test_each_signature_gets_its_own_specialization():
    df = sd.grad(mlp, wrt=(1, 2, 3, 4))
    rng = np.random.default_rng(1)
    small, large = _mlp_args(rng, 5), _mlp_args(rng, 40)
    assert "(5, 1)" not in sd.source(df, *small)  # shapes are facts, not literals in the code
    for args in (small, large, small):
        check_grads_fd(mlp, args, (1, 2, 3, 4), df(*args))
    # a (1, 8) bias given as a (8,) vector is another signature: its gradient sums differently
    alt = list(large)
    alt[2] = alt[2].reshape(8)
    grads = df(*alt)
    assert grads[1].shape == (8,)
    check_grads_fd(mlp, tuple(alt), (1, 2, 3, 4), grads)
    table = df.__sourcediff_specializations__.table
    fns = [table[facts.signature(a)] for a in (small, large, tuple(alt))]
    assert len({id(f) for f in fns}) == 3


def masked(x, w):
    keep = x > 0.0
    return np.sum(x[keep] * w[keep]) + np.sum(w)


def branch_shape(x, w):
    if np.sum(x) > 0:
        y = x[None, :] * w
    else:
        y = x * w
    return np.sum(y * y)


@pytest.mark.parametrize("fn", [masked, branch_shape])
def test_shapes_decided_by_values_stay_generic(fn):
    df = sd.grad(fn, wrt=(0, 1))
    rng = np.random.default_rng(2)
    for k in range(6):  # the same signature, different mask sizes and branches
        x = rng.standard_normal(7) * (1.0 if k % 2 else -1.0) + (0.5 if k % 3 else -0.5)
        w = rng.standard_normal(7)
        check_grads_fd(fn, (x, w), (0, 1), df(x, w))


def scalar_loop(x, a, b):
    for i in range(20):
        if x > 0:
            x = x * a + np.sin(x)
        else:
            x = x * b - np.cos(x)
    return x


def test_values_saved_only_for_shapes_are_no_longer_saved():
    df = sd.grad(scalar_loop, wrt=(0, 1))  # two inputs: reverse mode
    generic = sd.source(df)
    text = sd.source(df, 0.3, 1.1, -1.3)
    # (the generic code saves them as stand-ins, compiler/saves.py; the specialized not at all)
    assert "_stack.append(_sd.like_of(_mul1))" in generic and \
        "_stack.append(_sd.like_of(_sin1))" in generic
    for saved in ("append(_mul1)", "append(_sin1)", "like_of(_mul1)", "like_of(_sin1)"):
        assert saved not in text
    assert "_stack.append(x)" in text  # still needed: cos(x) in the adjoint
    for x0 in (0.3, -0.7, 1.9):
        grads = df(x0, 1.1, -1.3)
        assert all(type(g) is float for g in grads)
        check_grads_fd(scalar_loop, (x0, 1.1, -1.3), (0, 1), grads)


def test_one_float_input_runs_forward_mode():
    df = sd.grad(scalar_loop)
    text = sd.source(df, 0.3, 1.1, -1.3)
    assert text.startswith("def jvp_scalar_loop(") and "_stack" not in text
    assert "_stack" in sd.source(df)
    for x0 in (0.3, -0.7, 1.9):
        g = df(x0, 1.1, -1.3)
        assert type(g) is float
        np.testing.assert_allclose(g, _generic(df)(x0, 1.1, -1.3), rtol=1e-12)
    value, g = sd.value_and_grad(scalar_loop)(0.3, 1.1, -1.3)
    assert value == scalar_loop(0.3, 1.1, -1.3)
    np.testing.assert_allclose(g, df(0.3, 1.1, -1.3), rtol=1e-12)
    assert df(np.float64(0.3), 1.1, -1.3) == pytest.approx(g)  # numpy scalar: reverse mode
    with pytest.raises(sd.errors.NonScalarOutputError):
        sd.grad(lambda x: np.ones(3) * x)(2.0)


def loop_with_a_name_like_a_hoisted_one(x, a):
    np_sin = math.sqrt(2.0)  # the name the hoisted np.sin would take: np.sin gets another
    y = np.maximum(x, 0.0)
    for i in range(4):
        y = y * a + np.sin(y) * np_sin + math.cos(a)
    return np.sum(y)


def _code(text):
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def test_library_functions_in_loops_are_looked_up_once():
    """Inside a loop, ``np.sin`` is bound once when the specialized code is compiled (the lookup
    a careful hand hoists); outside loops, and for the runtime's helpers, the code keeps its
    spelling. A user name that the hoisted name would take is left alone."""
    df = sd.grad(scalar_loop, wrt=(0, 1))  # reverse mode: the primal and the adjoint loops
    text = _code(sd.source(df, 0.3, 1.1, -1.3))
    assert "np.sin(" not in text and "np.cos(" not in text and "np_cos(x)" in text, text
    for x0 in (0.3, -0.7, 1.9):
        check_grads_fd(scalar_loop, (x0, 1.1, -1.3), (0, 1), df(x0, 1.1, -1.3))

    df = sd.grad(loop_with_a_name_like_a_hoisted_one, wrt=(0, 1))
    x = np.array([0.4, -0.2, 1.3])
    text = _code(sd.source(df, x, 0.7))
    assert "np.maximum(x, 0.0)" in text and "np.sin(" not in text and "math_cos(a)" in text
    assert "np_sin = math.sqrt(2.0)" in text  # the user's own variable, still itself
    check_grads_fd(loop_with_a_name_like_a_hoisted_one, (x, 0.7), (0, 1), df(x, 0.7))


def test_float32_arguments_keep_their_dtype():
    args = tuple(a.astype(np.float32) for a in _mlp_args(np.random.default_rng(3)))
    df = sd.grad(mlp, wrt=(1, 2, 3, 4))
    for g, a in zip(df(*args), args[1:5]):
        assert g.dtype == np.float32 and g.shape == a.shape


def test_ties_in_a_relu_mask_keep_the_convention():
    x = np.array([[1.0, -1.0, 0.0]])
    w1 = np.eye(3)
    b1 = np.zeros((1, 3))
    w2 = np.ones((3, 1))
    b2 = np.zeros((1, 1))
    y = np.zeros((1, 1))
    g = sd.grad(mlp, wrt=1)(x, w1, b1, w2, b2, y)
    generic = _generic(sd.grad(mlp, wrt=1))(x, w1, b1, w2, b2, y)
    _same(g, generic)
    assert g[2, 2] == 0.0 and g[0, 0] != 0.0


def test_signature_key_separates_types_shapes_and_dtypes():
    a = np.zeros((2, 3))
    keys = {facts.signature(args) for args in [
        (a, 1.0), (a, 1), (a.astype(np.float32), 1.0), (a.T, 1.0), (a[:1], 1.0), (a, np.float64(1))]}
    assert len(keys) == 6


def test_calls_with_a_known_signature_find_their_code_in_the_table():
    """The call entry builds the signature key inline (it is the cost of every call); it must be
    the key ``facts.signature`` files the code under, or every call would rebuild it."""
    df = sd.grad(mlp, wrt=(1, 2))
    args = _mlp_args(np.random.default_rng(5))
    for _ in range(4):
        df(*args)
    df(args[0].astype(np.float32), *args[1:])
    spec = df.__sourcediff_specializations__
    assert spec.misses == 2 and facts.signature(args) in spec.table


def test_source_with_arguments_names_the_specialized_code():
    args = _mlp_args(np.random.default_rng(4))
    df = sd.grad(mlp, wrt=(1, 2, 3, 4))
    assert sd.source(df, *args).startswith("def grad_mlp(")
    unopt = sd.grad(mlp, wrt=(1, 2, 3, 4), optimize=False)
    assert sd.source(unopt, *args) == sd.source(unopt)  # unoptimized code is never specialized


def test_an_error_in_specialized_code_still_names_the_user_line():
    args = list(_mlp_args(np.random.default_rng(5)))
    df = sd.grad(mlp, wrt=(1, 2, 3, 4))
    df(*args)
    args[5] = np.zeros((3, 1))  # y no longer broadcasts against out
    with pytest.raises(ValueError) as info:
        df(*args)
    assert isinstance(info.value, sd.SourcediffError)
    assert "test_specialize.py" in str(info.value) and "out - y" in str(info.value)


def logistic(w, X, y):
    z = X @ w
    return np.mean(np.logaddexp(0.0, -y * z))


def test_large_temporaries_are_reused_in_place_and_arguments_stay_intact():
    import tracemalloc

    rng = np.random.default_rng(6)
    X = rng.standard_normal((50_000, 8))
    y = np.where(rng.standard_normal(50_000) > 0, 1.0, -1.0)
    w = rng.standard_normal(8) * 0.1
    df = sd.grad(logistic)
    text = sd.source(df, w, X, y)
    assert "out=" in text and "out=" not in sd.source(df, w, X[:100], y[:100])
    before = [a.copy() for a in (w, X, y)]
    g = df(w, X, y)
    for a, b in zip((w, X, y), before):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(g, _generic(df)(w, X, y), rtol=1e-12)

    def peak(fn):
        tracemalloc.start()
        try:
            fn(w, X, y)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert peak(df) < 0.75 * peak(_generic(df))  # three arrays of 50,000 instead of six


def test_module_data_read_by_the_function_is_not_frozen_into_the_specialization():
    import types

    config = types.ModuleType("config")
    config.n = 1

    def head(x, b):
        return np.sum(x[:config.n] + b)

    head.__globals__["config"] = config
    try:
        df = sd.grad(head, wrt=1)
        x, b = np.arange(1.0, 6.0), np.array([0.5])
        np.testing.assert_allclose(df(x, b), [1.0])
        config.n = 5  # x[:n] no longer has b's shape: b's gradient sums five ones
        np.testing.assert_allclose(df(x, b), [5.0])
    finally:
        del head.__globals__["config"]


def test_fuzz_104013_item_updated_through_a_branch():
    def f(x, y):
        s = x[-1]
        s -= (np.sum(x) if np.sum(y) > 0.23 else s)
        return np.sum(x) + np.sum(x + s)

    df = sd.grad(f, wrt=(0, 1))
    for x, y in [(np.array([0.3, -0.2]), np.ones((4, 2))), (np.array([0.3, -0.2]), -np.ones((4, 2)))]:
        _same(df(x, y), _generic(df)(x, y))
        check_grads_fd(f, (x, y), (0, 1), df(x, y))


def test_a_float_that_may_be_the_symbolic_zero_is_not_taken_for_an_array():
    def f(x, b, c):
        y = x * c if c > 0 else x * 0.0 + b  # b's gradient is 0.0 on one path, an array on the other
        return np.sum(y + b)

    df = sd.grad(f, wrt=(0, 1))
    x = np.arange(3.0)
    for c in (1.5, -1.5):
        _same(df(x, 0.5, c), _generic(df)(x, 0.5, c))
        check_grads_fd(f, (x, 0.5, c), (0, 1), df(x, 0.5, c))


def _mean_of_a_built_list(x):
    y = np.array([r * 2.0 for r in x])
    return np.mean(y) + np.mean(np.stack([x, x]) ** 2)


def _argument_rebound_to_another_shape(x, z):
    s = np.mean(x)
    x = z * 2.0
    return s * np.sum(x)


@pytest.mark.parametrize("fn,args", [
    (_mean_of_a_built_list, (np.linspace(-1.0, 1.0, 3),)),
    (_argument_rebound_to_another_shape, (np.linspace(-1.0, 1.0, 3), np.linspace(0.5, 2.0, 5))),
], ids=["list_built_by_appends", "argument_rebound"])
def test_facts_of_values_that_change_after_they_are_first_seen(fn, args):
    """A list filled by append is not the empty list it started as, and a value popped back from
    the stack may be the argument itself (fuzz find: a mean's count became 0, then 5 for 3)."""
    wrt = tuple(range(len(args)))
    df = sd.grad(fn, wrt=wrt)
    grads = df(*copy.deepcopy(args))
    assert sd.source(df, *args) != sd.source(df)  # the specialized code ran
    check_grads_fd(fn, args, wrt, grads)


def test_the_shared_row_of_ones_lives_only_as_long_as_code_binding_it():
    # (the cache held a row for every batch size ever met, up to 512 KB each, for good)
    import gc

    rng = np.random.default_rng(5)
    x = rng.standard_normal((37, 4))
    b = rng.standard_normal((1, 4))
    df = sd.grad(colsum, wrt=(0, 1))
    df(x, b)
    key = (37, np.dtype(np.float64).str)
    assert key in passes._ONES  # bound by the specialized gradient
    del df
    sd.clear_cache()
    gc.collect()
    assert key not in passes._ONES


def test_a_numpy_float_scalar_of_unknown_value_is_tried_as_zero_and_not():
    # np.float64 is a float: a helper takes its 0 for the symbolic zero and returns the other
    # operand, so the fact of add_grads(np.float64, float32 array) was a float32 array where the
    # sum of a non-zero scalar is float64 (an unsound fact; now both values are tried)
    from sourcediff import runtime
    from sourcediff.specialize.facts import Arr, fact_of_signature
    from sourcediff.specialize.inference import _evaluate1

    scalar = fact_of_signature(np.float64(2.0))
    array = fact_of_signature(np.ones(3, np.float32))
    fact = _evaluate1(runtime.add_grads, [scalar, array], {}, ())
    real = runtime.add_grads(np.float64(2.0), np.ones(3, np.float32))
    assert not (type(fact) is Arr and fact.dtype != real.dtype), fact
    # float64 with float64 keeps its fact
    same = _evaluate1(runtime.add_grads, [scalar, fact_of_signature(np.ones(3))], {}, ())
    assert type(same) is Arr and same.dtype == np.float64 and same.shape == (3,)


try:
    import scipy.special as _special
except ImportError:  # scipy is optional
    _special = None


def _specialized(fn, args, wrt, rtol=1e-12, fd=True):
    """The specialized source of grad(fn) for ``args``, after checking its gradients against the
    generic code's (same types) and, with ``fd``, against finite differences."""
    df = sd.grad(fn, wrt=wrt)
    text = sd.source(df, *args)
    got = df(*args)
    want = df.__sourcediff_specializations__.generic(*args)
    for g, w in zip(got, want):
        assert type(g) is type(w)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-12)
    if fd:
        check_grads_fd(fn, args, wrt, got)
    return text, got


def gmm_nll(means, log_sigmas, logits, X):
    log_w = logits - _special.logsumexp(logits)
    diff = X[:, None, :] - means[None, :, :]
    log_p = -0.5 * np.sum(diff ** 2 * np.exp(-2.0 * log_sigmas), axis=2) - \
        np.sum(log_sigmas, axis=1) - 0.5 * X.shape[1] * np.log(2.0 * np.pi)
    return -np.sum(_special.logsumexp(log_w + log_p, axis=1))


def test_scipy_logsumexp_and_numpy_constants_keep_the_facts_known():
    """A value computed from scipy.special.logsumexp, or from np.pi, had no fact, nor had anything
    computed from it: the whole gradient of a mixture model kept its generic helpers (1.4x the
    hand-written gradient). Now logsumexp declares that its result's shape follows from its
    arguments (shapes="evaluate") and the float constants of numpy and math are known."""
    pytest.importorskip("scipy")
    rng = np.random.default_rng(7)
    args = (rng.normal(size=(3, 2)), rng.normal(size=(3, 2)) * 0.2, rng.normal(size=3),
            rng.normal(size=(40, 2)))
    text, _ = _specialized(gmm_nll, args, (0, 1, 2), rtol=1e-11)
    assert "_sd.unbroadcast" not in text and "_sd.grad_like(logits_bar" not in text, text


def neg_sums(x, b, c):
    return np.sum(x - b) + np.sum(np.sin(x) - c)


def test_a_negated_gradient_is_summed_then_negated():
    """unbroadcast(-g, b) (the gradient of the right operand of a subtraction) summed -g: a
    negation of the whole of g before the sum. It is -(g summed) now, the same numbers."""
    rng = np.random.default_rng(8)
    x, b = rng.normal(size=(50, 4)), rng.normal(size=(1, 4))
    text, got = _specialized(neg_sums, (x, b, 0.5), (1, 2), rtol=1e-13, fd=False)
    assert "(-" not in text and "-(" in text, text
    np.testing.assert_allclose(got[0], -np.full((1, 4), 50.0))


def linalg_and_math(x, A, s):
    r = A @ x
    n = np.shape(x)[0]
    return np.linalg.norm(r) * math.exp(s) + np.sum(np.linalg.inv(A) @ x) / n + abs(s) * np.sum(x)


def test_linalg_math_and_shape_results_keep_the_facts_known():
    """np.linalg.norm, np.linalg.inv, math.exp, abs and np.shape had no facts: what was computed
    from them kept its generic helpers. They declare theirs now (inv on identity stand-ins,
    math's float functions as floats, shapes as the signature's)."""
    rng = np.random.default_rng(9)
    args = (rng.normal(size=3), rng.normal(size=(3, 3)) + 3.0 * np.eye(3), 0.4)
    text, _ = _specialized(linalg_and_math, args, (0, 1, 2))
    assert "_sd.unbroadcast" not in text and "_sd.grad_like" not in text, text


def vectors_clipped(x, w, s):
    return np.dot(x, w) * s + np.sum(np.clip(x, -0.5, 0.5) * w) + np.einsum("i,i->", x, w * s)


def test_vector_products_clip_and_einsum_keep_the_facts_known():
    """np.dot of two vectors, np.clip's bounds and an einsum's gradients (helpers returning a
    scalar, or a tuple read by index) had no facts: what followed kept its generic helpers."""
    rng = np.random.default_rng(10)
    args = (rng.normal(size=4), rng.normal(size=4), 0.7)
    text, _ = _specialized(vectors_clipped, args, (0, 1, 2))
    assert "_sd.unbroadcast" not in text and "_sd.grad_like" not in text, text


def _poly3(x, a, b=0.5, *, c=2.0):
    return a + b * x + c * x * x


def calls_with_defaults(x, a):
    return np.sum(_poly3(x, a) * _poly3(x, 1.5, c=a)) + np.sum(_poly3(x, a=a, b=a))


def test_a_helper_called_with_defaults_and_keywords_keeps_the_facts_known():
    """A call of the user's helper that left a parameter to its default, or passed one by
    keyword, had no fact (the inference of the callee bound positional arguments only): what
    followed kept its generic helpers. The call is bound as Python binds it now."""
    rng = np.random.default_rng(11)
    text, _ = _specialized(calls_with_defaults, (rng.normal(size=5), 0.3), (0, 1))
    assert "_sd.unbroadcast" not in text and "_sd.grad_like" not in text, text
