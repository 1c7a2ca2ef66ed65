"""The built-in rule table: importing this package registers every rule."""

from . import builtin_rules, numpy_rules, runtime_rules  # noqa: F401
