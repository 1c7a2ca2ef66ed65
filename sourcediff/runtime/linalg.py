"""Linear algebra: the gradients and tangents of ``np.linalg`` (solve, svd, eigh, eig,
cholesky, qr, pinv, lstsq, matrix_power, multi_dot). Inputs are assumed inside the domain of the
formula (distinct eigen/singular values, full rank); options a formula does not cover raise
NotImplementedError instead of giving a wrong gradient."""

import functools

import numpy as np

from .accumulate import GradList, _items, _refuse, grad_items, is_zero_grad
from .elementwise import prod_others
from .sequences import _named
from .shapes import inexact, shape, unbroadcast

__all__ = [
    "solve_vector", "solve_grads", "solve_tangent_a", "solve_grads_adjoint", "solve_grads_tangent",
    "solve_grads_tangent_checked", "phi_mask", "eye_like", "dense_items", "svd_grad", "svd_tangent",
    "eigh_tangent", "eigvalsh_grad", "eigvalsh_tangent", "cholesky_grad", "cholesky_tangent",
    "qr_grad", "qr_tangent", "refuse_if", "pinv_tangent", "lstsq_grads", "lstsq_tangent",
    "matrix_power_grad", "matrix_power_tangent", "multi_dot_grads", "multi_dot_tangent", "eig_grad",
    "eig_tangent", "degenerate_nan", "cofactor", "cond_sign"
]


_NUMPY2 = int(np.__version__.split(".")[0]) >= 2


def solve_vector(a, b):
    """True when ``np.linalg.solve(a, b)`` reads ``b`` as a vector (or a stack of them): numpy 2 only
    when b is 1-D, numpy 1 whenever b has one dimension fewer than a."""
    nb = len(shape(b))
    return nb == 1 if _NUMPY2 else nb == len(shape(a)) - 1


def solve_grads(g, ans, a, b):
    """Gradients of ``x = np.linalg.solve(a, b)`` with respect to ``a`` and ``b``."""
    at = np.swapaxes(a, -1, -2)
    if solve_vector(a, b):
        gb = np.linalg.solve(at, np.asarray(g)[..., None])[..., 0]
        ga = -gb[..., :, None] * np.asarray(ans)[..., None, :]
    else:
        gb = np.linalg.solve(at, g)
        ga = -gb @ np.swapaxes(ans, -1, -2)
    return unbroadcast(ga, a), unbroadcast(gb, b)


def solve_tangent_a(t, ans, a, b):
    """The tangent of solve(a, b) due to a tangent ``t`` of ``a`` (None if ``t`` is not a-shaped)."""
    if shape(t) != shape(a):
        return None
    if solve_vector(a, b):
        tx = np.matmul(t, np.asarray(ans)[..., None])
        return -np.linalg.solve(a, tx)[..., 0]
    return -np.linalg.solve(a, t @ ans)


def _solve_forms(g, ans, a, b):
    """solve_grads' operands with a vector right-hand side as one-column matrices."""
    vector = solve_vector(a, b)
    gm = np.asarray(g)[..., None] if vector else np.asarray(g)
    xm = np.asarray(ans)[..., None] if vector else np.asarray(ans)
    gb = np.linalg.solve(np.swapaxes(a, -1, -2), gm)
    return vector, xm, gb


def solve_grads_adjoint(c, g, ans, a, b):
    """The adjoint of ``solve_grads(g, ans, a, b)`` for the cotangent pair ``c`` of its results
    (an entry 0.0 or None when missing): the tuple ``(g_bar, ans_bar, a_bar)``."""
    ca, cb = grad_items(c, 2)
    vector, xm, gb = _solve_forms(g, ans, a, b)
    rhs = np.zeros(gb.shape)
    if cb is not None:
        rhs = rhs + (np.asarray(cb)[..., None] if vector else cb)
    ans_bar = np.zeros(xm.shape)
    if ca is not None:
        rhs = rhs - ca @ xm
        ans_bar = -(np.swapaxes(ca, -1, -2) @ gb)
    z = np.linalg.solve(a, np.broadcast_to(rhs, gb.shape))
    a_bar = -(gb @ np.swapaxes(z, -1, -2))
    if vector:
        z, ans_bar = z[..., 0], ans_bar[..., 0]
    return unbroadcast(z, g), unbroadcast(ans_bar, ans), unbroadcast(a_bar, a)


