"""Valid code that once crashed inside sourcediff (an AttributeError, a NameError in generated code)
now works, checked against finite differences, or is refused with a located sourcediff error."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.testing import check_grads


def cat(*arrays):
    return np.concatenate(arrays)


def calls_a_star_args_helper(x):
    return np.sum(cat(x, x * 2.0) ** 2)


def head_and_rest(a, *rest, scale=1.0):
    total = a * scale
    for r in rest:
        total = total + np.sin(r) * a
    return total


def calls_head_and_rest(x):
    return np.sum(head_and_rest(x, x ** 2, np.arange(2.0), scale=2.0)) + \
        np.sum(head_and_rest(np.ones(2), x))


def kwargs_helper(a, **opts):
    return a * opts["s"]


def calls_a_kwargs_helper_with_a_derivative(x):
    return np.sum(kwargs_helper(1.0, s=x))


@pytest.mark.parametrize("fn", [calls_a_star_args_helper, calls_head_and_rest],
                         ids=lambda f: f.__name__)
def test_a_star_args_helper_receives_values_that_carry_derivatives(fn):
    """It crashed in the alias stage ('tuple' object has no attribute '_fields'), then was
    refused; ``*arrays`` is now the tuple of the values passed, differentiated like any tuple
    (reverse, forward, second order)."""
    check_grads(fn, (np.array([0.3, -0.7]),), order=2)


def test_a_value_with_a_derivative_into_kwargs():
    """Refused at the call once ("kwargs_helper collects its arguments in **opts"); ``**opts``
    is now the dict of the values passed, differentiated like any dict (reverse, forward,
    second order)."""
    check_grads(calls_a_kwargs_helper_with_a_derivative, (np.array([0.3, -0.7]),), order=2)


def star_args_helper_on_constants(x):
    return np.sum(x * cat(np.ones(2), np.zeros(2)))


def test_a_star_args_helper_on_constants_runs():
    np.testing.assert_array_equal(sd.grad(star_args_helper_on_constants)(np.ones(4)),
                                  [1.0, 1.0, 0.0, 0.0])


def builder(scale):
    def objective(p, k=scale):
        return np.sum(p * p * k)

    return objective


def test_a_default_that_names_an_enclosing_local():
    """The generated code said NameError: name 'scale' is not defined."""
    objective = builder(np.array([3.0, 4.0]))
    check_grads(objective, (np.array([0.5, -1.0]),), order=2)


def sum_of_a_list(x):
    return np.sum([x, x * 2.0]) + np.mean([x * x, x])


def test_reductions_over_a_python_list_of_arrays():
    """np.sum([x, x]) was an AttributeError ('list' object has no attribute 'size')."""
    check_grads(sum_of_a_list, (np.array([0.5, -1.0, 2.0]),), order=2)


def einsum_sublists(a, b):
    return np.sum(np.einsum(a, [0, 1], b, [1, 2], [0, 2]) ** 2)


def test_einsum_in_its_sublist_form():
    rng = np.random.default_rng(0)
    check_grads(einsum_sublists, (rng.normal(size=(2, 3)), rng.normal(size=(3, 4))))


def make_scaled(c):
    @sd.custom_vjp
    def scaled(x):
        return x * c

    @scaled.defvjp(kind="elementwise")
    def scaled_vjp(g, ans, x):
        return (g * c,)

    return scaled


SCALED = make_scaled(5.0)


def uses_a_closure_rule(x):
    return np.sum(SCALED(x) ** 2)


def test_a_custom_rule_defined_as_a_closure():
    """Its free variable c was looked up in the builtins when the rule was inlined."""
    x = np.array([0.3, -0.7])
    np.testing.assert_allclose(sd.grad(uses_a_closure_rule)(x), 2 * 25.0 * x)
    check_grads(uses_a_closure_rule, (x,))


def matmul_vector_by_stack(x, y):
    return np.sum(np.matmul(x, y) ** 2)


def test_matmul_of_a_vector_by_a_stack_of_matrices_at_second_order():
    rng = np.random.default_rng(1)
    check_grads(matmul_vector_by_stack, (rng.normal(size=3), rng.normal(size=(2, 3, 4))), order=2)


def relax(grid):
    new = grid.copy()
    new[1:-1] = 0.5 * (grid[:-2] + grid[2:])
    return new


def relax_and_mix(g0):
    g = g0
    h = relax(g)
    h[0] = 5.0 * g[0]
    return np.sum(h * g)


def picks_its_argument(a, b):
    m = max(a, b, key=lambda v: v[0])
    m[1] = 0.0
    return m


def test_a_helper_that_writes_into_a_copy_of_its_argument_is_no_alias():
    """A grid simulation's step (new = grid.copy(); new[1:-1] = ...) was refused with a false
    AliasError: the helper was taken to write into its parameter."""
    check_grads(relax_and_mix, (np.linspace(0.2, 1.0, 5),), order=2)
    from sourcediff.compiler.alias import mutated_params

    assert mutated_params(relax) == {}
    assert "a" in mutated_params(picks_its_argument)  # (max returns one of its arguments)


def columns(p):
    return p[0] * 2.0, np.sin(p[1]), p[0] * p[1]


def walks_zip_of_a_starred_tuple(p):
    total = 0.0
    for a, b, c in zip(*columns(p)):
        total = total + a * b - c ** 2
    return total


def test_zip_of_a_starred_sequence_of_sequences():
    """``for a, b, c in zip(*unpack(params))`` (autograd's GMM) was 'no derivative rule for
    zip'; the target's length gives the number of sequences."""
    check_grads(walks_zip_of_a_starred_tuple, (np.array([[0.3, -0.7, 0.2], [1.1, 0.4, -0.5]]),),
                order=2)
