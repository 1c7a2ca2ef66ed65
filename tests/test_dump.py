"""SOURCEDIFF_DUMP=normalize,reverse prints those stages' output, as source, to stderr."""

import numpy as np
import pytest

import sourcediff as sd


def tanh_loss(x, w):
    h = np.tanh(x @ w)
    return np.sum(h ** 2)


@pytest.fixture
def fresh():
    sd.clear_cache()
    yield
    sd.clear_cache()


def _grad_dump(monkeypatch, capsys, stages):
    monkeypatch.setenv("SOURCEDIFF_DUMP", stages)
    g = sd.grad(tanh_loss, wrt=1)(np.ones((2, 3)), np.ones(3))
    return g, capsys.readouterr().err


def test_named_stages_are_printed_in_pipeline_order(monkeypatch, capsys, fresh):
    g, err = _grad_dump(monkeypatch, capsys, "normalize,reverse")
    assert "# ---- sourcediff normalize: tanh_loss (test_dump.py:" in err
    assert "# ---- sourcediff reverse: tanh_loss (test_dump.py:" in err
    assert err.index("sourcediff normalize") < err.index("sourcediff reverse")
    normalized = err[err.index("sourcediff normalize"):err.index("sourcediff reverse")]
    assert "_matmul1 = x @ w" in normalized and "h = np.tanh(_matmul1)" in normalized
    reverse = err[err.index("sourcediff reverse"):]
    assert "def grad_tanh_loss(x, w):" in reverse and "# grad of: h = np.tanh(x @ w)" in reverse
    assert "sourcediff parse" not in err and "sourcediff optimize" not in err
    np.testing.assert_allclose(g, sd.grad(tanh_loss, wrt=1)(np.ones((2, 3)), np.ones(3)))


def test_the_optimize_stage_is_the_compiled_source(monkeypatch, capsys, fresh):
    _, err = _grad_dump(monkeypatch, capsys, "optimize")
    source = sd.source(sd.grad(tanh_loss, wrt=1))
    assert err.split("----\n", 1)[1].rstrip() == source.rstrip()


def test_forward_mode_and_all(monkeypatch, capsys, fresh):
    monkeypatch.setenv("SOURCEDIFF_DUMP", "all")
    sd.jvp(tanh_loss, wrt=1)
    err = capsys.readouterr().err
    for stage in ("parse", "normalize", "alias", "activity", "forward", "optimize"):
        assert f"# ---- sourcediff {stage}: tanh_loss" in err
    assert "_matmul1_dot = x @ w_dot" in err and "# active: " in err


def test_no_dump_without_the_variable_and_a_warning_for_an_unknown_stage(monkeypatch, capsys,
                                                                       fresh):
    monkeypatch.delenv("SOURCEDIFF_DUMP", raising=False)
    sd.grad(tanh_loss, wrt=1)
    assert capsys.readouterr().err == ""
    sd.clear_cache()
    monkeypatch.setenv("SOURCEDIFF_DUMP", "normalise")
    with pytest.warns(UserWarning, match="no stage normalise; the stages are parse, normalize"):
        sd.grad(tanh_loss, wrt=1)
