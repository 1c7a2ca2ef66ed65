"""review40: more models as people write them (super().forward in a subclass, a loss object
and a staticmethod, layers held in a dict, train()/eval() toggling a flag inside the loss, a
property over a params dict, an LSTM cell appending to self.cache each step, an optimizer
object in an unrolled meta-gradient), each built inside the loss and passed in."""
import numpy as np

from tests.programs.review40_harness import case

R = np.random.default_rng(4042)
X = R.normal(size=(5, 3))
T = R.normal(size=(5, 2))
W1, B1 = R.normal(size=(3, 4)) * 0.5, np.zeros(4) + 0.1
W2, B2 = R.normal(size=(4, 2)) * 0.5, np.zeros(2)


class Dense:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        return x @ self.W + self.b


class ResDense(Dense):
    def forward(self, x):
        return x + np.tanh(super().forward(x))


@case((R.normal(size=(3, 3)) * 0.5, np.zeros(3)), wrt=(0, 1))
def super_forward_built_inside(W, b):
    layer = ResDense(W, b)
    return np.sum(layer.forward(X) ** 2)


@case((ResDense(R.normal(size=(3, 3)) * 0.5, np.zeros(3)),), modes="object")
def super_forward_passed(layer):
    return np.sum(layer.forward(X) ** 2)


class MSELoss:
    def __init__(self, reduction="mean"):
        self.reduction = reduction

    def __call__(self, pred, target):
        d = (pred - target) ** 2
        return d.mean() if self.reduction == "mean" else d.sum()


class Activations:
    @staticmethod
    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))


@case((W1, B1, W2, B2), wrt=(0, 1, 2, 3), hessian=False)
def criterion_object_and_staticmethod(w1, b1, w2, b2):
    criterion = MSELoss(reduction="sum")
    h = Activations.sigmoid(Dense(w1, b1).forward(X))
    return criterion(Dense(w2, b2).forward(h), T)


class DictNet:
    def __init__(self, W1, b1, W2, b2):
        self.layers = {"fc1": Dense(W1, b1), "fc2": Dense(W2, b2)}

    def __call__(self, x):
        x = np.tanh(self.layers["fc1"].forward(x))
        return self.layers["fc2"].forward(x)


@case((DictNet(W1, B1, W2, B2),), modes="object")
def layers_in_a_dict_passed(net):
    return np.mean((net(X) - T) ** 2)


@case((W1, B1), wrt=(0, 1))
def layers_in_a_dict_built_inside(w1, b1):
    net = DictNet(w1, b1, W2, B2)
    return np.mean((net(X) - T) ** 2)


class TrainEval:
    def __init__(self, W):
        self.W = W
        self.training = True

    def train(self):
        self.training = True

    def eval(self):
        self.training = False

    def __call__(self, x):
        h = x @ self.W
        if self.training:
            h = h * 0.5
        return np.tanh(h)


@case((TrainEval(W1),), modes="object")
def train_eval_toggle_passed(model):
    model.eval()
    a = np.sum(model(X))
    model.train()
    return a + np.sum(model(X) ** 2)


@case((W1,))
def train_eval_toggle_built_inside(w):
    model = TrainEval(w)
    model.eval()
    a = np.sum(model(X))
    model.train()
    return a + np.sum(model(X) ** 2)


class PropModel:
    def __init__(self, params):
        self.params = params

    @property
    def weight(self):
        return self.params["W"]

    def __call__(self, x):
        return x @ self.weight


@case(({"W": W1},))
def property_of_params_built_inside(params):
    return np.sum(np.tanh(PropModel(params)(X)) ** 2)


class LSTMCell:
    def __init__(self, Wx, Wh, b):
        self.Wx, self.Wh, self.b = Wx, Wh, b
        self.cache = []

    def step(self, x, h, c):
        z = x @ self.Wx + h @ self.Wh + self.b
        n = h.shape[-1]
        i = 1.0 / (1.0 + np.exp(-z[..., :n]))
        f = 1.0 / (1.0 + np.exp(-z[..., n:2 * n]))
        o = 1.0 / (1.0 + np.exp(-z[..., 2 * n:3 * n]))
        g = np.tanh(z[..., 3 * n:])
        c = f * c + i * g
        h = o * np.tanh(c)
        self.cache.append((x, h, c))
        return h, c


WX, WH, BL = R.normal(size=(3, 8)) * 0.3, R.normal(size=(2, 8)) * 0.3, np.zeros(8)


@case((LSTMCell(WX, WH, BL),), modes="object")
def lstm_cell_with_cache_passed(cell):
    h, c = np.zeros(2), np.zeros(2)
    for t in range(X.shape[0]):
        h, c = cell.step(X[t], h, c)
    return np.sum(h ** 2) + np.sum(c)


@case((WX, WH, BL), wrt=(0, 1, 2))
def lstm_cell_with_cache_built_inside(Wx, Wh, b):
    cell = LSTMCell(Wx, Wh, b)
    h, c = np.zeros(2), np.zeros(2)
    for t in range(X.shape[0]):
        h, c = cell.step(X[t], h, c)
    return np.sum(h ** 2) + np.sum(c)


class SGD:
    def __init__(self, lr):
        self.lr = lr

    def update(self, w, g):
        return w - self.lr * g


@case((np.array(0.1),), hessian=True)
def optimizer_object_meta_lr(lr):
    opt = SGD(lr)
    w = np.ones(3)
    for _ in range(3):
        g = 2.0 * (X @ w - T[:, 0]) @ X
        w = opt.update(w, g)
    return np.sum((X @ w - T[:, 0]) ** 2)
