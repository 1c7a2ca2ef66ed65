"""The parity report names the user's line whose generated block first goes wrong, shows that
block, and says so when it cannot; check_grads checks a rule of the user's in every mode it claims
and names it. The functions under test are defined here, so the tests can find their lines."""

import inspect
import pathlib

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.attribution import blame_forward, blame_reverse
from sourcediff.errors import SourcediffError
from sourcediff.testing import GradientCheckError, check_grads, check_parity

pytest_plugins = ["pytester"]
HERE = pathlib.Path(__file__).name


def line_of(fn, text):
    """``test_parity_report.py:NN`` of the line of ``fn`` that contains ``text``."""
    lines, first = inspect.getsourcelines(fn)
    hits = [first + k for k, line in enumerate(lines) if text in line]
    assert len(hits) == 1, (text, hits)
    return f"{HERE}:{hits[0]}"


# ---------------------------------------------------------------------- rules of a user's own


@sd.custom_vjp
def bent(x):
    return np.log1p(np.exp(x))


@bent.defvjp
def bent_vjp(g, ans, x):
    return (g / (1.0 + np.exp(x)),)       # wrong: the derivative is 1 / (1 + exp(-x))


@bent.defjvp
def bent_jvp(t, ans, x):
    return (t / (1.0 + np.exp(-x)),)      # right


@sd.custom_vjp
def softplus(x):
    return np.log1p(np.exp(x))


@softplus.defvjp(kind="elementwise")
def softplus_vjp(g, ans, x):
    return (g / (1.0 + np.exp(-x)),)


@sd.custom_vjp
def cube(x):
    return x ** 3


@cube.defvjp
def cube_vjp(g, ans, x):
    return (3.0 * g * x ** 2,)


@cube.defjvp
def cube_jvp(t, ans, x):
    return (2.0 * t * x ** 2,)            # wrong: 3, not 2


@sd.custom_vjp
def frozen(x):
    return x * x


@frozen.defvjp(kind="elementwise")
def frozen_vjp(g, ans, x):
    return (g * sd.stop_gradient(2.0 * x),)   # right first derivative, no second one


@sd.custom_vjp
def halved(x):
    return np.tanh(x)


@halved.defvjp(kind="elementwise")
def halved_vjp(g, ans, x):
    return (0.5 * g * (1.0 - ans * ans),)     # wrong: the 0.5; forward mode derives from it


# ---------------------------------------------------------------------- users' functions


def model_loss(w, x, y):
    h = np.tanh(x @ w)
    s = bent(h)
    t = s * h + 0.5 * h
    r = t - y
    return np.sum(r ** 2)


def looped_loss(w, x):
    h = x
    total = 0.0
    for k in range(3):
        h = np.sin(h) * w
        if k == 1:
            h = bent(h)
        total = total + np.sum(h * h)
    return total


def layer(w, h):
    return bent(h * w)


def helper_loss(w, x):
    u = np.cos(x) + w
    v = layer(w, u)
    return np.sum(v * u)


def forward_loss(w, x):
    y = np.sin(x @ w)
    c = cube(y)
    return np.sum(c * y)


def good_loss(w, x):
    h = np.tanh(x @ w)
    acc = 0.0
    for row in h:
        acc = acc + np.sum(softplus(row) ** 2)
    if acc > 0:
        acc = acc * 1.5
    return acc + np.sum(w * w)


def second_order_loss(w):
    u = np.sin(w)
    return np.sum(frozen(u) * u)


def kinked(x):
    y = x * 2.0
    if np.sum(y) > 0:
        y = y * 3.0
    return np.sum(y ** 2)


@pytest.fixture
def only_reverse(monkeypatch):
    """A rule with a vjp and no jvp (kind "custom"): reverse mode and the tape only. Registered in
    a copy of the rule table, since the library's own rules all have a jvp (tests/test_rules.py
    checks every registered rule for it)."""
    from sourcediff.rules import registry

    monkeypatch.setattr(registry, "_rules", dict(registry._rules))

    @sd.custom_vjp
    def only_reverse(x):
        return np.sin(x)

    @only_reverse.defvjp
    def only_reverse_vjp(g, ans, x):
        return (g * np.cos(x),)

    return only_reverse


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    return rng.normal(size=3), rng.normal(size=(5, 3)), rng.normal(size=5)


