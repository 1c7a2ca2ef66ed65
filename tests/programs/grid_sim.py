"""A grid simulation looping over time steps (in the spirit of autograd's fluidsim / wave
examples): each step copies the grid and updates the interior cells; the loss is the distance
of the final grid from a target."""

import numpy as np


def step(grid, rate):
    new = grid.copy()
    for i in range(1, grid.shape[0] - 1):
        for j in range(1, grid.shape[1] - 1):
            lap = grid[i - 1, j] + grid[i + 1, j] + grid[i, j - 1] + grid[i, j + 1] - 4 * grid[i, j]
            new[i, j] = grid[i, j] + rate * lap - 0.1 * grid[i, j] ** 3
    return new


def step_sliced(grid, rate):
    new = grid.copy()
    lap = grid[:-2, 1:-1] + grid[2:, 1:-1] + grid[1:-1, :-2] + grid[1:-1, 2:] - 4 * grid[1:-1, 1:-1]
    new[1:-1, 1:-1] = grid[1:-1, 1:-1] + rate * lap - 0.1 * grid[1:-1, 1:-1] ** 3
    return new


def simulate(init, rate, num_steps):
    grid = init
    for t in range(num_steps):
        grid = step(grid, rate)
    return grid


def loss(init, rate, target):
    final = simulate(init, rate, 4)
    return np.sum((final - target) ** 2)


def loss_sliced(init, rate, target):
    grid = init
    for t in range(6):
        grid = step_sliced(grid, rate)
    return np.sum((grid - target) ** 2)


def make_inputs():
    rs = np.random.RandomState(5)
    return rs.randn(5, 5) * 0.5, 0.15, rs.randn(5, 5) * 0.5
