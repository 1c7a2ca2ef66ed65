"""Fence stage: refuse, with the user's file:line:col, every construct the compiler does not support.

Example: ``fence(parse_function(f))`` raises ``SourcediffSyntaxError("... f.py:3:5: try/except
are not supported ...")`` for a function containing ``try: ... except ValueError: ...``.
"""

import builtins
import collections.abc
import inspect
import itertools

import gast
import numpy as np

from ..errors import SourcediffError, SourcediffSyntaxError
from ..rules.facts import writes_in_place
from .parse import parse_function
from ..syntax import walk, children

# construct -> (name shown to the user, what to do instead)
_REFUSED = {
    gast.Global: ("'global' declarations", "pass the value in as an argument and return the result"),
    gast.Nonlocal: ("'nonlocal' declarations", "return the value from the inner function instead"),
    gast.Try: ("try/except", "move error handling outside the differentiated function"),
    gast.TryStar: ("try/except*", "move error handling outside the differentiated function"),
    gast.AsyncWith: ("'async with'", "differentiate a plain synchronous function"),
    gast.AsyncFor: ("'async for'", "differentiate a plain synchronous function"),
    gast.AsyncFunctionDef: ("async functions", "differentiate a plain synchronous function"),
    gast.Await: ("'await'", "differentiate a plain synchronous function"),
    gast.Yield: ("'yield' (generator functions)", "collect the values in a list and return it"),
    gast.YieldFrom: ("'yield from' (generator functions)",
                     "collect the values in a list and return it"),
    gast.ClassDef: ("class definitions", "define the class outside the function"),
    gast.Import: ("imports inside the function", "import at module level"),
    gast.ImportFrom: ("imports inside the function", "import at module level"),
    gast.Delete: ("'del' statements", "rebind the name instead of deleting it (for a list item:"
                  " lst = lst[:i] + lst[i + 1:])"),
    gast.Set: ("set literals", "use a list or tuple"),
    gast.SetComp: ("set comprehensions", "use a list comprehension"),
    gast.Match: ("'match' statements", "use if/elif/else"),
    gast.Starred: ("starred expressions", "index the sequence explicitly"),
}

_SUPPORTED_AUGOPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.MatMult, gast.FloorDiv,
                     gast.Mod)


def refuse(parsed, node, construct, fix):
    """Raise the error for an unsupported construct at ``node``."""
    raise SourcediffSyntaxError(
        f"{parsed.where(node)}: {construct} are not supported in a function sourcediff "
        f"differentiates ({parsed.fn.__qualname__}): {fix}.\n    {parsed.line_text(node)}"
    )


def fence(parsed):
    """Walk the function; raise SourcediffSyntaxError at the first unsupported construct."""
    fdef = parsed.node
    parsed.bound_names = {n.id for n in walk(fdef) if isinstance(n, gast.Name)
                          and isinstance(n.ctx, (gast.Store, gast.Param))}
    args = fdef.args
    for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
        _check(parsed, default)
    for stmt in fdef.body:
        _check(parsed, stmt)
    for inner in walk(fdef):
        if isinstance(inner, (gast.FunctionDef, gast.Lambda)) and inner is not fdef:
            _check_inner_writes(parsed, inner)
    _check_one_shot_iterators(parsed, fdef)
    _check_one_shot_arguments(parsed, fdef)
    _check_loop_sequence_changes(parsed, fdef)
    return parsed


_LOOPS = (gast.For, gast.While, gast.ListComp, gast.GeneratorExp, gast.DictComp, gast.SetComp)


def _position(node, end=False):
    if end:
        return (getattr(node, "end_lineno", node.lineno) or node.lineno,
                getattr(node, "end_col_offset", node.col_offset) or node.col_offset)
    return (node.lineno, node.col_offset)


