"""Gradients of plain numpy losses given dask arrays: lazy results, one pass over the data, the numpy
numbers; with the threaded scheduler and on a dask.distributed cluster (in-process workers).

Each chunk of the data matrix is read through ``_read``, which counts the reads per chunk, so a test
sees how many passes over the data a call and the final ``dask.compute(value, grad)`` make,
whatever the scheduler.
"""

import collections
import pathlib
import subprocess
import sys
import threading

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

import sourcediff as sd  # noqa: E402
from sourcediff import runtime  # noqa: E402
from sourcediff.errors import SourcediffError  # noqa: E402

ROWS, COLS, CHUNK = 2000, 6, 500  # four row chunks

# ---------------------------------------------------------------- the losses (plain numpy)


def logistic(w, X, y):
    z = X @ w
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p + 1e-9) + (1.0 - y) * np.log(1.0 - p + 1e-9))


def mlp(W1, b1, W2, b2, X, y):
    h = np.maximum(X @ W1 + b1, 0.0)
    out = np.tanh(h @ W2 + b2)
    return np.mean((out - y) ** 2)


def controlled(w, X, y):
    r = X @ w - y
    s = np.mean(r ** 2)
    if s > 1.0:  # a branch on a number computed from all the data
        loss = np.sqrt(s)
    else:
        loss = s
    scale = np.max(np.abs(r))
    while scale > 1.0:  # a loop whose trip count comes from the data
        loss = loss * 0.9
        scale = scale / 2.0
    return loss


# ---------------------------------------------------------------- data that counts its reads

_reads = collections.Counter()
_reads_lock = threading.Lock()


def _read(block, block_info=None):
    with _reads_lock:
        _reads[block_info[0]["chunk-location"]] += 1
    return block


