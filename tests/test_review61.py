"""Review of lists, dicts and tuples passed to the user's helpers: a helper that adds a new key
to a dict it is given (``d[k] = v; return d``) ran in a forward form that saved ``d[k]`` before
the store, a KeyError from generated code, where the refusal of the write through a helper says
to write exactly that (``p = helper(p)``). Checked against finite differences, and the data
plain Python leaves."""

import copy

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd

W = np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6], [0.7, 0.2, 0.1]])
X = np.array([1.0, 2.0, -0.5])


def put(d, k, v):
    d[k] = v
    return d


def new_key_on_a_local_dict(W, x):
    p = {"W": W}
    p = put(p, "h", np.tanh(p["W"] @ x))
    return np.sum(p["h"] ** 2)


def new_key_on_a_parameter_dict(p, x):
    q = put(p, "h", np.tanh(p["W"] @ x))
    return np.sum(q["h"] ** 2) + np.sum(q["W"])


def old_key_and_new_key(W, x):
    p = {"W": W}
    p = put(p, "W", p["W"] * 2.0)
    p = put(p, 3, np.sin(p["W"] @ x))
    return np.sum(p[3] * x)


def list_item_through_a_helper(W, x):
    ws = [W, x]
    ws = put(ws, 1, ws[1] * np.cos(x))
    return np.sum(ws[0] @ ws[1])


def array_row_through_a_helper(W, x):
    a = W * 1.0
    a = put(a, 1, np.tanh(x))
    return np.sum(a @ x)


@pytest.mark.parametrize("fn", [new_key_on_a_local_dict, old_key_and_new_key,
                                list_item_through_a_helper, array_row_through_a_helper])
def test_a_helper_writing_an_item_of_what_it_is_given(fn):
    args = (W.copy(), X.copy())
    grads = sd.grad(fn, wrt=(0, 1))(*args)
    check_grads_fd(fn, (W, X), (0, 1), grads)
    assert np.array_equal(args[0], W) and np.array_equal(args[1], X)  # (as plain Python)


def test_a_helper_adding_a_key_to_the_caller_s_dict():
    p = {"W": W.copy()}
    with pytest.warns(sd.SourcediffWarning, match="runs put on a copy"):
        g = sd.grad(new_key_on_a_parameter_dict, wrt=1)(p, X)
    check_grads_fd(new_key_on_a_parameter_dict, ({"W": W}, X), (1,), [g])
    assert sorted(p) == ["W"] and np.array_equal(p["W"], W)  # (what the warning says)
    gp = sd.grad(new_key_on_a_parameter_dict, wrt=0)({"W": W.copy()}, X)
    check_grads_fd(lambda w, x: new_key_on_a_parameter_dict({"W": w}, x), (W, X), (0,),
                   [gp["W"]])


def test_forward_mode_and_second_order_of_a_new_key():
    def f(x):
        return new_key_on_a_local_dict(W, x)
    t = np.array([0.2, -1.0, 0.4])
    value, tangent = sd.jvp(f, (X,), (t,))
    eps = 1e-6
    fd = (f(X + eps * t) - f(X - eps * t)) / (2 * eps)
    assert np.isclose(value, f(X)) and np.isclose(tangent, fd, rtol=1e-6)
    h = sd.hessian(f)(X)
    g = sd.grad(f)
    fd_h = np.stack([(g(X + eps * e) - g(X - eps * e)) / (2 * eps) for e in np.eye(3)])
    assert np.allclose(h, fd_h, rtol=1e-5, atol=1e-8)


def joined_write(ws):
    acc = ws + ws  # (a list's items themselves, if ws is a list; a new array, if an array)
    acc[0][1] = 5.0


def passes_on(p):
    joined_write(p)


def list_through_two_helpers(x):
    w = x * 1.0
    passes_on([w])
    return np.sum(w * x)


def array_through_two_helpers(x):
    w = np.stack([x, x * 2.0])
    passes_on(w)
    return np.sum(w * x)


