"""Lesson setups: a preset's data with the network, initialization and optimizer a lesson asks for.

Front-matter keys: ``preset`` (data and default net), ``seed``, ``batch``, ``hidden`` (``8,8``),
``net`` (``relu``, ``sigmoid``, ``tanh``, ``leakyrelu``, ``deep-sigmoid``, ``planted-bug``), ``init``
(``he``, ``xavier``, ``small``, ``zeros``, ``large``), ``optimizer`` (``sgd``, ``momentum``, ``adam``),
``lr``, ``l2``; for the bars CNN ``filters`` and ``pool`` (``max``, ``avg``, ``none``); for the
segments digits ``size`` (``28``: the digits drawn on 28×28 images, MNIST's size, no download; for a dense net).
A step's ``use: ID`` (the build track) runs the learner's functions of exercise ID, from their file in
the exercises folder, in place of the engine's (lessons/exercises/use.py); UseError if it cannot.

The activation, initializer and optimizer names are the engine's (engine/build.py), old spellings
included (``leaky-relu`` builds ``leakyrelu``); ``deep-sigmoid`` and ``planted-bug`` are the lessons'
own nets, and ``large`` the lessons' own init (He × 10).

``hidden``, ``net`` and ``init`` build a dense net, so they need a preset of 2-D points or the
segments digits, flattened (``DENSE_PRESETS``); ``bars`` and ``seq`` otherwise open the preset's own CNN
and RNN. ``preset: segments``, ``size: 28``, ``hidden: 128`` is an MNIST-sized 784-128-10 net.

A step may change any of these keys (``setup: net: tanh`` under its heading, see
lessons/format.py); when the step begins the runner restarts the session with the lesson's
setup updated (``merged``).
"""
from __future__ import annotations

import re

import numpy as np

from engine import Dense, ReLU, load_preset
from engine.build import NAMES, canonical, default_init, mlp, optimizer, optimizer_name
from engine.conv import AvgPool2D, Conv2D, Flatten, MaxPool2D
from engine.errors import DataError
from engine.model import Sequential
from engine.presets import PRESETS, Problem

from .exercises import EXERCISES
from .setup_data import DATA_PRESETS, Identity, check_data_keys, lesson_data, missing_data

NETS = (*NAMES["activation"], "deep-sigmoid", "planted-bug", "identity")
INITS = (*NAMES["initializer"], "large")
OPTIMIZERS = NAMES["optimizer"]
SPELLING = {"net": "activation", "init": "initializer", "optimizer": "optimizer"}  # setup key → kind of name
POOLS = ("max", "avg", "none")
DENSE_PRESETS = ("xor", "moons", "circles", "spiral", "segments", "digits")  # `hidden`, `net`, `init` build on them
POINT_PRESETS = ("xor", "moons", "circles", "spiral")  # 2-D points: `stretch` scales their second input
IMAGE_PRESETS = ("segments",)                          # `size` draws its digits bigger
CONV_PRESETS = ("bars",)                               # 6×6 images: `filters`, `pool` change the CNN


def merged(setup: dict[str, str], changes: dict[str, str]) -> dict[str, str]:
    """The setup after a step's ``setup:`` changes (a new dict; the lesson's own is untouched)."""
    return {**setup, **changes}


class ForgetfulReLU(ReLU):
    """A ReLU with a planted backward bug (lesson 8): it forgets the mask, dZ = dA everywhere.

    Its equation still promises ``dZ = dA ⊙ 1[Z > 0]``: a gradient check — or `explain` — shows
    the code does something else.
    """

    registered = False  # a lesson's planted bug: no model file may name it, no error list shows it

    def backward(self, dA):
        dZ = dA * 1.0  # the bug: should be dA * (self.Z > 0)
        if self.tracer.enabled:
            self.trace_backward(dA, {self.sym["in"]: self.Z}, dZ)
        return dZ


def spelled(setup: dict[str, str]) -> dict[str, str]:
    """The setup with the engine's spelling of every name (``net: leaky-relu`` → ``net: leakyrelu``)."""
    return {k: canonical(SPELLING[k], v) if k in SPELLING else v for k, v in setup.items()}


