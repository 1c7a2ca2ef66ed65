"""review55: known bugs and over-refusals of ordinary code. Each gradient is checked against
finite differences (and forward mode against reverse mode's gradient); each refusal by its
message, file and line."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import SourcediffError

try:
    from .oracles import check_grads_fd
except ImportError:  # tests/ collected without being a package
    from oracles import check_grads_fd

X = np.array([0.5, -1.2, 2.0])
V = np.array([0.3, -0.7, 1.1])


def _check_both_modes(f, x=X):
    """Reverse mode against finite differences, forward mode against reverse mode's gradient."""
    g = sd.grad(f)(x.copy())
    check_grads_fd(f, (x.copy(),), (0,), (g,))
    out, tangent = sd.jvp(f, (x.copy(),), (V,))
    assert np.isclose(out, f(x.copy()))
    assert np.isclose(tangent, np.sum(g * V), rtol=1e-10), (tangent, np.sum(g * V))
    return g


def _line_of(fn, text):
    lines, first = __import__("inspect").getsourcelines(fn)
    return first + next(k for k, line in enumerate(lines) if text in line)


# ---------------------------------------------------------------- t[i][j] = v on a tuple

def _tuple_literal(x):
    c = x * 1.0
    b = x * 2.0
    t = (c, b)
    t[0][0] = x[1] * 3.0
    return np.sum(t[0] * t[1])


def _star_writer(*arrs):
    arrs[0][0] = arrs[1][2] ** 2
    return np.sum(arrs[0] * arrs[1])


def _calls_star_writer(x):
    return _star_writer(x * 1.0, np.cos(x))


def _tuple_in_a_loop(x):
    t = (x * 1.0, x * 2.0)
    for i in range(2):
        t[i][1] = t[i][0] * x[2]
    return np.sum(t[0] * t[1])


@pytest.mark.parametrize("f", [_tuple_literal, _calls_star_writer, _tuple_in_a_loop])
def test_a_write_into_an_array_held_by_a_tuple_is_differentiated(f):
    """t[i][j] = v where t is a tuple literal or a *args tuple raised Python's TypeError ('tuple'
    object does not support item assignment) from the write-back of t[i]: it is written back
    as a new tuple now, in reverse and forward mode and for the hessian."""
    _check_both_modes(f)
    h = sd.hessian(f)(X.copy())
    assert h.shape == (3, 3) and np.allclose(h, h.T)


def _reads_the_written_array_by_its_own_name(x):
    c = x * 1.0
    t = (c, x * 2.0)
    t[0][0] = x[1] * 3.0
    return np.sum(c * t[1])


def test_a_write_through_a_tuple_into_an_array_read_by_another_name_stays_refused():
    """numpy changes c as well: the alias stage refuses, naming c and the line."""
    with pytest.raises(SourcediffError) as err:
        sd.grad(_reads_the_written_array_by_its_own_name)(X.copy())
    line = _line_of(_reads_the_written_array_by_its_own_name, "t[0][0] =")
    assert f"test_review55.py:{line}:" in str(err.value)
    assert "also changes c" in str(err.value)


def _writes_into_a_tuple_parameter(x, pair):
    pair[0][0] = x[1] * 3.0
    return np.sum(pair[0] * x)


@pytest.mark.filterwarnings("ignore::sourcediff.errors.SourcediffWarning")
def test_a_write_into_a_tuple_parameters_array_is_refused_by_sourcediff_not_by_python():
    """A tuple the function does not build itself: a sourcediff error at the user's line that
    says what to do, not Python's TypeError from generated code."""
    with pytest.raises(SourcediffError) as err:
        sd.grad(_writes_into_a_tuple_parameter)(X.copy(), (X * 1.0, X * 2.0))
    line = _line_of(_writes_into_a_tuple_parameter, "pair[0][0] =")
    assert f"test_review55.py:{line}:" in str(err.value)
    assert "is a tuple" in str(err.value) and "build a new tuple" in str(err.value)


# ---------------------------------------------------------------- xp = np, def f(x, xp=np)

def _namespace_helper(x, xp=np):
    return xp.tanh(x) * xp.exp(-x)


def _namespace_parameter(x, xp=np, *, la=np.linalg):
    """Array-API style: the module a parameter's default names."""
    y = _namespace_helper(x) + _namespace_helper(x, xp=xp)
    inner = lambda z: xp.cos(z)  # noqa: E731
    return la.norm(y) + xp.sum(inner(x)) + sum(xp.sin(v) for v in x)


def _namespace_local(x):
    xp = np
    m = xp.linalg
    return m.norm(xp.outer(x, xp.sin(x)))


@pytest.mark.parametrize("call", [lambda f, x: f(x), lambda f, x: f(x, np),
                                  lambda f, x: f(x, xp=np, la=np.linalg)])
