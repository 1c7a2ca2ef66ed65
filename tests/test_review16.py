"""The numba backend and the tape against their oracles (the numpy backend, finite differences,
torch), for programs where compiled code or the tape gave another number than the oracle, or an
error the oracle does not raise. Tests that need numba or torch skip cleanly without them."""

import math
import warnings

import numpy as np
import pytest

import sourcediff as sd


@pytest.fixture
def numba():
    return pytest.importorskip("numba")


def _both(f, args, wrt=0):
    """(numpy backend's outcome, numba backend's outcome): a result, or the exception raised."""
    out = []
    for backend in ("numpy", "numba"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sd.JitFallbackWarning)
            try:
                out.append(sd.grad(f, wrt=wrt, backend=backend)(*args))
            except Exception as exc:  # noqa: BLE001
                out.append(exc)
    return out


def _same_outcome(f, args, wrt=0):
    ref, got = _both(f, args, wrt)
    if isinstance(ref, Exception):
        assert isinstance(got, type(ref)), (ref, got)
        assert str(got).splitlines()[:2] == str(ref).splitlines()[:2]  # (the user's line)
        return
    assert not isinstance(got, Exception), (ref, got)
    for a, b in zip(got if isinstance(got, tuple) else (got,),
                    ref if isinstance(ref, tuple) else (ref,)):
        assert np.shape(a) == np.shape(b)
        np.testing.assert_allclose(a, b, rtol=1e-12)


# ---------------------------------------------------------------- numba: indexing out of bounds


def _index_from_data(x, y):
    return x[int(y[0])] * 2.0 + np.sum(x)


def _read_index_from_data(x, y):
    return x[int(y[0])] * x[1]


def test_numba_index_out_of_bounds_raises_as_numpy_does(numba):
    """Compiled code did not check bounds: x[10] of 4 items gave the gradient [1, 1, 1, 1] (the
    scatter of x[10]'s gradient wrote past the array) and x[-5] gave zeros, where numpy raises
    IndexError at the user's line."""
    x = np.arange(4.0)
    for f in (_index_from_data, _read_index_from_data):
        for i in (10.0, 4.0, -5.0, -1.0, 2.0):
            _same_outcome(f, (x, np.array([i])))
        df = sd.grad(f, backend="numba")
        df(x, np.array([1.0]))
        assert df.jit_log[-1]["backend"] == "numba"
        with pytest.raises(IndexError, match=r"test_review16.py:\d+: index 10 is out of bounds"):
            df(x, np.array([10.0]))


# ---------------------------------------------------------------- numba: numpy's float64 errors


def _ratio(x, y):
    return x / y


def _sqrt_plus(x):
    return np.sum(np.sqrt(x) + x)


def test_numba_float64_division_by_zero_is_numpys_inf(numba):
    """numba divides float64 numbers as Python does (ZeroDivisionError), where the numpy code's
    np.float64 / 0.0 is inf, and np.sqrt(0.0)'s derivative 0.5 / sqrt(0.0) is inf."""
    _same_outcome(_ratio, (np.float64(1.0), np.float64(0.0)), wrt=(0, 1))
    _same_outcome(_sqrt_plus, (np.zeros(3),))
    _same_outcome(_sqrt_plus, (0.0,))
    with pytest.raises(ZeroDivisionError):  # (Python floats: an error in both)
        sd.grad(_ratio, backend="numba")(1.0, 0.0)


# ---------------------------------------------------------------- numba: closures


def _closure_over_an_array():
    w = np.array([2.0])

    def f(x):
        return np.sum(np.sin(x)) * w[0]
    return f, w


def test_numba_sees_an_in_place_update_of_a_closure_array(numba):
    """numba copied an array the function reads from its closure into the compiled code: after
    w[0] = 5.0 the compiled gradient still used 2.0 (the numpy code reads the array itself)."""
    f, w = _closure_over_an_array()
    x = np.linspace(0.0, 1.0, 3)
    df = sd.grad(f, backend="numba")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.JitFallbackWarning)
        np.testing.assert_allclose(df(x), 2.0 * np.cos(x))
        w[0] = 5.0
        np.testing.assert_allclose(df(x), 5.0 * np.cos(x))


