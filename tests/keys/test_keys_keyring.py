"""The local keyring file: layout, atomic writes, and every way opening it can fail."""

from __future__ import annotations

import base64
import copy
import errno
import json
import os
import stat
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import argon2.low_level
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keys_support import CHEAP_PARAMS, PASSPHRASE, T0, assert_not_shown, decrypted_payload

import pseudovault.keys.keyring as keyring_module
import pseudovault.keys.keyring_file as keyring_file_module
from pseudovault.keys.aead import Aead
from pseudovault.keys.errors import DecryptionError, KeyNotFoundError, KeyringError
from pseudovault.keys.kdf import Argon2Params, derive_sealing_key, passphrase_bytes
from pseudovault.keys.keyring import LocalKeyring
from pseudovault.keys.keyring_file import Header, parse_header, render
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.wrap import generate_key

ALTERED = "wrong passphrase or the file was altered"


def open_fails(path: Path, passphrase: str | SecretBytes = PASSPHRASE, match: str | None = None) -> str:
    """Open must raise one KeyringError naming the file and leave the file's bytes as they were."""
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(KeyringError) as err:
        LocalKeyring.open(path, passphrase)
    message = str(err.value)
    assert str(path) in message
    if match is not None:
        assert match in message
    if before is not None:
        assert path.read_bytes() == before
    return message


def leftover_temp_files(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.endswith(".tmp")]


def write_sealed(path: Path, payload: bytes, passphrase: str = PASSPHRASE) -> None:
    """A correctly sealed keyring file around an arbitrary payload."""
    header = Header(CHEAP_PARAMS, os.urandom(16))
    aead = Aead(derive_sealing_key(passphrase_bytes(passphrase), header.salt, header.params))
    path.write_bytes(render(header, aead.encrypt(payload, header.associated_data())))
    path.chmod(0o600)


def edit_document(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_bytes())
    edit(document)
    path.write_bytes((json.dumps(document, indent=2) + "\n").encode())


# --- creating and the file layout --------------------------------------------------------


def test_create_writes_a_0600_file_and_no_temporary_files(keyring: LocalKeyring, keyring_path: Path) -> None:
    assert stat.S_IMODE(keyring_path.stat().st_mode) == 0o600
    assert leftover_temp_files(keyring_path.parent) == []
    assert keyring.path == keyring_path


def test_rewrites_are_0600_even_with_a_permissive_umask(keyring: LocalKeyring, keyring_path: Path) -> None:
    old = os.umask(0)
    try:
        keyring.rotate()
    finally:
        os.umask(old)
    assert stat.S_IMODE(keyring_path.stat().st_mode) == 0o600
    assert leftover_temp_files(keyring_path.parent) == []


def test_file_layout_is_as_documented(keyring: LocalKeyring, keyring_path: Path) -> None:
    raw = keyring_path.read_bytes()
    document = json.loads(raw)
    assert list(document) == ["format", "version", "kdf", "sealed"]
    assert document["format"] == "pseudovault-keyring"
    assert document["version"] == 1
    kdf = document["kdf"]
    assert list(kdf) == ["name", "time_cost", "memory_cost", "parallelism", "salt"]
    assert (kdf["name"], kdf["time_cost"], kdf["memory_cost"], kdf["parallelism"]) == ("argon2id", 1, 8, 1)
    assert len(base64.b64decode(kdf["salt"], validate=True)) == 16
    assert raw.endswith(b"}\n") and raw.isascii()

    payload = decrypted_payload(keyring_path)
    material = keyring._keyset.versions[0].material.reveal()  # type: ignore[union-attr]
    assert payload == {
        "primary": 1,
        "versions": [
            {
                "version": 1,
                "status": "enabled",
                "created_at": T0.isoformat(),
                "material": base64.b64encode(material).decode(),
            }
        ],
    }
    assert len(material) == 32
    assert_not_shown(raw.decode(), material)


def test_the_payload_is_sealed_with_the_header_as_associated_data(keyring_path: Path, keyring: LocalKeyring) -> None:
    header, sealed = parse_header(keyring_path, keyring_path.read_bytes())
    aead = Aead(derive_sealing_key(passphrase_bytes(PASSPHRASE), header.salt, header.params))
    assert header.associated_data().startswith(b"pseudovault-keyring\x00{")
    aead.decrypt(sealed, header.associated_data())
    for other in (b"", header.associated_data()[:-1], header.associated_data().replace(b'"version":1', b'"version":2')):
        with pytest.raises(DecryptionError):
            aead.decrypt(sealed, other)


