"""Stage dumps: ``SOURCEDIFF_DUMP=normalize,reverse`` prints what those stages make, as source, to
stderr while sourcediff transforms a function (as Tangent's verbose mode does).

The stages that can be dumped, in pipeline order:

- ``parse``: the user's function as read (after the fence);
- ``normalize``: one operation per statement;
- ``alias``: normalized, with the alias checks in;
- ``activity``: the names that carry derivatives (a comment line);
- ``reverse`` / ``forward``: the naive generated function, before the optimizer;
- ``optimize``: the generated function as compiled (what ``sourcediff.source`` shows).

``SOURCEDIFF_DUMP=all`` dumps every stage. A function is transformed once per (function, wrt,
mode) and then cached, so the dump appears at the first call; ``sd.clear_cache()`` transforms
anew. Example::

    SOURCEDIFF_DUMP=normalize,reverse python train.py 2> stages.txt
"""

import os
import sys
import warnings

import gast

from .emit import to_source

STAGES = ("parse", "normalize", "alias", "activity", "reverse", "forward", "optimize")
_warned = set()


def wanted(stage):
    """True when ``SOURCEDIFF_DUMP`` (read at each transform) names ``stage`` (or "all")."""
    assert stage in STAGES, stage
    text = os.environ.get("SOURCEDIFF_DUMP", "")
    if not text:
        return False
    names = {n.strip() for n in text.split(",") if n.strip()}
    unknown = names - set(STAGES) - {"all"}
    if unknown and frozenset(unknown) not in _warned:
        _warned.add(frozenset(unknown))
        warnings.warn(f"SOURCEDIFF_DUMP names no stage {', '.join(sorted(unknown))}; the stages "
                      f"are {', '.join(STAGES)} (or all)", stacklevel=3)
    return stage in names or "all" in names


def dump(stage, parsed, node, name=None):
    """Print ``node`` (a FunctionDef, a list of statements or text) as stage ``stage``'s output for
    the user's function of ``parsed``, when ``SOURCEDIFF_DUMP`` asks for that stage."""
    if not wanted(stage):
        return
    if isinstance(node, list):
        node = gast.FunctionDef(name=name or parsed.node.name, args=parsed.node.args, body=node,
                                decorator_list=[], returns=None, type_comment=None,
                                type_params=[])
    text = node if isinstance(node, str) else to_source(node)
    where = f"{parsed.fn.__qualname__} ({parsed.filename_short}:" \
            f"{parsed.user_line(parsed.node)})"
    sys.stderr.write(f"# ---- sourcediff {stage}: {where} ----\n{text.rstrip()}\n")
