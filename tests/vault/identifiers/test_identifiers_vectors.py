"""Known-answer table: tests/identifiers/vectors.json (same / different / rejected / lookalike)."""

from __future__ import annotations

from typing import Any

import pytest
from identifiers_support import load_vectors, normalizer_for

from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.identifiers import InvalidIdentifierError

VECTORS = load_vectors()


def _id(entry: dict[str, Any]) -> str:
    return f"{entry['kind'] or '<empty>'}: {entry['note']}"


@pytest.mark.parametrize("entry", VECTORS["same"], ids=_id)
def test_same(entry: dict[str, Any]) -> None:
    config_a = entry.get("config")
    config_b = entry.get("config_b", config_a)
    a = normalizer_for(config_a).normalize(entry["kind"], entry["a"])
    b = normalizer_for(config_b).normalize(entry["kind"], entry["b"])
    assert a == b
    if "value" in entry:
        assert a.value == entry["value"]
    assert a.kind == entry["kind"]


@pytest.mark.parametrize("entry", VECTORS["different"], ids=_id)
def test_different(entry: dict[str, Any]) -> None:
    n = normalizer_for(entry.get("config"))
    a = n.normalize(entry["kind"], entry["a"])
    b = n.normalize(entry["kind"], entry["b"])
    assert a.value != b.value


@pytest.mark.parametrize("entry", VECTORS["rejected"], ids=_id)
def test_rejected(entry: dict[str, Any]) -> None:
    n = normalizer_for(entry.get("config"))
    with pytest.raises(InvalidIdentifierError) as caught:
        n.normalize(entry["kind"], entry["raw"])
    error = caught.value
    assert error.reason_code == entry["reason_code"]
    assert issubclass(type(error), InvalidInputError)
    assert error.field == f"identifier.{error.kind}"
    message = str(error)
    assert error.kind in message
    # never the value, nor a chained library error that would print it in a traceback
    if len(entry["raw"].strip()) >= 3:
        assert entry["raw"].strip() not in message
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


@pytest.mark.parametrize("entry", VECTORS["lookalike"], ids=_id)
def test_lookalike(entry: dict[str, Any]) -> None:
    result = normalizer_for(None).normalize(entry["kind"], entry["raw"])
    assert result.lookalike == entry["lookalike"]


def test_table_covers_every_kind() -> None:
    from pseudovault.vault.identifiers import BUILTIN_KINDS

    for section in ("same", "different", "rejected"):
        kinds = {e["kind"] for e in VECTORS[section]}
        assert set(BUILTIN_KINDS) <= kinds, section
        assert any(k.startswith("custom:") for k in kinds), section


def test_confusable_pairs_share_a_skeleton() -> None:
    n = normalizer_for(None)
    for kind, a, b in [
        ("account_id", "p\u0430ypal", "paypal"),
        ("email", "p\u0430ypal@example.com", "paypal@example.com"),
        ("account_id", "rnicrosoft", "microsoft"),
        ("custom:nickname", "\u0440\u0430ypal", "paypal"),
    ]:
        x, y = n.normalize(kind, a), n.normalize(kind, b)
        assert x.value != y.value
        assert x.skeleton == y.skeleton is not None
