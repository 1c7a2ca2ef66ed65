"""Rules for the runtime helpers that generated code calls, so generated code is differentiable."""

from .. import runtime as _sd
from ..registry import defnondiff, defvjp


@defvjp(_sd.grad_like, _sd.owned_grad, kind="linear")
def grad_like(g, ans, grad, x):
    return (_sd.unbroadcast(g, grad), None)


@defvjp(_sd.copy, kind="linear")
def copy(g, ans, value):
    return (g,)


@defvjp(_sd.check_scalar, kind="linear")
def check_scalar(g, ans, value, where):
    return (g, None)


@defvjp(_sd.item_grad, kind="linear")
def item_grad(g, ans, grad, k):
    return (_sd.scatter(g, grad, k), None)


@defvjp(_sd.add_grads, kind="elementwise")
def add_grads(g, ans, a, b):
    return (g, g)


@defvjp(_sd.zero_at, kind="linear")
def zero_at(g, ans, grad, x, index):
    return (_sd.zero_at(g, x, index), None, None)


@defvjp(_sd.drop_last, kind="linear")
def drop_last(g, ans, grad):
    return (_sd.append_zero(g),)


defnondiff(_sd.zeros_like_grad, _sd.check_wrt)
