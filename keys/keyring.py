"""The local keyring: root KEK versions in one file, sealed under a passphrase.

File layout (UTF-8 JSON, exactly as :func:`_render` writes it: two-space indent, keys in this
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

Key ids are ``"local:<version>"``; versions count up from 1 and are never reused. Wrapping is
RFC 5649 under the primary version (keys.wrap).

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

Following other processes. Several processes (servers, workers, the CLI) open the same file; any
of them may rotate, disable or destroy a version. Every provider call first checks the file's
identity (inode, size, modification time) at most once per ``follow_seconds`` (default 1 s) and,
when it changed, reads it again and adopts what it holds (under the same passphrase; a file
re-sealed under another passphrase is logged and ignored until the process restarts). An unwrap
that names a version this object does not hold (or holds disabled) re-reads the file at once
before it fails. So a version added elsewhere is usable here on first use, and a version destroyed
elsewhere stops unwrapping here within ``follow_seconds`` of the next call.
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
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pseudovault.keys.aead import Aead
from pseudovault.keys.errors import DecryptionError, KeyNotFoundError, KeyringError
from pseudovault.keys.kdf import SALT_SIZE, Argon2Params, derive_sealing_key, passphrase_bytes
from pseudovault.keys.keyset import Keyset, KeyStatus, KeyVersion
from pseudovault.keys.provider import KekProvider, KeyInfo, WrappedKey
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.wrap import generate_key, unwrap_key, wrap_key

__all__ = ["Argon2Params", "LocalKeyring", "FORMAT", "FORMAT_VERSION", "DEFAULT_FOLLOW_SECONDS"]

log = logging.getLogger(__name__)

FORMAT = "pseudovault-keyring"
FORMAT_VERSION = 1
KDF_NAME = "argon2id"
KEK_SIZE = 32
MAX_FILE_SIZE = 16 * 1024 * 1024
DEFAULT_FOLLOW_SECONDS = 1.0

_PREFIX = "local:"
_KEY_ID = re.compile(r"local:([1-9][0-9]{0,17})")  # ASCII digits only, no leading zero
_AD_PREFIX = b"pseudovault-keyring\x00"
_KDF_FIELDS = ("time_cost", "memory_cost", "parallelism")
_CONSTRUCT = object()


@dataclass(frozen=True)
class _Header:
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
                "salt": _b64encode(self.salt),
            },
        }

    def associated_data(self) -> bytes:
        canonical = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return _AD_PREFIX + canonical.encode("ascii")


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: object) -> bytes | None:
    """Strict base64: only the standard alphabet, correct padding, and the canonical encoding."""
    if not isinstance(text, str):
        return None
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, binascii.Error):
        return None
    return data if _b64encode(data) == text else None


def _render(header: _Header, sealed: bytes) -> bytes:
    document = {**header.as_dict(), "sealed": _b64encode(sealed)}
    return (json.dumps(document, indent=2, ensure_ascii=True) + "\n").encode("ascii")


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _encode_payload(keyset: Keyset) -> bytes:
    versions = []
    for v in keyset.versions:
        entry: dict[str, object] = {
            "version": v.version,
            "status": v.status.value,
            "created_at": v.created_at.isoformat(),
        }
        if v.material is not None:
            entry["material"] = _b64encode(v.material.reveal())
        versions.append(entry)
    payload = {"primary": keyset.primary, "versions": versions}
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("ascii")


# --- reading -------------------------------------------------------------------------------


def _read_file(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_SIZE + 1)
    except FileNotFoundError:
        raise KeyringError(f"cannot open keyring {path}: no such file") from None
    except OSError as exc:
        raise KeyringError(f"cannot open keyring {path}: cannot read it ({_reason(exc)})") from None
    if len(data) > MAX_FILE_SIZE:
        raise KeyringError(f"cannot open keyring {path}: too large to be a keyring file")
    return data


def _reason(exc: OSError) -> str:
    """The operating system's words for a failure, e.g. "No space left on device"."""
    return exc.strerror or type(exc).__name__


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_header(path: Path, raw: bytes) -> tuple[_Header, bytes]:
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
    if version != FORMAT_VERSION or not _is_int(version):
        shown = str(version) if _is_int(version) else "missing or not an integer"
        raise fail(f"unsupported keyring format version ({shown}); this release reads version {FORMAT_VERSION}")
    kdf = document.get("kdf")
    if not isinstance(kdf, dict):
        raise fail("missing or invalid field 'kdf'")
    if kdf.get("name") != KDF_NAME:
        raise fail(f"missing or unsupported kdf name (this release supports {KDF_NAME!r})")
    for name in _KDF_FIELDS:
        if not _is_int(kdf.get(name)):
            raise fail(f"missing or invalid kdf field {name!r}")
    try:
        params = Argon2Params(**{name: kdf[name] for name in _KDF_FIELDS})
    except (TypeError, ValueError) as exc:
        raise fail(f"invalid kdf parameters ({exc})") from None
    salt = _b64decode(kdf.get("salt"))
    if salt is None or len(salt) != SALT_SIZE:
        raise fail("missing or invalid kdf field 'salt'")
    sealed = _b64decode(document.get("sealed"))
    if sealed is None:
        raise fail("missing or invalid field 'sealed'")
    return _Header(params, salt), sealed


