"""Every python code block in the README runs on its own (each in a fresh interpreter, as a reader
would paste it) and the commands are real."""

import importlib.util
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_has_the_tour_blocks():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=lambda i: f"block{i + 1}")
def test_readme_python_block_runs_on_its_own(index, tmp_path):
    if "import dask" in BLOCKS[index] and importlib.util.find_spec("dask") is None:
        pytest.skip("the block needs dask (the dask extra), which is not installed")
    script = tmp_path / f"readme_block{index + 1}.py"
    script.write_text(BLOCKS[index])
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    expected = {"print(sd.source(dloss))": "def grad_loss(w1, b1, w2, b2, x, y):",
                "print(sd.source(sd.jvp(f, wrt=0)))": "def jvp_f(x, *, x_dot):"}
    for call, printed in expected.items():
        if call in BLOCKS[index]:
            assert printed in result.stdout


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'python -m pip install -e ".[test,parity,dask,jit]" && python -m pytest -q' in README
    assert 'pip install -q --disable-pip-version-check -e ".[test,parity,dask,jit]"' in ci
    assert "python -m pytest -q" in ci


def test_readme_examples_exist():
    for path in re.findall(r"python (examples/\w+\.py)", README):
        assert (ROOT / path).exists(), path
    assert (ROOT / "docs" / "tour_graph.png").exists()
    assert (ROOT / "docs" / "DESIGN.md").exists() and "docs/DESIGN.md" in README


def test_readme_gives_the_cpu_torch_command_the_parity_extra_pins():
    pin = re.search(r'"torch==([\d.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert f"pip install torch=={pin} --index-url https://download.pytorch.org/whl/cpu" in README


def test_no_references_outside_the_repository():
    """Docs, code and tests point only at files in the repository, and not at issue numbers."""
    paths = [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("benchmarks/*"),
             *ROOT.glob("sourcediff/**/*.py"), *ROOT.glob("examples/*.py"), *ROOT.glob("tests/**/*.py")]
    bad = re.compile(r"\.\./shared|\bshared/(data|reference)|reference/torch-autograd|founders'|"
                     r"\bissues? ?#?\d+")
    found = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in paths if p.is_file() and p.suffix in
             (".py", ".md") and p.name != "test_readme.py" for m in bad.finditer(p.read_text())]
    assert not found
