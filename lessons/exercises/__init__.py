"""Build it yourself: exercises where the learner writes a layer's functions and nndb checks them.

Each exercise is a stub file the learner fills in (``stubs/ID.py.txt``, data shipped with the
package: signatures, docstrings with every shape and equation, ``raise NotImplementedError``
bodies, no solution); ``checker.py`` runs the learner's file and compares every function with
the engine (``reference.py``). The learner's file is the only outside Python nndb ever runs, and
only when the learner asks (`nndb check FILE`, `nndb exercise ID --check`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STUBS = Path(__file__).parent / "stubs"
DEFAULT_DIR = Path("nndb-exercises")


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    functions: tuple[str, ...]  # what the learner writes, in order

    def stub_text(self, path: str | Path) -> str:
        """The stub's text, its "run nndb check PATH" line naming where it was written."""
        return (STUBS / f"{self.id}.py.txt").read_text(encoding="utf-8").replace("{path}", str(path))


# The table, in its order: IDs and functions are what lessons and teachers refer to.
EXERCISES: dict[str, Exercise] = {e.id: e for e in [
    Exercise("sigmoid", "the sigmoid, forward and backward", ("sigmoid_forward", "sigmoid_backward")),
    Exercise("relu", "ReLU, forward and backward (the gradient at Z = 0)", ("relu_forward", "relu_backward")),
    Exercise("dense", "a dense layer: Z = X·W + b and its three gradients", ("dense_forward", "dense_backward")),
    Exercise("softmax-ce", "softmax with cross-entropy, stable for large logits",
             ("softmax_ce_forward", "softmax_ce_backward")),
    Exercise("mse", "the mean squared error and its gradient", ("mse_forward", "mse_backward")),
    Exercise("l2", "L2 regularization: the penalty and its gradient", ("l2_penalty", "l2_gradient")),
    Exercise("sgd-momentum", "one update of SGD with momentum", ("momentum_update",)),
    Exercise("adam", "one Adam update, with bias correction", ("adam_update",)),
    Exercise("conv2d", "2-D convolution with stride and padding, forward and backward",
             ("conv2d_forward", "conv2d_backward")),
    Exercise("maxpool", "max pooling, forward and backward (overlaps and ties)", ("maxpool_forward", "maxpool_backward")),
    Exercise("rnn", "a tanh RNN: one step forward, backpropagation through time", ("rnn_step_forward", "rnn_backward")),
    Exercise("vectorize", "replace a dense layer's loops with one matrix product (timed)", ("dense_forward_vectorized",)),
]}


def exercise_of(function: str) -> Exercise | None:
    return next((e for e in EXERCISES.values() if function in e.functions), None)
