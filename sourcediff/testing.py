"""check_grads: test a function's derivatives (and your own rules) against finite differences.

Example::

    import numpy as np
    from sourcediff.testing import check_grads

    def f(x, y):
        return np.sum(np.sin(x) * y)

    check_grads(f, (np.ones(3), np.arange(3.0)), order=2, modes=("fwd", "rev"))
"""

import copy
import inspect

import numpy as np

from . import api, tape
from . import transforms as operators
from .api import grad
from .attribution import Blame, _def_line, blame_forward, blame_reverse, rules_used, user_rule
from .compiler.parse import synthetic
from .errors import SourcediffError
from .pytree import aligned_leaves, flatten, is_tree, leaves
from .transforms import _float_like


class GradientCheckError(SourcediffError, AssertionError):
    """A derivative that disagrees with finite differences."""


def _float_args(args):
    """Positions of floats, float arrays and lists/tuples/dicts of them."""
    return [i for i, a in enumerate(args) if _float_like(a)]


def _direction(rng, x):
    if is_tree(x):
        vec, unflatten = flatten(x)
        return unflatten(rng.normal(size=vec.shape))
    v = rng.normal(size=np.shape(x))
    return float(v) if isinstance(x, float) else v.astype(np.asarray(x).dtype)


def _copied(args):
    """A copy of the arguments for one call of a function that may write into them (x *= y
    changed the next call's x and the caller's), sharing between them kept; as they are where
    they cannot be copied."""
    try:
        return copy.deepcopy(list(args))
    except Exception:  # noqa: BLE001  (an object holding a lock or a file: the caller's own)
        return list(args)


def _shift(args, dirs, h):
    out = _copied(args)
    for i, v in dirs.items():
        if is_tree(args[i]):
            vec, unflatten = flatten(args[i])
            out[i] = unflatten(vec + h * flatten(v)[0])
            continue
        out[i] = args[i] + h * v
        if isinstance(args[i], float):
            out[i] = float(out[i])
    return out


def _dot(g, v):
    """<g, v> for arrays, floats and trees of them (0.0 standing for a zero gradient)."""
    if is_tree(v):
        if isinstance(g, (int, float)) and g == 0:
            return 0.0
        return float(np.dot(flatten(g)[0], flatten(v)[0]))
    return float(np.sum(np.asarray(g) * v))


def directional_derivative(fn, args, dirs, eps=1e-6):
    """The central finite difference ``(f(x + eps v) - f(x - eps v)) / 2 eps`` of ``fn`` at
    ``args`` along the directions ``dirs`` ({argument position: direction}; floats, arrays and
    trees of them), as an array: the one finite-difference oracle of sourcediff's checks and of
    its test suite (``tests/oracles.py``)."""
    hi = np.asarray(fn(*_shift(args, dirs, eps)), dtype=float)
    lo = np.asarray(fn(*_shift(args, dirs, -eps)), dtype=float)
    return (hi - lo) / (2 * eps)


def _close(name, analytic, numeric, rtol, atol, hint=""):
    analytic, numeric = np.asarray(analytic, dtype=float), np.asarray(numeric, dtype=float)
    if analytic.shape != numeric.shape or not np.allclose(analytic, numeric, rtol=rtol, atol=atol):
        raise GradientCheckError(f"{name}: sourcediff gives {analytic!r}, finite differences give "
                                 f"{numeric!r}{hint}")


def _rule_modes(fn, rule):
    """The modes a rule of the user's claims: reverse always; the tape for a function made by
    sd.custom_vjp (the tape calls its rule; a rule registered on a plain function with sd.defvjp
    is not seen by the tape, which runs the function's body); forward mode (and so second order,
    forward over reverse) with a jvp rule or a kind that derives one from the vjp rule; forward
    mode alone for sd.custom_jvp (a jvp of JAX's form and no vjp)."""
    if rule.pair_jvp is not None:
        return ("fwd",)
    modes = ["rev"]
    if callable(getattr(fn, "defvjp", None)) and callable(getattr(fn, "defjvp", None)):
        modes.append("tape")
    if rule.jvp is not None or rule.kind in ("elementwise", "linear"):
        modes.append("fwd")
    return tuple(modes)


