"""has_aux=True: a function returning (loss, aux) gets its gradient and aux from one run."""

import numpy as np
import pytest

import sourcediff as sd

def loss_with_aux(w, x):
    print("loss_with_aux ran")
    pred = np.tanh(x @ w)
    return np.sum(pred ** 2), {"pred": pred, "norm": np.sum(w * w)}


W = np.array([0.5, -1.0])
X = np.linspace(-1.0, 1.0, 6).reshape(3, 2)


def fd(w, eps=1e-6):
    out = np.zeros_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = eps
        out[i] = (loss_with_aux(w + e, X)[0] - loss_with_aux(w - e, X)[0]) / (2 * eps)
    return out


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_grad_with_aux_returns_the_gradient_and_aux(mode):
    g, aux = sd.grad(loss_with_aux, has_aux=True, mode=mode)(W, X)
    np.testing.assert_allclose(g, fd(W), rtol=1e-7)
    np.testing.assert_allclose(aux["pred"], np.tanh(X @ W))
    assert aux["norm"] == pytest.approx(1.25)


def test_value_and_grad_with_aux_follows_jax_and_runs_the_function_once(capsys):
    (value, aux), g = sd.value_and_grad(loss_with_aux, has_aux=True)(W, X)
    assert capsys.readouterr().out.count("ran") == 1
    assert value == pytest.approx(loss_with_aux(W, X)[0])
    np.testing.assert_allclose(g, fd(W), rtol=1e-7)
    assert set(aux) == {"pred", "norm"}


def returns_a_scalar(w, x):
    return np.sum(w * x)


def test_has_aux_on_a_function_that_returns_no_pair_says_so():
    with pytest.raises(sd.SourcediffError, match=r"\(loss, aux\)"):
        sd.grad(returns_a_scalar, has_aux=True)(W, W)
