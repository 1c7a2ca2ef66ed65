"""The code sourcediff compiles, known by the file names it is compiled under.

Every piece of code sourcediff compiles (the generated gradients and forms, the entry wrapper,
lifted helpers, parity probes) goes through :func:`compile_code`, which records its file name in
:data:`FILES`. A frame runs sourcediff's code when its file name is there (:func:`runs_generated`):
the object-state watch finds the gradient call on the stack by it, and warnings skip such frames
to point at the user's call. Generated functions with a line table (which user line each line
comes from) have it in :data:`LINES`, which tracebacks, pdb, parity attribution and the numba
backend's messages read.
"""

FILES = set()  # every file name sourcediff has compiled code under
LINES = {}  # generated file name -> its compiler.emit.LineTable


def compile_code(text, filename, lines=None):
    """``compile(text, filename, "exec")``, with ``filename`` recorded as sourcediff's (and its
    line table, when given, in :data:`LINES`)."""
    FILES.add(filename)
    if lines is not None:
        LINES[filename] = lines
    return compile(text, filename, "exec")


def runs_generated(frame):
    """Whether ``frame`` runs code sourcediff compiled."""
    return frame.f_code.co_filename in FILES
