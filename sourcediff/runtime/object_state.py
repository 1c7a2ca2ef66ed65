"""Object state a gradient call writes: ``self.X = X`` in a layer's forward, bookkeeping appends.

Generated code runs ``obj.name = v`` as Python does. sourcediff reads attributes as constants, so
a value that carries a derivative may be stored on an object (a layer caching its input for a
hand-written backward pass, a model keeping its last state) as long as nothing in the same gradient
call reads it back: that read would take it as a constant and lose its derivative, silently.

Such a store is generated as ``_sd.store_attribute(obj, "name", v, where, text, carries)``, and the
read of an object's list or dict that a value carrying a derivative is appended or stored into
(``self.dv["A"].append(A)``) as ``_sd.holder_for_append(obj, "dv", where, text)``. Both run what
Python runs, then make a later read detectable wherever it happens (in generated code, in a helper
that runs as plain Python, through ``getattr``): the object's class gets a small data descriptor
(:class:`_Guard`) for that name. Reads and writes pass through it to the instance's ``__dict__``
exactly as before, except a read that returns the watched value while the gradient call that
stored it is still on the stack of the same thread, which raises
:class:`~sourcediff.errors.AliasError` naming the read and the store. A later gradient call reads
the value as the constant it then is (a recurrent model's state from the previous call), and so
does everything after the call returns (the user's backward pass). Writing the attribute again
ends the watch. Generated code that reads an object whole (``vars(obj)``, ``obj.__dict__``,
``copy.copy(obj)``) calls :func:`check_whole_read` first; such reads in code that runs as plain
Python are not seen (the attribute's own reads are).

A store the descriptor cannot watch is refused at the store: an object without a ``__dict__``
(slots, builtins, modules), a class with its own ``__setattr__``/``__getattr__``/
``__getattribute__`` (the value may live elsewhere), or a property or other data descriptor of
that name. A watch keeps the stored value and the gradient call's outermost frame until a later
store on the same thread (or a read) finds that call has returned.
"""

import linecache
import os
import sys
import threading

import numpy as np

from ..errors import AliasError, SourcediffError
from . import hooks
from .generated import runs_generated

__all__ = ["store_attribute", "set_attribute", "holder_for_append", "check_whole_read",
           "check_held_class", "unwatched_class_entry",
           "stored_by_running_call"]

_watched = {}  # (id(obj), name) -> _Store
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
_lock = threading.Lock()


class _Store:
    __slots__ = ("obj", "value", "frame", "where", "text", "what", "thread", "leaves")

    def __init__(self, obj, value, frame, where, text, what, leaves=None):
        self.obj, self.value, self.frame, self.where, self.text = obj, value, frame, where, text
        self.what = what  # "stored a value carrying a derivative there", or appended one into it
        self.thread = threading.get_ident()  # (the gradient call runs on this thread's stack)
        # (a list or dict watched for what goes into it: the float leaves it held then)
        self.leaves = leaves


def _float_leaves(value, out, depth=0):
    """``out`` with the ids of what ``value`` (a list, tuple or dict) holds, at any depth, that
    could carry a derivative: anything but a string, a bool, an int, None or an array of those
    (a float, a float array, an object: a layer appended, Sequential.add(Dense(W, b)))."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iubUS":
            out.add(id(value))
    elif value is None or isinstance(value, (str, bytes, bool, int, np.integer, np.bool_)):
        pass
    elif depth < 8 and type(value) in (list, tuple, dict):
        for item in value.values() if isinstance(value, dict) else value:
            _float_leaves(item, out, depth + 1)
    else:
        out.add(id(value))
    return out


def _gained_floats(store):
    """Whether the list or dict ``store`` watches holds a float (or an object) it did not hold
    when the watch began (what the gradient call put in: ``self.cache["z1"] = z1``); a
    container given only strings and ints since (``self.config["calls"] += 1``) may be read
    back."""
    return store.leaves is None or bool(_float_leaves(store.value, set()) - store.leaves)


def _outermost_generated(frame):
    """The outermost frame of generated code on the stack above ``frame``: the gradient call."""
    found = None
    while frame is not None:
        if runs_generated(frame):
            found = frame
        frame = frame.f_back
    return found


def _on_stack(target):
    frame = sys._getframe(1)
    while frame is not None:
        if frame is target:
            return True
        frame = frame.f_back
    return False


def _reading_frame(frame):
    """The frame of the user's code (or the generated code standing for it) that made a read
    ``frame`` made: a runtime helper's frame (the getattr of _sd.constructed_grad, which reads
    what setattr(p, "v", ...) stored) gives way to its caller's."""
    while frame.f_back is not None and os.path.dirname(frame.f_code.co_filename) == _RUNTIME_DIR:
        frame = frame.f_back
    return frame


