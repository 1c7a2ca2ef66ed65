"""Rules for the runtime helpers that generated code calls, so generated code is differentiable."""

import numpy as np

from .. import pytree as _pytree
from .. import runtime as _sd
from .registry import deffacts, defjvp, defnondiff, defvjp


@defvjp(_sd.grad_like, _sd.owned_grad, kind="linear", passes_zero=True)
@defvjp(_sd.grad_tree, kind="linear")
def grad_like(g, ans, grad, x):
    return (_sd.unbroadcast(g, grad), None)


@defvjp(_sd.copy, kind="linear", view=False)
def copy(g, ans, value):
    return (g,)


# (a copy of a parameter the function writes into, after a check of the other arguments)
@defvjp(_sd.copy_param, kind="linear", view=False)
def copy_param(g, ans, value, others, names, name, where, arrays=True):
    return (g, None, None, None, None, None)


# (a copy of a value and of the arrays it holds, given to a helper that writes into its items)
@defvjp(_sd.copy_held, kind="linear", view=False)
def copy_held(g, ans, value, name="the argument", where="sourcediff", arrays=True):
    return (g, None, None, None)


# (what a forward form returns, with copies of what its backward form puts items back into)
@defvjp(_sd.handed_out, kind="linear", view=False)
def handed_out(g, ans, value, restored, stack=()):
    return (g, None, None)


# (a[i][j] = v is written new = _sd.item_to_write(a[i], a, where); new[j] = v; a[i] = new)
@defvjp(_sd.item_to_write, kind="custom", view=False)
def item_to_write(g, ans, item, holder, where, rebuilt=False):
    return (g, None, None)


@defjvp(_sd.item_to_write)
def item_to_write_jvp(g, ans, item, holder, where, rebuilt=False):
    return (_sd.copy(g), None, None)


# (t[i][j] = v on a tuple t: the new item written back as t = _sd.with_item(t, i, new))
@defvjp(_sd.with_item, kind="custom", view=False)
def with_item(g, ans, holder, key, value):
    return (_sd.zero_at(g, holder, key), None, _sd.item_grad(g, key))


@defjvp(_sd.with_item)
def with_item_jvp(t, ans, holder, key, value):
    return (_sd.zero_at(t, holder, key), None, _sd.scatter_basic(t, holder, key))


@defvjp(_sd.check_scalar, kind="linear")
def check_scalar(g, ans, value, where):
    return (g, None)


@defvjp(_sd.check_real, kind="linear")
def check_real(g, ans, value, where, reduction=None):
    return (g, None, None)


@defvjp(_sd.item_grad, kind="linear", passes_zero=True)
def item_grad(g, ans, grad, k):
    return (_sd.scatter(_sd.last_writes_only(g, grad, k), grad, k), None)


# (an argument an object's constructor stored as it is: its attribute's gradient; linear in that)
@defvjp(_sd.constructed_grad, kind="linear", passes_zero=True)
def constructed_grad(b, ans, g, obj, paths, arg, where, text):
    return (_sd.constructed_grad_adjoint(b, g, obj, paths), None, None, None, None, None)


@defvjp(_sd.scattered_item, kind="linear", passes_zero=True)
def scattered_item(ct, ans, b, index):
    return (_sd.scatter(ct, b, index), None)


@defvjp(_sd.last_writes_only, kind="linear", passes_zero=True)
def last_writes_only(ct, ans, b, g, k):
    # (a mask over b: its own adjoint; what item_grad's derivative calls, so a second order)
    return (_sd.last_writes_only(ct, g, k), None, None)


@defvjp(_sd.add_grads, kind="elementwise", passes_zero=True)
def add_grads(g, ans, a, b):
    return (g, g)


@defvjp(_sd.zero_at, kind="linear", passes_zero=True)
def zero_at(g, ans, grad, x, index):
    return (_sd.zero_at(g, x, index), None, None)


@defvjp(_sd.drop_last, kind="linear")
def drop_last(g, ans, grad):
    return (_sd.append_zero(g),)


# (the adjoint of v = lst.pop(): lst's gradient with v's put back at its end. Linear in g and in
# item together, so forward mode adds one contribution of each, custom)
@defvjp(_sd.push_grad, kind="custom", passes_zero=True)
def push_grad(b, out, g, item, rest):
    return (_sd.drop_last(b), _sd.item_grad(b, -1), None)


@defjvp(_sd.push_grad)
def push_grad_jvp(t, out, g, item, rest):
    return (_sd.push_grad(t, 0.0, rest), _sd.push_grad(0.0, t, rest), None)


