"""Data store: notification tasks for the recipients of corrected or erased data.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

``notifications`` holds, for each third party a subject's data was provided to, the task of
telling it of the data's correction or erasure: pending, notified (when, by which means) or
failed. Ids, codes and the recipient's name only; kept after the subject's erasure.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("means", sa.String(length=40), nullable=True),
        sa.CheckConstraint("cause IN ('correction', 'erasure')", name=op.f("ck_notifications_cause")),
        sa.CheckConstraint("state IN ('pending', 'notified', 'failed')", name=op.f("ck_notifications_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_state_created", "notifications", ["state", "created_at"], unique=False)
    op.create_index(op.f("ix_notifications_subject_id"), "notifications", ["subject_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notifications_subject_id"), table_name="notifications")
    op.drop_index("ix_notifications_state_created", table_name="notifications")
    op.drop_table("notifications")
