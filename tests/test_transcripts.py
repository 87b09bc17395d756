"""The debugger reports the same numbers as the transcripts recorded before the redesign (issue 11)."""
from __future__ import annotations

import pytest

import transcripts


@pytest.mark.parametrize("preset", transcripts.PRESETS)
def test_repl_json_transcript_is_unchanged(preset):
    recorded = transcripts.load(preset)
    rows = transcripts.run(preset, recorded["script"])
    assert len(rows) == len(recorded["rows"])
    for line, then, now in zip(recorded["script"], recorded["rows"], rows):
        diffs = transcripts.same(then, now)
        assert not diffs, f"{preset}: `{line}` differs from the recorded transcript:\n" + "\n".join(diffs[:10])
