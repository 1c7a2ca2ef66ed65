"""Printing tensors in PyTorch's format: ``tensor([1., 2.], requires_grad=True)``."""

import math

import numpy as np

from .messages import _short_dtype

_PLAIN_DTYPES = (np.dtype(np.float32), np.dtype(np.int64), np.dtype(bool))  # not printed

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
    if a.dtype not in _PLAIN_DTYPES:
        suffixes.append(f"dtype={_short_dtype(a.dtype)}")
    if t._invalid_view():  # (PyTorch's repr of such a view: its grad_fn would raise)
        suffixes.append("grad_fn=<Invalid>")
    elif t.grad_fn is not None:
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
