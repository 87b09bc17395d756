"""Lessons 22–29 (issue 15): the claims their texts make, and the debugger features they use: the data keys
(examples, noise, validation, standardize, dropout, net: identity), train_acc/val_acc and friends,
`train N epochs batch B`, `curves` in the REPL and the TUI, and the MNIST lesson's note when the files are missing."""
from __future__ import annotations

import asyncio
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from inspector.commands import Interpreter
from inspector.render import render_result
from inspector.repl import run_script
from inspector.running import train
from inspector.session import Session
from lessons import all_lessons
from lessons.runner import LessonRunner
from lessons.setup_data import MNIST_NOTE, missing_data
from lessons.setups import check_setup, setup_problem

REPO = Path(__file__).resolve().parent.parent
BY_ID = {lesson.id: lesson for lesson in all_lessons()}
NEW = ["why-nonlinearity", "overfitting", "mini-batches", "learning-rate-in-practice", "initialization-variance",
       "input-normalization", "numerical-stability", "one-real-digit"]


@pytest.fixture(autouse=True)
def state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def solution(lesson_id: str) -> list[str]:
    text = (REPO / "lessons" / "solutions" / f"{lesson_id}.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def play_to(runner: LessonRunner, lines: list[str], upto: str, start: int = 0) -> int:
    """Run the solution from ``start`` through the first line equal to ``upto`` (after ``start``); its index + 1.
    The results are kept in ``runner.played`` (what the learner saw, restarts included)."""
    runner.played = getattr(runner, "played", [])
    for i in range(start, len(lines)):
        result = runner.run(lines[i])
        assert result.ok, (lines[i], result.message)
        runner.played.append(result)
        if lines[i] == upto:
            return i + 1
    raise AssertionError(f"{upto!r} is not in the solution after line {start}")


def value(runner: LessonRunner, text: str) -> float:
    return float(np.ravel(runner.session.evaluate(text)[1])[0])


def shown_before_restart(runner: LessonRunner, name: str) -> float:
    """The latest `before the restart: NAME = V` the learner was shown (a step's setup restarts the debugger)."""
    prefix = f"before the restart: {name} = "
    lines = [line for r in runner.played for line in r.extra if line.startswith(prefix)]
    assert lines, f"{name} was not shown before a restart"
    return float(lines[-1].removeprefix(prefix))


def last_train(runner: LessonRunner) -> dict:
    return next(r.data for r in reversed(runner.played) if r.kind == "train")


def session_for(setup: dict, seed: int = 0) -> Session:
    assert check_setup(setup) is None, check_setup(setup)
    return Session(lambda s: setup_problem(setup, s), seed=seed)


# -- the lessons: 22 to 29, orders and the shape of each ------------------------------------------------------
def test_the_new_lessons_come_as_orders_22_to_29_with_solutions():
    assert [BY_ID[i].order for i in NEW] == list(range(22, 30))
    for lesson_id in NEW:
        lesson = BY_ID[lesson_id]
        assert lesson.path.name == f"{lesson.order}-{lesson_id}.md" or lesson.path.name.startswith(f"{lesson.order}-")
        assert 4 <= len(lesson.steps) <= 7
        for step in lesson.steps:
            if step.predict:
                assert step.why, f"{lesson_id}: {step.title} predicts without a why"
            if any(c.name == "answered" for c in step.checks):
                assert 3 <= len(step.choices) <= 4, f"{lesson_id}: {step.title}"
            assert len(step.hints) >= 2, f"{lesson_id}: {step.title}: hints go nudge → idea → command"
            assert "`" in step.hints[-1], f"{lesson_id}: {step.title}: the last hint gives the commands"


# -- 22 why a non-linearity ----------------------------------------------------------------------------------------
def test_why_nonlinearity_identity_net_is_one_affine_map_and_stalls_at_a_line():
    runner = LessonRunner(BY_ID["why-nonlinearity"])
    lines = solution("why-nonlinearity")
    i = play_to(runner, lines, "until Z3")
    assert value(runner, "Z3[0,1]") == pytest.approx(0.6145, abs=5e-5)
    assert value(runner, "Z3[1,1]") == pytest.approx(0.1808, abs=5e-5)
    assert value(runner, "Z3[2,1]") == pytest.approx(0.3977, abs=5e-5)
    assert value(runner, "abs(Z3[2,0] - (Z3[0,0] + Z3[1,0]) / 2)") < 1e-12  # both columns: affine
    i = play_to(runner, lines, "train 500", i)
    assert value(runner, "train_acc") == pytest.approx(0.89)
    train(runner.session, 2000)  # the choice's claim: 2000 more iterations, still the best line
    assert value(runner, "train_acc") == pytest.approx(0.89)
    # the whole net is X·W + c with W = W1·W2·W3 (the composed map), at any weights
    s = runner.session
    v = s.values_at()
    W = v["W1"] @ v["W2"] @ v["W3"]
    c = (v["b1"] @ v["W2"] + v["b2"]) @ v["W3"] + v["b3"]
    X = np.asarray(s.problem.X)
    np.testing.assert_allclose(s.model_at_cursor().predict(X), X @ W + c, atol=1e-10)


def test_why_nonlinearity_relu_breaks_the_midpoint_and_reaches_100_percent():
    runner = LessonRunner(BY_ID["why-nonlinearity"])
    lines = solution("why-nonlinearity")
    i = play_to(runner, lines, "answer a")
    i = play_to(runner, lines, "print Z3[2,1] - (Z3[0,1] + Z3[1,1]) / 2", i)
    assert value(runner, "Z3[2,1] - (Z3[0,1] + Z3[1,1]) / 2") == pytest.approx(0.2489, abs=5e-5)
    play_to(runner, lines, "print train_acc", i)
    assert value(runner, "train_acc") == 1.0 and runner.done


# -- 23 overfitting and validation ---------------------------------------------------------------------------------
def test_overfitting_train_reaches_100_percent_while_validation_stalls_then_l2_and_dropout_close_the_gap():
    runner = LessonRunner(BY_ID["overfitting"])
    s = runner.session
    assert (len(s.problem.X), len(s.problem.X_val)) == (40, 200)
    assert sum(p.value.size for p in s.model.decayed_parameters()) == 4352
    lines = solution("overfitting")
    i = play_to(runner, lines, "print val_acc")
    assert value(runner, "trained_iterations") == 3 and value(runner, "val_acc") == pytest.approx(0.805)
    i = play_to(runner, lines, "print train_acc - val_acc", i)
    assert value(runner, "train_acc") == 1.0 and value(runner, "val_acc") == pytest.approx(0.82)
    no_regularization = value(runner, "train_acc - val_acc")
    assert no_regularization == pytest.approx(0.18)
    assert len(s.curve) == 167 and s.curve[-1]["val_acc"] == pytest.approx(0.82)  # an epoch is 3 iterations
    i = play_to(runner, lines, "print train_acc - val_acc", i)  # λ = 0.3; the next step restarts
    r = last_train(runner)
    assert (r["dataset_accuracy"], r["validation_accuracy"]) == (pytest.approx(0.975), pytest.approx(0.89))
    assert shown_before_restart(runner, "train_acc - val_acc") == pytest.approx(0.085)
    assert 0.085 < no_regularization / 2
    i = play_to(runner, lines, "print M1", i)
    assert set(np.unique(s.values_at()["M1"])) == {0.0, 2.0}
    play_to(runner, lines, "print train_acc - val_acc", i)  # dropout 0.5
    assert (value(runner, "train_acc"), value(runner, "val_acc")) == (pytest.approx(0.95), pytest.approx(0.865))
    assert value(runner, "train_acc - val_acc") < no_regularization / 2 and runner.done


# -- 24 mini-batches -------------------------------------------------------------------------------------------------
def test_mini_batches_updates_per_epoch_decide_the_progress_and_the_noise():
    runner = LessonRunner(BY_ID["mini-batches"])
    lines = solution("mini-batches")
    i = play_to(runner, lines, "train 1 epochs")
    assert last_train(runner)["iterations"] == 13
    figures = {}
    for upto in ("print loss_jump", "print loss_jump"):  # batch 1, then the full batch; each step restarts after
        i = play_to(runner, lines, upto, i)
        r = last_train(runner)
        figures[r["minibatch"]] = (r["iterations"], r["dataset_accuracy"], shown_before_restart(runner, "loss_jump"))
    i = play_to(runner, lines, "print train_acc", i)
    r = last_train(runner)
    assert (r["minibatch"], r["iterations"], r["dataset_accuracy"]) == (16, 65, pytest.approx(0.865))
    same = session_for(dict(BY_ID["mini-batches"].setup))  # step 4 from its restart, to read its loss_jump
    train(same, 65, size=16)
    figures[16] = (65, r["dataset_accuracy"], float(same.evaluate("loss_jump")[1]))
    assert figures[1][:2] == (1000, pytest.approx(0.99)) and figures[1][2] == pytest.approx(0.37, abs=0.005)
    assert figures[200][:2] == (5, pytest.approx(0.805)) and figures[200][2] == pytest.approx(0.007, abs=5e-4)
    assert figures[16][2] == pytest.approx(0.12, abs=0.005)
    assert figures[1][2] > figures[16][2] > figures[200][2]  # smaller minibatches, noisier losses
    play_to(runner, lines, "train 1000 batch all", i)
    assert value(runner, "train_acc") == 1.0


# -- 25 the learning rate in practice ----------------------------------------------------------------------------
def test_learning_rate_in_practice_too_small_right_too_large_diverging_and_a_schedule():
    runner = LessonRunner(BY_ID["learning-rate-in-practice"])
    lines = solution("learning-rate-in-practice")
    assert value(runner, "norm(W1)") == pytest.approx(7.3153, abs=5e-5)
    i = play_to(runner, lines, "print train_loss")  # every step but the last restarts after it
    assert shown_before_restart(runner, "train_loss") == pytest.approx(0.5336, abs=5e-4)
    assert last_train(runner)["dataset_accuracy"] == pytest.approx(0.793, abs=5e-4)
    i = play_to(runner, lines, "curves loss", i)  # lr 0.1
    assert shown_before_restart(runner, "train_loss") == pytest.approx(0.0718, abs=5e-4)
    assert last_train(runner)["dataset_accuracy"] == 0.98
    i = play_to(runner, lines, "print dead(A2)", i)  # lr 2
    assert last_train(runner)["dataset_accuracy"] == pytest.approx(0.583, abs=5e-4)
    assert (value(runner, "dead(A1)"), value(runner, "dead(A2)")) == (pytest.approx(0.906, abs=1e-3), 0.75)
    i = play_to(runner, lines, "print norm(W1)", i)  # lr 20
    assert shown_before_restart(runner, "norm(W1)") == pytest.approx(1800, abs=1)
    assert last_train(runner)["dataset_accuracy"] == pytest.approx(1 / 3)
    i = play_to(runner, lines, "print loss_jump", i)  # lr 0.5
    bouncing = value(runner, "loss_jump")
    assert bouncing == pytest.approx(0.12, abs=0.005)
    play_to(runner, lines, "print train_loss", i)  # then lr 0.05
    assert value(runner, "loss_jump") == pytest.approx(0.045, abs=0.001) and value(runner, "loss_jump") < bouncing / 2
    assert value(runner, "train_loss") == pytest.approx(0.040, abs=5e-4) and runner.done
    for lr, iterations, dead in (("0.1", 1000, (0.0, 0.15625)), ("20", 100, (0.875, 1.0))):  # the texts' comparisons
        other = session_for({"preset": "spiral", "optimizer": "sgd", "lr": lr})
        other.set_batch(np.arange(300))
        train(other, iterations)
        other.until("Z3")
        assert (float(other.evaluate("dead(A1)")[1]), float(other.evaluate("dead(A2)")[1])) == dead
    # the comparison the text makes: 500 more at the large rate end higher
    constant = session_for({"preset": "spiral", "optimizer": "sgd", "lr": "0.5", "batch": "0:300"})
    constant.set_batch(np.arange(300))
    train(constant, 500)
    train(constant, 500)
    assert float(constant.evaluate("train_loss")[1]) == pytest.approx(0.053, abs=5e-4)


# -- 26 initialization: the variance argument --------------------------------------------------------------------
def test_initialization_variance_the_std_of_z_per_layer_follows_n_in_var_w_over_2():
    runner = LessonRunner(BY_ID["initialization-variance"])
    lines = solution("initialization-variance")
    i = play_to(runner, lines, "print std(Z2) / std(Z1)")
    assert value(runner, "std(Z2) / std(Z1)") == pytest.approx(0.01 * math.sqrt(32), abs=0.005)
    i = play_to(runner, lines, "print norm(dW1)", i)  # the next step restarts with Xavier
    assert shown_before_restart(runner, "std(Z6)") == pytest.approx(3.87e-9, rel=0.01)
    assert shown_before_restart(runner, "norm(dW1)") == pytest.approx(2.33e-7, rel=0.01)
    small = session_for(dict(BY_ID["initialization-variance"].setup))
    small.set_batch(np.arange(200))
    train(small, 300)
    assert float(small.evaluate("train_acc")[1]) == 0.5  # the text: train 300 cannot move it
    i = play_to(runner, lines, "print std(Z3) / std(Z2)", i)
    assert shown_before_restart(runner, "std(Z3) / std(Z2)") == pytest.approx(math.sqrt(0.5), abs=0.03)
    i = play_to(runner, lines, "print std(Z5) / std(Z1)", i)
    assert value(runner, "std(Z5) / std(Z1)") == pytest.approx(1.15, abs=0.005)
    play_to(runner, lines, "print train_acc", i)
    assert value(runner, "train_acc") == 1.0


# -- 27 input normalization ----------------------------------------------------------------------------------------
def test_input_normalization_raw_features_blow_up_standardized_ones_train():
    runner = LessonRunner(BY_ID["input-normalization"])
    lines = solution("input-normalization")
    assert (value(runner, "std(X[:,0])"), value(runner, "std(X[:,1])")) == (pytest.approx(0.8806, abs=5e-5),
                                                                            pytest.approx(51.199, abs=5e-4))
    assert value(runner, "norm(W1)") == pytest.approx(3.674, abs=5e-4)
    i = play_to(runner, lines, "print norm(dW1[1,:]) / norm(dW1[0,:])")
    assert value(runner, "norm(dW1[1,:]) / norm(dW1[0,:])") == pytest.approx(923, abs=1)
    i = play_to(runner, lines, "print norm(W1)", i)
    assert value(runner, "train_acc") == 0.5 and value(runner, "norm(W1)") == pytest.approx(4774, abs=1)
    runner.session.until("Z3")
    assert value(runner, "dead(A2)") == 1.0  # every unit of relu2 dead: the choice's claim
    runner.session.goto("start")
    i = play_to(runner, lines, "print train_acc", i)  # lr 0.001; the next step restarts
    assert shown_before_restart(runner, "train_acc") == pytest.approx(0.82)
    i = play_to(runner, lines, "print std(X[:,1])", i)
    assert value(runner, "std(X[:,1])") == pytest.approx(1.0) and abs(value(runner, "mean(X[:,1])")) < 1e-12
    i = play_to(runner, lines, "print norm(dW1[1,:]) / norm(dW1[0,:])", i)
    assert value(runner, "norm(dW1[1,:]) / norm(dW1[0,:])") == pytest.approx(2.83, abs=0.005)
    play_to(runner, lines, "print train_acc", i)
    assert value(runner, "train_acc") == 1.0


def test_standardize_uses_the_training_sets_statistics_for_the_validation_set_too():
    setup = {"preset": "moons", "stretch": "100", "validation": "50", "standardize": "yes", "hidden": "8"}
    p = setup_problem(setup, 0)
    raw = setup_problem({k: v for k, v in setup.items() if k != "standardize"}, 0)
    np.testing.assert_allclose(p.X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(p.X.std(axis=0), 1, atol=1e-12)
    mean, std = raw.X.mean(axis=0), raw.X.std(axis=0)
    np.testing.assert_allclose(p.X_val, (raw.X_val - mean) / std)
    assert abs(raw.X[:, 1]).max() > 50  # stretched first, then standardized


# -- 28 numerical stability --------------------------------------------------------------------------------------
def test_numerical_stability_overflow_max_shift_and_log_sum_exp():
    runner = LessonRunner(BY_ID["numerical-stability"])
    assert value(runner, "exp(709)") == pytest.approx(8.22e307, rel=1e-3) and math.isinf(value(runner, "exp(710)"))
    assert math.isnan(value(runner, "exp(1000) / (exp(1000) + exp(-0.8))"))
    assert value(runner, "exp(0) / (exp(0) + exp(-1000.8))") == 1.0
    lines = solution("numerical-stability")
    i = play_to(runner, lines, "print P[0,:]")
    np.testing.assert_array_equal(runner.session.values_at()["P"][0], [0.0, 1.0])
    assert value(runner, "Z3[0,0]") == pytest.approx(-0.808, abs=5e-4) and value(runner, "Y[0,0]") == 1
    i = play_to(runner, lines, "explain L", i)
    assert value(runner, "log(P[0,0])") == -math.inf
    assert value(runner, "L") == pytest.approx(250.468, abs=5e-4)
    assert 4 * value(runner, "L") - 1000.808 == pytest.approx(1.064, abs=5e-3)  # the other three examples
    play_to(runner, lines, "print dZ3[0,:]", i)
    assert value(runner, "dZ3[0,1]") == 0.25 and runner.done


# -- 29 one real digit (MNIST) ------------------------------------------------------------------------------------
def test_one_real_digit_through_the_network(mnist_dir, monkeypatch):
    monkeypatch.setenv("NNDB_MNIST", str(mnist_dir))
    runner = LessonRunner(BY_ID["one-real-digit"])
    s = runner.session
    assert (len(s.problem.X), len(s.problem.X_val), s.model.describe()) == (1500, 500, "784 → 128 → 10")
    assert value(runner, "argmax(Y)") == 7 and int(np.count_nonzero(s.values_at()["X"])) == 116
    lines = solution("one-real-digit")
    i = play_to(runner, lines, "print argmax(P)")
    assert value(runner, "argmax(P)") == 3 and value(runner, "P[0,7]") == pytest.approx(0.0824, abs=5e-5)
    i = play_to(runner, lines, "until L", i)
    assert value(runner, "L") == pytest.approx(-math.log(value(runner, "P[0,7]")))
    assert value(runner, "L") == pytest.approx(2.496, abs=5e-4)
    i = play_to(runner, lines, "print val_acc", i)
    assert value(runner, "trained_iterations") == 24
    assert (value(runner, "train_acc"), value(runner, "val_acc")) == (pytest.approx(0.819, abs=5e-4), 0.798)
    play_to(runner, lines, "print argmax(P)", i)
    assert value(runner, "argmax(P)") == 7 and value(runner, "P[0,7]") > 0.99 and runner.done


def test_without_mnist_the_digit_lesson_is_listed_with_a_note_and_starting_it_says_what_is_missing(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NNDB_MNIST", str(tmp_path / "nowhere"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")
    lesson = BY_ID["one-real-digit"]
    assert missing_data(lesson.setup).startswith("this lesson reads the MNIST digits, and no MNIST files found")
    assert missing_data(BY_ID["overfitting"].setup) is None
    from lessons.cli import main
    assert main(["lessons"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert " ".join(MNIST_NOTE.split()) in out
    assert main(["lesson", "one-real-digit", "--repl", "--reset"]) == 2
    said = capsys.readouterr()
    err = " ".join((said.out + said.err).split())
    assert "this lesson reads the MNIST digits, and no MNIST files found; looked in:" in err
    assert "nndb data download mnist" in err


# -- the setup keys -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("setup, message", [
    ({"examples": "3"}, "examples must be a whole number 4..10000, got '3'"),
    ({"examples": "lots"}, "examples must be a whole number 4..10000"),
    ({"preset": "bars", "examples": "50"}, "examples draws points of moons, circles, spiral or takes digits"),
    ({"noise": "-1"}, "noise must be a number 0..10"),
    ({"preset": "seq", "noise": "0.2"}, "noise sets the spread of the points of moons, circles, spiral"),
    ({"validation": "197"}, "validation must be a whole number 1..196 (at least 4 examples stay to train on)"),
    ({"examples": "40", "validation": "0"}, "validation must be a whole number 1..36"),
    ({"preset": "bars", "validation": "20"}, "validation works on the data of moons, circles, spiral, xor, digits"),
    ({"standardize": "maybe"}, "standardize must be yes or no, got 'maybe'"),
    ({"dropout": "0.5"}, "dropout goes after each hidden activation of a dense net: give net, hidden or init too"),
    ({"hidden": "8", "dropout": "1"}, "dropout must be a probability 0 ≤ p < 0.95"),
    ({"preset": "digits-cnn"}, "preset must be one of"),
])
def test_bad_setup_keys_get_a_message_that_says_what_would_be_right(setup, message):
    problem = check_setup(setup)
    assert problem is not None and problem.startswith(message), problem


def test_net_identity_passes_z_through_and_dropout_layers_follow_each_activation():
    s = session_for({"preset": "moons", "net": "identity", "hidden": "8,8"})
    assert [l.name for l in s.model.layers] == ["dense1", "identity1", "dense2", "identity2", "dense3"]
    v = s.values_at(len(s.tape) - 1)
    np.testing.assert_array_equal(v["A1"], v["Z1"])
    np.testing.assert_array_equal(v["dZ1"], v["dA1"])
    s = session_for({"preset": "moons", "hidden": "16", "dropout": "0.25"})
    assert [l.name for l in s.model.layers] == ["dense1", "relu1", "dropout1", "dense2"]
    M1 = s.values_at(len(s.tape) - 1)["M1"]
    assert set(np.unique(M1)) <= {0.0, 1 / 0.75}


# -- train_acc and friends, `train N epochs batch B`, `curves` -------------------------------------------------------
OVERFIT = {"preset": "moons", "examples": "60", "noise": "0.3", "validation": "20", "hidden": "16"}


def test_the_metric_names_evaluate_the_whole_sets_at_the_cursor():
    s = session_for(OVERFIT)
    model = s.model_at_cursor()
    p = s.problem
    assert float(s.evaluate("train_acc")[1]) == model.evaluate(p.X, p.Y, s.loss)["accuracy"]
    assert float(s.evaluate("val_loss")[1]) == pytest.approx(model.evaluate(p.X_val, p.Y_val, s.loss)["loss"])
    before = float(s.evaluate("train_loss")[1])
    interp = Interpreter(s)
    assert interp.run("set W2[0,0] = 5").ok  # an edit at the start changes the weights at the cursor
    assert float(s.evaluate("train_loss")[1]) != before
    bad = interp.run("print trained_iterations")
    assert not bad.ok and "no `train` has run since the network was opened" in bad.message
    plain = session_for({"preset": "moons"})
    bad = Interpreter(plain).run("print val_acc")
    assert not bad.ok and "this network has no validation set" in bad.message


def test_train_with_a_minibatch_size_reports_the_epoch_and_the_validation_set():
    s = session_for(OVERFIT)
    interp = Interpreter(s)
    r = interp.run("train 2 epochs batch 7")
    assert r.ok and r.data["iterations"] == 2 * 6 == float(s.evaluate("trained_iterations")[1])
    assert r.data["minibatch"] == 7 and r.data["seconds"] > 0
    assert r.data["epoch_seconds"] == pytest.approx(r.data["seconds"] / 2)
    assert r.data["validation_accuracy"] == pytest.approx(float(s.evaluate("val_acc")[1]))
    assert "validation set (20 examples it never trains on): loss" in r.message
    assert "minibatches of 7: 6 iterations per epoch (an epoch: all 40 examples once)" in r.message
    assert len(s.curve) == 2 and s.curve[-1]["iteration"] == s.current.number - 1
    r = interp.run("train 3 batch all")
    assert r.ok and r.data["minibatch"] == 40 and "1 iteration per epoch" in r.message
    for bad, says in (("train 1 epochs batch 0", "the minibatch size must be 1..40"),
                      ("train 1 epochs batch 41", "the minibatch size must be 1..40"),
                      ("train 1 batch some", "expected `train N` or `train N epochs`, got '1 batch some'; either "
                                             "may be followed by `batch B`")):
        result = interp.run(bad)
        assert not result.ok and says in result.message, result.message


def test_plain_train_keeps_its_fields_and_message():
    s = session_for({"preset": "moons"})
    r = Interpreter(s).run("train 3")
    assert set(r.data) == {"iterations", "requested", "first_loss", "last_loss", "dataset_loss", "dataset_accuracy",
                           "batch_loss", "interrupted"}
    assert "\n" not in r.message and s.curve == []


def test_curves_draws_train_and_validation_per_epoch_or_the_loss_per_iteration():
    s = session_for(OVERFIT)
    interp = Interpreter(s)
    r = interp.run("curves")
    assert r.ok and r.data["losses"] == [] and "no iteration finished yet" in r.message
    bad = interp.run("curves acc")
    assert not bad.ok and "no accuracy recorded yet" in bad.message
    assert not interp.run("curves weights").ok
    interp.run("train 30 epochs")
    r = interp.run("curves")
    assert r.data["what"] == "acc" and len(r.data["epochs"]) == 30
    gap = s.curve[-1]["train_acc"] - s.curve[-1]["val_acc"]
    assert r.message.startswith("accuracy per epoch over 30 epochs") and f"{gap:+.1%}" in r.message
    chart = "\n".join(r.data["lines"])
    assert "o train accuracy" in chart and "x validation accuracy" in chart and "epoch 1" in chart
    loss = interp.run("curves loss")
    assert "o train loss" in "\n".join(loss.data["lines"])
    out = io.StringIO()  # the REPL prints the title and the chart
    Console(file=out, width=100).print(*render_result(r))
    assert "x validation accuracy (last" in out.getvalue() and "┤" in out.getvalue()
    plain = session_for({"preset": "moons"})
    Interpreter(plain).run("train 20 batch 1")
    r = Interpreter(plain).run("curves")
    assert r.data["what"] == "loss" and len(r.data["losses"]) == 21
    assert f"the latest train's loss_jump (mean |L − L_previous|) {float(plain.evaluate('loss_jump')[1]):.3g}" \
        in r.message
    fresh = session_for({"preset": "moons"})
    fresh.step(len(fresh.tape) + 1)  # one iteration stepped through, none trained
    assert "mean jump from one iteration to the next" in Interpreter(fresh).run("curves").message


def test_curves_in_json_lists_the_documented_fields(tmp_path):
    s = session_for(OVERFIT)
    out = io.StringIO()
    run_script(s, ["train 2 epochs batch 8", "curves"], Console(file=io.StringIO()), json_mode=True, out=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    doc = (REPO / "docs" / "json.md").read_text(encoding="utf-8")
    assert rows[1]["kind"] == "curves" and "### `curves`" in doc
    for field in (*rows[0]["data"], *rows[1]["data"], *rows[1]["data"]["epochs"][0]):
        assert f"`{field}`" in doc, field


def test_curves_and_the_validation_figures_show_in_the_tui():
    pytest.importorskip("textual")
    from textual.widgets import RichLog, Static

    from inspector.tui.app import NndbApp
    from inspector.tui.widgets import CommandBar

    s = session_for(OVERFIT)
    train(s, 60)
    app = NndbApp(s)
    seen = {}

    async def main():
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.pause()
            await pilot.press("colon")
            bar = app.query_one(CommandBar)
            bar.value = "curves"
            await pilot.press("enter")
            await pilot.pause()
            seen["log"] = "\n".join(strip.text for strip in app.query_one("#log", RichLog).lines)
            seen["loss"] = str(app.query_one("#loss-tab #loss-figures", Static).content)

    asyncio.run(main())
    assert "accuracy per epoch over 20 epochs" in seen["log"]
    assert "o train accuracy" in seen["log"] and "x validation accuracy" in seen["log"]
    last = s.curve[-1]
    assert f"after 20 epochs: train accuracy {last['train_acc']:.1%}, validation {last['val_acc']:.1%}" in seen["loss"]
