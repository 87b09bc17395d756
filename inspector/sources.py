"""Where a session's problem comes from: a preset, or a saved model file with the data it needs."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from engine import load, load_preset
from engine.build import NAMES, optimizer
from engine.build import loss as loss_of
from engine.errors import ShapeError
from engine.presets import PRESETS, Problem

from .errors import SessionError
from .session import Session


def open_preset(name: str, seed: int = 0, data=None, batch=None) -> Session:
    if name not in PRESETS:
        raise SessionError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return Session(lambda s: load_preset(name, seed=s, data=data), seed=seed, batch=batch, source=name)


def guess_preset(model) -> str:
    """The preset whose data fits a model file that does not say where it came from, asked of the data.

    Of the offline presets (seq, seq-lstm, moons, xor, spiral, in that order), those whose examples
    the model takes (``model.check_data``); first those whose labels its output width fits (as many
    outputs as a target has columns, at least as many as there are classes), the most classes
    first; then the one whose network is made of the most of the same layers (seq's RNN, seq-lstm's
    LSTM); then the first. Else digits if it takes MNIST's rows of 28·28 pixels. A model that takes
    images is asked to name its preset: bars, segments and digits-cnn all have images."""
    try:
        width = model.output_shape()[0]
    except ValueError:
        width = None
    own = {type(layer).__name__ for layer in model.layers}
    best, errors = None, {}
    for order, name in enumerate(("seq", "seq-lstm", "moons", "xor", "spiral")):
        problem = load_preset(name)
        try:
            model.check_data(problem.X[:1])
        except (ShapeError, ValueError) as e:
            errors[name] = e
            continue
        Y = np.asarray(problem.Y)
        fits = width is not None and (width == Y.shape[1] if Y.ndim == 2 else width >= len(problem.classes))
        alike = len(own & {type(layer).__name__ for layer in problem.model.layers})
        score = (fits, len(problem.classes) if fits else 0, alike, -order)
        if best is None or score > best[0]:
            best = (score, name)
    if best is not None:
        return best[1]

    def takes(X) -> bool:
        try:
            model.check_data(X)
            return True
        except (ShapeError, ValueError):
            return False
    if takes(np.zeros((1, 28 * 28))):
        return "digits"
    if any(takes(X) for X in (load_preset("bars").X[:1], load_preset("segments").X[:1], np.zeros((1, 1, 28, 28)))):
        raise SessionError("this model takes images; pass --preset bars or --preset digits-cnn "
                           "(with --data) for the images to use")
    raise SessionError(f"this model fits no preset's data (moons: {errors['moons']}; seq: {errors['seq']}); "
                       f"pass --preset NAME for the data to use")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_extra(model, path) -> dict:
    """A model file's metadata (``extra``), each key nndb reads of the right type; SessionError naming
    the first that is not. Metadata is data: a path in it is never opened unless the user names it."""
    extra = getattr(model, "file_extra", None)
    extra = {} if extra is None else extra
    if not isinstance(extra, dict):
        raise SessionError(f"{path}: its metadata must be a JSON object, got {type(extra).__name__}")

    def bad(key: str, wanted: str):
        shown = repr(extra[key]) if not isinstance(extra[key], (dict, list)) else type(extra[key]).__name__
        raise SessionError(f"{path}: metadata {key!r} must be {wanted}, got {shown[:80]}")

    checks = {
        "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63, "a whole number ≥ 0"),
        "batch_size": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 2**20,
                       "a whole number ≥ 1"),
        "preset": (lambda v: isinstance(v, str), "a preset's name"),
        "loss": (lambda v: isinstance(v, str) and v in NAMES["loss"], f"one of {', '.join(NAMES['loss'])}"),
        "data": (lambda v: isinstance(v, dict), "an object"),
        "standardizer": (lambda v: isinstance(v, dict), "an object"),
        "classes": (lambda v: isinstance(v, list) and all(isinstance(c, (str, int, float)) for c in v),
                    "a list of class names"),
        "val": (lambda v: _number(v) and 0 <= v < 1, "a fraction in [0, 1)"),
        "epochs": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a whole number ≥ 0"),
    }
    for key, (ok, wanted) in checks.items():
        if key in extra and extra[key] is not None and not ok(extra[key]):
            bad(key, wanted)
    spec = extra.get("optimizer")
    if spec is not None:
        if not isinstance(spec, dict) or not isinstance(spec.get("type", "sgd"), str):
            bad("optimizer", "an object with a type")
        for name, value in spec.items():
            if name != "type" and not (_number(value) or isinstance(value, bool) or (
                    isinstance(value, list) and len(value) <= 4 and all(_number(v) for v in value))):
                raise SessionError(f"{path}: metadata optimizer {name!r} must be a finite number, got {value!r}"[:200])
        if "lr" in spec and not spec["lr"] > 0:
            raise SessionError(f"{path}: metadata optimizer 'lr' must be a number > 0, got {spec['lr']!r}")
    data = extra.get("data") or {}
    for key in ("csv", "label", "preset"):
        if key in data and data[key] is not None and not isinstance(data[key], (str, int) if key == "label" else str):
            raise SessionError(f"{path}: metadata data.{key} must be text, got {type(data[key]).__name__}")
    return extra


def problem_with_model(model, base: Problem, path) -> Problem:
    """``base``'s data with ``model`` in place of its network; the loss and optimizer from the file."""
    try:
        model.check_data(base.X)
    except ShapeError as e:
        raise SessionError(f"{path} on the {base.name} data: {e}") from None
    extra = check_extra(model, path)
    loss_kind = extra.get("loss") or base.loss.kind
    if loss_kind not in NAMES["loss"]:
        raise SessionError(f"{path}: unknown loss {loss_kind!r}; known: {', '.join(NAMES['loss'])}")
    loss = loss_of(loss_kind)
    n_out = model.output_shape()[0]
    if loss_kind == "softmax_ce" and n_out < len(base.classes):
        raise SessionError(f"{path}: the model has {n_out} outputs but the {base.name} data has "
                           f"{len(base.classes)} classes")
    default = {"type": base.optimizer.kind, **base.optimizer.config()} if base.optimizer else {"type": "sgd", "lr": 0.1}
    spec = dict(extra.get("optimizer") or default)
    kind = spec.pop("type", "sgd")
    try:
        rebuilt = optimizer(kind, model.parameters(), **spec)
    except (TypeError, ValueError) as e:
        raise SessionError(f"{path}: cannot rebuild the optimizer {kind!r} {spec}: {e}") from None
    return Problem(base.name, f"{path} on the {base.name} data", model, loss, rebuilt, base.X, base.Y,
                   base.batch_size, base.epochs, base.classes)


