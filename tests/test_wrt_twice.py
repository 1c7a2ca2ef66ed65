"""A wrt that names one parameter twice is refused in every mode (forward mode and jacobians
gave two equal derivatives for wrt=(0, 0) where reverse mode refused it)."""

import functools

import pytest

import sourcediff as sd
from sourcediff.errors import WrtError


def _product(a, b):
    return a * b


@pytest.mark.parametrize("make", [
    lambda: sd.grad(_product, wrt=(0, 0)),
    lambda: sd.grad(_product, wrt=(0, "a"), mode="forward"),
    lambda: sd.jacobian(_product, wrt=(1, 1)),
    lambda: sd.grad(functools.partial(_product, b=3.0), wrt=(0, 0)),
], ids=["reverse", "forward", "jacobian", "partial"])
def test_a_parameter_named_twice_is_refused(make):
    with pytest.raises(WrtError, match="twice; name each parameter once"):
        make()(2.0, 3.0)
