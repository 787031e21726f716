"""The one error identifier normalization raises for bad input.

``InvalidIdentifierError`` is an ``InvalidInputError`` (so the API answers it 4xx like any other
malformed input) whose ``field`` is ``identifier.<kind>`` and whose ``reason`` names the kind and
says why, in words that never include the value or any part of it. ``reason_code`` is a short,
stable token for logs and metrics (``too_long``, ``raw_card_number``, ...); ``index`` is set by
``Normalizer.normalize_many`` to the position of the offending item.

Errors raised while parsing (by email-validator, phonenumbers, ipaddress) are never chained: their
messages quote the input, so they are replaced, not wrapped (``raise ... from None``).
"""

from __future__ import annotations

from typing import Any

from pseudovault.vault.errors import InvalidInputError

__all__ = ["InvalidIdentifierError"]


class InvalidIdentifierError(InvalidInputError):
    """An identifier (or its kind) is not acceptable; no part of the value is echoed."""

    def __init__(self, kind: str, reason_code: str, reason: str, *, index: int | None = None) -> None:
        self._plain_reason = reason
        if index is not None:
            reason = f"item {index}: {reason}"
        super().__init__(f"identifier.{kind}", reason)
        self.kind = kind
        self.reason_code = reason_code
        self.index = index

    def with_index(self, index: int) -> InvalidIdentifierError:
        """The same error, located at position ``index`` of a batch."""
        return InvalidIdentifierError(self.kind, self.reason_code, self._plain_reason, index=index)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.kind, self.reason_code, self._plain_reason, self.index))


def _rebuild(kind: str, reason_code: str, reason: str, index: int | None) -> InvalidIdentifierError:
    return InvalidIdentifierError(kind, reason_code, reason, index=index)
