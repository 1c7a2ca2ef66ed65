"""Function values that carry derivatives: an inner function, lambda or functools.partial that
reads a value the gradient is taken with respect to (tests/programs/closures_active.py). Such a
value is a container of what it binds (resolve's "closure" op): its call, in the function or in
a helper it is passed to, runs through runtime.dynamic with the bound values active, and its
cotangent is theirs. Every gradient is checked against central finite differences, against HIPS
autograd (which differentiates closures natively) running the same source where autograd
supports what it calls, and in both modes; the refusals that remain name the file and line."""

import copy
import functools
import importlib.util
import sys
import types

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd
from tests.programs import closures_active as C

MODES = ["reverse", "forward"]
rng = np.random.default_rng(49)
P4 = np.array([1.0, 0.5, 0.3, 0.8])
Y2 = np.array([1.0, 0.7])

# name: (arguments, wrt, whether autograd runs it: np.apply_along_axis and np.dot of a partial are
# not autograd's)
CASES = {
    "factory_rhs_to_helper": ((P4, Y2), (0, 1), True),
    "local_def_to_helper": ((np.array([0.3, 0.7]), Y2), (0, 1), True),
    "factory_called_in_caller": ((P4, Y2), (0, 1), True),
    "called_twice_in_one_expression": ((rng.normal(size=3), rng.normal(size=3)), (0, 1), True),
    "through_two_helpers": ((np.array([0.4, 0.2]), Y2), (0, 1), True),
    "two_active_one_constant": ((0.7, np.array([0.3, -0.2, 0.5]), rng.normal(size=3)),
                                (0, 1, 2), True),
    "euler_in_a_while_loop": ((0.6, Y2), (0, 1), True),
    "trajectory": ((np.array([9.0, 0.3]), np.array([0.5, 0.0])), (0, 1), True),
    "user_partial": ((rng.normal(size=(3, 3)), rng.normal(size=3)), (0, 1), False),
    "user_partial_by_keyword": ((0.4, np.array([0.1, 0.2, 0.3]), rng.normal(size=3)),
                                (0, 1, 2), True),
    "lambda_to_apply_along_axis": ((rng.normal(size=(3, 3)), rng.normal(size=(4, 3))), (0, 1),
                                   False),
    "closure_returns_closure": ((0.7, rng.normal(size=3)), (0, 1), True),
    "mapped": ((rng.normal(size=3), [rng.normal(size=3) for _ in range(3)]), (0,), True),
    "factory_of_a_factory": ((0.7, rng.normal(size=3)), (0, 1), True),
    "returned_through_a_helper": ((0.7, rng.normal(size=3)), (0, 1), True),
    "active_keyword_and_closure": ((0.7, rng.normal(size=3), 1.3), (0, 1, 2), True),
    "user_partial_binding_every_argument": ((rng.normal(size=3), 0.7, 0.2), (0, 1, 2), True),
    "reduce_with_a_closure": ((0.4, [0.1, 0.5, -0.3]), (0,), True),
    # (a closure called with *args in a helper: refused as a call with *args before)
    "closure_called_with_star_args": ((0.7, Y2), (0, 1), True),
    "closure_through_apply": ((0.7, rng.normal(size=3)), (0, 1), True),
    "closure_through_keywords": ((0.7, rng.normal(size=3)), (0, 1), True),
    # (np.vectorize of a closure with a branch: element by element through its forms)
    "vectorized_closure": ((0.7, np.array([0.3, -0.4, 0.8])), (0, 1), False),
    # (a complex value held: it was taken for one carrying no derivative, and a got 0.0)
    "closure_over_a_complex_value": ((np.array([0.5, 0.2, -0.1]), rng.normal(size=3)), (0, 1),
                                     True),
    # (the order is piecewise constant in w: w's derivative through the key is zero; refused
    # before as a keyword argument sorted's rule gives no derivative for)
    "sorted_by_a_closure_key": ((np.array([0.3, -0.4, 0.8]),
                                 [np.array([0.3, -0.4, 0.8]) * k for k in (1.0, -2.0, 0.5)]),
                                (0,), False),
}


def _autograd_module():
    """tests/programs/closures_active.py run again with ``np`` rebound to autograd.numpy."""
    autograd = pytest.importorskip("autograd")
    spec = importlib.util.find_spec("tests.programs.closures_active")
    module = types.ModuleType("closures_active_autograd")
    exec(compile(open(spec.origin).read(), spec.origin, "exec"), module.__dict__)
    module.np = autograd.numpy
    return autograd, module


def _grads(fn, args, wrt, mode="reverse"):
    """The gradients with respect to ``wrt``, one per index."""
    g = sd.grad(fn, wrt=wrt if len(wrt) > 1 else wrt[0], mode=mode)(*args)
    return g if len(wrt) > 1 else (g,)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(CASES))