def _rule_names(fn, rule):
    """How messages name a rule of the user's: (the function, its vjp rule, what gives its
    forward mode, what gives its second derivative)."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn))
    owner = f"{name} ({_def_line(fn)})"
    vjp = f"the vjp rule {rule.vjp.__name__} ({_def_line(rule.vjp)}) of {owner}"
    if rule.pair_jvp is not None:  # (sd.custom_jvp: a jvp of JAX's form, no vjp)
        fwd = f"the jvp rule {rule.pair_jvp.__name__} ({_def_line(rule.pair_jvp)}) of {owner}"
        return owner, None, fwd, None
    if rule.jvp is not None:
        fwd = f"the jvp rule {rule.jvp.__name__} ({_def_line(rule.jvp)}) of {owner}"
    else:
        fwd = f"forward mode of {owner}, derived from its vjp rule {rule.vjp.__name__} " \
              f"({_def_line(rule.vjp)}) by kind={rule.kind!r},"
    second = f"the second derivative through the rule of {owner} (forward mode over the body of " \
             f"its vjp rule {rule.vjp.__name__}, {_def_line(rule.vjp)})"
    return owner, vjp, fwd, second


def _tape_vjp(fn, args, wrt, ct):
    """<ct, fn(args)>'s gradients computed by the tape (which calls a custom_vjp's rule)."""
    if np.ndim(ct) == 0:
        return tape.grad_of(fn, list(args), wrt=tuple(wrt))
    return tape.grad_of(lambda *a: np.sum(fn(*a) * ct), list(args), wrt=tuple(wrt))


def check_grads(fn, args, order=None, modes=None, eps=1e-6, rtol=1e-4, atol=1e-6, seed=0):
    """Check ``fn``'s derivatives at ``args`` in random directions, up to ``order``.

    ``modes`` picks forward ("fwd": sd.jvp), reverse ("rev": sd.vjp) and the tape ("tape") mode;
    by default forward and reverse. ``order=2`` also checks the derivative of the derivative
    (hvp through forward over reverse; for a function whose output is an array, of its dot
    product with a random array). Raises GradientCheckError (an AssertionError) on a mismatch.

    ``order`` defaults to 1. For a function with a rule of your own (``sd.custom_vjp``,
    ``sd.defvjp``), given neither ``modes`` nor ``order``, every mode the rule claims is checked:
    reverse, the tape (for ``sd.custom_vjp``), and forward mode and second order when it has a jvp
    rule or a kind that derives one; a wrong rule is named in the error, with its file and line.
    Asking for a mode the rule does not claim is an error that says how to add it.

    Example::

        check_grads(softplus, (np.linspace(-2.0, 2.0, 5),), order=2)
    """
    __tracebackhide__ = True  # (pytest shows the message, not this function's lines)
    args = tuple(args)
    rng = np.random.default_rng(seed)
    wrt = _float_args(args)
    if not wrt:
        raise SourcediffError("check_grads needs at least one float or float-array argument")
    name = getattr(fn, "__qualname__", fn)
    rule = user_rule(fn)
    known = ("fwd", "rev", "tape")
    everything = modes is None  # (for a rule: every mode it claims, and second order)
    if modes is None:
        modes = _rule_modes(fn, rule) if rule is not None else ("fwd", "rev")
    for mode in modes:
        if mode not in known:
            raise SourcediffError(f"check_grads: unknown mode {mode!r}; use some of "
                                  f"{', '.join(map(repr, known))}")
    owner = vjp_name = jvp_name = second = None
    if rule is not None:
        owner, vjp_name, jvp_name, second = _rule_names(fn, rule)
        claimed = _rule_modes(fn, rule)
        for mode in modes:
            if mode not in claimed:
                raise SourcediffError(_unclaimed(fn, rule, mode, owner))
        if order is None:
            order = 2 if everything and "fwd" in claimed and "rev" in claimed else 1
        if order >= 2 and not {"fwd", "rev"} <= set(claimed):
            raise SourcediffError(_unclaimed(fn, rule, "order 2", owner))
    order = 1 if order is None else order
    uses = rules_used(fn) if rule is None else []
    hint = f"\nIt calls rules of your own: {'; '.join(uses)}" if uses else ""
    dirs = {i: _direction(rng, args[i]) for i in wrt}
    numeric = directional_derivative(fn, args, dirs, eps)
    if "rev" in modes or "tape" in modes:
        out, f_vjp = operators.vjp(fn, *args)
        ct = _direction(rng, np.asarray(out, dtype=float)) if np.ndim(out) else 1.0
        expected = float(np.sum(numeric * ct))
        if "rev" in modes:
            grads = f_vjp(ct)
            analytic = sum(_dot(grads[i], dirs[i]) for i in wrt)
            what = f"{vjp_name} disagrees with finite differences in reverse mode" \
                if rule else f"reverse mode of {name}"
            _close(what, analytic, expected, rtol, atol, hint)
        if "tape" in modes:
            if any(is_tree(args[i]) for i in wrt):
                raise SourcediffError("check_grads: the tape takes arrays and floats, not lists, "
                                      "tuples or dicts of them; leave 'tape' out of modes")
            grads = _tape_vjp(fn, args, wrt, ct)
            grads = grads if len(wrt) > 1 else (grads,)
            analytic = sum(_dot(g, dirs[i]) for g, i in zip(grads, wrt))
            what = f"{vjp_name} disagrees with finite differences in the tape" \
                if rule else f"the tape's gradient of {name}"
            _close(what, analytic, expected, rtol, atol, hint)
    if "fwd" in modes:
        tangents = [dirs.get(i) for i in range(len(args))]
        _, out_dot = operators.jvp(fn, args, tangents)
        what = f"{jvp_name} disagrees with finite differences" if rule else \
            f"forward mode of {name}"
        _close(what, out_dot, numeric, rtol, atol, hint)
    if order >= 2:
        _check_second_order(fn, args, wrt, dirs, rng, eps, rtol, atol, name, second, hint)


def _unclaimed(fn, rule, mode, owner):
    short = getattr(fn, "__name__", "f")
    how = (f"register a jvp rule with @{short}.defjvp, or declare the vjp rule "
           f"kind='elementwise' or kind='linear' if it is one" if callable(
               getattr(fn, "defjvp", None)) else
           f"register a jvp rule with sourcediff.defjvp({short}), or declare the vjp rule "
           f"kind='elementwise' or kind='linear' if it is one")
    if mode == "tape":
        return (f"check_grads: the tape does not use the rule of {owner}: it was registered "
                f"with sourcediff.defvjp on a plain function, whose body the tape runs. Make it "
                f"with @sourcediff.custom_vjp to have the tape call the rule, or leave 'tape' out "
                f"of modes")
    if rule.pair_jvp is not None:
        return (f"check_grads: {owner} has a custom jvp rule (@sd.custom_jvp) and no vjp rule, so "
                f"only forward mode applies; leave {'order=2' if mode == 'order 2' else repr(mode)}"
                f" out, or give it a vjp with @sd.custom_vjp")
    what = "second order (forward over reverse)" if mode == "order 2" else "forward mode"
    return (f"check_grads: the rule of {owner} does not give {what}: its vjp rule "
            f"{rule.vjp.__name__} has kind={rule.kind!r} and there is no jvp rule. To check it, "
            f"{how}; else leave {'order=2' if mode == 'order 2' else repr(mode)} out")


def _check_second_order(fn, args, wrt, dirs, rng, eps, rtol, atol, name, second, hint):
    out = fn(*args)
    scalar, projection = fn, None
    if np.ndim(out) != 0:
        # (an array output: the second derivative of its dot product with a random array)
        projection = rng.normal(size=np.shape(out))
        scalar = synthetic(fn, f"{getattr(fn, '__name__', 'f')}_dot_random",
                           "_np.sum({fn}({params}) * _sd_projection)",
                           {"_np": np, "_sd_projection": projection})
    tangents = [dirs.get(i) for i in range(len(args))]
    hv = operators.hvp(scalar, args, tangents)
    hv = hv if isinstance(hv, tuple) else (hv,)
    df = grad(scalar, wrt=tuple(wrt))
    g_hi = df(*_shift(args, dirs, eps))
    g_lo = df(*_shift(args, dirs, -eps))
    for k, i in enumerate(wrt):  # (a list or dict of parameters: over its leaves)
        num = (_leaf_vector(g_hi[k], args[i]) - _leaf_vector(g_lo[k], args[i])) / (2 * eps)
        of = f"the dot product of {name} with a random array" if projection is not None else name
        what = f"{second} disagrees with finite differences of its gradient (argument {i})" \
            if second else f"second derivative (argument {i}) of {of}"
        _close(what, _leaf_vector(hv[k], args[i]), num, rtol * 10, atol * 10, hint)


# ---------------------------------------------------------------------- parity in every mode

_MODES = ("reverse", "unspecialized", "unoptimized", "forward", "tape")


def _leaf_vector(value, like=None):
    """``value``'s entries as one float vector; a gradient of a list or dict of parameters
    (``like``) by the parameters' leaves (a missing entry or a 0.0 for a branch is zeros)."""
    if like is not None and is_tree(like):
        return np.concatenate([np.ravel(np.broadcast_to(
            np.asarray(0.0 if g is None else g, dtype=float), np.shape(x)))
            for g, x in zip(aligned_leaves(value, like), leaves(like))] or [np.zeros(0)])
    if is_tree(value):
        return flatten(value)[0]
    return np.ravel(np.asarray(value, dtype=float))