# ---------------------------------------------------------------- numba: Python's scalar errors


def _math_sqrt(x):
    return math.sqrt(x) * x


def _math_log(x):
    return math.log(x) + x


def _math_exp(x):
    return math.exp(x)


def _float_power(x):
    return x ** 400.0 + (x - 2.0) ** 0.5


def _int_of_nan(x, y):
    s = 0.0
    for i in range(int(y)):
        s = s + x * i
    return s + math.floor(y) * x + round(y) * x


def _int_of_large(x, y):
    return x * (int(y) % 7) + x * (math.floor(y) % 5)


def _int_power(x):
    n = 0
    for _ in range(3):
        n = n + 1
    return x * n ** -1 + x * n ** 50


def test_numba_python_float_errors_are_raised_not_compiled_away(numba):
    """numba's float64 arithmetic gives nan or inf where Python raises: math.sqrt(-1.0)'s
    gradient was nan and math.log(-1.0)'s was -1.0 (numpy: ValueError: math domain error),
    math.exp(1000.0) and 10.0 ** 400.0 gave inf (OverflowError), int(nan) a huge negative
    count (ValueError), int(1e20) a wrapped-around int64 (Python's is exact), and n ** -1 of an
    integer 0 and n ** 50 a wrapped-around int64 (Python: 1/3 and an exact integer)."""
    cases = [(_math_sqrt, (-1.0,)), (_math_sqrt, (4.0,)), (_math_log, (-1.0,)),
             (_math_log, (0.0,)), (_math_log, (2.0,)), (_math_exp, (1000.0,)),
             (_math_exp, (1.0,)), (_float_power, (10.0,)), (_float_power, (1.0,)),
             (_float_power, (3.0,)), (_int_of_nan, (1.5, float("nan"))),
             (_int_of_nan, (1.5, float("inf"))), (_int_of_nan, (1.5, 3.7)),
             (_int_power, (2.0,)), (_int_of_large, (1.5, 1e20)), (_int_of_large, (1.5, -3e19)),
             (_int_of_large, (1.5, 12.5))]
    for f, args in cases:
        _same_outcome(f, args)


def test_numba_checked_scalars_still_compile(numba):
    """The checks keep such code compiled (they only send the call to the numpy code where the
    result could differ)."""
    x = 2.5
    for f in (_math_sqrt, _math_log, _math_exp, _float_power):
        df = sd.grad(f, backend="numba")
        with warnings.catch_warnings():
            warnings.simplefilter("error", sd.JitFallbackWarning)
            got = df(x)
        assert [r["backend"] for r in df.jit_log] == ["numba"], df.jit_log
        assert got == pytest.approx(sd.grad(f)(x), rel=1e-12)


# ---------------------------------------------------------------- tape: views after in-place writes


def _views_program(M, a, case):
    if case == "base written, slice read":
        y = a * 1
        v = y[1:3]
        y.mul_(2)
        return (v * v).sum()
    if case == "base written, element read":
        y = a * 1
        v = y[1]
        y.mul_(2)
        return v * v
    if case == "sibling view written":
        y = a * 1
        v1, v2 = y[0:2], y[1:3]
        v1.mul_(2)
        return (v2 * v2).sum()
    if case == "base written, reshaped view read":
        y = a * 1
        v = y.view(2, 2)
        y.mul_(2)
        return (v * v).sum()
    if case == "view of a view read":
        y = a * 1
        w = y[1:3][0:1]
        y.mul_(3)
        return (w * w).sum()
    if case == "base written by another value":
        y = a * 1
        v = y[1:3]
        y.add_(a * a)
        return (v * v).sum()
    if case == "stale view written, base read":
        y = a * 1
        v = y[1:3]
        y.mul_(2)
        v.add_(1)
        return (y * y).sum()
    if case == "strided view":
        y = a.clone()
        v = y[::2]
        y.sub_(a * 0.5)
        return (v ** 3).sum()
    if case == "expanded view":
        y = a * 1
        v = y.expand(2, 4)
        y.mul_(2)
        return (v * v).sum()
    if case == "element of a row, base written":
        y = M.zeros(2, 2)
        y[0] = a[:2]
        v = y[0]
        y[0, 1] = a[3]
        return (v * v).sum()
    if case == "base needs grad only after the write":
        y = M.zeros(4)
        v = y[1:3]
        y[1:3] = a[:2] * 3
        return (v * v).sum()
    if case == "write through a view into a base without grad":
        y = M.zeros(4)
        v = y[1:3]
        v.add_(a[1:3])
        return (y * y).sum()
    if case == "index assignment into a view of a base without grad":
        y = M.zeros(4)
        v = y[1:3]
        v[0] = a[0] * 2
        return (y * y).sum()
    if case == "write through t() of a view":
        y = (a * 1).view(2, 2)
        v = y.t()
        v[0] = a[1] * 5
        return (y * y * M.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=M.float64)).sum()
    if case == "write through a view of a view":
        y = a * 1
        w = y[1:][0:2]
        w.mul_(a[2:])
        return (y * y).sum() + (w * a[:2]).sum()
    raise AssertionError(case)


