"""Data store: consent records, consent-withdrawal requests and who made each rights request.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

``consents`` keeps each consent a subject gave to one purpose (a code), under which version of
the consent text, when, and when it was withdrawn: codes and times, no text and no PII.
``rights_requests`` takes a fifth kind, ``consent_withdrawal`` (its column widens to 32), and
``requester``: the subject itself, a legal guardian (of a child under 14) or an agent; requests
stored before this revision were the subject's own.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KINDS = "kind IN ('access', 'correction', 'restriction', 'erasure')"
_NEW_KINDS = "kind IN ('access', 'correction', 'restriction', 'erasure', 'consent_withdrawal')"


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("text_version", sa.String(length=64), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index("ix_consents_subject_purpose", "consents", ["subject_id", "purpose"], unique=False)
    with op.batch_alter_table("rights_requests") as batch:
        batch.drop_constraint(op.f("ck_rights_requests_kind"), type_="check")
        batch.alter_column("kind", existing_type=sa.String(length=16), type_=sa.String(length=32), existing_nullable=False)
        batch.add_column(sa.Column("requester", sa.String(length=16), server_default="self", nullable=False))
        batch.create_check_constraint(op.f("ck_rights_requests_kind"), _NEW_KINDS)
        batch.create_check_constraint(op.f("ck_rights_requests_requester"), "requester IN ('self', 'guardian', 'agent')")


def downgrade() -> None:
    with op.batch_alter_table("rights_requests") as batch:
        batch.drop_constraint(op.f("ck_rights_requests_requester"), type_="check")
        batch.drop_constraint(op.f("ck_rights_requests_kind"), type_="check")
        batch.drop_column("requester")
        batch.alter_column("kind", existing_type=sa.String(length=32), type_=sa.String(length=16), existing_nullable=False)
        batch.create_check_constraint(op.f("ck_rights_requests_kind"), _OLD_KINDS)
    op.drop_index("ix_consents_subject_purpose", table_name="consents")
    op.drop_table("consents")
