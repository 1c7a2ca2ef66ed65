"""Every error a user can meet: its sourcediff class, and a message that names the construct, the
user's file and line, and what to do. Also: what must NOT be an error (inactive arguments), and the
compile cache (identity, clearing, redefinition).

Tests marked xfail(strict=True) describe the error a user should get but does not yet; they flip to
failures (XPASS) when the compiler is fixed, and the mark should then be removed.
"""

import contextlib
import importlib
import inspect
import math
import sys
import textwrap
import types

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import (
    InactiveArgumentError,
    NonScalarOutputError,
    NoRuleError,
    NoSourceError,
    SourcediffError,
    SourcediffSyntaxError,
    WrtError,
)

from .oracles import check_grads_fd

HERE = "test_errors.py"


def where(fn, marker, token=None):
    """``test_errors.py:LINE`` (or ``:LINE:COL`` with ``token``) of the line of ``fn`` holding
    ``marker``; COL is 1-based, at the first ``token`` on that line."""
    lines, first = inspect.getsourcelines(fn)
    for i, text in enumerate(lines):
        if marker in text:
            if token is None:
                return f"{HERE}:{first + i}"
            return f"{HERE}:{first + i}:{text.index(token) + 1}"
    raise AssertionError(f"{marker!r} not in the source of {fn.__name__}")


def test_every_error_class_is_a_sourcediff_error():
    for cls in (InactiveArgumentError, NonScalarOutputError, NoRuleError, NoSourceError,
                SourcediffSyntaxError, WrtError):
        assert issubclass(cls, SourcediffError)
    assert issubclass(SourcediffError, Exception)


# ---------------------------------------------------------------------- non-scalar output


def vector_valued(x):
    y = np.sin(x) * 2.0
    return y  # <return>


@pytest.mark.parametrize("make", [sd.grad, sd.value_and_grad], ids=["grad", "value_and_grad"])
def test_non_scalar_output(make):
    with pytest.raises(NonScalarOutputError) as info:
        make(vector_valued)(np.ones(3))
    msg = str(info.value)
    assert where(vector_valued, "# <return>") in msg
    assert "vector_valued" in msg
    assert "(3,)" in msg  # the shape it got
    assert "reduce" in msg and "np.sum" in msg
    assert "jacobian" in msg and "vjp" in msg


def scalar_in_a_box(x):
    return np.sum(x, keepdims=True)  # <return>


def two_in_a_box(x):
    return np.array([np.sum(x), np.sum(x * x)])  # <return>


def test_an_output_of_one_element_is_a_scalar_and_of_two_is_refused_at_the_return():
    """Shape (1,) was refused; it is a scalar for grad now, as in HIPS autograd."""
    np.testing.assert_array_equal(sd.grad(scalar_in_a_box)(np.ones(3)), np.ones(3))
    with pytest.raises(NonScalarOutputError) as info:
        sd.grad(two_in_a_box)(np.ones(3))
    assert where(two_in_a_box, "# <return>") in str(info.value)
    assert "(2,)" in str(info.value)


def returns_a_tuple(x):
    return np.sum(x), np.mean(x)  # <return>


def test_tuple_output_is_not_a_scalar():
    with pytest.raises(NonScalarOutputError) as info:
        sd.grad(returns_a_tuple)(np.ones(3))
    assert "returns_a_tuple" in str(info.value)
    assert where(returns_a_tuple, "# <return>") in str(info.value)


# ---------------------------------------------------------------------- no rule


double_ufunc = np.frompyfunc(lambda v: 2.0 * v, 1, 1)


# a callable object whose __call__ is library code (numpy's), with no rule: refused by name (a
# callable object of the user's own, with __call__ written in Python, is differentiated)
scale = np.poly1d([2.0, 0.0])  # (a callable object of a library, with no rule: np.vectorize
# of a Python function is differentiated, tests/test_vectorize.py)


def uses_frompyfunc(x):
    y = x + 1.0
    return np.sum(double_ufunc(y))  # <call>


def uses_callable_object(x):
    return np.sum(scale(x))  # <call>


def uses_unwrap(x):  # (np.nanmedian has a rule since review36; np.unwrap has none)
    return np.sum(np.unwrap(x * 2.0))  # <call>


def uses_fft(x):  # (np.fft.fft has a rule since review27; np.fft.hfft has none)
    return np.sum(np.fft.hfft(x))  # <call>


