"""sourcediff.optim: SGD and Adam against torch.optim and the textbook formulas; numpy and tape."""

import doctest

import numpy as np
import pytest

import sourcediff as sd
import sourcediff.pytree  # noqa: F401  (sd.pytree.leaves)
from sourcediff import optim
from sourcediff import tape as T
from sourcediff.optim import SGD, Adam

STEPS = 25

SGD_CONFIGS = [
    {"lr": 0.1},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.3},
    {"lr": 0.05, "momentum": 0.8, "nesterov": True},
    {"lr": 0.1, "weight_decay": 0.01},
    {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1, "nesterov": True},
    {"lr": 0.1, "maximize": True},
]
ADAM_CONFIGS = [
    {},
    {"lr": 0.05},
    {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.05, "amsgrad": True},
    {"lr": 0.05, "maximize": True},
]
CASES = [(SGD, c) for c in SGD_CONFIGS] + [(Adam, c) for c in ADAM_CONFIGS]


def case_id(case):
    cls, config = case
    return cls.__name__ + "-" + "-".join(f"{k}={v}" for k, v in config.items())


def start(dtype):
    """Two parameters (a matrix and a vector) with fixed values."""
    rng = np.random.default_rng(0)
    return [rng.normal(size=(3, 2)).astype(dtype), rng.normal(size=(2,)).astype(dtype)]


def gradient(params, k):
    """A gradient that depends on the parameters and the step (a non-quadratic loss)."""
    w, b = params
    return [np.tanh(w) * 2.0 + 0.1 * k, np.sin(b) - 0.5 + 0.01 * k * b]


def run_numpy(cls, config, dtype, steps=STEPS):
    params = start(dtype)
    kept = list(params)
    opt = cls(params, **config)
    for k in range(steps):
        opt.step(gradient(params, k))
    assert all(p is q for p, q in zip(params, kept))
    return params


def run_tape(cls, config, dtype, steps=STEPS):
    params = [T.tensor(p, requires_grad=True) for p in start(dtype)]
    opt = cls(params, **config)
    for k in range(steps):
        opt.zero_grad()
        values = [p.detach().numpy() for p in params]
        w, b = params
        gw, gb = gradient(values, k)
        ((w * T.tensor(gw)).sum() + (b * T.tensor(gb)).sum()).backward()
        opt.step()
    return [p.detach().numpy() for p in params]


def run_torch(torch, cls, config, dtype, steps=STEPS):
    params = [torch.tensor(p, requires_grad=True) for p in start(dtype)]
    opt = getattr(torch.optim, cls.__name__)(params, **config)
    for k in range(steps):
        opt.zero_grad()
        grads = gradient([p.detach().numpy() for p in params], k)
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(np.ascontiguousarray(g))
        opt.step()
    return [p.detach().numpy() for p in params]


