"""review74: ordinary code that was refused, or that left the user's data differently from a
plain call; each case checked against central finite differences (tests/oracles.py)."""

import copy

import numpy as np
import pytest

import sourcediff as sd
from tests.oracles import check_grads_fd

X = np.array([0.7, -1.3])
MODES = ("reverse", "forward")


def _grad(f, wrt, mode, **kw):
    return sd.grad(f, wrt=wrt, mode=mode, **kw)


# ---------------------------------------------------------------- a given list appended to
#
# f(L, x) appends to L in a plain call and in forward mode; a reverse gradient call left L as it
# was (its adjoint sweep popped the item again). The sweep now undoes the appends on a copy.

def appends_to_given(L, x):
    L.append(x * 2.0)
    return np.sum(L[-1] ** 2) + np.sum(L[0] * x)


def appends_in_a_loop(L, x):
    for i in range(3):
        L.append(x * (i + 1.0))
    return np.sum(L[-1] ** 2) + np.sum(L[1] * L[0])


def pops_from_given(L, x):
    a = L.pop()
    return np.sum(a * x ** 2)


def appends_to_a_held_list(ls, x):
    inner = ls[0]
    inner.append(x * 3.0)
    return np.sum(inner[-1] ** 2) + np.sum(inner[0] * x)


def _lists(f):
    if f is appends_to_a_held_list:
        return [[np.array([0.5, 0.25])]]
    return [np.array([0.5, 0.25]), np.array([1.5, -0.5])]


def _shapes(tree):
    return [_shapes(t) if isinstance(t, list) else np.asarray(t).tolist() for t in tree]


@pytest.mark.parametrize("mode", MODES + ("hessian",))
@pytest.mark.parametrize("f", [appends_to_given, appends_in_a_loop, pops_from_given,
                               appends_to_a_held_list])
def test_a_given_list_ends_as_a_plain_call_leaves_it(f, mode):
    plain = _lists(f)
    f(plain, X.copy())
    given = _lists(f)
    if mode == "hessian":
        sd.hessian(f, wrt=1)(given, X.copy())
    else:
        g = _grad(f, 1, mode)(given, X.copy())
        check_grads_fd(f, (_lists(f), X.copy()), (1,), (g,))
    assert _shapes(given) == _shapes(plain)


def returns_a_list_it_built(x):
    L = []
    L.append(x * 2.0)
    return np.sum(L[-1] ** 2), L


def test_a_list_built_and_returned_as_aux_keeps_its_items():
    g, aux = sd.grad(returns_a_list_it_built, has_aux=True)(X.copy())
    check_grads_fd(lambda x: returns_a_list_it_built(x)[0], (X.copy(),), (0,), (g,))
    assert len(aux) == 1 and np.array_equal(aux[0], X * 2.0)


# ---------------------------------------------------------------- a write through another name
#
# A gradient call runs a function that writes into its argument on a copy, and warns at the
# write (tests/test_review34.py); a write through a name bound to the argument (ys = xs) or to
# a part of it basic indexing reads in place (row = xs[0]) was copied as well, silently.

def writes_through_a_bound_name(xs, w):
    ys = xs
    ys[:] = 0.5
    return np.sum(w * ys ** 2)


def writes_through_an_item(xs, w):
    row = xs[0]
    row[0] = 5.0
    return np.sum(w * row)


def writes_through_a_bound_dict(d, w):
    e = d
    e["k"] = 3.0
    return np.sum(w * e["k"])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f, make, line", [
    (writes_through_a_bound_name, lambda: np.ones(2), "ys[:] = 0.5"),
    (writes_through_an_item, lambda: [np.ones(2)], "row[0] = 5.0"),
    (writes_through_a_bound_dict, lambda: {"k": 1.0}, 'e["k"] = 3.0')])
def test_a_write_through_another_name_warns_at_the_write(f, make, line, mode):
    sd.clear_cache()
    given = make()
    with pytest.warns(sd.SourcediffWarning, match=r"(?s)writes into its argument .*"
                                                  + line.replace("[", r"\[").replace("]", r"\]")):
        g = _grad(f, 1, mode)(given, X.copy())
    check_grads_fd(f, (make(), X.copy()), (1,), (g,))
    assert repr(given) == repr(make())  # (as the warning says: the value passed keeps its own)


