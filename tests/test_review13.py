"""Arrays that share memory through containers, views and helpers: an in-place write must leave the
caller's arrays as they were (sourcediff copies what the function writes into) and give the
gradient numpy's program has, or be refused. Each case here changed the caller's data or gave a
silently wrong gradient before."""

import copy
import functools

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import sourcediff as sd
from tests.oracles import check_grads_fd

MODES = ["reverse", "forward"]
WRTS = [(0,), (0, 1)]


def _x():
    return np.array([0.3, -0.4, 0.7, 1.1])


def _y():
    return np.random.default_rng(3).normal(size=(2, 4))


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _leaves(t):
    if isinstance(t, dict):
        return [leaf for v in t.values() for leaf in _leaves(v)]
    if isinstance(t, (list, tuple)):
        return [leaf for v in t for leaf in _leaves(v)]
    return [t]


def _check(fn, args, wrt, mode):
    """The gradient agrees with finite differences (leaf by leaf for a list or dict argument) and
    the caller's arguments are unchanged."""
    before = copy.deepcopy(args)
    got = sd.grad(fn, wrt=wrt, mode=mode)(*args)
    assert _same(args, before), "the caller's arguments were changed"
    got = got if isinstance(got, tuple) else (got,)
    for i, g in zip(wrt, got):
        if isinstance(args[i], np.ndarray):
            check_grads_fd(fn, before, (i,), (g,))
            continue
        rng = np.random.default_rng(0)
        for k, (leaf, gl) in enumerate(zip(_leaves(before[i]), _leaves(g))):
            v = rng.normal(size=np.shape(leaf))

            def at(t, i=i, k=k, leaf=leaf, v=v):
                a = copy.deepcopy(before)
                _leaves(a[i])[k][...] = leaf + t * v
                return float(fn(*a))

            fd = (at(1e-6) - at(-1e-6)) / 2e-6
            an = float(np.sum(gl * v))
            assert abs(fd - an) <= 1e-5 * (abs(fd) + abs(an)) + 1e-8, (i, k, an, fd)


# ---------------------------------------------------------------- an item of a list, tuple or dict
# argument written into: the parameter was copied as a list (list(ws)), so the arrays it holds
# were the caller's; forward mode left them changed (reverse mode put the old values back)


def _write_into_a_list_item(x, ws):
    w = ws[0]
    w[1:3] = x[:2]
    return np.sum(w * x)


def _write_into_an_unpacked_item(x, ws):
    a, b = ws
    b[1:3] = x[:2]
    return np.sum(b * x)


def _write_into_a_dict_item(x, d):
    w = d["w"]
    w[1:3] = x[:2] * 2.0
    return np.sum(w * x)


def _fill_a_list_item(x, ws):
    w = ws[1]
    w.fill(2.0)
    return np.sum(w * x)


def _write_into_the_only_parameter(ws):
    u = ws[1] * 1.0
    w = ws[0]
    w[1:3] = u[:2]
    return np.sum(w * u)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wrt", WRTS + [(1,)])
@pytest.mark.parametrize("fn", [_write_into_a_list_item, _write_into_an_unpacked_item,
                                _fill_a_list_item])
def test_a_write_into_an_item_of_a_list_argument(fn, wrt, mode):
    if fn is _fill_a_list_item and 1 in wrt and mode == "reverse":
        wrt = (0,)  # (w.fill of a value that carries a derivative is refused: not this test)
    try:
        _check(fn, [_x(), [_x() * 2.0, _x() + 1.0]], wrt, mode)
    except sd.SourcediffSyntaxError:
        assert fn is _fill_a_list_item and 1 in wrt  # (refused at compile time: fine)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wrt", WRTS + [(1,)])
def test_a_write_into_an_item_of_a_dict_argument(wrt, mode):
    _check(_write_into_a_dict_item, [_x(), {"w": _x() * 3.0}], wrt, mode)