@pytest.mark.parametrize("fn, name, token", [
    (uses_frompyfunc, "double_ufunc", "double_ufunc("),
    (uses_callable_object, "scale", "scale("),
    (uses_unwrap, "unwrap", "np.unwrap("),
    (uses_fft, "hfft", "np.fft.hfft("),
], ids=["frompyfunc", "callable_object", "np.unwrap", "np.fft.hfft"])
def test_no_rule_names_the_callable_the_line_and_the_fix(fn, name, token):
    with pytest.raises(NoRuleError) as info:
        sd.grad(fn)(np.linspace(0.1, 1.0, 4))
    msg = str(info.value)
    assert name in msg
    assert where(fn, "# <call>") + ":" in msg  # file and line (the column is checked below)
    assert "defvjp" in msg  # how to add a rule
    assert "depends on x" in msg  # why the rule is needed


def test_no_rule_column_points_at_the_call():
    with pytest.raises(NoRuleError) as info:
        sd.grad(uses_frompyfunc)(np.linspace(0.1, 1.0, 4))
    assert where(uses_frompyfunc, "# <call>", "double_ufunc(") in str(info.value)


def no_rule_on_inactive_value(x, labels):
    m = np.median(labels)
    k = double_ufunc(labels)
    return np.sum(x * m) + np.sum(x) * float(k[0])


def test_callable_without_rule_is_fine_on_inactive_values():
    x, labels = np.linspace(0.0, 1.0, 3), np.array([1.0, 2.0, 5.0])
    g = sd.grad(no_rule_on_inactive_value)(x, labels)
    np.testing.assert_allclose(g, np.full(3, np.median(labels) + 2.0))


# ---------------------------------------------------------------------- no source


def _function_without_source():
    """A function compiled from a string (as exec would make it): it has no source file."""
    module = compile("def made_by_exec(x):\n    return x * 2.0\n", "<string>", "exec")
    code = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    return types.FunctionType(code, {"np": np}, "made_by_exec")


made_by_exec = _function_without_source()


@pytest.mark.parametrize("fn", [len, np.sin, math.exp, made_by_exec, sum],
                         ids=["len", "np.sin", "math.exp", "exec", "sum"])
def test_no_source(fn):
    with pytest.raises(NoSourceError) as info:
        sd.grad(fn)
    msg = str(info.value)
    assert fn.__name__ in msg
    assert "defvjp" in msg or ".py file" in msg or "def f(x)" in msg  # what to do


def calls_exec_function(x):
    return np.sum(made_by_exec(x))  # <call>


def test_no_source_of_a_called_function():
    with pytest.raises((NoSourceError, NoRuleError)) as info:
        sd.grad(calls_exec_function)(np.ones(3))
    msg = str(info.value)
    assert "made_by_exec" in msg
    assert "defvjp" in msg


def test_no_source_of_a_called_function_names_the_call_site():
    with pytest.raises(SourcediffError) as info:
        sd.grad(calls_exec_function)(np.ones(3))
    assert where(calls_exec_function, "# <call>") in str(info.value)


# ---------------------------------------------------------------------- unsupported syntax

COUNTER = 0.0


def uses_with(x):
    # (np.errstate and warnings.catch_warnings blocks are supported: tests/test_review30.py)
    with contextlib.suppress(FloatingPointError):  # <here>
        y = np.log(x)
    return np.sum(y)


def uses_try(x):
    try:  # <here>
        y = np.log(x)
    except FloatingPointError:
        y = x
    return np.sum(y)


def uses_global(x):
    global COUNTER  # <here>
    COUNTER = COUNTER + 1.0
    return np.sum(x)


def uses_nonlocal(x):
    total = 0.0

    def add(v):
        nonlocal total  # <here>
        total = total + v

    add(np.sum(x))
    return total


def uses_yield(x):
    for v in x:
        yield v * 2.0  # <here>


async def uses_async(x):  # <here>
    return np.sum(x)


def uses_class(x):
    class Box:  # <here>
        pass

    return np.sum(x)


def uses_del(x):
    y = x * 2.0
    del y  # <here>
    return np.sum(x)


def uses_walrus(x):  # (inside a comprehension: it binds in the function around it)
    s = np.sum([y := v * 2.0 for v in x])  # <here>
    return s + np.sum(y)


