"""Data store: inserted pseudonyms are announced on a notification channel (PostgreSQL).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

A statement-level trigger on ``record_identifiers`` sends each inserted pseudonym (hex) on the
``pseudovault_identifiers`` channel when the inserting transaction commits, so that a process's
check miss filter (vault.checks.missfilter) follows bans written by every other process. The
payload is the keyed pseudonym the table holds, never an identifier. SQLite has no
notifications and no filter: nothing changes there.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION pseudovault_announce_identifiers() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('pseudovault_identifiers', encode(pseudonym, 'hex')) FROM inserted;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER record_identifiers_announce
        AFTER INSERT ON record_identifiers
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION pseudovault_announce_identifiers()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS record_identifiers_announce ON record_identifiers")
    op.execute("DROP FUNCTION IF EXISTS pseudovault_announce_identifiers()")
