"""Gradients of scipy's functions (scipy is optional: each helper imports what it needs), and
the scipy.special functions rule bodies call as ``_sd.digamma``/``_sd.polygamma``."""

import numpy as np

from .accumulate import GradList, _items, _refuse
from .linalg import _seen_symmetric, cholesky_grad, cholesky_tangent
from .shapes import inexact, keep, unbroadcast

__all__ = [
    "lse_b", "lse_exp", "lse_value", "lse_sign", "lse_cotangent", "lse_tangent",
    "mvn_logpdf_grads", "mvn_logpdf_tangent", "solve_triangular_tangent",
    "cho_factor_grad", "cho_factor_tangent", "cho_solve_grads", "cho_solve_tangent", "expm_grad",
    "expm_tangent", "flipped_trans", "trans_axes", "column_shape", "triangle_mask",
    "centered_into", "centered_part", "zero_fill"
]


# ---------------------------------------------------------------- scipy (optional)


def zero_fill(boundary, fillvalue, what, in1=0.0, in2=0.0):
    """scipy.signal.convolve2d / correlate2d are differentiated for real arrays with
    boundary='fill' and fillvalue=0 (in1 padded with zeros): refuse the others."""
    if any(np.iscomplexobj(v) for v in (in1, in2, fillvalue)):
        _refuse(f"{what} of complex arrays")
    if boundary not in ("fill", "pad") or fillvalue != 0:
        _refuse(f"{what} with boundary={boundary!r}, fillvalue={fillvalue!r} (only the default "
                f"zero fill)")
    return "fill"


