"""In-place writes that numpy makes visible through another name (aliases, views, containers).

sourcediff gives each name its own value; where numpy would carry an in-place write over to another
name that is read later, the alias stage refuses at run time with an AliasError at the user's line.
Where no later read can see the write, the program runs and its gradient matches finite
differences (the oracle: the plain function, run by numpy)."""

import copy

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.tape import grad_of
from tests.oracles import check_grads_fd

# ----------------------------------------------------------------- refused: numpy would disagree


def setitem_with_live_alias(x):
    z = x * 1.0
    w = z
    z[0] = 5.0 * x[1]
    return np.sum(w * w)


def augassign_on_a_view(x):
    z = x * 1.0
    w = z[1:3]
    w += 1.0
    return np.sum(z * z)


def setitem_under_a_reshape_view(x):
    y = x.reshape(6)
    x[1] += 2.0 * x[0]
    return np.sum(y ** 2)


def augassign_through_an_alias_of_the_argument(x):
    v = x
    v *= 2.0
    return np.sum(x * x)


def rows_updated_while_the_array_is_read(x):
    z = np.tanh(x)
    for row in z:
        row += 1.0
    return np.sum(z ** 2)


def setitem_into_an_array_a_list_holds(x):
    z = x * 2.0
    parts = [z, x]
    z[0] = 0.0
    return np.sum(parts[0] * parts[1])


def _same_array(a):
    return a


def augassign_on_what_a_helper_returned(x):
    z = x * 1.0
    v = _same_array(z)
    v -= 0.5 * x
    return np.sum(z * x)


def _scale_first_in_place(a):
    a[0] = a[0] * 3.0
    return np.sum(a)


def _passes_it_on(b):
    return _scale_first_in_place(b) * 2.0


def helper_writes_into_an_array_still_read(x):
    z = x * 1.0
    s = _scale_first_in_place(z)
    return s + np.sum(z * z)


def helper_of_a_helper_writes_into_it(x):
    z = np.sin(x)
    s = _passes_it_on(z)
    return s * np.sum(z)


REFUSED = [
    (setitem_with_live_alias, "w", "z[0] = 5.0 * x[1]"),
    (augassign_on_a_view, "z", "w += 1.0"),
    (setitem_under_a_reshape_view, "y", "x[1] += 2.0 * x[0]"),
    (augassign_through_an_alias_of_the_argument, "x", "v *= 2.0"),
    (rows_updated_while_the_array_is_read, "z", "row += 1.0"),
    (setitem_into_an_array_a_list_holds, "parts", "z[0] = 0.0"),
    (augassign_on_what_a_helper_returned, "z", "v -= 0.5 * x"),
    (helper_writes_into_an_array_still_read, "z", "s = _scale_first_in_place(z)"),
    (helper_of_a_helper_writes_into_it, "z", "s = _passes_it_on(z)"),
]


def _arg(fn):
    if fn in (setitem_under_a_reshape_view, rows_updated_while_the_array_is_read):
        return np.linspace(-1.0, 1.0, 6).reshape(3, 2)  # rows of a 1-D array are copies
    return np.linspace(-1.0, 1.0, 4)


@pytest.mark.parametrize("fn,other,text", REFUSED, ids=[f.__name__ for f, _, _ in REFUSED])
def test_refused_with_the_line_the_other_name_and_the_fix(fn, other, text):
    x = _arg(fn)
    kept = x.copy()
    with pytest.raises(sd.AliasError) as info:
        sd.grad(fn)(x)
    msg = str(info.value)
    assert f"test_alias.py:{_line_of(fn, text)}" in msg, msg
    assert text in msg and f" {other}" in msg and "read later" in msg, msg
    fix = msg.split("derivative would be wrong.")[1].lower()  # what to do instead
    assert "copy()" in fix and ("write" in fix or "writing" in fix or "return" in fix), msg
    np.testing.assert_array_equal(x, kept)  # the caller's array is untouched


@pytest.mark.parametrize("fn,other,text", REFUSED[:4], ids=[f.__name__ for f, _, _ in REFUSED[:4]])
def test_forward_mode_refuses_too(fn, other, text):
    x = _arg(fn)
    with pytest.raises(sd.AliasError):
        sd.jvp(fn, (x,), (np.ones_like(x),))


