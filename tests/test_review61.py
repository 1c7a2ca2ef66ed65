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
