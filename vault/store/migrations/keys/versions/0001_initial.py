"""Key store: wrapping keys per epoch, wrapped subject data keys, and the shred ledger.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

``wrapping_keys.wrapped`` is the epoch's wrapping key wrapped by the root KEK version
``kek_id``; it is NULL exactly when the epoch is destroyed. ``subject_keys.wrapped`` is a data key
wrapped (RFC 5649) under the wrapping key of ``subject_keys.epoch``.

On PostgreSQL both ``wrapped`` columns get a statistics target of 0: ``ANALYZE`` would otherwise
copy sample values into ``pg_statistic`` (histogram bounds), where a shredded subject's wrapped
data key would outlive its row until the next ``ANALYZE``. No query filters on them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wrapping_keys",
        sa.Column("epoch", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kek_id", sa.String(length=255), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('enabled', 'destroyed')", name=op.f("ck_wrapping_keys_status")),
        sa.CheckConstraint(
            "(status = 'enabled' AND wrapped IS NOT NULL AND destroyed_at IS NULL)"
            " OR (status = 'destroyed' AND wrapped IS NULL AND destroyed_at IS NOT NULL)",
            name=op.f("ck_wrapping_keys_wrapped_iff_enabled"),
        ),
        sa.PrimaryKeyConstraint("epoch", name=op.f("pk_wrapping_keys")),
    )
    op.create_table(
        "subject_keys",
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["epoch"], ["wrapping_keys.epoch"], name=op.f("fk_subject_keys_epoch_wrapping_keys")),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_subject_keys")),
    )
    op.create_index(op.f("ix_subject_keys_epoch"), "subject_keys", ["epoch"], unique=False)
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE wrapping_keys ALTER COLUMN wrapped SET STATISTICS 0")
        op.execute("ALTER TABLE subject_keys ALTER COLUMN wrapped SET STATISTICS 0")
    op.create_table(
        "shred_ledger",
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_shred_ledger")),
    )


def downgrade() -> None:
    op.drop_table("shred_ledger")
    op.drop_index(op.f("ix_subject_keys_epoch"), table_name="subject_keys")
    op.drop_table("subject_keys")
    op.drop_table("wrapping_keys")