def _parse_payload(path: Path, payload: bytes) -> Keyset:
    def fail() -> KeyringError:
        return KeyringError(f"cannot open keyring {path}: the sealed key set is malformed")

    try:
        document = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise fail() from None
    if not isinstance(document, dict) or set(document) != {"primary", "versions"}:
        raise fail()
    primary, entries = document["primary"], document["versions"]
    if not _is_int(primary) or not isinstance(entries, list) or not entries:
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
            raw = _b64decode(entry.get("material"))
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


# --- writing -------------------------------------------------------------------------------

_LINK_UNSUPPORTED = {errno.EPERM, errno.ENOSYS, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


def _fsync_directory(directory: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync there
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes, *, exclusive: bool) -> None:
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
                if exc.errno not in _LINK_UNSUPPORTED:
                    raise
                if os.path.lexists(path):  # no hard links here: check, then rename
                    raise FileExistsError(errno.EEXIST, "File exists") from None
                os.replace(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_directory(directory)


def _identity(path: Path) -> tuple[int, int, int] | None:
    """What tells a rewritten file from the one last read: inode, size, modification time."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now.astimezone(UTC)


class LocalKeyring(KekProvider):
    """Root KEK versions in a passphrase-sealed file. Build with :meth:`create` or :meth:`open`."""

    kind = "local"

    def __init__(
        self,
        token: object,
        *,
        path: Path,
        header: _Header,
        aead: Aead,
        keyset: Keyset,
        digest: bytes,
        passphrase: SecretBytes,
        follow_seconds: float = DEFAULT_FOLLOW_SECONDS,
    ) -> None:
        if token is not _CONSTRUCT:
            raise TypeError("use LocalKeyring.create() or LocalKeyring.open()")
        if not isinstance(follow_seconds, (int, float)) or isinstance(follow_seconds, bool) or follow_seconds < 0:
            raise ValueError("follow_seconds must be a number >= 0")
        self._path = path
        self._header = header
        self._aead = aead
        self._keyset = keyset
        self._digest = digest
        self._passphrase = passphrase
        self._follow_seconds = float(follow_seconds)
        self._identity = _identity(path)
        self._checked_at = time.monotonic()
        self._lock = threading.RLock()

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path | str,
        passphrase: str | SecretBytes,
        *,
        params: Argon2Params | None = None,
        now: datetime | None = None,
        follow_seconds: float = DEFAULT_FOLLOW_SECONDS,
    ) -> LocalKeyring:
        """Write a new keyring with one fresh 256-bit KEK version. Never overwrites a file."""
        path = Path(path)
        params = Argon2Params() if params is None else params
        if not isinstance(params, Argon2Params):
            raise TypeError("params must be Argon2Params")
        secret = passphrase_bytes(passphrase)
        keyset = Keyset.new(generate_key(KEK_SIZE), _now(now))
        exists = KeyringError(f"cannot create keyring {path}: the file already exists; refusing to overwrite it")
        if os.path.lexists(path):
            raise exists
        header = _Header(params, os.urandom(SALT_SIZE))
        aead = Aead(derive_sealing_key(secret, header.salt, params))
        data = _render(header, aead.encrypt(_encode_payload(keyset), header.associated_data()))
        try:
            _write_atomic(path, data, exclusive=True)
        except FileExistsError:
            raise exists from None
        except OSError as exc:
            raise KeyringError(f"cannot create keyring {path}: {_reason(exc)}") from None
        return cls(
            _CONSTRUCT,
            path=path,
            header=header,
            aead=aead,
            keyset=keyset,
            digest=_digest(data),
            passphrase=secret,
            follow_seconds=follow_seconds,
        )

    @classmethod
    def open(
        cls, path: Path | str, passphrase: str | SecretBytes, *, follow_seconds: float = DEFAULT_FOLLOW_SECONDS
    ) -> LocalKeyring:
        """Open an existing keyring. Every failure is a KeyringError naming the file."""
        path = Path(path)
        secret = passphrase_bytes(passphrase)
        header, aead, keyset, raw = cls._load(path, secret)
        return cls(
            _CONSTRUCT,
            path=path,
            header=header,
            aead=aead,
            keyset=keyset,
            digest=_digest(raw),
            passphrase=secret,
            follow_seconds=follow_seconds,
        )

    @staticmethod
    def _load(
        path: Path, secret: SecretBytes, known: tuple[_Header, Aead] | None = None
    ) -> tuple[_Header, Aead, Keyset, bytes]:
        """Read and open the file; ``known`` (a header and its sealing key) skips the KDF when the
        file's header is unchanged."""
        raw = _read_file(path)
        header, sealed = _parse_header(path, raw)
        altered = KeyringError(f"cannot open keyring {path}: wrong passphrase or the file was altered")
        if _render(header, sealed) != raw:
            raise altered
        if known is not None and known[0] == header:
            aead = known[1]
        else:
            try:
                aead = Aead(derive_sealing_key(secret, header.salt, header.params))
            except ValueError as exc:
                raise KeyringError(f"cannot open keyring {path}: {exc}") from None
        try:
            payload = aead.decrypt(sealed, header.associated_data())
        except DecryptionError:
            raise altered from None
        return header, aead, _parse_payload(path, payload), raw

    # --- following other processes ------------------------------------------------------

    def _follow(self, *, force: bool = False) -> None:
        """Adopt the file's current contents if another process changed it (see the module
        docstring). Checks at most once per ``follow_seconds`` unless ``force``."""
        now = time.monotonic()
        if not force and now - self._checked_at < self._follow_seconds:
            return
        with self._lock:
            self._checked_at = now
            identity = _identity(self._path)
            if identity is None or identity == self._identity:
                return
            try:
                header, aead, keyset, raw = self._load(self._path, self._passphrase, (self._header, self._aead))
            except KeyringError as exc:
                # keep serving with what this process holds; say why once per change of the file
                log.warning("keyring changed on disk but cannot be re-read; keeping the keys in memory (%s)", exc)
                self._identity = identity
                return
            self._identity = identity
            if _digest(raw) != self._digest:
                self._adopt(keyset, header, aead, raw)
                log.info("keyring re-read: primary root key %s", self.primary_key_id_unfollowed)

    def refresh(self) -> None:
        """Re-read the file now if it changed (the provider interface's hook)."""
        self._follow(force=True)

    # --- persistence ----------------------------------------------------------------------

    def _commit(self, keyset: Keyset, header: _Header | None = None, aead: Aead | None = None) -> None:
        """Write ``keyset`` (sealed under ``aead``), then adopt it. Caller holds ``self._lock``."""
        header = self._header if header is None else header
        aead = self._aead if aead is None else aead
        path = self._path
        try:
            with open(path, "rb") as f:
                current = f.read(MAX_FILE_SIZE + 1)
        except FileNotFoundError:
            raise KeyringError(f"cannot write keyring {path}: the file was removed since it was opened") from None
        except OSError as exc:
            raise KeyringError(f"cannot write keyring {path}: {_reason(exc)}") from None
        if _digest(current) != self._digest:
            raise KeyringError(
                f"cannot write keyring {path}: the file was changed by another process since it was opened;"
                " open it again"
            )
        data = _render(header, aead.encrypt(_encode_payload(keyset), header.associated_data()))
        try:
            _write_atomic(path, data, exclusive=False)
        except OSError as exc:
            if self._digest_on_disk() == _digest(data):  # renamed; only the directory fsync failed
                self._adopt(keyset, header, aead, data)
                raise KeyringError(f"keyring {path} was written but may not be durable: {_reason(exc)}") from None
            raise KeyringError(f"cannot write keyring {path}: {_reason(exc)}") from None
        self._adopt(keyset, header, aead, data)

    def _digest_on_disk(self) -> bytes | None:
        try:
            with open(self._path, "rb") as f:
                return _digest(f.read(MAX_FILE_SIZE + 1))
        except OSError:
            return None

    def _adopt(self, keyset: Keyset, header: _Header, aead: Aead, data: bytes) -> None:
        self._keyset, self._header, self._aead, self._digest = keyset, header, aead, _digest(data)
        self._identity = _identity(self._path)

    def _version(self, key_id: str) -> int:
        match = _KEY_ID.fullmatch(key_id) if isinstance(key_id, str) else None
        if match is None:
            raise KeyNotFoundError(str(key_id))
        return int(match.group(1))

    def _with_status(self, key_id: str, status: KeyStatus) -> None:
        version = self._version(key_id)
        with self._lock:
            self._follow(force=True)
            try:
                keyset = self._keyset.with_status(version, status)
            except KeyNotFoundError:
                raise KeyNotFoundError(key_id) from None
            self._commit(keyset)

    # --- the provider interface -----------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    @property
    def primary_key_id(self) -> str:
        self._follow()
        return f"{_PREFIX}{self._keyset.primary}"

    @property
    def primary_key_id_unfollowed(self) -> str:
        return f"{_PREFIX}{self._keyset.primary}"

    def wrap(self, key: SecretBytes) -> WrappedKey:
        self._follow(force=True)  # rare (new epochs and lookup keys, rewraps): never under a stale primary
        keyset = self._keyset
        primary = keyset.primary_version
        assert primary.material is not None
        return WrappedKey(f"{_PREFIX}{primary.version}", wrap_key(primary.material, key))

    def unwrap(self, wrapped: WrappedKey) -> SecretBytes:
        if not isinstance(wrapped, WrappedKey):
            raise TypeError("unwrap takes a WrappedKey")
        number = self._version(wrapped.key_id)
        self._follow()
        try:
            version = self._keyset.get(number)
        except KeyNotFoundError:
            self._follow(force=True)  # a version another process added since this one last looked?
            try:
                version = self._keyset.get(number)
            except KeyNotFoundError:
                raise KeyNotFoundError(wrapped.key_id) from None
        assert version.material is not None
        return unwrap_key(version.material, wrapped.ciphertext)

    def rotate(self, *, now: datetime | None = None) -> str:
        """Add a fresh KEK version, make it primary, persist; return its id."""
        created = _now(now)
        with self._lock:
            self._follow(force=True)
            self._commit(self._keyset.add(generate_key(KEK_SIZE), created))
            return self.primary_key_id

    def keys(self) -> list[KeyInfo]:
        self._follow(force=True)
        keyset = self._keyset
        return [
            KeyInfo(
                key_id=f"{_PREFIX}{v.version}",
                status=v.status.value,
                primary=v.version == keyset.primary,
                created_at=v.created_at.astimezone(UTC).isoformat(),
            )
            for v in keyset.versions
        ]

    def destroy(self, key_id: str) -> None:
        """Remove a non-primary version's material from the file for good."""
        self._with_status(key_id, KeyStatus.DESTROYED)

    def disable(self, key_id: str) -> None:
        """Stop a non-primary version from unwrapping until :meth:`enable`."""
        self._with_status(key_id, KeyStatus.DISABLED)

    def enable(self, key_id: str) -> None:
        self._with_status(key_id, KeyStatus.ENABLED)

    def change_passphrase(self, new_passphrase: str | SecretBytes, *, params: Argon2Params | None = None) -> None:
        """Re-seal the file under a new passphrase and a fresh salt (and optionally new costs)."""
        secret = passphrase_bytes(new_passphrase)
        with self._lock:
            params = self._header.params if params is None else params
            if not isinstance(params, Argon2Params):
                raise TypeError("params must be Argon2Params")
            header = _Header(params, os.urandom(SALT_SIZE))
            aead = Aead(derive_sealing_key(secret, header.salt, params))
            self._follow(force=True)
            self._commit(self._keyset, header, aead)
            self._passphrase = secret

    def __repr__(self) -> str:
        return f"LocalKeyring(path={str(self._path)!r}, primary={self.primary_key_id_unfollowed!r})"
