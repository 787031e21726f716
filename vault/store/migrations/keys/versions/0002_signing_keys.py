"""Key store: Ed25519 signing keys (audit checkpoints, erasure receipts), seeds wrapped by the root KEK.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("kek_id", sa.String(length=255), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('enabled', 'retired', 'destroyed')", name=op.f("ck_signing_keys_status")),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_signing_keys")),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE signing_keys ALTER COLUMN wrapped SET STATISTICS 0")


def downgrade() -> None:
    op.drop_table("signing_keys")
