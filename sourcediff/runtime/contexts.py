"""The context a user's ``with np.errstate(...)`` or ``with warnings.catch_warnings()`` block
sets, around the generated code of that block's lines (forward and backward sweeps alike)."""

import contextlib
import warnings

import numpy as np

__all__ = ["quiet"]


@contextlib.contextmanager
def quiet(*filters, **errstate):
    """Run under ``np.errstate(**errstate)`` and, when ``filters`` is given (each the keywords of
    one ``warnings.filterwarnings`` call, in the user's order), in ``warnings.catch_warnings()``
    with those filters set; ``filters=({},)`` alone is a bare ``catch_warnings()``.

    Example::

        with quiet(divide="ignore"):
            np.log(0.0)    # -inf, no warning
    """
    with contextlib.ExitStack() as stack:
        if errstate:
            stack.enter_context(np.errstate(**errstate))
        if filters:
            stack.enter_context(warnings.catch_warnings())
            for keywords in filters:
                if keywords:
                    warnings.filterwarnings(**keywords)
        yield
