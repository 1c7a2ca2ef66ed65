"""review34: scikit-learn-like estimators (a class with fit calling scipy.optimize.minimize with
jac=sd.grad(self._loss)), a Gaussian process with a kernel class, a mixture model, a Poisson GLM."""
# ruff: noqa

import functools
import math
from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.special

import sourcediff as sd
from tests.programs.review34_harness import case

rng = np.random.default_rng(340)
X = rng.normal(size=(30, 3))
Xb = np.hstack([X, np.ones((30, 1))])
w_true = np.array([1.0, -2.0, 0.5, 0.3])
y_bin = (Xb @ w_true + 0.5 * rng.normal(size=30) > 0).astype(float)
y_cls = np.argmax(X @ rng.normal(size=(3, 3)) + rng.normal(size=(30, 3)), axis=1)
y_reg = Xb @ w_true + 0.1 * rng.normal(size=30)
y_cnt = rng.poisson(np.exp(0.3 * (X @ np.array([0.5, -0.3, 0.2])))).astype(float)


class LogisticRegression:
    def __init__(self, C=1.0, fit_intercept=True):
        self.C = C
        self.fit_intercept = fit_intercept

    def _design(self, X):
        if self.fit_intercept:
            return np.hstack([X, np.ones((X.shape[0], 1))])
        return X

    def _loss(self, w, X, y):
        z = X @ w
        # log(1 + exp(-y z)) with y in {-1, 1}
        ys = 2 * y - 1
        return np.sum(np.logaddexp(0, -ys * z)) + 0.5 / self.C * np.dot(w[:-1], w[:-1])

    def fit(self, X, y):
        Xd = self._design(X)
        w0 = np.zeros(Xd.shape[1])
        res = scipy.optimize.minimize(self._loss, w0, args=(Xd, y), jac=sd.grad(self._loss),
                                      method="L-BFGS-B")
        self.coef_ = res.x[:-1]
        self.intercept_ = res.x[-1]
        return self


LR = LogisticRegression(C=2.0)


@case((np.array([0.1, -0.2, 0.3, 0.05]), Xb, y_bin), wrt=(0,), hessian=True)
def logreg_bound_method(w, X, y):
    return LR._loss(w, X, y)


class SoftmaxRegression:
    def __init__(self, n_classes, alpha=1e-2):
        self.n_classes = n_classes
        self.alpha = alpha

    def _loss(self, W, X, y):
        W = W.reshape(X.shape[1], self.n_classes)
        scores = X @ W
        scores -= scores.max(axis=1, keepdims=True)
        log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
        nll = -log_probs[np.arange(len(y)), y].mean()
        return nll + self.alpha * np.sum(W ** 2)

    def fit(self, X, y):
        w0 = np.zeros(X.shape[1] * self.n_classes)
        res = scipy.optimize.minimize(self._loss, w0, args=(X, y), jac=sd.grad(self._loss))
        self.coef_ = res.x.reshape(X.shape[1], self.n_classes)
        return self


SM = SoftmaxRegression(3)


@case((0.1 * rng.normal(size=9), X, y_cls), wrt=(0,), hessian=True)
def softmax_bound_method(w, X, y):
    return SM._loss(w, X, y)


class Ridge:
    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def objective(self, w):
        r = self.X_ @ w - self.y_
        return 0.5 * r @ r + 0.5 * self.alpha * w @ w

    def fit(self, X, y):
        self.X_, self.y_ = X, y
        res = scipy.optimize.minimize(self.objective, np.zeros(X.shape[1]),
                                      jac=sd.grad(self.objective), method="BFGS",
                                      options={"gtol": 1e-10})
        self.coef_ = res.x
        return self


RIDGE = Ridge(alpha=0.7)
RIDGE.X_, RIDGE.y_ = Xb, y_reg


@case((0.2 * np.ones(4),), wrt=(0,), hessian=True)
def ridge_objective_reads_fitted_data(w):
    return RIDGE.objective(w)


class PoissonGLM:
    def __init__(self, l2=0.1):
        self.l2 = l2

    def negloglik(self, beta, X, y):
        eta = X @ beta[1:] + beta[0]
        mu = np.exp(eta)
        return np.sum(mu - y * eta + scipy.special.gammaln(y + 1)) + self.l2 * beta[1:] @ beta[1:]


GLM = PoissonGLM()


@case((np.array([0.1, 0.2, -0.1, 0.05]), X, y_cnt), wrt=(0,), hessian=True)
def poisson_glm(beta, X, y):
    return GLM.negloglik(beta, X, y)


# ---------------------------------------------------------------- GP with a kernel class

