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
from ..activations import (  # noqa: F401
    cosine_similarity,
    dropout,
    elu,
    gelu,
    huber_loss,
    kl_div,
    leaky_relu,
    normalize,
    one_hot,
    pad,
    silu,
    smooth_l1_loss,
    softplus,
)
from ..losses import (  # noqa: F401
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cosine_similarity",
    "cross_entropy", "dropout", "elu", "gelu", "huber_loss", "kl_div", "l1_loss", "leaky_relu",
    "linear", "log_softmax", "mse_loss", "nll_loss", "normalize", "one_hot", "pad", "relu",
    "sigmoid", "silu", "smooth_l1_loss", "softmax", "softplus", "tanh",
]
