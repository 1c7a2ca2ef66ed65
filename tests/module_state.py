"""Module-level state that test functions reach through the module (tests/test_silent_wrong.py)."""

import numpy as np

W = np.ones(3)


class Holder:
    W = np.ones(3)
