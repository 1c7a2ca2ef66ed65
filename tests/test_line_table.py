"""The line table: emission says which user line each generated line comes from, as data, and
error locations read it (not the text of the comments)."""

import inspect

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.compiler import emit
from sourcediff.errors import SourcediffError
from sourcediff.compiler.parse import GENERATED_LINES


def adds_mismatched(x, y):
    z = x + y  # <the failing line>
    return np.sum(z)


def _line(fn, marker):
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, text in enumerate(lines) if marker in text)


def _raise_inside(fn):
    with pytest.raises(SourcediffError) as info:
        sd.grad(fn, wrt=(0, 1))(np.ones(3), np.ones(4))
    return str(info.value)


def test_an_error_inside_generated_code_names_the_users_line():
    text = _raise_inside(adds_mismatched)
    assert f"test_line_table.py:{_line(adds_mismatched, '<the failing line>')}:" in text
    assert "z = x + y" in text and "raised in the generated code at <sourcediff" in text


def test_the_location_comes_from_the_table_not_from_the_comments(monkeypatch):
    # comments written differently (the old map parsed them with a regex and lost the location)
    monkeypatch.setattr(emit, "comment_text", lambda o: f"from line {o.line} of {o.file}")
    sd.clear_cache()
    try:
        df = sd.grad(adds_mismatched, wrt=(0, 1))
        comments = [t.strip() for t in sd.source(df).splitlines() if t.strip().startswith("#")]
        assert comments and all(t.startswith("# from line") for t in comments)
        text = _raise_inside(adds_mismatched)
        assert f"test_line_table.py:{_line(adds_mismatched, '<the failing line>')}:" in text
    finally:
        sd.clear_cache()


def test_the_table_maps_each_line_after_a_comment_to_that_comment_s_origin():
    df = sd.grad(adds_mismatched, wrt=(0, 1))
    tables = [t for name, t in GENERATED_LINES.items() if "grad_adds_mismatched" in name]
    assert tables
    origins = {(o.file, o.line, o.text, o.grad) for o in tables[-1].lines.values()}
    line = _line(adds_mismatched, "<the failing line>")
    assert ("test_line_table.py", line, "z = x + y  # <the failing line>", False) in origins
    assert ("test_line_table.py", line, "z = x + y  # <the failing line>", True) in origins
    # (the source sd.source shows is the one the table describes: its comment lines' origins)
    assert df.__sourcediff_source__.count("# grad of: z = x + y") == 1


def mismatched_twice(x, y):
    z = np.sin(x) * y  # <second order>
    return np.sum(z)


def test_a_derivative_of_generated_code_names_the_users_line():
    d2 = sd.grad(sd.grad(mismatched_twice, wrt=0), wrt=0)
    with pytest.raises(SourcediffError) as info:
        d2(np.ones(3), np.ones(4))  # (raised in code generated from generated code)
    line = _line(mismatched_twice, "<second order>")
    assert f"test_line_table.py:{line}:" in str(info.value)
    assert "<sourcediff grad_grad_mismatched_twice of <sourcediff grad_mismatched" in \
        str(info.value)


def test_sourcediffs_own_code_is_known_by_registration_not_by_its_file_name():
    """Every frame of code sourcediff compiled (the entry wrapper, the gradient) is recognised by
    the registry compile_code fills, and a user's code whose file name merely starts like
    sourcediff's (``exec`` of a string under ``<sourcediff-notebook>``) is not taken for it."""
    from sourcediff.runtime.generated import FILES, runs_generated

    scope = {"sd": sd, "np": np, "adds_mismatched": adds_mismatched}
    exec(compile("def call(x, y):\n    return sd.grad(adds_mismatched, wrt=(0, 1))(x, y)\n",
                 "<sourcediff-notebook>", "exec"), scope)
    with pytest.raises(SourcediffError) as info:
        scope["call"](np.ones(3), np.ones(4))
    seen = {}
    tb = info.value.__traceback__
    while tb is not None:
        seen[tb.tb_frame.f_code.co_filename] = runs_generated(tb.tb_frame)
        tb = tb.tb_next
    generated = {name for name, flag in seen.items() if flag}
    assert "<sourcediff entry>" in generated           # the wrapper every gradient call runs
    assert generated <= FILES
    assert seen["<sourcediff-notebook>"] is False     # the user's own code