def _check_one_shot_iterators(parsed, fdef):
    """``g = (f(v) for v in xs)`` or ``g = map(f, xs)``: Python's iterator computes its items
    when it is read, once; sourcediff computes them into a list where it is bound. The two agree
    when ``g`` is read once, by code that runs once after the binding, with the names its items
    read unchanged in between; elsewhere (``sum(g) + sum(g)``: Python's second sum is 0) refuse."""
    parents = {id(c): n for n in walk(fdef) for c in children(n)}
    binds, loads, stores = {}, {}, {}
    scoped = {id(n) for c in walk(fdef) if isinstance(c, gast.comprehension)
              for n in walk(c.target)}  # (a comprehension's own variables)
    for node in walk(fdef):
        if id(node) in scoped:
            continue
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], gast.Name):
            binds.setdefault(node.targets[0].id, []).append(node)
        if isinstance(node, gast.Name):
            table = loads if isinstance(node.ctx, gast.Load) else stores
            table.setdefault(node.id, []).append(node)
    for name, nodes in binds.items():
        nodes.sort(key=_position)
        for k, b in enumerate(nodes):
            if not _one_shot(b.value, parsed):
                continue
            start = _position(b, end=True)
            stop = _position(nodes[k + 1]) if k + 1 < len(nodes) else (1 << 30, 0)
            reads = [n for n in loads.get(name, ()) if start <= _position(n) < stop]
            why = None
            if len(reads) > 1:
                why = f"{name} is read {len(reads)} times (Python's second read finds it used up)"
            elif reads and _loop_between(reads[0], b, parents):
                why = f"{name} is read in a loop (Python's second pass finds it used up)"
            elif reads:
                read_names = {n.id for n in walk(b.value) if isinstance(n, gast.Name)
                              and isinstance(n.ctx, gast.Load)} - \
                    {n.id for n in walk(b.value) if id(n) in scoped and
                     isinstance(n, gast.Name)}
                changed = [n for v in read_names for n in stores.get(v, ())
                           if start <= _position(n) < _position(reads[0])]
                changed += [n for v in read_names for n in loads.get(v, ())
                            if start <= _position(n) < _position(reads[0])
                            and _written_through(n, parents)]
                if changed:
                    why = (f"{changed[0].id}, which its items read, changes before {name} is "
                           f"read (Python computes the items when they are read)")
            if why is not None:
                what = _iterator_kind(b.value, parsed)
                refuse(parsed, b, f"{what} bound to a name and read more than once, in a loop "
                       f"or after what they read changes", f"here {why}. Make it a list "
                       f"({name} = [...] or list(map(...))) and read that, or write the "
                       f"expression where it is used")


def _check_one_shot_arguments(parsed, fdef):
    """``helper(f(v) for v in xs)``: the helper's parameter is a one-shot iterator in Python and
    a list in sourcediff; they agree only if the helper reads it once, outside a loop."""
    for node in walk(fdef):
        if not isinstance(node, gast.Call) or not isinstance(node.func, gast.Name):
            continue
        passed = [(k, a) for k, a in enumerate(node.args) if _one_shot(a, parsed)] + \
            [(kw.arg, kw.value) for kw in node.keywords if kw.arg and _one_shot(kw.value, parsed)]
        name = node.func.id
        if not passed or name in parsed.bound_names:
            continue
        fn = parsed.env[name] if name in parsed.env else parsed.fn.__globals__.get(name)
        if not inspect.isfunction(fn) or (getattr(fn, "__module__", None) or "").split(".")[0] \
                in ("numpy", "scipy", "sourcediff"):
            continue
        try:
            callee = parse_function(fn).node
        except SourcediffError:
            continue
        params = [a.id for a in callee.args.args]
        for key, arg in passed:
            param = params[key] if isinstance(key, int) and key < len(params) else key
            reads = [n for n in walk(callee) if isinstance(n, gast.Name) and
                     n.id == param and isinstance(n.ctx, gast.Load)]
            parents = {id(c): n for n in walk(callee) for c in children(n)}
            if len(reads) > 1 or (reads and _loop_between(reads[0], callee, parents)):
                what = _iterator_kind(arg, parsed)
                refuse(parsed, arg, f"{what} passed to a function that reads them more than "
                       f"once or in a loop", f"{name} reads its parameter {param} "
                       f"{'in a loop' if len(reads) == 1 else f'{len(reads)} times'}, and "
                       f"Python's second read finds the iterator used up. Pass a list "
                       f"([...] or list(map(...))) if {name} means to read it again")