def setup_problem(setup: dict[str, str], seed: int) -> Problem:
    """The Problem a lesson's front matter describes (validated by ``check_setup`` first)."""
    setup = spelled(setup)
    if missing_data(setup):  # before load_preset: its error would not say that the lesson needs the files
        raise DataError(missing_data(setup))
    base = load_preset(setup.get("preset", "moons"), seed=seed)
    custom = any(k in setup for k in ("net", "hidden", "init"))
    model, X = base.model, base.X
    X, Y, X_val, Y_val = lesson_data(setup, X, base.Y, seed)  # examples, noise, validation, standardize
    if "size" in setup:
        X = scaled(X, int(setup["size"]))
    if custom and X.ndim > 2:  # a dense net reads each image as one row of pixels
        X = X.reshape(len(X), -1)
    if custom:
        n_in, n_out = X.shape[1], model.output_shape()[0]
        net = setup.get("net", "relu")
        hidden = [int(h) for h in setup.get("hidden", "16,16,16,16" if net == "deep-sigmoid" else "8,8").split(",")]
        act = {"deep-sigmoid": "sigmoid", "planted-bug": "relu", "identity": "relu"}.get(net, net)
        init = setup.get("init", default_init(act))
        acts = [act] * len(hidden)
        if net == "planted-bug":
            acts[-1] = ForgetfulReLU
        if net == "identity":
            acts = [Identity] * len(hidden)
        model = mlp([n_in, *hidden, n_out], acts, "he" if init == "large" else init, seed=seed,
                    output="sigmoid" if base.loss.kind == "mse" else None,  # MSE on probabilities, as xor
                    dropout=float(setup.get("dropout", 0)))
        if init == "large":
            for p in model.decayed_parameters():  # the weights, as the layers say (not the biases)
                p.value = p.value * 10.0
    if any(k in setup for k in ("filters", "pool")):
        model = bars_cnn(base.X.shape, int(setup.get("filters", 2)), setup.get("pool", "none"),
                         model.output_shape()[0], seed)
        custom = True
    if "l2" in setup:
        model.l2 = float(setup["l2"])
    kind = setup.get("optimizer", optimizer_name(base.optimizer))
    lr = float(setup.get("lr", base.optimizer.lr))
    problem = Problem(base.name, base.description if not custom else f"lesson network on the {base.name} data",
                      model, base.loss, optimizer(kind, model.parameters(), lr=lr), X, Y,
                      base.batch_size, base.epochs, base.classes, X_val, Y_val)
    if "use" in setup:  # the learner's functions run in place of the engine's, which runs alongside
        from .commands import learner_file
        from .exercises.use import learner_problem
        problem, _ = learner_problem(problem, learner_file(setup["use"]))
    return problem


def scaled(X: np.ndarray, size: int) -> np.ndarray:
    """Images (n, C, H, W) drawn on size×size pixels: each new pixel copies the nearest old one."""
    rows = np.arange(size) * X.shape[2] // size
    cols = np.arange(size) * X.shape[3] // size
    return X[:, :, rows][:, :, :, cols]


def bars_cnn(image_shape: tuple, filters: int, pool: str, n_out: int, seed: int) -> Sequential:
    """The bars preset's CNN with ``filters`` 3×3 filters and, unless ``pool`` is none, a 2×2 pooling layer.

    conv1 → relu1 → [maxpool1 | avgpool1] → flatten1 → dense2; with the defaults (2, none) it is the
    preset's own net, with the same weights for the same seed.
    """
    _, C, H, W = image_shape
    oh, ow = H - 2, W - 2                 # a 3×3 filter, stride 1, no padding
    layers = [Conv2D(C, filters, 3), ReLU()]
    if pool != "none":
        layers.append(MaxPool2D(2) if pool == "max" else AvgPool2D(2))
        oh, ow = oh // 2, ow // 2
    return Sequential(*layers, Flatten(), Dense(filters * oh * ow, n_out), seed=seed)


