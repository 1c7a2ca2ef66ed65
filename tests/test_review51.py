"""The speed work on W2, W3 and W5 of benchmarks/run.py: the entry's key for a call that mixes
floats and arrays, and the specializer's rewrites. Each test fails if a shortcut finds the wrong
specialization or changes a gradient where it must not apply."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.specialize import facts
from tests.passes_off import specialized, with_and_without

try:
    from .oracles import check_grads_fd
except ImportError:  # tests/ collected without being a package
    from oracles import check_grads_fd

rng = np.random.default_rng(51)


def _cubic(a, b, c, d, x, y):
    return np.sum((a + b * x + c * x**2 + d * x**3 - y) ** 2)


class _Sub(np.ndarray):
    """An ndarray subclass the entry does not refuse: its key is its type."""


def test_a_call_mixing_floats_and_arrays_finds_its_specialization_by_the_entrys_display():
    """The entry's one-display key for a call with floats among the arrays must be
    facts.signature's key, or every such call would build its specialization again; kinds the
    display does not decide (a dict, an ndarray subclass, another float type) must each get their
    own specialization, never the float's."""
    df = sd.grad(_cubic, wrt=(0, 1, 2, 3))
    spec = df.__sourcediff_specializations__
    x, y = rng.standard_normal(50), rng.standard_normal(50)
    calls = [(0.1, -0.4, 0.7, 1.1, x, y),
             (0.1, -0.4, np.float64(0.7), 1.1, x, y),
             (0.1, -0.4, 0.7, 1.1, x.astype(np.float32), y),
             (0.1, -0.4, 0.7, 1.1, x.view(_Sub), y)]
    for args in calls:
        before = spec.misses
        first = df(*args)
        for _ in range(3):
            again = df(*args)
            assert all(np.array_equal(u, v) for u, v in zip(first, again))
        assert spec.misses == before + 1, args
        assert facts.signature(args) in spec.table
        with_generic = spec.generic(*args)
        # (the specialized cube is x * x * x, rounded twice where pow rounds once: in float32
        # the gradients differ in float32's last bits)
        rtol = 1e-12 if args[4].dtype == np.float64 else 1e-5
        assert all(np.allclose(u, v, rtol=rtol, atol=0) for u, v in zip(again, with_generic))
        assert [type(g) for g in again] == [type(g) for g in with_generic]
    assert len(spec.table) == len(calls)
    check_grads_fd(_cubic, calls[0], (0, 1, 2, 3), df(*calls[0]))


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_a_matrix_in_a_float_position_is_refused_after_floats_were_cached():
    """The entry's display finds no entry for an np.matrix (its key is its type), and the loop
    after it refuses it: a cached float signature must not let it through."""
    def f(a, x):
        return np.sum(a * x)

    df = sd.grad(f, wrt=0)
    x = rng.standard_normal((2, 2))
    df(1.5, x)
    with pytest.raises(sd.SourcediffError, match="matrix"):
        df(1.5, np.matrix(x))


def _scaled_cubic(a, b, x, y):
    return 3.0 * np.sum((a * x**2 + b * x**3 - y) ** 2)


def _cubic_mean(a, b, x, y):
    return np.mean((a * x**2 + b * x**3 - y) ** 2)


def _rebound(a, b, x, y):
    x = x * x
    return np.sum((a * x + b * x * x - y) ** 2)


def _square_and_norm(a, b, x, y):
    r2 = 2.0 * (a * x - y)
    return np.sum(r2 * r2) + b * np.sum(r2)


_PRODUCT_PASSES = {"repeated products", "scalar factors"}


def _with_and_without(fn, args, wrt):
    """(specialized source, gradient) with the product passes, and the gradient without them (the
    generic code sums in numpy's order where the specialized one calls BLAS: not the reference)."""
    (source, got), (_, before) = with_and_without(fn, args, wrt, _PRODUCT_PASSES)
    return source, got, before


def _same_bits(got, before):
    assert len(got) == len(before)
    for u, v in zip(got, before):
        assert type(u) is type(v)
        assert np.array_equal(u, v), (u, v)


