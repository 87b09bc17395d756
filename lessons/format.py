"""The lesson file format: Markdown with a front matter and ``## Step:`` sections (docs/lessons.md).

A lesson is data, never code: its checks and predictions name entries of a fixed vocabulary
(lessons/checks.py) with arguments in the debugger's own expression grammar, so a teacher's
lesson folder can be loaded without running anything from it.
"""
from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

FRONT_KEYS = {"id", "title", "learn", "order", "preset", "seed", "batch", "net", "init", "optimizer", "lr", "size",
              "l2", "hidden", "filters", "pool", "stretch", "track", "exercise",
              "examples", "noise", "validation", "standardize", "dropout"}
NOT_SETUP_KEYS = {"id", "title", "learn", "order", "track", "exercise"}  # about the lesson, not its network
STEP_SETUP_KEYS = (FRONT_KEYS - NOT_SETUP_KEYS) | {"use"}  # what a step's `setup:` may change (`use`: a step only)
DEFAULT_TRACK = "foundations"
REQUIRED = ("id", "title", "learn")
PREDICT_KINDS = ("shape", "value", "sign")
TOLERANCE = re.compile(r"\+?([0-9]{1,20}(\.[0-9]{0,20})?|\.[0-9]{1,20})([eE][+-]?[0-9]{1,3})?", re.ASCII)
MAX_LESSON_BYTES = 1 << 20  # the built-in lessons are under 4 KB each
MAX_CHOICES = 26             # options are lettered a) to z)