def solve_grads_tangent(g_dot, ans_dot, a_dot, g, ans, a, b):
    """The tangent of ``solve_grads(g, ans, a, b)`` for tangents of g, ans and a (0.0 for none),
    as a GradList ``(ga_dot, gb_dot)``."""
    vector, xm, gb = _solve_forms(g, ans, a, b)
    rhs = np.zeros(gb.shape)
    if not is_zero_grad(g_dot):
        rhs = rhs + (np.asarray(g_dot)[..., None] if vector else g_dot)
    if not is_zero_grad(a_dot):
        rhs = rhs - np.swapaxes(a_dot, -1, -2) @ gb
    gb_dot = np.linalg.solve(np.swapaxes(a, -1, -2), np.broadcast_to(rhs, gb.shape))
    ga_dot = -(gb_dot @ np.swapaxes(xm, -1, -2))
    if not is_zero_grad(ans_dot):
        xm_dot = np.asarray(ans_dot)[..., None] if vector else ans_dot
        ga_dot = ga_dot - gb @ np.swapaxes(xm_dot, -1, -2)
    if vector:
        gb_dot = gb_dot[..., 0]
    return GradList((unbroadcast(ga_dot, a), unbroadcast(gb_dot, b)))


def solve_grads_tangent_checked(g_dot, ans_dot, a_dot, g, ans, a, b):
    """``solve_grads_tangent``, or None when a given tangent is not shaped like its argument."""
    for dot, value in ((g_dot, g), (ans_dot, ans), (a_dot, a)):
        if not is_zero_grad(dot) and shape(dot) != shape(value):
            return None
    return solve_grads_tangent(g_dot, ans_dot, a_dot, g, ans, a, b)


# ---------------------------------------------------------------- np.linalg beyond solve


def _T(x):
    return np.swapaxes(x, -1, -2)


def cofactor(a):
    """The cofactor matrix of ``a`` (of each matrix of a batch): d det(a) / da, det(a) inv(a)^T.
    Where a matrix is singular (inv fails, or gives inf) it comes from the SVD a = U S Vh as
    det(U) det(Vh) U diag(products of the other singular values) Vh: the cofactors of a matrix
    of rank n - 1 are not all 0, and JAX's det gives them."""
    a = np.asarray(a)
    with np.errstate(all="ignore"):
        try:
            out = np.linalg.det(a)[..., None, None] * _T(np.linalg.inv(a))
            if np.all(np.isfinite(out)) or not np.all(np.isfinite(a)):
                return out
        except np.linalg.LinAlgError:
            pass
    u, s, vh = np.linalg.svd(a)
    sign = np.linalg.det(u) * np.linalg.det(vh)
    return sign[..., None, None] * (u * prod_others(s, -1)[..., None, :]) @ vh


def degenerate_nan(gap, v, gv):
    """nan where two distinct positions i != j have a zero eigenvalue gap (w_j - w_i) and the
    eigenvector gradient ``c = v.T @ gv`` is not 0 there, else 0: what a repeated eigenvalue
    contributes to eigh's gradient. A symmetric c there is not enough: the term is the limit of
    (c_ij - c_ji) / (w_j - w_i) as the pair splits, which values at the tie do not tell (the
    reconstruction ``(v * w) @ v.T`` has c symmetric there and a limit that is not 0, and got 0:
    review38); only c = 0 there (eigenvalues alone, ``sum(v**2 @ w)``) makes it 0."""
    c = _T(v) @ gv
    bad = (gap == 0) & ~np.eye(np.shape(gap)[-1], dtype=bool) & ((c != 0) | (_T(c) != 0))
    return np.where(bad, np.nan, 0.0)


def _tie_inverse(d, c, parts=None):
    """``F * c`` with F[..., i, j] = 1 / (d_j - d_i) off the diagonal: 0 where the pair ties
    (d_j == d_i) and c is 0 there, nan where it ties and c is not (no derivative exists, or one
    that values at the tie do not tell). ``c = parts - parts.T`` in svd's gradient: there
    ``parts`` must be 0 at the tie too (c is 0 at every tie of such a difference, and the limit of
    c / (d_j - d_i) as the pair splits need not be: ``(u * s**2) @ u.T`` got 0 there, review38)."""
    diff = d[..., None, :] - d[..., :, None]
    tie = diff == 0
    f = np.where(tie, 0.0, 1.0 / np.where(tie, 1.0, diff))
    n = np.shape(d)[-1]
    seen = (c != 0) if parts is None else (parts != 0) | (_T(parts) != 0)
    return f * c + np.where(tie & ~np.eye(n, dtype=bool) & seen, np.nan, 0.0)


