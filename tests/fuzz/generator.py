"""A seeded generator of random numpy programs ``def f(x, y, s)`` over the compiler's grammar."""

import ast
import importlib.util
import itertools
import math
import os
import random
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np

from tests.fuzz.extras import MODEL as EXTRAS_MODEL
from tests.fuzz.extras import MODEL_DECORATED as EXTRAS_MODEL_DECORATED
from tests.fuzz.extras import MODULE as EXTRAS_MODULE
from tests.fuzz.extras import NEW
from tests.fuzz.extras import emit as emit_extra
from tests.fuzz.extras2 import MODULE as EXTRAS2_MODULE
from tests.fuzz.extras2 import NEW as NEW2
from tests.fuzz.extras2 import emit as emit_extra2
from tests.fuzz.extras3 import IMPORTS as EXTRAS3_IMPORTS
from tests.fuzz.extras3 import NEW as NEW3
from tests.fuzz.extras3 import emit as emit_extra3

# Every construct the generator can produce; a program records the ones it used.
FEATURES = frozenset({
    "arith", "div", "unary", "reduce", "keepdims", "method", "maxmin", "where", "transpose",
    "reshape", "matmul", "index_int", "slice", "step_slice", "if", "elif", "ternary", "boolop",
    "for_range", "for_rows", "enumerate", "zip", "while", "break", "continue", "early_return",
    "helper", "helper_default", "recursion", "lambda", "inner_def", "comprehension",
    "list_append", "tuple", "dict", "setitem", "aug_setitem", "augassign", "param_inplace",
    "math", "int_arith",
    # in-place updates of an array another live name still refers to (numpy aliasing)
    "alias_inplace",
    # a helper writing into its array parameter (numpy: the caller's array changes)
    "helper_inplace",
    # creation functions whose fill value / ends carry derivatives: np.full(shape, a),
    # np.full_like(v, a), np.linspace(a, b, n), np.heaviside(x1, a)
    "np_full", "np_linspace", "np_heaviside",
    # index-trick concatenation with active items: np.r_[v, a, 0:2], np.c_[u, w]
    "np_r", "np_c",
    # tuple/list concatenation and repetition ((u,) + (v,), [u] + [v, w], [u, v] * 2), items used
    "seq_concat", "seq_repeat",
    # a module-level helper drawing from a RandomState that f re-creates from a constant seed
    # (f stays deterministic; the helper must run once per gradient call)
    "random_helper",
    # g = make(a); g(v): a closure carrying an active value (refused by the compiler)
    "closure_active",
    # def cat(*arrays): np.concatenate(arrays): active arguments (refused), constants only (works)
    "star_args", "star_args_const",
    # an active value written into a module-level object's dict / array attribute, then read
    # back through a method (refused with an AliasError, or right)
    "object_dict", "object_array",
    # an in-place update of an array that is also an item of a tuple/list made by + or *, read
    # through a name bound from that item (z *= x after v = ((z,) + (s,))[0]): numpy changes v;
    # refused (AliasError) since main's 1acb9e6 (was a wrong gradient)
    "seq_alias_inplace",
    # an active value stored in an attribute of a module-level object by f (BOX.w = a) and read
    # back (BOX.readw(v) or BOX.w): refused at the line since main's f3fedeb (896d65d had made
    # it a silent zero)
    "object_attr",
    # the same through a method (BOX.set(a) doing self.w = v): refused since it was found here
    # (a silent zero: the call was a statement sourcediff did not look into)
    "object_attr_method",
    # an active value cached on self by a method that returns it (BOX.cache(a): self.c = v), then
    # either used through the returned value (works: the cache is only written), read back
    # through a method (BOX.readc(t): refused at the read, an AliasError), or stored and read
    # back in f's own block (BOX.c = a; t * BOX.c: the read takes the stored value)
    "object_cache",
    # a store through an integer-array index that names an element twice (y[[i, i, j]] = v):
    # numpy keeps the last write (reverse mode gave every write a gradient)
    "fancy_setitem",
    # a value popped from a list built by appends, kept and used or dropped (parts.pop()): the
    # adjoint once restored items at the wrong place (a dropped pop had no adjoint at all)
    "list_pop",
    # review26's constructs (tests/fuzz/extras.py): *seq / **d calls and forwarding wrappers,
    # functools.wraps decorated helpers and methods, np.add.at, np.vectorize, take_along_axis,
    # sliding_window_view, bincount with weights, the nan reductions
    *NEW,
    # review31's constructs (tests/fuzz/extras2.py): whole-array writes (out=, np.copyto,
    # .fill) into local arrays, their views and aliases, functools.reduce, math.prod, max/min
    # with key=, starred unpacking, divmod, complex, getattr, loops carrying a product
    *NEW2,
    # review35's constructs (tests/fuzz/extras3.py): with np.errstate / catch_warnings blocks (in
    # loops, with jumps and returns inside), np.put/putmask/place/fill_diagonal and a.sort() into a
    # local array, its alias or view, and the rules of sessions 19-20 (accumulate, scipy.stats,
    # convolve2d, cond, eigvals, statistics, draws with parameters, fmax/fmin), a[i][j] = v, d.get
    *NEW3,
})
# every other construct is on by default: an in-place update another live name would see (numpy
# aliasing) is refused by the compiler with an AliasError, and counted as refused
DEFAULT_FEATURES = FEATURES

_UNARY = [
    "np.sin({})", "np.cos({})", "np.tanh({})", "np.exp(np.tanh({}))", "np.log1p(({}) ** 2)",
    "np.sqrt(1.0 + ({}) ** 2)", "-{}", "({}) ** 2", "np.square({})", "1.0 / (1.0 + ({}) ** 2)",
    "np.arctan({})", "np.exp(-({}) ** 2)",
]
_ELEMENTWISE_BODIES = [  # shape-preserving bodies for lambdas, inner defs, comprehensions
    "np.tanh({0}) * 0.5 + {0}", "np.sin({0}) * 0.9", "{0} * {0} * 0.25 + 0.1",
    "np.cos({0}) - 0.5 * {0}", "np.log1p({0} ** 2)",
]


@dataclass
class Var:
    """A variable of the generated program: its shape and which array object it refers to."""

    shape: tuple
    bases: frozenset  # the array objects it may refer to (names sharing one alias each other)
    array: bool = True  # False for Python floats and numpy scalars (rebinding, never in place)


@dataclass
class Helper:
    """A generated helper function: parameter shapes, result shape, its name."""

    name: str
    params: list
    result: tuple
    default: bool = False


@dataclass
class RandomHelper:
    """``def noisy(a, rs)``: returns ``a`` plus or times draws from ``rs``; which shapes it keeps."""

    name: str
    text: str
    shape: tuple  # a shape it accepts
    rank: int = 0  # accepts shapes of at least this rank
    last: int = 0  # nonzero: accepts only shapes whose last axis has this length

    def accepts(self, shape):
        return len(shape) >= self.rank and (not self.last or (shape and shape[-1] == self.last))