class LessonFormatError(ValueError):
    """A lesson file that cannot be read; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class Check:
    """One condition from the vocabulary: ``at dense1.forward``, ``ran gradcheck dense1``."""

    name: str
    arg: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.name} {self.arg}".strip()


@dataclass(frozen=True)
class Predict:
    """Predict-first: the learner states ``kind`` of ``target`` before the code computes it."""

    kind: str            # shape | value | sign
    target: str          # an expression: Z1, dW1[0,0], P[0,1]
    tolerance: float = 0.05
    relative: bool = False  # `± 50%`: the tolerance is a fraction of the computed value
    equation: str | None = None  # `dZ2[0,1] = EXPR`: judged against what its equation gives, not the code


@dataclass(frozen=True)
class Choice:
    """One option of a multiple-choice question (``choice: relu1 — its mask is right``) and what a learner
    who picks it is told."""

    option: str
    feedback: str
    line: int = 0


@dataclass
class Step:
    title: str
    text: str
    checks: list[Check]
    hints: list[str] = field(default_factory=list)
    predict: Predict | None = None
    setup: dict[str, str] = field(default_factory=dict)  # `setup: key: value`: restart with these when the step begins
    line: int = 0                                          # of its `## Step:` heading
    why: str | None = None                                 # the reasoning shown after a wrong prediction
    choices: list[Choice] = field(default_factory=list)    # `choice:` lines: `answer` is multiple choice


@dataclass
class Lesson:
    id: str
    title: str
    learn: str
    intro: str
    steps: list[Step]
    setup: dict[str, str]
    path: Path | None = None
    order: int = 0
    track: str = DEFAULT_TRACK       # the group `nndb lessons` lists it in
    exercise: str | None = None      # the exercise the lesson's learner writes (the build track)


def parse_lesson(text: str, path: Path | str = "<lesson>", known_checks=()) -> Lesson:
    """Read one lesson file; raise LessonFormatError with ``path:line: problem``."""
    path = Path(path)
    lines = text.removeprefix("\ufeff").splitlines()  # a UTF-8 BOM, as some editors write

    def fail(line_no: int, message: str):
        raise LessonFormatError(f"{path}:{line_no}: {message}")

    if not lines or lines[0].strip() != "---":
        fail(1, "a lesson starts with a front matter: a line `---`, then `key: value` lines, then `---`")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        fail(1, "the front matter is not closed by a line `---`")
    setup: dict[str, str] = {}

    def front_line(key: str) -> int:
        return next((i + 1 for i in range(1, end) if lines[i].strip().partition(":")[0].strip() == key), 1)

    for i in range(1, end):
        raw = lines[i].strip()
        if not raw or raw.startswith("#"):
            continue
        key, sep, value = raw.partition(":")
        key = key.strip()
        if not sep or not value.strip():
            fail(i + 1, f"expected `key: value` in the front matter, got {raw!r}")
        if key not in FRONT_KEYS:
            fail(i + 1, f"unknown front-matter key {key!r}; known: {', '.join(sorted(FRONT_KEYS))}")
        setup[key] = value.strip()
    for key in REQUIRED:
        if key not in setup:
            fail(1, f"the front matter needs `{key}:`")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", setup["id"]):
        fail(2, f"id {setup['id']!r} must be lowercase letters, digits and dashes")
    order = 0
    if "order" in setup:
        if not re.fullmatch(r"[0-9]{1,6}", setup["order"], re.ASCII):  # not isdigit: it accepts ²
            fail(1, f"order must be a whole number (at most 6 digits), got {setup['order'][:40]!r}")
        order = int(setup["order"])
    for key in ("track", "exercise"):
        if key in setup and not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", setup[key], re.ASCII):
            fail(front_line(key), f"{key} must be a name of lowercase letters, digits, dashes and underscores, "
                                  f"got {setup[key][:40]!r}")

    intro: list[str] = []
    steps: list[Step] = []
    current: dict | None = None

    def close(line_no: int) -> None:
        if current is None:
            return
        if not current["checks"]:
            fail(current["line"], f"step {current['title']!r} has no `check:` line: nothing could ever complete it")
        if current["why"] and current["predict"] is None:
            fail(current["why_line"], "`why:` explains a prediction: the step needs a `predict:` line")
        choices = current["choices"]
        if choices and not any(c.name == "answered" for c in current["checks"]):
            fail(choices[0].line, "`choice:` lines make an `answer` question multiple choice: the step needs a "
                                  "`check: answered TEXT` naming the right option")
        if len(choices) == 1:
            fail(choices[0].line, "a multiple-choice question needs at least two `choice:` lines")
        if len(choices) > MAX_CHOICES:
            fail(choices[MAX_CHOICES].line, f"at most {MAX_CHOICES} `choice:` lines in a step (a) to z))")
        seen: set[str] = set()
        for c in choices:
            if c.option.lower() in seen:
                fail(c.line, f"the option {c.option!r} is given twice")
            seen.add(c.option.lower())
        steps.append(Step(current["title"], "\n".join(current["text"]).strip(), current["checks"],
                          current["hints"], current["predict"], current["setup"], current["line"],
                          " ".join(current["why"]) or None, choices))

    for i in range(end + 1, len(lines)):
        raw = lines[i]
        line_no = i + 1
        m = re.match(r"^##\s+Step:\s*(.+?)\s*$", raw)
        if m:
            close(line_no)
            current = {"title": m.group(1), "text": [], "checks": [], "hints": [], "predict": None, "setup": {},
                       "line": line_no, "why": [], "why_line": 0, "choices": []}
            continue
        if raw.startswith("## "):
            fail(line_no, f"a section heading must read `## Step: TITLE`, got {raw.strip()!r}")
        directive = re.match(r"^(check|hint|predict|setup|why|choice):\s*(.*)$", raw)
        if directive and current is None:
            fail(line_no, f"`{directive.group(1)}:` outside a step; put it under a `## Step:` heading")
        if directive:
            kind, body = directive.group(1), directive.group(2).strip()
            if not body:
                fail(line_no, f"`{kind}:` needs something after it")
            if kind == "hint":
                current["hints"].append(body)
            elif kind == "why":  # several lines are one text
                current["why"].append(body)
                current["why_line"] = current["why_line"] or line_no
            elif kind == "choice":
                current["choices"].append(parse_choice(body, line_no, lambda msg: fail(line_no, msg)))
            elif kind == "setup":
                key, sep, value = body.partition(":")
                key = key.strip()
                if not sep or not value.strip():
                    fail(line_no, f"expected `setup: key: value` (e.g. `setup: net: tanh`), got {body!r}")
                if key not in STEP_SETUP_KEYS:
                    fail(line_no, f"a step cannot change {key!r}; `setup:` takes {', '.join(sorted(STEP_SETUP_KEYS))}")
                current["setup"][key] = value.strip()
            elif kind == "check":
                name, _, arg = body.partition(" ")
                if known_checks and name not in known_checks:
                    fail(line_no, f"unknown check {name!r}; known checks: {', '.join(sorted(known_checks))}")
                current["checks"].append(Check(name, arg.strip(), line_no))
            else:
                if current["predict"] is not None:
                    fail(line_no, "a step has at most one `predict:`")
                current["predict"] = parse_predict(body, lambda msg: fail(line_no, msg))
            continue
        (current["text"] if current is not None else intro).append(raw)
    close(len(lines))
    if not steps:
        fail(end + 1, "a lesson needs at least one `## Step: TITLE` section")
    return Lesson(setup["id"], setup["title"], setup["learn"], "\n".join(intro).strip(), steps,
                  setup, path, order, setup.get("track", DEFAULT_TRACK), setup.get("exercise"))


def parse_choice(body: str, line_no: int, fail) -> Choice:
    """``relu1 — its backward applies the mask`` (an em dash, or `` -- ``): an option and its feedback."""
    option, dash, feedback = body.partition("—")
    if not dash:
        option, dash, feedback = body.partition(" -- ")
    option, feedback = option.strip(), feedback.strip()
    if not dash or not option or not feedback:
        fail(f"expected `choice: OPTION — FEEDBACK` (an em dash or ` -- ` between them), got {body[:60]!r}")
    return Choice(option, feedback, line_no)


def parse_predict(body: str, fail) -> Predict:
    """``value Z1[0,2] ± 0.01``, ``shape dW1``, ``sign dZ2[0,1]``; ``value dZ2[0,1] = EXPR ± 0.001`` judges the
    prediction against EXPR, what the target's equation gives (a bug hunt: the code may disagree)."""
    kind, _, rest = body.partition(" ")
    if kind not in PREDICT_KINDS:
        fail(f"predict needs a kind first: one of {', '.join(PREDICT_KINDS)}, got {kind!r}")
    target, _, tol = rest.partition("±")
    target, equals, equation = target.partition(" = ")
    if equals and not equation.strip():
        fail("predict: after ` = ` comes what the target's equation gives, e.g. "
             "`predict: value dZ2[0,1] = dA2[0,1] * (Z2[0,1] > 0)`")
    if not target.strip():
        fail("predict needs a target, e.g. `predict: value Z1[0,2] ± 0.01`")
    tolerance, relative = 0.05, tol.strip().endswith("%")
    if tol.strip():
        number = tol.strip().removesuffix("%").strip()
        if not TOLERANCE.fullmatch(number) or not math.isfinite(float(number)):
            fail(f"the tolerance after ± must be a number, got {tol.strip()[:40]!r}: a finite number ≥ 0 "
                 f"(or a percentage, e.g. ± 50%)")
        tolerance = float(number) / (100 if relative else 1)
    return Predict(kind, target.strip(), tolerance, relative, equation.strip() or None)


