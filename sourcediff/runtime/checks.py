"""Checks the generated code runs: the output is a scalar, the arguments are what ``wrt``
says, and no two values the adjoint sweep keeps apart share memory."""

import copy as copy_module
import functools
import inspect
import numbers
import types

import numpy as np

from ..errors import AliasError, InactiveArgumentError, NonScalarOutputError, NoRuleError, SourcediffError
from ..pytree import is_model_object, is_tree, like_container
from . import hooks
from .objects import check_object_wrt, holds_floats, holds_object
from .shapes import foreign_array, other_array, shape

__all__ = [
    "check_scalar", "check_real", "make_slice", "check_alias", "check_call_alias", "check_alias_at",
    "check_alias_item", "check_list_alias", "check_overlapping_write", "check_wrt", "copy_param",
    "check_array_kind", "check_method_alias",
    "copy_held", "check_partial_alias", "carries_nothing", "same_module", "items_at",
    "without_derivative", "check_outer_writes"
]


def check_scalar(value, where):
    """Refuse a non-scalar output for ``grad`` with a message that says what to do (an array of
    one element, shape (1,) or (1, 1), is a scalar here, as HIPS autograd takes it)."""
    if isinstance(value, (tuple, list)):
        raise NonScalarOutputError(
            f"grad needs a function that returns a scalar, but {where} returns a {type(value).__name__} "
            f"of {len(value)} values; for (loss, aux) pass has_aux=True (sd.grad(f, "
            f"has_aux=True) gives (gradient, aux)), or return the scalar loss alone"
        )
    if is_model_object(value):  # (np.shape of an object is (): it would pass as a scalar)
        raise NonScalarOutputError(
            f"grad needs a function that returns a scalar, but {where} returns a "
            f"{type(value).__name__} object; a gradient with respect to a model object (which "
            f"is one) has first derivatives only: sd.grad(sd.grad(f)) and hessians with respect "
            f"to a model are not supported. Pass the arrays in a dict for second derivatives")
    if shape(value) != () and np.size(value) != 1:
        raise NonScalarOutputError(
            f"grad needs a function that returns a scalar, but {where} returns an array of shape "
            f"{shape(value)}; reduce it (np.sum(...), np.mean(...)) or use sourcediff.jacobian / "
            f"sourcediff.vjp for a non-scalar output"
        )
    if _complex(value):
        raise NonScalarOutputError(  # (as autograd, JAX and PyTorch refuse it)
            f"grad needs a function that returns a real scalar, but {where} returns a complex "
            f"value, whose derivative is not one real gradient; return its real part "
            f"(np.real(z)), its imaginary part or its squared modulus (np.real(z * np.conj(z)))")
    return value


def _complex(value):
    return isinstance(value, complex) or getattr(getattr(value, "dtype", None), "kind", None) == "c"


def check_real(value, where, reduction=None):
    """``value``, the operand of the full reduction ``grad``'s function returns (a scalar, whose
    value grad does not compute), refused when it is complex and ``reduction`` of such values is
    complex (np.sum's; np.var's is real, and its own rule refuses a complex value by name): the
    result would be complex, and check_scalar refuses that."""
    if _complex(value):
        dtype = getattr(value, "dtype", np.dtype(complex))
        kind = "c"
        if reduction is not None:
            try:  # (the result's dtype, from a stand-in of one element)
                kind = np.result_type(reduction(np.ones(1, dtype))).kind
            except Exception:  # noqa: BLE001  (keep refusing)
                pass
        if kind == "c":
            check_scalar(1j, where)
    return value


make_slice = slice  # the alias checks pass a subscript's index as a value


_TooHard = getattr(getattr(np, "exceptions", np), "TooHardError", Exception)


def _items(holder, skip):
    """The items of a list, tuple or dict (or an object's attributes), without the one ``skip``
    names (``(holder, key)``: the slot an item's op= writes back into)."""
    if isinstance(holder, dict):
        if skip is None or skip[0] is not holder:
            return list(holder.values())
        return [item for k, item in holder.items() if not k == skip[1]]
    if skip is None or skip[0] is not holder or \
            not isinstance(skip[1], (numbers.Integral, np.integer)) or not holder:
        return list(holder)
    at = int(skip[1]) % len(holder)
    return [item for k, item in enumerate(holder) if k != at]


