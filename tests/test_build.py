"""One table of names, one mlp builder, one optimizer builder (issue 11): every front end agrees."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

from engine import Dense, Sequential, Sigmoid, load, load_preset
from engine.activations import LeakyReLU, ReLU
from engine.build import (ACTIVATIONS, ALIASES, NAMES, accepted, canonical, loss, mlp, optimizer,
                          optimizer_name, resolve, spelling_note)
from engine.presets import PRESETS
from inspector import cli
from lessons.setups import INITS, NETS, OPTIMIZERS, check_setup, setup_problem

OFFLINE = [n for n, p in PRESETS.items() if not p.needs_data]
KEYS = {"activation": "net", "initializer": "init", "optimizer": "optimizer"}  # kind → lesson setup key


def weights(model) -> list[tuple[str, np.ndarray]]:
    return [(p.name, np.asarray(p.value)) for p in model.parameters()]


def same_model(a, b) -> bool:
    if [type(l) for l in a.layers] != [type(l) for l in b.layers] or a.config() != b.config():
        return False
    return all(na == nb and wa.dtype == wb.dtype and np.array_equal(wa, wb)
               for (na, wa), (nb, wb) in zip(weights(a), weights(b)))


# -- the table -----------------------------------------------------------------------------------
def test_every_alias_names_a_canonical_name_and_says_so():
    for kind, aliases in ALIASES.items():
        for old, new in aliases.items():
            assert new in NAMES[kind] and old not in NAMES[kind]
            assert canonical(kind, old) == new == resolve(kind, old)
            assert spelling_note(kind, old) == f"{old!r} is now spelled {new!r}"
        for name in NAMES[kind]:
            assert canonical(kind, name) == name and spelling_note(kind, name) is None
    assert canonical("activation", "leaky-relu") == "leakyrelu"
    assert spelling_note("activation", "leaky-relu") == "'leaky-relu' is now spelled 'leakyrelu'"
    assert accepted("activation") == ("relu", "sigmoid", "tanh", "leakyrelu", "leaky-relu")


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown activation 'capsule'; choose one of relu, sigmoid, tanh, leakyrelu"):
        mlp([2, 3, 1], "capsule")
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'; choose one of sgd, momentum, adam"):
        optimizer("rmsprop", [])
    with pytest.raises(ValueError, match="unknown initializer"):
        mlp([2, 3, 1], "relu", "orthogonal")
    with pytest.raises(ValueError, match="unknown loss"):
        loss("hinge")
    assert canonical("activation", "capsule") == "capsule"  # for the caller's own error


@pytest.mark.parametrize("kind,old,new", [(k, o, n) for k, a in ALIASES.items() for o, n in a.items()
                                          if k in ("activation", "initializer")])
def test_an_old_spelling_builds_the_same_network_as_the_new(kind, old, new):
    def build(name):
        if kind == "activation":
            return mlp([3, 5, 4, 2], name, seed=4, dropout=0.25, l2=0.1)
        return mlp([3, 5, 4, 2], "tanh", name, seed=4)
    assert same_model(build(old), build(new))


def test_optimizer_builder_is_the_classes_with_the_table_names():
    params = mlp([2, 3, 2]).parameters()
    assert optimizer("sgd", params, lr=0.5).config() == {"lr": 0.5, "momentum": 0.0, "nesterov": False}
    assert optimizer("momentum", params, lr=0.5).config() == {"lr": 0.5, "momentum": 0.9, "nesterov": False}
    assert optimizer("momentum", params, lr=0.5, momentum=0.5).config()["momentum"] == 0.5
    assert optimizer("adam", params, lr=0.01).kind == "adam"
    for name in NAMES["optimizer"]:
        assert optimizer_name(optimizer(name, params, lr=0.1)) == name


def test_mlp_is_the_sequential_written_by_hand():
    """Same layers in the same order, so the same draws from the seed."""
    by_hand = Sequential(Dense(2, 4, init="he"), LeakyReLU(), Dense(4, 3, init="he"), LeakyReLU(),
                         Dense(3, 1, init="he"), Sigmoid(), seed=7, dtype=np.float32)
    assert same_model(mlp([2, 4, 3, 1], "leakyrelu", output="sigmoid", seed=7, dtype=np.float32), by_hand)
    assert mlp([2, 4, 1], "sigmoid").layers[0].init == "xavier" and mlp([2, 4, 1], "relu").layers[0].init == "he"
    odd = mlp([2, 4, 4, 1], ["relu", LeakyReLU], "xavier")
    assert [type(l) for l in odd.layers] == [Dense, ReLU, Dense, LeakyReLU, Dense]


@pytest.mark.parametrize("name", ["xor", "moons", "spiral"])
def test_dense_presets_build_what_they_built_before_the_builder(name):
    """The presets' networks as they were written out before issue 11: same weights, same optimizer."""
    p = load_preset(name, seed=3)
    if name == "xor":
        old = Sequential(Dense(2, 2, init="xavier"), Sigmoid(), Dense(2, 1, init="xavier"), Sigmoid(), seed=3)
        config = {"lr": 2.0, "momentum": 0.0, "nesterov": False}
    else:
        hidden = {"moons": 8, "spiral": 32}[name]
        n_out = p.model.output_shape()[0]
        old = Sequential(Dense(2, hidden, init="he"), ReLU(), Dense(hidden, hidden, init="he"), ReLU(),
                         Dense(hidden, n_out, init="he"), seed=3)
        config = {"lr": 0.05, "momentum": 0.9, "nesterov": False}
    assert same_model(p.model, old) and p.optimizer.config() == config