def test_a_closure_over_values_that_carry_derivatives_gives_them_back(name, mode):
    args, wrt, _ = CASES[name]
    fn = getattr(C, name)
    before = copy.deepcopy(args)
    g = _grads(fn, args, wrt, mode)
    for a, b in zip(args, before):  # (the arguments are left as they were)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    check_grads_fd(fn, args, wrt, g)
    # (a gradient of zero would pass for the bound values only if FD said zero too: say it)
    assert np.any(np.asarray(g[0]) != 0.0)


@pytest.mark.parametrize("name", [n for n, (_, _, ok) in CASES.items() if ok])
def test_the_same_gradients_as_autograd(name):
    autograd, module = _autograd_module()
    args, wrt, _ = CASES[name]
    ours = _grads(getattr(C, name), args, wrt)
    theirs = autograd.grad(getattr(module, name), wrt)(*args)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_a_closure_over_a_dict_and_over_a_list_of_arrays():
    """The closure's cotangent reaches the arrays a dict or a list it reads holds."""
    autograd, module = _autograd_module()
    params = {"W": rng.normal(size=(3, 3)), "b": rng.normal(size=3)}
    ws = [rng.normal(size=3), rng.normal(size=3)]
    x = rng.normal(size=3)
    for name, tree in [("over_a_dict_of_arrays", params), ("over_a_list_of_arrays", ws)]:
        want = autograd.grad(getattr(module, name), (0, 1))(tree, x)
        for mode in MODES:
            got = sd.grad(getattr(C, name), wrt=(0, 1), mode=mode)(tree, x)
            leaves = (lambda t: list(t.values()) if isinstance(t, dict) else list(t))
            for a, b in zip(leaves(got[0]) + [got[1]], leaves(want[0]) + [want[1]]):
                np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
            fd_args = (tree, x)
            check_grads_fd(lambda v: getattr(C, name)(tree, v), (x,), (0,), (got[1],))
            for key in (tree if isinstance(tree, dict) else range(len(tree))):
                def moved(leaf, key=key):
                    t = dict(tree) if isinstance(tree, dict) else list(tree)
                    t[key] = leaf
                    return getattr(C, name)(t, fd_args[1])
                check_grads_fd(moved, (tree[key],), (0,), (got[0][key],))


def test_a_closure_over_a_model_object():
    """A model the gradient is taken with respect to, read by a lambda passed to a helper: its
    gradient is an object of its class whose W is the closure's cotangent's."""
    m, x = C.Lin(rng.normal(size=(3, 3))), rng.normal(size=3)
    g = sd.grad(C.closure_over_a_model)(m, x)

    def of_W(W):
        return C.closure_over_a_model(C.Lin(W), x)
    check_grads_fd(of_W, (m.W,), (0,), (g.W,))


class _Layer:
    def __init__(self, W):
        self.W = W

    def __call__(self, x, y):
        return np.tanh(self.W @ x) * y


def _model_called_with_star_args(layer, x):
    args = (x, x)
    return np.sum(layer(*args))


def test_a_model_called_with_star_args():
    """The same marking of the callee serves a model object called with *args (reverse mode;
    forward mode refuses objects by name)."""
    layer, x = _Layer(rng.normal(size=(3, 3))), rng.normal(size=3)
    g = sd.grad(_model_called_with_star_args)(layer, x)
    check_grads_fd(lambda W: _model_called_with_star_args(_Layer(W), x), (layer.W,), (0,),
                   (g.W,))


def test_a_jacobian_through_a_closure_made_by_a_factory():
    """Reverse-mode rows of a vector output through the closure: the rhs's partials in p."""
    def rhs_at(p):
        return C.lotka(p)(Y2, 0.0)
    J = sd.jacobian(rhs_at)(P4)
    for i in range(2):
        check_grads_fd(lambda p, i=i: rhs_at(p)[i], (P4,), (0,), (J[i],))


def test_closures_in_a_list_and_in_a_dict():
    def in_list(a, b, x):
        fs = [lambda v: v * a, lambda v: np.sin(v * b)]
        return sum(np.sum(f(x)) for f in fs)

    def in_dict(a, x):
        fs = {"sq": lambda v: (v * a) ** 2}
        return np.sum(fs["sq"](x))

    x = np.array([0.3, -0.4, 0.8])
    for fn, args in [(in_list, (0.7, 0.3, x)), (in_dict, (0.7, x))]:
        wrt = tuple(range(len(args)))
        for mode in MODES:
            check_grads_fd(fn, args, wrt, sd.grad(fn, wrt=wrt, mode=mode)(*args))


def _apply_each(fs, v):
    s = 0.0
    for f in fs:
        s = s + f(v)
    return s


def _square(v):
    return v * v


@pytest.mark.parametrize("mode", MODES)
def test_a_list_of_a_closure_and_a_plain_function(mode):
    # (the call f(v) in the helper's loop marks its callee as carrying a derivative; forward
    # mode refused the plain function there: "_square: forward mode does not yet differentiate
    # with respect to an object")
    def mixed(x):
        a = x[0] ** 2
        return _apply_each([lambda v: v * a, _square], x[1])

    x = np.array([0.3, -0.7])
    check_grads_fd(mixed, (x,), (0,), (sd.grad(mixed, mode=mode)(x),))