def textbook(cls, config, dtype, steps=STEPS):
    """The update rules as written in the torch.optim documentation, computed directly."""
    params = [p.astype(np.float64) for p in start(dtype)]
    lr = config.get("lr", 1e-3)
    wd = config.get("weight_decay", 0.0)
    sign = -1.0 if config.get("maximize") else 1.0
    if cls is SGD:
        mu, tau = config.get("momentum", 0.0), config.get("dampening", 0.0)
        bufs = [None, None]
        for k in range(steps):
            grads = gradient(params, k)
            for i, (p, g) in enumerate(zip(params, grads)):
                g = sign * g + wd * p
                if mu:
                    bufs[i] = g if k == 0 else mu * bufs[i] + (1 - tau) * g
                    g = g + mu * bufs[i] if config.get("nesterov") else bufs[i]
                params[i] = p - lr * g
        return params
    b1, b2 = config.get("betas", (0.9, 0.999))
    eps = config.get("eps", 1e-8)
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    vmax = [np.zeros_like(p) for p in params]
    for k in range(steps):
        t = k + 1
        grads = gradient(params, k)
        for i, (p, g) in enumerate(zip(params, grads)):
            g = sign * g + wd * p
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g**2
            m_hat = m[i] / (1 - b1**t)
            if config.get("amsgrad"):
                vmax[i] = np.maximum(vmax[i], v[i])
                v_hat = vmax[i] / (1 - b2**t)
            else:
                v_hat = v[i] / (1 - b2**t)
            params[i] = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return params


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_numpy_matches_textbook_formula(case):
    cls, config = case
    for got, want in zip(run_numpy(cls, config, np.float64), textbook(cls, config, np.float64)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_matches_torch(case, dtype):
    torch = pytest.importorskip("torch")
    cls, config = case
    tight = dtype == np.float64
    for got, want in zip(run_numpy(cls, config, dtype), run_torch(torch, cls, config, dtype)):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=1e-12 if tight else 2e-5,
                                   atol=1e-14 if tight else 1e-6)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_tape_matches_numpy(case):
    cls, config = case
    for got, want in zip(run_tape(cls, config, np.float64), run_numpy(cls, config, np.float64)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_numpy_update_is_in_place():
    w = np.array([1.0, -2.0])
    view = w[:1]
    opt = SGD([w], lr=0.5)
    opt.step([np.array([1.0, 1.0])])
    np.testing.assert_array_equal(w, [0.5, -2.5])
    assert view[0] == 0.5


def test_numpy_zero_d_parameter_and_single_gradient():
    a = np.array(3.0)
    opt = Adam([a], lr=0.1)
    opt.step(2 * a)  # one parameter: a bare gradient is accepted
    assert a.shape == () and a == pytest.approx(2.9)


def test_none_gradient_skips_parameter():
    w, b = np.ones(2), np.ones(2)
    SGD([w, b], lr=1.0).step([np.ones(2), None])
    np.testing.assert_array_equal(w, [0.0, 0.0])
    np.testing.assert_array_equal(b, [1.0, 1.0])


def test_param_groups_have_their_own_lr():
    w, b = np.ones(2), np.ones(2)
    opt = SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
    opt.step([np.ones(2), np.ones(2)])
    np.testing.assert_allclose(w, 0.9)
    np.testing.assert_allclose(b, 0.5)
    opt.param_groups[0]["lr"] = 0.0
    opt.step([np.ones(2), np.ones(2)])
    np.testing.assert_allclose(w, 0.9)
    assert "Parameter Group 1" in repr(opt)


@pytest.mark.parametrize("params, error, words", [
    ([], ValueError, "empty parameter list"),
    (np.ones(3), TypeError, "write [w] instead of w"),
    ([1.5], TypeError, "numpy arrays"),
    ([np.arange(3)], TypeError, "floating dtype"),
])
def test_bad_parameters(params, error, words):
    with pytest.raises(error) as info:
        SGD(params, lr=0.1)
    assert words in str(info.value)


def test_read_only_parameter():
    w = np.ones(2)
    w.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        SGD([w], lr=0.1)


def test_duplicate_parameter():
    w = np.ones(2)
    with pytest.raises(ValueError, match="more than once"):
        SGD([w, w], lr=0.1)


def test_bad_hyper_parameters():
    with pytest.raises(ValueError, match="Invalid learning rate"):
        SGD([np.ones(2)], lr=-1.0)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD([np.ones(2)], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        Adam([np.ones(2)], betas=(0.9, 1.0))


def test_step_gradient_errors():
    w, b = np.ones(2), np.ones(3)
    opt = SGD([w, b], lr=0.1)
    with pytest.raises(TypeError, match=r"opt.step\(grads\)"):
        opt.step()
    with pytest.raises(ValueError, match="1 gradient"):
        opt.step([np.ones(2)])
    with pytest.raises(ValueError, match="shape"):
        opt.step([np.ones(2), np.ones(2)])


def test_tape_zero_grad_sets_none_by_default():
    x = T.tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([x], lr=0.1)
    (x * x).sum().backward()
    grad = x.grad
    opt.zero_grad(set_to_none=False)
    assert x.grad is grad
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert x.grad is None
    opt.step()  # no gradient: nothing to do
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 2.0])


