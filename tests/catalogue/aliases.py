"""Name resolution: numpy under another name, names imported from numpy and math, module constants.

Rules are keyed by the real function object, so the spelling in the user's module must not matter.
"""

import math
import math as m
from math import exp as math_exp
from math import log

import numpy as xnp
from numpy import cos, linalg, sin
from numpy import sum as npsum
from numpy.linalg import norm

from . import case, normal

SCALE = 0.75
OFFSET = xnp.array([0.5, -1.0, 2.0, 0.25])
WEIGHTS = xnp.linspace(1.0, 2.0, 4)
PARAMS = {"a": 1.5, "b": -0.5}
pi_half = math.pi / 2
tanh_alias = xnp.tanh  # a module-level alias of a numpy function
my_sin = sin


@case(args=normal(4), tags=("alias",))
def numpy_as_xnp(x):
    return xnp.sum(xnp.sin(x) * xnp.exp(-x * x))


@case(args=normal(4), tags=("alias",))
def from_numpy_import(x):
    return npsum(sin(x) ** 2 + cos(2.0 * x))


@case(args=normal(4), tags=("alias",))
def submodule_imports(x):
    return norm(x) + linalg.norm(x * 2.0) + xnp.linalg.norm(x, axis=0)


@case(args=lambda rng: (float(rng.uniform(0.5, 2.0)),), tags=("alias", "float"))
def math_module_spellings(x):
    return math.exp(x) + m.sin(x) + math_exp(-x) + log(x) * m.pi


@case(args=normal(4), tags=("alias",))
def module_constants(x):
    return xnp.sum((x * SCALE + OFFSET) ** 2 * WEIGHTS) + pi_half * x[0]


@case(args=normal(4), tags=("alias",))
def module_dict_constant(x):
    return xnp.sum(PARAMS["a"] * x ** 2 + PARAMS["b"] * x)


@case(args=normal(4), tags=("alias",))
def module_level_function_alias(x):
    return xnp.sum(tanh_alias(x) * my_sin(x))


@case(args=normal(3, 4), tags=("alias", "method"))
def alias_with_methods(x):
    return xnp.sum(x.sum(axis=0) * WEIGHTS) + x.T.dot(x).trace() + xnp.mean(x.max(axis=1))


def _closure_maker(scale):
    def inner(x):
        return xnp.sum(xnp.sin(x * scale) * OFFSET)

    return inner


closure_case = case(args=normal(4), tags=("alias", "closure"))(_closure_maker(1.25))
