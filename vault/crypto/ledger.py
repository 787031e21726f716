"""The shred ledger kept outside both stores, so that restoring them cannot bring a subject back.

The key store has a shred ledger of its own (``shred_ledger``, vault.crypto.keystore), but a backup of
the key store restores it too. This one lives where a restore of the two stores does not reach:
beside the root key (a file next to the keyring, the default) or in a third database that the
operator backs up on its own terms (``PSEUDOVAULT_LEDGER_URL``). It holds pseudonymous subject ids
and the time of their shred, nothing else.

Order of writes: a shred appends to this ledger *before* the key store deletes the data key (a
write-ahead entry), so a crash between the two leaves an entry whose shred the next open completes
(never a shred the ledger does not know).

Replay: the key store remembers how far it has replayed the ledger (``ledger_replay``, one
position per source). Every open of the vault reads the entries after that position, destroys
again every subject whose data key or data is present (a restored store), and moves the position
to the end. A key store restored from a backup carries the position of its time, so exactly the
shreds made since are replayed.

Locations (``PSEUDOVAULT_LEDGER_URL``)::

    file:PATH        JSON lines {"at": ISO 8601 UTC, "subject_id": "..."}, appended with O_APPEND
                     in one write() per shred call and fsynced; mode 0600. The position is a byte
                     offset; a torn last line (a crash mid-write) is ignored until completed.
    postgresql+psycopg://..., sqlite:///...
                     one table ``shred_ledger_log`` (seq, subject_id, shredded_at), created on
                     first use; the position is the last ``seq`` replayed.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from sqlalchemy import BigInteger, Column, DateTime, Engine, Integer, MetaData, String, Table, insert, inspect, select

from pseudovault.vault.errors import UnavailableError
from pseudovault.vault.store.db import make_engine
from pseudovault.vault.store.files import append_durably, read_whole_lines

__all__ = ["ShredLedger", "FileLedger", "DatabaseLedger", "open_ledger", "SOURCE"]

#: the ledger_replay source name of the external ledger
SOURCE = "external"
#: what one read returns at most (a replay reads window after window to the end): bytes of a file
#: ledger, rows of a database ledger
_MAX_READ = 16 * 1024 * 1024
_MAX_ROWS = 100_000


class ShredLedger(abc.ABC):
    """Append-only (subject id, shredded at) entries with a position to read from."""

    @abc.abstractmethod
    def append(self, entries: Sequence[tuple[str, datetime]]) -> None:
        """Add entries durably, before the shreds they name are committed."""

    @abc.abstractmethod
    def read(self, after: int) -> tuple[list[tuple[str, datetime]], int]:
        """The entries after position ``after`` and the position of their end: a window of them
        (a bounded amount), so a reader reads again from that end until it stays where it was."""

    def close(self) -> None:
        """Release what the ledger holds open."""

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} cannot be pickled")


class FileLedger(ShredLedger):
    def __init__(self, path: Path) -> None:
        self._path = Path(path)

    def __repr__(self) -> str:
        return f"FileLedger({str(self._path)!r})"

    def append(self, entries: Sequence[tuple[str, datetime]]) -> None:
        if not entries:
            return
        lines = "".join(
            json.dumps({"at": at.astimezone(UTC).isoformat(), "subject_id": subject_id}, sort_keys=True) + "\n"
            for subject_id, at in entries
        ).encode("ascii")
        try:
            append_durably(self._path, lines)
        except OSError as exc:
            raise UnavailableError(f"the shred ledger cannot be written ({exc.strerror or type(exc).__name__})") from exc

    def read(self, after: int) -> tuple[list[tuple[str, datetime]], int]:
        try:
            data, end = read_whole_lines(self._path, after, _MAX_READ)
        except FileNotFoundError:
            return [], 0
        except OSError as exc:
            raise UnavailableError(f"the shred ledger cannot be read ({exc.strerror or type(exc).__name__})") from exc
        entries = []
        for line in data.splitlines():
            try:
                item = json.loads(line)
                entries.append((str(item["subject_id"]), datetime.fromisoformat(item["at"])))
            except (ValueError, KeyError, TypeError):
                continue  # a damaged line names no subject we could act on
        return entries, end


class DatabaseLedger(ShredLedger):
    _metadata = MetaData()
    _table = Table(
        "shred_ledger_log",
        _metadata,
        Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        Column("subject_id", String(36), nullable=False),
        Column("shredded_at", DateTime(timezone=True), nullable=False),
    )

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._ready = False

    def __repr__(self) -> str:
        return f"DatabaseLedger({self._engine.dialect.name})"

    def _ensure(self) -> None:
        if self._ready:
            return
        try:
            self._metadata.create_all(self._engine, checkfirst=True)
        except Exception:
            # servers starting together on a new ledger database race to create the table (the
            # check and the CREATE are two statements): the loser finds it there and goes on
            if not inspect(self._engine).has_table(self._table.name):
                raise
        self._ready = True

    def append(self, entries: Sequence[tuple[str, datetime]]) -> None:
        if not entries:
            return
        try:
            self._ensure()
            with self._engine.begin() as connection:
                connection.execute(
                    insert(self._table), [{"subject_id": s, "shredded_at": at.astimezone(UTC)} for s, at in entries]
                )
        except UnavailableError:
            raise
        except Exception as exc:
            raise UnavailableError(f"the shred ledger cannot be written ({type(exc).__name__})") from exc

    def read(self, after: int) -> tuple[list[tuple[str, datetime]], int]:
        try:
            self._ensure()
            with self._engine.connect() as connection:
                rows = connection.execute(
                    select(self._table.c.seq, self._table.c.subject_id, self._table.c.shredded_at)
                    .where(self._table.c.seq > after)
                    .order_by(self._table.c.seq)
                    .limit(_MAX_ROWS)
                ).all()
        except Exception as exc:
            raise UnavailableError(f"the shred ledger cannot be read ({type(exc).__name__})") from exc
        if not rows:
            return [], after
        return [(s, at if at.tzinfo else at.replace(tzinfo=UTC)) for _, s, at in rows], int(rows[-1][0])

    def close(self) -> None:
        self._engine.dispose()


def open_ledger(url: str) -> ShredLedger:
    """``file:PATH`` or a database URL (see the module docstring)."""
    if url.startswith("file:"):
        return FileLedger(Path(url.removeprefix("file:")).expanduser())
    return DatabaseLedger(make_engine(url))