def test_the_file_opens_by_the_documented_recipe_alone(tmp_path: Path) -> None:
    """Pins the format: Argon2id over the NFC passphrase, the header as associated data, GCM layout."""
    passphrase = unicodedata.normalize("NFD", "Schlüssel für Ärger")
    keyring = LocalKeyring.create(tmp_path / "k", passphrase, params=CHEAP_PARAMS, now=T0)
    document = json.loads(keyring.path.read_bytes())
    kdf = document["kdf"]
    sealing_key = argon2.low_level.hash_secret_raw(
        secret=unicodedata.normalize("NFC", passphrase).encode("utf-8"),
        salt=base64.b64decode(kdf["salt"]),
        time_cost=kdf["time_cost"],
        memory_cost=kdf["memory_cost"],
        parallelism=kdf["parallelism"],
        hash_len=32,
        type=argon2.low_level.Type.ID,
        version=0x13,
    )
    header = {k: document[k] for k in ("format", "version", "kdf")}
    associated_data = b"pseudovault-keyring\x00" + json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    sealed = base64.b64decode(document["sealed"])
    payload = json.loads(AESGCM(sealing_key).decrypt(sealed[:12], sealed[12:], associated_data))
    material = keyring._keyset.versions[0].material.reveal()  # type: ignore[union-attr]
    assert payload["primary"] == 1
    assert payload["versions"][0]["material"] == base64.b64encode(material).decode()


def test_salts_are_fresh_per_file(tmp_path: Path) -> None:
    a = LocalKeyring.create(tmp_path / "a", PASSPHRASE, params=CHEAP_PARAMS)
    b = LocalKeyring.create(tmp_path / "b", PASSPHRASE, params=CHEAP_PARAMS)
    salt = [json.loads(k.path.read_bytes())["kdf"]["salt"] for k in (a, b)]
    assert salt[0] != salt[1]


def test_open_gives_back_the_same_keys(keyring: LocalKeyring, keyring_path: Path) -> None:
    key = generate_key()
    wrapped = keyring.wrap(key)
    reopened = LocalKeyring.open(keyring_path, PASSPHRASE)
    assert reopened.keys() == keyring.keys()
    assert reopened.unwrap(wrapped) == key
    assert reopened.keys()[0].created_at == T0.isoformat()


def test_open_accepts_a_str_path(keyring: LocalKeyring, keyring_path: Path) -> None:
    assert LocalKeyring.open(str(keyring_path), PASSPHRASE).primary_key_id == "local:1"


# --- create refuses ----------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"precious", b'{"format": "pseudovault-keyring"}'])
def test_create_never_overwrites_a_file(keyring_path: Path, content: bytes) -> None:
    keyring_path.write_bytes(content)
    with pytest.raises(KeyringError) as err:
        LocalKeyring.create(keyring_path, PASSPHRASE, params=CHEAP_PARAMS)
    assert str(keyring_path) in str(err.value) and "already exists" in str(err.value)
    assert keyring_path.read_bytes() == content


def test_create_never_overwrites_an_existing_keyring(keyring: LocalKeyring, keyring_path: Path) -> None:
    before = keyring_path.read_bytes()
    with pytest.raises(KeyringError):
        LocalKeyring.create(keyring_path, "another passphrase", params=CHEAP_PARAMS)
    assert keyring_path.read_bytes() == before
    assert LocalKeyring.open(keyring_path, PASSPHRASE).keys() == keyring.keys()


def test_create_refuses_a_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(KeyringError):
        LocalKeyring.create(link, PASSPHRASE, params=CHEAP_PARAMS)
    assert not (tmp_path / "nowhere").exists()