def uses_set_literal(x):
    keys = {1, 2}  # <here>
    return np.sum(x) * len(keys)


def uses_match(x, mode):
    match mode:  # <here>
        case "sum":
            return np.sum(x)
        case _:
            return np.mean(x)


# (function, token whose column the error should point at, words the message must contain)
SYNTAX = [
    (uses_with, "with", ["with"]),
    (uses_try, "try", ["try"]),
    (uses_global, "global", ["global"]),
    (uses_nonlocal, "nonlocal", ["nonlocal"]),
    (uses_yield, "yield", ["generator"]),
    (uses_async, "async", ["async"]),
    (uses_class, "class", ["class"]),
    (uses_del, "del", ["del"]),
    (uses_walrus, "y :=", [":="]),
    (uses_set_literal, "{", ["set"]),
    (uses_match, "match", ["match"]),
]
_NO_COLUMN = set()


@pytest.mark.parametrize("fn, token, words", SYNTAX, ids=[s[0].__name__ for s in SYNTAX])
def test_unsupported_syntax_is_refused(fn, token, words):
    with pytest.raises(SourcediffSyntaxError) as info:
        sd.grad(fn)
    msg = str(info.value)
    for w in words:
        assert w in msg, msg
    assert fn.__name__ in msg
    # file and line at least (a generator is refused at its def line for now)
    assert where(fn, "# <here>") in msg or (
        fn is uses_yield and where(fn, "def uses_yield") in msg), msg


@pytest.mark.parametrize("fn, token", [
    pytest.param(fn, token, marks=pytest.mark.xfail(
        strict=True, reason="generator/async functions are refused at the def line without a column "
                            "(a generator should point at its yield)"))
    if fn.__name__ in _NO_COLUMN else (fn, token)
    for fn, token, _ in SYNTAX], ids=[s[0].__name__ for s in SYNTAX])
def test_unsupported_syntax_names_line_and_column(fn, token):
    with pytest.raises(SourcediffSyntaxError) as info:
        sd.grad(fn)
    assert where(fn, "# <here>", token) in str(info.value)


@pytest.mark.parametrize("fn, token", [(uses_with, "with"), (uses_del, "del"),
                                       (uses_walrus, "y :="), (uses_match, "match")],
                         ids=["with", "del", "walrus", "match"])
def test_unsupported_syntax_quotes_the_line_and_says_what_to_do(fn, token):
    with pytest.raises(SourcediffSyntaxError) as info:
        sd.grad(fn)
    msg = str(info.value)
    lines, _ = inspect.getsourcelines(fn)
    quoted = next(t for t in lines if "# <here>" in t).strip()
    assert quoted in msg
    assert "not supported" in msg
    # the fix follows the construct: "...: <what to do>."
    assert msg.split("not supported", 1)[1].strip(" :.\n")


# ---------------------------------------------------------------------- writes into arrays in place


def multiplies_at(x):
    y = np.ones(3)
    np.multiply.at(y, [0, 0, 1], x)  # <here>  (np.add.at and np.subtract.at are supported)
    return np.sum(y * y)


# (y.fill(v), np.copyto(y, x) and out=y are differentiated since: tests/test_whole_writes.py;
# y.sort(), np.put, np.putmask, np.place, np.fill_diagonal since: tests/test_review30.py)
IN_PLACE = [(multiplies_at, "np.multiply.at(...)")]


@pytest.mark.parametrize("fn, call", IN_PLACE, ids=[f.__name__ for f, _ in IN_PLACE])
@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_a_write_into_an_active_array_is_refused_where_it_is(fn, call, mode):
    """Without the refusal these gave wrong gradients silently (np.copyto: zero; out=: half)."""
    x = np.array([3.0, 1.0, 2.0])
    with pytest.raises(SourcediffSyntaxError) as info:
        sd.grad(fn)(x) if mode == "grad" else sd.jvp(fn)(x, np.ones(3))
    msg = str(info.value)
    assert where(fn, "# <here>") in msg, msg
    assert call.replace("()", "(...)") in msg and "in place" in msg, msg
    lines, _ = inspect.getsourcelines(fn)
    assert next(t for t in lines if "# <here>" in t).strip() in msg  # the line, quoted
    assert "y = ..." in msg or "build a new list or array" in msg  # and what to do


def writes_constants_only(x):
    c = np.zeros(3)
    np.add(np.arange(3.0), 2.0, out=c)
    np.copyto(c[:1], 7.0)
    return np.sum(c * x)


