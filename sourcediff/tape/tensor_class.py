"""The tape's ``Tensor``: data, autograd attributes, conversions; operations are added by ``methods``."""

import functools
import warnings
import weakref

import numpy as np

from .grad_mode import _state
from .messages import (
    _MSG_FLOAT_WARN,
    _MSG_NONLEAF_GRAD,
    _MSG_NUMPY,
    _TTYPE,
    TapeError,
    TapeTypeError,
    _escape_error,
    _warn_once,
)
from .node import _NONE_EDGE, AccumulateGrad, _RemovableHandle
from .printing import _tensor_repr

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
double = float64
int64 = np.dtype(np.int64)
long = int64
_DEFAULT_FLOAT = float32


class Size(tuple):
    """A shape tuple that prints like ``torch.Size([2, 3])``."""

    __slots__ = ()

    def __repr__(self):
        return f"torch.Size({list(self)})"

    def numel(self):
        """Number of elements of a tensor of this shape: ``Size((2, 3)).numel() == 6``."""
        return int(np.prod(self, dtype=np.int64))


class _SizeOf(int):
    """The number of elements (an int, numpy's ``a.size``) that, called, is PyTorch's
    ``t.size()`` / ``t.size(dim)``."""

    def __new__(cls, n, shape):
        out = super().__new__(cls, n)
        out._shape = shape
        return out

    def __call__(self, dim=None):
        return Size(self._shape) if dim is None else self._shape[dim]


