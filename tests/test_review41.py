"""review41: scientific and engineering programs (ODE integrators, PDE stencils, finance, robotics,
optimization inside the loss, statistics and signals; tests/programs/review41_science.py) in every
mode against central finite differences, at awkward points, on dask arrays and differentiated
twice; and the regressions found there."""

import warnings

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.tape import grad_of
from sourcediff.tape.messages import TapeError
from tests.programs import review41_science as P
from tests.programs.review34_harness import _fd_hessian
from tests.programs.review41_harness import CASES, MODES, check


def _fd(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    out = np.zeros(x.size)
    for k in range(x.size):
        a, b = x.copy().ravel(), x.copy().ravel()
        a[k] += h
        b[k] -= h
        out[k] = (f(a.reshape(x.shape)) - f(b.reshape(x.shape))) / (2 * h)
    return out.reshape(x.shape)


# ---------------------------------------------------------------- the programs, every mode

_RUNS = [(c, mode) for c in CASES for mode in MODES
         if mode not in c["skip"] and (mode != "hessian" or c["hessian"])]


@pytest.mark.parametrize("c, mode", _RUNS, ids=[f"{c['name']}-{m}" for c, m in _RUNS])
def test_program_in_every_mode(c, mode):
    check(c["f"], c["args"], c["wrt"], mode, **c["tol"])


@pytest.mark.parametrize("name", ["rk4_loop", "rk4_stacked_stages", "jacobi_while_norm",
                                  "rigid_transform_quaternion", "newton_solve_steps",
                                  "rk45_adaptive"])
def test_tape_refuses_arrays_built_from_tensors_by_name(name):
    # (np.array([t0, t1]) and K[s] = t write tensors into an ndarray, where the tape cannot follow
    # them, as torch.tensor([t0, t1]) cannot: refused, never a zero)
    c = next(c for c in CASES if c["name"] == name)
    with pytest.raises(TapeError, match="converts a tape Tensor"):
        check(c["f"], c["args"], c["wrt"], "tape")


def _grad_of_grad_source(f, i, nargs):
    params = ", ".join(f"a{k}" for k in range(nargs))
    return f"def gv({params}):\n    return np.sum(G({params}) * V)\n"


@pytest.mark.parametrize("name", ["rk4_loop", "verlet_nbody_eye", "heat_slices", "jacobi_while_norm",
                                  "black_scholes_ndtr", "newton_solve_steps", "kde_logaddexp",
                                  "adaptive_step_while"])
def test_grad_of_grad_is_the_hessian_vector_product(name, tmp_path):
    c = next(c for c in CASES if c["name"] == name)
    f, args = c["f"], c["args"]
    for i in c["wrt"]:
        v = np.reshape(0.3 + 0.1 * np.arange(np.size(args[i])), np.shape(args[i]))
        src = _grad_of_grad_source(f, i, len(args))
        path = tmp_path / f"gv_{name}_{i}.py"
        path.write_text(src)
        ns = {"np": np, "G": sd.grad(f, wrt=i), "V": v, "__name__": "gv_module"}
        exec(compile(src, str(path), "exec"), ns)
        got = np.ravel(sd.grad(ns["gv"], wrt=i)(*args))
        want = _fd_hessian(f, args, i) @ np.ravel(v)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * (1 + np.abs(want).max()))


def _vdp(y):
    return np.array([y[1], 0.3 * (1 - y[0] ** 2) * y[1] - y[0]])


def _rk4_state(y0):
    y = y0
    for _ in range(10):
        k1 = _vdp(y)
        k2 = _vdp(y + 0.05 * k1)
        k3 = _vdp(y + 0.05 * k2)
        k4 = _vdp(y + 0.1 * k3)
        y = y + 0.1 / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


def _heat_state(u0):
    u = u0.copy()
    for _ in range(5):
        u[1:-1] = u[1:-1] + 0.3 * (u[2:] - 2 * u[1:-1] + u[:-2])
    return u ** 2


def _arm_pose(q):
    phi = np.cumsum(q)
    lengths = np.array([1.0, 0.8, 0.5])
    x, y = np.sum(lengths * np.cos(phi)), np.sum(lengths * np.sin(phi))
    return np.array([x, y, np.arctan2(y, x)])


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f, x", [(_rk4_state, np.array([1.0, 0.0])), (_heat_state, P.U0),
                                  (_arm_pose, np.array([0.3, -0.5, 0.8]))])