def _location(frame):
    """``(file:line, the line's text)`` of a frame, generated code followed back to the user's
    line."""
    filename, line = frame.f_code.co_filename, frame.f_lineno
    mapped = hooks.generated_line(filename, line)
    if mapped is not None:
        origin = hooks.outermost(mapped)
        return origin.location, origin.text.strip()
    return f"{filename}:{line}", linecache.getline(filename, line).strip()


class _Guard:
    """On a class, for one attribute name: instance reads and writes go to ``__dict__`` as
    Python's own lookup would, and a read of a value a running gradient call stored is refused."""

    __slots__ = ("name", "inner", "owner")

    def __init__(self, name, inner, owner):
        # inner: what the class ``owner`` itself held under name (or _MISSING); what its bases
        # hold is looked up at each read, so a later change to a base class is seen
        self.name, self.inner, self.owner = name, inner, owner

    def __get__(self, obj, owner=None):
        if obj is None:
            return self._class_value(None, owner)
        d = obj.__dict__
        if self.name not in d:
            return self._class_value(obj, owner)  # (AttributeError: __getattr__ is tried)
        value = d[self.name]
        store = _watched.get((id(obj), self.name))
        if store is not None and store.obj is obj and store.value is value and \
                store.thread == threading.get_ident():  # (another thread's read is not this call's)
            running = _on_stack(store.frame)
            if running and not _gained_floats(store):
                return value  # (strings and ints put in it: still watched for floats)
            if running:
                reader = _reading_frame(sys._getframe(1))
                where, text = _location(reader)
                raise AliasError(
                    f"{where}: reads {type(obj).__name__}.{self.name} back in the same gradient "
                    f"call that {store.what}:\n    {text}\n"
                    f"stored at {store.where}:\n    {store.text}\nsourcediff reads attributes "
                    f"as constants, so the derivative through it would be lost. "
                    f"{_read_back_fix(obj, self.name, reader, store)}")
            _forget(obj, self.name)  # (stored by a call that has returned: a constant now)
        return value

    def _class_value(self, obj, owner):
        inner = self.inner
        if inner is _MISSING:
            inner = _class_entry(self.owner, self.name, start=1)
        if inner is _MISSING:
            raise AttributeError(f"{owner.__name__ if obj is None else type(obj).__name__!r} "
                                 f"object has no attribute {self.name!r}")
        get = getattr(type(inner), "__get__", None)
        return inner if get is None else get(inner, obj, owner)

    def __set__(self, obj, value):
        obj.__dict__[self.name] = value
        _forget(obj, self.name)

    def __delete__(self, obj):
        try:
            del obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None
        _forget(obj, self.name)


_MISSING = object()


def _read_back_fix(obj, name, frame, store):
    """What to write instead of reading ``obj.name`` back: for a method of ``obj`` reading what
    the function stored on it (``model.params = params; return model.loss(X, y)``, cs231n's
    solver, a scipy.optimize wrapper), differentiate with respect to the object itself; for one
    reading what a method stored through its own receiver (a recurrent cell's ``self.h`` kept
    from one call of ``step`` to the next), carry the value in the caller."""
    code = frame.f_code
    if code.co_argcount and frame.f_locals.get(code.co_varnames[0]) is obj:
        cls = type(obj).__name__
        me = code.co_varnames[0]
        if store.text.startswith(f"{me}.{name} ") or store.text.startswith(f"{me}.{name}="):
            return (f"A method of the {cls} stored self.{name} and reads it back in the same "
                    f"gradient call (a state kept on the object from one call to the next), "
                    f"which sourcediff takes as a constant whether or not the {cls} is what the "
                    f"gradient is taken with respect to. Carry the value in the caller instead: "
                    f"return it from the method and pass it back in ({name} = "
                    f"obj.method(x, {name}), the state starting as a local), reading only the "
                    f"{cls}'s parameters through self.")
        return (f"A method of the {cls} reads self.{name}, which the function differentiated "
                f"stored there: differentiate with respect to the object instead. Store the "
                f"value before the gradient call (model.{name} = {name}), write the loss as "
                f"a function of the object (def loss_of(model, X, y): return model.loss(X, y)) "
                f"and take sd.grad(loss_of)(model, X, y).{name}: the gradient is a {cls} whose "
                f".{name} has the structure of what you stored (sd.flatten(...)[0] makes it one "
                f"vector, for scipy.optimize).")
    return ("Pass the value on as an argument or a return value instead of reading it back "
            "from the object (caching it there for use after the gradient call is fine).")


