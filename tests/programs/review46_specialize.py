"""review46: losses that sit just inside and just outside the preconditions of the specializer's
rewrites, written as users write them: RNNs and LSTMs over ``xs[t] @ Wx`` (loop products hoisted
before the loop, weight gradients stacked after the adjoint loop), elementwise chains over large
arrays (buffers reused in place, arrays released after their last read), losses over a data
matrix (row blocks) and losses of a Python float (the jvp form, specialized with its tangent).

Each case is ``(function, arguments, wrt, marks)``: ``marks`` are strings the specialized source
holds when the rewrite the case is about applies (just inside its preconditions); a case just
outside them has none to hold."""

import numpy as np

rng = np.random.default_rng(46)
T, B, D, H = 6, 4, 3, 5
XS = rng.normal(size=(T, B, D))
WX = rng.normal(size=(D, H)) * 0.3
WH = rng.normal(size=(H, H)) * 0.3
WX4 = rng.normal(size=(D, 4 * H)) * 0.3
WH4 = rng.normal(size=(H, 4 * H)) * 0.3
B4 = rng.normal(size=(4 * H,)) * 0.1
BIG_X = rng.normal(size=(300, 200))  # 480 KB: above the buffer and release thresholds
BIG_Y = rng.normal(size=(300, 200))
V = np.linspace(0.0, 1.0, 20000)
N, ND = 64, 5  # (row blocks: the tests lower the thresholds)
DATA_X = rng.normal(size=(N, ND))
DATA_Y = (rng.random(N) > 0.5) * 2.0 - 1.0
DATA_W = rng.normal(size=(ND,)) * 0.3

CASES = []


def case(args, wrt, marks=()):
    def register(fn):
        CASES.append((fn, args, wrt, tuple(marks)))
        return fn
    return register


def _zeros(xs, w):
    return np.zeros((xs.shape[1], w.shape[1]))


RNN = ((WX, XS), (0, 1))
HOIST, STACK = "_rows_product", "add_stacked_products"

# ---------------------------------------------------------------- loop products


@case(*RNN, marks=(HOIST,))
def row_then_product(Wx, xs):
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0]):
        x = xs[t]
        h = np.tanh(x @ Wx + h) + np.sin(x @ Wx)
    return np.sum(h ** 2)


@case(*RNN, marks=(HOIST,))
def product_input_saved(Wx, xs):
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0]):
        h = np.sin(xs[t] @ Wx) * h + np.sin(xs[t] @ Wx)
    return np.sum(h ** 2)


@case(*RNN, marks=(HOIST, STACK))
def weight_also_outside(Wx, xs):
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h)
    return np.sum(h ** 2) + np.sum(Wx ** 2) + np.sum(xs[0] @ Wx)


@case(*RNN, marks=(HOIST,))
def weight_changed_between_outer_passes(Wx, xs):
    h = _zeros(xs, Wx)
    for k in range(2):
        for t in range(xs.shape[0]):
            h = np.tanh(xs[t] @ Wx + h)
        Wx = Wx * 0.5
    return np.sum(h ** 2)


@case(*RNN)
def weight_changed_after_the_read(Wx, xs):
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0]):
        v = xs[t]
        h = np.tanh(v @ Wx + h)
        Wx = Wx * 0.9
    return np.sum(h ** 2)


@case(*RNN)
def weight_changed_before_the_read(Wx, xs):
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0]):
        Wx = Wx * 0.9
        h = np.tanh(xs[t] @ Wx + h)
    return np.sum(h ** 2)


@case(*RNN)
def weight_changed_in_a_branch(Wx, xs):
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h)
        if t == 2:
            Wx = Wx + 1.0
    return np.sum(h ** 2)


@case(*RNN)
def weight_through_an_alias(Wx, xs):
    h = _zeros(xs, Wx)
    W = Wx
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ W + h)
        W = W + 0.1
    return np.sum(h ** 2)


@case(*RNN)
def weight_changed_in_an_inner_loop(Wx, xs):
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0]):
        for k in range(2):
            h = np.tanh(xs[t] @ Wx + h)
            Wx = Wx * 0.5
    return np.sum(h ** 2)


@case(*RNN)
def data_rebound_in_the_loop(Wx, xs):
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h)
        xs = xs * 1.1
    return np.sum(h ** 2)


