"""review25: the tape against PyTorch 2.13 as a user's parity test checks it (dtypes, values,
gradients, grad_fn names, errors). Each snippet runs once with ``torch`` bound to PyTorch and
once with ``torch`` bound to ``sourcediff.tape``; the names it binds are compared."""

import numpy as np
import pytest

import sourcediff.tape as T
import sourcediff.tape.nn.functional as TF


def _run(src, torch_mod, functional):
    ns = {"torch": torch_mod, "F": functional, "np": np}
    exec(src, ns)  # noqa: S102 (a test snippet)
    return ns


def _describe(v):
    d = {"dtype": str(v.dtype).replace("torch.", ""), "shape": tuple(v.shape),
         "value": np.asarray(v.detach().numpy(), dtype=float),
         "requires_grad": v.requires_grad}
    g = v.grad if v.is_leaf else None
    d["grad"] = None if g is None else (str(g.dtype).replace("torch.", ""),
                                        np.asarray(g.numpy(), dtype=float))
    return d


def _same(a, b):
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def check_parity(src, names):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    want = _run(src, torch, F)
    got = _run(src, T, TF)
    for n in names:
        w, g = _describe(want[n]), _describe(got[n])
        for k in w:
            assert (w[k] is None) == (g[k] is None) and (w[k] is None or _same(w[k], g[k])), \
                f"{n}.{k}: torch {w[k]}, tape {g[k]}"


# ------------------------------------------------ integer tensors and scalars promote to float32
# (numpy's promotion made them float64: i / j, i * 0.5, i.sqrt(), torch.where(c, i, 0.5), and a
# float32 Tensor times np.float64(2) all came out float64 on the tape, float32 in PyTorch, so a
# loss built from them and its gradients were float64)

PROMOTIONS = """
a = torch.tensor([1, 4])
b = torch.tensor([2, 3])
f = torch.tensor([1.5, 2.5])
d0 = torch.tensor(1.5, dtype=torch.float64)
r1 = a / b
r2 = a / 2
r3 = a * 0.5
r4 = 2.5 - a
r5 = 3.0 / a
r6 = a ** 0.5
r7 = a.sqrt()
r8 = torch.exp(a)
r9 = a.sigmoid()
r10 = 0.5 ** a
r11 = a.sum() / 2
r12 = torch.where(a > 1, a, 0.5)
r13 = torch.tensor([True, False]) * 1.5
r14 = f * np.float64(2.5)
r15 = a * np.float64(2.5)
r16 = a // 2.5
r17 = a.clamp(0.5, 2.5)
r18 = torch.maximum(f, d0)
r19 = torch.where(a > 1, f, d0)
r20 = f.clamp(d0)
r21 = torch.maximum(a, f)
r22 = torch.cat([a, f])
r23 = a * d0
r24 = a.sum(dtype=torch.float64)
r25 = a.double() / 3
r26 = f.double() * 2
"""


def test_integer_and_scalar_promotion_is_pytorchs():
    check_parity(PROMOTIONS, [f"r{i}" for i in range(1, 27)])


def test_promoted_loss_and_its_gradient_stay_float32():
    check_parity("""
w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
x = torch.arange(3) / 3
loss = ((w * x - torch.arange(3) * 0.1) ** 2).mean()
loss.backward()
""", ["w", "x", "loss"])


def test_grad_of_keeps_numpys_float64_promotion():
    # (inside grad_of the tape runs numpy code: numpy's promotion, float64)
    def f(x):
        n = np.sum(x > 0)
        return np.sum(x * (n / 3))
    g = T.grad_of(f, (np.array([1.0, -2.0, 3.0]),))
    np.testing.assert_allclose(g, np.full(3, 2.0 / 3.0), rtol=1e-15)


# ------------------------------------------------ losses as aten computes them
# binary_cross_entropy at p = 0 or 1 (a float32 sigmoid saturates there from z = 17): PyTorch's
# gradient is (p - t) / max(p (1 - p), 1e-12), finite; the tape differentiated its clamped logs
# and gave nan (0 / 0), which then poisoned every parameter through sigmoid's backward.

