"""Dict arguments: a gradient dict split into one variable per key, the check that nothing the
function calls writes into a dict argument (so its items' facts hold for the whole call), and
library functions bound once under their own name.
"""

import dis
import inspect
import sys
import types

import gast
import numpy as np

from .. import runtime
from ..compiler.parse import same_as_wrapped
from ..rules import registry
from ..rules.facts import may_write
from ..syntax import replace_node, walk
from .facts import (
    TOP,
    Arr,
    Items,
    Known,
    Scal,
    _attr_call,
    _const,
    _load,
    _located,
    _parents,
    _sd_call,
    _store,
)


def _name_uses(fdef):
    """The Name nodes of ``fdef`` by identifier: (stores, loads)."""
    stores, loads = {}, {}
    for node in walk(fdef):
        if isinstance(node, gast.Name):
            (loads if isinstance(node.ctx, gast.Load) else stores).setdefault(
                node.id, []).append(node)
    return stores, loads


def _dict_scatter(node, facts, runtime_names):
    """(g node, dict name, items, key) of ``_sd.scatter_basic(g, P, K)`` over a dict ``P`` whose
    keys are known and include the constant ``K``, else None."""
    if _sd_call(node, runtime_names) not in ("scatter_basic", "scatter") or node.keywords \
            or len(node.args) != 3:
        return None
    g, p, k = node.args
    if not (isinstance(p, gast.Name) and isinstance(k, gast.Constant)):
        return None
    items = facts.get(id(p), TOP)
    if type(items) is not Items or all(not (type(key) is type(k.value) and key == k.value)
                                       for key, _ in items.items):
        return None
    return g, p.id, items, k.value


def _accumulation_forms(name, stores, parents, facts, runtime_names):
    """(forms, dict name, items) when every assignment to ``name`` is a zero, a scatter into one
    dict argument or an accumulation of one (each form ``(statement, kind, scatter)``), else
    None."""
    forms, dict_name, items = [], None, None
    for store in stores[name]:
        s = parents.get(id(store))
        if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and s.targets[0] is store):
            return None
        v = s.value
        if isinstance(v, gast.Constant) and v.value == 0.0 and type(v.value) is float:
            forms.append((s, "zero", None))
            continue
        found = _dict_scatter(v, facts, runtime_names)
        kind = "set"
        if found is None and isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add) and \
                isinstance(v.left, gast.Name) and v.left.id == name:
            found, kind = _dict_scatter(v.right, facts, runtime_names), "add"
        elif found is None and _sd_call(v, runtime_names) == "add_grads" and \
                len(v.args) == 2 and not v.keywords and isinstance(v.args[0], gast.Name) and \
                v.args[0].id == name:
            found, kind = _dict_scatter(v.args[1], facts, runtime_names), "add"
        if found is None or (dict_name is not None and (found[1], found[2]) !=
                             (dict_name, items)):
            return None
        dict_name, items = found[1], found[2]
        forms.append((s, kind, found))
    if dict_name is None:
        return None
    return forms, dict_name, items


def _final_grad_like(name, forms, loads, parents, dict_name, runtime_names):
    """(ok, the ``_sd.grad_like(name, dict)`` call or None): ok when every load of ``name`` is
    the left side of one of its accumulations or that one final call."""
    final = None
    for load in loads.get(name, ()):
        parent = parents.get(id(load))
        if any(kind == "add" and (load is s.value.left if isinstance(s.value, gast.BinOp)
                                  else load is s.value.args[0])
               for s, kind, _ in forms):
            continue
        if _sd_call(parent, runtime_names) == "grad_like" and len(parent.args) == 2 and \
                parent.args[0] is load and isinstance(parent.args[1], gast.Name) and \
                parent.args[1].id == dict_name and final is None:
            final = parent
            continue
        return False, None
    return True, final


def _entry_names(name, keys, taken, removable):
    """A fresh variable name per key (``params_bar_W``), each added to ``taken`` and
    ``removable``."""
    names = {}
    for n, k in enumerate(keys):
        wanted = f"{name}_{k}" if isinstance(k, str) and k.isidentifier() else f"{name}{n}"
        while wanted in taken:
            wanted += "_"
        taken.add(wanted)
        names[k] = wanted
        removable.add(wanted)
    return names


