"""Programs from the twelfth review that gave a gradient with no error that finite differences
disagree with (or crashed inside generated code). Each is checked by an oracle (central finite
differences, tests.oracles): sourcediff must either agree with it, in reverse and in forward mode,
or refuse the program with a sourcediff error."""

import copy
import math

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import SourcediffError
from tests.oracles import check_grads_fd, directional_fd

X6 = np.array([0.3, -1.2, 0.7, 1.5, -0.4, 0.9])
M33 = np.array([[0.5, -1.0, 0.2], [1.1, 0.3, -0.7], [-0.2, 0.8, 1.4]])


def agrees_or_refuses(f, args, wrt=0):
    """f's gradient (reverse mode, optimized or not) and its jvp match finite differences, or
    sourcediff refuses f; True when it refused."""
    refused = False
    for optimize in (True, False):
        try:
            g = sd.grad(f, wrt=wrt, optimize=optimize)(*copy.deepcopy(args))
        except SourcediffError:
            refused = True
            continue
        check_grads_fd(f, args, (wrt,), (g,))
    v = np.random.default_rng(3).normal(size=np.shape(args[wrt]))
    tangents = [None] * len(args)
    tangents[wrt] = v
    try:
        _, out_dot = sd.jvp(f, copy.deepcopy(args), tangents)
    except SourcediffError:
        return True
    fd = directional_fd(f, args, wrt, v)
    assert abs(float(out_dot) - fd) <= 1e-5 * (1 + abs(fd)), (out_dot, fd)
    return refused


# ------------------------------------------- op= on an item or attribute that holds an array
# Python's ``ls[i] += e`` runs ``ls[i].__iadd__(e)``: for an array held by a list, a dict or an
# object, numpy writes into that array, which other names (or other items) may hold too.


def list_of_views_imul(x):
    y = x * 1.0
    views = [y[:3], y[3:]]
    views[1] *= x[:3]
    return np.sum(y ** 2)


def dict_item_imul(x):
    y = x * 1.0
    d = {"a": y}
    d["a"] *= x
    return np.sum(y * x)


def list_same_array_twice(x):
    y = x * 1.0
    ls = [y, y]
    ls[0] += x
    return np.sum(ls[1] * x)


def list_repeated(x):
    y = x * 1.0
    ys = [y] * 2
    ys[0] += x
    return np.sum(ys[1] * x)


def dict_call_same_array(x):
    y = x * 1.0
    d = dict(a=y, b=y)
    d["a"] += x
    return np.sum(d["b"] * x)


def list_item_in_loop(x):
    y = x * 1.0
    ls = [y]
    for _ in range(2):
        ls[0] *= x
    return np.sum(y)


def list_items_loop_index(x):
    y = x * 1.0
    ls = [y[:3], y[3:]]
    for i in range(2):
        ls[i] *= x[:3]
    return np.sum(y * x)


class Model:
    def __init__(self):
        self.w = np.linspace(0.5, 1.5, 6)

    def step(self, x):
        w = self.w
        self.w += x
        return np.sum(w * x)


def attribute_iadd(x):
    return Model().step(x)


@pytest.mark.parametrize("f", [list_of_views_imul, dict_item_imul, list_same_array_twice,
                               list_repeated, dict_call_same_array, list_item_in_loop,
                               list_items_loop_index, attribute_iadd])
def test_item_op_assign_into_a_shared_array(f):
    assert agrees_or_refuses(f, (X6.copy(),))


def fresh_items(x):
    ps = [x * 1.0, x * 2.0]
    for i in range(2):
        ps[i] -= 0.1 * x
    d = {"a": x * 3.0}
    d["a"] *= x
    return np.sum(ps[0] * ps[1]) + np.sum(d["a"])


class Counter:
    def __init__(self):
        self.n = 0
        self.w = np.ones(6)

    def step(self, x):
        self.n += 1
        self.w += x
        return np.sum(self.w * x) * self.n


def attribute_iadd_fresh(x):
    return Counter().step(x)


def array_item_iadd(x):
    a = np.zeros(6)
    for i in range(6):
        a[i] += x[i] ** 2
    a[::2] *= x[1::2]
    return np.sum(a * x)


