"""Review 39: backends and caches, where the same generated source could give another number.

The numba backend compiled code in which numba's types compute otherwise than Python's and
numpy's: a Python bool and a numpy bool scalar are one type there (``~True`` is -2 in Python and
False in numba; ``np.True_ + np.True_`` is True in numpy and 2 in numba), and numba computes an
int32 or float32 value with a Python number in 64 bits where numpy keeps its dtype (NEP 50). Each
gave a silent wrong gradient; now the lowered code computes what numpy does, or the numpy code runs
after the backend's one JitFallbackWarning. Tests that compile skip when numba is absent.
"""

import warnings

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd


@pytest.fixture
def numba():
    return pytest.importorskip("numba")


def _both(f, *args):
    """(numba's gradient, numpy's gradient, the numba log record of the call)."""
    ref = sd.grad(f)(*args)
    df = sd.grad(f, backend="numba")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.JitFallbackWarning)
        got = df(*args)
    return got, ref, df.jit_log[-1]


X = np.array([1.0, 2.0, 3.0, 4.0])


def invert_python_bool(x, flag):
    return np.sum(x * (~flag))  # (~True is -2)


def invert_python_bool_of_shapes(x):
    n = x.shape[0]
    return x[0] * ~(n > 2)


def add_numpy_bools(x):
    c = (x[0] > 0) + (x[1] > 0)  # (np.True_ + np.True_ is True: 1, not 2)
    return x[2] * c


def add_python_and_numpy_bools(x, a):
    c = (a > 0) + (x[1] > 0)
    return x[0] * c


def add_python_bools(x, a):
    c = (a > 0) + (a > 0.1)  # (Python's: 2)
    return x[0] * c


@pytest.mark.parametrize("f, args", [
    (invert_python_bool, (X, True)),
    (invert_python_bool, (X, False)),
    (invert_python_bool_of_shapes, (X,)),
    (add_numpy_bools, (X,)),
    (add_python_and_numpy_bools, (X, 0.5)),
    (add_python_bools, (X, 0.5)),
])
def test_bool_scalars_compute_as_python_and_numpy_do(numba, f, args):
    got, ref, record = _both(f, *args)
    np.testing.assert_array_equal(got, ref)
    check_grads_fd(f, args, (0,), (got,))
    assert record["backend"] == "numba", record  # (compiled, with Python's or numpy's meaning)


def int32_wraps(x):  # (numpy warns of the overflow, as the function does)
    n = np.int32(2 ** 31 - 1)
    m = n + 1  # (numpy: int32, wraps around to -2 ** 31; numba: int64 2 ** 31)
    return np.sum(x) * (m > 0)


def float32_values(x):
    y = x.astype(np.float32)
    z = y * 0.1 + 1.0 / 3.0  # (numpy: float32; numba: float64)
    return np.sum(np.exp(z) ** 2.0)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("f, dtype", [(int32_wraps, "int32"), (float32_values, "float32")])
def test_values_of_other_dtypes_run_as_numpy_code(numba, f, dtype):
    x = np.linspace(0.3, 3.3, 7)
    df = sd.grad(f, backend="numba")
    with pytest.warns(sd.JitFallbackWarning, match=dtype):
        got = df(x)
    np.testing.assert_array_equal(got, sd.grad(f)(x))
    assert df.jit_log[-1]["backend"] == "numpy"


# ---------------------------------------------------------------- orders numba computes otherwise

KEYS = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0])  # (ties: numba's argsort orders them
# [1 5 3 7 ...] where numpy's default sort gives [1 3 7 5 ...])


def through_argsort(x, keys):
    o = np.argsort(keys)
    return (x[o[0]] * 1.0 + x[o[1]] * 2.0 + x[o[2]] * 3.0 + x[o[3]] * 4.0 + x[o[4]] * 5.0 +
            x[o[5]] * 6.0 + x[o[6]] * 7.0 + x[o[7]] * 8.0)


def through_stable_argsort(x, keys):
    o = keys.argsort(kind="stable")
    return (x[o[0]] * 1.0 + x[o[1]] * 2.0 + x[o[2]] * 3.0 + x[o[3]] * 4.0 + x[o[4]] * 5.0 +
            x[o[5]] * 6.0 + x[o[6]] * 7.0 + x[o[7]] * 8.0)


def through_partition(x, keys):
    p = np.partition(keys, 4)  # (the items after kth: numba's [... 11.14, 11.0], numpy's
    return x[0] * p[6] + x[1] * p[7]  # [... 11.0, 11.14])


