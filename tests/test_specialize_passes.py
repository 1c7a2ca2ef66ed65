"""The specialize stage's passes, one by one: for each pass of ``specialize.passes.PASSES``, a
gradient whose specialized source differs with and without the pass by what the pass is for (the
"before" text without it, the "after" text with it), and the same gradients either way.

These are the before/after examples of the passes; ``passes.SKIP`` switches a pass off.
"""

import numpy as np
import pytest

from sourcediff.specialize import passes
from tests.passes_off import specialized


def helpers(x, w, b):
    return np.sum((x @ w + b) ** 2)


def scalar_seeds(x):
    return np.sum(np.sin(x))


def dict_gradients(p, x):
    return np.sum(np.tanh(x @ p["W"] + p["b"]) ** 2)


def row_blocks(w, X, y):
    return np.mean(np.logaddexp(0.0, -y * (X @ w)))


def buffers(x, w):
    return np.sum(np.tanh(x @ w) * np.exp(x @ w))


def column_sums(x, b):
    return np.sum(np.tanh(x + b) ** 2)


def rnn(xs, Wx, Wh, h):
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh)
    return np.sum(h ** 2)


def biased_rnn(xs, Wx, Wh, b, h):
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.sum(h ** 2)


def released(x, w):
    return np.sum(np.sin(np.sum(np.exp(x @ w) * (x @ w), axis=1)))


def cubic(a, b, x, y):
    return np.sum((a * x**2 + b * x**3 - y) ** 2)


def shifted_sums(z):
    m = np.max(z, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    return np.sum(lse * lse)


def picked(z, labels):
    m = np.max(z, axis=1, keepdims=True)
    logp = z - (m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True)))
    return -np.mean(logp[np.arange(z.shape[0]), labels])


def summed_products(x, c, s):
    d = x[:, None, :] - c[None, :, :]
    return np.sum(np.sin(np.sum(d ** 2 * s, axis=2)))


def layers(params, x):
    for W, b in params:
        x = np.tanh(x @ W + b)
    return np.sum(x ** 2)


def reduction_methods(x):
    return np.sum(np.sin(np.mean(x, 1)) * np.max(x, axis=1, keepdims=True).T)


def library_calls(x):
    for _ in range(3):
        x = np.sin(x) * 0.9
    return x


_rng = np.random.default_rng(0)
_RNN = (_rng.normal(size=(5, 4, 3)), _rng.normal(size=(3, 6)), _rng.normal(size=(6, 6)) * 0.3,
        np.zeros((4, 6)))