def test_binary_cross_entropy_gradient_at_zero_and_one_is_atens():
    check_parity("""
p = torch.tensor([0., 1., 0.5, 1e-30, 0., 1.], requires_grad=True)
y = torch.tensor([0., 1., 1., 0.5, 1., 0.], requires_grad=True)
l = F.binary_cross_entropy(p, y, weight=torch.tensor([1., 2., 3., 1., 1., 1.]))
l.backward()
""", ["p", "y", "l"])


def test_binary_cross_entropy_of_a_saturated_sigmoid_is_finite():
    check_parity("""
z = torch.tensor([20., -120., 3., 40.], requires_grad=True)
y = torch.tensor([1., 0., 1., 0.])
l = F.binary_cross_entropy(z.sigmoid(), y)
l.backward()
""", ["z", "l"])


def test_binary_cross_entropy_node_is_freed_after_backward():
    p = T.tensor([0.2, 0.7], requires_grad=True)
    loss = T.binary_cross_entropy(p, T.tensor([0.0, 1.0]))
    loss.backward()
    with pytest.raises(T.TapeError, match="backward through the graph a second time"):
        loss.backward()


def test_binary_cross_entropy_second_order_matches_torch_inside():
    check_parity("""
p = torch.tensor([0.2, 0.7, 0.5], requires_grad=True)
y = torch.tensor([0.1, 1., 0.3], requires_grad=True)
l = F.binary_cross_entropy(p, y, weight=torch.tensor([1., 2., 3.]))
g, gy = torch.autograd.grad(l, [p, y], create_graph=True)
(g.sum() + gy.sum()).backward()
""", ["p", "y"])


# cross_entropy / nll_loss: a negative class index (-1, say) was read by numpy from the end (the
# last class), a silent other loss, where PyTorch raises "Target -1 is out of bounds."; weight=,
# ignore_index=, label_smoothing=, probability targets, 1-D and K-dimensional inputs and
# binary_cross_entropy_with_logits's pos_weight= were TypeErrors or IndexErrors.

@pytest.mark.parametrize("target", ["[2, -1, 1]", "[2, 3, 0]"])
def test_cross_entropy_refuses_a_class_index_out_of_range(target):
    x = T.tensor([[1.0, 2.0, 3.0], [1.0, -1.0, 0.0], [0.5, 0.2, 0.1]], requires_grad=True)
    with pytest.raises(T.TapeError, match="out of bounds"):
        T.cross_entropy(x, T.tensor(eval(target)))  # noqa: S307


X3 = "x = torch.tensor([[1., 2., 3.], [1., -1., 0.], [0.5, 0.2, 0.1]], requires_grad=True)\n"
CE_CASES = [
    "l = F.cross_entropy(x, torch.tensor([2, 0, 2]), weight=torch.tensor([0.2, 1., 3.]))",
    "l = F.cross_entropy(x, torch.tensor([2, 0, 2]), weight=torch.tensor([0.2, 1., 3.]), "
    "reduction='none')",
    "l = F.cross_entropy(x, torch.tensor([2, -100, 1]))",
    "l = F.cross_entropy(x, torch.tensor([2, 1, 0]), weight=torch.tensor([0.2, 1., 3.]), "
    "ignore_index=1)",
    "l = F.cross_entropy(x, torch.tensor([-100, -100, -100]))",
    "l = F.cross_entropy(x, torch.tensor([2, 0, 1]), label_smoothing=0.2)",
    "l = F.cross_entropy(x, torch.tensor([2, -100, 1]), weight=torch.tensor([0.2, 1., 3.]), "
    "label_smoothing=0.3)",
    "l = F.cross_entropy(x, torch.tensor([2, -100, 1]), label_smoothing=0.3, reduction='none')",
    "l = F.cross_entropy(x, torch.tensor([2, 0, 1]), weight=torch.tensor([0.2, 1., 3.]), "
    "label_smoothing=0.3, reduction='sum')",
    "l = F.cross_entropy(x, torch.tensor([[0.2, 0.3, 0.5], [1., 0., 0.], [0., .5, .5]]))",
    "l = F.cross_entropy(x, torch.tensor([[0.2, 0.3, 0.5], [1., 0., 0.], [0., .5, .5]]), "
    "weight=torch.tensor([0.2, 1., 3.]), label_smoothing=0.1, reduction='none')",
    "l = F.nll_loss(x, torch.tensor([2, 0, 1]), weight=torch.tensor([0.2, 1., 3.]))",
    "l = F.nll_loss(x, torch.tensor([2, 0, 1]), ignore_index=0, reduction='none')",
    "l = F.binary_cross_entropy_with_logits(x, torch.tensor([[0., 1., .5]] * 3), "
    "pos_weight=torch.tensor([1., 2., 3.]), weight=torch.tensor([[1.], [2.], [3.]]))",
]