def test_create_never_overwrites_a_file_that_appears_during_create(
    keyring_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring_path.write_bytes(b"written by someone else meanwhile")
    monkeypatch.setattr(keyring_module.os.path, "lexists", lambda p: False)  # the early check misses it
    with pytest.raises(KeyringError) as err:
        LocalKeyring.create(keyring_path, PASSPHRASE, params=CHEAP_PARAMS)
    assert "already exists" in str(err.value)
    assert keyring_path.read_bytes() == b"written by someone else meanwhile"
    assert leftover_temp_files(keyring_path.parent) == []


def test_create_in_a_missing_directory_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "keyring.json"
    with pytest.raises(KeyringError) as err:
        LocalKeyring.create(path, PASSPHRASE, params=CHEAP_PARAMS)
    assert str(path) in str(err.value)


def test_create_leaves_nothing_when_the_write_fails(keyring_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(keyring_module.os, "link", fail)
    with pytest.raises(KeyringError) as err:
        LocalKeyring.create(keyring_path, PASSPHRASE, params=CHEAP_PARAMS)
    assert str(keyring_path) in str(err.value)
    assert not keyring_path.exists()
    assert leftover_temp_files(keyring_path.parent) == []


def test_create_without_hard_links_still_refuses_to_overwrite(
    keyring_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(*args: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(keyring_module.os, "link", unsupported)
    created = LocalKeyring.create(keyring_path, PASSPHRASE, params=CHEAP_PARAMS)
    assert LocalKeyring.open(keyring_path, PASSPHRASE).keys() == created.keys()
    assert leftover_temp_files(keyring_path.parent) == []
    other = keyring_path.with_name("other")
    other.write_bytes(b"keep")
    calls: list[object] = []

    def lexists_misses_it_once(p: object) -> bool:  # the file appears after create's early check
        calls.append(p)
        return len(calls) > 1 and os.path.exists(p)  # type: ignore[arg-type]

    monkeypatch.setattr(keyring_module.os.path, "lexists", lexists_misses_it_once)
    with pytest.raises(KeyringError):
        LocalKeyring.create(other, PASSPHRASE, params=CHEAP_PARAMS)
    assert other.read_bytes() == b"keep"


# --- open fails, naming the file, changing nothing ---------------------------------------


def test_wrong_passphrase(keyring: LocalKeyring, keyring_path: Path) -> None:
    message = open_fails(keyring_path, "not the passphrase")
    assert message == f"cannot open keyring {keyring_path}: {ALTERED}"
    assert PASSPHRASE not in message and "not the passphrase" not in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    assert "no such file" in open_fails(path)
    assert not path.exists()


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "a-directory"
    path.mkdir()
    assert "cannot read" in open_fails(path)


@pytest.mark.parametrize(
    "content", [b"", b"\n", b"not json", b"\xff\xfe{}", b"[1, 2]", b'"pseudovault-keyring"', b"null"]
)
def test_not_a_keyring_file(keyring_path: Path, content: bytes) -> None:
    keyring_path.write_bytes(content)
    keyring_path.chmod(0o600)
    assert "not a keyring file" in open_fails(keyring_path)


def test_wrong_format(keyring: LocalKeyring, keyring_path: Path) -> None:
    edit_document(keyring_path, lambda d: d.update(format="some-other-format CANARY"))
    message = open_fails(keyring_path, match="not a keyring file")
    assert "CANARY" not in message


@pytest.mark.parametrize("version", [2, 0, 99])
def test_unknown_format_version_says_which(keyring: LocalKeyring, keyring_path: Path, version: int) -> None:
    edit_document(keyring_path, lambda d: d.update(version=version))
    message = open_fails(keyring_path, match=f"unsupported keyring format version ({version})")
    assert "reads version 1" in message


@pytest.mark.parametrize("version", ["1", 1.0, True, None])
def test_non_integer_format_version(keyring: LocalKeyring, keyring_path: Path, version: object) -> None:
    edit_document(keyring_path, lambda d: d.update(version=version))
    open_fails(keyring_path, match="unsupported keyring format version")


def test_missing_format_version(keyring: LocalKeyring, keyring_path: Path) -> None:
    edit_document(keyring_path, lambda d: d.pop("version"))
    open_fails(keyring_path, match="unsupported keyring format version (missing or not an integer)")


@pytest.mark.parametrize("field", ["name", "time_cost", "memory_cost", "parallelism", "salt"])
def test_missing_kdf_field(keyring: LocalKeyring, keyring_path: Path, field: str) -> None:
    edit_document(keyring_path, lambda d: d["kdf"].pop(field))
    open_fails(keyring_path, match="kdf")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("name", "argon2i", "unsupported kdf name"),
        ("name", 7, "unsupported kdf name"),
        ("time_cost", 0, "invalid kdf parameters"),
        ("time_cost", "1", "invalid kdf field 'time_cost'"),
        ("time_cost", 1.5, "invalid kdf field 'time_cost'"),
        ("time_cost", True, "invalid kdf field 'time_cost'"),
        ("time_cost", 10**9, "invalid kdf parameters"),
        ("memory_cost", 7, "invalid kdf parameters"),
        ("memory_cost", 2**40, "invalid kdf parameters"),
        ("parallelism", 2, "invalid kdf parameters"),  # 8 KiB is less than 8 * 2
        ("parallelism", -1, "invalid kdf parameters"),
        ("salt", "", "invalid kdf field 'salt'"),
        ("salt", "AAAA", "invalid kdf field 'salt'"),  # 3 bytes
        ("salt", "not base64!!", "invalid kdf field 'salt'"),
        ("salt", None, "invalid kdf field 'salt'"),
    ],
)
def test_invalid_kdf_field(keyring: LocalKeyring, keyring_path: Path, field: str, value: object, expected: str) -> None:
    edit_document(keyring_path, lambda d: d["kdf"].__setitem__(field, value))
    open_fails(keyring_path, match=expected)


def test_kdf_not_an_object(keyring: LocalKeyring, keyring_path: Path) -> None:
    edit_document(keyring_path, lambda d: d.update(kdf="argon2id"))
    open_fails(keyring_path, match="invalid field 'kdf'")


@pytest.mark.parametrize("sealed", [None, 5, "", "@@@@", "AAAA"])
def test_invalid_sealed_field(keyring: LocalKeyring, keyring_path: Path, sealed: object) -> None:
    edit_document(keyring_path, lambda d: d.update(sealed=sealed))
    open_fails(keyring_path, match="sealed")


def test_other_header_values_with_valid_shapes_do_not_open(keyring: LocalKeyring, keyring_path: Path) -> None:
    original = keyring_path.read_bytes()
    edits: list[Callable[[dict[str, Any]], None]] = [
        lambda d: d["kdf"].update(time_cost=2),
        lambda d: d["kdf"].update(memory_cost=16),
        lambda d: d["kdf"].update(memory_cost=16, parallelism=2),
        lambda d: d["kdf"].update(salt=base64.b64encode(os.urandom(16)).decode()),
        lambda d: d.update(sealed=base64.b64encode(os.urandom(80)).decode()),
        lambda d: d.update(extra="field"),
        lambda d: d["kdf"].update(extra=1),
    ]
    for edit in edits:
        keyring_path.write_bytes(original)
        edit_document(keyring_path, edit)
        assert ALTERED in open_fails(keyring_path)


def test_the_same_values_written_differently_do_not_open(keyring: LocalKeyring, keyring_path: Path) -> None:
    document = json.loads(keyring_path.read_bytes())
    salt = base64.b64decode(document["kdf"]["salt"])
    variants = [
        json.dumps(document).encode(),  # other whitespace
        json.dumps(document, indent=2).encode(),  # no final newline
        (json.dumps(document, indent=4) + "\n").encode(),
        (json.dumps(dict(reversed(list(document.items()))), indent=2) + "\n").encode(),  # other key order
        keyring_path.read_bytes() + b"\n",
        keyring_path.read_bytes().replace(b'"version": 1', b'"version": 1.0e0'),
        keyring_path.read_bytes().replace(
            document["kdf"]["salt"].encode(), base64.b64encode(salt).rstrip(b"=") + b"=\n="
        ),
    ]
    for variant in variants:
        keyring_path.write_bytes(variant)
        open_fails(keyring_path)


def _edited(raw: bytes, position: int, value: int) -> bytes:
    return raw[:position] + bytes([value]) + raw[position + 1 :]


def test_every_truncation_fails(keyring: LocalKeyring, keyring_path: Path) -> None:
    raw = keyring_path.read_bytes()
    for length in range(len(raw)):
        keyring_path.write_bytes(raw[:length])
        open_fails(keyring_path)


def test_every_single_byte_edit_fails(keyring: LocalKeyring, keyring_path: Path) -> None:
    raw = keyring_path.read_bytes()
    for position in range(len(raw)):
        keyring_path.write_bytes(_edited(raw, position, raw[position] ^ 0x01))
        open_fails(keyring_path)
    keyring_path.write_bytes(raw)
    LocalKeyring.open(keyring_path, PASSPHRASE)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_byte_edit_fails(keyring: LocalKeyring, keyring_path: Path, data: st.DataObject) -> None:
    raw = keyring_path.read_bytes()
    position = data.draw(st.integers(0, len(raw) - 1), label="position")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != raw[position]), label="value")
    edited = keyring_path.with_name("edited.json")
    edited.write_bytes(_edited(raw, position, value))
    edited.chmod(0o600)
    open_fails(edited)