def _shares(region, other, depth=0, skip=None):
    """Whether ``other`` (an array, or a list, tuple or dict holding some) reaches ``region``
    (not counting the slot ``skip``, ``(holder, key)``, if given)."""
    if isinstance(other, np.ndarray):
        if not isinstance(region, np.ndarray) or not np.may_share_memory(region, other):
            return False
        try:
            return np.shares_memory(region, other, max_work=100000)
        except _TooHard:
            return True
    if other is region:
        return True
    if depth < 8 and is_tree(other):
        return any(_shares(region, item, depth + 1, skip) for item in _items(other, skip))
    if depth < 8 and isinstance(other, functools.partial):  # (a closure over b: b[0] = v then
        # f(x) reads the new b in Python, while sourcediff's partial keeps b's derivative as made)
        return any(_shares(region, item, depth + 1, skip)
                   for item in other.args + tuple(other.keywords.values()) + (other.func,))
    if depth < 8 and isinstance(other, types.FunctionType) and other.__closure__:
        return any(_shares(region, _cell(c), depth + 1, skip) for c in other.__closure__)
    fields = getattr(other, "__dict__", None)  # an object's attributes (w = obj.W; w[0] = x)
    if depth < 8 and type(fields) is dict and not isinstance(other, type) and \
            type(other).__module__ != "builtins" and not hasattr(other, "__code__"):
        skip = (fields, skip[1]) if skip is not None and skip[0] is other else skip
        return any(_shares(region, item, depth + 1, skip) for item in _items(fields, skip))
    if depth <= 1 and (isinstance(other, type) or isinstance(other, types.ModuleType)):
        # a module's or a class's arrays, lists, dicts and objects (w = cfg.W; w += r), and the
        # classes a module defines (w = cfg.Model.W)
        return any(_shares(region, item, depth + 1, skip) for item in vars(other).values()
                   if isinstance(item, (np.ndarray, list, dict)) or (
                       depth == 0 and isinstance(item, type) and
                       item.__module__ == getattr(other, "__name__", None)) or (
                       type(getattr(item, "__dict__", None)) is dict and
                       not isinstance(item, (type, types.ModuleType)) and not callable(item)))
    return False


def _cell(c):
    """What a closure cell holds (None for one not yet bound)."""
    try:
        return c.cell_contents
    except ValueError:
        return None


def _alias_refusal(others, names, region, where, text, fix,
                   head="this in-place write also changes {name}, which shares memory with it "
                        "and is read later", skip=None, reaches=None):
    """Refused when one of ``others`` reaches ``region`` (:func:`_shares`, or ``reaches(other)``
    when given)."""
    for other, name in zip(others, names):
        if reaches(other) if reaches is not None else _shares(region, other, skip=skip):
            raise AliasError(
                f"{where}: {head.format(name=name)}\n    {text}\nnumpy would "
                f"change {name} as well; sourcediff gives each name its own value, so the "
                f"derivative would be wrong. {fix}")


def items_at(holder, keys, written):
    """What an alias check of a write into the array ``written`` compares with a name whose
    later reads are its items at ``keys``: a list, tuple or dict's items there (those it has);
    the name's whole value where it is an array (its items are views) or where ``written`` is
    not an array (a list changed in place: every read of a name holding it sees the change)."""
    if not isinstance(written, np.ndarray):
        return holder
    if isinstance(holder, dict):
        return [holder[k] for k in keys if k in holder]
    if isinstance(holder, (list, tuple)):
        return [holder[k] for k in keys if isinstance(k, int) and -len(holder) <= k < len(holder)]
    return holder


def check_alias(value, others, names, where, text):
    """``v op= e`` (numpy: in place) must not reach another name that is read later."""
    if isinstance(value, (np.ndarray, list, dict)):
        _alias_refusal(others, names, value, where, text,
                       "Write the update through the name that is read later (z[1:3] += e), "
                       "or make the new value explicitly (v = v + e, v = z[1:3].copy()).")


def _holds(container, other, depth=0):
    """Whether ``other`` is ``container`` or a list, tuple or dict holding it (objects' state is
    not looked into: what a method appends into ``self.cache`` is watched there)."""
    if other is container:
        return True
    if depth < 8 and is_tree(other):
        items = other.values() if isinstance(other, dict) else other
        return any(_holds(container, item, depth + 1) for item in items)
    return False