def _escaped(what):
    """grad_of's error for a Tensor converted where the tape cannot follow it, kept in the grad
    state (numpy may replace it by an error of its own, see grad_mode)."""
    err = _escape_error(what)
    _state.escaped = err
    return err


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
        "_gf",
        "_gfv",
        "_grad",
        "_hooks",
        "_multi",
        "_retains",
        "_rgv",
        "_vc",
        "_vidx",
    )
    __array_priority__ = 1000

    def __init__(self, data=(), requires_grad=False, dtype=None):
        arr = _to_array(data, dtype)
        _init(self, arr)
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------ attributes

    # ``_multi``: set (to the output's position) only on a view made with grad mode on by a
    # function of several views (unbind, split, chunk) and on the views taken of it: PyTorch
    # refuses an in-place write into one (views._check_multi). Left unset on every other tensor
    # (read with getattr) so that making a tensor writes one slot less.

    # A view's grad_fn and requires_grad hold for the version of its data they were set at
    # (``_gfv``; None for a view made under no_grad, which keeps them): after an in-place write
    # into its base (or another view of it) they are made again from the base's graph when next
    # read, as PyTorch does (views._regenerate: an AsStridedBackward0 of the base).

    @property
    def grad_fn(self):
        """The node that made this tensor (None for a leaf)."""
        if self._base is not None:  # (only a view's can be stale: see _renew)
            self._renew()
        return self._gf

    @grad_fn.setter
    def grad_fn(self, value):
        self._gf = value
        self._fresh()

    @property
    def _rg(self):
        if self._base is not None:
            self._renew()
        return self._rgv

    @_rg.setter
    def _rg(self, value):
        self._rgv = value
        self._fresh()

    def _renew(self):
        """A view whose base was written since its grad_fn was set gets it made again."""
        if self._base is not None and self._gfv is not None and self._vc[0] != self._gfv:
            _stale[0](self)

    def _fresh(self):
        try:
            if self._gfv is not None:
                self._gfv = self._vc[0]
        except AttributeError:
            self._gfv = 0

    def _invalid_view(self):
        """Whether this is an output of unbind/split/chunk whose base (or another view of it)
        was written in place since: its grad_fn cannot be made again (reading it raises
        views._regenerate's error, as PyTorch's), though it requires grad."""
        return self._base is not None and self._gfv is not None and self._vc[0] != self._gfv \
            and getattr(self, "_multi", None) is not None and self._gf is not None \
            and self._base._rg

    @property
    def requires_grad(self):
        """Whether gradients flow to this tensor (read without making a view's grad_fn again:
        True for an unbind output whose base was written in place, as PyTorch, where reading
        its grad_fn raises)."""
        return True if self._invalid_view() else self._rg

    @requires_grad.setter
    def requires_grad(self, value):
        if self.grad_fn is not None and value:  # (PyTorch: requires_grad_(True) passes, this not)
            raise TapeError("you can only change requires_grad flags of leaf variables.")
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
    def size(self):
        """PyTorch's method and numpy's attribute at once: ``t.size()`` is the shape (a
        :class:`Size`), ``t.size(0)`` the length of one dimension, and ``t.size`` itself the
        number of elements, as ``a.size`` of an ndarray (numpy code run on the tape reads it)."""
        return _SizeOf(self._data.size, self._data.shape)

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
        if not _state.strict:  # (PyTorch's iteration is unbind(0): UnbindBackward0)
            return iter(self.unbind(0))
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self):
        return id(self)

    def is_contiguous(self):
        """True when the data is C-contiguous."""
        return self._data.flags.c_contiguous

    def _acc_node(self):
        # held weakly (the graph holds it), as PyTorch does: no Tensor <-> node reference cycle,
        # so a graph and its leaves are freed without the garbage collector; a snapshot of a
        # leaf (views._snapshot) holds its leaf's node strongly
        acc = self._acc
        if acc is not None:
            if type(acc) is weakref.ReferenceType:
                acc = acc()
            if acc is not None:
                return acc
        acc = AccumulateGrad(self)
        self._acc = weakref.ref(acc)
        return acc

    # ------------------------------------------------------------ conversion

    def item(self, *index):
        """The single value as a Python number: ``T.tensor([2.5]).item() == 2.5`` (with an index,
        as ndarray's: ``t.item(1)``, the element at flat index 1)."""
        if index:
            if self._rg and _state.strict:
                raise _escape_error("a Python number (.item())")
            return self._data.item(*index)
        if self._data.size != 1:
            raise TapeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        if self._rg and _state.strict:  # (grad_of: x.item() carries x's derivative in source mode)
            raise _escaped("a Python number (.item())")
        return self._data.reshape(()).item()

    def tolist(self):
        """The values as (nested) Python lists."""
        if self._rg and _state.strict:
            raise _escaped("Python lists (.tolist())")
        return self._data.tolist()

    def numpy(self):
        """The underlying numpy array (shared); refused when the tensor requires grad."""
        if self._rg:
            raise TapeError(_MSG_NUMPY)
        return self._data

    def __array__(self, dtype=None, copy=None):
        if self._rg and _state.helper_rule is not None:
            raise TapeError(
                f"create_graph=True: the derivative of {_state.helper_rule} reads a Tensor that "
                "requires grad as a constant (np.asarray), so a further derivative through it "
                "would be wrong; the tape supports one create_graph level through this operation")
        if self._rg and _state.in_rule:
            _state.const_read = True
        elif self._rg:
            if _state.strict:
                raise _escaped("a numpy array (np.asarray, or assignment into an ndarray)")
            raise TapeError(_MSG_NUMPY)
        return self._data if dtype is None else self._data.astype(dtype)

    def __float__(self):
        if self._rg:
            if _state.strict:
                raise _escaped("a Python float (float(), math.*, or assignment into an "
                                    "ndarray)")
            _warn_once("float", _MSG_FLOAT_WARN)
        return float(self.item())

    def __int__(self):
        return int(self._data.reshape(()).item()) if self._data.size == 1 else int(self.item())

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
            return self._data.item().__format__(spec)
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


# ndarray methods that change the array in place where the numpy function of the same name
# returns a new array: they must not be forwarded to that function
_IN_PLACE_METHODS = frozenset({"sort", "partition", "resize"})


