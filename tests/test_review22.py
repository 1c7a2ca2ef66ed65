"""review22: adversarial review of the day's changes (cast_grad, new rules, analysis checks)."""

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd

DT = np.float64


def _cast_through_global(x):
    return np.sum(x.astype(DT) * x)


def test_dtype_global_rebound_after_specializing():
    # the specializer took a global holding a scalar type (callable) for a constant and dropped
    # cast_grad for the float result; after DT = int the same code gave 2x for a gradient of x
    # (np.sum(x.astype(int) * x): the truncated x is a constant, true gradient x.astype(int))
    global DT
    x = np.array([0.3, -1.7, 2.4, 1.2])
    df = sd.grad(_cast_through_global)
    DT = np.float64
    try:
        check_grads_fd(_cast_through_global, (x,), (0,), (df(x),))
        DT = np.int64
        g = df(x)
        assert np.allclose(g, x.astype(np.int64)), g
        check_grads_fd(_cast_through_global, (x,), (0,), (g,))
    finally:
        DT = np.float64


_REDUCERS = {"add": np.add.reduce, "cov": np.cov}


def _cov_through_value(x, k="cov"):
    fn = _REDUCERS[k]  # (a callable met at run time: runtime.dynamic runs its rule)
    return np.sum(np.sin(fn(x, aweights=np.exp(x[0]))))


def _reduce_initial_through_value(x, k="add"):
    fn = _REDUCERS[k]
    return np.sum(np.sin(fn(x, 0, initial=2.0)))


def test_rule_met_at_run_time_refuses_a_weight_that_carries_a_derivative():
    # np.cov through a dict value with aweights depending on x: reverse mode dropped the
    # weights' derivative (gave [-1.04, -0.02, 6.56, -5.50, ...] for finite differences
    # [0.03, 0.07, 7.51, -7.61, ...]); compiled where it is seen, the same call is refused
    x = np.array([[0.3, -1.7, 2.4, 1.2], [1.6, 0.2, -0.4, 3.3], [0.9, 1.1, -2.2, 0.7]])
    for mode in ("reverse", "forward"):
        with pytest.raises(sd.SourcediffError, match="aweights"):
            sd.grad(_cov_through_value, mode=mode)(x)


def test_rule_met_at_run_time_refuses_arguments_its_rule_does_not_take():
    # np.add.reduce(x, 0, initial=2.0) through a dict value: forward mode ran the call on the
    # tangent, initial included (gave [0.67, -0.04, ...] for [0.80, 0.09, ...])
    x = np.array([[0.3, -1.7, 2.4, 1.2], [1.6, 0.2, -0.4, 3.3]])
    for mode in ("reverse", "forward"):
        with pytest.raises(sd.SourcediffError, match="initial"):
            sd.grad(_reduce_initial_through_value, mode=mode)(x)


_CREATORS = {"full_like": np.full_like}


def _full_like_through_value(x, k="full_like"):
    return np.sum(np.sin(_CREATORS[k](x, x[0, 0])) * x)


def test_rule_met_at_run_time_gives_no_tangent_through_a_prototype():
    # np.full_like(x, v) through a dict value, x carrying a tangent: forward mode reran the
    # linear rule's call on x's tangent, np.full_like(t, v), a tangent of v everywhere (gave
    # [9.49, 2.42, ...] for [7.37, 0.30, ...]); x gives only the result's shape
    x = np.array([[0.3, -1.7, 2.4, 1.2], [1.6, 0.2, -0.4, 3.3], [0.9, 1.1, -2.2, 0.7]])
    g = sd.grad(_full_like_through_value, mode="forward")(x)
    check_grads_fd(_full_like_through_value, (x,), (0,), (g,))
    assert np.allclose(g, sd.grad(_full_like_through_value)(x))


_M = np.matrix([[1.0, 2.0], [3.0, 4.0]])


def _matrix_times(x):
    return np.sum(np.sin(_M * x) * x)


def test_tape_refuses_a_matrix_operand():
    # grad_of ran M * x as Tensor.__rmul__ (np.matrix.__mul__ gives way to it): the elementwise
    # product on the tape, the matrix product outside it (gave [5.51, 7.40, 2.57, 2.34] for
    # finite differences [-0.34, 11.27, 1.95, 19.61])
    from sourcediff.tape import grad_of
    x = np.array([[0.3, -1.7], [2.4, 1.2]])
    with pytest.raises(sd.SourcediffError, match="np.matrix"):
        grad_of(_matrix_times, (x,))


class _Config:
    M = np.matrix([[1.0, 2.0], [3.0, 4.0]])


def _matrix_through_attribute(x):
    return np.sum(np.sin(_Config.M * x) * x)


def _matrix_default(x, m=_M):
    return np.sum(np.sin(m * x) * x)


def test_forward_mode_refuses_a_matrix_read_through_an_attribute_or_default():
    # review21 refused an np.matrix read by name where the function is compiled; read through
    # an attribute or a default, forward mode gave [7.09, 14.61, 13.69, 24.98] for finite
    # differences [-0.34, 11.27, 1.95, 19.61] (reverse mode refuses the matrix gradient)
    x = np.array([[0.3, -1.7], [2.4, 1.2]])
    for f in (_matrix_through_attribute, _matrix_default):
        with pytest.raises(sd.SourcediffError, match="np.matrix"):
            sd.grad(f, mode="forward")(x)
        with pytest.raises(sd.SourcediffError, match="np.matrix"):
            sd.jvp(f, (x,), (np.ones_like(x),))


def _reduce_into_out_through_value(x, k="add"):
    y = np.zeros(x.shape[1])
    _REDUCERS[k](x, 0, None, y)
    return np.sum(np.sin(y))


def test_rule_met_at_run_time_refuses_out():
    # np.add.reduce(x, 0, None, y) through a dict value wrote into y unseen: both modes gave
    # zeros (finite differences [-0.94, 0.92, 0.98, 0.47, ...])
    x = np.array([[0.3, -1.7, 2.4, 1.2], [1.6, 0.2, -0.4, 3.3]])
    for mode in ("reverse", "forward"):
        with pytest.raises(sd.SourcediffError, match="out="):
            sd.grad(_reduce_into_out_through_value, mode=mode)(x)
