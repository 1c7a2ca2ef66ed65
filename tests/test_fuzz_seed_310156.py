"""A fuzz program (seed 310156) whose second derivative, reverse over reverse, crashed: differentiated
again, the backward form of ``cat(*arrays)`` (``np.concatenate(arrays)``) accumulated its tuple
argument's gradient as ``0.0 + concat_grads(...)``, and concat_grads gave a plain list where it
gives a GradList for a zero gradient ("unsupported operand type(s) for +: 'float' and 'list'")."""

from tests.fuzz import check
from tests.fuzz.generator import load_source

PROGRAM = 'import functools\nimport math\nimport itertools\nimport statistics\nimport warnings\nimport scipy.signal\nimport scipy.stats\nimport numpy as np\nSHAPES = ((2,), (2,))\n\ndef cat(*arrays):\n    return np.concatenate(arrays)\n\ndef pair(a, b):\n    return a * np.tanh(b) + 0.5 * b\n\ndef opt(a, b, scale=1.0, shift=0.0):\n    return a * scale + np.sin(b) + shift\n\ndef forward_all(*args, **kwargs):\n    return opt(*args, **kwargs)\n\ndef total(*args):\n    out = 0.0\n    for a in args:\n        out = out + np.sum(np.sin(a) * a)\n    return out\n\ndef deco(fn):\n\n    @functools.wraps(fn)\n    def wrapper(*args, **kwargs):\n        return fn(*args, **kwargs)\n    return wrapper\n\n@deco\ndef dpair(a, b):\n    return np.cos(a) * b + a\n\ndef apply2(fn, a, b):\n    return fn(a, b)\n\nclass Layer:\n\n    def __init__(self, k):\n        self.k = k\n\n    @deco\n    def scale(self, t):\n        return np.tanh(t) * self.k + t\nLAYER = Layer(0.7)\n\ndef sfn(t):\n    if t > 0.3:\n        return math.sin(t) * t\n    return t * t + 0.1 * t\n\ndef comb(a, b):\n    return a * np.tanh(b) + 0.3 * b\n\nclass Cfg:\n\n    def __init__(self):\n        self.k = 0.7\n        self.bias = 0.2\n\n    def scale(self, t):\n        return np.tanh(t) * self.k + self.bias * t\nCFG = Cfg()\n\ndef f(x, y, s):\n    z0 = np.zeros((2,))\n    np.copyto(z0, x)\n    z1 = z0 * 1.0\n    np.copyto(z1, s)\n    if np.sum(x) < 0.02:\n        x[:] *= z1\n        z2 = np.zeros((2,))\n        np.subtract.at(z2, [-2, 1, -1, 0, -2], np.heaviside(np.maximum(np.sum(x, axis=0) * np.ones((5,)), 0.0), np.sum(y, axis=0)))\n        v3 = z2\n    v4 = np.log(np.linalg.cond(np.eye(2) * 2.0 + 0.5 * np.tanh(z0[0] * np.ones((2, 2))), -2))\n    v5 = cat(np.linspace(np.sum(z0), v4, 1), np.mean(y, axis=0, keepdims=True))\n    v6 = np.sum(s * np.ones((2, 2)), axis=-2)\n    for row7, row8 in zip(z0, z1):\n        s = 0.5 * s + np.tanh(np.sum(v5, axis=0))\n        if np.sum(np.log1p(x ** 2)) > -0.25:\n            continue\n        z9 = np.zeros((3,))\n        np.add.at(z9, [1, 0, 1, 1], np.sum(z0) * np.ones((4,)))\n        v10 = z9\n        z11 = np.zeros((3,))\n        z11.fill(np.maximum(np.mean(v10, axis=0), row8))\n        v12 = v6\n    z13 = np.maximum(np.sum(z1) * np.ones((3,)), y[0] * np.ones((3,))) * 1.0\n    v14 = z13 * 1.0\n    q15 = (x,) + (v14,)\n    return np.sum(v6) + np.sum(z0) + np.sum(z1) + np.sum(v4) + np.sum(v14) + np.sum(v5 ** 2)'


def test_second_order_through_a_star_args_concatenate(monkeypatch):
    monkeypatch.setattr(check, "EXTRA_MODES", check.EXTRA_MODES | {"second"})
    module = load_source(PROGRAM, "seed_310156")
    result = check.check_program(module, 310156)
    assert result.kind == "ok", result.report()
