"""The messages for common slips at the entry points: each says what was wrong and what to write instead."""

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import InactiveArgumentError, NonScalarOutputError, NoSourceError


def f(x, w):
    return np.sum(np.tanh(x * w))


class Model:
    def __init__(self):
        self.w = np.ones(3)

    def loss(self, x):
        return np.sum(self.w * x)

    def predict(self, x):
        return self.w * x


def loss_and_prediction(x):
    return np.sum(x ** 2), 2.0 * x


x = np.linspace(0.1, 0.3, 3)


@pytest.mark.parametrize("api", [sd.grad, sd.value_and_grad, sd.hessian, sd.jacobian])
@pytest.mark.parametrize("value", [f(x, x), 3.0, np.ones(3), [1.0, 2.0]],
                         ids=["np.float64", "float", "array", "list"])
def test_a_value_instead_of_the_function(api, value):
    with pytest.raises(NoSourceError) as info:
        api(value)(x, x)
    msg = str(info.value)
    assert "pass the function itself, `sd.grad(f)`" in msg.lower()
    assert "sd.grad(f)(x, w)" in msg  # and how to call it
    assert "defvjp" not in msg and "register a rule" not in msg


def test_a_value_instead_of_the_function_describes_the_value():
    assert "an array of shape (3,) and dtype float64" in _message(lambda: sd.grad(np.ones(3)))
    assert "3.0 (float)" in _message(lambda: sd.grad(3.0))


def test_a_model_instead_of_its_method():
    msg = _message(lambda: sd.grad(Model()))
    assert "got a Model object where a function was expected" in msg
    assert "`sd.grad(model.loss)`" in msg and "bound method" in msg
    assert "loss, predict" in msg  # the methods there are to choose from
    assert "defvjp" not in msg and "object at 0x" not in msg


def test_a_class_instead_of_a_method_of_an_instance():
    msg = _message(lambda: sd.grad(Model))
    assert "Model is a class" in msg and "sd.grad(model.loss)" in msg
    assert "defvjp" not in msg


def test_the_bound_method_works():
    assert np.allclose(sd.grad(Model().loss)(x), np.ones(3))


def _no_source_function(filename):
    """A function compiled as the plain REPL (``<stdin>``) or exec (``<string>``) compiles it."""
    namespace = {"np": np}
    exec(compile("def typed_in(x):\n    return np.sum(x * x)\n", filename, "exec"), namespace)
    return namespace["typed_in"]


@pytest.mark.parametrize("filename", ["<stdin>", "<string>"], ids=["repl", "exec"])
def test_a_function_without_a_source_file(filename):
    msg = _message(lambda: sd.grad(_no_source_function(filename))(x))
    assert "cannot read the source of typed_in" in msg and filename in msg
    assert "Put typed_in in a .py file" in msg
    assert "defvjp" not in msg and "register a rule" not in msg


def test_a_builtin_still_gets_the_rule_advice():
    # (one without a rule; np.sin, which has one, is to be called from a def: test_review84)
    msg = _message(lambda: sd.grad(np.busday_count))
    assert "busday_count is not a Python function" in msg and "sourcediff.defvjp" in msg


def takes_a_model(m, x):
    return np.sum(m.w * x)


def test_a_model_as_the_wrt_argument():
    """A model object is differentiated with respect to (tests/test_object_wrt.py); an object
    that cannot hold parameters (a random Generator) is refused by name."""
    g = sd.grad(takes_a_model)(Model(), x)
    assert type(g) is Model and np.allclose(g.w, x)
    with pytest.raises(InactiveArgumentError) as info:
        sd.grad(takes_a_model)(np.random.default_rng(0), x)
    msg = str(info.value)
    assert "argument 'm' of takes_a_model" in msg
    assert "is a Generator object and cannot carry a gradient" in msg
    assert "Generator value" not in msg and "(Generator)" not in msg
    assert "leave 'm' out of wrt" in msg
    assert np.allclose(sd.grad(takes_a_model, wrt=1)(Model(), x), np.ones(3))


@pytest.mark.parametrize("make", [lambda: sd.grad(loss_and_prediction),
                                  lambda: sd.value_and_grad(loss_and_prediction),
                                  lambda: sd.grad(loss_and_prediction, mode="forward")],
                         ids=["grad", "value_and_grad", "forward"])
def test_a_function_returning_a_tuple(make):
    with pytest.raises(NonScalarOutputError) as info:
        make()(x)
    msg = str(info.value)
    assert "loss_and_prediction" in msg and "returns a tuple of 2 values" in msg
    assert "has_aux=True" in msg and "return the scalar loss alone" in msg
    assert "inhomogeneous" not in msg


def test_an_array_output_keeps_its_message():
    msg = _message(lambda: sd.grad(lambda v: v * 2.0)(x))
    assert "returns an array of shape (3,)" in msg and "jacobian" in msg


def _message(thunk):
    with pytest.raises(sd.SourcediffError) as info:
        thunk()
    return str(info.value)


def nuclear_norm(x):
    return np.linalg.norm(x, "nuc")


@pytest.mark.parametrize("second", ["hvp", "grad_of_grad"])
def test_an_error_in_the_derivative_of_a_gradient_names_the_users_line(second):
    """An error raised inside the generated derivative of a generated gradient (hvp, grad of
    grad) is a sourcediff error located at the user's own line, not at a line of generated code
    (the hvp path let numpy's NotImplementedError out unlocated)."""
    x = np.arange(9.0).reshape(3, 3) + np.eye(3)
    with pytest.raises(sd.SourcediffError) as info:
        if second == "hvp":
            sd.hvp(nuclear_norm, [x], [x])
        else:
            dn = sd.grad(nuclear_norm)
            sd.grad(lambda y: np.sum(dn(y)))(x)
    message = str(info.value)
    assert "test_messages.py:" in message.splitlines()[0] and "ord='nuc'" in message
    assert 'return np.linalg.norm(x, "nuc")' in message


def triple_product(x):
    return np.sum(np.einsum("ij,jk,kl->il", x, x, x))


def test_a_missing_rule_at_fourth_order_names_the_users_line():
    """A helper without a rule met while differentiating generated code is located at the
    user's line (it named a line of the generated gradient: ``<sourcediff grad_f of ...>:17``)."""
    w = np.random.default_rng(4).standard_normal((3, 3))
    d = triple_product
    for _ in range(3):
        d = (lambda p: (lambda y: np.sum(p(y) * w)))(sd.grad(d))
    with pytest.raises(sd.NoRuleError) as info:
        sd.grad(d)(w)
    first = str(info.value).splitlines()
    assert first[0].startswith("test_messages.py:") and "<sourcediff" not in first[0]
    assert first[1].strip() == 'return np.sum(np.einsum("ij,jk,kl->il", x, x, x))'


@sd.custom_vjp
def only_a_vjp(x):
    return np.sin(x)


@only_a_vjp.defvjp
def only_a_vjp_rule(g, ans, x):
    return (g * np.cos(x),)


def test_forward_mode_of_a_custom_vjp_function_names_it_not_the_wrapper():
    """It said 'forward mode needs a jvp rule for _sd_fn' (the name of sourcediff's wrapper)."""
    with pytest.raises(sd.NoRuleError) as info:
        sd.jvp(only_a_vjp, (np.ones(2),), (np.ones(2),))
    first = str(info.value)
    assert "jvp rule for only_a_vjp," in first and "_sd_fn" not in first
    assert "@only_a_vjp.defjvp" in first