def check_list_alias(value, others, names, where, text, stored=()):
    """``ls.append(v)`` (or another method changing a list or dict) where another name read
    later may be the same list: the derivative keeps the items' gradients per name. A list that
    holds no floats, before or after (``stored``, what the call puts in) the call, carries no
    derivative and is let through (indices, names)."""
    if not isinstance(value, (list, dict)) or not (holds_floats(value) or holds_floats(stored)):
        return
    for other, name in zip(others, names):
        if _holds(value, other):
            raise AliasError(
                f"{where}: this changes a list that {name} also holds, and {name} is read later"
                f"\n    {text}\nnumpy would change {name} as well; sourcediff keeps the items' "
                f"derivatives per name, so the derivative would be wrong. Change the list "
                f"through the name that is read later, or copy it first (list(ls)).")


def check_alias_item(value, holder, key, attribute, others, names, where, text, own=None):
    """``holder[key] op= e`` or ``holder.key op= e`` (``attribute``) where the old value is an
    array (or a list or dict): numpy's op= writes into that value itself, not only into the slot,
    so it must not reach another name read later, nor another item of the holder. An array's
    own item (``a[i] += e``) is check_alias_at's, and a number is only rebound. A tuple holder
    (``t[i][j] = v``) is written back as a new tuple bound to its own name ``own`` alone: another
    name holding the same tuple (``u = t``, ``[t]``) keeps the old item, so its slot counts
    there."""
    if isinstance(holder, np.ndarray) or not isinstance(value, (np.ndarray, list, dict)):
        return
    example = "obj.w = obj.w + e" if attribute else "ls[i] = ls[i] + e"
    fix = (f"Put a new value in its place instead ({example}), which leaves the array it held "
           f"as it was, or hold a copy there (.copy()).")
    if type(holder) is tuple:
        for other, name in zip(others, names):
            _alias_refusal((other,), (name,), value, where, text, fix,
                           skip=(holder, key) if name == own else None)
        return
    _alias_refusal(others, names, value, where, text, fix, skip=(holder, key))


def _held_arrays(value, depth=0):
    """The arrays a list, tuple or dict holds (at any depth), and objects' attribute arrays."""
    if isinstance(value, np.ndarray):
        return [value]
    items = _held_items(value) if depth < 8 else None
    if items is None:
        return []
    return [a for item in items for a in _held_arrays(item, depth + 1)]


def _held_items(value):
    """The items of a list, tuple or dict, or the attribute values of a plain object of the
    user's (not a class, a function or a builtin); None for anything else."""
    if is_tree(value):
        return value.values() if isinstance(value, dict) else value
    if type(getattr(value, "__dict__", None)) is dict and not isinstance(value, type) and \
            type(value).__module__ != "builtins" and not hasattr(value, "__code__"):
        return vars(value).values()
    return None


def carries_nothing(value, message):
    """``value``, which the compiler passes where no derivative flows (``X.astype(self.dtype)``,
    an attribute of the model differentiated), refused with ``message`` when it is a float or
    holds one: its derivative would be dropped. A dtype, a string or an int carries none."""
    if holds_floats(value) and not isinstance(value, (type, np.dtype)):
        raise NoRuleError(message)
    return value


def copy_param(value, others, names, name, where, arrays=True):
    """A copy of the parameter ``name``, which the function writes into in place (sourcediff gives
    it its own copy, with copies of the arrays a list, tuple or dict of it holds: see
    :func:`copy_held`; without ``arrays``, where the function writes only its containers' slots,
    the arrays they hold are kept), refused when another argument shares its memory
    (``f(a, a)``, or ``f(params, [params])`` with a list argument holding the other): numpy would
    show the write through that argument too, and the value and derivative would not be
    numpy's."""
    held = _held_nodes(value).values()
    _alias_refusal(others, names, value, where,
                   f"(the function writes into its parameter {name} in place, and sourcediff "
                   f"gives each parameter its own copy)",
                   "Pass a copy for one of them (f(a, a.copy())).",
                   head="the arguments " + name + " and {name} share memory (the same array or "
                        "list passed twice, a view of it, or a list holding it)",
                   reaches=lambda other: any(_holds(node, other) if is_tree(node) else
                                             _shares(node, other) for node in held))
    return copy_held(value, name, where, arrays)


def _held_nodes(value):
    """{id: node} of ``value`` and of the lists, tuples, dicts and arrays it holds (at any depth);
    objects and numbers are not looked into."""
    out = {}
    _collect_nodes(value, 0, out)
    return out


