"""The entry's copy-or-own step (runtime.own_arrays: no returned gradient shares memory with
another) is skipped for a specialized gradient whose code shows every returned array new
(specialize/owned.py). These tests fail if the proof passes code whose results share memory, or if
the skipped step comes back on the path it was removed from."""

import importlib.util
import sys
from pathlib import Path

import gast
import numpy as np
import pytest

import sourcediff as sd
from sourcediff import runtime
from sourcediff.compiler.emit import to_source
from sourcediff.runtime.grads import own_arrays
from sourcediff.specialize import facts, passes

try:
    from .oracles import check_grads_fd
except ImportError:  # tests/ collected without being a package
    from oracles import check_grads_fd

rng = np.random.default_rng(48)


def _mlp(x, w1, b1, w2, b2, y):
    h = np.maximum(x @ w1 + b1, 0.0)
    out = h @ w2 + b2
    return np.sum((out - y) ** 2)


def _tanh_softmax(x, w1, b1, w2, b2, labels):
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    m = np.max(logits, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    return -np.mean((logits - lse)[np.arange(x.shape[0]), labels])


def _sum_of_sum(a, b):
    return np.sum(a + b)  # a_bar and b_bar: one array in the code


def _transposed(a, b):
    return np.sum(a.T * b)  # a_bar: a transpose (a view) of a product


def _product(a, b):
    return np.sum(a * b)


def _mlp_args():
    return (rng.standard_normal((20, 3)), rng.standard_normal((3, 8)), rng.standard_normal((1, 8)),
            rng.standard_normal((8, 1)), rng.standard_normal((1, 1)), rng.standard_normal((20, 1)))


def _softmax_args():
    return (rng.standard_normal((16, 12)), rng.standard_normal((12, 6)), rng.standard_normal(6),
            rng.standard_normal((6, 4)), rng.standard_normal(4), rng.integers(0, 4, 16))


def _called(fn):
    """The names of the Python functions one call of ``fn`` runs."""
    names = []

    def profile(frame, event, arg):
        if event == "call":
            names.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return names


def _table_function(df, args):
    return df.__sourcediff_specializations__.table[facts.signature(args)]


def _leaves(tree):
    if isinstance(tree, (list, tuple)):
        return [x for item in tree for x in _leaves(item)]
    return [tree] if isinstance(tree, np.ndarray) else []


def _assert_own_memory(out, args):
    leaves = _leaves(out)
    for i, u in enumerate(leaves):
        for v in leaves[:i]:
            assert not np.may_share_memory(u, v)
        for a in args:
            assert not isinstance(a, np.ndarray) or not np.may_share_memory(u, a)


@pytest.mark.parametrize("loss, make", [(_mlp, _mlp_args), (_tanh_softmax, _softmax_args)])
def test_a_gradient_of_new_arrays_skips_the_runtime_check(loss, make):
    # counted, not timed: W1's gradient call ran entry, the generated function, win_mask and
    # own_arrays (164 bytecodes of 380); the code shows its four results new, so own_arrays goes
    args = make()
    df = sd.grad(loss, wrt=(1, 2, 3, 4))
    first = df(*args)
    assert not hasattr(_table_function(df, args), "__wrapped__")  # (no owning wrapper)
    called = _called(lambda: df(*args))
    assert "own_arrays" not in called and "owning" not in called, called
    again = df(*args)
    assert own_arrays(again) is again  # (what the skipped check would have found: nothing)
    _assert_own_memory(again, args)
    for g, h in zip(first, again):
        assert np.array_equal(g, h) and g is not h
    g0 = again[0]
    g0 *= 0.0  # an optimizer's in-place update of one gradient leaves the others
    assert all(np.array_equal(g, h) for g, h in zip(first[1:], again[1:]))
    generic = df.__sourcediff_specializations__.generic(*args)
    for g, h in zip(again[1:], generic[1:]):
        np.testing.assert_allclose(g, h, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("loss", [_sum_of_sum, _transposed])
def test_a_gradient_the_code_cannot_show_new_is_checked_at_run_time(loss):
    a, b = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    df = sd.grad(loss, wrt=(0, 1))
    df(a, b)
    assert hasattr(_table_function(df, (a, b)), "__wrapped__")  # (behind the owning wrapper)
    called = _called(lambda: df(a, b))
    assert "own_arrays" in called, called
    ga, gb = df(a, b)
    assert not np.may_share_memory(ga, gb)
    keep = gb.copy()
    ga += 1.0
    assert np.array_equal(gb, keep)


def test_the_proof_holds_for_a_product_of_the_arguments():
    a, b = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    df = sd.grad(_product, wrt=(0, 1))
    ga, gb = df(a, b)
    ga, gb = df(a, b)
    assert not np.may_share_memory(ga, gb)
    assert not np.may_share_memory(ga, b) and not np.may_share_memory(gb, a)
    np.testing.assert_array_equal(ga, b)
    np.testing.assert_array_equal(gb, a)


_SHAPED = '''
def g(x, y):
    t = _sd.unbroadcast(x * y, x)
    a = t + 1.0
    BODY
    return (a, b)
'''


@pytest.mark.parametrize("body, owned", [
    ("b = x @ y.T", True),
    ("b = -x", True),
    ("b = np.exp(x)", True),
    ("b = x.sum(axis=0)", True),
    ("b = np.dot(x, y.T)", True),
    ("b = 2.0 * x", True),
    ("b = x", False),  # the argument itself
    ("b = a", False),  # the same array twice
    ("b = x.T", False),  # a view of an argument
    ("b = x[0]", False),
    ("b = np.reshape(a, (-1,))", False),  # a view of the other result
    ("b = np.multiply(x, y, out=a)", False),  # the other result's buffer
    ("b = np.multiply(x, y, a)", False),  # (the same, its out given by position)
    ("b = x * 2.0\n    b += 1.0", False),  # bound twice (new, but not shown by one binding)
    ("b = x * 2.0\n    a = b", False),
    ("if x[0, 0] > 0:\n        b = x * 2.0\n    else:\n        b = x * 3.0", False),
    ("b = _sd.unreduce(1.0, x, None, False)", False),  # a broadcast view
    ("b = x * 2.0\n    b = b + a", True),  # an accumulation: its last binding is new
    ("c = x * y\n    b = c", True),  # the array c holds, which nothing else returned holds
    ("c = x * y\n    b = c\n    a = c", False),  # one array for both
    ("b = x * 2.0\n    c = b\n    a = c", False),
    ("c = x * y\n    b = c\n    c = y * 3.0\n    a = c", True),  # c rebound: another array
    ("b = np.where(x > 0, x, 0.0)", True),
    ("b = np.where(x > 0)[0] * 1.0", False),  # (its shape is the values': no facts)
    ("b = x * 2.0\n    del b\n    b = a.T", False),
    ("for k in range(2):\n        b = x * 2.0", False),  # bound in a loop: not followed
])
def test_the_proof_passes_only_new_distinct_arrays(body, owned):
    code = _SHAPED.replace("BODY", body)
    fdef = gast.parse(code).body[0]
    x, y = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    out, proved = passes.specialize_owned(
        fdef, ["x", "y"], (x, y), namespace={"np": np, "_sd": runtime}, stack_name=None,
        removable=set(), where_names=set(), runtime_names={"_sd"})
    assert out is not None or not owned  # (None: not specialized, the generic code runs)
    assert proved == owned
    if proved:  # and what the code returns is indeed its own
        scope = {"np": np, "_sd": runtime}
        exec(compile(to_source(out), "<g>", "exec"), scope)
        result = scope["g"](x, y)
        assert own_arrays(result) is result
        _assert_own_memory(result, (x, y))


_EXPRESSIONS = [
    "a * b", "a / (b * b + 1.0)", "a @ b", "np.dot(a, b)", "np.maximum(a, b)", "np.minimum(a, 0.0) * b",
    "a ** 2 + b", "np.arctan2(a, b)", "np.hypot(a, b)", "np.exp(a) * np.sin(b)", "np.tanh(a @ b)",
    "a - b", "a + b", "np.where(a > 0, a, b)", "a.T @ b.T", "np.sum(a, axis=0) * b", "a * b[0]",
    "np.concatenate([a, b])", "a[1:] * b[:-1]", "np.mean(a * b, axis=1)",
    "np.maximum(a @ b + b[0], 0.0)", "np.log(np.abs(a) + 1.0) * b", "a @ b + b.sum(axis=0)",
    "(a @ b) @ (b @ a)", "-a * b", "a * 2.0 + b", "np.max(a * b, axis=1, keepdims=True) * b",
]


@pytest.fixture(scope="module")
def _expression_module(tmp_path_factory):
    path = tmp_path_factory.mktemp("review48") / "review48_expressions.py"
    text = "import numpy as np\n\n"
    for k, e in enumerate(_EXPRESSIONS):
        text += f"def loss{k}(a, b, c):\n    return np.sum(({e}) * c)\n\n\n"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("review48_expressions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gradients_of_two_arguments_are_their_own_arrays(_expression_module):
    """Gradients of two arguments through arithmetic, products, ufuncs, reductions and views:
    where the proof skips the runtime check (most of them), the results are distinct arrays that
    share no memory with each other or the arguments, equal to finite differences."""
    skipped = 0
    for k, expr in enumerate(_EXPRESSIONS):
        loss = getattr(_expression_module, f"loss{k}")
        a, b = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
        c = rng.standard_normal(np.shape(eval(expr, {"np": np, "a": a, "b": b})))
        df = sd.grad(loss, wrt=(0, 1))
        df(a, b, c)
        out = df(a, b, c)
        fn = _table_function(df, (a, b, c))
        if not hasattr(fn, "__wrapped__"):
            skipped += 1
            assert own_arrays(out) is out, expr
        _assert_own_memory(out, (a, b, c))
        check_grads_fd(loss, (a, b, c), (0, 1), out)
        keep = out[1].copy()
        g1 = out[0].copy() if not out[0].flags.writeable else out[0]
        g1 += 1.0
        assert np.array_equal(out[1], keep), expr
    assert skipped >= len(_EXPRESSIONS) // 2, skipped  # (the proof covers the common forms)


def _weights_formula(a, ans, axis):
    mask = (a == ans).astype(np.result_type(a, 1.0))
    return mask / np.sum(mask, axis=axis, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("axis", [0, 1])
def test_extremum_weights_without_ties_is_the_tie_splitting_formula(dtype, axis):
    """runtime.extremum_weights skips the count per slice when there is one match in each (no
    ties, no nan max): the same bits as the formula, with ties, with nan, for max and min."""
    a = rng.standard_normal((7, 5)).astype(dtype)
    tied = a.copy()
    tied[2, :] = 1.5  # (a whole row of ties: every slice along axis 1 ties there)
    tied[:, 3] = tied.max()  # (and a column)
    nan = a.copy()
    nan[1, 1] = np.nan
    nan[4, :2] = 9.0  # (a nan max in one slice, two matches in another: as many as slices)
    nan[:2, 4] = 9.0
    for x in (a, tied, nan, -a):
        for reduce in (np.max, np.min):
            with np.errstate(invalid="ignore"):
                ans = reduce(x, axis=axis, keepdims=True)
                got = runtime.extremum_weights(x, ans, axis, True)
                want = _weights_formula(x, ans, axis)
            assert got.dtype == want.dtype
            assert np.array_equal(got, want, equal_nan=True)


def _workloads():
    """benchmarks/workloads.py, the W7 loss and its hand-written gradient."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "workloads.py"
    spec = importlib.util.spec_from_file_location("sd_benchmark_workloads", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_list_of_layers_gradient_runs_fewer_python_calls():
    # counted, not timed: W7's generic gradient (a list of (W, b) tuples is not specialized) made
    # 520 Python calls per call (these sizes) before the runtime helpers' exact-type fast paths,
    # 340 after
    workloads = _workloads()
    sizes = (6, 5, 4, 3)
    params = [(rng.standard_normal((m, n)), rng.standard_normal(n))
              for m, n in zip(sizes[:-1], sizes[1:])]
    x, labels = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    df = sd.grad(workloads.w7_loss)
    got = df(params, x, labels)
    calls = [0]

    def profile(frame, event, arg):
        if event == "call":
            calls[0] += 1

    sys.setprofile(profile)
    try:
        df(params, x, labels)
    finally:
        sys.setprofile(None)
    assert calls[0] < 400, calls[0]

    (want,) = workloads.w7_grad(params, x, labels)  # (the hand-written gradient)
    assert isinstance(got, list) and all(isinstance(layer, tuple) for layer in got)
    for (gw, gb), (ww, wb) in zip(got, want):
        np.testing.assert_allclose(gw, ww, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(gb, wb, rtol=1e-10, atol=1e-13)
    _assert_own_memory(got, [p for layer in params for p in layer] + [x])


def test_own_arrays_of_a_tree_of_arrays_of_their_own_is_the_tree_itself():
    """own_arrays' quick test for a list, tuple or dict tree (a list of layers' (W, b)): distinct
    arrays that own their memory come back as they are; the same array twice, a view of
    another, or a view of memory outside come back copied apart."""
    w, b = np.ones((3, 2)), np.ones(2)
    fresh = ([(w, b), (np.ones((2, 2)), np.zeros(2))],)
    assert own_arrays(fresh) is fresh
    for out in (([(w, b), (w, np.zeros(2))],), ([(w, b), (w[0], np.zeros(2))],),
                ([(w, b)], {"k": b[::2]})):
        got = own_arrays(out)
        leaves = []
        stack = [got]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                stack.extend(v.values())
            elif isinstance(v, (list, tuple)):
                stack.extend(v)
            else:
                leaves.append(v)
        for i, u in enumerate(leaves):
            for v in leaves[:i]:
                assert not np.may_share_memory(u, v), out


_FLOATS = """
def g(x, y):
    t = _sd.unbroadcast(x * y, x)
    a = t + 1.0
    return (float(a.sum()), a, float(x[0, 0]))
"""


@pytest.mark.parametrize("float_name, owned", [("float", True), ("int", False)])
def test_the_proof_takes_a_python_float_as_its_own(float_name, owned):
    """``float(v)`` among the returned values is a Python float (immutable): W2's gradient,
    four floats; a name rebound to another function is not float."""
    fdef = gast.parse(_FLOATS).body[0]
    x, y = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    namespace = {"np": np, "_sd": runtime, "float": float if float_name == "float" else int}
    out, proved = passes.specialize_owned(
        fdef, ["x", "y"], (x, y), namespace=namespace, stack_name=None, removable=set(),
        where_names=set(), runtime_names={"_sd"})
    assert out is not None and proved == owned
