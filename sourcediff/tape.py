"""Dynamic tape mode: a small PyTorch-like ``Tensor`` over numpy that records ops and backpropagates.

The tape calls the same vjp rules as the source compiler (``sourcediff.registry``); node class names,
``next_functions``, ``.grad`` accumulation, hooks, grad modes, messages and reprs follow PyTorch as measured
on PyTorch 2.13 (``tests/test_tape_torch_parity.py`` compares them when torch is installed). Tensors
also dispatch plain numpy calls (``np.sin(t)``, ``np.sum(t, axis=0)``, ``t @ w``) through
``__array_ufunc__``/``__array_function__``, so an ordinary numpy function runs on tensors.

Example::

    from sourcediff import tape as T

    x1 = T.ones(2, 2, requires_grad=True)
    x2 = T.tensor(1.1, requires_grad=True)
    out = (((x1 * (x2 + 2)) ** 2) * 3).mean()
    out.backward()
    x2.grad            # tensor(18.6000)
"""

import builtins
import collections
import functools
import itertools
import math
import numbers
import operator
import threading
import warnings
import weakref

import numpy as np

from .rules import registry
from . import rules as _rules  # noqa: F401  (registers the built-in rule table)
from . import runtime as _sd
from .errors import NoRuleError, SourcediffError
from .rules.quote import sliced_rule as _sliced_vjp

__all__ = [
    "AccumulateGrad",
    "Node",
    "Size",
    "TapeError",
    "TapeTypeError",
    "Tensor",
    "abs",
    "add",
    "arange",
    "as_tensor",
    "autograd",
    "backward",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cat",
    "clamp",
    "cos",
    "cross_entropy",
    "div",
    "double",
    "empty",
    "enable_grad",
    "exp",
    "eye",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "full_like",
    "grad",
    "grad_of",
    "int64",
    "is_grad_enabled",
    "l1_loss",
    "linear",
    "linspace",
    "log",
    "log_softmax",
    "long",
    "manual_seed",
    "matmul",
    "maximum",
    "mean",
    "minimum",
    "mm",
    "mse_loss",
    "mul",
    "neg",
    "nll_loss",
    "no_grad",
    "ones",
    "ones_like",
    "pow",
    "rand",
    "rand_like",
    "randn",
    "randn_like",
    "relu",
    "render",
    "set_grad_enabled",
    "sigmoid",
    "sin",
    "softmax",
    "sqrt",
    "stack",
    "sub",
    "sum",
    "tanh",
    "tensor",
    "to_dot",
    "where",
    "zeros",
    "zeros_like",
]

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
double = float64
int64 = np.dtype(np.int64)
long = int64
_DEFAULT_FLOAT = float32


class TapeError(SourcediffError, RuntimeError):
    """An error from the tape; a ``RuntimeError`` like PyTorch's, with PyTorch's text where it has one."""


class TapeTypeError(SourcediffError, TypeError):
    """A wrong argument type given to the tape (PyTorch raises ``TypeError`` there)."""


# ---------------------------------------------------------------- messages (from the reference)

_MSG_SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)
_MSG_NO_GRAD = "element {} of tensors does not require grad and does not have a grad_fn"
_MSG_SCALAR = "grad can be implicitly created only for scalar outputs"
_MSG_LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
_MSG_VIEW_LEAF_INPLACE = (
    "a view of a leaf Variable that requires grad is being used in an in-place operation."
)
_MSG_NONLEAF_GRAD = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad field to "
    "be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you access "
    "the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead. See "
    "github.com/pytorch/pytorch/pull/30531 for more information."
)
_MSG_VERSION = (
    "one of the variables needed for gradient computation has been modified by an inplace "
    "operation: [{ttype} [{sizes}]]{which} is at version {now}; expected version {saved} instead. "
    "Hint: enable anomaly detection to find the operation that failed to compute its gradient, with "
    "torch.autograd.set_detect_anomaly(True, check_nan=False)."
)
_MSG_CREATE_GRAPH_BACKWARD = (
    "Using backward() with create_graph=True will create a reference cycle between the parameter "
    "and its gradient which can cause a memory leak. We recommend using autograd.grad when creating "
    "the graph to avoid this. If you have to use this function, make sure to reset the .grad fields "
    "of your parameters to None after use to break the cycle and avoid the leak."
)
_MSG_STRIDE0 = (
    "unsupported operation: more than one element of the written-to tensor refers to a single "
    "memory location. Please clone() the tensor before performing the operation."
)
_MSG_NUMPY = "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
_MSG_FLOAT_WARN = (
    "Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior.\n"
    "Consider using tensor.detach() first."
)

_TTYPE = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
          "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
_TORCH_DTYPE = {"float32": "torch.float32", "float64": "torch.float64", "float16": "torch.float16",
                "int64": "torch.int64", "int32": "torch.int32", "int16": "torch.int16",
                "int8": "torch.int8", "uint8": "torch.uint8", "bool": "torch.bool",
                "complex64": "torch.complex64", "complex128": "torch.complex128"}


class Size(tuple):
    """A shape tuple that prints like ``torch.Size([2, 3])``."""

    __slots__ = ()

    def __repr__(self):
        return f"torch.Size({list(self)})"

    def numel(self):
        """Number of elements of a tensor of this shape: ``Size((2, 3)).numel() == 6``."""
        return int(np.prod(self, dtype=np.int64))


# ---------------------------------------------------------------- grad mode


class _GradState(threading.local):
    enabled = True
    in_rule = 0  # > 0 while vjp rules run on Tensors (create_graph): np.asarray(t) means "constant"
    # inside grad_of, which runs a plain numpy function: converting an active Tensor to a float or
    # ndarray is an error, and a 0-d Tensor is a value (numpy's scalars are immutable: s += v
    # rebinds s, and an item y[0] is a copy)
    strict = False


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


# ---------------------------------------------------------------- graph nodes

_NONE_EDGE = (None, 0)
# which values a node keeps: an int is an argument position always saved, "o" the result, "i" a
# non-tensor (indices); (p, q) saves argument p only when argument q requires grad (like PyTorch,
# which saves ``self`` of a product only when ``other`` needs a gradient)
_BILINEAR = ((0, 1), (1, 0))
_DIV_SAVES = ((1, 0), (0, 1), (1, 1))
_node_classes = {}