# (what lst[k] = v or d[k] = v overwrites, kept for the backward sweep: item k of the container, or
# the marker of a key the dict did not have, whose tangent and gradient are zero)
@defvjp(_sd.saved_item, kind="custom")
def saved_item(b, out, obj, key):
    return (_sd.scatter(b, obj, key), None)


@defjvp(_sd.saved_item)
def saved_item_jvp(t, out, obj, key):
    return (_sd.item_grad(t, key), None)


defnondiff(_sd.zeros_like_grad, _sd.check_wrt, reason="zeros shaped like a value, and an argument check")
defnondiff(_sd.loop_length, reason="the length of a sequence is an integer")
defnondiff(_sd.like_of, reason="zeros of a value's shape and dtype: what is saved of a value read "
           "only for them (compiler/saves.py)", view=False, shapes="evaluate")
defnondiff(_sd.check_unpack, reason="a check of the number of items unpacked")
defnondiff(_sd.check_list_method, reason="a check that a list method is called on a list")
defnondiff(_sd.same_module, reason="a check that a parameter holds the module of its default")
defnondiff(_sd.pop_position, reason="the position lst.pop(i) takes out")
defnondiff(_sd.remove_position, reason="the position lst.remove(v) takes out")
defnondiff(_sd.check_held_class, reason="a check of the classes of the objects an attribute holds")
defnondiff(_sd.put_positions, _sd.along_axis_positions, _sd.diagonal_positions,
           _sd.positions_shape, _sd.sorts_an_array, _sd.running_arg, _sd.zero_fill, _sd.cond_sign, _sd.unweighted_count,
           reason="the integer positions np.put or np.fill_diagonal writes")
defnondiff(_sd.piecewise_conditions, reason="the boolean masks np.piecewise applies")
defnondiff(_sd.key_extremum, reason="the position of an item (max(xs, key=f))", calls_back=True)
defnondiff(_sd.dict_keys, reason="a dict's keys")
defnondiff(_sd.item_index, reason="the integer index of the element x.item(*index) reads")
defnondiff(_sd.output_seed, reason="the backward sweep's seed: 1.0 (or ones), a constant")
defnondiff(_sd.flipped_trans, _sd.trans_axes, _sd.column_shape, _sd.triangle_mask,
           reason="solve_triangular's options, axes, a shape and a 0/1 mask of a triangle")


# ---------------------------------------------------------------- helpers of the numpy rule table
# The rules of numpy_rules.py call these helpers; their own rules make hessians (forward over
# reverse) and grad of grad reach through them. The first two parameters are named b/out (t/out for
# jvps) because the helpers' own parameters are often called g and ans. A gradient or tangent of a
# helper that returns a list or tuple is a list with None or 0.0 for missing entries. Forward mode
# adds tangent contributions with ``+``, so the jvps of such helpers return GradLists (which add
# entrywise, also to 0.0) instead of plain lists and tuples (which would concatenate): those rules
# are "custom" even where the helper is linear.


@defvjp(_sd.sigmoid, kind="elementwise", rowwise="row")
def sigmoid_helper(b, out, x):
    return (b * out * (1.0 - out),)


# np.gradient's coordinate gradients (review38): constant 0 without coordinate arrays, refused at
# second order with them
@defvjp(_sd.gradient_coordinate_grads, kind="custom", view=False)
def gradient_coordinate_grads_helper(b, out, g, f, varargs=(), axis=None, edge_order=1):
    return (0.0 * _sd.coordinates_refused(out, varargs)[0] if out else 0.0, 0.0, None, None, None)


@defjvp(_sd.gradient_coordinate_grads)
def gradient_coordinate_grads_jvp(t, out, g, f, varargs=(), axis=None, edge_order=1):
    return (_sd.coordinates_refused(out, varargs), _sd.coordinates_refused(out, varargs), None,
            None, None)


# standard_draw(ans, loc, scale) = (ans - loc) / scale, the random draws' rules' z (review38)
@defvjp(_sd.standard_draw, kind="elementwise", broadcast=True, view=False)
def standard_draw_helper(b, out, ans, loc, scale, what="a random draw"):
    return (b / scale, -b / scale, -b * out / scale, None)


@defvjp(_sd.scaled_sigmoid, kind="elementwise", broadcast=True, rowwise="row")
def scaled_sigmoid_helper(b, out, g, d):
    s = _sd.sigmoid(d)
    return (b * s, b * out * (1.0 - s))


@defvjp(_sd.einsum_grads, kind="custom", passes_zero=True)
def einsum_grads_helper(b, out, g, subscripts, operands):
    return (_sd.einsum_replaced(b, subscripts, operands), None,
            _sd.einsum_cross(b, g, subscripts, operands))


