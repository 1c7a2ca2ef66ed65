"""Central finite differences for a gradient taken with respect to a model object: one per float
entry of each of its float leaves (an array reached twice is perturbed once, where both uses
see it)."""

import copy

import numpy as np

from sourcediff.pytree import object_float_leaves


def _unique_leaves(model):
    seen, out = set(), []
    for path, owner, key, leaf in object_float_leaves(model, "model"):
        k = id(leaf) if isinstance(leaf, np.ndarray) else (id(owner), key)
        if k not in seen:
            seen.add(k)
            out.append((path, owner, key, leaf))
    return out


def _set(owner, key, value):
    if isinstance(owner, (list, dict)):
        owner[key] = value
    else:
        object.__setattr__(owner, key, value)


def fd_object_grad(loss, model, *rest, h=1e-6):
    """{path: central finite-difference gradient} of ``loss(model, *rest)`` over ``model``'s
    float leaves."""
    out = {}
    for n, (path, _, _, leaf) in enumerate(_unique_leaves(model)):
        flat = np.zeros(np.size(leaf))
        for i in range(flat.size):
            vals = []
            for sign in (1.0, -1.0):
                m = copy.deepcopy(model)
                _, owner, key, v = _unique_leaves(m)[n]
                if isinstance(v, np.ndarray):
                    v.reshape(-1)[i] += sign * h  # (in place: a tied array moves in both uses)
                else:
                    _set(owner, key, v + sign * h)
                vals.append(float(loss(m, *copy.deepcopy(rest))))
            flat[i] = (vals[0] - vals[1]) / (2 * h)
        out[path] = flat.reshape(np.shape(leaf)) if isinstance(leaf, np.ndarray) else flat[0]
    return out


def leaf_at(obj, path):
    """The value at ``path`` ("model.layers[0].W") under ``obj`` (which stands for "model")."""
    return eval(path, {}, {"model": obj})  # noqa: S307  (paths made by object_float_leaves)


def check_object_grad(loss, model, *rest, grad, rtol=1e-5, atol=1e-7):
    """Assert ``grad`` (sourcediff's gradient object) matches finite differences at every leaf,
    with the leaf's shape and dtype."""
    fd = fd_object_grad(loss, model, *rest)
    assert type(grad) is type(model)
    for path, want in fd.items():
        got = leaf_at(grad, path)
        leaf = leaf_at(model, path)
        if isinstance(leaf, np.ndarray):
            assert isinstance(got, np.ndarray) and got.shape == leaf.shape and \
                got.dtype == leaf.dtype, (path, type(got))
        else:
            assert isinstance(got, float), (path, type(got))
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=path)
    return fd
