"""Constructs added to the generator in review31 (what session 18 taught the compiler): numpy's
whole-array writes into a local array (``np.exp(e, out=a)``, ``out=(a,)``, a ufunc's positional
out, ``r = np.add(u, v, out=a)``, numpy functions given ``out=``, ``np.copyto(a, v[, where=m])``,
``a.fill(v)``), also when ``a`` is a view of another local array or aliased by a name read later;
the builtins lowered to code (``functools.reduce``, ``math.prod``, ``max``/``min`` with ``key=``,
starred unpacking, ``divmod``, ``complex``, ``getattr``); and loops whose carried value goes
through ``@`` / np.dot / np.einsum / np.tensordot. Drawn from a random stream of their own (as
extras.py's), so a seed that draws none of them gives the program it gave before; the module
text they call is :data:`MODULE`."""

# the constructs (names in generator.FEATURES) and the probability a program gets each
NEW = {
    "out_write": 0.15, "copyto_fill": 0.1, "write_view": 0.04, "reduce_call": 0.08,
    "math_prod": 0.06, "key_extremum": 0.08, "star_unpack": 0.08, "divmod_complex": 0.06,
    "getattr_obj": 0.06, "loop_product": 0.15,
}

MODULE = '''\
def comb(a, b):
    return a * np.tanh(b) + 0.3 * b


class Cfg:
    def __init__(self):
        self.k = 0.7
        self.bias = 0.2

    def scale(self, t):
        return np.tanh(t) * self.k + self.bias * t


CFG = Cfg()'''

_UFUNCS1 = ["np.sin", "np.tanh", "np.cos", "np.arctan", "np.negative", "np.square"]
_UFUNCS2 = ["np.add", "np.multiply", "np.subtract", "np.maximum", "np.minimum"]


def _var(shape, base, array=None):
    from tests.fuzz.generator import Var  # (the generator imports this module)

    return Var(shape, base, array=bool(shape) if array is None else array)


def _bind(g, name, shape, kind):
    g.env[name] = _var(shape, g.new_base())
    g.special_outputs.append(name)
    g.use(kind)


def _owned(g, shape, empty_ok=False):
    """A fresh local array of ``shape`` (zeros, empty, or an active value times 1.0)."""
    r = g.rng
    z = g.fresh("z")
    pick = r.random()
    if pick < 0.3:
        g.emit(f"{z} = np.zeros({shape!r})")
    elif pick < 0.5 and empty_ok:
        g.emit(f"{z} = np.empty({shape!r})")
        g.unset = z  # (its values are not to be read before the write)
    else:
        g.emit(f"{z} = {g.expr(shape, 1)} * 1.0")
    return z


def _write(g, z, shape, kind):
    """One whole write into the array named ``z``; returns the name of a result bound (or None)."""
    r = g.rng
    sub = g.sub_shape(shape)
    # (the written value may read z itself: numpy computes it before writing)
    reads = f"{z} * 0.5 + " if r.random() < 0.3 and getattr(g, "unset", None) != z else ""
    if kind == "copyto_fill":
        form = r.randrange(3)
        if form == 0:
            g.emit(f"np.copyto({z}, {reads}{g.expr(sub, 1)})")
        elif form == 1:
            mask = f"{g.expr(g.sub_shape(shape), 1)} > {g.const()}"
            g.emit(f"np.copyto({z}, {reads}{g.expr(sub, 1)}, where={mask})")
        else:
            g.emit(f"{z}.fill({g.expr((), 1)})")
        return None
    form = r.randrange(7)
    if form == 0:
        g.emit(f"{r.choice(_UFUNCS1)}({reads}{g.expr(sub, 1)}, out={z})")
    elif form == 1:
        g.emit(f"{r.choice(_UFUNCS1)}({reads}{g.expr(sub, 1)}, out=({z},))")
    elif form == 2:
        # (a positional out: np.maximum/np.minimum deprecate it)
        g.emit(f"{r.choice(_UFUNCS2[:3])}({reads}{g.expr(sub, 1)}, "
               f"{g.expr(g.sub_shape(shape), 1)}, {z})")
    elif form == 3:
        res = g.fresh("r")
        g.emit(f"{res} = {r.choice(_UFUNCS2)}({reads}{g.expr(sub, 1)}, "
               f"{g.expr(g.sub_shape(shape), 1)}, out={z})")
        return res
    elif form == 4:
        g.emit(f"np.clip({reads}{g.expr(sub, 1)}, -0.5, {g.const(0.1, 0.9)}, out={z})")
    elif form == 5 and shape:
        k = r.choice(g.sizes)
        fn = r.choice(["np.sum", "np.mean"])
        g.emit(f"{fn}({g.expr((k,) + shape, 1)}, axis=0, out={z})")
    elif form == 6 and len(shape) == 1:
        g.emit(f"np.cumsum({reads}{g.expr(shape, 1)}, out={z})")
    elif len(shape) == 2:
        k = r.choice(g.sizes)
        g.emit(f"np.matmul({g.expr((shape[0], k), 1)}, {g.expr((k, shape[1]), 1)}, out={z})")
    else:
        g.emit(f"np.exp(np.tanh({reads}{g.expr(sub, 1)}), out={z})")
    return None


