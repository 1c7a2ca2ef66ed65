"""Object state in the analysis: what a function stores into objects (``self.h = h``,
``self.cache.append(A)``, ``d[k] = v`` on a dict an object holds) and reads back, so that a value
that carries a derivative is stored through the watched helpers of ``runtime``
(runtime/object_state.py) and never read back as a constant; and calls made for their effect
whose callable is known only at run time, run through their forms.
"""

import inspect
import operator
import types

import gast
import numpy as np

from .. import runtime
from ..errors import SourcediffSyntaxError
from ..rules.facts import writes_in_place
from ..syntax import _method_call, _names_in, walk
from .normalize import call, const
from .parse import parse_function


class ObjectState:
    """The object-state part of :class:`~sourcediff.compiler.analysis.Analysis` (a mixin: it reads
    the analysis's bindings, ops, active names and resolver)."""

    def store_attributes(self):
        """``obj.name = v`` with ``v`` active (or read back later in this block): stored through
        ``_sd.store_attribute``, which watches it (runtime/object_state.py)."""
        for s in self.attribute_writes:
            obj, name, value = s.value.args[:3]
            carries = bool(_names_in([value]) & self.active)
            if carries or len(s.value.args) == 6:  # (or a read takes it: forwarding.py)
                # (a layer caching its input: stored as Python does, and a read of it back
                # within the same gradient call is refused where it happens; a read later in
                # this block takes the stored value itself. See runtime/object_state.py.)
                where, text = s.value.args[3:5] if len(s.value.args) == 6 else (
                    gast.Constant(value=self.parsed.where(s), kind=None),
                    gast.Constant(value=self.parsed.line_text(s), kind=None))
                s.value = call(self.rt("store_attribute"), [
                    obj, name, value, where, text, gast.Constant(value=carries, kind=None)])
            elif isinstance(obj, gast.Name) and isinstance(name, gast.Constant) and \
                    isinstance(vars(np.ndarray).get(name.value), types.GetSetDescriptorType) and \
                    self.alias_group(obj.id) & self.active:
                # (y.shape = ..., v.flat = 0.0 with v a view of y: numpy changes the array)
                s.value = call(self.rt("set_attribute"), [
                    obj, name, value, gast.Constant(value=self.parsed.where(s), kind=None),
                    gast.Constant(value=self.parsed.line_text(s), kind=None)])

    def watch_object_containers(self):
        """``lst.append(v)`` or ``d[k] = v`` with v carrying a derivative, where the list or dict
        is reached through an object's attribute (``l = self.cache``, ``self.dv["A"].append(A)``):
        state that outlives the call, like ``self.X = X``. The attribute read that reaches it
        becomes ``_sd.holder_for_append(obj, name, ...)``, which reads it and watches the
        attribute, so that a read of it back within the same gradient call (another method,
        the caller) is refused at that read (runtime/object_state.py). That read must serve only to
        reach the container for such writes; one that also reads items out of it is refused."""
        binding = {}
        for target, s in self.bindings:
            binding.setdefault(target, []).append(s)
        uses = self.name_uses()
        for obj, values, s in self.container_writes:
            if not (_names_in(values) & self.active):
                continue
            found = self.container_root(obj, binding)
            if not found:
                if found is False:
                    raise SourcediffSyntaxError(
                        f"{self.parsed.where(s)}: this writes a value that carries the derivative "
                        f"of {', '.join(self.wrt)} into {obj}, which may be a list or dict held "
                        f"by an object, and sourcediff cannot tell which; build the list in a "
                        f"local variable and return it.\n    {self.parsed.line_text(s)}")
                continue
            read, base, attr_name = found
            target = read.targets[0].id
            if not self.only_reaches_writes(target, uses):
                raise SourcediffSyntaxError(
                    f"{self.parsed.where(s)}: this writes a value that carries the derivative of "
                    f"{', '.join(self.wrt)} into {gast.unparse(base).strip()}.{attr_name}, "
                    f"which this function also reads items of; sourcediff reads an object's state as "
                    f"constants, so the derivative through it would be lost. Keep the values in "
                    f"a local list and pass them on or return them.\n    "
                    f"{self.parsed.line_text(s)}")
            if not (isinstance(read.value, gast.Call) and
                    isinstance(read.value.func, gast.Attribute) and
                    read.value.func.attr == "holder_for_append"):
                read.value = call(self.rt("holder_for_append"), [
                    base, gast.Constant(value=attr_name, kind=None),
                    gast.Constant(value=self.parsed.where(s), kind=None),
                    gast.Constant(value=self.parsed.line_text(s), kind=None)])

    def checked_at_run_time(self, s, names, message):
        """For a value that reaches an argument no derivative flows through (``X.astype(
        self.dtype)``) and depends on wrt only as an attribute read off an object
        (``_dtype1 = self.dtype`` with ``self`` the model differentiated): whether a float
        there is the only thing to refuse, checked where it runs (``_sd.carries_nothing``
        raises ``message`` for a float or float array; a dtype, a string or an int carries no
        derivative). True when the reads in ``s`` were wrapped so; False when a value is
        computed otherwise (refused where it compiles)."""
        reads = {}
        for name in names:
            binds = [b for target, b in self.bindings if target == name]
            if len(binds) != 1 or not isinstance(binds[0].value, gast.Attribute) or \
                    not isinstance(binds[0].value.value, gast.Name) or \
                    binds[0].value.value.id not in self.locals:
                return False
            reads[name] = binds[0]
        check = self.rt("carries_nothing")

        class _Wrap(gast.NodeTransformer):
            def visit_Name(self, node):
                if node.id in reads and isinstance(node.ctx, gast.Load):
                    return call(check, [node, gast.Constant(value=message, kind=None)])
                return node

        _Wrap().visit(s.value)
        return True

    def container_root(self, name, binding, seen=()):
        """(statement, object node, attribute) of the attribute read that ``name``'s
        container comes from, None for a container made here, or False when unknown."""
        if name in seen or name in self.params:
            return None
        found = None
        for s in binding.get(name, []):
            op = self.ops.get(id(s))
            value = s.value
            if op is None:
                return False
            read = self.object_attribute_read(op, s)
            if read is not None:
                here = (s,) + read
            elif op.kind == "const" and isinstance(value, gast.Attribute) and \
                    isinstance(value.value, gast.Name):
                return False  # (a module's or a class's attribute)
            elif isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
                    and value.func.attr == "holder_for_append":
                here = (s, value.args[0], value.args[1].value)
            elif op.kind == "rule" and op.key is operator.getitem and \
                    isinstance(op.args[0], gast.Name):
                here = self.container_root(op.args[0].id, binding, seen + (name,))
            elif op.kind == "copy" and isinstance(op.args[0], gast.Name):
                here = self.container_root(op.args[0].id, binding, seen + (name,))
            else:
                here = None
            if here is False or (found is not None and here is not None and
                                 here[0] is not found[0]):
                return False
            found = here or found
        return found

    def only_reaches_writes(self, name, uses, seen=()):
        """Whether every read of ``name`` (a container reached through an object) only reaches
        writes into it: its in-place methods, item stores, items read to write into them."""
        for st in uses.get(name, []):
            if isinstance(st, gast.Expr) and isinstance(st.value, gast.Call) and \
                    isinstance(st.value.func, gast.Attribute) and \
                    isinstance(st.value.func.value, gast.Name) and \
                    st.value.func.value.id.startswith("_sd") and \
                    st.value.func.attr.startswith("check_"):
                continue  # (the alias stage's checks before a write read nothing out)
            method = _method_call(st, self.locals) if isinstance(
                st, (gast.Expr, gast.Assign)) else None
            if method and method[0] == name and writes_in_place(method[1]) and \
                    name not in _names_in(list(st.value.args) +
                                          [k.value for k in st.value.keywords]):
                continue
            if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Subscript) and \
                    isinstance(st.targets[0].value, gast.Name) and \
                    st.targets[0].value.id == name and name not in _names_in([st.value]):
                continue
            if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name) and \
                    isinstance(st.value, gast.Subscript) and \
                    isinstance(st.value.value, gast.Name) and st.value.value.id == name \
                    and st.targets[0].id not in seen:
                if self.only_reaches_writes(st.targets[0].id, uses, seen + (name,)):
                    continue
            return False
        return True

    def run_effect_calls_through_forms(self):
        """``layer.store(x)`` for its effect, with a callable known only at run time (a loop over
        layers, ``getattr(obj, name)``) and an argument that carries a derivative: it runs
        through its generated forward form (``_sd.run_for_effect``), whose checks see what it
        stores (``self.v = x`` watched, ``self.arr[0] = x`` refused), where a plain call would
        store it unseen and a read of it back would take a constant."""
        used = self.name_uses()
        built = self.built_object_holders()
        for target, s in self.bindings:
            op = self.ops.get(id(s))
            value = s.value
            if op is not None and op.kind == "user" and target not in self.active and \
                    self.gives_built_object(value, built, s, used):
                continue
            if op is None or target in self.active or \
                    op.kind in ("user", "rule", "nondiff", "container", "copy", "const") or \
                    not isinstance(value, gast.Call) or self.dynamic_callee(op, s) is None or \
                    (isinstance(value.func, gast.Attribute) and value.func.attr == "run_for_effect"):
                continue
            method = _method_call(s, self.locals)
            if method and (writes_in_place(method[1]) or method[0] in self.containers and any(
                    hasattr(t, method[1]) for t in (list, dict, tuple))):
                continue  # (lst.append(v): the container analysis's own; not accs[i].add(v))
            read_back = self.state_read_later(method[0] if method else value.func, s, used)
            if target in used and not read_back:
                continue
            carrying = self.active
            if read_back:
                # (acc.add(v) with v depending on wrt and acc.total read: the method may have
                # stored v there, which a plain call would do unseen and the read take as a
                # constant; its forms watch the store, and the read is refused)
                carrying = self.varied
            positions = [k for k, a in enumerate(value.args) if _names_in([a]) & carrying]
            names = [k.arg for k in value.keywords if _names_in([k.value]) & carrying]
            receiver = self.active_receiver(value)
            if receiver is not None and isinstance(value.func, gast.Attribute):
                # (model.store(x) for its effect: its method runs with model active, so what it
                # stores from model's arrays is watched)
                s.value = call(self.rt("run_for_effect"), [
                    self.rt("method_call"), gast.Constant(value=(0,) + tuple(
                        k + 2 for k in positions) + tuple(names), kind=None), value.func.value,
                    gast.Constant(value=value.func.attr, kind=None)] + list(value.args),
                    list(value.keywords))
                continue
            if not positions and not names:
                continue
            s.value = call(self.rt("run_for_effect"),
                           [value.func, gast.Constant(value=tuple(positions) + tuple(names),
                                                      kind=None)] + list(value.args),
                           list(value.keywords))

    def built_object_holders(self):
        """{name: the objects built here it holds}: a name bound to ``Cell(w)`` (an object of
        the user's class built in the function), and a name bound to a closure, list, tuple or
        dict display reading one (``lambda z: m.step(z)``, lifted as a partial holding m)."""
        holders = {}
        for t, st in self.bindings:
            op = self.ops.get(id(st))
            if op is not None and op.kind == "construct":
                holders.setdefault(t, set()).add(t)
                continue
            v = st.value
            if isinstance(v, (gast.List, gast.Tuple, gast.Dict)) or (
                    isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and
                    v.func.id == "_sd_partial"):
                held = set().union(*(holders.get(n, ()) for n in _names_in([v])))
                if held:
                    holders.setdefault(t, set()).update(held)
        return holders

    def gives_built_object(self, value, built, s, used):
        """``run_step(m, x)``, a call of the user's function for its effect, given an object
        built here from values that carry derivatives (``m = Cell(w)``) whose state the
        function reads later: the function (or a method it calls) may store on it
        (``self.last = np.tanh(self.w * x)``), which a plain call does unseen, and the read
        back took a constant (a gradient of zero, silently). The call runs through its forward
        form (``_sd.run_for_effect``), whose checks see what it stores; True when so
        rewritten."""
        if not isinstance(value, gast.Call):
            return False
        args = list(value.args) + [k.value for k in value.keywords]
        if not any(isinstance(a, gast.Name) and any(
                obj in self.varied and self.state_read_later(obj, s, used)
                for obj in built.get(a.id, ())) for a in args):
            return False
        positions = [k for k, a in enumerate(value.args) if _names_in([a]) & self.varied]
        names = [k.arg for k in value.keywords if _names_in([k.value]) & self.varied]
        s.value = call(self.rt("run_for_effect"),
                       [value.func, gast.Constant(value=tuple(positions) + tuple(names),
                                                  kind=None)] + list(value.args),
                       list(value.keywords))
        return True

    def state_read_later(self, callee, s, used):
        """Whether the object a call for effect may store into (the method's receiver, or what
        a bound method held in a local came from) is used anywhere else in the function: a
        read of its state (``acc.total``, ``acc.get()``, ``getattr(acc, "total")``, through
        ``b = acc`` or a list holding it) may give back what the call stored."""
        name = callee if isinstance(callee, str) else \
            callee.id if isinstance(callee, gast.Name) else None
        if name is None or name not in self.locals:
            return False
        holders = {name}  # (f = acc.add; f(v): what f's bindings read, acc)
        for target, st in self.bindings:
            if target == name:
                holders |= _names_in([st.value]) & self.locals
        return any(st is not s for holder in holders for other in self.alias_group(holder)
                   for st in used.get(other, ()))

    def name_uses(self):
        """{name: the statements that read it} over the whole body (a compound statement
        counts for its test or iterated value only; its blocks' statements count on their own)."""
        uses = {}
        for st in _all_statements(self.body) + [self.ret_stmt]:
            for part in _own_parts(st):
                for n in walk(part):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                        uses.setdefault(n.id, []).append(st)
        return uses

    def object_attribute_read(self, op, s):
        """``(object node, attribute name)`` of ``t = obj.name`` reading an object's attribute (a
        local's, through get_attribute, or a global object's); None otherwise (a module's or a
        class's attribute is not object state)."""
        if op.kind == "rule" and op.key is runtime.get_attribute:
            return op.args[0], op.args[1].value
        if op.kind == "const" and isinstance(s.value, gast.Attribute) and \
                isinstance(s.value.value, gast.Name) and not isinstance(
                    self.resolver.static_value(s.value.value), (types.ModuleType, type)):
            return s.value.value, s.value.attr
        return None

    def reaches_object_state(self, op, s):
        """``t = obj.name`` of an object, or an item of such a name (``t = self.dv["A"]``)."""
        if self.object_attribute_read(op, s) is not None:
            return True
        if op.kind in ("rule", "copy") and op.args and isinstance(op.args[0], gast.Name) and \
                (op.kind == "copy" or op.key is operator.getitem):
            return op.args[0].id in self.object_held
        return False

    def object_read(self, op, s):
        """``t = obj.name`` of an object (not a module, not an array's own attribute): kept even
        where its value is not needed, since the read is where a value a gradient call stored
        there is caught (runtime/object_state.py)."""
        if op.kind == "rule" and op.key is runtime.get_attribute:
            return True
        for node in walk(s.value):  # (C.cache[-1] reads C.cache; not _sd.helper, a check the
            # analysis wrapped around the value: compiler/dispatched.py)
            if isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load) and \
                    isinstance(node.value, gast.Name) and node.value.id not in self.locals and \
                    self.globals.bound.get(node.value.id) is not runtime:
                base = self.resolver.static_value(node.value)
                if not isinstance(base, (types.ModuleType, type)) and \
                        not isinstance(getattr(type(base), node.attr, None), property) and \
                        not isinstance(base, np.ndarray):
                    return True
        return False

    def dynamic_callee(self, op, s):
        """The callable of ``t = obj.method(a)`` or ``t = f(a)`` whose class or function is known
        only at run time (self.act_fn(z), layer.forward(h) in a loop over layers), when it carries
        no derivative itself, or when it is a name that carries one (a model, a layer, a closure
        over active values: :meth:`active_receiver`); else None."""
        value = s.value
        if not isinstance(value, gast.Call) or not (isinstance(op.key, str) or op.func is not None):
            return None
        if _names_in([value.func]) & self.active and self.active_receiver(value) is None and \
                not self.star_receiver(value):
            return None
        return value.func

    def star_receiver(self, value):
        """Whether ``value`` is ``f(a, *seq)`` or ``f(a, **d)`` with ``f`` a name that carries
        derivatives (a closure passed to ``def apply(f, *args): return f(*args)``): the call runs
        through ``_sd.star_fwd`` with the callee marked (see :meth:`run_time_call`)."""
        return isinstance(value.func, gast.Name) and value.func.id in self.active and (
            any(isinstance(a, gast.Starred) for a in value.args) or
            any(k.arg is None for k in value.keywords))

    def active_receiver(self, value):
        """The name of the object that carries derivatives (a model the gradient is taken with
        respect to, a layer of it) whose method ``value`` calls (``model.forward(x)``) or which
        it calls (``layer(x)``, its ``__call__``), or None: its forms then take it as an active
        argument (runtime/dynamic.py). A call with ``*args`` or ``**kwargs`` is not one."""
        func = value.func
        if any(isinstance(a, gast.Starred) for a in value.args) or \
                any(k.arg is None for k in value.keywords):
            return None
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name):
            if any(hasattr(t, func.attr) for t in (list, dict, tuple, set, str)):
                return None  # (lst.pop(0), d.get(k): a container's, refused as such)
            func = func.value
        if not isinstance(func, gast.Name) or func.id not in self.active:
            return None  # (a layer a helper returned may be a container: lists are not called)
        return func

    def binds_at_run_time(self, s):
        """Whether the call ``t = f(a, *seq)`` or ``f(a, **d)`` gets a value that carries a
        derivative: which parameters the values meet is known only at run time, so the call
        runs through ``_sd.star_fwd`` or ``_sd.dynamic_fwd`` (see :meth:`run_time_call`)."""
        value = s.value
        if not isinstance(value, gast.Call) or not (
                any(isinstance(a, gast.Starred) for a in value.args) or
                any(k.arg is None for k in value.keywords)):
            return False
        return bool(_names_in(value.args + [k.value for k in value.keywords]) & self.active)

    def run_time_call(self, s, carries):
        """How a call is made whose callable is known only at run time, or which passes a starred
        sequence that carries a derivative (``f(*args)`` in a wrapper: which parameters its
        items meet is known at run time only): ``(helper, its arguments before the call's own,
        the syntax of the arguments that carry a derivative in the order of their gradients)``;
        the helper takes the call's positional arguments after those, a starred one as its
        sequence. ``carries(node)`` tells whether a value carries one.
        ``_sd.dynamic_fwd``/``dynamic_jvp`` take the positions of those arguments;
        ``_sd.star_fwd``/``star_jvp`` take a starred argument as its sequence and a ``spec``
        (see runtime.dynamic)."""
        value = s.value
        names = [k.arg for k in value.keywords if k.arg is not None and carries(k.value)]
        keyword_syntax = [k.value for k in value.keywords if k.arg in names]
        callee = isinstance(value.func, gast.Name) and carries(value.func)
        if not any(isinstance(a, gast.Starred) for a in value.args) and \
                not any(k.arg is None and (callee or carries(k.value)) for k in value.keywords):
            positions = [k for k, a in enumerate(value.args) if carries(a)]
            return ("dynamic", [const(tuple(positions) + tuple(names))],
                    [value.args[k] for k in positions] + keyword_syntax)
        spec, syntax = [], []
        if callee:  # (-1: the callee's first)
            spec, syntax = [-1], [value.func]
        for a in value.args:
            star = isinstance(a, gast.Starred)
            node = a.value if star else a
            carried = bool(carries(node))
            spec.append(2 * star + carried)
            if carried:
                syntax.append(node)
        for k in value.keywords:  # (**d: passed as the dict, after the positional arguments)
            if k.arg is None:
                carried = bool(carries(k.value))
                spec.append(5 - carried)
                if carried:
                    syntax.append(k.value)
        return "star", [const(tuple(spec)), const(tuple(names))], syntax + keyword_syntax


