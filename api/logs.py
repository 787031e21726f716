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


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = where(record.exc_info[1])
        return json.dumps(line, default=str, ensure_ascii=False)


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
