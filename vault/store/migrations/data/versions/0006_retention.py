"""Data store: retention, separate storage, legal holds, erasure receipts and data-subject rights.

Revision ID: 0006
Revises: 0004
Create Date: 2026-01-06

``subject_categories`` gives a subject's fields their data categories (``field`` = ``*`` for every
field); ``retention_events`` the times of trigger events; ``retention_items`` the stored due date
and action of each subject category, record and separated item (the sweeper's work queue,
``SELECT ... FOR UPDATE SKIP LOCKED`` on ``(state, due_at, id)``); ``separated_items`` and
``separated_fields`` the separate storage (ciphertext under each item's own data key);
``processing_restrictions`` what checks and exports skip; ``legal_holds``; ``erasure_receipts``
the signed receipts; ``rights_requests`` and ``provisions`` the data-subject requests with their
deadlines and the log of provisions to third parties; ``retention_policy_state`` the fingerprint
of the policies the due dates were computed under.

On PostgreSQL ``separated_fields.ciphertext`` gets a statistics target of 0 (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subject_categories",
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_subject_categories_subject_id_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subject_id", "category", "field", name=op.f("pk_subject_categories")),
    )
    op.create_table(
        "retention_events",
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("target_kind IN ('subject', 'record')", name=op.f("ck_retention_events_target_kind")),
        sa.PrimaryKeyConstraint("target_kind", "target_id", "event", name=op.f("pk_retention_events")),
    )
    op.create_table(
        "retention_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("stage", sa.String(length=24), nullable=False),
        sa.Column("trigger_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('subject_category', 'record', 'separated')", name=op.f("ck_retention_items_kind")),
        sa.CheckConstraint(
            "state IN ('pending', 'claimed', 'review', 'done')", name=op.f("ck_retention_items_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_items")),
        sa.UniqueConstraint("kind", "target_id", "category", name=op.f("uq_retention_items_kind")),
    )
    op.create_index("ix_retention_items_state_due", "retention_items", ["state", "due_at", "id"], unique=False)
    op.create_index("ix_retention_items_target", "retention_items", ["target_id"], unique=False)
    op.create_table(
        "separated_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("origin_kind", sa.String(length=16), nullable=False),
        sa.Column("origin_id", sa.String(length=36), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_separated_items")),
    )
    op.create_index(op.f("ix_separated_items_origin_id"), "separated_items", ["origin_id"], unique=False)
    op.create_table(
        "separated_fields",
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["separated_items.id"],
            name=op.f("fk_separated_fields_item_id_separated_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", "name", name=op.f("pk_separated_fields")),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE separated_fields ALTER COLUMN ciphertext SET STATISTICS 0")
    op.create_table(
        "processing_restrictions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "target_kind IN ('subject', 'record')", name=op.f("ck_processing_restrictions_target_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processing_restrictions")),
    )
    op.create_index(
        "ix_processing_restrictions_target", "processing_restrictions", ["target_kind", "target_id"], unique=False
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("placed_by", sa.String(length=64), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.Column("release_reason_code", sa.String(length=40), nullable=True),
        sa.CheckConstraint("target_kind IN ('subject', 'record')", name=op.f("ck_legal_holds_target_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index("ix_legal_holds_target", "legal_holds", ["target_kind", "target_id"], unique=False)
    op.create_table(
        "erasure_receipts",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_erasure_receipts")),
        sa.UniqueConstraint("subject_id", name=op.f("uq_erasure_receipts_subject_id")),
    )
    op.create_table(
        "rights_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "kind IN ('access', 'correction', 'restriction', 'erasure')", name=op.f("ck_rights_requests_kind")
        ),
        sa.CheckConstraint("state IN ('open', 'completed', 'rejected')", name=op.f("ck_rights_requests_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_requests")),
    )
    op.create_index("ix_rights_requests_state_due", "rights_requests", ["state", "due_at"], unique=False)
    op.create_index(op.f("ix_rights_requests_subject_id"), "rights_requests", ["subject_id"], unique=False)
    op.create_table(
        "provisions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=500), nullable=False),
        sa.Column("legal_basis", sa.String(length=500), nullable=False),
        sa.Column("retention", sa.String(length=200), nullable=False),
        sa.Column("provided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisions")),
    )
    op.create_index(op.f("ix_provisions_subject_id"), "provisions", ["subject_id"], unique=False)
    op.create_table(
        "retention_policy_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policies", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_policy_state")),
    )


def downgrade() -> None:
    op.drop_table("retention_policy_state")
    op.drop_index(op.f("ix_provisions_subject_id"), table_name="provisions")
    op.drop_table("provisions")
    op.drop_index(op.f("ix_rights_requests_subject_id"), table_name="rights_requests")
    op.drop_index("ix_rights_requests_state_due", table_name="rights_requests")
    op.drop_table("rights_requests")
    op.drop_table("erasure_receipts")
    op.drop_index("ix_legal_holds_target", table_name="legal_holds")
    op.drop_table("legal_holds")
    op.drop_index("ix_processing_restrictions_target", table_name="processing_restrictions")
    op.drop_table("processing_restrictions")
    op.drop_table("separated_fields")
    op.drop_index(op.f("ix_separated_items_origin_id"), table_name="separated_items")
    op.drop_table("separated_items")
    op.drop_index("ix_retention_items_target", table_name="retention_items")
    op.drop_index("ix_retention_items_state_due", table_name="retention_items")
    op.drop_table("retention_items")
    op.drop_table("retention_events")
    op.drop_table("subject_categories")
