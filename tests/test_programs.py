"""Real programs as people write them: the classic HIPS-autograd examples converted to
plain numpy (tests/programs/), each gradient checked against central finite differences over
sd.flatten's vector, in reverse and forward mode, and against HIPS autograd when it is installed.

A program sourcediff refuses or crashes on is an xfail(strict=True) whose test checks the message
it gives today, so it shows as a known gap and turns into a failure (XPASS) once it works; a
gradient that is wrong without an error is an xfail(strict=True, raises=AssertionError), listed
first below.
"""

import copy
import functools
import re
import types
from collections import namedtuple
from dataclasses import dataclass, field

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import NoRuleError
from sourcediff.pytree import leaves

from .programs import convnet, gmm, gp, grid_sim, mlp_list, rnn_dict, rnn_named, svi, vae


# --------------------------------------------------------------------------------------------
# The silent wrong gradient: a list or tuple argument handed to two helper calls. The caller
# adds the helpers' gradients for it with `+`, which concatenates lists and tuples (the wrapper
# then keeps the first entries: the gradient of one of the calls only); for a dict it is a
# TypeError. Forward mode is right. Found by mlp_list.loss (l2_norm(params) and
# predict(params)), which is how autograd's neural_net.py is written.
# --------------------------------------------------------------------------------------------

Pair = namedtuple("Pair", "a b")


def first(ws):
    return ws[0]


def twice(ws):
    return first(ws) + first(ws)


def first_of_dict(d):
    return d["a"]


def twice_dict(d):
    return first_of_dict(d) + first_of_dict(d)


# (found here: two helpers' gradients for one list argument were joined end to end in reverse
# mode, one call's gradient returned with no error; the tests below keep it fixed)


def test_forward_mode_gets_both_helpers_gradients():
    assert sd.grad(twice, mode="forward")([3.0]) == [2.0]
    assert sd.grad(twice, mode="forward")((3.0, 5.0)) == (2.0, 0.0)
    assert sd.grad(twice, mode="forward")(Pair(3.0, 5.0)) == Pair(2.0, 0.0)
    assert sd.grad(twice_dict, mode="forward")({"a": 3.0}) == {"a": 2.0}


def test_a_list_passed_to_two_helpers_gets_both_gradients():
    assert sd.grad(twice)([3.0]) == [2.0]


def test_a_tuple_passed_to_two_helpers_gets_both_gradients():
    assert sd.grad(twice)((3.0, 5.0)) == (2.0, 0.0)


def test_a_dict_passed_to_two_helpers_gets_both_gradients():
    assert sd.grad(twice_dict)({"a": 3.0}) == {"a": 2.0}


def test_a_namedtuple_passed_to_two_helpers_gets_both_gradients():
    assert sd.grad(twice)(Pair(3.0, 5.0)) == Pair(2.0, 0.0)


def step(ws, h):
    return np.tanh(ws[0] * h + ws[1])


def three_steps(ws, h):
    for t in range(3):
        h = step(ws, h)
    return h


def test_a_list_passed_to_a_helper_in_a_loop():
    np.testing.assert_allclose(sd.grad(three_steps)(*STEPS), STEPS_FD, rtol=1e-6)


STEPS = ([0.5, 0.2], 0.3)


def test_forward_mode_through_a_helper_in_a_loop():
    np.testing.assert_allclose(sd.grad(three_steps, mode="forward")(*STEPS), STEPS_FD, rtol=1e-6)


def pair_twice(p, x):
    return np.sum(layer(p, x)) + np.sum(layer(p, x) ** 2)


def layer(p, h):
    W, b = p
    return np.tanh(h @ W + b)


def test_a_layers_pair_passed_to_the_same_helper_twice():
    rs = np.random.RandomState(0)
    p, x = (rs.randn(3, 3), rs.randn(3)), rs.randn(4, 3)
    want = central_differences(pair_twice, (p, x), 0)
    np.testing.assert_allclose(sd.flatten(sd.grad(pair_twice, mode="forward")(p, x))[0], want,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sd.flatten(sd.grad(pair_twice)(p, x))[0], want, rtol=1e-5,
                               atol=1e-6)


