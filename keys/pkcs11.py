"""Root KEK versions held in a PKCS#11 token (an HSM; SoftHSM2 in tests), through python-pkcs11.

Why one module of this size: one provider over one library, with the token's quirks (sessions,
login sharing, mechanisms, data objects for dates) handled where they are used.

Key material never leaves the token: each version is a 256-bit AES secret key object generated in
the token (``CKA_SENSITIVE`` true, ``CKA_EXTRACTABLE`` false), and wrapping happens inside it.

Objects in the token, for ``key=LABEL``::

    secret key  CKA_LABEL "LABEL/v<N>"  AES-256, token object, private, sensitive, not extractable,
                                        CKA_WRAP/CKA_UNWRAP true while enabled, false while disabled
                                        (CKA_ENCRYPT/CKA_DECRYPT instead, for the GCM mechanism)
    data        CKA_LABEL "LABEL/v<N>"  CKA_APPLICATION "pseudovault", private; CKA_VALUE the
                                        canonical JSON {"created_at": ISO, "version": N} and, once the
                                        key object is deleted, "destroyed_at": ISO

Key ids are ``"hsm:<N>"``; versions count up from 1 and are never reused (the data objects remember
destroyed ones). The primary is the highest enabled version, so every process sharing the token
agrees on it without any other state; :meth:`Pkcs11Provider.rotate` generates version N+1.

Wrapping (byte layout of ``WrappedKey.ciphertext``):

- ``kwp`` (the default, where the token has it): ``C_WrapKey`` with ``CKM_AES_KEY_WRAP_PAD``
  (RFC 5649) of a session object holding the key to wrap; the ciphertext is exactly RFC 5649's
  output. Unwrap is ``C_UnwrapKey`` into an extractable session object, read, then destroyed.
  Keys to wrap must be a multiple of 8 bytes long (every key pseudovault wraps is 32 bytes):
  some tokens (SoftHSM2 2.6) return an unwrapped key with its RFC 5649 padding still on, which
  only such lengths make harmless.
- ``gcm`` (for tokens without KWP): ``C_Encrypt`` with ``CKM_AES_GCM``, a random 96-bit IV and the
  key id as associated data; the ciphertext is ``IV (12) || ciphertext || tag (16)``.

Every failure to unwrap the bytes is :class:`~keys.errors.DecryptionError`; an unknown, disabled or
destroyed version is :class:`~keys.errors.KeyNotFoundError`; a token that cannot be reached (module
missing, token absent, wrong PIN, session lost twice) is
:class:`~keys.errors.ProviderUnavailableError`. A lost session is reopened once per call.

PKCS#11 logins are per process and token: a second provider opened in a process that is already
logged in shares that login (``CKR_USER_ALREADY_LOGGED_IN``), so its PIN is not checked again.
The vault opens one provider per process; tests that need a wrong PIN refused use a process of
their own.

Following other processes: the token is the shared state. Object handles found are cached per
version; a version not in the cache, or whose handle went stale, is looked up again at once, and the
version list (for the primary) is re-read at most every ``follow_seconds``. Disabling and destroying
take effect in the token immediately for every process.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pseudovault.keys.errors import DecryptionError, KeyNotFoundError, ProviderUnavailableError
from pseudovault.keys.provider import KekProvider, KeyInfo, WrappedKey
from pseudovault.keys.secrets import SecretBytes

__all__ = ["Pkcs11Provider", "MECHANISMS"]

_PREFIX = "hsm:"
_KEY_ID = re.compile(r"hsm:([1-9][0-9]{0,17})")
_APPLICATION = "pseudovault"
MECHANISMS = ("kwp", "gcm")
_GCM_IV = 12
_T = TypeVar("_T")


@dataclass
class _Version:
    number: int
    created_at: datetime
    key: Any | None  # the secret key object, None once destroyed
    enabled: bool
    destroyed: bool


def _live(version: _Version) -> Any:
    """The version's key object; a destroyed version has none (callers check it is usable)."""
    if version.key is None:
        raise KeyNotFoundError(f"{_PREFIX}{version.number}")
    return version.key


