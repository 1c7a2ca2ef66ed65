"""Models as objects and everyday dynamic Python: methods calling methods through self, subclasses,
callable objects, local aliases of numpy functions, raise in a branch (checked against central
finite differences)."""

import sys

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.testing import check_grads

from .oracles import check_grads_fd


class Model:
    def __init__(self, W):
        self.W = W

    def forward(self, x):
        return np.tanh(x @ self.W)

    def loss(self, x):
        return np.sum(self.forward(x) ** 2) + self.penalty(x)

    def penalty(self, x):
        return 0.1 * np.sum(x * x)

    def loss_of(self, W, x):
        return np.sum(np.tanh(x @ W) ** 2) + self.scaled(W, 0.5)

    @staticmethod
    def scaled(W, c):
        return c * np.sum(W * W)


class Shifted(Model):
    def forward(self, x):
        return np.sin(x @ self.W + 0.5)


X = np.linspace(-1.0, 1.0, 12).reshape(4, 3)


@pytest.mark.parametrize("cls", [Model, Shifted])
def test_a_method_that_calls_methods_through_self(cls):
    """It was refused as 'no derivative rule for .forward() (str)'."""
    obj = cls(np.full((3, 2), 0.3))
    check_grads(obj.loss, (X,), order=2)
    check_grads(obj.loss_of, (obj.W, X))


def test_a_subclass_override_is_called_for_the_subclass_and_not_cached_across_classes():
    base, sub = Model(np.full((3, 2), 0.3)), Shifted(np.full((3, 2), 0.3))
    g_base, g_sub, g_base_again = (sd.grad(o.loss)(X) for o in (base, sub, base))
    assert not np.allclose(g_base, g_sub)
    np.testing.assert_array_equal(g_base, g_base_again)


def test_each_instance_reads_its_own_attributes():
    a, b = Model(np.full((3, 2), 0.3)), Model(np.full((3, 2), -0.8))
    assert sd.grad(a.loss) is not None
    check_grads(b.loss, (X,))
    assert not np.allclose(sd.grad(a.loss)(X), sd.grad(b.loss)(X))


class Softplus:
    def __init__(self, beta):
        self.beta = beta

    def __call__(self, z):
        return np.log1p(np.exp(self.beta * z)) / self.beta


SOFTPLUS = Softplus(2.0)


def uses_a_callable_object(z):
    return np.sum(SOFTPLUS(z) * z)


def test_a_callable_object_with_call_written_in_python():
    check_grads(uses_a_callable_object, (np.array([0.3, -1.2, 0.8]),), order=2)


def local_aliases(z):
    pi, sqrt, tanh = np.pi, np.sqrt, np.tanh
    return np.sum(tanh(z) * sqrt(z) * pi)


def test_local_aliases_of_numpy_functions():
    check_grads(local_aliases, (np.array([0.3, 1.2, 0.8]),), order=2)


def pad_size(n, k):
    if k < 0:
        raise ValueError(f"negative padding {k}")
    return n + 2 * k


def raises_in_branches(z, k):
    if z.ndim != 1:
        raise ValueError("z must be 1-D")
    total = 0.0
    for i in range(pad_size(z.shape[0], k)):
        total = total + np.sum(np.sin(z * i))
    return total


def test_raise_in_a_branch_is_an_exit_like_return():
    """raise anywhere was refused, even in a branch never taken."""
    z = np.array([0.3, -0.5])
    for mode in ("reverse", "forward"):
        np.testing.assert_allclose(sd.grad(raises_in_branches, mode=mode)(z, 1),
                                   sum(i * np.cos(z * i) for i in range(4)))
    check_grads(lambda_free_raises, (z,), order=2)
    with pytest.raises(ValueError, match="z must be 1-D"):
        sd.grad(raises_in_branches)(np.ones((2, 2)), 1)
    with pytest.raises(ValueError, match="negative padding -1"):
        sd.grad(raises_in_branches)(z, -1)


def lambda_free_raises(z):
    return raises_in_branches(z, 1)


def test_wrt_as_a_list():
    def_ = sd.grad(Model.scaled, wrt=[0, 1])
    gW, gc = def_(np.ones(2), 0.5)
    np.testing.assert_allclose(gW, [1.0, 1.0])
    assert gc == pytest.approx(2.0)


# ---------------------------------------------------------------- starred calls


