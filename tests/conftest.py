"""Shared fixtures for the engine tests: where the shared MNIST copy lives (skip when absent)."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

import lessons  # noqa: F401  first, as `nndb` runs: it sets one BLAS thread before NumPy loads (lessons/__init__.py)

REPO = Path(__file__).resolve().parent.parent


def mnist_folder() -> Path | None:
    """The MNIST folder from $NNDB_MNIST, else ../shared/data/mnist beside the repo; None if absent."""
    candidates = []
    if os.environ.get("NNDB_MNIST"):
        candidates.append(Path(os.environ["NNDB_MNIST"]))
    candidates.append(REPO.parent / "shared" / "data" / "mnist")
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("t10k-images-idx3-ubyte*")):
            return folder
    return None


@pytest.fixture(scope="session")
def solved_exercises(tmp_path_factory) -> Path:
    """A folder holding a correct file for every exercise (tests/exercise_solutions.py): point
    $NNDB_EXERCISES_DIR at it to play the build track's lessons, which check and run the learner's file."""
    from exercise_solutions import SOLUTIONS
    folder = tmp_path_factory.mktemp("solved-exercises")
    for exercise_id, text in SOLUTIONS.items():
        (folder / f"{exercise_id}.py").write_text(text, encoding="utf-8")
    return folder


@functools.cache
def lessons_on_mnist() -> frozenset[str]:
    """The ids of the lessons that read the MNIST digits (``preset: digits``)."""
    from lessons import all_lessons
    from lessons.setup_data import DATA_PRESETS
    return frozenset(lesson.id for lesson in all_lessons() if lesson.setup.get("preset") in DATA_PRESETS)


@pytest.fixture(autouse=True)
def mnist_for_lessons(request, monkeypatch):
    """The lesson tests find the shared MNIST copy through $NNDB_MNIST, as a learner's shell would; a test
    of one lesson on MNIST (a ``lesson_id`` parameter) skips when there is none."""
    callspec = getattr(request.node, "callspec", None)
    lesson_id = callspec.params.get("lesson_id") if callspec else None
    if lesson_id is None and not request.module.__name__.startswith("test_lesson"):
        return
    folder = mnist_folder()
    if folder is not None and not os.environ.get("NNDB_MNIST"):
        monkeypatch.setenv("NNDB_MNIST", str(folder))
    if folder is None and lesson_id in lessons_on_mnist():
        pytest.skip(f"lesson {lesson_id} reads the MNIST digits: set NNDB_MNIST or put the files in "
                    f"../shared/data/mnist")


@pytest.fixture
def mnist_dir() -> Path:
    folder = mnist_folder()
    if folder is None:
        pytest.skip("no MNIST folder: set NNDB_MNIST or put the files in ../shared/data/mnist")
    return folder
