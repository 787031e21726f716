"""Helpers for the identifier tests: the vector table and Normalizers for its configurations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pseudovault.vault.identifiers import EmailProviderRule, Normalizer, NormalizerConfig

VECTORS_PATH = Path(__file__).with_name("vectors.json")


def load_vectors() -> dict[str, Any]:
    with VECTORS_PATH.open(encoding="utf-8") as handle:
        return json.load(handle)


def normalizer_for(config: dict[str, Any] | None) -> Normalizer:
    """A Normalizer for a vector's ``config`` object (NormalizerConfig fields, JSON-shaped)."""
    if not config:
        return Normalizer()
    fields = dict(config)
    if "email_rules" in fields:
        fields["email_rules"] = tuple(EmailProviderRule(**rule) for rule in fields["email_rules"])
    if "strip_plus_tags_domains" in fields:
        fields["strip_plus_tags_domains"] = tuple(fields["strip_plus_tags_domains"])
    return Normalizer(NormalizerConfig(**fields))