# ---------------------------------------------------------------------- the line and its block


def test_a_wrong_rule_on_one_line_among_several_is_named_with_its_block(data):
    w, x, y = data
    with pytest.raises(GradientCheckError) as info:
        check_parity(model_loss, (w, x, y), wrt=(0,))
    text = str(info.value)
    where = line_of(model_loss, "s = bent(h)")
    assert f"First wrong block, in the order the backward sweep runs them: {where}" in text
    assert "\n    s = bent(h)\n" in text
    # the block of generated code, delimited by its comment
    assert f"# grad of: s = bent(h)  ({where})" in text
    assert "h_bar = h_bar + s_bar / (1.0 + np.exp(h))" in text
    # the other lines' blocks are neither blamed nor shown
    for other in ("t = s * h + 0.5 * h", "r = t - y", "h = np.tanh(x @ w)"):
        assert f"# grad of: {other}" not in text
    # the rule, with the function it belongs to and their lines
    assert f"bent ({line_of(bent, 'def bent')})" in text
    assert f"bent_vjp ({line_of(bent_vjp, 'def bent_vjp')})" in text
    assert "check_grads(bent, (x,))" in text
    # forward mode uses the (right) jvp rule: no forward line is blamed
    assert "forward        ok" in text
    assert "First wrong line in forward mode" not in text
    blame = info.value.blames[0]
    assert blame.found and blame.location == where and blame.line == "s = bent(h)"
    assert blame.block.splitlines()[0] == f"# grad of: s = bent(h)  ({where})"


def test_the_line_in_a_loop_and_a_branch_is_found_at_its_iteration(data):
    w, x, _ = data
    with pytest.raises(GradientCheckError) as info:
        check_parity(looped_loss, (w, x[0]), wrt=(0,))
    blame = info.value.blames[0]
    assert blame.found and blame.location == line_of(looped_loss, "h = bent(h)")
    assert "h_bar" in str(info.value)


def test_a_line_calling_a_helper_is_blamed_and_the_rule_found_through_it(data):
    w, x, _ = data
    with pytest.raises(GradientCheckError) as info:
        check_parity(helper_loss, (w, x[0]), wrt=(0,))
    text = str(info.value)
    assert info.value.blames[0].location == line_of(helper_loss, "v = layer(w, u)")
    assert f"called through layer ({line_of(layer, 'def layer')})" in text
    assert "bent_vjp" in text


def test_a_wrong_jvp_rule_is_blamed_in_forward_mode_alone(data):
    w, x, _ = data
    with pytest.raises(GradientCheckError) as info:
        check_parity(forward_loss, (w, x), wrt=(0,))
    text = str(info.value)
    assert text.startswith("forward disagrees with finite differences")
    assert "Only forward differs" in text
    where = line_of(forward_loss, "c = cube(y)")
    assert f"First wrong line in forward mode: {where}" in text
    assert f"# c = cube(y)  ({where})" in text
    assert "c_dot = 2.0 * y_dot * y ** 2" in text
    assert "cube_jvp" in text and "First wrong block" not in text


def test_a_correct_function_passes_in_every_mode(data):
    w, x, _ = data
    table = check_parity(good_loss, (w, x), wrt=(0,), order=2)
    assert "DIFFERS" not in table and "hvp" in table


def test_float32_arguments_get_a_step_they_can_resolve(data):
    w, x, y = (a.astype(np.float32) for a in data)
    for seed in range(3):
        check_parity(good_loss, (w, x), wrt=(0,), seed=seed)
    with pytest.raises(GradientCheckError) as info:
        check_parity(model_loss, (w, x, y), wrt=(0,))
    assert info.value.blames[0].location == line_of(model_loss, "s = bent(h)")


def test_no_line_is_blamed_on_a_correct_function():
    rng = np.random.default_rng(1)
    w, x = rng.normal(size=3), rng.normal(size=(4, 3))
    for blame in (blame_reverse(good_loss, (w, x), (0,)), blame_forward(good_loss, (w, x), (0,))):
        assert not blame.found
        assert blame.message.startswith("Not attributed to a line: all ")
        assert "agree with finite differences" in blame.message


