"""The data keys of a lesson's setup: how many points, their noise, a validation split, standardized inputs, MNIST.

``examples`` draws that many points of a 2-D point preset (or takes the first that many MNIST
digits), ``noise`` sets the points' spread, ``validation`` holds out the last N examples as a
validation set the network never trains on, ``stretch`` multiplies the second input (an
ill-conditioned problem, lesson 13; before standardizing), ``standardize: yes`` gives every input feature mean 0
and standard deviation 1 (the training set's mean and std, applied to both sets). ``net: identity``
is the lessons' own linear activation ``A = Z`` (lesson 22: without a non-linearity, stacked layers
are one linear map). lessons/setups.py builds the problem with these; docs/lessons.md lists them.
"""
from __future__ import annotations

import re

import numpy as np

from engine import datasets
from engine.activations import Activation
from engine.errors import DataError

POINTS = {  # preset → (draw(n, noise, seed), default n, default noise), as engine/presets.py draws them
    "moons": (lambda n, noise, seed: datasets.moons(n, noise=noise, seed=seed), 200, 0.1),
    "circles": (lambda n, noise, seed: datasets.circles(n, noise=noise, seed=seed), 200, 0.05),
    "spiral": (lambda n, noise, seed: datasets.spiral(n, classes=3, noise=noise, seed=seed), 300, 0.2),
}
DATA_PRESETS = ("digits",)  # lesson presets that read files: MNIST, found as `nndb train --preset digits` finds it
DATA_KEYS = ("examples", "noise", "validation", "standardize", "dropout")
MAX_EXAMPLES = 10000


class Identity(Activation):
    """``A = Z``; ``dZ = dA``: a linear "activation", so the layers around it compose into one linear map."""

    kind = "identity"
    registered = False  # the lessons' own: no model file names it

    def describe(self, s):
        return {"A": f"{s['out']} = {s['in']}  (identity: no non-linearity)",
                "dZ": f"{s['din']} = {s['dout']}"}

    def forward(self, Z):
        if self.tracer.enabled:
            self.trace_forward(Z, Z)
        return Z

    def backward(self, dA):
        if self.tracer.enabled:
            self.trace_backward(dA, {}, dA)
        return dA


MNIST_NOTE = "needs the MNIST files: not found here (`nndb data download mnist`, or NNDB_MNIST=FOLDER)"


def missing_data(setup: dict[str, str]) -> str | None:
    """Why a lesson's data cannot be opened here (no MNIST folder), or None when it can."""
    if setup.get("preset") not in DATA_PRESETS:
        return None
    try:
        datasets.find_mnist(None, "mnist")
    except DataError as e:
        return f"this lesson reads the MNIST digits, and {e}"
    return None


def lesson_data(setup: dict[str, str], X: np.ndarray, Y: np.ndarray, seed: int):
    """(X, Y, X_val, Y_val) as the data keys ask, from the preset's own (X, Y); X_val is None without
    ``validation``. Inputs are standardized last, with the training set's statistics."""
    preset = setup.get("preset", "moons")
    if preset in POINTS and ("examples" in setup or "noise" in setup):
        draw, n, noise = POINTS[preset]
        X, Y = draw(int(setup.get("examples", n)), float(setup.get("noise", noise)), seed)
    if preset in DATA_PRESETS:  # the 10,000 t10k digits, in every MNIST download: the same lesson everywhere
        folder = datasets.find_mnist(None, "mnist")
        if datasets.find_idx_pair(folder, "test"):
            X, Y = datasets.load_mnist(folder, "test")
    if "examples" in setup and preset not in POINTS:
        X, Y = X[:int(setup["examples"])], Y[:int(setup["examples"])]
    if float(setup.get("stretch", 1)) != 1:  # an ill-conditioned problem: the second input K times larger
        X = X.copy()
        X[:, 1] *= float(setup["stretch"])
    X_val = Y_val = None
    if "validation" in setup:
        k = int(setup["validation"])
        X, Y, X_val, Y_val = X[:-k], Y[:-k], X[-k:], Y[-k:]
    if setup.get("standardize", "no") == "yes":
        mean, std = X.mean(axis=0), X.std(axis=0)
        std = np.where(std > 0, std, 1.0)  # a constant feature (an MNIST corner pixel) stays 0
        X = (X - mean) / std
        X_val = None if X_val is None else (X_val - mean) / std
    return X, Y, X_val, Y_val


def _number(text: str) -> float | None:
    if not re.fullmatch(r"[0-9]{1,6}(\.[0-9]{0,6})?|\.[0-9]{1,6}", text.strip(), re.ASCII):
        return None
    return float(text)


def check_data_keys(setup: dict[str, str], dense: bool) -> str | None:
    """A problem with the data keys of a setup (``dense``: the setup builds a dense net), or None."""
    preset = setup.get("preset", "moons")
    if "noise" in setup:
        if preset not in POINTS:
            return f"noise sets the spread of the points of {', '.join(POINTS)}, not the data of {preset}"
        noise = _number(setup["noise"])
        if noise is None or noise > 10:
            return f"noise must be a number 0..10 (the points' standard deviation), got {setup['noise']!r}"
    n = None
    if "examples" in setup:
        if preset not in (*POINTS, *DATA_PRESETS):
            return f"examples draws points of {', '.join(POINTS)} or takes digits of {', '.join(DATA_PRESETS)}, " \
                   f"not the data of {preset}"
        if not re.fullmatch(r"[0-9]{1,5}", setup["examples"].strip(), re.ASCII) or \
                not 4 <= int(setup["examples"]) <= MAX_EXAMPLES:
            return f"examples must be a whole number 4..{MAX_EXAMPLES}, got {setup['examples']!r}"
        n = int(setup["examples"])
    n = n or (POINTS[preset][1] if preset in POINTS else None)
    if "validation" in setup:
        k = setup["validation"].strip()
        if not re.fullmatch(r"[0-9]{1,5}", k, re.ASCII) or int(k) < 1 or (n is not None and int(k) > n - 4):
            limit = f"1..{n - 4} (at least 4 examples stay to train on)" if n else "≥ 1"
            return f"validation must be a whole number {limit}, got {setup['validation']!r}"
    for key in ("validation", "standardize"):
        if key in setup and preset not in (*POINTS, "xor", *DATA_PRESETS):
            return f"{key} works on the data of {', '.join((*POINTS, 'xor', *DATA_PRESETS))}, not on {preset}'s"
    if "standardize" in setup and setup["standardize"] not in ("yes", "no"):
        return f"standardize must be yes or no, got {setup['standardize']!r}"
    if "dropout" in setup:
        p = _number(setup["dropout"])
        if not dense:
            return "dropout goes after each hidden activation of a dense net: give net, hidden or init too"
        if p is None or not p < 0.95:
            return f"dropout must be a probability 0 ≤ p < 0.95 (the share of activations dropped), got " \
                   f"{setup['dropout']!r}"
    return None
