"""The last stage: generated source (an :class:`~sourcediff.compiler.emit.Emitted`) compiled into a
function whose free names are bound to the objects the compiler resolved, with its line table
registered for tracebacks (``runtime.generated.LINES``) and its text for ``linecache`` (pdb)."""

import linecache
import threading

from ..runtime.generated import compile_code
from .emit import LineTable

_lock = threading.Lock()
_counter = [0]  # (each compiled function gets a file name of its own)


def free_names(parsed, globals_):
    """The objects generated code names freely: what the compiler bound, then the user's
    closure and default values."""
    free = dict(globals_.bound)
    for var, value in parsed.env.items():
        free.setdefault(var, value)
    return free


def compile_raw(parsed, emitted, name, globals_, extra=None):
    """Compile generated source (an :class:`~sourcediff.compiler.emit.Emitted`) inside a factory whose
    parameters bind the helper objects (and ``extra``, name -> object); its line table goes to
    ``runtime.generated.LINES`` under the file name it is compiled as (as its text goes to linecache)."""
    text = emitted.source
    free = free_names(parsed, globals_)
    if extra:
        free.update(extra)
    params = sorted(free)
    body = "\n".join("    " + line if line else line for line in text.splitlines())
    module_text = f"def __sourcediff_factory__({', '.join(params)}):\n{body}\n    return {name}\n"
    with _lock:
        _counter[0] += 1
        filename = (f"<sourcediff {name} of {parsed.filename_short}:"
                    f"{parsed.user_line(parsed.node)} #{_counter[0]}>")
    # (the factory's def line comes first: the function's line k is the module's k + 1)
    code = compile_code(module_text, filename, LineTable.of(emitted, 1))
    linecache.cache[filename] = (len(module_text), None, module_text.splitlines(True), filename)
    namespace = {}
    exec(code, parsed.fn.__globals__, namespace)
    fn = namespace["__sourcediff_factory__"](*[free[p] for p in params])
    fn.__qualname__ = name
    fn.__sourcediff_source__ = text
    return fn
