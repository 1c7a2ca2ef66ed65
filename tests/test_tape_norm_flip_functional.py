"""The tape's ``norm(p, dim, keepdim)``, ``flip(dims=...)`` and ``sourcediff.tape.nn.functional``
as PyTorch code calls them, against PyTorch (skipped without it): values, gradients and grad_fn
names. Before, ``x.norm(p=1)``, ``x.norm(dim=1)`` and ``x.flip(dims=(0, 1))`` raised TypeError
and ``T.nn`` did not exist."""

import numpy as np
import pytest

import sourcediff.tape as T

torch = pytest.importorskip("torch")

_INF = float("inf")
_X = np.random.default_rng(1).standard_normal((3, 4))
_X[1, 2] = 0.0  # (a zero entry: the p-norms' subgradients there)

CASES = {
    "p1": lambda m, x: x.norm(p=1),
    "pinf": lambda m, x: x.norm(p=_INF),
    "pinf_dim": lambda m, x: x.norm(_INF, 1).sum(),
    "pminf_dim": lambda m, x: x.norm(p=-_INF, dim=0).sum(),
    "p0_counts": lambda m, x: x.norm(p=0) + x.sum(),
    "p3_keepdim": lambda m, x: (x.norm(3, 0, True) * x).sum(),
    "p2_all_keepdim": lambda m, x: (x.norm(2, keepdim=True) * x).sum(),
    "p_half": lambda m, x: (x.abs() + 0.1).norm(p=0.5),
    "fro_two_dims": lambda m, x: x.norm(dim=(0, 1)),
    "fro_two_dims_keepdim": lambda m, x: (x.norm(dim=(1, 0), keepdim=True) * x).sum(),
    "negative_dim": lambda m, x: x.norm(dim=-1).sum(),
    "dim_as_list": lambda m, x: x.norm(dim=[1]).sum(),
    "zero_row": lambda m, x: (x * m.tensor([[1.0], [0.0], [1.0]])).norm(dim=1).sum(),
    "flip_dims_keyword": lambda m, x: (x.flip(dims=[1]) * x).sum(),
    "flip_tuple": lambda m, x: (x.flip((0, 1)) * x).sum(),
    "F_mse": lambda m, x: m.nn.functional.mse_loss(x, x.detach() * 0 + 0.3),
    "F_mse_sum": lambda m, x: m.nn.functional.mse_loss(x, x.detach() * 0 + 0.3, reduction="sum"),
    "F_l1": lambda m, x: m.nn.functional.l1_loss(x, x.detach() * 0 + 0.3),
    "F_cross_entropy": lambda m, x: m.nn.functional.cross_entropy(x, m.tensor([0, 3, 1])),
    "F_nll": lambda m, x: m.nn.functional.nll_loss(
        m.nn.functional.log_softmax(x, dim=1), m.tensor([2, 2, 1])),
    "F_bce_logits": lambda m, x: m.nn.functional.binary_cross_entropy_with_logits(
        x, (x.detach() > 0).double()),
    "F_bce": lambda m, x: m.nn.functional.binary_cross_entropy(
        m.nn.functional.sigmoid(x), (x.detach() > 0).double()),
    "F_linear": lambda m, x: m.nn.functional.linear(x, x[:2] * 1.0, x[0, :2] * 1.0).sum(),
    "F_softmax_relu_tanh": lambda m, x: (m.nn.functional.softmax(x, dim=1)
                                         * m.nn.functional.relu(x)
                                         * m.nn.functional.tanh(x)).sum(),
}


@pytest.mark.parametrize("name", list(CASES))
def test_as_pytorch_computes_it(name):
    f = CASES[name]
    xt = torch.tensor(_X, dtype=torch.float64, requires_grad=True)
    lt = f(torch, xt)
    lt.backward()
    xs = T.tensor(_X, requires_grad=True)
    ls = f(T, xs)
    ls.backward()
    np.testing.assert_allclose(ls.item(), lt.item(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(xs.grad.numpy()), xt.grad.numpy(), rtol=1e-10,
                               atol=1e-12)
    assert ls.grad_fn.name() == lt.grad_fn.name()


def test_functional_is_importable_as_pytorch_code_imports_it():
    from sourcediff.tape.nn import functional as F

    assert F.cross_entropy is T.cross_entropy and F.mse_loss is T.mse_loss


@pytest.mark.parametrize("call", [lambda x: x.norm(p="nuc"), lambda x: x.norm(p=1, dim=(0, 1)),
                                  lambda x: x.norm(dim=(0, 1, 2))])
def test_norms_the_tape_does_not_take_are_refused_with_what_to_write(call):
    with pytest.raises(T.TapeError, match=r"write the norm out"):
        call(T.tensor(np.ones((2, 3, 2)), requires_grad=True))