@pytest.mark.parametrize("case", CE_CASES)
def test_cross_entropy_options_match_torch(case):
    check_parity(X3 + case + "\nl.sum().backward()\n", ["x", "l"])


@pytest.mark.parametrize("case", [
    "x = torch.tensor([1., 2., 3.], requires_grad=True)\n"
    "l = F.cross_entropy(x, torch.tensor(1), label_smoothing=0.25)",
    "x = torch.arange(24.).reshape(2, 3, 4).div(10).requires_grad_()\n"
    "l = F.cross_entropy(x, torch.tensor([[0, 1, 2, 1], [2, 2, 0, -100]]), "
    "weight=torch.tensor([0.2, 1., 3.]), label_smoothing=0.1, reduction='none')",
    "x = torch.tensor([[1., -float('inf'), 3.], [1., -1., 0.]], requires_grad=True)\n"
    "l = F.cross_entropy(x, torch.tensor([2, 0]))",
])
def test_cross_entropy_shapes_match_torch(case):
    check_parity(case + "\nl.sum().backward()\n", ["x", "l"])


def test_regression_loss_warns_when_the_target_broadcasts():
    a = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.warns(UserWarning, match="different to the input size"):
        T.mse_loss(a, T.tensor([[1.0], [2.0]]))


# ------------------------------------------------ factories and reductions of integers
# T.full((2,), 3) was float32 (PyTorch: int64, the fill value's kind; True gives bool), and
# the mean of an integer tensor was a float where PyTorch refuses it.

def test_full_takes_the_fill_values_kind():
    check_parity("""
c = torch.full((2,), 3)
d = torch.full((2,), 3.)
e = torch.full((2,), True)
f = torch.full((2,), 3, dtype=torch.float64)
""", ["c", "d", "e", "f"])


def test_mean_of_an_integer_tensor_is_refused_as_in_pytorch():
    with pytest.raises(T.TapeError, match="mean\\(\\): could not infer output dtype"):
        T.tensor([1, 2]).mean()
    # (numpy code under grad_of keeps numpy's mean of integers)
    g = T.grad_of(lambda x: np.mean(np.arange(3)) * np.sum(x), (np.ones(2),))
    np.testing.assert_allclose(g, [1.0, 1.0])


def test_a_hook_that_changes_the_gradients_dtype_is_refused():
    x = T.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g.double())
    with pytest.raises(T.TapeError, match="has changed the type of value"):
        (x * 3).sum().backward()


# ------------------------------------------------ nan and infinities as PyTorch propagates them
# relu(nan) was 0 with gradient 0 (PyTorch: nan, gradient 1: a nan in training vanished);
# logsumexp of a row of -inf (a fully masked row) was nan (PyTorch: -inf) and of a row with +inf
# nan (PyTorch: inf, gradient 0 to the finite entries); x.max() with a nan gave a nan gradient
# everywhere (PyTorch shares it among the nans).

@pytest.mark.parametrize("src", [
    "x = torch.tensor([float('nan'), -1., 0., 2.], requires_grad=True)\ny = x.relu()",
    "x = torch.tensor([float('nan'), -1., 0., 2.], requires_grad=True)\ny = F.relu(x * 1)",
    "x = torch.tensor([[-float('inf'), -float('inf')], [1., -float('inf')]], "
    "requires_grad=True)\ny = x.logsumexp(1)",
    "x = torch.tensor([[float('inf'), 1.], [1., 2.]], requires_grad=True)\n"
    "y = x.logsumexp(1, keepdim=True)",
    "x = torch.tensor([[1., float('nan')], [float('nan'), 3.]], requires_grad=True)\ny = x.max()",
    "x = torch.tensor([[1., float('nan')], [float('nan'), 3.]], requires_grad=True)\ny = x.min()",
])
def test_nan_and_inf_propagate_as_in_pytorch(src):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        check_parity(src + "\ny.sum().backward()\n", ["x", "y"])