@defjvp(_sd.einsum_grads)
def einsum_grads_helper_jvp(t, out, g, subscripts, operands):
    return (_sd.einsum_grads_tangent_g(t, g, subscripts, operands), None,
            _sd.einsum_grads_tangent_operands(t, g, subscripts, operands))


# norm_weights is d norm / dx, a function of x and of the norm ans (both active in generated code)
@defvjp(_sd.norm_weights, kind="custom")
def norm_weights_helper(b, out, x, ans, ord=None, axis=None, keepdims=False):
    d = _sd.norm_weights_partials(x, ans, ord, axis, keepdims)
    return (b * d[0], np.reshape(np.sum(b * d[1], axis=axis, keepdims=True), _sd.shape(ans)),
            None, None, None)


@defjvp(_sd.norm_weights)
def norm_weights_helper_jvp(t, out, x, ans, ord=None, axis=None, keepdims=False):
    d = _sd.norm_weights_tangents(t, x, ans, ord, axis, keepdims)
    return (d[0], d[1], None, None, None)


# shifted moves values along an axis (linear; its fill is a constant); scan is linear in g and its
# adjoint in g is the scan the other way with the same c; in c: forward, dt = scan(dc * t[k - 1]),
# reverse, dt = scan(dc[k + 1] t[k + 1]) (cumprod's rules at every order, zeros included)
@defvjp(_sd.shifted, kind="custom")
def shifted_helper(b, out, x, step, axis=None, fill=0.0):
    return (_sd.shifted(b, -step, axis), None, None,
            np.sum(b * _sd.shifted(np.zeros_like(out), step, axis, 1.0)))


@defjvp(_sd.shifted)
def shifted_helper_jvp(t, out, x, step, axis=None, fill=0.0):
    return (_sd.shifted(t, step, axis), None, None,
            t * _sd.shifted(np.zeros_like(out), step, axis, 1.0))


@defvjp(_sd.scan, kind="custom")
def scan_helper(b, out, g, c, axis=None, reverse=False):
    lam = _sd.scan(b, c, axis, not reverse)
    return (lam, _sd.shifted(out, 1 - reverse, axis) * _sd.shifted(lam, reverse, axis), None, None)


@defjvp(_sd.scan)
def scan_helper_jvp(t, out, g, c, axis=None, reverse=False):
    return (_sd.scan(t, c, axis, reverse),
            _sd.scan(_sd.shifted(t * _sd.shifted(out, 1 - reverse, axis), -reverse, axis), c, axis,
                     reverse), None, None)


# cofactor(a) = det(a) inv(a)^T is d det / da: its derivative in a direction e is
# tr(inv(a) e) cofactor(a) - cofactor(a) e^T inv(a)^T (second derivatives of det: inv(a), so
# they raise at a singular matrix)
@defvjp(_sd.cofactor, kind="custom", torch_name="LinalgDetBackward0")
def cofactor_helper(b, out, a):
    it = np.swapaxes(np.linalg.inv(a), -1, -2)
    return (np.sum(b * out, axis=(-2, -1), keepdims=True) * it -
            it @ np.swapaxes(b, -1, -2) @ out,)


@defjvp(_sd.cofactor)
def cofactor_helper_jvp(t, out, a):
    return (np.trace(np.linalg.solve(a, t), axis1=-2, axis2=-1)[..., None, None] * out -
            out @ np.swapaxes(t, -1, -2) @ np.swapaxes(np.linalg.inv(a), -1, -2),)


@defvjp(_sd.unstack_grads, kind="custom", torch_name="StackBackward0", passes_zero=True)
def unstack_grads_helper(b, out, g, arrays, axis=0):
    return (_sd.stack_like(b, g, axis), None, None)


@defjvp(_sd.unstack_grads)
def unstack_grads_helper_jvp(t, out, g, arrays, axis=0):
    return (_sd.as_grad_list(_sd.unstack_grads(t, arrays, axis)), None, None)


@defvjp(_sd.unbroadcast_each, kind="linear")
def unbroadcast_each_helper(b, out, g, xs):
    return (_sd.rebroadcast_each(b, g, xs), None)


@defvjp(_sd.trace_grad, kind="linear", torch_name="TraceBackward0")
def trace_grad_helper(b, out, g, a, offset=0, axis1=0, axis2=1):
    return (np.trace(b, offset, axis1, axis2), None, None, None, None)


# solve_grads(g, ans, a, b) = (-gb ans^T, gb) with gb = solve(a^T, g); b only gives shapes
@defvjp(_sd.solve_grads, kind="custom")
def solve_grads_helper(c, out, g, ans, a, b):
    d = _sd.solve_grads_adjoint(c, g, ans, a, b)
    return (d[0], d[1], d[2], None)


