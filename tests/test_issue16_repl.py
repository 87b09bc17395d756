"""Issue 16, items 7–13: the REPL and the commands, through scripted JSON mode, the rendered REPL and the CLI."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from inspector.commands import Interpreter
from inspector.render import render_result
from inspector.repl import run_script
from inspector.sources import open_preset
from test_training import fake_digits  # noqa: F401  (a fixture: 200 synthetic IDX digits)

REPO = Path(__file__).resolve().parent.parent


def json_rows(preset: str, lines: list[str], session=None) -> list[dict]:
    session = session or open_preset(preset)
    out = io.StringIO()
    run_script(session, lines, Console(file=io.StringIO()), json_mode=True, out=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def rendered(result) -> str:
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None)
    for part in render_result(result):
        console.print(part)
    return out.getvalue()


def nndb(args: list[str], tmp_path: Path, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "COLUMNS": "120",
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "inspector.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=cwd or REPO, env=env, timeout=120)


# -- 7: shapes are whole numbers ---------------------------------------------------------------------------
def test_print_shape_prints_a_tuple_of_whole_numbers():
    interp = Interpreter(open_preset("xor"))
    r = interp.run("print shape(X)")
    assert r.ok and r.message == "(4, 2)" and r.data["values"].tolist() == [4, 2]
    text = rendered(r)
    assert "shape(X) = (4, 2)" in text and "4.0000" not in text
    size = rendered(interp.run("print size(W1)"))
    assert size.splitlines()[-1].strip() == "4"
    row = json_rows("xor", ["print shape(W1)"])[0]
    assert row["message"] == "(2, 2)" and row["data"]["values"] == [2, 2]


# -- 8: a layer that does not exist, pdb's clear, a mistyped subcommand ---------------------------------------
def test_gradcheck_of_a_missing_layer_names_the_layers():
    row = json_rows("xor", ["gradcheck dense7 2"])[0]
    assert not row["ok"]
    assert "there is no layer dense7" in row["message"]
    assert "dense1, dense2" in row["message"] and "position" not in row["message"]
    assert "W1, b1, W2, b2" in row["message"]


def test_clear_alone_clears_every_breakpoint_as_pdb_does():
    rows = json_rows("xor", ["clear", "break update", "break if nan", "clear", "break"])
    assert all(r["ok"] for r in rows)
    assert "no breakpoints to clear" in rows[0]["message"]
    assert rows[3]["message"] == "cleared 2 breakpoints (1: update; 2: nan)"
    assert rows[3]["data"]["breakpoints"] == [] and rows[4]["data"]["breakpoints"] == []


def test_a_mistyped_subcommand_gets_did_you_mean(tmp_path):
    p = nndb(["trian"], tmp_path)
    assert p.returncode == 2 and "did you mean 'train'?" in p.stderr
    p = nndb(["--preset", "sprial", "repl"], tmp_path)
    assert p.returncode == 2 and "did you mean 'spiral'?" in p.stderr


# -- 9: the README's CNN and RNN examples run as written, and the hint lands on the op ----------------------
def readme_examples() -> dict[str, list[str]]:
    """The two-column block of README.md that starts `nndb tui --preset segments … nndb repl --preset seq`:
    each column's commands, by preset."""
    lines = (REPO / "README.md").read_text().splitlines()
    head = next(i for i, line in enumerate(lines) if "nndb repl --preset seq" in line and "segments" in line)
    split = lines[head].index("nndb repl")
    columns = {"segments": [], "seq": []}
    for line in lines[head + 1:]:
        if line.startswith("```"):
            break
        for preset, text in (("segments", line[:split]), ("seq", line[split:])):
            text = text.split("#")[0].strip()
            if text:
                assert text.startswith("(nndb) "), text
                columns[preset].append(text.removeprefix("(nndb) "))
    return columns


