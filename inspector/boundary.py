"""The decision boundary of a model on 2-input data: the predicted class and its probability over a grid."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MARGIN = 0.1  # of the data's range, added on each side so points on the edge are not on the frame


@dataclass
class Boundary:
    """A ``rows × cols`` grid over the plane: row 0 is the top (largest x1), column 0 the left (smallest x0).

    ``xs`` and ``ys`` are the centres of the columns and rows; ``classes[r, c]`` the class predicted at
    (xs[c], ys[r]) and ``probability[r, c]`` how sure the model is of it (its probability, in [0, 1]).
    """

    xs: np.ndarray
    ys: np.ndarray
    classes: np.ndarray
    probability: np.ndarray
    n_classes: int

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(x0 min, x0 max, x1 min, x1 max) of the cell centres."""
        return float(self.xs[0]), float(self.xs[-1]), float(self.ys[-1]), float(self.ys[0])

    def cell_of(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of the grid cell nearest each point (clipped to the grid)."""
        points = np.asarray(points, dtype=float)
        col = np.rint(np.interp(points[:, 0], self.xs, np.arange(len(self.xs)))).astype(int)
        # ys decreases down the rows; np.interp needs increasing abscissae
        row = len(self.ys) - 1 - np.rint(np.interp(points[:, 1], self.ys[::-1], np.arange(len(self.ys)))).astype(int)
        return row, col


def is_two_input(X) -> bool:
    """Whether examples ``X`` are points of the plane: a (n, 2) array."""
    return np.ndim(X) == 2 and np.shape(X)[1] == 2


def grid(X, cols: int, rows: int, margin: float = MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """Centres of a ``rows × cols`` grid covering the points ``X`` (n, 2) and ``margin`` of their range
    on each side; xs increase left to right, ys decrease top to bottom (the plane as drawn)."""
    X = np.asarray(X, dtype=float)
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.where(hi - lo > 1e-12, hi - lo, 1.0)
    lo, hi = lo - margin * span, hi + margin * span
    xs = np.linspace(lo[0], hi[0], max(cols, 1))
    ys = np.linspace(hi[1], lo[1], max(rows, 1))
    return xs, ys


def class_probabilities(loss, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, its probability) per row of a network output, as ``loss`` reads the output:
    the loss's own ``classify``; the probability from its ``probabilities`` (softmax, sigmoid), or for a
    loss without them (MSE on a sigmoid output) the output itself, clipped to [0, 1]."""
    classes = loss.classify(out)
    if hasattr(loss, "probabilities"):
        P = np.asarray(loss.probabilities(out), dtype=float)
    else:
        P = np.clip(np.asarray(out, dtype=float), 0.0, 1.0)
    if P.shape[-1] == 1:  # one output: the probability of class 1
        p1 = P[:, 0]
        return classes, np.where(classes == 1, p1, 1.0 - p1)
    return classes, P[np.arange(len(P)), classes]


def decision_boundary(model, loss, X, cols: int, rows: int, margin: float = MARGIN) -> Boundary:
    """The class ``model`` predicts over a grid around the points ``X`` (n, 2): one forward pass over the
    ``rows × cols`` grid (eval mode, untraced: ``model.predict``)."""
    if not is_two_input(X):
        raise ValueError(f"a decision boundary needs 2-input data; these examples have shape {np.shape(X)[1:]}")
    xs, ys = grid(X, cols, rows, margin)
    gx, gy = np.meshgrid(xs, ys)
    out = model.predict(np.column_stack([gx.ravel(), gy.ravel()]))
    classes, prob = class_probabilities(loss, out)
    n_classes = max(int(model.output_shape()[0]), 2)
    return Boundary(xs, ys, classes.reshape(rows, cols), prob.reshape(rows, cols), n_classes)
