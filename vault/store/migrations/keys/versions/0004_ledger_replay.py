"""Key store: how far the shred ledger kept outside the stores has been replayed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

``ledger_replay`` holds one row per ledger source (``external``): the ledger position up to which
every shred it lists has been applied to this key store. A key store restored from a backup
carries its old position, so the next open replays the shreds made since (vault.crypto.ledger).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_replay",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_ledger_replay")),
    )


def downgrade() -> None:
    op.drop_table("ledger_replay")
