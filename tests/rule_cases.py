"""The table of rule test cases: (primitive, args, kwargs, differentiable argnums, id), seeded inputs.

Inputs lie inside each primitive's domain and away from kinks and ties, so central finite differences
are a valid oracle for every case.
"""

import builtins
import copy
import inspect
import math
import operator
import statistics

import numpy as np

from sourcediff import pytree as _pytree
from sourcediff import runtime as _sd
from sourcediff.rules.registry import present

rng = np.random.default_rng(20240611)


def R(*shape):
    """Standard normal values of ``shape``."""
    return rng.standard_normal(shape)


def P(*shape):
    """Positive values in [0.5, 2) of ``shape``."""
    return rng.uniform(0.5, 2.0, shape)


def U(*shape):
    """Values in (-0.8, 0.8) of ``shape`` (inside the domain of arcsin/arctanh)."""
    return rng.uniform(-0.8, 0.8, shape)


def S():
    """A Python float in [0.3, 0.8)."""
    return float(rng.uniform(0.3, 0.8))


def M(*batch, n=3):
    """Well-conditioned square matrices (a batch of them for ``batch``)."""
    return rng.standard_normal(batch + (n, n)) + 3.0 * np.eye(n)


def spaced(*shape):
    """Distinct values at least 0.1 apart (no ties for max/min/sort), in random order."""
    n = int(np.prod(shape))
    return rng.permutation(np.linspace(-2.0, 2.0, n) + rng.uniform(-0.03, 0.03, n)).reshape(shape)


CASES = []


def case(prim, *args, argnums=(0,), name=None, **kwargs):
    """Add one case to CASES."""
    label = name or getattr(prim, "__name__", None) or type(prim).__name__
    CASES.append((prim, args, kwargs, argnums, f"{label}-{len(CASES)}"))


# ---------------------------------------------------------------- operators and arithmetic
case(operator.add, R(2, 3), R(3), argnums=(0, 1))
case(np.add, R(2, 1), R(1, 3), argnums=(0, 1))
case(operator.add, S(), S(), argnums=(0, 1), name="add_float")
case(operator.sub, R(2, 3), R(2, 3), argnums=(0, 1))
case(np.subtract, R(3), R(2, 3), argnums=(0, 1))
case(operator.mul, R(2, 3), R(3), argnums=(0, 1))
case(np.multiply, R(2, 3), 2.5)
case(operator.truediv, R(2, 3), P(3), argnums=(0, 1))
case(np.divide, S(), P(2, 2), argnums=(0, 1))
case(operator.neg, R(2, 3))
case(np.negative, R(4))
case(operator.pos, R(4))
case(np.positive, R(2, 2))
case(np.conjugate, R(3))
case(np.real, R(3))
case(operator.pow, P(3), R(3), argnums=(0, 1))
case(np.power, P(2, 3), R(3), argnums=(0, 1))
case(np.power, R(2, 3), 3.0, name="power_int_exponent")
case(np.power, R(2, 3), 0.0, name="power_zero_exponent")
case(builtins.pow, 1.3, 2.7, argnums=(0, 1))
case(math.pow, 1.7, 0.4, argnums=(0, 1))
case(np.float_power, P(3), R(2, 3), argnums=(0, 1))
case(np.square, R(2, 3))
case(np.reciprocal, P(2, 3))
case(operator.mod, 3.0 * R(2, 3), P(3), argnums=(0, 1))
case(np.remainder, 3.0 * R(4), P(4), argnums=(0, 1))
case(np.fmod, 3.0 * R(4), P(4), argnums=(0, 1))
case(math.fmod, 5.3, 1.7, argnums=(0, 1))
case(operator.matmul, R(2, 3), R(3, 4), argnums=(0, 1))
case(np.matmul, R(3), R(3, 4), argnums=(0, 1))
case(np.matmul, R(2, 3), R(3), argnums=(0, 1))
case(np.matmul, R(5, 2, 3), R(3, 4), argnums=(0, 1))
case(np.matmul, R(3), R(3), argnums=(0, 1))

# ---------------------------------------------------------------- elementwise
for f, dom in [
    (np.sin, R), (np.cos, R), (np.tan, U), (np.arcsin, U), (np.arccos, U), (np.arctan, R),
    (np.sinh, R), (np.cosh, R), (np.tanh, R), (np.arcsinh, R), (np.arctanh, U), (np.exp, R),
    (np.exp2, R), (np.expm1, R), (np.log, P), (np.log2, P), (np.log10, P), (np.log1p, P),
    (np.sqrt, P), (np.cbrt, P), (np.absolute, R), (np.fabs, R), (builtins.abs, R), (np.sinc, R),
    (np.deg2rad, R), (np.radians, R), (np.rad2deg, R), (np.degrees, R),
]:
    case(f, dom(2, 3))
case(np.arccosh, 1.0 + P(2, 3))
case(np.cbrt, -P(4), name="cbrt_negative")
for f in present(  # math.exp2 and math.cbrt are new in Python 3.11
    math, "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "atanh", "exp",
    "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "fabs", "erf", "erfc", "degrees",
    "radians",
):
    case(f, S())
case(math.acosh, 1.0 + S())
case(math.log, 2.5, 3.0, argnums=(0, 1), name="log_base")
case(math.fabs, -S(), name="fabs_negative")
case(np.copysign, R(2, 3), R(2, 3))
case(math.copysign, 1.5, -2.0)
case(np.maximum, R(2, 3), R(3), argnums=(0, 1))
case(np.minimum, R(2, 3), R(2, 1), argnums=(0, 1))
case(np.fmax, R(4), R(4), argnums=(0, 1))
case(np.fmin, R(4), S(), argnums=(0, 1))
case(np.where, R(2, 3) > 0, R(2, 3), R(2, 3), argnums=(1, 2))
case(np.where, R(2, 3) > 0, R(3), S(), argnums=(1, 2), name="where_bcast")
case(np.clip, R(2, 3), -0.5, 0.5)
case(np.clip, R(3, 4), -P(4), P(3, 1), argnums=(0, 1, 2), name="clip_array_bounds")
case(np.clip, R(2, 3), None, 0.3, name="clip_upper_only")
if "min" in inspect.signature(np.clip).parameters:  # the min=/max= keywords are new in numpy 2.1
    case(np.clip, R(2, 3), min=-0.4, max=0.2, name="clip_min_max_keywords")
case(np.ndarray.clip, R(2, 3), -0.5, 0.5)
case(np.ndarray.clip, R(2, 3), min=-0.4, name="clip_method_min")
case(np.arctan2, R(2, 3), R(3), argnums=(0, 1))
case(math.atan2, -0.7, 0.4, argnums=(0, 1))
case(np.hypot, R(2, 3), R(2, 3), argnums=(0, 1))
case(math.hypot, 0.3, -1.2, 2.0, argnums=(0, 1, 2))
case(np.logaddexp, R(2, 3), R(3), argnums=(0, 1))
case(np.logaddexp2, R(3), R(2, 3), argnums=(0, 1))
case(builtins.float, np.array(1.25))

# ---------------------------------------------------------------- reductions
for f in (np.sum, np.mean, np.prod, np.max, np.amax, np.min, np.amin, np.var, np.std):
    case(f, spaced(3, 4))
    case(f, spaced(3, 4), axis=1)
    case(f, spaced(2, 3, 4), axis=(0, 2), keepdims=True)
    case(f, spaced(2, 3), axis=-2, keepdims=True)
for f in (np.ndarray.sum, np.ndarray.mean, np.ndarray.prod, np.ndarray.max, np.ndarray.min,
          np.ndarray.var, np.ndarray.std):
    case(f, spaced(3, 4))
    case(f, spaced(3, 4), 0)
    case(f, spaced(3, 4), axis=1, keepdims=True)
case(np.sum, S(), name="sum_float")
case(np.prod, np.array([[1.5, 0.0, -2.0], [0.7, 1.1, 0.9]]), name="prod_with_zero")
case(np.prod, np.array([[1.5, 0.0, -2.0], [0.7, 1.1, 0.9]]), axis=1, name="prod_with_zero_axis")
case(np.var, spaced(3, 4), ddof=1)
case(np.std, spaced(3, 4), axis=0, ddof=1)
case(np.ndarray.var, spaced(3, 4), ddof=1)
case(np.ndarray.std, spaced(3, 4), 1, None, None, 1)
case(builtins.sum, [R(3), R(3), R(2, 3)])
case(builtins.sum, [R(3), R(3)], R(3), argnums=(0, 1), name="sum_start")
case(math.fsum, [S(), S(), S()])
case(builtins.max, 0.3, 0.7, 0.5, argnums=(0, 1, 2), name="max_args")
case(builtins.min, 0.3, 0.7, argnums=(0, 1), name="min_args")
case(np.cumsum, R(3, 4))
case(np.cumsum, R(3, 4), axis=1)
case(np.ndarray.cumsum, R(3, 4), 0)
case(np.cumprod, P(3, 4))
case(np.cumprod, R(3, 4), axis=0)
case(np.ndarray.cumprod, P(3, 4), axis=-1)
case(np.diff, R(3, 5))
case(np.diff, R(4, 3), n=2, axis=0)
case(np.linalg.norm, R(5))
case(np.linalg.norm, R(5), 1, name="norm_l1")
case(np.linalg.norm, spaced(5), np.inf, name="norm_linf")
case(np.linalg.norm, spaced(5), -np.inf, name="norm_lminusinf")
case(np.linalg.norm, R(5), 3, name="norm_l3")
case(np.linalg.norm, R(3, 4), name="norm_fro")
case(np.linalg.norm, R(3, 4), "fro", name="norm_fro_named")
case(np.linalg.norm, R(3, 4), axis=1, name="norm_axis")
case(np.linalg.norm, R(3, 4), axis=0, keepdims=True, name="norm_axis_keepdims")
case(np.linalg.norm, R(2, 3, 4), axis=(1, 2), name="norm_matrix_axes")
case(np.linalg.norm, R(3, 4), "nuc", name="norm_nuc")
case(np.linalg.norm, R(3, 4), 2, name="norm_spectral")
case(np.linalg.norm, spaced(3, 4), 1, name="norm_matrix_1")
case(np.linalg.norm, spaced(3, 4), np.inf, name="norm_matrix_inf")
case(np.linalg.norm, R(3, 4), keepdims=True, name="norm_keepdims")

