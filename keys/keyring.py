"""The local keyring: root KEK versions in one file, sealed under a passphrase (the file's layout,
sealing, failure rules and atomic writes: :mod:`keys.keyring_file`).

Key ids are ``"local:<version>"``; versions count up from 1 and are never reused. Wrapping is
RFC 5649 under the primary version (keys.wrap).

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

import logging
import os
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from pseudovault.keys.aead import Aead
from pseudovault.keys.errors import DecryptionError, KeyNotFoundError, KeyringError
from pseudovault.keys.kdf import SALT_SIZE, Argon2Params, derive_sealing_key, passphrase_bytes
from pseudovault.keys.keyring_file import (
    FORMAT,
    FORMAT_VERSION,
    KEK_SIZE,
    MAX_FILE_SIZE,
    Header,
    digest,
    encode_payload,
    file_identity,
    os_reason,
    parse_header,
    parse_payload,
    read_file,
    render,
    write_atomic,
)
from pseudovault.keys.keyset import Keyset, KeyStatus
from pseudovault.keys.provider import KekProvider, KeyInfo, WrappedKey
from pseudovault.keys.secrets import SecretBytes
from pseudovault.keys.wrap import generate_key, unwrap_key, wrap_key

__all__ = ["Argon2Params", "LocalKeyring", "FORMAT", "FORMAT_VERSION", "DEFAULT_FOLLOW_SECONDS"]


log = logging.getLogger(__name__)


DEFAULT_FOLLOW_SECONDS = 1.0


_PREFIX = "local:"


_KEY_ID = re.compile(r"local:([1-9][0-9]{0,17})")  # ASCII digits only, no leading zero


_CONSTRUCT = object()


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
        header: Header,
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
        self._identity = file_identity(path)
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
        header = Header(params, os.urandom(SALT_SIZE))
        aead = Aead(derive_sealing_key(secret, header.salt, params))
        data = render(header, aead.encrypt(encode_payload(keyset), header.associated_data()))
        try:
            write_atomic(path, data, exclusive=True)
        except FileExistsError:
            raise exists from None
        except OSError as exc:
            raise KeyringError(f"cannot create keyring {path}: {os_reason(exc)}") from None
        return cls(
            _CONSTRUCT,
            path=path,
            header=header,
            aead=aead,
            keyset=keyset,
            digest=digest(data),
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
            digest=digest(raw),
            passphrase=secret,
            follow_seconds=follow_seconds,
        )

    @staticmethod
    def _load(
        path: Path, secret: SecretBytes, known: tuple[Header, Aead] | None = None
    ) -> tuple[Header, Aead, Keyset, bytes]:
        """Read and open the file; ``known`` (a header and its sealing key) skips the KDF when the
        file's header is unchanged."""
        raw = read_file(path)
        header, sealed = parse_header(path, raw)
        altered = KeyringError(f"cannot open keyring {path}: wrong passphrase or the file was altered")
        if render(header, sealed) != raw:
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
        return header, aead, parse_payload(path, payload), raw

    # --- following other processes ------------------------------------------------------

    def _follow(self, *, force: bool = False) -> None:
        """Adopt the file's current contents if another process changed it (see the module
        docstring). Checks at most once per ``follow_seconds`` unless ``force``."""
        now = time.monotonic()
        if not force and now - self._checked_at < self._follow_seconds:
            return
        with self._lock:
            self._checked_at = now
            identity = file_identity(self._path)
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
            if digest(raw) != self._digest:
                self._adopt(keyset, header, aead, raw)
                log.info("keyring re-read: primary root key %s", self.primary_key_id_unfollowed)

    def refresh(self) -> None:
        """Re-read the file now if it changed (the provider interface's hook)."""
        self._follow(force=True)

    # --- persistence ----------------------------------------------------------------------

    def _commit(self, keyset: Keyset, header: Header | None = None, aead: Aead | None = None) -> None:
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
            raise KeyringError(f"cannot write keyring {path}: {os_reason(exc)}") from None
        if digest(current) != self._digest:
            raise KeyringError(
                f"cannot write keyring {path}: the file was changed by another process since it was opened;"
                " open it again"
            )
        data = render(header, aead.encrypt(encode_payload(keyset), header.associated_data()))
        try:
            write_atomic(path, data, exclusive=False)
        except OSError as exc:
            if self._digest_on_disk() == digest(data):  # renamed; only the directory fsync failed
                self._adopt(keyset, header, aead, data)
                raise KeyringError(f"keyring {path} was written but may not be durable: {os_reason(exc)}") from None
            raise KeyringError(f"cannot write keyring {path}: {os_reason(exc)}") from None
        self._adopt(keyset, header, aead, data)

    def _digest_on_disk(self) -> bytes | None:
        try:
            with open(self._path, "rb") as f:
                return digest(f.read(MAX_FILE_SIZE + 1))
        except OSError:
            return None

    def _adopt(self, keyset: Keyset, header: Header, aead: Aead, data: bytes) -> None:
        self._keyset, self._header, self._aead, self._digest = keyset, header, aead, digest(data)
        self._identity = file_identity(self._path)

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
            header = Header(params, os.urandom(SALT_SIZE))
            aead = Aead(derive_sealing_key(secret, header.salt, params))
            self._follow(force=True)
            self._commit(self._keyset, header, aead)
            self._passphrase = secret

    def __repr__(self) -> str:
        return f"LocalKeyring(path={str(self._path)!r}, primary={self.primary_key_id_unfollowed!r})"