@defjvp(_sd.solve_grads)
def solve_grads_helper_jvp(t, out, g, ans, a, b):
    return (_sd.solve_grads_tangent_checked(t, 0.0, 0.0, g, ans, a, b),
            _sd.solve_grads_tangent_checked(0.0, t, 0.0, g, ans, a, b),
            _sd.solve_grads_tangent_checked(0.0, 0.0, t, g, ans, a, b), None)


# the adjoints above, used by second-order gradients: their rules make a third order
@defvjp(_sd.einsum_replaced, kind="custom")
def einsum_replaced_helper(c, out, b, subscripts, operands):
    return (_sd.GradList(_sd.einsum_grads(c, subscripts, operands)), None,
            _sd.einsum_cross(b, c, subscripts, operands))


@defjvp(_sd.einsum_replaced)
def einsum_replaced_helper_jvp(t, out, b, subscripts, operands):
    return (_sd.einsum_replaced(t, subscripts, operands), None,
            _sd.einsum_replaced_pairs(b, t, subscripts, operands))


@defvjp(_sd.einsum_cross, kind="custom")
def einsum_cross_helper(c, out, b, g, subscripts, operands):
    return (_sd.einsum_cross(c, g, subscripts, operands),
            _sd.einsum_replaced_pairs(b, c, subscripts, operands), None,
            _sd.einsum_cross2(b, c, g, subscripts, operands))


@defjvp(_sd.einsum_cross)
def einsum_cross_helper_jvp(t, out, b, g, subscripts, operands):
    return _sd.einsum_cross_tangents(t, b, g, subscripts, operands)


@defvjp(_sd.stack_like, kind="linear")
def stack_like_helper(c, out, b, g, axis=0):
    return (_sd.unstack_grads(c, _sd.grad_items(b, _sd.shape(g)[axis]), axis), None, None)


@defvjp(_sd.split_like, kind="linear")
def split_like_helper(c, out, b, ans, axis=0):
    return (_sd.split_grad(c, ans, axis), None, None)


@defvjp(_sd.concat_like, kind="linear")
def concat_like_helper(c, out, b, g, arrays, axis=0, promoted=None):
    return (_sd.concat_grads(c, arrays, axis, promoted), None, None, None, None)


@defvjp(_sd.rebroadcast, kind="linear", passes_zero=True)
def rebroadcast_helper(c, out, b, g):
    return (_sd.unbroadcast(c, b), None)


@defvjp(_sd.like_input, kind="custom")
def like_input_helper(b, out, g, a):
    return (_sd.like_input_grad(b, g, a), None)


@defjvp(_sd.like_input)
def like_input_helper_jvp(t, out, g, a):
    return (_sd.as_grad_list(_sd.like_input(t, a)), None)


@defvjp(_sd.split_grad, kind="linear", torch_name="CatBackward0")
def split_grad_helper(b, out, g, ans, axis=0):
    return (_sd.split_like(b, ans, axis), None, None)


# prod_others(a) is smooth in a; its derivative matrix is symmetric (products without two elements)
@defvjp(_sd.prod_others, kind="custom")
def prod_others_helper(b, out, a, axis=None):
    return (_sd.prod_others_apply(b, a, axis), None)


@defjvp(_sd.prod_others)
def prod_others_helper_jvp(t, out, a, axis=None):
    return (_sd.prod_others_apply(t, a, axis), None)


@defvjp(_sd.concat_grads, kind="custom", torch_name="SplitBackward0", passes_zero=True)
def concat_grads_helper(b, out, g, arrays, axis=0, promoted=None):
    return (_sd.concat_like(b, g, arrays, axis, promoted), None, None, None)


@defjvp(_sd.concat_grads)
def concat_grads_helper_jvp(t, out, g, arrays, axis=0, promoted=None):
    return (_sd.as_grad_list(_sd.concat_grads(t, arrays, axis, promoted)), None, None, None)


# unsort/take_sorted: the sorting permutation is piecewise constant in a, so a gets no gradient
@defvjp(_sd.unsort, kind="linear")
def unsort_helper(b, out, g, a, axis=-1):
    return (_sd.take_sorted(b, a, axis), None, None)


@defvjp(_sd.take_sorted, kind="linear", torch_name="SortBackward0")
def take_sorted_helper(b, out, t, a, axis=-1):
    return (_sd.unsort(b, a, axis), None, None)


# scale_each(s, xs) is linear in s and in xs separately, but returns a tuple: custom, so that the
# two tangent contributions add entrywise
@defvjp(_sd.scale_each, kind="custom", passes_zero=True)
def scale_each_helper(b, out, s, xs):
    return (_sd.scale_each_adjoint(b, s, xs), _sd.scale_items(s, b, xs))


