"""review34: physics and science code: RK4 and leapfrog integrators over a state tuple, an n-body
energy, a heat-equation stencil, a pendulum with math.sin, an HMC step calling sd.grad inside,
an ODE parameter fit."""
# ruff: noqa

import math
from collections import namedtuple

import numpy as np

import sourcediff as sd
from tests.programs.review34_harness import case

rng = np.random.default_rng(341)


def pendulum_rhs(state, params):
    theta, omega = state
    g, L, damping = params
    return (omega, -g / L * math.sin(theta) - damping * omega)


def rk4_step(f, state, params, dt):
    k1 = f(state, params)
    k2 = f(tuple(s + 0.5 * dt * k for s, k in zip(state, k1)), params)
    k3 = f(tuple(s + 0.5 * dt * k for s, k in zip(state, k2)), params)
    k4 = f(tuple(s + dt * k for s, k in zip(state, k3)), params)
    return tuple(s + dt / 6.0 * (a + 2 * b + 2 * c + d)
                 for s, a, b, c, d in zip(state, k1, k2, k3, k4))


@case((0.8, 0.1), wrt=(0, 1), hessian=False)
def pendulum_rk4(theta0, damping):
    state = (theta0, 0.0)
    params = (9.81, 1.0, damping)
    for _ in range(100):
        state = rk4_step(pendulum_rhs, state, params, 0.01)
    return state[0] ** 2 + 0.5 * state[1] ** 2


@case((0.8, 0.1), wrt=(0, 1))
def pendulum_rk4_inline(theta0, damping):
    theta, omega = theta0, 0.0
    dt = 0.01
    for step in range(100):
        def rhs(th, om):
            return om, -9.81 * math.sin(th) - damping * om
        k1t, k1o = rhs(theta, omega)
        k2t, k2o = rhs(theta + 0.5 * dt * k1t, omega + 0.5 * dt * k1o)
        k3t, k3o = rhs(theta + 0.5 * dt * k2t, omega + 0.5 * dt * k2o)
        k4t, k4o = rhs(theta + dt * k3t, omega + dt * k3o)
        theta = theta + dt / 6 * (k1t + 2 * k2t + 2 * k3t + k4t)
        omega = omega + dt / 6 * (k1o + 2 * k2o + 2 * k3o + k4o)
    return theta


State = namedtuple("State", "q p")


def leapfrog(grad_U, state, eps, n):
    q, p = state.q, state.p
    p = p - 0.5 * eps * grad_U(q)
    for i in range(n):
        q = q + eps * p
        if i != n - 1:
            p = p - eps * grad_U(q)
    p = p - 0.5 * eps * grad_U(q)
    return State(q, p)


def harmonic_grad(q):
    return 2.0 * q * np.array([1.0, 3.0])


@case((np.array([0.5, -0.3]), np.array([0.2, 0.4])), wrt=(0, 1), hessian=False)
def leapfrog_namedtuple_state(q0, p0):
    s = leapfrog(harmonic_grad, State(q0, p0), 0.05, 100)
    return np.sum(s.q ** 2) + 0.5 * np.sum(s.p ** 2)


POS = rng.normal(size=(4, 3))
MASS = np.array([1.0, 2.0, 0.5, 1.5])


@case((POS, MASS), wrt=(0,), hessian=True)
def nbody_energy_loops(pos, m):
    n = pos.shape[0]
    E = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            r = np.sqrt(np.sum((pos[i] - pos[j]) ** 2) + 0.01)
            E -= m[i] * m[j] / r
    return E


@case((POS, MASS), wrt=(0, 1), hessian=False)
def nbody_energy_vectorized(pos, m):
    d = pos[:, None, :] - pos[None, :, :]
    r = np.sqrt(np.sum(d ** 2, axis=-1) + 0.01)
    iu = np.triu_indices(len(m), 1)
    return -np.sum((m[:, None] * m[None, :] / r)[iu])


