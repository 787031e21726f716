"""The shape of the code: every table has one owning package, the only code that names its model;
a module over 500 lines says at its top why it is one module.

Other packages reach a table through its owner (a repository's functions, or the owner's service),
so all SQL of a table is in one package. The map below is the documentation of who owns what
(docs/architecture.md repeats it); a new table must be added to it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from pseudovault.vault.store import data_models, key_models

ROOT = Path(__file__).resolve().parent.parent

OWNERS = {
    "subjects": {"Subject", "SubjectField", "Tombstone"},
    "records": {"Record", "RecordField", "RecordIdentifier"},
    "crypto": {"WrappingKey", "SubjectKey", "RecordKey", "ShredLedgerEntry", "LedgerReplay", "LookupKey", "SigningKeyRow", "EpochStatus"},
    "audit": {"AuditEntry", "AuditHead", "AuditCheckpoint"},
    "apikeys": {"ApiKey"},
    "sessions": {"ConsoleSession"},
    "idempotency": {"IdempotencyRecord"},
    "retention": {
        "SubjectCategory",
        "RetentionEvent",
        "RetentionItem",
        "SeparatedItem",
        "SeparatedField",
        "ProcessingRestriction",
        "LegalHold",
        "ErasureReceiptRow",
        "RightsRequest",
        "Provision",
        "Consent",
        "Notification",
        "WebhookDelivery",
        "RetentionPolicyState",
    },
}
OWNER_OF = {model: package for package, models in OWNERS.items() for model in models}
MODEL_MODULES = ("pseudovault.vault.store.data_models", "pseudovault.vault.store.key_models")


def test_every_model_has_an_owner() -> None:
    models = {name for module in (data_models, key_models) for name in module.__all__}
    assert models == set(OWNER_OF)


def _package_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    if rel.parts[0] != "vault":
        return rel.parts[0]  # api, keys: no table is theirs
    return rel.parts[1].removesuffix(".py")


def test_only_the_owner_names_a_table_model() -> None:
    strays = []
    for folder in ("vault", "api", "keys"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts or path.parent == ROOT / "vault" / "store":
                continue
            package = _package_of(path)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module in MODEL_MODULES:
                    for alias in node.names:
                        if OWNER_OF.get(alias.name) != package:
                            strays.append(f"{path.relative_to(ROOT)}: {alias.name} (owned by {OWNER_OF.get(alias.name)})")
    assert strays == []


LONG = 500


def test_a_module_over_500_lines_says_why_at_its_top() -> None:
    unexplained = []
    for folder in ("vault", "api", "keys"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if text.count("\n") <= LONG:
                continue
            docstring = ast.get_docstring(ast.parse(text)) or ""
            if "Why one module of this size:" not in docstring:
                unexplained.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert unexplained == []