def _entry_statements(forms, names, keys, runtime_name):
    """The statements, by id of the one they replace, that assign the per-key variables."""
    replace = {}
    for s, kind, found in forms:
        if kind == "zero":
            replace[id(s)] = [_located(gast.Assign(targets=[_store(names[k])],
                                                   value=_const(0.0), type_comment=None), s)
                              for k in keys]
            continue
        g, _, _, key = found
        if kind == "set":
            replace[id(s)] = [_located(gast.Assign(
                targets=[_store(names[k])], value=g if k == key else _const(0.0),
                type_comment=None), s) for k in keys]
        else:
            value = _attr_call(_load(runtime_name), "add_grads", [_load(names[key]), g])
            replace[id(s)] = [_located(gast.Assign(targets=[_store(names[key])], value=value,
                                                   type_comment=None), s)]
    return replace


def _dict_of_entries(names, keys, dict_name, runtime_name):
    """``{'V': _sd.grad_like(params_bar_V, params['V']), ...}``."""
    return gast.Dict(
        keys=[_const(k) for k in keys],
        values=[_attr_call(_load(runtime_name), "grad_like", [
            _load(names[k]), gast.Subscript(value=_load(dict_name), slice=_const(k),
                                            ctx=gast.Load())]) for k in keys])


def _replace_statements(stmts, replace):
    """``stmts`` with each statement (at any depth) whose id is in ``replace`` replaced by its
    list."""
    out = []
    for st in stmts:
        for field in ("body", "orelse"):
            if isinstance(getattr(st, field, None), list):
                setattr(st, field, _replace_statements(getattr(st, field), replace))
        out.extend(replace.get(id(st), [st]))
    return out


def _split_dict_grads(fdef, facts, removable, runtime_names):
    """The gradient of a dict argument, built entry by entry, becomes one variable per key::

        params_bar = _sd.scatter_basic(g, params, 'V')        params_bar_V = g
                                                              params_bar_W = 0.0
        ...                                                   ...
        params_bar = params_bar + _sd.scatter_basic(          params_bar_W = _sd.add_grads(
            _W_bar, params, 'W')                                  params_bar_W, _W_bar)
        return _sd.grad_like(params_bar, params)              return {'V': _sd.grad_like(
                                                                  params_bar_V, params['V']), ...}

    The same sums entry by entry as the GradDict (its ``+`` is add_grads per key, a missing key
    is 0.0), without a new 13-entry dict per accumulation, and each entry then has facts of its
    own (an array accumulated in a loop can become one stacked product). Only a compiler name
    whose every assignment is one of these forms, over one dict argument ``params`` whose keys
    are known (an ``Items`` fact) and constant keys, read only by those forms and by the final
    ``_sd.grad_like(params_bar, params)``."""
    parents = _parents(fdef)
    taken = {n.id for n in walk(fdef) if isinstance(n, gast.Name)}
    stores, loads = _name_uses(fdef)
    changed = 0
    for name in sorted(stores):
        if name not in removable:
            continue
        found = _accumulation_forms(name, stores, parents, facts, runtime_names)
        if found is None:
            continue
        forms, dict_name, items = found
        ok, final = _final_grad_like(name, forms, loads, parents, dict_name, runtime_names)
        if not ok:
            continue
        keys = [k for k, _ in items.items]
        names = _entry_names(name, keys, taken, removable)
        runtime_name = next(iter(runtime_names))
        replace = _entry_statements(forms, names, keys, runtime_name)
        if final is not None:
            replace_node(fdef, final, _dict_of_entries(names, keys, dict_name, runtime_name))
        fdef.body = _replace_statements(fdef.body, replace)
        changed += 1
    return changed


def _read_only_dicts(fdef, names, runtime_names):
    """The parameters among ``names`` (dict arguments) that the generated code only reads: every
    load of the name, or of a plain copy of it (``p = params``), is an item read with a constant key
    (``params['W']``) or an argument of a runtime helper that reads it and writes into nothing
    (``_sd.scatter_basic(g, params, 'W')``, a helper with the ``reads_dicts`` fact). Anything
    else (a method
    call, an item store, a call of other code, a place in a container or on the stack) may
    change the dict."""
    parents = _parents(fdef)
    out = set()
    for p in names:
        aliases, grew = {p}, True
        while grew:
            grew = False
            for node in walk(fdef):
                if isinstance(node, gast.Assign) and isinstance(node.value, gast.Name) and \
                        node.value.id in aliases and len(node.targets) == 1 and \
                        isinstance(node.targets[0], gast.Name) and \
                        node.targets[0].id not in aliases:
                    aliases.add(node.targets[0].id)
                    grew = True
        ok = True
        for node in walk(fdef):
            if not (isinstance(node, gast.Name) and node.id in aliases and
                    isinstance(node.ctx, (gast.Load, gast.Del))):
                continue
            parent = parents.get(id(node))
            if isinstance(parent, gast.Subscript) and parent.value is node and \
                    isinstance(parent.ctx, gast.Load) and isinstance(parent.slice, gast.Constant):
                continue
            if isinstance(parent, gast.Assign) and parent.value is node:
                continue
            if isinstance(parent, gast.Call) and node in parent.args and \
                    registry.facts(getattr(runtime, _sd_call(parent, runtime_names) or "",
                                           None)).reads_dicts:
                continue
            ok = False
            break
        if ok:
            out.add(p)
    return out