@defjvp(_sd.scale_each)
def scale_each_helper_jvp(t, out, s, xs):
    return (_sd.scale_each_tangent_s(t, xs), _sd.scale_each_tangent_xs(s, t))


@defvjp(_sd.repeat_grad, kind="linear", torch_name="RepeatBackward0")
def repeat_grad_helper(b, out, g, a, repeats, axis=None):
    return (np.reshape(np.repeat(b, repeats, axis), _sd.shape(g)), None, None, None)


# (pad_grad adds each entry of g to the one its padding copies: its transpose pads b alike)
@defvjp(_sd.pad_grad, kind="linear", torch_name="ConstantPadNdBackward0")
def pad_grad_helper(b, out, g, array, pad_width, mode="constant", kwargs=None):
    return (np.pad(b, pad_width, mode=mode), None, None, None, None)


# map_list: only for the reshaping functions the rules map (map_list_grad refuses others)
@defvjp(_sd.map_list, kind="custom")
def map_list_helper(b, out, fn, xs):
    return (None, _sd.map_list_grad(b, fn, xs))


@defjvp(_sd.map_list)
def map_list_helper_jvp(t, out, fn, xs):
    return (None, _sd.as_grad_list(_sd.map_list(fn, t)))


# a[idx] = [u, v]: the items' gradients, linear in the gradient of a[idx]
@defvjp(_sd.assigned_items_grad, kind="linear", passes_zero=True)
def assigned_items_grad_helper(b, out, g, value):
    return (_sd.assigned_items_adjoint(b, g, value), None)


@defvjp(_sd.assigned_items_adjoint, kind="linear", passes_zero=True)
def assigned_items_adjoint_helper(c, out, b, g, value):
    return (_sd.assigned_items_grad(c, value), None, None)


# sum(xs)'s tangent from the tangent of xs: linear in it (its adjoint gives each item the gradient)
@defvjp(_sd.sum_each, kind="linear", passes_zero=True)
def sum_each_helper(b, out, g, xs):
    return (_sd.unbroadcast_each(b, g), None)


# max(*args)/min(*args): which arguments win is piecewise constant, so only g is differentiable
@defvjp(_sd.extremum_args_grad, kind="custom", passes_zero=True)
def extremum_args_grad_helper(b, out, g, ans, args):
    return (_sd.extremum_args_adjoint(b, ans, args), None, None)


@defjvp(_sd.extremum_args_grad)
def extremum_args_grad_helper_jvp(t, out, g, ans, args):
    return (_sd.as_grad_list(_sd.extremum_args_grad(t, ans, args)), None, None)


@defvjp(_sd.diagonal_grad, kind="linear", torch_name="DiagonalBackward0")
def diagonal_grad_helper(b, out, g, a, offset=0, axis1=0, axis2=1):
    return (np.diagonal(b, offset, axis1, axis2), None, None, None, None)


# np.diag(b, k) builds the matrix for a vector v (b is then a vector) and takes the diagonal else
@defvjp(_sd.diag_grad, kind="linear", torch_name="DiagEmbedBackward0")
def diag_grad_helper(b, out, g, v, k=0):
    return (np.diag(b, k), None, None)


@defvjp(_sd.tile_grad, kind="linear", torch_name="RepeatBackward0")
def tile_grad_helper(b, out, g, a, reps):
    return (np.tile(b, reps), None, None)


@defvjp(_sd.take_grad, kind="linear", torch_name="TakeBackward0")
def take_grad_helper(b, out, g, a, indices, axis=None, mode="raise"):
    return (np.take(b, indices, axis, mode=mode), None, None, None, None)


@defvjp(_sd.take_along_grad, kind="linear", torch_name="GatherBackward0")
def take_along_grad_helper(b, out, g, a, indices, axis):
    return (np.take_along_axis(b, indices, axis), None, None, None)


@defvjp(_sd.windows_grad, kind="linear", torch_name="UnfoldBackward0")
def windows_grad_helper(b, out, g, x, window_shape, axis=None):
    return (np.lib.stride_tricks.sliding_window_view(b, window_shape, axis), None, None, None)


@defvjp(_sd.strided_grad, kind="linear", torch_name="AsStridedBackward0")
def strided_grad_helper(b, out, g, x, view_shape=None, strides=None):
    return (_sd.strided_take(b, x, view_shape, strides), None, None, None)


@defvjp(_sd.strided_take, kind="linear", torch_name="AsStridedBackward0")
def strided_take_helper(b, out, t, x, view_shape=None, strides=None):
    return (_sd.strided_grad(b, x, view_shape, strides), None, None, None)


