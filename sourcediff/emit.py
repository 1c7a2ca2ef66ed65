"""Emit stage: statements to Python source text, with the comments that quote the user's lines.

Comments are ``Comment`` statements in the tree (an explicit node kind, not an annotation); the
emitter writes each as a ``# ...`` line. Example output::

    # grad of: h = np.maximum(x @ w1 + b1, 0.0)  (mlp.py:5)
    _add1_bar = h_bar * _sd.tie_mask(_add1, 0.0, _add1 > 0.0)
"""

import ast
import re

import gast


class Comment(gast.Expr):
    """A ``# text`` line in generated code."""



def comment(text):
    """A :class:`Comment` statement."""
    return Comment(value=gast.Constant(value=text, kind=None))


def is_comment(node):
    """True for a :class:`Comment` statement."""
    return isinstance(node, Comment)


_MARK = re.compile(r"^(\s*)__sourcediff_comment_(\d+)__$")


def to_source(fdef):
    """Python source of a gast FunctionDef whose body may hold :class:`Comment` statements."""
    texts = []

    def lower(stmts):
        out = []
        last = None
        for s in stmts:
            if isinstance(s, Comment):
                if s.value.value == last:
                    continue  # one comment for consecutive blocks of the same user line
                last = s.value.value
                texts.append(s.value.value)
                out.append(gast.Expr(value=gast.Name(id=f"__sourcediff_comment_{len(texts) - 1}__",
                                                     ctx=gast.Load(), annotation=None,
                                                     type_comment=None)))
                continue
            if isinstance(getattr(s, "body", None), list):
                s.body = lower(s.body) or [gast.Pass()]
            if isinstance(getattr(s, "orelse", None), list):
                s.orelse = lower(s.orelse)
            out.append(s)
        return out

    import copy

    fdef = copy.deepcopy(fdef)
    fdef.body = lower(fdef.body)
    tree = gast.gast_to_ast(fdef)
    ast.fix_missing_locations(tree)
    text = ast.unparse(tree)
    lines = []
    for line in text.splitlines():
        m = _MARK.match(line)
        if m:
            lines.append(f"{m.group(1)}# {texts[int(m.group(2))]}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"