# ---------------------------------------------------------------- linear algebra
case(np.dot, R(2, 3), R(3, 4), argnums=(0, 1))
case(np.dot, R(3), R(3), argnums=(0, 1))
case(np.dot, R(2, 2, 3), R(4, 3, 5), argnums=(0, 1))
case(np.dot, R(2, 3), R(3), argnums=(0, 1))
case(np.dot, S(), R(2, 3), argnums=(0, 1))
case(np.ndarray.dot, R(2, 3), R(3, 2), argnums=(0, 1))
case(np.inner, R(2, 3), R(4, 3), argnums=(0, 1))
case(np.inner, R(3), R(3), argnums=(0, 1))
case(np.outer, R(2, 2), R(3), argnums=(0, 1))
case(np.vdot, R(2, 3), R(3, 2), argnums=(0, 1))
case(np.tensordot, R(2, 3, 4), R(3, 4, 5), argnums=(0, 1))
case(np.tensordot, R(2, 3), R(3, 4), 1, argnums=(0, 1))
case(np.tensordot, R(2, 3, 4), R(4, 2, 5), ([0, 2], [1, 0]), argnums=(0, 1))
case(np.einsum, "ij,jk->ik", R(2, 3), R(3, 4), argnums=(1, 2))
case(np.einsum, "ij,jk", R(2, 3), R(3, 4), argnums=(1, 2), name="einsum_implicit")
case(np.einsum, "ii->", R(3, 3), argnums=(1,), name="einsum_trace")
case(np.einsum, "ii->i", R(3, 3), argnums=(1,), name="einsum_diag")
case(np.einsum, "ij->", R(2, 3), argnums=(1,), name="einsum_sum")
case(np.einsum, "ij->ji", R(2, 3), argnums=(1,), name="einsum_transpose")
case(np.einsum, "i,i", R(3), R(3), argnums=(1, 2), name="einsum_dot")
case(np.einsum, "i,j->ij", R(3), R(2), argnums=(1, 2), name="einsum_outer")
case(np.einsum, "bij,bjk->bik", R(2, 2, 3), R(2, 3, 4), argnums=(1, 2), name="einsum_batch")
case(np.einsum, "ij,ij,ij->i", R(2, 3), R(2, 3), R(2, 3), argnums=(1, 2, 3), name="einsum_three")
case(np.einsum, "iij,k->jk", R(3, 3, 2), R(2), argnums=(1, 2), name="einsum_repeated")
case(np.einsum, "...ij,...jk->...ik", R(2, 2, 3), R(2, 3, 4), argnums=(1, 2), name="einsum_ellipsis")
case(np.einsum, "ij...,j->i...", R(2, 3, 4), R(3), argnums=(1, 2), name="einsum_ellipsis_end")
case(np.cross, R(4, 3), R(3), argnums=(0, 1))
case(np.trace, R(3, 3))
case(np.trace, R(3, 4), 1)
case(np.trace, R(2, 3, 4), axis1=1, axis2=2)
case(np.trace, R(3, 4), -1, 1, 0, name="trace_swapped_axes")
case(np.ndarray.trace, R(3, 3))
case(np.linalg.inv, M())
case(np.linalg.inv, M(2), name="inv_batched")
case(np.linalg.det, M())
case(np.linalg.det, M(2), name="det_batched")
case(np.linalg.slogdet, M())
case(np.linalg.slogdet, M()[::-1].copy(), name="slogdet_negative")
case(np.linalg.solve, M(), R(3), argnums=(0, 1))
case(np.linalg.solve, M(), R(3, 2), argnums=(0, 1))
case(np.linalg.solve, M(2), R(2, 3, 2), argnums=(0, 1))
if int(np.__version__.split(".")[0]) >= 2:  # numpy 1 reads a 1-D b against a stack as a matrix
    case(np.linalg.solve, M(2), R(3), argnums=(0, 1), name="solve_batched_vector")
else:  # numpy 1 reads b with one dimension fewer than a as a stack of vectors
    case(np.linalg.solve, M(2), R(2, 3), argnums=(0, 1), name="solve_batched_vectors_numpy1")

# ---------------------------------------------------------------- shapes, copies, indexing
case(np.reshape, R(2, 3), (3, 2))
case(np.reshape, R(2, 3), (6,), order="F")
case(np.ndarray.reshape, R(2, 3), 3, 2)
case(np.ndarray.reshape, R(2, 3), (6,))
case(np.ndarray.reshape, R(2, 3), (3, 2), order="F")
case(np.ravel, R(2, 3))
case(np.ravel, R(2, 3), order="F")
case(np.ndarray.ravel, R(2, 3))
case(np.ndarray.flatten, R(2, 3))
case(np.ndarray.flatten, R(2, 3), "F")
case(np.expand_dims, R(2, 3), 1)
case(np.expand_dims, R(2, 3), (0, 3))
case(np.squeeze, R(1, 3, 1))
case(np.squeeze, R(1, 3, 1), axis=0)
case(np.ndarray.squeeze, R(1, 3, 1))
case(np.atleast_1d, np.array(1.5))
case(np.atleast_2d, R(3))
case(np.atleast_3d, R(2, 3))
case(np.ndarray.T, R(2, 3))
case(np.ndarray.T, R(2, 3, 4), name="T_3d")
for f in present(np.ndarray, "mT"):  # new in numpy 2.0
    case(f, R(2, 3, 4))
case(np.ndarray.real, R(2, 3))
case(np.transpose, R(2, 3))
case(np.transpose, R(2, 3, 4), (1, 2, 0))
case(np.transpose, R(2, 3, 4), axes=(-1, 0, 1))
case(np.ndarray.transpose, R(2, 3, 4))
case(np.ndarray.transpose, R(2, 3, 4), 2, 0, 1)
case(np.ndarray.transpose, R(2, 3, 4), (1, 2, 0))
case(np.swapaxes, R(2, 3, 4), 0, 2)
case(np.ndarray.swapaxes, R(2, 3), 0, 1)
case(np.moveaxis, R(2, 3, 4), 0, -1)
case(np.moveaxis, R(2, 3, 4), [0, 1], [2, 0])
case(np.broadcast_to, R(3), (2, 3))
case(np.broadcast_to, R(2, 1), (4, 2, 3))
case(np.tile, R(2, 3), (2, 1))
case(np.tile, R(3), (2, 2))
case(np.tile, R(2, 3), 2, name="tile_int_reps")
case(np.repeat, R(2, 3), 2)
case(np.repeat, R(2, 3), [1, 2, 0], axis=1)
case(np.repeat, R(2, 3), 3, axis=0)
case(np.ndarray.repeat, R(2, 3), 2, 1)
case(np.flip, R(2, 3))
case(np.flip, R(2, 3), axis=1)
case(np.fliplr, R(2, 3))
case(np.flipud, R(2, 3))
case(np.roll, R(2, 3), 1)
case(np.roll, R(2, 3), (1, 2), (0, 1))
case(np.roll, R(2, 3), -1, axis=1)
case(np.diag, R(3))
case(np.diag, R(3), k=1)
case(np.diag, R(3, 4))
case(np.diag, R(3, 4), k=-1)
case(np.diagonal, R(3, 4), 1)
case(np.diagonal, R(2, 3, 4), 0, 1, 2)
case(np.diagonal, R(3, 4), 1, 1, 0, name="diagonal_swapped")
case(np.ndarray.diagonal, R(4, 3), -1)
case(np.triu, R(3, 4))
case(np.triu, R(3, 4), 1)
case(np.tril, R(3, 4))
case(np.tril, R(2, 3, 3), -1)
case(np.pad, R(2, 3), 1)
case(np.pad, R(2, 3), ((1, 0), (2, 1)), constant_values=3.0)
case(np.concatenate, [R(2, 3), R(1, 3)])
case(np.concatenate, [R(2, 3), R(2, 2), R(2, 1)], axis=1)
case(np.concatenate, (R(2, 3), R(4)), axis=None)
case(np.stack, [R(2, 3), R(2, 3), R(2, 3)], axis=1)
case(np.stack, [R(3), R(3)])
case(np.hstack, [R(3), R(2)])
case(np.hstack, [R(2, 3), R(2, 1)])
case(np.vstack, [R(3), R(3)])
case(np.vstack, [R(2, 3), R(1, 3)])
case(np.dstack, [R(2, 3), R(2, 3)])
case(np.column_stack, [R(3), R(3, 2)])
case(np.split, R(6, 2), 3)
case(np.split, R(6, 2), [1, 4])
case(np.split, R(2, 6), 2, axis=1)
case(np.array_split, R(5, 2), 2)
case(np.hsplit, R(2, 4), 2)
case(np.hsplit, R(6), 3)
case(np.vsplit, R(4, 2), [1])
case(np.copy, R(2, 3))
case(np.ndarray.copy, R(2, 3))
case(np.asarray, R(2, 3))
case(np.asarray, [S(), S(), S()], name="asarray_list")
case(np.array, [R(3), R(3)])
case(np.array, [[S(), S()], [S(), S()]], name="array_nested_list")
case(np.array, R(3), ndmin=2)
case(np.ndarray.astype, R(2, 3), np.float64)
case(np.sort, spaced(2, 5))
case(np.sort, spaced(4, 3), axis=0)
case(np.sort, spaced(3, 3), axis=None)
case(np.take, R(3, 4), [0, 2, 2])
case(np.take, R(3, 4), np.array([[0, 3], [3, 1]]), axis=1)
case(np.take, R(3, 4, 2), [2, 0, 2], axis=0)
case(operator.getitem, R(3, 4), 1)
case(operator.getitem, R(3, 4), (slice(None), 2))
case(operator.getitem, R(3, 4), (slice(0, 2), slice(None, None, 2)))
case(operator.getitem, R(2, 3, 4), (Ellipsis, 1))
case(operator.getitem, R(3, 4), (None, 1))
case(operator.getitem, R(4, 3), np.array([0, 2, 2]))
case(operator.getitem, R(4, 3), [3, 0, 3, 3])
case(operator.getitem, R(3, 4), R(3, 4) > 0, name="getitem_mask")
case(operator.getitem, R(3, 4), (np.array([0, 2, 0]), slice(1, 3)), name="getitem_mixed")
case(operator.getitem, R(3, 4), (np.array([0, 1]), np.array([1, 3])), name="getitem_pairs")
case(operator.getitem, R(3, 4), (slice(None, None, -1), np.int64(2)), name="getitem_np_int")
case(operator.getitem, [R(2), R(2), R(2)], 1, name="getitem_list")
case(operator.getitem, [S(), S(), S()], slice(0, 2), name="getitem_list_slice")
case(operator.getitem, (S(), S()), -1, name="getitem_tuple")
case(np.ndarray.__getitem__, R(3, 4), (slice(1, None), 0))

# ---------------------------------------------------------------- runtime helpers (grad of grad)
case(_sd.grad_like, R(2, 3), R(2, 3))
case(_sd.owned_grad, R(2, 3), R(2, 3))
case(_sd.copy, R(3))
case(_sd.sigmoid, R(3, 2))
case(_sd.sigmoid, S(), name="sigmoid_float")
case(_sd.scaled_sigmoid, R(3, 2), R(3, 2), argnums=(0, 1))
case(_sd.scaled_sigmoid, S(), R(3, 2), argnums=(0, 1), name="scaled_sigmoid_scalar_g")
case(_sd.scaled_sigmoid, R(2), R(3, 2), argnums=(0, 1), name="scaled_sigmoid_broadcast")
case(_sd.check_scalar, S(), "where")
case(_sd.item_grad, R(3, 2), 1)
case(_sd.last_writes_only, R(3), R(4), np.array([0, 0, 2]), name="last_writes_only_repeated")
case(_sd.add_grads, R(3), R(3), argnums=(0, 1))
case(_sd.zero_at, R(4), R(4), slice(1, 3))
case(np.float64, S())
case(_sd.drop_last, [R(2), R(2), R(3)])
case(np.ndarray.item, R(1))
case(_sd.unbroadcast, R(4, 2, 3), R(2, 1))
case(_sd.unbroadcast, R(1, 3), R(2, 3), name="unbroadcast_up")
case(_sd.unbroadcast, R(3), S(), name="unbroadcast_float")
case(_sd.broadcast_tangent, R(3), R(2, 3))
case(_sd.unreduce, R(3), R(2, 3), 0)
case(_sd.unreduce, R(2, 1), R(2, 3), 1, True)
case(_sd.unreduce, S(), R(2, 3), name="unreduce_all")
case(_sd.keep, R(3), R(2, 3), 0)
case(_sd.keep, S(), R(2, 3), name="keep_all")
case(_sd.matmul_grad_left, R(2, 4), R(2, 3), R(3, 4), argnums=(0, 2))
case(_sd.matmul_grad_left, R(4), R(3), R(3, 4), argnums=(0, 2), name="mgl_vec_mat")
case(_sd.matmul_grad_left, R(2), R(2, 3), R(3), argnums=(0, 2), name="mgl_mat_vec")
case(_sd.matmul_grad_left, R(5, 2, 4), R(2, 3), R(5, 3, 4), argnums=(0, 2), name="mgl_batched")
case(_sd.matmul_grad_right, R(2, 4), R(2, 3), R(3, 4), argnums=(0, 1))
case(_sd.matmul_grad_right, R(4), R(3), R(3, 4), argnums=(0, 1), name="mgr_vec_mat")
case(_sd.matmul_grad_right, S(), R(3), R(3), argnums=(0, 1), name="mgr_vec_vec")
case(_sd.matmul_grad_right, R(5, 2, 4), R(5, 2, 3), R(3, 4), argnums=(0, 1), name="mgr_batched")
case(_sd.scatter, R(3, 2), R(4, 2), np.array([0, 3, 3]))
case(_sd.scatter_basic, R(2, 2), R(4, 2), slice(1, 3))
case(_sd.scatter_basic, R(2, 2), R(4, 2), np.array([1, 1]), name="scatter_basic_advanced")
case(_sd.cumsum_grad, R(2, 3), R(2, 3), 1)
case(_sd.cumsum_grad, R(6), R(2, 3), name="cumsum_grad_flat")