def _line_of(fn, text):
    import inspect

    lines, start = inspect.getsourcelines(fn)
    return start + next(k for k, line in enumerate(lines) if text in line)


# ----------------------------------------------------------------- accepted: nobody else sees it


def row_updates_of_an_array_nobody_reads_again(x):
    z = np.tanh(x)
    total = 0.0
    for row in z:
        row *= 2.0
        total += np.sum(row ** 2)
    return total


def disjoint_regions_of_one_array(x):
    z = x * 1.0
    w = z[0:2]
    z[2:4] = 3.0 * x[0:2]
    return np.sum(w) * np.sum(z ** 2)


def alias_not_read_after_the_write(x):
    v = x
    v += 1.0
    return np.sum(v * v)


def float_argument_with_a_second_name(x, s):
    v = s
    s -= np.sum(x)
    return v * np.sum(x) + s


def view_saved_for_the_adjoint_then_written(x, y):
    # row6 is a view of the original x that the adjoint reads; row3[0] = ... writes into that
    # memory afterwards (no later primal read sees it): the adjoint sweep must undo the write
    for j, row3 in enumerate(x):
        for row5, row6 in zip(y, x):
            x = 0.5 * x + np.tanh(y * row6)
        row3[0] = y.sum()
    return np.sum(x) + np.sum(y)


def helper_writes_into_an_array_nobody_reads_again(x):
    z = x * 1.0
    return _scale_first_in_place(z) * 2.0


def _scaled_copy_returned(a):
    a[0] *= 3.0
    return a


def helper_result_replaces_the_array(x):
    z = np.tanh(x)
    z = _scaled_copy_returned(z)
    return np.sum(z ** 2)


ACCEPTED = [
    (row_updates_of_an_array_nobody_reads_again, (np.linspace(-1, 1, 6).reshape(3, 2),), (0,)),
    (disjoint_regions_of_one_array, (np.linspace(-1, 1, 4),), (0,)),
    (alias_not_read_after_the_write, (np.linspace(-1, 1, 4),), (0,)),
    (float_argument_with_a_second_name, (np.linspace(-1, 1, 3), 0.7), (0, 1)),
    (helper_writes_into_an_array_nobody_reads_again, (np.linspace(-1, 1, 4),), (0,)),
    (helper_result_replaces_the_array, (np.linspace(-1, 1, 4),), (0,)),
    (view_saved_for_the_adjoint_then_written,
     (np.linspace(-1, 1, 4).reshape(2, 2), np.linspace(0.5, -0.3, 4).reshape(2, 2)), (0, 1)),
]