def _diag(d):
    return d[..., :, None] * np.eye(d.shape[-1])


def _phi(x, lower=True):
    """The lower (upper) triangle of ``x`` with its diagonal halved."""
    tri = np.tril(x) if lower else np.triu(x)
    return tri - 0.5 * _diag(np.diagonal(x, axis1=-2, axis2=-1))


def _one_triangle(s, lower=True):
    """The gradient with respect to the entries of one triangle of a matrix that a function reads
    as symmetric, from the gradient ``s`` with respect to symmetric perturbations."""
    return _phi(s + _T(s), lower)


def _seen_symmetric(t, lower=True):
    """The symmetric matrix a function sees when it reads one triangle of ``t``."""
    tri = np.tril(t) if lower else np.triu(t)
    return tri + _T(tri) - _diag(np.diagonal(t, axis1=-2, axis2=-1))


def _zero_or(x, like):
    return np.zeros(np.shape(like)) if x is None else np.asarray(x, dtype=float)


def phi_mask(x, lower=True):
    """1 below (above, for lower=False or "U") the diagonal of the last two axes of ``x``, 0.5 on
    it, 0 elsewhere: multiplying by it takes one triangle with the diagonal halved."""
    n = np.shape(x)[-1]
    low = lower is True or (isinstance(lower, str) and lower.upper() == "L")
    ones = np.tril(np.ones((n, n)), -1) if low else np.triu(np.ones((n, n)), 1)
    return ones + 0.5 * np.eye(n)


def eye_like(w):
    """The identity matrix as wide as the last axis of ``w``."""
    return np.eye(np.shape(w)[-1])


def dense_items(g, ans):
    """The gradient of a tuple result as a tuple of arrays (zeros for missing elements)."""
    return tuple(np.zeros(np.shape(a)) if item is None else item
                 for item, a in zip(_items(g, len(ans)), ans))