# ---------------------------------------------------------------- helpers of the numpy rules (hessians)
case(_sd.reshape_grad, R(2, 3), R(3, 2), argnums=(0,))
case(_sd.dense_grad, R(2, 3), R(2, 3), argnums=(0,))
case(_sd.einsum_call_grads, R(2, 4), "ij,jk->ik", (R(2, 3), R(3, 4)), argnums=(0, 2))
case(_sd.einsum_grads, R(2, 4), "ij,jk->ik", (R(2, 3), R(3, 4)), argnums=(0, 2))
case(_sd.einsum_grads, S(), "i,i", (R(3), R(3)), argnums=(0, 2), name="einsum_grads_dot")
case(_sd.einsum_grads, R(2), "ij,ij,ij->i", (R(2, 3), R(2, 3), R(2, 3)), argnums=(0, 2),
     name="einsum_grads_three")
case(_sd.einsum_grads, R(2, 2), "iij,k->jk", (R(3, 3, 2), R(2)), argnums=(0, 2),
     name="einsum_grads_repeated")
case(_sd.einsum_grads, R(2, 2, 4), "...ij,...jk", (R(2, 2, 3), R(3, 4)), argnums=(0, 2),
     name="einsum_grads_ellipsis")
case(_sd.norm_weights, R(5), 1.7, argnums=(0, 1))
case(_sd.norm_weights, R(3, 4), P(3), None, 1, argnums=(0, 1), name="norm_weights_axis")
case(_sd.norm_weights, R(3, 4), P(1, 4), None, 0, True, argnums=(0, 1), name="norm_weights_keepdims")
case(_sd.norm_weights, R(5), 1.7, 3, argnums=(0, 1), name="norm_weights_l3")
case(_sd.norm_weights, R(5), 1.7, 1, argnums=(0, 1), name="norm_weights_l1")
case(_sd.norm_weights, R(2, 3, 4), P(2), "fro", (1, 2), argnums=(0, 1), name="norm_weights_fro")
case(_sd.norm_weights, spaced(3, 4), 2.0, 1, name="norm_weights_matrix_1")
case(_sd.unstack_grads, R(3, 2, 4), [R(2, 4), R(2, 4), R(2, 4)])
case(_sd.unstack_grads, R(2, 3), [R(2), R(2), R(2)], 1, name="unstack_grads_axis1")
case(_sd.unbroadcast_each, R(2, 3), [R(3), R(2, 3), S()])
case(_sd.unbroadcast_each, R(2), (R(2), S()), name="unbroadcast_each_float")
case(_sd.trace_grad, S(), R(3, 4), 1)
case(_sd.trace_grad, R(2), R(2, 3, 4), 0, 1, 2, name="trace_grad_batched")
case(_sd.trace_grad, R(2), R(3, 4, 2), -1, -3, -2, name="trace_grad_negative_axes")
case(_sd.solve_grads, R(3), R(3), M(), R(3), argnums=(0, 1, 2))
case(_sd.solve_grads, R(3, 2), R(3, 2), M(), R(3, 2), argnums=(0, 1, 2), name="solve_grads_matrix")
case(_sd.solve_grads, R(2, 3, 2), R(2, 3, 2), M(2), R(2, 3, 2), argnums=(0, 1, 2),
     name="solve_grads_batched")
case(_sd.solve_grads, R(2, 3), R(2, 3), M(2), R(3) if _sd._NUMPY2 else R(2, 3), argnums=(0, 1, 2),
     name="solve_grads_batched_vector")  # numpy 1: b with one dimension fewer than a is a vector
case(_sd.like_input, R(3, 2), [R(2), R(2), R(2)])
case(_sd.like_input, R(2, 2), [[S(), S()], (S(), S())], name="like_input_nested")
case(_sd.like_input, R(2, 3), R(2, 3), name="like_input_array")
case(_sd.split_grad, [R(2, 3), R(1, 3), R(2, 3)], [R(2, 3), R(1, 3), R(2, 3)])
case(_sd.split_like, R(5, 3), [R(2, 3), R(3, 3)])
case(_sd.split_like, R(2, 4), [R(2, 1), R(2, 3)], 1, name="split_like_axis1")
case(_sd.concat_like, [R(2, 3), R(3, 3)], R(5, 3), [R(2, 3), R(3, 3)])
case(_sd.concat_like, [R(2, 1), R(2, 3)], R(2, 4), [R(2, 1), R(2, 3)], 1, name="concat_like_axis1")
case(_sd.rebroadcast, R(3), R(2, 3))
case(_sd.rebroadcast, R(2, 3), R(1, 3), name="rebroadcast_sums")
case(_sd.einsum_replaced, [R(2, 3), R(3, 4)], "ij,jk->ik", (R(2, 3), R(3, 4)), argnums=(0, 2))
case(_sd.einsum_replaced, [R(3), R(3), R(3)], "i,i,i", (R(3), R(3), R(3)), argnums=(0, 2),
     name="einsum_replaced_three")
case(_sd.einsum_cross, [R(2, 3), R(3, 4)], R(2, 4), "ij,jk->ik", (R(2, 3), R(3, 4)),
     argnums=(0, 1, 3))
case(_sd.einsum_cross, [R(2, 3), R(3), R(3, 2)], S(), "ij,j,jk->", (R(2, 3), R(3), R(3, 2)),
     argnums=(0, 1, 3), name="einsum_cross_three")
case(_sd.stack_like, [R(3), R(3)], R(2, 3))
case(_sd.stack_like, [R(2), R(2), R(2)], R(2, 3), 1, name="stack_like_axis1")
case(_sd.split_grad, [R(2, 1), R(2, 3)], [R(2, 1), R(2, 3)], 1, name="split_grad_axis1")
case(_sd.prod_others, R(3, 4))
case(_sd.prod_others, R(3, 4), 1, name="prod_others_axis")
case(_sd.prod_others, np.array([[1.5, 0.0, -2.0], [0.7, 1.1, 0.9]]), 1, name="prod_others_zero")
case(_sd.prod_others, np.array([1.5, 0.0, 0.0, 0.8]), name="prod_others_two_zeros")
case(_sd.prod_others, R(2, 3, 4), (0, 2), name="prod_others_axes")
case(_sd.prod_others, np.array(1.5), name="prod_others_scalar")
case(_sd.concat_grads, R(5, 3), [R(2, 3), R(3, 3)])
case(_sd.concat_grads, R(2, 6), [R(2, 1), R(2, 3), R(2, 2)], 1, name="concat_grads_axis1")
case(_sd.concat_grads, R(2, 3), [R(3), R(3)], 0, [R(1, 3), R(1, 3)], name="concat_grads_promoted")
case(_sd.concat_grads, R(10), [R(2, 3), R(4)], None, name="concat_grads_flat")
case(_sd.unsort, R(3, 4), spaced(3, 4), 1)
case(_sd.unsort, R(6), spaced(2, 3), None, name="unsort_flat")
case(_sd.take_sorted, R(3, 4), spaced(3, 4))
case(_sd.take_sorted, R(2, 3), spaced(2, 3), None, name="take_sorted_flat")
case(_sd.scale_each, S(), (R(3), S()), argnums=(0, 1))
case(_sd.scale_each, R(3), (R(2, 3), R(3), S()), argnums=(0, 1), name="scale_each_broadcast")
case(_sd.repeat_grad, R(6, 3), R(2, 3), 3, 0)
case(_sd.repeat_grad, R(12), R(2, 3), 2, name="repeat_grad_flat")
case(_sd.repeat_grad, R(2, 3), R(2, 3), [1, 2, 0], 1, name="repeat_grad_counts")
case(_sd.pad_grad, R(5, 6), R(3, 4), ((1, 1), (2, 0)))
case(_sd.pad_grad, R(7), R(3), 2, name="pad_grad_int")
case(_sd.map_list, np.atleast_2d, [R(3), R(2, 3), S()], argnums=(1,))
case(_sd.map_list, _sd.as_column, (R(3), R(3, 2)), argnums=(1,), name="map_list_as_column")
case(_sd.extremum_args_grad, S(), 2.0, (1.0, 2.0, 0.5))
case(_sd.extremum_args_grad, S(), 2.0, (2.0, 2.0, 0.5), name="extremum_args_grad_tie")
case(_sd.extremum_args_grad, S(), 2.0, ([1.0, 2.0, 0.5],), name="extremum_args_grad_iterable")
case(_sd.diagonal_grad, R(3), R(3, 4))
case(_sd.diagonal_grad, R(3), R(3, 4), 1, name="diagonal_grad_offset")
case(_sd.diagonal_grad, R(2), R(3, 3), -1, name="diagonal_grad_negative_offset")
case(_sd.diagonal_grad, R(2, 3), R(3, 2, 4), 0, 0, 2, name="diagonal_grad_axes")
case(_sd.diag_grad, R(4, 4), R(3), 1)
case(_sd.diag_grad, R(3), R(3, 4), name="diag_grad_matrix")
case(_sd.diag_grad, R(2), R(3, 4), -1, name="diag_grad_matrix_offset")
case(_sd.tile_grad, R(2, 6), R(2, 3), 2)
case(_sd.tile_grad, R(4, 2, 3), R(3), (4, 2, 1), name="tile_grad_more_reps")
case(_sd.take_grad, R(2, 3), R(2, 4), np.array([0, 3, 3]), 1)
case(_sd.take_grad, R(2, 2), R(2, 3), np.array([[0, 5], [5, 1]]), name="take_grad_flat")
case(_sd.diff_grad, R(2, 3), 1, -1)
case(_sd.diff_grad, R(1, 4), 2, 0, name="diff_grad_twice")

# ---------------------------------------------------------------- array creation (per-argument)
case(np.full, (2, 3), S(), argnums=(1,))
case(np.full, (2, 3), R(3), argnums=(1,), name="full_broadcast_fill")
case(np.full_like, R(2, 3), S(), argnums=(1,))
case(np.heaviside, spaced(5), R(5), argnums=(1,), name="heaviside_nonzero_x1")
case(np.heaviside, np.array([0.0, 1.0, 0.0, -2.0]), R(4), argnums=(1,), name="heaviside_at_zero")
case(np.arange, S(), 3.6, 0.7, argnums=(0, 2))
case(np.linspace, S(), 2.5, 7, argnums=(0, 1))
case(np.linspace, R(3), P(2, 3), 5, False, argnums=(0, 1), name="linspace_arrays")
case(np.linspace, R(2), 1.5, 4, axis=-1, argnums=(0, 1), name="linspace_axis_last")
case(np.logspace, S(), 1.2, 6, argnums=(0, 1))
case(np.logspace, R(2), 1.1, 4, True, 2.5, argnums=(0, 1, 4), name="logspace_base")
case(np.geomspace, S(), 2.5, 5, argnums=(0, 1))
case(np.geomspace, P(3), P(3), 4, False, argnums=(0, 1), name="geomspace_arrays")

# ---------------------------------------------------------------- index concatenation
case(np.r_, R(3), S(), slice(0, 3, 1), R(2, 1)[:, 0], argnums=(0, 1, 3))
case(np.c_, R(3), R(3), R(3, 2), argnums=(0, 1, 2))
case(_sd.index_concat_grads, R(6), np.r_, (R(3), S(), R(2)))
case(_sd.index_concat_place, (R(3), R(3, 2)), R(3, 3), np.c_, (R(3), R(3, 2)), argnums=(0,))

