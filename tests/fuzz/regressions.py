"""Hand-shrunk programs from fuzz failures: each is a module text checked by tests/test_fuzz.py."""

from dataclasses import dataclass


@dataclass
class Regression:
    """A shrunk program; ``bug`` says what goes wrong while the compiler still has the bug.

    ``expect`` is the outcome :func:`tests.fuzz.check.check_program` must give: "ok", "refused"
    for programs whose numpy meaning the compiler cannot follow and refuses with a clear error, or
    "skipped" for programs too steep for finite differences to judge.
    """

    name: str
    source: str
    bug: str = ""  # non-empty: a known, unfixed bug (the test is a strict xfail)
    expect: str = "ok"
    refusal: tuple = ("AliasError", "read later")  # what a "refused" outcome's detail says


def _module(shapes, body):
    return f"import numpy as np\n\nSHAPES = {shapes}\n\n\ndef f(x, y, s):\n{body}"


# a module-level object whose attribute f (or its method set) writes; readw reads it back
_BOX = ("import numpy as np\n\nSHAPES = ((3,), (3,))\n\n\nclass Box:\n    def __init__(self):\n"
        "        self.w = 0.5\n\n    def set(self, v):\n        self.w = v\n\n"
        "    def readw(self, t):\n        return t * self.w\n\n\nBOX = Box()\n\n\n")


# seed 10006551 as the fuzzer wrote it (its inputs reach the branch that wrote into y)
_SEED_10006551 = '''\
import numpy as np

SHAPES = ((4, 2), (2,))  # the shapes of x and y


def h0(a, c=0.5):
    return a


def h1(a):
    a = (a.reshape(2, 4)).T
    if np.where(a[-1, -1] > 0.78, np.sum(a), a[-1, -2]) > -0.42:
        v0 = a
        parts1 = []
        for row2 in v0:
            parts1.append((row2 / (1.0 + (row2) ** 2)))
        v3 = sum(parts1)
    else:
        for row4 in a:
            a = np.tanh(a * (a @ a[:-1:2, 0:2]) + (a @ a[:-1:2, 0:2]))
            v5 = np.where(h0(row4, c=-0.58) > 0.25, (-row4), h0(row4))
        p6 = ((np.sum(a, axis=0) if np.mean(a) > -0.33 else a[2]), (np.sum(a) - a[-3, 0]))
        v7 = p6[0]
        v8 = p6[1]
    return (a)[-1]


def rec(a, n):
    if n <= 0:
        return a
    return rec(np.sin(a) * 0.9 + 0.1, n - 1)


def f(x, y, s):
    for i9 in range(2):
        x = x + 0.25 * np.sin(x[::-1, 1:2])
        q10 = 3 * [np.where(0.64 > -0.75, y, y[0:1])]
        v11 = q10[0]
        v12 = q10[0]
        for j14, row13 in enumerate(y):
            s = s + 0.25 * np.sin((np.sum(x) + np.sum(x)))
            if np.dot(v11, v12) > 0.38:
                continue
            v11 = np.sqrt(1.0 + ((y + x[j14])) ** 2)
        v11[[0, 0, 1]] += np.sum(x)
    q15 = 2 * [rec(np.sum(x, axis=0), 0)]
    v16 = q15[-1]
    if np.sum(v16) > 0.47:
        return v16[-1]
    v16 = (v16)[:]
    return y[-1]
'''


