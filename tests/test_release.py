"""The specialized gradient releases its large arrays where their last read passes
(specialize/release.py): less memory held at the peak of a call, and never a value that is still
read (through an alias, in a loop or a branch after, by a nested function)."""

import textwrap

import gast
import numpy as np
import pytest
from scipy.special import logsumexp

import sourcediff as sd
from sourcediff.compiler.emit import emit
from sourcediff.specialize import passes
from sourcediff.specialize.facts import Arr
from sourcediff.specialize.release import release
from tests.oracles import check_grads_fd
from tests.test_saves import _peak

rng = np.random.default_rng(11)
N, K, D = 2000, 16, 8


def mixture(m, X):
    diff = X[:, None, :] - m[None, :, :]
    sq = diff ** 2  # (N, K, D): read by the backward sweep only for its shape
    s = np.sum(sq, axis=2)
    return -np.sum(logsumexp(-s, axis=1))


def _gradient(fn, wrt, args, release=True, skip=()):
    sd.clear_cache()
    saved = set(passes.SKIP)
    passes.SKIP.update(skip)
    if not release:
        passes.SKIP.add("release")
    try:
        df = sd.grad(fn, wrt=wrt)
        df(*args)  # (specialized for these arguments here)
        return df, sd.source(df, *args)
    finally:
        passes.SKIP.clear()
        passes.SKIP.update(saved)


def test_a_gradient_call_holds_less_memory_with_the_release():
    # (without the summed-products pass, whose einsum reads diff and s_bar and no longer needs
    # sq at all: see the test after this one)
    args = (rng.standard_normal((K, D)), rng.standard_normal((N, D)))
    df, text = _gradient(mixture, 0, args, skip={"summed products"})
    assert "sq = _sd.like_of(sq)" in text, text
    # (the buffers pass wrote diff's adjoint into diff: the name goes, the array lives on)
    assert "out=diff)\n    del diff" in text, text
    released = _peak(df, *args)
    df_kept, kept_text = _gradient(mixture, 0, args, release=False, skip={"summed products"})
    assert "like_of" not in kept_text and "del " not in kept_text
    kept = _peak(df_kept, *args)
    # the (N, K, D) squares, held through the backward sweep without the release
    assert kept - released >= 0.7 * N * K * D * 8, (kept, released)
    np.testing.assert_allclose(df(*args), df_kept(*args), rtol=1e-12)
    check_grads_fd(mixture, args, (0,), (df(*args),))


def through_alias(x, w):
    a = np.exp(x * w)
    b = a  # (the same array under another name)
    c = np.sum(a, axis=1)
    d = np.sin(c)
    return np.sum(d) + np.sum(b * b)


def in_a_loop_after(x, w):
    a = np.tanh(x * w)
    s = np.sum(a * a)
    for k in range(3):
        s = s + np.sum(a[k] * w[k])
    return s


def in_a_branch_after(x, w):
    a = np.exp(x * w)
    s = np.sum(np.sin(a), axis=0)
    t = np.sum(s)
    if t > -1e9:
        t = t + np.sum(a * x)
    return t


def by_a_closure(x, w):
    a = np.tanh(x * w)

    def scaled(v):
        return v * a

    s = np.sum(a ** 2)
    return s + np.sum(scaled(x))


def by_a_lambda(x, w):
    a = np.cos(x * w)
    f = lambda v: np.sum(v * a)  # noqa: E731
    s = np.sum(a * a)
    return s + f(w)


def written_after_shape_reads(x, w):
    a = x * w
    s = np.sum(a, axis=1)  # (a's shape is read back by the sum's adjoint)
    b = np.sin(s)
    c = np.zeros(a.shape) + a
    c[0] = 0.0
    return np.sum(b) + np.sum(c * w)


PROGRAMS = [through_alias, in_a_loop_after, in_a_branch_after, by_a_closure, by_a_lambda,
            written_after_shape_reads]


@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_a_value_read_later_is_not_released_before(fn):
    args = (rng.standard_normal((100, 120)) * 0.3, rng.standard_normal((100, 120)) * 0.3)
    df, text = _gradient(fn, (0, 1), args)
    grads = df(*args)
    check_grads_fd(fn, args, (0, 1), grads)
    df_kept, _ = _gradient(fn, (0, 1), args, release=False)
    for g, k in zip(grads, df_kept(*args)):
        np.testing.assert_allclose(g, k, rtol=1e-12)


def test_the_summed_products_pass_lets_the_squares_go_at_once():
    # (the backward's sum of s_bar times 2 * diff is one einsum: sq, (N, K, D), is read by
    # nothing after its sum, and the release deletes it there)
    args = (rng.standard_normal((K, D)), rng.standard_normal((N, D)))
    df, text = _gradient(mixture, 0, args)
    assert "np.einsum(" in text and "del sq\n" in text and "like_of(sq)" not in text, text
    check_grads_fd(mixture, args, (0,), (df(*args),))


def test_the_release_is_made_where_it_applies():
    # (the programs above do release something, so they check the pass and not only its absence)
    args = (rng.standard_normal((100, 120)) * 0.3, rng.standard_normal((100, 120)) * 0.3)
    made = {fn.__name__: _gradient(fn, (0, 1), args)[1] for fn in PROGRAMS}
    assert sum("del " in t or "like_of" in t for t in made.values()) >= 4, made


def test_nothing_is_released_where_locals_are_read():
    def with_locals(x, w):
        a = np.exp(x * w)
        s = np.sum(np.sin(a))
        return s + 0.0 * len(locals())

    args = (rng.standard_normal((100, 120)) * 0.3, rng.standard_normal((100, 120)) * 0.3)
    try:
        df, text = _gradient(with_locals, (0, 1), args)
        grads = df(*args)
    except sd.SourcediffError:
        pytest.skip("locals() is refused before any code is generated")
    assert "del " not in text
    check_grads_fd(with_locals, args, (0, 1), grads)


def _released_source(fn_source, ever):
    """The source of ``fn_source``'s function after the pass, given the facts ``ever``."""
    fdef = gast.parse(textwrap.dedent(fn_source)).body[0]
    release(fdef, ever, {}, "_sd")
    return emit(fdef).source


def test_a_name_a_nested_function_reads_is_not_released():
    big = Arr((1000, 100), np.float64)
    text = _released_source('''
    def f(x):
        a = np.exp(x)
        g = lambda: a
        b = np.sin(a)
        c = b * 2.0
        d = np.cos(c)
        e = d + 1.0
        return g() + e
    ''', {n: big for n in "abcde"})
    assert "del b" in text and "del c" in text, text  # (the pass runs here)
    assert "del a" not in text, text  # (read by the lambda, called after a's last read in sight)


def test_nothing_is_released_in_a_function_that_reads_its_locals():
    big = Arr((1000, 100), np.float64)
    source = '''
    def f(x):
        a = np.exp(x)
        b = np.sin(a)
        c = b * 2.0
        return c + len({})
    '''
    assert "del " in _released_source(source.format("()"), {n: big for n in "abc"})
    assert "del " not in _released_source(source.format("locals()"), {n: big for n in "abc"})