def _collect_nodes(v, depth, out):
    """Add ``v`` and what it holds to ``out``. (Module functions here and in copy_held, not
    closures calling themselves: such a closure is a reference cycle, which would hold the
    arguments or their copies after the call until the cyclic garbage collector runs.)"""
    if isinstance(v, np.ndarray) or other_array(v):
        out.setdefault(id(v), v)
    elif depth < 8 and is_tree(v) and id(v) not in out:
        out[id(v)] = v
        for item in (v.values() if isinstance(v, dict) else v):
            _collect_nodes(item, depth + 1, out)


def copy_held(value, name="the argument", where="sourcediff", arrays=True):
    """A copy of ``value`` for code that writes into it in place: an array copied, a list, tuple or
    dict rebuilt (at any depth) around copies of the arrays it holds, since a write through an
    item (``w = ws[0]; w[0] = v``) must not reach the caller's array. What it holds twice stays
    one object in the copy, and arrays that overlap in memory (``[y, y[0]]``, the views a
    gradient's forward sweep saves) stay views of one copy of their memory. Without ``arrays``
    (code that writes only the slots of the containers, ``d[k] = v``) the arrays a container
    holds stay the same objects, as Python's call leaves them: ``p = put(p, "h", v)`` then gives
    back the caller's own arrays in ``p``, and a later in-place write into ``p["W"]`` is seen
    by the caller's alias checks as the write into ``W`` it is."""
    if not arrays and is_tree(value):
        return _copied(value, 0, {id(a): a for a in _held_nodes(value).values()
                                  if not is_tree(a)})
    copies = {}
    by_root = {}
    for a in _held_nodes(value).values():
        if is_tree(a):
            continue
        root = a
        while isinstance(getattr(root, "base", None), np.ndarray):
            root = root.base
        by_root.setdefault(id(root), (root, []))[1].append(a)
    for root, group in by_root.values():
        if len(group) > 1 and any(_shares(a, b) for k, a in enumerate(group)
                                  for b in group[k + 1:]):
            copies.update(_copies_sharing(root, group, name, where))
    return _copied(value, 0, copies)


def _copied(v, depth, copies):
    """``v`` for :func:`copy_held`: its copy, made once (``copies``: {id: copy})."""
    if id(v) in copies:
        return copies[id(v)]
    if isinstance(v, np.ndarray) or other_array(v):
        out = v.copy()
    elif depth < 8 and isinstance(v, dict):
        out = copy_module.copy(v)
        copies[id(v)] = out
        for k in out:
            out[k] = _copied(v[k], depth + 1, copies)
    elif depth < 8 and isinstance(v, list):
        out = copy_module.copy(v)
        copies[id(v)] = out
        out[:] = [_copied(item, depth + 1, copies) for item in v]
    elif depth < 8 and isinstance(v, tuple):
        out = like_container(v, [_copied(item, depth + 1, copies) for item in v])
    else:
        return v
    copies[id(v)] = out
    return out


def _copies_sharing(root, group, name, where):
    """{id: copy} of the arrays of ``group``, views of ``root`` that overlap: views of one copy of
    ``root``'s memory at the same offsets and strides. Refused when that memory is not one block."""
    if root.dtype.hasobject or not (root.flags.c_contiguous or root.flags.f_contiguous):
        raise AliasError(
            f"{where}: two arrays that {name} holds share memory (an array and a view of it); "
            f"the function writes into {name} in place, and sourcediff gives it its own copy, "
            f"where they would no longer share it. Pass copies of them ([y, y[0].copy()]).")
    memory = root.copy(order="K")
    start = root.__array_interface__["data"][0]
    return {id(a): np.ndarray(a.shape, a.dtype, buffer=memory,
                              offset=a.__array_interface__["data"][0] - start, strides=a.strides)
            for a in group}


