"""The tape's error classes, PyTorch's message texts and dtype names (from the reference)."""

import os
import sys
import warnings

from ..errors import SourcediffError


class TapeError(SourcediffError, RuntimeError):
    """An error from the tape; a ``RuntimeError`` like PyTorch's, with PyTorch's text where it has one."""


class TapeTypeError(SourcediffError, TypeError):
    """A wrong argument type given to the tape (PyTorch raises ``TypeError`` there)."""


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
_MSG_NO_GRAD_VIEW = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. "
    "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your "
    "code by moving both the view and the inplace either both inside the no_grad block (if you "
    "don't want the inplace to be tracked) or both outside (if you want the inplace to be "
    "tracked)."
)
_MSG_MULTI_VIEW = (  # (after "Output 0 of UnbindBackward0 is a view and is being modified inplace.")
    " This view is the output of a function that returns multiple views. Such functions do not "
    "allow the output views to be modified inplace. You should replace the inplace operation by "
    "an out-of-place one."
)
_MSG_REBASED_MULTI_VIEW = (
    "Output {k} of {name} is a view and its base or another view of its base has been modified "
    "inplace." + _MSG_MULTI_VIEW
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


def _short_dtype(dt):
    return _TORCH_DTYPE.get(dt.name, f"torch.{dt.name}")


_warned = set()


def _escape_error(what):
    site = _library_call_site()
    if site is not None:  # (scipy.stats.norm.logpdf(t): scipy reads it with np.asarray)
        callee, where = site
        return TapeError(
            f"grad_of: {callee}, called at {where}, converts a tape Tensor that carries the "
            f"gradient into {what}, where the tape cannot follow it: the tape follows numpy's "
            f"functions and ufuncs (scipy.special's too), not library code that reads its "
            f"arguments with np.asarray (scipy.stats, scipy.signal, scipy.linalg); "
            f"sourcediff.grad differentiates this call from source, or write it in numpy "
            f"functions for the tape")
    return TapeError(
        f"grad_of: the function converts a tape Tensor that carries the gradient into {what}, "
        "where the tape cannot follow it; use numpy functions (np.sin rather than math.sin) and "
        "build arrays from the tensors (np.stack, np.concatenate) instead of writing them into "
        "a preallocated ndarray (a random draw with a Tensor parameter, rng.normal(t, s), also "
        "reads it as an array: draw z = rng.standard_normal(size) and write t + s * z)")


_LIBRARIES = ("numpy", "scipy", "sklearn", "pandas", "statsmodels")


def _library_call_site():
    """(the library function, the user's file:line that called it) when a Tensor is converted
    inside a library's Python code called from the user's (scipy.stats.norm.logpdf), else None."""
    frame, callee = sys._getframe(2), None
    while frame is not None:
        module = frame.f_globals.get("__name__", "") or ""
        root = module.split(".")[0]
        if root in _LIBRARIES:
            code = frame.f_code
            callee = f"{module}.{getattr(code, 'co_qualname', code.co_name)}"
        elif root != "sourcediff":
            if callee is None:
                return None
            return callee, f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def _warn_once(key, msg):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(msg, UserWarning, stacklevel=3)
