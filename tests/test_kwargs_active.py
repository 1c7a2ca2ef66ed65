"""Values that carry derivatives passed through ``**kwargs``: a decorator's ``def wrapper(*args,
**kwargs): return fn(*args, **kwargs)`` called with a keyword argument, a helper collecting its
keywords, a call ``f(**d)`` of a dict that holds such values (a dict of parameters). These were
refused ("collects its arguments in **kwargs"); each is checked against finite differences in
reverse and forward mode, with the arguments unchanged."""

import copy
import functools

import numpy as np
import pytest

import sourcediff as sd

from .oracles import check_grads_fd


def logged(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


@logged
def layer(w, x, b=0.0, scale=1.0):
    return np.tanh(x @ w + b) * scale


def collect(**kwargs):  # (a helper whose keywords are all collected)
    return kwargs["a"] * np.sin(kwargs["b"]) + kwargs.get("c", 0.0)


def forward_all(*args, **kwargs):  # (a wrapper of a wrapper)
    return layer(*args, **kwargs)


def affine(x, w, b, shift=0):
    return x @ w + b + shift


X = np.array([[1.0, 2.0], [0.5, -1.0], [-0.3, 0.8]])


def keyword_through_a_decorator(w, b):
    return np.sum(layer(w, X, b=b) ** 2)


def two_keywords_through_a_decorator(w, b, s):
    return np.sum(layer(w, X, scale=s, b=b) ** 2)


def through_two_wrappers(w, b):
    return np.sum(forward_all(w, X, b=b) ** 2)


def a_dict_unpacked(w, b):
    kw = {"b": b, "scale": 2.0}
    return np.sum(layer(w, X, **kw) ** 2)


def a_dict_parameter(params):  # (the parameters as a dict, passed on as keywords)
    return np.sum(affine(X, **params) ** 2)


def a_dict_with_an_integer(params):
    opts = {"w": params["w"], "b": params["b"], "shift": 3}
    return np.sum(np.tanh(logged(affine)(X, **opts)))


def every_keyword_collected(a, b):
    return np.sum(collect(a=a, b=b, c=a * b))


def collected_through_a_wrapper(a, b):
    return np.sum(logged(collect)(a=a, b=b))


W, B = np.array([0.5, -0.3]), 0.2
CASES = [
    (keyword_through_a_decorator, (W, B)),
    (two_keywords_through_a_decorator, (W, B, 1.5)),
    (through_two_wrappers, (W, np.array([0.1, -0.2, 0.3]))),
    (a_dict_unpacked, (W, B)),
    (a_dict_parameter, ({"w": W, "b": np.array([0.3, 0.1, -0.2])},)),
    (a_dict_with_an_integer, ({"w": W, "b": np.array([0.3, 0.1, -0.2])},)),
    (every_keyword_collected, (np.array([0.4, 1.3]), np.array([-0.7, 0.2]))),
    (collected_through_a_wrapper, (np.array([0.4, 1.3]), np.array([-0.7, 0.2]))),
]


def _flat(tree):
    if isinstance(tree, dict):
        return [v for k in sorted(tree) for v in _flat(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [v for item in tree for v in _flat(item)]
    return [tree]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_gradient_matches_finite_differences(fn, args, mode):
    before = copy.deepcopy(args)
    wrt = tuple(range(len(args)))
    if mode == "forward" and isinstance(args[0], dict):
        pytest.skip("forward mode takes arrays and floats")
    grads = sd.grad(fn, wrt=wrt, mode=mode)(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    if isinstance(args[0], dict):
        params = args[0]
        keys = sorted(params)

        def flat_fn(*leaves):
            return fn(dict(zip(keys, leaves)))

        check_grads_fd(flat_fn, tuple(params[k] for k in keys), tuple(range(len(keys))),
                       tuple(grads[0][k] for k in keys))
    else:
        check_grads_fd(fn, args, wrt, grads)
    for a, b in zip(_flat(list(args)), _flat(list(before))):
        np.testing.assert_array_equal(a, b)


def test_a_keyword_given_twice_is_python_s_type_error():
    def twice(w, b):
        kw = {"b": b}
        return np.sum(forward_all(w, X, b=b, **kw))

    def in_two_dicts(w, b):
        return np.sum(forward_all(w, X, **{"b": b}, **{"b": b * 2.0}))

    for fn in (twice, in_two_dicts):
        with pytest.raises(TypeError, match="multiple values for keyword argument 'b'"):
            fn(W, B)
        with pytest.raises(TypeError, match="multiple values for keyword argument 'b'"):
            sd.grad(fn)(W, B)


def test_hessian_through_a_helper_collecting_its_keywords():
    a, b = np.array([0.4, 1.3]), np.array([-0.7, 0.2])
    h = sd.hessian(every_keyword_collected, wrt=1)(a, b)
    g = sd.grad(every_keyword_collected, wrt=1)
    eps = 1e-6
    fd = np.array([(g(a, b + eps * e) - g(a, b - eps * e)) / (2 * eps) for e in np.eye(2)])
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-8)


def test_second_derivative_through_a_wrapper_s_call_is_refused_clearly():
    with pytest.raises(sd.SourcediffError, match="first derivatives only"):
        sd.hessian(keyword_through_a_decorator, wrt=0)(W, B)


def writes_an_entry(**kw):
    kw["a"][0] = 0.0  # (into the caller's array)
    return np.sum(kw["a"] * kw["b"])


def rebinds_an_entry(**kw):
    kw["a"] = kw["a"] * 3.0  # (the dict is the helper's own: the caller sees nothing)
    return np.sum(kw["a"] * kw["b"])


def array_written_then_dropped(a, b):
    c = a * 2.0
    return writes_an_entry(a=c, b=b)


def entry_rebound(a, b):
    c = a * 2.0
    y = rebinds_an_entry(a=c, b=b)
    return y + np.sum(c ** 2)


def array_written_then_read(a, b):
    c = a * 2.0
    y = writes_an_entry(a=c, b=b)
    return y + np.sum(c ** 2)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn", [array_written_then_dropped, entry_rebound])
def test_a_helper_writing_what_its_kwargs_hold(fn, mode):
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    check_grads_fd(fn, (a, b), (0, 1), sd.grad(fn, wrt=(0, 1), mode=mode)(a, b))


def test_a_helper_writing_into_an_array_its_caller_reads_later_is_refused():
    # (numpy's write into c shows in the caller's sum; the gradient ignored it before the
    # alias check saw what **kw collects: 5.80 against finite differences 5.11)
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    with pytest.raises(sd.errors.AliasError, match="writes_an_entry writes into its parameter kw"):
        sd.grad(array_written_then_read, wrt=(0, 1))(a, b)


def named_parameters(a, b):
    return a * 2.0 + np.sin(b)


def from_two_dicts(w):  # (the first dict's value was left out: its gradient 0)
    d = {"a": w[0]}
    e = {"b": w[1] ** 2}
    return named_parameters(**d, **e)


def two_dicts_collected(w):
    d = {"a": w[0]}
    e = {"b": w[1] ** 2}
    return collect(**d, **e, c=w[0] * w[1])


def two_dicts_through_a_wrapper(w):
    d = {"a": w[0]}
    e = {"b": w[1] ** 2}
    return logged(named_parameters)(**d, **e)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn", [from_two_dicts, two_dicts_collected,
                                two_dicts_through_a_wrapper])
def test_every_dict_of_a_call_with_two_unpacked(fn, mode):
    # (the resolver kept one ** value per call, the last: the names in the first did not flow
    # into the result, which gave w[0] a gradient of 0 against finite differences 2)
    w = np.array([0.5, -0.3])
    check_grads_fd(fn, (w,), (0,), (sd.grad(fn, mode=mode)(w),))


def entry_written_through_a_dict(a, b):
    c = a * 2.0
    d = {"a": c, "b": b}
    return writes_an_entry(**d) + np.sum(c ** 2)


def test_a_helper_writing_what_a_dict_unpacked_into_it_holds_is_refused_with_its_line():
    # (the message named a call with *args, and no file)
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    line = writes_an_entry.__code__.co_firstlineno + 1
    with pytest.raises(sd.SourcediffError, match=rf"test_kwargs_active.py:{line}: "
                       r"writes_an_entry writes into its parameter kw in place, and it is called "
                       r"with \*args or \*\*kwargs"):
        sd.grad(entry_written_through_a_dict, wrt=(0, 1))(a, b)


def pair_product(ws, n):
    return np.sum(ws[0] * ws[1]) * n


def collected_pair(**kw):
    return np.sum(kw["ws"][0] * kw["ws"][1]) * kw["n"]


def a_list_of_an_array_and_an_int_in_a_dict(w):
    d = {"ws": [w, 2], "n": 3}
    return pair_product(**d) + collected_pair(**d)


def a_list_of_an_array_and_an_int_in_star_args(w):
    args = ([w, 2], 3)
    return pair_product(*args)


def labelled(**kw):
    return np.sum(kw["ws"][0] ** 2) * len(kw["ws"][1]) * kw["n"]


def a_list_of_an_array_and_a_string(w):
    d = {"ws": [w * 2.0, "ab"], "n": 3}
    return labelled(**d)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("fn", [a_list_of_an_array_and_an_int_in_a_dict,
                                a_list_of_an_array_and_an_int_in_star_args,
                                a_list_of_an_array_and_a_string])
def test_an_item_holding_a_float_array_beside_an_int(fn, mode):
    # (an entry or starred item whose leaves were not all floats was passed on as it is, its
    # array's derivative dropped: 0 against finite differences 7.0)
    w = np.array([0.5, -0.3])
    check_grads_fd(fn, (w,), (0,), (sd.grad(fn, mode=mode)(w),))


def weighted_by_name(**kw):
    t = 0.0
    for k in sorted(kw):
        t = t + np.sum(kw[k] ** 2) * len(k)
    return t


def keywords_iterated_by_name(w):
    return weighted_by_name(a=w, bb=np.sin(w), ccc=w[0])


def test_hessian_through_a_loop_over_the_sorted_keys_of_kwargs():
    # (sorted(d)'s tangent for a dict was the scalar 0.0, which the loop indexed: "'float'
    # object is not subscriptable" in the generated code; a dict parameter did the same)
    w = np.array([0.5, -0.3])
    h = sd.hessian(keywords_iterated_by_name)(w)
    g = sd.grad(keywords_iterated_by_name)
    eps = 1e-6
    fd = np.array([(g(w + eps * e) - g(w - eps * e)) / (2 * eps) for e in np.eye(2)])
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-8)
