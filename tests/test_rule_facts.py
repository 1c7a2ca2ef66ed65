"""The facts of primitives (sourcediff/rules/registry.py, ``Facts`` and ``Rule``): declared where each
rule is registered, checked here against numpy itself where numpy can say, and read by the stages
that need them (the alias checks, the output's scalar check) from the registry, not from lists of
names of their own."""

import math

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import runtime
from sourcediff.rules import quote, registry
from sourcediff.rules.facts import CONTAINER_ONLY_METHODS, METHODS, may_write, writes_in_place


def _records():
    records = {id(r.key): r for r in registry.all_rules()}
    for key in registry.all_nondiff():
        if not isinstance(key, tuple):
            records.setdefault(id(key), registry.facts(key))
    return list(records.values())


def _is_numpy(record):
    module = getattr(record.key, "__module__", None) or type(record.key).__module__ or ""
    return module.startswith("numpy") or record.name.startswith(("np.", "ndarray."))


def _call(key, *args, **kwargs):
    """Call a primitive: a function, or an ndarray attribute (a property or getset descriptor)."""
    if hasattr(key, "__get__") and not callable(key):
        return key.__get__(args[0])
    return key(*args, **kwargs)


def _arrays(value):
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _arrays(v)]
    return [v for v in getattr(value, "__dict__", {}).values() if isinstance(v, np.ndarray)]


# ---------------------------------------------------------------- every numpy key has an answer


def test_every_numpy_primitive_says_whether_its_result_is_a_view():
    unknown = [r.name for r in _records() if _is_numpy(r) and r.view is None]
    assert unknown == []


def test_unknown_facts_are_refused_at_registration():
    with pytest.raises(TypeError, match="unknown fact"):
        registry.defvjp(np.sin, kind="elementwise", veiw=True)
    with pytest.raises(ValueError, match="view"):
        registry.deffacts(np.sin, view="yes")


def test_ufuncs_and_undeclared_keys_get_derived_facts():
    assert registry.facts(np.hypot).view is False
    assert registry.facts(np.heaviside).rowwise == "elementwise"
    assert registry.facts(np.bitwise_and).rowwise == "elementwise"  # (no rule: derived all the same)
    plain = registry.facts(lambda x: x)
    assert plain.view is None and plain.rowwise is None and not plain.full_reduction
    assert registry.facts(None).writes is None


# ---------------------------------------------------------------- against numpy

X = np.arange(1.0, 7.0).reshape(2, 3)
SQUARE = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])

# the arguments a view-making primitive needs to show it (beyond the array itself)
VIEW_CALLS = {
    "_operator.getitem": (X, 0), "ndarray.__getitem__": (X, 0), "np.broadcast_to": (X, (4, 2, 3)),
    "np.reshape": (X, -1), "ndarray.reshape": (X, -1), "np.swapaxes": (X, 0, 1),
    "ndarray.swapaxes": (X, 0, 1), "np.moveaxis": (X, 0, 1), "np.expand_dims": (X, 0),
    "np.rollaxis": (X, 1), "np.einsum": ("ij->ji", X), "np.diag": (SQUARE,),
    "np.split": (X, 3, 1), "np.array_split": (X, 3, 1), "np.hsplit": (X, 3),
    "np.vsplit": (X, 2), "np.dsplit": (X.reshape(1, 2, 3), 3),
    "np.nan_to_num": (X,), "np.diagonal": (SQUARE,), "ndarray.diagonal": (SQUARE,),
    "np.linalg.matrix_power": (SQUARE, 1), "np.diff": (X, 0),
    "np.imag": (X + 1j,), "ndarray.imag": (X + 1j,),  # (a view of a complex array's memory)
    "np.meshgrid": (X[0], X[1]), "np.sliding_window_view": (X, (2, 2)),
    "sourcediff.runtime.cross_cotangent": (X, X, X, 0),
    "sourcediff.runtime.cross_cotangent_adjoint": (X, X, X, 0),
}
VIEW_KEYWORDS = {"np.nan_to_num": {"copy": False}, "np.meshgrid": {"copy": False}}


