"""The rule table checked on its own (no compiler): vjp and jvp against central finite differences,
the rule-body restrictions the compiler relies on, coverage of every key, and PyTorch's conventions."""

import ast
import inspect
import math
import operator
import textwrap
import zlib

import numpy as np
import pytest

import sourcediff as sd  # (also registers the built-in rules)
from sourcediff.rules import registry
from sourcediff.runtime import broadcast_tangent, unbroadcast
from sourcediff.rules.quote import sliced_rule as _sliced_vjp

try:
    from .rule_cases import CASES, NONDIFF_CASES, SCIPY_CASES
except ImportError:  # tests/ collected without being a package
    from rule_cases import CASES, NONDIFF_CASES, SCIPY_CASES

CASES = CASES + SCIPY_CASES  # (SCIPY_CASES is empty without scipy)
RULE_MODULES = ("sourcediff.rules.numpy_rules", "sourcediff.rules.numpy_more_rules",
                "sourcediff.rules.scipy_rules")

EPS = 1e-6
RTOL = 1e-6
ATOL = 1e-6
ALLOWED_GLOBALS = {"np", "_sd", "math", "builtins", "operator", "numbers"}


# ---------------------------------------------------------------- helpers


def call(prim, args, kwargs):
    """Apply a primitive; attribute descriptors such as ``ndarray.T`` are read from ``args[0]``."""
    if prim is np.r_ or prim is np.c_:  # np.r_[a, b], np.c_[a, b]
        return prim[tuple(args)]
    if not callable(prim):
        return prim.__get__(args[0])
    return prim(*args, **kwargs)


def flatten(x):
    """``x`` (array, number, or list/tuple/dict of them) as a float vector, and the inverse map
    (a string, a dict key in a pair, has no entries)."""
    if isinstance(x, str):
        return np.zeros(0), lambda v: x
    if isinstance(x, dict):
        vec, un = flatten(list(x.values()))
        return vec, lambda v: dict(zip(x, un(v)))
    if isinstance(x, (list, tuple)):
        parts = [flatten(item) for item in x]
        sizes = np.cumsum([0] + [vec.size for vec, _ in parts])

        def unflatten(v):
            items = [un(v[sizes[i] : sizes[i + 1]]) for i, (_, un) in enumerate(parts)]
            return type(x)._make(items) if hasattr(type(x), "_make") else type(x)(items)

        return np.concatenate([vec for vec, _ in parts]), unflatten
    if isinstance(x, float):
        return np.array([float(x)]), lambda v: type(x)(v[0])
    a = np.asarray(x)
    return a.astype(float).ravel(), lambda v: np.reshape(v, a.shape).astype(a.dtype)


def flatten_like(contrib, x):
    """A gradient contribution for ``x`` as a float vector; only the scalar 0.0 may stand for zeros
    (and a missing entry of a dict's gradient)."""
    if isinstance(x, str):
        return np.zeros(0)
    if isinstance(x, dict):
        if isinstance(contrib, (int, float)) and contrib == 0:
            contrib = {}
        assert isinstance(contrib, dict), (contrib, x)
        return np.concatenate([flatten_like(contrib.get(k, 0.0), v) for k, v in x.items()])
    if isinstance(contrib, (int, float)) and contrib == 0 and isinstance(x, (list, tuple)):
        contrib = [0.0] * len(x)
    if isinstance(x, (list, tuple)):
        assert isinstance(contrib, (list, tuple)) and len(contrib) == len(x), (contrib, x)
        return np.concatenate([flatten_like(c, item) for c, item in zip(contrib, x)])
    assert contrib is not None, "a differentiable argument got the contribution None"
    c = np.asarray(np.real(contrib), dtype=float)
    if c.shape != np.shape(x):
        assert c.shape == () and c == 0.0, f"contribution shape {c.shape} != argument {np.shape(x)}"
        c = np.broadcast_to(c, np.shape(x))
    return c.ravel()


