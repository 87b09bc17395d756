"""Ready networks with their data, used by every front end: xor, moons, spiral, circles, digits, bars, digits-cnn, seq."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import datasets
from .activations import ReLU
from .build import mlp, optimizer
from .conv import Conv2D, Flatten, MaxPool2D
from .layers import Dense
from .losses import MSE, Loss, SoftmaxCrossEntropy
from .model import Sequential
from .recurrent import LSTM, RNN
from .optim import Optimizer

DEFAULT = "moons"
MNIST_ENV = datasets.MNIST_ENV["mnist"]


@dataclass
class Problem:
    """A model, its loss and optimizer, and the data it learns from."""

    name: str
    description: str
    model: Sequential
    loss: Loss
    optimizer: Optimizer
    X: np.ndarray
    Y: np.ndarray
    batch_size: int
    epochs: int
    classes: list[str] = field(default_factory=list)
    X_val: np.ndarray | None = None  # a held-out validation set, when the problem has one
    Y_val: np.ndarray | None = None


@dataclass
class Preset:
    name: str
    description: str
    build: Callable[..., Problem]
    needs_data: bool = False


def _xor(seed: int, data=None, dtype=np.float64) -> Problem:
    X, y = datasets.xor()
    model = mlp([2, 2, 1], "sigmoid", "xavier", output="sigmoid", seed=seed, dtype=dtype)
    return Problem("xor", PRESETS["xor"].description, model, MSE(), optimizer("sgd", model.parameters(), lr=2.0),
                   X, y[:, None].astype(float), batch_size=4, epochs=2000, classes=["0", "1"])


def _toy_relu(name, X, y, hidden, seed, dtype, lr, epochs) -> Problem:
    sizes = [2, *hidden, int(y.max()) + 1]
    model = mlp(sizes, "relu", "he", seed=seed, dtype=dtype)
    return Problem(name, PRESETS[name].description, model, SoftmaxCrossEntropy(),
                   optimizer("momentum", model.parameters(), lr=lr), X, y, batch_size=16, epochs=epochs,
                   classes=[str(k) for k in range(sizes[-1])])


def _moons(seed: int, data=None, dtype=np.float64) -> Problem:
    X, y = datasets.moons(200, noise=0.1, seed=seed)
    return _toy_relu("moons", X, y, (8, 8), seed, dtype, lr=0.05, epochs=100)


def _circles(seed: int, data=None, dtype=np.float64) -> Problem:
    X, y = datasets.circles(200, noise=0.05, seed=seed)
    return _toy_relu("circles", X, y, (8, 8), seed, dtype, lr=0.05, epochs=100)


def _spiral(seed: int, data=None, dtype=np.float64) -> Problem:
    X, y = datasets.spiral(300, classes=3, seed=seed)
    return _toy_relu("spiral", X, y, (32, 32), seed, dtype, lr=0.05, epochs=300)


def _seq(seed: int, data=None, dtype=np.float64, cell=RNN, name="seq") -> Problem:
    X, y = datasets.bit_sums(400, length=8, noise=0.1, seed=seed)
    model = Sequential(cell(1, 8), Dense(8, 2, init="xavier"), seed=seed, dtype=dtype)
    return Problem(name, PRESETS[name].description, model, SoftmaxCrossEntropy(),
                   optimizer("adam", model.parameters(), lr=0.02), X, y, batch_size=16, epochs=30,
                   classes=["< 4 ones", "≥ 4 ones"])


def _seq_lstm(seed: int, data=None, dtype=np.float64) -> Problem:
    return _seq(seed, data, dtype, cell=LSTM, name="seq-lstm")


def mnist_path(data=None) -> str:
    """The MNIST folder: ``data`` if given, else $NNDB_MNIST, else the cache folder (see find_mnist).

    A clear error, listing the places tried and how to get the files, when none holds them.
    """
    return str(datasets.find_mnist(data, "mnist"))


def _digits(seed: int, data=None, dtype=np.float64, hidden: int = 128) -> Problem:
    X, y = datasets.load_mnist(mnist_path(data))
    model = mlp([784, hidden, 10], "relu", "he", seed=seed, dtype=dtype)
    return Problem("digits", PRESETS["digits"].description, model, SoftmaxCrossEntropy(),
                   optimizer("momentum", model.parameters(), lr=0.05), X, y, batch_size=64, epochs=15,
                   classes=[str(k) for k in range(10)])


def _bars(seed: int, data=None, dtype=np.float64) -> Problem:
    X, y = datasets.bars(200, size=6, seed=seed)
    model = Sequential(Conv2D(1, 2, 3), ReLU(), Flatten(), Dense(2 * 4 * 4, 2), seed=seed, dtype=dtype)
    return Problem("bars", PRESETS["bars"].description, model, SoftmaxCrossEntropy(),
                   optimizer("adam", model.parameters(), lr=0.02), X, y, batch_size=16, epochs=30,
                   classes=["horizontal", "vertical"])


def _segments(seed: int, data=None, dtype=np.float64) -> Problem:
    X, y = datasets.segment_digits(600, seed=seed)
    model = Sequential(Conv2D(1, 8, 3, padding=1), ReLU(), MaxPool2D(2), Flatten(), Dense(8 * 6 * 5, 10),
                       seed=seed, dtype=dtype)
    return Problem("segments", PRESETS["segments"].description, model, SoftmaxCrossEntropy(),
                   optimizer("adam", model.parameters(), lr=0.01), X, y, batch_size=32, epochs=30,
                   classes=[str(k) for k in range(10)])


def digits_cnn_model(seed: int | None = 0, dtype=np.float64) -> Sequential:
    """LeNet-like: conv 5×5 (8) → pool → conv 5×5 (16) → pool → 256-64-10, on 1×28×28 digits."""
    return Sequential(Conv2D(1, 8, 5), ReLU(), MaxPool2D(2), Conv2D(8, 16, 5), ReLU(), MaxPool2D(2),
                      Flatten(), Dense(16 * 4 * 4, 64), ReLU(), Dense(64, 10), seed=seed, dtype=dtype)


def _digits_cnn(seed: int, data=None, dtype=np.float64) -> Problem:
    X, y = datasets.load_mnist(mnist_path(data))
    model = digits_cnn_model(seed, dtype)
    return Problem("digits-cnn", PRESETS["digits-cnn"].description, model, SoftmaxCrossEntropy(),
                   optimizer("momentum", model.parameters(), lr=0.05), datasets.as_images(X), y,
                   batch_size=64, epochs=5, classes=[str(k) for k in range(10)])


PRESETS: dict[str, Preset] = {
    "xor": Preset("xor", "2-2-1 sigmoid net, MSE, on the four XOR points", _xor),
    "moons": Preset("moons", "2-8-8-2 ReLU net, softmax cross-entropy, 200 noisy two-moons points", _moons),
    "circles": Preset("circles", "2-8-8-2 ReLU net, softmax cross-entropy, a circle inside a circle", _circles),
    "spiral": Preset("spiral", "2-32-32-3 ReLU net, softmax cross-entropy, CS231n's three-arm spiral", _spiral),
    "seq": Preset("seq", "RNN(1→8, tanh) + dense 8-2, softmax cross-entropy: are at least 4 of these 8 noisy "
                  "bits 1? (many-to-one)", _seq),
    "seq-lstm": Preset("seq-lstm", "the seq task with an LSTM(1→8): gates i, f, g, o and a cell state c per "
                       "timestep", _seq_lstm),
    "digits": Preset("digits", "784-128-10 ReLU net, softmax cross-entropy, MNIST-format digits from --data",
                     _digits, needs_data=True),
    "bars": Preset("bars", "tiny CNN (conv 3×3 ×2, ReLU, flatten, dense 32-2) on 6×6 images of horizontal "
                   "vs vertical bars", _bars),
    "segments": Preset("segments", "small CNN (conv 3×3 ×8 padded, ReLU, max pool, dense 240-10) on 12×10 "
                       "seven-segment digits 0–9: digits with no download", _segments),
    "digits-cnn": Preset("digits-cnn", "LeNet-like CNN (conv 5×5 ×8, pool, conv 5×5 ×16, pool, 256-64-10) on "
                         "MNIST-format 28×28 digits from --data", _digits_cnn, needs_data=True),
}


def load_preset(name: str = DEFAULT, seed: int = 0, data=None, dtype=np.float64) -> Problem:
    """Build preset ``name``: a fresh model, loss, optimizer and dataset, all seeded."""
    try:
        preset = PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None
    return preset.build(seed, data=data, dtype=dtype)
