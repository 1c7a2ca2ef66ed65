"""Rules for scipy (optional): scipy.special, scipy.stats distributions, scipy.linalg.

Imported by :mod:`sourcediff.rules` only when ``import scipy`` works. Same contract and body
restrictions as the numpy rules; special functions the bodies need are reached as ``_sd.digamma``,
``_sd.polygamma``, ... (the real scipy ufuncs, re-exported by sourcediff.runtime), so their own rules
apply again at second order.

Distribution methods such as ``scipy.stats.norm.logpdf`` are bound methods of a distribution object:
every attribute access makes a new method object, but bound methods compare and hash equal when their
``__self__`` and ``__func__`` are the same, so the rule table (a dict) finds the rule registered under
``scipy.stats.norm.logpdf`` for the object the resolver gets from the same attribute chain. A method
of another distribution (``scipy.stats.t.logpdf``) has another ``__self__`` and needs its own rule.
Their rules take ``loc`` and ``scale`` by position or by keyword, as scipy does.

These rules work in source mode (reverse and forward). The tape reaches scipy.special's ufuncs
(expit, gammaln, ...) through ``__array_ufunc__``, but scipy.stats and scipy.linalg convert their
arguments with np.asarray, which the tape cannot follow.
"""

import math

import numpy as np
import scipy.linalg
import scipy.signal
import scipy.special
import scipy.stats

from .. import runtime as _sd
from .registry import defjvp, defnondiff, defvjp, defwritten

# ---------------------------------------------------------------- scipy.special


@defvjp(scipy.special.expit, kind="elementwise", torch_name="SigmoidBackward0")
def expit(g, ans, x):
    return (g * ans * (1.0 - ans),)


@defvjp(scipy.special.logit, kind="elementwise", torch_name="LogitBackward0")
def logit(g, ans, x):
    return (g / (x * (1.0 - x)),)


@defvjp(scipy.special.gammaln, kind="elementwise", torch_name="LgammaBackward0")
def gammaln(g, ans, x):
    return (g * _sd.digamma(x),)


@defvjp(math.lgamma, kind="elementwise", torch_name="LgammaBackward0")
def math_lgamma(g, ans, x):
    return (g * _sd.digamma(x),)


# (gamma(x) = exp(lgamma(x)) times its sign: the derivative is gamma(x) digamma(x))
@defvjp(scipy.special.gamma, math.gamma, kind="elementwise")
def gamma(g, ans, x):
    return (g * ans * _sd.digamma(x),)


@defvjp(scipy.special.digamma, kind="elementwise", torch_name="DigammaBackward0")
def digamma(g, ans, x):
    return (g * _sd.polygamma(1, x),)


# polygamma(n, x): the order n is an integer and gets no gradient
@defvjp(scipy.special.polygamma, kind="elementwise", broadcast=True, torch_name="PolygammaBackward0")
def polygamma(g, ans, n, x):
    return (None, g * _sd.polygamma(np.add(n, 1), x))


@defvjp(scipy.special.betaln, kind="elementwise", broadcast=True)
def betaln(g, ans, a, b):
    return (g * (_sd.digamma(a) - _sd.digamma(a + b)), g * (_sd.digamma(b) - _sd.digamma(a + b)))


@defvjp(scipy.special.erf, kind="elementwise", torch_name="ErfBackward0")
def erf(g, ans, z):
    return (g * (2.0 / math.sqrt(math.pi)) * np.exp(-z * z),)


@defvjp(scipy.special.erfc, kind="elementwise", torch_name="ErfcBackward0")
def erfc(g, ans, x):
    return (-g * (2.0 / math.sqrt(math.pi)) * np.exp(-x * x),)


@defvjp(scipy.special.ndtr, kind="elementwise")
def ndtr(g, ans, x):
    return (g * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi),)


@defvjp(scipy.special.log_ndtr, kind="elementwise")
def log_ndtr(g, ans, x):
    return (g * np.exp(-0.5 * x * x - ans) / math.sqrt(2.0 * math.pi),)


