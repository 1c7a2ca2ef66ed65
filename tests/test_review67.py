"""Adversarial review of the merge of review60-66 (review67): programs at the edges of the
merged changes, each checked against central finite differences (tests/oracles.py) or against
what plain Python leaves in the user's data."""

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd

W3 = np.array([0.3, -0.2, 0.5])
X3 = np.array([1.0, 2.0, -0.5])


# ------------------------------------ a helper writing a slot of a container, then the result

def put(d, k, v):
    d[k] = v
    return d


def add_h(d):
    d["h"] = 1.0
    return d


def put_then_write_into_an_item(W, x):
    p = {"W": W}
    p = put(p, "h", x * 2.0)  # (Python: put returns p itself, p["W"] is W)
    p["W"] *= 2.0  # (numpy's *= writes into W)
    return np.sum(p["W"] * W + p["h"])


def put_into_a_list_then_write_into_an_item(W, x):
    p = [W, x]
    p = put(p, 1, x * 2.0)
    p[0] *= 2.0
    return np.sum(p[0] * W + p[1])


def one_parameter_helper_then_write_into_an_item(W, x):
    p = {"W": W}
    p = add_h(p)
    p["W"] *= 2.0
    return np.sum(p["W"] * W * p["h"] + x)


def store_h(d, x):
    d["h"] = np.sin(x)
    return np.sum(d["h"] * d["W"])


def put_then_read_the_argument(W, x):
    q = put({"W": W}, "h", x * 2.0)
    return np.sum(q["W"] * q["h"])


@pytest.mark.parametrize("fn", [put_then_write_into_an_item,
                                put_into_a_list_then_write_into_an_item,
                                one_parameter_helper_then_write_into_an_item])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_an_in_place_write_into_what_a_slot_writing_helper_returned_is_seen(fn, mode):
    """The helper ran on a copy of p whose arrays were copied too (copy_param's copy_held), so
    the p it returned held a copy of W: p["W"] *= 2.0 then doubled that copy where Python
    doubles W, and no alias check saw it: 4 W for d/dW where Python's function has 8 W (a silent
    wrong gradient, the caller's W left as it was). The helper writes only p's slots, so its
    copy keeps p's arrays, and the write is refused as a write into W."""
    with pytest.raises(sd.AliasError, match="also changes W"):
        sd.grad(fn, wrt=(0, 1), mode=mode)(W3.copy(), X3.copy())


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_slot_writing_helper_still_leaves_the_callers_data_and_differentiates(mode):
    d = {"W": W3.copy()}
    g = sd.grad(put_then_read_the_argument, wrt=(0, 1), mode=mode)(W3.copy(), X3.copy())
    check_grads_fd(put_then_read_the_argument, [W3, X3], (0, 1), g)
    with pytest.warns(sd.SourcediffWarning, match="runs it on a copy"):
        gd = sd.grad(store_h, wrt=(0, 1), mode=mode)(d, X3.copy())
    assert sorted(d) == ["W"] and np.array_equal(d["W"], W3)  # (the caller's dict as it was)
    check_grads_fd(lambda w, x: store_h({"W": w}, x), [W3, X3], (0, 1), (gd[0]["W"], gd[1]))


def write_into_a_held_array_after_the_helper(W, x):
    A = W * 1.0
    p = {"A": A}
    p = put(p, "h", np.sin(x) * p["A"])
    A[0] = 3.0  # (Python: p["A"] is A, so p["A"][0] is 3.0 from here)
    return np.sum(p["A"] * p["h"])


def put_squared(d, k):
    d[k] = d["A"] * d["A"]
    return d


def write_read_by_the_helper_after_it(W, x):
    A = W * 1.0
    p = {"A": A}
    p = put_squared(p, "h")
    A[1] = x[0]
    return np.sum(p["A"] * p["h"] * x)


def helper_in_a_loop(W, x):
    p = [W * 1.0]
    for _ in range(3):
        p = put(p, 0, np.sin(p[0]) * x)
    return np.sum(p[0])


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_write_into_an_array_the_helpers_result_holds(mode):
    """A[0] = 3.0 after p = put(p, ...): Python's p["A"] is A and sees the write; the copy the
    helper returned did not (d/dW wrong in both modes before). Refused now; a helper in a loop,
    with nothing written into what it returned, still differentiates."""
    for fn in (write_into_a_held_array_after_the_helper, write_read_by_the_helper_after_it):
        with pytest.raises(sd.AliasError, match="also changes p"):
            sd.grad(fn, wrt=(0, 1), mode=mode)(W3.copy(), X3.copy())
    g = sd.grad(helper_in_a_loop, wrt=(0, 1), mode=mode)(W3.copy(), X3.copy())
    check_grads_fd(helper_in_a_loop, [W3, X3], (0, 1), g)


# ------------------------------------------ known fills: the user's values read only for a shape

def log_read_only_for_its_shape(x):
    b = np.log(x)  # (divide by zero at x = 0: Python warns)
    return np.mean(b * 0.0 + x * x)


@pytest.mark.filterwarnings("ignore:invalid value")
def test_a_users_value_read_only_for_its_shape_still_warns_as_python_does():
    """The known fill of the mean's seed left b read only for its shape, and the specializer
    deleted it with the user's other unread arithmetic (np.log a ufunc), so np.log(0)'s warning
    went (tests/test_review30.py failed on the merge). Only +, - and * of numbers go now."""
    x = np.array([0.0, 1.0, 2.0])
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        log_read_only_for_its_shape(x.copy())
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        g = sd.grad(log_read_only_for_its_shape)(x.copy())
    np.testing.assert_array_equal(np.isnan(g), [True, False, False])  # (0 * -inf as Python)
    y = np.array([0.5, 1.0, 2.0])
    check_grads_fd(log_read_only_for_its_shape, [y], (0,), [sd.grad(log_read_only_for_its_shape)(y)])