def list_of_floats(x):
    acc = [0.0, 1.0]
    for i in range(3):
        acc[i % 2] += x[i] * x[i + 1]
    return acc[0] * acc[1]


@pytest.mark.parametrize("f", [fresh_items, attribute_iadd_fresh, array_item_iadd,
                               list_of_floats])
def test_item_op_assign_that_shares_nothing_is_differentiated(f):
    assert not agrees_or_refuses(f, (X6.copy(),))


# ------------------------------------------------ builtin max/min over the entries of an array
# max(x) reduces over x's entries: its tangent is not its vjp with the tangent in place of g (the
# rule was declared elementwise), and its gradient for an array is an array, not a list (2 * g of
# a list repeats it).


def max_times_two(x):
    return max(x) * 2.0


def sin_max_times_min(x):
    return np.sin(max(x)) * min(x)


def min_of_square(x):
    return min(x ** 2) + max(3 * x)


def max_of_several(x):
    return max(x[0], x[1], 0.5) ** 2 + min([x[2], x[0] * 3])


@pytest.mark.parametrize("f", [max_times_two, sin_max_times_min, min_of_square, max_of_several])
def test_builtin_extremum_over_an_array(f):
    x = np.array([0.3, 1.2, -0.5, 0.8])
    assert not agrees_or_refuses(f, (x,))
    h = sd.hessian(f)(x)
    v = np.array([0.4, -1.0, 0.7, 0.2])
    gx = sd.grad(f)
    fd = (gx(x + 1e-6 * v) - gx(x - 1e-6 * v)) / 2e-6
    np.testing.assert_allclose(h @ v, fd, rtol=1e-5, atol=1e-7)


# ---------------------------------------------- a starred argument collected by a rule's *args
# max(*x) passes x's items into the rule's *args with no name each: reverse mode refused it, and
# forward mode took its tangent as zero.


def max_of_starred(x):
    return max(*x) ** 2


def min_of_starred_and_constant(x):
    return min(*x, 0.1)


def hypot_of_starred(x):
    return math.hypot(*x)


@pytest.mark.parametrize("f", [max_of_starred, min_of_starred_and_constant, hypot_of_starred])
def test_starred_argument_of_a_rule_with_star_args(f):
    x = np.array([0.3, 1.2, -0.5, 0.8])
    with pytest.raises(SourcediffError, match=r"written as \*x"):
        sd.jvp(f, (x,), (np.ones(4),))
    assert agrees_or_refuses(f, (x,))


# ------------------------------ numpy writes and in-place methods into a view of another array
# np.multiply(..., out=y[:3]), np.copyto(y.reshape(2, 3), ...), y[:4].sort(): the written view is
# a temporary read nowhere after, so it carried no derivative and the write went unrefused, while
# it changed y, which is read.

W23 = np.arange(6.0).reshape(2, 3)


def fill_diagonal_of_reshape(x):
    y = x * 1.0
    np.fill_diagonal(y.reshape(2, 3), x[0])
    return np.sum(y * x)


def matmul_out_slice(x):
    y = x * 1.0
    np.matmul(W23, y[:3], out=y[:2])
    return np.sum(y * x)


def out_view_of_constant(x):
    y = np.zeros(6)
    v = y[:3]
    np.multiply(x[:3], 2.0, out=v)
    return np.sum(y * x)


def sort_a_view(x):
    y = x * 1.0
    v = y[:4]
    v.sort()
    return np.sum(y * np.arange(6))


def copyto_reshaped(x):
    y = np.ones(6)
    v = y.reshape(2, 3)
    np.copyto(v, x.reshape(2, 3) ** 2)
    return np.sum(y * x)


def sort_an_item_of_a_list_of_views(x):
    y = x * 1.0
    parts = [y[:3], y[3:]]
    parts[0].sort()
    return np.sum(y * np.arange(6))


def out_an_item_of_a_list(x):
    y = np.zeros(6)
    parts = [y[:3]]
    np.add(x[:3], 1.0, out=parts[0])
    return np.sum(y * x)


