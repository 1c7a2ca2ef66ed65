"""scipy.stats methods without a rule of their own (review38), written in operations that have
rules (scipy.special's ndtr, ndtri, log_ndtr, expit, gammainc, stdtr, betainc; numpy's ufuncs):
the compiler differentiates these in their place, from their source, in every mode and order
(``rules.registry.defwritten``), as it does ``runtime.written``'s.

Each follows scipy's own formula for its standard form (``scipy/stats/_continuous_distns.py``)
with ``z = (x - loc) / scale``, its support (0 or 1 outside, as scipy gives) and nan where the
scale is not positive, so the value is scipy's. Example: ``scipy.stats.norm.sf(x, 1.0, 2.0)``
runs as ``_sd.norm_sf(x, 1.0, 2.0)``, ``ndtr(-(x - 1) / 2)``."""

import numpy as np

from .accumulate import _refuse
from .shapes import numpy_only

try:
    from scipy import special as _special
except ImportError:  # pragma: no cover
    _special = None

__all__ = [
    "scale_check", "unit_check", "standard_z", "laplace_std_cdf", "laplace_std_logcdf",
    "log_z_inside", "positive_z", "t_logpdf_written", "unit_z", "norm_sf", "norm_logsf",
    "norm_ppf", "norm_isf", "norm_entropy", "cauchy_logpdf", "cauchy_pdf", "cauchy_cdf",
    "cauchy_sf", "cauchy_ppf", "logistic_logpdf", "logistic_pdf", "logistic_cdf", "logistic_sf",
    "logistic_logcdf", "logistic_logsf", "logistic_ppf", "laplace_pdf", "laplace_cdf",
    "laplace_sf", "laplace_logcdf", "laplace_logsf", "laplace_ppf", "expon_cdf", "expon_sf",
    "expon_logcdf", "expon_logsf", "expon_ppf", "lognorm_cdf", "lognorm_sf", "lognorm_logcdf",
    "lognorm_logsf", "lognorm_ppf", "gamma_cdf", "gamma_sf", "gamma_logcdf", "gamma_logsf",
    "t_pdf", "t_cdf", "t_sf", "beta_cdf", "beta_sf", "gammainc_da", "gammainc_terms",
]


def scale_check(scale):
    """1.0 where ``scale`` is positive, nan elsewhere (scipy's value for a bad scale)."""
    return np.where(np.greater(scale, 0), 1.0, np.nan)


def unit_check(q):
    """1.0 where the probability ``q`` is in [0, 1], nan elsewhere (scipy's value there)."""
    return np.where((np.greater_equal(q, 0.0)) & (np.less_equal(q, 1.0)), 1.0, np.nan)


def standard_z(x, loc, scale):
    return np.subtract(x, loc) / scale


# ---------------------------------------------------------------- norm


def norm_sf(x, loc=0.0, scale=1.0):
    return _special.ndtr(-standard_z(x, loc, scale)) * scale_check(scale)


def norm_logsf(x, loc=0.0, scale=1.0):
    return _special.log_ndtr(-standard_z(x, loc, scale)) * scale_check(scale)


def norm_ppf(q, loc=0.0, scale=1.0):
    return (loc + scale * _special.ndtri(q)) * scale_check(scale)


def norm_isf(q, loc=0.0, scale=1.0):
    return (loc - scale * _special.ndtri(q)) * scale_check(scale)


def norm_entropy(loc=0.0, scale=1.0):
    return (0.5 * (np.log(2.0 * np.pi) + 1.0) + np.log(scale) + 0.0 * np.asarray(loc)) * \
        scale_check(scale)


# ---------------------------------------------------------------- cauchy: 1 / (pi (1 + z^2))


def cauchy_logpdf(x, loc=0.0, scale=1.0):
    z = standard_z(x, loc, scale)
    return (-np.log(np.pi) - np.log1p(z * z) - np.log(scale)) * scale_check(scale)


def cauchy_pdf(x, loc=0.0, scale=1.0):
    z = standard_z(x, loc, scale)
    return 1.0 / (np.pi * scale * (1.0 + z * z)) * scale_check(scale)


def cauchy_cdf(x, loc=0.0, scale=1.0):
    return (0.5 + np.arctan(standard_z(x, loc, scale)) / np.pi) * scale_check(scale)


def cauchy_sf(x, loc=0.0, scale=1.0):
    return (0.5 - np.arctan(standard_z(x, loc, scale)) / np.pi) * scale_check(scale)


def cauchy_ppf(q, loc=0.0, scale=1.0):
    z = np.where(np.equal(q, 0.0), -np.inf,
                 np.where(np.equal(q, 1.0), np.inf, np.tan(np.pi * q - np.pi / 2.0)))
    return (loc + scale * z) * scale_check(scale) * unit_check(q)


