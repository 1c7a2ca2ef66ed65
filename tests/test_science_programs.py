"""A catalogue of scientific programs as people write them (review27): integrators with state
updated in place, stencils, filters, fits, fixed-point and Newton iterations, seeded Monte Carlo,
spectral derivatives. Each runs through the specialized reverse mode, the generic reverse mode and
forward mode against central finite differences; a hessian-vector product (forward over reverse)
against differences of the gradient for the smooth ones."""

import copy
import math

import numpy as np
import pytest
import scipy.linalg
import scipy.special

import sourcediff as sd


def euler_decay(k, y0, dt):
    # explicit Euler on dy/dt = -k*y, state updated in place
    y = y0.copy()
    for _ in range(20):
        y += dt * (-k[0] * y + k[1] * np.sin(y))
    return np.sum(y ** 2)


def rk4_oscillator(p, y0):
    # damped oscillator, RK4, parameters (omega, zeta)
    def rhs(y):
        return np.array([y[1], -p[0] ** 2 * y[0] - 2.0 * p[1] * p[0] * y[1]])
    y = y0.copy()
    dt = 0.05
    for _ in range(30):
        k1 = rhs(y)
        k2 = rhs(y + 0.5 * dt * k1)
        k3 = rhs(y + 0.5 * dt * k2)
        k4 = rhs(y + dt * k3)
        y = y + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y[0] ** 2 + 0.5 * y[1]


def leapfrog_slice(q0, m):
    # leapfrog with state in one array, slices updated in place
    s = np.zeros(4)
    s[:2] = q0
    dt = 0.1
    for _ in range(15):
        s[2:] -= 0.5 * dt * m * s[:2] ** 3
        s[:2] += dt * s[2:]
        s[2:] -= 0.5 * dt * m * s[:2] ** 3
    return np.sum(s[:2] ** 2) + np.sum(s[2:] ** 2)


def velocity_verlet(k, x0):
    x = x0.copy()
    v = np.zeros_like(x0)
    dt = 0.05
    a = -k * x
    for _ in range(25):
        x += v * dt + 0.5 * a * dt ** 2
        a_new = -k * x - 0.1 * x ** 3
        v += 0.5 * (a + a_new) * dt
        a = a_new
    return np.sum(x * v)


def spring_chain(k, x0):
    # spring-mass chain with neighbour forces via slicing
    x = x0.copy()
    v = np.zeros_like(x)
    dt = 0.02
    for _ in range(20):
        f = np.zeros_like(x)
        stretch = x[1:] - x[:-1] - 1.0
        f[:-1] += k * stretch
        f[1:] -= k * stretch
        v += dt * f
        x += dt * v
    return np.sum((x - x0) ** 2)


def nbody(m, pos0):
    pos = pos0.copy()
    vel = np.zeros_like(pos)
    dt = 0.01
    for _ in range(10):
        d = pos[:, None, :] - pos[None, :, :]
        r2 = np.sum(d ** 2, axis=-1) + 0.1
        inv = r2 ** -1.5
        acc = -np.sum(m[None, :, None] * d * inv[:, :, None], axis=1)
        vel += dt * acc
        pos += dt * vel
    return np.sum(pos[:, 0]) + np.sum(pos ** 2)


def heat_equation(kappa, u0):
    u = u0.copy()
    for _ in range(25):
        u[1:-1] += kappa[0] * (u[2:] - 2 * u[1:-1] + u[:-2])
        u[0] = u[1]
        u[-1] = kappa[1] * u[-2]
    return np.sum(u ** 2)


def wave_equation(c, u0):
    u_prev = u0.copy()
    u = u0.copy()
    for _ in range(15):
        u_next = np.empty_like(u)
        u_next[1:-1] = 2 * u[1:-1] - u_prev[1:-1] + c ** 2 * (u[2:] - 2 * u[1:-1] + u[:-2])
        u_next[0] = 0.0
        u_next[-1] = 0.0
        u_prev = u
        u = u_next
    return np.sum(u ** 2)


