"""Every KEK provider passes the same contract (provider_contract.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from keys_support import CHEAP_PARAMS, PASSPHRASE, T0, assert_not_shown, decrypted_payload
from provider_contract import KekProviderContract

from pseudovault.keys.errors import DecryptionError, KeyNotFoundError, ProviderUnavailableError
from pseudovault.keys.keyring import LocalKeyring
from pseudovault.keys.provider import KekProvider, WrappedKey
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.keys.wrap import generate_key


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



# --- PKCS#11 (SoftHSM2) and AWS KMS (moto): material never leaves the backend -------------


class TestPkcs11Contract(KekProviderContract):
    """The token wraps with CKM_AES_KEY_WRAP_PAD (RFC 5649)."""

    key_id_prefix = "hsm:"
    mechanism = "kwp"
    odd_sizes = False  # see keys.pkcs11: KWP keys are a multiple of 8 bytes

    def make_provider(self, tmp_path: Path) -> KekProvider:
        from providers import fresh_label, softhsm

        from pseudovault.keys.pkcs11 import Pkcs11Provider

        hsm = softhsm()
        return Pkcs11Provider.open(
            module=hsm.module,
            token_label=hsm.token,
            key_label=fresh_label(),
            pin=SecretBytes(hsm.pin.encode()),
            mechanism=self.mechanism,
        )

    def kek_materials(self, provider: KekProvider) -> list[bytes]:
        return []  # sensitive, not extractable: the token never gives the bytes out

    def held_versions(self, provider: KekProvider) -> int:
        import pkcs11

        session = provider._session  # type: ignore[attr-defined]  # white-box: count key objects
        label = provider._label  # type: ignore[attr-defined]
        objects = session.get_objects({pkcs11.Attribute.CLASS: pkcs11.ObjectClass.SECRET_KEY})
        return sum(1 for obj in objects if label.fullmatch(obj[pkcs11.Attribute.LABEL]))

    def test_keys_are_generated_sensitive_and_unextractable(self, provider: KekProvider) -> None:
        import pkcs11

        session = provider._session  # type: ignore[attr-defined]
        label = provider._label  # type: ignore[attr-defined]
        keys = [
            obj
            for obj in session.get_objects({pkcs11.Attribute.CLASS: pkcs11.ObjectClass.SECRET_KEY})
            if label.fullmatch(obj[pkcs11.Attribute.LABEL])
        ]
        assert len(keys) == 1
        assert keys[0][pkcs11.Attribute.SENSITIVE] is True
        assert keys[0][pkcs11.Attribute.EXTRACTABLE] is False
        assert keys[0][pkcs11.Attribute.TOKEN] is True

    def test_another_session_sees_rotation_disable_and_destroy(self, provider: KekProvider) -> None:
        from providers import softhsm

        from pseudovault.keys.pkcs11 import Pkcs11Provider

        hsm = softhsm()
        other = Pkcs11Provider.open(
            module=hsm.module,
            token_label=hsm.token,
            key_label=provider._key_label,  # type: ignore[attr-defined]
            pin=SecretBytes(hsm.pin.encode()),
            mechanism=self.mechanism,
            follow_seconds=3600,
        )
        key = generate_key()
        old = provider.wrap(key)
        provider.rotate()
        new = provider.wrap(key)
        assert new.key_id == self.key_id(2)
        assert other.unwrap(new) == key  # a version it has not seen: looked up at once
        assert other.primary_key_id == self.key_id(2)
        provider.disable(old.key_id)
        with pytest.raises(KeyNotFoundError):
            other.unwrap(old)
        provider.enable(old.key_id)
        assert other.unwrap(old) == key
        provider.destroy(old.key_id)
        with pytest.raises(KeyNotFoundError):
            other.unwrap(old)
        other.close()

    def test_a_wrong_pin_is_unavailable_not_a_traceback(self, provider: KekProvider) -> None:
        import subprocess
        import sys

        from providers import softhsm

        hsm = softhsm()
        # a process of its own: PKCS#11 logins are per process, and this one is logged in
        script = (
            "import sys\n"
            "from pseudovault.keys.errors import ProviderUnavailableError\n"
            "from pseudovault.keys.pkcs11 import Pkcs11Provider\n"
            "from pseudovault.keys.secrets import SecretBytes\n"
            "module, token = sys.argv[1], sys.argv[2]\n"
            "for kwargs in (dict(module=module, token_label=token, pin=SecretBytes(b'wrong-pin')),\n"
            "               dict(module=module, token_label='no-such-token', pin=SecretBytes(b'1')),\n"
            "               dict(module='/nonexistent/libpkcs11.so', token_label=token, pin=SecretBytes(b'1'))):\n"
            "    try:\n"
            "        Pkcs11Provider.open(key_label='x', **kwargs)\n"
            "    except ProviderUnavailableError as exc:\n"
            "        print('unavailable:', exc)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, hsm.module, hsm.token],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **hsm.env()},
            cwd=Path(__file__).resolve().parents[2],
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) == 3 and all(line.startswith("unavailable:") for line in lines), done.stdout
        assert "wrong-pin" not in done.stdout + done.stderr


class TestPkcs11GcmContract(TestPkcs11Contract):
    """The same contract for tokens without RFC 5649: AES-GCM inside the token."""

    mechanism = "gcm"
    odd_sizes = True


class TestAwsKmsContract(KekProviderContract):
    key_id_prefix = "kms:"

    @pytest.fixture(autouse=True)
    def _moto(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        from moto import mock_aws
        from providers import use_moto_env

        use_moto_env(monkeypatch)
        with mock_aws():
            yield

    def make_provider(self, tmp_path: Path) -> KekProvider:
        from pseudovault.keys.awskms import AwsKmsProvider

        return AwsKmsProvider.open("alias/pseudovault-contract")

    def kek_materials(self, provider: KekProvider) -> list[bytes]:
        return []  # KMS never gives key material out

    def held_versions(self, provider: KekProvider) -> int:
        client = provider._client  # type: ignore[attr-defined]  # white-box: count live KMS keys
        states = [client.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in client.list_keys()["Keys"]]
        return sum(1 for state in states if state in ("Enabled", "Disabled"))

    def test_an_existing_alias_is_adopted_as_version_1(self) -> None:
        import boto3

        from pseudovault.keys.awskms import AwsKmsProvider

        client = boto3.client("kms")
        key_id = client.create_key()["KeyMetadata"]["KeyId"]
        client.create_alias(AliasName="alias/operator-made", TargetKeyId=key_id)
        provider = AwsKmsProvider.open("alias/operator-made")
        assert provider.primary_key_id == "kms:1"
        key = generate_key()
        assert provider.unwrap(provider.wrap(key)) == key
        names = {a["AliasName"] for a in client.list_aliases()["Aliases"]}
        assert {"alias/operator-made", "alias/operator-made/v1"} <= names

    def test_a_key_id_target_wraps_but_cannot_rotate(self) -> None:
        import boto3

        from pseudovault.keys.awskms import AwsKmsProvider
        from pseudovault.keys.errors import KeysError

        key_id = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
        provider = AwsKmsProvider.open(key_id)
        key = generate_key()
        assert provider.unwrap(provider.wrap(key)) == key
        with pytest.raises(KeysError) as err:
            provider.rotate()
        assert "alias" in str(err.value)

    def test_the_encryption_context_binds_the_blob(self, provider: KekProvider) -> None:
        client = provider._client  # type: ignore[attr-defined]
        key = generate_key()
        wrapped = provider.wrap(key)
        # decrypting without pseudovault's context fails at KMS itself
        with pytest.raises(Exception) as err:
            client.decrypt(CiphertextBlob=wrapped.ciphertext)
        assert "InvalidCiphertext" in type(err.value).__name__ or "InvalidCiphertext" in str(err.value)
        # a blob another application made under the same KMS key does not unwrap here
        arn = client.describe_key(KeyId="alias/pseudovault-contract")["KeyMetadata"]["Arn"]
        foreign = client.encrypt(KeyId=arn, Plaintext=key.reveal())["CiphertextBlob"]
        with pytest.raises(DecryptionError):
            provider.unwrap(WrappedKey(provider.primary_key_id, foreign))

    def test_kms_unreachable_is_unavailable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import boto3
        from botocore.config import Config

        from pseudovault.keys.awskms import AwsKmsProvider

        client = boto3.client(
            "kms",
            endpoint_url="http://127.0.0.1:9",
            config=Config(connect_timeout=0.5, read_timeout=0.5, retries={"max_attempts": 1}),
        )
        with pytest.raises(ProviderUnavailableError):
            AwsKmsProvider.open("alias/x", client=client)