def fill_a_transpose(x):
    y = x * 1.0
    z = y.T
    z.fill(0.5)
    return np.sum(y * x)


def add_at_a_slice(x):
    y = np.zeros(6)
    np.add.at(y[:4], np.array([0, 1, 1]), x[:3])
    return np.sum(y * x)


@pytest.mark.parametrize("f", [fill_diagonal_of_reshape, matmul_out_slice, out_view_of_constant,
                               sort_a_view, copyto_reshaped, sort_an_item_of_a_list_of_views,
                               out_an_item_of_a_list, fill_a_transpose, add_at_a_slice])
def test_numpy_write_into_a_view(f):
    assert agrees_or_refuses(f, (X6.copy(),))


# ------------------------------------------------------------ setting an array's own attributes
# y.shape = ..., y.strides = ..., v.flat = c (v a view of y): numpy changes the array itself; the
# generated code ran the store and differentiated y as it was before it.


def set_shape(x):
    y = x * 2.0
    y.shape = (6, 1)
    return np.sum(y * y.T)


def set_strides(x):
    y = x.reshape(2, 3) * 1.0
    y.strides = (8, 16)
    return np.sum(y * W23)


def set_flat_of_a_view(x):
    y = x * 1.0
    v = y[:3]
    v.flat = 0.0
    return np.sum(y * x)


@pytest.mark.parametrize("f", [set_shape, set_strides, set_flat_of_a_view])
def test_setting_an_array_attribute(f):
    assert agrees_or_refuses(f, (X6.copy(),))


class Shaped:
    def __init__(self, shape):
        self.shape = shape


def shape_attribute_of_an_object(x):
    s = Shaped(None)
    s.shape = x.shape
    y = np.ones(6)
    y.shape = (2, 3)  # (an array that carries no derivative: its store runs as written)
    return np.sum(x.reshape(2, 3) * y) * len(s.shape)


def test_attribute_stores_that_change_no_differentiated_array():
    assert not agrees_or_refuses(shape_attribute_of_an_object, (X6.copy(),))


# ----------------------------------------------------- iterating over a dict gives its keys
# sourcediff runs `for k in seq` (and comprehensions, list(seq), a, b = seq) as seq[k] for k in
# range(len(seq)): for a dict that reads the values stored under the keys 0, 1, ...; and max(d),
# sum(d) differentiated the keys as if they were the values.


def loop_over_int_keys(x):
    d = {0: x[0], 1: x[1]}
    t = 0.0
    for k in d:
        t = t + k * x[2]
    return t


def generator_over_int_keys(x):
    d = {0: x[0], 1: x[1]}
    return sum(k * x[2] for k in d)


def list_of_a_dict(x):
    d = {0: x[0], 1: x[1]}
    ks = list(d)
    return ks[1] * x[2] + len(d)


def unpack_a_dict(x):
    d = {0: x[0], 1: x[1]}
    a, b = d
    return a * x[0] + b * x[1]


def enumerate_a_dict(x):
    d = {0: x[0], 1: x[1]}
    t = 0.0
    for i, k in enumerate(d):
        t = t + k * x[i]
    return t


def max_of_a_dict(x):
    d = {0: x[0], 1: x[1]}
    return max(d) * x[2]


def sum_of_a_dict(x):
    d = {0: x[0], 1: x[1]}
    return sum(d) * x[2]


def min_and_sum_of_float_keys(x):
    d = {0.5: x[0], 1.5: x[1]}
    return min(d) + sum(d, x[3])


@pytest.mark.parametrize("f", [loop_over_int_keys, generator_over_int_keys, list_of_a_dict,
                               unpack_a_dict, enumerate_a_dict, max_of_a_dict, sum_of_a_dict,
                               min_and_sum_of_float_keys])
def test_dict_iteration_gives_keys(f):
    agrees_or_refuses(f, (X6.copy(),))


def loop_over_reversed_range(x):
    t = 0.0
    for i in reversed(range(6)):
        t = t * 0.5 + x[i]
    return t


