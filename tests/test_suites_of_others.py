"""Other autodiff projects' test programs, rewritten here: small functions in the spirit of
Tangent's tests/functions.py and programs in the spirit of HIPS autograd's examples/ (an HMM's
forward algorithm, a fixed point, negative binomial maximum likelihood, logistic regression,
Rosenbrock, a Taylor series with a data-dependent while, a GP's marginal likelihood, a GAN's
losses, an Euler ODE net, unrolled gradient descent), each checked by sourcediff.testing's
finite differences in forward and reverse mode and to second order (review24; a catalogue of what
works, kept fast)."""

import numpy as np
import pytest
import scipy.special as sps
import scipy.stats
from scipy.special import gammaln, logsumexp

import sourcediff as sd
from sourcediff.testing import check_grads


def ident(a): return a


def neg(a): return -a


def total(x): return np.sum(x)


def total_of_array(x): return np.sum(np.array(x))


def rebind_from_call(x):
    x = np.sum(x)
    x = x * x
    return x


def th(a): return np.tanh(a)


def alias_then_return(a):
    b = a
    return b


def plus_one(a): return a + 1


def axpy(a, b, c): return a * b + c


def _times(a, b): return a * b


def _plus(a, b): return a + b


def axpy_by_calls(a, b, c): return _plus(_times(a, b), c)


def axpy_overwrite(a, b, c):
    t = a * b
    t = t + c
    return t


def name_like_adjoint(a):
    da = a * a
    a_bar = da * 2.0
    return a_bar + da


def branch_rebind(a):
    if a > 0:
        a = a * 3.0
    else:
        a = a * 2.0
    return a


def divs(a): return a / 3.0 + 3.0 / a + a / a


def subs(a): return a - 3.0 + (3.0 - a) + (a - a)


def nested_branches(a):
    if a > 0:
        if a < 10:
            a = a * a
    else:
        a = 3.0 * a
    return a


def tangled_branches(a):
    if a * a / 3.0 > 0:
        b = 3.0
    else:
        b = 4.0
    a = a * b
    if a < b - a * b:
        a = a * a
    elif a > b + 3.0 * a:
        if a / 2.0 < 0:
            a = a / b
        else:
            a = a * b
    else:
        a = -a
    return a


def np_multiply_const(a): return np.multiply(a, 3.0)


def list_display_sum(a):
    b = [1.0, a * a, 2.0]
    return np.sum(b)


def list_of_products(x):
    b = [1.0, x[0] * x[1] * x[2], 3.0]
    return np.sum(b)


def two_elements(x):
    a = x[0]
    b = x[1]
    return a * b


def write_into_argument(x):
    a = x[0]
    b = x[1]
    x[0] = a * b
    return np.sum(x)


def write_into_argument_2(x):
    y = x ** 2.0
    x[0] = y[1] * y[2]
    return np.sum(x * y)


def list_element(a):
    x = [1.0, a, 3.0]
    return x[0] * x[1]


def list_overwrite(a):
    x = [1.0, a * a, 3.0]
    x[1] = x[0] * x[1]
    return x[1] + x[1]


def branches_in_series(a):
    if a > 0:
        a = a * a
    a = a + a
    if a < 0:
        a = 3.0 * a
    return a


def two_arg_branch(a, b):
    if a > b:
        a = a * a
    else:
        a = a * b
    return a


def loops_in_series(a, n):
    for i in range(n):
        a = a * a
    a = 2.0 * a
    for i in range(n + 1):
        a = a * 3.0
    return a


def branch_then_loop(a, n):
    if a > 0:
        a = a * a
    a = 2.0 * a
    for i in range(n):
        a = a * a
    return a


def loop_then_branch(a, n):
    for i in range(n):
        a = a * a
    a = 2.0 * a
    if a > 0:
        a = a * a
    return a


def devilish(a):
    if a > 0:
        a = a * 3.0
        if a < 10:
            a = a * a
        else:
            a = a * 2.0
    return a


def elif_chain(a):
    if a > 0:
        a = a * 3.0
    elif 0 > a:
        a = a * 2.0
    else:
        a = 1.0 * a
    return a


def cube(a): return a * a * a


def cube_pow(a): return a ** 3


def cube_loop_int_start(a):
    out = 1
    for i in range(3):
        out = out * a
    return out


def cube_loop(a):
    out = a
    for i in range(3 - 1):
        out = out * a
    return out


def square_thrice(a):
    for i in range(3):
        a = a * a
    return a


def square_n(a, n):
    for i in range(n):
        a = a * a
    return a


def cond_in_loop(a):
    for i in range(3):
        if a < 20:
            a = a * a
    return a