def test_tape_step_updates_tensor_and_bumps_version():
    x = T.tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([x], lr=0.1)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    opt.step()
    np.testing.assert_allclose(x.detach().numpy(), [0.8, 1.6])
    assert x.requires_grad and x.is_leaf
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_tape_non_leaf_refused():
    x = T.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        SGD([x * 2], lr=0.1)


def test_tape_zero_grad_matches_torch():
    torch = pytest.importorskip("torch")
    lin = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    lin(torch.ones(1, 2)).sum().backward()
    opt.zero_grad()
    x = T.tensor([1.0, 2.0], requires_grad=True)
    ours = SGD([x], lr=0.1)
    (x * x).sum().backward()
    ours.zero_grad()
    assert (lin.weight.grad is None) == (x.grad is None)


def test_docstring_examples():
    result = doctest.testmod(optim)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------- trees of parameters

def _mlp_loss(params, x, y):
    h = x
    for W, b in params[:-1]:
        h = np.tanh(h @ W + b)
    W, b = params[-1]
    return np.mean((h @ W + b - y) ** 2)


def _dict_loss(p, x, y):
    return np.mean((np.tanh(x @ p["enc"]["W"]) @ p["dec"] - y) ** 2) + 0.1 * np.sum(p["enc"]["b"] ** 2)


def _tree_data(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    mlp = [(rng.standard_normal((3, 4)) * 0.5, np.zeros(4)),
           (rng.standard_normal((4, 1)) * 0.5, np.zeros(1))]
    tree = {"enc": {"W": rng.standard_normal((3, 4)) * 0.5, "b": rng.standard_normal(2)},
            "dec": rng.standard_normal((4, 1)) * 0.5}
    return x, y, mlp, tree


@pytest.mark.parametrize("which", ["list_of_pairs", "nested_dict"])
@pytest.mark.parametrize("make", [lambda p: SGD(p, lr=0.1, momentum=0.9),
                                  lambda p: Adam(p, lr=0.05)], ids=["sgd", "adam"])
def test_an_optimizer_over_a_tree_of_parameters_steps_like_over_their_flat_list(which, make):
    """``Adam([(W1, b1), (W2, b2)])`` / ``Adam({"enc": {...}, "dec": W})`` with
    ``step(sd.grad(loss)(params, ...))`` updates the arrays in place exactly as the same optimizer
    over the flat list of arrays with the gradients listed in that order."""
    x, y, mlp, tree = _tree_data(5)
    params, loss = (mlp, _mlp_loss) if which == "list_of_pairs" else (tree, _dict_loss)
    flat_params = [np.array(a) for a in sd.pytree.leaves(params)]
    opt_tree, opt_flat = make(params), make(flat_params)
    dloss = sd.grad(loss)
    first = loss(params, x, y)
    for _ in range(5):
        g = dloss(params, x, y)
        assert type(g) is type(params)
        opt_tree.step(g)
        opt_flat.step(sd.pytree.leaves(dloss(sd.pytree.rebuild(params, flat_params), x, y)))
    for a, b in zip(sd.pytree.leaves(params), flat_params):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert loss(params, x, y) < first


def test_a_tree_optimizer_takes_missing_entries_as_no_gradient_and_refuses_a_wrong_structure():
    x, y, _, tree = _tree_data(6)
    before = [a.copy() for a in sd.pytree.leaves(tree)]
    opt = SGD(tree, lr=0.1)
    opt.step({"dec": np.ones((4, 1))})  # no gradient for "enc": it stays
    after = sd.pytree.leaves(tree)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[2], before[2] - 0.1)
    with pytest.raises(ValueError, match="not parameters of this optimizer"):
        opt.step({"decoder": np.ones((4, 1))})
    with pytest.raises(TypeError, match="as a dict with the same keys"):
        opt.step([np.ones((3, 4)), np.ones(2), np.ones((4, 1))])
