"""Each family of rules exercised through the compiler, written as a user writes numpy code.

Elementwise functions, math-module scalars, reductions with axis/keepdims, linear algebra, shape and
copy functions, ndarray methods and attributes, indexing reads and broadcasting between arguments.
Every function returns a scalar; inputs lie inside each function's domain, away from kinks and ties.
"""

import math

import numpy as np

from . import case, normal


def uniform(lo, hi, *shape):
    """An args-maker: a 1-tuple of a uniform array on (lo, hi) (or a float for shape ())."""
    def make(rng):
        return (rng.uniform(lo, hi, size=shape) if shape else float(rng.uniform(lo, hi)),)

    return make


def normals(*shapes):
    """An args-maker: one standard normal array per shape (a float for shape ())."""
    def make(rng):
        return tuple(rng.normal(size=s) if s != () else float(rng.normal()) for s in shapes)

    return make


def away_from_zero(*shape):
    """Normal entries pushed away from 0 (for abs, cbrt, sign-dependent rules)."""
    def make(rng):
        x = rng.normal(size=shape)
        return (x + 0.3 * np.sign(x),)

    return make


def well_conditioned(n, *more):
    """An n x n matrix near 3*I, followed by normal arrays of the shapes in ``more``."""
    def make(rng):
        a = rng.normal(size=(n, n)) + 3.0 * np.eye(n)
        return (a,) + tuple(rng.normal(size=s) for s in more)

    return make


W4 = np.linspace(0.5, 2.0, 4)  # a module-level constant used as weights


# ---------------------------------------------------------------------- elementwise


@case(args=normal(6), tags=("elementwise",))
def trig(x):
    return np.sum(np.sin(x) * np.cos(2.0 * x) + 0.1 * np.tan(0.5 * x))


@case(args=uniform(-0.8, 0.8, 6), tags=("elementwise",))
def inverse_trig(x):
    return np.sum(np.arcsin(x) + 2.0 * np.arccos(x) * x + np.arctan(3.0 * x))


@case(args=normal(5), tags=("elementwise",))
def hyperbolic(x):
    return np.sum(np.sinh(x) - np.cosh(0.5 * x) + np.tanh(x) ** 2)


@case(args=normal(5), tags=("elementwise",))
def inverse_hyperbolic(x):
    return np.sum(np.arcsinh(x) + np.arccosh(2.0 + x * x) + np.arctanh(0.5 * np.tanh(x)))


@case(args=normal(5), tags=("elementwise",))
def exponentials(x):
    return np.sum(np.exp(x) + np.exp2(0.5 * x) - np.expm1(-x))


@case(args=uniform(0.2, 3.0, 6), tags=("elementwise",))
def logarithms(x):
    return np.sum(np.log(x) + np.log2(x + 1.0) * np.log10(3.0 * x) + np.log1p(x))


@case(args=uniform(0.2, 3.0, 5), tags=("elementwise",))
def roots(x):
    return np.sum(np.sqrt(x) * np.cbrt(x + 0.5))


@case(args=away_from_zero(7), tags=("elementwise",))
def cbrt_both_signs(x):
    return np.sum(np.cbrt(x) * x)


@case(args=normal(5), tags=("elementwise",))
def square_and_reciprocal(x):
    return np.sum(np.square(x) + np.reciprocal(2.0 + x * x))


@case(args=away_from_zero(6), tags=("elementwise",))
def absolute_values(x):
    return np.sum(np.abs(x) * x + np.absolute(x - 0.05) + abs(x) ** 1.5 + np.fabs(3.0 * x))


@case(args=lambda rng: (rng.uniform(0.5, 2.0, size=5), rng.normal(size=5)), wrt=(0, 1),
      tags=("elementwise",))
def power_both_active(x, p):
    return np.sum(np.power(x, p) + x ** (0.5 * p))


@case(args=normal(5), tags=("elementwise",))
def power_integer_exponents(x):
    return np.sum(np.power(x, 3) - x ** 2 + 1.0 / (1.0 + x ** 2))


@case(args=lambda rng: (float(rng.uniform(0.5, 2.0)), rng.normal(size=4)), wrt=(0, 1),
      tags=("elementwise", "float"))
