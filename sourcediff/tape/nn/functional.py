"""The tape's functions under the names ``torch.nn.functional`` gives them: the same objects as
``sourcediff.tape.mse_loss`` and the rest, so graphs and messages are those of the tape."""

from ..functions import (  # noqa: F401
    l1_loss,
    linear,
    log_softmax,
    mse_loss,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from ..losses import (  # noqa: F401
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "l1_loss",
    "linear", "log_softmax", "mse_loss", "nll_loss", "relu", "sigmoid", "softmax", "tanh",
]
