"""Every python code block in the README runs (as one script, in order) and the commands are real."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_python_blocks_run(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 4
    script = tmp_path / "readme_blocks.py"
    script.write_text("\n\n".join(blocks))
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "def grad_loss(w1, b1, w2, b2, x, y):" in result.stdout
    assert "def jvp_f(x, *, x_dot):" in result.stdout


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'python -m pip install -e ".[test,parity]" && python -m pytest -q' in README
    assert 'pip install -q --disable-pip-version-check -e ".[test,parity]"' in ci
    assert "python -m pytest -q" in ci


def test_readme_examples_exist():
    for path in re.findall(r"python (examples/\w+\.py)", README):
        assert (ROOT / path).exists(), path
    assert (ROOT / "docs" / "tour_graph.png").exists()