def _whole_write(g, kind):
    r = g.rng
    shape = r.choice([s for s in g.shape_pool() if s] or [(3,)])
    z = _owned(g, shape, empty_ok=kind == "out_write")
    alias = None
    if r.random() < 0.25:  # a second name for the same array, read after the write
        alias = g.fresh("c")
        g.emit(f"{alias} = {z}")
    res = _write(g, z, shape, kind)
    base = g.new_base()
    for name in (z, alias, res):
        if name:
            g.env[name] = _var(shape, base)
            g.special_outputs.append(name)
    g.use(kind)


def _view_write(g, kind):
    """A write into a view of a local array (a slice, the transpose, a reshape), which is read."""
    r = g.rng
    n, m = r.choice(g.sizes), r.choice(g.sizes)
    b = _owned(g, (n, m))
    form = r.randrange(4)
    v = g.fresh("w")
    if form == 0:
        g.emit(f"{v} = {b}[1:]")
        shape = (n - 1, m)
    elif form == 1:
        g.emit(f"{v} = {b}.T")
        shape = (m, n)
    elif form == 2:
        g.emit(f"{v} = {b}.reshape({n * m})")
        shape = (n * m,)
    else:
        g.emit(f"{v} = {b}[:, {r.randrange(m)}]")
        shape = (n,)
    _write(g, v, shape, r.choice(["out_write", "copyto_fill"]))
    base = g.new_base()
    g.env[b] = _var((n, m), base)
    g.env[v] = _var(shape, base)
    g.special_outputs.append(b)
    if r.random() < 0.5:
        g.special_outputs.append(v)
    g.use(kind)


def _items(g, shape, k):
    return [g.expr(shape, 1) for _ in range(k)]


def emit(g, kind):
    """Emit one use of ``kind`` in the generator ``g`` (a ``_Gen``)."""
    r = g.rng
    if kind in ("out_write", "copyto_fill"):
        return _whole_write(g, kind)
    if kind == "write_view":
        return _view_write(g, kind)
    if kind == "loop_product":
        return _loop_product(g, kind)
    name = g.fresh()
    if kind == "reduce_call":
        shape = g.pick_shape()
        items = ", ".join(_items(g, shape, r.randint(2, 3)))
        fn = r.choice(["lambda a, b: a * 0.5 + np.tanh(b)", "comb", "np.add",
                       "lambda a, b: a * np.cos(b)"])
        seq = f"[{items}]" if r.random() < 0.6 else f"({items},)"
        init = f", {g.expr(g.sub_shape(shape), 1)}" if r.random() < 0.4 else ""
        g.emit(f"{name} = functools.reduce({fn}, {seq}{init})")
        return _bind(g, name, shape, kind)
    if kind == "math_prod":
        items = [f"(1.0 + 0.5 * np.tanh({e}))" for e in _items(g, (), r.randint(1, 3))]
        if r.random() < 0.3:
            items.append(g.const(0.5, 1.5))
        start = f", start={g.expr((), 1)}" if r.random() < 0.3 else ""
        g.emit(f"{name} = math.prod([{', '.join(items)}]{start})")
        return _bind(g, name, (), kind)
    if kind == "key_extremum":
        fn = r.choice(["max", "min"])
        shape = g.pick_shape()
        if r.random() < 0.5:
            items = ", ".join(_items(g, shape, r.randint(2, 3)))
            key = r.choice(["lambda t: np.sum(t)", "lambda t: np.sum(np.sin(t))"])
            g.emit(f"{name} = {fn}([{items}], key={key})")
            return _bind(g, name, shape, kind)
        pairs = ", ".join(f"({a}, {b})" for a, b in zip(_items(g, (), 3), _items(g, shape, 3)))
        other = g.fresh()
        g.emit(f"{name}, {other} = {fn}([{pairs}], key=lambda p: p[0])")
        _bind(g, name, (), kind)
        return _bind(g, other, shape, kind)
    if kind == "star_unpack":
        return _star_unpack(g, name, kind)
    if kind == "divmod_complex":
        if r.random() < 0.5:
            q, rem = name, g.fresh()
            g.emit(f"{q}, {rem} = divmod({g.expr((), 1)} * 3.0, {g.const(0.5, 1.5)})")
            _bind(g, q, (), kind)
            return _bind(g, rem, (), kind)
        z = g.fresh("cz")
        g.emit(f"{z} = complex({g.expr((), 1)}, {g.expr((), 1)})")
        # (abs(z) of a complex z is refused at run time: abs's rule is for real arguments)
        use = r.choice([f"{z}.real * {z}.imag", f"({z} * {z}).real", f"np.sin({z}).imag",
                        f"({z} * {z}.conjugate()).real"])
        g.emit(f"{name} = {use}")
        return _bind(g, name, (), kind)
    if kind == "getattr_obj":
        shape = g.pick_shape()
        if r.random() < 0.5:
            g.emit(f"{name} = {g.expr(shape, 1)} * getattr(CFG, 'k')")
        else:
            g.emit(f"{name} = getattr(CFG, 'scale')({g.expr(shape, 1)})")
        return _bind(g, name, shape, kind)
    raise ValueError(kind)