_LIBRARIES: dict[str, Any] = {}
_LIBRARIES_LOCK = threading.Lock()


def _library(p11: Any, module: str) -> Any:
    """The loaded module, one per path for the whole process: unloading it (C_Finalize) would end
    every other provider's sessions on it."""
    with _LIBRARIES_LOCK:
        lib = _LIBRARIES.get(module)
        if lib is None:
            lib = _LIBRARIES[module] = p11.lib(module)
        return lib


def _import_pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:
        raise ProviderUnavailableError(
            "the pkcs11 provider needs python-pkcs11: pip install 'pseudovault[hsm]'"
        ) from None
    return pkcs11


class Pkcs11Provider(KekProvider):
    """Root KEK versions as AES key objects in a PKCS#11 token. Build with :meth:`open`."""

    kind = "pkcs11"

    def __init__(
        self,
        *,
        module: str,
        token_label: str,
        key_label: str,
        pin: SecretBytes,
        mechanism: str = "kwp",
        follow_seconds: float = 1.0,
    ) -> None:
        if not isinstance(pin, SecretBytes):
            raise TypeError("pin must be SecretBytes")
        if mechanism not in MECHANISMS:
            raise ValueError(f"mechanism must be one of {', '.join(MECHANISMS)}")
        if not key_label or "/" in key_label or len(key_label) > 64:
            raise ValueError("key label must be 1 to 64 characters without '/'")
        self._p11 = _import_pkcs11()
        self._module = module
        self._token_label = token_label
        self._key_label = key_label
        self._pin = pin
        self._mechanism = mechanism
        self._follow_seconds = follow_seconds
        self._lock = threading.RLock()
        self._session: Any = None
        self._versions: dict[int, _Version] = {}
        self._scanned_at = float("-inf")
        self._label = re.compile(re.escape(key_label) + r"/v([1-9][0-9]{0,17})")
        with self._lock:
            self._connect()
            if self._mechanism == "kwp" and not self._has_kwp():
                self._mechanism = "gcm"  # the token lacks RFC 5649: AES-GCM inside the token instead
            self._scan()

    @classmethod
    def open(cls, **kwargs: Any) -> Pkcs11Provider:
        """Open the token and read the versions; a token with none gets version 1 (first run)."""
        provider = cls(**kwargs)
        with provider._lock:
            if not provider._versions:
                provider._generate(1)
                provider._scan()
        return provider

    # --- the session ----------------------------------------------------------------------

    def _connect(self) -> None:
        p11 = self._p11
        try:
            lib = _library(p11, self._module)
        except Exception as exc:  # the module cannot be loaded: missing file, wrong architecture
            raise ProviderUnavailableError(f"cannot load the PKCS#11 module ({type(exc).__name__})") from None
        try:
            token = lib.get_token(token_label=self._token_label)
            try:
                self._session = token.open(rw=True, user_pin=self._pin.reveal().decode("utf-8"))
            except p11.exceptions.UserAlreadyLoggedIn:
                # the login is per process and token: another provider here holds it; share it
                self._session = token.open(rw=True)
        except p11.exceptions.NoSuchToken:
            raise ProviderUnavailableError("no PKCS#11 token with the configured label") from None
        except p11.exceptions.PKCS11Error as exc:
            raise ProviderUnavailableError(f"cannot open a PKCS#11 session ({type(exc).__name__})") from None

    def _has_kwp(self) -> bool:
        mechanisms = self._session.token.slot.get_mechanisms()
        return self._p11.Mechanism.AES_KEY_WRAP_PAD in mechanisms

    def _call(self, action: Callable[[], _T]) -> _T:
        """Run ``action`` on the session; a lost session is reopened once, then unavailable."""
        errors = self._p11.exceptions
        lost = (
            errors.SessionHandleInvalid,
            errors.SessionClosed,
            errors.DeviceRemoved,
            errors.DeviceError,
            errors.TokenNotPresent,
            errors.UserNotLoggedIn,
        )
        with self._lock:
            try:
                return action()
            except lost:
                pass
            self._connect()
            self._versions.clear()
            self._scanned_at = float("-inf")
            try:
                return action()
            except lost as exc:
                raise ProviderUnavailableError(f"the PKCS#11 session was lost ({type(exc).__name__})") from None

    # --- versions -------------------------------------------------------------------------

    def _scan(self) -> None:
        """Read every version of this key label from the token."""
        Attribute, ObjectClass = self._p11.Attribute, self._p11.ObjectClass
        found: dict[int, _Version] = {}
        for obj in self._session.get_objects({Attribute.CLASS: ObjectClass.DATA, Attribute.APPLICATION: _APPLICATION}):
            match = self._label.fullmatch(obj[Attribute.LABEL])
            if match is None:
                continue
            meta = json.loads(bytes(obj[Attribute.VALUE]))
            number = int(match.group(1))
            found[number] = _Version(
                number, datetime.fromisoformat(meta["created_at"]), None, False, "destroyed_at" in meta
            )
        use = Attribute.UNWRAP if self._mechanism == "kwp" else Attribute.DECRYPT
        for obj in self._session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}):
            match = self._label.fullmatch(obj[Attribute.LABEL])
            if match is None:
                continue
            number = int(match.group(1))
            version = found.get(number)
            if version is None:  # a key made outside pseudovault under our label: taken, dated now
                version = found[number] = _Version(number, datetime.now(UTC), None, False, False)
            version.key = obj
            version.destroyed = False
            version.enabled = bool(obj[use])
        for version in found.values():
            if version.key is None:
                version.destroyed = True
        self._versions = found
        self._scanned_at = time.monotonic()

    def _current(self, *, force: bool = False) -> dict[int, _Version]:
        with self._lock:
            if force or time.monotonic() - self._scanned_at >= self._follow_seconds:
                self._call(self._scan)
            return self._versions

    def _primary(self, versions: dict[int, _Version]) -> int:
        enabled = [v.number for v in versions.values() if v.enabled and not v.destroyed]
        if not enabled:
            raise ProviderUnavailableError("the PKCS#11 token holds no enabled version of the configured key")
        return max(enabled)

    def _generate(self, number: int, now: datetime | None = None) -> None:
        p11 = self._p11
        Attribute, KeyType = p11.Attribute, p11.KeyType
        label = f"{self._key_label}/v{number}"
        kwp = self._mechanism == "kwp"
        created = (now or datetime.now(UTC)).astimezone(UTC)

        def generate() -> None:
            self._session.generate_key(
                KeyType.AES,
                256,
                label=label,
                store=True,
                template={
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.WRAP: kwp,
                    Attribute.UNWRAP: kwp,
                    Attribute.ENCRYPT: not kwp,
                    Attribute.DECRYPT: not kwp,
                    Attribute.SIGN: False,
                    Attribute.VERIFY: False,
                },
            )
            self._put_meta(label, {"created_at": created.isoformat(), "version": number})

        self._call(generate)

    def _put_meta(self, label: str, meta: dict[str, object]) -> None:
        Attribute = self._p11.Attribute
        self._session.create_object(
            {
                Attribute.CLASS: self._p11.ObjectClass.DATA,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.LABEL: label,
                Attribute.APPLICATION: _APPLICATION,
                Attribute.VALUE: json.dumps(meta, sort_keys=True, separators=(",", ":")).encode("ascii"),
            }
        )

    def _number(self, key_id: str) -> int:
        match = _KEY_ID.fullmatch(key_id) if isinstance(key_id, str) else None
        if match is None:
            raise KeyNotFoundError(str(key_id))
        return int(match.group(1))

    def _exists(self, number: int) -> bool:
        """Whether the token holds a key object for version ``number`` (one exact-label search)."""
        Attribute = self._p11.Attribute
        template = {Attribute.CLASS: self._p11.ObjectClass.SECRET_KEY, Attribute.LABEL: f"{self._key_label}/v{number}"}
        return self._call(lambda: any(True for _ in self._session.get_objects(template)))

    def _usable(self, key_id: str) -> _Version:
        number = self._number(key_id)
        version = self._current().get(number)
        if (version is None or not version.enabled or version.destroyed) and self._exists(number):
            version = self._current(force=True).get(number)  # added or enabled by another process
        if version is None or not version.enabled or version.destroyed:
            raise KeyNotFoundError(key_id)
        return version

    # --- wrapping inside the token --------------------------------------------------------

    def _wrap_with(self, version: _Version, key: SecretBytes, key_id: str) -> bytes:
        p11 = self._p11
        Attribute = p11.Attribute
        token_key = _live(version)
        if self._mechanism == "gcm":
            iv = os.urandom(_GCM_IV)
            params = p11.mechanisms.GCMParams(iv, key_id.encode("ascii"), 128)
            return iv + bytes(token_key.encrypt(key.reveal(), mechanism=p11.Mechanism.AES_GCM, mechanism_param=params))
        temporary = self._session.create_object(
            {
                Attribute.CLASS: p11.ObjectClass.SECRET_KEY,
                Attribute.KEY_TYPE: p11.KeyType.GENERIC_SECRET,
                Attribute.VALUE: key.reveal(),
                Attribute.TOKEN: False,
                Attribute.EXTRACTABLE: True,
                Attribute.SENSITIVE: False,
            }
        )
        try:
            return bytes(token_key.wrap_key(temporary, mechanism=p11.Mechanism.AES_KEY_WRAP_PAD))
        finally:
            temporary.destroy()

    def _unwrap_with(self, version: _Version, ciphertext: bytes, key_id: str) -> bytes:
        p11 = self._p11
        token_key = _live(version)
        if self._mechanism == "gcm":
            if len(ciphertext) < _GCM_IV + 16:
                raise DecryptionError()
            params = p11.mechanisms.GCMParams(ciphertext[:_GCM_IV], key_id.encode("ascii"), 128)
            return bytes(
                token_key.decrypt(ciphertext[_GCM_IV:], mechanism=p11.Mechanism.AES_GCM, mechanism_param=params)
            )
        if len(ciphertext) < 16 or len(ciphertext) % 8:
            raise DecryptionError()  # not an RFC 5649 output; some tokens answer such input badly
        unwrapped = token_key.unwrap_key(
            p11.ObjectClass.SECRET_KEY,
            p11.KeyType.GENERIC_SECRET,
            ciphertext,
            mechanism=p11.Mechanism.AES_KEY_WRAP_PAD,
            store=False,
            template={p11.Attribute.EXTRACTABLE: True, p11.Attribute.SENSITIVE: False},
        )
        try:
            return bytes(unwrapped[p11.Attribute.VALUE])
        finally:
            unwrapped.destroy()

    # --- the provider interface -----------------------------------------------------------

    @property
    def primary_key_id(self) -> str:
        return f"{_PREFIX}{self._primary(self._current())}"

    def wrap(self, key: SecretBytes) -> WrappedKey:
        if not isinstance(key, SecretBytes):
            raise TypeError("wrap takes SecretBytes")
        if not 1 <= len(key) <= 1024:
            raise ValueError("a wrapped key is 1 to 1024 bytes")
        if self._mechanism == "kwp" and len(key) % 8:
            raise ValueError("with the kwp mechanism a wrapped key is a multiple of 8 bytes long")
        with self._lock:
            number = self._primary(self._current(force=True))  # rare: never under a stale primary
            key_id = f"{_PREFIX}{number}"
            version = self._versions[number]
            return WrappedKey(key_id, self._call(lambda: self._wrap_with(version, key, key_id)))

    def unwrap(self, wrapped: WrappedKey) -> SecretBytes:
        if not isinstance(wrapped, WrappedKey):
            raise TypeError("unwrap takes a WrappedKey")
        errors = self._p11.exceptions
        stale = (errors.ObjectHandleInvalid, errors.KeyHandleInvalid, errors.UnwrappingKeyHandleInvalid)
        with self._lock:
            for _attempt in range(2):
                version = self._usable(wrapped.key_id)
                try:
                    return SecretBytes(self._call(functools.partial(self._unwrap_with, version, wrapped.ciphertext, wrapped.key_id)))
                except stale:
                    self._current(force=True)  # the handle went stale (a new session, or destroyed)
                except errors.PKCS11Error:
                    # the bytes did not unwrap, or the key was disabled elsewhere: the token says which
                    if self._usable_now(version):
                        raise DecryptionError() from None
                    break
            raise KeyNotFoundError(wrapped.key_id)

    def _usable_now(self, version: _Version) -> bool:
        """Whether the version's key object still exists and may unwrap (asked of the token)."""
        Attribute = self._p11.Attribute
        use = Attribute.UNWRAP if self._mechanism == "kwp" else Attribute.DECRYPT
        try:
            usable = bool(self._call(lambda: _live(version)[use]))
        except self._p11.exceptions.PKCS11Error:
            usable = False
        if not usable:
            self._current(force=True)
        return usable

    def rotate(self, *, now: datetime | None = None) -> str:
        with self._lock:
            versions = self._current(force=True)
            number = max(versions, default=0) + 1
            self._generate(number, now)
            self._current(force=True)
            return f"{_PREFIX}{number}"

    def keys(self) -> list[KeyInfo]:
        with self._lock:
            versions = self._current(force=True)
            primary = self._primary(versions)
            return [
                KeyInfo(
                    key_id=f"{_PREFIX}{v.number}",
                    status="destroyed" if v.destroyed else "enabled" if v.enabled else "disabled",
                    primary=v.number == primary,
                    created_at=v.created_at.astimezone(UTC).isoformat(),
                )
                for v in sorted(versions.values(), key=lambda v: v.number)
            ]

    def _known(self, key_id: str) -> _Version:
        number = self._number(key_id)
        version = self._current(force=True).get(number)
        if version is None:
            raise KeyNotFoundError(key_id)
        return version

    def destroy(self, key_id: str) -> None:
        """Delete the key object from the token; its data object keeps the version's history."""
        Attribute, ObjectClass = self._p11.Attribute, self._p11.ObjectClass
        with self._lock:
            version = self._known(key_id)
            if version.number == self._primary(self._versions):
                raise ValueError("the primary key version cannot be disabled or destroyed")
            if version.destroyed:
                return
            label = f"{self._key_label}/v{version.number}"

            def destroy() -> None:
                assert version.key is not None
                version.key.destroy()
                created = version.created_at.astimezone(UTC).isoformat()
                for obj in self._session.get_objects(
                    {Attribute.CLASS: ObjectClass.DATA, Attribute.APPLICATION: _APPLICATION, Attribute.LABEL: label}
                ):
                    obj.destroy()  # CKA_VALUE is read-only on some tokens: replace the object
                meta = {"created_at": created, "destroyed_at": datetime.now(UTC).isoformat(), "version": version.number}
                self._put_meta(label, meta)

            self._call(destroy)
            self._current(force=True)

    def _set_enabled(self, key_id: str, enabled: bool) -> None:
        Attribute = self._p11.Attribute
        with self._lock:
            version = self._known(key_id)
            if version.destroyed:
                raise ValueError(f"key version {key_id} is destroyed; it cannot be {'enabled' if enabled else 'disabled'}")
            if not enabled and version.number == self._primary(self._versions):
                raise ValueError("the primary key version cannot be disabled or destroyed")
            uses = (Attribute.WRAP, Attribute.UNWRAP) if self._mechanism == "kwp" else (Attribute.ENCRYPT, Attribute.DECRYPT)

            def change() -> None:
                assert version.key is not None
                for attribute in uses:
                    version.key[attribute] = enabled

            self._call(change)
            self._current(force=True)

    def disable(self, key_id: str) -> None:
        self._set_enabled(key_id, False)

    def enable(self, key_id: str) -> None:
        self._set_enabled(key_id, True)

    def refresh(self) -> None:
        self._current(force=True)

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                with contextlib.suppress(self._p11.exceptions.PKCS11Error):  # a session the token dropped
                    self._session.close()
                self._session = None

    def __repr__(self) -> str:
        primary = max((v.number for v in self._versions.values() if v.enabled and not v.destroyed), default=None)
        return f"Pkcs11Provider(key={self._key_label!r}, primary={f'{_PREFIX}{primary}' if primary else None!r})"