def random_like(out, rng):
    """A random cotangent (or tangent) shaped like ``out``; lists of 3+ get a None entry (and a
    string, a dict's key, gets None)."""
    if isinstance(out, str):
        return None
    if isinstance(out, dict):
        return {k: random_like(v, rng) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        items = [random_like(o, rng) for o in out]
        if isinstance(out, list) and len(out) >= 3:
            items[1] = None
        return type(out)(items) if isinstance(out, list) else tuple(items)
    a = np.asarray(out)
    return rng.standard_normal(a.shape) if a.shape else float(rng.standard_normal())


def pairing(out, cot):
    """The scalar <out, cot>, skipping None entries of a tuple/list cotangent."""
    if isinstance(out, dict):
        return sum(pairing(v, cot[k]) for k, v in out.items() if cot.get(k) is not None)
    if isinstance(out, (list, tuple)):
        return sum(pairing(o, c) for o, c in zip(out, cot) if c is not None)
    return float(np.sum(np.asarray(out, dtype=float) * cot))


def central_difference(up, down):
    """(up - down) / (2 EPS) over matching trees (lists, tuples, dicts; strings kept)."""
    if isinstance(up, dict):
        return {k: central_difference(up[k], down[k]) for k in up}
    if isinstance(up, (list, tuple)):
        return [central_difference(u, d) for u, d in zip(up, down)]
    if isinstance(up, str):
        return up
    return (np.asarray(up, float) - np.asarray(down, float)) / (2 * EPS)


def combine(total, part):
    """Add a tangent contribution to a running total (tuples/lists elementwise, None is zero)."""
    if part is None:
        return total
    if total is None:
        return part
    if isinstance(part, dict):
        return {k: combine(total.get(k), part.get(k)) for k in set(total) | set(part)}
    if isinstance(part, (list, tuple)):
        return [combine(t, p) for t, p in zip(total, part)]
    return total + part


def as_float_tree(x):
    """Arrays/numbers/lists of them as float arrays (lists stay lists), for comparisons."""
    if isinstance(x, (list, tuple)):
        return [as_float_tree(item) for item in x]
    return np.asarray(x, dtype=float)


def assert_close_tree(actual, expected, what):
    """assert_allclose over matching nested lists (and dicts), None in ``actual`` meaning zero."""
    if isinstance(expected, dict):
        actual = {} if actual is None or (isinstance(actual, float) and actual == 0) else actual
        for k, e in expected.items():
            assert_close_tree(actual.get(k), e, what)
        return
    if isinstance(expected, str):
        return
    if isinstance(expected, list):
        assert isinstance(actual, (list, tuple)) and len(actual) == len(expected), what
        for a, e in zip(actual, expected):
            assert_close_tree(a, e, what)
        return
    actual = np.zeros_like(expected) if actual is None else np.asarray(actual, dtype=float)
    np.testing.assert_allclose(
        np.broadcast_to(actual, expected.shape) if actual.shape == () else actual,
        expected, rtol=RTOL, atol=ATOL, err_msg=what,
    )
    assert actual.shape in (expected.shape, ()), f"{what}: shape {actual.shape} != {expected.shape}"


def jvp_contribution(rule, prim, args, kwargs, ans, i, t):
    """Tangent of the output due to tangent ``t`` of argument ``i``, derived from the rule's kind."""
    if rule.kind == "elementwise":
        part = rule.vjp(t, ans, *args, **kwargs)[i]
        return broadcast_tangent(part, ans) if rule.broadcast else part
    if rule.kind == "linear":
        return call(prim, args[:i] + (t,) + args[i + 1 :], kwargs)
    assert rule.jvp is not None, f"custom rule {rule.name} has no jvp"
    # only the entry asked for, as source-mode forward inlines it (the other entries of a jvp tuple
    # may assume a tangent shaped like their own argument)
    part = _sliced_vjp(rule.jvp, (i,))(t, ans, *args, **kwargs)[i]
    return broadcast_tangent(part, ans) if rule.broadcast else part


# ---------------------------------------------------------------- finite-difference checks


@pytest.mark.parametrize("prim,args,kwargs,argnums,cid", CASES, ids=[c[4] for c in CASES])
def test_vjp_matches_finite_differences(prim, args, kwargs, argnums, cid):
    rule = registry.lookup(prim)
    assert rule is not None, f"no rule for {cid}"
    rng = np.random.default_rng(zlib.crc32(cid.encode()))
    with np.errstate(all="ignore"):
        ans = call(prim, args, kwargs)
    g = random_like(ans, rng)
    contribs = rule.vjp(g, ans, *args, **kwargs)
    assert isinstance(contribs, tuple), f"{rule.name} vjp must return a tuple"
    for i in argnums:
        contrib = contribs[i]
        if rule.broadcast:
            contrib = unbroadcast(contrib, args[i])
        analytic = flatten_like(contrib, args[i])
        vec, unflatten = flatten(args[i])
        numeric = np.zeros_like(vec)
        for k in range(vec.size):
            step = np.zeros_like(vec)
            step[k] = EPS
            up = call(prim, args[:i] + (unflatten(vec + step),) + args[i + 1 :], kwargs)
            down = call(prim, args[:i] + (unflatten(vec - step),) + args[i + 1 :], kwargs)
            numeric[k] = (pairing(up, g) - pairing(down, g)) / (2 * EPS)
        np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=ATOL,
                                   err_msg=f"vjp of {rule.name}, argument {i}")


