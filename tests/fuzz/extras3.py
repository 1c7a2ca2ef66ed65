"""Constructs added to the generator in review35 (what sessions 19-20 taught the compiler):
``with np.errstate(...)`` / ``with warnings.catch_warnings()`` blocks around generated code (also
inside loops, with a break, continue or early return inside); numpy's in-place writes lowered as
rebindings (``np.put``, ``np.putmask``, ``np.place``, ``np.fill_diagonal``, ``z.sort()``) into a
fresh local array, its alias or a view of it, in loops and blocks; the rules added then
(``np.maximum/minimum.accumulate``, ``itertools.accumulate``, scipy.stats' gamma/beta/expon/
lognorm/laplace densities, ``scipy.signal.convolve2d/correlate2d``, ``np.linalg.cond``,
``np.linalg.eigvals``, ``statistics.mean/fmean``, draws with parameters from a Generator, a
RandomState or numpy's global one, ``np.fmax/fmin``), ``a[i][j] = v`` and ``d.get(k, default)``.
Drawn from a random stream of their own (as extras.py's and extras2.py's), so a seed that draws
none of them gives the program it gave before; :data:`IMPORTS` is the module text they need."""

# the constructs (names in generator.FEATURES) and the probability a program gets each
NEW = {
    "errstate_block": 0.12, "catch_block": 0.06, "np_put_write": 0.12, "sort_write": 0.08,
    "accumulate3": 0.08, "stats3": 0.08, "conv2d": 0.06, "spectra": 0.06, "draws3": 0.1,
    "statistics3": 0.05, "nested_item_set": 0.06, "dict_get": 0.05, "fmaxmin": 0.05,
}

IMPORTS = ("import itertools\nimport statistics\nimport warnings\n\nimport scipy.signal\n"
           "import scipy.stats\n")


def _var(shape, base, array=None):
    from tests.fuzz.generator import Var  # (the generator imports this module)

    return Var(shape, base, array=bool(shape) if array is None else array)


def _bind(g, name, shape, kind):
    g.env[name] = _var(shape, g.new_base())
    g.special_outputs.append(name)
    g.use(kind)


def _owned(g, shape):
    z = g.fresh("z")
    if g.rng.random() < 0.2:
        g.emit(f"{z} = np.zeros({shape!r})")
    else:
        g.emit(f"{z} = {g.expr(shape, 1)} * 1.0")
    return z


def _vector_shape(g):
    return (g.rng.choice(g.sizes),)


def _matrix_shape(g):
    return (g.rng.choice(g.sizes), g.rng.choice(g.sizes))


def _context(g, kind):
    if kind == "catch_block":
        return ["with warnings.catch_warnings():", "    warnings.simplefilter('ignore')"]
    args = g.rng.choice(["divide='ignore', invalid='ignore'", "all='ignore'", "over='ignore'",
                         "divide='ignore'", "invalid='ignore', under='ignore'"])
    return [f"with np.errstate({args}):"]


def _block(g, kind):
    """A with block of one to three statements, at the top of f or inside a loop with a jump (a
    break or continue) inside the block; sometimes an early return in it."""
    r = g.rng
    head = _context(g, kind)
    in_loop = r.random() < 0.5 and g.loop_depth == 0 and g.block_depth == 0
    if in_loop:
        i, k = g.fresh("i"), r.randint(1, 3)
        g.emit(f"for {i} in range({k}):")
        outer = g.enter()
        g.ints[i] = k
        g.carried_update()
        g.loop_depth += 1
    g.emit(head[0])
    saved = g.enter()
    for line in head[1:]:
        g.emit(line.strip())
    n = r.randint(1, 3)
    jump_at = r.randrange(n + 1) if in_loop else -1
    for k in range(n + 1):
        if k == jump_at:
            g.emit(f"if {g.cond()}:")
            g.emit(f"    {r.choice(['break', 'continue'])}")
        if k < n:
            g.statement()
    if r.random() < 0.2 and not g.in_helper:
        g.emit(f"if {g.cond()}:")
        g.emit(f"    return {g.expr((), 2)}")
    if r.random() < 0.5:
        g.carried_update()
    g.leave(saved)
    if in_loop:
        g.loop_depth -= 1
        g.leave(outer)
    g.use(kind)


