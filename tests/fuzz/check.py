"""Check one generated program's gradients against every oracle and classify the outcome."""

import ast
import builtins
import copy
import inspect
import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np

import sourcediff as sd
from sourcediff.tape import grad_of
from tests.fuzz.generator import make_args

KINDS = ("ok", "wrong", "internal", "refused", "skipped", "invalid")
WRT = (0, 1, 2)
RTOL = 1e-5
STEPS = (1e-6, 1e-5, 1e-4, 1e-7)  # finite-difference steps tried before calling a mismatch
# Beyond this gradient magnitude finite differences cannot judge: the smallest usable step moves
# some intermediate by more than sin's period, so a term like 0.25*np.sin(y) on a y that has grown
# to 1e13 is invisible to them while its derivative 0.25*cos(y) is not (seed 401100: every AD
# mode agreed on 4.878e175, finite differences at any step on 4.485e175). The AD modes are still
# compared with each other there; the program counts as skipped.
STEEP = 1e8

# pyflakes findings that mean a program or generated code is broken (unused names are untidy only)
_BROKEN = {"UndefinedName", "UndefinedLocal", "UndefinedExport", "DuplicateArgument",
           "ReturnOutsideFunction", "YieldOutsideFunction", "ContinueOutsideLoop",
           "BreakOutsideLoop"}


@dataclass
class Result:
    """The outcome for one program: ``kind`` is one of :data:`KINDS`."""

    seed: int
    kind: str
    detail: str = ""
    source: str = ""
    notes: list = field(default_factory=list)  # tape refusals and other non-failures
    value: float = float("nan")  # the primal value

    def report(self):
        return f"# seed {self.seed}: {self.kind}\n# " + "\n# ".join(
            self.detail.splitlines()) + "\n\n" + self.source


class _Outcome(Exception):
    def __init__(self, kind, detail):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


def _short_tb(exc):
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-4))


def pyflakes_problems(text, known=()):
    """Broken-code findings of pyflakes in ``text`` (names in ``known`` count as defined)."""
    try:
        from pyflakes import api
    except ImportError:
        return []

    class Collect:
        def __init__(self):
            self.out = []

        def flake(self, m):
            if type(m).__name__ == "UndefinedName" and m.message_args[0] in known:
                return
            if type(m).__name__ in _BROKEN:
                self.out.append(f"line {m.lineno}: {m.message % m.message_args}")

        def syntaxError(self, filename, msg, lineno, offset, text):  # pyflakes reporter API
            self.out.append(f"syntax error line {lineno}: {msg}")

        def unexpectedError(self, filename, msg):  # pyflakes reporter API
            self.out.append(msg)

    rep = Collect()
    api.check(text, "<program>", rep)
    return rep.out


def _check_generated_source(df, fn):
    text = sd.source(df)
    ast.parse(text)
    code = inspect.unwrap(df).__code__
    known = set(code.co_freevars) | set(fn.__globals__) | set(dir(builtins))
    problems = pyflakes_problems(text, known)
    if problems:
        raise _Outcome("internal", "generated code has undefined names: " + "; ".join(problems)
                       + "\n" + text)


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and np.array_equal(a, b, equal_nan=True)
    return a == b or (a != a and b != b)


def _call(f, args):
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*copy.deepcopy(args))


def _perturbed(args, i, v, h):
    out = list(copy.deepcopy(args))
    out[i] = float(args[i] + h * v) if isinstance(args[i], float) else args[i] + h * v
    return out


def _fd(f, args, i, v, h):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float((f(*_perturbed(args, i, v, h)) - f(*_perturbed(args, i, v, -h))) / (2 * h))


def _close(a, b, scale):
    return abs(a - b) <= RTOL * (abs(a) + abs(b)) + 1e-7 * scale


def fd_verdict(f, args, i, v, analytic, scale):
    """"ok", "wrong" or "nonsmooth" for the directional derivative ``analytic`` of argument i."""
    fds = []
    for h in STEPS:
        fd = _fd(f, args, i, v, h)
        if _close(fd, analytic, scale):
            return "ok", fd
        fds.append(fd)
    smooth = _close(fds[0], fds[1], 100 * scale) and _close(fds[0], fds[3], 100 * scale)
    return ("wrong" if smooth else "nonsmooth"), fds[0]