def loop_over_an_iterator_held_in_a_name(x):
    t = 0.0
    steps = reversed(range(6))
    for i in steps:
        t = t * 0.5 + x[i]
    return t


def loop_over_iter_of_a_range(x):
    t = 0.0
    steps = iter(range(6))
    for i in steps:
        t = t * 0.5 + x[i]
    return t


def test_loop_over_an_iterator_is_refused_with_a_message():
    # (a loop over reversed(...) itself runs: it reads seq[n - 1 - k]; so does one over
    # reversed(...) held in a name, computed into a list where it is made)
    for fn in (loop_over_reversed_range, loop_over_an_iterator_held_in_a_name):
        check_grads_fd(fn, (X6.copy(),), (0,), (sd.grad(fn)(X6.copy()),))
    with pytest.raises(SourcediffError, match="no length or items by position"):
        sd.grad(loop_over_iter_of_a_range)(X6.copy())


def dict_views_and_sequences(x):
    d = {1: x[0], 0: x[1] * 2}
    t = 0.0
    for k, v in d.items():
        t = t * 2 + v * (k + 1)
    for v in d.values():
        t = t + v ** 2
    a, b = x[0] * 2, x[1]
    p, q = (x[2], x[3])
    return t + sum(v for v in x[::-1]) + a * b * p * q + max(d.values())


def test_iteration_that_runs_by_position_is_differentiated():
    assert not agrees_or_refuses(dict_views_and_sequences, (X6.copy(),))


# -------------------------------------------------- **mapping passed to a function with a rule
# np.clip(x, **opts): the rule's parameters were bound without opts' keys (its **kwargs took
# them under the key None), so the gradient was that of no clipping at all.


def clip_with_keywords_in_a_dict(x):
    opts = dict(a_min=-0.5, a_max=0.5)
    return np.sum(np.clip(x, **opts) ** 2)


def mean_with_keywords_in_a_dict(x):
    kw = {"keepdims": True}
    return np.sum(np.mean(x, **kw) * x)


@pytest.mark.parametrize("f", [clip_with_keywords_in_a_dict, mean_with_keywords_in_a_dict])
def test_keywords_from_a_dict_into_a_rule(f):
    with pytest.raises(SourcediffError, match=r"\*\*(opts|kw) would fill keyword parameters"):
        sd.grad(f)(X6.copy())
    assert agrees_or_refuses(f, (X6.copy(),))


def cumsum_of_a_constant_with_keywords_in_a_dict(x):
    kw = {"axis": 0}
    return np.sum(np.cumsum(np.arange(6.0), **kw) * x)


def test_keywords_from_a_dict_where_nothing_is_differentiated():
    assert not agrees_or_refuses(cumsum_of_a_constant_with_keywords_in_a_dict, (X6.copy(),))


# ------------------------------------ a helper's op= into an item of a list or dict it is given
# def bump(ls, e): ls[0] += e writes into the array ls[0] holds; the caller's check looked only
# at whether a name read later reaches the list itself, not the arrays in it (and not at all for
# a list written out in the call, bump([y], e)).


def bump_first(ls, e):
    ls[0] += e


def bump_first_twice(ls, e):
    bump_first(ls, e)
    bump_first(ls, e)


def helper_bumps_an_item(x):
    y = x * 1.0
    ls = [y]
    bump_first(ls, x)
    return np.sum(y * x)


def helper_bumps_an_item_of_a_literal(x):
    y = x * 1.0
    bump_first([y], x)
    return np.sum(y * x)


def nested_helper_bumps_an_item(x):
    y = x * 1.0
    bump_first_twice([y], x)
    return np.sum(y * x)


def bump_a_dict_entry(d, e):
    d["w"] *= e


def helper_bumps_a_dict_entry(x):
    y = x * 1.0
    bump_a_dict_entry({"w": y}, x)
    return np.sum(y * x)


@pytest.mark.parametrize("f", [helper_bumps_an_item, helper_bumps_an_item_of_a_literal,
                               nested_helper_bumps_an_item, helper_bumps_a_dict_entry])
def test_helper_writes_into_an_item_it_is_given(f):
    assert agrees_or_refuses(f, (X6.copy(),))