def test_jacobians_of_states(f, x, mode):
    cols = []
    for k in range(x.size):
        a, b = x.copy(), x.copy()
        a[k] += 1e-6
        b[k] -= 1e-6
        cols.append((f(a) - f(b)) / 2e-6)
    np.testing.assert_allclose(sd.jacobian(f, mode=mode)(x.copy()), np.array(cols).T,
                               rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- awkward points
#
# Exact boundaries of np.clip, ties of np.sort, knots of np.interp, length-1 and empty arrays,
# Python's min at an exact tie of the adaptive step (dt == T - t): each mode against PyTorch's
# convention (README: kinks and ties) where the function has a kink, finite differences elsewhere.

def _interp_knots(x):
    return np.sum(np.interp(x, np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 4.0, 9.0])) * x)


def _clip_bounds(x):
    return np.sum(np.clip(x, -1.0, 1.0) ** 2) + np.sum(np.abs(x - 1.0))


def _sort_ties(x):
    s = np.sort(x)
    return s[0] * 1.0 + s[1] * 2.0 + s[2] * 3.0


def _length_one_and_empty(x):
    return (np.sum(np.convolve(x, np.array([2.0])) ** 2) + np.sum(np.cumsum(x[:1]))
            + np.sum(np.roll(x[:1], 1)) + np.sum(x[:0] ** 2) + np.sum(np.cumsum(x[2:2]))
            + np.sum(np.correlate(x, np.array([1.0, -1.0, 2.0]), mode="full") ** 2))


def _adaptive_tie(x):
    t, dt, y = 0.0, 0.5, x[0]
    while t < 1.0:
        dt = min(dt, 1.0 - t)  # (1.0 - 0.5 == 0.5: a tie, the first argument wins)
        y = y - dt * x[1] * y
        t = t + dt
    return y


def _logaddexp_tie_log1p_zero(x):
    return np.logaddexp(x[0], x[1]) + np.sum(np.log1p(x[2:])) + np.sum(np.expm1(x))


def _torch_clip_bounds(t):
    import torch
    return torch.sum(torch.clamp(t, -1.0, 1.0) ** 2) + torch.sum(torch.abs(t - 1.0))


def _torch_sort_ties(t):
    import torch
    return torch.sort(t)[0] @ torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)


def _torch_grad(tf, x):
    torch = pytest.importorskip("torch")
    t = torch.tensor(x, requires_grad=True)
    tf(t).backward()
    return t.grad.numpy()


_AWKWARD = [
    (_interp_knots, np.array([0.5, 1.5, 2.5, -1.0, 4.0]), None),  # (between knots, outside)
    (_clip_bounds, np.array([1.0, -1.0, 0.5]), _torch_clip_bounds),
    (_sort_ties, np.array([1.0, 1.0, 0.5]), _torch_sort_ties),
    (_length_one_and_empty, np.array([3.0, 1.0]), None),
    (_adaptive_tie, np.array([1.0, 0.5]), None),
    (_logaddexp_tie_log1p_zero, np.array([0.0, 0.0, 0.0, -0.5]), None),
]