def is_refusal(exc):
    """A deliberate refusal: a SourcediffError of sourcediff's own classes. Errors raised inside
    generated code come back as SourcediffErrors named after the builtin kind (IndexError, ...):
    those are crashes, not refusals."""
    if isinstance(exc, sd.SourcediffError) and type(exc).__name__ == "NotImplementedError" \
            and "sourcediff has no derivative for" in str(exc):
        return True  # (a rule's refusal at run time: runtime.accumulate._refuse, at the user's line)
    return isinstance(exc, sd.SourcediffError) and not hasattr(builtins, type(exc).__name__)


def _as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


def _gradients(f, args, optimize, source):
    """Reverse-mode gradients; raises _Outcome for refusals, crashes and mutated arguments."""
    try:
        df = sd.grad(f, wrt=WRT, optimize=optimize)
    except Exception as exc:  # noqa: BLE001  (anything but a refusal is a compiler crash)
        if is_refusal(exc):
            raise _Outcome("refused", f"{type(exc).__name__}: {exc}") from None
        raise _Outcome("internal", f"transform (optimize={optimize}) crashed:\n{_short_tb(exc)}") \
            from None
    _check_generated_source(df, f)
    work = copy.deepcopy(args)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grads = df(*work)
    except (sd.NoRuleError, sd.SourcediffSyntaxError, sd.AliasError) as exc:
        raise _Outcome("refused", f"at call (optimize={optimize}) {type(exc).__name__}: {exc}") \
            from None
    except Exception as exc:  # noqa: BLE001  (the function itself runs fine on these arguments)
        raise _Outcome("internal", f"gradient call (optimize={optimize}) raised but the function "
                                   f"does not:\n{_short_tb(exc)}\n--- generated:\n"
                                   f"{sd.source(df)}") from None
    for k, (a, b) in enumerate(zip(work, args)):
        if not _same(a, b):
            raise _Outcome("wrong", f"argument {k} modified by the gradient call "
                                    f"(optimize={optimize})")
    grads = _as_tuple(grads)
    for k, (g, a) in enumerate(zip(grads, args)):
        if np.shape(g) != np.shape(a):
            raise _Outcome("wrong", f"gradient {k} has shape {np.shape(g)}, argument "
                                    f"{np.shape(a)} (optimize={optimize})")
        if not np.all(np.isfinite(g)):
            raise _Outcome("wrong", f"gradient {k} is not finite: {g!r} (optimize={optimize})")
    return df, grads


def _check(f, args, f0, result):
    scale = 1.0 + abs(float(f0))
    df, grads = _gradients(f, args, True, result.source)
    _, slow = _gradients(f, args, False, result.source)
    for k, (a, b) in enumerate(zip(grads, slow)):
        if not np.allclose(a, b, rtol=1e-9, atol=1e-12 * scale):
            raise _Outcome("wrong", f"optimized and unoptimized gradients of argument {k} differ:"
                                    f"\n{a!r}\n{b!r}")
    rng = np.random.default_rng(result.seed + 7)
    steep = max(float(np.max(np.abs(g))) for g in grads) > STEEP
    for i in WRT if not steep else ():
        for _ in range(2):
            v = rng.normal(size=np.shape(args[i]))
            v = float(v) if isinstance(args[i], float) else v
            analytic = float(np.sum(np.asarray(grads[i]) * v))
            verdict, fd = fd_verdict(f, args, i, v, analytic, scale)
            if verdict == "nonsmooth":
                raise _Outcome("skipped", f"not smooth at the sample point (argument {i})")
            if verdict == "wrong":
                raise _Outcome("wrong", f"argument {i}: reverse mode {analytic!r} vs finite "
                                        f"differences {fd!r}\ngradient: {grads[i]!r}\n"
                                        f"--- generated:\n{sd.source(df)}")
    # value_and_grad returns the primal value
    try:
        value, _ = sd.value_and_grad(f, wrt=WRT)(*copy.deepcopy(args))
    except Exception as exc:  # noqa: BLE001
        if is_refusal(exc):
            raise _Outcome("refused", f"value_and_grad: {type(exc).__name__}: {exc}") from None
        raise _Outcome("internal", f"value_and_grad raised:\n{_short_tb(exc)}") from None
    if not np.allclose(value, f0, rtol=1e-12, atol=1e-12 * scale):
        raise _Outcome("wrong", f"value_and_grad value {value!r} but f returns {f0!r}")
    _check_tape(f, args, grads, scale, result)
    _check_forward(f, args, grads, scale, result)
    _check_generic(f, args, grads, scale)
    if "numba" in EXTRA_MODES:
        _check_numba(f, args, grads, scale, result)
    if "hvp" in EXTRA_MODES and not steep:
        _check_hvp(f, args, scale, result)
    if "jacobian" in EXTRA_MODES:
        _check_jacobian(f, args, grads, scale, result)
    if "second" in EXTRA_MODES and not steep:
        _check_second(f, args, scale, result)
    if steep:
        raise _Outcome("skipped", f"too steep for finite differences (|gradient| up to "
                                  f"{max(float(np.max(np.abs(g))) for g in grads):.3g}); reverse mode agrees "
                                  "with the unoptimized code, the tape (where it runs) and "
                                  "forward mode")


