"""Key material that never prints, pickles or compares in variable time."""

from __future__ import annotations

import hmac
from typing import NoReturn

__all__ = ["SecretBytes"]


class SecretBytes:
    """Bytes that hold key material.

    ``repr`` and ``str`` are redacted (only the length shows), pickling and copying to a
    string are refused, equality is constant-time, and the bytes come out only through an
    explicit :meth:`reveal`.
    """

    __slots__ = ("_value",)

    def __init__(self, value: bytes | bytearray | memoryview) -> None:
        if isinstance(value, SecretBytes):
            raise TypeError("SecretBytes wraps raw bytes, not another SecretBytes")
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"SecretBytes takes bytes, not {type(value).__name__}")
        self._value = bytes(value)

    def reveal(self) -> bytes:
        """The raw bytes. Every call site is a place where key material leaves its box."""
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return f"SecretBytes(<redacted {len(self._value)} bytes>)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretBytes):
            return NotImplemented
        return hmac.compare_digest(self._value, other._value)

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, SecretBytes):
            return NotImplemented
        return not hmac.compare_digest(self._value, other._value)

    __hash__ = None  # type: ignore[assignment]  # mutable-equality semantics: never a dict key

    def __bool__(self) -> bool:
        return bool(self._value)

    def __bytes__(self) -> NoReturn:
        raise TypeError("SecretBytes does not convert to bytes implicitly; call reveal()")

    def __reduce__(self) -> NoReturn:
        raise TypeError("SecretBytes cannot be pickled")

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("SecretBytes cannot be pickled")

    def __getstate__(self) -> NoReturn:
        raise TypeError("SecretBytes cannot be pickled")

    def __copy__(self) -> SecretBytes:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> SecretBytes:
        return self
