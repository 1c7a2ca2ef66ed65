"""A picture of a tape graph: graphviz DOT text like torchviz, rendered to SVG/PNG by ``dot``.

Example::

    from sourcediff import tape as T

    x = T.ones(2, 2, requires_grad=True)
    out = (x * 3).mean()
    print(T.to_dot(out))              # digraph { ... MeanBackward0 ... AccumulateGrad ... }
    T.render(out, "graph.svg")        # needs graphviz's `dot` on PATH
"""

import pathlib
import shutil
import subprocess

from ..errors import SourcediffError
from .node import AccumulateGrad


def _quote(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _shape(t):
    return "(" + ", ".join(str(n) for n in t.shape) + (",)" if len(t.shape) == 1 else ")")


def to_dot(*outputs, params=None):
    """DOT text of the graph behind ``outputs`` (tape Tensors).

    Nodes are labelled with their grad_fn class names; leaves (``AccumulateGrad``) are light blue
    boxes with the variable's shape (and its name when ``params={"w1": w1, ...}`` is given), outputs
    are dark green boxes with their shapes, like torchviz's ``make_dot``.

    Example::

        dot = to_dot(loss, params={"w1": w1, "w2": w2})
    """
    names = {id(v): k for k, v in (params or {}).items()}
    ids = {}
    lines = ["digraph {", '\tgraph [size="12,12"]',
             ('\tnode [align=left fontname=monospace fontsize=10 height=0.2 ranksep=0.1 '
              'shape=box style=filled]')]

    def node_id(n):
        if id(n) not in ids:
            ids[id(n)] = f"n{len(ids)}"
        return ids[id(n)]

    seen = set()
    stack = []
    for i, out in enumerate(outputs):
        oid = f"out{i}"
        label = (names.get(id(out), "") + "\n" if id(out) in names else "") + _shape(out)
        lines.append(f"\t{oid} [label={_quote(label)} fillcolor=darkolivegreen1]")
        if out.grad_fn is not None:
            lines.append(f"\t{node_id(out.grad_fn)} -> {oid} [style=dashed]")
            stack.append(out.grad_fn)
        elif out.requires_grad:
            stack.append(out._acc_node())
            lines.append(f"\t{node_id(out._acc_node())} -> {oid} [style=dashed]")
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, AccumulateGrad):
            v = n.variable
            label = (names[id(v)] + "\n" if id(v) in names else "") + _shape(v)
            lines.append(f"\tv{node_id(n)} [label={_quote(label)} fillcolor=lightblue]")
            lines.append(f"\t{node_id(n)} [label=\"AccumulateGrad\" fillcolor=lightgrey]")
            lines.append(f"\tv{node_id(n)} -> {node_id(n)}")
        else:
            lines.append(f"\t{node_id(n)} [label={_quote(n.name())} fillcolor=lightgrey]")
        for child in n._next:
            if child is None:
                continue
            lines.append(f"\t{node_id(child)} -> {node_id(n)}")
            stack.append(child)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(output, path, params=None):
    """Write the graph picture of ``output`` to ``path``; the format comes from the suffix
    (``.svg``, ``.png``, ``.pdf``). Raises :class:`SourcediffError` when graphviz is missing.

    Example::

        render(loss, "loss_graph.svg")
    """
    path = pathlib.Path(path)
    fmt = path.suffix.lstrip(".") or "svg"
    exe = shutil.which("dot")
    if exe is None:
        raise SourcediffError(
            "rendering a tape graph needs graphviz's `dot` program, which is not on PATH; install "
            "graphviz (e.g. `apt-get install graphviz`) or use sourcediff.tape.to_dot(...) and "
            "render the DOT text elsewhere")
    res = subprocess.run([exe, f"-T{fmt}", "-o", str(path)], input=to_dot(output, params=params),
                         text=True, capture_output=True, check=False)
    if res.returncode != 0:
        raise SourcediffError(f"graphviz `dot -T{fmt}` failed: {res.stderr.strip()}")
    return path
