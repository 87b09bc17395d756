"""One table of the names a problem is built from, and the builders every front end uses.

The table: activations, losses, optimizers and initializers, one canonical spelling each
(``NAMES``), with the old spellings still accepted (``ALIASES``). ``canonical`` turns any
accepted spelling into the table's; ``spelling_note`` says so in words a caller can show.

The builders: ``mlp`` (a dense network), ``optimizer`` (an update rule by name) and ``loss``.
The presets, the lessons' setups, ``nndb train``/``sweep`` and model files all build through them,
so a name accepted in one place is accepted, and builds the same thing, in every other.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .init import INITIALIZERS as INIT_FUNCTIONS
from .activations import LeakyReLU, ReLU, Sigmoid, Tanh
from .layers import Dense, Dropout, Layer
from .losses import LOSSES, Loss
from .model import Sequential
from .optim import SGD, Adam, Optimizer

MOMENTUM = 0.9  # the "momentum" optimizer: SGD with μ = 0.9

ACTIVATIONS: dict[str, type[Layer]] = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "leakyrelu": LeakyReLU}
OPTIMIZERS = ("sgd", "momentum", "adam")
INITIALIZERS = tuple(name for name in INIT_FUNCTIONS if name != "glorot")  # glorot: an alias, below

NAMES: dict[str, tuple[str, ...]] = {
    "activation": tuple(ACTIVATIONS),
    "loss": tuple(LOSSES),
    "optimizer": OPTIMIZERS,
    "initializer": INITIALIZERS,
}
ALIASES: dict[str, dict[str, str]] = {
    "activation": {"leaky-relu": "leakyrelu"},   # the lessons' spelling before issue 11
    "loss": {},
    "optimizer": {},
    "initializer": {"glorot": "xavier"},
}
RELU_FAMILY = ("relu", "leakyrelu")  # he init by default; the others get xavier


def _kind(kind: str) -> str:
    if kind not in NAMES:
        raise ValueError(f"no names of kind {kind!r}; kinds: {', '.join(NAMES)}")
    return kind


def canonical(kind: str, name: str) -> str:
    """``name`` as the table spells it (``leaky-relu`` → ``leakyrelu``); an unknown name unchanged."""
    return ALIASES[_kind(kind)].get(name, name)


def spelling_note(kind: str, name: str) -> str | None:
    """``'leaky-relu' is now spelled 'leakyrelu'`` for an old spelling, else None."""
    new = ALIASES[_kind(kind)].get(name)
    return None if new is None else f"{name!r} is now spelled {new!r}"


def accepted(kind: str) -> tuple[str, ...]:
    """Every spelling of ``kind`` that builds: the canonical names, then the old ones."""
    return NAMES[_kind(kind)] + tuple(ALIASES[kind])


def resolve(kind: str, name: str) -> str:
    """The canonical name, or a ValueError naming the choices."""
    new = canonical(kind, name)
    if new not in NAMES[kind]:
        raise ValueError(f"unknown {kind} {name!r}; choose one of {', '.join(NAMES[kind])}")
    return new


def default_init(activation: str) -> str:
    """He for the ReLU family, Xavier for sigmoid and tanh."""
    return "he" if canonical("activation", activation) in RELU_FAMILY else "xavier"


# -- builders ------------------------------------------------------------------------------------
def mlp(sizes: Sequence[int], activation: str | Callable[[], Layer] | Sequence = "relu", init: str | None = None, *,
        dropout: float = 0.0, output: str | None = None, seed: int | None = 0, dtype=np.float64,
        l2: float = 0.0) -> Sequential:
    """Dense layers of ``sizes`` (input first), ``activation`` (and dropout) after each hidden one.

    The last dense layer gives logits, unless ``output`` names an activation to follow it.
    ``activation`` is a name from the table, a layer class (or any no-argument callable that makes a
    layer), or a list of those, one per hidden layer. ``init`` defaults to He for the ReLU family
    and Xavier otherwise. Layers are made in order, so the weights drawn from ``seed`` are the same
    as those of the same Sequential written out by hand.
    """
    sizes = [int(n) for n in sizes]
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least an input and an output size, got {sizes}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    n_hidden = len(sizes) - 2
    acts = list(activation) if isinstance(activation, (list, tuple)) else [activation] * n_hidden
    if len(acts) != n_hidden:
        raise ValueError(f"{len(acts)} activations for {n_hidden} hidden layers")
    makers = [ACTIVATIONS[resolve("activation", a)] if isinstance(a, str) else a for a in acts]
    if init is None:
        first = next((a for a in acts if isinstance(a, str)), "relu")
        init = default_init(first)
    init = resolve("initializer", init)
    layers: list[Layer] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(n_in, n_out, init=init))
        if i < n_hidden:
            layers.append(makers[i]())
            if dropout:
                layers.append(Dropout(dropout))
    if output is not None:
        layers.append(ACTIVATIONS[resolve("activation", output)]())
    return Sequential(*layers, seed=seed, dtype=dtype, l2=l2)


def optimizer(name: str, params, **hyper) -> Optimizer:
    """The update rule ``name`` over ``params``: ``sgd``, ``momentum`` (SGD, μ = 0.9 unless given), ``adam``."""
    name = resolve("optimizer", name)
    if name == "adam":
        return Adam(params, **hyper)
    if name == "momentum":
        hyper.setdefault("momentum", MOMENTUM)
    return SGD(params, **hyper)


def optimizer_name(opt: Optimizer) -> str:
    """The table's name for an optimizer: ``momentum`` for SGD with momentum, else its kind."""
    return "momentum" if getattr(opt, "momentum", 0) else opt.kind


def loss(name: str) -> Loss:
    """A fresh loss by name: ``mse``, ``softmax_ce``, ``bce``."""
    return LOSSES[resolve("loss", name)]()
