"""review30: code people write in losses that sourcediff refused, made to work (each section
below says what was refused and how it works now).

``with np.errstate(...)`` and ``with warnings.catch_warnings(): warnings.simplefilter(...)``
around numeric code: refused before ('with' statements are not supported). The normalizer
inlines the body (compiler/contexts.py) and the generated code of the block's lines, forward and
backward, runs in the same context (``with _sd_quiet(...)``, emit.Origin.context)."""

import copy
import itertools
import operator
import statistics
import warnings

import numpy as np
import pytest
import scipy.signal
import scipy.stats

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


# ---------------------------------------------------------------- numpy's writes in place
# y.sort(), np.put, np.putmask, np.place, np.fill_diagonal into a local array: refused before
# (tests/test_errors.py: "writes into y in place, which sourcediff does not differentiate").
# Written as rebindings with the alias checks of y += e (compiler/lowering.py): y.sort(axis) as
# y = np.sort(y, axis) (runtime.write_into), np.putmask(y, m, v) as y = np.where(m, v repeated
# over y, y), and np.put / np.place / np.fill_diagonal as the subscript assignment
# y[positions] = v repeated over the positions (runtime.cycled, whose adjoint sums the repeats).


def sorts_in_place(x):
    y = x * 2.0
    y.sort()
    return np.sum(y * np.arange(3.0))


def puts_into(x):
    y = np.zeros(3)
    np.put(y, [0, 2], x[:2])
    return np.sum(y * y)


def putmask_in_loop(x):
    y = x * 1.0
    for _ in range(2):
        if np.sum(y) > -100.0:
            np.putmask(y, y > 1.5, x * 2.0)
    return np.sum(y * y)


def put_repeats_and_cycles(x):
    a = np.outer(x, x)
    np.put(a, [0, 4, -1, 4], x[:2] * 3.0)  # (4 twice: the last write wins; v cycles)
    b = x * 1.0
    np.put(b, [5, -7], x[1:], mode="wrap")
    c = x ** 2
    np.put(c, np.array([[9, -2]]), x[0], mode="clip")
    return np.sum(a ** 2 * np.arange(9.0).reshape(3, 3)) + np.sum(b * c * np.arange(1.0, 4.0))


def putmask_shapes(x):
    a = np.outer(x, x)
    np.putmask(a, a > 0.3, np.sin(np.outer(x, np.ones(3))))
    b = x * 2.0
    np.putmask(b, x > 0.0, x[:2] ** 3)  # (2 values cycled over 3 entries by position)
    return np.sum(a * np.arange(9.0).reshape(3, 3)) + np.sum(b ** 2)


def diagonals_and_places(x):
    a = np.outer(x, x)
    np.fill_diagonal(a, x ** 2)
    b = np.zeros((5, 2)) + x[0]
    np.fill_diagonal(b, x[1:], wrap=True)
    c = np.outer(x, x)
    np.place(c, c < 0.5, x * 2.0)
    return (np.sum(a * np.arange(9.0).reshape(3, 3)) + np.sum(b ** 2 * np.arange(10.0).reshape(5, 2))
            + np.sum(c ** 2))


def sorts_along_axes_in_a_loop(x):
    a = np.outer(x, x + 1.0)
    a.sort(axis=0)
    s = np.sum(a * np.arange(9.0).reshape(3, 3))
    b = x * 1.0
    for i in range(3):
        b = b * x[i] - i
        b.sort()
        s = s + b[0] * b[2]
    return s


def sorts_a_parameter(x):
    x.sort()
    return np.sum(x * np.arange(3.0))


WRITE_CASES = [sorts_in_place, puts_into, putmask_in_loop, put_repeats_and_cycles, putmask_shapes,
               diagonals_and_places, sorts_along_axes_in_a_loop, sorts_a_parameter]
XW = np.array([0.5, 1.2, -0.3])


@pytest.mark.parametrize("mode", MODES[:4])
@pytest.mark.parametrize("f", WRITE_CASES, ids=lambda f: f.__name__)
def test_in_place_writes_every_mode(f, mode):
    given = XW.copy()
    g = _grads(f, (given,), 0, mode)
    np.testing.assert_array_equal(given, XW)  # (numpy would sort the caller's x)
    check_grads_fd(f, (XW,), (0,), (g,))