class Node:
    """A backward function in the graph; ``type(node).__name__`` is PyTorch's name (``MulBackward0``)."""

    __slots__ = (
        "__weakref__",
        "_ans",
        "_args",
        "_bw",
        "_dtype",
        "_edges",
        "_extra",
        "_freed",
        "_fwd",
        "_kw",
        "_outvc",
        "_outver",
        "_pre_hooks",
        "_retain",
        "_rule",
        "_saves",
        "_vers",
        "_vjp",
        "next_functions",
    )

    def name(self):
        """The node's class name, e.g. ``'MulBackward0'``."""
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} object at {id(self):#x}>"

    __str__ = __repr__

    def register_prehook(self, fn):
        """Call ``fn(grad)`` before this node runs; a returned value replaces the gradient."""
        if self._pre_hooks is None:
            self._pre_hooks = []
        self._pre_hooks.append(fn)
        return _RemovableHandle(self._pre_hooks, fn)

    def _release(self):
        if self._saves:
            self._freed = True
            self._args = None
            self._ans = None
            self._extra = None


class AccumulateGrad(Node):
    """The sink of a leaf that requires grad: adds incoming gradients into ``variable.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable
        self.next_functions = ()
        self._bw = None
        self._rule = self._fwd = self._args = self._kw = self._edges = self._ans = None
        self._vjp = None
        self._saves = self._vers = ()
        self._outvc = None
        self._outver = 0
        self._freed = False
        self._pre_hooks = None
        self._retain = None
        self._dtype = None
        self._extra = None


def _node_class(name):
    cls = _node_classes.get(name)
    if cls is None:
        cls = type(name, (Node,), {"__slots__": (), "__module__": "builtins"})
        _node_classes[name] = cls
    return cls


def _make_node(name, next_functions, bw, dtype, saves=()):
    cls = _node_classes.get(name) or _node_class(name)
    n = object.__new__(cls)
    n.next_functions = next_functions
    n._bw = bw
    n._rule = None
    n._vjp = None
    n._fwd = None
    n._args = None
    n._kw = None
    n._edges = None
    n._ans = None
    n._saves = saves
    n._vers = ()
    n._outvc = None
    n._outver = 0
    n._freed = False
    n._pre_hooks = None
    n._retain = None
    n._dtype = dtype
    n._extra = None
    return n


class _RemovableHandle:
    """Returned by ``register_hook``; ``handle.remove()`` unregisters the hook."""

    __slots__ = ("_fn", "_list")

    def __init__(self, lst, fn):
        self._list = lst
        self._fn = fn

    def remove(self):
        """Unregister the hook (no error if it is already gone)."""
        for i, f in enumerate(self._list):
            if f is self._fn:
                del self._list[i]
                return


# ---------------------------------------------------------------- the Tensor


def _short_dtype(dt):
    return _TORCH_DTYPE.get(dt.name, f"torch.{dt.name}")


class Tensor:
    """An n-dimensional array with autograd, over a numpy array (see the module docstring).

    Example::

        x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
        (x * x).sum().backward()
        x.grad                 # tensor([2., 4., 6.])
    """

    __slots__ = (
        "__weakref__",
        "_acc",
        "_base",
        "_data",
        "_grad",
        "_hooks",
        "_retains",
        "_rg",
        "_vc",
        "_vidx",
        "grad_fn",
    )
    __array_priority__ = 1000

    def __init__(self, data=(), requires_grad=False, dtype=None):
        arr = _to_array(data, dtype)
        _init(self, arr)
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------ attributes

    @property
    def requires_grad(self):
        """Whether gradients flow to this tensor."""
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    @property
    def is_leaf(self):
        """True for tensors created by the user (or not requiring grad): ``grad_fn is None``."""
        return self.grad_fn is None

    @property
    def grad(self):
        """The accumulated gradient (a Tensor) or None; warns on a non-leaf without retain_grad."""
        if self.grad_fn is not None and not self._retains:
            warnings.warn(_MSG_NONLEAF_GRAD, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TapeTypeError(
                    "assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise TapeError(
                    f"attempting to assign a gradient of size '{list(value._data.shape)}' to a "
                    f"tensor of size '{list(self._data.shape)}'. Please ensure that the gradient "
                    "and the tensor are the same size")
            if value._data.dtype != self._data.dtype:
                got = _TTYPE.get(value._data.dtype.name, value._data.dtype.name)
                want = _TTYPE.get(self._data.dtype.name, self._data.dtype.name)
                got = {"Float": "float", "Double": "double"}.get(got, got.lower())
                raise TapeError(
                    f"attempting to assign a gradient with dtype '{got}' to a tensor with "
                    f"grad_dtype '{want}'. The gradient must match the tensor's grad_dtype "
                    "(defaults to the tensor's dtype). You can set the tensor's grad_dtype "
                    "attribute with a specific dtype, or None to allow any dtype. Set grad_dtype "
                    "with caution. Diverging the dtypes of a tensor and its gradient may break "
                    "downstream systems that assume they match.")
        self._grad = value

    @property
    def retains_grad(self):
        """True after ``retain_grad()`` on a non-leaf."""
        return self._retains

    @property
    def data(self):
        """A detached Tensor sharing this tensor's storage (like ``torch.Tensor.data``)."""
        t = _wrap(self._data)
        return t

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)

    @property
    def shape(self):
        """The shape as a :class:`Size` (a tuple)."""
        return Size(self._data.shape)

    @property
    def ndim(self):
        """Number of dimensions."""
        return self._data.ndim

    @property
    def dtype(self):
        """The numpy dtype (``T.float32`` by default)."""
        return self._data.dtype

    @property
    def _version(self):
        return self._vc[0]

    @property
    def T(self):
        """Reversed dimensions (``PermuteBackward0``)."""
        return _op("PermuteBackward0", np.transpose, np.transpose, (self,), None, (0,), (),
                   view=True)

    @property
    def mT(self):
        """The last two dimensions swapped (``TransposeBackward0``)."""
        return _op("TransposeBackward0", np.swapaxes, np.swapaxes, (self, -2, -1), None, (0,), (),
                   view=True)

    def size(self, dim=None):
        """The shape, or the length of one dimension: ``t.size()``, ``t.size(0)``."""
        return Size(self._data.shape) if dim is None else self._data.shape[dim]

    def dim(self):
        """Number of dimensions."""
        return self._data.ndim

    def numel(self):
        """Number of elements."""
        return self._data.size

    def __len__(self):
        if self._data.ndim == 0:
            raise TapeTypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TapeTypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self):
        return id(self)

    def is_contiguous(self):
        """True when the data is C-contiguous."""
        return self._data.flags.c_contiguous

    def _acc_node(self):
        acc = self._acc
        if acc is None:
            acc = self._acc = AccumulateGrad(self)
        return acc

    # ------------------------------------------------------------ conversion

    def item(self):
        """The single value as a Python number: ``T.tensor([2.5]).item() == 2.5``."""
        if self._data.size != 1:
            raise TapeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        """The values as (nested) Python lists."""
        return self._data.tolist()

    def numpy(self):
        """The underlying numpy array (shared); refused when the tensor requires grad."""
        if self._rg:
            raise TapeError(_MSG_NUMPY)
        return self._data

    def __array__(self, dtype=None, copy=None):
        if self._rg and not _state.in_rule:
            if _state.strict:
                raise _escape_error("a numpy array (np.asarray, or assignment into an ndarray)")
            raise TapeError(_MSG_NUMPY)
        return self._data if dtype is None else self._data.astype(dtype)

    def __float__(self):
        if self._rg:
            if _state.strict:
                raise _escape_error("a Python float (float(), math.*, or assignment into an "
                                    "ndarray)")
            _warn_once("float", _MSG_FLOAT_WARN)
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub":
            raise TapeTypeError("only integer tensors of a single element can be converted to an "
                                "index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise TapeError(
                "Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()).item())

    def __repr__(self):
        return _tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec):
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(str(self), spec)

    # ------------------------------------------------------------ autograd API

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place on a leaf; returns self."""
        if self.grad_fn is not None:
            if requires_grad:
                return self
            raise TapeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        if requires_grad and self._data.dtype.kind not in "fc":
            raise TapeError("only Tensors of floating point dtype can require gradients")
        self._rg = bool(requires_grad)
        return self

    def detach(self):
        """A new leaf sharing storage (and version counter), not requiring grad."""
        t = _wrap(self._data)
        t._vc = self._vc
        return t

    def detach_(self):
        """Make this tensor a leaf that does not require grad; returns self."""
        self.grad_fn = None
        self._rg = False
        return self

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf during backward (a no-op on leaves)."""
        if not self._rg:
            raise TapeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains:
            return
        self._retains = True
        self.grad_fn._retain = weakref.ref(self)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces
        it. Returns a handle with ``.remove()``.

        Example::

            h = y.register_hook(lambda g: g * 10)
        """
        if not self._rg:
            raise TapeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            lst = self._hooks
        else:
            if self.grad_fn._pre_hooks is None:
                self.grad_fn._pre_hooks = []
            lst = self.grad_fn._pre_hooks
        lst.append(hook)
        return _RemovableHandle(lst, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        Example::

            loss.backward()                       # scalar output
            y.backward(gradient=T.ones_like(y))   # non-scalar output
        """
        backward([self], None if gradient is None else [gradient], retain_graph, create_graph,
                 inputs)

    # ------------------------------------------------------------ arithmetic

    def __add__(self, other):
        return _binop(np.add, "AddBackward0", self, other, ())

    def __radd__(self, other):
        return _binop(np.add, "AddBackward0", self, other, ())

    def add(self, other, alpha=1):
        """``self + alpha * other`` (``AddBackward0``)."""
        if alpha != 1:
            return _composite("AddBackward0", lambda a, b: a + b * alpha, (self, other))
        return _binop(np.add, "AddBackward0", self, other, ())

    def __sub__(self, other):
        return _binop(np.subtract, "SubBackward0", self, other, ())

    def sub(self, other, alpha=1):
        """``self - alpha * other`` (``SubBackward0``)."""
        if alpha != 1:
            return _composite("SubBackward0", lambda a, b: a - b * alpha, (self, other))
        return _binop(np.subtract, "SubBackward0", self, other, ())

    def __rsub__(self, other):
        return _op("RsubBackward1", np.subtract, np.subtract, (other, self), None, (1,), ())

    def __mul__(self, other):
        return _binop(np.multiply, "MulBackward0", self, other, _BILINEAR)

    __rmul__ = __mul__
    mul = __mul__
    multiply = __mul__

    def __truediv__(self, other):
        return _binop(np.divide, "DivBackward0", self, other, _DIV_SAVES)

    div = __truediv__
    divide = __truediv__

    def __rtruediv__(self, other):
        return self.reciprocal() * other

    def reciprocal(self):
        """``1 / self`` (``ReciprocalBackward0``)."""
        return _op("ReciprocalBackward0", np.divide, np.divide, (1.0, self), None, (1,), (1, "o"))

    def __floordiv__(self, other):
        out = _wrap(np.asarray(np.floor_divide(self._data, _unwrap(other))))
        if _state.enabled and self._rg:
            node = _make_node("NotImplemented", ((self.grad_fn or self._acc_node(), 0),),
                              _not_implemented_bw, out._data.dtype)
            out._rg = True
            out.grad_fn = node
        return out

    def __mod__(self, other):
        # (recorded like np.remainder: d/dx = 1, d/dy = -floor(x / y); it once dropped the graph)
        return np.remainder(self, other)

    def __rmod__(self, other):
        return np.remainder(other, self)

    def __neg__(self):
        return _op("NegBackward0", np.negative, np.negative, (self,), None, (0,), ())

    neg = __neg__
    negative = __neg__

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            return _binop(np.power, "PowBackward1", self, exponent, (0, 1, "o"))
        return _op("PowBackward0", np.power, np.power, (self, exponent), None, (0,), (0,))

    pow = __pow__

    def __rpow__(self, base):
        return _op("PowBackward2", np.power, np.power, (base, self), None, (1,), (1, "o"))

    def square(self):
        """``self ** 2`` (``PowBackward0``)."""
        return self ** 2

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def matmul(self, other):
        """Matrix product with numpy's broadcasting rules (see :func:`matmul`)."""
        return matmul(self, other)

    def mm(self, other):
        """2-D matrix product (``MmBackward0``)."""
        return mm(self, other)

    def mv(self, vec):
        """Matrix-vector product (``MvBackward0``)."""
        return _op("MvBackward0", np.matmul, np.matmul, (self, vec), None, (0, 1), _BILINEAR)

    def dot(self, other):
        """Dot product of two vectors (``DotBackward0``)."""
        return _op("DotBackward0", np.matmul, np.matmul, (self, other), None, (0, 1), _BILINEAR)

    def bmm(self, other):
        """Batched matrix product (``BmmBackward0``)."""
        return _op("BmmBackward0", np.matmul, np.matmul, (self, other), None, (0, 1), _BILINEAR)

    # comparisons: boolean tensors that never require grad
    def __lt__(self, other):
        return _wrap(np.asarray(self._data < _unwrap(other)))

    def __le__(self, other):
        return _wrap(np.asarray(self._data <= _unwrap(other)))

    def __gt__(self, other):
        return _wrap(np.asarray(self._data > _unwrap(other)))

    def __ge__(self, other):
        return _wrap(np.asarray(self._data >= _unwrap(other)))

    def __eq__(self, other):
        return _wrap(np.asarray(self._data == _unwrap(other)))

    def __ne__(self, other):
        return _wrap(np.asarray(self._data != _unwrap(other)))

    def __and__(self, other):
        return _wrap(np.asarray(self._data & _unwrap(other)))

    def __or__(self, other):
        return _wrap(np.asarray(self._data | _unwrap(other)))

    def __invert__(self):
        return _wrap(np.asarray(~self._data))

    # ------------------------------------------------------------ in place

    def add_(self, other, alpha=1):
        """In-place ``self += alpha * other``."""
        if alpha != 1:
            other = other * alpha
        return _inplace(self, Tensor.__add__, np.add, other)

    def sub_(self, other, alpha=1):
        """In-place ``self -= alpha * other``."""
        if alpha != 1:
            other = other * alpha
        return _inplace(self, Tensor.__sub__, np.subtract, other)

    def mul_(self, other):
        """In-place ``self *= other``."""
        return _inplace(self, Tensor.__mul__, np.multiply, other)

    def div_(self, other):
        """In-place ``self /= other``."""
        return _inplace(self, Tensor.__truediv__, np.divide, other)

    def __iadd__(self, other):
        if _state.strict and self._data.ndim == 0:
            return self + other
        return self.add_(other)

    def __isub__(self, other):
        if _state.strict and self._data.ndim == 0:
            return self - other
        return self.sub_(other)

    def __imul__(self, other):
        if _state.strict and self._data.ndim == 0:
            return self * other
        return self.mul_(other)

    def __itruediv__(self, other):
        if _state.strict and self._data.ndim == 0:
            return self / other
        return self.div_(other)

    def zero_(self):
        """Fill with zeros in place (``ZeroBackward0`` when recorded)."""
        return _inplace(self, lambda t: _composite("ZeroBackward0", lambda a: a * 0.0, (t,)),
                        lambda a: np.zeros_like(a), None, unary=True)

    def fill_(self, value):
        """Fill with ``value`` in place."""
        return _inplace(self, lambda t: _composite("FillBackward0", lambda a: a * 0.0 + value,
                                                   (t,)),
                        lambda a: np.full_like(a, value), None, unary=True)

    def clamp_(self, min=None, max=None):
        """In-place :meth:`clamp`."""
        return _inplace(self, lambda t: t.clamp(min, max),
                        lambda a: np.clip(a, min, max), None, unary=True)

    def relu_(self):
        """In-place :meth:`relu`."""
        return _inplace(self, Tensor.relu, lambda a: np.maximum(a, 0), None, unary=True)

    def exp_(self):
        """In-place :meth:`exp`."""
        return _inplace(self, Tensor.exp, np.exp, None, unary=True)

    def copy_(self, src):
        """Copy ``src`` into self in place."""
        return _inplace(self, lambda t, s: _composite("CopyBackwards", lambda a, b: a * 0.0 + b,
                                                      (t, s)),
                        lambda a, b: np.broadcast_to(b, a.shape), src)

    def __setitem__(self, index, value):
        _setitem(self, index, value)

    # ------------------------------------------------------------ reductions

    # Reductions take PyTorch's (dim, keepdim) and also numpy's (axis=, keepdims=, ddof=) keywords;
    # inside grad_of (numpy semantics) std/var are biased and max/min(axis) return values only.

    def sum(self, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=None):
        """Sum over all elements or ``dim`` (``SumBackward0``/``SumBackward1``)."""
        dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
        name = "SumBackward0" if dim is None else "SumBackward1"
        kw = {"axis": _dims(dim), "keepdims": keepdim}
        if dtype is not None:
            kw["dtype"] = _dt(dtype)
        return _op(name, np.sum, np.sum, (self,), kw, (0,), ())

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Mean over all elements or ``dim`` (``MeanBackward0``/``MeanBackward1``)."""
        dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
        name = "MeanBackward0" if dim is None else "MeanBackward1"
        return _op(name, np.mean, np.mean, (self,), {"axis": _dims(dim), "keepdims": keepdim},
                   (0,), ())

    def prod(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Product over all elements or ``dim`` (``ProdBackward0``/``ProdBackward1``)."""
        dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
        name = "ProdBackward0" if dim is None else "ProdBackward1"
        return _op(name, np.prod, np.prod, (self,), {"axis": _dims(dim), "keepdims": keepdim},
                   (0,), (0, "o"))

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Max of all elements (``MaxBackward1``), ``(values, indices)`` over ``dim``
        (``MaxBackward0``), or the elementwise maximum with a tensor (``MaximumBackward0``)."""
        if axis is not None or keepdims is not None or (_state.strict and dim is not None
                                                         and not isinstance(dim, Tensor)):
            dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
            return _amax(self, dim, keepdim, np.max, "AmaxBackward0")
        return _minmax(self, dim, keepdim, np.max, np.argmax, "Max", maximum)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Like :meth:`max` for the minimum."""
        if axis is not None or keepdims is not None or (_state.strict and dim is not None
                                                         and not isinstance(dim, Tensor)):
            dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
            return _amax(self, dim, keepdim, np.min, "AminBackward0")
        return _minmax(self, dim, keepdim, np.min, np.argmin, "Min", minimum)

    def amax(self, dim=None, keepdim=False):
        """Max over ``dim`` with ties sharing the gradient (``AmaxBackward0``)."""
        return _amax(self, dim, keepdim, np.max, "AmaxBackward0")

    def amin(self, dim=None, keepdim=False):
        """Min over ``dim`` with ties sharing the gradient (``AminBackward0``)."""
        return _amax(self, dim, keepdim, np.min, "AminBackward0")

    def argmax(self, dim=None, keepdim=False):
        """Index of the max (no gradient)."""
        return _wrap(np.asarray(np.argmax(self._data, axis=dim, keepdims=keepdim)))

    def argmin(self, dim=None, keepdim=False):
        """Index of the min (no gradient)."""
        return _wrap(np.asarray(np.argmin(self._data, axis=dim, keepdims=keepdim)))

    def var(self, dim=None, unbiased=True, keepdim=False, correction=None, *, axis=None,
            ddof=None, keepdims=None):
        """Variance (``VarBackward0``), unbiased by default like PyTorch (numpy's ``ddof=``
        and ``axis=`` keywords give numpy's biased default)."""
        corr = _correction(unbiased, correction, ddof, axis, keepdims)
        dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
        return _op("VarBackward0", np.var, np.var, (self,),
                   {"axis": _dims(dim), "ddof": corr, "keepdims": keepdim}, (0,), (0,))

    def std(self, dim=None, unbiased=True, keepdim=False, correction=None, *, axis=None,
            ddof=None, keepdims=None):
        """Standard deviation (``StdBackward0``); keywords as :meth:`var`."""
        corr = _correction(unbiased, correction, ddof, axis, keepdims)
        dim, keepdim = _np_kw(dim, keepdim, axis, keepdims)
        return _op("StdBackward0", np.std, np.std, (self,),
                   {"axis": _dims(dim), "ddof": corr, "keepdims": keepdim}, (0,), (0, "o"))

    def norm(self):
        """Euclidean norm of all elements (``LinalgVectorNormBackward0``)."""
        return _op("LinalgVectorNormBackward0", np.linalg.norm, np.linalg.norm, (self.reshape(-1)
                   if self._data.ndim > 2 else self,), None, (0,), (0, "o"))

    def logsumexp(self, dim, keepdim=False):
        """``log(sum(exp(x), dim))`` computed stably (``LogsumexpBackward0``)."""
        return _composite("LogsumexpBackward0", lambda a: _logsumexp(a, dim, keepdim), (self,))

    # ------------------------------------------------------------ elementwise

    def exp(self):
        """``ExpBackward0``."""
        return _op("ExpBackward0", np.exp, np.exp, (self,), None, (0,), ("o",))

    def log(self):
        """``LogBackward0``."""
        return _op("LogBackward0", np.log, np.log, (self,), None, (0,), (0,))

    def sin(self):
        """``SinBackward0``."""
        return _op("SinBackward0", np.sin, np.sin, (self,), None, (0,), (0,))

    def cos(self):
        """``CosBackward0``."""
        return _op("CosBackward0", np.cos, np.cos, (self,), None, (0,), (0,))

    def tan(self):
        """``TanBackward0``."""
        return _unary(self, np.tan, "TanBackward0", ("o",), lambda a: np.sin(a) / np.cos(a))

    def tanh(self):
        """``TanhBackward0``."""
        return _op("TanhBackward0", np.tanh, np.tanh, (self,), None, (0,), ("o",))

    def sigmoid(self):
        """``1 / (1 + exp(-x))`` (``SigmoidBackward0``)."""
        return _composite("SigmoidBackward0", _sigmoid, (self,))

    def relu(self):
        """``max(x, 0)`` with gradient 0 at 0 (``ReluBackward0``)."""
        d = self._data
        mask = d > 0
        return _op("ReluBackward0", np.where, np.where, (mask, self, 0.0), None, (1,), ("o",),
                   ans=np.where(mask, d, np.zeros((), d.dtype)))

    def sqrt(self):
        """``SqrtBackward0``."""
        return _unary(self, np.sqrt, "SqrtBackward0", ("o",), lambda a: a ** 0.5)

    def rsqrt(self):
        """``1 / sqrt(x)`` (``RsqrtBackward0``)."""
        return _composite("RsqrtBackward0", lambda a: a ** -0.5, (self,))

    def abs(self):
        """``AbsBackward0`` (gradient 0 at 0)."""
        return _op("AbsBackward0", np.abs, np.abs, (self,), None, (0,), (0,))

    __abs__ = abs

    def log1p(self):
        """``Log1PBackward0``."""
        return _unary(self, np.log1p, "Log1PBackward0", (0,), lambda a: np.log(a + 1.0))

    def expm1(self):
        """``Expm1Backward0``."""
        return _unary(self, np.expm1, "Expm1Backward0", ("o",), lambda a: np.exp(a) - 1.0)

    def sign(self):
        """Sign, differentiable with zero gradient (``SignBackward0``)."""
        return _composite("SignBackward0", lambda a: a * 0.0, (self,), value=np.sign(self._data))

    def floor(self):
        """Floor, zero gradient (``FloorBackward0``)."""
        return _composite("FloorBackward0", lambda a: a * 0.0, (self,),
                          value=np.floor(self._data))

    def round(self):
        """Round half to even, zero gradient (``RoundBackward0``)."""
        return _composite("RoundBackward0", lambda a: a * 0.0, (self,),
                          value=np.round(self._data))

    def clamp(self, min=None, max=None):
        """Clip to ``[min, max]``; gradient 1 inside and on the bounds (``ClampBackward1``), with
        tensor bounds ``ClampBackward0``."""
        return clamp(self, min, max)

    clip = clamp

    def softmax(self, dim):
        """``SoftmaxBackward0``."""
        return softmax(self, dim)

    def log_softmax(self, dim):
        """``LogSoftmaxBackward0``."""
        return log_softmax(self, dim)

    def masked_fill(self, mask, value):
        """Replace entries where ``mask`` is true by ``value`` (``MaskedFillBackward0``)."""
        m = _unwrap(mask)
        return _op("MaskedFillBackward0", np.where, np.where, (m, value, self), None, (2,), (0,),
                   ans=np.where(m, np.asarray(value, self._data.dtype), self._data))

    # ------------------------------------------------------------ shapes

    def reshape(self, *shape):
        """Reshape (``ViewBackward0``; ``UnsafeViewBackward0`` over ``CloneBackward0`` when the
        data is not contiguous)."""
        shape = _shape_arg(shape)
        if not self._data.flags.c_contiguous and self._data.ndim > 1:
            c = self.clone()
            return _op("UnsafeViewBackward0", np.reshape, np.reshape, (c, shape), None, (0,), ())
        return _op("ViewBackward0", np.reshape, np.reshape, (self, shape), None, (0,), (),
                   view=True)

    view = reshape

    def view_as(self, other):
        """Reshape to ``other``'s shape."""
        return self.reshape(other.shape)

    def flatten(self):
        """Flatten to 1-D (``ViewBackward0``)."""
        return self.reshape(-1)

    def clone(self):
        """A copy that stays in the graph (``CloneBackward0``)."""
        return _op("CloneBackward0", np.positive, np.copy, (self,), None, (0,), ())

    def contiguous(self):
        """Self when already contiguous, else a contiguous clone."""
        return self if self._data.flags.c_contiguous else self.clone()

    def transpose(self, *dims):
        """Swap two dimensions (``TransposeBackward0``); with no or all axes (or inside grad_of)
        numpy's ``ndarray.transpose``."""
        if len(dims) != 2 or _state.strict:
            return np.transpose(self, _shape_arg(dims) if dims else None)
        dim0, dim1 = dims
        return _op("TransposeBackward0", np.swapaxes, np.swapaxes, (self, dim0, dim1), None, (0,),
                   (), view=True)

    def t(self):
        """Transpose a tensor of at most 2 dimensions (``TBackward0``)."""
        if self._data.ndim > 2:
            raise TapeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                            f"{self._data.ndim}D")
        return _op("TBackward0", np.transpose, np.transpose, (self,), None, (0,), (), view=True)

    def permute(self, *dims):
        """Reorder dimensions (``PermuteBackward0``)."""
        dims = _shape_arg(dims)
        return _op("PermuteBackward0", np.transpose, np.transpose, (self, dims), None, (0,), (),
                   view=True)

    def unsqueeze(self, dim):
        """Insert a dimension of size 1 (``UnsqueezeBackward0``)."""
        shape = np.expand_dims(np.empty(self._data.shape, dtype=bool), dim).shape
        return _op("UnsqueezeBackward0", np.reshape, np.reshape, (self, shape), None, (0,), (),
                   view=True)

    def squeeze(self, dim=None):
        """Drop dimensions of size 1 (``SqueezeBackward0``; with ``dim`` ``SqueezeBackward1``)."""
        s = self._data.shape
        if dim is None:
            shape, name = tuple(n for n in s if n != 1), "SqueezeBackward0"
        else:
            d = dim % max(len(s), 1)
            shape = s[:d] + s[d + 1:] if s and s[d] == 1 else s
            name = "SqueezeBackward1"
        return _op(name, np.reshape, np.reshape, (self, shape), None, (0,), (), view=True)

    def expand(self, *sizes):
        """Broadcast to a bigger shape without copying (``ExpandBackward0``)."""
        sizes = _shape_arg(sizes)
        lead = len(sizes) - self._data.ndim
        shape = tuple(self._data.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
        return _op("ExpandBackward0", np.broadcast_to, np.broadcast_to, (self, shape), None, (0,),
                   (), view=True)

    def expand_as(self, other):
        """Expand to ``other``'s shape."""
        return self.expand(*other.shape)

    def repeat(self, *sizes):
        """Tile the tensor (``RepeatBackward0``)."""
        sizes = _shape_arg(sizes)
        return _composite("RepeatBackward0", lambda a: _repeat(a, sizes), (self,))

    def flip(self, *dims):
        """Reverse the order along ``dims`` (``FlipBackward0``)."""
        dims = _shape_arg(dims)
        idx = tuple(slice(None, None, -1) if i in [d % self._data.ndim for d in dims]
                    else slice(None) for i in range(self._data.ndim))
        return _op("FlipBackward0", _getitem, _getitem, (self, idx), None, (0,), ())

    def __getitem__(self, index):
        return _getitem_tensor(self, index)

    def __getattr__(self, name):
        # other ndarray methods (ravel, copy, trace, diagonal, cumsum, ...) through numpy dispatch
        f = getattr(np, name, None)
        if name.startswith("_") or not callable(f) or not hasattr(np.ndarray, name):
            raise AttributeError(f"'Tensor' object has no attribute '{name}'")
        return functools.partial(f, self)

    def index_select(self, dim, index):
        """Select entries along ``dim`` (``IndexSelectBackward0``)."""
        idx = (slice(None),) * (dim % self._data.ndim) + (np.asarray(_unwrap(index)),)
        return _op("IndexSelectBackward0", _getitem, _getitem, (self, idx), None, (0,), ("i",))

    def split(self, split_size, dim=0):
        """Split into chunks of ``split_size`` along ``dim`` (``SplitBackward0``)."""
        n = self._data.shape[dim]
        bounds = list(range(0, n, split_size)) + [n]
        return tuple(self._slice_chunk(dim, a, b) for a, b in itertools.pairwise(bounds))

    def chunk(self, chunks, dim=0):
        """Split into ``chunks`` pieces along ``dim`` (``SplitBackward0``)."""
        n = self._data.shape[dim]
        return self.split(-(-n // chunks), dim)

    def unbind(self, dim=0):
        """The slices along ``dim`` (``UnbindBackward0``)."""
        d = dim % self._data.ndim
        return tuple(_op("UnbindBackward0", _getitem, _getitem,
                         (self, (slice(None),) * d + (i,)), None, (0,), (), view=True)
                     for i in range(self._data.shape[d]))

    def _slice_chunk(self, dim, a, b):
        d = dim % self._data.ndim
        return _op("SplitBackward0", _getitem, _getitem, (self, (slice(None),) * d + (slice(a, b),)),
                   None, (0,), (), view=True)

    # ------------------------------------------------------------ dtype

    def to(self, dtype):
        """Cast to ``dtype`` (``ToCopyBackward0``; self when the dtype is unchanged)."""
        dt = _dt(dtype)
        if dt == self._data.dtype:
            return self
        if dt.kind not in "fc":
            return _wrap(self._data.astype(dt))
        return _op("ToCopyBackward0", _ToCopy, _ToCopy(dt), (self,), None, (0,), ())

    def float(self):
        """Cast to float32."""
        return self.to(float32)

    def double(self):
        """Cast to float64."""
        return self.to(float64)

    def long(self):
        """Cast to int64 (no gradient)."""
        return self.to(int64)

    def astype(self, dtype):
        """numpy-style cast (differentiable between float types)."""
        return self.to(dtype)

    # ------------------------------------------------------------ numpy protocol

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _array_function(func, args, kwargs)


def _init(t, arr):
    t._data = arr
    t._rg = False
    t.grad_fn = None
    t._grad = None
    t._vc = [0]
    t._base = None
    t._hooks = None
    t._acc = None
    t._retains = False
    t._vidx = None


_new_tensor = object.__new__


def _wrap(arr):
    """A new leaf Tensor over ``arr`` (an ndarray), not requiring grad."""
    t = _new_tensor(Tensor)
    t._data = arr
    t._rg = False
    t.grad_fn = None
    t._grad = None
    t._vc = [0]
    t._base = None
    t._hooks = None
    t._acc = None
    t._retains = False
    t._vidx = None
    return t


_warned = set()


def _escape_error(what):
    return TapeError(
        f"grad_of: the function converts a tape Tensor that carries the gradient into {what}, "
        "where the tape cannot follow it; use numpy functions (np.sin rather than math.sin) and "
        "build arrays from the tensors (np.stack, np.concatenate) instead of writing them into "
        "a preallocated ndarray")


def _warn_once(key, msg):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(msg, UserWarning, stacklevel=3)


class _ToCopy:
    """The forward of a dtype cast, usable as a rule key and as a callable."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def __call__(self, a):
        if isinstance(a, Tensor):
            return a.to(self.dtype)
        return np.asarray(a).astype(self.dtype)


def _tocopy_vjp(g, ans, a):
    if isinstance(g, Tensor):
        return (g.to(a.dtype),)
    return (np.asarray(g).astype(np.result_type(a)),)


# ---------------------------------------------------------------- unwrap / helpers


def _unwrap(x):
    if isinstance(x, Tensor):
        return x._data
    if type(x) in (list, tuple) and any(isinstance(e, Tensor) for e in x):
        return type(x)(e._data if isinstance(e, Tensor) else e for e in x)
    return x


def _any_rg(args):
    for a in args:
        if isinstance(a, Tensor):
            if a._rg:
                return True
        elif type(a) in (list, tuple):
            for e in a:
                if isinstance(e, Tensor) and e._rg:
                    return True
    return False


def _wrap_result(r):
    if isinstance(r, np.ndarray):
        return _wrap(r)
    if isinstance(r, np.generic):
        return _wrap(np.asarray(r))
    if type(r) in (list, tuple) and r and all(isinstance(e, np.ndarray) for e in r):
        return type(r)(_wrap(e) for e in r)
    return r


def _dt(dtype):
    if dtype is None:
        return None
    if dtype is float:
        return float64
    return np.dtype(dtype)


def _np_kw(dim, keepdim, axis, keepdims):
    return (dim if axis is None else axis), (keepdim if keepdims is None else keepdims)


def _correction(unbiased, correction, ddof, axis, keepdims):
    if ddof is not None:
        return ddof
    if correction is not None:
        return correction
    if axis is not None or keepdims is not None or _state.strict:
        return 0
    return 1 if unbiased else 0


def _dims(dim):
    if isinstance(dim, list):
        return tuple(dim)
    return dim


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, Size)):
        return tuple(shape[0])
    return tuple(int(s) for s in shape)


def _getitem(a, index):
    return a[index]


def _edge(t):
    if isinstance(t, Tensor) and t._rg:
        return (t.grad_fn or t._acc_node(), 0)
    return _NONE_EDGE


# ---------------------------------------------------------------- rules

_FALLBACK = {}


def _fallback(*keys, kind="linear"):
    """Tape-local adapters for tape-only primitives, delegating to the shared rules."""

    def register(fn):
        for key in keys:
            _FALLBACK[key] = registry.Rule(key, registry._key_name(key), fn, kind, False)
        return fn

    return register


@_fallback(_getitem)
def _getitem_fallback_vjp(g, ans, a, index):
    return registry.lookup(operator.getitem).vjp(g, ans, a, index)


_FALLBACK[_ToCopy] = registry.Rule(_ToCopy, "ToCopy", _tocopy_vjp, "linear", False)


def _lookup(key):
    rule = registry.lookup(key)
    if rule is None:
        rule = _FALLBACK.get(key)
        if rule is None and isinstance(key, _ToCopy):
            rule = _FALLBACK[_ToCopy]
        elif rule is None and isinstance(key, _Ragged):
            rule = key.rule()
    return rule


class _Ragged:
    """The key of a primitive whose result is a tuple of arrays of different shapes (np.linalg.svd,
    eigh, qr, eig, lstsq): the tape records it as one node over the flat concatenation of the
    result's float parts, and its rule sees the gradient as a tuple again (None for other parts)."""

    __slots__ = ("key", "parts", "bounds")

    def __init__(self, key, parts):
        self.key = key
        self.parts = parts
        self.bounds = []
        start = 0
        for p in parts:
            if _ragged_float(p):
                self.bounds.append((start, start + np.size(p), np.shape(p)))
                start += np.size(p)
            else:
                self.bounds.append(None)

    def split(self, g):
        return tuple(None if b is None else g[b[0]:b[1]].reshape(b[2]) for b in self.bounds)

    def rule(self):
        base = _lookup(self.key)
        if base is None:
            return None

        def vjp(g, ans, *args, **kwargs):
            return base.vjp(self.split(g), self.parts, *args, **kwargs)

        return registry.Rule(self, base.name, vjp, "custom", False, base.torch_name)


def _ragged_float(p):
    return isinstance(p, (np.ndarray, np.generic, float)) and np.asarray(p).dtype.kind in "fc"


def _is_ragged(ans):
    """True for a tuple result the tape records as :class:`_Ragged`: parts of different shapes or
    kinds, or a named tuple (its fields stay readable: np.linalg.slogdet(t).logabsdet)."""
    return isinstance(ans, tuple) and len(ans) > 1 and \
        (hasattr(type(ans), "_fields") or len({np.shape(p) for p in ans}) > 1 or
         not all(_ragged_float(p) for p in ans))


def _op_ragged(name, key, args, kw, edges, saves, ans):
    """Record ``key`` with the tuple result ``ans`` (see :class:`_Ragged`); returns the tuple with
    its float parts as Tensors taken out of the recorded flat one."""
    ragged = _Ragged(key, ans)
    floats = [np.ravel(p) for p in ans if _ragged_float(p)]
    flat = np.concatenate(floats).astype(np.result_type(*floats)) if floats else np.zeros(0)
    out = _op(name, ragged, None, args, kw, edges, saves, ans=flat)
    items = [p if b is None else out[b[0]:b[1]].reshape(b[2])
             for p, b in zip(ans, ragged.bounds)]
    return type(ans)._make(items) if hasattr(type(ans), "_make") else tuple(items)


def _no_rule(key):
    name = registry._key_name(key)
    return NoRuleError(
        f"no derivative rule for {name}, called on a tape Tensor that requires grad; register one "
        f"with sourcediff.defvjp({name}) or call it on t.detach()")


# ---------------------------------------------------------------- rules sliced to the inputs that need them

# ---------------------------------------------------------------- recording


def _op(name, key, fwd, args, kw, edges, saves, ans=None, view=False):
    """Run ``fwd`` on the unwrapped ``args`` and record a node that calls ``key``'s vjp rule."""
    if ans is None:
        raw = [a._data if isinstance(a, Tensor) else _unwrap(a) for a in args]
        ans = fwd(*raw, **kw) if kw else fwd(*raw)
    if type(ans) is not np.ndarray:
        if _is_ragged(ans):
            return _op_ragged(name, key, args, kw, edges, saves, ans)
        ans = np.asarray(ans)
    elif not view and ans.base is not None:
        # numpy made a view (np.transpose, np.reshape on a Tensor) of an argument's data, which
        # the tape does not record as a view: a copy, so a later in-place update of the argument
        # cannot change the value this node's rule reads
        for a in args:
            if isinstance(a, Tensor) and np.may_share_memory(ans, a._data):
                ans = ans.copy()
                break
    out = _new_tensor(Tensor)
    out._data = ans
    out._rg = False
    out.grad_fn = None
    out._grad = None
    out._base = None
    out._hooks = None
    out._acc = None
    out._retains = False
    out._vidx = None
    if view:
        base = args[0]
        out._vc = base._vc
        out._base = base._base if base._base is not None else base
    else:
        out._vc = [0]
    if not _state.enabled:
        return out
    nf = []
    req = False
    req_pos = []
    for e in edges:
        a = args[e] if type(e) is int else args[e[0]][e[1]]
        if isinstance(a, Tensor) and a._rg:
            req = True
            req_pos.append(e)
            nf.append((a.grad_fn or a._acc_node(), 0))
        else:
            nf.append(_NONE_EDGE)
    if not req:
        return out
    rule = _lookup(key)
    if rule is None:
        raise _no_rule(key)
    node = _make_node(name, tuple(nf), _rule_bw, ans.dtype, saves)
    node._rule = rule
    # sliced also when every edge needs a gradient: ``x ** 2`` has one edge and a rule with two
    # contributions (the exponent's log is skipped); the unsliced rule when nothing can be dropped
    # (a ragged result's rule is a closure of its own: run whole, not cached by _sliced_vjp)
    node._vjp = rule.vjp if type(key) is _Ragged else _sliced_vjp(rule.vjp, tuple(req_pos))
    node._fwd = fwd
    node._args = args
    node._kw = kw or {}
    node._edges = edges
    node._ans = ans
    if saves:
        vers = []
        kept = []
        for p in saves:
            if type(p) is tuple:
                if p[1] not in req_pos:
                    continue
                p = p[0]
            kept.append(p)
            if p == "o":
                node._outvc = out._vc
                node._outver = out._vc[0]
            elif type(p) is int and isinstance(args[p], Tensor):
                vers.append((p, args[p]._vc[0]))
        node._vers = tuple(vers)
        node._saves = tuple(kept)
    out._rg = True
    out.grad_fn = node
    return out


def _promote(a, b):
    """PyTorch's promotion for float tensors mixed with ints or 0-d tensors of another float type."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype != b.dtype:
        ka, kb = a.dtype.kind, b.dtype.kind
        if ka == "f" and kb in "iub":
            return a, b.astype(a.dtype)
        if kb == "f" and ka in "iub":
            return a.astype(b.dtype), b
        if ka == kb == "f" and (a.ndim == 0) != (b.ndim == 0):
            return (a.astype(b.dtype), b) if a.ndim == 0 else (a, b.astype(a.dtype))
    return a, b


def _binop(key, name, a, b, saves):
    ad = a._data
    bd = b._data if isinstance(b, Tensor) else b
    if isinstance(bd, (list, tuple)):
        bd = np.asarray(bd)
    ad, bd = _promote(ad, bd)
    return _op(name, key, key, (a, b), None, (0, 1), saves, ans=key(ad, bd))


def _unary(t, key, name, saves, composite_fn):
    if _lookup(key) is not None or not (_state.enabled and t._rg):
        return _op(name, key, key, (t,), None, (0,), saves)
    return _composite(name, composite_fn, (t,), value=np.asarray(key(t._data)))


_SAVES_RESULT = {"SigmoidBackward0", "SoftmaxBackward0", "LogSoftmaxBackward0"}


def _composite(name, fn, inputs, value=None):
    """Record ``fn(*inputs)`` (built from tape ops) as ONE node called ``name``.

    The forward runs ``fn`` on detached copies of the inputs; the node's backward is the tape's own
    backward through that sub-graph (or, with ``create_graph``, through ``fn`` re-run on the inputs).
    """
    if not (_state.enabled and _any_rg(inputs)):
        with no_grad():
            res = fn(*[_detached(x) for x in inputs])
        if value is not None:
            return _wrap(np.asarray(value))
        return res
    leaves = []
    for x in inputs:
        if isinstance(x, Tensor):
            leaf = _wrap(x._data)
            leaf._vc = x._vc
            leaf._rg = x._rg
            leaves.append(leaf)
        else:
            leaves.append(x)
    with enable_grad():
        sub = fn(*leaves)
    if value is None:
        value = sub._data
    out = _wrap(np.asarray(value))
    if value is sub._data:
        out._vc = sub._vc
    nf = tuple(_edge(x) for x in inputs)
    node = _make_node(name, nf, _composite_bw, out._data.dtype)
    node._args = tuple(inputs)
    node._fwd = fn
    node._extra = (sub, leaves)
    if name in _SAVES_RESULT:
        node._saves = ("o",)
        node._ans = out._data
        node._outvc = out._vc
        node._outver = out._vc[0]
    out._rg = True
    out.grad_fn = node
    return out


def _detached(x):
    return x.detach() if isinstance(x, Tensor) else x


def _composite_bw(node, g, cg):
    _check_saved(node)
    if cg:
        inputs = node._args
        with enable_grad():
            sub = node._fwd(*inputs)
        want = [x for x in inputs if isinstance(x, Tensor) and x._rg]
        got = iter(_grad_impl([sub], [g], want, retain_graph=True, create_graph=True,
                              allow_unused=True))
        return [next(got) if isinstance(x, Tensor) and x._rg else None for x in inputs]
    sub, leaves = node._extra
    if not isinstance(sub, Tensor) or not sub._rg:
        return [None] * len(leaves)
    want = [x for x in leaves if isinstance(x, Tensor) and x._rg]
    got = iter(_grad_impl([sub], [g], want, retain_graph=_state_retain[0], create_graph=False,
                          allow_unused=True, raw=True))
    return [next(got) if isinstance(x, Tensor) and x._rg else None for x in leaves]


_state_retain = [False]


def _not_implemented_bw(node, g, cg):
    raise TapeError("derivative for aten::floor_divide is not implemented")


# ---------------------------------------------------------------- backward of a rule node


def _version_error(t, now, saved, which):
    dims = ", ".join(str(n) for n in t.shape) if isinstance(t, Tensor) else ""
    dt = t.dtype if isinstance(t, Tensor) else t
    return TapeError(_MSG_VERSION.format(
        ttype=f"torch.{_TTYPE.get(dt.name, dt.name)}Tensor", sizes=dims, which=which, now=now,
        saved=saved))


def _op_name(node_name):
    name = node_name
    i = name.rfind("Backward")
    return name[:i] if i > 0 else name


def _check_saved(node):
    if node._freed:
        raise TapeError(_MSG_SECOND_BACKWARD)
    args = node._args
    for p, v in node._vers:
        t = args[p]
        if t._vc[0] != v:
            which = f", which is output 0 of {_op_name(t.grad_fn.name())}," if t.grad_fn else ""
            raise _version_error(t, t._vc[0], v, which)
    if node._outvc is not None and node._outvc[0] != node._outver:
        ans = node._ans
        fake = _wrap(ans)
        raise _version_error(fake, node._outvc[0], node._outver,
                             f", which is output 0 of {_op_name(node.name())},")


def _rule_bw(node, g, cg):
    _check_saved(node)
    rule = node._rule
    if cg:
        return _rule_bw_graph(node, g)
    args = node._args
    raw = [a._data if isinstance(a, Tensor) else _unwrap(a) for a in args]
    contribs = node._vjp(g, node._ans, *raw, **node._kw)
    out = []
    bc = rule.broadcast
    for (child, _), e in zip(node.next_functions, node._edges):
        if child is None:
            out.append(None)
            continue
        if type(e) is int:
            c, x = contribs[e], raw[e]
        else:
            c, x = contribs[e[0]][e[1]], raw[e[0]][e[1]]
        if c is not None and bc and not (type(c) is np.ndarray and type(x) is np.ndarray
                                         and c.shape == x.shape):
            c = _sd.unbroadcast(c, x)
        out.append(c)
    return out


def _rule_bw_graph(node, g):
    """The node's backward recorded on the tape (``create_graph=True``)."""
    rule = node._rule
    tg = g if isinstance(g, Tensor) else _wrap(np.asarray(g))
    live = [i for i, (child, _) in enumerate(node.next_functions) if child is not None]
    if (rule.kind == "linear" and len(live) == 1 and type(node._edges[live[0]]) is int
            and node._fwd is not None):
        out = [None] * len(node.next_functions)
        out[live[0]] = _linear_vjp(node, node._edges[live[0]], tg)
        return out
    ans = _wrap(node._ans)
    ans._rg = True
    ans.grad_fn = node
    _state.in_rule += 1
    try:
        contribs = rule.vjp(tg, ans, *node._args, **node._kw)
    except (NoRuleError, TapeError, TapeTypeError):
        raise
    except Exception as exc:  # a rule body that cannot run on tape Tensors
        raise TapeError(
            f"create_graph=True: the vjp rule of {rule.name} ({node.name()}) could not run on tape "
            f"Tensors ({type(exc).__name__}: {exc}); higher-order gradients through it are not "
            "supported") from exc
    finally:
        _state.in_rule -= 1
    out = []
    for (child, _), e in zip(node.next_functions, node._edges):
        if child is None:
            out.append(None)
            continue
        if type(e) is int:
            c, x = contribs[e], node._args[e]
        else:
            c, x = contribs[e[0]][e[1]], node._args[e[0]][e[1]]
        if c is not None and rule.broadcast:
            c = _sd.unbroadcast(c, _unwrap(x))
        out.append(c)
    return out


def _linear_vjp(node, pos, tg):
    """vjp of an op linear in its only active argument, recorded as a node whose own backward is
    the op itself (the transpose of a transpose)."""
    rule = node._rule
    raw = [a._data if isinstance(a, Tensor) else _unwrap(a) for a in node._args]
    c = rule.vjp(tg._data, node._ans, *raw, **node._kw)[pos]
    if rule.broadcast:
        c = _sd.unbroadcast(c, raw[pos])
    c = np.asarray(c)
    out = _wrap(c)
    if not (_state.enabled and tg._rg):
        return out
    fwd, args, kw = node._fwd, node._args, node._kw

    def bw(n, gg, cg):
        new_args = list(args) if cg else list(raw)
        new_args[pos] = gg
        if cg:
            new_args = [a.detach() if isinstance(a, Tensor) and i != pos else a
                        for i, a in enumerate(new_args)]
            if not isinstance(gg, Tensor):
                new_args[pos] = _wrap(np.asarray(gg))
            r = fwd(*new_args, **kw)
            return [r if isinstance(r, Tensor) else _wrap(np.asarray(r))]
        return [np.asarray(fwd(*new_args, **kw))]

    n = _make_node(node.name() + "Backward", ((tg.grad_fn or tg._acc_node(), 0),), bw, c.dtype)
    out._rg = True
    out.grad_fn = n
    return out


# ---------------------------------------------------------------- in-place and setitem


def _check_inplace(t):
    if _state.enabled:
        if t._rg and t.grad_fn is None:
            raise TapeError(_MSG_LEAF_INPLACE)
        b = t._base
        if b is not None and b._rg and b.grad_fn is None:
            raise TapeError(_MSG_VIEW_LEAF_INPLACE)


def _snapshot(t):
    s = _wrap(t._data.copy())
    s._rg = t._rg
    s.grad_fn = t.grad_fn
    s._acc = t._acc
    if t._rg and t.grad_fn is None:
        s._acc = t._acc_node()
    return s


def _rebase(t, res):
    """Make ``t`` hold ``res``'s value and graph position after an in-place op."""
    old = t.grad_fn
    if old is not None and old._ans is t._data and old._outvc is None:
        # the node that made t keeps its result for its rule (a / b: -g * ans / b), though it does
        # not save it as an output PyTorch would check: it gets the value from before the update
        old._ans = t._data.copy()
    np.copyto(t._data, res._data, casting="same_kind")
    t._vc[0] += 1
    node = res.grad_fn
    t.grad_fn = node
    t._rg = res._rg
    if node is not None:
        if node._outvc is res._vc:
            node._ans = t._data
            node._outvc = t._vc
            node._outver = t._vc[0]
        if t._retains:
            node._retain = weakref.ref(t)


def _inplace(t, op, npop, other, unary=False):
    _check_inplace(t)
    recording = _state.enabled and (t._rg or (isinstance(other, Tensor) and other._rg))
    if not recording:
        if not t._data.flags.writeable:
            raise TapeError(_MSG_STRIDE0)
        if unary or other is None:
            np.copyto(t._data, npop(t._data), casting="same_kind")
        else:
            o = _unwrap(other)
            if npop is np.add or npop is np.subtract or npop is np.multiply or npop is np.divide:
                npop(t._data, o, out=t._data, casting="same_kind")
            else:
                np.copyto(t._data, npop(t._data, o), casting="same_kind")
        t._vc[0] += 1
        return t
    if t._base is not None and (t._base._rg or t._rg):
        if t._vidx is None:
            raise TapeError(
                "in-place operation on this view of a tensor that requires grad is not supported "
                "by the sourcediff tape (only views made by one indexing of the base are); use an "
                "out-of-place operation (y = y + 1) or index assignment on the base tensor")
        base = t._base
        snap = _snapshot(t)
        res = op(snap) if unary else op(snap, other)
        _setitem(base, t._vidx, res)  # the base records CopySlices
        view = _getitem_tensor(base, t._vidx)
        if not np.shares_memory(t._data, base._data):
            # an integer index selects a copy (numpy's scalar): it gets the new value too, so
            # x[0] -= v, which Python ends with x[0] = <this view>, does not write the old one back
            np.copyto(t._data, view._data, casting="same_kind")
        t.grad_fn = view.grad_fn
        t._rg = view._rg
        return t
    snap = _snapshot(t)
    res = op(snap) if unary else op(snap, other)
    _rebase(t, res)
    return t


def _setitem(t, index, value):
    if _state.enabled and t._rg and t.grad_fn is None:
        raise TapeError(_MSG_VIEW_LEAF_INPLACE)
    _check_inplace(t)
    idx = _unwrap_index(index)
    recording = _state.enabled and (t._rg or (isinstance(value, Tensor) and value._rg))
    if not recording:
        t._data[idx] = _unwrap(value)
        t._vc[0] += 1
        return
    if t._base is not None and (t._base._rg or t._rg):
        raise TapeError(
            "index assignment into a view of a tensor that requires grad is not supported by the "
            "sourcediff tape; assign into the base tensor")
    snap = _snapshot(t)
    new = t._data.copy()
    new[idx] = _unwrap(value)
    mask = np.zeros(t._data.shape, dtype=bool)
    mask[idx] = True
    nf = (_edge(snap), _edge(value))

    def bw(node, g, cg):
        g_self = np.where(mask, 0.0, g)
        g_val = None
        if nf[1][0] is not None:
            g_val = _sd.item_grad(g, idx)  # (an element written twice: the last write's)
            g_val = _sd.unbroadcast(g_val, _unwrap(value))
        return [g_self, g_val]

    node = _make_node("CopySlices", nf, bw, new.dtype)
    res = _wrap(new)
    res._rg = True
    res.grad_fn = node
    _rebase(t, res)


# ---------------------------------------------------------------- indexing


def _is_basic(i):
    return i is None or i is Ellipsis or isinstance(i, (slice, numbers.Integral))


def _unwrap_index(index):
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    return index


def _getitem_tensor(t, index):
    idx = _unwrap_index(index)
    tup = idx if isinstance(idx, tuple) else (idx,)
    basic = all(_is_basic(i) for i in tup)
    if not (_state.enabled and t._rg):
        out = _wrap(np.asarray(t._data[idx]))
        if basic:
            out._vc = t._vc
            out._base = t._base if t._base is not None else t
            if t._base is None:
                out._vidx = idx
        return out
    if not basic:
        return _op("IndexBackward0", _getitem, _getitem, (t, idx), None, (0,), ("i",))
    n_real = builtins.sum(1 for i in tup if i is not None and i is not Ellipsis)
    cur, dim = t, 0
    for i in tup:
        if i is Ellipsis:
            dim += cur._data.ndim - dim - (n_real - _consumed(tup, i))
        elif i is None:
            shape = cur._data.shape[:dim] + (1,) + cur._data.shape[dim:]
            cur = _op("UnsqueezeBackward0", np.reshape, np.reshape, (cur, shape), None, (0,), (),
                      view=True)
            dim += 1
        elif isinstance(i, slice):
            n = cur._data.shape[dim]
            if i.indices(n) == (0, n, 1):
                dim += 1
                continue
            sub = (slice(None),) * dim + (i,)
            cur = _op("SliceBackward0", _getitem, _getitem, (cur, sub), None, (0,), (), view=True)
            dim += 1
        else:
            sub = (slice(None),) * dim + (int(i),)
            cur = _op("SelectBackward0", _getitem, _getitem, (cur, sub), None, (0,), (), view=True)
    if cur is t:
        cur = _op("AliasBackward0", _getitem, _getitem, (t, ()), None, (0,), (), view=True)
    if t._base is None:
        cur._vidx = idx
    return cur


def _consumed(tup, ell):
    k = 0
    for i in tup:
        if i is ell:
            return k
        if i is not None:
            k += 1
    return k


# ---------------------------------------------------------------- numpy protocol


def _torch_name(func, rule, args, kwargs):
    name = rule.torch_name or (
        "".join(p.capitalize() for p in registry._key_name(func).split(".")[-1].split("_"))
        + "Backward0")
    if func in (np.sum, np.mean, np.prod) and (
            kwargs.get("axis") is not None or len(args) > 1 and args[1] is not None):
        name = name[:-1] + "1"
    elif func is np.power:
        if not isinstance(args[0], Tensor):
            name = "PowBackward2"
        elif isinstance(args[1], Tensor):
            name = "PowBackward1"
    elif func is np.matmul:
        n0, n1 = np.ndim(_unwrap(args[0])), np.ndim(_unwrap(args[1]))
        name = _MATMUL_NAMES.get((min(n0, 3), min(n1, 3)), "BmmBackward0")
    return name


_MATMUL_NAMES = {(2, 2): "MmBackward0", (2, 1): "MvBackward0", (1, 1): "DotBackward0",
                 (1, 2): "MmBackward0"}

_SAVES = {
    np.add: (), np.subtract: (), np.negative: (), np.positive: (), np.sum: (), np.mean: (),
    np.reshape: (), np.transpose: (), np.swapaxes: (), np.expand_dims: (), np.squeeze: (),
    np.broadcast_to: (), np.concatenate: (), np.stack: (), np.exp: ("o",), np.tanh: ("o",),
    np.sqrt: ("o",), np.where: (0,),
}


def _array_ufunc(ufunc, method, inputs, kwargs):
    if method == "outer" and ufunc.nin == 2:
        a, b = inputs
        nb = np.ndim(_unwrap(b))
        a2 = a.reshape(tuple(np.shape(_unwrap(a))) + (1,) * nb) if isinstance(a, Tensor) else \
            np.reshape(a, np.shape(a) + (1,) * nb)
        return _array_ufunc(ufunc, "__call__", (a2, b), kwargs)
    if method != "__call__":
        raise TapeError(
            f"np.{ufunc.__name__}.{method} is not supported on tape Tensors (it would bypass the "
            f"graph); use np.{ufunc.__name__}(...) or indexing with an out-of-place update")
    if kwargs.get("out") is not None:
        raise TapeError(f"np.{ufunc.__name__}(..., out=...) is not supported on tape Tensors; "
                        "assign the result instead")
    kwargs.pop("out", None)
    if not (_state.enabled and _any_rg(inputs)) or ufunc.nout != 1:
        if ufunc.nout != 1 and _state.enabled and _any_rg(inputs):
            raise _no_rule(ufunc)
        return _wrap_result(ufunc(*[_unwrap(i) for i in inputs], **kwargs))
    if ufunc is np.matmul and not kwargs:
        a, b = inputs
        if np.ndim(_unwrap(a)) == 2 and np.ndim(_unwrap(b)) == 2:
            return matmul(a, b)  # ndarray @ Tensor: the same node as Tensor @ Tensor, as fast
    rule = _lookup(ufunc)
    if rule is None:
        if registry.is_nondiff(ufunc):
            return _wrap_result(ufunc(*[_unwrap(i) for i in inputs], **kwargs))
        raise _no_rule(ufunc)
    name = _torch_name(ufunc, rule, inputs, kwargs)
    saves = _SAVES.get(ufunc, tuple(range(len(inputs))))
    return _op(name, ufunc, ufunc, tuple(inputs), kwargs or None, tuple(range(len(inputs))),
               saves)


def _shape_of(a):
    return tuple(a._data.shape) if isinstance(a, Tensor) else np.shape(a)


_AF_HANDLERS = {
    np.shape: lambda a: _shape_of(a),
    np.ndim: lambda a: np.ndim(_unwrap(a)),
    np.size: lambda a, axis=None: np.size(_unwrap(a), axis),
    np.result_type: lambda *a: np.result_type(*[_unwrap(x) for x in a]),
    np.iscomplexobj: lambda x: np.iscomplexobj(_unwrap(x)),
    np.isrealobj: lambda x: np.isrealobj(_unwrap(x)),
}


def _array_function(func, args, kwargs):
    h = _AF_HANDLERS.get(func)
    if h is not None:
        return h(*args, **kwargs)
    if not (_state.enabled and (_any_rg(args) or _any_rg(kwargs.values()))):
        return _wrap_result(func(*[_unwrap(a) for a in args],
                                 **{k: _unwrap(v) for k, v in kwargs.items()}))
    rule = _lookup(func)
    if rule is None:
        if registry.is_nondiff(func):
            return _wrap_result(func(*[_unwrap(a) for a in args],
                                     **{k: _unwrap(v) for k, v in kwargs.items()}))
        raise _no_rule(func)
    if any(isinstance(v, Tensor) and v._rg for v in kwargs.values()):
        raise TapeError(f"pass the differentiable arguments of {rule.name} positionally")
    edges = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            if a._data.dtype.kind in "fc":
                edges.append(i)
        elif type(a) in (list, tuple) and any(isinstance(e, Tensor) for e in a):
            edges.extend((i, j) for j in range(len(a)))
        elif rule.broadcast and isinstance(a, (np.ndarray, numbers.Number)):
            edges.append(i)
    name = _torch_name(func, rule, args, kwargs)
    saves = _SAVES.get(func, tuple(e for e in edges if type(e) is int))
    return _op(name, func, func, tuple(args), kwargs or None, tuple(edges), saves)


# ---------------------------------------------------------------- the engine


def _toposort(roots):
    order = []
    seen = set()
    for r in roots:
        if r in seen:
            continue
        seen.add(r)
        stack = [(r, iter(r.next_functions))]
        while stack:
            node, it = stack[-1]
            for child, _ in it:
                if child is not None and child not in seen:
                    seen.add(child)
                    stack.append((child, iter(child.next_functions)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _run_hooks(hooks, g, cg):
    for h in list(hooks):
        tg = g if isinstance(g, Tensor) else _wrap(g)
        r = h(tg)
        if r is not None:
            rd = r._data if isinstance(r, Tensor) else np.asarray(r)
            if rd.shape != np.shape(_unwrap(g)):
                raise TapeError(f"hook '{getattr(h, '__name__', repr(h))}' has changed the size "
                                "of value")
            g = r if cg and isinstance(r, Tensor) else rd
    return g


def _store_grad(t, g, cg):
    """Add ``g`` into ``t.grad`` (in place when possible, so the object stays the same)."""
    if cg:
        tg = g if isinstance(g, Tensor) else _wrap(np.asarray(g))
        if tg._data.shape != t._data.shape:
            tg = tg + _wrap(np.zeros(t._data.shape, t._data.dtype))
        t._grad = tg if t._grad is None else t._grad + tg
        return
    if g.shape != t._data.shape:
        g = np.broadcast_to(_sd.unbroadcast(g, t._data), t._data.shape)
    cur = t._grad
    if cur is None:
        t._grad = _wrap(np.array(g, dtype=t._data.dtype))
    elif cur._rg:
        with no_grad():
            t._grad = cur + _wrap(np.asarray(g, dtype=t._data.dtype))
    else:
        np.add(cur._data, g, out=cur._data, casting="unsafe")


def _engine(roots, retain, cg, capture=None, accumulate=True):
    """Backpropagate ``roots`` (list of (node, grad)); returns {capture node: grad}."""
    grads = {}
    for node, g in roots:
        grads[node] = g if node not in grads else grads[node] + g
    order = _toposort([n for n, _ in roots])
    through = None
    if capture is not None:
        needed = set(capture)
        through = set()
        for node in reversed(order):
            for child, _ in node.next_functions:
                if child is not None and child in needed:
                    needed.add(node)
                    through.add(node)
                    break
    results = {}
    prev_retain = _state_retain[0]
    _state_retain[0] = retain
    prev_mode = _state.enabled
    _state.enabled = cg
    try:
        for node in order:
            g = grads.pop(node, None)
            if g is None:
                continue
            if not cg:
                if type(g) is not np.ndarray:
                    g = np.asarray(g._data if isinstance(g, Tensor) else g)
                if node._dtype is not None and g.dtype != node._dtype and g.dtype.kind == "f":
                    g = g.astype(node._dtype)
            is_acc = type(node) is AccumulateGrad
            hooks = node.variable._hooks if is_acc else node._pre_hooks
            if hooks:
                g = _run_hooks(hooks, g, cg)
            r = node._retain
            if r is not None:
                t = r()
                if t is not None:
                    _store_grad(t, g, cg)
            if capture is not None and node in capture:
                results[node] = g
            if is_acc:
                if accumulate:
                    _store_grad(node.variable, g, cg)
                continue
            if through is not None and node not in through:
                continue
            contribs = node._bw(node, g, cg)
            if not retain:
                node._release()
            for (child, _), c in zip(node.next_functions, contribs):
                if child is None or c is None:
                    continue
                if not cg and type(c) is not np.ndarray:
                    c = np.asarray(c._data if isinstance(c, Tensor) else c)
                prev = grads.get(child)
                grads[child] = c if prev is None else prev + c
    finally:
        _state_retain[0] = prev_retain
        _state.enabled = prev_mode
    return results


def _root_grad(t, g, i, cg):
    if g is None:
        if t._data.size != 1:
            raise TapeError(_MSG_SCALAR)
        g = np.ones(t._data.shape, dtype=t._data.dtype)
    elif isinstance(g, Tensor):
        if g._data.shape != t._data.shape:
            raise TapeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {Size(g._data.shape)!r} and "
                f"output[{i}] has a shape of {Size(t._data.shape)!r}.")
        if cg and g._rg:
            return g
        g = g._data.astype(t._data.dtype, copy=False)
    elif isinstance(g, np.ndarray):
        g = np.asarray(g, dtype=t._data.dtype)
    else:
        raise TapeTypeError(f"'{type(g).__name__}' object is not iterable")
    return _wrap(g) if cg else g


def _as_list(x):
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of ``tensors`` into the leaves' ``.grad`` (``torch.autograd.backward``).

    Example::

        T.backward([(x * 2).sum(), (x * 3).sum()])     # x.grad == 5
    """
    tensors = _as_list(tensors)
    grad_tensors = [None] * len(tensors) if grad_tensors is None else _as_list(grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    roots = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not t._rg:
            raise TapeError(_MSG_NO_GRAD.format(i))
        roots.append((t.grad_fn or t._acc_node(), _root_grad(t, g, i, create_graph)))
    if create_graph:
        warnings.warn(_MSG_CREATE_GRAPH_BACKWARD, UserWarning, stacklevel=3)
    if inputs is None:
        _engine(roots, retain_graph, create_graph)
        return
    inputs = _as_list(inputs)
    cap = {(x.grad_fn or x._acc_node()): x for x in inputs}
    res = _engine(roots, retain_graph, create_graph, capture=cap, accumulate=False)
    for node, x in cap.items():
        if node in res:
            _store_grad(x, res[node], create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs`` as a tuple (``torch.autograd.grad``);
    ``.grad`` fields are not touched. With ``create_graph=True`` the result is itself on the tape.

    Example::

        x = T.tensor(2.0, requires_grad=True)
        (g1,) = T.grad(x ** 3, x, create_graph=True)    # tensor(12., grad_fn=<...>)
        (g2,) = T.grad(g1, x)                            # tensor(12.)
    """
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    gos = [None] * len(outputs) if grad_outputs is None else _as_list(grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    return tuple(_grad_impl(outputs, gos, inputs, retain_graph, create_graph, allow_unused))


def _grad_impl(outputs, gos, inputs, retain_graph, create_graph, allow_unused, raw=False):
    roots = []
    for i, (t, g) in enumerate(zip(outputs, gos)):
        if not t._rg:
            raise TapeError(_MSG_NO_GRAD.format(i))
        if raw:
            roots.append((t.grad_fn or t._acc_node(), g))
        else:
            roots.append((t.grad_fn or t._acc_node(), _root_grad(t, g, i, create_graph)))
    cap = {}
    for x in inputs:
        if not x._rg:
            raise TapeError("One of the differentiated Tensors does not require grad")
        cap[x.grad_fn or x._acc_node()] = x
    res = _engine(roots, retain_graph, create_graph, capture=cap, accumulate=False)
    out = []
    for i, x in enumerate(inputs):
        node = x.grad_fn or x._acc_node()
        g = res.get(node)
        if g is None:
            if not allow_unused:
                raise TapeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior.")
            out.append(None)
            continue
        if raw:
            out.append(g)
            continue
        if isinstance(g, Tensor):
            if g._data.shape != x._data.shape:
                g = g + _wrap(np.zeros(x._data.shape, x._data.dtype))
            out.append(g)
        else:
            if g.shape != x._data.shape:
                g = np.broadcast_to(_sd.unbroadcast(g, x._data), x._data.shape)
            out.append(_wrap(np.array(g, dtype=x._data.dtype)))
    return out


# ---------------------------------------------------------------- functions (torch.* / F.*)


def matmul(a, b):
    """Matrix product with PyTorch's node structure: ``MmBackward0`` (2-D@2-D), ``MvBackward0``,
    ``DotBackward0``, ``SqueezeBackward4`` over ``MmBackward0`` (1-D@2-D), and
    ``UnsafeViewBackward0`` over ``BmmBackward0``/``MmBackward0`` for batches.

    Example::

        T.matmul(T.ones(2, 3), T.ones(3, 4)).shape     # torch.Size([2, 4])
    """
    a = a if isinstance(a, Tensor) else _wrap(np.asarray(a))
    b = b if isinstance(b, Tensor) else _wrap(np.asarray(b))
    na, nb = a._data.ndim, b._data.ndim
    if na == 2 and nb == 2:
        return _binop(np.matmul, "MmBackward0", a, b, _BILINEAR)
    if na == 2 and nb == 1:
        return a.mv(b)
    if na == 1 and nb == 1:
        return a.dot(b)
    if na == 1 and nb == 2:
        return _squeeze4(mm(a.unsqueeze(0), b))
    if nb == 2:
        lead = a._data.shape[:-1]
        flat = a.reshape(-1, a._data.shape[-1])
        res = mm(flat, b)
        return _op("UnsafeViewBackward0", np.reshape, np.reshape,
                   (res, lead + (b._data.shape[-1],)), None, (0,), ())
    if na >= 3 and nb >= 3:
        batch = np.broadcast_shapes(a._data.shape[:-2], b._data.shape[:-2])
        ae = a.expand(*(batch + a._data.shape[-2:])).reshape(-1, *a._data.shape[-2:])
        be = b.expand(*(batch + b._data.shape[-2:])).reshape(-1, *b._data.shape[-2:])
        res = ae.bmm(be)
        return _op("UnsafeViewBackward0", np.reshape, np.reshape,
                   (res, batch + res._data.shape[-2:]), None, (0,), ())
    res = _op("BmmBackward0", np.matmul, np.matmul, (a, b), None, (0, 1), _BILINEAR)
    return res


def _squeeze4(t):
    return _op("SqueezeBackward4", np.reshape, np.reshape, (t, t._data.shape[1:]), None, (0,), (),
               view=True)


def mm(a, b):
    """2-D matrix product (``MmBackward0``): ``T.mm(x, w)``."""
    if a._data.ndim != 2 or _unwrap(b).ndim != 2:
        raise TapeError("self must be a matrix")
    return _binop(np.matmul, "MmBackward0", a, b, _BILINEAR)


def _minmax(t, dim, keepdim, npf, argf, stem, pairwise):
    if isinstance(dim, Tensor):
        return pairwise(t, dim)
    if dim is None:
        return _amax(t, None, False, npf, f"{stem}Backward1")
    d = dim % t._data.ndim
    idx = argf(t._data, axis=d, keepdims=True)
    grids = list(np.indices(idx.shape, sparse=True))
    grids[d] = idx
    full = tuple(grids)
    values = _composite(f"{stem}Backward0", lambda a: _take(a, full, d, keepdim), (t,),
                        value=np.take_along_axis(t._data, idx, d) if keepdim
                        else np.squeeze(np.take_along_axis(t._data, idx, d), d))
    indices = _wrap(idx if keepdim else np.squeeze(idx, d))
    return _MinMax(values, indices)


def _take(a, full, d, keepdim):
    v = a[full]
    return v if keepdim else v.squeeze(d)


_MinMax = collections.namedtuple("max", ["values", "indices"])


def _amax(t, dim, keepdim, npf, name):
    axis = _dims(dim)
    rule = _lookup(npf)
    if rule is not None or not (_state.enabled and t._rg):
        return _op(name, npf, npf, (t,), {"axis": axis, "keepdims": keepdim}, (0,), (0, "o"))
    m = npf(t._data, axis=axis, keepdims=True)
    mask = t._data == m
    w = mask / mask.sum(axis=axis, keepdims=True)
    return _composite(name, lambda a: (a * w).sum(dim, keepdim), (t,),
                      value=npf(t._data, axis=axis, keepdims=keepdim))


def maximum(a, b):
    """Elementwise maximum (``MaximumBackward0``; ties share the gradient)."""
    return _op("MaximumBackward0", np.maximum, np.maximum, (a, b), None, (0, 1), (0, 1))


def minimum(a, b):
    """Elementwise minimum (``MinimumBackward0``)."""
    return _op("MinimumBackward0", np.minimum, np.minimum, (a, b), None, (0, 1), (0, 1))


def where(condition, x, y):
    """``x`` where ``condition`` else ``y`` (``WhereBackward0``): ``T.where(a > 0, a, 0.0)``."""
    c = _unwrap(condition)
    return _op("WhereBackward0", np.where, np.where, (c, x, y), None, (1, 2), (0,))


def clamp(t, min=None, max=None):
    """Clip to ``[min, max]`` (``ClampBackward1``; tensor bounds ``ClampBackward0``).

    Example::

        T.clamp(x, min=0)
    """
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        lo, hi = min, max

        def fn(a, lo_, hi_):
            r = a
            if lo_ is not None:
                r = where(_unwrap(r) < _unwrap(lo_), lo_, r)
            if hi_ is not None:
                r = where(_unwrap(r) > _unwrap(hi_), hi_, r)
            return r

        return _composite("ClampBackward0", fn, (t, lo, hi))
    d = t._data
    ans = np.clip(d, min, max)
    if not (_state.enabled and t._rg):
        return _wrap(np.asarray(ans))
    mask = np.ones(d.shape, dtype=bool)
    if min is not None:
        mask &= d >= min
    if max is not None:
        mask &= d <= max
    return _op("ClampBackward1", np.where, np.where, (mask, t, 0.0), None, (1,), (1,),
               ans=np.asarray(ans))


def cat(tensors, dim=0):
    """Concatenate along ``dim`` (``CatBackward0``): ``T.cat([a, b], dim=1)``."""
    tensors = list(tensors)
    return _op("CatBackward0", np.concatenate, np.concatenate, (tensors,), {"axis": dim},
               tuple((0, j) for j in range(len(tensors))), ())


def stack(tensors, dim=0):
    """Stack along a new ``dim`` (``StackBackward0``): ``T.stack([a, b])``."""
    tensors = list(tensors)
    return _op("StackBackward0", np.stack, np.stack, (tensors,), {"axis": dim},
               tuple((0, j) for j in range(len(tensors))), ())


def _amax_const(a, dim):
    return np.max(_unwrap(a), axis=dim, keepdims=True)


def _softmax(a, dim):
    e = np.exp(a - _amax_const(a, dim))
    return e / e.sum(dim, keepdim=True)


def _log_softmax(a, dim):
    z = a - _amax_const(a, dim)
    return z - np.log(np.exp(z).sum(dim, keepdim=True))


def softmax(x, dim):
    """``exp(x) / sum(exp(x), dim)`` (``SoftmaxBackward0``): ``T.softmax(a, dim=1)``."""
    return _composite("SoftmaxBackward0", lambda a: _softmax(a, dim), (x,))


def log_softmax(x, dim):
    """``log(softmax(x, dim))`` computed stably (``LogSoftmaxBackward0``)."""
    return _composite("LogSoftmaxBackward0", lambda a: _log_softmax(a, dim), (x,))


def _logsumexp(a, dim, keepdim):
    m = _amax_const(a, dim)
    r = np.log(np.exp(a - m).sum(dim, keepdim=True)) + m
    return r if keepdim else r.squeeze(dim)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _repeat(a, sizes):
    lead = len(sizes) - a.ndim
    r = a.reshape((1,) * lead + tuple(a.shape)) if lead else a
    for d, k in enumerate(sizes):
        if k != 1:
            r = cat([r] * k, d)
    return r


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise SourcediffError(f"{reduction} is not a valid value for reduction")


def mse_loss(input, target, reduction="mean"):
    """Mean squared error (``MseLossBackward0``): ``T.mse_loss(pred, y)``."""
    return _composite("MseLossBackward0", lambda a, b: _reduce((a - b) ** 2, reduction),
                      (input, target))


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error (recorded as ``MeanBackward0`` over ``AbsBackward0`` like PyTorch)."""
    return _reduce((input - target).abs(), reduction)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """``-(t log p + (1 - t) log(1 - p))`` with logs clamped at -100 like PyTorch
    (``BinaryCrossEntropyBackward0``): ``T.binary_cross_entropy(T.sigmoid(z), t)``."""

    def fn(p, t):
        lp = clamp(np.log(p), min=-100.0)
        lq = clamp(np.log(1.0 - p), min=-100.0)
        loss = -(t * lp + (1.0 - t) * lq)
        if weight is not None:
            loss = loss * weight
        return _reduce(loss, reduction)

    return _composite("BinaryCrossEntropyBackward0", fn, (input, target))


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """BCE on logits, computed stably (``BinaryCrossEntropyWithLogitsBackward0``)."""

    def fn(z, t):
        loss = clamp(z, min=0.0) - z * t + np.log(1.0 + np.exp(-z.abs()))
        return _reduce(loss, reduction)

    return _composite("BinaryCrossEntropyWithLogitsBackward0", fn, (input, target))


def nll_loss(logp, target, reduction="mean"):
    """Negative log likelihood of class indices ``target`` (``NllLossBackward0``)."""
    cls = np.asarray(_unwrap(target))
    rows = np.arange(cls.shape[0])
    return _composite("NllLossBackward0", lambda a: _reduce(-a[rows, cls], reduction), (logp,))


def cross_entropy(logits, target, reduction="mean"):
    """``nll_loss(log_softmax(logits, 1), target)`` like ``F.cross_entropy``."""
    return nll_loss(log_softmax(logits, 1), target, reduction)


def linear(x, weight, bias=None):
    """``x @ weight.T + bias`` like ``F.linear`` (``AddmmBackward0`` with a ``TBackward0`` edge)."""
    wt = weight.t()
    if bias is None:
        return matmul(x, wt)
    if x.ndim == 2:
        return _composite("AddmmBackward0", lambda b, a, w: b + a @ w, (bias, x, wt))
    return matmul(x, wt) + bias


def _as_t(x):
    return x if isinstance(x, Tensor) else _wrap(np.asarray(x))


def add(a, b, alpha=1):
    """``a + alpha * b`` (``AddBackward0``): ``T.add(x, 2)``."""
    return _as_t(a).add(b, alpha=alpha)


def sub(a, b, alpha=1):
    """``a - alpha * b`` (``SubBackward0``): ``T.sub(x, y)``."""
    return _as_t(a).sub(b, alpha=alpha)


def mul(a, b):
    """``a * b`` (``MulBackward0``): ``T.mul(x, 2)``."""
    return _as_t(a) * b


def div(a, b):
    """``a / b`` (``DivBackward0``): ``T.div(x, 2)``."""
    return _as_t(a) / b


def pow(a, b):
    """``a ** b`` (``PowBackward0/1/2``): ``T.pow(x, 2)``."""
    return a ** b if isinstance(a, Tensor) else _as_t(b).__rpow__(a)


def neg(a):
    """``-a`` (``NegBackward0``)."""
    return -a


def relu(x):
    """``ReluBackward0``: ``T.relu(x)``."""
    return x.relu()


def sigmoid(x):
    """``SigmoidBackward0``: ``T.sigmoid(x)``."""
    return x.sigmoid()


def tanh(x):
    """``TanhBackward0``: ``T.tanh(x)``."""
    return x.tanh()


def exp(x):
    """``ExpBackward0``: ``T.exp(x)``."""
    return x.exp()


def log(x):
    """``LogBackward0``: ``T.log(x)``."""
    return x.log()


def sin(x):
    """``SinBackward0``: ``T.sin(x)``."""
    return x.sin()


def cos(x):
    """``CosBackward0``: ``T.cos(x)``."""
    return x.cos()


def sqrt(x):
    """``SqrtBackward0``: ``T.sqrt(x)``."""
    return x.sqrt()


def abs(x):
    """``AbsBackward0``: ``T.abs(x)``."""
    return x.abs()


def sum(x, dim=None, keepdim=False):
    """``SumBackward0``/``SumBackward1``: ``T.sum(x, 1)``."""
    return x.sum(dim, keepdim)


def mean(x, dim=None, keepdim=False):
    """``MeanBackward0``/``MeanBackward1``: ``T.mean(x)``."""
    return x.mean(dim, keepdim)


class _Autograd:
    """``T.autograd.grad`` / ``T.autograd.backward`` spelled like ``torch.autograd``."""

    grad = staticmethod(grad)
    backward = staticmethod(backward)


autograd = _Autograd()

# ---------------------------------------------------------------- factories

_rng = [np.random.default_rng()]


def manual_seed(seed):
    """Seed the tape's random generator (numpy's, not PyTorch's): ``T.manual_seed(0)``."""
    _rng[0] = np.random.default_rng(seed)


def _to_array(data, dtype=None):
    dt = _dt(dtype)
    if isinstance(data, Tensor):
        arr = data._data.copy()
    elif isinstance(data, (np.ndarray, np.generic)):
        arr = np.array(data)
    else:
        arr = np.array(data)
        if arr.dtype == np.float64 and dt is None and not _first_is_numpy(data):
            arr = arr.astype(_DEFAULT_FLOAT)
        elif arr.dtype.kind == "i" and dt is None:
            arr = arr.astype(np.int64)
        elif arr.size == 0 and dt is None:
            arr = arr.astype(_DEFAULT_FLOAT)
    if dt is not None and arr.dtype != dt:
        arr = arr.astype(dt)
    return arr


def _first_is_numpy(data):
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return isinstance(data, np.generic)


def _leaf(arr, requires_grad):
    t = _wrap(arr)
    if requires_grad:
        if arr.dtype.kind not in "fc":
            raise TapeError(
                "Only Tensors of floating point and complex dtype can require gradients")
        t._rg = True
    return t


def tensor(data, dtype=None, requires_grad=False):
    """A new leaf tensor (copying ``data``); Python floats become float32 like PyTorch.

    Example::

        x = T.tensor([1.0, 2.0], requires_grad=True)     # tensor([1., 2.], requires_grad=True)
    """
    if isinstance(data, Tensor):
        warnings.warn(
            "To copy construct from a tensor, it is recommended to use sourceTensor.detach()."
            "clone() or sourceTensor.detach().clone().requires_grad_(True), rather than "
            "torch.tensor(sourceTensor).", UserWarning, stacklevel=2)
    return _leaf(_to_array(data, dtype), requires_grad)


def as_tensor(data, dtype=None):
    """``data`` itself when it is a Tensor of that dtype, else a tensor sharing memory if it can."""
    if isinstance(data, Tensor) and (dtype is None or _dt(dtype) == data.dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or _dt(dtype) == data.dtype):
        return _wrap(data)
    return tensor(data, dtype)


def from_numpy(array):
    """A tensor sharing memory with a numpy array (its dtype kept): ``T.from_numpy(np.ones(3))``."""
    if not isinstance(array, np.ndarray):
        raise TapeTypeError(f"expected np.ndarray (got {type(array).__name__})")
    return _wrap(array)


def _size_args(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        return tuple(size[0])
    return tuple(size)


def _factory(arr, dtype, requires_grad):
    if dtype is not None:
        arr = arr.astype(_dt(dtype), copy=False)
    return _leaf(arr, requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    """``T.ones(2, 2, requires_grad=True)``."""
    return _factory(np.ones(_size_args(size), _DEFAULT_FLOAT), dtype, requires_grad)


def zeros(*size, dtype=None, requires_grad=False):
    """``T.zeros(1, 32, requires_grad=True)``."""
    return _factory(np.zeros(_size_args(size), _DEFAULT_FLOAT), dtype, requires_grad)


def empty(*size, dtype=None, requires_grad=False):
    """An uninitialised tensor (zeros here): ``T.empty(3)``."""
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    """``T.full((2, 3), 7.0)``."""
    return _factory(np.full(tuple(size), fill_value, _DEFAULT_FLOAT if dtype is None else
                            _dt(dtype)), None, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    """Identity matrix: ``T.eye(3)``."""
    return _factory(np.eye(n, m, dtype=_DEFAULT_FLOAT), dtype, requires_grad)


def randn(*size, dtype=None, requires_grad=False):
    """Standard normal samples (float32 by default): ``T.randn(3, 32, requires_grad=True)``."""
    return _factory(_rng[0].standard_normal(_size_args(size)).astype(_DEFAULT_FLOAT), dtype,
                    requires_grad)


def rand(*size, dtype=None, requires_grad=False):
    """Uniform samples in [0, 1): ``T.rand(2, 3)``."""
    return _factory(_rng[0].random(_size_args(size)).astype(_DEFAULT_FLOAT), dtype, requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end``: ``T.linspace(-3.14, 3.14, 2000)``."""
    return _factory(np.linspace(start, end, steps).astype(_DEFAULT_FLOAT), dtype, requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """``T.arange(5)`` (int64) or ``T.arange(0.0, 1.0, 0.25)`` (float32)."""
    if end is None:
        start, end = 0, start
    arr = np.arange(start, end, step)
    arr = arr.astype(_DEFAULT_FLOAT if arr.dtype.kind == "f" else np.int64)
    return _factory(arr, dtype, requires_grad)


def _like(t, arr, dtype, requires_grad):
    return _factory(arr.astype(t.dtype if dtype is None else _dt(dtype), copy=False), None,
                    requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    """``T.ones_like(y)``."""
    return _like(t, np.ones(t.shape), dtype, requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    """``T.zeros_like(y)``."""
    return _like(t, np.zeros(t.shape), dtype, requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    """``T.full_like(y, 2.0)``."""
    return _like(t, np.full(t.shape, fill_value), dtype, requires_grad)


def randn_like(t, dtype=None, requires_grad=False):
    """``T.randn_like(y)``."""
    return _like(t, _rng[0].standard_normal(t.shape), dtype, requires_grad)


def rand_like(t, dtype=None, requires_grad=False):
    """``T.rand_like(y)``."""
    return _like(t, _rng[0].random(t.shape), dtype, requires_grad)


# ---------------------------------------------------------------- the oracle for the compiler


def grad_of(f, args, wrt=0):
    """Gradient of a plain numpy function ``f(*args)`` (scalar output) computed by the tape.

    ``wrt`` is an argument index, a parameter name or a tuple of them (a tuple gives a tuple of
    gradients). The ``wrt`` arguments become float64 tape Tensors (other arguments are passed
    unchanged), ``f`` runs on them through numpy dispatch, and the gradients come back as numpy
    values shaped like the arguments (a float for a Python float). This is the tape used as an
    independent oracle for the source compiler.

    Example::

        import numpy as np
        from sourcediff.tape import grad_of

        grad_of(lambda x, y: np.sum(np.sin(x) * y), (np.ones(3), 2.0), wrt=(0, 1))
        # (array([1.0806, 1.0806, 1.0806]), 2.524...)
    """
    import inspect

    single = not isinstance(wrt, (tuple, list))
    wrts = [wrt] if single else list(wrt)
    if any(isinstance(w, str) for w in wrts):
        names = list(inspect.signature(f).parameters)
        wrts = [names.index(w) if isinstance(w, str) else w for w in wrts]
    args = list(args)
    originals = {i: args[i] for i in wrts}
    leaves = {}
    for i in wrts:
        a = args[i]
        arr = np.array(a, dtype=np.result_type(a, np.float64) if np.ndim(a) or
                       not isinstance(a, np.generic) else a.dtype)
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float64)
        leaves[i] = _leaf(arr, True)
        with enable_grad():
            args[i] = leaves[i].clone()  # a non-leaf, so the function may update it in place
    prev = _state.strict
    _state.strict = True
    try:
        with enable_grad():
            out = f(*args)
    finally:
        _state.strict = prev
    if not isinstance(out, Tensor):
        raise SourcediffError(
            f"grad_of: {getattr(f, '__name__', f)} returned {type(out).__name__}, not a tape "
            "Tensor; its result does not depend on the wrt arguments through numpy operations")
    if out._data.size != 1:
        raise SourcediffError(
            f"grad_of needs a scalar output, but the function returned shape {out._data.shape}")
    if not out._rg:
        gs = [None] * len(wrts)
    else:
        gs = grad(out.reshape(()), [leaves[i] for i in wrts], allow_unused=True)
    res = []
    for i, g in zip(wrts, gs):
        val = np.zeros(leaves[i]._data.shape) if g is None else g._data
        res.append(_sd.grad_like(val, originals[i]))
    return res[0] if single else tuple(res)


# ---------------------------------------------------------------- printing (PyTorch's format)

_LINEWIDTH = 80
_PRECISION = 4
_THRESHOLD = 1000
_EDGE = 3


class _Formatter:
    def __init__(self, values, floating):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        vals = values.ravel()
        if not floating:
            for v in vals.tolist():
                self.width = max(self.width, len(f"{v}"))
            return
        v64 = vals.astype(np.float64)
        fin = v64[np.isfinite(v64) & (v64 != 0)]
        if fin.size == 0:
            return
        a = np.abs(fin)
        mn, mx = a.min(), a.max()
        fl = fin.tolist()
        self.int_mode = bool(np.all(fin == np.ceil(fin)))
        if self.int_mode:
            if mx / mn > 1000.0 or mx > 1.0e8:
                self.sci_mode = True
                self.width = max(len(f"{v:.{_PRECISION}e}") for v in fl)
            else:
                self.width = max(len(f"{v:.0f}") + 1 for v in fl)
        elif mx / mn > 1000.0 or mx > 1.0e8 or mn < 1.0e-4:
            self.sci_mode = True
            self.width = max(len(f"{v:.{_PRECISION}e}") for v in fl)
        else:
            self.width = max(len(f"{v:.{_PRECISION}f}") for v in fl)

    def format(self, v):
        if self.floating:
            if self.sci_mode:
                s = f"{v:{self.width}.{_PRECISION}e}"
            elif self.int_mode:
                s = f"{v:.0f}"
                if not (math.isinf(v) or math.isnan(v)):
                    s += "."
            else:
                s = f"{v:.{_PRECISION}f}"
        else:
            s = f"{v}"
        return (self.width - len(s)) * " " + s


def _summarized(a):
    if a.ndim == 0:
        return a
    if a.shape[0] > 2 * _EDGE:
        a = np.concatenate([a[:_EDGE], a[-_EDGE:]])
    if a.ndim == 1:
        return a
    return np.stack([_summarized(r) for r in a])


def _vector_str(a, indent, summarize, fmt):
    elem_len = fmt.width + 2
    per_line = max(1, (_LINEWIDTH - indent) // elem_len)
    if summarize and a.shape[0] > 2 * _EDGE:
        data = ([fmt.format(v) for v in a[:_EDGE].tolist()] + [" ..."]
                + [fmt.format(v) for v in a[-_EDGE:].tolist()])
    else:
        data = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _nd_str(a, indent, summarize, fmt):
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector_str(a, indent, summarize, fmt)
    if summarize and a.shape[0] > 2 * _EDGE:
        slices = ([_nd_str(a[i], indent + 1, summarize, fmt) for i in range(_EDGE)] + ["..."]
                  + [_nd_str(a[i], indent + 1, summarize, fmt)
                     for i in range(a.shape[0] - _EDGE, a.shape[0])])
    else:
        slices = [_nd_str(a[i], indent + 1, summarize, fmt) for i in range(a.shape[0])]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _array_str(a, indent):
    if a.size == 0:
        return "[]"
    summarize = a.size > _THRESHOLD
    floating = a.dtype.kind in "fc"
    fmt = _Formatter(_summarized(a) if summarize else a, floating)
    return _nd_str(a, indent, summarize, fmt)


def _tensor_repr(t):
    a = t._data
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    body = _array_str(a, indent)
    if a.size == 0 and a.ndim != 1:
        suffixes.append(f"size={tuple(a.shape)}")
    if a.dtype not in (float32, int64, np.dtype(bool)):
        suffixes.append(f"dtype={_short_dtype(a.dtype)}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t._rg:
        suffixes.append("requires_grad=True")
    s = prefix + body
    parts = [s]
    last = len(s) - s.rfind("\n") + 1
    for suf in suffixes:
        if last + len(suf) + 2 > _LINEWIDTH:
            parts.append(",\n" + " " * indent + suf)
            last = indent + len(suf)
        else:
            parts.append(", " + suf)
            last += len(suf) + 2
    parts.append(")")
    return "".join(parts)


# ---------------------------------------------------------------- graph picture


def to_dot(*outputs, params=None):
    """Graphviz DOT text of the graph behind ``outputs``, like torchviz (see ``tape_graph``)."""
    from .tape_graph import to_dot as _to_dot

    return _to_dot(*outputs, params=params)


def render(output, path, params=None):
    """Write the graph picture to ``path`` (.svg/.png/.pdf) with graphviz's ``dot``."""
    from .tape_graph import render as _render

    return _render(output, path, params=params)