def test_the_readme_rnn_and_cnn_examples_run_as_written():
    examples = readme_examples()
    assert "explain dh1_2[0,1]" in examples["seq"] and "gradcheck rnn1 0" in examples["seq"]
    for preset, commands in examples.items():
        rows = json_rows(preset, commands)
        assert [(r["command"], r["ok"]) for r in rows] == [(c, True) for c in commands], \
            [(r["command"], r["message"]) for r in rows if not r["ok"]]
    explained = json_rows("seq", examples["seq"])[examples["seq"].index("explain dh1_2[0,1]")]
    assert explained["data"]["target"] == "dh1_2[0,1]" and explained["data"]["op"] == "rnn1.backward.dh1_2"


def test_not_computed_yet_hints_a_command_that_reaches_the_op():
    session = open_preset("seq")
    interp = Interpreter(session)
    for line in ("until backward", "timestep"):
        assert interp.run(line).ok
    r = interp.run("explain dh1_2[0,1]")
    assert not r.ok and "(`until dh1_2` goes there)" in r.message
    assert interp.run("until dh1_2").ok and session.op.name == "rnn1.backward.dh1_2"
    assert interp.run("explain dh1_2[0,1]").ok


# -- 11: stepping repeats one batch: where says so, continue N offers `batch next`, train explains the jump ---
def test_where_says_which_batch_the_iteration_uses_and_since_when():
    rows = json_rows("moons", ["where", "continue 50", "where", "batch next", "where"])
    assert all(r["ok"] for r in rows)
    first, cont, later, _, moved = rows
    assert first["data"]["batch_note"].startswith("iteration 1 uses examples 0:4 (4 of 200); step and continue "
                                                  "repeat this batch")
    assert "`batch next` moves to the next 4" in first["data"]["batch_note"]
    assert later["data"]["iteration"] == 50
    assert later["data"]["batch_note"].startswith("iteration 50 uses examples 0:4 (4 of 200), the same batch as "
                                                  "every iteration since 1")
    assert cont["data"]["batch_note"] == later["data"]["batch_note"]
    assert moved["data"]["batch"] == [4, 5, 6, 7]
    assert moved["data"]["batch_note"].startswith("iteration 50 uses examples 4:8 (4 of 200);")
    assert "batch_note" not in json_rows("moons", ["continue"])[0]["data"]  # one iteration: nothing to say


def test_train_after_memorising_one_batch_explains_the_jump_in_loss():
    rows = json_rows("moons", ["continue 300", "train 20"])
    batch_loss = rows[0]["data"]["where"]["loss"]
    r = rows[1]
    assert r["ok"] and r["data"]["batch_loss"] == batch_loss and batch_loss < 0.01
    assert r["data"]["first_loss"] > 1.5 * batch_loss
    assert f"why the loss jumped from {batch_loss:.4g}: stepping repeated your batch 0:4 (4 of 200" in r["message"]
    assert "minibatches of 16 from all 200" in r["message"]


# -- 12: divergence: one nndb message, no NumPy warnings, a usable session --------------------------------
def test_divergence_is_one_clear_message_without_numpy_warnings():
    import warnings

    import numpy as np
    session = open_preset("moons")
    interp = Interpreter(session)
    results = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for line in ("set lr = 1e200", "continue 5", "explain L", "print norm(W1)*1e300*1e300", "step 20", "where"):
            results.append(interp.run(line))
    assert [str(w.message) for w in caught] == []
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]
    notes = [r.data.get("diverged") for r in results]
    assert notes[1] is not None and notes[1].startswith("loss became nan at iteration 2: the learning rate "
                                                        "(lr = 1e+200) is too large for this network")
    assert notes[2:] == [None] * 4  # said once
    assert "loss became nan at iteration 2" in rendered(results[1])
    assert np.isnan(results[-1].data["loss"])
    assert interp.run("reset").ok and interp.run("continue 3").ok  # usable again, and finite
    assert np.isfinite(session.where()["loss"]) and "diverged" not in interp.run("where").data