# ------------------------------------------------ a 0-d integer Tensor as an index
# x[k] with k a 0-d integer Tensor (k = y.argmax()) is PyTorch's select, a view: an in-place
# write through it reaches x. The tape read it as numpy's advanced index, a copy: the write was
# lost and x's gradient was that of the unmodified x ([2, 4, 6] for PyTorch's [2, 100, 6]).

@pytest.mark.parametrize("index", ["torch.tensor(1)", "torch.tensor(1), 1:",
                                   "torch.tensor([3., 9., 1.]).argmax()"])
def test_a_0d_integer_tensor_index_is_a_view(index):
    check_parity(f"""
x = torch.arange(6.).reshape(3, 2).requires_grad_()
a = x * 1
v = a[{index}]
v.mul_(5)
(a * a).sum().backward()
""", ["x", "a", "v"])


# ------------------------------------------------ a Tensor value written by fill_/masked_fill
# a.fill_(v) and a.masked_fill(mask, v) with v a 0-d Tensor that requires grad: v was a constant
# of the node and v.grad stayed None (PyTorch: the summed gradient of the entries written, 2.0
# below); a.clamp_(min=lo) on a tensor without grad was a NoRuleError; copy_ into an integer
# tensor a TypeError (PyTorch truncates); masked_fill_ did not exist.

@pytest.mark.parametrize("src", [
    "a = x * 1\na.fill_(v)",
    "a = torch.zeros(3)\na.fill_(v)",
    "a = x * 1\na[1:].fill_(v * 2)",
    "a = x.masked_fill(x < 2, v)",
    "a = torch.tensor([1., -2., 3.])\na.masked_fill_(a < 2, v)",
    "a = x * 1\na.masked_fill_(a > 0, 0.5)",
    "a = torch.tensor([1., -2., 3.])\na.clamp_(min=v)",
    "a = x * 1\na.clamp_(max=v - 4)",
])
def test_a_tensor_fill_value_gets_its_gradient(src):
    check_parity(f"""
x = torch.tensor([1., -2., 3.], requires_grad=True)
v = torch.tensor(5., requires_grad=True)
{src}
(a * a * torch.tensor([1., 2., 3.])).sum().backward()
""", ["x", "v", "a"])


def test_copy_into_an_integer_tensor_truncates():
    check_parity("""
x = torch.tensor([1.5, -2.5], requires_grad=True)
buf = torch.zeros(2, dtype=torch.int64)
buf.copy_(x)
""", ["buf"])


# ------------------------------------------------ an empty list of dims reduces over every dim
# x.sum(dim=[]) (dims computed as an empty list, say) is PyTorch's full reduction, 15.0 below;
# the tape returned x unreduced (numpy's axis=()), likewise mean, amax, amin, std, var, norm.
# (PyTorch's own gradient of std/var over dim=[] is inf, a bug of its: values compared there.)

def test_an_empty_dim_list_reduces_over_every_dim():
    check_parity("""
x = torch.arange(6.).reshape(2, 3).requires_grad_()
a = x.sum([])
b = x.mean(())
c = x.amax([])
d = x.std([])
e = x.var(dim=[], keepdim=True)
f = x.norm(dim=[])
g = x.sum(dim=(), keepdim=True)
h = x.amin(())
(a + b * 2 + c * 3 + f + g.sum() + h).backward()
""", ["x", "a", "b", "c", "d", "e", "f", "g", "h"])
    # (numpy's axis=() under grad_of: no reduction)
    g = T.grad_of(lambda x: np.sum(np.sum(x, axis=()) * x), (np.array([1.0, 2.0]),))
    np.testing.assert_allclose(g, [2.0, 4.0])