def file_extra(session: Session) -> dict:
    """What a saved model needs to be reopened here: loss, optimizer, preset, seed."""
    return {"loss": session.loss.kind, "optimizer": {"type": session.optimizer.kind, **session.optimizer.config()},
            "preset": session.problem.name, "seed": session.seed, "batch_size": session.problem.batch_size}


def replace_model(session: Session, model, path: str) -> None:
    """Put a loaded model in place of the session's, if it fits the data; then restart on it."""
    problem = problem_with_model(model, session.problem, path)  # raises when it does not fit
    session.reopen(model_file_factory(path, session.problem), path, problem=problem)


def model_file_factory(path, base_preset: str | Problem, data=None):
    """``seed → Problem``: the file's model, freshly loaded, on the preset's data."""
    def factory(seed: int) -> Problem:
        name = base_preset if isinstance(base_preset, str) else base_preset.name
        return problem_with_model(load(path), load_preset(name, seed=seed, data=data), path)
    return factory


def csv_problem(source: dict, extra: dict) -> Problem:
    """The CSV a model was trained on (``nndb train --csv``), standardized as it was in training."""
    from engine import SoftmaxCrossEntropy
    from engine.datasets import Standardizer, read_csv
    table = read_csv(source["csv"], label=source.get("label"))
    X = table.X
    if extra.get("standardizer"):
        X = Standardizer.from_dict(extra["standardizer"]).transform(X)
    name = Path(source["csv"]).name
    return Problem(name, f"{name}: {len(X)} rows, {X.shape[1]} features", None, SoftmaxCrossEntropy(), None,
                   X, np.asarray(table.y), int(extra.get("batch_size", 32)), 1, [str(c) for c in table.classes])


def open_model_file(path, data=None, seed: int = 0, batch=None, preset: str | None = None,
                    csv=None) -> Session:
    """A session on a saved model: on the CSV the user names (``csv``, `--csv`), a preset's data
    (``preset``, else the file's), never on a path the file itself names."""
    model = load(path)
    extra = check_extra(model, path)
    source = dict(extra.get("data") or {})
    if csv is not None or (source.get("csv") and not preset):
        if csv is None:  # the file names a CSV: say so, and that the user names it
            raise SessionError(f"{path} was trained on the CSV file {source['csv']!r}; nndb never opens a path "
                               f"stored in a model file: name the data with --csv FILE (or pass --preset NAME)")
        source["csv"] = str(csv)

        def factory(s: int) -> Problem:
            return problem_with_model(load(path), csv_problem(source, extra), path)
        return Session(factory, seed=seed, batch=batch, source=str(path))
    name = preset or extra.get("preset") or guess_preset(model)
    if name not in PRESETS:
        raise SessionError(f"{path}: made for preset {name!r}, which this nndb does not have; pass --preset")
    return Session(model_file_factory(path, name, data), seed=seed, batch=batch, source=str(path))