def _check_loop_sequence_changes(parsed, fdef):
    """``for v in l: l.append(w)``: Python's loop over a list sees the items appended (or
    misses those popped) as it goes; sourcediff's runs over the length the list had when the
    loop began."""
    for loop in walk(fdef):
        if not isinstance(loop, gast.For):
            continue
        it = loop.iter
        seqs = [it] if isinstance(it, gast.Name) else list(it.args) if \
            isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id in \
            ("zip", "enumerate", "reversed") and it.func.id not in parsed.bound_names else []
        names = {a.id for a in seqs if isinstance(a, gast.Name)}
        for stmt in loop.body:
            for node in walk(stmt):
                if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
                        isinstance(node.func.value, gast.Name) and \
                        node.func.value.id in names and writes_in_place(node.func.attr):
                    name, method = node.func.value.id, node.func.attr
                    refuse(parsed, node, f"calls that change the sequence a for loop iterates "
                           f"over ({name}.{method}(...) in the loop of line "
                           f"{parsed.user_line(loop)})", f"Python's loop sees {name}'s items "
                           f"as they change, sourcediff's runs over the items it had when the "
                           f"loop began. Loop over a copy (for v in list({name}):) if that is "
                           f"what you mean, or over an index (while k < len({name}):)")


# the iterators compiler/lowering.py computes into a list where they are made, by what makes them
ITERATORS = {map: "map", zip: "zip", enumerate: "enumerate", filter: "filter",
             reversed: "reversed", itertools.accumulate: "accumulate", itertools.chain: "chain",
             itertools.chain.from_iterable: "chain.from_iterable", itertools.islice: "islice",
             itertools.product: "product", itertools.combinations: "combinations",
             itertools.combinations_with_replacement: "combinations_with_replacement",
             itertools.permutations: "permutations"}
ITERATORS_BUILTIN = {"map": map, "zip": zip, "enumerate": enumerate, "filter": filter,
                     "reversed": reversed}


_CALLS_BACK = (np.vectorize, np.frompyfunc, np.piecewise, np.apply_over_axes, np.fromfunction)


def iterator_advice(made_by):
    """What to write instead of an iterator call ``made_by`` makes in a form compiler/lowering.py
    does not compute into a list, or instead of a numpy function that calls a function it is given
    (None for another function)."""
    kind = ITERATORS.get(made_by) if isinstance(made_by, collections.abc.Hashable) else None
    if kind is None and any(made_by is f for f in _CALLS_BACK):  # (np.vectorize(lambda v: v * a) over an active a)
        name = f"np.{made_by.__name__}"
        return (f"{name}(...) calls the function it is given, here with a value that carries a "
                f"derivative (an argument, or a value an inner function, lambda or "
                f"functools.partial passed to it reads), in a form sourcediff has no derivative "
                f"for; it follows np.vectorize(f) given the function alone (no otypes=, "
                f"signature=, excluded=), np.apply_along_axis and map. Write np.vectorize(f), "
                f"or pass the values as arguments (np.vectorize(lambda v, a: ...)(x, a)), or "
                f"write the function with numpy's elementwise operations")
    if kind is None or kind in ("map", "accumulate"):
        return None
    where = "" if made_by is ITERATORS_BUILTIN.get(kind) else "itertools."
    return (f"sourcediff computes the items of {where}{kind}(...) into a list where it is "
            f"made for the forms zip(a, b), enumerate(xs, start), reversed(xs), filter(f, xs), "
            f"chain(a, b), and with their counts written as "
            f"numbers islice(xs, 1, 3), product(a, b, repeat=2), combinations(xs, 2), "
            f"permutations(xs, 2); this call is in another form (keywords, *args, or a count "
            f"held in a variable). Write it in one of those forms, or build the list with a "
            f"comprehension (list(xs)[:n] for islice(xs, n))")


def iterator_kind(value, parsed, local_names=None):
    """The name of the iterator (``ITERATORS``) the call ``value`` makes, or None."""
    if not isinstance(value, gast.Call):
        return None
    made_by = static_object(parsed, value.func, local_names)
    try:
        return ITERATORS.get(made_by)
    except TypeError:  # (an object that cannot be hashed)
        return None


def _iterator_kind(value, parsed):
    if isinstance(value, gast.GeneratorExp):
        return "generator expressions"
    kind = iterator_kind(value, parsed)
    return f"{kind} iterators" if kind in ("map", "zip", "enumerate", "filter", "reversed") else \
        f"itertools.{kind} iterators"


def _one_shot(value, parsed):
    # (compiler/lowering.py computes these into a list where they are made)
    return isinstance(value, gast.GeneratorExp) or iterator_kind(value, parsed) is not None


