"""The keyring file: its layout, how it is sealed, read back and written atomically.

File layout (UTF-8 JSON, exactly as :func:`render` writes it: two-space indent, keys in this
order, a final newline)::

    {
      "format": "pseudovault-keyring",
      "version": 1,
      "kdf": {
        "name": "argon2id",
        "time_cost": 3,
        "memory_cost": 65536,          # KiB
        "parallelism": 4,
        "salt": "<base64, 16 random bytes>"
      },
      "sealed": "<base64 of nonce (12) || AES-256-GCM ciphertext || tag (16)>"
    }

Sealing::

    sealing_key     = Argon2id(NFC UTF-8 passphrase, salt, kdf params)      (keys.kdf.passphrase_bytes)
    associated_data = b"pseudovault-keyring\\x00" || canonical JSON of {"format", "version", "kdf"}
                      (sorted keys, no whitespace, ASCII)
    sealed          = Aead(sealing_key).encrypt(payload, associated_data)   (keys.aead)

The payload is canonical JSON holding the key set; a destroyed version keeps its id, status and
creation time and has no ``material``::

    {"primary": 2,
     "versions": [{"created_at": "2026-01-01T00:00:00+00:00", "status": "destroyed", "version": 1},
                  {"created_at": "...", "material": "<base64, 32 bytes>", "status": "enabled",
                   "version": 2}]}

Failure rules. Opening fails with one :class:`~keys.errors.KeyringError` whose message names the
file and never quotes the file's contents: missing, unreadable, not JSON (or truncated), wrong
``format``, unknown format ``version``, missing or invalid kdf fields, and, with the same
message, a wrong passphrase or an altered file. Any byte changed in the file is detected: the
header is bound as associated data, base64 must be canonical, and the file must be byte for byte
what this module would write for the values it holds.

Writes are atomic: a new file (mode 0600, ``O_EXCL``) is written beside the keyring, fsynced,
renamed over it (``os.replace``; ``create`` hard-links instead, so it never overwrites) and the
directory fsynced; a crash before the rename leaves the old file as it was. The rename is the
commit point: when anything before it fails, the file and the keyring in memory stay as they were
and a KeyringError says why; when only the directory fsync after it fails, the keyring in memory
takes the new state (it is what the file holds) and a KeyringError says the write may not be
durable. Before every write the file is checked to be the one this object last read or wrote, so
two processes that opened the same keyring cannot silently undo each other's rotation (the second
writer gets a KeyringError and must open the file again). A symlink at the path is replaced by the
file on the first write.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hashlib
import json
import logging
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pseudovault.keys.errors import KeyringError
from pseudovault.keys.kdf import SALT_SIZE, Argon2Params
from pseudovault.keys.keyset import Keyset, KeyStatus, KeyVersion
from pseudovault.keys.secrets import SecretBytes

log = logging.getLogger(__name__)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "KDF_NAME",
    "KEK_SIZE",
    "MAX_FILE_SIZE",
    "Header",
    "digest",
    "encode_payload",
    "file_identity",
    "fsync_directory",
    "os_reason",
    "parse_header",
    "parse_payload",
    "read_file",
    "render",
    "write_atomic",
]


FORMAT = "pseudovault-keyring"


FORMAT_VERSION = 1


KDF_NAME = "argon2id"


KEK_SIZE = 32


MAX_FILE_SIZE = 16 * 1024 * 1024


AD_PREFIX = b"pseudovault-keyring\x00"


KDF_FIELDS = ("time_cost", "memory_cost", "parallelism")


@dataclass(frozen=True)
class Header:
    params: Argon2Params
    salt: bytes

    def as_dict(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "kdf": {
                "name": KDF_NAME,
                "time_cost": self.params.time_cost,
                "memory_cost": self.params.memory_cost,
                "parallelism": self.params.parallelism,
                "salt": b64encode(self.salt),
            },
        }

    def associated_data(self) -> bytes:
        canonical = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return AD_PREFIX + canonical.encode("ascii")


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: object) -> bytes | None:
    """Strict base64: only the standard alphabet, correct padding, and the canonical encoding."""
    if not isinstance(text, str):
        return None
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, binascii.Error):
        return None
    return data if b64encode(data) == text else None


def render(header: Header, sealed: bytes) -> bytes:
    document = {**header.as_dict(), "sealed": b64encode(sealed)}
    return (json.dumps(document, indent=2, ensure_ascii=True) + "\n").encode("ascii")


def digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def encode_payload(keyset: Keyset) -> bytes:
    versions = []
    for v in keyset.versions:
        entry: dict[str, object] = {
            "version": v.version,
            "status": v.status.value,
            "created_at": v.created_at.isoformat(),
        }
        if v.material is not None:
            entry["material"] = b64encode(v.material.reveal())
        versions.append(entry)
    payload = {"primary": keyset.primary, "versions": versions}
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("ascii")


def read_file(path: Path) -> bytes:
    """The file's bytes. Refused when group or others may read or write it (the keyring holds the
    root key versions, sealed only by the passphrase: ``chmod 600`` it); a symbolic link is
    followed with a warning (the first write replaces it by the file itself)."""
    try:
        if path.is_symlink():
            log.warning("keyring %s is a symbolic link: it is read through the link, and the first write replaces the link by the file", path)
        with open(path, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if mode & 0o077:
                raise KeyringError(
                    f"cannot open keyring {path}: group or others may access it (mode {stat.S_IMODE(mode):04o}); "
                    "make it private to its owner: chmod 600"
                )
            data = f.read(MAX_FILE_SIZE + 1)
    except FileNotFoundError:
        raise KeyringError(f"cannot open keyring {path}: no such file") from None
    except OSError as exc:
        raise KeyringError(f"cannot open keyring {path}: cannot read it ({os_reason(exc)})") from None
    if len(data) > MAX_FILE_SIZE:
        raise KeyringError(f"cannot open keyring {path}: too large to be a keyring file")
    return data


def os_reason(exc: OSError) -> str:
    """The operating system's words for a failure, e.g. "No space left on device"."""
    return exc.strerror or type(exc).__name__


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_header(path: Path, raw: bytes) -> tuple[Header, bytes]:
    def fail(reason: str) -> KeyringError:
        return KeyringError(f"cannot open keyring {path}: {reason}")

    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise fail("not a keyring file (not valid JSON; truncated?)") from None
    if not isinstance(document, dict):
        raise fail("not a keyring file (not a JSON object)")
    if document.get("format") != FORMAT:
        raise fail(f"not a keyring file (format is not {FORMAT!r})")
    version = document.get("version")
    if version != FORMAT_VERSION or not is_int(version):
        shown = str(version) if is_int(version) else "missing or not an integer"
        raise fail(f"unsupported keyring format version ({shown}); this release reads version {FORMAT_VERSION}")
    kdf = document.get("kdf")
    if not isinstance(kdf, dict):
        raise fail("missing or invalid field 'kdf'")
    if kdf.get("name") != KDF_NAME:
        raise fail(f"missing or unsupported kdf name (this release supports {KDF_NAME!r})")
    for name in KDF_FIELDS:
        if not is_int(kdf.get(name)):
            raise fail(f"missing or invalid kdf field {name!r}")
    try:
        params = Argon2Params(**{name: kdf[name] for name in KDF_FIELDS})
    except (TypeError, ValueError) as exc:
        raise fail(f"invalid kdf parameters ({exc})") from None
    salt = b64decode(kdf.get("salt"))
    if salt is None or len(salt) != SALT_SIZE:
        raise fail("missing or invalid kdf field 'salt'")
    sealed = b64decode(document.get("sealed"))
    if sealed is None:
        raise fail("missing or invalid field 'sealed'")
    return Header(params, salt), sealed


