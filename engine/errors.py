"""Errors the engine raises on bad input: each message says what was wrong and what would be right."""


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class ShapeError(EngineError, ValueError):
    """An array reached a layer or loss with a shape it cannot take."""


class ModelFileError(EngineError, ValueError):
    """A model file is missing, truncated, not ours, or hand-edited into something invalid."""


class DataError(EngineError, ValueError):
    """A dataset is missing or malformed."""


def shape_str(shape) -> str:
    """``(64, 784)`` → ``64×784``; the way shapes are written in messages and equations."""
    return "×".join(str(n) for n in shape) if len(shape) else "scalar"