# -- every front end takes the table's names -------------------------------------------------------
@pytest.mark.parametrize("name", OFFLINE)
def test_presets_are_built_from_the_table(name):
    p = load_preset(name)
    assert optimizer_name(p.optimizer) in NAMES["optimizer"] and p.loss.kind in NAMES["loss"]
    for layer in p.model.layers:
        assert layer.kind in (*NAMES["activation"], "dense", "conv", "maxpool", "avgpool", "flatten", "rnn", "lstm",
                              "dropout"), layer.kind
        if isinstance(layer, Dense):
            assert layer.init in NAMES["initializer"]


def test_lesson_setups_take_the_table_names_and_their_old_spellings():
    assert set(NAMES["activation"]) <= set(NETS) and set(NAMES["initializer"]) <= set(INITS)
    assert OPTIMIZERS == NAMES["optimizer"]
    assert set(NETS) - set(NAMES["activation"]) == {"deep-sigmoid", "planted-bug", "identity"}
    assert set(INITS) - set(NAMES["initializer"]) == {"large"}
    for kind, key in KEYS.items():
        for name in accepted(kind):
            assert check_setup({"preset": "moons", key: name}) is None, (key, name)
        for old, new in ALIASES[kind].items():
            a = setup_problem({"preset": "moons", key: old}, seed=2)
            b = setup_problem({"preset": "moons", key: new}, seed=2)
            assert same_model(a.model, b.model) and a.optimizer.config() == b.optimizer.config()
    assert check_setup({"preset": "moons", "net": "capsule"}).startswith("net must be one of relu, sigmoid, tanh, "
                                                                        "leakyrelu, deep-sigmoid, planted-bug")


def test_lesson_leaky_relu_is_the_engines():
    p = setup_problem({"preset": "moons", "net": "leaky-relu"}, seed=0)
    assert [l.kind for l in p.model.layers] == ["dense", "leakyrelu", "dense", "leakyrelu", "dense"]
    assert same_model(p.model, mlp([2, 8, 8, 2], "leakyrelu", "he", seed=0))


def subparser(name: str) -> argparse.ArgumentParser:
    action = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_the_cli_choices_are_the_table(command):
    options = {a.dest: a for a in subparser(command)._actions}
    assert tuple(options["activation"].choices) == NAMES["activation"]
    assert tuple(options["optimizer"].choices) == NAMES["optimizer"]
    if command == "train":
        assert tuple(options["init"].choices) == NAMES["initializer"]
    for kind, dest in (("activation", "activation"), ("optimizer", "optimizer"), ("initializer", "init")):
        if dest not in options:
            continue
        for name in accepted(kind):
            args = subparser(command).parse_args([f"--{dest}", name, "--preset", "moons", "--out", "m.npz"])
            assert getattr(args, dest) == canonical(kind, name)