VIEW_CASES = ["base written, slice read", "base written, element read", "sibling view written",
              "base written, reshaped view read", "view of a view read",
              "base written by another value", "stale view written, base read", "strided view",
              "expanded view", "element of a row, base written",
              "base needs grad only after the write",
              "write through a view into a base without grad",
              "index assignment into a view of a base without grad",
              "write through t() of a view", "write through a view of a view"]


@pytest.mark.parametrize("case", VIEW_CASES)
def test_tape_views_follow_in_place_writes_of_their_base(case):
    """A view kept the graph position it had when it was made: after y.mul_(2) the view y[1:3]
    still showed the doubled values but its gradient was that of a * 1 (a.grad half PyTorch's);
    an element y[1] was a copy that kept its old value; a write through a view into a base that
    did not require grad left the base out of the graph (a TapeError at backward)."""
    torch = pytest.importorskip("torch")
    from sourcediff import tape as T

    data = [0.5, -1.0, 1.5, 2.0]
    out = []
    for M in (torch, T):
        a = M.tensor(data, dtype=M.float64, requires_grad=True)
        loss = _views_program(M, a, case)
        loss.backward()
        grad = a.grad.detach().numpy()
        out.append((float(loss.detach().numpy()), grad))
    (want_loss, want), (got_loss, got) = out
    assert got_loss == pytest.approx(want_loss, rel=1e-12)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_tape_stale_view_grad_fn_is_as_strided_as_in_pytorch():
    """After an in-place write into the base, the view's grad_fn is PyTorch's AsStridedBackward0
    (the tape kept SliceBackward0, the node of the view before the write)."""
    from sourcediff import tape as T

    a = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = a * 1
    v = y[1:]
    y.mul_(2)
    assert type(v.grad_fn).__name__ == "AsStridedBackward0"
    assert v.grad_fn.next_functions[0][0] is y.grad_fn


def test_tape_retain_grad_then_in_place_gives_the_new_values_gradient():
    """y.retain_grad(); y.mul_(3): y.grad summed the gradients of both values y held (the node
    that made the old value kept retaining y): 4 where PyTorch gives 1."""
    torch = pytest.importorskip("torch")
    from sourcediff import tape as T

    out = []
    for M in (torch, T):
        a = M.tensor([0.5, -1.0, 2.0], dtype=M.float64, requires_grad=True)
        y = a * 2
        y.retain_grad()
        y.mul_(3)
        v = y[1:]
        v.retain_grad()
        y.add_(1)
        (y.sum() + (v * v).sum()).backward()
        out.append([t.grad.detach().numpy() for t in (a, y, v)])
    for want, got in zip(*out):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_tape_write_into_a_view_made_under_no_grad_is_refused():
    """A view made under no_grad of a tensor that needs grad, written in place with grad mode on,
    changed the base's values and not its graph: a.grad [0, -4, 4, 4] where the values give
    [0, -8, 8, 4]; PyTorch refuses it."""
    from sourcediff import tape as T

    for write in (lambda v: v.mul_(2), lambda v: v.__setitem__(0, 5.0)):
        a = T.tensor([0.0, -1.0, 1.0, 2.0], requires_grad=True)
        y = a * 1
        with T.no_grad():
            v = y[1:3]
        with pytest.raises(T.TapeError, match="A view was created in no_grad mode"):
            write(v)
    a = T.tensor([0.0, -1.0, 1.0, 2.0], requires_grad=True)
    y = a * 1
    with T.no_grad():  # (both in no_grad: allowed, not recorded, as in PyTorch)
        v = y[1:3]
        v.mul_(2)
    assert y.tolist() == [0.0, -2.0, 2.0, 2.0]


