"""The command line: ``python -m sourcediff show file.py:function`` prints generated source.

Example::

    $ python -m sourcediff show examples/two_layer_net.py:loss --wrt w1,b1,w2,b2
    def grad_loss(w1, b1, w2, b2, x, y):
        ...
"""

import argparse
import importlib
import importlib.util
import io
import keyword
import os
import sys
import tokenize
from pathlib import Path

import sourcediff as sd

from .errors import SourcediffError

EXIT_ERROR = 2

SHOW_HELP = """\
Print the Python source that sourcediff generates for a function.

TARGET names the function as FILE.py:FUNCTION (the file is imported, its
directory first on sys.path, so run it from anywhere) or MODULE:FUNCTION for an
importable module; FUNCTION may be dotted (Class.method). If the target is
already a sourcediff-made function (for example one decorated with @sd.grad),
its source is printed as it is.

The output is syntax-coloured on a terminal and plain when piped or redirected
(--color always|never overrides; NO_COLOR is honoured).
"""

SHOW_EXAMPLES = """\
examples:
  python -m sourcediff show examples/two_layer_net.py:loss --wrt w1,b1,w2,b2
  python -m sourcediff show examples/polynomial_fit.py:loss --wrt 0,1,2,3 --mode value_and_grad
  python -m sourcediff show mypackage.models:energy --wrt x --no-optimize | less
"""

MODES = {"reverse": "grad", "grad": "grad", "value_and_grad": "value_and_grad",
         "forward": "jvp", "jvp": "jvp"}


class CliError(Exception):
    """A user mistake on the command line: printed as one line, exit status 2."""


# ------------------------------------------------------------------ finding the function


def parse_target(target):
    """Split a target into ``(kind, where, function)``, kind being ``"file"`` or ``"module"``.

    Example::

        parse_target("examples/net.py:loss")     # ('file', 'examples/net.py', 'loss')
        parse_target("mypackage.models:energy")  # ('module', 'mypackage.models', 'energy')
    """
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name:
        raise CliError(f"expected FILE.py:FUNCTION or MODULE:FUNCTION, got {target!r}")
    is_file = where.endswith(".py") or "/" in where or os.sep in where
    return ("file" if is_file else "module"), where, name


def load_module(kind, where):
    """Import the module named by a path or a dotted name; errors become :class:`CliError`."""
    if kind == "module":
        try:
            return importlib.import_module(where)
        except ImportError as e:
            raise CliError(f"cannot import module {where!r}: {e}") from None
        except Exception as e:  # noqa: BLE001  (the user's module failed while running)
            raise CliError(f"importing {where!r} failed: {type(e).__name__}: {e}") from None
    path = Path(where)
    if not path.is_file():
        raise CliError(f"no such file: {where}")
    path = path.resolve()
    name = path.stem if path.stem.isidentifier() else "_sourcediff_target"
    if name in sys.modules:
        name = f"_sourcediff_target_{name}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CliError(f"cannot import {where}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SystemExit as e:
        raise CliError(f"importing {where} called sys.exit({e.code}); guard the script part with "
                       "if __name__ == '__main__':") from None
    except Exception as e:  # noqa: BLE001  (the user's file failed while running)
        where_line = ""
        tb = e.__traceback__
        while tb is not None:
            if Path(tb.tb_frame.f_code.co_filename) == path:
                where_line = f":{tb.tb_lineno}"
            tb = tb.tb_next
        raise CliError(f"importing {where}{where_line} failed: {type(e).__name__}: {e}") from None
    return module


