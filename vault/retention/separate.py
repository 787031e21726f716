"""Separate storage: data that must be kept under another law after it may no longer be used.

When a subject withdraws (a category with ``on_withdrawal = "separate"``), asks for erasure (a
category with ``on_erasure = "retain"``) or a category's period ends with the ``restrict``
action, the fields of that category move out of the subject into a *separated item*: new rows in
``separated_items``/``separated_fields``, encrypted under a data key of the item's own (key store
``record_keys``, keyed by the item id, a random UUID; rewrapped and counted like records' keys),
with the associated data of :mod:`vault.crypto.fields` (label ``pseudovault/separated``, the item
id, the field name, the schema version).

A separated item is not a subject: it is in no subject listing, read, check or export. It is
read only through :meth:`SeparateStorage.read` (scope ``restricted:read``, a legal-request
purpose required, audited as ``separated.read``) and destroyed at its own expiry (a retention
item of kind ``separated`` written in the same transaction as the item, so it cannot be left
without one) by destroying its key, then its rows. ``origin_id`` keeps the subject id it came
from: the retained data is that person's, and a legal request names them.

A *record* moved to separate storage stays in ``records`` with a ``separate_storage``
processing restriction (vault.retention.restrictions): it no longer matches in checks and is
left out of listings, and its text is read with :meth:`SeparateStorage.read_record` (scope
``restricted:read``, purpose required).
"""

from __future__ import annotations

import builtins
import logging
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from pseudovault.keys.aead import Aead
from pseudovault.keys.errors import DecryptionError
from pseudovault.vault.audit import AuditLog, validate_purpose
from pseudovault.vault.clock import Clock
from pseudovault.vault.crypto.fields import FieldCipher, FieldOwner
from pseudovault.vault.crypto.keystore import KeyHierarchy
from pseudovault.vault.crypto.oneway import ONE_WAY_SCHEMA
from pseudovault.vault.errors import ConflictError, InvalidInputError, NotFoundError
from pseudovault.vault.ids import validate_record_id
from pseudovault.vault.records import repository as records_repository
from pseudovault.vault.records.views import TEXT_FIELDS
from pseudovault.vault.retention.holds import refuse_if_held
from pseudovault.vault.retention.restrictions import add_restriction, restriction_reasons, use_blocking_reasons
from pseudovault.vault.store.data_models import RetentionItem, SeparatedField, SeparatedItem
from pseudovault.vault.store.db import checkpoint_sqlite, one_of, session_scope
from pseudovault.vault.subjects import repository as subjects_repository
from pseudovault.vault.subjects.service import validate_subject_id
from pseudovault.vault.views import HIDDEN, View