def loop_in_cond(a):
    if a < 20:
        for i in range(3):
            a = a * a
    return a


def double_loop(a):
    for i in range(2):
        for j in range(3):
            a = a * a
    return a


def cube_in_loop(a):
    for i in range(3):
        a = a * a * a
    return a


def mean_(x): return np.mean(x)


def exp_exp(a): return np.exp(np.exp(a))


def sqrt_(a): return np.sqrt(a)


def logistic(inp, label, W, b):
    h1 = np.dot(inp, W) + b
    prediction = 0.5 * (np.tanh(h1) + 1)
    label_probabilities = prediction * label + (1 - prediction) * (1 - label)
    return -np.sum(np.log(label_probabilities))


def _inner(a, b): return a * b


def call_inner(a, b): return _inner(a, b)


def branch_calls(a, b):
    if a > b:
        o = _inner(a, b)
    else:
        o = _inner(b, a)
    return o


def loop_calls(a, n):
    for i in range(n):
        a = _inner(a, a)
    return a


def nested_call(a, b): return call_inner(a, b)


def nested_def_loop(a, n):
    def _fn(a, n):
        return a * n
    for i in range(n):
        a = _fn(a, a)
    return a


def unpack_tuple(abc):
    a, b, c = abc
    return a * b + c


def dict_axpy(val): return val["a"] * val["b"] + val["c"]


def dict_wrap(abc):
    a, b, c = abc
    return dict_axpy(dict(a=a, b=b, c=c))


def tuple_pick(a, b, c, i):
    x = a, b, c
    return x[i]


def first_of(abc):
    a, b, c = abc
    return a


def polar_r(a, b):
    r = np.sqrt(a ** 2.0 + b ** 2.0)
    theta = np.arctan2(b, a)
    return r + theta


def listcomp_sum(a): return np.sum([i * 3 for i in a])


def halving_while(a):
    while np.abs(a) > 0.1:
        a = a * 0.5
    return a


def copy_by_element(x):
    y = np.zeros_like(x)
    for i in range(len(x)):
        y[i] = x[i]
    return np.sum(y * y)


def rows_from_elements(x):
    h = np.zeros((len(x), 3))
    for t in range(len(h)):
        h[t] = x[t]
    return np.sum(np.sin(h))


def tail(x): return np.sum(x[1:] ** 2)


def rnn_rows(inputs, W):
    h = np.zeros((4, 3))
    for t in range(3):
        h[t + 1] = np.dot(inputs[t], W) + h[t]
    return np.sum(np.tanh(h[1:]))


def augassign_(a):
    x = a * a
    x *= x
    return x


def bilinear(x, h, U, W, b):
    y = np.dot(x, W)
    y = y + np.dot(h, U)
    y = y + b
    y = np.tanh(y)
    return np.sum(y)


def pow_ab(a, b):
    a = a ** b
    return a


def square_then_square(a):
    a = a * a
    y = a * a
    return y


def chain_mults(a):
    b = a
    b = a * a
    c = b * b
    d = c * c
    return d


def chain_multcalls(a):
    b = _times(a, a)
    c = _times(b, b)
    d = _times(c, c)
    return d


def nested_dict(p): return p["i"]["j"] * p["i"]["k"]


def extended_slice(x): return np.sum(np.sin(x[::2, np.newaxis]))


def multiple_return(a):
    def both(a):
        return 2 * a, a
    u, v = both(a)
    return u * v


rng0 = np.random.default_rng(11)


def R(*s):
    return rng0.normal(size=s)


# --- HMM forward algorithm over a list of sequences


def log_partition_loop(natural_params, data):
    log_pi, log_A, log_B = natural_params
    total = 0.0
    for seq in data:
        log_alpha = log_pi
        for y in seq:
            log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y]
        total = total + logsumexp(log_alpha)
    return total

def hmm_natural(params, data):
    natural = list(map(np.log, params))
    return log_partition_loop(natural, data)

HMM_DATA = [np.array([0, 2, 1, 1]), np.array([2, 0, 0])]


def _norm_rows(a): return a / a.sum(-1, keepdims=True)


HMM_PARAMS = [_norm_rows(rng0.random(3)), _norm_rows(rng0.random((3, 3))), _norm_rows(rng0.random((3, 3)))]

def fixed_point_cos(a):
    x = 0.0
    for i in range(60):
        x = np.cos(a * x)
    return x

# --- negative binomial maximum likelihood (gammaln)


NB_DATA = np.array([3.0, 0.0, 7.0, 2.0, 4.0, 1.0])


