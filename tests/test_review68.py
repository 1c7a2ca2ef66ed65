"""Programs from a review where users met an internal error, numpy's message or a message about
something their code does not do. Each ends as a gradient checked against central finite
differences (tests/oracles.py) or as a sourcediff exception naming the construct, the user's file
and line, and what to write instead."""

import inspect

import numpy as np
import pytest

import sourcediff as sd

from .oracles import check_grads_fd


# --- an operator whose result is an object of the user's class (-obj running __neg__, obj * 3.0
# __mul__, 2.0 * obj __rmul__, obj / 2 __truediv__, obj ** k __pow__): its adjoint applied
# numpy's arithmetic to the object's gradient by attribute and failed with Python's TypeError
# about sourcediff's GradDict. Refused now like review65's operators on objects


class _V:
    def __init__(self, v):
        self.v = v

    def __neg__(self):
        return _V(-2.0 * self.v)

    def __mul__(self, k):
        return _V(self.v * k * 2.0)

    def __rmul__(self, k):
        return _V(self.v * k * 3.0)

    def __truediv__(self, k):
        return _V(self.v / k + 1.0)

    def __pow__(self, k):
        return _V(self.v ** k * 0.5)

    def __gt__(self, other):
        return np.sum(self.v) > np.sum(other.v)

    def n(self):
        return np.sum(self.v ** 2)


def v_neg(v):
    return (-_V(v)).n()


def v_times(v):
    return (_V(v) * 3.0).n()


def v_rtimes(v):
    return (2.0 * _V(v)).n()


def v_divided(v):
    return (_V(v) / 2.0).n()


def v_power(v):
    k = 3.0
    return (_V(v) ** k).n()


@pytest.mark.parametrize("fn", [v_neg, v_times, v_rtimes, v_divided, v_power])
def test_an_operator_giving_an_object_of_a_users_class_is_refused_at_its_line(fn):
    x = np.array([0.7, 0.3])
    fn(x)  # (Python runs it)
    with pytest.raises(sd.SourcediffError, match=r"test_review68\.py:\d+: an operator .* gives "
                       r"an object of your class \(its attributes: v\).*name of its own") as info:
        sd.grad(fn)(x)
    assert "GradDict" not in str(info.value)


# --- max/min of objects: the gradient goes to the object Python returned. The list form scaled
# the object's gradient (GradDict * 1.0: a TypeError); and an object whose class's __eq__ calls
# another one equal (by name) gave the gradient to the first equal one, not to the one max
# returned: a silent wrong gradient (4 w where it is 8 w)


class _Named:
    def __init__(self, name, w):
        self.name = name
        self.w = w

    def __eq__(self, other):
        return self.name == other.name

    def __gt__(self, other):
        return np.sum(self.w) > np.sum(other.w)

    def n(self):
        return np.sum(self.w ** 2)


def max_of_objects(v):
    return max(_V(v), _V(v * 2.0)).n()


def max_of_a_list_of_objects(v):
    return max([_V(v), _V(v * 2.0), _V(v * -1.0)]).n()


def min_of_a_list_of_objects(v):
    return min([_V(v * 2.0), _V(v), _V(v * 3.0)]).n() * 5.0


def max_of_objects_equal_by_name(w):
    return max(_Named("a", w), _Named("a", w * 2.0)).n()


def max_of_a_list_of_objects_equal_by_name(w):
    return max([_Named("a", w), _Named("a", w * 2.0)]).n()


@pytest.mark.parametrize("fn", [max_of_objects, max_of_a_list_of_objects,
                                min_of_a_list_of_objects, max_of_objects_equal_by_name,
                                max_of_a_list_of_objects_equal_by_name])
@pytest.mark.parametrize("x", [np.array([0.7, 0.3]), np.array([-0.7, 0.2])])
def test_max_of_objects_gives_the_gradient_to_the_one_returned(fn, x):
    value, g = sd.value_and_grad(fn)(x)
    assert value == fn(x)
    check_grads_fd(fn, (x,), (0,), (g,))


# --- np.clip(a, min=lo, max=hi), numpy 2.1's names for the bounds: a bound that carries a
# derivative was refused ("the derivative rule of np.clip gives no derivative for it"); the rule
# takes them now, in both modes (numpy before 2.1 has no such keywords: Python refuses the call)

_CLIP_KEYWORDS = "min" in inspect.signature(np.clip).parameters
_W = np.arange(1.0, 5.0)


def clip_min_max(a, lo, hi):
    return np.sum(np.clip(a, min=lo, max=hi) ** 2 * _W)


def clip_min(a, lo, hi):
    return np.sum(np.clip(a * hi, min=lo) ** 2 * _W)


def clip_max(a, lo, hi):
    return np.sum(np.clip(a, max=hi * lo) ** 2 * _W)


def clip_crossing(a, lo, hi):  # (lo > hi somewhere: numpy gives hi there)
    return np.sum(np.clip(a, min=lo + 0.5, max=hi) ** 2 * _W)


@pytest.mark.skipif(not _CLIP_KEYWORDS, reason="np.clip's min=/max= are numpy 2.1's")
@pytest.mark.parametrize("fn", [clip_min_max, clip_min, clip_max, clip_crossing])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_clips_min_and_max_keywords_carry_the_bounds_derivatives(fn, mode):
    args = (np.array([-1.0, 0.2, 0.5, 2.0]), np.array([0.0, 0.1, 0.6, -0.3]),
            np.array([1.0, 0.3, 0.9, 1.5]))
    grads = sd.grad(fn, wrt=(0, 1, 2), mode=mode)(*args)
    assert np.any(grads[1] != 0) or fn is clip_max
    check_grads_fd(fn, args, (0, 1, 2), grads)


