"""review41: scientific and engineering programs as their authors write them (ODE integrators,
PDE stencils, finance, robotics, optimization inside the loss, statistics and signals)."""

import numpy as np
from scipy.special import erf, erfc, ndtr

from tests.programs.review41_harness import case

rng = np.random.default_rng(41)


# ---------------------------------------------------------------- ODE integrators

def decay_rhs(y, k):
    return -k * y + np.sin(y)


@case((np.array([1.0, 0.5, -0.2]), 0.7), wrt=(0, 1), hessian=True)
def euler_explicit(y0, k):
    y = y0
    dt = 0.05
    for _ in range(20):
        y = y + dt * decay_rhs(y, k)
    return np.sum(y ** 2)


@case((np.array([1.0, 0.0]), 0.3), wrt=(0, 1), hessian=True, skip=("tape",))
def rk4_loop(y0, mu):
    def f(y):
        return np.array([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]])
    y = y0
    h = 0.1
    for _ in range(10):
        k1 = f(y)
        k2 = f(y + 0.5 * h * k1)
        k3 = f(y + 0.5 * h * k2)
        k4 = f(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y[0] + 0.5 * y[1] ** 2


A_BUTCHER = np.array([[0, 0, 0, 0], [0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 1.0, 0]])
B_BUTCHER = np.array([1, 2, 2, 1]) / 6.0


@case((np.array([0.3, -0.2, 0.5]), np.array([[0.0, 1.0, 0.2], [-1.0, 0.0, 0.1], [0.3, 0.1, -0.5]])),
      wrt=(0, 1), skip=("tape",))
def rk4_stacked_stages(y0, A):
    y = y0
    h = 0.1
    for _ in range(5):
        K = np.zeros((4, y.size))
        for s in range(4):
            ys = y + h * (A_BUTCHER[s] @ K)
            K[s] = np.tanh(A @ ys)
        y = y + h * (B_BUTCHER @ K)
    return np.sum(y * y)


POS0 = rng.normal(size=(4, 2))
VEL0 = 0.1 * rng.normal(size=(4, 2))
MASS = np.array([1.0, 2.0, 0.5, 1.5])


def nbody_acc_fill_diagonal(x, m):
    d = x[:, None, :] - x[None, :, :]
    r2 = np.sum(d ** 2, axis=-1) + np.eye(x.shape[0])
    inv = r2 ** -1.5
    np.fill_diagonal(inv, 0.0)
    return -np.sum(d * (inv * m[None, :])[:, :, None], axis=1)


@case((POS0, VEL0, MASS), wrt=(0, 1, 2))
def verlet_nbody_eye(x0, v0, m):
    x, v = x0, v0
    dt = 0.01
    a = nbody_acc_fill_diagonal(x, m)
    for _ in range(5):
        v = v + 0.5 * dt * a
        x = x + dt * v
        a = nbody_acc_fill_diagonal(x, m)
        v = v + 0.5 * dt * a
    return np.sum(x ** 2) + np.sum(v ** 2)


@case((POS0, MASS), wrt=(0, 1))
def nbody_potential_where(x, m):
    d = x[:, None, :] - x[None, :, :]
    r2 = np.sum(d ** 2, axis=-1)
    r = np.sqrt(np.where(r2 > 0, r2, 1.0))  # (sqrt's inf derivative at 0 kept off the diagonal)
    inv = np.where(r2 > 0, 1.0 / r, 0.0)
    return -0.5 * np.sum(m[:, None] * m[None, :] * inv)


@case((POS0, MASS), wrt=(0, 1))
def nbody_potential_triu(x, m):
    n = x.shape[0]
    i, j = np.triu_indices(n, k=1)
    d = x[i] - x[j]
    r = np.linalg.norm(d, axis=1)
    return -np.sum(m[i] * m[j] / r)


@case((1.0, 0.5), wrt=(0, 1))
def adaptive_step_while(y0, k):
    t = 0.0
    T = 1.0
    dt = 0.3
    y = y0
    while t < T:
        dt = min(dt, T - t)
        y = y - dt * k * y ** 2
        t = t + dt
    return y


# ---------------------------------------------------------------- PDEs on grids

U0 = np.sin(np.linspace(0, np.pi, 12)) + 0.1 * rng.normal(size=12)


@case((U0, 0.3), wrt=(0, 1))
def heat_slices(u0, alpha):
    u = u0.copy()
    for _ in range(10):
        u[1:-1] = u[1:-1] + alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
    return np.sum(u ** 2)


@case((U0, 0.4), wrt=(0, 1), hessian=True)
def advection_roll_upwind(u0, c):
    u = u0
    for _ in range(8):
        a = c * np.cos(u)
        dm = u - np.roll(u, 1)
        dp = np.roll(u, -1) - u
        u = u - 0.5 * np.where(a > 0, a * dm, a * dp)
    return np.sum(u ** 3)


@case((U0 - 0.5, 0.05), wrt=(0, 1))
def burgers_periodic(u0, nu):
    u = u0
    dx = 0.1
    dt = 0.01
    for _ in range(10):
        up = np.roll(u, -1)
        um = np.roll(u, 1)
        flux = np.where(u > 0, u * (u - um), u * (up - u)) / dx
        u = u - dt * flux + nu * dt / dx ** 2 * (up - 2 * u + um)
    return np.mean(u ** 2)


@case((np.linspace(0, 1, 8), 2.0), wrt=(0, 1), skip=("tape",))
def jacobi_while_norm(b, lam):
    n = b.size
    x = np.zeros(n)
    it = 0
    while True:
        xn = x.copy()
        xn[1:-1] = (b[1:-1] + x[:-2] + x[2:]) / (2 + lam)
        xn[0] = b[0] / (2 + lam)
        xn[-1] = b[-1] / (2 + lam)
        delta = np.linalg.norm(xn - x)
        x = xn
        it += 1
        if delta < 1e-10 or it > 200:
            break
    return np.sum(x * b)


@case((np.sin(np.linspace(0, 2 * np.pi, 10)), 0.5), wrt=(0, 1))
def wave_leapfrog(u0, c):
    u_prev = u0.copy()
    u = u0.copy()
    for _ in range(6):
        lap = np.roll(u, 1) - 2 * u + np.roll(u, -1)
        u_next = 2 * u - u_prev + c ** 2 * lap
        u_prev = u
        u = u_next
    return np.sum(u ** 2)


# ---------------------------------------------------------------- finance

def bs_call(S, K, T, r, sigma):
    d1 = (np.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * np.sqrt(T))
    d2 = d1 - sigma * np.sqrt(T)
    return S * ndtr(d1) - K * np.exp(-r * T) * ndtr(d2)


@case((100.0, 0.2), wrt=(0, 1), hessian=True)
def black_scholes_ndtr(S, sigma):
    return bs_call(S, 95.0, 0.5, 0.02, sigma)


@case((np.array([90.0, 100.0, 110.0]), 0.25), wrt=(0, 1))
def black_scholes_erf(S, sigma):
    K, T, r = 100.0, 1.0, 0.01
    d1 = (np.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * np.sqrt(T))
    d2 = d1 - sigma * np.sqrt(T)
    Nd1 = 0.5 * (1 + erf(d1 / np.sqrt(2)))
    Nd2 = 0.5 * erfc(-d2 / np.sqrt(2))
    return np.sum(S * Nd1 - K * np.exp(-r * T) * Nd2)


@case((100.0, 0.2), wrt=(0, 1))
def mc_barrier_seeded(S0, sigma):
    rng = np.random.default_rng(0)
    n, steps = 200, 10
    dt = 1.0 / steps
    z = rng.standard_normal((n, steps))
    logS = np.log(S0) + np.cumsum((0.01 - 0.5 * sigma ** 2) * dt + sigma * np.sqrt(dt) * z, axis=1)
    S = np.exp(logS)
    alive = np.max(S, axis=1) < 150.0
    payoff = np.maximum(S[:, -1] - 100.0, 0.0)
    return np.exp(-0.01) * np.mean(np.where(alive, payoff, 0.0))


@case((97.3, 0.2), wrt=(0, 1))  # (at S0 = K = 100 the price has a kink: -0.4179 right, -0.4975 left)
def american_binomial(S0, sigma):
    K, T, r, N = 100.0, 1.0, 0.03, 20
    dt = T / N
    u = np.exp(sigma * np.sqrt(dt))
    d = 1.0 / u
    p = (np.exp(r * dt) - d) / (u - d)
    disc = np.exp(-r * dt)
    j = np.arange(N + 1)
    S = S0 * u ** (N - j) * d ** j
    V = np.maximum(K - S, 0.0)
    for i in range(N - 1, -1, -1):
        S = S[:-1] / u
        V = np.maximum(K - S, disc * (p * V[:-1] + (1 - p) * V[1:]))
    return V[0]


# ---------------------------------------------------------------- robotics and geometry

@case((np.array([0.3, -0.5, 0.8]), np.array([1.0, 0.8, 0.5])), wrt=(0, 1), hessian=True)
def planar_arm_cumsum(q, lengths):
    phi = np.cumsum(q)
    x = np.sum(lengths * np.cos(phi))
    y = np.sum(lengths * np.sin(phi))
    target = np.array([1.2, 0.9])
    return (x - target[0]) ** 2 + (y - target[1]) ** 2 + 0.1 * np.arctan2(y, x)


def quat_to_rot(q):
    q = q / np.linalg.norm(q)
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


PTS = rng.normal(size=(5, 3))


@case((np.array([0.9, 0.1, -0.2, 0.3]), np.array([0.1, -0.2, 0.3])), wrt=(0, 1), hessian=True, skip=("tape",))
def rigid_transform_quaternion(q, t):
    R = quat_to_rot(q)
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = t
    P = np.hstack([PTS, np.ones((PTS.shape[0], 1))])
    moved = (T @ P.T).T[:, :3]
    n = np.cross(moved[1] - moved[0], moved[2] - moved[0])
    return np.sum((moved - PTS[::-1]) ** 2) + np.dot(n, n)


# ---------------------------------------------------------------- optimization inside the loss

@case((np.array([1.0, -0.5, 2.0]), 0.8), wrt=(0, 1))
def inner_gradient_descent(b, lam):
    A = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.5]])
    x = np.zeros(3)
    for _ in range(25):
        g = A @ x - b + lam * x
        x = np.clip(x - 0.2 * g, -0.6, 0.6)
    return np.sum((x - 0.1) ** 2)


