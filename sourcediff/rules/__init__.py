"""The built-in rule table: importing this package registers every rule.

The order matters where two tables register the same key (the later one's rule is the one kept),
so it is written out, one table per line, and kept out of import sorting."""

# isort: off
from . import builtin_rules  # noqa: F401
from . import numpy_rules  # noqa: F401
from . import numpy_creation_rules  # noqa: F401
from . import runtime_rules  # noqa: F401
from . import numpy_more_rules  # noqa: F401
from . import shape_facts  # noqa: F401
# isort: on

try:  # scipy is optional: its rules register only when it imports
    import scipy  # noqa: F401
except ImportError:  # pragma: no cover
    pass
else:
    from . import scipy_rules  # noqa: F401
