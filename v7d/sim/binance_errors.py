"""Binance error answers: HTTP status, negative code and message, raised by the handlers."""

from __future__ import annotations

__all__ = [
    "BinanceError",
    "bad_param",
    "illegal_range",
    "invalid_symbol",
    "mandatory",
]


class BinanceError(Exception):
    """An error the simulated exchange answers with ``{"code": ..., "msg": ...}``."""

    def __init__(
        self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers or {}


def mandatory(name: str) -> BinanceError:
    """-1102: a mandatory parameter is missing or malformed."""
    return BinanceError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def bad_param(name: str) -> BinanceError:
    """-1130: a parameter has an invalid value (e.g. limit above the maximum)."""
    return BinanceError(-1130, f"Data sent for parameter '{name}' is not valid.")


def illegal_range(name: str, legal: str) -> BinanceError:
    """-1100 in its "legal range" form (e.g. startTime older than retention)."""
    return BinanceError(
        -1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'."
    )


def invalid_symbol() -> BinanceError:
    """-1121: unknown symbol."""
    return BinanceError(-1121, "Invalid symbol.")
