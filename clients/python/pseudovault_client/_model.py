"""The base of every model in :mod:`pseudovault_client.models`: a pydantic model whose repr never
shows personal data or a token.

The values of fields that may hold what a person typed or a secret (:data:`REDACTED_FIELDS`: an
identifier's ``value``, a subject's ``fields``, a record's ``reason``, ``evidence`` and ``notes``,
separated ``values``, a ``token``...) are shown as ``'***'``; ids, codes, counts and times are
shown as they are. Unknown fields a newer vault sends are kept (``extra="allow"``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Model", "REDACTED_FIELDS"]

#: field names whose values are never shown in a repr
REDACTED_FIELDS = frozenset(
    {"value", "values", "fields", "reason", "evidence", "notes", "text", "token", "document", "purpose", "receipt"}
)


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name in REDACTED_FIELDS and value is not None:
                yield name, "***"
            elif name is not None and (self.model_extra or {}).get(name) is not None:
                yield name, "***"  # a field this client does not know: it cannot tell what it holds
            else:
                yield name, value
