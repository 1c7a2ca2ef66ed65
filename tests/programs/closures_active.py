"""Function values that carry derivatives, as people write them: ODE right-hand sides made by a
factory, inner functions passed to their own integrators, lambdas given to numpy. Every
function here reads a value the gradient is taken with respect to through a closure (or a
functools.partial), not through its arguments. tests/test_closures_active.py differentiates
them; its autograd oracle runs this same source with ``np`` rebound to autograd.numpy."""

import functools

import numpy as np


# ---------------------------------------------------------------- integrators, as written


def rk4(f, y, t, h):
    k1 = f(y, t)
    k2 = f(y + h / 2 * k1, t + h / 2)
    k3 = f(y + h / 2 * k2, t + h / 2)
    k4 = f(y + h * k3, t + h)
    return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def euler(f, y0, t0, t1, n):
    h = (t1 - t0) / n
    y, t = y0, t0
    while t < t1 - h / 2:
        y = y + h * f(y, t)
        t = t + h
    return y


def odeint(f, y0, ts):
    ys = [y0]
    for i in range(len(ts) - 1):
        ys.append(rk4(f, ys[-1], ts[i], ts[i + 1] - ts[i]))
    return np.stack(ys)


def integrate(f, y0, h, n):  # (two levels of helpers: odeint_steps -> integrate -> f)
    y = y0
    for _ in range(n):
        y = rk4(f, y, 0.0, h)
    return y


def odeint_steps(f, y0, h, n):
    return integrate(f, y0, h, n)


# ---------------------------------------------------------------- factories


def lotka(p):
    def rhs(y, t):
        return np.array([p[0] * y[0] - p[1] * y[0] * y[1], p[2] * y[0] * y[1] - p[3] * y[1]])
    return rhs


def affine(a, b, c):
    return lambda x: a * x + b * np.sin(x) + c


def layer(params):
    return lambda x: np.tanh(params["W"] @ x + params["b"])


# ---------------------------------------------------------------- the losses


def factory_rhs_to_helper(p, y0):
    rhs = lotka(p)
    y = y0
    for i in range(10):
        y = rk4(rhs, y, 0.1 * i, 0.1)
    return np.sum(y ** 2)


def local_def_to_helper(p, y0):
    def rhs(y, t):
        return -p * y
    y = y0
    for i in range(5):
        y = rk4(rhs, y, 0.0, 0.1)
    return np.sum(y)


def factory_called_in_caller(p, y0):
    rhs = lotka(p)
    return np.sum(rhs(y0, 0.0) * rhs(y0 + 0.1, 0.5))


def twice(f, x):
    return f(x) * f(x + 1.0)


def called_twice_in_one_expression(w, x):
    def f(v):
        return np.tanh(w * v)
    return np.sum(twice(f, x))


def through_two_helpers(p, y0):
    def rhs(y, t):
        return -p[0] * y + p[1] * np.sin(t)
    return np.sum(odeint_steps(rhs, y0, 0.05, 4) ** 2)


def two_active_one_constant(a, b, x):
    f = affine(a, b, 0.5)
    return np.sum(f(x) ** 2) + np.sum(f(2.0 * x))


def over_a_dict_of_arrays(params, x):
    f = layer(params)
    return np.sum(twice(f, x))


def over_a_list_of_arrays(ws, x):
    def f(v):
        return ws[0] * v + ws[1] * v ** 2
    return np.sum(rk4(lambda y, t: f(y), x, 0.0, 0.1))


def euler_in_a_while_loop(k, y0):
    def decay(y, t):
        return -k * y + np.cos(t)
    return np.sum(euler(decay, y0, 0.0, 1.0, 8))


def trajectory(theta, y0):
    def pendulum(y, t):
        return np.array([y[1], -theta[0] * np.sin(y[0]) - theta[1] * y[1]])
    ys = odeint(pendulum, y0, np.linspace(0.0, 1.0, 6))
    return np.sum(ys[:, 0] ** 2)


def user_partial(W, x):
    f = functools.partial(np.dot, W)
    return np.sum(twice(f, x))


def _scaled(v, a, *, b):
    return a * v + b


def user_partial_by_keyword(a, b, x):
    f = functools.partial(_scaled, a=a, b=b)
    return np.sum(twice(f, x))


def lambda_to_apply_along_axis(W, X):
    return np.sum(np.apply_along_axis(lambda r: np.tanh(W @ r), 1, X))


def closure_returns_closure(a, x):
    f = affine(a, a * a, 0.0)
    g = lambda v: f(v) * a  # noqa: E731
    return np.sum(twice(g, x))


def sorted_by_a_closure_key(w, xs):
    key = lambda v: float(np.sum(w * v))  # noqa: E731  (piecewise constant in w)
    return sum(np.sum(w * v) * (i + 1) for i, v in enumerate(sorted(xs, key=key)))


def mapped(w, xs):
    return sum(map(lambda v: np.sum(np.tanh(w * v)), xs))


def _inner_make(c):
    return lambda v: np.sin(c * v)


def _outer_make(a):
    g = _inner_make(a * 2.0)
    return lambda v: g(v) + a * v


def factory_of_a_factory(a, x):
    return np.sum(twice(_outer_make(a), x))


def _identity(f):
    return f


def returned_through_a_helper(a, x):
    f = _identity(lambda v: v * a)
    return np.sum(twice(f, x))


def _call_with(f, x, s):
    return f(x, scale=s)


def active_keyword_and_closure(a, x, s):
    def f(v, *, scale):
        return v * scale * a
    return np.sum(_call_with(f, x, s))


def _call_empty(f):
    return f()


def user_partial_binding_every_argument(x, a, b):
    f = functools.partial(_scaled, x, a, b=b)
    return np.sum(_call_empty(f))


def reduce_with_a_closure(w, xs):
    return functools.reduce(lambda acc, v: acc * np.tanh(v * w) + w, xs, 1.0)


class Lin:
    def __init__(self, W):
        self.W = W

    def forward(self, x):
        return np.tanh(self.W @ x)


def closure_over_a_model(m, x):
    return np.sum(twice(lambda v: m.forward(v), x))


def closure_over_a_complex_value(a, x):
    c = a * (1.0 + 2.0j)
    return np.sum(twice(lambda v: np.real(v * c * c), x))


def rk4_star(f, y, t, h, *args):  # (scipy's odeint(f, y0, t, args=...) style: f(y, t, *args))
    k1 = f(y, t, *args)
    k2 = f(y + h / 2 * k1, t + h / 2, *args)
    k3 = f(y + h / 2 * k2, t + h / 2, *args)
    k4 = f(y + h * k3, t + h, *args)
    return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def closure_called_with_star_args(a, y0):
    def rhs(y, t, c):
        return -a * y * c + np.sin(t)
    y = y0
    for i in range(3):
        y = rk4_star(rhs, y, 0.1 * i, 0.1, a)
    return np.sum(y ** 2)


def _apply(f, *args):
    return f(*args)


def closure_through_apply(a, x):
    return np.sum(_apply(lambda v, w: v * w * a, x, x))


def vectorized_closure(a, x):
    f = np.vectorize(lambda v: np.sin(v * a) if v > 0 else v * a)
    return np.sum(twice(f, x)) + np.sum(f(x) * x)


def _apply_keywords(f, x, **kw):
    return f(x, **kw)


def closure_through_keywords(a, x):
    def f(v, scale=1.0):
        return np.sin(v * a) * scale
    return np.sum(_apply_keywords(f, x, scale=a * 2.0))
