"""The entry points: :func:`grad`, :func:`value_and_grad`, :func:`source`.

Example::

    import numpy as np
    import sourcediff as sd

    def f(x):
        return np.sum(np.tanh(x) ** 2)

    df = sd.grad(f)
    df(np.ones(3))             # array([0.8399..., 0.8399..., 0.8399...])
    print(sd.source(df))       # the generated Python
"""

import functools
import inspect
import types
import weakref

from . import compiled, runtime
from .compiled import _get
from .compiler.parse import synthetic, wrapper_once
from .errors import BackendError, SourcediffError
from .transforms import forward_grad


def grad(fn=None, wrt=0, *, mode="reverse", optimize=True, has_aux=False, backend="numpy"):
    """The gradient function of ``fn`` with respect to ``wrt`` (an index, a name, or a tuple).

    Usable as ``sd.grad(f)``, ``sd.grad(f, wrt=(0, 1))`` or as a decorator ``@sd.grad`` /
    ``@sd.grad(wrt="w")``. The gradient has the shape and dtype of its argument; for a list,
    tuple or dict of arrays it is one of the same structure. With ``has_aux=True`` the function
    returns ``(loss, aux)`` and the gradient function returns ``(gradient, aux)`` (as in JAX).
    ``backend="numba"`` compiles the code specialized for each call signature with numba when it
    is installed (``sourcediff/jit.py``); what numba cannot compile runs as numpy code.

    Example::

        df = sd.grad(lambda x: x * x)
        df(3.0)        # 6.0
    """
    if fn is None:
        return functools.partial(grad, wrt=wrt, mode=mode, optimize=optimize, has_aux=has_aux,
                                 backend=backend)
    _check_backend(backend, optimize, mode)
    if has_aux:
        return _with_aux(fn, wrt, "grad", mode, optimize, backend)
    if mode == "forward":
        return forward_grad(fn, wrt, optimize)
    if mode != "reverse":
        raise SourcediffError(f"mode must be 'reverse' or 'forward', not {mode!r}")
    return _get(fn, wrt, "grad", optimize, backend)


def value_and_grad(fn=None, wrt=0, *, optimize=True, has_aux=False, backend="numpy"):
    """Like :func:`grad` but the function returns ``(value, gradient)``; with ``has_aux=True``,
    ``((value, aux), gradient)`` for a function that returns ``(value, aux)`` (as in JAX).

    Example::

        vg = sd.value_and_grad(lambda x: x * x)
        vg(3.0)        # (9.0, 6.0)
    """
    if fn is None:
        return functools.partial(value_and_grad, wrt=wrt, optimize=optimize, has_aux=has_aux,
                                 backend=backend)
    _check_backend(backend, optimize, "reverse")
    if has_aux:
        return _with_aux(fn, wrt, "value_and_grad", "reverse", optimize, backend)
    return _get(fn, wrt, "value_and_grad", optimize, backend)


_BACKENDS = ("numpy", "numba")


def _check_backend(backend, optimize_code, mode):
    if backend not in _BACKENDS:
        raise BackendError(f"backend={backend!r} is not one of sourcediff's backends; pass "
                           f"backend='numpy' (the default) or backend='numba' (compiled with numba, "
                           f"pip install 'sourcediff[jit]')")
    if backend == "numpy":
        return
    if not optimize_code:
        raise BackendError("backend='numba' compiles the optimized, specialized gradient; it "
                           "cannot be combined with optimize=False (drop one of the two)")
    if compiled._SPECIALIZE == "0":
        raise BackendError("backend='numba' compiles the gradient specialized for each call "
                           "signature, and SOURCEDIFF_SPECIALIZE=0 turns specialization off; "
                           "unset it or pass backend='numpy'")
    if mode != "reverse":
        raise BackendError(f"backend='numba' works with mode='reverse' (for one Python float "
                           f"argument it already runs forward mode), not mode={mode!r}")


_AUX = weakref.WeakKeyDictionary()  # {user function: {(wrt, ...): its has_aux gradient}}


def _with_aux(fn, wrt, what, mode, optimize_code, backend="numpy"):
    """The gradient of ``fn(...)[0]`` for a ``fn`` that returns ``(loss, aux)``, giving aux back
    from the same run of ``fn`` (it runs once per call): the loss is taken by ``runtime.aux_first``,
    which keeps aux aside for this call. Made once per function and options, as ``sd.grad(f)``
    is (``sd.value_and_grad(f, has_aux=True)(params, x)`` in a training loop compiled the loss
    anew on every step: the wrapper around ``fn`` was a new function each time); what ``fn``
    captures is checked on each call by the gradient it wraps."""
    def make():
        return _make_with_aux(fn, wrt, what, mode, optimize_code, backend)

    key = (wrt if not isinstance(wrt, list) else tuple(wrt), what, mode, optimize_code, backend)
    if _plain_bound_method(fn):
        # (sd.grad(self.loss, has_aux=True) in a training step: a new bound method each time,
        # whose wrapper was made and compiled again on every call, 120 ms against 0.7. The
        # wrapper is made once per function, around the function itself, and bound to the
        # instance: sourcediff compiles it per class, as it does sd.grad(self.loss).)
        unbound = wrapper_once(_AUX, fn.__func__, ("method",) + key, lambda: _make_with_aux(
            fn.__func__, wrt, what, mode, optimize_code, backend, method=True))
        return types.MethodType(unbound, fn.__self__)
    if type(fn) is not types.FunctionType:
        return make()
    return wrapper_once(_AUX, fn, key, make)