def test_a_parameter_whose_default_is_numpy_reads_as_numpy(call):
    """xp.sum(...) on a parameter xp=np was read as the ndarray method .sum() of xp and refused
    (NoRuleError): its reads are numpy's now, in the helper it is passed to as well."""
    g = call(sd.grad(_namespace_parameter), X.copy())
    check_grads_fd(lambda x: call(_namespace_parameter, x), (X.copy(),), (0,), (g,))
    out, tangent = sd.jvp(lambda x: call(_namespace_parameter, x), (X.copy(),), (V,))
    assert np.isclose(tangent, np.sum(g * V), rtol=1e-10)


def test_a_local_bound_to_numpy_reads_as_numpy():
    """xp = np; m = xp.linalg: both names are the modules."""
    _check_both_modes(_namespace_local)


def test_a_module_parameter_passed_another_module_is_refused_at_run_time():
    """The code was compiled as numpy's: another module passed is refused naming the parameter,
    the function's line and what to do, never run as numpy's."""
    import math
    with pytest.raises(SourcediffError) as err:
        sd.grad(_namespace_parameter)(X.copy(), math)
    line = _line_of(_namespace_parameter, "def _namespace_parameter")
    assert f"test_review55.py:{line}:" in str(err.value)
    assert "xp is passed math" in str(err.value) and "call it with xp=np" in str(err.value)


def _array_namespace(x):
    return np


def _namespace_at_run_time(x):
    xp = _array_namespace(x)
    return xp.sum(xp.sin(x))


def test_a_namespace_found_at_run_time_stays_refused_with_its_fix():
    with pytest.raises(SourcediffError) as err:
        sd.grad(_namespace_at_run_time)(X.copy())
    line = _line_of(_namespace_at_run_time, "return xp.sum")
    assert f"test_review55.py:{line}:" in str(err.value)
    assert "call the function through a name bound at module level" in str(err.value)


# ---------------------------------------------------------------- lst.remove(v), lst.clear()

def _removes_the_first(x):
    items = [x * 2.0, x, x * 3.0]
    first = items[0]
    items.remove(first)
    return np.sum(items[0] * items[1])


def _removes_scalars_by_value(x):
    vals = [x[0], x[1] * 2.0, x[2], x[1] * 2.0]
    vals.remove(x[1] * 2.0)  # (the first equal item: position 1, not 3)
    vals.remove(vals[0])
    return vals[0] * vals[1] + vals[-1]


def _clears(x):
    items = [x, x * 2.0]
    s = np.sum(items[1])
    items.clear()
    items.append(x * 5.0)
    return np.sum(items[0] * x) + s * len(items)


@pytest.mark.parametrize("f", [_removes_the_first, _removes_scalars_by_value, _clears])
def test_remove_and_clear_on_a_list_that_carries_derivatives(f):
    """lst.remove(v) and lst.clear() were refused ("changes items in place"); they run as the
    new list bound to the name (remove: the position Python's remove finds, identity then ==)."""
    _check_both_modes(f)
    h = sd.hessian(f)(X.copy())
    assert np.allclose(h, h.T)


def _removes_a_missing_value(x):
    vals = [x[0], x[1]]
    vals.remove(7.0)
    return vals[0]


def test_remove_of_a_missing_value_is_pythons_value_error_at_the_users_line():
    with pytest.raises(ValueError, match=r"list\.remove\(x\): x not in list") as err:
        sd.grad(_removes_a_missing_value)(X.copy())
    line = _line_of(_removes_a_missing_value, "vals.remove(7.0)")
    assert f"test_review55.py:{line}" in str(err.value)


def _removes_from_a_list_another_name_holds(x):
    items = [x, x * 2.0]
    other = items
    items.remove(x)
    return np.sum(other[0])


def test_remove_on_a_list_another_name_holds_is_refused():
    """Python changes other too: refused as lst.reverse() is, naming the line."""
    with pytest.raises(SourcediffError) as err:
        sd.grad(_removes_from_a_list_another_name_holds)(X.copy())
    line = _line_of(_removes_from_a_list_another_name_holds, "items.remove(x)")
    assert f"test_review55.py:{line}:" in str(err.value)


# ---------------------------------------------------------------- messages

def _result_of_reverse(x):
    items = [x, x * 2.0]
    r = items.reverse()
    return np.sum(items[0]) if r is None else 0.0


def test_the_result_of_an_in_place_list_method_is_said_to_be_none():
    """It said 'x holds its array'; the method's result is None, which is what is wrong."""
    with pytest.raises(SourcediffError) as err:
        sd.grad(_result_of_reverse)(X.copy())
    line = _line_of(_result_of_reverse, "r = items.reverse()")
    assert f"test_review55.py:{line}:" in str(err.value)
    assert "returns None, so r is None here" in str(err.value)
    assert "r = items[::-1]" in str(err.value)


def _two_spreads(x):
    lo = {"a_min": -1.0}
    hi = {"a_max": 1.0}
    return np.sum(np.clip(x, **lo, **hi))


