"""The cost lessons (19–21): the MNIST-sized setup, the `measured` check, relative tolerances, and
wrong attempts refused. The reference solutions are played by tests/test_lessons.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from lessons import all_lessons, parse_lesson
from lessons.checks import CHECKS, Context, figures, is_figure, validate
from lessons.format import LessonFormatError
from lessons.runner import LessonRunner
from lessons.setups import check_setup, setup_problem

BY_ID = {lesson.id: lesson for lesson in all_lessons()}
SOLUTIONS = Path(__file__).resolve().parent.parent / "lessons" / "solutions"
MNIST_SIZED = {"preset": "segments", "size": "28", "hidden": "128"}


@pytest.fixture(autouse=True)
def state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def solution(lesson_id: str) -> list[str]:
    return [line for line in (SOLUTIONS / f"{lesson_id}.txt").read_text(encoding="utf-8").splitlines() if line.strip()]


def up_to_step(lesson_id: str, step: int) -> LessonRunner:
    """A runner that played the reference solution until step ``step`` (0-based) began."""
    runner = LessonRunner(BY_ID[lesson_id])
    for line in solution(lesson_id):
        if runner.step_index >= step:
            break
        assert runner.run(line).ok, line
        if runner.predictions.missed is not None:  # a measured time missed on this machine: one more try, or move on
            assert runner.run("reveal").ok
    assert runner.step_index == step
    return runner


def refused(runner: LessonRunner, lines) -> list[str]:
    """Play lines that must not complete the current step; the feedback they got."""
    step = runner.step_index
    out = []
    for line in lines:
        result = runner.run(line)
        out += result.extra
    assert runner.step_index == step, lines
    return out


# -- the setup ---------------------------------------------------------------------------------------------------
def test_size_draws_the_segment_digits_at_mnist_size_for_a_784_128_10_net():
    problem = setup_problem(MNIST_SIZED, 0)
    assert problem.X.shape == (600, 784) and problem.Y.shape[0] == 600
    assert [layer.name for layer in problem.model.layers] == ["dense1", "relu1", "dense2"]
    assert problem.model.param("W1").value.shape == (784, 128) and problem.model.param("W2").value.shape == (128, 10)
    small = setup_problem({"preset": "segments", "hidden": "16"}, 0)
    assert small.X.shape == (600, 120)
    # nearest-pixel scaling: each 12×10 pixel becomes a block, the same ink
    image, big = small.X[0].reshape(12, 10), problem.X[0].reshape(28, 28)
    assert big[0, 0] == image[0, 0] and big[27, 27] == image[11, 9] and big.sum() > image.sum()


@pytest.mark.parametrize("setup, problem", [
    ({"preset": "segments", "size": "28"}, "size draws the digits for a dense net: give hidden too"),
    ({"preset": "moons", "size": "28", "hidden": "4"}, "size draws the digits of the presets segments bigger"),
    ({"preset": "segments", "size": "8", "hidden": "4"}, "size must be a whole number 12..64"),
    ({"preset": "segments", "size": "big", "hidden": "4"}, "size must be a whole number 12..64"),
])
def test_size_is_refused_where_it_does_not_fit(setup, problem):
    assert check_setup(setup).startswith(problem)
    assert check_setup(MNIST_SIZED) is None


# -- the measured check and relative tolerances -------------------------------------------------------------------
COST = {"batch": 64, "totals": {"iteration": {"flops": 300}}, "backward_forward": {"flops": 1.0},
        "gpu": [{"launch_share": 0.5, "speedup": 2.0}, {"launch_share": 0.9, "speedup": 3.0}],
        "ops": [{"name": "dense1.forward.Z1", "layer": "dense1", "flops": 200, "intensity": 4.0, "share": 0.6},
                {"name": "relu1.forward.A1", "layer": "relu1", "flops": 10, "intensity": 0.0625, "share": 0.1},
                {"name": "dense1.backward.dW1", "layer": "dense1", "flops": 90, "intensity": 4.0, "share": 0.2}]}
LOOP = {"batch": 8, "forms": [{"form": "matrix", "calls": 1, "vs_matrix": 1.0},
                              {"form": "examples", "calls": 8, "vs_matrix": 3.0},
                              {"form": "pairs", "calls": 80, "vs_matrix": 40.0}]}


def test_figures_come_from_the_latest_cost_and_loop_of_the_step():
    ctx = Context(session=None)
    assert figures(ctx) == {} and not CHECKS["measured"].test(ctx, "cost_batch == 64")
    ctx.results += [("cost", {**COST, "batch": 4}), ("vectorize", LOOP), ("cost", COST), ("print", {})]
    f = figures(ctx)
    assert (f["cost_batch"], f["flops"], f["launching"], f["gpu_speedup"]) == (64, 300, 0.9, 3.0)
    assert (f["flops_Z1"], f["flops_dense1"], f["intensity_A1"]) == (200, 290, 0.0625)
    assert f["share_dense1"] == pytest.approx(0.8)
    assert (f["loop_batch"], f["loop_calls"], f["loop_pairs"], f["loop_examples"]) == (8, 80, 40.0, 3.0)
    measured = CHECKS["measured"].test
    assert measured(ctx, "cost_batch == 64") and not measured(ctx, "cost_batch == 4")
    assert measured(ctx, "loop_pairs > 1") and measured(ctx, "intensity_A1 < intensity_Z1")
    assert not measured(ctx, "flops_Z9 > 0")  # not measured: false, not an error


def test_measured_names_only_figures():
    assert validate("measured", "loop_pairs > 1") is None
    assert "names something other than a measured figure" in validate("measured", "W1[0,0] > 1")
    assert validate("measured", "") is not None
    assert is_figure("flops_Z1 / flops_Z2") and not is_figure("norm(W1)") and not is_figure("loop_pairs >")


LESSON = """---
id: tiny-cost
title: Tiny
learn: a relative tolerance
preset: xor
---