REGRESSIONS = [
    # found by the fuzzer and fixed in the compiler (also: loops over a rebound name, inactive
    # container elements in unoptimized code); a variable rebound
    # from its own value (y = np.sin(y)) had its old value restored only after the adjoint had
    # used the new one; an inner loop with no adjoint left its trip count on the stack
    Regression(
        "rebind_from_itself",
        _module(((3,), (3,)), "    y = np.sin(y)\n    return np.sum(y)\n")),
    Regression(
        "rebind_from_itself_product",
        _module(((3,), (3,)), "    y = y * x\n    return np.sum(y)\n")),
    Regression(
        "augassign_argument_on_itself",
        _module(((4, 4), (1, 4)), "    x *= np.tanh(-x)\n    return np.sum(x)\n")),
    Regression(
        "rebind_in_loop",
        _module(((2,), (2,)), "    for i in range(2):\n        y = y * y\n    return np.sum(y)\n")),
    Regression(
        "rows_of_a_rebound_array",
        _module(((4,), (4,)), "    for row in y:\n        y = y * row\n    return np.sum(y)\n")),
    Regression(
        "empty_inner_loop_misaligns_stack",
        _module(((3,), (3,)),
                "    v = y * 1.0\n    for r in range(2):\n        for q in range(2):\n"
                "            pass\n        for t in range(2):\n            v = v + s\n"
                "    return v[0]\n")),
    Regression(
        "tuple_with_inactive_element_unoptimized",
        _module(((4,), (1,)),
                "    p = (x * s, np.ones(3))\n    a, b = p\n    return b[-1] + a[-1]\n")),
    Regression(
        "dict_with_constant_unoptimized",
        _module(((3,), (3,)),
                "    d = {'a': y, 'b': -0.79}\n    return np.sum(d['a'] * d['b'])\n")),
    # numpy writes through an alias or a view (v = x; v *= 2 changes x); the compiler gives each
    # name its own value, so it got these wrong; now the alias stage refuses them (AliasError)
    Regression(
        "augassign_through_an_alias",
        _module(((3, 4), (3,)), "    v = x\n    v *= 2.0\n    return np.sum(x * x)\n"),
        expect="refused"),
    Regression(
        "augassign_on_a_view",
        _module(((3, 4), (3,)),
                "    z = x * 1.0\n    w = z[1:3]\n    w += 1.0\n    return np.sum(z * z)\n"),
        expect="refused"),
    # tape mode: y[0, -2] was a 0-d view Tensor (numpy gives a copy), so s += ... wrote into y;
    # inside grad_of a 0-d Tensor is now a value (s += v rebinds s)
    Regression(
        "tape_scalar_index_then_augassign",
        _module(((2, 3), (2, 3)),
                "    s = y[0, -2]\n    s += y[-1, 0]\n    return s + 0.2 * np.sum(np.tanh(y))\n")),
    Regression(
        "tuple_element_reduction_unused",
        _module(((4,), (2, 3)), "    p = (x, np.sum(y, axis=1))\n    return np.sum(p[0])\n")),
    Regression(
        "forward_default_parameter_made_active",
        "import numpy as np\n\nSHAPES = ((2,), (2,))\n\n\ndef h(a, c=0.5):\n"
        "    c = c * np.sum(a)\n    return a * c\n\n\ndef f(x, y, s):\n"
        "    return np.sum(h(x)) + s * np.sum(y)\n"),
    Regression(
        # tape mode: s = y[0, -2] kept its old value after s += ... (which wrote into y)
        "tape_scalar_index_then_augassign_value",
        _module(((2, 3), (2, 3)),
                "    s = y[0, -2]\n    s += y[-1, 0]\n    return s + 0.2 * np.tanh(s)\n")),
    Regression(
        # tape mode: x[0] is a 0-d Tensor holding a copy; its in-place update wrote into x, and
        # then Python's closing x[0] = <it> wrote the old value back
        "tape_augassign_on_an_item",
        _module(((3,), (3,)), "    x[0] -= 0.5\n    return np.sum(x ** 3) + np.sum(y)\n")),
    Regression(
        # forward mode did not copy y: the tuple holds y itself, so v[0] = s wrote into the caller's
        # array (reverse mode restored it on its way back)
        "setitem_through_a_tuple_element",
        _module(((3,), (3,)),
                "    p = (y, x)\n    v = p[0]\n    v[0] = s\n    return np.sum(v * x)\n")),
    Regression(
        # the symbolic zero 0.0 (w does not reach the output on this path) became a 0-d array in
        # the transpose's adjoint, which the reshape's adjoint could not reshape
        "symbolic_zero_through_transpose_on_a_path",
        _module(((2, 3), (3,)),
                "    w = x.reshape(3, 2).T\n    if s > 10.0:\n        return np.sum(w)\n"
                "    return s * np.sum(y)\n")),
    Regression(
        "symbolic_zero_through_transpose_in_a_tuple",
        _module(((2, 3), (3,)), "    p = (y, x.reshape(3, 2).T)\n    return np.sum(p[0])\n")),
    Regression(
        "symbolic_zero_through_a_comprehension_array",
        _module(((2, 2), (2, 2)),
                "    p = (x, np.array([np.tanh(r) for r in y[0]]))\n    return np.sum(p[0])\n")),
    Regression(
        # tape mode: v -= y overwrote the quotient the division's rule reads (-g * ans / b)
        "tape_augassign_on_a_quotient",
        _module(((3,), (3,)),
                "    v = x / (2.0 + np.tanh(y))\n    v -= y\n    return np.sum(v * x)\n")),
    # y = x.reshape(8) is a view: x[2] += ... changes y too (numpy); refused (AliasError)
    Regression(
        "setitem_on_a_base_with_a_live_view",
        _module(((4, 2), (3,)),
                "    y = x.reshape(8)\n    x[2] += np.sum(x, axis=0)\n    return np.sum(y ** 2)\n"),
        expect="refused"),
    # tape mode: the float argument s was a 0-d Tensor, so s -= ... also changed v = s
    Regression(
        "tape_float_argument_augassign",
        _module(((3,), (3,)), "    v = s\n    s -= np.sum(x)\n    return v * np.sum(y) + s\n")),
    # y += ... looked unobservable for the view v2 (whose new value is never read), but v2 *= ...
    # then writes through v2 into y in numpy: a later v op= e counts as a use of v's memory
    Regression(
        "augassign_on_a_view_after_its_base_was_updated",
        _module(((3,), (3, 3)),
                "    p0 = (np.mean(y, axis=1), y[2:-4:-1, 0:])\n    v1 = p0[0]\n    v2 = p0[1]\n"
                "    y += np.where(v2[0, -2] > 0.37, v2[1, 0], np.sum(x))\n"
                "    v2 *= np.tanh(y[-2:-4:-2, :])\n    return y[:, 2][-3] - v1.sum()\n"),
        expect="refused"),
    # tape mode: np.transpose(y.T) was a numpy view of y's data that the tape did not record as a
    # view, so y += y changed the value the matmul's rule read (s's gradient doubled)
    Regression(
        "tape_numpy_view_then_base_updated",
        _module(((2, 3), (2, 3)),
                "    v0 = np.transpose(y.T) @ (-(s * np.ones((3, 3))))\n    y += y\n"
                "    return v0[-1, 0] + np.sum(y)\n")),
    # forward mode ran the helper itself where its result carries no tangent, and the helper
    # wrote into the caller's y (numpy would too, but nothing reads y afterwards); since the
    # fix of seed 12002700, y passed for both parameters of a helper writing into one is refused
    Regression(
        "forward_inactive_helper_writes_into_an_argument",
        "import numpy as np\n\nSHAPES = ((1,), (3,))\n\n\ndef h0(a, b):\n"
        "    a[-3] *= np.sum(a)\n    return b\n\n\ndef f(x, y, s):\n"
        "    y = y + 0.3 + 0.2 * np.tanh(h0(y, y))\n    return s\n",
        expect="refused", refusal=("AliasError", "passed to the same call")),
    # the helper writes into its parameter through the rows of a for loop: that made it a
    # mutating helper only once loop targets counted as views of what they iterate
    Regression(
        "helper_writes_through_loop_rows",
        "import numpy as np\n\nSHAPES = ((3, 4), (3, 4))\n\n\ndef h0(a):\n"
        "    for row2, row3 in zip(a, a):\n        a = a + 0.25 * np.sin(np.sum(row2))\n"
        "        row2[1] = np.exp(-(a[0, 2]) ** 2)\n    return np.sum(a)\n\n\n"
        "def f(x, y, s):\n    y *= np.tanh(h0(y))\n    return np.cos(s) + np.sum(x)\n"),
    # the helper writes into a (a /= ...) and reads b, a view of the same array: numpy's helper
    # sees its own write through b; refused (AliasError)
    Regression(
        "helper_writes_into_an_argument_another_argument_views",
        "import numpy as np\n\nSHAPES = ((3, 3), (3, 3))\n\n\ndef h1(a, b):\n"
        "    a /= (1.5 + np.sin(np.sum(b)))\n    return np.sum(b, axis=0)\n\n\n"
        "def f(x, y, s):\n    return np.sum(x) * s + h1(y, y[:, 2])\n",
        expect="refused"),
    # a false "wrong" of the oracle (seed 401100): y grows to 1e13 and more, finite differences
    # cannot see the 0.25*cos(y) part of the derivative of y + 0.25*np.sin(y) there (no step is
    # both resolvable and within sin's period); every AD mode agrees with the others
    Regression(
        "steep_beyond_finite_differences",
        _module(((2, 2), (2, 2)),
                "    for k in range(3):\n        y = y + 0.25 * np.sin(y)\n"
                "        for j in range(3):\n            y = y * (y - s)\n"
                "    return np.sum(y)\n"),
        expect="skipped"),
    # found by the fuzzer's seq_concat/seq_repeat statements, fixed in main's 1acb9e6: an item of
    # a tuple or list made by + or * is the same array object as the operand's item, so z *= x
    # also changes v (numpy); the alias stage did not follow items through + and * (x's gradient
    # was 0 in reverse and forward mode); now refused like the plain [z, s][0]
    Regression(
        "augassign_on_an_item_of_a_concatenated_tuple",
        _module(((4,), (4,)),
                "    z = y * 1.0\n    q = (z,) + (s,)\n    v = q[0]\n    z *= x\n"
                "    return np.sum(v)\n"),
        expect="refused"),
    Regression(
        "augassign_on_an_item_of_a_repeated_list",
        _module(((4,), (4,)),
                "    q = [y] * 2\n    v = q[1]\n    y -= x\n    return np.sum(v)\n"),
        expect="refused"),
    # found by the random_helper feature (seed 900103), fixed in main's 1acb9e6: the optimizer
    # deleted an if whose branches do nothing (pass, or a continue ending a loop body) together
    # with its condition, which draws from rs; every later draw shifted (optimized reverse mode and
    # forward mode disagreed with f, the unoptimized code, the tape and finite differences)
    Regression(
        "if_with_empty_body_whose_condition_draws",
        _module(((3,), (3,)),
                "    rs = np.random.RandomState(0)\n    if rs.normal() < 0.3:\n        pass\n"
                "    return np.sum((x + rs.normal(size=3)) ** 2)\n")),
    # found (seed 900393), fixed: forward mode wrote into the caller's x through an item of a
    # list or tuple made by + or * (q = [x] + [y]; v = q[0]; v[0] = s): x[0] becomes s after sd.jvp (its
    # value and tangent are right); reverse mode and the tape leave x alone, and so does forward
    # mode for the plain [x, y] (regression setitem_through_a_tuple_element)
    Regression(
        "forward_setitem_through_an_item_of_a_concatenated_list",
        _module(((3,), (3,)),
                "    q = [x] + [y]\n    v = q[0]\n    v[0] = s\n    return np.sum(v * y)\n")),
    # found (seed 900361), fixed: the same write when nothing reads v afterwards: reverse mode
    # (optimized and not) and forward mode all leave x[0] == s in the caller's array (the
    # gradients are right; the tape and the plain [y, x] leave x alone)
    Regression(
        "setitem_through_an_item_of_a_concatenated_list_unread",
        _module(((3,), (3,)),
                "    q = [y] + [x]\n    v = q[1]\n    v[0] = s\n    return np.sum(y)\n")),
    # found (seed 900765), fixed: forward mode crashes when a constant item of a list made by + is
    # indexed: its tangent is the symbolic zero 0.0, and the generated a_dot[0] raises TypeError
    # ('float' object is not subscriptable); reverse mode (both), the tape and finite differences
    # agree (x's gradient is ones); the plain [np.ones(2), x] works
    Regression(
        "forward_index_a_constant_item_of_a_concatenated_list",
        _module(((2,), (2,)),
                "    q = [np.ones(2)] + [x]\n    a = q[0]\n    return a[0] * np.sum(q[1])\n")),
    # found by the object_attr feature: main's 896d65d ran attribute writes as Python's setattr,
    # and an active value stored in a module-level object's attribute was read back as a constant
    # (s's gradient 0 in reverse and forward mode); refused at the line again since f3fedeb
    Regression(
        "active_value_stored_in_a_global_objects_attribute",
        _BOX + "def f(x, y, s):\n    BOX.w = s\n    return BOX.w * np.sum(x)\n"),
    # (refused at first; since the forwarding stage the read takes the value just stored, and
    # the gradient is checked against the oracles like any program's)
    # found by the object_attr_method feature: the same through a method (self.w = v in
    # BOX.set, a statement) was neither refused nor followed (s's gradient 0); refused, then (a
    # global object's state made locals while the call runs) followed and checked by the oracles
    Regression(
        "active_value_stored_in_an_attribute_by_a_method",
        _BOX + "def f(x, y, s):\n    BOX.set(s)\n    return np.sum(BOX.readw(x))\n"),
    # never broken
    Regression(
        "setitem_rows_in_loop",
        _module(((3,), (3,)),
                "    z = np.zeros((3,))\n    for a in y:\n        z[1] = a * s\n"
                "    return np.sum(z) + np.sum(np.sin(x))\n")),
    Regression(
        "argument_setitem_and_augassign",
        _module(((3, 3), (3,)),
                "    x[0] = x[0] * 2.0\n    x += y\n    return np.sum(x * x)\n")),
    Regression(
        "while_with_continue_in_loop",
        _module(((2, 3), (2, 3)),
                "    v = y * 1.0\n    for r in x:\n        t = 0\n"
                "        while t < 4 and np.sum(v) < 1.06:\n            t += 1\n"
                "            v = v + 0.3 + 0.2 * np.tanh(s)\n            if s > -0.7:\n"
                "                continue\n    return v[0, -2]\n")),
    # seed 1003268: x[2] = x[:, 3] writes x[2, 3] before numpy reads it for x[2, 2] (numpy's
    # own copy order); the derivative assumed a copy was assigned (wrong in reverse and forward)
    Regression(
        "assignment_overlapping_its_target_in_numpys_order",
        _module("((4, 4), (4, 4))", "    x[2] = x[:, 3]\n    return (x).mean()\n"),
        expect="refused", refusal=("overlaps the memory it is written into",)),
    # seed 10006551: constant folding picked np.where(True, y, y[0:1]) as y itself, so
    # 3 * [np.where(...)] held y, and v11[[0, 0, 1]] += ... through an item of it wrote into the
    # argument y in forward mode (where the alias pass had taken the where for a new array)
    Regression("folded_where_held_in_a_list", _SEED_10006551),
    # seed 12000207 (shrunk): v23 = x, then v23[i28] -= ... in a loop; the adjoint restored each
    # pass's row of v23 (the array x was before the loop) at the index of the last pass, since
    # nothing brought i28 back, so the derivative of np.exp read rows the loop had changed
    Regression(
        "item_restored_at_its_own_pass",
        "import numpy as np\n\nSHAPES = ((3, 3), (3, 3))\n\n\ndef cat(*arrays):\n"
        "    return np.concatenate(arrays)\n\n\ndef f(x, y, s):\n"
        "    x = np.exp(-(y * y) ** 2)\n    v23 = x\n    for i28 in range(3):\n"
        "        x = 0.5 * x + np.tanh(x)\n"
        "        v23[i28] -= np.where(0.1 * i28 > 0.34, y[2 - i28, 2 - i28] * np.ones((5,)),\n"
        "                             np.sum(v23) * np.ones((5,)))[1:4]\n"
        "    v47 = cat(s * np.ones((2,)) * (s * np.ones((2,))), s * np.ones((1,)))\n"
        "    return s + np.sum(v47) + np.sum(np.maximum(x, np.sum(v47)))\n"),
    # seed 12002700 (by hand): h1(y, y) with h1 writing a[0:1:2] *= ...: numpy's write through a
    # shows through b; the helper got a copy for a and y itself for b (the check of a helper's
    # other arguments left out the name the written one was passed)
    Regression(
        "one_array_for_two_helper_parameters",
        "import numpy as np\n\nSHAPES = ((2, 2), (2, 2))\n\n\ndef h1(a, b):\n"
        "    a[0:1:2] *= (b[-1:2:3, 0:] + np.sum(b))\n    return np.tanh(b * a + a)\n\n\n"
        "def f(x, y, s):\n    return np.sum(x * s) + np.sum(h1(y, y))\n",
        expect="refused", refusal=("AliasError", "passed to the same call")),
    # seed 12008523 (shrunk): rows of y appended to a list as views, v = parts.pop(), then
    # v[::-2] -= ...: the write reached y, but the alias facts had no link from an appended item
    # to its list nor from a popped value to its list, so y was not copied (forward mode changed
    # the caller's y) and the popped item's zero tangent was 0.0 (an internal TypeError)
    Regression(
        "write_into_a_popped_view_of_an_argument",
        _module(((4,), (2, 4)),
                "    parts = []\n    for row in y:\n"
                "        parts.append(row.reshape(2, 2).reshape(4))\n"
                "    v = parts.pop()\n    v[::-2] -= x[1:3]\n    return np.sum(v * x)\n")),
    # seed 17001899 (shrunk): tape mode gave d/dx0 = 2.67 for 3: x[0] was a 0-d view of x (as
    # PyTorch's), so x /= ... reached v0; in a numpy program x[0] is a copy
    Regression(
        "tape_item_read_then_base_divided_in_place",
        _module(((3,), (3,)),
                "    v0 = x[0]\n    x /= 1.5 + np.sin(y - y)\n    return v0 + 2.0 * np.sum(x)\n")),
    # (by hand, next to it) tape mode took x[True] for x[1]: numpy's x[True] is x[None]
    Regression(
        "tape_bool_index",
        _module(((3,), (3,)), "    return np.sum(x[True] * x[True]) + np.sum(y)\n")),
    # seed 20001653 (shrunk): a helper wrote into its argument through an item of a repeated
    # tuple (q = 2 * (a, s); v = q[-2]; a rebound; v *= ...): the check of what a helper writes
    # into did not follow 2 * (a, s), so the caller's x changed unseen (reverse -11.5 vs FD -5.8)
    Regression(
        "helper_writes_through_a_repeated_tuple",
        "import numpy as np\n\nSHAPES = ((3,), (3,))\n\n\ndef h1(a, s):\n"
        "    q = 2 * (a, s)\n    v = q[-2]\n    a = 0.5 * a\n    v *= np.tanh(s)\n"
        "    return np.sum(a)\n\n\ndef f(x, y, s):\n    x = x * 1.0\n    t = h1(x, s)\n"
        "    return np.sum(x * y) + t\n",
        expect="refused"),
    # seeds 1014, 1031, 1034, 1051, 1062 (review26's first campaign, shrunk): a method decorated
    # with a functools.wraps wrapper called on a module-level object, inside a loop: x was
    # matched to the receiver's item of the wrapper's *args, so reverse mode gave x no gradient
    # through it (a silent zero), forward mode raised IndexError in the generated code
    Regression(
        "decorated_method_called_on_an_object",
        "import functools\n\nimport numpy as np\n\nSHAPES = ((3,), (3,))\n\n\ndef deco(fn):\n"
        "    @functools.wraps(fn)\n    def wrapper(*args, **kwargs):\n"
        "        return fn(*args, **kwargs)\n    return wrapper\n\n\nclass Layer:\n"
        "    def __init__(self, k):\n        self.k = k\n\n    @deco\n    def scale(self, t):\n"
        "        return np.tanh(t) * self.k + t\n\n\nLAYER = Layer(0.7)\n\n\n"
        "def f(x, y, s):\n    for i in range(2):\n        y = LAYER.scale(y * x) + s\n"
        "    return np.sum(y)\n"),
    # seeds 51001, 51009, 51012 (model_wrt, shrunk): sd.grad(fm)(model, y, s) through layers
    # whose __call__ is decorated with a functools.wraps wrapper: the wrapper's fn(*args) passed
    # the layer (an item of its *args) on as carrying no derivative, so the layers' w and b got
    # a zero gradient without a word
    Regression(
        "model_layers_with_a_decorated_call",
        "import functools\n\nimport numpy as np\n\nSHAPES = ((3,), (3,))\n\n\n"
        "def mdeco(fn):\n    @functools.wraps(fn)\n    def wrapper(*args, **kwargs):\n"
        "        return fn(*args, **kwargs)\n    return wrapper\n\n\nclass Lin:\n"
        "    def __init__(self, w, b):\n        self.w = w\n        self.b = b\n\n    @mdeco\n"
        "    def __call__(self, t):\n        return np.tanh(t * self.w) + self.b\n\n\n"
        "class Model:\n    def __init__(self, a, w, b):\n        self.a = a\n        self.k = 0.7\n"
        "        self.layers = [Lin(w, 0.1), Lin(0.5, b)]\n\n    def forward(self, t):\n"
        "        for layer in self.layers:\n            t = layer(t)\n        return t * self.k\n\n\n"
        "def make_model(x, y, s):\n    return Model(x * 1.0, y * 0.5 + 0.2, s * 0.3)\n\n\n"
        "def fm(model, y, s):\n    return f(model.a, model.forward(y), s * model.k)\n\n\n"
        "def f(x, y, s):\n    return np.sum(x * y) + s\n"),
]
