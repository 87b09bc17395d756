"""Per-user lesson progress in $XDG_STATE_HOME/nndb/progress.json: atomic writes, corrupt files kept aside."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from engine.serialize import atomic_write
from inspector.repl import state_dir

VERSION = 1


def empty_record() -> dict:
    return {"step": 0, "done": False, "commands": [], "completed": []}


def valid_record(r) -> bool:
    return (isinstance(r, dict) and isinstance(r.get("step"), int) and r["step"] >= 0
            and isinstance(r.get("done"), bool) and isinstance(r.get("commands"), list)
            and all(isinstance(c, str) for c in r["commands"])
            and isinstance(r.get("completed"), list) and all(isinstance(c, int) for c in r["completed"]))


class ProgressStore:
    """Reads once, writes every change; never silently drops a file it cannot read."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else state_dir() / "progress.json"
        self.warning: str | None = None
        self.lessons: dict[str, dict] = self._read()

    def _read(self) -> dict[str, dict]:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as e:
            self.warning = f"cannot read your progress file {self.path} ({e.strerror}); progress will not be saved"
            return {}
        try:
            data = json.loads(raw)
            lessons = data["lessons"]
            if data.get("version") != VERSION or not isinstance(lessons, dict) or \
                    not all(isinstance(k, str) and valid_record(v) for k, v in lessons.items()):
                raise ValueError("unexpected structure")
            return lessons
        except (ValueError, KeyError, TypeError) as e:
            kept = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                os.replace(self.path, kept)
                self.warning = (f"your progress file {self.path} could not be read ({e}); it was kept as "
                                f"{kept.name} and a fresh one started")
            except OSError:
                self.warning = f"your progress file {self.path} could not be read ({e}) nor moved aside"
            return {}

    def get(self, lesson_id: str) -> dict:
        return dict(self.lessons.get(lesson_id) or empty_record())

    def put(self, lesson_id: str, record: dict) -> None:
        self.lessons[lesson_id] = record
        self.save()

    def reset(self, lesson_id: str | None = None) -> None:
        if lesson_id is None:
            self.lessons = {}
        else:
            self.lessons.pop(lesson_id, None)
        self.save()

    def save(self) -> None:
        text = json.dumps({"version": VERSION, "lessons": self.lessons}, indent=1)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, lambda f: f.write(text.encode("utf-8")))
        except OSError as e:
            self.warning = f"cannot save progress to {self.path}: {e.strerror or e}"