case(np.matmul, R(3), R(2, 3, 4), argnums=(0, 1), name="matmul_vector_by_stack")
case(np.matmul, R(2, 3, 4), R(4), argnums=(0, 1), name="matmul_stack_by_vector")

# ---------------------------------------------------------------- + and * that may concatenate
case(_sd.add_or_concat, R(2, 3), R(3), argnums=(0, 1))
case(_sd.add_or_concat, [R(2), S()], [R(3)], argnums=(0, 1), name="add_or_concat_lists")
case(_sd.add_or_concat, (S(),), (R(2), R(1)), argnums=(0, 1), name="add_or_concat_tuples")
case(_sd.mul_or_repeat, R(2, 3), R(3), argnums=(0, 1))
case(_sd.mul_or_repeat, [R(2), S()], 3, name="mul_or_repeat_list")
case(_sd.mul_or_repeat, 2, (R(2), S()), argnums=(1,), name="mul_or_repeat_count_first")

case(_sd.add_or_concat_grads, R(2, 3), R(2, 3), R(3))
case(_sd.add_or_concat_grads, [R(2), S(), S()], [R(2)], [S(), S()],
     name="add_or_concat_grads_lists")
case(_sd.mul_or_repeat_grads, R(2, 3), R(2, 3), R(3), argnums=(0, 1, 2))
case(_sd.mul_or_repeat_grads, [R(2), R(2), R(2), R(2)], [R(2), R(2)], 2,
     name="mul_or_repeat_grads_list")

# ---------------------------------------------------------------- fields of namedtuples (checked
# end to end in tests/test_pytrees.py: the case table's flattening rebuilds plain tuples only)
_Pair = __import__("collections").namedtuple("_Pair", "W b")
case(_sd.get_attribute, _Pair(R(2, 3), R(3)), "b", argnums=())
case(_sd.attribute_grad, R(3), _Pair(R(2, 3), R(3)), "b")

case(_sd.aux_first, (R(3), R(2)))
case(_sd.grad_tree, R(2, 3), R(2, 3))
case(_pytree.unflatten_vector, R(7), [R(2, 2), R(3)])
case(_pytree.tree_vector_grad, [R(2, 2), R(3)], [R(2, 2), R(3)])

# (cases added later go last: the inputs above come from one seeded stream)
case(copy.copy, R(2, 3), name="python_copy")
case(copy.deepcopy, [R(2), R(3)], name="python_deepcopy")
case(tuple, [R(2), R(3)], name="python_tuple")
case(tuple, R(3, 2), name="python_tuple_of_rows")
# d.items() / d.values() of a dict (a dict's key is a string: no entries); their grad helpers are
# each other's adjoints
case(_sd.dict_items, {"a": R(2), "b": S()})
case(_sd.dict_values, {"a": R(2), "b": S()})
case(_sd.dict_items_grad, [("a", R(2)), ("b", S())], {"a": R(2), "b": S()})
case(_sd.dict_items_tangent, {"a": R(2), "b": S()}, {"a": R(2), "b": S()})
# dict(d), {**d}'s pairs (values written out: the cases after these keep their draws)
_PAIRS_D = {"a": np.array([0.4, -1.1]), "b": 0.6}
case(_sd.dict_pairs, _PAIRS_D)
case(_sd.dict_pairs, [("a", np.array([0.4, -1.1])), ("b", 0.6)], name="dict_pairs_of_pairs")
case(_sd.dict_pairs_grad, [("a", np.array([1.3, 0.2])), ("b", 0.7)], _PAIRS_D)
case(_sd.dict_pairs_tangent, {"a": np.array([-0.5, 0.9]), "b": 0.35}, _PAIRS_D)
# x1 * 2 ** x2 (x2 integers, broadcast)
case(np.ldexp, np.array([[0.4, -1.1, 2.3], [0.7, 0.05, -0.6]]), np.array([1, -2, 3]))
case(math.ldexp, 1.5, 3)
case(_sd.dict_values_grad, [R(2), S()], {"a": R(2), "b": S()})
case(_sd.dict_values_tangent, {"a": R(2), "b": S()}, {"a": R(2), "b": S()})

# ---------------------------------------------------------------- declared non-differentiable
# one call per declared key: perturbing any float argument must leave the result unchanged (a
# declaration on a function some of whose arguments do carry a derivative fails here)
NONDIFF_CASES = []


def nondiff_case(prim, *args, name=None, **kwargs):
    label = name or getattr(prim, "__name__", None) or type(prim).__name__
    NONDIFF_CASES.append((prim, args, kwargs, f"{label}-{len(NONDIFF_CASES)}"))


for _prim in (np.shape, np.ndim, np.size, len, np.argmax, np.argmin, np.argsort, np.nonzero,
              np.flatnonzero, np.argwhere, np.count_nonzero, np.sign, np.floor, np.ceil, np.round,
              np.rint, np.trunc, np.fix, np.zeros_like, np.ones_like, np.empty_like, np.isnan,
              np.isfinite, np.isinf, np.signbit, np.any, np.all, np.result_type,
              np.logical_not, np.ndarray.argmax, np.ndarray.argmin, np.ndarray.argsort,
              np.ndarray.nonzero, np.ndarray.any, np.ndarray.all, operator.invert,
              builtins.print, _sd.shape):
    nondiff_case(_prim, spaced(2, 3) if _prim not in (operator.invert,) else np.arange(4))
for _prim in (np.isclose, np.allclose, np.array_equal, np.equal, np.not_equal, np.greater,
              np.greater_equal, np.less, np.less_equal, np.logical_and, np.logical_or,
              np.logical_xor, np.floor_divide, operator.lt, operator.le, operator.gt, operator.ge,
              operator.eq, operator.ne, operator.floordiv, _sd.tie_mask, _sd.win_mask):
    nondiff_case(_prim, spaced(2, 3), spaced(2, 3) + 0.05, *((True,) if _prim is _sd.tie_mask else ()))
for _prim in (math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite,
              builtins.round, builtins.int):
    nondiff_case(_prim, 2.3)
nondiff_case(math.isclose, 2.3, 2.4)
nondiff_case(operator.not_, 2.3)
nondiff_case(builtins.bool, 0.7)
nondiff_case(np.searchsorted, np.sort(spaced(6)), spaced(3))
nondiff_case(np.digitize, spaced(4), np.sort(spaced(5)))
for _prim in (np.zeros, np.ones, np.empty, np.eye, np.identity, np.tri, np.indices):
    nondiff_case(_prim, 3 if _prim is not np.indices else (2, 3))
for _prim in (np.ravel_multi_index,):
    nondiff_case(_prim, (np.array([1, 0]), np.array([2, 1])), (3, 4))
nondiff_case(np.unravel_index, np.array([3, 5]), (3, 4))
nondiff_case(np.broadcast_shapes, (2, 1), (1, 3))
for _attr in (np.ndarray.shape, np.ndarray.ndim, np.ndarray.size, np.ndarray.dtype):
    nondiff_case(_attr, R(2, 3), name=f"ndarray.{_attr.__name__}")
for _attr in (np.ndarray.strides, np.ndarray.itemsize, np.ndarray.nbytes):  # (no draws of R:
    nondiff_case(_attr, np.arange(6.0).reshape(2, 3), name=f"ndarray.{_attr.__name__}")  # later
    # cases keep their values)
nondiff_case(builtins.isinstance, 2.5, float)
nondiff_case(builtins.range, 4)
nondiff_case(operator.and_, np.arange(4), np.arange(4) + 1)
nondiff_case(operator.or_, np.arange(4), np.arange(4) + 1)
nondiff_case(operator.xor, np.arange(4), np.arange(4) + 1)
nondiff_case(_sd.extremum_weights, spaced(2, 3), np.max(spaced(2, 3)))
nondiff_case(_sd.reduced_count, R(2, 3), 1)
nondiff_case(_sd.space_fractions, R(5), 5)
nondiff_case(_sd.dict_keys, {"a": R(2), "b": S()})
nondiff_case(_sd.output_seed, R(1, 1), "f (m.py:1)")
nondiff_case(_sd.space_fractions, R(5), 5, False, 0, False, 10.0, name="space_fractions_base")
nondiff_case(_sd.zeros_like_grad, R(2, 3))

# ---------------------------------------------------------------- breadth: numpy
case(np.kron, R(2, 3), R(3, 2), argnums=(0, 1))
case(np.kron, R(3), R(2, 2), argnums=(0, 1), name="kron_mixed_ndim")
case(np.kron, R(2, 1, 2), R(2), argnums=(0, 1), name="kron_3d")
case(np.gradient, R(6))
case(np.gradient, R(6), 0.7, argnums=(0, 1), name="gradient_spacing")
case(np.gradient, R(5), edge_order=2, name="gradient_edge2")
case(np.gradient, R(4, 5), name="gradient_2d")
case(np.gradient, R(4, 5), 0.5, 1.5, argnums=(0, 1, 2), name="gradient_2d_spacings")
case(np.gradient, R(3, 4, 5), axis=(0, 2), edge_order=2, name="gradient_axes")
case(np.gradient, R(4, 5), S(), axis=1, argnums=(0, 1), name="gradient_one_axis")
case(np.rollaxis, R(2, 3, 4), 2)
case(np.rollaxis, R(2, 3, 4), 0, 3, name="rollaxis_start")
case(np.rollaxis, R(2, 3, 4, 5), -1, 1, name="rollaxis_negative")
case(np.append, R(2, 3), R(4), argnums=(0, 1))
case(np.append, R(2, 3), R(1, 3), axis=0, argnums=(0, 1), name="append_axis0")
case(np.append, R(2, 3), R(2, 2), axis=1, argnums=(0, 1), name="append_axis1")
case(np.append, R(3), S(), argnums=(0, 1), name="append_scalar")
_conds = [R(2, 3) > 0.5, R(2, 3) > -0.5]
case(np.select, _conds, [R(2, 3), R(3)], R(2, 3), argnums=(1, 2))
case(np.select, [R(4) > 0, R(4) > 0.3, R(4) < -0.5], [R(4), R(4), S()], argnums=(1,),
     name="select_three")
case(np.select, [R(2, 3) > 0], [R(2, 3)], S(), argnums=(1, 2), name="select_scalar_default")
case(np.rot90, R(2, 3))
case(np.rot90, R(2, 3, 4), 3, (1, 2), name="rot90_axes")
case(np.rot90, R(3, 2), -2, name="rot90_negative")
_nans = R(3, 4)
_nans[0, 1], _nans[1, 2], _nans[2, 0] = np.nan, np.inf, -np.inf
case(np.nan_to_num, _nans, posinf=5.0, neginf=-5.0)
case(np.nan_to_num, R(2, 3), name="nan_to_num_finite")
case(np.nan_to_num, _nans.copy(), True, S(), S(), -S(), argnums=(0, 2, 3, 4), name="nan_to_num_values")
case(np.dsplit, R(2, 2, 6), 3)
case(np.dsplit, R(2, 1, 5), [1, 3], name="dsplit_indices")
case(np.partition, spaced(7), 3)
case(np.partition, spaced(3, 5), 2, axis=0, name="partition_axis0")
case(np.partition, spaced(3, 5), (1, 3), name="partition_kths")
case(np.partition, spaced(2, 3), 4, axis=None, name="partition_flat")
case(np.insert, R(5), 2, S(), argnums=(0, 2))
case(np.insert, R(5), [1, 3, 3], R(3), argnums=(0, 2), name="insert_many")
case(np.insert, R(2, 3), 1, R(3), axis=0, argnums=(0, 2), name="insert_row")
case(np.insert, R(2, 3), 1, R(2, 1), axis=1, argnums=(0, 2), name="insert_column_broadcast")
case(np.insert, R(2, 3), [0, 2], R(2), axis=1, argnums=(0, 2), name="insert_columns")
case(np.insert, R(2, 3), 4, S(), argnums=(0, 2), name="insert_flat")
case(np.median, spaced(7))
case(np.median, spaced(6), name="median_even")
case(np.median, spaced(4, 5), axis=1, name="median_axis")
case(np.median, spaced(4, 5), axis=0, keepdims=True, name="median_keepdims")
case(np.median, spaced(2, 3, 4), axis=(0, 2), name="median_axes")
case(np.quantile, spaced(9), 0.3, argnums=(0, 1))
case(np.quantile, spaced(4, 6), np.array([0.15, 0.5, 0.93]), axis=1, argnums=(0, 1),
     name="quantile_many")