@pytest.mark.parametrize("mode", MODES)
def test_a_write_into_an_item_of_the_only_parameter(mode):
    _check(_write_into_the_only_parameter, [[_x() * 2.0, _x() + 1.0]], (0,), mode)


def _write_into_each_item_in_a_loop(x, ws):
    for w in ws:
        w[0] = x[0]     # (reverse mode left these changed too)
    return np.sum(x * x)


def _write_into_a_popped_item(x, ws):
    a = ws.pop()
    a[1:3] = x[:2]
    return np.sum(a * x)


def _write_into_an_item_of_a_nested_list(x, nest):
    inner = nest[1]
    w = inner[0]
    w[1:3] = x[:2]
    return np.sum(w * x)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wrt", WRTS)
def test_writes_into_items_through_loops_pops_and_nesting(wrt, mode):
    _check(_write_into_each_item_in_a_loop, [_x(), [_x() * 2.0, _x() + 1.0]], wrt, mode)
    _check(_write_into_a_popped_item, [_x(), [_x() * 2.0, _x() + 1.0]], wrt, mode)
    _check(_write_into_an_item_of_a_nested_list, [_x(), [[_x()], [_x() * 3.0]]], wrt, mode)


# ---------------------------------------------------------------- in-place writes other than
# a[i] = v into an argument or a view of one that carries no derivative (numpy's out=, np.copyto,
# np.add.at, np.put, np.place, np.fill_diagonal; v.fill, v.sort, v.put, v.partition): only
# subscript assignments made the parameter be copied, so the caller's y was changed


def _fill_a_row(x, y):
    v = y[1]
    v.fill(0.5)
    return np.sum(v * x)


def _sort_a_row(x, y):
    v = y[1]
    v.sort()
    return np.sum(x * x)


def _partition_a_row(x, y):
    v = y[0]
    v.partition(1)
    return np.sum(x * v)


def _copyto_a_row(x, y):
    np.copyto(y[1], 3.0)
    return np.sum(x * x)


def _out_into_a_row(x, y):
    v = y[1]
    np.multiply(v, 2.0, out=v)
    return np.sum(v * x)


def _add_at(x, y):
    np.add.at(y, ([0], [1]), 1.0)
    return np.sum(x * x)


def _put_into_a_row(x, y):
    v = y[1]
    v.put([0], 3.0)
    return np.sum(x * x)


def _np_place(x, y):
    v = y[1]
    np.place(v, v > 0.5, 3.0)
    return np.sum(x * x)


def _fill_diagonal_of_a_reshape(x, y):
    v = y.reshape(2, 2, 2)
    np.fill_diagonal(v[0], 3.0)
    return np.sum(x * x)


def _fill_each_row(x, y):
    for r in y:
        r.fill(0.5)
    return np.sum(x * x)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wrt", WRTS)
@pytest.mark.parametrize("fn", [_fill_a_row, _sort_a_row, _partition_a_row, _copyto_a_row,
                                _out_into_a_row, _add_at, _put_into_a_row, _np_place,
                                _fill_diagonal_of_a_reshape, _fill_each_row])
def test_an_in_place_write_into_an_argument_leaves_the_caller_s_array(fn, wrt, mode):
    try:
        _check(fn, [_x(), _y()], wrt, mode)
    except sd.SourcediffSyntaxError as exc:  # (a write into a value that carries a derivative)
        assert "in place" in str(exc) and 1 in wrt


# ---------------------------------------------------------------- views made by what has no view
# fact (y.view(), as_strided, y.flat): the written name was not linked to y at all


def _write_into_y_view(x, y):
    v = y.view()
    v[0, 1:3] = x[:2]
    return np.sum(x * x)


def _write_into_as_strided(x, y):
    v = as_strided(y, shape=(4,), strides=(8,))
    v[1:3] = x[:2]
    return np.sum(x * x)


def _write_through_flat(x, y):
    v = y.flat
    v[1:3] = x[:2]
    return np.sum(x * x)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wrt", WRTS)
