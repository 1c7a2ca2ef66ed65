"""The helpers generated code and rules call, imported there as ``_sd`` (``_sd.unbroadcast(g, x)``).

One module per purpose; this package exposes every helper under its own name, so generated code,
rule bodies and ``sourcediff.runtime.X`` read one namespace:

- :mod:`.shapes`: other libraries' arrays (dask, CuPy), shapes, broadcasting and reductions undone
- :mod:`.accumulate`: zeros, ``add_grads``, the gradients of containers (``GradList``, ``GradDict``)
- :mod:`.grads`: the gradients handed back, shaped like the arguments; the backward sweep's seed
- :mod:`.checks`: the output is a scalar, the arguments are what ``wrt`` says, no shared memory
- :mod:`.indexing`: items saved and restored, scatters, index gradients
- :mod:`.loops`: list gradients around ``append``/``pop``, stacked per-pass products, ``map``
- :mod:`.products`: ``@``, ``np.dot``, ``np.einsum``, ``np.kron`` and their contraction plans
- :mod:`.elementwise`: ties of max/min, products of the others, norms, clipping, sigmoids
- :mod:`.moves`: reshape, stack, split, tile, pad, sort order and the like, moved back
- :mod:`.sequences`: lists and tuples under ``+``/``*``, dict views, attributes, named tuples
- :mod:`.linalg`, :mod:`.statistics`, :mod:`.scipy_grads`: np.linalg, numpy's numeric functions, scipy
- :mod:`.contexts`: ``np.errstate`` and ``warnings.catch_warnings`` blocks of the user's code
- :mod:`.dynamic`: calls met only at run time (``dynamic_fwd``, ``run_for_effect``), ``has_aux``
- :mod:`.object_state`: watching attributes a gradient call stores on objects
- :mod:`.objects`: a model object as the argument a gradient is taken with respect to (its check,
  and its gradient as an object of its class)
- :mod:`.stats`: scipy.stats methods without rules written in scipy.special's functions
- :mod:`.written`: numpy functions without rules written in operations that have them
  (``np.corrcoef``, ``np.polyfit``), differentiated in their place from their source
- :mod:`.hooks`: what the runtime needs from the compiler, filled in by :mod:`sourcediff.api`

``_sd.np`` is numpy (code written by rows.py and specialize.py calls ``_sd.np.sum``). The
runtime imports nothing above it (only ``errors``, ``pytree`` and ``registry``).

Every helper exposed here reports ``sourcediff.runtime`` as its ``__module__`` (as numpy's
functions report ``numpy``): the compiler recognises the runtime's helpers by that name (they
write into nothing, their rules are named ``sourcediff.runtime.X``, and one without a rule is
differentiated through its source where generated code is differentiated again), and pickle finds
them here. The object-state helpers keep their own module's name: they write into objects, and the
optimizers must not take them for helpers that write into nothing.
"""

import numpy as np  # noqa: F401  (code the specializer writes reaches numpy as _sd.np.sum)

from . import (  # noqa: F401  (runtime.hooks is filled in by sourcediff.api)
    accumulate,
    checks,
    contexts,
    dynamic,
    elementwise,
    generated,
    grads,
    hooks,
    indexing,
    linalg,
    loops,
    moves,
    object_state,
    objects,
    products,
    scipy_grads,
    sequences,
    shapes,
    statistics,
    stats,
    written,
)
from .accumulate import *  # noqa: F401,F403
from .checks import *  # noqa: F401,F403
from .checks import _float_leaves  # noqa: F401  (sourcediff.operators)
from .contexts import *  # noqa: F401,F403
from .dynamic import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .grads import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .linalg import _NUMPY2  # noqa: F401  (rule bodies)
from .loops import *  # noqa: F401,F403
from .moves import *  # noqa: F401,F403
from .object_state import *  # noqa: F401,F403
from .products import *  # noqa: F401,F403
from .products import _einsum_plan, _grads_plan  # noqa: F401  (tests read the plans)
from .scipy_grads import *  # noqa: F401,F403
from .sequences import *  # noqa: F401,F403
from .shapes import *  # noqa: F401,F403
from .statistics import *  # noqa: F401,F403
from .stats import *  # noqa: F401,F403
from .written import *  # noqa: F401,F403

_PURE = (accumulate, checks, contexts, dynamic, elementwise, grads, indexing, linalg, loops, moves,
         products, scipy_grads, sequences, shapes, statistics, stats, written)


def _report_here():
    """Set ``__module__`` of every function and class exposed here from the modules in ``_PURE``
    to this package's name (see the module docstring)."""
    for value in list(globals().values()):
        module = getattr(value, "__module__", None)
        if isinstance(value, (type, type(_report_here))) and \
                any(module == m.__name__ for m in _PURE):
            value.__module__ = __name__


_report_here()
