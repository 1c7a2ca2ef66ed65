"""review43: gradients of ordinary losses with arguments in the forms users pass them.

Each loss (an MLP layer, logistic and softmax cross-entropy losses, a loop writing ``h[:, t]``,
a keepdims reduction, ``x.T @ x``, ravel and reshape, an elementwise chain the specializer
rewrites into buffers, ``np.dot`` of vectors and matrices, a loss writing into its arguments) is
called with float32, float16 and big-endian arrays, Fortran-ordered, transposed, reversed and
strided views, read-only and zero-stride arrays, memmaps, numpy scalars, 0-d and empty arrays,
one array passed for two parameters, and one gradient function called with one kind after
another (its cache of specializations). Every gradient is checked against central finite
differences on a float64 copy (and PyTorch where it has the loss), with a tolerance for the
argument's dtype, in every mode that applies; the arguments must be left as they were and the
gradient must have the form runtime.grad_like documents (an array's shape and dtype, a float
for a Python float, a numpy scalar of the argument's type). The harness is
tests/review43_inputs.py."""

import numpy as np
import pytest

import sourcediff as sd

from . import review43_losses as L
from .review43_inputs import (
    KINDS,
    assert_close,
    assert_like,
    assert_unchanged,
    check,
    fd_gradient,
    gradient,
    losses,
    snapshot,
    tolerance,
)

LOSSES = losses()
SOURCE_MODES = ("default", "unoptimized", "forward")
# (the tape refuses, as PyTorch does, a value written into an array made by np.zeros and a
# leaf written in place: tape.TapeError at the line)
TAPE_REFUSES = {"rnn", "scale_rows"}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_kind_of_array_in_every_mode(name, kind):
    f, args, wrt = LOSSES[name]
    args = [KINDS[kind](a) for a in args]
    refs = [fd_gradient(f, args, i) for i in wrt]
    sd.clear_cache()
    for mode in SOURCE_MODES + ("tape",):
        refused = check(f, args, wrt, mode, refs, f"{name}/{kind}/{mode}")
        if mode == "tape" and name in TAPE_REFUSES:
            assert isinstance(refused, sd.SourcediffError)
        else:
            assert refused is None, f"{name}/{kind}/{mode} refused: {refused}"


@pytest.mark.parametrize("kind", ["float64", "fortran", "reversed", "strided", "read_only",
                                  "zero_strides", "memmap", "float32"])
@pytest.mark.parametrize("name", ["mlp", "softmax_ce", "rnn", "chain", "flat"])
def test_numba_backend_with_every_layout(name, kind):
    pytest.importorskip("numba")
    f, args, wrt = LOSSES[name]
    args = [KINDS[kind](a) for a in args]
    assert check(f, args, wrt, "numba", what=f"{name}/{kind}/numba") is None


SEQUENCE = ["float64", "float32", "fortran", "float64", "transposed", "reversed", "strided",
            "read_only", "zero_strides", "memmap", "float16", "big_endian", "float64"]


@pytest.mark.parametrize("mode", SOURCE_MODES)
@pytest.mark.parametrize("name", ["mlp", "softmax_ce", "rnn", "centred", "chain", "flat",
                                  "scale_rows"])
def test_one_gradient_function_called_with_one_kind_after_another(name, mode):
    # the specializations are cached by shape and dtype only: a layout, a view, a read-only or
    # zero-stride array must not be taken for what an earlier call compiled
    f, args, wrt = LOSSES[name]
    sd.clear_cache()
    for kind in SEQUENCE + SEQUENCE[::-1]:
        given = [KINDS[kind](a) for a in args]
        assert check(f, given, wrt, mode, what=f"{name}/{kind}/{mode}") is None
    # and a new shape after them (one more row of data)
    given = [np.concatenate([a, a[:1]]) if a.ndim == 2 and i not in wrt[:1] else a
             for i, a in enumerate(args)]
    if name in ("mlp", "softmax_ce", "centred", "chain"):
        assert check(f, given, wrt, mode, what=f"{name}/more rows/{mode}") is None