# modes checked besides reverse (optimized and not, specialized and generic), the tape and forward
# mode: "numba" (backend="numba"; slow to compile) and "hvp" (forward over reverse against finite
# differences of the gradient; a clean refusal is accepted). run.py --modes sets them.
EXTRA_MODES = set()


def _check_generic(f, args, grads, scale):
    """The generic (unspecialized) reverse code the specialized code was made from."""
    df = sd.grad(f, wrt=WRT)
    spec = getattr(df, "__sourcediff_specializations__", None)
    if spec is None or spec.generic is None:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            generic = _as_tuple(spec.generic(*copy.deepcopy(args)))
    except Exception as exc:  # noqa: BLE001
        if is_refusal(exc):
            raise _Outcome("refused", f"generic code: {type(exc).__name__}: {exc}") from None
        raise _Outcome("internal", f"generic reverse code raised:\n{_short_tb(exc)}") from None
    for k, (a, b) in enumerate(zip(generic, grads)):
        if np.shape(a) != np.shape(b) or not np.allclose(a, b, rtol=1e-9, atol=1e-12 * scale):
            raise _Outcome("wrong", f"generic and specialized reverse code disagree on argument "
                                    f"{k}:\ngeneric {a!r}\nspecialized {b!r}")


def _check_numba(f, args, grads, scale, result):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = _as_tuple(sd.grad(f, wrt=WRT, backend="numba")(*copy.deepcopy(args)))
    except Exception as exc:  # noqa: BLE001
        if is_refusal(exc):
            result.notes.append(f"numba refuses: {type(exc).__name__}: {str(exc)[:200]}")
            return
        raise _Outcome("internal", f"numba backend raised:\n{_short_tb(exc)}") from None
    for k, (a, b) in enumerate(zip(got, grads)):
        if np.shape(a) != np.shape(b) or not np.allclose(a, b, rtol=1e-7, atol=1e-10 * scale):
            raise _Outcome("wrong", f"numba and numpy backends disagree on argument {k}:\n"
                                    f"numba {a!r}\nnumpy {b!r}")


def _check_hvp(f, args, scale, result):
    """Forward over reverse against central differences of the reverse gradient."""
    rng = np.random.default_rng(result.seed + 13)
    tangents = tuple(float(rng.normal()) if isinstance(a, float) else rng.normal(size=np.shape(a))
                     for a in args)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hv = _as_tuple(sd.hvp(f, copy.deepcopy(args), tangents))
    except Exception as exc:  # noqa: BLE001
        if is_refusal(exc):
            result.notes.append(f"hvp refuses: {type(exc).__name__}: {str(exc)[:200]}")
            return
        text = _short_tb(exc)
        if "matmul" in text and "dense_grad" in text:  # known (the lead's): symbolic zero 0.0
            result.notes.append("hvp: known matmul_grad crash")
            return
        raise _Outcome("internal", f"hvp (forward over reverse) raised:\n{text}") from None
    df = sd.grad(f, wrt=WRT)

    def moved(h):
        return [a + h * t if not isinstance(a, float) else float(a + h * t)
                for a, t in zip(args, tangents)]

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fds = []
        for h in (1e-5, 1e-4, 1e-6):
            hi, lo = _as_tuple(df(*moved(h))), _as_tuple(df(*moved(-h)))
            fds.append([(np.asarray(a) - np.asarray(b)) / (2 * h) for a, b in zip(hi, lo)])
    for k, a in enumerate(hv):
        tol = 1e-4 * (1.0 + max(float(np.max(np.abs(fd[k]))) for fd in fds))
        if any(np.allclose(a, fd[k], rtol=1e-4, atol=tol) for fd in fds):
            continue
        if not np.allclose(fds[0][k], fds[1][k], rtol=1e-3, atol=10 * tol):
            raise _Outcome("skipped", f"gradient not smooth at the sample point (hvp, argument {k})")
        raise _Outcome("wrong", f"hvp of argument {k} {np.asarray(a)!r} vs finite differences "
                                f"of the gradient {fds[0][k]!r}")