def scalar_base_array_exponent(a, x):
    return np.sum(a ** x)


@case(args=normals(6, 6), wrt=(0, 1), tags=("elementwise",))
def maximum_minimum(x, y):
    return np.sum(np.maximum(x, y) * 2.0 + np.minimum(x, y) ** 2)


@case(args=normals(6, 6), wrt=(0, 1), tags=("elementwise",))
def fmax_fmin(x, y):
    return np.sum(np.fmax(x, y) ** 2 - np.fmin(x, 0.5 * y))


@case(args=normal(8), tags=("elementwise", "branch"))
def where_on_sign(x):
    return np.sum(np.where(x > 0, x ** 2, np.sin(x)))


@case(args=normals(8, 8), wrt=(0, 1), tags=("elementwise",))
def where_two_arguments(x, y):
    return np.sum(np.where(y > x, x * y, x - y))


@case(args=normals(6), tags=("elementwise",))
def where_with_scalar(x):
    return np.sum(np.where(x > 0.0, x, 0.0) ** 2)


@case(args=normal(8), tags=("elementwise",))
def clip_function(x):
    return np.sum(np.clip(x, -0.5, 0.7) * x)


@case(args=lambda rng: (rng.normal(size=8), rng.uniform(0.5, 1.0, size=8)), wrt=(0, 1),
      tags=("elementwise",))
def clip_array_bounds(x, hi):
    return np.sum(np.clip(x * 2.0, -hi, hi) ** 2)


@case(args=normals(6, 6), wrt=(0, 1), tags=("elementwise",))
def arctan2_hypot(y, x):
    return np.sum(np.arctan2(y, x) + np.hypot(x, y))


@case(args=normals(6, 6), wrt=(0, 1), tags=("elementwise",))
def logaddexp_pair(a, b):
    return np.sum(np.logaddexp(a, b) - 0.5 * np.logaddexp2(a, 2.0 * b))


@case(args=normal(7), tags=("elementwise",))
def sinc_values(x):
    return np.sum(np.sinc(x + 0.1) ** 2)


@case(args=normals(5, 5), wrt=(0, 1), tags=("elementwise",))
def ufunc_spelling(x, y):
    s = np.add(x, y)
    d = np.subtract(x, 2.0 * y)
    m = np.multiply(s, d)
    q = np.divide(m, 1.0 + y * y)
    return np.sum(np.negative(q) + np.positive(x))


@case(args=normal(5), tags=("elementwise",))
def operators_mixed(x):
    y = -x + 2.0 * x - x / 3.0
    return np.sum(+y * (1.0 - y) / (2.0 + y * y))


@case(args=normal(5), tags=("elementwise",))
def degrees_radians(x):
    return np.sum(np.sin(np.deg2rad(np.rad2deg(x) * 2.0)) + np.radians(np.degrees(x)) ** 2)


@case(args=normal(5), tags=("elementwise", "nondiff"))
def nondiff_inside(x):
    k = np.floor(x * 0.0) + np.sign(x) * 0.0
    return np.sum(x * x + k) + np.sum(np.zeros_like(x)) + float(np.argmax(x)) * 0.0


# ---------------------------------------------------------------------- math module on floats


@case(args=uniform(0.2, 0.8), tags=("math", "float"))
def math_trig(x):
    return math.sin(x) * math.cos(x) + math.tan(x) + math.asin(x) + math.acos(x) + math.atan(x)


@case(args=uniform(0.2, 0.8), tags=("math", "float"))
def math_exp_log(x):
    return math.exp(x) + math.log(x) + math.log2(x + 1.0) + math.log10(x) + math.log1p(x) \
        + math.expm1(x) + math.sqrt(x)


@case(args=uniform(0.2, 0.8), tags=("math", "float"))
def math_hyperbolic(x):
    return math.sinh(x) + math.cosh(x) * math.tanh(x) + math.asinh(x) + math.acosh(1.0 + x) \
        + math.atanh(x)


@case(args=lambda rng: (float(rng.uniform(0.5, 2.0)), float(rng.uniform(0.5, 2.0))), wrt=(0, 1),
      tags=("math", "float"))
