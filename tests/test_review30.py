"""review30: code people write in losses that sourcediff refused, made to work.

``with np.errstate(...)`` and ``with warnings.catch_warnings(): warnings.simplefilter(...)``
around numeric code: refused before ('with' statements are not supported). The normalizer
inlines the body (compiler/contexts.py) and the generated code of the block's lines, forward and
backward, runs in the same context (``with _sd_quiet(...)``, emit.Origin.context)."""

import copy
import warnings

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import SourcediffError, SourcediffSyntaxError
from sourcediff.tape import grad_of

from .oracles import check_grads_fd

MODES = ["reverse", "unoptimized", "generic", "forward", "tape"]


def _grads(f, args, wrt, mode):
    args = copy.deepcopy(args)
    if mode == "reverse":
        return sd.grad(f, wrt=wrt)(*args)
    if mode == "unoptimized":
        return sd.grad(f, wrt=wrt, optimize=False)(*args)
    if mode == "forward":
        return sd.grad(f, wrt=wrt, mode="forward")(*args)
    if mode == "generic":
        df = sd.grad(f, wrt=wrt)
        df(*copy.deepcopy(args))
        return df.__sourcediff_specializations__.generic(*args)
    return grad_of(f, list(args), wrt=wrt)


def _check_every_mode(f, args, mode, wrt=0):
    g = _grads(f, args, wrt, mode)
    wrts = wrt if isinstance(wrt, tuple) else (wrt,)
    check_grads_fd(f, args, wrts, g if isinstance(wrt, tuple) else (g,))


def _check_hessian(f, x):
    hess = np.reshape(sd.hessian(f)(x), (x.size, x.size))
    for k in range(x.size):
        check_grads_fd(lambda z: np.ravel(sd.grad(f)(z))[k], (x,), (0,),
                       (np.reshape(hess[k], x.shape),), rtol=1e-4)


# ---------------------------------------------------------------- with np.errstate(...)