def test_view_primitives_can_share_memory_with_their_operand():
    checked = []
    for r in _records():
        if r.view is not True:
            continue
        args = VIEW_CALLS.get(r.name, (X,))
        result = _call(r.key, *args, **VIEW_KEYWORDS.get(r.name, {}))
        operand = next(a for a in args if isinstance(a, np.ndarray))
        assert any(np.shares_memory(a, operand) for a in _arrays(result)), r.name
        checked.append(r.name)
    assert len(checked) >= 30


# primitives whose result is fresh but that need arguments of their own to be called
FRESH_CALLS = {
    "np.full": ((2, 3), 1.5), "np.full_like": (X, 2.0), "np.where": (X > 2, X, 0.0),
    "np.clip": (X, 1.0, 3.0), "ndarray.clip": (X, 1.0, 3.0), "np.tile": (X, 2),
    "np.repeat": (X, 2), "ndarray.repeat": (X, 2), "np.roll": (X, 1), "np.pad": (X, 1),
    "np.insert": (X, 1, 0.0), "np.append": (X, X), "np.take": (X, [0, 2]),
    "np.select": ([X > 2], [X]), "np.quantile": (X, 0.5), "np.percentile": (X, 50.0),
    "np.interp": (X, [0.0, 10.0], [1.0, 2.0]), "np.polyval": ([1.0, 2.0], X),
    "np.convolve": (X[0], X[1]), "np.correlate": (X[0], X[1]), "np.kron": (X, X),
    "np.cross": (X, X), "np.outer": (X, X), "np.inner": (X, X), "np.tensordot": (X, X.T, 1),
    "np.dot": (X, X.T), "ndarray.dot": (X, X.T), "np.vdot": (X, X),
    "np.linalg.solve": (SQUARE, SQUARE), "np.linalg.lstsq": (SQUARE, SQUARE),
    "np.linalg.multi_dot": ([SQUARE, SQUARE],),
    "np.partition": (X, 1), "np.ravel_multi_index": (([0, 1], [1, 2]), (2, 3)),
    "np.unravel_index": ([1, 4], (2, 3)), "np.searchsorted": (X[0], 2.0),
    "np.digitize": (X, [2.0, 4.0]), "np.isclose": (X, X), "np.allclose": (X, X),
    "np.array_equal": (X, X), "np.broadcast_shapes": ((2, 1), (1, 3)),
    "np.result_type": (X, X), "np.tri": (3,), "np.indices": ((2, 3),), "np.eye": (3,),
    "np.identity": (3,), "np.zeros": ((2, 3),), "np.ones": ((2, 3),), "np.empty": ((2, 3),),
    "np.arange": (3.0,), "np.linspace": (0.0, 1.0, 5), "np.logspace": (0.0, 1.0, 5),
    "np.geomspace": (1.0, 10.0, 5), "np.ndarray.astype": (X, np.float32),
    "ndarray.astype": (X, np.float32), "np.gradient": (X[0],), "np.average": (X,),
}


def test_fresh_primitives_never_share_memory_with_their_arguments():
    checked = []
    for r in _records():
        if r.view is not False or not _is_numpy(r) or isinstance(r.key, np.ufunc):
            continue
        args = FRESH_CALLS.get(r.name)
        if args is None:
            args = (SQUARE,) if r.name.startswith("np.linalg.") else (X,)
        try:
            result = _call(r.key, *args)
        except Exception:  # noqa: BLE001  (the primitive wants other arguments: not checked here)
            continue
        inputs = [a for a in args if isinstance(a, np.ndarray)]
        for a in _arrays(result):
            assert not any(np.shares_memory(a, b) for b in inputs), r.name
        checked.append(r.name)
    assert len(checked) >= 100, checked


def test_full_reductions_give_a_scalar_without_an_axis():
    reductions = [r for r in _records() if r.full_reduction]
    assert {r.name for r in reductions} >= {"np.sum", "ndarray.mean", "np.vdot", "np.amax"}
    for r in reductions:
        args = (X, X) if r.name == "np.vdot" else (X,)
        assert np.ndim(_call(r.key, *args)) == 0, r.name