@pytest.mark.parametrize("fn", [_write_into_y_view, _write_into_as_strided, _write_through_flat])
def test_a_write_into_a_view_made_without_a_view_fact(fn, wrt, mode):
    _check(fn, [_x(), _y()], wrt, mode)


def _flat_write_then_read(x, y):
    w = y.flat
    w[1] = x[0]
    return np.sum(y[0] * x)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wrt", WRTS + [(1,)])
def test_a_write_through_flat_then_a_read_of_the_array_is_refused(wrt, mode):
    # (numpy changes y[0, 1]; the adjoint took the write as one into w alone: the gradient of x
    # lacked y's read of x[0], and y's gradient kept the overwritten entry)
    x, y = _x(), _y()
    y0 = y.copy()
    with pytest.raises(sd.AliasError, match="changes y"):
        sd.grad(_flat_write_then_read, wrt=wrt, mode=mode)(x, y)
    assert np.array_equal(y, y0)


# ---------------------------------------------------------------- a helper that writes into the
# arrays a list it is given holds: it got list(ls), or the list written out in the call itself


def _set_first_row(ls, e):
    w = ls[0]
    w[1:3] = e
    return w


def _helper_writes_into_a_literal_list(x, y):
    _set_first_row([y[1]], x[:2])
    return np.sum(x * x)


def _helper_writes_into_a_list_argument(x, ws):
    w = _set_first_row(ws, x[:2])
    return np.sum(w * x)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wrt", WRTS + [(1,)])
