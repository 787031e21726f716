"""A reveal that overlaps a shred made by another process gives no data once the shred committed.

The interleaving is forced, not hoped for: this process reads a subject's ciphertext with the
data key warm in its cache, then another process (the ``pseudovault`` command) shreds the subject
and exits, then this process decrypts. Before the re-check, the cached key decrypted the
ciphertext read a moment earlier and the reveal answered with the data of a shredded subject.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from canary import CANARY_PII
from servers import child_env, pseudovault_command, run_command

from pseudovault.keys.aead import Aead
from pseudovault.vault.bootstrap import init_vault, open_vault
from pseudovault.vault.config import Settings
from pseudovault.vault.errors import NotFoundError
from pseudovault.vault.vault import Vault

PASSPHRASE = "reveal during shred passphrase"
_SHRED_TEXT = (
    "import sys\n"
    "from pseudovault.vault.bootstrap import open_vault\n"
    "from pseudovault.vault.config import Settings\n"
    "with open_vault(Settings()) as vault:\n"
    "    vault.records.shred_text(sys.argv[1])\n"
)


@pytest.fixture
def settings(tmp_path: Path, store_urls: Any) -> Settings:
    return Settings(
        home=tmp_path / "home",
        data_url=store_urls.data,
        keys_url=store_urls.keys,
        passphrase=PASSPHRASE,  # type: ignore[arg-type]
        kdf_time_cost=1,
        kdf_memory_kib=8,
        kdf_parallelism=1,
    )


def _elsewhere(settings: Settings, command: list[str]) -> None:
    """Run ``command`` in another process over the same stores and keyring."""
    env = child_env(settings.home, PASSPHRASE, DATA_URL=str(settings.data_url), KEYS_URL=str(settings.keys_url))
    run_command(env, command)


def _after_the_read(vault: Vault, monkeypatch: pytest.MonkeyPatch, action: Callable[[], None], name: str) -> list[str]:
    """Run ``action`` once, between a reveal's read of the ciphertext and its decryption."""
    original = getattr(vault.keys, name)
    ran: list[str] = []

    def then(owner_id: str) -> Aead:
        aead: Aead = original(owner_id)  # warm: served by this process's cache
        if not ran:
            ran.append(owner_id)
            action()
        return aead

    monkeypatch.setattr(vault.keys, name, then)
    return ran


def test_a_subject_shredded_by_another_process_mid_reveal_is_not_revealed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with init_vault(settings).vault as vault:
        subject_id = vault.subjects.create({"email": CANARY_PII})
    with open_vault(settings) as vault:
        assert vault.subjects.read(subject_id, purpose="support") == {"email": CANARY_PII}  # the key is cached now
        ran = _after_the_read(
            vault, monkeypatch, lambda: _elsewhere(settings, [*pseudovault_command(), "subjects", "shred", subject_id, "--yes"]), "subject_cipher"
        )
        with pytest.raises(NotFoundError):
            vault.subjects.read(subject_id, purpose="support")
        assert ran == [subject_id]
        last = vault.audit.query(action="subject.reveal", target=subject_id)[-1]
        assert last.outcome == "not_found"


def test_a_records_text_shredded_by_another_process_mid_reveal_is_not_revealed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with init_vault(settings).vault as vault:
        record_id = vault.records.create(
            [("email", "banned@example.com")], category="fraudulent_transaction", reason_code="fraud", reason=CANARY_PII
        )
    with open_vault(settings) as vault:
        assert vault.records.reveal(record_id, purpose="review").reason == CANARY_PII
        ran = _after_the_read(
            vault, monkeypatch, lambda: _elsewhere(settings, [sys.executable, "-c", _SHRED_TEXT, record_id]), "record_aead"
        )
        text = vault.records.reveal(record_id, purpose="review")
        assert ran == [record_id]
        assert text.available is False and text.reason is None