def static_object(parsed, node, local_names=None):
    """What ``np.add`` or ``np`` (a name the function does not bind, ``local_names`` or else
    the names fence found bound, or an attribute chain on one) is in the function's closure or
    module, or builtins; None when it is local or not found."""
    chain = []
    while isinstance(node, gast.Attribute):
        chain.append(node.attr)
        node = node.value
    if local_names is None:
        local_names = getattr(parsed, "bound_names", ())
    if not isinstance(node, gast.Name) or node.id in local_names:
        return None
    scope = parsed.env if node.id in parsed.env else parsed.fn.__globals__
    obj = scope.get(node.id, getattr(builtins, node.id, None))
    for attr in reversed(chain):
        obj = getattr(obj, attr, None)
    return obj


def _loop_between(read, binding, parents):
    """Whether ``read`` sits in a loop body (or a comprehension) that does not hold
    ``binding``: it runs more than once per binding."""
    node = read
    while id(node) in parents:
        parent = parents[id(node)]
        if parent is binding:
            return False
        if isinstance(parent, _LOOPS) and not _runs_once_in(node, parent):
            return not any(n is binding for n in walk(parent))
        node = parent
    return False


def _runs_once_in(child, loop):
    """``child`` is the part of ``loop`` evaluated once: a for loop's iterable, the first
    iterable of a comprehension."""
    if isinstance(loop, gast.For):
        return child is loop.iter
    if isinstance(loop, (gast.ListComp, gast.GeneratorExp, gast.DictComp, gast.SetComp)):
        return child is loop.generators[0]  # (its iter alone runs once; close enough)
    return False


def _written_through(name, parents):
    """``name`` is the array of a subscript written (``y[0] = v``, ``y[0] += v``) or the
    receiver of a method that changes it (``y.append(v)``)."""
    parent = parents.get(id(name))
    if isinstance(parent, gast.Subscript) and isinstance(parent.ctx, gast.Store):
        return True
    if isinstance(parent, gast.Attribute) and writes_in_place(parent.attr):
        return isinstance(parents.get(id(parent)), gast.Call)
    return False


def _check_inner_writes(parsed, inner):
    """An inner function or lambda that writes into an array, list or dict of the enclosing
    function (``a[0] = v``, ``out.append(v)``, ``L.pop()`` with ``a``, ``out``, ``L`` free): the
    write would not reach the derivative of the enclosing code (a lambda appending to a list,
    given to a helper or to sorted(key=), gave a zero gradient)."""
    name = getattr(inner, "name", "lambda")
    who = f"the inner function {name}" if isinstance(inner, gast.FunctionDef) else "a lambda"
    bound = {n.id for n in walk(inner) if isinstance(n, gast.Name)
             and isinstance(n.ctx, (gast.Store, gast.Param))}
    for node in walk(inner):
        targets = node.targets if isinstance(node, gast.Assign) else \
            [node.target] if isinstance(node, gast.AugAssign) else []
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
                writes_in_place(node.func.attr):
            targets = [node.func]
        for t in targets:
            if isinstance(t, (gast.Subscript, gast.Attribute)) and \
                    isinstance(t.value, gast.Name) and t.value.id not in bound:
                refuse(parsed, t, f"writes from {who} into "
                       f"{t.value.id}, a variable of the enclosing code,",
                       f"return the new value from {name} and assign it "
                       f"({t.value.id} = {name}(...))")


