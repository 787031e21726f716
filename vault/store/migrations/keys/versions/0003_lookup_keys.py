"""Key store: versioned lookup keys (pseudonyms) and the data keys of records without a subject.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-04

``lookup_keys`` holds one row per lookup-key version: the 256-bit lookup key as the provider's
root KEK version ``kek_id`` wrapped it. Per-kind HMAC keys are derived from it (keys.pseudonym).
``status`` is enabled, disabled (kept, not used for lookups) or destroyed (``wrapped`` NULL for
good); exactly one enabled version is primary (new pseudonyms are derived under it).

``record_keys`` holds the data key of a fraud record that has no subject, wrapped (RFC 5649)
under the wrapping key of ``epoch``, exactly like ``subject_keys``; it is a separate table so a
record's key can never be taken for a subject's.

On PostgreSQL the ``wrapped`` columns get a statistics target of 0 (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lookup_keys",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kek_id", sa.String(length=255), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('enabled', 'disabled', 'destroyed')", name=op.f("ck_lookup_keys_status")),
        sa.CheckConstraint(
            "(status IN ('enabled', 'disabled') AND wrapped IS NOT NULL AND destroyed_at IS NULL)"
            " OR (status = 'destroyed' AND wrapped IS NULL AND destroyed_at IS NOT NULL)",
            name=op.f("ck_lookup_keys_wrapped_iff_not_destroyed"),
        ),
        sa.CheckConstraint("status = 'enabled' OR NOT is_primary", name=op.f("ck_lookup_keys_primary_is_enabled")),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_lookup_keys")),
    )
    op.create_table(
        "record_keys",
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["epoch"], ["wrapping_keys.epoch"], name=op.f("fk_record_keys_epoch_wrapping_keys")),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_record_keys")),
    )
    op.create_index(op.f("ix_record_keys_epoch"), "record_keys", ["epoch"], unique=False)
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE lookup_keys ALTER COLUMN wrapped SET STATISTICS 0")
        op.execute("ALTER TABLE record_keys ALTER COLUMN wrapped SET STATISTICS 0")


def downgrade() -> None:
    op.drop_index(op.f("ix_record_keys_epoch"), table_name="record_keys")
    op.drop_table("record_keys")
    op.drop_table("lookup_keys")