def _write_into(g, z, shape, kind):
    """One in-place write into the array named ``z`` of ``shape``."""
    r = g.rng
    size = 1
    for d in shape:
        size *= d
    if kind == "sort_write":
        if len(shape) == 2 and r.random() < 0.5:
            g.emit(f"{z}.sort(axis={r.choice([0, 1, -1])})")
        else:
            g.emit(f"{z}.sort()")
        return
    form = r.randrange(4 if len(shape) == 2 else 3)
    if form == 0:
        idx = sorted({r.randrange(size) for _ in range(r.randint(1, 3))})
        vals = g.expr((len(idx),), 1) if r.random() < 0.7 else g.expr((), 1)
        mode = r.choice(["", "", ", mode='wrap'", ", mode='clip'"])
        if mode:
            idx = [i + size * r.randint(0, 1) for i in idx]
        g.emit(f"np.put({z}, {idx}, {vals}{mode})")
    elif form == 1:
        vals = g.expr(shape, 1) if r.random() < 0.6 else g.expr((), 1)
        g.emit(f"np.putmask({z}, {z} > {g.const()}, {vals})")
    elif form == 2:
        vals = g.expr((r.randint(1, 3),), 1) if r.random() < 0.6 else g.expr((), 1)
        g.emit(f"np.place({z}, {z} < {g.const()}, {vals})")
    else:
        d = min(shape)
        vals = g.expr((d,), 1) if r.random() < 0.5 else g.expr((), 1)
        g.emit(f"np.fill_diagonal({z}, {vals})")


def _inplace(g, kind):
    """A write into a fresh local array, its alias (read later: numpy changes it too) or a view
    of it (numpy changes the array), sometimes in a loop; both names are read after."""
    r = g.rng
    shape = r.choice([_vector_shape(g), _matrix_shape(g)])
    z = _owned(g, shape)
    target, extra, tshape = z, None, shape
    pick = r.random()
    if pick < 0.2:
        extra = g.fresh("c")
        g.emit(f"{extra} = {z}")
    elif pick < 0.35 and shape[0] > 1:
        extra = g.fresh("w")
        g.emit(f"{extra} = {z}[1:]")
        target, tshape = extra, (shape[0] - 1,) + shape[1:]
    if r.random() < 0.3 and g.block_depth == 0:
        i, k = g.fresh("i"), r.randint(1, 3)
        g.emit(f"for {i} in range({k}):")
        saved = g.enter()
        _write_into(g, target, tshape, kind)
        if r.random() < 0.5:
            g.emit(f"{z} = {z} * 0.9 + 0.1 * np.tanh({z})")
        g.leave(saved)
    else:
        _write_into(g, target, tshape, kind)
    base = g.new_base()
    g.env[z] = _var(shape, base)
    g.special_outputs.append(z)
    if extra:
        g.env[extra] = _var(tshape if target == extra else shape, base)
        g.special_outputs.append(extra)
    g.use(kind)


def _positive(g, shape, lo=0.5):
    return f"({lo} + np.exp(0.3 * np.tanh({g.expr(shape, 1)})))"


def _stats(g, name, kind):
    r = g.rng
    shape = r.choice([(), _vector_shape(g)])
    x = _positive(g, shape, 0.2)
    dist = r.randrange(6)
    scale = f", scale={_positive(g, g.sub_shape(shape))}" if r.random() < 0.6 else ""
    fn = r.choice(["logpdf", "pdf", "cdf", "logpdf"])
    if dist == 0:
        text = f"scipy.stats.gamma.{fn}({x}, {_positive(g, g.sub_shape(shape), 1.0)}{scale})"
    elif dist == 1:
        u = f"(0.5 + 0.4 * np.tanh({g.expr(shape, 1)}))"
        a, b = _positive(g, g.sub_shape(shape), 1.0), _positive(g, (), 1.0)
        text = f"scipy.stats.beta.{fn}({u}, {a}, {b})"
    elif dist == 2:
        text = f"scipy.stats.expon.{r.choice([fn, 'sf'])}({x}{scale})"
    elif dist == 3:
        text = f"scipy.stats.lognorm.{fn}({x}, {_positive(g, g.sub_shape(shape), 0.3)}{scale})"
    elif dist == 4:
        loc = f", loc={g.expr(g.sub_shape(shape), 1)}" if r.random() < 0.6 else ""
        text = f"scipy.stats.laplace.{fn}({g.expr(shape, 1)}{loc}{scale})"
    else:
        k = r.choice(["[0, 1, 3]", "2", "np.array([1, 4, 2])"])
        mu = _positive(g, () if k == "2" else r.choice([(), (3,)]), 0.5)
        text = f"scipy.stats.poisson.{r.choice(['logpmf', 'pmf', 'cdf'])}({k}, {mu})"
    g.emit(f"{name} = np.sum({text})")
    return _bind(g, name, (), kind)