def test_a_write_of_constants_into_a_constant_array_is_fine():
    x = np.array([3.0, 1.0, 2.0])
    np.testing.assert_array_equal(sd.grad(writes_constants_only)(x), [7.0, 3.0, 4.0])


# ---------------------------------------------------------------------- inactive wrt arguments


def square_sum(x, y=1.0):
    return np.sum(x * x) * y


@pytest.mark.parametrize("value, kind", [
    (np.arange(3), "integer"),
    (np.array([True, False]), "boolean"),
    (np.ones(3, dtype=complex), "complex"),
    (np.array([1.0, 2.0], dtype=object), "object"),
    (3, "integer"),
    (True, "boolean"),
    (2.0 + 1.0j, "complex"),
    (np.arange(3, dtype=np.uint8), "integer"),
    (np.int64(3), "integer"),
], ids=["int-array", "bool-array", "complex-array", "object-array", "python-int", "python-bool",
        "python-complex", "uint8-array", "numpy-int"])
def test_inactive_wrt_argument(value, kind):
    with pytest.raises(InactiveArgumentError) as info:
        sd.grad(square_sum)(value)
    msg = str(info.value)
    assert kind in msg
    assert "'x'" in msg and "square_sum" in msg
    assert "float" in msg  # what to pass instead


def test_inactive_wrt_argument_by_name_and_in_a_tuple():
    with pytest.raises(InactiveArgumentError) as info:
        sd.grad(square_sum, wrt=(0, "y"))(np.ones(2), 2)
    assert "'y'" in str(info.value)


def test_inactive_wrt_argument_names_the_file_and_line():
    with pytest.raises(InactiveArgumentError) as info:
        sd.grad(square_sum)(np.arange(3))
    assert where(square_sum, "def square_sum") in str(info.value)


def test_inactive_wrt_error_comes_before_any_work():
    """The check happens on entry: an integer argument is refused even where the body would fail."""
    def body_fails_on_ints(x):
        return np.sum(x.astype(float) * x[100])

    with pytest.raises(InactiveArgumentError):
        sd.grad(body_fails_on_ints)(np.arange(3))


# ---------------------------------------------------------------------- bad wrt


def two_params(x, y):
    return np.sum(x * y)


@pytest.mark.parametrize("wrt, words", [
    (2, ["wrt=2", "x, y"]),
    (-3, ["wrt=-3", "x, y"]),
    ("z", ["'z'", "x, y"]),
    ((0, "w"), ["'w'"]),
], ids=["index-too-large", "index-too-negative", "unknown-name", "unknown-name-in-tuple"])
def test_bad_wrt(wrt, words):
    with pytest.raises(WrtError) as info:
        sd.grad(two_params, wrt=wrt)
    msg = str(info.value)
    for w in words:
        assert w in msg, msg
    assert "two_params" in msg
    assert where(two_params, "def two_params") in msg


@pytest.mark.parametrize("wrt", [(0, 0), (1, "y"), ("x", "x"), (0, -2)],
                         ids=["0,0", "1,y", "x,x", "0,-2"])
def test_duplicate_wrt(wrt):
    with pytest.raises(WrtError) as info:
        sd.grad(two_params, wrt=wrt)
    assert "twice" in str(info.value)


def test_duplicate_wrt_names_the_function_and_place():
    with pytest.raises(WrtError) as info:
        sd.grad(two_params, wrt=(0, "x"))
    assert "two_params" in str(info.value)
    assert where(two_params, "def two_params") in str(info.value)


@pytest.mark.parametrize("wrt", [(), 1.5, None, True], ids=["empty", "float", "None", "bool"])
def test_wrt_of_the_wrong_type(wrt):
    with pytest.raises(WrtError):
        sd.grad(two_params, wrt=wrt)


def test_negative_wrt_index_counts_from_the_end():
    x, y = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    np.testing.assert_allclose(sd.grad(two_params, wrt=-1)(x, y), x)


# jacobian and forward-mode grad read wrt as sd.grad does (compiler.driver.resolve_wrt); they once counted a
# method's self for a name, and took wrt=-1 as the last argument passed rather than the last
# parameter (a silently wrong derivative when a default was left out)


class _TwoParams:
    def f(self, x, y):
        return np.sum(x * y ** 2)


