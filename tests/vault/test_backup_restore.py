"""Backups cannot bring a shredded subject back: the stores restored from before a shred (one,
the other, both; before and after a key rotation) never give the subject's PII again.

Without a rotation, the shred ledger kept beside the keyring is replayed when the vault opens and
destroys the restored subject again (logged and audited). After rotate + rewrap, the old epoch and
root key version are destroyed: a key store from before cannot be opened with today's keyring."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from canary import CANARY_PII

from pseudovault.keys.errors import KeyNotFoundError
from pseudovault.keys.keyring import LocalKeyring
from pseudovault.keys.provider import WrappedKey
from pseudovault.vault.bootstrap import init_vault, open_vault
from pseudovault.vault.config import Settings
from pseudovault.vault.errors import NotFoundError, UnavailableError
from pseudovault.vault.vault import Vault

PASSPHRASE = "restore test passphrase"
STORES = ("data.sqlite3", "keys.sqlite3")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        passphrase=PASSPHRASE,  # type: ignore[arg-type]
        kdf_time_cost=1,
        kdf_memory_kib=8,
        kdf_parallelism=1,
    )


@pytest.fixture
def shredded(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """A subject shredded after a backup of both stores was taken; a second one kept."""
    with init_vault(settings).vault as vault:
        gone = vault.subjects.create({"email": CANARY_PII, "name": "Gone"})
        kept = vault.subjects.create({"email": "kept@example.com"})
    backup = tmp_path / "backup"
    backup.mkdir()
    for name in STORES:  # the vault is closed: each SQLite file is whole (no -wal left)
        shutil.copy2(settings.home_dir / name, backup / name)
    with open_vault(settings) as vault:
        vault.subjects.shred(gone)
    yield gone, kept, backup


def _restore(settings: Settings, backup: Path, *names: str) -> None:
    for name in names:
        for suffix in ("-wal", "-shm"):
            (settings.home_dir / (name + suffix)).unlink(missing_ok=True)
        shutil.copy2(backup / name, settings.home_dir / name)


def _assert_gone(vault: Vault, subject_id: str) -> None:
    with pytest.raises(NotFoundError):
        vault.subjects.read(subject_id, purpose="restore check")
    assert not vault.keys.has_data_key(subject_id)


@pytest.mark.parametrize("restored", [STORES, ("keys.sqlite3",), ("data.sqlite3",)], ids=["both", "keys", "data"])
def test_a_restore_without_rotation_is_undone_by_the_ledger_at_open(
    settings: Settings, shredded: tuple[str, str, Path], restored: tuple[str, ...], caplog: pytest.LogCaptureFixture
) -> None:
    gone, kept, backup = shredded
    _restore(settings, backup, *restored)
    with caplog.at_level(logging.WARNING), open_vault(settings) as vault:
        _assert_gone(vault, gone)
        assert vault.subjects.read(kept, purpose="restore check")["email"] == "kept@example.com"
        replays = vault.audit.query(action="subject.replay_shreds")
        assert replays and list(replays[0].targets) == [gone]
    assert any("destroyed again" in r.getMessage() for r in caplog.records)
    with open_vault(settings) as vault:  # replayed once: the next open has nothing to do
        assert len(vault.audit.query(action="subject.replay_shreds")) == 1


def test_without_the_ledger_the_restored_subject_would_come_back(
    settings: Settings, shredded: tuple[str, str, Path]
) -> None:
    """The control: it is the external ledger that keeps the subject gone within the horizon."""
    gone, _kept, backup = shredded
    _restore(settings, backup, *STORES)
    (settings.keyring_path.parent / "shred-ledger.jsonl").unlink()
    with open_vault(settings) as vault:
        assert vault.subjects.read(gone, purpose="restore check")["email"] == CANARY_PII


@pytest.fixture(params=["file", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """Where the shred ledger is: the file beside the keyring (the default), or a database."""
    if request.param == "file":
        return None
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    urls = request.getfixturevalue("postgres_urls")  # an empty database of its own
    return str(urls.data)


def test_a_restore_from_long_ago_is_undone_whole_at_open(
    tmp_path: Path, ledger_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many shreds since the backup: the open reads the ledger window by window (a read is bounded;
    here three entries a window) to its end, and every restored subject is destroyed again before
    the vault is in use, not one window per open."""
    import pseudovault.vault.crypto.ledger as ledger_module

    monkeypatch.setattr(ledger_module, "_MAX_READ", 300)  # a file ledger's lines are about 90 bytes
    monkeypatch.setattr(ledger_module, "_MAX_ROWS", 3)
    settings = Settings(
        home=tmp_path / "home",
        passphrase=PASSPHRASE,  # type: ignore[arg-type]
        kdf_time_cost=1,
        kdf_memory_kib=8,
        kdf_parallelism=1,
        ledger_url=ledger_url,
    )
    with init_vault(settings).vault as vault:
        gone = [vault.subjects.create({"email": f"gone{i}@example.com"}) for i in range(8)]
        kept = vault.subjects.create({"email": "kept@example.com"})
    backup = tmp_path / "backup"
    backup.mkdir()
    for name in STORES:
        shutil.copy2(settings.home_dir / name, backup / name)
    with open_vault(settings) as vault:
        for subject_id in gone:
            vault.subjects.shred(subject_id)
    _restore(settings, backup, *STORES)
    with open_vault(settings) as vault:
        for subject_id in gone:
            _assert_gone(vault, subject_id)
        assert vault.subjects.read(kept, purpose="restore check")["email"] == "kept@example.com"
        replays = vault.audit.query(action="subject.replay_shreds")
        assert sorted(target for entry in replays for target in entry.targets) == sorted(gone)
        assert all(len(entry.targets) == 1 for entry in replays)  # each in its own destroy's commit
    with open_vault(settings) as vault:  # the position is at the ledger's end: nothing to do
        assert len(vault.audit.query(action="subject.replay_shreds")) == len(gone)


