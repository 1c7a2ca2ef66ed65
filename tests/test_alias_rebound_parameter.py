"""A call that writes into its argument in place, given a parameter of the function twice, in a
statement that rebinds that parameter (``y = y + 0.2 * np.tanh(h(y, y))``). The alias check of
the call names the parameter, read after it; a check that names only values bound where it runs
took the parameter for unbound there (its one binding in the function comes after) and dropped
it: the write went through unseen and reverse mode gave a wrong gradient, silently. Parameters are
bound from the start."""

import numpy as np
import pytest

import sourcediff as sd


def writes_first(a, b):
    a[-3] *= np.sum(a)
    return b


def rebinds_the_parameter(x, y, s):
    y = y + 0.3 + 0.2 * np.tanh(writes_first(y, y))
    return s + np.sum(y) * x[0]


def rebinds_a_keyword_only_parameter(x, s, *, y):
    y = y + 0.3 + 0.2 * np.tanh(writes_first(y, y))
    return s + np.sum(y) * x[0]


ARGS = (np.array([0.5]), np.array([0.3, -0.4, 0.7]), 0.8)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_the_write_into_a_rebound_parameter_is_refused(mode):
    with pytest.raises(sd.AliasError, match="writes in place into memory y shares"):
        sd.grad(rebinds_the_parameter, wrt=(1, 2), mode=mode)(*[np.copy(a) for a in ARGS])


def test_the_same_for_a_keyword_only_parameter():
    # (reverse mode: forward mode takes no keyword-only parameters)
    x, y, s = (np.copy(a) for a in ARGS)
    with pytest.raises(sd.AliasError, match="memory y shares"):
        sd.grad(rebinds_a_keyword_only_parameter, wrt=(0, 1))(x, s, y=y)