@pytest.mark.parametrize("fn,args,wrt", ACCEPTED, ids=[f.__name__ for f, _, _ in ACCEPTED])
@pytest.mark.parametrize("optimize", [True, False])
def test_accepted_writes_match_finite_differences(fn, args, wrt, optimize):
    kept = copy.deepcopy(args)
    grads = sd.grad(fn, wrt=wrt, optimize=optimize)(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    check_grads_fd(fn, kept, wrt, grads)
    for a, b in zip(args, kept):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fn,args,wrt", ACCEPTED, ids=[f.__name__ for f, _, _ in ACCEPTED])
def test_accepted_writes_in_forward_mode(fn, args, wrt):
    grads = sd.grad(fn, wrt=wrt)(*copy.deepcopy(args))
    grads = grads if isinstance(grads, tuple) else (grads,)
    rng = np.random.default_rng(3)
    tangents = tuple((float(rng.normal()) if isinstance(a, float) else rng.normal(size=np.shape(a)))
                     if k in wrt else (0.0 if isinstance(a, float) else np.zeros_like(a))
                     for k, a in enumerate(args))
    _, out_dot = sd.jvp(fn, copy.deepcopy(args), tangents)
    expected = sum(float(np.sum(np.asarray(g) * tangents[k])) for k, g in zip(wrt, grads))
    assert out_dot == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("fn,args,wrt", [ACCEPTED[1], ACCEPTED[2], ACCEPTED[3]],
                         ids=lambda p: getattr(p, "__name__", ""))
def test_accepted_writes_on_the_tape(fn, args, wrt):
    """(the tape refuses in-place writes into rows that its own gradient needs, as PyTorch does)"""
    grads = sd.grad(fn, wrt=wrt)(*copy.deepcopy(args))
    grads = grads if isinstance(grads, tuple) else (grads,)
    tape = grad_of(fn, copy.deepcopy(args), wrt=wrt)
    tape = tape if isinstance(tape, tuple) else (tape,)
    for g, t in zip(grads, tape):
        np.testing.assert_allclose(t, g, rtol=1e-9, atol=1e-12)


def test_a_write_no_other_name_can_see_costs_no_check():
    def loop(x):
        total = 0.0
        for i in range(3):
            total += x[i] ** 2
        z = x * 2.0
        z[0] = 1.0
        return total + np.sum(z)

    text = sd.source(sd.grad(loop))
    assert "check_alias" not in text, text


def test_specialized_code_drops_the_check_for_a_number():
    df = sd.grad(float_argument_with_a_second_name, wrt=(0, 1))
    assert "check_alias(" in sd.source(df)  # s may be an array in general
    args = (np.linspace(-1, 1, 3), 0.7)
    df(*args)
    assert "check_alias" not in sd.source(df, *args)  # a float is immutable


def test_tape_treats_numbers_as_values_inside_grad_of():
    """grad_of runs numpy programs: y[0] is a copy and s -= v rebinds a float argument."""
    def item(y):
        s = y[0, 1]
        s += y[1, 0]
        return s + 0.2 * np.sum(np.tanh(y))

    y = np.linspace(-1, 1, 6).reshape(2, 3)
    check_grads_fd(item, (y.copy(),), (0,), (grad_of(item, (y.copy(),), wrt=0),))
    args = (np.linspace(-1, 1, 3), 0.7)
    tape = grad_of(float_argument_with_a_second_name, copy.deepcopy(args), wrt=(0, 1))
    check_grads_fd(float_argument_with_a_second_name, args, (0, 1), tape)


def test_tensor_api_keeps_views_outside_grad_of():
    """Outside grad_of the Tensor behaves like PyTorch: an item is a view and += writes into it."""
    x = sd.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1.0
    item = y[1]
    item += 10.0
    assert y.tolist() == [1.0, 12.0, 3.0]


# ----------------------------------------------------------------- arrays from outside the function

TABLE = np.array([1.0, 2.0, 3.0])


def writes_into_a_global(x):
    TABLE[0] = x
    return np.sum(TABLE * x)


def updates_a_view_of_a_global(x):
    v = TABLE[1:]
    v *= x
    return np.sum(TABLE * x)


def _set_first(a, value):
    a[0] = value


def helper_writes_into_a_global(x):
    _set_first(TABLE, 2.0)
    return np.sum(TABLE * x)


def writes_into_a_copy_of_a_global(x):
    t = TABLE.copy()
    t[0] = x
    v = TABLE[1:]
    v = v * x
    return np.sum(t * x) + np.sum(v)


def test_a_write_into_a_global_array_is_refused_before_it_runs():
    """sourcediff reads a global as a constant: ``TABLE[0] = x`` would hide x's path through it
    (numpy's derivative is 2x + 5, the constant reading gives x + 5) and change the module's data.
    """
    kept = TABLE.copy()
    for grad in (sd.grad, lambda f: (lambda x: sd.jvp(f, (x,), (1.0,)))):
        with pytest.raises(sd.errors.SourcediffSyntaxError) as info:
            grad(writes_into_a_global)(2.0)
        msg = str(info.value)
        assert f"test_alias.py:{_line_of(writes_into_a_global, 'TABLE[0] = x')}" in msg, msg
        assert "TABLE[0] = x" in msg and "not a local variable" in msg and "copy()" in msg, msg
        np.testing.assert_array_equal(TABLE, kept)


@pytest.mark.parametrize("fn,text", [(updates_a_view_of_a_global, "v *= x"),
                                     (helper_writes_into_a_global, "_set_first(TABLE, 2.0)")])
def test_a_write_that_reaches_a_global_through_a_view_or_a_helper_is_refused(fn, text):
    kept = TABLE.copy()
    with pytest.raises(sd.AliasError) as info:
        sd.grad(fn)(2.0)
    msg = str(info.value)
    assert f"test_alias.py:{_line_of(fn, text)}" in msg and "the global TABLE" in msg, msg
    np.testing.assert_array_equal(TABLE, kept)


def test_a_write_into_a_copy_of_a_global_is_differentiated():
    kept = TABLE.copy()
    g = sd.grad(writes_into_a_copy_of_a_global)(0.7)
    check_grads_fd(writes_into_a_copy_of_a_global, (0.7,), (0,), (g,))
    np.testing.assert_array_equal(TABLE, kept)


def test_a_write_into_an_enclosing_array_is_refused():
    table = np.ones(3)

    def inner(x):
        v = table[:2]
        v += x
        return np.sum(table * x)

    with pytest.raises(sd.AliasError, match="the enclosing table"):
        sd.grad(inner)(1.5)
    np.testing.assert_array_equal(table, np.ones(3))


def test_an_inner_function_writing_into_the_enclosing_array_is_refused():
    """``put`` writes into ``a`` of the enclosing code: the derivative of ``np.sum(a * x)`` would
    miss x's path through ``a`` (it was 2.0 here for numpy's 4.0)."""
    def f(x):
        a = np.zeros(3)

        def put(v):
            a[0] = v

        put(x)
        return np.sum(a * x)

    with pytest.raises(sd.errors.SourcediffSyntaxError) as info:
        sd.grad(f)(2.0)
    msg = str(info.value)
    assert "a[0] = v" in msg and "inner function put" in msg and "a = put(...)" in msg, msg


LOG = []


def appends_to_a_global_list(x):
    LOG.append(x * 2.0)
    return np.sum(LOG[-1] * x)


def fills_a_global_array(x):
    TABLE.fill(1.0)
    return np.sum(TABLE * x)


def appends_to_a_passed_list(x, log):
    log.append(x * 2.0)
    return np.sum(log[-1] * x)


@pytest.mark.parametrize("fn,text,kind", [
    (appends_to_a_global_list, "LOG.append(x * 2.0)", "a module-level value"),
    (fills_a_global_array, "TABLE.fill(1.0)", "a module-level value")])
def test_an_in_place_method_on_a_global_is_refused(fn, text, kind):
    """``LOG.append(v)`` then ``LOG[-1] * x``: the constant reading of LOG gave 2x where numpy's
    derivative is 4x, and the gradient call appended to the module's list a second time."""
    kept_log, kept_table = list(LOG), TABLE.copy()
    with pytest.raises(sd.errors.SourcediffSyntaxError) as info:
        sd.grad(fn)(np.array([1.0, 2.0]))
    msg = str(info.value)
    assert f"test_alias.py:{_line_of(fn, text)}" in msg and text in msg and kind in msg, msg
    assert "as an argument" in msg, msg
    assert LOG == kept_log
    np.testing.assert_array_equal(TABLE, kept_table)


def test_the_list_passed_in_as_an_argument_is_differentiated():
    x = np.array([1.0, 2.0])
    g = sd.grad(appends_to_a_passed_list)(x, [])
    check_grads_fd(lambda x: appends_to_a_passed_list(x, []), (x,), (0,), (g,))


def sd_sorted_square(x):
    y = np.sort(x)  # a module's function named like a list method: not an in-place call
    return np.sum(y * y)


def test_a_module_function_named_like_a_list_method_is_not_refused():
    x = np.array([2.0, 1.0])
    check_grads_fd(sd_sorted_square, (x,), (0,), (sd.grad(sd_sorted_square)(x),))


class _Params:
    def __init__(self):
        self.W = np.zeros(2)


def writes_through_an_attribute(x, p):
    w = p.W
    w[0] = x[0]
    return np.sum(p.W * x)


def test_a_write_through_an_attribute_of_an_object_read_later_is_refused():
    """``w = p.W; w[0] = ...`` changes p, which is read later: the gradient was [1, 0] for numpy's
    [2, 0]. The run-time alias check now looks into the attributes of an object."""
    with pytest.raises(sd.AliasError) as info:
        sd.grad(writes_through_an_attribute)(np.array([1.0, 2.0]), _Params())
    msg = str(info.value)
    assert f"test_alias.py:{_line_of(writes_through_an_attribute, 'w[0] = x[0]')}" in msg, msg
    assert "changes p" in msg, msg
