"""The gast vocabulary every layer shares: node builders, the names a node reads and writes, the
``# comment`` statement of generated code, and the one liveness analysis with the dead-code pass
built on it (the optimizer's, and the rule slicing the tape and run-time calls use).

Example::

    from sourcediff.syntax import assign, call, load
    assign("y", call(load("f"), [load("x")]))      # y = f(x)
"""

import copy

import gast


def walk(node):
    """Every node of the tree under ``node``, ``node`` first, in the order of ``ast.walk``
    (breadth first; a node's children are gathered before it is yielded), about twice as fast:
    no generator per node and per field."""
    todo = [node]
    append = todo.append
    for node in todo:
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, _AST):
                        append(item)
            elif isinstance(value, _AST):
                append(value)
        yield node


_AST = gast.AST


def children(node):
    """The child nodes of ``node``, in ``ast.iter_child_nodes``' order, as a list."""
    out = []
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            for item in value:
                if isinstance(item, _AST):
                    out.append(item)
        elif isinstance(value, _AST):
            out.append(value)
    return out


def parents(root):
    """{id(node): its parent} for every node under ``root`` (``root`` itself has none)."""
    out = {}
    todo = [root]
    append = todo.append
    for node in todo:
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, _AST):
                        out[id(item)] = node
                        append(item)
            elif isinstance(value, _AST):
                out[id(value)] = node
                append(value)
    return out


_ATOMS = (str, int, float, bool, type(None), bytes, complex, type(...))


def clone(node):
    """A copy of a gast tree, list or tuple of trees, as ``copy.deepcopy`` makes it (a node
    that stands twice in the tree is one copied node that stands twice in the copy), about three
    times faster: nodes are copied through their ``__dict__``, atoms (strings, numbers, None,
    Ellipsis) are shared, and any other value (a line's origin, a constant's object) goes through
    ``copy.deepcopy`` with the same memo."""
    return _clone(node, {})


def _clone(value, memo):
    if isinstance(value, _ATOMS):
        return value
    key = id(value)
    if key in memo:
        return memo[key]
    if isinstance(value, gast.AST):
        new = value.__class__.__new__(value.__class__)
        memo[key] = new
        into = new.__dict__
        for name, item in value.__dict__.items():
            into[name] = item if isinstance(item, _ATOMS) else _clone(item, memo)
        return new
    if type(value) is list:
        new = []
        memo[key] = new
        new.extend(item if isinstance(item, _ATOMS) else _clone(item, memo) for item in value)
        return new
    if type(value) is tuple:
        return tuple(item if isinstance(item, _ATOMS) else _clone(item, memo) for item in value)
    return copy.deepcopy(value, memo)


def load(name):
    """A gast Name in load context."""
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def store(name):
    """A gast Name in store context."""
    return gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)


def const(value):
    """A gast Constant."""
    return gast.Constant(value=value, kind=None)


def assign(name, value, loc=None):
    """``name = value`` located at ``loc``."""
    node = gast.Assign(targets=[store(name)], value=value, type_comment=None)
    if loc is not None:
        gast.copy_location(node, loc)
    return node


def dict_display(keys, values):
    """``{k: v, ...}`` with a constant key written twice kept once, where it first stands, with
    its last value (as Python builds it): ``{"a": x, "a": y}`` is ``{"a": y}``, and x gets no
    derivative from it."""
    order, last = [], {}
    for k, v in zip(keys, values):
        key = ("const", k.value) if isinstance(k, gast.Constant) else ("node", id(k))
        if key not in last:
            order.append((key, k))
        last[key] = v
    return gast.Dict(keys=[k for _, k in order], values=[last[key] for key, _ in order])


def located(node, loc):
    """``node`` with the source location of ``loc``."""
    if loc is not None:
        gast.copy_location(node, loc)
    return node


def call(func, args, keywords=()):
    """A gast Call."""
    return gast.Call(func=func, args=list(args), keywords=list(keywords))


# leaves whose identity no analysis reads (``Load()``, ``Add()``): left shared
_CONTEXTS = (gast.expr_context, gast.operator, gast.unaryop, gast.cmpop, gast.boolop)


