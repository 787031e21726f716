"""Data store: the audit head is signed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

``audit_head`` gains the Ed25519 signature of the head (last seq and hash, anchor seq and hash,
when, by which key: vault.audit.chain.head_message), renewed with every append and every prune, so
that cutting or rewriting the newest entries, or moving the anchor, no longer verifies. A head
written before this revision has no signature until the next append signs it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("head_signature", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("head_key_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("head_signed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("head_signed_at")
        batch.drop_column("head_key_id")
        batch.drop_column("head_signature")