def _torch():
    return pytest.importorskip("torch")


def _torch_losses(t):
    def mlp(W, b, x):
        return t.sum(t.tanh(x @ W + b))

    def logistic(w, X, y):
        return t.mean(t.logaddexp(t.zeros((), dtype=t.float64), -y * (X @ w)))

    def softmax_ce(W, X, Y):
        z = X @ W
        z = z - z.max(dim=1, keepdim=True).values
        return -t.sum(Y * (z - t.log(t.sum(t.exp(z), dim=1, keepdim=True)))) / X.shape[0]

    def centred(x):
        return t.sum((x - t.mean(x, dim=0, keepdim=True)) ** 2)

    def gram(x):
        return t.sum((x.T @ x) ** 2)

    return {"mlp": mlp, "logistic": logistic, "softmax_ce": softmax_ce, "centred": centred,
            "gram": gram}


@pytest.mark.parametrize("kind", ["float64", "float32", "fortran", "reversed", "zero_strides"])
@pytest.mark.parametrize("name", ["mlp", "logistic", "softmax_ce", "centred", "gram"])
def test_gradients_and_hessians_against_torch(name, kind):
    t = _torch()
    f, args, wrt = LOSSES[name]
    args = [KINDS[kind](a) for a in args]
    tf = _torch_losses(t)[name]
    tensors = [t.tensor(np.array(a, dtype=np.float64)) for a in args]
    for k in wrt:
        tensors[k].requires_grad_(True)
    tf(*tensors).backward()
    H = t.autograd.functional.hessian(lambda w: tf(w, *tensors[1:]),
                                      tensors[0].detach()).numpy()
    before = snapshot(args)
    grads = sd.grad(f, wrt=wrt)(*args)
    for k, g in zip(wrt, grads):
        assert_like(g, args[k], f"{name}/{kind} argument {k}")
        assert_close(g, tensors[k].grad.numpy(), args[k], f"{name}/{kind} against torch")
    hess = sd.hessian(f)(*args)
    assert hess.shape == args[0].shape * 2 and hess.dtype == args[0].dtype
    assert_close(hess, H, args[0], f"{name}/{kind} hessian against torch")
    v = np.linspace(-1.0, 1.0, args[0].size).reshape(args[0].shape)
    hv = (H.reshape(v.size, v.size) @ v.ravel()).reshape(v.shape)
    assert_close(sd.hvp(f, args, [v] + [None] * (len(args) - 1)), hv, args[0], "hvp")
    assert_close(sd.grad(L.grad_dot, wrt=0)(args, v, f)[0], hv, args[0], "grad of grad")
    assert_unchanged(args, before, f"{name}/{kind} second order")


SCALARS = {"float": 0.7, "np.float64": np.float64(0.7), "np.float32": np.float32(0.7),
           "np.float16": np.float16(0.7), "0-d": np.array(0.7), "0-d float32":
           np.array(0.7, np.float32), "(1,)": np.array([0.7]), "(1, 1)": np.array([[0.7]]),
           "row": np.full(3, 0.7), "full": np.full((4, 3), 0.7)}


@pytest.mark.parametrize("mode", SOURCE_MODES + ("numba", "tape"))
@pytest.mark.parametrize("loss", [L.scaled, L.shifted])
def test_scalar_parameters_one_after_another(loss, mode):
    if mode == "numba":
        pytest.importorskip("numba")
    X = np.random.default_rng(1).normal(size=(4, 3))
    sd.clear_cache()
    order = list(SCALARS) + list(SCALARS)[::-1]
    for key in order:
        w = SCALARS[key]
        assert check(loss, [w, X], (0,), mode, what=f"{loss.__name__}/{key}/{mode}") is None


NOT_FLOAT = {"int": 2, "np.int64": np.int64(2), "bool": True, "complex": 0.5 + 1j,
             "int array": np.array([1, 2, 3]), "bool array": np.array([True, False, True]),
             "complex array": np.array([1 + 1j, 2.0, 0.5j])}