def _reads_per_chunk():
    """The set of read counts over the chunks of X (``{1}``: each chunk read once)."""
    with _reads_lock:
        counts = {_reads[(k, 0)] for k in range(ROWS // CHUNK)}
        _reads.clear()
    return counts


def _problem(name):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(ROWS, COLS))
    w = rng.normal(size=COLS) * 0.5
    if name == "logistic":
        y = (rng.random(ROWS) < 0.5).astype(float)
        return logistic, 0, [w], X, y
    if name == "mlp":
        params = [rng.normal(size=(COLS, 16)) * 0.5, np.zeros(16), rng.normal(size=(16, 1)) * 0.5,
                  np.zeros(1)]
        y = rng.normal(size=(ROWS, 1))
        return mlp, (0, 1, 2, 3), params, X, y
    y = rng.normal(size=ROWS) * 3.0  # residuals above 1: the branch and the loop both run
    return controlled, 0, [w], X, y


def _lazy_data(X, y):
    Xd = da.from_array(X, chunks=(CHUNK, COLS)).map_blocks(_read, dtype=X.dtype)
    yd = da.from_array(y, chunks=(CHUNK,) + y.shape[1:])
    return Xd, yd


@pytest.fixture(params=["threads", "distributed"])
def scheduler(request):
    """The scheduler dask.compute uses in the test: threads, or a LocalCluster's client."""
    if request.param == "threads":
        with dask.config.set(scheduler="threads"):
            yield request.param
        return
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        assert dask.base.get_scheduler() == client.get  # (dask.compute runs on the cluster)
        yield request.param


# tests for the chunk reads a call makes before the final compute: one per test on a value computed
# from the data (the branch's s, the loop's scale), each computed once (sourcediff/lazy.py)
READS_DURING_CALL = {"logistic": {0}, "mlp": {0}, "controlled": {2}}


@pytest.mark.parametrize("name", ["logistic", "mlp", "controlled"])
def test_value_and_grad_on_dask_is_lazy_one_pass_and_equal(name, scheduler):
    fn, wrt, params, X, y = _problem(name)
    vg = sd.value_and_grad(fn, wrt=wrt)
    value_np, grad_np = vg(*params, X, y)
    # (the distributed scheduler read every chunk twice in the final compute in two full-suite
    # runs on a loaded machine, never when run alone: one more try there, so that a flake does
    # not fail the suite and a graph that reads the data twice on every try still does)
    for attempt in range(2 if scheduler == "distributed" else 1):
        Xd, yd = _lazy_data(X, y)
        _reads_per_chunk()

        value, grad = vg(*params, Xd, yd)
        assert _reads_per_chunk() == READS_DURING_CALL[name]
        grads = grad if isinstance(wrt, tuple) else (grad,)
        assert all(isinstance(g, da.Array) for g in grads), [type(g) for g in grads]
        if name != "controlled":  # (there the value is made of the computed s: a number already)
            assert isinstance(value, da.Array)

        value_c, grad_c = dask.compute(value, grad)
        reads = _reads_per_chunk()
        if reads == {1} or attempt == 1 or scheduler != "distributed":
            break
    assert reads == {1}  # value and gradient from one pass over the data
    np.testing.assert_allclose(value_c, value_np, rtol=1e-12)
    for got, want, p in zip(grad_c if isinstance(wrt, tuple) else (grad_c,),
                            grad_np if isinstance(wrt, tuple) else (grad_np,), params):
        assert got.shape == p.shape and got.dtype == p.dtype
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


def test_grad_on_dask_is_lazy_and_equal():
    fn, wrt, params, X, y = _problem("logistic")
    Xd, yd = _lazy_data(X, y)
    _reads_per_chunk()
    g = sd.grad(fn)(*params, Xd, yd)
    assert isinstance(g, da.Array) and _reads_per_chunk() == {0}
    np.testing.assert_allclose(g.compute(), sd.grad(fn)(*params, X, y), rtol=1e-10)
    assert _reads_per_chunk() == {1}


def test_the_numpy_code_is_unchanged_for_numpy_arguments():
    """The dask rewrite is per call signature: the numpy call runs code without _sd.computed."""
    fn, wrt, params, X, y = _problem("controlled")
    vg = sd.value_and_grad(fn, wrt=wrt)
    assert "_sd.computed" not in sd.source(vg, *params, X, y)
    assert "_sd.computed" not in sd.source(vg)
    Xd, yd = _lazy_data(X, y)
    text = sd.source(vg, *params, Xd, yd)
    # (the comparison of a value depending on wrt is checked for the user's objects around it:
    # compiler/dispatched.py)
    assert "s = _sd.computed(s)" in text and \
        "_cmp1 = _sd.without_derivative(_sd.computed(s > 1.0), '>', s)" in text


def test_a_gradient_with_respect_to_the_dask_data_is_dask_shaped_like_it():
    fn, wrt, params, X, y = _problem("logistic")
    Xd, yd = _lazy_data(X, y)
    gX = sd.grad(fn, wrt=1)(*params, Xd, yd)
    assert isinstance(gX, da.Array) and gX.shape == X.shape and gX.chunks == Xd.chunks
    np.testing.assert_allclose(gX.compute(), sd.grad(fn, wrt=1)(*params, X, y), rtol=1e-10)


# ---------------------------------------------------------------- user functions over more rules


def many_rules(w, X):
    z = X @ w
    a = np.maximum(z, 0.0) + np.minimum(z, 0.1) * 0.5  # (win_mask)
    b = np.where(z > 0, np.sin(z), np.cos(z))
    c = np.concatenate([a[:, None], b[:, None]], axis=1)  # (concat_grads)
    d = np.sum(c * c, axis=1) + np.max(X, axis=1) * w[0]  # (unreduce with an axis, extremum)
    e = np.repeat(X[:, :2], 2, axis=1).astype(np.float64)  # (repeat_grad, astype)
    f = np.linalg.norm(X * w, axis=1)  # (norm_weights)
    return np.mean(d) + np.sum(e[:, 1:3] * w[:2]) / len(X) + np.mean(f) + np.sum(X.ravel()) * w[1]


def test_more_rules_on_dask_stay_lazy_and_equal():
    fn, wrt, params, X, y = _problem("logistic")
    Xd, _ = _lazy_data(X, y)
    w = params[0]
    for wrt in (0, 1):
        _reads_per_chunk()
        g = sd.grad(many_rules, wrt=wrt)(w, Xd)
        assert isinstance(g, da.Array) and _reads_per_chunk() == {0}, wrt
        np.testing.assert_allclose(g.compute(), sd.grad(many_rules, wrt=wrt)(w, X), rtol=1e-10)


def quantile_loss(w, X):
    return np.mean(np.median(X * w, axis=1))


def fancy_index_loss(w, X):
    return np.sum(X[np.array([0, 0, 1])] @ w)


@pytest.mark.parametrize("fn, construct", [(quantile_loss, "np.median"),
                                           (fancy_index_loss, "integer arrays that repeat")])
def test_what_dask_cannot_do_lazily_is_refused_at_the_users_line(fn, construct):
    fn_, wrt, params, X, y = _problem("logistic")
    Xd, _ = _lazy_data(X, y)
    with pytest.raises(SourcediffError) as info:
        sd.grad(fn, wrt=1)(params[0], Xd)
    text = str(info.value)
    assert construct in text and "test_dask.py" in text and "compute the array first" in text


# ---------------------------------------------------------------- every rule of the table on dask

# rule cases (by name, as tests/test_rule_suite.py names them) whose gradient computes its dask
# input while being built, with the reason
COMPUTES = {
    "diag": "np.diagonal's gradient writes g into zeros at integer positions (numpy setitem)",
    "diagonal": "np.diagonal's gradient writes g into zeros at integer positions (numpy setitem)",
    "diagonal_swapped": "np.diagonal's gradient writes g into zeros at integer positions",
}


def _dask_copy(x):
    if isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.ndim:
        return da.from_array(x, chunks=tuple(max(1, (n + 1) // 2) for n in x.shape))
    return x


class _Computes(dask.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.count = 0

    def _start(self, dsk):
        self.count += 1


def test_every_rule_case_on_dask_is_lazy_and_equal_or_refused():
    """The user-facing rule cases of tests/rule_cases.py with their float array arguments as dask
    arrays (chunked in two along every axis): where dask runs the function itself lazily, the
    gradient is built without computing anything, is a dask array, and equals numpy's; or it is
    refused with sourcediff's numpy-only message."""
    from . import test_rule_suite as suite

    failures, checked, refused, computing = [], 0, 0, set()
    with dask.config.set(scheduler="sync"):
        for prim, args, kwargs, argnums, cid in suite.SUITE:
            if (getattr(prim, "__module__", "") or "").startswith("sourcediff"):
                continue  # (the helpers' own cases: their rules serve grad of grad)
            if getattr(prim, "__module__", "") == "numpy.linalg":
                continue  # (dask runs these on one block or computes them: see the README)
            module = suite._module(prim, args, kwargs, argnums, cid)
            xs = [args[i] for i in argnums]
            dx = [_dask_copy(x) for x in xs]
            if module is None or all(type(d) is not da.Array for d in dx):
                continue
            counter = _Computes()
            try:
                with counter:
                    value = module.loss(*dx)
                dask.compute(value)
            except Exception:  # noqa: BLE001  (dask cannot run the function itself)
                continue
            if counter.count:
                continue  # (dask computes the function itself: nothing lazy to keep)
            counter = _Computes()
            try:
                with counter:
                    got = module._dloss(*dx)
            except SourcediffError as exc:
                if "is computed with numpy only" in str(exc):
                    refused += 1
                else:
                    failures.append(f"{cid}: {str(exc).splitlines()[0]}")
                continue
            label = suite._label(cid)
            got = got if len(xs) > 1 else (got,)
            if counter.count and label not in COMPUTES:
                failures.append(f"{cid}: computed {counter.count} time(s) while building")
            computing.update([label] if counter.count else [])
            if not all(isinstance(g, da.Array) for g in got):
                failures.append(f"{cid}: gradient types {[type(g).__name__ for g in got]}")
            want = module._dloss.__sourcediff_specializations__.generic(*xs)  # (numpy's numbers)
            want = want if len(xs) > 1 else (want,)
            for g, w in zip(dask.compute(*got), want):
                if not np.allclose(g, w, rtol=1e-10, atol=1e-12):
                    failures.append(f"{cid}: differs from numpy")
            checked += 1
    failures += [f"{label}: no case computes any longer; take it out of COMPUTES"
                 for label in set(COMPUTES) - computing]
    assert not failures, "\n".join(failures)
    print(f"{checked} rule cases lazy and equal on dask, {refused} refused")
    assert checked > 200 and refused >= 4, (checked, refused)


# ---------------------------------------------------------------- the runtime helpers on dask


def test_helpers_keep_dask_arrays_lazy():
    x = da.ones((6, 4), chunks=(3, 4))
    g = da.full((6, 4), 2.0, chunks=(3, 4))
    with dask.config.set(scheduler="sync"):
        computes = []

        class Count(dask.callbacks.Callback):
            def _start(self, dsk):
                computes.append(1)

        with Count():
            out = runtime.unreduce(0.5, x)  # a float over a dask x: lazy, in x's chunks
            assert isinstance(out, da.Array) and out.chunks == x.chunks
            out = runtime.unreduce(np.sum(g, axis=0), x, 0)  # in x's chunks, not one block
            assert isinstance(out, da.Array) and out.chunks == x.chunks
            b = np.zeros((1, 4))
            assert isinstance(runtime.unbroadcast(g, b), da.Array)
            assert runtime.unbroadcast(g, b).shape == (1, 4)
            gl = runtime.grad_like(g, np.zeros((1, 4), dtype=np.float32))  # numpy x, dask g
            assert isinstance(gl, da.Array) and gl.shape == (1, 4) and gl.dtype == np.float32
            assert isinstance(runtime.grad_like(1.0, x), da.Array)  # dask x, numpy g
            assert isinstance(runtime.grad_like(g, 2.0), da.Array)  # a float x: a lazy 0-d sum
            assert isinstance(runtime.win_mask(g, x), da.Array)
            s = runtime.scatter_basic(g[0], x, 1)
            assert isinstance(s, da.Array) and s.shape == x.shape
            assert isinstance(runtime.copy(x), da.Array) and runtime.copy(x) is not x
            runtime.check_wrt(x, "x", "f (f.py:1)")
            runtime.check_scalar(np.sum(x), "f (f.py:1)")
        assert computes == []
        assert float(runtime.grad_like(g, 2.0).compute()) == 48.0
        assert np.array_equal(s.compute(), np.eye(6, 1, -1) @ np.full((1, 4), 2.0))


def test_computed_computes_small_lazy_values_together_and_leaves_the_rest():
    big = da.ones(1000, chunks=100)
    small = np.sum(big)
    other = np.max(big)
    a, b, c, d = runtime.computed(small, other, big, 3.0)
    assert type(a) is not da.Array and a == 1000.0 and b == 1.0
    assert c is big and d == 3.0
    assert runtime.computed(small) == 1000.0


def test_check_wrt_refuses_an_integer_dask_array_without_computing_it():
    ints = da.from_array(np.arange(4), chunks=2).map_blocks(_read_never, dtype=int)
    with pytest.raises(SourcediffError, match="integer"):
        sd.grad(logistic)(ints, np.ones((3, 4)), np.ones(3))


def _read_never(block):
    raise AssertionError("the array was computed")


def test_a_gradient_over_1_6_gb_of_lazy_data_grows_memory_by_less_than_600_mb():
    """examples/out_of_core.py in a fresh interpreter: one gradient step over a lazily generated X
    of 1.6 GB; it exits with 1 when its resident memory grows by 0.6 GB or more."""
    script = pathlib.Path(__file__).resolve().parents[1] / "examples" / "out_of_core.py"
    done = subprocess.run([sys.executable, str(script), "--gb", "1.6", "--cap-gb", "0.6",
                           "--steps", "1"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1.60 GB generated lazily" in done.stdout


# ---------------------------------------------------------------- CuPy (where a GPU is present)


def test_cupy_gradient_stays_on_the_device():
    cp = pytest.importorskip("cupy")
    try:
        cp.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001  (cupy installed without a usable GPU)
        pytest.skip("no GPU")
    fn, wrt, params, X, y = _problem("logistic")
    value, g = sd.value_and_grad(fn)(cp.asarray(params[0]), cp.asarray(X), cp.asarray(y))
    assert isinstance(g, cp.ndarray)
    value_np, grad_np = sd.value_and_grad(fn)(params[0], X, y)
    np.testing.assert_allclose(cp.asnumpy(g), grad_np, rtol=1e-10)


def masked_write_loss(w, X):
    r = X @ w
    r[r < 0] = 0.0
    return np.sum(r ** 2)


def masked_read_loss(w, X):
    r = X @ w
    return np.sum(r[r > 0] ** 2)


def masked_by_where_loss(w, X):
    r = X @ w
    return np.sum(np.where(r > 0, r, 0.0) ** 2)


@pytest.mark.parametrize("fn", [masked_write_loss, masked_read_loss])
def test_a_boolean_mask_on_dask_data_says_to_write_np_where(fn):
    """dask cannot place the values a lazy boolean mask selects (their count is unknown until
    computed): the error names the user's line and the np.where spelling, which works."""
    fn_, wrt, params, X, y = _problem("logistic")
    Xd, _ = _lazy_data(X, y)
    with pytest.raises(SourcediffError) as info:
        sd.grad(fn, wrt=0)(params[0], Xd)
    text = str(info.value)
    assert "test_dask.py" in text and "np.where(mask" in text
    g = sd.grad(masked_by_where_loss, wrt=0)(params[0], Xd)
    np.testing.assert_allclose(np.asarray(dask.compute(g)[0]), sd.grad(fn, wrt=0)(params[0], X),
                               rtol=1e-10)