@case(*RNN)
def data_written_in_the_loop(Wx, xs):
    xs = xs + 0.0
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h)
        if t + 1 < xs.shape[0]:
            xs[t + 1] = xs[t + 1] + h[:, :3]
    return np.sum(h ** 2)


@case(*RNN)
def row_rebound_after_its_product(Wx, xs):
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0]):
        x = xs[t]
        a = x @ Wx
        x = x * 2.0
        h = np.tanh(a + h + x @ Wx)
    return np.sum(h ** 2)


@case(*RNN, marks=(STACK,))
def row_shifted(Wx, xs):
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t - 1] @ Wx + h)
    return np.sum(h ** 2)


@case(*RNN, marks=(STACK,))
def row_negated(Wx, xs):
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0]):
        h = np.tanh(xs[-t] @ Wx + h)
    return np.sum(h ** 2)


@case(*RNN, marks=(STACK,))
def row_strided(Wx, xs):
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0] // 2):
        h = np.tanh(xs[2 * t] @ Wx + h)
    return np.sum(h ** 2)


@case(*RNN, marks=(STACK,))
def range_with_start_and_step(Wx, xs):
    h = _zeros(xs, Wx)
    for t in range(1, xs.shape[0], 2):
        h = np.tanh(xs[t] @ Wx + h)
    return np.sum(h ** 2)


@case(*RNN)
def reversed_range(Wx, xs):
    h = _zeros(xs, Wx)
    for t in reversed(range(xs.shape[0])):
        h = np.tanh(xs[t] @ Wx + h)
    return np.sum(h ** 2)


@case(*RNN, marks=(STACK,))
def loop_with_break(Wx, xs):
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h)
        if t == 3:
            break
    return np.sum(h ** 2)


@case(*RNN)
def loop_with_continue(Wx, xs):
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0]):
        if t == 2:
            continue
        h = np.tanh(xs[t] @ Wx + h)
    return np.sum(h ** 2)


@case(*RNN)
def while_loop(Wx, xs):
    h = _zeros(xs, Wx)
    t = 0
    while t < xs.shape[0]:
        h = np.tanh(xs[t] @ Wx + h)
        t += 1
    return np.sum(h ** 2)


@case((WX, np.ascontiguousarray(XS.transpose(1, 0, 2))), (0, 1), marks=(STACK,))
def column_of_the_data(Wx, xs):
    h = np.zeros((xs.shape[0], Wx.shape[1]))
    for t in range(xs.shape[1]):
        h = np.tanh(xs[:, t] @ Wx + h)
    return np.sum(h ** 2)


@case(*RNN)
def products_kept_in_a_list(Wx, xs):
    hs = []
    h = _zeros(xs, Wx)
    for t in range(xs.shape[0]):
        a = xs[t] @ Wx
        hs.append(a)
        h = np.tanh(a + h)
    return np.sum(h ** 2) + sum(np.sum(a * a) for a in hs)


# ---------------------------------------------------------------- LSTMs (both loop passes)

LSTM = ((WX4, WH4, B4, XS), (0, 1, 2, 3))


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


