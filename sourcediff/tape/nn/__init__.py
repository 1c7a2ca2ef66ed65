"""``sourcediff.tape.nn.functional``, where PyTorch code finds its loss and activation functions
(``import torch.nn.functional as F`` becomes ``from sourcediff.tape.nn import functional as F``)."""

from . import functional  # noqa: F401

__all__ = ["functional"]