def _tolerance(args, wrt):
    """(rtol, atol, finite-difference step) by the arguments' precision: a step of 1e-6 is below
    float32's resolution near 1, so float32 arguments get 1e-3 (and looser tolerances)."""
    single = any(getattr(getattr(leaf, "dtype", None), "itemsize", 8) <= 4
                 for i in wrt for leaf in _leaves_of(args[i]))
    return (3e-3, 1e-4, 1e-3) if single else (1e-5, 1e-7, 1e-6)


def _leaves_of(value):
    return leaves(value) if is_tree(value) else [value]


def _mode_gradients(f, args, wrt, mode):
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
        if any(is_tree(args[i]) for i in wrt):
            raise SourcediffError("the tape takes arrays and floats, not containers")
        return tape.grad_of(f, list(args), wrt=wrt_arg)
    raise SourcediffError(f"unknown mode {mode!r}; use some of {', '.join(_MODES)}")


def check_parity(f, args, wrt=None, modes=_MODES, order=1, seed=0, eps=None, rtol=None,
                 atol=None):
    """Check ``f``'s gradient in every mode against the others and against central finite
    differences along random directions; return the report table (a string), or raise
    :class:`GradientCheckError` with it.

    Modes: ``reverse`` (the code specialized for the arguments' shapes), ``unspecialized`` (the
    generic code), ``unoptimized``, ``forward`` and ``tape`` (the same numpy function on tape
    tensors). ``order=2`` also checks the hessian-vector product against finite differences of the
    gradient. A mode that refuses the function (a ``SourcediffError``) is reported as refused, not
    as a disagreement; a mode that gives other numbers fails. Tolerances and the finite-difference
    step ``eps`` default by dtype (float32 arguments get looser tolerances and a step of 1e-3,
    float64 ones 1e-6); ``seed`` fixes the random directions, and is printed to reproduce. On a
    disagreement the error also names the line of ``f`` whose generated block first goes wrong,
    with that block (see ``sourcediff/attribution.py``), or says why no line is blamed.

    Example::

        from sourcediff.testing import check_parity
        print(check_parity(lambda_free_loss, (w, x), wrt=(0,)))
    """
    __tracebackhide__ = True  # (pytest shows the message, not this function's lines)
    args = tuple(args)
    wrt = tuple(_float_args(args) if wrt is None else (wrt if isinstance(wrt, (tuple, list))
                                                       else (wrt,)))
    if not wrt:
        raise SourcediffError("check_parity needs a float, float array or container of them")
    d_rtol, d_atol, d_eps = _tolerance(args, wrt)
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    eps = d_eps if eps is None else eps
    rng = np.random.default_rng(seed)
    flats = {i: flatten(args[i]) if is_tree(args[i]) else None
             for i in wrt}
    dirs = {i: rng.normal(size=_leaf_vector(args[i]).shape) for i in wrt}

    def moved(h, only=None):
        return _moved(args, wrt, flats, dirs, h, only)

    numeric = (float(f(*moved(eps))) - float(f(*moved(-eps)))) / (2 * eps)
    # (one column per argument: each moved alone along its own direction)
    per_arg = {wrt[0]: numeric} if len(wrt) == 1 else {
        i: (float(f(*moved(eps, i))) - float(f(*moved(-eps, i)))) / (2 * eps) for i in wrt}
    labels = _argument_labels(f, wrt)
    rows, failed = [], []
    for mode in modes:
        row = _mode_row(f, args, wrt, mode, dirs, per_arg, labels, rtol, atol)
        rows.append(row)
        if row[1] in ("CRASHED", "DIFFERS"):
            failed.append(mode)
    if order >= 2:
        _check_hvp(f, args, wrt, flats, dirs, moved, eps, rtol, atol, rows, failed)
    where = getattr(f, "__qualname__", repr(f))
    table = _parity_table(where, wrt, seed, numeric, rows)
    if failed:
        raise _parity_error(f, args, wrt, seed, eps, rtol, atol, rows, failed, where, table)
    return table


