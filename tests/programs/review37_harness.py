"""review37's programs register here (their own list; the checks are review34's harness)."""

from tests.programs.review34_harness import MODES, check, registry, survey  # noqa: F401

CASES, case = registry()
