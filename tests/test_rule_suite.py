"""Every case of the rule table, written as user code and run through the generated code of every
mode: reverse, forward, reverse over reverse (grad of grad) and forward over reverse (hvp), each
against central finite differences of the plain numpy function; autograd (where installed) is a
second oracle for the first derivative.

test_rules.py checks each rule's own vjp and jvp; this file checks what users run: the rule quoted
into generated source, specialized and optimized, and differentiated again. A primitive whose row in
the coverage table says "second order: no" must be refused at second order with a sourcediff error;
one whose row says "yes" must agree with finite differences. One test id per case and mode.
"""

import importlib.util
import itertools
import os
import tempfile
import zlib

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.rules import registry
from sourcediff.coverage import rows
from sourcediff.errors import NoRuleError, SourcediffError

try:
    from .rule_cases import CASES
except ImportError:  # tests/ collected without being a package
    from rule_cases import CASES

EPS = 1e-6
RTOL, ATOL = 1e-5, 1e-6
EPS2 = 1e-5  # finite differences of a gradient
RTOL2, ATOL2 = 2e-4, 2e-5

_DIR = tempfile.mkdtemp(prefix="sd_rule_suite_")
_counter = itertools.count()

# cases whose every differentiable argument is a float array or number (lists of arrays are
# covered by the rule tests and the catalogue; here the user's function takes arrays)
SUITE = [c for c in CASES if c[3] and all(
    isinstance(c[1][i], float) or getattr(getattr(c[1][i], "dtype", None), "kind", "") == "f"
    for i in c[3])]

_SECOND = {r["name"]: r["second"] for r in rows()}

# cases (by name) of primitives that have second order in general but refuse it for these options
REFUSED_AT_SECOND_ORDER = {
    "norm_nuc": "the nuclear norm's second derivative (through the SVD) is not implemented",
    "norm_spectral": "the spectral norm's second derivative (through the SVD) is not "
                         "implemented",
}


def _label(cid):
    """A case's name without its position in the table (``tile-282`` -> ``tile``)."""
    return cid.rsplit("-", 1)[0]


def _row_name(prim):
    rule = registry.lookup(prim)
    return {id(np.r_): "np.r_[...]", id(np.c_): "np.c_[...]"}.get(id(prim), rule.name)


def _call_text(prim, args, kwargs, argnums):
    """How a user spells the call: ``a0.sum(axis=_k_axis)``, ``_prim[a0, _c1]``, ``_prim(a0, _c1)``."""
    items = [f"a{i}" if i in argnums else f"_c{i}" for i in range(len(args))]
    keywords = [f"{k}=_k_{k}" for k in kwargs]
    if prim is np.r_ or prim is np.c_:
        return f"_prim[{', '.join(items)}]"
    if getattr(prim, "__objclass__", None) is np.ndarray and callable(prim):
        return f"{items[0]}.{prim.__name__}({', '.join(items[1:] + keywords)})"
    if type(prim).__name__ in ("getset_descriptor", "member_descriptor"):
        return f"{items[0]}.{prim.__name__}"
    return f"_prim({', '.join(items + keywords)})"


def _float_outputs(ans):
    """Positions of the float results in a tuple/list result (None: one result)."""
    if not isinstance(ans, (list, tuple)):
        return None
    return [k for k, o in enumerate(ans)
            if np.asarray(o).dtype.kind == "f" and not isinstance(o, (list, tuple))]