# ---------------------------------------------------------------- a nested list appended to
#
# mutated_params missed a list a parameter holds, appended to through a name (inner = ls[0];
# inner.append(v)): the caller took the helper as writing nothing, gave it a copy, and read ls
# back without the appended item, a silent wrong gradient. The helper is now seen writing into
# ls (the caller refuses the later read, as it does for ls[0].append(v)); a list made new from
# another's items (list(ws), [ws[0]]) grows alone.

def _appends_through_an_item(ls, v):
    inner = ls[0]
    inner.append(v * 2.0)
    return 0.0


def _appends_to_a_new_list(ws, v):
    acc = list(ws)
    acc.append(v)
    more = [ws[0]]
    more.append(v)
    return acc, more


def reads_back_what_a_helper_appended(x):
    ls = [[x]]
    _appends_through_an_item(ls, x)
    return np.sum(ls[0][-1] ** 2) + np.sum(ls[0][0])


def test_mutated_params_follows_an_item_appended_to():
    from sourcediff.compiler.alias import mutated_params
    assert set(mutated_params(_appends_through_an_item)) == {"ls"}
    assert mutated_params(_appends_to_a_new_list) == {}


@pytest.mark.parametrize("mode", MODES)
def test_a_read_back_of_what_a_helper_appended_is_refused_not_wrong(mode):
    with pytest.raises(sd.AliasError, match=r"(?s)test_review74.py:\d+.*"
                                            r"_appends_through_an_item\(ls, x\).*writes into"):
        _grad(reads_back_what_a_helper_appended, 0, mode)(X.copy())


# ---------------------------------------------------------------- refused ordinary code
#
# dict(d) and {**d} of a dict holding values that carry a derivative were refused (no rule for
# dict; ** unpacking in a dict display): both are now the comprehension over d's pairs
# (runtime.dict_pairs), later keys winning as in Python.

def copies_a_dict(x):
    d = {"w": x * 2.0, "b": x}
    e = dict(d)
    f = {**d}
    return np.sum(e["w"] ** 2) + np.sum(f["b"] * e["b"])


def merges_dicts(x):
    d = {"w": x * 2.0, "b": x}
    e = {**d, "w": np.sin(x), **{"c": x ** 3}}
    f = dict(d, b=x * 5.0)
    g = dict([("a", x), ("b", 2.0 * x)])
    return np.sum(e["w"] * e["b"] * e["c"]) + np.sum(f["b"] * f["w"]) + np.sum(g["a"] * g["b"])


def copies_a_dict_given(p, x):
    q = {**p, "b": x}
    q["w"] = q["w"] * 3.0
    return np.sum(q["w"] ** 2 * q["b"]) + np.sum(p["w"])


@pytest.mark.parametrize("mode", MODES + ("hessian",))
@pytest.mark.parametrize("f", [copies_a_dict, merges_dicts])
def test_dict_of_a_dict_and_its_unpacking(f, mode):
    if mode == "hessian":
        H = sd.hessian(f)(X.copy())
        for i in range(2):
            check_grads_fd(lambda x: sd.grad(f)(x)[i], (X.copy(),), (0,), (H[i],))
        return
    check_grads_fd(f, (X.copy(),), (0,), (_grad(f, 0, mode)(X.copy()),))


@pytest.mark.parametrize("mode", MODES)
def test_a_dict_given_copied_with_unpacking_keeps_its_values(mode):
    p = {"w": np.array([0.3, 0.9])}
    g = _grad(copies_a_dict_given, (0, 1), mode)(p, X.copy())
    check_grads_fd(lambda w, x: copies_a_dict_given({"w": w}, x), (p["w"].copy(), X.copy()),
                   (0, 1), (g[0]["w"], g[1]))
    assert np.array_equal(p["w"], [0.3, 0.9])  # ({**p} is a new dict: p keeps its value)


# ---------------------------------------------------------------- a user's power kept as written
#
# compiler/optimize.py wrote every x ** 2 as x * x, the user's own power too: an object of a
# class with __pow__ and no __mul__ then failed with "unsupported operand type(s) for *". The
# user's t = a ** 2 now stays; the rules' powers (g * 2 * x ** 1) are still written out.