def run_time_arguments(value, helper):
    """The positional and keyword arguments ``_sd.{helper}_fwd``/``_jvp`` take after the ones
    :meth:`ObjectState.run_time_call` gives for the call ``value``: each positional argument as
    written, a starred one as its sequence; for the star helpers each ``**d`` as the dict, after
    them (its spec entry says whether it carries a derivative)."""
    args = [a.value if isinstance(a, gast.Starred) else a for a in value.args]
    if helper != "star":
        return args, list(value.keywords)
    return (args + [k.value for k in value.keywords if k.arg is None],
            [k for k in value.keywords if k.arg is not None])


ATTRIBUTE_SINK = "<attribute>"  # (a name no program has: what obj.attr = v stores goes there)


_WRITES_ATTRIBUTES = {}


def _writes_attributes(fn, depth=0):
    """Whether the user function ``fn`` (or a function it calls by name or through self) changes
    an object's state: assigns an attribute (``self.w = v``), an item of one (``self.d["k"] =
    v``), or appends to one (``self.cache.append(v)``). Its result may then matter even where the
    caller drops it: its forms must run, and their checks see what it stores."""
    key = fn
    try:
        if key in _WRITES_ATTRIBUTES:
            return _WRITES_ATTRIBUTES[key]
    except TypeError:
        return True
    _WRITES_ATTRIBUTES[key] = False  # (recursion)
    try:
        parsed = parse_function(fn)
    except Exception:  # noqa: BLE001  (unreadable: transforming it will say so)
        return False
    found = False
    from_objects = set()  # names bound from an attribute read (l = self.cache, d = self.dv["A"])
    for n in walk(parsed.node):
        if isinstance(n, gast.Assign) and any(isinstance(m, gast.Attribute)
                                              for m in walk(n.value)):
            from_objects |= {t.id for t in n.targets if isinstance(t, gast.Name)}

    own = {m.id for m in walk(parsed.node)
           if isinstance(m, gast.Name) and isinstance(m.ctx, (gast.Store, gast.Param))}

    def object_held(node):
        """An expression reaching into an object's state: self.cache, self.dv["A"], l, or a
        module's or an enclosing function's value (STATE["w"] = v, HIST.append(v))."""
        return any(isinstance(m, gast.Attribute) or
                   (isinstance(m, gast.Name) and (m.id in from_objects or m.id not in own))
                   for m in walk(node))

    for n in walk(parsed.node):
        targets = n.targets if isinstance(n, gast.Assign) else \
            [n.target] if isinstance(n, gast.AugAssign) else []
        if any(isinstance(t, gast.Attribute) or
               (isinstance(t, gast.Subscript) and object_held(t.value)) for t in targets):
            found = True  # self.w = v, self.cache["A"] = v, l[0] = v for l = self.arr
            break
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                writes_in_place(n.func.attr) and object_held(n.func.value):
            found = True  # self.cache.append(v), self.dv["A"].append(v)
            break
        if isinstance(n, gast.Call) and (
                (isinstance(n.func, gast.Name) and n.func.id == "setattr") or
                (isinstance(n.func, gast.Attribute) and n.func.attr == "__setattr__")):
            found = True  # setattr(self, k, v), object.__setattr__(self, "h", v)
            break
        if depth < 4 and isinstance(n, gast.Call):
            callee = None
            if isinstance(n.func, gast.Name):
                callee = parsed.env.get(n.func.id, parsed.fn.__globals__.get(n.func.id))
            elif isinstance(n.func, gast.Attribute) and isinstance(n.func.value, gast.Name) and \
                    parsed.self_class is not None and parsed.node.args.args and \
                    n.func.value.id == parsed.node.args.args[0].id:
                callee = getattr(parsed.self_class, n.func.attr, None)
            if inspect.isfunction(callee) and _writes_attributes(callee, depth + 1):
                found = True
                break
    _WRITES_ATTRIBUTES[key] = found
    return found


def _own_parts(s):
    """What statement ``s`` itself evaluates: a compound statement's test or iterated value, not
    its blocks (their statements are walked on their own)."""
    if isinstance(s, (gast.If, gast.While)):
        return [s.test]
    if isinstance(s, gast.For):
        return [s.iter]
    return [s]


def _all_statements(stmts):
    """Every statement of ``stmts``, those of nested blocks included."""
    out = []
    for s in stmts:
        out.append(s)
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list):
                out.extend(_all_statements(inner))
    return out


def _setattr_call(s, local_names):
    """``setattr(obj, "name", v)``, which ``obj.name = v`` normalizes to, or the
    ``_sd.store_attribute(obj, "name", v, where, text, carries)`` it becomes when v carries a derivative
    (met again when generated code is differentiated)."""
    v = s.value
    if not isinstance(v, gast.Call):
        return False
    if isinstance(v.func, gast.Attribute) and v.func.attr == "store_attribute" and \
            isinstance(v.func.value, gast.Name) and v.func.value.id.startswith("_sd") and \
            len(v.args) == 6:
        return isinstance(v.args[1], gast.Constant)
    return isinstance(v.func, gast.Name) and \
        v.func.id == "setattr" and "setattr" not in local_names and len(v.args) == 3
