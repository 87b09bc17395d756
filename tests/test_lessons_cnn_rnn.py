"""The convolutional and recurrent lessons (14–18): their setups (bars with filters and pooling, segments, seq) and wrong attempts refused."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import Adam, load_preset
from engine.presets import PRESETS
from lessons import LessonFormatError, all_lessons, parse_lesson
from lessons.checks import CHECKS
from lessons.library import validate_lesson
from lessons.runner import LessonRunner
from lessons.setups import check_setup, setup_problem

BY_ID = {lesson.id: lesson for lesson in all_lessons()}
SOLUTIONS = Path(__file__).resolve().parent.parent / "lessons" / "solutions"


@pytest.fixture(autouse=True)
def state_home(tmp_path, monkeypatch):
    """Progress never touches the real $XDG_STATE_HOME."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def solution(lesson_id: str) -> list[str]:
    return [line for line in (SOLUTIONS / f"{lesson_id}.txt").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def play(runner: LessonRunner, lines) -> list:
    results = [runner.run(line) for line in lines]
    assert all(r.ok for r in results), [(r.command, r.message) for r in results if not r.ok]
    return results


def up_to_step(lesson_id: str, step: int) -> LessonRunner:
    """A runner that played the reference solution until step ``step`` (0-based) began."""
    runner = LessonRunner(BY_ID[lesson_id])
    for line in solution(lesson_id):
        if runner.step_index >= step:
            break
        play(runner, [line])
    assert runner.step_index == step and runner.completed == list(range(step))
    return runner


# -- setups ------------------------------------------------------------------------------------------------------
def layer_names(setup: dict) -> list[str]:
    return [layer.name for layer in setup_problem(setup, 0).model.layers]


def test_bars_and_seq_open_the_presets_own_networks_with_their_optimizer():
    for name in ("bars", "seq"):
        problem, preset = setup_problem({"preset": name}, 0), load_preset(name, seed=0)
        assert [l.name for l in problem.model.layers] == [l.name for l in preset.model.layers]
        assert isinstance(problem.optimizer, Adam) and problem.optimizer.lr == preset.optimizer.lr == 0.02
    assert setup_problem({"preset": "bars", "optimizer": "sgd"}, 0).optimizer.config()["momentum"] == 0.0


def test_pool_and_filters_rebuild_the_bars_cnn():
    assert layer_names({"preset": "bars", "pool": "max"}) == ["conv1", "relu1", "maxpool1", "flatten1", "dense2"]
    assert layer_names({"preset": "bars", "pool": "avg"}) == ["conv1", "relu1", "avgpool1", "flatten1", "dense2"]
    model = setup_problem({"preset": "bars", "pool": "max", "filters": "4"}, 0).model
    assert model.param("K1").value.shape == (4, 1, 3, 3) and model.param("W2").value.shape == (16, 2)
    assert model.forward(np.zeros((3, 1, 6, 6))).shape == (3, 2)
    same = setup_problem({"preset": "bars", "pool": "none", "filters": "2"}, 0)
    assert same.description == "lesson network on the bars data"
    for mine, theirs in zip(same.model.parameters(), load_preset("bars", seed=0).model.parameters()):
        assert mine.symbol == theirs.symbol
        np.testing.assert_array_equal(mine.value, theirs.value)


@pytest.mark.parametrize("setup, problem", [
    ({"preset": "seq", "hidden": "4"}, "hidden builds a dense net, for the presets xor, moons, circles, spiral, segments, "
                                       "digits; seq opens its own network"),
    ({"preset": "bars", "net": "tanh", "init": "he"}, "net and init build a dense net, for the presets"),
    ({"preset": "seq", "net": "tanh", "hidden": "4", "init": "he"}, "net, hidden and init build a dense net"),
    ({"preset": "moons", "pool": "max"}, "pool changes the CNN of the presets bars, not the network of moons"),
    ({"preset": "seq", "filters": "3", "pool": "avg"}, "filters and pool change the CNN of the presets bars"),
    ({"preset": "bars", "pool": "min"}, "pool must be one of max, avg, none, got 'min'"),
    ({"preset": "bars", "filters": "0"}, "filters must be a whole number 1..16, got '0'"),
    ({"preset": "bars", "filters": "two"}, "filters must be a whole number 1..16, got 'two'"),
])
def test_setup_keys_that_do_not_fit_the_preset_are_refused(setup, problem):
    assert check_setup(setup).startswith(problem)


def test_a_preset_that_needs_downloaded_data_is_refused():
    offline = [name for name, preset in PRESETS.items() if not preset.needs_data]
    assert {"xor", "moons", "circles", "spiral", "seq", "bars"} <= set(offline)
    assert check_setup({"preset": "digits-cnn"}) == f"preset must be one of {', '.join(offline)}, or digits (MNIST files)"


def test_a_step_that_pools_a_network_without_convolutions_names_its_line():
    text = """---
id: tiny
title: T
learn: L
preset: moons
---

## Step: Pool
setup: pool: max
Look.
check: ran print X
hint: `print X`.
"""
    with pytest.raises(LessonFormatError, match=r"^t\.md:8: step 'Pool': setup: pool changes the CNN of the presets"):
        validate_lesson(parse_lesson(text, "t.md", CHECKS))


# -- wrong attempts ----------------------------------------------------------------------------------------------
def test_convolution_the_detector_must_be_the_middle_column_alone():
    runner = up_to_step("convolution", 3)
    play(runner, ["goto start", "set K1[0,0,:,1] = 1", "predict 3", "step"])
    assert runner.step_index == 3, "the other six weights are still random"
    play(runner, ["goto start", "set K1[1,0] = 0", "set K1[1,0,:,1] = 1", "step"])
    assert runner.step_index == 3, "filter 1 is not filter 0"
    play(runner, ["goto start", "set K1[0,0] = 0", "set K1[0,0,1,:] = 1", "step"])
    assert runner.step_index == 3, "a horizontal detector does not fire on image 0's vertical bar"
    assert runner.session.evaluate("Z1[0,0,0,3]")[1] < 1
    play(runner, ["goto start", "set K1[0,0] = 0", "set K1[0,0,:,1] = 1", "step"])
    assert runner.completed == [0, 1, 2, 3]


def test_pooling_the_mask_is_seen_at_the_pooling_backward_op():
    runner = up_to_step("pooling", 3)
    play(runner, ["step", "show", "print M1[0,0]", "explain dA1[0,0,0,0]"])
    assert runner.step_index == 3, "`show` at relu1's backward shows no mask"
    play(runner, ["back"])
    assert runner.step_index == 4 and runner.setup["pool"] == "avg"
    assert [layer.name for layer in runner.session.model.layers][2] == "avgpool1"


def test_pooling_a_block_max_and_its_winner_are_what_the_lesson_says():
    runner = up_to_step("pooling", 1)
    s = runner.session
    assert s.evaluate("S1[0,0,0,0]")[1] == pytest.approx(0.3006, abs=1e-4)
    assert s.evaluate("A1[0,0,0,1]")[1] == s.evaluate("max(A1[0,0,0:2,0:2])")[1] == s.evaluate("S1[0,0,0,0]")[1]
    play(runner, ["until maxpool1.backward"])
    assert s.evaluate("dA1[0,0,0,1]")[1] == s.evaluate("dS1[0,0,0,0]")[1]
    assert s.evaluate("dA1[0,0,0,0]")[1] == s.evaluate("dA1[0,0,1,0]")[1] == s.evaluate("dA1[0,0,1,1]")[1] == 0


def test_cnn_runs_on_the_segments_digits_and_the_backward_numbers_are_what_the_lesson_says():
    runner = up_to_step("cnn", 1)
    s = runner.session
    assert [layer.name for layer in s.model.layers] == ["conv1", "relu1", "maxpool1", "flatten1", "dense2"]
    assert s.problem.name == "segments" and s.evaluate("F1")[1].shape == (4, 240)
    assert s.evaluate("argmax(Y)")[1].tolist() == [5, 3, 9, 2]
    play(runner, ["until dK1"])
    assert np.count_nonzero(s.evaluate("dA1[:,2]")[1]) == 120, "one winner per 2×2 block: 4 images × 6×5 blocks"
    assert np.count_nonzero(s.evaluate("dZ1[:,2]")[1]) == 480 - 361
    assert s.evaluate("max(dK1[2,0,0,:])")[1] < 0 < s.evaluate("min(dK1[2,0,1:3,:])")[1]


def test_cnn_a_step_that_does_not_look_at_filter_2s_gradient_is_not_done():
    runner = up_to_step("cnn", 1)
    play(runner, ["until dK1", "explain dK1[1,0,1,1]", "print dK1[2,0]"])
    assert runner.step_index == 1, "filter 1's gradient is not filter 2's"
    play(runner, ["explain dK1[2,0,1,1]"])
    assert runner.step_index == 2


def test_cnn_filter_1_detects_horizontal_strokes():
    runner = up_to_step("cnn", 4)
    s = runner.session
    result = runner.run("print S1[1,1]")
    assert not result.ok, "after training, the forward has not run on the batch yet"
    play(runner, ["print K1[1,0]", "until maxpool1", "print S1[1,2]"])
    result = runner.run("answer vertical")
    assert result.ok and not runner.done
    assert result.extra[0].startswith("✗ vertical: no:")  # the option's own feedback
    assert s.evaluate("max(K1[1,0,0,:])")[1] < 0 < s.evaluate("min(K1[1,0,1,:])")[1]
    assert s.evaluate("max(K1[2,0,:,1])")[1] < 0 < s.evaluate("min(K1[2,0,:,2])")[1], "filter 2 is vertical"
    pooled = s.evaluate("S1[1,1]")[1]  # image 1 is a 3: three horizontal strokes
    assert pooled[[0, 2, 4], :4].min() > 1 > 0.6 > pooled[[1, 3, 5]].max()
    play(runner, ["answer horizontal"])
    assert not runner.done, "S1[1,2] is filter 2's map, not filter 1's"
    play(runner, ["print S1[1,1]"])
    assert runner.done


def test_rnn_back_through_time_must_stop_at_the_first_timestep():
    runner = up_to_step("rnn", 4)
    play(runner, ["timestep", "explain dh1_6[0,0]", "until dWx1"])
    assert runner.step_index == 4, "dWx1 comes after dh1_0: the learner ran past it"
    play(runner, ["goto rnn1.backward.dh1_1"])
    assert runner.step_index == 4
    play(runner, ["timestep"])
    assert runner.step_index == 5
    assert runner.session.op.attrs["t"] == 0


def test_rnn_the_first_bit_reaches_the_last_state():
    runner = up_to_step("rnn", 3)
    s = runner.session
    edited = s.evaluate("H1[0,0]")[1]
    assert edited != pytest.approx(0.2043, abs=1e-4)  # the unedited h1_7[0,0]
    assert [e.target for e in s.current.edits] == ["X[0,0,0]"]


def test_vanishing_through_time_a_mild_change_of_wh_is_not_enough():
    runner = up_to_step("vanishing-through-time", 2)
    play(runner, ["goto start", "set Wh1 = Wh1 * 0.9", "predict 0", "until dWx1"])
    assert runner.step_index == 2, "×0.9 shrinks the gradient, but does not make it vanish"
    assert 0.01 < runner.session.evaluate("norm(dh1_0) / norm(dh1_7)")[1] < 0.37
    play(runner, ["reset", "set Wh1 = Wh1 * 0.5", "until dWx1", "reveal", "print norm(dz1_0) / norm(dz1_7)"])
    assert runner.completed == [0, 1, 2, 3]
    play(runner, ["reset", "set Wh1 = Wh1 * 1.5", "until dWx1", "print norm(dWx1)"])
    assert runner.step_index == 4 and not runner.done, "×1.5 does not make it explode"
    play(runner, ["reset", "set Wh1 = Wh1 * 3", "until dWx1"])
    assert runner.step_index == 5 and not runner.done, "on to the LSTM"


def test_vanishing_through_time_the_lstms_cell_keeps_its_gradient_where_the_rnns_vanished():
    runner = up_to_step("vanishing-through-time", 5)
    s = runner.session
    assert s.model.layers[0].kind == "lstm", "the step's setup opens the seq-lstm preset"
    play(runner, ["set Wh1 = Wh1 * 0.5", "predict 0.2", "until dWx1", "explain dh1_3[0,0]"])
    assert runner.step_index == 5, "dh1_3 is the state's gradient, not the cell's"
    ratio = s.evaluate("norm(dc1_0) / norm(dc1_7)")[1]
    assert ratio == pytest.approx(0.177, abs=0.005), f"the cell keeps about 0.18 (the RNN kept 0.004): {ratio}"
    forget = [float(s.evaluate(f"mean(f1_{t})")[1]) for t in range(8)]
    assert all(0.65 < f < 0.72 for f in forget), f"the forget gates, about 0.69, shrink the cell path: {forget}"
    play(runner, ["explain dc1_3[0,0]"])
    assert not runner.done, "the step compares like with like: the LSTM's dh ratio too"
    assert float(s.evaluate("norm(dh1_0) / norm(dh1_7)")[1]) == pytest.approx(0.0228, abs=0.0005)
    play(runner, ["print norm(dh1_0) / norm(dh1_7)"])
    assert runner.done


def test_vanishing_through_time_predicting_zero_for_the_shrunk_rnn_is_not_close_enough():
    runner = up_to_step("vanishing-through-time", 2)
    results = play(runner, ["goto start", "set Wh1 = Wh1 * 0.5", "predict 0", "until dWx1", "predict 0"])
    assert "✗ not quite again: you said 0, the code computed norm(dh1_0) / norm(dh1_7) = 0.00425122" in [
        line for r in results for line in r.extra]
