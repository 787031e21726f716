"""pseudovault-client: the Python client of the pseudovault HTTP API.

    from pseudovault_client import Client

    with Client("http://127.0.0.1:8000", token="pvk_...") as vault:
        decision = vault.checks.check({"email": "new.user@example.com"})
        if decision.decision == "deny":
            ...

:class:`Client` is synchronous, :class:`AsyncClient` asynchronous; both cover every operation of
the API, read answers into :mod:`pseudovault_client.models`, raise
:mod:`pseudovault_client.errors` for problem answers, and retry what can be retried safely
(:class:`RetryPolicy`). Erasure receipts are kept as their exact bytes (:class:`Receipt`) and
verified offline with :func:`verify_receipt`.
"""

from __future__ import annotations

from pseudovault_client import errors, models
from pseudovault_client._async_client import AsyncClient
from pseudovault_client._base import Call, RetryPolicy
from pseudovault_client._sync_client import Client
from pseudovault_client.receipts import Receipt, ReceiptCheck, verify_receipt

__all__ = [
    "Client",
    "AsyncClient",
    "RetryPolicy",
    "Call",
    "Receipt",
    "ReceiptCheck",
    "verify_receipt",
    "errors",
    "models",
]

__version__ = "0.1.0"