def _twice(f, x):
    return f(x) + f(2.0 * x)


def test_a_default_argument_and_a_keyword_only_call():
    def default_arg(a, x):
        f = lambda v, s=a: v * s  # noqa: E731
        return np.sum(_twice(f, x))

    def keyword_only(a, x):
        def f(v, *, scale):
            return v * scale * a
        return np.sum(_call_with_scale(f, x))

    x = np.array([0.3, -0.4, 0.8])
    for fn in (default_arg, keyword_only):
        for mode in MODES:
            g = sd.grad(fn, wrt=(0, 1), mode=mode)(0.7, x)
            check_grads_fd(fn, (0.7, x), (0, 1), g)


def _call_with_scale(f, x):
    return f(x, scale=2.0)


# ---------------------------------------------------------------- what stays refused


def _make(b):
    return lambda v: v * b


def written_after_a_factory_closed_over_it(a, x):
    b = a * 1.0
    f = _make(b)
    b[0] = 5.0 * a[1]  # (Python's f reads the new b: the gradient must know, or refuse)
    return np.sum(_twice(f, x))


def written_after_a_local_lambda_closed_over_it(a, x):
    b = a * 1.0
    f = lambda v: v * b  # noqa: E731  (made where it is used: it reads the new b, as Python)
    b[0] = 5.0 * a[1]
    return np.sum(_twice(f, x))


@pytest.mark.parametrize("mode", MODES)
def test_a_write_into_an_array_a_closure_holds_is_refused_as_for_a_list(mode):
    """It was a silently wrong gradient (the partial kept b's old value and derivative while
    Python's closure reads the new b); the alias check now sees what a partial binds."""
    a, x = np.array([0.5, 0.2, -0.1]), np.array([0.3, -0.4, 0.8])
    with pytest.raises(sd.AliasError, match=r"test_closures_active.py:\d+.*changes f"):
        sd.grad(written_after_a_factory_closed_over_it, mode=mode)(a, x)
    fn = written_after_a_local_lambda_closed_over_it
    check_grads_fd(fn, (a, x), (0, 1), sd.grad(fn, wrt=(0, 1), mode=mode)(a, x))


def rebound_after(a, x):
    f = lambda v: v * a  # noqa: E731
    r = _twice(f, x)
    a = a * 2
    return np.sum(r) + np.sum(a)


def partial_of_a_variable(x):
    g = _twice
    h = functools.partial(g, x=x)
    return np.sum(h(lambda v: v))


def vectorized_closure_with_otypes(a, x):
    f = np.vectorize(lambda v: np.sin(v * a), otypes=[float])
    return np.sum(f(x))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn, error, says", [
    (rebound_after, sd.SourcediffSyntaxError, "read a, which the function binds more than once"),
    (partial_of_a_variable, sd.NoRuleError, "to a function held in a variable"),
    (vectorized_closure_with_otypes, sd.NoRuleError,
     r"np.vectorize\(\.\.\.\) calls the function it is given.*given the function alone"),
], ids=["late-binding", "partial-of-a-variable", "np.vectorize-otypes"])
def test_the_refusals_that_remain_name_the_line_and_the_fix(fn, error, says, mode):
    x = np.array([0.3, -0.4, 0.8])
    args = (x,) if fn is partial_of_a_variable else (0.7, x)
    with pytest.raises(error, match=says) as info:
        sd.grad(fn, mode=mode)(*args)
    assert "test_closures_active.py:" in str(info.value).splitlines()[0]


class _Holder:
    def __init__(self, f):
        self.f = f

    def run(self, x):
        return self.f(x)


def stored_in_an_object(a, x):
    return np.sum(_Holder(lambda v: v * a).run(x))


@pytest.mark.parametrize("mode", MODES)
def test_a_closure_stored_in_an_object_and_called_through_it(mode):
    """(the object built here has its methods written in and its attributes made locals:
    ``self.fn(x)`` calls the closure held in a local, compiler/inline.py)"""
    args = (0.7, np.array([0.3, -1.2, 0.8]))
    g = sd.grad(stored_in_an_object, wrt=(0, 1), mode=mode)(*args)
    check_grads_fd(stored_in_an_object, args, (0, 1), g)


@pytest.mark.parametrize("name", ["factory_called_in_caller", "local_def_to_helper"])
def test_a_second_derivative_through_a_closure_call_is_refused_by_name(name):
    args, _, _ = CASES[name]
    with pytest.raises(sd.NoRuleError, match="first derivatives only") as info:
        sd.hessian(getattr(C, name))(*args)
    assert "closures_active.py:" in str(info.value).splitlines()[0]


def test_the_programs_module_is_the_one_autograd_runs():
    """(the oracle execs the same file: a rename there would test nothing)"""
    _, module = _autograd_module()
    assert set(CASES) <= set(vars(module)) and sys.modules[C.__name__] is C
