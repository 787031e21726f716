"""Helpers for the fraud-record and ban-check tests: raw rows of the stores, and the issue's identifiers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

#: identifiers of the issue's example
EMAIL = ("email", "a@b.example")
PHONE = ("phone", "010-1234-5678")
IP = ("ip", "203.0.113.7")


def rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(text(sql), params).mappings()]


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def table_text(engine: Engine, table: str) -> str:
    """Every value of every row of ``table`` as text (bytes as hex), to search for leaks."""
    parts = []
    for row in rows(engine, f"SELECT * FROM {table}"):  # noqa: S608 - fixed table names
        for value in row.values():
            parts.append(bytes(value).hex() if isinstance(value, (bytes, memoryview)) else str(value))
    return "\n".join(parts)
