"""Entry point of ``python -m sourcediff`` (see :mod:`sourcediff.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