def math_two_args(x, y):
    return math.pow(x, y) + math.atan2(y, x) + math.hypot(x, y) + x ** y + pow(y, 1.5)


@case(args=uniform(0.2, 0.8), tags=("math", "float"))
def math_misc(x):
    return abs(x - 1.0) + math.fabs(x) + math.erf(x) + math.erfc(x) * 2.0 + math.radians(x) \
        + math.degrees(x) * 0.01


@case(args=lambda rng: (float(rng.uniform(0.2, 0.8)), rng.normal(size=4)), wrt=(0, 1),
      tags=("math", "float"))
def float_scales_array(a, x):
    return math.exp(a) * np.sum(np.sin(a * x))


# ---------------------------------------------------------------------- reductions


@case(args=normal(3, 4), tags=("reduce",))
def sum_axes(x):
    return np.sum(np.sum(x, axis=0) * W4) + np.sum(np.sum(x, axis=1) ** 2) \
        + np.sum(np.sum(x, axis=1, keepdims=True) * x)


@case(args=normal(2, 3, 4), tags=("reduce",))
def sum_tuple_axis(x):
    return np.sum(np.sum(x, axis=(0, 2)) ** 2) + np.sum(np.sum(x, axis=-1) ** 3)


@case(args=normal(3, 4), tags=("reduce",))
def mean_axes(x):
    return np.mean(x) + np.sum(np.mean(x, axis=0) ** 2) + np.sum(np.mean(x, axis=1, keepdims=True)
                                                                   * x)


@case(args=uniform(0.5, 1.5, 3, 4), tags=("reduce",))
def prod_axes(x):
    return np.prod(x) + np.sum(np.prod(x, axis=0)) + np.sum(np.prod(x, axis=1, keepdims=True) * x)


@case(args=normal(3, 5), tags=("reduce",))
def max_min_axes(x):
    return np.max(x) - np.min(x) + np.sum(np.max(x, axis=0) ** 2) \
        + np.sum(np.min(x, axis=1, keepdims=True) * x)


@case(args=normal(4, 3), tags=("reduce",))
def amax_amin(x):
    return np.sum(np.amax(x, axis=1) * np.amin(x, axis=1)) + np.amax(x)


@case(args=normal(4, 5), tags=("reduce",))
def var_std(x):
    return np.var(x) + np.sum(np.std(x, axis=0)) + np.sum(np.var(x, axis=1, keepdims=True) * x) \
        + np.std(x, ddof=1)


@case(args=normal(3, 4), tags=("reduce",))
def cumsum_axes(x):
    return np.sum(np.cumsum(x) ** 2) + np.sum(np.cumsum(x, axis=1) * x) + \
        np.sum(np.sin(np.cumsum(x, axis=0)))


@case(args=uniform(0.5, 1.5, 3, 4), tags=("reduce",))
def cumprod_axes(x):
    return np.sum(np.cumprod(x)) + np.sum(np.cumprod(x, axis=1) ** 2)


@case(args=normal(3, 4), tags=("reduce",))
def norms(x):
    return np.linalg.norm(x) + np.sum(np.linalg.norm(x, axis=1)) + \
        np.sum(np.linalg.norm(x, axis=0, keepdims=True) * x)


@case(args=normal(6), tags=("reduce",))
def vector_norm_orders(x):
    return np.linalg.norm(x, 2) + np.linalg.norm(x, ord=1) * 0.5


@case(args=normal(5), tags=("reduce",))
def builtin_sum_of_array(x):
    return sum(x * x)


@case(args=normal(4, 3), tags=("reduce",))
def negative_axis_keepdims(x):
    z = x - np.max(x, axis=-1, keepdims=True)
    return np.sum(np.exp(z) / np.sum(np.exp(z), axis=-1, keepdims=True) * x)


# ---------------------------------------------------------------------- linear algebra


@case(args=normals((3, 4), (4,)), wrt=(0, 1), tags=("linalg",))
def dot_matrix_vector(a, v):
    return np.sum(np.dot(a, v) ** 2)


@case(args=normals((5,), (5,)), wrt=(0, 1), tags=("linalg",))
def dot_vectors(u, v):
    return np.dot(u, v) + np.inner(u, 2.0 * v) + np.vdot(u, u)