def put_first(ls, v):
    ls[0] = v


def helper_replaces_an_item(x):
    y = x * 1.0
    put_first([y], x * 3.0)
    ls = [x * 2.0]
    bump_first(ls, x)
    return np.sum(y * x)


def test_helper_writes_that_reach_no_array_read_later():
    assert not agrees_or_refuses(helper_replaces_an_item, (X6.copy(),))


# ------------------------------ a method called for its effect stores a value on an object
# acc.add(v) with v depending on x, where the call's result is not used: it ran as plain Python
# (nothing carried a derivative into it), stored v on acc unseen, and acc.total, acc.get(),
# getattr(acc, "total") read it back as a constant: a zero gradient.


class Accumulator:
    def __init__(self):
        self.total = 0.0

    def add(self, v):
        self.total = self.total + v

    def get(self):
        return self.total


def method_for_effect_then_attribute(x):
    acc = Accumulator()
    acc.add(x[0] ** 2)
    return acc.total


def method_for_effect_then_getter(x):
    acc = Accumulator()
    acc.add(x[0] ** 2)
    return acc.get()


def method_for_effect_then_getattr(x):
    acc = Accumulator()
    acc.add(x[0] ** 2)
    return getattr(acc, "total") * 1.0


def method_for_effect_through_an_alias(x):
    acc = Accumulator()
    acc.add(x[0] ** 2)
    same = acc
    return same.total


def methods_for_effect_on_listed_objects(x):
    accs = [Accumulator(), Accumulator()]
    for i in range(2):
        accs[i].add(x[i] ** 2)
    return accs[0].total + accs[1].total


def bound_method_for_effect(x):
    acc = Accumulator()
    add = acc.add
    add(x[0] ** 2)
    return acc.total


@pytest.mark.parametrize("f", [method_for_effect_through_an_alias,
                               methods_for_effect_on_listed_objects, bound_method_for_effect])
def test_method_called_for_its_effect_stores_a_value_read_back(f):
    assert agrees_or_refuses(f, (X6.copy(),))


# (review34: a method called for what it stores on a local of a known class is written into its
# caller, compiler/inline.py: the read back then takes the stored value, and agrees with finite
# differences in reverse mode, unoptimized and forward, with no refusal; review40: through a
# getter method too, acc.get())
@pytest.mark.parametrize("f", [method_for_effect_then_attribute, method_for_effect_then_getattr,
                               method_for_effect_then_getter])
def test_method_called_for_its_effect_then_read_back_is_followed(f):
    assert not agrees_or_refuses(f, (X6.copy(),))


STATE = {"w": np.ones(6)}


def set_state(v):
    STATE["w"] = v


def helper_stores_into_a_module_dict(x):
    set_state(x * 2.0)
    return np.sum(STATE["w"] * x)


def test_helper_stores_a_value_into_module_state():
    # (the same write in the function itself is refused; through a helper called for its
    # effect it ran as plain Python, and the read took the stored value as a constant)
    assert agrees_or_refuses(helper_stores_into_a_module_dict, (X6.copy(),))


def append_through_another_name(x):
    ls = [x[0], x[1]]
    same = ls
    same.append(x[2] * 7)
    return ls[2] * ls[0]


def test_append_through_another_name_of_the_list():
    # (the derivative keeps one list of item gradients per name: the item appended through
    # `same` had none under `ls`, a zero gradient in reverse mode, an IndexError in forward)
    assert agrees_or_refuses(append_through_another_name, (X6.copy(),))


# ------------------------------------------- a list or tuple written out, assigned into an array
# a[1:3] = [u, v]: the adjoint of an item store took the gradient of a stored name only, so the
# items of a list or tuple got none (a zero gradient in reverse mode; forward mode was right).


def slice_gets_a_list(x):
    a = np.zeros(4)
    a[1:3] = [x[0] * 2, x[1] * 3]
    return np.sum(a * a)


def row_gets_a_tuple(x):
    a = np.zeros((3, 3))
    a[1] = (x[0], x[1] ** 2, 1.0)
    return np.sum(a ** 2 * np.arange(9).reshape(3, 3))