# xlogy(x, y) = x log(y), 0 where x == 0: x gets log(y), also at x = 0 when y > 0 (the function is
# x log(y) there; PyTorch gives 0); at x == 0 with y <= 0 it gets 0 instead of nan or -inf
@defvjp(scipy.special.xlogy, kind="elementwise", broadcast=True, torch_name="XlogyBackward0")
def xlogy(g, ans, x, y):
    return (g * np.log(np.where((x == 0) & (y <= 0), 1.0, y)), g * x / y)


@defvjp(scipy.special.xlog1py, kind="elementwise", broadcast=True)
def xlog1py(g, ans, x, y):
    return (g * np.log1p(np.where((x == 0) & (y <= -1), 0.0, y)), g * x / (1.0 + y))


# review36: log_expit, entr, rel_entr, kl_div, erfcx and the modified Bessel functions i0, i1 and
# their exponentially scaled forms (i0e = exp(-|x|) i0, i1e = exp(-|x|) i1); at x = 0, i1(x) / x
# and i1e(x) / x have the limit 1/2
@defvjp(scipy.special.log_expit, kind="elementwise", torch_name="LogSigmoidBackward0")
def log_expit(g, ans, x):
    return (g * _sd.expit(-x),)


@defvjp(scipy.special.entr, kind="elementwise", torch_name="SpecialEntrBackward0")
def entr(g, ans, x):
    return (-g * (np.log(x) + 1.0),)


@defvjp(scipy.special.rel_entr, kind="elementwise", broadcast=True)
def rel_entr(g, ans, x, y):
    return (g * (np.log(x / y) + 1.0), -g * x / y)


@defvjp(scipy.special.kl_div, kind="elementwise", broadcast=True)
def kl_div(g, ans, x, y):
    return (g * np.log(x / y), g * (1.0 - x / y))


@defvjp(scipy.special.erfcx, kind="elementwise", torch_name="SpecialErfcxBackward0")
def erfcx(g, ans, x):
    return (g * (2.0 * x * ans - 2.0 / math.sqrt(math.pi)),)


@defvjp(scipy.special.i0, np.i0, kind="elementwise", torch_name="I0Backward0", view=False)
def i0(g, ans, x):
    return (g * _sd.i1(x),)


@defvjp(scipy.special.i1, kind="elementwise", torch_name="SpecialI1Backward0")
def i1(g, ans, x):
    return (g * np.where(x == 0, 0.5, _sd.i0(x) - ans / np.where(x == 0, 1.0, x)),)


@defvjp(scipy.special.i0e, kind="elementwise", torch_name="SpecialI0EBackward0")
def i0e(g, ans, x):
    return (g * (_sd.i1e(x) - np.sign(x) * ans),)


@defvjp(scipy.special.i1e, kind="elementwise", torch_name="SpecialI1EBackward0")
def i1e(g, ans, x):
    return (g * np.where(x == 0, 0.5, _sd.i0e(x) - ans * (np.sign(x) + 1.0 / np.where(
        x == 0, 1.0, x))),)


if hasattr(scipy.special, "softplus"):  # (scipy 1.15: log(1 + exp(x)))
    @defvjp(scipy.special.softplus, kind="elementwise", torch_name="SoftplusBackward0",
            shapes="evaluate")
    def softplus(g, ans, x, **kwargs):
        return (g * _sd.expit(x),)


# logsumexp: a and b (the scales) are differentiable; with return_sign=True the result is (value,
# sign) and the value is log |sum b exp(a)|: its derivative takes the sign (review36: it raised a
# ValueError from the rule's shapes). An entry of a scaled by b = 0 has gradient 0 also where
# exp(a - ans) overflows (0 * inf gave nan; JAX gives 0)
@defvjp(scipy.special.logsumexp, kind="custom", torch_name="LogsumexpBackward0", view=False,
        shapes="evaluate")
