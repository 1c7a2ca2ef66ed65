"""Calls the normalize stage writes as other code: numpy's writes into a local array
(``np.add.at(a, i, v)``, ``np.exp(x, out=a)``, ``np.copyto(a, v)``, ``a.fill(v)``) as assignments
of a new array with the alias stage's marker of ``a += e``, and builtins as the comprehensions,
literals or operations they stand for (``map(f, xs)``, ``list(it)``, ``dict(zip(ks, vs))``,
``divmod(a, b)``, ``complex(a, b)``, ``max(xs, key=f)``). A mixin of
:class:`sourcediff.compiler.normalize.Normalizer`, whose ``atom``/``simple``/``emit`` it uses."""

import functools
import itertools
import keyword
import math

import gast
import numpy as np

from .. import runtime
from ..rules.quote import Substitute
from ..syntax import assign, call, clone, const, load, located, plain_lambda, store, walk
from .fence import iterator_kind

ALIAS_MARKER = "__sourcediff_augassign__"  # replaced or dropped by the alias stage
ADD_AT = "_sd_add_at"  # np.add.at(a, i, v) is written a = _sd_add_at(a, i, v) (runtime.add_at)
WRITE_INTO = "_sd_write_into"  # np.exp(x, out=a) is written a = _sd_write_into(a, np.exp(x), ...)
NP_WHERE = "_sd_np_where"  # np.copyto(a, v, where=m) writes np.where(m, v, a)
ITEM_TO_WRITE = "_sd_item_to_write"  # a[i][j] = v writes a copy of a[i] back (runtime.item_to_write)
WITH_ITEM = "_sd_with_item"  # ... into a tuple a as a = _sd_with_item(a, i, new) (runtime.with_item)
KEY_EXTREMUM = "_sd_key_extremum"  # max(xs, key=f) is written xs_[_sd_key_extremum(xs_, f, True)]
NP_SORT = "_sd_np_sort"  # a.sort(axis) writes np.sort(a, axis)
SORTS_AN_ARRAY = "_sd_sorts_an_array"  # (after a check that a is an array)
CYCLED = "_sd_cycled"  # np.put(a, i, v) is written a[_sd_put_positions(a, i)] = _sd_cycled(v, ...)
# (the positions np.put, np.place and np.fill_diagonal write: the name generated code calls them
# by and the function; POSITIONS_SHAPE, their count)
POSITIONS = {np.put: ("_sd_put_positions", runtime.put_positions),
             np.place: ("_sd_np_nonzero", np.nonzero),
             np.fill_diagonal: ("_sd_diagonal_positions", runtime.diagonal_positions),
             np.put_along_axis: ("_sd_along_axis_positions", runtime.along_axis_positions)}
BROADCAST_TO = "_sd_broadcast_to"  # (np.put_along_axis's values: broadcast, not cycled)
POSITIONS_SHAPE = "_sd_positions_shape"
PIECEWISE_CONDITIONS = "_sd_piecewise_conditions"  # np.piecewise's masks (runtime)
CHECK_LIST_METHOD = "_sd_check_list_method"  # lst.reverse() on a list only (runtime)
POP_POSITION = "_sd_pop_position"  # lst.pop(i): the position from the start (runtime)
REMOVE_POSITION = "_sd_remove_position"  # lst.remove(v): the position of v (runtime)
DICT_PAIRS = "_sd_dict_pairs"  # dict(d), {**d}: d's (key, value) pairs (runtime)
ITERATED = "_sd_iterated"  # list(d): a dict's keys, or the sequence itself (runtime)