def negbin_loglike(r, p):
    x = NB_DATA
    return np.sum(gammaln(r + x) - gammaln(r) - gammaln(x + 1) + x * np.log(p) + r * np.log(1 - p))


def negbin_unconstrained(params):
    log_r, logit_p = params[0], params[1]
    return -negbin_loglike(np.exp(log_r), sps.expit(logit_p))

# --- logistic regression, rosenbrock, sinusoid


XS = R(6, 3)


TS = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])


def sigmoid(x): return 0.5 * (np.tanh(x / 2.0) + 1)


def logistic_loss(weights):
    preds = sigmoid(np.dot(XS, weights))
    label_probabilities = preds * TS + (1 - preds) * (1 - TS)
    return -np.sum(np.log(label_probabilities))


def rosenbrock(x): return 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2


def taylor_sine(x):
    ans = currterm = x
    i = 0
    while np.abs(currterm) > 0.001:
        currterm = -currterm * x ** 2 / ((2 * i + 3) * (2 * i + 2))
        ans = ans + currterm
        i += 1
    return ans

# --- GP marginal likelihood (cholesky, solve), deep-gp like composition


def rbf(x, xp, params):
    output_scale = np.exp(params[0])
    lengthscales = np.exp(params[1:])
    diffs = np.expand_dims(x / lengthscales, 1) - np.expand_dims(xp / lengthscales, 0)
    return output_scale * np.exp(-0.5 * np.sum(diffs ** 2, axis=2))


X_GP = R(6, 1)


Y_GP = np.sin(X_GP[:, 0])


def gp_log_marginal(params):
    mean, noise = params[0], np.exp(params[1]) + 1e-4
    cov = rbf(X_GP, X_GP, params[2:]) + noise * np.eye(len(Y_GP))
    return scipy.stats.multivariate_normal.logpdf(Y_GP, mean * np.ones(len(Y_GP)), cov)


def gp_log_marginal_chol(params):
    mean, noise = params[0], np.exp(params[1]) + 1e-4
    K = rbf(X_GP, X_GP, params[2:]) + noise * np.eye(len(Y_GP))
    L = np.linalg.cholesky(K)
    r = Y_GP - mean
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, r))
    return -0.5 * r @ alpha - np.sum(np.log(np.diag(L))) - 0.5 * len(r) * np.log(2 * np.pi)

# --- GAN losses with two nets held in lists of tuples


def net(params, x):
    for W, b in params[:-1]:
        x = np.maximum(0.0, x @ W + b)
    W, b = params[-1]
    return x @ W + b


def gan_loss(gen_params, dsc_params, seed=3):
    rs = np.random.default_rng(seed)
    z = rs.standard_normal((5, 2))
    fake = net(gen_params, z)
    real = R(5, 2) if False else np.ones((5, 2))
    logit_fake = net(dsc_params, fake)
    logit_real = net(dsc_params, real)
    return np.mean(np.logaddexp(0, -logit_real)) + np.mean(np.logaddexp(0, logit_fake))


GEN = [(R(2, 3), R(3)), (R(3, 2), R(2))]


DSC = [(R(2, 3), R(3)), (R(3, 1), R(1))]

# --- Euler ODE net


def odenet(params, y0):
    W1, b1, W2, b2 = params
    y = y0
    dt = 0.1
    for t in range(10):
        h = np.tanh(y @ W1 + b1)
        y = y + dt * (h @ W2 + b2)
    return np.sum((y - 1.0) ** 2)


ODE = [R(2, 4), R(4), R(4, 2), R(2)]

# --- adam optimizer unrolled: differentiate final loss w.r.t. learning-rate-ish hyper


def quad(w): return np.sum((w - 1.0) ** 2 * np.arange(1.0, 4.0))
dquad = sd.grad(quad)


def unrolled_sgd(log_lr):
    w = np.zeros(3)
    for i in range(5):
        w = w - np.exp(log_lr) * dquad(w)
    return quad(w)


x3 = np.array([0.3, -0.8, 1.4])
x5 = np.array([0.3, -0.8, 1.4, 0.6, -1.1])


