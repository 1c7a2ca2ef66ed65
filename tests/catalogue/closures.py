"""Inner functions, closures, lambdas, comprehensions, containers, builtins, objects."""

import numpy as np

from . import case, normal


@case(args=lambda rng: (rng.normal(size=4), float(rng.normal())), wrt=(0, 1), tags=("closure",))
def inner_def_closing_over_argument(x, w):
    def scaled(z):
        return np.tanh(z * w)

    return np.sum(scaled(x) + scaled(x * 2.0))


@case(args=normal(5), tags=("closure", "lambda"))
def lambda_assigned_and_called(x):
    square = lambda z: z * z  # noqa: E731
    shift = lambda z, c=1.0: z + c  # noqa: E731
    return np.sum(square(shift(x)) + shift(x, c=3.0))


@case(args=lambda rng: (rng.normal(size=3), rng.normal(size=3)), wrt=(0, 1), tags=("closure",))
def inner_def_with_branch_loop_and_early_return(x, y):
    total = np.sum(y)

    def step(v, n):
        acc = v
        for _ in range(n):
            if np.sum(acc) > 10.0:
                return acc
            acc = acc * 1.5 + total
        return acc

    return np.sum(step(x, 3) ** 2)


@case(args=normal(4), tags=("closure",))
def closure_reads_late_binding(x):
    k = 2.0

    def f(z):
        return z * k

    a = f(x)
    k = 3.0
    b = f(x)
    return np.sum(a * b)


@case(args=normal(4), tags=("comprehension",))
def list_comprehension_to_stack(x):
    rows = [x * i for i in range(3)]
    return np.sum(np.stack(rows) ** 2)


@case(args=normal(5), tags=("comprehension",))
def generator_to_builtin_sum(x):
    return sum(np.sin(x[i]) * x[i] for i in range(len(x)) if i != 2)


@case(args=normal(3, 2), tags=("comprehension",))
def comprehension_to_np_array(X):
    norms = np.array([np.sum(row * row) for row in X])
    return np.sum(np.sqrt(norms + 1.0))


@case(args=normal(4), tags=("container",))
def list_append_in_loop_then_index(x):
    hs = []
    h = x
    for t in range(3):
        h = np.tanh(h * 0.9 + t)
        hs.append(h)
    return np.sum(hs[0] * hs[2]) + np.sum(np.stack(hs)[1])


@case(args=lambda rng: (rng.normal(size=3), rng.normal(size=3)), wrt=(0, 1), tags=("container",))
def tuples_dicts_unpacking(a, b):
    pair = (a, b * 2.0)
    params = {"w": a, "b": b}
    u, v = pair
    return np.sum(u * v) + np.sum(params["w"] * params["b"]) + np.sum(pair[1])


@case(args=lambda rng: (rng.normal(size=3), rng.normal(size=3)), wrt=(0, 1), tags=("container",))
def dict_built_by_assignment(a, b):
    params = {"w": a}
    params["b"] = b * 2.0  # a new key
    params["w"] = params["w"] * params["b"]  # an entry overwritten, another one read after it
    return np.sum(params["w"]) + np.sum(params["b"] ** 2)


@case(args=lambda rng: (float(rng.normal()), float(rng.normal())), wrt=(0, 1),
      tags=("builtin", "float"))
def builtins_on_floats(a, b):
    m = max(a, b) + min(a * 2.0, b - 0.5)
    return abs(m) + sum([a, b, a * b]) + float(a) * 2.0


class Model:
    """An object holding arrays, read through attributes."""

    def __init__(self, w, b):
        self.w = w
        self.b = b

    def loss(self, x):
        return np.sum(np.tanh(x @ self.w + self.b) ** 2)


_MODEL = Model(np.linspace(-1, 1, 6).reshape(3, 2), np.array([0.1, -0.2]))


@case(args=normal(4, 3), tags=("object",))
def attribute_reads_of_global_object(x):
    return np.sum(np.tanh(x @ _MODEL.w + _MODEL.b) ** 2)


@case(args=normal(4, 3), tags=("object",))
def bound_method_gradient(x):
    return _MODEL.loss(x)