@case((np.array([0.5, 1.5]), np.array([1.0, 2.0])), wrt=(0, 1), skip=("tape",))
def newton_solve_steps(x0, c):
    x = x0
    for _ in range(4):
        g = np.array([np.exp(x[0]) - c[0] + x[1], x[0] + x[1] ** 3 - c[1]])
        J = np.array([[np.exp(x[0]), 1.0], [1.0, 3 * x[1] ** 2]])
        x = x - np.linalg.solve(J, g)
    return np.sum(x ** 2)


@case((np.array([2.0, -1.0]),), wrt=(0,))
def backtracking_line_search(x0):
    def fun(x):
        return np.sum(x ** 4) + x[0] * x[1]
    x = x0
    for _ in range(3):
        g = 4 * x ** 3 + x[::-1]
        t = 1.0
        while True:
            if fun(x - t * g) <= fun(x) - 0.3 * t * np.dot(g, g):
                break
            t = 0.5 * t
        x = x - t * g
    return fun(x)


# ---------------------------------------------------------------- statistics and signals

DATA = rng.normal(size=15)


@case((np.array([-1.0, 0.0, 0.5, 2.0]), 0.4), wrt=(0, 1), hessian=True)
def kde_logaddexp(x, h):
    z = (x[:, None] - DATA[None, :]) / h
    logk = -0.5 * z ** 2 - np.log(h * np.sqrt(2 * np.pi))
    acc = logk[:, 0]
    for j in range(1, DATA.size):
        acc = np.logaddexp(acc, logk[:, j])
    return np.sum(acc - np.log(DATA.size))