class _NumpyMethod:
    """An ndarray method the Tensor does not define itself (ravel, copy, trace, diagonal,
    cumsum, ...): numpy's function of that name, through numpy dispatch, bound to the tensor.

    These are descriptors on the class, made by :func:`install_numpy_methods`, not a
    ``__getattr__``: a class with ``__getattr__`` has CPython read every attribute of its
    instances (``t._data``, ``t._rgv``... several per recorded operation) without its
    specialized fast path, about four times slower (67 ns against 16 per read)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __get__(self, obj, cls=None):
        name = self.name
        if obj is None:  # (Tensor.ravel: not an attribute of the class, as before)
            raise AttributeError(f"type object 'Tensor' has no attribute '{name}'")
        if name in ("numerator", "denominator"):
            if obj._rg and _state.strict:
                # (statistics.mean reads a number's exact ratio: a value the tape cannot follow)
                raise _escaped("an exact ratio (statistics.mean; np.mean is followed)")
            raise AttributeError(f"'Tensor' object has no attribute '{name}'")
        f = getattr(np, name, None)
        if not callable(f):
            raise AttributeError(f"'Tensor' object has no attribute '{name}'")
        if name in _IN_PLACE_METHODS:  # np.sort(t) returns a sorted copy; t.sort() sorts t
            raise TapeError(f"t.{name}(...) changes the array in place, which the tape does not "
                            f"record; assign the result instead: t = np.{name}(t, ...)")
        return functools.partial(f, obj)


def install_numpy_methods(cls):
    """Give ``cls`` (Tensor, once its own methods are installed) a :class:`_NumpyMethod` for
    each public ndarray attribute it does not define, and for ``numerator``/``denominator``."""
    for name in [*dir(np.ndarray), "numerator", "denominator"]:
        if not name.startswith("_") and not any(name in vars(k) for k in cls.__mro__):
            setattr(cls, name, _NumpyMethod(name))


def _init(t, arr):
    t._data = arr
    t._rgv = False
    t._gf = None
    t._gfv = 0
    t._grad = None
    t._vc = [0]
    t._base = None
    t._hooks = None
    t._acc = None
    t._retains = False
    t._vidx = None


_new_tensor = object.__new__


_stale = [None]  # (views._regenerate: a view's grad_fn made again after its base was written)


def _wrap(arr):
    """A new leaf Tensor over ``arr`` (an ndarray), not requiring grad."""
    t = _new_tensor(Tensor)
    t._data = arr
    t._rgv = False
    t._gf = None
    t._gfv = 0
    t._grad = None
    t._vc = [0]
    t._base = None
    t._hooks = None
    t._acc = None
    t._retains = False
    t._vidx = None
    return t


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
        elif type(a) in (list, tuple) and _any_rg(a):  # (nested too: np.block([[t, t], ...]))
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
    if axis is None and _no_dims(dim):
        dim = None
    return (dim if axis is None else axis), (keepdim if keepdims is None else keepdims)


def _no_dims(dim):
    """PyTorch's ``x.sum(dim=[])``: an empty list of dims reduces over every dim (numpy's
    ``axis=()`` reduces over none, as in grad_of)."""
    return isinstance(dim, (list, tuple)) and not dim and not _state.strict


def _correction(unbiased, correction, ddof):
    """The ``ddof`` of ``x.std(...)``/``x.var(...)``: numpy's ``ddof=`` or PyTorch's
    ``correction=``; else 0 in a numpy program (grad_of) and PyTorch's ``unbiased`` (1 by
    default) elsewhere, whatever the dims are called: PyTorch 2.13 takes ``axis=`` and
    ``keepdims=`` as other names of ``dim=`` and ``keepdim=`` (``x.std(axis=0)`` divides by
    n - 1 there, as ``x.std(dim=0)``)."""
    if ddof is not None:
        return ddof
    if correction is not None:
        return correction
    if _state.strict:
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
    r = a[index]
    if type(r) is not np.ndarray and type(a) is np.ndarray:
        # (an element by integers: numpy gives a scalar copy; the Tensor is a 0-d view of its
        # base, as PyTorch's is, so an in-place write into the base changes it too)
        tup = index if isinstance(index, tuple) else (index,)
        if not any(i is Ellipsis for i in tup):
            return a[tup + (Ellipsis,)]
    return r


def _edge(t):
    if isinstance(t, Tensor) and t._rg:
        return (t.grad_fn or t._acc_node(), 0)
    return _NONE_EDGE


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