def _conv(g, name, kind):
    r = g.rng
    n, m = r.choice(g.sizes), r.choice(g.sizes)
    kr, kc = r.randint(1, n), r.randint(1, m)
    a = f"np.outer({g.expr((n,), 1)}, {g.expr((m,), 1)})"
    k = f"np.outer({g.expr((kr,), 1)}, {g.expr((kc,), 1)})" if r.random() < 0.7 else \
        f"{g.expr((kr * kc,), 1)}.reshape({kr}, {kc})"
    if r.random() < 0.3:
        a, k = k, a  # (either input may be the larger)
    fn = r.choice(["convolve2d", "correlate2d"])
    mode = r.choice(["'full'", "'same'", "'valid'", "mode='same'", "mode='valid'"])
    g.emit(f"{name} = np.sum(np.tanh(scipy.signal.{fn}({a}, {k}, {mode})))")
    return _bind(g, name, (), kind)


def _spectra(g, name, kind):
    r = g.rng
    n = r.choice(g.sizes)
    m = f"np.tanh({g.expr((n, n), 1)})"
    if r.random() < 0.5:
        p = r.choice(["", ", 2", ", -2", ", None"])
        g.emit(f"{name} = np.log(np.linalg.cond(np.eye({n}) * 2.0 + 0.5 * {m}{p}))")
    else:
        s = g.fresh("S")
        g.emit(f"{s} = {m}")
        # (symmetric plus well separated diagonal: real, distinct eigenvalues)
        g.emit(f"{s} = 0.2 * ({s} + {s}.T) + np.diag(np.arange({n}) * 1.5)")
        w = r.choice(["", " * np.arange(1.0, {0})".format(n + 1)])
        g.emit(f"{name} = np.sum(np.real(np.sort(np.linalg.eigvals({s})){w}))")
    return _bind(g, name, (), kind)


def _draws(g, name, kind):
    r = g.rng
    shape = r.choice([(), _vector_shape(g), _matrix_shape(g)])
    seed = r.randrange(100)
    form = r.randrange(3)
    if form == 0:
        src = g.fresh("rng")
        g.emit(f"{src} = np.random.default_rng({seed})")
    elif form == 1:
        src = g.fresh("rs")
        g.emit(f"{src} = np.random.RandomState({seed})")
    else:
        src = "np.random"
        g.emit(f"np.random.seed({seed})")
    size = f", size={shape!r}" if r.random() < 0.5 and shape else ""
    sub = g.sub_shape(shape) if size else shape
    pick = r.randrange(6)
    if pick == 0:
        text = f"{src}.normal({g.expr(sub, 1)}, {_positive(g, g.sub_shape(sub), 0.1)}{size})"
    elif pick == 1:
        lo = g.expr(sub, 1)
        text = f"{src}.uniform({lo}, {lo} + {_positive(g, g.sub_shape(sub), 0.1)}{size})"
    elif pick == 2:
        text = f"{src}.exponential({_positive(g, sub, 0.1)}{size})"
    elif pick == 3:
        text = f"{src}.lognormal(0.2 * {g.expr(sub, 1)}, 0.3{size})"
    else:
        fn = r.choice(["laplace", "gumbel", "logistic"])
        text = f"{src}.{fn}({g.expr(sub, 1)}, {_positive(g, (), 0.1)}{size})"
    g.emit(f"{name} = np.tanh({text})")
    return _bind(g, name, shape, kind)