@case((np.array([0.2, -0.3, 1.5, 0.05]),), wrt=(0,), hessian=True)
def log1p_expm1_likelihood(theta):
    softplus = np.log1p(np.exp(-np.abs(theta))) + np.maximum(theta, 0)
    return np.sum(softplus) + np.sum(np.log(np.expm1(np.abs(theta) + 0.1)))


SIG = rng.normal(size=20)


@case((SIG, np.array([0.25, 0.5, 0.25])), wrt=(0, 1))
def convolve_correlate(x, k):
    y = np.convolve(x, k, mode="same")
    c = np.correlate(y, k, mode="valid")
    return np.sum(c ** 2) + np.sum(np.convolve(x, k) * 0.1)


@case((SIG,), wrt=(0,))
def moving_average_cumsum(x):
    w = 4
    c = np.cumsum(np.concatenate([[0.0], x]))
    ma = (c[w:] - c[:-w]) / w
    return np.sum((ma - np.mean(ma)) ** 2)


@case((np.array([0.3, 1.7, 2.2, 3.9]),), wrt=(0,))
def interp_table(x):
    xp = np.linspace(0, 4, 9)
    fp = np.sin(xp) * xp
    y = np.interp(x, xp, fp)
    return np.sum(y ** 2)


@case((np.array([0.1, 2.0, -1.0, 0.5, 3.0, -0.7]),), wrt=(0,))
def robust_stats(x):
    s = np.sort(x)
    med = np.median(x)
    p90 = np.percentile(x, 90)
    return np.sum(np.abs(x - med)) + p90 + s[1] * s[-2]


