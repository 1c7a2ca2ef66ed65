"""Oracles for gradients: central finite differences in random directions."""

import copy

import numpy as np

from sourcediff.testing import directional_derivative


def directional_fd(fn, args, i, v, h=1e-6):
    """(f(x + h v) - f(x - h v)) / 2h for argument ``i`` (sourcediff.testing's oracle), each call
    on its own copy of the arguments: the function may change them."""
    return float(directional_derivative(lambda *a: fn(*copy.deepcopy(a)), args, {i: v}, h))


def check_grads_fd(fn, args, wrt, grads, rtol=1e-5, directions=2, seed=1):
    """Assert that ``grads`` (one per wrt index) match finite differences in random directions."""
    rng = np.random.default_rng(seed)
    f0 = fn(*copy.deepcopy(args))
    scale = 1.0 + abs(float(np.sum(f0)))
    for i, g in zip(wrt, grads):
        x = args[i]
        assert np.shape(g) == np.shape(x), f"gradient of arg {i} has shape {np.shape(g)}, " \
                                           f"argument {np.shape(x)}"
        if isinstance(x, float):
            assert isinstance(g, float), f"gradient of float arg {i} is {type(g).__name__}"
        else:
            assert g.dtype == x.dtype, f"gradient of arg {i} has dtype {g.dtype}, arg {x.dtype}"
        for _ in range(directions):
            v = rng.normal(size=np.shape(x))
            v = float(v) if isinstance(x, float) else v
            fd = directional_fd(fn, args, i, v)
            an = float(np.sum(np.asarray(g) * v))
            err = abs(fd - an)
            assert err <= rtol * (abs(fd) + abs(an)) + 1e-8 * scale, \
                f"arg {i}: analytic {an!r} vs finite differences {fd!r} (error {err:.3g})"
