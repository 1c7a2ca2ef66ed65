"""sourcediff.tape.grad_of with a namedtuple of floats (it became one Tensor, so ``p.a`` raised
AttributeError) and with a Tensor written into a preallocated ndarray (numpy replaced the tape's
error by its own "setting an array element with a sequence")."""

from collections import namedtuple

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.tape import TapeError, grad_of

Params = namedtuple("Params", "a b")


def scaled_sines(p, x):
    return np.exp(p.a) * np.sum(np.sin(p.b * x))


def test_a_namedtuple_of_floats_keeps_its_fields():
    p, x = Params(0.3, 1.2), np.array([0.5, -1.0, 2.0])
    got = grad_of(scaled_sines, (p, x))
    assert type(got) is Params
    want = sd.grad(scaled_sines)(p, x)
    np.testing.assert_allclose([got.a, got.b], [want.a, want.b])


def written_into_an_ndarray(x):
    out = np.empty(2)
    out[0] = np.dot(x, x)
    out[1] = x[0]
    return np.sum(out)


def test_a_tensor_written_into_an_ndarray_gets_the_tapes_message():
    with pytest.raises(TapeError, match="assignment into an ndarray"):
        grad_of(written_into_an_ndarray, (np.array([1.0, 2.0]),))
