"""backend="numba": the compiled gradient equals the numpy one and finite differences; what numba
cannot compile runs as numpy code after one JitFallbackWarning. Tests that compile skip cleanly
when numba is not installed. Speed is in benchmarks/ (the "sourcediff numba" column), never here."""

import importlib.util
import math
import os
import sys
import warnings

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import jit
from tests.oracles import check_grads_fd

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))
import workloads as W  # noqa: E402

HAS_NUMBA = importlib.util.find_spec("numba") is not None


@pytest.fixture
def numba():
    return pytest.importorskip("numba")


def _tuple(g, n):
    return g if n > 1 else (g,)


def _same(got, ref, n, rtol=1e-12):
    for a, b in zip(got, _tuple(ref, n)):
        assert type(a) is type(b) or (isinstance(a, float) and isinstance(b, float))
        assert np.shape(a) == np.shape(b)
        assert getattr(a, "dtype", None) == getattr(b, "dtype", None)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-13)


def _compiled(df):
    return bool(df.jit_log) and all(r["backend"] == "numba" for r in df.jit_log)


# ---------------------------------------------------------------- the benchmark workloads


@pytest.mark.parametrize("name", ["W1", "W2", "W5", "W6"])
def test_workloads_compile_and_match_numpy_and_hand_written(numba, name):
    wl = next(w for w in W.WORKLOADS if w.name == name)
    args = wl.make_inputs(np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", sd.JitFallbackWarning)
        df = sd.grad(wl.loss, wrt=wl.wrt, backend="numba")
        got = df(*args)
    assert _compiled(df), df.jit_log
    assert all(r["seconds"] > 0 for r in df.jit_log)
    _same(got, sd.grad(wl.loss, wrt=wl.wrt)(*args), 2, rtol=1e-10)
    for a, b in zip(got, wl.grad(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-8)
    check_grads_fd(wl.loss, args, wl.wrt, got, rtol=1e-5)
    _same(df(*args), got, 2, rtol=0)  # (the second call runs the compiled code again)


def test_value_and_grad_and_a_second_signature(numba):
    def f(x, w):
        h = x
        for i in range(3):
            h = np.tanh(h * w)
        return np.sum(h * h)

    vg = sd.value_and_grad(f, wrt=(0, 1), backend="numba")
    for n in (3, 5):
        x, w = np.linspace(-1.0, 1.0, n), np.linspace(0.5, 1.5, n)
        value, grads = vg(x, w)
        ref_value, ref_grads = sd.value_and_grad(f, wrt=(0, 1))(x, w)
        assert value == pytest.approx(ref_value, rel=1e-12)
        _same(grads, ref_grads, 2)
        check_grads_fd(f, (x, w), (0, 1), grads)
    assert len(vg.jit_log) == 2 and _compiled(vg)  # one compilation per signature
    assert "_stack_" in sd.source(vg, x, w)  # the source shown is the code numba compiled


def test_scalar_loop_with_branches_runs_forward_mode_compiled(numba):
    def f(x, a):
        for i in range(30):
            if x > 0:
                x = x * a + math.sin(x)
            else:
                x = x * a - np.cos(x)
        return x

    df = sd.grad(f, backend="numba")
    got = df(0.7, 0.9)
    assert type(got) is float and _compiled(df)
    assert got == pytest.approx(sd.grad(f)(0.7, 0.9), rel=1e-12)
    check_grads_fd(f, (0.7, 0.9), (0,), (got,))


# ---------------------------------------------------------------- the catalogue

# catalogue cases that numba compiles (the rest run as numpy code, which the fallback test covers)
COMPILED = [
    "aliases.numpy_as_xnp",
    "aliases.from_numpy_import",
    "aliases.math_module_spellings",
    "aliases.module_level_function_alias",
    "control.branch_on_sum",
    "control.elif_chain",
    "control.ternary_and_boolops",
    "control.while_data_dependent",
    "control.float_loop_branches",
    "families.trig",
    "families.inverse_trig",
    "families.hyperbolic",
    "families.inverse_hyperbolic",
    "families.roots",
    "families.cbrt_both_signs",
    "families.square_and_reciprocal",
    "families.power_both_active",
    "families.power_integer_exponents",
    "families.where_on_sign",
    "families.where_two_arguments",
    "families.where_with_scalar",
    "families.arctan2_hypot",
    "families.ufunc_spelling",
    "families.operators_mixed",
    "families.nondiff_inside",
    "families.math_trig",
    "families.math_exp_log",
    "families.math_hyperbolic",
    "families.math_misc",
    "families.broadcast_to_matrix",
    "families.triangles",
    "families.shape_attributes_are_inactive",
    "families.index_ints",
    "families.broadcast_row_vector",
    "families.broadcast_float_with_array",
    "families.where_with_float_branch",
    "models.logistic_regression",
    "models.cubic_fit",
]


def _catalogue():
    from tests.catalogue import load_all

    return {repr(c): c for c in load_all()}


@pytest.mark.parametrize("name", COMPILED)
def test_catalogue_cases_compile_and_match(numba, name):
    c = _catalogue()[name]
    args = c.args()
    with warnings.catch_warnings():
        warnings.simplefilter("error", sd.JitFallbackWarning)
        df = sd.grad(c.fn, wrt=c.wrt, backend="numba")
        got = df(*args)
    assert _compiled(df), df.jit_log
    _same(got, sd.grad(c.fn, wrt=c.wrt)(*c.args()), 2, rtol=1e-9)
    check_grads_fd(c.fn, c.args(), c.wrt, got, rtol=c.rtol)


def test_every_catalogue_case_gives_the_numpy_gradient(numba):
    """Compiled or fallen back, never a different result or an error the numpy code does not
    raise (a sample: every fifth case, to keep compile time down)."""
    cases = list(_catalogue().values())[::5]
    for c in cases:
        ref = sd.grad(c.fn, wrt=c.wrt)(*c.args())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sd.JitFallbackWarning)
            got = sd.grad(c.fn, wrt=c.wrt, backend="numba")(*c.args())
        _same(got, ref, 2, rtol=1e-9)


# ---------------------------------------------------------------- falling back


def _uses_a_list(x, y):
    parts = [np.sin(x), np.cos(y)]
    return np.sum(np.concatenate(parts) ** 2)


def test_what_numba_cannot_compile_runs_as_numpy_with_one_warning(numba):
    x, y = np.linspace(0.0, 1.0, 4), np.linspace(1.0, 2.0, 3)
    df = sd.grad(_uses_a_list, wrt=(0, 1), backend="numba")
    with pytest.warns(sd.JitFallbackWarning) as caught:
        got = df(x, y)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "_uses_a_list (test_jit.py:" in message
    assert "backend='numpy'" in message
    assert "numba cannot compile" in message and "test_jit.py:" in message.split("from")[-1]
    assert caught[0].filename == __file__  # (it points at the user's call)
    _same(got, sd.grad(_uses_a_list, wrt=(0, 1))(x, y), 2, rtol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df(x, y)  # the same signature: no second warning
        df(np.ones(2), np.ones(2))  # another signature that falls back: logged, not warned
    assert [r["backend"] for r in df.jit_log] == ["numpy", "numpy"]
    assert all(r["reason"] for r in df.jit_log)


def test_arguments_numba_does_not_take_fall_back_naming_them(numba):
    def f(params, x):
        w, b = params
        return np.sum((x * w + b) ** 2)

    params, x = [np.ones(3), np.zeros(3)], np.linspace(0.0, 1.0, 3)
    with pytest.warns(sd.JitFallbackWarning, match="argument 'params' is a list"):
        got = sd.grad(f, backend="numba")(params, x)
    ref = sd.grad(f)(params, x)
    for a, b in zip(got, ref):
        np.testing.assert_array_equal(a, b)

    def g(x):
        return np.sum(x * x)

    x32 = np.ones(3, dtype=np.float32)
    with pytest.warns(sd.JitFallbackWarning, match="dtype float32"):
        got = sd.grad(g, backend="numba")(x32)
    assert got.dtype == np.float32


def test_without_numba_the_numpy_code_runs_with_the_install_hint(monkeypatch):
    monkeypatch.setattr(jit, "_numba", False)

    def f(x):
        return np.sum(np.sin(x))

    df = sd.grad(f, backend="numba")
    with pytest.warns(sd.JitFallbackWarning, match=r"numba is not installed.*sourcediff\[jit\]"):
        got = df(np.ones(3))
    np.testing.assert_allclose(got, np.cos(np.ones(3)))


# ---------------------------------------------------------------- errors


def _square(x):
    return x * x


@pytest.mark.parametrize("kwargs, words", [
    ({"backend": "jax"}, "backend='jax' is not one of"),
    ({"backend": "numba", "optimize": False}, "optimize=False"),
    ({"backend": "numba", "mode": "forward"}, "mode='reverse'"),
])
def test_backend_errors_name_the_fix(kwargs, words):
    with pytest.raises(sd.BackendError, match=words.replace("(", r"\(").replace("[", r"\[")):
        sd.grad(_square, **kwargs)


def test_numba_errors_at_run_time_are_errors_not_results(numba):
    def f(x, d):
        return x / d

    with pytest.raises(ZeroDivisionError):
        sd.grad(f, backend="numba")(1.0, 0.0)


SCALE = np.array([1.0, 2.0, 3.0])   # a module-level array the user updates in place


def _reads_a_global_array(x):
    return np.sum(np.sin(x) * SCALE)


def test_a_global_array_is_not_frozen_into_compiled_code(numba):
    # numba copies a global array into the compiled code once; an in-place update afterwards
    # would be read stale: such code runs as numpy code, and sees the update
    x = np.linspace(0.0, 1.0, 3)
    df = sd.grad(_reads_a_global_array, backend="numba")
    with pytest.warns(sd.JitFallbackWarning, match=r"reads SCALE from outside"):
        first = df(x)
    np.testing.assert_allclose(first, np.cos(x) * SCALE)
    saved = SCALE.copy()
    try:
        np.multiply(SCALE, 2.0, out=SCALE)
        np.testing.assert_allclose(df(x), np.cos(x) * SCALE)
    finally:
        SCALE[:] = saved


STEPS = 3   # a module-level count the user changes between calls
FLAG = True


def _loops_a_global_count(x):
    h = x
    for _ in range(STEPS):
        h = np.tanh(h)
    if FLAG:
        h = h * 2.0
    return np.sum(h)


def test_global_numbers_are_not_frozen_into_compiled_code(numba):
    global STEPS, FLAG
    x = np.array([0.5, -1.0])
    df = sd.grad(_loops_a_global_count, backend="numba")
    with pytest.warns(sd.JitFallbackWarning, match=r"reads (STEPS|FLAG) from outside"):
        df(x)
    saved = STEPS, FLAG
    try:
        STEPS, FLAG = 1, False
        np.testing.assert_allclose(df(x), 1.0 - np.tanh(x) ** 2)
    finally:
        STEPS, FLAG = saved


def _int_power(x, n):
    return np.sum(x * n ** -2) + np.sum(x * n ** 3)


def test_python_int_arguments_run_as_numpy_code(numba):
    # numba's int64: 3 ** -2 gave 0, and 3_000_000 ** 3 wrapped around
    x = np.array([1.0, 2.0])
    df = sd.grad(_int_power, backend="numba")
    with pytest.warns(sd.JitFallbackWarning, match=r"argument 'n' is an integer"):
        df(x, 3)
    for n in (3, 3_000_000):
        np.testing.assert_allclose(df(x, n), np.full(2, n ** -2 + float(n) ** 3))
    assert [r["backend"] for r in df.jit_log] == ["numpy"]
