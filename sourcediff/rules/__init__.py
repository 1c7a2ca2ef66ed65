"""The built-in rule table: importing this package registers every rule."""

from . import (  # noqa: F401
    builtin_rules,
    numpy_more_rules,  # noqa: F401,E402
    numpy_rules,
    runtime_rules,
)

try:  # scipy is optional: its rules register only when it imports
    import scipy  # noqa: F401
except ImportError:  # pragma: no cover
    pass
else:
    from . import scipy_rules  # noqa: F401