@case(args=normals((3, 4), (4, 2)), wrt=(0, 1), tags=("linalg",))
def matmul_function_and_operator(a, b):
    return np.sum(np.tanh(np.matmul(a, b))) + np.sum((a @ b) ** 2)


@case(args=normals((2, 3, 4), (4, 5)), wrt=(0, 1), tags=("linalg", "broadcast"))
def matmul_batched_broadcast(a, b):
    return np.sum(np.sin(a @ b))


@case(args=normals((4,), (3, 4)), wrt=(0, 1), tags=("linalg",))
def matmul_vector_matrix(v, a):
    return np.sum((a @ v) ** 2) + np.sum(v @ a.T)


@case(args=normals((3,), (4,)), wrt=(0, 1), tags=("linalg",))
def outer_product(u, v):
    return np.sum(np.outer(u, v) ** 2 * np.outer(u, W4))


@case(args=normals((3, 4), (4, 5)), wrt=(0, 1), tags=("linalg",))
def inner_matrices(a, b):
    return np.sum(np.inner(a, b.T) ** 2)


@case(args=normals((3, 4), (4, 5)), wrt=(0, 1), tags=("linalg",))
def einsum_matrix_product(a, b):
    return np.sum(np.einsum("ij,jk->ik", a, b) ** 2)


@case(args=normal(3, 4), tags=("linalg",))
def einsum_transpose(a):
    return np.sum(np.einsum("ij->ji", a) * np.arange(12.0).reshape(4, 3))


@case(args=normal(3, 3), tags=("linalg",))
def einsum_trace(a):
    return np.einsum("ii->", a) * np.einsum("ii", a)


@case(args=normals((3, 4), (4, 5), (5,)), wrt=(0, 1, 2), tags=("linalg",))
def einsum_three_operands(a, b, c):
    return np.einsum("ij,jk,k->", a, b, c)


@case(args=normals((2, 3, 4), (2, 4, 3)), wrt=(0, 1), tags=("linalg",))
def einsum_batched(a, b):
    return np.sum(np.einsum("bij,bjk->bik", a, b) ** 2) + np.einsum("bii->", a @ b)


@case(args=normal(4, 4), tags=("linalg",))
def trace_of_products(a):
    return np.trace(a @ a) + np.trace(a, offset=1) + a.trace()


@case(args=normals((2, 3, 4), (4, 3, 5)), wrt=(0, 1), tags=("linalg",))
def tensordot_axes(a, b):
    return np.sum(np.tensordot(a, b, axes=([1, 2], [1, 0])) ** 2) + \
        np.sum(np.tensordot(a[0], b[:, :, 0], axes=1))


@case(args=well_conditioned(3), tags=("linalg",))
def inverse_matrix(a):
    return np.sum(np.linalg.inv(a) * np.arange(9.0).reshape(3, 3))


@case(args=well_conditioned(3), tags=("linalg",))
def determinants(a):
    sign, logdet = np.linalg.slogdet(a)
    return np.linalg.det(a) + sign * logdet


@case(args=well_conditioned(3, (3,)), wrt=(0, 1), tags=("linalg",))
def solve_vector(a, b):
    return np.sum(np.linalg.solve(a, b) ** 2)


@case(args=well_conditioned(3, (3, 2)), wrt=(0, 1), tags=("linalg",))
def solve_matrix(a, b):
    x = np.linalg.solve(a, b)
    return np.sum(np.sin(x))


@case(args=normals((3, 4), (4,)), wrt=(0, 1), tags=("linalg", "method"))
def dot_method(a, v):
    return np.sum(a.dot(v) ** 2) + v.dot(v)


# ---------------------------------------------------------------------- shapes and copies


@case(args=normal(12), tags=("shape",))
def reshape_forms(x):
    a = np.reshape(x, (3, 4))
    b = x.reshape(3, 4)
    c = x.reshape((2, -1))
    return np.sum(a * W4) + np.sum(b[1] ** 2) + np.sum(c[:, 0] * c[:, 1])


