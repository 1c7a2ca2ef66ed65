"""check_grads: test a function's derivatives (and your own rules) against finite differences.

Example::

    import numpy as np
    from sourcediff.testing import check_grads

    def f(x, y):
        return np.sum(np.sin(x) * y)

    check_grads(f, (np.ones(3), np.arange(3.0)), order=2, modes=("fwd", "rev"))
"""

import numpy as np

from .errors import SourcediffError


class GradientCheckError(SourcediffError, AssertionError):
    """A derivative that disagrees with finite differences."""


def _float_args(args):
    """Positions of floats, float arrays and lists/tuples/dicts of them."""
    from .operators import _float_like

    return [i for i, a in enumerate(args) if _float_like(a)]


def _tree(x):
    return isinstance(x, (list, tuple, dict))


def _direction(rng, x):
    if _tree(x):
        from .pytree import flatten

        vec, unflatten = flatten(x)
        return unflatten(rng.normal(size=vec.shape))
    v = rng.normal(size=np.shape(x))
    return float(v) if isinstance(x, float) else v.astype(np.asarray(x).dtype)


def _shift(args, dirs, h):
    from .pytree import flatten

    out = list(args)
    for i, v in dirs.items():
        if _tree(args[i]):
            vec, unflatten = flatten(args[i])
            out[i] = unflatten(vec + h * flatten(v)[0])
            continue
        out[i] = args[i] + h * v
        if isinstance(args[i], float):
            out[i] = float(out[i])
    return out


def _dot(g, v):
    """<g, v> for arrays, floats and trees of them (0.0 standing for a zero gradient)."""
    from .pytree import flatten

    if _tree(v):
        if isinstance(g, (int, float)) and g == 0:
            return 0.0
        return float(np.dot(flatten(g)[0], flatten(v)[0]))
    return float(np.sum(np.asarray(g) * v))


def _fd(fn, args, dirs, eps):
    hi = np.asarray(fn(*_shift(args, dirs, eps)), dtype=float)
    lo = np.asarray(fn(*_shift(args, dirs, -eps)), dtype=float)
    return (hi - lo) / (2 * eps)


def _close(name, analytic, numeric, rtol, atol):
    analytic, numeric = np.asarray(analytic, dtype=float), np.asarray(numeric, dtype=float)
    if analytic.shape != numeric.shape or not np.allclose(analytic, numeric, rtol=rtol, atol=atol):
        raise GradientCheckError(f"{name}: sourcediff gives {analytic!r}, finite differences give "
                                 f"{numeric!r}")


def check_grads(fn, args, order=1, modes=("fwd", "rev"), eps=1e-6, rtol=1e-4, atol=1e-6,
                seed=0):
    """Check ``fn``'s derivatives at ``args`` in random directions, up to ``order``.

    ``modes`` picks forward ("fwd": sd.jvp) and/or reverse ("rev": sd.vjp) mode; ``order=2`` also
    checks the derivative of the derivative (hvp through forward over reverse for scalar
    functions). Raises GradientCheckError (an AssertionError) on a mismatch.
    """
    from . import operators

    args = tuple(args)
    rng = np.random.default_rng(seed)
    wrt = _float_args(args)
    if not wrt:
        raise SourcediffError("check_grads needs at least one float or float-array argument")
    dirs = {i: _direction(rng, args[i]) for i in wrt}
    numeric = _fd(fn, args, dirs, eps)
    if "fwd" in modes:
        tangents = [dirs.get(i) for i in range(len(args))]
        _, out_dot = operators.jvp(fn, args, tangents)
        _close(f"forward mode of {getattr(fn, '__qualname__', fn)}", out_dot, numeric, rtol, atol)
    if "rev" in modes:
        out, f_vjp = operators.vjp(fn, *args)
        ct = _direction(rng, np.asarray(out, dtype=float)) if np.ndim(out) else 1.0
        grads = f_vjp(ct)
        analytic = sum(_dot(grads[i], dirs[i]) for i in wrt)
        _close(f"reverse mode of {getattr(fn, '__qualname__', fn)}", analytic,
               float(np.sum(numeric * ct)), rtol, atol)
    if order >= 2:
        if np.ndim(fn(*args)) != 0:
            raise SourcediffError("check_grads with order=2 needs a scalar function")
        tangents = [dirs.get(i) for i in range(len(args))]
        hv = operators.hvp(fn, args, tangents)
        hv = hv if isinstance(hv, tuple) else (hv,)
        from .api import grad

        df = grad(fn, wrt=tuple(wrt))
        g_hi = df(*_shift(args, dirs, eps))
        g_lo = df(*_shift(args, dirs, -eps))
        for k, i in enumerate(wrt):  # (a list or dict of parameters: over its leaves)
            num = (_leaf_vector(g_hi[k], args[i]) - _leaf_vector(g_lo[k], args[i])) / (2 * eps)
            _close(f"second derivative (argument {i}) of {getattr(fn, '__qualname__', fn)}",
                   _leaf_vector(hv[k], args[i]), num, rtol * 10, atol * 10)