def unshared(tree):
    """``tree``, changed in place so that it is a tree: each node it holds in more than one place
    (code generation reuses a Name node, ``return (out, _sd.grad_like(out_dot, out))``) is, at
    every place after the first, a copy of its own. Analyses that map a node to its parent, or
    judge a name's use by where its node sits, and passes that change a node in place, then see
    each place on its own."""
    seen, stack = {id(tree)}, [tree]
    while stack:
        node = stack.pop()
        for field, value in gast.iter_fields(node):
            items = value if isinstance(value, list) else [value]
            for k, item in enumerate(items):
                if not isinstance(item, gast.AST) or isinstance(item, _CONTEXTS):
                    continue
                if id(item) in seen:
                    item = clone(item)
                    if isinstance(value, list):
                        value[k] = item
                    else:
                        setattr(node, field, item)
                seen.add(id(item))
                stack.append(item)
    return tree


class Comment(gast.Expr):
    """A ``# text`` line in generated code; ``origin`` is the user's line it quotes, or None."""

    def __init__(self, value=None, origin=None, **kwargs):
        super().__init__(value=value, **kwargs)
        self.origin = origin


def is_comment(node):
    """True for a :class:`Comment` statement."""
    return isinstance(node, Comment)


def _loads(node):
    return {n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _assigned(node):
    return {n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


# ---------------------------------------------------------------- liveness and dead code


def live_in(stmts, live, *, faint=False, skip=frozenset(), record=None):
    """The names live before ``stmts`` when ``live`` are live after them: the one liveness
    analysis of the compiler (dead code, the last-pass guards, buffer reuse, the alias stage).

    ``faint``: an assignment of a name that is not live reads nothing, unless its value is a call
    (which may have effects); ``skip``: ids of statements that read nothing (they only bind);
    ``record``: gets ``{id(statement): names live after it}`` for every statement, loop bodies
    included (recorded at the loop's fixed point)."""
    live = set(live)
    for s in reversed(stmts):
        if record is not None:
            record[id(s)] = live
        live = live_stmt(s, live, faint=faint, skip=skip, record=record)
    return live


def live_stmt(s, live, *, faint=False, skip=frozenset(), record=None):
    """The names live before statement ``s`` when ``live`` are live after it (see live_in)."""
    if skip and id(s) in skip:
        return live - _assigned(s)
    if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
        t = s.targets[0].id
        if faint and t not in live and not isinstance(s.value, gast.Call):
            return live - {t}
        return (live - {t}) | _loads(s.value)
    if isinstance(s, gast.If):
        return _loads(s.test) | live_in(s.body, live, faint=faint, skip=skip, record=record) | \
            live_in(s.orelse, live, faint=faint, skip=skip, record=record)
    if isinstance(s, (gast.For, gast.While)):
        head = _loop_live(s.body, live, faint=faint, skip=skip)
        if record is not None:
            live_in(s.body, head, faint=faint, skip=skip, record=record)
        return head | _loads(s.iter if isinstance(s, gast.For) else s.test)
    return live | _loads(s)


def _loop_live(body, live, *, faint=False, skip=frozenset()):
    """Names live at the head of a loop whose body is ``body`` and that is followed by ``live``."""
    head = set(live)
    while True:
        new = head | live_in(body, head, faint=faint, skip=skip)
        if new == head:
            return head
        head = new


def dead_code(stmts, removable, live_out):
    """Drop assignments to ``removable`` names whose value is never read; returns new statements."""
    out = []
    live = set(live_out)
    for s in reversed(stmts):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            t = s.targets[0].id
            if t in removable and t not in live and _pure(s.value):
                continue
        elif isinstance(s, gast.If):
            s.body = dead_code(s.body, removable, live)
            s.orelse = dead_code(s.orelse, removable, live)
            if not _code(s.body) and not _code(s.orelse):
                continue
            if not _code(s.body):
                s.body = [gast.Pass()]
        elif isinstance(s, (gast.For, gast.While)):
            s.body = dead_code(s.body, removable, _loop_live(s.body, live))
            if not _code(s.body) and isinstance(s, gast.For) and _is_counting_loop(s):
                continue
            if not _code(s.body):
                s.body = [gast.Pass()]
        out.append(s)
        live = live_stmt(s, live)
    out.reverse()
    return _drop_dangling_comments(out)


def _pure(value):
    if isinstance(value, gast.Call):
        func = value.func
        return not (isinstance(func, gast.Attribute) and func.attr == "pop")
    return True


def _code(stmts):
    return any(not is_comment(s) and not isinstance(s, gast.Pass) for s in stmts)


def _is_counting_loop(s):
    """``for _ in range(n)`` loops of the adjoint sweep (safe to drop when empty)."""
    return isinstance(s.iter, gast.Call) and isinstance(s.iter.func, gast.Name) \
        and s.iter.func.id == "range"


def _drop_dangling_comments(stmts):
    out = []
    for k, s in enumerate(stmts):
        if is_comment(s):
            nxt = stmts[k + 1] if k + 1 < len(stmts) else None
            if nxt is None or is_comment(nxt):
                continue
        out.append(s)
    return out


def _names_in(nodes):
    out = set()
    for node in nodes:
        if node is None:
            continue
        for n in walk(node):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                out.add(n.id)
    return out


def _method_call(s, local_names):
    """(object name, method) for a statement ``obj.method(...)`` on a local, else None."""
    value = s.value
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
            and isinstance(value.func.value, gast.Name) and value.func.value.id in local_names:
        return value.func.value.id, value.func.attr
    return None


def spread_text(node):
    """``**d`` as written in a call, for a message; ``**d, **e`` for the tuple of dicts a call
    with several ``**`` arguments keeps under the keyword None (marked ``sd_spread``)."""
    if getattr(node, "sd_spread", False):
        return ", ".join(f"**{gast.unparse(e).strip()}" for e in node.elts)
    return f"**{gast.unparse(node).strip()}"


def spread_keywords(keywords):
    """``f(x, **{"a": u, "b": v})`` as ``f(x, a=u, b=v)``: a dict display with string keys
    unpacked into a call gives exactly those keywords (other ``**`` values are kept; so is every
    keyword when a name would come twice: Python's TypeError, or a dict display's last value for
    a key it repeats, as the call runs)."""
    out = []
    for k in keywords:
        v = k.value
        if k.arg is None and isinstance(v, gast.Dict) and all(
                isinstance(key, gast.Constant) and isinstance(key.value, str) for key in v.keys):
            out.extend(gast.keyword(arg=key.value, value=val) for key, val in zip(v.keys, v.values))
        else:
            out.append(k)
    names = [k.arg for k in out if k.arg is not None]
    return out if len(names) == len(set(names)) else list(keywords)


def plain_lambda(node, count):
    """Whether ``node`` is ``lambda a, b: e`` with ``count`` plain positional parameters."""
    if not isinstance(node, gast.Lambda):
        return False
    a = node.args
    return len(a.args) == count and not (getattr(a, "posonlyargs", None) or a.vararg or
                                         a.kwarg or a.kwonlyargs or a.defaults)


def binding_counts(fdef):
    """How many places in ``fdef``'s own scope bind each name (a parameter, an assignment or
    loop target, an inner ``def``), and the names bound inside a loop."""
    count, looped = {}, set()
    for a in fdef.args.args + fdef.args.kwonlyargs + [
            a for a in (fdef.args.vararg, fdef.args.kwarg) if a is not None]:
        count[a.id] = 1

    def visit(node, in_loop):
        for child in children(node):
            if isinstance(child, gast.FunctionDef):  # (a def binds its name, not its body's)
                count[child.name] = count.get(child.name, 0) + 1
                if in_loop:
                    looped.add(child.name)
                continue
            if isinstance(child, (gast.Lambda, gast.ListComp, gast.DictComp,
                                  gast.GeneratorExp, gast.SetComp)):
                continue
            if isinstance(child, gast.Name) and isinstance(child.ctx, gast.Store):
                count[child.id] = count.get(child.id, 0) + 1
                if in_loop:
                    looped.add(child.id)
            visit(child, in_loop or isinstance(child, (gast.For, gast.While)))

    visit(fdef, False)
    return count, looped


def late_bound(fdef, names):
    """Those of ``names`` that ``fdef`` does not bind exactly once outside loops (a parameter it
    never rebinds, one assignment or one ``def``): a function made from them early would read
    another value than a Python closure reading them when it is called."""
    count, looped = binding_counts(fdef)
    return [n for n in names if count.get(n) != 1 or n in looped]


def replace_node(root, old, new):
    """Put ``new`` where ``old`` is under ``root``."""
    for parent in walk(root):
        for field, child in gast.iter_fields(parent):
            if child is old:
                setattr(parent, field, new)
                return
            if isinstance(child, list):
                for k, item in enumerate(child):
                    if item is old:
                        child[k] = new
                        return


def stored_attribute_names(node):
    """The attribute names ``node`` (a function) stores on some object: ``obj.fn = f``,
    ``setattr(o, "fn", f)``. Read off an object, what one holds when the code runs may not be
    what it held when the code was compiled (``HOLD.fn = np.cos; HOLD.fn(x)``)."""
    return {n.attr for n in walk(node)
            if isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Store)} | {
        n.args[1].value for n in walk(node)
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and
        n.func.id == "setattr" and len(n.args) == 3 and isinstance(n.args[1], gast.Constant)}
