"""Log lines an operator can read and a log pipeline can parse.

Every line has a time (RFC 3339, UTC, milliseconds), a level, the logger and the message,
then the event's fields: ``text`` writes them as ``key=value``, ``json`` as one JSON object
per line. uvicorn's own loggers go through the same handler, so a ``sceau serve`` process
writes one format only.

Secrets never reach a line: :class:`Redact` blanks anything shaped like a JSON Web Token,
a PEM private key or an ``Authorization`` value, in the message and in every field. It is
defence in depth — no code path logs a token or a key on purpose.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import logging.config
import re
import sys
from typing import Any

FORMATS = ("text", "json")

# Attributes every LogRecord has: what is left over are the event's fields (``extra=``).
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "color_message", "taskName"}
)

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_PEM_KEY = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(-----END \1PRIVATE KEY-----|$)", re.S
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with tokens, private keys and credentials replaced by ``[redacted]``."""
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    if "PRIVATE KEY" in text:
        text = _PEM_KEY.sub(REDACTED, text)
    if "earer" in text or "asic" in text:
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return text


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "backslashreplace"))
    return value


class Redact(logging.Filter):
    """Blank secrets in a record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact(message), None
        for key in event_fields(record):
            record.__dict__[key] = _scrub(record.__dict__[key])
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def event_fields(record: logging.LogRecord) -> list[str]:
    return [k for k in record.__dict__ if k not in _STANDARD and not k.startswith("_")]


def _time(record: logging.LogRecord) -> str:
    stamp = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``msg``, then fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in event_fields(record):
            line.setdefault(key, record.__dict__[key])
        if record.exc_text:
            line["error"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``TIME LEVEL logger: message key=value …`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_time(record), record.levelname, f"{record.name}:", record.getMessage()]
        for key in event_fields(record):
            value = record.__dict__[key]
            text = value if isinstance(value, str) and value and " " not in value else None
            parts.append(f"{key}={text if text is not None else json.dumps(value, default=str)}")
        line = " ".join(parts)
        if record.exc_text:
            line += " error=" + json.dumps(record.exc_text)
        return line


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each line to ``sys.stderr`` as it is when the line is logged: a handler that
    kept the stream of the moment it was made writes to a closed file once that stream is
    swapped out (pytest's capture, a daemon's redirection)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always the current sys.stderr


def logging_config(log_format: str = "text", level: str = "info") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for sceau's and uvicorn's loggers (uvicorn's
    ``log_config`` takes it too, so its worker processes log the same way)."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    handler = {
        "class": "sceau.telemetry.logs.StderrHandler",
        "formatter": "sceau",
        "filters": ["redact"],
    }
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": Redact}},
        "formatters": {"sceau": {"()": formatter}},
        "handlers": {"sceau": handler},
        "loggers": {
            "sceau": {"handlers": ["sceau"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["sceau"], "level": level, "propagate": False},
            # the access line is sceau's own (sceau.access, with the request id)
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["sceau"], "level": "WARNING"},
    }


def configure(log_format: str = "text", level: str = "info") -> None:
    """Apply :func:`logging_config` to this process (the CLI, before serving)."""
    logging.config.dictConfig(logging_config(log_format, level))
    logging.captureWarnings(True)
    if log_format == "json":
        sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