def _forget(obj, name):
    if _watched:
        with _lock:
            store = _watched.get((id(obj), name))
            if store is not None and store.obj is obj:
                del _watched[(id(obj), name)]


def _refuse(obj, name, where, text, why, carries):
    what = "stores a value that carries a derivative" if carries else \
        "stores a value that this function reads back as that attribute later"
    raise AliasError(
        f"{where}: {type(obj).__name__}.{name} = ... {what}, and {why}, so sourcediff cannot "
        f"tell what reading the attribute gives (it would take it as a constant, or as the "
        f"value stored, and the derivative could be wrong).\n    {text}\nKeep the value in a "
        f"local variable and pass it on or return it.")


def _class_entry(cls, name, start=0):
    """What ``cls`` (from its ``start``-th class in the MRO on) holds under ``name``."""
    for klass in cls.__mro__[start:]:
        if name in vars(klass):
            return vars(klass)[name]
    return _MISSING


def unwatched_class_entry(cls, name):
    """What ``cls`` holds under ``name`` as the user's code left it: through the watch a gradient
    call put there (a :class:`_Guard`), the class's own value or a base's; raises
    AttributeError for none."""
    entry = _class_entry(cls, name)
    while isinstance(entry, _Guard):
        entry = entry.inner if entry.inner is not _MISSING else \
            _class_entry(entry.owner, name, start=1)
    if entry is _MISSING:
        raise AttributeError(name)
    return entry


def _checked_class(obj, name, where, text, carries):
    """The entry of ``type(obj)`` for ``name`` after the checks that the attribute is a plain
    one sourcediff can watch (refused at the store otherwise)."""
    cls = type(obj)
    if getattr(cls, "__setattr__", None) is not object.__setattr__ or \
            getattr(cls, "__getattribute__", None) is not object.__getattribute__ or \
            hasattr(cls, "__getattr__"):
        _refuse(obj, name, where, text,
                f"{cls.__name__} defines its own attribute access (__setattr__, __getattr__ or "
                f"__getattribute__)", carries)
    if not isinstance(getattr(obj, "__dict__", None), dict):
        _refuse(obj, name, where, text, f"{cls.__name__} objects keep no __dict__", carries)
    entry = _class_entry(cls, name)
    if not isinstance(entry, _Guard) and hasattr(type(entry), "__set__"):
        _refuse(obj, name, where, text, f"{cls.__name__}.{name} is a property or slot", carries)
    return entry


def _watch(obj, name, value, entry, where, text, what, leaves=None):
    """Watch ``obj.name`` (which holds ``value``) until the gradient call on the stack returns."""
    cls = type(obj)
    if not isinstance(entry, _Guard):
        try:
            setattr(cls, name, _Guard(name, vars(cls).get(name, _MISSING), cls))
        except (TypeError, AttributeError):
            _refuse(obj, name, where, text, f"its class {cls.__name__} cannot be given a watch "
                                            f"on the attribute", True)
    frame = _outermost_generated(sys._getframe(2))
    with _lock:
        me = threading.get_ident()
        for key in [k for k, s in _watched.items() if s.thread == me and not _on_stack(s.frame)]:
            del _watched[key]  # (stores of gradient calls that have returned: constants now)
        if frame is not None:
            _watched[(id(obj), name)] = _Store(obj, value, frame, where, text, what, leaves)


def _refuse_array_attribute(obj, name, where, text):
    if isinstance(obj, np.ndarray):
        raise AliasError(
            f"{where}: setting an array's .{name} changes the array itself in place (its shape, "
            f"layout or values), which sourcediff does not differentiate.\n    {text}\nMake a "
            f"new array instead (y = y.reshape(...), y = np.zeros_like(y) + v, y = y.astype(...)).")


