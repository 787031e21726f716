"""Signed heads of the audit log kept outside the data store: an append-only checkpoint file.

The mark in the key store (vault.audit.log) tells how far the log reached; this file tells, in
addition, what the chain was at each point it names, where neither store's owner can rewrite it
without it showing: a line is a signed head, the same statement the data store keeps in its
``audit_head`` row::

    {"v": 1, "last_seq": 1200, "last_hash": "<hex>", "anchor_seq": 0, "anchor_hash": "<hex>",
     "signed_at": "2026-12-02T10:00:00.000000+00:00", "key_id": "ed25519:...", "signature": "<base64>"}

signed with the ``audit`` key over ``head_message`` (vault.audit.chain). The vault appends one
whenever it signs a checkpoint (every ``checkpoint_every`` entries), when the server signs the head
(hourly), on ``audit checkpoint`` and after each batch of a prune. Appends are one ``write()``
with ``O_APPEND`` and an fsync (vault.store.files); the file holds hashes, sequence numbers,
times and key ids, no entry's content.

``audit verify`` checks the store against the lines (vault.audit.log): each line's signature, that
the chain still has each line's hash at its seq, that the log reaches the newest line's seq and
that its anchor has not moved back.

A restore of the data store from a backup takes the log back, on purpose: the lines written since
the backup name entries it no longer has, and every later verification would fail on them. ``audit
acknowledge-restore`` records the restore, once the restored chain verifies by itself, as a line of
its own, signed with the same key over ``restore_message`` (vault.audit.chain)::

    {"v": 1, "kind": "restore", "last_seq": 1180, "last_hash": "<hex>", "anchor_seq": 0,
     "anchor_hash": "<hex>", "reached": 1200, "acknowledged_at": "...", "key_id": "...", "signature": "..."}

``last_seq``/``last_hash`` are the chain's end once the acknowledgement's own audit entry is in it,
``reached`` how far the log had reached before the restore. Verification then holds the chain to
that line and the lines after it; the lines before it are still checked for their signatures and
counted as superseded (the branch the restore took back), and never compared with the chain.

Where the file lives decides what it protects against: beside the keyring (the default), on another
host, on a write-once mount or with ``chattr +a`` (append only, even for its owner).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pseudovault.vault.audit.chain import head_message, restore_message, timestamp_text
from pseudovault.vault.errors import UnavailableError
from pseudovault.vault.store.files import append_durably, read_whole_lines

__all__ = ["CheckpointFile", "Line", "RestoreLine", "SignedHead", "since_last_restore"]

log = logging.getLogger(__name__)

_VERSION = 1
_MAX_READ = 256 * 1024 * 1024


@dataclass(frozen=True)
class SignedHead:
    """The audit chain's end and anchor at ``signed_at``, signed by ``key_id``."""

    last_seq: int
    last_hash: str
    anchor_seq: int
    anchor_hash: str
    signed_at: datetime
    key_id: str
    signature: bytes

    def message(self) -> bytes:
        return head_message(self.last_seq, self.last_hash, self.anchor_seq, self.anchor_hash, self.signed_at, self.key_id)

    def to_line(self) -> bytes:
        fields = {
            "v": _VERSION,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "anchor_seq": self.anchor_seq,
            "anchor_hash": self.anchor_hash,
            "signed_at": timestamp_text(self.signed_at),
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii") + b"\n"

    @classmethod
    def from_item(cls, item: dict[str, object]) -> SignedHead:
        """ValueError when ``item`` (a parsed line) is not a signed head of this format."""
        try:
            head = cls(
                last_seq=_count(item["last_seq"]),
                last_hash=_hex(item["last_hash"]),
                anchor_seq=_count(item["anchor_seq"]),
                anchor_hash=_hex(item["anchor_hash"]),
                signed_at=datetime.fromisoformat(_text(item["signed_at"])),
                key_id=_text(item["key_id"]),
                signature=base64.b64decode(_text(item["signature"]), validate=True),
            )
        except (KeyError, TypeError, binascii.Error) as exc:
            raise ValueError(type(exc).__name__) from None
        if head.signed_at.tzinfo is None or head.anchor_seq > head.last_seq:
            raise ValueError("inconsistent line")
        return head


@dataclass(frozen=True)
class RestoreLine:
    """A restore of the data store acknowledged at ``acknowledged_at``: from here on the chain is
    the one that ends at ``last_seq`` with ``last_hash``; the log had reached ``reached`` before."""

    last_seq: int
    last_hash: str
    anchor_seq: int
    anchor_hash: str
    reached: int
    acknowledged_at: datetime
    key_id: str
    signature: bytes

    def message(self) -> bytes:
        return restore_message(
            self.last_seq, self.last_hash, self.anchor_seq, self.anchor_hash, self.reached, self.acknowledged_at, self.key_id
        )

    def to_line(self) -> bytes:
        fields = {
            "v": _VERSION,
            "kind": "restore",
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "anchor_seq": self.anchor_seq,
            "anchor_hash": self.anchor_hash,
            "reached": self.reached,
            "acknowledged_at": timestamp_text(self.acknowledged_at),
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii") + b"\n"

    @classmethod
    def from_item(cls, item: dict[str, object]) -> RestoreLine:
        """ValueError when ``item`` (a parsed line) is not a restore line of this format."""
        try:
            line = cls(
                last_seq=_count(item["last_seq"]),
                last_hash=_hex(item["last_hash"]),
                anchor_seq=_count(item["anchor_seq"]),
                anchor_hash=_hex(item["anchor_hash"]),
                reached=_count(item["reached"]),
                acknowledged_at=datetime.fromisoformat(_text(item["acknowledged_at"])),
                key_id=_text(item["key_id"]),
                signature=base64.b64decode(_text(item["signature"]), validate=True),
            )
        except (KeyError, TypeError, binascii.Error) as exc:
            raise ValueError(type(exc).__name__) from None
        if line.acknowledged_at.tzinfo is None or line.anchor_seq > line.last_seq:
            raise ValueError("inconsistent line")
        return line


#: a line of the checkpoint file
Line = SignedHead | RestoreLine


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError("not a count")
    return value


def _hex(value: object) -> str:
    if not isinstance(value, str) or len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise TypeError("not a SHA-256 hex digest")
    return value


class CheckpointFile:
    """The append-only file of signed heads at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"CheckpointFile({str(self.path)!r})"

    def append(self, head: Line) -> None:
        """Append one line (a signed head, an acknowledged restore) durably; UnavailableError when
        it cannot be written."""
        try:
            append_durably(self.path, head.to_line())
        except OSError as exc:
            raise UnavailableError(
                f"the audit checkpoint file cannot be written ({exc.strerror or type(exc).__name__})"
            ) from exc

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> tuple[list[SignedHead], list[int]]:
        """The signed heads in the file, in file order, and the numbers of the damaged lines (see
        :meth:`read_lines`); acknowledged restores left out."""
        lines, damaged = self.read_lines()
        return [line for line in lines if isinstance(line, SignedHead)], damaged

    def read_lines(self) -> tuple[list[Line], list[int]]:
        """Every line of the file, in file order (signed heads and acknowledged restores), and the
        numbers (from 1) of the lines that are neither (damaged or altered). A torn last line (a
        crash mid-append) is left out; no file reads as no lines. UnavailableError when it cannot
        be read."""
        try:
            data, _end = read_whole_lines(self.path, 0, _MAX_READ)
        except FileNotFoundError:
            return [], []
        except OSError as exc:
            raise UnavailableError(
                f"the audit checkpoint file cannot be read ({exc.strerror or type(exc).__name__})"
            ) from exc
        lines: list[Line] = []
        damaged: list[int] = []
        for number, text in enumerate(data.splitlines(), start=1):
            try:
                lines.append(_parse(text))
            except ValueError:
                damaged.append(number)
        return lines, damaged


def _parse(text: bytes) -> Line:
    """One line of the file; ValueError when it is neither a signed head nor a restore line of
    this format."""
    try:
        item = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("not JSON") from None
    if not isinstance(item, dict) or item.get("v") != _VERSION:
        raise ValueError("not a version 1 line")
    kind = item.get("kind", "head")
    if kind == "restore":
        return RestoreLine.from_item(item)
    if kind != "head" or "kind" in item:
        raise ValueError("an unknown kind of line")
    return SignedHead.from_item(item)


def since_last_restore(lines: list[Line]) -> tuple[list[Line], RestoreLine | None, int]:
    """What the chain is held to: the last restore line and the lines after it (all of them when
    there is none), that restore line, and how many signed heads came before it (superseded)."""
    last = max((i for i, line in enumerate(lines) if isinstance(line, RestoreLine)), default=None)
    if last is None:
        return list(lines), None, 0
    restore = lines[last]
    assert isinstance(restore, RestoreLine)
    return lines[last:], restore, sum(1 for line in lines[:last] if isinstance(line, SignedHead))