# --- passphrases -------------------------------------------------------------------------


def test_nfc_and_nfd_spellings_open_the_same_file(keyring_path: Path) -> None:
    nfc = unicodedata.normalize("NFC", "Passwörter für Café Åström")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    created = LocalKeyring.create(keyring_path, nfd, params=CHEAP_PARAMS)
    assert LocalKeyring.open(keyring_path, nfc).keys() == created.keys()
    assert LocalKeyring.open(keyring_path, nfd).keys() == created.keys()
    # the same holds for UTF-8 text handed over as SecretBytes (as the CLI does)
    assert LocalKeyring.open(keyring_path, SecretBytes(nfc.encode())).keys() == created.keys()
    assert LocalKeyring.open(keyring_path, SecretBytes(nfd.encode())).keys() == created.keys()
    open_fails(keyring_path, "Passworter fur Cafe Astrom", match=ALTERED)


def test_a_binary_passphrase_is_used_exactly(keyring_path: Path) -> None:
    binary = SecretBytes(b"\xff\xfe binary secret \x80")
    created = LocalKeyring.create(keyring_path, binary, params=CHEAP_PARAMS)
    assert LocalKeyring.open(keyring_path, SecretBytes(b"\xff\xfe binary secret \x80")).keys() == created.keys()
    open_fails(keyring_path, SecretBytes(b"\xff\xfe binary secret \x81"), match=ALTERED)