def _accumulate(g, name, kind):
    r = g.rng
    if r.random() < 0.6:
        shape = r.choice([_vector_shape(g), _matrix_shape(g)])
        fn = r.choice(["np.maximum", "np.minimum"])
        axis = f", axis={r.choice(range(-len(shape), len(shape)))}" if r.random() < 0.6 else ""
        g.emit(f"{name} = {fn}.accumulate({g.expr(shape, 1)}{axis})")
        return _bind(g, name, shape, kind)
    shape = g.pick_shape()
    items = ", ".join(g.expr(shape, 1) for _ in range(r.randint(2, 3)))
    fn = r.choice(["", ", operator_mul", ", np.maximum", ", lambda a, b: a * 0.5 + b"])
    fn = fn.replace("operator_mul", "lambda a, b: a * b")
    init = f", initial={g.expr(g.sub_shape(shape), 1)}" if r.random() < 0.3 else ""
    g.emit(f"{name} = sum(itertools.accumulate([{items}]{fn}{init}))")
    return _bind(g, name, shape, kind)


def emit(g, kind):
    """Emit one use of ``kind`` in the generator ``g`` (a ``_Gen``)."""
    r = g.rng
    if kind in ("errstate_block", "catch_block"):
        return _block(g, kind)
    if kind in ("np_put_write", "sort_write"):
        return _inplace(g, kind)
    name = g.fresh()
    if kind == "accumulate3":
        return _accumulate(g, name, kind)
    if kind == "stats3":
        return _stats(g, name, kind)
    if kind == "conv2d":
        return _conv(g, name, kind)
    if kind == "spectra":
        return _spectra(g, name, kind)
    if kind == "draws3":
        return _draws(g, name, kind)
    if kind == "statistics3":
        if r.random() < 0.5:
            items = ", ".join(f"np.sum({g.expr((), 1)})" for _ in range(r.randint(1, 4)))
            g.emit(f"{name} = statistics.{r.choice(['mean', 'fmean'])}([{items}])")
        else:
            g.emit(f"{name} = statistics.{r.choice(['mean', 'fmean'])}"
                   f"({g.expr(_vector_shape(g), 1)})")
        return _bind(g, name, (), kind)
    if kind == "nested_item_set":
        shape = _matrix_shape(g)
        z = _owned(g, shape)
        for _ in range(r.randint(1, 2)):
            i, j = r.randrange(shape[0]), r.randrange(shape[1])
            op = r.choice(["=", "=", "+=", "*="])
            if r.random() < 0.7:
                g.emit(f"{z}[{i}][{j}] {op} {g.expr((), 1)}")
            else:
                g.emit(f"{z}[{i}][{j}:] {op} {g.expr(g.sub_shape((shape[1] - j,)), 1)}")
        return _bind(g, z, shape, kind)
    if kind == "dict_get":
        shape = g.pick_shape()
        d = g.fresh("d")
        g.emit(f"{d} = {{'a': {g.expr(shape, 1)}}}")
        if r.random() < 0.5:
            g.emit(f"{d}['b'] = {g.expr(g.sub_shape(shape), 1)}")
        key = r.choice(["'a'", "'b'", "'c'"])
        default = r.choice(["", f", {g.expr(g.sub_shape(shape), 1)}", ", 0.5"])
        if not default and key != "'a'":
            key = "'a'"
        g.emit(f"{name} = {d}.get({key}{default}) * {g.expr(shape, 1)}")
        return _bind(g, name, shape, kind)
    if kind == "fmaxmin":
        shape = g.pick_shape()
        fn = r.choice(["np.fmax", "np.fmin"])
        other = g.expr(g.sub_shape(shape), 1)
        if r.random() < 0.3:
            other = f"np.where({g.expr(g.sub_shape(shape), 1)} > 0.3, np.nan, {other})"
        g.emit(f"{name} = {fn}({g.expr(shape, 1)}, {other})")
        return _bind(g, name, shape, kind)
    raise ValueError(kind)
