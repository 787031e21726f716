"""The shred ledger outside the stores (vault.crypto.ledger), file and database: it reads in
bounded windows from a position, and servers that start together on a new ledger database all
get to use it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import pseudovault.vault.crypto.ledger as ledger_module
from pseudovault.vault.crypto.ledger import DatabaseLedger, ShredLedger, open_ledger
from pseudovault.vault.errors import UnavailableError

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
SUBJECTS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(7)]


@pytest.fixture(params=["file", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return f"file:{tmp_path / 'shred-ledger.jsonl'}"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return str(request.getfixturevalue("postgres_urls").data)  # an empty database of its own


def _read_all(ledger: ShredLedger, position: int) -> tuple[list[list[tuple[str, datetime]]], int]:
    """Every window from ``position`` until a read stays where it was."""
    windows = []
    while True:
        entries, end = ledger.read(position)
        if end == position:
            assert entries == []
            return windows, end
        windows.append(entries)
        position = end


def test_a_ledger_is_read_window_by_window_to_its_end(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_module, "_MAX_READ", 200)  # about two of a file ledger's lines
    monkeypatch.setattr(ledger_module, "_MAX_ROWS", 2)
    ledger = open_ledger(ledger_url)
    try:
        assert ledger.read(0) == ([], 0)
        entries = [(subject_id, T0 + timedelta(minutes=n)) for n, subject_id in enumerate(SUBJECTS)]
        ledger.append(entries[:3])
        ledger.append(entries[3:])
        windows, end = _read_all(ledger, 0)
        assert [entry for window in windows for entry in window] == entries
        assert len(windows) == 4 and all(len(window) <= 2 for window in windows)
        # from a position part of the way in, exactly what follows it
        later, _ = _read_all(ledger, ledger.read(ledger.read(0)[1])[1])
        assert [entry for window in later for entry in window] == entries[4:]
        ledger.append([(SUBJECTS[0], T0 + timedelta(days=1))])
        assert ledger.read(end)[0] == [(SUBJECTS[0], T0 + timedelta(days=1))]
    finally:
        ledger.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_servers_starting_together_on_a_new_ledger_database_both_use_it(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two servers make the ledger's table on first use; the check for it and the CREATE are two
    statements, so one may find the table absent and then fail to create it, the other having
    made it meanwhile. That one goes on with the table there, for writing and reading."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}" if backend == "sqlite" else str(request.getfixturevalue("postgres_urls").data)
    first, second = open_ledger(url), open_ledger(url)
    assert isinstance(first, DatabaseLedger) and isinstance(second, DatabaseLedger)
    made_meanwhile: list[bool] = []

    class LosesTheRace:
        @staticmethod
        def create_all(engine: object, checkfirst: bool = True) -> None:
            second.append([(SUBJECTS[0], T0)])  # the other server makes the table (and writes)
            made_meanwhile.append(True)
            DatabaseLedger._metadata.create_all(second._engine, checkfirst=False)  # absent, it thought

    monkeypatch.setattr(first, "_metadata", LosesTheRace)
    try:
        first.append([(SUBJECTS[1], T0 + timedelta(seconds=1))])
        assert made_meanwhile == [True]
        entries, end = first.read(0)
        assert entries == [(SUBJECTS[0], T0), (SUBJECTS[1], T0 + timedelta(seconds=1))]
        assert second.read(0) == (entries, end)
    finally:
        first.close()
        second.close()


def test_a_ledger_database_that_cannot_be_reached_is_unavailable() -> None:
    """Not the race: a ledger database that cannot be reached is still an error (a shred waits
    for its ledger entry), whether the table was ever made or not."""
    ledger = open_ledger("postgresql+psycopg://postgres@127.0.0.1:9/pseudovault_ledger?connect_timeout=2")
    try:
        with pytest.raises(UnavailableError):
            ledger.append([(SUBJECTS[0], T0)])
        with pytest.raises(UnavailableError):
            ledger.read(0)
    finally:
        ledger.close()