def test_a_write_into_a_list_s_items_two_helpers_down():
    # (plain Python sets w[1] = 5.0: the gradient of sum(w * x) was [2, 7, 6], not [2, 5, 6])
    with pytest.raises(sd.AliasError, match="passes_on writes into its parameter p"):
        sd.grad(list_through_two_helpers)(X.copy())
    g = sd.grad(array_through_two_helpers)(X.copy())  # (an array: ws + ws is a new one)
    check_grads_fd(array_through_two_helpers, (X,), (0,), [g])


def update_a_local_dict(x):
    d = {"b": x}
    d.update({"a": d["b"] * 2.0, "b": np.sin(x)}, c=d["b"])  # (values read the old d["b"])
    return np.sum(d["a"] * d["b"] * d["c"])


def setdefault_on_a_local_dict(x):
    d = {"b": x}
    v = d.setdefault("b", x * 5.0)  # (kept: v is x)
    w = d.setdefault("c", np.sin(x))
    d.setdefault("c", x ** 3)  # (kept)
    return np.sum(v * w * d["c"])


def updates_in_a_loop(x):
    d = {"b": x}
    for _ in range(3):
        d.update(b=np.sin(d["b"]) * x)
        d.setdefault("first", d["b"])
    return np.sum(d["b"] * d["first"])


def kw_update(**kw):
    kw.update({"a": kw["a"] * kw["b"]})
    return np.sum(kw["a"])


def update_in_a_kwargs_helper(x):
    return kw_update(a=x, b=np.cos(x))


@pytest.mark.parametrize("fn", [update_a_local_dict, setdefault_on_a_local_dict,
                                updates_in_a_loop, update_in_a_kwargs_helper])
def test_dict_update_and_setdefault_run_as_stores(fn):
    x = X.copy()
    g = sd.grad(fn)(x)
    check_grads_fd(fn, (X,), (0,), [g])
    assert np.array_equal(x, X)  # (the caller's array, as plain Python leaves it)
    t = np.array([0.2, -1.0, 0.4])
    eps = 1e-6
    _, tangent = sd.jvp(fn, (X,), (t,))
    assert np.isclose(tangent, (fn(X + eps * t) - fn(X - eps * t)) / (2 * eps), rtol=1e-5)
    h = sd.hessian(fn)(X)
    fd_h = np.stack([(sd.grad(fn)(X + eps * e) - sd.grad(fn)(X - eps * e)) / (2 * eps)
                     for e in np.eye(3)])
    assert np.allclose(h, fd_h, rtol=1e-4, atol=1e-6)


class Counter:
    def update(self, d):
        return len(d)


def update_of_other_objects(x, acc):
    s = set()
    s.update({"a": 1})  # (a set's update: not a dict's)
    acc.update({"a": 1.0})  # (an object's own method)
    return np.sum(x ** 2) * len(s)


def test_update_of_a_set_or_an_object_stays_their_own():
    g = sd.grad(update_of_other_objects)(X, Counter())
    check_grads_fd(update_of_other_objects, (X, Counter()), (0,), [g])


def get_with_a_default_stored_back(x):
    d = {"b": x}
    d["c"] = d.get("c", np.sin(x))  # (a new key: the gradient's sweep removes it again)
    return np.sum(x * d["c"])


def test_second_order_of_a_key_added_then_removed_by_the_sweep():
    # (forward mode over the gradient ran _sd.restore_item on a copy of d: d kept "c", and
    # d.get's rule then gave the default no tangent; the hessian lacked terms, silently)
    eps = 1e-6
    h = sd.hessian(get_with_a_default_stored_back)(X)
    g = sd.grad(get_with_a_default_stored_back)
    fd_h = np.stack([(g(X + eps * e) - g(X - eps * e)) / (2 * eps) for e in np.eye(3)])
    assert np.allclose(h, fd_h, rtol=1e-4, atol=1e-6)
    check_grads_fd(get_with_a_default_stored_back, (X,), (0,), [g(X)])
