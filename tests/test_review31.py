"""review31: what the fuzzer found once taught session 18's constructs (tests/fuzz/extras2.py) and
checking sd.jacobian, sd.hessian and reverse over reverse. Oracles: central finite differences of
the function (first order) and of the reverse gradient (second order)."""

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd

X = np.array([0.3, -0.5, 0.2])
S = 0.7


def _second_order_check(f, args, rtol=1e-4):
    """grad of (df/ds) and sd.hessian in x, against finite differences of the reverse gradient."""
    n = len(args)
    dds = sd.grad(sd.grad(f, wrt=n - 1), wrt=tuple(range(n)))(*args)
    check_grads_fd(lambda *a: sd.grad(f, wrt=n - 1)(*a), args, tuple(range(n)), dds, rtol=rtol)
    hess = sd.hessian(f, wrt=0)(*args)
    for k in range(np.size(args[0])):
        check_grads_fd(lambda *a: sd.grad(f, wrt=0)(*a)[k], args, (0,), (hess[k],), rtol=rtol)


# ------------------------------------------------- a, *rest = [u, v]: as many items as names
def star_as_many_items_as_names(x, s):
    a, *rest = [x[0] * s, x[1] * 2.0]
    first, *mid, last = (x[2], s * s, x[0])
    return a * sum(rest) + first * last + mid[0] * len(rest)


def star_in_a_loop(x, s):
    for _ in range(2):
        a, *rest = [x[0], x[1] * s]
        x = x * a + rest[0]
    return np.sum(x)


@pytest.mark.parametrize("f", [star_as_many_items_as_names, star_in_a_loop])
@pytest.mark.parametrize("mode", ["reverse", "generic", "forward"])
def test_starred_unpacking_of_as_many_items_as_names(f, mode):
    """It was refused ("assignment to Starred are not supported"): normalize paired the target's
    names with the literal's items one to one, the starred name included."""
    if mode == "generic":
        g = sd.grad(f, wrt=(0, 1), optimize=False)(X, S)
    else:
        g = sd.grad(f, wrt=(0, 1), mode=mode)(X, S)
    check_grads_fd(f, (X, S), (0, 1), g)


def test_starred_unpacking_second_order():
    _second_order_check(star_as_many_items_as_names, (X, S))


# ------------------------------------------------- second order through list / dict gradients
def min_of_pairs(x, s):
    a, b = min([(np.sum(x), s), (x[1], s * x[0]), (s, np.sum(x) * 2.0)], key=lambda p: p[0])
    return a * b


def dict_items(x, s):
    d = {'a': np.full((3,), s), 'b': x[1]}
    v = d['a'] * d['b']
    return np.minimum(np.sum(v) * s, -v[-2]) + np.sum(x * x)


def rec(a, n):
    if n <= 0:
        return a
    return rec(np.sin(a) * 0.9 + 0.1, n - 1)


def recursive_helper(x, s):
    return np.sum(rec(x * s, 2))


@pytest.mark.parametrize("f", [min_of_pairs, dict_items, recursive_helper],
                         ids=lambda f: f.__name__)
def test_reverse_over_reverse(f):
    """Each raised inside the second derivative's code: min_of_pairs in item_grad's adjoint,
    which scattered into the symbolic zero 0.0 of the list item nothing reached (IndexError);
    dict_items in scatter's adjoint, which read a key the dict's gradient did not have
    (KeyError: 'b'); recursive_helper in the recursive call of the backward form's own backward
    form, called with out_bar= while its cotangent was named _out_bar1 (TypeError)."""
    _second_order_check(f, (X, S))


# ------------------------------------------------- ties: every mode takes the same subgradient
def builtin_extrema(x):
    return max(x[0], x[1], x[3]) * 2.0 + min(x[1], 0.5) * 3.0 + max([x[2], x[0]]) * 5.0


def builtin_extrema_of_an_array(x):
    return max(x) * 2.0 + min(x[::-1]) * 5.0


def numpy_extrema(x):
    return (np.sum(np.maximum(x, 0.5) * np.arange(1.0, 5.0)) + np.max(x) * 3.0
            + np.sum(np.abs(x - 0.5)) + np.sum(np.clip(x, 0.0, 0.5) * np.arange(4.0))
            + np.sum(np.sort(x) * np.arange(4.0)))


TIES = np.array([0.5, 0.5, 0.2, 0.5])


@pytest.mark.parametrize("f", [builtin_extrema, builtin_extrema_of_an_array, numpy_extrema],
                         ids=lambda f: f.__name__)