# --------------------------------------------------------------------------------------------
# The programs
# --------------------------------------------------------------------------------------------

@dataclass
class Program:
    fn: object
    make: object            # () -> args
    wrt: int = 0
    # mode ("reverse" / "forward") -> (exception type, regex of its message, summary); a missing
    # mode works. AssertionError means a wrong gradient with no error.
    gaps: dict = field(default_factory=dict)
    autograd: bool = True   # the program runs under autograd.numpy (no index assignment)


FLAT_OBJECTIVE, FLAT_VEC = mlp_list.make_flat_objective()


def convnet_with_layers():
    return convnet.make_inputs() + (convnet.LAYERS,)


PROGRAMS = {
    # 1. MLP, params = [(W, b), ...], `for W, b in params:`
    "mlp_list": Program(mlp_list.loss, mlp_list.make_inputs),
    "mlp_list_one_helper": Program(mlp_list.loss_one_helper, mlp_list.make_inputs),
    "mlp_flat_objective": Program(FLAT_OBJECTIVE, lambda: (FLAT_VEC.copy(),), autograd=False),
    # 2. RNN and LSTM, dict parameters, a *args helper; and with named parameters
    "rnn_star_args": Program(rnn_dict.rnn_loss, rnn_dict.make_rnn_inputs),
    "lstm_star_args": Program(rnn_dict.lstm_loss, rnn_dict.make_lstm_inputs),
    "rnn_named": Program(rnn_named.rnn_loss, rnn_dict.make_rnn_inputs),
    "lstm_named": Program(rnn_named.lstm_loss, rnn_dict.make_lstm_inputs),
    "rnn_arrays_to_helpers": Program(rnn_named.rnn_loss_arrays, rnn_dict.make_rnn_inputs),
    "lstm_arrays_to_helpers": Program(rnn_named.lstm_loss_arrays, rnn_dict.make_lstm_inputs),
    # 3. GMM log-likelihood, zip(*unpack(params)), logsumexp in numpy
    "gmm_zip_star": Program(gmm.loss, gmm.make_inputs),
    "gmm_zip_named": Program(gmm.loss_zip_named, gmm.make_inputs),
    "gmm_indexed": Program(gmm.loss_indexed, gmm.make_inputs),
    # 4. black-box SVI and a VAE, noise from a RandomState(0) made inside the loss
    "svi": Program(svi.variational_objective, svi.make_inputs),
    "vae": Program(vae.loss, vae.make_inputs),
    # 5. convnet from layer objects
    "convnet_layer_list": Program(convnet.loss_layer_list, convnet_with_layers, autograd=False),
    "convnet_layer_iter": Program(convnet.loss_layer_iter, convnet_with_layers, autograd=False),
    "convnet_global_layer_list": Program(convnet.loss_global_layer_list, convnet.make_inputs, autograd=False),
    "convnet_class_named": Program(convnet.loss_class_named, convnet_with_layers,
                                   autograd=False),
    "convnet_named_layers": Program(convnet.loss_named_layers, convnet.make_inputs,
                                    autograd=False),
    "convnet_functions": Program(convnet.loss_functions, convnet.make_inputs, autograd=False),
    # 6. grid simulation over time steps
    "grid_cells_init": Program(grid_sim.loss, grid_sim.make_inputs, wrt=0, autograd=False),
    "grid_cells_rate": Program(grid_sim.loss, grid_sim.make_inputs, wrt=1, autograd=False),
    "grid_sliced_init": Program(grid_sim.loss_sliced, grid_sim.make_inputs, wrt=0,
                                autograd=False),
    "grid_sliced_rate": Program(grid_sim.loss_sliced, grid_sim.make_inputs, wrt=1,
                                autograd=False),
    # 7. Gaussian-process marginal likelihood
    "gp_cholesky": Program(gp.loss_chol, gp.make_inputs),
    "gp_slogdet": Program(gp.loss_slogdet, gp.make_inputs),
}


@functools.lru_cache(maxsize=None)
def numeric_gradient(name):
    prog = PROGRAMS[name]
    return central_differences(prog.fn, prog.make(), prog.wrt)