def test_when_finite_differences_cannot_judge_it_says_so_instead_of_guessing():
    # the branch flips under the step: every mode "differs", no line is to blame
    x = np.array([1.0, -1.0])
    with pytest.raises(GradientCheckError) as info:
        check_parity(kinked, (x,), modes=("unoptimized",))
    text = str(info.value)
    assert "First wrong block" not in text
    assert "Not attributed to a line" in text
    assert f"could not be judged, the first for x at {line_of(kinked, 'y = x * 2.0')} (a branch " \
           f"or a loop's count changes under the step)" in text


def test_a_wrong_second_derivative_alone_points_at_the_rules_second_order():
    with pytest.raises(GradientCheckError) as info:
        check_parity(second_order_loss, (np.linspace(-1.0, 1.0, 4),), order=2)
    text = str(info.value)
    assert text.startswith("hvp disagrees with finite differences")
    assert "only the hessian-vector product differs" in text and "First wrong" not in text
    assert f"check_grads(..., order=2): frozen ({line_of(frozen, 'def frozen')})" in text


def test_a_disagreement_of_the_tape_alone_blames_no_line(data, monkeypatch):
    import sourcediff.tape

    real = sourcediff.tape.grad_of
    monkeypatch.setattr(sourcediff.tape, "grad_of",
                        lambda *a, **k: tuple(g * 1.5 for g in real(*a, **k)))
    w, x, _ = data
    with pytest.raises(GradientCheckError) as info:
        check_parity(good_loss, (w, x), wrt=(0,))
    text = str(info.value)
    assert "Only tape differs" in text
    assert "the tape runs no generated code" in text and "First wrong" not in text


def test_the_blamed_block_is_the_wrong_one_when_generated_code_is_wrong(data):
    """The search blames blocks, not rules: a block of generated code made wrong by hand (as a
    compiler bug would) is found, whichever line it is."""
    from sourcediff import attribution
    from sourcediff.compiler.parse import GENERATED_LINES

    w, x, y = data
    raw = attribution._raw(sd.value_and_grad(model_loss, wrt=(0,), optimize=False))
    text = raw.__sourcediff_source__
    good = "r_bar = r_bar + _sd.unbroadcast(_pow1_bar * 2 * r ** np.where(2 == 0, 1.0, 2 - 1), r)"
    assert good in text
    broken = text.replace(good, good.replace("_pow1_bar * 2", "_pow1_bar * 2.2"))
    namespace = {}
    free = raw.__code__.co_freevars
    body = "\n".join("    " + line for line in broken.splitlines())
    # (its lines are raw's, one number changed: raw's line table describes it)
    GENERATED_LINES["<hand-made>"] = GENERATED_LINES[raw.__code__.co_filename]
    exec(compile(f"def factory({', '.join(free)}):\n{body}\n    return {raw.__name__}\n",
                 "<hand-made>", "exec"), raw.__globals__, namespace)
    fake = namespace["factory"](*[c.cell_contents for c in raw.__closure__])
    fake.__sourcediff_source__ = broken
    search = attribution._ReverseSearch(model_loss, (w, x, y), fake, None, "hand-made", 0, 1e-6,
                                        1e-5, 1e-7, 400, 60.0)
    blame = search.run()
    assert blame.found and blame.location == line_of(model_loss, "return np.sum(r ** 2)")


# ---------------------------------------------------------------------- check_grads of a rule


def test_check_grads_names_a_wrong_vjp_rule_and_where_it_is():
    x = np.linspace(-1.0, 1.0, 4)
    with pytest.raises(GradientCheckError) as info:
        check_grads(bent, (x,))
    text = str(info.value)
    assert text.startswith(f"the vjp rule bent_vjp ({line_of(bent_vjp, 'def bent_vjp')}) of "
                           f"bent ({line_of(bent, 'def bent')}) disagrees with finite differences")


def test_check_grads_names_a_wrong_jvp_rule():
    x = np.linspace(-1.0, 1.0, 4)
    check_grads(cube, (x,), modes=("rev", "tape"))
    with pytest.raises(GradientCheckError, match=r"the jvp rule cube_jvp \(test_parity_report"
                                                 r"\.py:\d+\) of cube"):
        check_grads(cube, (x,))


