"""review37: Karpathy's min-char-rnn lossFun as written (a dict of parameters, dicts xs, hs, ys, ps
indexed by time, hs[-1] = np.copy(hprev), np.dot, the one-hot written in place), a GRU cell class
with a params dict, and an LSTM step with the carried (h, c)."""

import numpy as np

from tests.programs.review37_harness import case

R = np.random.default_rng(11)
vocab_size, hidden_size = 5, 4
data = "hello world"
chars = sorted(set(data))[:vocab_size]
INPUTS = [0, 1, 2, 3, 2, 1]
TARGETS = [1, 2, 3, 2, 1, 4]
PARAMS = {"Wxh": R.normal(size=(hidden_size, vocab_size)) * 0.3,
          "Whh": R.normal(size=(hidden_size, hidden_size)) * 0.3,
          "Why": R.normal(size=(vocab_size, hidden_size)) * 0.3,
          "bh": np.zeros((hidden_size, 1)) + 0.05, "by": np.zeros((vocab_size, 1)) - 0.05}
HPREV = R.normal(size=(hidden_size, 1)) * 0.5


def lossFun(params, inputs, targets, hprev):
    Wxh, Whh, Why, bh, by = (params["Wxh"], params["Whh"], params["Why"], params["bh"],
                             params["by"])
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][targets[t], 0])
    return loss


@case((PARAMS, INPUTS, TARGETS, HPREV), wrt=(0, 3))
def char_rnn_loss(params, inputs, targets, hprev):
    return lossFun(params, inputs, targets, hprev)


@case((PARAMS, HPREV), wrt=(0, 1))
def char_rnn_two_chunks(params, hprev):
    """Two chunks, the hidden state carried from the first into the second (as the training loop
    does, without truncating its derivative)."""
    loss = 0.0
    h = hprev
    for p in range(2):
        inputs, targets = INPUTS[p * 3:p * 3 + 3], TARGETS[p * 3:p * 3 + 3]
        xs, hs = {}, {}
        hs[-1] = h
        for t in range(len(inputs)):
            xs[t] = np.zeros((vocab_size, 1))
            xs[t][inputs[t]] = 1
            hs[t] = np.tanh(params["Wxh"] @ xs[t] + params["Whh"] @ hs[t - 1] + params["bh"])
            y = params["Why"] @ hs[t] + params["by"]
            loss = loss - (y[targets[t], 0] - np.log(np.sum(np.exp(y))))
        h = hs[len(inputs) - 1]
    return loss


class GRUCell:
    def __init__(self, params):
        self.params = params

    def step(self, x, h):
        p = self.params
        z = 1 / (1 + np.exp(-(p["Wz"] @ x + p["Uz"] @ h)))
        r = 1 / (1 + np.exp(-(p["Wr"] @ x + p["Ur"] @ h)))
        hh = np.tanh(p["Wh"] @ x + p["Uh"] @ (r * h))
        return (1 - z) * h + z * hh

    def run(self, xs, h):
        hs = []
        for x in xs:
            h = self.step(x, h)
            hs.append(h)
        return hs


GRU_PARAMS = {k: R.normal(size=(3, 2 if k[0] == "W" else 3)) * 0.4
              for k in ("Wz", "Uz", "Wr", "Ur", "Wh", "Uh")}
XS = [R.normal(size=2) for _ in range(4)]


@case((GRU_PARAMS, np.zeros(3) + 0.1), wrt=(0, 1), hessian=False)
def gru_params_dict(params, h0):
    cell = GRUCell(params)  # (built inside the loss from the dict of parameters)
    hs = cell.run(XS, h0)
    return sum(np.sum(h ** 2) for h in hs)


@case((GRUCell(GRU_PARAMS), np.zeros(3) + 0.1), wrt=(0, 1))
def gru_model_object(cell, h0):
    hs = cell.run(XS, h0)
    return np.sum(hs[-1]) + 0.5 * np.sum(np.stack(hs) ** 2)
