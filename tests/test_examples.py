"""The examples run, and their losses follow PyTorch's float32 trajectories in both modes."""

import contextlib
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TRAJECTORIES = json.loads((EXAMPLES / "data" / "trajectories.json").read_text())
RTOL = 1e-4
MODES = ("tape", "source")


def load_example(name):
    """Import ``examples/<name>.py`` as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_main(module):
    """``module.main()`` with its printed output captured: ``(result, text)``."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = module.main()
    return result, out.getvalue()


@pytest.fixture(scope="module")
def two_layer():
    module = load_example("two_layer_net")
    return module, *run_main(module)


@pytest.fixture(scope="module")
def poly():
    module = load_example("polynomial_fit")
    return module, *run_main(module)


@pytest.fixture(scope="module")
def xor():
    module = load_example("xor_optimizer")
    return module, *run_main(module)


@pytest.fixture(scope="module")
def tour():
    module = load_example("autograd_tour")
    return module, *run_main(module)


def assert_follows(losses, key):
    """Same recorded steps as PyTorch's run, every loss within RTOL relative."""
    ref = [tuple(p) for p in TRAJECTORIES[key]]
    assert [t for t, _ in losses] == [t for t, _ in ref]
    got = np.array([v for _, v in losses])
    want = np.array([v for _, v in ref])
    np.testing.assert_allclose(got, want, rtol=RTOL)


def test_data_files_are_shipped():
    for name in ("two_layer_seed0.npz", "poly_seed0.npz", "xor_seed0_init.npz",
                 "trajectories.json"):
        assert (EXAMPLES / "data" / name).is_file()


@pytest.mark.parametrize("mode", MODES)
def test_two_layer_follows_pytorch_float32(two_layer, mode):
    _, result, _ = two_layer
    assert_follows(result[mode], "two_layer_float32")


def test_two_layer_prints_table_and_source(two_layer):
    _, _, text = two_layer
    assert "def value_and_grad_loss(w1, b1, w2, b2, x, y):" in text
    assert "   200  " in text


def test_two_layer_source_mode_stays_float32(two_layer):
    module, _, _ = two_layer
    x, y, w1, w2 = module.load()
    b1, b2 = np.zeros((1, 32), np.float32), np.zeros((1, 1), np.float32)
    _, grads = module.sd.value_and_grad(module.loss, wrt=(0, 1, 2, 3))(w1, b1, w2, b2, x, y)
    assert all(g.dtype == np.float32 for g in grads)
    assert [g.shape for g in grads] == [w1.shape, b1.shape, w2.shape, b2.shape]


@pytest.mark.parametrize("mode", MODES)
def test_polynomial_follows_pytorch_float32(poly, mode):
    _, result, _ = poly
    assert_follows(result[mode], "poly_float32")


@pytest.mark.parametrize("mode", MODES)
def test_polynomial_final_coefficients(poly, mode):
    module, _, _ = poly
    _, abcd = module.train_tape() if mode == "tape" else module.train_source()
    np.testing.assert_allclose(abcd, TRAJECTORIES["poly_float32_final_abcd"], rtol=RTOL, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_xor_follows_pytorch_float32(xor, mode):
    _, result, _ = xor
    assert_follows(result[mode], "xor_seed0_lr0.1")


def test_xor_initial_values_match_the_json(xor):
    module, _, _ = xor
    init = TRAJECTORIES["xor_seed0_init"]
    for got, key in zip(module.load(), ("0.weight", "0.bias", "2.weight", "2.bias")):
        np.testing.assert_array_equal(got, np.array(init[key], np.float32))


def test_xor_adam_against_torch(xor):
    torch = pytest.importorskip("torch")
    module, _, _ = xor
    epochs = 300
    losses, _ = module.train_source(
        epochs=epochs, make_optimizer=lambda ps: module.Adam(ps, lr=0.03))
    params = [torch.tensor(p, requires_grad=True) for p in module.load()]
    w1, b1, w2, b2 = params
    x, y = torch.tensor(module.X), torch.tensor(module.Y)
    opt = torch.optim.Adam(params, lr=0.03)
    ref = []
    for epoch in range(1, epochs + 1):
        opt.zero_grad()
        out = torch.sigmoid(torch.sigmoid(x @ w1.T + b1) @ w2.T + b2)
        loss = ((out - y) ** 2).mean()
        loss.backward()
        opt.step()
        if module.recorded(epoch):
            ref.append((epoch, loss.item()))
    assert [e for e, _ in losses] == [e for e, _ in ref]
    np.testing.assert_allclose([v for _, v in losses], [v for _, v in ref], rtol=RTOL)


def test_tour_modes_agree(tour):
    _, result, _ = tour
    assert set(result["tape"]) == set(result["source"]) == {"z", "y", "x2", "x1"}
    for name in result["tape"]:
        tape_grad = np.asarray(result["tape"][name])
        source_grad = np.asarray(result["source"][name])
        assert tape_grad.shape == source_grad.shape
        np.testing.assert_allclose(tape_grad, source_grad, rtol=1e-6)


def test_tour_prints_graph_and_source(tour):
    _, _, text = tour
    for line in ("MeanBackward0 (index None)", "PowBackward0 (index 0)",
                 "AccumulateGrad (index 0)", "None (index 0)", "def grad_f(x1, x2):",
                 "# grad of: z = y**2 * 3"):
        assert line in text


def test_tour_against_torch(tour):
    torch = pytest.importorskip("torch")
    _, result, _ = tour
    x1 = torch.ones(2, 2, requires_grad=True)
    x2 = torch.tensor(1.1, requires_grad=True)
    y = x1 * (x2 + 2)
    y.retain_grad()
    z = y.pow(2) * 3
    z.retain_grad()
    z.mean().backward()
    for name, t in (("z", z), ("y", y), ("x2", x2), ("x1", x1)):
        for mode in MODES:
            np.testing.assert_allclose(result[mode][name], t.grad.numpy(), rtol=1e-6)


def test_examples_run_as_scripts():
    done = subprocess.run([sys.executable, str(EXAMPLES / "autograd_tour.py")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "The two modes agree: True" in done.stdout


def test_out_of_core_fits_within_its_memory_cap():
    pytest.importorskip("dask.array")
    module = load_example("out_of_core")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = module.main(["--small"])
    assert result["within_cap"], out.getvalue()
    assert result["losses"][-1] < 0.8 * result["losses"][0]  # (log 2 at the zero start)
    assert result["cosine"] > 0.99  # the direction of the weights that made the labels
    assert "generated lazily" in out.getvalue()


@pytest.mark.parametrize("name", ["autograd_tour", "two_layer_net", "polynomial_fit",
                                  "xor_optimizer", "out_of_core"])
def test_example_has_docstring_and_main(name):
    module = load_example(name)
    assert module.__doc__ and "\n" not in module.__doc__.strip()
    assert callable(module.main)
