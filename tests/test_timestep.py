"""Stepping an RNN by timestep, the per-timestep norms, and explain on its ops."""
from __future__ import annotations

import numpy as np
import pytest

from inspector.commands import Interpreter
from inspector.render import BAR, PER_DECADE, render_timesteps
from inspector.sources import open_preset
from session_helpers import diff_fingerprints, fingerprint


@pytest.fixture
def seq():
    s = open_preset("seq")
    return s, Interpreter(s)


def run(interp, line):
    r = interp.run(line)
    assert r.ok, f"{line}: {r.message}"
    return r


def steps_of(s, phase):
    return [op for op in s.tape if op.layer == "rnn1" and op.phase == phase and "t" in op.attrs]


def test_timestep_walks_forward_in_time_then_backward_in_reverse(seq):
    s, interp = seq
    T = len(steps_of(s, "forward"))
    assert T == s.values_at(0)["X"].shape[1] > 2
    seen = [run(interp, "timestep").data["op"]["name"] for _ in range(T)]
    assert seen == [f"rnn1.forward.h1_{t}" for t in range(T)]
    run(interp, "until backward")
    back = [run(interp, "ts").data["op"]["name"] for _ in range(T)]
    assert back == [f"rnn1.backward.dh1_{t}" for t in reversed(range(T))], "BPTT runs t = T−1 down to 0"
    r = run(interp, "ts")  # past the last timestep: on to the op after it
    assert r.data["op"]["name"] == "rnn1.backward.dWx1"
    assert any("last timestep" in note for note in r.data["notes"])


def test_timestep_n_jumps_within_the_phase_at_the_cursor(seq):
    s, interp = seq
    assert run(interp, "timestep 3").data["op"]["name"] == "rnn1.forward.h1_3"  # from the start: forward
    assert run(interp, "timestep 1").data["op"]["name"] == "rnn1.forward.h1_1"  # back in time, same phase
    run(interp, "until loss")
    assert run(interp, "ts 2").data["op"]["name"] == "rnn1.backward.dh1_2"     # the next recurrent phase


def test_timestep_errors_leave_the_session_as_it_was(seq):
    s, interp = seq
    run(interp, "ts 2")
    before = fingerprint(s)
    T = len(steps_of(s, "forward"))
    for line, message in [(f"ts {T}", f"rnn1 has timesteps 0..{T - 1}, got {T}"),
                          ("ts -1", "expected a timestep (a whole number ≥ 0), got '-1'"),
                          ("ts two", "got 'two'")]:
        r = interp.run(line)
        assert not r.ok and message in r.message, f"{line}: {r.message}"
        assert not diff_fingerprints(before, fingerprint(s)), line
    xor = open_preset("xor")
    r = Interpreter(xor).run("timestep")
    assert not r.ok and "no recurrent layer" in r.message and "seq" in r.message


def test_each_rnn_step_reports_the_norms_through_time_so_far(seq):
    s, interp = seq
    run(interp, "until backward")
    run(interp, "ts")
    r = run(interp, "ts")
    view = r.data["timesteps"]
    T = len(steps_of(s, "forward"))
    expected = [(op.attrs["t"], float(np.linalg.norm(op.outputs[f"dh1_{op.attrs['t']}"])))
                for op in steps_of(s, "backward")[:2]]
    assert view["backward"] == pytest.approx(expected) and view["t"] == T - 2 and view["T"] == T
    assert [v for _, v in view["backward"]] == pytest.approx([op.attrs["norm"] for op in steps_of(s, "backward")[:2]])
    assert len(view["forward"]) == T and view["symbols"] == {"forward": "h1", "backward": "dh1"}
    assert "timesteps" in run(interp, "step").data  # a plain step onto an RNN op shows them too
    assert "timesteps" not in run(interp, "until update").data


