"""Consent records: which purposes a subject consented to, under which version of the consent
text, when, and when the consent was withdrawn.

Keeping a member's data after withdrawal (the ``member_data`` preset), marketing, or a provision
to a third party may rest on consent (Personal Information Protection Act Art. 15(1)(i), 17,
22); the controller must be able to show that it was given, to which text, and that processing
stopped when it was withdrawn (Art. 37(1), (3)). ``consents`` holds codes and times only: the
purpose is a code (``keep_after_withdrawal``, ``marketing``), the text is named by its version
(``privacy-2026-03``), never stored. A consent given again after its withdrawal is a new row, so
the history stays.

The functions here work in the caller's session; :class:`vault.retention.rights.RightsService`
audits them and closes the subject's open ``consent_withdrawal`` request when a consent is
withdrawn. The rows are pseudonymous (a subject id) and stay after the subject's erasure: they
are the evidence that processing had a basis.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pseudovault.vault.errors import ConflictError, InvalidInputError
from pseudovault.vault.ids import validate_code
from pseudovault.vault.store.data_models import Consent
from pseudovault.vault.views import View

__all__ = ["ConsentView", "active_consent", "consent", "consents_of", "grant", "validate_text_version", "withdraw"]

_TEXT_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}")


@dataclass(frozen=True)
class ConsentView(View):
    consent_id: str
    subject_id: str
    purpose: str
    text_version: str
    granted_at: datetime
    withdrawn_at: datetime | None

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None

    def extra(self) -> dict[str, object]:
        return {"active": self.active}


def validate_text_version(value: object) -> str:
    """A consent text's version: a short label such as ``privacy-2026-03`` (never the text)."""
    if not isinstance(value, str) or not _TEXT_VERSION.fullmatch(value):
        raise InvalidInputError("text_version", "must be a version label of 1 to 64 of A-Z a-z 0-9 . _ : -")
    return value


def _view(row: Consent) -> ConsentView:
    return ConsentView(row.id, row.subject_id, row.purpose, row.text_version, row.granted_at, row.withdrawn_at)


def active_consent(session: Session, subject_id: str, purpose: str) -> Consent | None:
    """The subject's consent to ``purpose`` in force (not withdrawn), if any."""
    return session.scalar(
        select(Consent).where(Consent.subject_id == subject_id, Consent.purpose == purpose,
                              Consent.withdrawn_at.is_(None)).order_by(Consent.granted_at.desc()).limit(1)
    )


def grant(session: Session, subject_id: str, purpose: str, text_version: str, at: datetime) -> ConsentView:
    """Record a consent; ConflictError when one to the same purpose is in force (withdraw it first,
    or it is the same consent)."""
    purpose = validate_code(purpose, "purpose")
    text_version = validate_text_version(text_version)
    if active_consent(session, subject_id, purpose) is not None:
        raise ConflictError(f"subject {subject_id} has a consent to {purpose} in force already")
    row = Consent(id=str(uuid.uuid4()), subject_id=subject_id, purpose=purpose, text_version=text_version,
                  granted_at=at, withdrawn_at=None)
    session.add(row)
    session.flush()
    return _view(row)


def withdraw(session: Session, subject_id: str, purpose: str, at: datetime) -> ConsentView | None:
    """Withdraw the subject's consent to ``purpose``; None when none was in force."""
    purpose = validate_code(purpose, "purpose")
    row = active_consent(session, subject_id, purpose)
    if row is None:
        return None
    if at < row.granted_at:
        raise InvalidInputError("at", "must not be before the consent was given")
    row.withdrawn_at = at
    session.flush()
    return _view(row)


def consent(session: Session, consent_id: str) -> ConsentView | None:
    row = session.get(Consent, consent_id)
    return _view(row) if row is not None else None


def consents_of(session: Session, subject_id: str) -> list[ConsentView]:
    """Every consent of the subject, in force or withdrawn, oldest first."""
    rows = session.scalars(
        select(Consent).where(Consent.subject_id == subject_id).order_by(Consent.granted_at, Consent.purpose, Consent.id)
    )
    return [_view(r) for r in rows]
