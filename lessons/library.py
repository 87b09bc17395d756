"""Finding lessons: the built-in ones and a teacher's folders, each validated before it is offered."""
from __future__ import annotations

from pathlib import Path

from .checks import CHECKS, normalize, validate
from .format import Lesson, LessonFormatError, load_lessons
from .setups import check_setup, merged

CONTENT = Path(__file__).parent / "content"


def validate_lesson(lesson: Lesson) -> None:
    """Raise LessonFormatError naming the file and line of a bad setup or check argument."""
    problem = check_setup(lesson.setup)
    if problem:
        raise LessonFormatError(f"{lesson.path}:1: {problem}")
    setup = lesson.setup
    for step in lesson.steps:
        if step.setup:
            setup = merged(setup, step.setup)
            problem = check_setup(setup)
            if problem:
                raise LessonFormatError(f"{lesson.path}:{step.line}: step {step.title!r}: setup: {problem}")
        for c in step.checks:
            problem = validate(c.name, c.arg)
            if problem:
                raise LessonFormatError(f"{lesson.path}:{c.line}: {problem}")
            options = [normalize(choice.option).lower() for choice in step.choices]
            if c.name == "answered" and options and normalize(c.arg).lower() not in options:
                raise LessonFormatError(f"{lesson.path}:{c.line}: the right answer {c.arg!r} is not one of the "
                                        f"step's `choice:` options ({', '.join(x.option for x in step.choices)})")
    if lesson.exercise is not None:
        from .exercises import EXERCISES
        if lesson.exercise not in EXERCISES:
            raise LessonFormatError(f"{lesson.path}:1: exercise {lesson.exercise!r} is not one of the exercises "
                                    f"({', '.join(EXERCISES)})")


def all_lessons(extra_dirs=(), errors: list[str] | None = None) -> list[Lesson]:
    """Built-in lessons, then each extra folder's; an id in a later folder replaces an earlier one.

    With ``errors`` (a list), a lesson that fails to read or validate is left out and its message
    (file and line) appended there, so the others are still listed; without it the first is raised."""
    by_id: dict[str, Lesson] = {}
    for folder in [CONTENT, *map(Path, extra_dirs)]:
        if not folder.is_dir():
            raise LessonFormatError(f"{folder}: no such lessons folder")
        for lesson in load_lessons(folder, known_checks=CHECKS, errors=errors):
            try:
                validate_lesson(lesson)
            except LessonFormatError as e:
                if errors is None:
                    raise
                errors.append(str(e))
                continue
            by_id[lesson.id] = lesson
    return by_track(by_id.values())


def by_track(lessons) -> list[Lesson]:
    """Lessons grouped by track, the tracks in the order of their first lesson, then by order and id
    (the foundations, orders 1–29, come before the build track, 30–40)."""
    lessons = sorted(lessons, key=lambda l: (l.order, l.id))
    first: dict[str, int] = {}
    for i, lesson in enumerate(lessons):
        first.setdefault(lesson.track, i)
    return sorted(lessons, key=lambda l: (first[l.track], l.order, l.id))


def find_lesson(lessons: list[Lesson], key: str) -> Lesson:
    """A lesson by id or by its number in the list (1-based)."""
    if key.isdigit() and 1 <= int(key) <= len(lessons):
        return lessons[int(key) - 1]
    for lesson in lessons:
        if lesson.id == key:
            return lesson
    raise KeyError(f"no lesson {key!r}; `nndb lessons` lists them ({', '.join(l.id for l in lessons)})")