# ---------------------------------------------------------------- logistic: expit(z)


def logistic_logpdf(x, loc=0.0, scale=1.0):
    z = standard_z(x, loc, scale)  # (-|z| - 2 log1p(exp(-|z|)) as scipy, smooth at 0)
    return (_special.log_expit(z) + _special.log_expit(-z) - np.log(scale)) * scale_check(scale)


def logistic_pdf(x, loc=0.0, scale=1.0):
    z = standard_z(x, loc, scale)
    return _special.expit(z) * _special.expit(-z) / scale * scale_check(scale)


def logistic_cdf(x, loc=0.0, scale=1.0):
    return _special.expit(standard_z(x, loc, scale)) * scale_check(scale)


def logistic_sf(x, loc=0.0, scale=1.0):
    return _special.expit(-standard_z(x, loc, scale)) * scale_check(scale)


def logistic_logcdf(x, loc=0.0, scale=1.0):
    return _special.log_expit(standard_z(x, loc, scale)) * scale_check(scale)


def logistic_logsf(x, loc=0.0, scale=1.0):
    return _special.log_expit(-standard_z(x, loc, scale)) * scale_check(scale)


def logistic_ppf(q, loc=0.0, scale=1.0):
    return (loc + scale * _special.logit(q)) * scale_check(scale)


# ---------------------------------------------------------------- laplace: exp(-|z|) / 2


def laplace_pdf(x, loc=0.0, scale=1.0):
    return 0.5 * np.exp(-np.abs(standard_z(x, loc, scale))) / scale * scale_check(scale)


def laplace_std_cdf(z):
    half = 0.5 * np.exp(np.where(z > 0, -z, z))  # (exp(-|z|), with the slope of each side at 0)
    return np.where(z > 0, 1.0 - half, half)


def laplace_cdf(x, loc=0.0, scale=1.0):
    return laplace_std_cdf(standard_z(x, loc, scale)) * scale_check(scale)


def laplace_sf(x, loc=0.0, scale=1.0):
    return laplace_std_cdf(-standard_z(x, loc, scale)) * scale_check(scale)


def laplace_std_logcdf(z):
    right = np.log1p(-0.5 * np.exp(-np.where(z > 0, z, 0.0)))
    return np.where(z > 0, right, np.log(0.5) + z)


def laplace_logcdf(x, loc=0.0, scale=1.0):
    return laplace_std_logcdf(standard_z(x, loc, scale)) * scale_check(scale)


def laplace_logsf(x, loc=0.0, scale=1.0):
    return laplace_std_logcdf(-standard_z(x, loc, scale)) * scale_check(scale)


def laplace_ppf(q, loc=0.0, scale=1.0):
    upper = np.greater(q, 0.5)
    p = np.where(upper, 1.0 - np.asarray(q), q)  # (the tail's probability, at most 1/2)
    return (loc + scale * np.where(upper, -1.0, 1.0) * np.log(2.0 * p)) * scale_check(scale)


# ---------------------------------------------------------------- expon: exp(-z), z >= 0
# (z below 0 is taken as 0: the cdf 0, the sf 1, as scipy gives outside the support)


def expon_cdf(x, loc=0.0, scale=1.0):
    return -np.expm1(-np.maximum(standard_z(x, loc, scale), 0.0)) * scale_check(scale)


def expon_sf(x, loc=0.0, scale=1.0):
    return np.exp(-np.maximum(standard_z(x, loc, scale), 0.0)) * scale_check(scale)


def expon_logcdf(x, loc=0.0, scale=1.0):
    with np.errstate(divide="ignore"):
        return np.log(-np.expm1(-np.maximum(standard_z(x, loc, scale), 0.0))) * scale_check(scale)


def expon_logsf(x, loc=0.0, scale=1.0):
    return -np.maximum(standard_z(x, loc, scale), 0.0) * scale_check(scale)


def expon_ppf(q, loc=0.0, scale=1.0):
    return (loc - scale * np.log1p(-np.asarray(q))) * scale_check(scale) * unit_check(q)


# ---------------------------------------------------------------- lognorm(s): ndtr(log z / s)


def log_z_inside(x, loc, scale):
    z = standard_z(x, loc, scale)
    return np.log(np.where(z > 0, z, 1.0)), z > 0


def lognorm_cdf(x, s, loc=0.0, scale=1.0):
    lz, inside = log_z_inside(x, loc, scale)
    return np.where(inside, _special.ndtr(lz / s), 0.0) * scale_check(scale) * scale_check(s)


def lognorm_sf(x, s, loc=0.0, scale=1.0):
    lz, inside = log_z_inside(x, loc, scale)
    return np.where(inside, _special.ndtr(-lz / s), 1.0) * scale_check(scale) * scale_check(s)


