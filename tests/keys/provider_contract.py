"""The contract every KEK provider's tests subclass.

A subclass names its key-id prefix, builds a fresh provider in ``make_provider`` and, white-box,
lists the raw KEK bytes the provider holds (``kek_materials``) so the tests can prove those bytes
never show in a repr, a KeyInfo or a wrapped key.
"""

from __future__ import annotations

import abc
import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keys_support import assert_not_shown

from pseudovault.keys.errors import DecryptionError, KeyNotFoundError
from pseudovault.keys.provider import KekProvider, KeyInfo, WrappedKey
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.wrap import generate_key


class KekProviderContract(abc.ABC):
    #: the prefix of the provider's key ids, e.g. "local:"
    key_id_prefix: str

    @abc.abstractmethod
    def make_provider(self, tmp_path: Path) -> KekProvider:
        """A fresh provider with one KEK version."""

    @abc.abstractmethod
    def kek_materials(self, provider: KekProvider) -> list[bytes]:
        """The raw bytes of every KEK version the provider still holds; empty for a backend whose
        material never leaves it (an HSM, a KMS): then :meth:`held_versions` counts them."""

    def held_versions(self, provider: KekProvider) -> int:
        """How many versions still have key material in the backend (white-box)."""
        return len(self.kek_materials(provider))

    @pytest.fixture
    def provider(self, tmp_path: Path) -> KekProvider:
        return self.make_provider(tmp_path)

    def key_id(self, version: int) -> str:
        return f"{self.key_id_prefix}{version}"

    # --- wrap and unwrap ------------------------------------------------------------------

    #: key sizes the provider wraps (every provider wraps 16, 32 and 64 bytes)
    odd_sizes = True

    @pytest.mark.parametrize("size", [1, 7, 16, 32, 64])
    def test_wrap_unwrap_round_trip(self, provider: KekProvider, size: int) -> None:
        key = SecretBytes(bytes(range(size)))
        if size % 8 and not self.odd_sizes:
            with pytest.raises(ValueError):
                provider.wrap(key)
            return
        wrapped = provider.wrap(key)
        assert provider.unwrap(wrapped) == key

    def test_wrap_is_under_the_primary_key_id(self, provider: KekProvider) -> None:
        assert provider.primary_key_id == self.key_id(1)
        wrapped = provider.wrap(generate_key())
        assert isinstance(wrapped, WrappedKey)
        assert wrapped.key_id == provider.primary_key_id

    def test_wrapped_bytes_do_not_contain_the_key(self, provider: KekProvider) -> None:
        key = generate_key()
        wrapped = provider.wrap(key)
        assert key.reveal() not in wrapped.ciphertext
        assert_not_shown(repr(wrapped), key.reveal())

    def test_unwrap_gives_the_key_back_to_the_right_key_only(self, provider: KekProvider) -> None:
        a, b = generate_key(), generate_key()
        wa, wb = provider.wrap(a), provider.wrap(b)
        assert provider.unwrap(wa) == a and provider.unwrap(wb) == b
        assert provider.unwrap(wa) != b

    # --- rotation -------------------------------------------------------------------------

    def test_rotate_makes_a_new_primary_and_old_wraps_still_unwrap(self, provider: KekProvider) -> None:
        key = generate_key()
        old = provider.wrap(key)
        new_id = provider.rotate()
        assert new_id == self.key_id(2) == provider.primary_key_id
        new = provider.wrap(key)
        assert new.key_id == new_id != old.key_id
        assert new.ciphertext != old.ciphertext
        assert provider.unwrap(old) == key
        assert provider.unwrap(new) == key

    def test_rotate_never_reuses_an_id(self, provider: KekProvider) -> None:
        seen = {provider.primary_key_id}
        for _ in range(3):
            previous = provider.primary_key_id
            new_id = provider.rotate()
            provider.destroy(previous)
            assert new_id not in seen
            seen.add(new_id)
        assert [info.key_id for info in provider.keys()] == [self.key_id(v) for v in (1, 2, 3, 4)]

    def test_a_wrap_relabelled_with_another_version_does_not_unwrap(self, provider: KekProvider) -> None:
        wrapped = provider.wrap(generate_key())
        provider.rotate()
        with pytest.raises(DecryptionError):
            provider.unwrap(WrappedKey(provider.primary_key_id, wrapped.ciphertext))

    # --- unknown, destroyed, disabled -----------------------------------------------------

    @pytest.mark.parametrize(
        "suffix",
        ["99", "0", "01", "-1", "+1", "1.0", "1 ", " 1", "1\n", "²", "١", "１", "", "one", "1:1"],
    )
    def test_unknown_key_id_is_key_not_found(self, provider: KekProvider, suffix: str) -> None:
        wrapped = provider.wrap(generate_key())
        key_id = f"{self.key_id_prefix}{suffix}"
        with pytest.raises(KeyNotFoundError) as err:
            provider.unwrap(WrappedKey(key_id, wrapped.ciphertext))
        assert err.value.key_id == key_id

    @settings(
        max_examples=60,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
        deadline=None,
    )
    @given(key_id=st.text(max_size=12))
    def test_any_other_key_id_is_key_not_found(self, provider: KekProvider, key_id: str) -> None:
        valid = {info.key_id for info in provider.keys()}
        wrapped = provider.wrap(generate_key())
        if key_id in valid:
            return
        with pytest.raises(KeyNotFoundError):
            provider.unwrap(WrappedKey(key_id, wrapped.ciphertext))

    def test_another_providers_key_id_is_key_not_found(self, provider: KekProvider) -> None:
        wrapped = provider.wrap(generate_key())
        other = "fake:1" if self.key_id_prefix != "fake:" else "local:1"
        with pytest.raises(KeyNotFoundError):
            provider.unwrap(WrappedKey(other, wrapped.ciphertext))

    def test_destroyed_version_is_key_not_found(self, provider: KekProvider) -> None:
        key = generate_key()
        old = provider.wrap(key)
        provider.rotate()
        provider.destroy(old.key_id)
        with pytest.raises(KeyNotFoundError) as err:
            provider.unwrap(old)
        assert err.value.key_id == old.key_id
        statuses = {info.key_id: info.status for info in provider.keys()}
        assert statuses == {self.key_id(1): "destroyed", self.key_id(2): "enabled"}

    def test_the_primary_cannot_be_destroyed(self, provider: KekProvider) -> None:
        key = generate_key()
        wrapped = provider.wrap(key)
        with pytest.raises(ValueError):
            provider.destroy(provider.primary_key_id)
        assert provider.unwrap(wrapped) == key
        assert [info.status for info in provider.keys()] == ["enabled"]

    def test_destroying_an_unknown_version_is_key_not_found(self, provider: KekProvider) -> None:
        with pytest.raises(KeyNotFoundError) as err:
            provider.destroy(self.key_id(7))
        assert err.value.key_id == self.key_id(7)

    def test_a_destroyed_version_cannot_come_back(self, provider: KekProvider) -> None:
        provider.rotate()
        provider.destroy(self.key_id(1))
        with pytest.raises(ValueError):
            provider.enable(self.key_id(1))  # type: ignore[attr-defined]
        assert self.key_materials_count(provider) == 1

    def test_disable_is_reversible(self, provider: KekProvider) -> None:
        key = generate_key()
        old = provider.wrap(key)
        provider.rotate()
        provider.disable(old.key_id)  # type: ignore[attr-defined]
        with pytest.raises(KeyNotFoundError):
            provider.unwrap(old)
        assert [info.status for info in provider.keys()] == ["disabled", "enabled"]
        provider.enable(old.key_id)  # type: ignore[attr-defined]
        assert provider.unwrap(old) == key

    def test_the_primary_cannot_be_disabled(self, provider: KekProvider) -> None:
        with pytest.raises(ValueError):
            provider.disable(provider.primary_key_id)  # type: ignore[attr-defined]
        assert provider.unwrap(provider.wrap(SecretBytes(b"k" * 32))) == SecretBytes(b"k" * 32)

    # --- tampering ------------------------------------------------------------------------

    def test_tampered_wraps_are_decryption_errors(self, provider: KekProvider) -> None:
        wrapped = provider.wrap(generate_key())
        data = wrapped.ciphertext
        tampered = [
            data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1 :] for i in range(len(data)) for bit in range(8)
        ]
        tampered += [data[:n] for n in range(len(data))]
        tampered += [data + b"\x00" * 8, b"\x00" * len(data)]
        for ciphertext in tampered:
            with pytest.raises(DecryptionError):
                provider.unwrap(WrappedKey(wrapped.key_id, ciphertext))

    # --- what may be shown ----------------------------------------------------------------

    def key_materials_count(self, provider: KekProvider) -> int:
        return self.held_versions(provider)

    def test_keys_never_include_material(self, provider: KekProvider) -> None:
        provider.rotate()
        provider.rotate()
        provider.destroy(self.key_id(1))
        infos = provider.keys()
        assert all(isinstance(info, KeyInfo) for info in infos)
        assert {f for info in infos for f in vars(info)} == {"key_id", "status", "primary", "created_at"}
        assert self.held_versions(provider) == 2
        for material in self.kek_materials(provider):
            for text in (repr(infos), str(infos), repr(provider), str(provider)):
                assert_not_shown(text, material)

    def test_keys_are_oldest_first_with_one_primary(self, provider: KekProvider) -> None:
        provider.rotate()
        provider.rotate()
        infos = provider.keys()
        assert [info.key_id for info in infos] == [self.key_id(1), self.key_id(2), self.key_id(3)]
        assert [info.primary for info in infos] == [False, False, True]
        assert [info.status for info in infos] == ["enabled"] * 3

    def test_repr_names_the_primary_only(self, provider: KekProvider) -> None:
        assert provider.primary_key_id in repr(provider)

    @pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
    def test_not_picklable(self, provider: KekProvider, protocol: int) -> None:
        with pytest.raises(TypeError):
            pickle.dumps(provider, protocol=protocol)
