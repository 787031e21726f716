"""Field encryption: one AES-256-GCM ciphertext per value, bound to the place it belongs.

Every encrypted value in the data store (a subject's field, a record's text, a field in separate
storage) is ``Aead.encrypt(value, associated_data)`` under its owner's data key (:mod:`keys.aead`:
a random 96-bit nonce, the ciphertext and the 128-bit tag), where::

    associated_data = lp(label) || lp(owner id) || lp(field name) || lp(schema version)
    lp(x)           = len(x) as 4 bytes, big-endian || x
    owner id, name  : ASCII
    schema version  : 4 bytes, big-endian

and the label names the kind of owner (:class:`FieldOwner`)::

    pseudovault/field       a subject's field       (table subject_fields)
    pseudovault/record      a record's free text    (table record_fields)
    pseudovault/separated   a field kept apart      (table separated_fields)

So a ciphertext copied to another owner, another field or another kind of owner, or read under
another schema version, fails to decrypt: :class:`keys.errors.DecryptionError`, the one opaque
error of every decrypt failure. The lengths make the encoding unambiguous (owner ``ab`` with field
``c`` is not owner ``a`` with field ``bc``).

This module is the only place the encoding is written. A :class:`FieldCipher` is made per owner
over the owner's :class:`keys.aead.Aead` (which the key hierarchy caches with the data key).
"""

from __future__ import annotations

import functools
from enum import Enum

from pseudovault.keys.aead import Aead

__all__ = ["SCHEMA_VERSION", "FieldCipher", "FieldOwner", "associated_data"]

#: the schema version new ciphertexts are written under
SCHEMA_VERSION = 1


class FieldOwner(Enum):
    """What a field belongs to; the value is the label its associated data starts with."""

    SUBJECT = b"pseudovault/field"
    RECORD = b"pseudovault/record"
    SEPARATED = b"pseudovault/separated"


def _lp(part: bytes) -> bytes:
    return len(part).to_bytes(4, "big") + part




def associated_data(owner: FieldOwner, owner_id: str, name: str, schema_version: int) -> bytes:
    """The associated data binding a ciphertext to its owner, field name and schema version."""
    return _associated_data(owner.value, owner_id, name, schema_version)


@functools.lru_cache(maxsize=16_384)
def _associated_data(label: bytes, owner_id: str, name: str, schema_version: int) -> bytes:
    # cached (the most recent 16,384): a hot owner's fields are read and written again and again;
    # the cache holds labels, ids and field names only, never a value or a key
    return b"".join(
        (
            _lp(label),
            _lp(owner_id.encode("ascii")),
            _lp(name.encode("ascii")),
            _lp(schema_version.to_bytes(4, "big")),
        )
    )


class FieldCipher:
    """Encrypts and decrypts the fields of one owner under its data key.

    The key hierarchy keeps one per cached subject key (``KeyHierarchy.subject_cipher``), so it
    remembers the associated data of the fields it has seen (names and versions, never values).
    """

    __slots__ = ("_aead", "_label", "_owner", "_owner_id", "_ads", "_current")

    #: how many (field name, schema version) pairs one cipher remembers the associated data of
    MAX_REMEMBERED = 64

    def __init__(self, aead: Aead, owner: FieldOwner, owner_id: str) -> None:
        if not isinstance(owner, FieldOwner):
            raise TypeError("owner must be a FieldOwner")
        if not owner_id.isascii():  # a caller's mistake fails here, not on the first field
            raise UnicodeEncodeError("ascii", owner_id, 0, len(owner_id), "an owner id is ASCII")
        self._aead = aead
        self._owner = owner
        self._label = owner.value
        self._owner_id = owner_id
        self._ads: dict[tuple[str, int], bytes] = {}
        self._current: dict[str, bytes] = {}

    @property
    def aead(self) -> Aead:
        return self._aead

    def _associated_data(self, name: str, schema_version: int) -> bytes:
        ads = self._ads
        ad = ads.get((name, schema_version))
        if ad is None:
            ad = _associated_data(self._label, self._owner_id, name, schema_version)
            if len(ads) < self.MAX_REMEMBERED:
                ads[(name, schema_version)] = ad
        return ad

    def _slow_associated_data(self, name: str, schema_version: int) -> bytes:
        if schema_version == SCHEMA_VERSION:
            ad = _associated_data(self._label, self._owner_id, name, SCHEMA_VERSION)
            if len(self._current) < self.MAX_REMEMBERED:
                self._current[name] = ad
            return ad
        return self._associated_data(name, schema_version)

    def encrypt(self, name: str, value: bytes, schema_version: int = SCHEMA_VERSION) -> bytes:
        """``value`` encrypted for field ``name`` of this owner."""
        # the common case, the current schema version: the associated data looked up by name
        ad = self._current.get(name) if schema_version == SCHEMA_VERSION else None
        if ad is None:
            ad = self._slow_associated_data(name, schema_version)
        return self._aead.encrypt(value, ad)

    def decrypt(self, name: str, ciphertext: bytes, schema_version: int) -> bytes:
        """The value of field ``name``; :class:`keys.errors.DecryptionError` for any failure."""
        ad = self._current.get(name) if schema_version == SCHEMA_VERSION else None
        if ad is None:
            ad = self._slow_associated_data(name, schema_version)
        return self._aead.decrypt(ciphertext, ad)

    def __repr__(self) -> str:
        return f"FieldCipher({self._owner.name.lower()})"