TANGENT = [
    ("ident", ident, (0.7,)),
    ("neg", neg, (0.7,)),
    ("total", total, (x3,)),
    ("total_of_array", total_of_array, (x3,)),
    ("rebind_from_call", rebind_from_call, (x3,)),
    ("tanh", th, (0.4,)),
    ("alias", alias_then_return, (0.4,)),
    ("plus_one", plus_one, (0.4,)),
    ("axpy", axpy, (0.4, 1.3, -0.2), {"wrt": (0, 1, 2)}),
    ("axpy_calls", axpy_by_calls, (0.4, 1.3, -0.2), {"wrt": (0, 1, 2)}),
    ("axpy_overwrite", axpy_overwrite, (0.4, 1.3, -0.2), {"wrt": (0, 1, 2)}),
    ("name_like_adjoint", name_like_adjoint, (0.4,)),
    ("branch_rebind+", branch_rebind, (0.4,)),
    ("branch_rebind-", branch_rebind, (-0.4,)),
    ("divs", divs, (0.4,)),
    ("subs", subs, (0.4,)),
    ("nested_branches", nested_branches, (2.0,)),
    ("nested_branches-", nested_branches, (-2.0,)),
    ("tangled+", tangled_branches, (0.5,)),
    ("tangled-", tangled_branches, (-0.5,)),
    ("tangled2", tangled_branches, (-3.0,)),
    ("np_multiply", np_multiply_const, (0.4,)),
    ("list_display_sum", list_display_sum, (0.4,)),
    ("list_of_products", list_of_products, (x3,)),
    ("two_elements", two_elements, (x3,)),
    ("write_into_argument", write_into_argument, (x3,)),
    ("write_into_argument_2", write_into_argument_2, (x3,)),
    ("list_element", list_element, (0.4,)),
    ("list_overwrite", list_overwrite, (0.4,)),
    ("branches_in_series", branches_in_series, (0.4,)),
    ("branches_in_series-", branches_in_series, (-0.4,)),
    ("two_arg_branch", two_arg_branch, (0.4, 0.2), {"wrt": (0, 1)}),
    ("two_arg_branch2", two_arg_branch, (0.1, 0.2), {"wrt": (0, 1)}),
    ("loops_in_series", loops_in_series, (0.9, 2)),
    ("branch_then_loop", branch_then_loop, (0.9, 2)),
    ("loop_then_branch", loop_then_branch, (0.9, 2)),
    ("devilish", devilish, (0.9,)),
    ("devilish2", devilish, (4.0,)),
    ("elif_chain", elif_chain, (0.4,)),
    ("elif_chain-", elif_chain, (-0.4,)),
    ("cube", cube, (0.4,)),
    ("cube_pow", cube_pow, (0.4,)),
    ("cube_loop_int_start", cube_loop_int_start, (0.4,)),
    ("cube_loop", cube_loop, (0.4,)),
    ("square_thrice", square_thrice, (0.9,)),
    ("square_n", square_n, (0.9, 3)),
    ("square_n0", square_n, (0.9, 0)),
    ("cond_in_loop", cond_in_loop, (1.7,)),
    ("loop_in_cond", loop_in_cond, (1.1,)),
    ("double_loop", double_loop, (1.01,)),
    ("cube_in_loop", cube_in_loop, (1.01,)),
    ("mean", mean_, (x3,)),
    ("exp_exp", exp_exp, (0.3,)),
    ("sqrt", sqrt_, (0.3,)),
    ("logistic", logistic, (rng0.normal(size=(5, 3)), (rng0.random(5) > 0.5).astype(float),
                            rng0.normal(size=3), 0.1), {"wrt": (0, 2, 3)}),
    ("call_inner", call_inner, (0.4, 1.3), {"wrt": (0, 1)}),
    ("branch_calls", branch_calls, (0.4, 1.3), {"wrt": (0, 1)}),
    ("loop_calls", loop_calls, (0.9, 3)),
    ("nested_call", nested_call, (0.4, 1.3), {"wrt": (0, 1)}),
    ("nested_def_loop", nested_def_loop, (0.9, 3)),
    ("unpack_tuple", unpack_tuple, ((0.4, 1.3, -0.2),)),
    ("dict_axpy", dict_axpy, ({"a": 0.4, "b": 1.3, "c": -0.2},)),
    ("dict_wrap", dict_wrap, ((0.4, 1.3, -0.2),)),
    ("tuple_pick", tuple_pick, (0.4, 1.3, -0.2, 1), {"wrt": (0, 1, 2)}),
    ("first_of", first_of, ((0.4, 1.3, -0.2),)),
    ("polar", polar_r, (0.4, 1.3), {"wrt": (0, 1)}),
    ("listcomp", listcomp_sum, (x3,)),
    ("halving_while", halving_while, (3.0,)),
    ("copy_by_element", copy_by_element, (x3,)),
    ("rows_from_elements", rows_from_elements, (x3,)),
    ("tail", tail, (x3,)),
    ("rnn_rows", rnn_rows, (rng0.normal(size=(3, 2)), rng0.normal(size=(2, 3))), {"wrt": (0, 1)}),
    ("augassign", augassign_, (0.4,)),
    ("bilinear", bilinear, tuple(rng0.normal(size=s) for s in [(2, 3), (2, 3), (3, 3), (3, 3), (3,)]),
     {"wrt": (0, 1, 2, 3, 4)}),
    ("pow_ab", pow_ab, (1.4, 2.3), {"wrt": (0, 1)}),
    ("square_then_square", square_then_square, (0.4,)),
    ("chain_mults", chain_mults, (0.9,)),
    ("chain_multcalls", chain_multcalls, (0.9,)),
    ("nested_dict", nested_dict, ({"i": {"j": 0.4, "k": 1.3}},)),
    ("extended_slice", extended_slice, (rng0.normal(size=(5, 2)),)),
    ("multiple_return", multiple_return, (0.4,)),
]