def _check(parsed, root):
    # f(*args) passes a sequence's items: supported as an argument of a call (refused where it
    # would carry a derivative into named parameters, see reverse.bind_user_call and quote.bind)
    call_stars = {id(a) for n in walk(root) if isinstance(n, gast.Call) for a in n.args
                  if isinstance(a, gast.Starred)}
    # (a, *rest = seq: one starred name in a flat assignment target, see normalize.bind)
    call_stars |= {id(e) for n in walk(root) if isinstance(n, gast.Assign)
                   for t in n.targets if _one_starred_name(t) for e in t.elts
                   if isinstance(e, gast.Starred)}
    for node in walk(root):
        entry = _REFUSED.get(type(node))
        if entry is not None and id(node) not in call_stars:
            refuse(parsed, node, *entry)
        if isinstance(node, gast.AugAssign) and not isinstance(node.op, _SUPPORTED_AUGOPS):
            refuse(parsed, node, f"augmented assignment with {type(node.op).__name__}",
                   "write the operation out in full")
        if isinstance(node, gast.Assign):
            for target in node.targets:
                _check_target(parsed, target, starred=True)
        if isinstance(node, gast.AugAssign):
            _check_target(parsed, node.target)
        if isinstance(node, gast.Call):
            _check_outer_mutation(parsed, node)
        if isinstance(node, (gast.For, gast.comprehension)):
            _check_target(parsed, node.target)
        if isinstance(node, gast.Lambda) and (node.args.vararg or node.args.kwarg):
            refuse(parsed, node, "lambdas with *args/**kwargs", "use a def with named parameters")
        if isinstance(node, gast.FunctionDef) and node is not parsed.node:
            if node.decorator_list:
                refuse(parsed, node, "decorated inner functions", "define the inner function without "
                       "decorators or move it to module level")
            if node.args.vararg or node.args.kwarg:
                refuse(parsed, node, "inner functions with *args/**kwargs",
                       "give the inner function named parameters")
        if isinstance(node, gast.comprehension) and node.is_async:
            refuse(parsed, node, "async comprehensions", "use a plain comprehension")
        if isinstance(node, (gast.ListComp, gast.GeneratorExp, gast.DictComp, gast.Lambda)):
            inner = next((n for n in walk(node) if isinstance(n, gast.NamedExpr)), None)
            if inner is not None:  # (it binds in the function around it: normalize's loops
                # give comprehensions names of their own)
                refuse(parsed, inner, "assignment expressions (:=) inside a comprehension or a "
                       "lambda", "assign in a statement of its own")


# methods that change their list, dict or array in place
def _check_outer_mutation(parsed, call):
    """``LOG.append(v)`` with ``LOG`` a module-level (or enclosing) list, dict or array: like a
    subscript write into it, invisible to the derivative (sourcediff reads such values as
    constants), and the gradient call would change the user's data a second time."""
    func = call.func
    if not (isinstance(func, gast.Attribute) and writes_in_place(func.attr) and
            isinstance(func.value, gast.Name)):
        return
    name = func.value.id
    if name in getattr(parsed, "bound_names", (name,)):
        return
    value = parsed.env[name] if name in parsed.env else parsed.fn.__globals__.get(name)
    if not isinstance(value, (list, dict, set, bytearray, np.ndarray)):
        return  # a module (np.sort), or an object sourcediff does not look into
    refuse(parsed, call, f"calls that change {name} in place ({name}.{func.attr}(...)), a "
           f"{'value of the enclosing function' if name in parsed.env else 'module-level value'},",
           f"pass {name} in as an argument, or make a local copy ({name.lower()}_local = "
           f"{name}.copy()) and change that")


def _one_starred_name(target):
    """``a, *rest, z``: a flat tuple or list target with one starred name."""
    return isinstance(target, (gast.Tuple, gast.List)) and \
        sum(isinstance(e, gast.Starred) for e in target.elts) == 1 and \
        all(isinstance(e.value if isinstance(e, gast.Starred) else e, gast.Name)
            for e in target.elts)


def attribute_root(target):
    """For ``self.d["k"] = v`` or ``self.bn_params[i]["mode"] = v`` (a store by a string key,
    so into a dict, in what an attribute chain holds, at most two subscripts deep), the
    innermost attribute read (``self.d``, ``self.bn_params``), whose ``.value`` is a name; else
    None. Normalize writes it as Python runs it, in place (``t = self.d; t["k"] = v``), and the
    alias stage checks that no name read later sees a changed value that carries a derivative.
    (Not an array's or a list's item, self.W[0, 0] = 0.0: an earlier read of self.W whose
    derivative reads it after the write would see the new values.)"""
    key = target.slice
    if not (isinstance(key, gast.Constant) and isinstance(key.value, str) or
            isinstance(key, gast.JoinedStr) or isinstance(key, gast.BinOp) and
            isinstance(key.op, gast.Mod) and isinstance(key.left, gast.Constant) and
            isinstance(key.left.value, str)):
        return None
    node = target.value
    if isinstance(node, gast.Subscript):
        node = node.value
    if not isinstance(node, gast.Attribute):
        return None
    while isinstance(node.value, gast.Attribute):
        node = node.value
    return node if isinstance(node.value, gast.Name) else None


