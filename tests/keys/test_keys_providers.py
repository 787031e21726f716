"""Every KEK provider passes the same contract (provider_contract.py)."""

from __future__ import annotations

import json
from pathlib import Path

from keys_support import CHEAP_PARAMS, PASSPHRASE, T0, assert_not_shown, decrypted_payload
from provider_contract import KekProviderContract

from keys.keyring import LocalKeyring
from keys.provider import KekProvider
from keys.testing import FakeKmsProvider
from keys.wrap import generate_key


def _materials(provider: KekProvider) -> list[bytes]:
    keyset = provider._keyset  # type: ignore[attr-defined]  # white-box: the test needs the raw bytes
    return [v.material.reveal() for v in keyset.versions if v.material is not None]


class TestFakeKmsContract(KekProviderContract):
    key_id_prefix = "fake:"

    def make_provider(self, tmp_path: Path) -> KekProvider:
        return FakeKmsProvider(now=T0)

    def kek_materials(self, provider: KekProvider) -> list[bytes]:
        return _materials(provider)


class TestLocalKeyringContract(KekProviderContract):
    key_id_prefix = "local:"

    def make_provider(self, tmp_path: Path) -> KekProvider:
        return LocalKeyring.create(tmp_path / "contract.keyring", PASSPHRASE, params=CHEAP_PARAMS, now=T0)

    def kek_materials(self, provider: KekProvider) -> list[bytes]:
        return _materials(provider)

    def reopen(self, provider: LocalKeyring) -> LocalKeyring:
        return LocalKeyring.open(provider.path, PASSPHRASE)

    def test_rotate_persists_across_reopen(self, provider: LocalKeyring) -> None:
        key = generate_key()
        old = provider.wrap(key)
        new_id = provider.rotate()
        new = provider.wrap(key)
        reopened = self.reopen(provider)
        assert reopened.primary_key_id == new_id
        assert reopened.keys() == provider.keys()
        assert reopened.unwrap(old) == key and reopened.unwrap(new) == key
        assert reopened.wrap(key) == new  # RFC 5649 is deterministic: same KEK, same bytes

    def test_destroy_persists_and_removes_the_material_from_the_file(self, provider: LocalKeyring) -> None:
        old = provider.wrap(generate_key())
        destroyed = _materials(provider)[0]
        provider.rotate()
        provider.destroy(old.key_id)
        reopened = self.reopen(provider)
        assert [(i.key_id, i.status) for i in reopened.keys()] == [("local:1", "destroyed"), ("local:2", "enabled")]
        assert destroyed not in _materials(reopened)
        payload = decrypted_payload(provider.path)
        assert_not_shown(json.dumps(payload), destroyed)
        assert "material" not in payload["versions"][0]

    def test_disable_and_enable_persist(self, provider: LocalKeyring) -> None:
        key = generate_key()
        old = provider.wrap(key)
        provider.rotate()
        provider.disable(old.key_id)
        assert [i.status for i in self.reopen(provider).keys()] == ["disabled", "enabled"]
        provider.enable(old.key_id)
        reopened = self.reopen(provider)
        assert [i.status for i in reopened.keys()] == ["enabled", "enabled"]
        assert reopened.unwrap(old) == key

    def test_created_at_comes_from_the_injected_time(self, provider: LocalKeyring) -> None:
        later = T0.replace(year=2027)
        provider.rotate(now=later)
        assert [i.created_at for i in self.reopen(provider).keys()] == [T0.isoformat(), later.isoformat()]

