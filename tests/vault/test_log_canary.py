"""The suite-wide log canary (tests/conftest.py) is installed and would catch a leak."""

from __future__ import annotations

import logging

from canary import CANARY_PII, record_leaks_canary


def _record(msg: str, args: tuple[object, ...] = (), **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("vault.test", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_the_canary_handler_sees_every_record_at_debug(_log_canary_session: logging.Handler) -> None:
    assert _log_canary_session in logging.getLogger().handlers
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG
    before = _log_canary_session.seen  # type: ignore[attr-defined]
    logging.getLogger("vault.some.module").debug("an id and a length, no value: %s %d", "id-1", 12)
    assert _log_canary_session.seen == before + 1  # type: ignore[attr-defined]


def test_the_detector_finds_the_canary_wherever_it_hides() -> None:
    assert record_leaks_canary(_record(f"value {CANARY_PII}"))
    assert record_leaks_canary(_record("value %s", (CANARY_PII,)))
    assert record_leaks_canary(_record("fields %r", ({"email": CANARY_PII},)))
    assert record_leaks_canary(_record("no value here", subject_email=CANARY_PII))
    assert record_leaks_canary(_record("hex %s", (CANARY_PII.encode().hex(),)))
    assert record_leaks_canary(_record("broken %d format", (CANARY_PII,)))
    try:
        raise ValueError(CANARY_PII)
    except ValueError:
        import sys

        with_exception = _record("failed")
        with_exception.exc_info = sys.exc_info()
    assert record_leaks_canary(with_exception)
    assert not record_leaks_canary(_record("subject %s: %d fields", ("0b7c...", 3)))
