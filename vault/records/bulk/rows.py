"""Reading bulk files: the formats, the columns, hashing a source, and parsing CSV and JSON Lines rows
into record values (one :class:`Rejection` per bad row, never a value of the row in it)."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.identifiers import InvalidIdentifierError
from pseudovault.vault.identifiers.model import BUILTIN_KINDS, CUSTOM_PREFIX, parse_kind
from pseudovault.vault.records.views import MAX_IDENTIFIERS
from pseudovault.vault.views import View

__all__ = [
    "FORMATS",
    "IMPORT_ID",
    "IMPORT_SOURCE",
    "MAX_REPORTED_REJECTIONS",
    "RECORD_COLUMNS",
    "ParsedRow",
    "Progress",
    "Rejection",
    "RowRejected",
    "csv_rows",
    "detect_format",
    "hash_path",
    "hash_stream",
    "jsonl_rows",
    "kind_field",
]


log = logging.getLogger(__name__)


FORMATS = ("csv", "jsonl")


#: the columns (CSV) or keys (JSON Lines) a row may have besides its identifiers
RECORD_COLUMNS = (
    "category",
    "reason_code",
    "reason",
    "severity",
    "expires_at",
    "source_ref",
)


_REQUIRED = ("category", "reason_code")


#: an import report keeps this many rejections (all of them go to ``on_reject``)
MAX_REPORTED_REJECTIONS = 1000


#: the ``source`` of imported records
IMPORT_SOURCE = "import"


_CHUNK = 1 << 20


_STREAM_CHUNK = 1 << 16  # characters


IMPORT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


_SOURCE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/#+-]{0,127}")


_SURROGATE = re.compile(r"[\ud800-\udfff]")


Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Rejection(View):
    """One rejected row: where, why (a code), which field; never any value of the row."""

    line: int
    reason_code: str
    field: str | None
    message: str


class RowRejected(Exception):
    """A row is rejected (internal: becomes a :class:`Rejection`)."""

    def __init__(self, reason_code: str, field: str | None, message: str) -> None:
        super().__init__(reason_code)
        self.reason_code = reason_code
        self.field = field
        self.message = message


@dataclass
class ParsedRow:
    """A parsed row, ready for ``RecordService.prepare`` (holds PII: never logged; no repr)."""

    line: int
    ref: str
    identifiers: list[tuple[str, str]]
    values: dict[str, Any]

    def __repr__(self) -> str:
        return f"ParsedRow(line={self.line})"


def detect_format(name: str | os.PathLike[str] | None, given: str | None) -> str:
    """``given`` if set (checked), else from the file name's extension (.csv; .jsonl, .ndjson, .json)."""
    if given is not None:
        if given not in FORMATS:
            raise InvalidInputError("format", "must be csv or jsonl")
        return given
    suffix = Path(os.fspath(name)).suffix.lower() if name is not None else ""
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise InvalidInputError("format", "cannot tell the format from the file name: give csv or jsonl")