def test_check_grads_names_forward_mode_derived_from_a_wrong_elementwise_rule():
    x = np.linspace(-1.0, 1.0, 4)
    with pytest.raises(GradientCheckError, match=r"forward mode of halved \(test_parity_report"
                                                 r"\.py:\d+\), derived from its vjp rule "
                                                 r"halved_vjp .* by kind='elementwise'"):
        check_grads(halved, (x,), modes=("fwd",))
    with pytest.raises(GradientCheckError, match="disagrees with finite differences in the tape"):
        check_grads(halved, (x,), modes=("tape",))


def test_check_grads_checks_every_mode_a_right_rule_claims_and_second_order(only_reverse):
    x = np.linspace(-1.0, 1.0, 4)
    check_grads(softplus, (x,))                     # reverse, tape, forward, second order
    check_grads(only_reverse, (x,))                 # reverse and the tape: all it claims


def test_check_grads_refuses_a_mode_the_rule_does_not_claim_and_says_how(only_reverse):
    x = np.linspace(-1.0, 1.0, 4)
    with pytest.raises(SourcediffError, match=r"does not give forward mode.*@only_reverse\.defjvp"):
        check_grads(only_reverse, (x,), modes=("fwd", "rev"))
    with pytest.raises(SourcediffError, match=r"does not give second order"):
        check_grads(only_reverse, (x,), order=2)


def test_check_grads_second_order_names_a_rule_whose_body_stops_the_gradient():
    x = np.linspace(-1.0, 1.0, 4)
    check_grads(frozen, (x,), order=1)              # first order is right
    with pytest.raises(GradientCheckError, match=r"the second derivative through the rule of "
                                                 r"frozen .*frozen_vjp"):
        check_grads(frozen, (x,))                   # its kind gives second order: checked


def test_check_grads_of_a_function_using_a_wrong_rule_lists_it(data):
    w, x, y = data
    with pytest.raises(GradientCheckError, match=r"(?s)reverse mode of model_loss.*It calls rules "
                                                 r"of your own: bent \("):
        check_grads(model_loss, (w, x, y), modes=("rev",))


# ---------------------------------------------------------------------- the pytest plugin

USER_FILE = '''
import numpy as np
import sourcediff as sd


@sd.custom_vjp
def wobble(x):
    return np.sin(x)


@wobble.defvjp(kind="elementwise")
def wobble_vjp(g, ans, x):
    return (g * np.sin(x),)          # wrong: the derivative of sin is cos


def loss(x):
    a = x * 2.0
    b = wobble(a)
    return np.sum(b * x)


def test_loss(sd_parity):
    sd_parity(loss, (np.linspace(0.1, 1.0, 4),))
'''


def test_the_plugin_failure_shows_the_line_and_its_block(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # (load it by name, installed or not)
    pytester.makepyfile(test_user=USER_FILE)
    result = pytester.runpytest_subprocess("-p", "sourcediff.pytest_plugin", "-rA")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*GradientCheckError*",
        "*reverse*DIFFERS*",
        "*First wrong block, in the order the backward sweep runs them: test_user.py:17*",
        "*    b = wobble(a)",
        "*# grad of: b = wobble(a)  (test_user.py:17)",
        "*a_bar = a_bar + b_bar * np.sin(a)*",
        "*wobble_vjp (test_user.py:11)*",
        "*First wrong line in forward mode: test_user.py:17*",
    ])


def test_the_table_has_a_column_per_argument_and_marks_the_one_that_differs(data):
    """The issue asks for mode x argument: each argument is moved alone along its direction, so
    a wrong gradient for w is told from a right one for y in the same mode."""
    w, x, y = data
    with pytest.raises(GradientCheckError) as info:
        check_parity(model_loss, (w, x, y), wrt=(0, 2), modes=("reverse", "unoptimized"))
    rows = [line for line in info.value.table.splitlines() if line.startswith("  reverse")]
    assert len(rows) == 1
    w_cell, y_cell = rows[0].split("; ")
    assert w_cell.split("DIFFERS")[1].strip().startswith("w: ") and w_cell.endswith("<-")
    assert y_cell.startswith("y: ") and not y_cell.endswith("<-")
    assert info.value.failed == ["reverse", "unoptimized"]