@pytest.mark.parametrize("f, keys, compiled", [
    (through_argsort, KEYS, False),
    (through_stable_argsort, KEYS, True),
    (through_partition, np.array([5.0, 3, 8, 1, 7, 2, 6, 4]) * np.linspace(1, 2, 8), False),
])
def test_orders_of_equal_keys_are_numpys(numba, f, keys, compiled):
    x = np.linspace(1.0, 2.0, 8)
    got, ref, record = _both(f, x, keys)
    np.testing.assert_array_equal(got, ref)
    assert (record["backend"] == "numba") is compiled, record
    if not compiled:
        assert "kth" in record["reason"] or "kind='stable'" in record["reason"]


def median_of_data(x, c):
    m = np.median(c)  # (numpy: nan for c = [nan, 1, 2]; numba's np.median: 2.0)
    return x[0] * m + x[1] * x[2]


def quantile_of_data(x, c):
    q = np.quantile(c, 0.7)  # (numpy: nan for c = [inf, 1, inf]; numba's: inf)
    return x[0] * (q > 10.0) + x[1] * x[2]


def clip_to_bounds(x, lo, hi):
    c = np.clip(np.array([0.0, 1.0, 5.0]), lo, hi)  # (numpy: a nan bound gives nan; numba's
    return x[0] * c[0] + x[1] * c[2] + x[2] * x[2]  # np.clip skipped it: [0, 2, 2])


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("f, args, compiled", [
    (median_of_data, (np.ones(3), np.array([np.nan, 1.0, 2.0])), False),
    (quantile_of_data, (np.ones(3), np.array([np.inf, 1.0, np.inf])), False),
    (clip_to_bounds, (np.ones(3), float("nan"), 2.0), True),
    (clip_to_bounds, (np.ones(3), 3.0, 2.0), True),
])
def test_statistics_and_clip_at_nan_are_numpys(numba, f, args, compiled):
    got, ref, record = _both(f, *args)
    np.testing.assert_array_equal(got, ref)
    assert (record["backend"] == "numba") is compiled, record


# ---------------------------------------------------------------- dask: another library's function

def cholesky_loss(a, g):
    return np.sum(np.linalg.cholesky(a) * g)


@pytest.mark.parametrize("chunks", [1, 3])
def test_cholesky_of_a_dask_array_is_refused_not_numpys_rule_on_dasks_factor(chunks):
    """dask's np.linalg.cholesky is the upper factor, read from the upper triangle: the numpy rule
    on it gave a gradient that was neither numpy's f's nor dask's f's (read from the lower
    triangle's rule: [[-0.341, 0, 0], [-1.253, 0.044, 0], ...], numpy's [[-0.305, 0, 0], [-1.275,
    -0.087, 0], ...])."""
    da = pytest.importorskip("dask.array")
    from sourcediff.errors import SourcediffError

    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 3))
    a = a @ a.T + 3.0 * np.eye(3)
    g = rng.normal(size=(3, 3))
    df = sd.grad(cholesky_loss)
    check_grads_fd(cholesky_loss, (a, g), (0,), (df(a, g),))  # (numpy arguments: as before)
    with pytest.raises(SourcediffError, match=r"upper factor.*x\.compute\(\)") as info:
        df(da.from_array(a, chunks=chunks), g)
    assert "test_review39.py" in str(info.value)


# ---------------------------------------------------------------- the compile cache

import dataclasses  # noqa: E402
import types  # noqa: E402


@dataclasses.dataclass
class _Config:  # (eq=True: no hash, as a types.SimpleNamespace)
    act: object


NS = types.SimpleNamespace(act=np.tanh)
NESTED = types.SimpleNamespace(inner=types.SimpleNamespace(act=np.tanh))
DC = _Config(np.tanh)


def _user_tanh(v):
    return np.tanh(v)


def _user_sin(v):
    return np.sin(v)


NS_USER = types.SimpleNamespace(act=_user_tanh)


def through_namespace(x):
    return np.sum(NS.act(x))


def through_nested_namespace(x):
    return np.sum(NESTED.inner.act(x))


def through_dataclass(x):
    return np.sum(DC.act(x))


def through_namespace_of_user_functions(x):
    return np.sum(NS_USER.act(x))


