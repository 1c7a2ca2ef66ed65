"""Constructs added to the generator in review26: calls through ``*seq`` / ``**d`` and forwarding
wrappers, ``functools.wraps`` decorated helpers and methods (called, passed as values, through
functools.partial), np.add.at / np.subtract.at into a local array, np.vectorize of a scalar
function, np.take_along_axis, sliding_window_view, np.bincount with weights and the nan
reductions. Each is one or a few statements of f using active expressions of the generator
(placed at f's top level or inside its loops and branches); the module text they call is
:data:`MODULE`."""

# the constructs (names in generator.FEATURES) and the probability a program gets each
NEW = {
    "star_call": 0.08, "kwargs_call": 0.08, "forward_wrapper": 0.06, "varargs_helper": 0.05,
    "decorated": 0.08, "decorated_method": 0.05, "add_at": 0.08, "vectorize": 0.06,
    "take_along_axis": 0.06, "sliding_window": 0.06, "bincount": 0.06, "nan_reduce": 0.08,
    "model_wrt": 0.1,  # (module-level only, no statement of f: what MODEL adds)
}
# a model object holding arrays, a float and a list of layer objects; fm(model, y, s) runs f on
# them, so sd.grad(fm)(model, y, s) differentiates with respect to the object (check.py compares
# it with finite differences over its float leaves; forward mode and hessian must refuse)
MODEL = '''\
def mdeco(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


class Lin:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __call__(self, t):
        return np.tanh(t * self.w) + self.b


class Model:
    def __init__(self, a, w, b):
        self.a = a
        self.k = 0.7
        self.layers = [Lin(w, 0.1), Lin(0.5, b)]

    def forward(self, t):
        for layer in self.layers:
            t = layer(t)
        return t * self.k


def make_model(x, y, s):
    return Model(x * 1.0, y * 0.5 + 0.2, s * 0.3)


def fm(model, y, s):
    # (model.a read before f runs: f may write into its x, which is then model.a)
    first = np.sum(model.layers[0](model.a))
    return first + f(model.a, model.forward(y), s * model.k)'''
# (half the models' layers have a __call__ decorated with mdeco, half a plain one)
MODEL_DECORATED = MODEL.replace("    def __call__", "    @mdeco\n    def __call__")


MODULE = '''\
def pair(a, b):
    return a * np.tanh(b) + 0.5 * b


def opt(a, b, scale=1.0, shift=0.0):
    return a * scale + np.sin(b) + shift


def forward_all(*args, **kwargs):
    return opt(*args, **kwargs)


def total(*args):
    out = 0.0
    for a in args:
        out = out + np.sum(np.sin(a) * a)
    return out


def deco(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


@deco
def dpair(a, b):
    return np.cos(a) * b + a


def apply2(fn, a, b):
    return fn(a, b)


class Layer:
    def __init__(self, k):
        self.k = k

    @deco
    def scale(self, t):
        return np.tanh(t) * self.k + t


LAYER = Layer(0.7)


def sfn(t):
    if t > 0.3:
        return math.sin(t) * t
    return t * t + 0.1 * t'''


def _bind(g, shape, text, kind, pre=()):
    name = g.fresh()
    for line in pre:
        g.emit(line)
    g.emit(f"{name} = {text}")
    from tests.fuzz.generator import Var  # (the generator imports this module)
    g.env[name] = Var(shape, g.new_base(), array=bool(shape))
    g.special_outputs.append(name)
    g.use(kind)


def _two(g, shape):
    """Two active expressions: the first of ``shape``, the second broadcasting to it."""
    return g.expr(shape, 1), g.expr(g.sub_shape(shape), 1)