class CallLowering:
    """The lowerings of calls (see the module docstring)."""

    def ufunc_at(self, value):
        """``np.add.at(a, i, v)`` or ``np.subtract.at(a, i, v)`` into a local array ``a`` (the
        static value of the callee is numpy's): that ufunc, else None."""
        if not (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and
                value.func.attr == "at" and len(value.args) == 3 and not value.keywords and
                isinstance(value.args[0], gast.Name) and value.args[0].id in self.locals and
                not any(isinstance(a, gast.Starred) for a in value.args)):
            return None
        obj = self.static_value(value.func.value)
        return obj if any(obj is u for u in (np.add, np.subtract)) else None

    def add_at(self, value, ufunc):
        """``np.add.at(a, i, v)`` as ``a = _sd.add_at(a, i, v)`` (``-v`` for np.subtract.at),
        with the alias stage's marker of ``a += e``: numpy writes into a's array in place, which
        no other name still read may share."""
        target = value.args[0].id
        v = value.args[2] if ufunc is np.add else gast.UnaryOp(op=gast.USub(),
                                                               operand=value.args[2])
        self.parsed.env.setdefault(ADD_AT, runtime.add_at)
        self.rebind_in_place(target, call(load(ADD_AT), [load(target), value.args[1], v]))

    def rebind_in_place(self, target, new, literal=None):
        """``target = new`` where numpy writes into target's array in place (``target op= e``,
        np.add.at, a whole write), after the alias stage's marker of that write, which holds the
        old value; ``literal``, numpy's own call, is what the alias stage puts back where the new
        name would not do (see write_into)."""
        marker = located(gast.Expr(value=call(load(ALIAS_MARKER), [load(target)])), self.loc)
        if literal is not None:
            marker.sd_literal = located(gast.Expr(value=literal), self.loc)
        self.out.append(marker)
        self.assign_name(target, self.simple(new, hint=target))
        marker.sd_alias_end = self.out[-1]

    def whole_write(self, value):
        """numpy's writes of a whole local array in place: ``np.exp(x, out=a)`` (a numpy function
        or ufunc given ``out=a`` or ``out=(a,)``, no ``where=``), ``np.copyto(a, v)`` (casting=,
        where=), ``a.fill(v)``: (a's name, the call, what the user wrote), else None."""
        if not isinstance(value, gast.Call) or any(isinstance(a, gast.Starred) for a in value.args) \
                or any(k.arg is None for k in value.keywords):
            return None
        func, keywords = value.func, {k.arg: k.value for k in value.keywords}
        if isinstance(func, gast.Attribute) and func.attr == "fill" and len(value.args) == 1 \
                and not keywords and self.local_name(func.value):
            return func.value.id, value, f"{func.value.id}.fill(...)"
        if isinstance(func, gast.Attribute) and func.attr == "sort" and len(value.args) + \
                len(keywords) <= 2 and set(keywords) <= {"axis", "kind"} and \
                self.local_name(func.value) and not (func.value.id in self.lists and not value.args
                                                     and not keywords):  # (an array's sort; a
            # list's takes key=, reverse=, and L.sort() of a list display is sorted(L))
            return func.value.id, value, f"{func.value.id}.sort(...)"
        fn = self.static_value(func)
        if not (isinstance(fn, np.ufunc) or (getattr(fn, "__module__", None) or "").split(".")[0]
                == "numpy"):
            return None
        if fn is np.copyto and len(value.args) >= 2 and self.local_name(value.args[0]) and \
                len(value.args) + len(keywords) <= 4 and set(keywords) <= {"casting", "where"}:
            return value.args[0].id, value, "np.copyto(...)"
        if fn is np.putmask and len(value.args) == 3 and not keywords and \
                self.local_name(value.args[0]):
            return value.args[0].id, value, "np.putmask(...)"
        out = keywords.get("out")
        if out is None and isinstance(fn, np.ufunc) and len(value.args) == fn.nin + 1:
            out = value.args[-1]  # (np.exp(x, a): a ufunc's out by position)
            value = gast.Call(func=func, args=value.args[:-1], keywords=value.keywords + [
                gast.keyword(arg="out", value=out)])
        if isinstance(out, gast.Tuple) and len(out.elts) == 1:
            out = out.elts[0]
        if out is None or "where" in keywords or not self.local_name(out):
            return None
        return out.id, value, f"np.{getattr(fn, '__name__', 'call')}(..., out={out.id})"

    def positions_write(self, value):
        """``np.put(a, ind, v, mode)``, ``np.place(a, mask, v)``, ``np.fill_diagonal(a, v,
        wrap)`` into a local array ``a``, written as the subscript assignment ``a[positions] =
        _sd.cycled(v, shape)`` they stand for (v's entries repeated to fill the positions, as
        numpy does); False for any other statement."""
        if not isinstance(value, gast.Call) or any(isinstance(a, gast.Starred) for a in value.args) \
                or any(k.arg is None for k in value.keywords):
            return False
        fn, args = self.static_value(value.func), list(value.args)
        keywords = {k.arg: k.value for k in value.keywords}
        if not any(fn is f for f in POSITIONS) or not args or not self.local_name(args[0]):
            return False
        a = args[0]
        if fn is np.put and 3 <= len(args) + len(keywords) <= 4 and set(keywords) <= {"mode"}:
            where = [a, args[1], args[3] if len(args) > 3 else keywords.get("mode", const("raise"))]
            v = args[2]
        elif fn is np.place and len(args) == 3 and not keywords:
            where, v = [args[1]], args[2]
        elif fn is np.fill_diagonal and 2 <= len(args) + len(keywords) <= 3 and \
                set(keywords) <= {"wrap"} and len(args) >= 2:
            where = [a, args[2] if len(args) > 2 else keywords.get("wrap", const(False))]
            v = args[1]
        elif fn is np.put_along_axis and len(args) + len(keywords) == 4 and \
                set(keywords) <= {"axis"} and len(args) >= 3:
            where = [a, args[1], args[3] if len(args) > 3 else keywords["axis"]]
            v = args[2]
        else:
            return False
        positions, find = POSITIONS[fn]
        self.parsed.env.setdefault(positions, find)
        spread, how = (BROADCAST_TO, np.broadcast_to) if fn is np.put_along_axis else \
            (CYCLED, runtime.cycled)
        self.parsed.env.setdefault(spread, how)
        self.parsed.env.setdefault(POSITIONS_SHAPE, runtime.positions_shape)
        at = self.name_of(call(load(positions), where), "at")
        values = call(load(spread), [v, call(load(POSITIONS_SHAPE), [at])])
        self.statement(located(gast.Assign(targets=[gast.Subscript(
            value=load(a.id), slice=at, ctx=gast.Store())], value=values, type_comment=None),
            self.loc))
        return True

    def list_pop(self, target, value):
        """``v = lst.pop(i)`` (``target`` v, or None for the statement ``lst.pop(i)``) on a local
        name with a position given: ``j = pop_position(lst, i); v = lst[j]; lst = lst[:j] +
        lst[j + 1:]`` after the list check (``lst.pop()`` from the end is the adjoint's own,
        see reverse.py); False for any other value."""
        if not (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and
                value.func.attr == "pop" and self.local_name(value.func.value) and
                len(value.args) == 1 and not value.keywords and
                not isinstance(value.args[0], gast.Starred)) or (
                    isinstance(value.args[0], gast.Constant) and
                    isinstance(value.args[0].value, str)):  # (d.pop("k"): a dict's)
            return False
        name = value.func.value.id
        self.parsed.env.setdefault(POP_POSITION, runtime.pop_position)
        self.check_list(name, "pop")
        at = self.name_of(call(load(POP_POSITION), [load(name), value.args[0]]), "at")
        item = gast.Subscript(value=load(name), slice=load(at.id), ctx=gast.Load())
        if target is not None:
            self.bind(target, item)
        self.rebind_in_place(name, _without(name, at.id))
        return True

    def list_method(self, value):
        """``lst.reverse()``, ``lst.insert(i, v)``, ``lst.extend(s)`` or ``lst.sort(key=f,
        reverse=r)`` (a keyword given: an array's sort takes none of them) on a local name, as
        the new list bound to the name with the alias stage's marker of ``lst += s`` (no other
        name still read may hold the list), after a check that it is a list; False for any other
        statement::

            lst.reverse()          lst = lst[::-1]
            lst.insert(i, v)       lst = lst[:i] + [v] + lst[i:]
            lst.extend(s)          lst = lst + list(s)
            lst.sort(key=f)        lst = sorted(lst, key=f)
            lst.clear()            lst = []
            lst.remove(v)          j = remove_position(lst, v); lst = lst[:j] + lst[j + 1:]
        """
        if not (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and
                self.local_name(value.func.value)) or \
                any(isinstance(a, gast.Starred) for a in value.args) or \
                any(k.arg is None for k in value.keywords):
            return False
        name, method, args, kws = value.func.value.id, value.func.attr, value.args, value.keywords
        lst = load(name)
        if method in ("update", "setdefault"):
            return self.dict_method(None, value)
        if method == "reverse" and not args and not kws:
            new = gast.Subscript(value=lst, slice=gast.Slice(None, None, const(-1)),
                                 ctx=gast.Load())
        elif method == "insert" and len(args) == 2 and not kws:
            at, item = self.atom(args[0], "at"), self.atom(args[1], "item")
            new = gast.BinOp(left=gast.BinOp(
                left=gast.Subscript(value=lst, slice=gast.Slice(None, at, None), ctx=gast.Load()),
                op=gast.Add(), right=gast.List(elts=[item], ctx=gast.Load())), op=gast.Add(),
                right=gast.Subscript(value=load(name), slice=gast.Slice(clone(at), None,
                                                                        None), ctx=gast.Load()))
        elif method == "extend" and len(args) == 1 and not kws:
            seq = gast.List(elts=args[0].elts, ctx=gast.Load()) if isinstance(
                args[0], (gast.List, gast.Tuple)) else call(load("list"), [args[0]])
            new = gast.BinOp(left=lst, op=gast.Add(), right=seq)
        elif method == "sort" and not args and (kws or name in self.lists) and \
                {k.arg for k in kws} <= {"key", "reverse"}:  # (a.sort() of an array: write_into)
            new = call(load("sorted"), [lst], kws)
        elif method == "clear" and not args and not kws:
            new = gast.List(elts=[], ctx=gast.Load())
        elif method == "remove" and len(args) == 1 and not kws:
            self.parsed.env.setdefault(REMOVE_POSITION, runtime.remove_position)
            self.check_list(name, method)
            at = self.name_of(call(load(REMOVE_POSITION), [lst, self.atom(args[0], "item")]),
                              "at")
            self.rebind_in_place(name, _without(name, at.id))
            return True
        else:
            return False
        self.check_list(name, method)
        self.rebind_in_place(name, new)
        return True

    def dict_method(self, target, value):
        """``d.update({"a": e, k: f}, b=g)`` and ``[v =] d.setdefault(k, e)`` on a name that holds a
        dict (:func:`dict_names`), the items given one by one, as the stores they make, after a
        check that d is a dict (the values first, as Python evaluates them before the call)::

            d.update({"a": e}, b=g)     d["a"] = e; d["b"] = g
            d.update([("a", e)])        d["a"] = e
            v = d.setdefault(k, e)      if k not in d: d[k] = e
                                        v = d[k]

        False for any other value (``d.update(other)``: its keys are known at run time only)."""
        if not (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and
                isinstance(value.func.value, gast.Name) and
                value.func.value.id in dict_names(self.parsed.node)) or \
                any(isinstance(a, gast.Starred) for a in value.args) or \
                any(k.arg is None for k in value.keywords):
            return False
        name, method, args, kws = value.func.value.id, value.func.attr, value.args, value.keywords
        if method == "update" and target is None and len(args) <= 1 and (not args or isinstance(
                args[0], gast.Dict) and all(k is not None for k in args[0].keys) or
                _written_pairs(args[0])):
            pairs = [] if not args else list(zip(args[0].keys, args[0].values)) if isinstance(
                args[0], gast.Dict) else [tuple(pair.elts) for pair in args[0].elts]
            pairs += [(const(k.arg), k.value) for k in kws]
        elif method == "setdefault" and len(args) == 2 and not kws:
            pairs = [(args[0], args[1])]
        else:
            return False
        self.check_list(name, method, "dict")
        pairs = [(self.atom(k, "key"), self.atom(v, "item")) for k, v in pairs]
        for key, item in pairs:
            store = gast.Assign(targets=[gast.Subscript(value=load(name), slice=key,
                                                        ctx=gast.Store())], value=item)
            if method == "setdefault":  # (not d.get(k, e): see tests/test_review61.py)
                self.statement(located(gast.If(test=gast.Compare(
                    left=clone(key), ops=[gast.NotIn()], comparators=[load(name)]),
                    body=[located(store, self.loc)], orelse=[]), self.loc))
            else:
                self.bind(store.targets[0], item)
        if target is not None:
            self.bind(target, gast.Subscript(value=load(name), slice=clone(pairs[0][0]),
                                             ctx=gast.Load()))
        return True

    def check_list(self, name, method, kind="list"):
        """``_sd.check_list_method(name, ...)`` before ``name.method(...)`` runs as a new list
        (``kind`` "dict": as stores into a dict)."""
        self.parsed.env.setdefault(CHECK_LIST_METHOD, runtime.check_list_method)
        self.emit(gast.Expr(value=call(load(CHECK_LIST_METHOD), [
            load(name), const(f"{name}.{method}(...)"), const(self.parsed.where(self.loc)),
            const(self.parsed.line_text(self.loc))] + ([const(kind)] if kind != "list" else []))))

    def local_name(self, node):
        return isinstance(node, gast.Name) and node.id in self.locals

    def write_into(self, target, value, what):
        """``target = _sd.write_into(target, v, casting, what)`` with the alias stage's marker of
        ``target += e`` (as np.add.at, see add_at); the marker keeps the user's call, its
        arguments evaluated, which the alias stage puts back where ``target`` may share memory
        with a name read later (a row of an array: numpy's write through it, which the analysis
        takes for values that carry no derivative and refuses for the others)."""
        args = [self.atom(a) for a in value.args]
        keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value)) for k in value.keywords]
        literal = gast.Call(func=value.func, args=args, keywords=keywords)
        named = dict(zip(("dst", "src", "casting", "where"), args), **{k.arg: k.value
                                                                      for k in keywords})
        casting = const("same_kind")
        if isinstance(value.func, gast.Attribute) and value.func.attr == "fill":
            written, casting = args[0], const("unsafe")
        elif isinstance(value.func, gast.Attribute) and value.func.attr == "sort":
            self.parsed.env.setdefault(NP_SORT, np.sort)
            self.parsed.env.setdefault(SORTS_AN_ARRAY, runtime.sorts_an_array)
            self.emit(gast.Expr(value=call(load(SORTS_AN_ARRAY), [load(target), const(what)])))
            written = gast.Call(func=load(NP_SORT), args=[load(target)] + args, keywords=keywords)
        elif what == "np.putmask(...)":  # (v's entries repeated over a's, where mask holds)
            self.parsed.env.setdefault(NP_WHERE, np.where)
            self.parsed.env.setdefault(CYCLED, runtime.cycled)
            shape = gast.Attribute(value=load(target), attr="shape", ctx=gast.Load())
            written, casting = call(load(NP_WHERE), [args[1], call(load(CYCLED), [
                args[2], shape]), load(target)]), const("unsafe")
        elif "out" not in named:  # np.copyto(dst, src, casting, where)
            written, casting = named["src"], named.get("casting", casting)
            if "where" in named:
                self.parsed.env.setdefault(NP_WHERE, np.where)
                written = call(load(NP_WHERE), [named["where"], written, load(target)])
        else:
            written = gast.Call(func=value.func, args=args,
                                keywords=[k for k in keywords if k.arg != "out"])
        self.parsed.env.setdefault(WRITE_INTO, runtime.write_into)
        self.rebind_in_place(target, call(load(WRITE_INTO), [load(target), written, casting,
                                                             const(what)]), literal)

    def builtin_as_comprehension(self, node):
        """``map(f, a, b)``, ``list(it)``, ``dict(zip(ks, vs))``, ``dict(k=v)`` and
        ``getattr(obj, "name")`` as the comprehension, literal or attribute they stand for (a
        list for map's iterator: every use of it here iterates it); ``divmod(a, b)`` as ``(a //
        b, a % b)``, ``complex(a, b)`` as ``a + 1j * b``, ``max(xs, key=f)`` as an item of
        ``xs`` taken by position; or None."""
        if isinstance(node, gast.Dict) and any(k is None for k in node.keys):
            return self.dict_of_pairs(list(zip(node.keys, node.values)), node)
        if not isinstance(node, gast.Call) or any(isinstance(a, gast.Starred)
                                                  for a in node.args):
            return None
        args, kws = node.args, node.keywords
        if _is_call_to(node, "getattr", self.locals) and len(args) == 2 and not kws and \
                isinstance(args[1], gast.Constant) and isinstance(args[1].value, str) and \
                args[1].value.isidentifier() and not keyword.iskeyword(args[1].value) and \
                not args[1].value.startswith("__"):  # getattr(self, "W"): self.W
            return located(gast.Attribute(value=args[0], attr=args[1].value, ctx=gast.Load()),
                           node)
        if _is_call_to(node, "map", self.locals) and len(args) >= 2 and not kws:
            fn, inline = args[0], plain_lambda(args[0], len(args) - 1)  # (map(lambda v: e, xs):
            names = [a.id for a in fn.args.args] if inline else [  # [e for v in xs])
                self.names.fresh("m") for _ in args[1:]]
            target = store(names[0]) if len(names) == 1 else gast.Tuple(
                elts=[store(n) for n in names], ctx=gast.Store())
            it = args[1] if len(args) == 2 else call(load("zip"), list(args[1:]))
            elt = clone(fn.body) if inline else call(fn, [load(n) for n in names])
            return located(gast.ListComp(elt=elt, generators=[gast.comprehension(
                target=target, iter=it, ifs=[], is_async=0)]), node)
        if _is_call_to(node, "list", self.locals) and len(args) == 1 and not kws and \
                not isinstance(args[0], (gast.List, gast.ListComp)):
            name, it = self.names.fresh("v"), args[0]
            if isinstance(it, (gast.Name, gast.Attribute, gast.Subscript)):  # (list(d): d's keys)
                self.parsed.env.setdefault(ITERATED, runtime.iterated)
                it = call(load(ITERATED), [it])
            return located(gast.ListComp(elt=load(name), generators=[gast.comprehension(
                target=store(name), iter=it, ifs=[], is_async=0)]), node)
        if self.static_value(node.func) is functools.reduce and 2 <= len(args) <= 3 and not kws:
            return self.reduce_loop(node, args[0], args[1], args[2] if len(args) == 3 else None)
        if self.static_value(node.func) is itertools.accumulate and 1 <= len(args) <= 2 and \
                {k.arg for k in kws} <= {"func", "initial"} and \
                ("func" not in {k.arg for k in kws} or len(args) == 1):
            named = {k.arg: k.value for k in kws}
            fn = args[1] if len(args) == 2 else named.get("func")
            fn = None if isinstance(fn, gast.Constant) and fn.value is None else fn
            return self.accumulate_list(node, fn, args[0], named.get("initial"))
        if self.static_value(node.func) is math.prod and len(args) == 1 and \
                [k.arg for k in kws] in ([], ["start"]):  # (math.prod(xs): start * x0 * x1 ...)
            return self.reduce_loop(node, None, args[0], kws[0].value if kws else const(1))
        if _is_call_to(node, "divmod", self.locals) and len(args) == 2 and not kws:
            a, b = self.atom(args[0]), self.atom(args[1])  # (each evaluated once)
            return located(gast.Tuple(elts=[gast.BinOp(left=a, op=gast.FloorDiv(), right=b),
                                            gast.BinOp(left=clone(a), op=gast.Mod(),
                                                       right=clone(b))],
                                      ctx=gast.Load()), node)
        if _is_call_to(node, "complex", self.locals) and len(args) == 2 and not kws:
            return located(gast.BinOp(left=args[0], op=gast.Add(), right=gast.BinOp(
                left=const(1j), op=gast.Mult(), right=args[1])), node)
        if any(_is_call_to(node, f, self.locals) for f in ("max", "min")) and len(args) == 1 \
                and [k.arg for k in kws] == ["key"]:
            # (max(xs, key=f): the first item where f is largest, found on values alone, then
            # taken from xs by position, so its derivative reaches that item)
            items = self.name_of(_as_list(args[0]), "items")
            self.parsed.env.setdefault(KEY_EXTREMUM, runtime.key_extremum)
            at = call(load(KEY_EXTREMUM), [items, kws[0].value, const(node.func.id == "max")])
            return located(gast.Subscript(value=items, slice=at, ctx=gast.Load()), node)
        if _is_call_to(node, "dict", self.locals) and not args and kws and \
                all(k.arg is not None for k in kws):
            return located(gast.Dict(keys=[const(k.arg) for k in kws],
                                     values=[k.value for k in kws]), node)
        if _is_call_to(node, "dict", self.locals) and len(args) == 1 and not kws and (
                _is_call_to(args[0], "zip", self.locals) and len(args[0].args) == 2 or
                iterator_kind(args[0], self.parsed, self.locals) not in (None, "zip")):
            # (dict(zip(ks, vs)), dict(enumerate(xs)): the pairs an iterator gives)
            k, v = self.names.fresh("k"), self.names.fresh("v")
            return located(gast.DictComp(key=load(k), value=load(v), generators=[
                gast.comprehension(target=gast.Tuple(elts=[store(k), store(v)],
                                                     ctx=gast.Store()),
                                   iter=args[0], ifs=[], is_async=0)]), node)
        if _is_call_to(node, "dict", self.locals) and len(args) == 1:
            # (dict(d), dict(d, k=v): the pairs of d, then the keywords')
            return self.dict_of_pairs([(None, args[0])] + [
                (None if k.arg is None else const(k.arg), k.value) for k in kws], node)
        if self.static_value(node.func) is np.piecewise:
            return self.piecewise_writes(node)
        return self.iterator_as_list(node)

    def dict_of_pairs(self, parts, node):
        """``{**d, "k": v, **e}`` and ``dict(d, k=v)`` (``parts``: (key, value), key None for
        what ``**`` unpacks) as the comprehension over their pairs in order, ``{k: v for k, v in
        _sd.dict_pairs(d) + [("k", v)] + _sd.dict_pairs(e)}``: a later key wins, as in Python,
        and each value keeps its derivative."""
        self.parsed.env.setdefault(DICT_PAIRS, runtime.dict_pairs)
        pairs, written = None, []
        for key, value in parts + [(None, None)]:
            if key is not None:
                written.append(gast.Tuple(elts=[key, value], ctx=gast.Load()))
                continue
            for piece in ([gast.List(elts=written, ctx=gast.Load())] if written else []) + (
                    [call(load(DICT_PAIRS), [value])] if value is not None else []):
                pairs = piece if pairs is None else gast.BinOp(left=pairs, op=gast.Add(),
                                                               right=piece)
            written = []
        k, v = self.names.fresh("k"), self.names.fresh("v")
        return located(gast.DictComp(key=load(k), value=load(v), generators=[gast.comprehension(
            target=gast.Tuple(elts=[store(k), store(v)], ctx=gast.Store()), iter=pairs, ifs=[],
            is_async=0)]), node)

    def piecewise_writes(self, node):
        """``np.piecewise(x, [c0, c1], [f0, f1, f2], *args, **kw)`` (the lists written out,
        each function a lambda, a function named statically or a number) as the writes numpy
        makes, so that each selection's derivative reaches x::

            x_ = np.asarray(x)
            conds = _sd.piecewise_conditions(x_, [c0, c1], 3)   # (numpy's masks, "otherwise")
            y = np.zeros_like(x_)
            cond = conds[0]
            if np.any(cond):
                y[cond] = f0(x_[cond], *args, **kw)
            ...

        None for another form (the call stays, refused without a rule)."""
        args, kws = node.args, node.keywords
        if len(args) < 3 or not isinstance(args[1], (gast.List, gast.Tuple)) or not \
                isinstance(args[2], (gast.List, gast.Tuple)) or not args[2].elts or \
                any(isinstance(a, gast.Starred) for a in args[1].elts + args[2].elts) or \
                any(k.arg is None for k in kws):
            return None
        funcs = []
        for f in args[2].elts:
            if isinstance(f, gast.Lambda) or callable(self.static_value(f)):
                funcs.append((f, True))
            elif isinstance(f, gast.Constant) and isinstance(f.value, (int, float, complex)):
                funcs.append((f, False))
            else:
                return None  # (a value known only at run time: a function or a number)
        x = self.name_of(call(gast.Attribute(value=load("_sd_np"), attr="asarray",
                                             ctx=gast.Load()), [args[0]]), "x")
        self.parsed.env.setdefault("_sd_np", np)
        self.parsed.env.setdefault(PIECEWISE_CONDITIONS, runtime.piecewise_conditions)
        conds = self.name_of(call(load(PIECEWISE_CONDITIONS), [x, args[1], const(len(funcs))]),
                             "conds")
        out = self.name_of(call(gast.Attribute(value=load("_sd_np"), attr="zeros_like",
                                               ctx=gast.Load()), [x]), "pieces")
        extra = [self.atom(a) for a in args[3:]]
        keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value)) for k in kws]
        for k, (f, is_call) in enumerate(funcs):
            cond = self.name_of(gast.Subscript(value=conds, slice=const(k), ctx=gast.Load()),
                                "cond")
            picked = gast.Subscript(value=load(x.id), slice=load(cond.id), ctx=gast.Load())
            body, value = [], f
            if is_call and plain_lambda(f, 1 + len(extra)) and not keywords and not any(
                    isinstance(n, gast.Lambda) for n in walk(f.body)):
                # (a lambda's body written out, its parameters bound to the arguments: what it
                # reads of the function is then read here, like any expression; not one with a
                # lambda inside, which would read the renamed parameter as a closure)
                bound = {}
                for p, a in zip(f.args.args, [picked] + extra):
                    bound[p.id] = self.names.fresh(p.id)
                    self.locals.add(bound[p.id])
                    body.append(assign(bound[p.id], clone(a)))
                value = Substitute(bound).visit(clone(f.body))
            elif is_call:
                value = gast.Call(func=f, args=[picked] + clone(extra),
                                  keywords=clone(keywords))
            body.append(gast.Assign(targets=[gast.Subscript(
                value=load(out.id), slice=load(cond.id), ctx=gast.Store())], value=value,
                type_comment=None))
            body = [located(b, self.loc) for b in body]
            if is_call:  # (numpy calls a function only on a selection that is not empty)
                body = [located(gast.If(test=call(gast.Attribute(
                    value=load("_sd_np"), attr="any", ctx=gast.Load()), [load(cond.id)]),
                    body=body, orelse=[]), self.loc)]
            for b in body:
                self.statement(b)
        return load(out.id)

    def iterator_as_list(self, node):
        """An iterator of ``zip``, ``enumerate``, ``filter``, ``reversed`` or itertools
        (``chain``, ``islice``, ``product``, ``combinations``, ``permutations``, ...) used as a
        value (a name's value, an argument, a loop over a tuple of its items) as the list its
        iteration gives, built by position so that a derivative reaches each item (the fence
        refuses reading it twice)::

            zip(a, b)              [(v1, v2) for v1, v2 in zip(a, b)]
            enumerate(xs, 1)       [(k, v) for k, v in enumerate(xs, 1)]
            reversed(xs)           [v for v in reversed(xs)]
            filter(f, xs)          [v for v in xs if f(v)]
            chain(a, b)            [v for s in (a, b) for v in s]
            islice(xs, 1, None)    [v for v in xs][1:None]
            combinations(xs, 2)    [(xs[i1], xs[i2]) for i1, i2 in
                                    tuple(combinations(range(len(xs)), 2))]

        None for another call, or one whose count of items per tuple is not written as a
        number (``permutations(xs)``), which stays what it was."""
        kind = iterator_kind(node, self.parsed, self.locals)
        if kind is None or any(isinstance(a, gast.Starred) for a in node.args) or \
                getattr(node, "sd_indices", False) or getattr(node, "sd_stepped", False):
            return None
        args, kws = node.args, {k.arg: k.value for k in node.keywords}
        if kind in ("zip", "enumerate", "filter", "reversed", "chain", "chain.from_iterable",
                    "islice"):
            return self.iterator_by_items(node, kind, args, kws)
        if kind not in ("product", "combinations", "combinations_with_replacement",
                        "permutations"):
            return None  # (map and accumulate: builtin_as_comprehension's, or left as they are)
        counts = {"product": len(args) * (_literal_int(kws.get("repeat", const(1))) or 0)}
        if kind != "product":
            r = args[1] if len(args) > 1 else kws.get("r")
            counts[kind] = _literal_int(r) if r is not None else None
        count = counts[kind]
        if not count or (kind == "product" and set(kws) - {"repeat"}) or \
                (kind != "product" and (len(args) + len(kws) > 2 or set(kws) - {"r"})):
            return None
        pools = [self.atom(p) for p in args[:1 if kind != "product" else len(args)]]
        ranges = []
        for pool in pools:  # (len(pool): _sd.loop_length, which refuses an iterator or a set)
            length = self.name_of(call(load("len"), [clone(pool)]), "n")
            self.out[-1].sd_loop_length = True
            ranges.append(call(load("range"), [length]))
        index = located(call(clone(node.func), ranges, node.keywords if kind == "product"
                             else [gast.keyword(arg="r", value=const(count))]), node)
        index.sd_indices = True  # (the index tuples themselves: made by the call, not lowered)
        names = [self.names.fresh("i") for _ in range(count)]
        pool_of = [pools[k % len(pools)] for k in range(count)]  # (product's repeat cycles)
        elt = gast.Tuple(elts=[gast.Subscript(value=clone(p), slice=load(n),
                                              ctx=gast.Load()) for p, n in zip(pool_of, names)],
                         ctx=gast.Load())
        return located(gast.ListComp(elt=elt, generators=[gast.comprehension(
            target=gast.Tuple(elts=[store(n) for n in names], ctx=gast.Store()),
            iter=call(load("tuple"), [index]), ifs=[], is_async=0)]), node)

    def iterator_by_items(self, node, kind, args, kws):
        """iterator_as_list's ``zip``, ``enumerate``, ``reversed``, ``filter``, ``chain`` and
        ``islice``."""
        v = self.names.fresh("v")
        if kind == "zip" and args and not kws:
            names = [self.names.fresh("v") for _ in args]
            return located(gast.ListComp(
                elt=gast.Tuple(elts=[load(n) for n in names], ctx=gast.Load()),
                generators=[gast.comprehension(target=gast.Tuple(
                    elts=[store(n) for n in names], ctx=gast.Store()), iter=node, ifs=[],
                    is_async=0)]), node)
        if kind == "reversed" and len(args) == 1 and not kws:  # (a loop over it reads backwards)
            return located(gast.ListComp(elt=load(v), generators=[gast.comprehension(
                target=store(v), iter=node, ifs=[], is_async=0)]), node)
        if kind == "enumerate" and 1 <= len(args) + len(kws) <= 2 and set(kws) <= {"start"}:
            k = self.names.fresh("k")
            return located(gast.ListComp(
                elt=gast.Tuple(elts=[load(k), load(v)], ctx=gast.Load()),
                generators=[gast.comprehension(target=gast.Tuple(
                    elts=[store(k), store(v)], ctx=gast.Store()), iter=node, ifs=[],
                    is_async=0)]), node)
        if kind == "filter" and len(args) == 2 and not kws:
            fn = args[0]
            if isinstance(fn, gast.Constant) and fn.value is None:
                test, target = load(v), store(v)
            elif plain_lambda(fn, 1):  # (filter(lambda k: k % 2 == 0, xs): its body, inline)
                test, target = clone(fn.body), store(fn.args.args[0].id)
            else:
                test, target = call(fn, [load(v)]), store(v)
            elt = load(target.id)
            return located(gast.ListComp(elt=elt, generators=[gast.comprehension(
                target=target, iter=args[1], ifs=[test], is_async=0)]), node)
        if kind in ("chain", "chain.from_iterable") and not kws and \
                (kind == "chain" or len(args) == 1):
            seqs = gast.Tuple(elts=list(args), ctx=gast.Load()) if kind == "chain" else args[0]
            s = self.names.fresh("s")
            return located(gast.ListComp(elt=load(v), generators=[
                gast.comprehension(target=store(s), iter=seqs, ifs=[], is_async=0),
                gast.comprehension(target=store(v), iter=load(s), ifs=[], is_async=0)]), node)
        if kind != "islice" or not 2 <= len(args) <= 4 or kws:
            return None
        bounds = [None, args[1], None] if len(args) == 2 else (list(args[1:]) + [None])[:3]
        if all(isinstance(b, gast.Constant) and (b.value is None or (_literal_int(b) or 0) >= 0
                                                 and _literal_int(b) is not None)
               for b in bounds if b is not None):
            # (numbers written out: islice refuses a negative one, a slice counts from the end)
            whole = gast.ListComp(elt=load(v), generators=[gast.comprehension(
                target=store(v), iter=args[0], ifs=[], is_async=0)])
            return located(gast.Subscript(value=whole, slice=gast.Slice(*bounds),
                                          ctx=gast.Load()), node)
        return None


    def accumulate_list(self, node, fn, seq, init):
        """``itertools.accumulate(seq, fn, initial=init)`` as the list its iterator gives: the
        running ``acc = fn(acc, item)`` (``acc + item`` for no ``fn``) after the first item, or
        after ``init`` (the fence refuses one read more than once); the list's name."""
        if isinstance(init, gast.Constant) and init.value is None:
            init = None
        return self.reduce_loop(node, fn, seq, init, self.names.fresh("running"))

    def reduce_loop(self, node, fn, seq, init, collect=None):
        """``functools.reduce(fn, seq, init)`` as the loop it runs (``acc = fn(acc, item)`` for
        each item of ``list(seq)`` after the first, or after ``init``; ``acc * item`` for no
        ``fn``: math.prod); the accumulator's name. With ``collect`` (a name), the list of the
        accumulator's values is built there (itertools.accumulate, ``acc + item`` for no ``fn``)
        and its name returned."""
        items, acc, k = self.names.fresh("items"), self.names.fresh("acc"), self.names.fresh("k")
        self.statement(located(assign(items, _as_list(seq)), node))
        first = init if init is not None else gast.Subscript(
            value=load(items), slice=const(0), ctx=gast.Load())
        if collect is not None and init is None:  # (an empty sequence gives an empty list)
            self.statement(located(assign(collect, gast.Subscript(value=load(items), slice=gast.Slice(
                lower=None, upper=const(1), step=None), ctx=gast.Load())), node))  # ([] or [x0])
            first = gast.IfExp(test=load(items), body=first, orelse=const(0.0))
        self.statement(located(assign(acc, first), node))
        if collect is not None and init is not None:
            self.statement(located(assign(collect, gast.List(elts=[load(acc)], ctx=gast.Load())),
                                   node))
        item = gast.Subscript(value=load(items), slice=load(k), ctx=gast.Load())
        if fn is None:
            step = gast.BinOp(left=load(acc), op=gast.Add() if collect is not None else gast.Mult(),
                              right=item)
        elif plain_lambda(fn, 2) and not any(  # (reduce(lambda a, b: a @ b, ms): its body,
                isinstance(n, (gast.Lambda, gast.comprehension)) for n in walk(fn.body)):
            # inline, where no inner scope may bind the same names)
            names = {a.id: n for a, n in zip(fn.args.args, (load(acc), item))}
            step = Substitute(names).visit(clone(fn.body))
        else:
            step = call(clone(fn), [load(acc), item])
        body = [assign(acc, step)]
        if collect is not None:
            body.append(assign(collect, gast.BinOp(left=load(collect), op=gast.Add(), right=gast.List(
                elts=[load(acc)], ctx=gast.Load()))))
        loop = gast.For(target=store(k), iter=call(load("range"), [
            const(0 if init is not None else 1), call(load("len"), [load(items)])]),
            body=body, orelse=[], type_comment=None)
        self.statement(located(loop, node))
        return load(acc if collect is None else collect)