@pytest.mark.parametrize("n", [50, 64])
@pytest.mark.parametrize("fn", [_cubic, _scaled_cubic, _cubic_mean, _rebound, _square_and_norm])
def test_products_and_power_of_two_factors_keep_the_bits(fn, n):
    """repeated_products reads ``x * x`` from the name holding it and scalar_factors sums before
    scaling by a power of two: the same bits as without them in the cases they apply to (a
    squared residual's ``2.0 *``, a mean over 64 points: ``2/64``), and no rewrite where the factor
    is no power of two (``3.0 * sum``: 6.0; a mean over 50 points) or the scaled array is read by
    more than sums (``r2 * r2``; ``b * x * x`` after ``x = x * x``: the residual times ``x``)."""
    x, y = rng.uniform(-1, 1, n), rng.standard_normal(n)
    floats = (0.1, -0.4, 0.7, 1.1) if fn is _cubic else (0.7, 1.1)
    args = floats + (x, y)
    wrt = tuple(range(len(floats)))
    source, got, before = _with_and_without(fn, args, wrt)
    _same_bits(got, before)
    check_grads_fd(fn, args, wrt, got)
    scaled = fn is _cubic or (fn is _cubic_mean and n == 64)
    assert (".dot(_pow1) * " in source) == scaled, source
    if fn in (_cubic, _scaled_cubic, _cubic_mean):
        # (sd.grad returns gradients only: the user's cube, which only they read, is x * x * x
        # in both runs (the small powers pass), read from the square's name with the products
        # pass; value_and_grad keeps the power, tests/test_review80.py)
        assert "_pow2 = _pow1 * x" in source, source


@pytest.mark.parametrize("case", ["float32", "int x", "x also wrt", "power 2.5"])
def test_near_misses_of_the_product_rewrites_keep_the_bits(case):
    """Where the rewrites must not apply or apply to other numbers (float32 arrays, an integer x,
    x among the wrt arrays so the scaled residual reaches an array's gradient, a power that is no
    product), the specialized gradient is the one without them, bit for bit, and right."""
    x, y = rng.uniform(-1, 1, 40), rng.standard_normal(40)
    fn, wrt = _cubic, (0, 1, 2, 3)
    if case == "float32":
        x, y = x.astype(np.float32), y.astype(np.float32)
    elif case == "int x":
        x = np.arange(-20, 20)
    elif case == "x also wrt":
        wrt = (0, 1, 2, 3, 4)
    args = (0.1, -0.4, 0.7, 1.1, x, y)
    if case == "power 2.5":
        fn = _power_25
    source, got, before = _with_and_without(fn, args, wrt)
    _same_bits(got, before)
    if case in ("float32", "x also wrt"):
        assert "* 2.0" not in source.split("# grad of")[1], source
    if case != "float32":
        check_grads_fd(fn, args, wrt, got)
    else:
        ref = _with_and_without(fn, tuple(np.float64(a) if np.ndim(a) == 0 else
                                                 a.astype(np.float64) for a in args), wrt)[1]
        for u, v in zip(got, ref):
            assert np.allclose(u, v, rtol=1e-4)


def _power_25(a, b, c, d, x, y):
    return np.sum((a + b * x + c * np.abs(x) ** 2.5 + d * x**3 - y) ** 2)


@pytest.mark.parametrize("view", ["contiguous", "every other", "reversed"])
def test_a_scalar_factors_dot_is_right_for_strided_vectors(view):
    """A scalar factor's gradient is ``g.dot(x)``: the same BLAS dot as ``g @ x`` for contiguous
    vectors; for a reversed view numpy's two calls sum in other orders (the last bits differ), so
    there the gradient is checked against the generic code's at 1e-12 and finite differences."""
    full_x, full_y = rng.uniform(-1, 1, 200), rng.standard_normal(200)
    pick = {"contiguous": slice(0, 100), "every other": slice(None, None, 2),
            "reversed": slice(None, None, -2)}[view]
    args = (0.1, -0.4, 0.7, 1.1, full_x[pick], full_y[pick])
    sd.clear_cache()
    df = sd.grad(_cubic, wrt=(0, 1, 2, 3))
    got = df(*args)
    assert ".dot(x) * 2.0" in sd.source(df, *args)
    generic = df.__sourcediff_specializations__.generic(*args)
    for u, v in zip(got, generic):
        assert type(u) is float and np.isclose(u, v, rtol=1e-12, atol=1e-12)
    check_grads_fd(_cubic, args, (0, 1, 2, 3), got)