def test_rowwise_primitives_treat_each_row_on_its_own():
    for r in _records():
        if r.rowwise in ("sum", "mean", "max", "min"):
            whole = _call(r.key, X, axis=-1)
            rows = [_call(r.key, X[i:i + 1], axis=-1) for i in range(len(X))]
            assert np.allclose(whole, np.concatenate(rows)), r.name
            assert r.rowwise in r.name, r.name  # (np.amax computes a max)
        elif r.rowwise == "elementwise" and not isinstance(r.key, np.ufunc):
            args = FRESH_CALLS[r.name]
            whole = r.key(*args)
            for i in range(len(X)):
                part = r.key(*[a[i:i + 1] if np.ndim(a) == 2 else a for a in args])
                assert np.allclose(whole[i:i + 1], part), r.name
        elif r.rowwise == "row":
            assert getattr(r.key, "__module__", "") == "sourcediff.runtime", r.name


WRITE_CALLS = {
    "np.copyto": lambda a: np.copyto(a, 9.0), "np.put": lambda a: np.put(a, [0], [9.0]),
    "np.place": lambda a: np.place(a, a > 3, [9.0]),
    "np.putmask": lambda a: np.putmask(a, a > 3, 9.0),
    "np.fill_diagonal": lambda a: np.fill_diagonal(a, 9.0),
    "np.put_along_axis": lambda a: np.put_along_axis(a, np.array([[0], [1]]), 9.0, axis=1),
}


def test_writing_primitives_change_the_argument_they_name():
    writers = [r for r in _records() + [registry.facts(k) for k in (
        np.copyto, np.put, np.place, np.putmask, np.fill_diagonal, np.put_along_axis)]
        if r.writes is not None]
    names = {r.name for r in writers}
    assert names >= set(WRITE_CALLS)
    for name, write in WRITE_CALLS.items():
        a = X.copy()
        write(a)
        assert not np.array_equal(a, X), name


def test_helpers_that_pass_the_symbolic_zero_on_are_runtime_helpers():
    passing = [r for r in _records() if r.passes_zero]
    assert len(passing) >= 20
    assert all(getattr(r.key, "__module__", "") == "sourcediff.runtime" for r in passing)


# ---------------------------------------------------------------- per-argument differentiability


def test_differentiable_arguments_agree_with_what_each_rule_returns():
    checked = 0
    for r in registry.all_rules():
        q = quote.quoted(r.vjp)
        for pos in range(len(q.params) + 1):
            assert r.differentiable(pos) == q.differentiable(pos), (r.name, pos)
        checked += 1
    assert checked > 300


def test_nondiff_arguments_are_named():
    assert registry.facts(np.full).nondiff_args() == ("shape",)
    assert registry.facts(np.full).differentiable(1)
    argmax = registry.facts(np.argmax)
    assert argmax.reason and not argmax.differentiable(0)


def test_a_declared_nondiff_argument_is_not_differentiated():
    def scale(x, n):
        return x * n

    @registry.defvjp(scale, kind="custom", nondiff=("n",))
    def scale_vjp(g, ans, x, n):
        return (g * n, g * x)  # (the second is never asked for: n is declared without one)

    try:
        rule = registry.lookup(scale)
        assert rule.nondiff_args() == ("n",)
        assert rule.differentiable(0) and not rule.differentiable(1)
    finally:
        registry._rules.pop(scale, None)
        registry._declared.pop(scale, None)


# ---------------------------------------------------------------- the method table


def test_one_table_of_methods_answers_every_stage():
    for name in ("append", "sort", "fill", "partition", "pop", "reverse", "__setitem__"):
        assert writes_in_place(name) and may_write(name), name
    assert writes_in_place("__iadd__") and writes_in_place("__imatmul__")
    assert not writes_in_place("at") and may_write("at")  # (np.add.at writes its argument)
    assert METHODS["at"].writes == 0
    assert not writes_in_place("setflags") and not may_write("setflags")  # (flags, no values)
    assert may_write("copyto") and may_write("fill_diagonal")  # (functions' writes facts)
    assert not may_write("copy") and not may_write("sum")
    assert "append" in CONTAINER_ONLY_METHODS and "sort" not in CONTAINER_ONLY_METHODS


# ---------------------------------------------------------------- consumers read the registry


def _own_copy(x):
    return x + 0.0


def _copy_and_write(x):
    y = _own_copy(x)
    y[0] = 5.0
    return np.sum(x * y)


