"""review35: silent wrong results found around review30-33's constructs, each fixed and checked
against an oracle (finite differences, PyTorch) in every mode it touches."""

import copy
import warnings

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.tape import grad_of

from .oracles import check_grads_fd

MODES = ["reverse", "unoptimized", "generic", "forward", "jacobian", "tape"]


def _grads(f, args, mode, wrt=0):
    args = copy.deepcopy(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if mode == "reverse":
            return sd.grad(f, wrt=wrt)(*args)
        if mode == "unoptimized":
            return sd.grad(f, wrt=wrt, optimize=False)(*args)
        if mode == "forward":
            return sd.grad(f, wrt=wrt, mode="forward")(*args)
        if mode == "jacobian":
            return sd.jacobian(f, wrt=wrt)(*args)
        if mode == "generic":
            df = sd.grad(f, wrt=wrt)
            df(*copy.deepcopy(args))
            return df.__sourcediff_specializations__.generic(*args)
        return grad_of(f, list(args), wrt=wrt)


# ---------------------------------------------------------------- eigvals at a repeated eigenvalue
# np.linalg.eig's rule divided by the gaps between eigenvalues (inf at a tie) even where the
# eigenvectors carry no gradient: sd.grad of sum(eigvals(m) ** 2) (trace(m @ m), smooth
# everywhere) gave [[nan, nan, nan], ...] at np.eye(3) in reverse, generic, jacobian and the
# tape. eig's rule now uses the tie-aware inverse svd's and eigh's rules use (0 where the term
# is 0, nan where a derivative of the eigenvectors does not exist).

def eig_square_sum(m):
    return np.real(np.sum(np.linalg.eigvals(m) ** 2))


def eig_product(m):
    return np.real(np.prod(np.linalg.eigvals(m)))


def eig_through_vectors(m):
    w, v = np.linalg.eig(m)
    return np.real(np.sum(w * np.array([1.0, 2.0, 3.0]))) + np.sum(np.real(v) ** 2)


_REPEATED = np.array([[1.0, 0.0, 0.3], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", [eig_square_sum, eig_product])
@pytest.mark.parametrize("m", [np.eye(3), _REPEATED], ids=["identity", "repeated"])
def test_eigvals_at_a_repeated_eigenvalue(f, m, mode):
    check_grads_fd(f, (m,), (0,), (np.reshape(_grads(f, (m,), mode), m.shape),), rtol=1e-4)


def test_eig_distinct_eigenvalues_unchanged():
    m = np.array([[2.0, 0.3, 0.1], [0.2, 1.0, 0.4], [0.0, 0.1, -1.0]])
    for mode in MODES:
        g = np.reshape(_grads(eig_through_vectors, (m,), mode), m.shape)
        check_grads_fd(eig_through_vectors, (m,), (0,), (g,), rtol=1e-4)