def _rnn(xs, Wx, Wh, b, h):
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum(h ** 2)


def _rnn_bias_changes(xs, Wx, Wh, b, h):
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        b = b * 0.5
    return np.sum(h ** 2)


def _rnn_bias_after(xs, Wx, Wh, b, h):
    c = b * 2.0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + c * h + h @ Wh)
    return np.sum(h ** 2)


@pytest.mark.parametrize("case", ["bias", "bias rows", "float32 bias", "large", "bias changes",
                                  "scale computed before"])
def test_a_loop_invariant_broadcast_operand_copied_before_the_loop_keeps_the_bits(case):
    """loop broadcasts copies a bias the loop reads at the shape it is broadcast to, once before
    the loop: the gradient the same bits as without the pass (W5's shapes, a (1, n) bias, a name
    assigned before the loop), and no copy where the loop assigns it, its dtype differs from the
    result's or the copy would be large; every case checked by finite differences."""
    T, B, I, H = (6, 16, 8, 64) if case != "large" else (3, 200, 8, 64)
    xs = rng.standard_normal((T, B, I))
    Wx, Wh = rng.standard_normal((I, H)) / 3, rng.standard_normal((H, H)) / 9
    b = rng.standard_normal((1, H) if case == "bias rows" else H) * 0.1
    fn = {"bias changes": _rnn_bias_changes, "scale computed before": _rnn_bias_after}.get(
        case, _rnn)
    if case == "float32 bias":
        b = b.astype(np.float32)
    args, wrt = (xs, Wx, Wh, b, np.zeros((B, H))), (1, 2, 3)
    source, got = specialized(fn, args, wrt, set())
    _, before = specialized(fn, args, wrt, {"loop broadcasts"})
    _same_bits(got, before)
    copied = "broadcast_to(" in source
    wanted = case in ("bias", "bias rows", "scale computed before")
    assert copied == wanted, source
    check_grads_fd(fn, args, wrt, got, rtol=1e-4 if case == "float32 bias" else 1e-5)


def _rnn_keeps_sums(xs, Wx, Wh, b, h):
    total = 0.0
    for t in range(xs.shape[0]):
        z = xs[t] @ Wx + h @ Wh
        h = np.tanh(z + b)
        total = total + np.sum(z * z)
    return np.sum(h ** 2) + 0.01 * total


@pytest.mark.parametrize("fn", [_rnn, _rnn_keeps_sums, _rnn_bias_changes])
def test_a_loops_elementwise_results_written_into_its_dead_buffers_keep_the_bits(fn):
    """The buffers pass in a loop's body: a (16, 64) pass's sums written into the product's array
    and tanh into that, while the values the adjoint reads (h on the stack, z read after tanh)
    stay; the same bits as without the pass, and right by finite differences."""
    xs = rng.standard_normal((5, 16, 8))
    Wx, Wh = rng.standard_normal((8, 64)) / 3, rng.standard_normal((64, 64)) / 9
    args, wrt = (xs, Wx, Wh, rng.standard_normal(64) * 0.1, np.zeros((16, 64))), (1, 2, 3)
    source, got = specialized(fn, args, wrt, set())
    _, before = specialized(fn, args, wrt, {"buffers"})
    _same_bits(got, before)
    loop = source.split("\n    for t in range(")[1].split("# grad of")[0]
    assert "out=" in loop, source
    check_grads_fd(fn, args, wrt, got)
