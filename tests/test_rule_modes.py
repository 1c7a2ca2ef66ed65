"""Every primitive of the rule table in the modes beyond its own vjp and jvp (those are checked
against central finite differences in test_rules.py): the tape, which calls the same rule through
numpy's dispatch, gives the gradient the finite-difference-checked rule gives, for every case of
the case table that the coverage table says the tape records."""

import zlib

import numpy as np
import pytest

from sourcediff.rules import registry
from sourcediff.coverage import TAPE_GAPS, _tape
from sourcediff.runtime import unbroadcast
from sourcediff.tape import grad_of

try:
    from .rule_cases import CASES
    from .test_rules import call
except ImportError:  # tests/ collected without being a package
    from rule_cases import CASES
    from test_rules import call


def _on_tape(prim, args, kwargs):
    """``prim`` applied the way user code spells it, so tape Tensors dispatch (x.sum(), x.T)."""
    if prim is np.r_ or prim is np.c_:
        return prim[tuple(args)]
    if getattr(prim, "__objclass__", None) is np.ndarray or \
            type(prim).__name__ in ("getset_descriptor", "member_descriptor"):
        attr = getattr(args[0], prim.__name__)
        return attr(*args[1:], **kwargs) if callable(prim) else attr
    return prim(*args, **kwargs)


def _paired(out, cot):
    if isinstance(out, (list, tuple)):
        return sum(_paired(o, c) for o, c in zip(out, cot) if c is not None)
    return np.sum(out * cot)


def _cotangent(out, rng):
    if isinstance(out, (list, tuple)):
        items = [_cotangent(o, rng) for o in out]
        return type(out)(*items) if hasattr(out, "_fields") else type(out)(items)
    return rng.standard_normal(np.shape(out)) if np.shape(out) else float(rng.standard_normal())


TAPE_CASES = [c for c in CASES if _tape(c[0]) and c[3] and all(
    isinstance(c[1][i], float) or getattr(getattr(c[1][i], "dtype", None), "kind", "") == "f"
    for i in c[3])]


@pytest.mark.parametrize("prim,args,kwargs,argnums,cid", TAPE_CASES,
                         ids=[c[4] for c in TAPE_CASES])
def test_the_tape_gives_the_rules_gradient(prim, args, kwargs, argnums, cid):
    rule = registry.lookup(prim)
    name = {id(np.r_): "np.r_[...]", id(np.c_): "np.c_[...]"}.get(id(prim), rule.name)
    try:
        tape, expected = _tape_gradient(prim, args, kwargs, argnums, cid)
    except Exception:  # noqa: BLE001  (a documented gap may raise; it may never be wrong)
        if name in TAPE_GAPS:
            return
        raise
    for k, i in enumerate(argnums):
        want = expected[i]
        if rule.broadcast:
            want = unbroadcast(want, args[i])
        np.testing.assert_allclose(np.asarray(tape[k], dtype=float),
                                   np.broadcast_to(np.asarray(want, dtype=float), np.shape(args[i])),
                                   rtol=1e-7, atol=1e-9, err_msg=f"tape, argument {i} of {cid}")


def _tape_gradient(prim, args, kwargs, argnums, cid):
    rule = registry.lookup(prim)
    rng = np.random.default_rng(zlib.crc32(cid.encode()))
    with np.errstate(all="ignore"):
        ans = call(prim, args, kwargs)
        g = _cotangent(ans, rng)
        tape = grad_of(lambda *a: _paired(_on_tape(prim, a, kwargs), g), args, wrt=tuple(argnums))
        expected = rule.vjp(g, ans, *args, **kwargs)
    return tape, expected


def test_the_coverage_table_in_docs_is_current():
    """docs/COVERAGE.md is ``python -m sourcediff.coverage``'s output for the rules registered
    (scipy's only where scipy is installed: compared without them when it is not)."""
    from pathlib import Path

    from sourcediff.coverage import markdown

    doc = Path(__file__).resolve().parents[1] / "docs" / "COVERAGE.md"
    now = markdown()
    on_disk = doc.read_text()

    def rows(text):
        return {line for line in text.splitlines() if line.startswith("| `")}

    missing = rows(now) - rows(on_disk)
    assert not missing, f"regenerate docs/COVERAGE.md (python -m sourcediff.coverage): {missing}"
