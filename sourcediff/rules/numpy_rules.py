"""Derivative rules for Python operators, numpy functions, ndarray methods and attributes, and math.

Every rule follows the contract in :mod:`sourcediff.registry`: ``rule(g, ans, *args, **kwargs)`` with
the primitive's own parameter names, returning one gradient contribution (or ``None``) per leading
positional parameter. Rule bodies are quoted and inlined by the compiler, so they only use their
parameters, their own locals and the module globals ``np``, ``_sd``, ``math``, ``builtins`` and
``operator``; shape logic lives in :mod:`sourcediff.runtime` (``_sd``).

Conventions at points where the derivative is not defined follow PyTorch (measured on PyTorch 2.13;
``tests/test_rules.py::test_conventions_match_pytorch`` checks them); each one is noted next to its rule.
"""

import builtins
import copy as _copy
import math
import operator

import numpy as np

from .. import runtime as _sd
from .registry import defjvp, defvjp, present

# ---------------------------------------------------------------- operators and arithmetic ufuncs
# add and subtract are "elementwise" (not "linear"): they are linear jointly, not in each argument
# separately (add(t, y) is not the tangent t), and their pointwise derivatives are the constants 1/-1.
# view=False on -, /, **, %, unary - and +: new arrays, numbers; not on + and * (a list's items)


@defvjp(operator.add, np.add, kind="elementwise", broadcast=True, torch_name="AddBackward0")
def add(g, ans, x, y):
    return (g, g)


@defvjp(operator.sub, np.subtract, kind="elementwise", broadcast=True, torch_name="SubBackward0",
        view=False)
def subtract(g, ans, x, y):
    return (g, -g)


@defvjp(operator.mul, np.multiply, kind="linear", broadcast=True, torch_name="MulBackward0")
def multiply(g, ans, x, y):
    return (g * y, g * x)


@defvjp(operator.truediv, np.divide, kind="elementwise", broadcast=True, torch_name="DivBackward0",
        view=False)
def divide(g, ans, x, y):
    return (g / y, -g * ans / y)


@defvjp(operator.neg, np.negative, kind="linear", torch_name="NegBackward0", view=False)
def negative(g, ans, x):
    return (-g,)


@defvjp(operator.pos, np.positive, kind="linear", view=False)
def positive(g, ans, x):
    return (_sd.unbroadcast(g, x),)  # (which refuses +obj running a class's __pos__)


# Complex values in between (x * 1j, np.exp(1j * x)) follow autograd's and JAX's convention: the
# gradient of a real function of z = a + ib is dL/da - i dL/db, so a holomorphic function's rule is
# the real one (g * f'(z), no conjugate), the gradient handed back for a real argument is the real
# part, and the functions that are not holomorphic are these: conj, real, imag (below; linear, so
# their tangents are the function of the tangent), vdot (conjugates its first argument); abs, norms,
# var/std and the matrix factorizations have rules for real arguments only and refuse complex ones
# (_sd.real_only).
@defvjp(np.conjugate, kind="linear")
def conjugate(g, ans, x):
    return (np.conjugate(g),)


# (view=True: the method returns a real array itself)
@defvjp(np.ndarray.conj, np.ndarray.conjugate, kind="linear", view=True)
def conjugate_method(g, ans, x):
    return (np.conjugate(g),)


@defvjp(np.real, kind="linear", view=True)
def real(g, ans, val):
    return (np.real(g),)


@defvjp(np.imag, kind="linear", view=True)
def imag(g, ans, val):
    return (-1j * np.real(g),)


# x ** 0 has gradient 0 everywhere, also at x = 0 (PyTorch); x ** 0.5 at 0 gives inf. The exponent's
# gradient uses log(x) only where x > 0 and is 0 elsewhere (PyTorch gives nan for x < 0).
@defvjp(operator.pow, np.power, math.pow, kind="elementwise", broadcast=True,
        torch_name="PowBackward0", view=False)
def power(g, ans, x, y):
    return (g * y * x ** np.where(y == 0, 1.0, y - 1),
            g * ans * np.log(np.where(_sd.real_only(x, "x ** y in y") > 0, x, 1.0)))


@defvjp(builtins.pow, kind="elementwise", broadcast=True, torch_name="PowBackward0")
def builtin_pow(g, ans, base, exp, mod=None):
    return (
        g * exp * base ** np.where(exp == 0, 1.0, exp - 1),
        g * ans * np.log(np.where(_sd.real_only(base, "pow(x, y) in y") > 0, base, 1.0)),
        None,
    )


@defvjp(np.float_power, kind="elementwise", broadcast=True, torch_name="PowBackward1")
def float_power(g, ans, x, y):
    return (
        g * y * np.float_power(x, np.where(y == 0, 1.0, y - 1)),
        g * ans * np.log(np.where(x > 0, x, 1.0)),
    )


@defvjp(np.square, kind="elementwise", torch_name="PowBackward0")
def square(g, ans, x):
    return (g * 2.0 * x,)


@defvjp(np.reciprocal, kind="elementwise", torch_name="ReciprocalBackward0")
def reciprocal(g, ans, x):
    return (-g * ans * ans,)


# mod/remainder/fmod: d/dx = 1 and d/dy = -floor(x / y) (resp. -trunc), as PyTorch's RemainderBackward
@defvjp(operator.mod, np.remainder, kind="elementwise", broadcast=True,
        torch_name="RemainderBackward1", view=False)
def remainder(g, ans, x, y):
    return (g, -g * np.floor(x / y))


@defvjp(np.fmod, math.fmod, kind="elementwise", broadcast=True, torch_name="FmodBackward1")
def fmod(g, ans, x, y):
    return (g, -g * np.trunc(x / y))


@defvjp(operator.matmul, np.matmul, kind="linear", torch_name="MmBackward0", view=False)
def matmul(g, ans, x, y):
    return (_sd.matmul_grad_left(g, x, y), _sd.matmul_grad_right(g, x, y))