__all__ = ["DESTROY_ACTION", "SCHEMA_VERSION", "SeparateStorage", "SeparatedView"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
#: the action of a separated item's retention item
DESTROY_ACTION = "destroy"


@dataclass(frozen=True)
class SeparatedView(View):
    """A separated item without its values: where it came from, what it holds, until when."""

    item_id: str
    origin_id: str
    category: str
    reason_code: str
    created_at: datetime
    field_names: tuple[str, ...] = field(metadata=HIDDEN)
    due_at: datetime | None

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of the fields kept (shown as ``fields``)."""
        return self.field_names

    def extra(self) -> Mapping[str, Any]:
        return {"fields": self.fields}


class SeparateStorage:
    """Moves subjects' data into separate storage, reads it for legal requests, destroys it."""

    def __init__(self, data_engine: Engine, keys: KeyHierarchy, clock: Clock, audit: AuditLog) -> None:
        self._engine = data_engine
        self._keys = keys
        self._clock = clock
        self._audit = audit

    def __repr__(self) -> str:
        return "SeparateStorage()"

    # --- moving -------------------------------------------------------------------------------

    def move(
        self,
        subject_id: str,
        category: str,
        names: Collection[str] | None,
        *,
        reason_code: str,
        trigger_at: datetime | None,
        due_at: datetime | None,
        stage: str,
    ) -> SeparatedView | None:
        """Copy the subject's fields ``names`` (None: every field) into a new separated item of
        ``category`` due at ``due_at``; None when the subject has none of those fields.

        The subject's fields are left as they are: the caller deletes or shreds them (so that a
        failure here never loses data). Audited as ``separated.create``.
        """
        if names is not None and not names:
            return None
        with session_scope(self._engine) as session:
            rows = subjects_repository.field_ciphertexts(session, subject_id, names)
        # a one-way field (a password's hash) is never kept in separate storage: it goes with the subject
        rows = [r for r in rows if r[2] != ONE_WAY_SCHEMA]
        if not rows:
            return None
        source = self._keys.subject_cipher(subject_id)
        plaintexts: dict[str, bytes] = {}
        for name, ciphertext, schema_version in rows:
            plaintexts[name] = source.decrypt(name, bytes(ciphertext), schema_version)
        item_id = str(uuid.uuid4())
        now = self._clock.now()
        with session_scope(self._keys.engine, write=True) as key_session:
            item_key = self._keys.create_record_key(key_session, item_id)
        try:
            cipher = FieldCipher(Aead(item_key), FieldOwner.SEPARATED, item_id)
            with session_scope(self._engine, write=True) as session:
                session.add(
                    SeparatedItem(
                        id=item_id,
                        origin_kind="subject",
                        origin_id=subject_id,
                        category=category,
                        reason_code=reason_code,
                        created_at=now,
                        schema_version=SCHEMA_VERSION,
                    )
                )
                session.flush()
                session.add_all(
                    SeparatedField(
                        item_id=item_id,
                        name=name,
                        ciphertext=cipher.encrypt(name, value, SCHEMA_VERSION),
                        schema_version=SCHEMA_VERSION,
                    )
                    for name, value in plaintexts.items()
                )
                session.add(
                    RetentionItem(
                        kind="separated",
                        target_id=item_id,
                        category=category,
                        stage=stage,
                        trigger_at=trigger_at,
                        due_at=due_at,
                        action=DESTROY_ACTION,
                        state="pending",
                        updated_at=now,
                    )
                )
                self._audit.append(
                    "separated.create",
                    targets=[item_id, subject_id],
                    detail={"category": category, "fields": len(plaintexts), "reason": reason_code},
                    session=session,
                )
        except BaseException:
            with session_scope(self._keys.engine, write=True) as key_session:
                self._keys.destroy_record_key(key_session, item_id)
            raise
        finally:
            plaintexts.clear()
        log.info("moved %d field(s) of subject %s to separated item %s (%s)", len(rows), subject_id, item_id, category)
        return SeparatedView(item_id, subject_id, category, reason_code, now, tuple(sorted(name for name, _, _ in rows)), due_at)

    @staticmethod
    def items_present(session: Session, item_ids: Collection[str]) -> set[str]:
        """The ids among ``item_ids`` of separated items that exist."""
        listed = list(item_ids)
        found: set[str] = set()
        for start in range(0, len(listed), 1000):
            found.update(session.scalars(select(SeparatedItem.id).where(one_of(SeparatedItem.id, listed[start : start + 1000]))))
        return found

    # --- reading ------------------------------------------------------------------------------

    def _views(self, session: Session, items: list[SeparatedItem]) -> list[SeparatedView]:
        ids = [i.id for i in items]
        names: dict[str, list[str]] = {i: [] for i in ids}
        dues: dict[str, datetime | None] = {}
        if ids:
            for item_id, name in session.execute(
                select(SeparatedField.item_id, SeparatedField.name)
                .where(SeparatedField.item_id.in_(ids))
                .order_by(SeparatedField.item_id, SeparatedField.name)
            ):
                names[item_id].append(name)
            for target_id, due in session.execute(
                select(RetentionItem.target_id, RetentionItem.due_at).where(
                    RetentionItem.kind == "separated", RetentionItem.target_id.in_(ids)
                )
            ):
                dues[target_id] = due
        return [
            SeparatedView(i.id, i.origin_id, i.category, i.reason_code, i.created_at, tuple(names[i.id]), dues.get(i.id))
            for i in items
        ]

    def list(self, origin_id: str | None = None, *, limit: int = 100) -> builtins.list[SeparatedView]:
        """Separated items (metadata only, no values), oldest first; of one subject if
        ``origin_id`` is given. Scope ``restricted:read``."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            raise InvalidInputError("limit", "must be an integer from 1 to 1000")
        stmt = select(SeparatedItem).order_by(SeparatedItem.created_at, SeparatedItem.id).limit(limit)
        if origin_id is not None:
            stmt = stmt.where(SeparatedItem.origin_id == validate_subject_id(origin_id, "origin_id"))
        with session_scope(self._engine) as session:
            return self._views(session, list(session.scalars(stmt)))

    def read(self, item_id: str, *, purpose: str) -> dict[str, Any]:
        """The decrypted values of a separated item, for a legal request. Scope
        ``restricted:read``; ``purpose`` (the legal request) is required and audited."""
        item_id = validate_subject_id(item_id, "item_id")
        purpose_text = validate_purpose(purpose, required=True)
        with session_scope(self._engine) as session:
            item = session.get(SeparatedItem, item_id)
            if item is None:
                self._audit.append("separated.read", targets=[item_id], purpose=purpose_text, outcome="not_found")
                raise NotFoundError("separated item", item_id)
            view = self._views(session, [item])[0]
            reasons = use_blocking_reasons(session, subject_id=item.origin_id)
            rows = session.execute(
                select(SeparatedField.name, SeparatedField.ciphertext, SeparatedField.schema_version).where(
                    SeparatedField.item_id == item_id
                )
            ).all()
        try:
            cipher = FieldCipher(self._keys.record_aead(item_id), FieldOwner.SEPARATED, item_id)
            values = {
                name: cipher.decrypt(name, bytes(ct), version).decode("utf-8")
                for name, ct, version in rows
            }
        except NotFoundError:
            self._audit.append("separated.read", targets=[item_id], purpose=purpose_text, outcome="not_found")
            raise NotFoundError("separated item", item_id) from None
        except (DecryptionError, UnicodeDecodeError):
            log.warning("separated item %s: a field failed to decrypt", item_id)
            self._audit.append("separated.read", targets=[item_id], purpose=purpose_text, outcome="error")
            raise DecryptionError() from None
        # a legal-request read passes a restriction of its subject, and says so in the audit log
        restricted = {"restriction": reasons[0], "read_as": "legal_request"} if reasons else {}
        self._audit.append(
            "separated.read", targets=[item_id, view.origin_id], purpose=purpose_text,
            detail={"fields": len(values), **restricted},
        )
        return {**view.as_dict(), "values": values}

    # --- records ------------------------------------------------------------------------------

    def restrict_record(self, session: Session, record_id: str, now: datetime) -> str:
        """Move a record to separate storage (in ``session``): it stops matching and listing."""
        return add_restriction(session, "record", record_id, "separate_storage", now)

    def read_record(self, record_id: str, *, purpose: str) -> dict[str, Any]:
        """The text of a record in separate storage, for a legal request. Scope
        ``restricted:read``; ``purpose`` required and audited (``separated.read_record``).
        A record that is not in separate storage is ConflictError: read it the usual way."""
        record_id = validate_record_id(record_id)
        purpose_text = validate_purpose(purpose, required=True)
        with session_scope(self._engine) as session:
            found = records_repository.facts(session, [record_id])
            if not found:
                self._audit.append("separated.read_record", targets=[record_id], purpose=purpose_text, outcome="not_found")
                raise NotFoundError("record", record_id)
            if "separate_storage" not in restriction_reasons(session, "record", record_id):
                raise ConflictError(f"record {record_id} is not in separate storage")
            own_key, subject_id, category = found[0].own_key, found[0].subject_id, found[0].category
            reasons = use_blocking_reasons(session, subject_id=subject_id) if subject_id else ()
            rows = records_repository.text_ciphertexts(session, record_id)
        values: dict[str, str | None] = dict.fromkeys(TEXT_FIELDS)
        if rows:
            aead = self._keys.record_aead(record_id) if own_key else self._keys.data_aead(subject_id or "")
            cipher = FieldCipher(aead, FieldOwner.RECORD, record_id)
            try:
                for name, ct, version in rows:
                    values[name] = cipher.decrypt(name, bytes(ct), version).decode("utf-8")
            except (DecryptionError, UnicodeDecodeError):
                self._audit.append("separated.read_record", targets=[record_id], purpose=purpose_text, outcome="error")
                raise DecryptionError() from None
        restricted = {"restriction": reasons[0], "read_as": "legal_request"} if reasons else {}
        self._audit.append(
            "separated.read_record", targets=[record_id], purpose=purpose_text,
            detail={"fields": len(rows), **restricted},
        )
        return {"record_id": record_id, "category": category, "available": bool(rows), **values}

    # --- destroying -----------------------------------------------------------------------------

    def destroy(self, item_id: str, *, reason_code: str, outcome: str = "destroyed") -> bool:
        """Destroy a separated item for good: its key, then its rows; its retention item is marked
        done. Refused (HeldError) while its subject is under a legal hold. Returns whether there
        was anything to destroy (destroying twice is harmless). Scope ``admin``."""
        item_id = validate_subject_id(item_id, "item_id")
        with session_scope(self._engine) as session:
            item = session.get(SeparatedItem, item_id)
            if item is not None:
                refuse_if_held(session, "subject", item.origin_id, self._clock.now())
        destroyed = self.destroy_many([item_id], reason_code=reason_code, outcome=outcome)
        return bool(destroyed)

    def destroy_many(self, item_ids: Collection[str], *, reason_code: str, outcome: str = "destroyed") -> builtins.list[str]:
        """Destroy several separated items (holds are the caller's business: the sweeper checks
        them first). Keys first, in one key-store unit of work; then the rows and the retention
        items, in one data-store unit of work. Returns the ids that still had something."""
        ids = list(dict.fromkeys(item_ids))
        if not ids:
            return []
        now = self._clock.now()
        with session_scope(self._engine) as session:
            present = set(session.scalars(select(SeparatedItem.id).where(SeparatedItem.id.in_(ids))))
        with session_scope(self._keys.engine, write=True) as key_session:
            had_key = {i for i in ids if self._keys.destroy_record_key(key_session, i)}
        with session_scope(self._engine, write=True) as session:
            items = {
                i.id: i for i in session.scalars(select(SeparatedItem).where(SeparatedItem.id.in_(ids)))
            }
            session.execute(delete(SeparatedField).where(SeparatedField.item_id.in_(ids)))
            session.execute(delete(SeparatedItem).where(SeparatedItem.id.in_(ids)))
            session.execute(
                update(RetentionItem)
                .where(RetentionItem.kind == "separated", RetentionItem.target_id.in_(ids), RetentionItem.state != "done")
                .values(state="done", outcome=outcome, done_at=now, updated_at=now, claim=None)
            )
            for item_id in ids:
                if item_id in present or item_id in had_key:
                    item = items.get(item_id)
                    self._audit.append(
                        "separated.destroy",
                        targets=[item_id] + ([item.origin_id] if item is not None else []),
                        detail={"reason": reason_code, "category": item.category if item else "unknown"},
                        session=session,
                    )
        checkpoint_sqlite(self._keys.engine)
        checkpoint_sqlite(self._engine)
        return [i for i in ids if i in present or i in had_key]

    def origins(self, subject_id: str) -> builtins.list[SeparatedView]:
        """Every separated item of one subject (for erasure and access requests)."""
        subject_id = validate_subject_id(subject_id)
        with session_scope(self._engine) as session:
            items = list(
                session.scalars(
                    select(SeparatedItem)
                    .where(SeparatedItem.origin_id == subject_id)
                    .order_by(SeparatedItem.created_at, SeparatedItem.id)
                )
            )
            return self._views(session, items)
