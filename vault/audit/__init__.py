"""The audit log: an append-only, hash-chained record of every operation, with signed checkpoints.

* :mod:`vault.audit.log`: the log itself: appending, checkpoints, reading, verifying, pruning;
* :mod:`vault.audit.chain`: the byte encodings of an entry's hash and of a checkpoint's message;
* :mod:`vault.audit.actors`: the actor of the current context;
* :mod:`vault.audit.views`: entries, checkpoints and verification reports as the log gives them.

This package gives their public names; its own modules import each other directly.
"""

from pseudovault.vault.audit.actors import SYSTEM, Actor, acting_as, current_actor
from pseudovault.vault.audit.chain import GENESIS_HASH, chain_hash, checkpoint_message
from pseudovault.vault.audit.log import DEFAULT_CHECKPOINT_EVERY, AuditLog, CheckpointSigner, validate_purpose
from pseudovault.vault.audit.views import AuditRecord, CheckpointRecord, RestoreRecord, VerifyReport

__all__ = [
    "SYSTEM",
    "Actor",
    "AuditLog",
    "AuditRecord",
    "CheckpointRecord",
    "CheckpointSigner",
    "DEFAULT_CHECKPOINT_EVERY",
    "GENESIS_HASH",
    "RestoreRecord",
    "VerifyReport",
    "acting_as",
    "chain_hash",
    "checkpoint_message",
    "current_actor",
    "validate_purpose",
]
