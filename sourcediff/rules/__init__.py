"""The built-in rule table: importing this package registers every rule."""

from . import numpy_rules  # noqa: F401
