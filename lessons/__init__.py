"""nndb's guided lessons: lesson files (content/), the checks that verify progress, and their runner."""
import os

# The `nndb` entry point lives in this package, so this runs before NumPy loads. nndb's networks are
# small: one BLAS thread beats several (2.2 s instead of 8 s for the digits preset here, and instead
# of a minute when the machine is busy). A user's own setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from .format import Lesson, LessonFormatError, load_lessons, parse_lesson  # noqa: E402
from .library import CONTENT, all_lessons, find_lesson  # noqa: E402

__all__ = ["Lesson", "LessonFormatError", "load_lessons", "parse_lesson", "all_lessons", "find_lesson", "CONTENT"]
