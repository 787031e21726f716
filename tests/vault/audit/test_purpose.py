"""A stated purpose is kept in the audit log in the clear: anything that looks like an identifier is
refused, and the refusal does not quote it."""

from __future__ import annotations

import pytest
from canary import CANARY_PII

from pseudovault.vault.audit import validate_purpose
from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.vault import Vault

ALLOWED = [
    "support",
    "support ticket 1234",
    "case 2026-0042",
    "FR-2026-0042 review",
    "legal request 2026/17",
    "court order of 2026-01-31",
    "review at 10:30",
    "v1.2.3 release check",
]
REFUSED = [
    ("mail someone@example.com", "e-mail address"),
    (CANARY_PII, "e-mail address"),
    ("call 010-1234-5678", "digits"),
    ("call +82 10 1234 5678", "digits"),
    ("landline 02-123-4567", "digits"),
    ("rrn 900101-1234567", "digits"),
    ("card 4111 1111 1111 1111", "digits"),
    ("abuse from 192.168.0.1", "IP address"),
    ("abuse from (2001:db8::1)", "IP address"),
    ("abuse from ::ffff:10.0.0.1", "IP address"),
]


@pytest.mark.parametrize("purpose", ALLOWED)
def test_purposes_without_identifiers_are_kept_as_given(purpose: str) -> None:
    assert validate_purpose(f"  {purpose} ") == purpose


@pytest.mark.parametrize(("purpose", "what"), REFUSED)
def test_a_purpose_that_holds_an_identifier_is_refused_without_quoting_it(purpose: str, what: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_purpose(purpose)
    assert caught.value.field == "purpose" and what in caught.value.reason
    assert purpose not in str(caught.value)


def test_a_reveal_with_an_identifier_in_its_purpose_is_refused_and_not_audited(vault: Vault) -> None:
    subject_id = vault.subjects.create({"email": "x@example.com"})
    before = vault.audit.count()
    with pytest.raises(InvalidInputError):
        vault.subjects.read(subject_id, purpose=f"asked by {CANARY_PII}")
    assert vault.audit.count() == before