def hash_path(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    lines = 0
    last = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk
    if last and not last.endswith(b"\n"):
        lines += 1
    return digest.hexdigest()[:16], lines


def hash_stream(stream: IO[str]) -> tuple[str, int]:
    """Hash a seekable text stream from where it is, then put it back there."""
    start = stream.tell()
    digest = hashlib.sha256()
    lines = 0
    last = ""
    while chunk := stream.read(_STREAM_CHUNK):
        digest.update(chunk.encode("utf-8", "surrogatepass"))
        lines += chunk.count("\n")
        last = chunk
    if last and not last.endswith("\n"):
        lines += 1
    stream.seek(start)
    return digest.hexdigest()[:16], lines


def kind_field(kind: object) -> str:
    """The field name of an identifier in a rejection: the kind if it is one, else "identifiers"."""
    try:
        return f"identifier.{parse_kind(kind)}"
    except InvalidIdentifierError:
        return "identifiers"


def _check_text(value: str, field: str) -> None:
    if not value.isascii() and _SURROGATE.search(value):
        raise RowRejected("invalid_encoding", field, f"{field} is not valid UTF-8")


def _parse_expires(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RowRejected(
            "invalid_expires_at",
            "expires_at",
            "expires_at must be an ISO 8601 timestamp",
        )
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise RowRejected(
            "invalid_expires_at",
            "expires_at",
            "expires_at must be an ISO 8601 timestamp",
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _record_values(raw: dict[str, Any]) -> dict[str, Any]:
    """The prepare() keyword arguments of a row's non-identifier fields (strings checked here,
    codes and categories by prepare)."""
    values: dict[str, Any] = {}
    for name in RECORD_COLUMNS:
        value = raw.get(name)
        if value is None or value == "":
            if name in _REQUIRED:
                raise RowRejected("missing_field", name, f"{name} is required")
            continue
        if not isinstance(value, str):
            raise RowRejected(f"invalid_{name}", name, f"{name} must be a string")
        _check_text(value, name)
        values[name] = value
    values["expires_at"] = _parse_expires(values.get("expires_at"))
    source_ref = values.get("source_ref")
    if source_ref is not None and _SOURCE_REF.fullmatch(source_ref) is None:
        raise RowRejected(
            "invalid_source_ref",
            "source_ref",
            "source_ref must match [A-Za-z0-9][A-Za-z0-9_.:/#+-]{0,127}",
        )
    return values


def _check_identifiers(identifiers: list[tuple[str, str]]) -> None:
    if not identifiers:
        raise RowRejected("missing_identifier", "identifiers", "a row needs at least one identifier")
    if len(identifiers) > MAX_IDENTIFIERS:
        raise RowRejected(
            "too_many_identifiers",
            "identifiers",
            f"at most {MAX_IDENTIFIERS} identifiers per row",
        )
    for kind, value in identifiers:
        if not isinstance(value, str):
            raise RowRejected(
                "invalid_identifier",
                kind_field(kind),
                "an identifier value must be a string",
            )
        _check_text(value, kind_field(kind))


def _csv_header(cells: list[str]) -> tuple[list[str], list[int]]:
    """(column name per position, positions of the identifier columns)."""
    names: list[str] = []
    seen: set[str] = set()
    identifier_positions: list[int] = []
    for position, cell in enumerate(cells, start=1):
        name = cell.strip().lstrip("\ufeff")
        if name in seen:
            raise InvalidInputError("header", f"column {position} repeats an earlier column")
        if name in RECORD_COLUMNS:
            names.append(name)
        elif name in BUILTIN_KINDS or name.startswith(CUSTOM_PREFIX):
            try:
                parse_kind(name)
            except InvalidIdentifierError:
                raise InvalidInputError("header", f"column {position} is not a valid custom:<name> kind") from None
            names.append(name)
            identifier_positions.append(position - 1)
        else:
            raise InvalidInputError(
                "header",
                f"column {position} is not a known column (expected {', '.join(RECORD_COLUMNS)}, "
                f"an identifier kind: {', '.join(BUILTIN_KINDS)}, or custom:<name>)",
            )
        seen.add(name)
    for name in _REQUIRED:
        if name not in seen:
            raise InvalidInputError("header", f"the header has no {name} column")
    if not identifier_positions:
        raise InvalidInputError("header", "the header has no identifier column")
    return names, identifier_positions


def csv_rows(
    stream: IO[str],
) -> Iterator[tuple[int, int, Callable[[], tuple[list[tuple[str, str]], dict[str, Any]]]]]:
    """(first line, last line, parse) per data row; ``parse`` raises RowRejected for a bad row."""
    reader = csv.reader(stream, strict=True)
    header: list[str] | None = None
    while header is None:
        try:
            cells = next(reader)
        except StopIteration:
            raise InvalidInputError("header", "the file is empty: a CSV import needs a header line") from None
        except csv.Error:
            raise InvalidInputError("header", "the header line is not valid CSV") from None
        if cells:
            header = cells
    names, identifier_positions = _csv_header(header)
    width = len(names)
    previous = reader.line_num
    while True:
        first = previous + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            last = reader.line_num
            previous = last

            def malformed() -> tuple[list[tuple[str, str]], dict[str, Any]]:
                raise RowRejected("malformed_csv", None, "the row is not valid CSV (quoting)")

            yield first, last, malformed
            continue
        last = previous = reader.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # a blank line

        def parse(
            cells: list[str] = cells,
        ) -> tuple[list[tuple[str, str]], dict[str, Any]]:
            if len(cells) != width:
                raise RowRejected(
                    "wrong_column_count",
                    None,
                    f"the row has {len(cells)} cells, the header {width}",
                )
            identifiers = [(names[i], cells[i]) for i in identifier_positions if cells[i].strip()]
            raw = {name: cells[i] for i, name in enumerate(names) if i not in identifier_positions}
            _check_identifiers(identifiers)
            return identifiers, _record_values(raw)

        yield first, last, parse


def _json_identifiers(value: object) -> list[tuple[str, str]]:
    identifiers: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for kind, item in value.items():
            if isinstance(item, list):
                identifiers.extend((kind, v) for v in item)
            elif item is not None and item != "":
                identifiers.append((kind, item))
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, dict) or set(item) != {"kind", "value"}:
                raise RowRejected(
                    "invalid_identifiers",
                    "identifiers",
                    'each identifier must be an object {"kind": ..., "value": ...}',
                )
            identifiers.append((item["kind"], item["value"]))
    else:
        raise RowRejected(
            "invalid_identifiers",
            "identifiers",
            'identifiers must be an object {kind: value} or a list of {"kind", "value"}',
        )
    for kind, _ in identifiers:
        if not isinstance(kind, str):
            raise RowRejected(
                "invalid_identifiers",
                "identifiers",
                "an identifier kind must be a string",
            )
    return identifiers


_JSON_KEYS = frozenset({"identifiers", *RECORD_COLUMNS})


def jsonl_rows(
    stream: IO[str],
) -> Iterator[tuple[int, int, Callable[[], tuple[list[tuple[str, str]], dict[str, Any]]]]]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue

        def parse(line: str = line) -> tuple[list[tuple[str, str]], dict[str, Any]]:
            try:
                data = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                raise RowRejected("malformed_json", None, "the line is not valid JSON") from None
            if not isinstance(data, dict):
                raise RowRejected("not_an_object", None, "each line must be one JSON object")
            if not set(data) <= _JSON_KEYS:
                unknown = len(set(data) - _JSON_KEYS)
                raise RowRejected(
                    "unknown_field",
                    None,
                    f"the object has {unknown} unknown key(s); known: identifiers, {', '.join(RECORD_COLUMNS)}",
                )
            if "identifiers" not in data:
                raise RowRejected(
                    "missing_identifier",
                    "identifiers",
                    "a row needs at least one identifier",
                )
            identifiers = _json_identifiers(data["identifiers"])
            _check_identifiers(identifiers)
            return identifiers, _record_values(data)

        yield number, number, parse