@case(args=normal(2, 3, 4), tags=("shape",))
def transposes(x):
    t = np.transpose(x, (2, 0, 1))
    s = np.swapaxes(x, 0, 2)
    m = np.moveaxis(x, 0, -1)
    return np.sum(t[0] ** 2) + np.sum(s[1] * s[2]) + np.sum(m[..., 0] * m[..., 1])


@case(args=normal(3, 4), tags=("shape",))
def transpose_default(x):
    return np.sum(np.transpose(x) @ x)


@case(args=normal(4), tags=("shape",))
def expand_and_squeeze(x):
    col = np.expand_dims(x, 1)
    row = np.expand_dims(x, axis=0)
    back = np.squeeze(col * row[:, :1], axis=1)
    return np.sum(col * row ** 2) + np.sum(np.squeeze(row) * back)


@case(args=normal(3, 4), tags=("shape",))
def ravel_flatten(x):
    return np.sum(np.ravel(x) * np.arange(12.0)) + np.sum(x.ravel() ** 2) + \
        np.sum(x.flatten()[::3])


@case(args=normals((2, 3), (4, 3)), wrt=(0, 1), tags=("shape",))
def concatenate_axis0(a, b):
    c = np.concatenate([a, b])
    return np.sum(c ** 2 * np.arange(6.0)[:, None])


@case(args=normals((3, 2), (3, 4)), wrt=(0, 1), tags=("shape",))
def concatenate_axis1(a, b):
    c = np.concatenate((a, 2.0 * b), axis=1)
    return np.sum(np.sin(c) * np.arange(6.0))


@case(args=normals((3,), (3,)), wrt=(0, 1), tags=("shape",))
def stack_forms(u, v):
    s0 = np.stack([u, v])
    s1 = np.stack((u, v * v), axis=1)
    return np.sum(s0 ** 2 * np.arange(3.0)) + np.sum(s1 * np.array([1.0, -2.0]))


@case(args=normals((2, 3), (2, 3)), wrt=(0, 1), tags=("shape",))
def hstack_vstack(a, b):
    h = np.hstack([a, b])
    v = np.vstack((a, b ** 2))
    return np.sum(h * np.arange(6.0)) + np.sum(v * np.arange(4.0)[:, None])


@case(args=normal(6, 2), tags=("shape",))
def split_three(x):
    a, b, c = np.split(x, 3)
    return np.sum(a * b) + np.sum(c ** 3)


@case(args=normal(2, 6), tags=("shape",))
def split_axis_sections(x):
    parts = np.split(x, [2, 5], axis=1)
    return np.sum(parts[0] ** 2) + np.sum(parts[1]) * np.sum(parts[2])


@case(args=normal(3), tags=("shape", "broadcast"))
def broadcast_to_matrix(x):
    return np.sum(np.broadcast_to(x, (4, 3)) * np.arange(12.0).reshape(4, 3))


@case(args=normal(2, 3), tags=("shape",))
def tile_and_repeat(x):
    t = np.tile(x, (2, 2))
    r = np.repeat(x, 3, axis=1)
    f = np.repeat(x, 2)
    return np.sum(t * np.arange(24.0).reshape(4, 6)) + np.sum(r ** 2) + np.sum(f[::2] * f[1::2])


@case(args=normal(3, 4), tags=("shape",))
def flips_and_rolls(x):
    a = np.flip(x, axis=1)
    b = np.flip(x)
    c = np.roll(x, 1, axis=0)
    d = np.roll(x, -2)
    return np.sum(a * W4) + np.sum(b * x) + np.sum(c * x * x) + np.sum(d * np.arange(12.0)
                                                                         .reshape(3, 4))


@case(args=normals((4,), (4, 4)), wrt=(0, 1), tags=("shape",))
def diag_both_ways(v, a):
    return np.sum(np.diag(v) @ a) + np.sum(np.diag(a) ** 2) + np.sum(np.diag(a, k=1))


@case(args=normal(4, 4), tags=("shape",))
def triangles(a):
    return np.sum(np.triu(a) ** 2) + np.sum(np.tril(a, -1) * a) + np.sum(np.triu(a, k=1) @ a)


