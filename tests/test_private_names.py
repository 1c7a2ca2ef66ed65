"""Private attributes in methods (``self.__w``), which Python compiles as ``self._Model__w``: the
generated code, outside the class, read ``self.__w`` and raised AttributeError. The parser renames
each to the spelling the method's compiled code uses. Oracle: central finite differences."""

import numpy as np

import sourcediff as sd
from tests.oracles import check_grads_fd
from tests.programs.private_names import Model, _Hidden

X = np.array([0.5, 0.3])


def test_a_method_reading_private_attributes_and_calling_a_private_method():
    m = Model()
    check_grads_fd(m.loss, (X.copy(),), (0,), (sd.grad(m.loss)(X.copy()),))
    h = _Hidden(np.array([0.2, 0.7]))  # (a class whose name starts with an underscore)
    check_grads_fd(h.loss, (X.copy(),), (0,), (sd.grad(h.loss)(X.copy()),))


def test_the_model_as_the_argument_differentiated():
    m = Model()
    g = sd.grad(Model.loss)(m, X.copy())
    w = m._Model__w
    eps = 1e-6
    for i in range(2):
        e = np.zeros(2)
        e[i] = eps
        m._Model__w = w + e
        up = m.loss(X)
        m._Model__w = w - e
        down = m.loss(X)
        m._Model__w = w
        assert abs(g._Model__w[i] - (up - down) / (2 * eps)) < 1e-6