def heat2d(k, u0):
    u = u0.copy()
    for _ in range(6):
        u[1:-1, 1:-1] = u[1:-1, 1:-1] + k * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:]
                                             + u[1:-1, :-2] - 4 * u[1:-1, 1:-1])
    return np.sum(u ** 2)


def kalman(q, zs):
    F = np.array([[1.0, 0.1], [0.0, 1.0]])
    H = np.array([[1.0, 0.0]])
    Q = q[0] * np.eye(2)
    R = np.array([[q[1]]])
    x = np.zeros(2)
    P = np.eye(2)
    nll = 0.0
    for z in zs:
        x = F @ x
        P = F @ P @ F.T + Q
        S = H @ P @ H.T + R
        K = P @ H.T @ np.linalg.inv(S)
        r = z - H @ x
        nll = nll + 0.5 * (np.log(np.linalg.det(S)) + r @ np.linalg.solve(S, r))
        x = x + K @ r
        P = (np.eye(2) - K @ H) @ P
    return nll


def gp_mll(logp, X, y):
    ell = np.exp(logp[0])
    sf2 = np.exp(logp[1])
    sn2 = np.exp(logp[2])
    d = X[:, None] - X[None, :]
    K = sf2 * np.exp(-0.5 * d ** 2 / ell ** 2) + sn2 * np.eye(X.shape[0])
    L = np.linalg.cholesky(K)
    a = scipy.linalg.solve_triangular(L, y, lower=True)
    return 0.5 * a @ a + np.sum(np.log(np.diag(L)))


def logistic_reg(w, X, y):
    z = X @ w
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) + 0.01 * np.sum(w ** 2)


def poisson_reg(w, X, y):
    eta = X @ w
    return np.sum(np.exp(eta) - y * eta) + 0.1 * np.linalg.norm(w) ** 2


def softmax_xent(W, X, labels):
    logits = X @ W.reshape(3, 3)
    lse = scipy.special.logsumexp(logits, axis=1)
    return -np.mean(logits[np.arange(len(labels)), labels] - lse)


def newton_sqrt(a):
    # Newton iteration inside the loss (unrolled, fixed count)
    x = a.copy()
    for _ in range(6):
        x = 0.5 * (x + a / x)
    return np.sum(x ** 3)


def fixed_point_tol(a):
    # while with a tolerance: x = cos(a x)
    x = 0.5 * np.ones_like(a)
    err = 1.0
    while err > 1e-12:
        x_new = np.cos(a * x)
        err = np.max(np.abs(x_new - x))
        x = x_new
    return np.sum(x)


def fem_assembly(k, nodes):
    n = nodes.shape[0]
    K = np.zeros((n, n))
    for e in range(n - 1):
        h = nodes[e + 1] - nodes[e]
        ke = k[e] / h * np.array([[1.0, -1.0], [-1.0, 1.0]])
        idx = np.array([e, e + 1])
        K[np.ix_(idx, idx)] += ke
    K[0, 0] += 1e3
    f = np.ones(n)
    u = np.linalg.solve(K, f)
    return f @ u


def fem_add_at(k, nodes):
    n = nodes.shape[0]
    K = np.zeros((n, n))
    h = np.diff(nodes)
    ke = k / h
    rows = np.arange(n - 1)
    np.add.at(K, (rows, rows), ke)
    np.add.at(K, (rows + 1, rows + 1), ke)
    np.add.at(K, (rows, rows + 1), -ke)
    np.add.at(K, (rows + 1, rows), -ke)
    K[0, 0] += 1e3
    u = np.linalg.solve(K, np.ones(n))
    return np.sum(u)


def pendulum_clip(p, th0):
    # pendulum with an angle limit (np.clip) and a stop (np.where)
    th = th0
    om = 0.0
    dt = 0.05
    for _ in range(30):
        om = om - dt * (p[0] * np.sin(th) + p[1] * om)
        th = np.clip(th + dt * om, -1.0, 1.0)
        om = np.where(np.abs(th) >= 1.0, 0.0, om)
    return th ** 2 + om


