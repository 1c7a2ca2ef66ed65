"""The same RNN and LSTM as rnn_dict.py, the *args helper written with named parameters."""

import numpy as np



def sigmoid(x):
    return 0.5 * (np.tanh(x) + 1.0)


def concat_and_multiply(weights, a, b=None):
    if b is None:
        cat_state = np.hstack((a, np.ones((a.shape[0], 1))))
    else:
        cat_state = np.hstack((a, b, np.ones((a.shape[0], 1))))
    return np.dot(cat_state, weights)


def logsumexp(x):
    m = np.max(x, axis=1, keepdims=True)
    return m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))


def hiddens_to_output_probs(params, hiddens):
    output = concat_and_multiply(params["predict"], hiddens)
    return output - logsumexp(output)


def rnn_loss(params, inputs, targets):
    hiddens = np.repeat(params["init hiddens"], inputs.shape[1], axis=0)
    logprobs = [hiddens_to_output_probs(params, hiddens)]
    for input in inputs:
        hiddens = np.tanh(concat_and_multiply(params["change"], input, hiddens))
        logprobs.append(hiddens_to_output_probs(params, hiddens))
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return -loglik / (num_time_steps * num_examples)


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


# --- the same, each helper given the arrays it uses (not the whole dict) ----------------------

def output_probs(predict_W, hiddens):
    output = concat_and_multiply(predict_W, hiddens)
    return output - logsumexp(output)


def rnn_loss_arrays(params, inputs, targets):
    change, predict = params["change"], params["predict"]
    hiddens = np.repeat(params["init hiddens"], inputs.shape[1], axis=0)
    loglik = np.sum(output_probs(predict, hiddens) * targets[0])
    for t in range(inputs.shape[0] - 1):
        hiddens = np.tanh(concat_and_multiply(change, inputs[t], hiddens))
        loglik += np.sum(output_probs(predict, hiddens) * targets[t + 1])
    return -loglik / (inputs.shape[0] * inputs.shape[1])


def lstm_step(change_W, forget_W, ingate_W, outgate_W, input, hiddens, cells):
    change = np.tanh(concat_and_multiply(change_W, input, hiddens))
    forget = sigmoid(concat_and_multiply(forget_W, input, hiddens))
    ingate = sigmoid(concat_and_multiply(ingate_W, input, hiddens))
    outgate = sigmoid(concat_and_multiply(outgate_W, input, hiddens))
    cells = cells * forget + ingate * change
    return outgate * np.tanh(cells), cells


def lstm_loss_arrays(params, inputs, targets):
    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params["init hiddens"], num_sequences, axis=0)
    cells = np.repeat(params["init cells"], num_sequences, axis=0)
    loglik = 0.0
    for t in range(inputs.shape[0]):
        hiddens, cells = lstm_step(params["change"], params["forget"], params["ingate"],
                                   params["outgate"], inputs[t], hiddens, cells)
        loglik += np.sum(output_probs(params["predict"], hiddens) * targets[t])
    return -loglik / (inputs.shape[0] * num_sequences)