Intro.

## Step: Loop
Run `cost --loop`.
predict: value loop_pairs ± 50%
check: measured loop_pairs > 1
hint: `cost --loop`.
"""


def test_a_relative_tolerance_judges_a_measured_speedup():
    lesson = parse_lesson(LESSON, "tiny.md", CHECKS)
    p = lesson.steps[0].predict
    assert (p.tolerance, p.relative) == (0.5, True)
    assert LessonRunner.predict_question(p) == "what value will loop_pairs have (within ±50%)?"
    runner = LessonRunner(lesson)
    runner.run("predict 1e9")
    lines = runner.run("cost --loop").extra
    assert lines[0].startswith("✗ not quite: you said 1e9 (") and not runner.done  # the value hidden: one more try
    lines = runner.run("predict 1e9").extra
    assert any(line.startswith("✗ not quite again: you said 1e9, cost found loop_pairs = ") for line in lines), lines
    assert runner.done
    with pytest.raises(LessonFormatError, match="or a percentage"):
        parse_lesson(LESSON.replace("± 50%", "± lots%"), "tiny.md", CHECKS)


# -- wrong attempts -------------------------------------------------------------------------------------------------
def test_lesson_19_needs_cost_at_the_lessons_batch_and_the_right_layer():
    runner = up_to_step("what-an-iteration-costs", 0)
    refused(runner, ["predict 78", "cost --loop", "cost --batch 4"])  # not this iteration's cost
    runner = up_to_step("what-an-iteration-costs", 1)
    assert any(line.startswith("✗ dense2: no:") for line in refused(runner, ["answer dense2"]))
    refused(runner, ["answer dense1"])  # the right answer, but without looking at `cost`
    assert runner.run("cost").ok and runner.step_index == 2
    runner = up_to_step("what-an-iteration-costs", 3)
    refused(runner, ["answer dense2", "until dW2"])  # answered, but not at the op that computes dA1


def test_lesson_20_needs_the_loops_measured_at_the_batch_asked():
    runner = up_to_step("loops-and-matrices", 0)
    refused(runner, ["predict 100", "cost", "cost --batch 4"])  # `cost` without --loop measures no loop
    runner = up_to_step("loops-and-matrices", 1)
    refused(runner, ["predict 8192", "cost --loop"])  # the lesson's batch, not 256
    runner = up_to_step("loops-and-matrices", 2)
    assert any(line.startswith("✗ pairs: no:") for line in refused(runner, ["cost --loop", "answer pairs"]))
    runner = up_to_step("loops-and-matrices", 3)
    refused(runner, ["predict 1", "cost --loop --batch 2", "cost --batch 1"])


def test_lesson_21_needs_each_batch_measured_and_the_right_answers():
    runner = up_to_step("why-gpus", 0)
    refused(runner, ["predict 0.5", "cost", "cost --loop --batch 4"])
    runner = up_to_step("why-gpus", 1)
    assert any(line.startswith("✗ 4: no:") for line in refused(runner, ["cost --batch 1024", "answer 4"]))
    runner = up_to_step("why-gpus", 1)
    refused(runner, ["answer 1024", "cost --batch 512"])
    runner = up_to_step("why-gpus", 2)
    refused(runner, ["predict 0.0625", "cost --batch 1024"])  # the batch asked is 4096
    runner = up_to_step("why-gpus", 3)
    assert any(line.startswith("✗ dense1: no:") for line in refused(runner, ["cost --batch 16", "answer dense1"]))


def test_beside_a_lesson_panel_the_cost_tab_fits_its_22_columns():
    """At 80×24 with a lesson panel the Cost tab is about 22 columns: nothing a lesson asks about is cut."""
    from rich.console import Console, Group

    from inspector.render import PHASE_STYLE
    from inspector.render_cost import render_cost, render_vectorize
    from inspector.session import Session
    from inspector.cost import cost_report, loop_report

    session = Session(lambda seed: setup_problem(MNIST_SIZED, seed), seed=0)
    machine = {"gflops": 100.0, "gbps": 40.0}
    cost, loop = cost_report(session, machine=machine, budget=0.01), loop_report(session, budget=0.01)
    console = Console(width=20, record=True, color_system=None)
    console.print(Group(*render_cost(cost, PHASE_STYLE, 20)), Group(*render_vectorize(loop, 20)))
    text = console.export_text()
    assert "…" not in text
    assert any(line.split()[:1] == ["dW1"] and "802.8k" in line for line in text.splitlines())  # batch 4
    words = " ".join(text.split())
    assert "launching" in words and "× this CPU" in words and "the matrix form's time" in words