_SAFE_BUILTINS = {len, range, float, int, abs, min, max, sum, tuple, zip, enumerate, isinstance,
                  bool, round, reversed, any, all, divmod, pow, slice, complex}


_DICT_WRITERS = {"update", "pop", "popitem", "clear", "setdefault", "__setitem__",
                 "__delitem__", "__ior__"}
# attributes code may read of a value it did not load from a module (an argument, a result):
# an array's that make new values or describe it, a dict's or a list's that read it. A method of
# any other name may be an object's own code, which the bytecode check below does not see.
_READ_ATTRS = frozenset(
    {n for n in dir(np.ndarray) if not n.startswith("_")} -
    {"fill", "sort", "put", "itemset", "resize", "partition", "setfield", "setflags", "byteswap",
     "tofile", "dump", "ctypes", "flat"}) | {"keys", "values", "items", "get", "count", "index"}


_WRITING_OPS = {"STORE_GLOBAL", "DELETE_GLOBAL", "STORE_ATTR", "DELETE_ATTR", "STORE_SUBSCR",
                "DELETE_SUBSCR", "STORE_SLICE", "DELETE_SLICE", "STORE_DEREF", "DELETE_DEREF",
                "IMPORT_NAME", "IMPORT_FROM"}


def _safe_value(value, depth):
    """A value that code can use without changing a dict it is not given: numpy, math and the
    runtime (modules, their functions), a few builtins, plain data, and Python functions that pass
    :func:`_writes_nothing`."""
    if inspect.ismodule(value):
        name = value.__name__
        return name in ("math", "numpy", "sourcediff.runtime") or name.startswith("numpy.")
    if isinstance(value, (int, float, complex, str, bytes, type(None), np.ndarray, np.generic,
                          np.dtype)):
        return True
    if isinstance(value, np.ufunc):
        return True
    try:
        if value in _SAFE_BUILTINS:
            return True
    except TypeError:
        return False
    module = getattr(value, "__module__", None) or ""
    if registry.facts(value).calls_back:
        return False
    if callable(value) and not isinstance(value, types.FunctionType) and \
            (module == "math" or module == "numpy" or module.startswith("numpy.")):
        return True
    if isinstance(value, types.FunctionType):
        if module == "sourcediff.runtime":
            return not registry.facts(value).calls_back
        return _writes_nothing(value, depth + 1)
    return False


def _calls_back(facts):
    return facts.calls_back


