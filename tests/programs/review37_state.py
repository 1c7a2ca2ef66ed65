"""review37: objects that keep state across method calls, as filterpy's KalmanFilter (predict()
and update(z) storing self.x and self.P), a particle system whose step() updates self.pos and
self.vel, and an Adam-like optimizer object updating its moments, differentiated through."""

import numpy as np

from tests.programs.review37_harness import case

R = np.random.default_rng(99)


class KalmanFilter:
    def __init__(self, dim_x, dim_z):
        self.x = np.zeros((dim_x, 1))
        self.P = np.eye(dim_x)
        self.Q = np.eye(dim_x)
        self.F = np.eye(dim_x)
        self.H = np.zeros((dim_z, dim_x))
        self.R = np.eye(dim_z)
        self.y = np.zeros((dim_z, 1))
        self.log_likelihood = 0.0

    def predict(self):
        self.x = np.dot(self.F, self.x)
        self.P = np.dot(np.dot(self.F, self.P), self.F.T) + self.Q

    def update(self, z):
        self.y = z - np.dot(self.H, self.x)
        PHT = np.dot(self.P, self.H.T)
        S = np.dot(self.H, PHT) + self.R
        K = np.dot(PHT, np.linalg.inv(S))
        self.x = self.x + np.dot(K, self.y)
        I_KH = np.eye(self.x.shape[0]) - np.dot(K, self.H)
        self.P = np.dot(np.dot(I_KH, self.P), I_KH.T) + np.dot(np.dot(K, self.R), K.T)
        self.log_likelihood = self.log_likelihood - 0.5 * (
            np.log(np.linalg.det(2 * np.pi * S)) + (self.y.T @ np.linalg.solve(S, self.y))[0, 0])


ZS = [np.array([[0.1 * k + 0.05 * np.sin(k)]]) for k in range(5)]


@case((np.array([0.1, 0.05]), np.array([0.3])), wrt=(0, 1))
def kalman_marginal_likelihood(q, r):
    kf = KalmanFilter(dim_x=2, dim_z=1)
    kf.F = np.array([[1.0, 1.0], [0.0, 1.0]])
    kf.H = np.array([[1.0, 0.0]])
    kf.Q = np.diag(q)
    kf.R = np.array([[r[0]]])
    for z in ZS:
        kf.predict()
        kf.update(z)
    return -kf.log_likelihood


def kalman_marginal_likelihood_stored(q, r):
    kf = KalmanFilter(dim_x=2, dim_z=1)
    kf.F = np.array([[1.0, 1.0], [0.0, 1.0]])
    kf.H = np.array([[1.0, 0.0]])
    kf.Q = np.diag(q)
    kf.R = np.array([[r[0]]])
    lls = []
    for z in ZS:
        kf.predict()
        kf.update(z)
        lls.append(kf.log_likelihood)
    return -lls[-1]


class Particles:
    def __init__(self, pos, vel, k):
        self.pos = pos
        self.vel = vel
        self.k = k

    def forces(self):
        d = self.pos[:, None, :] - self.pos[None, :, :]
        r2 = np.sum(d ** 2, axis=-1) + np.eye(len(self.pos))
        return -self.k * self.pos + 0.01 * np.sum(d / r2[..., None] ** 2, axis=1)

    def step(self, dt):
        self.vel = self.vel + dt * self.forces()
        self.pos = self.pos + dt * self.vel

    def energy(self):
        return 0.5 * np.sum(self.vel ** 2) + 0.5 * self.k * np.sum(self.pos ** 2)


P0 = R.normal(size=(3, 2))


@case((P0, np.zeros((3, 2)) + 0.1, 1.3), wrt=(0, 1, 2))
def particles_built_inside(pos, vel, k):
    sim = Particles(pos, vel, k)
    for _ in range(4):
        sim.step(0.05)
    return sim.energy() + np.sum(sim.pos[0])


@case((Particles(P0, np.zeros((3, 2)) + 0.1, 1.3),))
def particles_model_object(sim):
    for _ in range(3):
        sim.step(0.05)
    return sim.energy()


class AdamState:
    def __init__(self, shape, lr=0.1, b1=0.9, b2=0.999):
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)
        self.t = 0
        self.lr, self.b1, self.b2 = lr, b1, b2

    def update(self, w, g):
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.v = self.b2 * self.v + (1 - self.b2) * g * g
        mhat = self.m / (1 - self.b1 ** self.t)
        vhat = self.v / (1 - self.b2 ** self.t)
        return w - self.lr * mhat / (np.sqrt(vhat) + 1e-8)


@case((np.array([0.5, -0.3]),))
def unrolled_adam_meta(w0):
    """Meta-gradient through three optimizer steps on a quadratic."""
    opt = AdamState(2)
    w = w0
    A = np.array([[2.0, 0.3], [0.3, 1.0]])
    for _ in range(3):
        g = A @ w
        w = opt.update(w, g)
    return 0.5 * w @ A @ w
