"""review41's programs register here (their own list; the checks are review34's harness)."""

from tests.programs.review34_harness import MODES, check, survey  # noqa: F401

CASES = []


def case(args, wrt=(0,), hessian=False, skip=(), tol=None):
    """Register ``f`` with its arguments and the wrt indices."""
    def deco(f):
        CASES.append(dict(name=f.__name__, f=f, args=args, wrt=tuple(wrt), hessian=hessian,
                          skip=tuple(skip), tol=tol or {}))
        return f
    return deco