def lotka_volterra(p, z0, obs):
    z = z0.copy()
    dt = 0.02
    loss = 0.0
    for t in range(obs.shape[0]):
        for _ in range(5):
            dz = np.array([p[0] * z[0] - p[1] * z[0] * z[1], p[2] * z[0] * z[1] - p[3] * z[1]])
            z = z + dt * dz
        loss = loss + np.sum((z - obs[t]) ** 2)
    return loss


def piecewise_model(theta, x):
    # if/elif on parameter values
    a, b = theta[0], theta[1]
    if a > 1.0:
        y = a * x ** 2
    elif a > 0.0:
        y = a * np.sqrt(x + b ** 2)
    else:
        y = -a * x
    if b < 0:
        y = y - b
    return np.sum(y)


def interp_model(knots_y, xq):
    xk = np.linspace(0.0, 1.0, knots_y.shape[0])
    yq = np.interp(xq, xk, knots_y)
    return np.sum(yq ** 2)


def cumulative_integral(rate, t):
    dt = np.diff(t)
    inc = 0.5 * (rate[1:] + rate[:-1]) * dt
    cum = np.concatenate([[0.0], np.cumsum(inc)])
    total = np.trapezoid(rate ** 2, t)
    return np.sum(np.exp(-cum)) + total


def lstsq_fit(c, t):
    y = c[0] * np.sin(t) + c[1] * t ** 2 + c[2]
    A = np.stack([np.ones_like(t), t, t ** 2], axis=1)
    coef, res, rank, sv = np.linalg.lstsq(A, y, rcond=None)
    return np.sum(coef ** 2) + np.sum((A @ coef - y) ** 2)


def mcmc_seeded(theta, data):
    # random-walk Metropolis with a fixed seed inside the loss: the accept/reject path is fixed
    rs = np.random.RandomState(0)
    x = 0.0
    total = 0.0
    for _ in range(20):
        prop = x + theta[0] * rs.normal()
        logr = -0.5 * (prop - theta[1]) ** 2 + 0.5 * (x - theta[1]) ** 2
        if np.log(rs.uniform()) < logr:
            x = prop
        total = total + x
    return total / 20.0 + np.sum(data) * 0.0


def particle_filter(theta, ys):
    rs = np.random.RandomState(1)
    n = 16
    x = rs.normal(size=n)
    ll = 0.0
    for y in ys:
        x = theta[0] * x + theta[1] * rs.normal(size=n)
        w = np.exp(-0.5 * (y - x) ** 2)
        ll = ll + np.log(np.mean(w))
        idx = np.searchsorted(np.cumsum(w) / np.sum(w), rs.uniform(size=n))
        idx = np.minimum(idx, n - 1)
        x = x[idx]
    return ll


def tv_denoise(u, f):
    fid = 0.5 * np.sum((u - f) ** 2)
    dx = np.diff(u, axis=0)
    dy = np.diff(u, axis=1)
    tv = np.sum(np.sqrt(dx[:, :-1] ** 2 + dy[:-1, :] ** 2 + 1e-3))
    return fid + 0.2 * tv


def tv_roll(u, f):
    gx = np.roll(u, -1, axis=0) - u
    gy = np.roll(u, -1, axis=1) - u
    return 0.5 * np.sum((u - f) ** 2) + 0.1 * np.sum(np.sqrt(gx ** 2 + gy ** 2 + 1e-2))


def robust_huber(w, X, y):
    r = X @ w - y
    a = np.abs(r)
    return np.sum(np.where(a < 1.0, 0.5 * r ** 2, a - 0.5))


def eigh_energy(k):
    K = np.diag(2 * k) - np.diag(k[:-1], 1) - np.diag(k[:-1], -1)
    evals, evecs = np.linalg.eigh(K)
    return np.sum(np.sqrt(evals)) + evecs[0, 0] ** 2


def expm_propagator(a):
    A = np.array([[-a[0], a[1]], [a[1], -a[2]]])
    P = scipy.linalg.expm(A * 0.5)
    return np.sum(P @ np.array([1.0, 0.0]))


