"""Forward stage: tangent statements interleaved with the primal, from the same rule table.

Every active assignment ``t = f(a, b)`` is followed by ``t_dot = <jvp contributions>``; branches
and loops stay as they are (forward mode needs no stacks). The jvp of a rule comes from its kind:
elementwise rules reuse the vjp with the tangent in place of ``g``, linear rules re-apply the
primitive to the tangent, custom rules have a jvp of their own. Example::

    h = np.tanh(z)                  h = np.tanh(z)
                          -->       h_dot = z_dot * (1.0 - h * h)
"""

import inspect

import gast

from .. import runtime
from ..errors import NoJvpRuleError, NoRuleError, SourcediffSyntaxError
from ..rules import quote
from ..syntax import _method_call, _names_in, clone
from . import callees
from .analysis import Analysis, add
from .constructors import plain_namedtuple
from .normalize import assign, call, const, load, located, store
from .object_state import run_time_arguments


class Forward(Analysis):
    """Builds the forward-mode body of one normalized function."""

    adjoint_reads_values = False

    def dot(self, name):
        """The tangent variable of ``name``: ``x_dot``."""
        if name not in self.bars:
            base = name if name.startswith("_") else name.lstrip("_")
            self.bars[name] = self.names.exact(f"{base}_dot")
        return self.bars[name]

    def tangent(self, arg):
        """Tangent syntax of an argument's syntax, or None where it carries none."""
        if isinstance(arg, gast.Name):
            return load(self.dot(arg.id)) if arg.id in self.active else None
        if isinstance(arg, (gast.List, gast.Tuple)):
            parts = [self.tangent(e) for e in arg.elts]
            if all(p is None for p in parts):
                return None
            elts = [p if p is not None else call(self.rt("zero_tangent"), [clone(e)])
                    for p, e in zip(parts, arg.elts)]
            return type(arg)(elts=elts, ctx=gast.Load())
        if isinstance(arg, gast.Dict) and all(isinstance(k, gast.Constant) for k in arg.keys):
            parts = [self.tangent(v) for v in arg.values]  # (a **kwargs parameter's dict)
            if all(p is None for p in parts):
                return None
            return gast.Dict(keys=[clone(k) for k in arg.keys], values=[
                p if p is not None else call(self.rt("zero_tangent"), [clone(v)])
                for p, v in zip(parts, arg.values)])
        return None

    # ------------------------------------------------------------------ statements

    def build(self):
        return self.block(self.body)

    def block(self, stmts):
        out = []
        for s in stmts:
            out.extend(self.line_comment(s))
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                out.extend(self.assign_stmt(s))
            elif isinstance(s, gast.Assign):
                out.extend(self.setitem(s))
            elif isinstance(s, gast.Expr) and _method_call(s, self.locals):
                obj, method = _method_call(s, self.locals)
                out.append(s)
                if method == "append" and obj in self.active:
                    tangents = [self.tangent(a) or self.item_zero(a) for a in s.value.args]
                    out.append(located(gast.Expr(value=call(
                        gast.Attribute(value=load(self.dot(obj)), attr="append", ctx=gast.Load()),
                        tangents)), s))
            elif isinstance(s, gast.If):
                out.append(located(gast.If(test=s.test, body=self.block(s.body) or [gast.Pass()],
                                           orelse=self.block(s.orelse)), s))
            elif isinstance(s, gast.For):
                head = []
                if s.target.id in self.active:  # a loop index carries no derivative
                    head = [assign(self.dot(s.target.id), self.zero_like(load(s.target.id)), s)]
                out.append(located(gast.For(target=s.target, iter=s.iter,
                                            body=head + self.block(s.body), orelse=[],
                                            type_comment=None), s))
            elif isinstance(s, gast.While):
                out.append(located(gast.While(test=s.test, body=self.block(s.body), orelse=[]), s))
            elif self.restores_item(s):
                out.extend(self.restore_item(s))
            else:
                out.append(self.on_copies(s))
        return out

    def restores_item(self, s):
        """Whether ``s`` is ``_sd.restore_item(d, k, v)`` of a gradient's adjoint sweep (here
        differentiated again), which puts back the entry ``d[k] = v`` overwrote or removes the
        key it added: it runs on ``d`` itself, as in the gradient."""
        value = s.value if isinstance(s, gast.Expr) else None
        return isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            value.func.attr == "restore_item" and isinstance(value.func.value, gast.Name) and \
            self.globals.user_lookup(value.func.value.id) is runtime

    def restore_item(self, s):
        """``_sd.restore_item(d, k, v)`` run on ``d`` itself (a copy left d's key, read by d.get's
        rules after), and the same on d's tangent with v's: the entry's tangent goes back with
        its value, as ``d[k] = v``'s does (without it, x's tangent kept the overwriting value's at
        k, and the hessian of ``x[0] = y[1] * y[2]`` was wrong in row 0)."""
        base, key, value = s.value.args
        if not (isinstance(base, gast.Name) and base.id in self.active):
            return [s]
        dot = self.dot(base.id)
        tangent = self.tangent(value)
        if tangent is None:
            tangent = self.item_zero(value) if base.id in self.containers else const(0.0)
        else:
            tangent = call(self.rt("cast_grad"), [tangent, load(base.id)])
        return [s, assign(dot, call(self.rt("owned_grad"), [load(dot), load(base.id)]), s),
                located(gast.Expr(value=call(self.rt("restore_item"), [
                    load(dot), clone(key), tangent])), s)]

    def setitem(self, s):
        target = s.targets[0]
        base = target.value.id
        if base not in self.active:
            return [s]
        dot = self.dot(base)
        value = self.tangent(s.value)
        # (y[i] = v into an integer array truncates v: no tangent passes)
        if value is None:
            value = self.item_zero(s.value) if base in self.containers else const(0.0)
        else:
            value = call(self.rt("cast_grad"), [value, load(base)])
        return [s, assign(dot, call(self.rt("owned_grad"), [load(dot), load(base)]), s),
                located(gast.Assign(targets=[gast.Subscript(value=load(dot),
                                                            slice=clone(target.slice),
                                                            ctx=gast.Store())],
                                    value=value, type_comment=None), s)]

    def assign_stmt(self, s):
        target = s.targets[0].id
        op = self.ops.get(id(s))
        if op is not None and (op.kind in ("rule", "copy", "const", "container") or
                               (op.kind == "nondiff" and op.key is None)):
            s.sd_pure = True
        pop = self.container_pop(s)
        if pop is not None and isinstance(pop, gast.Call):
            # the tangent list pops with its list, also for a value that carries no tangent
            # (an int, a restored flag): the two lists stay aligned
            if target in self.active:
                return [s, assign(self.dot(target), pop, s)]
            return [s, located(gast.Expr(value=pop), s)]
        if target not in self.active:
            return [self.zero_test(op, s) or self.on_copies(s)]
        if op.kind == "user":
            if self.binds_at_run_time(s):  # (f(*args): see run_time_call)
                return self.dynamic_call(s, target)
            return self.user_call(op, s, target)
        if op.kind == "rule" and op.rule.pair_jvp is not None:
            return self.pair_jvp_call(op, s, target)
        if pop is not None:
            return [s, assign(self.dot(target), pop, s)]
        if op.kind == "unknown" and self.operand_names(op, s) & self.active and \
                self.dynamic_callee(op, s) is not None:
            return self.dynamic_call(s, target)
        # normalize gave t = f(t) a fresh variable, so the operands here are the old values
        prelude, value = self.tangent_value(op, s, load(target))
        tangent = prelude + [assign(self.dot(target), value, s)]
        for t in tangent:
            t.sd_pure = True  # the inline pass may move it (optimize.inline_temps)
        return [s] + tangent

    def zero_test(self, op, s):
        """``b = _sd.nonzero_grad(g)`` (a gradient's guard, compiler/unreached.py) or ``b =
        is_zero_grad(g)`` (a rule helper's shortcut on a zero cotangent) in code differentiated
        again, ``g`` carrying a tangent: the test reads the tangent too (``nonzero_grads``), so a
        cotangent that is 0 by value at this point but not its tangent still runs the rule. None
        for any other statement."""
        tests = {runtime.nonzero_grad: "nonzero_grads", runtime.is_zero_grad: "zero_grads"}
        if op is None or not isinstance(s.value, gast.Call) or \
                len(s.value.args) != 1 or s.value.keywords:
            return None
        helper = next((h for f, h in tests.items() if op.key is f), None)
        tangent = self.tangent(s.value.args[0]) if helper else None
        if tangent is None:
            return None
        return located(gast.Assign(targets=s.targets, value=call(
            self.rt(helper), [clone(s.value.args[0]), tangent]), type_comment=None), s)

    def container_pop(self, s):
        value = s.value
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
                and value.func.attr == "pop" and isinstance(value.func.value, gast.Name) \
                and value.func.value.id in self.containers and not value.args:
            obj = value.func.value.id
            if obj in self.active:
                return call(gast.Attribute(value=load(self.dot(obj)), attr="pop", ctx=gast.Load()),
                            [])
            # (zero shaped like the item: an in-place write into it may follow)
            return self.zero_like(load(s.targets[0].id))
        return None

    def tangent_value(self, op, s, ans):
        """(prelude statements, expression) for the tangent of one operation's result."""
        if op.kind == "copy":
            return [], self.tangent(op.args[0]) or self.zero_like(ans)
        if op.kind == "container":
            # (an item that carries none: zero_tangent, an object's a ZeroTangent; see item_zero)
            parts = [self.tangent(a) or call(self.rt("zero_tangent"), [clone(a)])
                     for a in op.args]
            if "keys" in op.keywords:
                return [], gast.Dict(keys=[clone(k) for k in op.keywords["keys"]],
                                     values=parts)
            return [], gast.Tuple(elts=parts, ctx=gast.Load()) if isinstance(s.value, gast.Tuple) \
                else gast.List(elts=parts, ctx=gast.Load())
        if op.kind == "rule":
            return self.rule_tangent(op, s, ans)
        if op.kind == "construct" and self.operand_names(op, s) & self.active:
            return [], self.construct_tangent(op, s, ans)
        if op.kind == "unknown" and self.operand_names(op, s) & self.active:
            raise NoRuleError(self.no_rule_message(op, s))
        return [], self.zero_like(ans)

    def construct_tangent(self, op, s, ans):
        """``s = State(q, p)``, a namedtuple: the tangents of its fields, read by name too;
        an object of another class built from values that carry tangents is refused (forward
        mode does not follow objects)."""
        fields = getattr(op.key, "_fields", None)
        if not plain_namedtuple(op.key):  # (a subclass's __new__ may store other values)
            raise NoRuleError(
                f"{self.parsed.where(s)}: {op.name}(...) builds an object from values that carry "
                f"the tangents of {', '.join(self.wrt)}, and forward mode does not follow "
                f"objects yet (reverse mode does: sd.grad, sd.value_and_grad).\n    "
                f"{self.parsed.line_text(s)}\nUse reverse mode, or pass the values to the "
                f"object's methods as arguments")
        given = {param: node for param, node, _ in op.binding}
        parts = [(self.tangent(given[f]) or self.item_zero(given[f])) if f in given
                 else const(0.0) for f in fields]
        return call(self.rt("named_like"), [gast.List(elts=parts, ctx=gast.Load()), ans])

    def item_zero(self, value):
        """The tangent of an item that carries none stored into a list or dict: zeros shaped like
        it (a bare 0.0 would be read back as the item's tangent, and np.dot(W, 0.0) is W-shaped),
        a literal's 0.0; an object's is a ZeroTangent, whose attributes read as zeros, where
        zeros_like gave array(0, dtype=object), and a method that a functools.partial binds to
        that object read self_dot.c off it: AttributeError from the generated code)."""
        if isinstance(value, gast.Constant):
            return const(0.0)
        return call(self.rt("zero_tangent"), [clone(value)])

    def zero_like(self, value):
        """A zero tangent shaped like ``value`` (so matmul and friends accept it)."""
        return call(self.rt("zeros_like_grad"), [clone(value)])

    def rule_tangent(self, op, s, ans):
        rule = op.rule
        q = quote.quoted(rule.vjp)
        bound = self.bind(op, q, s)
        self.refuse_keyword_operands(op, q, bound, s)
        slots = quote.slots(q, bound)
        prelude, terms = [], []
        for pos, arg in enumerate(slots):
            if not rule.differentiable(pos):
                continue
            t = self.tangent(arg)
            if t is None:
                if _names_in([arg]) & self.active:  # (max(*x): no tangent for it, not zero)
                    self.refuse_argument(arg, s, op.name)
                continue
            if rule.kind == "linear" and rule.jvp is None:  # (else its jvp: np.ravel's reads
                # the primal's memory layout for order='K' and 'A', not the tangent's)
                term = _replace(s.value, {id(arg): t})
            else:
                source = q if rule.kind == "elementwise" else self.jvp_rule(op, s)
                pre, contribs = quote.inline(source, t, ans, quote.bind(
                    source, op.args, dict(op.keywords), self.parsed.where(s)), [pos],
                    self.names.fresh, self.globals.name, self.globals)
                prelude += [located(p, s) for p in pre]
                term = contribs[pos]
            if rule.broadcast:
                term = call(self.rt("broadcast_tangent"), [term, ans])
            terms.append(term)
        value = terms[0] if terms else self.zero_like(ans)
        container = isinstance(ans, gast.Name) and ans.id in self.containers
        for term in terms[1:]:
            value = call(self.rt("add_grads"), [value, term]) if container else add(value, term)
        if terms and quote.may_cast(op.key, q, bound):  # (x.astype(int): its tangent is 0)
            value = call(self.rt("cast_grad"), [value, ans])
        return prelude, value

    def jvp_rule(self, op, s):
        if op.rule.jvp is None:
            name = op.name if op.name != "_sd_fn" else \
                getattr(op.key, "__qualname__", op.name)  # (a wrapper sourcediff wrote)
            how = f"@{name}.defjvp" if callable(getattr(op.key, "defjvp", None)) else \
                "@sourcediff.defjvp"
            raise NoJvpRuleError(
                f"{self.parsed.where(s)}: forward mode needs a jvp rule for {name}, which has "
                f"only a vjp rule.\n    {self.parsed.line_text(s)}\nRegister one with "
                f"{how}, or use reverse mode (sourcediff.grad)")
        return quote.quoted(op.rule.jvp)

    def pair_jvp_call(self, op, s, target):
        """``t = f(a, n)`` with f an ``sd.custom_jvp``: ``t, t_dot = f_jvp((a, n), (a_dot,
        zeros))``, the user's jvp called on f's positional arguments (defaults filled in) and
        their tangents, zeros where one carries none (JAX's contract)."""
        if any(isinstance(a, gast.Starred) for a in op.args) or None in op.keywords:
            raise SourcediffSyntaxError(
                f"{self.parsed.where(s)}: the call to {op.name}, which has a custom jvp rule, "
                f"passes *args or **kwargs; pass its arguments one by one.\n    "
                f"{self.parsed.line_text(s)}")
        sig = inspect.signature(op.key)
        try:
            bound = sig.bind(*op.args, **op.keywords)
        except TypeError as exc:
            raise SourcediffSyntaxError(f"{self.parsed.where(s)}: the call to {op.name} does not "
                                        f"fit its signature: {exc}.\n    {self.parsed.line_text(s)}")
        primals = []
        for p in sig.parameters.values():
            if p.kind == p.VAR_POSITIONAL:
                primals.extend(clone(a) for a in bound.arguments.get(p.name, ()))
            elif p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD):
                if p.name in bound.arguments:  # (the jvp would not see it)
                    raise SourcediffSyntaxError(
                        f"{self.parsed.where(s)}: {op.name} has a custom jvp rule, which takes "
                        f"its positional arguments as primals, and this call passes its "
                        f"keyword-only parameter {p.name}; make {p.name} positional.\n    "
                        f"{self.parsed.line_text(s)}")
            elif p.name in bound.arguments:
                primals.append(clone(bound.arguments[p.name]))
            else:
                primals.append(load(self.globals.name(f"{op.name}_{p.name}", p.default)))
        tangents = [self.tangent(a) or self.zero_like(a) for a in primals]
        rule = op.rule.pair_jvp
        own = getattr(rule, "__name__", "")
        fn = load(self.globals.name(own if own.isidentifier() and own != "<lambda>"
                                    else f"{op.name}_jvp", rule))
        node = call(fn, [gast.Tuple(elts=primals, ctx=gast.Load()),
                         gast.Tuple(elts=tangents, ctx=gast.Load())])
        return [located(gast.Assign(
            targets=[gast.Tuple(elts=[store(target), store(self.dot(target))], ctx=gast.Store())],
            value=node, type_comment=None), s)]

    def dynamic_call(self, s, target):
        """``t = obj.forward(a)`` with obj's class known at run time only (or ``t = f(*args)``
        with args carrying a derivative, see run_time_call): value and tangent from the
        method's jvp form, compiled for the object met (``_sd.dynamic_jvp``)."""
        value = s.value
        helper, lead, syntax = self.run_time_call(s, lambda a: self.tangent(a) is not None)
        tangents = [self.tangent(a) for a in syntax]
        if helper == "dynamic" and isinstance(value.func, gast.Name) and \
                self.tangent(value.func) is not None:
            # (f(y) of a function value that carries a tangent itself, a closure over active
            # values: -1 marks it, its tangent first, as reverse mode's receiver call)
            lead = [const((-1,) + lead[0].value)]
            tangents = [self.tangent(value.func)] + tangents
        args, keywords = run_time_arguments(value, helper)
        node = call(self.rt(f"{helper}_jvp"), [clone(value.func)] + lead + args,
                    keywords + [gast.keyword(
                        arg="tangents", value=gast.Tuple(elts=tangents, ctx=gast.Load()))])
        return [located(gast.Assign(
            targets=[gast.Tuple(elts=[store(target), store(self.dot(target))], ctx=gast.Store())],
            value=node, type_comment=None), s)]

    def user_call(self, op, s, target):
        """``t = helper(a)``: the primal and tangent come from helper's jvp form."""
        callee = op.key
        # (a method collecting its receiver in *args reads args[0].w: the receiver's zero
        # tangent, runtime.zero_tangent, answers such reads)
        receiver = load(self.globals.name(f"{callee.__name__}_receiver", callee.__self__)) \
            if inspect.ismethod(callee) else None
        bound, active_params = self.bind_user_call(op, s, receiver)
        fn = callees.called_form(callees.jvp_form, callee, active_params, self.parsed.where(s),
                          self.parsed.line_text(s))
        node = clone(s.value)
        node.func = load(self.globals.name(f"{callee.__name__}_jvp", fn))
        for p in active_params:
            node.keywords.append(gast.keyword(arg=fn.__sourcediff_tangent_names__[p],
                                              value=self.tangent(bound.arguments[p])))
        return [located(gast.Assign(
            targets=[gast.Tuple(elts=[store(target), store(self.dot(target))], ctx=gast.Store())],
            value=node, type_comment=None), s)]


def _replace(tree, mapping):
    """A copy of ``tree`` with the nodes whose id is in ``mapping`` replaced by copies of its values."""
    if id(tree) in mapping:
        return clone(mapping[id(tree)])
    if isinstance(tree, list):
        return [_replace(t, mapping) for t in tree]
    if not isinstance(tree, gast.AST):
        return tree
    new = type(tree)(**{f: _replace(getattr(tree, f, None), mapping) for f in tree._fields})
    for a in getattr(tree, "_attributes", ()):
        if hasattr(tree, a):
            setattr(new, a, getattr(tree, a))
    return new
