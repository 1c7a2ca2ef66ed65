"""SGD and Adam with PyTorch's update rules, for tape Tensors and numpy arrays updated in place."""

import warnings

import numpy as np

from . import tape
from .errors import SourcediffWarning
from .pytree import aligned_leaves, is_model_object, is_tree, leaves, object_parameters
from .runtime.objects import holds_object

__all__ = ["SGD", "Adam", "Optimizer"]


def _is_tensor(p):
    """A tape Tensor (anything that is not an ndarray but has ``.grad`` and ``.detach``)."""
    kind = type(p)
    return not isinstance(p, np.ndarray) and hasattr(kind, "grad") and hasattr(kind, "detach")


def _as_array(x):
    """The numpy values of a gradient given as an array, a number or a Tensor (never copied)."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return x.detach().numpy()
    return np.asarray(x)


def _check_param(p, where):
    if _is_tensor(p):
        if not getattr(p, "is_leaf", True):
            raise ValueError(f"can't optimize a non-leaf Tensor ({where})")
        return
    if not isinstance(p, np.ndarray):
        raise TypeError(
            f"optimizer parameters must be numpy arrays (updated in place) or tape Tensors, "
            f"but {where} is a {type(p).__name__}; wrap a number as np.array(value)")
    if p.dtype.kind not in "fc":
        raise TypeError(f"optimizer parameters must have a floating dtype, but {where} is "
                        f"{p.dtype}; convert it with .astype(np.float32) or np.float64")
    if not p.flags.writeable:
        raise ValueError(f"{where} is a read-only array; the optimizer updates parameters in "
                         "place, so pass a writable copy (np.array(a))")


def _is_groups(params):
    """Whether ``params`` lists parameter groups (dicts with a "params" entry)."""
    if isinstance(params, dict):
        return False
    items = params if isinstance(params, (list, tuple)) else None
    return bool(items) and isinstance(items[0], dict) and "params" in items[0]


class Optimizer:
    """Base class: parameter groups, ``zero_grad()`` and ``step()`` over Tensors or numpy arrays.

    ``params`` is an iterable of parameters, or of dicts ``{"params": [...], "lr": ...}`` (parameter
    groups with their own hyper-parameters, as in ``torch.optim``), or a tree of parameters: lists,
    tuples and dicts nested to any depth (``[(W1, b1), (W2, b2)]``, ``{"enc": {...}}``), as
    ``sd.grad`` takes and returns them. A parameter is either a tape Tensor (``step()`` reads its
    ``.grad``) or a numpy array (``step(grads)`` takes the gradients, in the order of the
    parameters or in the tree's structure, and updates each array in place). Subclasses implement
    ``_update(param, grad, state, group)`` on numpy arrays.

    ``params`` may also be a model object (an instance of a class of yours, or a list or dict of
    them): every float array it holds is then a parameter, buffers too, where torch.optim is given
    a module's parameters only. Name the arrays that are not parameters (a batch norm's running
    statistics, a dropout mask, a fixed embedding) in ``frozen=``, by attribute name or path
    (``frozen=("running_mean", "running_var", "embed.table")``): they are neither updated nor
    decayed. A model array whose gradient is zero while ``weight_decay`` would change it is
    warned about once (a SourcediffWarning naming its path).

    Example (a tree of parameters)::

        params = {"W": np.zeros((3, 2)), "b": np.zeros(2)}
        opt = Adam(params, lr=0.01)
        opt.step(sd.grad(loss)(params, x))      # grads is a dict with the same keys
    """

    def __init__(self, params, defaults, frozen=()):
        self.defaults = dict(defaults)
        self.param_groups = []
        self._state = {}
        if isinstance(params, np.ndarray) or _is_tensor(params):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of parameters or "
                f"dicts, but got a single {type(params).__name__}; write [w] instead of w")
        self._tree = None
        self._model = None
        self._frozen = (frozen,) if isinstance(frozen, str) else tuple(frozen)
        self._warned = set()
        if is_model_object(params) or (is_tree(params) and holds_object(params)):
            # (a model object, or a list or dict of them: their float arrays, each once, but
            # those frozen= names: buffers, masks, fixed embeddings)
            self._model = params
            params = [p for p, _ in self._model_pairs(None, type(self).__name__)]
        elif self._frozen:
            raise TypeError(
                "frozen= names arrays of a model object (its buffers: running statistics, masks, "
                "fixed embeddings) that the optimizer leaves alone; with a list or dict of "
                "parameters, leave those arrays out of it instead")
        elif not is_tree(params):
            params = list(params)  # (a generator, model.parameters())
        if _is_groups(params):
            groups = list(params)
        else:  # a list of parameters, or a tree of them (the structure step(grads) may take)
            self._tree = params
            groups = [{"params": leaves(params)}]
        if not groups or not groups[0]["params"]:
            raise ValueError("optimizer got an empty parameter list")
        for group in groups:
            self.add_param_group(group)

    def _model_pairs(self, grads, who):
        """object_parameters of the model without the arrays ``frozen=`` names (the name of
        the attribute holding it, ``"running_mean"``, or its path, ``"layers[0].mask"``)."""
        paths = []
        pairs = object_parameters(self._model, grads, who, paths)
        frozen = set(self._frozen)

        def hit(entry, path):
            entry = entry[len("model"):] if entry.startswith(("model.", "model[")) else entry
            entry, tail = entry.lstrip("."), path[len("model"):]
            return tail.lstrip(".") == entry or tail.endswith("." + entry)

        used = {e for e in frozen for path in paths if hit(e, path)}
        if frozen - used:
            raise ValueError(
                f"frozen= names {', '.join(sorted(frozen - used))}, which is no float array of the "
                f"model; its arrays are {', '.join(paths)}")
        kept = [(pair, path) for pair, path in zip(pairs, paths)
                if not any(hit(e, path) for e in frozen)]
        self._paths = [path for _, path in kept]
        return [pair for pair, _ in kept]

    def _warn_zero_decayed(self, grads):
        """A SourcediffWarning (once per array) for a model array whose gradient is zero while
        weight_decay still changes it: mostly a buffer (a running mean the loss replaces, a
        mask), which torch.optim would not be given."""
        i = 0
        for group in self.param_groups:
            for _ in group["params"]:
                g, path = grads[i], self._paths[i]
                i += 1
                if g is None or group.get("weight_decay", 0) == 0 or path in self._warned or \
                        np.any(_as_array(g)):
                    continue
                self._warned.add(path)
                warnings.warn(SourcediffWarning(
                    f"{type(self).__name__}: {path} has a zero gradient, and weight_decay="
                    f"{group['weight_decay']} changes it all the same. If it is no parameter (a "
                    f"buffer: running statistics, a mask, a fixed embedding), name it in "
                    f"frozen=(...) when making the optimizer, as torch.optim is given only a "
                    f"module's parameters"), stacklevel=3)

    def add_param_group(self, group):
        """Add a dict ``{"params": [...], **hyper_parameters}``; missing settings use the defaults.

        Example::

            opt = SGD([w1], lr=0.1)
            opt.add_param_group({"params": [w2], "lr": 0.01})
        """
        if not isinstance(group, dict):
            raise TypeError(f"a parameter group must be a dict, not {type(group).__name__}")
        params = group["params"]
        if isinstance(params, np.ndarray) or _is_tensor(params):
            params = [params]
        params = leaves(params) if is_tree(params) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            _check_param(p, f"parameter {i} of group {len(self.param_groups)}")
            if id(p) in seen:
                raise ValueError("some parameters appear more than once in the optimizer's groups")
            seen.add(id(p))
        full = dict(self.defaults)
        full.update(group)
        full["params"] = params
        self._check_group(full)
        self.param_groups.append(full)

    def _check_group(self, group):
        if group["lr"] < 0.0:
            raise ValueError(f"Invalid learning rate: {group['lr']}")

    def _params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def zero_grad(self, set_to_none=True):
        """Drop the Tensors' gradients: ``.grad = None`` (PyTorch's default) or zero them in place.

        Numpy parameters have no ``.grad``; for them this does nothing (their gradients are the
        arguments of :meth:`step`).

        Example::

            opt.zero_grad()
            loss = model_loss()
            loss.backward()
            opt.step()
        """
        for p in self._params():
            if not _is_tensor(p) or p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_()
                p.grad.zero_()

    def step(self, grads=None):
        """One update of every parameter.

        With tape Tensors call ``step()``: each parameter's ``.grad`` is used (parameters whose
        ``.grad`` is None are skipped). With numpy arrays call ``step(grads)``: ``grads`` lists the
        gradients in the order of the parameters (as ``sd.grad(f, wrt=(0, 1, ...))`` returns them;
        ``None`` skips a parameter, and a single array is accepted when there is one parameter).
        Numpy parameters are updated IN PLACE, so keep using the same array objects.

        Example::

            w = np.array([1.0, -2.0])
            opt = SGD([w], lr=0.1)
            opt.step([2 * w])          # w is now array([ 0.8, -1.6])
        """
        params = self._params()
        if grads is None:
            arrays = [p for p in params if not _is_tensor(p)]
            if arrays:
                raise TypeError(
                    "step() without gradients reads Tensor.grad, but the parameters include numpy "
                    "arrays; pass their gradients: opt.step(grads), e.g. "
                    "opt.step(sd.grad(loss, wrt=(0, 1))(w, b))")
            grads = [p.grad for p in params]
        elif self._model is not None:  # (the gradient object of the model: its arrays' entries)
            if not (is_model_object(grads) or is_tree(grads)):
                raise TypeError(f"step() got a {type(grads).__name__} of gradients for a model "
                                f"object; pass what sd.grad(loss)(model, ...) returns")
            pairs = self._model_pairs(grads, "step()")
            grads = self._adopt_state_arrays(pairs, params)
            self._warn_zero_decayed(grads)
        else:
            if isinstance(grads, np.ndarray) or _is_tensor(grads) or np.isscalar(grads):
                grads = [grads]
            grads = aligned_leaves(grads, self._tree, "step()", "of this optimizer") \
                if self._tree is not None else list(grads)
            if len(grads) != len(params):
                raise ValueError(f"step() got {len(grads)} gradient(s) for {len(params)} "
                                 "parameter(s); give one gradient per parameter, in order")
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                g = grads[i]
                i += 1
                if g is None:
                    continue
                self._step_one(p, _as_array(g), group, i - 1)

    def _adopt_state_arrays(self, pairs, params):
        """The gradients of the model's arrays for :meth:`step`, in the optimizer's order. An
        array the model replaced since the last step whose gradient is zero (state the loss
        keeps: a batch norm's running mean, ``self.running_mean = ...`` in its forward) is
        followed to the new array and not updated, as torch.optim leaves a module's buffers;
        any other replacement is refused."""
        if len(pairs) != len(params):
            raise ValueError("step(): the model holds other arrays than when the optimizer was "
                             "made (an array added or removed); make the optimizer again")
        grads = []
        for (a, g), p in zip(pairs, params):
            if a is not p:
                if g is not None and np.any(_as_array(g)) or np.shape(a) != np.shape(p):
                    raise ValueError(
                        "step(): the model holds other arrays than when the optimizer was made "
                        "(an array replaced, and its gradient is not zero); make the optimizer "
                        "again")
                for group in self.param_groups:
                    group["params"] = [a if q is p else q for q in group["params"]]
                self._state[id(a)] = self._state.pop(id(p), {})
                g = None
            grads.append(g)
        return grads

    def _step_one(self, p, g, group, index):
        tensor = _is_tensor(p)
        values = p.detach().numpy() if tensor else p
        if g.shape != values.shape:
            raise ValueError(f"the gradient of parameter {index} has shape {g.shape} but the "
                             f"parameter has shape {values.shape}")
        state = self._state.setdefault(id(p), {})
        if not tensor:
            self._update(values, g, state, group)
            return
        # Tensors are written through copy_ under no_grad, so their version counter moves like
        # PyTorch's (a graph that saved the old value then refuses to backpropagate).
        new = values.copy()
        self._update(new, g, state, group)
        with tape.no_grad():
            p.copy_(tape.from_numpy(new))

    def _update(self, p, g, state, group):
        raise NotImplementedError

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, as ``torch.optim.SGD``.

    For each parameter ``p`` with gradient ``g`` (``b`` is the momentum buffer, ``b = g`` at the
    first step)::

        g = g + weight_decay * p                      # if weight_decay
        b = momentum * b + (1 - dampening) * g        # if momentum
        g = g + momentum * b if nesterov else b       # if momentum
        p = p - lr * g                                # (p + lr * g with maximize=True)

    Example (numpy arrays, updated in place)::

        >>> import numpy as np
        >>> from sourcediff.optim import SGD
        >>> w = np.array([1.0, -2.0])
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.step([2 * w])                       # the gradient of sum(w ** 2)
        >>> w
        array([ 0.46, -0.92])

    Example (tape Tensors)::

        >>> from sourcediff import tape as T
        >>> x = T.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = SGD([x], lr=0.1)
        >>> opt.zero_grad(); (x * x).sum().backward(); opt.step()
        >>> x
        tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False, frozen=()):
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize}
        super().__init__(params, defaults, frozen)

    def _update(self, p, g, state, group):
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * g
            g = g + momentum * buf if group["nesterov"] else buf
        p += -group["lr"] * g


class Adam(Optimizer):
    """Adam (Kingma and Ba), as ``torch.optim.Adam`` including its bias correction and ``amsgrad``.

    For each parameter ``p`` with gradient ``g`` at step ``t = 1, 2, ...`` (``m = v = 0`` first)::

        g = g + weight_decay * p                      # if weight_decay (L2, not AdamW)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                         # if amsgrad, used instead of v below
        p = p - lr / (1 - beta1 ** t) * m / (sqrt(v) / sqrt(1 - beta2 ** t) + eps)

    Example (numpy arrays, updated in place)::

        >>> import numpy as np
        >>> from sourcediff.optim import Adam
        >>> w = np.array([1.0, -2.0])
        >>> opt = Adam([w], lr=0.1)
        >>> opt.step([2 * w])                           # the first step moves each entry by lr
        >>> w
        array([ 0.9, -1.9])
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, frozen=()):
        if eps < 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize}
        super().__init__(params, defaults, frozen)

    def _update(self, p, g, state, group):
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        if group["maximize"]:
            g = -g
        state["step"] += 1
        step = state["step"]
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        # m.lerp_(g, 1 - beta1), with torch's two-sided lerp formula
        w = 1 - beta1
        if abs(w) < 0.5:
            m += w * (g - m)
        else:
            m[...] = g - (g - m) * (1 - w)
        v *= beta2
        v += (1 - beta2) * g * g
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        step_size = group["lr"] / (1 - beta1**step)
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        denom = np.sqrt(v) / bias_correction2_sqrt + group["eps"]
        p += -step_size * m / denom