def test_train_takes_an_old_spelling_and_says_so(tmp_path, capsys):
    out = tmp_path / "leaky.npz"
    rc = cli.main(["train", "--preset", "moons", "--activation", "leaky-relu", "--init", "glorot", "--epochs", "1",
                   "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "--activation: 'leaky-relu' is now spelled 'leakyrelu'" in text
    assert "--init: 'glorot' is now spelled 'xavier'" in text
    model = load(out)
    assert [l.kind for l in model.layers][:2] == ["dense", "leakyrelu"] and model.layers[0].init == "xavier"


def test_a_model_file_optimizer_is_rebuilt_by_the_builder(tmp_path):
    from inspector.sources import problem_with_model
    base = load_preset("moons")
    model = mlp([2, 8, 8, 2], "relu", seed=0)
    model.file_extra = {"loss": "softmax_ce", "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9}}
    p = problem_with_model(model, base, "m.npz")
    assert optimizer_name(p.optimizer) == "momentum" and p.optimizer.lr == 0.1 and p.loss.kind == "softmax_ce"
    assert set(ACTIVATIONS) == set(NAMES["activation"])


# -- gradcheck thresholds and phase colours: defined once ---------------------------------------------
def test_gradcheck_thresholds_are_read_from_the_engine():
    from engine import gradcheck
    from inspector.commands import REGISTRY
    from inspector.render import verdict_style
    from lessons import all_lessons
    E, A, W = gradcheck.EXCELLENT, gradcheck.ACCEPTABLE, gradcheck.WRONG
    assert [gradcheck.power_of_ten(x) for x in (E, A, W)] == ["1e-7", "1e-4", "1e-2"]
    assert gradcheck.verdict(E) == "excellent" and gradcheck.verdict(E * 1.01) != "excellent"
    assert gradcheck.verdict(W) != "wrong" and gradcheck.verdict(W * 1.01) == "wrong"
    assert [verdict_style(x) for x in (E, E * 1.01, W, W * 1.01, float("nan"))] == \
        ["green", "yellow", "yellow", "bold red", "bold red"]
    help_text = " ".join(REGISTRY["gradcheck"].help.split())
    assert (f"≤ {gradcheck.power_of_ten(E)} excellent, ≤ {gradcheck.power_of_ten(A)} acceptable near a kink, "
            f"> {gradcheck.power_of_ten(W)} wrong") in help_text
    lesson = next(l for l in all_lessons() if l.id == "gradient-check")
    text = " ".join(" ".join([lesson.intro, *(s.text for s in lesson.steps)]).split())
    assert (f"excellent (≤ {gradcheck.power_of_ten(E)}), acceptable near a ReLU kink "
            f"(≤ {gradcheck.power_of_ten(A)}), wrong (> {gradcheck.power_of_ten(W)})") in text


def test_phase_colours_are_one_table():
    from pathlib import Path

    from engine.trace import Op
    from inspector.render import PHASE_STYLE, op_header
    for phase, colour in PHASE_STYLE.items():
        op = Op(index=0, layer="dense1", phase=phase, kind="dense.forward", equation="Z1 = X·W1 + b1",
                inputs={}, outputs={})
        header = op_header(op)
        assert any(str(span.style) == colour for span in header.spans), (phase, header.spans)
    root = Path(__file__).resolve().parent.parent / "inspector"
    tables = [p for p in root.rglob("*.py") if '"backward": "magenta"' in p.read_text(encoding="utf-8")]
    assert [p.name for p in tables] == ["render.py"]


def test_datasets_facade_reexports_each_module():
    from engine import datasets
    from engine.datasets import mnist, tabular, toy
    for module in (toy, mnist, tabular):
        assert (module.__doc__ or "").strip(), module.__name__
        for name in module.__all__:
            assert getattr(datasets, name) is getattr(module, name), name
    assert datasets.download_mnist is mnist.download_mnist and datasets.moons is toy.moons
