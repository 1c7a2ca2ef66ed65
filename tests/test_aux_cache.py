"""``sd.grad(f, has_aux=True)`` is made once per function and options, as ``sd.grad(f)`` is.

JAX-style training loops write ``(loss, aux), g = sd.value_and_grad(f, has_aux=True)(params, x)``
on every step. The wrapper that takes the loss out of ``(loss, aux)`` was a new function on each
call, so every step compiled the loss again (28 ms a step for a three-line loss, against 12 µs
for ``sd.grad(f)(...)``)."""

import numpy as np

import sourcediff as sd
from sourcediff import compiled
from tests.oracles import check_grads_fd


def _loss_and_norm(w, x):
    y = np.tanh(x @ w)
    return np.sum(y ** 2), {"norm": float(np.linalg.norm(y))}


def _outer():
    scale = 2.0

    def f(w):
        return np.sum(w * scale) ** 2, scale

    def set_scale(v):
        nonlocal scale
        scale = v

    return f, set_scale


def test_has_aux_gradients_are_made_once():
    for make in (lambda: sd.grad(_loss_and_norm, has_aux=True),
                 lambda: sd.grad(_loss_and_norm, wrt=(0, 1), has_aux=True),
                 lambda: sd.value_and_grad(_loss_and_norm, has_aux=True),
                 lambda: sd.grad(_loss_and_norm, has_aux=True, mode="forward")):
        assert make() is make()
    assert sd.grad(_loss_and_norm, has_aux=True) is not sd.value_and_grad(_loss_and_norm,
                                                                           has_aux=True)


def test_a_has_aux_call_in_a_loop_compiles_once(monkeypatch):
    rng = np.random.default_rng(0)
    w, x = rng.standard_normal(3), rng.standard_normal((4, 3))
    sd.value_and_grad(_loss_and_norm, has_aux=True)(w, x)
    made = []
    real = compiled.transform
    monkeypatch.setattr(compiled, "transform", lambda *a, **k: made.append(a) or real(*a, **k))
    for _ in range(3):
        (value, aux), g = sd.value_and_grad(_loss_and_norm, has_aux=True)(w, x)
    assert made == []
    assert value == _loss_and_norm(w, x)[0] and aux == _loss_and_norm(w, x)[1]
    check_grads_fd(lambda w, x: _loss_and_norm(w, x)[0], (w, x), (0,), (g,))


def test_what_the_function_captures_is_still_followed():
    f, set_scale = _outer()
    w = np.array([1.0, 2.0])
    for scale in (2.0, 3.0, 4.0):
        set_scale(scale)
        g, aux = sd.grad(f, has_aux=True)(w)
        assert aux == scale
        np.testing.assert_allclose(g, 2 * np.sum(w * scale) * scale * np.ones(2))


def _quadratic(w, X):
    return np.sum((X @ w) ** 2)


def test_a_function_made_anew_on_every_step_is_named_once():
    """``sd.grad(lambda w: loss(w, X))(w)`` in a loop compiles a new function on every step:
    one SourcediffWarning, at the fifth compile of that code, says so and what to write."""
    import warnings

    w = np.ones(3)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for step in range(7):
            X = np.full((4, 3), float(step))
            g = sd.grad(lambda w: _quadratic(w, X))(w)
            np.testing.assert_allclose(g, 2 * X.T @ (X @ w))
    ours = [m for m in seen if issubclass(m.category, sd.SourcediffWarning)]
    assert len(ours) == 1
    text = str(ours[0].message)
    assert "<lambda>" in text and "test_aux_cache.py" in text and "df = sd.grad(loss)" in text
    assert ours[0].filename == __file__  # (at the user's line)


def test_a_gradient_made_once_is_not_named():
    import warnings

    df = sd.grad(_quadratic)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for step in range(7):
            df(np.ones(3), np.full((4, 3), float(step)))
            sd.grad(_quadratic)(np.ones(3), np.full((4, 3), float(step)))


def _penalized(w, x, l2=0.1):
    r = np.tanh(x @ w)
    return np.sum(r ** 2) + l2 * np.sum(w ** 2), {"r": r}


def _penalized_kw(w, x, *, l2=0.1, scale):
    r = np.tanh(x @ w) * scale
    return np.sum(r ** 2) + l2 * np.sum(w ** 2), r


def test_has_aux_takes_defaults_and_keyword_only_parameters():
    """``def loss(w, x, l2=0.1)`` with has_aux=True was refused ('can wrap only functions with
    plain positional parameters'); the wrapper now has the function's own signature."""
    rng = np.random.default_rng(1)
    w, x = rng.standard_normal(3), rng.standard_normal((4, 3))
    for args, kwargs, fn in (((w, x), {}, _penalized), ((w, x, 0.7), {}, _penalized),
                             ((w, x), {"scale": 2.0}, _penalized_kw),
                             ((w, x), {"l2": 0.3, "scale": 0.5}, _penalized_kw)):
        g, aux = sd.grad(fn, has_aux=True)(*args, **kwargs)
        np.testing.assert_allclose(aux if not isinstance(aux, dict) else aux["r"],
                                   fn(*args, **kwargs)[1]["r"] if isinstance(aux, dict)
                                   else fn(*args, **kwargs)[1])
        check_grads_fd(lambda *a: fn(*a, **kwargs)[0], args, (0,), (g,))


def test_a_replaced_default_is_followed():
    rng = np.random.default_rng(2)
    w, x = rng.standard_normal(3), rng.standard_normal((4, 3))
    before = sd.grad(_penalized, has_aux=True)(w, x)[0]
    old = _penalized.__defaults__
    try:
        _penalized.__defaults__ = (2.0,)
        after = sd.grad(_penalized, has_aux=True)(w, x)[0]
    finally:
        _penalized.__defaults__ = old
    np.testing.assert_allclose(after - before, 2 * (2.0 - 0.1) * w)


def _scaled_tanh(x, c=1.0):
    return np.tanh(c * x)


def test_elementwise_grad_follows_a_replaced_default():
    x = np.array([0.1, -0.4])
    first = sd.elementwise_grad(_scaled_tanh)(x)
    np.testing.assert_allclose(first, 1 - np.tanh(x) ** 2)
    old = _scaled_tanh.__defaults__
    try:
        _scaled_tanh.__defaults__ = (3.0,)
        np.testing.assert_allclose(sd.elementwise_grad(_scaled_tanh)(x),
                                   3.0 * (1 - np.tanh(3.0 * x) ** 2))
    finally:
        _scaled_tanh.__defaults__ = old