# np.add.at(a, i, v) as the compiler writes it (a = _sd.add_at(a, i, v)): a passes its gradient
# through; v gets g at the indices it was added to (summed where it was broadcast)
@defvjp(_sd.add_at, kind="custom", torch_name="IndexPutBackward0")
def add_at(g, ans, a, indices, values):
    return (g, None, _sd.unbroadcast(_sd.cast_grad(g, ans)[indices], values))


# (values added into an integer array are truncated: their derivative is 0, cast_grad)
@defjvp(_sd.add_at)
def add_at_jvp(g, ans, a, indices, values):
    return (g, None, _sd.cast_grad(_sd.add_at(np.zeros(np.shape(ans)), indices, g), ans))


# np.exp(x, out=a), np.copyto(a, v), a.fill(v) as the compiler writes them (a =
# _sd.write_into(a, v)): a's old values are gone; v gets g (summed where it was broadcast, 0 where
# a holds integers)
@defvjp(_sd.write_into, kind="custom", torch_name="CopyBackwards", view=False)
def write_into(g, ans, a, value, casting="same_kind", what="out="):
    return (None, _sd.unbroadcast(_sd.cast_grad(g, ans), value), None, None)


@defjvp(_sd.write_into)
def write_into_jvp(g, ans, a, value, casting="same_kind", what="out="):
    zeros = np.zeros(np.shape(ans), np.result_type(ans, g))
    return (None, _sd.cast_grad(_sd.write_into(zeros, g), ans), None, None)


# np.put, np.place, np.putmask, np.fill_diagonal as the compiler writes them (a[positions] =
# _sd.cycled(v, shape)): v's entries repeated to fill the positions; each gets the sum of g where
# it went (uncycled), and the adjoint of that is cycled again
@defvjp(_sd.cycled, kind="linear", torch_name="ResizeBackward0")
def cycled(g, ans, v, shape):
    return (_sd.uncycled(g, v), None)


@defvjp(_sd.uncycled, kind="linear", torch_name="ResizeBackward0")
def uncycled(b, ans, g, v):
    return (_sd.cycled(b, np.shape(g)), None)


# (the gradient of scipy.signal.convolve2d / correlate2d placed in the 'full' result, and back)
@defvjp(_sd.centered_into, kind="linear")
def centered_into(b, ans, g, in1, in2, ceil=0):
    return (_sd.centered_part(b, g, in1, in2, ceil), None, None, None)


@defvjp(_sd.centered_part, kind="linear")
def centered_part(c, ans, b, g, in1, in2, ceil=0):
    return (_sd.centered_into(c, in1, in2, ceil), None, None, None, None)


@defvjp(_sd.diff_grad, kind="linear", torch_name="SubBackward0")
def diff_grad_helper(b, out, g, n=1, axis=-1):
    return (np.diff(b, n, axis), None, None)


# (in einsum's sublist form, np.einsum(a, [0, 1], b, [1, 2]), the first array arrives as
# `subscripts`: its derivative there is not given, so a second derivative in it is refused)
@defvjp(_sd.einsum_call_grads, kind="custom", passes_zero=True, unimplemented=("subscripts",))
def einsum_call_grads_helper(b, out, g, subscripts, operands):
    return (_sd.einsum_replaced(_sd.drop_first(b), subscripts, operands), None,
            _sd.einsum_cross(_sd.drop_first(b), g, subscripts, operands))


@defjvp(_sd.einsum_call_grads)
def einsum_call_grads_helper_jvp(t, out, g, subscripts, operands):
    return (_sd.prepend_zero(_sd.einsum_grads_tangent_g(t, g, subscripts, operands)), None,
            _sd.prepend_zero(_sd.einsum_grads_tangent_operands(t, g, subscripts, operands)))


@defvjp(_sd.reshape_grad, kind="linear", passes_zero=True)
def reshape_grad_helper(b, out, g, a, order="C"):
    # (the order is a's: 'A' and 'K' read its layout, not that of g)
    return (_sd.reshape_grad(b, g, _sd.reshape_order(a, order)), None, None)


@defvjp(_sd.ravel_tangent, kind="linear", passes_zero=True)
def ravel_tangent_helper(b, out, t, a, order="C"):
    return (_sd.reshape_grad(b, a, order), None, None)


@defvjp(_sd.dense_grad, kind="linear")
def dense_grad_helper(b, out, g, ans):
    return (_sd.unbroadcast(b, g), None)


# np.pad's tangent is linear in t: its adjoint is pad's own gradient (constant mode only)
@defvjp(_sd.pad_tangent, kind="linear")
def pad_tangent_helper(b, out, t, pad_width, mode="constant", kwargs=None):
    return (_sd.pad_grad(b, t, pad_width, mode, kwargs), None, None, None)