@case(args=normal(3, 2), tags=("shape",))
def pad_constant(x):
    p = np.pad(x, ((1, 1), (2, 0)))
    q = np.pad(x, 1, mode="constant", constant_values=0.0)
    return np.sum(p * np.arange(20.0).reshape(5, 4)) + np.sum(q ** 2)


@case(args=normal(4), tags=("shape",))
def copies_and_arrays(x):
    a = np.copy(x)
    b = x.copy()
    c = np.asarray(x)
    d = np.array(x)
    e = np.array([x[0], x[1] * 2.0, 3.0])
    return np.sum(a * b) + np.sum(c * d * x) + np.sum(e ** 2)


@case(args=normal(3, 4), tags=("shape", "method"))
def astype_float(x):
    return np.sum(x.astype(float) ** 2) + np.sum(x.astype(np.float64) * x)


# ---------------------------------------------------------------------- ndarray methods and attributes


@case(args=normal(3, 4), tags=("method",))
def method_reductions(x):
    return np.sum(x.sum(axis=0) ** 2) + x.mean() + x.max() - x.min() + \
        np.sum(x.mean(axis=1, keepdims=True) * x)


@case(args=uniform(0.5, 1.5, 3, 4), tags=("method",))
def method_prod_var_std(x):
    return x.prod() + np.sum(x.var(axis=0)) + x.std() + np.sum(x.cumsum(axis=1) * x) + \
        np.sum(x.cumprod())


@case(args=normal(12), tags=("method",))
def method_reshape_transpose(x):
    m = x.reshape(3, 4)
    return np.sum(m.T @ m) + np.sum(m.transpose() * m.T) + np.sum(m.swapaxes(0, 1)[0] ** 2)


@case(args=normal(3, 4), tags=("method",))
def method_clip(x):
    return np.sum(x.clip(-0.5, 0.5) * x) + np.sum(x.clip(min=0.1) ** 2)


@case(args=normal(3, 4), tags=("method",))
def method_max_axis(x):
    return np.sum(x.max(axis=1) * np.arange(3.0)) + np.sum(x.min(axis=0) ** 2)


@case(args=normal(1, 4, 1), tags=("method",))
def method_squeeze_ravel(x):
    return np.sum(x.squeeze() * W4) + np.sum(x.ravel() ** 2)


@case(args=normal(4, 4), tags=("method",))
def method_diagonal_T(x):
    return np.sum(x.diagonal() ** 2) + np.sum(x.T * x)


if hasattr(np.ndarray, "mT"):  # new in numpy 2.0

    @case(args=normal(2, 4, 4), tags=("method",))
    def method_diagonal_mT(x):
        return np.sum(x.diagonal(axis1=-2, axis2=-1) ** 2) + np.sum(x.mT * x)


@case(args=normal(3, 4), tags=("method",))
def shape_attributes_are_inactive(x):
    n, m = x.shape
    return np.sum(x ** 2) / (n * m) + np.sum(x) / x.size + x.ndim * np.mean(x)


# ---------------------------------------------------------------------- indexing reads


@case(args=normal(5, 4), tags=("index",))
def index_ints(x):
    return x[0, 0] * x[1, 2] + x[-1, -1] ** 2 + np.sum(x[2] * x[3])


@case(args=normal(6, 5), tags=("index",))
def index_slices_and_steps(x):
    return np.sum(x[1:, ::2] ** 2) + np.sum(x[:3, 1:4] * x[3:, :3]) + np.sum(x[::-1, -1] * W4[0])


@case(args=normal(2, 3, 4), tags=("index",))
def index_ellipsis_and_none(x):
    a = x[..., 1]
    b = x[0, ...]
    c = x[:, None, 2]
    return np.sum(a ** 2) + np.sum(b * x[1]) + np.sum(c * c[..., ::-1])


@case(args=normal(6), tags=("index",))
def index_none_outer(x):
    return np.sum(x[:, None] * x[None, :] * np.arange(6.0))


@case(args=normal(6, 3), tags=("index",))
def index_integer_array(x):
    idx = np.array([0, 2, 2, 5])
    rows = x[idx]
    picked = x[idx, np.array([0, 1, 2, 0])]
    return np.sum(rows ** 2) + np.sum(picked * np.arange(4.0)) + np.sum(x[[1, 3]])