def check_call_alias(value, others, names, where, text, items=False, attrs=()):
    """``helper(z)`` where helper writes into its parameter: z must not be read afterwards (nor,
    with ``items``, where the helper writes into what z holds, ``z[0] += v``, any array z
    holds; with ``attrs``, where it writes ``z.attr op= e``, what those attributes hold, seen
    otherwise than through that attribute: the new value is stored there). ``items`` is
    "containers" where the helper writes into what z holds only if z is a list, tuple, dict or
    object (``acc = z + z; acc[0][1] = v``): an array z is then not written at all."""
    if items == "containers":
        if not isinstance(value, np.ndarray):
            for array in _held_arrays(value):
                check_call_alias(array, others, names, where, text)
        return
    if items and not isinstance(value, np.ndarray):
        for array in _held_arrays(value):
            check_call_alias(array, others, names, where, text)
    for attr in attrs:
        old = getattr(value, attr, None)
        if isinstance(old, (np.ndarray, list, dict)):
            _alias_refusal(others, names, old, where, text,
                           f"Write the update as a new value (obj.{attr} = obj.{attr} + e), or "
                           f"hold a copy in one of the two places (.copy()).",
                           head="this call writes in place into memory {name} shares, and "
                                "{name} is read later or passed to the same call",
                           skip=(value, attr))
    if isinstance(value, (np.ndarray, list, dict)):
        _alias_refusal(others, names, value, where, text,
                       "Return the new value from the helper and use that (z = helper(z)), or "
                       "pass it a copy (helper(z.copy())).",
                       head="this call writes in place into memory {name} shares, and {name} is "
                            "read later or passed to the same call (sourcediff gives the helper "
                            "a copy)")


def check_method_alias(obj, method, k, value, others, names, where, text):
    """``obj.method(...)`` with the method found at run time: when the Python method writes into
    its ``k``-th argument (``value``; the receiver is 0) in place, the caller's ``others`` must
    not see that memory (:func:`check_call_alias`)."""
    cls = type(obj)
    try:
        attr = inspect.getattr_static(cls, method)
    except AttributeError:
        return
    if isinstance(obj, type) or method in getattr(obj, "__dict__", {}):
        return  # (a class's or an instance's own function value: not a method of cls)
    if isinstance(attr, staticmethod):
        function, k = attr.__func__, k - 1
    elif inspect.isfunction(attr):
        function = attr
    else:
        return
    params = list(inspect.signature(function).parameters)
    if not 0 <= k < len(params):
        return
    written, items, attrs, maybe = hooks.method_writes(function, cls)
    param = params[k]
    if param not in written and param not in maybe:  # (maybe: its items, if a container)
        return
    check_call_alias(value, others, names, where,
                     f"{text}\n({function.__qualname__} writes into its parameter {param} in "
                     f"place, at line {written.get(param) or maybe[param]})",
                     items=param in items or param in maybe and (
                         param in written or "containers"),
                     attrs=() if param in items else tuple(sorted(attrs.get(param, ()))))


def check_partial_alias(fn, others, names, where, text):
    """``g(v)`` where ``g`` is a ``functools.partial`` (``g = partial(h, y[1])``): the function
    writes in place into an argument the partial holds, memory the caller still reaches, and
    sourcediff runs the function on a copy of it (or numpy's write goes unseen by the
    derivative); refused when that memory is read later, as a direct call ``h(y[1], v)`` is."""
    while isinstance(fn, functools.partial):
        target = fn.func
        try:
            written = hooks.mutated_params(target) if inspect.isfunction(target) else {}
            bound = inspect.signature(target).bind_partial(*fn.args, **fn.keywords).arguments \
                if written else {}
        except (TypeError, ValueError):
            return
        for param, value in bound.items():
            if param in written:
                check_call_alias(value, others, names, where,
                                 f"{text}\n({getattr(target, '__name__', target)} writes into "
                                 f"its parameter {param} in place, at line {written[param]})",
                                 items=True)
        fn = target
    # (a bound method or a callable object: what its method writes into its receiver)
    if inspect.ismethod(fn) and not isinstance(fn.__self__, type):
        check_method_alias(fn.__self__, fn.__func__.__name__, 0, fn.__self__, others, names,
                           where, text)
    elif not isinstance(fn, (type, types.FunctionType, types.BuiltinFunctionType)) and \
            inspect.isfunction(getattr(type(fn), "__call__", None)):
        check_method_alias(fn, "__call__", 0, fn, others, names, where, text)