# ---------------------------------------------------------------- more: filters, adaptive RK45, meshes

Y_OBS = np.cumsum(rng.normal(size=8)) * 0.5


@case((np.array([0.9, 0.3]), 0.5), wrt=(0, 1))
def kalman_loglik(theta, r):
    a, q = theta[0], theta[1] ** 2
    m, P = 0.0, 1.0
    ll = 0.0
    for y in Y_OBS:
        m = a * m
        P = a * a * P + q
        S = P + r ** 2
        K = P / S
        ll = ll - 0.5 * (np.log(2 * np.pi * S) + (y - m) ** 2 / S)
        m = m + K * (y - m)
        P = (1 - K) * P
    return ll


@case((np.array([1.0, 0.5]), np.array([1.0, 0.4])), wrt=(0, 1), skip=("tape",))
def rk45_adaptive(y0, p):
    def f(y):
        return np.array([p[0] * y[0] - p[1] * y[0] * y[1], p[1] * y[0] * y[1] - y[1]])
    t, T, h, tol = 0.0, 2.0, 0.5, 1e-4
    y = y0
    while t < T:
        h = min(h, T - t)
        k1 = f(y)
        k2 = f(y + h * k1 / 2)
        k3 = f(y + h * k2 / 2)
        k4 = f(y + h * k3)
        y4 = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        y2 = y + h * k2
        err = np.max(np.abs(y4 - y2))
        if err < tol:
            t = t + h
            y = y4
        h = h * min(2.0, max(0.2, 0.9 * (tol / err) ** 0.25))
    return np.sum(y ** 2)


POLY = np.array([[0.0, 0.0], [2.0, 0.1], [2.2, 1.5], [0.8, 2.0], [-0.3, 1.0]])


@case((POLY,), wrt=(0,), hessian=True)
def polygon_area_roll(v):
    x, y = v[:, 0], v[:, 1]
    area = 0.5 * np.abs(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
    perim = np.sum(np.linalg.norm(np.diff(np.vstack([v, v[:1]]), axis=0), axis=1))
    return area / perim ** 2


@case((np.array([[0.5, 1.0], [3.0, -0.5], [-1.0, 0.2]]), np.array([0.0, 0.0]), np.array([2.0, 0.0])),
      wrt=(0, 1, 2))
def point_segment_distance(pts, a, b):
    ab = b - a
    t = np.clip((pts - a) @ ab / (ab @ ab), 0.0, 1.0)
    closest = a + t[:, None] * ab
    return np.sum(np.sqrt(np.sum((pts - closest) ** 2, axis=1)))


TRI = np.array([[0, 1, 2], [1, 3, 2]])


@case((np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.1], [0.0, 1.0, 0.2], [1.0, 1.2, 0.5]]),), wrt=(0,),
      hessian=True)
def mesh_area_cross(V):
    e1 = V[TRI[:, 1]] - V[TRI[:, 0]]
    e2 = V[TRI[:, 2]] - V[TRI[:, 0]]
    n = np.cross(e1, e2)
    return np.sum(0.5 * np.linalg.norm(n, axis=1))