def read_lesson_text(path: Path) -> str:
    """The text of a lesson file: a regular file (a FIFO or a link to /dev/zero is refused before it is
    opened), at most MAX_LESSON_BYTES, UTF-8 (a BOM is accepted)."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise LessonFormatError(f"{path}: not a regular file (a device, a pipe or a folder); a lesson is a "
                                    f"Markdown text file")
        if info.st_size > MAX_LESSON_BYTES:
            raise LessonFormatError(f"{path}: {info.st_size:,} bytes, over the {MAX_LESSON_BYTES:,}-byte limit on "
                                    f"a lesson file (lessons.format.MAX_LESSON_BYTES)")
        with open(path, "rb") as f:
            data = f.read(MAX_LESSON_BYTES + 1)
        if len(data) > MAX_LESSON_BYTES:
            raise LessonFormatError(f"{path}: over the {MAX_LESSON_BYTES:,}-byte limit on a lesson file "
                                    f"(lessons.format.MAX_LESSON_BYTES)")
        return data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise LessonFormatError(f"{path}: cannot read the lesson: {e}") from None


def load_lessons(folder: Path, known_checks=(), errors: list[str] | None = None) -> list[Lesson]:
    """Every ``*.md`` lesson in a folder, in their ``order``; ids must be unique.

    With ``errors`` (a list), a lesson that cannot be read is skipped and its LessonFormatError's
    message appended there, so the others are still offered; without it the first one is raised."""
    lessons = []
    for path in sorted(Path(folder).glob("*.md")):
        try:
            lessons.append(parse_lesson(read_lesson_text(path), path, known_checks))
        except LessonFormatError as e:
            if errors is None:
                raise
            errors.append(str(e))
    seen: dict[str, Path] = {}
    unique = []
    for lesson in lessons:
        if lesson.id in seen:
            message = f"{lesson.path}: lesson id {lesson.id!r} is also used by {seen[lesson.id]}"
            if errors is None:
                raise LessonFormatError(message)
            errors.append(message)
            continue
        seen[lesson.id] = lesson.path
        unique.append(lesson)
    return sorted(unique, key=lambda l: (l.order, l.id))