def check_alias_at(base, index, others, names, where, text, value=None):
    """``a[index] = e`` must not write memory that another name read later sees. Let through
    for a dict whose slot holds no float before or after (``value``, what is written):
    ``self.dropout_param["mode"] = "train"`` changes what the other names read as Python does,
    and no derivative flows through a string, an int or None. (Not for a list: a list of ints
    may be an index, x[m.idx], whose derivative reads it after the write.)"""
    if isinstance(base, dict) and not holds_floats(value) and \
            not holds_floats(_slot(base, index)):
        return
    if isinstance(base, np.ndarray):
        region = base
        idx = index if isinstance(index, tuple) else (index,)
        if all(i is None or i is Ellipsis or isinstance(i, slice)
               or (isinstance(i, (numbers.Integral, np.integer)) and not isinstance(i, bool))
               for i in idx):
            try:  # a basic index writes only what base[index] views (0-d view for all ints)
                region = base[idx if any(i is Ellipsis for i in idx) else idx + (Ellipsis,)]
            except (IndexError, TypeError):
                region = base
    elif isinstance(base, (list, dict)):
        region = base
    elif isinstance(base, np.flatiter):  # (w = y.flat; w[1] = v writes into y)
        region = base.base
    else:
        return
    fix = "Copy the array before writing into it (a = a.copy()), or build the new value " \
        "without writing into memory another name still uses."
    if isinstance(region, (list, dict)):
        fix = "A float written into a list or dict that another name reads later is refused " \
            "(a string, an int or None is let through): keep the value in a local variable " \
            "and pass it on, or write into a copy (d = dict(d); d[k] = v)."
    _alias_refusal(others, names, region, where, text, fix)


def _slot(base, key):
    """What the dict ``base`` holds at ``key`` before the write (None for a new key, or an
    unhashable one, whose write raises)."""
    try:
        return base.get(key)
    except TypeError:
        return None


def check_overlapping_write(base, index, value, where, text):
    """``a[index] = v`` where ``v`` may be a view of ``a``'s memory: numpy then copies in an order
    of its own (``x[2] = x[:, 3]`` reads x[2, 3] after writing it), and the result is not that of
    assigning a copy of v, which is what the derivative assumes. Tried on a copy of the memory;
    refused when it differs."""
    if not (isinstance(base, np.ndarray) and isinstance(value, np.ndarray)
            and np.may_share_memory(base, value)):
        return
    owner = base
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    if not (owner.flags.c_contiguous or owner.flags.f_contiguous) or \
            not np.may_share_memory(owner, value):
        return
    scratch = owner.copy(order="K")
    start = owner.__array_interface__["data"][0]

    def same_view(a):
        return np.ndarray(a.shape, a.dtype, buffer=scratch,
                          offset=a.__array_interface__["data"][0] - start, strides=a.strides)

    dst, src = same_view(base), same_view(value)
    dst[index] = src
    if not np.array_equal(dst[index], np.broadcast_to(value, np.shape(base[index])),
                          equal_nan=True):
        raise AliasError(
            f"{where}: the value assigned overlaps the memory it is written into, and numpy "
            f"copies it in an order of its own: the result is not that of assigning a copy, "
            f"which the derivative assumes.\n    {text}\nAssign a copy (... = v.copy()), "
            f"which numpy's result then equals.")


def _float_leaves(value, path):
    """The first leaf of a list/tuple/dict (pytree) that is not a float or float array, as
    (path, leaf), or None when every leaf is one."""
    if type(value) is np.ndarray:  # (the common leaf: no foreign_array test, no path made)
        return None if value.dtype.kind == "f" else (path, value)
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        kind = getattr(getattr(value, "dtype", None), "kind", None)
        ok = (isinstance(value, float) and not isinstance(value, bool)) or (
            kind == "f" and foreign_array(value) is None)
        return None if ok else (path, value)
    for key, item in items:
        if type(item) is np.ndarray and item.dtype.kind == "f":
            continue  # (a float array: its path is made only for a leaf that is refused)
        bad = _float_leaves(item, f"{path}[{key!r}]")
        if bad is not None:
            return bad
    return None


def check_array_kind(value, name, fn_where, error=SourcediffError):
    """Refuse an ``np.matrix`` or a masked array: their operators and reductions are not
    ndarray's (``*`` is a matrix product, a sum skips the masked entries), and the rules are
    written for ndarray's, so a derivative through them would be wrong without a word."""
    found = foreign_array(value, name)
    if found is None:
        return
    what, fix = found
    raise error(f"argument '{name}' of {fn_where} is {what}; sourcediff's derivative rules are "
                f"plain ndarray's, so the derivative would be wrong. Pass {fix}")