@pytest.mark.parametrize("f", WRITE_CASES, ids=lambda f: f.__name__)
def test_in_place_writes_second_order(f):
    _check_hessian(f, XW)


def test_in_place_writes_value_is_numpys():
    for f in WRITE_CASES:
        value, _ = sd.value_and_grad(f)(XW.copy())
        assert value == f(XW.copy())


def sorts_a_view_read_later(x):
    a = np.outer(x, x)
    row = a[1]
    row.sort()
    return np.sum(a * np.arange(9.0).reshape(3, 3))


def puts_into_a_view_read_later(x):
    a = np.zeros((2, 3))
    row = a[0]
    np.put(row, [0, 2], x[:2])
    return np.sum(a * 2.0) + np.sum(row * x)


# (v.sort() of a list the function builds, v = [x[2], x[0], x[1]], was refused here too: it is
# sorted(v) since, tests/test_review84.py)
@pytest.mark.parametrize("f", [sorts_a_view_read_later, puts_into_a_view_read_later],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_writes_sourcediff_does_not_follow_are_refused(f, mode):
    with pytest.raises(SourcediffError, match=r"test_review30.py:\d+"):
        sd.grad(f, mode=mode)(XW)


# ---------------------------------------------------------------- functions people call in losses
# NoRuleError before, every mode: scipy.signal.convolve2d / correlate2d, scipy.stats gamma, beta,
# expon, lognorm, laplace, poisson; np.maximum.accumulate / minimum.accumulate, np.linalg.cond,
# np.linalg.eigvals, statistics.mean / fmean, itertools.accumulate (lowered to the loop it runs).
_rng = np.random.default_rng(30)
KERNEL = _rng.normal(size=(2, 3))
IMAGE = _rng.normal(size=(5, 6))


def image_filters(x):
    a = x.reshape(3, 4)
    s = np.sum(scipy.signal.convolve2d(a, KERNEL, mode="same") ** 2)
    s = s + np.sum(np.tanh(scipy.signal.correlate2d(a, KERNEL, "valid")))
    s = s + np.sum(scipy.signal.convolve2d(IMAGE, a) * 0.1) + np.sum(
        scipy.signal.correlate2d(a, a[:2, :2], "same") ** 2)
    return s + np.sum(scipy.signal.correlate2d(a[:2], IMAGE, "valid") ** 2)


def likelihoods(x):
    p = np.abs(x) + 0.5
    s = np.sum(scipy.stats.gamma.logpdf(p, p[0] + 1.0, scale=p[1]))
    s = s + np.sum(scipy.stats.beta.logpdf(p / 4.0, 2.0, p[2]))
    s = s + np.sum(scipy.stats.expon.logpdf(p, scale=p[3])) + np.sum(scipy.stats.gamma.pdf(p, 2.5))
    s = s + np.sum(scipy.stats.lognorm.logpdf(p, p[4] * 0.5, loc=-0.1))
    s = s + np.sum(scipy.stats.laplace.logpdf(x, 0.3, p[5]))
    return s + np.sum(scipy.stats.poisson.logpmf(np.arange(12) % 4, p))


def running_extremes(x):
    wealth = np.cumsum(x)
    drawdown = np.maximum.accumulate(wealth) - wealth
    low = np.minimum.accumulate(x.reshape(3, 4) ** 2, axis=1)
    return np.sum(drawdown ** 2) + np.sum(low * np.arange(12.0).reshape(3, 4))


def matrix_spectra(x):
    m = x[:9].reshape(3, 3) + np.diag([0.0, 3.0, 6.0])
    return np.linalg.cond(m) + np.linalg.cond(x.reshape(3, 4), -2) + np.sum(
        np.sort(np.linalg.eigvals(m)) * np.arange(1.0, 4.0))


def python_statistics(x):
    m = statistics.mean([x[0], x[1] ** 2, x[2]]) * statistics.fmean([x[3], x[4]])
    running = list(itertools.accumulate([x[5], x[6], x[7]]))
    products = sum(v ** 2 for v in itertools.accumulate([x[8], x[9], x[10]], operator.mul))
    shifted = list(itertools.accumulate([x[0], x[1]], lambda a, b: 0.5 * a + b, initial=x[11]))
    return m + running[0] * running[2] + products + shifted[2] * shifted[0]


XR = _rng.normal(size=12)
XR[:3] = [0.4, -0.8, 1.3]  # (no ties in the running maximum)
RULE_PROGRAMS = [image_filters, likelihoods, running_extremes, matrix_spectra, python_statistics]


@pytest.mark.parametrize("mode", MODES[:4])
@pytest.mark.parametrize("f", RULE_PROGRAMS, ids=lambda f: f.__name__)
def test_new_rules_every_mode(f, mode):
    _check_every_mode(f, (XR,), mode)


@pytest.mark.parametrize("f", [image_filters, likelihoods, running_extremes, python_statistics],
                         ids=lambda f: f.__name__)
def test_new_rules_second_order(f):
    _check_hessian(f, XR)


def test_matrix_spectra_second_order_through_eig():
    # (refused until review36: _sd.eig_grad had no rule; its source is differentiated now)
    _check_hessian(matrix_spectra, XR)


def accumulate_read_twice(x):
    it = itertools.accumulate([x[0], x[1]])
    return sum(it) + sum(it)  # (Python's second sum is 0)


def filled_with_a_constant(x):
    return np.sum(scipy.signal.convolve2d(x.reshape(3, 4), KERNEL, boundary="symm") ** 2)


def weighted_fmean(x):
    return statistics.fmean([x[0], x[1]], weights=[1.0, 3.0])


def cond_in_the_frobenius_norm(x):
    return np.linalg.cond(x[:9].reshape(3, 3), "fro")


@pytest.mark.parametrize("f", [accumulate_read_twice, filled_with_a_constant, weighted_fmean,
                               cond_in_the_frobenius_norm], ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_what_the_new_rules_do_not_cover_is_refused(f, mode):
    with pytest.raises(SourcediffError, match=r"test_review30.py:\d+"):
        sd.grad(f, mode=mode)(XR)


# ---------------------------------------------------------------- random draws with parameters
# np.random.normal(loc=mu, scale=sigma) (and laplace, gumbel, logistic, uniform, exponential,
# lognormal): NoRuleError before. numpy's draw is its standard draw moved and scaled, bit for bit
# (checked below), so the gradient is the reparameterisation's (PyTorch's rsample), with the
# standard draw read back from the value drawn: nothing is drawn twice.


def noisy_loss(x):
    np.random.seed(3)  # (so that finite differences see the same draws)
    a = np.random.normal(loc=x, scale=x[1] ** 2 + 0.5)
    b = np.random.normal(x[0], 2.0, size=(2, 3))
    c = np.random.uniform(x[0] - 1.0, x + 1.0)
    d = np.random.exponential(x ** 2 + 0.1, size=3)
    e = np.random.lognormal(x[2], x[1], size=4)
    h = np.random.laplace(x, 0.5) + np.random.gumbel(x[0], x[1]) + np.random.logistic(0.0, x)
    return np.sum(a ** 2) + np.sum(np.sin(b)) + np.sum(c * d) + np.sum(e) * 0.1 + np.sum(h ** 2)


def test_numpys_draws_are_standard_draws_moved_and_scaled():
    loc, scale = np.array([0.3, -1.0, 2.0]), np.array([0.5, 2.0, 1.5])
    for draw, standard in [("normal", "standard_normal"), ("laplace", "laplace"),
                           ("gumbel", "gumbel"), ("logistic", "logistic")]:
        np.random.seed(0)
        got = getattr(np.random, draw)(loc, scale)
        np.random.seed(0)
        z = getattr(np.random, standard)(size=3) if standard == "standard_normal" else \
            getattr(np.random, standard)(0.0, 1.0, size=3)
        np.testing.assert_array_equal(got, loc + scale * z)


@pytest.mark.parametrize("mode", MODES[:4])
def test_draws_with_parameters_every_mode(mode):
    _check_every_mode(noisy_loss, (X,), mode)


def test_draws_with_parameters_second_order_and_value():
    _check_hessian(noisy_loss, X)
    value, _ = sd.value_and_grad(noisy_loss)(X)
    assert value == noisy_loss(X)