case(np.quantile, spaced(4, 6), np.array([[0.2], [0.77]]), axis=0, keepdims=True, argnums=(0, 1),
     name="quantile_keepdims")
case(np.quantile, spaced(3, 4), 1.0, axis=1, name="quantile_one")
case(np.percentile, spaced(10), 37.0, argnums=(0, 1))
case(np.percentile, spaced(3, 7), np.array([12.0, 81.0]), axis=-1, argnums=(0, 1), name="percentile_list")
case(np.average, R(3, 4), argnums=(0,))
case(np.average, R(3, 4), 1, P(3, 4), argnums=(0, 2), name="average_weights")
case(np.average, R(3, 4), 0, P(3), argnums=(0, 2), name="average_weights_1d")
case(np.average, R(3, 4), None, P(3, 4), True, argnums=(0, 2), name="average_returned")
case(np.average, R(3, 4), 1, P(4), True, keepdims=True, argnums=(0, 2),
     name="average_returned_keepdims")
_nan_a = R(3, 4)
_nan_a[0, 2] = _nan_a[2, 1] = np.nan
case(np.nansum, _nan_a)
case(np.nansum, _nan_a, axis=1, name="nansum_axis")
case(np.nansum, _nan_a, axis=0, keepdims=True, name="nansum_keepdims")
case(np.nanmean, _nan_a)
case(np.nanmean, _nan_a, axis=1, name="nanmean_axis")
case(np.nanmean, _nan_a, axis=0, keepdims=True, name="nanmean_keepdims")
case(np.ptp, spaced(3, 4))
case(np.ptp, spaced(3, 4), axis=1, name="ptp_axis")
case(np.ptp, spaced(2, 3, 4), axis=(0, 2), keepdims=True, name="ptp_keepdims")
_xp = np.array([-1.5, -0.4, 0.3, 1.1, 2.0])
case(np.interp, np.array([-1.2, -0.1, 0.55, 1.7, 0.9]), _xp, R(5), argnums=(0, 1, 2))
case(np.interp, np.array([[-2.0, 0.2], [1.4, 2.5]]), _xp, R(5), argnums=(0, 1, 2),
     name="interp_outside")
case(np.interp, np.array([-2.0, 0.2, 2.5]), _xp, R(5), -3.0, 4.0, argnums=(0, 1, 2, 3, 4),
     name="interp_left_right")
case(np.interp, 0.4, _xp, R(5), argnums=(0, 1, 2), name="interp_scalar")
for _mode in ("full", "same", "valid"):
    for _n, _m in ((5, 3), (3, 5), (4, 4), (2, 5)):
        case(np.convolve, R(_n), R(_m), _mode, argnums=(0, 1), name=f"convolve_{_mode}_{_n}_{_m}")
        case(np.correlate, R(_n), R(_m), _mode, argnums=(0, 1), name=f"correlate_{_mode}_{_n}_{_m}")
case(np.convolve, R(6), R(3), argnums=(0, 1), name="convolve_default")
case(np.correlate, R(6), R(3), argnums=(0, 1), name="correlate_default")
case(np.polyval, R(4), R(3), argnums=(0, 1))
case(np.polyval, R(3), R(2, 3), argnums=(0, 1), name="polyval_2d")
case(np.polyval, R(5), S(), argnums=(0, 1), name="polyval_scalar")
case(np.polyval, R(1), R(3), argnums=(0, 1), name="polyval_constant")
for _trap in (getattr(np, n) for n in ("trapezoid", "trapz") if hasattr(np, n)):
    case(_trap, R(5))
    case(_trap, R(5), np.cumsum(P(5)), argnums=(0, 1), name="trapezoid_x")
    case(_trap, R(3, 4), np.cumsum(P(4)), axis=-1, argnums=(0, 1), name="trapezoid_x_1d")
    case(_trap, R(4, 3), np.cumsum(P(4, 3), axis=0), axis=0, argnums=(0, 1), name="trapezoid_x_nd")
    case(_trap, R(3, 4), None, S(), 0, argnums=(0, 2), name="trapezoid_dx")
case(np.cross, R(3, 2), R(2, 3), axisa=0, argnums=(0, 1), name="cross_axisa")
case(np.cross, R(4, 3), R(3, 4), axisb=0, axisc=0, argnums=(0, 1), name="cross_axisb_axisc")
case(np.cross, R(3, 2), R(3, 2), axis=0, argnums=(0, 1), name="cross_axis")
case(np.cross, R(2, 3, 1), R(2, 3), axisa=1, axisb=-1, argnums=(0, 1), name="cross_broadcast_axis")


def _sym(n, *batch):
    """Symmetric matrices with well-separated eigenvalues (not symmetric in the upper triangle)."""
    q = np.linalg.qr(rng.standard_normal(batch + (n, n)))[0]
    w = np.linspace(1.0, 2.0 * n, n) + rng.uniform(-0.2, 0.2, n)
    return q @ (w[:, None] * np.swapaxes(q, -1, -2)) + np.triu(R(*batch, n, n), 1)


case(np.linalg.svd, R(4, 3), full_matrices=False)
case(np.linalg.svd, R(3, 5), full_matrices=False, name="svd_wide")
case(np.linalg.svd, R(3, 3), name="svd_square")
case(np.linalg.svd, R(2, 4, 3), full_matrices=False, name="svd_batched")
case(np.linalg.svd, R(4, 3), compute_uv=False, name="svd_values")
case(np.linalg.eigh, _sym(3))
case(np.linalg.eigh, _sym(3, 2), name="eigh_batched")
case(np.linalg.eigh, _sym(4), "U", name="eigh_upper")
case(np.linalg.eigvalsh, _sym(3))
case(np.linalg.eigvalsh, _sym(3), UPLO="U", name="eigvalsh_upper")
case(np.linalg.cholesky, _sym(3))
case(np.linalg.cholesky, _sym(3, 2), name="cholesky_batched")
if "upper" in __import__("inspect").signature(np.linalg.cholesky).parameters:  # (numpy 2)
    case(np.linalg.cholesky, _sym(3), upper=True, name="cholesky_upper")
case(np.linalg.qr, R(4, 3))
case(np.linalg.qr, R(3, 3), name="qr_square")
case(np.linalg.qr, R(2, 4, 3), name="qr_batched")
case(np.linalg.qr, R(4, 3), "r", name="qr_r")
case(np.linalg.pinv, R(4, 3))
case(np.linalg.pinv, R(2, 4), name="pinv_wide")
case(np.linalg.pinv, M(2), name="pinv_batched")
case(np.linalg.lstsq, R(5, 3), R(5), argnums=(0, 1))
case(np.linalg.lstsq, R(5, 3), R(5, 2), argnums=(0, 1), name="lstsq_matrix")
case(np.linalg.lstsq, M(), R(3), argnums=(0, 1), name="lstsq_square")
case(np.linalg.lstsq, R(2, 4), R(2), argnums=(0, 1), name="lstsq_wide")
case(np.linalg.matrix_power, 0.5 * M(), 3)
case(np.linalg.matrix_power, M(2), 2, name="matrix_power_batched")
case(np.linalg.matrix_power, M(), -2, name="matrix_power_negative")
case(np.linalg.matrix_power, M(), 0, name="matrix_power_zero")
case(np.linalg.matrix_power, M(), 1, name="matrix_power_one")
case(np.linalg.multi_dot, [R(2, 3), R(3, 4), R(4, 2)])
case(np.linalg.multi_dot, [R(3), R(3, 4), R(4)], name="multi_dot_vectors")
case(np.linalg.multi_dot, [R(3), R(3, 2), R(2, 4), R(4, 2)], name="multi_dot_four")
_V = M()
_ev = np.linalg.solve(_V, np.diag([1.0, 2.5, 4.0]) @ _V)  # similar to diag: real, distinct
case(np.linalg.eig, _ev)
case(np.linalg.eig, np.array([[2.0, 1.0, 0.3], [0.5, -1.0, 0.2], [0.1, 0.4, 0.7]]), name="eig_real")


# ---------------------------------------------------------------- breadth helpers (grad of grad)
case(_sd.dense_items, (R(2), R(2, 2)), (R(2), R(2, 2)), name="dense_items_full")
case(_sd.refuse_if, R(3), False, "never")
_sconds = [R(2, 3) > 0.5, R(2, 3) > -0.5]
case(_sd.select_grads, R(2, 3), _sconds, [R(2, 3), R(3)], R(2, 3))
case(_sd.select_tangent, [R(2, 3), R(3)], _sconds, R(2, 3))
_ids = _sd.insert_ids(R(2, 3), 1, R(3), 0, 1)
case(_sd.route_grad, R(3, 3), _ids, R(3))
case(_sd.route_tangent, R(3), _ids, R(3))

case(_sd.aux_first, (R(3), R(2)))  # (main's has_aux rule had no case)
case(_sd.get_attribute, np.linalg.eigh(_sym(3)), "eigenvalues", name="get_attribute_eigh")
case(_sd.get_attribute, np.linalg.svd(R(3, 2), full_matrices=False), "Vh", name="get_attribute_svd")
nondiff_case(np.isposinf, np.array([1.0, 2.5, -3.0]))
nondiff_case(np.isneginf, np.array([1.0, 2.5, -3.0]))
nondiff_case(_sd.kron_operand_shape, R(3), R(2, 2))
nondiff_case(_sd.kron_split_shape, R(2, 3), R(3))
nondiff_case(_sd.kron_subscripts, R(2, 3), R(3), 0)
nondiff_case(_sd.rollaxis_inverse, 3, 2, 0)
nondiff_case(_sd.conv_pad_width, R(5), R(3), "same")
nondiff_case(_sd.cross_axis, -1, 0)
nondiff_case(_sd.insert_ids, R(2, 3), 1, R(3), 0, 1)
nondiff_case(_sd.select_default_mask, [R(2, 3) > 0], R(2, 3))
nondiff_case(_sd.poly_exponents, R(4))
nondiff_case(_sd.phi_mask, R(3, 3), True)
nondiff_case(_sd.eye_like, R(3))

# ---------------------------------------------------------------- breadth: scipy (skipped without it)
SCIPY_CASES = []
try:
    import scipy.linalg
    import scipy.special
    import scipy.stats
except ImportError:  # pragma: no cover
    scipy = None


def scase(prim, *args, argnums=(0,), name=None, **kwargs):
    """Add one case to SCIPY_CASES."""
    label = name or getattr(prim, "__name__", None) or type(prim).__name__
    SCIPY_CASES.append((prim, args, kwargs, argnums, f"scipy_{label}-{len(SCIPY_CASES)}"))