# ---------------------------------------------------------------- elementwise functions


@defvjp(np.sin, math.sin, kind="elementwise", torch_name="SinBackward0", view=False)
def sin(g, ans, x):
    return (g * np.cos(x),)


@defvjp(np.cos, math.cos, kind="elementwise", torch_name="CosBackward0", view=False)
def cos(g, ans, x):
    return (-g * np.sin(x),)


@defvjp(np.tan, math.tan, kind="elementwise", torch_name="TanBackward0")
def tan(g, ans, x):
    return (g * (1.0 + ans * ans),)


@defvjp(np.arcsin, math.asin, kind="elementwise", torch_name="AsinBackward0")
def arcsin(g, ans, x):
    return (g / np.sqrt(1.0 - x * x),)


@defvjp(np.arccos, math.acos, kind="elementwise", torch_name="AcosBackward0")
def arccos(g, ans, x):
    return (-g / np.sqrt(1.0 - x * x),)


@defvjp(np.arctan, math.atan, kind="elementwise", torch_name="AtanBackward0")
def arctan(g, ans, x):
    return (g / (1.0 + x * x),)


@defvjp(np.sinh, math.sinh, kind="elementwise", torch_name="SinhBackward0")
def sinh(g, ans, x):
    return (g * np.cosh(x),)


@defvjp(np.cosh, math.cosh, kind="elementwise", torch_name="CoshBackward0")
def cosh(g, ans, x):
    return (g * np.sinh(x),)


@defvjp(np.tanh, math.tanh, kind="elementwise", torch_name="TanhBackward0", view=False)
def tanh(g, ans, x):
    return (g * (1.0 - ans * ans),)


@defvjp(np.arcsinh, math.asinh, kind="elementwise", torch_name="AsinhBackward0")
def arcsinh(g, ans, x):
    return (g / np.sqrt(x * x + 1.0),)


@defvjp(np.arccosh, math.acosh, kind="elementwise", torch_name="AcoshBackward0")
def arccosh(g, ans, x):
    return (g / np.sqrt(x * x - 1.0),)


@defvjp(np.arctanh, math.atanh, kind="elementwise", torch_name="AtanhBackward0")
def arctanh(g, ans, x):
    return (g / (1.0 - x * x),)


@defvjp(np.exp, math.exp, kind="elementwise", torch_name="ExpBackward0", view=False)
def exp(g, ans, x):
    return (g * ans,)


@defvjp(np.exp2, *present(math, "exp2"), kind="elementwise", torch_name="Exp2Backward0")
def exp2(g, ans, x):
    return (g * ans * math.log(2.0),)


@defvjp(np.expm1, math.expm1, kind="elementwise", torch_name="Expm1Backward0")
def expm1(g, ans, x):
    return (g * (ans + 1.0),)


# log at 0 gives inf (PyTorch); so do log2, log10 and log1p at their poles
@defvjp(np.log, kind="elementwise", torch_name="LogBackward0")
def log(g, ans, x):
    return (g / x,)


@defvjp(math.log, kind="elementwise", torch_name="LogBackward0", view=False)
def math_log(g, ans, x, base=math.e):
    return (g / (x * math.log(base)), -g * ans / (base * math.log(base)))


@defvjp(np.log2, math.log2, kind="elementwise", torch_name="Log2Backward0")
def log2(g, ans, x):
    return (g / (x * math.log(2.0)),)


@defvjp(np.log10, math.log10, kind="elementwise", torch_name="Log10Backward0")
def log10(g, ans, x):
    return (g / (x * math.log(10.0)),)


@defvjp(np.log1p, math.log1p, kind="elementwise", torch_name="Log1PBackward0")
def log1p(g, ans, x):
    return (g / (1.0 + x),)


# sqrt and cbrt at 0 give inf (PyTorch: sqrt'(0) = inf)
@defvjp(np.sqrt, math.sqrt, kind="elementwise", torch_name="SqrtBackward0", view=False)
def sqrt(g, ans, x):
    return (g * 0.5 / ans,)


@defvjp(np.cbrt, *present(math, "cbrt"), kind="elementwise", torch_name="PowBackward0")
def cbrt(g, ans, x):
    return (g / (3.0 * ans * ans),)


# abs at 0 gives 0 (PyTorch)
@defvjp(builtins.abs, np.absolute, np.fabs, math.fabs, kind="elementwise",
        torch_name="AbsBackward0", view=False)
def absolute(g, ans, x):
    return (g * np.sign(_sd.real_only(x, "abs")),)


# copysign(x, y) = |x| sign(y): d/dx = sign(x) sign(y) (0 at x = 0, as abs); y gets no gradient
@defvjp(np.copysign, math.copysign, kind="elementwise", broadcast=True,
        torch_name="CopysignBackward0")
def copysign(g, ans, x, y):
    return (g * np.sign(x) * np.where(np.signbit(y), -1.0, 1.0), None)


# maximum/minimum/fmax/fmin: at a tie each argument gets half the gradient (PyTorch MaximumBackward0)
@defvjp(np.maximum, kind="elementwise", broadcast=True, torch_name="MaximumBackward0")
def maximum(g, ans, x, y):
    # 1 where x wins, 0.5 at ties (PyTorch's convention), 0 where it loses
    return (g * _sd.win_mask(x, y), g * _sd.win_mask(y, x))


@defvjp(np.minimum, kind="elementwise", broadcast=True, torch_name="MinimumBackward0")
def minimum(g, ans, x, y):
    return (g * _sd.win_mask(y, x), g * _sd.win_mask(x, y))


