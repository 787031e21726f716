"""Data store: API keys may expire.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

``api_keys.expires_at``: when the key stops authenticating (null: it does not expire). An expired
key is refused like a revoked one; its row stays, for the audit trail and ``apikeys list``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("expires_at")