def find_function(module, qualname, where):
    """``module.<qualname>`` (dotted names walk attributes); a :class:`CliError` lists options."""
    obj = module
    for part in qualname.split("."):
        if not hasattr(obj, part):
            names = sorted(n for n, v in vars(module).items()
                           if callable(v) and getattr(v, "__module__", None) == module.__name__)
            hint = f"; it defines {', '.join(names[:10])}" if names else ""
            raise CliError(f"{where} has no function {qualname!r}{hint}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise CliError(f"{where}:{qualname} is a {type(obj).__name__}, not a function")
    return obj


def parse_wrt(text):
    """``"0"`` -> 0, ``"w"`` -> ``"w"``, ``"0,1"`` -> (0, 1), ``"w1,b1"`` -> ("w1", "b1")."""
    items = [s.strip() for s in text.split(",")]
    if not any(items):
        raise CliError(f"--wrt {text!r} names no parameter; use indices or names, e.g. --wrt 0,1")
    parsed = []
    for s in items:
        if not s:
            continue
        if s.lstrip("-").isdigit():
            parsed.append(int(s))
        elif s.isidentifier():
            parsed.append(s)
        else:
            raise CliError(f"--wrt entry {s!r} is neither a parameter index nor a name")
    if len(items) == 1:
        return parsed[0]
    return tuple(parsed)


def generate(fn, mode, wrt, optimize=True):
    """The generated source of ``fn`` in ``mode`` (reverse, value_and_grad or forward)."""
    if getattr(fn, "__sourcediff_source__", None) is not None:
        return fn.__sourcediff_source__
    kind = MODES[mode]
    transform = getattr(sd, kind, None)
    if transform is None:
        raise CliError(f"--mode {mode}: forward mode is not available yet in this version of "
                       f"sourcediff (sourcediff.{kind} is missing); use --mode reverse")
    kwargs = {"wrt": wrt}
    if not optimize:
        kwargs["optimize"] = False
    return sd.source(transform(fn, **kwargs))


# ------------------------------------------------------------------ colour


def use_color(choice, stream):
    """Colour for ``--color always``, or ``auto`` on a terminal when NO_COLOR is unset."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")


_ANSI = {"keyword": "\x1b[1;34m", "comment": "\x1b[3;32m", "string": "\x1b[33m",
         "number": "\x1b[36m", "name": "\x1b[1;35m", "reset": "\x1b[0m"}


def ansi_highlight(text):
    """A small ANSI highlighter (keywords, comments, strings, numbers, defined names).

    Example::

        print(ansi_highlight("def f(x):\\n    return x  # done\\n"))
    """
    lines = text.splitlines(keepends=True)
    out = []
    row, col = 1, 0

    def copy_to(r, c):
        nonlocal row, col
        while row < r:
            out.append(lines[row - 1][col:])
            row, col = row + 1, 0
        out.append(lines[row - 1][col:c])
        col = c

    prev = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.ENDMARKER:
                break
            style = None
            if tok.type == tokenize.COMMENT:
                style = "comment"
            elif tok.type == tokenize.STRING:
                style = "string"
            elif tok.type == tokenize.NUMBER:
                style = "number"
            elif tok.type == tokenize.NAME and (keyword.iskeyword(tok.string)
                                                or tok.string in ("True", "False", "None")):
                style = "keyword"
            elif tok.type == tokenize.NAME and prev in ("def", "class"):
                style = "name"
            if tok.type == tokenize.NAME:
                prev = tok.string
            if style is None or tok.start[0] > len(lines):
                continue
            copy_to(*tok.start)
            piece_end = tok.end
            start_row, start_col = tok.start
            if piece_end[0] == start_row:
                piece = lines[start_row - 1][start_col:piece_end[1]]
            else:
                piece = lines[start_row - 1][start_col:]
                piece += "".join(lines[start_row:piece_end[0] - 1])
                piece += lines[piece_end[0] - 1][:piece_end[1]]
            out.append(f"{_ANSI[style]}{piece}{_ANSI['reset']}")
            row, col = piece_end
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return text
    if row <= len(lines):
        copy_to(len(lines), len(lines[-1]))
    return "".join(out)


def highlight(text, use_pygments=True):
    """``text`` coloured for a terminal: by pygments when it is installed, else by ANSI codes."""
    if use_pygments:
        try:
            from pygments import highlight as pyg_highlight
            from pygments.formatters import TerminalFormatter
            from pygments.lexers import PythonLexer
        except ImportError:
            pass
        else:
            return pyg_highlight(text, PythonLexer(), TerminalFormatter())
    return ansi_highlight(text)


# ------------------------------------------------------------------ the commands


def build_parser():
    """The argparse parser of ``python -m sourcediff``."""
    parser = argparse.ArgumentParser(
        prog="python -m sourcediff",
        description="sourcediff: source-to-source automatic differentiation for Python + numpy.",
        epilog="Run 'python -m sourcediff show --help' for an example.")
    parser.add_argument("--version", action="version", version=f"sourcediff {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    show = sub.add_parser(
        "show", help="print the generated gradient source of a function",
        description=SHOW_HELP, epilog=SHOW_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("target", metavar="TARGET",
                      help="FILE.py:FUNCTION or MODULE:FUNCTION")
    show.add_argument("--wrt", default="0", metavar="ARGS",
                      help="parameters to differentiate with respect to: indices or names, comma "
                           "separated (default: 0, the first parameter)")
    show.add_argument("--mode", default="reverse", choices=sorted(MODES),
                      help="reverse (= grad, the default), value_and_grad, or forward (= jvp)")
    show.add_argument("--no-optimize", action="store_true",
                      help="show the naive transform, before dead code and zero adjoints are "
                           "removed")
    show.add_argument("--color", default="auto", choices=("auto", "always", "never"),
                      help="syntax colouring (default: auto, only on a terminal)")
    return parser


def _version():
    try:
        from importlib.metadata import version

        return version("sourcediff")
    except Exception:  # noqa: BLE001  (not installed as a distribution)
        return "unknown"


def show(args, stdout):
    """The ``show`` command: find the function, transform it, print the source."""
    kind, where, qualname = parse_target(args.target)
    module = load_module(kind, where)
    fn = find_function(module, qualname, where)
    text = generate(fn, args.mode, parse_wrt(args.wrt), optimize=not args.no_optimize)
    if not text.endswith("\n"):
        text += "\n"
    stdout.write(highlight(text) if use_color(args.color, stdout) else text)


def main(argv=None, stdout=None, stderr=None):
    """Run the command line; returns the exit status (0, or 2 after a one-line error)."""
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    args = build_parser().parse_args(argv)
    try:
        if args.command == "show":
            show(args, stdout)
    except (CliError, SourcediffError) as e:
        message = " ".join(str(e).split("\n")).strip()
        stderr.write(f"python -m sourcediff {args.command}: error: {message}\n")
        return EXIT_ERROR
    return 0