def test_a_replay_destroys_nothing_it_cannot_audit(
    settings: Settings, shredded: tuple[str, str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit entry of a subject destroyed again is written in the commit that destroys its
    data: when it cannot be written, the data stays (the key is already gone, so it is unreadable)
    and the ledger's position does not move; the next open destroys the data and audits it."""
    from pseudovault.vault.audit import AuditLog

    gone, kept, backup = shredded
    _restore(settings, backup, *STORES)
    original = AuditLog.append

    def failing(self: AuditLog, action: str, *args: object, **kwargs: object) -> object:
        if action == "subject.replay_shreds":
            raise RuntimeError("the audit log cannot be written")
        return original(self, action, *args, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as patched:
        patched.setattr(AuditLog, "append", failing)
        with pytest.raises(RuntimeError):
            open_vault(settings)
    import sqlite3

    with sqlite3.connect(settings.home_dir / "data.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM subjects WHERE id = ?", (gone,)).fetchone() == (1,)
    with open_vault(settings) as vault:
        _assert_gone(vault, gone)
        assert [entry.targets for entry in vault.audit.query(action="subject.replay_shreds")] == [(gone,)]
        assert vault.subjects.read(kept, purpose="restore check")["email"] == "kept@example.com"


@pytest.mark.parametrize("restored", [STORES, ("keys.sqlite3",)], ids=["both", "keys"])
def test_after_rotate_and_rewrap_an_old_key_store_does_not_open(
    settings: Settings, shredded: tuple[str, str, Path], restored: tuple[str, ...]
) -> None:
    _gone, _kept, backup = shredded
    with open_vault(settings) as vault:
        vault.rotate_keys()
        report = vault.rewrap()
        assert report.root_keys_destroyed == ("local:1",)
        assert [(k.key_id, k.status) for k in vault.provider.keys()] == [("local:1", "destroyed"), ("local:2", "enabled")]
    _restore(settings, backup, *restored)
    (settings.keyring_path.parent / "shred-ledger.jsonl").unlink()  # not even the ledger is needed
    with pytest.raises(UnavailableError):
        open_vault(settings)
    # and by hand: the restored epoch key is wrapped under a root version that no longer exists
    import sqlite3

    with sqlite3.connect(settings.home_dir / "keys.sqlite3") as db:
        kek_id, wrapped = db.execute("SELECT kek_id, wrapped FROM wrapping_keys WHERE epoch = 1").fetchone()
    keyring = LocalKeyring.open(settings.keyring_path, PASSPHRASE)
    with pytest.raises(KeyNotFoundError):
        keyring.unwrap(WrappedKey(kek_id, bytes(wrapped)))


def test_after_rotate_and_rewrap_an_old_data_store_holds_nothing_readable(
    settings: Settings, shredded: tuple[str, str, Path]
) -> None:
    gone, kept, backup = shredded
    with open_vault(settings) as vault:
        vault.rotate_keys()
        vault.rewrap()
    _restore(settings, backup, "data.sqlite3")
    with open_vault(settings) as vault:
        _assert_gone(vault, gone)
        assert vault.subjects.read(kept, purpose="restore check")["email"] == "kept@example.com"


def test_a_shred_writes_the_ledger_before_the_key_store(settings: Settings) -> None:
    """Write-ahead: when the key store cannot commit, the ledger already names the subject, and
    the next open completes the shred."""
    with init_vault(settings).vault as vault:
        subject = vault.subjects.create({"email": CANARY_PII})
        calls: list[str] = []
        original = vault.keys.shred_data_keys

        def crash(session: object, ids: list[str], at: list[object], **kwargs: object) -> object:
            original(session, ids, at, **kwargs)  # type: ignore[arg-type]
            calls.extend(ids)
            raise RuntimeError("crash before the key store commits")

        vault.keys.shred_data_keys = crash  # type: ignore[method-assign]
        ledger = settings.keyring_path.parent / "shred-ledger.jsonl"
        with pytest.raises(RuntimeError):
            vault.subjects.shred(subject)
        vault.keys.shred_data_keys = original  # type: ignore[method-assign]
        assert vault.keys.has_data_key(subject), "the key store transaction rolled back"
    assert calls == [subject]
    with open_vault(settings) as vault:
        _assert_gone(vault, subject)
    assert subject in ledger.read_text()