def noise_of_its_shape(x, seed):
    rs = np.random.RandomState(seed)
    eps = rs.randn(*x.shape)
    return np.sum(x * eps)


def reshaped_by_a_star(x):
    shape = (2, 3)
    return np.sum(x.reshape(*shape) ** 2 * np.arange(6.0).reshape(shape))


def unzipped(x):
    pairs = [(1.0, 2.0), (3.0, 4.0)]
    a, b = zip(*pairs)
    return np.sum(x * np.array(a) + np.array(b))


def product(a, b):
    return a * b


def star_into_a_helper(x):
    args = (x, 2.0)
    return np.sum(product(*args))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_starred_arguments_of_calls(mode):
    x = np.array([0.3, -0.5, 1.1])
    eps = np.random.RandomState(4).randn(3)
    np.testing.assert_allclose(sd.grad(noise_of_its_shape, mode=mode)(x, 4), eps)
    np.testing.assert_allclose(sd.grad(reshaped_by_a_star, mode=mode)(np.ones(6)),
                               2.0 * np.arange(6.0))
    np.testing.assert_allclose(sd.grad(unzipped, mode=mode)(x[:2]), [1.0, 3.0])
    # (a starred sequence that carries a derivative runs through _sd.star_fwd; refused before)
    check_grads_fd(star_into_a_helper, (x,), (0,), (sd.grad(star_into_a_helper, mode=mode)(x),))


class Elu:
    def fn(self, z):
        return np.where(z > 0, z, np.exp(z) - 1.0)


class LayerWithActivation:
    def __init__(self):
        self.elu = Elu()

    def loss(self, z):
        return np.sum(self.elu.fn(z))

    def loss_named(self, z):
        return np.sum(Elu.fn(self.elu, z) ** 2)


def test_a_method_of_an_attribute_and_layers_in_a_list():
    """self.elu.fn(z) was refused ('no derivative rule for .fn() (str)'); the class of an attribute
    or a list item is met at run time, and its method's forms are compiled then (once per class)."""
    layer = LayerWithActivation()
    z = np.array([0.5, -0.5])
    check_grads(layer.loss, (z,))
    check_grads(layer.loss_named, (z,))
    rng = np.random.default_rng(3)
    net = Net([Dense(rng.normal(size=(3, 4)), Softplus(1.5)), Dense(rng.normal(size=(4, 2)),
                                                                    SOFTPLUS)])
    check_grads(net.loss, (rng.normal(size=(5, 3)),))


class Dense:
    def __init__(self, W, act):
        self.W = W
        self.act_fn = act

    def forward(self, h):
        return self.act_fn(h @ self.W)


class Net:
    def __init__(self, layers):
        self.layers = layers

    def loss(self, x):
        h = x
        for layer in self.layers:
            h = layer.forward(h)
        return np.sum(h ** 2)


def make_scaler(a):
    return lambda x: x * a


def calls_a_closure_of_an_active_value(a):
    g = make_scaler(a)
    return g(2.0)


def test_a_function_value_carrying_a_derivative():
    # (refused before closures over values that carry derivatives were followed: see
    # tests/test_closures_active.py)
    g = sd.grad(calls_a_closure_of_an_active_value)(1.5)
    check_grads_fd(calls_a_closure_of_an_active_value, (1.5,), (0,), (g,))


# ---------------------------------------------------------------- attributes written in methods


class LazyDense:
    def __init__(self):
        self.is_initialized = False
        self.calls = 0

    def _init_params(self, n_in):
        self.scale = 1.0 / n_in

    def forward(self, X, W):
        if X.ndim != 2:
            raise ValueError("LazyDense takes 2-D input")
        if not self.is_initialized:
            self.n_in = X.shape[1]
            self._init_params(self.n_in)
            self.is_initialized = True
        self.X = X              # caching the data (it carries no derivative here)
        self.calls += 1
        return np.tanh(X @ W * self.scale)

    def forward_caching_z(self, X, W):
        Z = X @ W
        self.Z = Z              # a value that carries W's derivative
        return np.tanh(Z)


LAZY = LazyDense()
X2 = np.linspace(-1.0, 1.0, 6).reshape(3, 2)


def lazy_loss(W, X):
    return np.sum(LAZY.forward(X, W) ** 2)


def caching_loss(W, X):
    return np.sum(LAZY.forward_caching_z(X, W))