def _with_default(a, b=2.0):
    return np.sum(a * b)


_FORWARD_WRT = pytest.mark.parametrize("make", [
    lambda f, w: sd.jacobian(f, wrt=w),
    lambda f, w: sd.grad(f, wrt=w, mode="forward"),
], ids=["jacobian", "forward"])


@_FORWARD_WRT
def test_forward_wrt_by_name_of_a_method(make):
    x, y = np.ones(2), np.full(2, 3.0)
    np.testing.assert_allclose(make(_TwoParams().f, "y")(x, y), 2 * x * y)


@_FORWARD_WRT
def test_forward_wrt_of_a_parameter_the_call_leaves_to_its_default(make):
    with pytest.raises(WrtError, match="does not pass"):
        make(_with_default, -1)(np.ones(2))


@pytest.mark.parametrize("wrt, words", [(5, ["wrt=5", "x, y"]), (True, ["True"]), (1.0, ["1.0"])],
                         ids=["index-too-large", "bool", "float"])
def test_bad_wrt_of_jacobian(wrt, words):
    with pytest.raises(WrtError) as info:
        sd.jacobian(two_params, wrt=wrt)(np.ones(2), np.ones(2))
    for w in words:
        assert w in str(info.value)


# ---------------------------------------------------------------------- shapes that do not broadcast


def adds_mismatched(x, y):
    z = x + y  # <here>
    return np.sum(z)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        sd.grad(adds_mismatched, wrt=(0, 1))(np.ones(3), np.ones(4))


def test_shape_mismatch_names_the_users_line():
    with pytest.raises(SourcediffError) as info:
        sd.grad(adds_mismatched, wrt=(0, 1))(np.ones(3), np.ones(4))
    assert where(adds_mismatched, "# <here>") in str(info.value)
    assert "(3,)" in str(info.value) and "(4,)" in str(info.value)


# ---------------------------------------------------------------------- not errors: inactive arguments


def with_extras(x, labels, n, flag, mode, scale=None):
    y = x[labels] * n
    if scale is not None:
        y = y * scale
    if flag and mode == "sum":
        return np.sum(y ** 2)
    return np.mean(y ** 2)


@pytest.mark.parametrize("flag, mode", [(True, "sum"), (False, "sum"), (True, "mean")])
def test_non_active_arguments_are_accepted(flag, mode):
    x = np.array([0.5, -1.0, 2.0, 3.0])
    labels = np.array([0, 2, 2])
    g = sd.grad(with_extras)(x, labels, 3, flag, mode)
    y = x[labels] * 3
    expect = np.zeros(4)
    d = 2 * y * 3 * (1.0 if flag and mode == "sum" else 1.0 / len(labels))
    np.add.at(expect, labels, d)
    np.testing.assert_allclose(g, expect)
    g2 = sd.grad(with_extras)(x, labels, 3, flag, mode, None)
    np.testing.assert_allclose(g2, expect)


def test_integer_sizes_and_labels_need_not_be_in_wrt():
    def loss(w, x, labels, n_classes):
        onehot = np.eye(n_classes)[labels]
        return np.sum((x @ w - onehot) ** 2)

    rng = np.random.default_rng(0)
    w, x, labels = rng.normal(size=(3, 4)), rng.normal(size=(5, 3)), rng.integers(0, 4, 5)
    g = sd.grad(loss, wrt="w")(w, x, labels, 4)
    np.testing.assert_allclose(g, 2 * x.T @ (x @ w - np.eye(4)[labels]))


# ---------------------------------------------------------------------- cache


def cached_fn(x):
    return np.sum(np.tanh(x) ** 2)


def test_second_grad_returns_the_identical_object():
    sd.clear_cache()
    assert sd.grad(cached_fn) is sd.grad(cached_fn)
    assert sd.grad(cached_fn, wrt=0) is sd.grad(cached_fn, wrt=0)
    assert sd.value_and_grad(cached_fn) is sd.value_and_grad(cached_fn)
    # different options are different functions
    assert sd.grad(cached_fn) is not sd.grad(cached_fn, optimize=False)
    assert sd.grad(cached_fn) is not sd.value_and_grad(cached_fn)


def test_cached_grad_does_not_transform_again(monkeypatch):
    from sourcediff import compiled

    sd.clear_cache()
    calls = []
    real = compiled.transform

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(compiled, "transform", counting)
    first = sd.grad(cached_fn)
    n = len(calls)
    assert n >= 1
    for _ in range(3):
        assert sd.grad(cached_fn) is first
    assert len(calls) == n


