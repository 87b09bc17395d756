"""Weight initializers: He, Xavier/Glorot, small normal, zeros; all draw from a given Generator."""
from __future__ import annotations

import numpy as np


def he(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """W ~ N(0, 2/n_in): keeps the variance of ReLU activations constant across layers."""
    return rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)


def xavier(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """W ~ N(0, 2/(n_in + n_out)) (Glorot normal): for sigmoid and tanh layers."""
    return rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / (n_in + n_out))


def small(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """W ~ N(0, 0.01²): the classic "small random numbers" (too small for deep nets)."""
    return rng.standard_normal((n_in, n_out)) * 0.01


def zeros(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """W = 0: every neuron of a layer stays identical, the symmetry never breaks."""
    return np.zeros((n_in, n_out))


INITIALIZERS = {"he": he, "xavier": xavier, "glorot": xavier, "small": small, "zeros": zeros}


def get_initializer(name: str):
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown init {name!r}; expected one of: {', '.join(sorted(INITIALIZERS))}"
        ) from None
