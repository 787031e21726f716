"""One-way fields (vault.crypto.oneway): a password is stored as an Argon2id hash under the
subject's key, verified, never revealed, exported or kept in separate storage; a secret-looking
field that is not declared is refused. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from argon2 import extract_parameters
from sqlalchemy import text

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.crypto.fields import FieldCipher, FieldOwner
from pseudovault.vault.crypto.oneway import ONE_WAY_SCHEMA, FieldRules, looks_like_a_secret
from pseudovault.vault.errors import InvalidInputError, NotFoundError
from pseudovault.vault.vault import Vault

if TYPE_CHECKING:
    from conftest import StoreUrls

PASSWORD = "Tr0ub4dor&3 horse"  # noqa: S105 - a test value
#: cheap parameters: the suite runs many hashes
RULES = FieldRules(one_way=frozenset({"password", "pin"}), reversible=frozenset({"pin_hint"}),
                   time_cost=1, memory_kib=8, parallelism=1)


@pytest.fixture
def vault(store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock) -> Iterator[Vault]:
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, field_rules=RULES) as v:
        yield v


def _stored(vault: Vault, subject_id: str, name: str) -> tuple[bytes, int]:
    with vault.data_engine.connect() as c:
        row = c.execute(text("SELECT ciphertext, schema_version FROM subject_fields WHERE subject_id = :s AND name = :n"),
                        {"s": subject_id, "n": name}).one()
    return bytes(row[0]), int(row[1])


def _everything_logged(vault: Vault) -> str:
    return json.dumps([e.as_dict() for e in vault.audit.query(limit=1000)], default=str)


def test_a_password_is_verified_never_revealed(vault: Vault, caplog: pytest.LogCaptureFixture) -> None:
    subject_id = vault.subjects.create({"name": "Kim", "password": PASSWORD})
    assert vault.subjects.read(subject_id) == {"name": "Kim"}
    assert vault.subjects.read(subject_id, ["password"]) == {}
    assert vault.subjects.list()[0].field_names == ("name", "password")

    ciphertext, version = _stored(vault, subject_id, "password")
    assert version == ONE_WAY_SCHEMA and PASSWORD.encode() not in ciphertext and b"argon2" not in ciphertext
    stored = FieldCipher(vault.keys.data_aead(subject_id), FieldOwner.SUBJECT, subject_id).decrypt(
        "password", ciphertext, ONE_WAY_SCHEMA)
    assert stored.startswith(b"$argon2id$") and PASSWORD.encode() not in stored

    assert vault.subjects.verify(subject_id, "password", PASSWORD) is True
    assert vault.subjects.verify(subject_id, "password", PASSWORD + " ") is False
    assert vault.subjects.verify(subject_id, "pin", "1234") is False  # a one-way field it does not have
    entries = vault.audit.query(action="subject.verify", limit=10)
    assert [e.detail for e in entries] == [{"field": "password", "match": True}, {"field": "password", "match": False},
                                           {"field": "pin", "match": False}]
    assert PASSWORD not in _everything_logged(vault) and PASSWORD not in caplog.text

    vault.subjects.update(subject_id, {"password": "a new one, longer"})
    assert vault.subjects.verify(subject_id, "password", "a new one, longer")
    assert not vault.subjects.verify(subject_id, "password", PASSWORD)
    vault.subjects.update(subject_id, {"password": None})
    assert not vault.subjects.verify(subject_id, "password", "a new one, longer")


def test_verify_refuses_what_is_not_one_way_and_what_is_gone(vault: Vault) -> None:
    subject_id = vault.subjects.create({"name": "Kim", "password": PASSWORD})
    for name, value in (("name", "Kim"), ("Password", PASSWORD), ("password", ""), ("password", 7)):
        with pytest.raises(InvalidInputError) as info:
            vault.subjects.verify(subject_id, name, value)  # type: ignore[arg-type]
        assert PASSWORD not in str(info.value) and "Kim" not in str(info.value)
    vault.subjects.shred(subject_id)
    with pytest.raises(NotFoundError):
        vault.subjects.verify(subject_id, "password", PASSWORD)


def test_a_secret_looking_field_is_refused_unless_declared(vault: Vault) -> None:
    for name in ("login_password", "passwd", "card_pin", "api_secret", "passphrase", "pwd"):
        assert looks_like_a_secret(name), name
        with pytest.raises(InvalidInputError, match="one-way"):
            vault.subjects.create({"name": "Kim", name: "x"})
    subject_id = vault.subjects.create({"name": "Kim"})
    with pytest.raises(InvalidInputError):
        vault.subjects.update(subject_id, {"old_password": "x"})
    assert vault.subjects.read(subject_id) == {"name": "Kim"}
    for name in ("passport_number", "spinner", "company", "shipping_address", "pinyin_name"):
        assert not looks_like_a_secret(name), name
    # declared reversible on purpose: stored and read back
    other = vault.subjects.create({"pin_hint": "birthday", "passport_number": "M1234"})
    assert vault.subjects.read(other) == {"pin_hint": "birthday", "passport_number": "M1234"}


def test_a_password_never_reaches_separate_storage(vault: Vault) -> None:
    subject_id = vault.retention.create_subject({"name": "Kim", "order_ref": "o-1", "password": PASSWORD},
                                                {"member": None, "payment_supply": ["order_ref"]})
    vault.retention.record_event("subject", subject_id, "withdrawal")
    assert not vault.subjects.exists(subject_id)
    moved = vault.separate.origins(subject_id)
    assert {f for item in moved for f in item.fields} == {"name", "order_ref"}  # member data covers every field
    export_names = {n for item in moved for n in vault.separate.read(item.item_id, purpose="court order 9")["values"]}
    assert "password" not in export_names


def test_a_hash_made_with_older_parameters_is_replaced_after_a_match(
    vault: Vault, store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    subject_id = vault.subjects.create({"password": PASSWORD})
    stronger = FieldRules(one_way=RULES.one_way, reversible=RULES.reversible, time_cost=2, memory_kib=16, parallelism=1)
    with Vault.open(provider, store_urls.data, store_urls.keys, clock=clock, field_rules=stronger) as later:
        assert later.subjects.verify(subject_id, "password", "wrong") is False
        before, _ = _stored(later, subject_id, "password")
        assert later.subjects.verify(subject_id, "password", PASSWORD) is True
        after, _ = _stored(later, subject_id, "password")
        assert after != before
        stored = FieldCipher(later.keys.data_aead(subject_id), FieldOwner.SUBJECT, subject_id).decrypt(
            "password", after, ONE_WAY_SCHEMA)
        params = extract_parameters(stored.decode())
        assert (params.time_cost, params.memory_cost) == (2, 16)
        assert later.subjects.verify(subject_id, "password", PASSWORD) is True


def test_rules_refuse_a_name_both_one_way_and_reversible() -> None:
    with pytest.raises(ValueError, match="both"):
        FieldRules(one_way=frozenset({"pin"}), reversible=frozenset({"pin"}))


def test_a_value_stored_readable_before_its_name_was_declared_is_hidden_then_hashed(
    store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    before = FieldRules(one_way=frozenset(), reversible=frozenset({"password"}), time_cost=1, memory_kib=8, parallelism=1)
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, field_rules=before) as old:
        subject_id = old.subjects.create({"name": "Kim", "password": PASSWORD})
        assert old.subjects.read(subject_id)["password"] == PASSWORD
    with Vault.open(provider, store_urls.data, store_urls.keys, clock=clock, field_rules=RULES) as vault:
        assert vault.subjects.read(subject_id) == {"name": "Kim"}  # declared one-way now: never shown
        assert _stored(vault, subject_id, "password")[1] == 1
        assert vault.subjects.verify(subject_id, "password", "guess") is False
        assert vault.subjects.verify(subject_id, "password", PASSWORD) is True
        assert _stored(vault, subject_id, "password")[1] == ONE_WAY_SCHEMA  # hashed at its first match
        assert vault.subjects.verify(subject_id, "password", PASSWORD) is True
