"""Canary PII: tests plant it, and the suite proves it never reaches a log record.

Import it as ``from canary import CANARY_PII`` (``tests/`` is on ``sys.path`` under pytest, see
``tests/conftest.py``). :func:`record_leaks_canary` is the check the suite-wide log handler in
``tests/conftest.py`` runs on every record.
"""

from __future__ import annotations

import logging

__all__ = ["CANARY_PII", "record_text", "record_leaks_canary"]

CANARY_PII = "canary-pii-7f3a9c@leak.example"

_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
_FORMATTER = logging.Formatter()


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write for ``record``: the formatted message, the raw message and
    arguments, exception and stack text, and any ``extra`` attributes."""
    parts: list[str] = []
    try:
        parts.append(record.getMessage())
    except Exception:  # a record whose arguments do not fit its format string still gets checked
        parts.append(repr(record.msg))
        parts.append(repr(record.args))
    parts.append(repr(record.args))
    if record.exc_info:
        parts.append(_FORMATTER.formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    for key, value in record.__dict__.items():
        if key not in _STANDARD_ATTRIBUTES:
            parts.append(f"{key}={value!r}")
    return "\n".join(parts)


def record_leaks_canary(record: logging.LogRecord, canary: str = CANARY_PII) -> bool:
    text = record_text(record)
    return canary in text or canary.encode("utf-8").hex() in text