# (a cast to integers passes nothing; anything else passes b through as it passed g)
@defvjp(_sd.cast_grad, kind="linear")
def cast_grad_helper(b, out, g, ans):
    return (_sd.unbroadcast(_sd.cast_grad(b, ans), g), None)


# np.r_/np.c_: reading g where each item landed is linear in g; its adjoint places the items back
@defvjp(_sd.index_concat_grads, kind="linear")
def index_concat_grads(b, out, g, maker, items):
    return (_sd.index_concat_place(b, g, maker, items), None, None)


@defvjp(_sd.index_concat_place, kind="linear")
def index_concat_place(c, out, b, g, maker, items):
    return (_sd.index_concat_grads(c, maker, items), None, None, None)


# a + b and a * b where an operand may be a list or tuple: concatenation and repetition then
@defvjp(_sd.add_or_concat, kind="custom")
def add_or_concat(g, ans, x, y):
    return _sd.add_or_concat_grads(g, x, y)


@defjvp(_sd.add_or_concat)
def add_or_concat_jvp(t, ans, x, y):
    return _sd.add_or_concat_tangents(t, ans, x, y)


@defvjp(_sd.mul_or_repeat, kind="custom")
def mul_or_repeat(g, ans, x, y):
    return _sd.mul_or_repeat_grads(g, x, y)


@defjvp(_sd.mul_or_repeat)
def mul_or_repeat_jvp(t, ans, x, y):
    return _sd.mul_or_repeat_tangents(t, ans, x, y)


@defvjp(_sd.add_or_concat_grads, kind="linear")
def add_or_concat_grads(b, out, g, x, y):
    return (_sd.add_or_concat_grads_adjoint(b, g, x, y), None, None)


@defvjp(_sd.mul_or_repeat_grads, kind="custom")
def mul_or_repeat_grads(b, out, g, x, y):
    return _sd.mul_or_repeat_grads_adjoint(b, g, x, y)


@defjvp(_sd.mul_or_repeat_grads)
def mul_or_repeat_grads_jvp(t, out, g, x, y):
    return _sd.mul_or_repeat_grads_tangents(t, g, x, y)


# d.items() / d.values() of a dict (a parameter, or a local): reads of its entries, as lists
@defvjp(_sd.dict_items, kind="custom")
def dict_items(g, ans, d):
    return (_sd.dict_items_grad(g, d),)


@defjvp(_sd.dict_items)
def dict_items_jvp(t, ans, d):
    return (_sd.dict_items_tangent(t, d),)


# dict(d), {**d, "k": v}: a dict made again from a dict's pairs (or another iterable's)
@defvjp(_sd.dict_pairs, kind="custom")
def dict_pairs(g, ans, d):
    return (_sd.dict_pairs_grad(g, d),)


@defjvp(_sd.dict_pairs)
def dict_pairs_jvp(t, ans, d):
    return (_sd.dict_pairs_tangent(t, d),)


@defvjp(_sd.dict_pairs_grad, kind="linear")
def dict_pairs_grad(c, out, g, d):
    return (_sd.dict_pairs_tangent(c, d), None)


@defvjp(_sd.dict_pairs_tangent, kind="linear")
def dict_pairs_tangent(c, out, t, d):
    return (_sd.dict_pairs_grad(c, d), None)


# list(seq), lowered to [v for v in _sd.iterated(seq)]: a dict's keys, or seq itself
@defvjp(_sd.iterated, kind="custom")
def iterated(g, ans, seq):
    return (_sd.iterated_grad(g, seq),)


@defjvp(_sd.iterated)
def iterated_jvp(t, ans, seq):
    return (_sd.iterated_grad(t, seq),)


@defvjp(_sd.iterated_grad, kind="linear")
def iterated_grad(c, out, g, seq):
    return (_sd.iterated_grad(c, seq), None)


@defvjp(_sd.dict_values, kind="custom")
def dict_values(g, ans, d):
    return (_sd.dict_values_grad(g, d),)


@defjvp(_sd.dict_values)
def dict_values_jvp(t, ans, d):
    return (_sd.dict_values_tangent(t, d),)


# d.get(k, default) on a local or parameter (review32): d[k] where d holds k, else default
@defvjp(_sd.dict_get, kind="custom")
def dict_get(g, ans, d, k, default=None):
    return (_sd.dict_get_grad(g, d, k), None, _sd.dict_default_grad(g, d, k))


@defjvp(_sd.dict_get)
def dict_get_jvp(t, ans, d, k, default=None):
    return (_sd.dict_get_tangent(t, d, k), None, _sd.dict_default_grad(t, d, k))