def set_attribute(obj, name, value, where, text):
    """``obj.name = value`` where ``obj`` may be an array that carries a derivative (or shares
    memory with one) and ``name`` is one of an array's own attributes (``shape``, ``strides``,
    ``flat``, ``real``...): refused for an array, set as Python does for any other object."""
    _refuse_array_attribute(obj, name, where, text)
    setattr(obj, name, value)


def store_attribute(obj, name, value, where, text, carries):
    """``obj.name = value`` where ``value`` carries a derivative, or where the function reads
    the attribute back and sourcediff takes the value stored for that read: the attribute must
    be a plain one (in the object's ``__dict__``). With ``carries``, a read of it back elsewhere
    in the same gradient call is refused (see the module's text)."""
    _refuse_array_attribute(obj, name, where, text)
    entry = _checked_class(obj, name, where, text, carries)
    obj.__dict__[name] = value
    if not carries:
        _forget(obj, name)
        return
    _watch(obj, name, value, entry, where, text, "stored a value carrying a derivative there")


def holder_for_append(obj, name, where, text):
    """``obj.name``, read to append (or store an item) a value that carries a derivative into:
    the list or dict it holds is watched from here on, so that a read of it back within the same
    gradient call (for its items) is refused where it happens."""
    entry = _checked_class(obj, name, where, text, True)
    d = obj.__dict__
    if name not in d:
        _refuse(obj, name, where, text, f"{type(obj).__name__}.{name} is not the object's own "
                                        f"(a class attribute its instances share)", True)
    value = d[name]
    _watch(obj, name, value, entry, where, text,
           "appended a value carrying a derivative into it", _float_leaves(value, set()))
    return value


def check_whole_read(obj, where, text):
    """Refuse ``vars(obj)``, ``obj.__dict__``, ``copy.copy(obj)`` and the like when the running
    gradient call stored a value that carries a derivative in one of ``obj``'s attributes: such a
    read bypasses the attribute's watch and would take that value as a constant."""
    if not _watched:
        return
    me = threading.get_ident()
    for (_, name), store in list(_watched.items()):
        if store.obj is obj and store.thread == me and _on_stack(store.frame):
            raise AliasError(
                f"{where}: reads all of a {type(obj).__name__}'s attributes at once, and this "
                f"gradient call {store.what.replace(' there', ' in its attribute ' + name)}:"
                f"\n    {text}\nstored at {store.where}:\n    {store.text}\nsourcediff reads "
                f"attributes as constants, so the derivative through it would be lost. Pass the "
                f"value on as an argument or a return value instead.")


def stored_by_running_call(obj, name, value):
    """Whether ``obj.name`` holds ``value`` as a store of a value carrying a derivative that the
    gradient call running on this thread made (``self.running_mean = ...`` in a loss): every
    read of the attribute after that store took the stored value itself (a later read in the
    same block) or was refused (a read anywhere else), so the derivative reaching the attribute
    through reads belongs to the value it held before."""
    store = _watched.get((id(obj), name))
    return store is not None and store.obj is obj and store.value is value and \
        store.thread == threading.get_ident() and _on_stack(store.frame)


def check_held_class(value, classes, where, text):
    """Refuse, at ``where``, an object attribute that no longer holds what its class's
    ``__init__`` stores there (``self.activation = Tanh()``; ``self.layers = [Dense(...),
    ReLU()]``: a list of objects of those classes), which compiler/inline.py wrote the methods of
    into the caller: replaced from outside since, its own methods would run, not those. (Here,
    not in checks.py: generated code keeps a call of this module's helpers for its effect.)"""
    if isinstance(classes, type):
        ok = type(value) is classes
        want = classes.__name__
    else:
        ok = isinstance(value, list) and len(value) == len(classes) and all(
            type(v) is c for v, c in zip(value, classes))
        want = "a list of " + ", ".join(c.__name__ for c in classes)
    if not ok:
        got = type(value).__name__ if not isinstance(value, (list, tuple)) else \
            f"a {type(value).__name__} of " + ", ".join(type(v).__name__ for v in value)
        raise SourcediffError(
            f"{where}: sourcediff wrote the methods of {want} (what __init__ stores there) into "
            f"this function, but the object holds {got}:\n    {text}\nAn attribute replaced "
            f"after __init__ (model.layers.append(...), layer.activation = ...) is not followed "
            f"there: set it in __init__, or make the method return its result (x = "
            f"layer.forward(x)) rather than store it for the caller to read")
