"""Review 86: forward mode and higher orders at points where a cotangent is 0 by value.

A gradient's reverse sweep skips a rule while its cotangent is the scalar 0.0 (``if
_sd.nonzero_grad(t_bar):``, compiler/unreached.py: a value on no path taken gets no gradient),
and many rule helpers return at once on a zero cotangent (``if is_zero_grad(g): return 0.0``).
Both test the value. Differentiated again (a hessian, an hvp, ``grad(grad(f))`` of a float: forward
over reverse), a cotangent that is 0 at this point, as ``2 * t * y_bar`` at ``t = 0``, still has a
tangent, and the skipped rule dropped it: the second derivative came out 0 with no error (the
Gauss-Newton term of a squared residual at an exact fit). The forward transform now makes such a
test read the tangent too (``_sd.nonzero_grads``, ``_sd.zero_grads``)."""

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd

try:
    import torch
except ImportError:
    torch = None


def fd_of_gradient(f, x, h=1e-5):
    """Central differences of sourcediff's reverse gradient (checked against finite differences
    of ``f`` itself below), column by column: shape ``x.shape + x.shape``."""
    g = sd.grad(f)
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        cols.append(np.ravel(g(x + e) - g(x - e)) / (2 * h))
    return np.stack(cols, axis=1).reshape(x.shape + x.shape)


def squared_before_branch(x):
    t = np.sum(np.sin(x))  # (read on one side only: its rule is guarded by nonzero_grad)
    if x[0] > 0:
        y = t * t
    else:
        y = 0.0
    return y


def squared_in_ternary(x):
    t = np.sum(np.sin(x))
    return t * t if x[0] > 0 else 0.0


def squared_median(x):
    return np.median(x) ** 2  # (quantile_grad returns 0.0 at once on a zero cotangent)


def residual_of_float(t):
    u = np.sin(t) - np.sin(1.0)
    if t > 0:
        return u * u
    return 0.0


# sin(0.5) + sin(-0.5) == 0 exactly, median([-2, 0, 3]) == 0: the cotangents 2 t and 2 m vanish
AT_ZERO_SUM = np.array([0.5, -0.5])
AT_ZERO_MEDIAN = np.array([-2.0, 0.0, 3.0])
CASES = [(squared_before_branch, AT_ZERO_SUM), (squared_in_ternary, AT_ZERO_SUM),
         (squared_median, AT_ZERO_MEDIAN)]


def test_the_oracle_gradients_are_right_at_these_points():
    for f, x in CASES:
        check_grads_fd(f, (x,), (0,), (sd.grad(f)(x),))


def test_hessian_keeps_the_tangent_of_a_cotangent_that_is_zero_by_value():
    for f, x in CASES:
        want = fd_of_gradient(f, x)
        assert np.max(np.abs(want)) > 0.5  # (the second derivative the bug dropped)
        np.testing.assert_allclose(sd.hessian(f)(x), want, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(sd.jacobian(sd.grad(f), mode="forward")(x), want,
                                   rtol=1e-6, atol=1e-8)


def test_hvp_keeps_the_tangent_of_a_cotangent_that_is_zero_by_value():
    for f, x in CASES:
        v = np.linspace(0.5, 1.5, x.size)
        np.testing.assert_allclose(sd.hvp(f, (x,), (v,)), fd_of_gradient(f, x) @ v,
                                   rtol=1e-6, atol=1e-8)


def test_grad_of_grad_of_a_float_keeps_it():
    # (a gradient with respect to a Python float runs forward mode: forward over reverse)
    d2 = sd.grad(sd.grad(residual_of_float))(1.0)
    h = 1e-5
    g = sd.grad(residual_of_float)
    assert abs(d2 - (g(1.0 + h) - g(1.0 - h)) / (2 * h)) < 1e-7
    assert d2 > 0.5  # 2 cos(1)^2
    assert sd.hessian(residual_of_float)(1.0) == d2


def log_before_branch(x):
    t = np.log(x)
    return t * t if x > 0 else x * x


def test_a_value_on_no_path_taken_still_gets_no_second_derivative():
    # the guard still skips the untaken branch's rule (0 * inf at x = 0 would be nan), as torch
    H = sd.hessian(log_before_branch)(np.float64(0.0))
    assert H == 2.0 and sd.hvp(log_before_branch, (np.float64(0.0),), (1.0,)) == 2.0
    if torch is not None:
        def torch_f(x):
            t = torch.log(x)
            return t * t if x > 0 else x * x
        want = torch.autograd.functional.hessian(torch_f, torch.tensor(0.0, dtype=torch.float64))
        assert H == float(want)


# ------------------------------------------------- a Python float's gradient (forward mode) at 0


def log_squared(x):
    return np.log(x) * x


def log_before_branch_appending(x, seen):
    seen.append(x)
    t = np.log(x)
    return t * t if x > 0 else x * x


def test_the_readme_example_at_a_python_zero_says_to_pass_a_numpy_float():
    # a Python float argument runs forward mode, whose tangent of t = np.log(x) is x_dot / x:
    # Python's float division raises there even where the output does not read t. Running the
    # reverse code after it ran the body twice (a list argument got two appends, a random draw
    # was drawn again): the error says what to pass instead, and the body runs once
    seen = []
    with pytest.raises(sd.SourcediffError) as info:
        sd.grad(log_before_branch_appending, wrt=0)(0.0, seen)
    assert seen == [0.0]  # (a plain call appends once too)
    text = str(info.value)
    assert "test_review86.py" in text and "t = np.log(x)" in text and "np.float64" in text
    g = sd.grad(log_before_branch)(np.float64(0.0))  # (the reverse code skips t's rule)
    assert g == 0.0
    if torch is not None:
        xt = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
        t = torch.log(xt)
        (t * t if xt > 0 else xt * xt).backward()
        assert float(xt.grad) == g
    assert sd.grad(log_before_branch)(2.0) == 2 * np.log(2.0) / 2.0  # (forward mode still)


def test_a_used_value_divided_by_zero_is_refused_at_the_users_line():
    with pytest.raises(sd.SourcediffError) as info:
        sd.grad(log_squared)(0.0)
    assert "test_review86.py" in str(info.value) and "np.log(x) * x" in str(info.value)


def test_numba_compiles_the_guard_that_reads_the_tangent():
    pytest.importorskip("numba")
    d2 = sd.grad(sd.grad(residual_of_float), backend="numba")
    for t in (1.0, 0.4):
        assert abs(d2(t) - sd.grad(sd.grad(residual_of_float))(t)) < 1e-12
    assert d2(1.0) > 0.5  # 2 cos(1)^2, not the dropped 0
    assert all(r["backend"] == "numba" for r in d2.jit_log)  # (compiled, no numpy fallback)