def lognorm_logcdf(x, s, loc=0.0, scale=1.0):
    lz, inside = log_z_inside(x, loc, scale)
    valid = scale_check(scale) * scale_check(s)
    return np.where(inside, _special.log_ndtr(lz / s), -np.inf) * valid


def lognorm_logsf(x, s, loc=0.0, scale=1.0):
    lz, inside = log_z_inside(x, loc, scale)
    return np.where(inside, _special.log_ndtr(-lz / s), 0.0) * scale_check(scale) * scale_check(s)


def lognorm_ppf(q, s, loc=0.0, scale=1.0):
    return (loc + scale * np.exp(s * _special.ndtri(q))) * scale_check(scale) * scale_check(s)


# ---------------------------------------------------------------- gamma(a): gammainc(a, z)


def positive_z(x, loc, scale):
    z = standard_z(x, loc, scale)
    return np.where(z > 0, z, 0.0)


def gamma_cdf(x, a, loc=0.0, scale=1.0):
    return _special.gammainc(a, positive_z(x, loc, scale)) * scale_check(scale) * scale_check(a)


def gamma_sf(x, a, loc=0.0, scale=1.0):
    return _special.gammaincc(a, positive_z(x, loc, scale)) * scale_check(scale) * scale_check(a)


def gamma_logcdf(x, a, loc=0.0, scale=1.0):
    with np.errstate(divide="ignore"):
        return np.log(_special.gammainc(a, positive_z(x, loc, scale))) * scale_check(scale)


def gamma_logsf(x, a, loc=0.0, scale=1.0):
    valid = scale_check(scale) * scale_check(a)
    return np.log(_special.gammaincc(a, positive_z(x, loc, scale))) * valid


# ---------------------------------------------------------------- t(df): stdtr(df, z)


def t_pdf(x, df, loc=0.0, scale=1.0):
    return np.exp(t_logpdf_written(x, df, loc, scale))


def t_logpdf_written(x, df, loc, scale):
    z = standard_z(x, loc, scale)
    return (_special.gammaln(0.5 * (df + 1.0)) - _special.gammaln(0.5 * df)
            - 0.5 * np.log(df * np.pi) - 0.5 * (df + 1.0) * np.log1p(z * z / df)
            - np.log(scale)) * scale_check(scale) * scale_check(df)


def t_cdf(x, df, loc=0.0, scale=1.0):
    return _special.stdtr(df, standard_z(x, loc, scale)) * scale_check(scale) * scale_check(df)


def t_sf(x, df, loc=0.0, scale=1.0):
    return _special.stdtr(df, -standard_z(x, loc, scale)) * scale_check(scale) * scale_check(df)


# ---------------------------------------------------------------- beta(a, b): betainc(a, b, z)


def unit_z(x, loc, scale):
    return np.clip(standard_z(x, loc, scale), 0.0, 1.0)


def beta_cdf(x, a, b, loc=0.0, scale=1.0):
    valid = scale_check(scale) * scale_check(a) * scale_check(b)
    return _special.betainc(a, b, unit_z(x, loc, scale)) * valid


def beta_sf(x, a, b, loc=0.0, scale=1.0):
    valid = scale_check(scale) * scale_check(a) * scale_check(b)
    return (1.0 - _special.betainc(a, b, unit_z(x, loc, scale))) * valid


# ---------------------------------------------------------------- derivatives scipy lacks


def gammainc_terms(x):
    """How many terms of gammainc_da's series count for every entry of ``x`` (at most 1e5)."""
    numpy_only("the incomplete gamma function in its shape a", x)
    top = float(np.max(np.where(np.greater(x, 0), x, 1.0)))
    if top > 1e5:
        _refuse("the derivative of the regularized incomplete gamma function in its shape a "
                "for x above 1e5 (gamma.cdf / gammainc there)")
    return int(top + 12.0 * np.sqrt(top) + 40.0)


def gammainc_da(a, x):
    """d/da of the regularized lower incomplete gamma function P(a, x), from its series
    P = exp(-x) x^a sum_n x^n / Gamma(a + n + 1): each term times (log x - digamma(a + n + 1)),
    summed until the terms no longer count (gammainc_terms). Written in functions with rules,
    so that its own derivative (second order in a) comes from its source."""
    inside = np.greater(x, 0)
    xs = np.where(inside, x, 1.0)
    lx = np.log(xs)
    total_p = 0.0
    total_d = 0.0
    for n in range(gammainc_terms(x)):
        term = np.exp(-xs + (a + n) * lx - _special.gammaln(a + n + 1.0))
        total_p = total_p + term
        total_d = total_d + term * _special.digamma(a + n + 1.0)
    return np.where(inside, lx * total_p - total_d, 0.0)
