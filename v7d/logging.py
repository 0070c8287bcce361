"""Structured logging for v7d: configured once here, everywhere else ``structlog.get_logger()``.

Formats (``[log].format``)::

    journal   <6>backfill_window_done account=main symbol=BTCUSDT rows=500
              one line per event, syslog priority prefix so ``journalctl -p warning``
              works; no timestamp (journald adds one), no colours
    console   structlog's ConsoleRenderer: readable, colours only on a terminal
    json      one JSON object per line, for machines
    auto      journal when $JOURNAL_STREAM is set (systemd), else console on a tty, else json

Every event passes :func:`redact_secrets` last before rendering: values of keys named like
a secret (``secret``, ``api_key``, ``listen_key``, ``signature``, ``token``,
``authorization``, ``password``) and listen keys or signatures inside URLs are cut to
their first 4 characters. Exceptions become one ``exception`` field, so under journal one
event is still one line. Standard-library loggers (uvicorn, websockets, ccxt) are routed
through the same renderer at WARNING and above; give uvicorn ``log_config=None`` and
``access_log=False`` so it keeps no handlers of its own.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "FORMATS",
    "LEVELS",
    "configure_logging",
    "redact_secrets",
    "redact_text",
    "render_journal",
    "reset_logging",
    "resolve_format",
]

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("auto", "journal", "console", "json")

# syslog priorities (sd-daemon(3)): journald turns a leading <N> into PRIORITY=N.
_PRIORITY = {
    "critical": 2,
    "exception": 3,
    "error": 3,
    "warning": 4,
    "warn": 4,
    "info": 6,
    "debug": 7,
}

# --- redaction -------------------------------------------------------------------------

# Words (after splitting snake_case / camelCase / kebab-case) that mark a key as secret.
# Whole words only: ``tokens_available`` of a rate bucket is not a secret, ``bearer_token`` is.
_SECRET_WORDS = frozenset(
    {"secret", "signature", "token", "authorization", "password", "apikey", "listenkey"}
)
_SECRET_PAIRS = frozenset({("api", "key"), ("listen", "key")})
_WORD_RE = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")

# A listen key in a stream URL path, or a sensitive query parameter anywhere in a string.
_URL_PATH_RE = re.compile(r"(/ws/)([^/?#\s\"'&]+)")
_QUERY_RE = re.compile(
    r"((?:listenKey|signature|apiKey|api_key|secret|token)=)([^&\s\"'#]+)", re.IGNORECASE
)


def _mask(value: str) -> str:
    # Short values would be half-revealed by 4 characters: hide them entirely.
    return value[:4] + "…" if len(value) >= 12 else "***"


def is_secret_key(key: str) -> bool:
    """True when a field name looks like it holds a secret (see ``_SECRET_WORDS``)."""
    words = [w.lower() for w in _WORD_RE.findall(key)]
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


def redact_text(text: str) -> str:
    """Cut listen keys in ``/ws/<key>`` paths and ``listenKey=``/``signature=`` values."""
    if "/ws/" in text:
        text = _URL_PATH_RE.sub(lambda m: m.group(1) + _mask(m.group(2)), text)
    if "=" in text:
        text = _QUERY_RE.sub(lambda m: m.group(1) + _mask(m.group(2)), text)
    return text


def _redact_value(key: str | None, value: Any) -> Any:
    if key is not None and is_secret_key(key) and isinstance(value, str | bytes):
        return _mask(value.decode(errors="replace") if isinstance(value, bytes) else value)
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(None, v) for v in value)
    return value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secret-named fields and secrets inside URLs, recursively."""
    return {k: _redact_value(k, v) for k, v in event_dict.items()}


# --- one-line exceptions and the journal renderer ------------------------------------