def _check_jacobian(f, args, grads, scale, result):
    """sd.jacobian of the scalar f, forward and reverse, against the reverse gradient."""
    for i in WRT:
        for how in ("forward", "reverse"):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    jac = sd.jacobian(f, wrt=i, mode=how)(*copy.deepcopy(args))
            except Exception as exc:  # noqa: BLE001
                if is_refusal(exc):
                    raise _Outcome("refused", f"jacobian ({how}): {type(exc).__name__}: {exc}") \
                        from None
                raise _Outcome("internal", f"jacobian ({how}, wrt={i}) raised:\n"
                                           f"{_short_tb(exc)}") from None
            if np.shape(jac) != np.shape(grads[i]) or not np.allclose(
                    jac, grads[i], rtol=1e-7, atol=1e-9 * scale):
                raise _Outcome("wrong", f"jacobian ({how}) of argument {i} {np.asarray(jac)!r} "
                                        f"vs reverse gradient {np.asarray(grads[i])!r}")


def _second_fd(df, args, k, v):
    """Central differences of ``df``'s gradients along ``v`` in argument ``k`` (three steps)."""
    out = []
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for h in (1e-5, 1e-4, 1e-6):
            hi = _as_tuple(df(*_perturbed(args, k, v, h)))
            lo = _as_tuple(df(*_perturbed(args, k, v, -h)))
            out.append([(np.asarray(a) - np.asarray(b)) / (2 * h) for a, b in zip(hi, lo)])
    return out


def _second_verdict(name, got, fds):
    for k, a in enumerate(got):
        tol = 1e-4 * (1.0 + max(float(np.max(np.abs(fd[k]))) for fd in fds))
        if any(np.shape(a) == np.shape(fd[k]) and np.allclose(a, fd[k], rtol=1e-4, atol=tol)
               for fd in fds):
            continue
        if not np.allclose(fds[0][k], fds[1][k], rtol=1e-3, atol=10 * tol):
            raise _Outcome("skipped", f"gradient not smooth at the sample point ({name}, {k})")
        raise _Outcome("wrong", f"{name}: block {k} {np.asarray(a)!r} vs finite differences of "
                                f"the gradient {fds[0][k]!r}")


def _second_run(name, run, result):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run()
    except Exception as exc:  # noqa: BLE001
        if is_refusal(exc):
            result.notes.append(f"{name} refuses: {type(exc).__name__}: {str(exc)[:200]}")
            return None
        raise _Outcome("internal", f"{name} raised:\n{_short_tb(exc)}") from None


def _check_second(f, args, scale, result):
    """Second order: sd.hessian (forward over reverse) in x along a direction, and reverse over
    reverse (the gradient of df/ds), against central differences of the reverse gradient."""
    df = sd.grad(f, wrt=WRT)
    rng = np.random.default_rng(result.seed + 19)
    v = rng.normal(size=np.shape(args[0]))
    hess = _second_run("hessian", lambda: sd.hessian(f, wrt=0)(*copy.deepcopy(args)), result)
    if hess is not None:
        n = int(np.size(args[0]))
        hv = np.reshape(np.reshape(hess, (n, n)) @ np.ravel(v), np.shape(args[0]))
        fds = _second_fd(df, args, 0, v)
        _second_verdict("hessian (x)", [hv], [[fd[0]] for fd in fds])
    rr = _second_run("reverse over reverse", lambda: _as_tuple(
        sd.grad(sd.grad(f, wrt=2), wrt=WRT)(*copy.deepcopy(args))), result)
    if rr is not None:
        # d/d(args) of df/ds: along each argument k, the directional difference of df/ds
        for k in WRT:
            w = float(rng.normal()) if k == 2 else rng.normal(size=np.shape(args[k]))
            got = float(np.sum(np.asarray(rr[k]) * w))
            fds = _second_fd(df, args, k, w)
            _second_verdict(f"reverse over reverse (s, argument {k})", [got],
                            [[fd[2]] for fd in fds])


