"""Calls to the user's own functions: helpers that loop or branch, keywords, defaults, recursion."""

import numpy as np

from . import case, normal

SCALE = 0.5  # a module-level constant read by helpers


def softplus(z):
    return np.log1p(np.exp(z))


def poly(x, a, b=2.0, *, c=0.5):
    return a * x ** 2 + b * x + c


def clipped_sum(v, limit):
    s = 0.0
    for i in range(len(v)):
        if s > limit:
            break
        s = s + v[i] * SCALE
    return s


def two_outputs(x):
    return np.sin(x), np.cos(x) * 2.0


def nested_helper(x, w):
    return softplus(x * w) + poly(x, w)


def power_rec(x, n):
    if n == 0:
        return 1.0
    return x * power_rec(x, n - 1)


@case(args=normal(5), tags=("call",))
def call_simple_helper(x):
    return np.sum(softplus(x) * 2.0)


@case(args=lambda rng: (rng.normal(size=4), float(rng.normal())), wrt=(0, 1), tags=("call",))
def call_with_keywords_and_defaults(x, a):
    y = poly(x, a)
    z = poly(x, 1.5, b=a, c=a * a)
    w = poly(x, a=0.3, b=1.0)
    return np.sum(y * z) + np.sum(w)


@case(args=normal(8), tags=("call", "loop", "break"))
def call_helper_with_loop(x):
    return clipped_sum(x, 1.0) + clipped_sum(x * x, 2.0)


@case(args=normal(3), tags=("call",))
def call_two_outputs(x):
    s, c = two_outputs(x)
    return np.sum(s * c)


@case(args=lambda rng: (rng.normal(size=3), rng.normal(size=3)), wrt=(0, 1), tags=("call",))
def call_helper_calling_helper(x, w):
    return np.sum(nested_helper(x, w))


@case(args=normal(), tags=("call", "recursion", "float"))
def call_recursive(x):
    return power_rec(x, 4) + power_rec(x * 0.5, 2)


@case(args=normal(4), tags=("call", "loop"))
def call_in_loop(x):
    h = x
    for _ in range(3):
        h = softplus(h) - 1.0
    return np.sum(h)
