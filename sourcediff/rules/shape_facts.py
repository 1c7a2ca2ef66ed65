"""What the specializer may learn of numpy's functions, ndarray's methods and the runtime's helpers
by calling them on stand-ins (the ``shapes`` and ``shape_args`` facts of :class:`registry.Facts`).

A function declared ``shapes="evaluate"`` gives a result whose type, shape and dtype follow from
those of its arguments (and the values of its integer arguments, such as ``axis``): the specializer
calls it on stand-in arrays of the arguments' shapes and dtypes to learn them. Where the values of
some arguments decide the shape (``np.reshape(x, newshape)``, ``np.zeros(shape)``), ``shape_args``
names them and they must be known exactly. Rules of other libraries declare the same facts where
they are registered (``scipy.special.logsumexp``, ``np.linalg.inv``).
"""

import numpy as np

from .. import runtime as _sd
from .registry import deffacts, present

deffacts(*present(
    np, "sum", "mean", "max", "min", "amax", "amin", "prod", "std", "var", "argmax", "argmin",
    "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze", "broadcast_to", "concatenate",
    "stack", "hstack", "vstack", "clip", "dot", "matmul", "outer", "inner", "vdot", "einsum",
    "tensordot", "zeros_like", "ones_like", "full_like", "empty_like", "diag", "diagonal", "trace",
    "cumsum", "cumprod", "flip", "roll", "sort", "argsort", "ravel", "atleast_1d", "atleast_2d",
    "asarray", "array", "take", "triu", "tril", "diff", "kron", "where", "float64", "float32",
    "copy", "real", "conj", "around", "round", "sinc", "cross", "nansum", "nanmean", "nanmax",
    "nanmin"), shapes="evaluate")
# (np.where(condition) alone gives indices, which depend on the values: the specializer takes
# np.where's facts only with its three arguments)

# values in these positions decide the result's shape: they must be known exactly
deffacts(np.reshape, shapes="evaluate", shape_args=(1, "newshape", "shape"))
deffacts(np.repeat, shapes="evaluate", shape_args=(1, "repeats"))
deffacts(np.tile, shapes="evaluate", shape_args=(1, "reps"))
deffacts(np.pad, shapes="evaluate", shape_args=(1, "pad_width"))
deffacts(np.zeros, np.ones, np.full, np.empty, shapes="evaluate", shape_args=(0, "shape"))
deffacts(np.arange, np.linspace, np.eye, shapes="evaluate", shape_args="all")

# ndarray's methods (x.sum(axis=1), x.reshape(n, -1)): the specializer calls them on a stand-in
deffacts(*present(
    np.ndarray, "sum", "mean", "max", "min", "prod", "std", "var", "argmax", "argmin", "reshape",
    "transpose", "swapaxes", "squeeze", "ravel", "flatten", "copy", "astype", "cumsum", "cumprod",
    "dot", "clip", "round", "conj", "item", "repeat"), shapes="evaluate")

# the runtime's helpers whose result follows from the types, shapes and dtypes of their arguments
deffacts(*present(
    _sd, "unbroadcast", "unreduce", "keep", "grad_like", "zeros_like_grad", "check_scalar",
    "check_real",
    "output_seed", "check_wrt", "matmul_grad_left", "matmul_grad_right", "copy", "owned_grad",
    "as_column", "broadcast_tangent", "rebroadcast", "like_input", "cumsum_grad", "diff_grad",
    "trace_grad", "diagonal_grad", "diag_grad", "extremum_weights", "prod_others", "norm_weights",
    "item_grad", "scattered_item", "zero_at", "scatter", "scatter_basic", "take_grad", "take_along_grad", "unsort",
    "windows_grad", "take_sorted", "reshape_grad", "tile_grad", "repeat_grad", "pad_grad",
    "solve_grads", "dense_grad", "sigmoid", "scaled_sigmoid", "grad_tree", "add_grads",
    "clip_bounds", "einsum_call_grads", "concat_grads", "unstack_grads", "scale_each", "real_only",
    "cross_vec3", "cross_cotangent", "cross_cotangent_adjoint", "ravel_tangent", "lse_value",
    "lse_sign", "lse_cotangent", "diff_part"),
    shapes="evaluate")