def _check_target(parsed, target, starred=False):
    if isinstance(target, (gast.Tuple, gast.List)):
        for elt in target.elts:
            if isinstance(elt, gast.Starred) and not (starred and _one_starred_name(target)):
                refuse(parsed, elt, "starred unpacking targets (a, *rest = ...)",
                       "index the sequence explicitly")
            _check_target(parsed, elt)
    elif isinstance(target, gast.Attribute):
        pass  # obj.attr = v runs as Python's setattr; one that carries a derivative is refused
    elif isinstance(target, gast.Subscript):
        if isinstance(target.value, gast.Subscript) and isinstance(target.value.value, gast.Name):
            target = target.value  # (a[i][j] = v: normalize writes a copy of a[i] back into a)
        elif attribute_root(target) is not None:
            target = attribute_root(target)  # (self.d[k] = v: into what self.d holds, in place)
        if not isinstance(target.value, gast.Name):
            refuse(parsed, target, "assignments into nested subscripts or attributes (a.b[i] = ..., "
                   "a[i][j][k] = ...)", "index with one subscript on a local name (a[i, j] = ...; "
                   "a store by a string key into a dict an attribute holds, self.d[\"k\"] = v, "
                   "is followed)")
        name = target.value.id
        if name not in getattr(parsed, "bound_names", (name,)):
            # sourcediff reads a global or closure value as a constant: a write into it would be
            # invisible to the derivative, and the gradient call would change the user's data
            refuse(parsed, target, f"writes into {name}, which is not a local variable of the "
                   "function (a module-level or enclosing value),",
                   f"copy it into a local first ({name.lower()}_local = {name}.copy()) and write "
                   "into that, or pass it in as an argument")




def _own_nodes(fdef):
    """The nodes of ``fdef``'s own body (not those of the functions and lambdas it defines)."""
    todo = list(fdef.body)
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (gast.FunctionDef, gast.Lambda)):
            todo.extend(children(node))


class _YieldToAppend(gast.NodeTransformer):
    def __init__(self, name):
        self.name = name

    def visit_FunctionDef(self, node):
        return node  # (an inner function's own yields and returns)

    def visit_Lambda(self, node):
        return node

    def visit_Expr(self, node):
        if isinstance(node.value, gast.Yield):
            append = gast.Attribute(value=gast.Name(id=self.name, ctx=gast.Load(), annotation=None,
                                                    type_comment=None), attr="append",
                                    ctx=gast.Load())
            return gast.copy_location(gast.Expr(value=gast.Call(func=append, args=[
                node.value.value], keywords=[])), node)
        return node

    def visit_Return(self, node):
        return gast.copy_location(gast.Return(value=gast.Name(
            id=self.name, ctx=gast.Load(), annotation=None, type_comment=None)), node)


def yields_as_list(parsed):
    """A generator function whose yields are statements ``yield v`` (autograd's unpack_layers:
    ``for m, n in shapes: yield W, b``) is read as the function that returns the list of what
    it yields, which every ``for`` over its result reads alike (its body runs to the end when it
    is called, not item by item). Any other use of yield is left to the fence to refuse, and so
    is a generator differentiated itself (the driver calls this for the functions it calls).
    Returns ``parsed``."""
    fdef = parsed.node
    own = list(_own_nodes(fdef))
    yields = [n for n in own if isinstance(n, (gast.Yield, gast.YieldFrom))]
    statements = {id(n.value) for n in own if isinstance(n, gast.Expr)}
    if not yields or any(isinstance(y, gast.YieldFrom) or y.value is None or
                         id(y) not in statements for y in yields) or \
            any(isinstance(n, gast.Return) and n.value is not None for n in own):
        return parsed
    name, taken = "_yielded", {n.id for n in walk(fdef) if isinstance(n, gast.Name)}
    while name in taken:
        name += "_"
    rewrite = _YieldToAppend(name)
    body = [rewrite.visit(s) for s in fdef.body]
    start = gast.Assign(targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None,
                                           type_comment=None)],
                        value=gast.List(elts=[], ctx=gast.Load()), type_comment=None)
    end = gast.Return(value=gast.Name(id=name, ctx=gast.Load(), annotation=None,
                                      type_comment=None))
    fdef.body = [gast.copy_location(start, fdef.body[0])] + body + [
        gast.copy_location(end, fdef.body[-1])]
    return parsed