# ---------------------------------------------------------------------- parity in every mode

_MODES = ("reverse", "unspecialized", "unoptimized", "forward", "tape")


def _leaf_vector(value, like=None):
    """``value``'s entries as one float vector; a gradient of a list or dict of parameters
    (``like``) by the parameters' leaves (a missing entry or a 0.0 for a branch is zeros)."""
    from .pytree import flatten, leaves

    if like is not None and isinstance(like, (list, tuple, dict)):
        return np.concatenate([np.ravel(np.broadcast_to(np.asarray(g, dtype=float), np.shape(x)))
                               for g, x in zip(_aligned(value, like), leaves(like))] or
                              [np.zeros(0)])
    if isinstance(value, (list, tuple, dict)):
        return flatten(value)[0]
    return np.ravel(np.asarray(value, dtype=float))


def _aligned(grad, like):
    """The entries of ``grad`` for the leaves of ``like`` (0.0 where it has none)."""
    if isinstance(like, dict):
        get = grad.get if isinstance(grad, dict) else (lambda k, d: 0.0)
        return [g for k, v in like.items() for g in _aligned(get(k, 0.0), v)]
    if isinstance(like, (list, tuple)):
        items = grad if isinstance(grad, (list, tuple)) else [0.0] * len(like)
        return [g for item, v in zip(items, like) for g in _aligned(item, v)]
    return [0.0 if grad is None else grad]


def _tolerance(args, wrt):
    single = any(getattr(getattr(leaf, "dtype", None), "itemsize", 8) <= 4
                 for i in wrt for leaf in _leaves_of(args[i]))
    return (3e-3, 1e-4) if single else (1e-5, 1e-7)


def _leaves_of(value):
    from .pytree import leaves

    return leaves(value) if isinstance(value, (list, tuple, dict)) else [value]


def _mode_gradients(f, args, wrt, mode):
    from . import api, tape

    wrt_arg = tuple(wrt)
    if mode == "reverse":
        return api.grad(f, wrt=wrt_arg)(*args)
    if mode == "unoptimized":
        return api.grad(f, wrt=wrt_arg, optimize=False)(*args)
    if mode == "unspecialized":
        df = api.grad(f, wrt=wrt_arg)
        spec = getattr(df, "__sourcediff_specializations__", None)
        if spec is None or spec.generic is None:
            df(*args)  # (compiles the generic code on first use)
            spec = getattr(df, "__sourcediff_specializations__", None)
        if spec is None or spec.generic is None:
            raise SourcediffError("no generic code kept for this function")
        owner = getattr(df, "__self__", None)  # (a bound method's generic code takes self)
        return spec.generic(owner, *args) if owner is not None else spec.generic(*args)
    if mode == "forward":
        return api.grad(f, wrt=wrt_arg, mode="forward")(*args)
    if mode == "tape":
        if any(isinstance(args[i], (list, tuple, dict)) for i in wrt):
            raise SourcediffError("the tape takes arrays and floats, not containers")
        return tape.grad_of(f, list(args), wrt=wrt_arg)
    raise SourcediffError(f"unknown mode {mode!r}; use some of {', '.join(_MODES)}")