_RANDOM_BODIES = [  # (body, rank, needs a fixed last axis)
    ("a + 0.1 * rs.normal(size=np.shape(a))", 0, False),
    ("a * (1.0 + 0.1 * rs.standard_normal(np.shape(a)))", 0, False),
    ("a + rs.uniform(-0.1, 0.1, size=np.shape(a))", 0, False),
    ("a + 0.1 * rs.randn()", 0, False),
    ("a + 0.1 * rs.randn(a.shape[-1])", 1, False),
    ("a * np.exp(0.1 * rs.normal(0.0, 1.0, a.shape))", 1, False),
    ("a + 0.1 * rs.randn(*np.shape(a))", 0, False),  # starred draws run since main's 86ac7cb
    ("a + 0.1 * rs.randn({last})", 1, True),
]

_MODULE_PARTS = {
    "closure_active": "def make(c):\n    def inner(t):\n        return ({body}) * c\n"
                      "    return inner",
    "star_args": "def cat(*arrays):\n    return np.concatenate(arrays)",
    "object": "class Box:\n    def __init__(self):\n        self.d = {'w': 0.5}\n"
              "        self.arr = np.zeros(3)\n        self.w = 0.5\n        self.c = 0.5\n\n    def read(self, t):\n"
              "        return t * self.d['w']\n\n    def reada(self, t, k):\n"
              "        return t * self.arr[k]\n\n    def set(self, v):\n        self.w = v\n\n"
              "    def readw(self, t):\n"
              "        return t * self.w\n\n"
              "    def cache(self, v):\n        self.c = v\n        return v * 2.0\n\n"
              "    def readc(self, t):\n        return t * self.c\n\n\nBOX = Box()",
}


@dataclass
class Program:
    """One generated program: the module text and how to make its arguments."""

    seed: int
    source: str
    x_shape: tuple
    y_shape: tuple
    features: frozenset = field(default_factory=frozenset)

    def args(self, seed=None):
        """``(x, y, s)`` drawn from a standard normal (seeded by the program's seed)."""
        return make_args((self.x_shape, self.y_shape), self.seed if seed is None else seed)