# --- a list's or dict's own method changing a container where sourcediff does not rewrite it as
# the item stores it makes: the message said an array was shared ("p['b'] holds its array ...
# copy it first (p['b'] = p.copy())", "L holds its array ... (L = L[1].copy())"); it now says
# what the call changes and what to write. d.update([("a", v)]) (pairs written out) on a dict the
# function makes is rewritten as d["a"] = v, like d.update({"a": v}): differentiated


def update_a_parameter_dict(p):
    p.update({"a": p["b"] * 2})
    return np.sum(p["a"] ** 2)


def append_to_a_nested_list(v):
    L = [np.zeros(2), []]
    L[1].append(v)
    return np.sum(L[1][0] ** 2)


@pytest.mark.parametrize("fn, arg, said, fix", [
    (update_a_parameter_dict, lambda x: {"a": x, "b": x * 2.0}, "p.update(...) changes the list "
     "or dict p in place", "write p[key] = value for each item instead"),
    (append_to_a_nested_list, lambda x: x, "L[1].append(...) changes the list or dict L[1] in "
     "place", "write L[1] = L[1] + [v] instead")])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_containers_method_is_refused_with_what_it_changes(fn, arg, said, fix, mode):
    x = np.array([0.3, -0.5])
    with pytest.raises(sd.SourcediffSyntaxError, match=r"test_review68\.py:\d+:\d+: ") as info:
        sd.grad(fn, mode=mode)(arg(x))
    message = str(info.value)
    assert said in message and fix in message, message
    assert "holds its array" not in message and ".copy()" not in message, message


def written_instead(v):  # (what the message says to write: differentiated)
    L = [np.zeros(2), []]
    L[1] = L[1] + [v]
    return np.sum(L[1][0] ** 2)


def update_with_pairs(x):
    d = {"b": x}
    d.update([("a", x * 3.0), ("c", np.sin(x))])
    return np.sum(d["a"] ** 2 * d["c"] + d["b"])


def update_with_a_tuple_of_pairs(x):
    d = {"b": x}
    d.update((("a", x * d["b"]),), c=x + 1.0)
    return np.sum(d["a"] * d["c"])


@pytest.mark.parametrize("fn", [written_instead, update_with_pairs, update_with_a_tuple_of_pairs])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_dict_update_with_pairs_is_differentiated(fn, mode):
    x = np.array([0.3, -0.5])
    g = sd.grad(fn, mode=mode)(x)
    check_grads_fd(fn, (x,), (0,), (g,))


# --- forward mode through a callable taken out of a container that carries tangents ((g, s) =
# (np.vectorize(h), x * 2.0)): the callable's zero tangent was np.zeros_like's object array,
# which dynamic_jvp took for the tangent of a closure and indexed (numpy's indexing message).
# It is the symbolic zero now; reverse mode differentiated these already


def vectorized_from_a_tuple(x):
    layer = (np.vectorize(lambda v: v * 2.0), x * 2.0)
    g, s = layer
    return np.sum(g(s) * x)


def vectorized_from_a_dict(x):
    d = {"f": np.vectorize(lambda v: v ** 2), "s": x * 2.0}
    return np.sum(d["f"](d["s"]) * x)


def vectorized_closure_from_a_tuple(x):  # (a closure over x: its tangent is not zero)
    layer = (np.vectorize(lambda v: v * x[0]), x * 2.0)
    g, s = layer
    return np.sum(g(s) * x)


@pytest.mark.parametrize("fn", [vectorized_from_a_tuple, vectorized_from_a_dict,
                                vectorized_closure_from_a_tuple])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_vectorized_function_taken_out_of_a_container(fn, mode):
    x = np.array([0.3, -0.5, 1.2])
    g = sd.grad(fn, mode=mode)(x)
    check_grads_fd(fn, (x,), (0,), (g,))


# --- +obj and abs(obj) running the class's __pos__ and __abs__ with an object as result: +obj's
# rule passed the result's gradient to obj unchanged, a silent wrong gradient (6 v where Python's
# is 18 v), and abs(obj) failed with "'<' not supported between instances"; both are refused now
# with review65's message (+'s rule goes through unbroadcast, abs's through real_only)


class _Scaled:
    def __init__(self, v):
        self.v = v

    def __pos__(self):
        return _Scaled(3.0 * self.v)

    def __abs__(self):
        return _Scaled(np.abs(self.v) * 2.0)

    def n(self):
        return np.sum(self.v ** 2)


def scaled_pos(v):
    return (+_Scaled(v)).n()


def scaled_abs(v):
    return abs(_Scaled(v)).n()


def positive_of_arrays(x):  # (+ of arrays and numbers: still differentiated)
    return np.sum((+x) ** 2 * np.arange(3.0)) * (+x[1]) + np.sum(np.positive(x * 2.0) * x)


@pytest.mark.parametrize("fn", [scaled_pos, scaled_abs])
def test_pos_and_abs_of_an_object_are_refused(fn):
    x = np.array([0.7, -0.3])
    fn(x)
    with pytest.raises(sd.SourcediffError, match=r"test_review68\.py:\d+: .*your class _Scaled"):
        sd.grad(fn)(x)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_positive_of_arrays_is_differentiated(mode):
    x = np.array([0.3, -0.5, 1.0])
    g = sd.grad(positive_of_arrays, mode=mode)(x)
    check_grads_fd(positive_of_arrays, (x,), (0,), (g,))