@pytest.mark.parametrize("prim,args,kwargs,argnums,cid", CASES, ids=[c[4] for c in CASES])
def test_jvp_matches_finite_differences(prim, args, kwargs, argnums, cid):
    rule = registry.lookup(prim)
    rng = np.random.default_rng(zlib.crc32((cid + "jvp").encode()))
    with np.errstate(all="ignore"):
        ans = call(prim, args, kwargs)
    plus, minus, total = list(args), list(args), None
    for i in argnums:
        vec, unflatten = flatten(args[i])
        direction = rng.standard_normal(vec.size)
        t = unflatten(direction)
        plus[i], minus[i] = unflatten(vec + EPS * direction), unflatten(vec - EPS * direction)
        total = combine(total, jvp_contribution(rule, prim, args, kwargs, ans, i, t))
    up, down = call(prim, tuple(plus), kwargs), call(prim, tuple(minus), kwargs)
    numeric = central_difference(up, down)
    assert_close_tree(total, numeric, f"jvp of {rule.name} ({rule.kind})")


# ---------------------------------------------------------------- the table's shape


def test_registry_size():
    rules = registry.all_rules()
    assert len(rules) >= 110
    assert len({r.vjp for r in rules}) >= 100


def _rule_functions():
    seen = {}
    for rule in registry.all_rules():
        for fn in (rule.vjp, rule.jvp):
            if fn is not None and fn.__module__ in RULE_MODULES:
                seen[fn] = rule.name
    return list(seen.items())


@pytest.mark.parametrize("fn,name", _rule_functions(), ids=lambda v: getattr(v, "__name__", ""))
def test_rule_body_is_inlinable(fn, name):
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    (func,) = tree.body
    assert isinstance(func, ast.FunctionDef)
    a = func.args
    params = {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs}
    params |= {p.arg for p in (a.vararg, a.kwarg) if p is not None}
    assert len(a.posonlyargs + a.args) >= 2, f"{fn.__name__} needs (g, ans, ...)"
    body = ast.Module(body=func.body, type_ignores=[])
    stored = {n.id for n in ast.walk(body) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    for node in ast.walk(body):
        assert not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
                                     ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
                                     ast.If, ast.For, ast.While, ast.Try, ast.Global,
                                     ast.Nonlocal)), f"{fn.__name__}: {type(node).__name__} in body"
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            assert node.id in params | stored | ALLOWED_GLOBALS, f"{fn.__name__} uses {node.id}"
    assert isinstance(func.body[-1], ast.Return), f"{fn.__name__} must end with return"
    assert len(func.body) <= 4, f"{fn.__name__}: keep rule bodies short"