def _writes_nothing(fn, depth=0):
    """True when calling the plain function ``fn`` writes into nothing that exists before the
    call (a dict, a list, an array): its code (and the code it calls, to a few levels) stores
    into no item, attribute, global or closure cell, calls no method that writes (``update``,
    ``append``, ``fill``, ...), passes no ``out=``, uses no in-place operator, and reads only
    globals that pass :func:`_safe_value`.
    A wrapper sourcediff made for generated code is judged by the code it wraps."""
    import builtins

    if depth > 4:
        return False
    while same_as_wrapped(fn):
        fn = fn.__wrapped__
    if not isinstance(fn, types.FunctionType):
        return _safe_value(fn, depth) if depth else False
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    calling = registry.names_with(_calls_back)  # (by name: what an attribute load may call)
    codes = [fn.__code__]
    unknown = object()  # (what the code reached last is not a value loaded by global name)
    while codes:
        code = codes.pop()
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
        instructions = list(dis.get_instructions(code))
        made = _local_functions(code, instructions)
        reached = unknown  # the value the last instruction loaded by name (a module, ...)
        for k, ins in enumerate(instructions):
            op = ins.opname
            if op in _WRITING_OPS or (op in ("LOAD_ATTR", "LOAD_METHOD") and
                                      (ins.argval in _DICT_WRITERS or
                                       may_write(ins.argval) or ins.argval in calling)) or \
                    _in_place_or_out(ins, code):
                return False
            at = _callable_load(instructions, k)
            if at == _UNSEEN or (at is not None and _loads_local(instructions[at], cells, code)
                                 and instructions[at].argval not in made):
                return False  # a call of a local value (a function it is given): unseen code
            before, reached = reached, unknown
            if op in ("LOAD_GLOBAL", "LOAD_NAME"):
                name = ins.argval
                value = fn.__globals__.get(name, getattr(builtins, name, _safe_value))
                if value is _safe_value or not _safe_value(value, depth):
                    return False
                reached = value
            elif op in ("LOAD_DEREF", "LOAD_CLASSDEREF") and ins.argval in cells:
                try:
                    value = cells[ins.argval].cell_contents
                except ValueError:
                    return False
                if not _safe_value(value, depth):
                    return False
                reached = value
            elif op in ("LOAD_ATTR", "LOAD_METHOD"):
                if before is unknown:
                    # an attribute of an argument or a result: an array's, or a method of an
                    # object whose code this check does not see (model.scale())
                    if ins.argval not in _READ_ATTRS:
                        return False
                else:  # (np.random.standard_normal, np.add.reduce: through a module)
                    reached = getattr(before, ins.argval, unknown)
    return True


def _in_place_or_out(ins, code):
    """An in-place operator (``x += 1``: ``INPLACE_ADD`` before Python 3.11, ``BINARY_OP +=``
    after) or a call's keyword names that hold ``out`` (``KW_NAMES`` on 3.11 and 3.12, a constant
    tuple before ``CALL_FUNCTION_KW`` / ``CALL_KW`` on 3.10 and 3.13)."""
    op = ins.opname
    if op.startswith("INPLACE_") or (op == "BINARY_OP" and ins.argrepr.endswith("=")):
        return True
    if op == "KW_NAMES":
        return "out" in code.co_consts[ins.arg]
    return op == "LOAD_CONST" and type(ins.argval) is tuple and "out" in ins.argval


_UNSEEN = -1  # (a call whose callable _callable_load cannot find: code this check does not see)


def _callable_load(instructions, k):
    """The position of the instruction that loads the callable of a call at ``k`` (None when
    there is no call at ``k``, or its callable is an attribute or a global judged where it
    loads; ``_UNSEEN`` when it cannot be found): on Python 3.11 and 3.12 the load after a
    ``PUSH_NULL``, on 3.13 the one before it; on 3.10, which has no ``PUSH_NULL``, the load found
    by walking back over a ``CALL_FUNCTION``'s arguments in straight-line code."""
    op = instructions[k].opname
    if op == "PUSH_NULL":
        j = k - 1 if sys.version_info >= (3, 13) else k + 1
        return j if 0 <= j < len(instructions) else None
    if op not in ("CALL_FUNCTION", "CALL_FUNCTION_KW"):  # (CALL_METHOD: its LOAD_METHOD)
        return None
    need = instructions[k].arg + (op == "CALL_FUNCTION_KW")  # the values above the callable
    j = k
    while need > 0:  # (walk back over them: then the instruction before made the callable)
        j -= 1
        if j < 0 or instructions[j].is_jump_target or "JUMP" in instructions[j].opname:
            return _UNSEEN
        ins = instructions[j]
        need -= dis.stack_effect(ins.opcode, ins.arg if ins.opcode >= dis.HAVE_ARGUMENT else None)
    j -= 1
    if need < 0 or j < 0 or instructions[j].is_jump_target:
        return _UNSEEN
    name = instructions[j].opname
    if name in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_ATTR", "LOAD_METHOD", "LOAD_CONST"):
        return None  # (judged where it loads)
    return j if name.startswith("LOAD_FAST") or name in ("LOAD_DEREF", "LOAD_CLOSURE",
                                                            "LOAD_CLASSDEREF") else _UNSEEN


