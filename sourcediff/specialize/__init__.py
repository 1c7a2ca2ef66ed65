"""The specializer: generated code rewritten for the shapes and dtypes of one call signature (see
``passes.py`` for the stage and the order of its passes)."""

from .facts import dict_fact, dict_key, fact_of_signature, signature  # noqa: F401
from .passes import specialize  # noqa: F401