def entropy(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(p > 0, np.log(np.abs(p) + 1e-300), 0.0)
        h = -np.sum(p * logs)
    return h + np.sum(p ** 2)


def returns_inside(x):
    with np.errstate(all="ignore"):
        y = np.sqrt(x) * x
        return np.sum(y ** 2)


def in_a_loop_with_break(x):
    s = 0.0
    for i in range(4):
        with np.errstate(divide="ignore"):
            r = np.log(x) * (i + 1.0)
            if i == 2:
                break
        s = s + np.sum(r * x)
    return s


def nested_and_warnings(x):
    y = x * 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(over="ignore"):
            z = np.exp(y) / (1.0 + np.exp(y))
        w = z * np.sin(x)
    return np.sum(w * x)


def catch_with_category(x):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        q = np.log(x) ** 2
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        r = np.arcsin(x / 4.0)
    return np.sum(q * r)


def helper(v):
    with np.errstate(divide="ignore"):
        return np.log(v) * v


def through_a_helper(x):
    return np.sum(helper(x) ** 2)


X = np.array([0.5, 1.2, 2.0])
WITH_CASES = [entropy, returns_inside, in_a_loop_with_break, nested_and_warnings,
              catch_with_category, through_a_helper]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", WITH_CASES, ids=lambda f: f.__name__)
def test_with_blocks_every_mode(f, mode):
    _check_every_mode(f, (X,), mode)


@pytest.mark.parametrize("f", WITH_CASES, ids=lambda f: f.__name__)
def test_with_blocks_second_order(f):
    _check_hessian(f, X)


def log_at_zero(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(x) * 0.0 + np.log1p(x)
    return np.sum(y) + np.sum(x ** 2)


@pytest.mark.parametrize("mode", ["reverse", "unoptimized", "forward", "hessian"])
def test_the_block_is_quiet_forward_and_backward(mode):
    x = np.array([0.0, 1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (a warning from the block would raise here)
        log_at_zero(x)
        if mode == "hessian":
            sd.hessian(log_at_zero)(x)
        else:
            sd.grad(log_at_zero, **({"optimize": False} if mode == "unoptimized" else
                                    {"mode": mode}))(x)


def loud_outside(x):
    with np.errstate(divide="ignore"):
        a = np.log(x)
    b = np.log(x)
    return np.sum(a * 0.0 + b * 0.0 + x)


@pytest.mark.filterwarnings("ignore:invalid value")
def test_code_outside_the_block_still_warns():
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        sd.grad(loud_outside)(np.array([0.0, 1.0]))


def raises_inside(x):
    with np.errstate(divide="raise"):
        y = np.log(x)
    return np.sum(y)


def test_errstate_raise_is_kept():
    with pytest.raises(FloatingPointError):
        raises_inside(np.array([0.0, 1.0]))
    with pytest.raises(FloatingPointError):
        sd.grad(raises_inside)(np.array([0.0, 1.0]))
    check_grads_fd(raises_inside, (X,), (0,), (sd.grad(raises_inside)(X),))


def test_generated_source_shows_the_context():
    text = sd.source(sd.grad(entropy))
    assert text.count("with _sd_quiet(divide='ignore', invalid='ignore'):") == 2


def other_manager(x):
    with open("/dev/null"):
        y = x * 2.0
    return np.sum(y)


def with_as(x):
    with np.errstate(divide="ignore") as state:
        y = np.log(x)
    return np.sum(y) + 0.0 * len(str(state))


def recorded(x):
    with warnings.catch_warnings(record=True):
        y = np.log(x)
    return np.sum(y)


@pytest.mark.parametrize("f, what", [(other_manager, r"'with' blocks over open\('/dev/null'\)"),
                                     (with_as, "'with ... as name'"),
                                     (recorded, r"catch_warnings\(record=True\)")])
def test_other_with_blocks_are_refused_at_their_line(f, what):
    with pytest.raises(SourcediffSyntaxError, match=r"test_review30.py:\d+.*" + what):
        sd.grad(f)(X)
    with pytest.raises(SourcediffError):
        sd.grad(f, mode="forward")(X)


# ---------------------------------------------------------------- an object in a *args tuple
# forward mode gave an object in a *args tuple the tangent np.zeros_like(obj) (a 0-d object
# array) and the jvp form read args_dot[0].k off it: AttributeError in the generated code
# (tests/test_review26.py had it as an xfail). Now runtime.zero_tangent: a ZeroTangent whose
# attributes read as zero tangents (and the receiver of a method written def m(*args)).


class Scaler:
    def __init__(self, k, w):
        self.k = k
        self.w = w

    def star(*args):
        return np.sin(args[1]) * args[0].k + args[0].w * args[1]


SCALER = Scaler(0.7, np.array([0.2, -0.4, 1.5]))


def collects(*args):
    return np.tanh(args[1]) * args[0].k + args[0].w * args[1] ** 2


def object_in_star_args(x, y):
    return np.sum(collects(SCALER, x) * y)


def receiver_in_star_args(x, y):
    m = SCALER.star
    return np.sum(SCALER.star(x) * y + m(y) * x)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", [object_in_star_args, receiver_in_star_args],
                         ids=lambda f: f.__name__)
def test_object_in_star_args_every_mode(f, mode):
    _check_every_mode(f, (X, np.array([0.3, -0.6, 0.8])), mode, wrt=(0, 1))


def test_object_in_star_args_jacobian_forward():
    y = np.array([0.3, -0.6, 0.8])
    J = sd.jacobian(lambda x: collects(SCALER, x) * y, mode="forward")(X)
    h = 1e-6
    want = np.stack([(collects(SCALER, X + h * e) - collects(SCALER, X - h * e)) * y / (2 * h)
                     for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(J, want, rtol=1e-6, atol=1e-9)
