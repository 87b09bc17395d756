"""nndb's guided lessons: lesson files (content/), the checks that verify progress, and their runner."""
from . import commands  # noqa: F401  (declares lesson, hint, predict, answer in the command registry)
from .format import Lesson, LessonFormatError, load_lessons, parse_lesson
from .library import CONTENT, all_lessons, find_lesson

__all__ = ["Lesson", "LessonFormatError", "load_lessons", "parse_lesson", "all_lessons", "find_lesson", "CONTENT"]