@case(args=normal(8), tags=("index",))
def index_boolean_mask(x):
    pos = x[x > 0]
    return np.sum(pos ** 2) + np.sum(x[np.abs(x) < 1.0] * 3.0)


@case(args=lambda rng: (rng.normal(size=(5, 4)), rng.normal(size=5) > 0), tags=("index",))
def index_mask_argument(x, keep):
    return np.sum(x[keep] ** 2) + np.sum(x[keep, 1:] * 2.0)


@case(args=normal(5, 4), tags=("index",))
def index_2d_mixes(x):
    a = x[1:4, 2]
    b = x[np.array([4, 0]), 1:3]
    c = x[:, np.array([3, 0, 1])]
    d = x[-2:, ::-2]
    return np.sum(a ** 2) + np.sum(b * b[::-1]) + np.sum(c * np.arange(3.0)) + np.sum(np.sin(d))


@case(args=lambda rng: (rng.normal(size=7), 2, 5), tags=("index",))
def index_with_argument_bounds(x, lo, hi):
    return np.sum(x[lo:hi] ** 2) + x[lo] * x[hi]


@case(args=normal(5), tags=("index",))
def index_argmax(x):
    return x[np.argmax(x)] * 2.0 + x[np.argmin(x)] ** 2


@case(args=normal(4, 3), tags=("index",))
def index_then_method(x):
    return x[1:].sum() + np.sum(x[:, 0].reshape(2, 2) ** 2) + x.T[0].max()


# ---------------------------------------------------------------------- broadcasting


@case(args=normals((3, 4), (4,)), wrt=(0, 1), tags=("broadcast",))
def broadcast_row_vector(x, b):
    return np.sum(np.tanh(x + b) * (x * b))


@case(args=normals((3, 4), (3, 1)), wrt=(0, 1), tags=("broadcast",))
def broadcast_column(x, c):
    return np.sum((x - c) ** 2 / (1.0 + c * c))


@case(args=normals((3, 1), (1, 4)), wrt=(0, 1), tags=("broadcast",))
def broadcast_outer_shapes(a, b):
    return np.sum(np.sin(a * b) + a / (2.0 + b ** 2))


@case(args=normals((2, 3, 4), (3, 1), ()), wrt=(0, 1, 2), tags=("broadcast", "float"))
def broadcast_three_ways(x, c, s):
    return np.sum(np.exp(-(x * c - s) ** 2))


@case(args=normals((4,), (2, 3, 4)), wrt=(0, 1), tags=("broadcast",))
def broadcast_in_function_calls(v, x):
    return np.sum(np.maximum(x, v) + np.where(x > 0, v, x) + np.arctan2(v, 2.0 + x * x))


@case(args=normals((1, 4), (3, 4)), wrt=(0, 1), tags=("broadcast",))
def broadcast_size_one_axis(a, x):
    return np.sum(np.logaddexp(a, x) * np.hypot(a, x))


@case(args=lambda rng: (float(rng.normal()), rng.normal(size=(2, 3))), wrt=(0, 1),
      tags=("broadcast", "float"))
def broadcast_float_with_array(s, x):
    return np.sum(np.power(1.5, s * x) + s * x - x / (2.0 + s * s))


# ---------------------------------------------------------------------- small compositions


@case(args=normal(3, 5), tags=("reduce", "model"))
def log_softmax_rows(x):
    m = np.max(x, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))
    return -np.sum((x - lse)[:, 0])


@case(args=normal(10), tags=("reduce",))
def normalize_standardize(x):
    z = (x - x.mean()) / x.std()
    return np.sum(z ** 3 * np.arange(10.0))


@case(args=normals((4, 3), (3,)), wrt=(0, 1), tags=("linalg", "reduce"))
def cosine_similarity(a, v):
    num = a @ v
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(v)
    return np.sum(num / den * W4)


@case(args=normal(4, 4), tags=("linalg",))
def gram_logdet(a):
    g = a @ a.T + np.eye(4)
    logdet = np.linalg.slogdet(g)[1]
    return logdet + np.trace(np.linalg.inv(g))


# ---------------------------------------------------------------------- more spellings of the same rules