def listed(words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


MAX_HIDDEN_LAYERS = 8
NUMBER = re.compile(r"[+-]?([0-9]{1,20}(\.[0-9]{0,20})?|\.[0-9]{1,20})([eE][+-]?[0-9]{1,3})?", re.ASCII)


def whole(text: str, digits: int = 6) -> bool:
    """ASCII digits only, at most ``digits`` of them (``str.isdigit`` accepts ``²``, which int() refuses)."""
    return re.fullmatch(f"[0-9]{{1,{digits}}}", text.strip(), re.ASCII) is not None


def check_setup(setup: dict[str, str]) -> str | None:
    """A problem with a lesson's setup keys, or None."""
    preset = setup.get("preset", "moons")
    if preset not in PRESETS or (PRESETS[preset].needs_data and preset not in DATA_PRESETS):
        return f"preset must be one of {', '.join(n for n, p in PRESETS.items() if not p.needs_data)}, " \
               f"or {', '.join(DATA_PRESETS)} (MNIST files)"
    dense_keys = [k for k in ("net", "hidden", "init") if k in setup]
    if dense_keys and preset not in DENSE_PRESETS:
        return (f"{listed(dense_keys)} build{'s' if len(dense_keys) == 1 else ''} a dense net, for the "
                f"presets {', '.join(DENSE_PRESETS)}; {preset} opens its own network")
    conv_keys = [k for k in ("filters", "pool") if k in setup]
    if conv_keys and preset not in CONV_PRESETS:
        return (f"{listed(conv_keys)} change{'s' if len(conv_keys) == 1 else ''} the CNN of the presets "
                f"{', '.join(CONV_PRESETS)}, not the network of {preset}")
    problem = check_data_keys(setup, bool(dense_keys))
    if problem:
        return problem
    if "size" in setup and preset not in IMAGE_PRESETS:
        return f"size draws the digits of the presets {', '.join(IMAGE_PRESETS)} bigger, not the data of {preset}"
    if "size" in setup and not dense_keys:
        return "size draws the digits for a dense net: give hidden too (e.g. hidden: 128), the CNN reads 12×10"
    if "size" in setup and not (whole(setup["size"]) and 12 <= int(setup["size"]) <= 64):
        return f"size must be a whole number 12..64 (28 is MNIST's 28×28), got {setup['size']!r}"
    if "filters" in setup and not (whole(setup["filters"]) and 1 <= int(setup["filters"]) <= 16):
        return f"filters must be a whole number 1..16, got {setup['filters']!r}"
    for key, allowed in (("net", NETS), ("init", INITS), ("optimizer", OPTIMIZERS), ("pool", POOLS)):
        if key in setup and spelled({key: setup[key]})[key] not in allowed:
            return f"{key} must be one of {', '.join(allowed)}, got {setup[key]!r}"
    for key in ("seed",):
        if key in setup and not whole(setup[key], 10):
            return f"{key} must be a whole number (at most 10 digits), got {setup[key]!r}"
    if "stretch" in setup and preset not in POINT_PRESETS:
        return f"stretch scales the second input of the presets {', '.join(POINT_PRESETS)}, not the data of {preset}"
    for key in ("lr", "l2", "stretch"):
        if key in setup:
            try:
                if not NUMBER.fullmatch(setup[key]) or not float(setup[key]) >= 0 or not np.isfinite(float(setup[key])):
                    raise ValueError
            except ValueError:
                return f"{key} must be a number ≥ 0, got {setup[key]!r}"
    if "use" in setup and setup["use"] not in EXERCISES:
        return f"use names the exercise whose functions run in the network: one of {', '.join(EXERCISES)}, " \
               f"got {setup['use'][:40]!r}"
    if "batch" in setup and not re.fullmatch(r"[0-9]{0,6}\s*:\s*[0-9]{0,6}|[0-9]{1,6}(\s*,\s*[0-9]{1,6}){0,255}",
                                             setup["batch"].strip(), re.ASCII):
        return f"batch must be a range like 0:8 or a list like 3,5,7 (at most 256 rows), got {setup['batch']!r}"
    if "hidden" in setup:
        parts = setup["hidden"].split(",")
        if len(parts) > MAX_HIDDEN_LAYERS or not all(whole(p.strip()) and 0 < int(p) <= 256 for p in parts):
            return (f"hidden must list 1..{MAX_HIDDEN_LAYERS} layer widths 1..256 like 8,8, "
                    f"got {setup['hidden'][:60]!r}")
    return None