def _moved(args, wrt, flats, dirs, h, only=None):
    """``args`` with each argument of ``wrt`` (or ``only`` that one) moved by ``h`` along its
    direction; the others copies (see _copied)."""
    out = _copied(args)
    for i in wrt:
        if only is not None and i != only:
            continue
        if flats[i] is not None:
            out[i] = flats[i][1](flats[i][0] + h * dirs[i])
        else:
            shifted = np.asarray(args[i], dtype=float) + h * dirs[i].reshape(np.shape(args[i]))
            out[i] = float(shifted) if isinstance(args[i], float) else \
                shifted.astype(np.asarray(args[i]).dtype)
    return out


def _mode_row(f, args, wrt, mode, dirs, per_arg, labels, rtol, atol):
    """The report row ``(mode, status, detail)`` of one mode: its directional derivatives
    against finite differences, or why it refused or crashed."""
    try:
        grads = _mode_gradients(f, args, wrt, mode)
    except SourcediffError as exc:
        return (mode, "refused", str(exc).splitlines()[0][:70])
    except Exception as exc:  # noqa: BLE001  (a crash in a mode is a failure of that mode)
        return (mode, "CRASHED", f"{type(exc).__name__}: {str(exc)[:60]}")
    grads = grads if len(wrt) > 1 else (grads,)
    cells, ok = [], True
    for g, i in zip(grads, wrt):
        analytic, expected = float(np.dot(_leaf_vector(g), dirs[i])), per_arg[i]
        err = abs(analytic - expected)
        good = err <= atol + rtol * max(abs(expected), abs(analytic))
        ok = ok and good
        cells.append(f"{'' if len(wrt) == 1 else labels[i] + ': '}{analytic:.10g} vs "
                     f"{expected:.10g} (abs {err:.2e}, rel "
                     f"{err / max(abs(expected), 1e-300):.2e}){'' if good else ' <-'}")
    return (mode, "ok" if ok else "DIFFERS", "; ".join(cells))


