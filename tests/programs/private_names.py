import numpy as np


class Model:
    def __init__(self):
        self.__w = np.array([1.0, -2.0])
        self.__scale = 3.0

    def loss(self, x):
        return np.sum(self.__w * x) * self.__scale + self.__helper(x)

    def __helper(self, x):
        return np.sum(x ** 2) * self.__scale


class _Hidden:
    def __init__(self, w):
        self.__w = w

    def loss(self, x):
        return np.sum(np.sin(self.__w * x))