def vander_ridge(y, x):
    V = np.vander(x, 3)
    w = np.linalg.solve(V.T @ V + 0.1 * np.eye(3), V.T @ y)
    return np.sum(w ** 2)


def swap_buffers(c, u0):
    a = u0.copy()
    b = np.zeros_like(u0)
    for _ in range(6):
        b[1:-1] = a[1:-1] + c * (a[2:] - 2 * a[1:-1] + a[:-2])
        a, b = b, a
    return np.sum(a ** 2) + np.sum(b)


def masked_update(u):
    w = u.copy()
    w[w > 0.5] = w[w > 0.5] ** 2
    w[w < 0] *= -3.0
    return np.sum(w * u)


def einsum_stress(F):
    F = F.reshape(2, 2)
    C = np.einsum("ki,kj->ij", F, F)
    E = 0.5 * (C - np.eye(2))
    return 1.0 * np.einsum("ij,ij->", E, E) + 0.5 * np.trace(E) ** 2


def qr_regression(y, A):
    Q, R = np.linalg.qr(A)
    x = scipy.linalg.solve_triangular(R, Q.T @ y)
    return np.sum(x ** 2)


def median_sort(x):
    s = np.sort(x)
    return np.median(x) + s[-1] * s[0] + np.max(x) - np.percentile(x, 30)


def traj_append_copy(k, y0):
    y = y0.copy()
    traj = [y.copy()]
    for _ in range(5):
        y += 0.1 * (-k * y ** 2)
        traj.append(y.copy())
    T = np.stack(traj)
    return np.sum(T[1:] * T[:-1])


def elementwise_euler(a, n):
    y = np.zeros(n)
    y[0] = 1.0
    dt = 0.1
    for i in range(1, n):
        y[i] = y[i - 1] + dt * (a[0] * y[i - 1] - a[1] * y[i - 1] ** 2)
    return np.sum(y)


def elementwise_2state(p, n):
    x = np.empty(n)
    v = np.empty(n)
    x[0], v[0] = 1.0, 0.0
    for i in range(n - 1):
        v[i + 1] = v[i] - 0.1 * p * x[i]
        x[i + 1] = x[i] + 0.1 * v[i + 1]
    return x[-1] ** 2 + np.dot(v, v)


def math_scalar_model(p, ts):
    total = 0.0
    for t in ts:
        pred = p[0] * math.exp(-p[1] * t) + math.sin(p[2] * t)
        total += (pred - math.cos(t)) ** 2
    return total


def break_on_converge(a):
    x = 1.0
    for i in range(100):
        x_new = x - (x ** 3 - a) / (3 * x ** 2)
        if abs(x_new - x) < 1e-13:
            break
        x = x_new
    return x_new


def builtin_reductions(x):
    m = max(x[0], x[1])
    n = min(abs(x[2]), 2.0)
    s = sum(xi ** 2 for xi in x)
    return m * n + s


def tuple_state(p):
    state = (1.0, 0.0)
    for _ in range(10):
        x, v = state
        state = (x + 0.1 * v, v - 0.1 * p * x)
    return state[0] + state[1]


def cumprod_survival(h):
    s = np.cumprod(1 - h)
    return np.sum(s) + np.prod(h + 1)


def setitem_tuple_index(p):
    G = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            G[i, j] = np.exp(-(p[0] * (i - j)) ** 2) * p[1]
    return np.sum(np.linalg.solve(G + np.eye(3), np.ones(3)))


def list_state_inplace(p):
    state = [p[0], p[1]]
    for _ in range(5):
        state[0] += 0.1 * state[1]
        state[1] -= 0.1 * state[0]
    return state[0] * state[1]


def inner_gd_dict(theta, X, y):
    params = {"w": np.zeros(X.shape[1])}
    lr = 0.1
    for _ in range(5):
        r = X @ params["w"] - y
        params["w"] -= lr * (X.T @ r / len(y) + theta[0] * params["w"])
    return np.sum((X @ params["w"] - y) ** 2) + theta[1] * np.sum(params["w"])


