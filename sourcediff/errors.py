"""The exceptions a user of sourcediff can meet; each names the construct, the place and the fix."""


class SourcediffError(Exception):
    """Base class of every error sourcediff raises on purpose."""


class SourcediffSyntaxError(SourcediffError):
    """A construct in the user's function that the compiler does not support."""


class NoRuleError(SourcediffError):
    """A call on an active value to a function with no derivative rule."""


class NoJvpRuleError(NoRuleError):
    """Forward mode met a function that has a vjp rule of its own but no jvp rule (an
    ``sd.custom_vjp`` without ``defjvp``): reverse mode can still differentiate it."""


class AliasError(SourcediffError):
    """An in-place write that numpy would make visible through another name still in use."""


class NoSourceError(SourcediffError):
    """The function's source code cannot be read (builtins, C functions, exec'd code)."""


class NonScalarOutputError(SourcediffError, ValueError):
    """``grad`` of a function whose output is not a scalar."""


class InactiveArgumentError(SourcediffError, TypeError):
    """A ``wrt`` argument that cannot carry a derivative (integer, boolean, complex, object)."""


class CallError(SourcediffError, TypeError):
    """A derivative function called with arguments its function does not take (too many or too
    few, a keyword it has no parameter for, a tangent passed by position)."""


class WrtError(SourcediffError, ValueError):
    """A ``wrt`` that names no parameter of the function."""


class BackendError(SourcediffError, ValueError):
    """A ``backend=`` that is not one of sourcediff's, or that the other options rule out."""


class SourcediffWarning(UserWarning):
    """Base class of the warnings sourcediff gives."""


class JitFallbackWarning(SourcediffWarning):
    """``backend="numba"`` could not compile a gradient; the numpy code runs instead."""


def where(filename, lineno, col=None):
    """``file.py:12`` or ``file.py:12:5`` for messages."""
    if col is None:
        return f"{filename}:{lineno}"
    return f"{filename}:{lineno}:{col + 1}"
