"""Review of the specializer's small powers: a square of booleans stays a power (its product is
another dtype), and a cube or fourth power whose value only the gradients read is written as
products (numpy's pow is the whole cost of W2's forward), where a value the user sees keeps the
power's bits."""

import numpy as np

import sourcediff as sd

from .oracles import check_grads_fd


def _code(text):
    """The generated source without its comments (which quote the user's lines)."""
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("#"))


def doubled_square(x, m):
    q = m ** 2
    return np.sum(x * (q + q))


def test_a_square_of_booleans_stays_a_power():
    # m ** 2 is an int8 array and m * m a boolean one: q + q was True (1) where it is 2
    x = np.random.default_rng(0).normal(size=5)
    m = np.array([True, False, True, True, False])
    df = sd.grad(doubled_square)
    g = df(x, m)
    assert "q = m * m" not in sd.source(df, x, m)
    np.testing.assert_array_equal(g, df.__sourcediff_specializations__.generic(x, m))
    check_grads_fd(doubled_square, (x, m), (0,), (g,))


def cubic(a, b, c, d, x, y):  # benchmarks/workloads.py's W2
    return np.sum((a + b * x + c * x**2 + d * x**3 - y) ** 2)


def _cubic_args(n=2000):
    rng = np.random.default_rng(2)
    x = rng.uniform(-1.0, 1.0, n)
    return 0.1, -0.4, 0.7, 1.1, x, 0.3 - 1.2 * x + 2.0 * x ** 3 + 0.1 * rng.standard_normal(n)


def test_a_cube_only_the_gradients_read_is_a_product():
    # the forward's values reach only the gradients sd.grad returns: pow (49 us at 2,000
    # elements) was the whole cost of W2's forward
    args = _cubic_args()
    df = sd.grad(cubic, wrt=(0, 1, 2, 3))
    g = df(*args)
    text = _code(sd.source(df, *args))
    assert "**" not in text and "_pow2 = _pow1 * x" in text, text
    generic = df.__sourcediff_specializations__.generic(*args)
    np.testing.assert_allclose(g, generic, rtol=1e-12)  # (the cube's roundings only)
    check_grads_fd(cubic, args, (0, 1, 2, 3), g)


def test_value_and_grad_keeps_the_power_and_the_plain_calls_value():
    args = _cubic_args()
    vg = sd.value_and_grad(cubic, wrt=(0, 1, 2, 3))
    value, g = vg(*args)
    assert "_pow2 = x ** 3" in _code(sd.source(vg, *args))
    assert value == cubic(*args)  # bit for bit: the loss is the user's
    np.testing.assert_allclose(g, sd.grad(cubic, wrt=(0, 1, 2, 3))(*args), rtol=1e-12)
    check_grads_fd(cubic, args, (0, 1, 2, 3), g)


def cube_with_aux(x):
    t = x ** 3
    return np.sum(t * np.sin(x)), t


def test_an_aux_output_is_the_plain_calls_power():
    x = np.random.default_rng(3).normal(size=1000)
    want = x ** 3
    g, aux = sd.grad(cube_with_aux, has_aux=True)(x)
    np.testing.assert_array_equal(aux, want)
    (value, aux2), g2 = sd.value_and_grad(cube_with_aux, has_aux=True)(x)
    np.testing.assert_array_equal(aux2, want)
    assert value == cube_with_aux(x)[0]
    np.testing.assert_array_equal(g, g2)
    check_grads_fd(lambda x: cube_with_aux(x)[0], (x[:30],), (0,),
                   (sd.grad(cube_with_aux, has_aux=True)(x[:30])[0],))


def cube_appended(x, out):
    t = x ** 3
    out.append(t)
    return np.sum(t * np.sin(x))


def fourth_appended(x, out):
    t = x ** 4
    out.append(t * 2.0)
    return np.sum(t * np.sin(x))


def test_a_power_stored_into_a_list_it_was_given_is_the_plain_calls():
    x = np.random.default_rng(4).normal(size=1000)
    for f, want in ((cube_appended, x ** 3), (fourth_appended, x ** 4 * 2.0)):
        df = sd.grad(f)
        kept = []
        g = df(x, kept)
        assert "**" in _code(sd.source(df, x, [])), f.__name__
        np.testing.assert_array_equal(kept[0], want)
        check_grads_fd(f, (x[:30], []), (0,), (df(x[:30], []),))


def fourth_compared(x):
    t = x ** 4
    return np.sum(t * (t > 0.5) * np.cos(x))


def fourth(x, w):
    q = (x @ w) ** 4
    return np.sum(q * w[0])


def test_a_fourth_power_is_a_product_of_squares_unless_a_comparison_reads_it():
    rng = np.random.default_rng(5)
    x, w = rng.normal(size=(40, 6)), rng.normal(size=(6, 3))
    df = sd.grad(fourth, wrt=(0, 1))
    g = df(x, w)
    text = _code(sd.source(df, x, w))
    assert "**" not in text and "_matmul1 * _matmul1 * (_matmul1 * _matmul1)" in text, text
    generic = df.__sourcediff_specializations__.generic(x, w)
    for got, want in zip(g, generic):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    check_grads_fd(fourth, (x, w), (0, 1), g)
    # a comparison of the power: another rounding could take the other side (another gradient)
    v = rng.normal(size=200)
    db = sd.grad(fourth_compared)
    gb = db(v)
    assert "t = x ** 4" in _code(sd.source(db, v))
    check_grads_fd(fourth_compared, (v,), (0,), (gb,))
