"""Versioned keys with one primary and a status on each.

A :class:`Keyset` is the in-memory form of a set of root key-encryption keys (or any other
versioned secret): the primary wraps, every non-destroyed version unwraps, and a destroyed
version keeps only its id and history, never its material.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NoReturn

from pseudovault.keys.errors import KeyNotFoundError
from pseudovault.keys.secrets import SecretBytes

__all__ = ["KeyStatus", "KeyVersion", "Keyset"]


class KeyStatus(str, enum.Enum):
    ENABLED = "enabled"  # wraps (if primary) and unwraps
    DISABLED = "disabled"  # unwraps nothing until enabled again; reversible
    DESTROYED = "destroyed"  # material gone for good; irreversible


@dataclass(frozen=True)
class KeyVersion:
    version: int
    status: KeyStatus
    created_at: datetime
    material: SecretBytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.status is KeyStatus.DESTROYED and self.material is not None:
            raise ValueError("a destroyed key version holds no material")
        if self.status is not KeyStatus.DESTROYED and self.material is None:
            raise ValueError(f"key version {self.version} is {self.status.value} but has no material")


@dataclass(frozen=True)
class Keyset:
    """An immutable set of key versions; every change returns a new keyset."""

    primary: int
    versions: tuple[KeyVersion, ...]

    def __post_init__(self) -> None:
        ids = [v.version for v in self.versions]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate key versions in keyset")
        p = self._find(self.primary)
        if p is None or p.status is not KeyStatus.ENABLED:
            raise ValueError("the primary key version must exist and be enabled")

    def _find(self, version: int) -> KeyVersion | None:
        for v in self.versions:
            if v.version == version:
                return v
        return None

    @property
    def primary_version(self) -> KeyVersion:
        v = self._find(self.primary)
        assert v is not None
        return v

    def get(self, version: int) -> KeyVersion:
        """The enabled version ``version``; disabled and destroyed ones are not usable."""
        v = self._find(version)
        if v is None or v.status is not KeyStatus.ENABLED or v.material is None:
            raise KeyNotFoundError(str(version))
        return v

    def add(self, material: SecretBytes, now: datetime, *, make_primary: bool = True) -> Keyset:
        next_version = max((v.version for v in self.versions), default=0) + 1
        new = KeyVersion(next_version, KeyStatus.ENABLED, now, material)
        return Keyset(next_version if make_primary else self.primary, (*self.versions, new))

    def with_status(self, version: int, status: KeyStatus) -> Keyset:
        v = self._find(version)
        if v is None:
            raise KeyNotFoundError(str(version))
        if v.status is KeyStatus.DESTROYED and status is not KeyStatus.DESTROYED:
            raise ValueError(f"key version {version} is destroyed; it cannot be {status.value}")
        if version == self.primary and status is not KeyStatus.ENABLED:
            raise ValueError("the primary key version cannot be disabled or destroyed")
        material = None if status is KeyStatus.DESTROYED else v.material
        updated = replace(v, status=status, material=material)
        return Keyset(self.primary, tuple(updated if x.version == version else x for x in self.versions))

    def promote(self, version: int) -> Keyset:
        self.get(version)
        return Keyset(version, self.versions)

    @classmethod
    def new(cls, material: SecretBytes, now: datetime) -> Keyset:
        return cls(1, (KeyVersion(1, KeyStatus.ENABLED, now, material),))

    def __reduce__(self) -> NoReturn:
        raise TypeError("Keyset cannot be pickled")
