"""Whether the source text sourcediff read for a function is the code Python runs.

``inspect`` reads a function's lines from its file as the file is now. When the file was edited
after its module was imported (and the module not reloaded), the function Python runs is the old
code while the text is the new one: differentiating the text would give the gradient of another
function. :func:`compiles_to` compiles the text again, inside an envelope that recreates what the
compiler saw when it compiled the function (its class, for private-name mangling; the enclosing
function's variables it reads, as cells; the names the module imports; the ``from __future__``
flags; its lines), and compares what
decides behaviour: the bytecode, the names, the constants (nested functions compared the same way).

It answers True (the same code), False (other code: the file changed) or None (it cannot tell: the
envelope could not recreate the compile; the caller then trusts the text, as it did before). A
false "changed" would refuse a user's ordinary function, so everything it is not sure of is None.

Example::

    >>> compiles_to(f, *inspect.getsourcelines(f.__code__))   # doctest: +SKIP
    True
"""

import __future__
import importlib.machinery
import inspect
import linecache
import re
import symtable
import sys
import types
import warnings
import weakref

# the flags that make two code objects behave differently (CO_NESTED and the like say only where
# the function was defined, which the envelope cannot always recreate)
_BEHAVIOUR = (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS | inspect.CO_GENERATOR
              | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE)
# the flags of ``from __future__`` imports, which code objects carry in co_flags
_FUTURE = 0
for _name in __future__.all_feature_names:
    _FUTURE |= getattr(__future__, _name).compiler_flag

# the loaders that compile a module's file text as it is (pytest's, which rewrites assert
# statements, is recognized by the names its rewrite uses, see _key). A module some other import
# hook loaded (typeguard's, beartype's: subclasses of SourceFileLoader that rewrite the syntax tree)
# runs code its text does not compile to, so it is not checked.
_PLAIN_LOADERS = (importlib.machinery.SourceFileLoader, importlib.machinery.SourcelessFileLoader)
_PYTEST_LOADER = ("_pytest.assertion.rewrite", "AssertionRewritingHook")


class _Unsure(Exception):
    """The running code cannot be compared with a compile of its text (pytest rewrote its asserts)."""


def compiles_to(fn, lines, first, segment=None):
    """Whether ``lines`` (the function's source lines as read from its file, not dedented), whose
    first line is line ``first`` of the file, compile to ``fn.__code__``: True, False, or None when
    that cannot be told. ``segment`` is for a lambda: (first line, first column, last line, end
    column) of the lambda expression in ``lines``, 1-based lines and 0-based byte columns.
    The answer is kept per code object and text (a build parses a function several times)."""
    code = fn.__code__
    asked = (tuple(lines), first, segment, fn.__qualname__)
    known = _ANSWERS.get(code)
    if known is not None and known[0] == asked:
        return known[1]
    answer = _answer(fn, code, lines, first, segment)
    _ANSWERS[code] = (asked, answer)
    return answer


# code object -> (the text, first line, lambda segment and qualified name asked about, the answer)
_ANSWERS = weakref.WeakKeyDictionary()


def _answer(fn, code, lines, first, segment):
    """:func:`compiles_to`'s answer, worked out."""
    if not _plainly_loaded(fn):
        return None
    try:
        running = _key(code)
    except _Unsure:
        return None
    if segment is None:
        body, at = lines, code.co_firstlineno - first
    else:
        body, at = _lambda_text(lines, segment), 0
    if not body:
        return None
    owner = _class_of(getattr(code, "co_qualname", None) or fn.__qualname__)
    # Python 3.11+ compiles ``np.sin(x)`` differently when ``np`` is bound by an import at the
    # top of the module: first guess which names are (the modules, classes and functions of other
    # modules the function reads), and when that compiles to other code, ask the file's symbol
    # table (once per file: it costs a parse of the whole file)
    names = _names(code)
    imported = _guess_imported(fn, names)
    same = _compiles_same(code, running, body, at, owner, imported)
    if same is False and sys.version_info >= (3, 11):
        # (variables too: the compiler consults the module's imports by name, so a local named
        # like a module-level import compiles as the import would)
        exact = _imported_names(code.co_filename, _names(code, all_names=True))
        if exact is None:
            return None
        if exact != imported:
            same = _compiles_same(code, running, body, at, owner, exact)
    if same is not True and not hasattr(code, "co_qualname"):
        # (3.10: the class is read from __qualname__, which code may have reassigned: the classes
        # the running code's private names were mangled with, or none, are tried too; they can
        # only tell that the code is the same)
        for other in _mangled_with(code, body) - {owner}:
            if _compiles_same(code, running, body, at, other, imported):
                return True
    return same