def _star_unpack(g, name, kind):
    r = g.rng
    rows = [n for n, v in g.env.items() if v.shape and v.shape[0] >= 2]
    mid = r.random() < 0.5
    if rows and r.random() < 0.4:
        src = r.choice(rows)
        shape, count, seq = g.env[src].shape[1:], g.env[src].shape[0], src
    else:
        shape, count = g.pick_shape(), r.randint(2, 4)
        items = ", ".join(_items(g, shape, count))
        seq = f"[{items}]" if r.random() < 0.5 else f"({items},)"
    if mid and count < 2:
        mid = False
    rest, last = g.fresh("rest"), g.fresh()
    if mid:
        g.emit(f"{name}, *{rest}, {last} = {seq}")
        _bind(g, last, shape, kind)
    else:
        g.emit(f"{name}, *{rest} = {seq}")
    left = count - (2 if mid else 1)
    _bind(g, name, shape, kind)
    if left:
        total = g.fresh()
        g.emit(f"{total} = sum({rest}) * {g.const()} + {rest}[{r.randrange(-left, left)}]")
        _bind(g, total, shape, kind)
    else:
        g.emit(f"{name} = {name} + len({rest})")


def _loop_product(g, kind):
    """A loop carrying a matrix or vector through a product with an active matrix."""
    r = g.rng
    n = r.choice(g.sizes)
    p, m = g.fresh("P"), g.fresh("M")
    vector = r.random() < 0.3
    pshape = (n,) if vector else (n, n)
    g.emit(f"{p} = np.tanh({g.expr(pshape, 1)})")
    g.emit(f"{m} = 0.6 * np.tanh({g.expr((n, n), 1)})")
    acc = g.fresh("acc")
    g.emit(f"{acc} = 0.0")
    i = g.fresh("i")
    g.emit(f"for {i} in range({r.randint(1, 3)}):")
    g.indent += 1
    if r.random() < 0.3:
        g.emit(f"if np.sum({p}) > {g.const(-0.5, 1.5)}:")
        g.emit(f"    {r.choice(['break', 'continue'])}")
    g.emit(f"{acc} = {acc} + np.sum({p} * {p})")
    if vector:
        prod = r.choice([f"{m} @ {p}", f"np.dot({m}, {p})", f"np.einsum('ij,j->i', {m}, {p})",
                         f"np.tensordot({m}, {p}, axes=1)"])
    else:
        prod = r.choice([f"{p} @ {m}", f"{m} @ {p}", f"np.dot({m}, {p})", f"{p} @ {p}",
                         f"np.einsum('ij,jk->ik', {m}, {p})",
                         f"np.tensordot({p}, {m}, axes=1)", f"(np.eye({n}) - {p} * 0.5) @ {p}"])
    g.emit(f"{p} = np.tanh({prod})" if r.random() < 0.6 else f"{p} = {prod} * 0.9")
    g.indent -= 1
    _bind(g, p, pshape, kind)
    g.env[acc] = _var((), g.new_base(), array=False)
    g.special_outputs.append(acc)