# -- 13: sweep writes into a named folder and says where; eval draws digits for a pipe with a grey ramp -------
def test_sweep_writes_its_table_into_a_named_folder_not_the_current_directory(tmp_path):
    args = ["sweep", "--preset", "moons", "--lr", "0.1", "--hidden", "4", "--epochs", "1"]
    p = nndb(args, tmp_path, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert not (tmp_path / "sweep.csv").exists() and not (tmp_path / "sweep.json").exists()
    folder = tmp_path / "sweep-moons"
    assert (folder / "sweep.csv").is_file() and json.loads((folder / "sweep.json").read_text())["rows"][0]["rank"] == 1
    assert f"saved the ranked table in {folder.resolve()}: sweep.csv and sweep.json" in " ".join(p.stdout.split())
    again = nndb(args, tmp_path, cwd=tmp_path)  # a second sweep does not overwrite the first
    assert again.returncode == 0 and (tmp_path / "sweep-moons-2" / "sweep.csv").is_file()
    mine = nndb(args + ["--out", str(tmp_path / "runs") + "/"], tmp_path, cwd=tmp_path)
    assert mine.returncode == 0 and (tmp_path / "runs" / "sweep.csv").is_file()
    assert (tmp_path / "runs" / "sweep.json").is_file()


def test_eval_mistakes_into_a_pipe_draws_digits_with_a_grey_ramp(tmp_path, fake_digits):
    from inspector import cli
    from inspector.plots import GREY_RAMP
    model = tmp_path / "weak.npz"
    assert cli.main(["train", "--data", str(fake_digits), "--layers", "784,4,10", "--epochs", "1", "--lr", "0.0001",
                     "--out", str(model)]) == 0
    p = nndb(["eval", str(model), "--data", str(fake_digits), "--mistakes", "--samples", "2"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "mistakes (2 of" in p.stdout
    assert "▀" not in p.stdout and "\x1b[" not in p.stdout
    assert p.stdout.count("@" * 20) == 2  # each digit's lit band (rows 2k..2k+1, columns 4..23): one run of '@'

    ramp = set(GREY_RAMP)
    art = [line for line in p.stdout.splitlines() if line.strip() and set(line) <= ramp | {" "}]
    assert len(art) >= 12  # 28 rows → 14 lines; the two digits stand side by side on the same lines


# -- 10: a layer with parameters is numbered like them (rnn1 owns Wx1; dense2 owns W2) ----------------------
def test_layers_and_their_parameters_share_one_number_in_every_preset():
    import re
    for preset in ("xor", "spiral", "bars", "segments", "seq", "seq-lstm"):
        model = open_preset(preset).model
        for layer in model.layers:
            for attr in layer.params:
                number = re.search(r"\d+$", layer.name).group()
                assert re.search(r"\d+$", layer.sym[attr]).group() == number, (preset, layer.name, layer.sym[attr])
    assert [layer.name for layer in open_preset("seq").model.layers] == ["rnn1", "dense2"]
    assert [layer.name for layer in open_preset("seq-lstm").model.layers] == ["lstm1", "dense2"]
    assert [layer.name for layer in open_preset("segments").model.layers] == [
        "conv1", "relu1", "maxpool1", "flatten1", "dense2"]


def test_the_rnn_output_layer_is_dense2_in_json():
    rows = json_rows("seq", ["until dense2.forward", "gradcheck dense2 0", "print dense2.W", "gradcheck dense1 0"])
    assert rows[0]["ok"] and rows[0]["data"]["op"]["name"] == "dense2.forward.Z2"
    assert rows[0]["data"]["op"]["equation"] == "Z2 = H1·W2 + b2"
    assert rows[1]["ok"] and {r["parameter"][:2] for r in rows[1]["data"]["rows"]} == {"W2", "b2"}
    assert rows[2]["ok"] and rows[2]["data"]["shape"] == [8, 2]
    assert not rows[3]["ok"] and "rnn1, dense2" in rows[3]["message"]


def test_a_model_file_saved_with_the_old_layer_names_still_loads(tmp_path):
    import numpy as np

    from engine import load, save
    model = open_preset("seq").model
    path = tmp_path / "seq.npz"
    save(model, path)
    with np.load(path) as data:  # rewrite it as files were written before: dense1.W, dense1.b
        arrays = {name.replace("dense2.", "dense1."): data[name] for name in data.files}
    np.savez(path, **arrays)
    loaded = load(path)
    assert [layer.name for layer in loaded.layers] == ["rnn1", "dense2"]
    assert np.array_equal(loaded.param("W2").value, model.param("W2").value)
