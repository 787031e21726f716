"""Data store: inserted pseudonyms are appended to a feed that check miss filters follow (SQLite).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04

SQLite has no notifications, so a trigger on ``record_identifiers`` appends the rowid of each
inserted row to ``identifier_feed`` inside the inserting transaction, under an ``AUTOINCREMENT``
sequence number; a follower reads the pseudonyms through the rowids. The feed holds row numbers
only: a deleted ban leaves no pseudonym behind in it (a rowid SQLite hands out again points to a
newer row, whose pseudonym a filter may hold anyway). SQLite has one writer at a time and never
reuses an ``AUTOINCREMENT`` number, so the numbers a reader sees grow in commit order: a process's
check miss filter
(vault.checks.missfilter) that has read every entry up to ``n`` and then reads ``seq > n`` in a
later snapshot misses nothing committed before that snapshot. (The rowid of
``record_identifiers`` itself would not do: SQLite may hand out a deleted highest rowid again.)

The feed keeps the newest 100,000 entries at most: on every 10,000th entry a second trigger
deletes the older ones and records the highest deleted number in ``identifier_feed_state``; a
filter that finds it has fallen behind that number rebuilds from ``record_identifiers``.
PostgreSQL has its notifications (revision 0014): nothing changes there.

A later migration that rebuilds ``record_identifiers`` on SQLite (``batch_alter_table`` copies
the table, with new rowids) drops its triggers: it must create ``record_identifiers_feed`` again
and prune the whole feed (``pruned_through`` set to the highest number), so that every filter
rebuilds.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the feed keeps at most this many entries (plus up to PRUNE_EVERY more)
KEEP = 100_000
PRUNE_EVERY = 10_000


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE TABLE identifier_feed (seq INTEGER PRIMARY KEY AUTOINCREMENT, identifier INTEGER NOT NULL)"
    )
    op.execute(
        "CREATE TABLE identifier_feed_state ("
        "id INTEGER PRIMARY KEY CHECK (id = 1), pruned_through INTEGER NOT NULL)"
    )
    op.execute("INSERT INTO identifier_feed_state (id, pruned_through) VALUES (1, 0)")
    op.execute(
        """
        CREATE TRIGGER record_identifiers_feed AFTER INSERT ON record_identifiers
        BEGIN
            INSERT INTO identifier_feed (identifier) VALUES (NEW.rowid);
        END
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER identifier_feed_prune AFTER INSERT ON identifier_feed
        WHEN NEW.seq % {PRUNE_EVERY} = 0 AND NEW.seq > {KEEP}
        BEGIN
            UPDATE identifier_feed_state SET pruned_through = NEW.seq - {KEEP} WHERE id = 1;
            DELETE FROM identifier_feed WHERE seq <= NEW.seq - {KEEP};
        END
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS identifier_feed_prune")
    op.execute("DROP TRIGGER IF EXISTS record_identifiers_feed")
    op.execute("DROP TABLE IF EXISTS identifier_feed_state")
    op.execute("DROP TABLE IF EXISTS identifier_feed")