def central_differences(fn, args, wrt, eps=1e-6):
    """The gradient of fn with respect to args[wrt], over sd.flatten's vector."""
    vec, unflatten = sd.flatten(args[wrt])
    out = np.zeros_like(vec)
    for k in range(vec.size):
        e = np.zeros_like(vec)
        e[k] = eps
        hi, lo = list(args), list(args)
        hi[wrt], lo[wrt] = unflatten(vec + e), unflatten(vec - e)
        out[k] = (fn(*hi) - fn(*lo)) / (2 * eps)
    return out


STEPS_FD = central_differences(lambda v, h: three_steps(list(v), h), (np.array(STEPS[0]),
                                                                        STEPS[1]), 0)


def same_structure(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and \
            all(same_structure(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and \
            all(same_structure(x, y) for x, y in zip(a, b))
    return np.shape(a) == np.shape(b)


def run_or_known_gap(prog, mode, compute):
    """compute(); an exception is re-raised only if it is the gap recorded for this mode (the
    xfail's raises=), with the recorded message; anything else fails the test."""
    gap = prog.gaps.get(mode)
    try:
        return compute()
    except Exception as e:  # noqa: BLE001
        if gap is not None and gap[0] is not AssertionError and isinstance(e, gap[0]) \
                and re.search(gap[1], str(e)):
            # the recorded gap; without sourcediff's frames (pytest would read their source
            # files to report each xfail, most of this file's run time)
            raise e.with_traceback(None) from None
        pytest.fail(f"{type(e).__name__} that is not the recorded gap: {e}")


def cases(modes, wrong_numbers=True):
    out = []
    for name, prog in PROGRAMS.items():
        for mode in modes:
            gap = prog.gaps.get(mode)
            if gap and gap[0] is AssertionError and not wrong_numbers:
                gap = None
            marks = [pytest.mark.xfail(strict=True, raises=gap[0], reason=gap[2])] if gap else []
            out.append(pytest.param(name, mode, marks=marks, id=f"{name}-{mode}"))
    return out


@pytest.mark.parametrize("name, mode", cases(["reverse", "forward"]))
def test_the_gradient_equals_central_differences(name, mode):
    prog = PROGRAMS[name]
    args = prog.make()
    g = run_or_known_gap(prog, mode, lambda: sd.grad(prog.fn, wrt=prog.wrt, mode=mode)(*args))
    assert same_structure(g, args[prog.wrt])
    got, _ = sd.flatten(g)
    want = numeric_gradient(name)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def containers_of(tree):
    """The tree and the lists/tuples/dicts directly in it: the objects the caller holds."""
    items = list(tree.values()) if isinstance(tree, dict) else \
        list(tree) if isinstance(tree, (list, tuple)) else []
    return [c for c in [tree] + items if isinstance(c, (list, tuple, dict))]


@pytest.mark.parametrize("name, mode", cases(["reverse", "forward"], wrong_numbers=False))
def test_the_callers_parameters_are_not_modified(name, mode):
    prog = PROGRAMS[name]
    args = prog.make()
    before = copy.deepcopy(args)
    held = containers_of(args[prog.wrt])
    shapes = [(id(c), len(c), type(c)) for c in held]
    try:
        run_or_known_gap(prog, mode, lambda: sd.grad(prog.fn, wrt=prog.wrt, mode=mode)(*args))
    finally:   # a refusal must leave them alone too
        assert same_structure(args, before)
        assert [(id(c), len(c), type(c)) for c in containers_of(args[prog.wrt])] == shapes
        for x, y in zip(leaves(list(args)), leaves(list(before))):
            if isinstance(x, (np.ndarray, float)):
                np.testing.assert_array_equal(x, y)


def under_autograd(module):
    """A copy of a program module whose `np` is autograd.numpy."""
    anp = pytest.importorskip("autograd.numpy")
    copy_ = types.ModuleType(module.__name__ + "_under_autograd")
    copy_.__file__ = module.__file__
    with open(module.__file__) as f:
        exec(compile(f.read(), module.__file__, "exec"), copy_.__dict__)
    copy_.np = anp
    return copy_


@pytest.mark.parametrize("name, mode", [c for c in cases(["reverse", "forward"])
                                        if PROGRAMS[c.values[0]].autograd])
def test_the_gradient_equals_hips_autograds(name, mode):
    autograd = pytest.importorskip("autograd")
    prog = PROGRAMS[name]
    module = __import__(prog.fn.__module__, fromlist=["_"])
    theirs = getattr(under_autograd(module), prog.fn.__name__)
    args = prog.make()
    want, _ = sd.flatten(autograd.grad(theirs, prog.wrt)(*args))
    g = run_or_known_gap(prog, mode, lambda: sd.grad(prog.fn, wrt=prog.wrt, mode=mode)(*args))
    got, _ = sd.flatten(g)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_has_aux_returns_the_samples_of_the_same_run(mode):
    params, n = svi.make_inputs()
    g, samples = sd.grad(svi.objective_and_samples, has_aux=True, mode=mode)(params, n)
    np.testing.assert_array_equal(samples, svi.objective_and_samples(params, n)[1])
    np.testing.assert_allclose(g, numeric_gradient("svi"), rtol=1e-5, atol=1e-6)
    (value, aux), g2 = sd.value_and_grad(svi.objective_and_samples, has_aux=True)(params, n)
    assert value == svi.variational_objective(params, n)
    np.testing.assert_allclose(g2, g, rtol=1e-12)


@pytest.mark.parametrize("name", ["convnet_layer_list", "convnet_layer_iter", "mlp_list",
                                  "rnn_star_args", "gmm_zip_star"])
def test_unoptimized_code_gives_the_optimized_gradient(name):
    """A helper's backward form gave an argument it does not use (a pooling layer's empty
    parameters) a plain tuple of zeros, and the unoptimized caller's ``0.0 + tuple`` failed
    (found by check_parity, which runs unoptimized code); a container's zero is a GradList now."""
    prog = PROGRAMS[name]
    args = prog.make()
    fast = leaves(sd.grad(prog.fn, wrt=prog.wrt)(*args))
    plain = leaves(sd.grad(prog.fn, wrt=prog.wrt, optimize=False)(*args))
    assert len(fast) == len(plain)
    for a, b in zip(fast, plain):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


_RUN_TIME_CALLS = {"convnet_layer_list", "convnet_layer_iter", "convnet_global_layer_list"}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_hessian_vector_products_of_the_programs(name):
    """Forward over reverse on every program, against finite differences of its gradient along
    the same direction. The RNN and LSTM with dict parameters passed to helpers crashed (a
    helper's jvp form gave the tangent of its dict gradient as a plain dict, and 0.0 + dict
    failed); programs whose layers are called through a list (resolved at run time) are refused
    by name at second order."""
    from sourcediff.pytree import flatten

    prog = PROGRAMS[name]
    args = list(prog.make())
    target = args[prog.wrt]
    if isinstance(target, (list, tuple, dict)):
        vec, unflatten = flatten(target)
    else:
        vec = np.ravel(np.asarray(target, dtype=float))
        unflatten = lambda v, s=np.shape(target): v.reshape(s)  # noqa: E731
    v = np.random.default_rng(0).standard_normal(vec.size)
    tangents = [None] * len(args)
    tangents[prog.wrt] = unflatten(v)
    if name in _RUN_TIME_CALLS:
        with pytest.raises(NoRuleError, match="known only at run time"):
            sd.hvp(prog.fn, args, tangents)
        return
    hv = sd.hvp(prog.fn, args, tangents)
    df = sd.grad(prog.fn, wrt=prog.wrt)

    def at(step):
        moved = list(args)
        moved[prog.wrt] = unflatten(vec + step * v)
        return np.concatenate([np.ravel(leaf) for leaf in leaves(df(*moved))])

    fd = (at(1e-5) - at(-1e-5)) / 2e-5
    got = np.concatenate([np.ravel(leaf) for leaf in leaves(hv)])
    np.testing.assert_allclose(got, fd, rtol=1e-3, atol=1e-5)