def test_tape_views_kept_by_the_graph_are_not_made_again_at_every_write():
    """(A guard for the view fix: a view's graph position is made again when it is next read,
    not at every write into its base; the graph keeps every y[i - 1] it read, and making them
    all again at each y[i] = ... was quadratic.) The loop's gradient is torch's."""
    torch = pytest.importorskip("torch")
    from sourcediff import tape as T

    n = 300
    out = []
    for M in (torch, T):
        a = M.tensor(np.linspace(0.0, 1.0, n), dtype=M.float64, requires_grad=True)
        y = M.zeros(n, dtype=M.float64)
        head = y[:3]
        for i in range(1, n):
            y[i] = y[i - 1] * 0.5 + a[i]
        ((y * y).sum() + (head * head).sum()).backward()
        out.append(a.grad.detach().numpy())
    np.testing.assert_allclose(out[1], out[0], rtol=1e-12)


def _rounded(x, y):
    return y * round(x, 2) + y * round(x)


def test_numba_round_to_digits_is_pythons(numba):
    """numba's round(x, ndigits) rounds x * 10 ** ndigits: the gradient in y of
    y * round(2.675, 2) was 2.68 where Python's round gives 2.67. Such code runs as numpy code,
    with one warning saying why."""
    df = sd.grad(_rounded, wrt=1, backend="numba")
    with pytest.warns(sd.JitFallbackWarning, match=r"round\(x, ndigits\)"):
        got = df(2.675, 1.0)
    assert got == sd.grad(_rounded, wrt=1)(2.675, 1.0) == 2.67 + 3.0
    for x in (1.15, 0.125, -2.5):
        assert df(x, 1.0) == sd.grad(_rounded, wrt=1)(x, 1.0)


def _factorial_scale(x):
    c = 1
    for i in range(1, 25):
        c = c * i
    return x / c * 1e20


def _cubed_count(x, w):
    n = w.shape[0] * 1000003
    m = n * n * n
    return np.sum(x) * (m % 1000)


def test_numba_integers_do_not_wrap_around(numba):
    """Python's integers are exact where numba's int64 wraps around: the gradient of x / 24! was
    -12.76 (24! wrapped to a negative int64) where it is 0.000161, and an integer cubed gave
    704 for 0."""
    _same_outcome(_factorial_scale, (1.5,))
    _same_outcome(_cubed_count, (np.ones(2), np.ones(3000)))
    _same_outcome(_cubed_count, (np.ones(2), np.ones(3)))
    df = sd.grad(_factorial_scale, backend="numba")
    df(1.5)
    assert [r["backend"] for r in df.jit_log] == ["numba"]


def test_tape_sigmoid_gradient_on_its_tails_is_pytorchs():
    """The tape's sigmoid was the composite 1 / (1 + exp(-x)), whose backward at x = -800 is
    inf / inf: a.grad nan where PyTorch (g * s * (1 - s)) gives 0."""
    torch = pytest.importorskip("torch")
    from sourcediff import tape as T

    data = [-800.0, -30.0, 0.0, 2.0, 800.0]
    out = []
    for M in (torch, T):
        for dtype in (M.float64, M.float32):
            a = M.tensor(data, dtype=dtype, requires_grad=True)
            s = a.sigmoid()
            (s * M.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=dtype)).sum().backward()
            out.append((type(s.grad_fn).__name__, a.grad.detach().numpy()))
    for (want_name, want), (got_name, got) in zip(out[:2], out[2:]):
        assert got_name == want_name == "SigmoidBackward0"
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