def test_clear_cache_makes_a_new_function():
    first = sd.grad(cached_fn)
    sd.clear_cache()
    second = sd.grad(cached_fn)
    assert second is not first
    x = np.linspace(-1.0, 1.0, 5)
    np.testing.assert_allclose(first(x), second(x))
    assert sd.source(first) == sd.source(second)


_MODULE_V1 = """
import numpy as np


def model(x):
    return np.sum(x ** 2)
"""

_MODULE_V2 = """
import numpy as np


def model(x):
    return np.sum(x ** 3)
"""


def test_function_redefined_after_caching_gets_the_new_gradient(tmp_path, monkeypatch):
    """Same module, same name, new body (an edited file reloaded, as in a notebook)."""
    path = tmp_path / "sd_redefined_mod.py"
    path.write_text(_MODULE_V1)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("sd_redefined_mod", None)
    mod = importlib.import_module("sd_redefined_mod")
    x = np.array([1.0, 2.0, -3.0])
    np.testing.assert_allclose(sd.grad(mod.model)(x), 2 * x)
    path.write_text(_MODULE_V2 + "\n")  # a different size, so the source is reread
    importlib.invalidate_caches()
    mod = importlib.reload(mod)
    np.testing.assert_allclose(sd.grad(mod.model)(x), 3 * x ** 2)
    sys.modules.pop("sd_redefined_mod", None)


_MODULE_EDITED = """
import numpy as np


def helper(x):  # (added above model after the module was imported)
    return np.sum(np.sin(x))


def model(x):
    return np.sum(x ** 2)
"""


def test_file_edited_after_import_without_a_reload_is_refused(tmp_path, monkeypatch):
    """The file changed after the import and the module was not reloaded: the lines at the code's
    first line hold another function (helper's, of the same parameters: sourcediff gave its
    gradient, cos(x), for model's).
    Refused with what to do, never the other function's gradient."""
    path = tmp_path / "sd_edited_mod.py"
    path.write_text(_MODULE_V1)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("sd_edited_mod", None)
    mod = importlib.import_module("sd_edited_mod")
    x = np.array([1.0, 2.0, -3.0])
    path.write_text(_MODULE_EDITED)
    with pytest.raises(sd.NoSourceError, match=r"def helper\(x\).*reload the module"):
        sd.grad(mod.model)(x)
    mod = importlib.reload(mod)
    np.testing.assert_allclose(sd.grad(mod.model)(x), 2 * x)
    sys.modules.pop("sd_edited_mod", None)


def test_function_whose_code_is_replaced_gets_the_new_gradient():
    """The same function object with a new __code__ (the body changed in place)."""
    def f(x):
        return np.sum(x * x)

    def g(x):
        return np.sum(np.sin(x))

    x = np.array([0.5, 1.5])
    np.testing.assert_allclose(sd.grad(f)(x), 2 * x)
    f.__code__ = g.__code__
    np.testing.assert_allclose(sd.grad(f)(x), np.cos(x))


def test_closure_value_changed_after_caching_gets_the_new_gradient():
    """The same function object whose closure variable was rebound: the cache notices."""
    def make():
        k = 1.0

        def scaled(x):
            return np.sum(k * x * x)

        def set_k(value):
            nonlocal k
            k = value

        return scaled, set_k

    scaled, set_k = make()
    x = np.array([0.5, 1.5])
    np.testing.assert_allclose(sd.grad(scaled)(x), 2 * x)
    set_k(3.0)
    np.testing.assert_allclose(sd.grad(scaled)(x), 6 * x)


def test_redefined_decorated_function_in_a_file(tmp_path, monkeypatch):
    """Decorator form: the name holds the gradient; a reload gives the new one."""
    src = textwrap.dedent("""
        import numpy as np
        import sourcediff as sd


        @sd.grad
        def dmodel(x):
            return np.sum(x ** {p})
    """)
    path = tmp_path / "sd_redefined_dec.py"
    monkeypatch.syspath_prepend(str(tmp_path))
    x = np.array([1.0, 2.0])
    for p, pad in ((2, ""), (3, "\n\n")):
        path.write_text(src.format(p=p) + pad)
        importlib.invalidate_caches()
        sys.modules.pop("sd_redefined_dec", None)
        mod = importlib.import_module("sd_redefined_dec")
        np.testing.assert_allclose(mod.dmodel(x), p * x ** (p - 1))
    sys.modules.pop("sd_redefined_dec", None)