class RBF:
    def __init__(self, length_scale=1.0, variance=1.0):
        self.length_scale = length_scale
        self.variance = variance

    def __call__(self, A, B):
        d2 = np.sum(A ** 2, 1)[:, None] + np.sum(B ** 2, 1)[None, :] - 2 * A @ B.T
        return self.variance * np.exp(-0.5 * d2 / self.length_scale ** 2)


class GaussianProcess:
    def __init__(self, kernel, noise=0.1):
        self.kernel = kernel
        self.noise = noise

    def neg_log_marginal_likelihood(self, theta, X, y):
        ls, var, noise = np.exp(theta)
        k = RBF(ls, var)  # a kernel object built from the hyperparameters
        K = k(X, X) + noise * np.eye(len(X))
        L = np.linalg.cholesky(K)
        alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
        return 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * len(X) * np.log(2 * np.pi)


GP = GaussianProcess(RBF())
XG = rng.uniform(-2, 2, size=(12, 1))
YG = np.sin(2 * XG[:, 0]) + 0.1 * rng.normal(size=12)


@case((np.array([0.1, 0.2, -1.5]), XG, YG), wrt=(0,), hessian=True)
def gp_nlml_kernel_built_inside(theta, X, y):
    return GP.neg_log_marginal_likelihood(theta, X, y)


class GPStatic:
    @staticmethod
    def kernel(A, B, ls, var):
        d = A[:, None, :] - B[None, :, :]
        return var * np.exp(-0.5 * np.sum(d ** 2, axis=-1) / ls ** 2)

    @classmethod
    def nlml(cls, theta, X, y):
        ls, var, noise = np.exp(theta[0]), np.exp(theta[1]), np.exp(theta[2])
        K = cls.kernel(X, X, ls, var) + noise * np.eye(X.shape[0])
        sign, logdet = np.linalg.slogdet(K)
        return 0.5 * y @ np.linalg.solve(K, y) + 0.5 * logdet


@case((np.array([0.1, 0.2, -1.5]), XG, YG), wrt=(0,), hessian=True)
def gp_static_classmethod(theta, X, y):
    return GPStatic.nlml(theta, X, y)


# ---------------------------------------------------------------- a mixture model

Params = namedtuple("Params", ["logits", "means", "log_sigmas"])
XM = np.concatenate([rng.normal(-2, 0.5, 15), rng.normal(1.5, 0.8, 15)])
PM = Params(np.array([0.1, -0.1]), np.array([-1.0, 1.0]), np.array([0.0, 0.2]))


def log_normal(x, mu, log_sigma):
    return -0.5 * ((x - mu) / np.exp(log_sigma)) ** 2 - log_sigma - 0.5 * math.log(2 * math.pi)


@case((PM, XM), wrt=(0,))
def gmm_namedtuple(params, x):
    log_w = params.logits - scipy.special.logsumexp(params.logits)
    lp = log_w[None, :] + log_normal(x[:, None], params.means[None, :], params.log_sigmas[None, :])
    return -np.sum(scipy.special.logsumexp(lp, axis=1))


@dataclass
class MixtureParams:
    logits: np.ndarray
    means: np.ndarray
    log_sigmas: np.ndarray

    @property
    def weights(self):
        e = np.exp(self.logits - self.logits.max())
        return e / e.sum()

    @property
    def sigmas(self):
        return np.exp(self.log_sigmas)


MP = MixtureParams(PM.logits.copy(), PM.means.copy(), PM.log_sigmas.copy())


@case((MP, XM), wrt=(0,))
def gmm_dataclass_properties(p, x):
    dens = p.weights * np.exp(-0.5 * ((x[:, None] - p.means) / p.sigmas) ** 2) / (
        p.sigmas * np.sqrt(2 * np.pi))
    return -np.sum(np.log(dens.sum(axis=1)))


@case((PM.logits, PM.means, PM.log_sigmas, XM), wrt=(0, 1, 2))
def gmm_dataclass_built_inside(logits, means, log_sigmas, x):
    p = MixtureParams(logits, means, log_sigmas)
    dens = p.weights * np.exp(-0.5 * ((x[:, None] - p.means) / p.sigmas) ** 2) / (
        p.sigmas * np.sqrt(2 * np.pi))
    return -np.sum(np.log(dens.sum(axis=1)))


# ---------------------------------------------------------------- functools.partial losses

def hinge(w, X, y, lam):
    m = 1 - (2 * y - 1) * (X @ w)
    return np.mean(np.maximum(m, 0) ** 2) + lam * np.sum(w * w)


HINGE = functools.partial(hinge, lam=0.01)


@case((np.array([0.3, -0.2, 0.1, 0.05]), Xb, y_bin), wrt=(0,), hessian=True)
def partial_loss_called(w, X, y):
    return HINGE(w, X, y)
