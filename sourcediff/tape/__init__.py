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

# the package's layers, bottom to top: messages, grad_mode, node, printing -> tensor_class ->
# rule_lookup -> engine -> recording -> views, functions (-> losses) -> dispatch -> methods
# (installs the Tensor's operations);
# factories, oracle and graph sit beside the top

from . import methods as _methods  # noqa: F401  (adds the operations to Tensor)
from . import nn  # noqa: F401  (torch.nn.functional's names: sourcediff.tape.nn.functional)
from .dispatch import _array_function  # noqa: F401  (sourcediff.custom calls it)
from .engine import (  # noqa: F401
    autograd,
    backward,
    grad,
)
from .factories import (  # noqa: F401
    arange,
    as_tensor,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from .functions import (  # noqa: F401
    abs,
    add,
    cat,
    clamp,
    cos,
    div,
    exp,
    l1_loss,
    linear,
    log,
    log_softmax,
    matmul,
    maximum,
    mean,
    minimum,
    mm,
    mse_loss,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sin,
    softmax,
    sqrt,
    stack,
    sub,
    sum,
    tanh,
    where,
)
from .grad_mode import (  # noqa: F401
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from .graph import (  # noqa: F401
    render,
    to_dot,
)
from .losses import (  # noqa: F401
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)
from .messages import (  # noqa: F401
    TapeError,
    TapeTypeError,
)
from .node import (  # noqa: F401
    AccumulateGrad,
    Node,
)
from .oracle import (  # noqa: F401
    grad_of,
)
from .rule_lookup import _Ragged  # noqa: F401
from .tensor_class import (  # noqa: F401
    Size,
    Tensor,
    double,
    float32,
    float64,
    int64,
    long,
)

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
    "nn",
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
