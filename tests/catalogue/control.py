"""Control flow: branches, loops, break/continue, early return, mutation."""

import math

import numpy as np

from . import case, normal


@case(args=normal(5), tags=("branch",))
def branch_on_sum(x):
    if np.sum(x) > 0:
        y = np.sin(x)
    else:
        y = np.cos(x) * 2.0
    return np.sum(y * x)


@case(args=normal(), tags=("branch", "float"))
def elif_chain(x):
    if x > 1.0:
        y = x * x
    elif x > -1.0:
        y = np.sin(x) + x
    else:
        y = -x ** 3
    return y


@case(args=lambda rng: (rng.normal(size=4), float(rng.normal())), wrt=(0, 1), tags=("branch",))
def nested_branches(x, a):
    s = np.sum(x)
    if s > 0:
        if a > 0:
            r = s * a
        else:
            r = s - a
    else:
        r = a * a
        if s < -1:
            r = r + s * s
    return r


@case(args=normal(), tags=("branch", "float"))
def ternary_and_boolops(x):
    y = x * 2.0 if x > 0 and x < 10 else -x
    z = y if not (y > 5 or y < -5) else y / 3.0
    w = z * z if -3.0 < z < 3.0 else z
    return w


@case(args=lambda rng: (rng.normal(size=6), 4), tags=("loop",))
def loop_range_arg(x, n):
    s = 0.0
    for i in range(n):
        s = s + x[i] * x[i + 1]
    return s


@case(args=normal(5, 3), tags=("loop",))
def loop_over_rows(X):
    total = 0.0
    for row in X:
        total = total + np.sum(np.tanh(row)) * 0.5
    return total


@case(args=normal(5), tags=("loop",))
def loop_len_shape(x):
    acc = x[0]
    for i in range(1, len(x)):
        acc = acc * 0.5 + np.sin(x[i])
    for j in range(x.shape[0]):
        acc = acc + x[j] ** 2
    return acc


@case(args=lambda rng: (rng.normal(size=4), rng.normal(size=4)), wrt=(0, 1), tags=("loop",))
def loop_zip_enumerate(a, b):
    s = 0.0
    for u, v in zip(a, b):
        s = s + u * v
    for k, u in enumerate(a):
        s = s + k * u * u
    return s


@case(args=lambda rng: (rng.normal(size=(3, 3)),), tags=("loop",))
def nested_loops(W):
    h = np.ones(3)
    for t in range(3):
        for k in range(2):
            h = np.tanh(W @ h + k)
    return np.sum(h)


@case(args=lambda rng: (abs(float(rng.normal())) + 2.0,), tags=("loop", "while", "float"))
def while_data_dependent(x):
    steps = 0
    while x > 0.5:
        x = x * 0.7 + 0.01 * math.sin(x)
        steps += 1
    return x * steps


@case(args=normal(8), tags=("loop", "break"))
def loop_with_break(x):
    s = 0.0
    for i in range(len(x)):
        if s > 2.0:
            break
        s = s + x[i] ** 2
    return s


@case(args=normal(8), tags=("loop", "continue"))
def loop_with_continue(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] < 0:
            continue
        s = s + np.exp(x[i] * 0.5)
    return s


@case(args=normal(6), tags=("loop", "break"))
def for_else(x):
    s = 1.0
    for v in x:
        if v > 3.0:
            s = s * 2.0
            break
        s = s + v * v
    else:
        s = s * 3.0
    return s


@case(args=normal(), tags=("return", "float"))
def early_return(x):
    if x > 0.5:
        return x * x
    y = np.sin(x)
    if y < -0.5:
        return y * 3.0
    return y + x


@case(args=normal(10), tags=("return", "loop"))
def return_inside_loop(x):
    s = 0.0
    for i in range(len(x)):
        s = s + x[i] * x[i]
        if s > 3.0:
            return s * 2.0
    return s


@case(args=normal(5), tags=("loop", "while", "break", "continue"))
def while_break_continue(x):
    i = 0
    acc = 0.0
    while i < len(x):
        i += 1
        if x[i - 1] > 1.5:
            continue
        acc = acc + np.tanh(x[i - 1])
        if acc > 1.0:
            break
    return acc * acc


@case(args=normal(5), tags=("mutation",))
def setitem_in_loop(x):
    y = np.zeros(5)
    for i in range(5):
        y[i] = x[i] * 2.0 + (y[i - 1] if i > 0 else 0.0)
    return np.sum(y * y)


@case(args=normal(4, 3), tags=("mutation",))
def setitem_slices_and_masks(x):
    y = x * 1.0
    y[1:3] = np.sin(x[1:3])
    y[y > 0.5] = 0.5
    y[0] += x[0] * 3.0
    y[:, 1] *= 2.0
    return np.sum(y ** 2)


@case(args=normal(3, 3), tags=("mutation",))
def mutate_argument_in_place(x):
    x[0] = x[0] * 2.0
    x += 1.0
    x[1, 1] = 7.0
    return np.sum(x * x)


@case(args=lambda rng: (rng.normal(size=(4, 5, 3)), rng.normal(size=(3, 6)) * 0.5,
                        rng.normal(size=(6, 6)) * 0.3), wrt=(0, 1, 2), tags=("loop", "rnn"))
def rnn(xs, U, W):
    h = np.zeros((5, 6))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ U + h @ W)
    return np.sum(h ** 2)


@case(args=normal(), tags=("float", "loop", "branch"))
def float_loop_branches(x):
    for i in range(20):
        if x > 0:
            x = 0.9 * x + math.sin(x) * 0.1
        else:
            x = 1.1 * x - 0.05 * x * x
    return x


@case(args=normal(4), tags=("assert",))
def assert_pass_print_docstring(x):
    """A docstring is skipped."""
    assert x.shape == (4,), "wrong shape"
    pass
    y = x * x
    return np.sum(y)
