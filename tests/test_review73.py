"""sd.jvp, sd.vjp and sd.hvp called inside a function that is differentiated; sd.elementwise_grad
of a numpy ufunc (below).

They run Python that is not generated code (a try block, the cotangent closure). Differentiating
through one used to read sourcediff's own source and refuse it with "try/except are not supported
... move error handling outside the differentiated function", naming a line of
sourcediff/transforms.py: nothing the user wrote. They are refused as sd.jacobian's call is,
naming the transform, the user's line and the generated function to call instead, which works.
"""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.errors import NoSourceError

V = np.array([0.3, -1.0, 2.0])
X = np.array([0.5, 0.1, -0.7])


def f(x):
    return np.sum(np.sin(x) * x ** 3)


def inner_jvp(x):
    return sd.jvp(f, (x,), (V,))[1]


def inner_vjp(x):
    out, back = sd.vjp(f, x)
    return np.sum(back(1.0)[0] * V)


def inner_hvp(x):
    return np.sum(sd.hvp(f, (x,), (V,)))


JF = sd.jvp(f, wrt=0)
DF = sd.grad(f)


def inner_generated_jvp(x):
    return JF(x, x_dot=V)[1]


def inner_generated_grad(x):
    return np.sum(DF(x) * V)


@pytest.mark.parametrize("fn, name, fix", [
    (inner_jvp, "sd.jvp", "jf = sd.jvp(f, wrt=0)"),
    (inner_vjp, "sd.vjp", "df = sd.grad(f)"),
    (inner_hvp, "sd.hvp", "sd.hessian(f)"),
], ids=["jvp", "vjp", "hvp"])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_transform_called_inside_is_refused_naming_it_the_line_and_the_fix(fn, name, fix, mode):
    with pytest.raises(NoSourceError) as info:
        sd.grad(fn, mode=mode)(X.copy())
    message = str(info.value)
    line = fn.__code__.co_firstlineno + 1
    assert f"test_review73.py:{line}:" in message
    assert name in message and fix in message
    assert "transforms.py" not in message and "try/except" not in message


@pytest.mark.parametrize("fn", [inner_generated_jvp, inner_generated_grad], ids=["jvp", "grad"])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_the_generated_function_the_message_names_gives_the_hessian_vector_product(fn, mode):
    hv = sd.hvp(f, (X,), (V,))
    step = 1e-5
    fd = (DF(X + step * V) - DF(X - step * V)) / (2 * step)
    np.testing.assert_allclose(hv, fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(sd.grad(fn, mode=mode)(X.copy()), fd, rtol=1e-6, atol=1e-8)


def test_a_transform_of_constants_inside_still_runs_as_a_constant():
    def uses_constant_jvp(x):
        return np.sum(x * sd.jvp(f, (V,), (V,))[1])

    np.testing.assert_allclose(sd.grad(uses_constant_jvp)(X), np.full(3, sd.jvp(f, (V,), (V,))[1]))


# ---------------------------------------------------------------- elementwise_grad of a ufunc
# sd.elementwise_grad(np.tanh) (autograd's tutorial spelling) wrapped np.tanh with all of its
# signature, passing out=None by position: refused as "tanh(..., out) writes into out in place"
# at "<sourcediff>:1", a line the user never wrote. The wrapper takes the ufunc's inputs only.


def _fd_elementwise(fn, x, *rest, step=1e-6):
    return (fn(x + step, *rest) - fn(x - step, *rest)) / (2 * step)


@pytest.mark.parametrize("ufunc, rest", [(np.tanh, ()), (np.exp, ()), (np.arctan2, (V + 3.0,))],
                         ids=["tanh", "exp", "arctan2"])
def test_elementwise_grad_of_a_numpy_ufunc_matches_finite_differences(ufunc, rest):
    got = sd.elementwise_grad(ufunc)(X, *rest)
    np.testing.assert_allclose(got, _fd_elementwise(ufunc, X, *rest), rtol=1e-7, atol=1e-9)
    second = sd.elementwise_grad(sd.elementwise_grad(ufunc))(X, *rest)
    np.testing.assert_allclose(second, _fd_elementwise(sd.elementwise_grad(ufunc), X, *rest),
                               rtol=1e-5, atol=1e-7)