def _mangled_with(code, body):
    """The class names (None: no class) that private names of the text ``body`` may have been
    mangled with in ``code``: ``C`` of ``_C__w`` for ``self.__w``."""
    private = {t for t in re.findall(r"\b__\w+", "".join(body)) if not t.endswith("__")}
    found = {None}
    for name in _names(code, all_names=True):
        for t in private:
            if name.endswith(t) and name.startswith("_") and len(name) > len(t) + 1:
                found.add(name[1:-len(t)])
    return found


def _compiles_same(code, running, body, at, owner, imported):
    """Whether the text ``body``, in the class ``owner`` (None: none) of a module that imports
    the names ``imported``, compiles to code of the key ``running``; None when that cannot be
    told (the envelope does not fit the text, does not compile, or holds no such function)."""
    body = list(body)
    header = _header(code, owner, body)
    if header is None:
        return None
    # (blank lines first, so that the text is on its lines of the file: Python 3.13 keeps a class's
    # first line as a constant of its body; the imports last, which binds them all the same)
    header = ["\n" * max(code.co_firstlineno - at - 1 - len(header), 0)] + header
    text = "".join(header) + "".join(body) + (f"\nimport {', '.join(imported)}\n" if imported else "")
    try:
        # (the flags of the function's own __future__ imports; not this module's: dont_inherit)
        module = _quietly(compile, text, code.co_filename, "exec", code.co_flags & _FUTURE, True)
    except (SyntaxError, ValueError, RecursionError):  # (the envelope cannot hold this text)
        return None
    found = _find(module, code.co_name, header[0].count("\n") + len(header) + at)
    if found is None:
        return None
    try:
        return _key(found) == running
    except _Unsure:
        return None