def test_the_alias_checks_read_the_view_fact():
    @registry.defvjp(_own_copy, kind="linear")
    def own_copy_vjp(g, ans, x):
        return (g,)

    x = np.array([1.0, 2.0, 3.0])
    try:
        # nobody said: the result may share x's memory, so the write into it is checked
        assert "check_alias" in sd.source(sd.grad(_copy_and_write), x)
        registry.deffacts(_own_copy, view=False)  # a fresh result: nothing to check
        assert "check_alias" not in sd.source(sd.grad(_copy_and_write), x)
        assert np.allclose(sd.grad(_copy_and_write)(x), [5.0, 4.0, 6.0])
    finally:
        registry._rules.pop(_own_copy, None)
        registry._declared.pop(_own_copy, None)
        sd.clear_cache()


def _total(x):
    return float(np.sum(x))


def _loss_of_total(x):
    return _total(x * x)


def test_the_output_check_reads_the_full_reduction_fact():
    @registry.defvjp(_total, kind="linear")
    def total_vjp(g, ans, x):
        return (_sd_like(g, x),)

    x = np.array([1.0, 2.0, 3.0])
    try:
        before = sd.source(sd.grad(_loss_of_total), x)
        registry.deffacts(_total, full_reduction=True)
        after = sd.source(sd.grad(_loss_of_total), x)
        assert before != after and len(after) < len(before)
        assert np.allclose(sd.grad(_loss_of_total)(x), 2 * x)
    finally:
        registry._rules.pop(_total, None)
        registry._declared.pop(_total, None)
        sd.clear_cache()


def _sd_like(g, x):
    return g * np.ones_like(x)


def test_math_and_builtin_facts():
    assert registry.facts(max).view is None  # (it returns one of its arguments)
    assert registry.facts(math.exp).view is False
    assert registry.facts(runtime.map_list).calls_back
    assert registry.facts(runtime.check_wrt).reads_dicts


def test_primitives_the_specializer_evaluates_give_their_shapes_on_stand_ins():
    """``shapes="evaluate"``: the specializer calls the primitive on stand-ins of its arguments
    (zeros, or identities for square matrices where zeros raise) to learn its result's type,
    shape and dtype; ``shapes="float"``: the result is a Python float. For every rule case of
    such a primitive, the fact the specializer works out is the fact of the real result."""
    pytest.importorskip("scipy")  # (some of the primitives that declare it are scipy's)
    from sourcediff.specialize.facts import (
        PYFLOAT,
        TOP,
        FloatOr,
        Known,
        _fact_of_result,
        fact_of_signature,
    )
    from sourcediff.specialize.inference import _evaluate1
    from tests.rule_cases import CASES, NONDIFF_CASES, SCIPY_CASES

    declared = {id(r.key): r.shapes for r in _records() if r.shapes is not None}
    declared.update({id(k): registry.facts(k).shapes for k in (math.exp, math.log, abs)})
    seen, known = set(), set()
    cases = [(p, a, kw, label) for p, a, kw, _, label in CASES + SCIPY_CASES] + NONDIFF_CASES + [
        (runtime.clip_bounds, (0.0, 1.0), {}, "clip_bounds")]  # (the bounds: neither kind)
    for prim, args, kwargs, label in cases:
        shapes = declared.get(id(prim))
        if shapes is None:
            continue
        seen.add(id(prim))
        real = _fact_of_result(prim(*args, **kwargs))
        if shapes == "float":
            assert real is PYFLOAT, label
            continue
        exact = registry.facts(prim).shape_args  # (arguments whose values decide the shape)

        def fact(key, value):
            if exact == "all" or (exact is not None and key in exact):
                return Known(value)
            return fact_of_signature(value) if isinstance(value, (np.ndarray, float)) else \
                Known(value)

        facts = [fact(k, a) for k, a in enumerate(args)]
        kw = {k: fact(k, v) for k, v in kwargs.items()}
        got = _evaluate1(prim, facts, kw, [])
        if type(got) is FloatOr:  # (a helper that passes the symbolic zero 0.0 on: sound)
            got = got.arr
        assert got is TOP or got == real, label  # (unknown is sound; a wrong fact is not)
        if got == real:
            known.add(id(prim))
    assert seen == set(declared)  # (every such primitive has a case)
    assert known == {k for k, v in declared.items() if v == "evaluate"}  # (and is learned)