def _model_moved(model, v, h):
    from sourcediff.pytree import object_float_leaves

    m = copy.deepcopy(model)
    seen = set()
    for (path, owner, key, leaf), d in zip(object_float_leaves(m, "model"), v):
        if isinstance(leaf, np.ndarray):
            if id(leaf) not in seen:  # (an array reached twice moves once, in place)
                seen.add(id(leaf))
                leaf += h * d
        elif isinstance(owner, (list, dict)):
            owner[key] = leaf + h * d
        else:
            object.__setattr__(owner, key, leaf + h * d)
    return m


def check_model(module, args, result):
    """``sd.grad(fm)(model, y, s)``, the gradient with respect to a model object (reverse modes:
    specialized, generic, unoptimized) against central differences along a random direction over
    its float leaves; forward mode and hessian must refuse cleanly."""
    from sourcediff.pytree import object_float_leaves
    from tests.objwrt_oracle import leaf_at

    model, rest = module.make_model(*copy.deepcopy(args)), copy.deepcopy(args[1:])
    fm = module.fm
    try:
        m0 = _call(fm, (model,) + rest)
    except (FloatingPointError, OverflowError, ZeroDivisionError) as exc:
        raise _Outcome("skipped", f"fm raises {type(exc).__name__}") from None
    scale = 1.0 + abs(float(m0))
    grads = {}
    for how in ("reverse", "unoptimized", "generic"):
        df = sd.grad(fm, optimize=how != "unoptimized")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                g = df(*copy.deepcopy((model,) + rest))
                if how == "generic":
                    g = df.__sourcediff_specializations__.generic(*copy.deepcopy((model,) + rest))
        except Exception as exc:  # noqa: BLE001
            if is_refusal(exc):
                raise _Outcome("refused", f"model ({how}): {type(exc).__name__}: {exc}") from None
            raise _Outcome("internal", f"model gradient ({how}) raised:\n{_short_tb(exc)}") \
                from None
        if type(g) is not type(model):
            raise _Outcome("wrong", f"model gradient ({how}) is a {type(g).__name__}")
        grads[how] = g
    leaves = list(object_float_leaves(model, "model"))
    rng = np.random.default_rng(result.seed + 17)
    v = [rng.normal(size=np.shape(leaf)) if isinstance(leaf, np.ndarray) else float(rng.normal())
         for _, _, _, leaf in leaves]
    seen, dirs = set(), []
    for (path, _, _, leaf), d in zip(leaves, v):
        first = not isinstance(leaf, np.ndarray) or id(leaf) not in seen
        seen.add(id(leaf))
        dirs.append((path, d if first else 0.0 * d))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fds = [float((fm(_model_moved(model, [d for _, d in dirs], h), *copy.deepcopy(rest))
                      - fm(_model_moved(model, [d for _, d in dirs], -h), *copy.deepcopy(rest)))
                     / (2 * h)) for h in STEPS]
    for how, g in grads.items():
        analytic = sum(float(np.sum(np.asarray(leaf_at(g, path)) * d)) for path, d in dirs)
        if any(_close(fd, analytic, scale) for fd in fds):
            continue
        if not (_close(fds[0], fds[1], 100 * scale) and _close(fds[0], fds[3], 100 * scale)):
            raise _Outcome("skipped", "fm not smooth at the sample point")
        raise _Outcome("wrong", f"model gradient ({how}) {analytic!r} vs finite differences "
                                f"{fds[0]!r}")
    for how, run in (("forward", lambda: sd.grad(fm, mode="forward")(model, *rest)),
                     ("hessian", lambda: sd.hessian(fm)(model, *rest))):
        try:
            run()
        except Exception as exc:  # noqa: BLE001
            if is_refusal(exc):
                continue
            raise _Outcome("internal", f"model {how}: not a clean refusal:\n{_short_tb(exc)}") \
                from None
        raise _Outcome("wrong", f"model {how}: gave a result where it should refuse")