@pytest.mark.parametrize("mode", SOURCE_MODES + ("numba", "tape"))
@pytest.mark.parametrize("key", sorted(NOT_FLOAT))
def test_integer_boolean_complex_parameters_are_refused(key, mode):
    X = np.ones(3)
    with pytest.raises(sd.InactiveArgumentError, match="cannot carry a gradient"):
        gradient(L.scaled, [NOT_FLOAT[key], X], 0, mode)


@pytest.mark.parametrize("mode", SOURCE_MODES + ("tape",))
def test_integer_and_boolean_data(mode):
    r = np.random.default_rng(2)
    W, b = r.normal(size=(3, 4)), r.normal(size=4)
    Xi = r.integers(-3, 4, size=(5, 3))
    onehot = np.eye(4, dtype=bool)[r.integers(0, 4, 5)]
    for f, args, wrt in [(L.mlp, [W, b, Xi], (0, 1)), (L.mlp, [W, b, Xi > 0], (0, 1)),
                         (L.logistic, [r.normal(size=3), Xi, np.array([1, -1, 1, 1, -1])], (0,)),
                         (L.softmax_ce, [W, r.normal(size=(5, 3)), onehot], (0, 1)),
                         (L.softmax_ce, [W, r.normal(size=(5, 3)), onehot.astype(int)], (0, 1))]:
        assert check(f, args, wrt, mode, what=f"{f.__name__}/{mode}") is None


@pytest.mark.parametrize("mode", SOURCE_MODES + ("tape",))
def test_mixed_dtypes_and_broadcasting_parameters(mode):
    r = np.random.default_rng(3)
    W, x = r.normal(size=(3, 4)), r.normal(size=(5, 3))
    cases = [[W.astype(np.float32), r.normal(size=4), x],
             [W, r.normal(size=4).astype(np.float32), x.astype(np.float16)],
             [W, r.normal(size=(1, 4)), x], [r.normal(size=(3, 1)), r.normal(size=4), x],
             [W, r.normal(size=4), r.normal(size=(1, 3))], [W, np.array(0.3), x],
             [W, 0.3, x], [W, np.float32(0.3), x],
             [W.astype(np.float32), np.float64(0.3), x.astype(np.float32)]]
    for args in cases:
        assert check(L.mlp, args, (0, 1, 2), mode, what=f"mlp/{mode}") is None


@pytest.mark.parametrize("mode", SOURCE_MODES + ("tape",))
def test_one_array_passed_for_two_parameters(mode):
    r = np.random.default_rng(4)
    W = r.normal(size=(4, 4))
    for f, args in [(L.pair, [W, W]), (L.pair, [W, W.T]), (L.dot1, [W[0], W[0]]),
                    (L.dot1, [W.ravel()[:4], W.ravel()[2:6]]), (L.gram_of, [W, W])]:
        assert check(f, args, (0, 1), mode, what=f"{f.__name__}/{mode}") is None


@pytest.mark.parametrize("mode", SOURCE_MODES + ("tape",))
@pytest.mark.parametrize("loss", [L.quotient_write, L.negation_write])
def test_one_array_for_two_parameters_with_a_write_into_a_quotient_or_negation(loss, mode):
    # C = A / 2.0 (or -A, A - B, A ** 2) is a new array: a write into it reaches neither
    # argument, and f(W, W) is no alias (the operators' view facts were None, "may share", and
    # copy_param refused f(W, W) with an AliasError saying it writes into A)
    W = np.random.default_rng(5).normal(size=(4, 4))
    refused = check(loss, [W, W], (0, 1), mode, what=f"{loss.__name__}/{mode}")
    if mode == "tape":  # (the tape refuses the write into a value it needs, as torch does)
        return
    assert refused is None, refused


@pytest.mark.xfail(strict=True, reason=(
    "review43: a function writing into a product of one parameter (C = A * 2.0; C[0] = ...) "
    "is refused for f(W, W) with an AliasError saying it writes into A: the alias analysis "
    "takes `*` for one that may return its operand (a list repeated), and copy_param's check "
    "then refuses the shared memory"))
