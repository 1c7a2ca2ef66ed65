"""Review 27: scientific programs (integrators, stencils, filters, fits) through every mode.

Each test here failed before its fix; the oracles are central finite differences."""

import numpy as np

import sourcediff as sd


def _fd_jacobian(f, args, i, h=1e-6):
    x = np.asarray(args[i], dtype=float)
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        up = list(args)
        up[i] = x + e.reshape(x.shape)
        down = list(args)
        down[i] = x - e.reshape(x.shape)
        cols.append((np.asarray(f(*up)) - np.asarray(f(*down))).reshape(-1) / (2 * h))
    return np.stack(cols, axis=-1)


def design_fit(y, x):
    # a polynomial design matrix built from the sample points (data, floats, not differentiated)
    V = np.vander(x, 3)
    return V.T @ y


def test_reverse_jacobian_differentiates_only_wrt():
    # sd.jacobian ran its reverse pass with every float argument active, so a float data
    # argument that goes through a function without a rule (np.vander) refused the call
    # (NoRuleError "depends on y, x") although the jacobian is only d out / d y
    x = np.linspace(0.0, 2.0, 5)
    y = np.sin(x)
    for mode in ("reverse", "auto"):
        J = sd.jacobian(design_fit, mode=mode)(y, x)
        np.testing.assert_allclose(J, _fd_jacobian(design_fit, (y, x), 0), rtol=1e-6, atol=1e-8)