# pass name -> (function, arguments, wrt, text without the pass, text with it)
EXAMPLES = {
    "helpers": (helpers, (_rng.normal(size=(20, 3)), _rng.normal(size=(3, 4)),
                          _rng.normal(size=(1, 4))), (1, 2),
                "w_bar = _sd.matmul_grad_right(_matmul1_bar, x, w)", "w_bar = x.T @ _matmul1_bar"),
    "scalar_seeds": (scalar_seeds, (_rng.normal(size=5),), 0,
                     "x_bar = _sin1_bar * np.cos(x)",  # (without it: the known fill)
                     "x_bar = np.cos(x)\n"),
    "dict_gradients": (dict_gradients, ({"W": _rng.normal(size=(3, 4)), "b": _rng.normal(size=4)},
                                        _rng.normal(size=(6, 3))), 0,
                       "p_bar = _sd.scatter_basic(_item2_bar, p, 'b')",
                       "return {'W': p_bar_W, 'b': p_bar_b}"),
    "row_blocks": (row_blocks, (_rng.normal(size=20), _rng.normal(size=(60000, 20)),
                                np.sign(_rng.normal(size=60000))), 0,
                   "w_bar = X.T @ _matmul1_bar", "X_rows = X[_r:_r + "),
    "buffers": (buffers, (_rng.normal(size=(200, 100)), _rng.normal(size=(100, 200)) * 0.1), 1,
                "_tanh1 = np.tanh(_matmul1)\n", "_tanh1 = np.tanh(_matmul1, out=_matmul1)"),
    "column_sums": (column_sums, (_rng.normal(size=(30, 4)), _rng.normal(size=(1, 4))), 1,
                    "b_bar = _add1_bar.sum(axis=(0,), keepdims=True)", "b_bar = _ones30 @ _add1_bar"),
    "loop_products": (rnn, _RNN, (1, 2), "_matmul1 = _item2 @ Wx",
                      "_rows_product1 = (xs.reshape(20, 3) @ Wx).reshape(5, 4, 6)"),
    "stacked_products": (rnn, _RNN, (1, 2), "Wh_bar = Wh_bar + h.T @ _matmul2_bar",
                         "Wh_bar = _sd.add_stacked_products(Wh_bar, _Wh_bar_lhs1[::-1], _stacked1)"),
    "rows_in_place": (biased_rnn, _RNN[:3] + (_rng.normal(size=6), _RNN[3]), (1, 2, 3),
                      "_stacked1 = _sd.stack_rows(_Wh_bar_rhs1[::-1])",
                      "_stacked1 = _Wh_bar_rhs1.reshape(-1, 6)"),
    "loop_broadcasts": (biased_rnn, _RNN[:3] + (_rng.normal(size=6), _RNN[3]), (1, 2, 3),
                        "_add2 = _add1 + b", "_b_rows1 = _sd.np.broadcast_to(b, (4, 6)).copy()"),
    "release": (released, (_rng.normal(size=(200, 100)), _rng.normal(size=(100, 200)) * 0.1), 1,
                "axis=1)\n    # grad of", "_mul1 = _sd.like_of(_mul1)\n"),
    "small_powers": (cubic, (0.5, -0.2, _rng.normal(size=50), _rng.normal(size=50)), (0, 1),
                     "_pow2 = x ** 3", "_pow2 = _pow1 * x"),
    "repeated_products": (cubic, (0.5, -0.2, _rng.normal(size=50), _rng.normal(size=50)), (0, 1),
                          "_pow2 = x * x * x", "_pow2 = _pow1 * x"),
    "scalar_factors": (cubic, (0.5, -0.2, _rng.normal(size=50), _rng.normal(size=50)), (0, 1),
                       "_sub1_bar = 2.0 * _sub1", "a_bar = _mul1_bar.dot(_pow1) * 2.0"),
    "shifted_sums": (shifted_sums, (_rng.normal(size=(6, 5)),), 0,
                     "_sd.extremum_weights(z, m, 1, True)",
                     "z_bar = _sub1_bar\n    # grad of: m = np.max"),
    "picked_scatters": (picked, (_rng.normal(size=(6, 5)), _rng.integers(0, 5, 6)), 0,
                        "logp_bar = _sd.scatter_basic(_item2_bar, logp, (_arange1, labels))",
                        "z_bar[_arange1, labels] = z_bar[_arange1, labels] + _item2_bar"),
    "known_fills": (picked, (_rng.normal(size=(6, 5)), _rng.integers(0, 5, 6)), 0,
                    "_sd.unreduce(-0.16666666666666666, _item2, None, False)",
                    "_item2_bar = _sd.np.full((6,), -0.16666666666666666, 'float64')"),
    "summed_products": (summed_products, (_rng.normal(size=(12, 3)), _rng.normal(size=(4, 3)),
                                          np.exp(_rng.normal(size=(4, 3)))), (1, 2),
                        "_sd.unreduce(_sum1_bar, _mul1, 2, False)",
                        "s_bar = _sd.np.einsum('ab,abc->bc', _sum1_bar, _pow1)"),
    "unrolled_loops": (layers, ([(_rng.normal(size=(3, 4)), _rng.normal(size=4)),
                                 (_rng.normal(size=(4, 2)), _rng.normal(size=2))],
                                _rng.normal(size=(5, 3))), 0,
                       "for _k1 in range(_len1):", "_k1 = 1\n"),
    "sequence_gradients": (layers, ([(_rng.normal(size=(3, 4)), _rng.normal(size=4)),
                                     (_rng.normal(size=(4, 2)), _rng.normal(size=2))],
                                    _rng.normal(size=(5, 3))), 0,
                           "return _sd.grad_like(params_bar, params)", "return [("),
    "reduction_methods": (reduction_methods, (_rng.normal(size=(6, 5)),), 0,
                          "_mean1 = np.mean(x, 1)", "_mean1 = x.mean(axis=1)"),
    "library_calls": (library_calls, (0.3,), 0, "x = np.sin(x) * 0.9\n", "x = np_sin(x) * 0.9\n"),
}


def _close(a, b):
    if isinstance(a, (tuple, list)):
        for u, v in zip(a, b):
            _close(u, v)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _close(a[k], b[k])
    else:
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _by_example():
    return {p.example: p for p in passes.PASSES if p.example is not None}


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_a_pass_makes_its_rewrite_and_keeps_the_gradient(example):
    fn, args, wrt, before, after = EXAMPLES[example]
    name = _by_example()[example].name
    without, g_without = specialized(fn, args, wrt, {name})
    with_, g_with = specialized(fn, args, wrt, set())
    assert before in without and after not in without, without
    assert after in with_ and before not in with_, with_
    _close(g_with, g_without)
    generic, _ = specialized(fn, args, wrt, {p.name for p in passes.PASSES})
    assert "_sd." in generic  # (every pass off: the generic code's helpers are all there)


def test_every_pass_has_an_example_and_every_example_a_pass():
    named = _by_example()
    assert set(named) == set(EXAMPLES)
    assert [p for p in passes.PASSES if p.example is None] == [passes.CLEANUP]
    assert len({p.name for p in passes.PASSES}) == len(passes.PASSES)