def _check_tape(f, args, grads, scale, result):
    before = copy.deepcopy(args)
    work = copy.deepcopy(args)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tape = grad_of(f, work, wrt=WRT)
    except Exception as exc:  # noqa: BLE001
        if is_refusal(exc):
            result.notes.append(f"tape refuses: {type(exc).__name__}: {str(exc)[:200]}")
            return
        if isinstance(exc.__cause__ or exc.__context__, sd.SourcediffError):
            # numpy re-raises the tape's refusal (e.g. a Tensor written into an ndarray)
            result.notes.append(f"tape refuses (through numpy): {str(exc.__cause__)[:200]}")
            return
        raise _Outcome("internal", f"tape mode (grad_of) crashed:\n{_short_tb(exc)}") from None
    for k, (a, b) in enumerate(zip(work, before)):
        if not _same(a, b):
            raise _Outcome("wrong", f"argument {k} modified by the tape-mode gradient")
    for k, (a, b) in enumerate(zip(tape, grads)):
        if not np.allclose(a, b, rtol=1e-6, atol=1e-9 * scale):
            raise _Outcome("wrong", f"tape and reverse mode disagree on argument {k}:\n"
                                    f"tape {a!r}\nsource {b!r}")


def f0_of(result):
    return result.value


def _check_forward(f, args, grads, scale, result):
    """Forward mode, when it exists: ``sd.jvp(f, primals, tangents) -> (out, out_dot)``."""
    jvp = getattr(sd, "jvp", None)
    if jvp is None:
        return
    rng = np.random.default_rng(result.seed + 11)
    tangents = tuple(float(rng.normal()) if isinstance(a, float) else rng.normal(size=np.shape(a))
                     for a in args)
    work = copy.deepcopy(args)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out, out_dot = jvp(f, tuple(work), tangents)
    except Exception as exc:  # noqa: BLE001
        if is_refusal(exc):
            raise _Outcome("refused", f"forward mode: {type(exc).__name__}: {exc}") from None
        raise _Outcome("internal", f"forward mode crashed:\n{_short_tb(exc)}") from None
    for k, (a, b) in enumerate(zip(work, args)):
        if not _same(a, b):
            raise _Outcome("wrong", f"argument {k} modified by forward mode")
    if not np.allclose(out, f0_of(result), rtol=1e-12, atol=1e-12 * scale):
        raise _Outcome("wrong", f"forward mode value {out!r} but f returns {f0_of(result)!r}")
    expected = sum(float(np.sum(np.asarray(g) * t)) for g, t in zip(grads, tangents))
    if not _close(float(out_dot), expected, scale):
        raise _Outcome("wrong", f"forward mode {float(out_dot)!r} vs reverse mode {expected!r}")


def check_program(module, seed, args=None):
    """Run every oracle on ``module.f`` at the arguments drawn for ``seed``; a :class:`Result`.

    Example::

        from tests.fuzz.generator import generate, load
        prog = generate(5)
        check_program(load(prog), prog.seed).kind     # "ok"
    """
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        source = ""
    result = Result(seed, "ok", source=source)
    try:
        ast.parse(source)
    except SyntaxError as exc:
        result.kind, result.detail = "invalid", f"program does not parse: {exc}"
        return result
    problems = pyflakes_problems(source)
    if problems:
        result.kind, result.detail = "invalid", "program: " + "; ".join(problems)
        return result
    f = module.f
    args = make_args(module.SHAPES, seed) if args is None else args
    try:
        f0 = _call(f, args)
        f0b = _call(f, args)
    except (FloatingPointError, OverflowError, ZeroDivisionError) as exc:
        result.kind, result.detail = "skipped", f"primal raises {type(exc).__name__}: {exc}"
        return result
    except Exception as exc:  # noqa: BLE001  (a program that cannot run is the generator's bug)
        result.kind, result.detail = "invalid", f"primal raises {type(exc).__name__}: {exc}"
        return result
    if np.ndim(f0) != 0 or not np.isfinite(f0) or not _same(f0, f0b):
        result.kind, result.detail = "skipped", f"primal value {f0!r} is not a finite scalar"
        return result
    result.value = f0
    try:
        _check(f, args, f0, result)
        if hasattr(module, "fm"):
            check_model(module, args, result)
    except _Outcome as out:
        result.kind, result.detail = out.kind, out.detail
    return result
