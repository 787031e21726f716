"""Helpers for the bulk import/export tests: files of rows, a stream that is never read whole,
and raw reads of the stores."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Engine, text
from typer.testing import CliRunner, Result

from pseudovault.api.cli import app

CATEGORY = "fraudulent_transaction"


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(
            app, list(args), input=input, env=self.env, catch_exceptions=False
        )

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, (
            args,
            result.exit_code,
            result.stdout,
            result.stderr,
        )
        return result

    def json(self, *args: str, input: str | None = None) -> Any:
        return json.loads(self.ok(*args, "--json", input=input).stdout)


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql), params).scalar() or 0)


def table_text(engine: Engine, table: str) -> str:
    """Every value of every row of ``table`` as text (bytes as hex), to search for leaks."""
    parts = []
    with engine.connect() as connection:
        for row in connection.execute(text(f"SELECT * FROM {table}")).mappings():
            for value in row.values():
                parts.append(
                    bytes(value).hex()
                    if isinstance(value, (bytes, memoryview))
                    else str(value)
                )
    return "\n".join(parts)


class GeneratedStream(io.TextIOBase):
    """A text stream whose lines come from ``make_lines()``, generated as they are read; it can
    seek back to its start (by generating again) and never holds more than one line plus the
    size asked for. ``largest_read`` is the most text any one call returned."""

    def __init__(self, make_lines: Callable[[], Iterator[str]]) -> None:
        self._make_lines = make_lines
        self._lines = make_lines()
        self._buffer = ""
        self._position = 0
        self.largest_read = 0
        self.passes = 1
        self.name = "generated.jsonl"

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) != (0, 0):
            raise io.UnsupportedOperation("only seek(0) is supported")
        self._lines = self._make_lines()
        self._buffer = ""
        self._position = 0
        self.passes += 1
        return 0

    def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            line = next(self._lines, None)
            if line is None:
                return
            self._buffer += line

    def _take(self, size: int) -> str:
        taken, self._buffer = self._buffer[:size], self._buffer[size:]
        self._position += len(taken)
        self.largest_read = max(self.largest_read, len(taken))
        return taken

    def read(self, size: int | None = -1) -> str:
        if size is None or size < 0:
            raise AssertionError("the whole stream was asked for")
        self._fill(size)
        return self._take(size)

    def readline(self, size: int | None = -1) -> str:
        while "\n" not in self._buffer:
            line = next(self._lines, None)
            if line is None:
                break
            self._buffer += line
        end = self._buffer.find("\n")
        return self._take(len(self._buffer) if end < 0 else end + 1)


class OneWayStream(GeneratedStream):
    """The same, but it cannot seek."""

    def seekable(self) -> bool:
        return False
