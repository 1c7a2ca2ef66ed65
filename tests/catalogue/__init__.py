"""The catalogue of test programs: plain numpy functions with their inputs, wrt and tags.

Each module in this package registers cases with :func:`case`; every oracle (finite differences,
the tape, PyTorch when installed) and every mode runs over :data:`CASES`.
"""

import importlib
import pkgutil
from dataclasses import dataclass, field

import numpy as np

CASES = []


@dataclass
class Case:
    """One catalogue entry."""

    fn: object
    make_args: object  # rng -> tuple of arguments
    wrt: tuple
    tags: tuple = ()
    rtol: float = 1e-5
    modes: tuple = ("rev",)
    name: str = field(default="")

    def args(self, seed=0):
        return self.make_args(np.random.default_rng(seed))

    def __repr__(self):
        return self.name


def case(*, args, wrt=(0,), tags=(), rtol=1e-5):
    """Register the decorated function as a catalogue case; returns the function unchanged."""
    def register(fn):
        w = wrt if isinstance(wrt, tuple) else (wrt,)
        CASES.append(Case(fn, args, w, tuple(tags), rtol, name=f"{fn.__module__.split('.')[-1]}."
                                                                f"{fn.__name__}"))
        return fn

    return register


def normal(*shape):
    """An args-maker helper: a 1-tuple of a standard normal array (or float for shape ())."""
    def make(rng):
        return (rng.normal(size=shape) if shape else float(rng.normal()),)

    return make


def load_all():
    """Import every catalogue module (registering its cases) and return :data:`CASES`."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return CASES
