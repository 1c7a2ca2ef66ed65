"""Emit stage: statements to Python source text and its line table (which user line each
generated line comes from), with the comments that quote the user's lines.

Comments are ``Comment`` statements in the tree (an explicit node kind, not an annotation), each
with the :class:`Origin` it quotes; the emitter writes each as a ``# ...`` line and gives every
line after it that origin in the table, so error locations never read the comments' text.
Example output::

    # grad of: h = np.maximum(x @ w1 + b1, 0.0)  (mlp.py:5)
    _add1_bar = h_bar * _sd.tie_mask(_add1, 0.0, _add1 > 0.0)
"""

import ast
import re
from dataclasses import dataclass

import gast

from ..syntax import Comment, clone, is_comment  # noqa: F401


@dataclass(frozen=True)
class Origin:
    """A user's line that generated code comes from: the file as comments name it (its base
    name, or a generated file's name for the derivative of generated code), the line, its text,
    and whether the code is that line's adjoint ("grad of")."""

    file: str
    line: int
    text: str
    grad: bool = False
    # the sources of the _sd_quiet(...) contexts the line runs in (a with np.errstate(...)
    # block's line: compiler/contexts.py); the emitter wraps its generated code in them
    context: tuple = ()

    @property
    def location(self):
        """``file.py:NN``."""
        return f"{self.file}:{self.line}"

    def __str__(self):
        return f"{self.location}: {self.text}"


@dataclass(frozen=True)
class Emitted:
    """Generated source and its line table: ``lines`` maps a line of ``source`` (from 1) to the
    :class:`Origin` of the comment above it; ``comments`` maps each comment line to its own."""

    source: str
    lines: dict
    comments: dict


@dataclass(frozen=True)
class LineTable:
    """The line table of one compiled module of generated code: ``lines`` maps its lines to the
    :class:`Origin` of the comment above them, ``comments`` its comment lines to theirs; the
    emitted function starts ``offset`` lines down the module."""

    lines: dict
    comments: dict
    offset: int

    @classmethod
    def of(cls, emitted, offset):
        """``emitted``'s table for its source placed ``offset`` lines down a module."""
        return cls({k + offset: o for k, o in emitted.lines.items()},
                   {k + offset: o for k, o in emitted.comments.items()}, offset)


def comment_text(origin):
    """How a comment quotes its :class:`Origin`: ``grad of: <line>  (file.py:NN)``."""
    return f"{'grad of: ' if origin.grad else ''}{origin.text}  ({origin.location})"


def comment(text, origin=None):
    """A :class:`Comment` statement (``comment_at`` writes one for a user's line)."""
    return Comment(value=gast.Constant(value=text, kind=None), origin=origin)


def comment_at(origin):
    """The :class:`Comment` that quotes ``origin`` (a user's line) above its generated code."""
    return comment(comment_text(origin), origin)


def _within(statements, enclosing):
    """The statements, each run of consecutive ones whose context (a tuple of context sources,
    see :class:`Origin`) is not the ``enclosing`` one's wrapped in ``with`` that context."""
    out, k = [], 0
    while k < len(statements):
        s, context = statements[k]
        if not context or context == enclosing:
            out.append(s)
            k += 1
            continue
        run = []
        while k < len(statements) and statements[k][1] == context:
            run.append(statements[k][0])
            k += 1
        items = context[len(enclosing):] if context[:len(enclosing)] == enclosing else context
        out.append(gast.With(items=[gast.withitem(context_expr=gast.parse(c).body[0].value,
                                                  optional_vars=None) for c in items],
                             body=run, type_comment=None))
    return out


_MARK = re.compile(r"^(\s*)__sourcediff_comment_(\d+)__$")


def to_source(fdef):
    """Python source of a gast FunctionDef whose body may hold :class:`Comment` statements."""
    return emit(fdef).source


def emit(fdef):
    """The :class:`Emitted` source and line table of a gast FunctionDef (with Comments)."""
    comments = []

    def lower(stmts, context, enclosing):
        out = []  # (statement, the context it runs in)
        last = None
        for s in stmts:
            if isinstance(s, Comment):
                if s.value.value == last:
                    continue  # one comment for consecutive blocks of the same user line
                last = s.value.value
                comments.append(s)
                if s.origin is not None:
                    context = s.origin.context
                out.append((gast.Expr(value=gast.Name(
                    id=f"__sourcediff_comment_{len(comments) - 1}__", ctx=gast.Load(),
                    annotation=None, type_comment=None)), context))
                continue
            runs_in = context or enclosing
            if isinstance(getattr(s, "body", None), list):
                s.body = lower(s.body, context, runs_in) or [gast.Pass()]
            if isinstance(getattr(s, "orelse", None), list):
                s.orelse = lower(s.orelse, context, runs_in)
            out.append((s, context))
        return _within(out, enclosing)

    fdef = clone(fdef)
    fdef.body = lower(fdef.body, (), ())
    tree = gast.gast_to_ast(fdef)
    ast.fix_missing_locations(tree)
    text = ast.unparse(tree)
    lines, table, at_comments, current = [], {}, {}, None
    for number, line in enumerate(text.splitlines(), start=1):
        m = _MARK.match(line)
        if m:
            node = comments[int(m.group(2))]
            lines.append(f"{m.group(1)}# {node.value.value}")
            if node.origin is not None:
                current = at_comments[number] = node.origin
        else:
            lines.append(line)
            if current is not None:
                table[number] = current
    return Emitted("\n".join(lines) + "\n", table, at_comments)
