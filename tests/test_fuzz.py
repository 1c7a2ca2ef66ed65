"""Random programs through every oracle (quick seeded run) and the hand-shrunk fuzz regressions."""

import collections

import numpy as np
import pytest

from tests.fuzz.check import check_program
from tests.fuzz.generator import DEFAULT_FEATURES, FEATURES, generate, load, load_source
from tests.fuzz.regressions import REGRESSIONS

QUICK_COUNT = 60
KNOWN = [r for r in REGRESSIONS if r.bug]


def test_generator_is_deterministic_and_covers_the_grammar():
    progs = [generate(seed) for seed in range(200)]
    assert [p.source for p in progs[:20]] == [generate(seed).source for seed in range(20)]
    used = set().union(*[p.features for p in progs])
    missing = DEFAULT_FEATURES - used - {"alias_inplace"}
    assert not missing, f"the generator never produced {sorted(missing)}"
    # the constructs off by default (known compiler bugs) are produced when asked for
    extra = FEATURES - DEFAULT_FEATURES
    used = set().union(*[generate(seed, FEATURES).features for seed in range(200)])
    assert extra <= used, f"the generator never produced {sorted(extra - used)}"


def test_generated_programs_are_valid():
    """Programs parse, have no undefined names and run (the generator's own contract)."""
    for seed in range(40):
        prog = generate(seed)
        module = load(prog)
        with np.errstate(all="ignore"):
            value = module.f(*prog.args())
        assert np.ndim(value) == 0, prog.source


def test_quick_fuzz_run_has_no_wrong_gradients_and_no_internal_errors():
    counts = collections.Counter()
    failures = []
    for seed in range(QUICK_COUNT):
        result = check_program(load(generate(seed)), seed)
        counts[result.kind] += 1
        if result.kind in ("wrong", "internal", "invalid"):
            failures.append(result.report()[:3000])
    assert counts["ok"] >= QUICK_COUNT // 2, dict(counts)
    assert not failures, f"{dict(counts)}\n\n" + "\n\n".join(failures[:3])


def _params():
    out = []
    for r in REGRESSIONS:
        marks = [pytest.mark.xfail(strict=True, reason=r.bug)] if r.bug else []
        out.append(pytest.param(r, id=r.name, marks=marks))
    return out


@pytest.mark.parametrize("reg", _params())
def test_fuzz_regression(reg):
    module = load_source(reg.source, f"regression_{reg.name}")
    result = check_program(module, 0)
    assert result.kind == reg.expect, result.report()
    if reg.expect == "refused":
        assert all(text in result.detail for text in reg.refusal), result.detail
    if reg.expect == "skipped":
        assert "too steep for finite differences" in result.detail, result.detail
