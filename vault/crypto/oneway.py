"""One-way fields: values that must never be recoverable, such as passwords.

The Standards for Safety Measures of Personal Information (Art. 7(2)) require passwords to be
stored with one-way encryption, so that they can be checked but not read back. A subject's field
whose name is declared one-way (:class:`FieldRules`, ``PSEUDOVAULT_ONE_WAY_FIELDS``, default
``password``) is stored as an Argon2id hash (RFC 9106, through argon2-cffi: a random salt per
value, the parameters in the encoded string) under :data:`ONE_WAY_SCHEMA`, and that hash is
itself encrypted under the subject's data key like every other field: shredding the subject
destroys it, and a copy of the data store alone gives no hash to attack offline. Such a field is
never revealed, exported or moved to separate storage in the clear; it can only be verified
(:meth:`vault.subjects.service.SubjectService.verify`).

A field whose name looks like a secret (``password``, ``passwd``, ``passphrase``, ``passcode``,
``pwd``, ``pin``, ``secret`` as a word of the name, e.g. ``login_password`` or ``card_pin``) and is
not declared one-way is refused: storing it reversibly takes an explicit declaration
(``PSEUDOVAULT_REVERSIBLE_FIELDS``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pseudovault.vault.errors import InvalidInputError

__all__ = ["ONE_WAY_SCHEMA", "FieldRules", "looks_like_a_secret"]

#: the schema version of a one-way field's stored value (an Argon2id PHC string): it is part of
#: the ciphertext's associated data, so a one-way value cannot be passed off as a readable one
ONE_WAY_SCHEMA = 2

_SECRET_WORD = re.compile(r"(?:^|_)(?:pass(?:word|wd|phrase|code)?|pwd|pin|secret)(?:_|$)|password")


def looks_like_a_secret(name: str) -> bool:
    """Whether a field name names a password, a PIN or another secret."""
    return _SECRET_WORD.search(name) is not None


@dataclass(frozen=True)
class FieldRules:
    """Which subject fields are one-way, which secret-looking names may be kept reversibly, and
    the Argon2id parameters of new hashes (those of an existing hash are in it)."""

    one_way: frozenset[str] = frozenset({"password"})
    reversible: frozenset[str] = frozenset()
    time_cost: int = 3
    memory_kib: int = 65_536
    parallelism: int = 4
    _hasher: PasswordHasher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.one_way & self.reversible:
            raise ValueError("a field cannot be both one-way and reversible")
        hasher = PasswordHasher(time_cost=self.time_cost, memory_cost=self.memory_kib, parallelism=self.parallelism)
        object.__setattr__(self, "_hasher", hasher)

    def is_one_way(self, name: str) -> bool:
        return name in self.one_way

    def check_reversible(self, name: str) -> None:
        """Refuse to store ``name`` reversibly when it looks like a secret and is not declared."""
        if name not in self.one_way and name not in self.reversible and looks_like_a_secret(name):
            raise InvalidInputError(
                f"fields.{name}",
                "looks like a password or another secret: declare it one-way (PSEUDOVAULT_ONE_WAY_FIELDS) to "
                "store it as a hash that can only be verified, or reversible (PSEUDOVAULT_REVERSIBLE_FIELDS)",
            )

    def hash(self, value: bytes) -> bytes:
        """The Argon2id PHC string of ``value``, as bytes."""
        return self._hasher.hash(value).encode("ascii")

    def verify(self, stored: bytes, value: bytes) -> bool:
        """Whether ``value`` matches the stored hash (Argon2's own comparison is constant-time)."""
        try:
            return self._hasher.verify(stored.decode("ascii"), value)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError, UnicodeDecodeError):
            return False

    def needs_rehash(self, stored: bytes) -> bool:
        """Whether a stored hash was made with other parameters than today's."""
        try:
            return self._hasher.check_needs_rehash(stored.decode("ascii"))
        except (InvalidHashError, UnicodeDecodeError):
            return False
