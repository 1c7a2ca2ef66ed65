"""An RNN and an LSTM with dict parameters (autograd's rnn.py / lstm.py), the concatenation done
by a helper that takes *args (as autograd's `concat_and_multiply(weights, *args)`)."""

import numpy as np


def sigmoid(x):
    return 0.5 * (np.tanh(x) + 1.0)


def concat_and_multiply(weights, *args):
    cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
    return np.dot(cat_state, weights)


def logsumexp(x):
    m = np.max(x, axis=1, keepdims=True)
    return m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))


# --- RNN -------------------------------------------------------------------------------------

def rnn_predict(params, inputs):
    hiddens = np.repeat(params["init hiddens"], inputs.shape[1], axis=0)
    output = [hiddens_to_output_probs(params, hiddens)]
    for input in inputs:
        hiddens = update_rnn(params, input, hiddens)
        output.append(hiddens_to_output_probs(params, hiddens))
    return output


def update_rnn(params, input, hiddens):
    return np.tanh(concat_and_multiply(params["change"], input, hiddens))


def hiddens_to_output_probs(params, hiddens):
    output = concat_and_multiply(params["predict"], hiddens)
    return output - logsumexp(output)


def rnn_loss(params, inputs, targets):
    logprobs = rnn_predict(params, inputs)
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return -loglik / (num_time_steps * num_examples)


# --- LSTM ------------------------------------------------------------------------------------

def update_lstm(params, input, hiddens, cells):
    change = np.tanh(concat_and_multiply(params["change"], input, hiddens))
    forget = sigmoid(concat_and_multiply(params["forget"], input, hiddens))
    ingate = sigmoid(concat_and_multiply(params["ingate"], input, hiddens))
    outgate = sigmoid(concat_and_multiply(params["outgate"], input, hiddens))
    cells = cells * forget + ingate * change
    hiddens = outgate * np.tanh(cells)
    return hiddens, cells


def lstm_loss(params, inputs, targets):
    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params["init hiddens"], num_sequences, axis=0)
    cells = np.repeat(params["init cells"], num_sequences, axis=0)
    loglik = 0.0
    for t in range(inputs.shape[0]):
        hiddens, cells = update_lstm(params, inputs[t], hiddens, cells)
        loglik += np.sum(hiddens_to_output_probs(params, hiddens) * targets[t])
    return -loglik / (inputs.shape[0] * num_sequences)


# --- make inputs -----------------------------------------------------------------------------

def init_rnn_params(input_size, state_size, output_size, scale, rs):
    return {"init hiddens": rs.randn(1, state_size) * scale,
            "change": rs.randn(input_size + state_size + 1, state_size) * scale,
            "predict": rs.randn(state_size + 1, output_size) * scale}


def init_lstm_params(input_size, state_size, output_size, scale, rs):
    def rp(*shape):
        return rs.randn(*shape) * scale
    return {"init cells": rp(1, state_size), "init hiddens": rp(1, state_size),
            "change": rp(input_size + state_size + 1, state_size),
            "forget": rp(input_size + state_size + 1, state_size),
            "ingate": rp(input_size + state_size + 1, state_size),
            "outgate": rp(input_size + state_size + 1, state_size),
            "predict": rp(state_size + 1, output_size)}


def make_sequences(rs, T=4, N=2, V=3):
    idx = rs.randint(0, V, size=(T, N))
    onehot = np.eye(V)[idx]
    return onehot, np.roll(onehot, -1, axis=0)


def make_rnn_inputs():
    rs = np.random.RandomState(1)
    inputs, targets = make_sequences(rs)
    return init_rnn_params(3, 3, 3, 0.5, rs), inputs, targets


def make_lstm_inputs():
    rs = np.random.RandomState(2)
    inputs, targets = make_sequences(rs)
    return init_lstm_params(3, 2, 3, 0.5, rs), inputs, targets