@case(*LSTM, marks=(HOIST,))
def lstm(Wx, Wh, b, xs):
    H = Wh.shape[0]
    h = np.zeros((xs.shape[1], H))
    c = np.zeros((xs.shape[1], H))
    total = 0.0
    for t in range(xs.shape[0]):
        z = xs[t] @ Wx + h @ Wh + b
        i, f, o = _sig(z[:, :H]), _sig(z[:, H:2 * H]), _sig(z[:, 2 * H:3 * H])
        g = np.tanh(z[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        total = total + np.sum(h * h)
    return total


@case(*LSTM, marks=(HOIST, STACK, "out=_U_bar_rhs"))  # (the rows written in place)
def two_sequences_matrices_changed_between(Wx, Wh, b, xs):
    H = Wh.shape[0]
    W, U = Wx[:, :H], Wh[:, :H]
    h = np.zeros((xs.shape[1], H))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ W + h @ U)
    W = W * 2.0
    xs = xs * 0.5
    g = np.zeros((xs.shape[1], H))
    for t in range(xs.shape[0]):
        g = np.tanh(xs[t] @ W + g @ U + h)
    return np.sum(g ** 2)


@case(*LSTM, marks=(STACK,))
def product_read_twice_in_a_pass(Wx, Wh, b, xs):
    H = Wh.shape[0]
    U = Wh[:, :H]
    h = np.zeros((xs.shape[1], H))
    s = 0.0
    for t in range(xs.shape[0]):
        a = h @ U
        h = np.tanh(xs[t] @ Wx[:, :H] + a)
        s = s + np.sum(a * h)
    return s + np.sum(h @ U)


@case(*LSTM)
def state_rebound_twice_in_a_pass(Wx, Wh, b, xs):
    H = Wh.shape[0]
    U = Wh[:, :H]
    h = np.zeros((xs.shape[1], H))
    for t in range(xs.shape[0]):
        p = h @ U
        h = np.tanh(xs[t] @ Wx[:, :H] + p)
        q = h @ U
        h = h + 0.1 * np.tanh(q)
    return np.sum(h ** 2)


# ---------------------------------------------------------------- buffers and releases

BIG = ((BIG_X, BIG_Y), (0, 1))


@case(*BIG, marks=("out=",))
def elementwise_chain(x, y):
    a = x * y
    b = np.exp(a * 0.1)
    c = b + y
    d = np.tanh(c)
    return np.sum(d * d)


@case(*BIG, marks=("out=",))
def chain_with_a_view_kept(x, y):
    a = x * y
    v = a[::2]
    b = a * 2.0
    c = b + y
    return np.sum(c * c) + np.sum(v)


@case(*BIG, marks=("out=",))
def chain_with_a_transpose(x, y):
    a = x * y
    b = a * 2.0 + 1.0
    c = b.T
    d = b * 3.0
    return np.sum(c.T * d)


@case(*BIG, marks=("out=",))
def name_rebound_in_the_chain(x, y):
    a = x * y
    a = a * 2.0
    b = a + y
    a = b * b
    return np.sum(a)


@case(*BIG)
def chain_kept_in_a_list(x, y):
    a = x * y
    out = [a]
    b = a + 1.0
    c = b * b
    out.append(c)
    return np.sum(out[0]) + np.sum(out[1] * 0.5)


@case(*BIG, marks=("out=",))
def chain_through_maximum(x, y):
    a = x * y
    b = np.maximum(a, 0.0)
    c = b * a
    return np.sum(c)


# ---------------------------------------------------------------- a Python float argument

FLOAT = ((0.7, BIG_X, BIG_Y), 0)


@case(*FLOAT, marks=("jvp_",))
def float_scale_in_a_chain(a, x, y):
    p = x * a
    b = np.exp(p * 0.1)
    c = b + y
    return np.sum(np.tanh(c) ** 2)


@case(*FLOAT, marks=("jvp_",))
def float_returns_one_entry_of_a_large_array(a, x, y):
    p = np.sin(x * a) * y
    return p[:1, :1] * 1.0


@case((0.3, V), 0, marks=("jvp_",))
def float_returns_one_entry_of_unknown_fact(a, v):
    return np.real(np.fft.fft(np.sin(a * v))[:1])


@case(*FLOAT, marks=("jvp_",))
def float_with_a_view_kept(a, x, y):
    p = x * a
    r = p[::2]
    q = p * 3.0
    t = q + y
    return np.sum(t * r[0]) + np.sum(r)


# ---------------------------------------------------------------- row blocks

DATA = ((DATA_W, DATA_X, DATA_Y), 0)
ROWS = "for _r in range"


@case(*DATA, marks=(ROWS,))
def logistic(w, X, y):
    z = X @ w
    return np.sum(np.logaddexp(0.0, -y * z))


@case(*DATA)
def centred_by_the_mean(w, X, y):
    z = X @ w
    m = np.mean(z)
    return np.sum((z - m) ** 2)


@case(*DATA)
def log_of_a_sum_over_rows(w, X, y):
    z = X @ w
    return np.log(np.sum(np.exp(z))) - np.mean(y * z)


@case(*DATA, marks=(ROWS,))
def rows_normalized(w, X, y):
    n = np.sqrt(np.sum(X * X, axis=1))
    z = (X @ w) / n
    return np.sum((z - y) ** 2)


@case(*DATA, marks=(ROWS,))
def labels_times_data(w, X, y):
    z = X @ w
    g = y @ X
    return np.sum(z ** 2) + g @ w


@case((0.7, DATA_W, DATA_X, DATA_Y), 0, marks=(ROWS, "jvp_"))
def float_scale_over_rows(a, w, X, y):
    r = (X @ w) * a - y
    return np.sum(r * r) + np.mean(X @ w) * a