def _check_hvp(f, args, wrt, flats, dirs, moved, eps, rtol, atol, rows, failed):
    """The hessian-vector product against finite differences of the gradient: a row appended
    to ``rows`` (and ``"hvp"`` to ``failed`` when it differs)."""
    __tracebackhide__ = True
    hv_err = None
    try:
        tangents = [dirs[i].reshape(np.shape(args[i])) if i in wrt and flats[i] is None
                    else None for i in range(len(args))]
        if all(flats[i] is None for i in wrt):
            hv = operators.hvp(f, args, tangents)
            hv = hv if isinstance(hv, tuple) else (hv,)
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


def _parity_error(f, args, wrt, seed, eps, rtol, atol, rows, failed, where, table):
    """The GradientCheckError of a failed check: the table, which code is the suspect and the
    line each disagreeing kind of code goes wrong at."""
    __tracebackhide__ = True
    status = {r[0]: r[1] for r in rows}
    ad = [r for r in rows if r[1] in ("ok", "DIFFERS") and r[0] != "hvp"]
    every = ad and all(r[1] == "DIFFERS" for r in ad)
    rules = rules_used(f)
    if every and rules:
        hint = ("\nEvery mode differs the same way: suspect the rule of your own that it "
                f"uses: {'; '.join(rules)}")
    elif every:
        hint = "\nEvery mode differs: suspect a rule, or a function finite differences cannot " \
               "judge here (a kink, a discontinuity, a too large or too small eps)"
    else:
        hint = f"\nOnly {', '.join(failed)} differ{'s' if len(failed) == 1 else ''}: that " \
               f"mode's code is the suspect, the others agree"
    blames = _blame(f, args, wrt, status, seed, eps, rtol, atol, rules)
    sections = "".join(f"\n\n{b.message}" for b in blames)
    error = GradientCheckError(
        f"{', '.join(failed)} disagree{'s' if len(failed) == 1 else ''} with finite "
        f"differences for {where}\n{table}{hint}{sections}")
    error.table, error.failed, error.seed, error.blames = table, list(failed), seed, blames
    return error