@pytest.mark.parametrize("mode", ["reverse", "forward", "numba", "tape"])
@pytest.mark.parametrize("f, x, tf", _AWKWARD, ids=[f.__name__ for f, _, _ in _AWKWARD])
def test_awkward_points(f, x, tf, mode):
    want = _fd(f, x) if tf is None else _torch_grad(tf, x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if mode == "numba":
            got = sd.grad(f, backend="numba")(x.copy())
        elif mode == "tape":
            got = grad_of(f, [x.copy()])
        else:
            got = sd.grad(f, mode=mode)(x.copy())
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- dask arrays

def _book_of_calls(sigma, S, K):
    d1 = (np.log(S / K) + (0.02 + 0.5 * sigma ** 2) * 0.5) / (sigma * np.sqrt(0.5))
    d2 = d1 - sigma * np.sqrt(0.5)
    price = S * P.ndtr(d1) - K * np.exp(-0.01) * P.ndtr(d2)
    return np.sum(np.maximum(price - 1.0, 0.0))


def _burgers(u0, nu):
    u = u0
    for _ in range(5):
        up, um = np.roll(u, -1), np.roll(u, 1)
        flux = np.where(u > 0, u * (u - um), u * (up - u)) * 10
        u = u - 0.01 * flux + nu * (up - 2 * u + um)
    return np.mean(u ** 2)


def _likelihood(theta, x):
    return (np.sum(np.logaddexp(0.0, -x * theta[0]) + np.log1p(np.abs(x) * theta[1] ** 2))
            - np.sum(np.expm1(-x ** 2 * theta[1])))


def _moving_average(w, x):
    c = np.cumsum(x * w)
    return np.sum((c[4:] - c[:-4]) ** 2)


_rng = np.random.default_rng(41)
_DASK = [
    (_book_of_calls, (0.2, _rng.uniform(80, 120, 3000), _rng.uniform(90, 110, 3000)), (0,), (1, 2)),
    (_burgers, (_rng.normal(size=3000), 0.1), (0, 1), (0,)),
    (_likelihood, (np.array([0.3, 0.7]), _rng.normal(size=3000)), (0,), (1,)),
    (_moving_average, (1.3, _rng.normal(size=3000)), (0,), (1,)),
]


@pytest.mark.parametrize("f, args, wrt, lazy", _DASK, ids=[c[0].__name__ for c in _DASK])
def test_dask_arrays_give_the_numpy_gradient(f, args, wrt, lazy):
    da = pytest.importorskip("dask.array")
    import dask
    small = tuple(a[:40] if i in lazy else a for i, a in enumerate(args))
    for i in wrt:  # (the numpy gradient itself, against finite differences on a slice)
        fd = _fd(lambda v, i=i: f(*small[:i], v, *small[i + 1:]), np.asarray(small[i], float))
        np.testing.assert_allclose(sd.grad(f, wrt=i)(*small), fd, rtol=1e-5, atol=1e-7)
    want = sd.grad(f, wrt=wrt)(*args)
    lazy_args = [da.from_array(a, chunks=1000) if i in lazy else a for i, a in enumerate(args)]
    got = dask.compute(sd.grad(f, wrt=wrt)(*lazy_args))[0]
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- Python's min/max: the other item
#
# x[1] * min(1 / (x[0] - 1), 5) at x[0] = 1: Python's min returns 5, and 1 / (x[0] - 1) (inf) is
# not in the result. Forward mode gave [nan, nan] (PyTorch, the tape and JAX: [0, 5]): the
# tangent of min was g * 0 for the item not returned, and inf's tangent times 0 is nan, in
# every column. runtime.extremum_args_grad now gives that item the symbolic zero.

def _min_capped(x):
    return x[1] * min(1 / (x[0] - 1), 5)


def _max_capped(x):
    return x[1] * max(5.0, -1 / (x[0] - 1), 2.0)


def _torch_min_capped(t):
    return t[1] * min(1 / (t[0] - 1), 5)


@pytest.mark.parametrize("f", [_min_capped, _max_capped])
def test_python_min_max_tangent_of_the_item_not_returned_is_zero(f):
    x = np.array([1.0, 2.0])
    want = _torch_grad(_torch_min_capped, x)  # [0, 5]
    assert np.all(np.isfinite(want))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(sd.grad(f, mode="forward")(x), want)
        np.testing.assert_array_equal(sd.jacobian(f, mode="forward")(x), want)
        np.testing.assert_array_equal(grad_of(f, [x]), want)
    y = np.array([0.5, 2.0])  # (away from the pole: all modes agree with finite differences)
    for mode in ("reverse", "forward"):
        np.testing.assert_allclose(sd.grad(f, mode=mode)(y), _fd(f, y), rtol=1e-6)


# ---------------------------------------------------------------- a value the path taken did not use
#
# A value computed before a Python branch and used only on the path not taken (t = np.log(x);
# y = t if x > 0 else 0.0), or only as the item Python's min/max did not return, got the symbolic
# zero adjoint 0.0 in reverse mode, and its rule multiplied it by its derivative: 0 * inf = nan.
# sd.grad gave [nan, 0] for _log_if_positive at [0, 2] and [nan, 5] for _recip_branch and
# _min_capped at [1, 2]; PyTorch, the tape, forward mode (and JAX, which never transposes the
# linear map of a value that does not reach the output) give [1, 0] and [0, 5]. The reverse sweep
# now skips the rule of such a value when its gradient is 0.0 (compiler/unreached.py). np.where
# and np.minimum keep PyTorch's nan (README).

def _log_if_positive(x):
    t = np.log(x[0])
    y = t if x[0] > 0 else 0.0
    return x[1] * y + x[0]


def _recip_branch(x):
    t = 1 / (x[0] - 1)
    if t < 5:
        y = t
    else:
        y = 5.0
    return x[1] * y


def _chain_in_branch(x):
    u = np.sqrt(x)  # (inf derivative at 0, then a linear step, then a product)
    v = u[0] * 2.0
    w = v * x[1]
    if x[0] > 0:
        out = w + x[2]
    else:
        out = x[2] * 3.0
    return out


def _array_branch(x):
    r = np.log(x)
    s = np.sum(r * r)
    return s if np.all(x > 0) else np.sum(x ** 2)


def _loop_never_runs(x):
    t = np.arcsin(x[0])  # (inf derivative at 1)
    y = x[1]
    k = 0
    while k < x[2]:
        y = y + t
        k += 1
    return y


def _log_helper(z):
    return np.log(z)


def _helper_if_positive(x):
    t = _log_helper(x[0])  # (the helper's backward form met 0.0 too)
    y = t if x[0] > 0 else 0.0
    return x[1] * y + x[0]


def _overwritten_in_loop(x):
    t = np.sqrt(x)
    for i in range(3):
        if x[i] > 0:
            y = t[i] * 2.0  # (only the last pass's y is returned: here the else branch's)
        else:
            y = x[i] * 0.5
    return y


def _torch_overwritten_in_loop(t):
    import torch
    u = torch.sqrt(t)
    for i in range(3):
        y = u[i] * 2.0 if t[i] > 0 else t[i] * 0.5
    return y


def _torch_log_if_positive(t):
    import torch
    u = torch.log(t[0])
    y = u if t[0] > 0 else 0.0
    return t[1] * y + t[0]


def _torch_recip_branch(t):
    u = 1 / (t[0] - 1)
    return t[1] * (u if u < 5 else 5.0)


def _torch_chain_in_branch(t):
    import torch
    w = torch.sqrt(t)[0] * 2.0 * t[1]
    return w + t[2] if t[0] > 0 else t[2] * 3.0


def _torch_array_branch(t):
    import torch
    r = torch.log(t)
    return torch.sum(r * r) if bool(torch.all(t > 0)) else torch.sum(t ** 2)


def _torch_loop_never_runs(t):
    import torch
    u = torch.arcsin(t[0])
    y = t[1]
    k = 0
    while k < t[2]:
        y = y + u
        k += 1
    return y


_UNUSED = [
    (_log_if_positive, _torch_log_if_positive, [[0.0, 2.0], [0.5, 2.0], [-1.0, 2.0]]),
    (_recip_branch, _torch_recip_branch, [[1.0, 2.0], [0.5, 2.0], [3.0, 2.0]]),
    (_min_capped, _torch_min_capped, [[1.0, 2.0], [0.5, 2.0], [3.0, 2.0]]),
    (_chain_in_branch, _torch_chain_in_branch, [[0.0, 2.0, 1.0], [0.25, 2.0, 1.0]]),
    (_array_branch, _torch_array_branch, [[0.0, 2.0, 1.0], [0.5, 2.0, 1.0]]),
    (_loop_never_runs, _torch_loop_never_runs, [[1.0, 2.0, 0.0], [0.5, 2.0, 2.0]]),
    (_helper_if_positive, _torch_log_if_positive, [[0.0, 2.0], [0.5, 2.0]]),
    (_overwritten_in_loop, _torch_overwritten_in_loop, [[1.0, 4.0, 0.0], [4.0, 0.0, 0.0]]),
]


@pytest.mark.parametrize("mode", ["reverse", "unspecialized", "unoptimized", "numba", "forward",
                                  "tape"])
@pytest.mark.parametrize("f, tf, points", _UNUSED, ids=[c[0].__name__ for c in _UNUSED])
def test_a_value_the_path_taken_did_not_use_gets_no_gradient(f, tf, points, mode):
    from sourcediff.testing import _mode_gradients
    for p in points:
        x = np.array(p)
        want = _torch_grad(tf, x)
        assert np.all(np.isfinite(want))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if mode == "numba":
                got = sd.grad(f, backend="numba")(x.copy())
            else:
                got = _mode_gradients(f, (x.copy(),), (0,), mode)[0]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, err_msg=f"{mode} at {p}")


