"""Grad mode: whether operations are recorded (``no_grad``, ``enable_grad``, ``set_grad_enabled``)."""

import functools
import threading


class _GradState(threading.local):
    enabled = True
    in_rule = 0  # > 0 while vjp rules run on Tensors (create_graph): np.asarray(t) means "constant"
    # inside grad_of, which runs a plain numpy function: converting an active Tensor to a float or
    # ndarray is an error, and a 0-d Tensor is a value (numpy's scalars are immutable: s += v
    # rebinds s, and an item y[0] is a copy)
    strict = False
    # the TapeError raised there, kept: numpy turns an error raised while it assigns a Tensor into
    # an ndarray into its own "setting an array element with a sequence"; grad_of raises this one
    escaped = None
    # the runtime helper whose own rule runs on Tensors (create_graph through a helper recorded by
    # recording._record_helpers): np.asarray of an active Tensor there would drop a dependence
    helper_rule = None
    # set when a vjp rule running on Tensors read one that requires grad as a constant
    # (np.asarray): recording._rule_bw_graph then checks that no derivative came out constant
    const_read = False


_state = _GradState()


def is_grad_enabled():
    """True when operations are recorded (the default): ``T.is_grad_enabled()``."""
    return _state.enabled


class _GradModeContext:
    """Base of the grad-mode switches: usable as ``with`` block and as decorator."""

    _mode = True

    def __new__(cls, orig_func=None):
        if orig_func is None or cls is set_grad_enabled:
            return super().__new__(cls)
        return cls()(orig_func)  # bare ``@no_grad`` decorator

    def __enter__(self):
        self._prev = _state.enabled
        _state.enabled = self._mode

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__.__new__(self.__class__)._clone(self):
                return func(*args, **kwargs)

        wrapper.__sourcediff_opaque__ = (f"{func.__qualname__} (decorated with sd.{type(self).__name__})",
                                         "Differentiate the undecorated function.")
        return wrapper

    def _clone(self, other):
        return self


class no_grad(_GradModeContext):
    """Disable recording: ``with T.no_grad(): w -= lr * w.grad``; also ``@T.no_grad()``/``@T.no_grad``."""

    _mode = False

    def __init__(self, orig_func=None):
        pass


class enable_grad(_GradModeContext):
    """Re-enable recording inside ``no_grad``: ``with T.enable_grad(): y = x * 2``; also a decorator."""

    _mode = True

    def __init__(self, orig_func=None):
        pass


class set_grad_enabled(_GradModeContext):
    """Switch recording: ``T.set_grad_enabled(False)`` now, or scoped ``with T.set_grad_enabled(m):``."""

    def __init__(self, mode):
        self._mode = bool(mode)
        self._prev = _state.enabled
        _state.enabled = self._mode

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def __call__(self, func):
        _state.enabled = self._prev  # as a decorator, the constructor call must not switch globally
        mode = self._mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            prev = _state.enabled
            _state.enabled = mode
            try:
                return func(*args, **kwargs)
            finally:
                _state.enabled = prev

        wrapper.__sourcediff_opaque__ = (f"{func.__qualname__} (decorated with sd.{type(self).__name__})",
                                         "Differentiate the undecorated function.")
        return wrapper


# retain_graph of the backward pass that is running (a composite node's inner backward uses it)
_state_retain = [False]
