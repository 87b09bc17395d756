"""Per-user lesson progress in $XDG_STATE_HOME/nndb/progress.json: merged under a lock, atomic writes,
corrupt files kept aside."""
from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from engine.serialize import atomic_write
from inspector.repl import state_dir

from .predictions import OUTCOMES, tally_of

VERSION = 1


def empty_record() -> dict:
    return {"step": 0, "done": False, "commands": [], "completed": [], "predictions": []}


def valid_record(r) -> bool:
    """A record as nndb writes it; ``predictions`` ([step, outcome] pairs) is optional: older files lack it.
    ``legacy_commands``: how many of the commands were run before the second try existed (they replay so)."""
    return (isinstance(r, dict) and isinstance(r.get("step"), int) and r["step"] >= 0
            and isinstance(r.get("done"), bool) and isinstance(r.get("commands"), list)
            and all(isinstance(c, str) for c in r["commands"])
            and isinstance(r.get("completed"), list) and all(isinstance(c, int) for c in r["completed"])
            and isinstance(r.get("predictions", []), list)
            and isinstance(r.get("legacy_commands", 0), int) and r.get("legacy_commands", 0) >= 0
            and all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], int) and p[1] in OUTCOMES
                    for p in r.get("predictions", [])))


def prediction_tally(record: dict) -> dict[str, int]:
    """How many of a lesson's predictions were right first time, out of how many, and how many were seen."""
    return tally_of(outcome for _, outcome in record.get("predictions", []))


MAX_BYTES = 16 * 2**20  # a progress file larger than this is not one nndb wrote


class ProgressStore:
    """Reads once; every change is merged into the file on disk under a lock, so two lessons run at
    once both keep their progress. A file that cannot be read is never replaced: a corrupt one is
    first kept aside under a unique name; an unreadable one (permissions, I/O) turns saving off.
    A failed save is said in ``warning`` and ``put`` returns False."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else state_dir() / "progress.json"
        self.warning: str | None = None
        self.writable = True
        self.changed: dict[str, dict | None] = {}  # this process's changes (None: reset)
        self.cleared = False
        self.lessons: dict[str, dict] = self._read(initial=True)

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _read(self, initial: bool = False) -> dict[str, dict]:
        try:
            if self.path.exists() and not self.path.is_file():
                raise OSError(0, "not a regular file")
            with open(self.path, "rb") as f:
                raw = f.read(MAX_BYTES + 1)
        except FileNotFoundError:
            return {}
        except OSError as e:
            self.writable = False
            self.warning = (f"cannot read your progress file {self.path} ({e.strerror or e}); it is left as it is "
                            f"and progress will not be saved")
            return {}
        try:
            if len(raw) > MAX_BYTES:
                raise ValueError(f"larger than {MAX_BYTES // 2**20} MB")
            data = json.loads(raw.decode("utf-8"))
            lessons = data["lessons"]
            if data.get("version") != VERSION or not isinstance(lessons, dict) or \
                    not all(isinstance(k, str) and valid_record(v) for k, v in lessons.items()):
                raise ValueError("unexpected structure")
            return lessons
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
            reason = "nested too deeply" if isinstance(e, RecursionError) else str(e)[:200]
            kept = self._set_aside()
            if kept is None:
                self.writable = False
                self.warning = (f"your progress file {self.path} could not be read ({reason}) nor moved aside; "
                                f"it is left as it is and progress will not be saved")
            else:
                self.warning = (f"your progress file {self.path} could not be read ({reason}); it was kept as "
                                f"{kept.name} and a fresh one started")
            return {}

    def _set_aside(self) -> Path | None:
        """Move the unreadable file to a name no other file has (a link, never over another), or None."""
        stamp = time.strftime('%Y%m%d-%H%M%S')
        for n in range(1000):
            kept = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}" + (f"-{n}" if n else ""))
            try:
                os.link(self.path, kept)
            except FileExistsError:
                continue
            except OSError:
                return None
            try:
                os.unlink(self.path)
            except OSError:
                pass
            return kept
        return None

    def get(self, lesson_id: str) -> dict:
        return dict(self.lessons.get(lesson_id) or empty_record())

    def put(self, lesson_id: str, record: dict) -> bool:
        self.lessons[lesson_id] = record
        self.changed[lesson_id] = record
        return self.save()

    def reset(self, lesson_id: str | None = None) -> bool:
        if lesson_id is None:
            self.lessons, self.changed, self.cleared = {}, {}, True
        else:
            self.lessons.pop(lesson_id, None)
            self.changed[lesson_id] = None
        return self.save()

    def save(self) -> bool:
        """Merge this process's changes into the file on disk, under the lock; False if not saved."""
        if not self.writable:
            return False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.lock_path, "a+b") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    on_disk = self._read()
                    if not self.writable:  # it became unreadable since: leave it
                        return False
                    merged = {} if self.cleared else dict(on_disk)
                    for lesson_id, record in self.changed.items():
                        if record is None:
                            merged.pop(lesson_id, None)
                        else:
                            merged[lesson_id] = record
                    text = json.dumps({"version": VERSION, "lessons": merged}, indent=1)
                    atomic_write(self.path, lambda f: f.write(text.encode("utf-8")))
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
        except OSError as e:
            self.warning = f"progress NOT saved to {self.path}: {e.strerror or e}"
            return False
        self.lessons = merged
        return True