def _quietly(compiler, *args):
    """``compiler(*args)`` without the warnings compiling the text gives again (an invalid
    escape sequence, warned at import already, would be warned at the envelope's line)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compiler(*args)


def _names(code, all_names=False):
    """Every name the code object and the ones nested in it read as a global or an attribute
    (and, ``all_names``, as a variable)."""
    names = set(code.co_names)
    if all_names:
        names |= set(code.co_varnames + code.co_freevars + code.co_cellvars)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _names(c, all_names)
    return names


def _guess_imported(fn, names):
    """The ones of ``names`` that are likely bound by an import at the top of ``fn``'s module:
    modules, and classes and functions of other modules, in its globals."""
    home, scope = getattr(fn, "__module__", None), fn.__globals__
    out = []
    for name in sorted(names):
        value = scope.get(name)
        if isinstance(value, types.ModuleType) or (isinstance(value, _DEFINED) and getattr(
                value, "__module__", home) not in (home, None)):
            out.append(name)
    return out


_DEFINED = (type, types.FunctionType, types.BuiltinFunctionType)
# file name -> (its size and time in linecache, the names an import binds at its top)
_IMPORTED = {}


def _imported_names(filename, names):
    """The ones of ``names`` that an import binds at the top of ``filename``'s text (as linecache
    holds it), sorted; None when the text does not compile."""
    entry = linecache.cache.get(filename)
    stamp = entry[:2] if isinstance(entry, tuple) and len(entry) == 4 else None
    known = _IMPORTED.get(filename)
    if known is None or stamp is None or known[0] != stamp:
        try:
            top = _quietly(symtable.symtable, "".join(linecache.getlines(filename)), filename,
                           "exec")
        except (SyntaxError, ValueError, RecursionError):
            return None
        known = (stamp, {s.get_name() for s in top.get_symbols() if s.is_imported()})
        if stamp is not None:
            _IMPORTED[filename] = known
    return sorted(names & known[1])


def _plainly_loaded(fn):
    """Whether ``fn``'s module, if it is known, was loaded by a loader that compiles its text as
    it is (a function of an unknown module, or of one exec'd from a file, was compiled from it)."""
    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    spec = getattr(module, "__spec__", None)
    loader = getattr(spec, "loader", None) or getattr(module, "__loader__", None)
    if loader is None:
        return True
    kind = type(loader)
    if kind in _PLAIN_LOADERS or (kind.__module__, kind.__name__) == _PYTEST_LOADER:
        return True
    return kind.__module__ in ("zipimport", "_frozen_importlib", "_frozen_importlib_external")


def _header(code, owner, body):
    """The lines to put above the function's text so that it compiles as it did: an enclosing
    def whose parameters are the function's free variables, then its class (private names mangle
    with the class's name), indented with prefixes of the text's own indentation (``body``'s
    first line is indented in place, for a lambda's text). None when the text's indentation
    leaves no room for them."""
    free = [n for n in code.co_freevars if not (owner and n == "__class__")]
    heads = []
    if free:
        heads.append(f"def __sourcediff_enclosing__({', '.join(free)}):\n")
    if owner:
        heads.append(f"class {owner}:\n")
    if code.co_name == "<lambda>":
        body[0] = " " * len(heads) + body[0]
    indent = body[0][:len(body[0]) - len(body[0].lstrip(" \t"))]
    if indent and not heads:
        heads.append("if 1:\n")  # (a nested function that reads no variable of its enclosing one)
    if len(heads) > len(indent):
        return None
    return [indent[:k] + head for k, head in enumerate(heads)]


def _class_of(qualname):
    """The innermost class in a qualified name (``C`` of ``f.<locals>.C.m`` and of ``C.m.<locals>.g``),
    or None: a part that is neither the last nor followed by ``<locals>`` names a class."""
    parts = qualname.split(".")
    classes = [p for p, after in zip(parts, parts[1:]) if p != "<locals>" and after != "<locals>"]
    return classes[-1] if classes and classes[-1].isidentifier() else None


def _lambda_text(lines, segment):
    """A lambda expression's text from its lines, in parentheses (its continuation lines kept as
    written: a string in it spanning lines is the same string)."""
    line, col, end_line, end_col = segment
    if not 1 <= line <= end_line <= len(lines):
        return None
    chosen = [text.encode() for text in lines[line - 1:end_line]]
    chosen[-1] = chosen[-1][:end_col]
    chosen[0] = chosen[0][col:]
    out = [text.decode(errors="replace") for text in chosen]
    out[-1] = out[-1].rstrip("\n") + ")\n"
    out[0] = "(" + out[0]
    return out


def _find(module, name, line):
    """The code object named ``name`` that starts on ``line``, nearest the top of ``module``."""
    level = [module]
    while level:
        inner = [c for code in level for c in code.co_consts if isinstance(c, types.CodeType)]
        for c in inner:
            if c.co_name == name and c.co_firstlineno == line:
                return c
        level = inner
    return None


def _key(code):
    """What decides how a code object behaves, as one comparable value (nested code objects by
    the same key; line numbers, file and qualified name left out)."""
    if any(n.startswith("@py") for n in code.co_names):  # (pytest rewrote an assert in it)
        raise _Unsure
    return (code.co_code, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars,
            tuple(_constant(c) for c in code.co_consts), code.co_argcount,
            code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags & _BEHAVIOUR,
            getattr(code, "co_exceptiontable", b""), code.co_name)


def _constant(value):
    """A constant as a comparable value that tells apart what ``==`` does not (1, 1.0, True;
    0.0 and -0.0)."""
    if isinstance(value, types.CodeType):
        return _key(value)
    if isinstance(value, tuple):
        return ("tuple", tuple(_constant(v) for v in value))
    if isinstance(value, frozenset):
        return ("frozenset", frozenset(_constant(v) for v in value))
    if isinstance(value, (float, complex)):
        return (type(value).__name__, repr(value))
    if isinstance(value, str) and ".<locals>." in value:
        # (Python 3.10 keeps a nested function's qualified name as a constant: its part after the
        # enclosing function's, the part the envelope cannot name the same)
        return ("qualname", value.rsplit(".<locals>.", 1)[-1])
    return (type(value).__name__, value)
