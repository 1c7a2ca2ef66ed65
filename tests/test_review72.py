"""Review 72: Python-level programs (aliasing, control flow, containers, objects) against finite
differences in every mode they run in."""

import numpy as np
import pytest

import sourcediff as sd

from .oracles import check_grads_fd

X4 = np.array([0.7, -0.4, 1.3, -0.9])


# ------------------------------------------------------------ max/min of sequences


def _max_of_pairs(x):
    pairs = [(x[0], x[1]), (x[2], x[3])]
    hi = max(pairs)
    return hi[1] * 5.0 + hi[0] ** 2


def _max_of_two_lists(x):
    a = [x[0], x[1] * x[2]]
    b = [x[2], x[3]]
    return max(a, b)[1] * 5.0 + min(a, b)[0] ** 3


@pytest.mark.parametrize("fn", [_max_of_pairs, _max_of_two_lists])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_max_and_min_of_tuples_and_lists(fn, mode):
    """max(pairs) and max(a, b) compare sequences and return one of them: forward mode failed
    (a tuple tangent times 1.0, then 0.0 + a list's tangent: TypeError at the user's line)
    where reverse mode ran."""
    check_grads_fd(fn, (X4,), (0,), (sd.grad(fn, mode=mode)(X4),))


@pytest.mark.parametrize("fn", [_max_of_pairs, _max_of_two_lists])
def test_max_and_min_of_sequences_second_order(fn):
    h = sd.hessian(fn)(X4)
    g = sd.grad(fn)
    eps = 1e-5
    cols = [(g(X4 + eps * e) - g(X4 - eps * e)) / (2 * eps) for e in np.eye(4)]
    np.testing.assert_allclose(h, np.array(cols).T, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------ a read back through a runtime helper


class _Param:
    def __init__(self, v):
        self.v = v


def _setattr_then_read(x):
    p = _Param(x)
    setattr(p, "v", p.v * 3.0)
    return np.sum(p.v * x)


def test_a_read_back_through_a_runtime_helper_names_the_users_line():
    """The refusal named the runtime helper that made the read (sourcediff/runtime/
    sequences.py, the getattr of the constructor's adjoint), not the user's file and line."""
    with pytest.raises(sd.AliasError) as info:
        sd.grad(_setattr_then_read)(np.array([1.0, 2.0]))
    where = str(info.value).split(":", 1)[0]
    assert where == "test_review72.py" or where.endswith("tests/test_review72.py"), where
    assert "p = _Param(x)" in str(info.value) and 'setattr(p, "v", p.v * 3.0)' in str(info.value)
