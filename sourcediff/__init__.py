"""sourcediff: automatic differentiation of plain Python and numpy by source transformation."""

from . import rules as _rules  # noqa: F401  (registers the built-in rule table)
from .errors import (  # noqa: F401
    InactiveArgumentError,
    NoRuleError,
    NonScalarOutputError,
    NoSourceError,
    SourcediffError,
    SourcediffSyntaxError,
    WrtError,
)
from .registry import defjvp, defnondiff, defvjp  # noqa: F401
from .api import clear_cache, grad, source, value_and_grad  # noqa: F401
