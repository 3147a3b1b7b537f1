"""The log line formats and the redaction filter, on records made here."""

from __future__ import annotations

import json
import logging
import re

from sceau.telemetry.logs import JsonFormatter, Redact, TextFormatter, redact

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJtZSJ9.c2lnbmF0dXJlLWJ5dGVz"
PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n"
    "-----END PRIVATE KEY-----"
)


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    r = logging.LogRecord("sceau.test", logging.WARNING, __file__, 1, msg, args, None)
    r.__dict__.update(extra)
    return r


def test_redact_blanks_tokens_keys_and_credentials() -> None:
    assert redact(f"token {JWT} refused") == "token [redacted] refused"
    assert redact(f"key:\n{PEM}\nend") == "key:\n[redacted]\nend"
    assert redact("Authorization: Bearer abcdefgh12345678") == "Authorization: Bearer [redacted]"
    assert redact("a plain line about eyJ and keys") == "a plain line about eyJ and keys"


def test_filter_redacts_message_arguments_and_fields() -> None:
    r = record("got %s", JWT, body=PEM, status=401)
    assert Redact().filter(r)
    line = json.loads(JsonFormatter().format(r))
    assert line["msg"] == "got [redacted]" and line["body"] == "[redacted]"
    assert line["status"] == 401 and line["level"] == "warning" and line["logger"] == "sceau.test"


def test_exceptions_are_redacted_too() -> None:
    try:
        raise ValueError(f"bad token {JWT}")
    except ValueError:
        import sys

        r = logging.LogRecord("sceau.x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    Redact().filter(r)
    text = TextFormatter().format(r)
    assert JWT not in text and "[redacted]" in text and "\n" not in text


def test_text_line_has_time_level_and_fields() -> None:
    r = record("entry %d added", 7, log="rekor-v2", duration_ms=1.5, note="two words")
    line = TextFormatter().format(r)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING sceau\.test: entry 7 added "
        r'log=rekor-v2 duration_ms=1\.5 note="two words"',
        line,
    ), line