def _inner(w, theta, X, y):
    return np.mean((X @ w - y) ** 2) + theta[0] * np.sum(w ** 2)


def bilevel(theta, X, y):
    w = np.zeros(X.shape[1])
    for _ in range(3):
        w = w - 0.1 * sd.grad(_inner)(w, theta, X, y)
    return np.sum((X @ w - y + theta[1]) ** 2)


def lambda_rhs(p):
    rhs = lambda t, y: -p[0] * y + np.sin(t) * p[1]
    y = 1.0
    t = 0.0
    for _ in range(10):
        y = y + 0.1 * rhs(t, y)
        t = t + 0.1
    return y


def scatter_mask(p):
    x = np.linspace(-1, 1, 5)
    y = x.copy()
    y[x > p[0]] = p[1] * x[x > p[0]]
    return np.sum(y ** 2)


def angular_momentum(v, r):
    L = np.cross(r, v)
    return np.sum(L ** 2) + np.arctan2(v[1], v[0]) + np.hypot(v[0], v[2])


def spectral_derivative(u):
    n = u.shape[0]
    k = np.fft.rfftfreq(n, d=1.0 / n) * 2 * np.pi
    du = np.fft.irfft(1j * k * np.fft.rfft(u), n)
    return np.sum(du ** 2) + np.sum(u ** 4)


def periodic_md(pos, L):
    d = pos[:, None] - pos[None, :]
    d = d - L * np.round(d / L)
    r2 = d ** 2 + np.eye(len(pos))
    e = np.sum(np.triu(1.0 / r2 ** 3 - 1.0 / r2 ** 6 * 0.01, 1))
    return e + np.sum(np.mod(pos, L) ** 2) + np.sum((pos % L) * 0.5)


def special_fns(p, x):
    return np.sum(scipy.special.erf(p[0] * x) + scipy.special.gammaln(p[1] + x)
                  + scipy.special.digamma(p[1] + 1.0) * x + scipy.special.betaln(p[0] + 1, p[1] + 1))


def matrix_hessian(W):
    return np.sum(np.tanh(W @ W.T)) + np.linalg.slogdet(W @ W.T + np.eye(W.shape[0]))[1]


def diag_ops(p):
    A = np.outer(p, p) + np.diag(p ** 2) + 3 * np.eye(len(p))
    d = np.diagonal(A)
    tri = np.triu(A, 1)
    return np.sum(d * np.arange(len(p))) + np.sum(tri ** 2) + np.sum(np.linalg.cholesky(A))


_RNG = np.random.default_rng(0)
_X = _RNG.normal(size=(12, 3))
_Y01 = (_RNG.uniform(size=12) > 0.5).astype(float)
_XG = np.linspace(0, 3, 7)
_YG = np.sin(_XG) + 0.1 * _RNG.normal(size=7)
_T = np.linspace(0, 2, 9)
_R6 = _RNG.normal(size=(6, 2))

