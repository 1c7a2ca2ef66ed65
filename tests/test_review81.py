"""Review of numpy's semantics traps: numpy's own writes (``out=``) into a copy of an argument
that is read later, and the adversarial programs of the hunt (repeated fancy indices, buffered
``+=``, last write wins, ``np.take`` modes, products with zeros, ties) checked against finite
differences, in reverse mode, in the generic code and in forward mode."""

import copy

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import SourcediffError

from .oracles import check_grads_fd

X = np.array([0.3, -1.2, 0.8, 2.1, -0.4])
V = np.array([0.5, -0.7, 1.3])


def _all_modes(fn, args, wrt):
    """The gradients of every mode (reverse, the generic code, forward), each checked against
    finite differences, and the arguments left as they were."""
    df = sd.grad(fn, wrt=wrt)
    for run in (lambda a: df(*a), lambda a: df.__sourcediff_specializations__.generic(*a),
                lambda a: sd.grad(fn, wrt=wrt, mode="forward")(*a)):
        given = copy.deepcopy(args)
        grads = run(given)
        grads = grads if isinstance(grads, tuple) else (grads,)
        check_grads_fd(fn, args, wrt, grads)
        for before, after in zip(args, given):
            np.testing.assert_array_equal(before, after)


# ---- out= into a copy of an argument that is read later (refused before: "x holds its array")

def exp_into_copy(x):
    z = x.copy()
    np.exp(z, out=z)
    return np.sum(z ** 2 * x)


def minimum_into_copy(x):
    z = x.copy()
    np.minimum(z, 0.5, out=z)
    return np.sum(z ** 2 * x)


def clip_into_copy(x):
    z = np.copy(x)
    np.clip(z, -0.5, 0.5, out=z)
    return np.sum(z ** 2 * x)


def add_into_sum(x, y):
    z = x + y
    np.multiply(z, y, out=z)
    return np.sum(z ** 2 * x * y)


@pytest.mark.parametrize("fn", [exp_into_copy, minimum_into_copy, clip_into_copy])
def test_out_into_a_copy_of_an_argument_read_later(fn):
    # z = x.copy() is a new array: numpy's write into it leaves x as it was, and the gradient is
    # that of z = np.exp(z); before, the alias stage took x.copy() for a list's copy holding x
    # itself and refused the program, naming x as holding z's array
    _all_modes(fn, (X,), (0,))


def test_out_into_a_copy_second_order():
    # the hessian (forward over the generated reverse code) against differences of the gradient
    g = sd.grad(exp_into_copy)
    h = 1e-6
    fd = np.array([(g(X + h * e) - g(X - h * e)) / (2 * h) for e in np.eye(X.size)])
    np.testing.assert_allclose(sd.hessian(exp_into_copy)(X.copy()), fd, rtol=1e-5, atol=1e-6)


def test_out_into_a_sum_of_arguments_read_later():
    _all_modes(add_into_sum, (X, X[::-1].copy()), (0, 1))


class SelfCopy(np.ndarray):
    """An array whose copy() is itself: the write into the copy changes the argument."""

    def copy(self):
        return self


def test_a_copy_that_shares_the_arguments_memory_is_still_refused_at_run_time():
    # the run-time check stays in front of the write: it sees that z is x
    with pytest.raises(SourcediffError, match="shares memory"):
        sd.grad(exp_into_copy)(X.copy().view(SelfCopy))


# ---- the hunt's programs: numpy's semantics where they are easy to get wrong

def repeated_gather(x):
    return np.sum(x[[0, 0, 1]] ** 2) + np.sum(np.take(x, [0, 0, 4, -1]) ** 3)


def buffered_add(x, v):
    y = x.copy()
    y[np.array([0, 0, 2])] += v  # numpy writes y[0] once: y[0] = x[0] + v[1]
    return np.sum(y ** 2)


def buffered_mul(x, v):
    y = x.copy()
    y[[0, 0, 2]] *= v
    return np.sum(y ** 2)


def buffered_div(x, v):
    y = x.copy()
    y[[0, 1, 0]] /= v
    return np.sum(y ** 2)


def last_write_wins(x, v):
    y = x.copy()
    y[[1, 1, 3]] = v
    return np.sum(y ** 3)