def _local_functions(code, instructions):
    """The local names of ``code`` that only ever hold a function it makes itself (``def inner``,
    ``f = lambda z: ...``; their code is among its constants, judged with it), never a parameter."""
    params = set(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    made, other = set(), set(params)
    for k, ins in enumerate(instructions):
        if ins.opname in ("STORE_FAST", "STORE_DEREF", "DELETE_FAST", "DELETE_DEREF"):
            before = instructions[k - 1].opname if k else ""
            (made if before == "MAKE_FUNCTION" and ins.opname.startswith("STORE") else
             other).add(ins.argval)
    return made - other


def _loads_local(ins, cells, code):
    """The instruction loads a local variable or argument of ``code`` (or one of an enclosing
    function's, for a nested code object), not a value the check above has judged."""
    if ins.opname.startswith("LOAD_FAST") or ins.opname == "LOAD_CLOSURE":
        return True
    return ins.opname in ("LOAD_DEREF", "LOAD_CLASSDEREF") and ins.argval not in cells


def _writes_only_arrays(fdef, written):
    """Every item the code writes (``y[i] = v``, ``del d[k]``) is an array's, by the facts of
    what it writes into (``Inference.written``): no item store can change a dict argument, even
    one that reaches the code by another way than its own name (the same dict inside a list
    argument: ``q = qs[0]; q['b'] = ...``)."""
    return all(type(written.get(id(node), TOP)) is Arr for node in walk(fdef)
               if isinstance(node, gast.Subscript) and isinstance(node.ctx, (gast.Store, gast.Del)))


def _calls_leave_dicts_alone(fdef, facts, namespace, runtime_names, stack_name):
    """Every call in ``fdef`` is of the runtime, of the stack, of an array method (by the facts)
    or of a function that passes :func:`_writes_nothing`: no code the function runs can
    change a dict argument behind its name."""
    for node in walk(fdef):
        if not isinstance(node, gast.Call):
            continue
        func = node.func
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
                ((func.value.id in runtime_names and
                  not registry.facts(getattr(runtime, func.attr, None)).calls_back) or
                 func.value.id == stack_name):
            continue
        if isinstance(func, gast.Attribute) and type(facts.get(id(func.value), TOP)) in \
                (Arr, Scal) and not may_write(func.attr):
            continue
        f = facts.get(id(func), TOP)
        if type(f) is Known and (_safe_value(f.value, 0) or _writes_nothing(f.value)):
            continue
        return False
    return True


def _library_function(value):
    """numpy's functions and ufuncs, and built-in functions such as ``math.sin``: objects no
    program rebinds, whose identity the facts above already assume."""
    if isinstance(value, (np.ufunc, types.BuiltinFunctionType)):
        return True
    module = getattr(value, "__module__", None) or ""
    return callable(value) and (module == "numpy" or module.startswith("numpy."))


def _hoist_library_calls(fdef, facts, runtime_names, bind):
    """Inside loops, ``np.sin`` (a module attribute looked up on every iteration) becomes a name
    bound once when the code is compiled, ``np_sin``: the loop-invariant lookup a careful hand
    would hoist; a scalar loop with ``np.sin``/``np.cos`` pays that lookup on every step. Only
    library functions of modules (see ``_library_function``), numpy's among them when reached
    through the runtime (``_sd.np.add``, the buffers pass's calls); the runtime's own ``_sd.``
    helpers keep their prefix."""
    changed = 0

    def dotted(node):
        if isinstance(node, gast.Name):
            return None if node.id in runtime_names else [node.id]
        if isinstance(node, gast.Attribute) and node.attr == "np" and \
                isinstance(node.value, gast.Name) and node.value.id in runtime_names:
            return ["np"]  # (the runtime's numpy, which the buffers pass calls: _sd.np.add)
        if isinstance(node, gast.Attribute):
            base = dotted(node.value)
            return None if base is None else base + [node.attr]
        return None

    class Hoist(gast.NodeTransformer):
        def visit_Attribute(self, node):
            nonlocal changed
            fact, base = facts.get(id(node), TOP), facts.get(id(node.value), TOP)
            parts = dotted(node)
            if isinstance(node.ctx, gast.Load) and parts is not None and type(fact) is Known \
                    and type(base) is Known and inspect.ismodule(base.value) and \
                    _library_function(fact.value):
                changed += 1
                return _load(bind("_".join(parts), fact.value))
            self.generic_visit(node)
            return node

        def visit_FunctionDef(self, node):
            return node  # (generated code has no inner functions; their names are their own)

        visit_Lambda = visit_FunctionDef

    for node in walk(fdef):
        if isinstance(node, (gast.For, gast.While)):
            for s in node.body:
                Hoist().visit(s)
            if isinstance(node, gast.While):
                node.test = Hoist().visit(node.test)
    return changed