if scipy is not None:
    sp, st, sl = scipy.special, scipy.stats, scipy.linalg
    scase(sp.expit, R(2, 3))
    scase(sp.logit, rng.uniform(0.1, 0.9, (2, 3)))
    scase(sp.gammaln, P(2, 3))
    scase(sp.digamma, P(2, 3))
    scase(sp.polygamma, 1, P(2, 3), argnums=(1,))
    scase(sp.polygamma, np.array([0, 2]), P(3, 2), argnums=(1,), name="polygamma_orders")
    scase(sp.betaln, P(2, 3), P(3), argnums=(0, 1))
    scase(sp.erf, R(2, 3))
    scase(sp.erfc, R(2, 3))
    scase(sp.ndtr, R(2, 3))
    scase(sp.log_ndtr, 3.0 * R(2, 3))
    scase(sp.xlogy, R(2, 3), P(3), argnums=(0, 1))
    scase(sp.xlogy, np.array([0.0, 1.5, -0.5]), P(3), argnums=(0, 1), name="xlogy_zero")
    scase(sp.xlog1py, R(2, 3), P(2, 3), argnums=(0, 1))
    scase(sp.logsumexp, R(3, 4))
    scase(sp.logsumexp, R(3, 4), 1, name="logsumexp_axis")
    scase(sp.logsumexp, R(3, 4), axis=0, keepdims=True, name="logsumexp_keepdims")
    scase(sp.logsumexp, R(3, 4), 1, P(3, 4), argnums=(0, 2), name="logsumexp_b")
    scase(sp.logsumexp, R(2, 3, 4), (0, 2), P(4), True, argnums=(0, 2), name="logsumexp_b_bcast")
    scase(sp.softmax, R(3, 4))
    scase(sp.softmax, R(3, 4), axis=1, name="softmax_axis")
    scase(sp.log_softmax, R(3, 4))
    scase(sp.log_softmax, R(3, 4), axis=0, name="log_softmax_axis")
    for _f in (st.norm.logpdf, st.norm.pdf, st.norm.cdf, st.norm.logcdf):
        scase(_f, R(2, 3), name=f"norm_{_f.__name__}")
        scase(_f, R(2, 3), R(3), P(2, 1), argnums=(0, 1, 2), name=f"norm_{_f.__name__}_loc_scale")
        scase(_f, R(3), loc=0.3, scale=1.7, name=f"norm_{_f.__name__}_keywords")
    scase(st.t.logpdf, R(2, 3), 2.0 + P(3), R(3), P(2, 1), argnums=(0, 1, 2, 3))
    scase(st.t.logpdf, R(4), 3.5, name="t_logpdf_df")
    _cov = _sym(3)  # scipy reads the lower triangle (the upper one is not symmetric)
    scase(st.multivariate_normal.logpdf, R(3), R(3), _cov, argnums=(0, 1, 2))
    scase(st.multivariate_normal.logpdf, R(4, 3), R(3), _cov, argnums=(0, 1, 2), name="mvn_batch")
    scase(st.multivariate_normal.logpdf, R(4, 3), R(3), P(3), argnums=(0, 1, 2), name="mvn_diag")
    scase(st.multivariate_normal.logpdf, R(2, 3), R(3), S(), argnums=(0, 1, 2), name="mvn_scalar")
    _tri = M() + np.tril(R(3, 3)) + 2.0 * np.eye(3)
    scase(sl.solve_triangular, _tri, R(3), argnums=(0, 1))
    scase(sl.solve_triangular, _tri, R(3, 2), lower=True, argnums=(0, 1), name="solve_tri_lower")
    scase(sl.solve_triangular, _tri, R(3, 2), 1, True, argnums=(0, 1), name="solve_tri_trans")
    scase(sl.solve_triangular, _tri, R(3), trans="T", unit_diagonal=True, argnums=(0, 1),
          name="solve_tri_unit")
    _spd = _sym(3).T.copy()  # cho_factor reads the upper triangle (the lower one is not symmetric)
    scase(sl.cho_factor, _spd)
    scase(sl.cho_factor, _spd.T.copy(), True, name="cho_factor_lower")
    scase(sl.cho_solve, (sl.cho_factor(_spd)[0], False), R(3), argnums=(1,))
    scase(sl.cho_solve, (sl.cho_factor(_spd.T.copy(), lower=True)[0], True), R(3, 2), argnums=(1,),
          name="cho_solve_lower")
    scase(sl.expm, 0.5 * R(3, 3))
    scase(sl.expm, 0.5 * R(2, 3, 3), name="expm_batched")
    scase(_sd.lse_b, P(3))


# ---------------------------------------------------------------- the dot family's helpers (at the
# end, so the values drawn for the cases above stay as they were)
case(_sd.dot_grad_left, R(2, 4), "ab,bd->ad", R(2, 3), R(3, 4), argnums=(0, 3))
case(_sd.dot_grad_left, S(), "a,a->", R(3), R(3), argnums=(0, 3), name="dot_grad_left_vec")
case(_sd.dot_grad_left, R(2, 3, 2, 3), "abc,dce->abde", R(2, 3, 4), R(2, 4, 3), argnums=(0, 3),
     name="dot_grad_left_nd")
case(_sd.dot_grad_left, R(2, 5), "abc,bcd->ad", R(2, 3, 4), R(3, 4, 5), argnums=(0, 3),
     name="dot_grad_left_tensordot")
case(_sd.dot_grad_right, R(2, 4), "ab,bd->ad", R(2, 3), R(3, 4), argnums=(0, 2))
case(_sd.dot_grad_right, R(2), "ab,b->a", R(2, 3), R(3), argnums=(0, 2), name="dot_grad_right_mv")
case(_sd.dot_grad_right, R(2, 3), "ab,cb->ac", R(2, 4), R(3, 4), argnums=(0, 2),
     name="dot_grad_right_inner")
case(_sd.contract, "ab,bd->ad", R(2, 3), R(3, 4), argnums=(1, 2))
case(_sd.contract, "abc,dce->abde", R(2, 3, 4), R(2, 4, 3), argnums=(1, 2), name="contract_nd")


# (added last: the cases above keep the random inputs they drew)
case(_sd.sum_each, [R(3), R(3)], [R(3), R(3)])
case(_sd.sum_each, R(4), R(4), name="sum_each_array")
nondiff_case(_sd.loop_length, R(3), "f.py:1", "for v in x:")
nondiff_case(_sd.check_unpack, R(2), 2, "f.py:1", "a, b = x")
case(_sd.assigned_items_grad, R(2, 3), [S(), S(), S()])
case(_sd.assigned_items_adjoint, [S(), S()], R(3, 2), [S(), S()])
case(_sd.copy_param, R(3), (R(2),), ("y",), "x", "f (f.py:1)", argnums=(0,))
case(_sd.copy_held, R(3), "x", "f (f.py:1)", argnums=(0,))
case(_sd.handed_out, R(3), (), argnums=(0,))
# (the adjoint of lst.pop() and what lst[k] = v / d[k] = v overwrites: forward mode over gradients
# of functions that pop from lists or write into dicts and lists in loops)
case(_sd.push_grad, [R(2), R(3)], R(2), [R(2), R(3)], argnums=(0, 1))
case(_sd.saved_item, [R(2), R(3)], 1, argnums=(0,))
case(_sd.saved_item, {"a": R(2), "b": R(3)}, "b", argnums=(0,), name="saved_item_dict")
# (complex values in between: conj, imag and the real-arguments check; tests/test_complex.py checks
# them at complex values)
case(np.ndarray.conj, R(3))
case(np.ndarray.conjugate, R(2, 3))
case(np.imag, R(3))
case(np.ndarray.imag, R(2, 3))
case(_sd.real_only, R(3), "abs")
# np.take's modes: indices out of range wrap around or clip to the ends (the gradient raised
# IndexError where numpy's value was fine)
case(np.take, R(3, 4), [0, 13, -15], mode="wrap", name="take_wrap")
case(np.take, R(3, 4), np.array([[0, 7], [-2, 1]]), axis=1, mode="clip", name="take_clip")
case(_sd.take_grad, R(2, 3), R(2, 4), np.array([0, 5, -3]), 1, "wrap", name="take_grad_wrap")
# sorted(): a permutation of the items (list, tuple or array; key= and reverse= decide it)
case(builtins.sorted, [S(), S(), S()])
case(builtins.sorted, R(4), reverse=True, name="sorted_array_reverse")
case(_sd.sorted_grad, [S(), S(), S()], [S(), S(), S()], argnums=(0,))
case(_sd.sorted_grad, R(3), R(3), None, True, argnums=(0,), name="sorted_grad_array")
case(_sd.sorted_tangent, [S(), S(), S()], [S(), S(), S()], argnums=(0,))
nondiff_case(np.around, spaced(2, 3), 1)  # (numpy's other name of np.round: it was refused)
# (runtime helpers the specializer evaluates on stand-ins: tests/test_rule_facts.py checks each)
nondiff_case(_sd.check_wrt, spaced(2, 3), "x", "f (f.py:1)")
# nanmax / nanmin (tests/test_everyday_python.py checks them with NaN entries too)
case(np.nanmax, spaced(3, 4), axis=1, name="nanmax_axis")
case(np.nanmin, spaced(3, 4))
case(np.nanmax, _nan_a, axis=1, name="nanmax_nan")
# the cofactor matrix, det's gradient (also at singular matrices; its rules are det's second order)
case(_sd.cofactor, M())
case(_sd.cofactor, M(2), name="cofactor_batched")
# (the mask of eigh's rule at repeated eigenvalues; piecewise constant)
nondiff_case(_sd.degenerate_nan, spaced(2, 2), R(2, 2), R(2, 2))
# cumprod's helpers: values moved along an axis, and the linear recurrence (both directions)
case(_sd.shifted, R(3, 4), 1, 1, argnums=(0,))
case(_sd.shifted, R(5), -2, None, 1.0, argnums=(0, 3), name="shifted_back_filled")
case(_sd.scan, R(3, 5), R(3, 5), 1, argnums=(0, 1))
case(_sd.scan, R(6), R(6), None, True, argnums=(0, 1), name="scan_reverse")
case(_sd.scan, R(4, 3), R(4, 3), 0, True, argnums=(0, 1), name="scan_reverse_axis0")
# logsumexp's entries scaled by b = 0 leave its gradient (their exp may overflow)
case(_sd.lse_exp, R(3), R(1), np.array([1, 0, 2]), argnums=(0, 1))  # (b: only its zeros count)
case(_sd.lse_exp, R(2, 3), R(2, 1), argnums=(0, 1), name="lse_exp_no_scale")
# a cast's gradient: passed through for a float result, zero for an integer one
case(_sd.cast_grad, R(2, 3), R(2, 3), argnums=(0,))
case(_sd.cast_grad, R(2, 3), np.arange(6).reshape(2, 3), argnums=(0,), name="cast_grad_int")
# np.pad's tangent in the modes where the padding is linear in the array
case(_sd.pad_tangent, R(3, 4), 1, argnums=(0,))
case(_sd.pad_tangent, R(3, 4), ((1, 2), (0, 1)), "constant", {"constant_values": 2.0},
     argnums=(0,), name="pad_tangent_constant_values")
# np.delete, np.meshgrid (a tuple of outputs), np.cov (weights are constants), np.cumulative_sum
case(np.delete, R(3, 4), 1, axis=1)
case(np.delete, R(5), [0, 3], name="delete_flat")
case(np.delete, R(2, 3), np.array([True, False, True]), axis=1, name="delete_mask")
case(np.meshgrid, R(3), R(2), argnums=(0, 1))
case(np.meshgrid, R(3), R(2), R(4), indexing="ij", argnums=(0, 1, 2), name="meshgrid_ij")
case(np.meshgrid, R(3), R(2), sparse=True, argnums=(0, 1), name="meshgrid_sparse")
case(np.meshgrid, R(2, 2), R(3), argnums=(0, 1), name="meshgrid_2d_input")
case(np.cov, R(3, 5))
case(np.cov, R(6, 2), rowvar=False, name="cov_columns")
case(np.cov, R(5), R(5), argnums=(0, 1), name="cov_xy")
case(np.cov, R(2, 6), R(6), ddof=0, argnums=(0, 1), name="cov_m_y_ddof")
case(np.cov, R(3, 5), aweights=P(5), name="cov_aweights")
case(np.cov, R(3, 5), fweights=np.array([1, 2, 1, 3, 1]), aweights=P(5), name="cov_weights")
case(np.cov, R(4), bias=True, name="cov_1d")
case(np.cov, R(5, 3), R(5, 2), rowvar=False, argnums=(0, 1), name="cov_columns_xy")
if hasattr(np, "cumulative_sum"):  # (numpy 2.1)
    case(np.cumulative_sum, R(3, 4), axis=1)
    case(np.cumulative_sum, R(5), include_initial=True, name="cumulative_sum_initial")
    case(np.cumulative_sum, R(2, 3), axis=0, include_initial=True, name="cumulative_sum_axis0")