def test_a_helper_writing_into_an_item_of_a_literal_list(wrt, mode):
    _check(_helper_writes_into_a_literal_list, [_x(), _y()], wrt, mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wrt", WRTS + [(1,)])
def test_a_helper_writing_into_an_item_of_a_list_argument(wrt, mode):
    _check(_helper_writes_into_a_list_argument, [_x(), [_x() * 2.0, _x() + 1.0]], wrt, mode)


# ---------------------------------------------------------------- what the copy keeps shared


def _write_into_one_read_the_other(x, ws):
    w = ws[0]
    w[1:3] = x[:2]
    return np.sum(ws[1] * x)


@pytest.mark.parametrize("mode", MODES)
def test_an_array_held_twice_stays_one_array_in_the_copy(mode):
    # (numpy: ws[1] is ws[0], so the write shows in the read of ws[1]; the copy keeps them one
    # array, and the write's check sees that: refused, as it is without a copy)
    a = _x() * 2.0
    with pytest.raises(sd.AliasError, match="changes ws"):
        sd.grad(_write_into_one_read_the_other, wrt=0, mode=mode)(_x(), [a, a])
    assert np.array_equal(a, _x() * 2.0)


@pytest.mark.parametrize("mode", MODES)
def test_overlapping_arrays_held_by_a_written_argument_stay_views_of_one_copy(mode):
    # (the copy of [y[0], y[0, :]] holds two views of one copy of y: the write through one shows
    # in the other, and its check refuses the read of it, as without a copy)
    y = _y()
    with pytest.raises(sd.AliasError, match="changes ws"):
        sd.grad(_write_into_one_read_the_other, wrt=0, mode=mode)(_x(), [y[0], y[0, :]])
    assert np.array_equal(y, _y())


def test_the_copy_of_a_list_keeps_its_views_views():
    y = np.arange(12.0).reshape(3, 4)
    c = sd.runtime.copy_held([y, y[1], (y.T, {"a": y[::-1, ::2]})])
    assert not np.shares_memory(c[0], y)
    c[0][1, 0] = 100.0
    assert c[1][0] == 100.0 and c[2][0][0, 1] == 100.0 and c[2][1]["a"][1, 0] == 100.0
    assert y[1, 0] == 4.0
    a = np.ones(3)
    held = sd.runtime.copy_held([a, a])
    assert held[0] is held[1] and held[0] is not a


def _write_through_the_held_dict(params, held, x):
    q = held[0]
    q["b"] = q["b"] * 2.0
    return np.sum(params["b"] * x)


@pytest.mark.parametrize("mode", MODES)
def test_a_list_argument_holding_another_argument_is_refused(mode):
    params = {"b": _x()}
    with pytest.raises(sd.AliasError, match="the arguments held and params share memory"):
        sd.grad(_write_through_the_held_dict, wrt=2, mode=mode)(params, [params], _x())
    assert np.array_equal(params["b"], _x())


# ---------------------------------------------------------------- tape mode: numpy's view, the
# tape's copy (y.ravel(), np.swapaxes(y, 0, 1) of a Tensor): a write into it did not reach y, and
# the gradient was silently that of a program in which y stayed as it was


def _write_into_a_ravel(x, y):
    v = y.ravel()
    v[1:3] = x[:2]
    return np.sum(y * y) + np.sum(x)


def _write_into_a_swapaxes(x, y):
    v = np.swapaxes(y, 0, 1)
    v[1] = x[:2]
    return np.sum(y * y) + np.sum(x)


@pytest.mark.parametrize("wrt", [(0, 1), (1,)])
@pytest.mark.parametrize("fn", [_write_into_a_ravel, _write_into_a_swapaxes])
def test_tape_refuses_a_write_into_a_view_it_holds_as_a_copy(fn, wrt):
    from sourcediff.tape import TapeError, grad_of

    with pytest.raises(TapeError, match="view of a tensor"):
        grad_of(fn, [_x(), _y()], wrt=wrt)


# ---------------------------------------------------------------- a closure that writes into a
# variable of the enclosing function: lifted as def _g(*, x, y), its keyword-only parameters were
# not looked at, so nothing saw the write (the caller's y changed, and a read of y after the call
# gave a silently wrong gradient)


def _closure_writes_then_y_is_read(x, y):
    def g():
        v = y[1]
        v[0] = x[0] * 2.0
        return 0.0

    g()
    return np.sum(x * y[1])


def _closure_writes_into_an_argument(x, y):
    def g():
        v = y[1]
        v[0] = 1.0
        return 0.0

    g()
    return np.sum(x * x)


def _writes_into_a_keyword_only_parameter(a, *, out):
    out[0] = a
    return 0.0


def _keyword_only_helper_writes(x, y):
    _writes_into_a_keyword_only_parameter(x[0] * 2.0, out=y[1])
    return np.sum(x * y[1])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wrt", WRTS)
@pytest.mark.parametrize("fn", [_closure_writes_then_y_is_read, _keyword_only_helper_writes])
def test_a_closure_or_keyword_only_parameter_writing_into_what_is_read_later_is_refused(
        fn, wrt, mode):
    x, y = _x(), _y()
    with pytest.raises(sd.AliasError, match="read later"):
        sd.grad(fn, wrt=wrt, mode=mode)(x, y)
    assert np.array_equal(y, _y())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wrt", WRTS)
def test_a_closure_writing_into_an_argument_leaves_the_caller_s_array(wrt, mode):
    _check(_closure_writes_into_an_argument, [_x(), _y()], wrt, mode)


# ---------------------------------------------------------------- a functools.partial holding a
# view of an argument, called for its effect: the function wrote into y[1] (numpy) while the
# derivative took y as unchanged (silently wrong gradient in both modes)


def _set_first(a, v):
    a[0] = v
    return 0.0


def _partial_writes_then_y_is_read(x, y):
    g = functools.partial(_set_first, y[1])
    g(x[0] * 2.0)
    return np.sum(x * y[1])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wrt", WRTS)
def test_a_partial_writing_into_what_it_holds_then_a_read_is_refused(wrt, mode):
    x, y = _x(), _y()
    with pytest.raises(sd.AliasError, match="read later"):
        sd.grad(_partial_writes_then_y_is_read, wrt=wrt, mode=mode)(x, y)