_REVERSE_CODE = (("unoptimized", dict(optimize=False)), ("unspecialized", dict(optimize=True)),
                 ("reverse", dict(optimize=True, specialized=True)))


def _blame(f, args, wrt, status, seed, eps, rtol, atol, rules):
    """The line each disagreeing kind of code goes wrong at (see sourcediff/attribution.py), or
    a sentence saying why no line is blamed."""
    out = []
    differs = [mode for mode, _ in _REVERSE_CODE if status.get(mode) == "DIFFERS"]
    if differs:
        blame = None
        for mode, options in _REVERSE_CODE:
            if mode not in differs:
                continue
            blame = blame_reverse(f, args, wrt, seed=seed, eps=eps, rtol=rtol, atol=atol,
                                  **options)
            if blame.found or "probing the generated code" not in blame.message:
                break
        out.append(blame)
    if status.get("forward") == "DIFFERS":
        out.append(blame_forward(f, args, wrt, seed=seed, eps=eps, rtol=rtol, atol=atol))
    if status.get("tape") == "DIFFERS" and not differs and status.get("forward") != "DIFFERS":
        out.append(Blame(False, "Not attributed to a line: the tape runs no generated code, and "
                                "the generated code agrees with finite differences; the tape "
                                "itself (sourcediff.tape) is the suspect."))
    if status.get("hvp") == "DIFFERS" and not out:
        text = "Not attributed to a line: first derivatives agree in every mode and only the " \
               "hessian-vector product differs; the search for the line covers first derivatives."
        if rules:
            text += (" Second order differentiates the rules of your own it uses; check them with "
                     f"sourcediff.testing.check_grads(..., order=2): {'; '.join(rules)}.")
        out.append(Blame(False, text))
    return out


def _argument_labels(f, wrt):
    """``{index: name}`` of the arguments checked (``arg 2`` where the name is not known)."""
    try:
        names = [p for p in inspect.signature(f).parameters]
    except (TypeError, ValueError):
        names = []
    return {i: names[i] if i < len(names) else f"arg {i}" for i in wrt}


def _parity_table(where, wrt, seed, numeric, rows):
    width = max(len(r[0]) for r in rows)
    lines = [f"sourcediff parity of {where}, arguments {', '.join(map(str, wrt))}, seed {seed}: "
             f"directional derivative along a random direction (finite differences "
             f"{numeric:.10g}; with several arguments, each moved alone: one column each, "
             f"<- marks the ones that differ)"]
    lines += [f"  {mode.ljust(width)}  {status.ljust(7)}  {detail}" for mode, status, detail in rows]
    return "\n".join(lines)
