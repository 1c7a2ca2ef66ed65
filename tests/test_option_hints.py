"""numpy options the rules leave out on purpose (``where=``, ``initial=``, ``dtype=``, ``out=``) are
refused in every mode with the line and what to write instead; the rewrite the message names gives
the same value and the finite-difference gradient."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import tape
from tests.oracles import check_grads_fd

MASK = np.array([True, False, True, True])


def masked_sum(x):
    return np.sum(x ** 2, where=MASK)


def masked_mean(x):
    return np.mean(np.sin(x), where=MASK)


def floored_max(x):
    return np.max(x * 2.0, initial=-1.0)


def masked_sum_rewritten(x):
    return np.sum(np.where(MASK, x ** 2, 0.0))


def masked_mean_rewritten(x):
    return np.sum(np.where(MASK, np.sin(x), 0.0)) / np.sum(MASK)


def floored_max_rewritten(x):
    return np.maximum(np.max(x * 2.0), -1.0)


CASES = [(masked_sum, "where", masked_sum_rewritten), (masked_mean, "where", masked_mean_rewritten),
         (floored_max, "initial", floored_max_rewritten)]
X = np.array([0.3, -1.2, 0.8, -0.1])


@pytest.mark.parametrize("f,option,rewritten", CASES, ids=lambda c: getattr(c, "__name__", c))
def test_refused_with_the_rewrite_named(f, option, rewritten):
    calls = {"reverse": lambda: sd.grad(f)(X), "forward": lambda: sd.grad(f, mode="forward")(X),
             "hessian": lambda: sd.hessian(f)(X)}
    for mode, call in calls.items():
        with pytest.raises(sd.SourcediffError) as err:
            call()
        text = str(err.value)
        assert f"test_option_hints.py:" in text, mode
        assert f"no {option}=" in text and ("np.where(mask" in text or "np.maximum(" in text), text
    with pytest.raises(tape.TapeError, match=f"no {option}="):
        tape.grad_of(f, (X,))
    # the rewrite the message suggests: the same value, and a gradient every mode agrees on
    assert np.isclose(rewritten(X), f(X), rtol=1e-14)
    for g in (sd.grad(rewritten)(X), sd.grad(rewritten, mode="forward")(X),
              tape.grad_of(rewritten, (X,))):
        check_grads_fd(rewritten, (X,), (0,), (g,), directions=3)


def test_dtype_of_a_ufunc_names_astype():
    def f(x):
        return np.sum(np.exp(x, dtype=np.float64))

    with pytest.raises(sd.SourcediffError, match=r"no dtype=: convert the operand first"):
        sd.grad(f)(X)


def test_tape_names_the_augmented_assignment_into_a_numpy_array():
    # a[1:] += t on a numpy array is np.add(..., out=...): the message said only "assign the
    # result instead", naming a call the user never wrote
    t = tape.tensor([1.0, 2.0], requires_grad=True)
    a = np.zeros(3)
    with pytest.raises(tape.TapeError, match=r"a \+= t or a\[i\] \+= t.*T\.zeros"):
        a[1:] += t * 2.0
    with pytest.raises(tape.TapeError, match=r"a -= t or a\[i\] -= t"):
        a -= t.sum()
    b = tape.zeros(3)  # the suggested form works
    b[1:] += t * 2.0
    b.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), [2.0, 2.0])
