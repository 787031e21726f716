"""Domain errors of the vault.

Each class is one kind of answer a caller can act on; the CLI maps them to one-line messages and
exit codes, the HTTP API to status codes and problem details, each in one place. Messages carry
ids, field names, kinds and reason codes, never a value a caller sent (it may be PII).
"""

from __future__ import annotations

__all__ = [
    "VaultError",
    "NotFoundError",
    "InvalidInputError",
    "ConflictError",
    "NotInitialisedError",
    "UnavailableError",
]


class VaultError(Exception):
    """Base class of every error the vault raises on purpose."""

    #: a stable machine-readable code, used as the problem type suffix and in logs
    code = "vault_error"


class NotFoundError(VaultError):
    """The thing does not exist, or no longer exists: the two are never told apart."""

    code = "not_found"

    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what} {ident} not found")
        self.what = what
        self.ident = ident


class InvalidInputError(VaultError, ValueError):
    """The input is malformed. ``field`` names where, ``reason`` says why; no value is echoed."""

    code = "invalid_input"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ConflictError(VaultError):
    """The request is valid but cannot be carried out in the current state."""

    code = "conflict"


class NotInitialisedError(VaultError):
    """No vault exists where the configuration points."""

    code = "not_initialised"


class UnavailableError(VaultError):
    """A store or the key provider cannot be reached or opened."""

    code = "unavailable"