def _with_varargs(a, *bs):
    return np.sum(a * bs[0]) + np.sum(bs[1])


def test_forward_mode_refuses_wrt_naming_the_varargs_parameter():
    """wrt=1 of v(a, *bs) in forward mode took the tangent of the first extra argument as the
    whole tuple's ([3, 1] where reverse mode gives ([1, 2], [1, 1])): silent."""
    a, b0, b1 = np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 6.0])
    for call in (lambda: sd.grad(_with_varargs, wrt=1, mode="forward")(a, b0, b1),
                 lambda: sd.jacobian(_with_varargs, wrt="bs")(a, b0, b1)):
        with pytest.raises(sd.WrtError, match=r"\*args/\*\*kwargs parameter"):
            call()
    np.testing.assert_allclose(sd.grad(_with_varargs, wrt=1)(a, b0, b1)[0], a)
    np.testing.assert_allclose(sd.grad(_with_varargs, wrt=0, mode="forward")(a, b0, b1), b0)


def test_pop_by_index_or_key_names_the_call_and_what_to_write():
    def by_index(y):
        lst = [y * 1.0, y * 2.0]
        v = lst.pop(0)
        return np.sum(v * y)

    def by_key(y):
        d = {"a": y * 1.0, "b": y * 2.0}
        v = d.pop("a")
        return np.sum(v * y)

    y = np.array([0.3, -0.2])
    # (by position: now lst = lst[:0] + lst[1:] after v = lst[0], see tests/test_list_methods.py)
    check_grads_fd(by_index, (y,), (0,), (sd.grad(by_index)(y),))
    with pytest.raises(sd.NoRuleError, match=r"d\.pop\('a'\) takes an item out of d by index or "
                                             r"key(.|\n)*dict comprehension"):
        sd.grad(by_key)(y)


def test_an_in_place_write_into_an_item_names_the_users_expression():
    # (the messages named the compiler's temporary, _item1, for held[0] and y[1])
    def fills_an_item(y):
        w = y * 1.0
        held = [w]
        held[0].fill(2.0)
        return np.sum(w * y)

    def copies_into_a_row(x, y):
        np.copyto(y[1], x)
        return np.sum(y * x)

    with pytest.raises(sd.SourcediffSyntaxError, match=r"held\[0\]\.fill\(\.\.\.\) changes "
                                                       r"held\[0\] in place"):
        sd.grad(fills_an_item)(np.ones(3))
    with pytest.raises(sd.SourcediffSyntaxError, match=r"np\.copyto\(\.\.\.\) writes into y\[1\] "
                                                       r"in place(.|\n)*\(y\[1\] = \.\.\.\)"):
        sd.grad(copies_into_a_row)(np.ones(3), np.ones((2, 3)))
    with pytest.raises(sd.SourcediffSyntaxError) as info:
        sd.grad(copies_into_a_row)(np.ones(3), np.ones((2, 3)))
    assert "_item" not in str(info.value)


def test_source_of_a_transform_without_generated_source_says_what_to_print_instead():
    # (sd.source(sd.grad(f, mode="forward")) said the function "was not made by sourcediff")
    def f(x):
        return np.sum(x * x)

    with pytest.raises(sd.SourcediffError, match=r"has no generated source of its own"
                                                 r"(.|\n)*sd\.value_and_grad\(f\)"):
        sd.source(sd.jacobian(f))
    # forward mode's gradient shows the jvp it runs once per element
    shown = sd.source(sd.grad(f, mode="forward"))
    assert shown.startswith("# sd.grad(") and "mode='forward') runs this jvp" in shown
    assert "def jvp_f" in shown
    assert "x_dot" in shown and shown.endswith(sd.source(sd.jvp(f, wrt=0)))

    def g(x, y):
        return np.sum(x * y)

    both = sd.source(sd.grad(g, wrt=(0, 1), mode="forward"))
    assert both.count("def jvp_g") == 2 and "x_dot" in both and "y_dot" in both
    with pytest.raises(sd.SourcediffError, match="was not made by sourcediff"):
        sd.source(f)
    assert "def grad_f" in sd.source(sd.grad(f))
