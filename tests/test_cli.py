"""``python -m sourcediff show``: generated source on stdout, --help, one-line errors (exit 2)."""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sourcediff as sd
from sourcediff import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = "examples/two_layer_net.py"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(*args, cwd=ROOT, env=None):
    full_env = dict(os.environ)
    full_env.pop("NO_COLOR", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "sourcediff", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120, check=False)


def run_inline(*args):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(done, *words):
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for w in words:
        assert w in lines[0]


def test_show_file_function_prints_a_def():
    done = run("show", f"{EXAMPLE}:loss", "--wrt", "w1,b1,w2,b2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("def grad_loss(w1, b1, w2, b2, x, y):")
    assert "# grad of: " in done.stdout
    assert not ANSI.search(done.stdout)  # piped: plain text
    compile(done.stdout, "<shown>", "exec")


def test_show_matches_sd_source():
    code, out, err = run_inline("show", f"{ROOT / EXAMPLE}:loss", "--wrt", "0,2")
    assert code == 0, err
    module = cli.load_module("file", str(ROOT / EXAMPLE))
    assert out.rstrip("\n") == sd.source(sd.grad(module.loss, wrt=(0, 2))).rstrip("\n")


def test_show_value_and_grad_and_names():
    done = run("show", f"{EXAMPLE}:loss", "--mode", "value_and_grad", "--wrt", "w2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("def value_and_grad_loss(")
    assert "with respect to w2." in done.stdout


def test_show_module_form():
    done = run("show", "xor_optimizer:loss", "--wrt", "0,1",
               env={"PYTHONPATH": str(ROOT / "examples")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("def grad_loss(w1, b1, w2, b2, x, y):")


def test_show_no_optimize():
    code, out, _ = run_inline("show", f"{ROOT / EXAMPLE}:loss", "--no-optimize")
    assert code == 0
    assert out.startswith("def grad_loss(")


def test_help_explains_with_an_example():
    done = run("--help")
    assert done.returncode == 0
    assert "show" in done.stdout
    done = run("show", "--help")
    assert done.returncode == 0
    assert "FILE.py:FUNCTION" in done.stdout
    assert "python -m sourcediff show examples/two_layer_net.py:loss" in done.stdout
    assert "--wrt" in done.stdout and "--mode" in done.stdout


def test_missing_file():
    assert_one_line_error(run("show", "examples/no_such_file.py:loss"), "no such file",
                          "no_such_file.py")


def test_missing_function_lists_the_functions():
    assert_one_line_error(run("show", f"{EXAMPLE}:los"), "no function 'los'", "loss")


def test_missing_module():
    assert_one_line_error(run("show", "no_such_module_xyz:f"), "cannot import module")


def test_target_without_function():
    assert_one_line_error(run("show", EXAMPLE), "FILE.py:FUNCTION")


def test_sourcediff_error_is_one_line():
    assert_one_line_error(run("show", f"{EXAMPLE}:loss", "--wrt", "nope"), "nope",
                          "not a parameter")


def test_non_python_function():
    assert_one_line_error(run("show", "numpy:sin"), "sin")


def test_file_that_fails_on_import(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("import numpy as np\n\nraise RuntimeError('boom')\n")
    assert_one_line_error(run("show", f"{bad}:f"), "broken.py:3", "RuntimeError", "boom")


def test_unsupported_syntax_is_reported(tmp_path):
    src = tmp_path / "guarded.py"
    src.write_text("def f(x):\n    try:\n        return x * x\n    except ValueError:\n"
                   "        return x\n")
    assert_one_line_error(run("show", f"{src}:f"), "guarded.py:2", "try/except")


def test_already_transformed_function(tmp_path):
    src = tmp_path / "decorated.py"
    src.write_text("import sourcediff as sd\n\n\n@sd.grad\ndef f(x):\n    return x * x\n")
    done = run("show", f"{src}:f")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("def grad_f(x):")


def test_forward_mode():
    done = run("show", f"{EXAMPLE}:loss", "--mode", "forward")
    if hasattr(sd, "jvp"):
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("def ")
    else:
        assert_one_line_error(done, "not available yet")


def test_color_always_and_plain_when_piped():
    done = run("show", f"{EXAMPLE}:loss", "--color", "always")
    assert done.returncode == 0
    assert ANSI.search(done.stdout)
    plain = run("show", f"{EXAMPLE}:loss")
    assert ANSI.sub("", done.stdout).split() == plain.stdout.split()


def test_use_color():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert not cli.use_color("auto", io.StringIO())
    assert cli.use_color("always", io.StringIO())
    assert not cli.use_color("never", Tty())
    env = os.environ.pop("NO_COLOR", None)
    try:
        assert cli.use_color("auto", Tty())
        os.environ["NO_COLOR"] = "1"
        assert not cli.use_color("auto", Tty())
    finally:
        os.environ.pop("NO_COLOR", None)
        if env is not None:
            os.environ["NO_COLOR"] = env


def test_fallback_highlighter_round_trips():
    module = cli.load_module("file", str(ROOT / EXAMPLE))
    text = sd.source(sd.value_and_grad(module.loss, wrt=(0, 1))) + "\n"
    coloured = cli.highlight(text, use_pygments=False)
    assert ANSI.sub("", coloured) == text
    assert "\x1b[1;34mdef\x1b[0m" in coloured          # keyword
    assert "\x1b[3;32m# grad of:" in coloured          # comment
    assert "\x1b[33m'w1'\x1b[0m" in coloured           # string


@pytest.mark.parametrize("text, want", [
    ("0", 0), ("w", "w"), ("0,1", (0, 1)), ("w1, b1", ("w1", "b1")), ("0,", (0,)),
])
def test_parse_wrt(text, want):
    assert cli.parse_wrt(text) == want


def test_parse_wrt_rejects_garbage():
    with pytest.raises(cli.CliError):
        cli.parse_wrt("1+2")