def logsumexp(g, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    v = _sd.keep(_sd.lse_value(ans, return_sign), a, axis, keepdims)
    s = _sd.lse_sign(ans, a, axis, keepdims, return_sign)
    up = _sd.unreduce(_sd.lse_cotangent(g, return_sign), a, axis, keepdims)
    return (up * _sd.lse_exp(a, v, b) * _sd.lse_b(b, return_sign) * s, None,
            _sd.unbroadcast(up * np.exp(a - v) * s, b), None, None)


defnondiff(_sd.lse_sign, reason="the sign of logsumexp's scaled sum (locally constant)")


@defjvp(scipy.special.logsumexp)
def logsumexp_jvp(g, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    v = _sd.keep(_sd.lse_value(ans, return_sign), a, axis, keepdims)
    s = _sd.lse_sign(ans, a, axis, keepdims, return_sign)
    return (_sd.lse_tangent(np.sum(g * _sd.lse_exp(a, v, b) * _sd.lse_b(b, return_sign) * s,
                                   axis=axis, keepdims=keepdims), return_sign), None,
            _sd.lse_tangent(np.sum(g * np.exp(a - v) * s, axis=axis, keepdims=keepdims),
                            return_sign), None, None)


@defvjp(scipy.special.softmax, kind="custom", torch_name="SoftmaxBackward0", shapes="evaluate")
def softmax(g, ans, x, axis=None):
    return (ans * (g - np.sum(g * ans, axis=axis, keepdims=True)), None)


@defjvp(scipy.special.softmax)
def softmax_jvp(g, ans, x, axis=None):
    return (ans * (g - np.sum(g * ans, axis=axis, keepdims=True)), None)


@defvjp(scipy.special.log_softmax, kind="custom", torch_name="LogSoftmaxBackward0",
        shapes="evaluate")
def log_softmax(g, ans, x, axis=None):
    return (g - np.exp(ans) * np.sum(g, axis=axis, keepdims=True), None)


@defjvp(scipy.special.log_softmax)
def log_softmax_jvp(g, ans, x, axis=None):
    return (g - np.sum(np.exp(ans) * g, axis=axis, keepdims=True), None)


# ---------------------------------------------------------------- scipy.stats
# norm: z = (x - loc) / scale; x, loc and scale are differentiable (broadcasting)


@defvjp(scipy.stats.norm.logpdf, kind="elementwise", broadcast=True)
def norm_logpdf(g, ans, x, loc=0.0, scale=1.0, **kwds):
    z = np.subtract(x, loc) / scale  # (x may be a list of numbers)
    return (-g * z / scale, g * z / scale, g * (z * z - 1.0) / scale)


@defvjp(scipy.stats.norm.pdf, kind="elementwise", broadcast=True)
def norm_pdf(g, ans, x, loc=0.0, scale=1.0, **kwds):
    z = np.subtract(x, loc) / scale  # (x may be a list of numbers)
    return (-g * ans * z / scale, g * ans * z / scale, g * ans * (z * z - 1.0) / scale)


@defvjp(scipy.stats.norm.cdf, kind="elementwise", broadcast=True)
def norm_cdf(g, ans, x, loc=0.0, scale=1.0, **kwds):
    z = np.subtract(x, loc) / scale  # (x may be a list of numbers)
    d = g * np.exp(-0.5 * z * z) / (math.sqrt(2.0 * math.pi) * scale)
    return (d, -d, -d * z)


@defvjp(scipy.stats.norm.logcdf, kind="elementwise", broadcast=True)
def norm_logcdf(g, ans, x, loc=0.0, scale=1.0, **kwds):
    z = np.subtract(x, loc) / scale  # (x may be a list of numbers)
    d = g * np.exp(-0.5 * z * z - ans) / (math.sqrt(2.0 * math.pi) * scale)
    return (d, -d, -d * z)


# t.logpdf(x, df, loc, scale): all four are differentiable
@defvjp(scipy.stats.t.logpdf, kind="elementwise", broadcast=True)
def t_logpdf(g, ans, x, df, loc=0.0, scale=1.0, **kwds):
    z = np.subtract(x, loc) / scale  # (x may be a list of numbers)
    w = (df + 1.0) * z / ((df + z * z) * scale)
    ddf = 0.5 * (_sd.digamma(0.5 * (df + 1.0)) - _sd.digamma(0.5 * df) - 1.0 / df
                 - np.log1p(z * z / df)) + 0.5 * (df + 1.0) * z * z / (df * (df + z * z))
    return (-g * w, g * ddf, g * w, g * (w * z - 1.0 / scale))


# Location-scale families (review30): logpdf(x, *shape, loc, scale) = f(z, *shape) - log(scale)
# with z = (x - loc) / scale, so x gets f_z / scale, loc -f_z / scale, scale -(z f_z + 1) / scale
# and each shape parameter its f_theta; pdf = exp(logpdf) multiplies them all by ans. (Outside
# the support, where logpdf is -inf and pdf 0, the formulas give nan or 0: no derivative there.)


@defvjp(scipy.stats.gamma.logpdf, kind="elementwise", broadcast=True)
def gamma_logpdf(g, ans, x, a, loc=0.0, scale=1.0, **kwds):
    z = np.subtract(x, loc) / scale  # (x may be a list of numbers)
    fz = (a - 1.0) / z - 1.0
    return (g * fz / scale, g * (np.log(z) - _sd.digamma(a)), -g * fz / scale,
            -g * (z * fz + 1.0) / scale)


@defvjp(scipy.stats.gamma.pdf, kind="elementwise", broadcast=True)
def gamma_pdf(g, ans, x, a, loc=0.0, scale=1.0, **kwds):
    z = np.subtract(x, loc) / scale  # (x may be a list of numbers)
    fz = (a - 1.0) / z - 1.0
    ga = g * ans
    return (ga * fz / scale, ga * (np.log(z) - _sd.digamma(a)), -ga * fz / scale,
            -ga * (z * fz + 1.0) / scale)


@defvjp(scipy.stats.beta.logpdf, kind="elementwise", broadcast=True)
def beta_logpdf(g, ans, x, a, b, loc=0.0, scale=1.0, **kwds):
    z = np.subtract(x, loc) / scale  # (x may be a list of numbers)
    fz = (a - 1.0) / z - (b - 1.0) / (1.0 - z)
    dab = _sd.digamma(a + b)
    return (g * fz / scale, g * (np.log(z) - _sd.digamma(a) + dab),
            g * (np.log1p(-z) - _sd.digamma(b) + dab), -g * fz / scale,
            -g * (z * fz + 1.0) / scale)


@defvjp(scipy.stats.beta.pdf, kind="elementwise", broadcast=True)
def beta_pdf(g, ans, x, a, b, loc=0.0, scale=1.0, **kwds):
    z = np.subtract(x, loc) / scale  # (x may be a list of numbers)
    fz = (a - 1.0) / z - (b - 1.0) / (1.0 - z)
    ga = g * ans
    return (ga * fz / scale, ga * (np.log(z) - _sd.digamma(a) + _sd.digamma(a + b)),
            ga * (np.log1p(-z) - _sd.digamma(b) + _sd.digamma(a + b)), -ga * fz / scale,
            -ga * (z * fz + 1.0) / scale)


# expon: f = -z (z >= 0); laplace: f = -|z| - log 2
@defvjp(scipy.stats.expon.logpdf, kind="elementwise", broadcast=True)
def expon_logpdf(g, ans, x, loc=0.0, scale=1.0, **kwds):
    z = np.subtract(x, loc) / scale  # (x may be a list of numbers)
    return (-g / scale, g / scale, g * (z - 1.0) / scale)


@defvjp(scipy.stats.expon.pdf, kind="elementwise", broadcast=True)
def expon_pdf(g, ans, x, loc=0.0, scale=1.0, **kwds):
    z = np.subtract(x, loc) / scale  # (x may be a list of numbers)
    return (-g * ans / scale, g * ans / scale, g * ans * (z - 1.0) / scale)


@defvjp(scipy.stats.laplace.logpdf, kind="elementwise", broadcast=True)
def laplace_logpdf(g, ans, x, loc=0.0, scale=1.0, **kwds):
    z = np.subtract(x, loc) / scale  # (x may be a list of numbers)
    return (-g * np.sign(z) / scale, g * np.sign(z) / scale, g * (np.abs(z) - 1.0) / scale)


# lognorm(s): f = -log z - log s - log(2 pi) / 2 - log(z)^2 / (2 s^2)
@defvjp(scipy.stats.lognorm.logpdf, kind="elementwise", broadcast=True)
def lognorm_logpdf(g, ans, x, s, loc=0.0, scale=1.0, **kwds):
    z = np.subtract(x, loc) / scale  # (x may be a list of numbers)
    lz = np.log(z)
    fz = -(1.0 + lz / (s * s)) / z
    return (g * fz / scale, g * (lz * lz / (s * s) - 1.0) / s, -g * fz / scale,
            -g * (z * fz + 1.0) / scale)


@defvjp(scipy.stats.lognorm.pdf, kind="elementwise", broadcast=True)
def lognorm_pdf(g, ans, x, s, loc=0.0, scale=1.0, **kwds):
    z = np.subtract(x, loc) / scale  # (x may be a list of numbers)
    fz = -(1.0 + np.log(z) / (s * s)) / z
    ga = g * ans
    return (ga * fz / scale, ga * (np.log(z) ** 2 / (s * s) - 1.0) / s, -ga * fz / scale,
            -ga * (z * fz + 1.0) / scale)


# poisson.logpmf(k, mu, loc): k log mu - mu - log k!; the count k and the shift loc are integers
@defvjp(scipy.stats.poisson.logpmf, kind="elementwise", broadcast=True)
def poisson_logpmf(g, ans, k, mu, loc=0, **kwds):
    return (None, g * (np.subtract(k, loc) / mu - 1.0), None)


@defvjp(scipy.stats.poisson.pmf, kind="elementwise", broadcast=True)
def poisson_pmf(g, ans, k, mu, loc=0, **kwds):
    return (None, g * ans * (np.subtract(k, loc) / mu - 1.0), None)


# multivariate_normal.logpdf: x, mean and cov (matrix, variances or a scalar variance); a matrix cov
# is read by scipy through its lower triangle, and so is its gradient
@defvjp(scipy.stats.multivariate_normal.logpdf, kind="custom")
def mvn_logpdf(g, ans, x, mean=None, cov=1, allow_singular=False):
    return _sd.mvn_logpdf_grads(g, ans, x, mean, cov, allow_singular)


@defjvp(scipy.stats.multivariate_normal.logpdf)
def mvn_logpdf_jvp(g, ans, x, mean=None, cov=1, allow_singular=False):
    return (_sd.mvn_logpdf_tangent(g, ans, x, mean, cov, allow_singular, 0),
            _sd.mvn_logpdf_tangent(g, ans, x, mean, cov, allow_singular, 1),
            _sd.mvn_logpdf_tangent(g, ans, x, mean, cov, allow_singular, 2), None)


# ---------------------------------------------------------------- scipy.signal (review30)
# convolve2d(in1, in2, mode) is a part of the 'full' convolution F = in1 * in2: the gradient g is
# placed in zeros shaped like F (centered_into), and then in1 gets its correlation with in2 and
# in2 its correlation with in1 ('valid'). correlate2d is convolve2d with in2 flipped (its 'same'
# part centred rounding up). Real arrays, boundary='fill' with fillvalue=0 only (zero_fill).


@defvjp(scipy.signal.convolve2d, kind="custom", torch_name="ConvolutionBackward0")
def convolve2d(g, ans, in1, in2, mode="full", boundary="fill", fillvalue=0):
    full = _sd.centered_into(g, in1, in2, 0)
    fill = _sd.zero_fill(boundary, fillvalue, "scipy.signal.convolve2d", in1, in2)
    return (_sd.correlate2d(full, in2, "valid", fill),
            _sd.correlate2d(full, in1, "valid", fill), None, None, None)


@defjvp(scipy.signal.convolve2d)
def convolve2d_jvp(g, ans, in1, in2, mode="full", boundary="fill", fillvalue=0):
    fill = _sd.zero_fill(boundary, fillvalue, "scipy.signal.convolve2d", in1, in2)
    return (_sd.convolve2d(g, in2, mode, fill),
            _sd.convolve2d(in1, g, mode, fill), None, None, None)


@defvjp(scipy.signal.correlate2d, kind="custom", torch_name="ConvolutionBackward0")
def correlate2d(g, ans, in1, in2, mode="full", boundary="fill", fillvalue=0):
    full = _sd.centered_into(g, in1, in2, 1)
    fill = _sd.zero_fill(boundary, fillvalue, "scipy.signal.correlate2d", in1, in2)
    return (_sd.correlate2d(full, np.flip(in2), "valid", fill),
            np.flip(_sd.correlate2d(full, in1, "valid", fill)), None, None, None)


@defjvp(scipy.signal.correlate2d)
def correlate2d_jvp(g, ans, in1, in2, mode="full", boundary="fill", fillvalue=0):
    fill = _sd.zero_fill(boundary, fillvalue, "scipy.signal.correlate2d", in1, in2)
    return (_sd.correlate2d(g, in2, mode, fill),
            _sd.correlate2d(in1, g, mode, fill), None, None, None)


# ---------------------------------------------------------------- scipy.linalg (real, 2-D)


# x = op(a)^-1 b (op: a or a^T by trans): gb = op(a)^-T g, and a gets -gb x^T (op = a) or -x gb^T,
# on the triangle solve_triangular reads. Written with differentiable calls only (the masks and
# shapes are read from the arguments), so hessians and grad of grad reach through
@defvjp(scipy.linalg.solve_triangular, kind="custom", torch_name="LinalgSolveTriangularBackward0")
def solve_triangular(g, ans, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     check_finite=True):
    gb = _sd.solve_triangular(a, g, _sd.flipped_trans(trans), lower, unit_diagonal)
    outer = np.reshape(gb, _sd.column_shape(b)) @ np.transpose(np.reshape(ans, _sd.column_shape(b)))
    return (-_sd.triangle_mask(a, lower, unit_diagonal) * np.transpose(outer, _sd.trans_axes(trans)),
            gb)


@defjvp(scipy.linalg.solve_triangular)
def solve_triangular_jvp(g, ans, a, b, trans=0, lower=False, unit_diagonal=False,
                         overwrite_b=False, check_finite=True):
    return (_sd.solve_triangular_tangent(g, ans, a, b, trans, lower, unit_diagonal, 0),
            _sd.solve_triangular_tangent(g, ans, a, b, trans, lower, unit_diagonal, 1))


# cho_factor returns (c, lower): c holds the factor in one triangle and a's own entries in the other
@defvjp(scipy.linalg.cho_factor, kind="custom", torch_name="LinalgCholeskyExBackward0")
def cho_factor(g, ans, a, lower=False, overwrite_a=False, check_finite=True):
    return (_sd.cho_factor_grad(g, ans, a, lower), None, None, None)


@defjvp(scipy.linalg.cho_factor)
def cho_factor_jvp(g, ans, a, lower=False, overwrite_a=False, check_finite=True):
    return (_sd.cho_factor_tangent(g, ans, a, lower), None, None, None)


# cho_solve((c, lower), b): the gradient of the pair is [gradient of c, None]
@defvjp(scipy.linalg.cho_solve, kind="custom", torch_name="CholeskySolveBackward0")
def cho_solve(g, ans, c_and_lower, b, overwrite_b=False, check_finite=True):
    return _sd.cho_solve_grads(g, ans, c_and_lower, b)


@defjvp(scipy.linalg.cho_solve)
def cho_solve_jvp(g, ans, c_and_lower, b, overwrite_b=False, check_finite=True):
    return (_sd.cho_solve_tangent(g, ans, c_and_lower, b, 0),
            _sd.cho_solve_tangent(g, ans, c_and_lower, b, 1))


@defvjp(scipy.linalg.expm, kind="custom", torch_name="LinalgMatrixExpBackward0")
def expm(g, ans, A):
    return _sd.expm_grad(g, ans, A)


@defjvp(scipy.linalg.expm)
def expm_jvp(g, ans, A):
    return (_sd.expm_tangent(g, ans, A),)


@defvjp(_sd.lse_b, kind="linear", shapes="evaluate")
def lse_b_helper(c, out, b, return_sign=False):
    return (c, None)


# scipy.linalg.svdvals: differentiated as np.linalg.svd(a, compute_uv=False) (runtime/written.py)
defwritten(scipy.linalg.svdvals, _sd.svdvals)


# ---------------------------------------------------------------- review38: scipy.stats methods
# written in scipy.special's functions (runtime/stats.py), and the rules those need: ndtri (the
# normal quantile), the regularized incomplete gamma functions (in a through runtime's series),
# stdtr and betainc in their last argument (their shape parameters' derivatives are refused)


@defvjp(scipy.special.ndtri, kind="elementwise")
def ndtri(g, ans, y):
    return (g * math.sqrt(2.0 * math.pi) * np.exp(0.5 * ans * ans),)


@defvjp(scipy.special.gammainc, kind="elementwise", broadcast=True)
def gammainc(g, ans, a, x):
    return (g * _sd.gammainc_da(a, x),
            g * np.exp((a - 1.0) * np.log(x) - x - _sd.gammaln(a)))


@defvjp(scipy.special.gammaincc, kind="elementwise", broadcast=True)
def gammaincc(g, ans, a, x):
    return (-g * _sd.gammainc_da(a, x),
            -g * np.exp((a - 1.0) * np.log(x) - x - _sd.gammaln(a)))


@defvjp(scipy.special.stdtr, kind="elementwise", broadcast=True, unimplemented=("df",))
def stdtr(g, ans, df, t):
    return (None, g * np.exp(_sd.gammaln(0.5 * (df + 1.0)) - _sd.gammaln(0.5 * df)
                             - 0.5 * np.log(df * math.pi) - 0.5 * (df + 1.0) * np.log1p(t * t / df)))


@defvjp(scipy.special.betainc, kind="elementwise", broadcast=True, unimplemented=("a", "b"))
def betainc(g, ans, a, b, x):
    return (None, None, g * np.exp((a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x)
                                   - _sd.betaln(a, b)))


defnondiff(_sd.scale_check, _sd.unit_check,
           reason="1.0 or nan: whether a scale is positive, a probability in [0, 1]", view=False)
defnondiff(_sd.gammainc_terms, reason="a count of series terms", view=False)


def _written_stats():
    st = scipy.stats
    for dist, methods in [
            (st.norm, ("sf", "logsf", "ppf", "isf", "entropy")),
            (st.cauchy, ("logpdf", "pdf", "cdf", "sf", "ppf")),
            (st.logistic, ("logpdf", "pdf", "cdf", "sf", "logcdf", "logsf", "ppf")),
            (st.laplace, ("pdf", "cdf", "sf", "logcdf", "logsf", "ppf")),
            (st.expon, ("cdf", "sf", "logcdf", "logsf", "ppf")),
            (st.lognorm, ("cdf", "sf", "logcdf", "logsf", "ppf")),
            (st.gamma, ("cdf", "sf", "logcdf", "logsf")),
            (st.t, ("pdf", "cdf", "sf")),
            (st.beta, ("cdf", "sf"))]:
        for method in methods:
            defwritten(getattr(dist, method), getattr(_sd, f"{dist.name}_{method}"))


_written_stats()
