"""The pytest plugin, run by pytest itself (pytester): a passing file, a wrong custom rule caught
with the report, a disagreement of the tape alone attributed to the tape, and the example file a
user would write (examples/test_my_model.py)."""

import pathlib

import pytest

pytest_plugins = ["pytester"]
ROOT = pathlib.Path(__file__).resolve().parents[1]


def run(pytester, monkeypatch, text, *options):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # (load it by name, installed or not)
    pytester.makepyfile(test_user=text)
    return pytester.runpytest_subprocess("-p", "sourcediff.pytest_plugin", "-rA", *options)


def test_the_example_file_passes_and_reports_the_table(pytester, monkeypatch):
    result = run(pytester, monkeypatch, (ROOT / "examples" / "test_my_model.py").read_text())
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*sourcediff parity of loss*", "*reverse*ok*", "*hvp*ok*"])


WRONG_RULE = '''
import numpy as np
import sourcediff as sd


@sd.custom_vjp
def wobble(x):
    return np.sin(x)


@wobble.defvjp(kind="elementwise")
def wobble_vjp(g, ans, x):
    return (g * np.sin(x),)          # wrong: the derivative of sin is cos


def loss(x):
    return np.sum(wobble(x) * x)


def test_loss(sd_parity):
    sd_parity(loss, (np.linspace(0.1, 1.0, 4),))
'''


def test_a_wrong_custom_rule_is_caught_with_the_table_and_named(pytester, monkeypatch):
    result = run(pytester, monkeypatch, WRONG_RULE)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*GradientCheckError*", "*reverse*DIFFERS*", "*forward*DIFFERS*",
                                 "*suspect the rule of your own*wobble*wobble_vjp*"])


TAPE_ONLY = '''
import numpy as np
import sourcediff.tape


def loss(x):
    return np.sum(np.sin(x) * x)


def test_loss(sd_parity, monkeypatch):
    real = sourcediff.tape.grad_of
    monkeypatch.setattr(sourcediff.tape, "grad_of",
                        lambda *a, **k: tuple(g * 1.5 for g in real(*a, **k)))
    sd_parity(loss, (np.linspace(0.1, 1.0, 4),))
'''


def test_a_disagreement_of_the_tape_alone_is_attributed_to_the_tape(pytester, monkeypatch):
    result = run(pytester, monkeypatch, TAPE_ONLY)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*tape disagrees with finite differences*", "*reverse*ok*",
                                 "*tape*DIFFERS*", "*Only tape differs*"])


def test_options_leave_out_the_tape_and_add_second_order(pytester, monkeypatch):
    result = run(pytester, monkeypatch, TAPE_ONLY, "--sd-no-tape", "--sd-order", "2")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*hvp*ok*"])
    assert "tape " not in result.stdout.str().split("sourcediff parity of loss")[1].split("\n=")[0]