def svd_grad(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    """The gradient of np.linalg.svd (reduced factors; distinct nonzero singular values)."""
    if hermitian:
        _refuse("np.linalg.svd with hermitian=True")
    m, n = np.shape(a)[-2:]
    if not compute_uv:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return (np.matmul(u * np.asarray(g, dtype=float)[..., None, :], vh),)
    gu, gs, gvh = _items(g, 3)
    if full_matrices and m != n:
        if np.any(_zero_or(gu, ())) or np.any(_zero_or(gvh, ())):  # (U's extra columns, Vh's rows)
            _refuse("the factors of np.linalg.svd of a non-square matrix with full_matrices=True "
                    "(pass full_matrices=False)")
        u, s, vh = np.linalg.svd(a, full_matrices=False)  # only s is used
        return (np.matmul(u * np.asarray(gs, dtype=float)[..., None, :], vh),)
    u, s, vh = ans
    gu, gs, gvh = _zero_or(gu, u), _zero_or(gs, s), _zero_or(gvh, vh)
    v, gv = _T(vh), _T(gvh)
    # a factor whose gradient is zero adds nothing (its terms divide by gaps and singular values,
    # inf at a tie or a zero one: PyTorch and JAX skip them too)
    inner, out = _diag(gs), 0.0
    if np.any(gu):
        ug = _T(u) @ gu
        inner = inner + _tie_inverse(s * s, ug - _T(ug), ug) * s[..., None, :]
        out = out + (gu - u @ (_T(u) @ gu)) @ (vh / s[..., :, None])
    if np.any(gvh):
        vg = _T(v) @ gv
        inner = inner + s[..., :, None] * _tie_inverse(s * s, vg - _T(vg), vg)
        out = out + (u / s[..., None, :]) @ (_T(gv) - (_T(gv) @ v) @ vh)
    return (u @ inner @ vh + out,)


def svd_tangent(t, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    """The tangent of np.linalg.svd's result for a tangent ``t`` of ``a``."""
    if hermitian:
        _refuse("np.linalg.svd with hermitian=True")
    m, n = np.shape(a)[-2:]
    if not compute_uv:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return np.diagonal(_T(u) @ t @ _T(vh), axis1=-2, axis2=-1)
    if full_matrices and m != n:
        _refuse("np.linalg.svd of a non-square matrix with full_matrices=True (pass "
                "full_matrices=False)")
    u, s, vh = ans
    v = _T(vh)
    dp = _T(u) @ t @ v
    du = u @ _tie_inverse(s * s, dp * s[..., None, :] + s[..., :, None] * _T(dp))
    du = du + (t @ v - u @ (_T(u) @ t @ v)) / s[..., None, :]
    dv = v @ _tie_inverse(s * s, s[..., :, None] * dp + _T(dp) * s[..., None, :])
    dv = dv + (_T(t) @ u - v @ (vh @ _T(t) @ u)) / s[..., None, :]
    return _named([du, np.diagonal(dp, axis1=-2, axis2=-1), _T(dv)], ans)


def eigh_tangent(t, ans, a, UPLO="L"):
    """The tangent of np.linalg.eigh's (w, v) for a tangent ``t`` of ``a``."""
    w, v = ans
    c = _T(v) @ _seen_symmetric(t, UPLO.upper() == "L") @ v
    return _named([np.diagonal(c, axis1=-2, axis2=-1), v @ _tie_inverse(w, c)], ans)


def eigvalsh_grad(g, ans, a, UPLO="L"):
    """The gradient of np.linalg.eigvalsh (distinct eigenvalues)."""
    w, v = np.linalg.eigh(a, UPLO)
    return (_one_triangle(v @ _diag(np.asarray(g, dtype=float)) @ _T(v), UPLO.upper() == "L"), None)


def eigvalsh_tangent(t, ans, a, UPLO="L"):
    """The tangent of np.linalg.eigvalsh for a tangent ``t`` of ``a``."""
    w, v = np.linalg.eigh(a, UPLO)
    return np.diagonal(_T(v) @ _seen_symmetric(t, UPLO.upper() == "L") @ v, axis1=-2, axis2=-1)


def cholesky_grad(g, ans, a, upper=False):
    """The gradient of np.linalg.cholesky with respect to the triangle it reads."""
    low = _T(ans) if upper else ans
    gl = _T(g) if upper else np.asarray(g, dtype=float)
    p = _phi(_T(low) @ gl)
    s = np.linalg.solve(_T(low), _T(np.linalg.solve(_T(low), _T(p))))
    return (_one_triangle(s, not upper),)


def cholesky_tangent(t, ans, a, upper=False):
    """The tangent of np.linalg.cholesky for a tangent ``t`` of ``a``."""
    low = _T(ans) if upper else ans
    seen = _seen_symmetric(t, not upper)
    c = np.linalg.solve(low, _T(np.linalg.solve(low, _T(seen))))
    dl = low @ _phi(c)
    return _T(dl) if upper else dl


def _qr_check(a, mode):
    m, n = np.shape(a)[-2:]
    if mode not in ("reduced", "r") and not (mode == "complete" and m == n):
        _refuse(f"np.linalg.qr with mode={mode!r}")
    if m < n:
        _refuse("np.linalg.qr of a wide matrix (more columns than rows)")


def qr_grad(g, ans, a, mode="reduced"):
    """The gradient of np.linalg.qr (reduced, full column rank, rows >= columns)."""
    _qr_check(a, mode)
    if mode == "r":
        q, r = np.linalg.qr(a)
        gq, gr = np.zeros(np.shape(q)), np.asarray(g, dtype=float)
    else:
        q, r = ans
        gq, gr = _items(g, 2)
        gq, gr = _zero_or(gq, q), _zero_or(gr, r)
    mm = _T(q) @ gq - gr @ _T(r)
    b = gr @ _T(r) + np.tril(mm - _T(mm), -1)
    left = gq - q @ (_T(q) @ gq) + q @ b
    return (_T(np.linalg.solve(r, _T(left))),)


def qr_tangent(t, ans, a, mode="reduced"):
    """The tangent of np.linalg.qr's (q, r) for a tangent ``t`` of ``a``."""
    _qr_check(a, mode)
    q, r = np.linalg.qr(a) if mode == "r" else ans
    ta_rinv = _T(np.linalg.solve(_T(r), _T(t)))  # t r^-1
    x = _T(q) @ ta_rinv
    low = np.tril(x, -1)
    omega = low - _T(low)
    dr = (x - omega) @ r
    if mode == "r":
        return dr
    dq = ta_rinv - q @ x + q @ omega
    return _named([dq, dr], ans)


def _pinv_vjp(gx, x, a):
    m, n = np.shape(a)[-2:]
    pa = np.eye(m) - a @ x
    px = np.eye(n) - x @ a
    return -_T(x) @ gx @ _T(x) + pa @ _T(gx) @ x @ _T(x) + _T(x) @ x @ _T(gx) @ px


def _pinv_jvp(t, x, a):
    m, n = np.shape(a)[-2:]
    pa = np.eye(m) - a @ x
    px = np.eye(n) - x @ a
    return -x @ t @ x + x @ _T(x) @ _T(t) @ pa + px @ _T(t) @ _T(x) @ x


def refuse_if(value, flag, what):
    """``value``, or NotImplementedError naming ``what`` when ``flag`` is set."""
    if flag:
        _refuse(what)
    return value


def pinv_tangent(t, ans, a, rcond=None, hermitian=False, rtol=None):
    """The tangent of np.linalg.pinv for a tangent ``t`` of ``a`` (full rank)."""
    if hermitian:
        _refuse("np.linalg.pinv with hermitian=True")
    return _pinv_jvp(t, ans, a)


def _lstsq_setup(ans, a, b):
    x, res, rank, s = ans
    if rank != min(np.shape(a)):
        _refuse("np.linalg.lstsq of a rank-deficient matrix")
    vec = np.ndim(b) == 1
    # (np.multiply(v, 1.0), not np.asarray(v, float): on the tape's Tensors (create_graph) the
    # product is recorded, where np.asarray read b, x and g as constants and the second
    # derivative of lstsq missed their terms)
    bm = np.multiply(b, 1.0)
    xm = x[:, None] if vec else x
    bm = bm[:, None] if vec else bm
    return np.linalg.pinv(a), bm, xm, bm - a @ xm, vec, np.size(res) > 0


def lstsq_grads(g, ans, a, b, rcond=None):
    """The gradients (a, b, rcond) of np.linalg.lstsq (full rank): the solution, the residuals and
    the singular values all pass theirs on; the rank is locally constant."""
    gx, gres, _, gs = _items(g, 4)
    pinv, bm, xm, r, vec, has_res = _lstsq_setup(ans, a, b)
    ga, gb = np.zeros(np.shape(a)), np.zeros(np.shape(bm))
    if gx is not None:
        gxm = np.multiply(gx, 1.0)[:, None] if vec else np.multiply(gx, 1.0)
        ga = ga + _pinv_vjp(gxm @ _T(bm), pinv, a)
        gb = gb + _T(pinv) @ gxm
    if gres is not None and has_res:
        wr = r * np.multiply(gres, 1.0)[None, :]
        ga = ga - 2.0 * wr @ _T(xm)
        gb = gb + 2.0 * wr
    if gs is not None:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        ga = ga + (u * np.multiply(gs, 1.0)[None, :]) @ vh
    return (ga, gb[:, 0] if vec else gb, None)


def lstsq_tangent(t, ans, a, b, rcond=None, which=0):
    """The tangent of np.linalg.lstsq's (x, residuals, rank, s) for a tangent ``t`` of a (which=0)
    or b (which=1)."""
    x, res, rank, s = ans
    pinv, bm, xm, r, vec, has_res = _lstsq_setup(ans, a, b)
    if which == 0:
        dx = _pinv_jvp(t, pinv, a) @ bm
        dr = -t @ xm - a @ dx
        u, sv, vh = np.linalg.svd(a, full_matrices=False)
        ds = np.diagonal(_T(u) @ t @ _T(vh))
    else:
        tm = np.asarray(t, dtype=float)[:, None] if vec else np.asarray(t, dtype=float)
        dx = pinv @ tm
        dr = tm - a @ dx
        ds = np.zeros(np.shape(s))
    dres = 2.0 * np.sum(r * dr, axis=0) if has_res else np.zeros(np.shape(res))
    return GradList([dx[:, 0] if vec else dx, dres, 0.0, ds])


def _powers(a, n):
    out = [np.broadcast_to(np.eye(np.shape(a)[-1]), np.shape(a))]
    for _ in range(n - 1):
        out.append(out[-1] @ a)
    return out


def matrix_power_grad(g, ans, a, n):
    """The gradient of np.linalg.matrix_power(a, n) (through the inverse for n < 0)."""
    base = np.linalg.inv(a) if n < 0 else inexact(a)
    k = abs(int(n))
    if k == 0:
        return (np.zeros(np.shape(a)), None)
    p = _powers(base, k)
    gb = functools.reduce(np.add, (_T(p[i]) @ g @ _T(p[k - 1 - i]) for i in range(k)))
    if n < 0:
        gb = -_T(base) @ gb @ _T(base)
    return (gb, None)


def matrix_power_tangent(t, ans, a, n):
    """The tangent of np.linalg.matrix_power(a, n) for a tangent ``t`` of ``a``."""
    base = np.linalg.inv(a) if n < 0 else inexact(a)
    k = abs(int(n))
    if k == 0:
        return np.zeros(np.shape(a))
    tb = -base @ t @ base if n < 0 else t
    p = _powers(base, k)
    return functools.reduce(np.add, (p[i] @ tb @ p[k - 1 - i] for i in range(k)))


def _chain(mats):
    return functools.reduce(np.matmul, mats)


def _multi_dot_mats(arrays):
    mats = [inexact(x) for x in arrays]
    if mats[0].ndim == 1:
        mats[0] = mats[0][None, :]
    if mats[-1].ndim == 1:
        mats[-1] = mats[-1][:, None]
    return mats


def multi_dot_grads(g, arrays):
    """The gradients of np.linalg.multi_dot(arrays): a list, one per array."""
    if is_zero_grad(g):
        return GradList([0.0] * len(arrays))
    mats = _multi_dot_mats(arrays)
    gm = np.reshape(g, (mats[0].shape[0], mats[-1].shape[1]))
    out = []
    for i in range(len(mats)):
        left = _chain(mats[:i]) if i else np.eye(mats[0].shape[0])
        right = _chain(mats[i + 1:]) if i + 1 < len(mats) else np.eye(mats[-1].shape[1])
        out.append(np.reshape(_T(left) @ gm @ _T(right), np.shape(arrays[i])))
    return GradList(out)


def multi_dot_tangent(t, arrays):
    """The tangent of np.linalg.multi_dot(arrays) for tangents ``t`` (one per array, 0.0 for none)."""
    total = 0.0
    for i, ti in enumerate(t):
        if not is_zero_grad(ti):
            replaced = list(arrays)
            replaced[i] = np.broadcast_to(ti, np.shape(arrays[i]))
            total = total + np.linalg.multi_dot(replaced)
    return total


def _real_or_refuse(x):
    """``x`` as real numbers: newer numpy gives eig's results a complex dtype even where every
    imaginary part is 0; complex values proper are refused."""
    if np.iscomplexobj(x):
        if np.any(np.imag(x) != 0):
            _refuse("np.linalg.eig with complex eigenvalues (real distinct eigenvalues only)")
        return np.real(x)
    return x


def _eig_check(ans):
    w, v = ans
    return _real_or_refuse(w), _real_or_refuse(v)


def eig_grad(g, ans, a):
    """The gradient of np.linalg.eig for real distinct eigenvalues (unit-norm eigenvectors)."""
    w, v = _eig_check(ans)
    gw, gv = _items(g, 2)
    gw, gv = _zero_or(gw, w), _zero_or(gv, v)
    gw, gv = _real_or_refuse(gw), _real_or_refuse(gv)
    vtg = _T(v) @ gv
    h = vtg - (_T(v) @ v) * np.diagonal(vtg, axis1=-2, axis2=-1)[..., None, :]
    inner = _diag(gw) + _tie_inverse(w, h)
    return (np.linalg.solve(_T(v), inner @ _T(v)),)  # v^-T inner v^T


def eig_tangent(t, ans, a):
    """The tangent of np.linalg.eig's (w, v) for a tangent ``t`` of ``a``."""
    w, v = _eig_check(ans)
    c = np.linalg.solve(v, t @ v)
    x = v @ _tie_inverse(w, c)
    dv = x - v * np.sum(v * x, axis=-2)[..., None, :]
    return _named([np.diagonal(c, axis1=-2, axis2=-1), dv], ans)


def cond_sign(p):
    """The sign of the derivative of ``log np.linalg.cond(x, p)`` in ``log s_max - log s_min``: 1
    for p None or 2 (s_max / s_min), -1 for p=-2 (s_min / s_max); the norms' other p are refused."""
    if p is None or (not isinstance(p, str) and p == 2):
        return 1.0
    if not isinstance(p, str) and p == -2:
        return -1.0
    raise NotImplementedError(f"sourcediff has no derivative for np.linalg.cond with p={p!r} "
                              f"(only p=None, 2 or -2, the ratio of singular values)")
