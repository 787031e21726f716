"""Data store: fraud records, their encrypted text fields, and their identifiers' pseudonyms.

Revision ID: 0004
Revises: 0003
Create Date: 2026-01-04

``records`` holds one anti-abuse record (category, reason code, severity, status, timestamps, an
optional link to a subject that is set to NULL when the subject goes). ``record_fields`` holds its
free text (reason, evidence, notes) as ``nonce || AES-256-GCM || tag`` under the linked subject's
data key or the record's own (key store ``record_keys``). ``record_identifiers`` holds, per
identifier of a record (``slot``) and lookup-key version, the 32-byte HMAC pseudonym, and, for a
look-alike (UTS #39 skeleton), a second row with ``lookalike`` true. Checks look rows up by
``pseudonym`` (indexed).

On PostgreSQL ``record_fields.ciphertext`` gets a statistics target of 0 (see 0001).
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
        "records",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("domain", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason_code", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_ref", sa.String(length=128), nullable=True),
        sa.Column("subject_id", sa.String(length=36), nullable=True),
        sa.Column("own_key", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('active', 'under_review', 'revoked', 'expired')", name=op.f("ck_records_status")),
        sa.CheckConstraint("severity IN ('low', 'medium', 'high', 'critical')", name=op.f("ck_records_severity")),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_records_subject_id_subjects"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_records_external_ref")),
    )
    op.create_index("ix_records_created_at", "records", ["created_at", "id"], unique=False)
    op.create_index(op.f("ix_records_expires_at"), "records", ["expires_at"], unique=False)
    op.create_index(op.f("ix_records_subject_id"), "records", ["subject_id"], unique=False)
    op.create_table(
        "record_fields",
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
            name=op.f("fk_record_fields_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "name", name=op.f("pk_record_fields")),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE record_fields ALTER COLUMN ciphertext SET STATISTICS 0")
    op.create_table(
        "record_identifiers",
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("lookup_version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("lookalike", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=80), nullable=False),
        sa.Column("norm_version", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
            name=op.f("fk_record_identifiers_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "slot", "lookup_version", "lookalike", name=op.f("pk_record_identifiers")),
    )
    op.create_index(op.f("ix_record_identifiers_pseudonym"), "record_identifiers", ["pseudonym"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_record_identifiers_pseudonym"), table_name="record_identifiers")
    op.drop_table("record_identifiers")
    op.drop_table("record_fields")
    op.drop_index(op.f("ix_records_subject_id"), table_name="records")
    op.drop_index(op.f("ix_records_expires_at"), table_name="records")
    op.drop_index("ix_records_created_at", table_name="records")
    op.drop_table("records")