def test_a_call_with_two_spread_dicts_is_named_as_written():
    with pytest.raises(SourcediffError) as err:
        sd.grad(_two_spreads)(X.copy())
    line = _line_of(_two_spreads, "np.clip(x, **lo, **hi)")
    assert f"test_review55.py:{line}:" in str(err.value)
    assert "**lo, **hi would fill keyword parameters of np.clip" in str(err.value)
    assert "**(" not in str(err.value)


# ---------------------------------------------------------------- writes a caller does not see

def _rebinds_its_kwargs_entry(**kw):
    kw["w"] = kw["w"] * 2.0
    return kw["w"] * kw["b"]


def _through_spread_params(v):
    params = {"w": v, "b": v * 3.0}
    return np.sum(_rebinds_its_kwargs_entry(**params)) + np.sum(params["w"] * v)


def _through_keywords(v):
    return np.sum(_rebinds_its_kwargs_entry(w=np.sin(v), b=v))


def _writes_into_a_kwargs_array(**kw):
    kw["w"][0] = 1.0
    return kw["w"] * kw["b"]


def _through_spread_into_an_array(v):
    params = {"w": v * 1.0, "b": v * 3.0}
    return np.sum(_writes_into_a_kwargs_array(**params)) + np.sum(params["w"])


@pytest.mark.parametrize("f", [_through_spread_params, _through_keywords])
def test_a_store_into_the_kwargs_dict_itself_is_no_write_the_caller_sees(f):
    """kw[k] = v rebinds an entry of the dict Python makes for the call: m(**params) was refused
    at run time ("writes into its parameter kw in place")."""
    _check_both_modes(f)


def test_a_write_into_an_array_the_kwargs_dict_holds_stays_refused():
    """kw["w"][0] = 1.0 changes the caller's params["w"], read later: still refused."""
    with pytest.raises(SourcediffError, match="writes into its parameter kw in place"):
        sd.grad(_through_spread_into_an_array)(X.copy())


def _stores_into_its_new_lists_slot(ws):
    acc = ws + [ws[0]]
    acc[0] = 5.0
    return acc


def _reads_its_list_after_the_helper(v):
    ws = [v * 1.0, v * 2.0]
    r = _stores_into_its_new_lists_slot(ws)
    return np.sum(ws[0] * r[1] + r[2] * ws[1]) + r[0]


def _writes_into_an_array_its_new_list_holds(ws):
    acc = ws + [ws[0]]
    acc[2][1] = 5.0
    return acc


def _reads_its_list_after_the_writing_helper(v):
    ws = [v * 1.0, v * 2.0]
    r = _writes_into_an_array_its_new_list_holds(ws)
    return np.sum(ws[0] * r[1] + r[2])


def test_a_store_into_a_new_lists_slot_is_no_write_into_the_list_it_was_made_from():
    """acc = ws + [ws[0]]; acc[0] = 5.0 changes only acc: the caller reading ws after the call
    was refused ("writes in place into memory ws shares")."""
    _check_both_modes(_reads_its_list_after_the_helper)


def test_a_write_into_an_array_a_new_list_holds_stays_refused():
    """acc[2][1] = 5.0 writes into ws[0]'s array, which the caller reads after the call."""
    with pytest.raises(SourcediffError) as err:
        sd.grad(_reads_its_list_after_the_writing_helper)(X.copy())
    line = _line_of(_reads_its_list_after_the_writing_helper, "r = _writes_into")
    assert f"test_review55.py:{line}:" in str(err.value)
    assert "writes in place into memory ws shares" in str(err.value)


# ---------------------------------------------------------------- a = kw["a"]; a *= 2.0

def _doubles_its_a(**kw):
    a = kw["a"]
    a *= 2.0
    return a + kw["b"]


def _passes_a_temporary(v):
    return np.sum(_doubles_its_a(a=v * 2.0, b=np.sin(v)) * v)


def _passes_v_twice(v):
    return np.sum(_doubles_its_a(a=v, b=v))


def _passes_v_read_later(v):
    return np.sum(_doubles_its_a(a=v, b=v * 3.0) * v)


def test_a_write_into_one_kwargs_value_does_not_refuse_reading_another():
    """Only the temporary v * 2.0 is written; kw["b"] is read later: it was refused ("also
    changes kw"); the check compares the write with kw's items read later, kw["b"]."""
    _check_both_modes(_passes_a_temporary)


@pytest.mark.parametrize("f", [_passes_v_twice, _passes_v_read_later])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_write_into_a_kwargs_value_the_caller_holds_stays_refused(f, mode):
    """a=v: numpy doubles the caller's v, which kw["b"] (a=v, b=v: the result would be 4v, not
    the 3v of separate copies) or the caller reads after the call."""
    with pytest.raises(SourcediffError) as err:
        sd.grad(f, mode=mode)(X.copy())
    line = _line_of(f, "_doubles_its_a(a=v")
    assert f"test_review55.py:{line}:" in str(err.value)
    assert "writes in place into memory v shares" in str(err.value)