def test_ties_take_the_same_subgradient_in_every_mode(f):
    """Python's max/min at a tie: the tape (Python's own max picking among tensors) gave g to the
    first of the equal items, every source mode split it evenly ([1, 1, 0, 0] against [2, 0, 0,
    0] for max(x[0], x[1]) * 2). Now g goes to the item Python returns, the first of the equal
    ones, in every mode; np.maximum, np.max and the other numpy functions keep PyTorch's even
    split (their rules), the same in every mode too."""
    from sourcediff.tape import grad_of

    ref = sd.grad(f)(TIES.copy())
    got = {
        "unoptimized": sd.grad(f, optimize=False)(TIES.copy()),
        "forward": sd.grad(f, mode="forward")(TIES.copy()),
        "jacobian forward": sd.jacobian(f, mode="forward")(TIES.copy()),
        "jacobian reverse": sd.jacobian(f, mode="reverse")(TIES.copy()),
        "tape": grad_of(f, (TIES.copy(),), wrt=0),
    }
    df = sd.grad(f)
    df(TIES.copy())
    got["generic"] = df.__sourcediff_specializations__.generic(TIES.copy())
    for name, g in got.items():
        np.testing.assert_allclose(g, ref, err_msg=name)
    if f is builtin_extrema:  # (the first of the equal items)
        np.testing.assert_allclose(ref, [7.0, 3.0, 0.0, 0.0])


def test_ties_numba_backend():
    pytest.importorskip("numba")
    for f in (builtin_extrema, builtin_extrema_of_an_array, numpy_extrema):
        np.testing.assert_allclose(sd.grad(f, backend="numba")(TIES.copy()), sd.grad(f)(TIES.copy()))


# ------------------------------------------------- seed 200026 of review31's campaign (fixed in review35:
# the adjoint of _sd.unreduce reshaped to a symbolic zero's shape (); minimized in test_review35)
SEED_200026 = 'import functools\nimport math\n\nimport numpy as np\n\nSHAPES = ((2, 2), (2, 2))  # the shapes of x and y\n\n\ndef pair(a, b):\n    return a * np.tanh(b) + 0.5 * b\n\n\ndef opt(a, b, scale=1.0, shift=0.0):\n    return a * scale + np.sin(b) + shift\n\n\ndef forward_all(*args, **kwargs):\n    return opt(*args, **kwargs)\n\n\ndef total(*args):\n    out = 0.0\n    for a in args:\n        out = out + np.sum(np.sin(a) * a)\n    return out\n\n\ndef deco(fn):\n    @functools.wraps(fn)\n    def wrapper(*args, **kwargs):\n        return fn(*args, **kwargs)\n    return wrapper\n\n\n@deco\ndef dpair(a, b):\n    return np.cos(a) * b + a\n\n\ndef apply2(fn, a, b):\n    return fn(a, b)\n\n\nclass Layer:\n    def __init__(self, k):\n        self.k = k\n\n    @deco\n    def scale(self, t):\n        return np.tanh(t) * self.k + t\n\n\nLAYER = Layer(0.7)\n\n\ndef sfn(t):\n    if t > 0.3:\n        return math.sin(t) * t\n    return t * t + 0.1 * t\n\n\ndef comb(a, b):\n    return a * np.tanh(b) + 0.3 * b\n\n\nclass Cfg:\n    def __init__(self):\n        self.k = 0.7\n        self.bias = 0.2\n\n    def scale(self, t):\n        return np.tanh(t) * self.k + self.bias * t\n\n\nCFG = Cfg()\n\n\ndef f(x, y, s):\n    cz1 = complex(np.sum(y), np.where(s > 0.57, s, s))\n    v0 = np.sin(cz1).imag\n    P2 = np.tanh(s * np.ones((3, 3)))\n    v6 = x\n    v7, v8 = min([(s - y[-1, -2], v6[1]), (math.tanh(v0), np.sum(P2[:, -2:-4:-1], axis=-2)), (x[0, -1], v6[:, 0] - v6[:, -2])], key=lambda p: p[0])\n    z9 = np.zeros((2, 2))\n    v10 = functools.reduce(comb, (x, np.c_[np.mean(x, axis=0), z9[:, -2]]), v6[0, -1])\n    v11 = pair(np.sum(v6, axis=0), *(np.sum(y[1:, :], axis=1),))\n    v12 = pair(v6[-1], *(v11,))\n    P14 = np.tanh(z9)\n    v18, *rest19, v20 = (np.array([np.log1p(r_ ** 2) for r_ in v8]), z9[-2] * v11, v6[:, -1])\n    v21 = sum(rest19) * 0.51 + rest19[0]\n    return np.dot(v8, z9[-1]) + np.sum(P2) + np.sum(v7) + np.sum(v8) + np.sum(v10) + np.sum(v11) + np.sum(v12) + np.sum(P14) + np.sum(v21) + np.sum(np.reshape(x.reshape(4), (2, 2)))\n'


def test_seed_200026_reverse_over_reverse(tmp_path):
    from tests.fuzz.generator import load_source, make_args

    module = load_source(SEED_200026, "seed_200026", str(tmp_path))
    args = make_args(module.SHAPES, 200026)
    first = sd.grad(module.f, wrt=2)
    check_grads_fd(first, args, (0, 1, 2), sd.grad(first, wrt=(0, 1, 2))(*args))