def test_one_array_for_two_parameters_with_a_write_into_a_product():
    W = np.random.default_rng(5).normal(size=(4, 4))
    assert check(L.pair_write, [W, W], (0, 1), "default") is None


@pytest.mark.parametrize("mode", SOURCE_MODES + ("tape",))
def test_empty_arrays(mode):
    r = np.random.default_rng(6)
    cases = [(L.pair, [np.zeros(0), np.zeros(0)], (0, 1)),
             (L.pair, [np.zeros((0, 3)), np.zeros(3)], (0, 1)),
             (L.mlp, [r.normal(size=(3, 2)), r.normal(size=2), np.zeros((0, 3))], (0, 1, 2)),
             (L.gram, [np.zeros((0, 3))], (0,)), (L.centred, [np.zeros((0, 3))], (0,)),
             (L.flat, [np.zeros((0, 3)), np.zeros(0)], (0, 1)),
             (L.dot2, [np.zeros((3, 0)), np.zeros(0)], (0, 1)), (L.chain, [np.zeros((2, 0))], (0,))]
    for f, args, wrt in cases:
        assert check(f, args, wrt, mode, what=f"{f.__name__}/{mode}") is None


def _directional(f, args, i, v, h=1e-6):
    base = [np.array(a, dtype=np.float64) if isinstance(a, np.ndarray) else a for a in args]
    up, down = list(base), list(base)
    up[i], down[i] = base[i] + h * v, base[i] - h * v
    return (f(*up) - f(*down)) / (2 * h)


@pytest.mark.parametrize("kind", ["float64", "float32", "fortran", "reversed", "zero_strides"])
def test_large_arrays_buffers_and_row_blocks(kind):
    # over 256 kB the specializer writes elementwise results into dead buffers, and over 8 MB
    # of data it blocks the rows (specialize/buffers.py, rows.py): with every layout
    r = np.random.default_rng(7)
    n = 40000 if kind == "float32" else 20000
    X = KINDS[kind](r.normal(size=(n, 60)))
    cases = [(L.chain, [KINDS[kind](0.3 * r.normal(size=(300, 200)))], (0,)),
             (L.pair, [KINDS[kind](r.normal(size=(300, 200))),
                       KINDS[kind](r.normal(size=(300, 200)))], (0, 1)),
             (L.logistic, [KINDS[kind](r.normal(size=60)), X, np.sign(r.normal(size=n))], (0,)),
             (L.logistic_bias, [KINDS[kind](r.normal(size=60)), X, np.array([1.0]),
                                np.array([0.3])], (0, 3))]
    for f, args, wrt in cases:
        before = snapshot(args)
        grads = sd.grad(f, wrt=wrt)(*args)
        assert_unchanged(args, before, f.__name__)
        for i, g in zip(wrt, grads):
            assert_like(g, args[i], f.__name__)
            for seed in range(2):
                v = np.random.default_rng(seed).normal(size=args[i].shape)
                fd, an = _directional(f, args, i, v), float(np.sum(g.astype(np.float64) * v))
                assert abs(fd - an) <= tolerance(args[i]) * (abs(fd) + abs(an)) + 1e-7, \
                    f"{f.__name__}/{kind} argument {i}: {an} against finite differences {fd}"


def test_grad_of_a_function_passed_in_is_no_write_into_it():
    # sd.grad(fn) in a loss (grad of grad, fn an argument): the alias analysis read api.grad and
    # compiled._get as the user's helpers and took their caches keyed by fn for writes into it,
    # a SourcediffWarning ("passes its argument 'fn' to grad, which writes into it") at every
    # such loss, and fn copied on entry
    import warnings

    x = np.linspace(-1.0, 1.0, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", sd.SourcediffWarning)
        g = sd.grad(L.sum_of_grad)(x, L.centred_1d)
        src = sd.source(sd.grad(L.sum_of_grad))
    assert "copy" not in src
    assert_like(g, x, "grad of grad")
    assert_close(g, fd_gradient(lambda v: L.sum_of_grad(v, L.centred_1d), [x], 0), x,
                 "grad of grad")