def check_parity(f, args, wrt=None, modes=_MODES, order=1, seed=0, eps=1e-6, rtol=None,
                 atol=None):
    """Check ``f``'s gradient in every mode against the others and against central finite
    differences along random directions; return the report table (a string), or raise
    :class:`GradientCheckError` with it.

    Modes: ``reverse`` (the code specialized for the arguments' shapes), ``unspecialized`` (the
    generic code), ``unoptimized``, ``forward`` and ``tape`` (the same numpy function on tape
    tensors). ``order=2`` also checks the hessian-vector product against finite differences of the
    gradient. A mode that refuses the function (a ``SourcediffError``) is reported as refused, not
    as a disagreement; a mode that gives other numbers fails. Tolerances default by dtype (float32
    arguments get looser ones); ``seed`` fixes the random directions, and is printed to reproduce.

    Example::

        from sourcediff.testing import check_parity
        print(check_parity(lambda_free_loss, (w, x), wrt=(0,)))
    """
    from . import operators
    from .pytree import flatten

    args = tuple(args)
    wrt = tuple(_float_args(args) if wrt is None else (wrt if isinstance(wrt, (tuple, list))
                                                       else (wrt,)))
    if not wrt:
        raise SourcediffError("check_parity needs a float, float array or container of them")
    d_rtol, d_atol = _tolerance(args, wrt)
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    rng = np.random.default_rng(seed)
    flats = {i: flatten(args[i]) if isinstance(args[i], (list, tuple, dict)) else None
             for i in wrt}
    dirs = {i: rng.normal(size=_leaf_vector(args[i]).shape) for i in wrt}

    def moved(h):
        out = list(args)
        for i in wrt:
            if flats[i] is not None:
                out[i] = flats[i][1](flats[i][0] + h * dirs[i])
            else:
                shifted = np.asarray(args[i], dtype=float) + h * dirs[i].reshape(np.shape(args[i]))
                out[i] = float(shifted) if isinstance(args[i], float) else \
                    shifted.astype(np.asarray(args[i]).dtype)
        return out

    numeric = (float(f(*moved(eps))) - float(f(*moved(-eps)))) / (2 * eps)
    rows, failed = [], []
    for mode in modes:
        try:
            grads = _mode_gradients(f, args, wrt, mode)
        except SourcediffError as exc:
            rows.append((mode, "refused", str(exc).splitlines()[0][:70]))
            continue
        except Exception as exc:  # noqa: BLE001  (a crash in a mode is a failure of that mode)
            rows.append((mode, "CRASHED", f"{type(exc).__name__}: {str(exc)[:60]}"))
            failed.append(mode)
            continue
        grads = grads if len(wrt) > 1 else (grads,)
        analytic = sum(float(np.dot(_leaf_vector(g), dirs[i])) for g, i in zip(grads, wrt))
        err = abs(analytic - numeric)
        ok = err <= atol + rtol * max(abs(numeric), abs(analytic))
        rows.append((mode, "ok" if ok else "DIFFERS",
                     f"{analytic:.10g} vs {numeric:.10g} (abs {err:.2e}, rel "
                     f"{err / max(abs(numeric), 1e-300):.2e})"))
        if not ok:
            failed.append(mode)
    if order >= 2:
        hv_err = None
        try:
            tangents = [dirs[i].reshape(np.shape(args[i])) if i in wrt and flats[i] is None
                        else None for i in range(len(args))]
            if all(flats[i] is None for i in wrt):
                hv = operators.hvp(f, args, tangents)
                hv = hv if isinstance(hv, tuple) else (hv,)
                from .api import grad

                df = grad(f, wrt=tuple(wrt))
                hi, lo = df(*moved(eps)), df(*moved(-eps))
                hi, lo = (hi, lo) if len(wrt) > 1 else ((hi,), (lo,))
                fd_hv = [(_leaf_vector(a) - _leaf_vector(b)) / (2 * eps) for a, b in zip(hi, lo)]
                hv_err = max(float(np.max(np.abs(_leaf_vector(a) - b))) for a, b in zip(hv, fd_hv))
                scale = max(float(np.max(np.abs(b))) for b in fd_hv)
                ok = hv_err <= 10 * (atol + rtol * scale)
                rows.append(("hvp", "ok" if ok else "DIFFERS", f"max abs {hv_err:.2e}"))
                if not ok:
                    failed.append("hvp")
        except SourcediffError as exc:
            rows.append(("hvp", "refused", str(exc).splitlines()[0][:70]))
    where = getattr(f, "__qualname__", repr(f))
    table = _parity_table(where, wrt, seed, numeric, rows)
    if failed:
        ad = [r for r in rows if r[1] in ("ok", "DIFFERS") and r[0] != "hvp"]
        every = ad and all(r[1] == "DIFFERS" for r in ad)
        hint = ""
        if every and _custom_rules(f):
            hint = ("\nEvery mode differs the same way: suspect the rule of your own that it "
                    f"uses: {', '.join(_custom_rules(f))}")
        elif every:
            hint = "\nEvery mode differs: suspect a rule, or a function finite differences cannot " \
                   "judge here (a kink, a discontinuity, a too large or too small eps)"
        else:
            hint = f"\nOnly {', '.join(failed)} differ{'s' if len(failed) == 1 else ''}: that " \
                   f"mode's code is the suspect, the others agree"
        raise GradientCheckError(f"{', '.join(failed)} disagree{'s' if len(failed) == 1 else ''} "
                                 f"with finite differences for {where}\n{table}{hint}")
    return table


def _custom_rules(f):
    """Rules registered by the user's code (not numpy's or sourcediff's) for names ``f`` uses."""
    from . import registry

    code, scope = getattr(f, "__code__", None), getattr(f, "__globals__", {})
    out = []
    for name in (code.co_names if code is not None else ()):
        obj = scope.get(name)
        rule = registry.lookup(obj) if obj is not None and callable(obj) else None
        module = getattr(obj, "__module__", "") or ""
        if rule is not None and not module.startswith(("numpy", "sourcediff", "scipy", "math")):
            fn = rule.vjp
            where = f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno}" if hasattr(
                fn, "__code__") else ""
            out.append(f"{name} (its vjp {fn.__name__} at {where})")
    return out


def _parity_table(where, wrt, seed, numeric, rows):
    width = max(len(r[0]) for r in rows)
    lines = [f"sourcediff parity of {where}, arguments {', '.join(map(str, wrt))}, seed {seed}: "
             f"directional derivative along a random direction (finite differences "
             f"{numeric:.10g})"]
    lines += [f"  {mode.ljust(width)}  {status.ljust(7)}  {detail}" for mode, status, detail in rows]
    return "\n".join(lines)
