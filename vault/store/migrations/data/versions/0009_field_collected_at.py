"""Data store: when each subject field's value was collected.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

``subject_fields.collected_at`` is the time the field's current value was stored (created or
last set). Categories whose data is kept per entry (an access log: each IP address for three
months from its own collection, vault.retention) run their periods from it. Values stored
before this revision have none: their period runs from the subject's collection.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subject_fields") as batch:
        batch.add_column(sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subject_fields") as batch:
        batch.drop_column("collected_at")
