"""Data store: subjects, their encrypted fields, and tombstones of shredded subjects.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

Timestamps are ``timestamp with time zone`` (UTC wall time on SQLite, see
vault.store.base.UtcDateTime). ``subject_fields.ciphertext`` is ``nonce || AES-256-GCM || tag``.

On PostgreSQL ``subject_fields.ciphertext`` gets a statistics target of 0: ``ANALYZE`` would
otherwise copy sample values into ``pg_statistic`` (histogram bounds), where a shredded
subject's ciphertext would outlive its row until the next ``ANALYZE``. No query filters on it.
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
        "subjects",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subjects")),
    )
    op.create_table(
        "subject_fields",
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_subject_fields_subject_id_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subject_id", "name", name=op.f("pk_subject_fields")),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE subject_fields ALTER COLUMN ciphertext SET STATISTICS 0")
    op.create_table(
        "tombstones",
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_tombstones")),
    )


def downgrade() -> None:
    op.drop_table("tombstones")
    op.drop_table("subject_fields")
    op.drop_table("subjects")
