"""The specialized gradient of a function with some of the specializer's passes switched off, for
tests that compare a pass's output with the code without it (``specialize.passes.SKIP`` names the
passes off; the gradient cache is cleared around each build, so neither sees the other's
specialization)."""

import sourcediff as sd
from sourcediff.specialize import passes


def specialized(fn, args, wrt, skip=()):
    """(specialized source, gradient) of ``fn`` at ``args`` with the passes ``skip`` off."""
    saved = set(passes.SKIP)
    passes.SKIP.clear()
    passes.SKIP.update(skip)
    try:
        sd.clear_cache()
        df = sd.grad(fn, wrt=wrt)
        return sd.source(df, *args), df(*args)
    finally:
        passes.SKIP.clear()
        passes.SKIP.update(saved)
        sd.clear_cache()


def with_and_without(fn, args, wrt, skip):
    """[(source, gradient) with every pass, (source, gradient) with the passes ``skip`` off]."""
    return [specialized(fn, args, wrt), specialized(fn, args, wrt, skip)]