def emit(g, kind):
    """Emit one use of ``kind`` in the generator ``g`` (a ``_Gen``)."""
    r = g.rng
    shape = g.pick_shape()
    if kind == "star_call":
        a, b = _two(g, shape)
        form = r.randrange(4)
        rows = [n for n, v in g.env.items() if v.shape and v.shape[0] == 2 and v.array]
        if form == 0:
            t = g.fresh("args")
            return _bind(g, shape, f"pair(*{t})", kind, [f"{t} = ({a}, {b})"])
        if form == 1:
            return _bind(g, shape, f"pair({a}, *({b},))", kind)
        if form == 2 or not rows:
            return _bind(g, shape, f"pair(*[{a}, {b}])", kind)
        src = r.choice(rows)
        return _bind(g, g.env[src].shape[1:], f"pair(*{src})", kind)
    if kind in ("kwargs_call", "forward_wrapper"):
        a, b = _two(g, shape)
        fn = "opt" if kind == "kwargs_call" else "forward_all"
        # (a value that carries a derivative by keyword into the wrapper's **kwargs is refused:
        # forms 1 and 2 of forward_all, rarer there)
        form = r.choice([0, 3, 1, 2] if kind == "kwargs_call" else [0, 0, 3, 3, 3, 1, 2])
        if form == 0:
            o = g.fresh("o")
            return _bind(g, shape, f"{fn}({a}, {b}, **{o})", kind,
                         [f"{o} = {{'scale': {g.const()}, 'shift': {g.const()}}}"])
        if form == 1:
            return _bind(g, shape, f"{fn}({a}, b={b}, **{{'shift': {g.const()}}})", kind)
        if form == 2:  # an active value in the options
            return _bind(g, shape, f"{fn}({a}, {b}, **{{'scale': {g.expr((), 1)}}})", kind)
        t = g.fresh("args")
        return _bind(g, shape, f"{fn}(*{t}, scale={g.const()})", kind, [f"{t} = [{a}, {b}]"])
    if kind == "varargs_helper":
        a, b = _two(g, shape)
        if r.random() < 0.5:
            return _bind(g, (), f"total({a}, {b})", kind)
        t = g.fresh("args")
        return _bind(g, (), f"total(*{t})", kind, [f"{t} = ({a}, {b})"])
    if kind == "decorated":
        a, b = _two(g, shape)
        form = r.choice([0, 1, 3, 0, 1, 3, 2])  # (2: partial binding an active value, refused)
        if form == 0:
            return _bind(g, shape, f"dpair({a}, {b})", kind)
        if form == 1:
            h = g.fresh("fn")
            return _bind(g, shape, f"{h}({a}, {b})", kind, [f"{h} = dpair"])
        if form == 2:
            return _bind(g, shape, f"functools.partial(dpair, {a})({b})", kind)
        return _bind(g, shape, f"apply2(dpair, {a}, {b})", kind)
    if kind == "decorated_method":
        a = g.expr(shape, 1)
        if r.random() < 0.5:
            return _bind(g, shape, f"LAYER.scale({a})", kind)
        return _bind(g, shape, f"apply2(Layer.scale, LAYER, {a})", kind)
    if kind == "add_at":
        return _add_at(g, kind)
    if kind == "vectorize":
        a = g.expr(shape, 1)
        if r.random() < 0.5:
            return _bind(g, shape, f"np.vectorize(sfn)({a})", kind)
        vf = g.fresh("vf")
        return _bind(g, shape, f"{vf}({a})", kind, [f"{vf} = np.vectorize(sfn)"])
    if kind == "take_along_axis":
        n, m = r.choice(g.sizes), r.choice(g.sizes)
        k = r.randint(1, 3)
        axis = r.randrange(2)
        ishape = (n, k) if axis == 1 else (k, m)
        hi = m if axis == 1 else n
        idx = [[r.randrange(hi) for _ in range(ishape[1])] for _ in range(ishape[0])]
        return _bind(g, ishape, f"np.take_along_axis({g.expr((n, m), 1)}, np.array({idx}), "
                                f"axis={axis})", kind)
    if kind == "sliding_window":
        n = r.choice([q for q in g.sizes if q >= 2] or [3])
        w = r.randint(1, n)
        text = f"np.lib.stride_tricks.sliding_window_view({g.expr((n,), 1)}, {w})"
        if r.random() < 0.5:
            return _bind(g, (n - w + 1,), f"np.sum({text}, axis=1)", kind)
        return _bind(g, (n - w + 1, w), f"{text} * 1.0", kind)  # (the view is read-only)
    if kind == "bincount":
        k = r.randint(2, 4)
        idx = [r.randrange(3) for _ in range(k)]
        m = r.randint(0, 4)
        size = max(m, max(idx) + 1)
        return _bind(g, (size,), f"np.bincount(np.array({idx}), weights={g.expr((k,), 1)}, "
                                 f"minlength={m})", kind)
    if kind == "nan_reduce":
        return _nan_reduce(g, kind)
    raise ValueError(kind)


def _add_at(g, kind):
    r = g.rng
    n = r.choice(g.sizes)
    rest = r.choice([(), (), (r.choice(g.sizes),)])
    z = g.fresh("z")
    idx = [r.randrange(-n, n) for _ in range(r.randint(2, 4))]
    idx.append(idx[0])  # a repeated index
    if r.random() < 0.5:
        init = f"np.zeros({(n,) + rest!r})"
    else:
        init = f"{g.expr((n,) + rest, 1)} * 1.0"
    fn = r.choice(["np.add.at", "np.add.at", "np.subtract.at"])
    value = g.expr(g.sub_shape((len(idx),) + rest), 1)
    index = repr(idx) if r.random() < 0.5 else f"np.array({idx})"
    g.emit(f"{z} = {init}")
    g.emit(f"{fn}({z}, {index}, {value})")
    _bind(g, (n,) + rest, f"{z} * 1.0" if r.random() < 0.3 else z, kind)


def _nan_reduce(g, kind):
    r = g.rng
    shape = r.choice([s for s in g.shape_pool() if s] or [(3,)])
    a = g.expr(shape, 1)
    fn = r.choice(["nanvar", "nanstd", "nanprod", "nancumsum", "nancumprod"])
    if fn in ("nanprod", "nancumprod"):
        a = f"(1.0 + 0.5 * np.tanh({a}))"
    if fn == "nanstd":
        a = f"({a} + np.arange({shape[-1]}) * 0.7)"  # away from a zero spread
    if r.random() < 0.5 or len(shape) == 1 and fn in ("nancumsum", "nancumprod"):
        out = (math_prod(shape),) if fn in ("nancumsum", "nancumprod") else ()
        if len(shape) == 1 and fn in ("nancumsum", "nancumprod") and r.random() < 0.5:
            return _bind(g, shape, f"np.{fn}({a}, axis=0)", kind)
        return _bind(g, out, f"np.{fn}({a})", kind)
    axis = r.randrange(len(shape))
    out = shape if fn in ("nancumsum", "nancumprod") else shape[:axis] + shape[axis + 1:]
    return _bind(g, out, f"np.{fn}({a}, axis={axis})", kind)


def math_prod(shape):
    out = 1
    for n in shape:
        out *= n
    return out
