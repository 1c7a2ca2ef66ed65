"""The autograd tour: out = mean(3 (x1 (x2 + 2))^2), in tape mode and as generated source."""

import numpy as np

import sourcediff as sd
from sourcediff import tape as T

# ------------------------------------------------------------------ tape mode


def walk(fn, index=None, depth=0):
    """Print the backward graph below ``fn`` (a grad_fn node or None), one node per line."""
    label = "None" if fn is None else fn.name()
    note = ""
    if fn is not None and fn.name() == "AccumulateGrad":
        v = fn.variable
        note = f"  variable shape={tuple(v.shape)} requires_grad={v.requires_grad}"
    print(f"{'  ' * depth}{label} (index {index}){note}")
    if fn is not None:
        for child, i in fn.next_functions:
            walk(child, i, depth + 1)


def tape_tour():
    """Record the graph, print it, backpropagate; returns the gradients as numpy arrays."""
    x1 = T.ones(2, 2, requires_grad=True)
    x2 = T.tensor(1.1, requires_grad=True)
    y = x1 * (x2 + 2)
    y.retain_grad()            # keep .grad on these non-leaf tensors
    z = y.pow(2) * 3
    z.retain_grad()
    out = z.mean()
    # {t!r}: like torch, f"{t}" of a 0-d tensor formats the bare number
    print(f"x1 = {x1!r}\nx2 = {x2!r}\ny = {y!r}\nz = {z!r}\nout = {out!r}")
    print("out.grad_fn.next_functions =", out.grad_fn.next_functions)
    print("The backward graph, from out.grad_fn down to the leaves:")
    walk(out.grad_fn)
    out.backward()
    print(f"z.grad = {z.grad!r}\ny.grad = {y.grad!r}\nx2.grad = {x2.grad!r}\nx1.grad = {x1.grad!r}")
    return {name: t.grad.numpy() for name, t in (("z", z), ("y", y), ("x2", x2), ("x1", x1))}


# ------------------------------------------------------------------ source mode


def f(x1, x2):
    """The same computation as plain numpy."""
    y = x1 * (x2 + 2)
    z = y**2 * 3
    return np.mean(z)


def from_y(y):
    """What ``f`` computes after ``y``: its gradient is the adjoint of ``y`` (y.grad above)."""
    z = y**2 * 3
    return np.mean(z)


def from_z(z):
    """What ``f`` computes after ``z``."""
    return np.mean(z)


def source_tour():
    """``sd.grad`` of the numpy function: print the generated source, return the gradients."""
    x1 = np.ones((2, 2), np.float32)
    x2 = np.array(1.1, np.float32)
    df = sd.grad(f, wrt=(0, 1))
    print(sd.source(df))
    g_x1, g_x2 = df(x1, x2)
    y = x1 * (x2 + 2)
    grads = {"z": sd.grad(from_z)(y**2 * 3), "y": sd.grad(from_y)(y), "x2": g_x2, "x1": g_x1}
    for name, g in grads.items():
        print(f"d out / d {name} = {np.array2string(np.asarray(g), precision=4)}")
    return grads


def main():
    """Run both tours; returns ``{"tape": {name: grad}, "source": {name: grad}}`` (numpy arrays)."""
    print("== Tape mode: a PyTorch-like Tensor records the graph as it runs ==")
    tape_grads = tape_tour()
    print("\n== Source mode: sd.grad(f, wrt=(0, 1)) writes this gradient function ==\n")
    source_grads = source_tour()
    print("\nThe two modes agree:", all(np.allclose(tape_grads[k], source_grads[k])
                                      for k in tape_grads))
    return {"tape": tape_grads, "source": source_grads}


if __name__ == "__main__":
    main()