# fmax/fmin skip a nan: np.fmax(x, nan) is x, so x gets the whole gradient there (PyTorch's
# FmaxBackward0 too; a tie is split as for maximum)
@defvjp(np.fmax, kind="elementwise", broadcast=True, torch_name="FmaxBackward0")
def fmax(g, ans, x, y):
    return (g * _sd.fwin_mask(x, y), g * _sd.fwin_mask(y, x))


@defvjp(np.fmin, kind="elementwise", broadcast=True, torch_name="FminBackward0")
def fmin(g, ans, x, y):
    return (g * _sd.fwin_mask(x, y, least=True), g * _sd.fwin_mask(y, x, least=True))


@defvjp(np.where, kind="elementwise", broadcast=True, torch_name="WhereBackward0",
        view=False, rowwise="elementwise")
def where(g, ans, condition, x=None, y=None):
    # (np.where(condition) alone gives the indices where it holds: no derivative)
    return (None, np.where(condition, g, 0.0), np.where(condition, 0.0, g))


# clip: a value on a bound passes its gradient to `a` (PyTorch clamp: boundary included); array bounds
# get it where `a` is strictly outside, and hi where lo > hi (np.clip is minimum(maximum(a, lo), hi)).
@defvjp(np.clip, kind="elementwise", broadcast=True, torch_name="ClampBackward1",
        view=False, rowwise="elementwise")  # (min=, max=: numpy 2.1's, keyword-only there; slots)
def clip(g, ans, a, a_min=None, a_max=None, out=None, min=None, max=None, **kwargs):
    lo, hi = _sd.clip_bounds(a_min, a_max, min, max)
    return (g * ((a >= lo) & (a <= hi)), g * ((a < lo) & (lo <= hi)), g * ((a > hi) | (lo > hi)),
            None, g * ((a < lo) & (lo <= hi)), g * ((a > hi) | (lo > hi)))


@defvjp(np.ndarray.clip, kind="elementwise", broadcast=True, torch_name="ClampBackward1",
        view=False)
def clip_method(g, ans, a, min=None, max=None, out=None, **kwargs):
    lo, hi = _sd.clip_bounds(min, max)
    return (g * ((a >= lo) & (a <= hi)), g * ((a < lo) & (lo <= hi)), g * ((a > hi) | (lo > hi)))


@defvjp(np.arctan2, math.atan2, kind="elementwise", broadcast=True, torch_name="Atan2Backward0")
def arctan2(g, ans, x1, x2):
    # (at the origin, where the angle has no derivative, 0 as PyTorch gives; a constant 0 there,
    # so that its own derivative is 0 too, not that of x2 / 1)
    r2 = x1 * x1 + x2 * x2
    origin = r2 == 0
    return (np.where(origin, 0.0, g * x2 / (r2 + origin)),
            np.where(origin, 0.0, -g * x1 / (r2 + origin)))


@defvjp(np.hypot, kind="elementwise", broadcast=True, torch_name="HypotBackward0")
def hypot(g, ans, x1, x2):
    return (g * x1 / ans, g * x2 / ans)


@defvjp(math.hypot, kind="elementwise", torch_name="HypotBackward0")
def math_hypot(g, ans, *coordinates):
    return _sd.scale_each(g / ans, coordinates)


@defvjp(np.logaddexp, kind="elementwise", broadcast=True, torch_name="LogaddexpBackward0")
def logaddexp(g, ans, x1, x2):
    # exp(x1 - ans) without ans: the primal's (slow) logaddexp is not computed for a gradient
    return (_sd.scaled_sigmoid(g, x1 - x2), _sd.scaled_sigmoid(g, x2 - x1))


@defvjp(np.logaddexp2, kind="elementwise", broadcast=True, torch_name="Logaddexp2Backward0")
def logaddexp2(g, ans, x1, x2):
    return (g * np.exp2(x1 - ans), g * np.exp2(x2 - ans))


# sinc'(0) = 0 (the limit; PyTorch SincBackward0 agrees); at 0 the derivative is its Taylor
# series -pi^2 x / 3 + pi^4 x^3 / 30, so that sinc''(0) = -pi^2 / 3 at second order (a constant 0
# there gave 0) and the third and fourth derivatives are right too
@defvjp(np.sinc, kind="elementwise", torch_name="SincBackward0", view=False)
def sinc(g, ans, x):
    safe = np.where(x == 0, 1.0, x)
    return (g * np.where(x == 0, x * (np.pi ** 4 / 30.0 * x * x - np.pi ** 2 / 3.0),
                         (np.cos(np.pi * x) - ans) / safe),)


@defvjp(np.deg2rad, np.radians, math.radians, kind="linear", torch_name="Deg2RadBackward0")
def deg2rad(g, ans, x):
    return (g * (math.pi / 180.0),)


@defvjp(np.rad2deg, np.degrees, math.degrees, kind="linear", torch_name="Rad2DegBackward0")
def rad2deg(g, ans, x):
    return (g * (180.0 / math.pi),)


@defvjp(math.erf, kind="elementwise", torch_name="ErfBackward0")
def erf(g, ans, x):
    return (g * (2.0 / math.sqrt(math.pi)) * np.exp(-x * x),)


@defvjp(math.erfc, kind="elementwise", torch_name="ErfcBackward0")
def erfc(g, ans, x):
    return (-g * (2.0 / math.sqrt(math.pi)) * np.exp(-x * x),)


@defvjp(builtins.float, kind="linear", view=False)
def to_float(g, ans, x):
    return (g,)


# ---------------------------------------------------------------- reductions


@defvjp(np.sum, np.ndarray.sum, kind="linear", torch_name="SumBackward0",
        view=False, full_reduction=True, rowwise="sum")