def check_wrt(value, name, fn_where):
    """Refuse arguments that cannot carry derivatives (ints, bools, complex, objects, np.matrix
    and masked arrays); a list, tuple or dict of floats and float arrays (nested) carries one per
    leaf."""
    if isinstance(value, float):
        return
    if is_model_object(value) or (is_tree(value) and holds_object(value)):
        check_object_wrt(value, name, fn_where)  # (a model: its float attributes are parameters)
        return
    check_array_kind(value, name, fn_where, InactiveArgumentError)
    if is_tree(value) and value:
        bad = _float_leaves(value, name)
        if bad is None:
            return
        path, leaf = bad
        check_array_kind(leaf, path, f"{fn_where} (in argument '{name}')", InactiveArgumentError)
        raise InactiveArgumentError(
            f"argument '{name}' of {fn_where} holds {path} = {type(leaf).__name__}"
            f"{' of dtype ' + str(leaf.dtype) if hasattr(leaf, 'dtype') else ''}, which cannot "
            f"carry a gradient; every leaf of a list, tuple or dict argument must be a float or a "
            f"float array (np.asarray(v, dtype=float)), or leave {name} out of wrt")
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind == "f":
        return
    if isinstance(value, bool) or kind == "b":
        what = "a boolean"
    elif isinstance(value, numbers.Integral) or kind in ("i", "u"):
        what = "an integer"
    elif isinstance(value, complex) or kind == "c":
        what = "a complex"
    elif kind == "O":
        what = "an object"
    elif kind is None and isinstance(value, (list, tuple)):
        what = "a list/tuple"
    else:
        raise InactiveArgumentError(
            f"argument '{name}' of {fn_where} is a {type(value).__name__} object and cannot carry a "
            f"gradient; pass its float arrays as arguments and differentiate with respect to those, "
            f"or leave '{name}' out of wrt"
        )
    raise InactiveArgumentError(
        f"argument '{name}' of {fn_where} is {what} value ({type(value).__name__}"
        f"{', dtype ' + str(value.dtype) if hasattr(value, 'dtype') else ''}) and cannot carry a "
        f"gradient; pass a float or a float array (e.g. np.asarray(x, dtype=float)), or leave it out "
        f"of wrt"
    )


def same_module(value, module, name, text, where):
    """A parameter whose default is a module (``def f(x, xp=np)``) holds that module: sourcediff
    read ``xp.sum(...)`` as ``np.sum(...)`` when it compiled the function."""
    if value is not module:
        raise SourcediffError(
            f"{where}: {name} is passed {getattr(value, '__name__', type(value).__name__)}, and sourcediff differentiates {name}.f(...) "
            f"as {text}.f(...), the module of {name}'s default; call it with {name}={text} (or "
            f"leave {name} out), or differentiate a function written with {text} for the other "
            f"module")


def without_derivative(ans, what, *operands):
    """``ans``, the result of ``what`` (an operator or function declared without a derivative:
    ``~``, ``//``, ``<``, ``round()``, ``np.floor``) applied to ``operands`` (those that carry
    one). Refused where an operand is an object of the user's class (or a list holding one) and
    ``ans`` may carry a derivative (a float, an array of them, an object): Python ran that
    class's own method (``__invert__``, ``__floordiv__``, ``__lt__``, ...), whose result may
    depend on the values the object holds, and the declared zero derivative would drop theirs
    without a word. Where no operand is such an object (the specializer drops the call for
    arrays and numbers), and for a bool, an int or None (``obj == other`` giving a bool), ``ans``
    passes unchanged. ``round(obj)`` giving a float is refused too: the class's ``__round__``
    need not round (``return self.v * 2.0`` has a derivative of 2), and nothing in the float it
    gives tells; an int is rounded whatever computed it. The refusal is a TypeError, which the
    generated code's caller locates at the user's line (compiled.py)."""
    for x in operands:
        if type(x) not in _PLAIN and (is_model_object(x) or (
                isinstance(x, (list, tuple, dict)) and holds_object(x))) and _may_carry(ans):
            raise _undifferentiated_method(x, what, ans)
    return ans


_PLAIN = frozenset({np.ndarray, float, int, bool, np.float64, np.float32, np.int64, np.bool_})


def _may_carry(ans):
    """Whether ``ans`` may carry a derivative: not None, a bool, an int, a string, an array of
    bools, ints or strings, or a tuple of those."""
    if ans is None or isinstance(ans, (bool, int, str, bytes, np.bool_, np.integer)):
        return False
    if isinstance(ans, np.ndarray):
        return ans.dtype.kind not in "biuSU"
    if type(ans) is tuple:
        return any(_may_carry(a) for a in ans)
    return True


