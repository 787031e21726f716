"""A hash-chained, append-only audit log of privileged actions.

Why one module of this size: a fifth of it is the byte layouts of the chain and checkpoints;
appending, verifying and pruning must agree on them, so they are written and read in one place
(the encodings themselves are in vault.audit.chain).

Each entry records who (actor kind and id: an API key id, ``cli``, ``system``), did what (an
action name such as ``subject.shred``), to which targets (ids only), for which stated purpose,
with which outcome, when and from which client address. Never PII, never identifiers, never
key material: entries carry ids, codes and counts.

Chain
    ``entry_hash = SHA-256(b"pseudovault/audit/v1" 0x00 || prev_hash || canonical(entry))`` where
    ``canonical`` is the entry's fields (``seq`` included) as JSON with sorted keys and no
    whitespace, and ``prev_hash`` is the previous entry's hash (the anchor's for the first).
    Sequence numbers are gap-free; the ``audit_head`` row holds the last seq and hash and is locked
    by every append, so concurrent writers on PostgreSQL serialise, and on SQLite the write
    transaction does the same.

Checkpoints
    An attacker who can rewrite the table and the head can recompute the whole chain; signed
    checkpoints are what detect that. A checkpoint is an Ed25519 signature (the ``audit`` signing
    key of the key hierarchy, vault.crypto.signing) over::

        b"pseudovault/audit-checkpoint/v1" 0x00 || canonical({"seq", "entry_hash", "signed_at",
                                                              "key_id", "prev_seq"})

    where ``entry_hash`` is the chain's hash at ``seq`` and ``prev_seq`` is the sequence number of
    the checkpoint before it (0 for the first), so removing a checkpoint breaks the signature of
    the next one. :meth:`AuditLog.append` adds one in the same unit of work whenever
    ``checkpoint_every`` entries have been appended since the last (a failure to sign is logged
    and retried by the next append, never fails the action); :meth:`AuditLog.checkpoint` adds one
    on demand (recording an ``audit.checkpoint`` entry and signing the head that includes it).

Signed head
    Every append (and every prune, and :meth:`AuditLog.sign_head`, which the server's key
    maintenance calls hourly) signs the head in the same unit of work, with the same key::

        b"pseudovault/audit-head/v1" 0x00 || canonical({"last_seq", "last_hash", "anchor_seq",
                                                       "anchor_hash", "signed_at", "key_id"})

    so the newest entries cannot be cut or rewritten, nor the anchor moved (a faked prune), by
    whoever can write to the data store but cannot use the root key. And how far the log reached
    is kept outside the data store (the vault keeps it in the key store: ``AuditMark``), raised at
    every checkpoint and signed head after its commit: a log rolled back to an earlier state, its
    own signed head and checkpoints included, or emptied, ends before that mark.

Checkpoint file
    Each checkpoint's signed head (and each signed by :meth:`AuditLog.sign_head`,
    :meth:`AuditLog.checkpoint` and a prune) is also appended, after its commit, to a file outside
    both stores (vault.audit.external), together with raising the mark.

Verification (:meth:`AuditLog.verify`) walks the chain from the anchor: an edited entry fails its
hash, a removed one leaves a gap, a reordered or inserted one breaks the link to its predecessor,
and removing the newest entries disagrees with the head. With a signer it also checks every
checkpoint from the anchor on: its signature (with the public key derived from the unwrapped seed,
never a stored one), that the chain still has its hash at its seq (a recomputed chain does not),
that no checkpoint names a seq past the end of the chain (a truncated tail), that the anchor
itself is a checkpoint, that no more than ``checkpoint_every`` entries follow the last checkpoint,
that the log reaches the mark kept outside the data store, that the head's signature covers the
head as it stands, and (with ``head_max_age``) that it was signed recently enough. Against the
checkpoint file it checks each line's signature, that the chain has each line's hash at its seq,
that the log reaches the newest line and that the anchor is not behind any line's. The report
names the first broken sequence number.

A restore of the data store takes the log back, and verification fails on it like on any
rollback. :meth:`AuditLog.acknowledge_restore` records one, over a chain that verifies by itself
only: an ``audit.acknowledge_restore`` entry, a restore line signed with the same key in the
checkpoint file (vault.audit.external) and the mark set to that entry. Verification then holds the
chain to the last such line and the lines after it; earlier lines keep their signatures checked.

What stays undetectable, and why: an attacker who can write to both stores and the checkpoint
file can roll all three back together (they are kept apart so that one compromise is not all);
a rollback to a state newer than the last mark and line (the entries appended since the last
checkpoint or signed head that published them, at most ``checkpoint_every`` or an hour of
entries) replays a head that was validly signed, until it is older than ``head_max_age``; and a
head left unsigned because signing failed is reported as such, not told apart from a removed
signature.

Retention (:meth:`AuditLog.prune`) deletes the oldest entries, oldest first, and moves the anchor
past them. With a signer, the anchor only ever moves to a checkpoint (so an entry older than the
cutoff may stay until the next checkpoint is older than the cutoff too), each batch is one unit
of work that leaves a verifiable log, the checkpoint just before the anchor is kept (the anchor's
signature names it) and older ones are deleted with their entries. Pruning refuses to delete
entries that no longer match their checkpoint: that evidence is kept.

The actor comes from a context variable that the boundary (CLI command, API request) sets with
:func:`acting_as`, so domain services record the right actor without passing it around.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Integer,
    String,
    Update,
    and_,
    bindparam,
    delete,
    event,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pseudovault.vault.audit.actors import Actor, current_actor
from pseudovault.vault.audit.chain import (
    GENESIS_HASH,
    chain_hash,
    checkpoint_message,
    entry_fields,
    head_message,
    restore_message,
    row_fields,
)
from pseudovault.vault.audit.external import CheckpointFile, Line, RestoreLine, SignedHead, since_last_restore
from pseudovault.vault.audit.views import (
    AuditRecord,
    CheckpointRecord,
    RestoreRecord,
    VerifyReport,
    to_checkpoint,
    to_record,
)
from pseudovault.vault.clock import Clock
from pseudovault.vault.errors import ConflictError, InvalidInputError
from pseudovault.vault.ids import CODE
from pseudovault.vault.store.base import AUDIT_PURPOSE_LENGTH
from pseudovault.vault.store.data_models import AuditCheckpoint, AuditEntry, AuditHead
from pseudovault.vault.store.db import session_scope
from pseudovault.vault.store.driver import DriverStatement

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY",
    "MIN_RETENTION_DAYS",
    "AuditLog",
    "AuditMark",
    "CheckpointSigner",
    "validate_purpose",
]


log = logging.getLogger(__name__)


DEFAULT_CHECKPOINT_EVERY = 100

#: no entry younger than this is ever pruned: the Standards for Safety Measures of Personal
#: Information (Art. 8(1)) keep access records of the personal information processing system at
#: least 1 year (2 years for a controller of 50,000 or more subjects, or of sensitive or unique
#: identifying information; the default retention, 730 days, covers both)
MIN_RETENTION_DAYS = 365


_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


_OUTCOMES = frozenset({"ok", "denied", "not_found", "invalid", "conflict", "error"})




_CODE_VALUE = re.compile(r"^[A-Za-z0-9_.:\-]{0,64}$")


def _written_at(line: Line) -> datetime:
    return line.acknowledged_at if isinstance(line, RestoreLine) else line.signed_at


class AuditMark(Protocol):
    """How far the log has reached, kept outside the data store (the vault keeps it in the key
    store): it only grows. A log that ends before it was cut or rolled back."""

    def read(self) -> int: ...

    def raise_to(self, seq: int) -> None: ...

    def reset_to(self, seq: int) -> None:
        """Set the mark to ``seq``, lower or not: only an acknowledged restore does."""
        ...


class CheckpointSigner(Protocol):
    """Signs checkpoints and verifies them (vault.crypto.signing.PurposeSigner for the ``audit`` key)."""

    def key_id(self) -> str:
        """The id of the key that signs now (created on first need)."""
        ...

    def sign(self, key_id: str, message: bytes) -> bytes:
        """The signature of ``message`` by key ``key_id``."""
        ...

    def verify(self, key_id: str, message: bytes, signature: bytes) -> bool: ...


def _validate_detail(detail: Mapping[str, Any] | None) -> str:
    detail = dict(detail or {})
    for key, value in detail.items():
        if not isinstance(key, str) or not CODE.fullmatch(key):
            raise ValueError(f"audit detail key {key!r} is not a code")
        if isinstance(value, (bool, int)):
            continue
        if isinstance(value, str) and _CODE_VALUE.match(value):
            continue
        # Free text could be PII: details are counts, flags and codes only.
        raise ValueError(f"audit detail {key!r} must be a count, a flag or a code")
    return json.dumps(detail, sort_keys=True, separators=(",", ":"))


#: what a stated purpose may not hold: it is kept in the audit log for years, in the clear
_PURPOSE_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_PURPOSE_ADDRESS = re.compile(r"[0-9A-Fa-f.:]*[.:][0-9A-Fa-f.:]*")
_PURPOSE_NUMBER = re.compile(r"\+?\d[\d\s().-]*\d")
#: a phone number has 9 digits or more (a Korean landline 02-123-4567), as do resident
#: registration, card and account numbers; a ticket or case number rarely does
PURPOSE_MAX_DIGITS = 8


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def validate_purpose(purpose: str | None, *, required: bool = False) -> str | None:
    """A stated purpose: short, one line, printable, and free of identifiers. It is stored in the
    audit log as given, so anything that looks like personal data is refused: an e-mail address,
    an IP address, or a number of more than :data:`PURPOSE_MAX_DIGITS` digits (a phone, resident
    registration, card or account number). Name a case by its ticket id (``case 1234``)."""
    if purpose is None or purpose.strip() == "":
        if required:
            raise InvalidInputError("purpose", "a purpose is required for this action")
        return None
    purpose = purpose.strip()
    if len(purpose) > AUDIT_PURPOSE_LENGTH:
        raise InvalidInputError("purpose", f"at most {AUDIT_PURPOSE_LENGTH} characters")
    if any(not ch.isprintable() for ch in purpose):
        raise InvalidInputError("purpose", "must be one line of printable characters")
    if _PURPOSE_EMAIL.search(purpose):
        raise InvalidInputError("purpose", "must not hold personal data: it looks like it holds an e-mail address")
    if any(_is_ip_address(m.group(0)) or _is_ip_address(m.group(0).rstrip(".:")) for m in _PURPOSE_ADDRESS.finditer(purpose)):
        raise InvalidInputError("purpose", "must not hold personal data: it looks like it holds an IP address")
    if any(sum(ch.isdigit() for ch in m.group(0)) > PURPOSE_MAX_DIGITS for m in _PURPOSE_NUMBER.finditer(purpose)):
        raise InvalidInputError(
            "purpose", f"must not hold personal data: it holds a number of more than {PURPOSE_MAX_DIGITS} digits"
        )
    return purpose


@dataclass
class _HeadState:
    """The head as :meth:`AuditLog._append` reads and moves it (a row, not an ORM object)."""

    last_seq: int
    last_hash: str
    anchor_seq: int
    anchor_hash: str
    head_signature: bytes | None = None
    head_key_id: str | None = None
    head_signed_at: datetime | None = None


# an append's statements, built once (see vault.store.db.one_of_param); FOR UPDATE locks the head
# on PostgreSQL (SQLite's write lock is the unit of work's, taken at BEGIN), and the last
# checkpoint's seq read with it may be stale there (see AuditLog._append)
_HEAD_COLUMNS = (AuditHead.last_seq, AuditHead.last_hash, AuditHead.anchor_seq, AuditHead.anchor_hash)
_HEAD_ROW = DriverStatement(select(*_HEAD_COLUMNS).where(AuditHead.id == 1).with_for_update())
_HEAD_AND_CHECKPOINT = DriverStatement(
    select(*_HEAD_COLUMNS, select(func.max(AuditCheckpoint.seq)).scalar_subquery().label("last_checkpoint"))
    .where(AuditHead.id == 1)
    .with_for_update(of=AuditHead)
)
_ENTRY_COLUMNS = (
    "seq", "at", "actor_kind", "actor_id", "action", "targets", "purpose", "outcome", "client", "detail", "prev_hash",
    "entry_hash",
)
_ENTRY = insert(AuditEntry).values({name: bindparam(name) for name in _ENTRY_COLUMNS})
_INSERT_ENTRY = DriverStatement(_ENTRY)
_MOVE = update(AuditHead).where(AuditHead.id == 1).values(last_seq=bindparam("to_seq"), last_hash=bindparam("to_hash"))
_MOVE_SIGNED = _MOVE.values(
    head_signature=bindparam("signature"), head_key_id=bindparam("key_id"), head_signed_at=bindparam("signed_at")
)
# the entry inserted and the head moved: two statements on SQLite (no DML in a WITH there, and a
# statement costs microseconds), one on PostgreSQL, where each is a round trip to the server:
# ``WITH entry AS (INSERT ...) UPDATE audit_head ...`` (a data-modifying WITH runs exactly once,
# whether or not the outer statement reads it, in the same snapshot and transaction)
_MOVE_HEAD = {False: DriverStatement(_MOVE), True: DriverStatement(_MOVE_SIGNED)}
_WRITE_ENTRY_ONE = {
    False: DriverStatement(_MOVE.add_cte(_ENTRY.cte("entry"))),
    True: DriverStatement(_MOVE_SIGNED.add_cte(_ENTRY.cte("entry"))),
}


def _write_on_known_head(move: Update, *, signed: bool) -> DriverStatement:
    """On PostgreSQL, an append made on the head this process last wrote (``from_seq``,
    ``from_hash``, ``from_anchor_seq``, ``from_anchor_hash``), in one statement::

        WITH head AS (SELECT ... FROM audit_head WHERE id = 1 FOR UPDATE),
             moved AS (UPDATE audit_head SET ... FROM head WHERE head is the known one RETURNING id),
             entry AS (INSERT INTO audit_entries (...) SELECT ... FROM moved)
        SELECT head.*, [the last checkpoint's seq,] EXISTS (SELECT FROM moved) FROM head

    ``head`` takes the head's lock and reads it as it stands (after waiting for a writer that
    held it); the head moves, and the entry goes in, only when that is the known head. The row
    says which: ``moved`` true, the append is done; false, another writer moved the head first,
    and the row is the head as it stands, locked by this unit of work, from which the entry is
    made again (the columns of ``_HEAD_ROW``, or ``_HEAD_AND_CHECKPOINT`` when ``signed``)."""
    head = select(AuditHead.id, *_HEAD_COLUMNS).where(AuditHead.id == 1).with_for_update().cte("head")
    known = and_(
        AuditHead.id == head.c.id,
        head.c.last_seq == bindparam("from_seq", type_=Integer),
        head.c.last_hash == bindparam("from_hash", type_=String),
        head.c.anchor_seq == bindparam("from_anchor_seq", type_=Integer),
        head.c.anchor_hash == bindparam("from_anchor_hash", type_=String),
    )
    moved = move.where(known).returning(AuditHead.id).cte("moved")
    table = AuditEntry.__table__
    values = select(*(bindparam(name, type_=table.c[name].type) for name in _ENTRY_COLUMNS)).select_from(moved)
    entry = insert(AuditEntry).from_select(list(_ENTRY_COLUMNS), values).cte("entry")
    columns: list[Any] = [head.c.last_seq, head.c.last_hash, head.c.anchor_seq, head.c.anchor_hash]
    if signed:
        columns.append(select(func.max(AuditCheckpoint.seq)).scalar_subquery().label("last_checkpoint"))
    columns.append(exists(select(moved.c.id)).label("moved"))
    return DriverStatement(select(*columns).select_from(head).add_cte(entry))


_WRITE_ON_KNOWN_HEAD = {False: _write_on_known_head(_MOVE, signed=False), True: _write_on_known_head(_MOVE_SIGNED, signed=True)}


class _What(NamedTuple):
    """What an append records, validated (the entry's content but its seq, time and hashes)."""

    action: str
    targets_json: str
    purpose: str | None
    outcome: str
    detail_json: str
    actor: Actor


class _KnownHead(NamedTuple):
    """The head as this process last wrote it, and the seq of the last checkpoint it knew of."""

    last_seq: int
    last_hash: str
    anchor_seq: int
    anchor_hash: str
    last_checkpoint: int


class AuditLog:
    """Appends to, checkpoints, verifies and prunes the audit chain in the data store.

    ``signer`` signs checkpoints (see the module docstring); without one, no checkpoint is made
    and :meth:`verify` checks the hash chain only.
    """

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        signer: CheckpointSigner | None = None,
        *,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        mark: AuditMark | None = None,
        external: CheckpointFile | None = None,
        head_max_age: timedelta | None = None,
    ) -> None:
        if not isinstance(checkpoint_every, int) or isinstance(checkpoint_every, bool) or checkpoint_every < 1:
            raise ValueError("checkpoint_every must be a positive integer")
        self._engine = engine
        self._clock = clock
        self._signer = signer
        self._checkpoint_every = checkpoint_every
        self._mark = mark
        self._external = external
        if head_max_age is not None and head_max_age <= timedelta(0):
            raise ValueError("head_max_age must be positive (None: not checked)")
        self._head_max_age = head_max_age
        #: the head this process last wrote (PostgreSQL): the next append is made on it in one
        #: round trip, and made again when another writer moved the head meanwhile
        self._known_head: _KnownHead | None = None

    @property
    def checkpoint_every(self) -> int:
        return self._checkpoint_every

    def __repr__(self) -> str:
        return "AuditLog()"

    # --- writing ------------------------------------------------------------------------------

    @staticmethod
    def _head(session: Session) -> AuditHead:
        """The head as an ORM object, locked and read afresh (appends move it with Core statements)."""
        locked = select(AuditHead).where(AuditHead.id == 1).with_for_update().execution_options(populate_existing=True)
        head = session.execute(locked).scalar_one_or_none()
        if head is None:
            # a log's first entry: the head is made unless another process made it meanwhile
            # (two first appends at once would otherwise fail on its primary key), then locked
            insert_head = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
            session.connection().execute(
                insert_head(AuditHead)
                .values(id=1, last_seq=0, last_hash=GENESIS_HASH, anchor_seq=0, anchor_hash=GENESIS_HASH)
                .on_conflict_do_nothing(index_elements=["id"])
            )
            head = session.execute(locked).scalar_one()
        return head

    def append(
        self,
        action: str,
        *,
        targets: Sequence[str] = (),
        purpose: str | None = None,
        outcome: str = "ok",
        detail: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
        session: Session | None = None,
    ) -> int:
        """Append one entry; returns its sequence number.

        With ``session`` the entry joins that unit of work (so it commits or rolls back with the
        action it records); otherwise it is a unit of work of its own.
        """
        if not _ACTION.match(action):
            raise ValueError(f"audit action {action!r} is not of the form 'thing.verb'")
        if outcome not in _OUTCOMES:
            raise ValueError(f"unknown audit outcome {outcome!r}")
        for target in targets:
            if not isinstance(target, str) or not _CODE_VALUE.match(target) or not target:
                raise ValueError("audit targets are ids")
        purpose = validate_purpose(purpose)
        detail_json = _validate_detail(detail)
        targets_json = json.dumps(list(targets), separators=(",", ":"))
        actor = actor or current_actor()
        what = _What(action, targets_json, purpose, outcome, detail_json, actor)
        if session is None:
            with session_scope(self._engine, write=True) as own:
                return self._append(own, what)
        return self._append(session, what)

    def _append(self, session: Session, what: _What) -> int:
        # statements built once, on the session's connection: the head locked and read
        # (with the last checkpoint's seq when signing), the entry inserted, the head updated
        # (signature and all; on PostgreSQL with the insert, see _WRITE_ENTRY_ONE); every unit
        # of work pays them. On PostgreSQL, where each is a round trip, an append is first made
        # on the head this process last wrote, in one (see _write_on_known_head).
        if session.new or session.dirty or session.deleted:
            session.flush()  # what the caller left pending is written first, the head among it
        connection = session.connection()
        signing = self._signer is not None
        row: tuple[Any, ...] | None = None
        known = self._known_head if connection.dialect.name == "postgresql" else None
        # a checkpoint that may be due is made on the locked path (the last one's seq read afresh)
        if known is not None and not (signing and known.last_seq + 1 - known.last_checkpoint >= self._checkpoint_every):
            head = _HeadState(known.last_seq, known.last_hash, known.anchor_seq, known.anchor_hash)
            entry = self._entry(head, what)
            move, _signed = self._move(head, signing)
            found = _WRITE_ON_KNOWN_HEAD[signing].first(connection, {
                **entry,
                **move,
                "from_seq": known.last_seq,
                "from_hash": known.last_hash,
                "from_anchor_seq": known.anchor_seq,
                "from_anchor_hash": known.anchor_hash,
            })
            assert found is not None  # the head exists: this process wrote it
            if found[-1]:  # moved: the entry is in
                self._known_head = known._replace(last_seq=head.last_seq, last_hash=head.last_hash)
                log.debug("audit %s seq=%d outcome=%s", what.action, head.last_seq, what.outcome)
                return head.last_seq
            row = found[:-1]  # another writer was first: the head as it stands, locked now
        if row is None:
            read = _HEAD_AND_CHECKPOINT if signing else _HEAD_ROW
            row = read.first(connection)
            if row is None:  # a log's first entry: its head is made first
                self._head(session)
                row = read.first(connection)
                assert row is not None
        head = _HeadState(row[0], row[1], row[2], row[3])  # _HEAD_COLUMNS
        last = int(row[4] or 0) if signing else 0
        entry = self._entry(head, what)
        seq, entry_hash = head.last_seq, head.last_hash
        log.debug("audit %s seq=%d outcome=%s", what.action, seq, what.outcome)
        if not signing:
            self._write_entry(connection, entry, self._move(head, signing)[0], signed=False)
            self._known_head = _KnownHead(seq, entry_hash, head.anchor_seq, head.anchor_hash, 0)
            return seq
        checkpointed = False
        # on PostgreSQL the max read beside the head may predate a checkpoint committed while
        # this statement waited for the head's lock (the lock re-reads the head row, not the
        # subquery); it can only be older, so a checkpoint that looks due is confirmed afresh
        if seq - last >= self._checkpoint_every and connection.dialect.name == "postgresql":
            last = self._last_checkpoint_seq(session)
        if seq - last >= self._checkpoint_every:
            try:
                checkpoint = self._signed_checkpoint(seq, entry_hash, last)
            except Exception as exc:  # a failure to sign: the action stands; the next append tries again
                log.error("audit checkpoint at seq %d could not be signed (%s)", seq, type(exc).__name__)
            else:
                # storing it is a statement of this unit of work like the entry's own: a store that
                # fails here (a lost connection) fails the whole unit, which rolls back; swallowed,
                # it left the session unusable and the action a 500 instead of a retryable 503
                self._store_checkpoint(session, checkpoint)
                checkpointed = True
                last = seq
        move, signed = self._move(head, signing)
        self._write_entry(connection, entry, move, signed=True)
        # known only once written: a unit of work that then rolls back leaves it one ahead of the
        # store, and the next append, finding another head, is made again on the locked path
        self._known_head = _KnownHead(seq, entry_hash, head.anchor_seq, head.anchor_hash, last)
        if checkpointed:
            self._publish_on_commit(session, seq, signed)
        return seq

    def _entry(self, head: _HeadState, what: _What) -> dict[str, Any]:
        """The next entry's row, chained to ``head``, which is moved onto it (seq and hash)."""
        seq = head.last_seq + 1
        at = self._clock.now()
        actor = what.actor
        fields = entry_fields(
            seq=seq,
            at=at,
            actor_kind=actor.kind,
            actor_id=actor.id,
            action=what.action,
            targets=what.targets_json,
            purpose=what.purpose,
            outcome=what.outcome,
            client=actor.client,
            detail=what.detail_json,
        )
        entry_hash = chain_hash(head.last_hash, fields)
        entry = {
            "seq": seq,
            "at": at,
            "actor_kind": actor.kind,
            "actor_id": actor.id,
            "action": what.action,
            "targets": what.targets_json,
            "purpose": what.purpose,
            "outcome": what.outcome,
            "client": actor.client,
            "detail": what.detail_json,
            "prev_hash": head.last_hash,
            "entry_hash": entry_hash,
        }
        head.last_seq = seq
        head.last_hash = entry_hash
        return entry

    def _move(self, head: _HeadState, signing: bool) -> tuple[dict[str, Any], SignedHead | None]:
        """The parameters of the head's move onto ``head`` as it now stands (its seq and hash, and
        when ``signing`` its signature, made now), and the signed head (None unsigned)."""
        if not signing:
            return {"to_seq": head.last_seq, "to_hash": head.last_hash}, None
        signed = self._sign_head(head)
        return {
            "to_seq": head.last_seq,
            "to_hash": head.last_hash,
            "signature": head.head_signature,
            "key_id": head.head_key_id,
            "signed_at": head.head_signed_at,
        }, signed

    @staticmethod
    def _write_entry(connection: Connection, entry: dict[str, Any], move: dict[str, Any], *, signed: bool) -> None:
        """Insert ``entry`` and move the head (``move``: its new seq and hash, and signature when
        ``signed``): one statement on PostgreSQL, two elsewhere (see ``_WRITE_ENTRY_ONE``)."""
        if connection.dialect.name == "postgresql":
            _WRITE_ENTRY_ONE[signed].rows(connection, {**entry, **move})
            return
        _INSERT_ENTRY.rows(connection, entry)
        _MOVE_HEAD[signed].rows(connection, move)

    def _sign_head(self, head: AuditHead | _HeadState) -> SignedHead | None:
        """Sign the head as it now stands (in its unit of work, the head locked). A failure to sign
        leaves the head unsigned, which verification reports, and never fails the action."""
        assert self._signer is not None
        try:
            signed_at = self._clock.now()
            key_id = self._signer.key_id()
            message = head_message(head.last_seq, head.last_hash, head.anchor_seq, head.anchor_hash, signed_at, key_id)
            head.head_signature = self._signer.sign(key_id, message)
            head.head_key_id, head.head_signed_at = key_id, signed_at
        except Exception as exc:
            head.head_signature = head.head_key_id = head.head_signed_at = None
            log.error("audit head at seq %d could not be signed (%s)", head.last_seq, type(exc).__name__)
            return None
        return SignedHead(
            head.last_seq, head.last_hash, head.anchor_seq, head.anchor_hash, signed_at, key_id, head.head_signature
        )

    def _publish_on_commit(self, session: Session, seq: int, signed: SignedHead | None) -> None:
        """Once ``session`` commits, record outside the data store that the log reached ``seq`` (the
        mark) and append the signed head to the checkpoint file. Neither fails what was committed:
        a failure is logged and the next checkpoint or signed head goes further."""
        mark, external = self._mark, self._external
        if mark is None and (external is None or signed is None):
            return

        def publish(_session: Session) -> None:
            if mark is not None:
                try:
                    mark.raise_to(seq)
                except Exception as exc:
                    log.error("the audit mark could not be raised to seq %d (%s)", seq, type(exc).__name__)
            if external is not None and signed is not None:
                try:
                    external.append(signed)
                except Exception as exc:
                    log.error("the signed head at seq %d could not be written to the checkpoint file (%s)", seq, exc)

        event.listen(session, "after_commit", publish, once=True)

    def sign_head(self) -> int:
        """Sign the head now, without a new entry, and record how far the log reached outside the
        data store; returns the head's seq. The server's key maintenance calls it periodically."""
        if self._signer is None:
            raise ConflictError("this audit log has no signing key: its head cannot be signed")
        with session_scope(self._engine, write=True) as session:
            head = self._head(session)
            self._publish_on_commit(session, head.last_seq, self._sign_head(head))
            return head.last_seq

    # --- checkpoints --------------------------------------------------------------------------

    @staticmethod
    def _last_checkpoint_seq(session: Session) -> int:
        return int(session.scalar(select(func.max(AuditCheckpoint.seq))) or 0)

    def _add_checkpoint(self, session: Session, seq: int, entry_hash: str, prev_seq: int) -> CheckpointRecord:
        """Sign the chain's hash at ``seq`` and add the checkpoint in ``session`` (head locked)."""
        return self._store_checkpoint(session, self._signed_checkpoint(seq, entry_hash, prev_seq))

    def _signed_checkpoint(self, seq: int, entry_hash: str, prev_seq: int) -> AuditCheckpoint:
        """The checkpoint of the chain's hash at ``seq``, signed (the signer's failures raise)."""
        assert self._signer is not None
        signed_at = self._clock.now()
        key_id = self._signer.key_id()
        signature = self._signer.sign(key_id, checkpoint_message(seq, entry_hash, signed_at, key_id, prev_seq))
        return AuditCheckpoint(seq=seq, entry_hash=entry_hash, signed_at=signed_at, key_id=key_id, signature=signature)

    @staticmethod
    def _store_checkpoint(session: Session, row: AuditCheckpoint) -> CheckpointRecord:
        session.add(row)
        session.flush()
        log.info("audit checkpoint signed at seq %d by %s", row.seq, row.key_id)
        return to_checkpoint(row)

    def checkpoint(self) -> CheckpointRecord:
        """Record an ``audit.checkpoint`` entry and sign the head that includes it.

        ConflictError when this log has no signer."""
        if self._signer is None:
            raise ConflictError("this audit log has no signing key: checkpoints cannot be made")
        with session_scope(self._engine, write=True) as session:
            seq = self.append("audit.checkpoint", session=session)
            existing = session.get(AuditCheckpoint, seq)  # append may have made it (and published it) already
            if existing is not None:
                return to_checkpoint(existing)
            head = self._head(session)
            made = self._add_checkpoint(session, seq, head.last_hash, self._last_checkpoint_seq(session))
            self._publish_on_commit(session, seq, self._sign_head(head))
            return made

    def last_checkpoint(self) -> CheckpointRecord | None:
        with session_scope(self._engine) as session:
            row = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1)).first()
            return to_checkpoint(row) if row is not None else None

    def count_checkpoints(self) -> int:
        with session_scope(self._engine) as session:
            return int(session.scalar(select(func.count()).select_from(AuditCheckpoint)) or 0)

    # --- reading ------------------------------------------------------------------------------

    def query(
        self,
        *,
        action: str | None = None,
        actor_id: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Entries in sequence order after ``after_seq``, filtered; at most ``limit`` (1 to 1000)."""
        if not 1 <= limit <= 1000:
            raise InvalidInputError("limit", "must be between 1 and 1000")
        stmt = select(AuditEntry).where(AuditEntry.seq > after_seq).order_by(AuditEntry.seq)
        if action:
            stmt = stmt.where(AuditEntry.action == action)
        if actor_id:
            stmt = stmt.where(AuditEntry.actor_id == actor_id)
        if since:
            stmt = stmt.where(AuditEntry.at >= since)
        if until:
            stmt = stmt.where(AuditEntry.at < until)
        if target:
            # targets is a JSON list of ids; ids contain no quotes, so this match is exact
            stmt = stmt.where(AuditEntry.targets.contains(json.dumps(target), autoescape=True))
        with session_scope(self._engine) as session:
            return [to_record(row) for row in session.execute(stmt.limit(limit)).scalars()]

    def head(self) -> tuple[int, str]:
        with session_scope(self._engine) as session:
            head = session.get(AuditHead, 1)
            return (head.last_seq, head.last_hash) if head else (0, GENESIS_HASH)

    def count(self) -> int:
        with session_scope(self._engine) as session:
            return session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()

    # --- verifying ----------------------------------------------------------------------------

    def verify(self, *, page_size: int = 1000, against: CheckpointFile | None = None) -> VerifyReport:
        """Walk the chain from the anchor, checking checkpoints on the way, and report the first
        broken link, if any (see the module docstring for what is checked). With a signer, the
        chain is also checked against the signed heads of ``against`` (default: the checkpoint file
        this log writes to, if any; vault.audit.external), from its last acknowledged restore on."""
        return self._verify(page_size, against)

    def _verify(
        self, page_size: int, against: CheckpointFile | None, *, held: bool = True, fresh: bool = True
    ) -> VerifyReport:
        """:meth:`verify`. ``held=False``: the chain by itself (hashes, links, checkpoints, the
        head's signature), not held to the mark and the lines outside the data store (what a
        restore takes back); ``fresh=False``: whatever the age of the head's signature."""
        chain_only = not held
        signed = self._signer is not None
        external = (against or self._external) if signed else None
        all_lines, damaged = external.read_lines() if external is not None else ([], [])
        with session_scope(self._engine) as session:
            head = session.get(AuditHead, 1)
            anchor_seq, anchor_hash = (head.anchor_seq, head.anchor_hash) if head else (0, GENESIS_HASH)
            # checkpoints from the anchor on, each with the seq of the checkpoint before it
            due: dict[int, tuple[AuditCheckpoint, int]] = {}
            if signed:
                prev_cp = 0
                for cp in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)):
                    if cp.seq >= anchor_seq:
                        due[cp.seq] = (cp, prev_cp)
                    prev_cp = cp.seq
            verified_cps = 0
            last_cp: int | None = None
            count = 0
            prev = anchor_hash
            expected_seq = anchor_seq + 1

            def broken(seq: int, reason: str) -> VerifyReport:
                return VerifyReport(
                    False, count, seq, reason, expected_seq - 1, prev, signed, verified_cps, last_cp, len(all_lines)
                )

            # the checkpoint file: every line a signed head or an acknowledged restore, each
            # signature good
            if damaged:
                return broken(anchor_seq, f"line {damaged[0]} of the checkpoint file is not a signed head (damaged or altered)")
            for number, any_line in enumerate(all_lines, start=1):
                assert self._signer is not None
                if not self._signer.verify(any_line.key_id, any_line.message(), any_line.signature):
                    return broken(any_line.last_seq, f"line {number} of the checkpoint file does not verify (altered)")
            # the chain is held to the last acknowledged restore and the lines after it; the lines
            # before it describe the branch the restore took back (vault.audit.external)
            lines, restore, superseded = since_last_restore(all_lines)
            if chain_only:
                lines = []
            # what the lines say the chain was: checked on the walk (those before the anchor were pruned)
            outside: dict[int, str] = {}
            for line in lines:
                if line.last_seq == anchor_seq and line.last_seq > 0 and not hmac.compare_digest(line.last_hash, anchor_hash):
                    return broken(anchor_seq, "the anchor differs from the checkpoint file's signed head at its seq")
                if line.last_seq > anchor_seq:
                    outside[line.last_seq] = line.last_hash
            reached_outside = max(lines, key=lambda line: line.last_seq, default=None)
            anchored_outside = max((line.anchor_seq for line in lines), default=0)

            def checkpoint_fault(seq: int, chain_hash_at_seq: str) -> str | None:
                cp, prev_seq = due[seq]
                if not hmac.compare_digest(cp.entry_hash, chain_hash_at_seq):
                    after = f"after seq {last_cp}" if last_cp is not None else "at or before it"
                    return f"the chain differs from the signed checkpoint at seq {seq} (rewritten {after})"
                assert self._signer is not None
                message = checkpoint_message(cp.seq, cp.entry_hash, cp.signed_at, cp.key_id, prev_seq)
                if not self._signer.verify(cp.key_id, message, bytes(cp.signature)):
                    return f"the checkpoint at seq {seq} does not verify (altered, or one before it removed)"
                return None

            if signed and anchor_seq > 0:
                if anchor_seq not in due:
                    return broken(anchor_seq, "the anchor is not a signed checkpoint")
                fault = checkpoint_fault(anchor_seq, anchor_hash)
                if fault is not None:
                    return broken(anchor_seq, fault)
                verified_cps, last_cp = 1, anchor_seq
            after = anchor_seq
            while True:
                rows = (
                    session.execute(
                        select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(page_size)
                    )
                    .scalars()
                    .all()
                )
                if not rows:
                    break
                for row in rows:
                    if row.seq != expected_seq:
                        return broken(expected_seq, "entry missing (gap in sequence)")
                    if not hmac.compare_digest(row.prev_hash, prev):
                        return broken(row.seq, "link to the previous entry is broken")
                    if not hmac.compare_digest(chain_hash(prev, row_fields(row)), row.entry_hash):
                        return broken(row.seq, "entry was altered (hash mismatch)")
                    if row.seq in outside and not hmac.compare_digest(outside[row.seq], row.entry_hash):
                        return broken(
                            row.seq, f"the chain differs from the checkpoint file's signed head at seq {row.seq} (rewritten)"
                        )
                    if row.seq in due:
                        fault = checkpoint_fault(row.seq, row.entry_hash)
                        if fault is not None:
                            return broken(row.seq, fault)
                        verified_cps += 1
                        last_cp = row.seq
                    prev = row.entry_hash
                    count += 1
                    expected_seq += 1
                after = rows[-1].seq
            last_seq = expected_seq - 1
            # entries before the anchor must have been pruned, not left behind
            stale = session.execute(
                select(func.min(AuditEntry.seq)).where(AuditEntry.seq <= anchor_seq)
            ).scalar_one_or_none()
            if stale is not None:
                return broken(stale, "entry before the anchor (inserted or not pruned)")
            beyond = [seq for seq in due if seq > last_seq]
            if beyond:
                return broken(last_seq + 1, f"entries missing: a signed checkpoint names seq {max(beyond)}")
            if head is not None and (head.last_seq != last_seq or not hmac.compare_digest(head.last_hash, prev)):
                return broken(last_seq + 1, "newest entries missing or head altered")
            if signed:
                covered = last_cp if last_cp is not None else anchor_seq
                if last_seq - covered > self._checkpoint_every:
                    return broken(
                        covered + 1,
                        f"{last_seq - covered} entries after seq {covered} are not covered by a signed checkpoint"
                        f" (more than {self._checkpoint_every}: checkpoints removed, or signing failing)",
                    )
            if signed:
                reached = self._mark.read() if self._mark is not None and not chain_only else 0
                if last_seq < reached:
                    return broken(
                        last_seq + 1,
                        f"the log ends at seq {last_seq}, but it had reached seq {reached} (recorded outside the data "
                        "store): entries were removed, or the log was rolled back or emptied",
                    )
                if reached_outside is not None and last_seq < reached_outside.last_seq:
                    return broken(
                        last_seq + 1,
                        f"the log ends at seq {last_seq}, but the checkpoint file shows it reached seq "
                        f"{reached_outside.last_seq} at {_written_at(reached_outside).isoformat()}: entries were removed, "
                        "or the log was rolled back or emptied",
                    )
                if anchor_seq < anchored_outside:
                    return broken(
                        anchor_seq,
                        f"the anchor is at seq {anchor_seq}, but the checkpoint file shows it at seq {anchored_outside}: "
                        "the log was rolled back to an older copy",
                    )
                if head is not None and head.last_seq > 0:
                    fault = self._head_fault(head) or (self._stale_head(head) if fresh else None)
                    if fault is not None:
                        return broken(last_seq, fault)
            return VerifyReport(
                True,
                count,
                None,
                None,
                last_seq,
                prev,
                signed,
                verified_cps,
                last_cp,
                len(all_lines),
                head.head_signed_at if head is not None else None,
                superseded,
                restore.acknowledged_at if restore is not None else None,
            )

    def _stale_head(self, head: AuditHead) -> str | None:
        """Why the head's signature is older than ``head_max_age`` allows, or None."""
        if self._head_max_age is None or head.head_signed_at is None:
            return None
        age = self._clock.now() - head.head_signed_at
        if age <= self._head_max_age:
            return None
        return (
            f"the newest signed head is from {head.head_signed_at.isoformat()}, more than "
            f"{int(self._head_max_age.total_seconds() // 60)} minutes ago: signing stopped (no server signs it hourly), "
            "or the data store was rolled back to an older copy"
        )

    def _head_fault(self, head: AuditHead) -> str | None:
        """Why the head's signature does not cover it as it stands, or None."""
        assert self._signer is not None
        if head.head_signature is None or head.head_key_id is None or head.head_signed_at is None:
            return "the head is not signed (signing failed, or the signature was removed)"
        message = head_message(
            head.last_seq, head.last_hash, head.anchor_seq, head.anchor_hash, head.head_signed_at, head.head_key_id
        )
        if not self._signer.verify(head.head_key_id, message, bytes(head.head_signature)):
            return "the head's signature does not cover it: the newest entries or the anchor were changed"
        return None

    def acknowledge_restore(self) -> RestoreRecord:
        """Record that the data store was restored from a backup, so that the log verifies again.

        A restore takes the log back to the backup's chain: the mark in the key store and the
        checkpoint file's lines name entries it no longer has, and :meth:`verify` fails on them,
        as it must. This records the restore on the chain as it now stands, once it verifies by
        itself (its hashes, links, checkpoints and head signature): an ``audit.acknowledge_restore``
        entry (how far the log ended and had reached), a signed restore line in the checkpoint file
        (vault.audit.external) and the mark set to that entry. From then on the chain is held to
        the line and what follows; the lines before it are counted as superseded.

        ConflictError, and nothing recorded, when this log has no signer, when it verifies (there
        is nothing to acknowledge), when only the age of its head's signature fails it (sign it:
        :meth:`checkpoint`), or when the chain itself is broken: a restore is acknowledged over an
        intact chain only, never over tampering. UnavailableError when the line cannot be written
        (the entry is in the log: run it again once the file can be written)."""
        if self._signer is None:
            raise ConflictError("this audit log has no signing key: a restore cannot be acknowledged")
        chain = self._verify(1000, None, held=False, fresh=False)
        if not chain.ok:  # checked first: a chain broken by itself fails every verification
            raise ConflictError(
                f"the audit chain is broken by itself at seq {chain.first_broken_seq} ({chain.reason}): "
                "a restore is acknowledged over an intact chain only"
            )
        if self._verify(1000, None, fresh=False).ok:  # held to every mark: nothing was taken back
            if self.verify().ok:
                raise ConflictError("the audit log verifies: there is no restore to acknowledge")
            raise ConflictError(
                "the audit log reaches every mark: only its head's signature is too old (sign it with an audit checkpoint)"
            )
        lines, _damaged = self._external.read_lines() if self._external is not None else ([], [])
        held, _restore, _before = since_last_restore(lines)
        reached = max([self._mark.read() if self._mark is not None else 0, *(line.last_seq for line in held)])
        superseded = sum(1 for line in held if isinstance(line, SignedHead))
        detail = {"log_ended_at": chain.last_seq, "had_reached": reached, "superseded_lines": superseded}
        with session_scope(self._engine, write=True) as session:
            seq = self.append("audit.acknowledge_restore", detail=detail, session=session)
            head = self._head(session)
            acknowledged_at = self._clock.now()
            key_id = self._signer.key_id()
            message = restore_message(
                head.last_seq, head.last_hash, head.anchor_seq, head.anchor_hash, reached, acknowledged_at, key_id
            )
            line = RestoreLine(
                head.last_seq,
                head.last_hash,
                head.anchor_seq,
                head.anchor_hash,
                reached,
                acknowledged_at,
                key_id,
                self._signer.sign(key_id, message),
            )
        if self._external is not None:
            self._external.append(line)
        if self._mark is not None:
            self._mark.reset_to(seq)
        log.warning(
            "audit: a restore of the data store was acknowledged at seq %d (the log had reached seq %d, ended at %d)",
            seq,
            reached,
            chain.last_seq,
        )
        return RestoreRecord(seq, chain.last_seq, reached, superseded, acknowledged_at, key_id)

    # --- retention ----------------------------------------------------------------------------

    def prune(self, before: datetime, *, batch_size: int = 1000) -> int:
        """Delete entries older than ``before`` from the oldest on; the anchor moves past them so
        the remaining chain still verifies. Returns how many entries were deleted. ``before``
        may not be later than :data:`MIN_RETENTION_DAYS` ago (InvalidInputError).

        With a signer the anchor moves from checkpoint to checkpoint (see the module docstring);
        ConflictError if the chain no longer matches the checkpoint it would move to."""
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError("batch_size must be a positive integer")
        if before > self._clock.now() - timedelta(days=MIN_RETENTION_DAYS):
            raise InvalidInputError(
                "before", f"audit entries are kept at least {MIN_RETENTION_DAYS} days: nothing younger is pruned"
            )
        if self._signer is None:
            return self._prune_unsigned(before, batch_size)
        deleted = 0
        while True:
            with session_scope(self._engine, write=True) as session:
                head = self._head(session)
                stop = self._next_prune_stop(session, head.anchor_seq, before, batch_size)
                if stop is None:
                    return deleted
                cp = session.get(AuditCheckpoint, stop)
                entry = session.get(AuditEntry, stop)
                assert cp is not None and entry is not None
                if not hmac.compare_digest(cp.entry_hash, entry.entry_hash):
                    raise ConflictError(
                        f"the audit chain does not match its checkpoint at seq {stop}: verify it; nothing was pruned"
                    )
                result = cast(CursorResult[Any], session.execute(delete(AuditEntry).where(AuditEntry.seq <= stop)))
                # keep the checkpoint before the new anchor: the anchor's signature names its seq
                keep = session.scalar(select(func.max(AuditCheckpoint.seq)).where(AuditCheckpoint.seq < stop))
                session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq < (keep or stop)))
                head.anchor_seq = stop
                head.anchor_hash = entry.entry_hash
                self._publish_on_commit(session, head.last_seq, self._sign_head(head))
                deleted += result.rowcount
                log.info("audit pruned up to seq %d", stop)

    @staticmethod
    def _next_prune_stop(session: Session, anchor_seq: int, before: datetime, batch_size: int) -> int | None:
        """The checkpoint the anchor moves to next: the newest within ``batch_size`` entries of the
        anchor whose entry is older than ``before``, else the first one after that window if it is."""
        old_checkpoints = (
            select(func.max(AuditCheckpoint.seq))
            .join(AuditEntry, AuditEntry.seq == AuditCheckpoint.seq)
            .where(AuditCheckpoint.seq > anchor_seq, AuditCheckpoint.seq <= anchor_seq + batch_size)
            .where(AuditEntry.at < before)
        )
        stop = session.scalar(old_checkpoints)
        if stop is not None:
            return int(stop)
        row = session.execute(
            select(AuditCheckpoint.seq, AuditEntry.at)
            .join(AuditEntry, AuditEntry.seq == AuditCheckpoint.seq)
            .where(AuditCheckpoint.seq > anchor_seq + batch_size)
            .order_by(AuditCheckpoint.seq)
            .limit(1)
        ).first()
        if row is not None and row.at < before:
            return int(row.seq)
        return None

    def _prune_unsigned(self, before: datetime, batch_size: int) -> int:
        deleted = 0
        while True:
            with session_scope(self._engine, write=True) as session:
                head = self._head(session)
                rows = (
                    session.execute(
                        select(AuditEntry)
                        .where(AuditEntry.seq > head.anchor_seq)
                        .order_by(AuditEntry.seq)
                        .limit(batch_size)
                    )
                    .scalars()
                    .all()
                )
                due = []
                for row in rows:
                    if row.at >= before:
                        break
                    due.append(row)
                if not due:
                    return deleted
                last = due[-1]
                session.execute(delete(AuditEntry).where(AuditEntry.seq <= last.seq))
                head.anchor_seq = last.seq
                head.anchor_hash = last.entry_hash
                deleted += len(due)
                if len(due) < len(rows) or len(rows) < batch_size:
                    return deleted