def sum(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return (_sd.unreduce(g, a, axis, keepdims),)


# (view=None: sum([], start) is start itself)
@defvjp(builtins.sum, math.fsum, kind="custom", torch_name="AddBackward0", view=None)
def builtin_sum(g, ans, iterable, start=0):
    return (_sd.unbroadcast_each(g, iterable), _sd.unbroadcast(g, start))


@defjvp(builtins.sum, math.fsum)
def builtin_sum_jvp(g, ans, iterable, start=0):
    return (_sd.sum_each(g, iterable), g)


@defvjp(np.mean, np.ndarray.mean, kind="linear", torch_name="MeanBackward0",
        view=False, full_reduction=True, rowwise="mean")
def mean(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return (_sd.unreduce(g / _sd.reduced_count(a, axis), a, axis, keepdims),)  # divide, then broadcast


# prod: the gradient is the product of the other elements, exact with zeros (PyTorch: [0,2,3] -> [6,0,0])
@defvjp(np.prod, np.ndarray.prod, kind="custom", torch_name="ProdBackward0",
        view=False, full_reduction=True)
def prod(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return (_sd.unreduce(g, a, axis, keepdims) * _sd.prod_others(a, axis),)


@defjvp(np.prod, np.ndarray.prod)
def prod_jvp(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return (np.sum(g * _sd.prod_others(a, axis), axis=axis, keepdims=keepdims),)


# max/min reductions: tied maxima share the gradient evenly (PyTorch amax/amin and max()/min() over
# all elements; note PyTorch's max(dim=k) instead gives it all to one index).
@defvjp(np.max, np.amax, np.ndarray.max, kind="custom", torch_name="MaxBackward1",
        view=False, full_reduction=True, rowwise="max")
def amax(g, ans, a, axis=None, out=None, keepdims=False):
    return (_sd.unreduce(g, a, axis, keepdims) * _sd.extremum_weights(a, ans, axis, keepdims),)


@defjvp(np.max, np.amax, np.ndarray.max)
def amax_jvp(g, ans, a, axis=None, out=None, keepdims=False):
    return (np.sum(g * _sd.extremum_weights(a, ans, axis, keepdims), axis=axis, keepdims=keepdims),)


@defvjp(np.min, np.amin, np.ndarray.min, kind="custom", torch_name="MinBackward1",
        view=False, full_reduction=True, rowwise="min")
def amin(g, ans, a, axis=None, out=None, keepdims=False):
    return (_sd.unreduce(g, a, axis, keepdims) * _sd.extremum_weights(a, ans, axis, keepdims),)


@defjvp(np.min, np.amin, np.ndarray.min)
def amin_jvp(g, ans, a, axis=None, out=None, keepdims=False):
    return (np.sum(g * _sd.extremum_weights(a, ans, axis, keepdims), axis=axis, keepdims=keepdims),)


@defvjp(np.var, np.ndarray.var, kind="custom", torch_name="VarBackward0",
        view=False, full_reduction=True)
def var(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = _sd.real_only(a, "np.var") - np.mean(a, axis=axis, keepdims=True)
    return (_sd.unreduce(g, a, axis, keepdims) * 2.0 * centered / (_sd.reduced_count(a, axis) - ddof),)


@defjvp(np.var, np.ndarray.var)
def var_jvp(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = _sd.real_only(a, "np.var") - np.mean(a, axis=axis, keepdims=True)
    return (np.sum(2.0 * centered * g, axis=axis, keepdims=keepdims) / (_sd.reduced_count(a, axis) - ddof),)


# std: where the std is 0 the values are all equal (one element, or a constant row); the gradient
# there is 0, the value FD, autograd and PyTorch give for one element (a constant function), and
# a subgradient of the kink for several equal values (not the 0/0 = nan of dividing by the std);
# a constant 0, so that its derivative (the hessian there) is 0 too, as PyTorch's
@defvjp(np.std, np.ndarray.std, kind="custom", torch_name="StdBackward0",
        view=False, full_reduction=True)
def std(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = _sd.real_only(a, "np.std") - np.mean(a, axis=axis, keepdims=True)
    scale = (_sd.reduced_count(a, axis) - ddof) * _sd.keep(ans, a, axis, keepdims)
    return (_sd.unreduce(g, a, axis, keepdims) *
            np.where(scale == 0, 0.0, centered / np.where(scale == 0, 1.0, scale)),)


@defjvp(np.std, np.ndarray.std)
def std_jvp(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = _sd.real_only(a, "np.std") - np.mean(a, axis=axis, keepdims=True)
    scale = (_sd.reduced_count(a, axis) - ddof) * ans
    return (np.where(scale == 0, 0.0, np.sum(centered * g, axis=axis, keepdims=keepdims) /
                     np.where(scale == 0, 1.0, scale)),)


@defvjp(np.cumsum, np.ndarray.cumsum, kind="linear", torch_name="CumsumBackward0", view=False)
def cumsum(g, ans, a, axis=None, dtype=None, out=None):
    return (_sd.cumsum_grad(g, a, axis),)


# cumprod: exact at zeros (as PyTorch), at every order: no division. The gradient at k is the
# product before k (the result shifted) times s[k] = g[k] + a[k + 1] s[k + 1] (runtime.scan, a
# reverse linear recurrence); the tangent is t[j] = a[j] t[j - 1] + (the product before j) da[j]
@defvjp(np.cumprod, np.ndarray.cumprod, kind="custom", torch_name="CumprodBackward0", view=False)
def cumprod(g, ans, a, axis=None, dtype=None, out=None):
    return (np.reshape(_sd.shifted(ans, 1, axis, 1.0) *
                       _sd.scan(g, np.reshape(a, _sd.shape(ans)), axis, True), _sd.shape(a)),)


@defjvp(np.cumprod, np.ndarray.cumprod)
def cumprod_jvp(g, ans, a, axis=None, dtype=None, out=None):
    return (_sd.scan(np.reshape(g * np.ones_like(a), _sd.shape(ans)) * _sd.shifted(ans, 1, axis, 1.0),
                     np.reshape(a, _sd.shape(ans)), axis),)


# (view=None: np.diff(y, 0) is y itself). prepend/append (review36) are joined to a along the
# axis first: their gradients are the ends of the joined array's, summed for a scalar
@defvjp(np.diff, kind="custom", torch_name="SubBackward0", view=True)
def diff(g, ans, a, n=1, axis=-1, prepend=None, append=None):
    return (_sd.diff_part(_sd.diff_grad(g, n, axis), a, axis, prepend, append, 1), None, None,
            _sd.diff_part(_sd.diff_grad(g, n, axis), a, axis, prepend, append, 0),
            _sd.diff_part(_sd.diff_grad(g, n, axis), a, axis, prepend, append, 2))


@defjvp(np.diff)
def diff_jvp(g, ans, a, n=1, axis=-1, prepend=None, append=None):
    return (_sd.diff_tangent(g, a, n, axis, prepend, append, 1), None, None,
            _sd.diff_tangent(g, a, n, axis, prepend, append, 0),
            _sd.diff_tangent(g, a, n, axis, prepend, append, 2))


# norm: 0 where the norm is 0 (PyTorch's subgradient, not nan); ord=inf ties split evenly
@defvjp(np.linalg.norm, kind="custom", torch_name="LinalgVectorNormBackward0", view=False,
        shapes="evaluate")
def norm(g, ans, x, ord=None, axis=None, keepdims=False):
    return (_sd.unreduce(g, x, axis, keepdims) * _sd.norm_weights(x, ans, ord, axis, keepdims),)


@defjvp(np.linalg.norm)
def norm_jvp(g, ans, x, ord=None, axis=None, keepdims=False):
    return (np.sum(g * _sd.norm_weights(x, ans, ord, axis, keepdims), axis=axis, keepdims=keepdims),)


# ---------------------------------------------------------------- linear algebra


# dot, inner and tensordot: one helper call per operand (an operand that needs no gradient, such
# as the data in np.dot(x, w), costs nothing), each one matrix product (runtime.einsum_fast)


@defvjp(np.dot, kind="linear", torch_name="DotBackward0", view=False)
def dot(g, ans, a, b, out=None):
    return (_sd.dot_grad_left(g, _sd.dot_subscripts(a, b), a, b),
            _sd.dot_grad_right(g, _sd.dot_subscripts(a, b), a, b))


@defvjp(np.ndarray.dot, kind="linear", torch_name="DotBackward0", view=False)
def dot_method(g, ans, a, b, out=None):
    return (_sd.dot_grad_left(g, _sd.dot_subscripts(a, b), a, b),
            _sd.dot_grad_right(g, _sd.dot_subscripts(a, b), a, b))


@defvjp(np.inner, kind="linear", torch_name="ViewBackward0", view=False)
def inner(g, ans, a, b):
    return (_sd.dot_grad_left(g, _sd.inner_subscripts(a, b), a, b),
            _sd.dot_grad_right(g, _sd.inner_subscripts(a, b), a, b))


@defvjp(np.outer, kind="linear", torch_name="MulBackward0", view=False)
def outer(g, ans, a, b, out=None):
    return (np.reshape(g @ np.ravel(b), _sd.shape(a)), np.reshape(np.ravel(a) @ g, _sd.shape(b)))


@defvjp(np.vdot, kind="linear", torch_name="VdotBackward0", view=False, full_reduction=True)
def vdot(g, ans, a, b):
    # vdot(a, b) = sum(conj(a) * b)
    return (np.reshape(np.conjugate(g * np.ravel(b)), _sd.shape(a)),
            np.reshape(g * np.conjugate(np.ravel(a)), _sd.shape(b)))


@defvjp(np.tensordot, kind="linear", torch_name="ViewBackward0", view=False)
def tensordot(g, ans, a, b, axes=2):
    return (_sd.dot_grad_left(g, _sd.tensordot_subscripts(a, b, axes), a, b),
            _sd.dot_grad_right(g, _sd.tensordot_subscripts(a, b, axes), a, b))


# einsum: explicit ('ij,jk->ik') and implicit ('ij,jk') forms, repeated indices, and '...' without
# size-1 broadcasting inside the ellipsis. The subscripts string gets None.
@defvjp(np.einsum, kind="linear", torch_name="ViewBackward0", view=True)
def einsum(g, ans, subscripts, *operands, out=None, optimize=False, **kwargs):
    return _sd.einsum_call_grads(g, subscripts, operands)


# cross of 3-vectors along axisa/axisb (result along axisc; axis= sets all three). A 2-vector is
# the 3-vector with a zero z (cross_vec3: its gradient is the first two components), and two
# 2-vectors give the z component alone (cross_cotangent makes g a cotangent of 3-vectors)
@defvjp(np.cross, kind="linear", broadcast=True, torch_name="LinalgCrossBackward0", view=False)
def cross(g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    am = np.moveaxis(a, _sd.cross_axis(axisa, axis), -1)
    bm = np.moveaxis(b, _sd.cross_axis(axisb, axis), -1)
    gm = _sd.cross_cotangent(g, am, bm, _sd.cross_axis(axisc, axis))
    return (np.moveaxis(_sd.unbroadcast(np.cross(_sd.cross_vec3(bm), gm)[..., :np.shape(am)[-1]], am),
                        -1, _sd.cross_axis(axisa, axis)),
            np.moveaxis(_sd.unbroadcast(np.cross(gm, _sd.cross_vec3(am))[..., :np.shape(bm)[-1]], bm),
                        -1, _sd.cross_axis(axisb, axis)))


@defvjp(np.trace, np.ndarray.trace, kind="linear", torch_name="TraceBackward0", view=False)
def trace(g, ans, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    return (_sd.trace_grad(g, a, offset, axis1, axis2),)


@defvjp(np.linalg.inv, kind="custom", torch_name="LinalgInvExBackward0", view=False,
        shapes="evaluate")
def inv(g, ans, a):
    return (-(np.swapaxes(ans, -1, -2) @ g @ np.swapaxes(ans, -1, -2)),)


@defjvp(np.linalg.inv)
def inv_jvp(g, ans, a):
    return (-(ans @ g @ ans),)


# det: the cofactor matrix, det(a) inv(a)^T, also at a singular matrix (runtime.cofactor: its
# cofactors of rank n - 1 are not 0; inv raised LinAlgError there); slogdet: through inv(a), so a
# singular matrix gives inf/nan (log|det| has no derivative there)
@defvjp(np.linalg.det, kind="custom", torch_name="LinalgDetBackward0", view=False,
        shapes="evaluate")
def det(g, ans, a):
    return (np.expand_dims(g, (-2, -1)) * _sd.cofactor(a),)


@defjvp(np.linalg.det)
def det_jvp(g, ans, a):
    return (np.sum(_sd.cofactor(a) * g, axis=(-2, -1)),)


# slogdet returns (sign, logabsdet): g is (g_sign, g_logabsdet); the sign is locally constant and gets
# no gradient, and the jvp gives the tangent pair (zeros, d logabsdet).
@defvjp(np.linalg.slogdet, kind="custom", torch_name="LinalgSlogdetBackward0", view=False)
def slogdet(g, ans, a):
    return (np.expand_dims(g[1], (-2, -1)) *
            np.swapaxes(np.linalg.inv(_sd.real_only(a, "np.linalg.slogdet")), -1, -2),)


@defjvp(np.linalg.slogdet)
def slogdet_jvp(g, ans, a):
    m = _sd.real_only(a, "np.linalg.slogdet")
    return (_sd.named_like([np.zeros_like(ans[0]), np.trace(np.linalg.solve(m, g), axis1=-2, axis2=-1)],
                           ans),)


@defvjp(np.linalg.solve, kind="custom", torch_name="LinalgSolveExBackward0", view=False,
        shapes="evaluate")
def solve(g, ans, a, b):
    return _sd.solve_grads(g, ans, a, b)


@defjvp(np.linalg.solve)
def solve_jvp(g, ans, a, b):
    return (_sd.solve_tangent_a(g, ans, a, b), np.linalg.solve(a, g))


# ---------------------------------------------------------------- shapes, copies and indexing


@defvjp(np.reshape, kind="linear", torch_name="ViewBackward0", view=True)
def reshape(g, ans, a, shape=None, order="C", *, copy=None):
    return (_sd.reshape_grad(g, a, order),)


@defvjp(np.ndarray.reshape, kind="linear", torch_name="ViewBackward0", view=True)
def reshape_method(g, ans, a, *shape, order="C", copy=None):
    return (_sd.reshape_grad(g, a, order),)


@defvjp(np.ravel, kind="linear", torch_name="ViewBackward0", view=True)
def ravel(g, ans, a, order="C"):
    return (_sd.reshape_grad(g, a, order),)


@defvjp(np.ndarray.ravel, kind="linear", torch_name="ViewBackward0", view=True)
@defvjp(np.ndarray.flatten, kind="linear", torch_name="ViewBackward0", view=False)
def ravel_method(g, ans, a, order="C"):
    return (_sd.reshape_grad(g, a, order),)


# (the tangent of a reshape or ravel is read in the order the primal's layout gives 'A' and 'K':
# rerunning the call on the tangent would read the tangent's own layout, which may differ)
@defjvp(np.reshape)
def reshape_jvp(g, ans, a, shape=None, order="C", *, copy=None):
    return (np.reshape(g, np.shape(ans), order=_sd.reshape_order(a, order)),)


@defjvp(np.ndarray.reshape)
def reshape_method_jvp(g, ans, a, *shape, order="C", copy=None):
    return (np.reshape(g, np.shape(ans), order=_sd.reshape_order(a, order)),)


@defjvp(np.ravel, np.ndarray.ravel, np.ndarray.flatten)
def ravel_jvp(g, ans, a, order="C"):
    return (_sd.ravel_tangent(g, a, order),)


@defvjp(np.expand_dims, kind="linear", torch_name="UnsqueezeBackward0", view=True)
def expand_dims(g, ans, a, axis):
    return (np.reshape(g, _sd.shape(a)),)


@defvjp(np.squeeze, np.ndarray.squeeze, kind="linear", torch_name="SqueezeBackward0", view=True)
def squeeze(g, ans, a, axis=None):
    return (np.reshape(g, _sd.shape(a)),)


# atleast_1d/2d/3d of one array (several arrays give a list that a per-argument jvp cannot express)
@defvjp(np.atleast_1d, np.atleast_2d, np.atleast_3d, kind="linear", torch_name="ViewBackward0",
        view=True)
def atleast_nd(g, ans, a):
    return (np.reshape(g, _sd.shape(a)),)


@defvjp(np.ndarray.T, kind="linear", torch_name="PermuteBackward0", view=True)
def transpose_attribute(g, ans, a):
    return (np.transpose(g),)


@defvjp(*present(np.ndarray, "mT"), kind="linear", torch_name="TransposeBackward0", view=True)
def matrix_transpose_attribute(g, ans, a):
    return (np.swapaxes(g, -1, -2),)


@defvjp(np.ndarray.real, kind="linear", view=True)
def real_attribute(g, ans, a):
    return (np.real(g),)


@defvjp(np.ndarray.imag, kind="linear", view=True)
def imag_attribute(g, ans, a):
    return (-1j * np.real(g),)


@defvjp(np.transpose, kind="linear", torch_name="PermuteBackward0", view=True)
def transpose(g, ans, a, axes=None):
    return (np.transpose(g, _sd.inverse_axes(axes, np.ndim(a))),)


@defvjp(np.ndarray.transpose, kind="linear", torch_name="PermuteBackward0", view=True)
def transpose_method(g, ans, a, *axes):
    return (np.transpose(g, _sd.inverse_axes(axes, np.ndim(a))),)


@defvjp(np.swapaxes, np.ndarray.swapaxes, kind="linear", torch_name="TransposeBackward0", view=True)
def swapaxes(g, ans, a, axis1, axis2):
    return (np.swapaxes(g, axis1, axis2),)


@defvjp(np.moveaxis, kind="linear", torch_name="PermuteBackward0", view=True)
def moveaxis(g, ans, a, source, destination):
    return (np.moveaxis(g, destination, source),)


@defvjp(np.broadcast_to, kind="linear", torch_name="ExpandBackward0", view=True)
def broadcast_to(g, ans, array, shape, subok=False):
    return (_sd.unbroadcast(g, array),)


@defvjp(np.tile, kind="linear", torch_name="RepeatBackward0", view=False)
def tile(g, ans, A, reps):
    return (_sd.tile_grad(g, A, reps),)


@defvjp(np.repeat, np.ndarray.repeat, kind="linear", torch_name="ViewBackward0", view=False)
def repeat(g, ans, a, repeats, axis=None):
    return (_sd.repeat_grad(g, a, repeats, axis),)


@defvjp(np.flip, kind="linear", torch_name="FlipBackward0", view=True)
def flip(g, ans, m, axis=None):
    return (np.flip(g, axis),)


@defvjp(np.fliplr, kind="linear", torch_name="FlipBackward0", view=True)
def fliplr(g, ans, m):
    return (np.fliplr(g),)


@defvjp(np.flipud, kind="linear", torch_name="FlipBackward0", view=True)
def flipud(g, ans, m):
    return (np.flipud(g),)


@defvjp(np.roll, kind="linear", torch_name="RollBackward0", view=False)
def roll(g, ans, a, shift, axis=None):
    return (np.roll(g, np.negative(shift), axis),)


@defvjp(np.diag, kind="linear", torch_name="DiagEmbedBackward0", view=True)
def diag(g, ans, v, k=0):
    return (_sd.diag_grad(g, v, k),)


@defvjp(np.diagonal, np.ndarray.diagonal, kind="linear", torch_name="DiagonalBackward0", view=True)
def diagonal(g, ans, a, offset=0, axis1=0, axis2=1):
    return (_sd.diagonal_grad(g, a, offset, axis1, axis2),)


@defvjp(np.triu, kind="linear", torch_name="TriuBackward0", view=False)
def triu(g, ans, m, k=0):
    return (np.triu(g, k),)


@defvjp(np.tril, kind="linear", torch_name="TrilBackward0", view=False)
def tril(g, ans, m, k=0):
    return (np.tril(g, k),)


# pad: the modes that copy entries (constant, edge, wrap, reflect, symmetric); custom because
# constant_values make it affine, not linear, in `array`
@defvjp(np.pad, kind="custom", torch_name="ConstantPadNdBackward0", view=False)
def pad(g, ans, array, pad_width, mode="constant", **kwargs):
    return (_sd.pad_grad(g, array, pad_width, mode, kwargs), None)


# (the tangent padded as the array is where that is linear: reflect_type and stat_length kept,
# constant and end values left out; 'maximum', 'minimum', 'median' refused, as in reverse mode)
@defjvp(np.pad)
def pad_jvp(g, ans, array, pad_width, mode="constant", **kwargs):
    return (_sd.pad_tangent(g, pad_width, mode, kwargs), None)


@defvjp(np.concatenate, kind="linear", torch_name="CatBackward0", view=False)
def concatenate(g, ans, arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    return (_sd.concat_grads(g, arrays, axis),)


@defvjp(np.stack, kind="linear", torch_name="StackBackward0", view=False)
def stack(g, ans, arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    return (_sd.unstack_grads(g, arrays, axis),)


@defvjp(np.hstack, kind="linear", torch_name="CatBackward0", view=False)
def hstack(g, ans, tup, dtype=None, casting="same_kind"):
    promoted = _sd.map_list(np.atleast_1d, tup)
    return (_sd.concat_grads(g, tup, _sd.hstack_axis(promoted), promoted),)


@defvjp(np.vstack, kind="linear", torch_name="CatBackward0", view=False)
def vstack(g, ans, tup, dtype=None, casting="same_kind"):
    return (_sd.concat_grads(g, tup, 0, _sd.map_list(np.atleast_2d, tup)),)


@defvjp(np.dstack, kind="linear", torch_name="CatBackward0", view=False)
def dstack(g, ans, tup):
    return (_sd.concat_grads(g, tup, 2, _sd.map_list(np.atleast_3d, tup)),)


@defvjp(np.column_stack, kind="linear", torch_name="CatBackward0", view=False)
def column_stack(g, ans, tup):
    return (_sd.concat_grads(g, tup, 1, _sd.map_list(_sd.as_column, tup)),)


# split family: g is a list with one gradient (or None) per piece
@defvjp(np.split, np.array_split, kind="linear", torch_name="SplitBackward0", view=True)
def split(g, ans, ary, indices_or_sections, axis=0):
    return (_sd.split_grad(g, ans, axis), None)


@defvjp(np.hsplit, kind="linear", torch_name="SplitBackward0", view=True)
def hsplit(g, ans, ary, indices_or_sections):
    return (_sd.split_grad(g, ans, 1 if np.ndim(ary) > 1 else 0), None)


@defvjp(np.vsplit, kind="linear", torch_name="SplitBackward0", view=True)
def vsplit(g, ans, ary, indices_or_sections):
    return (_sd.split_grad(g, ans, 0), None)


@defvjp(np.copy, kind="linear", torch_name="CloneBackward0", view=False)
def copy(g, ans, a, order="K", subok=False):
    return (g,)


@defvjp(np.ndarray.copy, kind="linear", torch_name="CloneBackward0", view=False)
def copy_method(g, ans, a, order="C"):
    return (g,)


# tuple(items): the items' gradients, entry by entry (list(...), map(...): comprehensions by then)
@defvjp(builtins.tuple, kind="custom")
def python_tuple(g, ans, iterable=()):
    return (_sd.sequence_grad(g, iterable),)


@defjvp(builtins.tuple)
def python_tuple_jvp(t, ans, iterable=()):
    return (_sd.sequence_tangent(t, iterable),)


# Python's copy module: a copy (of an array, or of a list, tuple or dict of them) passes its
# gradient through, entry by entry
# (view=None: a shallow copy of a list holds the same arrays)
@defvjp(_copy.copy, kind="linear", view=None)
def python_copy(g, ans, x):
    return (g,)


@defvjp(_copy.deepcopy, kind="linear")
def python_deepcopy(g, ans, x, memo=None, _nil=None):
    return (g, None, None)


# asarray/array of a list of numbers or arrays: the gradient is a list shaped like the input
@defvjp(np.asarray, kind="linear", view=True)
def asarray(g, ans, a, dtype=None, order=None, *, device=None, copy=None, like=None):
    return (_sd.like_input(g, a),)


@defvjp(np.array, kind="linear", torch_name="CloneBackward0", view=False)
def array(g, ans, object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, **kwargs):
    return (_sd.like_input(np.reshape(g, _sd.shape(object)), object),)


# astype: the gradient is cast back to the input's dtype
@defvjp(np.ndarray.astype, kind="linear", torch_name="ToCopyBackward0", view=False)
def astype(g, ans, a, dtype, order="K", casting="unsafe", subok=True, copy=True):
    return (np.asarray(g, dtype=a.dtype),)


# sort: ties keep numpy's stable order (each tied element gets the gradient of its own slot)
@defvjp(np.sort, kind="custom", torch_name="SortBackward0", view=False)
def sort(g, ans, a, axis=-1, kind=None, order=None, *, stable=None):
    return (_sd.unsort(g, a, axis),)


@defjvp(np.sort)
def sort_jvp(g, ans, a, axis=-1, kind=None, order=None, *, stable=None):
    return (_sd.take_sorted(g, a, axis),)


@defvjp(np.take, kind="linear", torch_name="TakeBackward0", view=False)
def take(g, ans, a, indices, axis=None, out=None, mode="raise"):
    return (_sd.take_grad(g, a, indices, axis, mode), None)


# getitem: basic indices write g into zeros; integer arrays and masks accumulate repeats (np.add.at);
# on a list or tuple the gradient is a list with 0.0 for the entries not taken.
@defvjp(operator.getitem, np.ndarray.__getitem__, kind="linear", torch_name="IndexBackward0",
        view=True)
def getitem(g, ans, a, index):
    return (_sd.scatter_basic(g, a, index), None)


# ---------------------------------------------------------------- runtime helpers
# Generated gradient code calls these helpers; their rules make that code differentiable again
# (grad of grad). The first two parameters are named b/out because the helpers' own first
# parameter is already called g.


@defvjp(_sd.unbroadcast, kind="linear", passes_zero=True)
def unbroadcast_helper(b, out, g, x):
    return (_sd.rebroadcast(b, g), None)


@defvjp(_sd.broadcast_tangent, kind="linear", passes_zero=True)
def broadcast_tangent_helper(b, out, t, ans):
    return (_sd.rebroadcast(b, t), None)


@defvjp(_sd.unreduce, kind="linear", passes_zero=True)
def unreduce_helper(b, out, g, x, axis=None, keepdims=False):
    # (summed to g's own shape: g may be the symbolic zero 0.0, which unreduce broadcasts whole)
    return (_sd.unbroadcast(np.sum(b, axis=axis, keepdims=keepdims), g), None)


@defvjp(_sd.keep, kind="linear")
def keep_helper(b, out, ans, x, axis=None, keepdims=False):
    return (np.reshape(b, _sd.shape(ans)), None)


# The dot family's helpers are linear in g and in the other operand (a's gradient does not depend on
# a's values), like matmul_grad_left/right; contract is the product itself.
@defvjp(_sd.dot_grad_left, kind="linear", passes_zero=True)
def dot_grad_left_helper(b, out, g, subscripts, x, y):
    return (_sd.contract(subscripts, b, y), None, None, _sd.dot_grad_right(g, subscripts, b, y))


@defvjp(_sd.dot_grad_right, kind="linear", passes_zero=True)
def dot_grad_right_helper(b, out, g, subscripts, x, y):
    return (_sd.contract(subscripts, x, b), None, _sd.dot_grad_left(g, subscripts, x, b), None)


@defvjp(_sd.contract, kind="linear")
def contract_helper(b, out, subscripts, x, y):
    return (None, _sd.dot_grad_left(b, subscripts, x, y), _sd.dot_grad_right(b, subscripts, x, y))


@defvjp(_sd.matmul_grad_left, kind="linear", passes_zero=True)
def matmul_grad_left_helper(b, out, g, x, y):
    return (np.matmul(b, y), None, _sd.matmul_grad_right(g, b, y))


@defvjp(_sd.matmul_grad_right, kind="linear", passes_zero=True)
def matmul_grad_right_helper(b, out, g, x, y):
    return (np.matmul(x, b), _sd.matmul_grad_left(g, x, b), None)


@defvjp(_sd.scatter, _sd.scatter_basic, kind="linear", torch_name="IndexBackward0",
        passes_zero=True)
def scatter_helper(b, out, g, a, index):
    return (_sd.scattered_item(b, index), None, None)


@defvjp(_sd.cumsum_grad, kind="linear", torch_name="CumsumBackward0")
def cumsum_grad_helper(b, out, g, a, axis=None):
    return (np.reshape(np.cumsum(b, axis=axis), _sd.shape(g)), None)