# ufunc methods with rules: reduce (axis 0 by default) and accumulate
case(np.add.reduce, R(3, 4), name="add_reduce")
case(np.add.reduce, R(2, 3), axis=None, name="add_reduce_all")
case(np.multiply.reduce, P(3, 4), axis=1, keepdims=True, name="multiply_reduce")
case(np.maximum.reduce, spaced(3, 4), axis=1, name="maximum_reduce")
case(np.minimum.reduce, spaced(4, 2), name="minimum_reduce")
case(np.logaddexp.reduce, R(3, 4), axis=1, name="logaddexp_reduce")
case(np.logaddexp.reduce, R(5), name="logaddexp_reduce_1d")
case(np.add.accumulate, R(3, 4), axis=1, name="add_accumulate")
case(np.multiply.accumulate, P(3, 4), name="multiply_accumulate")
case(np.multiply.accumulate, R(2, 5), axis=1, name="multiply_accumulate_axis1")
# NaN-skipping statistics (a NaN element gets no gradient) and take_along_axis (repeats add up)
case(np.nanvar, _nan_a)
case(np.nanvar, _nan_a, axis=1, ddof=1, name="nanvar_axis_ddof")
case(np.nanvar, _nan_a, axis=0, keepdims=True, name="nanvar_keepdims")
case(np.nanstd, _nan_a)
case(np.nanstd, _nan_a, axis=1, name="nanstd_axis")
case(np.nanstd, _nan_a, axis=0, ddof=1, keepdims=True, name="nanstd_keepdims")
case(np.nanprod, np.where(np.isnan(_nan_a), np.nan, P(3, 4)))
case(np.nanprod, np.where(np.isnan(_nan_a), np.nan, P(3, 4)), axis=1, keepdims=True,
     name="nanprod_axis")
case(np.nancumsum, _nan_a)
case(np.nancumsum, _nan_a, axis=1, name="nancumsum_axis")
case(np.nancumprod, np.where(np.isnan(_nan_a), np.nan, P(3, 4)), axis=0, name="nancumprod_axis")
case(np.nancumprod, np.where(np.isnan(_nan_a), np.nan, P(3, 4)), name="nancumprod_flat")
case(np.take_along_axis, R(3, 4), np.array([[0, 0, 3], [1, 2, 2], [3, 3, 0]]), axis=1)
case(np.take_along_axis, R(3, 4), np.array([[2, 0, 2, 1]]), axis=0, name="take_along_broadcast")
case(np.take_along_axis, R(2, 3), np.array([5, 0, 5, -1]), axis=None, name="take_along_flat")
case(_sd.take_along_grad, R(3, 2), R(3, 4), np.array([[0, 0], [1, 3], [3, 2]]), 1,
     argnums=(0,))
# sliding windows (overlapping: an element's gradient sums its windows) and weighted bincount
case(np.lib.stride_tricks.sliding_window_view, R(5, 4), (3, 2))
case(np.lib.stride_tricks.sliding_window_view, R(6), 3, name="sliding_window_view_1d")
case(np.lib.stride_tricks.sliding_window_view, R(3, 5), 2, axis=1, name="sliding_window_axis")
case(_sd.windows_grad, R(3, 3, 2, 2), R(4, 4), (2, 2), argnums=(0,))
# as_strided views written by hand (float64: strides of 8 bytes per element), im2col's windows
case(np.lib.stride_tricks.as_strided, R(6), (4, 3), (8, 8), name="as_strided_windows")
case(np.lib.stride_tricks.as_strided, R(4, 5), (2, 3, 3, 3), (40, 8, 40, 8),
     name="as_strided_im2col")
