"""The inspector's one error type for a request that cannot be done as asked."""
from __future__ import annotations


class SessionError(Exception):
    """A command that cannot be done as asked; the message says what was wrong and what would be right."""