def test_every_case_names_a_rule():
    for prim, _, _, _, cid in CASES:
        assert registry.lookup(prim) is not None, cid


def test_every_rule_has_a_case():
    # by rule: a bound method (scipy.stats.norm.logpdf) is a new object on every attribute access
    covered = {id(registry.lookup(prim)) for prim, *_ in CASES}
    # (random draws: a case here would draw anew on each call of the finite differences; they are
    # checked with a seed inside the function in tests/test_review30.py)
    builtin = [r for r in registry.all_rules()  # not rules that other tests register for themselves
               if not (getattr(r.key, "__module__", "") or "").startswith("tests")
               and getattr(r.key, "__self__", None) is not np.random.mtrand._rand]
    missing = [r.name for r in builtin if id(r) not in covered]
    assert not missing, f"rules without a test case: {missing}"


def test_kinds_and_jvps():
    for rule in registry.all_rules():
        if (getattr(rule.key, "__module__", "") or "").startswith("tests"):
            continue  # (rules other tests register: a user's custom_vjp may lack a jvp)
        assert rule.kind in ("elementwise", "linear", "custom")
        if rule.kind == "custom":
            assert rule.jvp is not None, f"{rule.name} is custom and needs a jvp"


# ---------------------------------------------------------------- declarations of no derivative
# A declaration that a result (or one argument) carries no derivative is checked like a rule: move
# any float argument a little and the result must not move. np.full, np.linspace and np.heaviside
# were once declared non-differentiable as a whole; these tests fail on such a declaration.

# sd.stop_gradient cuts the derivative on purpose; clip_bounds returns np.clip's bounds, which its
# rule only compares against (masks)
_CUT_ON_PURPOSE = {sd.stop_gradient, sd.runtime.clip_bounds, sd.runtime.check_wrt}


# float parameters that select a variant rather than enter the value (np.linalg.norm's ord=inf),
# and a helper's ``ans``, the result being differentiated, compared against for ties
_NONE_BY_DESIGN = {"ord", "ans"}


def _call_any(prim, args, kwargs):
    if hasattr(prim, "__get__") and not callable(prim):  # an ndarray attribute (x.shape)
        return prim.__get__(args[0])
    return prim(*args, **kwargs)


def _float_positions(args):
    return [i for i, a in enumerate(args)
            if isinstance(a, float) or getattr(getattr(a, "dtype", None), "kind", None) == "f"]


def _assert_unmoved(prim, args, kwargs, positions, what):
    base = _call_any(prim, args, kwargs)
    if prim in (np.empty, np.empty_like):  # (uninitialized values: only the shape is defined)
        prim, kwargs = (lambda *a, **k: np.shape(np.empty_like(*a, **k))), {}
        base = prim(*args)
    for i in positions:
        vec, unflatten = flatten(args[i])
        for k in range(vec.size):
            for step in (1e-7, -1e-7):
                moved = vec.copy()
                moved[k] += step * max(1.0, abs(moved[k]))
                new_args = args[:i] + (unflatten(moved),) + args[i + 1:]
                out = _call_any(prim, new_args, kwargs)
                assert _same(out, base), f"{what}: argument {i} moves the result, so it carries a " \
                                         f"derivative; give it a rule"


def _same(a, b):
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))
    except TypeError:
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def test_every_declaration_of_no_derivative_has_a_reason_and_a_case():
    covered = {id(prim) for prim, *_ in NONDIFF_CASES}
    declared = registry.all_nondiff()
    missing = []
    for key, reason in declared.items():
        assert isinstance(reason, str) and len(reason) > 10, f"{key}: no reason given"
        if (getattr(key, "__module__", "") or "").startswith("tests") or key in _CUT_ON_PURPOSE:
            continue
        if key not in (sd.runtime.normalize_axes, sd.runtime.is_basic_index,
                       sd.runtime.dot_subscripts, sd.runtime.tensordot_subscripts,
                       sd.runtime.inner_subscripts, sd.runtime.inverse_axes,
                       sd.runtime.hstack_axis, sd.runtime.einsum_parse) and id(key) not in covered:
            missing.append(registry._key_name(key))  # (helpers above take no float argument)
    assert not missing, f"declared without a case in rule_cases.NONDIFF_CASES: {missing}"