def _is_call_to(node, name, local_names):
    return (isinstance(node, gast.Call) and isinstance(node.func, gast.Name)
            and node.func.id == name and name not in local_names)


def _literal_int(node):
    """The int a constant ``node`` holds (not a bool), or None."""
    value = getattr(node, "value", None) if isinstance(node, gast.Constant) else None
    return value if type(value) is int else None


def _as_list(node):
    """``list(node)``, or a list display itself."""
    return node if isinstance(node, (gast.List, gast.ListComp)) else call(load("list"), [node])


def _without(name, at):
    """``name[:at] + name[at + 1:]``: the list without its item at position ``at`` (a name)."""
    return gast.BinOp(left=gast.Subscript(value=load(name), slice=gast.Slice(
        None, load(at), None), ctx=gast.Load()), op=gast.Add(), right=gast.Subscript(
        value=load(name), slice=gast.Slice(gast.BinOp(left=load(at), op=gast.Add(),
                                                      right=const(1)), None, None),
        ctx=gast.Load()))


def tuple_names(fdef):
    """The names that hold a tuple wherever ``fdef`` reads them: its ``*args`` parameter, and names
    bound only by ``t = (a, b)`` (a nested function's bindings of the name, a parameter of that
    name or any other binding leave it out). ``t[i][j] = v`` writes ``t[i]`` back into such a
    name as a new tuple: Python cannot store into a tuple."""
    return _bound_only_to(fdef, (gast.Tuple,), fdef.args.vararg)