@defvjp(_sd.dict_get_grad, kind="linear")
def dict_get_grad(c, out, g, d, k):
    return (_sd.dict_get_tangent(c, d, k), None, None)


@defvjp(_sd.dict_get_tangent, kind="linear")
def dict_get_tangent(c, out, t, d, k):
    return (_sd.dict_get_grad(c, d, k), None, None)


@defvjp(_sd.dict_default_grad, kind="linear")
def dict_default_grad(c, out, g, d, k):
    return (_sd.dict_default_grad(c, d, k), None, None)


@defvjp(_sd.dict_items_grad, kind="linear")
def dict_items_grad(c, out, g, d):
    return (_sd.dict_items_tangent(c, d), None)


@defvjp(_sd.dict_items_tangent, kind="linear")
def dict_items_tangent(c, out, t, d):
    return (_sd.dict_items_grad(c, d), None)


@defvjp(_sd.dict_values_grad, kind="linear")
def dict_values_grad(c, out, g, d):
    return (_sd.dict_values_tangent(c, d), None)


@defvjp(_sd.dict_values_tangent, kind="linear")
def dict_values_tangent(c, out, t, d):
    return (_sd.dict_values_grad(c, d), None)


# obj.name of a namedtuple (or an object): a read of one field, linear in obj
@defvjp(_sd.get_attribute, kind="linear")
def get_attribute(g, ans, obj, name):
    return (_sd.attribute_grad(g, obj, name), None)


@defvjp(_sd.attribute_grad, kind="linear")
def attribute_grad(b, out, g, obj, name):
    return (_sd.attribute_slot(b, obj, name), None, None)


# has_aux=True: the loss of (loss, aux); aux carries no gradient
@defvjp(_sd.aux_first, kind="custom")
def aux_first(g, ans, out):
    return (_sd.aux_grad(g, out),)


@defjvp(_sd.aux_first)
def aux_first_jvp(t, ans, out):
    return (_sd.item_grad(t, 0),)


# sd.flatten's unflatten (autograd's flatten_func pattern: loss(unflatten(v)) differentiated in v)
@defvjp(_pytree.unflatten_vector, kind="linear")
def unflatten_vector(g, ans, v, tree):
    return (_pytree.tree_vector_grad(g, tree), None)


@defvjp(_pytree.tree_vector_grad, kind="linear")
def tree_vector_grad(b, out, g, tree):
    return (_pytree.unflatten_vector(b, tree), None)


# ---------------------------------------------------------------- facts of runtime helpers
# (read by the specializer: what a call of one may change)

# they call code they are given (a user's function or method)
deffacts(_sd.dynamic_fwd, _sd.dynamic_bwd, _sd.dynamic_jvp, _sd.run_for_effect, _sd.map_list,
         _sd.map_list_grad, _sd.star_fwd, _sd.star_bwd, _sd.star_jvp, calls_back=True)
# they read a dict argument and write into nothing
deffacts(_sd.check_wrt, _sd.scatter_basic, _sd.scatter, _sd.grad_like, _sd.grad_tree,
         _sd.item_grad, _sd.scattered_item, _sd.zeros_like_grad, reads_dicts=True)
# they read only the type, shape and dtype of these arguments (what the backward sweep reads only
# there is saved as _sd.like_of's stand-in)
deffacts(_sd.unbroadcast, _sd.unreduce, _sd.grad_like, _sd.grad_tree, _sd.scatter_basic,
         type_only=(1,))
deffacts(_sd.reduced_count, type_only=(0,))
deffacts(_sd.dot_subscripts, type_only=(0, 1))


@defvjp(_sd.sorted_grad, kind="linear")
def sorted_grad_helper(b, out, g, iterable, key=None, reverse=False):
    return (_sd.sorted_tangent(b, iterable, key, reverse), None, None, None)


@defvjp(_sd.sorted_tangent, kind="linear")
def sorted_tangent_helper(b, out, t, iterable, key=None, reverse=False):
    return (_sd.sorted_grad(b, iterable, key, reverse), None, None, None)


# lse_exp is exp(a - shift) where b is not 0 (0, a constant, elsewhere): the helper of
# scipy.special.logsumexp's rule, registered here (without scipy too) as its rule cases run everywhere
@defvjp(_sd.lse_exp, kind="elementwise", broadcast=True, shapes="evaluate")
def lse_exp_helper(c, out, a, shift, b=None):
    return (c * out, -c * out, None)
defnondiff(_sd.without_derivative, reason="the result of an operation declared without a "
           "derivative, checked (compiler/dispatched.py)", shapes="evaluate")