def _module(prim, args, kwargs, argnums, cid):
    """A module with ``loss(a...)``, the pairing of the call with a fixed random cotangent, and
    ``second(a...)``, the pairing of loss's generated gradient with fixed random weights."""
    rng = np.random.default_rng(zlib.crc32((cid + "suite").encode()))
    with np.errstate(all="ignore"):
        ans = prim[tuple(args)] if prim is np.r_ or prim is np.c_ else _plain(prim, args, kwargs)
    params = ", ".join(f"a{i}" for i in argnums)
    call = _call_text(prim, args, kwargs, argnums)
    scope = {"_prim": prim, "np": np}
    scope.update({f"_c{i}": a for i, a in enumerate(args) if i not in argnums})
    scope.update({f"_k_{k}": v for k, v in kwargs.items()})
    outputs = _float_outputs(ans)
    if outputs is None:
        scope["_g"] = _random(ans, rng)
        body = f"    return np.sum({call} * _g)\n"
        if np.iscomplexobj(ans):  # (a complex result, np.fft's: the real part of the pairing)
            body = f"    return np.sum(np.real({call} * _g))\n"
    else:
        if not outputs:
            return None
        terms = []
        for k in outputs:
            scope[f"_g{k}"] = _random(ans[k], rng)
            terms.append(f"np.sum(_o[{k}] * _g{k})")
        body = f"    _o = {call}\n    return {' + '.join(terms)}\n"
    for n, i in enumerate(argnums):
        scope[f"_w{n}"] = _random(args[i], rng)
    if len(argnums) == 1:
        pair = "np.sum(_d * _w0)"
    else:
        pair = " + ".join(f"np.sum(_d[{n}] * _w{n})" for n in range(len(argnums)))
    text = (f"def loss({params}):\n{body}\n\n"
            f"def second({params}):\n    _d = _dloss({params})\n    return {pair}\n")
    name = f"sd_rule_suite_{next(_counter)}"
    path = os.path.join(_DIR, name + ".py")
    with open(path, "w") as fh:
        fh.write(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(scope)
    spec.loader.exec_module(module)
    module._dloss = sd.grad(module.loss, wrt=0 if len(argnums) == 1 else tuple(range(len(argnums))))
    return module


def _plain(prim, args, kwargs):
    if type(prim).__name__ in ("getset_descriptor", "member_descriptor"):
        return getattr(args[0], prim.__name__)
    return prim(*args, **kwargs)


def _random(x, rng):
    a = np.asarray(x)
    return rng.standard_normal(a.shape) if a.shape else float(rng.standard_normal())


def _flat(xs):
    return np.concatenate([np.ravel(np.asarray(x, dtype=float)) for x in xs])


def _unflat(vec, like):
    out, at = [], 0
    for x in like:
        n = int(np.size(x))
        piece = vec[at:at + n]
        out.append(float(piece[0]) if isinstance(x, float) else piece.reshape(np.shape(x)))
        at += n
    return out


def _fd_grad(fn, xs, eps=EPS):
    vec = _flat(xs)
    out = np.zeros_like(vec)
    for k in range(vec.size):
        step = np.zeros_like(vec)
        step[k] = eps
        with np.errstate(all="ignore"):
            out[k] = (fn(*_unflat(vec + step, xs)) - fn(*_unflat(vec - step, xs))) / (2 * eps)
    return out


def _as_tuple(g, n):
    return (g,) if n == 1 else tuple(g)


def _case(cid):
    return next(c for c in SUITE if c[4] == cid)


def _setup(cid):
    prim, args, kwargs, argnums, _ = _case(cid)
    module = _module(prim, args, kwargs, argnums, cid)
    if module is None:
        pytest.skip("no float result to pair with")
    xs = [args[i] for i in argnums]
    return prim, module, xs


IDS = [c[4] for c in SUITE]


@pytest.mark.parametrize("cid", IDS)
def test_reverse(cid):
    prim, module, xs = _setup(cid)
    got = _flat(_as_tuple(module._dloss(*xs), len(xs)))
    np.testing.assert_allclose(got, _fd_grad(module.loss, xs), rtol=RTOL, atol=ATOL,
                               err_msg=f"reverse mode, {cid}")


@pytest.mark.parametrize("cid", IDS)
def test_forward(cid):
    prim, module, xs = _setup(cid)
    rng = np.random.default_rng(7)
    ts = [_random(x, rng) for x in xs]
    value, tangent = sd.jvp(module.loss, tuple(xs), tuple(ts))
    np.testing.assert_allclose(value, module.loss(*xs), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tangent, _fd_grad(module.loss, xs) @ _flat(ts), rtol=RTOL,
                               atol=ATOL, err_msg=f"forward mode, {cid}")


def _second_order(prim, cid, run):
    """``run()``'s result if the coverage table claims second order for ``prim``; otherwise it
    must be refused with a sourcediff error (None then)."""
    if _SECOND.get(_row_name(prim), False) and _label(cid) not in REFUSED_AT_SECOND_ORDER:
        return run()
    try:
        run()
    except (NoRuleError, NotImplementedError) as exc:
        assert isinstance(exc, SourcediffError), f"{type(exc).__name__} is not a sourcediff error"
        return None
    return "ran"


@pytest.mark.parametrize("cid", IDS)
def test_grad_of_grad(cid):
    prim, module, xs = _setup(cid)
    got = _second_order(prim, cid, lambda: sd.grad(module.second, wrt=_wrt(xs))(*xs))
    if got is None:
        return
    if isinstance(got, str):  # ran although the table says no: it must still be right
        got = sd.grad(module.second, wrt=_wrt(xs))(*xs)
    np.testing.assert_allclose(_flat(_as_tuple(got, len(xs))),
                               _fd_grad(module.second, xs, EPS2), rtol=RTOL2, atol=ATOL2,
                               err_msg=f"grad of grad, {cid}")


@pytest.mark.parametrize("cid", IDS)
def test_hvp(cid):
    prim, module, xs = _setup(cid)
    rng = np.random.default_rng(11)
    vs = [_random(x, rng) for x in xs]
    got = _second_order(prim, cid, lambda: sd.hvp(module.loss, list(xs), list(vs)))
    if got is None:
        return
    if isinstance(got, str):
        got = sd.hvp(module.loss, list(xs), list(vs))

    def along(*ys):
        return _flat(_as_tuple(module._dloss(*ys), len(ys)))

    vec, v = _flat(xs), _flat(vs)
    with np.errstate(all="ignore"):
        fd = (along(*_unflat(vec + EPS2 * v, xs)) - along(*_unflat(vec - EPS2 * v, xs))) / (2 * EPS2)
    got = got if isinstance(got, (list, tuple)) else [got]
    np.testing.assert_allclose(_flat(got), fd, rtol=RTOL2, atol=ATOL2,
                               err_msg=f"hvp (forward over reverse), {cid}")


def _wrt(xs):
    return 0 if len(xs) == 1 else tuple(range(len(xs)))


# ---------------------------------------------------------------- other tools as oracles

def _autograd_twin(prim):
    """autograd's function of the same name (``np.linalg.det`` -> ``autograd.numpy.linalg.det``),
    or None."""
    try:
        import autograd.numpy as anp
        import autograd.scipy.special as asp
    except ImportError:
        return None
    rule = registry.lookup(prim)
    name = rule.name
    for prefix, space in (("np.linalg.", anp.linalg), ("np.", anp), ("scipy.special.", asp)):
        if name.startswith(prefix):
            return getattr(space, name[len(prefix):], None)
    return None


_TORCH_UFUNCS = {"sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
                 "arcsinh", "arccosh", "arctanh", "exp", "exp2", "expm1", "log", "log2", "log10",
                 "log1p", "sqrt", "square", "reciprocal", "negative", "abs", "absolute", "sign",
                 "add", "subtract", "multiply", "divide", "true_divide", "power", "float_power",
                 "maximum", "minimum", "fmax", "fmin", "arctan2", "hypot", "logaddexp",
                 "logaddexp2", "copysign", "fmod", "remainder", "sinc", "deg2rad", "rad2deg",
                 "cbrt", "heaviside", "ldexp", "xlogy"}


def _torch_twin(prim, kwargs):
    """torch's function of the same name for a numpy ufunc called without keywords, or None."""
    try:
        import torch
    except ImportError:
        return None
    if kwargs or not isinstance(prim, np.ufunc) or prim.__name__ not in _TORCH_UFUNCS:
        return None
    fn = getattr(torch, prim.__name__, None)
    if fn is None:
        return None

    def twin(*args):
        ts = [a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a, dtype=float))
              for a in args]
        return fn(*ts)
    return twin


