"""sourcediff: automatic differentiation of plain Python and numpy by source transformation."""

import sys as _sys  # noqa: E402

from . import optim, tape  # noqa: F401,E402
from . import rules as _rules  # noqa: F401  (registers the built-in rule table)
from .api import grad, source, value_and_grad  # noqa: F401
from .compiled import clear_cache  # noqa: F401
from .custom import custom_jvp, custom_vjp, nondifferentiable, stop_gradient  # noqa: F401
from .errors import (  # noqa: F401
    AliasError,
    BackendError,
    CallError,
    InactiveArgumentError,
    JitFallbackWarning,
    NonScalarOutputError,
    NoRuleError,
    NoSourceError,
    SourcediffError,
    SourcediffSyntaxError,
    SourcediffWarning,
    WrtError,
)
from .pytree import flatten  # noqa: F401
from .rules.registry import defjvp, defnondiff, defvjp  # noqa: F401
from .tape import Tensor, enable_grad, no_grad, set_grad_enabled, tensor  # noqa: F401,E402
from .transforms import elementwise_grad, hessian, hvp, jacobian, jvp, vjp  # noqa: F401

# ``sourcediff.registry`` is where users define rules (``from sourcediff.registry import defvjp``);
# it lives in the rules package
_sys.modules.setdefault(__name__ + ".registry", _rules.registry)
registry = _rules.registry