def parse_payload(path: Path, payload: bytes) -> Keyset:
    def fail() -> KeyringError:
        return KeyringError(f"cannot open keyring {path}: the sealed key set is malformed")

    try:
        document = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise fail() from None
    if not isinstance(document, dict) or set(document) != {"primary", "versions"}:
        raise fail()
    primary, entries = document["primary"], document["versions"]
    if not is_int(primary) or not isinstance(entries, list) or not entries:
        raise fail()
    versions: list[KeyVersion] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise fail()
        number, status, created = entry.get("version"), entry.get("status"), entry.get("created_at")
        if not isinstance(number, int) or isinstance(number, bool):
            raise fail()
        if number < 1 or (versions and number <= versions[-1].version):
            raise fail()
        try:
            key_status = KeyStatus(status)
            created_at = datetime.fromisoformat(created)  # type: ignore[arg-type]  # not a str: TypeError, caught below
        except (ValueError, TypeError):
            raise fail() from None
        if created_at.tzinfo is None:
            raise fail()
        expected = {"version", "status", "created_at"}
        material: SecretBytes | None = None
        if key_status is not KeyStatus.DESTROYED:
            expected.add("material")
            raw = b64decode(entry.get("material"))
            if raw is None or len(raw) != KEK_SIZE:
                raise fail()
            material = SecretBytes(raw)
        if set(entry) != expected:
            raise fail()
        versions.append(KeyVersion(number, key_status, created_at, material))
    try:
        return Keyset(primary, tuple(versions))
    except ValueError:
        raise fail() from None


LINK_UNSUPPORTED = {errno.EPERM, errno.ENOSYS, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


def fsync_directory(directory: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync there
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, exclusive: bool) -> None:
    """Write ``data`` to ``path`` through a 0600 temporary file; ``exclusive`` never overwrites.

    Raises ``FileExistsError`` (exclusive and the file exists) or ``OSError``; the temporary file
    is removed on every failure. Everything up to the rename either happens or leaves ``path`` alone.
    """
    directory = path.parent
    tmp = directory / f".{path.name}.{os.urandom(8).hex()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            try:
                os.link(tmp, path)  # fails if path exists: never overwrites, even in a race
            except FileExistsError:
                raise
            except OSError as exc:
                if exc.errno not in LINK_UNSUPPORTED:
                    raise
                if os.path.lexists(path):  # no hard links here: check, then rename
                    raise FileExistsError(errno.EEXIST, "File exists") from None
                os.replace(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    fsync_directory(directory)


def file_identity(path: Path) -> tuple[int, int, int] | None:
    """What tells a rewritten file from the one last read: inode, size, modification time."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
