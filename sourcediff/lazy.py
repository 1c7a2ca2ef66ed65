"""Lazy arrays: the generated gradient rewritten for a call with dask arguments, so that it reads the
data once.

Generated code is plain numpy, and numpy hands every call on a dask array to dask, so the gradient of
a loss over dask arrays is a dask graph: nothing runs until the caller computes the value and the
gradient (``dask.compute(value, grad)``), and then in one pass over the data. Two things in the
generic code would read a lazy value before that; for a call with a dask argument (checked by type,
per call signature: see ``compiled._Specializations``) this pass rewrites them:

- A branch or loop test on a value computed from the data (``if s > 1.0:``) must know the value
  now. The generic code reads it through ``bool()``, which computes it, and again in the adjoint
  sweep, which replays the test; a ``while`` test on such a value computes it from the data on
  every iteration. Here the test, and each small value it compares, is computed once where it is
  made (``_sd.computed``), and everything after reads the number::

      _cmp1 = s > 1.0                      s = _sd.computed(s)
                                           _cmp1 = _sd.computed(s > 1.0)

  Each such test costs one pass over the data before the pass that computes value and gradient.
- Rules that convert with numpy (``np.asarray(g, dtype=a.dtype)``, the gradient of ``astype``) call
  ``_sd.as_array`` instead, which keeps a dask array lazy, and ``np.reshape(..., order='C')`` (the
  gradient of ``ravel``) loses the order dask does not take.

The numpy code is untouched: this pass only runs for signatures with a lazy argument.
"""

import gast

from .compiler.normalize import call, load, store
from .runtime import lazy
from .syntax import clone, walk


def any_lazy(args, keywords=None):
    """True when a positional or keyword argument is a lazy (dask) array."""
    return any(lazy(a) for a in args) or any(lazy(v) for v in (keywords or {}).values())


def rewrite(fdef, runtime_name, numpy_names):
    """A copy of the generated ``fdef`` rewritten for lazy arguments (see the module docstring), or
    None when nothing in it changes. ``runtime_name`` is how the code spells the runtime module,
    ``numpy_names`` how it spells numpy."""
    fdef = clone(fdef)
    changed = _computed_tests(fdef, runtime_name)
    changed += _lazy_conversions(fdef, runtime_name, numpy_names)
    return fdef if changed else None


def _helper(runtime_name, name):
    return gast.Attribute(value=load(runtime_name), attr=name, ctx=gast.Load())


def _tested_names(fdef):
    return {n.test.id for n in walk(fdef) if isinstance(n, (gast.If, gast.While))
            and isinstance(n.test, gast.Name)}


def _computed_tests(fdef, runtime_name):
    """Each assignment of a name that a branch or loop tests, when its value is a comparison or a
    function call (not a Python bool the compiler keeps), computes that value once; a comparison
    first computes the small values it compares (see ``runtime.computed``)."""
    tested = _tested_names(fdef)
    local = {n.id for n in walk(fdef) if isinstance(n, gast.Name)
             and isinstance(n.ctx, (gast.Store, gast.Param))}
    changed = 0
    for node in list(walk(fdef)):
        for field in ("body", "orelse"):
            stmts = getattr(node, field, None)
            if not isinstance(stmts, list):
                continue
            out = []
            for s in stmts:
                if _is_test_value(s, tested):
                    value, held = _checked(s, runtime_name)
                    operands = _compared_names(value, local) if \
                        isinstance(value, gast.Compare) else []
                    if operands:
                        target = store(operands[0]) if len(operands) == 1 else gast.Tuple(
                            elts=[store(n) for n in operands], ctx=gast.Store())
                        computed = gast.Assign(
                            targets=[target], value=call(_helper(runtime_name, "computed"),
                                                         [load(n) for n in operands]),
                            type_comment=None)
                        out.append(gast.copy_location(computed, s))
                    value = call(_helper(runtime_name, "computed"), [value])
                    if held is None:
                        s.value = value
                    else:
                        held[0] = value
                    changed += 1
                out.append(s)
            setattr(node, field, out)
    return changed


def _checked(s, runtime_name):
    """The value of the assignment ``s`` a test reads, and the argument list that holds it when
    it is the operation a run-time check of the user's objects wraps (``_sd.without_derivative(
    s > 1.0, '>', s)``: compiler/dispatched.py), else None: the check stays around the test."""
    value = s.value
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            value.func.attr == "without_derivative" and isinstance(value.func.value, gast.Name) \
            and value.func.value.id == runtime_name and value.args:
        return value.args[0], value.args
    return value, None


def _is_test_value(s, tested):
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1
            and isinstance(s.targets[0], gast.Name) and s.targets[0].id in tested):
        return False
    value = s.value
    if isinstance(value, gast.Compare):
        return True
    if isinstance(value, gast.Call):  # np.any(...), a user helper; not a compiler stack's pop()
        func = value.func
        return not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name)
                    and func.attr == "pop")
    return False


def _compared_names(value, local):
    out = []
    for item in [value.left] + list(value.comparators):
        if isinstance(item, gast.Name) and item.id in local and item.id not in out:
            out.append(item.id)
    return out


def _lazy_conversions(fdef, runtime_name, numpy_names):
    """``np.asarray(x, dtype=d)`` becomes ``_sd.as_array(x, dtype=d)``; ``np.reshape(a, s,
    order='C')`` drops the order (dask's reshape takes none; C is its only order)."""
    changed = 0
    for node in walk(fdef):
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute)
                and isinstance(node.func.value, gast.Name) and node.func.value.id in numpy_names):
            continue
        attr = node.func.attr
        if attr == "asarray" and len(node.args) == 1 and \
                all(k.arg == "dtype" for k in node.keywords):
            node.func = _helper(runtime_name, "as_array")
            changed += 1
        elif attr == "reshape":
            keep = [k for k in node.keywords if not (
                k.arg == "order" and isinstance(k.value, gast.Constant) and k.value.value == "C")]
            if len(keep) != len(node.keywords):
                node.keywords = keep
                changed += 1
    return changed