def _exception_to_field(_logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    """Turn ``exc_info`` into an ``exception`` string field (redacted like any value)."""
    return structlog.processors.format_exc_info(_logger, method, event_dict)


def _logfmt_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if not isinstance(value, str):
        dumped = json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
        if "\n" not in dumped and " " not in dumped:
            return dumped
        value = dumped
    if value and not any(c in value for c in ' "=\\') and value.isprintable():
        return value
    # json.dumps quotes and escapes newlines, tabs and control characters: one line.
    return json.dumps(value, ensure_ascii=False)


def render_journal(_logger: WrappedLogger, method: str, event_dict: EventDict) -> str:
    """Render ``<N>event key=value ...`` on one line (the journal format)."""
    level = str(event_dict.pop("level", method)).lower()
    event_dict.pop("timestamp", None)  # journald stamps every line itself
    event = str(event_dict.pop("event", ""))
    event = event.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    parts = [f"<{_PRIORITY.get(level, 6)}>{event}"]
    parts.extend(f"{key}={_logfmt_value(value)}" for key, value in event_dict.items())
    return " ".join(parts)


def _add_logger_name(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """For records from the standard library: name the logger (``uvicorn.error``, ...)."""
    record = event_dict.get("_record")
    if record is not None:
        event_dict["logger"] = record.name
    return event_dict


# --- configuration ---------------------------------------------------------------------


def resolve_format(
    fmt: str, stream: TextIO | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """Turn ``auto`` into journal / console / json; check the others; return the name."""
    if fmt not in FORMATS:
        raise ValueError(f"log format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt != "auto":
        return fmt
    env = os.environ if environ is None else environ
    if env.get("JOURNAL_STREAM"):
        return "journal"
    out = sys.stderr if stream is None else stream
    isatty = getattr(out, "isatty", None)
    return "console" if isatty is not None and isatty() else "json"


def _renderer(fmt: str, stream: TextIO) -> Processor:
    if fmt == "journal":
        return render_journal
    if fmt == "json":
        return structlog.processors.JSONRenderer(
            serializer=lambda obj, **kw: json.dumps(obj, ensure_ascii=False, default=str)
        )
    colors = bool(getattr(stream, "isatty", lambda: False)())
    return structlog.dev.ConsoleRenderer(
        colors=colors, exception_formatter=structlog.dev.plain_traceback
    )


class _V7dHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler v7d installs; marked by its class so reconfiguring replaces it."""


def _remove_v7d_handlers() -> logging.Logger:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _V7dHandler)]:
        root.removeHandler(handler)
        handler.close()
    return root


def _route_stdlib(stream: TextIO, level: int, pre_chain: list[Processor], tail: list[Any]) -> None:
    root = _remove_v7d_handlers()
    handler = _V7dHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=pre_chain,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
        )
    )
    # Third-party libraries chatter at INFO/DEBUG; only their warnings matter to operators.
    handler.setLevel(max(level, logging.WARNING))
    root.addHandler(handler)
    root.setLevel(max(level, logging.WARNING))
    # uvicorn's default dictConfig (any uvicorn.Config without log_config=None in the same
    # process) gives its loggers their own handlers and propagate=False; take them back so
    # that one event is one line in one format.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "websockets"):
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def configure_logging(
    level: str = "info",
    fmt: str = "auto",
    stream: TextIO | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Configure structlog and stdlib logging; call again to change level/format (SIGHUP).

    ``stream`` defaults to ``sys.stderr``; ``environ`` (default ``os.environ``) decides
    what ``auto`` means (see :func:`resolve_format`).
    """
    if level not in LEVELS:
        raise ValueError(f"log level: expected one of {', '.join(LEVELS)}, got {level!r}")
    out: TextIO = sys.stderr if stream is None else stream
    resolved = resolve_format(fmt, out, environ)
    numeric = logging.getLevelNamesMapping()[level.upper()]
    stamp: list[Processor] = (
        [] if resolved == "journal" else [structlog.processors.TimeStamper(fmt="iso", utc=True)]
    )
    tail: list[Processor] = [_exception_to_field, redact_secrets, _renderer(resolved, out)]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            *stamp,
            *tail,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        # Not cached: a SIGHUP reconfiguration must reach loggers already handed out.
        cache_logger_on_first_use=False,
    )
    pre_chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _add_logger_name,
        *stamp,
    ]
    _route_stdlib(out, numeric, pre_chain, tail)


def reset_logging() -> None:
    """Undo :func:`configure_logging`: structlog defaults, v7d's root handler removed.

    For tests that configure logging into a buffer and must not leak it to later tests.
    """
    structlog.reset_defaults()
    root = _remove_v7d_handlers()
    root.setLevel(logging.WARNING)