class _Squares:
    def __init__(self, v):
        self.v = v

    def __pow__(self, n):
        return _Squares(self.v ** n)


def powers_an_object(o, x):
    s = o ** 2
    return np.sum(s.v * x ** 2)


@pytest.mark.parametrize("mode", MODES)
def test_a_power_of_an_object_with_pow_and_no_mul(mode):
    o = _Squares(np.array([1.5, -0.5]))
    g = _grad(powers_an_object, 1, mode)(o, X.copy())
    check_grads_fd(powers_an_object, (o, X.copy()), (1,), (g,))
    src = sd.source(_grad(powers_an_object, 1, mode))
    assert " = o ** 2\n" in src  # (the user's power as written; the gradient's rule as products)
    assert mode == "forward" or "_pow1_bar * 2 * x" in src


# ---------------------------------------------------------------- numpy functions without rules
#
# np.ldexp, a ufunc's outer (np.multiply.outer, np.add.outer, ...) and np.vectorize of a ufunc
# were refused (no rule; np.sin's source cannot be read). ldexp has a rule (rule_cases.py), the
# outers are written in numpy (runtime/written.py), and np.vectorize(u) of a ufunc runs as u.

def uses_ldexp(x):
    return np.sum(np.ldexp(x, np.array([1, -2])) ** 2) + np.sin(np.ldexp(float(x[0]), 3))


def uses_outers(x, y):
    return np.sum(np.sin(np.multiply.outer(x, y)) + np.add.outer(x, y) ** 2 +
                  np.subtract.outer(x, y) / np.divide.outer(x, y + 2.0))


_VSIN = np.vectorize(np.sin)


def uses_vectorized_ufuncs(x):
    vcos = np.vectorize(np.cos)
    return np.sum(_VSIN(x) ** 2 * vcos(x))


Y = np.array([0.2, 0.5, -0.4])


@pytest.mark.parametrize("mode", MODES + ("hessian",))
@pytest.mark.parametrize("f, args, wrt", [(uses_ldexp, (X,), (0,)),
                                          (uses_outers, (X, Y), (0, 1)),
                                          (uses_vectorized_ufuncs, (X,), (0,))])
def test_ldexp_ufunc_outers_and_vectorized_ufuncs(f, args, wrt, mode):
    if mode == "hessian":
        if f is uses_vectorized_ufuncs:
            pytest.skip("second order through np.vectorize: refused by name, not followed")
        H = sd.hessian(f, wrt=0)(*copy.deepcopy(args))
        for i in range(2):
            check_grads_fd(lambda *a: sd.grad(f, wrt=0)(*a)[i], copy.deepcopy(args), (0,),
                           (H[i],))
        return
    g = _grad(f, wrt if len(wrt) > 1 else wrt[0], mode)(*copy.deepcopy(args))
    check_grads_fd(f, copy.deepcopy(args), wrt, g if len(wrt) > 1 else (g,))


# ---------------------------------------------------------------- np.put_along_axis
#
# np.put_along_axis into a copy (y = x.copy()) was refused with "x holds its array": it is now
# the subscript store it stands for, y[positions] = np.broadcast_to(v, ...), as np.put is.

W2 = np.array([[0.3, 1.2, -0.7], [0.5, -0.2, 0.9]])


def puts_along_axes(w):
    y = w * 2.0
    np.put_along_axis(y, np.array([[2], [0]]), np.array([[1.0], [3.0]]) * w[:, :1], axis=1)
    np.put_along_axis(y, np.array([4, -1]), w[0, 1], axis=None)
    z = w.copy()
    np.put_along_axis(z, np.array([[1, 0, 1]]), w[1] * 5.0, axis=0)
    return np.sum(y ** 2 * w) + np.sum(z * w)


@pytest.mark.parametrize("mode", MODES + ("hessian",))
def test_put_along_axis_into_a_copy(mode):
    if mode == "hessian":
        H = sd.hessian(puts_along_axes)(W2.copy())
        check_grads_fd(lambda w: sd.grad(puts_along_axes)(w)[1, 2], (W2.copy(),), (0,),
                       (H[1, 2],))
        return
    g = _grad(puts_along_axes, 0, mode)(W2.copy())
    check_grads_fd(puts_along_axes, (W2.copy(),), (0,), (g,))