def _oracle_gradient(tool, twin, prim, args, kwargs, argnums, cid):
    """The gradient of the suite's loss computed by ``tool`` ("autograd" or "torch") through
    ``twin``, or None when that tool does not differentiate this call."""
    module = _module(prim, args, kwargs, argnums, cid)
    if module is None:
        return None, None
    outputs = _float_outputs(_plain(prim, args, kwargs))
    weights = [module.__dict__.get(f"_g{k}") for k in (outputs or [])]
    g = module.__dict__.get("_g")
    xs = [args[i] for i in argnums]

    def full(active):
        call = list(args)
        for i, a in zip(argnums, active):
            call[i] = a
        return call

    try:
        if tool == "autograd":
            import autograd

            def loss(*active):
                out = twin(*full(active), **kwargs)
                if outputs is None:
                    return autograd.numpy.sum(out * g)
                return sum(autograd.numpy.sum(out[k] * w) for k, w in zip(outputs, weights))

            got = autograd.grad(loss, tuple(range(len(xs))))(*xs)
            return module, [np.asarray(v, dtype=float) for v in got]
        import torch

        ts = [torch.tensor(np.asarray(x, dtype=float), requires_grad=True) for x in xs]
        out = twin(*full(ts))
        (out * torch.as_tensor(np.asarray(g, dtype=float))).sum().backward()
        return module, [t.grad.numpy() for t in ts]
    except (NotImplementedError, TypeError, AttributeError, ValueError, RuntimeError,
            AssertionError, KeyError, IndexError):
        return module, None  # the other tool does not take this call as written