_METHODS = {"~": "__invert__", "//": "__floordiv__", "%": "__mod__", "&": "__and__",
            "|": "__or__", "^": "__xor__", "<<": "__lshift__", ">>": "__rshift__",
            "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__", "==": "__eq__",
            "!=": "__ne__", "round()": "__round__", "math.floor()": "__floor__",
            "math.ceil()": "__ceil__", "math.trunc()": "__trunc__"}


def _undifferentiated_method(x, what, ans):
    """The refusal of ``what`` on ``x`` (an object of the user's class, or a list holding one)
    giving ``ans``: see :func:`without_derivative`."""
    if is_model_object(x):
        name = type(x).__name__
        runs = f"an object of your class {name}, so it runs {name}'s own " + \
            _METHODS.get(what, "method for it (numpy's loop over objects calls one)")
    else:
        name = "your class"
        runs = f"a {type(x).__name__} holding objects of your class, so it runs their own methods"
    got = type(ans).__name__
    article = "an" if got[:1].lower() in "aeiou" else "a"
    return TypeError(
        f"{what} here takes {runs} and gives {article} {got}; sourcediff takes {what} to have no "
        f"derivative (as it has for numbers and arrays) and does not follow into a class's own "
        f"operator methods, so the derivative through the values that {got} holds would be "
        f"lost. Call the operation as a method with a name of its own (a.inverted(), "
        f"a.rounded(), a.floor_div(k), defined in {name}), which sourcediff follows into, or "
        f"compute on the arrays the objects hold")


def _held_containers(value, depth=0, out=None):
    """{id: value} of ``value`` and the lists, dicts and objects it holds (at any depth)."""
    out = {} if out is None else out
    if depth >= 8 or id(value) in out or isinstance(value, np.ndarray):
        return out
    items = _held_items(value)
    if items is None:
        return out
    out[id(value)] = value
    for item in items:
        if type(item) not in _LEAVES:  # (an array, a number: no call for each)
            _held_containers(item, depth + 1, out)
    return out


_LEAVES = frozenset({np.ndarray, float, int, bool, str, np.float64, np.float32, type(None)})


def _outer_value(fn, name):
    """What the global or closure name ``name`` of ``fn`` holds now (None when unbound)."""
    code = fn.__code__
    if name in code.co_freevars and fn.__closure__ is not None:
        try:
            return fn.__closure__[code.co_freevars.index(name)].cell_contents
        except ValueError:  # (an empty cell)
            return None
    return fn.__globals__.get(name)


def check_outer_writes(fn, writes, params, names, where, text):
    """In front of the call of the user's helper ``fn``, which writes through the globals or
    closure names ``writes`` ((name, deep, line), see compiler.outer_writes): refused when one
    of them holds what an argument of the differentiated function holds (``G = params`` set
    before the gradient call, then ``G[0][1] = v`` in the helper), where the write would change
    the argument unseen by the derivative. ``deep`` writes reach the items of the global's value
    (its lists, dicts and arrays); the others only its own slots (``G[k] = v``, ``G.append(v)``)."""
    fn = getattr(fn, "__func__", fn)
    if not hasattr(fn, "__code__"):
        return
    held = arrays = None  # (what the arguments hold: walked once, where a global is bound)
    for name, deep, line in writes:
        value = _outer_value(fn, name)
        if value is None:
            continue
        if held is None:
            held = {}
            for p in params:
                _held_containers(p, 0, held)
        reached = _held_containers(value) if deep else {id(value): value}
        shared = next((p for p in reached if p in held), None)
        if shared is None and deep:
            if arrays is None:
                arrays = [a for p in params for a in _held_arrays(p)]
            shared = next((a for a in _held_arrays(value) for b in arrays
                           if np.may_share_memory(a, b)), None)
        if shared is not None:
            raise AliasError(
                f"{where}: this call runs {fn.__qualname__}, which writes through {name} at "
                f"{line}\n    {text}\nand {name} holds what the function differentiated was "
                f"given ({', '.join(names)}): a plain call changes that argument, and the "
                f"derivative would not see it (a wrong gradient). Pass the value to "
                f"{fn.__name__} as an argument and return the new value from it "
                f"(params = {fn.__name__}(params)), instead of reaching it through {name}.")