case(_sd.strided_grad, R(4, 3), R(6), (4, 3), (8, 8), argnums=(0,))
case(_sd.strided_take, R(6), R(6), (4, 3), (8, 8), argnums=(0,))
case(np.bincount, np.array([0, 2, 2, 1, 0, 3, 2]), R(7), minlength=5, argnums=(1,))
# np.add.at as the compiler writes it (repeated indices add up; values broadcast)
case(_sd.add_at, R(4, 3), np.array([0, 2, 2]), R(3, 3), argnums=(0, 2))
case(_sd.add_at, R(5), np.array([1, 1, 4]), R(1), argnums=(0, 2), name="add_at_broadcast")
# np.cross of 2-vectors (the z component of two; a 2-vector with a 3-vector) and its helpers
# (numpy 2.0 deprecated 2-vectors in np.cross, and a later numpy refuses them: no cases there)
def numpy_crosses_2_vectors():
    """Whether this numpy computes np.cross of 2-vectors (tests/test_review23.py reads it too)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            np.cross(np.ones(2), np.ones(2))
        except ValueError:
            return False
    return True


if numpy_crosses_2_vectors():
    case(np.cross, R(2), R(2), argnums=(0, 1), name="cross_2_vectors")
    case(np.cross, R(4, 2), R(3), argnums=(0, 1), name="cross_2_with_3")
    case(np.cross, R(2, 4), R(4, 2), axisa=0, argnums=(0, 1), name="cross_2_axisa")
case(_sd.cross_vec3, R(4, 2))
case(_sd.cross_vec3, R(3), name="cross_vec3_of_3")
case(_sd.cross_cotangent, R(4), R(4, 2), R(2), -1)
case(_sd.cross_cotangent, R(3, 4), R(4, 3), R(3), 0, name="cross_cotangent_axisc")
case(_sd.cross_cotangent_adjoint, R(4, 3), R(4, 2), R(2), -1)
case(_sd.cross_cotangent_adjoint, R(4, 3), R(4, 3), R(3), 0, name="cross_cotangent_adjoint_axisc")
# the tangent of a ravel read in the primal's layout (order 'A' and 'K': the cases here are of
# C-contiguous arrays, as the checks' perturbed copies are; tests/test_review23.py has the others)
case(_sd.ravel_tangent, R(3, 4), R(3, 4), "A", name="ravel_tangent_A")
case(_sd.ravel_tangent, R(3, 4), R(3, 4), "K", name="ravel_tangent_K")
case(_sd.ravel_tangent, R(2, 3), R(2, 3), "F", name="ravel_tangent_F")
nondiff_case(_sd.layout_axes, R(4, 3))
nondiff_case(_sd.reshape_order, R(4, 3), "A")
# x.item(k), x.item(i, j), x.item((i, j)): the element at that index (review24)
case(np.ndarray.item, R(2, 3), 4, name="item_flat_index")
case(np.ndarray.item, R(2, 3), 1, 0, name="item_multi_index")
case(np.ndarray.item, R(2, 3), (0, 2), name="item_index_tuple")
nondiff_case(_sd.item_index, R(2, 3), (4,), name="item_index")
# np.exp(x, out=a), np.copyto(a, v), a.fill(v) as the compiler writes them (a = write_into(a, v))
case(_sd.write_into, R(2, 3), R(2, 3), argnums=(1,))
case(_sd.write_into, R(2, 3), R(3), argnums=(1,), name="write_into_broadcast")
# math.lgamma, math.gamma and scipy.special.gamma (their rules need scipy's digamma)
if scipy is not None:
    scase(math.lgamma, 2.5)
    scase(math.gamma, 1.7)
    scase(sp.gamma, P(2, 3))
# max(xs, key=f): the position of the item where f is largest (compiler/lowering.py)
nondiff_case(_sd.key_extremum, [R(2), R(2), R(2)], np.sum, True, name="key_extremum")
# np.fft (review27): complex results are paired with real weights and their real part taken
case(np.fft.fft, R(6))
case(np.fft.fft, R(2, 5), 7, 0, "ortho", name="fft_padded_axis0")
case(np.fft.ifft, R(6), 4, name="ifft_cut")
case(np.fft.rfft, R(8))
case(np.fft.rfft, R(7), 9, norm="forward", name="rfft_odd_padded")
case(np.fft.fft2, R(3, 4))
case(np.fft.fftn, R(3, 4), (4, 3), (0, 1), name="fftn_s")
case(np.fft.ifft2, R(3, 4), name="ifft2")
case(np.fft.ifftn, R(2, 3, 2), None, (0, 2), name="ifftn_axes")
case(np.fft.irfft, R(5))
case(np.fft.irfft, R(5), 7, name="irfft_odd")
case(np.fft.irfft, R(2, 4), 5, 0, "ortho", name="irfft_axis0_cut")
case(np.fft.fftshift, R(5))
case(np.fft.ifftshift, R(4, 3), 0, name="ifftshift_axis")
case(_sd.spectrum_fit, R(6), R(4), (0,))
case(_sd.spectrum_fit, R(3, 2), R(3, 5), (1,), name="spectrum_fit_pad")
# np.pad's modes that copy entries (review27): the gradient adds each padded entry to its source
case(np.pad, R(3, 4), ((1, 2), (2, 1)), "wrap", name="pad_wrap")
case(np.pad, R(5), 3, "edge", name="pad_edge")
case(np.pad, R(3, 4), ((0, 2), (1, 1)), "reflect", name="pad_reflect")
case(np.pad, R(4), (3, 2), "symmetric", name="pad_symmetric")
case(_sd.pad_grad, R(8, 9), R(3, 4), ((1, 4), (2, 3)), "wrap", name="pad_grad_wrap")
case(_sd.pad_grad, R(9), R(4), (3, 2), "reflect", name="pad_grad_reflect")
nondiff_case(_sd.flipped_trans, "T")
nondiff_case(_sd.trans_axes, 1)
nondiff_case(_sd.column_shape, R(3, 2))
nondiff_case(_sd.triangle_mask, R(3, 3), True, True)
nondiff_case(_sd.spectrum_axes, R(3, 4), (4,))
nondiff_case(_sd.spectrum_length, R(5), None, -1)
nondiff_case(_sd.hermitian_weights, R(2, 6), 1)
# a[i][j] = v as the compiler writes it (review32): new = item_to_write(a[i], a, where); new[j] = v
case(_sd.item_to_write, R(2, 3), [R(3)], "f.py:1", name="item_to_write")
# ... into a tuple t (review55): t = with_item(t, i, new)
case(_sd.with_item, (R(3), R(2)), 1, R(2), argnums=(0, 2), name="with_item")
# d.get(k, default) on a local or parameter (review32): d[k] where d holds k, else default
case(_sd.dict_get, {"a": R(2), "b": S()}, "a", R(2), argnums=(0, 2), name="dict_get_held")
case(_sd.dict_get, {"a": R(2), "b": S()}, "c", R(2), argnums=(0, 2), name="dict_get_default")
case(_sd.dict_get_tangent, {"a": R(2), "b": S()}, {"a": R(2), "b": S()}, "a")
case(_sd.dict_default_grad, R(2), {"a": R(2)}, "c")
case(_sd.dict_get_grad, [R(2), S()], {"a": [R(2), S()]}, "a")  # (a list: not in the suite)
# np.put, np.place, np.putmask, np.fill_diagonal as the compiler writes them (review30):
# a[positions] = cycled(v, shape), v's entries repeated over the positions
case(_sd.cycled, R(2), (5,), argnums=(0,))
case(_sd.cycled, R(2, 3), (3, 3), argnums=(0,), name="cycled_2d")
case(_sd.uncycled, R(7), R(3), argnums=(0,))
nondiff_case(_sd.put_positions, R(3, 2), np.array([0, -1, 7]), "wrap")
nondiff_case(_sd.diagonal_positions, R(5, 2), True)
nondiff_case(_sd.positions_shape, (np.array([0, 2]), np.array([1, 1])))
nondiff_case(_sd.along_axis_positions, np.zeros((2, 3)), np.array([[2], [0]]), 1)
nondiff_case(_sd.along_axis_positions, np.zeros((2, 3)), np.array([4, -1]), None)
nondiff_case(_sd.sorts_an_array, R(3), "a.sort()")
nondiff_case(_sd.check_list_method, [1.0, 2.0], "lst.reverse()", "f.py:1", "lst.reverse()")
nondiff_case(_sd.pop_position, [1.0, 2.0, 3.0], -1)
nondiff_case(_sd.remove_position, [1.0, 2.0, 3.0], 2)  # (an int: 2.0 moved would be in no slot)
nondiff_case(_sd.same_module, np, np, "xp", "np", "f.py:1")  # (def f(x, xp=np))
nondiff_case(_sd.piecewise_conditions, np.linspace(-1.0, 1.0, 5),
             [np.linspace(-1.0, 1.0, 5) < 0], 2)  # (np.piecewise's masks)
# scipy.stats location-scale families and poisson (review30)
if scipy is not None:
    st = scipy.stats
    for _f in (st.gamma.logpdf, st.gamma.pdf):
        scase(_f, 0.6 + P(2, 3), 1.0 + P(3), R(1) * 0.1, P(2, 1), argnums=(0, 1, 2, 3),
              name=f"gamma_{_f.__name__}")
    for _f in (st.beta.logpdf, st.beta.pdf):
        scase(_f, rng.uniform(0.2, 0.8, (2, 3)), 1.0 + P(3), 1.0 + P(2, 1), argnums=(0, 1, 2),
              name=f"beta_{_f.__name__}")
        scase(_f, rng.uniform(0.2, 0.8, 3), 2.0, 3.0, -0.1, 1.3, argnums=(0, 3, 4),
              name=f"beta_{_f.__name__}_loc_scale")
    for _f in (st.expon.logpdf, st.expon.pdf, st.laplace.logpdf):
        scase(_f, P(2, 3), R(3) * 0.1, P(2, 1), argnums=(0, 1, 2),
              name=f"{_f.__self__.name}_{_f.__name__}")
    for _f in (st.lognorm.logpdf, st.lognorm.pdf):
        scase(_f, P(2, 3), P(3), R(1) * 0.1, P(2, 1), argnums=(0, 1, 2, 3),
              name=f"lognorm_{_f.__name__}")
    for _f in (st.poisson.logpmf, st.poisson.pmf):
        scase(_f, np.array([[0, 2, 5], [1, 1, 3]]), P(3) * 2.0, argnums=(1,),
              name=f"poisson_{_f.__name__}")
# running maximum / minimum (review30)
case(np.maximum.accumulate, R(7))
case(np.minimum.accumulate, R(3, 4), 1, name="minimum_accumulate_axis1")
case(np.maximum.accumulate, R(4, 3), axis=0, name="maximum_accumulate_kw")
nondiff_case(_sd.running_arg, np.maximum.accumulate(R(5)), R(5))
# scipy.signal.convolve2d / correlate2d (review30), every mode, either input the larger
if scipy is not None:
    import scipy.signal
    for _f in (scipy.signal.convolve2d, scipy.signal.correlate2d):
        scase(_f, R(3, 4), R(2, 3), argnums=(0, 1), name=f"{_f.__name__}_full")
        scase(_f, R(4, 4), R(2, 2), "same", argnums=(0, 1), name=f"{_f.__name__}_same_even")
        scase(_f, R(3, 4), R(5, 6), "same", argnums=(0, 1), name=f"{_f.__name__}_same_small")
        scase(_f, R(5, 4), R(3, 3), "valid", argnums=(0, 1), name=f"{_f.__name__}_valid")
        scase(_f, R(2, 3), R(4, 5), mode="valid", argnums=(0, 1), name=f"{_f.__name__}_valid_swap")
case(_sd.centered_into, R(3, 4), R(4, 4), R(2, 2), 1, argnums=(0,))
case(_sd.centered_part, R(5, 5), R(3, 4), R(4, 4), R(2, 2), argnums=(0,))
nondiff_case(_sd.zero_fill, "fill", 0, "scipy.signal.convolve2d")
# np.linalg.cond (p None, 2, -2) and np.linalg.eigvals (real distinct eigenvalues) (review30)
case(np.linalg.cond, R(3, 3))
case(np.linalg.cond, R(2, 4, 3), -2, name="cond_batched_inverse")
case(np.linalg.cond, R(3, 5), 2, name="cond_wide")
case(np.linalg.eigvals, np.array([[2.0, 1.0, 0.3], [0.5, -1.0, 0.2], [0.1, 0.4, 0.7]]))
nondiff_case(_sd.cond_sign, -2)
# statistics.mean / fmean (review30)
case(statistics.mean, R(5))
case(statistics.fmean, R(4))
nondiff_case(_sd.unweighted_count, R(3))

# review31: the adjoint of scatter in its gradient (an array item; a dict or list gradient works by key)
case(_sd.scattered_item, R(3, 2), 1)
# np.fmax / np.fmin skip a nan in the other argument: that argument's whole gradient (review33)
case(np.fmax, R(2, 3), np.array([np.nan, 0.5, np.nan]), name="fmax_skips_nan")
case(np.fmin, np.array([[np.nan], [0.3]]), R(2, 3), argnums=(1,), name="fmin_skips_nan")
nondiff_case(_sd.fwin_mask, spaced(2, 3), spaced(2, 3) + 0.05)
case(_sd.check_real, R(2, 3), "where", name="check_real")  # (review33: a full reduction's operand)
# review34: an argument a constructor stored as it is gets its attribute's gradient (State(q, p);
# a namedtuple's gradient read by field position; 1 is the value stored there)
case(_sd.constructed_grad, R(2, 3), __import__("collections").namedtuple("T", "a b")(1, 2),
     ((0,),), 1, "where", "text")

# review36: scipy.special's log_expit, entr, rel_entr, kl_div, erfcx, the modified Bessel
# functions (and np.i0) and softplus, every mode (the Bessel derivatives at 0 too: i1(x) / x -> 1/2)
if scipy is not None:
    sp = scipy.special
    case(sp.log_expit, R(2, 3))
    case(sp.entr, P(2, 3))
    case(sp.rel_entr, P(2, 3), P(3), argnums=(0, 1))
    case(sp.kl_div, P(3), P(2, 3), argnums=(0, 1))
    case(sp.erfcx, R(2, 3))
    for _f in (sp.i0, sp.i1, sp.i0e, sp.i1e):
        case(_f, R(2, 3))
        if _f is not sp.i0e:  # (exp(-|x|) i0(x) has a corner at 0)
            case(_f, np.array([0.0, -1.5, 2.0]), name=f"{_f.__name__}_at_zero")
    case(np.i0, R(4))
    if hasattr(sp, "softplus"):
        case(sp.softplus, R(2, 3))
    # logsumexp with return_sign=True: (log |sum b exp(a)|, sign), a and b differentiable
    case(sp.logsumexp, np.array([[0.3, 1.2, -0.4], [2.0, 0.1, 0.7]]), 1,
         np.array([1.0, -2.0, 0.5]), argnums=(0, 2), return_sign=True, name="logsumexp_sign")
# review36: np.nanmedian / np.nanquantile / np.nanpercentile: quantiles of each row's non-NaN
# entries (a NaN entry gets no gradient; the rows have different counts)
_nan_rows = spaced(3, 5)
_nan_rows[0, 1] = _nan_rows[1, 3] = _nan_rows[1, 0] = np.nan
case(np.nanmedian, _nan_rows, axis=1, name="nanmedian_rows")
case(np.nanmedian, _nan_rows, name="nanmedian_all")
case(np.nanquantile, _nan_rows, np.array([0.2, 0.65]), axis=1, argnums=(0, 1),
     name="nanquantile_rows")
case(np.nanpercentile, _nan_rows, 40.0, axis=0, keepdims=True, argnums=(0, 1),
     name="nanpercentile_keepdims")
# review36: np.diff with prepend= / append= (a scalar repeated along the other axes, or an
# array), and np.ediff1d with to_begin / to_end: every operand differentiable
case(np.diff, R(3, 4), 1, 0, R(1, 4), argnums=(0, 3), name="diff_prepend_positional")
case(np.diff, R(3, 4), argnums=(0,), n=2, axis=1, append=0.7, name="diff_append_constant")
case(np.ediff1d, R(2, 3), R(2), argnums=(0, 1), name="ediff1d_to_end")
case(np.ediff1d, R(4), None, R(1, 2), argnums=(0, 2), name="ediff1d_to_begin")
case(np.ediff1d, R(5), name="ediff1d_plain")
if scipy is not None:  # (the sign logsumexp's return_sign=True gives, shaped against a)
    nondiff_case(_sd.lse_sign, (np.zeros(2), np.array([1.0, -1.0])), R(2, 3), 1, False, True)
# (review37: the check that an attribute still holds the layers __init__ stored, inline.py)
nondiff_case(_sd.check_held_class, R(2), np.ndarray, "f.py:1", "self.layers: Model.__init__")
# review38: the random draws' standard draw (ans - loc) / scale, refused at a scale of 0
case(_sd.standard_draw, R(2, 3), R(3), P(2, 1), argnums=(0, 1, 2))
# review38: the normal quantile and the incomplete gamma / t / beta functions (in their last
# argument; gammainc also in a), which scipy.stats' cdf, sf and ppf are written in
if scipy is not None:
    sp = scipy.special
    case(sp.ndtri, rng.uniform(0.05, 0.95, (2, 3)))
    case(sp.gammainc, P(2, 3), P(3), argnums=(0, 1))
    case(sp.gammaincc, P(3), P(2, 3), argnums=(0, 1))
    case(sp.stdtr, np.array([3, 4, 7]), R(2, 3), argnums=(1,))  # (df, a, b: not differentiated)
    case(sp.betainc, np.array([2, 3, 1]), np.array([1, 2, 4]), rng.uniform(0.1, 0.9, (2, 3)),
         argnums=(2,))
    nondiff_case(_sd.scale_check, np.array([1.5, -0.2, 0.3]))
    nondiff_case(_sd.unit_check, np.array([0.5, -0.2, 0.9, 1.5]))
    nondiff_case(_sd.gammainc_terms, P(2, 3))
# review38: np.gradient's coordinate gradients (0 without coordinate arrays: the helper's rule)
case(_sd.gradient_coordinate_grads, R(5), R(5), (0.5,), argnums=(0, 1))
# the stand-in saved of a value the backward sweep reads only for its type, shape and dtype
# (compiler/saves.py)
nondiff_case(_sd.like_of, R(2, 3))
# the check of an operation declared without a derivative that may run a class's own method
# (compiler/dispatched.py): the result itself, for arrays
nondiff_case(_sd.without_derivative, R(2, 3) > 0.0, ">", R(2, 3))
# review84: x.take (np.take's rule), x.round (piecewise constant), np.add.reduceat's 0/1 matrix
case(np.ndarray.take, R(3, 4), [0, 2, 2])
case(np.ndarray.take, R(3, 4), np.array([[0, 3], [3, 1]]), axis=1)
nondiff_case(np.ndarray.round, spaced(2, 3), 1)
nondiff_case(_sd.reduceat_weights, [0, 2, 1, 3], 5)
# list(seq), lowered to [v for v in _sd.iterated(seq)] (review84): a list read item by item, an
# array by rows (a dict's keys carry no derivative: tests/test_review84.py)
case(_sd.iterated, [R(2), S()])
case(_sd.iterated, R(3, 2), name="iterated_rows")
case(_sd.iterated_grad, [R(2), S()], [R(2), S()])