@pytest.mark.parametrize("f, holder, new", [
    (through_namespace, NS, np.sin),
    (through_nested_namespace, NESTED.inner, np.sin),
    (through_dataclass, DC, np.sin),
    (through_namespace_of_user_functions, NS_USER, _user_sin),
])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_function_rebound_on_a_library_object_is_not_stale(f, holder, new, backend):
    """``cfg.act = np.sin`` after sd.grad built for np.tanh: the cached gradient kept tanh's
    derivative (types.SimpleNamespace is a library class, whose attributes were not checked; a
    dataclass instance has no hash and crashed the build: TypeError: unhashable type)."""
    if backend == "numba":
        pytest.importorskip("numba")
    x = np.linspace(0.2, 1.2, 4)
    old = holder.act
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sd.JitFallbackWarning)
            df = sd.grad(f, backend=backend)
            np.testing.assert_allclose(df(x), 1.0 / np.cosh(x) ** 2, rtol=1e-12)
            holder.act = new
            got = df(x)
        np.testing.assert_allclose(got, np.cos(x), rtol=1e-12)
        check_grads_fd(f, (x,), (0,), (got,))
    finally:
        holder.act = old


def test_a_closure_namespace_rebinding_its_function_is_not_stale():
    def make():
        cfg = types.SimpleNamespace(act=np.tanh)

        def f(x):
            return np.sum(cfg.act(x))
        return f, cfg

    f, cfg = make()
    x = np.linspace(0.2, 1.2, 4)
    df = sd.grad(f)
    np.testing.assert_allclose(df(x), 1.0 / np.cosh(x) ** 2, rtol=1e-12)
    cfg.act = np.sin
    np.testing.assert_allclose(df(x), np.cos(x), rtol=1e-12)


def _helper(v):
    return np.tanh(v)


def _helper_tanh(v):
    return np.tanh(v)


def _helper_sin(v):
    return np.sin(v)


def calls_helper(x):
    return np.sum(_helper(x))


def own_body(x):
    return np.sum(np.tanh(x))


def _own_body_sin(x):
    return np.sum(np.sin(x))


class _Layer:
    def act(self, v):
        return np.tanh(v)

    def loss(self, x):
        return np.sum(self.act(x))


def _act_sin(self, v):
    return np.sin(v)


def _swap(function, new):
    old = function.__code__
    function.__code__ = new.__code__
    return old


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("which", ["helper", "own", "method"])
def test_code_replaced_in_place_is_not_stale(backend, which):
    """IPython's autoreload gives a function new code in place (the object stays): the cached
    gradient kept the old code's derivative (a helper's new code: [0.961, 0.762, 0.510, 0.305],
    tanh's, for cos(x) = [0.980, 0.861, 0.647, 0.362]), also from a new sd.grad(f) call, whose
    cache key follows f's code only."""
    if backend == "numba":
        pytest.importorskip("numba")
    x = np.linspace(0.2, 1.2, 4)
    f, function, new = {"helper": (calls_helper, _helper, _helper_sin),
                        "own": (own_body, own_body, _own_body_sin),
                        "method": (_Layer().loss, _Layer.act, _act_sin)}[which]
    old = function.__code__
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sd.JitFallbackWarning)
            df = sd.grad(f, backend=backend)
            np.testing.assert_allclose(df(x), 1.0 / np.cosh(x) ** 2, rtol=1e-12)
            function.__code__ = new.__code__
            np.testing.assert_allclose(df(x), np.cos(x), rtol=1e-12)
            np.testing.assert_allclose(sd.grad(f, backend=backend)(x), np.cos(x), rtol=1e-12)
            function.__code__ = old  # (and back)
            np.testing.assert_allclose(df(x), 1.0 / np.cosh(x) ** 2, rtol=1e-12)
    finally:
        function.__code__ = old


def test_a_split_forms_halves_follow_new_code():
    """The forward half of a helper's split form, called after its code changed, runs the form
    built anew (on main: the old code, tanh(x)) and hands its saved values to that form's
    backward half through the old backward half."""
    from sourcediff.compiled import split_form

    x = np.linspace(0.2, 1.2, 4)
    fwd = split_form(_helper, ("v",))
    bwd = fwd.__sourcediff_bwd__
    seed = {bwd.__sourcediff_cotangent_name__: np.ones(4)}
    old = _helper.__code__
    try:
        out, saved = fwd(x)
        np.testing.assert_allclose(bwd(saved, **seed)[0], 1.0 / np.cosh(x) ** 2, rtol=1e-12)
        _helper.__code__ = _helper_sin.__code__
        out, saved = fwd(x)
        np.testing.assert_allclose(out, np.sin(x), rtol=1e-12)
        np.testing.assert_allclose(bwd(saved, **seed)[0], np.cos(x), rtol=1e-12)
    finally:
        _helper.__code__ = old
