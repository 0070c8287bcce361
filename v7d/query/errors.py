"""The one error the query layer raises for a bad request.

:class:`QueryError` carries the HTTP status and a machine code so that the HTTP routes
and the in-process :class:`~v7d.query.api.HistoryQueryAPI` refuse exactly the same inputs
with exactly the same words: validation lives in :mod:`v7d.query.validate`, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from v7d.errors import V7dError

__all__ = ["QueryError"]


class QueryError(V7dError, ValueError):
    """A query argument is unusable; the message names the argument.

    ``status`` is what the HTTP layer answers (400 malformed, 404 unknown object, 409
    ambiguous, 422 well-formed but impossible, 503 timed out), ``code`` the envelope's
    machine code, ``extra`` machine-readable details (e.g. the symbols of a 409).
    """

    def __init__(
        self, code: str, message: str, status: int = 400, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = dict(extra or {})

    def __repr__(self) -> str:
        return f"QueryError({self.code!r}, {self.message!r}, {self.status})"