@case((rng.uniform(size=12), 0.2), wrt=(0, 1), hessian=False)
def heat_equation_stencil(u0, alpha):
    u = u0.copy()
    for _ in range(50):
        lap = np.zeros_like(u)
        lap[1:-1] = u[2:] - 2 * u[1:-1] + u[:-2]
        u = u + alpha * lap
        u[0] = 0.0
        u[-1] = 0.0
    return np.sum(u ** 2)


@case((rng.uniform(size=10), 0.2), wrt=(0, 1), hessian=False)
def heat_equation_inplace(u0, alpha):
    u = u0.copy()
    for _ in range(50):
        un = u.copy()
        u[1:-1] = un[1:-1] + alpha * (un[2:] - 2 * un[1:-1] + un[:-2])
    return np.sum(u * np.arange(10))


def log_density(q, prec):
    return -0.5 * q @ prec @ q


PREC = np.array([[2.0, 0.3], [0.3, 1.0]])


@case((np.array([0.3, -0.4]), np.array([0.5, 0.1])), wrt=(0, 1), hessian=False)
def hmc_step_with_inner_grad(q0, p0):
    # an HMC trajectory whose force is sd.grad of the log-density; the outer function
    # differentiates the trajectory's end point w.r.t. the start (sensitivity analysis)
    grad_logp = sd.grad(log_density)
    q, p = q0, p0
    eps = 0.1
    for _ in range(10):
        p = p + 0.5 * eps * grad_logp(q, PREC)
        q = q + eps * p
        p = p + 0.5 * eps * grad_logp(q, PREC)
    return log_density(q, PREC) - 0.5 * p @ p


def hmc_sample(q0, n, seed):
    """sd.grad inside code that is itself not differentiated."""
    r = np.random.default_rng(seed)
    grad_logp = sd.grad(log_density)
    q = q0
    accepted = 0
    for _ in range(n):
        p = r.normal(size=2)
        qn, pn = q.copy(), p.copy()
        for _ in range(5):
            pn = pn + 0.05 * grad_logp(qn, PREC)
            qn = qn + 0.1 * pn
            pn = pn + 0.05 * grad_logp(qn, PREC)
        h0 = -log_density(q, PREC) + 0.5 * p @ p
        h1 = -log_density(qn, PREC) + 0.5 * pn @ pn
        if np.log(r.uniform()) < h0 - h1:
            q, accepted = qn, accepted + 1
    return q, accepted


T_OBS = np.linspace(0, 2, 9)
Y_OBS = 2.0 * np.exp(-0.7 * T_OBS)


@case((np.array([1.5, 0.5]),), wrt=(0,), hessian=True)
def ode_fit_euler(theta):
    y0, k = theta
    y = y0
    t = 0.0
    dt = 0.01
    preds = []
    j = 0
    for step in range(201):
        if j < len(T_OBS) and abs(t - T_OBS[j]) < 1e-9 + dt / 2:
            preds.append(y)
            j += 1
        y = y + dt * (-k * y)
        t = t + dt
    return np.sum((np.array(preds) - Y_OBS) ** 2)


class SpringMass:
    def __init__(self, k, m, c):
        self.k, self.m, self.c = k, m, c

    def accel(self, x, v):
        return -(self.k * x + self.c * v) / self.m

    def simulate(self, x0, v0, dt, n):
        x, v = x0, v0
        xs = []
        for _ in range(n):
            a = self.accel(x, v)
            v = v + dt * a
            x = x + dt * v
            xs.append(x)
        return np.array(xs)


SPRING = SpringMass(np.array(4.0), np.array(1.0), np.array(0.3))


@case((SPRING, 1.0), wrt=(0, 1))
def spring_model_wrt(model, x0):
    xs = model.simulate(x0, 0.0, 0.05, 100)
    return np.sum(xs ** 2) * 0.05


@case((4.0, 0.3, 1.0), wrt=(0, 1, 2))
def spring_built_inside(k, c, x0):
    model = SpringMass(k, 1.0, c)
    return np.sum(model.simulate(x0, 0.0, 0.05, 100) ** 2) * 0.05