PROGRAMS = [
    ("hmm_loop", hmm_natural, (HMM_PARAMS, HMM_DATA), {"wrt": 0}),
    ("fixed_point_cos", fixed_point_cos, (0.7,)),
    ("negbin", negbin_unconstrained, (np.array([0.4, -0.3]),)),
    ("logistic", logistic_loss, (R(3),)),
    ("rosenbrock", rosenbrock, (np.array([0.3, 0.7]),)),
    ("taylor_sine", taylor_sine, (1.2,)),
    ("gp_mvn", gp_log_marginal, (R(4) * 0.3,)),
    ("gp_chol", gp_log_marginal_chol, (R(4) * 0.3,)),
    ("gan", gan_loss, (GEN, DSC), {"wrt": (0, 1)}),
    ("odenet", odenet, (ODE, R(3, 2)), {"wrt": (0, 1)}),
    ("unrolled_sgd", unrolled_sgd, (-2.0,)),
]


_PROGRAM_NAMES = {c[0] for c in PROGRAMS}


def _plain(args):
    return all(isinstance(a, (float, int, np.ndarray)) for a in args)


@pytest.mark.parametrize("name, fn, args, opts", [(c[0], c[1], c[2], c[3] if len(c) > 3 else {})
                                                  for c in TANGENT + PROGRAMS],
                         ids=[c[0] for c in TANGENT + PROGRAMS])


def test_gradients_of_other_projects_programs(name, fn, args, opts):
    wrt = opts.get("wrt", 0)
    wrts = wrt if isinstance(wrt, tuple) else (wrt,)
    if _plain(args) and all(isinstance(args[i], (float, np.ndarray)) for i in wrts) and \
            len(wrts) == len([a for a in args if isinstance(a, (float, np.ndarray))]):
        # (second order for Tangent's small functions; the programs to first order, and
        # scipy.stats.multivariate_normal.logpdf's rule has no second order)
        check_grads(fn, args, order=1 if name in _PROGRAM_NAMES else 2)
        return
    for mode in ("reverse", "forward"):
        g = sd.grad(fn, wrt=wrt, mode=mode)(*args)
        g = g if isinstance(wrt, tuple) else (g,)
        for i, gi in zip(wrts, g):
            _check_leaves(fn, args, i, gi)


def _check_leaves(fn, args, i, g, h=1e-6):
    """Central differences of ``fn`` in one random direction per leaf of argument ``i``."""
    rng = np.random.default_rng(5)

    def leaves(t, path=()):
        if isinstance(t, dict):
            for k in sorted(t):
                yield from leaves(t[k], path + (k,))
        elif isinstance(t, (list, tuple)):
            for k, v in enumerate(t):
                yield from leaves(v, path + (k,))
        else:
            yield path, t

    def moved(t, path, d):
        if not path:
            return t + d
        if isinstance(t, dict):
            return {k: moved(v, path[1:], d) if k == path[0] else v for k, v in t.items()}
        return type(t)(moved(v, path[1:], d) if k == path[0] else v for k, v in enumerate(t))

    for path, leaf in leaves(args[i]):
        if not (isinstance(leaf, float) or getattr(leaf, "dtype", np.dtype(int)).kind == "f"):
            continue
        v = rng.normal(size=np.shape(leaf))
        grad_leaf = g
        for k in path:
            grad_leaf = grad_leaf[k]
        plus = [moved(a, path, h * v) if j == i else a for j, a in enumerate(args)]
        minus = [moved(a, path, -h * v) if j == i else a for j, a in enumerate(args)]
        fd = (fn(*plus) - fn(*minus)) / (2 * h)
        an = float(np.sum(np.asarray(grad_leaf) * v))
        assert abs(fd - an) <= 1e-5 * (abs(fd) + abs(an)) + 1e-7, (path, fd, an)