@pytest.mark.parametrize("prim,args,kwargs,cid", NONDIFF_CASES, ids=[c[3] for c in NONDIFF_CASES])
def test_declared_non_differentiable_result_does_not_move(prim, args, kwargs, cid):
    assert registry.nondiff_reason(prim), f"{cid} is not declared non-differentiable"
    _assert_unmoved(prim, args, kwargs, _float_positions(args), cid)


def _none_positions(prim, args, cid):
    from sourcediff.rules import quote

    q = quote.quoted(registry.lookup(prim).vjp)
    return [i for i in _float_positions(args) if not q.differentiable(i)
            and q.params[2 + i] not in _NONE_BY_DESIGN and not cid.startswith("heaviside_at_zero")]


_NONE_CASES = [(prim, args, kwargs, _none_positions(prim, args, cid), cid)
               for prim, args, kwargs, _, cid in CASES if _none_positions(prim, args, cid)]


@pytest.mark.parametrize("prim,args,kwargs,positions,cid", _NONE_CASES,
                         ids=[c[4] for c in _NONE_CASES])
def test_argument_a_rule_gives_none_does_not_move_the_result(prim, args, kwargs, positions, cid):
    with np.errstate(all="ignore"):
        _assert_unmoved(prim, args, kwargs, positions, cid)


def _public_numpy_callables():
    out = {}
    for space, prefix in ((np, "np."), (np.linalg, "np.linalg.")):
        for name in sorted(dir(space)):
            if name.startswith("_"):
                continue
            obj = getattr(space, name, None)
            if callable(obj) and not isinstance(obj, type):
                out[prefix + name] = obj
    for name in sorted(dir(np.ndarray)):
        if not name.startswith("_"):
            out["ndarray." + name] = getattr(np.ndarray, name)
    return out


def test_numpy_namespace_every_callable_has_a_rule_a_declaration_or_is_refused():
    """Every public numpy function, linalg function and ndarray method or attribute is handled in
    one of three ways: a rule (per argument), a declaration that no argument carries a derivative,
    or a refusal by name when it meets a float that carries one. None is transformed as if it
    were the user's code, and none gives a silent zero."""
    from sourcediff.compiler.resolve import Resolver

    kinds = {}
    for label, obj in _public_numpy_callables().items():
        op = Resolver.primitive(None, obj, [], {}, name=label)
        kinds[label] = op.kind
        # (or differentiated as the runtime's numpy code for it: registry.defwritten, review36)
        assert op.kind in ("rule", "nondiff", "unknown") or (
            op.kind == "user" and registry.written_as(obj) is op.key), \
            f"{label} resolves as {op.kind}"
    assert sum(k == "rule" for k in kinds.values()) >= 150
    assert kinds["np.full"] == kinds["np.linspace"] == kinds["np.heaviside"] == "rule"
    assert kinds["np.unwrap"] == "unknown"


def test_a_numpy_function_without_a_rule_is_refused_by_name(tmp_path):
    import importlib.util

    path = tmp_path / "user_unwrap.py"
    path.write_text("import numpy as np\n\n\ndef f(x):\n    return np.sum(np.unwrap(x) * 2.0)\n")
    spec = importlib.util.spec_from_file_location("user_unwrap", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(sd.NoRuleError, match=r"user_unwrap.py:5.*np.unwrap"):
        sd.grad(module.f)(np.array([0.1, 0.2, 0.4]))


def test_nondiff_set():
    for key in (np.argmax, np.sign, np.floor, np.shape, np.zeros_like, operator.lt, np.isnan,
                np.ndarray.shape, math.floor):
        assert registry.is_nondiff(key) and registry.lookup(key) is None


# ---------------------------------------------------------------- conventions at singular points


def _vjp(prim, *args, g=1.0, **kwargs):
    ans = prim(*args, **kwargs)
    return registry.lookup(prim).vjp(g, ans, *args, **kwargs)


def test_convention_maximum_tie_splits_evenly():
    x, y, g = np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0]), np.array([1.0, 4.0, 1.0])
    for prim in (np.maximum, np.minimum, np.fmax, np.fmin):
        gx, gy = _vjp(prim, x, y, g=g)
        assert gx[1] == gy[1] and gx[1] + gy[1] == g[1]