def _centre(in1, in2, shape_g, ceil):
    full = tuple(np.shape(in1)[k] + np.shape(in2)[k] - 1 for k in range(2))
    start = tuple((f - s + ceil) // 2 for f, s in zip(full, shape_g))
    return full, tuple(slice(b, b + s) for b, s in zip(start, shape_g))


def centered_into(g, in1, in2, ceil=0):
    """``g``, the gradient of a 2-D convolution of ``in1`` and ``in2`` in mode 'same' or 'valid'
    (or 'full'), placed in zeros shaped like the 'full' result where that mode takes its part:
    its centre (rounded down for convolve2d, ``ceil=1``: up for correlate2d, as scipy)."""
    full, where = _centre(in1, in2, np.shape(g), ceil)
    out = np.zeros(full, dtype=np.result_type(g, float))
    out[where] = g
    return out


def centered_part(b, g, in1, in2, ceil=0):
    """The adjoint of :func:`centered_into` in ``g``: the part of ``b`` where g was placed."""
    return b[_centre(in1, in2, np.shape(g), ceil)[1]]



def lse_b(b, return_sign=False):
    """The scale ``b`` of scipy.special.logsumexp (1.0 for None)."""
    return 1.0 if b is None else b


def lse_value(ans, return_sign=False):
    """logsumexp's value: its result, or the first of (value, sign) with return_sign=True."""
    return ans[0] if return_sign else ans


def lse_sign(ans, a, axis=None, keepdims=False, return_sign=False):
    """The sign of the scaled sum logsumexp took the log of (1.0 unless return_sign=True), shaped
    to broadcast against ``a``: d value / d a = b exp(a - value) sign."""
    return keep(ans[1], a, axis, keepdims) if return_sign else 1.0


def lse_cotangent(g, return_sign=False):
    """The gradient of logsumexp's value in ``g`` (with return_sign=True the sign's part, which
    has no derivative, is left out)."""
    if not return_sign:
        return g
    value = _items(g, 2)[0]
    return 0.0 if value is None else value


def lse_tangent(t, return_sign=False):
    """The tangent of logsumexp's result from that of its value (the sign's is 0)."""
    return GradList([t, 0.0]) if return_sign else t


def lse_exp(a, shift, b=None):
    """exp(a - shift) for logsumexp's gradient, 0 where the scale ``b`` is 0: that entry adds
    nothing, and its exponential may overflow (0 * inf gave nan)."""
    if b is None:
        return np.exp(a - shift)
    return np.exp(np.where(np.asarray(b) == 0, -np.inf, a) - shift)


def mvn_logpdf_grads(g, ans, x, mean=None, cov=1, allow_singular=False):
    """The gradients (x, mean, cov, None) of scipy.stats.multivariate_normal.logpdf for a positive
    definite cov (a matrix, a vector of variances or a scalar variance). scipy reads the lower
    triangle of a matrix cov; its gradient is that of the entries read."""
    x = np.asarray(x, dtype=float)
    c = np.asarray(cov, dtype=float)
    n = np.shape(mean)[-1] if mean is not None and np.ndim(mean) else \
        (c.shape[-1] if c.ndim else x.shape[-1])
    xs = x.reshape(-1, n) if x.ndim else x.reshape(1, 1)
    d = xs - (0.0 if mean is None else np.asarray(mean, dtype=float))
    gk = np.reshape(np.asarray(g, dtype=float), (-1,) + (1,) * 0)
    gk = np.broadcast_to(gk, (d.shape[0],))
    if c.ndim == 2:
        ci = np.linalg.inv(_seen_symmetric(c, True))
        sd = d @ ci  # C^-1 d per row (C symmetric)
        gcs = 0.5 * (np.einsum("k,ki,kj->ij", gk, sd, sd) - np.sum(gk) * ci)
        gc = np.tril(gcs + gcs.T, -1) + np.diag(np.diag(gcs))
    else:
        sd = d / c
        gc = 0.5 * (np.sum(gk[:, None] * (sd * sd - 1.0 / c), axis=0) if c.ndim == 1 else
                    np.sum(gk * (np.sum(sd * sd, axis=1) - n / c)))
    gx = -gk[:, None] * sd
    gmean = None if mean is None else unbroadcast(-gx, np.asarray(mean, dtype=float))
    return (np.reshape(gx, np.shape(x)), gmean, np.reshape(gc, np.shape(cov)), None)


def mvn_logpdf_tangent(t, ans, x, mean=None, cov=1, allow_singular=False, which=0):
    """The tangent of multivariate_normal.logpdf for a tangent ``t`` of x (0), mean (1) or cov (2)."""
    grads = mvn_logpdf_grads(np.ones(np.shape(ans)) if np.ndim(ans) else 1.0, ans, x, mean, cov)
    if np.ndim(ans) == 0 or which == 2:
        if which == 2:  # per output: the cov gradient of each row separately
            rows = np.reshape(np.asarray(x, dtype=float), (-1, np.shape(grads[0])[-1]))
            out = [np.sum(mvn_logpdf_grads(1.0, None, r, mean, cov)[2] * t) for r in rows]
            return np.reshape(out, np.shape(ans))
        return np.sum(np.asarray(grads[which]) * t)
    n = np.shape(x)[-1]
    gx = np.reshape(grads[0], (-1, n))
    tt = np.broadcast_to(t, np.shape(x) if which == 0 else (n,)).reshape(-1, n) if which == 0 \
        else np.broadcast_to(t, (n,))
    return np.reshape(np.sum(gx * tt, axis=1) * (1.0 if which == 0 else -1.0), np.shape(ans))


def _tri(x, lower, unit_diagonal=False):
    return np.tril(x, -1 if unit_diagonal else 0) if lower else np.triu(x, 1 if unit_diagonal else 0)


_TRANS = {0: 0, "N": 0, 1: 1, "T": 1, 2: 1, "C": 1}


def flipped_trans(trans):
    """solve_triangular's ``trans`` for the transposed system (real: "C" is "T")."""
    return 1 - _TRANS[trans]


def trans_axes(trans):
    """np.transpose's axes that turn a matrix into the one ``trans`` reads: as is, or transposed."""
    return (1, 0) if _TRANS[trans] else (0, 1)


def column_shape(b):
    """A right-hand side's shape as a matrix of columns: (n, 1) for a vector, (n, k) for a matrix."""
    return (np.shape(b)[0], -1)


def triangle_mask(a, lower=False, unit_diagonal=False):
    """1.0 on the triangle of ``a`` solve_triangular reads (without the diagonal for a unit one)."""
    return _tri(np.ones(np.shape(a)), lower, unit_diagonal)


def solve_triangular_tangent(t, ans, a, b, trans=0, lower=False, unit_diagonal=False, which=0):
    """The tangent of scipy.linalg.solve_triangular for a tangent ``t`` of a (0) or b (1)."""
    from scipy.linalg import solve_triangular

    tr = {0: 0, "N": 0, 1: 1, "T": 1, 2: 1, "C": 1}[trans]
    if which == 1:
        return solve_triangular(a, t, trans=tr, lower=lower, unit_diagonal=unit_diagonal)
    dt = _tri(inexact(t), lower, unit_diagonal)
    rhs = (dt if tr == 0 else dt.T) @ ans
    return -solve_triangular(a, rhs, trans=tr, lower=lower, unit_diagonal=unit_diagonal)


def cho_factor_grad(g, ans, a, lower=False):
    """The gradient of scipy.linalg.cho_factor's (c, lower): the factor's triangle goes through the
    Cholesky gradient, the other triangle of c holds a's own entries (gradient passes as is)."""
    gc = _items(g, 2)[0]
    if gc is None:
        return np.zeros(np.shape(a))
    c = ans[0]
    factor = np.tril(c) if lower else np.triu(c)
    passed = np.triu(gc, 1) if lower else np.tril(gc, -1)
    gf = np.tril(gc) if lower else np.triu(gc)
    return cholesky_grad(gf, factor, a, upper=not lower)[0] + passed


def cho_factor_tangent(t, ans, a, lower=False):
    """The tangent of scipy.linalg.cho_factor's c for a tangent ``t`` of ``a``."""
    factor = np.tril(ans[0]) if lower else np.triu(ans[0])
    passed = np.triu(t, 1) if lower else np.tril(t, -1)
    return GradList([cholesky_tangent(t, factor, a, upper=not lower) + passed, 0.0])


def cho_solve_grads(g, ans, c_and_lower, b):
    """The gradients ([c, None], b, ...) of scipy.linalg.cho_solve((c, lower), b)."""
    from scipy.linalg import cho_solve

    c, lower = c_and_lower
    f = np.tril(c) if lower else np.triu(c)
    gb = cho_solve((c, lower), g)
    x2, gb2 = (np.asarray(ans)[:, None], gb[:, None]) if np.ndim(b) == 1 else (ans, gb)
    m = gb2 @ x2.T
    gf = -((m + m.T) @ f) if lower else -(f @ (m + m.T))
    return (GradList([np.tril(gf) if lower else np.triu(gf), None]), gb)


def cho_solve_tangent(t, ans, c_and_lower, b, which=0):
    """The tangent of scipy.linalg.cho_solve for a tangent of (c, lower) (which=0) or b (1)."""
    from scipy.linalg import cho_solve

    c, lower = c_and_lower
    if which == 1:
        return cho_solve((c, lower), t)
    f = np.tril(c) if lower else np.triu(c)
    tf = np.tril(t[0]) if lower else np.triu(t[0])
    da = tf @ f.T + f @ tf.T if lower else tf.T @ f + f.T @ tf
    return -cho_solve((c, lower), da @ ans)


def expm_grad(g, ans, A):
    """The gradient of scipy.linalg.expm: the Frechet derivative at A^T applied to ``g``."""
    from scipy.linalg import expm_frechet

    a, gg = inexact(A), np.broadcast_to(g, np.shape(A))
    flat_a, flat_g = a.reshape(-1, *a.shape[-2:]), gg.reshape(-1, *a.shape[-2:])
    out = [expm_frechet(x.T, y, compute_expm=False) for x, y in zip(flat_a, flat_g)]
    return (np.reshape(out, a.shape),)


def expm_tangent(t, ans, A):
    """The tangent of scipy.linalg.expm: the Frechet derivative at A in the direction ``t``."""
    from scipy.linalg import expm_frechet

    a, tt = inexact(A), np.broadcast_to(t, np.shape(A))
    flat_a, flat_t = a.reshape(-1, *a.shape[-2:]), tt.reshape(-1, *a.shape[-2:])
    out = [expm_frechet(x, y, compute_expm=False) for x, y in zip(flat_a, flat_t)]
    return np.reshape(out, a.shape)


# scipy.special functions that rule bodies call as _sd.xxx: the real ufuncs, so their own rules
# make those bodies differentiable again
try:
    from scipy import linalg as _linalg
    from scipy import signal as _signal
    from scipy import special as _special
except ImportError:  # pragma: no cover
    pass
else:
    digamma, polygamma = _special.digamma, _special.polygamma
    # (review36: the derivatives of log_expit, i0, i1, i0e, i1e and erfcx)
    expit, i0, i1, i0e, i1e, erfcx = (_special.expit, _special.i0, _special.i1, _special.i0e,
                                      _special.i1e, _special.erfcx)
    gammaln, betaln = _special.gammaln, _special.betaln  # (review38: the stats rules)
    solve_triangular = _linalg.solve_triangular  # (its rule's body solves again: grad of grad)
    convolve2d, correlate2d = _signal.convolve2d, _signal.correlate2d  # (and so do these)
    __all__ += ["digamma", "polygamma", "solve_triangular", "convolve2d", "correlate2d", "expit",
                "i0", "i1", "i0e", "i1e", "erfcx", "gammaln", "betaln"]
