"""Data store: API keys may be rotated, the previous token valid for a grace period.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

``api_keys.previous_secret_hash`` is the SHA-256 of the token a rotation replaced, accepted until
``previous_valid_until``; ``rotated_at`` is when the key was last rotated. A rotation keeps the
key's id, name and scopes: the audit trail goes on under the same id.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("previous_secret_hash", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("rotated_at")
        batch.drop_column("previous_valid_until")
        batch.drop_column("previous_secret_hash")