def test_lazy_initialization_bookkeeping_and_caching_data_on_self():
    """obj.attr = v was refused in any function sourcediff differentiates."""
    from sourcediff.testing import check_parity

    before = LAZY.calls
    check_parity(lazy_loss, (np.full((2, 2), 0.3), X2), wrt=(0,), modes=("reverse", "forward"))
    sd.grad(lazy_loss)(np.full((2, 2), 0.3), X2)
    assert LAZY.is_initialized and LAZY.n_in == 2 and LAZY.X is not None
    assert LAZY.calls > before


def test_caching_a_value_that_carries_a_derivative_on_self_runs_as_python_does():
    """self.Z = Z with Z carrying W's derivative was refused; it is a cache written for later
    (tests/test_cached_attributes.py has the reads back, refused at the read)."""
    from sourcediff.testing import check_parity

    W = np.full((2, 2), 0.3)
    check_parity(caching_loss, (W, X2), wrt=(0,), modes=("reverse", "forward"))
    g = sd.grad(caching_loss)(W, X2)
    np.testing.assert_allclose(LAZY.Z, X2 @ W)
    np.testing.assert_allclose(g, X2.T @ (1.0 - np.tanh(X2 @ W) ** 2))


# ---------------------------------------------------------------- lambdas in a dict literal

LINKS = {
    "identity": {"link": lambda mu: mu, "inv_link": lambda eta: eta},
    "logit": {
        "link": lambda mu: np.log(mu / (1 - mu)),
        "inv_link": lambda eta: 1.0 / (1.0 + np.exp(-eta)),
    },
}


def glm_loss(beta, X, y, link="logit"):
    inv = LINKS[link]["inv_link"]
    return np.sum((y - inv(X @ beta)) ** 2)


@pytest.mark.parametrize("link", ["identity", "logit"])
def test_link_functions_as_lambdas_in_a_dict_spread_over_lines(link):
    """'cannot tell which lambda on ...': a lambda on a line of a larger expression is found in
    its file by line, parameters and column."""
    X, y = np.linspace(-1.0, 1.0, 6).reshape(3, 2), np.array([0.2, 0.5, 0.9])
    from sourcediff.testing import check_parity

    check_parity(glm_loss, (np.array([0.3, -0.2]), X, y, link), wrt=(0,),
                 modes=("reverse", "unoptimized", "forward"))


SQUARE, SINE = (lambda v: np.sum(v * v * 2.0)), (lambda v: np.sum(np.sin(v) * 3.0))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="code columns (co_positions) are 3.11+")
@pytest.mark.parametrize("fn", [SQUARE, SINE], ids=["first", "second"])
def test_two_lambdas_with_the_same_parameters_on_one_line(fn):
    """Each is told apart by the columns of its own instructions (the first instruction and the
    implicit return sit at column 0 and said nothing: 'cannot tell which lambda')."""
    x = np.array([0.5, -1.25, 2.0])
    check_grads_fd(fn, (x,), (0,), (sd.grad(fn)(x),))


class _Model:
    def __init__(self):
        self.W = np.arange(6.0).reshape(3, 2) / 5
        self.b = np.ones(2)

    def __call__(self, x):
        return np.tanh(x @ self.W + self.b)

    def forward(self, x):
        return self(x)


def _calls_the_model(model, x):
    return np.sum(model(x) ** 2)


def _calls_a_method_of_the_model(model, x):
    return np.sum(model.forward(x) ** 2)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("loss", [_calls_the_model, _calls_a_method_of_the_model])
def test_an_object_as_the_wrt_argument(loss, mode):
    """grad(loss)(model, x) with model an object called in loss: reverse mode gives the gradient
    as a _Model (tests/test_object_wrt.py has the feature's tests); forward mode refuses, saying
    reverse mode takes it (it said the call was of a function made at run time)."""
    if mode == "reverse":
        g = sd.grad(loss, mode=mode)(_Model(), np.ones((4, 3)))
        assert type(g) is _Model and g.W.shape == (3, 2) and g.b.shape == (2,)
    else:
        with pytest.raises(sd.SourcediffError) as info:
            sd.grad(loss, mode=mode)(_Model(), np.ones((4, 3)))
        text = str(info.value)
        assert "_Model object" in text and "reverse mode does" in text
    # (the same call with the object out of wrt runs: x's gradient)
    g = sd.grad(loss, wrt=1, mode=mode)(_Model(), np.ones((4, 3)))
    assert g.shape == (4, 3) and np.all(np.isfinite(g))