def _plain_bound_method(fn):
    """Whether ``fn`` is a plain function of a class bound to an instance (self.loss), which
    the instance's class gives for its name, with no instance attribute of that name."""
    if not inspect.ismethod(fn) or type(fn.__func__) is not types.FunctionType or \
            isinstance(fn.__self__, type):
        return False
    name = fn.__func__.__name__
    if name.startswith("__") and not name.endswith("__"):
        return False  # (self.__loss would not be mangled in the wrapper)
    return getattr(type(fn.__self__), name, None) is fn.__func__ and \
        name not in getattr(fn.__self__, "__dict__", {name: None})


def _make_with_aux(fn, wrt, what, mode, optimize_code, backend, method=False):
    """The has_aux wrapper of ``fn``; with ``method``, of the plain function of a method, to be
    bound to an instance (the loss wrapper is compiled as a method of the instance's class)."""
    name = getattr(fn, "__name__", "f")
    # (a method's through self: self.loss(W, x), resolved in the receiver's class as the bound
    # method was, so what it does to self is followed as it is there)
    loss_of = synthetic(fn, f"loss_of_{name if name.isidentifier() else 'f'}",
                        f"_sd_aux_first({{first}}.{name}({{rest}}))" if method else
                        "_sd_aux_first({fn}({params}))", {"_sd_aux_first": runtime.aux_first})

    def inner_for(owner):
        target = types.MethodType(loss_of, owner) if method else loss_of
        if what == "value_and_grad":
            return value_and_grad(target, wrt=wrt, optimize=optimize_code, backend=backend)
        return grad(target, wrt=wrt, mode=mode, optimize=optimize_code, backend=backend)

    inner = None if method else inner_for(None)
    last = [lambda: None]  # (a weak reference to the instance called last: sd.source shows its)

    @functools.wraps(fn)
    def with_aux(*args, **kwargs):
        if method:
            try:
                last[0] = weakref.ref(args[0])
            except TypeError:
                pass
        with runtime.aux_kept() as kept:
            out = inner_for(args[0])(*args[1:], **kwargs) if method else inner(*args, **kwargs)
        if not kept:
            raise SourcediffError(f"has_aux=True: {getattr(fn, '__qualname__', fn)} must return "
                                  f"(loss, aux)")
        aux = kept[0]
        return ((out[0], aux), out[1]) if what == "value_and_grad" else (out, aux)

    with_aux.__sourcediff_opaque__ = (f"sd.{what}({name}, has_aux=True)",
                                      f"Differentiate the loss alone: sd.{what}({name}) of a "
                                      f"function that returns only the loss.")
    if method:
        def last_source():
            owner = last[0]()
            if owner is None:
                raise SourcediffError(f"sd.{what}({name}, has_aux=True) of a method compiles "
                                      f"per class on its first call: call it once, then print "
                                      f"its source")
            return inner_for(owner).__sourcediff_source__

        with_aux.__sourcediff_opaque__ += (last_source,)
        return with_aux
    with_aux.__sourcediff_source__ = getattr(inner, "__sourcediff_source__", None)
    if hasattr(inner, "jit_log"):
        with_aux.jit_log = inner.jit_log
    return with_aux


def source(fn, *example_args):
    """The generated Python source of a function made by sourcediff.

    With example arguments, the source specialized for their shapes and dtypes, which is what a
    call with such arguments runs (see ``sourcediff/specialize/``). Example::

        print(sd.source(sd.grad(f)))
        print(sd.source(sd.grad(f), x, w))
    """
    text = getattr(fn, "__sourcediff_source__", None)
    if text is None:
        opaque = getattr(fn, "__sourcediff_opaque__", None)
        if opaque is not None and len(opaque) > 2:  # (it runs generated code it can show)
            return opaque[2]()
        if opaque is not None:  # (made by sourcediff, from other generated functions)
            raise SourcediffError(
                f"{opaque[0]} has no generated source of its own: it runs other functions (forward "
                f"mode, for one, runs the function's jvp once per input element). Print the "
                f"source of sd.grad(f) or sd.value_and_grad(f) (reverse mode), or set "
                f"SOURCEDIFF_DUMP=reverse,forward to print the code each stage writes.")
        raise SourcediffError(f"{fn!r} was not made by sourcediff; pass the result of sd.grad(...)")
    spec = getattr(fn, "__sourcediff_specializations__", None)
    if example_args and spec is not None:
        return spec.lookup(example_args).__sourcediff_source__
    return text