def test_split_sizes_flatten_dims_and_squeeze_dims_as_in_pytorch():
    # (were a TypeError, a TypeError and numpy's ValueError for a dim of size > 1)
    check_parity("""
x = torch.arange(24.).reshape(2, 1, 3, 4).requires_grad_()
a, b = x.split([1, 2], dim=2)
c = x.flatten(2)
d = x.flatten(0, 1)
e = x.squeeze((0, 1))
f = x.squeeze(0)
g, h = torch.arange(0.).chunk(2)
(a.sum() + (b * b).sum() + (c * 3).sum() + d.sum() + e.sum() + f.sum()).backward()
""", ["x", "a", "b", "c", "d", "e", "f", "g", "h"])


def test_iterating_a_tensor_is_unbind():
    check_parity("""
x = torch.arange(6.).reshape(2, 3).requires_grad_()
rows = list(x)
r0, r1 = rows
(r0 * r1).sum().backward()
""", ["x", "r0", "r1"])
    assert next(iter(T.ones(2, 2, requires_grad=True))).grad_fn.name() == "UnbindBackward0"


# ------------------------------------------------ create_graph through rules that call helpers
# A vjp rule run on Tensors (create_graph=True) called runtime helpers with rules of their own
# (_sd.norm_weights, _sd.prod_others) as plain functions, which read the Tensors with np.asarray
# as constants: the Hessian-vector product of x.norm() was [-0.118, 0.471, -0.275, -0.785] for
# PyTorch's [0.290, -0.344, 0.948, -0.582] (p=3 likewise), and the gradient of x.prod() came back
# without grad (a gradient penalty on it silently added nothing). They are recorded with their
# rules now (recording._record_helpers).

@pytest.mark.parametrize("expr", ["x.norm()", "x.norm(p=3)", "x.prod()", "(x * 2).prod()",
                                  "x.view(2, 2).norm(dim=1).sum()", "x.view(2, 2).prod(1).sum()",
                                  "x.norm(p=1) * x.sum()", "x.amax() ** 2"])
def test_second_derivatives_through_helper_calling_rules_match_torch(expr):
    check_parity(f"""
x = torch.tensor([0.3, -1.2, 0.7, 2.0], requires_grad=True)
y = {expr}
g, = torch.autograd.grad(y, x, create_graph=True)
h = (g * torch.tensor([1., -2., 3., 0.5])).sum()
h.backward()
""", ["x", "g", "h"])


def test_a_gradient_penalty_through_prod_reaches_the_parameters():
    check_parity("""
x = torch.tensor([0.3, -1.2, 0.7, 2.0], requires_grad=True)
y = x.prod()
g, = torch.autograd.grad(y, x, create_graph=True)
loss = y + (g ** 2).sum()
loss.backward()
""", ["x", "loss"])


def test_a_third_derivative_through_norm_or_prod_is_refused_not_wrong():
    # (the helpers' own rules read x with np.asarray: one create_graph level is exact, a second
    # would silently miss terms; PyTorch's third derivative of x.norm() is [-0.734, 1.366, ...])
    for f in (lambda x: x.norm(), lambda x: x.prod(), lambda x: x.norm(p=3)):
        x = T.tensor([0.3, -1.2, 0.7, 2.0], requires_grad=True)
        v = T.tensor([1.0, -2.0, 3.0, 0.5])
        g, = T.autograd.grad(f(x), x, create_graph=True)
        with pytest.raises(T.TapeError, match="further derivative"):
            T.autograd.grad((g * v).sum(), x, create_graph=True)


def test_setting_requires_grad_on_a_non_leaf_and_index_put_names_are_pytorchs():
    y = T.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(T.TapeError, match="only change requires_grad flags of leaf"):
        y.requires_grad = True
    check_parity("""
x = torch.tensor([1., 2., 3., 4.], requires_grad=True)
a = x * 1
a[torch.tensor([0, 2])] = torch.tensor(5.)
b = x * 1
b[b > 2] = 0.
c = x * 1
c[1:] = 7.
d = x.clone()
d.view(2, 2)[0] += 1
e = x * 1
e[[1, 3]] += x[:2]
(a + b + c + d + e).sum().backward()
""", ["x", "a", "b", "c", "d", "e"])
    names = [T.tensor([1.0, 2.0], requires_grad=True) * 1 for _ in range(2)]
    names[0][T.tensor([0])] = 3.0
    names[1][0:1] = 3.0
    assert [n.grad_fn.name() for n in names] == ["IndexPutBackward0", "CopySlices"]
