"""Tape mode against PyTorch, from a differential tester of random programs (review57): each test
runs one program on the tape and on torch and compares gradients; each fails without its fix."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sourcediff import tape as T

X = [0.7, -1.3, 2.1]


def _both(program):
    """``program(M)`` run with M = the tape and M = torch; the pair of numpy results."""
    out = []
    for M in (T, torch):
        res = program(M)
        out.append([np.asarray(r.detach().numpy()) for r in res])
    return out


def _assert_same(program):
    tape, ref = _both(program)
    assert len(tape) == len(ref)
    for a, b in zip(tape, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# composite nodes (add/sub with alpha, softplus, elu, gelu, silu...) differentiated with
# create_graph=True re-ran their function through the inputs themselves: the nested grad gave
# total derivatives, so an input that depends on another input was counted twice, and the
# inputs' hooks ran in it as well as in the engine


def test_create_graph_through_add_with_alpha_of_two_dependent_inputs_counts_each_path_once():
    def program(M):
        x = M.tensor(X, dtype=M.float64, requires_grad=True)
        y = M.add(x, x * 3, alpha=2)
        (g,) = M.autograd.grad((y * y).sum(), [x], create_graph=True)
        (h,) = M.autograd.grad((g * g).sum(), [x])
        return g, h

    _assert_same(program)


def test_create_graph_through_sub_with_alpha_and_softplus_of_dependent_inputs():
    def program(M):
        x = M.tensor(X, dtype=M.float64, requires_grad=True)
        u = x.sin()
        y = M.sub(u, u * u, alpha=0.5)
        z = M.nn.functional.softplus(y) * M.nn.functional.silu(y)
        (g,) = M.autograd.grad(z.sum(), [x], create_graph=True)
        (g * g).sum().backward()
        return g, x.grad

    _assert_same(program)


def test_a_hook_on_an_input_of_a_composite_runs_once_under_create_graph():
    def program(M):
        x = M.tensor(X, dtype=M.float64, requires_grad=True)
        x.register_hook(lambda g: g * 2)
        y = M.add(x, M.ones(4, 1, dtype=M.float64), alpha=2).mean()
        z = y.sign() * x
        (g,) = M.autograd.grad(z.sum() + 0.9 * y, [x], create_graph=True)
        return (g,)

    _assert_same(program)


def test_a_hook_on_a_non_leaf_input_of_a_composite_runs_once_under_create_graph():
    def program(M):
        x = M.tensor(X, dtype=M.float64, requires_grad=True)
        u = x * 1.5
        u.register_hook(lambda g: g * 3)
        z = M.nn.functional.elu(u) + M.nn.functional.gelu(u)
        (g,) = M.autograd.grad(z.sum(), [x], create_graph=True)
        (h,) = M.autograd.grad(g.sum(), [x])
        return g, h

    _assert_same(program)


# a gradient recorded with create_graph=True kept the dtype a rule promoted it to: einsum's
# gradient through np.ones made a float32 leaf's gradient float64 (without create_graph the
# engine casts each gradient to its node's dtype)


@pytest.mark.parametrize("equation", ["ij->j", "ij->", "ii->i"])
def test_create_graph_keeps_a_float32_gradient_float32_through_einsum(equation):
    def program(M):
        x = M.tensor([[0.25, -1.5, 0.5], [1.25, 0.75, -2.0], [0.5, 1.0, 3.0]], dtype=M.float32,
                     requires_grad=True)
        y = M.einsum(equation, x)
        (g,) = M.autograd.grad((y * y).sum(), [x], create_graph=True)
        (g * g).sum().backward()
        return g, x.grad

    tape, ref = _both(program)
    for a, b in zip(tape, ref):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-6)


# rsqrt and logsumexp are composite nodes on the tape; PyTorch's nodes save their result, so an
# in-place write into the result makes backward refuse. The tape ran on


@pytest.mark.parametrize("expr", ["x.rsqrt()", "x.logsumexp(0)", "x.logsumexp(1, keepdim=True)"])
def test_an_in_place_write_into_a_saved_result_is_refused_as_pytorch_refuses(expr):
    messages = []
    for M in (T, torch):
        x0 = M.tensor([[0.6, 1.5], [1.2, 0.8]], dtype=M.float64, requires_grad=True)
        x = x0 * 1
        y = eval(expr, {"x": x})
        y += 1
        with pytest.raises(Exception, match="modified by an inplace operation") as info:
            y.sum().backward()
        messages.append(str(info.value))
    name = {"x.rsqrt()": "Rsqrt"}.get(expr, "Logsumexp")
    assert all(f"output 0 of {name}" in m for m in messages)


# softmax, log_softmax and logsumexp over an empty dim (x[x > 0] with no positive element) raised
# numpy's ValueError (a zero-size maximum) where PyTorch gives an empty result or -inf


@pytest.mark.parametrize("expr", ["x.softmax(1)", "x.log_softmax(1)", "x.logsumexp(1)",
                                  "x[x > 5].softmax(0)", "M.nn.functional.log_softmax(x, 1)"])
def test_softmax_and_logsumexp_over_an_empty_dim_run_as_pytorch(expr):
    def program(M):
        x = M.zeros(2, 0, dtype=M.float64, requires_grad=True)
        with np.errstate(divide="ignore"):
            y = eval(expr, {"x": x, "M": M})
            (y * 2).sum().backward()
        return y, x.grad

    tape, ref = _both(program)
    for a, b in zip(tape, ref):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)


# an in-place write into a view of a 0-d tensor (y.view(-1).exp_(), y[None][0] = v,
# y.unsqueeze(0) += w) was refused ("numpy copied them") where PyTorch records CopySlices


def test_an_in_place_write_into_a_view_of_a_0d_tensor_runs_as_pytorch():
    def program(M):
        x = M.tensor(0.5, dtype=M.float64, requires_grad=True)
        w = M.tensor([1.5], dtype=M.float64, requires_grad=True)
        y = x * 2
        v = y[None]
        u = y.unsqueeze(0).unsqueeze(1)
        y.view(-1).add_(x)
        v[0] = w[0] * 3
        u.mul_(x)
        u.view(-1)[0] += w[0]
        z = y * y + v.sum() * 2 + u.sum()
        (gx, gw) = M.autograd.grad(z, [x, w], create_graph=True)
        (gx * gw).sum().backward()
        return y, v, u, gx, gw, x.grad, w.grad

    _assert_same(program)


# composite nodes kept no versions of the inputs PyTorch's node saves: an in-place write into a
# loss's target (or an activation's input) after the call was not refused


@pytest.mark.parametrize("call", [
    "M.nn.functional.mse_loss(a, b)", "M.nn.functional.huber_loss(a, b)",
    "M.nn.functional.smooth_l1_loss(a, b)", "M.nn.functional.binary_cross_entropy_with_logits(a, b)",
    "M.nn.functional.softplus(a)", "M.nn.functional.elu(a)", "M.nn.functional.leaky_relu(a, 0.1)",
    "M.nn.functional.gelu(a)", "a.logsumexp(0)"])
@pytest.mark.parametrize("written", ["a", "b"])
def test_an_in_place_write_into_an_input_a_composite_saved_is_refused_as_pytorch_refuses(call,
                                                                                          written):
    outcomes = []
    for M in (T, torch):
        x = M.tensor([[0.3, -0.6], [0.2, 0.7]], dtype=M.float64, requires_grad=True)
        a = x * 1
        b = M.tensor([[0.4, 0.1], [0.9, 0.5]], dtype=M.float64)
        out = eval(call, {"M": M, "a": a, "b": b})
        {"a": a, "b": b}[written].mul_(1.5)
        try:
            out.sum().backward()
            outcomes.append(x.grad.numpy().copy())
        except Exception as exc:  # (torch's RuntimeError, the tape's TapeError)
            assert "modified by an inplace operation" in str(exc)
            outcomes.append("refused")
    if isinstance(outcomes[1], str):
        assert outcomes[0] == "refused"
    else:
        np.testing.assert_allclose(outcomes[0], outcomes[1], rtol=1e-12)


# flip's result was numpy's reversed view of the input, which the tape took for a view with no
# index into its base: an in-place write into it was refused ("a view of a leaf Variable...")
# where PyTorch's flip makes a new tensor


def test_an_in_place_write_into_a_flipped_tensor_runs_as_pytorch():
    def program(M):
        x = M.tensor([[0.5, -2.0, 1.0], [1.5, 0.25, -1.0]], dtype=M.float64, requires_grad=True)
        w = M.tensor([2.0, 3.0, 4.0], dtype=M.float64, requires_grad=True)
        y0 = M.flip(x, [0])
        y1 = x.flip(1)
        y2 = y0.relu()
        y0.copy_(y0.detach() * 3)
        y1[0] = w
        y1.mul_(w)
        z = M.flip(y1, [0, 1])
        (y2.sum() + (y0 * y1).sum() + (z * z).sum()).backward()
        return x, y0, y1, x.grad, w.grad

    _assert_same(program)


# a batched matmul's result (UnsafeViewBackward0) was numpy's reshaped view of the product, taken
# for a view with no index into its base: an in-place write into it was refused


def test_an_in_place_write_into_a_batched_matmul_result_runs_as_pytorch():
    def program(M):
        x = M.tensor([[[0.5, -2.0, 1.0], [1.5, 0.25, -1.0]], [[0.3, 0.2, -0.1], [1.0, 2.0, 0.5]]],
                     dtype=M.float64, requires_grad=True)
        w = M.tensor([[2.0, 3.0], [4.0, -1.0], [0.5, 1.5]], dtype=M.float64, requires_grad=True)
        y1 = x @ w
        y2 = x @ x.transpose(1, 2)
        e = y1.exp()
        y1 *= 3
        y2[0, 1] = 5.0
        y2.add_(w[0, 0])
        (y1.sum() + (y2 * y2).sum() + e.sum()).backward()
        return y1, y2, x.grad, w.grad

    _assert_same(program)
