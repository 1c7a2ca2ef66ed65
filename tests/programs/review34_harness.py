"""review34's harness: one program's gradient in every mode (specialized reverse, generic reverse,
unoptimized, forward, numba, the tape, the hessian) against central finite differences over the
flattened wrt arguments (tests/objwrt_oracle.py for a model object)."""

import copy
import warnings

import numpy as np

import sourcediff as sd
from sourcediff.errors import SourcediffError
from sourcediff.pytree import is_model_object
from sourcediff.tape import grad_of
from sourcediff.testing import _mode_gradients

MODES = ("reverse", "unspecialized", "unoptimized", "forward", "numba", "tape", "hessian")


def _fd(f, args, i, h=1e-6):
    vec, unflat = sd.flatten(args[i])
    out = np.zeros(vec.size)
    for k in range(vec.size):
        vals = []
        for s in (1.0, -1.0):
            a = list(copy.deepcopy(args))
            v = vec.copy()
            v[k] += s * h
            a[i] = unflat(v)
            vals.append(float(f(*a)))
        out[k] = (vals[0] - vals[1]) / (2 * h)
    return out


def _fd_hessian(f, args, i, h=1e-5):
    vec, unflat = sd.flatten(args[i])
    g = sd.grad(f, wrt=i)
    rows = []
    for k in range(vec.size):
        gs = []
        for s in (1.0, -1.0):
            a = list(copy.deepcopy(args))
            v = vec.copy()
            v[k] += s * h
            a[i] = unflat(v)
            gs.append(sd.flatten(g(*a))[0])
        rows.append((gs[0] - gs[1]) / (2 * h))
    return np.array(rows)


def gradients(f, args, wrt, mode):
    """The gradients (a tuple, one per wrt index) of ``f`` in ``mode``."""
    args = copy.deepcopy(tuple(args))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if mode == "numba":
            return sd.grad(f, wrt=tuple(wrt), backend="numba")(*args)
        if mode == "tape":
            return tuple(grad_of(f, list(args), wrt=tuple(wrt)))
        return _mode_gradients(f, args, wrt, mode)


def check(f, args, wrt, mode, rtol=1e-5, atol=1e-7):
    """None when ``mode`` gives the finite-difference gradient; raises AssertionError when it gives
    another number, SourcediffError when it refuses."""
    if mode == "hessian":
        i = wrt[0]
        vec, unflat = sd.flatten(args[i])
        got = np.asarray(sd.hessian(f, wrt=i)(*copy.deepcopy(args))).reshape(vec.size, vec.size)
        want = _fd_hessian(f, args, i)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * (1 + np.abs(want).max()))
        return
    got = gradients(f, args, wrt, mode)
    for i, g in zip(wrt, got):
        if is_model_object(args[i]):
            from tests.objwrt_oracle import check_object_grad
            check_object_grad(lambda m, *r: f(*r[:i], m, *r[i:]),
                              copy.deepcopy(args[i]), *args[:i], *args[i + 1:], grad=g,
                              rtol=rtol, atol=atol)
            continue
        want = _fd(f, args, i)
        flat = sd.flatten(g)[0]
        assert flat.shape == want.shape, (flat.shape, want.shape)
        scale = 1 + np.abs(want).max()
        np.testing.assert_allclose(flat, want, rtol=rtol, atol=atol * scale,
                                   err_msg=f"mode {mode}, argument {i}")


def survey(cases, modes=MODES):
    """{(name, mode): "ok" | "WRONG ..." | "refused ..." | "crash ..."} over the cases."""
    out = {}
    for c in cases:
        for mode in modes:
            if mode in c.get("skip", ()) or (mode == "hessian" and not c.get("hessian")):
                continue
            try:
                check(c["f"], c["args"], c["wrt"], mode, **c.get("tol", {}))
                out[c["name"], mode] = "ok"
            except AssertionError as e:
                out[c["name"], mode] = "WRONG " + str(e)[:300]
            except SourcediffError as e:
                out[c["name"], mode] = "refused " + type(e).__name__ + ": " + str(e)[:300]
            except Exception as e:  # noqa: BLE001
                out[c["name"], mode] = "crash " + type(e).__name__ + ": " + str(e)[:300]
    return out


def registry():
    """A list of programs of one review and the decorator that registers a program there with
    its arguments and wrt indices (``@case(args, wrt=(0, 1), hessian=True)``)."""
    cases = []

    def case(args, wrt=(0,), hessian=False, skip=(), tol=None):
        def deco(f):
            cases.append(dict(name=f.__name__, f=f, args=args, wrt=tuple(wrt), hessian=hessian,
                              skip=tuple(skip), tol=tol or {}))
            return f
        return deco
    return cases, case


CASES, case = registry()