def test_convention_max_reduction_ties_split_evenly():
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    for prim in (np.max, np.amax, np.ndarray.max):
        (ga,) = _vjp(prim, a, g=6.0)
        assert ga[0, 1] == ga[0, 2] and ga.sum() == 6.0
        (ga,) = _vjp(prim, a, axis=1, g=np.array([2.0, 4.0]))
        assert ga[0, 1] == ga[0, 2] == 1.0 and ga[1, 0] == ga[1, 1] == 2.0


def test_conventions_match_pytorch():
    torch = pytest.importorskip("torch")

    def torch_grad(fn, *values):
        ts = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
        fn(*ts).sum().backward()
        return [t.grad.numpy() for t in ts]

    x = np.array([-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(_vjp(np.abs, x, g=np.ones(3))[0], torch_grad(torch.abs, x)[0])
    np.testing.assert_array_equal(_vjp(np.maximum, x, 0.0, g=np.ones(3))[0] * 2,
                                  torch_grad(lambda t: torch.maximum(t, torch.zeros(3)), x)[0] * 2)
    c = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(_vjp(np.clip, c, -1.0, 1.0, g=np.ones(5))[0],
                                  torch_grad(lambda t: t.clamp(-1, 1), c)[0])
    np.testing.assert_array_equal(_vjp(np.clip, x, 0.0, None, g=np.ones(3))[0],
                                  torch_grad(lambda t: t.clamp(min=0), x)[0])
    s = np.array([0.0, 1.0, 4.0])
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(_vjp(np.sqrt, s, g=np.ones(3))[0], torch_grad(torch.sqrt, s)[0])
        p = np.array([0.0, 3.0])
        for e in (0.0, 2.0, 0.5):
            np.testing.assert_allclose(_vjp(np.power, p, e, g=np.ones(2))[0],
                                       torch_grad(lambda t, e=e: t**e, p)[0], rtol=1e-12)
    t3 = np.array([1.0, 3.0, 3.0])
    np.testing.assert_array_equal(_vjp(np.max, t3)[0], torch_grad(torch.amax, t3)[0])
    np.testing.assert_array_equal(_vjp(np.min, t3[::-1] * -1)[0],
                                  torch_grad(torch.amin, t3[::-1] * -1)[0])
    z = np.array([0.0, 2.0, 3.0])
    np.testing.assert_allclose(_vjp(np.prod, z)[0], torch_grad(torch.prod, z)[0])
    np.testing.assert_array_equal(_vjp(np.linalg.norm, np.zeros(2))[0],
                                  torch_grad(torch.linalg.norm, np.zeros(2))[0])
    v = np.array([1.0, 2.0])
    np.testing.assert_allclose(_vjp(np.std, v, ddof=1)[0],
                               torch_grad(lambda t: t.std(), v)[0], rtol=1e-12)
    w = np.array([-0.5, 0.0, 0.5])
    np.testing.assert_allclose(_vjp(np.sinc, w, g=np.ones(3))[0], torch_grad(torch.sinc, w)[0],
                               rtol=1e-12, atol=1e-15)
    o = (np.array([0.0, 1.0]), np.array([0.0, 2.0]))  # (arctan2 at the origin: 0, not nan)
    for got, want in zip(_vjp(np.arctan2, *o, g=np.ones(2)), torch_grad(torch.atan2, *o)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_astype_gradient_has_input_dtype():
    a = np.arange(3.0, dtype=np.float32)
    ans = a.astype(np.float64)
    (ga,) = registry.lookup(np.ndarray.astype).vjp(np.ones(3), ans, a, np.float64)
    assert ga.dtype == np.float32


def test_getitem_list_gradient_is_a_list_with_float_zeros():
    (ga, gi) = registry.lookup(operator.getitem).vjp(2.0, 1.5, [0.5, 1.5, 2.5], 1)
    assert ga == [0.0, 2.0, 0.0] and gi is None and isinstance(ga[0], float)


def test_math_rules_keep_python_scalars_scalar():
    for prim, x in ((math.sin, 0.3), (math.exp, 0.3), (math.log, 2.0), (math.sqrt, 2.0)):
        (gx,) = _vjp(prim, x)[:1]
        assert np.ndim(gx) == 0 and math.isfinite(float(gx))


# options of numpy functions that the rules deliberately leave out, so a call using them fails loudly
# instead of getting a wrong gradient
UNSUPPORTED_OPTIONS = {"initial", "where", "mean", "correction", "prepend", "append", "axisa",
                       "axisb", "axisc", "axis", "ndmax", "like", "newshape",
                       # ufunc options (out= writes in place; the rest change dtype/casting)
                       "out", "casting", "order", "dtype", "subok", "signature", "axes", "keepdims",
                       # np.sort(..., descending=True) of the newest numpy: refused at the call
                       "descending",
                       # numpy 1's deprecated spelling of quantile's method=
                       "interpolation"}

# parameters the rules take that older numpy versions do not declare yet (the rule follows the newest
# numpy; on an older one the parameter is simply never passed)
NEWER_NUMPY_PARAMETERS = {"np.reshape": {"shape", "copy"}, "np.sort": {"stable"}, "np.clip": {"min", "max"},
                          "np.full": {"device"}, "np.full_like": {"device"},
                          "np.linspace": {"device"}, "np.linalg.cholesky": {"upper"},
                          "np.linalg.pinv": {"rtol"}, "np.quantile": {"weights"},
                          "np.percentile": {"weights"}, "np.nanquantile": {"weights"},
                          "np.nanpercentile": {"weights"},
                          "np.as_strided": {"check_bounds"},
                          "statistics.fmean": {"weights"}}  # (Python 3.11's)


@pytest.mark.parametrize("rule", registry.all_rules(), ids=lambda r: r.name)
def test_rule_parameters_bind_like_the_primitive(rule):
    try:
        sig = inspect.signature(rule.key)
    except (TypeError, ValueError):
        pytest.skip("primitive has no inspectable signature")
    rule_params = list(inspect.signature(rule.vjp).parameters.values())[2:]
    names = {p.name for p in rule_params}
    takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in rule_params)
    prim_params = list(sig.parameters.values())
    for p in prim_params[1:]:
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in names:
            assert takes_kwargs or p.name in UNSUPPORTED_OPTIONS, f"{rule.name} lacks '{p.name}'"
    for p in rule_params:
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p is not rule_params[0]:
            declared = {q.name for q in prim_params}
            positional_only = all(q.kind == q.POSITIONAL_ONLY for q in prim_params[:2])
            newer = p.name in NEWER_NUMPY_PARAMETERS.get(rule.name, ())
            assert p.name in declared or positional_only or takes_kwargs or newer or p.name in (
                "keepdims", "start"), f"{rule.name} has '{p.name}' the primitive does not"


def test_logaddexp_gradient_on_both_tails_without_overflow_warnings():
    """The rule's sigmoid keeps full relative precision far out and warns about nothing."""
    import warnings

    t = np.array([-800.0, -40.0, -1.5, 0.0, 2.0, 40.0, 800.0])

    def f(t):
        return np.sum(np.logaddexp(0.0, t) + np.logaddexp(t, 1.0))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = sd.grad(f)(t)
    # d/dt logaddexp(0, t) = 1 / (1 + e^-t); d/dt logaddexp(t, 1) = 1 / (1 + e^(1 - t))
    expected = np.exp(t - np.logaddexp(0.0, t)) + np.exp(t - np.logaddexp(t, 1.0))
    np.testing.assert_allclose(g, expected, rtol=1e-14, atol=0)