@case(args=normal(2, 3, 4), tags=("reduce",))
def reductions_tuple_axes_keepdims(x):
    s = np.sum(x, axis=(0, 1), keepdims=True)
    m = x.max(axis=0, keepdims=True)
    return np.sum(s * x) + np.sum(m * x) + np.sum(x.mean((0, 1)) ** 2) + np.sum(x.sum(0) ** 2) \
        + np.std(x[0], axis=(0, 1)) + np.sum(np.var(x[1], axis=0, ddof=1))


@case(args=normal(3, 4), tags=("reduce",))
def norm_orders(x):
    return np.linalg.norm(x, "fro") + np.linalg.norm(x, axis=(0, 1)) + \
        np.linalg.norm(x[0], np.inf) + np.linalg.norm(x[1], ord=3)


@case(args=normal(2, 3, 4), tags=("linalg",))
def einsum_ellipsis_and_outer_tensordot(x):
    return np.sum(np.einsum("...ij,...kj->...ik", x, x) ** 2) + \
        np.sum(np.tensordot(x[0, 0], x[1, 1], axes=0) ** 2)


@case(args=well_conditioned(3), tags=("linalg",))
def batched_solve_and_det(a):
    batch = np.stack([a, a.T])
    return np.sum(np.linalg.solve(batch, np.ones((2, 3, 1)))) + np.sum(np.linalg.det(2.0 * batch))


@case(args=lambda rng: (rng.normal(size=4), float(rng.normal())), wrt=(0, 1), tags=("elementwise",))
def where_with_float_branch(x, s):
    return np.sum(np.where(x > 0, s, x * s))


@case(args=normal(3, 4), tags=("elementwise", "method"))
def clip_one_sided(x):
    return np.sum(np.clip(x, None, 0.5) ** 2) + np.sum(x.clip(max=0.3) * x)


@case(args=normal(3, 4), tags=("shape",))
def shape_function_variants(x):
    return np.sum(np.pad(x, (1, 2)) * np.arange(42.0).reshape(6, 7)) \
        + np.sum(np.diag(x[0], k=-1) * np.arange(25.0).reshape(5, 5)) \
        + np.sum(np.roll(x, (1, 2), axis=(0, 1)) * np.arange(12.0).reshape(3, 4)) \
        + np.sum(np.repeat(x[1], np.array([1, 2, 0, 3])) * np.arange(6.0)) \
        + np.sum(np.tile(x[2], 3) * np.arange(12.0)) \
        + np.sum(np.concatenate([x, x[:1] * 2.0], axis=None) ** 2) \
        + np.sum(np.stack([x[0], x[1] ** 2], axis=-1) @ np.array([1.0, -1.0]))


@case(args=normal(3, 4), tags=("shape",))
def diff_take_cross_sort(x):
    return np.sum(np.diff(x, axis=1) ** 2) + np.sum(np.take(x, [0, 2], axis=1) ** 2) \
        + np.sum(np.cross(x[0, :3], x[1, 1:]) ** 2) + np.sum(np.sort(x[2]) * np.arange(4.0))


@case(args=normal(3, 4), tags=("index",))
def index_list_pairs_and_trailing_none(x):
    return np.sum(x[[0, 1], [1, 2]] ** 2) + np.sum(x[..., None] * x[:, None, :]) \
        + np.sum(x[x[:, 0] > -10.0, 1:] ** 2)


@case(args=lambda rng: (float(rng.normal()), float(rng.normal())), wrt=(0, 1),
      tags=("shape", "float"))
def array_built_from_floats(a, b):
    m = np.array([[a, b], [b * a, 1.0]])
    return np.sum(m @ np.array([1.0, 2.0])) + np.sum(np.asarray([a, b]) ** 2)


@case(args=normal(4), tags=("elementwise",))
def builtins_on_array_items(x):
    a, b, c, d = x
    return max(a, b) + min(c, 0.0) * d + abs(d) + float(np.sum(x ** 2)) * 2.0


@case(args=normal(4), tags=("reduce",))
def numpy_scalar_conversions(x):
    return np.float64(np.sum(x ** 2)) + np.sum(np.sin(x)).item()