def add_at(x, v):
    y = np.zeros(5)
    np.add.at(y, [0, 0, 2], v)  # unbuffered: both add
    return np.sum((y * x) ** 2)


def masked_scale(x):
    y = x.copy()
    y[y > 0] *= 2.0
    return np.sum(y ** 2 * x)


def take_modes(x):
    return np.sum(np.take(x, [0, 7, -8, 7], mode="wrap") ** 2) + \
        np.sum(np.take(x, [0, 9, -3, 9], mode="clip") ** 3)


def put_duplicates(x, v):
    y = x.copy()
    np.put(y, [0, 0, 2], v)
    return np.sum(y ** 2)


def two_d_duplicates(x, v):
    y = np.zeros((2, 5))
    y[0, [0, 0, 1]] += x[:3] * v
    y[[1, 1], 2] += v[:2]
    return np.sum(y ** 2)


def products_with_zeros(x):
    y = x.copy()
    y[2] = 0.0
    z = x.copy()
    z[1] = 0.0
    z[3] = 0.0
    return np.prod(y) + np.prod(z) + np.sum(np.cumprod(y) ** 2)


@pytest.mark.parametrize("fn,args,wrt", [
    (repeated_gather, (X,), (0,)), (buffered_add, (X, V), (0, 1)), (buffered_mul, (X, V), (0, 1)),
    (buffered_div, (X, V), (0, 1)), (last_write_wins, (X, V), (0, 1)), (add_at, (X, V), (0, 1)),
    (masked_scale, (X,), (0,)), (take_modes, (X,), (0,)), (put_duplicates, (X, V), (0, 1)),
    (two_d_duplicates, (X, V), (0, 1)), (products_with_zeros, (X,), (0,))],
    ids=lambda p: getattr(p, "__name__", ""))
def test_numpy_index_traps(fn, args, wrt):
    _all_modes(fn, args, wrt)


# ---- the tape: numpy's astype copies (copy=True), also to the same dtype

def write_into_cast(x):
    z = x * 2.0
    a = z.astype(np.float64)  # numpy: a new array; writing into it leaves z as it was
    a[0] = 7.0
    return np.sum(z * z) + 0.5 * np.sum(a * a * x)


def test_tape_astype_to_the_same_dtype_is_a_copy():
    # the tape's astype returned self.to(dtype), which is self for the same dtype, so a[0] = 7.0
    # wrote into z too: another value (196.5 for numpy's 156.5 at the hunt's x) and gradient
    from sourcediff import tape as T
    t = T.tensor(X.copy(), requires_grad=True)
    out = write_into_cast(t)
    assert float(out.item()) == pytest.approx(write_into_cast(X.copy()))
    out.backward()
    check_grads_fd(write_into_cast, (X,), (0,), (np.asarray(t.grad.detach().numpy()),))
    z = T.tensor(X.copy()) * 2.0
    assert z.astype(np.float64, copy=False) is z  # (numpy's copy=False: no copy is needed)


# ---- sourcediff.testing: finite differences of a function that writes into its arguments

def scale_in_place(x, y):
    x *= y
    return np.sum(x ** 2)


def count_in_place(x, n):
    n += 1
    return np.sum(x * n)


def test_check_parity_of_a_function_writing_into_an_argument():
    # moved alone, y's column called scale_in_place on the caller's own x, which each call
    # multiplied again: every mode "DIFFERS" (4.05 vs -241120.66), and the caller's x changed
    from sourcediff.testing import check_parity
    x, y = X.copy(), X[::-1].copy()
    check_parity(scale_in_place, (x, y), modes=("reverse", "forward", "unoptimized"))
    np.testing.assert_array_equal(x, X)
    np.testing.assert_array_equal(y, X[::-1])


def test_check_grads_of_a_function_writing_into_an_integer_argument():
    # the integer array n is no wrt argument: both finite-difference calls got the caller's n,
    # one after the other's n += 1
    from sourcediff.testing import check_grads
    n = np.arange(5)
    check_grads(count_in_place, (X.copy(), n), modes=("rev",))
    np.testing.assert_array_equal(n, np.arange(5))