@pytest.mark.parametrize("f, tf, points", _UNUSED[:3], ids=[c[0].__name__ for c in _UNUSED[:3]])
def test_a_value_the_path_taken_did_not_use_second_order(f, tf, points):
    torch = pytest.importorskip("torch")
    for p in points:
        t = torch.tensor(p, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(tf(t), t, create_graph=True)
        want = np.array([torch.autograd.grad(g[i], t, retain_graph=True, allow_unused=True)[0]
                         .numpy() if g[i].requires_grad else np.zeros(2) for i in range(2)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.testing.assert_allclose(sd.hessian(f)(np.array(p)), want, rtol=1e-12)


def test_the_guard_is_in_the_generated_source_only_where_a_path_skips_the_value():
    src = sd.source(sd.grad(_log_if_positive))
    assert "if _sd.nonzero_grad(t_bar):" in src
    from tests.showcase import piecewise  # (y is read after the branch on both paths: no guard)
    assert "nonzero_grad" not in sd.source(sd.grad(piecewise, wrt=(0, 1)))


def test_np_where_keeps_the_nan_of_its_untaken_branch_as_pytorch():
    # (README: np.where's untaken inf derivative still reaches the input, as in every AD tool)
    def f(x):
        return np.sum(np.where(x > 0, np.log(x), 0.0))
    torch = pytest.importorskip("torch")
    t = torch.tensor([0.0, 2.0], dtype=torch.float64, requires_grad=True)
    torch.sum(torch.where(t > 0, torch.log(t), 0.0)).backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = sd.grad(f)(np.array([0.0, 2.0]))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(t.grad.numpy()))
    assert np.isnan(got[0]) and got[1] == 0.5
