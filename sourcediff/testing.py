"""check_grads: test a function's derivatives (and your own rules) against finite differences.

Example::

    import numpy as np
    from sourcediff.testing import check_grads

    def f(x, y):
        return np.sum(np.sin(x) * y)

    check_grads(f, (np.ones(3), np.arange(3.0)), order=2, modes=("fwd", "rev"))
"""

import numpy as np

from .errors import SourcediffError


class GradientCheckError(SourcediffError, AssertionError):
    """A derivative that disagrees with finite differences."""


def _float_args(args):
    return [i for i, a in enumerate(args)
            if isinstance(a, float) or getattr(getattr(a, "dtype", None), "kind", None) == "f"]


def _direction(rng, x):
    v = rng.normal(size=np.shape(x))
    return float(v) if isinstance(x, float) else v.astype(np.asarray(x).dtype)


def _shift(args, dirs, h):
    out = list(args)
    for i, v in dirs.items():
        out[i] = args[i] + h * v
        if isinstance(args[i], float):
            out[i] = float(out[i])
    return out


def _fd(fn, args, dirs, eps):
    hi = np.asarray(fn(*_shift(args, dirs, eps)), dtype=float)
    lo = np.asarray(fn(*_shift(args, dirs, -eps)), dtype=float)
    return (hi - lo) / (2 * eps)


def _close(name, analytic, numeric, rtol, atol):
    analytic, numeric = np.asarray(analytic, dtype=float), np.asarray(numeric, dtype=float)
    if analytic.shape != numeric.shape or not np.allclose(analytic, numeric, rtol=rtol, atol=atol):
        raise GradientCheckError(f"{name}: sourcediff gives {analytic!r}, finite differences give "
                                 f"{numeric!r}")


def check_grads(fn, args, order=1, modes=("fwd", "rev"), eps=1e-6, rtol=1e-4, atol=1e-6,
                seed=0):
    """Check ``fn``'s derivatives at ``args`` in random directions, up to ``order``.

    ``modes`` picks forward ("fwd": sd.jvp) and/or reverse ("rev": sd.vjp) mode; ``order=2`` also
    checks the derivative of the derivative (hvp through forward over reverse for scalar
    functions). Raises GradientCheckError (an AssertionError) on a mismatch.
    """
    from . import operators

    args = tuple(args)
    rng = np.random.default_rng(seed)
    wrt = _float_args(args)
    if not wrt:
        raise SourcediffError("check_grads needs at least one float or float-array argument")
    dirs = {i: _direction(rng, args[i]) for i in wrt}
    numeric = _fd(fn, args, dirs, eps)
    if "fwd" in modes:
        tangents = [dirs.get(i) for i in range(len(args))]
        _, out_dot = operators.jvp(fn, args, tangents)
        _close(f"forward mode of {getattr(fn, '__qualname__', fn)}", out_dot, numeric, rtol, atol)
    if "rev" in modes:
        out, f_vjp = operators.vjp(fn, *args)
        ct = _direction(rng, np.asarray(out, dtype=float)) if np.ndim(out) else 1.0
        grads = f_vjp(ct)
        analytic = sum(float(np.sum(np.asarray(grads[i]) * dirs[i])) for i in wrt)
        _close(f"reverse mode of {getattr(fn, '__qualname__', fn)}", analytic,
               float(np.sum(numeric * ct)), rtol, atol)
    if order >= 2:
        if np.ndim(fn(*args)) != 0:
            raise SourcediffError("check_grads with order=2 needs a scalar function")
        tangents = [dirs.get(i) for i in range(len(args))]
        hv = operators.hvp(fn, args, tangents)
        hv = hv if isinstance(hv, tuple) else (hv,)
        from .api import grad

        df = grad(fn, wrt=tuple(wrt))
        g_hi = df(*_shift(args, dirs, eps))
        g_lo = df(*_shift(args, dirs, -eps))
        for k, i in enumerate(wrt):
            num = (np.asarray(g_hi[k], dtype=float) - np.asarray(g_lo[k], dtype=float)) / (2 * eps)
            _close(f"second derivative (argument {i}) of {getattr(fn, '__qualname__', fn)}",
                   hv[k], num, rtol * 10, atol * 10)
