"""Programs written as people write them (layers held by a model, helpers, generators), each
gradient checked against finite differences and the user's objects checked after the call."""

import copy
from collections import namedtuple

import numpy as np
import pytest

import sourcediff as sd

from .objwrt_oracle import check_object_grad
from .oracles import check_grads_fd


class Dense:
    def __init__(self, n, m, rng):
        self.weights = 0.5 * rng.normal(size=(n, m))
        self.biases = np.zeros((1, m))

    def forward(self, inputs):
        self.output = inputs @ self.weights + self.biases


class ReLU:
    def forward(self, inputs):
        self.output = np.maximum(0, inputs)


class UnpackedLayers:
    """nnfs's layer calls on layers ``__init__`` stores in one unpacking assignment."""

    def __init__(self, rng):
        self.d1, self.a1, self.d2 = Dense(3, 4, rng), ReLU(), Dense(4, 1, rng)

    def forward(self, x):
        self.d1.forward(x)
        self.a1.forward(self.d1.output)
        self.d2.forward(self.a1.output)
        return self.d2.output


def nnfs_loss(model, x):
    return np.mean(model.forward(x) ** 2)


def test_layers_stored_by_an_unpacking_assignment_in_init_are_held():
    # (was an AliasError at self.a1.output: held.py read only self.a = C(...) one by one)
    rng = np.random.default_rng(0)
    model, x = UnpackedLayers(rng), rng.normal(size=(6, 3))
    before = copy.deepcopy(model)
    g = sd.grad(nnfs_loss)(model, x)
    check_object_grad(nnfs_loss, before, x, grad=g)
    plain = copy.deepcopy(before)
    nnfs_loss(plain, x)  # (the gradient call changes the layers' outputs as a plain call does)
    for name in ("weights", "biases"):
        for layer in ("d1", "d2"):
            assert np.array_equal(getattr(getattr(model, layer), name),
                                  getattr(getattr(before, layer), name))
    # the second call, after an update in place, sees the new weights
    model.d1.weights -= 0.5 * g.d1.weights
    model.d2.weights *= 2.0
    before = copy.deepcopy(model)
    check_object_grad(nnfs_loss, before, x, grad=sd.grad(nnfs_loss)(model, x))


class RecurrentCell:
    def __init__(self, rng):
        self.W = 0.5 * rng.normal(size=(3, 3))
        self.U = 0.5 * rng.normal(size=(3, 3))
        self.h = np.zeros(3)

    def step(self, x):
        self.h = np.tanh(self.W @ self.h + self.U @ x)
        return self.h

    def step_carried(self, x, h):
        return np.tanh(self.W @ h + self.U @ x)


def state_on_the_cell(cell, xs):
    out = 0.0
    for x in xs:
        out = out + np.sum(cell.step(x))
    return out


def state_carried(cell, xs):
    out, h = 0.0, np.zeros(3)
    for x in xs:
        h = cell.step_carried(x, h)
        out = out + np.sum(h)
    return out


def test_a_state_a_method_keeps_on_its_object_is_refused_with_the_rewrite_that_works():
    # (the advice was to differentiate with respect to the object, which this call already does)
    rng = np.random.default_rng(1)
    cell, xs = RecurrentCell(rng), rng.normal(size=(4, 3))
    with pytest.raises(sd.AliasError, match=r"reads RecurrentCell\.h back") as info:
        sd.grad(state_on_the_cell)(cell, xs)
    message = str(info.value)
    assert "Carry the value in the caller" in message
    assert "differentiate with respect to the object instead" not in message
    # what it says to write is followed, and right
    cell = RecurrentCell(rng)
    before = copy.deepcopy(cell)
    check_object_grad(state_carried, before, xs, grad=sd.grad(state_carried)(cell, xs))


def constants_of(ws):
    for w in ws:
        yield w


def over_a_generator(v, ws):
    return sum(np.sum(p) * np.sum(v ** 2) for p in constants_of(ws))


def over_a_list_of_a_generator(v, ws):
    return sum(np.sum(p) * np.sum(v ** 2) for p in list(constants_of(ws)))


def over_items_given(v, items):
    return sum(np.sum(p) * np.sum(v ** 2) for p in items)


@pytest.mark.parametrize("loss", [over_a_generator, over_a_list_of_a_generator])
def test_a_generator_called_as_plain_python_is_refused_with_a_rewrite_that_works(loss):
    # (the advice was list(...) of what it gives, itself run as a loop over the generator)
    rng = np.random.default_rng(2)
    v, ws = rng.normal(size=3), [rng.normal(size=2), rng.normal(size=2)]
    with pytest.raises(sd.SourcediffSyntaxError, match="iterates over a generator") as info:
        sd.grad(loss)(v, ws)
    message = str(info.value)
    assert "called here as plain Python" in message and "list(...) of what" not in message
    assert "make the list before the gradient call" in message
    items = list(constants_of(ws))
    check_grads_fd(over_items_given, [v, items], [0], [sd.grad(over_items_given)(v, items)])


Step = namedtuple("Step", "W lr")


def replaced_in_the_loss(p, x):
    for _ in range(2):
        p = p._replace(W=p.W - p.lr * (x.T @ np.tanh(x @ p.W)))
    return np.sum(p.W ** 2)


def rebuilt_in_the_loss(p, x):
    for _ in range(2):
        p = Step(W=p.W - p.lr * (x.T @ np.tanh(x @ p.W)), lr=p.lr)
    return np.sum(p.W ** 2)


def test_a_library_method_met_at_run_time_is_refused_at_the_users_line():
    # (namedtuple's _replace on an argument was compiled from collections' source and refused
    # at a line of collections/__init__.py, naming no line of the user's)
    rng = np.random.default_rng(3)
    p, x = Step(rng.normal(size=(3, 2)), 0.05), rng.normal(size=(8, 3))
    with pytest.raises(sd.NoRuleError) as info:
        sd.grad(replaced_in_the_loss)(p, x)
    message = str(info.value)
    line = replaced_in_the_loss.__code__.co_firstlineno + 2
    assert message.startswith(f"test_review82.py:{line}:") and "Step._replace" in message
    assert "collections" in message and "__init__.py" not in message
    g = sd.grad(rebuilt_in_the_loss)(p, x)  # (what it says to write)
    assert type(g) is Step

    def on_w(w):
        return rebuilt_in_the_loss(Step(w, p.lr), x)

    def on_lr(lr):
        return rebuilt_in_the_loss(Step(p.W, lr), x)

    check_grads_fd(on_w, [p.W], [0], [g.W])
    check_grads_fd(on_lr, [p.lr], [0], [g.lr])
