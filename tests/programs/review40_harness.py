"""review40's programs register here (their own list; the checks are review34's harness).
``modes="object"``: a model object is the argument differentiated, which forward mode, the
hessian and the tape do not take (they refuse by name)."""

from tests.programs.review34_harness import MODES, check, registry, survey  # noqa: F401

CASES, _case = registry()
OBJECT_MODES = ("reverse", "unspecialized", "unoptimized", "numba")


def case(args, wrt=(0,), hessian=False, skip=(), tol=None, modes=None):
    """Register ``f`` with its arguments and the wrt indices."""
    if modes == "object":
        skip = tuple(skip) + tuple(m for m in MODES if m not in OBJECT_MODES)
    return _case(args, wrt, hessian, skip, tol)