def columns_get_a_broadcast_list(x):
    a = np.zeros((3, 3))
    a[:, 0:2] = [x[0] * 2, x[1] * 3]
    return np.sum(a * a * np.arange(9).reshape(3, 3))


def block_gets_nested_lists(x):
    a = np.zeros((3, 3))
    a[0:2, 0:2] = [[x[0], x[1]], [x[2] * x[3], 2.0]]
    return np.sum(a ** 3)


def rows_get_arrays(x):
    a = np.zeros((2, 3))
    a[0:2] = [x[:3] * 2, x[3:] ** 2]
    return np.sum(a ** 2 * np.arange(6).reshape(2, 3))


def fancy_and_mask_get_lists(x):
    a = np.zeros(4)
    a[[0, 2]] = [x[0] * 2, x[1] * 3]
    b = np.zeros(4)
    b[b == 0] = [x[0], x[1], x[2], x[3]]
    return np.sum(a * a) + np.sum(b ** 3)


def swap_through_a_list(x):
    a = x.copy()
    for i in range(0, 6, 2):
        a[i:i + 2] = [a[i + 1] * 3, a[i] * 2]
    return np.sum(a ** 2)


@pytest.mark.parametrize("f", [slice_gets_a_list, row_gets_a_tuple, columns_get_a_broadcast_list,
                               block_gets_nested_lists, rows_get_arrays, fancy_and_mask_get_lists,
                               swap_through_a_list])
def test_list_written_out_assigned_into_an_array(f):
    assert not agrees_or_refuses(f, (X6.copy(),))
    x, v = X6.copy(), np.linspace(-1.0, 1.0, 6)
    gx = sd.grad(f)
    fd = (gx(x + 1e-6 * v) - gx(x - 1e-6 * v)) / 2e-6
    np.testing.assert_allclose(sd.hessian(f)(x) @ v, fd, rtol=1e-5, atol=1e-6)


def list_slice_gets_fewer_items(x):
    ls = [x[0], x[1], x[2]]
    ls[0:2] = [x[3] * 2]
    return ls[0] * ls[1]


def list_parameter_slice_assignment(x, ls):
    ls = list(ls)
    ls[0:2] = [x[3] * 2]
    return ls[0] * ls[1] * x[0]


def test_list_slice_assignment_is_refused_in_reverse_mode():
    # (it crashed inside generated code: can only assign an iterable; forward mode is right)
    with pytest.raises(SourcediffError, match="slice of a list"):
        sd.grad(list_slice_gets_fewer_items)(X6.copy())
    assert agrees_or_refuses(list_slice_gets_fewer_items, (X6.copy(),))
    with pytest.raises(SourcediffError, match="slice of a list"):
        sd.grad(list_parameter_slice_assignment)(X6.copy(), [1.0, 2.0, 3.0])


def pop_and_push_in_a_loop(x):
    stack = [x[0]]
    for i in range(1, 4):
        a = stack.pop()
        stack.append(a * x[i])
        stack.append(a + x[i])
    return sum(stack)


def test_list_method_check_names_nothing_bound_after_it(monkeypatch):
    # (the check in front of `a = stack.pop()` named `a`, which the statement itself binds: an
    # UnboundLocalError in the first pass of the loop of the code before specialization)
    from sourcediff import compiled

    monkeypatch.setattr(compiled, "_SPECIALIZE", "0")
    assert not agrees_or_refuses(pop_and_push_in_a_loop, (X6.copy(),))


def dict_display_with_unpacking(x):
    d = {"a": x[0], "b": x[1] * 2}
    e = {**d, "c": x[3]}
    return e["c"] * e["b"]


def test_dict_unpacking_is_differentiated():
    # (refused by name once, "** unpacking", after a message that was "NoneType expressions are
    # not supported ...: rewrite it"; {**d, "c": v} is now the comprehension over d's pairs)
    x = X6.copy()
    g = sd.grad(dict_display_with_unpacking)(x)
    check_grads_fd(dict_display_with_unpacking, (x,), (0,), (g,))