def test_edits_show_in_the_norms(seq):
    s, interp = seq
    T = len(steps_of(s, "forward"))
    run(interp, f"until dh1_{T - 1}")
    run(interp, f"set dz1_{T - 1} = 0")  # what flows back in time is dz_t (dh_t is already used up)
    view = run(interp, "ts 0").data["timesteps"]
    assert view["backward"][0][1] > 0 and [v for _, v in view["backward"][1:]] == [0.0] * (T - 1), \
        "with nothing from the top, no gradient flows back in time"
    run(interp, "ts 4")
    run(interp, "set dh1_4 = 1")
    assert run(interp, "ts 4").data["timesteps"]["backward"][-1] == (4, pytest.approx(np.sqrt(s.values_at()["dh1_4"].size)))


def test_the_norm_view_draws_log_scale_bars_and_the_ratio():
    view = {"layer": "rnn1", "T": 3, "t": 1, "forward": [], "backward": [(2, 1.0), (1, 0.001)],
            "symbols": {"backward": "dh1"}}
    lines = [t.plain for t in render_timesteps(view)]
    assert lines[0].startswith("‖dh1_t‖ per timestep: rnn1 backward, 2 of 3")
    assert lines[1].startswith("  t=2") and lines[1].count("█") == BAR
    assert lines[2].startswith("▶ t=1") and lines[2].count("█") == BAR - 3 * PER_DECADE  # 1000× less
    assert lines[-1].strip() == "‖dh1_1‖ / ‖dh1_2‖ = 1.0e-03  vanishing: the earliest step so far gets 1000× less " \
                                "gradient than the last"


def test_explain_the_recurrence_and_bptt_with_their_numbers(seq):
    s, interp = seq
    run(interp, "ts 2")
    v = s.values_at()
    X2, Wx, Wh, b, h1 = v["X_2"], v["Wx1"], v["Wh1"], v["b1"], v["h1_1"]
    d = run(interp, "explain h1_2[1,3]").data
    assert d["value"] == pytest.approx(np.tanh(X2[1] @ Wx[:, 3] + h1[1] @ Wh[:, 3] + b[3]), abs=1e-12)
    assert d["formula"] == "h1_2[1,3] = tanh(Σₖ X_2[1,k]·Wx1[k,3] + Σₖ h1_1[1,k]·Wh1[k,3] + b1[3])"
    T = len(steps_of(s, "forward"))
    run(interp, f"until dh1_{T - 2}")
    v = s.values_at()
    d = run(interp, f"explain dh1_{T - 2}[0,1]").data
    assert d["value"] == pytest.approx(v[f"dz1_{T - 1}"][0] @ v["Wh1"][1], abs=1e-12)
    assert "came back through Wh1ᵀ" in d["notes"][0]
    d = run(interp, f"explain dz1_{T - 2}[0,1]").data
    h = v[f"h1_{T - 2}"][0, 1]
    assert d["value"] == pytest.approx(v[f"dh1_{T - 2}"][0, 1] * (1 - h * h), abs=1e-12)
    assert d["formula"] == f"dz1_{T - 2}[0,1] = dh1_{T - 2}[0,1]·(1 − h1_{T - 2}[0,1]²)"


def test_timestep_past_the_last_recurrent_op_goes_on_into_the_next_iteration(seq):
    s, interp = seq
    run(interp, "until dWx1")
    r = run(interp, "timestep")
    assert (s.current.number, r.data["op"]["name"]) == (2, "rnn1.forward.h1_0")
    assert "into iteration 2" in r.data["notes"]
    run(interp, "until update")
    r = run(interp, "ts 3")
    assert (s.current.number, r.data["op"]["name"]) == (3, "rnn1.forward.h1_3")
    run(interp, "until update")
    before = fingerprint(s)
    assert not interp.run("ts 99").ok and not diff_fingerprints(before, fingerprint(s)), "checked before moving"


def test_print_lists_the_arrays_ops_only_read(seq):
    s, interp = seq
    run(interp, "ts 2")
    assert {"X_2", "h1_1", "Wx1"} <= set(s.known_symbols())
    r = interp.run("print nothing_here")
    assert not r.ok and "X_2" in r.message