# cases (by name) where the other tool disagrees with central finite differences (and sourcediff agrees with
# them, which test_reverse checks for the same loss): the other tool is no oracle there
ORACLE_DISAGREES = {
    ("autograd", "prod_with_zero"): "autograd divides by the product: nan at a zero",
    ("autograd", "prod_with_zero_axis"): "autograd divides by the product: nan at a zero",
    ("autograd", "norm_linf"): "autograd's inf-norm gradient is nan off the maximum",
    ("autograd", "tile_int_reps"): "autograd's np.tile gradient is wrong for an int reps on a "
                                   "2-D array",
    ("autograd", "full_broadcast_fill"): "autograd sums an array fill value to a scalar",
    ("autograd", "full_like"): "autograd gives np.full_like's fill value no gradient",
    ("autograd", "cholesky"): "autograd returns the symmetrized gradient (the input taken "
                                  "as symmetric); sourcediff's is the lower triangle's",
    ("autograd", "cholesky_batched"): "autograd returns the symmetrized gradient",
}


def _check_oracle(tool, cid):
    prim, args, kwargs, argnums, _ = _case(cid)
    if (tool, _label(cid)) in ORACLE_DISAGREES:
        test_reverse(cid)  # finite differences decide, and they agree with sourcediff
        return
    twin = _autograd_twin(prim) if tool == "autograd" else _torch_twin(prim, kwargs)
    if twin is None:
        pytest.skip(f"{tool} is not installed or has no function of this name")
    with np.errstate(all="ignore"):
        module, expected = _oracle_gradient(tool, twin, prim, args, kwargs, argnums, cid)
    if expected is None:
        pytest.skip(f"{tool} does not differentiate this call")
    got = _as_tuple(module._dloss(*[args[i] for i in argnums]), len(argnums))
    np.testing.assert_allclose(_flat(got), _flat(expected), rtol=1e-7, atol=1e-9,
                               err_msg=f"sourcediff against {tool}, {cid}")
    return True


@pytest.mark.parametrize("cid", IDS)
def test_against_autograd(cid):
    _check_oracle("autograd", cid)


@pytest.mark.parametrize("cid", [c[4] for c in SUITE if isinstance(c[0], np.ufunc) and not c[2]])
def test_against_torch(cid):
    _check_oracle("torch", cid)


def test_the_other_tools_are_oracles_for_many_cases():
    """Where autograd and torch are installed, they check a large share of the cases (so the two
    tests above do not pass by skipping)."""
    pytest.importorskip("autograd")
    pytest.importorskip("torch")
    checked = {"autograd": 0, "torch": 0}
    for tool in checked:
        for c in SUITE:
            twin = _autograd_twin(c[0]) if tool == "autograd" else _torch_twin(c[0], c[2])
            if twin is None:
                continue
            with np.errstate(all="ignore"):
                _, expected = _oracle_gradient(tool, twin, *c)
            checked[tool] += expected is not None
    assert checked["autograd"] >= 200 and checked["torch"] >= 30, checked