CASES = {
    "euler_decay": (euler_decay, (np.array([0.7, 0.3]), np.array([1.0, 0.5, -0.3]), 0.05)),
    "rk4_oscillator": (rk4_oscillator, (np.array([1.3, 0.2]), np.array([1.0, 0.0]))),
    "leapfrog_slice": (leapfrog_slice, (np.array([0.5, -0.4]), 1.3)),
    "velocity_verlet": (velocity_verlet, (np.array([1.0, 2.0, 0.5]), np.array([0.3, -0.2, 1.0]))),
    "spring_chain": (spring_chain, (np.array([1.0, 2.0, 1.5]), np.array([0.0, 1.1, 2.3, 2.9]))),
    "nbody": (nbody, (np.array([1.0, 0.5, 2.0]), _RNG.normal(size=(3, 2)))),
    "heat_equation": (heat_equation, (np.array([0.2, 0.9]), np.sin(np.linspace(0, 3, 8)))),
    "wave_equation": (wave_equation, (0.5, np.exp(-np.linspace(-2, 2, 9) ** 2))),
    "heat2d": (heat2d, (0.1, _RNG.normal(size=(4, 4)))),
    "kalman": (kalman, (np.array([0.1, 0.5]), _RNG.normal(size=(5, 1)))),
    "gp_mll": (gp_mll, (np.array([0.1, -0.2, -1.0]), _XG, _YG)),
    "logistic_reg": (logistic_reg, (np.array([0.1, -0.3, 0.2]), _X, _Y01)),
    "poisson_reg": (poisson_reg, (np.array([0.1, -0.3, 0.2]), _X, np.round(np.exp(_X[:, 0])))),
    "softmax_xent": (softmax_xent, (_RNG.normal(size=9) * 0.3, _RNG.normal(size=(6, 3)),
                                    np.array([0, 1, 2, 1, 0, 2]))),
    "newton_sqrt": (newton_sqrt, (np.array([2.0, 3.0, 5.0]),)),
    "fixed_point_tol": (fixed_point_tol, (np.array([0.5, 0.9]),)),
    "fem_assembly": (fem_assembly, (np.array([1.0, 2.0, 1.5]), np.array([0.0, 0.3, 0.7, 1.0]))),
    "fem_add_at": (fem_add_at, (np.array([1.0, 2.0, 1.5]), np.array([0.0, 0.3, 0.7, 1.0]))),
    "pendulum_clip": (pendulum_clip, (np.array([3.0, 0.1]), 0.8)),
    "lotka_volterra": (lotka_volterra, (np.array([1.0, 0.5, 0.4, 0.8]), np.array([1.0, 0.8]),
                                        _RNG.uniform(0.5, 1.5, size=(4, 2)))),
    "piecewise_model": (piecewise_model, (np.array([0.6, -0.4]), np.linspace(0.1, 1, 5))),
    "piecewise_model_2": (piecewise_model, (np.array([1.6, 0.4]), np.linspace(0.1, 1, 5))),
    "interp_model": (interp_model, (np.array([0.0, 1.0, 0.5, 2.0]),
                                    np.array([0.1, 0.45, 0.7, 0.95]))),
    "cumulative_integral": (cumulative_integral, (np.sin(_T) + 1.5, _T)),
    "lstsq_fit": (lstsq_fit, (np.array([1.0, 0.5, -0.2]), _T)),
    "mcmc_seeded": (mcmc_seeded, (np.array([0.8, 0.3]), np.ones(2))),
    "particle_filter": (particle_filter, (np.array([0.9, 0.5]), _RNG.normal(size=4))),
    "tv_denoise": (tv_denoise, (_RNG.normal(size=(4, 4)), _RNG.normal(size=(4, 4)))),
    "tv_roll": (tv_roll, (_RNG.normal(size=(4, 4)), _RNG.normal(size=(4, 4)))),
    "robust_huber": (robust_huber, (np.array([0.5, -1.0, 2.0]), _X, _RNG.normal(size=12))),
    "eigh_energy": (eigh_energy, (np.array([1.0, 2.0, 3.0, 4.5]),)),
    "expm_propagator": (expm_propagator, (np.array([1.0, 0.3, 0.7]),)),
    "vander_ridge": (vander_ridge, (np.sin(_T), _T)),
    "swap_buffers": (swap_buffers, (0.2, np.sin(np.linspace(0, 3, 7)))),
    "masked_update": (masked_update, (np.array([0.9, -0.5, 0.2, 0.7, -1.2]),)),
    "einsum_stress": (einsum_stress, (np.array([1.1, 0.1, 0.2, 0.9]),)),
    "qr_regression": (qr_regression, (_RNG.normal(size=5), _RNG.normal(size=(5, 3)))),
    "median_sort": (median_sort, (np.array([0.3, -1.0, 2.0, 0.7, 1.1]),)),
    "traj_append_copy": (traj_append_copy, (np.array([0.5, 1.0]), np.array([1.0, 2.0]))),
    "elementwise_euler": (elementwise_euler, (np.array([0.5, 0.2]), 8)),
    "elementwise_2state": (elementwise_2state, (1.5, 8)),
    "math_scalar_model": (math_scalar_model, (np.array([1.0, 0.5, 0.3]), [0.0, 0.5, 1.0, 1.5])),
    "break_on_converge": (break_on_converge, (2.0,)),
    "builtin_reductions": (builtin_reductions, (np.array([0.5, 0.7, -0.9]),)),
    "tuple_state": (tuple_state, (1.3,)),
    "cumprod_survival": (cumprod_survival, (np.array([0.1, 0.2, 0.05, 0.3]),)),
    "setitem_tuple_index": (setitem_tuple_index, (np.array([0.7, 1.2]),)),
    "list_state_inplace": (list_state_inplace, (np.array([0.5, 1.2]),)),
    "inner_gd_dict": (inner_gd_dict, (np.array([0.1, 0.3]), _R6, np.arange(6.0))),
    "bilevel": (bilevel, (np.array([0.1, 0.3]), _R6, np.arange(6.0))),
    "lambda_rhs": (lambda_rhs, (np.array([0.5, 1.2]),)),
    "scatter_mask": (scatter_mask, (np.array([0.1, 1.2]),)),
    "angular_momentum": (angular_momentum, (np.array([0.5, 1.2, -0.3]), np.array([1.0, 0.2, 0.3]))),
    "spectral_derivative": (spectral_derivative,
                            (np.sin(np.linspace(0, 2 * np.pi, 8, endpoint=False)) + 0.1,)),
    "periodic_md": (periodic_md, (np.array([0.3, 1.7, 3.2, 4.4]), 5.0)),
    "special_fns": (special_fns, (np.array([0.5, 1.2]), np.array([0.3, 0.8, 1.5]))),
    "matrix_hessian": (matrix_hessian, (_RNG.normal(size=(2, 3)),)),
    "diag_ops": (diag_ops, (np.array([0.7, 1.2, 0.3]),)),
}

