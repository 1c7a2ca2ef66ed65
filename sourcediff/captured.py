"""What a compiled function was built for besides its arguments, checked on every call: the user
function's closure cell contents and default values (and the closures and globals of the rules
of the user's own it inlines),
the methods it resolved in a class (its receiver's, a callable object's ``__call__``), and the
compiled function it transforms in turn (``sd.hessian(f)`` differentiates the generated gradient
of ``f``).

A gradient is built once and cached, and the generated code binds those objects when it is
compiled. Rebind one afterwards (``nonlocal c; c = 5.0``, ``f.__defaults__ = (5.0,)``,
``Model.act = other``) and the old code would give the old function's derivative: so a call that
finds one changed runs a gradient built for what is there now (compiled once per new state,
cached like any other). A method a receiver shadows with an attribute of its own is refused.
"""

import inspect
import threading

from .errors import SourcediffError

_EMPTY = object()  # (a closure cell not yet bound)
_lock = threading.RLock()


def _contents(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return _EMPTY


def class_attribute(cls, name):
    """``cls``'s own or inherited attribute ``name`` as stored (no descriptor called), or _EMPTY;
    for an object that is not a class, what ``inspect.getattr_static`` finds on it."""
    if not isinstance(cls, type):
        return inspect.getattr_static(cls, name, _EMPTY)
    for klass in cls.__mro__:
        found = vars(klass).get(name, _EMPTY)
        if found is not _EMPTY:
            return found
    return _EMPTY


def state_key(fn):
    """The part of a compile cache key that follows what ``fn`` captured: the identities of its
    closure cells' contents and of its default values (a compiled function holds these objects,
    so no identity is reused while its cache entry lives)."""
    cells = getattr(fn, "__closure__", None) or ()
    return (tuple(id(_contents(c)) for c in cells), id(getattr(fn, "__defaults__", None)),
            id(getattr(fn, "__kwdefaults__", None)))


def _codes(objects):
    """(function, its code) for each Python function among ``objects`` (and the functions a
    staticmethod, classmethod or property holds), each once."""
    out, seen = [], set()
    for obj in objects:
        for f in (getattr(obj, "__func__", None), getattr(obj, "fget", None), obj):
            code = getattr(f, "__code__", None) if inspect.isfunction(f) else None
            if code is not None and id(f) not in seen:
                seen.add(id(f))
                out.append((f, code))
    return tuple(out)


class Redirected:
    """What a split form's forward half built anew saved, with the backward half that reads it:
    the old backward half, which the caller's code calls, hands it on."""

    __slots__ = ("saved", "bwd")

    def __init__(self, saved, bwd):
        self.saved, self.bwd = saved, bwd


class Captured:
    """The objects one compiled function was built for (see the module docstring).

    ``remake(args)``: a compiled function built for the current state (set by the cache that made
    this one; None refuses the call instead); ``entry``: the compiled function itself."""

    def __init__(self, fn, methods=(), receiver=False, parent=None, rules=(), rule_globals=(),
                 functions=()):
        self.fn = fn
        # (the closures of fn and of the rules (sd.custom_vjp) inlined with their closure values)
        self.cells = tuple((c, _contents(c)) for f in (fn, *rules)
                           for c in getattr(f, "__closure__", None) or ())
        self.rule_globals = tuple(rule_globals)  # (module dict, name, object)
        self.defaults = getattr(fn, "__defaults__", None)
        self.kwdefaults = getattr(fn, "__kwdefaults__", None)
        self.methods = tuple(methods)
        # (the first argument is the receiver of the methods called through self)
        self.receiver = receiver and any(m[3] for m in self.methods)
        self.parent = parent
        self.user = fn if fn is not None else parent.user  # (the user's function, for messages)
        # (the code of each function it was built from: fn's, the helpers and methods it calls;
        # IPython's autoreload gives a function new code in place, the object staying the same)
        self.codes = _codes((fn,) + tuple(functions) + tuple(m[2] for m in self.methods) +
                            tuple(obj for _, obj in self.cells) +
                            tuple(obj for _, _, obj in self.rule_globals))
        self.entry = self.remake = self.redirect = None

    def needed(self):
        """Whether there is anything to check on a call."""
        return bool(self.cells or self.defaults or self.kwdefaults or self.methods or
                    self.rule_globals or self.parent is not None)  # (the codes: see compiled)

    def changed(self):
        """What changed since the build, as words for a message; None when nothing did."""
        for cell, obj in self.cells:
            if _contents(cell) is not obj:
                return "a variable of its closure (or of a rule's it inlines) was rebound"
        for scope, name, obj in self.rule_globals:
            if scope.get(name, _EMPTY) is not obj:
                return f"{name}, a global of a rule of yours or of a module it calls into, was " \
                    f"rebound"
        fn = self.fn
        if getattr(fn, "__defaults__", None) is not self.defaults or \
                getattr(fn, "__kwdefaults__", None) is not self.kwdefaults:
            return "its default values were replaced"
        for cls, name, attr, _ in self.methods:
            if class_attribute(cls, name) is not attr:
                owner = getattr(cls, "__name__", f"the {type(cls).__name__} object's")
                return f"{owner}.{name} now names another function"
        for function, code in self.codes:
            if function.__code__ is not code:
                return f"the code of {function.__qualname__} was replaced (as IPython's " \
                    f"autoreload does)"
        if self.parent is not None and self.parent.changed() is not None:
            return self.parent.changed()
        return None

    def current(self, args):
        """The compiled function to run for a call with ``args`` now: this one, or one built for
        what the function captures now."""
        if self.receiver and args:
            self._check_receiver(args[0])
        why = self.changed()
        if why is None:
            return self.entry
        with _lock:
            target = self.redirect
            if target is None or target.__sourcediff_captured__.changed() is not None:
                if self.remake is None:
                    raise SourcediffError(
                        f"{self._where()}: {self.user.__qualname__} changed after sourcediff "
                        f"built its derivative ({why}); call sd.grad (or the transform you used) "
                        f"again")
                target = self.redirect = self.remake(args)
        return target

    def _where(self):
        code = getattr(self.user, "__code__", None)
        return f"{code.co_filename}:{code.co_firstlineno}" if code is not None else "?"

    def _check_receiver(self, obj):
        own = getattr(obj, "__dict__", None)
        if not own:
            return
        for cls, name, _, through_self in self.methods:
            if through_self and name in own:
                raise SourcediffError(
                    f"{self._where()}: {self.user.__qualname__} calls self.{name}, which "
                    f"sourcediff resolves in the class ({cls.__name__}.{name}), but this "
                    f"{type(obj).__name__} object has an attribute {name} of its own that "
                    f"Python would call instead. Set it on a subclass (or the class) rather than "
                    f"on the object, or pass the function in as an argument")