def make_args(shapes, seed):
    """``(x, y, s)`` for a program whose module says ``SHAPES = (x shape, y shape)``."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shapes[0]), rng.normal(size=shapes[1]), float(rng.normal()))


class _Gen:
    def __init__(self, seed, features, forced=frozenset()):
        self.rng = random.Random(seed)
        self.extra_rng = random.Random(f"extra {seed}")
        self.forced = frozenset(forced)  # constructs every program gets (run.py --force)
        self.allowed = frozenset(features)
        self.used = set()
        self.lines = []
        self.indent = 1
        self.env = {}
        self.ints = {}  # int loop variable -> exclusive upper bound of its values
        self.int_scalars = []  # int counters usable in arithmetic only
        self.counter = itertools.count()
        self.bases = itertools.count(1)
        self.helpers = []
        self.elementwise = []  # names of shape-preserving callables (lambdas, inner defs)
        self.loop_depth = 0
        self.block_depth = 0
        self.uses_math = False
        self.in_helper = False
        self.sizes = [2, 3, 4]
        self.rs_helper = None  # the module's RandomState-drawing helper, if any
        self.special_outputs = []  # names bound by the uses of the module-level constructs
        self.seq_bases = set()  # array objects that are items of a sequence made by + or *
        # review26's constructs: drawn from a stream of their own (older seeds' programs stay)
        self.new_rng = random.Random(f"review26 {seed}")
        self.new_kinds = []
        # review31's constructs: a stream of their own again
        self.r31_rng = random.Random(f"review31 {seed}")
        self.r31_kinds = []
        # review35's constructs: a stream of their own again
        self.r35_rng = random.Random(f"review35 {seed}")
        self.r35_kinds = []

    # ------------------------------------------------------------------ small helpers

    def on(self, feature, p=1.0):
        if feature in self.forced:
            return True
        return feature in self.allowed and self.rng.random() < p

    def on_extra(self, feature, p):
        """``on`` for a construct added after seeds were recorded: drawn from a stream of its
        own, so every older construct's programs stay the same for the same seed."""
        if feature in self.forced:
            return True
        return feature in self.allowed and self.extra_rng.random() < p

    def use(self, feature):
        self.used.add(feature)

    def fresh(self, stem="v"):
        return f"{stem}{next(self.counter)}"

    def emit(self, line):
        self.lines.append("    " * self.indent + line)

    def const(self, lo=-0.8, hi=0.8):
        return repr(round(self.rng.uniform(lo, hi), 2))

    def shape_pool(self):
        shapes = {v.shape for v in self.env.values()}
        shapes.add(())
        return sorted(shapes, key=lambda t: (len(t), t))

    def pick_shape(self):
        pool = self.shape_pool()
        extra = []
        for t in pool:
            if len(t) == 2:
                extra.append((t[1], t[0]))
            if len(t) >= 1:
                extra.append((t[-1],))
        return self.rng.choice(pool + pool + extra)

    def sub_shape(self, shape):
        """A shape that broadcasts to ``shape`` (often ``shape`` itself)."""
        r = self.rng.random()
        if r < 0.5 or not shape:
            return shape
        if r < 0.7:
            return ()
        out = list(shape[self.rng.randrange(len(shape) + 1):]) if self.rng.random() < 0.5 \
            else list(shape)
        for k in range(len(out)):
            if self.rng.random() < 0.4:
                out[k] = 1
        return tuple(out)

    def shared(self, name):
        """True when another live name refers to the same array object as ``name``."""
        v = self.env[name]
        return any(o.bases & v.bases for n, o in self.env.items() if n != name)

    def mutable(self, name, need_array=True):
        """Whether an in-place update of ``name`` is something the generator may write."""
        v = self.env[name]
        if need_array and not v.array:
            return False
        if v.array and v.bases & self.seq_bases and "seq_alias_inplace" not in self.allowed:
            return False
        if v.array and min(v.bases) < 0 and self.in_helper:
            return "helper_inplace" in self.allowed
        if v.array and min(v.bases) < 0 and "param_inplace" not in self.allowed:
            return False  # parameter arrays belong to the caller
        if v.array and (self.shared(name) or v.bases & self.pinned):
            return "alias_inplace" in self.allowed
        return True

    # ------------------------------------------------------------------ expressions

    def int_index(self, dim):
        """An int expression in range for an axis of length ``dim``."""
        opts = [str(self.rng.randrange(-dim, dim))]
        for name, bound in self.ints.items():
            if bound <= dim:
                opts += [name, name]
                if self.on("int_arith", 0.5):
                    opts.append(f"{bound - 1} - {name}")
        pick = self.rng.choice(opts)
        if pick in self.ints:
            self.use("for_range")
        return pick

    def slice_for(self, q, p):
        """A slice text taking ``p`` elements of an axis of length ``q`` (q >= p)."""
        if self.on("step_slice", 0.4):
            for _ in range(40):
                start = self.rng.choice([None, 0, 1, 2, -1, -2, q - 1])
                stop = self.rng.choice([None, q, q - 1, 1, 2, -1, -q - 1])
                step = self.rng.choice([2, -1, -2, 3])
                if len(range(q)[slice(start, stop, step)]) == p:
                    self.use("step_slice")
                    return (f"{'' if start is None else start}:{'' if stop is None else stop}"
                            f":{step}")
        a = self.rng.randrange(q - p + 1)
        self.use("slice")
        if a == 0 and self.rng.random() < 0.5:
            return f":{p}" if p < q else ":"
        if a + p == q and self.rng.random() < 0.5:
            return f"{a}:"
        return f"{a}:{a + p}"

    def derive(self, name, shape, target):
        """Ways to obtain shape ``target`` from variable ``name`` of shape ``shape``."""
        out = []
        if shape == target:
            out += [name] * 3
        if shape[1:] == target and shape and self.on("index_int"):
            out.append((f"{name}[{self.int_index(shape[0])}]", "index_int"))
        if len(shape) == 2 and target == (shape[0],) and self.on("index_int"):
            out.append((f"{name}[:, {self.int_index(shape[1])}]", "index_int"))
        if len(shape) == 2 and target == () and self.on("index_int"):
            out.append((f"{name}[{self.int_index(shape[0])}, {self.int_index(shape[1])}]",
                        "index_int"))
        if len(shape) == len(target) and shape and shape != target \
                and all(q >= p for q, p in zip(shape, target)) and self.on("slice"):
            parts = [self.slice_for(q, p) for q, p in zip(shape, target)]
            out.append((f"{name}[{', '.join(parts)}]", "slice"))
        if len(shape) == 2 and target == (shape[1], shape[0]) and shape[0] != shape[1] \
                and self.on("transpose"):
            out.append((f"{name}.T", "transpose"))
        if target == () and shape and self.on("reduce"):
            out.append((f"np.sum({name})", "reduce"))
        if len(shape) == len(target) + 1 and self.on("reduce"):
            for k in range(len(shape)):
                if shape[:k] + shape[k + 1:] == target:
                    fn = self.rng.choice(["np.sum", "np.mean"])
                    out.append((f"{fn}({name}, axis={k})", "reduce"))
        if shape and target and shape != target and math.prod(shape) == math.prod(target) \
                and self.on("reshape"):
            out.append((f"{name}.reshape({', '.join(map(str, target))})", "reshape"))
        return out

    def leaf(self, target):
        cands = []
        for name, v in self.env.items():
            cands += self.derive(name, v.shape, target)
        if target == ():
            cands += ["s", self.const()] if "s" in self.env else [self.const()]
            for name in self.int_scalars + list(self.ints):
                if self.on("int_arith", 0.5):
                    cands.append((f"(0.1 * {name})", "int_arith"))
        if not cands:
            scalar = self.leaf(())
            return f"(({scalar}) * np.ones({target!r}))"
        pick = self.rng.choice(cands)
        if isinstance(pick, tuple):
            self.use(pick[1])
            return pick[0]
        return pick

    def expr(self, target, depth):
        """An expression whose value has exactly the shape ``target``."""
        if depth <= 0 or self.rng.random() < 0.25:
            return self.leaf(target)
        d = depth - 1
        choices = ["arith"] * 4 + ["unary"] * 3 + ["leaf"]
        for feat, w in [("div", 1), ("maxmin", 1), ("where", 1), ("ternary", 1),
                        ("reduce", 2), ("index_int", 1), ("slice", 1), ("matmul", 1),
                        ("transpose", 1), ("reshape", 1), ("helper", 2), ("recursion", 1),
                        ("lambda", 1), ("comprehension", 1), ("math", 1), ("method", 1),
                        ("np_full", 1), ("np_linspace", 1), ("np_heaviside", 1), ("np_r", 1),
                        ("np_c", 1)]:
            if feat in self.allowed:
                choices += [feat] * w
        if self.rs_helper and not self.in_helper:
            choices += ["random_helper"] * 2
        kind = self.rng.choice(choices)
        r = self.rng
        if kind == "arith":
            a, b = self.expr(target, d), self.expr(self.sub_shape(target), d)
            if r.random() < 0.5:
                a, b = b, a
            self.use("arith")
            return f"({a} {r.choice(['+', '-', '*', '*'])} {b})"
        if kind == "div":
            a, b = self.expr(target, d), self.expr(self.sub_shape(target), d)
            self.use("div")
            if r.random() < 0.5:
                return f"({a} / (1.0 + ({b}) ** 2))"
            return f"({a} / (2.0 + np.tanh({b})))"
        if kind == "unary":
            self.use("unary")
            text = r.choice(_UNARY).format(self.expr(target, d))
            return text if text.startswith("np.") else f"({text})"
        if kind == "maxmin":
            a, b = self.expr(target, d), self.expr(self.sub_shape(target), d)
            if a == b:
                return a
            self.use("maxmin")
            return f"np.{r.choice(['maximum', 'minimum'])}({a}, {b})"
        if kind == "where":
            c = self.expr(self.sub_shape(target), d)
            a, b = self.expr(target, d), self.expr(self.sub_shape(target), d)
            self.use("where")
            return f"np.where({c} > {self.const()}, {a}, {b})"
        if kind == "ternary":
            self.use("ternary")
            return f"({self.expr(target, d)} if {self.cond(d)} else {self.expr(target, d)})"
        if kind == "reduce":
            return self.reduce(target, d)
        if kind == "index_int" and len(target) < 2:
            dim = r.choice([v.shape[0] for v in self.env.values() if v.shape[1:] == target
                            and v.shape] or self.sizes)
            self.use("index_int")
            return f"({self.expr((dim,) + target, d)})[{self.int_index(dim)}]"
        if kind == "slice" and target and len(target) <= 2:
            big = r.choice([v.shape for v in self.env.values() if len(v.shape) == len(target)
                            and all(q >= p for q, p in zip(v.shape, target))]
                           or [tuple(p + r.choice([0, 0, 1, 2]) for p in target)])
            parts = [self.slice_for(q, p) for q, p in zip(big, target)]
            return f"({self.expr(big, d)})[{', '.join(parts)}]"
        if kind == "matmul" and len(target) <= 2:
            k = r.choice([v.shape[-1] for v in self.env.values() if v.shape
                          and v.shape[:-1] == target[:1]] or self.sizes)
            self.use("matmul")
            if len(target) == 2:
                return f"({self.expr((target[0], k), d)} @ {self.expr((k, target[1]), d)})"
            if len(target) == 1:
                return f"({self.expr((target[0], k), d)} @ {self.expr((k,), d)})"
            return f"np.dot({self.expr((k,), d)}, {self.expr((k,), d)})"
        if kind == "transpose" and len(target) == 2:
            self.use("transpose")
            inner = self.expr((target[1], target[0]), d)
            return f"np.transpose({inner})" if r.random() < 0.5 else f"({inner}).T"
        if kind == "reshape" and target and math.prod(target) > 1:
            n = math.prod(target)
            src = (n,) if len(target) == 2 else next(
                ((a, n // a) for a in (2, 3, 4) if n % a == 0 and a < n), None)
            if src:
                self.use("reshape")
                shape_text = ", ".join(map(str, target))
                if r.random() < 0.5:
                    return f"np.reshape({self.expr(src, d)}, ({shape_text},))"
                return f"({self.expr(src, d)}).reshape({shape_text})"
        if kind == "np_full" and target:
            self.use("np_full")
            fill = self.expr((), d)
            like = [n for n, v in self.env.items() if v.shape == target and v.array]
            if like and r.random() < 0.5:
                return f"np.full_like({r.choice(like)}, {fill})"
            return f"np.full({target!r}, {fill})"
        if kind == "np_linspace" and len(target) == 1:
            self.use("np_linspace")
            a, b = self.expr((), d), self.expr((), d)
            if r.random() < 0.3:
                return f"np.linspace({a}, {b}, num={target[0]}, endpoint=False)"
            return f"np.linspace({a}, {b}, {target[0]})"
        if kind == "np_heaviside":
            # x1 is 0 where the inner expression is negative: there the value is x2 itself
            self.use("np_heaviside")
            x1 = self.expr(target, d)
            x2 = self.expr(self.sub_shape(target), d)
            if r.random() < 0.7:
                x1 = f"np.maximum({x1}, 0.0)"
            return f"np.heaviside({x1}, {x2})"
        if kind == "np_r" and len(target) == 1 and target[0] >= 2:
            self.use("np_r")
            items, parts = [], self.split(target[0])
            # at most one int range item, next to float items (np.r_[-1:2] alone is an int array)
            ranged = [i for i, k in enumerate(parts) if k in (2, 3)] if len(parts) > 1 else []
            ranged = r.choice(ranged) if ranged and r.random() < 0.5 else -1
            for i, k in enumerate(parts):
                if k == 1:
                    items.append(self.expr((), d) if r.random() < 0.7 else self.expr((1,), d))
                elif i == ranged:
                    lo = r.randint(-1, 1)
                    items.append(f"{lo}:{lo + k}")
                else:
                    items.append(self.expr((k,), d))
            return f"np.r_[{', '.join(items)}]"
        if kind == "np_c" and len(target) == 2:
            self.use("np_c")
            n = target[0]
            items = [self.expr((n,), d) if k == 1 and r.random() < 0.7 else self.expr((n, k), d)
                     for k in self.split(target[1])]
            if len(items) == 1:
                items.append(f"np.zeros(({n}, 0))")
            return f"np.c_[{', '.join(items)}]"
        if kind == "random_helper" and self.rs_helper and not self.in_helper:
            if self.rs_helper.accepts(target):
                self.use("random_helper")
                return f"{self.rs_helper.name}({self.expr(target, d)}, rs)"
        if kind == "helper":
            hs = [h for h in self.helpers if h.result == target]
            if hs:
                h = r.choice(hs)
                self.use("helper")
                args = [self.expr(p, d) for p in h.params]
                if h.default:
                    self.use("helper_default")  # the default value, or c= passed by name
                    if r.random() < 0.5:
                        args.append(f"c={self.const()}")
                return f"{h.name}({', '.join(args)})"
        if kind == "recursion" and not self.in_helper:
            self.use("recursion")
            self.need_recursion = True
            return f"rec({self.expr(target, d)}, {r.randint(0, 3)})"
        if kind == "lambda" and self.elementwise:
            return f"{r.choice(self.elementwise)}({self.expr(target, d)})"
        if kind == "comprehension" and target:
            rows = [n for n, v in self.env.items() if v.shape == target and v.shape]
            if rows:
                self.use("comprehension")
                body = r.choice(_ELEMENTWISE_BODIES).format("r_")
                if len(target) == 1:
                    return f"np.array([{body} for r_ in {r.choice(rows)}])"
                return f"np.stack([{body} for r_ in {r.choice(rows)}])"
        if kind == "math" and target == ():
            self.use("math")
            self.uses_math = True
            fn = r.choice(["math.sin", "math.cos", "math.tanh", "math.exp"])
            inner = self.expr((), d)
            return f"{fn}(math.tanh({inner}))" if fn == "math.exp" else f"{fn}({inner})"
        if kind == "method":
            if target == ():
                self.use("method")
                return f"({self.expr(r.choice(self.sizes_shapes()), d)}).{r.choice(['sum', 'mean'])}()"
            if len(target) == 1:
                k = r.choice(self.sizes)
                self.use("method")
                return f"({self.expr((target[0], k), d)}).sum(axis=1)"
        return self.leaf(target)

    def split(self, n):
        """``n`` as a sum of 1 to 3 positive parts (in random order)."""
        parts = []
        while n > 0:
            k = self.rng.randint(1, n) if len(parts) < 2 else n
            parts.append(k)
            n -= k
        return parts

    def sizes_shapes(self):
        return [s for s in self.shape_pool() if s] or [(3,)]

    def reduce(self, target, d):
        r = self.rng
        fn = r.choice(["np.sum", "np.mean"])
        self.use("reduce")
        if target == ():
            return f"{fn}({self.expr(r.choice(self.sizes_shapes()), d)})"
        ones = [k for k, n in enumerate(target) if n == 1]
        if ones and self.on("keepdims", 0.4):
            k = r.choice(ones)
            big = target[:k] + (r.choice(self.sizes),) + target[k + 1:]
            self.use("keepdims")
            return f"{fn}({self.expr(big, d)}, axis={k}, keepdims=True)"
        if len(target) >= 2:
            return self.leaf(target)
        k = r.randrange(len(target) + 1)
        big = target[:k] + (r.choice(self.sizes),) + target[k:]
        axis = k if r.random() < 0.7 else k - len(big)
        return f"{fn}({self.expr(big, d)}, axis={axis})"

    def cond(self, depth=1):
        r = self.rng
        kinds = ["sum", "sum", "mean", "scalar"]
        if self.ints:
            kinds.append("int")
        kind = r.choice(kinds)
        if kind == "int":
            name = r.choice(list(self.ints))
            text = f"{name} % 2 == {r.randrange(2)}" if r.random() < 0.5 else \
                f"{name} > {r.randrange(self.ints[name])}"
        elif kind == "scalar":
            text = f"{self.expr((), depth)} > {self.const()}"
        else:
            fn = "np.sum" if kind == "sum" else "np.mean"
            op = r.choice(["<", ">"])
            text = f"{fn}({self.expr(r.choice(self.sizes_shapes()), depth)}) {op} {self.const()}"
        if self.on("boolop", 0.2):
            self.use("boolop")
            other = f"{self.expr((), 0)} > {self.const()}"
            text = f"({text}) {r.choice(['and', 'or'])} ({other})" if r.random() < 0.8 \
                else f"not ({text})"
        return text

    # ------------------------------------------------------------------ statements

    def new_base(self):
        return frozenset({next(self.bases)})

    def roots(self, node):
        """Variables whose array object the value of ``node`` may be (or be a view of)."""
        if isinstance(node, ast.Name):
            return {node.id} if node.id in self.env else set()
        if isinstance(node, ast.Subscript):
            return self.roots(node.value)
        if isinstance(node, ast.Attribute) and node.attr == "T":
            return self.roots(node.value)
        if isinstance(node, ast.IfExp):
            return self.roots(node.body) | self.roots(node.orelse)
        if isinstance(node, ast.Tuple):
            return set().union(*[self.roots(e) for e in node.elts])
        if isinstance(node, ast.Call):
            fn = node.func
            if isinstance(fn, ast.Attribute) and fn.attr == "reshape":
                return self.roots(fn.value)
            if isinstance(fn, ast.Attribute) and fn.attr in ("transpose", "reshape") \
                    and isinstance(fn.value, ast.Name) and fn.value.id == "np":
                return self.roots(node.args[0])
            if isinstance(fn, ast.Name) and (fn.id == "rec" or fn.id.startswith("h")):
                # a helper may hand back (a view of) its argument
                return set().union(*[self.roots(a) for a in node.args])
        return set()

    def bases_of(self, text):
        roots = self.roots(ast.parse(text, mode="eval").body)
        if not roots:
            return self.new_base()
        return frozenset().union(*[self.env[n].bases for n in roots])

    def bind(self, name, shape, text):
        """Record ``name = text``: a bare name or a view of another variable shares its array."""
        self.env[name] = Var(shape, self.bases_of(text), array=bool(shape))

    def assign_new(self, depth=2):
        shape = self.pick_shape()
        name = self.fresh()
        text = self.expr(shape, depth)
        self.emit(f"{name} = {text}")
        self.bind(name, shape, text)
        return name

    def reassign(self, depth=2):
        name = self.rng.choice(list(self.env))
        v = self.env[name]
        text = self.expr(v.shape, depth)
        if self.rng.random() < 0.3 and name in text:
            text = f"0.5 * {name} + 0.5 * np.tanh({text})"
        self.emit(f"{name} = {text}")
        self.bind(name, v.shape, text)

    def note_inplace(self, name):
        v = self.env[name]
        if v.array and min(v.bases) < 0:
            self.use("helper_inplace" if self.in_helper else "param_inplace")
        if v.array and (self.shared(name) or v.bases & self.pinned):
            self.use("alias_inplace")
        if v.array and v.bases & self.seq_bases:
            self.use("seq_alias_inplace")

    def augassign(self):
        cands = [n for n in self.env if self.mutable(n, need_array=False)]
        if not cands:
            return self.assign_new()
        name = self.rng.choice(cands)
        v = self.env[name]
        self.note_inplace(name)
        rhs = self.expr(self.sub_shape(v.shape), 1)
        op = self.rng.choice(["+=", "-=", "*=", "/="])
        if op == "*=":
            rhs = f"np.tanh({rhs})"
        elif op == "/=":
            rhs = f"(1.5 + np.sin({rhs}))"
        self.use("augassign")
        self.emit(f"{name} {op} {rhs}")

    def make_owned_array(self):
        shapes = [s for s in self.shape_pool() if s]
        shape = self.rng.choice(shapes) if shapes else (3,)
        name = self.fresh("z")
        like = [n for n, v in self.env.items() if v.shape == shape]
        r = self.rng.random()
        if like and r < 0.4:
            self.emit(f"{name} = np.zeros_like({self.rng.choice(like)})")
        elif like and r < 0.7:
            self.emit(f"{name} = {self.rng.choice(like)}.copy()" if self.rng.random() < 0.5
                      else f"{name} = {self.rng.choice(like)} * 1.0")
        else:
            self.emit(f"{name} = np.zeros({shape!r})")
        self.env[name] = Var(shape, self.new_base())
        return name

    def setitem(self):
        cands = [n for n, v in self.env.items() if v.shape and v.array and self.mutable(n)]
        if not cands or self.rng.random() < 0.3:
            name = self.make_owned_array()
        else:
            name = self.rng.choice(cands)
        self.note_inplace(name)
        shape = self.env[name].shape
        r = self.rng.random()
        if self.on("fancy_setitem", 0.15):
            i, j = self.rng.randrange(shape[0]), self.rng.randrange(shape[0])
            index, part = f"[{i}, {i}, {j}]", (3,) + shape[1:]
            self.use("fancy_setitem")
        elif r < 0.4:
            index, part = self.int_index(shape[0]), shape[1:]
            self.use("index_int")
        elif r < 0.6 and len(shape) == 2:
            index, part = f":, {self.int_index(shape[1])}", (shape[0],)
            self.use("index_int")
        else:
            p = self.rng.randint(1, shape[0])
            index, part = self.slice_for(shape[0], p), (p,) + shape[1:]
        value = self.expr(self.sub_shape(part), 2)
        if self.on("aug_setitem", 0.3):
            self.use("aug_setitem")
            self.emit(f"{name}[{index}] {self.rng.choice(['+=', '-=', '*='])} {value}")
        else:
            self.use("setitem")
            self.emit(f"{name}[{index}] = {value}")

    def statement(self):
        r = self.rng
        if self.new_kinds and not self.in_helper and self.new_rng.random() < 0.15:
            return emit_extra(self, self.new_rng.choice(self.new_kinds))
        if self.r31_kinds and not self.in_helper and self.r31_rng.random() < 0.2:
            return emit_extra2(self, self.r31_rng.choice(self.r31_kinds))
        if self.r35_kinds and not self.in_helper and self.r35_rng.random() < 0.2:
            return emit_extra3(self, self.r35_rng.choice(self.r35_kinds))
        kinds = ["new"] * 4 + ["reassign"] * 2
        for feat, w in [("augassign", 2), ("setitem", 2), ("if", 2), ("for_range", 2),
                        ("for_rows", 1), ("enumerate", 1), ("zip", 1), ("while", 1),
                        ("list_append", 1), ("tuple", 1), ("dict", 1), ("lambda", 1),
                        ("inner_def", 1), ("early_return", 1), ("seq_concat", 1),
                        ("seq_repeat", 1)]:
            if feat in self.allowed:
                kinds += [feat] * w
        kind = r.choice(kinds)
        nested = self.block_depth >= 2
        if kind == "reassign":
            self.reassign()
        elif kind == "augassign":
            self.augassign()
        elif kind == "setitem":
            self.setitem()
        elif kind == "if" and not nested:
            self.if_block()
        elif kind in ("for_range", "for_rows", "enumerate", "zip") and not nested:
            self.for_block(kind)
        elif kind == "while" and not nested:
            self.while_block()
        elif kind == "list_append" and not nested:
            self.list_append()
        elif kind == "tuple":
            a, b = self.pick_shape(), self.pick_shape()
            t, u, w = self.fresh("p"), self.fresh(), self.fresh()
            ea, eb = self.expr(a, 1), self.expr(b, 1)
            self.emit(f"{t} = ({ea}, {eb})")
            if r.random() < 0.5:
                self.emit(f"{u}, {w} = {t}")
            else:
                self.emit(f"{u} = {t}[0]")
                self.emit(f"{w} = {t}[1]")
            self.bind(u, a, ea)
            self.bind(w, b, eb)
            self.use("tuple")
        elif kind == "dict":
            a = self.pick_shape()
            t, u = self.fresh("d"), self.fresh()
            self.emit(f"{t} = {{'a': {self.expr(a, 1)}, 'b': {self.expr(self.sub_shape(a), 1)}}}")
            self.emit(f"{u} = {t}['a'] * {t}['b']")
            self.env[u] = Var(a, self.new_base(), array=bool(a))
            self.use("dict")
        elif kind == "lambda" and self.block_depth == 0 and not self.in_helper:
            name = self.fresh("g")
            self.emit(f"{name} = lambda t: {r.choice(_ELEMENTWISE_BODIES).format('t')}")
            self.elementwise.append(name)
            self.use("lambda")
        elif kind == "inner_def" and self.block_depth == 0 and not self.in_helper:
            name = self.fresh("inner")
            body = r.choice(_ELEMENTWISE_BODIES).format("t")
            self.emit(f"def {name}(t):")
            self.emit(f"    return ({body}) * s")  # reads the enclosing function's parameter
            self.elementwise.append(name)
            self.use("inner_def")
        elif kind in ("seq_concat", "seq_repeat"):
            self.sequence(kind)
        elif kind == "early_return" and not self.in_helper:
            self.emit(f"if {self.cond()}:")
            self.emit(f"    return {self.expr((), 2)}")
            self.use("early_return")
        else:
            self.assign_new()

    def sequence(self, kind):
        """A tuple or list made by ``+`` or ``*`` of sequences, then some of its items used."""
        r = self.rng
        shapes = [self.pick_shape() for _ in range(3)]
        texts = [self.expr(sh, 1) for sh in shapes]
        t = self.fresh("q")
        op = r.choice(["()", "[]"])

        def seq(idx):
            body = ", ".join(texts[k] for k in idx)
            return f"({body},)" if op == "()" and len(idx) == 1 else op[0] + body + op[1]

        if kind == "seq_concat":
            form = r.choice([[[0], [1]], [[0], [1, 2]], [[0, 1], [2]]])
            self.emit(f"{t} = {' + '.join(seq(part) for part in form)}")
            items = [k for part in form for k in part]
        else:
            idx = r.choice([[0], [0, 1]])
            n = r.choice([2, 3])
            self.emit(f"{t} = {seq(idx)} * {n}" if r.random() < 0.7 else f"{t} = {n} * {seq(idx)}")
            items = idx * n
        self.use(kind)
        for k in set(items):  # names bound from the items below may be these array objects
            self.seq_bases |= self.bases_of(texts[k])
        if len(items) <= 4 and r.random() < 0.25:
            names = [self.fresh() for _ in items]
            self.emit(f"{', '.join(names)} = {t}")
            for name, k in zip(names, items):
                self.bind(name, shapes[k], texts[k])
            return
        for _ in range(r.randint(1, 2)):
            pos = r.randrange(len(items))
            ref = f"{t}[{pos if r.random() < 0.7 else pos - len(items)}]"
            shape, name = shapes[items[pos]], self.fresh()
            if r.random() < 0.5:
                self.emit(f"{name} = {ref}")
                self.bind(name, shape, texts[items[pos]])
            else:
                self.emit(f"{name} = {ref} * {self.expr(self.sub_shape(shape), 1)}")
                self.env[name] = Var(shape, self.new_base(), array=bool(shape))

    def special(self, kind):
        """The module-level constructs' uses in f (one statement or a few; top level of f)."""
        r = self.rng
        if kind in NEW:
            return emit_extra(self, kind)
        if kind in NEW2:
            return emit_extra2(self, kind)
        if kind in NEW3:
            return emit_extra3(self, kind)
        if kind == "rs":
            self.emit(f"rs = np.random.RandomState({r.randrange(1000)})")
            return
        if kind == "random_helper":
            shape = r.choice([sh for sh in self.shape_pool() if self.rs_helper.accepts(sh)]
                             or [self.rs_helper.shape])
            name = self.fresh()
            self.emit(f"{name} = {self.rs_helper.name}({self.expr(shape, 2)}, rs)")
            self.env[name] = Var(shape, self.new_base(), array=bool(shape))
            self.special_outputs.append(name)
            self.use("random_helper")
            return
        if kind == "closure_active":
            g, name, shape = self.fresh("g"), self.fresh(), self.pick_shape()
            self.emit(f"{g} = make({self.expr((), 1)})")
            self.emit(f"{name} = {g}({self.expr(shape, 2)})")
            self.env[name] = Var(shape, self.new_base(), array=bool(shape))
            self.special_outputs.append(name)
            self.use("closure_active")
            return
        if kind in ("star_args", "star_args_const"):
            n = r.choice([v.shape[-1] for v in self.env.values() if v.shape] or self.sizes)
            parts = self.split(n) if n > 1 else [1]
            if len(parts) == 1:
                parts = [n, r.randint(1, 2)]
                n = sum(parts)
            if kind == "star_args":
                items = [self.expr((k,), 1) for k in parts]
            else:
                consts = ["np.ones({})", "np.arange({}) * 0.25", "np.full({}, " + self.const() + ")",
                          "np.linspace(-0.5, 0.5, {})"]
                items = [r.choice(consts).format(k) for k in parts]
            name = self.fresh()
            self.emit(f"{name} = cat({', '.join(items)})")
            self.env[name] = Var((n,), self.new_base())
            self.special_outputs.append(name)
            self.use(kind)
            return
        if kind in ("object_dict", "object_array"):
            holder, name, shape = self.fresh("P"), self.fresh(), self.pick_shape()
            if kind == "object_dict":
                self.emit(f"{holder} = BOX.d")
                self.emit(f"{holder}['w'] = {self.expr((), 2)}")
                self.emit(f"{name} = BOX.read({self.expr(shape, 1)})")
            else:
                self.emit(f"{holder} = BOX.arr")
                k = r.randrange(-3, 3)
                self.emit(f"{holder}[{k}] = {self.expr((), 2)}")
                self.emit(f"{name} = BOX.reada({self.expr(shape, 1)}, {k})")
            self.env[name] = Var(shape, self.new_base(), array=bool(shape))
            self.special_outputs.append(name)
            self.use(kind)
            return
        if kind in ("object_attr", "object_attr_method"):
            name, shape = self.fresh(), self.pick_shape()
            value = self.expr((), 2)
            self.emit(f"BOX.w = {value}" if kind == "object_attr" else f"BOX.set({value})")
            arg = self.expr(shape, 1)
            self.emit(f"{name} = BOX.readw({arg})" if r.random() < 0.5 else f"{name} = {arg} * BOX.w")
            self.env[name] = Var(shape, self.new_base(), array=bool(shape))
            self.special_outputs.append(name)
            self.use(kind)
            return
        if kind == "object_cache":
            name, shape = self.fresh(), self.pick_shape()
            value, arg = self.expr((), 2), self.expr(shape, 1)
            how = r.choice(["returned", "method", "block"])
            if how == "returned":
                cached = self.fresh()
                self.emit(f"{cached} = BOX.cache({value})")
                self.emit(f"{name} = {arg} * {cached}")
            elif how == "method":
                self.emit(f"BOX.cache({value})")
                self.emit(f"{name} = BOX.readc({arg})")
            else:
                self.emit(f"BOX.c = {value}")
                self.emit(f"{name} = {arg} * BOX.c")
            self.env[name] = Var(shape, self.new_base(), array=bool(shape))
            self.special_outputs.append(name)
            self.use(kind)
            return
        raise ValueError(kind)

    def enter(self):
        self.indent += 1
        self.block_depth += 1
        return dict(self.env), list(self.elementwise), dict(self.ints), list(self.int_scalars)

    def leave(self, saved):
        """Names bound inside a block do not outlive it; rebound ones may refer to either."""
        env, elementwise, ints, int_scalars = saved
        self.indent -= 1
        self.block_depth -= 1
        for name, v in env.items():
            if name in self.env and self.env[name].bases != v.bases:
                env[name] = Var(v.shape, v.bases | self.env[name].bases, v.array)
        self.env, self.elementwise, self.ints, self.int_scalars = env, elementwise, ints, \
            int_scalars

    def block(self, n):
        saved = self.enter()
        for _ in range(n):
            self.statement()
        self.leave(saved)

    def if_block(self):
        self.use("if")
        self.emit(f"if {self.cond()}:")
        self.block(self.rng.randint(1, 3))
        if self.on("elif", 0.3):
            self.use("elif")
            self.emit(f"elif {self.cond()}:")
            self.block(self.rng.randint(1, 2))
        if self.rng.random() < 0.7:
            self.emit("else:")
            self.block(self.rng.randint(1, 3))

    def jump(self):
        kinds = [k for k in ("break", "continue") if k in self.allowed]
        if kinds and self.rng.random() < 0.5:
            kind = self.rng.choice(kinds)
            self.use(kind)
            self.emit(f"if {self.cond()}:")
            self.emit(f"    {kind}")

    def loop_body(self, n, saved):
        """The rest of a loop body (the block was entered by the caller)."""
        self.loop_depth += 1
        order = self.rng.randrange(n + 1)
        for k in range(n + 1):
            if k == order:
                self.jump()
            if k < n:
                self.statement()
        self.loop_depth -= 1
        self.leave(saved)

    def carried_update(self, exclude=()):
        """A loop-carried update that stays bounded."""
        names = [n for n in self.env if n not in exclude]
        if not names:
            return
        name = self.rng.choice(names)
        v = self.env[name]
        e = self.expr(self.sub_shape(v.shape), 1)
        self.emit(self.rng.choice([f"{name} = 0.5 * {name} + np.tanh({e})",
                                   f"{name} = np.tanh({name} * {e} + {e})",
                                   f"{name} = {name} + 0.25 * np.sin({e})"]))
        self.env[name] = Var(v.shape, self.new_base(), v.array)

    def for_block(self, kind):
        r = self.rng
        arrays = [n for n, v in self.env.items() if v.shape]
        loop_vars = set()
        if kind == "for_range" or not arrays:
            i, k = self.fresh("i"), r.randint(1, 4)
            one = r.random() < 0.2
            self.emit(f"for {i} in range(1, {k + 1}):" if one else f"for {i} in range({k}):")
            saved = self.enter()
            if one:
                self.int_scalars.append(i)
            else:
                self.ints[i] = k
            self.use("for_range")
        else:
            src = r.choice(arrays)
            row = self.fresh("row")
            shape = self.env[src].shape
            self.pinned |= self.env[src].bases  # the loop iterates over this array object
            if kind == "enumerate":
                j = self.fresh("j")
                self.emit(f"for {j}, {row} in enumerate({src}):")
                saved = self.enter()
                self.ints[j] = shape[0]
                self.use("enumerate")
            elif kind == "zip":
                others = [n for n, v in self.env.items() if v.shape and v.shape[0] == shape[0]]
                other, row2 = r.choice(others), self.fresh("row")
                self.pinned |= self.env[other].bases
                oshape = self.env[other].shape
                self.emit(f"for {row}, {row2} in zip({src}, {other}):")
                saved = self.enter()
                self.env[row2] = Var(oshape[1:], self.env[other].bases, array=len(oshape) > 1)
                loop_vars.add(row2)
                self.use("zip")
            else:
                self.emit(f"for {row} in {src}:")
                saved = self.enter()
                self.use("for_rows")
            self.env[row] = Var(shape[1:], self.env[src].bases, array=len(shape) > 1)
            loop_vars.add(row)
        self.carried_update()
        self.loop_body(r.randint(1, 3), saved)

    def while_block(self):
        r = self.rng
        names = list(self.env)
        acc = r.choice(names)
        t, k = self.fresh("t"), r.randint(1, 5)
        self.emit(f"{t} = 0")
        fn = "np.sum" if self.env[acc].shape else ""
        self.emit(f"while {t} < {k} and {fn}({acc}) < {self.const(0.5, 3.0)}:")
        saved = self.enter()
        self.emit(f"{t} += 1")
        v = self.env[acc]
        e = self.expr(self.sub_shape(v.shape), 1)
        self.emit(f"{acc} = {acc} + 0.3 + 0.2 * np.tanh({e})")
        self.env[acc] = Var(v.shape, self.new_base(), v.array)
        self.int_scalars.append(t)
        self.use("while")
        self.loop_body(r.randint(0, 2), saved)
        self.int_scalars.append(t)

    def list_append(self):
        r = self.rng
        arrays = [n for n, v in self.env.items() if v.shape]
        if not arrays:
            return self.assign_new()
        src = r.choice(arrays)
        shape = self.env[src].shape
        parts, row, out = self.fresh("parts"), self.fresh("row"), self.fresh()
        self.emit(f"{parts} = []")
        self.emit(f"for {row} in {src}:")
        saved = self.enter()
        self.env[row] = Var(shape[1:], self.env[src].bases, array=len(shape) > 1)
        self.emit(f"{parts}.append({self.expr(shape[1:], 1)})")
        self.leave(saved)
        if shape[0] >= 2 and self.on_extra("list_pop", 0.4):
            if self.extra_rng.random() < 0.5:
                popped = self.fresh()
                self.emit(f"{popped} = {parts}.pop()")
                # (the appended value may be the row itself: a view of src)
                self.env[popped] = Var(shape[1:], self.env[src].bases, array=len(shape) > 1)
            else:
                self.emit(f"{parts}.pop()")
            self.emit(f"{out} = sum({parts})")
            self.env[out] = Var(shape[1:], self.new_base(), array=len(shape) > 1)
            self.use("list_append")
            self.use("list_pop")
            return
        if r.random() < 0.5:
            self.emit(f"{out} = np.stack({parts})")
            self.env[out] = Var(shape, self.new_base())
        else:
            self.emit(f"{out} = sum({parts})")
            self.env[out] = Var(shape[1:], self.new_base(), array=len(shape) > 1)
        self.use("list_append")

    # ------------------------------------------------------------------ functions

    def helper(self, index):
        r = self.rng
        name = f"h{index}"
        params = [r.choice(self.base_shapes) for _ in range(r.randint(1, 2))]
        result = r.choice(self.base_shapes)
        default = self.on("helper_default", 0.3)
        self.env = {chr(ord("a") + k): Var(p, frozenset({-10 - k}), array=bool(p))
                    for k, p in enumerate(params)}
        if default:
            self.env["c"] = Var((), frozenset({-20}), array=False)
        arg_text = ", ".join(list(self.env)[:len(params)]) + (", c=0.5" if default else "")
        self.lines, self.indent = [], 1
        self.ints, self.int_scalars, self.elementwise = {}, [], []
        self.in_helper = True
        for _ in range(r.randint(0, 3)):
            self.statement()
        self.emit(f"return {self.expr(result, 2)}")
        self.in_helper = False
        text = [f"def {name}({arg_text}):"] + self.lines
        self.helpers.append(Helper(name, params, result, default))
        return "\n".join(text)


def _sub_of(rng, shape):
    out = list(shape[rng.randrange(len(shape)):]) if rng.random() < 0.3 else list(shape)
    for k in range(len(out)):
        if rng.random() < 0.25:
            out[k] = 1
    return tuple(out)


def generate(seed, features=DEFAULT_FEATURES, forced=frozenset()):
    """A :class:`Program` for ``seed``: module text defining ``f(x, y, s)`` (and helpers).

    Example::

        prog = generate(3)
        print(prog.source)
        module = load(prog)
        module.f(*prog.args())
    """
    g = _Gen(seed, features, forced)
    g.pinned = set()
    g.need_recursion = False
    r = g.rng
    rank = r.choice([1, 2, 2])
    base = tuple(r.choice([2, 3, 4]) for _ in range(rank))
    x_shape, y_shape = _sub_of(r, base), _sub_of(r, base)
    if r.random() < 0.5:
        x_shape = base
    else:
        y_shape = base
    if r.random() < 0.5:
        x_shape, y_shape = y_shape, x_shape
    g.sizes = sorted(set(base) | {2, 3})
    g.base_shapes = [(), base, x_shape, y_shape, (base[-1],)]
    if len(base) == 2:
        g.base_shapes.append((base[1], base[0]))
    helpers = []
    if "helper" in g.allowed:
        for k in range(r.choice([0, 0, 1, 2])):
            helpers.append(g.helper(k))
    # module-level constructs f uses: (kind, module text) and the statements using them
    specials, modules = [], []
    if g.on("random_helper", 0.15):
        body, rank, fixed = r.choice(_RANDOM_BODIES)
        last = base[-1] if fixed else 0
        shape = (last,) if fixed else (base if rank else ())
        g.rs_helper = RandomHelper("noisy", "def noisy(a, rs):\n    return "
                                   + body.format(last=last), shape, rank, last)
        modules.append(g.rs_helper.text)
        specials.append("random_helper")
    if g.on("closure_active", 0.05):
        modules.append(_MODULE_PARTS["closure_active"].format(
            body=r.choice(_ELEMENTWISE_BODIES).format("t")))
        specials.append("closure_active")
    star = [k for k in ("star_args", "star_args_const") if g.on(k, 0.07)]
    if star:
        modules.append(_MODULE_PARTS["star_args"])
        specials += star
    box = [k for k in ("object_dict", "object_array", "object_attr", "object_attr_method")
           if g.on(k, 0.05)]
    if g.on_extra("object_cache", 0.05):  # (its own stream: older seeds make the same programs)
        box.append("object_cache")
    if box:
        modules.append(_MODULE_PARTS["object"])
        specials += box
    g.new_kinds = [k for k, p in NEW.items() if k in g.forced
                   or (k in g.allowed and g.new_rng.random() < p)]
    if "model_wrt" in g.new_kinds:
        g.new_kinds.remove("model_wrt")
        g.use("model_wrt")
        modules.append(EXTRAS_MODEL if g.new_rng.random() < 0.5 else EXTRAS_MODEL_DECORATED)
    if g.new_kinds:
        modules.append(EXTRAS_MODULE)
        specials += g.new_kinds
    g.r31_kinds = [k for k, p in NEW2.items() if k in g.forced
                   or (k in g.allowed and g.r31_rng.random() < p)]
    if g.r31_kinds:
        modules.append(EXTRAS2_MODULE)
        specials += g.r31_kinds
    g.r35_kinds = [k for k, p in NEW3.items() if k in g.forced
                   or (k in g.allowed and g.r35_rng.random() < p)]
    specials += g.r35_kinds
    # the main function
    g.env = {"x": Var(x_shape, frozenset({-1})), "y": Var(y_shape, frozenset({-2})),
             "s": Var((), frozenset({-3}), array=False)}
    g.lines, g.indent, g.ints, g.int_scalars, g.elementwise = [], 1, {}, [], []
    g.pinned = set()
    if g.rs_helper:
        g.special("rs")  # a fresh generator from a constant seed on every call: f is deterministic
    count = r.randint(2, 7)
    at = [(r.randint(0, count), k) for k in specials]
    for i in range(count + 1):
        for _, kind in sorted(a for a in at if a[0] == i):
            g.special(kind)
        if i < count:
            g.statement()
    final = g.expr((), 2)
    for name in g.special_outputs:  # what the module-level constructs computed reaches the value
        if name in g.env and r.random() < 0.7:
            final = f"{final} + np.sum({name})"
    if r.random() < 0.5:
        arrays = [n for n, v in g.env.items() if v.shape]
        if arrays:
            final = f"{final} + np.sum({g.expr(g.env[r.choice(arrays)].shape, 1)})"
    g.emit(f"return {final}")
    parts = []
    if g.used & (set(NEW) | set(NEW2)):
        parts.append("import functools\nimport math\n")
    elif g.uses_math:
        parts.append("import math\n")
    if g.used & set(NEW3):
        parts.append(EXTRAS3_IMPORTS)
    parts.append("import numpy as np\n")
    parts.append(f"SHAPES = ({x_shape!r}, {y_shape!r})  # the shapes of x and y\n")
    if g.need_recursion:
        helpers.append("def rec(a, n):\n    if n <= 0:\n        return a\n"
                       "    return rec(np.sin(a) * 0.9 + 0.1, n - 1)")
    for h in helpers + modules:
        parts.append("\n" + h + "\n")
    parts.append("\ndef f(x, y, s):\n" + "\n".join(g.lines) + "\n")
    text = "\n".join(parts)
    return Program(seed, text, x_shape, y_shape, frozenset(g.used))


_loaded = []


def load(program, directory=None):
    """Write the program's text to a fresh .py file and import it (sourcediff reads real files)."""
    directory = directory or tempfile.mkdtemp(prefix="sdfuzz_")
    path = os.path.join(directory, f"fuzz_{program.seed}.py")
    with open(path, "w") as fh:
        fh.write(program.source)
    name = f"sdfuzz_{program.seed}_{len(_loaded)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _loaded.append(name)
    return module


def load_source(text, name="program", directory=None):
    """Import a module from source text (for the hand-shrunk regression programs)."""
    directory = directory or tempfile.mkdtemp(prefix="sdfuzz_")
    path = os.path.join(directory, f"{name}.py")
    with open(path, "w") as fh:
        fh.write(text)
    modname = f"sdfuzz_{name}_{len(_loaded)}"
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    _loaded.append(modname)
    return module
