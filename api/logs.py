"""Structured logs: one JSON object per line on standard error.

Every line has ``ts`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, plus the record's
``extra`` attributes. The request log (logger ``api.access``, message ``request``) adds
``request_id``, ``method``, ``route`` (the route template, never the raw path), ``status``,
``duration_ms`` and ``key_id`` (the API key id, or null). Nothing else about a request is logged:
not the path, not the query, not the body, not the client address.

An exception attached to a record is written as its class and innermost source location only,
never its message or traceback text: a message can quote a value (a database error quoting SQL
parameters, a parser quoting its input).
"""

from __future__ import annotations

import json
import logging
import math
import sys
from datetime import UTC, datetime
from typing import Any

from pseudovault.api.errors import where

__all__ = ["JsonFormatter", "configure_logging", "logging_config"]

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


#: one encoder for every line (``json.dumps`` with options builds a new one per call)
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the whole second whose ts prefix is cached, with that prefix: one tuple, replaced whole,
        # so that handlers sharing this formatter under locks of their own never pair a second
        # with another second's text
        self._second_prefix: tuple[int, str] | None = None

    def _timestamp(self, created: float) -> str:
        """``created`` as ISO 8601 in UTC to the millisecond; the part down to the second is made
        once per second (the request log writes a line per request)."""
        fraction, whole = math.modf(created)
        micros = round(fraction * 1e6)  # as datetime.fromtimestamp rounds
        second = int(whole)
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        elif micros < 0:
            second, micros = second - 1, micros + 1_000_000
        millis = micros // 1000
        cached = self._second_prefix
        if cached is None or cached[0] != second:
            cached = self._second_prefix = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
        return f"{cached[1]}.{millis:03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = where(record.exc_info[1])
        return _ENCODER.encode(line)


def logging_config(level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary: JSON lines on stderr for the root logger and
    uvicorn's loggers (whose access log is off: the API writes its own, PII-free)."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }


def configure_logging(level: str = "info") -> None:
    import logging.config

    logging.config.dictConfig(logging_config(level))
    sys.stderr.flush()