# smooth enough for a hessian-vector product against differences of the gradient
HVP = ["rk4_oscillator", "velocity_verlet", "nbody", "heat_equation", "kalman", "gp_mll",
       "logistic_reg", "softmax_xent", "newton_sqrt", "lotka_volterra", "eigh_energy",
       "spectral_derivative", "elementwise_2state", "tuple_state"]


def _fd_grad(f, args, h=1e-6):
    x = np.asarray(args[0], dtype=float)
    out = np.zeros(x.size)
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        up, down = list(copy.deepcopy(args)), list(copy.deepcopy(args))
        up[0] = x + e.reshape(x.shape)
        down[0] = x - e.reshape(x.shape)
        if isinstance(args[0], float):
            up[0], down[0] = float(up[0]), float(down[0])
        out[k] = (float(f(*up)) - float(f(*down))) / (2 * h)
    return out.reshape(np.shape(x))


@pytest.mark.parametrize("name", list(CASES))
def test_program_first_order(name):
    f, args = CASES[name]
    want = _fd_grad(f, args)
    for mode, df in {"reverse": sd.grad(f), "generic": sd.grad(f, optimize=False),
                     "forward": sd.grad(f, mode="forward")}.items():
        got = df(*copy.deepcopy(args))
        assert np.shape(got) == np.shape(args[0]), mode
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6, err_msg=mode)


@pytest.mark.parametrize("name", HVP)
def test_program_hessian_vector_product(name):
    f, args = CASES[name]
    x = args[0]
    v = np.random.default_rng(3).normal(size=np.shape(x))
    v = float(v) if isinstance(x, float) else v
    df = sd.grad(f)
    h = 1e-5
    up, down = list(copy.deepcopy(args)), list(copy.deepcopy(args))
    up[0], down[0] = x + h * v, x - h * v
    want = (np.asarray(df(*up)) - np.asarray(df(*down))) / (2 * h)
    got = sd.hvp(f, copy.deepcopy(args), (v,) + (None,) * (len(args) - 1))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