@pytest.mark.parametrize(
    ("passphrase", "error"),
    [("", ValueError), (SecretBytes(b""), ValueError), (b"bytes", TypeError), (None, TypeError)],
)
def test_bad_passphrases_are_refused(keyring_path: Path, passphrase: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        LocalKeyring.create(keyring_path, passphrase, params=CHEAP_PARAMS)  # type: ignore[arg-type]
    assert not keyring_path.exists()


def test_a_passphrase_that_is_not_unicode_text_is_refused_without_quoting_it(keyring_path: Path) -> None:
    with pytest.raises(ValueError) as err:
        LocalKeyring.create(keyring_path, "zebra\ud800quokka", params=CHEAP_PARAMS)
    assert "zebra" not in str(err.value) and "quokka" not in str(err.value) and "ud800" not in str(err.value)


def test_change_passphrase(keyring: LocalKeyring, keyring_path: Path) -> None:
    key = generate_key()
    wrapped = keyring.wrap(key)
    old_salt = json.loads(keyring_path.read_bytes())["kdf"]["salt"]
    keyring.change_passphrase("a new passphrase")
    assert json.loads(keyring_path.read_bytes())["kdf"]["salt"] != old_salt
    open_fails(keyring_path, PASSPHRASE, match=ALTERED)
    reopened = LocalKeyring.open(keyring_path, "a new passphrase")
    assert reopened.keys() == keyring.keys()
    assert reopened.unwrap(wrapped) == key
    keyring.rotate()  # later writes stay under the new passphrase
    assert LocalKeyring.open(keyring_path, "a new passphrase").primary_key_id == "local:2"


def test_change_passphrase_can_raise_the_costs(keyring: LocalKeyring, keyring_path: Path) -> None:
    keyring.change_passphrase("new", params=Argon2Params(time_cost=2, memory_cost=16, parallelism=2))
    kdf = json.loads(keyring_path.read_bytes())["kdf"]
    assert (kdf["time_cost"], kdf["memory_cost"], kdf["parallelism"]) == (2, 16, 2)
    assert LocalKeyring.open(keyring_path, "new").keys() == keyring.keys()


# --- atomic writes -----------------------------------------------------------------------


OPERATIONS: dict[str, Callable[[LocalKeyring], object]] = {
    "rotate": lambda k: k.rotate(),
    "destroy": lambda k: k.destroy("local:2"),
    "disable": lambda k: k.disable("local:2"),
    "enable": lambda k: k.enable("local:1"),
    "change_passphrase": lambda k: k.change_passphrase("another passphrase"),
}


@pytest.fixture
def busy_keyring(keyring: LocalKeyring) -> LocalKeyring:
    """Three versions; local:1 disabled, local:3 primary."""
    keyring.rotate()
    keyring.rotate()
    keyring.disable("local:1")
    return keyring


@contextmanager
def failing(monkeypatch: pytest.MonkeyPatch, name: str) -> Iterator[None]:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(keyring_module.os, name, fail)
        yield


@pytest.mark.parametrize("failure", ["replace", "fsync"])
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_a_failed_write_changes_neither_the_file_nor_the_keyring(
    busy_keyring: LocalKeyring, keyring_path: Path, monkeypatch: pytest.MonkeyPatch, operation: str, failure: str
) -> None:
    before_bytes = keyring_path.read_bytes()
    before_keys = busy_keyring.keys()
    key = generate_key()
    wrapped = busy_keyring.wrap(key)
    with failing(monkeypatch, failure), pytest.raises(KeyringError) as err:
        OPERATIONS[operation](busy_keyring)
    assert str(keyring_path) in str(err.value) and "No space left on device" in str(err.value)
    assert keyring_path.read_bytes() == before_bytes
    assert busy_keyring.keys() == before_keys
    assert busy_keyring.primary_key_id == "local:3"
    assert busy_keyring.unwrap(wrapped) == key
    assert leftover_temp_files(keyring_path.parent) == []
    # the keyring still writes, under the old passphrase, once the disk is back
    busy_keyring.rotate()
    reopened = LocalKeyring.open(keyring_path, PASSPHRASE)
    assert reopened.primary_key_id == "local:4"
    assert [i.status for i in reopened.keys()] == ["disabled", "enabled", "enabled", "enabled"]


def test_a_failed_directory_fsync_after_the_rename_keeps_file_and_memory_in_step(
    keyring: LocalKeyring, keyring_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(directory: Path) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(keyring_file_module, "fsync_directory", fail)
    with pytest.raises(KeyringError) as err:
        keyring.rotate()
    assert "may not be durable" in str(err.value) and str(keyring_path) in str(err.value)
    assert keyring.primary_key_id == "local:2"
    assert LocalKeyring.open(keyring_path, PASSPHRASE).keys() == keyring.keys()
    monkeypatch.undo()
    keyring.rotate()  # memory matches the file, so the next write goes through
    assert LocalKeyring.open(keyring_path, PASSPHRASE).primary_key_id == "local:3"


def test_a_second_writer_cannot_undo_the_first(keyring: LocalKeyring, keyring_path: Path) -> None:
    other = LocalKeyring.open(keyring_path, PASSPHRASE)
    wrapped = keyring.wrap(generate_key())
    keyring.rotate()
    # the second writer reads the first one's rotation before it writes: it builds on local:2
    assert other.rotate() == "local:3"
    reopened = LocalKeyring.open(keyring_path, PASSPHRASE)
    assert [(i.key_id, i.status, i.primary) for i in reopened.keys()] == [
        ("local:1", "enabled", False),
        ("local:2", "enabled", False),
        ("local:3", "enabled", True),
    ]
    reopened.unwrap(wrapped)


def test_a_write_racing_past_the_check_is_refused(keyring: LocalKeyring, keyring_path: Path) -> None:
    other = LocalKeyring.open(keyring_path, PASSPHRASE)
    keyring.rotate()
    after_first = keyring_path.read_bytes()
    other._follow = lambda **_: None  # type: ignore[method-assign]  # white-box: the race window
    with pytest.raises(KeyringError) as err:
        other.rotate()  # would write its own local:2 over the first writer's
    assert "changed by another process" in str(err.value) and str(keyring_path) in str(err.value)
    assert keyring_path.read_bytes() == after_first


def test_another_process_rotation_is_followed_on_first_use(keyring: LocalKeyring, keyring_path: Path) -> None:
    other = LocalKeyring.open(keyring_path, PASSPHRASE, follow_seconds=3600)
    keyring.rotate()
    key = generate_key()
    wrapped = keyring.wrap(key)
    assert wrapped.key_id == "local:2"
    assert other.unwrap(wrapped) == key  # an unknown version makes it read the file at once
    assert other.primary_key_id == "local:2"


def test_another_process_destroy_is_followed_within_the_bound(keyring_path: Path, keyring: LocalKeyring) -> None:
    other = LocalKeyring.open(keyring_path, PASSPHRASE, follow_seconds=0)
    key = generate_key()
    old = keyring.wrap(key)
    assert other.unwrap(old) == key
    keyring.rotate()
    keyring.destroy(old.key_id)
    with pytest.raises(KeyNotFoundError):
        other.unwrap(old)
    assert [(i.key_id, i.status) for i in other.keys()] == [("local:1", "destroyed"), ("local:2", "enabled")]


def test_a_passphrase_change_elsewhere_is_followed(keyring: LocalKeyring, keyring_path: Path) -> None:
    other = LocalKeyring.open(keyring_path, PASSPHRASE, follow_seconds=0)
    keyring.change_passphrase(PASSPHRASE + " new", params=CHEAP_PARAMS)
    keyring.rotate()
    # the file is now sealed under a passphrase the other process does not know: it keeps what it has
    assert other.primary_key_id == "local:1"
    key = SecretBytes(b"k" * 32)
    assert other.unwrap(other.wrap(key)) == key


def test_writing_after_the_file_was_removed_fails(keyring: LocalKeyring, keyring_path: Path) -> None:
    keyring_path.unlink()
    with pytest.raises(KeyringError) as err:
        keyring.rotate()
    assert "removed" in str(err.value) and str(keyring_path) in str(err.value)
    assert not keyring_path.exists()
    assert keyring.primary_key_id == "local:1"


def test_concurrent_rotations_are_serialized(keyring: LocalKeyring, keyring_path: Path) -> None:
    ids: list[str] = []
    lock = threading.Lock()

    def rotate_some() -> None:
        for _ in range(3):
            new_id = keyring.rotate()
            with lock:
                ids.append(new_id)

    threads = [threading.Thread(target=rotate_some) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ids, key=lambda i: int(i.split(":")[1])) == [f"local:{n}" for n in range(2, 20)]
    reopened = LocalKeyring.open(keyring_path, PASSPHRASE)
    assert reopened.keys() == keyring.keys() and len(reopened.keys()) == 19


# --- the sealed payload ------------------------------------------------------------------


def _version(number: int, status: str = "enabled", **extra: object) -> dict[str, object]:
    entry: dict[str, object] = {"version": number, "status": status, "created_at": T0.isoformat()}
    if status != "destroyed":
        entry["material"] = base64.b64encode(bytes(32)).decode()
    entry.update(extra)
    return entry


MALFORMED_PAYLOADS: dict[str, object] = {
    "not json": b"not json",
    "not utf-8": b"\xff\xff",
    "a list": [],
    "no versions": {"primary": 1},
    "empty versions": {"primary": 1, "versions": []},
    "extra top-level field": {"primary": 1, "versions": [_version(1)], "extra": 1},
    "primary is a bool": {"primary": True, "versions": [_version(1)]},
    "primary missing from versions": {"primary": 2, "versions": [_version(1)]},
    "primary disabled": {"primary": 2, "versions": [_version(1), _version(2, "disabled")]},
    "primary destroyed": {"primary": 2, "versions": [_version(1), _version(2, "destroyed")]},
    "duplicate versions": {"primary": 1, "versions": [_version(1), _version(1)]},
    "versions out of order": {"primary": 2, "versions": [_version(2), _version(1)]},
    "version zero": {"primary": 1, "versions": [_version(0), _version(1)]},
    "unknown status": {"primary": 1, "versions": [_version(1), _version(2, "paused")]},
    "naive created_at": {"primary": 1, "versions": [_version(1, created_at="2026-01-01T00:00:00")]},
    "bad created_at": {"primary": 1, "versions": [_version(1, created_at="yesterday")]},
    "created_at not a string": {"primary": 1, "versions": [_version(1, created_at=5)]},
    "short material": {"primary": 1, "versions": [_version(1, material=base64.b64encode(bytes(16)).decode())]},
    "material not base64": {"primary": 1, "versions": [_version(1, material="!!")]},
    "enabled without material": {
        "primary": 1,
        "versions": [{"version": 1, "status": "enabled", "created_at": T0.isoformat()}],
    },
    "destroyed with material": {
        "primary": 2,
        "versions": [_version(1, "destroyed", material=base64.b64encode(bytes(32)).decode()), _version(2)],
    },
    "extra version field": {"primary": 1, "versions": [_version(1, note="x")]},
    "version entry not an object": {"primary": 1, "versions": [1]},
}


@pytest.mark.parametrize("name", list(MALFORMED_PAYLOADS))
def test_a_malformed_payload_that_decrypts_is_a_keyring_error(keyring_path: Path, name: str) -> None:
    payload = MALFORMED_PAYLOADS[name]
    write_sealed(keyring_path, payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    open_fails(keyring_path, match="the sealed key set is malformed")


def test_a_well_formed_payload_written_by_hand_opens(keyring_path: Path) -> None:
    payload = {"primary": 2, "versions": [_version(1, "destroyed"), _version(2)]}
    write_sealed(keyring_path, json.dumps(payload).encode())
    opened = LocalKeyring.open(keyring_path, PASSPHRASE)
    assert [(i.key_id, i.status, i.primary) for i in opened.keys()] == [
        ("local:1", "destroyed", False),
        ("local:2", "enabled", True),
    ]


# --- Argon2 parameters, construction, what shows -----------------------------------------


def test_argon2_defaults_are_for_production() -> None:
    assert Argon2Params() == Argon2Params(time_cost=3, memory_cost=65536, parallelism=4)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"time_cost": 0}, ValueError),
        ({"parallelism": 0}, ValueError),
        ({"memory_cost": 31, "parallelism": 4}, ValueError),
        ({"memory_cost": 8, "parallelism": 2}, ValueError),
        ({"memory_cost": 2**23}, ValueError),
        ({"time_cost": True}, TypeError),
        ({"memory_cost": 65536.0}, TypeError),
    ],
)
def test_argon2_params_are_validated(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        Argon2Params(**kwargs)  # type: ignore[arg-type]


def test_argon2_minimums_are_allowed() -> None:
    assert Argon2Params(time_cost=1, memory_cost=8, parallelism=1).memory_cost == 8
    assert Argon2Params(time_cost=1, memory_cost=32, parallelism=4).parallelism == 4


def test_create_refuses_bad_arguments(keyring_path: Path) -> None:
    with pytest.raises(TypeError):
        LocalKeyring.create(keyring_path, PASSPHRASE, params={"time_cost": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        LocalKeyring.create(keyring_path, PASSPHRASE, params=CHEAP_PARAMS, now=T0.replace(tzinfo=None))
    assert not keyring_path.exists()


def test_a_keyring_is_built_only_by_create_or_open() -> None:
    with pytest.raises(TypeError):
        LocalKeyring(
            object(), path=Path("x"), header=None, aead=None, keyset=None, digest=b""  # type: ignore[arg-type]
        )


def test_repr_shows_path_and_primary_only(keyring: LocalKeyring, keyring_path: Path) -> None:
    keyring.rotate()
    assert repr(keyring) == f"LocalKeyring(path={str(keyring_path)!r}, primary='local:2')"
    for version in keyring._keyset.versions:
        assert_not_shown(repr(keyring), version.material.reveal())  # type: ignore[union-attr]


def test_a_keyring_cannot_be_copied_or_pickled(keyring: LocalKeyring) -> None:
    with pytest.raises(TypeError):
        copy.copy(keyring)
    with pytest.raises(TypeError):
        copy.deepcopy(keyring)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602, 0o644, 0o666])
def test_a_keyring_group_or_others_may_access_is_refused(keyring: LocalKeyring, keyring_path: Path, mode: int) -> None:
    keyring_path.chmod(mode)
    message = open_fails(keyring_path, match="group or others may access it")
    assert "chmod 600" in message
    keyring_path.chmod(0o600)
    LocalKeyring.open(keyring_path, PASSPHRASE)


def test_a_keyring_behind_a_symlink_opens_with_a_warning(
    keyring: LocalKeyring, keyring_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    link = keyring_path.with_name("linked.json")
    link.symlink_to(keyring_path)
    with caplog.at_level("WARNING", logger="pseudovault.keys.keyring_file"):
        opened = LocalKeyring.open(link, PASSPHRASE)
    assert opened.primary_key_id == keyring.primary_key_id
    assert any("symbolic link" in r.getMessage() for r in caplog.records)