def list_names(fdef):
    """The names bound only by ``L = [...]`` or a list comprehension in ``fdef`` (a list wherever
    it is read: ``L.sort()`` sorts that list, not an array)."""
    return _bound_only_to(fdef, (gast.List, gast.ListComp), None)


def dict_names(fdef):
    """The names that hold a dict wherever ``fdef`` reads them, as :func:`tuple_names`: its
    ``**kwargs`` parameter, names bound only by ``d = {...}`` or a dict comprehension."""
    return _bound_only_to(fdef, (gast.Dict, gast.DictComp), fdef.args.kwarg)


def _bound_only_to(fdef, displays, star):
    targets = [node.targets[0] for node in walk(fdef)
               if isinstance(node, gast.Assign) and len(node.targets) == 1 and
               isinstance(node.targets[0], gast.Name) and isinstance(node.value, displays)]
    skip = {id(t) for t in targets} | {id(star)}
    other = {node.id for node in walk(fdef) if isinstance(node, gast.Name) and
             not isinstance(node.ctx, gast.Load) and id(node) not in skip}
    return ({t.id for t in targets} | ({star.id} if star is not None else set())) - other


def _written_pairs(node):
    """Whether ``node`` is a list or tuple display of pairs written out (``[("a", e), (k, f)]``),
    none starred: the items ``d.update(node)`` stores, in order."""
    return isinstance(node, (gast.List, gast.Tuple)) and all(
        isinstance(pair, gast.Tuple) and len(pair.elts) == 2 and
        not any(isinstance(e, gast.Starred) for e in pair.elts) for pair in node.elts)
